#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The settings file (-config-file, docs/operations.md "Settings file") and the
# command-line polish around it: every key's error message, exactly, with its
# file:line:column; precedence (the command line wins, a repeated flag
# replaces the file's list); -validate reads it; replay ignores its outputs
# and writes alerts to stdout; did-you-mean; exit codes; the alert file's
# directories created 0700; the privilege check of live mode before anything
# is opened or bound.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 120

S=$EG_SOURCE_DIR/spec/fixtures
B=("$EG_BIN")

# run <expected rc> <flags...>: output in $W/out, $W/err
run() {
	local want=$1 rc=0
	shift
	"${B[@]}" "$@" >"$W/out" 2>"$W/err" </dev/null || rc=$?
	[ "$rc" = "$want" ] || fail "$* exited $rc, want $want: $(cat "$W/err")"
}
# same_err <expected stderr>
same_err() {
	[ "$(cat "$W/err")" = "$1" ] || fail "stderr:
$(cat "$W/err")
want:
$1"
}

# ---- every kind of problem, all listed, exit 1 --------------------------------
cat >"$W/bad.yaml" <<EOF
# a comment
config: [$S/cli_rules.yaml]
alert-fil: x
lua-budget: 5
watch: yes
record-pid: [12, abc]
validate: true
prom-addr: [a, b]
disable-rule:
lua-memory: {a: 1}
7: x
config: again
EOF
run 1 -config-file "$W/bad.yaml" -validate
same_err "ebpf-guard: $W/bad.yaml:3:1: unknown key alert-fil (did you mean alert-file?)
ebpf-guard: $W/bad.yaml:4:13: invalid lua-budget '5': expected 1000..1000000000
ebpf-guard: $W/bad.yaml:5:8: watch: expected true or false, not 'yes'
ebpf-guard: $W/bad.yaml:6:13: invalid record-pid 'abc': expected a process id 1..4294967295
ebpf-guard: $W/bad.yaml:7:1: validate is a command-line flag, not a setting
ebpf-guard: $W/bad.yaml:8:12: prom-addr: expected one value, not a list
ebpf-guard: $W/bad.yaml:9:14: disable-rule has no value (expected a list of values)
ebpf-guard: $W/bad.yaml:10:13: lua-memory: expected one value, not a mapping
ebpf-guard: $W/bad.yaml:11:1: unknown key 7
ebpf-guard: $W/bad.yaml:12:1: config is given twice (first on line 2)
ebpf-guard: $W/bad.yaml:6:1: record-pid only applies to record"
[ ! -s "$W/out" ] || fail "-validate of a bad settings file printed: $(cat "$W/out")"

# the same problems stop the daemon (replay too) before anything is opened
run 1 -config-file "$W/bad.yaml" -replay /dev/null -alert-file "$W/never.jsonl"
[ ! -e "$W/never.jsonl" ] || fail "a bad settings file still opened the alert file"

# a record-comm regex is compiled when read, so -validate names its line
printf "record: %s\nrecord-comm: ['^ok\$', '(x']\n" "$W/rec.jsonl" >"$W/regex.yaml"
run 1 -config-file "$W/regex.yaml" -validate
same_err "ebpf-guard: $W/regex.yaml:2:14: invalid record-comm '(x': missing closing parenthesis at offset 2"

# whole-file problems: one line each
printf 'a: [\n' >"$W/syntax.yaml"
run 1 -config-file "$W/syntax.yaml" -validate
same_err "ebpf-guard: $W/syntax.yaml:2:1: YAML syntax error: did not find expected node content"
printf -- '- config\n' >"$W/list.yaml"
run 1 -config-file "$W/list.yaml" -validate
same_err "ebpf-guard: $W/list.yaml:1:1: expected a mapping of settings (key: value)"
printf 'watch: true\n---\nwatch: false\n' >"$W/two.yaml"
run 1 -config-file "$W/two.yaml" -validate
same_err "ebpf-guard: $W/two.yaml:3:1: only one YAML document is read: remove the second one"
run 1 -config-file "$W/missing.yaml" -validate
same_err "ebpf-guard: cannot read settings file $W/missing.yaml: No such file or directory"
# the default file may be missing; EBPF_GUARD_CONFIG_FILE names it, '' none
EBPF_GUARD_CONFIG_FILE="$W/missing.yaml" run 1 -validate
same_err "ebpf-guard: cannot read settings file $W/missing.yaml: No such file or directory"
EBPF_GUARD_CONFIG_FILE="$W/missing.yaml" run 0 -validate -no-config-file
EBPF_GUARD_CONFIG_FILE="$W/missing.yaml" run 0 -validate -config-file ''
: >"$W/empty.yaml"
run 0 -config-file "$W/empty.yaml" -validate
run 2 -config-file "$W/empty.yaml" -no-config-file -validate
same_err "ebpf-guard: give -config-file or -no-config-file, not both
Run 'ebpf-guard -help' for the flags and the exit codes."
# -help and -version do not read it
run 0 -config-file "$W/bad.yaml" -help
run 0 -config-file "$W/bad.yaml" -version

