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

/* Builds the filter from k (the engine's open filter). Returns NULL when
 * k is off (some rule wants opens the filter cannot describe: every open
 * then goes to the rules) or when out of memory (likewise: a filter is an
 * optimisation, never needed for a verdict). */
struct eg_prefilter *eg_prefilter_new(const struct eg_kfilter_open *k);
void eg_prefilter_free(struct eg_prefilter *f);

/* Whether some rule may match the open event ev (the filter keeps it). */
bool eg_prefilter_open_wanted(const struct eg_prefilter *f, const struct eg_event *ev);

#endif
