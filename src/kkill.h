/* SPDX-License-Identifier: MIT */
/*
 * The daemon's side of the kills made in the kernel (bpf/kkill.h,
 * docs/response.md "In the kernel"): keeps the BPF tables (kk_path,
 * kk_port, kk_pname, kk_never) in line with the rules in force and
 * switches the kills on only with -enforce, outside reloads, when some
 * rule's kill can be made there.
 */
#ifndef EG_KKILL_H
#define EG_KKILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

struct bpf_object;
struct eg_kk;

/*
 * The tables of obj, and its .bss words eg_kk_on and eg_kk_gen (on, gen).
 * never: tgids the kernel must never kill (the daemon's ancestors), written
 * once. Returns NULL (kills in the kernel stay off) when the object has no
 * such tables; why says so.
 */
struct eg_kk *eg_kk_open(struct bpf_object *obj, volatile uint32_t *on, volatile uint32_t *gen,
			 const uint32_t *never, size_t nnever, char *why, size_t whylen);
void eg_kk_free(struct eg_kk *k);

/*
 * Called on every pass of the event loop: set is the engine in force's
 * (NULL: none), engine_gen its generation, off a reason for the kills to be
 * off (NULL: they may be on), pause: off for now, silently (a reload is
 * being built: the new rules may kill less). Rewrites the
 * tables when the engine changed (the kills are off meanwhile) and says on
 * stderr what it did when the outcome changes.
 */
void eg_kk_sync(struct eg_kk *k, const struct eg_kkill_set *set, uint64_t engine_gen,
		const char *off, bool pause);

/* Whether the kills are on now (tests, metrics). */
bool eg_kk_on(const struct eg_kk *k);

#endif
