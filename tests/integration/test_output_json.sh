#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The real binary's JSON: events with hostile strings (newlines, quotes,
# control bytes, raw invalid UTF-8, escaped surrogates, a 5000-byte path) are
# replayed with -record; every alert and record line must load with Python's
# json.loads, give back the exact input bytes through surrogateescape, and a
# second replay of the record must reproduce it byte for byte. Also: bad lines
# reported with their numbers while the rest goes on, CRLF input, and the
# [ALERT] line.
set -euo pipefail
: "${EG_BIN:?EG_BIN must point at the ebpf-guard binary}"
. "$(dirname "$0")/../lib/skip.sh"
command -v python3 >/dev/null || skip "python3 not installed"
W=$(mktemp -d "${TMPDIR:-/tmp}/eg-output-json.XXXXXX")
trap 'rm -rf "$W"' EXIT

fail() {
	echo "FAIL (test_output_json): $*" >&2
	exit 1
}

# The input: raw bytes written by Python so nothing is lost to the shell.
python3 - "$W/in.jsonl" <<'EOF'
import json, sys
names = [
    b"/tmp/new\nline",
    b'/tmp/q"uote\\back',
    b"/tmp/ctl\x01\x1b[31m\x7f",
    b"/tmp/caf\xe9.txt",                  # Latin-1
    b"/tmp/\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82",  # overlong, surrogate, >U+10FFFF, cut
    "/tmp/ok-é-€-😀".encode(),
    b"/" + b"p" * 4999,
]
with open(sys.argv[1], "wb") as f:
    for i, n in enumerate(names):
        # json.dumps of the surrogateescape'd text gives \udcXX for bad bytes
        s = json.dumps(n.decode("utf-8", "surrogateescape"))
        line = ('{"timestamp":"2025-01-01T12:00:%02d.25Z","pid":%d,"tgid":%d,"type":"exec",'
                '"comm":"bash","filename":%s,"exe":%s,"args":["bash",%s],"dest_ip":"","dest_port":0}'
                % (i, 100 + i, 100 + i, s, s, s))
        f.write(line.encode() + (b"\r\n" if i % 2 else b"\n"))
    # raw invalid bytes straight in the input (not escaped) are taken as they are
    f.write(b'{"type":"exec","pid":200,"comm":"bash","filename":"/raw/\xff\xfe"}\n')
    f.write(b'this is not json\n')
    f.write(b'{"type":"exec","pid":"300"}\n')
    f.write(b'{"type":"exec","pid":201,"comm":"bash","filename":"/last"}')
EOF

rc=0
"$EG_BIN" -replay "$W/in.jsonl" -record "$W/rec1.jsonl" -alert-file "$W/alerts.jsonl" \
	>"$W/stdout" 2>"$W/stderr" || rc=$?
[ "$rc" = 0 ] || fail "replay exited $rc: $(cat "$W/stderr")"
grep -qx "ebpf-guard: $W/in.jsonl:9: not JSON: invalid literal at column 1" "$W/stderr" ||
	fail "line 9 not reported: $(cat "$W/stderr")"
grep -qx "ebpf-guard: $W/in.jsonl:10: field \"pid\": expected an integer, got a string" "$W/stderr" ||
	fail "line 10 not reported: $(cat "$W/stderr")"
grep -qxF '[ALERT] rule=builtin_suspicious_shell comm=bash filename=/tmp/new\x0aline pid=100' "$W/stdout" ||
	fail "no [ALERT] line for pid 100: $(head -3 "$W/stdout")"

# Control bytes and DEL are shown as \xNN in the [ALERT] line (docs/output.md).
grep -qxF '[ALERT] rule=builtin_suspicious_shell comm=bash filename=/tmp/ctl\x01\x1b[31m\x7f pid=102' "$W/stdout" ||
	fail "[ALERT] line for pid 102 (control bytes, DEL): $(grep -a 'pid=102' "$W/stdout" | cat -v)"
