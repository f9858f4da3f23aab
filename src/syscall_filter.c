/* SPDX-License-Identifier: MIT */
/*
 * The daemon's seccomp filter, installed once the daemon runs (after the
 * probes are attached; before a replay starts): an allow list of the system
 * calls it makes from then on, in every mode and thread (event loop, reload
 * builder, metrics server, probe detach at exit). Everything else traps:
 * the SIGSYS handler names the call on stderr, then the process dies of
 * SIGSYS, so nothing the list leaves out ever runs and the log says what it
 * was. docs/operations.md, "Hardening", has the list's rationale.
 *
 * Not allowed, among others: execve/execveat, fork (clone without
 * CLONE_THREAD), socket/connect/bind/listen (socket, connect and bind are
 * when the webhook output is on: eg_syscall_filter_allow_network; an AF_UNIX
 * datagram socket for sd_notify when NOTIFY_SOCKET is set), ptrace,
 * process_vm_*, mount,
 * setuid and friends, capset, prctl, kill (other than the process's own
 * threads; with -enforce, SIGKILL through a pidfd:
 * eg_syscall_filter_allow_kill), module and kexec calls, keyctl,
 * userfaultfd; bpf and perf_event_open in replay mode; ioctl other than the
 * perf-event ones.
 */
#include "syscall_filter.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <seccomp.h>

/* Both modes. */
static const char *const common[] = {
	/* files: alert and record writes, reopen, rule files at reload */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "lseek", "close",
	"open", "openat", "fstat", "newfstatat", "stat", "lstat", "statx", "fcntl",
	"ftruncate", "getdents64", "readlink", "readlinkat", "access", "faccessat",
	"faccessat2", "dup", "dup3", "getcwd",
	/* -watch: the new -config paths of a settings reload */
	"inotify_init1", "inotify_add_watch",
	/* memory: malloc, LuaJIT (and its JIT), PCRE2's JIT */
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk",
	/* threads (clone is further down), locks, exit */
	"futex", "set_robust_list", "rseq", "sched_yield", "sched_getaffinity", "exit",
	"exit_group", "gettid", "getpid", "getppid",
	/* signals */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall",
	/* time */
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
	/* the metrics server's sockets (accepted, never created) and its event loop */
	"accept", "accept4", "recvfrom", "recvmsg", "sendto", "sendmsg", "sendfile", "shutdown",
	"setsockopt", "getsockopt", "getsockname", "getpeername", "epoll_wait", "epoll_pwait",
	"epoll_pwait2", "epoll_ctl", "poll", "ppoll", "select", "pselect6",
	/* identity and limits (the configuration check at reload, glibc, LuaJIT) */
	"getuid", "geteuid", "getgid", "getegid", "getrandom", "uname", "prlimit64",
	"getrlimit", "getrusage", "capget",
};

/* Live mode: attach and detach probes, read the drop counters. */
static const char *const live_only[] = {"bpf", "perf_event_open"};

/* eg_syscall_filter_allow_network, eg_syscall_filter_allow_kill */
static bool network, killing;

void eg_syscall_filter_allow_network(bool on)
{
	network = on;
}

void eg_syscall_filter_allow_kill(bool on)
{
	killing = on;
}

/* Names by system call number, resolved before the filter is installed, so
 * that the SIGSYS handler can print them without calling anything unsafe. */
#define NAMES_MAX 1024
static const char *names[NAMES_MAX];

static char *put_str(char *d, const char *end, const char *s)
{
	while (*s && d < end)
		*d++ = *s++;
	return d;
}

static char *put_num(char *d, const char *end, long v)
{
	char tmp[24];
	int n = 0;
	unsigned long u = v < 0 ? 0ul - (unsigned long)v : (unsigned long)v;
	do
		tmp[n++] = (char)('0' + u % 10);
	while ((u /= 10) && n < (int)sizeof(tmp));
	if (v < 0 && d < end)
		*d++ = '-';
	while (n && d < end)
		*d++ = tmp[--n];
	return d;
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	char buf[512], *d = buf, *end = buf + sizeof(buf);
	int nr = si->si_syscall;
	d = put_str(d, end, "ebpf-guard: system call ");
	d = put_num(d, end, nr);
	d = put_str(d, end, " (");
	d = put_str(d, end, nr >= 0 && nr < NAMES_MAX && names[nr] ? names[nr] : "?");
	d = put_str(d, end, ") refused by the seccomp filter in thread ");
	d = put_num(d, end, (long)syscall(SYS_gettid));
	d = put_str(d, end, ": this is a bug, please report it; -no-seccomp runs without the "
			    "filter\n");
	ssize_t w = write(STDERR_FILENO, buf, (size_t)(d - buf));
	(void)w;
	/* SA_RESETHAND made SIGSYS's action the default again (core dump):
	 * delivered when this handler returns. */
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
}

static int allow(scmp_filter_ctx ctx, const char *name, size_t *n, unsigned cnt,
		 const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return 0; /* not on this architecture (open, stat... on arm64) */
	int rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, cnt, cmp);
	if (rc == 0)
		(*n)++;
	return rc == -EEXIST ? 0 : rc;
}

