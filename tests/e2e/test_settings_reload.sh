#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SIGHUP re-reads the settings file (docs/operations.md, "Settings file"),
# live, with the seccomp filter on: a new rules path, disable-rule list and
# alert-rate-limit take effect; a changed key a reload cannot apply is named
# and keeps its value (at every reload, -watch's too, while the file differs
# from what runs); a broken file changes nothing, says why and counts in
# ebpf_guard_config_reload_failures_total; with -watch, the rules path the
# settings file switched to is the one watched afterwards. Then the default
# metrics address when live: 127.0.0.1:7829.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 120

for x in a b; do
	cat >"$W/rules-$x.yaml" <<YAML
disable_builtins: ["builtin_fileless_exec", "builtin_suspicious_shell", "builtin_crypto_exec", "builtin_crypto_port"]
rules:
  - id: e2e_set_$x
    description: Marker $x opened
    event_types: ["open"]
    filename_regex: "eg-set-marker-$x"
YAML
	: >"$W/eg-set-marker-$x"
done
settings() { # settings <yaml lines...>: writes the settings file
	printf '%s\n' "$@" >"$W/settings.tmp"
	mv "$W/settings.tmp" "$W/settings.yaml"
}
count() { # count <rule id>: its alerts so far
	grep -c "\"rule_id\":\"$1\"" "$W/alerts.jsonl" || true
}
# touch_until <marker> <rule> <n>: opens the marker until the rule has n alerts
touch_until() {
	local i
	for i in $(seq 100); do
		cat "$W/eg-set-marker-$1" >/dev/null
		[ "$(count "$2")" -ge "$3" ] && return 0
		sleep 0.05
	done
	fail "no alert $3 of $2: $(tail -n 5 "$W/stderr")"
}
# hup_wait <pattern>: SIGHUP, then wait for a new stderr line matching it
hup_wait() {
	local before i
	before=$(wc -l <"$W/stderr")
	kill -HUP "$EG_PID"
	for i in $(seq 200); do
		tail -n +"$((before + 1))" "$W/stderr" | grep -q -- "$1" && return 0
		sleep 0.05
	done
	fail "no '$1' after SIGHUP: $(tail -n 5 "$W/stderr")"
}

settings "config: [$W/rules-a.yaml]" "process-table-size: 4096" "lua-budget: 100000"
e2e_start -config-file "$W/settings.yaml" -watch
touch_until a e2e_set_a 1

# a new rules path (live) and a new process-table-size (restart to apply)
settings "config: [$W/rules-b.yaml]" "process-table-size: 8192" "lua-budget: 200000"
hup_wait '^ebpf-guard: reloaded 1 rules$'
grep -qx 'ebpf-guard: settings: process-table-size changed; restart to apply' "$W/stderr" ||
	fail "no restart line: $(tail -n 5 "$W/stderr")"
[ "$(grep -c 'changed; restart to apply' "$W/stderr")" = 1 ] || fail "restart lines: $(grep 'restart' "$W/stderr")"
a=$(count e2e_set_a)
touch_until b e2e_set_b 1
cat "$W/eg-set-marker-a" >/dev/null
sleep 0.3
[ "$(count e2e_set_a)" = "$a" ] || fail "rules-a still runs after the settings switched to rules-b"

# -watch follows the new path: an edit of rules-b reloads by itself
sed -i 's/Marker b opened/Marker b opened (edited)/' "$W/rules-b.yaml"
for _ in $(seq 100); do
	grep -q '^ebpf-guard: configuration changed, reloading$' "$W/stderr" && break
	sleep 0.05
done
grep -q '^ebpf-guard: configuration changed, reloading$' "$W/stderr" || fail "-watch did not follow the new rules path"
# that reload read the settings file too, and says so again
for _ in $(seq 100); do
	[ "$(grep -c 'changed; restart to apply' "$W/stderr")" = 2 ] && break
	sleep 0.05
done

