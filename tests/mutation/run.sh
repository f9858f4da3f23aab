#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Mutation testing: applies each curated mutation of tests/mutation/mutations.txt
# to a scratch copy of the working tree, rebuilds incrementally, runs only the
# tests the mutation names, and reports whether they caught it.
#
#   tests/mutation/run.sh [options] [ID...]
#
#   ID...              run only these mutations (default: all, in list order)
#   --list             print the mutations and exit
#   --rev REV          copy the committed tree of REV (git archive) instead of
#                      the working tree: a consistent snapshot while others
#                      edit the working tree
#   --keep             keep the scratch directory (copy, build, logs) at exit
#   --timeout S        default bound on one mutation's test run (default 300;
#                      a mutation's own "timeout =" wins)
#   --no-baseline      skip the run of the selected tests on the unmutated
#                      copy (a test failing there is left out of every
#                      mutation's run, since it would "catch" anything)
#   --list-file FILE   this mutation list (default: the copy's own
#                      tests/mutation/mutations.txt)
#   -h, --help
#
# Environment: TMPDIR (where the scratch copy goes), EG_MUT_JOBS (build
# parallelism, default 2), EG_MUT_CMAKE_ARGS (extra cmake -D... arguments).
#
# Verdicts: CAUGHT (a selected test failed or timed out), MISSED (all
# passed, or were skipped), INVALID (the mutated tree does not build: fix the
# entry), STALE (the original text is not found exactly once: update the
# entry). Exits 0 only when every mutation run is CAUGHT.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LIST=$HERE/mutations.txt
MUT=$HERE/mutlist.py
KEEP=0
BASELINE=1
DEF_TIMEOUT=300
JOBS=${EG_MUT_JOBS:-2}
REV=
LIST_GIVEN=0
IDS=()

usage() { sed -n '3,30p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
	case $1 in
	--list) python3 "$MUT" show "$LIST"; exit $? ;;
	--keep) KEEP=1 ;;
	--no-baseline) BASELINE=0 ;;
	--timeout) DEF_TIMEOUT=${2:?--timeout needs seconds}; shift ;;
	--timeout=*) DEF_TIMEOUT=${1#*=} ;;
	--rev) REV=${2:?--rev needs a revision}; shift ;;
	--rev=*) REV=${1#*=} ;;
	--list-file) LIST=${2:?--list-file needs a path}; LIST_GIVEN=1; shift ;;
	--list-file=*) LIST=${1#*=}; LIST_GIVEN=1 ;;
	-h | --help) usage; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	*) IDS+=("$1") ;;
	esac
	shift
done
[ -f "$LIST" ] || { echo "run.sh: no list file $LIST" >&2; exit 2; }
LIST=$(cd "$(dirname "$LIST")" && pwd)/$(basename "$LIST")
# the ids must exist in the list given (the snapshot's is checked again below)
python3 "$MUT" ids "$LIST" "${IDS[@]}" >/dev/null || exit 2

T0=$(date +%s)
SCR=$(mktemp -d "${TMPDIR:-/tmp}/eg-mutation.XXXXXX") || exit 2
SRC=$SCR/src
# the build inside the copy, as in a checkout: `ebpf-guard test` finds the
# engine's Lua sources at build/../lua (busted/unit could not run otherwise)
BLD=$SRC/build
LOGS=$SCR/logs
CUR= # the mutation applied right now, reverted on exit

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$CUR" ]; then
		python3 "$MUT" revert "$LIST" "$CUR" "$SRC" "$SCR/backup" 2>/dev/null || true
	fi
	if [ "$KEEP" = 1 ]; then
		echo "scratch kept: $SCR (logs in $LOGS)"
	else
		rm -rf -- "$SCR"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

mkdir -p "$SRC" "$LOGS"
say() { printf '%s\n' "$*"; }
elapsed() { echo $(($(date +%s) - $1)); }

# ---- one scratch copy, one full build ---------------------------------------
if [ -n "$REV" ]; then
	say "copying $(git -C "$ROOT" rev-parse --short "$REV" 2>/dev/null || echo "$REV") of $ROOT (git archive) to $SRC"
	# (tar.umask: git archive writes group-writable modes by default, which
	# the daemon warns about: the specs that compare its messages would fail)
	git -C "$ROOT" -c tar.umask=0022 archive --format=tar "$REV" | tar -C "$SRC" -xf - ||
		{ echo "run.sh: git archive $REV failed" >&2; exit 2; }
else
	say "copying the working tree $ROOT (without .git and build*) to $SRC"
	tar -C "$ROOT" --anchored --exclude=./.git --exclude='./build*' -cf - . | tar -C "$SRC" -xf - ||
		{ echo "run.sh: copying the tree failed" >&2; exit 2; }
fi
# The list is frozen with the tree: the default list is the copy's own (the
# entries written for that code), a --list-file is copied.
if [ "$LIST_GIVEN" = 0 ] && [ -f "$SRC/tests/mutation/mutations.txt" ]; then
	LIST=$SRC/tests/mutation/mutations.txt
else
	cp "$LIST" "$SCR/mutations.txt" && LIST=$SCR/mutations.txt
