/* SPDX-License-Identifier: MIT */
/* The process table: see proctable.h. */
#include "proctable.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bytes kept of each string read from /proc (as the kernel side's bounds). */
#define PT_STR_MAX 4096
/* How far up /proc a miss reads missing ancestors. */
#define PT_LOAD_DEPTH 8

struct img {
	struct eg_proc p; /* first: events point at it */
	struct img *retired_next;
	size_t bytes;
	uint8_t ref; /* clock bit: used since the hand last passed */
	char data[];
};

struct eg_proctable {
	struct img **slot; /* open addressing by tgid, linear probing */
	uint32_t mask;
	uint32_t n, cap;
	size_t bytes, max_bytes;
	uint32_t hand;
	struct img *last; /* the last image looked up */
	struct img *retired;
	char proc_root[256];
	char boot8[9];
	int64_t boot_to_real;
	long hz;
	struct eg_pt_stats st;
};

static const char empty[1];

static uint32_t hash(uint32_t tgid, uint32_t mask)
{
	return (uint32_t)(((uint64_t)tgid * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

static void read_boot_id(struct eg_proctable *t, const char *given)
{
	char buf[64] = "";
	if (given) {
		snprintf(buf, sizeof(buf), "%s", given);
	} else {
		FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = 0;
			fclose(f);
		}
	}
	size_t n = 0;
	for (const char *s = buf; *s && n < 8; s++)
		if ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))
			t->boot8[n++] = *s;
	while (n < 8)
		t->boot8[n++] = '0';
	t->boot8[8] = 0;
}

struct eg_proctable *eg_pt_new(const struct eg_pt_opts *o)
{
	struct eg_proctable *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cap = o->capacity ? o->capacity : EG_PT_CAPACITY_DEFAULT;
	t->max_bytes = o->max_bytes ? o->max_bytes : EG_PT_BYTES_DEFAULT;
	uint32_t size = 16;
	while (size < t->cap * 2u && size < (1u << 30))
		size <<= 1;
	t->slot = calloc(size, sizeof(*t->slot));
	if (!t->slot) {
		free(t);
		return NULL;
	}
	t->mask = size - 1;
	snprintf(t->proc_root, sizeof(t->proc_root), "%s", o->proc_root ? o->proc_root : "/proc");
	read_boot_id(t, o->boot_id);
	t->boot_to_real = o->boot_to_real;
	t->hz = sysconf(_SC_CLK_TCK);
	if (t->hz <= 0)
		t->hz = 100;
	return t;
}

static void retire(struct eg_proctable *t, struct img *m)
{
	m->retired_next = t->retired;
	t->retired = m;
	t->st.retired++;
}

void eg_pt_reap(struct eg_proctable *t)
{
	struct img *m = t->retired;
	t->retired = NULL;
	while (m) {
		struct img *next = m->retired_next;
		free(m);
		m = next;
	}
}

void eg_pt_free(struct eg_proctable *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i <= t->mask; i++)
		free(t->slot[i]);
	eg_pt_reap(t);
	free(t->slot);
	free(t);
}

void eg_pt_stats(const struct eg_proctable *t, struct eg_pt_stats *s)
{
	*s = t->st;
	s->entries = t->n;
	s->bytes = t->bytes;
}

/* ---- the hash ------------------------------------------------------------ */

static uint32_t find(const struct eg_proctable *t, uint32_t tgid)
{
	uint32_t i = hash(tgid, t->mask);
	while (t->slot[i] && t->slot[i]->p.tgid != tgid)
		i = (i + 1) & t->mask;
	return i;
}

/* Takes slot i out (backward-shift deletion) and retires its image. */
static void remove_at(struct eg_proctable *t, uint32_t i)
{
	struct img *m = t->slot[i];
	t->slot[i] = NULL;
	t->n--;
	t->bytes -= m->bytes;
	if (t->last == m)
		t->last = NULL;
	retire(t, m);
	uint32_t j = i;
	for (;;) {
		j = (j + 1) & t->mask;
		struct img *x = t->slot[j];
		if (!x)
			break;
		uint32_t h = hash(x->p.tgid, t->mask);
		/* x may move to the hole at i unless its home lies in (i, j] */
		if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
			t->slot[i] = x;
			t->slot[j] = NULL;
			i = j;
		}
	}
}

/* Evicts images, least recently used first, until one more of `need` bytes
 * fits. */
