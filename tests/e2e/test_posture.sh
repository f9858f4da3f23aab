#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The live daemon's posture once its probes are attached (docs/operations.md,
# "Hardening"), read from /proc/PID/status and /proc/PID/task/*/status:
#   - the event loop thread keeps exactly CAP_PERFMON (plus CAP_BPF on kernels
#     before 6.5, where every bpf() call needs it): effective, permitted and
#     bounding; nothing inheritable or ambient; the metrics server's threads
#     hold no capability at all; with -all-events nothing is kept (no attach
#     can come later);
#   - every thread: NoNewPrivs 1, Seccomp 2 (filter), one filter;
#   - under that, a SIGHUP reload that wants open and exit events attaches
#     their probes, and they work (an open alerted); SIGUSR1 reopens the
#     alert file; SIGTERM exits 0;
#   - -no-seccomp: Seccomp 0, the rest the same.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 120

PERFMON=$((1 << 38))
BPF=$((1 << 39))
kver=$(uname -r | awk -F'[.-]' '{ print $1 * 1000 + $2 }')
if [ "$kver" -ge 6005 ]; then want=$PERFMON; names=perfmon; else want=$((PERFMON | BPF)); names=perfmon,bpf; fi
want_all=$((want & BPF))

# status_of <task dir> <field>
field() { awk -v f="$2:" '$1 == f { print $2 }' "$1/status"; }
hex() { printf '%016x' "$1"; }

# check_posture <event loop CapEff> <seccomp mode>
check_posture() {
	local caps=$1 mode=$2 t main=/proc/$EG_PID n=0
	[ "$(field "$main" CapEff)" = "$(hex "$caps")" ] || fail "CapEff $(field "$main" CapEff), want $(hex "$caps")"
	[ "$(field "$main" CapPrm)" = "$(hex "$caps")" ] || fail "CapPrm $(field "$main" CapPrm), want $(hex "$caps")"
	[ "$(field "$main" CapBnd)" = "$(hex "$caps")" ] || fail "CapBnd $(field "$main" CapBnd), want $(hex "$caps")"
	[ "$(field "$main" CapInh)" = "$(hex 0)" ] || fail "CapInh $(field "$main" CapInh)"
	[ "$(field "$main" CapAmb)" = "$(hex 0)" ] || fail "CapAmb $(field "$main" CapAmb)"
	for t in "$main"/task/*; do
		[ -d "$t" ] || continue
		n=$((n + 1))
		[ "$(field "$t" NoNewPrivs)" = 1 ] || fail "thread $(basename "$t") ($(cat "$t/comm")): NoNewPrivs $(field "$t" NoNewPrivs)"
		[ "$(field "$t" Seccomp)" = "$mode" ] || fail "thread $(basename "$t") ($(cat "$t/comm")): Seccomp $(field "$t" Seccomp), want $mode"
		if [ "$mode" = 2 ]; then
			[ "$(field "$t" Seccomp_filters)" = 1 ] || fail "thread $(basename "$t"): Seccomp_filters $(field "$t" Seccomp_filters)"
		fi
		if [ "$(cat "$t/comm")" = MHD-worker ]; then
			[ "$(field "$t" CapEff)" = "$(hex 0)" ] && [ "$(field "$t" CapPrm)" = "$(hex 0)" ] ||
				fail "metrics thread $(basename "$t"): CapEff $(field "$t" CapEff) CapPrm $(field "$t" CapPrm)"
		elif [ "$t" != "$main/task/$EG_PID" ]; then
			fail "unexpected thread $(basename "$t") ($(cat "$t/comm"))"
		fi
	done
	[ "$n" -ge 3 ] || fail "$n threads, want the event loop and two metrics threads"
	echo "posture: CapEff $(field "$main" CapEff), NoNewPrivs 1 and Seccomp $mode on $n threads"
}

cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_port
    description: Port 4444
    event_types: ["connect"]
    min_dest_port: 4444
    max_dest_port: 4444
YAML
mkdir "$W/lua"
e2e_start -config "$W/rules.yaml" -config "$W/lua" -v
check_posture "$want" 2
grep -qx "ebpf-guard: capabilities kept: $names; no_new_privs set; seccomp filter: [0-9]* system calls allowed" "$W/stderr" ||
	fail "no -v posture line: $(grep -v '^libbpf' "$W/stderr" | grep capabilities)"

# A reload that wants open and exit events attaches their probes under the
# reduced posture, and they work.
cat >>"$W/rules.yaml" <<'YAML'
  - id: e2e_marker_open
    description: Marker file opened
    event_types: ["open"]
    filename_regex: "eg-e2e-marker-posture"
YAML
printf 'return { id = "e2e_exit", description = "exits", event_types = {"exit"}, match = function(ev) return false end }\n' >"$W/lua/exit.lua"
kill -HUP "$EG_PID"
wait_stderr '^ebpf-guard: attached [0-9]* probes (exec,open,connect,exit)$' ||
	fail "open and exit probes not attached after the reload: $(grep -E 'attached|reload|failed' "$W/stderr")"
grep -q 'failed to attach' "$W/stderr" && fail "$(grep 'failed to attach' "$W/stderr")"
touch "$W/eg-e2e-marker-posture"
run_helper open "$W/eg-e2e-marker-posture"
expect_alerts --where pid="$HPID" --where type=open --rules e2e_marker_open
mv "$W/alerts.jsonl" "$W/alerts.jsonl.1"
kill -USR1 "$EG_PID"
run_helper connect4 127.0.0.1 4444
for _ in $(seq 100); do [ -s "$W/alerts.jsonl" ] && break; sleep 0.05; done
expect_alerts --where pid="$HPID" --where type=connect --rules builtin_crypto_port,e2e_port
check_posture "$want" 2
grep -q 'refused by the seccomp filter' "$W/stderr" && fail "$(grep 'refused by the seccomp filter' "$W/stderr")"
e2e_stop

# -all-events: every probe is attached now, no attach can come later.
: >"$W/alerts.jsonl"
e2e_start -all-events
check_posture "$want_all" 2
e2e_stop

# -no-seccomp: no filter, the rest as before.
e2e_start -no-seccomp
check_posture "$want" 0
e2e_stop
echo "PASS ($EG_NAME)"
