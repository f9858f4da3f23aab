/* SPDX-License-Identifier: MIT */
/*
 * Syscall helper for the e2e tests. Prints the pid of the process that made
 * the traced call on stdout ("pid=N"; "ppid=N" too for exec), so tests can
 * match alerts exactly.
 *
 *   eg_helper memfd NAME             memfd_create(NAME) + copy of /bin/true + fexecve
 *   eg_helper exec PATH [ARG...]     execv(PATH) with argv[0] = PATH
 *   eg_helper execveat DIR NAME      execveat(open(DIR), NAME): a path relative to a dirfd
 *   eg_helper open PATH              openat(AT_FDCWD, PATH, O_RDONLY)
 *   eg_helper open-long N            openat() of a path of N bytes (fails past PATH_MAX)
 *   eg_helper fresh-exec             fork; the child execve()s the literal
 *                                    "/tmp/.eg-e2e-fresh/true" at once
 *   eg_helper fresh-open [FLAGS]     fork; the child openat()s the literal
 *                                    "/tmp/eg-e2e-fresh-literal-open-marker" at once
 *                                    (with FLAGS, default O_RDONLY)
 *   eg_helper connect4 IP PORT       connect() over IPv4 (refused is fine)
 *   eg_helper connect6 IP PORT       connect() over IPv6
 *   eg_helper connect6-v6only IP PORT  the same on an IPV6_V6ONLY socket (a
 *                                    v4-mapped address fails at once)
 *   eg_helper udp4|udp6 IP PORT      connect() of a UDP socket
 *   eg_helper sendto4|sendto6 IP PORT  three sendto()s of one byte from an
 *                                    unconnected UDP socket
 *                                    (each connect prints "result=ERRNO", 0 when it succeeded)
 *   eg_helper connect-families P1 P2 P3
 *                                    from one process: connect()s that are not
 *                                    IP (AF_UNIX, AF_NETLINK, AF_PACKET,
 *                                    AF_UNSPEC), then 127.0.0.1:P1, [::1]:P2
 *                                    (addrlen 28) and [::1]:P3 (addrlen 24,
 *                                    RFC 2133's sockaddr_in6)
 *   eg_helper open-sys PATH FLAGS    open(2) (SYS_open), mode 0600
 *   eg_helper openat PATH FLAGS      openat(AT_FDCWD, PATH, FLAGS, 0600)
 *   eg_helper openat2 PATH FLAGS     openat2(AT_FDCWD, PATH, {FLAGS, 0600 or 0})
 *                                    (FLAGS: strtoul base 0)
 *   eg_helper cd-exec DIR PATH [ARG...]  chdir() into DIR one component at a
 *                                    time (DIR may be longer than PATH_MAX),
 *                                    then execv(PATH)
 *   eg_helper unlinked-exec FILE procfd|fexecve
 *                                    open FILE, unlink it, exec it through
 *                                    /proc/self/fd/N (prints "fd=N") or fexecve
 *   eg_helper hold MS MARKER [open PATH | connect4 IP PORT PAYLOAD]
 *                                    the call if any (printing "fd=N" or
 *                                    "result=ERRNO"), then waits MS ms, then
 *                                    sends PAYLOAD on the connection and
 *                                    creates MARKER: what a process killed in
 *                                    between never does (response actions)
 *
 * With EG_HELPER_KILL=PID:SIGNO in the environment, a command that returns
 * sends that signal to PID right after its system calls (microseconds after:
 * before the daemon's next drain).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int memfd_exec(const char *name)
{
	int src = open("/bin/true", O_RDONLY | O_CLOEXEC);
	int fd = (int)syscall(SYS_memfd_create, name, 0);
	if (src < 0 || fd < 0) {
		perror("memfd");
		return 1;
	}
	char buf[65536];
	ssize_t n;
	while ((n = read(src, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			return 1;
	printf("pid=%d\n", getpid());
	fflush(stdout);
	char *argv[] = {(char *)name, NULL};
	fexecve(fd, argv, environ);
	perror("fexecve");
	return 1;
}

/* The child touches nothing before the call: the literal's page may not be in. */
static int fresh(int do_exec, int flags)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (do_exec) {
			static char *const argv[] = {"eg-fresh-child", NULL};
			execve("/tmp/.eg-e2e-fresh/true", argv, environ);
			_exit(127);
		}
		int fd = (int)syscall(SYS_openat, AT_FDCWD,
				      "/tmp/eg-e2e-fresh-literal-open-marker", flags);
		_exit(fd >= 0 ? 0 : 1);
	}
	printf("pid=%d\n", pid);
	int st;
	waitpid(pid, &st, 0);
	return 0;
}

