#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The kernel filter of open events (lua/ebpf_guard/compile.lua,
# kernel_filter): opens no rule names stay in the kernel and are counted in
# ebpf_guard_events_filtered_total{type="open"}; opens a rule names cross and
# raise their alerts; a SIGHUP reload changes the filter (a new rule's
# opens cross, a rule the kernel cannot test turns it off); -all-events
# turns it off. The file families the same way: unlinks and renames no rule
# names stay in the kernel (ebpf_guard_events_filtered_total{type="unlink"},
# {type="rename"}), those a rule names cross and alert, also through a path
# the daemon normalises ("//", "/./", a relative one), and a rename rule on
# new_path makes the kernel test the new path. The socket families by port:
# connects, binds, listens and accepts on ports no rule names stay in the
# kernel, those on a named port cross and alert.
. "$(dirname "$0")/e2e_lib.sh"
e2e_init 120

# a free port for the listen and accept rules, one for boring listeners
read -r LPORT BPORT < <("$PY" -c 'import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
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
  - id: e2e_kf_unlink
    description: a secret deleted
    event_types: [unlink]
    match:
      filename: {prefix: $W/secret/}
  - id: e2e_kf_rename
    description: a file renamed into the secrets
    event_types: [rename]
    match:
      new_path: {prefix: $W/secret/}
  - id: e2e_kf_link
    description: a link made among the secrets
    event_types: [link]
    match:
      filename: {prefix: $W/secret/}
  - id: e2e_kf_chmod
    description: a secret's mode changed
    event_types: [chmod]
    match:
      filename: {prefix: $W/secret/}
  - id: e2e_kf_suid
    description: a set-uid bit set
    event_types: [chmod]
    match:
      mode_setuid: true
  - id: e2e_kf_listen
    description: a listener on the canary port
    event_types: [listen]
    match:
      local_port: $LPORT
  - id: e2e_kf_accept
    description: a connection accepted on the canary port
    event_types: [accept]
    match:
      local_port: $LPORT
$1
YAML
}

# opens $1 N times from one process
opens() {
	"$PY" -c 'import sys
for _ in range(int(sys.argv[2])): open(sys.argv[1]).close()' "$1" "$2"
}


# refused_connects N: N TCP connects to 127.0.0.1:9 from one process
refused_connects() {
	"$PY" -c 'import socket, sys
for i in range(int(sys.argv[1])):
    s = socket.socket()
    try: s.connect(("127.0.0.1", 9))
    except OSError: pass
    s.close()' "$1"
}

# unlinks DIR N: creates and deletes DIR/u.I, I < N, from one process
unlinks() {
	"$PY" -c 'import os, sys
for i in range(int(sys.argv[2])):
    p = "%s/u.%d" % (sys.argv[1], i)
    open(p, "w").close()
    os.unlink(p)' "$1" "$2"
}

# renames DIR N: renames DIR/r.a to DIR/r.b and back, N times in all
renames() {
	"$PY" -c 'import os, sys
a, b = sys.argv[1] + "/r.a", sys.argv[1] + "/r.b"
open(a, "w").close()
for i in range(int(sys.argv[2])):
    os.rename(a, b) if i % 2 == 0 else os.rename(b, a)
os.unlink(a if int(sys.argv[2]) % 2 == 0 else b)' "$1" "$2"
}

