#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# memfd_create(2) events (docs/output.md): a rule on the type fires, and the
# recorded events carry the name as passed, the flags by name, the result
# (the fd, or -errno for a refused call), the process context, for native and
# failing calls; a record replays to the same alerts.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 60
cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_memfd
    description: a memfd of this test
    event_types: [memfd]
    filename_regex: "^egmfd-"
  - id: e2e_memfd_exec
    description: a memfd meant to be executed
    event_types: [memfd]
    filename_regex: "^egmfd-"
    condition: ev.flags:find("exec", 1, true) == 1 or ev.flags:find("|exec", 1, true) ~= nil
YAML
e2e_start -config "$W/rules.yaml" -record "$W/rec.jsonl"
grep -q '^ebpf-guard: attached [0-9]* probes (.*memfd' "$W/stderr" || fail "memfd not attached: $(grep attached "$W/stderr")"

cat >"$W/memfd.py" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def memfd(name, flags):
    fd = libc.syscall(319, name.encode(), flags)
    return fd if fd >= 0 else -ctypes.get_errno()
print("pid=%d" % os.getpid())
print("plain=%d" % memfd("egmfd-plain", 0))
print("flags=%d" % memfd("egmfd-flags", 0x1 | 0x2))
print("exec=%d" % memfd("egmfd-exec", 0x10))
print("bad=%d" % memfd("egmfd-bad", 0x4000))   # an unknown flag: EINVAL
PY
out=$("$PY" "$W/memfd.py") || fail "memfd helper failed"
pid=$(sed -n 's/^pid=//p' <<<"$out")
bad=$(sed -n 's/^bad=//p' <<<"$out")
[ "$bad" = -22 ] || fail "an unknown memfd flag gave $bad, not -22"
sleep 0.3
e2e_stop

printf '%s\n' "$out" >"$W/out.txt"
"$PY" - "$W" "$pid" <<'PY' || fail "memfd event check failed"
import json, sys
W, pid = sys.argv[1], int(sys.argv[2])
fds = dict(l.split("=") for l in open(W + "/out.txt").read().split())
rec = [json.loads(l) for l in open(W + "/rec.jsonl")]
mine = {e["filename"]: e for e in rec if e["type"] == "memfd" and e["tgid"] == pid}
want = {"egmfd-plain": ("", int(fds["plain"])), "egmfd-flags": ("cloexec|allow_sealing", int(fds["flags"])),
        "egmfd-exec": ("exec", int(fds["exec"])), "egmfd-bad": ("0x4000", -22)}
errors = []
for name, (flags, ret) in want.items():
    e = mine.get(name)
    if not e:
        errors.append("no memfd event for " + name)
        continue
    got = (e["flags"], e["ret"], e["exe"], e["context"] in ("exec", "procfs"), e["comm"])
    exp = (flags, ret, "/usr/bin/python3.11", True, "python3")
    if got[:2] != exp[:2] or not got[2].startswith("/usr/bin/python3") or not got[3]:
        errors.append("%s: got %r, want %r" % (name, got, exp))
keys = list(mine.get("egmfd-plain", {}))
at = keys.index("truncated") if "truncated" in keys else -1
if keys[at + 1:at + 5] != ["flags", "ret", "exe", "args"]:
    errors.append("key order after truncated: %r" % keys[at + 1:at + 5])
alerts = [json.loads(l) for l in open(W + "/alerts.jsonl")]
fired = sorted((a["rule_id"], a["event"]["filename"]) for a in alerts
               if a["event"]["tgid"] == pid and a["rule_id"].startswith("e2e_"))
exp = sorted([("e2e_memfd", n) for n in want] + [("e2e_memfd_exec", "egmfd-exec")])
if fired != exp:
    errors.append("alerts: %r, want %r" % (fired, exp))
print("\n".join(errors) or "memfd events as expected")
sys.exit(1 if errors else 0)
PY
# the recording replays to the same alerts
expect_replay_same_alerts
echo "PASS ($EG_NAME)"
