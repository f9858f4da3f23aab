#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest: alone (times the daemon's exits and the alert file to the millisecond)
# The webhook output (docs/output.md, "Webhook"), with the seccomp filter on
# (the default) against a local Python HTTP(S) server that records every
# request: alerts arrive as JSON arrays equal to the alert file's lines, in
# batches; 500 then 200 is retried without loss; a 400 is not retried; a dead
# port leaves detection and the file alone, counts errors and drops, and the
# exit waits no longer than -webhook-drain-ms; a slow server fills the
# bounded queue and the overflow is counted; TLS is verified (a self-signed
# server fails without -webhook-ca-file, works with it); flag errors.
set -euo pipefail
. "$(dirname "$0")/daemon_lib.sh"
eg_init 240

SERVER="$EG_SOURCE_DIR/tests/integration/webhook_server.py"
SPID=

# start_server <statuses> [delay]: a fresh receiver; sets SPORT, SLOG.
start_server() {
	stop_server
	SLOG="$W/requests.$RANDOM.jsonl"
	rm -f "$W/sport"
	python3 "$SERVER" "$W/sport" "$SLOG" "$1" "${2:-0}" eg-test-webhook-server &
	SPID=$!
	EG_HELPERS="${EG_HELPERS:-} $SPID"
	local i
	for i in $(seq 100); do
		[ -s "$W/sport" ] && break
		sleep 0.05
	done
	[ -s "$W/sport" ] || fail "the webhook server did not start"
	SPORT=$(cat "$W/sport")
}

stop_server() {
	if [ -n "$SPID" ]; then
		kill "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || true
		SPID=
	fi
}

# restart: a fresh daemon directory for the next case.
reset_daemon() {
	rm -f "$W/in" "$W/alerts.jsonl" "$W/stdout" "$W/stderr"
}

shells() { # shells <n> <first pid>: n events the built-in shell rule alerts on
	local i
	for i in $(seq "$1"); do
		eg_send "$(ev exec $(($2 + i)) bash /usr/bin/bash)"
	done
}

series() { # series <family> <output> [reason]
	if [ -n "${3:-}" ]; then
		echo "ebpf_guard_output_${1}{output=\"$2\",reason=\"$3\"}"
	else
		echo "ebpf_guard_output_${1}{output=\"$2\"}"
	fi
}

# ---- flag errors (exit 2, exact first line) ----------------------------------
expect_usage_error "ebpf-guard: invalid -webhook-url 'ftp://example.com/': expected an http:// or https:// URL" \
	-webhook-url ftp://example.com/
expect_usage_error "ebpf-guard: invalid -webhook-url 'http://exa mple.com/': Bad hostname" \
	-webhook-url 'http://exa mple.com/'
expect_usage_error "ebpf-guard: invalid -webhook-url 'http://host:99999/': Port number was not a decimal number between 0 and 65535" \
	-webhook-url http://host:99999/
expect_usage_error "ebpf-guard: invalid -webhook-header 'Authorization Bearer x': expected 'Name: value'" \
	-webhook-url http://127.0.0.1:9/ -webhook-header 'Authorization Bearer x'
expect_usage_error "ebpf-guard: invalid -webhook-queue '0': expected 1..1000000 (alerts)" \
	-webhook-url http://127.0.0.1:9/ -webhook-queue 0
expect_usage_error "ebpf-guard: invalid -webhook-batch '10001': expected 1..10000 (alerts)" \
	-webhook-url http://127.0.0.1:9/ -webhook-batch 10001
expect_usage_error "ebpf-guard: invalid -webhook-retries 'x': expected 0..100 (retries)" \
	-webhook-url http://127.0.0.1:9/ -webhook-retries x
expect_usage_error "ebpf-guard: invalid -webhook-timeout-ms '50': expected 100..600000 (ms)" \
	-webhook-url http://127.0.0.1:9/ -webhook-timeout-ms 50
expect_usage_error "ebpf-guard: -webhook-batch only applies to -webhook-url" -webhook-batch 5
expect_usage_error "ebpf-guard: flag needs a value: -webhook-url" -webhook-url
rc=0
"$EG_BIN" -replay /dev/null -alert-file "$W/x.jsonl" -webhook-url http://127.0.0.1:9/ \
	-webhook-ca-file "$W/nonexistent.pem" 2>"$W/ca.err" || rc=$?
[ "$rc" = 1 ] || fail "a missing -webhook-ca-file: exit $rc, want 1"
[ "$(tail -n1 "$W/ca.err")" = "ebpf-guard: cannot read -webhook-ca-file $W/nonexistent.pem: No such file or directory" ] ||
	fail "a missing -webhook-ca-file: $(cat "$W/ca.err")"
rm -f "$W/x.jsonl"

# ---- delivery: JSON arrays, batches of at most 3, headers --------------------
start_server 200
eg_start -alert-file "$W/alerts.jsonl" -webhook-url "http://127.0.0.1:$SPORT/hook?x=1" \
	-webhook-batch 3 -webhook-flush-ms 200 -webhook-header 'Authorization: Bearer s3cret' \
	-webhook-header 'X-Tenant: blue'
