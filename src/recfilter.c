/* SPDX-License-Identifier: MIT */
#include "recfilter.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Backtracking bound per -record-comm match (a task name is 15 bytes). */
#define COMM_MATCH_LIMIT 100000
#define SET_MIN_CAP 64

/* A set of tgids: open addressing, linear probing, 0 marks a free slot. */
struct tgid_set {
	uint32_t *slot;
	size_t cap, n; /* cap: a power of two */
};

struct eg_recfilter {
	uint32_t types;
	bool by_pid;
	struct tgid_set members;
	pcre2_code **comms;
	size_t ncomms;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	char **cgroups;
	size_t *cgroup_lens;
	size_t ncgroups;
};

static size_t hash(uint32_t k, size_t cap)
{
	return (size_t)((k * 2654435761u) & (cap - 1));
}

static bool set_has(const struct tgid_set *s, uint32_t k)
{
	if (!s->cap || !k)
		return false;
	for (size_t i = hash(k, s->cap);; i = (i + 1) & (s->cap - 1)) {
		if (s->slot[i] == k)
			return true;
		if (!s->slot[i])
			return false;
	}
}

static int set_add(struct tgid_set *s, uint32_t k);

static int set_grow(struct tgid_set *s)
{
	struct tgid_set g = {.cap = s->cap ? s->cap * 2 : SET_MIN_CAP};
	g.slot = calloc(g.cap, sizeof(*g.slot));
	if (!g.slot)
		return -1;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slot[i])
			set_add(&g, s->slot[i]);
	free(s->slot);
	*s = g;
	return 0;
}

/* Adds k (not 0). Returns 1 when added, 0 when already there, -1 when out
 * of memory (the set is unchanged). */
static int set_add(struct tgid_set *s, uint32_t k)
{
	if ((s->n + 1) * 2 > s->cap && set_grow(s))
		return -1;
	size_t i = hash(k, s->cap);
	for (; s->slot[i]; i = (i + 1) & (s->cap - 1))
		if (s->slot[i] == k)
			return 0;
	s->slot[i] = k;
	s->n++;
	return 1;
}

/* Removes k, shifting back the entries of its probe run. */
static void set_del(struct tgid_set *s, uint32_t k)
{
	if (!s->cap || !k)
		return;
	size_t mask = s->cap - 1, i = hash(k, s->cap);
	for (; s->slot[i] != k; i = (i + 1) & mask)
		if (!s->slot[i])
			return;
	for (size_t j = (i + 1) & mask; s->slot[j]; j = (j + 1) & mask) {
		size_t h = hash(s->slot[j], s->cap);
		/* the entry at j may move to i when i lies on its probe path h..j */
		if (((j - h) & mask) >= ((j - i) & mask)) {
			s->slot[i] = s->slot[j];
			i = j;
		}
	}
	s->slot[i] = 0;
	s->n--;
}

/* Levenshtein distance of two short names (type names: at most 15 bytes
 * count; longer input is cut there). */
static size_t distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t prev[32], cur[32];
	if (la > 31)
		la = 31;
	if (lb > 31)
		lb = 31;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			size_t c = prev[j - 1] + (tolower((unsigned char)a[i - 1]) != b[j - 1]);
			if (c < v)
				v = c;
			cur[j] = v;
		}
		memcpy(prev, cur, (lb + 1) * sizeof(*prev));
	}
	return prev[lb];
}