static void make_room(struct eg_proctable *t, size_t need)
{
	uint32_t steps = 0, limit = 4 * (t->mask + 1);
	while (t->n && (t->n >= t->cap || t->bytes + need > t->max_bytes) && steps++ < limit) {
		uint32_t i = t->hand & t->mask;
		struct img *m = t->slot[i];
		if (!m) {
			t->hand++;
			continue;
		}
		if (m->ref) {
			m->ref = 0;
			t->hand++;
			continue;
		}
		remove_at(t, i); /* the slot may now hold a shifted image: look again */
		t->st.evictions++;
	}
}

static void insert(struct eg_proctable *t, struct img *m)
{
	uint32_t i = find(t, m->p.tgid);
	if (t->slot[i]) {
		remove_at(t, i);
		i = find(t, m->p.tgid);
	}
	make_room(t, m->bytes);
	i = find(t, m->p.tgid);
	t->slot[i] = m;
	t->n++;
	t->bytes += m->bytes;
	m->ref = 1;
	t->last = m;
}

static struct img *lookup(struct eg_proctable *t, uint32_t tgid)
{
	struct img *m = t->last;
	if (m && m->p.tgid == tgid)
		return m;
	m = t->slot[find(t, tgid)];
	if (m) {
		m->ref = 1;
		t->last = m;
	}
	return m;
}

/* ---- building images ----------------------------------------------------- */

/* The strings of a new image, before packing. */
struct parts {
	const char *s[10];
	uint32_t n[10];
	const char *anc[2 * EG_ANCESTORS_MAX];
	uint32_t ancn[2 * EG_ANCESTORS_MAX];
	uint32_t nanc;
};
enum { S_EXEC_ID, S_COMM, S_EXE, S_ARGS, S_CWD, S_TTY, S_PEXEC_ID, S_PCOMM, S_PEXE, S_PARGS };

static char *put(char **d, const char *s, uint32_t n)
{
	char *r = *d;
	if (n)
		memcpy(r, s, n);
	r[n] = 0;
	*d += n + 1;
	return r;
}

/* Packs the strings after the image; fills p's pointers and lengths. */
static struct img *pack(const struct eg_proc *base, const struct parts *x)
{
	size_t total = sizeof(struct img);
	for (int i = 0; i < 10; i++)
		total += x->n[i] + 1;
	for (uint32_t i = 0; i < 2 * x->nanc; i++)
		total += x->ancn[i] + 1;
	struct img *m = malloc(total);
	if (!m)
		return NULL;
	m->p = *base;
	m->bytes = total;
	m->ref = 1;
	m->retired_next = NULL;
	char *d = m->data;
	struct eg_proc *p = &m->p;
	p->exec_id = put(&d, x->s[S_EXEC_ID], x->n[S_EXEC_ID]);
	p->exec_id_len = x->n[S_EXEC_ID];
	p->comm = put(&d, x->s[S_COMM], x->n[S_COMM]);
	p->comm_len = x->n[S_COMM];
	p->exe = put(&d, x->s[S_EXE], x->n[S_EXE]);
	p->exe_len = x->n[S_EXE];
	/* args: NUL-separated already; one more NUL after them */
	p->args = put(&d, x->s[S_ARGS], x->n[S_ARGS]);
	p->args_len = x->n[S_ARGS];
	p->cwd = put(&d, x->s[S_CWD], x->n[S_CWD]);
	p->cwd_len = x->n[S_CWD];
	p->tty = put(&d, x->s[S_TTY], x->n[S_TTY]);
	p->tty_len = x->n[S_TTY];
	p->parent_exec_id = put(&d, x->s[S_PEXEC_ID], x->n[S_PEXEC_ID]);
	p->parent_exec_id_len = x->n[S_PEXEC_ID];
	p->parent_comm = put(&d, x->s[S_PCOMM], x->n[S_PCOMM]);
	p->parent_comm_len = x->n[S_PCOMM];
	p->parent_exe = put(&d, x->s[S_PEXE], x->n[S_PEXE]);
	p->parent_exe_len = x->n[S_PEXE];
	p->parent_args = put(&d, x->s[S_PARGS], x->n[S_PARGS]);
	p->parent_args_len = x->n[S_PARGS];
	p->nancestors = x->nanc;
	for (uint32_t i = 0; i < EG_ANCESTORS_MAX; i++) {
		struct eg_ancestor *a = &p->ancestors[i];
		if (i < x->nanc) {
			a->comm = put(&d, x->anc[2 * i], x->ancn[2 * i]);
			a->comm_len = x->ancn[2 * i];
			a->exe = put(&d, x->anc[2 * i + 1], x->ancn[2 * i + 1]);
			a->exe_len = x->ancn[2 * i + 1];
		} else {
			a->comm = a->exe = empty;
			a->comm_len = a->exe_len = 0;
		}
	}
	return m;
}

