#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kills made in the kernel (docs/response.md, "In the kernel"; bpf/kkill.h).
# Rules with action: kill whose one test the kernel makes exactly (an exec's
# file name prefix, an open's path, a connect's port) are enforced by the
# probe that builds the event, inside the system call: each process here
# would act the moment its call returns (hold 0: write a marker, send a
# payload) and never does. Its alert says "enforced_in": "kernel", delay 0.
# What the call itself did stays done (the open succeeded: the event's ret
# is a descriptor; the server accepted the connection, and got no byte).
# Not killed in the kernel, decided by the daemon instead: a protect:
# program (alerted "protected"), and a process that was running before the
# kills were switched on (its image unknown to the kernel: killed from
# userspace, after its open returned). A reload that drops the exec rule
# stops its kills at once.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 120

SHM=/dev/shm/eg-rk-$$
for f in run linked protected late; do
	clean_later "$SHM-$f"
	cp "$HELPER" "$SHM-$f"
	chmod 755 "$SHM-$f"
done
echo "the canary's secret" >"$W/canary"

cat >"$W/server.py" <<'PY'
import os, socket, sys, threading
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
log = open(sys.argv[1], "a", buffering=1)
def serve(c):
    c.settimeout(10)
    data = b""
    try:
        while True:
            d = c.recv(4096)
            if not d:
                break
            data += d
    except OSError:
        pass
    log.write("conn bytes=%d data=%s\n" % (len(data), data.decode(errors="replace")))
    c.close()
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1] + ".port")
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
: >"$W/server.log"
"$PY" "$W/server.py" "$W/server.log" &
SERVER_PID=$!
# a process older than the daemon: it opens the canary when told (SIGUSR1)
cat >"$W/old.sh" <<'SH'
trap 'exec 3<"$1"; echo opened >"$1.old-marker"' USR1
echo ready >"$1.old-ready"
for _ in $(seq 600); do sleep 0.1; done
SH
bash "$W/old.sh" "$W/canary" &
OLD_PID=$!
stop_all() {
	kill "$SERVER_PID" "$OLD_PID" 2>/dev/null
	wait "$SERVER_PID" "$OLD_PID" 2>/dev/null
}
E2E_ON_EXIT=stop_all
for _ in $(seq 100); do [ -s "$W/server.log.port" ] && [ -s "$W/canary.old-ready" ] && break; sleep 0.05; done
PORT=$(cat "$W/server.log.port") || fail "the canary server did not start"

rules() {
	cat <<YAML
protect:
  - $SHM-protected
YAML
	# while every ptrace, bpf, module and mount call of a request named
	# below is killed, the host's own programs that make them are spared
	[ "$1" = codes ] && cat <<YAML
  - systemd
  - systemd-udevd
  - systemd-logind
  - systemd-journald
  - udevadm
  - dockerd
  - containerd
  - containerd-shim
  - runc
  - snapd
  - gdb
  - strace
YAML
	echo "rules:"
	[ "$1" = with-exec ] && cat <<YAML
  - id: e2e_kk_exec
    description: A program from /dev/shm ran
    event_types: [exec]
    match:
      any:
        - filename: {prefix: "$SHM-"}
        - exe: {prefix: "$SHM-"}
    action: kill
YAML
	[ "$1" = codes ] && cat <<YAML
  - id: e2e_kk_ptrace
    description: A ptrace attach
    event_types: [ptrace]
    match:
      request: [attach, seize]
    action: kill
  - id: e2e_kk_bpf
    description: A BPF program loaded
    event_types: [bpf]
    match:
      bpf_cmd: prog_load
    action: kill
  - id: e2e_kk_module
    description: A kernel module loaded from memory
    event_types: [module]
    match:
      call: init_module
    action: kill
  - id: e2e_kk_mount
    description: A mount
    event_types: [mount]
    match:
      call: mount
    action: kill
YAML
	cat <<YAML
  - id: e2e_kk_open
    description: The canary file was opened
    event_types: [open]
    match:
      filename: "$W/canary"
    action: kill
  - id: e2e_kk_connect
    description: A connection to the canary port
    event_types: [connect]
    match:
      dest_port: $PORT
    action: kill
YAML
}
rules with-exec >"$W/rules.yaml"

hold() {
	local name=$1
	shift
	RC=0
	"$@" >"$W/$name.out" 2>"$W/$name.err" || RC=$?
	HPID=$(sed -n 's/^pid=\([0-9]*\)$/\1/p' "$W/$name.out")
}

