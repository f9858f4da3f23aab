/* SPDX-License-Identifier: MIT */
/* The field registry of the newer event types: see evtypes.h. */
#include "evtypes.h"

#include <stdio.h>
#include <string.h>

/* memfd_create(2) flags (linux/memfd.h) */
static const struct eg_flag_name memfd_flags[] = {
	{0x1, "cloexec"}, {0x2, "allow_sealing"}, {0x4, "hugetlb"}, {0x8, "noexec_seal"},
	{0x10, "exec"}, {0, NULL},
};

/* A key's kind and slot never change between types (the replay reader
 * stores a key before it knows the line's type). Keep lua/ebpf_guard/evtypes.lua
 * in step: the engine refuses to start when they differ. */
const struct eg_field eg_fields[] = {
	{"flags", EG_FK_FLAGS, 0, memfd_flags},
};
const unsigned eg_nfields = sizeof(eg_fields) / sizeof(eg_fields[0]);

enum { F_FLAGS = 0 };

static const struct eg_type_fields types[EG_EV_MAX + 1] = {
	[EG_EV_MEMFD] = {.n = 1, .idx = {F_FLAGS}, .ret = true},
};

const struct eg_type_fields *eg_type_fields(uint32_t type)
{
	if (type > EG_EV_MAX || type <= EG_EV_EXIT)
		return NULL;
	return &types[type];
}

const struct eg_field *eg_field_by_key(const char *k, size_t n)
{
	for (unsigned i = 0; i < eg_nfields; i++)
		if (strlen(eg_fields[i].key) == n && !memcmp(eg_fields[i].key, k, n))
			return &eg_fields[i];
	return NULL;
}

size_t eg_flags_format(char *out, size_t cap, const struct eg_field *f, uint64_t v)
{
	size_t len = 0;
	for (const struct eg_flag_name *fn = f->names; fn && fn->name; fn++) {
		if (!(v & fn->bit))
			continue;
		v &= ~fn->bit;
		int k = snprintf(len < cap ? out + len : NULL, len < cap ? cap - len : 0, "%s%s",
				 len ? "|" : "", fn->name);
		len += (size_t)(k > 0 ? k : 0);
	}
	if (v) {
		int k = snprintf(len < cap ? out + len : NULL, len < cap ? cap - len : 0, "%s0x%llx",
				 len ? "|" : "", (unsigned long long)v);
		len += (size_t)(k > 0 ? k : 0);
	}
	if (cap && len < cap)
		out[len] = 0;
	else if (cap)
		out[cap - 1] = 0;
	return len;
}

int eg_flags_parse(const struct eg_field *f, const char *s, size_t n, uint64_t *v, const char **bad,
		   size_t *badlen)
{
	uint64_t r = 0;
	size_t i = 0;
	while (i < n) {
		size_t b = i;
		while (i < n && s[i] != '|')
			i++;
		const char *w = s + b;
		size_t wl = i - b;
		bool found = false;
		for (const struct eg_flag_name *fn = f->names; fn && fn->name && !found; fn++) {
			if (strlen(fn->name) == wl && !memcmp(fn->name, w, wl)) {
				r |= fn->bit;
				found = true;
			}
		}
		if (!found && wl > 2 && wl <= 18 && w[0] == '0' && w[1] == 'x') {
			uint64_t x = 0;
			size_t j = 2;
			for (; j < wl; j++) {
				char c = w[j];
				unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
					     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16u;
				if (d == 16)
					break;
				x = x << 4 | d;
			}
			if (j == wl) {
				r |= x;
				found = true;
			}
		}
		if (!found) {
			*bad = w;
			*badlen = wl;
			return -1;
		}
		if (i < n)
			i++; /* the '|' */
		if (i == n && n && s[n - 1] == '|') {
			*bad = s + n;
			*badlen = 0;
			return -1;
		}
	}
	*v = r;
	return 0;
}
