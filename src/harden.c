/* SPDX-License-Identifier: MIT */
/* Process posture: safe output files, configuration ownership and modes,
 * capabilities, no_new_privs. See harden.h and docs/operations.md. */
#include "harden.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

int eg_make_parent_dirs(const char *path, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		snprintf(err, errlen, "%s", strerror(ENAMETOOLONG));
		return -1;
	}
	char *slash = strrchr(buf, '/');
	if (!slash)
		return 0; /* in the current directory */
	*slash = 0;
	struct stat st;
	if (!buf[0] || stat(buf, &st) == 0)
		return 0; /* there already (or "/"): the open reports what is wrong */
	int dfd = open(buf[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(err, errlen, "cannot create directory %s: %s", buf, strerror(errno));
		return -1;
	}
	char *p = buf + (buf[0] == '/');
	for (;;) {
		char *end = strchr(p, '/');
		if (end)
			*end = 0;
		if (*p) {
			int made = mkdirat(dfd, p, 0700) == 0;
			int e = errno;
			int fd = -1;
			if (made || e == EEXIST)
				fd = openat(dfd, p, O_PATH | O_DIRECTORY | O_CLOEXEC | (made ? O_NOFOLLOW : 0));
			if (fd < 0) {
				int oe = made || e == EEXIST ? errno : e;
				snprintf(err, errlen, "cannot create directory %s: %s", buf,
					 made && (oe == ELOOP || oe == ENOTDIR)
						 ? "it was replaced by a symbolic link: refusing to follow it"
						 : strerror(oe));
				close(dfd);
				return -1;
			}
			close(dfd);
			dfd = fd;
		}
		if (!end)
			break;
		*end = '/';
		p = end + 1;
	}
	close(dfd);
	return 0;
}

/* ---- configuration ownership and modes ---------------------------------------- */

#define PERMS_MAX_DEPTH 16 /* directories of rule files inside -config directories */

struct perms {
	bool strict, failed;
	char *err;
	size_t errlen;
	uid_t euid;
	char **seen; /* real paths already checked */
	size_t nseen, cap;
};

__attribute__((format(printf, 2, 3))) static void problem(struct perms *x, const char *fmt, ...)
{
	char msg[PATH_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!x->strict)
		fprintf(stderr, "ebpf-guard: warning: %s\n", msg);
	else if (!x->failed)
		snprintf(x->err, x->errlen, "%s", msg);
	x->failed = true;
}

/* true when real was checked already; else remembers it */
static bool seen(struct perms *x, const char *real)
{
	for (size_t i = 0; i < x->nseen; i++)
		if (!strcmp(x->seen[i], real))
			return true;
	if (x->nseen == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 16;
		char **s = realloc(x->seen, cap * sizeof(*s));
		if (!s)
			return false; /* checked again, at worst */
		x->seen = s;
		x->cap = cap;
	}
	char *d = strdup(real);
	if (d)
		x->seen[x->nseen++] = d;
	return false;
}

/* An ancestor may be writable by others when it has the sticky bit (/tmp):
 * nobody else can then replace what it holds. */
static void check_stat(struct perms *x, const char *name, const struct stat *st, bool ancestor)
{
	const char *kind = S_ISDIR(st->st_mode) ? "directory " : "";
	if (st->st_uid != 0 && st->st_uid != x->euid) {
		if (x->euid == 0)
			problem(x, "%s: %sowned by uid %u, not root", name, kind, (unsigned)st->st_uid);
		else
			problem(x, "%s: %sowned by uid %u, not root or uid %u", name, kind,
				(unsigned)st->st_uid, (unsigned)x->euid);
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(ancestor && (st->st_mode & S_ISVTX)))
		problem(x, "%s: %swritable by group or others (mode %04o)", name, kind,
			(unsigned)(st->st_mode & 07777));
}

