/* SPDX-License-Identifier: MIT */
#include "prefilter.h"

#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* A set of 32-bit words: open addressing, linear probing, at most a
 * quarter full (a miss mostly ends at its first slot). A slot holds the
 * word with bit 32 set; 0 is free. */
struct word_set {
	uint64_t *slot;
	uint32_t mask;
	uint32_t shift;
	size_t n; /* words in the set */
};

/* A radix tree of the filter's prefixes: a node's label is compared, then
 * the next byte of the path picks its child (0: none; node 0 is the root,
 * never a child). end: some prefix ends here. */
struct pf_node {
	uint32_t lab;	  /* offset in labels */
	uint32_t lablen;
	uint8_t end;
	uint16_t child[256];
};

struct eg_prefilter {
	struct word_set comm, suffix;
	struct pf_node *nodes;
	size_t nnodes, cap;
	char *labels;
	size_t nlabels;
	bool no_prefix; /* no prefix at all: only the words keep an open */
};

static uint32_t word_hash(uint32_t w, uint32_t shift)
{
	return (uint32_t)(((uint64_t)w * 0x9e3779b97f4a7c15ULL) >> shift);
}

static int set_init(struct word_set *s, const uint32_t *w, size_t n)
{
	uint32_t bits = 4;
	while (((size_t)1 << bits) < 4 * n)
		bits++;
	s->slot = calloc((size_t)1 << bits, sizeof(*s->slot));
	if (!s->slot)
		return -1;
	s->mask = (1u << bits) - 1;
	s->shift = 64 - bits;
	s->n = n;
	for (size_t i = 0; i < n; i++) {
		uint64_t v = (uint64_t)w[i] | (1ULL << 32);
		for (uint32_t h = word_hash(w[i], s->shift);; h = (h + 1) & s->mask) {
			if (s->slot[h] == v)
				break;
			if (!s->slot[h]) {
				s->slot[h] = v;
				break;
			}
		}
	}
	return 0;
}

static bool set_has(const struct word_set *s, uint32_t w)
{
	uint64_t v = (uint64_t)w | (1ULL << 32);
	for (uint32_t h = word_hash(w, s->shift);; h = (h + 1) & s->mask) {
		if (s->slot[h] == v)
			return true;
		if (!s->slot[h])
			return false;
	}
}

struct str {
	const char *s;
	uint32_t len;
};

static int str_cmp(const void *a, const void *b)
{
	const struct str *x = a, *y = b;
	uint32_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);
	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* Adds the node for v[0..n) (sorted, n >= 1), all of whose
 * strings share their first d bytes; returns its index, or -1 when out of
 * memory. */
static int build(struct eg_prefilter *f, const struct str *v, size_t n, uint32_t d)
{
	if (f->nnodes == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 16;
		struct pf_node *g = realloc(f->nodes, cap * sizeof(*g));
		if (!g)
			return -1;
		f->nodes = g;
		f->cap = cap;
	}
	size_t me = f->nnodes++;
	struct pf_node *node = &f->nodes[me];
	memset(node, 0, sizeof(*node));
	/* the label: what the first and the last string share past d (sorted:
	 * every string between shares it too) */
	uint32_t l = 0;
	while (d + l < v[0].len && d + l < v[n - 1].len && v[0].s[d + l] == v[n - 1].s[d + l])
		l++;
	node->lab = (uint32_t)f->nlabels;
	node->lablen = l;
	memcpy(f->labels + f->nlabels, v[0].s + d, l);
	f->nlabels += l;
	if (v[0].len == d + l) {
		/* the first string ends here: a prefix of every other one (they
		 * add nothing; duplicates too) */
		f->nodes[me].end = 1;
		return (int)me;
	}
	/* a child per next byte */
	for (size_t i = 0; i < n;) {
		uint8_t c = (uint8_t)v[i].s[d + l];
		size_t j = i + 1;
		while (j < n && (uint8_t)v[j].s[d + l] == c)
			j++;
		int k = build(f, v + i, j - i, d + l + 1);
		if (k < 0)
			return -1;
		f->nodes[me].child[c] = (uint16_t)k;
		i = j;
	}
	return (int)me;
}

