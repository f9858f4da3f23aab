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
  # test: deploy/ (tests/integration/test_deploy_files.sh)
  python3-yaml
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

# Node tools for the offline checks of deploy/ (tests/integration/
# test_deploy_files.sh): the Kubernetes and Prometheus Operator API schemas
# (kubernetes-models) and a Containerfile linter (dockerfile-utils), from the
# npm registry when npm is there.
NODE_TOOLS=/opt/ebpf-guard-test/node-tools
install_node_tools() {
  [ -x "$NODE_TOOLS/node_modules/.bin/dockerfile-utils" ] &&
    [ -d "$NODE_TOOLS/node_modules/@kubernetes-models/prometheus-operator" ] && return 0
  if ! command -v npm >/dev/null; then
    echo "install-deps: installing npm (Debian package) for $NODE_TOOLS"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends npm
  fi
  echo "install-deps: installing kubernetes-models and dockerfile-utils in $NODE_TOOLS"
  $SUDO mkdir -p "$NODE_TOOLS"
  $SUDO npm install --prefix "$NODE_TOOLS" --no-audit --no-fund --silent \
    kubernetes-models@5.1.0 @kubernetes-models/prometheus-operator@6.0.0 dockerfile-utils@0.16.3
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  install_node_tools
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_node_tools
