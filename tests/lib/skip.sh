# SPDX-License-Identifier: MIT
# The one way a shell test may skip. Sourced by tests/*/…_lib.sh (and by tests
# that source neither). Needs EG_NAME (the test's name) set by the caller.
#
#   skip <reason>   prints "SKIP (<test>): <reason>" and exits 77 (ctest shows
#                   the test as skipped). With CI=true a skip is a failure
#                   (exit 1) unless "<kind>/<test>" is listed in
#                   tests/skip-allowlist.txt: in CI every test must run.

EG_SKIP_ALLOWLIST=${EG_SKIP_ALLOWLIST:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/skip-allowlist.txt}

# eg_test_id: "<kind>/<name>" of the running test, e.g. "e2e/test_exec".
eg_test_id() {
	local dir
	dir=$(basename "$(cd "$(dirname "$0")" && pwd)")
	echo "$dir/$(basename "$0" .sh)"
}

skip() {
	local id
	id=$(eg_test_id)
	if [ "${CI:-}" = true ] &&
		! grep -v '^[[:space:]]*#' "$EG_SKIP_ALLOWLIST" 2>/dev/null | grep -qxF "$id"; then
		echo "FAIL ($id): would skip, but CI=true and it is not on tests/skip-allowlist.txt: $*" >&2
		exit 1
	fi
	echo "SKIP ($id): $*"
	exit 77
}
