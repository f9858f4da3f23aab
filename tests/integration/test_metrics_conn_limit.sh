#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The metrics server's connection limits (docs/metrics.md): 16 per client
# address and 64 in all. Every connection proves it was accepted by getting
# a keep-alive /healthz answer, then stays open and idle:
#   - 16 from 127.0.0.2 are served; a 17th from 127.0.0.2 is closed at once;
#   - 16 each from 127.0.0.2 ... 127.0.0.5 (64 in all) are all served;
#   - a 65th, from 127.0.0.6, is not served while the 64 stay open;
#   - after 4 of them close, that 65th is served, and so is a new one.
# Everything happens well within the server's 10 s inactivity timeout.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 60

eg_start -alert-file "$W/alerts.jsonl"
rc=0
timeout 30 python3 - "$PORT" >"$W/client.txt" 2>&1 <<'EOF' || rc=$?
import socket, sys, time

port = int(sys.argv[1])
REQ = b"GET /healthz HTTP/1.1\r\nHost: eg\r\n\r\n"
t0 = time.monotonic()

def die(msg):
    print("FAIL: %s (%.1f s after the first connection)" % (msg, time.monotonic() - t0))
    sys.exit(1)

def connect(src):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(3)
    s.connect(("127.0.0.1", port))
    return s

def answer(s, secs):
    """The /healthz answer; None when none came within secs; 'closed' when
    the server closed the connection without one."""
    buf, end = b"", time.monotonic() + secs
    try:
        while not buf.endswith(b"\r\n\r\nok\n"):
            left = end - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            d = s.recv(4096)
            if not d:
                return "closed"
            buf += d
    except socket.timeout:
        return None
    except ConnectionResetError:
        return "closed"
    return buf

def served(s):
    r = answer(s, 3)
    return isinstance(r, bytes) and r.startswith(b"HTTP/1.1 200 ")

held = {}
def hold(addr, n):
    for _ in range(n):
        s = connect(addr)
        s.sendall(REQ)
        if not served(s):
            die("connection %d of %s (%d open in all) was not served" %
                (len(held.get(addr, [])) + 1, addr, sum(map(len, held.values()))))
        held.setdefault(addr, []).append(s)

# Per address: 16 served, the 17th closed at once.
hold("127.0.0.2", 16)
s = connect("127.0.0.2")
s.sendall(REQ)
r = answer(s, 2)
if r != "closed":
    die("a 17th connection from 127.0.0.2 was not closed at once: %r" % (r,))
s.close()

# In all: 64 served from four addresses.
for a in ("127.0.0.3", "127.0.0.4", "127.0.0.5"):
    hold(a, 16)
print("held", sum(map(len, held.values())), flush=True)

# The 65th is not served while the 64 stay open.
extra = connect("127.0.0.6")
extra.sendall(REQ)
r = answer(extra, 1.5)
if r is not None:
    die("a 65th connection got %r while 64 were open" % (r,))
print("65th waits", flush=True)

# Slots free up when connections close: the waiting one is served, then a new one.
for s in held["127.0.0.2"][:4]:
    s.close()
r = answer(extra, 3)
if not (isinstance(r, bytes) and r.startswith(b"HTTP/1.1 200 ")):
    die("the 65th connection was not served after 4 closed: %r" % (r,))
s = connect("127.0.0.7")
s.sendall(REQ)
if not served(s):
    die("a new connection was not served after 4 closed")
print("freed after %.1f s" % (time.monotonic() - t0), flush=True)
for lst in held.values():
    for s in lst:
        s.close()
EOF
[ "$rc" = 0 ] || fail "client exited $rc: $(cat "$W/client.txt")"
grep -qx 'held 64' "$W/client.txt" || fail "client: $(cat "$W/client.txt")"

# The server still works for everyone, and so does the event loop.
[ "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$URL/metrics")" = 200 ] ||
	fail "no scrape after the limit test"
eg_send "$(ev exec 1 bash /bin/bash)"
wait_lines "$W/alerts.jsonl" 1
eg_finish
cat "$W/client.txt"
echo "PASS ($EG_NAME)"
