#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The file families (docs/collector.md): link, rename, unlink and chmod
# events from eg_sys's real calls (plain, *at with a dirfd, relative paths
# with "..", failures), compared field by field: the paths made absolute
# against the cwd or the dirfd's directory, the second path, the flags by
# name, the mode and its set-id booleans, the result. Rules on the new
# fields alert, and the recording replays to the same alerts. The same calls
# made as 32-bit system calls (int $0x80) are reported alike.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 60
SYS=$W/eg_sys
cc -O1 -o "$SYS" "$E2E_DIR/eg_sys.c" || fail "could not build eg_sys"
EVADE=$W/eg_evade
cc -O1 -o "$EVADE" "$E2E_DIR/eg_evade.c" || fail "could not build eg_evade"
cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_setuid_bit
    description: a set-user-id bit set
    event_types: [chmod]
    comm_regex: "^eg_sys$"
    condition: ev.mode_setuid and ev.ret == 0
  - id: e2e_log_removed
    description: a log file removed or moved away
    event_types: [unlink, rename]
    comm_regex: "^eg_sys$"
    filename_regex: "/var-log/"
  - id: e2e_link_to_shadow
    description: a link to /etc/shadow
    event_types: [link]
    condition: ev.link_target == "/etc/shadow"
YAML
mkdir -p "$W/d/sub" "$W/var-log" "$W/rmme"
touch "$W/d/f1" "$W/var-log/auth.log"
e2e_start -config "$W/rules.yaml" -record "$W/rec.jsonl"
: >"$W/out.txt"
run() { # run LABEL eg_sys-args...: runs eg_sys in $W/d/sub, its output prefixed with LABEL.
	local label=$1
	shift
	(cd "$W/d/sub" && "$SYS" "$@") | sed "s/^/$label./" >>"$W/out.txt" ||
		fail "eg_sys $* failed"
}
run symlink symlink /etc/shadow ../sl
run symlinkat --at "$W/d" symlink /etc/shadow sl2
run link link ../f1 ../hl
run linkat --at "$W/d" link f1 hl2
run rename rename ../hl ./../hl3
run renameat2 renameat2 ../hl3 ../f1
run renameat --at "$W" rename var-log/auth.log d/auth.old
run unlink unlink ../hl2
run unlink_missing unlink nonexistent
run unlinkat --at "$W/d" unlink sl
run rmdir rmdir ../../rmme
run chmod chmod-suid "$W/d/suid" rm
# 32-bit (int $0x80) calls: i386 numbers, reported under the x86-64 names
touch "$W/d/c32"
run32() { # run32 LABEL NR ARGS...: eg_evade compat-call in $W/d
	local label=$1
	shift
	(cd "$W/d" && "$EVADE" compat-call "$@") | sed "s/^/$label./" >>"$W/out.txt" ||
		fail "eg_evade compat-call $* failed"
}
IA32=1
ia32=$("$EVADE" compat-open /nonexistent 2>&1 || true)
if printf '%s\n' "$ia32" | grep -q 'IA32 emulation'; then
	# a kernel without IA32 emulation (or one whose hypervisor refuses
	# int $0x80) has no compat system calls to hide file events in
	IA32=0
	echo "note ($EG_NAME): no IA32 emulation on this kernel: the 32-bit cases are not run"
else
	run32 c32_chmod 15 s:c32 0x9ed            # chmod(c32, 04755)
	run32 c32_rename 38 s:./c32 s:sub/../c32b # rename
	run32 c32_symlink 83 s:/etc/shadow s:c32l # symlink
	run32 c32_unlinkat 301 -100 s:c32l 0      # unlinkat(AT_FDCWD, ...)
	run32 c32_rmdir 40 s:no-such-dir          # rmdir: -ENOENT
fi
sleep 0.3
e2e_stop

"$PY" - "$W" "$IA32" <<'PY' || fail "file event check failed"
import json, sys
W = sys.argv[1]
IA32 = sys.argv[2] == "1"
D = W + "/d"
out = [l.split("=", 1) for l in open(W + "/out.txt").read().split("\n") if "=" in l]
kv = dict(out)
pid = lambda label: int(kv[label + ".pid"])
res = lambda key: int(kv[key])
evs = [json.loads(l) for l in open(W + "/rec.jsonl")]
errors = []
KEYS = {"link": ["call", "link_target", "ret"], "rename": ["call", "new_path", "rename_flags", "ret"],
        "unlink": ["call", "unlink_flags", "ret"],
        "chmod": ["call", "mode", "mode_setuid", "mode_setgid", "ret"]}
def check(label, typ, want, n=1):
    got = [e for e in evs if e["tgid"] == pid(label) and e["type"] == typ]
    if len(got) != n:
        errors.append("%s: %d %s events, want %d" % (label, len(got), typ, n))
        return got
    for e in got:
        keys = list(e)
        at = keys.index("truncated")
        if keys[at + 1:at + 1 + len(KEYS[typ])] != KEYS[typ]:
            errors.append("%s: key order %r" % (label, keys[at + 1:at + 6]))
    if n == 1:
        e = got[0]
        g = {k: e[k] for k in want}
        if g != want:
            errors.append("%s: got %r, want %r" % (label, g, want))
    return got
