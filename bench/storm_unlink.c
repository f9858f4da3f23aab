/* SPDX-License-Identifier: MIT */
/* Unlink storm: create (open O_CREAT + close) and unlink one file in a loop;
 * one op is one create + one unlink.
 *   storm_unlink [SECONDS] [DIR]   (default 5 s, /tmp; the file is
 *                                   DIR/.eg-storm-unlink.PID, removed at the end) */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include "storm_common.h"

int main(int argc, char **argv)
{
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	char path[4096];
	snprintf(path, sizeof(path), "%s/.eg-storm-unlink.%d", dir, (int)getpid());
	unsigned long long ops = 0;
	double t0 = storm_begin(argc, argv);
	while (!storm_stop) {
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			perror("storm_unlink: create");
			return 1;
		}
		close(fd);
		unlink(path);
		ops++;
	}
	storm_end("unlink", ops, t0);
	return 0;
}
