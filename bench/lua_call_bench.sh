#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The cost of a Lua detection's call and of what it does inside (a
# benchmark, not a test). Each file of bench/lua-calls/ is a detection that
# every connect of a connect-only corpus reaches (filter: datagram = false;
# the corpus's connects are all TCP), doing one thing: nothing (trivial),
# one field read (f_tgid), four (fields), a state get and set (state), a
# cache set of a new key (cset), a cache get that misses (cget), a regex
# test (regex). Prints the engine's ns per event with the reference's rules
# alone and with each detection, and the difference: the cost of one call.
# Pinned to one core, medians of PASSES passes over EVENTS events.
#
#   bench/lua_call_bench.sh [BUILD_DIR] [EVENTS] [PASSES]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
N=${2:-300000}
PASSES=${3:-3}
CORE=${EG_BENCH_CORE:-1}
[ -x "$BUILD/eg_bench_engine" ] || { echo "lua_call_bench: $BUILD/eg_bench_engine missing: build first" >&2; exit 1; }
run() {
	taskset -c "$CORE" "$BUILD/eg_bench_engine" -n "$N" -passes "$PASSES" -mix 0,0 \
		-config bench/rules.reference.yaml "$@" 2>&1 | sed -n 's/.*median \([0-9.]*\) ns.*/\1/p'
}
base=$(run)
printf '%-10s %10s %12s\n' detection ns/event "ns per call"
printf '%-10s %10s %12s\n' none "$base" -
for f in trivial f_tgid fields state cset cget regex; do
	v=$(run -config "bench/lua-calls/$f.lua")
	awk -v f="$f" -v v="$v" -v b="$base" 'BEGIN { printf "%-10s %10s %12.0f\n", f, v, v - b }'
done
