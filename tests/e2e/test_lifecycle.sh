#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The collector's life: start-up checks, adaptive attach, metrics, kernel-side
# self-filtering, exit events, -bpf-object, and SIGTERM draining what is left.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 120

# not root: one clear message, exit 1
if command -v setpriv >/dev/null; then
	rc=0
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$EG_BIN" -alert-file - -prom-addr '' >/dev/null 2>"$W/nobody.err" || rc=$?
	[ "$rc" = 1 ] || fail "as nobody: exit $rc, want 1 ($(cat "$W/nobody.err"))"
	grep -q 'needs root (or CAP_BPF and CAP_PERFMON)' "$W/nobody.err" ||
		fail "as nobody: no clear message: $(cat "$W/nobody.err")"
fi

# a missing -bpf-object
rc=0
"$EG_BIN" -bpf-object "$W/missing.bpf.o" -alert-file "$W/x.jsonl" -prom-addr '' >/dev/null 2>"$W/missing.err" || rc=$?
[ "$rc" = 1 ] && grep -q "failed to open BPF object $W/missing.bpf.o" "$W/missing.err" ||
	fail "missing -bpf-object: exit $rc: $(cat "$W/missing.err")"

# adaptive attach: the built-ins want exec and connect only
e2e_start
grep -q '^ebpf-guard: attached 8 probes (exec,connect)$' "$W/stderr" ||
	fail "built-ins only: $(grep attached "$W/stderr")"
[ "$(metric ebpf_guard_ringbuf_size_bytes)" = 16777216 ] || fail "ringbuf_size_bytes: $(metric ebpf_guard_ringbuf_size_bytes)"
run_helper open /etc/hostname
sleep 0.3
[ "$(metric 'ebpf_guard_events_total{type="open"}')" = 0 ] || fail "open events counted without open probes"
# SIGTERM right after a connect (sent by the helper, microseconds after it:
# the event is still in the ring): drained, processed and written before exit
EG_HELPER_KILL=$EG_PID:$(kill -l TERM) run_helper connect4 127.0.0.1 4444
e2e_stop # (a second SIGTERM: harmless)
[ "$STOP_MS" -lt 2000 ] || fail "SIGTERM exit took $STOP_MS ms"
expect_alerts --timeout 0 --where pid="$HPID" --where type=connect --rules builtin_crypto_port

# a SIGHUP reload that adds an open rule attaches the open probes
# port_rule: the rule file of one connect rule (port 4444)
port_rule() {
	cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_port
    description: Port 4444
    event_types: ["connect"]
    min_dest_port: 4444
    max_dest_port: 4444
YAML
}
port_rule
: >"$W/alerts.jsonl"
e2e_start -config "$W/rules.yaml"
grep -q '^ebpf-guard: attached 8 probes (exec,connect)$' "$W/stderr" || fail "before reload: $(grep attached "$W/stderr")"
cat >>"$W/rules.yaml" <<'YAML'
  - id: e2e_marker_open
    description: Marker file opened
    event_types: ["open"]
    filename_regex: "eg-e2e-marker-reload"
YAML
kill -HUP "$EG_PID"
wait_stderr '^ebpf-guard: attached [0-9]* probes (exec,open,connect)$' ||
	fail "open probes not attached within 5 s of a reload that wants them: $(grep -E 'attached|reload' "$W/stderr")"
touch "$W/eg-e2e-marker-reload"
run_helper open "$W/eg-e2e-marker-reload"
expect_alerts --where pid="$HPID" --where type=open --rules e2e_marker_open
e2e_stop

# a failed exec is reported by the classic tracepoints of execve's exit
# while the shared sys_exit program is not attached (execs only: the
# built-ins without their connect rule), by sys_exit itself once a reload
# attaches it (the classic ones then detached): once either way
shm=$(mktemp -d /dev/shm/eg-e2e-life.XXXXXX)
clean_later "$shm"
cp /bin/true "$shm/noexec"
chmod 0644 "$shm/noexec"
cat >"$W/rules.yaml" <<'YAML'
rules: []
YAML
: >"$W/alerts.jsonl"
e2e_start -disable-rule builtin_crypto_port -config "$W/rules.yaml"
grep -q '^ebpf-guard: attached 7 probes (exec)$' "$W/stderr" || fail "execs only: $(grep attached "$W/stderr")"
run_helper exec "$shm/noexec"
expect_alerts --where pid="$HPID" --where filename="$shm/noexec" --rules builtin_fileless_exec --field-json exe='""'
port_rule
kill -HUP "$EG_PID"
wait_stderr '^ebpf-guard: attached 8 probes (exec,connect)$' ||
	fail "sys_exit not attached (and the exec exits' tracepoints not detached) by a reload: $(grep -E 'attached|reload' "$W/stderr")"
