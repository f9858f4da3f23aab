#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite under ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
# -j: the long CPU-bound tests side by side; the ones that trace the kernel
# run alone (CMakeLists.txt, RUN_SERIAL)
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