/* The parent part of an image: a snapshot of the parent's image par (NULL:
 * unknown, then only its tgid). */
static void set_parent(struct eg_proc *base, struct parts *x, const struct eg_proc *par,
		       uint32_t ppid)
{
	base->parent_tgid = ppid;
	if (!par) {
		base->parent_argc = 0;
		x->s[S_PEXEC_ID] = x->s[S_PCOMM] = x->s[S_PEXE] = x->s[S_PARGS] = empty;
		x->n[S_PEXEC_ID] = x->n[S_PCOMM] = x->n[S_PEXE] = x->n[S_PARGS] = 0;
		x->nanc = 0;
		return;
	}
	base->parent_tgid = par->tgid;
	base->parent_argc = par->argc;
	x->s[S_PEXEC_ID] = par->exec_id;
	x->n[S_PEXEC_ID] = par->exec_id_len;
	x->s[S_PCOMM] = par->comm;
	x->n[S_PCOMM] = par->comm_len;
	x->s[S_PEXE] = par->exe;
	x->n[S_PEXE] = par->exe_len;
	x->s[S_PARGS] = par->args;
	x->n[S_PARGS] = par->args_len;
	x->anc[0] = par->comm;
	x->ancn[0] = par->comm_len;
	x->anc[1] = par->exe;
	x->ancn[1] = par->exe_len;
	x->nanc = 1;
	for (uint32_t i = 0; i < par->nancestors && x->nanc < EG_ANCESTORS_MAX; i++) {
		x->anc[2 * x->nanc] = par->ancestors[i].comm;
		x->ancn[2 * x->nanc] = par->ancestors[i].comm_len;
		x->anc[2 * x->nanc + 1] = par->ancestors[i].exe;
		x->ancn[2 * x->nanc + 1] = par->ancestors[i].exe_len;
		x->nanc++;
	}
}

static uint32_t exec_id(const struct eg_proctable *t, char *out, size_t n, uint64_t boot_ns,
			uint32_t tgid)
{
	int k = snprintf(out, n, "%s:%llu:%u", t->boot8, (unsigned long long)boot_ns, tgid);
	return k < 0 ? 0 : (uint32_t)((size_t)k < n ? (size_t)k : n - 1);
}

size_t eg_tty_name(char *out, size_t n, uint32_t major, uint32_t minor)
{
	int k;
	if (major >= 136 && major <= 143)
		k = snprintf(out, n, "pts/%u", (major - 136) * 256 + minor);
	else if (major == 4 && minor < 64)
		k = snprintf(out, n, "tty%u", minor);
	else if (major == 4)
		k = snprintf(out, n, "ttyS%u", minor - 64);
	else if (major == 5 && minor == 0)
		k = snprintf(out, n, "tty");
	else if (major == 5 && minor == 1)
		k = snprintf(out, n, "console");
	else if (major == 5 && minor == 2)
		k = snprintf(out, n, "ptmx");
	else
		k = snprintf(out, n, "tty(%u:%u)", major, minor);
	return k < 0 ? 0 : ((size_t)k < n ? (size_t)k : n - 1);
}

static struct img *load(struct eg_proctable *t, uint32_t tgid, int depth);

/* The parent's image for a new one: in the table, else from /proc. */
static const struct eg_proc *parent_of(struct eg_proctable *t, uint32_t ppid, int depth)
{
	if (!ppid)
		return NULL;
	struct img *m = lookup(t, ppid);
	if (!m && depth > 0)
		m = load(t, ppid, depth - 1);
	return m ? &m->p : NULL;
}

