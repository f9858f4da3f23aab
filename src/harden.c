/* SPDX-License-Identifier: MIT */
/* Process posture: safe output files. See harden.h and docs/operations.md. */
#include "harden.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- output files ----------------------------------------------------------- */

int eg_open_output(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int e = errno;
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlink(path, target, sizeof(target) - 1);
			target[n > 0 ? n : 0] = 0;
			snprintf(err, errlen, "it is a symbolic link (to %s): refusing to follow it",
				 n > 0 ? target : "?");
		} else {
			snprintf(err, errlen, "%s", strerror(e));
		}
		errno = e;
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink > 1) {
		snprintf(err, errlen,
			 "it has %ju hard links (other names of the same file): refusing to write to it",
			 (uintmax_t)st.st_nlink);
		close(fd);
		errno = EMLINK;
		return -1;
	}
	return fd;
}