# response <rule> <where> <result> [K=V ...]: the one alert of <rule> whose
# event has every K=V; its response keys say where and what.
response() {
	"$PY" - "$W/alerts.jsonl" "$@" <<'PY' || fail "response check failed: $*"
import json, sys, time
path, rule, where, result, conds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
def ok(ev):
    return all(str(ev.get(k)) == v for k, v in (c.split("=", 1) for c in conds))
sel = []
for _ in range(100):
    sel = [a for a in (json.loads(l) for l in open(path) if l.strip())
           if a["rule_id"] == rule and ok(a["event"])]
    if sel:
        break
    time.sleep(0.05)
if len(sel) != 1:
    sys.exit("%s %s: %d alerts" % (rule, conds, len(sel)))
a = sel[0]
got = (a.get("action"), a.get("enforced"), a.get("enforced_in"), a.get("result"))
if got != ("kill", True, where, result):
    sys.exit("got %s" % (got,))
d = a["action_delay_ns"]
if where == "kernel" and d != 0:
    sys.exit("a kill in the kernel reports delay %r (0: inside the system call)" % d)
if where == "userspace" and result == "killed" and not 0 < d < 2000000000:
    sys.exit("action_delay_ns %r" % d)
print(a["event"].get("ret", ""))
PY
}

e2e_start -config "$W/rules.yaml" -enforce
grep -q '^ebpf-guard: kills in the kernel: on for 3 rules (exec open connect)$' "$W/stderr" ||
	fail "no line saying the kernel kills: $(grep 'kills in the kernel' "$W/stderr")"
# (and no word of the kernel filters of types no rule here wants)
grep -q '^ebpf-guard: kernel filter for unlink events' "$W/stderr" &&
	fail "a line about the unlink filter, which no rule wants: $(grep 'filter for unlink' "$W/stderr")"

# exec: the program never runs an instruction (it would create its marker first)
hold exec "$SHM-run" hold 0 "$W/exec-marker"
[ "$RC" = 137 ] || fail "the /dev/shm program exited $RC, not killed (137)"
[ ! -e "$W/exec-marker" ] || fail "the killed program ran"
[ ! -s "$W/exec.out" ] || fail "the killed program printed: $(cat "$W/exec.out")"
response e2e_kk_exec kernel killed filename="$SHM-run" >/dev/null
grep -q "^ebpf-guard: response: rule=e2e_kk_exec action=kill pid=[0-9]* comm=[^ ]* exe=$SHM-run: killed in the kernel, inside the system call$" \
	"$W/stderr" || fail "the kill is not logged"

# the same program through a symbolic link elsewhere: the file name misses,
# the executable (the kernel's path) does
ln -s "$SHM-linked" "$W/link"
hold linked "$W/link" hold 0 "$W/linked-marker"
[ "$RC" = 137 ] || fail "the program run through a link exited $RC, not killed (137)"
[ ! -e "$W/linked-marker" ] || fail "the program run through a link ran"
response e2e_kk_exec kernel killed filename="$W/link" >/dev/null

# open: it succeeded in the kernel (ret is a descriptor), never returned
hold open "$HELPER" hold 0 "$W/open-marker" open "$W/canary"
[ "$RC" = 137 ] || fail "the process that opened the canary exited $RC, not killed"
[ ! -e "$W/open-marker" ] || fail "the opener ran after its open"
grep -q '^fd=' "$W/open.out" && fail "the open returned to the process: $(cat "$W/open.out")"
[ -n "$HPID" ] || fail "the opener printed no pid"
ret=$(response e2e_kk_open kernel killed tgid="$HPID")
[ "$ret" -ge 0 ] || fail "the open's event says ret=$ret"

# connect: the handshake is the kernel's; the payload it would send at once
# never leaves
hold connect "$HELPER" hold 0 "$W/connect-marker" connect4 127.0.0.1 "$PORT" EXFILTRATED
[ "$RC" = 137 ] || fail "the connecting process exited $RC, not killed"
[ ! -e "$W/connect-marker" ] || fail "the connecting process ran after its connect"
grep -q '^result=' "$W/connect.out" && fail "connect returned to the process"
response e2e_kk_connect kernel killed tgid="$HPID" dest_port="$PORT" >/dev/null
for _ in $(seq 100); do [ -s "$W/server.log" ] && break; sleep 0.05; done
[ "$(cat "$W/server.log")" = "conn bytes=0 data=" ] ||
	fail "the canary server should have seen one connection and no payload: $(cat "$W/server.log")"

# a protect: program: the kernel leaves it to the daemon, which spares it
hold protected "$SHM-protected" hold 0 "$W/protected-marker"
[ "$RC" = 0 ] && [ -e "$W/protected-marker" ] || fail "the protected program exited $RC"
response e2e_kk_exec userspace protected filename="$SHM-protected" >/dev/null

# a process older than the kills: its image is unknown to the kernel, which
# lets its open through; the daemon kills it from userspace
kill -USR1 "$OLD_PID"
for _ in $(seq 100); do kill -0 "$OLD_PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$OLD_PID" 2>/dev/null && fail "the older process was not killed"
response e2e_kk_open userspace killed tgid="$OLD_PID" >/dev/null

[ "$(metric 'ebpf_guard_response_actions_total{action="kill",result="killed"}')" = 5 ] ||
	fail "killed counter: $(metric 'ebpf_guard_response_actions_total{action="kill",result="killed"}')"