const struct eg_proc *eg_pt_exec(struct eg_proctable *t, const struct eg_pt_exec *in)
{
	struct eg_proc base = {0};
	struct parts x = {0};
	char id[64], tty[32];
	base.start_ns = in->start_ns;
	base.start_boottime = in->start_boottime;
	base.tgid = in->tgid;
	base.ppid = in->ppid;
	base.uid = in->uid;
	base.gid = in->gid;
	base.loginuid = in->loginuid;
	base.flags = in->flags & ~(EG_PROCF_SEEDED | EG_PROCF_FORKED | EG_PROCF_UNKNOWN);
	base.argc = in->argc;
	x.s[S_EXEC_ID] = id;
	x.n[S_EXEC_ID] = exec_id(t, id, sizeof(id), in->boot_ns, in->tgid);
	x.s[S_COMM] = in->comm;
	x.n[S_COMM] = in->comm_len;
	x.s[S_EXE] = in->exe;
	x.n[S_EXE] = in->exe_len;
	x.s[S_ARGS] = in->args;
	x.n[S_ARGS] = in->args_len;
	x.s[S_CWD] = in->cwd;
	x.n[S_CWD] = in->cwd_len;
	x.s[S_TTY] = tty;
	x.n[S_TTY] = in->tty_dev ? (uint32_t)eg_tty_name(tty, sizeof(tty), in->tty_dev >> 20,
							 in->tty_dev & 0xfffff)
				 : 0;
	/* the parent now; when it is gone, the one the previous image knew */
	const struct eg_proc *par = parent_of(t, in->ppid, PT_LOAD_DEPTH);
	struct img *prev = lookup(t, in->tgid);
	if (par) {
		set_parent(&base, &x, par, in->ppid);
	} else if (prev) {
		set_parent(&base, &x, NULL, in->ppid);
		const struct eg_proc *pp = &prev->p;
		base.parent_tgid = pp->parent_tgid;
		base.parent_argc = pp->parent_argc;
		x.s[S_PEXEC_ID] = pp->parent_exec_id;
		x.n[S_PEXEC_ID] = pp->parent_exec_id_len;
		x.s[S_PCOMM] = pp->parent_comm;
		x.n[S_PCOMM] = pp->parent_comm_len;
		x.s[S_PEXE] = pp->parent_exe;
		x.n[S_PEXE] = pp->parent_exe_len;
		x.s[S_PARGS] = pp->parent_args;
		x.n[S_PARGS] = pp->parent_args_len;
		x.nanc = pp->nancestors;
		for (uint32_t i = 0; i < x.nanc; i++) {
			x.anc[2 * i] = pp->ancestors[i].comm;
			x.ancn[2 * i] = pp->ancestors[i].comm_len;
			x.anc[2 * i + 1] = pp->ancestors[i].exe;
			x.ancn[2 * i + 1] = pp->ancestors[i].exe_len;
		}
	} else {
		set_parent(&base, &x, NULL, in->ppid);
	}
	struct img *m = pack(&base, &x);
	if (!m)
		return NULL;
	insert(t, m);
	return &m->p;
}

const struct eg_proc *eg_pt_fork(struct eg_proctable *t, uint32_t child, uint32_t ppid,
				 uint32_t forker, const char *comm, size_t comm_len, uint32_t uid,
				 uint32_t gid, int64_t start_ns, uint64_t boot_ns,
				 uint64_t start_boottime)
{
	struct img *src = lookup(t, forker);
	if (!src)
		src = load(t, forker, PT_LOAD_DEPTH);
	if (!src)
		return NULL;
	const struct eg_proc *s = &src->p;
	struct eg_proc base = *s;
	struct parts x = {0};
	char id[64];
	base.start_ns = start_ns;
	base.start_boottime = start_boottime;
	base.tgid = child;
	base.ppid = ppid;
	base.uid = uid;
	base.gid = gid;
	base.flags = (s->flags & ~(EG_PROCF_SEEDED | EG_PROCF_UNKNOWN)) | EG_PROCF_FORKED;
	x.s[S_EXEC_ID] = id;
	x.n[S_EXEC_ID] = exec_id(t, id, sizeof(id), boot_ns, child);
	x.s[S_COMM] = comm;
	x.n[S_COMM] = (uint32_t)strnlen(comm, comm_len);
	x.s[S_EXE] = s->exe;
	x.n[S_EXE] = s->exe_len;
	x.s[S_ARGS] = s->args;
	x.n[S_ARGS] = s->args_len;
	x.s[S_CWD] = s->cwd;
	x.n[S_CWD] = s->cwd_len;
	x.s[S_TTY] = s->tty;
	x.n[S_TTY] = s->tty_len;
	/* CLONE_PARENT: the parent is the caller's parent, not the caller */
	set_parent(&base, &x, ppid == forker ? s : parent_of(t, ppid, PT_LOAD_DEPTH), ppid);
	struct img *m = pack(&base, &x);
	if (!m)
		return NULL;
	insert(t, m);
	return &m->p;
}

