/* SPDX-License-Identifier: MIT */
/*
 * The testing harness behind lua/ebpf_guard/testing.lua (docs/testing.md):
 * the daemon's -replay path (engine, pipeline, replay reader, alert writer)
 * with the alerts and the engine's log lines kept in memory for a spec to
 * read. Built into libebpf-guard-engine.so; the daemon does not use it.
 */
#ifndef EG_TESTING_H
#define EG_TESTING_H

#include <stddef.h>
#include "engine.h"

struct eg_test;

/*
 * Builds the engine from o exactly as the daemon does (eg_engine_new: the
 * same loader, budget defaults, built-ins, -disable-rule/-disable-tag), and a
 * pipeline without -record, rate limit or -watch, writing alerts to memory.
 * o->log and o->log_ctx are ignored: the engine's log lines (rule errors,
 * guard.log) collect in the harness, read with eg_test_logs. Returns NULL
 * with every problem in err, one per line, as the daemon prints them
 * (without its "ebpf-guard: " prefix).
 */
struct eg_test *eg_test_new(const struct eg_engine_opts *o, char *err, size_t errlen);
void eg_test_free(struct eg_test *t);
struct eg_engine *eg_test_engine(struct eg_test *t);

/* One recorded line (JSON, no newline) through the -replay reader
 * (eg_replay_line): 0, 1 for a blank line, -1 with the reason in err. */
int eg_test_line(struct eg_test *t, const char *line, size_t len, char *err, size_t errlen);

/*
 * Runs the events fed so far through the rules (events go in batches as in
 * the daemon; a full batch already ran) and returns the alerts written since
 * the previous call: JSONL exactly as -alert-file gets it, NUL-terminated,
 * *len bytes; owned by the harness, valid until the next call on it.
 */
const char *eg_test_alerts(struct eg_test *t, size_t *len);

/* The engine's log lines since the previous call, each ending with '\n';
 * same ownership as eg_test_alerts. */
const char *eg_test_logs(struct eg_test *t, size_t *len);

#endif
