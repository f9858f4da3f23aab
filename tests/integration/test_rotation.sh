#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Alert file rotation while events stream in: mv + SIGUSR1, logrotate's
# 'create' mode (the new file made before the signal), mv + SIGHUP, and
# logrotate itself with examples/logrotate.conf when it is installed. The
# union of all files holds every alert exactly once, in whole lines, and each
# file holds a later range of events than the one before it.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 120

alerts=$W/alerts.jsonl
eg_start -alert-file "$alerts"

# One shell exec (one builtin_suspicious_shell alert) per event, increasing
# pids, 10,000 events a second: at least 40,000, and on until the rotations
# are done ($W/rotated exists); the count goes to $W/written.
python3 - "$W/in" "$W/rotated" "$W/written" <<'EOF' &
import json, os, sys, time
fifo, done, out = sys.argv[1:]
i = 0
with open(fifo, "w") as f:
    while i < 40000 or (not os.path.exists(done) and i < 2000000):
        for _ in range(200):
            f.write(json.dumps({"timestamp": "2025-01-01T12:00:00Z", "pid": 10000 + i,
                                "tgid": 10000 + i, "type": "exec", "comm": "bash",
                                "filename": "/bin/bash", "dest_ip": "", "dest_port": 0}) + "\n")
            i += 1
        f.flush()
        time.sleep(0.02)
open(out, "w").write("%d\n" % i)
EOF
writer=$!
EG_HELPERS=$writer

wait_nonempty() {
	local i
	for i in $(seq 200); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	fail "$1 stayed empty or missing for 10 s"
}

wait_nonempty "$alerts"
# 1. mv + SIGUSR1: the daemon creates the file again.
mv "$alerts" "$alerts.1"
kill -USR1 "$EG_PID"
wait_nonempty "$alerts"
# 2. logrotate 'create': the new file exists (0600) before the signal.
mv "$alerts" "$alerts.2"
install -m 600 /dev/null "$alerts"
kill -USR1 "$EG_PID"
wait_nonempty "$alerts"
# 3. mv + SIGHUP (reload and reopen).
mv "$alerts" "$alerts.3"
kill -HUP "$EG_PID"
wait_nonempty "$alerts"
# 4. logrotate itself with examples/logrotate.conf (path and signal adapted).
rotated=()
if command -v logrotate >/dev/null; then
	python3 - "$EG_SOURCE_DIR/examples/logrotate.conf" "$alerts" "$EG_PID" >"$W/lr.conf" <<'EOF'
import re, sys
conf, path, pid = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
conf = conf.replace("/var/log/ebpf-guard/alerts.jsonl", path)
conf = re.sub(r"postrotate\n.*?endscript", "postrotate\n        kill -USR1 %s\n    endscript" % pid,
              conf, flags=re.S)
print(conf.replace("create 0600 root root", "create 0600"))
EOF
	logrotate -f -s "$W/lr.state" "$W/lr.conf" 2>"$W/lr.err" || fail "logrotate: $(cat "$W/lr.err")"
	rotated=("$alerts"-*)
	[ "${#rotated[@]}" = 1 ] && [ -f "${rotated[0]}" ] || fail "logrotate left: $(ls "$W")"
	wait_nonempty "$alerts"
else
	echo "note: logrotate not installed, examples/logrotate.conf not exercised"
fi
touch "$W/rotated"
wait "$writer" || fail "event writer failed"
EG_HELPERS=
N=$(cat "$W/written")
[ "$N" -ge 40000 ] || fail "writer: $N events"
wait_metric 'ebpf_guard_events_total{type="exec"}' "$N" 30
wait_metric 'ebpf_guard_alerts_total{rule_id="builtin_suspicious_shell"}' "$N"
eg_finish

[ "$(stat -c %a "$alerts")" = 600 ] || fail "new alert file mode $(stat -c %a "$alerts")"
python3 - "$N" "$alerts.1" "$alerts.2" "$alerts.3" "${rotated[@]}" "$alerts" <<'EOF' || fail "rotation check"
import json, sys
n, files = int(sys.argv[1]), sys.argv[2:]
seen, prev_max = set(), -1
for path in files:
    data = open(path, "rb").read()
    assert data.endswith(b"\n"), "%s: partial last line" % path
    pids = [json.loads(line)["event"]["pid"] for line in data.splitlines()]
    assert pids, "%s is empty" % path
    assert pids == sorted(pids), "%s: out of order" % path
    assert pids[0] > prev_max, "%s starts at %d, the previous file ended at %d" % (path, pids[0], prev_max)
    prev_max = pids[-1]
    dup = seen.intersection(pids)
    assert not dup and len(set(pids)) == len(pids), "%s: duplicated alerts" % path
    seen.update(pids)
    print("%s: %d alerts" % (path.rsplit("/", 1)[1], len(pids)))
missing = set(range(10000, 10000 + n)) - seen
assert not missing, "%d alerts lost, first %d" % (len(missing), min(missing))
assert len(seen) == n
EOF
echo "ok ($EG_NAME)"
