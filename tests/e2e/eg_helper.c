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
 *   eg_helper fresh-open             fork; the child openat()s the literal
 *                                    "/tmp/eg-e2e-fresh-literal-open-marker" at once
 *   eg_helper connect4 IP PORT       connect() over IPv4 (refused is fine)
 *   eg_helper connect6 IP PORT       connect() over IPv6
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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
static int fresh(int do_exec)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (do_exec) {
			static char *const argv[] = {"eg-fresh-child", NULL};
			execve("/tmp/.eg-e2e-fresh/true", argv, environ);
			_exit(127);
		}
		int fd = (int)syscall(SYS_openat, AT_FDCWD,
				      "/tmp/eg-e2e-fresh-literal-open-marker", O_RDONLY);
		_exit(fd >= 0 ? 0 : 1);
	}
	printf("pid=%d\n", pid);
	int st;
	waitpid(pid, &st, 0);
	return 0;
}

static int do_connect(int v6, const char *ip, int port)
{
	/* non-blocking: the event is taken at sys_enter, and an unroutable
	 * address must not hang the test on SYN retries */
	int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s < 0) {
		perror("socket");
		return 1;
	}
	printf("pid=%d\n", getpid());
	fflush(stdout);
	if (v6) {
		struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
		inet_pton(AF_INET6, ip, &a.sin6_addr);
		connect(s, (struct sockaddr *)&a, sizeof(a));
	} else {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		inet_pton(AF_INET, ip, &a.sin_addr);
		connect(s, (struct sockaddr *)&a, sizeof(a));
	}
	close(s);
	return 0;
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

int main(int argc, char **argv)
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
	if (argc >= 3 && !strcmp(argv[1], "open-long"))
		return open_long(strtoul(argv[2], NULL, 10));
	if (argc >= 3 && !strcmp(argv[1], "memfd"))
		return memfd_exec(argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "fresh-exec"))
		return fresh(1);
	if (argc >= 2 && !strcmp(argv[1], "fresh-open"))
		return fresh(0);
	if (argc >= 4 && !strcmp(argv[1], "connect4"))
		return do_connect(0, argv[2], atoi(argv[3]));
	if (argc >= 4 && !strcmp(argv[1], "connect6"))
		return do_connect(1, argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: eg_helper exec PATH [ARG...] | open PATH | open-long N | memfd NAME | fresh-exec | fresh-open | connect4 IP PORT | connect6 IP PORT\n");
	return 2;
}
