#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Response actions from userspace, live (docs/response.md). Rules with action: kill on an
# exec from /dev/shm, an open of a canary file and a connect to a canary
# loopback port. With -enforce each process dies of SIGKILL before it can do
# what it waits 1.5 s to do (create a marker file, send a payload), and its
# alert says "enforced": true, "result": "killed" with the delay; what the
# system call itself did already happened (the file was opened: the event's
# ret is a descriptor; the canary server accepted the connection) and the
# test says so. Never killed: a protect: program, the daemon's own ancestor
# (a shell between this test and the daemon); another user's process is
# killed (CAP_KILL kept).
# Without -enforce (dry run) every process lives and its alert says
# "enforced": false, also after a reload that sets enforce: true in the
# settings file (it takes a restart). The metrics count each result. The kill delay (event to
# SIGKILL) is measured over a dozen kills and printed.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 180
command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"

SHM=/dev/shm/eg-rsp-$$
for f in hold protected nobody; do
	clean_later "$SHM-$f"
	cp "$HELPER" "$SHM-$f"
	chmod 755 "$SHM-$f"
done
: >"$W/canary"
: >"$W/ancestor-canary"

# the canary server: logs each connection's bytes once the peer closes it
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
stop_server() { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; }
E2E_ON_EXIT=stop_server
for _ in $(seq 100); do [ -s "$W/server.log.port" ] && break; sleep 0.05; done
PORT=$(cat "$W/server.log.port") || fail "the canary server did not start"

cat >"$W/rules.yaml" <<YAML
protect:
  - $SHM-protected
rules:
  - id: e2e_kill_shm_exec
    description: A program from /dev/shm ran
    event_types: [exec]
    match:
      filename: {prefix: "$SHM-"}
      uid: {ge: 0} # a second test: the kill is the daemon's (test_response_kernel.sh: the kernel's)
    action: kill
  - id: e2e_kill_canary_open
    description: The canary file was opened
    event_types: [open]
    match:
      filename: ["$W/canary", "$W/ancestor-canary"]
      uid: {ge: 0}
    action: [alert, kill]
  - id: e2e_kill_canary_connect
    description: A connection to the canary port
    event_types: [connect]
    match:
      dest_ip: 127.0.0.1
      dest_port: $PORT
    action: kill
YAML

# hold <name> <command...>: runs it, RC its exit status (137: SIGKILL), its
# stdout in $W/<name>.out, HPID its pid when it printed one
hold() {
	local name=$1
	shift
	RC=0
	"$@" >"$W/$name.out" 2>"$W/$name.err" || RC=$?
	HPID=$(sed -n 's/^pid=\([0-9]*\)$/\1/p' "$W/$name.out")
}

# response <rule> <want> [K=V ...]: waits for the one alert of <rule> whose
# event has every K=V (args~=S: an argument contains S) and checks its
# response keys against <want> ("dry_run", or "RESULT[:REASON]"); prints the
# kill's delay in ns. The alert's other keys are the usual ones.
response() {
	"$PY" - "$W/alerts.jsonl" "$@" <<'PY' || fail "response check failed: $*"
import json, sys, time
path, rule, want, conds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def ok(ev):
    for c in conds:
        if "~=" in c:
            k, v = c.split("~=", 1)
            if not any(v in a for a in ev.get(k, [])):
                return False
        else:
            k, v = c.split("=", 1)
            if str(ev.get(k)) != v:
                return False
    return True
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
keys = list(a)
base = ["timestamp", "rule_id", "description", "event_type", "event", "severity", "tags",
        "hostname", "host_id"]
if keys[:len(base)] != base:
    sys.exit("the alert's own keys changed: %s" % keys)
if want == "dry_run":
    if keys[len(base):] != ["action", "enforced"] or a["action"] != "kill" or a["enforced"] is not False:
        sys.exit("dry run keys: %s" % json.dumps({k: a[k] for k in keys[len(base):]}))
    sys.exit(0)
result, _, reason = want.partition(":")
extra = ["action", "enforced", "enforced_in", "result"] + (["reason"] if reason else []) + ["action_delay_ns"]
if keys[len(base):] != extra:
    sys.exit("response keys %s, want %s" % (keys[len(base):], extra))
if (a["action"], a["enforced"], a["enforced_in"], a["result"], a.get("reason", "")) != \
        ("kill", True, "userspace", result, reason):
    sys.exit("got %s" % json.dumps({k: a[k] for k in extra}))
d = a["action_delay_ns"]
if not (isinstance(d, int) and 0 < d < 2000000000):
    sys.exit("action_delay_ns %r" % d)
print(d)
PY
}

no_file() {
	[ ! -e "$1" ] || fail "$2"
}

# ---- -enforce -----------------------------------------------------------------
# The daemon runs under a shell of its own (parent.sh) that opens the
# ancestor canary on SIGUSR1: its parent, an ancestor never to be killed. Were
# it killed, this test would still be there to fail and clean up.
cat >"$W/parent.sh" <<'SH'
canary=$1
shift
trap ': <"$canary"' USR1
"$@" &
pid=$!
echo "$pid" >"$canary.daemon"
rc=0
while kill -0 "$pid" 2>/dev/null; do
	wait "$pid"
	rc=$?
