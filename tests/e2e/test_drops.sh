#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Nothing is lost silently: with an 8 KiB ring an open storm overflows it,
# and every record that did not fit is counted in
# ebpf_guard_events_dropped_total (processed + dropped covers the storm).
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 90
storm=${EG_BUILD_DIR:-}/bench/storm_open
[ -x "$storm" ] || skip "no $storm (build the bench targets)"
command -v curl >/dev/null || skip "curl not installed"
EBPF_GUARD_RINGBUF_KB=8 e2e_start -all-events
[ "$(metric ebpf_guard_ringbuf_size_bytes)" = 8192 ] || fail "ring size: $(metric ebpf_guard_ringbuf_size_bytes)"
open0=$(metric 'ebpf_guard_events_total{type="open"}')
drop0=$(metric ebpf_guard_events_dropped_total)
ops=$("$storm" 1 | sed -n 's/.* ops=\([0-9]*\) .*/\1/p')
sleep 0.3 # the next drain and the drop counter refresh (every 100 ms)
open1=$(metric 'ebpf_guard_events_total{type="open"}')
drop1=$(metric ebpf_guard_events_dropped_total)
processed=$((open1 - open0))
dropped=$((drop1 - drop0))
echo "storm opens=$ops processed opens=$processed dropped records=$dropped"
[ "$dropped" -gt 0 ] || fail "an 8 KiB ring under an open storm dropped nothing?"
[ $((processed + dropped)) -ge "$ops" ] || fail "lost silently: $ops opens, $processed processed + $dropped dropped"
e2e_stop
echo "PASS ($EG_NAME)"