enum conn_mode { CONN_TCP, CONN_V6ONLY, CONN_UDP, CONN_SENDTO };

static int do_connect(int v6, const char *ip, int port, enum conn_mode mode)
{
	/* non-blocking: an unroutable address must not hang the test on SYN
	 * retries */
	int s = socket(v6 ? AF_INET6 : AF_INET,
		       (mode >= CONN_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK, 0);
	if (s < 0) {
		perror("socket");
		return 1;
	}
	if (mode == CONN_V6ONLY && setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &(int){1}, sizeof(int))) {
		perror("setsockopt IPV6_V6ONLY");
		return 1;
	}
	printf("pid=%d\n", getpid());
	fflush(stdout);
	if (v6) {
		struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
		inet_pton(AF_INET6, ip, &a.sin6_addr);
		if (mode == CONN_SENDTO)
			for (int i = 0; i < 3; i++)
				printf("result=%d\n", sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)) < 0 ? errno : 0);
		else
			printf("result=%d\n", connect(s, (struct sockaddr *)&a, sizeof(a)) ? errno : 0);
	} else {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		inet_pton(AF_INET, ip, &a.sin_addr);
		if (mode == CONN_SENDTO)
			for (int i = 0; i < 3; i++)
				printf("result=%d\n", sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)) < 0 ? errno : 0);
		else
			printf("result=%d\n", connect(s, (struct sockaddr *)&a, sizeof(a)) ? errno : 0);
	}
	close(s);
	return 0;
}

/* connect() on a socket of the family with a zeroed address of that family
 * padded to len bytes (the tracepoint sees the call whatever the result). */
static void connect_other(int family, int type, int proto, socklen_t len)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_UNIX)
		strcpy(((struct sockaddr_un *)&ss)->sun_path, "/nonexistent/eg-e2e-unix-socket");
	int s = socket(family == AF_UNSPEC ? AF_INET : family, type, proto);
	if (s < 0) {
		perror("socket");
		exit(1);
	}
	connect(s, (struct sockaddr *)&ss, len);
	close(s);
}

static int connect_families(int p1, int p2, int p3)
{
	printf("pid=%d\n", getpid());
	fflush(stdout);
	connect_other(AF_UNIX, SOCK_STREAM, 0, sizeof(struct sockaddr_un));
	connect_other(AF_UNIX, SOCK_STREAM, 0, sizeof(struct sockaddr_in6));
	connect_other(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, sizeof(struct sockaddr_nl));
	connect_other(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, sizeof(struct sockaddr_in6));
	connect_other(AF_PACKET, SOCK_RAW, 0, sizeof(struct sockaddr_ll));
	connect_other(AF_PACKET, SOCK_RAW, 0, sizeof(struct sockaddr_in6));
	connect_other(AF_UNSPEC, SOCK_DGRAM, 0, sizeof(struct sockaddr_in)); /* UDP disconnect */
	connect_other(AF_UNSPEC, SOCK_DGRAM, 0, sizeof(struct sockaddr_in6));

	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p1)};
	inet_pton(AF_INET, "127.0.0.1", &a4.sin_addr);
	connect(s, (struct sockaddr *)&a4, sizeof(a4));
	close(s);
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
	inet_pton(AF_INET6, "::1", &a6.sin6_addr);
	s = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
	a6.sin6_port = htons((uint16_t)p2);
	connect(s, (struct sockaddr *)&a6, sizeof(a6));
	close(s);
	/* RFC 2133's sockaddr_in6 had no sin6_scope_id: the kernel accepts 24 */
	s = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
	a6.sin6_port = htons((uint16_t)p3);
	if (connect(s, (struct sockaddr *)&a6, 24) && errno == EINVAL) {
		perror("connect with addrlen 24");
		return 1;
	}
	close(s);
	return 0;
}

