/* SPDX-License-Identifier: MIT */
/*
 * The seccomp filter (src/syscall_filter.c), installed in a child process
 * for each case: what the daemon needs keeps working, everything else dies of
 * SIGSYS after the one-line report on stderr, some calls fail softly.
 * Skipped under sanitizers and valgrind (their runtimes make calls of their
 * own that the filter refuses).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "check.h"
#include "harden.h"
#include "syscall_filter.h"

#if defined(__SANITIZE_ADDRESS__)
#define EG_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EG_UNDER_SANITIZER 1
#endif
#endif

static void *thread_fn(void *arg)
{
	return arg;
}

/* What the daemon does once it runs: files, memory, threads, time, names. */
static int allowed(void)
{
	char buf[64];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0 || close(fd))
		return 1;
	int out = open("/dev/null", O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (out < 0 || write(out, "x\n", 2) != 2)
		return 2;
	close(out);
	void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || mprotect(m, 4096, PROT_READ | PROT_EXEC) || munmap(m, 1 << 20))
		return 3;
	free(malloc(10 << 20));
	pthread_t t;
	static int token;
	void *r = NULL;
	if (pthread_create(&t, NULL, thread_fn, &token) || pthread_join(t, &r) || r != &token)
		return 4;
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) || clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 5;
	nanosleep(&(struct timespec){0, 1000}, NULL);
	if (prctl(PR_SET_NAME, "eg-test", 0, 0, 0))
		return 6;
	struct termios tio;
	if (ioctl(STDIN_FILENO, TCGETS, &tio) != -1 || errno != ENOTTY) /* softly refused */
		return 7;
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd)) || !realpath(".", cwd))
		return 8;
	return 0;
}

static int do_socket(void)
{
	return socket(AF_INET, SOCK_STREAM, 0) >= 0;
}

/* With the webhook's network calls allowed: inet, unix and netlink sockets,
 * connect (refused by nobody listening: ECONNREFUSED, not SIGSYS). */
static int do_network(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno != ECONNREFUSED)
		return 2;
	close(fd);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 3;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 4;
	return 0;
}

static int do_packet_socket(void)
{
	return socket(AF_PACKET, SOCK_RAW, 0) >= 0;
}

static int do_fork(void)
{
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	return p > 0;
}

static int do_exec(void)
{
	char *argv[] = {"true", NULL};
	execv("/bin/true", argv);
	return 1;
}

static int do_kill_parent(void)
{
	return kill(getppid(), 0);
}

/* -enforce (eg_syscall_filter_allow_kill): SIGKILL through a pidfd, only */
static pid_t target;

static int do_pidfd_kill(void)
{
	int fd = (int)syscall(SYS_pidfd_open, target, 0);
	if (fd < 0)
		return 1;
	return syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) ? 2 : 0;
}

static int do_pidfd_term(void)
{
	int fd = (int)syscall(SYS_pidfd_open, target, 0);
	if (fd < 0)
		return 1;
	return syscall(SYS_pidfd_send_signal, fd, SIGTERM, NULL, 0) ? 2 : 0;
}

static int do_pidfd_nonblock(void)
{
	return (int)syscall(SYS_pidfd_open, target, O_NONBLOCK) < 0;
}

static int do_kill_target(void)
{
	return kill(target, SIGKILL);
}

static int do_prctl(void)
{
	return prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

static int do_bpf(void)
{
	return (int)syscall(SYS_bpf, 1000, NULL, 0); /* an unknown command: EINVAL when allowed */
}

static int do_abort(void)
{
	abort();
}

struct result {
	int status;
	char err[1024];
};

/* Runs fn in a child under the filter (live or replay mode; net: with
 * eg_syscall_filter_allow_network; killing: with eg_syscall_filter_allow_kill). */
static struct result run_with(int (*fn)(void), int live, bool net, bool killing)
{
	struct result r = {0};
	int pfd[2];
	if (pipe(pfd))
		return r;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], STDERR_FILENO);
		close(pfd[0]);
		char err[512];
		eg_syscall_filter_allow_network(net);
		eg_syscall_filter_allow_kill(killing);
		if (eg_no_new_privs() || eg_syscall_filter_install(live, NULL, err, sizeof(err))) {
			fprintf(stderr, "setup failed: %s\n", err);
			_exit(99);
		}
		_exit(fn());
	}
	close(pfd[1]);
	size_t n = 0;
	ssize_t got;
	while (n < sizeof(r.err) - 1 && (got = read(pfd[0], r.err + n, sizeof(r.err) - 1 - n)) > 0)
		n += (size_t)got;
	r.err[n] = 0;
	close(pfd[0]);
	waitpid(pid, &r.status, 0);
	return r;
}

static struct result run_net(int (*fn)(void), int live, bool net)
{
	return run_with(fn, live, net, false);
}

static struct result run(int (*fn)(void), int live)
{
	return run_net(fn, live, false);
}

/* A process for the kill cases to signal (at most 30 s). */
static pid_t spawn_target(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		sleep(30);
		_exit(0);
	}
	return pid;
}

/* How the target ended: its killing signal, 0 when it had to be killed here. */
static int end_target(pid_t pid)
{
	int st = 0;
	if (waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return 0;
	}
	return WIFSIGNALED(st) ? WTERMSIG(st) : -1;
}

