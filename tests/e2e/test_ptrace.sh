#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ptrace(2) events (docs/output.md): eg_sys attaches to its own child, reads a
# word of its memory, detaches; a second child asks PTRACE_TRACEME. The
# recorded events carry the request by name, the target pid, the target's
# comm and executable (from the process table), the result; the tracer's
# PTRACE_CONT is not reported (skipped in the kernel); a failed attach (to a
# process that does not exist) is reported with its error and no target.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 60
SYS=$W/eg_sys
cc -O1 -o "$SYS" "$E2E_DIR/eg_sys.c" || fail "could not build eg_sys"
cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_ptrace_attach
    description: a ptrace attach
    event_types: [ptrace]
    comm_regex: "^eg_sys$"
    condition: ev.request == "attach" or ev.request == "seize"
YAML
e2e_start -config "$W/rules.yaml" -record "$W/rec.jsonl" -all-events
out=$("$SYS" ptrace-child) || fail "eg_sys ptrace-child failed"
printf '%s\n' "$out" >"$W/out.txt"
# an attach to a pid that cannot exist: ESRCH
"$PY" - <<'PY' >>"$W/out.txt"
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
r = libc.syscall(101, 16, 4194303, 0, 0)
print("bad.pid=%d\nbad.result=%d" % (os.getpid(), r if r >= 0 else -ctypes.get_errno()))
PY
sleep 0.3
e2e_stop

"$PY" - "$W" <<'PY' || fail "ptrace event check failed"
import json, sys
W = sys.argv[1]
kv = dict(l.split("=", 1) for l in open(W + "/out.txt").read().split("\n") if "=" in l)
pid, child = int(kv["pid"]), int(kv["child.pid"])
rec = [json.loads(l) for l in open(W + "/rec.jsonl") if '"ptrace"' in l]
evs = [e for e in rec if e["type"] == "ptrace"]
errors = []
def one(pred, what):
    got = [e for e in evs if pred(e)]
    if len(got) != 1:
        errors.append("%s: %d events" % (what, len(got)))
        return {}
    return got[0]
for req in ("attach", "peekdata", "detach"):
    e = one(lambda e, r=req: e["tgid"] == pid and e["request"] == r, req)
    if e:
        got = (e["target_pid"], e["ret"], e["target_comm"], e["target_exe"], e["filename"], e["comm"])
        want = (child, int(kv["ptrace_%s.result" % req]), "eg_sys", W + "/eg_sys", "", "eg_sys")
        if got != want:
            errors.append("%s: got %r, want %r" % (req, got, want))
        keys = list(e)
        at = keys.index("truncated")
        if keys[at + 1:at + 7] != ["request", "target_pid", "target_comm", "target_exe", "ret", "exe"]:
            errors.append("key order: %r" % keys[at + 1:at + 7])
tm = int(kv["ptrace_traceme.pid"])
e = one(lambda e: e["tgid"] == tm and e["request"] == "traceme", "traceme")
if e and (e["target_pid"], e["ret"]) != (0, 0):
    errors.append("traceme: %r" % ((e["target_pid"], e["ret"]),))
if [e for e in evs if e["request"] == "cont" and e["tgid"] == pid]:
    errors.append("PTRACE_CONT reported")
bad = int(kv["bad.pid"])
e = one(lambda e: e["tgid"] == bad and e["request"] == "attach", "failed attach")
if e and (e["ret"], e["target_pid"], e["target_comm"]) != (int(kv["bad.result"]), 4194303, ""):
    errors.append("failed attach: %r" % ((e["ret"], e["target_pid"], e["target_comm"]),))
alerts = [json.loads(l) for l in open(W + "/alerts.jsonl")]
fired = sorted((a["event"]["tgid"], a["event"]["request"]) for a in alerts if a["rule_id"] == "e2e_ptrace_attach")
if fired != [(pid, "attach")]:
    errors.append("alerts: %r" % fired)
print("\n".join(errors) or "ptrace events as expected")
sys.exit(1 if errors else 0)
PY
echo "PASS ($EG_NAME)"
