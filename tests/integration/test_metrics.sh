#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# /metrics after a known replay: exact series and values, promtool, HEAD,
# 404/405, /healthz, -prom-addr errors, and the server going away at exit.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 90

cat >"$W/rules.yaml" <<'EOF'
rules:
  - id: suspicious_shell
    description: Suspicious shell execution
    event_types: ["exec"]
    comm_regex: "(?i)(bash|sh|zsh|ksh|dash)"

  - id: crypto_miner_exec
    description: Executable name looks like a crypto miner
    event_types: ["exec"]
    filename_regex: "(?i)(xmrig|minerd|cryptominer)"

  - id: crypto_miner_port
    description: Outgoing connection to common mining pool ports (rough heuristic)
    event_types: ["connect"]
    min_dest_port: 3333
    max_dest_port: 5555
EOF

t0=$(date +%s)
eg_start -config "$W/rules.yaml" -alert-file "$W/alerts.jsonl"

# Before any event: the reference's three types at 0, every loaded rule at 0.
[ "$(metric 'ebpf_guard_events_total{type="exec"}')" = 0 ] || fail "exec not 0 at start"
[ "$(metric 'ebpf_guard_alerts_total{rule_id="suspicious_shell"}')" = 0 ] ||
	fail "suspicious_shell not 0 at start"

eg_send "$(ev exec 101 bash /bin/bash)" \
	"$(ev exec 102 x /dev/shm/x)" \
	"$(ev connect 103 curl connect 4444)" \
	"$(ev open 104 cat /etc/passwd)" \
	"$(ev open 105 cat /etc/hosts)" \
	'this is not an event' \
	"$(ev exec 106 ls /usr/bin/ls)" \
	"$(ev connect 107 curl connect 443)"

wait_metric 'ebpf_guard_events_total{type="connect"}' 2
wait_lines "$W/alerts.jsonl" 5
scrape >"$W/scrape.txt" || fail "scrape failed"

expect() { # expect <exact line>
	grep -qxF -- "$1" "$W/scrape.txt" || fail "missing line: $1"
}
expect '# HELP ebpf_guard_events_total Number of raw events observed by ebpf-guard, labelled by type.'
expect '# TYPE ebpf_guard_events_total counter'
expect 'ebpf_guard_events_total{type="exec"} 3'
expect 'ebpf_guard_events_total{type="open"} 2'
expect 'ebpf_guard_events_total{type="connect"} 2'
expect '# HELP ebpf_guard_alerts_total Number of alerts raised by ebpf-guard, labelled by rule id.'
expect '# TYPE ebpf_guard_alerts_total counter'
expect 'ebpf_guard_alerts_total{rule_id="builtin_suspicious_shell"} 1'
expect 'ebpf_guard_alerts_total{rule_id="builtin_fileless_exec"} 1'
expect 'ebpf_guard_alerts_total{rule_id="builtin_crypto_port"} 1'
expect 'ebpf_guard_alerts_total{rule_id="suspicious_shell"} 1'
expect 'ebpf_guard_alerts_total{rule_id="crypto_miner_exec"} 0'
expect 'ebpf_guard_alerts_total{rule_id="crypto_miner_port"} 1'
expect "ebpf_guard_rules_loaded{source=\"$W/rules.yaml\"} 3"
expect 'ebpf_guard_replay_lines_rejected_total 1'
expect 'ebpf_guard_events_dropped_total{type="exec"} 0'
expect 'ebpf_guard_events_dropped_total{type="open"} 0'
expect 'ebpf_guard_events_dropped_total{type="connect"} 0'
expect 'ebpf_guard_events_dropped_total{type="exit"} 0'
expect 'ebpf_guard_events_dropped_total{type="memfd"} 0'
expect 'ebpf_guard_events_dropped_total{type="ptrace"} 0'
expect 'ebpf_guard_events_dropped_total{type="module"} 0'
expect 'ebpf_guard_events_dropped_total{type="bpf"} 0'
expect 'ebpf_guard_events_dropped_total{type="setid"} 0'
expect 'ebpf_guard_events_dropped_total{type="namespace"} 0'
expect 'ebpf_guard_events_dropped_total{type="mount"} 0'
expect 'ebpf_guard_events_dropped_total{type="link"} 0'
expect 'ebpf_guard_events_dropped_total{type="rename"} 0'
expect 'ebpf_guard_events_dropped_total{type="unlink"} 0'
expect 'ebpf_guard_events_dropped_total{type="chmod"} 0'
expect 'ebpf_guard_events_dropped_total{type="dup"} 0'
expect 'ebpf_guard_events_dropped_total{type="listen"} 0'
expect 'ebpf_guard_events_dropped_total{type="accept"} 0'
expect 'ebpf_guard_events_dropped_total{type="fork"} 0'
expect 'ebpf_guard_alert_write_failures_total 0'
expect 'ebpf_guard_alerts_lost_total 0'
expect 'ebpf_guard_alerts_queued 0'
expect 'ebpf_guard_config_reloads_total 0'
expect 'ebpf_guard_config_reload_failures_total 0'
version=$("$EG_BIN" -version | awk '{print $2}')
expect "ebpf_guard_build_info{version=\"$version\"} 1"

