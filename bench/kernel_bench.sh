#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kernel collector benchmark (a benchmark, not a test). For each storm (open,
# exec, connect by default; also unlink, rename, accept, dup: dup2 onto fd
# 100, which the kernel side filters out, dup-stdio: dup2 onto fd 0, and
# null: getppid, a call no family wants, for the cost every system call of
# the host pays while the collector is attached; its minimal program
# attaches nothing), back to back in one run:
#   1. the storm's rate untraced (run before and after the others, averaged),
#      with bench/minimal.bpf.c (reserve + submit
#      only, drained every 10 ms) and with ebpf-guard (stock built-ins, and
#      what -m says): one load process pinned to CPU 0, the consumer to CPU 1;
#   2. events generated (storm ops) vs processed (ebpf_guard_events_total)
#      and counted drops (ebpf_guard_events_dropped_total);
#   3. the daemon's CPU time per processed event (/proc/PID/task/*/schedstat,
#      exact; /proc/PID/stat utime+stime, tick-sampled, printed beside it),
#      and per storm operation (daemon-ns/op: what counts when the kernel
#      filter keeps the storm's events, ebpf_guard_events_filtered_total);
#   4. two load processes (CPU 0 and CPU 1) with the daemon unpinned: drops.
# Repeats REPS times and prints the medians. Needs root and a build with the
# bench targets (cmake --build build).
#
# -m: what the daemon is asked for besides the stock built-ins (which want
# exec and connect): "all" -all-events; "want" a rule file wanting the
# storm's event type (a rule that never matches); "none" nothing (the
# storm's type is not wanted unless it is exec or connect); "auto" (default)
# "all" for open, exec and connect (the documented figures), "want" for the
# others (-all-events would report the opens of the unlink storm and so on),
# "none" for null.
#
# EG_MINIMAL_READ=enter|exit|exit-noread (bench/minimal_loader.c): the
# minimal program of the unlink and rename storms also copies the paths from
# user memory, at the call's entry or from a tp_btf/sys_exit program at its
# exit, or runs that exit program without reading (the floor of a filter on
# paths, and the cost of a program at every call's exit).
#
# -c PATH: also load this configuration (e.g. rules/, the stock set) in the
# daemon, for its cost on the storm. With -m auto an open storm still runs
# under -all-events, which turns the kernel filter off; -m none -c rules/
# runs the stock set as deployed (its rules want opens; the filter is on).
# -e: run the daemon with -enforce (with a -c file of rules with action:
# kill, the kernel's kills are on: their cost per event, bpf/kkill.h).
#
# -D DIR: the directory the unlink and rename storms work in (default: the
# storms' own, /tmp, where the stock set's rules want unlinks; a directory no
# rule names shows what the kernel filter keeps).
#
#   bench/kernel_bench.sh [-b BUILD_DIR] [-d SECONDS] [-r REPS] [-s "open exec connect"]
#                         [-m auto|all|want|none] [-c CONFIG] [-D DIR] [-e]
set -euo pipefail

BUILD=${EG_BUILD_DIR:-build}
SECS=5
REPS=3
STORMS="open exec connect"
MODE=auto
CONFIG=
ENFORCE=()
SDIR=
usage() { echo "usage: $0 [-b BUILD_DIR] [-d SECONDS] [-r REPS] [-s STORMS] [-m auto|all|want|none] [-c CONFIG] [-D DIR] [-e]" >&2; exit 2; }
while getopts "b:d:r:s:m:c:D:e" opt; do
	case $opt in
	b) BUILD=$OPTARG ;;
	d) SECS=$OPTARG ;;
	r) REPS=$OPTARG ;;
	s) STORMS=$OPTARG ;;
	m) MODE=$OPTARG ;;
	c) CONFIG=$OPTARG ;;
	e) ENFORCE=(-enforce) ;;
	D) SDIR=$OPTARG ;;
	*) usage ;;
	esac
