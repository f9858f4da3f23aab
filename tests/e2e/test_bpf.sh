#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bpf(2) events (docs/output.md): eg_sys loads a socket filter "eg_sys_prog"
# and creates an array map "eg_sys_map" (bpf-prog); loads a raw tracepoint
# program "eg_sys_rtp", attaches it to sys_enter, fails a link_create with it,
# fails a program load and a map create (bpf-attach). Each is reported with
# the command, the program or map type and the name by name, the result
# exactly; the commands that neither load nor attach (id walks, lookups) are
# not. A YAML rule on the new fields fires once, and the recording replays to
# the same alert.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 60
SYS=$W/eg_sys
cc -O1 -o "$SYS" "$E2E_DIR/eg_sys.c" || fail "could not build eg_sys"
cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_bpf_tracing_load
    description: a tracing program loaded
    event_types: [bpf]
    comm_regex: "^eg_sys$"
    condition: ev.bpf_cmd == "prog_load" and ev.prog_type == "raw_tracepoint" and ev.ret >= 0
YAML
e2e_start -config "$W/rules.yaml" -record "$W/rec.jsonl"
grep -q '^ebpf-guard: attached [0-9]* probes (.*bpf' "$W/stderr" ||
	fail "bpf not attached: $(grep attached "$W/stderr")"
"$SYS" bpf-prog >"$W/prog.txt" || fail "eg_sys bpf-prog failed"
"$SYS" bpf-attach >"$W/attach.txt" || fail "eg_sys bpf-attach failed"
# commands that are not reported: prog_get_next_id, map_lookup_elem (no such fd)
"$PY" - <<'PY' >"$W/quiet.txt"
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
attr = ctypes.create_string_buffer(144)
libc.syscall(321, 11, attr, 144)
attr[0:4] = b"\xff\xff\xff\x7f"
libc.syscall(321, 1, attr, 144)
print("pid=%d" % os.getpid())
PY
sleep 0.3
e2e_stop

"$PY" - "$W" <<'PY' || fail "bpf event check failed"
import json, sys
W = sys.argv[1]
out = lambda f: dict(l.split("=", 1) for l in open(W + "/" + f).read().split("\n") if "=" in l)
prog, att, quiet = out("prog.txt"), out("attach.txt"), out("quiet.txt")
rec = [json.loads(l) for l in open(W + "/rec.jsonl")]
evs = [e for e in rec if e["type"] == "bpf"]
errors = []
# (bpf_cmd, prog_type, map_type, bpf_name, ret) in call order, and whether
# the call succeeds
want = [
    (prog, [("prog_load", "socket_filter", "unspec", "eg_sys_prog", "bpf_prog_load", True),
            ("map_create", "unspec", "array", "eg_sys_map", "bpf_map_create", True)]),
    (att, [("prog_load", "raw_tracepoint", "unspec", "eg_sys_rtp", "bpf_prog_load", True),
           ("raw_tracepoint_open", "raw_tracepoint", "unspec", "eg_sys_rtp", "bpf_raw_tracepoint_open", True),
           ("link_create", "raw_tracepoint", "unspec", "eg_sys_rtp", "bpf_link_create", False),
           ("prog_load", "socket_filter", "unspec", "eg_sys_bad", "bpf_prog_load_1", False),
           ("map_create", "unspec", "array", "eg_sys_badmap", "bpf_map_create", False)]),
]
for kv, calls in want:
    exp = []
    for cmd, pt, mt, name, res, ok in calls:
        ret = int(kv[res + ".result"])
        if (ret >= 0) != ok:
            errors.append("eg_sys %s returned %d: this test expects %s" % (res, ret, "an fd" if ok else "an error"))
        exp.append((cmd, pt, mt, name, ret))
    mine = sorted((e for e in evs if e["tgid"] == int(kv["pid"])), key=lambda e: e["timestamp"])
    got = [(e["bpf_cmd"], e["prog_type"], e["map_type"], e["bpf_name"], e["ret"]) for e in mine]
    if got != exp:
        errors.append("got %r, want %r" % (got, exp))
    for e in mine:
        keys = list(e)
        at = keys.index("truncated")
        if keys[at + 1:at + 8] != ["bpf_cmd", "prog_type", "map_type", "bpf_name", "ret", "exe", "args"]:
            errors.append("key order after truncated: %r" % keys[at + 1:at + 8])
        if "call" in e or (e["filename"], e["comm"], e["exe"]) != ("", "eg_sys", W + "/eg_sys"):
            errors.append("%r" % ((e.get("call"), e["filename"], e["comm"], e["exe"]),))
noise = [e["bpf_cmd"] for e in evs if e["tgid"] == int(quiet["pid"])]
if noise:
    errors.append("commands reported that should not be: %r" % noise)
alerts = [json.loads(l) for l in open(W + "/alerts.jsonl")]
fired = [(a["event"]["tgid"], a["event"]["bpf_name"]) for a in alerts if a["rule_id"] == "e2e_bpf_tracing_load"]
if fired != [(int(att["pid"]), "eg_sys_rtp")]:
    errors.append("alerts: %r" % fired)
print("\n".join(errors) or "bpf events as expected")
sys.exit(1 if errors else 0)
PY
# the recording replays to the same alert
expect_replay_same_alerts 1
echo "PASS ($EG_NAME)"
