#!/usr/bin/env bash
# The alert outputs' cost on the replay path (docs/performance.md, "Alert
# outputs"): the whole replay of the engine benchmark's corpus (1M events,
# ~67k alerts), pinned to one core (the outputs' threads share it), with
# no extra output, a dead webhook (nothing listens on 127.0.0.1:9), a live
# webhook (a local Python server answering 200), and -syslog to a Unix
# socket that never reads (every send fails with EAGAIN). Prints medians.
#
# usage: bench/outputs_bench.sh [BUILD_DIR] [EVENTS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
N=${2:-1000000}
RUNS=${3:-3}
CORE=${EG_BENCH_CORE:-1}
OUT=$(mktemp -d /tmp/eg-outbench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$OUT"
}
trap cleanup EXIT

"$BUILD/eg_bench_engine" -n "$N" --write "$OUT/corpus.jsonl" >/dev/null
python3 tests/integration/webhook_server.py "$OUT/port" /dev/null 200 0 eg-outputs-bench &
PIDS+=($!)
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
open(sys.argv[1] + ".ready", "w").close()
time.sleep(3600)' "$OUT/stall.sock" eg-outputs-bench &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$OUT/port" ] && [ -e "$OUT/stall.sock.ready" ] && break; sleep 0.05; done

run() { # run <name> [flags...]
  local name=$1 times=() s e
  shift
  for i in $(seq "$RUNS"); do
    rm -f "$OUT/alerts.jsonl"
    s=$(date +%s%N)
    taskset -c "$CORE" "$BUILD/ebpf-guard" -replay "$OUT/corpus.jsonl" -config bench/rules.reference.yaml \
      -alert-file "$OUT/alerts.jsonl" -prom-addr '' "$@" >/dev/null 2>"$OUT/stderr"
    e=$(date +%s%N)
    times+=("$(python3 -c "print(f'{($e - $s) / 1e9:.3f}')")")
  done
  local med
  med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
  printf '%-40s median %s s (%s), %s alerts in the file\n' "$name" "$med" "${times[*]}" \
    "$(wc -l < "$OUT/alerts.jsonl")"
}

run "no extra output"
run "dead webhook, -webhook-drain-ms 0" -webhook-url http://127.0.0.1:9/ -webhook-drain-ms 0
run "dead webhook, default drain (5 s)" -webhook-url http://127.0.0.1:9/
run "live webhook (200), -webhook-queue 100000" -webhook-url "http://127.0.0.1:$(cat "$OUT/port")/" \
  -webhook-queue 100000 -webhook-drain-ms 60000
run "-syslog to a receiver that never reads" -syslog "$OUT/stall.sock"
