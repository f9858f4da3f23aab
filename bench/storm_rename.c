/* SPDX-License-Identifier: MIT */
/* Rename storm: rename one file back and forth between two names; one op is
 * one rename.
 *   storm_rename [SECONDS] [DIR]   (default 5 s, /tmp; the files are
 *                                   DIR/.eg-storm-rename.PID.{a,b}, removed at the end) */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include "storm_common.h"

int main(int argc, char **argv)
{
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	char a[4096], b[4096];
	snprintf(a, sizeof(a), "%s/.eg-storm-rename.%d.a", dir, (int)getpid());
	snprintf(b, sizeof(b), "%s/.eg-storm-rename.%d.b", dir, (int)getpid());
	int fd = open(a, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror("storm_rename: create");
		return 1;
	}
	close(fd);
	unsigned long long ops = 0;
	double t0 = storm_begin(argc, argv);
	while (!storm_stop) {
		if (rename((ops & 1) ? b : a, (ops & 1) ? a : b)) {
			perror("storm_rename: rename");
			break;
		}
		ops++;
	}
	storm_end("rename", ops, t0);
	unlink((ops & 1) ? b : a);
	return 0;
}
