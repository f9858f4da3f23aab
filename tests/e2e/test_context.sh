#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Process context on live events (docs/process-context.md):
# - a three-level chain, a uniquely named parent program (a copy of bash) ->
#   sh -> a child that opens /etc/shadow and connects to loopback, run on a
#   pseudo-terminal (script) with a login uid set and a working directory of
#   its own: the child's alerts carry its exe, args, cwd, tty, loginuid, the
#   parent (sh: tgid, exe, exec id of sh's exec) and ancestors (sh, the
#   uniquely named program, script), the same exec id as its exec, the
#   hostname and the machine id; the connect's filename is "connect";
# - pid reuse: two processes given the same pid (ns_last_pid) get different
#   exec ids;
# - LD_PRELOAD / LD_LIBRARY_PATH in an exec's environment: set, empty, absent,
#   and hidden behind 5,000 padding strings (flagged: the scan could not
#   rule it out);
# - a process started before the daemon has its context from /proc;
# - a process moved into cgroups named like a docker scope and a Kubernetes
#   pod's containerd scope carries their container id, runtime and pod UID.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 120
command -v script >/dev/null || skip "script (util-linux) not installed"

PORT=$((20000 + $$ % 20000))
cat >"$W/rules.yaml" <<YAML
rules:
  - id: ctx_shadow
    description: a credential file opened by the test's child
    event_types: [open]
    filename_regex: "^/etc/shadow$"
    condition: ev.comm == "eg_helper"
  - id: ctx_connect
    description: the test's connect
    event_types: [connect]
    min_dest_port: $PORT
    max_dest_port: $PORT
  - id: ctx_marker
    description: the test's marker file
    event_types: [open]
    filename_regex: "egctx-marker"
YAML

# started before the daemon: waits for a go file, then opens the marker
# itself (a redirection of the shell: no new process)
mkdir "$W/pre-wd"
marker=$W/egctx-marker-pre
touch "$marker"
(cd "$W/pre-wd" && exec bash -c 'while [ ! -e "$1" ]; do sleep 0.05; done; read -r _ <"$2"; true' \
	egctx-pre "$W/go" "$marker") &
PRE=$!
undo() { kill "$PRE" 2>/dev/null || true; }
E2E_ON_EXIT=undo

e2e_start -all-events -config "$W/rules.yaml" -record "$W/rec.jsonl"
grep -q 'process table seeded' "$W/stderr" || true

# the chain
cp /usr/bin/bash "$W/egctx-par"
mkdir "$W/wd"
cat >"$W/chain1.sh" <<EOF
cd "$W/wd"
sh "$W/chain2.sh"
true
EOF
cat >"$W/chain2.sh" <<EOF
tty >"$W/tty.txt"
"$HELPER" open-connect4 /etc/shadow 127.0.0.1 $PORT >"$W/child.out"
true
EOF
(echo 4321 >/proc/self/loginuid && SHELL=/bin/bash exec script -qec "$W/egctx-par $W/chain1.sh" /dev/null) >/dev/null ||
	fail "the chain failed (loginuid or script)"