fi
ids=$(python3 "$MUT" ids "$LIST" "${IDS[@]}") || exit 2
mapfile -t SEL <<<"$ids"
[ ${#SEL[@]} -gt 0 ] || { echo "run.sh: no mutations selected" >&2; exit 2; }
say "${#SEL[@]} mutations from ${LIST#"$SCR"/}"

t=$(date +%s)
say "configuring and building in $BLD (-j$JOBS)"
# shellcheck disable=SC2086
if ! cmake -S "$SRC" -B "$BLD" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${EG_MUT_CMAKE_ARGS:-} >"$LOGS/configure.log" 2>&1 ||
	! cmake --build "$BLD" -j"$JOBS" >"$LOGS/build.log" 2>&1; then
	echo "run.sh: the unmutated tree does not build:" >&2
	tail -n 30 "$LOGS/configure.log" "$LOGS/build.log" 2>/dev/null >&2
	exit 2
fi
say "built in $(elapsed "$t") s"

# ---- baseline: the selected tests must pass on the unmutated copy ----------
EXCL=$SCR/excluded.txt
: >"$EXCL"
if [ "$BASELINE" = 1 ]; then
	mapfile -t UNION < <(python3 "$MUT" union "$LIST" "$BLD" "${SEL[@]}")
	if [ ${#UNION[@]} -gt 0 ]; then
		t=$(date +%s)
		rx="^($(printf '%s\n' "${UNION[@]}" | sed 's/[][\.*^$+?(){}|]/\\&/g' | paste -sd'|'))\$"
		say "baseline: ${#UNION[@]} tests on the unmutated copy"
		timeout -k 10 1800 ctest --test-dir "$BLD" -R "$rx" --output-on-failure --no-tests=error \
			>"$LOGS/baseline.log" 2>&1
		python3 "$MUT" failed "$LOGS/baseline.log" >"$SCR/baseline.txt"
		sed -n 's/^failed //p' "$SCR/baseline.txt" >"$EXCL"
		sk=$(sed -n 's/^skipped //p' "$SCR/baseline.txt" | paste -sd' ')
		say "baseline done in $(elapsed "$t") s${sk:+; skipped: $sk}"
		if [ -s "$EXCL" ]; then
			say "WARNING: failing on the unmutated tree, left out of every mutation's run:"
			sed 's/^/  /' "$EXCL"
		fi
	fi
fi

# ---- the mutations -----------------------------------------------------------
declare -A RES DET SECS
ncaught=0 nmissed=0 nbad=0
for id in "${SEL[@]}"; do
	t=$(date +%s)
	log=$LOGS/$id.log
	n=$(python3 "$MUT" count "$LIST" "$id" "$SRC")
	if [ "$n" != 1 ]; then
		RES[$id]=STALE
		DET[$id]="original text found $([ "$n" -lt 0 ] && echo "0 times (no such file)" || echo "$n times")"
		nbad=$((nbad + 1))
	elif ! rx=$(python3 "$MUT" tests "$LIST" "$BLD" "$id" "$EXCL"); then
		RES[$id]=INVALID
		DET[$id]="its tests select nothing (or only baseline failures)"
		nbad=$((nbad + 1))
	else
		python3 "$MUT" apply "$LIST" "$id" "$SRC" "$SCR/backup" || exit 2
		CUR=$id
		if ! timeout -k 10 1800 cmake --build "$BLD" -j"$JOBS" >"$log" 2>&1; then
			RES[$id]=INVALID
			DET[$id]="does not build: $(grep -m1 -E 'error' "$log" | sed "s|$SRC/||" | cut -c1-90)"
			nbad=$((nbad + 1))
		else
			to=$(python3 "$MUT" timeout "$LIST" "$id" "$DEF_TIMEOUT")
			rc=0
			timeout -k 10 "$to" ctest --test-dir "$BLD" -R "$rx" --output-on-failure --no-tests=error \
				>>"$log" 2>&1 || rc=$?
			failed=$(python3 "$MUT" failed "$log" | sed -n 's/^failed //p' | paste -sd' ')
			skipped=$(python3 "$MUT" failed "$log" | sed -n 's/^skipped //p' | paste -sd' ')
			if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
				RES[$id]=CAUGHT
				DET[$id]="tests timed out after ${to}s${failed:+ ($failed)}"
				ncaught=$((ncaught + 1))
			elif [ "$rc" != 0 ]; then
				RES[$id]=CAUGHT
				DET[$id]=${failed:-"ctest exited $rc"}
				# caught, but by the load failing rather than by a check
				grep -q 'failed to load BPF programs' "$log" &&
					DET[$id]="${DET[$id]} (the BPF load failed: verifier)"
				ncaught=$((ncaught + 1))
			else
				RES[$id]=MISSED
				DET[$id]="passed: $(grep -c ' Passed ' "$log") test(s)${skipped:+, skipped: $skipped}"
				nmissed=$((nmissed + 1))
			fi
		fi
		python3 "$MUT" revert "$LIST" "$id" "$SRC" "$SCR/backup" || exit 2
		CUR=
	fi
	SECS[$id]=$(elapsed "$t")
	printf '%-34s %-7s %4ss  %s\n' "$id" "${RES[$id]}" "${SECS[$id]}" "${DET[$id]}"
done

# ---- report ------------------------------------------------------------------
say ""
say "| mutation | result | time | detail |"
say "|---|---|---|---|"
for id in "${SEL[@]}"; do
	say "| $id | ${RES[$id]} | ${SECS[$id]} s | ${DET[$id]//|/\\|} |"
done
say ""
if [ -s "$EXCL" ]; then
	say "left out (failing on the unmutated tree): $(paste -sd' ' "$EXCL")"
fi
say "total time: $(elapsed "$T0") s"
say "mutations: $ncaught caught, $nmissed missed, $nbad stale/invalid"
[ "$ncaught" = "${#SEL[@]}" ]
