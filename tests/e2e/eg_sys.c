/* SPDX-License-Identifier: MIT */
/*
 * Syscall helper for the kernel-coverage e2e tests (issue 9): one mode per
 * technique, each making the real system call through syscall(2), so the
 * call a test expects is exactly the call made (no libc substitution).
 *
 * Output, one per line on stdout (line-buffered):
 *   pid=N                  the process that ran the mode (first line)
 *   CALL.KEY=VALUE         what a call was given and what it returned; CALL
 *                          is the syscall's name (a second call of the same
 *                          syscall gets a suffix: dup2_1, accept4 ...)
 *   CALL.result=R          the raw return value (>= 0: 0, an fd, a pid) or
 *                          -ERRNO (e.g. -38 for ENOSYS), as sys_exit sees it
 *   CALL.pid=N             only when a child, not the pid= process, made the call
 * Exit status: 0 when the mode ran (a failing call is data, not an error),
 * 1 when its setup failed (fork, socket, open of an argument), 2 on misuse.
 * Every mode arms alarm(10), reaps its children and undoes what it mounts.
 *
 *   eg_sys ptrace-child            fork a child; PTRACE_ATTACH, PEEKDATA,
 *                                  DETACH it; a second child PTRACE_TRACEME
 *   eg_sys finit-module PATH       finit_module(open(PATH), "", 0)
 *   eg_sys init-module             init_module() of a 16-byte bogus image
 *   eg_sys delete-module NAME      delete_module(NAME, O_NONBLOCK)
 *   eg_sys bpf-prog                BPF_PROG_LOAD (socket filter "eg_sys_prog":
 *                                  r0 = 0; exit) and BPF_MAP_CREATE (array "eg_sys_map")
 *   eg_sys bpf-attach              BPF_PROG_LOAD (raw tracepoint "eg_sys_rtp"),
 *                                  BPF_RAW_TRACEPOINT_OPEN (sys_enter) with it,
 *                                  BPF_LINK_CREATE with it and no target (fails);
 *                                  failing BPF_PROG_LOAD "eg_sys_bad" (no insns) and
 *                                  BPF_MAP_CREATE "eg_sys_badmap" (no entries)
 *   eg_sys setid                   in a child: capset (drop CAP_NET_RAW),
 *                                  setfsuid, setreuid, setregid, setresgid,
 *                                  setgid, setresuid to 65534, then setuid(0) (EPERM)
 *   eg_sys setid-compat            in a child: capset version 1 of pid 1 (EPERM);
 *                                  then through int $0x80 (ia32=1 when it works):
 *                                  setreuid16(-1, 0), setresgid16(-1, -1, -1),
 *                                  setgid32(65534), setuid16(65534)
 *   eg_sys unshare FLAGS           unshare(FLAGS); FLAGS: comma-separated of
 *                                  mnt,uts,ipc,net,pid,user,cgroup,time or
 *                                  numbers (0x2000: a bit unshare refuses)
 *   eg_sys setns PATH              setns(open(PATH), 0), e.g. /proc/self/ns/uts
 *   eg_sys setns-pidfd             setns(pidfd_open(own pid), CLONE_NEWUTS)
 *   eg_sys clone-ns                clone(CLONE_NEWUTS|SIGCHLD) and clone3(CLONE_NEWUTS)
 *   eg_sys mount-tmpfs DIR         unshare(CLONE_NEWNS), make / private, mount
 *                                  tmpfs on DIR, umount2; then fsopen/fsconfig/
 *                                  fsmount/move_mount of a tmpfs on DIR, umount2
 *   eg_sys mount-fail PATH         calls that fail on a PATH that does not
 *                                  exist: mount (with the old MS_MGC_VAL magic),
 *                                  umount2(MNT_DETACH|UMOUNT_NOFOLLOW),
 *                                  move_mount from and to it; fsmount(-1)
 *   eg_sys ns-mount-compat PATH    through int $0x80 (i386 numbers):
 *                                  unshare(CLONE_NEWUTS), clone(CLONE_NEWUTS|
 *                                  SIGCHLD), mount and umount2 of a PATH that
 *                                  does not exist (prints compat.unavailable=1
 *                                  and exits 0 without IA32 emulation)
 *   eg_sys symlink OLD NEW         symlink(2)
 *   eg_sys link OLD NEW            link(2)
 *   eg_sys rename OLD NEW          rename(2)
 *   eg_sys renameat2 OLD NEW       renameat2(AT_FDCWD, .., RENAME_NOREPLACE)
 *   eg_sys unlink PATH             unlink(2)
 *   eg_sys rmdir PATH              rmdir(2)
 *     each of these six with --at DIR first (eg_sys --at DIR unlink NAME):
 *     the *at call (symlinkat, linkat, renameat, renameat2, unlinkat,
 *     unlinkat(AT_REMOVEDIR)) with dirfd = open(DIR) and the paths as given
 *   eg_sys chmod-suid PATH [rm]    create PATH (0644), chmod 04755, fchmod
 *                                  06755, fchmodat 0755, fchmodat2 02755;
 *                                  unlink it at the end only with "rm"
 *   eg_sys dup-socket [PORT]       connect to 127.0.0.1:PORT (no PORT: to its
 *                                  own listener); in a child dup2 it onto 0,
 *                                  1, 2 and 100, dup3 onto 2; then dup2 of a
 *                                  closed fd (999) onto 0 (EBADF), close(0) +
 *                                  dup of the socket (lands on 0), dup2 of
 *                                  /dev/null onto 1
 *   eg_sys bind-listen-accept      bind+listen on 127.0.0.1:0 and [::1]:0,
 *                                  connect to each, accept (v4), accept4 (v6);
 *                                  then bind of a Unix (abstract) and a
 *                                  netlink socket, listen on an unbound
 *                                  non-blocking IPv4 socket (the kernel picks
 *                                  0.0.0.0:port), accept on it (EAGAIN), bind
 *                                  of another socket to 127.0.0.1:that port
 *                                  (EADDRINUSE), accept on that one (EINVAL:
 *                                  not listening)
 *   eg_sys compat-net              the socket calls as a 32-bit process makes
 *                                  them (int $0x80, from this 64-bit one):
 *                                  socketcall bind, listen, accept, accept4 on
 *                                  127.0.0.1:0; the i386 bind, listen, accept4
 *                                  calls on another; in a child i386 dup2 of
 *                                  a client socket onto 2. Prints
 *                                  compat.available=0 (and nothing else) when
 *                                  the kernel has no IA32 emulation
 *   eg_sys memfd NAME              memfd_create(NAME, MFD_CLOEXEC|MFD_ALLOW_SEALING)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/net.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#if defined(__x86_64__) || defined(__aarch64__)
#define SYS_fchmodat2 452
#endif
#endif
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

static const char *at_dir; /* --at DIR */
static int at_fd = AT_FDCWD;