child=$(sed -n 's/^pid=//p' "$W/child.out")
sh_pid=$(sed -n 's/^ppid=//p' "$W/child.out")
tty=$(sed 's|^/dev/||' "$W/tty.txt")
[ -n "$child" ] && [ -n "$sh_pid" ] || fail "the child printed no pid: $(cat "$W/child.out")"
case $tty in pts/*) ;; *) fail "the chain ran on no pseudo-terminal: '$tty'" ;; esac

# pid reuse
cat >"$W/reuse.py" <<'EOF'
import os, sys
helper, marker = sys.argv[1], sys.argv[2]
def run(want=0):
    pid = os.fork()
    if pid == 0:
        if want and os.getpid() != want:
            os._exit(3)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.execv(helper, [helper, "open", marker])
    os.waitpid(pid, 0)
    return pid
first = run()
for _ in range(200):
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(first - 1))
    if run(first) == first:
        print(first)
        sys.exit(0)
sys.exit("could not get pid %d again" % first)
EOF
touch "$W/egctx-marker-reuse"
reuse_pid=$("$PY" "$W/reuse.py" "$HELPER" "$W/egctx-marker-reuse") || fail "pid reuse: $reuse_pid"

# LD_PRELOAD: set, empty, absent, and hidden behind 5,000 padding strings
cat >"$W/env.py" <<'EOF'
import os, sys
true = "/usr/bin/true"
def run(tag, env):
    pid = os.fork()
    if pid == 0:
        os.execve(true, [true, tag], env)
    os.waitpid(pid, 0)
run("egctx-env-set", {"LD_PRELOAD": "/nonexistent/egctx.so"})
run("egctx-env-libpath", {"LD_LIBRARY_PATH": "/nonexistent"})
run("egctx-env-empty", {"LD_PRELOAD": ""})
run("egctx-env-none", {"PATH": "/usr/bin"})
pad = {"P%d" % i: "x" for i in range(5000)}
pad["LD_PRELOAD"] = "/nonexistent/egctx.so"
run("egctx-env-hidden", pad)
EOF
"$PY" "$W/env.py" 2>/dev/null

# the process started before the daemon
touch "$W/go"
wait "$PRE" || fail "the pre-started process failed"

# containers: cgroups named like a docker scope and a pod's containerd scope
cg=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$cg" ] || fail "no cgroup2 mount"
id1=$(echo "egctx1 $$" | sha256sum | cut -c1-64)
id2=$(echo "egctx2 $$" | sha256sum | cut -c1-64)
uid=8e3c1d2a-5b4f-4c6d-9e8f-$(printf '%012x' $$)
d1=$cg/egctx-$$.slice/docker-$id1.scope
# the names the kubelet's systemd driver gives (kubepods.slice may exist on
# a real node: only what the test made is removed)
kp=$cg/kubepods.slice
made=()
for d in "$kp" "$kp/kubepods-besteffort.slice" \
	"$kp/kubepods-besteffort.slice/kubepods-besteffort-pod${uid//-/_}.slice"; do
	[ -d "$d" ] || { mkdir "$d" && made=("$d" "${made[@]}"); } || fail "cannot create $d"
done
d2=$kp/kubepods-besteffort.slice/kubepods-besteffort-pod${uid//-/_}.slice/cri-containerd-$id2.scope
mkdir -p "$d1" "$d2" || fail "cannot create cgroups under $cg"
made=("$d2" "${made[@]}" "$d1" "$cg/egctx-$$.slice")
rm_cgroups() { local d; for d in "${made[@]}"; do rmdir "$d" 2>/dev/null || true; done; }
undo() { kill "$PRE" 2>/dev/null || true; rm_cgroups; }
# (and stays 1 s: the daemon resolves a new cgroup id from the event's
# process, /proc/PID/cgroup; a process gone by then leaves it to a walk of
# the cgroup tree, which is rate-limited: docs/containers.md)
in_cgroup() { # DIR MARKER: a shell moved into DIR opens MARKER
	bash -c 'echo $$ >"$1/cgroup.procs" && { read -r _ <"$2"; sleep 1; }' _ "$1" "$2" </dev/null
}
touch "$W/egctx-marker-docker" "$W/egctx-marker-pod"
in_cgroup "$d1" "$W/egctx-marker-docker" || fail "could not move a process into $d1"
in_cgroup "$d2" "$W/egctx-marker-pod" || fail "could not move a process into $d2"

sleep 0.5
# the table's metrics: seeded processes and more
n=$(metric ebpf_guard_process_table_entries)
[ -n "$n" ] && [ "$n" -ge 10 ] || fail "ebpf_guard_process_table_entries: '$n'"
[ -n "$(metric ebpf_guard_process_table_misses_total)" ] || fail "no process table misses series"
[ "$(metric 'ebpf_guard_events_dropped_total{type="fork"}')" = 0 ] || fail "fork records dropped, or no series"
e2e_stop
rm_cgroups
for d in "${made[@]}"; do [ ! -d "$d" ] || fail "could not remove the test's cgroup $d"; done

"$PY" - "$W" "$child" "$sh_pid" "$tty" "$HELPER" "$PORT" "$reuse_pid" "$PRE" "$id1" "$id2" "$uid" <<'PY' ||
import json, socket, sys
W, child, sh_pid, tty, helper, port, reuse, pre, id1, id2, uid = sys.argv[1:]
child, sh_pid, reuse, pre = int(child), int(sh_pid), int(reuse), int(pre)
alerts = [json.loads(l) for l in open(W + "/alerts.jsonl")]
rec = [json.loads(l) for l in open(W + "/rec.jsonl")]
errors = []
def check(what, got, want):
    if got != want:
        errors.append("%s: got %r, want %r" % (what, got, want))

host = socket.gethostname()
machine_id = open("/etc/machine-id").read().strip()
mine = [a for a in alerts if a["event"]["tgid"] == child and a["rule_id"] in ("ctx_shadow", "ctx_connect")]
check("the child's alerts", sorted(a["rule_id"] for a in mine), ["ctx_connect", "ctx_shadow"])
execs = [e for e in rec if e["type"] == "exec" and e["tgid"] == child]
check("exec events of the child", len(execs), 1)
sh_execs = [e for e in rec if e["type"] == "exec" and e["tgid"] == sh_pid and e["exe"] == "/usr/bin/dash"]
check("exec events of sh", len(sh_execs), 1)
for a in mine:
    ev = a["event"]
    k = a["rule_id"]
    check(k + " hostname", a.get("hostname"), host)
    check(k + " host_id", a.get("host_id"), machine_id)
    check(k + " exe", ev.get("exe"), helper)
    check(k + " args", ev.get("args"), [helper, "open-connect4", "/etc/shadow", "127.0.0.1", port])
    check(k + " cwd", ev.get("cwd"), W + "/wd")
    check(k + " tty", ev.get("tty"), tty)
    check(k + " loginuid", ev.get("loginuid"), 4321)
    check(k + " context", ev.get("context"), "exec")
    if execs:
        check(k + " exec_id (the exec's)", ev.get("exec_id"), execs[0].get("exec_id"))
    p = ev.get("parent") or {}
    check(k + " parent.tgid", p.get("tgid"), sh_pid)
    check(k + " parent.comm", p.get("comm"), "sh")
    check(k + " parent.exe", p.get("exe"), "/usr/bin/dash")
    check(k + " parent.args", p.get("args"), ["sh", W + "/chain2.sh"])
    if sh_execs:
        check(k + " parent.exec_id (sh's exec)", p.get("exec_id"), sh_execs[0].get("exec_id"))
    anc = ev.get("ancestors") or []
    check(k + " ancestors[0..2]", [(x.get("comm"), x.get("exe")) for x in anc[:3]],
          [("sh", "/usr/bin/dash"), ("egctx-par", W + "/egctx-par"), ("script", "/usr/bin/script")])
    check(k + " container_runtime", ev.get("container_runtime"), "host")
    if k == "ctx_connect":
        check("connect filename", ev.get("filename"), "connect")
        check("connect dest", (ev.get("dest_ip"), ev.get("dest_port")), ("127.0.0.1", int(port)))
if execs:
    check("the exec's own context", (execs[0].get("exec_id") != "", execs[0]["parent"]["comm"]), (True, "sh"))

ids = [a["event"]["exec_id"] for a in alerts
       if a["rule_id"] == "ctx_marker" and a["event"]["tgid"] == reuse and "reuse" in a["event"]["filename"]]
check("two processes with pid %d" % reuse, len(ids), 2)
if len(ids) == 2 and ids[0] == ids[1]:
    errors.append("pid reuse: both processes have exec id %s" % ids[0])

pre_alerts = [a["event"] for a in alerts if a["rule_id"] == "ctx_marker" and "marker-pre" in a["event"]["filename"]]
check("alerts of the pre-started process", [e["tgid"] for e in pre_alerts], [pre])
for e in pre_alerts:
    check("pre-started context", e.get("context"), "procfs")
    check("pre-started exe", e.get("exe"), "/usr/bin/bash")
    check("pre-started cwd", e.get("cwd"), W + "/pre-wd")
    check("pre-started args[0..1]", e.get("args", [])[:2], ["bash", "-c"])
    check("pre-started parent known", e.get("parent", {}).get("exe", "") != "", True)

for name, cid, runtime, pod in (("docker", id1, "docker", ""), ("pod", id2, "containerd", uid)):
    got = [a["event"] for a in alerts if a["rule_id"] == "ctx_marker" and a["event"]["comm"] == "bash"
           and a["event"]["filename"].endswith("-" + name)]
    check("alerts in the %s cgroup" % name, len(got), 1)
    for e in got:
        check(name + " container_id", e.get("container_id"), cid)
        check(name + " container_runtime", e.get("container_runtime"), runtime)
        check(name + " pod_uid", e.get("pod_uid"), pod)
        check(name + " cgroup ends", e.get("cgroup", "").endswith(cid + ".scope"), True)
want_env = {"egctx-env-set": (True, False), "egctx-env-libpath": (False, True),
            "egctx-env-empty": (False, False), "egctx-env-none": (False, False),
            "egctx-env-hidden": (True, True)}
for tag, want in want_env.items():
    got = [(e.get("ld_preload"), e.get("ld_library_path")) for e in rec
           if e["type"] == "exec" and e.get("args") == ["/usr/bin/true", tag]]
    check("exec %s: ld_preload, ld_library_path" % tag, got, [want])
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY
	fail "process context check failed"
echo "ok: chain, pid reuse, pre-started process, containers"
