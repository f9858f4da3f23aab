#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Live exec events: copies of /bin/true under /dev/shm and /tmp/.x*, a memfd
# exec (memfd_create + fexecve), an unlinked file exec'd through
# /proc/self/fd/N and fexecve, a shell, a miner-named binary, a failed exec,
# and a fresh child that execs a string literal at once.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 120
e2e_start -record "$W/record.jsonl"

# /dev/shm
shm=$(mktemp -d /dev/shm/eg-e2e.XXXXXX)
clean_later "$shm"
cp /bin/true "$shm/true"
run_helper exec "$shm/true"
expect_alerts --where pid="$HPID" --where filename="$shm/true" --rules builtin_fileless_exec \
	--field tgid="$HPID" --field ppid="$HPPID" --field uid=0 --field gid=0 --field type=exec \
	--field comm=eg_helper --field exe="$shm/true" --field memfd=false --field truncated=false \
	--field-json args="[\"$shm/true\"]"

# another user: uid and gid of the caller
if command -v setpriv >/dev/null; then
	chmod 0755 "$shm"
	cp "$HELPER" "$shm/eg_helper" # reachable by nobody, unlike $W
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$shm/eg_helper" exec "$shm/true" 2>/dev/null) || true
	HPID=$(printf '%s\n' "$out" | sed -n 's/^pid=\([0-9]*\)$/\1/p')
	[ -n "$HPID" ] || fail "setpriv helper printed no pid"
	expect_alerts --where pid="$HPID" --where filename="$shm/true" --rules builtin_fileless_exec \
		--field uid=65534 --field gid=65534
fi

# /tmp/.x...
tmpx=$(mktemp /tmp/.x-eg-e2e.XXXXXX)
clean_later "$tmpx"
cp /bin/true "$tmpx"
chmod 0755 "$tmpx"
run_helper exec "$tmpx" one two
expect_alerts --where pid="$HPID" --where filename="$tmpx" --rules builtin_fileless_exec \
	--field tgid="$HPID" --field exe="$tmpx" --field-json args="[\"$tmpx\", \"one\", \"two\"]"

# memfd_create + fexecve (execveat(fd, "", AT_EMPTY_PATH)): no path passed,
# so filename is the executed file itself
name=eg-e2e-$$
run_helper memfd "$name"
expect_alerts --where pid="$HPID" --where exe="/memfd:$name (deleted)" --rules builtin_fileless_exec \
	--field tgid="$HPID" --field comm=eg_helper --field memfd=true --field filename="/memfd:$name (deleted)" \
	--field-json args="[\"$name\"]"

# an unlinked file (open, unlink, exec through /proc/self/fd/N, then
# fexecve): exe as /proc/PID/exe shows it, " (deleted)", and the memfd flag
for how in procfd fexecve; do
	u=$W/eg-unlinked-$how
	cp /bin/true "$u"
	run_helper unlinked-exec "$u" "$how"
	[ ! -e "$u" ] || fail "$u was not unlinked"
	fd=$(printf '%s\n' "$HOUT" | sed -n 's/^fd=\([0-9]*\)$/\1/p')
	fn=/proc/self/fd/$fd
	[ "$how" = fexecve ] && fn="$u (deleted)"
	expect_alerts --where pid="$HPID" --where type=exec --where comm=eg_helper --rules builtin_fileless_exec \
		--field tgid="$HPID" --field filename="$fn" --field exe="$u (deleted)" --field memfd=true \
		--field truncated=false --field-json args='["eg-unlinked"]'
done

# a shell, by file name (the comm is the helper's)
run_helper exec /bin/sh -c ':'
expect_alerts --where pid="$HPID" --where filename=/bin/sh --rules builtin_suspicious_shell \
	--field comm=eg_helper --field-json args='["/bin/sh", "-c", ":"]'

# a miner-named binary
cp /bin/true "$W/xmrig"
run_helper exec "$W/xmrig" --donate-level 1
expect_alerts --where pid="$HPID" --where filename="$W/xmrig" --rules builtin_crypto_exec \
	--field exe="$W/xmrig" --field-json args="[\"$W/xmrig\", \"--donate-level\", \"1\"]"

# name rules see the executable itself: a link named "innocent" to the miner,
# one named "helper" to a shell; a #! script is run by a shell but is not one
# (exe is its interpreter: interpreted, no shell alert from exe)
ln -s "$W/xmrig" "$W/innocent"
run_helper exec "$W/innocent"
expect_alerts --where pid="$HPID" --where filename="$W/innocent" --rules builtin_crypto_exec \
	--field exe="$W/xmrig" --field interpreted=false
ln -s "$(readlink -f /bin/bash)" "$W/helper"
run_helper exec "$W/helper" -c ':'
expect_alerts --where pid="$HPID" --where filename="$W/helper" --rules builtin_suspicious_shell \
	--field exe="$(readlink -f /bin/bash)"
printf '#!/bin/sh\n:\n' >"$W/job.run"
chmod +x "$W/job.run"
run_helper exec "$W/job.run"
expect_alerts --timeout 1 --where pid="$HPID" --where filename="$W/job.run" --rules ''
"$PY" - "$W/record.jsonl" "$HPID" "$W/job.run" "$(readlink -f /bin/sh)" <<'PY' || fail "no interpreted exec event for $W/job.run"
import json, sys, time
rec, pid, script, sh = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
for _ in range(30):
    try:
        evs = [json.loads(l) for l in open(rec) if l.strip()]
    except FileNotFoundError:
        evs = []
    hit = [e for e in evs if e["type"] == "exec" and e["tgid"] == pid and e["filename"] == script]
    if hit:
        e = hit[0]
        ok = e["interpreted"] is True and e["exe"] == sh
        print(json.dumps(e), file=sys.stderr) if not ok else None
        sys.exit(0 if ok else 1)
    time.sleep(0.1)
sys.exit(1)
PY

# execveat relative to a directory fd: the file name as passed, exe resolved
run_helper execveat "$W" xmrig
expect_alerts --where pid="$HPID" --where filename=xmrig --rules builtin_crypto_exec \
	--field exe="$W/xmrig" --field comm=eg_helper --field-json args='["xmrig"]'

# a failed exec (EACCES: not executable) is reported, without exe
cp /bin/true "$shm/noexec"
chmod 0644 "$shm/noexec"
run_helper exec "$shm/noexec"
expect_alerts --where pid="$HPID" --where filename="$shm/noexec" --rules builtin_fileless_exec \
	--field-json exe='""' --field comm=eg_helper

# a file that does not exist (execvp walking $PATH) is not reported
run_helper exec "$shm/missing"
expect_alerts --timeout 1 --where pid="$HPID" --where filename="$shm/missing" --rules ''

# a fresh child execs a string literal before touching its page
mkdir -p /tmp/.eg-e2e-fresh
clean_later /tmp/.eg-e2e-fresh
cp /bin/true /tmp/.eg-e2e-fresh/true
run_helper fresh-exec
expect_alerts --where pid="$HPID" --where filename=/tmp/.eg-e2e-fresh/true \
	--rules builtin_fileless_exec --field comm=eg_helper --field exe=/tmp/.eg-e2e-fresh/true \
	--field-json args='["eg-fresh-child"]'

e2e_stop
echo "PASS ($EG_NAME): exec alerts exact; stopped in ${STOP_MS} ms"