# No other rule raised an alert, and the file agrees with the counters.
nonzero=$(awk '/^ebpf_guard_alerts_total\{/ && $2 != "0"' "$W/scrape.txt" | sort)
want=$(printf '%s\n' \
	'ebpf_guard_alerts_total{rule_id="builtin_crypto_port"} 1' \
	'ebpf_guard_alerts_total{rule_id="builtin_fileless_exec"} 1' \
	'ebpf_guard_alerts_total{rule_id="builtin_suspicious_shell"} 1' \
	'ebpf_guard_alerts_total{rule_id="crypto_miner_port"} 1' \
	'ebpf_guard_alerts_total{rule_id="suspicious_shell"} 1' | sort)
[ "$nonzero" = "$want" ] || fail "non-zero alert series: $nonzero"
[ "$(rule_counts "$W/alerts.jsonl")" = "$(printf '%s\n' 'builtin_crypto_port 1' \
	'builtin_fileless_exec 1' 'builtin_suspicious_shell 1' 'crypto_miner_port 1' \
	'suspicious_shell 1')" ] || fail "alert file: $(rule_counts "$W/alerts.jsonl")"

builtins=$(awk -F' ' '/^ebpf_guard_rules_loaded\{source="builtin"\}/ {print $2}' "$W/scrape.txt")
[ -n "$builtins" ] && [ "$builtins" -ge 4 ] || fail "rules_loaded{source=\"builtin\"} is '$builtins'"

# Histogram: cumulative buckets, +Inf == _count >= 1 batch.
python3 - "$W/scrape.txt" <<'EOF' || fail "histogram check"
import re, sys
b, cnt = [], None
for line in open(sys.argv[1]):
    m = re.match(r'ebpf_guard_batch_duration_seconds_bucket\{le="([^"]+)"\} (\d+)$', line)
    if m:
        b.append((float(m.group(1)), int(m.group(2))))
    m = re.match(r'ebpf_guard_batch_duration_seconds_count (\d+)$', line)
    if m:
        cnt = int(m.group(1))
assert len(b) == 13 and b[-1][0] == float("inf"), b
assert all(b[i][0] < b[i + 1][0] and b[i][1] <= b[i + 1][1] for i in range(12)), b
assert cnt == b[-1][1] and cnt >= 1, (cnt, b)
EOF
# Sampled between batches, right after the alerts are written: poll.
for i in $(seq 100); do
	lua=$(metric ebpf_guard_lua_memory_bytes)
	[ "$lua" -gt 0 ] && break
	sleep 0.05
