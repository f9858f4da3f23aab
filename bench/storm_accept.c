/* SPDX-License-Identifier: MIT */
/* Accept storm: a loopback listener and a client in one process; one op is
 * socket + connect + accept + close of both ends. The client closes with
 * SO_LINGER 0 (a reset), so no TIME_WAIT piles up on the ephemeral ports.
 *   storm_accept [SECONDS] [4|6]   (default 5 s, 127.0.0.1; 6: [::1]) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "storm_common.h"

int main(int argc, char **argv)
{
	int six = argc > 2 && !strcmp(argv[2], "6");
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	if (six) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	}
	int ls = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&ss, len) || listen(ls, 128) ||
	    getsockname(ls, (struct sockaddr *)&ss, &len)) {
		perror("storm_accept: listen");
		return 1;
	}
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	unsigned long long ops = 0;
	double t0 = storm_begin(argc, argv);
	while (!storm_stop) {
		int c = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c < 0) {
			perror("storm_accept: socket");
			return 1;
		}
		if (connect(c, (struct sockaddr *)&ss, len)) {
			if (errno == EINTR && storm_stop) { /* the stop timer */
				close(c);
				break;
			}
			perror("storm_accept: connect");
			return 1;
		}
		int s = accept(ls, NULL, NULL);
		if (s < 0) {
			if (errno == EINTR && storm_stop) {
				close(c);
				break;
			}
			perror("storm_accept: accept");
			return 1;
		}
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(c);
		close(s);
		ops++;
	}
	storm_end("accept", ops, t0);
	close(ls);
	return 0;
}