const struct eg_proc *eg_pt_get(struct eg_proctable *t, uint32_t tgid, bool load_it)
{
	struct img *m = lookup(t, tgid);
	if (m)
		return &m->p;
	if (!load_it)
		return NULL;
	t->st.misses++;
	m = load(t, tgid, PT_LOAD_DEPTH);
	return m ? &m->p : NULL;
}

const struct eg_proc *eg_pt_unknown(struct eg_proctable *t, uint32_t tgid, uint32_t ppid,
				    const char *comm, size_t comm_len, uint32_t uid, uint32_t gid)
{
	struct eg_proc base = {0};
	struct parts x = {0};
	base.tgid = tgid;
	base.ppid = ppid;
	base.uid = uid;
	base.gid = gid;
	base.loginuid = -1;
	base.flags = EG_PROCF_UNKNOWN;
	for (int i = S_EXEC_ID; i <= S_TTY; i++)
		x.s[i] = empty;
	x.s[S_COMM] = comm;
	x.n[S_COMM] = (uint32_t)strnlen(comm, comm_len);
	/* the parent, when the table holds it (no /proc read for a process
	 * that is gone) */
	set_parent(&base, &x, parent_of(t, ppid, 0), ppid);
	struct img *m = pack(&base, &x);
	if (!m)
		return NULL;
	insert(t, m);
	return &m->p;
}

void eg_pt_exit(struct eg_proctable *t, uint32_t tgid)
{
	uint32_t i = find(t, tgid);
	if (t->slot[i])
		remove_at(t, i);
}

/* ---- /proc --------------------------------------------------------------- */

/* Reads up to cap - 1 bytes of root/tgid/name into buf (NUL-terminated).
 * Returns the length, or -1. */
