/* SPDX-License-Identifier: MIT */
/*
 * Container identity from cgroup v2 paths: the path parser, and the cache
 * from cgroup ids to paths (docs/containers.md).
 */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define LIT(s) (s), (sizeof(s) - 1)

static const char empty[1];

/* ---- the parser ----------------------------------------------------------- */

static int is_lower_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return 1;
}

static int eq(const char *p, size_t n, const char *lit, size_t m)
{
	return n == m && memcmp(p, lit, m) == 0;
}

static int starts(const char *p, size_t n, const char *lit, size_t m)
{
	return n >= m && memcmp(p, lit, m) == 0;
}

static int ends(const char *p, size_t n, const char *lit, size_t m)
{
	return n >= m && memcmp(p + n - m, lit, m) == 0;
}

/*
 * A pod UID in p[0..n): 8-4-4-4-12 lowercase hex with sep between the groups
 * (sep '_' in systemd slice names, where '-' separates the levels), or 32
 * lowercase hex digits (the UID kubelet gives a static pod). Writes the
 * dashed (or 32-digit) form to out[40]. Its length, or 0.
 */
static size_t pod_uid(const char *p, size_t n, char sep, char *out)
{
	if (n == 32) {
		if (!is_lower_hex(p, 32))
			return 0;
	} else if (n == 36) {
		for (size_t i = 0; i < 36; i++) {
			int dash = i == 8 || i == 13 || i == 18 || i == 23;
			if (dash ? p[i] != sep : !is_lower_hex(p + i, 1))
				return 0;
		}
	} else {
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = p[i] == sep ? '-' : p[i];
	out[n] = 0;
	return n;
}

/* Runtimes that name a container's cgroup <prefix><64 hex>[.scope]. */
static const struct {
	const char *prefix;
	const char *runtime;
	int scope_only; /* made by the systemd driver only */
} named[] = {
	{"docker-", "docker", 1},
	{"cri-containerd-", "containerd", 1},
	{"crio-", "cri-o", 0},   /* crio-conmon-<id>: the monitor, no match */
	{"libpod-", "podman", 0}, /* libpod-conmon-<id>: likewise */
};

static const char *named_container(const char *c, size_t n, const char **id)
{
	for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
		size_t pl = strlen(named[k].prefix);
		if (!starts(c, n, named[k].prefix, pl))
			continue;
		size_t rest = n - pl;
		int scope = rest == 70 && memcmp(c + pl + 64, ".scope", 6) == 0;
		if (!(scope || (rest == 64 && !named[k].scope_only)))
			continue;
		if (!is_lower_hex(c + pl, 64))
			continue;
		*id = c + pl;
		return named[k].runtime;
	}
	return NULL;
}

/*
 * A systemd pod slice: <base>-pod<uid>.slice whose parent is <base>.slice,
 * base ending in kubepods, kubepods-besteffort or kubepods-burstable (after
 * a '-' if longer: kubelet's --cgroup-root prefixes it).
 */
static size_t systemd_pod(const char *c, size_t n, const char *prev, size_t pn, char *out)
{
	static const char *const bases[] = {"kubepods", "kubepods-besteffort",
					    "kubepods-burstable"};
	if (!ends(c, n, LIT(".slice")))
		return 0;
	for (size_t len = 32; len <= 36; len += 4) {
		if (n < 6 + len + 4 + 8)
			continue;
		size_t base_n = n - 6 - len - 4;
		if (memcmp(c + base_n, "-pod", 4) != 0)
			continue;
		int base_ok = 0;
		for (size_t k = 0; k < 3; k++) {
			size_t m = strlen(bases[k]);
			if (ends(c, base_n, bases[k], m) && (base_n == m || c[base_n - m - 1] == '-'))
				base_ok = 1;
		}
		if (!base_ok || pn != base_n + 6 || memcmp(prev, c, base_n) != 0 ||
		    memcmp(prev + base_n, ".slice", 6) != 0)
			continue;
		size_t u = pod_uid(c + base_n + 4, len, '_', out);
		if (u)
			return u;
	}
	return 0;
}

