#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ebpf_guard_rule_errors_total{rule_id,kind}: Lua detections that raise, return
# a bad value or run out of budget, and a YAML condition that reads a missing
# field, on a known stream of events. /metrics must show exactly the expected
# series (only non-zero ones, docs/metrics.md) with exact values; every event
# still reaches the other rules; the counts keep adding up across a reload
# (the new engine counts from zero, the series must not jump or reset).
. "$(dirname "$0")/daemon_lib.sh"
eg_init 60

cat >"$W/det.lua" <<'EOF'
return {
  { id = "err_rt", description = "raises on boom", event_types = { "exec" },
    match = function(ev)
      if ev.comm == "boom" then error("boom") end
      return false
    end },
  { id = "err_budget", description = "spins on spin", event_types = { "exec" },
    match = function(ev)
      if ev.comm == "spin" then while true do end end
      return false
    end },
  { id = "err_badret", description = "returns a number on badret", event_types = { "exec" },
    match = function(ev)
      if ev.comm == "badret" then return 42 end
      return false
    end },
  { id = "every_exec", description = "fires on every exec", event_types = { "exec" },
    match = function(ev) return true end },
}
EOF
cat >"$W/cond.yaml" <<'EOF'
rules:
  - id: cond_err
    description: a condition reading a field ev does not have (named at run time; a constant name is refused at load)
    event_types: [exec]
    comm_regex: "^cond$"
    condition: ev["no_such" .. "_field"] == 1
EOF

alerts=$W/alerts.jsonl
eg_start -config "$W/det.lua" -config "$W/cond.yaml" -lua-budget 100000 -alert-file "$alerts"

# No errors yet: no series at all (only non-zero series are shown).
page=$(scrape) || fail "scrape failed"
grep -q '^# TYPE ebpf_guard_rule_errors_total counter$' <<<"$page" || fail "no rule_errors_total family"
if grep -q '^ebpf_guard_rule_errors_total{' <<<"$page"; then
	fail "error series before any error: $(grep '^ebpf_guard_rule_errors_total{' <<<"$page")"
fi

# error_series: the rule_errors_total samples of one scrape, sorted.
error_series() {
	local page
	page=$(scrape) || fail "scrape failed"
	grep '^ebpf_guard_rule_errors_total{' <<<"$page" | LC_ALL=C sort || true
}

# wait_series <what> <want>: until error_series is exactly <want> (10 s).
# (The pipeline adds a batch's errors rule by rule: a scrape may see part.)
wait_series() {
	local got= i
	for i in $(seq 200); do
		got=$(error_series)
		[ "$got" = "$2" ] && return 0
		sleep 0.05
	done
	fail "rule_errors_total series $1:
$got
want:
$2"
}

n=0
send() { # send <comm>...: one exec event per comm
	local c
	for c in "$@"; do
		n=$((n + 1))
		eg_send "$(ev exec "$((1000 + n))" "$c" "/usr/bin/$c")"
	done
}
send boom plain spin boom cond badret spin boom cond plain
wait_metric 'ebpf_guard_alerts_total{rule_id="every_exec"}' 10
want='ebpf_guard_rule_errors_total{rule_id="cond_err",kind="runtime"} 2
ebpf_guard_rule_errors_total{rule_id="err_badret",kind="runtime"} 1
ebpf_guard_rule_errors_total{rule_id="err_budget",kind="budget"} 2
ebpf_guard_rule_errors_total{rule_id="err_rt",kind="runtime"} 3'
wait_series "after 10 events" "$want"

# Every event reached the other rules: one every_exec alert per event, and
# no alert from a rule that failed.
wait_lines "$alerts" 10
[ "$(rule_counts "$alerts")" = "every_exec 10" ] || fail "alerts: $(rule_counts "$alerts")"

# The first error of each kind is logged in full.
wait_grep -F "detection \"err_rt\" ($W/det.lua): runtime error: " || fail "no runtime error line for err_rt"
wait_grep -F "detection \"err_budget\" ($W/det.lua): budget error: " || fail "no budget error line for err_budget"

# A reload (same files): the series keep their values and add the new errors.
kill -HUP "$EG_PID"
wait_metric ebpf_guard_config_reloads_total 1
send spin boom plain
wait_metric 'ebpf_guard_alerts_total{rule_id="every_exec"}' 13
want='ebpf_guard_rule_errors_total{rule_id="cond_err",kind="runtime"} 2
ebpf_guard_rule_errors_total{rule_id="err_badret",kind="runtime"} 1
ebpf_guard_rule_errors_total{rule_id="err_budget",kind="budget"} 3
ebpf_guard_rule_errors_total{rule_id="err_rt",kind="runtime"} 4'
wait_series "after the reload" "$want"
# and stays so: nothing counted twice later.
sleep 1.2
[ "$(error_series)" = "$want" ] || fail "rule_errors_total changed with no new event: $(error_series)"

eg_finish
echo "PASS ($EG_NAME)"
