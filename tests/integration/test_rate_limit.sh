#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# -alert-rate-limit 2/s: a token bucket per rule (burst 2) refilled by EVENT
# time, so a replay gives exact numbers: the alerts written, the suppressed
# counter per rule, and the periodic summary line.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 90

alerts=$W/alerts.jsonl
eg_start -alert-file "$alerts" -alert-rate-limit 2/s

shells() { # shells <count> <first pid> <timestamp>
	local i
	for ((i = 0; i < $1; i++)); do ev exec $(($2 + i)) bash /bin/bash 0 "$3"; echo; done
}
{
	# 10 at t=0: the burst of 2 passes, 8 suppressed (0 tokens left)
	shells 10 100 2025-01-01T12:00:00Z
	# +0.25 s: 0.5 token, none passes: 5 suppressed
	shells 5 200 2025-01-01T12:00:00.25Z
	# +0.5 s: 1 token: 1 passes, 2 suppressed
	shells 3 300 2025-01-01T12:00:00.5Z
	# +5 s: refilled up to the burst of 2: 2 pass, 2 suppressed
	shells 4 400 2025-01-01T12:00:05Z
	# an older timestamp adds no token: suppressed
	shells 1 500 2025-01-01T12:00:04Z
	# another rule has its own bucket: 2 pass, 1 suppressed
	for pid in 600 601 602; do ev connect $pid curl connect 4444 2025-01-01T12:00:00Z; echo; done
} >&3

wait_metric 'ebpf_guard_events_total{type="connect"}' 3
wait_lines "$alerts" 7
wait_metric 'ebpf_guard_alerts_suppressed_total{rule_id="builtin_suspicious_shell"}' 18
wait_metric 'ebpf_guard_alerts_suppressed_total{rule_id="builtin_crypto_port"}' 1
[ "$(metric 'ebpf_guard_alerts_total{rule_id="builtin_suspicious_shell"}')" = 5 ] ||
	fail "alerts_total for the shell rule is not 5"
[ "$(metric 'ebpf_guard_alerts_total{rule_id="builtin_crypto_port"}')" = 2 ] ||
	fail "alerts_total for the port rule is not 2"
[ "$(metric 'ebpf_guard_events_total{type="exec"}')" = 23 ] || fail "exec events"
pids=$(python3 -c 'import json,sys; print(" ".join(str(json.loads(l)["event"]["pid"]) for l in open(sys.argv[1])))' "$alerts")
[ "$pids" = "100 101 300 400 401 600 601" ] || fail "alerts written for pids: $pids"
# Rules that suppressed nothing have no suppressed series.
[ -z "$(metric 'ebpf_guard_alerts_suppressed_total{rule_id="builtin_fileless_exec"}')" ] ||
	fail "a suppressed series for a rule that suppressed nothing"

# The summary: every 10 s of wall time, per rule that suppressed something.
for i in $(seq 300); do
	grep -q 'rate limit: rule=builtin_suspicious_shell' "$W/stderr" &&
		grep -q 'rate limit: rule=builtin_crypto_port' "$W/stderr" && break
	sleep 0.05
done
grep -qxF 'ebpf-guard: rate limit: rule=builtin_suspicious_shell suppressed=18 alerts in the last 10s' "$W/stderr" ||
	fail "no summary line for the shell rule"
grep -qxF 'ebpf-guard: rate limit: rule=builtin_crypto_port suppressed=1 alerts in the last 10s' "$W/stderr" ||
	fail "no summary line for the port rule"

# A reload summarises the window so far (the buckets start full again).
{ shells 3 700 2025-01-01T12:00:05Z; } >&3
wait_metric 'ebpf_guard_alerts_suppressed_total{rule_id="builtin_suspicious_shell"}' 21
kill -HUP "$EG_PID"
wait_metric ebpf_guard_config_reloads_total 1
grep -qE '^ebpf-guard: rate limit: rule=builtin_suspicious_shell suppressed=3 alerts in the last [0-9]+s$' "$W/stderr" ||
	fail "no summary line at reload"
# The last, shorter window is summarised at exit: 2 pass, 2 suppressed.
{ shells 4 800 2025-01-01T12:00:05Z; } >&3
wait_metric 'ebpf_guard_alerts_suppressed_total{rule_id="builtin_suspicious_shell"}' 23
eg_finish
grep -qE '^ebpf-guard: rate limit: rule=builtin_suspicious_shell suppressed=2 alerts in the last [0-9]+s$' "$W/stderr" ||
	fail "no final summary line at exit"
[ "$(grep -c 'rate limit: rule=builtin_crypto_port' "$W/stderr")" = 1 ] ||
	fail "a summary line for a rule that suppressed nothing since the last one"
[ "$(count_lines "$alerts")" = 9 ] || fail "$(count_lines "$alerts") alerts written, want 9"
echo "ok ($EG_NAME)"
