#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The drop counter stays current while the event loop is busy: a rule whose
# condition runs until the 50 ms time limit on every open (kept in service
# with -lua-max-errors 0) holds the loop in one long batch; meanwhile an open
# storm overflows an 8 KiB ring. Two scrapes a second apart during that
# stall must show ebpf_guard_events_dropped_total{type="open"} going up:
# /metrics reads the kernel's drop counters itself (before, only the event
# loop refreshed them, so they froze exactly when events were being lost).
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 120
storm=${EG_BUILD_DIR:-}/bench/storm_open
[ -x "$storm" ] || skip "no $storm (build the bench targets)"
cat >"$W/slow.yaml" <<'EOF2'
rules:
  - id: slow_open
    description: burns its whole time limit on every open
    event_types: [open]
    condition: (function() local x = 0 for i = 1, 1e9 do x = x + i end return x < 0 end)()
EOF2
EBPF_GUARD_RINGBUF_KB=8 e2e_start -config "$W/slow.yaml" -lua-budget 1000000000 -lua-max-errors 0
"$storm" 12 >/dev/null &
spid=$!
# Pairs of scrapes a second apart until one pair falls inside one batch (the
# first batches may be short: whatever one drain pass found).
stalled=0 moved=0
d1=$(metric 'ebpf_guard_events_dropped_total{type="open"}')
b1=$(metric ebpf_guard_batch_duration_seconds_count)
for _ in $(seq 8); do
	sleep 1
	d2=$(metric 'ebpf_guard_events_dropped_total{type="open"}')
	b2=$(metric ebpf_guard_batch_duration_seconds_count)
	echo "drops $d1 -> $d2, batches done $b1 -> $b2"
	if [ "$b1" = "$b2" ]; then
		stalled=1
		[ "$d2" -gt "$d1" ] && moved=1
		[ "$d2" -gt 0 ] && break
	fi
	d1=$d2 b1=$b2
done
kill "$spid" 2>/dev/null || true
wait "$spid" 2>/dev/null || true
[ "$stalled" = 1 ] || fail "no second without a finished batch: no stall to test"
[ "$moved" = 1 ] || fail "dropped_total did not move while the loop was stalled"
kill -KILL "$EG_PID" 2>/dev/null || true # a stalled loop: no need to wait out its batch
wait "$EG_PID" 2>/dev/null || true
EG_PID=
echo "PASS ($EG_NAME)"
