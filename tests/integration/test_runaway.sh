#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# -lua-max-errors: a detection failing N times in a row is taken out of
# service until the next reload, with one log line and
# ebpf_guard_rule_disabled{rule_id} 1; its error count stops at N, the other
# rules keep firing on every event, and SIGHUP brings it back. A bad value
# for the flag is refused with a clear message.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 60

expect_usage_error "ebpf-guard: invalid -lua-max-errors '-1': expected 0..1000000000" -replay /dev/null -lua-max-errors -1

cat >"$W/det.lua" <<'EOF2'
return {
  { id = "flaky", description = "raises on boom", event_types = { "exec" },
    match = function(ev)
      if ev.comm == "boom" then error("boom") end
      return ev.comm == "ok"
    end },
  { id = "every_exec", description = "fires on every exec", event_types = { "exec" },
    match = function(ev) return true end },
}
EOF2
alerts=$W/alerts.jsonl
eg_start -config "$W/det.lua" -lua-max-errors 5 -alert-file "$alerts"

# 4 errors, a good call (count starts again), then 6 errors: off at the 5th.
for c in boom boom boom boom ok boom boom boom boom boom boom ok; do
	eg_send "$(ev exec 1 "$c" /bin/x)"
done
wait_lines "$alerts" 13
wait_metric 'ebpf_guard_rule_disabled{rule_id="flaky"}' 1
wait_metric 'ebpf_guard_rule_errors_total{rule_id="flaky",kind="runtime"}' 9
got=$(rule_counts "$alerts" | tr '\n' ' ')
[ "$got" = "every_exec 12 flaky 1 " ] || fail "alerts: $got (the second ok must not fire: flaky is off)"
n=$(grep -c 'disabled after' "$W/stderr" || true)
[ "$n" = 1 ] || fail "$n 'disabled after' lines, want 1"
grep -qF 'ebpf-guard: detection "flaky" ('"$W"'/det.lua): disabled after 5 errors in a row (last: runtime error: '"$W"'/det.lua:4: boom); it stays off until the next reload' "$W/stderr" ||
	fail "log line: $(grep 'disabled after' "$W/stderr")"

# SIGHUP: a new rule set, every rule in service again.
kill -HUP "$EG_PID"
wait_metric ebpf_guard_config_reloads_total 1
page=$(scrape)
if grep -q '^ebpf_guard_rule_disabled{' <<<"$page"; then
	fail "still disabled after the reload: $(grep '^ebpf_guard_rule_disabled{' <<<"$page")"
fi
eg_send "$(ev exec 1 ok /bin/x)"
wait_lines "$alerts" 15
got=$(rule_counts "$alerts" | tr '\n' ' ')
[ "$got" = "every_exec 13 flaky 2 " ] || fail "after the reload: $got"
eg_finish
echo "PASS ($EG_NAME)"
