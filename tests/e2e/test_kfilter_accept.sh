#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The accept filter with the stock set (rules/ as shipped): no rule names a
# port, yet accepts stay in the kernel. shell_accepted_connection is about
# shells (their comm, or their executable's file name: a renamed shell),
# server_starts_connecting_out wants each process's first successful
# accept only (its once). So a server's accepts after its first stay in the
# kernel (ebpf_guard_events_filtered_total{type="accept"}); a shell's cross
# and alert, whether its comm or only its executable says it is one; a new
# process (the same program again) has a first accept again; and a failed
# accept is no first success (a detection of the test's own, with once,
# sees the success after it).
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 90

# serve PROG COMM N: PROG (a python interpreter) names itself COMM, accepts
# N connections from itself on a loopback port; prints its pid first
serve() {
	"$1" -c 'import ctypes, os, socket, sys
if sys.argv[1]:
    ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)
print(os.getpid(), flush=True)
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(8)
for _ in range(int(sys.argv[2])):
    c = socket.create_connection(l.getsockname())
    a, _ = l.accept()
    a.close(); c.close()' "$2" "$3"
}

# and a detection of our own that reports each process's first successful
# accept (once, a filter of successes)
cat >"$W/first.lua" <<'LUA'
return { id = "e2e_first_accept", description = "a process's first successful accept",
  event_types = { "accept" }, filter = { accept = { ret = { ge = 0 } } }, once = { "accept" },
  match = function(ev) return "first accept, ret " .. ev.ret end }
LUA
e2e_start -no-config-file -config "$EG_SOURCE_DIR/rules" -config "$W/first.lua"
line=$(grep '^ebpf-guard: kernel filter for accept events: ' "$W/stderr") ||
	fail "no line about the accept filter"
[[ $line =~ ^ebpf-guard:\ kernel\ filter\ for\ accept\ events:\ on\ \(0\ local_port\ values,\ [0-9]+\ program\ words,\ each\ process\'s\ first\ success\)$ ]] ||
	fail "the accept filter is not on with the stock set's programs and first successes: $line"
# the gauge says what the kernel applies: every filterable type but listen
# (shell_listening names writable directories)
for t in open link rename unlink chmod accept connect; do
	[ "$(metric "ebpf_guard_kernel_filter_on{type=\"$t\"}")" = 1 ] || fail "ebpf_guard_kernel_filter_on{type=\"$t\"} is not 1"
done
for t in listen; do
	[ "$(metric "ebpf_guard_kernel_filter_on{type=\"$t\"}")" = 0 ] || fail "ebpf_guard_kernel_filter_on{type=\"$t\"} is not 0"
done

# a server: its first accept crosses, the 199 others stay in the kernel
f0=$(filtered accept)
e0=$(events accept)
pid=$(serve "$PY" eg-kfa-srv 200 | head -n1)
f1=$(filtered accept)
[ $((f1 - f0)) -ge 199 ] || fail "a server's 200 accepts, $((f1 - f0)) kept in the kernel (want 199)"
# (the daemon counts what crossed as it drains the ring: up to 5 s)
for _ in $(seq 50); do
	e1=$(events accept)
	[ $((e1 - e0)) -ge 1 ] && break
	sleep 0.1
done
[ $((e1 - e0)) -ge 1 ] || fail "the server's first accept did not reach the daemon"
[ $((e1 - e0)) -lt 100 ] || fail "$((e1 - e0)) of a server's 200 accepts reached the daemon"
# the same program again, a new process: its first accept crosses again
f0=$(filtered accept)
serve "$PY" eg-kfa-srv 20 >/dev/null
f1=$(filtered accept)
[ $((f1 - f0)) -ge 19 ] ||
	fail "a second server's 20 accepts, $((f1 - f0)) kept in the kernel (want 19)"

# shell_accepted_connection's alerts of process $1: 3, every accept
three_alerts() {
	local n i
	for i in $(seq 50); do
		n=$("$PY" -c 'import json, sys
print(sum(1 for l in open(sys.argv[1]) if l.strip() and (a := json.loads(l))["rule_id"] == "shell_accepted_connection"
          and a["event"]["pid"] == int(sys.argv[2])))' "$W/alerts.jsonl" "$1")
		[ "$n" -ge 3 ] && break
		sleep 0.1
	done
	[ "$n" -eq 3 ] || fail "$2: 3 accepts, $n shell_accepted_connection alerts"
}
# a process whose first accept fails (EINVAL: not listening) has its first
# success after it: that one crosses (a failure is no first success)
pid=$("$PY" -c 'import ctypes, os, socket
ctypes.CDLL(None).prctl(15, b"eg-kfa-fail", 0, 0, 0)
print(os.getpid(), flush=True)
s = socket.socket(); s.bind(("127.0.0.1", 0))
try: s.accept()
except OSError: pass
s.listen(8)
for _ in range(3):
    c = socket.create_connection(s.getsockname()); a, _ = s.accept(); a.close(); c.close()')
expect_alerts --where pid="$pid" --where type=accept --rules e2e_first_accept

# a shell by its comm: every accept crosses and alerts
pid=$(serve "$PY" bash 3 | head -n1)
three_alerts "$pid" "a shell by its comm"
# a renamed shell: its executable's file name is a shell's, its comm is not
mkdir -p "$W/bin"
cp "$(readlink -f "$PY")" "$W/bin/ksh93"
pid=$(serve "$W/bin/ksh93" eg-kfa-quiet 3 | head -n1)
three_alerts "$pid" "a shell by its executable's name"
e2e_stop
echo "test_kfilter_accept: ok"
