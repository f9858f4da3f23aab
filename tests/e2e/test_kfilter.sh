#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The kernel filter of open events (lua/ebpf_guard/compile.lua,
# kernel_filter): opens no rule names stay in the kernel and are counted in
# ebpf_guard_events_filtered_total{type="open"}; opens a rule names cross and
# raise their alerts; a SIGHUP reload changes the filter (a new rule's
# opens cross, a rule the kernel cannot test turns it off); -all-events
# turns it off.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 120

boring=$W/boring
mkdir -p "$boring" "$W/secret"
touch "$boring/file" "$W/secret/file"

rules() {
	cat >"$W/rules.yaml" <<YAML
rules:
  - id: e2e_kf_shadow
    description: shadow opened
    event_types: [open]
    match:
      filename: {prefix: /etc/shadow}
  - id: e2e_kf_secret
    description: a secret opened
    event_types: [open]
    match:
      filename: {prefix: $W/secret/}
$1
YAML
}

# opens $1 N times from one process
opens() {
	"$PY" -c 'import sys
for _ in range(int(sys.argv[2])): open(sys.argv[1]).close()' "$1" "$2"
}

filtered() {
	local v
	v=$(metric 'ebpf_guard_events_filtered_total{type="open"}')
	[ -n "$v" ] || fail "no ebpf_guard_events_filtered_total{type=\"open\"} series"
	echo "$v"
}

# wait_line <count> <pattern>: until stderr has count lines matching pattern
wait_line() {
	local i
	for i in $(seq 100); do
		[ "$(grep -c -- "$2" "$W/stderr" || true)" -ge "$1" ] && return 0
		sleep 0.1
	done
	fail "no ${1}th line matching '$2' within 10 s"
}

rules ""
e2e_start -config "$W/rules.yaml"
grep -q '^ebpf-guard: kernel filter for open events: on (2 filename prefixes, 0 suffixes, 0 comm words)$' "$W/stderr" ||
	fail "the filter is not on with the rules' two prefixes"

# opens no rule names stay in the kernel
f0=$(filtered)
opens "$boring/file" 500
f1=$(filtered)
[ $((f1 - f0)) -ge 500 ] || fail "500 uninteresting opens, $((f1 - f0)) filtered in the kernel"
# opens a rule names cross
run_helper open /etc/shadow
expect_alerts --where pid="$HPID" --where filename=/etc/shadow --rules e2e_kf_shadow --field type=open
run_helper open "$W/secret/file"
expect_alerts --where pid="$HPID" --where filename="$W/secret/file" --rules e2e_kf_secret

# a reload that names the boring directory: its opens cross now
rules "  - id: e2e_kf_boring
    description: the boring file opened
    event_types: [open]
    match:
      filename: {suffix: /file}
      comm: eg_helper"
kill -HUP "$EG_PID"
wait_line 2 '^ebpf-guard: kernel filter for open events: on'
# (the rule's key with the fewest words, the comm before the suffix on a tie)
grep -q '^ebpf-guard: kernel filter for open events: on (2 filename prefixes, 0 suffixes, 1 comm words)$' "$W/stderr" ||
	fail "the reloaded filter does not add the comm"
run_helper open "$boring/file"
expect_alerts --where pid="$HPID" --where filename="$boring/file" --rules e2e_kf_boring

# a rule the kernel cannot test: the filter goes off
rules "  - id: e2e_kf_writes
    description: any write
    event_types: [open]
    match:
      open_flags: {any: [O_WRONLY, O_RDWR]}"
kill -HUP "$EG_PID"
wait_line 1 '^ebpf-guard: kernel filter for open events: off (rule "e2e_kf_writes" ('"$W"'/rules.yaml) wants open events and names no filename or comm the kernel can test)$'
f0=$(filtered)
opens "$boring/file" 300
sleep 0.3
f1=$(filtered)
[ "$f1" = "$f0" ] || fail "the filter is off, yet $((f1 - f0)) opens were filtered"
e2e_stop

# -all-events: off
rules ""
e2e_start -config "$W/rules.yaml" -all-events
grep -q '^ebpf-guard: kernel filter for open events: off (-all-events)$' "$W/stderr" || fail "-all-events did not turn the filter off"
f0=$(filtered)
opens "$boring/file" 300
sleep 0.3
f1=$(filtered)
[ "$f1" = "$f0" ] || fail "-all-events, yet $((f1 - f0)) opens were filtered"
e2e_stop
echo "ok: kernel filter"
