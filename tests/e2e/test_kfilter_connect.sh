#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The connect filter by destination address: a rule naming addresses
# (dest_ip: [...]) and one that wants every connect but to loopback
# (not: {dest_ip: {prefix: [127., ::1, ::ffff:127.]}}) keep it on. A
# connect to a named address crosses and alerts; one to any non-loopback
# address crosses and alerts; connects to other loopback addresses (127/8,
# ::1, ::ffff:127.0.0.x) on ports no rule names stay in the kernel
# (ebpf_guard_events_filtered_total{type="connect"}). Then the stock set with
# connect_fanout_scan switched off: the filter is on with its addresses and
# loopback exclusion, and loopback connects stay in the kernel.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 90

cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_named_address
    description: a connect to the canary loopback address
    event_types: [connect]
    match:
      dest_ip: [127.0.0.2, "fd00:ec2::254"]
    severity: warning
  - id: e2e_not_loopback
    description: a connect out of the host
    event_types: [connect]
    match:
      dest_port: {ge: 1}
      not: {dest_ip: {prefix: ["127.", "::1", "::ffff:127."]}}
    severity: warning
YAML

# connects IP PORT N [FAMILY]: N connects (non-blocking, closed at once)
# from one process, named eg-kfc-client (no rule is about its program: the
# stock set's download_then_execute is about python's connects)
connects() {
	"$PY" -c 'import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, b"eg-kfc-client", 0, 0, 0)
fam = socket.AF_INET6 if sys.argv[4] == "6" else socket.AF_INET
for _ in range(int(sys.argv[3])):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setblocking(False)
    try: s.connect((sys.argv[1], int(sys.argv[2])))
    except OSError: pass
    s.close()' "$1" "$2" "$3" "${4:-4}"
}

e2e_start -no-config-file -config "$W/rules.yaml"
grep -q '^ebpf-guard: kernel filter for connect events: on (4 dest_port values, 2 dest_ip addresses, every destination but loopback)$' "$W/stderr" ||
	fail "the connect filter is not on with addresses and loopback left out: $(grep 'filter for connect' "$W/stderr")"
[ "$(metric 'ebpf_guard_kernel_filter_on{type="connect"}')" = 1 ] || fail "ebpf_guard_kernel_filter_on{type=\"connect\"} is not 1"

# loopback destinations no rule names: kept in the kernel, every family
f0=$(filtered connect)
connects 127.0.0.3 9 60
connects ::1 9 20 6
connects ::ffff:127.0.0.3 9 20 6
f1=$(filtered connect)
[ $((f1 - f0)) -ge 100 ] || fail "100 loopback connects no rule wants, $((f1 - f0)) kept in the kernel"
# connect_once IP: one non-blocking connect to IP port 9; prints the pid
connect_once() {
	"$PY" -c 'import os, socket, sys
print(os.getpid(), flush=True)
s = socket.socket(); s.setblocking(False)
try: s.connect((sys.argv[1], 9))
except OSError: pass
s.close()' "$1"
}
# the named loopback address crosses
pid=$(connect_once 127.0.0.2)
expect_alerts --where pid="$pid" --where type=connect --rules e2e_named_address --field dest_ip=127.0.0.2
# an address out of the host (TEST-NET-1: unreachable or in progress) crosses
pid=$(connect_once 192.0.2.1)
expect_alerts --where pid="$pid" --where type=connect --rules e2e_not_loopback --field dest_ip=192.0.2.1
# and nothing of the loopback connects reached the rules
expect_alerts --where dest_ip=127.0.0.3 --rules ''
e2e_stop

# the stock set, connect_fanout_scan off: its addresses (cloud metadata),
# the rules that want connects out of the host; loopback stays in the kernel
cat >"$W/fanout-off.yaml" <<'YAML'
overrides:
  - rule: connect_fanout_scan
    replace: {enabled: false}
YAML
e2e_start -no-config-file -config "$EG_SOURCE_DIR/rules" -config "$W/fanout-off.yaml"
line=$(grep '^ebpf-guard: kernel filter for connect events: ' "$W/stderr") || fail "no line about the connect filter"
[[ $line =~ ^ebpf-guard:\ kernel\ filter\ for\ connect\ events:\ on\ \([0-9]+\ dest_port\ values,\ [0-9]+\ program\ words,\ 4\ dest_ip\ addresses,\ every\ destination\ but\ loopback\)$ ]] ||
	fail "the stock set's connect filter is not on with fanout off: $line"
f0=$(filtered connect)
connects 127.0.0.1 9 100
f1=$(filtered connect)
[ $((f1 - f0)) -ge 100 ] || fail "the stock set: 100 loopback connects, $((f1 - f0)) kept in the kernel"
e2e_stop
echo "test_kfilter_connect: ok"