int eg_container_parse(const char *path, size_t len, struct eg_container_name *out)
{
	const char *prev = NULL, *prev2 = NULL;
	size_t pn = 0, pn2 = 0;
	int prev_pod = 0;

	out->id = empty;
	out->id_len = 0;
	out->runtime = "host";
	out->runtime_len = 4;
	out->pod_uid[0] = 0;
	out->pod_uid_len = 0;

	for (size_t i = 0; i < len;) {
		if (path[i] == '/') {
			i++;
			continue;
		}
		const char *c = path + i;
		const char *slash = memchr(c, '/', len - i);
		size_t n = slash ? (size_t)(slash - c) : len - i;
		i += n;

		const char *id = NULL, *rt = named_container(c, n, &id);
		if (!rt && n == 64 && is_lower_hex(c, 64)) {
			if (prev && eq(prev, pn, LIT("docker")))
				rt = "docker";
			else if (prev_pod)
				rt = "cri";
			id = c;
		}
		if (rt) {
			out->id = id;
			out->id_len = 64;
			out->runtime = rt;
			out->runtime_len = (uint32_t)strlen(rt);
			return 1;
		}

		int is_pod = 0;
		if (!out->pod_uid_len && prev) {
			size_t u = 0;
			if (starts(c, n, LIT("pod")) &&
			    (eq(prev, pn, LIT("kubepods")) ||
			     ((eq(prev, pn, LIT("besteffort")) || eq(prev, pn, LIT("burstable"))) &&
			      prev2 && eq(prev2, pn2, LIT("kubepods")))))
				u = pod_uid(c + 3, n - 3, '-', out->pod_uid);
			if (u)
				is_pod = 1;
			else
				u = systemd_pod(c, n, prev, pn, out->pod_uid);
			out->pod_uid_len = (uint32_t)u;
		}
		prev2 = prev;
		pn2 = pn;
		prev = c;
		pn = n;
		prev_pod = is_pod;
	}
	return 0;
}

/* ---- finding the cgroup v2 mount ------------------------------------------ */

static int is_cgroup2(const char *path)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && (unsigned long)sf.f_type == CGROUP2_SUPER_MAGIC;
}

static int put(char *out, size_t cap, const char *s, size_t n)
{
	if (n + 1 > cap)
		return -ENAMETOOLONG;
	memcpy(out, s, n);
	out[n] = 0;
	return 0;
}

static int octal(char c, char max)
{
	return c >= '0' && c <= max;
}

/* Undoes mountinfo's octal escapes (\040) in s[0..n) in place. Its new length. */
static size_t unescape(char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 3 < n && octal(s[i + 1], '3') && octal(s[i + 2], '7') &&
		    octal(s[i + 3], '7')) {
			s[o++] = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		} else {
			s[o++] = s[i];
		}
	}
	return o;
}

int eg_cgroup2_root(char *out, size_t cap)
{
	if (is_cgroup2("/sys/fs/cgroup"))
		return put(out, cap, LIT("/sys/fs/cgroup"));
	if (is_cgroup2("/sys/fs/cgroup/unified"))
		return put(out, cap, LIT("/sys/fs/cgroup/unified"));

	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t n;
	int rc = -ENOENT;
	while ((n = getline(&line, &lcap, f)) > 0) {
		/* id parent maj:min root mountpoint options... - fstype source ... */
		char *sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		char *p = line;
		for (int field = 0; field < 4 && p; field++) {
			p = strchr(p, ' ');
			if (p)
				p++;
		}
		if (!p || p >= sep)
			continue;
		char *end = strchr(p, ' ');
		if (!end)
			continue;
		rc = put(out, cap, p, unescape(p, (size_t)(end - p)));
		break;
	}
	free(line);
	fclose(f);
	return rc;
}