done
exit "$rc"
SH
: >"$W/stderr"
bash "$W/parent.sh" "$W/ancestor-canary" "$EG_BIN" -alert-file "$W/alerts.jsonl" -prom-addr 127.0.0.1:0 \
	-config "$W/rules.yaml" -enforce -v >"$W/stdout" 2>"$W/stderr" &
PARENT=$!
for _ in $(seq 600); do
	grep -q '^ebpf-guard: attached [0-9]* probes' "$W/stderr" && break
	kill -0 "$PARENT" 2>/dev/null || fail "the daemon exited at start-up: $(tail -n 3 "$W/stderr")"
	sleep 0.05
done
EG_PID=$(cat "$W/ancestor-canary.daemon")
port=$(sed -n 's|^ebpf-guard: metrics on http://127\.0\.0\.1:\([0-9]*\)/metrics$|\1|p' "$W/stderr" | head -n1)
URL=http://127.0.0.1:$port
grep -q '^ebpf-guard: 3 rules with action kill, enforced (-enforce)$' "$W/stderr" ||
	fail "no line saying the kill rules are enforced"
grep -q '^ebpf-guard: kills in the kernel: off (no rule with action kill can be enforced there)$' "$W/stderr" ||
	fail "these rules are the daemon's to enforce: $(grep 'kills in the kernel' "$W/stderr")"
grep -q '^ebpf-guard: capabilities kept: [a-z_,]*kill; no_new_privs set; seccomp filter: ' "$W/stderr" ||
	fail "-enforce must keep CAP_KILL: $(grep 'capabilities kept' "$W/stderr")"
DELAYS=()

# an exec from /dev/shm: the program is killed before its 1.5 s are up
hold exec "$SHM-hold" hold 1500 "$W/exec-marker"
[ "$RC" = 137 ] || fail "the /dev/shm program exited $RC, not killed (137)"
no_file "$W/exec-marker" "the killed program created its marker"
DELAYS+=("$(response e2e_kill_shm_exec killed filename="$SHM-hold" args~="$W/exec-marker")")
grep -q "^ebpf-guard: response: rule=e2e_kill_shm_exec action=kill pid=[0-9]* comm=[^ ]* exe=$SHM-hold: killed, [0-9.]* ms after the event$" \
	"$W/stderr" || fail "the kill is not logged"

# an open of the canary: killed; the open itself had succeeded (ret is a fd)
hold open "$HELPER" hold 1500 "$W/open-marker" open "$W/canary"
[ "$RC" = 137 ] || fail "the process that opened the canary exited $RC, not killed"
no_file "$W/open-marker" "the process that opened the canary created its marker"
[ -n "$HPID" ] || fail "the opener printed no pid"
DELAYS+=("$(response e2e_kill_canary_open killed tgid="$HPID" filename="$W/canary")")
"$PY" - "$W/alerts.jsonl" "$HPID" <<'PY' || fail "the open's event does not show it succeeded"
import json, sys
ev = [json.loads(l)["event"] for l in open(sys.argv[1]) if '"e2e_kill_canary_open"' in l]
assert any(e["tgid"] == int(sys.argv[2]) and e["ret"] >= 0 for e in ev), ev
PY

# a connect to the canary port: killed before it sends; the server did see
# the connection (the handshake is done when connect returns)
hold connect "$HELPER" hold 1500 "$W/connect-marker" connect4 127.0.0.1 "$PORT" EXFILTRATED
[ "$RC" = 137 ] || fail "the connecting process exited $RC, not killed"
no_file "$W/connect-marker" "the connecting process created its marker"
DELAYS+=("$(response e2e_kill_canary_connect killed tgid="$HPID" dest_port="$PORT")")
for _ in $(seq 100); do [ -s "$W/server.log" ] && break; sleep 0.05; done
[ "$(cat "$W/server.log")" = "conn bytes=0 data=" ] ||
	fail "the canary server should have seen one connection and no payload: $(cat "$W/server.log")"

# a protect: program: alerted, never killed
hold protected "$SHM-protected" hold 200 "$W/protected-marker"
[ "$RC" = 0 ] && [ -e "$W/protected-marker" ] || fail "the protected program exited $RC"
response e2e_kill_shm_exec "protected:protect: $SHM-protected" filename="$SHM-protected" >/dev/null

# the daemon's parent opens the canary: protected, alive
kill -USR1 "$PARENT"
response e2e_kill_canary_open "protected:an ancestor of ebpf-guard" tgid="$PARENT" filename="$W/ancestor-canary" >/dev/null
kill -0 "$PARENT" 2>/dev/null || fail "the daemon's parent was killed"

