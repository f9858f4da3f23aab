#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The exit status of -replay (docs/operations.md, "Replay"): 1 with one line
# per reason when nothing useful happened (every line of the file rejected;
# a rule whose condition or Lua detection failed on every event it ran on),
# 0 otherwise (an empty file, some lines rejected, some calls failed). Exact
# stderr; the alerts of the other rules are written either way.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 60

cat >"$W/det.lua" <<'EOF'
return {
  { id = "always_fails", description = "raises on every exec", event_types = { "exec" },
    match = function(ev) error("boom " .. ev.comm) end },
  { id = "sometimes_fails", description = "raises on comm b", event_types = { "exec" },
    match = function(ev)
      if ev.comm == "b" then error("not b") end
      return false
    end },
  { id = "never_runs", description = "connect only: no connect is replayed", event_types = { "connect" },
    match = function(ev) error("unreachable") end },
}
EOF
cat >"$W/cond.yaml" <<'EOF'
rules:
  - id: spins
    description: a condition that never ends, on comm c only
    event_types: [exec]
    comm_regex: "^c$"
    condition: (function() while true do end end)()
  - id: every_exec
    description: fires on every exec
    event_types: [exec]
    comm_regex: "^[abc]$"
EOF
: >"$W/ok.yaml"

# replay <input file> <want exit> <want stderr> <flags...>
replay() {
	local in=$1 want_rc=$2 want=$3 rc=0
	shift 3
	rm -f "$W/alerts.jsonl"
	"$EG_BIN" -replay "$in" -alert-file "$W/alerts.jsonl" -prom-addr '' "$@" \
		>"$W/out" 2>"$W/err" </dev/null || rc=$?
	[ "$rc" = "$want_rc" ] || fail "replay of $in with $*: exit $rc, want $want_rc: $(cat "$W/err")"
	[ "$(cat "$W/err")" = "$want" ] || fail "replay of $in with $*: stderr:
$(cat "$W/err")
want:
$want"
}

exec_line() { # exec_line <pid> <comm>: one exec event line
	ev exec "$1" "$2" "/usr/bin/$2"
	echo
}

# 1. Every line rejected (a blank line is neither an event nor a rejected line).
printf '%s\n' 'garbage' '' '{"type":"fork"}' '[1]' >"$W/bad.jsonl"
replay "$W/bad.jsonl" 1 "ebpf-guard: $W/bad.jsonl:1: not JSON: unexpected 'g' at column 1, expected a JSON value
ebpf-guard: $W/bad.jsonl:3: unknown event type \"fork\"
ebpf-guard: $W/bad.jsonl:4: not a JSON object
ebpf-guard: $W/bad.jsonl: every line was rejected (3 of 3), no event was replayed" -config "$W/ok.yaml"
[ "$(count_lines "$W/alerts.jsonl")" = 0 ] || fail "alerts from a file of rejected lines"

# ... also from stdin, and a single line
printf 'oops\n' >"$W/one.jsonl"
rc=0
"$EG_BIN" -replay - -alert-file "$W/alerts.jsonl" -prom-addr '' -config "$W/ok.yaml" \
	<"$W/one.jsonl" >"$W/out" 2>"$W/err" || rc=$?
[ "$rc" = 1 ] || fail "stdin of one rejected line: exit $rc"
[ "$(cat "$W/err")" = "ebpf-guard: <stdin>:1: not JSON: unexpected 'o' at column 1, expected a JSON value
ebpf-guard: <stdin>: every line was rejected (1 of 1), no event was replayed" ] ||
	fail "stdin of one rejected line: $(cat "$W/err")"

# 2. An empty file, and a file of blank lines: nothing to do is not an error.
: >"$W/empty.jsonl"
replay "$W/empty.jsonl" 0 "" -config "$W/ok.yaml"
printf '\n  \n\n' >"$W/blank.jsonl"
replay "$W/blank.jsonl" 0 "" -config "$W/ok.yaml"

# 3. Some lines rejected, the others replayed: 0, as before.
{
	exec_line 10 a
	echo 'garbage'
	exec_line 11 b
} >"$W/some.jsonl"
replay "$W/some.jsonl" 0 "ebpf-guard: $W/some.jsonl:2: not JSON: unexpected 'g' at column 1, expected a JSON value" \
	-config "$W/cond.yaml"
[ "$(rule_counts "$W/alerts.jsonl")" = "every_exec 2" ] || fail "some rejected: alerts $(rule_counts "$W/alerts.jsonl")"

# 4. User code that failed on every event it ran on: a detection (runtime
# errors) and a condition (budget errors); one that failed only sometimes
# and one that never ran are not named. The first error of each is logged
# as always, then one line per failed rule; every_exec's alerts are written.
{
	exec_line 20 a
	exec_line 21 b
	exec_line 22 c
	exec_line 23 c
} >"$W/events.jsonl"
replay "$W/events.jsonl" 1 "ebpf-guard: detection \"always_fails\" ($W/det.lua): runtime error: $W/det.lua:3: boom a
ebpf-guard: detection \"sometimes_fails\" ($W/det.lua): runtime error: $W/det.lua:6: not b
ebpf-guard: rule \"spins\" ($W/cond.yaml): budget error: condition:1: instruction budget exceeded
ebpf-guard: rule \"spins\" ($W/cond.yaml): every evaluation failed (2 of 2; last: budget error: condition:1: instruction budget exceeded)
ebpf-guard: detection \"always_fails\" ($W/det.lua): every evaluation failed (4 of 4; last: runtime error: $W/det.lua:3: boom c)" \
	-config "$W/cond.yaml" -config "$W/det.lua" -lua-budget 10000
[ "$(rule_counts "$W/alerts.jsonl")" = "every_exec 4" ] || fail "failing rules: alerts $(rule_counts "$W/alerts.jsonl")"

# ... and without the rule that always fails, the same events exit 0.
sed -i 's/error("boom " .. ev.comm)/return ev.comm == "a"/' "$W/det.lua"
sed -i 's/comm_regex: "^c$"/comm_regex: "^z$"/' "$W/cond.yaml"
replay "$W/events.jsonl" 0 "ebpf-guard: detection \"sometimes_fails\" ($W/det.lua): runtime error: $W/det.lua:6: not b" \
	-config "$W/cond.yaml" -config "$W/det.lua" -lua-budget 10000
[ "$(rule_counts "$W/alerts.jsonl")" = "always_fails 1
every_exec 4" ] || fail "no failing rule: alerts $(rule_counts "$W/alerts.jsonl")"

echo "PASS ($EG_NAME)"
