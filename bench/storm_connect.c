/* SPDX-License-Identifier: MIT */
/* Connect storm: socket + connect to a closed loopback port (refused at once)
 * + close, in a loop. Every connect is one event (its socket entering SYN_SENT).
 *   storm_connect [SECONDS] [PORT]   (default 5 s, port 9 on 127.0.0.1) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include "storm_common.h"

int main(int argc, char **argv)
{
	int port = argc > 2 ? atoi(argv[2]) : 9;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	unsigned long long ops = 0;
	double t0 = storm_begin(argc, argv);
	while (!storm_stop) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0)
			break;
		connect(s, (struct sockaddr *)&a, sizeof(a));
		close(s);
		ops++;
	}
	storm_end("connect", ops, t0);
	return 0;
}
