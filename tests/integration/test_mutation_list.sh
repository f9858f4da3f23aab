#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The curated mutation list (tests/mutation/mutations.txt) cannot go stale
# silently: it is well-formed, holds at least 30 mutations, every mutation's
# original text occurs exactly once in its file, and every mutation's test
# selection names at least one ctest test. (The mutation run itself,
# tests/mutation/run.sh, is too slow for ctest.)
set -euo pipefail
EG_NAME=test_mutation_list
. "$(dirname "$0")/../lib/skip.sh"
SRC=${EG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v python3 >/dev/null || skip "python3 not installed"

args=(validate "$SRC/tests/mutation/mutations.txt" "$SRC")
# the selections are checked against the build's test list when there is one
if [ -n "${EG_BUILD_DIR:-}" ] && [ -f "$EG_BUILD_DIR/CTestTestfile.cmake" ]; then
	args+=("$EG_BUILD_DIR")
fi
rc=0
out=$(python3 "$SRC/tests/mutation/mutlist.py" "${args[@]}" --min 30 2>&1) || rc=$?
printf '%s\n' "$out"
if [ "$rc" != 0 ]; then
	echo "FAIL ($EG_NAME): the mutation list is stale or malformed: update tests/mutation/mutations.txt" \
		"for the code it now mutates (docs/development.md, Mutation testing)" >&2
	exit 1
fi
echo "ok ($EG_NAME)"