shells 7 100
wait_lines "$W/alerts.jsonl" 7
wait_metric "$(series alerts_total webhook)" 7
[ "$(metric "$(series errors_total webhook)")" = 0 ] || fail "errors counted on a healthy server"
[ "$(metric "$(series dropped_total webhook queue_full)")" = 0 ] || fail "drops on a healthy server"
[ "$(metric "$(series queue_length webhook)")" = 0 ] || fail "queue not empty after delivery"
scrape >"$W/scrape.txt"
grep -qxF "$(series alerts_total file) 7" "$W/scrape.txt" || fail "file output: want 7 alerts written"
for r in queue_full unavailable busy too_large rejected retries shutdown; do
	grep -qxF "$(series dropped_total webhook $r) 0" "$W/scrape.txt" || fail "no $r series"
done
grep -q '^ebpf_guard_output_[a-z_]*{output="\(syslog\|journald\)"' "$W/scrape.txt" &&
	fail "series of outputs that are off"
if command -v promtool >/dev/null; then
	promtool check metrics <"$W/scrape.txt" >"$W/promtool.txt" 2>&1 ||
		fail "promtool check metrics: $(cat "$W/promtool.txt")"
fi
eg_finish
python3 - "$W/alerts.jsonl" "$SLOG" <<'EOF' || fail "delivered alerts differ from the alert file"
import json, sys
want = [json.loads(l) for l in open(sys.argv[1])]
reqs = [json.loads(l) for l in open(sys.argv[2])]
got = []
for r in sorted(reqs, key=lambda r: r["n"]):
    assert r["path"] == "/hook?x=1", r["path"]
    h = r["headers"]
    assert h["content-type"] == "application/json", h
    assert h["authorization"] == "Bearer s3cret" and h["x-tenant"] == "blue", h
    assert h["user-agent"].startswith("ebpf-guard/"), h
    batch = json.loads(r["body"])
    assert isinstance(batch, list) and 1 <= len(batch) <= 3, batch
    got += batch
assert len(reqs) >= 3, len(reqs)
assert got == want, (len(got), len(want))
EOF
reset_daemon

# ---- 500, 500, then 200: retried, nothing lost --------------------------------
start_server 500,500,200
eg_start -alert-file "$W/alerts.jsonl" -webhook-url "http://127.0.0.1:$SPORT/" \
	-webhook-batch 10 -webhook-flush-ms 100
shells 4 200
wait_metric "$(series alerts_total webhook)" 4 15
[ "$(metric "$(series errors_total webhook)")" = 2 ] || fail "want 2 errors for 500, 500"
for r in queue_full retries rejected shutdown; do
	[ "$(metric "$(series dropped_total webhook $r)")" = 0 ] || fail "dropped ($r) after a retry"
done
eg_finish
python3 - "$SLOG" <<'EOF' || fail "the retries did not resend the same batch"
import json, sys
reqs = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["n"])
assert [r["status"] for r in reqs] == [500, 500, 200], reqs
assert reqs[0]["body"] == reqs[1]["body"] == reqs[2]["body"]
assert [a["event"]["pid"] for a in json.loads(reqs[2]["body"])] == [201, 202, 203, 204]
EOF
grep -qxF "ebpf-guard: webhook: cannot deliver 4 alerts: HTTP status 500; retrying in 0.5 s" "$W/stderr" ||
	fail "no retry message"
grep -qxF "ebpf-guard: webhook: delivering again" "$W/stderr" || fail "no recovery message"
reset_daemon

# ---- 400: refused for good, not retried ---------------------------------------
start_server 400
eg_start -alert-file "$W/alerts.jsonl" -webhook-url "http://127.0.0.1:$SPORT/" \
	-webhook-batch 2 -webhook-flush-ms 100
shells 2 300
wait_metric "$(series dropped_total webhook rejected)" 2
[ "$(metric "$(series errors_total webhook)")" = 1 ] || fail "want 1 error for a 400"
[ "$(metric "$(series alerts_total webhook)")" = 0 ] || fail "a 400 counted as delivered"
eg_finish
[ "$(wc -l <"$SLOG")" = 1 ] || fail "a 400 was retried: $(wc -l <"$SLOG") requests"
grep -qxF "ebpf-guard: webhook: the server refused 2 alerts: HTTP status 400 (dropped, not retried)" "$W/stderr" ||
	fail "no refusal message"
reset_daemon
stop_server

# ---- a dead port: detection and the file go on; bounded exit ------------------
DEAD=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
eg_start -alert-file "$W/alerts.jsonl" -webhook-url "http://127.0.0.1:$DEAD/" \
	-webhook-batch 5 -webhook-flush-ms 50 -webhook-retries 1 -webhook-drain-ms 1500
shells 5 400
wait_lines "$W/alerts.jsonl" 5 5
# 1 try + 1 retry (0.5 s later), then the batch is dropped
wait_metric "$(series dropped_total webhook retries)" 5
[ "$(metric "$(series errors_total webhook)")" = 2 ] || fail "dead port: want 2 errors"
[ "$(metric 'ebpf_guard_alerts_total{rule_id="builtin_suspicious_shell"}')" = 5 ] ||
	fail "detection counted wrong with a dead webhook"
