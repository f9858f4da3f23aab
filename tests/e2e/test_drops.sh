#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Nothing is lost silently, on any CPU: with an 8 KiB ring an open storm
# overflows it, every record that did not fit is counted in the per-CPU drops
# map, and the daemon sums every CPU's counter into
# ebpf_guard_events_dropped_total. The storm runs pinned to each online CPU
# in turn: its drops must show in that CPU's slot of the map (read with
# bpftool), and processed + dropped counted during it must cover it. Then the
# metric must lie between the map's sums over all CPUs read before and after
# it: a sum that misses a CPU fails on that CPU's storm, every time.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 90
storm=${EG_BUILD_DIR:-}/bench/storm_open
[ -x "$storm" ] || skip "no $storm (build the bench targets)"
command -v curl >/dev/null || skip "curl not installed"
command -v taskset >/dev/null || skip "taskset (util-linux) not installed"
command -v bpftool >/dev/null || skip "bpftool not installed"
EBPF_GUARD_RINGBUF_KB=8 e2e_start -all-events
[ "$(metric ebpf_guard_ringbuf_size_bytes)" = 8192 ] || fail "ring size: $(metric ebpf_guard_ringbuf_size_bytes)"

# the online CPUs, e.g. "0-1" or "0,2-3" -> 0 1 2 3
cpus=$("$PY" -c '
out = []
for r in open("/sys/devices/system/cpu/online").read().strip().split(","):
    a, _, b = r.partition("-")
    out += range(int(a), int(b or a) + 1)
print(" ".join(map(str, out)))')

# the daemon's drops map: its only per-CPU array (type 6) of 8-byte values
map_id=
for f in /proc/"$EG_PID"/fdinfo/*; do
	if grep -q '^map_type:[[:space:]]*6$' "$f" 2>/dev/null && grep -q '^value_size:[[:space:]]*8$' "$f"; then
		map_id=$(sed -n 's/^map_id:[[:space:]]*//p' "$f")
	fi
done
[ -n "$map_id" ] || fail "no drops map among the daemon's file descriptors"
# kdrops CPU|sum: the map's value for one CPU, or summed over all
kdrops() {
	bpftool -j map lookup id "$map_id" key 0 0 0 0 | "$PY" -c '
import json, sys
v = {x["cpu"]: x["value"] for x in json.load(sys.stdin)["formatted"]["values"]}
print(sum(v.values()) if sys.argv[1] == "sum" else v[int(sys.argv[1])])' "$1"
}
# counters -> "opens drops" from one scrape
counters() {
	local s
	s=$(scrape)
	awk '$1 == "ebpf_guard_events_total{type=\"open\"}" { o = $2 } $1 == "ebpf_guard_events_dropped_total" { d = $2 }
		END { print o + 0, d + 0 }' <<<"$s"
}
# The metric is refreshed every tenth drain pass: at most every 400 ms when
# idle. Waiting longer than that after a storm makes the next baseline
# include every drop of it (other activity on the machine only adds drops).
settle() { sleep 0.6; }

settle
for cpu in $cpus; do
	read -r open0 drop0 < <(counters)
	k0=$(kdrops "$cpu")
	ops=$(taskset -c "$cpu" "$storm" 0.3 | sed -n 's/.* ops=\([0-9]*\) .*/\1/p')
	[ -n "$ops" ] && [ "$ops" -gt 0 ] || fail "the storm on CPU $cpu reported no ops"
	k1=$(kdrops "$cpu")
	# the drain takes at most ~2,000 of the storm's records (8 KiB per 10 ms)
	[ $((k1 - k0)) -ge $((ops / 2)) ] ||
		fail "CPU $cpu: the storm's $ops opens left only $((k1 - k0)) drops in CPU $cpu's slot of the map"
	# wait for the drain and the metric refresh to cover the storm
	for _ in $(seq 30); do
		read -r open1 drop1 < <(counters)
		processed=$((open1 - open0))
		dropped=$((drop1 - drop0))
		[ $((processed + dropped)) -ge "$ops" ] && break
		sleep 0.1
	done
	echo "CPU $cpu: storm opens=$ops, in CPU $cpu's slot $((k1 - k0)) drops; metrics: processed opens=$processed dropped=$dropped"
	[ $((processed + dropped)) -ge "$ops" ] ||
		fail "CPU $cpu: lost silently: $ops opens, $processed processed + $dropped dropped"
	settle
done

# the metric against the map's sum over every CPU, read before and after it
s1=$(kdrops sum)
for _ in $(seq 30); do
	read -r _ m < <(counters)
	[ "$m" -ge "$s1" ] && break
	sleep 0.1
done
s2=$(kdrops sum)
echo "map sum $s1 <= metric $m <= map sum $s2"
[ "$m" -ge "$s1" ] || fail "ebpf_guard_events_dropped_total $m stays below the map's sum over all CPUs, $s1"
[ "$m" -le "$s2" ] || fail "ebpf_guard_events_dropped_total $m exceeds the map's sum over all CPUs, $s2"
e2e_stop
echo "PASS ($EG_NAME): drops counted on CPUs $cpus"
