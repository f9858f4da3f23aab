#!/usr/bin/env bash
# Builds with ASan+UBSan into build-asan/ and runs the C tests and a replay
# through it; then runs the C tests and a replay under valgrind (memcheck) on
# the normal build. Exit non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(mktemp -d /tmp/eg-sanitize.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

echo "== ASan/UBSan build"
cmake -B build-asan -DEG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$(nproc)" >/dev/null
# LuaJIT's allocator confuses LeakSanitizer's view of the Lua heap: no leak
# reports for it, but every other ASan/UBSan check stays on.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan -L '^c$' --output-on-failure
# -no-seccomp: the sanitizer runtimes and valgrind make system calls of their
# own (LeakSanitizer's ptrace) that the daemon's filter refuses.
build-asan/ebpf-guard -replay spec/fixtures/cli_replay.jsonl -config spec/fixtures/cli_rules.yaml \
  -alert-file "$OUT/asan.jsonl" -no-seccomp >/dev/null
echo "ASan replay: $(wc -l < "$OUT/asan.jsonl") alerts, clean"
# the stock set over the recorded build workload: the Lua detections, the
# C loop of user calls and its view (src/usercall.c), process exits
gzip -dc tests/noise/workload.jsonl.gz > "$OUT/workload.jsonl"
build-asan/ebpf-guard -replay "$OUT/workload.jsonl" -config rules/ \
  -alert-file "$OUT/asan-stock.jsonl" -no-seccomp >/dev/null
echo "ASan replay, stock set: $(wc -l < "$OUT/workload.jsonl") events, $(wc -l < "$OUT/asan-stock.jsonl") alerts, clean"

echo "== valgrind memcheck"
# Under ctest EG_BUILD_DIR names the build being tested; alone, build it.
B=${EG_BUILD_DIR:-build}
if [ -z "${EG_BUILD_DIR:-}" ]; then
  cmake -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$B" -j"$(nproc)" >/dev/null
fi
# The memcheck runs are independent: $(nproc) at a time, the stock replay
# (the longest) first. Each one's valgrind report goes to its own log,
# printed when it fails.
VG=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite)
FAILED=0
vg_job() { # vg_job NAME COMMAND...: in the background, NAME's log and status in $OUT
  local name=$1
  shift
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n || true; done
  ( rc=0; "$@" >/dev/null 2>"$OUT/vg-$name.log" || rc=$?; echo "$rc" > "$OUT/vg-$name.rc" ) &
}
vg_report() { # vg_report NAME TEXT: TEXT when NAME passed, else its log
  if [ "$(cat "$OUT/vg-$1.rc")" = 0 ]; then
    echo "valgrind: $2"
  else
    echo "valgrind: $1 FAILED (exit $(cat "$OUT/vg-$1.rc")):"
    cat "$OUT/vg-$1.log"
    FAILED=1
  fi
}
head -n 20000 "$OUT/workload.jsonl" > "$OUT/workload-head.jsonl"
# PCRE2's JIT reads subjects in SIMD chunks past their end (valgrind flags
# those reads): the replays run with PCRE2's interpreter here.
vg_job stock env EBPF_GUARD_NO_PCRE2_JIT=1 "${VG[@]}" "$B"/ebpf-guard -replay "$OUT/workload-head.jsonl" \
  -config rules/ -alert-file "$OUT/vg-stock.jsonl" -no-seccomp
vg_job replay env EBPF_GUARD_NO_PCRE2_JIT=1 "${VG[@]}" "$B"/ebpf-guard -replay spec/fixtures/cli_replay.jsonl \
  -config spec/fixtures/cli_rules.yaml -alert-file "$OUT/vg.jsonl" -no-seccomp
tests=()
for t in "$B"/test_*; do
  [ -x "$t" ] || continue
  tests+=("$(basename "$t")")
  vg_job "${tests[-1]}" "${VG[@]}" "$t"
done
wait
for t in "${tests[@]}"; do vg_report "$t" "$t clean"; done
vg_report replay "replay: $(wc -l < "$OUT/vg.jsonl" 2>/dev/null || echo 0) alerts, clean"
vg_report stock "replay, stock set: 20,000 events, $(wc -l < "$OUT/vg-stock.jsonl" 2>/dev/null || echo 0) alerts, clean"
[ "$FAILED" = 0 ] || { echo "valgrind found errors (above)"; exit 1; }
