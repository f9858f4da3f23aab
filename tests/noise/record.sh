#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Records the benign workload (tests/noise/workload.sh) under the live
# daemon, every event type, only the workload's process tree, into a gzipped
# recording: the fixture tests/integration/test_noise.sh replays. Needs root
# and BPF; takes a few minutes (it builds this project).
#   tests/noise/record.sh [BUILD_DIR] [OUT.jsonl.gz]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-$SRC/build}
OUT=${2:-$SRC/tests/noise/workload.jsonl.gz}
W=$(mktemp -d /tmp/eg-noise.XXXXXX)
cleanup() {
	[ -n "${DPID:-}" ] && kill "$DPID" 2>/dev/null || true
	[ -n "${WPID:-}" ] && kill "$WPID" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
mkfifo "$W/go"
# the workload waits until the daemon records its tree
(read -r _ <"$W/go"; exec bash "$SRC/tests/noise/workload.sh" "$SRC" "$W/work") &
WPID=$!
"$B/ebpf-guard" -no-config-file -all-events -record "$W/rec.jsonl" -record-pid "$WPID" \
	-alert-file /dev/null -prom-addr '' 2>"$W/daemon.err" &
DPID=$!
for _ in $(seq 1 100); do grep -q "attached" "$W/daemon.err" && break; sleep 0.1; done
grep -q "attached" "$W/daemon.err" || { cat "$W/daemon.err" >&2; exit 1; }
echo go >"$W/go"
wait "$WPID"
WPID=
sleep 1
kill -TERM "$DPID"
wait "$DPID" || true
DPID=
gzip -9 <"$W/rec.jsonl" >"$OUT"
echo "recorded $(wc -l <"$W/rec.jsonl") events, $(du -h "$OUT" | cut -f1) gzipped: $OUT"