# pyrun CODE ARGS...: runs python code that prints its pid first; PYPID
pyrun() {
	local out
	out=$("$PY" -c 'import os, sys
print(os.getpid(), flush=True)
'"$1" "${@:2}") || fail "python failed: $1"
	PYPID=$(printf '%s\n' "$out" | head -n1)
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
grep -q '^ebpf-guard: kernel filter for unlink events: on (1 filename prefixes, 0 suffixes, 0 comm words)$' "$W/stderr" ||
	fail "the unlink filter is not on with the rule's prefix"
grep -q '^ebpf-guard: kernel filter for rename events: on (0 filename prefixes, 0 suffixes, 0 comm words, 1 new_path prefixes, 0 suffixes)$' "$W/stderr" ||
	fail "the rename filter does not test new_path"
grep -q '^ebpf-guard: kernel filter for chmod events: on (1 filename prefixes, 0 suffixes, 0 comm words, mode bits 04000)$' "$W/stderr" ||
	fail "the chmod filter does not test the set-uid bit"
# the socket families: the built-in's four ports are all connect rules name
grep -q '^ebpf-guard: kernel filter for connect events: on (4 dest_port values)$' "$W/stderr" ||
	fail "the connect filter is not on with the built-in's ports: $(grep 'filter for connect' "$W/stderr")"
grep -q '^ebpf-guard: kernel filter for listen events: on (1 local_port value)$' "$W/stderr" ||
	fail "the listen filter is not on with the rule's port: $(grep 'filter for listen' "$W/stderr")"
grep -q '^ebpf-guard: kernel filter for accept events: on (1 local_port value)$' "$W/stderr" ||
	fail "the accept filter is not on with the rule's port: $(grep 'filter for accept' "$W/stderr")"
# and ebpf_guard_kernel_filter_on says so, per type
for t in open link rename unlink chmod connect listen accept; do
	[ "$(metric "ebpf_guard_kernel_filter_on{type=\"$t\"}")" = 1 ] || fail "ebpf_guard_kernel_filter_on{type=\"$t\"} is not 1"
done

# connects to ports no rule names stay in the kernel (refused, TCP and UDP)
f0=$(filtered connect)
e0=$(events connect)
refused_connects 100
"$PY" -c 'import socket
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.connect(("::1", 9)); u.close()'
f1=$(filtered connect)
e1=$(events connect)
[ $((f1 - f0)) -ge 101 ] || fail "101 connects to port 9, $((f1 - f0)) filtered in the kernel"
[ $((e1 - e0)) -lt 101 ] || fail "101 connects filtered, yet $((e1 - e0)) reached the daemon"
# one to a port the built-in names crosses and alerts (IPv4 and IPv6)
pyrun 'import socket
for fam, ip in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    s = socket.socket(fam)
    try: s.connect((ip, 4444))
    except OSError: pass
    s.close()'
expect_alerts --where pid="$PYPID" --where dest_ip=127.0.0.1 --rules builtin_crypto_port --field dest_port=4444
expect_alerts --where pid="$PYPID" --where dest_ip=::1 --rules builtin_crypto_port --field dest_port=4444
# bind, listen and accept on a port no rule names stay in the kernel; on
# the rule's port they cross
f0=$(filtered listen)
a0=$(filtered accept)
conns() {
	"$PY" -c 'import os, socket, sys
print(os.getpid(), flush=True)
for _ in range(int(sys.argv[2])):
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", int(sys.argv[1]))); l.listen(4)
    c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    a, _ = l.accept()
    for x in (a, c, l): x.close()' "$@"
}
conns "$BPORT" 50 >/dev/null
f1=$(filtered listen)
a1=$(filtered accept)
[ $((f1 - f0)) -ge 100 ] || fail "50 binds and listens on port $BPORT, $((f1 - f0)) filtered in the kernel"
[ $((a1 - a0)) -ge 50 ] || fail "50 accepts on port $BPORT, $((a1 - a0)) filtered in the kernel"
PYPID=$(conns "$LPORT" 1)
expect_alerts --where pid="$PYPID" --where call=listen --rules e2e_kf_listen --field local_port="$LPORT"
expect_alerts --where pid="$PYPID" --where type=accept --rules e2e_kf_accept --field local_port="$LPORT"

# unlinks and renames no rule names stay in the kernel
f0=$(filtered unlink)
e0=$(events unlink)
unlinks "$boring" 300
f1=$(filtered unlink)
e1=$(events unlink)
[ $((f1 - f0)) -ge 300 ] || fail "300 uninteresting unlinks, $((f1 - f0)) filtered in the kernel"
[ $((e1 - e0)) -lt 300 ] || fail "300 uninteresting unlinks filtered, yet $((e1 - e0)) reached the daemon"
f0=$(filtered rename)
renames "$boring" 200
f1=$(filtered rename)
[ $((f1 - f0)) -ge 200 ] || fail "200 uninteresting renames, $((f1 - f0)) filtered in the kernel"
# links and mode changes the same way
f0=$(filtered link)
"$PY" -c 'import os, sys
for i in range(200):
    p = "%s/l.%d" % (sys.argv[1], i)
    os.symlink("/etc/passwd", p)
    os.unlink(p)' "$boring"
f1=$(filtered link)
[ $((f1 - f0)) -ge 200 ] || fail "200 uninteresting symlinks, $((f1 - f0)) filtered in the kernel"
f0=$(filtered chmod)
"$PY" -c 'import os, sys
for i in range(200): os.chmod(sys.argv[1], 0o600 | (i & 1) << 6)' "$boring/file"
f1=$(filtered chmod)
[ $((f1 - f0)) -ge 200 ] || fail "200 uninteresting chmods, $((f1 - f0)) filtered in the kernel"
pyrun 'os.symlink("/etc/passwd", sys.argv[1])' "$W/secret/l1"
expect_alerts --where pid="$PYPID" --where filename="$W/secret/l1" --rules e2e_kf_link --field link_target=/etc/passwd
pyrun 'os.chmod(sys.argv[1], 0o640)' "$W/secret//file"
expect_alerts --where pid="$PYPID" --where filename="$W/secret/file" --rules e2e_kf_chmod --field type=chmod
# a set-uid bit crosses wherever the file is
pyrun 'os.chmod(sys.argv[1], 0o4700)' "$boring/file"
expect_alerts --where pid="$PYPID" --where filename="$boring/file" --rules e2e_kf_suid --field mode_setuid=True
# fchmod: the path comes from the descriptor, the kernel lets it through
pyrun 'fd = os.open(sys.argv[1], os.O_RDONLY); os.fchmod(fd, 0o600)' "$W/secret/file"
expect_alerts --where pid="$PYPID" --where filename="$W/secret/file" --where call=fchmod --rules e2e_kf_chmod

# those a rule names cross, also as paths the daemon normalises
for p in "$W/secret/u1" "$W//secret/u2" "$W/./secret/u3" "$W/boring/../secret/u4"; do
	touch "$W/secret/${p##*/}"
	pyrun 'os.unlink(sys.argv[1])' "$p"
	expect_alerts --where pid="$PYPID" --where filename="$W/secret/${p##*/}" --rules e2e_kf_unlink --field type=unlink
done
touch "$W/secret/u5"
pyrun 'os.chdir(sys.argv[1]); os.unlink("secret/u5")' "$W"
expect_alerts --where pid="$PYPID" --where filename="$W/secret/u5" --rules e2e_kf_unlink
touch "$boring/r1"
pyrun 'os.rename(sys.argv[1], sys.argv[2])' "$boring/r1" "$W/secret/r1"
expect_alerts --where pid="$PYPID" --where new_path="$W/secret/r1" --rules e2e_kf_rename --field type=rename
touch "$boring/r2"
pyrun 'os.rename(sys.argv[1], sys.argv[2])' "$boring/r2" "$W/secret//r2"
expect_alerts --where pid="$PYPID" --where filename="$boring/r2" --rules e2e_kf_rename

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
# through a symbolic link: the kernel decides on (and the alert carries) the
# file the kernel opened, the walk the filter made, not the string passed
ln -s "$W/secret/file" "$boring/link"
run_helper open "$boring/link"
expect_alerts --where pid="$HPID" --where filename="$W/secret/file" --rules e2e_kf_secret --field requested="$boring/link"
rm -f "$boring/link"
# the kernel remembers the files whose opens it kept (kf_open_cache): a
# directory renamed, here or higher up, into the secrets makes the next open
# of the same file by the same program cross
mkdir -p "$W/outer/d"
echo x >"$W/outer/d/file"
opens "$W/outer/d/file" 50
mv "$W/outer" "$W/secret/outer"
pyrun 'open(sys.argv[1]).close()' "$W/secret/outer/d/file"
expect_alerts --where pid="$PYPID" --where filename="$W/secret/outer/d/file" --rules e2e_kf_secret
mkdir -p "$W/d2"
echo x >"$W/d2/file"
opens "$W/d2/file" 50
mv "$W/d2" "$W/secret/d2"
pyrun 'open(sys.argv[1]).close()' "$W/secret/d2/file"
expect_alerts --where pid="$PYPID" --where filename="$W/secret/d2/file" --rules e2e_kf_secret
# and an open of a file deleted meanwhile (through its /proc/self/fd link)
# crosses, flagged deleted, as before it was remembered: none of the 50 is
# kept (the filtered count, read by the process around its opens, moves by
# the host's other opens only) and the daemon gets them all
echo x >"$boring/gone"
opens "$boring/gone" 50
e0=$(events open)
kept=$("$PY" -c 'import os, sys, urllib.request
def filtered():
    for l in urllib.request.urlopen(sys.argv[2] + "/metrics", timeout=5).read().decode().splitlines():
        if l.startswith("ebpf_guard_events_filtered_total{type=\"open\"} "): return int(float(l.split()[-1]))
    sys.exit("no filtered series")
fd = os.open(sys.argv[1], os.O_RDONLY)
os.unlink(sys.argv[1])
f0 = filtered()
for _ in range(50): os.close(os.open("/proc/self/fd/%d" % fd, os.O_RDONLY))
print(filtered() - f0)' "$boring/gone" "$URL") || fail "the deleted file's opens failed"
[ "$kept" -lt 25 ] || fail "50 opens of a deleted file, $kept kept in the kernel"
# (the daemon counts them as it drains the ring: up to 5 s)
for _ in $(seq 50); do
	e1=$(events open)
	[ $((e1 - e0)) -ge 50 ] && break
	sleep 0.1
done
[ $((e1 - e0)) -ge 50 ] || fail "50 opens of a deleted file, $((e1 - e0)) reached the daemon"
# a short prefix a reload adds (below): the file's opens are kept until then
mkdir -p "/run/eg-kf-$$"
clean_later "/run/eg-kf-$$"
echo x >"/run/eg-kf-$$/f"
opens "/run/eg-kf-$$/f" 50

# a reload that names the boring directory: its opens cross now
rules "  - id: e2e_kf_boring
    description: the boring file opened
    event_types: [open]
    match:
      filename: {suffix: /file}
      comm: eg_helper
  - id: e2e_kf_rm
    description: a program named eg_kf_rm deleted a file
    event_types: [unlink]
    match:
      comm: eg_kf_rm
  - id: e2e_kf_short
    description: a file under /run/eg opened (a prefix under 8 bytes)
    event_types: [open]
    match:
      filename: {prefix: /run/eg}
  - id: e2e_kf_short_unlink
    description: a file under /run deleted (a prefix under the file families' 6-byte heads)
    event_types: [unlink]
    match:
      filename: {prefix: /run}"
kill -HUP "$EG_PID"
wait_line 2 '^ebpf-guard: kernel filter for open events: on'
# (the rule's key with the fewest words, the comm before the suffix on a tie)
grep -q '^ebpf-guard: kernel filter for open events: on (3 filename prefixes, 0 suffixes, 1 comm words)$' "$W/stderr" ||
	fail "the reloaded filter does not add the comm and the short prefix"
# (python's opens of it are kept and remembered; eg_helper's, a comm the
# filter names now, cross all the same)
f0=$(filtered)
opens "$boring/file" 50
f1=$(filtered)
[ $((f1 - f0)) -ge 50 ] || fail "50 uninteresting opens after the reload, $((f1 - f0)) filtered in the kernel"
run_helper open "$boring/file"
expect_alerts --where pid="$HPID" --where filename="$boring/file" --rules e2e_kf_boring
# a prefix shorter than the 8-byte heads the kernel looks up before its trie
# (its opens were kept before the reload: the kernel forgot them at it)
# (by python: eg_helper's comm is one the filter lets through now)
pyrun 'open(sys.argv[1]).close()' "/run/eg-kf-$$/f"
expect_alerts --where pid="$PYPID" --where filename="/run/eg-kf-$$/f" --rules e2e_kf_short
# an unlink rule on the comm: that program's unlinks cross
grep -q '^ebpf-guard: kernel filter for unlink events: on (2 filename prefixes, 0 suffixes, 1 comm words)$' "$W/stderr" ||
	fail "the reloaded unlink filter does not add the comm and the short prefix"
# a prefix shorter than the heads the kernel looks up before the file
# families' trie: its unlinks cross
echo x >"/run/eg-kf-$$/u"
pyrun 'os.unlink(sys.argv[1])' "/run/eg-kf-$$/u"
expect_alerts --where pid="$PYPID" --where filename="/run/eg-kf-$$/u" --rules e2e_kf_short_unlink
touch "$boring/rm1"
pyrun 'import ctypes
ctypes.CDLL(None).prctl(15, b"eg_kf_rm", 0, 0, 0)
os.unlink(sys.argv[1])' "$boring/rm1"
expect_alerts --where pid="$PYPID" --where filename="$boring/rm1" --rules e2e_kf_rm --field comm=eg_kf_rm

# a rule the kernel cannot test: the filter goes off
rules "  - id: e2e_kf_writes
    description: any write
    event_types: [open]
    match:
      open_flags: {any: [O_WRONLY, O_RDWR]}"
kill -HUP "$EG_PID"
wait_line 1 '^ebpf-guard: kernel filter for open events: off (rule "e2e_kf_writes" ('"$W"'/rules.yaml) wants open events and names no filename or comm the kernel can test)$'
[ "$(metric 'ebpf_guard_kernel_filter_on{type="open"}')" = 0 ] || fail "the open filter is off, yet its gauge is not 0"
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
for t in open link rename unlink chmod connect listen accept; do
	[ "$(metric "ebpf_guard_kernel_filter_on{type=\"$t\"}")" = 0 ] || fail "-all-events: ebpf_guard_kernel_filter_on{type=\"$t\"} is not 0"
done
grep -q '^ebpf-guard: kernel filter for unlink events: off (-all-events)$' "$W/stderr" ||
	fail "-all-events did not turn the unlink filter off"
f0=$(filtered)
opens "$boring/file" 300
sleep 0.3
f1=$(filtered)
[ "$f1" = "$f0" ] || fail "-all-events, yet $((f1 - f0)) opens were filtered"
f0=$(filtered unlink)
e0=$(events unlink)
unlinks "$boring" 300
sleep 0.3
f1=$(filtered unlink)
e1=$(events unlink)
[ "$f1" = "$f0" ] || fail "-all-events, yet $((f1 - f0)) unlinks were filtered"
[ $((e1 - e0)) -ge 300 ] || fail "-all-events: 300 unlinks, $((e1 - e0)) reached the daemon"
grep -q '^ebpf-guard: kernel filter for connect events: off (-all-events)$' "$W/stderr" ||
	fail "-all-events did not turn the connect filter off"
f0=$(filtered connect)
e0=$(events connect)
refused_connects 100
sleep 0.3
f1=$(filtered connect)
e1=$(events connect)
[ "$f1" = "$f0" ] || fail "-all-events, yet $((f1 - f0)) connects were filtered"
[ $((e1 - e0)) -ge 100 ] || fail "-all-events: 100 connects, $((e1 - e0)) reached the daemon"
e2e_stop
echo "ok: kernel filter"
