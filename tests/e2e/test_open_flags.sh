#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every open system call the collector hooks, with its flags exactly as
# passed: open(2) (the legacy SYS_open), openat(2), and openat2(2) (flags from
# struct open_how, not its mode); a failed open is reported too.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 60
cat >"$W/rules.yaml" <<'YAML'
rules:
  - id: e2e_flags_open
    description: Flags marker opened
    event_types: ["open"]
    filename_regex: "eg-e2e-flags-"
YAML
e2e_start -config "$W/rules.yaml"
grep -q '^ebpf-guard: attached 10 probes (exec,open,connect)$' "$W/stderr" ||
	fail "want every exec, open (open, openat, openat2) and connect probe: $(grep attached "$W/stderr")"

flags() { "$PY" -c 'import os, sys; print(eval(sys.argv[1], vars(os)))' "$1"; }
# check_open SYSCALL PATH FLAGS: the helper's call is one event with these flags
check_open() {
	local f
	f=$(flags "$3")
	run_helper "$1" "$2" "$f"
	expect_alerts --where pid="$HPID" --where type=open --rules e2e_flags_open \
		--field filename="$2" --field tgid="$HPID" --field comm=eg_helper \
		--field open_flags="$f" --field truncated=false
	echo "$1 $3 = $f: ok"
}

# open(2), creating the file
check_open open-sys "$W/eg-e2e-flags-open" 'O_WRONLY|O_CREAT|O_TRUNC'
[ -f "$W/eg-e2e-flags-open" ] || fail "open(2) did not create the file"
# open(2) that fails (EEXIST): reported all the same
check_open open-sys "$W/eg-e2e-flags-open" 'O_WRONLY|O_CREAT|O_EXCL'
grep -q 'open-sys .*eg-e2e-flags-open: File exists' "$W/helper.err" || fail "the O_EXCL open did not fail"
# openat(2)
check_open openat "$W/eg-e2e-flags-open" 'O_WRONLY|O_APPEND|O_NOCTTY|O_CLOEXEC|O_NOFOLLOW'
# openat2(2): flags from struct open_how (its mode is 0600, its size 24)
check_open openat2 "$W/eg-e2e-flags-openat2" 'O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC'
[ -f "$W/eg-e2e-flags-openat2" ] || fail "openat2 did not create the file"
mkdir "$W/eg-e2e-flags-dir"
check_open openat2 "$W/eg-e2e-flags-dir" 'O_PATH|O_DIRECTORY|O_CLOEXEC'
# O_RDONLY is 0
check_open openat2 "$W/eg-e2e-flags-dir" 'O_RDONLY'

e2e_stop
echo "PASS ($EG_NAME): open, openat, openat2 flags exact"
