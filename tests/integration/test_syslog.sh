#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The syslog output (docs/output.md, "Syslog"), seccomp filter on: the exact RFC 5424 bytes received on a Unix
# datagram socket and over UDP (escaped SD-PARAM values, U+FFFD for invalid
# UTF-8, severity and facility in PRI, the alert JSON as MSG); a missing
# receiver and a full one drop and count without holding up the file. Flag
# errors. (journald: test_journald.sh.)
set -euo pipefail
. "$(dirname "$0")/daemon_lib.sh"
eg_init 180

# recv <socket> <out>: a receiver (unix:PATH or udp:PORTFILE) writing each
# datagram, base64, one per line to out; "stall" as a 3rd argument never reads.
recv() {
	python3 - "$@" eg-test-syslog-recv <<'EOF' &
import base64, os, socket, sys, time
where, out = sys.argv[1], sys.argv[2]
stall = len(sys.argv) > 3 and sys.argv[3] == "stall"
if where.startswith("unix:"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(where[5:])
    ready = where[5:] + ".ready"
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    ready = where[4:]
    with open(ready + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(ready + ".tmp", ready)
    ready = None
if ready:
    open(ready, "w").close()
while stall:
    time.sleep(1)
while True:
    d = s.recv(1 << 20)
    with open(out, "a") as f:
        f.write(base64.b64encode(d).decode() + "\n")
EOF
	RPID=$!
	EG_HELPERS="${EG_HELPERS:-} $RPID"
}

wait_file() {
	local i
	for i in $(seq 100); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	fail "$1 did not appear"
}

stop_recv() {
	kill "$RPID" 2>/dev/null || true
	wait "$RPID" 2>/dev/null || true
}

series() { # series <family> <output> [reason]
	if [ -n "${3:-}" ]; then
		echo "ebpf_guard_output_${1}{output=\"$2\",reason=\"$3\"}"
	else
		echo "ebpf_guard_output_${1}{output=\"$2\"}"
	fi
}

# A rule with two tags, severity critical, and events with awkward bytes.
cat >"$W/rules.yaml" <<'EOF'
rules:
  - id: eg_test_shell
    description: Shell "test" ] \ run
    event_types: ["exec"]
    comm_regex: "^ba"
    severity: critical
    tags: ["T1059.004", "TA0002"]
EOF
python3 - "$W/events.jsonl" <<'EOF'
import json, sys
def ev(pid, comm, fn, **kw):
    d = {"timestamp": "2025-01-01T12:00:00.123456789Z", "pid": pid, "tgid": pid, "type": "exec",
         "comm": comm, "filename": fn, "exe": "/usr/bin/bash", "uid": 1000, "dest_ip": "", "dest_port": 0,
         "hostname": "web-1", "host_id": "0123456789abcdef0123456789abcdef"}
    d.update(kw)
    return json.dumps(d)
with open(sys.argv[1], "w") as f:
    f.write(ev(101, 'ba"s]h\\', "/tmp/q\"uote]") + "\n")
    # invalid UTF-8 (written \udcff in JSON), a newline, a host name with a space
    f.write(ev(102, "bash", "/tmp/caf\udce9\nx", hostname="my host") + "\n")
EOF

# ---- flag errors ---------------------------------------------------------------
expect_usage_error "ebpf-guard: invalid -syslog 'dev/log': expected an absolute Unix socket path (/dev/log, unix:/path) or udp://HOST:PORT" \
	-syslog dev/log
expect_usage_error "ebpf-guard: invalid -syslog-facility 'security': expected kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp or local0..local7" \
	-syslog /dev/log -syslog-facility security
expect_usage_error "ebpf-guard: -syslog-facility only applies to -syslog and -journald" -syslog-facility local0
rc=0
"$EG_BIN" -replay /dev/null -alert-file "$W/x.jsonl" -syslog udp://127.0.0.1 2>"$W/e" || rc=$?
[ "$rc" = 1 ] && [ "$(tail -n1 "$W/e")" = "ebpf-guard: invalid -syslog 'udp://127.0.0.1': expected udp://HOST:PORT" ] ||
	fail "-syslog udp://127.0.0.1: exit $rc: $(cat "$W/e")"
rm -f "$W/x.jsonl"

# ---- RFC 5424 on a Unix datagram socket: the exact bytes -------------------------
recv "unix:$W/log.sock" "$W/got.b64"
wait_file "$W/log.sock.ready"
rc=0
"$EG_BIN" -replay "$W/events.jsonl" -config "$W/rules.yaml" -disable-rule builtin_suspicious_shell -alert-file "$W/alerts.jsonl" \
	-syslog "unix:$W/log.sock" >/dev/null 2>"$W/stderr" &
DPID=$!
wait "$DPID" || rc=$?
[ "$rc" = 0 ] || fail "replay with -syslog exited $rc"
wait_lines "$W/got.b64" 2
stop_recv
python3 - "$W/got.b64" "$W/alerts.jsonl" "$DPID" <<'EOF' || fail "syslog messages differ"
import base64, sys
got = [base64.b64decode(l) for l in open(sys.argv[1])]
alerts = open(sys.argv[2], "rb").read().split(b"\n")[:-1]
pid = sys.argv[3].encode()
sd = (b'[ebpf-guard@32473 rule_id="eg_test_shell" severity="critical" event_type="exec" '
      b'tags="T1059.004,TA0002" pid="%d" tgid="%d" uid="1000" comm="%s" exe="/usr/bin/bash" filename="%s"]')
want = [
    b"<26>1 2025-01-01T12:00:00.123456Z web-1 ebpf-guard " + pid + b" alert "
    + sd % (101, 101, b'ba\\"s\\]h\\\\', b'/tmp/q\\"uote\\]') + b" \xef\xbb\xbf" + alerts[0],
    b"<26>1 2025-01-01T12:00:00.123456Z my_host ebpf-guard " + pid + b" alert "
    + sd % (102, 102, b"bash", b"/tmp/caf\xef\xbf\xbd\nx") + b" \xef\xbb\xbf" + alerts[1],
]
for g, w in zip(got, want):
    assert g == w, (g, w)
assert len(got) == 2
EOF

# ---- UDP, another facility ---------------------------------------------------------
recv "udp:$W/udp.port" "$W/udp.b64"
wait_file "$W/udp.port"
"$EG_BIN" -replay "$W/events.jsonl" -config "$W/rules.yaml" -disable-rule builtin_suspicious_shell -alert-file "$W/alerts2.jsonl" \
	-syslog "udp://127.0.0.1:$(cat "$W/udp.port")" -syslog-facility local0 >/dev/null 2>&1 ||
	fail "replay with -syslog udp:// failed"
wait_lines "$W/udp.b64" 2
stop_recv
[ "$(head -n1 "$W/udp.b64" | base64 -d | head -c 13)" = "<130>1 2025-0" ] ||
	fail "UDP: PRI of local0.crit: $(head -n1 "$W/udp.b64" | base64 -d | head -c 40)"

# ---- no receiver, then one that never reads: dropped and counted, file unharmed --
eg_start -config "$W/rules.yaml" -disable-rule builtin_suspicious_shell -alert-file "$W/alerts3.jsonl" -syslog "$W/absent.sock"
eg_send "$(head -n1 "$W/events.jsonl")" "$(head -n1 "$W/events.jsonl")"
wait_lines "$W/alerts3.jsonl" 2
wait_metric "$(series dropped_total syslog unavailable)" 2
[ "$(metric "$(series errors_total syslog)")" = 2 ] || fail "errors for a missing receiver"
[ "$(metric "$(series alerts_total syslog)")" = 0 ] || fail "alerts counted as sent"
eg_finish
grep -qxF "ebpf-guard: syslog: cannot send an alert: No such file or directory (dropped; counted in ebpf_guard_output_dropped_total)" "$W/stderr" ||
	fail "no message for a missing receiver"
rm -f "$W/in"
recv "unix:$W/stall.sock" /dev/null stall
wait_file "$W/stall.sock.ready"
eg_start -config "$W/rules.yaml" -disable-rule builtin_suspicious_shell -alert-file "$W/alerts4.jsonl" -syslog "$W/stall.sock"
for i in $(seq 100); do eg_send "$(head -n1 "$W/events.jsonl")"; done
wait_lines "$W/alerts4.jsonl" 100 5
sent=$(metric "$(series alerts_total syslog)")
busy=$(metric "$(series dropped_total syslog busy)")
[ "$busy" -gt 0 ] && [ $((sent + busy)) = 100 ] ||
	fail "a receiver that never reads: sent '$sent', dropped busy '$busy'"
eg_finish
stop_recv
rm -f "$W/in"

echo "ok: test_syslog"
