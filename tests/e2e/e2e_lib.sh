# SPDX-License-Identifier: MIT
# Helpers for the live end-to-end tests: the real daemon with the kernel
# collector, real system calls, exact alerts. Sourced, not run.
#
#   e2e_init <seconds>     bounds the test with timeout(1), skips (77) without
#                          root/BTF/cc/python3, makes $W, builds $HELPER,
#                          cleans every file and process on exit
#   e2e_start [flags...]   starts $EG_BIN -alert-file $W/alerts.jsonl
#                          -prom-addr 127.0.0.1:0 [flags]; waits for the
#                          collector's "attached N probes" line; sets EG_PID,
#                          URL; a start-up failure (BPF load or attach
#                          included) fails the test with the daemon's message
#   e2e_stop [SIGNAL]      SIGTERM (or SIGNAL, e.g. INT); the daemon must
#                          exit 0 within 3 s
#   run_helper <args...>   runs $HELPER, sets HPID (and HPPID) from its
#                          "pid=N" ("ppid=N") lines, HOUT to its whole stdout
#   expect_alerts <args>   tests/e2e/check_alerts.py on $W/alerts.jsonl
#   wait_stderr <regex>    waits up to 5 s for a daemon stderr line matching
#                          it (grep); returns 1 when none came
#   fail <message>, skip <message> (tests/lib/skip.sh: a failure under CI=true)

set -euo pipefail