check("symlink", "link", {"call": "symlink", "filename": D + "/sl", "link_target": "/etc/shadow",
                          "ret": res("symlink.symlink.result"), "comm": "eg_sys"})
check("symlinkat", "link", {"call": "symlinkat", "filename": D + "/sl2", "link_target": "/etc/shadow",
                            "ret": 0})
check("link", "link", {"call": "link", "filename": D + "/hl", "link_target": D + "/f1", "ret": 0})
check("linkat", "link", {"call": "linkat", "filename": D + "/hl2", "link_target": D + "/f1", "ret": 0})
check("rename", "rename", {"call": "rename", "filename": D + "/hl", "new_path": D + "/hl3",
                           "rename_flags": "", "ret": 0})
check("renameat2", "rename", {"call": "renameat2", "filename": D + "/hl3", "new_path": D + "/f1",
                              "rename_flags": "noreplace", "ret": res("renameat2.renameat2.result")})
if res("renameat2.renameat2.result") != -17:
    errors.append("renameat2 onto an existing file: %s, want -17" % kv["renameat2.renameat2.result"])
check("renameat", "rename", {"call": "renameat", "filename": W + "/var-log/auth.log",
                             "new_path": D + "/auth.old", "ret": 0})
check("unlink", "unlink", {"call": "unlink", "filename": D + "/hl2", "unlink_flags": "", "ret": 0})
check("unlink_missing", "unlink", {"call": "unlink", "filename": D + "/sub/nonexistent", "ret": -2})
check("unlinkat", "unlink", {"call": "unlinkat", "filename": D + "/sl", "unlink_flags": "", "ret": 0})
check("rmdir", "unlink", {"call": "rmdir", "filename": W + "/rmme", "unlink_flags": "removedir",
                          "ret": 0})
# chmod-suid: fchmod 0644 at creation, then chmod 04755, fchmod 06755,
# fchmodat 0755, fchmodat2 02755 (unsupported: -38 on older kernels), unlink
got = check("chmod", "chmod", None, 5)
want = [("fchmod", 0o644, False, False), ("chmod", 0o4755, True, False),
        ("fchmod", 0o6755, True, True), ("fchmodat", 0o755, False, False),
        ("fchmodat2", 0o2755, False, True)]
g = [(e["call"], e["mode"], e["mode_setuid"], e["mode_setgid"]) for e in got]
if g != want:
    errors.append("chmod calls: %r, want %r" % (g, want))
for e in got:
    if e["filename"] != D + "/suid":
        errors.append("chmod %s: filename %r" % (e["call"], e["filename"]))
for e, key in zip(got[1:], ("chmod", "fchmod", "fchmodat", "fchmodat2")):
    if e["ret"] != res("chmod.%s.result" % key):
        errors.append("chmod %s: ret %r, eg_sys says %s" % (key, e["ret"], kv["chmod.%s.result" % key]))
if IA32:
    c32 = lambda label: int(kv[label + ".compat_call.result"])
    check("c32_chmod", "chmod", {"call": "chmod", "filename": D + "/c32", "mode": 0o4755,
                                 "mode_setuid": True, "ret": c32("c32_chmod")})
    check("c32_rename", "rename", {"call": "rename", "filename": D + "/c32", "new_path": D + "/c32b",
                                   "ret": c32("c32_rename")})
    check("c32_symlink", "link", {"call": "symlink", "filename": D + "/c32l", "link_target": "/etc/shadow",
                                  "ret": c32("c32_symlink")})
    check("c32_unlinkat", "unlink", {"call": "unlinkat", "filename": D + "/c32l", "unlink_flags": "",
                                     "ret": c32("c32_unlinkat")})
    check("c32_rmdir", "unlink", {"call": "rmdir", "filename": D + "/no-such-dir",
                                  "unlink_flags": "removedir", "ret": -2})
    if [c32(k) for k in ("c32_chmod", "c32_rename", "c32_symlink", "c32_unlinkat")] != [0, 0, 0, 0]:
        errors.append("32-bit calls failed: %r" % [(k, v) for k, v in kv.items() if k.startswith("c32")])
alerts = [json.loads(l) for l in open(W + "/alerts.jsonl")]
fired = sorted((a["rule_id"], a["event"]["call"]) for a in alerts
               if a["rule_id"].startswith("e2e_") and a["event"]["comm"] == "eg_sys")
exp = sorted([("e2e_link_to_shadow", "symlink"), ("e2e_link_to_shadow", "symlinkat"),
              ("e2e_log_removed", "renameat"), ("e2e_setuid_bit", "chmod"), ("e2e_setuid_bit", "fchmod")])
fired32 = sorted((a["rule_id"], a["event"]["call"]) for a in alerts
                 if a["rule_id"].startswith("e2e_") and a["event"]["comm"] == "eg_evade")
if fired32 != ([("e2e_link_to_shadow", "symlink")] if IA32 else []):  # the other rules want comm eg_sys
    errors.append("32-bit alerts: %r" % fired32)
if fired != exp:
    errors.append("alerts: %r, want %r" % (fired, exp))
print("\n".join(errors) or "file events as expected")
sys.exit(1 if errors else 0)
PY
# the recording replays to the same alerts
expect_replay_same_alerts
echo "PASS ($EG_NAME)"
