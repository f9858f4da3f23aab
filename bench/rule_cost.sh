#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What each file of a rule directory costs the engine (a benchmark, not a
# test): eg_bench_engine's synthetic corpus run with the directory's
# macros and lists files (names starting 00-) plus one file at a time, and
# with the whole directory; per file, ns/event above the macros alone.
# Files are not independent (each alone also pays the loops and indexes it
# would share with the others), so the column does not add up to the whole.
# A Lua detection file's figure includes its calls (-calls in eg_bench_engine
# counts them per rule). -w RECORDING runs a recording (replay JSONL, .gz
# or not: what `ebpf-guard -record` writes on your hosts) instead of the
# synthetic corpus: the cost on the events a host really sees, whose
# repeats the synthetic corpus lacks (-n and -m are then ignored). A
# recording's figures come after warm-up passes over ~1.5 M events in all
# (at most 20 passes): the JIT compiles a recording's rarer paths over its
# first passes, which a daemon pays once (eg_bench_engine -warmup).
#
#   bench/rule_cost.sh [-b BUILD_DIR] [-n EVENTS] [-p PASSES] [-m OPEN,EXEC] [-w RECORDING] [DIR]
#   (default: build, 300000, 3, the corpus's 70,25 mix, rules/)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build N=300000 PASSES=3 MIX=70,25 REC=
usage() { echo "usage: $0 [-b BUILD_DIR] [-n EVENTS] [-p PASSES] [-m OPEN,EXEC] [-w RECORDING] [DIR]" >&2; exit 2; }
while getopts "b:n:p:m:w:" opt; do
	case $opt in
	b) BUILD=$OPTARG ;;
	n) N=$OPTARG ;;
	p) PASSES=$OPTARG ;;
	m) MIX=$OPTARG ;;
	w) REC=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
DIR=${1:-rules}
BENCH=$BUILD/eg_bench_engine
[ -x "$BENCH" ] || { echo "rule_cost: $BENCH missing: build first (cmake --build $BUILD)" >&2; exit 1; }
[ -d "$DIR" ] || { echo "rule_cost: $DIR is not a directory" >&2; exit 1; }
CORE=${EG_BENCH_CORE:-1}
W=$(mktemp -d /tmp/eg-rulecost.XXXXXX)
trap 'rm -rf "$W"' EXIT
CORPUS=(-n "$N" -mix "$MIX")
if [ -n "$REC" ]; then
	[ -r "$REC" ] || { echo "rule_cost: cannot read $REC" >&2; exit 1; }
	case $REC in
	*.gz) gzip -dc "$REC" > "$W/rec.jsonl" || { echo "rule_cost: $REC: not gzip" >&2; exit 1; } ;;
	*) cp "$REC" "$W/rec.jsonl" ;;
	esac
	CORPUS=(-corpus "$W/rec.jsonl")
	nrec=$(grep -c . "$W/rec.jsonl" || true)
	if [ "$nrec" -gt 0 ]; then
		WARM=$(( (1500000 + nrec - 1) / nrec ))
		[ "$WARM" -le 20 ] || WARM=20
		CORPUS+=(-warmup "$WARM")
	fi
fi

# ns/event of the engine with config directory $1 (empty when it failed;
# its output is then in $W/out)
run() {
	taskset -c "$CORE" "$BENCH" "${CORPUS[@]}" -passes "$PASSES" -config "$1" >"$W/out" 2>&1 || true
	sed -n 's/^engine: median \([0-9.]*\) ns\/event.*/\1/p' "$W/out"
}
# stops with the engine's own message
failed() {
	echo "rule_cost: the engine failed with $1:" >&2
	# (a bad line of the recording: named by the file given)
	grep -v '^engine: [0-9]* events' "$W/out" | sed "s|^$W/rec.jsonl:|${REC:-}:|" | head -5 >&2
	exit 1
}

shopt -s nullglob
base=("$DIR"/00-*)
mkdir -p "$W/base"
for f in "${base[@]}"; do cp "$f" "$W/base/"; done
# an empty directory is no configuration: give the base a file
[ ${#base[@]} -gt 0 ] || printf 'rules: []\n' > "$W/base/00-empty.yaml"
b=$(run "$W/base")
[ -n "$b" ] || failed "the 00- files"
label="base: ${base[*]##*/}"
[ ${#base[@]} -gt 0 ] || label="base: no 00- files"
if [ -n "$REC" ]; then
	what="the recording $REC ($nrec events), $PASSES passes after $WARM warm-up passes"
else
	what="$N events, mix $MIX (open,exec%), $PASSES passes"
fi
echo "machine: $(nproc) cores, kernel $(uname -r); $what, CPU $CORE"
printf '%-34s %10s %10s\n' "file" "ns/event" "+ns/event"
printf '%-34s %10s %10s\n' "($label)" "$b" "-"
for f in "$DIR"/*; do
	name=${f##*/}
	case $name in 00-*) continue ;; esac
	[ -f "$f" ] || continue
	rm -rf "$W/one"
	cp -r "$W/base" "$W/one"
	cp "$f" "$W/one/"
	t=$(run "$W/one")
	[ -n "$t" ] || failed "$name"
	printf '%-34s %10s %10s\n' "$name" "$t" "$(python3 -c "print(f'{$t - $b:.1f}')")"
done
all=$(run "$DIR")
[ -n "$all" ] || failed "all of $DIR"
printf '%-34s %10s %10s\n' "(all of $DIR)" "$all" "$(python3 -c "print(f'{$all - $b:.1f}')")"