/* The raw return value of a syscall(2) call, or -errno. */
static long res(long r)
{
	return r < 0 ? -(long)errno : r;
}

static void die(const char *what)
{
	fprintf(stderr, "eg_sys: failed to %s: %s\n", what, strerror(errno));
	exit(1);
}

static pid_t xfork(void)
{
	fflush(stdout);
	pid_t p = fork();
	if (p < 0)
		die("fork");
	return p;
}

/* Waits for child p; returns its exit status (128 + signal when killed). */
static int reap(pid_t p)
{
	int st;
	while (waitpid(p, &st, __WALL) < 0)
		if (errno != EINTR)
			die("waitpid");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- ptrace --------------------------------------------------------------- */

static volatile long ptrace_word = 0x6567737973L; /* "egsys", read by PEEKDATA */

static int m_ptrace(void)
{
	pid_t c = xfork();
	if (c == 0) {
		for (;;)
			pause();
	}
	printf("child.pid=%d\n", c);
	long r = res(syscall(SYS_ptrace, PTRACE_ATTACH, c, 0, 0));
	printf("ptrace_attach.target=%d\nptrace_attach.result=%ld\n", c, r);
	if (r == 0) {
		int st;
		waitpid(c, &st, __WALL); /* the attach SIGSTOP */
	}
	long word = 0;
	r = res(syscall(SYS_ptrace, PTRACE_PEEKDATA, c, (void *)&ptrace_word, &word));
	printf("ptrace_peekdata.target=%d\nptrace_peekdata.addr=%p\nptrace_peekdata.word=0x%lx\n"
	       "ptrace_peekdata.result=%ld\n",
	       c, (void *)&ptrace_word, word, r);
	r = res(syscall(SYS_ptrace, PTRACE_DETACH, c, 0, 0));
	printf("ptrace_detach.target=%d\nptrace_detach.result=%ld\n", c, r);
	kill(c, SIGKILL);
	reap(c);

	/* the tracee asks: PTRACE_TRACEME, then stops itself */
	c = xfork();
	if (c == 0) {
		long t = res(syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0));
		printf("ptrace_traceme.pid=%d\nptrace_traceme.result=%ld\n", getpid(), t);
		fflush(stdout);
		if (t == 0) /* stop for the tracer; an untraced stop would never be reported */
			raise(SIGSTOP);
		_exit(0);
	}
	int st;
	waitpid(c, &st, __WALL);
	if (WIFSTOPPED(st))
		syscall(SYS_ptrace, PTRACE_CONT, c, 0, 0);
	reap(c);
	return 0;
}

/* ---- modules -------------------------------------------------------------- */

static int m_finit_module(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open the module file");
	long r = res(syscall(SYS_finit_module, fd, "", 0));
	printf("finit_module.fd=%d\nfinit_module.path=%s\nfinit_module.params=\nfinit_module.flags=0\n"
	       "finit_module.result=%ld\n",
	       fd, path, r);
	close(fd);
	return 0;
}

static int m_init_module(void)
{
	static const char image[16] = "\177ELFegsysbogus";
	long r = res(syscall(SYS_init_module, image, sizeof(image), ""));
	printf("init_module.len=%zu\ninit_module.params=\ninit_module.result=%ld\n", sizeof(image), r);
	return 0;
}

static int m_delete_module(const char *name)
{
	long r = res(syscall(SYS_delete_module, name, O_NONBLOCK));
	printf("delete_module.name=%s\ndelete_module.flags=0x%x\ndelete_module.result=%ld\n", name,
	       O_NONBLOCK, r);
	return 0;
}

/* ---- bpf ------------------------------------------------------------------ */

static int m_bpf(void)
{
	struct bpf_insn insns[2] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0}, /* r0 = 0 */
		{.code = BPF_JMP | BPF_EXIT},                                          /* exit */
	};
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uint64_t)(uintptr_t)insns;
	a.insn_cnt = 2;
	a.license = (uint64_t)(uintptr_t) "GPL";
	strncpy(a.prog_name, "eg_sys_prog", sizeof(a.prog_name) - 1);
	long r = res(syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a)));
	printf("bpf_prog_load.cmd=%d\nbpf_prog_load.prog_type=%d\nbpf_prog_load.prog_name=eg_sys_prog\n"
	       "bpf_prog_load.insn_cnt=2\nbpf_prog_load.result=%ld\n",
	       BPF_PROG_LOAD, BPF_PROG_TYPE_SOCKET_FILTER, r);
	if (r >= 0)
		close((int)r);

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 8;
	a.max_entries = 1;
	strncpy(a.map_name, "eg_sys_map", sizeof(a.map_name) - 1);
	r = res(syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a)));
	printf("bpf_map_create.cmd=%d\nbpf_map_create.map_type=%d\nbpf_map_create.map_name=eg_sys_map\n"
	       "bpf_map_create.result=%ld\n",
	       BPF_MAP_CREATE, BPF_MAP_TYPE_ARRAY, r);
	if (r >= 0)
		close((int)r);
	return 0;
}

static long bpf_call(int cmd, union bpf_attr *a)
{
	return res(syscall(SYS_bpf, cmd, a, sizeof(*a)));
}