# The JSON writes DEL as it is and the other control bytes as \u00xx.
grep -qaF "$(printf '"filename":"/tmp/ctl\\u0001\\u001b[31m\x7f"')" "$W/alerts.jsonl" ||
	fail "JSON filename for pid 102: $(grep -a '"pid":102' "$W/alerts.jsonl" | head -1 | cat -v)"

python3 - "$W/in.jsonl" "$W/rec1.jsonl" "$W/alerts.jsonl" <<'EOF' || fail "JSON check failed"
import json, sys
inp, rec, alerts = sys.argv[1:4]

def raw(s):
    return s.encode("utf-8", "surrogateescape")

want = {}
for line in open(inp, "rb").read().splitlines():
    try:
        ev = json.loads(line.rstrip(b"\r").decode("utf-8", "surrogateescape"))
    except ValueError:
        continue
    if isinstance(ev.get("pid"), int) and "filename" in ev:
        want[ev["pid"]] = raw(ev["filename"])
assert len(want) == 9, want.keys()

seen = set()
for line in open(rec, "rb").read().split(b"\n")[:-1]:
    ev = json.loads(line)               # strict: bytes must be valid UTF-8 JSON
    line.decode("utf-8")
    f = raw(ev["filename"])
    assert f == want[ev["pid"]], (ev["pid"], f, want[ev["pid"]])
    if ev["pid"] < 200:
        assert raw(ev["exe"]) == f and [raw(a) for a in ev["args"]] == [b"bash", f]
    # a record line ends with the host it was recorded on ("" when unknown)
    assert list(ev)[-2:] == ["hostname", "host_id"], list(ev)
    seen.add(ev["pid"])
assert seen == set(want), seen

n = 0
for line in open(alerts, "rb").read().split(b"\n")[:-1]:
    a = json.loads(line)
    # (no "events_lost": a replay has no kernel to lose events)
    assert list(a) == ["timestamp", "rule_id", "description", "event_type", "event", "severity", "tags",
                       "hostname", "host_id"], list(a)
    # the input has no host: the alert names none, its event carries no host keys
    assert a["hostname"] == "" and a["host_id"] == "", a
    assert "hostname" not in a["event"] and a["event"]["context"] == "unknown", a["event"]
    assert list(a["event"])[:8] == ["timestamp", "pid", "tgid", "type", "comm", "filename", "dest_ip", "dest_port"]
    assert a["timestamp"] == a["event"]["timestamp"]
    assert raw(a["event"]["filename"]) == want[a["event"]["pid"]]
    n += 1
assert n >= 9, n
EOF

# The record replays into the same record, byte for byte.
"$EG_BIN" -replay "$W/rec1.jsonl" -record "$W/rec2.jsonl" -alert-file "$W/alerts2.jsonl" \
	>/dev/null 2>"$W/stderr2" || fail "second replay failed: $(cat "$W/stderr2")"
cmp -s "$W/rec1.jsonl" "$W/rec2.jsonl" || fail "record -> replay -> record differs"
cmp -s "$W/alerts.jsonl" "$W/alerts2.jsonl" || fail "alerts differ on the second replay"
# A line longer than the reader's limit still counts as one line: the bad
# line after it is reported with its own number, and the good ones run.
python3 -c '
import sys
good = "{\"timestamp\":\"2025-01-01T12:00:00Z\",\"pid\":%d,\"tgid\":1,\"type\":\"exec\",\"comm\":\"a\",\"filename\":\"/x\"}\n"
with open(sys.argv[1], "w") as f:
    f.write(good % 1 + "{\"comm\":\"" + "x" * 3000000 + "\"}\n" + "oops\n" + good % 4)
' "$W/long.jsonl"
"$EG_BIN" -replay "$W/long.jsonl" -record "$W/long.rec" -alert-file /dev/null >/dev/null 2>"$W/long.err" ||
	fail "replay of the long line failed: $(cat "$W/long.err")"
want="ebpf-guard: $W/long.jsonl:2: line longer than 1048064 bytes
ebpf-guard: $W/long.jsonl:3: not JSON: unexpected 'o' at column 1, expected a JSON value"
[ "$(grep -v 'no -config' "$W/long.err")" = "$want" ] || fail "long line: $(cat "$W/long.err")"
pids=$(python3 -c 'import json,sys; print([json.loads(l)["pid"] for l in open(sys.argv[1])])' "$W/long.rec")
[ "$pids" = "[1, 4]" ] || fail "events around the long line: $pids"
echo "PASS (test_output_json)"
