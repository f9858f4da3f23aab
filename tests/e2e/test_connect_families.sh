#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Only IP connects are events: from one process, connect()s over AF_UNIX,
# AF_NETLINK, AF_PACKET and AF_UNSPEC (a UDP disconnect), each with its own
# address length and padded to sizeof(struct sockaddr_in6), record nothing;
# the IPv4 and IPv6 connects that follow are recorded exactly, the IPv6 one
# with addrlen 28 and with RFC 2133's 24 (which the kernel accepts).
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 60
e2e_start -record "$W/rec.jsonl" # the built-ins want connect
grep -q '^ebpf-guard: attached [0-9]* probes (.*connect' "$W/stderr" || fail "connect probe not attached"
# mining ports (builtin_crypto_port): each IP connect raises one alert
run_helper connect-families 3333 4444 5555
p=$HPID
# the last connect's alert: everything before it has been drained
expect_alerts --where pid="$p" --where type=connect --where dest_port=5555 --rules builtin_crypto_port \
	--field dest_ip=::1
e2e_stop
expect_alerts --timeout 0 --where pid="$p" --where type=connect --rules builtin_crypto_port,builtin_crypto_port,builtin_crypto_port
"$PY" - "$W/rec.jsonl" "$p" <<'PY' || fail "recorded connect events of the helper are not exactly IPv4, IPv6, IPv6"
import json, sys
p = int(sys.argv[2])
evs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
got = [(e["type"], e["pid"], e["tgid"], e["comm"], e["filename"], e["dest_ip"], e["dest_port"])
       for e in evs if e["tgid"] == p and e["type"] != "exec"] # not bash's exec of the helper
want = [("connect", p, p, "eg_helper", "connect", "127.0.0.1", 3333),
        ("connect", p, p, "eg_helper", "connect", "::1", 4444),
        ("connect", p, p, "eg_helper", "connect", "::1", 5555)]
if got != want:
    print("recorded events of pid %d:" % p)
    for g in got:
        print("  ", g)
    print("want:")
    for w in want:
        print("  ", w)
    sys.exit(1)
PY
echo "PASS ($EG_NAME): 8 non-IP connects ignored, IPv4 and IPv6 (addrlen 28 and 24) recorded"