# another user's process: killing it needs the CAP_KILL the daemon kept
hold nobody setpriv --reuid=65534 --regid=65534 --clear-groups "$SHM-nobody" hold 1500 /nonexistent/marker
[ "$RC" = 137 ] || fail "uid 65534's program exited $RC, not killed: $(grep response: "$W/stderr" | tail -n 1)"
DELAYS+=("$(response e2e_kill_shm_exec killed filename="$SHM-nobody" uid=65534)")

# the delay, over more kills (the drain tick is 10 ms while events flow, up
# to 40 ms when the host is idle)
for i in $(seq 10); do
	sleep 0.$((RANDOM % 5))
	hold loop "$SHM-hold" hold 1500 "$W/loop-$i-marker"
	[ "$RC" = 137 ] || fail "kill $i: exited $RC"
	DELAYS+=("$(response e2e_kill_shm_exec killed filename="$SHM-hold" args~="$W/loop-$i-marker")")
done
no_file "$W/loop-1-marker" "a killed program created its marker"

wait_killed=${#DELAYS[@]}
[ "$(metric 'ebpf_guard_response_actions_total{action="kill",result="killed"}')" = "$wait_killed" ] ||
	fail "killed counter: $(metric 'ebpf_guard_response_actions_total{action="kill",result="killed"}'), want $wait_killed"
[ "$(metric 'ebpf_guard_response_actions_total{action="kill",result="protected"}')" = 2 ] || fail "protected counter"
for r in dry_run gone error; do
	[ "$(metric "ebpf_guard_response_actions_total{action=\"kill\",result=\"$r\"}")" = 0 ] || fail "$r counter"
done
[ "$(metric ebpf_guard_response_delay_seconds_count)" = "$wait_killed" ] || fail "delay histogram count"
kill -TERM "$EG_PID"
rc=0
wait "$PARENT" || rc=$?
[ "$rc" = 0 ] || fail "the daemon exited $rc after SIGTERM"
EG_PID=
mv "$W/alerts.jsonl" "$W/alerts-enforced.jsonl"
STATS=$(printf '%s\n' "${DELAYS[@]}" | sort -n | awk '{ d[NR] = $1 } END {
	printf "%d kills: min %.1f ms, median %.1f ms, max %.1f ms", NR, d[1] / 1e6, d[int((NR + 1) / 2)] / 1e6, d[NR] / 1e6 }')

# ---- dry run: the same without -enforce ---------------------------------------
# (from a settings file: turning enforce on there takes a restart, a reload
# never starts killing)
: >"$W/server.log"
printf 'enforce: false\nconfig: [%s]\n' "$W/rules.yaml" >"$W/settings.yaml"
e2e_start -config-file "$W/settings.yaml"
grep -q '^ebpf-guard: 3 rules with action kill, not enforced (dry run: no -enforce)$' "$W/stderr" ||
	fail "no line saying the kill rules are a dry run"
printf 'enforce: true\nconfig: [%s]\n' "$W/rules.yaml" >"$W/settings.yaml"
kill -HUP "$EG_PID"
for _ in $(seq 100); do grep -q '^ebpf-guard: reloaded' "$W/stderr" && break; sleep 0.05; done
grep -q '^ebpf-guard: settings: enforce changed; restart to apply$' "$W/stderr" ||
	fail "a reload did not say that enforce needs a restart"
hold exec "$SHM-hold" hold 300 "$W/dry-exec-marker"
[ "$RC" = 0 ] && [ -e "$W/dry-exec-marker" ] || fail "dry run: the /dev/shm program exited $RC"
response e2e_kill_shm_exec dry_run filename="$SHM-hold" args~="$W/dry-exec-marker"
hold open "$HELPER" hold 300 "$W/dry-open-marker" open "$W/canary"
[ "$RC" = 0 ] && [ -e "$W/dry-open-marker" ] || fail "dry run: the opener exited $RC"
response e2e_kill_canary_open dry_run tgid="$HPID" filename="$W/canary"
hold connect "$HELPER" hold 300 "$W/dry-connect-marker" connect4 127.0.0.1 "$PORT" DELIVERED
[ "$RC" = 0 ] && [ -e "$W/dry-connect-marker" ] || fail "dry run: the connecting process exited $RC"
response e2e_kill_canary_connect dry_run tgid="$HPID" dest_port="$PORT"
for _ in $(seq 100); do [ -s "$W/server.log" ] && break; sleep 0.05; done
[ "$(cat "$W/server.log")" = "conn bytes=9 data=DELIVERED" ] || fail "dry run: the server got $(cat "$W/server.log")"
[ "$(metric 'ebpf_guard_response_actions_total{action="kill",result="dry_run"}')" = 3 ] || fail "dry_run counter"
[ "$(metric 'ebpf_guard_response_actions_total{action="kill",result="killed"}')" = 0 ] || fail "dry run killed"
grep -q 'ebpf-guard: response:' "$W/stderr" && fail "a dry run logged a response"
e2e_stop
echo "PASS ($EG_NAME): killed on exec, open and connect, protect: and ancestor spared, dry run harmless (a reload does not turn -enforce on); $STATS"
