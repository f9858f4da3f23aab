#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Memory bombs in Lua detections fail the detection, not the daemon: the
# string.rep bypasses (numeric-string count, number subject), nine doublings
# of a 1 MiB string, table growth and a huge table.concat each give their
# exact error while the other rules keep firing and the daemon's peak RSS
# stays far below what the bombs ask for (~1 GiB each); a detection hoarding
# memory across calls hits the whole-heap cap (16 x -lua-memory).
. "$(dirname "$0")/daemon_lib.sh"
eg_init 90

expect_usage_error "ebpf-guard: invalid -lua-memory '0': expected 1..65536 (MiB)" -replay /dev/null -lua-memory 0

cat >"$W/bombs.lua" <<'EOF2'
return {
  { id = "rep_numstr", description = "d", event_types = { "exec" },
    match = function(ev) return #string.rep("x", "500000000") > 0 end },
  { id = "rep_number", description = "d", event_types = { "exec" },
    match = function(ev) return #string.rep(7, 600000000) > 0 end },
  { id = "doubling", description = "d", event_types = { "exec" },
    match = function(ev) local s = ("x"):rep(1048576) for i = 1, 9 do s = s .. s end return #s > 0 end },
  { id = "table_growth", description = "d", event_types = { "exec" },
    match = function(ev)
      local t, s = {}, ("x"):rep(1048576)
      s = s .. s -- 2 MiB a copy: the limit comes in ~10 ms, far from the 50 ms time limit
      for i = 1, 1e6 do t[i] = s .. i end
      return #t > 0
    end },
  { id = "concat", description = "d", event_types = { "exec" },
    match = function(ev)
      local t, s = {}, ("x"):rep(1048576)
      for i = 1, 600 do t[i] = s end
      return #table.concat(t) > 0
    end },
  { id = "canary", description = "d", event_types = { "exec" }, match = function(ev) return true end },
}
EOF2
alerts=$W/alerts.jsonl
eg_start -config "$W/bombs.lua" -lua-budget 1000000000 -alert-file "$alerts"
for i in 1 2 3; do eg_send "$(ev exec "$i" a /x)"; done
wait_lines "$alerts" 3
got=$(rule_counts "$alerts" | tr '\n' ' ')
[ "$got" = "canary 3 " ] || fail "alerts: $got"
for id in rep_numstr rep_number concat; do
	wait_metric "ebpf_guard_rule_errors_total{rule_id=\"$id\",kind=\"runtime\"}" 3
done
# a limit of the sandbox, like the instruction budget: kind budget
for id in doubling table_growth; do
	wait_metric "ebpf_guard_rule_errors_total{rule_id=\"$id\",kind=\"budget\"}" 3
done
f="$W/bombs.lua"
for want in \
	"detection \"rep_numstr\" ($f): runtime error: $f:3: string.rep: result too large (500000000 bytes, limit 1048576)" \
	"detection \"rep_number\" ($f): runtime error: $f:5: string.rep: result too large (600000000 bytes, limit 1048576)" \
	"detection \"doubling\" ($f): budget error: memory limit exceeded (more than 64 MiB allocated in one call)" \
	"detection \"table_growth\" ($f): budget error: memory limit exceeded (more than 64 MiB allocated in one call)" \
	"detection \"concat\" ($f): runtime error: $f:19: table.concat: result too large (2097152 bytes, limit 1048576)"; do
	grep -qF "ebpf-guard: $want" "$W/stderr" || fail "missing log line: $want"
done
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$EG_PID/status")
echo "peak RSS ${hwm} kB"
[ "$hwm" -lt 400000 ] || fail "peak RSS ${hwm} kB: the bombs were not stopped early"
# every bomb failed on every event: the replay exits 1, naming each
eg_finish 1
for want in \
	"detection \"rep_numstr\" ($f): every evaluation failed (3 of 3; last: runtime error: $f:3: string.rep: result too large (500000000 bytes, limit 1048576))" \
	"detection \"rep_number\" ($f): every evaluation failed (3 of 3; last: runtime error: $f:5: string.rep: result too large (600000000 bytes, limit 1048576))" \
	"detection \"doubling\" ($f): every evaluation failed (3 of 3; last: budget error: memory limit exceeded (more than 64 MiB allocated in one call))" \
	"detection \"table_growth\" ($f): every evaluation failed (3 of 3; last: budget error: memory limit exceeded (more than 64 MiB allocated in one call))" \
	"detection \"concat\" ($f): every evaluation failed (3 of 3; last: runtime error: $f:19: table.concat: result too large (2097152 bytes, limit 1048576))"; do
	grep -qxF "ebpf-guard: $want" "$W/stderr" || fail "missing exit line: $want"
done
[ "$(grep -c 'every evaluation failed' "$W/stderr")" = 5 ] || fail "not 5 'every evaluation failed' lines"

# Hoarding: 1 MiB kept per event in a state store; with -lua-memory 8 the
# heap is capped at 128 MiB, so calls start failing after ~120 events.
cat >"$W/hoard.lua" <<'EOF2'
local guard = require("guard")
local st = guard.state({ max = 100000 })
return {
  { id = "hoard", description = "d", event_types = { "exec" },
    match = function(ev)
      st:set(ev.pid, ("h"):rep(1048560) .. ev.pid)
      local x = 0
      for i = 1, 2000 do x = x + i end
      return false
    end },
  { id = "canary", description = "d", event_types = { "exec" }, match = function(ev) return true end },
}
EOF2
rm -f "$alerts" "$W/in"
eg_start -config "$W/hoard.lua" -lua-memory 8 -lua-max-errors 0 -alert-file "$alerts"
for i in $(seq 1 200); do eg_send "$(ev exec "$i" a /x)"; done
wait_lines "$alerts" 200
grep -qF "ebpf-guard: detection \"hoard\" ($W/hoard.lua): budget error: $W/hoard.lua:" "$W/stderr" ||
	fail "no hoard error"
grep -qF "Lua heap limit exceeded (128 MiB in all)" "$W/stderr" || fail "no heap limit message"
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$EG_PID/status")
echo "hoarding: peak RSS ${hwm} kB"
[ "$hwm" -lt 400000 ] || fail "hoarding: peak RSS ${hwm} kB"
eg_finish
echo "PASS ($EG_NAME)"
