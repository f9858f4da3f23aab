#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Live connect events, IPv4 and IPv6, to mining ports (refused connects are
# enough: the event is taken at sys_enter), with RFC 5952 address text.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 90
cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_port_range
    description: Connection to a port in 3000..5000
    event_types: ["connect"]
    min_dest_port: 3000
    max_dest_port: 5000
YAML
e2e_start -config "$W/rules.yaml"
# the port filter holds the rule's 2001 ports and the built-in's 5555 and
# 7777; no word of an open filter: no rule wants opens
grep -q '^ebpf-guard: kernel filter for connect events: on (2003 dest_port values)$' "$W/stderr" ||
	fail "connect filter: $(grep 'filter for connect' "$W/stderr")"
grep -q 'kernel filter for open events' "$W/stderr" &&
	fail "a line about the open filter, which no rule wants: $(grep 'filter for open' "$W/stderr")"

run_helper connect4 127.0.0.1 4444
expect_alerts --where pid="$HPID" --where type=connect --rules builtin_crypto_port,e2e_port_range \
	--field tgid="$HPID" --field comm=eg_helper --field dest_ip=127.0.0.1 --field dest_port=4444

# the call's result rides along: what connect() returned to the caller
# (-errno), here on a closed loopback port, refused or still in progress
run_helper connect6 ::1 3333
res=$(printf '%s\n' "$HOUT" | sed -n 's/^result=//p')
[ -n "$res" ] && [ "$res" != 0 ] || fail "connect to a closed port did not fail: $HOUT"
expect_alerts --where pid="$HPID" --where type=connect --rules builtin_crypto_port,e2e_port_range \
	--field dest_ip=::1 --field dest_port=3333 --field ret=-"$res" --field protocol=tcp

# RFC 5952: the longest run of zero groups compressed, lower case
run_helper connect6 2001:DB8:0:0:1:0:0:1 5555
expect_alerts --where pid="$HPID" --where type=connect --rules builtin_crypto_port \
	--field dest_ip=2001:db8::1:0:0:1 --field dest_port=5555

# more RFC 5952 cases (unroutable: the connect fails at once, the event stays
# with the address asked for); :: is connected to loopback by the kernel, and
# the event says where the socket went
for pair in "2001:db8:0:0:0:0:0:1=2001:db8::1" "1:0:0:0:0:0:0:0=1::" "1:0:0:2:0:0:0:3=1:0:0:2::3" \
	"1:0:0:2:0:0:3:4=1::2:0:0:3:4" "2001:db8:0:1:1:1:1:1=2001:db8:0:1:1:1:1:1" "0:0:0:0:0:0:0:0=::1"; do
	run_helper connect6 "${pair%%=*}" 5555
	expect_alerts --where pid="$HPID" --where type=connect --rules builtin_crypto_port \
		--field dest_ip="${pair#*=}" --field dest_port=5555
done

run_helper connect6 ::ffff:127.0.0.1 7777
expect_alerts --where pid="$HPID" --where type=connect --rules builtin_crypto_port \
	--field dest_ip=::ffff:127.0.0.1 --field dest_port=7777

# a connect that fails before a SYN leaves (ENETUNREACH: a v4-mapped address
# on an IPv6-only socket): reported with the address asked for
run_helper connect6-v6only ::ffff:127.0.0.1 5555
case $HOUT in *result=101*) ;; *) fail "v6only connect did not fail with ENETUNREACH: $HOUT" ;; esac
expect_alerts --where pid="$HPID" --where type=connect --rules builtin_crypto_port \
	--field dest_ip=::ffff:127.0.0.1 --field dest_port=5555

# UDP: the connected socket's peer, from the kernel
run_helper udp4 10.11.12.13 7777
expect_alerts --where pid="$HPID" --where type=connect --rules builtin_crypto_port \
	--field dest_ip=10.11.12.13 --field dest_port=7777 --field protocol=udp --field datagram=false
run_helper udp6 2001:db8::7 7777
expect_alerts --where pid="$HPID" --where type=connect --rules builtin_crypto_port \
	--field dest_ip=2001:db8::7 --field dest_port=7777

# unconnected UDP: each destination once per socket, from the datagram the
# kernel built; a connected UDP socket's peer is the connect's event only
run_helper sendto4 10.11.12.14 3333
expect_alerts --where pid="$HPID" --where type=connect --rules builtin_crypto_port,e2e_port_range \
	--field dest_ip=10.11.12.14 --field dest_port=3333 --field protocol=udp --field datagram=true
n=$(grep -c "\"tgid\":$HPID,.*\"type\":\"connect\"" "$W/alerts.jsonl" || true)
[ "$n" = 2 ] || fail "three sendto()s to one destination: want one event (2 alerts), got $n alerts"
run_helper sendto6 ::1 7777
expect_alerts --where pid="$HPID" --where type=connect --rules builtin_crypto_port \
	--field dest_ip=::1 --field dest_port=7777 --field datagram=true

# a port no rule wants: no alert
run_helper connect4 127.0.0.1 9
expect_alerts --timeout 1 --where pid="$HPID" --where type=connect --rules ''

e2e_stop
echo "PASS ($EG_NAME): connect alerts exact; stopped in ${STOP_MS} ms"
