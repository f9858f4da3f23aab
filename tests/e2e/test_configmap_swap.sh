#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# -watch with rules from a Kubernetes ConfigMap volume: the kubelet updates
# one by renaming a new "..data" link over the old one, and the keys' own
# links ("rules.yaml -> ..data/rules.yaml") never change. The live daemon,
# seccomp filter on, watches a ConfigMap directory (-config DIR) and a key of
# another one (-config DIR/local.yaml); each swap (tests/e2e/kube_atomic_write.py,
# the kubelet's steps in its order) makes exactly one reload, within a few
# seconds, and the new rules fire on real execs while the old ones stop.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 120

WRITE=$E2E_DIR/kube_atomic_write.py

# rule FILE ID NAME: a rule on the exec of a file named NAME
rule() {
	printf 'rules:\n  - id: %s\n    description: %s ran\n    event_types: [exec]\n    filename_regex: "/%s$"\n' \
		"$2" "$3" "$3" >"$1"
}
# exec_as NAME: runs a copy of /bin/true named NAME (sets HPID, EXE)
exec_as() {
	EXE=$W/bin/$1
	[ -x "$EXE" ] || { mkdir -p "$W/bin" && cp /bin/true "$EXE"; }
	run_helper exec "$EXE"
}
# wait_reloads N: ebpf_guard_config_reloads_total reaches N within 10 s;
# sets RELOAD_MS to how long it took
wait_reloads() {
	local t0 i v=
	t0=$(date +%s%N)
	for i in $(seq 200); do
		v=$(metric ebpf_guard_config_reloads_total)
		[ "$v" = "$1" ] && break
		sleep 0.05
	done
	[ "$v" = "$1" ] || fail "ebpf_guard_config_reloads_total is '$v', want $1 within 10 s"
	RELOAD_MS=$((($(date +%s%N) - t0) / 1000000))
}

# The first versions: one ConfigMap mounted as a -config directory, one key
# of another ConfigMap given as a -config file.
rule "$W/set1.yaml" e2e_cm_first eg-cm-first
rule "$W/local1.yaml" e2e_cm_file_a eg-cm-file-a
"$PY" "$WRITE" "$W/cm" rules.yaml="$W/set1.yaml"
"$PY" "$WRITE" "$W/cm-local" local.yaml="$W/local1.yaml"
[ "$(readlink "$W/cm/rules.yaml")" = ..data/rules.yaml ] || fail "the layout has no rules.yaml -> ..data/rules.yaml link"
[ "$(stat -c %a "$W/cm")" = 777 ] || fail "the volume directory is not 0777 like the kubelet's"

mkdir "$W/plain"
printf 'rules: []\n' >"$W/plain/plain.yaml"

e2e_start -watch -config "$W/cm" -config "$W/cm-local/local.yaml" -config "$W/plain/plain.yaml"

exec_as eg-cm-first
expect_alerts --where pid="$HPID" --where filename="$EXE" --rules e2e_cm_first
exec_as eg-cm-file-a
expect_alerts --where pid="$HPID" --where filename="$EXE" --rules e2e_cm_file_a
[ "$(metric ebpf_guard_config_reloads_total)" = 0 ] || fail "reloaded before any change"

# 1. The directory's ConfigMap swapped to a second rule set: the same key,
#    new content, so only "..data" changes in the directory.
rule "$W/set2.yaml" e2e_cm_second eg-cm-second
old_ts=$(readlink "$W/cm/..data")
"$PY" "$WRITE" "$W/cm" rules.yaml="$W/set2.yaml"
[ "$(readlink "$W/cm/..data")" != "$old_ts" ] && [ ! -e "$W/cm/$old_ts" ] || fail "the swap did not replace ..data"
wait_reloads 1
echo "directory ConfigMap swap: reloaded after ${RELOAD_MS} ms"
grep -qx 'ebpf-guard: configuration changed, reloading' "$W/stderr" || fail "no 'configuration changed, reloading' line"
# 4 built-ins, one rule in each ConfigMap, none in plain.yaml
grep -qx 'ebpf-guard: reloaded 6 rules' "$W/stderr" || fail "no 'reloaded 6 rules' line"
exec_as eg-cm-second
expect_alerts --where pid="$HPID" --where filename="$EXE" --rules e2e_cm_second
exec_as eg-cm-first
expect_alerts --timeout 1 --where pid="$HPID" --where filename="$EXE" --rules ''

# The whole swap (new directory, ..data_tmp, rename, old directory removed)
# was one reload, and none failed.
sleep 1
[ "$(metric ebpf_guard_config_reloads_total)" = 1 ] || fail "one swap made $(metric ebpf_guard_config_reloads_total) reloads"
[ "$(metric ebpf_guard_config_reload_failures_total)" = 0 ] || fail "a reload failed"

# 2. The ConfigMap of the -config file swapped: its link does not change
#    either, the file's content does.
rule "$W/local2.yaml" e2e_cm_file_b eg-cm-file-b
"$PY" "$WRITE" "$W/cm-local" local.yaml="$W/local2.yaml"
wait_reloads 2
echo "file ConfigMap swap: reloaded after ${RELOAD_MS} ms"
exec_as eg-cm-file-b
expect_alerts --where pid="$HPID" --where filename="$EXE" --rules e2e_cm_file_b
exec_as eg-cm-file-a
expect_alerts --timeout 1 --where pid="$HPID" --where filename="$EXE" --rules ''

# 3. A key added and the old one removed in one swap (the kubelet creates the
#    new link before the rename and removes the old one after it).
rule "$W/set3.yaml" e2e_cm_third eg-cm-third
"$PY" "$WRITE" "$W/cm" 50-third.yaml="$W/set3.yaml"
wait_reloads 3
[ ! -e "$W/cm/rules.yaml" ] && [ -L "$W/cm/50-third.yaml" ] || fail "the third swap left the wrong keys"
[ "$(metric "ebpf_guard_rules_loaded{source=\"$W/cm/50-third.yaml\"}")" = 1 ] || fail "50-third.yaml is not loaded"
[ -z "$(metric "ebpf_guard_rules_loaded{source=\"$W/cm/rules.yaml\"}")" ] || fail "rules.yaml is still loaded"
exec_as eg-cm-third
expect_alerts --where pid="$HPID" --where filename="$EXE" --rules e2e_cm_third
exec_as eg-cm-second
expect_alerts --timeout 1 --where pid="$HPID" --where filename="$EXE" --rules ''
sleep 1
[ "$(metric ebpf_guard_config_reloads_total)" = 3 ] || fail "the third swap made more than one reload"
[ "$(metric ebpf_guard_config_reload_failures_total)" = 0 ] || fail "a reload failed"

# 4. A "..data" renamed in the directory of a -config file that is a plain
#    file, not a link into it, changes nothing.
mkdir "$W/plain/..x" && ln -s ..x "$W/plain/..data_tmp" && mv -T "$W/plain/..data_tmp" "$W/plain/..data"
sleep 1
[ "$(metric ebpf_guard_config_reloads_total)" = 3 ] || fail "a ..data rename beside a plain -config file caused a reload"

# The seccomp filter was on, and the daemon is alive and stops cleanly.
grep -q '^Seccomp:[[:space:]]*2' "/proc/$EG_PID/status" || fail "the seccomp filter is not on"
e2e_stop
echo "PASS ($EG_NAME)"
