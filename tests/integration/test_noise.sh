#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Noise of the stock rules (docs/detection.md, Noise): the recorded benign
# workload (tests/noise/workload.jsonl.gz, made by tests/noise/record.sh:
# clone, build and test this project, a small make project, git, package
# queries, a web server, an interactive tmux shell, cron-like jobs) replayed
# through rules/ must raise fewer than 5 alerts of severity warning or
# higher per 100,000 events. Prints the count per rule and severity.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 120

FIX=$EG_SOURCE_DIR/tests/noise/workload.jsonl.gz
[ -s "$FIX" ] || fail "missing fixture $FIX"
zcat "$FIX" >"$W/events.jsonl"
events=$(wc -l <"$W/events.jsonl")
[ "$events" -gt 100000 ] || fail "the fixture has only $events events"
"$EG_BIN" -no-config-file -replay "$W/events.jsonl" -config "$EG_SOURCE_DIR/rules" \
	-alert-file "$W/alerts.jsonl" -prom-addr '' >/dev/null 2>"$W/err" || fail "replay failed: $(tail -3 "$W/err")"
python3 - "$W/alerts.jsonl" "$events" <<'PY' || fail "too noisy (above)"
import collections, json, sys
path, events = sys.argv[1], int(sys.argv[2])
loud = {"warning", "error", "critical"}
by_rule = collections.Counter()
for line in open(path):
    a = json.loads(line)
    by_rule[(a["rule_id"], a["severity"])] += 1
n = sum(c for (r, s), c in by_rule.items() if s in loud)
for (r, s), c in sorted(by_rule.items(), key=lambda x: -x[1]):
    print("noise: %-40s %-8s %6d  (%.2f per 100k events)" % (r, s, c, c * 1e5 / events))
rate = n * 1e5 / events
print("noise: %d events, %d alerts at warning or higher: %.2f per 100k" % (events, n, rate))
sys.exit(0 if rate < 5 else 1)
PY
echo "test_noise: ok"
