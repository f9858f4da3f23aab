#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `cmake --install` (docs/operations.md, "Install"): the layout under a
# prefix; the installed tree, moved elsewhere after the install, still works
# (tests/lib/install_checks.sh: -version, -validate and a replay with the
# installed rules, `ebpf-guard test` with the installed module and engine
# library, the one-line lyaml message); its error messages when the module
# or the library is gone; the man page documents every flag of -help and
# renders without warnings; the bash completion.
set -euo pipefail
: "${EG_BIN:?EG_BIN must point at the ebpf-guard binary}"
: "${EG_BUILD_DIR:?EG_BUILD_DIR must point at the build tree}"
EG_SOURCE_DIR=${EG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
EG_NAME=$(basename "$0" .sh)
if [ -z "${EG_UNDER_TIMEOUT:-}" ]; then
	EG_UNDER_TIMEOUT=1 exec timeout -k 5 120 bash "$0"
fi
. "$EG_SOURCE_DIR/tests/lib/skip.sh"
. "$EG_SOURCE_DIR/tests/lib/install_checks.sh"
W=$(mktemp -d "${TMPDIR:-/tmp}/eg-$EG_NAME.XXXXXX")
trap 'rm -rf "$W"' EXIT
trap 'echo "FAIL ($EG_NAME): timed out or interrupted" >&2; exit 124' TERM INT
fail() {
	echo "FAIL ($EG_NAME): $*" >&2
	exit 1
}
chmod 0755 "$W"

cache() { sed -n "s/^$1:[A-Z]*=//p" "$EG_BUILD_DIR/CMakeCache.txt"; }
libdir=$(cache CMAKE_INSTALL_LIBDIR)
prefix=$(cache CMAKE_INSTALL_PREFIX)
cmake --install "$EG_BUILD_DIR" --prefix "$W/prefix" >"$W/install.log" || fail "cmake --install: $(tail -3 "$W/install.log")"

# the layout
want="bin/ebpf-guard
$libdir/ebpf-guard/libebpf-guard-engine.so
$libdir/ebpf-guard/libebpf-guard-memguard.so
share/ebpf-guard/lua/ebpf_guard/testing.lua
lib/systemd/system/ebpf-guard.service
share/man/man1/ebpf-guard.1
share/bash-completion/completions/ebpf-guard
share/doc/ebpf-guard/README.md
share/doc/ebpf-guard/operations.md
share/doc/ebpf-guard/testing.md
share/doc/ebpf-guard/examples/shell_then_connect.lua
share/doc/ebpf-guard/spec/examples/shell_then_connect_spec.lua
share/doc/ebpf-guard/spec/fixtures/shell_then_connect.jsonl"
[ -f "$EG_SOURCE_DIR/packaging/ebpf-guard.yaml" ] && want="$want
etc/ebpf-guard/ebpf-guard.yaml"
# every stock rule file
want="$want
$(cd "$EG_SOURCE_DIR" && ls rules/*.yaml rules/*.lua | sed 's|^|etc/ebpf-guard/|')"
while IFS= read -r f; do
	[ -f "$W/prefix/$f" ] || fail "not installed: <prefix>/$f"
done <<<"$want"
[ -x "$W/prefix/bin/ebpf-guard" ] || fail "<prefix>/bin/ebpf-guard is not executable"
[ -d "$W/prefix/etc/ebpf-guard/rules.d" ] && [ -z "$(ls -A "$W/prefix/etc/ebpf-guard/rules.d")" ] ||
	fail "<prefix>/etc/ebpf-guard/rules.d: not an empty directory"
# the unit names the configured prefix's binary and rules (not the --prefix
# given at install time)
sysconf=$prefix/etc
[ "$prefix" = /usr ] && sysconf=/etc
unit=$W/prefix/lib/systemd/system/ebpf-guard.service
if [ -f "$EG_SOURCE_DIR/packaging/ebpf-guard.yaml" ]; then
	# the settings file, its paths moved under the prefix's sysconf
	settings=$W/prefix/etc/ebpf-guard/ebpf-guard.yaml
	grep -qxF "ExecStart=$prefix/bin/ebpf-guard -config-file $sysconf/ebpf-guard/ebpf-guard.yaml" "$unit" ||
		fail "unit: $(grep ExecStart= "$unit")"
	grep -qxF "  - $sysconf/ebpf-guard/rules" "$settings" && grep -qxF "  - $sysconf/ebpf-guard/rules.d" "$settings" ||
		fail "settings: config is not $sysconf/ebpf-guard/rules, rules.d: $(grep -A2 '^config:' "$settings")"
else
	grep -qxF "ExecStart=$prefix/bin/ebpf-guard -config $sysconf/ebpf-guard/rules -config $sysconf/ebpf-guard/rules.d \\" "$unit" ||
		fail "unit: $(grep ExecStart= "$unit")"
fi
grep -qxF "Type=notify" "$unit" || fail "unit: not Type=notify"
grep -qxF "Documentation=man:ebpf-guard(1) file://$prefix/share/doc/ebpf-guard/operations.md" "$unit" ||
	fail "unit: $(grep Documentation= "$unit")"
echo "layout: OK ($(find "$W/prefix" -type f | wc -l) files)"

# the tree works from anywhere: move it
mv "$W/prefix" "$W/moved"
R=$W/moved
check_installed_run "$R/bin/ebpf-guard" "$R/etc/ebpf-guard/rules" "$R/etc/ebpf-guard/rules.d"

# the man page: renders without warnings, documents every flag
if command -v groff >/dev/null; then
	warn=$(groff -man -ww -z "$R/share/man/man1/ebpf-guard.1" 2>&1)
	[ -z "$warn" ] || fail "groff warnings: $warn"
fi
for f in $("$R/bin/ebpf-guard" -help | sed -n 's/^  -\([a-z][a-z0-9-]*\).*/\1/p'); do
	grep -qE "^\.(B|BI|BR) \\\\-$f( |$)" "$R/share/man/man1/ebpf-guard.1" ||
		fail "the man page has no entry for -$f"
done
th=$(grep '^\.TH ' "$R/share/man/man1/ebpf-guard.1")
grep -qF "\"ebpf-guard $("$R/bin/ebpf-guard" -version | awk '{ print $2 }')\"" <<<"$th" ||
	fail "the man page's version is not the binary's: $th"
echo "man page: every flag of -help documented"

check_completion "$R/share/bash-completion/completions/ebpf-guard" "$R/bin/ebpf-guard" "$R/etc/ebpf-guard/rules"

# gone: the module, then the library
mv "$R/share/ebpf-guard/lua" "$W/lua.away"
rc=0
err=$(env -u EG_ENGINE_LIB "$R/bin/ebpf-guard" test 2>&1) || rc=$?
[ $rc = 1 ] && [ "$err" = "ebpf-guard: test: cannot find the ebpf_guard.testing module (looked for $R/bin/../lua/ebpf_guard/testing.lua and $R/bin/../share/ebpf-guard/lua/ebpf_guard/testing.lua)" ] ||
	fail "no module: exit $rc: $err"
mv "$W/lua.away" "$R/share/ebpf-guard/lua"
mv "$R/$libdir/ebpf-guard/libebpf-guard-engine.so" "$W/lib.away"
err=$(env -u EG_ENGINE_LIB LUA_PATH="$R/share/ebpf-guard/lua/?.lua;;" luajit -e 'require("ebpf_guard.testing")' 2>&1) &&
	fail "no library: the module loaded"
rel=$(sed -n 's/^local INSTALLED_LIB = "\(.*\)"$/\1/p' "$R/share/ebpf-guard/lua/ebpf_guard/testing.lua")
echo "$err" | grep -qxF "luajit: ebpf_guard.testing: cannot find libebpf-guard-engine.so (tried: $R/share/ebpf-guard/lua/$rel): reinstall ebpf-guard or set EG_ENGINE_LIB to its path" ||
	fail "no library: $err"
echo "PASS"