/* Every directory above real (an absolute path without links), from / down. */
static void check_ancestors(struct perms *x, const char *real)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", real);
	for (char *slash = p; (slash = strchr(slash, '/')); slash++) {
		char keep = slash[1];
		if (!keep)
			break; /* a trailing slash: real itself */
		char *end = slash == p ? slash + 1 : slash; /* "/" for the root */
		char c = *end;
		*end = 0;
		struct stat st;
		if (!seen(x, p) && stat(p, &st) == 0)
			check_stat(x, p, &st, true);
		*end = c;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool rule_name(const char *n)
{
	size_t l = strlen(n);
	return n[0] != '.' && ((l > 5 && !strcmp(n + l - 5, ".yaml")) ||
			       (l > 4 && !strcmp(n + l - 4, ".yml")) ||
			       (l > 4 && !strcmp(n + l - 4, ".lua")));
}

/* path as the loader names it (lua/ebpf_guard/config.lua): a -config path,
 * or a directory's path without trailing slashes, "/", and an entry name. */
static void check_path(struct perms *x, const char *path, int depth)
{
	struct stat st;
	char real[PATH_MAX], tmp[PATH_MAX];
	if (stat(path, &st) || !realpath(path, real))
		return; /* missing: the loader says so */
	/* The directory the name is in (a link may live there), then the file's
	 * own directories. */
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (size_t l = strlen(tmp); l > 1 && tmp[l - 1] == '/'; l--)
		tmp[l - 1] = 0;
	char *slash = strrchr(tmp, '/');
	if (slash && slash != tmp)
		*slash = 0;
	else
		snprintf(tmp, sizeof(tmp), "%s", slash ? "/" : ".");
	char dir_real[PATH_MAX];
	if (realpath(tmp, dir_real)) {
		size_t l = strlen(dir_real);
		if (l + 2 < sizeof(dir_real)) {
			memcpy(dir_real + l, "/x", 3); /* its ancestors are dir_real and above */
			check_ancestors(x, dir_real);
		}
	}
	check_ancestors(x, real);
	if (!seen(x, real))
		check_stat(x, path, &st, false);
	if (!S_ISDIR(st.st_mode) || depth >= PERMS_MAX_DEPTH)
		return;

	DIR *d = opendir(path);
	if (!d)
		return;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!rule_name(e->d_name))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			char **nn = realloc(names, cap * sizeof(*nn));
			if (!nn)
				break;
			names = nn;
		}
		if (!(names[n] = strdup(e->d_name)))
			break;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	size_t base = strlen(path);
	while (base > 1 && path[base - 1] == '/')
		base--;
	for (size_t i = 0; i < n; i++) {
		char child[PATH_MAX];
		if ((size_t)snprintf(child, sizeof(child), "%.*s/%s", (int)base, path, names[i]) <
		    sizeof(child))
			check_path(x, child, depth + 1);
		free(names[i]);
	}
	free(names);
}

int eg_check_config_perms(const char *const *paths, size_t n, bool strict, char *err,
			  size_t errlen)
{
	struct perms x = {.strict = strict, .err = err, .errlen = errlen, .euid = geteuid()};
	for (size_t i = 0; i < n && !(strict && x.failed); i++)
		check_path(&x, paths[i], 0);
	for (size_t i = 0; i < x.nseen; i++)
		free(x.seen[i]);
	free(x.seen);
	return strict && x.failed ? -1 : 0;
}

/* ---- capabilities -------------------------------------------------------------- */

int eg_cap_last(void)
{
	static int last = -1;
	if (last >= 0)
		return last;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = -1;
		fclose(f);
	}
	if (last < 0) /* no /proc: probe the bounding set */
		for (last = 0; last < 63 && prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0; last++)
			;
	return last;
}

static int caps_get(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	memset(d, 0, 2 * sizeof(*d));
	return (int)syscall(SYS_capget, &h, d);
}

uint64_t eg_caps_effective(void)
{
	struct __user_cap_data_struct d[2];
	if (caps_get(d))
		return 0;
	return (uint64_t)d[1].effective << 32 | d[0].effective;
}

int eg_caps_limit(uint64_t keep)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	if (caps_get(d))
		return -1;
	uint64_t eff = (uint64_t)d[1].effective << 32 | d[0].effective;
	uint64_t perm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	if (eff & EG_CAP(CAP_SETPCAP)) {
		int last = eg_cap_last();
		for (int c = 0; c <= last && c < 64; c++)
			if (!(keep & EG_CAP(c)) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1 &&
			    prctl(PR_CAPBSET_DROP, c, 0, 0, 0))
				return -1;
	}
	/* EINVAL before Linux 4.3 (no ambient set): nothing to clear */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -1;
	uint64_t want = perm & keep;
	d[0].effective = d[0].permitted = (uint32_t)want;
	d[1].effective = d[1].permitted = (uint32_t)(want >> 32);
	d[0].inheritable = d[1].inheritable = 0;
	return (int)syscall(SYS_capset, &h, d);
}

int eg_no_new_privs(void)
{
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}
