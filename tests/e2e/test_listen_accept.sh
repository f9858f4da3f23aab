#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# listen and accept events (docs/output.md): eg_sys binds and listens on
# 127.0.0.1:0 and [::1]:0, connects to each and accepts (accept over IPv4,
# accept4 over IPv6); binds a Unix and a netlink socket (not reported);
# listens on an unbound socket (the kernel picks 0.0.0.0 and a port);
# accepts on it with nothing waiting (EAGAIN: not reported); binds another
# socket to that port (EADDRINUSE) and accepts on it (EINVAL: reported with
# its address). bind events carry the address asked for (port 0), listen
# events the socket's bound address and real port, accept events the new
# socket's local address and its peer, exactly; the same through 32-bit
# socketcall(2) and the i386 calls. A rule per type fires, and the recording
# replays to the same alerts.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 60
SYS=$W/eg_sys
cc -O1 -o "$SYS" "$E2E_DIR/eg_sys.c" || fail "could not build eg_sys"
cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_listen_stream
    description: a stream socket now listening
    event_types: [listen]
    comm_regex: "^eg_sys$"
    condition: ev.call == "listen" and ev.sock_type == "stream" and ev.ret == 0 and ev.local_port > 0
  - id: e2e_accept_peer
    description: a connection accepted from a peer
    event_types: [accept]
    comm_regex: "^eg_sys$"
    condition: ev.ret >= 0 and ev.dest_ip ~= "" and ev.local_port > 0
YAML
e2e_start -config "$W/rules.yaml" -record "$W/rec.jsonl"
grep -q '^ebpf-guard: attached [0-9]* probes (.*listen,accept' "$W/stderr" ||
	fail "listen, accept not attached: $(grep attached "$W/stderr")"
"$SYS" bind-listen-accept >"$W/out.txt" || fail "eg_sys bind-listen-accept failed"
"$SYS" compat-net >"$W/compat.txt" || fail "eg_sys compat-net failed"
sleep 0.3
e2e_stop

"$PY" - "$W" <<'PY' || fail "listen/accept event check failed"
import json, sys
W = sys.argv[1]
def kv(name):
    return dict(l.split("=", 1) for l in open(W + "/" + name).read().split("\n") if "=" in l)
def hostport(v):
    h, p = v.rsplit(":", 1)
    return h.strip("[]"), int(p)
rec = [json.loads(l) for l in open(W + "/rec.jsonl") if '"listen"' in l or '"accept"' in l]
errors = []
def listens(pid):
    return sorted((e["call"], e["local_ip"], e["local_port"], e["backlog"], e["sock_type"], e["ret"],
                   e["dest_ip"], e["dest_port"]) for e in rec if e["type"] == "listen" and e["tgid"] == pid)
def accepts(pid):
    return sorted((e["call"], e["local_ip"], e["local_port"], e["sock_type"], e["dest_ip"], e["dest_port"],
                   e["ret"]) for e in rec if e["type"] == "accept" and e["tgid"] == pid)
def check(what, got, want):
    if got != sorted(want):
        errors.append("%s:\n  got  %r\n  want %r" % (what, got, sorted(want)))

o = kv("out.txt")
pid = int(o["pid"])
p4, p6, lp = int(o["bind.port"]), int(o["bind_1.port"]), int(o["listen_2.port"])
if (o["bind_2.result"], o["bind_3.result"], o["accept_1.result"], o["bind_4.result"],
        o["accept4_1.result"]) != ("0", "0", "-11", "-98", "-22"):
    errors.append("eg_sys results: %r" % o)
