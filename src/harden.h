/* SPDX-License-Identifier: MIT */
/* Process posture (docs/operations.md, "Hardening"): output files opened
 * without following symbolic links, ownership and mode checks of the
 * configuration. */
#ifndef EG_HARDEN_H
#define EG_HARDEN_H

#include <stdbool.h>
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

/*
 * Checks the configuration files as sshd checks its keys: each -config path,
 * the rule files (.yaml, .yml, .lua) of -config directories, and every
 * directory above them must not be writable by group or others (a directory
 * above may be when it has the sticky bit, like /tmp) and must be owned by
 * root (or, when not running as root, by root or the daemon's user).
 * Each problem is "<path>: <problem>". Without strict, every problem is
 * printed on stderr as "ebpf-guard: warning: <path>: <problem>" and 0 is
 * returned; with strict, the first one is returned in err and the result is
 * -1. Paths that do not exist are left to the loader to report.
 */
int eg_check_config_perms(const char *const *paths, size_t n, bool strict, char *err,
			  size_t errlen);

#endif
