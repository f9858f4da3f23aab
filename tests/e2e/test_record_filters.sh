#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# -record with -record-pid while live: a shell started before the daemon,
# with a child already running then, runs commands (a direct child, a
# subshell's child, a child of a child, a non-UTF-8 file name); the same
# commands run outside it. The recording holds events of that shell's
# subtree only, all of the marked ones, and replays to the live alerts.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 120
# Without the built-ins: they would also fire on execs of other processes
# of the machine, which live sees and the recording leaves out.
cat >"$W/rules.yaml" <<'YAML'
disable_builtins: ["builtin_fileless_exec", "builtin_suspicious_shell", "builtin_crypto_exec", "builtin_crypto_port"]
rules:
  - id: e2e_rec_in
    description: Marker opened inside the recorded subtree
    event_types: ["open"]
    filename_regex: "eg-rec-in-"
YAML
M=$W/eg-rec-in
touch "$M-direct" "$M-sub" "$M-deep" "$M-pre" "$M-"$'\xff' "$W/eg-rec-out"
cp /bin/cat "$W/egout"

# The shell, reading its commands from a FIFO that a sleep keeps open (a
# descriptor of this script would be inherited by the daemon, and the shell
# would never see the end of its input); each step touches a file.
mkfifo "$W/cmds"
bash -s <"$W/cmds" >"$W/sh.out" 2>&1 &
SH=$!
sleep 600 >"$W/cmds" &
KEEP=$!
E2E_ON_EXIT=sh_cleanup
sh_cleanup() {
	kill "$KEEP" "$SH" 2>/dev/null || true
	[ -s "$W/pre.pid" ] && kill "$(cat "$W/pre.pid")" 2>/dev/null || true
}
sh_run() { # sh_run <step> <command>: runs it in the shell, waits for it
	printf '%s\ntouch %q\n' "$2" "$W/step-$1" >>"$W/cmds"
	local i
	for i in $(seq 200); do
		[ -e "$W/step-$1" ] && return 0
		sleep 0.05
	done
	fail "step $1 did not finish: $(cat "$W/sh.out")"
}
# a grandchild of the shell (under a subshell), running before the daemon
# starts: only the daemon's look at /proc can tell it belongs
sh_run pre "( sh -c 'echo \$\$ >$W/pre.pid; while [ ! -e $W/go ]; do sleep 0.05; done; cat $M-pre >/dev/null; touch $W/pre.done'; true ) &"
for _ in $(seq 100); do [ -s "$W/pre.pid" ] && break; sleep 0.05; done
PRE=$(cat "$W/pre.pid")

e2e_start -config "$W/rules.yaml" -record "$W/rec.jsonl" -record-pid "$SH" \
	-record-types exec,open,exit

touch "$W/go"
sh_run direct "cat $M-direct >/dev/null"
sh_run sub "( cat $M-sub >/dev/null; true )"
sh_run deep "bash -c 'cat $M-deep >/dev/null; true'"
sh_run bad "cat $M-\$'\\xff' >/dev/null"
for _ in $(seq 100); do [ -e "$W/pre.done" ] && break; sleep 0.05; done
[ -e "$W/pre.done" ] || fail "the shell's earlier child did not finish"
# the same outside the shell
"$W/egout" "$W/eg-rec-out" >/dev/null
bash -c "cat $W/eg-rec-out >/dev/null; true"
kill "$KEEP"
wait "$KEEP" 2>/dev/null || true
wait "$SH" || true
expect_alerts --where-json filename="\"$M-deep\"" --rules e2e_rec_in
expect_alerts --where-json filename="\"$M-pre\"" --rules e2e_rec_in
sleep 0.3
e2e_stop

"$PY" - "$W/rec.jsonl" "$SH" "$PRE" "$M" "$W" <<'PY' || fail "the recording is not the shell's subtree"
import json, sys
rec, sh, pre, m, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
evs = [json.loads(l) for l in open(rec, "rb").read().decode("utf-8", "surrogateescape").splitlines()]
# the subtree as the recording itself tells it: the shell, and every process
# whose parent is in it (each process of it exits, so each has an event)
parent = {}
for e in evs:
    for p in (e["ppid"], e["parent"]["tgid"]):
        if p:
            parent.setdefault(e["tgid"], set()).add(p)
inside = {sh}
grew = True
while grew:
    grew = False
    for t, ps in parent.items():
        if t not in inside and ps & inside:
            inside.add(t)
            grew = True
bad = [e for e in evs if e["tgid"] not in inside]
if bad:
    sys.exit("%d events outside the subtree, e.g. %s" % (len(bad), json.dumps(bad[0])[:300]))
opened = sorted(e["filename"] for e in evs if e["type"] == "open" and "eg-rec" in e["filename"])
want = sorted(m + s for s in ("-direct", "-sub", "-deep", "-pre", "-\udcff"))
if opened != want:
    sys.exit("marker opens %r, want %r" % (opened, want))
if any(e["comm"] == "egout" for e in evs):
    sys.exit("an event of the outside command was recorded")
if pre not in inside or not any(e["tgid"] == sh and e["type"] == "exit" for e in evs):
    sys.exit("the earlier child (%d) or the shell's exit is missing" % pre)
types = sorted({e["type"] for e in evs})
if types != ["exec", "exit", "open"]:
    sys.exit("types %r" % types)
print("%d events of %d processes, all in the subtree" % (len(evs), len(inside)))
PY
grep -qF "eg-rec-in-\\udcff" "$W/rec.jsonl" || fail "the non-UTF-8 name is not escaped as \\udcff"
expect_replay_same_alerts 5
echo "PASS ($EG_NAME)"
