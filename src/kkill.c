/* SPDX-License-Identifier: MIT */
/* Kills made in the kernel: the daemon's side (src/kkill.h). */
#include "kkill.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../bpf/eg_raw.h"

struct eg_kk {
	int path_fd, port_fd, pname_fd, never_fd, code_fd;
	volatile uint32_t *on, *gen;
	bool synced;       /* engine_gen and state are valid */
	uint64_t engine_gen;
	uint32_t bits;     /* what the tables of engine_gen switch on */
	int state;         /* -1 unknown, 0 off, 1 on */
	char last_off[256];
};

static int map_fd(struct bpf_object *obj, const char *name, enum bpf_map_type type, uint32_t ksz,
		  uint32_t vsz)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
	if (!m || bpf_map__type(m) != type || bpf_map__key_size(m) != ksz ||
	    bpf_map__value_size(m) != vsz)
		return -1;
	return bpf_map__fd(m);
}

struct eg_kk *eg_kk_open(struct bpf_object *obj, volatile uint32_t *on, volatile uint32_t *gen,
			 const uint32_t *never, size_t nnever, char *why, size_t whylen)
{
	struct eg_kk *k = calloc(1, sizeof(*k));
	if (!k) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	k->path_fd = map_fd(obj, "kk_path", BPF_MAP_TYPE_LPM_TRIE, sizeof(struct eg_kk_key), 1);
	k->port_fd = map_fd(obj, "kk_port", BPF_MAP_TYPE_HASH, 4, 1);
	k->pname_fd = map_fd(obj, "kk_pname", BPF_MAP_TYPE_HASH, 16, 1);
	k->never_fd = map_fd(obj, "kk_never", BPF_MAP_TYPE_HASH, 4, 1);
	k->code_fd = map_fd(obj, "kk_code", BPF_MAP_TYPE_HASH, 4, 1);
	k->on = on;
	k->gen = gen;
	k->state = -1;
	if (!on || !gen || k->path_fd < 0 || k->port_fd < 0 || k->pname_fd < 0 || k->never_fd < 0 ||
	    k->code_fd < 0) {
		snprintf(why, whylen, "the BPF object has no tables for kills in the kernel");
		free(k);
		return NULL;
	}
	const uint8_t one = 1;
	for (size_t i = 0; i < nnever && i < EG_KK_NEVER; i++)
		if (bpf_map_update_elem(k->never_fd, &never[i], &one, BPF_ANY)) {
			snprintf(why, whylen, "failed to fill kk_never: %s", strerror(errno));
			free(k);
			return NULL;
		}
	if (nnever > EG_KK_NEVER) {
		snprintf(why, whylen, "the daemon has %zu ancestors (at most %d)", nnever, EG_KK_NEVER);
		free(k);
		return NULL;
	}
	return k;
}

void eg_kk_free(struct eg_kk *k)
{
	if (!k)
		return;
	if (k->on)
		*k->on = 0;
	free(k);
}

bool eg_kk_on(const struct eg_kk *k)
{
	return k && k->on && *k->on;
}

/* Deletes every key of a map. Returns 0 or -errno. */
static int clear_map(int fd, size_t ksz)
{
	char key[sizeof(struct eg_kk_key)], next[sizeof(struct eg_kk_key)];
	if (ksz > sizeof(key))
		return -EINVAL;
	while (bpf_map_get_next_key(fd, NULL, next) == 0) {
		memcpy(key, next, ksz);
		if (bpf_map_delete_elem(fd, key) && errno != ENOENT)
			return -errno;
	}
	return errno == ENOENT ? 0 : -errno;
}

