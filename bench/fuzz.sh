#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan+UBSan) into a
# separate build directory and runs each for a bounded time on a copy of its
# committed corpus (tests/fuzz/corpus/<name>). Fails when any fuzzer finds a
# crash, a sanitizer report, a leak, a timeout or an out-of-memory, and prints
# the reproducer's path and how to rerun it.
#
# usage: bench/fuzz.sh [SECONDS] [NAME...]
#   SECONDS  per fuzzer (default 60)
#   NAME     replay record yaml lua json (default: all)
# environment:
#   EG_FUZZ_BUILD  build directory (default build-fuzz)
#   EG_FUZZ_JOBS   parallel build jobs (default 2)
#   EG_FUZZ_OUT    logs and reproducers (default $EG_FUZZ_BUILD/fuzz-out/<name>/)
#   EG_FUZZ_KEEP   1: keep each run's grown corpus and print where it is
#   EG_FUZZ_ARGS   more libFuzzer options, e.g. "-jobs=2 -workers=2"
#   EG_FUZZ_PAR    fuzzers run at once (default: the number of cores)
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)

SECS=${1:-60}
shift || true
case $SECS in '' | *[!0-9]*) echo "usage: bench/fuzz.sh [SECONDS] [NAME...]" >&2; exit 2 ;; esac
ALL=(replay record yaml lua json)
NAMES=("$@")
[ ${#NAMES[@]} -gt 0 ] || NAMES=("${ALL[@]}")
for n in "${NAMES[@]}"; do
  case " ${ALL[*]} " in *" $n "*) ;; *) echo "fuzz.sh: unknown fuzzer '$n' (one of: ${ALL[*]})" >&2; exit 2 ;; esac
done
B=${EG_FUZZ_BUILD:-build-fuzz}
JOBS=${EG_FUZZ_JOBS:-2}
OUT=${EG_FUZZ_OUT:-$B/fuzz-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# Needs clang and its libFuzzer runtime (Debian: clang, libclang-rt-14-dev).
missing() {
  if [ "${CI:-}" = true ]; then
    echo "FAIL (fuzz): $* (CI=true: scripts/install-deps.sh installs it)" >&2
    exit 1
  fi
  echo "SKIP (fuzz): $*"
  exit 77
}
CLANG=$(command -v clang || command -v clang-14 || true)
[ -n "$CLANG" ] || missing "clang not found: install the Debian package 'clang' (or run scripts/install-deps.sh)"
probe=$(mktemp -d /tmp/eg-fuzz-probe.XXXXXX)
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' > "$probe/p.c"
if ! "$CLANG" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2> "$probe/err"; then
  cat "$probe/err" >&2
  rm -rf "$probe"
  missing "clang cannot link libFuzzer: install the Debian package 'libclang-rt-14-dev' (or run scripts/install-deps.sh)"
fi
rm -rf "$probe"

if ! grep -qx 'EG_FUZZ:BOOL=ON' "$B/CMakeCache.txt" 2>/dev/null; then
  echo "== configuring $B (clang, EG_FUZZ=ON)"
  cfg=(-DEG_FUZZ=ON)
  # the compiler only on a fresh directory (changing it resets the cache)
  [ -f "$B/CMakeCache.txt" ] || cfg+=(-DCMAKE_C_COMPILER="$CLANG" -DCMAKE_BUILD_TYPE=RelWithDebInfo)
  cmake -B "$B" "${cfg[@]}" > "$OUT/configure.log" 2>&1 || { cat "$OUT/configure.log" >&2; exit 1; }
fi
targets=()
for n in "${NAMES[@]}"; do targets+=(--target "fuzz_$n"); done
echo "== building ${NAMES[*]/#/fuzz_} in $B (-j$JOBS)"
cmake --build "$B" -j"$JOBS" "${targets[@]}" > "$OUT/build.log" 2>&1 || { tail -50 "$OUT/build.log" >&2; exit 1; }

declare -A MAXLEN=([replay]=8192 [record]=16384 [yaml]=8192 [lua]=8192 [json]=20000)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# One fuzzer's run: its messages in $OUT/<name>.report, its summary line in
# $OUT/<name>.result, and $OUT/<name>.failed when it found something.
fuzz_one() {
  local n=$1 bin=$B/fuzz/fuzz_$1 art=$OUT/$1 log=$OUT/$1.log rep=$OUT/$1.report
  rm -rf "$art" "$OUT/$n.failed" "$OUT/$n.result"
  mkdir -p "$art"
  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/eg-fuzz-$n.XXXXXX")
  mkdir -p "$work/corpus"
  cp -r "$SRC/tests/fuzz/corpus/$n/." "$work/corpus/"
  local seeds
  seeds=$(find "$work/corpus" -type f | wc -l)
  local dict=()
  [ -f "$SRC/tests/fuzz/$n.dict" ] && dict=(-dict="$SRC/tests/fuzz/$n.dict")
  echo "== fuzz_$n: ${SECS}s on $seeds seeds" > "$rep"
  local rc=0
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$SECS" -timeout=30 -rss_limit_mb=2048 -max_len="${MAXLEN[$n]}" \
    -print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" ${EG_FUZZ_ARGS:-} \
    "$work/corpus" > "$log" 2>&1 || rc=$?
  local runs eps found line
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  found=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
  line="fuzz_$n: ${runs:-?} runs, ${eps:-?} exec/s, ${found:-?} new inputs"
  if [ "$rc" -ne 0 ]; then
    {
      echo "---- fuzz_$n failed (exit $rc); the end of $log:"
      tail -60 "$log"
      local repro r
      repro=$(find "$art" -type f | sort)
      if [ -n "$repro" ]; then
        for r in $repro; do
          echo "reproducer: $r"
          echo "  rerun:    $B/fuzz/fuzz_$n $r"
        done
      else
        echo "no reproducer written (see $log)"
      fi
    } >> "$rep"
    touch "$OUT/$n.failed"
    line="$line: FAILED"
  else
    line="$line: ok"
  fi
  echo "$line" > "$OUT/$n.result"
  if [ "${EG_FUZZ_KEEP:-}" = 1 ]; then
    echo "corpus kept: $work/corpus ($(find "$work/corpus" -type f | wc -l) inputs)" >> "$rep"
  else
    rm -rf "$work"
  fi
}

# The fuzzers run side by side, EG_FUZZ_PAR at a time (default: the cores),
# each for SECONDS; their reports follow in the order named.
PAR=${EG_FUZZ_PAR:-$(nproc)}
for n in "${NAMES[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$PAR" ]; do wait -n || true; done
  fuzz_one "$n" &
done
wait
failed=()
summary=()
for n in "${NAMES[@]}"; do
  if [ -e "$OUT/$n.failed" ]; then
    cat "$OUT/$n.report" >&2
    failed+=("$n")
  else
    cat "$OUT/$n.report"
  fi
  summary+=("$(cat "$OUT/$n.result" 2>/dev/null || echo "fuzz_$n: no result (see $OUT/$n.log): FAILED")")
  [ -e "$OUT/$n.result" ] || failed+=("$n")
done

echo "== summary (${SECS}s each; logs in $OUT)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}" >&2
  exit 1
fi
