#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The alert file on a full file system (a 128 KiB tmpfs), with the real
# daemon replaying from a FIFO:
#  1. a few alerts written, then the disk fills: lines that still fit in the
#     file's last page are written whole, the one that crosses into a new page
#     is cut back (never a partial line), the rest wait in the queue; the
#     daemon keeps detecting and counting; after space is freed the queue is
#     written without new input, then new alerts follow; exact counts, every
#     pid once and in order, nothing lost.
#  2. EG_ALERT_QUEUE_MAX=5 on an empty file on a full disk: 8 alerts give 5
#     queued and 3 lost (the newest), then exactly the 5 oldest are written.
# Needs root (mount); skips with 77 otherwise.
. "$(dirname "$0")/daemon_lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root to mount a tmpfs"
eg_init 120

FS=$W/fs
mkdir "$FS"
mount -t tmpfs -o size=128k,mode=0700 tmpfs "$FS" 2>"$W/mount.err" ||
	skip "cannot mount a tmpfs: $(cat "$W/mount.err")"
MOUNTED=1

# The daemon holds a file on the tmpfs: stop it before unmounting, then let
# daemon_lib's cleanup remove the rest.
fault_cleanup() {
	local rc=$?
	trap - EXIT
	eg_kill
	EG_PID=
	if [ -n "${MOUNTED:-}" ]; then
		umount "$FS" 2>/dev/null || umount -l "$FS" 2>/dev/null || true
	fi
	(exit "$rc")
	eg_cleanup
}
trap fault_cleanup EXIT

fill() {
	dd if=/dev/zero of="$FS/filler" bs=4k >/dev/null 2>&1 || true
	if printf 'x' >"$FS/probe" 2>/dev/null; then
		fail "the tmpfs is not full after filling it"
	fi
	rm -f "$FS/probe"
}

# send <first pid> <last pid>: one shell exec (one builtin_suspicious_shell
# alert) per pid.
send() {
	local i lines=()
	for i in $(seq "$1" "$2"); do
		lines+=("$(ev exec "$i" bash /bin/bash)")
	done
	eg_send "${lines[@]}"
}

# check_file <file> <n>: n whole JSON lines, builtin_suspicious_shell, event
# pids 1..n in order.
check_file() {
	python3 - "$1" "$2" <<'EOF' || fail "$1 does not hold exactly pids 1..$2 in whole lines"
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
assert data == b"" or data.endswith(b"\n"), "partial last line"
pids = []
for line in data.splitlines():
    a = json.loads(line)
    assert a["rule_id"] == "builtin_suspicious_shell", a["rule_id"]
    pids.append(a["event"]["pid"])
assert pids == list(range(1, n + 1)), pids
EOF
}

alive() {
	kill -0 "$EG_PID" 2>/dev/null || fail "the daemon died"
}

# eg_start reads $W/stderr right after starting the daemon in the background:
# make sure the file exists by then.
start() {
	: >"$W/stderr"
	eg_start "$@"
}

# ---- 1. queue and recovery --------------------------------------------------
alerts=$FS/alerts.jsonl
start -alert-file "$alerts"
send 1 3
wait_lines "$alerts" 3
fill
send 4 15
wait_metric 'ebpf_guard_events_total{type="exec"}' 15
for _ in $(seq 200); do
	[ "$(metric 'ebpf_guard_alert_write_failures_total')" -ge 1 ] && break
	sleep 0.05
done
alive
written=$(count_lines "$alerts")
check_file "$alerts" "$written"
[ "$written" -ge 3 ] && [ "$written" -lt 15 ] ||
	fail "with the disk full $written of 15 alerts were written"
wait_metric 'ebpf_guard_alerts_queued' $((15 - written))
[ "$(metric 'ebpf_guard_alert_write_failures_total')" -ge 1 ] || fail "no write failure counted"
grep -q "^ebpf-guard: cannot write alerts to $alerts: No space left on device; [0-9]* alerts queued$" \
	"$W/stderr" || fail "no 'cannot write alerts' message"
[ "$(grep -c 'cannot write alerts' "$W/stderr")" = 1 ] || fail "the failure message is not rate-limited"

# more events while the disk stays full: detected, counted, queued
send 16 20
wait_metric 'ebpf_guard_events_total{type="exec"}' 20
wait_metric 'ebpf_guard_alerts_total{rule_id="builtin_suspicious_shell"}' 20
wait_metric 'ebpf_guard_alerts_queued' $((20 - written))
alive
[ "$(count_lines "$alerts")" = "$written" ] || fail "lines were written while the disk was full"
check_file "$alerts" "$written"

# free space: the queue is written on the idle retry, without new input
rm -f "$FS/filler"
wait_lines "$alerts" 20 10
wait_metric 'ebpf_guard_alerts_queued' 0
grep -q "^ebpf-guard: alert file writable again, wrote $((20 - written)) queued alerts$" "$W/stderr" ||
	fail "no 'writable again' message for $((20 - written)) alerts"
send 21 25
wait_lines "$alerts" 25
[ "$(metric 'ebpf_guard_alerts_lost_total')" = 0 ] || fail "alerts were lost"
eg_finish
check_file "$alerts" 25

# ---- 2. the queue bound ------------------------------------------------------
rm -f "$W/in"
alerts2=$FS/bound.jsonl
export EG_ALERT_QUEUE_MAX=5
start -alert-file "$alerts2"
unset EG_ALERT_QUEUE_MAX
fill
send 1 8
wait_metric 'ebpf_guard_events_total{type="exec"}' 8
wait_metric 'ebpf_guard_alerts_total{rule_id="builtin_suspicious_shell"}' 8
wait_metric 'ebpf_guard_alerts_queued' 5
wait_metric 'ebpf_guard_alerts_lost_total' 3
# the same, as the file's series of the per-output families (docs/metrics.md)
[ "$(metric 'ebpf_guard_output_dropped_total{output="file",reason="queue_full"}')" = 3 ] ||
	fail "file output: queue_full drops"
[ "$(metric 'ebpf_guard_output_queue_length{output="file"}')" = 5 ] || fail "file output: queue length"
[ "$(metric 'ebpf_guard_output_alerts_total{output="file"}')" = 0 ] || fail "file output: alerts written"
[ "$(count_lines "$alerts2")" = 0 ] || fail "lines were written to a full disk"
alive
rm -f "$FS/filler"
wait_lines "$alerts2" 5 10
wait_metric 'ebpf_guard_alerts_queued' 0
wait_metric 'ebpf_guard_output_alerts_total{output="file"}' 5
eg_finish
check_file "$alerts2" 5
echo "PASS ($EG_NAME): phase 1 wrote $written of 15 before the queue, 25/25 in the end; phase 2 kept 5, lost 3"