[ "$(metric 'ebpf_guard_response_actions_total{action="kill",result="protected"}')" = 1 ] ||
	fail "protected counter"

# a reload without the exec rule: its kills stop
rules without-exec >"$W/rules.yaml"
: >"$W/reload.mark"
kill -HUP "$EG_PID"
for _ in $(seq 100); do grep -q '^ebpf-guard: kills in the kernel: on for 2 rules (open connect)$' "$W/stderr" && break; sleep 0.05; done
grep -q '^ebpf-guard: kills in the kernel: on for 2 rules (open connect)$' "$W/stderr" ||
	fail "after the reload: $(grep 'kills in the kernel' "$W/stderr" | tail -n 1)"
hold late "$SHM-late" hold 0 "$W/late-marker"
[ "$RC" = 0 ] && [ -e "$W/late-marker" ] || fail "after the reload the /dev/shm program exited $RC"

# ptrace, bpf, module and mount: killed at the call's exit, before the
# process makes another (the eg_sys modes print each call's result as it
# returns, then make the next call). For as short a time as the checks take.
SYS=$W/eg_sys
cc -O1 -o "$SYS" "$E2E_DIR/eg_sys.c" || fail "could not build eg_sys"
reload_to() {
	rules "$1" >"$W/rules.yaml"
	kill -HUP "$EG_PID"
	for _ in $(seq 100); do grep -q "^ebpf-guard: kills in the kernel: on for $2\$" "$W/stderr" && break; sleep 0.05; done
	grep -q "^ebpf-guard: kills in the kernel: on for $2\$" "$W/stderr" ||
		fail "after the reload to $1: $(grep 'kills in the kernel' "$W/stderr" | tail -n 1)"
}
reload_to codes "6 rules (open connect ptrace bpf module mount)"
# and the probes of the four types attached (logged after the kills)
for _ in $(seq 100); do grep -q '^ebpf-guard: attached [0-9]* probes (.*ptrace.*mount' "$W/stderr" && break; sleep 0.05; done
grep -q '^ebpf-guard: attached [0-9]* probes (.*ptrace.*mount' "$W/stderr" ||
	fail "the ptrace, bpf, module and mount probes were not attached: $(grep 'attached' "$W/stderr" | tail -n 1)"
# ptrace: the tracer dies at its attach's exit and never reads the tracee
hold ptrace "$SYS" ptrace-child
TRACEE=$(sed -n 's/^child.pid=\([0-9]*\)$/\1/p' "$W/ptrace.out")
# (the tracee, detached when its tracer died, sleeps on: stopped here)
[ -n "$TRACEE" ] && kill -KILL "$TRACEE"
[ "$RC" = 137 ] || fail "the tracer exited $RC, not killed: $(cat "$W/ptrace.out")"
grep -q '^ptrace_attach.result=' "$W/ptrace.out" && fail "the attach returned to the tracer"
grep -q '^ptrace_peekdata' "$W/ptrace.out" && fail "the tracer read its tracee's memory"
response e2e_kk_ptrace kernel killed tgid="$HPID" request=attach >/dev/null
# bpf: the program is loaded, and gone with its only descriptor
hold bpf "$SYS" bpf-prog
[ "$RC" = 137 ] || fail "the BPF loader exited $RC, not killed: $(cat "$W/bpf.out")"
grep -q '^bpf_prog_load.result=' "$W/bpf.out" && fail "the program load returned to the loader"
grep -q '^bpf_map_create' "$W/bpf.out" && fail "the loader made its next call"
response e2e_kk_bpf kernel killed tgid="$HPID" bpf_cmd=prog_load >/dev/null
for _ in $(seq 100); do bpftool prog show name eg_sys_prog 2>/dev/null | grep -q . || break; sleep 0.05; done
bpftool prog show name eg_sys_prog 2>/dev/null | grep -q . && fail "the killed loader's program is still loaded"
# module: an init_module (a bogus image the kernel refuses: killed all the same)
hold module "$SYS" init-module
[ "$RC" = 137 ] || fail "the module loader exited $RC, not killed: $(cat "$W/module.out")"
grep -q '^init_module.result=' "$W/module.out" && fail "init_module returned to the loader"
response e2e_kk_module kernel killed tgid="$HPID" call=init_module >/dev/null
# mount: a mount(2) that fails (no such target): killed at its exit
hold mount "$SYS" mount-fail "$W/no-such-dir"
[ "$RC" = 137 ] || fail "the mounting process exited $RC, not killed: $(cat "$W/mount.out")"
grep -q '^mount.result=' "$W/mount.out" && fail "mount returned to the process"
grep -q '^umount2' "$W/mount.out" && fail "the process made its next call"
response e2e_kk_mount kernel killed tgid="$HPID" call=mount >/dev/null
reload_to without-exec "2 rules (open connect)"
e2e_stop
echo "PASS ($EG_NAME): killed in the kernel on exec, open, connect, ptrace, bpf, module and mount before the process ran again; protect: and an older process left to the daemon; a reload stops a dropped rule's kills"