# more alerts while it keeps failing: the file gets each at once
shells 50 500
wait_lines "$W/alerts.jsonl" 55 5
t0=$(date +%s%N)
eg_finish
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 4000 ] || fail "exit took ${ms} ms with a dead webhook and -webhook-drain-ms 1500"
# (failure messages: at most one per 10 s; curl's text has the time it took)
grep -q "^ebpf-guard: webhook: cannot deliver 5 alerts: Failed to connect to 127.0.0.1 port $DEAD after [0-9]* ms: Couldn't connect to server; retrying in 0.5 s$" "$W/stderr" ||
	fail "no connection error message"
grep -q "^ebpf-guard: webhook: [0-9]* alerts not delivered by the drain deadline (-webhook-drain-ms 1500)$" "$W/stderr" ||
	fail "no drain-deadline message"
reset_daemon

# ---- a slow server: the bounded queue overflows, counted; the file is on time --
start_server 200 1
eg_start -alert-file "$W/alerts.jsonl" -webhook-url "http://127.0.0.1:$SPORT/" \
	-webhook-batch 1 -webhook-queue 5 -webhook-flush-ms 10 -webhook-drain-ms 15000
t0=$(date +%s%N)
shells 20 600
wait_lines "$W/alerts.jsonl" 20 5
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 1500 ] || fail "the alert file waited for a slow webhook (${ms} ms)"
# one alert may be taken off the queue before it fills: 14 or 15 dropped
dropped=$(metric "$(series dropped_total webhook queue_full)")
[ "$dropped" = 14 ] || [ "$dropped" = 15 ] || fail "queue_full drops: '$dropped', want 14 or 15"
wait_metric "$(series alerts_total webhook)" $((20 - dropped)) 15
[ "$(metric "$(series queue_length webhook)")" = 0 ] || fail "queue not empty"
eg_finish
reset_daemon
stop_server

# ---- SIGTERM with a request hanging on a slow server: aborted at the deadline ----
start_server 200 20
eg_start -alert-file "$W/alerts.jsonl" -webhook-url "http://127.0.0.1:$SPORT/" \
	-webhook-batch 2 -webhook-flush-ms 10 -webhook-timeout-ms 60000 -webhook-drain-ms 1000
shells 6 900
wait_lines "$W/alerts.jsonl" 6 5
wait_metric "$(series queue_length webhook)" 6 # 2 in flight (hanging), 4 queued
t0=$(date +%s%N)
kill -TERM "$EG_PID"
rc=0
for _ in $(seq 100); do kill -0 "$EG_PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$EG_PID" 2>/dev/null && fail "no exit within 5 s of SIGTERM with a hanging webhook"
wait "$EG_PID" || rc=$?
EG_PID=
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
[ "$ms" -lt 3000 ] || fail "SIGTERM to exit took ${ms} ms with -webhook-drain-ms 1000"
grep -qxF "ebpf-guard: webhook: 6 alerts not delivered by the drain deadline (-webhook-drain-ms 1000)" "$W/stderr" ||
	fail "no drain-deadline message for the hanging request"
[ "$(wc -l <"$W/alerts.jsonl")" = 6 ] || fail "the file lost alerts"
exec 3>&- 2>/dev/null || true
reset_daemon
stop_server

# ---- TLS: verified against the system CAs by default, or -webhook-ca-file -----
command -v openssl >/dev/null || skip "openssl not installed: the TLS part cannot run"
if true; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$W/key.pem" -out "$W/cert.pem" \
		>/dev/null 2>&1 || fail "openssl could not make a certificate"
	CERT="$W/cert.pem" KEY="$W/key.pem" start_server 200
	eg_start -alert-file "$W/alerts.jsonl" -webhook-url "https://127.0.0.1:$SPORT/" \
		-webhook-batch 1 -webhook-flush-ms 10 -webhook-retries 0
	shells 1 700
	wait_metric "$(series dropped_total webhook retries)" 1
	eg_finish
	grep -q "^ebpf-guard: webhook: dropped 1 alerts after 0 retries: SSL certificate problem: self-signed certificate$" "$W/stderr" ||
		fail "a self-signed server was not refused: $(grep webhook "$W/stderr")"
	reset_daemon
	eg_start -alert-file "$W/alerts.jsonl" -webhook-url "https://127.0.0.1:$SPORT/" \
		-webhook-batch 1 -webhook-flush-ms 10 -webhook-ca-file "$W/cert.pem"
	shells 2 800
	wait_metric "$(series alerts_total webhook)" 2
	eg_finish
	[ "$(python3 -c 'import json,sys; print(sum(len(json.loads(json.loads(l)["body"])) for l in open(sys.argv[1])))' "$SLOG")" = 2 ] ||
		fail "TLS with -webhook-ca-file: want 2 alerts at the server"
	stop_server
fi

echo "ok: test_webhook"
