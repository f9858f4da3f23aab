#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mount events (docs/output.md): eg_sys mounts a tmpfs in a private mount
# namespace of its own (mount(2), umount2(2), then fsmount(2) and
# move_mount(2)), and makes calls that fail on a path that does not exist.
# The recorded events carry the call, the target made absolute (relative
# paths given), the source and file system type, the MS_* flags by name (the
# old MS_MGC_VAL magic dropped, fsmount's MOUNT_ATTR_* translated), umount2's
# flags, the result; 32-bit calls through int $0x80 when the kernel has IA32
# emulation. A rule on the new fields fires; the recording replays to the
# same alerts. Nothing stays mounted: the mounts die with eg_sys's namespace.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 60
SYS=$W/eg_sys
cc -O1 -o "$SYS" "$E2E_DIR/eg_sys.c" || fail "could not build eg_sys"
cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_mount_tmpfs
    description: a tmpfs mounted nosuid by mount(2)
    event_types: [mount]
    comm_regex: "^eg_sys$"
    condition: ev.call == "mount" and ev.fstype == "tmpfs" and ev.mount_flags:find("nosuid", 1, true) ~= nil and ev.ret == 0
YAML
mkdir "$W/mnt"
# eg_sys's mounts are in a namespace that ends with it; should one ever reach
# the host's, it is detached at exit
unmount_mnt() {
	if grep -q " $W/mnt " /proc/self/mounts; then
		umount -l "$W/mnt"
	fi
}
E2E_ON_EXIT=unmount_mnt
e2e_start -config "$W/rules.yaml" -record "$W/rec.jsonl"
grep -q '^ebpf-guard: attached [0-9]* probes (.*mount' "$W/stderr" ||
	fail "mount not attached: $(grep attached "$W/stderr")"
(
	cd "$W"
	"$SYS" mount-tmpfs mnt | sed 's/^/ok./'
	"$SYS" mount-fail eg-no-such | sed 's/^/bad./'
	"$SYS" ns-mount-compat eg-no-such | sed 's/^/compat./'
) >"$W/out.txt" || fail "eg_sys failed: $(cat "$W/out.txt")"
sleep 0.3
e2e_stop
! grep -q " $W/mnt " /proc/self/mounts || fail "$W/mnt is still mounted"

"$PY" - "$W" <<'PY' || fail "mount event check failed"
import json, sys
W = sys.argv[1]
kv = dict(l.split("=", 1) for l in open(W + "/out.txt").read().split("\n") if "=" in l)
rec = [json.loads(l) for l in open(W + "/rec.jsonl")]
evs = [e for e in rec if e["type"] == "mount"]
errors = []
KEYS = ("call", "filename", "source", "fstype", "mount_flags", "umount_flags", "ret")
def check(pid, want):
    got = [tuple(e[k] for k in KEYS) for e in evs if e["tgid"] == pid]
    want = [tuple(w) for w in want]
    if got != want:
        errors.append("pid %d:\n  got  %s\n  want %s" % (pid, "\n       ".join(map(repr, got)),
                                                       "\n       ".join(map(repr, want))))
mnt, nosuch = W + "/mnt", W + "/eg-no-such"
r = lambda k: int(kv[k])
check(r("ok.pid"), [
    ("mount", "/", "", "", "rec|private", "", r("ok.mount.result")),
    ("mount", mnt, "eg-tmpfs", "tmpfs", "nosuid|nodev", "", r("ok.mount_1.result")),
    ("umount2", mnt, "", "", "", "", r("ok.umount2.result")),
    # a new mount has no source: "none"; its type from the file system
    ("fsmount", "", "none", "tmpfs", "", "", r("ok.fsmount.result")),
    ("move_mount", mnt, "none", "tmpfs", "", "", r("ok.move_mount.result")),
    ("umount2", mnt, "", "", "", "", r("ok.umount2_1.result")),
])
for k in ("mount", "mount_1", "umount2", "move_mount", "umount2_1"):
    if kv["ok.%s.result" % k] != "0":
        errors.append("eg_sys mount-tmpfs: %s gave %s" % (k, kv["ok.%s.result" % k]))
if r("ok.fsmount.result") < 0:
    errors.append("eg_sys mount-tmpfs: fsmount gave %s" % kv["ok.fsmount.result"])
check(r("bad.pid"), [
    # 0xc0ed0003: the old magic, dropped
    ("mount", nosuch, "eg-src", "tmpfs", "rdonly|nosuid", "", -2),
    ("umount2", nosuch, "", "", "", "detach|nofollow", -2),
    # move_mount's source is the from path, made absolute
    ("move_mount", "/", nosuch, "", "", "", -2),
    ("move_mount", nosuch, "/", "", "", "", -2),
    # MOUNT_ATTR_RDONLY|NOATIME|NOSYMFOLLOW
    ("fsmount", "", "", "", "rdonly|nosymfollow|noatime", "", -9),
])
compat = "compat.compat.unavailable" not in kv
if compat:
    check(r("compat.pid"), [
        ("mount", nosuch, "eg-src32", "tmpfs", "noexec", "", -2),
        ("umount2", nosuch, "", "", "", "force", -2),
    ])
e = next((e for e in evs if e["tgid"] == r("ok.pid")), None)
if e:
    keys = list(e)
    at = keys.index("truncated")
    want = ["call", "source", "fstype", "mount_flags", "umount_flags", "ret", "exe", "args"]
    if keys[at + 1:at + 9] != want:
        errors.append("key order after truncated: %r" % keys[at + 1:at + 9])
alerts = [json.loads(l) for l in open(W + "/alerts.jsonl")]
fired = [(a["event"]["tgid"], a["event"]["filename"]) for a in alerts if a["rule_id"] == "e2e_mount_tmpfs"]
if fired != [(r("ok.pid"), mnt)]:
    errors.append("alerts: %r" % fired)
print("\n".join(errors) or "mount events as expected%s" % ("" if compat else " (no IA32 emulation)"))
sys.exit(1 if errors else 0)
PY
# the recording replays to the same alerts
expect_replay_same_alerts
echo "PASS ($EG_NAME)"
