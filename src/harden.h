/* SPDX-License-Identifier: MIT */
/* Process posture (docs/operations.md, "Hardening"): output files opened
 * without following symbolic links. */
#ifndef EG_HARDEN_H
#define EG_HARDEN_H

#include <stddef.h>

/*
 * Opens an output file for appending (created 0600), with O_NOFOLLOW and
 * O_CLOEXEC. Refuses a symbolic link (whoever can plant one in the directory
 * would choose the file that is written) and a regular file with more than
 * one hard link (another name of some file, planted the same way). Returns
 * the descriptor, or -1 with the reason in err ("it is a symbolic link (to
 * TARGET): refusing to follow it", or strerror).
 */
int eg_open_output(const char *path, char *err, size_t errlen);

#endif
