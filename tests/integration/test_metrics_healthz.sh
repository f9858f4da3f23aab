#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest: alone (times each scrape during the stall)
# /healthz answers 200 while the event loop passes, 503 while it is stuck
# (here: a rule condition burning CPU until the 50 ms time limit of a call
# stops it, on every event, kept in service with -lua-max-errors 0: enough
# events in one batch for ~8 s), and 200 again after; /metrics keeps
# answering meanwhile.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 90

cat >"$W/slow.yaml" <<'EOF'
rules:
  - id: slow
    description: burns CPU in its condition
    event_types: [exec]
    condition: (function() local x = 0 for i = 1, 2e8 do x = x + i end return x < 0 end)()
EOF
eg_start -config "$W/slow.yaml" -lua-budget 1000000000 -lua-max-errors 0 -alert-file "$W/alerts.jsonl"

health() { curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$URL/healthz"; }
[ "$(health)" = 200 ] || fail "/healthz not 200 at start"
# Idle input: the loop still passes (the replay reader services while waiting).
sleep 6
[ "$(health)" = 200 ] || fail "/healthz not 200 on an idle input"

# How long one slow event takes here (the batch histogram's sum), then
# enough of them in one batch for a stall of about 8 s.
eg_send "$(ev exec 1 ls /bin/ls)"
wait_metric ebpf_guard_batch_duration_seconds_count 1 30
one=$(metric ebpf_guard_batch_duration_seconds_sum)
n=$(python3 -c "import math; print(min(250, max(2, math.ceil(8 / $one))))")
echo "one slow event: ${one}s; stalling with $n events"
lines=()
for ((i = 0; i < n; i++)); do lines+=("$(ev exec $((10 + i)) ls /bin/ls)"); done
eg_send "${lines[@]}"
saw503=0 slowest=0
for i in $(seq 250); do
	# the status and the body of one answer (two requests could straddle
	# the end of the stall)
	resp=$(curl -s --max-time 5 -w '\n%{http_code}' "$URL/healthz")
	code=${resp##*$'\n'} body=${resp%$'\n'*}
	body=${body%$'\n'}
	if [ "$code" = 503 ]; then
		saw503=1
		[ "$body" = stalled ] || fail "503 body '$body'"
		# A scrape during the stall answers at once, with the events counted:
		# those of the stalled batch too (the reader may have taken the lines
		# in more than one batch: at least one slow event past the first)
		t=$(curl -s --max-time 5 -o "$W/scrape" -w '%{time_total}' "$URL/metrics") ||
			fail "scrape failed during the stall"
		seen=$(awk '$1 == "ebpf_guard_events_total{type=\"exec\"}" { print $2 }' "$W/scrape")
		[ -n "$seen" ] && [ "$seen" -ge 2 ] && [ "$seen" -le $((n + 1)) ] ||
			fail "scrape during the stall: $(grep 'type="exec"' "$W/scrape")"
		slowest=$(python3 -c "print(max($slowest, $t))")
	elif [ "$code" = 200 ] && [ "$saw503" = 1 ]; then
		break
	fi
	sleep 0.2
done
[ "$saw503" = 1 ] || fail "/healthz never answered 503 during a ~8 s stall"
[ "$(health)" = 200 ] || fail "/healthz not 200 again after the stall"
python3 -c "import sys; sys.exit(0 if $slowest < 1 else 1)" ||
	fail "a scrape took ${slowest}s during the stall"
echo "slowest scrape during the stall: ${slowest}s"
# the condition failed on every event: the replay exits 1 and says so
eg_finish 1
grep -qxF "ebpf-guard: rule \"slow\" ($W/slow.yaml): every evaluation failed ($((n + 1)) of $((n + 1)); last: budget error: condition:1: time limit exceeded (50 ms))" "$W/stderr" ||
	fail "no exit line for slow: $(grep 'every evaluation' "$W/stderr")"
echo "ok ($EG_NAME)"
