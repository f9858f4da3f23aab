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

/* ptrace(2) requests (linux/ptrace.h, x86) */
static const struct eg_flag_name ptrace_requests[] = {
	{0, "traceme"}, {1, "peektext"}, {2, "peekdata"}, {3, "peekuser"}, {4, "poketext"},
	{5, "pokedata"}, {6, "pokeuser"}, {7, "cont"}, {8, "kill"}, {9, "singlestep"},
	{12, "getregs"}, {13, "setregs"}, {14, "getfpregs"}, {15, "setfpregs"}, {16, "attach"},
	{17, "detach"}, {18, "getfpxregs"}, {19, "setfpxregs"}, {24, "syscall"},
	{0x4200, "setoptions"}, {0x4201, "geteventmsg"}, {0x4202, "getsiginfo"},
	{0x4203, "setsiginfo"}, {0x4204, "getregset"}, {0x4205, "setregset"}, {0x4206, "seize"},
	{0x4207, "interrupt"}, {0x4208, "listen"}, {0x4209, "peeksiginfo"},
	{0x420a, "getsigmask"}, {0x420b, "setsigmask"}, {0x420c, "seccomp_get_filter"},
	{0x420e, "get_syscall_info"}, {0, NULL},
};

/* A key's kind and slot never change between types (the replay reader
 * stores a key before it knows the line's type). Keep lua/ebpf_guard/evtypes.lua
 * in step: the engine refuses to start when they differ. */
const struct eg_field eg_fields[] = {
	{"flags", EG_FK_FLAGS, 0, memfd_flags},
	{"request", EG_FK_ENUM, 0, ptrace_requests},
	{"target_pid", EG_FK_NUM, 1, NULL},
	{"target_comm", EG_FK_STR, 0, NULL},
	{"target_exe", EG_FK_STR, 1, NULL},
};
const unsigned eg_nfields = sizeof(eg_fields) / sizeof(eg_fields[0]);

enum { F_FLAGS = 0, F_REQUEST, F_TARGET_PID, F_TARGET_COMM, F_TARGET_EXE };

static const struct eg_type_fields types[EG_EV_MAX + 1] = {
	[EG_EV_MEMFD] = {.n = 1, .idx = {F_FLAGS}, .ret = true},
	[EG_EV_PTRACE] = {.n = 4, .idx = {F_REQUEST, F_TARGET_PID, F_TARGET_COMM, F_TARGET_EXE},
			  .ret = true},
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

const char *eg_enum_format(char *out, size_t cap, const struct eg_field *f, int64_t v)
{
	for (const struct eg_flag_name *fn = f->names; fn && fn->name; fn++)
		if ((int64_t)fn->bit == v)
			return fn->name;
	snprintf(out, cap, "%lld", (long long)v);
	return out;
}

int eg_enum_parse(const struct eg_field *f, const char *s, size_t n, int64_t *v)
{
	for (const struct eg_flag_name *fn = f->names; fn && fn->name; fn++) {
		if (strlen(fn->name) == n && !memcmp(fn->name, s, n)) {
			*v = (int64_t)fn->bit;
			return 0;
		}
	}
	if (!n || n > 19 || (s[0] != '-' && n > 18))
		return -1; /* at most 18 digits: no overflow */
	int64_t x = 0;
	size_t i = s[0] == '-';
	if (i == n)
		return -1;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	*v = s[0] == '-' ? -x : x;
	return 0;
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
