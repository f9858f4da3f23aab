#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SIGHUP switching between two DIFFERENT rule sets (A and B, which share one
# rule id with different conditions), with exact per-event expectations: the
# event with pid p has kind p % 5, and each kind makes a known, non-empty set
# of alerts under A and a different one under B. The alerts file must hold,
# for every event, exactly the set of one rule set, in event order:
#   1. pids 1..100 with A, then the file switched to B and SIGHUP when idle,
#      then pids 101..200: exactly A's alerts before, B's after;
#   2. a stream of 20,000 events (pids 1001..21000); the file switched back
#      to A and SIGHUP sent by the writer in the middle of the stream, right
#      after writing 2000 events at once (more than a pipe holds, so they are
#      in flight): one cut-over pid K; every event before K gets B's alerts,
#      every one from K on A's; events whose alerts were already written
#      before that write are before K (the new rule set is built off the
#      event loop while events keep flowing, so K may land anywhere after
#      the signal, up to the end of the stream);
#   3. pids 30001..30100 with A.
# Nothing lost, nothing duplicated, per-rule counters equal the file's counts.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 120

cfg=$W/rules.yaml
rules_a='rules:
  - id: a_exec
    description: "A: exec by x"
    event_types: [exec]
    comm_regex: "^x$"
  - id: a_open
    description: "A: open under /etc"
    event_types: [open]
    filename_regex: "^/etc/"
  - id: a_conn
    description: "A: connect to 8080"
    event_types: [connect]
    min_dest_port: 8080
    max_dest_port: 8080
  - id: shared
    description: "shared A: z in the name"
    event_types: [exec, open]
    filename_regex: "z"'
rules_b='rules:
  - id: b_exec
    description: "B: exec under /usr/bin"
    event_types: [exec]
    filename_regex: "^/usr/bin/"
  - id: b_open
    description: "B: open by x"
    event_types: [open]
    comm_regex: "^x$"
  - id: b_conn
    description: "B: any connect"
    event_types: [connect]
    min_dest_port: 1
    max_dest_port: 65535
  - id: shared
    description: "shared B: comm x"
    event_types: [exec, open]
    comm_regex: "^x$"'
install_rules() {
	printf '%s\n' "$1" >"$cfg.tmp"
	mv "$cfg.tmp" "$cfg"
}

cat >"$W/h.py" <<'EOF'
import json, os, signal, sys, time

def event(pid):
    k = pid % 5
    typ, fn, port = [("exec", "/usr/bin/x", 0), ("exec", "/usr/bin/z", 0),
                     ("open", "/etc/passwd", 0), ("open", "/etc/z", 0),
                     ("connect", "connect", 8080)][k]
    return json.dumps({"timestamp": "2025-01-01T12:00:00Z", "pid": pid, "tgid": pid,
                       "type": typ, "comm": "x", "filename": fn,
                       "dest_ip": "10.0.0.1" if typ == "connect" else "",
                       "dest_port": port}, separators=(",", ":"))

# The alerts each kind must raise under each rule set (rule id, or
# "shared/A" / "shared/B" told apart by the description).
WANT = {
    "A": [{"a_exec"}, {"a_exec", "shared/A"}, {"a_open"}, {"a_open", "shared/A"}, {"a_conn"}],
    "B": [{"b_exec", "shared/B"}, {"b_exec", "shared/B"}, {"b_open", "shared/B"},
          {"b_open", "shared/B"}, {"b_conn"}],
}

def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0

def read_alerts(path):
    out = []
    with open(path) as f:
        for line in f:
            a = json.loads(line)
            rid = a["rule_id"]
            if rid == "shared":
                rid = "shared/" + a["description"].split()[1].rstrip(":")
            out.append((a["event"]["pid"], rid))
    return out

cmd = sys.argv[1]
if cmd == "gen":  # gen <lo> <hi>: event lines
    lo, hi = int(sys.argv[2]), int(sys.argv[3])
    sys.stdout.write("".join(event(p) + "\n" for p in range(lo, hi + 1)))
elif cmd == "count":  # count <set> <lo> <hi>: alerts expected
    s, lo, hi = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print(sum(len(WANT[s][p % 5]) for p in range(lo, hi + 1)))
elif cmd == "stream":
    # stream <fifo> <lo> <hi> <daemon pid> <alerts> <alert lines before>:
    # 250-event chunks; once >= 2000 are out and the stream's alerts reach the
    # file, notes the highest pid alerted so far, writes 2000 events at once
    # (more than the pipe holds, so the daemon is busy with them) and sends
    # SIGHUP right after that write returns, while they are being processed.
    fifo, lo, hi, dpid, alerts, before = sys.argv[2:8]
    lo, hi, dpid, before = int(lo), int(hi), int(dpid), int(before)
    sent = False
    p = lo
    with open(fifo, "w") as f:
        while p <= hi:
            if not sent and p - lo >= 2000 and count_lines(alerts) > before + 100:
                seen = max(q for q, _ in read_alerts(alerts))
                last = min(hi, p + 1999)
                f.write("".join(event(q) + "\n" for q in range(p, last + 1)))
                f.flush()
                os.kill(dpid, signal.SIGHUP)
                sent = True
                print("signal_after", last, "seen_max", seen, flush=True)
            else:
                last = min(hi, p + 249)
                f.write("".join(event(q) + "\n" for q in range(p, last + 1)))
                f.flush()
            p = last + 1
            time.sleep(0.002)
    if not sent:
        print("the stream ended before its alerts reached the file", flush=True)
        sys.exit(1)
