#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the ctest suite N times and reports every test that did not pass every
# time (failed, timed out or skipped in some run), with its pass count.
#
#   tests/flaky.sh [-n N] [-b BUILD_DIR] [ctest args...]
#   tests/flaky.sh -n 10 -L 'integration|e2e'
#
# Exit 0 when every test passed in every run, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
N=5
B=build
while [ $# -gt 0 ]; do
	case $1 in
	-n) N=$2; shift 2 ;;
	-b) B=$2; shift 2 ;;
	-h | --help) sed -n '3,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) break ;;
	esac
done
[ -d "$B" ] || { echo "flaky.sh: no build directory '$B' (cmake -B $B first)" >&2; exit 2; }
LOG=$(mktemp -d "${TMPDIR:-/tmp}/eg-flaky.XXXXXX")
trap 'rm -rf "$LOG"' EXIT
for i in $(seq "$N"); do
	ctest --test-dir "$B" --output-on-failure "$@" >"$LOG/run$i.txt" 2>&1 || true
	printf 'run %d/%d: %s\n' "$i" "$N" "$(grep -E '^[0-9]+% tests passed' "$LOG/run$i.txt" || echo 'no summary')"
done
# "  3/24 Test  #3: c/test_json .......   Passed    0.01 sec"
python3 - "$N" "$LOG" <<'PY'
import collections, glob, re, sys
n, logdir = int(sys.argv[1]), sys.argv[2]
runs = collections.defaultdict(list)
for path in sorted(glob.glob(logdir + "/run*.txt")):
    for line in open(path, errors="replace"):
        m = re.match(r"\s*\d+/\d+ Test\s+#\d+: (\S+) \.*\s*(\*\*\*)?(\w[\w ]*?)\s+[\d.]+ sec", line)
        if m:
            runs[m.group(1)].append(m.group(3).strip())
bad = {t: r for t, r in runs.items() if len(r) != n or any(x != "Passed" for x in r)}
for t in sorted(bad):
    r = bad[t]
    others = collections.Counter(x for x in r if x != "Passed")
    print(f"FLAKY {t}: passed {r.count('Passed')}/{n}" + "".join(f", {k} {v}" for k, v in others.items()))
print(f"{len(runs)} tests, {n} runs: {len(bad)} not passing every time")
sys.exit(1 if bad or not runs else 0)
PY