/* Fills the tables from set; returns NULL, or why it failed (in buf). */
static const char *fill(struct eg_kk *k, const struct eg_kkill_set *set, char *buf, size_t len)
{
	const uint8_t one = 1;
	int err;
	if (set->npaths > EG_KK_PATHS || set->nports > EG_KK_PORTS || set->nnames > EG_KK_NAMES ||
	    set->ncodes > EG_KK_CODES) {
		snprintf(buf, len, "too many paths, ports, protect: names or codes (%zu, %zu, %zu, %zu; "
				   "at most %d, %d, %d, %d)", set->npaths, set->nports, set->nnames,
			 set->ncodes, EG_KK_PATHS, EG_KK_PORTS, EG_KK_NAMES, EG_KK_CODES);
		return buf;
	}
	if ((err = clear_map(k->path_fd, sizeof(struct eg_kk_key))) || (err = clear_map(k->port_fd, 4)) ||
	    (err = clear_map(k->pname_fd, 16)) || (err = clear_map(k->code_fd, 4))) {
		snprintf(buf, len, "failed to clear the tables: %s", strerror(-err));
		return buf;
	}
	k->bits = 0;
	for (size_t i = 0; i < set->npaths; i++) {
		const struct eg_kk_path *p = &set->paths[i];
		struct eg_kk_key key = {0};
		uint32_t n = p->len;
		if (p->exact && n >= EG_KK_PATH_MAX)
			continue;
		if (n > EG_KK_PATH_MAX)
			n = EG_KK_PATH_MAX;
		key.data[0] = p->ns;
		memcpy(&key.data[1], p->s, n);
		key.prefixlen = 8 * (1 + n + (p->exact ? 1 : 0)); /* an exact path: its NUL too */
		if (bpf_map_update_elem(k->path_fd, &key, &one, BPF_ANY))
			goto fail;
		if (p->ns == EG_KK_NS_EXEC_FILENAME || p->ns == EG_KK_NS_EXEC_EXE)
			k->bits |= 1u << EG_RAW_EXEC;
		else if (p->ns == EG_KK_NS_OPEN_FILENAME)
			k->bits |= 1u << EG_RAW_OPEN;
	}
	for (size_t i = 0; i < set->nports; i++) {
		uint32_t port = set->ports[i];
		if (bpf_map_update_elem(k->port_fd, &port, &one, BPF_ANY))
			goto fail;
		k->bits |= 1u << EG_RAW_CONNECT;
	}
	for (size_t i = 0; i < set->nnames; i++)
		if (bpf_map_update_elem(k->pname_fd, set->names[i], &one, BPF_ANY))
			goto fail;
	for (size_t i = 0; i < set->ncodes; i++) {
		uint32_t key = set->codes[i], type = key >> 24;
		if (type != EG_RAW_PTRACE && type != EG_RAW_BPF && type != EG_RAW_MODULE &&
		    type != EG_RAW_MOUNT)
			continue;
		if (bpf_map_update_elem(k->code_fd, &key, &one, BPF_ANY))
			goto fail;
		k->bits |= 1u << type;
	}
	return NULL;
fail:
	snprintf(buf, len, "failed to fill the tables: %s", strerror(errno));
	return buf;
}

void eg_kk_sync(struct eg_kk *k, const struct eg_kkill_set *set, uint64_t engine_gen,
		const char *off, bool pause)
{
	char buf[256];
	if (!k)
		return;
	if (pause) {
		*k->on = 0;
		return;
	}
	if (!off && !set)
		off = "no rules are loaded";
	if (!off && !set->nrules)
		off = "no rule with action kill can be enforced there";
	bool changed = !k->synced || k->engine_gen != engine_gen;
	if (!off && changed) {
		*k->on = 0;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		off = fill(k, set, buf, sizeof(buf));
		if (!off && !k->bits)
			off = "no rule with action kill can be enforced there";
		k->synced = !off;
		k->engine_gen = engine_gen;
	}
	int state = off ? 0 : 1;
	if (off) {
		*k->on = 0;
	} else if (!*k->on) {
		/* verdicts made before (or while off: execs were not followed)
		 * are unknown now */
		*k->gen = *k->gen + 1;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		*k->on = k->bits;
	}
	if (state != k->state || (off && strcmp(off, k->last_off)) || (!off && changed)) {
		if (off)
			fprintf(stderr, "ebpf-guard: kills in the kernel: off (%s)\n", off);
		else {
			char types[64] = "";
			static const struct { uint32_t type; const char *name; } names[] = {
				{EG_RAW_EXEC, "exec"}, {EG_RAW_OPEN, "open"}, {EG_RAW_CONNECT, "connect"},
				{EG_RAW_PTRACE, "ptrace"}, {EG_RAW_BPF, "bpf"}, {EG_RAW_MODULE, "module"},
				{EG_RAW_MOUNT, "mount"}};
			for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
				if (k->bits & (1u << names[i].type))
					snprintf(types + strlen(types), sizeof(types) - strlen(types), "%s%s",
						 *types ? " " : "", names[i].name);
			fprintf(stderr, "ebpf-guard: kills in the kernel: on for %zu rule%s (%s)\n",
				set->nrules, set->nrules == 1 ? "" : "s", types);
		}
		snprintf(k->last_off, sizeof(k->last_off), "%s", off ? off : "");
	}
	k->state = state;
}
