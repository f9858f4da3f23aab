/* SPDX-License-Identifier: MIT */
/*
 * Syscall helper for the e2e tests. Prints the pid of the process that made
 * the traced call on stdout ("pid=N"), so tests can match alerts exactly.
 *
 *   eg_helper memfd NAME             memfd_create(NAME) + copy of /bin/true + fexecve
 *   eg_helper fresh-exec             fork; the child execve()s a string literal at once
 *   eg_helper fresh-open             fork; the child openat()s a string literal at once
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
			execve("/tmp/eg-e2e-fresh-literal-path/does/not/matter/../../../../../bin/true",
			       argv, environ);
			_exit(127);
		}
		int fd = (int)syscall(SYS_openat, AT_FDCWD,
				      "/tmp/eg-e2e-fresh-literal-open-marker-path-that-is-long", O_RDONLY);
		_exit(fd >= 0 ? 0 : 1);
	}
	printf("pid=%d\n", pid);
	int st;
	waitpid(pid, &st, 0);
	return 0;
}

static int do_connect(int v6, const char *ip, int port)
{
	int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
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

int main(int argc, char **argv)
{
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
	fprintf(stderr, "usage: eg_helper memfd NAME | fresh-exec | fresh-open | connect4 IP PORT | connect6 IP PORT\n");
	return 2;
}
