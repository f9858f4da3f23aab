#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# namespace events (docs/output.md): unshare(2), setns(2), and clone(2) /
# clone3(2) that ask for new namespaces, from eg_sys. The recorded events
# carry the call, the CLONE_NEW* flags by name, setns's file (a namespace
# file as /proc/PID/ns names it, a pidfd as pidfd:[PID], another file by its
# path) and the result, failures included; the child's side of a clone and
# clones without CLONE_NEW* (forks, threads, posix_spawn) are not reported.
# 32-bit calls through int $0x80 when the kernel has IA32 emulation. A rule
# on ns_flags fires; the recording replays to the same alerts.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 60
SYS=$W/eg_sys
cc -O1 -o "$SYS" "$E2E_DIR/eg_sys.c" || fail "could not build eg_sys"
cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_ns_uts
    description: a new UTS namespace by unshare
    event_types: [namespace]
    comm_regex: "^eg_sys$"
    condition: ev.call == "unshare" and ev.ns_flags:find("newuts", 1, true) ~= nil and ev.ret == 0
YAML
echo plain >"$W/plain"
e2e_start -config "$W/rules.yaml" -record "$W/rec.jsonl"
grep -q '^ebpf-guard: attached [0-9]* probes (.*namespace' "$W/stderr" ||
	fail "namespace not attached: $(grep attached "$W/stderr")"
{
	"$SYS" unshare uts | sed 's/^/uts./'
	# CLONE_PTRACE is not a bit unshare takes: EINVAL
	"$SYS" unshare uts,0x2000 | sed 's/^/bad./'
	"$SYS" setns /proc/self/ns/uts | sed 's/^/ns./'
	"$SYS" setns "$W/plain" | sed 's/^/plain./'
	"$SYS" setns-pidfd | sed 's/^/pidfd./'
	"$SYS" clone-ns | sed 's/^/clone./'
	"$SYS" ns-mount-compat "$W/eg-no-such" | sed 's/^/compat./'
	echo "uts_link=$(readlink /proc/self/ns/uts)"
	# forks, a thread, posix_spawn: clones without CLONE_NEW*
	"$PY" -c '
import os, subprocess, threading
print("plainfork.pid=%d" % os.getpid())
t = threading.Thread(target=lambda: None); t.start(); t.join()
p = os.fork()
if p == 0:
    os._exit(0)
os.waitpid(p, 0)
subprocess.run(["/bin/true"], check=True)
'
	bash -c '/bin/true; /bin/true; echo "plainsh.pid=$$"'
} >"$W/out.txt" || fail "eg_sys failed: $(cat "$W/out.txt")"
sleep 0.3
e2e_stop

"$PY" - "$W" <<'PY' || fail "namespace event check failed"
import json, sys
W = sys.argv[1]
kv = dict(l.split("=", 1) for l in open(W + "/out.txt").read().split("\n") if "=" in l)
rec = [json.loads(l) for l in open(W + "/rec.jsonl")]
evs = [e for e in rec if e["type"] == "namespace"]
errors = []
def check(pid, call, want):
    got = [e for e in evs if e["tgid"] == pid and e["call"] == call]
    if len(got) != 1:
        errors.append("%s of %d: %d events" % (call, pid, len(got)))
        return None
    e = got[0]
    have = {k: e[k] for k in want}
    if have != want:
        errors.append("%s of %d: got %r, want %r" % (call, pid, have, want))
    return e

e = check(int(kv["uts.pid"]), "unshare",
          {"ns_flags": "newuts", "ret": 0, "filename": "", "comm": "eg_sys"})
if e:
    keys = list(e)
    at = keys.index("truncated")
    if keys[at + 1:at + 6] != ["call", "ns_flags", "ret", "exe", "args"]:
        errors.append("key order after truncated: %r" % keys[at + 1:at + 6])
check(int(kv["bad.pid"]), "unshare", {"ns_flags": "newuts", "ret": -22})
# nstype 0: the flags are the namespace file's own type
check(int(kv["ns.pid"]), "setns",
      {"filename": kv["uts_link"], "ns_flags": "newuts", "ret": int(kv["ns.setns.result"])})
if kv["ns.setns.result"] != "0" or not kv["uts_link"].startswith("uts:["):
    errors.append("setns of the own uts namespace: %s, %s" % (kv["ns.setns.result"], kv["uts_link"]))
check(int(kv["plain.pid"]), "setns", {"filename": W + "/plain", "ns_flags": "", "ret": -22})
pp = int(kv["pidfd.pid"])
check(pp, "setns", {"filename": "pidfd:[%d]" % pp, "ns_flags": "newuts", "ret": 0})
cp = int(kv["clone.pid"])
children = []
for call in ("clone", "clone3"):
    r = int(kv["clone.%s.result" % call])
    if r <= 0:
        errors.append("eg_sys %s failed: %d" % (call, r))
    children.append(r)
    check(cp, call, {"ns_flags": "newuts", "ret": r, "filename": ""})
compat = "compat.compat.unavailable" not in kv
if compat:
    xp = int(kv["compat.pid"])
    check(xp, "unshare", {"ns_flags": "newuts", "ret": 0})
    children.append(int(kv["compat.clone.result"]))
    check(xp, "clone", {"ns_flags": "newuts", "ret": children[-1]})
# the children's side of the clones, and clones without CLONE_NEW*
for pid in children + [int(kv["plainfork.pid"]), int(kv["plainsh.pid"])]:
    got = [(e["call"], e["ret"]) for e in evs if e["tgid"] == pid]
    if got:
        errors.append("pid %d: unexpected namespace events %r" % (pid, got))
alerts = [json.loads(l) for l in open(W + "/alerts.jsonl")]
fired = sorted(a["event"]["tgid"] for a in alerts if a["rule_id"] == "e2e_ns_uts")
want = sorted([int(kv["uts.pid"])] + ([int(kv["compat.pid"])] if compat else []))
if fired != want:
    errors.append("alerts: %r, want %r" % (fired, want))
print("\n".join(errors) or "namespace events as expected%s" % ("" if compat else " (no IA32 emulation)"))
sys.exit(1 if errors else 0)
PY
# the recording replays to the same alerts
expect_replay_same_alerts
echo "PASS ($EG_NAME)"
