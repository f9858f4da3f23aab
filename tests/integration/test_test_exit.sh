#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The exit status of `ebpf-guard test` (docs/testing.md): 0 when every spec
# passes, 1 when one fails, and never a crash. A failing spec that had
# loaded the engine's modules used to end in a segmentation fault (139) at
# exit: LuaJIT unloaded the PCRE2 and engine libraries before it ran the
# finalizers that free their objects (lua/ebpf_guard/regex.lua, testing.lua).
. "$(dirname "$0")/daemon_lib.sh"
eg_init 60

mkdir -p "$W/spec"
# the engine's own modules, without the testing module (which loads the
# engine library, and PCRE2 with it, for good)
cat >"$W/spec/regex_spec.lua" <<'EOF2'
local regex = require("ebpf_guard.regex")
describe("a spec", function()
  it("passes or fails as told", function()
    assert.equals("expected", os.getenv("EG_SPEC_VALUE"))
  end)
end)
EOF2
run() {
	rc=0
	(cd "$W" && EG_SPEC_VALUE=$1 "$EG_BIN" test spec) >"$W/out" 2>&1 || rc=$?
}
for i in 1 2 3; do
	run expected
	[ "$rc" = 0 ] || fail "a passing spec exited $rc: $(tail -n 5 "$W/out")"
	grep -q '^1 success / 0 failures / 0 errors' "$W/out" || fail "passing spec: $(tail -n 3 "$W/out")"
	run other
	[ "$rc" = 1 ] || fail "a failing spec exited $rc, want 1: $(tail -n 3 "$W/out")"
	grep -q '^0 successes / 1 failure / 0 errors' "$W/out" || fail "failing spec: $(tail -n 3 "$W/out")"
done
echo "PASS ($EG_NAME): ebpf-guard test exits 0 and 1, no crash at exit"
