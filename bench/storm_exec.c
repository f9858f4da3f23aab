/* SPDX-License-Identifier: MIT */
/* Exec storm: fork + exec of /bin/true, waited for, in a loop.
 *   storm_exec [SECONDS] [PATH]   (default 5 s, /bin/true) */
#include <sys/wait.h>
#include <unistd.h>
#include "storm_common.h"

extern char **environ;

int main(int argc, char **argv)
{
	const char *path = argc > 2 ? argv[2] : "/bin/true";
	unsigned long long ops = 0;
	double t0 = storm_begin(argc, argv);
	while (!storm_stop) {
		pid_t pid = fork();
		if (pid == 0) {
			char *const av[] = {(char *)path, NULL};
			execve(path, av, environ);
			_exit(127);
		}
		if (pid > 0) {
			int st;
			while (waitpid(pid, &st, 0) < 0 && !storm_stop)
				;
			ops++;
		}
	}
	storm_end("exec", ops, t0);
	return 0;
}