int eg_syscall_filter_install(bool live, size_t *nallowed, char *err, size_t errlen)
{
	size_t n = 0;
	int rc = 0;
	const char *what = "seccomp_init";
	for (int i = 0; i < NAMES_MAX; i++)
		if (!names[i])
			names[i] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, i);

	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO | SA_RESETHAND};
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL)) {
		snprintf(err, errlen, "cannot install the seccomp filter: sigaction: %s",
			 strerror(errno));
		return -1;
	}
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		rc = -ENOMEM;
		goto out;
	}
	what = "seccomp_attr_set";
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)))
		goto out;
	what = "seccomp_rule_add";
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		if ((rc = allow(ctx, common[i], &n, 0, NULL)))
			goto out;
	if (live)
		for (size_t i = 0; i < sizeof(live_only) / sizeof(live_only[0]); i++)
			if ((rc = allow(ctx, live_only[i], &n, 0, NULL)))
				goto out;
	/* threads only: no fork. glibc's pthread_create tries clone3 first, whose
	 * flags a filter cannot see: ENOSYS makes it use clone. */
	struct scmp_arg_cmp thread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
	if ((rc = allow(ctx, "clone", &n, 1, &thread)))
		goto out;
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) && rc != -EEXIST)
		goto out;
	if (network) {
		static const int families[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK};
		size_t more = 0; /* socket counts once */
		for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
			struct scmp_arg_cmp fam = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]);
			if ((rc = allow(ctx, "socket", i ? &more : &n, 1, &fam)))
				goto out;
		}
		struct scmp_arg_cmp unix_only = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)AF_UNIX);
		if ((rc = allow(ctx, "socketpair", &n, 1, &unix_only)) ||
		    (rc = allow(ctx, "connect", &n, 0, NULL)) || (rc = allow(ctx, "bind", &n, 0, NULL)) ||
		    /* glibc's DNS client sends the A and AAAA queries in one call */
		    (rc = allow(ctx, "sendmmsg", &n, 0, NULL)) || (rc = allow(ctx, "recvmmsg", &n, 0, NULL)))
			goto out;
		/* ... and asks how long an answer is before reading it */
		struct scmp_arg_cmp fionread = SCMP_A1(SCMP_CMP_EQ, FIONREAD);
		if ((rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, &fionread)))
			goto out;
	}
	/* thread names (libmicrohttpd names its threads as they start, maybe
	 * after the filter is in place); no other prctl */
	static const int prctl_ok[] = {PR_SET_NAME, PR_GET_NAME};
	for (size_t i = 0; i < sizeof(prctl_ok) / sizeof(prctl_ok[0]); i++) {
		struct scmp_arg_cmp opt = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)prctl_ok[i]);
		if ((rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, &opt)))
			goto out;
	}
	/* -enforce: SIGKILL to a process pinned by a pidfd (src/response.c) */
	if (killing) {
		struct scmp_arg_cmp no_flags = SCMP_A1(SCMP_CMP_EQ, 0);
		struct scmp_arg_cmp sigkill = SCMP_A1(SCMP_CMP_EQ, SIGKILL);
		if ((rc = allow(ctx, "pidfd_open", &n, 1, &no_flags)) ||
		    (rc = allow(ctx, "pidfd_send_signal", &n, 1, &sigkill)))
			goto out;
	}
	/* signals to the process's own threads (raise, abort, the handler above) */
	struct scmp_arg_cmp self = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid());
	if ((rc = allow(ctx, "tgkill", &n, 1, &self)))
		goto out;
	/* ioctl: the perf-event ones libbpf uses to attach, enable and detach
	 * (live); a terminal check (isatty) answers "not a terminal" */
	static const unsigned long perf_ioctls[] = {
		PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_DISABLE, PERF_EVENT_IOC_SET_BPF,
		PERF_EVENT_IOC_ID,     PERF_EVENT_IOC_QUERY_BPF,
	};
	if (live)
		for (size_t i = 0; i < sizeof(perf_ioctls) / sizeof(perf_ioctls[0]); i++) {
			struct scmp_arg_cmp req = SCMP_A1(SCMP_CMP_EQ, perf_ioctls[i]);
			if ((rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, &req)))
				goto out;
		}
	struct scmp_arg_cmp tcgets = SCMP_A1(SCMP_CMP_EQ, TCGETS);
	if ((rc = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), 1, &tcgets)))
		goto out;
	/* sd_notify (src/notify.c), under a service manager only: one AF_UNIX
	 * datagram socket per message, sent with sendmsg and closed */
	const char *notify = getenv("NOTIFY_SOCKET");
	if (notify && *notify) {
		struct scmp_arg_cmp dgram[] = {
			SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
			SCMP_A1(SCMP_CMP_MASKED_EQ, (uint32_t) ~(SOCK_CLOEXEC | SOCK_NONBLOCK),
				SOCK_DGRAM),
		};
		if ((rc = allow(ctx, "socket", &n, 2, dgram)))
			goto out;
	}
	what = "seccomp_load";
	rc = seccomp_load(ctx);
out:
	if (rc)
		snprintf(err, errlen, "cannot install the seccomp filter: %s: %s (-no-seccomp runs without it)",
			 what, strerror(-rc));
	seccomp_release(ctx);
	if (nallowed)
		*nallowed = n;
	return rc ? -1 : 0;
}
