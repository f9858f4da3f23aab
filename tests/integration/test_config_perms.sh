#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Owner and mode of the configuration (docs/rules.md, "Configuration errors";
# docs/operations.md, "Hardening"), checked like sshd checks its keys: rule
# files, -config directories and every directory above them must not be
# writable by group or others (above: unless sticky) and must be owned by root.
# Each problem is a warning line, or with -strict-perms the one line the
# daemon refuses to start with; the same at a SIGHUP reload, where a refusal
# keeps the previous rules. Exact messages.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 60

R=$W/etc/rules.d
mkdir -p "$R"
cp "$EG_SOURCE_DIR/spec/fixtures/rules_v1/00-reference.yaml" "$R/00-reference.yaml"
cp "$EG_SOURCE_DIR/spec/fixtures/rules_v1/10-linux.yaml" "$R/10-linux.yaml"
printf 'return { id = "lua_x", description = "x", event_types = {"exec"}, match = function(ev) return false end }\n' >"$R/50-x.lua"
echo notes >"$R/notes.txt" # not a rule file: never checked
chmod 0666 "$R/notes.txt"

# check <want stderr (lines)> <want exit> <flags...>: a replay of nothing
check() {
	local want=$1 want_rc=$2 rc=0
	shift 2
	"$EG_BIN" -replay /dev/null -alert-file /dev/null "$@" >"$W/out" 2>"$W/err" || rc=$?
	[ "$rc" = "$want_rc" ] || fail "exit $rc, want $want_rc, with $*: $(cat "$W/err")"
	[ "$(cat "$W/err")" = "$want" ] || fail "stderr with $*:
$(cat "$W/err")
want:
$want"
}

check "" 0 -config "$R"
check "" 0 -config "$R" -strict-perms
check "" 0 -config "$R/10-linux.yaml" -strict-perms

chmod 0664 "$R/10-linux.yaml"
check "ebpf-guard: warning: $R/10-linux.yaml: writable by group or others (mode 0664)" 0 -config "$R"
check "ebpf-guard: $R/10-linux.yaml: writable by group or others (mode 0664)" 1 -config "$R" -strict-perms
check "ebpf-guard: $R/10-linux.yaml: writable by group or others (mode 0664)" 1 -config "$R/" -strict-perms
check "ebpf-guard: $R/10-linux.yaml: writable by group or others (mode 0664)" 1 -config "$R/10-linux.yaml" -strict-perms
chmod 0602 "$R/50-x.lua"
check "ebpf-guard: warning: $R/10-linux.yaml: writable by group or others (mode 0664)
ebpf-guard: warning: $R/50-x.lua: writable by group or others (mode 0602)" 0 -config "$R"
chmod 0644 "$R/10-linux.yaml" "$R/50-x.lua"

# The -config directory itself: writable is a problem even when sticky (new
# files in it would be loaded); a directory above it only when not sticky.
chmod 1777 "$R"
check "ebpf-guard: warning: $R: directory writable by group or others (mode 1777)" 0 -config "$R"
check "ebpf-guard: $R: directory writable by group or others (mode 1777)" 1 -config "$R" -strict-perms
chmod 0755 "$R"
chmod 0775 "$W/etc"
check "ebpf-guard: warning: $W/etc: directory writable by group or others (mode 0775)" 0 -config "$R"
check "ebpf-guard: $W/etc: directory writable by group or others (mode 0775)" 1 -config "$R/00-reference.yaml" -strict-perms
chmod 1777 "$W/etc"
check "" 0 -config "$R" -strict-perms
chmod 0755 "$W/etc"

# A link to a rule file elsewhere: the file, its directories and the link's.
mkdir -m 0777 "$W/elsewhere"
cp "$R/10-linux.yaml" "$W/elsewhere/linux.yaml"
ln -s "$W/elsewhere/linux.yaml" "$R/20-linked.yaml"
check "ebpf-guard: $W/elsewhere: directory writable by group or others (mode 0777)" 1 -config "$R" -strict-perms
rm "$R/20-linked.yaml"

if [ "$(id -u)" = 0 ]; then
	chown 65534 "$R/00-reference.yaml"
	check "ebpf-guard: warning: $R/00-reference.yaml: owned by uid 65534, not root" 0 -config "$R"
	check "ebpf-guard: $R/00-reference.yaml: owned by uid 65534, not root" 1 -config "$R" -strict-perms
	chown 0 "$R/00-reference.yaml"
	chown 65534 "$R"
	check "ebpf-guard: $R: directory owned by uid 65534, not root" 1 -config "$R" -strict-perms
	chown 0 "$R"
else
	echo "not root: ownership cases skipped"
fi

# Reloads: a warning each time; with -strict-perms the reload is refused and
# the previous rules stay.
eg_start -config "$R" -strict-perms -alert-file "$W/alerts.jsonl"
chmod 0666 "$R/00-reference.yaml"
kill -HUP "$EG_PID"
wait_grep -qxF "ebpf-guard: reload failed, keeping the previous rules: $R/00-reference.yaml: writable by group or others (mode 0666)" ||
	fail "strict reload not refused"
wait_metric ebpf_guard_config_reload_failures_total 1
[ "$(metric ebpf_guard_config_reloads_total)" = 0 ] || fail "a reload went through"
chmod 0644 "$R/00-reference.yaml"
kill -HUP "$EG_PID"
wait_metric ebpf_guard_config_reloads_total 1
eg_finish

rm -f "$W/in"
eg_start -config "$R" -alert-file "$W/alerts.jsonl"
chmod 0666 "$R/00-reference.yaml"
kill -HUP "$EG_PID"
wait_metric ebpf_guard_config_reloads_total 1
grep -qxF "ebpf-guard: warning: $R/00-reference.yaml: writable by group or others (mode 0666)" "$W/stderr" ||
	fail "no warning at the reload: $(cat "$W/stderr")"
eg_finish
echo "PASS ($EG_NAME)"
