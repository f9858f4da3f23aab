#!/usr/bin/env bash
# Builds the Debian package from this tree: dpkg-buildpackage -us -uc -b
# (debian/, debhelper with the cmake build system), then copies the .deb and
# .buildinfo/.changes to dist/ and runs lintian on the .deb.
#   scripts/build-deb.sh            # dist/ebpf-guard_<version>_<arch>.deb
#   DEB_BUILD_OPTIONS=nocheck scripts/build-deb.sh   # skip the smoke test
#   EG_DEB_OUT=DIR scripts/build-deb.sh              # results to DIR, not dist/
#   EG_DEB_LINTIAN=0 ...                             # no lintian run
# Needs: debhelper dpkg-dev fakeroot lintian and the build dependencies
# (scripts/install-deps.sh installs them all).
set -euo pipefail
cd "$(dirname "$0")/.."
dpkg-checkbuilddeps
ver=$(dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
# dpkg-buildpackage writes its results to the parent directory: build from a
# copy of the tree in a scratch directory, so nothing lands next to the
# checkout and the checkout's build/ stays out of it.
work=$(mktemp -d "${TMPDIR:-/tmp}/ebpf-guard-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard | grep -zv '^dist/' |
	xargs -0 cp --parents -t "$work/src" 2>/dev/null || {
	# no git (a tarball): everything but build trees and dist/
	tar --exclude='./build*' --exclude=./dist --exclude=./.git -cf - . | tar -C "$work/src" -xf -
}
(cd "$work/src" && dpkg-buildpackage -us -uc -b -j"${EG_DEB_JOBS:-$(nproc)}")
out=${EG_DEB_OUT:-dist}
mkdir -p "$out"
cp "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$out"/
echo "build-deb: $out/ebpf-guard_${ver}_${arch}.deb"
if [ "${EG_DEB_LINTIAN:-1}" != 0 ] && command -v lintian >/dev/null; then
	lintian --info --display-info "$out/ebpf-guard_${ver}_${arch}.deb" || true
fi