static int m_bpf_attach(void)
{
	struct bpf_insn insns[2] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0}, /* r0 = 0 */
		{.code = BPF_JMP | BPF_EXIT},                                          /* exit */
	};
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT;
	a.insns = (uint64_t)(uintptr_t)insns;
	a.insn_cnt = 2;
	a.license = (uint64_t)(uintptr_t) "GPL";
	strncpy(a.prog_name, "eg_sys_rtp", sizeof(a.prog_name) - 1);
	long prog = bpf_call(BPF_PROG_LOAD, &a);
	printf("bpf_prog_load.prog_type=%d\nbpf_prog_load.prog_name=eg_sys_rtp\nbpf_prog_load.result=%ld\n",
	       BPF_PROG_TYPE_RAW_TRACEPOINT, prog);

	memset(&a, 0, sizeof(a));
	a.raw_tracepoint.name = (uint64_t)(uintptr_t) "sys_enter";
	a.raw_tracepoint.prog_fd = (uint32_t)prog;
	long r = bpf_call(BPF_RAW_TRACEPOINT_OPEN, &a);
	printf("bpf_raw_tracepoint_open.name=sys_enter\nbpf_raw_tracepoint_open.prog_fd=%ld\n"
	       "bpf_raw_tracepoint_open.result=%ld\n",
	       prog, r);
	if (r >= 0)
		close((int)r);

	memset(&a, 0, sizeof(a));
	a.link_create.prog_fd = (uint32_t)prog;
	a.link_create.target_fd = (uint32_t)-1;
	a.link_create.attach_type = BPF_CGROUP_INET_INGRESS;
	r = bpf_call(BPF_LINK_CREATE, &a);
	printf("bpf_link_create.prog_fd=%ld\nbpf_link_create.target_fd=-1\nbpf_link_create.result=%ld\n",
	       prog, r);
	if (r >= 0)
		close((int)r);
	if (prog >= 0)
		close((int)prog);

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uint64_t)(uintptr_t)insns;
	a.insn_cnt = 0; /* EINVAL */
	a.license = (uint64_t)(uintptr_t) "GPL";
	strncpy(a.prog_name, "eg_sys_bad", sizeof(a.prog_name) - 1);
	r = bpf_call(BPF_PROG_LOAD, &a);
	printf("bpf_prog_load_1.prog_type=%d\nbpf_prog_load_1.prog_name=eg_sys_bad\n"
	       "bpf_prog_load_1.insn_cnt=0\nbpf_prog_load_1.result=%ld\n",
	       BPF_PROG_TYPE_SOCKET_FILTER, r);
	if (r >= 0)
		close((int)r);

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 8;
	a.max_entries = 0; /* EINVAL */
	strncpy(a.map_name, "eg_sys_badmap", sizeof(a.map_name) - 1);
	r = bpf_call(BPF_MAP_CREATE, &a);
	printf("bpf_map_create.map_type=%d\nbpf_map_create.map_name=eg_sys_badmap\n"
	       "bpf_map_create.max_entries=0\nbpf_map_create.result=%ld\n",
	       BPF_MAP_TYPE_ARRAY, r);
	if (r >= 0)
		close((int)r);
	return 0;
}

/* ---- set*id, capset ------------------------------------------------------- */

static void print_ids(const char *when)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	printf("%s.uid=%u,%u,%u\n%s.gid=%u,%u,%u\n", when, ru, eu, su, when, rg, eg, sg);
}

static int m_setid(void)
{
	pid_t c = xfork();
	if (c) {
		printf("child.pid=%d\n", c);
		return reap(c) ? 1 : 0;
	}
	print_ids("old");

	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	syscall(SYS_capget, &h, d);
	printf("capset.old_effective=0x%08x%08x\ncapset.old_permitted=0x%08x%08x\n", d[1].effective,
	       d[0].effective, d[1].permitted, d[0].permitted);
	d[0].effective &= ~(1u << CAP_NET_RAW);
	d[0].permitted &= ~(1u << CAP_NET_RAW);
	d[0].inheritable &= ~(1u << CAP_NET_RAW);
	long r = res(syscall(SYS_capset, &h, d));
	printf("capset.new_effective=0x%08x%08x\ncapset.new_permitted=0x%08x%08x\n"
	       "capset.new_inheritable=0x%08x%08x\ncapset.result=%ld\n",
	       d[1].effective, d[0].effective, d[1].permitted, d[0].permitted, d[1].inheritable,
	       d[0].inheritable, r);

	/* setfsuid returns the previous fsuid, never an error */
	r = syscall(SYS_setfsuid, 65534);
	printf("setfsuid.fsuid=65534\nsetfsuid.result=%ld\n", r);
	r = syscall(SYS_setfsuid, 0);
	printf("setfsuid_1.fsuid=0\nsetfsuid_1.result=%ld\n", r);

	r = res(syscall(SYS_setreuid, 0, 0));
	printf("setreuid.ruid=0\nsetreuid.euid=0\nsetreuid.result=%ld\n", r);
	r = res(syscall(SYS_setregid, 65534, 65534));
	printf("setregid.rgid=65534\nsetregid.egid=65534\nsetregid.result=%ld\n", r);
	r = res(syscall(SYS_setresgid, 65534, 65534, 65534));
	printf("setresgid.rgid=65534\nsetresgid.egid=65534\nsetresgid.sgid=65534\nsetresgid.result=%ld\n", r);
	r = res(syscall(SYS_setgid, 65534));
	printf("setgid.gid=65534\nsetgid.result=%ld\n", r);
	r = res(syscall(SYS_setresuid, 65534, 65534, 65534));
	printf("setresuid.ruid=65534\nsetresuid.euid=65534\nsetresuid.suid=65534\nsetresuid.result=%ld\n", r);
	r = res(syscall(SYS_setuid, 0));
	printf("setuid.uid=0\nsetuid.result=%ld\n", r);
	print_ids("new");
	fflush(stdout);
	_exit(0);
}

#if defined(__x86_64__)
static sigjmp_buf int80_jmp;

static void int80_fault(int sig)
{
	(void)sig;
	siglongjmp(int80_jmp, 1);
}

/* An i386 system call through int $0x80 (a compat call of this 64-bit
 * process); -1000 when it faulted (no IA32 emulation). */
static long int80(long nr, long a, long b, long c)
{
	struct sigaction sa = {.sa_handler = int80_fault}, old_segv;
	volatile long r = -1000;
	sigaction(SIGSEGV, &sa, &old_segv);
	if (!sigsetjmp(int80_jmp, 1)) {
		long ret;
		__asm__ volatile("int $0x80"
				 : "=a"(ret)
				 : "a"(nr), "b"(a), "c"(b), "d"(c)
				 : "memory", "cc", "r8", "r9", "r10", "r11");
		r = (long)(int)ret; /* eax, sign-extended: -errno */
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	return r;
}
#else
static long int80(long nr, long a, long b, long c)
{
	(void)nr, (void)a, (void)b, (void)c;
	return -1000;
}
#endif

static int m_setid_compat(void)
{
	pid_t c = xfork();
	if (c) {
		printf("child.pid=%d\n", c);
		return reap(c) ? 1 : 0;
	}
	/* version 1: one u32 per set; another process's: refused before use */
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_1, .pid = 1};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = 1u << CAP_NET_RAW;
	d[1].effective = 0xffffffff; /* past version 1's one set: not read */
	long r = res(syscall(SYS_capset, &h, d));
	printf("capset.version=0x%x\ncapset.target=1\ncapset.effective=0x%x\ncapset.result=%ld\n",
	       _LINUX_CAPABILITY_VERSION_1, d[0].effective, r);

	/* i386 numbers: setreuid16 70, setresgid16 170, setgid32 214, setuid16 23 */
	r = int80(70, 0xffff, 0, 0);
	printf("ia32=%d\n", r != -1000);
	if (r == -1000) {
		fflush(stdout);
		_exit(0);
	}
	printf("setreuid16.ruid=0xffff\nsetreuid16.euid=0\nsetreuid16.result=%ld\n", r);
	r = int80(170, 0xffff, 0xffff, 0xffff);
	printf("setresgid16.ids=0xffff\nsetresgid16.result=%ld\n", r);
	r = int80(214, 65534, 0, 0);
	printf("setgid32.gid=65534\nsetgid32.result=%ld\n", r);
	r = int80(23, 65534, 0, 0);
	printf("setuid16.uid=65534\nsetuid16.result=%ld\n", r);
	print_ids("new");
	fflush(stdout);
	_exit(0);
}