# ---- -validate reads the rules paths and options from it ---------------------
cat >"$W/good.yaml" <<EOF
config:
  - $S/cli_rules.yaml
disable-rule: [etc_shadow_read]
lua-budget: 200000
strict-perms: false
EOF
run 0 -config-file "$W/good.yaml" -validate
[ "$(cat "$W/out")" = "ebpf-guard: configuration OK: 1 file; 3 YAML rules, 0 Lua detections, 4 built-ins; 6 enabled, 1 disabled" ] ||
	fail "-validate with the settings file: $(cat "$W/out")"
# a repeatable flag on the command line replaces the file's whole list
run 0 -config-file "$W/good.yaml" -validate -disable-rule builtin_fileless_exec
[ "$(cat "$W/out")" = "ebpf-guard: configuration OK: 1 file; 3 YAML rules, 0 Lua detections, 4 built-ins; 6 enabled, 1 disabled" ] ||
	fail "command-line -disable-rule: $(cat "$W/out")"
run 0 -config-file "$W/good.yaml" -list-rules -json -disable-rule builtin_fileless_exec
off=$(python3 -c 'import json,sys; print(" ".join(r["id"] for r in json.load(sys.stdin) if not r["enabled"]))' <"$W/out")
[ "$off" = builtin_fileless_exec ] || fail "disabled with -disable-rule over the file's list: $off"
run 0 -config-file "$W/good.yaml" -list-rules -json
off=$(python3 -c 'import json,sys; print(" ".join(r["id"] for r in json.load(sys.stdin) if not r["enabled"]))' <"$W/out")
[ "$off" = etc_shadow_read ] || fail "disabled by the file: $off"
# a command-line value wins over the file's, even a bad file value
printf 'lua-budget: 5\n' >"$W/budget.yaml"
run 0 -config-file "$W/budget.yaml" -validate -lua-budget 100000
# a command-line mistake is exit 2, with the flag's name
run 2 -config-file "$W/good.yaml" -validate -lua-budget 5
same_err "ebpf-guard: invalid -lua-budget '5': expected 1000..1000000000
Run 'ebpf-guard -help' for the flags and the exit codes."

# ---- the outputs' keys (-syslog, -journald, -webhook-*) are settings too ------
printf 'webhook-url: http://127.0.0.1:9/\nwebhook-batch: 7\nwebhook-header: ["X-A: 1", "X-B: 2"]\njournald: true\nsyslog-facility: bogus\n' >"$W/outs.yaml"
chmod 0600 "$W/outs.yaml"
run 1 -config-file "$W/outs.yaml" -validate
same_err "ebpf-guard: $W/outs.yaml:5:18: invalid -syslog-facility 'bogus': expected kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp or local0..local7"
run 0 -config-file "$W/outs.yaml" -validate -syslog-facility local3

# ---- the packaged file is valid as shipped, and with every example key on ----
run 0 -config-file "$EG_SOURCE_DIR/packaging/ebpf-guard.yaml" -validate -config "$EG_SOURCE_DIR/rules"
sed -E 's/^# ([a-z-]+:)/\1/' "$EG_SOURCE_DIR/packaging/ebpf-guard.yaml" >"$W/all.yaml"
[ "$(grep -c '^[a-z]' "$W/all.yaml")" -ge 15 ] || fail "the packaged file's keys: $(grep '^[a-z]' "$W/all.yaml")"
run 0 -config-file "$W/all.yaml" -validate -config "$EG_SOURCE_DIR/rules"

# ---- the settings file's own owner and mode (strict-perms) -------------------
printf 'watch: true\n' >"$W/perm.yaml"
chmod 0664 "$W/perm.yaml"
run 1 -config-file "$W/perm.yaml" -validate -strict-perms
same_err "ebpf-guard: $W/perm.yaml: writable by group or others (mode 0664)"
run 0 -config-file "$W/perm.yaml" -validate
same_err "ebpf-guard: warning: $W/perm.yaml: writable by group or others (mode 0664)"
printf 'strict-perms: true\n' >"$W/perm.yaml"
run 1 -config-file "$W/perm.yaml" -validate
same_err "ebpf-guard: $W/perm.yaml: writable by group or others (mode 0664)"

