#!/usr/bin/env bash
# Installs what is missing, builds, and runs the detector with the stock rules:
# alerts to ./alerts.jsonl, metrics on 127.0.0.1:7829 (the default). Extra
# arguments go to ebpf-guard.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
exec build/ebpf-guard -config rules/ -alert-file ./alerts.jsonl "$@"