/* ---- the cache ------------------------------------------------------------ */

struct entry {
	struct eg_container c; /* first: what eg_cgroups_get() hands out */
	struct entry *next;    /* on the retired list */
	int64_t retry_at;      /* negative entries: when to look again */
	uint8_t ref;           /* hit since the clock hand last passed (0 when
				* made: an id asked for once goes first) */
	uint8_t negative;
	char buf[];            /* path, id, pod uid: NUL-terminated */
};

struct eg_cgroups {
	struct entry **slots; /* open addressing, linear probing, no tombstones */
	uint32_t mask;
	uint32_t shift;
	uint32_t cap;
	uint32_t hand;        /* the eviction clock's hand (a slot) */
	struct entry *retired;
	int root_fd;
	dev_t root_dev;
	char *proc_root;
	int64_t walk_interval_ns;
	int64_t retry_ns;
	uint32_t max_depth;
	uint32_t max_dirs;
	int64_t (*clock)(void *arg);
	void *clock_arg;
	int64_t next_walk;    /* a walk is allowed from then on */
	/* the current walk */
	uint64_t want;
	struct entry *found;
	uint32_t walk_dirs;
	int walk_cut;
	struct eg_cgroups_stats st;
	char path[PATH_MAX];  /* the walk's current path; a /proc line's copy */
	char line[PATH_MAX + 64];
};