static ssize_t read_file(const struct eg_proctable *t, uint32_t tgid, const char *name, char *buf,
			 size_t cap)
{
	char path[320];
	snprintf(path, sizeof(path), "%s/%u/%s", t->proc_root, tgid, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	return (ssize_t)n;
}

static ssize_t read_link(const struct eg_proctable *t, uint32_t tgid, const char *name, char *buf,
			 size_t cap)
{
	char path[320];
	snprintf(path, sizeof(path), "%s/%u/%s", t->proc_root, tgid, name);
	ssize_t n = readlink(path, buf, cap - 1);
	if (n < 0)
		n = 0;
	buf[n] = 0;
	return n;
}

/* The real id on a "Uid:"/"Gid:" line of status. */
static uint32_t status_id(const char *status, const char *key)
{
	const char *s = strstr(status, key);
	return s ? (uint32_t)strtoul(s + strlen(key), NULL, 10) : 0;
}

/* Keeps at most EG_PT_ARGS_MAX_COUNT strings of a NUL-separated list (the
 * last one NUL-terminated). Returns the kept length; *argc, *cut. */
static uint32_t clip_args(char *a, size_t n, uint32_t *argc, bool *cut)
{
	size_t i = 0;
	uint32_t c = 0;
	while (i < n && c < EG_PT_ARGS_MAX_COUNT) {
		i += strnlen(a + i, n - i) + 1;
		c++;
	}
	*cut = i < n;
	if (i > n) { /* the last string had no NUL: the buffer bound cut it */
		a[n] = 0;
		i = n + 1;
	}
	*argc = c;
	return (uint32_t)i;
}

static struct img *load(struct eg_proctable *t, uint32_t tgid, int depth)
{
	static char stat[1024], status[4096];
	char comm[32], tty[32], id[64];
	char *args = NULL, *exe = NULL, *cwd = NULL;
	struct img *m = NULL;
	if (!tgid)
		return NULL;
	ssize_t sn = read_file(t, tgid, "stat", stat, sizeof(stat));
	if (sn <= 0)
		return NULL;
	/* pid (comm) state ppid pgrp session tty_nr ... starttime (22nd) */
	char *open_p = strchr(stat, '('), *close_p = strrchr(stat, ')');
	if (!open_p || !close_p || close_p < open_p)
		return NULL;
	size_t cl = (size_t)(close_p - open_p - 1);
	if (cl >= sizeof(comm))
		cl = sizeof(comm) - 1;
	memcpy(comm, open_p + 1, cl);
	comm[cl] = 0;
	unsigned long long f[20] = {0};
	char *s = close_p + 2;
	int nf = 0;
	if (*s)
		s += 2; /* the state letter */
	while (nf < 20 && *s) {
		char *e;
		f[nf++] = strtoull(s, &e, 10);
		if (e == s)
			break;
		s = e;
		while (*s == ' ')
			s++;
	}
	/* f[0] ppid, f[3] tty_nr, f[18] starttime */
	if (nf < 19)
		return NULL;
	uint32_t ppid = (uint32_t)f[0], tty_nr = (uint32_t)f[3];
	uint64_t start_ticks = f[18];
	if (read_file(t, tgid, "status", status, sizeof(status)) <= 0)
		return NULL;
	/* a thread's id: its process is the one that counts */
	const char *tg = strstr(status, "\nTgid:");
	if (tg && (uint32_t)strtoul(tg + 6, NULL, 10) != tgid)
		return NULL;

	args = malloc(PT_STR_MAX + 1);
	exe = malloc(PT_STR_MAX);
	cwd = malloc(PT_STR_MAX);
	if (!args || !exe || !cwd)
		goto out;
	ssize_t an = read_file(t, tgid, "cmdline", args, PT_STR_MAX + 1);
	if (an < 0)
		an = 0;
	uint32_t argc = 0;
	bool cut = false;
	uint32_t al = an ? clip_args(args, (size_t)an, &argc, &cut) : 0;
	if ((size_t)an >= PT_STR_MAX)
		cut = true;
	ssize_t xn = read_link(t, tgid, "exe", exe, PT_STR_MAX);
	ssize_t cn = read_link(t, tgid, "cwd", cwd, PT_STR_MAX);
	char lu[32];
	int32_t loginuid = -1;
	if (read_file(t, tgid, "loginuid", lu, sizeof(lu)) > 0) {
		unsigned long v = strtoul(lu, NULL, 10);
		if (v != 4294967295ul)
			loginuid = (int32_t)v;
	}

	struct eg_proc base = {0};
	struct parts x = {0};
	uint64_t boot_ns = start_ticks * (1000000000ull / (uint64_t)t->hz);
	base.start_ns = (int64_t)boot_ns + t->boot_to_real;
	base.start_boottime = boot_ns; /* in whole ticks, as /proc shows it */
	base.tgid = tgid;
	base.ppid = ppid;
	base.uid = status_id(status, "\nUid:");
	base.gid = status_id(status, "\nGid:");
	base.loginuid = loginuid;
	base.flags = EG_PROCF_SEEDED | (cut ? EG_PROCF_ARGS_TRUNCATED : 0);
	static const char del[] = " (deleted)";
	if ((size_t)xn > sizeof(del) - 1 && !strcmp(exe + xn - (sizeof(del) - 1), del))
		base.flags |= EG_PROCF_EXE_DELETED;
	base.argc = argc;
	x.s[S_EXEC_ID] = id;
	x.n[S_EXEC_ID] = exec_id(t, id, sizeof(id), boot_ns, tgid);
	x.s[S_COMM] = comm;
	x.n[S_COMM] = (uint32_t)strlen(comm);
	x.s[S_EXE] = exe;
	x.n[S_EXE] = (uint32_t)xn;
	x.s[S_ARGS] = args;
	x.n[S_ARGS] = al;
	x.s[S_CWD] = cwd;
	x.n[S_CWD] = (uint32_t)cn;
	/* tty_nr: minor bits 0-7 and 20-31, major bits 8-19 */
	uint32_t maj = (tty_nr >> 8) & 0xfff, min = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
	x.s[S_TTY] = tty;
	x.n[S_TTY] = tty_nr ? (uint32_t)eg_tty_name(tty, sizeof(tty), maj, min) : 0;
	set_parent(&base, &x, ppid != tgid ? parent_of(t, ppid, depth) : NULL, ppid);
	m = pack(&base, &x);
	if (m) {
		insert(t, m);
		t->st.proc_reads++;
	}
out:
	free(args);
	free(exe);
	free(cwd);
	return m;
}

unsigned eg_pt_seed(struct eg_proctable *t)
{
	DIR *d = opendir(t->proc_root);
	if (!d)
		return 0;
	uint64_t before = t->st.proc_reads;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *e;
		unsigned long v = strtoul(de->d_name, &e, 10);
		if (*e || !v || v > UINT32_MAX)
			continue;
		if (!lookup(t, (uint32_t)v))
			load(t, (uint32_t)v, PT_LOAD_DEPTH); /* and its missing ancestors */
	}
	closedir(d);
	t->st.seeded += t->st.proc_reads - before;
	return (unsigned)(t->st.proc_reads - before);
}