/* ---- namespaces ----------------------------------------------------------- */

static const struct {
	const char *name;
	unsigned long flag;
} ns_names[] = {
	{"mnt", CLONE_NEWNS},   {"uts", CLONE_NEWUTS},   {"ipc", CLONE_NEWIPC},
	{"net", CLONE_NEWNET},  {"pid", CLONE_NEWPID},   {"user", CLONE_NEWUSER},
	{"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};

static int m_unshare(const char *spec)
{
	unsigned long flags = 0;
	char *s = strdup(spec), *save = NULL;
	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t i;
		for (i = 0; i < sizeof(ns_names) / sizeof(ns_names[0]); i++)
			if (!strcmp(t, ns_names[i].name))
				break;
		if (i == sizeof(ns_names) / sizeof(ns_names[0])) {
			char *end;
			unsigned long v = strtoul(t, &end, 0);
			if (t[0] >= '0' && t[0] <= '9' && !*end) {
				flags |= v;
				continue;
			}
			fprintf(stderr, "eg_sys: unknown namespace %s\n", t);
			return 2;
		}
		flags |= ns_names[i].flag;
	}
	free(s);
	long r = res(syscall(SYS_unshare, flags));
	printf("unshare.flags=0x%lx\nunshare.names=%s\nunshare.result=%ld\n", flags, spec, r);
	return 0;
}

static int m_setns(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open the namespace file");
	long r = res(syscall(SYS_setns, fd, 0));
	printf("setns.fd=%d\nsetns.path=%s\nsetns.nstype=0\nsetns.result=%ld\n", fd, path, r);
	close(fd);
	return 0;
}

static int m_setns_pidfd(void)
{
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (fd < 0)
		die("pidfd_open");
	long r = res(syscall(SYS_setns, fd, CLONE_NEWUTS));
	printf("setns.fd=%d\nsetns.target=%d\nsetns.nstype=0x%x\nsetns.result=%ld\n", fd,
	       (int)getpid(), CLONE_NEWUTS, r);
	close(fd);
	return 0;
}

static int m_clone_ns(void)
{
	fflush(stdout);
	unsigned long flags = CLONE_NEWUTS | SIGCHLD;
	long r = res(syscall(SYS_clone, flags, 0, NULL, NULL, 0));
	if (r == 0)
		_exit(0);
	printf("clone.flags=0x%lx\nclone.result=%ld\n", flags, r);
	if (r > 0)
		reap((pid_t)r);

	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_NEWUTS;
	ca.exit_signal = SIGCHLD;
	fflush(stdout);
	r = res(syscall(SYS_clone3, &ca, sizeof(ca)));
	if (r == 0)
		_exit(0);
	printf("clone3.flags=0x%llx\nclone3.result=%ld\n", (unsigned long long)ca.flags, r);
	if (r > 0)
		reap((pid_t)r);
	return 0;
}

/* ---- mounts --------------------------------------------------------------- */

static int m_mount_tmpfs(const char *dir)
{
	long r = res(syscall(SYS_unshare, CLONE_NEWNS));
	printf("unshare.flags=0x%x\nunshare.result=%ld\n", CLONE_NEWNS, r);
	if (r)
		return 1;
	r = res(syscall(SYS_mount, NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	printf("mount.source=\nmount.target=/\nmount.fstype=\nmount.flags=0x%x\nmount.result=%ld\n",
	       MS_REC | MS_PRIVATE, r);
	if (r)
		return 1;
	r = res(syscall(SYS_mount, "eg-tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m"));
	printf("mount_1.source=eg-tmpfs\nmount_1.target=%s\nmount_1.fstype=tmpfs\nmount_1.flags=0x%x\n"
	       "mount_1.data=size=1m\nmount_1.result=%ld\n",
	       dir, MS_NOSUID | MS_NODEV, r);
	r = res(syscall(SYS_umount2, dir, 0));
	printf("umount2.target=%s\numount2.flags=0\numount2.result=%ld\n", dir, r);

	/* the new mount API */
	long fs = res(syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC));
	printf("fsopen.fstype=tmpfs\nfsopen.flags=0x%x\nfsopen.result=%ld\n", FSOPEN_CLOEXEC, fs);
	if (fs < 0)
		return 0;
	r = res(syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", "1m", 0));
	printf("fsconfig.cmd=%d\nfsconfig.key=size\nfsconfig.value=1m\nfsconfig.result=%ld\n",
	       FSCONFIG_SET_STRING, r);
	r = res(syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	printf("fsconfig_1.cmd=%d\nfsconfig_1.result=%ld\n", FSCONFIG_CMD_CREATE, r);
	long mfd = res(syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0));
	printf("fsmount.fs_fd=%ld\nfsmount.flags=0x%x\nfsmount.attr=0\nfsmount.result=%ld\n", fs,
	       FSMOUNT_CLOEXEC, mfd);
	close((int)fs);
	if (mfd < 0)
		return 0;
	r = res(syscall(SYS_move_mount, mfd, "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH));
	printf("move_mount.from_fd=%ld\nmove_mount.to=%s\nmove_mount.flags=0x%x\nmove_mount.result=%ld\n",
	       mfd, dir, MOVE_MOUNT_F_EMPTY_PATH, r);
	close((int)mfd);
	if (r == 0) {
		r = res(syscall(SYS_umount2, dir, 0));
		printf("umount2_1.target=%s\numount2_1.flags=0\numount2_1.result=%ld\n", dir, r);
	}
	return 0;
}

#ifndef MOUNT_ATTR_NOSYMFOLLOW
#define MOUNT_ATTR_NOSYMFOLLOW 0x00200000
#endif

/* Mount calls that fail: nothing is mounted whatever the daemon does. */
static int m_mount_fail(const char *path)
{
	unsigned long flags = 0xc0ed0000UL | MS_RDONLY | MS_NOSUID;
	long r = res(syscall(SYS_mount, "eg-src", path, "tmpfs", flags, NULL));
	printf("mount.source=eg-src\nmount.target=%s\nmount.fstype=tmpfs\nmount.flags=0x%lx\n"
	       "mount.result=%ld\n",
	       path, flags, r);
	r = res(syscall(SYS_umount2, path, MNT_DETACH | UMOUNT_NOFOLLOW));
	printf("umount2.target=%s\numount2.flags=0x%x\numount2.result=%ld\n", path,
	       MNT_DETACH | UMOUNT_NOFOLLOW, r);
	r = res(syscall(SYS_move_mount, AT_FDCWD, path, AT_FDCWD, "/", 0));
	printf("move_mount.from=%s\nmove_mount.to=/\nmove_mount.flags=0\nmove_mount.result=%ld\n",
	       path, r);
	r = res(syscall(SYS_move_mount, AT_FDCWD, "/", AT_FDCWD, path, 0));
	printf("move_mount_1.from=/\nmove_mount_1.to=%s\nmove_mount_1.flags=0\n"
	       "move_mount_1.result=%ld\n",
	       path, r);
	unsigned attr = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOATIME | MOUNT_ATTR_NOSYMFOLLOW;
	r = res(syscall(SYS_fsmount, -1, 0, attr));
	printf("fsmount.fs_fd=-1\nfsmount.flags=0\nfsmount.attr=0x%x\nfsmount.result=%ld\n", attr, r);
	return 0;
}

/* ---- 32-bit system calls from this 64-bit process ------------------------ */

/* i386 numbers */
#define IA32_GETPID 20
#define IA32_MOUNT 21
#define IA32_UMOUNT2 52
#define IA32_CLONE 120
#define IA32_UNSHARE 310

/* int80() with five arguments (mount). */
static long int80_5(long nr, long a, long b, long c, long d, long e)
{
#if defined(__x86_64__)
	struct sigaction sa = {.sa_handler = int80_fault}, old_segv;
	volatile long r = -1000;
	sigaction(SIGSEGV, &sa, &old_segv);
	if (!sigsetjmp(int80_jmp, 1)) {
		long ret;
		__asm__ volatile("int $0x80"
				 : "=a"(ret)
				 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
				 : "memory", "cc", "r8", "r9", "r10", "r11");
		r = (long)(int)ret; /* eax, sign-extended: -errno */
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	return r;
#else
	(void)nr, (void)a, (void)b, (void)c, (void)d, (void)e;
	return -1000;
#endif
}

#ifndef MAP_32BIT
#define MAP_32BIT 0
#endif

/* A copy of s below 4 GiB (a 32-bit pointer). */
static long low_str(const char *s)
{
	static char *page;
	static size_t used;
	size_t n = strlen(s) + 1;

	if (!page) {
		page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
			    -1, 0);
		if (page == MAP_FAILED || (uintptr_t)page >= (1ULL << 32))
			die("mmap MAP_32BIT");
	}
	if (used + n > 4096) {
		errno = ENAMETOOLONG;
		die("place a string below 4 GiB");
	}
	memcpy(page + used, s, n);
	used += n;
	return (long)(uintptr_t)(page + used - n);
}

static int m_ns_mount_compat(const char *path)
{
	if (int80(IA32_GETPID, 0, 0, 0) != getpid()) {
		printf("compat.unavailable=1\n");
		return 0;
	}
	long r = int80(IA32_UNSHARE, CLONE_NEWUTS, 0, 0);
	printf("unshare.flags=0x%x\nunshare.result=%ld\n", CLONE_NEWUTS, r);
	unsigned long flags = CLONE_NEWUTS | SIGCHLD;
	fflush(stdout);
	/* no new stack: the child returns on a copy of this one, as from fork */
	r = int80(IA32_CLONE, (long)flags, 0, 0);
	if (r == 0)
		_exit(0);
	printf("clone.flags=0x%lx\nclone.result=%ld\n", flags, r);
	if (r > 0)
		reap((pid_t)r);
	long p = low_str(path), src = low_str("eg-src32"), type = low_str("tmpfs");
	r = int80_5(IA32_MOUNT, src, p, type, MS_NOEXEC, 0);
	printf("mount.source=eg-src32\nmount.target=%s\nmount.fstype=tmpfs\nmount.flags=0x%x\n"
	       "mount.result=%ld\n",
	       path, MS_NOEXEC, r);
	r = int80(IA32_UMOUNT2, p, MNT_FORCE, 0);
	printf("umount2.target=%s\numount2.flags=0x%x\numount2.result=%ld\n", path, MNT_FORCE, r);
	return 0;
}

/* ---- links, renames, unlinks ---------------------------------------------- */

/* Prints the dirfd line of an *at call when --at was given. */
static void print_at(const char *call)
{
	if (at_dir)
		printf("%s.dirfd=%d\n%s.dir=%s\n", call, at_fd, call, at_dir);
}

static int m_paths(const char *mode, int argc, char **argv)
{
	const char *a = argv[0], *b = argc > 1 ? argv[1] : NULL;
	const char *call;
	long r;
	int two = strcmp(mode, "unlink") && strcmp(mode, "rmdir");
	if (two && !b) {
		fprintf(stderr, "eg_sys: %s needs OLD NEW\n", mode);
		return 2;
	}
	if (!strcmp(mode, "symlink")) {
		call = at_dir ? "symlinkat" : "symlink";
		r = at_dir ? syscall(SYS_symlinkat, a, at_fd, b) : syscall(SYS_symlink, a, b);
	} else if (!strcmp(mode, "link")) {
		call = at_dir ? "linkat" : "link";
		r = at_dir ? syscall(SYS_linkat, at_fd, a, at_fd, b, 0) : syscall(SYS_link, a, b);
	} else if (!strcmp(mode, "rename")) {
		call = at_dir ? "renameat" : "rename";
		r = at_dir ? syscall(SYS_renameat, at_fd, a, at_fd, b) : syscall(SYS_rename, a, b);
	} else if (!strcmp(mode, "renameat2")) {
		call = "renameat2";
		r = syscall(SYS_renameat2, at_fd, a, at_fd, b, RENAME_NOREPLACE);
	} else if (!strcmp(mode, "unlink")) {
		call = at_dir ? "unlinkat" : "unlink";
		r = at_dir ? syscall(SYS_unlinkat, at_fd, a, 0) : syscall(SYS_unlink, a);
	} else {
		call = at_dir ? "unlinkat" : "rmdir";
		r = at_dir ? syscall(SYS_unlinkat, at_fd, a, AT_REMOVEDIR) : syscall(SYS_rmdir, a);
	}
	r = res(r);
	print_at(call);
	if (two)
		printf("%s.old=%s\n%s.new=%s\n", call, a, call, b);
	else
		printf("%s.path=%s\n", call, a);
	if (!strcmp(mode, "renameat2"))
		printf("renameat2.flags=0x%x\n", RENAME_NOREPLACE);
	if (at_dir && !strcmp(mode, "rmdir"))
		printf("unlinkat.flags=0x%x\n", AT_REMOVEDIR);
	else if (at_dir && !strcmp(mode, "unlink"))
		printf("unlinkat.flags=0x0\n");
	printf("%s.result=%ld\n", call, r);
	return 0;
}

/* ---- chmod ---------------------------------------------------------------- */

static void print_mode(const char *call, const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0)
		printf("%s.mode_after=%04o\n", call, (unsigned)(st.st_mode & 07777));
}

static int m_chmod_suid(const char *path, int rm)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		die("create the file");
	fchmod(fd, 0644); /* whatever the umask: a known start (not reported) */
	print_mode("create", path);
	long r = res(syscall(SYS_chmod, path, 04755));
	printf("chmod.path=%s\nchmod.mode=04755\nchmod.result=%ld\n", path, r);
	print_mode("chmod", path);
	r = res(syscall(SYS_fchmod, fd, 06755));
	printf("fchmod.fd=%d\nfchmod.path=%s\nfchmod.mode=06755\nfchmod.result=%ld\n", fd, path, r);
	print_mode("fchmod", path);
	r = res(syscall(SYS_fchmodat, AT_FDCWD, path, 0755));
	printf("fchmodat.dirfd=AT_FDCWD\nfchmodat.path=%s\nfchmodat.mode=0755\nfchmodat.result=%ld\n", path, r);
	print_mode("fchmodat", path);
#ifdef SYS_fchmodat2
	r = res(syscall(SYS_fchmodat2, AT_FDCWD, path, 02755, 0));
	printf("fchmodat2.dirfd=AT_FDCWD\nfchmodat2.path=%s\nfchmodat2.mode=02755\nfchmodat2.flags=0\n"
	       "fchmodat2.result=%ld\n",
	       path, r);
	print_mode("fchmodat2", path);
#endif
	close(fd);
	if (rm && unlink(path))
		die("remove the file");
	return 0;
}

/* ---- sockets -------------------------------------------------------------- */

static int listener4(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 8) ||
	    getsockname(s, (struct sockaddr *)&a, &l))
		die("start the IPv4 listener");
	*port = ntohs(a.sin_port);
	return s;
}

static int m_dup_socket(int port)
{
	int ls = -1;
	uint16_t p = (uint16_t)port;
	if (!port)
		ls = listener4(&p);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(p),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)))
		die("connect to the listener");
	struct sockaddr_in me;
	socklen_t l = sizeof(me);
	getsockname(s, (struct sockaddr *)&me, &l);
	printf("socket.fd=%d\nsocket.local=127.0.0.1:%u\nsocket.peer=127.0.0.1:%u\n", s,
	       ntohs(me.sin_port), p);
	int peer = ls >= 0 ? accept4(ls, NULL, NULL, SOCK_CLOEXEC) : -1;

	pid_t c = xfork();
	if (c == 0) {
		/* report through a copy of stdout made with fcntl (not a dup* call) */
		int out = fcntl(1, F_DUPFD_CLOEXEC, 200);
		FILE *o = out >= 0 ? fdopen(out, "w") : NULL;
		if (!o)
			_exit(1);
		setvbuf(o, NULL, _IOLBF, 0);
		long r[8];
		r[0] = res(syscall(SYS_dup2, s, 0));
		r[1] = res(syscall(SYS_dup2, s, 1));
		r[2] = res(syscall(SYS_dup2, s, 2));
		r[3] = res(syscall(SYS_dup2, s, 100));
		r[4] = res(syscall(SYS_dup3, s, 2, O_CLOEXEC));
		r[5] = res(syscall(SYS_dup2, 999, 0));
		close(0);
		r[6] = res(syscall(SYS_dup, s));
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		r[7] = res(syscall(SYS_dup2, null, 1));
		fprintf(o, "dup2.pid=%d\ndup2.oldfd=%d\ndup2.newfd=0\ndup2.result=%ld\n", getpid(), s, r[0]);
		fprintf(o, "dup2_1.pid=%d\ndup2_1.oldfd=%d\ndup2_1.newfd=1\ndup2_1.result=%ld\n", getpid(), s,
			r[1]);
		fprintf(o, "dup2_2.pid=%d\ndup2_2.oldfd=%d\ndup2_2.newfd=2\ndup2_2.result=%ld\n", getpid(), s,
			r[2]);
		fprintf(o, "dup2_3.pid=%d\ndup2_3.oldfd=%d\ndup2_3.newfd=100\ndup2_3.result=%ld\n", getpid(),
			s, r[3]);
		fprintf(o, "dup3.pid=%d\ndup3.oldfd=%d\ndup3.newfd=2\ndup3.flags=0x%x\ndup3.result=%ld\n",
			getpid(), s, O_CLOEXEC, r[4]);
		fprintf(o, "dup2_4.pid=%d\ndup2_4.oldfd=999\ndup2_4.newfd=0\ndup2_4.result=%ld\n", getpid(), r[5]);
		fprintf(o, "dup.pid=%d\ndup.oldfd=%d\ndup.result=%ld\n", getpid(), s, r[6]);
		fprintf(o, "dup2_5.pid=%d\ndup2_5.oldfd=%d\ndup2_5.path=/dev/null\ndup2_5.newfd=1\n"
			"dup2_5.result=%ld\n", getpid(), null, r[7]);
		fclose(o);
		_exit(0);
	}
	printf("child.pid=%d\n", c);
	int st = reap(c);
	close(s);
	if (peer >= 0)
		close(peer);
	if (ls >= 0)
		close(ls);
	return st ? 1 : 0;
}