done
case $MODE in auto | all | want | none) ;; *) usage ;; esac
EG_BIN=$BUILD/ebpf-guard
B=$BUILD/bench

# A storm kind: its load generator (bench/storm_*.c), the arguments after the
# duration, the event type it makes (the ebpf_guard_events_total series
# counted and the minimal program's tracepoint).
storm_bin() { case $1 in dup | dup-stdio) echo storm_dup ;; *) echo "storm_$1" ;; esac; }
storm_args() { case $1 in dup) echo 100 ;; dup-stdio) echo 0 ;; unlink | rename) echo "$SDIR" ;; esac; }
ev_type() { case $1 in dup-stdio) echo dup ;; *) echo "$1" ;; esac; }
# the daemon's mode for a kind (-m auto resolved)
kind_mode() {
	if [ "$MODE" != auto ]; then
		echo "$MODE"
		return
	fi
	case $1 in open | exec | connect) echo all ;; null) echo none ;; *) echo want ;; esac
}

[ "$(id -u)" = 0 ] || { echo "kernel_bench: needs root" >&2; exit 1; }
for k in $STORMS; do
	case $(ev_type "$k") in open | exec | connect | unlink | rename | accept | dup | null) ;;
	*) echo "kernel_bench: unknown storm $k" >&2; exit 2 ;;
	esac
	f=$B/$(storm_bin "$k")
	[ -x "$f" ] || { echo "kernel_bench: $f missing: build first (cmake --build $BUILD)" >&2; exit 1; }
