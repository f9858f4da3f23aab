#!/usr/bin/env bash
# Engine benchmarks (issue 2): (a) the engine alone over 1M events (each
# batch of 256 copied, with its strings, into a buffer of its own first, as
# the daemon's decoder leaves it; the time of eg_engine_run only, on the
# monotonic clock, the lines say when other processes took the core), (b) the
# whole replay (JSONL in, JSONL alerts out), both with the reference's
# example rules plus the built-ins; (a') and (a'') the same engine run with
# the stock set as shipped and with 64 rules in the rule language; (a-rec)
# the stock set on the recorded build workload instead of the generated
# corpus (its events repeat as a host's do), after 10 warm-up passes
# (~1.7 M events: the JIT compiles its rarer paths over the first ones, which
# a daemon pays once; their time is printed apart). Pins to one core.
# Prints medians.
#
# usage: bench/engine_bench.sh [BUILD_DIR] [EVENTS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
N=${2:-1000000}
RUNS=${3:-5}
CORE=${EG_BENCH_CORE:-1}
OUT=$(mktemp -d /tmp/eg-bench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
"$BUILD/eg_bench_engine" -n "$N" --write "$OUT/corpus.jsonl"
echo "corpus: $(wc -l < "$OUT/corpus.jsonl") events, $(du -h "$OUT/corpus.jsonl" | cut -f1)"

echo "== (a) engine alone, events in memory, reference rules + built-ins"
taskset -c "$CORE" "$BUILD/eg_bench_engine" -n "$N" -passes "$RUNS" -config bench/rules.reference.yaml
echo "== (a') engine alone, stock rules + built-ins"
taskset -c "$CORE" "$BUILD/eg_bench_engine" -n "$N" -passes "$RUNS" -config rules/
echo "== (a' off) the same, the stateful detections (rules/95-stateful.lua) switched off"
{
  echo "overrides:"
  grep -o 'id = "[a-z_]*"' rules/95-stateful.lua | cut -d'"' -f2 | while read -r id; do
    printf '  - rule: %s\n    replace: {enabled: false}\n' "$id"
  done
} > "$OUT/stateful-off.yaml"
taskset -c "$CORE" "$BUILD/eg_bench_engine" -n "$N" -passes "$RUNS" -config rules/ -config "$OUT/stateful-off.yaml"
echo "== (a-rec) engine alone, stock rules + built-ins, the recorded build workload (tests/noise, 169,389 events of this machine), after 10 warm-up passes"
gzip -dc tests/noise/workload.jsonl.gz > "$OUT/workload.jsonl"
taskset -c "$CORE" "$BUILD/eg_bench_engine" -corpus "$OUT/workload.jsonl" -warmup 10 -passes "$(( RUNS * 3 ))" -config rules/
echo "== (a'') engine alone, 64 rules in the rule language (bench/rules.language.yaml) + built-ins"
taskset -c "$CORE" "$BUILD/eg_bench_engine" -n "$N" -passes "$RUNS" -config bench/rules.language.yaml

echo "== (b) whole replay: JSONL in, JSONL alerts out, reference rules + built-ins"
times=()
for i in $(seq "$RUNS"); do
  rm -f "$OUT/alerts.jsonl"
  s=$(date +%s%N)
  taskset -c "$CORE" "$BUILD/ebpf-guard" -replay "$OUT/corpus.jsonl" -config bench/rules.reference.yaml \
    -alert-file "$OUT/alerts.jsonl" -prom-addr '' > /dev/null
  e=$(date +%s%N)
  times+=("$(python3 -c "print(f'{($e - $s) / 1e9:.3f}')")")
done
alerts=$(wc -l < "$OUT/alerts.jsonl")
med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
echo "replay: $N events, $alerts alerts per run, runs: ${times[*]}"
python3 -c "n=$N; t=$med; print(f'replay: median {t:.3f} s, {n/t/1e3:.0f} k events/s, {t*1e9/n:.0f} ns/event')"