int eg_recfilter_parse_types(const char *list, uint32_t *mask, char *err, size_t errlen)
{
	const char *s = list;
	do {
		size_t n = strcspn(s, ",");
		uint32_t t = 0, best = 0;
		size_t bestd = (size_t)-1;
		for (uint32_t k = EG_EV_EXEC; k <= EG_EV_MAX && !t; k++) {
			const char *name = eg_event_type_name(k);
			size_t d = distance(s, n, name, strlen(name));
			if (strlen(name) == n && !memcmp(s, name, n))
				t = k;
			else if (d < bestd)
				best = k, bestd = d;
		}
		if (!t) {
			size_t close = n / 3 > 2 ? n / 3 : 2;
			if (!n)
				snprintf(err, errlen, "-record-types: empty event type name in \"%s\"", list);
			else if (bestd <= close)
				snprintf(err, errlen,
					 "-record-types: unknown event type \"%.*s\" (did you mean \"%s\"?)",
					 (int)n, s, eg_event_type_name(best));
			else
				snprintf(err, errlen,
					 "-record-types: unknown event type \"%.*s\" (expected one of exec, "
					 "open, connect, exit, memfd, ptrace, module, bpf, setid, namespace, "
					 "mount, link, rename, unlink, chmod, dup, listen, accept)",
					 (int)n, s);
			return -1;
		}
		*mask |= 1u << t;
		s += n;
	} while (*s++);
	return 0;
}

struct eg_recfilter *eg_recfilter_new(const struct eg_recfilter_opts *o, char *err, size_t errlen)
{
	struct eg_recfilter *f = calloc(1, sizeof(*f));
	if (!f)
		goto oom;
	f->types = o->types;
	f->by_pid = o->npids > 0;
	for (size_t i = 0; i < o->npids; i++)
		if (o->pids[i] && set_add(&f->members, o->pids[i]) < 0)
			goto oom;
	if (o->ncomms) {
		f->comms = calloc(o->ncomms, sizeof(*f->comms));
		f->md = pcre2_match_data_create(1, NULL);
		f->mctx = pcre2_match_context_create(NULL);
		if (!f->comms || !f->md || !f->mctx)
			goto oom;
		pcre2_set_match_limit(f->mctx, COMM_MATCH_LIMIT);
	}
	for (size_t i = 0; i < o->ncomms; i++) {
		int ec;
		PCRE2_SIZE off;
		f->comms[i] = pcre2_compile((PCRE2_SPTR)o->comms[i], PCRE2_ZERO_TERMINATED, 0, &ec, &off,
					    NULL);
		if (!f->comms[i]) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(ec, msg, sizeof(msg));
			snprintf(err, errlen, "invalid -record-comm '%s': %s at offset %zu", o->comms[i],
				 (const char *)msg, (size_t)off);
			eg_recfilter_free(f);
			return NULL;
		}
		f->ncomms++;
	}
	if (o->ncgroups) {
		f->cgroups = calloc(o->ncgroups, sizeof(*f->cgroups));
		f->cgroup_lens = calloc(o->ncgroups, sizeof(*f->cgroup_lens));
		if (!f->cgroups || !f->cgroup_lens)
			goto oom;
	}
	for (size_t i = 0; i < o->ncgroups; i++) {
		f->cgroups[i] = strdup(o->cgroups[i]);
		if (!f->cgroups[i])
			goto oom;
		f->cgroup_lens[i] = strlen(f->cgroups[i]);
		f->ncgroups++;
	}
	return f;
oom:
	snprintf(err, errlen, "out of memory");
	eg_recfilter_free(f);
	return NULL;
}

void eg_recfilter_free(struct eg_recfilter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->ncomms; i++)
		pcre2_code_free(f->comms[i]);
	free(f->comms);
	pcre2_match_data_free(f->md);
	pcre2_match_context_free(f->mctx);
	for (size_t i = 0; i < f->ncgroups; i++)
		free(f->cgroups[i]);
	free(f->cgroups);
	free(f->cgroup_lens);
	free(f->members.slot);
	free(f);
}

uint32_t eg_recfilter_types(const struct eg_recfilter *f)
{
	return f ? f->types : 0;
}

bool eg_recfilter_member(const struct eg_recfilter *f, uint32_t tgid)
{
	return f && set_has(&f->members, tgid);
}

