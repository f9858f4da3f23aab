#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# -watch: replacing a -config file (as an editor or a config manager does)
# reloads the rules without a signal; an invalid file keeps the old rules;
# files that are not rules, or not the configured file, reload nothing; a
# rule file added to a -config directory is picked up.
. "$(dirname "$0")/daemon_lib.sh"
eg_init 120

mkdir "$W/conf" "$W/dir"
cfg=$W/conf/rules.yaml
install_rules() {
	printf '%s\n' "$2" >"$1.tmp"
	mv "$1.tmp" "$1"
}
install_rules "$cfg" 'rules:
  - id: shell_a
    description: bash started
    event_types: [exec]
    comm_regex: "^bash$"'

alerts=$W/alerts.jsonl
eg_start -watch -config "$cfg" -config "$W/dir" -alert-file "$alerts"

eg_send "$(ev exec 1 bash /bin/bash)"
wait_lines "$alerts" 2

# 1. The configured file replaced: reloaded, the new rule fires.
install_rules "$cfg" 'rules:
  - id: curl_b
    description: curl started
    event_types: [exec]
    comm_regex: "^curl$"'
wait_metric ebpf_guard_config_reloads_total 1
wait_grep -x 'ebpf-guard: configuration changed, reloading' || fail "no 'configuration changed' line"
eg_send "$(ev exec 2 bash /bin/bash)" "$(ev exec 3 curl /usr/bin/curl)"
wait_lines "$alerts" 4
[ "$(rule_counts "$alerts")" = "$(printf 'builtin_suspicious_shell 2\ncurl_b 1\nshell_a 1')" ] ||
	fail "after the change: $(rule_counts "$alerts")"

# 2. Other files beside it, and non-rule files in the directory: no reload.
echo hello >"$W/conf/notes.txt"
echo hello >"$W/conf/other.yaml"
echo hello >"$W/dir/README"
sleep 1.5
[ "$(metric ebpf_guard_config_reloads_total)" = 1 ] || fail "an unrelated file caused a reload"
[ "$(metric ebpf_guard_config_reload_failures_total)" = 0 ] || fail "an unrelated file caused a failed reload"

# 3. An invalid version: the reload fails, the old rules keep firing.
install_rules "$cfg" 'rules:
  - id: curl_b
    description: curl started
    event_types: [exce]'
wait_metric ebpf_guard_config_reload_failures_total 1
wait_grep 'reload failed, keeping the previous rules: .*exce' || fail "no reload failure line"
eg_send "$(ev exec 4 curl /usr/bin/curl)"
wait_lines "$alerts" 5
[ "$(rule_counts "$alerts")" = "$(printf 'builtin_suspicious_shell 2\ncurl_b 2\nshell_a 1')" ] ||
	fail "after the failed reload: $(rule_counts "$alerts")"

# 4. A rule file added to a -config directory (and the configured file fixed).
install_rules "$cfg" 'rules: []'
install_rules "$W/dir/10-port.yaml" 'rules:
  - id: port_c
    description: connect to 8000-8100
    event_types: [connect]
    min_dest_port: 8000
    max_dest_port: 8100'
wait_metric ebpf_guard_config_reloads_total 2
eg_send "$(ev connect 5 nc connect 8080)"
wait_lines "$alerts" 6
[ "$(rule_counts "$alerts")" = "$(printf 'builtin_suspicious_shell 2\ncurl_b 2\nport_c 1\nshell_a 1')" ] ||
	fail "after adding a rule file: $(rule_counts "$alerts")"

eg_finish
echo "PASS ($EG_NAME)"