# a broken file: nothing changes, one line per problem, counted
[ "$(metric ebpf_guard_config_reload_failures_total)" = 0 ] || fail "failures before: $(metric ebpf_guard_config_reload_failures_total)"
settings "config: [$W/rules-a.yaml]" "lua-budget: 5" "alert-fil: x"
hup_wait "^ebpf-guard: reload failed, keeping the previous rules and settings: $W/settings.yaml:2:13: invalid lua-budget '5': expected 1000..1000000000\$"
grep -qx "ebpf-guard: $W/settings.yaml:3:1: unknown key alert-fil (did you mean alert-file?)" "$W/stderr" ||
	fail "second problem not listed: $(tail -n 3 "$W/stderr")"
[ "$(metric ebpf_guard_config_reload_failures_total)" = 1 ] || fail "failures after: $(metric ebpf_guard_config_reload_failures_total)"
b=$(count e2e_set_b)
touch_until b e2e_set_b "$((b + 1))"

# disable-rule changes live; both rule files load
settings "config: [$W/rules-a.yaml, $W/rules-b.yaml]" "process-table-size: 4096" "disable-rule: [e2e_set_b]"
hup_wait '^ebpf-guard: reloaded 1 rules$' # e2e_set_b is not loaded
a=$(count e2e_set_a) b=$(count e2e_set_b)
touch_until a e2e_set_a "$((a + 1))"
cat "$W/eg-set-marker-b" >/dev/null
sleep 0.3
[ "$(count e2e_set_b)" = "$b" ] || fail "e2e_set_b runs though the settings disable it"
# process-table-size is back to the value in force: no restart line this time
[ "$(grep -c 'changed; restart to apply' "$W/stderr")" = 2 ] || fail "restart lines: $(grep 'restart' "$W/stderr")"
[ -z "$(metric 'ebpf_guard_alerts_suppressed_total{rule_id="e2e_set_a"}')" ] || fail "suppressed before a rate limit"

# alert-rate-limit changes live: 20 opens in well under a second, 1 alert
settings "config: [$W/rules-a.yaml]" "process-table-size: 4096" "alert-rate-limit: 1/s"
hup_wait '^ebpf-guard: reloaded 1 rules$'
a=$(count e2e_set_a)
for _ in $(seq 20); do cat "$W/eg-set-marker-a" >/dev/null; done
for _ in $(seq 100); do
	s=$(metric 'ebpf_guard_alerts_suppressed_total{rule_id="e2e_set_a"}')
	[ -n "$s" ] && [ "$((s + $(count e2e_set_a) - a))" -ge 20 ] && break
	sleep 0.05
done
[ -n "$s" ] && [ "$s" -ge 15 ] || fail "alert-rate-limit from the settings file: suppressed '$s', alerts $(($(count e2e_set_a) - a))"
e2e_stop

# the default metrics address when live: 127.0.0.1:7829, loopback only
if ss -Hltn 'sport = :7829' | grep -q .; then
	echo "note ($EG_NAME): port 7829 is in use here: the default address is not checked" >&2
else
	: >"$W/stderr"
	"$EG_BIN" -config "$W/rules-a.yaml" -alert-file "$W/alerts2.jsonl" >"$W/stdout" 2>"$W/stderr" &
	EG_PID=$!
	for _ in $(seq 600); do
		grep -q '^ebpf-guard: attached' "$W/stderr" && break
		kill -0 "$EG_PID" 2>/dev/null || fail "the daemon exited: $(cat "$W/stderr")"
		sleep 0.05
	done
	grep -qx 'ebpf-guard: metrics on http://127.0.0.1:7829/metrics' "$W/stderr" ||
		fail "default metrics address: $(grep metrics "$W/stderr")"
	[ "$(ss -Hltn 'sport = :7829' | awk '{print $4}')" = 127.0.0.1:7829 ] ||
		fail "listening on: $(ss -Hltn 'sport = :7829')"
	curl -sf --max-time 5 http://127.0.0.1:7829/healthz >/dev/null || fail "no /healthz on the default address"
	e2e_stop
fi
echo "ok ($EG_NAME)"