static int m_bind_listen_accept(void)
{
	/* IPv4 */
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a4);
	int s4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s4 < 0)
		die("create an IPv4 socket");
	long r = res(syscall(SYS_bind, s4, &a4, sizeof(a4)));
	getsockname(s4, (struct sockaddr *)&a4, &l);
	printf("bind.fd=%d\nbind.addr=127.0.0.1\nbind.port=%u\nbind.result=%ld\n", s4, ntohs(a4.sin_port), r);
	r = res(syscall(SYS_listen, s4, 8));
	printf("listen.fd=%d\nlisten.backlog=8\nlisten.result=%ld\n", s4, r);
	int c4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c4 < 0 || connect(c4, (struct sockaddr *)&a4, sizeof(a4)))
		die("connect over IPv4");
	struct sockaddr_in p4;
	l = sizeof(p4);
	getsockname(c4, (struct sockaddr *)&p4, &l);
	struct sockaddr_in got4;
	l = sizeof(got4);
	r = res(syscall(SYS_accept, s4, &got4, &l));
	printf("accept.fd=%d\naccept.local=127.0.0.1:%u\naccept.peer=127.0.0.1:%u\naccept.result=%ld\n", s4,
	       ntohs(a4.sin_port), ntohs(p4.sin_port), r);
	if (r >= 0)
		close((int)r);
	close(c4);
	close(s4);

	/* IPv6 */
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	l = sizeof(a6);
	int s6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s6 < 0)
		die("create an IPv6 socket");
	r = res(syscall(SYS_bind, s6, &a6, sizeof(a6)));
	getsockname(s6, (struct sockaddr *)&a6, &l);
	printf("bind_1.fd=%d\nbind_1.addr=::1\nbind_1.port=%u\nbind_1.result=%ld\n", s6, ntohs(a6.sin6_port),
	       r);
	r = res(syscall(SYS_listen, s6, 8));
	printf("listen_1.fd=%d\nlisten_1.backlog=8\nlisten_1.result=%ld\n", s6, r);
	int c6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c6 < 0 || connect(c6, (struct sockaddr *)&a6, sizeof(a6)))
		die("connect over IPv6");
	struct sockaddr_in6 p6;
	l = sizeof(p6);
	getsockname(c6, (struct sockaddr *)&p6, &l);
	struct sockaddr_in6 got6;
	l = sizeof(got6);
	r = res(syscall(SYS_accept4, s6, &got6, &l, SOCK_CLOEXEC));
	printf("accept4.fd=%d\naccept4.local=[::1]:%u\naccept4.peer=[::1]:%u\naccept4.flags=0x%x\n"
	       "accept4.result=%ld\n",
	       s6, ntohs(a6.sin6_port), ntohs(p6.sin6_port), SOCK_CLOEXEC, r);
	if (r >= 0)
		close((int)r);
	close(c6);
	close(s6);

	/* a Unix socket's bind (abstract name) and a netlink socket's */
	struct sockaddr_un au = {.sun_family = AF_UNIX};
	int n = snprintf(au.sun_path + 1, sizeof(au.sun_path) - 1, "eg_sys.%d", (int)getpid());
	int su = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (su < 0)
		die("create a Unix socket");
	r = res(syscall(SYS_bind, su, &au, offsetof(struct sockaddr_un, sun_path) + 1 + n));
	printf("bind_2.fd=%d\nbind_2.family=unix\nbind_2.result=%ld\n", su, r);
	close(su);
	struct sockaddr_nl an = {.nl_family = AF_NETLINK};
	int sn = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (sn < 0)
		die("create a netlink socket");
	r = res(syscall(SYS_bind, sn, &an, sizeof(an)));
	printf("bind_3.fd=%d\nbind_3.family=netlink\nbind_3.result=%ld\n", sn, r);
	close(sn);

	/* listen without bind: the kernel binds 0.0.0.0 and a port of its own;
	 * accept with nothing waiting on the non-blocking socket: EAGAIN */
	int sl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sl < 0)
		die("create an IPv4 socket");
	r = res(syscall(SYS_listen, sl, 4));
	l = sizeof(a4);
	getsockname(sl, (struct sockaddr *)&a4, &l);
	uint16_t lport = ntohs(a4.sin_port);
	printf("listen_2.fd=%d\nlisten_2.backlog=4\nlisten_2.addr=0.0.0.0\nlisten_2.port=%u\n"
	       "listen_2.result=%ld\n",
	       sl, lport, r);
	r = res(syscall(SYS_accept, sl, NULL, NULL));
	printf("accept_1.fd=%d\naccept_1.result=%ld\n", sl, r);
	/* a bind onto that port: EADDRINUSE; accept on a socket not listening:
	 * EINVAL */
	struct sockaddr_in in_use = {.sin_family = AF_INET, .sin_port = htons(lport),
				     .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int st = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (st < 0)
		die("create an IPv4 socket");
	r = res(syscall(SYS_bind, st, &in_use, sizeof(in_use)));
	printf("bind_4.fd=%d\nbind_4.addr=127.0.0.1\nbind_4.port=%u\nbind_4.result=%ld\n", st, lport, r);
	r = res(syscall(SYS_accept4, st, NULL, NULL, 0));
	printf("accept4_1.fd=%d\naccept4_1.flags=0x0\naccept4_1.result=%ld\n", st, r);
	close(st);
	close(sl);
	return 0;
}

