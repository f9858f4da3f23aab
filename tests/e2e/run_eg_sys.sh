#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Smoke check of tests/e2e/eg_sys.c (not an e2e test of the daemon, and not in
# ctest): builds it the way the e2e tests do (cc -O1) into a temp dir, runs
# every mode once against temp paths and checks its exit status and that it
# printed the keys a test will compare. Exact results are not checked here
# (they depend on the kernel: e.g. the module calls return -38, ENOSYS, on a
# kernel without module support), except where the mode is built to fail.
# Run as root.   tests/e2e/run_eg_sys.sh [-v]
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
VERBOSE=0
[ "${1:-}" = -v ] && VERBOSE=1
[ "$(id -u)" = 0 ] || { echo "run_eg_sys: needs root" >&2; exit 1; }

W=$(mktemp -d /tmp/eg-sys.XXXXXX)
trap 'rm -rf -- "$W"' EXIT
cc -O1 -Wall -Wextra -Werror -o "$W/eg_sys" "$HERE/eg_sys.c"

FAILS=0
RUNS=0
# check "KEY[=VALUE] ..." -- ARGS...: runs eg_sys ARGS, expects exit 0, a
# first line pid=<its pid>, every KEY present (with VALUE when given)
check() {
	local want=()
	while [ "$1" != -- ]; do
		want+=("$1")
		shift
	done
	shift
	RUNS=$((RUNS + 1))
	local out=$W/out rc=0 k bad=
	"$W/eg_sys" "$@" >"$out" 2>"$W/err" || rc=$?
	[ "$rc" = 0 ] || bad="exit status $rc"
	head -1 "$out" | grep -Eq '^pid=[0-9]+$' || bad="${bad:+$bad; }no pid= first line"
	for k in "${want[@]}"; do
		if [[ $k == *=* ]]; then
			grep -Fqx -- "$k" "$out" || bad="${bad:+$bad; }missing $k"
		else
			grep -Eq "^${k//./\\.}=" "$out" || bad="${bad:+$bad; }missing key $k"
		fi
	done
	if [ -n "$bad" ]; then
		FAILS=$((FAILS + 1))
		echo "FAIL eg_sys $*: $bad"
		sed 's/^/  | /' "$out" "$W/err"
	else
		echo "ok   eg_sys $*"
		[ "$VERBOSE" = 1 ] && sed 's/^/  | /' "$out"
	fi
	return 0
}

check child.pid ptrace_attach.result=0 ptrace_peekdata.result=0 ptrace_peekdata.word=0x6567737973 \
	ptrace_detach.result=0 ptrace_traceme.pid ptrace_traceme.result=0 -- ptrace-child
echo x >"$W/notamodule"
check finit_module.fd finit_module.path="$W/notamodule" finit_module.result -- finit-module "$W/notamodule"
check init_module.len=16 init_module.result -- init-module
check delete_module.name=eg_sys_nosuch delete_module.result -- delete-module eg_sys_nosuch
check bpf_prog_load.prog_name=eg_sys_prog bpf_prog_load.result bpf_map_create.map_name=eg_sys_map \
	bpf_map_create.result -- bpf-prog
check bpf_prog_load.prog_name=eg_sys_rtp bpf_prog_load.result bpf_raw_tracepoint_open.result \
	bpf_link_create.result bpf_prog_load_1.prog_name=eg_sys_bad bpf_prog_load_1.result \
	bpf_map_create.map_name=eg_sys_badmap bpf_map_create.result -- bpf-attach
check child.pid capset.result=0 capset.new_effective setfsuid.result=0 setfsuid_1.result=65534 \
	setreuid.result=0 setregid.result=0 setresgid.result=0 setgid.result=0 setresuid.result=0 \
	setuid.result=-1 new.uid=65534,65534,65534 new.gid=65534,65534,65534 -- setid
check child.pid capset.result=-1 ia32 -- setid-compat
check unshare.flags=0x7c020000 unshare.result=0 -- unshare mnt,uts,ipc,net,pid,user
check setns.path=/proc/self/ns/uts setns.result=0 -- setns /proc/self/ns/uts
check clone.flags=0x4000011 clone.result clone3.flags=0x4000000 clone3.result -- clone-ns
mkdir "$W/mnt"
check unshare.result=0 mount.result=0 mount_1.fstype=tmpfs mount_1.result=0 umount2.result=0 \
	fsopen.result fsmount.result move_mount.result=0 umount2_1.result=0 -- mount-tmpfs "$W/mnt"
! grep -q "$W/mnt" /proc/mounts || { echo "FAIL mount-tmpfs left a mount on $W/mnt"; FAILS=$((FAILS + 1)); }

