#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The alert outputs live (seccomp filter on, live mode's list): an exec of a
# copy of /bin/true under /dev/shm reaches the JSONL file, a local webhook
# (tests/integration/webhook_server.py) and a Unix-socket syslog receiver
# with the same alert; the daemon stops within 3 s of SIGTERM; the webhook's
# thread was refused no system call.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 120

python3 "$EG_SOURCE_DIR/tests/integration/webhook_server.py" "$W/sport" "$W/requests.jsonl" 200 0 \
	eg-e2e-outputs-server &
SPID=$!
python3 - "$W/log.sock" "$W/syslog.txt" eg-e2e-outputs-recv <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    d = s.recv(1 << 20)
    with open(sys.argv[2], "ab") as f:
        f.write(d.replace(b"\n", b" ") + b"\n")
EOF
RPID=$!
stop_helpers() {
	kill "$SPID" "$RPID" 2>/dev/null || true
	wait "$SPID" "$RPID" 2>/dev/null || true
}
E2E_ON_EXIT=stop_helpers
for _ in $(seq 100); do [ -s "$W/sport" ] && [ -S "$W/log.sock" ] && break; sleep 0.05; done
[ -s "$W/sport" ] && [ -S "$W/log.sock" ] || fail "the receivers did not start"

e2e_start -webhook-url "http://127.0.0.1:$(cat "$W/sport")/" -webhook-flush-ms 100 \
	-syslog "$W/log.sock"
shm=$(mktemp -d /dev/shm/eg-e2e.XXXXXX)
clean_later "$shm"
cp /bin/true "$shm/true"
run_helper exec "$shm/true"
expect_alerts --where pid="$HPID" --where filename="$shm/true" --rules builtin_fileless_exec

for _ in $(seq 100); do
	[ -s "$W/requests.jsonl" ] && grep -q "\"pid\":$HPID," "$W/requests.jsonl" &&
		grep -q " pid=\"$HPID\" " "$W/syslog.txt" 2>/dev/null && break
	sleep 0.05
done
"$PY" - "$W/alerts.jsonl" "$W/requests.jsonl" "$HPID" <<'EOF' || fail "the webhook's alert differs from the file's"
import json, sys
pid = int(sys.argv[3])
want = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["event"]["pid"] == pid]
got = [a for r in map(json.loads, open(sys.argv[2])) for a in json.loads(r["body"])
       if a["event"]["pid"] == pid]
assert want and got == want, (got, want)
EOF
grep -q "^<[0-9]*>1 .* ebpf-guard $EG_PID alert \[ebpf-guard@32473 rule_id=\"builtin_fileless_exec\" severity=\"critical\" event_type=\"exec\" tags=\"T1620\" pid=\"$HPID\" " "$W/syslog.txt" ||
	fail "no syslog message for pid $HPID: $(tail -n 2 "$W/syslog.txt" 2>/dev/null)"
[ "$(metric 'ebpf_guard_output_errors_total{output="webhook"}')" = 0 ] || fail "webhook errors"
e2e_stop
grep -q "refused by the seccomp filter" "$W/stderr" && fail "a system call was refused"
echo "ok: test_outputs (stopped in ${STOP_MS} ms)"
