#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The webhook resolves its host name through DNS with the seccomp filter on
# (glibc's DNS client: socket, connect, sendmmsg, poll, ioctl FIONREAD,
# recvfrom). In a private mount namespace /etc/resolv.conf names a stub DNS
# server of the test on 127.0.0.153:53, which answers eg-hook.test with
# 127.0.0.1 (where the test's webhook server listens) and anything else with
# NXDOMAIN. Needs root (the mount namespace, port 53).
set -euo pipefail
. "$(dirname "$0")/daemon_lib.sh"
eg_init 90
[ "$(id -u)" = 0 ] || skip "needs root (a private mount namespace, port 53)"
command -v unshare >/dev/null || skip "needs unshare (util-linux)"

python3 "$EG_SOURCE_DIR/tests/integration/webhook_server.py" "$W/sport" "$W/requests.jsonl" 200 0 \
	eg-test-webhook-dns-server &
EG_HELPERS="${EG_HELPERS:-} $!"
python3 - "$W/dns.log" "$W/dns.ready" eg-test-webhook-dns-stub <<'EOF' &
import socket, struct, sys
log, ready = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.153", 53))
open(ready, "w").close()
while True:
    q, peer = s.recvfrom(4096)
    qid, flags, qd = struct.unpack("!HHH", q[:6])
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode())
        i += 1 + q[i]
    qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    name = ".".join(labels).lower()
    with open(log, "a") as f:
        f.write("%s %d\n" % (name, qtype))
    rd = flags & 0x0100
    if name == "eg-hook.test":
        answers = b""
        if qtype == 1:  # A
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
        head = struct.pack("!HHHHHH", qid, 0x8080 | rd, 1, 1 if answers else 0, 0, 0)
    else:  # NXDOMAIN
        answers = b""
        head = struct.pack("!HHHHHH", qid, 0x8083 | rd, 1, 0, 0, 0)
    s.sendto(head + question + answers, peer)
EOF
EG_HELPERS="${EG_HELPERS:-} $!"
for _ in $(seq 100); do [ -s "$W/sport" ] && [ -e "$W/dns.ready" ] && break; sleep 0.05; done
[ -s "$W/sport" ] && [ -e "$W/dns.ready" ] || fail "the stub DNS server or the webhook server did not start"
SPORT=$(cat "$W/sport")
printf 'nameserver 127.0.0.153\noptions timeout:2 attempts:1\n' >"$W/resolv.conf"
printf '{"timestamp":"2025-01-01T12:00:00Z","pid":%d,"tgid":%d,"type":"exec","comm":"bash","filename":"/usr/bin/bash"}\n' \
	1 1 2 2 3 3 >"$W/events.jsonl"

# run_ns <url> <alert file>: a replay in a mount namespace with our resolv.conf
run_ns() {
	timeout 30 unshare -m --propagation private sh -c \
		'mount --bind "$1" /etc/resolv.conf && exec "$2" -replay "$3" -alert-file "$4" -prom-addr "" \
			-webhook-url "$5" -webhook-retries 0 -webhook-flush-ms 10 -webhook-timeout-ms 5000' \
		sh "$W/resolv.conf" "$EG_BIN" "$W/events.jsonl" "$2" "$1" >/dev/null 2>"$W/stderr"
}

rc=0
run_ns "http://eg-hook.test:$SPORT/dns" "$W/a1.jsonl" || rc=$?
[ "$rc" = 0 ] || fail "replay with a webhook by name exited $rc"
grep -q "refused by the seccomp filter" "$W/stderr" && fail "a system call was refused"
grep -qx "eg-hook.test 1" "$W/dns.log" || fail "the stub DNS server was not asked: $(cat "$W/dns.log")"
python3 - "$W/requests.jsonl" "$W/a1.jsonl" <<'EOF' || fail "alerts did not arrive by name"
import json, sys
got = [a for r in map(json.loads, open(sys.argv[1])) for a in json.loads(r["body"])]
want = [json.loads(l) for l in open(sys.argv[2])]
assert len(want) == 3 and got == want, (len(got), len(want))
EOF

rc=0
run_ns "http://eg-nx.test:$SPORT/" "$W/a2.jsonl" || rc=$?
[ "$rc" = 0 ] || fail "replay with an unknown webhook host exited $rc"
grep -q "refused by the seccomp filter" "$W/stderr" && fail "a system call was refused"
grep -qxF "ebpf-guard: webhook: dropped 3 alerts after 0 retries: Could not resolve host: eg-nx.test" "$W/stderr" ||
	fail "no resolve error: $(cat "$W/stderr")"
[ "$(wc -l <"$W/a2.jsonl")" = 3 ] || fail "the alert file lost alerts"

echo "ok: test_webhook_dns"