# ---- replay: alerts on stdout by default; the file's outputs are not used ----
cat >"$W/outputs.yaml" <<EOF
config: [$S/cli_rules.yaml]
alert-file: $W/live-alerts.jsonl
prom-addr: 127.0.0.1:1
record: $W/live-record.jsonl
EOF
(cd "$W" && "$EG_BIN" -config-file "$W/outputs.yaml" -replay "$S/cli_replay.jsonl" >"$W/out" 2>"$W/err") ||
	fail "replay with the settings file: $(cat "$W/err")"
cmp -s "$W/out" "$S/cli_replay.expected.jsonl" || fail "replay's stdout is not the alerts"
grep -qF "$(head -n1 "$S/cli_replay.expected.stdout")" "$W/err" || fail "no [ALERT] line on stderr"
for f in live-alerts.jsonl live-record.jsonl alerts.jsonl; do
	[ ! -e "$W/$f" ] || fail "replay wrote $f"
done
# -alert-file still writes the file (and the [ALERT] lines go to stdout)
run 0 -config-file "$W/outputs.yaml" -replay "$S/cli_replay.jsonl" -alert-file "$W/d1/d2/a.jsonl"
cmp -s "$W/d1/d2/a.jsonl" "$S/cli_replay.expected.jsonl" || fail "-alert-file in new directories"
cmp -s "$W/out" "$S/cli_replay.expected.stdout" || fail "[ALERT] lines on stdout with -alert-file"
[ "$(stat -c %a "$W/d1") $(stat -c %a "$W/d1/d2") $(stat -c %a "$W/d1/d2/a.jsonl")" = "700 700 600" ] ||
	fail "modes: $(stat -c '%n %a' "$W/d1" "$W/d1/d2" "$W/d1/d2/a.jsonl")"
# an existing directory keeps its mode; a file in the way is named
mkdir -m 0755 "$W/d3"
run 0 -replay /dev/null -alert-file "$W/d3/d4/a.jsonl"
[ "$(stat -c %a "$W/d3") $(stat -c %a "$W/d3/d4")" = "755 700" ] || fail "existing directory's mode changed"
: >"$W/plain"
run 1 -replay /dev/null -config "$S/cli_rules.yaml" -alert-file "$W/plain/x/a.jsonl"
same_err "ebpf-guard: failed to open alert file $W/plain/x/a.jsonl: cannot create directory $W/plain: Not a directory"
# a symbolic link as the file itself is still refused
ln -s "$W/elsewhere" "$W/d3/link.jsonl"
run 1 -replay /dev/null -config "$S/cli_rules.yaml" -alert-file "$W/d3/link.jsonl"
same_err "ebpf-guard: failed to open alert file $W/d3/link.jsonl: it is a symbolic link (to $W/elsewhere): refusing to follow it"

# ---- command-line polish -----------------------------------------------------
expect_usage_error "ebpf-guard: unknown flag -alert-fil (did you mean -alert-file?)" -alert-fil x
expect_usage_error "ebpf-guard: unknown flag -config-fille (did you mean -config-file?)" --config-fille=x
expect_usage_error "ebpf-guard: unknown flag -frobnicate" -frobnicate
[ "$(sed -n 2p "$W/usage.err")" = "Run 'ebpf-guard -help' for the flags and the exit codes." ] ||
	fail "usage hint: $(cat "$W/usage.err")"
expect_usage_error "ebpf-guard: flag needs a value: -config-file" -config-file

# ---- live mode without privileges: one line, exit 1, nothing opened or bound -
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
if ! command -v setpriv >/dev/null || [ "$(id -u)" != 0 ]; then
	echo "note ($EG_NAME): not root or no setpriv: the check as nobody is left out" >&2
else
	# a copy in $W: the checkout may be under a directory closed to others
	chmod 0755 "$W"
	cp "$EG_BIN" "$W/ebpf-guard"
	cp "$S/cli_replay.jsonl" "$S/cli_rules.yaml" "$W/"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	rc=0
	"${NOBODY[@]}" "$W/ebpf-guard" -prom-addr "127.0.0.1:$port" \
		-alert-file "$W/nobody/a.jsonl" >"$W/out" 2>"$W/err" </dev/null || rc=$?
	[ "$rc" = 1 ] || fail "live mode as nobody exited $rc: $(cat "$W/err")"
	same_err "ebpf-guard: live mode needs root (or CAP_BPF and CAP_PERFMON): run it as root, or use -replay FILE"
	[ ! -e "$W/nobody" ] || fail "the alert file's directory was created without privileges"
	# replay needs none
	"${NOBODY[@]}" "$W/ebpf-guard" -replay "$W/cli_replay.jsonl" \
		-config "$W/cli_rules.yaml" >"$W/out" 2>"$W/err" </dev/null || fail "replay as nobody failed: $(cat "$W/err")"
	cmp -s "$W/out" "$S/cli_replay.expected.jsonl" || fail "replay as nobody: stdout"
fi
echo "ok ($EG_NAME)"
