#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dup events (docs/output.md): eg_sys connects a socket to its own listener
# and, in a child, dup2's it onto 0, 1, 2 and 100 and dup3's it onto 2, then
# dup2's a closed fd onto 0 (EBADF), dup's the socket after close(0) (it
# lands on 0) and dup2's /dev/null onto 1. Exactly the calls whose new fd is
# 0, 1 or 2 are recorded (100 is filtered in the kernel), with the call,
# both fds, is_socket, the socket's peer in dest_ip/dest_port and the result;
# a 32-bit dup2 (int $0x80) too. A rule on `ev.is_socket and ev.new_fd <= 2`
# fires for the socket ones only, and the recording replays to the same
# alerts.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 60
SYS=$W/eg_sys
cc -O1 -o "$SYS" "$E2E_DIR/eg_sys.c" || fail "could not build eg_sys"
cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_dup_socket_stdio
    description: a socket put on stdin, stdout or stderr (a reverse shell's signal)
    event_types: [dup]
    comm_regex: "^eg_sys$"
    condition: ev.is_socket and ev.new_fd <= 2 and ev.dest_ip ~= ""
YAML
e2e_start -config "$W/rules.yaml" -record "$W/rec.jsonl"
grep -q '^ebpf-guard: attached [0-9]* probes (.*dup' "$W/stderr" || fail "dup not attached: $(grep attached "$W/stderr")"
"$SYS" dup-socket >"$W/out.txt" || fail "eg_sys dup-socket failed"
"$SYS" compat-net >"$W/compat.txt" || fail "eg_sys compat-net failed"
sleep 0.3
e2e_stop

"$PY" - "$W" <<'PY' || fail "dup event check failed"
import json, sys
W = sys.argv[1]
def kv(name):
    return dict(l.split("=", 1) for l in open(W + "/" + name).read().split("\n") if "=" in l)
o = kv("out.txt")
child, s = int(o["child.pid"]), int(o["socket.fd"])
peer_ip, peer_port = o["socket.peer"].rsplit(":", 1)
rec = [json.loads(l) for l in open(W + "/rec.jsonl") if '"dup"' in l]
evs = [e for e in rec if e["type"] == "dup"]
got = sorted((e["call"], e["old_fd"], e["new_fd"], e["is_socket"], e["dest_ip"], e["dest_port"], e["ret"])
             for e in evs if e["tgid"] == child)
sock = (peer_ip, int(peer_port))
null = int(o["dup2_5.oldfd"])
want = sorted([
    ("dup2", s, 0, True) + sock + (int(o["dup2.result"]),),
    ("dup2", s, 1, True) + sock + (int(o["dup2_1.result"]),),
    ("dup2", s, 2, True) + sock + (int(o["dup2_2.result"]),),
    ("dup3", s, 2, True) + sock + (int(o["dup3.result"]),),
    ("dup2", 999, 0, False, "", 0, -9),
    ("dup", s, 0, True) + sock + (int(o["dup.result"]),),
    ("dup2", null, 1, False, "", 0, 1),
])
errors = []
if o["dup2_4.result"] != "-9" or o["dup.result"] != "0" or o["dup2_3.result"] != "100":
    errors.append("eg_sys results: %r" % [o[k] for k in ("dup2_4.result", "dup.result", "dup2_3.result")])
if got != want:
    errors.append("events:\n  got  %r\n  want %r" % (got, want))
one = next((e for e in evs if e["tgid"] == child), {})
keys = list(one)
at = keys.index("truncated") if "truncated" in keys else -1
if keys[at + 1:at + 8] != ["call", "old_fd", "new_fd", "is_socket", "ret", "exe", "args"]:
    errors.append("key order after truncated: %r" % keys[at + 1:at + 8])
if one and (one["filename"], one["comm"], one["exe"]) != ("", "eg_sys", W + "/eg_sys"):
    errors.append("filename/comm/exe: %r" % ((one["filename"], one["comm"], one["exe"]),))
# the 32-bit dup2, under its 64-bit name
c = kv("compat.txt")
if c.get("compat.available") == "1":
    ip, port = c["dup2.peer"].rsplit(":", 1)
    got = [(e["call"], e["old_fd"], e["new_fd"], e["is_socket"], e["dest_ip"], e["dest_port"], e["ret"])
           for e in evs if e["tgid"] == int(c["dup2.pid"])]
    exp = [("dup2", int(c["dup2.oldfd"]), 2, True, ip, int(port), int(c["dup2.result"]))]
    if got != exp:
        errors.append("32-bit dup2: got %r, want %r" % (got, exp))
else:
    print("note: no IA32 emulation, the 32-bit dup2 is not checked")
alerts = [json.loads(l) for l in open(W + "/alerts.jsonl")]
fired = sorted((a["event"]["call"], a["event"]["new_fd"]) for a in alerts
               if a["rule_id"] == "e2e_dup_socket_stdio" and a["event"]["tgid"] == child)
if fired != sorted([("dup2", 0), ("dup2", 1), ("dup2", 2), ("dup3", 2), ("dup", 0)]):
    errors.append("alerts: %r" % fired)
print("\n".join(errors) or "dup events as expected")
sys.exit(1 if errors else 0)
PY
# the recording replays to the same alerts
expect_replay_same_alerts
echo "PASS ($EG_NAME)"
