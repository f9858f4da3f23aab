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
for t in "$B"/test_*; do
  [ -x "$t" ] || continue
  valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite "$t" >/dev/null
  echo "valgrind: $(basename "$t") clean"
done
# PCRE2's JIT reads subjects in SIMD chunks past their end (valgrind flags
# those reads): the replay runs with PCRE2's interpreter here.
EBPF_GUARD_NO_PCRE2_JIT=1 valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
  "$B"/ebpf-guard -replay spec/fixtures/cli_replay.jsonl -config spec/fixtures/cli_rules.yaml \
  -alert-file "$OUT/vg.jsonl" -no-seccomp >/dev/null
echo "valgrind replay: $(wc -l < "$OUT/vg.jsonl") alerts, clean"
head -n 20000 "$OUT/workload.jsonl" > "$OUT/workload-head.jsonl"
EBPF_GUARD_NO_PCRE2_JIT=1 valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
  "$B"/ebpf-guard -replay "$OUT/workload-head.jsonl" -config rules/ \
  -alert-file "$OUT/vg-stock.jsonl" -no-seccomp >/dev/null
echo "valgrind replay, stock set: 20,000 events, $(wc -l < "$OUT/vg-stock.jsonl") alerts, clean"
