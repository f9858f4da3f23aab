/* SPDX-License-Identifier: MIT */
/* Open storm: open + close of one file in a tight loop.
 *   storm_open [SECONDS] [PATH]   (default 5 s, /etc/hostname) */
#include <fcntl.h>
#include <unistd.h>
#include "storm_common.h"

int main(int argc, char **argv)
{
	const char *path = argc > 2 ? argv[2] : "/etc/hostname";
	unsigned long long ops = 0;
	double t0 = storm_begin(argc, argv);
	while (!storm_stop) {
		int fd = open(path, O_RDONLY);
		if (fd >= 0)
			close(fd);
		ops++;
	}
	storm_end("open", ops, t0);
	return 0;
}
