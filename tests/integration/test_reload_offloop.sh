#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest: alone (per-file wall-clock limit of 1 s)
# A reload is built off the event loop: while a slow rule set loads (~2 s of
# top-level work spread over 25 files), events keep flowing through the old
# rules, /healthz answers 200, and the new rules take over once built; a
# SIGTERM during a build exits at once (0). Also: a file whose top level
# does slow work past its 1 s wall-clock limit fails the reload with that
# message while the old rules stay.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 90

mkdir "$W/conf"
cat >"$W/conf/a.yaml" <<'EOF2'
rules:
  - {id: old, description: old rules, event_types: [exec], comm_regex: '^x$'}
EOF2
alerts=$W/alerts.jsonl
eg_start -config "$W/conf" -alert-file "$alerts"
eg_send "$(ev exec 1 x /x)"
wait_lines "$alerts" 1

# The slow rule set: 25 files, each ~80 ms of string work at its top level.
rm "$W/conf/a.yaml"
cat >"$W/conf/b.yaml" <<'EOF2'
rules:
  - {id: new, description: new rules, event_types: [exec], comm_regex: '^x$'}
EOF2
for i in $(seq -w 1 25); do
	cat >"$W/conf/slow$i.lua" <<EOF2
local s = ("x"):rep(1048576)
for i = 1, 120 do local u = s:upper() end
return { id = "slow$i", description = "never", event_types = { "exec" }, match = function(ev) return false end }
EOF2
done
kill -HUP "$EG_PID"
sleep 0.3
grep -q 'reloaded' "$W/stderr" && fail "the slow rule set loaded in under 0.3 s: the test proves nothing"
# During the build: events go through the old rules, /healthz is 200.
eg_send "$(ev exec 2 x /x)"
wait_lines "$alerts" 2 5
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/healthz")
[ "$code" = 200 ] || fail "/healthz during the build: $code"
grep -q 'reloaded' "$W/stderr" && fail "the build finished before the checks: make the rule set slower"
[ "$(tail -n1 "$alerts" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rule_id"])')" = old ] ||
	fail "event 2 was not run by the old rules"
wait_metric ebpf_guard_config_reloads_total 1 30
eg_send "$(ev exec 3 x /x)"
wait_lines "$alerts" 3
[ "$(tail -n1 "$alerts" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rule_id"])')" = new ] ||
	fail "event 3 was not run by the new rules"

# A top level past the wall-clock limit fails the reload; the rules stay.
cat >"$W/conf/zz_slow.lua" <<'EOF2'
local s = ("x"):rep(1048576)
for i = 1, 100000 do local u = s:upper() end
return {}
EOF2
kill -HUP "$EG_PID"
wait_metric ebpf_guard_config_reload_failures_total 1 30
grep -qF "ebpf-guard: reload failed, keeping the previous rules: $W/conf/zz_slow.lua: error while loading: $W/conf/zz_slow.lua:2: time limit exceeded (1000 ms)" "$W/stderr" ||
	fail "reload failure message: $(grep 'reload failed' "$W/stderr")"
rm "$W/conf/zz_slow.lua"

# SIGTERM in the middle of a build: exit 0, promptly.
kill -HUP "$EG_PID"
sleep 0.3
t0=$(date +%s%N)
kill -TERM "$EG_PID"
rc=0
for _ in $(seq 40); do kill -0 "$EG_PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$EG_PID" 2>/dev/null && fail "still running 2 s after SIGTERM during a reload"
wait "$EG_PID" || rc=$?
EG_PID=
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM during a reload"
echo "SIGTERM during a reload: exited in $((($(date +%s%N) - t0) / 1000000)) ms"
echo "PASS ($EG_NAME)"
