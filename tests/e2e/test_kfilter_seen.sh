#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A detection's once_per on connect kept in the kernel (bpf kf_seen): a
# process's repeated connects to one destination within the window stay in
# the kernel (ebpf_guard_events_filtered_total{type="connect"}) and reach
# match once; a connect after the window crosses and reaches it again;
# each new destination crosses (a scan is seen whole); connects another
# rule wants all cross, and the detection still gets one call per window
# (the engine follows the kernel's verdict on the event, also where its own
# memory forgot). Then the stock
# set: connect_fanout_scan's repeats stay in the kernel and a scan of 20
# loopback ports raises it.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 90

cat >"$W/once.lua" <<'LUA'
return {
  id = "e2e_once_dest",
  description = "a call per destination and window",
  event_types = { "connect" },
  filter = { connect = { datagram = false } },
  once_per = { connect = { "dest_ip", "dest_port", seconds = 1 } },
  match = function(ev) return "called for " .. ev.dest_ip .. " port " .. ev.dest_port end,
}
LUA
cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_port_19
    description: a connect to port 19
    event_types: [connect]
    match:
      dest_port: 19
    severity: warning
YAML

# connects PORTS... (spec "N@PORT" or "sleep:S"): non-blocking loopback
# connects from one process named eg-kfs-client; prints its pid first
connects() {
	"$PY" -c 'import ctypes, os, socket, sys, time
ctypes.CDLL(None).prctl(15, b"eg-kfs-client", 0, 0, 0)
print(os.getpid(), flush=True)
for spec in sys.argv[1:]:
    if spec.startswith("sleep:"):
        time.sleep(float(spec[6:]))
        continue
    n, port = spec.split("@")
    for _ in range(int(n)):
        s = socket.socket(); s.setblocking(False)
        try: s.connect(("127.0.0.1", int(port)))
        except OSError: pass
        s.close()' "$@"
}

# count RULE PID N: waits up to 5 s for exactly N alerts of RULE for PID's
# events (and 1 s more to see that no other comes)
count() {
	"$PY" - "$W/alerts.jsonl" "$1" "$2" "$3" <<'PY' || fail "alerts of $1 for pid $2: $(tail -c 300 "$W/alerts.jsonl" 2>/dev/null)"
import json, sys, time
path, rule, pid, want = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def n():
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        return 0
    return sum(1 for l in lines if l.strip() and json.loads(l)["rule_id"] == rule and json.loads(l)["event"]["pid"] == pid)
end = time.time() + 5
while n() < want and time.time() < end:
    time.sleep(0.05)
time.sleep(1)
got = n()
if got != want:
    sys.exit("%s for pid %d: %d alerts, want %d" % (rule, pid, got, want))
PY
}

e2e_start -no-config-file -config "$W/once.lua" -config "$W/rules.yaml"
grep -q "^ebpf-guard: kernel filter for connect events: on (.*, each process's new destinations within 1 s)$" "$W/stderr" ||
	fail "the connect filter does not keep the detection's repeats: $(grep 'filter for connect' "$W/stderr")"

# repeats within the window: one call, the rest stay in the kernel
f0=$(filtered connect)
pid=$(connects 50@9)
count e2e_once_dest "$pid" 1
f1=$(filtered connect)
[ $((f1 - f0)) -ge 49 ] || fail "49 repeated connects, $((f1 - f0)) kept in the kernel"
# after the window: a call again
pid=$(connects 5@9 sleep:1.3 5@9)
count e2e_once_dest "$pid" 2
f2=$(filtered connect)
[ $((f2 - f1)) -ge 8 ] || fail "8 repeated connects, $((f2 - f1)) kept in the kernel"
# a scan: every new destination crosses and is a call
pid=$(connects 1@40001 1@40002 1@40003 1@40004 1@40005 1@40006 1@40007 1@40008 1@40009 1@40010)
count e2e_once_dest "$pid" 10
# a destination another rule wants: all cross, one call per window
pid=$(connects 30@19)
count e2e_port_19 "$pid" 30
count e2e_once_dest "$pid" 1
# the kernel's verdict wins: after 300 destinations the engine's own memory
# of the process (256 values) started over and forgot port 19, the
# kernel's did not; the repeats that cross for e2e_port_19 are no call
ports=(1@19)
for p in $(seq 30001 30299); do ports+=("1@$p"); done
pid=$(connects "${ports[@]}" 5@19)
count e2e_port_19 "$pid" 6
count e2e_once_dest "$pid" 300
e2e_stop

# the stock set: connect_fanout_scan's destinations remembered
e2e_start -no-config-file -config "$EG_SOURCE_DIR/rules"
line=$(grep '^ebpf-guard: kernel filter for connect events: ' "$W/stderr") || fail "no line about the connect filter"
[[ $line == *", each process's new destinations within 10 s)" ]] || fail "the stock set's connect filter: $line"
f0=$(filtered connect)
pid=$(connects 100@9)
f1=$(filtered connect)
[ $((f1 - f0)) -ge 99 ] || fail "the stock set: 100 connects to one loopback port, $((f1 - f0)) kept in the kernel"
ports=()
for p in $(seq 40100 40119); do ports+=("1@$p"); done
pid=$(connects "${ports[@]}")
expect_alerts --where pid="$pid" --where type=connect --where dest_port=40115 --rules connect_fanout_scan
e2e_stop
echo "test_kfilter_seen: ok"
