/* SPDX-License-Identifier: MIT */
/* Dup storm: dup2 of an open /dev/null onto one fd in a loop; one op is one
 * dup2. The default target is a high fd (1000: a dup that a kernel-side
 * filter on fds 0-2 drops); "0" makes every dup2 land on stdin (the case that
 * is reported), restored at the end.
 *   storm_dup [SECONDS] [NEWFD]   (default 5 s, 1000) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "storm_common.h"

int main(int argc, char **argv)
{
	int newfd = argc > 2 ? atoi(argv[2]) : 1000;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int saved = newfd <= 2 ? fcntl(newfd, F_DUPFD_CLOEXEC, 10) : -1;
	if (newfd < 0) {
		fprintf(stderr, "storm_dup: NEWFD must be >= 0\n");
		return 2;
	}
	if (fd < 0) {
		perror("storm_dup: open /dev/null");
		return 1;
	}
	unsigned long long ops = 0;
	double t0 = storm_begin(argc, argv);
	while (!storm_stop) {
		if (dup2(fd, newfd) < 0) {
			perror("storm_dup: dup2");
			return 1;
		}
		ops++;
	}
	if (saved >= 0)
		dup2(saved, newfd);
	else
		close(newfd);
	storm_end(newfd <= 2 ? "dup-stdio" : "dup", ops, t0);
	return 0;
}
