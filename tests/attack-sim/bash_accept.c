// SPDX-License-Identifier: MIT
/*
 * A bash loadable builtin for the attack simulation (tests/attack-sim/sim.py):
 * "egaccept" listens on a free loopback port, prints it, accepts one
 * connection and closes it, inside the bash process itself. Bash ships the
 * same feature as its loadable "accept" builtin (examples/loadables/accept.c,
 * Debian's bash-builtins): a bind shell in bash alone. Built with cc and
 * loaded with "enable -f ./egaccept.so egaccept"; the layout below is
 * bash's struct builtin (builtins.h), declared here so no bash headers are
 * needed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct word_desc {
	char *word;
	int flags;
} WORD_DESC;

typedef struct word_list {
	struct word_list *next;
	WORD_DESC *word;
} WORD_LIST;

struct builtin {
	char *name;
	int (*function)(WORD_LIST *);
	int flags; /* BUILTIN_ENABLED 0x01 */
	char *const *long_doc;
	const char *short_doc;
	char *handle;
};

static int egaccept_builtin(WORD_LIST *list)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	char line[32];
	int s, c, n, one = 1;

	(void)list;
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 1) ||
	    getsockname(s, (struct sockaddr *)&a, &len)) {
		close(s);
		return 1;
	}
	n = snprintf(line, sizeof(line), "%d\n", ntohs(a.sin_port));
	if (write(1, line, n) != n) {
		close(s);
		return 1;
	}
	c = accept(s, NULL, NULL);
	if (c >= 0)
		close(c);
	close(s);
	return c >= 0 ? 0 : 1;
}

static char *const egaccept_doc[] = {"Accept one connection on a loopback port.", NULL};

struct builtin egaccept_struct = {"egaccept", egaccept_builtin, 0x01, egaccept_doc, "egaccept", NULL};
