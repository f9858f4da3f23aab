#!/usr/bin/env bash
# Installs every Debian package ebpf-guard needs to build, run and test.
# Idempotent: installs only what is missing; runs apt-get update at most once.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake pkg-config clang llvm bpftool
  libbpf-dev libelf-dev zlib1g-dev libluajit-5.1-dev libyaml-dev libpcre2-dev libmicrohttpd-dev
  libseccomp-dev libcurl4-openssl-dev
  # run
  luajit lua-yaml lua-cjson
  # test
  lua-busted prometheus curl python3 iproute2 util-linux valgrind logrotate procps
  # test: the journald output against a real systemd-journald, the webhook's TLS
  systemd openssl
  # fuzz (bench/fuzz.sh): libFuzzer and the sanitizer runtimes for clang 14
  # (only recommended by clang, and recommends are not installed here)
  libclang-rt-14-dev
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
