#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Nothing is lost silently, on any CPU, and every loss is put on its event
# type and on the alerts raised next to it. With an 8 KiB ring an open storm
# overflows it; every record that did not fit is counted in the drops map (a
# per-CPU array keyed by the record's type) and the daemon sums each type's
# slots over every CPU into ebpf_guard_events_dropped_total{type=...}.
# - The open storm runs pinned to each online CPU in turn: its drops must
#   show in that CPU's open slot of the map (read with bpftool), processed +
#   dropped opens counted during it must cover it, and the exec and connect
#   slots take no more than their share of the machine's own execs and
#   connects. A sum that misses a
#   CPU fails on that CPU's storm, every time.
# - A connect storm's drops land in the connect slot and series.
# - Each type's metric lies between the map's sums over all CPUs read before
#   and after it.
# - A rule matches the storm's opens: some of its alerts carry
#   "events_lost":true, right after "tags" (docs/output.md); then a run with
#   the default ring drops nothing, and none of its alerts carries the key.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 150
storm=${EG_BUILD_DIR:-}/bench/storm_open
cstorm=${EG_BUILD_DIR:-}/bench/storm_connect
[ -x "$storm" ] && [ -x "$cstorm" ] || skip "no $storm or $cstorm (build the bench targets)"
command -v curl >/dev/null || skip "curl not installed"
command -v taskset >/dev/null || skip "taskset (util-linux) not installed"
command -v bpftool >/dev/null || skip "bpftool not installed"

# a rule on the storm's file: the open probes attach (and the process
# table's exec, fork and exit probes), and the storm's opens raise alerts
target=$W/storm-target
: >"$target"
cat >"$W/storm.yaml" <<'EOF'
rules:
  - id: storm_open
    description: an open of the storm's file
    event_types: [open]
    filename_regex: "/storm-target$"
  # wants connects and names no port: the kernel's port filter stays off,
  # every connect of the storm reaches the ring (the built-ins' ports alone
  # would keep them in the kernel)
  - id: storm_connect
    description: never matches
    event_types: [connect]
    comm_regex: "^no-such-comm-eg$"
EOF
EBPF_GUARD_RINGBUF_KB=8 e2e_start -config "$W/storm.yaml"
[ "$(metric ebpf_guard_ringbuf_size_bytes)" = 8192 ] || fail "ring size: $(metric ebpf_guard_ringbuf_size_bytes)"
grep -q '^ebpf-guard: attached [0-9]* probes (exec,open,connect)$' "$W/stderr" ||
	fail "probes: $(grep attached "$W/stderr")"

