#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest: alone (probes must answer within 2 s during the flood)
# A local user flooding the metrics server (docs/metrics.md, "Limits"):
# 144 connections from 127.0.0.1 (the address the probes come from) and
# 127.0.0.2 ... 127.0.0.6, half of them idle, half trickling a request that
# never ends, each reopened as soon as the server closes it (at most 400
# connects a second). Meanwhile:
#   - 10 /healthz probes from 127.0.0.1, one every 0.5 s, all answer 200
#     within 2 s each (before: 8 of 10 failed);
#   - /metrics still answers and events keep flowing.
# Then, flood over: connections that send nothing are closed after about 2 s
# (the inactivity timeout), and so is one that sent half a request.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 120

eg_start -alert-file "$W/alerts.jsonl"

python3 - "$PORT" "$W/flood.stop" >"$W/flood.txt" 2>&1 <<'EOF' &
import os, selectors, socket, sys, time
port, stop = int(sys.argv[1]), sys.argv[2]
ADDRS = ["127.0.0.%d" % i for i in range(1, 7)]
PER_ADDR, RATE = 24, 400.0      # connections held per address, connects/s
sel = selectors.DefaultSelector()
want = [(a, k) for a in ADDRS for k in range(PER_ADDR)]
conns = {}                       # slot -> socket
sent = set()                     # slots whose request line went out
opened = closed = 0
budget, last = RATE, time.monotonic()

def open_slot(slot):
    global opened
    s = socket.socket()
    s.setblocking(False)
    s.bind((slot[0], 0))
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    except OSError:
        s.close()
        return
    conns[slot] = s
    sel.register(s, selectors.EVENT_READ, slot)
    opened += 1

t_end = time.monotonic() + 60
next_trickle = time.monotonic()
while time.monotonic() < t_end and not os.path.exists(stop):
    now = time.monotonic()
    budget = min(RATE, budget + (now - last) * RATE)
    last = now
    for slot in want:
        if slot not in conns and budget >= 1:
            budget -= 1
            open_slot(slot)
    if now >= next_trickle:   # odd slots: a request that never ends
        next_trickle = now + 0.5
        for slot, s in conns.items():
            if slot[1] % 2:
                try:
                    s.send(b"a" if slot in sent else b"GET /metrics HTTP/1.1\r\nX-a: ")
                    sent.add(slot)
                except OSError:
                    pass
    for key, _ in sel.select(0.02):
        s, slot = key.fileobj, key.data
        try:
            d = s.recv(4096)
        except BlockingIOError:
            continue
        except OSError:
            d = b""
        if not d:
            sel.unregister(s)
            s.close()
            del conns[slot]
            sent.discard(slot)
            closed += 1
print("flood: opened %d, closed by the server %d, holding %d" % (opened, closed, len(conns)), flush=True)
EOF
flood=$!
EG_HELPERS=$flood
sleep 2 # the flood is up

ok=0 slowest=0
for i in $(seq 10); do
	out=$(curl -s --max-time 2 -o /dev/null -w '%{http_code} %{time_total}' "$URL/healthz" || true)
	code=${out%% *}
	if [ "$code" = 200 ]; then
		ok=$((ok + 1))
		slowest=$(python3 -c "print(max($slowest, ${out#* }))")
	else
		echo "probe $i: '$out'"
	fi
	sleep 0.5
done
echo "healthz under the flood: $ok of 10 answered (slowest ${slowest}s)"
[ "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "$URL/metrics")" = 200 ] ||
	mfail=1
eg_send "$(ev exec 1 bash /bin/bash)"
touch "$W/flood.stop"
wait "$flood" || true
EG_HELPERS=
cat "$W/flood.txt"
[ "$ok" = 10 ] || fail "only $ok of 10 /healthz probes answered under the flood"
[ -z "${mfail:-}" ] || fail "/metrics did not answer under the flood"
wait_lines "$W/alerts.jsonl" 1

# Flood over: idle connections, and one that sent half a request, are closed
# after about 2 s without traffic.
python3 - "$PORT" >"$W/idle.txt" 2>&1 <<'EOF' || fail "idle check: $(cat "$W/idle.txt")"
import socket, sys, time
port = int(sys.argv[1])
socks = []
for i in range(4):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if i == 3:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    socks.append(s)
t0 = time.monotonic()
for i, s in enumerate(socks):
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    t = time.monotonic() - t0
    print("connection %d closed after %.2f s" % (i, t))
    if not 1.5 <= t <= 3.5:
        print("want about 2 s")
        sys.exit(1)
EOF
cat "$W/idle.txt"
eg_finish
echo "PASS ($EG_NAME)"
