#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian package (docs/operations.md, "Install"): built from this tree
# with scripts/build-deb.sh into a scratch directory; Depends names the
# package of every shared library the binary and the engine library load
# (NEEDED, found by ldd), and lua-yaml; luajit and lua-busted suggested; the stock rules are
# its conffiles; postinst enables the unit and starts it only under a
# running systemd (run, with postrm purge, in a private mount namespace); unpacked with dpkg -x into a fresh root, the installed
# binary runs -version, -validate and a replay with the installed rules and
# `ebpf-guard test` with the installed module (tests/lib/install_checks.sh);
# the unit passes systemd-analyze verify, with an exposure score of at most
# 3.0; lintian reports no tag (info and pedantic included). Label "package" (about a minute).
set -euo pipefail
: "${EG_BIN:?EG_BIN must point at the ebpf-guard binary}"
EG_SOURCE_DIR=${EG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
EG_NAME=$(basename "$0" .sh)
if [ -z "${EG_UNDER_TIMEOUT:-}" ]; then
	EG_UNDER_TIMEOUT=1 exec timeout -k 5 600 bash "$0"
fi
. "$EG_SOURCE_DIR/tests/lib/skip.sh"
. "$EG_SOURCE_DIR/tests/lib/install_checks.sh"
for t in dpkg-buildpackage dh fakeroot lintian systemd-analyze; do
	command -v "$t" >/dev/null || skip "$t not installed (scripts/install-deps.sh)"
done
W=$(mktemp -d "${TMPDIR:-/tmp}/eg-$EG_NAME.XXXXXX")
trap 'rm -rf "$W"' EXIT
trap 'echo "FAIL ($EG_NAME): timed out or interrupted" >&2; exit 124' TERM INT
fail() {
	echo "FAIL ($EG_NAME): $*" >&2
	exit 1
}
chmod 0755 "$W"
cd "$EG_SOURCE_DIR"

ver=$(dpkg-parsechangelog -S Version)
bver=$("$EG_BIN" -version | awk '{ print $2 }')
[ "$ver" = "$bver" ] || fail "debian/changelog is at $ver, the binary (CMakeLists.txt) at $bver"
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
t0=$(date +%s)
EG_DEB_OUT=$W/out EG_DEB_LINTIAN=0 EG_DEB_JOBS=2 scripts/build-deb.sh >"$W/build.log" 2>&1 ||
	fail "scripts/build-deb.sh: $(tail -n 5 "$W/build.log")"
deb=$W/out/ebpf-guard_${ver}_${arch}.deb
[ -f "$deb" ] || fail "no $deb"
echo "built $(basename "$deb") in $(($(date +%s) - t0)) s"

# control fields
depends=$(dpkg-deb -f "$deb" Depends)
suggests=$(dpkg-deb -f "$deb" Suggests)
has() { # has <list> <package>: the package is one of the list's alternatives
	tr ',|' '\n\n' <<<"$1" | sed 's/^ *//; s/ .*//' | grep -qxF "$2"
}
has "$depends" lua-yaml || fail "Depends has no lua-yaml: $depends"
has "$suggests" luajit && has "$suggests" lua-busted || fail "Suggests: $suggests"

R=$W/root
mkdir "$R"
dpkg -x "$deb" "$R"
bin=$R/usr/bin/ebpf-guard
lib=$R/usr/lib/$multiarch/ebpf-guard/libebpf-guard-engine.so
guard=$R/usr/lib/$multiarch/ebpf-guard/libebpf-guard-memguard.so
[ -x "$bin" ] && [ -f "$lib" ] && [ -f "$guard" ] ||
	fail "not in the package: /usr/bin/ebpf-guard, $lib or $guard"
# every library the two link against (NEEDED; ldd says where it is) belongs
# to a package named in Depends (theirs bring the rest)
for f in "$bin" "$lib" "$guard"; do
	for name in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*Shared library: \[\(.*\)\]/\1/p'); do
		so=$(ldd "$f" | awk -v n="$name" '$1 == n && $3 ~ /^\// { print $3 }
			$1 ~ /^\// && substr($1, length($1) - length(n)) == "/" n { print $1 }')
		[ -n "$so" ] || fail "$(basename "$f"): ldd does not find $name"
		real=$(readlink -f "$so")
		pkg=$( (dpkg -S "$so" 2>/dev/null || dpkg -S "$real" 2>/dev/null || dpkg -S "${so#/usr}" 2>/dev/null) |
			head -n1 | cut -d: -f1)
		[ -n "$pkg" ] || fail "$so ($(basename "$f")): no package owns it"
		has "$depends" "$pkg" || fail "$(basename "$f") loads $so of $pkg, not in Depends: $depends"
	done
done
echo "Depends: $depends"

conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles | sort)
want=$(cd "$EG_SOURCE_DIR" && ls rules/*.yaml rules/*.lua | sed 's|^|/etc/ebpf-guard/|' | sort)
[ -f packaging/ebpf-guard.yaml ] && want=$(printf '%s\n/etc/ebpf-guard/ebpf-guard.yaml\n' "$want" | sort)
[ "$conffiles" = "$want" ] || fail "conffiles: $conffiles"
[ -d "$R/etc/ebpf-guard/rules.d" ] || fail "no /etc/ebpf-guard/rules.d"
postinst=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./postinst)
grep -qF "deb-systemd-helper enable 'ebpf-guard.service'" <<<"$postinst" || fail "postinst does not enable the unit"
# start only under a running systemd (not here, nor in a chroot)
awk '/if \[ -d \/run\/systemd\/system \]; then/ { guard = 1 } /deb-systemd-invoke/ { exit !guard }' <<<"$postinst" ||
	fail "postinst starts the unit without checking for a running systemd"
echo "conffiles: $(tr '\n' ' ' <<<"$conffiles")"

# postinst configure, then postrm purge, as dpkg runs them, in a private
# mount namespace whose systemd directories are empty tmpfs (nothing of this
# machine's is touched; /run/systemd hidden: systemd is not running there):
# exit 0, the unit enabled (the multi-user.target.wants link), then gone
# (skipped where those directories do not all exist: they are not created)
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
	[ -d /etc/systemd/system ] && [ -d /var/lib/systemd ] && [ -d /lib/systemd/system ]; then
	dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./postrm >"$W/postrm"
	printf '%s\n' "$postinst" >"$W/postinst"
	cp "$R/lib/systemd/system/ebpf-guard.service" "$W/unit"
	# shellcheck disable=SC2016
	DPKG_MAINTSCRIPT_PACKAGE=ebpf-guard unshare -m --propagation private sh -c '
		set -e
		for d in /etc/systemd/system /var/lib/systemd /lib/systemd/system /run/systemd; do
			[ ! -d "$d" ] || mount -t tmpfs none "$d"
		done
		cp "$1/unit" /lib/systemd/system/ebpf-guard.service
		wants=/etc/systemd/system/multi-user.target.wants/ebpf-guard.service
		DPKG_MAINTSCRIPT_NAME=postinst sh -e "$1/postinst" configure >"$1/postinst.out" 2>&1 ||
			{ echo "postinst configure failed: $(cat "$1/postinst.out")"; exit 1; }
		[ "$(readlink "$wants")" = /lib/systemd/system/ebpf-guard.service ] ||
			{ echo "postinst did not enable the unit: $(cat "$1/postinst.out")"; exit 1; }
		DPKG_MAINTSCRIPT_NAME=postrm sh -e "$1/postrm" purge >"$1/postrm.out" 2>&1 ||
			{ echo "postrm purge failed: $(cat "$1/postrm.out")"; exit 1; }
		[ ! -e "$wants" ] && [ ! -L "$wants" ] || { echo "postrm purge left $wants"; exit 1; }
	' _ "$W" >"$W/maint.err" 2>&1 || fail "maintainer scripts: $(cat "$W/maint.err")"
	echo "postinst: exit 0 without a running systemd, unit enabled; postrm purge: link removed"
else
	echo "postinst, postrm: not run (needs root, unshare and the systemd directories)"
fi

check_installed_run "$bin" "$R/etc/ebpf-guard/rules" "$R/etc/ebpf-guard/rules.d"
check_completion "$R/usr/share/bash-completion/completions/ebpf-guard" "$bin" "$R/etc/ebpf-guard/rules"
zcat "$R/usr/share/man/man1/ebpf-guard.1.gz" | groff -man -ww -z 2>"$W/groff.err"
[ ! -s "$W/groff.err" ] || fail "man page: $(cat "$W/groff.err")"

# the unit: systemd-analyze verify (ExecStart pointed at the unpacked binary)
unit=$R/lib/systemd/system/ebpf-guard.service
grep -q "^ExecStart=/usr/bin/ebpf-guard " "$unit" || fail "unit: $(grep ExecStart= "$unit")"
# the shipped settings file is valid: its paths moved into the unpacked root
if [ -f "$R/etc/ebpf-guard/ebpf-guard.yaml" ]; then
	grep -qxF "ExecStart=/usr/bin/ebpf-guard -config-file /etc/ebpf-guard/ebpf-guard.yaml" "$unit" ||
		fail "unit: $(grep ExecStart= "$unit")"
	sed "s|/etc/ebpf-guard/|$R/etc/ebpf-guard/|" "$R/etc/ebpf-guard/ebpf-guard.yaml" >"$W/settings.yaml"
	out=$("$bin" -validate -config-file "$W/settings.yaml" 2>&1) || fail "-validate of the shipped settings: $out"
	echo "settings file: $out"
fi
# Documentation= names files the package installs (uncompressed)
for d in $(sed -n 's/^Documentation=//p' "$unit"); do
	case $d in
	man:ebpf-guard\(1\)) [ -f "$R/usr/share/man/man1/ebpf-guard.1.gz" ] || fail "no man page for $d" ;;
	file://*) [ -f "$R${d#file://}" ] || fail "Documentation=$d: not in the package" ;;
	*) fail "unit: unexpected Documentation=$d" ;;
	esac
done
sed "s|^ExecStart=/usr/bin/ebpf-guard|ExecStart=$bin|" "$unit" >"$W/ebpf-guard.service"
out=$(systemd-analyze verify --man=no "$W/ebpf-guard.service" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify: $out"
score=$(systemd-analyze security --offline=yes "$unit" 2>&1 |
	sed -n 's/.*Overall exposure level for ebpf-guard.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || fail "no systemd-analyze security score"
awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }' || fail "exposure score $score, want <= 3.0"
echo "unit: verified; exposure $score"

# every tag down to info and pedantic; debian/ebpf-guard.lintian-overrides
# says why the overridden ones are
lintian -I -E --pedantic --no-tag-display-limit "$deb" >"$W/lintian.txt" 2>&1 || true
grep -E '^[EWIPX]:' "$W/lintian.txt" && fail "lintian tags (above)"
echo "lintian: no tag (-I -E --pedantic), $(lintian -I --pedantic --show-overrides "$deb" 2>/dev/null | grep -c '^O:') overridden"
echo "PASS"
