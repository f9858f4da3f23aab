#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest: alone (loads BPF programs and traces the host)
# Metrics in live mode (needs root and BPF): events and alerts from real
# system calls made by this test show up in /metrics, the ring-buffer gauges
# are set, the page passes promtool, SIGHUP reloads, SIGTERM exits 0. The
# daemon sees the whole host, so counts are lower bounds.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 90

[ "$(id -u)" = 0 ] || skip "live mode needs root"
[ -r /sys/kernel/btf/vmlinux ] || skip "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
shm=/dev/shm/eg-live-$$-true

"$EG_BIN" -prom-addr 127.0.0.1:0 -all-events -alert-file "$W/alerts.jsonl" \
	>"$W/stdout" 2>"$W/stderr" &
EG_PID=$!
for i in $(seq 300); do
	grep -q '^ebpf-guard: attached ' "$W/stderr" && break
	if ! kill -0 "$EG_PID" 2>/dev/null; then
		wait "$EG_PID" || true
		EG_PID=
		# root with BTF: a daemon that cannot start live is broken
		fail "live mode failed to start: $(grep -v 'metrics on\|no -config' "$W/stderr" | head -n3)"
	fi
	sleep 0.05
done
grep -q '^ebpf-guard: attached ' "$W/stderr" || fail "no 'attached' line within 15 s"
PORT=$(sed -n 's|^ebpf-guard: metrics on http://127\.0\.0\.1:\([0-9]*\)/metrics$|\1|p' "$W/stderr")
URL="http://127.0.0.1:$PORT"
before=$(metric 'ebpf_guard_events_total{type="exec"}')

# A memory-backed-looking exec, a connect to a mining port, some opens.
cp /bin/true "$shm"
"$shm"
rm -f "$shm"
python3 -c 'import socket; s = socket.socket(); s.settimeout(1)
try: s.connect(("127.0.0.1", 4444))
except OSError: pass' || true
cat /etc/hostname /etc/os-release >/dev/null

found() { # found <rule_id> <python condition on the event e>
	python3 - "$W/alerts.jsonl" "$1" "$2" <<'EOF'
import json, sys
path, rule, cond = sys.argv[1:]
for line in open(path):
    a = json.loads(line)
    e = a["event"]
    if a["rule_id"] == rule and eval(cond):
        sys.exit(0)
sys.exit(1)
EOF
}
for i in $(seq 200); do
	found builtin_fileless_exec "e['filename'] == '$shm'" 2>/dev/null &&
		found builtin_crypto_port "e['dest_port'] == 4444 and e['comm'].startswith('python')" 2>/dev/null &&
		break
	sleep 0.05
done
found builtin_fileless_exec "e['filename'] == '$shm'" || fail "no fileless alert for $shm"
found builtin_crypto_port "e['dest_port'] == 4444 and e['comm'].startswith('python')" ||
	fail "no crypto port alert for the connect to 4444"

scrape >"$W/scrape.txt" || fail "scrape failed"
val() { awk -v s="$1" 'substr($0, 1, length(s) + 1) == s " " { print $NF; exit }' "$W/scrape.txt"; }
[ "$(val 'ebpf_guard_events_total{type="exec"}')" -gt "$before" ] || fail "exec events did not grow"
[ "$(val 'ebpf_guard_events_total{type="open"}')" -gt 0 ] || fail "no open events with -all-events"
[ "$(val 'ebpf_guard_events_total{type="connect"}')" -gt 0 ] || fail "no connect events"
[ "$(val 'ebpf_guard_alerts_total{rule_id="builtin_fileless_exec"}')" -ge 1 ] || fail "fileless counter"
[ "$(val 'ebpf_guard_alerts_total{rule_id="builtin_crypto_port"}')" -ge 1 ] || fail "port counter"
[ "$(val ebpf_guard_ringbuf_size_bytes)" -gt 0 ] || fail "ringbuf_size_bytes is 0"
fill=$(val ebpf_guard_ringbuf_fill_bytes)
[ -n "$fill" ] && [ "$fill" -le "$(val ebpf_guard_ringbuf_size_bytes)" ] || fail "ringbuf_fill_bytes '$fill'"
for t in exec open connect exit; do
	[ -n "$(val "ebpf_guard_events_dropped_total{type=\"$t\"}")" ] || fail "no dropped counter for $t"
done
if command -v promtool >/dev/null; then
	promtool check metrics <"$W/scrape.txt" >"$W/promtool.txt" 2>&1 ||
		fail "promtool check metrics: $(cat "$W/promtool.txt")"
fi
[ "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ] || fail "/healthz"

kill -HUP "$EG_PID"
wait_metric ebpf_guard_config_reloads_total 1
[ "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ] ||
	fail "/healthz after the reload"

kill -TERM "$EG_PID"
rc=0
for i in $(seq 200); do kill -0 "$EG_PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$EG_PID" 2>/dev/null && fail "no exit within 10 s of SIGTERM"
wait "$EG_PID" || rc=$?
EG_PID=
[ "$rc" = 0 ] || fail "exit code $rc after SIGTERM"
echo "ok ($EG_NAME)"
