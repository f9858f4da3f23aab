#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# -watch on Kubernetes ConfigMap volumes, in replay mode: the kubelet's
# update (tests/e2e/kube_atomic_write.py: a new timestamped directory, a new
# "..data" link renamed over the old one; the keys' links unchanged) reloads
# the rules once, for a -config directory and for a -config file that is a
# key's link; a ConfigMap with a broken rule is refused and the previous
# rules keep running until a fixed version comes. The live daemon does the
# same in tests/e2e/test_configmap_swap.sh.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 120

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
WRITE=$EG_SOURCE_DIR/tests/e2e/kube_atomic_write.py
# rule FILE ID COMM
rule() {
	printf 'rules:\n  - id: %s\n    description: %s ran\n    event_types: [exec]\n    comm_regex: "^%s$"\n' "$2" "$3" "$3" >"$1"
}

rule "$W/a.yaml" cm_a aaa
rule "$W/f1.yaml" file_a fff
"$PY" "$WRITE" "$W/cm" rules.yaml="$W/a.yaml"
"$PY" "$WRITE" "$W/cm-file" local.yaml="$W/f1.yaml"

alerts=$W/alerts.jsonl
eg_start -watch -config "$W/cm" -config "$W/cm-file/local.yaml" -alert-file "$alerts"
eg_send "$(ev exec 1 aaa /bin/aaa)" "$(ev exec 2 fff /bin/fff)"
wait_lines "$alerts" 2

# 1. The directory's ConfigMap updated: one reload, the new rule replaces
#    the old one.
rule "$W/b.yaml" cm_b bbb
"$PY" "$WRITE" "$W/cm" rules.yaml="$W/b.yaml"
wait_metric ebpf_guard_config_reloads_total 1
wait_grep -x 'ebpf-guard: reloaded 6 rules' || fail "no 'reloaded 6 rules' line"
eg_send "$(ev exec 3 aaa /bin/aaa)" "$(ev exec 4 bbb /bin/bbb)"
wait_lines "$alerts" 3
[ "$(rule_counts "$alerts")" = "$(printf 'cm_a 1\ncm_b 1\nfile_a 1')" ] || fail "after the update: $(rule_counts "$alerts")"
sleep 1
[ "$(metric ebpf_guard_config_reloads_total)" = 1 ] || fail "one update made $(metric ebpf_guard_config_reloads_total) reloads"

# 2. A broken version: refused, the previous rules keep running.
printf 'rules:\n  - id: cm_c\n    description: broken\n    event_types: [exce]\n' >"$W/c.yaml"
"$PY" "$WRITE" "$W/cm" rules.yaml="$W/c.yaml"
wait_metric ebpf_guard_config_reload_failures_total 1
wait_grep "^ebpf-guard: reload failed, keeping the previous rules: $W/cm/rules.yaml: rule \"cm_c\": event_types: unknown event type \"exce\" (did you mean \"exec\"?)\$" ||
	fail "no reload failure line"
eg_send "$(ev exec 5 bbb /bin/bbb)"
wait_lines "$alerts" 4
[ "$(rule_counts "$alerts")" = "$(printf 'cm_a 1\ncm_b 2\nfile_a 1')" ] || fail "after the broken update: $(rule_counts "$alerts")"

# 3. The -config file's ConfigMap updated (and the directory's fixed).
rule "$W/f2.yaml" file_b ggg
"$PY" "$WRITE" "$W/cm-file" local.yaml="$W/f2.yaml"
wait_metric ebpf_guard_config_reload_failures_total 2 # the directory is still broken
"$PY" "$WRITE" "$W/cm" rules.yaml="$W/b.yaml"
wait_metric ebpf_guard_config_reloads_total 2
eg_send "$(ev exec 6 fff /bin/fff)" "$(ev exec 7 ggg /bin/ggg)" "$(ev exec 8 bbb /bin/bbb)"
wait_lines "$alerts" 6
[ "$(rule_counts "$alerts")" = "$(printf 'cm_a 1\ncm_b 3\nfile_a 1\nfile_b 1')" ] || fail "after the file's update: $(rule_counts "$alerts")"

eg_finish
echo "PASS ($EG_NAME)"