/* The subtree test; makes tgid a member when its parent is one. */
static bool in_subtree(struct eg_recfilter *f, const struct eg_event *ev)
{
	if (set_has(&f->members, ev->tgid))
		return true;
	const struct eg_proc *pr = eg_ev_proc(ev);
	if (set_has(&f->members, ev->ppid) || set_has(&f->members, pr->ppid) ||
	    set_has(&f->members, pr->parent_tgid)) {
		set_add(&f->members, ev->tgid); /* out of memory: this event still counts */
		return true;
	}
	return false;
}

bool eg_recfilter_match(struct eg_recfilter *f, const struct eg_event *ev)
{
	if (!f)
		return true;
	bool ok = !f->types || (ev->type <= EG_EV_MAX && (f->types & (1u << ev->type)));
	if (f->by_pid) {
		/* before the other tests: an event of any type teaches membership */
		ok = in_subtree(f, ev) && ok;
		if (ev->type == EG_EV_EXIT)
			set_del(&f->members, ev->tgid);
	}
	if (ok && f->ncomms) {
		bool any = false;
		for (size_t i = 0; i < f->ncomms && !any; i++)
			any = pcre2_match(f->comms[i], (PCRE2_SPTR)ev->comm, ev->comm_len, 0, 0, f->md,
					  f->mctx) >= 0;
		ok = any;
	}
	if (ok && f->ncgroups) {
		const struct eg_container *c = eg_ev_ctr(ev);
		const char *cg = c->cgroup ? c->cgroup : "";
		bool any = false;
		for (size_t i = 0; i < f->ncgroups && !any; i++)
			any = c->cgroup_len >= f->cgroup_lens[i] &&
			      !memcmp(cg, f->cgroups[i], f->cgroup_lens[i]);
		ok = any;
	}
	return ok;
}

void eg_recfilter_fork(struct eg_recfilter *f, uint32_t child, uint32_t parent)
{
	if (f && f->by_pid && set_has(&f->members, parent))
		set_add(&f->members, child);
}

void eg_recfilter_exit(struct eg_recfilter *f, uint32_t tgid)
{
	if (f && f->by_pid)
		set_del(&f->members, tgid);
}

/* The parent pid from /proc/<pid>/stat ("pid (comm) S ppid ..."), 0 when
 * unreadable. */
static uint32_t proc_ppid(int dirfd, const char *pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "%s/stat", pid);
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	const char *p = strrchr(buf, ')');
	unsigned long ppid;
	char state;
	if (!p || sscanf(p + 1, " %c %lu", &state, &ppid) != 2 || ppid > UINT32_MAX)
		return 0;
	return (uint32_t)ppid;
}

unsigned eg_recfilter_scan_proc(struct eg_recfilter *f, const char *proc_root)
{
	if (!f || !f->by_pid)
		return 0;
	DIR *d = opendir(proc_root ? proc_root : "/proc");
	if (!d)
		return 0;
	uint32_t(*pp)[2] = NULL; /* {pid, ppid} */
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);
		if (*end || !pid || pid > UINT32_MAX)
			continue;
		uint32_t ppid = proc_ppid(dirfd(d), de->d_name);
		if (!ppid)
			continue;
		if (n == cap) {
			void *q = realloc(pp, (cap = cap ? cap * 2 : 1024) * sizeof(*pp));
			if (!q)
				break;
			pp = q;
		}
		pp[n][0] = (uint32_t)pid;
		pp[n][1] = ppid;
		n++;
	}
	closedir(d);
	/* to a fixed point: a pass adds at least one generation */
	unsigned added = 0;
	for (bool more = true; more;) {
		more = false;
		for (size_t i = 0; i < n; i++)
			if (!set_has(&f->members, pp[i][0]) && set_has(&f->members, pp[i][1]) &&
			    set_add(&f->members, pp[i][0]) > 0) {
				added++;
				more = true;
			}
	}
	free(pp);
	return added;
}
