/* SPDX-License-Identifier: MIT */
/* Null storm: getppid(2) in a loop, a system call no rule and no family of
 * the collector wants; one op is one call. What it measures under a tracer
 * is the cost every system call on the host pays for the tracer being
 * attached (a program run at each call's exit, or none).
 *   storm_null [SECONDS]   (default 5 s) */
#include <sys/syscall.h>
#include <unistd.h>
#include "storm_common.h"

int main(int argc, char **argv)
{
	unsigned long long ops = 0;
	double t0 = storm_begin(argc, argv);
	while (!storm_stop) {
		syscall(SYS_getppid);
		ops++;
	}
	storm_end("null", ops, t0);
	return 0;
}