/* open(2), openat(2) or openat2(2) with the flags as given. */
static int open_flags(const char *how, const char *path, const char *flags_s)
{
	unsigned long flags = strtoul(flags_s, NULL, 0);
	long fd;
	printf("pid=%d\n", getpid());
	fflush(stdout);
	if (!strcmp(how, "open-sys")) {
#ifdef SYS_open
		fd = syscall(SYS_open, path, flags, 0600);
#else
		fprintf(stderr, "no SYS_open on this architecture\n");
		return 1;
#endif
	} else if (!strcmp(how, "openat")) {
		fd = syscall(SYS_openat, AT_FDCWD, path, flags, 0600);
	} else {
		struct open_how oh = {.flags = flags,
				      .mode = (flags & O_CREAT) ? 0600 : 0};
		fd = syscall(SYS_openat2, AT_FDCWD, path, &oh, sizeof(oh));
	}
	if (fd < 0)
		fprintf(stderr, "%s %s: %s\n", how, path, strerror(errno));
	else
		close((int)fd);
	return 0;
}

static int cd_exec(char *dir, char **argv)
{
	if (*dir == '/' && chdir("/")) {
		perror("chdir /");
		return 1;
	}
	for (char *c = strtok(dir, "/"); c; c = strtok(NULL, "/"))
		if (chdir(c)) {
			perror("chdir");
			return 1;
		}
	printf("pid=%d\nppid=%d\n", getpid(), getppid());
	fflush(stdout);
	execv(argv[0], argv);
	perror("execv");
	return 127;
}

static int unlinked_exec(const char *path, const char *how)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0 || unlink(path)) {
		perror(path);
		return 1;
	}
	char *argv[] = {"eg-unlinked", NULL};
	printf("pid=%d\nfd=%d\n", getpid(), fd);
	fflush(stdout);
	if (!strcmp(how, "fexecve")) {
		fexecve(fd, argv, environ);
	} else {
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		execv(p, argv);
	}
	perror("exec");
	return 127;
}

static int do_open(const char *path)
{
	printf("pid=%d\n", getpid());
	fflush(stdout);
	int fd = openat(AT_FDCWD, path, O_RDONLY);
	if (fd >= 0)
		close(fd);
	return 0;
}

static int open_long(size_t n)
{
	char *p = malloc(n + 1);
	if (!p)
		return 1;
	/* "/tmp/" then "a/a/a/...": a relative-looking long path that cannot exist */
	memcpy(p, "/tmp/", 5);
	for (size_t i = 5; i < n; i++)
		p[i] = (i % 2) ? 'a' : '/';
	p[n] = 0;
	return do_open(p);
}

static int hold(int argc, char **argv)
{
	long ms = strtol(argv[2], NULL, 10);
	int s = -1;
	printf("pid=%d\n", getpid());
	fflush(stdout); /* before the call: the process may be killed right after it */
	if (argc >= 5 && !strcmp(argv[4], "open")) {
		int fd = open(argv[5], O_RDONLY | O_CLOEXEC);
		printf("fd=%d\n", fd);
	} else if (argc >= 8 && !strcmp(argv[4], "connect4")) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[6]))};
		inet_pton(AF_INET, argv[5], &sa.sin_addr);
		s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int rc = connect(s, (struct sockaddr *)&sa, sizeof(sa));
		printf("result=%d\n", rc ? errno : 0);
	}
	fflush(stdout);
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	if (s >= 0 && send(s, argv[7], strlen(argv[7]), 0) < 0)
		perror("send");
	int m = open(argv[3], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (m < 0) {
		perror("marker");
		return 1;
	}
	close(m);
	return 0;
}

