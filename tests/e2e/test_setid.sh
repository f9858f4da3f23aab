#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# set*id and capset events (docs/output.md): in a child, eg_sys drops
# CAP_NET_RAW with capset, sets its fsuid to 65534 and back, then setreuid,
# setregid, setresgid, setgid, setresuid to 65534 and a refused setuid(0)
# (setid); then capset version 1 of pid 1 (refused) and, through int $0x80,
# the 16-bit setreuid and setresgid with -1, setgid32 and setuid16
# (setid-compat). Each call is one event, in order, with the ids as passed
# (-1: unchanged), the capability sets by name, the result exactly, the
# event's uid and gid (the real ids after the call). Two YAML rules on the new
# fields fire once each, and the recording replays to the same alerts.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 60
SYS=$W/eg_sys
cc -O1 -o "$SYS" "$E2E_DIR/eg_sys.c" || fail "could not build eg_sys"
cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_setid_root
    description: an attempt to become root
    event_types: [setid]
    comm_regex: "^eg_sys$"
    condition: ev.call == "setuid" and ev.id_effective == 0
  - id: e2e_setid_cap_drop
    description: a capability set without net_raw
    event_types: [setid]
    comm_regex: "^eg_sys$"
    condition: ev.call == "capset" and ev.ret == 0 and not ev.cap_permitted:find("net_raw", 1, true)
YAML
e2e_start -config "$W/rules.yaml" -record "$W/rec.jsonl"
grep -q '^ebpf-guard: attached [0-9]* probes (.*setid' "$W/stderr" ||
	fail "setid not attached: $(grep attached "$W/stderr")"
"$SYS" setid >"$W/setid.txt" || fail "eg_sys setid failed"
"$SYS" setid-compat >"$W/compat.txt" || fail "eg_sys setid-compat failed"
sleep 0.3
e2e_stop

"$PY" - "$W" <<'PY' || fail "setid event check failed"
import json, sys
W = sys.argv[1]
out = lambda f: dict(l.split("=", 1) for l in open(W + "/" + f).read().split("\n") if "=" in l)
s, c = out("setid.txt"), out("compat.txt")
rec = [json.loads(l) for l in open(W + "/rec.jsonl")]
evs = [e for e in rec if e["type"] == "setid"]
errors = []
CAPS = ["chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid",
        "setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin",
        "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace",
        "sys_pacct", "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time",
        "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
        "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read",
        "perfmon", "bpf", "checkpoint_restore"]
def caps(v):
    v = int(v, 16)
    return "|".join(n for i, n in enumerate(CAPS) if v >> i & 1)
r = lambda kv, k: int(kv[k + ".result"])
N = "-1,-1,-1"
# (call, id_real, id_effective, id_saved, cap_effective, cap_permitted,
#  cap_inheritable, ret, uid, gid) in call order
def ids(t):
    return tuple(int(x) for x in t.split(","))
want_s = [
    ("capset",) + ids(N) + (caps(s["capset.new_effective"]), caps(s["capset.new_permitted"]),
                            caps(s["capset.new_inheritable"]), r(s, "capset"), 0, 0),
    ("setfsuid", -1, 65534, -1, "", "", "", r(s, "setfsuid"), 0, 0),
    ("setfsuid", -1, 0, -1, "", "", "", r(s, "setfsuid_1"), 0, 0),
    ("setreuid", 0, 0, -1, "", "", "", r(s, "setreuid"), 0, 0),
    ("setregid", 65534, 65534, -1, "", "", "", r(s, "setregid"), 0, 65534),
    ("setresgid", 65534, 65534, 65534, "", "", "", r(s, "setresgid"), 0, 65534),
    ("setgid", -1, 65534, -1, "", "", "", r(s, "setgid"), 0, 65534),
    ("setresuid", 65534, 65534, 65534, "", "", "", r(s, "setresuid"), 65534, 65534),
    ("setuid", -1, 0, -1, "", "", "", -1, 65534, 65534),  # -EPERM
]
if r(s, "setuid") != -1 or [w for w in want_s[:-1] if w[7] < 0]:
    errors.append("eg_sys setid results not as this test expects")
if "net_raw" in want_s[0][4] or "net_raw" in want_s[0][5] or "sys_admin" not in want_s[0][4]:
    errors.append("capset sets: %r" % (want_s[0][4:6],))
want_c = [("capset",) + ids(N) + ("net_raw", "net_raw", "", -1, 0, 0)]  # pid 1: -EPERM
if r(c, "capset") != -1:
    errors.append("eg_sys setid-compat capset returned %d, not -1" % r(c, "capset"))
if c["ia32"] == "1":
    want_c += [
        ("setreuid", -1, 0, -1, "", "", "", r(c, "setreuid16"), 0, 0),
        ("setresgid", -1, -1, -1, "", "", "", r(c, "setresgid16"), 0, 0),
        ("setgid", -1, 65534, -1, "", "", "", r(c, "setgid32"), 0, 65534),
        ("setuid", -1, 65534, -1, "", "", "", r(c, "setuid16"), 65534, 65534),
    ]
else:
    print("no IA32 emulation: the 16-bit calls are not checked")
for kv, want in ((s, want_s), (c, want_c)):
    pid = int(kv["child.pid"])
    mine = sorted((e for e in evs if e["tgid"] == pid), key=lambda e: e["timestamp"])
    got = [(e["call"], e["id_real"], e["id_effective"], e["id_saved"], e["cap_effective"],
            e["cap_permitted"], e["cap_inheritable"], e["ret"], e["uid"], e["gid"]) for e in mine]
    if got != want:
        errors.append("pid %d:\n  got  %r\n  want %r" % (pid, got, want))
    for e in mine:
        keys = list(e)
        at = keys.index("truncated")
        if keys[at + 1:at + 11] != ["call", "id_real", "id_effective", "id_saved", "cap_effective",
                                    "cap_permitted", "cap_inheritable", "ret", "exe", "args"]:
            errors.append("key order after truncated: %r" % keys[at + 1:at + 11])
        if (e["filename"], e["comm"], e["exe"]) != ("", "eg_sys", W + "/eg_sys"):
            errors.append("%r" % ((e["filename"], e["comm"], e["exe"]),))
alerts = [json.loads(l) for l in open(W + "/alerts.jsonl")]
fired = sorted((a["rule_id"], a["event"]["tgid"], a["event"]["call"]) for a in alerts
               if a["rule_id"].startswith("e2e_"))
child = int(s["child.pid"])
if fired != [("e2e_setid_cap_drop", child, "capset"), ("e2e_setid_root", child, "setuid")]:
    errors.append("alerts: %r" % fired)
print("\n".join(errors) or "setid events as expected")
sys.exit(1 if errors else 0)
PY
# the recording replays to the same alerts
expect_replay_same_alerts
echo "PASS ($EG_NAME)"
