#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# guard.log is rate-limited per second of event time (docs/lua-detections.md,
# guard.log): a replay, however fast, logs what the live run would have, and
# the "(N log messages dropped)" line of the last second appears when the
# engine is done. print in a detection names guard.log. Exact stderr.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 60

cat >"$W/log.lua" <<'EOF2'
local guard = require("guard")
return { id = "logger", description = "logs every exec", event_types = { "exec" },
  match = function(ev) guard.log("exec", ev.comm) return false end }
EOF2
# 3 seconds of event time, 7 execs in each
python3 - "$W/in.jsonl" <<'EOF2'
import json, sys
with open(sys.argv[1], "w") as f:
    for s in range(3):
        for k in range(7):
            f.write(json.dumps({"timestamp": "2026-11-26T10:00:0%d.%03dZ" % (s, k * 100), "pid": 100 + k,
                "tgid": 100 + k, "type": "exec", "comm": "c%d%d" % (s, k), "filename": "/bin/true",
                "dest_ip": "", "dest_port": 0, "ppid": 1, "uid": 0, "gid": 0, "cgroup_id": 1}) + "\n")
EOF2

"$EG_BIN" -replay "$W/in.jsonl" -config "$W/log.lua" -alert-file "$W/a.jsonl" -prom-addr '' \
	>/dev/null 2>"$W/err" || fail "replay exited $?: $(cat "$W/err")"
want=""
for s in 0 1 2; do
	for k in 0 1 2 3 4; do want+="ebpf-guard: $W/log.lua: exec c$s$k"$'\n'; done
	want+="ebpf-guard: $W/log.lua: (2 log messages dropped)"$'\n'
done
got=$(grep -v "only the built-in\|no -config" "$W/err")
[ "$got" = "${want%$'\n'}" ] || fail "stderr differs: want
${want}got
$got"

# print names guard.log
cat >"$W/print.lua" <<'EOF2'
print("hello")
return { id = "p", description = "d", event_types = { "exec" }, match = function() return false end }
EOF2
rc=0
"$EG_BIN" -replay "$W/in.jsonl" -config "$W/print.lua" -alert-file "$W/a.jsonl" -prom-addr '' \
	>/dev/null 2>"$W/err2" || rc=$?
[ "$rc" = 1 ] || fail "a print at load: exit $rc, want 1"
want="ebpf-guard: $W/print.lua: error while loading: $W/print.lua:1: print is not available in the sandbox: write with guard.log(...) (stderr, rate-limited)"
[ "$(cat "$W/err2")" = "$want" ] || fail "print message: $(cat "$W/err2")"
echo "PASS ($EG_NAME)"