/* ---- 32-bit socket calls --------------------------------------------------- */

/* i386 numbers */
#define IA32_DUP2 63
#define IA32_SOCKETCALL 102
#define IA32_BIND 361
#define IA32_LISTEN 363
#define IA32_ACCEPT4 364

/* Whether int $0x80 works here (a 32-bit getpid answers). */
static int ia32_works(void)
{
	return int80(IA32_GETPID, 0, 0, 0) == getpid();
}

/* A client connected to 127.0.0.1:port; its local port in *me. */
static int client4(uint16_t port, uint16_t *me)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(c, (struct sockaddr *)&a, &l))
		die("connect to 127.0.0.1");
	*me = ntohs(a.sin_port);
	return c;
}

static uint16_t port_of(int s)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	if (getsockname(s, (struct sockaddr *)&a, &l))
		die("getsockname");
	return ntohs(a.sin_port);
}

static int m_compat_net(void)
{
	if (!ia32_works()) {
		printf("compat.available=0\n");
		return 0;
	}
	printf("compat.available=1\n");
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (p == MAP_FAILED || (uintptr_t)p >= (1ULL << 32))
		die("map a page below 4 GiB");
	struct sockaddr_in *a = (struct sockaddr_in *)p;
	uint32_t *args = (uint32_t *)(p + 256); /* socketcall's argument array */
	uint16_t port, me;
	long r;

	/* socketcall(2) */
	*a = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		die("create an IPv4 socket");
	args[0] = (uint32_t)s;
	args[1] = (uint32_t)(uintptr_t)a;
	args[2] = sizeof(*a);
	r = int80_5(IA32_SOCKETCALL, SYS_BIND, (long)(uintptr_t)args, 0, 0, 0);
	printf("bind.fd=%d\nbind.via=socketcall\nbind.addr=127.0.0.1\nbind.port=0\nbind.result=%ld\n", s, r);
	args[1] = 5;
	r = int80_5(IA32_SOCKETCALL, SYS_LISTEN, (long)(uintptr_t)args, 0, 0, 0);
	port = port_of(s);
	printf("listen.fd=%d\nlisten.via=socketcall\nlisten.backlog=5\nlisten.port=%u\nlisten.result=%ld\n",
	       s, port, r);
	int c1 = client4(port, &me);
	args[1] = args[2] = 0;
	r = int80_5(IA32_SOCKETCALL, SYS_ACCEPT, (long)(uintptr_t)args, 0, 0, 0);
	printf("accept.fd=%d\naccept.via=socketcall\naccept.local=127.0.0.1:%u\naccept.peer=127.0.0.1:%u\n"
	       "accept.result=%ld\n",
	       s, port, me, r);
	if (r >= 0)
		close((int)r);
	int c2 = client4(port, &me);
	args[3] = SOCK_CLOEXEC;
	r = int80_5(IA32_SOCKETCALL, SYS_ACCEPT4, (long)(uintptr_t)args, 0, 0, 0);
	printf("accept4.fd=%d\naccept4.via=socketcall\naccept4.local=127.0.0.1:%u\n"
	       "accept4.peer=127.0.0.1:%u\naccept4.result=%ld\n",
	       s, port, me, r);
	if (r >= 0)
		close((int)r);
	close(c2);

	/* the i386 calls of their own */
	int s2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s2 < 0)
		die("create an IPv4 socket");
	r = int80_5(IA32_BIND, s2, (long)(uintptr_t)a, sizeof(*a), 0, 0);
	printf("bind_1.fd=%d\nbind_1.via=i386\nbind_1.addr=127.0.0.1\nbind_1.port=0\nbind_1.result=%ld\n", s2,
	       r);
	r = int80_5(IA32_LISTEN, s2, 3, 0, 0, 0);
	uint16_t port2 = port_of(s2);
	printf("listen_1.fd=%d\nlisten_1.via=i386\nlisten_1.backlog=3\nlisten_1.port=%u\nlisten_1.result=%ld\n",
	       s2, port2, r);
	int c3 = client4(port2, &me);
	r = int80_5(IA32_ACCEPT4, s2, 0, 0, 0, 0);
	printf("accept4_1.fd=%d\naccept4_1.via=i386\naccept4_1.local=127.0.0.1:%u\n"
	       "accept4_1.peer=127.0.0.1:%u\naccept4_1.result=%ld\n",
	       s2, port2, me, r);
	if (r >= 0)
		close((int)r);
	close(c3);
	close(s2);

	/* i386 dup2 of a client socket onto stderr, in a child */
	pid_t c = xfork();
	if (c == 0) {
		r = int80_5(IA32_DUP2, c1, 2, 0, 0, 0);
		printf("dup2.pid=%d\ndup2.via=i386\ndup2.oldfd=%d\ndup2.newfd=2\ndup2.peer=127.0.0.1:%u\n"
		       "dup2.result=%ld\n",
		       getpid(), c1, port, r);
		fflush(stdout);
		_exit(0);
	}
	int st = reap(c);
	close(c1);
	close(s);
	munmap(p, 4096);
	return st ? 1 : 0;
}

