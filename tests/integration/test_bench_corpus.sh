#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The engine benchmark on a recording (eg_bench_engine -corpus, and
# bench/rule_cost.sh -w over it): the recording's events, process context
# included, reach the engine as a replay gives them (the same hits per pass
# as the daemon's alerts for the build recording of tests/noise), and a bad
# recording stops it with the file, the line and the reader's reason.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 240

BENCH=${EG_BUILD_DIR:?}/eg_bench_engine
[ -x "$BENCH" ] || fail "$BENCH missing"
cd "$EG_SOURCE_DIR"

gzip -dc tests/noise/workload.jsonl.gz >"$W/rec.jsonl"
"$EG_BIN" -no-config-file -replay "$W/rec.jsonl" -config rules/ -alert-file "$W/alerts.jsonl" \
	-prom-addr '' >/dev/null 2>"$W/replay.err" || fail "replay: $(cat "$W/replay.err")"
want=$(wc -l <"$W/alerts.jsonl")
[ "$want" -gt 100 ] || fail "the replay raised $want alerts"
"$BENCH" -corpus "$W/rec.jsonl" -passes 1 -config rules/ >"$W/bench.out" 2>&1 ||
	fail "bench: $(cat "$W/bench.out")"
n=$(grep -c . "$W/rec.jsonl")
grep -q "^engine: $n events, [0-9]* rules, $want hits per pass, 1 passes" "$W/bench.out" ||
	fail "expected $n events and $want hits per pass (the replay's alerts), got: $(head -1 "$W/bench.out")"

# -warmup: passes run first and left out of the figures; the hits and the
# prefilter's count are still per pass
"$BENCH" -corpus "$W/rec.jsonl" -warmup 2 -passes 1 -config rules/ >"$W/warm.out" 2>&1 ||
	fail "bench -warmup: $(cat "$W/warm.out")"
grep -q "^engine: $n events, [0-9]* rules, $want hits per pass, 1 passes" "$W/warm.out" ||
	fail "-warmup: expected $want hits per pass, got: $(head -1 "$W/warm.out")"
grep -q "^engine: warm-up (left out above): 2 passes, [0-9]* ms in all, [0-9.]* ns/event$" "$W/warm.out" ||
	fail "-warmup: no warm-up line in: $(cat "$W/warm.out")"
kept=$(grep "opens per pass kept" "$W/bench.out")
[ -n "$kept" ] && [ "$(grep "opens per pass kept" "$W/warm.out")" = "$kept" ] ||
	fail "-warmup: the prefilter's count per pass changed: '$kept' against $(grep "opens per pass" "$W/warm.out")"
if grep -q "warm-up" "$W/bench.out"; then fail "a warm-up line without -warmup"; fi
for bad in "-passes 0" "-warmup -1"; do
	rc=0
	# shellcheck disable=SC2086 # the option and its value
	"$BENCH" -corpus "$W/rec.jsonl" $bad >"$W/badopt.out" 2>&1 || rc=$?
	[ "$rc" = 2 ] && [ "$(cat "$W/badopt.out")" = "-passes wants at least 1 and -warmup at least 0" ] ||
		fail "$bad: exit $rc, $(cat "$W/badopt.out")"
done

# a bad line: the file, its line, the reader's reason; exit 1
{ head -3 "$W/rec.jsonl"; echo '{"type": "open", "pid": "x"}'; } >"$W/bad.jsonl"
rc=0
"$BENCH" -corpus "$W/bad.jsonl" -passes 1 >"$W/bad.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a bad line: exit $rc"
[ "$(cat "$W/bad.out")" = "$W/bad.jsonl:4: field \"pid\": expected an integer, got a string" ] ||
	fail "a bad line: $(cat "$W/bad.out")"
: >"$W/empty.jsonl"
rc=0
"$BENCH" -corpus "$W/empty.jsonl" -passes 1 >"$W/empty.out" 2>&1 || rc=$?
[ "$rc" = 1 ] && [ "$(cat "$W/empty.out")" = "$W/empty.jsonl: no events" ] ||
	fail "an empty recording: exit $rc, $(cat "$W/empty.out")"

# rule_cost.sh -w: its figures come after warm-up passes over ~1.5 M events
# (at most 20 passes; 20 for these 2,000 events), a row per file
head -2000 "$W/rec.jsonl" | gzip -c >"$W/small.jsonl.gz"
bash bench/rule_cost.sh -b "$EG_BUILD_DIR" -p 1 -w "$W/small.jsonl.gz" rules >"$W/cost-ok.out" 2>&1 ||
	fail "rule_cost -w: $(cat "$W/cost-ok.out")"
grep -q "; the recording $W/small.jsonl.gz (2000 events), 1 passes after 20 warm-up passes, CPU " "$W/cost-ok.out" ||
	fail "rule_cost -w: no warm-up in its header: $(head -1 "$W/cost-ok.out")"
grep -q '^95-stateful.lua  *[0-9.]*  *-\?[0-9.]*$' "$W/cost-ok.out" ||
	fail "rule_cost -w: no row for 95-stateful.lua: $(cat "$W/cost-ok.out")"

# rule_cost.sh -w names the file it was given, gzipped or not
gzip -c "$W/bad.jsonl" >"$W/bad.jsonl.gz"
rc=0
bash bench/rule_cost.sh -b "$EG_BUILD_DIR" -p 1 -w "$W/bad.jsonl.gz" rules >"$W/cost.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "rule_cost -w with a bad line: exit $rc"
grep -qx "$W/bad.jsonl.gz:4: field \"pid\": expected an integer, got a string" "$W/cost.out" ||
	fail "rule_cost -w with a bad line: $(cat "$W/cost.out")"
echo "ok ($EG_NAME: $n events, $want hits per pass)"