static int64_t mono_ns(void *arg)
{
	(void)arg;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint32_t home(const struct eg_cgroups *cg, uint64_t id)
{
	return (uint32_t)((id * 0x9E3779B97F4A7C15ull) >> cg->shift);
}

/* The slot holding id, or the empty slot where it would go. */
static uint32_t find(const struct eg_cgroups *cg, uint64_t id)
{
	uint32_t i = home(cg, id);
	while (cg->slots[i] && cg->slots[i]->c.cgroup_id != id)
		i = (i + 1) & cg->mask;
	return i;
}

static void retire(struct eg_cgroups *cg, struct entry *e)
{
	e->next = cg->retired;
	cg->retired = e;
	cg->st.retired++;
}

/* Empties slot i, moving later entries of its probe run back. */
static void remove_slot(struct eg_cgroups *cg, uint32_t i)
{
	uint32_t j = i;
	cg->slots[i] = NULL;
	for (;;) {
		j = (j + 1) & cg->mask;
		if (!cg->slots[j])
			return;
		uint32_t k = home(cg, cg->slots[j]->c.cgroup_id);
		/* the entry at j may move to i unless its home lies in (i, j] */
		int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (stays)
			continue;
		cg->slots[i] = cg->slots[j];
		cg->slots[j] = NULL;
		i = j;
	}
}

/* Evicts one entry: the first the clock hand finds unused since its last pass. */
static void evict(struct eg_cgroups *cg)
{
	for (;;) {
		uint32_t i = cg->hand;
		cg->hand = (cg->hand + 1) & cg->mask;
		struct entry *e = cg->slots[i];
		if (!e)
			continue;
		if (e->ref) {
			e->ref = 0;
			continue;
		}
		remove_slot(cg, i);
		retire(cg, e);
		cg->st.entries--;
		cg->st.evictions++;
		return;
	}
}

/*
 * Puts e in the cache: it replaces the entry of the same id (retired), or
 * takes a free slot, evicting one when full unless !may_evict (then e is
 * freed and NULL returned).
 */
static struct entry *insert(struct eg_cgroups *cg, struct entry *e, int may_evict)
{
	uint32_t i = find(cg, e->c.cgroup_id);
	if (cg->slots[i]) {
		retire(cg, cg->slots[i]);
		cg->slots[i] = e;
		return e;
	}
	if (cg->st.entries >= cg->cap) {
		if (!may_evict) {
			free(e);
			return NULL;
		}
		evict(cg);
		i = find(cg, e->c.cgroup_id);
	}
	cg->slots[i] = e;
	cg->st.entries++;
	return e;
}

/* A positive entry for path[0..n) (already checked to be id's directory). */
static struct entry *make_entry(uint64_t id, const char *path, size_t n)
{
	struct eg_container_name nm;
	eg_container_parse(path, n, &nm);
	size_t sz = sizeof(struct entry) + n + 1 + nm.id_len + 1 + nm.pod_uid_len + 1;
	struct entry *e = malloc(sz);
	if (!e)
		return NULL;
	char *p = e->buf;
	memset(e, 0, sizeof(*e));
	e->c.cgroup_id = id;
	e->c.cgroup = p;
	e->c.cgroup_len = (uint32_t)n;
	memcpy(p, path, n);
	p[n] = 0;
	p += n + 1;
	e->c.id = p;
	e->c.id_len = nm.id_len;
	memcpy(p, nm.id, nm.id_len);
	p[nm.id_len] = 0;
	p += nm.id_len + 1;
	e->c.pod_uid = p;
	e->c.pod_uid_len = nm.pod_uid_len;
	memcpy(p, nm.pod_uid, nm.pod_uid_len + 1);
	e->c.runtime = nm.runtime;
	e->c.runtime_len = nm.runtime_len;
	return e;
}

/* Caches a directory the walk or /proc showed us: the wanted id evicting if
 * need be, others only into free room and not over a positive entry. */
static void remember(struct eg_cgroups *cg, uint64_t id, const char *path, size_t n)
{
	int wanted = id == cg->want;
	if (!wanted) {
		struct entry *old = cg->slots[find(cg, id)];
		if ((old && !old->negative) || (!old && cg->st.entries >= cg->cap))
			return;
	}
	struct entry *e = make_entry(id, path, n);
	if (!e)
		return;
	e = insert(cg, e, wanted);
	if (wanted)
		cg->found = e;
}

/* ---- resolving through /proc/<pid>/cgroup --------------------------------- */

/*
 * The cgroup v2 path of process tgid, copied into cg->path. Its length, or 0
 * when unreadable, absent, too long, or not a plain absolute path.
 */
static size_t proc_path(struct eg_cgroups *cg, uint32_t tgid)
{
	char name[PATH_MAX];
	int k = snprintf(name, sizeof(name), "%s/%u/cgroup", cg->proc_root, tgid);
	if (k < 0 || (size_t)k >= sizeof(name))
		return 0;
	int fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;

	/* Lines are scanned as they come; one longer than the buffer is skipped. */
	char *buf = cg->line;
	size_t cap = sizeof(cg->line), have = 0, found = 0;
	int skipping = 0, done = 0;
	while (!done) {
		ssize_t r = read(fd, buf + have, cap - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		size_t start = 0;
		for (;;) {
			char *nl = memchr(buf + start, '\n', have - start);
			if (!nl)
				break;
			size_t n = (size_t)(nl - (buf + start));
			if (!skipping && starts(buf + start, n, LIT("0::"))) {
				n -= 3;
				if (n < sizeof(cg->path)) {
					memcpy(cg->path, buf + start + 3, n);
					cg->path[n] = 0;
					found = n;
				}
				done = 1;
				break;
			}
			skipping = 0;
			start = (size_t)(nl - buf) + 1;
		}
		if (done)
			break;
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have == cap) {
			skipping = 1;
			have = 0;
		}
	}
	close(fd);

	/* "/", or "/" followed by names; no ".", "..", or empty names */
	if (!found || cg->path[0] != '/')
		return 0;
	if (found == 1)
		return 1;
	for (size_t i = 1; i <= found;) {
		size_t n = strcspn(cg->path + i, "/");
		if (n == 0 || n > NAME_MAX || eq(cg->path + i, n, LIT(".")) ||
		    eq(cg->path + i, n, LIT("..")))
			return 0;
		i += n + 1;
	}
	return found;
}

/*
 * Opens cg->path[0..n) below root one name at a time, following no symlink
 * and staying on root's file system. The directory's inode number, or 0.
 */
static uint64_t path_ino(struct eg_cgroups *cg, size_t n)
{
	int fd = cg->root_fd;
	char name[NAME_MAX + 1];
	for (size_t i = 1; i < n;) {
		size_t k = strcspn(cg->path + i, "/");
		memcpy(name, cg->path + i, k);
		name[k] = 0;
		int nfd = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != cg->root_fd)
			close(fd);
		if (nfd < 0)
			return 0;
		fd = nfd;
		i += k + 1;
	}
	struct stat st;
	int ok = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_dev == cg->root_dev;
	if (fd != cg->root_fd)
		close(fd);
	return ok ? (uint64_t)st.st_ino : 0;
}