static int m_memfd(const char *name)
{
	unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	long r = res(syscall(SYS_memfd_create, name, flags));
	printf("memfd_create.name=%s\nmemfd_create.flags=0x%x\nmemfd_create.result=%ld\n", name, flags, r);
	if (r >= 0)
		close((int)r);
	return 0;
}

/* -------------------------------------------------------------------------- */

static int usage(void)
{
	fprintf(stderr,
		"usage: eg_sys [--at DIR] MODE [ARG...]\n"
		"modes: ptrace-child | finit-module PATH | init-module | delete-module NAME |\n"
		"       bpf-prog | bpf-attach | setid | setid-compat |\n"
		"       unshare mnt,uts,ipc,net,pid,user,cgroup,time |\n"
		"       setns PATH | setns-pidfd | clone-ns | mount-tmpfs DIR | mount-fail PATH |\n"
		"       ns-mount-compat PATH | symlink OLD NEW | link OLD NEW |\n"
		"       rename OLD NEW | renameat2 OLD NEW | unlink PATH | rmdir PATH |\n"
		"       chmod-suid PATH [rm] | dup-socket [PORT] | bind-listen-accept | compat-net |\n"
		"       memfd NAME\n"
		"(--at DIR: the *at call, dirfd = open(DIR), for symlink link rename renameat2 unlink rmdir)\n");
	return 2;
}

