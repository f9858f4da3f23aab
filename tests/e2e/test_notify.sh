#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The service manager's notifications (Type=notify, WatchdogSec=), with the
# seccomp filter on: a listener on a Unix datagram socket stands in for
# systemd (tests/e2e/notify_listener.py). READY=1 comes from the daemon once
# its probes are attached and the filter is installed; WATCHDOG=1 every half
# WATCHDOG_USEC while the event loop runs, none while it is stopped, none
# without WATCHDOG_USEC or when WATCHDOG_PID names another process;
# STOPPING=1 after SIGTERM, last; the daemon exits 0.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 90
LPID=
stop_listener() {
	[ -z "$LPID" ] || { kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null; } || true
	LPID=
}
E2E_ON_EXIT=stop_listener

# run_with <name> [VAR=value...]: the daemon under a fresh listener; leaves
# the messages in $W/<name>.jsonl after SIGTERM.
run_with() {
	local name=$1
	shift
	rm -f "$W/notify.sock"
	"$PY" "$E2E_DIR/notify_listener.py" "$W/notify.sock" "$W/stderr" >"$W/$name.jsonl" 2>"$W/listener.err" &
	LPID=$!
	for _ in $(seq 100); do [ -S "$W/notify.sock" ] && break; sleep 0.05; done
	[ -S "$W/notify.sock" ] || fail "$name: the listener did not bind: $(cat "$W/listener.err")"
	env NOTIFY_SOCKET="$W/notify.sock" "$@" bash -c 'exec "$0" "$@"' "$EG_BIN" \
		-config "$W/rules.yaml" -alert-file "$W/alerts.jsonl" -prom-addr '' >"$W/stdout" 2>"$W/stderr" &
	EG_PID=$!
	for _ in $(seq 600); do
		grep -q '"READY=1"' "$W/$name.jsonl" && break
		kill -0 "$EG_PID" 2>/dev/null || fail "$name: the daemon exited at start-up"
		sleep 0.05
	done
	grep -q '"READY=1"' "$W/$name.jsonl" || fail "$name: no READY=1 within 30 s"
	if [ "$name" = watchdog ]; then
		sleep 1.5
		# stopped for 1 s: no pings meanwhile (measured in the listener's clock)
		kill -STOP "$EG_PID"
		"$PY" -c 'import time; print(time.monotonic() * 1000)' >"$W/stop_ms"
		sleep 1
		"$PY" -c 'import time; print(time.monotonic() * 1000)' >"$W/cont_ms"
		kill -CONT "$EG_PID"
		sleep 1
	else
		sleep 1.5
	fi
	e2e_stop TERM
	sleep 0.2
	stop_listener
	grep -q 'refused by the seccomp filter' "$W/stderr" && fail "$name: $(grep refused "$W/stderr")"
	return 0
}

cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_notify_open
    description: Marker file opened
    event_types: ["open"]
    filename_regex: "eg-e2e-notify-marker"
YAML

# WATCHDOG_USEC=400000: a ping every 200 ms
run_with watchdog WATCHDOG_USEC=400000
"$PY" - "$W/watchdog.jsonl" "$(cat "$W/stop_ms")" "$(cat "$W/cont_ms")" <<'PY' || fail "watchdog run: wrong notifications"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][1:]
stop_ms, cont_ms = float(sys.argv[2]), float(sys.argv[3])
msgs = [r["msg"] for r in recs]
assert msgs[0] == "READY=1", "first message %r, want READY=1" % msgs[0]
assert msgs[-1] == "STOPPING=1", "last message %r, want STOPPING=1" % msgs[-1]
ready = recs[0]
assert ready["attached_line"], "READY=1 came before the 'attached N probes' line"
assert ready["seccomp"] == "2", "READY=1 came before the seccomp filter (Seccomp: %s)" % ready["seccomp"]
assert set(msgs[1:-1]) == {"WATCHDOG=1"}, "unexpected messages %r" % sorted(set(msgs[1:-1]))
pids = {r["pid"] for r in recs}
assert len(pids) == 1, "senders %r" % pids
pings = [r["ms"] for r in recs if r["msg"] == "WATCHDOG=1"]
before = [t for t in pings if t < stop_ms]
during = [t for t in pings if stop_ms + 50 < t < cont_ms]
after = [t for t in pings if t > cont_ms]
assert not during, "%d pings while the daemon was stopped" % len(during)
gaps = [b - a for a, b in zip(before, before[1:])]
assert len(before) >= 5, "%d pings in 1.5 s, want about 7" % len(before)
assert min(gaps) >= 190, "pings %.0f ms apart, want >= 200" % min(gaps)
assert max(gaps) < 400, "pings %.0f ms apart: past WATCHDOG_USEC (400 ms)" % max(gaps)
assert after and after[0] - cont_ms < 400, "no ping within 400 ms of SIGCONT"
print("READY=1 after attach+seccomp, %d pings (gaps %.0f..%.0f ms), none while stopped, STOPPING=1 last"
      % (len(pings), min(gaps), max(gaps)))
PY

# no WATCHDOG_USEC; then a WATCHDOG_PID of another process: no pings
for name in plain otherpid; do
	if [ $name = plain ]; then run_with plain; else run_with otherpid WATCHDOG_USEC=400000 WATCHDOG_PID=1; fi
	got=$("$PY" -c 'import json,sys; print(",".join(json.loads(l)["msg"] for l in open(sys.argv[1]) if "msg" in l))' "$W/$name.jsonl")
	[ "$got" = "READY=1,STOPPING=1" ] || fail "$name: messages $got, want READY=1,STOPPING=1"
	echo "$name: $got"
done
echo "PASS"