# the online CPUs, e.g. "0-1" or "0,2-3" -> 0 1 2 3
cpus=$("$PY" -c '
out = []
for r in open("/sys/devices/system/cpu/online").read().strip().split(","):
    a, _, b = r.partition("-")
    out += range(int(a), int(b or a) + 1)
print(" ".join(map(str, out)))')

# the daemon's drops map: the per-CPU array (type 6) of 8-byte values named
# "drops" (kf_filtered is another)
map_id=
for f in /proc/"$EG_PID"/fdinfo/*; do
	if grep -q '^map_type:[[:space:]]*6$' "$f" 2>/dev/null && grep -q '^value_size:[[:space:]]*8$' "$f"; then
		id=$(sed -n 's/^map_id:[[:space:]]*//p' "$f")
		bpftool -j map show id "$id" | grep -q '"name":"drops"' && map_id=$id
	fi
done
[ -n "$map_id" ] || fail "no drops map among the daemon's file descriptors"
# record types (bpf/eg_raw.h, src/event.h): the map's keys
T_EXEC=1 T_OPEN=2 T_CONNECT=3 T_EXIT=4 T_MEMFD=5 T_PTRACE=6 T_FORK=31
# kdrops TYPE CPU|sum: the map's value of one type for one CPU, or summed over all
kdrops() {
	bpftool -j map lookup id "$map_id" key "$1" 0 0 0 | "$PY" -c '
import json, sys
v = {x["cpu"]: x["value"] for x in json.load(sys.stdin)["formatted"]["values"]}
print(sum(v.values()) if sys.argv[1] == "sum" else v[int(sys.argv[1])])' "$2"
}
# ksums -> "exec open connect exit": each type's sum over all CPUs
ksums() {
	echo "$(kdrops $T_EXEC sum) $(kdrops $T_OPEN sum) $(kdrops $T_CONNECT sum) $(kdrops $T_EXIT sum)"
}
# counters TYPE -> "processed dropped" of that type from one scrape
counters() {
	local s
	s=$(scrape)
	awk -v t="$1" '$1 == "ebpf_guard_events_total{type=\"" t "\"}" { o = $2 }
		$1 == "ebpf_guard_events_dropped_total{type=\"" t "\"}" { d = $2 }
		END { print o + 0, d + 0 }' <<<"$s"
}
# The metric is refreshed every tenth drain pass: at most every 400 ms when
# idle. Waiting longer than that after a storm makes the next baseline
# include every drop of it (other activity on the machine only adds drops).
settle() { sleep 0.6; }
# cover TYPE OPS P0 D0 -> sets processed, dropped: waits until the metrics
# account for OPS events of TYPE since the baseline P0 D0 (or 3 s)
cover() {
	local p1 d1
	for _ in $(seq 30); do
		read -r p1 d1 < <(counters "$1")
		processed=$((p1 - $3))
		dropped=$((d1 - $4))
		[ $((processed + dropped)) -ge "$2" ] && return 0
		sleep 0.1
	done
}

# processed -> "exec open connect": events that reached the daemon, by type
processed() {
	local s
	s=$(scrape)
	awk '$1 == "ebpf_guard_events_total{type=\"exec\"}" { e = $2 }
		$1 == "ebpf_guard_events_total{type=\"open\"}" { o = $2 }
		$1 == "ebpf_guard_events_total{type=\"connect\"}" { c = $2 }
		END { print e + 0, o + 0, c + 0 }' <<<"$s"
}

settle
for cpu in $cpus; do
	read -r open0 drop0 < <(counters open)
	read -r pe0 po0 pc0 < <(processed)
	k0=$(kdrops $T_OPEN "$cpu")
	read -r e0 o0 c0 _ < <(ksums)
	ops=$(taskset -c "$cpu" "$storm" 0.3 "$target" | sed -n 's/.* ops=\([0-9]*\) .*/\1/p')
	[ -n "$ops" ] && [ "$ops" -gt 0 ] || fail "the storm on CPU $cpu reported no ops"
	k1=$(kdrops $T_OPEN "$cpu")
	read -r e1 o1 c1 _ < <(ksums)
	# the drain takes at most ~2,000 of the storm's records (8 KiB per 10 ms)
	[ $((k1 - k0)) -ge $((ops / 2)) ] ||
		fail "CPU $cpu: the storm's $ops opens left only $((k1 - k0)) drops in CPU $cpu's open slot of the map"
	cover open "$ops" "$open0" "$drop0"
	echo "CPU $cpu: storm opens=$ops, in CPU $cpu's open slot $((k1 - k0)) drops; metrics: processed opens=$processed dropped=$dropped"
	[ $((processed + dropped)) -ge "$ops" ] ||
		fail "CPU $cpu: lost silently: $ops opens, $processed processed + $dropped dropped"
	# Exec and connect slots take only the machine's own execs and connects
	# (another test's storm, say). While the ring is full any record is lost,
	# whatever its type, so they lose about the share opens lose: their drops
	# stay within twice what that share of their processed events gives.
	read -r pe1 po1 pc1 < <(processed)
	do_=$((o1 - o0)) po=$((po1 - po0)) dx=$((e1 - e0 + c1 - c0)) px=$((pe1 - pe0 + pc1 - pc0))
	echo "CPU $cpu: all CPUs: opens dropped $do_ processed $po; execs + connects dropped $dx processed $px"
	[ $((dx * (po + 1))) -le $((2 * do_ * (px + 10))) ] ||
		fail "CPU $cpu: the open storm's drops went to other slots: exec +$((e1 - e0)), connect +$((c1 - c0)) for $px processed, beside open +$do_ for $po processed"
	settle
done

# a connect storm: its drops are connect drops
read -r conn0 cdrop0 < <(counters connect)
read -r _ _ c0 _ < <(ksums)
cops=$("$cstorm" 1 | sed -n 's/.* ops=\([0-9]*\) .*/\1/p')
[ -n "$cops" ] && [ "$cops" -gt 0 ] || fail "the connect storm reported no ops"
read -r _ _ c1 _ < <(ksums)
[ $((c1 - c0)) -ge $((cops / 4)) ] ||
	fail "the storm's $cops connects left only $((c1 - c0)) drops in the connect slots of the map"
cover connect "$cops" "$conn0" "$cdrop0"
echo "connect storm: connects=$cops, connect slots +$((c1 - c0)); metrics: processed connects=$processed dropped=$dropped"
[ $((processed + dropped)) -ge "$cops" ] ||
	fail "lost silently: $cops connects, $processed processed + $dropped dropped"
settle

# each type's metric against the map's sum over every CPU, read before and after it
for t in exec open connect exit memfd ptrace fork; do
	case $t in exec) key=$T_EXEC ;; open) key=$T_OPEN ;; connect) key=$T_CONNECT ;; exit) key=$T_EXIT ;;
	memfd) key=$T_MEMFD ;; ptrace) key=$T_PTRACE ;; fork) key=$T_FORK ;; esac
	s1=$(kdrops "$key" sum)
	for _ in $(seq 30); do
		read -r _ m < <(counters "$t")
		[ "$m" -ge "$s1" ] && break
		sleep 0.1
	done
	s2=$(kdrops "$key" sum)
	echo "$t: map sum $s1 <= metric $m <= map sum $s2"
	[ "$m" -ge "$s1" ] || fail "ebpf_guard_events_dropped_total{type=\"$t\"} $m stays below the map's sum over all CPUs, $s1"
	[ "$m" -le "$s2" ] || fail "ebpf_guard_events_dropped_total{type=\"$t\"} $m exceeds the map's sum over all CPUs, $s2"
