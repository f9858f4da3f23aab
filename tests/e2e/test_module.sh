#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Module events (docs/output.md): eg_sys calls finit_module on a file that is
# no module, init_module with a bogus image, delete_module of a module that
# is not loaded. Every call fails (ENOSYS on a kernel without module
# support, else ENOEXEC / ENOENT) and each is reported with its result
# exactly: the call, finit's file as filename, delete's name and flags. A
# YAML rule on the new fields fires once, and the recording replays to the
# same alert.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 60
SYS=$W/eg_sys
cc -O1 -o "$SYS" "$E2E_DIR/eg_sys.c" || fail "could not build eg_sys"
echo "not a module" >"$W/notamodule.ko"
cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_module_delete
    description: a module removal, forced or not waiting
    event_types: [module]
    comm_regex: "^eg_sys$"
    condition: ev.call == "delete_module" and ev.module_name == "eg_mod_nosuch" and ev.module_flags ~= 0
YAML
e2e_start -config "$W/rules.yaml" -record "$W/rec.jsonl"
grep -q '^ebpf-guard: attached [0-9]* probes (.*module' "$W/stderr" ||
	fail "module not attached: $(grep attached "$W/stderr")"
{
	"$SYS" finit-module "$W/notamodule.ko" | sed 's/^pid=/finit.pid=/'
	"$SYS" init-module | sed 's/^pid=/init.pid=/'
	"$SYS" delete-module eg_mod_nosuch | sed 's/^pid=/delete.pid=/'
} >"$W/out.txt" || fail "eg_sys failed"
sleep 0.3
e2e_stop

"$PY" - "$W" <<'PY' || fail "module event check failed"
import json, os, sys
W = sys.argv[1]
kv = dict(l.split("=", 1) for l in open(W + "/out.txt").read().split("\n") if "=" in l)
rec = [json.loads(l) for l in open(W + "/rec.jsonl")]
evs = [e for e in rec if e["type"] == "module"]
errors = []
want = {
    "finit": ("finit_module", os.path.realpath(W + "/notamodule.ko"), "", 0,
              int(kv["finit_module.result"])),
    "init": ("init_module", "", "", 0, int(kv["init_module.result"])),
    "delete": ("delete_module", "", "eg_mod_nosuch", int(kv["delete_module.flags"], 16),
               int(kv["delete_module.result"])),
}
for what, exp in want.items():
    pid = int(kv[what + ".pid"])
    if exp[4] >= 0:
        errors.append("%s succeeded (%d): this test expects a refused call" % (what, exp[4]))
    mine = [e for e in evs if e["tgid"] == pid]
    if len(mine) != 1:
        errors.append("%s: %d events" % (what, len(mine)))
        continue
    e = mine[0]
    got = (e["call"], e["filename"], e["module_name"], e["module_flags"], e["ret"])
    if got != exp:
        errors.append("%s: got %r, want %r" % (what, got, exp))
    if (e["comm"], e["exe"], e["truncated"]) != ("eg_sys", W + "/eg_sys", False):
        errors.append("%s: comm/exe %r" % (what, (e["comm"], e["exe"], e["truncated"])))
    keys = list(e)
    at = keys.index("truncated")
    if keys[at + 1:at + 7] != ["call", "module_name", "module_flags", "ret", "exe", "args"]:
        errors.append("%s: key order after truncated: %r" % (what, keys[at + 1:at + 7]))
alerts = [json.loads(l) for l in open(W + "/alerts.jsonl")]
fired = [(a["event"]["tgid"], a["event"]["call"]) for a in alerts if a["rule_id"] == "e2e_module_delete"]
if fired != [(int(kv["delete.pid"]), "delete_module")]:
    errors.append("alerts: %r" % fired)
print("\n".join(errors) or "module events as expected")
sys.exit(1 if errors else 0)
PY
# the recording replays to the same alert
expect_replay_same_alerts 1
echo "PASS ($EG_NAME)"