elif cmd == "check":
    # check <alerts> <segment>...: a segment is SET:lo:hi (that set for every
    # pid), or OLD-NEW:lo:hi:kmin:kmax (one cut-over pid K, kmin <= K <= kmax,
    # lo < K <= hi: OLD's alerts before K, NEW's from K on).
    alerts = read_alerts(sys.argv[2])
    errors = []
    pids = [p for p, _ in alerts]
    if pids != sorted(pids):
        errors.append("alerts out of event order")
    got = {}
    for p, rid in alerts:
        got.setdefault(p, []).append(rid)
    covered = set()
    for seg in sys.argv[3:]:
        parts = seg.split(":")
        sets, lo, hi = parts[0].split("-"), int(parts[1]), int(parts[2])
        covered.update(range(lo, hi + 1))
        def matches(p, s):
            rids = got.get(p, [])
            return len(rids) == len(set(rids)) and set(rids) == WANT[s][p % 5]
        if len(sets) == 1:
            bad = [p for p in range(lo, hi + 1) if not matches(p, sets[0])]
            for p in bad[:5]:
                errors.append("pid %d (%s): got %s, want %s" %
                              (p, sets[0], sorted(got.get(p, [])), sorted(WANT[sets[0]][p % 5])))
            if bad:
                errors.append("%d of pids %d..%d do not have exactly set %s's alerts" %
                              (len(bad), lo, hi, sets[0]))
            continue
        old, new = sets
        kmin, kmax = int(parts[3]), int(parts[4])
        k = lo
        while k <= hi and matches(k, old):
            k += 1
        bad = [p for p in range(k, hi + 1) if not matches(p, new)]
        print("cut-over %s -> %s at pid %d (allowed %d..%d)" % (old, new, k, kmin, kmax))
        for p in bad[:5]:
            errors.append("pid %d after the cut-over %d: got %s, want %s's %s" %
                          (p, k, sorted(got.get(p, [])), new, sorted(WANT[new][p % 5])))
        if bad:
            errors.append("%d events after the cut-over at %d lack exactly %s's alerts" %
                          (len(bad), k, new))
        if not (lo < k <= hi):
            errors.append("no cut-over inside %d..%d (K=%d)" % (lo, hi, k))
        if not (kmin <= k <= kmax):
            errors.append("cut-over at pid %d, outside %d..%d" % (k, kmin, kmax))
    stray = sorted(set(got) - covered)
    if stray:
        errors.append("alerts for events never sent: %s" % stray[:5])
    if errors:
        print("\n".join(errors))
        sys.exit(1)
EOF
h() { python3 "$W/h.py" "$@"; }

alerts=$W/alerts.jsonl
install_rules "$rules_a"
eg_start -config "$cfg" -alert-file "$alerts"

# 1. A, idle SIGHUP to B, B.
h gen 1 100 >&3
n1=$(h count A 1 100)
wait_lines "$alerts" "$n1"
install_rules "$rules_b"
kill -HUP "$EG_PID"
wait_metric ebpf_guard_config_reloads_total 1
h gen 101 200 >&3
n2=$((n1 + $(h count B 101 200)))
wait_lines "$alerts" "$n2"
h check "$alerts" A:1:100 B:101:200 >"$W/check.txt" || fail "after the idle reload: $(cat "$W/check.txt")"

# 2. Back to A, SIGHUP from the writer in the middle of a stream.
install_rules "$rules_a"
h stream "$W/in" 1001 21000 "$EG_PID" "$alerts" "$n2" >"$W/stream.txt" ||
	fail "stream writer: $(cat "$W/stream.txt")"
read -r _ sig_after _ seen_max <"$W/stream.txt"
wait_metric ebpf_guard_config_reloads_total 2

# 3. A again; its last event's alert marks the end of everything before.
h gen 30001 30100 >&3
for i in $(seq 600); do
	last=$(tail -n 1 "$alerts" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["event"]["pid"])')
	[ "$last" = 30100 ] && break
	sleep 0.05
done
[ "$last" = 30100 ] || fail "the last alert is for pid $last, want 30100 (waited 30 s)"
h check "$alerts" A:1:100 B:101:200 "B-A:1001:21000:$((seen_max + 1)):21001" \
	A:30001:30100 >"$W/check.txt" || fail "$(cat "$W/stream.txt" "$W/check.txt")"
cat "$W/stream.txt" "$W/check.txt"

# Per-rule counters follow the file (shared: both versions, one series).
counts=$(rule_counts "$alerts")
while read -r rid n; do
	[ "$(metric "ebpf_guard_alerts_total{rule_id=\"$rid\"}")" = "$n" ] ||
		fail "alerts_total{rule_id=\"$rid\"} is '$(metric "ebpf_guard_alerts_total{rule_id=\"$rid\"}")', the file has $n"
done <<<"$counts"
[ "$(metric 'ebpf_guard_events_total{type="exec"}' )" != "" ] || fail "no events_total"
total=$((100 + 100 + 20000 + 100))
got=$(($(metric 'ebpf_guard_events_total{type="exec"}') + $(metric 'ebpf_guard_events_total{type="open"}') + $(metric 'ebpf_guard_events_total{type="connect"}')))
[ "$got" = "$total" ] || fail "events_total sums to $got, want $total"
[ "$(metric ebpf_guard_config_reload_failures_total)" = 0 ] || fail "a reload failed"
[ "$(metric "ebpf_guard_rules_loaded{source=\"$cfg\"}")" = 4 ] || fail "rules_loaded for $cfg"

eg_finish
echo "PASS ($EG_NAME)"
