#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Response actions without the kernel (docs/response.md): -enforce is a live
# flag (refused with -replay on the command line, its settings-file key not
# read by a replay, a bad value named with file:line:column); a replayed
# alert of a rule with action kill ends with "action":"kill","enforced":false
# and counts a dry run, other alerts keep their keys; the response is taken
# for alerts -alert-rate-limit suppresses; -validate and -list-rules say
# which rules kill.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 60

cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: shm_exec
    description: A program in /dev/shm ran
    event_types: [exec]
    match:
      filename: {prefix: /dev/shm/}
    action: kill
  - id: any_exec
    description: Any program ran
    event_types: [exec]
YAML

# ---- the flag -----------------------------------------------------------------
expect_usage_error "ebpf-guard: -enforce does not apply to -replay (a recording's processes are not this host's)" \
	-replay /dev/null -enforce -config "$W/rules.yaml"
help=$("$EG_BIN" -help)
grep -q '^  -enforce  *carry out the rules' <<<"$help" || fail "-help does not describe -enforce"
printf 'enforce: yes\n' >"$W/bad.yaml"
rc=0
"$EG_BIN" -config-file "$W/bad.yaml" -validate >/dev/null 2>"$W/err" || rc=$?
[ "$rc" = 1 ] || fail "a bad enforce value exited $rc, want 1"
[ "$(cat "$W/err")" = "ebpf-guard: $W/bad.yaml:1:10: enforce: expected true or false, not 'yes'" ] ||
	fail "bad enforce value: $(cat "$W/err")"
printf 'enforce: true\nconfig: [%s]\n' "$W/rules.yaml" >"$W/settings.yaml"
out=$("$EG_BIN" -config-file "$W/settings.yaml" -validate 2>&1) || fail "-validate with enforce: true: $out"
[ "$out" = "ebpf-guard: configuration OK: 1 file; 2 YAML rules, 0 Lua detections, 4 built-ins; 6 enabled, 0 disabled; 1 with action kill (1 in the kernel)" ] ||
	fail "-validate: $out"
list=$("$EG_BIN" -config "$W/rules.yaml" -list-rules)
grep -q '^shm_exec .* enabled; action: kill (in the kernel)$' <<<"$list" || fail "-list-rules does not say shm_exec kills: $list"

# ---- a replay: the settings file's enforce is not read, alerts say dry run ----
eg_start -config-file "$W/settings.yaml" -alert-file "$W/alerts.jsonl"
eg_send "$(ev exec 4242 runner /dev/shm/x)"
wait_lines "$W/alerts.jsonl" 3
wait_metric 'ebpf_guard_response_actions_total{action="kill",result="dry_run"}' 1
for r in killed gone protected error; do
	[ "$(metric "ebpf_guard_response_actions_total{action=\"kill\",result=\"$r\"}")" = 0 ] ||
		fail "result $r is not 0 in a replay"
done
[ "$(metric ebpf_guard_response_delay_seconds_count)" = 0 ] || fail "a dry run observed a delay"
eg_finish
grep -q 'enforced (-enforce)' "$W/stderr" && fail "the replay read enforce from the settings file"
python3 - "$W/alerts.jsonl" <<'PY' || fail "replayed alerts"
import json, sys
alerts = {}
for line in open(sys.argv[1]):
    a = json.loads(line)
    alerts[a["rule_id"]] = (a, line)
a, line = alerts["shm_exec"]
assert line.endswith(',"host_id":"","action":"kill","enforced":false}\n'), line
for k in ("result", "reason", "enforced_in", "action_delay_ns"):
    assert k not in a, k
for rid in ("any_exec", "builtin_fileless_exec"):
    b, bline = alerts[rid]
    assert "action" not in b and "enforced" not in b, bline
    assert bline.endswith(',"host_id":""}\n'), bline
PY

# ---- a kill does not wait for its alert's turn under -alert-rate-limit --------
rm -f "$W/in" "$W/alerts.jsonl"
eg_start -config "$W/rules.yaml" -alert-file "$W/alerts.jsonl" -alert-rate-limit 1/s
for pid in 5001 5002 5003 5004 5005; do
	eg_send "$(ev exec $pid runner /dev/shm/y)"
done
wait_metric 'ebpf_guard_response_actions_total{action="kill",result="dry_run"}' 5
wait_metric 'ebpf_guard_alerts_suppressed_total{rule_id="shm_exec"}' 4
eg_finish
[ "$(grep -c '"rule_id":"shm_exec"' "$W/alerts.jsonl")" = 1 ] || fail "the rate limit let more than one alert through"
echo "ok ($EG_NAME)"
