#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SIGHUP reload: a valid new rule file takes over for later events; an
# invalid one leaves the old rules firing, counts a failure and logs the
# start-up message; reloads during a stream of events lose none.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 120

cfg=$W/rules.yaml
# install_rules <content>: replaces the rule file atomically, as an editor or
# a config manager would.
install_rules() {
	printf '%s\n' "$1" >"$cfg.tmp"
	mv "$cfg.tmp" "$cfg"
}
rules_a='rules:
  - id: shell_a
    description: bash started
    event_types: [exec]
    comm_regex: "^bash$"'
rules_b='rules:
  - id: curl_b
    description: curl started
    event_types: [exec]
    comm_regex: "^curl$"
  - id: port_c
    description: connect to 8000-8100
    event_types: [connect]
    min_dest_port: 8000
    max_dest_port: 8100'
rules_bad='rules:
  - id: curl_b
    description: curl started
    event_types: [exec]
    comm_regex: "^curl$"
  - id: broken
    description: a typo in the event type
    event_types: [exce]'

alerts=$W/alerts.jsonl
install_rules "$rules_a"
eg_start -config "$cfg" -alert-file "$alerts"
loaded="ebpf_guard_rules_loaded{source=\"$cfg\"}"
[ "$(metric "$loaded")" = 1 ] || fail "$loaded is not 1 at start"
builtins=$(metric 'ebpf_guard_rules_loaded{source="builtin"}')

# 1. The first rule set.
eg_send "$(ev exec 1 bash /bin/bash)"
wait_lines "$alerts" 2
[ "$(rule_counts "$alerts")" = "$(printf 'builtin_suspicious_shell 1\nshell_a 1')" ] ||
	fail "before reload: $(rule_counts "$alerts")"

# 2. A valid new file: its rules fire on later events, shell_a no more.
install_rules "$rules_b"
kill -HUP "$EG_PID"
wait_metric ebpf_guard_config_reloads_total 1
wait_grep '^ebpf-guard: reloaded [0-9]* rules$' || fail "no 'reloaded' line"
[ "$(metric "$loaded")" = 2 ] || fail "$loaded is not 2 after the reload"
[ "$(metric 'ebpf_guard_rules_loaded{source="builtin"}')" = "$builtins" ] ||
	fail "built-in count changed"
eg_send "$(ev exec 2 bash /bin/bash)" "$(ev exec 3 curl /usr/bin/curl)" \
	"$(ev connect 4 curl connect 8080)"
wait_lines "$alerts" 5
[ "$(rule_counts "$alerts")" = "$(printf 'builtin_suspicious_shell 2\ncurl_b 1\nport_c 1\nshell_a 1')" ] ||
	fail "after reload: $(rule_counts "$alerts")"
# Per-rule counters survive the reload, the removed rule's included.
[ "$(metric 'ebpf_guard_alerts_total{rule_id="shell_a"}')" = 1 ] || fail "shell_a counter"
[ "$(metric 'ebpf_guard_alerts_total{rule_id="curl_b"}')" = 1 ] || fail "curl_b counter"

# 3. An invalid file: the same message as at start-up, old rules stay.
install_rules "$rules_bad"
rc=0
"$EG_BIN" -replay /dev/null -config "$cfg" -alert-file "$W/x.jsonl" 2>"$W/startup.err" || rc=$?
[ "$rc" = 1 ] || fail "start-up with the bad file exited $rc"
msg=$(sed -n 's/^ebpf-guard: //p' "$W/startup.err" | head -n1)
[ -n "$msg" ] || fail "no start-up error message"
kill -HUP "$EG_PID"
wait_metric ebpf_guard_config_reload_failures_total 1
wait_grep -xF "ebpf-guard: reload failed, keeping the previous rules: $msg" ||
	fail "reload error is not the start-up message '$msg': $(grep 'reload failed' "$W/stderr")"
[ "$(metric ebpf_guard_config_reloads_total)" = 1 ] || fail "a failed reload counted as done"
[ "$(metric "$loaded")" = 2 ] || fail "$loaded changed after a failed reload"
eg_send "$(ev exec 5 curl /usr/bin/curl)" "$(ev connect 6 nc connect 8001)"
wait_lines "$alerts" 7
[ "$(rule_counts "$alerts")" = "$(printf 'builtin_suspicious_shell 2\ncurl_b 2\nport_c 2\nshell_a 1')" ] ||
	fail "after the failed reload: $(rule_counts "$alerts")"

# 4. Reloads in the middle of a stream: every event is seen by exactly one
# whole rule set (both sets here alert once per bash exec).
install_rules "$rules_a"
kill -HUP "$EG_PID"
wait_metric ebpf_guard_config_reloads_total 2
N=20000
python3 - "$W/in" "$N" <<'EOF' &
import json, sys, time
fifo, n = sys.argv[1], int(sys.argv[2])
with open(fifo, "w") as f:
    for first in range(0, n, 250):
        for i in range(first, min(n, first + 250)):
            f.write(json.dumps({"timestamp": "2025-01-01T12:00:00Z", "pid": 100000 + i,
                                "tgid": 100000 + i, "type": "exec", "comm": "bash",
                                "filename": "/bin/bash", "dest_ip": "", "dest_port": 0}) + "\n")
        f.flush()
        time.sleep(0.005)
EOF
writer=$!
EG_HELPERS=$writer
for k in 3 4 5 6 7; do
	sleep 0.05
	kill -HUP "$EG_PID"
	wait_metric ebpf_guard_config_reloads_total "$k"
done
wait "$writer" || fail "event writer failed"
EG_HELPERS=
total=$((7 + 2 * N))
wait_lines "$alerts" "$total" 30
[ "$(rule_counts "$alerts")" = "$(printf 'builtin_suspicious_shell %d\ncurl_b 2\nport_c 2\nshell_a %d' $((N + 2)) $((N + 1)))" ] ||
	fail "reloads during a stream: $(rule_counts "$alerts")"
[ "$(metric 'ebpf_guard_alerts_total{rule_id="shell_a"}')" = $((N + 1)) ] || fail "shell_a counter"
[ "$(metric ebpf_guard_config_reload_failures_total)" = 1 ] || fail "failure counter"
[ "$(metric 'ebpf_guard_events_total{type="exec"}')" = $((N + 4)) ] || fail "exec events"
eg_finish
echo "ok ($EG_NAME)"