done
e2e_stop

# alerts raised while the ring was overflowing say so
# check_lost FILE -> "N L": N storm_open alerts, L of them with events_lost;
# fails unless the key, when there, is true and last, right after "tags"
check_lost() {
	"$PY" - "$1" <<'PY'
import json, sys
n = lost = 0
keys = ["timestamp", "rule_id", "description", "event_type", "event", "severity", "tags", "hostname", "host_id"]
for line in open(sys.argv[1], "rb"):
    a = json.loads(line)
    if a["rule_id"] != "storm_open":
        continue
    n += 1
    if "events_lost" in a:
        assert list(a) == keys + ["events_lost"], list(a)
        assert a["events_lost"] is True, a["events_lost"]
        assert line.endswith(b',"events_lost":true}\n'), line[-80:]
        lost += 1
    else:
        assert list(a) == keys, list(a)
print(n, lost)
PY
}
read -r n lost < <(check_lost "$W/alerts.jsonl") || fail "alert check failed"
echo "storm run: $n storm_open alerts, $lost with events_lost"
[ "$n" -gt 0 ] || fail "no storm_open alert"
[ "$lost" -gt 0 ] || fail "none of $n alerts raised during the drops carries events_lost"

# the default ring: no drops, no alert with events_lost
: >"$W/alerts.jsonl"
e2e_start -config "$W/storm.yaml"
read -r open0 _ < <(counters open)
ops=$("$storm" 0.05 "$target" | sed -n 's/.* ops=\([0-9]*\) .*/\1/p')
[ -n "$ops" ] && [ "$ops" -gt 0 ] || fail "the short storm reported no ops"
cover open "$ops" "$open0" 0
drops=$(scrape | grep '^ebpf_guard_events_dropped_total' || true)
e2e_stop
[ "$drops" = 'ebpf_guard_events_dropped_total{type="exec"} 0
ebpf_guard_events_dropped_total{type="open"} 0
ebpf_guard_events_dropped_total{type="connect"} 0
ebpf_guard_events_dropped_total{type="exit"} 0
ebpf_guard_events_dropped_total{type="memfd"} 0
ebpf_guard_events_dropped_total{type="ptrace"} 0
ebpf_guard_events_dropped_total{type="module"} 0
ebpf_guard_events_dropped_total{type="bpf"} 0
ebpf_guard_events_dropped_total{type="setid"} 0
ebpf_guard_events_dropped_total{type="namespace"} 0
ebpf_guard_events_dropped_total{type="mount"} 0
ebpf_guard_events_dropped_total{type="link"} 0
ebpf_guard_events_dropped_total{type="rename"} 0
ebpf_guard_events_dropped_total{type="unlink"} 0
ebpf_guard_events_dropped_total{type="chmod"} 0
ebpf_guard_events_dropped_total{type="dup"} 0
ebpf_guard_events_dropped_total{type="listen"} 0
ebpf_guard_events_dropped_total{type="accept"} 0
ebpf_guard_events_dropped_total{type="fork"} 0' ] || fail "the run with a 16 MiB ring dropped events: $drops"
read -r n lost < <(check_lost "$W/alerts.jsonl") || fail "alert check failed"
echo "no-drop run: $ops opens, $n storm_open alerts, $lost with events_lost"
[ "$n" -ge "$ops" ] || fail "$ops opens of the storm's file, $n alerts"
[ "$lost" = 0 ] || fail "$lost alerts carry events_lost in a run without drops"
echo "PASS ($EG_NAME): drops counted by type on CPUs $cpus, flagged on alerts"