check("listen events", listens(pid), [
    ("bind", "127.0.0.1", 0, 0, "stream", 0, "", 0),
    ("listen", "127.0.0.1", p4, 8, "stream", 0, "", 0),
    ("bind", "::1", 0, 0, "stream", 0, "", 0),
    ("listen", "::1", p6, 8, "stream", 0, "", 0),
    ("listen", "0.0.0.0", lp, 4, "stream", 0, "", 0),
    ("bind", "127.0.0.1", lp, 0, "stream", -98, "", 0),
])
check("accept events", accepts(pid), [
    ("accept", "127.0.0.1", p4, "stream") + hostport(o["accept.peer"]) + (int(o["accept.result"]),),
    ("accept4", "::1", p6, "stream") + hostport(o["accept4.peer"]) + (int(o["accept4.result"]),),
    ("accept4", "0.0.0.0", 0, "stream", "", 0, -22),
])
for typ, order in (("listen", ["call", "local_ip", "local_port", "backlog", "sock_type", "ret", "exe", "args"]),
                   ("accept", ["call", "local_ip", "local_port", "sock_type", "ret", "exe", "args"])):
    e = next((e for e in rec if e["type"] == typ and e["tgid"] == pid), {})
    keys = list(e)
    at = keys.index("truncated") if "truncated" in keys else -1
    if keys[at + 1:at + 1 + len(order)] != order:
        errors.append("%s key order after truncated: %r" % (typ, keys[at + 1:at + 1 + len(order)]))
    if e and (e["filename"], e["comm"], e["exe"]) != ("", "eg_sys", W + "/eg_sys"):
        errors.append("%s filename/comm/exe: %r" % (typ, (e["filename"], e["comm"], e["exe"])))

# 32-bit: socketcall(2) and the i386 calls, under their 64-bit names
c = kv("compat.txt")
if c.get("compat.available") == "1":
    cp = int(c["pid"])
    port, port2 = int(c["listen.port"]), int(c["listen_1.port"])
    check("32-bit listen events", listens(cp), [
        ("bind", "127.0.0.1", 0, 0, "stream", 0, "", 0),
        ("listen", "127.0.0.1", port, 5, "stream", 0, "", 0),
        ("bind", "127.0.0.1", 0, 0, "stream", 0, "", 0),
        ("listen", "127.0.0.1", port2, 3, "stream", 0, "", 0),
    ])
    check("32-bit accept events", accepts(cp), [
        ("accept", "127.0.0.1", port, "stream") + hostport(c["accept.peer"]) + (int(c["accept.result"]),),
        ("accept4", "127.0.0.1", port, "stream") + hostport(c["accept4.peer"]) + (int(c["accept4.result"]),),
        ("accept4", "127.0.0.1", port2, "stream") + hostport(c["accept4_1.peer"]) +
        (int(c["accept4_1.result"]),),
    ])
else:
    cp = None
    print("note: no IA32 emulation, the 32-bit calls are not checked")

alerts = [json.loads(l) for l in open(W + "/alerts.jsonl")]
fired = sorted((a["rule_id"], a["event"]["tgid"], a["event"]["call"], a["event"]["local_port"]) for a in alerts
               if a["rule_id"].startswith("e2e_") and a["event"]["tgid"] in (pid, cp))
want = [("e2e_listen_stream", pid, "listen", p4), ("e2e_listen_stream", pid, "listen", p6),
        ("e2e_listen_stream", pid, "listen", lp), ("e2e_accept_peer", pid, "accept", p4),
        ("e2e_accept_peer", pid, "accept4", p6)]
if cp:
    want += [("e2e_listen_stream", cp, "listen", port), ("e2e_listen_stream", cp, "listen", port2),
             ("e2e_accept_peer", cp, "accept", port), ("e2e_accept_peer", cp, "accept4", port),
             ("e2e_accept_peer", cp, "accept4", port2)]
if fired != sorted(want):
    errors.append("alerts:\n  got  %r\n  want %r" % (fired, sorted(want)))
print("\n".join(errors) or "listen and accept events as expected")
sys.exit(1 if errors else 0)
PY
# the recording replays to the same alerts
expect_replay_same_alerts
echo "PASS ($EG_NAME)"
