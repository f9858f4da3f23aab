#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Soak: the live daemon under mixed open/exec/connect storms for DURATION
# seconds (default 600), with a reload every 3 s, a log rotation every 10 s
# and a deliberately hostile Lua detection loaded (it runs out of budget on
# every exec, bombs memory on every connect and hoards a little per open).
# Every 10 s it samples the daemon's RSS, Lua heap, drops, events and alerts;
# a marker exec every 100 ms must raise exactly one alert each (unless the
# kernel dropped events). At the end it checks that RSS did not grow by more
# than 32 MiB from minutes 1-3 to the last two minutes and that the Lua heap
# stayed under 256 MiB.
#
#   bench/soak.sh [DURATION] [BUILD_DIR]     (root; bench targets built)
#
# Prints the samples as a table and a summary; exit 1 when a bound is broken.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-600}
B=${2:-build}
BIN=$B/ebpf-guard
RSS_GROWTH_KB=${RSS_GROWTH_KB:-32768}   # minutes 1-3 against the last two
LUA_HEAP_MAX=${LUA_HEAP_MAX:-268435456} # bytes, any sample
[ "$(id -u)" = 0 ] || { echo "soak.sh: needs root (live mode)" >&2; exit 2; }
for t in "$BIN" "$B/bench/storm_open" "$B/bench/storm_exec" "$B/bench/storm_connect"; do
	[ -x "$t" ] || { echo "soak.sh: no $t (cmake --build $B)" >&2; exit 2; }
done

W=$(mktemp -d /tmp/eg-soak.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -n "${EG_PID:-}" ] && kill -TERM "$EG_PID" 2>/dev/null && wait "$EG_PID" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

mkdir "$W/conf"
cp rules/*.yaml "$W/conf/"
cat >"$W/conf/50-soak.yaml" <<'EOF'
rules:
  - id: soak_marker
    description: the soak's marker exec
    event_types: [exec]
    filename_regex: '/eg-soak-mark$'
EOF
cat >"$W/conf/60-hostile.lua" <<'EOF'
-- Misbehaves on purpose: every limit of the sandbox is hit, all the time.
local guard = require("guard")
local hoard = guard.state({ max = 5000 })
return {
  { id = "hostile_loop", description = "spins", event_types = { "exec" },
    match = function(ev) while true do end end },
  { id = "hostile_bomb", description = "allocates", event_types = { "connect" },
    match = function(ev) local s = ("x"):rep(1048576) for i = 1, 9 do s = s .. s end return false end },
  { id = "hostile_hoard", description = "keeps a little per process", event_types = { "open" },
    match = function(ev) hoard:set(ev.tgid, ("h"):rep(512) .. ev.tgid) return false end },
}
EOF
ln -s /bin/true "$W/eg-soak-mark"

"$BIN" -config "$W/conf" -alert-file "$W/alerts.jsonl" -prom-addr 127.0.0.1:0 \
	>/dev/null 2>"$W/stderr" &
EG_PID=$!
for _ in $(seq 600); do
	grep -q '^ebpf-guard: attached' "$W/stderr" && break
	kill -0 "$EG_PID" 2>/dev/null || { cat "$W/stderr" >&2; exit 1; }
	sleep 0.05
done
PORT=$(sed -n 's|^ebpf-guard: metrics on http://127\.0\.0\.1:\([0-9]*\)/metrics$|\1|p' "$W/stderr" | head -n1)
URL=http://127.0.0.1:$PORT
metric() { curl -sf --max-time 5 "$URL/metrics" | awk -v s="$1" '$1 == s { v = $2 } END { print v + 0 }'; }
# drops: the sum of every type's series
drops_sum() { curl -sf --max-time 5 "$URL/metrics" | awk '$1 ~ /^ebpf_guard_events_dropped_total\{/ { v += $2 } END { print v + 0 }'; }

# Storms in bursts (5 s on, 2 s off), pinned away from the daemon's core.
storm_loop() {
	while :; do
		taskset -c 1 "$B/bench/$1" 5 >/dev/null 2>&1 || true
		sleep 2
	done
}
for s in storm_open storm_exec storm_connect; do
	storm_loop "$s" &
	PIDS+=($!)
done
taskset -pc 0 "$EG_PID" >/dev/null

marks=0
start=$(date +%s)
next_sample=$start
next_reload=$((start + 3))
next_rotate=$((start + 10))
rot=0
printf '%6s %10s %12s %10s %12s %10s %8s\n' secs rss_kb lua_bytes drops events alerts reloads
while :; do
	now=$(date +%s)
	[ $((now - start)) -ge "$DURATION" ] && break
	"$W/eg-soak-mark" && marks=$((marks + 1))
	if [ "$now" -ge "$next_reload" ]; then
		kill -HUP "$EG_PID"
		next_reload=$((now + 3))
	fi
	if [ "$now" -ge "$next_rotate" ]; then
		rot=$((rot + 1))
		[ -f "$W/alerts.jsonl" ] && mv "$W/alerts.jsonl" "$W/alerts.jsonl.$rot"
		kill -USR1 "$EG_PID"
		next_rotate=$((now + 10))
	fi
	if [ "$now" -ge "$next_sample" ]; then
		rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$EG_PID/status")
		ev=$(($(metric 'ebpf_guard_events_total{type="open"}') + $(metric 'ebpf_guard_events_total{type="exec"}') + $(metric 'ebpf_guard_events_total{type="connect"}')))
		printf '%6d %10d %12d %10d %12d %10d %8d\n' $((now - start)) "$rss" \
			"$(metric ebpf_guard_lua_memory_bytes)" "$(drops_sum)" \
			"$ev" "$(cat "$W"/alerts.jsonl* 2>/dev/null | wc -l)" \
			"$(metric ebpf_guard_config_reloads_total)" | tee -a "$W/samples"
		next_sample=$((now + 10))
	fi
	sleep 0.1
done
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
pkill -f "$B/bench/storm_" 2>/dev/null || true
sleep 1
drops=$(drops_sum)
kill -TERM "$EG_PID"
rc=0
wait "$EG_PID" || rc=$?
EG_PID=
got=$(cat "$W"/alerts.jsonl* | grep -c '"rule_id":"soak_marker"' || true)
errs=$(grep -c 'error' "$W/stderr" || true)

echo
echo "duration ${DURATION}s, exit status $rc, marker execs $marks, marker alerts $got, kernel drops $drops"
echo "stderr lines mentioning errors (rate-limited by the daemon): $errs"
# RSS swings by ~100 MB as reloads build a second Lua state: compare the
# largest sample of minutes 1-3 with the largest of the last two minutes.
awk -v g="$RSS_GROWTH_KB" -v h="$LUA_HEAP_MAX" -v d="$DURATION" '
	$1 >= 60 && $1 < 180 && $2 > early { early = $2 }
	$1 >= d - 120 && $2 > late { late = $2 }
	{ if ($2 > max) max = $2; if ($3 > hmax) hmax = $3 }
	END {
		printf "RSS: largest sample in minutes 1-3 %d kB, in the last two minutes %d kB, peak %d kB (bound: +%d kB)\n", early, late, max, g
		printf "Lua heap peak %d bytes (bound %d)\n", hmax, h
		exit (early && late - early > g) || hmax > h
	}' "$W/samples" || { echo "FAIL: memory grew past its bound"; exit 1; }
[ "$rc" = 0 ] || { echo "FAIL: the daemon exited $rc"; exit 1; }
if [ "$drops" = 0 ] && [ "$got" != "$marks" ]; then
	echo "FAIL: $marks marker execs, $got marker alerts, no drops"
	exit 1
fi
echo "PASS"