/* ---- resolving by walking the tree ---------------------------------------- */

/* Visits the directory dfd (owned; path cg->path[0..n), depth levels below
 * root) and everything below it within the bounds. */
static void walk(struct eg_cgroups *cg, int dfd, size_t n, uint32_t depth)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (depth + 1 > cg->max_depth || cg->walk_dirs >= cg->max_dirs) {
			cg->walk_cut = 1;
			if (cg->walk_dirs >= cg->max_dirs)
				break;
			continue;
		}
		size_t k = strlen(de->d_name);
		size_t m = (n == 1 ? 0 : n) + 1 + k;
		if (m >= sizeof(cg->path)) {
			cg->walk_cut = 1;
			continue;
		}
		int cfd = openat(dirfd(d), de->d_name,
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			continue;
		struct stat st;
		if (fstat(cfd, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_dev != cg->root_dev) {
			close(cfd);
			continue;
		}
		size_t at = n == 1 ? 0 : n;
		cg->path[at] = '/';
		memcpy(cg->path + at + 1, de->d_name, k + 1);
		cg->walk_dirs++;
		remember(cg, (uint64_t)st.st_ino, cg->path, m);
		walk(cg, cfd, m, depth + 1);
		cg->path[n] = 0;
	}
	closedir(d);
}

static void walk_tree(struct eg_cgroups *cg)
{
	struct stat st;
	cg->st.scans++;
	cg->walk_dirs = 1;
	cg->walk_cut = 0;
	int fd = openat(cg->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return;
	}
	cg->path[0] = '/';
	cg->path[1] = 0;
	remember(cg, (uint64_t)st.st_ino, cg->path, 1);
	walk(cg, fd, 1, 0);
	cg->st.scan_dirs += cg->walk_dirs;
	if (cg->walk_cut)
		cg->st.scans_cut++;
}

/* ---- the API -------------------------------------------------------------- */

struct eg_cgroups *eg_cgroups_new(const char *root, unsigned capacity)
{
	return eg_cgroups_new_opts(root, capacity, NULL);
}