static int run(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "exec")) {
		printf("pid=%d\nppid=%d\n", getpid(), getppid());
		fflush(stdout);
		execv(argv[2], argv + 2);
		perror("execv");
		return 127;
	}
	if (argc >= 4 && !strcmp(argv[1], "execveat")) {
		int dfd = open(argv[2], O_RDONLY | O_DIRECTORY);
		printf("pid=%d\n", getpid());
		fflush(stdout);
		char *av[] = {argv[3], NULL};
		syscall(SYS_execveat, dfd, argv[3], av, environ, 0);
		perror("execveat");
		return 127;
	}
	if (argc >= 3 && !strcmp(argv[1], "open"))
		return do_open(argv[2]);
	if (argc >= 5 && !strcmp(argv[1], "open-connect4")) {
		/* one process: an open, then a TCP connect (process context) */
		int fd = openat(AT_FDCWD, argv[2], O_RDONLY);
		if (fd >= 0)
			close(fd);
		printf("ppid=%d\n", getppid());
		return do_connect(0, argv[3], atoi(argv[4]), CONN_TCP);
	}
	if (argc >= 3 && !strcmp(argv[1], "open-long"))
		return open_long(strtoul(argv[2], NULL, 10));
	if (argc >= 3 && !strcmp(argv[1], "memfd"))
		return memfd_exec(argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "fresh-exec"))
		return fresh(1, 0);
	if (argc >= 2 && !strcmp(argv[1], "fresh-open"))
		return fresh(0, argc >= 3 ? (int)strtoul(argv[2], NULL, 0) : O_RDONLY);
	if (argc >= 4 && !strcmp(argv[1], "connect4"))
		return do_connect(0, argv[2], atoi(argv[3]), CONN_TCP);
	if (argc >= 4 && !strcmp(argv[1], "connect6-v6only"))
		return do_connect(1, argv[2], atoi(argv[3]), CONN_V6ONLY);
	if (argc >= 4 && !strcmp(argv[1], "udp4"))
		return do_connect(0, argv[2], atoi(argv[3]), CONN_UDP);
	if (argc >= 4 && !strcmp(argv[1], "sendto4"))
		return do_connect(0, argv[2], atoi(argv[3]), CONN_SENDTO);
	if (argc >= 4 && !strcmp(argv[1], "sendto6"))
		return do_connect(1, argv[2], atoi(argv[3]), CONN_SENDTO);
	if (argc >= 4 && !strcmp(argv[1], "udp6"))
		return do_connect(1, argv[2], atoi(argv[3]), CONN_UDP);
	if (argc >= 4 && !strcmp(argv[1], "connect6"))
		return do_connect(1, argv[2], atoi(argv[3]), CONN_TCP);
	if (argc >= 5 && !strcmp(argv[1], "connect-families"))
		return connect_families(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	if (argc >= 4 && (!strcmp(argv[1], "open-sys") || !strcmp(argv[1], "openat") ||
			  !strcmp(argv[1], "openat2")))
		return open_flags(argv[1], argv[2], argv[3]);
	if (argc >= 4 && !strcmp(argv[1], "cd-exec"))
		return cd_exec(argv[2], argv + 3);
	if (argc >= 4 && !strcmp(argv[1], "unlinked-exec"))
		return unlinked_exec(argv[2], argv[3]);
	if (argc >= 4 && !strcmp(argv[1], "hold"))
		return hold(argc, argv);
	fprintf(stderr, "usage: eg_helper exec PATH [ARG...] | execveat DIR NAME | open PATH | open-long N |"
			" memfd NAME | fresh-exec | fresh-open [FLAGS] | connect4 IP PORT | connect6 IP PORT |"
			" connect-families P1 P2 P3 | open-sys|openat|openat2 PATH FLAGS |"
			" cd-exec DIR PATH [ARG...] | unlinked-exec FILE procfd|fexecve |"
			" open-connect4 PATH IP PORT | hold MS MARKER [open PATH | connect4 IP PORT PAYLOAD]\n");
	return 2;
}

int main(int argc, char **argv)
{
	int rc = run(argc, argv);
	const char *k = getenv("EG_HELPER_KILL");
	if (k && *k) {
		char *sep;
		long pid = strtol(k, &sep, 10);
		if (*sep != ':' || pid <= 0 || kill((pid_t)pid, atoi(sep + 1))) {
			fprintf(stderr, "EG_HELPER_KILL=%s: cannot signal\n", k);
			return 1;
		}
	}
	return rc;
}
