#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A bounded concurrent scrape load (8 workers x 200 requests, loopback only)
# while a replay runs: every scrape answers 200 with a whole, well-formed
# exposition and counters that never go down; no alert is lost; the event
# loop keeps going. Prints the scrape latency and the replay rate with and
# without the load.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 150

WORKERS=8 REQUESTS=200 BULK=100000 TRICKLE=40000
EVENTS=$((2 * BULK + TRICKLE))
eg_start -alert-file "$W/alerts.jsonl"

python3 - "$W/in" "$PORT" "$WORKERS" "$REQUESTS" "$BULK" "$TRICKLE" >"$W/load.txt" 2>&1 <<'EOF' ||
import http.client, json, re, sys, threading, time

fifo, port, workers, requests, bulk, trickle = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:])
SERIES = re.compile(rb'^ebpf_guard_events_total\{type="exec"\} (\d+)$', re.M)

def batch(first, n):
    # every 4th event is a shell exec: one builtin_suspicious_shell alert each
    out = []
    for i in range(first, first + n):
        if i % 4 == 0:
            ev = {"type": "exec", "comm": "bash", "filename": "/bin/bash"}
        elif i % 4 == 1:
            ev = {"type": "open", "comm": "cat", "filename": "/etc/hosts"}
        elif i % 4 == 2:
            ev = {"type": "connect", "comm": "curl", "filename": "connect",
                  "dest_ip": "10.0.0.1", "dest_port": 443}
        else:
            ev = {"type": "exec", "comm": "ls", "filename": "/usr/bin/ls"}
        ev.update({"timestamp": "2025-01-01T12:00:00Z", "pid": 1000 + i, "tgid": 1000 + i})
        out.append(json.dumps(ev))
    return ("\n".join(out) + "\n").encode()

def scrape(conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/metrics")
    r = c.getresponse()
    body = r.read()
    if not conn:
        c.close()
    return r.status, body

def exec_count():
    return int(SERIES.search(scrape()[1]).group(1))

def wait_exec(want, deadline=60):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if exec_count() >= want:
            return
        time.sleep(0.005)
    raise SystemExit("events not processed in time")

def feed(data):
    with open(fifo, "wb") as f:
        f.write(data)

# Phase 1: the replay alone.
data = batch(0, bulk)
t0 = time.monotonic()
feed(data)
wait_exec(bulk // 2)
alone = time.monotonic() - t0

# Phase 2: the same amount of events under the scrape load.
errors, lat = [], []
lock = threading.Lock()

def worker(k):
    last = 0
    keep = http.client.HTTPConnection("127.0.0.1", port, timeout=5) if k % 2 else None
    for _ in range(requests):
        t = time.monotonic()
        try:
            status, body = scrape(keep)
        except Exception as e:  # noqa: BLE001
            with lock:
                errors.append(repr(e))
            keep = http.client.HTTPConnection("127.0.0.1", port, timeout=5) if k % 2 else None
            continue
        d = time.monotonic() - t
        m = SERIES.search(body)
        with lock:
            lat.append(d)
            if status != 200:
                errors.append("status %d" % status)
            elif not m or not body.endswith(b"\n") or b"process_start_time_seconds " not in body:
                errors.append("malformed body")
            elif int(m.group(1)) < last:
                errors.append("exec counter went down")
        if m:
            last = int(m.group(1))

threads = [threading.Thread(target=worker, args=(k,)) for k in range(workers)]
data = batch(bulk, bulk)
t0 = time.monotonic()
for t in threads:
    t.start()
while len(lat) < 100:
    time.sleep(0.001)
# Phase 2: as many events under the scrape load ...
t1 = time.monotonic()
feed(data)
wait_exec(bulk)
loaded = time.monotonic() - t1
# ... then a trickle of events until the scrapers are done.
with open(fifo, "wb") as f:
    for first in range(2 * bulk, 2 * bulk + trickle, 1000):
        f.write(batch(first, 1000))
        f.flush()
        time.sleep(0.01)
for t in threads:
    t.join()
scrape_time = time.monotonic() - t0
lat.sort()
print("replay of %d events: %.3f s alone, %.3f s under the scrape load" % (bulk, alone, loaded))
print("scrapes: %d in %.2f s (%.0f/s), latency p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (
    len(lat), scrape_time, len(lat) / scrape_time, lat[len(lat) // 2] * 1e3,
    lat[int(len(lat) * 0.99)] * 1e3, lat[-1] * 1e3))
if errors:
    print("errors (%d): %s" % (len(errors), sorted(set(errors))[:10]))
    sys.exit(1)
if len(lat) != workers * requests:
    sys.exit("only %d scrapes answered" % len(lat))
EOF
	fail "scrape load: $(cat "$W/load.txt")"
cat "$W/load.txt"

want_alerts=$((EVENTS / 4))
wait_metric 'ebpf_guard_events_total{type="exec"}' $((EVENTS / 2))
wait_metric 'ebpf_guard_events_total{type="open"}' $((EVENTS / 4))
wait_metric 'ebpf_guard_events_total{type="connect"}' $((EVENTS / 4))
wait_lines "$W/alerts.jsonl" "$want_alerts" 30
[ "$(metric 'ebpf_guard_alerts_total{rule_id="builtin_suspicious_shell"}')" = "$want_alerts" ] ||
	fail "alerts_total is not $want_alerts"
[ "$(rule_counts "$W/alerts.jsonl")" = "builtin_suspicious_shell $want_alerts" ] ||
	fail "alert file: $(rule_counts "$W/alerts.jsonl")"
[ "$(python3 -c 'import json,sys; print(len({json.loads(l)["event"]["pid"] for l in open(sys.argv[1])}))' \
	"$W/alerts.jsonl")" = "$want_alerts" ] || fail "duplicate alerts"
[ "$(metric ebpf_guard_alerts_lost_total)" = 0 ] || fail "alerts lost"
[ "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ] ||
	fail "/healthz after the load"
eg_finish
echo "ok ($EG_NAME)"
