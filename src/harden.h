/* SPDX-License-Identifier: MIT */
/*
 * Process posture (docs/operations.md, "Hardening"): output files opened
 * without following symbolic links, ownership and mode checks of the
 * configuration, capabilities reduced to what the daemon still needs, and
 * no_new_privs. The system call filter is in syscall_filter.c (daemon only).
 */
#ifndef EG_HARDEN_H
#define EG_HARDEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
 * Creates the directories of path's parent that do not exist yet, mode 0700
 * (mkdir -p). Directories that exist are used as they are (through a
 * symbolic link too: those are the administrator's); each one created here
 * is entered with O_NOFOLLOW, so one replaced by a symbolic link in between
 * is refused. Returns 0, or -1 with "cannot create directory DIR: reason"
 * in err.
 */
int eg_make_parent_dirs(const char *path, char *err, size_t errlen);

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

/* Bit mask of capability numbers. */
#define EG_CAP(c) (UINT64_C(1) << (c))

/* The calling thread's effective capabilities. */
uint64_t eg_caps_effective(void);

/*
 * Reduces the calling thread's capabilities to keep (effective and
 * permitted; only those it has), empties the inheritable and ambient sets
 * and drops everything else from the bounding set (when it holds
 * CAP_SETPCAP; without it the bounding set is left alone). Capabilities are
 * per thread: threads started later inherit the result. Returns 0, or -1
 * with errno.
 */
int eg_caps_limit(uint64_t keep);

/* prctl(PR_SET_NO_NEW_PRIVS): no exec can gain privileges from now on.
 * Returns 0, or -1 with errno. */
int eg_no_new_privs(void);

/* The highest capability number the kernel knows (/proc/sys/kernel/cap_last_cap). */
int eg_cap_last(void);

#endif
