#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The operator's rule commands (docs/operations.md, "Operator commands"):
# -validate, -list-rules [-json], -disable-rule, -disable-tag. Exact output
# and messages; a disabled rule raises no alert, at start-up and after a
# SIGHUP reload.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 90

# A copy of a fixed rule set (the first stock rules, spec/fixtures/rules_v1)
# and the examples, as an operator's rule directories: world-readable, owned
# by whoever runs the test (root in CI).
chmod 0755 "$W"
cp -r "$EG_SOURCE_DIR/spec/fixtures/rules_v1" "$W/rules"
mkdir "$W/examples"
cp "$EG_SOURCE_DIR"/examples/*.yaml "$EG_SOURCE_DIR"/examples/*.lua "$W/examples/"
chmod -R go-w "$W/rules" "$W/examples"
mkdir -m 0755 "$W/cwd"
cd "$W/cwd"

# run <flags...>: the binary in $W/cwd; sets RC, OUT, ERR (texts).
run() {
	RC=0
	"$EG_BIN" "$@" >"$W/out" 2>"$W/err" || RC=$?
	OUT=$(cat "$W/out")
	ERR=$(cat "$W/err")
}
# expect <rc> <stdout> <stderr> <flags...>
expect() {
	local rc=$1 out=$2 err=$3
	shift 3
	run "$@"
	[ "$RC" = "$rc" ] || fail "exit $RC, want $rc, with $*: $ERR"
	[ "$OUT" = "$out" ] || fail "stdout with $*:
$OUT
want:
$out"
	[ "$ERR" = "$err" ] || fail "stderr with $*:
$ERR
want:
$err"
}

# 1. -validate: a summary line and exit 0, every problem and exit 1.
expect 0 "ebpf-guard: configuration OK: 2 files; 8 YAML rules, 0 Lua detections, 4 built-ins; 12 enabled, 0 disabled" "" \
	-validate -config "$W/rules"
expect 0 "ebpf-guard: configuration OK: 4 files; 5 YAML rules, 2 Lua detections, 4 built-ins; 11 enabled, 0 disabled" "" \
	--validate -config "$W/examples"
expect 0 "ebpf-guard: configuration OK: 0 files; 0 YAML rules, 0 Lua detections, 4 built-ins; 4 enabled, 0 disabled" "" \
	-validate
expect 0 "ebpf-guard: configuration OK: 3 files; 10 YAML rules, 0 Lua detections, 4 built-ins; 9 enabled, 5 disabled" "" \
	-validate=true -config "$W/rules" -config "$W/examples/conditions.yaml" \
	-disable-tag T1496 -disable-rule=netcat_like_exec
printf 'rules:\n  - id: broken\n    description: a typo\n    event_types: [exce]\n' >"$W/bad.yaml"
expect 1 "" "ebpf-guard: $W/bad.yaml: rule \"broken\": event_types: unknown event type \"exce\" (did you mean \"exec\"?)" \
	-validate -config "$W/rules" -config "$W/bad.yaml"
expect 1 "" "ebpf-guard: -disable-rule: no rule \"builtin_shell\" (did you mean \"builtin_suspicious_shell\"?)
ebpf-guard: -disable-rule: no rule \"nothing_like_it\"
ebpf-guard: -disable-tag: no rule has tag \"T1059\" (did you mean \"T1059.004\"?)
ebpf-guard: -disable-tag: no rule has tag \"collection\"" \
	-validate -disable-rule builtin_shell -disable-rule nothing_like_it -disable-tag T1059 \
	-disable-tag collection -disable-tag T1496
# every problem of every file, not only the first
mkdir -m 0755 "$W/two"
printf 'rules:\n  - id: one\n    description: first\n    event_types: [exce]\n' >"$W/two/a.yaml"
printf 'rules:\n  - id: two\n    description: second\n    event_types: [exec]\n    severity: loud\n' >"$W/two/b.yaml"
chmod 0644 "$W"/two/*.yaml
expect 1 "" "ebpf-guard: $W/two/a.yaml: rule \"one\": event_types: unknown event type \"exce\" (did you mean \"exec\"?)
ebpf-guard: $W/two/b.yaml: rule \"two\": severity: unknown severity \"loud\" (expected one of debug, info, notice, warning, error, critical)" \
	-validate -config "$W/two"
# the daemon's own permission check, -strict-perms included
chmod 0664 "$W/rules/10-linux.yaml"
expect 0 "ebpf-guard: configuration OK: 2 files; 8 YAML rules, 0 Lua detections, 4 built-ins; 12 enabled, 0 disabled" \
	"ebpf-guard: warning: $W/rules/10-linux.yaml: writable by group or others (mode 0664)" \
	-validate -config "$W/rules"
expect 1 "" "ebpf-guard: $W/rules/10-linux.yaml: writable by group or others (mode 0664)" \
	-validate -config "$W/rules" -strict-perms
chmod 0644 "$W/rules/10-linux.yaml"
# it created nothing: no alert file, no other file
[ -z "$(ls -A "$W/cwd")" ] || fail "-validate left files in its directory: $(ls -A "$W/cwd")"

# 2. -validate needs no root: as nobody, in a directory nobody may not write.
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	echo "note ($EG_NAME): not root or no setpriv: -validate as an unprivileged user not checked"
elif ! setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$EG_BIN"; then
	echo "note ($EG_NAME): $EG_BIN is not executable by uid 65534: -validate as an unprivileged user not checked"
else
	rc=0
	setpriv --reuid=65534 --regid=65534 --clear-groups "$EG_BIN" -validate -config "$W/rules" \
		-strict-perms >"$W/out" 2>"$W/err" || rc=$?
	[ "$rc" = 0 ] || fail "-validate as nobody exited $rc: $(cat "$W/err")"
	[ "$(cat "$W/out")" = "ebpf-guard: configuration OK: 2 files; 8 YAML rules, 0 Lua detections, 4 built-ins; 12 enabled, 0 disabled" ] ||
		fail "-validate as nobody: $(cat "$W/out")"
	[ -z "$(ls -A "$W/cwd")" ] || fail "-validate as nobody left files: $(ls -A "$W/cwd")"
fi

# 3. -list-rules: every rule, built-ins first, in a table whose columns fit
# their content (relative paths keep it independent of $W).
cd "$W"
mkdir -m 0755 conf
cat >conf/a.yaml <<'YAML'
# test rules for -list-rules
rules:
  - id: shell_in_tmp
    description: a shell started from /tmp
    event_types: [exec]
    filename_regex: "^/tmp/.*sh$"
    severity: error
    tags: [T1059.004, T1204.002, custom]

  - id: etc_shadow_read
    description: /etc/shadow opened
    event_types: [open]
    filename_regex: "^/etc/shadow$"

  - id: old_rule
    description: switched off in the file
    event_types: [connect, exec]
    comm_regex: "^x$"
    enabled: false
    tags: [custom]
YAML
cat >conf/b.lua <<'LUA'
-- a detection
return {
  id = "lua_exec_counter",
  description = "every exec",
  event_types = { "exec" },
  tags = { "T1059.004" },
  match = function(ev)
    return false
  end,
}
LUA
chmod 0644 conf/a.yaml conf/b.lua
expect 0 "ID                        EVENT TYPES   SEVERITY  TAGS                        SOURCE          STATE
builtin_fileless_exec     exec          critical  T1620                       builtin         enabled
builtin_suspicious_shell  exec          warning   T1059.004                   builtin         enabled
builtin_crypto_exec       exec          error     T1496                       builtin         enabled
builtin_crypto_port       connect       warning   T1496                       builtin         disabled (-disable-rule)
shell_in_tmp              exec          error     T1059.004,T1204.002,custom  conf/a.yaml:3   disabled (-disable-tag custom)
etc_shadow_read           open          warning   -                           conf/a.yaml:10  enabled
old_rule                  exec,connect  warning   custom                      conf/a.yaml:15  disabled (enabled: false in conf/a.yaml)
lua_exec_counter          exec          warning   T1059.004                   conf/b.lua:7    enabled" "" \
	-list-rules -config conf -disable-tag custom -disable-rule builtin_crypto_port
# a rule changed by a later file's overrides: listed with where, and its
# appended tag disables it
cat >conf/c.yaml <<'YAML'
overrides:
  - rule: builtin_crypto_port
    append:
      tags: [noisy]
  - rule: builtin_crypto_port
    replace:
      severity: info
YAML
chmod 0644 conf/c.yaml
run -list-rules -config conf -disable-tag noisy
[ "$RC" = 0 ] || fail "-list-rules with overrides exited $RC: $ERR"
[ "$(grep '^builtin_crypto_port ' "$W/out")" = "builtin_crypto_port       connect       info      T1496,noisy                 builtin         disabled (-disable-tag noisy); overridden at conf/c.yaml:2, conf/c.yaml:5" ] ||
	fail "overridden rule: $(grep '^builtin_crypto_port ' "$W/out")"
rm conf/c.yaml
# a bad configuration: the same problems as -validate, exit 1
expect 1 "" "ebpf-guard: -disable-tag: no rule has tag \"Custom\" (did you mean \"custom\"?)" \
	-list-rules -config conf -disable-tag Custom

# 4. -list-rules -json: one object per rule; each YAML rule's line is the
# line of its "- id:" in the file.
run -list-rules -json -config "$W/conf" -config "$W/rules/10-linux.yaml" -disable-tag T1496
[ "$RC" = 0 ] && [ -z "$ERR" ] || fail "-list-rules -json exited $RC: $ERR"
python3 - "$W/out" "$W" <<'PY' || fail "-list-rules -json output"
import json, sys
rules = json.load(open(sys.argv[1]))
w = sys.argv[2]
keys = ["id", "kind", "event_types", "severity", "tags", "source", "line", "enabled",
        "disabled_reason", "overrides", "action", "params"]
assert all(list(r) == keys for r in rules), [list(r) for r in rules]
by = {r["id"]: r for r in rules}
assert [r["id"] for r in rules][:4] == ["builtin_fileless_exec", "builtin_suspicious_shell",
                                        "builtin_crypto_exec", "builtin_crypto_port"]
assert len(rules) == 4 + 4 + 5, len(rules)
assert by["builtin_crypto_port"] == {
    "id": "builtin_crypto_port", "kind": "builtin", "event_types": ["connect"],
    "severity": "warning", "tags": ["T1496"], "source": "builtin", "line": None,
    "enabled": False, "disabled_reason": "-disable-tag T1496", "overrides": [],
    "action": "alert", "params": None}, by["builtin_crypto_port"]
assert by["old_rule"]["enabled"] is False
assert by["old_rule"]["disabled_reason"] == "enabled: false in %s/conf/a.yaml" % w
assert by["old_rule"]["event_types"] == ["exec", "connect"]
assert by["etc_shadow_read"]["tags"] == [] and by["etc_shadow_read"]["disabled_reason"] is None
assert by["lua_exec_counter"]["kind"] == "lua" and by["lua_exec_counter"]["line"] == 7
for r in rules:
    if r["kind"] != "yaml":
        continue
    lines = open(r["source"]).read().split("\n")
    assert lines[r["line"] - 1].strip() == "- id: " + r["id"], (r["id"], r["line"])
assert by["credential_file_read"]["source"] == w + "/rules/10-linux.yaml"
PY
# the stock detections' params, as declared and after an override
printf 'overrides:\n  - rule: connect_fanout_scan\n    replace: {params: {ports: 64}}\n' > "$W/params.yaml"
run -list-rules -json -config "$EG_SOURCE_DIR/rules" -config "$W/params.yaml"
[ "$RC" = 0 ] && [ -z "$ERR" ] || fail "-list-rules -json with params exited $RC: $ERR"
python3 - "$W/out" <<'PY' || fail "-list-rules -json: params"
import json, sys
by = {r["id"]: r for r in json.load(open(sys.argv[1]))}
assert by["server_starts_connecting_out"]["params"] == {"quiet_seconds": 600}, by["server_starts_connecting_out"]
assert by["connect_fanout_scan"]["params"] == {"hosts": 32, "ports": 64}, by["connect_fanout_scan"]
assert by["download_then_execute"]["params"] is None
PY
expect_usage_error "ebpf-guard: -json only applies to -list-rules" -json -config conf
expect_usage_error "ebpf-guard: give -validate or -list-rules, not both" -validate -list-rules
expect_usage_error "ebpf-guard: -disable-rule needs a rule id" -validate -disable-rule ""
expect_usage_error "ebpf-guard: flag needs a value: -disable-tag" -validate -disable-tag

# 5. -disable-rule and -disable-tag in a replay: exactly the alerts of the
# disabled rules go.
replay_counts() {
	rm -f "$W/replay.jsonl"
	"$EG_BIN" -replay "$EG_SOURCE_DIR/spec/fixtures/reference.jsonl" -config rules \
		-alert-file "$W/replay.jsonl" "$@" >/dev/null 2>"$W/replay.err" ||
		fail "replay with $* failed: $(cat "$W/replay.err")"
	rule_counts "$W/replay.jsonl"
}
[ "$(replay_counts)" = "builtin_crypto_port 2
builtin_fileless_exec 1
builtin_suspicious_shell 1
crypto_miner_exec 1
crypto_miner_port 1
exec_from_world_writable_dir 1
suspicious_shell 1" ] || fail "replay without flags: $(replay_counts)"
[ "$(replay_counts -disable-rule builtin_suspicious_shell -disable-rule crypto_miner_port)" = "builtin_crypto_port 2
builtin_fileless_exec 1
crypto_miner_exec 1
exec_from_world_writable_dir 1
suspicious_shell 1" ] || fail "replay with -disable-rule: $(replay_counts -disable-rule builtin_suspicious_shell -disable-rule crypto_miner_port)"
[ "$(replay_counts -disable-tag T1496)" = "builtin_fileless_exec 1
builtin_suspicious_shell 1
exec_from_world_writable_dir 1
suspicious_shell 1" ] || fail "replay with -disable-tag: $(replay_counts -disable-tag T1496)"
# an unknown id stops the daemon at start-up, every problem on a line
expect 1 "" "ebpf-guard: -disable-rule: no rule \"builtin_shell\" (did you mean \"builtin_suspicious_shell\"?)
ebpf-guard: -disable-tag: no rule has tag \"T1059\" (did you mean \"T1059.004\"?)" \
	-replay /dev/null -alert-file "$W/never.jsonl" -disable-rule builtin_shell -disable-tag T1059
[ ! -e "$W/never.jsonl" ] || fail "a refused start-up created its alert file"

# 6. A SIGHUP reload keeps them: rules of the new file carrying the tag stay
# off, and a file without the disabled id fails the reload.
cfg=$W/live.yaml
install_rules() {
	printf '%s\n' "$1" >"$cfg.tmp"
	mv "$cfg.tmp" "$cfg"
}
install_rules 'rules:
  - id: curl_a
    description: curl started
    event_types: [exec]
    comm_regex: "^curl$"
  - id: wget_a
    description: wget started
    event_types: [exec]
    comm_regex: "^wget$"
    tags: [download]'
eg_start -config "$cfg" -alert-file "$W/alerts.jsonl" -disable-rule curl_a \
	-disable-tag download -disable-rule builtin_suspicious_shell
eg_send "$(ev exec 1 curl /usr/bin/curl)" "$(ev exec 2 wget /usr/bin/wget)" \
	"$(ev exec 3 bash /dev/shm/x)"
wait_lines "$W/alerts.jsonl" 1
[ "$(rule_counts "$W/alerts.jsonl")" = "builtin_fileless_exec 1" ] ||
	fail "before the reload: $(rule_counts "$W/alerts.jsonl")"
install_rules 'rules:
  - id: curl_a
    description: curl started (new)
    event_types: [exec]
    comm_regex: "^curl$"
  - id: nc_b
    description: nc started
    event_types: [exec]
    comm_regex: "^nc$"
    tags: [download]
  - id: ssh_b
    description: ssh started
    event_types: [exec]
    comm_regex: "^ssh$"'
kill -HUP "$EG_PID"
wait_metric ebpf_guard_config_reloads_total 1
eg_send "$(ev exec 4 curl /usr/bin/curl)" "$(ev exec 5 nc /usr/bin/nc)" \
	"$(ev exec 6 ssh /usr/bin/ssh)" "$(ev exec 7 bash /bin/bash)"
wait_lines "$W/alerts.jsonl" 2
[ "$(rule_counts "$W/alerts.jsonl")" = "builtin_fileless_exec 1
ssh_b 1" ] || fail "after the reload: $(rule_counts "$W/alerts.jsonl")"
install_rules 'rules:
  - id: ssh_b
    description: ssh started
    event_types: [exec]
    comm_regex: "^ssh$"
    tags: [download]'
kill -HUP "$EG_PID"
wait_metric ebpf_guard_config_reload_failures_total 1
wait_grep -xF 'ebpf-guard: reload failed, keeping the previous rules: -disable-rule: no rule "curl_a"' ||
	fail "no reload failure for the missing id: $(grep 'reload' "$W/stderr")"
eg_send "$(ev exec 8 ssh /usr/bin/ssh)"
wait_lines "$W/alerts.jsonl" 3
[ "$(rule_counts "$W/alerts.jsonl")" = "builtin_fileless_exec 1
ssh_b 2" ] || fail "after the failed reload: $(rule_counts "$W/alerts.jsonl")"
eg_finish
echo "ok ($EG_NAME)"
