#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 8, "collector truth", the races: a second thread of tests/e2e/eg_evade.c
# rewrites the path (or the sockaddr's port) while the main thread opens (or
# connects) tens of thousands of times; eg_evade checks after each call what
# the kernel actually opened (fstat: dev/ino) or connected to (getpeername).
# The recorded events must say the same, call for call: as many open events
# with filename TARGET as real TARGET opens (none more, none fewer), the same
# for the decoy, and as many connect events to the target port as real
# connects to it. A value the caller rewrote after the kernel copied it must
# not reach the event.
#   - race-open /etc/shadow .etc/shadow (one byte apart: the buffer is always
#     one of the two strings; the decoy is $W/race/.etc/shadow, from the cwd),
#     30,000 opens;
#   (eg_evade pins its two threads to two CPUs; at least a tenth of the calls
#   must have seen the buffer change while in the kernel, or the race proved
#   nothing;)
#   - race-connect on two ports eg_evade listens on, IPv4 and IPv6, 15,000
#     connects each.
# With EG_EVADE_SEQ=1, eg_evade prints each call's outcome in order: a failure
# message counts the target calls shown as the decoy and the other way round.
# Before the collector took the path from the new descriptor and the peer
# from the socket, 43-48% of the target calls were misreported here.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 60
EVADE=$W/eg_evade
cc -O1 -pthread -o "$EVADE" "$E2E_DIR/eg_evade.c" || fail "could not build eg_evade"
mkdir -p "$W/out" "$W/race/.etc"
echo decoy >"$W/race/.etc/shadow"
RW=$(readlink -f "$W")
N_OPEN=${EG_RACE_OPENS:-30000}
N_CONNECT=${EG_RACE_CONNECTS:-15000}

# two free TCP ports on both loopbacks (eg_evade listens on them itself)
read -r TPORT DPORT < <("$PY" - <<'PY'
import socket
ports = []
while len(ports) < 2:
    s4, s6 = socket.socket(socket.AF_INET), socket.socket(socket.AF_INET6)
    try:
        s4.bind(("127.0.0.1", 0))
        p = s4.getsockname()[1]
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s6.bind(("::1", p))
        if p not in ports:
            ports.append(p)
    except OSError:
        pass
    finally:
        s4.close()
        s6.close()
print(*ports)
PY
)
[ -n "$DPORT" ] || fail "no free ports"

# run_race NAME ARGS...: eg_evade ARGS (in $W/race) with the sequence printed
run_race() {
	local name=$1 rc=0
	shift
	(cd "$W/race" && EG_EVADE_SEQ=1 "$EVADE" "$@") >"$W/out/$name" 2>"$W/out/$name.err" || rc=$?
	[ "$rc" = 0 ] || fail "eg_evade $* exited $rc: $(cat "$W/out/$name.err")"
	printf 'args=%s\n' "$*" >>"$W/out/$name"
}

e2e_start -all-events -record "$W/rec.jsonl"
run_race open race-open /etc/shadow .etc/shadow "$N_OPEN"
run_race connect4 race-connect 127.0.0.1 "$TPORT" "$DPORT" "$N_CONNECT"
run_race connect6 race-connect ::1 "$TPORT" "$DPORT" "$N_CONNECT"
# events lost in the ring would be missing events, not misreported ones
sleep 0.5
dropped=$(metric ebpf_guard_events_dropped_total)
e2e_stop

"$PY" - "$W" "$RW" "$TPORT" "$DPORT" "${dropped:-unknown}" <<'PY' || fail "race events misreported (above)"
import json, os, sys

W, RW, TPORT, DPORT, dropped = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
TARGET, DECOY = "/etc/shadow", RW + "/race/.etc/shadow"

def out(name):
    d = {}
    with open(os.path.join(W, "out", name)) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            d.setdefault(k, v)
    return d

cases = {n: out(n) for n in ("open", "connect4", "connect6")}
tgids = {int(o["pid"]): n for n, o in cases.items()}
events = {n: [] for n in cases}
with open(W + "/rec.jsonl", encoding="utf-8", errors="surrogateescape") as f:
    for line in f:
        e = json.loads(line)
        if e.get("tgid") in tgids:
            events[tgids[e["tgid"]]].append(e)

fails = []

def compare(name, what, actual_t, actual_d, labels):
    """labels: 'T'/'D' per event, in record order (one thread: call order).
    The counts must match; when there is one event per call, so must each
    call's event (equal counts could hide misreports both ways)."""
    o = cases[name]
    seq = o.get("sequence", "")
    got = "".join(labels)
    t, d = got.count("T"), got.count("D")
    line = ("%s (eg_evade %s): %d calls; actual %d target, %d decoy; events %d target, %d decoy"
            % (name, o["args"], int(o["iterations"]), actual_t, actual_d, t, d))
    bad = t != actual_t or d != actual_d
    if len(seq) == len(got):
        t_as_d = sum(1 for a, b in zip(seq, got) if a == "T" and b == "D")
        d_as_t = sum(1 for a, b in zip(seq, got) if a == "D" and b == "T")
        line += "; paired call by call: %d target %s shown as the decoy, %d decoy %s shown as the target" % (
            t_as_d, what, d_as_t, what)
        bad = bad or t_as_d or d_as_t
    else:
        line += "; %d events for %d calls (ring drops since start: %s)" % (len(got), len(seq), dropped)
    if bad:
        fails.append(line)
    else:
        print("ok: " + line)

# the race must have been live: the flipper wrote during a good share of the
# calls (eg_evade pins the two threads to two CPUs)
for n, o in cases.items():
    if int(o["raced_calls"]) * 10 < int(o["iterations"]):
        fails.append("%s: the race was not live: the buffer changed during only %s of %s calls (cpus=%s)"
                     % (n, o["raced_calls"], o["iterations"], o.get("cpus")))

o = cases["open"]
if int(o["failed_opens"]) or int(o["other_opens"]):
    fails.append("open: the race opened something other than the two files: %r" % o)
labels, relative = [], 0
for e in events["open"]:
    if e["type"] != "open":
        continue
    if e.get("filename") == TARGET:
        labels.append("T")
    elif e.get("filename") == DECOY:
        labels.append("D")
    elif e.get("filename") == ".etc/shadow":
        labels.append("D")  # today's collector: the path as passed (still paired below)
        relative += 1
if relative:
    fails.append("open: %d events carry the relative path .etc/shadow, not %s" % (relative, DECOY))
compare("open", "opens", int(o["actual_target_opens"]), int(o["actual_decoy_opens"]), labels)

for n in ("connect4", "connect6"):
    o = cases[n]
    if int(o["failed_connects"]) or int(o["other_connects"]):
        fails.append("%s: connects failed or went elsewhere: %r" % (n, {k: v for k, v in o.items() if k != "sequence"}))
    labels = ["T" if e["dest_port"] == TPORT else "D" for e in events[n]
              if e["type"] == "connect" and e.get("dest_port") in (TPORT, DPORT)]
    compare(n, "connects", int(o["actual_target_connects"]), int(o["actual_decoy_connects"]), labels)

for m in fails:
    print("FAIL: " + m)
sys.exit(1 if fails else 0)
PY
echo "PASS ($EG_NAME)"
