#!/usr/bin/env bash
# The engine's cost per event on a recorded workload (default: the build
# workload of tests/noise, 169,389 events of a real machine, mostly opens),
# as the daemon runs it: the recording goes through a FIFO into
# `ebpf-guard -replay`, and before the input ends the daemon's own clock of
# the engine is read from its metrics (ebpf_guard_batch_duration_seconds:
# eg_engine_run per batch, its alerts included). JSON decoding and output
# are not counted: what is left is the rules. The recording goes in twice:
# the first pass includes LuaJIT's warm-up (compiling the traces of each
# rule loop's paths as they get hot: on a short recording a large part of
# the time), the second is the steady state of a daemon that has run a
# while. Pinned to one core; prints each run and the medians. -p PASSES
# sends the recording that many times (default 2): the steady state of a
# run is then the median of its passes after the first (one pass of the
# build recording is ~50 ms of engine time: on a noisy machine several
# make a steadier figure).
#
# usage: bench/workload_bench.sh [-b BUILD_DIR] [-r RUNS] [-p PASSES] [-w RECORDING(.gz)] [-c CONFIG]...
#        (default: -b build -r 5 -p 2 -w tests/noise/workload.jsonl.gz -c rules/)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build RUNS=5 PASSES=2 WORKLOAD=tests/noise/workload.jsonl.gz CORE=${EG_BENCH_CORE:-1}
CONFIGS=()
while getopts "b:r:p:w:c:h" o; do
	case $o in
	b) BUILD=$OPTARG ;;
	r) RUNS=$OPTARG ;;
	p) PASSES=$OPTARG ;;
	w) WORKLOAD=$OPTARG ;;
	c) CONFIGS+=(-config "$OPTARG") ;;
	*) sed -n '2,18p' "$0"; exit 2 ;;
	esac
done
[ ${#CONFIGS[@]} -gt 0 ] || CONFIGS=(-config rules/)
[ "$PASSES" -ge 2 ] 2>/dev/null || { echo "workload_bench: -p wants 2 passes or more" >&2; exit 2; }
BIN=$BUILD/ebpf-guard
[ -x "$BIN" ] || { echo "workload_bench: $BIN missing: build first" >&2; exit 1; }
command -v curl >/dev/null || { echo "workload_bench: needs curl" >&2; exit 1; }
W=$(mktemp -d /tmp/eg-workload-bench.XXXXXX)
PID= WRITER=
cleanup() {
	[ -n "$WRITER" ] && kill "$WRITER" 2>/dev/null
	exec 3>&- 2>/dev/null || true
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

case $WORKLOAD in
*.gz) gzip -dc "$WORKLOAD" > "$W/events.jsonl" ;;
*) cp "$WORKLOAD" "$W/events.jsonl" ;;
esac
N=$(grep -c . "$W/events.jsonl")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "workload: $WORKLOAD, $N events; config: ${CONFIGS[*]}"

metric() { # the value of series $1 on the page in $W/page
	awk -v s="$1" 'substr($0, 1, length(s) + 1) == s " " { print $NF; exit }' "$W/page"
}
firsts=() seconds=()
for run in $(seq "$RUNS"); do
	rm -f "$W/in" "$W/alerts.jsonl"
	mkfifo "$W/in"
	PORT=$((20000 + RANDOM % 20000))
	taskset -c "$CORE" "$BIN" -no-config-file -replay "$W/in" "${CONFIGS[@]}" \
		-alert-file "$W/alerts.jsonl" -prom-addr "127.0.0.1:$PORT" >/dev/null 2>"$W/stderr" &
	PID=$!
	# read-write: opening a FIFO does not wait for the reader then, and the
	# writer below is a background job, so a daemon that exits at start
	# (a bad config) is reported, not waited for
	exec 3<>"$W/in"
	sums=()
	for pass in $(seq "$PASSES"); do
		cat "$W/events.jsonl" >&3 &
		WRITER=$!
		done_=0
		for i in $(seq 600); do
			if ! kill -0 "$PID" 2>/dev/null; then
				kill "$WRITER" 2>/dev/null
				echo "workload_bench: the daemon exited:" >&2
				cat "$W/stderr" >&2
				exit 1
			fi
			if curl -s --max-time 2 "http://127.0.0.1:$PORT/metrics" > "$W/page" 2>/dev/null; then
				seen=$(awk '/^ebpf_guard_events_total\{/ { s += $NF } END { print s + 0 }' "$W/page")
				if [ "$seen" -ge "$((N * pass))" ]; then
					# a batch is counted when it is read, observed when it ran
					sleep 0.5
					curl -s --max-time 2 "http://127.0.0.1:$PORT/metrics" > "$W/page"
					done_=1
					break
				fi
			fi
			sleep 0.1
		done
		wait "$WRITER" 2>/dev/null || true
		[ "$done_" = 1 ] || { echo "workload_bench: the daemon did not take the events of pass $pass" >&2; cat "$W/stderr" >&2; exit 1; }
		sums+=("$(metric ebpf_guard_batch_duration_seconds_sum)")
	done
	exec 3>&-
	wait "$PID" || true
	PID=
	first=$(python3 -c "print(f'{${sums[0]} * 1e9 / $N:.1f}')")
	second=$(python3 -c "
s = [$(IFS=,; echo "${sums[*]}")]
d = sorted((s[k] - s[k - 1]) * 1e9 / $N for k in range(1, len(s)))
print(f'{d[(len(d) - 1) // 2]:.1f}')")
	echo "run $run: first pass $first ns/event (warm-up included), steady state $second ns/event (median of $((PASSES - 1)) passes); $(wc -l < "$W/alerts.jsonl") alerts"
	firsts+=("$first")
	seconds+=("$second")
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
m1=$(median "${firsts[@]}") m2=$(median "${seconds[@]}")
python3 -c "print(f'workload: first pass median {$m1} ns/event; steady state median {$m2} ns/event, {1e3 / $m2:.1f} M events/s')"
