/* SPDX-License-Identifier: MIT */
/*
 * The engine's own use of the open filter the rules derive for the kernel
 * (eg_kfilter_open, lua/ebpf_guard/compile.lua kernel_filter): before the
 * compiled rules run over a batch, each open event is tested in C against
 * the filter's comm words, filename suffix words and filename prefixes. An
 * open none of them holds for is one no rule, built-in or detection can
 * match (the filter is derived so; spec/unit/kfilter_spec.lua), and the
 * rules never see it. The kernel keeps such opens only when it knows the
 * opened file's path exactly; failed opens, replays and recordings cross,
 * and this is where they stop.
 */
#ifndef EG_PREFILTER_H
#define EG_PREFILTER_H

#include <stdbool.h>
#include <stdint.h>
#include "event.h"

struct eg_kfilter_open;
struct eg_prefilter;

/* Opens that fewer rules want are cheaper in the rules than in the filter
 * (the reference's example rules, a handful on opens: 26 -> 29 ns/event on
 * the engine benchmark's corpus with the filter; docs/performance.md). */
#define EG_PREFILTER_MIN_RULES 8

/* Builds the filter from k (the engine's open filter). Returns NULL when
 * k is off (some rule wants opens the filter cannot describe: every open
 * then goes to the rules), when fewer than EG_PREFILTER_MIN_RULES rules
 * and detections want opens, or when out of memory (a filter is an
 * optimisation, never needed for a verdict). */
struct eg_prefilter *eg_prefilter_new(const struct eg_kfilter_open *k);
void eg_prefilter_free(struct eg_prefilter *f);

/* Whether some rule may match the open event ev (the filter keeps it). */
bool eg_prefilter_open_wanted(const struct eg_prefilter *f, const struct eg_event *ev);

/* For each event of ev[0..n), whether it goes to the rules (struct
 * eg_batch.keep): 0 for an open f does not want, else 1. Returns how many
 * opens f left out. */
uint32_t eg_prefilter_batch(const struct eg_prefilter *f, const struct eg_event *ev, uint32_t n, uint8_t *keep);

#endif