run_helper exec "$shm/noexec"
expect_alerts --where pid="$HPID" --where filename="$shm/noexec" --rules builtin_fileless_exec --field-json exe='""'
e2e_stop

# -all-events, the external object, recording: every probe, exit events,
# nothing from the daemon itself
obj=$EG_BUILD_DIR/bpf/ebpf_guard.bpf.o
[ -f "$obj" ] || fail "no $obj"
: >"$W/alerts.jsonl"
e2e_start -all-events -bpf-object "$obj" -record "$W/rec.jsonl"
grep -q '^ebpf-guard: attached [0-9]* probes (exec,open,connect,exit,memfd,ptrace,module,bpf,setid,namespace,mount,link,rename,unlink,chmod,dup,listen,accept)$' "$W/stderr" ||
	fail "-all-events: $(grep attached "$W/stderr")"
daemon=$EG_PID
run_helper exec /bin/true
p_true=$HPID
kill -USR1 "$daemon" # the daemon reopens its alert file: its own open must not show
run_helper connect6 ::1 4444
expect_alerts --where pid="$HPID" --where type=connect --rules builtin_crypto_port --field dest_ip=::1
sleep 0.2
events=$(metric 'ebpf_guard_events_total{type="open"}')
[ "${events:-0}" -gt 0 ] || fail "no open events counted with -all-events"
drops=$(scrape | grep '^ebpf_guard_events_dropped_total' || true)
[ "$drops" = 'ebpf_guard_events_dropped_total{type="exec"} 0
ebpf_guard_events_dropped_total{type="open"} 0
ebpf_guard_events_dropped_total{type="connect"} 0
ebpf_guard_events_dropped_total{type="exit"} 0
ebpf_guard_events_dropped_total{type="memfd"} 0
ebpf_guard_events_dropped_total{type="ptrace"} 0
ebpf_guard_events_dropped_total{type="module"} 0
ebpf_guard_events_dropped_total{type="bpf"} 0
ebpf_guard_events_dropped_total{type="setid"} 0
ebpf_guard_events_dropped_total{type="namespace"} 0
ebpf_guard_events_dropped_total{type="mount"} 0
ebpf_guard_events_dropped_total{type="link"} 0
ebpf_guard_events_dropped_total{type="rename"} 0
ebpf_guard_events_dropped_total{type="unlink"} 0
ebpf_guard_events_dropped_total{type="chmod"} 0
ebpf_guard_events_dropped_total{type="dup"} 0
ebpf_guard_events_dropped_total{type="listen"} 0
ebpf_guard_events_dropped_total{type="accept"} 0
ebpf_guard_events_dropped_total{type="fork"} 0' ] || fail "drops: $drops"
e2e_stop
"$PY" - "$W/rec.jsonl" "$daemon" "$p_true" <<'PY' || fail "recording check failed"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
daemon, p = int(sys.argv[2]), int(sys.argv[3])
own = [e for e in evs if e["tgid"] == daemon]
if own:
    print("the daemon's own events were recorded:", own[:3]); sys.exit(1)
ex = [e for e in evs if e["type"] == "exec" and e["tgid"] == p and e["filename"] == "/bin/true"]
ends = [e for e in evs if e["type"] == "exit" and e["tgid"] == p]
if len(ex) != 1 or len(ends) != 1:
    print("exec/exit of /bin/true: %d exec, %d exit" % (len(ex), len(ends))); sys.exit(1)
if not ex[0]["exe"].endswith("/true") or ex[0]["ppid"] <= 0:
    print("exec event fields:", ex[0]); sys.exit(1)
if not all(e["timestamp"].startswith(("20", "21")) for e in evs):
    print("non wall-clock timestamps"); sys.exit(1)
PY
echo "PASS ($EG_NAME)"