: "${EG_BIN:?EG_BIN must point at the ebpf-guard binary}"
EG_SOURCE_DIR=${EG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
E2E_DIR=$EG_SOURCE_DIR/tests/e2e
EG_NAME=$(basename "$0" .sh)
EG_PID=
URL=
HPID=
HOUT=
E2E_CLEAN_PATHS=()

fail() {
	echo "FAIL ($EG_NAME): $*" >&2
	if [ -n "${W:-}" ] && [ -s "$W/stderr" ]; then
		echo "--- daemon stderr (last 20 lines without [ALERT]) ---" >&2
		grep -v '^\[ALERT\]' "$W/stderr" | tail -n 20 >&2 || true
	fi
	exit 1
}

. "$(dirname "${BASH_SOURCE[0]}")/../lib/skip.sh"

# E2E_ON_EXIT: a function a test sets to undo what it made outside $W (run
# first at exit, its failures ignored).
E2E_ON_EXIT=
e2e_cleanup() {
	local rc=$?
	trap - EXIT
	[ -z "$E2E_ON_EXIT" ] || "$E2E_ON_EXIT" || true
	if [ -n "$EG_PID" ] && kill -0 "$EG_PID" 2>/dev/null; then
		kill -TERM "$EG_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$EG_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$EG_PID" 2>/dev/null || true
		wait "$EG_PID" 2>/dev/null || true
	fi
	local p
	for p in "${E2E_CLEAN_PATHS[@]}"; do
		rm -rf -- "$p"
	done
	[ -n "${W:-}" ] && rm -rf -- "$W"
	exit "$rc"
}

# e2e_init <seconds>
e2e_init() {
	if [ -z "${EG_UNDER_TIMEOUT:-}" ]; then
		EG_UNDER_TIMEOUT=1 exec timeout -k 5 "$1" bash "$0"
	fi
	[ "$(id -u)" = 0 ] || skip "live tests need root (the kernel collector loads BPF programs)"
	[ -r /sys/kernel/btf/vmlinux ] || skip "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
	command -v cc >/dev/null || skip "no C compiler (cc) for the test helper"
	PY=python3
	[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
	command -v "$PY" >/dev/null || skip "python3 not installed"
	W=$(mktemp -d "${TMPDIR:-/tmp}/eg-$EG_NAME.XXXXXX")
	trap e2e_cleanup EXIT
	trap 'echo "FAIL ($EG_NAME): timed out or interrupted" >&2; exit 124' TERM INT
	trap 'echo "FAIL ($EG_NAME): line $LINENO: command failed (status $?): $BASH_COMMAND" >&2' ERR
	HELPER=$W/eg_helper
	cc -O1 -o "$HELPER" "$E2E_DIR/eg_helper.c" || fail "could not build the test helper"
}

# clean_later <path>: removed on exit (paths outside $W).
clean_later() {
	E2E_CLEAN_PATHS+=("$1")
}

e2e_start() {
	# Emptied first: the daemon's shell truncates it only after the fork, and
	# the loop below could read the previous run's "attached" line meanwhile.
	: >"$W/stderr"
	"$EG_BIN" -alert-file "$W/alerts.jsonl" -prom-addr 127.0.0.1:0 "$@" >"$W/stdout" 2>"$W/stderr" &
	EG_PID=$!
	local i
	for i in $(seq 600); do
		grep -q '^ebpf-guard: attached [0-9]* probes' "$W/stderr" && break
		if ! kill -0 "$EG_PID" 2>/dev/null; then
			local rc=0
			wait "$EG_PID" || rc=$?
			EG_PID=
			local msg
			msg=$(grep -v '^\[ALERT\]' "$W/stderr" | tail -n 3)
			# e2e_init made sure this is root on a kernel with BTF: a daemon
			# that cannot load or attach its BPF programs here is broken.
			fail "the daemon exited $rc at start-up: $msg"
		fi
		sleep 0.05
	done
	grep -q '^ebpf-guard: attached' "$W/stderr" || fail "no 'attached N probes' line within 30 s"
	local port
	port=$(sed -n 's|^ebpf-guard: metrics on http://127\.0\.0\.1:\([0-9]*\)/metrics$|\1|p' "$W/stderr" | head -n1)
	URL=${port:+http://127.0.0.1:$port}
}

# e2e_stop [SIGNAL]: SIGTERM (or SIGNAL), exit 0 within 3 s; sets STOP_MS to
# how long it took.
e2e_stop() {
	local sig=${1:-TERM} t0 t1 rc=0 i
	t0=$(date +%s%N)
	# a daemon that a test's own signal already stopped (the helper's
	# EG_HELPER_KILL) may be gone, and reaped by bash: its exit status is
	# still checked below
	kill -"$sig" "$EG_PID" 2>/dev/null || true
	for i in $(seq 300); do
		kill -0 "$EG_PID" 2>/dev/null || break
		sleep 0.01
	done
	kill -0 "$EG_PID" 2>/dev/null && fail "the daemon did not exit within 3 s of SIG$sig"
	wait "$EG_PID" || rc=$?
	t1=$(date +%s%N)
	EG_PID=
	STOP_MS=$(((t1 - t0) / 1000000))
	[ "$rc" = 0 ] || fail "the daemon exited $rc after SIG$sig"
}

run_helper() {
	local out
	out=$("$HELPER" "$@" 2>>"$W/helper.err") || true
	HOUT=$out
	HPID=$(printf '%s\n' "$out" | sed -n 's/^pid=\([0-9]*\)$/\1/p' | head -n1)
	HPPID=$(printf '%s\n' "$out" | sed -n 's/^ppid=\([0-9]*\)$/\1/p' | head -n1)
	[ -n "$HPID" ] || fail "the helper printed no pid for: $*"
}

expect_alerts() {
	"$PY" "$E2E_DIR/check_alerts.py" "$W/alerts.jsonl" "$@" || fail "alert check failed: $*"
}

# expect_replay_same_alerts [N]: replays $W/rec.jsonl with $W/rules.yaml and
# fails unless the replay raises exactly the live run's alerts
# ($W/alerts.jsonl), at least one of them from a rule of the test (e2e_*),
# exactly N when N is given.
expect_replay_same_alerts() {
	"$EG_BIN" -replay "$W/rec.jsonl" -config "$W/rules.yaml" -alert-file "$W/replay.jsonl" -prom-addr '' \
		>/dev/null 2>"$W/replay.err" || fail "replay failed: $(tail -n 3 "$W/replay.err")"
	"$PY" - "$W/alerts.jsonl" "$W/replay.jsonl" "${1:-}" <<'PY' || fail "replayed alerts differ"
import json, sys
norm = lambda p: sorted(json.dumps(json.loads(l), sort_keys=True) for l in open(p) if l.strip())
a, b = norm(sys.argv[1]), norm(sys.argv[2])
mine = [x for x in a if json.loads(x)["rule_id"].startswith("e2e_")]
if not mine or (sys.argv[3] and len(mine) != int(sys.argv[3])):
    sys.exit("live run: %d alerts of the test's rules, want %s" % (len(mine), sys.argv[3] or "some"))
sys.exit(0 if a == b else "live %d alerts, replayed %d, or they differ" % (len(a), len(b)))
PY
}

scrape() {
	[ -n "$URL" ] || fail "no metrics URL"
	curl -sf --max-time 5 "$URL/metrics"
}

# metric 'name{label="v"}' -> value of that exact series, '' when absent.
# (awk reads to the end: exiting early would fail curl with EPIPE.)
metric() {
	scrape | awk -v s="$1" '!done && substr($0, 1, length(s) + 1) == s " " { print $NF; done = 1 }'
}

# filtered [type]: ebpf_guard_events_filtered_total{type} (open): the
# events the kernel filter kept; events type: those that reached the daemon
filtered() {
	local v
	v=$(metric "ebpf_guard_events_filtered_total{type=\"${1:-open}\"}")
	[ -n "$v" ] || fail "no ebpf_guard_events_filtered_total{type=\"${1:-open}\"} series"
	echo "$v"
}
events() { metric "ebpf_guard_events_total{type=\"$1\"}"; }

wait_stderr() {
	local i
	for i in $(seq 100); do
		grep -q "$1" "$W/stderr" && return 0
		sleep 0.05
	done
	return 1
}