int main(int argc, char **argv)
{
	alarm(10);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2 && !strcmp(argv[1], "--at")) {
		at_dir = argv[2];
		at_fd = open(at_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (at_fd < 0)
			die("open the --at directory");
		argc -= 2;
		argv += 2;
	}
	if (argc < 2)
		return usage();
	const char *m = argv[1];
	int n = argc - 2;
	char **a = argv + 2;
	printf("pid=%d\n", getpid());
	if (!strcmp(m, "ptrace-child"))
		return m_ptrace();
	if (!strcmp(m, "finit-module") && n == 1)
		return m_finit_module(a[0]);
	if (!strcmp(m, "init-module"))
		return m_init_module();
	if (!strcmp(m, "delete-module") && n == 1)
		return m_delete_module(a[0]);
	if (!strcmp(m, "bpf-prog"))
		return m_bpf();
	if (!strcmp(m, "bpf-attach"))
		return m_bpf_attach();
	if (!strcmp(m, "setid"))
		return m_setid();
	if (!strcmp(m, "setid-compat"))
		return m_setid_compat();
	if (!strcmp(m, "unshare") && n == 1)
		return m_unshare(a[0]);
	if (!strcmp(m, "setns") && n == 1)
		return m_setns(a[0]);
	if (!strcmp(m, "setns-pidfd"))
		return m_setns_pidfd();
	if (!strcmp(m, "clone-ns"))
		return m_clone_ns();
	if (!strcmp(m, "mount-tmpfs") && n == 1)
		return m_mount_tmpfs(a[0]);
	if (!strcmp(m, "mount-fail") && n == 1)
		return m_mount_fail(a[0]);
	if (!strcmp(m, "ns-mount-compat") && n == 1)
		return m_ns_mount_compat(a[0]);
	if ((!strcmp(m, "symlink") || !strcmp(m, "link") || !strcmp(m, "rename") ||
	     !strcmp(m, "renameat2")) &&
	    n == 2)
		return m_paths(m, n, a);
	if ((!strcmp(m, "unlink") || !strcmp(m, "rmdir")) && n == 1)
		return m_paths(m, n, a);
	if (!strcmp(m, "chmod-suid") && (n == 1 || (n == 2 && !strcmp(a[1], "rm"))))
		return m_chmod_suid(a[0], n == 2);
	if (!strcmp(m, "dup-socket") && n <= 1)
		return m_dup_socket(n ? atoi(a[0]) : 0);
	if (!strcmp(m, "bind-listen-accept"))
		return m_bind_listen_accept();
	if (!strcmp(m, "compat-net"))
		return m_compat_net();
	if (!strcmp(m, "memfd") && n == 1)
		return m_memfd(a[0]);
	return usage();
}
