#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The journald output (docs/output.md, "journald"), seccomp filter on: a real
# systemd-journald started in a private mount namespace (tmpfs over
# /run/systemd, /run/log and /var/log/journal: the host's journal is not
# touched) receives two alerts with -journald; every native-protocol field is
# read back with journalctl --directory -o json and compared exactly
# (a value with a newline, invalid UTF-8, the alert JSON). Needs root.
set -euo pipefail
. "$(dirname "$0")/daemon_lib.sh"
eg_init 90

# A rule with two tags, severity critical, and events with awkward bytes.
cat >"$W/rules.yaml" <<'EOF'
rules:
  - id: eg_test_shell
    description: Shell "test" ] \ run
    event_types: ["exec"]
    comm_regex: "^ba"
    severity: critical
    tags: ["T1059.004", "TA0002"]
EOF
python3 - "$W/events.jsonl" <<'EOF'
import json, sys
def ev(pid, comm, fn, **kw):
    d = {"timestamp": "2025-01-01T12:00:00.123456789Z", "pid": pid, "tgid": pid, "type": "exec",
         "comm": comm, "filename": fn, "exe": "/usr/bin/bash", "uid": 1000, "dest_ip": "", "dest_port": 0,
         "hostname": "web-1", "host_id": "0123456789abcdef0123456789abcdef"}
    d.update(kw)
    return json.dumps(d)
with open(sys.argv[1], "w") as f:
    f.write(ev(101, 'ba"s]h\\', "/tmp/q\"uote]") + "\n")
    # invalid UTF-8 (written \udcff in JSON), a newline, a host name with a space
    f.write(ev(102, "bash", "/tmp/caf\udce9\nx", hostname="my host") + "\n")
EOF

# ---- journald: a real one, in a private mount namespace ---------------------------
JD=/lib/systemd/systemd-journald
[ "$(id -u)" = 0 ] || skip "needs root (a private mount namespace for journald)"
[ -x "$JD" ] && command -v journalctl >/dev/null || skip "needs $JD and journalctl (Debian package systemd)"
command -v unshare >/dev/null || skip "needs unshare (util-linux)"
cat >"$W/ns.sh" <<EOF
set -eu
# private copies of journald's directories, seen only in this namespace
mkdir -p /run/systemd /run/log
mount -t tmpfs eg-test-journald /run/systemd
mount -t tmpfs eg-test-journald /run/log
[ -d /var/log/journal ] && mount -t tmpfs eg-test-journald /var/log/journal
mkdir -p /run/systemd/journal
$JD >"$W/journald.log" 2>&1 &
JPID=\$!
for i in \$(seq 100); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
rc=0
"$EG_BIN" -replay "$W/events.jsonl" -config "$W/rules.yaml" -disable-rule builtin_suspicious_shell -alert-file "$W/alerts5.jsonl" \
	-journald >/dev/null 2>"$W/jd.err" || rc=\$?
for i in \$(seq 100); do
	n=\$(journalctl --directory=/run/log/journal -o json --no-pager SYSLOG_IDENTIFIER=ebpf-guard 2>/dev/null | wc -l)
	[ "\$n" -ge 2 ] && break
	sleep 0.05
done
journalctl --directory=/run/log/journal -o json --no-pager SYSLOG_IDENTIFIER=ebpf-guard >"$W/journal.json"
kill \$JPID; wait \$JPID || true
exit \$rc
EOF
timeout 60 unshare -m --propagation private bash "$W/ns.sh" ||
	fail "the journald run failed: $(cat "$W/jd.err" "$W/journald.log" 2>/dev/null)"
python3 - "$W/journal.json" "$W/alerts5.jsonl" <<'EOF' || fail "journald fields differ"
import json, sys
def val(v):  # journalctl -o json: text, or bytes as a list of numbers
    return bytes(v) if isinstance(v, list) else v.encode()
entries = [json.loads(l) for l in open(sys.argv[1])]
alerts = open(sys.argv[2], "rb").read().split(b"\n")[:-1]
assert len(entries) == 2, len(entries)
for e, a, pid, comm, fn in zip(entries, alerts, (101, 102), (b'ba"s]h\\', b"bash"),
                              (b'/tmp/q"uote]', b"/tmp/caf\xe9\nx")):
    want = {
        "MESSAGE": b"[ALERT] rule=eg_test_shell comm=" + comm + b" filename=" + fn
                   + b" pid=%d: Shell \"test\" ] \\ run" % pid,
        "PRIORITY": b"2", "SYSLOG_FACILITY": b"3", "SYSLOG_IDENTIFIER": b"ebpf-guard",
        "MESSAGE_ID": b"5f0b3c2a8e7d4c1b9a6e2d4f8c1b7a30",
        "EBPF_GUARD_RULE_ID": b"eg_test_shell", "EBPF_GUARD_SEVERITY": b"critical",
        "EBPF_GUARD_EVENT_TYPE": b"exec", "EBPF_GUARD_TAGS": b"T1059.004,TA0002",
        "EBPF_GUARD_PID": b"%d" % pid, "EBPF_GUARD_TGID": b"%d" % pid, "EBPF_GUARD_UID": b"1000",
        "EBPF_GUARD_COMM": comm, "EBPF_GUARD_EXE": b"/usr/bin/bash", "EBPF_GUARD_FILENAME": fn,
        "EBPF_GUARD_ALERT": a,
    }
    for k, v in want.items():
        assert val(e[k]) == v, (k, e.get(k), v)
    assert e["_TRANSPORT"] == "journal", e["_TRANSPORT"]
    assert not [k for k in e if k.startswith("EBPF_GUARD_") and k not in want], e.keys()
EOF

echo "ok: test_journald"