done
for f in "$EG_BIN" "$B/minimal_loader"; do
	[ -x "$f" ] || { echo "kernel_bench: $f missing: build first (cmake --build $BUILD)" >&2; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { echo "kernel_bench: needs 2 CPUs" >&2; exit 1; }
HZ=$(getconf CLK_TCK)

W=$(mktemp -d /tmp/eg-kbench.XXXXXX)
BG=()
cleanup() {
	local p
	for p in "${BG[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${BG[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf -- "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rate_of() { sed -n 's/.* rate=\([0-9]*\).*/\1/p' "$1"; }
ops_of() { sed -n 's/.* ops=\([0-9]*\).*/\1/p' "$1"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# CPU time of every thread of a process, ns (scheduler accounting: exact,
# where utime+stime are sampled at the tick and miss short runs)
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
median() { [ $# -gt 0 ] || { echo -; return; }; printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# storm <kind> <cpu> <out>: one pinned load process.
# shellcheck disable=SC2046
storm() { taskset -c "$2" "$B/$(storm_bin "$1")" "$SECS" $(storm_args "$1") >"$3"; }

minimal_run() { # <kind> -> prints the storm rate; records/drops in $W/min.out
	taskset -c 1 "$B/minimal_loader" "$(ev_type "$1")" >"$W/min.out" 2>"$W/min.err" &
	local pid=$!
	BG+=("$pid")
	for _ in $(seq 200); do grep -q attached "$W/min.err" && break; sleep 0.05; done
	storm "$1" 0 "$W/storm.out"
	sleep 0.1
	kill -INT "$pid"
	wait "$pid" || true
	BG=("${BG[@]/$pid/}")
	rate_of "$W/storm.out"
}

GUARD=
PORT=
GFLAGS=()
# guard_flags <kind>: the daemon's flags for it into GFLAGS
guard_flags() {
	local t
	t=$(ev_type "$1")
	GFLAGS=()
	case $(kind_mode "$1") in
	all) GFLAGS=(-all-events) ;;
	want)
		# a rule wanting the type that never matches (a comm is at most
		# 15 bytes)
		cat >"$W/want-$t.yaml" <<-YAML
			rules:
			  - id: bench_want_$t
			    description: never matches; makes the daemon attach what $t events need
			    event_types: [$t]
			    comm_regex: "^kernel-bench-no-such-comm$"
		YAML
		GFLAGS=(-config "$W/want-$t.yaml")
		;;
	none) ;;
	esac
}
guard_start() { # [pin cpu]
	local pin=()
	[ -n "${1:-}" ] && pin=(taskset -c "$1")
	: >"$W/guard.err"
	local extra=()
	[ -n "$CONFIG" ] && extra=(-config "$CONFIG")
	extra+=("${ENFORCE[@]}")
	"${pin[@]}" "$EG_BIN" -no-config-file "${GFLAGS[@]}" "${extra[@]}" -alert-file "$W/alerts.jsonl" -prom-addr 127.0.0.1:0 \
		>/dev/null 2>"$W/guard.err" &
	GUARD=$!
	BG+=("$GUARD")
	for _ in $(seq 600); do grep -q '^ebpf-guard: attached' "$W/guard.err" && break; sleep 0.05; done
	grep -q '^ebpf-guard: attached' "$W/guard.err" || { echo "ebpf-guard did not start:" >&2; cat "$W/guard.err" >&2; exit 1; }
	PORT=$(sed -n 's|^ebpf-guard: metrics on http://127\.0\.0\.1:\([0-9]*\)/metrics$|\1|p' "$W/guard.err")
}
guard_stop() {
	kill -TERM "$GUARD"
	wait "$GUARD" || true
	BG=("${BG[@]/$GUARD/}")
	GUARD=
}
# snap <kind> -> "events_of_kind all_events drops filtered fill" (filtered:
# of the kind, kept in the kernel by the rules' filter; 0 for a build
# without it)
snap() {
	curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics" | awk -v k="$1" '
		$1 == "ebpf_guard_events_total{type=\"" k "\"}" { kind = $2 }
		$1 ~ /^ebpf_guard_events_total\{/ { all += $2 }
		$1 ~ /^ebpf_guard_events_dropped_total\{/ { drops += $2 }
		$1 == "ebpf_guard_events_filtered_total{type=\"" k "\"}" { filt = $2 }
		$1 == "ebpf_guard_ringbuf_fill_bytes" { fill = $2 }
		END { printf "%d %d %d %d %d\n", kind, all, drops, filt, fill }'
}
# waits until the ring is drained after a storm: the fill is under 64 KiB
# (never quite 0 at a scrape: the scraping curl's own opens and connect are
# in the ring until the next drain); gives up after 5 s
settle() {
	local s
	for _ in $(seq 100); do
		sleep 0.05
		s=$(snap "$1")
		[ "${s##* }" -lt 65536 ] && break
	done
	return 0
}

declare -A R
for rep in $(seq "$REPS"); do
	for k in $STORMS; do
		t=$(ev_type "$k")
		guard_flags "$k"
		# 1. untraced (before and after the traced runs: the mean, so that
		#    drift in the machine's background load cancels out)
		storm "$k" 0 "$W/storm.out"
		un1=$(rate_of "$W/storm.out")
		# 2. minimal program
		mi=$(minimal_run "$k")
		mrec=$(sed -n 's/.*records=\([0-9]*\).*/\1/p' "$W/min.out")
		mdrop=$(sed -n 's/.*drops=\([0-9]*\).*/\1/p' "$W/min.out")
		# 3. ebpf-guard, daemon on CPU 1
		guard_start 1
		read -r k0 a0 d0 f0 _ <<<"$(snap "$t")"
		t0=$(ticks "$GUARD")
		c0=$(cpu_ns "$GUARD")
		storm "$k" 0 "$W/storm.out"
		settle "$t"
		t1=$(ticks "$GUARD")
		c1=$(cpu_ns "$GUARD")
		read -r k1 a1 d1 f1 _ <<<"$(snap "$t")"
		guard_stop
		filt=$((f1 - f0))
		gr=$(rate_of "$W/storm.out")
		gen=$(ops_of "$W/storm.out")
		storm "$k" 0 "$W/un2.out"
		un=$(( (un1 + $(rate_of "$W/un2.out")) / 2 ))
		proc=$((k1 - k0))
		all=$((a1 - a0))
		drops=$((d1 - d0))
		nsev=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$all" 'BEGIN { printf "%.0f", n ? t / hz * 1e9 / n : 0 }')
		nsev_sched=$(awk -v c=$((c1 - c0)) -v n="$all" 'BEGIN { printf "%.0f", n ? c / n : 0 }')
		# the daemon's CPU time over the pinned storm (what counts for a
		# storm whose events the kernel side filters out)
		cpu_ms=$(((c1 - c0) / 1000000))
		nsop=$(awk -v c=$((c1 - c0)) -v n="$gen" 'BEGIN { printf "%.0f", n ? c / n : 0 }')
		# 4. two load processes, daemon unpinned
		guard_start
		read -r k0 a0 d0 _ _ <<<"$(snap "$t")"
		storm "$k" 0 "$W/s0.out" &
		p0=$!
		storm "$k" 1 "$W/s1.out"
		wait "$p0"
		settle "$t"
		read -r k1 a1 d1 _ _ <<<"$(snap "$t")"
		guard_stop
		sgen=$(($(ops_of "$W/s0.out") + $(ops_of "$W/s1.out")))
		sproc=$((k1 - k0))
		sdrops=$((d1 - d0))
		spct=$(awk -v d="$sdrops" -v p="$sproc" 'BEGIN { printf "%.3f", (d + p) ? 100 * d / (d + p) : 0 }')
		mr=$(awk -v a="$mi" -v b="$un" 'BEGIN { printf "%.3f", a / b }')
		grr=$(awk -v a="$gr" -v b="$un" 'BEGIN { printf "%.3f", a / b }')
		printf 'rep=%d storm=%-9s daemon=%-4s untraced=%7d/s minimal=%7d/s (%.3f, records=%d drops=%d) ebpf-guard=%7d/s (%.3f) generated=%d processed=%d filtered=%d drops=%d daemon=%dns/event (utime+stime: %dns; %dms in all, %dns/op) | 2 loads: generated=%d processed=%d drops=%d (%s%%)\n' \
			"$rep" "$k" "$(kind_mode "$k")" "$un" "$mi" "$mr" "$mrec" "$mdrop" "$gr" "$grr" "$gen" "$proc" "$filt" "$drops" "$nsev_sched" "$nsev" "$cpu_ms" "$nsop" \
			"$sgen" "$sproc" "$sdrops" "$spct"
		R[$k,un]+=" $un"
		R[$k,mr]+=" $mr"
		R[$k,gr]+=" $grr"
		# per event only where the storm's own events are most of them (not
		# dup onto fd 100: its few events are the rest of the machine's)
		[ $((proc * 100)) -ge "$gen" ] && R[$k,ns]+=" $nsev_sched"
		R[$k,ms]+=" $cpu_ms"
		R[$k,op]+=" $nsop"
		R[$k,fi]+=" $filt"
		R[$k,dr]+=" $drops"
		R[$k,sp]+=" $spct"
	done
done

echo
echo "medians over $REPS runs of $SECS s ($(nproc) CPUs, $(uname -r)):"
printf '%-10s %-6s %12s %14s %16s %14s %10s %12s %12s %12s %16s\n' storm daemon untraced/s minimal-ratio ebpf-guard-ratio daemon-ns/ev daemon-ms daemon-ns/op filtered pinned-drops 2-loads-drop-%
for k in $STORMS; do
	# shellcheck disable=SC2086
	printf '%-10s %-6s %12s %14s %16s %14s %10s %12s %12s %12s %16s\n' "$k" "$(kind_mode "$k")" "$(median ${R[$k,un]})" "$(median ${R[$k,mr]})" \
		"$(median ${R[$k,gr]})" "$(median ${R[$k,ns]:-})" "$(median ${R[$k,ms]})" "$(median ${R[$k,op]})" "$(median ${R[$k,fi]})" \
		"$(median ${R[$k,dr]})" "$(median ${R[$k,sp]})"
done