struct eg_prefilter *eg_prefilter_new(const struct eg_kfilter_open *k)
{
	if (!k || k->off || k->nrules < EG_PREFILTER_MIN_RULES)
		return NULL;
	struct eg_prefilter *f = calloc(1, sizeof(*f));
	struct str *v = calloc(k->nprefixes ? k->nprefixes : 1, sizeof(*v));
	size_t total = 0, n = 0;
	if (!f || !v)
		goto fail;
	if (set_init(&f->comm, k->comm, k->ncomm) || set_init(&f->suffix, k->suffixes, k->nsuffixes))
		goto fail;
	for (size_t i = 0; i < k->nprefixes; i++) {
		v[i].s = k->prefixes[i];
		v[i].len = k->prefix_lens[i];
		total += v[i].len;
	}
	qsort(v, k->nprefixes, sizeof(*v), str_cmp);
	n = k->nprefixes;
	f->no_prefix = n == 0;
	/* at most two nodes per prefix; the labels hold at most its bytes */
	if (n && (!(f->labels = malloc(total + 1)) || build(f, v, n, 0) < 0 || f->nnodes > UINT16_MAX))
		goto fail;
	free(v);
	return f;
fail:
	free(v);
	eg_prefilter_free(f);
	return NULL;
}

void eg_prefilter_free(struct eg_prefilter *f)
{
	if (!f)
		return;
	free(f->comm.slot);
	free(f->suffix.slot);
	free(f->nodes);
	free(f->labels);
	free(f);
}

/* Whether a prefix of the tree is a prefix of p[0..len). */
static bool has_prefix(const struct eg_prefilter *f, const char *p, uint32_t len)
{
	const struct pf_node *node = f->nodes;
	uint32_t at = 0;
	for (;;) {
		uint32_t l = node->lablen;
		if (l && (len - at < l || memcmp(p + at, f->labels + node->lab, l)))
			return false;
		at += l;
		if (node->end)
			return true;
		if (at >= len)
			return false;
		uint16_t c = node->child[(uint8_t)p[at]];
		if (!c)
			return false;
		node = &f->nodes[c];
		at++;
	}
}

static inline bool open_wanted(const struct eg_prefilter *f, const struct eg_event *ev)
{
	uint32_t w = 0, len = ev->filename_len;
	/* the comm's word: its first 4 bytes, zeros from its end or its first
	 * NUL (the kernel's, bpf/ebpf_guard.bpf.c kf_open_drop) */
	if (f->comm.n) {
		uint32_t cl = ev->comm_len < 4 ? ev->comm_len : 4;
		for (uint32_t i = 0; i < cl && ev->comm[i]; i++)
			w |= (uint32_t)(uint8_t)ev->comm[i] << (8 * i);
		if (set_has(&f->comm, w))
			return true;
	}
	if (f->suffix.n && len >= 4) {
		memcpy(&w, ev->filename + len - 4, sizeof(w));
		if (set_has(&f->suffix, w))
			return true;
	}
	return !f->no_prefix && has_prefix(f, ev->filename, len);
}

bool eg_prefilter_open_wanted(const struct eg_prefilter *f, const struct eg_event *ev)
{
	return open_wanted(f, ev);
}

uint32_t eg_prefilter_batch(const struct eg_prefilter *f, const struct eg_event *ev, uint32_t n, uint8_t *keep)
{
	uint32_t kept = 0;
	for (uint32_t i = 0; i < n; i++) {
		bool out = ev[i].type == EG_EV_OPEN && !open_wanted(f, &ev[i]);
		keep[i] = !out;
		kept += out;
	}
	return kept;
}