static int exited(struct result r, int code)
{
	return WIFEXITED(r.status) && WEXITSTATUS(r.status) == code;
}

/* skips a decimal number at *p; false when there is none */
static int skip_num(const char **p)
{
	const char *s = *p;
	while (*s >= '0' && *s <= '9')
		s++;
	if (s == *p)
		return 0;
	*p = s;
	return 1;
}

static int skip_str(const char **p, const char *want)
{
	size_t n = strlen(want);
	if (strncmp(*p, want, n))
		return 0;
	*p += n;
	return 1;
}

/* Died of SIGSYS after exactly the one report line for system call name:
 * "ebpf-guard: system call NR (NAME) refused by the seccomp filter in thread
 * TID: this is a bug, please report it; -no-seccomp runs without the filter" */
static int refused(struct result r, const char *name)
{
	char mid[128];
	snprintf(mid, sizeof(mid), " (%s) refused by the seccomp filter in thread ", name);
	const char *p = r.err;
	return WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGSYS &&
	       skip_str(&p, "ebpf-guard: system call ") && skip_num(&p) && skip_str(&p, mid) &&
	       skip_num(&p) &&
	       skip_str(&p, ": this is a bug, please report it; -no-seccomp runs without the filter\n") &&
	       !*p;
}

int main(void)
{
	const char *pre = getenv("LD_PRELOAD");
#ifdef EG_UNDER_SANITIZER
	pre = "sanitizer";
#endif
	if (pre && (strstr(pre, "vgpreload") || strstr(pre, "sanitizer"))) {
		printf("test_syscall_filter: skipped under a sanitizer or valgrind\n");
		return 0;
	}
	struct result r;
	for (int live = 0; live <= 1; live++) {
		r = run(allowed, live);
		CHECK(exited(r, 0), "live=%d: allowed calls: status %#x, step %d, stderr '%s'", live,
		      r.status, WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1, r.err);
		r = run(do_socket, live);
		CHECK(refused(r, "socket"), "live=%d: socket: status %#x, stderr '%s'", live, r.status, r.err);
		r = run(do_fork, live);
		CHECK(refused(r, "clone"), "live=%d: fork: status %#x, stderr '%s'", live, r.status, r.err);
		r = run(do_exec, live);
		CHECK(refused(r, "execve"), "live=%d: execve: status %#x, stderr '%s'", live, r.status, r.err);
		r = run(do_kill_parent, live);
		CHECK(refused(r, "kill"), "live=%d: kill: status %#x, stderr '%s'", live, r.status, r.err);
		r = run(do_prctl, live);
		CHECK(refused(r, "prctl"), "live=%d: prctl: status %#x, stderr '%s'", live, r.status, r.err);
		r = run(do_abort, live);
		CHECK(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT && !r.err[0],
		      "live=%d: abort: status %#x, stderr '%s'", live, r.status, r.err);
	}
	/* the webhook's network calls, and only those families */
	r = run_net(do_network, 0, true);
	CHECK(exited(r, 0), "network: status %#x, step %d, stderr '%s'", r.status,
	      WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1, r.err);
	r = run_net(do_packet_socket, 0, true);
	CHECK(refused(r, "socket"), "network: AF_PACKET: status %#x, stderr '%s'", r.status, r.err);
	r = run_net(allowed, 1, true);
	CHECK(exited(r, 0), "network, live: allowed calls: status %#x, stderr '%s'", r.status, r.err);
	/* -enforce: pidfd_open and pidfd_send_signal(SIGKILL), nothing else */
	target = spawn_target();
	r = run_with(do_pidfd_kill, 1, false, false);
	CHECK(refused(r, "pidfd_open"), "no -enforce: pidfd_open: status %#x, stderr '%s'", r.status, r.err);
	r = run_with(do_pidfd_kill, 1, false, true);
	CHECK(exited(r, 0), "-enforce: pidfd kill: status %#x, stderr '%s'", r.status, r.err);
	usleep(100000);
	CHECK(end_target(target) == SIGKILL, "-enforce: the target died of SIGKILL");
	target = spawn_target();
	r = run_with(do_pidfd_term, 1, false, true);
	CHECK(refused(r, "pidfd_send_signal"), "-enforce: SIGTERM: status %#x, stderr '%s'", r.status, r.err);
	r = run_with(do_pidfd_nonblock, 1, false, true);
	CHECK(refused(r, "pidfd_open"), "-enforce: pidfd_open flags: status %#x, stderr '%s'", r.status, r.err);
	r = run_with(do_kill_target, 0, false, true);
	CHECK(refused(r, "kill"), "-enforce: kill(2): status %#x, stderr '%s'", r.status, r.err);
	CHECK(end_target(target) == 0, "the target outlived the refused calls");
	/* bpf: refused in replay mode, allowed (and failing on its own) live */
	r = run(do_bpf, 0);
	CHECK(refused(r, "bpf"), "replay: bpf: status %#x, stderr '%s'", r.status, r.err);
	r = run(do_bpf, 1);
	CHECK(WIFEXITED(r.status) && !r.err[0], "live: bpf: status %#x, stderr '%s'", r.status, r.err);
	return CHECK_SUMMARY("test_syscall_filter");
}