struct eg_cgroups *eg_cgroups_new_opts(const char *root, unsigned capacity,
				       const struct eg_cgroups_opts *opts)
{
	static const struct eg_cgroups_opts defaults;
	if (!opts)
		opts = &defaults;
	if (capacity < 16)
		capacity = 16;
	if (capacity > 1u << 24)
		capacity = 1u << 24;

	struct eg_cgroups *cg = calloc(1, sizeof(*cg));
	if (!cg)
		return NULL;
	uint32_t bits = 5;
	while ((1u << bits) < 2 * capacity)
		bits++;
	cg->mask = (1u << bits) - 1;
	cg->shift = 64 - bits;
	cg->cap = capacity;
	cg->root_fd = -1;
	cg->slots = calloc((size_t)cg->mask + 1, sizeof(*cg->slots));
	cg->proc_root = strdup(opts->proc_root ? opts->proc_root : "/proc");
	if (!cg->slots || !cg->proc_root)
		goto fail;
	cg->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (cg->root_fd < 0 || fstat(cg->root_fd, &st) != 0)
		goto fail;
	cg->root_dev = st.st_dev;
	cg->walk_interval_ns = opts->walk_interval_ns ? opts->walk_interval_ns : 100000000;
	if (cg->walk_interval_ns < 0)
		cg->walk_interval_ns = 0;
	cg->retry_ns = opts->retry_ns > 0 ? opts->retry_ns : 1000000000;
	cg->max_depth = opts->max_depth ? opts->max_depth : 32;
	if (cg->max_depth > 256)
		cg->max_depth = 256;
	cg->max_dirs = opts->max_dirs ? opts->max_dirs : 8192;
	cg->clock = opts->clock ? opts->clock : mono_ns;
	cg->clock_arg = opts->clock_arg;
	cg->next_walk = INT64_MIN;
	return cg;
fail:;
	int e = errno ? errno : ENOMEM;
	eg_cgroups_free(cg);
	errno = e;
	return NULL;
}

/* A miss: /proc, then a walk if the rate allows, else a negative entry. */
static const struct eg_container *resolve(struct eg_cgroups *cg, uint64_t id, uint32_t tgid,
					  struct entry *neg, int64_t now)
{
	cg->want = id;
	cg->found = NULL;

	size_t n = tgid ? proc_path(cg, tgid) : 0;
	if (n) {
		uint64_t ino = path_ino(cg, n);
		if (ino == id)
			cg->st.proc_ok++;
		if (ino)
			remember(cg, ino, cg->path, n);
		if (cg->found)
			return &cg->found->c;
	}

	int throttled = now < cg->next_walk;
	if (!throttled) {
		cg->next_walk = now + cg->walk_interval_ns;
		walk_tree(cg);
		if (cg->found)
			return &cg->found->c;
	} else {
		cg->st.throttled++;
	}

	int64_t retry = now + cg->retry_ns;
	if (throttled && cg->next_walk < retry)
		retry = cg->next_walk;
	if (neg) {
		neg->retry_at = retry;
		return &neg->c;
	}
	struct entry *e = calloc(1, sizeof(*e));
	if (!e)
		return &eg_container_none;
	e->c.cgroup_id = id;
	e->c.cgroup = e->c.id = e->c.runtime = e->c.pod_uid = empty;
	e->negative = 1;
	e->retry_at = retry;
	cg->st.negative++;
	insert(cg, e, 1);
	return &e->c;
}

const struct eg_container *eg_cgroups_get(struct eg_cgroups *cg, uint64_t cgroup_id,
					  uint32_t tgid_hint)
{
	struct entry *e = cg->slots[find(cg, cgroup_id)];
	int64_t now = 0;
	if (e) {
		if (!e->negative || (now = cg->clock(cg->clock_arg)) < e->retry_at) {
			cg->st.hits++;
			e->ref = 1;
			return &e->c;
		}
	} else {
		now = cg->clock(cg->clock_arg);
	}
	cg->st.misses++;
	return resolve(cg, cgroup_id, tgid_hint, e, now);
}

void eg_cgroups_reap(struct eg_cgroups *cg)
{
	struct entry *e = cg->retired;
	while (e) {
		struct entry *next = e->next;
		free(e);
		e = next;
	}
	cg->retired = NULL;
	cg->st.retired = 0;
}

void eg_cgroups_free(struct eg_cgroups *cg)
{
	if (!cg)
		return;
	eg_cgroups_reap(cg);
	if (cg->slots)
		for (uint32_t i = 0; i <= cg->mask; i++)
			free(cg->slots[i]);
	free(cg->slots);
	free(cg->proc_root);
	if (cg->root_fd >= 0)
		close(cg->root_fd);
	free(cg);
}

const struct eg_cgroups_stats *eg_cgroups_stats(const struct eg_cgroups *cg)
{
	return &cg->st;
}
