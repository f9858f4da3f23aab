#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A hostile client (loopback only) opening 40 connections from 127.0.0.2,
# each with a request it never finishes: it keeps at most the per-IP limit
# (each connection past it closes that address's oldest), scrapes from
# 127.0.0.1 still answer, events keep flowing, and its connections are closed
# after the server's 2 s inactivity timeout.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 90

eg_start -alert-file "$W/alerts.jsonl"
python3 - "$PORT" >"$W/hostile.txt" 2>&1 <<'EOF' &
import socket, sys, time
port, socks, refused = int(sys.argv[1]), [], 0
for _ in range(40):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.settimeout(20)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /metrics HTTP/1.1\r\n")  # and never finish the request
        socks.append(s)
    except OSError:
        refused += 1
t0 = time.monotonic()
time.sleep(0.5)
# Connections past the limit make the server close the oldest at once.
open_ = []
for s in socks:
    s.setblocking(False)
    try:
        closed = s.recv(1) == b""
    except BlockingIOError:
        closed = False
    except OSError:
        closed = True
    s.setblocking(True)
    if not closed:
        open_.append(s)
print("held", len(open_), "of", len(socks) + refused, flush=True)
# The rest time out.
for s in open_:
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
print("all closed after %.1f s" % (time.monotonic() - t0), flush=True)
EOF
hostile=$!
EG_HELPERS=$hostile
for i in $(seq 100); do grep -q '^held' "$W/hostile.txt" && break; sleep 0.05; done
held=$(awk '/^held/ {print $2}' "$W/hostile.txt")
[ -n "$held" ] || fail "hostile client: $(cat "$W/hostile.txt")"
[ "$held" -le 16 ] || fail "one address holds $held connections (per-IP limit 16)"

# Scrapes from another address and event processing are unaffected.
for i in $(seq 20); do
	[ "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "$URL/metrics")" = 200 ] ||
		fail "scrape $i failed while the hostile client holds $held connections"
done
eg_send "$(ev exec 1 bash /bin/bash)"
wait_lines "$W/alerts.jsonl" 1

wait "$hostile" || true
EG_HELPERS=
cat "$W/hostile.txt"
secs=$(awk '/^all closed after/ {print $4}' "$W/hostile.txt")
[ -n "$secs" ] || fail "hostile connections not closed: $(cat "$W/hostile.txt")"
python3 -c "import sys; sys.exit(0 if 1.5 <= $secs <= 4 else 1)" ||
	fail "idle connections closed after ${secs}s, want about 2 s"
eg_finish
echo "ok ($EG_NAME)"
