# SPDX-License-Identifier: MIT
# Helpers for integration tests that run the real daemon on a replay fed from
# a FIFO (the daemon keeps running until the FIFO's last writer closes), with
# the metrics server on a loopback port the kernel picks. Sourced, not run.
#
#   eg_init <seconds>        bounds the whole test, makes $W, cleans up on exit
#   eg_start [flags...]      starts $EG_BIN -replay $W/in -prom-addr 127.0.0.1:0
#                            (stdout, stderr in $W/stdout, $W/stderr); sets
#                            EG_PID, PORT, URL
#   eg_send <lines>          writes event lines to the daemon
#   eg_finish [rc]           closes the input, waits for the exit (status rc,
#                            default 0: a clean exit)
#   metric <series>          the value of one exact series ('' when absent)
#   wait_metric <series> <value> [seconds]
#   wait_lines <file> <n> [seconds]
#   wait_grep <grep args...> until the daemon's stderr matches (10 s)
#   ev <type> <pid> <comm> <filename> [dest_port] [timestamp]
#   expect_usage_error <message> <flags...>   the binary exits 2 with that
#                            first stderr line
#   fail <message>

set -euo pipefail

: "${EG_BIN:?EG_BIN must point at the ebpf-guard binary}"
EG_SOURCE_DIR=${EG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
EG_NAME=$(basename "$0" .sh)
EG_PID=
PORT=
URL=

fail() {
	echo "FAIL ($EG_NAME): $*" >&2
	if [ -n "${W:-}" ] && [ -s "$W/stderr" ]; then
		echo "--- daemon stderr (last 30 lines) ---" >&2
		tail -n 30 "$W/stderr" >&2
	fi
	exit 1
}

. "$(dirname "${BASH_SOURCE[0]}")/../lib/skip.sh"

# eg_kill: closes the feed (fd 3) and stops the daemon (TERM, then KILL after 5 s).
# Usable mid-test: the braces keep 2>/dev/null from applying to the shell.
eg_kill() {
	{ exec 3>&-; } 2>/dev/null || true
	if [ -n "$EG_PID" ] && kill -0 "$EG_PID" 2>/dev/null; then
		kill -TERM "$EG_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$EG_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$EG_PID" 2>/dev/null || true
		wait "$EG_PID" 2>/dev/null || true
	fi
}

eg_cleanup() {
	local rc=$?
	trap - EXIT
	eg_kill
	for p in ${EG_HELPERS:-}; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	[ -n "${W:-}" ] && rm -rf "$W"
	exit "$rc"
}

# eg_init <seconds>: re-runs the test under timeout(1), then sets up $W.
eg_init() {
	if [ -z "${EG_UNDER_TIMEOUT:-}" ]; then
		EG_UNDER_TIMEOUT=1 exec timeout -k 5 "$1" bash "$0"
	fi
	for t in curl python3; do
		command -v "$t" >/dev/null || skip "$t not installed"
	done
	W=$(mktemp -d "${TMPDIR:-/tmp}/eg-$EG_NAME.XXXXXX")
	trap eg_cleanup EXIT
	trap 'echo "FAIL ($EG_NAME): timed out or interrupted" >&2; exit 124' TERM INT
	# Replay drives these tests: a daemon that cannot replay is a failure.
	local probe_rc=0
	timeout 20 "$EG_BIN" -replay /dev/null -alert-file "$W/probe.jsonl" \
		>/dev/null 2>"$W/probe.err" || probe_rc=$?
	[ "$probe_rc" = 0 ] ||
		fail "'ebpf-guard -replay /dev/null' exited $probe_rc: $(cat "$W/probe.err")"
	rm -f "$W/probe.jsonl" "$W/probe.err" "$W/probe.in"
}

# eg_start [flags...]
eg_start() {
	mkfifo "$W/in"
	# Read-write: opening does not block, and the daemon sees EOF only when
	# this descriptor (its last writer) is closed by eg_finish.
	exec 3<>"$W/in"
	: >"$W/stderr" # exists before the loop below reads it
	"$EG_BIN" -replay "$W/in" -prom-addr 127.0.0.1:0 "$@" >"$W/stdout" 2>"$W/stderr" 3>&- &
	EG_PID=$!
	local i
	for i in $(seq 200); do
		PORT=$(sed -n 's|^ebpf-guard: metrics on http://127\.0\.0\.1:\([0-9]*\)/metrics$|\1|p' \
			"$W/stderr" | head -n1)
		[ -n "$PORT" ] && break
		kill -0 "$EG_PID" 2>/dev/null || fail "the daemon exited at start-up"
		sleep 0.05
	done
	[ -n "$PORT" ] || fail "no 'metrics on' line on stderr within 10 s"
	URL="http://127.0.0.1:$PORT"
}

eg_send() {
	printf '%s\n' "$@" >&3
}

# eg_finish [rc]: EOF on the input; the daemon drains, flushes and exits rc
# (default 0; 1 when some rule's user code failed on every event it ran on).
eg_finish() {
	local want=${1:-0}
	exec 3>&-
	local i rc=0
	for i in $(seq 300); do
		kill -0 "$EG_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$EG_PID" 2>/dev/null && fail "the daemon did not exit within 15 s of EOF"
	wait "$EG_PID" || rc=$?
	EG_PID=
	[ "$rc" = "$want" ] || fail "the daemon exited $rc after EOF, want $want"
}

scrape() {
	curl -sf --max-time 5 "$URL/metrics"
}

# metric 'name{label="v"}' -> value of that exact series, '' when absent or
# when the scrape fails (never a failing status: callers assign it under -e).
# The page is read whole first: awk exiting early would fail curl on SIGPIPE.
metric() {
	local page
	page=$(scrape) || return 0
	awk -v s="$1" 'substr($0, 1, length(s) + 1) == s " " { print $NF; exit }' <<<"$page"
}

wait_metric() {
	local series=$1 want=$2 secs=${3:-10} got= i
	for i in $(seq $((secs * 20))); do
		got=$(metric "$series" || true)
		[ "$got" = "$want" ] && return 0
		sleep 0.05
	done
	fail "$series is '$got', want '$want' (waited ${secs}s)"
}

# wait_grep <grep args...>: until grep -q succeeds on $W/stderr (10 s).
wait_grep() {
	local i
	for i in $(seq 200); do
		grep -q "$@" "$W/stderr" && return 0
		sleep 0.05
	done
	return 1
}

count_lines() {
	if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}

wait_lines() {
	local file=$1 want=$2 secs=${3:-10} got= i
	for i in $(seq $((secs * 20))); do
		got=$(count_lines "$file")
		[ "$got" -ge "$want" ] && break
		sleep 0.05
	done
	[ "$got" = "$want" ] || fail "$file has $got lines, want $want (waited ${secs}s)"
}

# expect_usage_error <message> <flags...>: "$EG_BIN" <flags> exits 2 and its
# first stderr line is exactly <message>.
expect_usage_error() {
	local want=$1 rc=0
	shift
	"$EG_BIN" "$@" >/dev/null 2>"$W/usage.err" || rc=$?
	[ "$rc" = 2 ] || fail "$* exited $rc, want 2"
	[ "$(head -n1 "$W/usage.err")" = "$want" ] || fail "$*: message: $(head -n1 "$W/usage.err")"
}

# ev <type> <pid> <comm> <filename> [dest_port] [timestamp]
ev() {
	local ip=""
	[ "$1" = connect ] && ip=10.0.0.1
	printf '{"timestamp":"%s","pid":%s,"tgid":%s,"type":"%s","comm":"%s","filename":"%s","dest_ip":"%s","dest_port":%s}' \
		"${6:-2025-01-01T12:00:00Z}" "$2" "$2" "$1" "$3" "$4" "$ip" "${5:-0}"
}

# rule_counts <alert files...>: "rule_id count" lines, sorted.
rule_counts() {
	python3 - "$@" <<'EOF'
import collections, json, sys
c = collections.Counter()
for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            c[json.loads(line)["rule_id"]] += 1
for k in sorted(c):
    print(k, c[k])
EOF
}