# links, renames, unlinks: plain calls on absolute paths, then the *at calls
mkdir "$W/d" "$W/d/sub" "$W/d/sub2"
: >"$W/d/f"
check symlink.old="$W/d/f" symlink.new="$W/d/s" symlink.result=0 -- symlink "$W/d/f" "$W/d/s"
check link.result=0 -- link "$W/d/f" "$W/d/l"
check rename.old="$W/d/l" rename.new="$W/d/l2" rename.result=0 -- rename "$W/d/l" "$W/d/l2"
check renameat2.flags=0x1 renameat2.result=-17 -- renameat2 "$W/d/l2" "$W/d/f" # EEXIST: NOREPLACE
check renameat2.flags=0x1 renameat2.result=0 -- renameat2 "$W/d/l2" "$W/d/l3"
check unlink.path="$W/d/s" unlink.result=0 -- unlink "$W/d/s"
check rmdir.path="$W/d/sub" rmdir.result=0 -- rmdir "$W/d/sub"
check symlinkat.dirfd symlinkat.dir="$W/d" symlinkat.new=s2 symlinkat.result=0 -- --at "$W/d" symlink f s2
check linkat.dirfd linkat.old=f linkat.new=l4 linkat.result=0 -- --at "$W/d" link f l4
check renameat.old=l4 renameat.new=l5 renameat.result=0 -- --at "$W/d" rename l4 l5
check renameat2.dirfd renameat2.result=0 -- --at "$W/d" renameat2 l5 l6
check unlinkat.path=s2 unlinkat.flags=0x0 unlinkat.result=0 -- --at "$W/d" unlink s2
check unlinkat.path=sub2 unlinkat.flags=0x200 unlinkat.result=0 -- --at "$W/d" rmdir sub2
check unlink.result=-2 -- unlink "$W/d/nosuch" # ENOENT

check chmod.mode=04755 chmod.result=0 chmod.mode_after=4755 fchmod.fd fchmod.mode_after=6755 \
	fchmodat.mode_after=0755 fchmodat.result=0 -- chmod-suid "$W/suid"
[ -e "$W/suid" ] || { echo "FAIL chmod-suid removed a file it was not asked to"; FAILS=$((FAILS + 1)); }
check chmod.result=0 -- chmod-suid "$W/suid2" rm
[ ! -e "$W/suid2" ] || { echo "FAIL chmod-suid rm left the file"; FAILS=$((FAILS + 1)); }

check socket.fd socket.peer child.pid dup2.newfd=0 dup2.result=0 dup2_1.result=1 dup2_2.result=2 \
	dup2_3.result=100 dup3.result=2 dup2_4.result=-9 dup.result=0 dup2_5.path=/dev/null \
	dup2_5.result=1 -- dup-socket
# against an outside listener
python3 -c 'import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(8)
print(s.getsockname()[1], flush=True); time.sleep(5)' >"$W/port" &
LP=$!
for _ in $(seq 50); do [ -s "$W/port" ] && break; sleep 0.05; done
check socket.peer="127.0.0.1:$(cat "$W/port")" dup2.result=0 -- dup-socket "$(cat "$W/port")"
kill "$LP" 2>/dev/null || true
wait "$LP" 2>/dev/null || true

check bind.port bind.result=0 listen.result=0 accept.peer accept.result bind_1.addr=::1 \
	bind_1.result=0 listen_1.result=0 accept4.flags=0x80000 accept4.result bind_2.result=0 \
	bind_3.result=0 listen_2.port listen_2.result=0 accept_1.result=-11 bind_4.result=-98 \
	accept4_1.result=-22 -- bind-listen-accept
if "$W/eg_sys" compat-net | grep -qx compat.available=1; then
	check bind.result=0 listen.port listen.result=0 accept.peer accept.result accept4.result \
		bind_1.result=0 listen_1.result=0 accept4_1.result dup2.peer dup2.result=2 -- compat-net
else
	check compat.available=0 -- compat-net
fi
check memfd_create.name=eg_sys_memfd memfd_create.flags=0x3 memfd_create.result -- memfd eg_sys_memfd

# misuse: exit 2
RUNS=$((RUNS + 1))
rc=0
"$W/eg_sys" nosuch-mode >/dev/null 2>&1 || rc=$?
if [ "$rc" = 2 ]; then
	echo "ok   eg_sys nosuch-mode (exit 2)"
else
	echo "FAIL eg_sys nosuch-mode: exit $rc, not 2"
	FAILS=$((FAILS + 1))
fi

echo "run_eg_sys: $((RUNS - FAILS))/$RUNS passed"
[ "$FAILS" = 0 ]