done
[ "$lua" -gt 0 ] || fail "ebpf_guard_lua_memory_bytes is $lua"
st=$(metric process_start_time_seconds)
[ "$st" -ge $((t0 - 2)) ] && [ "$st" -le $(($(date +%s) + 2)) ] || fail "start time $st"

if command -v promtool >/dev/null; then
	promtool check metrics <"$W/scrape.txt" >"$W/promtool.txt" 2>&1 ||
		fail "promtool check metrics: $(cat "$W/promtool.txt")"
else
	echo "note: promtool not installed, format check skipped"
fi

# Headers, HEAD, status codes.
curl -sf --max-time 5 -D "$W/h.txt" -o /dev/null "$URL/metrics" || fail "GET headers"
grep -qix 'content-type: text/plain; version=0.0.4; charset=utf-8'$'\r' "$W/h.txt" ||
	fail "Content-Type: $(grep -i content-type "$W/h.txt")"
code() { curl -s --max-time 5 -o "$W/body" -D "$W/hdr" -w '%{http_code}' "$@"; }
[ "$(code -I "$URL/metrics")" = 200 ] || fail "HEAD /metrics"
# (with -I curl writes the headers where the body would go)
grep -q '^ebpf_guard' "$W/body" && fail "HEAD /metrics has a body"
grep -qi '^content-type: text/plain; version=0.0.4' "$W/hdr" || fail "HEAD Content-Type"
[ "$(code "$URL/healthz")" = 200 ] && [ "$(cat "$W/body")" = ok ] || fail "GET /healthz"
[ "$(code -I "$URL/healthz")" = 200 ] || fail "HEAD /healthz"
for path in / /metric /metrics/ /metricsx /healthz/x /debug/pprof; do
	[ "$(code "$URL$path")" = 404 ] || fail "GET $path: want 404"
done
[ "$(code -X POST "$URL/nothing")" = 404 ] || fail "POST /nothing: want 404"
for m in POST PUT DELETE PATCH OPTIONS; do
	for path in /metrics /healthz; do
		[ "$(code -X "$m" -d x "$URL$path")" = 405 ] || fail "$m $path: want 405"
		grep -qix 'allow: GET, HEAD'$'\r' "$W/hdr" || fail "$m $path: no 'Allow: GET, HEAD'"
	done
done
# Keep-alive with several requests on one connection, as Prometheus does.
[ "$(curl -s --max-time 5 -w '%{http_code}%{num_connects}\n' -o /dev/null "$URL/metrics" \
	-o /dev/null "$URL/metrics" -o /dev/null "$URL/healthz" | tr '\n' ' ')" = "2001 2000 2000 " ] ||
	fail "keep-alive requests"

# -prom-addr errors: clear message, exit 1, before any event is read.
rc=0
"$EG_BIN" -replay /dev/null -alert-file "$W/x.jsonl" -prom-addr nonsense 2>"$W/err" || rc=$?
[ "$rc" = 1 ] || fail "bad -prom-addr exited $rc"
grep -qxF "ebpf-guard: invalid -prom-addr 'nonsense': missing port, e.g. :7829 or 127.0.0.1:7829" "$W/err" ||
	fail "bad -prom-addr message: $(cat "$W/err")"
rc=0
"$EG_BIN" -replay /dev/null -alert-file "$W/x.jsonl" -prom-addr "127.0.0.1:$PORT" 2>"$W/err" || rc=$?
[ "$rc" = 1 ] || fail "busy port exited $rc"
grep -qxF "ebpf-guard: failed to listen on 127.0.0.1:$PORT: Address already in use" "$W/err" ||
	fail "busy port message: $(cat "$W/err")"

# EOF: the daemon exits 0 and takes the server with it.
eg_finish
curl -s --max-time 2 -o /dev/null "$URL/metrics" && fail "server still answers after exit"
echo "ok ($EG_NAME)"
