# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Checks of an installed tree, shared by tests/integration/test_install.sh
# (cmake --install) and tests/package/test_deb.sh (the .deb, unpacked with
# dpkg -x). Sourced, not run; the caller defines fail() and $W.
#
#   check_installed_run <bin> <rules dir> <rules.d dir>
#       -version as the build's; -validate of the installed rules as the
#       build's of rules/; a replay of spec/fixtures/reference.jsonl raising
#       the build's alerts; `<bin> test` of a spec (written here) that loads
#       the installed module and library and fires a stock rule; the
#       one-line message when lyaml is missing
#   check_completion <completion file> <bin> <rules dir>
#       the completion function, called with COMP_WORDS (its replies sorted,
#       '|'-separated), without and (when installed) with the bash-completion
#       package

check_installed_run() {
	local bin=$1 rules=$2 rulesd=$3 root
	root=$(cd "$(dirname "$bin")/.." && pwd)
	[ "$("$bin" -version)" = "$("$EG_BIN" -version)" ] || fail "-version: $("$bin" -version)"
	local want got
	want=$("$EG_BIN" -validate -config "$EG_SOURCE_DIR/rules" 2>&1)
	got=$("$bin" -validate -config "$rules" -config "$rulesd" -strict-perms 2>&1) ||
		fail "-validate of the installed rules: $got"
	[ "$got" = "$want" ] || fail "-validate: '$got', want '$want'"
	echo "installed: $got"

	"$EG_BIN" -replay "$EG_SOURCE_DIR/spec/fixtures/reference.jsonl" -config "$EG_SOURCE_DIR/rules" \
		-alert-file "$W/want.jsonl" -prom-addr '' >/dev/null 2>"$W/replay.err" || fail "build replay"
	"$bin" -replay "$EG_SOURCE_DIR/spec/fixtures/reference.jsonl" -config "$rules" -config "$rulesd" \
		-alert-file "$W/got.jsonl" -prom-addr '' >/dev/null 2>"$W/replay.err" ||
		fail "installed replay: $(cat "$W/replay.err")"
	[ -s "$W/got.jsonl" ] || fail "the installed replay raised no alert"
	cmp -s "$W/want.jsonl" "$W/got.jsonl" || fail "the installed replay's alerts differ from the build's"
	echo "installed replay: $(wc -l <"$W/got.jsonl") alerts, as the build's"

	# a missing lyaml: one line naming the Debian package
	local rc=0 err
	err=$(LUA_PATH="$W/none/?.lua" LUA_CPATH="$W/none/?.so" "$bin" -validate -config "$rules" 2>&1) || rc=$?
	[ "$rc" = 1 ] || fail "without lyaml: exit $rc, want 1"
	[ "$err" = "ebpf-guard: $rules/00-macros.yaml: cannot read YAML: the Lua module lyaml is missing (install the Debian package lua-yaml): module 'lyaml' not found" ] ||
		fail "without lyaml: '$err'"

	if ! command -v luajit >/dev/null || ! command -v busted >/dev/null; then
		skip "luajit or busted not installed: ebpf-guard test not checked"
	fi
	mkdir -p "$W/userspec"
	cat >"$W/userspec/installed_spec.lua" <<'LUA'
local T = require("ebpf_guard.testing")
local root, rules = os.getenv("EG_T_ROOT"), os.getenv("EG_T_RULES")

describe("the installed ebpf_guard.testing", function()
  it("is the installed module, with the installed engine library", function()
    local mod = package.searchpath("ebpf_guard.testing", package.path)
    assert.equals(root, mod:sub(1, #root))
    assert.truthy(T.lib_path:match("/libebpf%-guard%-engine%.so$"))
    local f = assert(io.popen("realpath '" .. T.lib_path .. "'"))
    local real = f:read("*l")
    f:close()
    assert.equals(root, real:sub(1, #root))
    -- the installed libebpf-guard-memguard.so, preloaded: -lua-memory holds
    assert.is_true(T.memory_guard)
  end)

  it("runs the installed stock rules", function()
    assert.fires_on({ rules = rules }, "builtin_fileless_exec",
      { type = "exec", filename = "/dev/shm/.x" })
    assert.not_fires_on({ rules = rules }, "builtin_fileless_exec",
      { type = "exec", filename = "/usr/bin/ls" })
  end)
end)
LUA
	local out
	out=$(cd "$W/userspec" && env -u EG_ENGINE_LIB EG_T_ROOT="$root" EG_T_RULES="$rules" \
		"$bin" test -o utfTerminal installed_spec.lua 2>&1) || fail "ebpf-guard test: $out"
	echo "$out" | grep -q '^2 successes / 0 failures / 0 errors / 0 pending' ||
		fail "ebpf-guard test: $out"
	echo "installed: ebpf-guard test: 2 successes"
	# the examples' specs shipped with the docs, from the doc directory
	out=$(cd "$root/share/doc/ebpf-guard" && env -u EG_ENGINE_LIB "$bin" test -o utfTerminal spec/examples 2>&1) ||
		fail "ebpf-guard test spec/examples in the doc directory: $out"
	echo "$out" | grep -q '^[1-9][0-9]* successes / 0 failures / 0 errors' || fail "spec/examples: $out"
}

check_completion() {
	local file=$1 bin=$2 rules=$3 mode
	mkdir -p "$W/comp/sub" "$W/comp/spec"
	touch "$W/comp/a.yaml" "$W/comp/b.lua" "$W/comp/c.txt" "$W/comp/r.jsonl" "$W/comp/d e.yml"
	for mode in plain bash-completion; do
		local pre=
		if [ $mode = bash-completion ]; then
			[ -r /usr/share/bash-completion/bash_completion ] || continue
			pre='. /usr/share/bash-completion/bash_completion'
		fi
		# shellcheck disable=SC2016
		local got
		got=$(cd "$W/comp" && bash -c '
			'"$pre"'
			. "$1"; bin=$2; rules=$3
			c() {
				# the line as typed: "-flag=value" has no blanks around "="
				local w p= line=$bin
				for w; do
					if [[ $w == = || $p == = ]]; then line+=$w; else line+=" $w"; fi
					p=$w
				done
				COMP_WORDS=("$bin" "$@"); COMP_CWORD=$#; COMP_LINE=$line
				COMP_POINT=${#COMP_LINE}; COMPREPLY=()
				_ebpf_guard
				printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" "|"; echo
			}
			c -str
			c --record-t
			c -config ""
			c -config = a
			c -replay ""
			c -record-types exec,op
			c -config "$rules" -disable-rule builtin_c
			c -config "$rules" -disable-tag T1620
			c -lua-budget ""
			c te
			c test sp
			c -v "" | tr "|" "\n" | grep -c .
			"$bin" -help | grep -c "^  -[a-z]"
			complete -p ebpf-guard
		' _ "$file" "$bin" "$rules")
		local want nflags
		nflags=$("$bin" -help | grep -c "^  -[a-z]")
		want="-strict-perms|
--record-types|
a.yaml|b.lua|d e.yml|spec|sub|
a.yaml|
-|r.jsonl|spec|sub|
exec,open|
builtin_crypto_exec|builtin_crypto_port|
T1620|
|
test|
spec|
$nflags
$nflags
complete -F _ebpf_guard ebpf-guard"
		[ "$got" = "$want" ] || fail "completion ($mode): got
$got
want
$want"
		echo "completion ($mode): OK"
	done
}
