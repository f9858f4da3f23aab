/* SPDX-License-Identifier: MIT */
/*
 * The path every event takes, live or replayed:
 *   producer -> eg_pipe_begin/commit (batch of events + string arena)
 *            -> engine (one Lua call per batch) -> alert sink + metrics.
 * Single-threaded: only the event loop thread calls these.
 */
#ifndef EG_PIPELINE_H
#define EG_PIPELINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "event.h"
#include "engine.h"

#define EG_BATCH_EVENTS 256
#define EG_ARENA_BYTES (4u << 20)
/* Largest string payload one event may carry (replay lines are bounded by it). */
#define EG_EVENT_MAX_BYTES (1u << 20)

struct eg_pipeline;
struct eg_alert_sink;
struct eg_recfilter;
struct eg_response;

/* What a reload may change besides the rule files' contents: the settings
 * file's live keys (main.c). */
struct eg_pipe_live {
	struct eg_engine_opts engine;
	double rate_limit;
	bool strict_perms;
};

struct eg_pipe_opts {
	struct eg_engine_opts engine;  /* kept for reloads */
	struct eg_alert_sink *alerts;  /* owned by the caller */
	const char *record_path;       /* -record, NULL when off */
	struct eg_recfilter *record_filter; /* what -record writes (NULL: every
					     * event); owned by the caller */
	uint64_t record_max_bytes;     /* -record-max-size, 0 = no cap */
	double rate_limit;             /* alerts per second per rule, 0 = off */
	/* -enforce: kills for the rules with action kill (docs/response.md);
	 * NULL: their alerts say "enforced": false and nothing is done. Owned
	 * by the caller; its protect: list follows the rule set in force. */
	struct eg_response *response;
	bool watch;                    /* -watch: reload when a config file changes */
	/* Before each reload, check the owner and mode of the -config files
	 * (harden.h): warn, or with strict_perms refuse the reload. */
	bool check_perms, strict_perms;
	/*
	 * Called on the event loop's thread as each reload starts, with *next
	 * holding the settings in force: may change it (the rules are then
	 * built with next->engine) and returns 0; or returns -1 after saying
	 * why on stderr, and the reload is counted as failed with nothing
	 * changed. reconfigured() follows once that reload is over: taken when
	 * the new rules, and *next, are in force (the previous settings' memory
	 * may go), else *next was dropped. NULL: a reload keeps the settings.
	 */
	int (*reconfigure)(void *ctx, struct eg_pipe_live *next);
	void (*reconfigured)(void *ctx, bool taken);
	void *reconfigure_ctx;
};

struct eg_pipeline *eg_pipe_new(const struct eg_pipe_opts *o, struct eg_engine *engine,
				char *err, size_t errlen);
void eg_pipe_free(struct eg_pipeline *p);
struct eg_engine *eg_pipe_engine(struct eg_pipeline *p);
/* How many engines a reload swapped in so far (0 before the first): a
 * change means the rules in force changed. */
uint64_t eg_pipe_engine_gen(const struct eg_pipeline *p);

/*
 * Starts a new event with room for str_bytes of string payload (the sum of
 * all its strings plus one NUL each). Flushes the pending batch first when it
 * is full. The returned event is zeroed. Returns NULL when str_bytes exceeds
 * EG_EVENT_MAX_BYTES.
 */
struct eg_event *eg_pipe_begin(struct eg_pipeline *p, size_t str_bytes);
/* Copies s[0..len) into the arena of the event being built and NUL-terminates
 * it. Only valid between begin and commit, within the reserved room. */
const char *eg_pipe_str(struct eg_pipeline *p, const char *s, size_t len);
/* Raw arena space (len bytes) for the event being built. */
char *eg_pipe_alloc(struct eg_pipeline *p, size_t len);
/* Finishes the event: counts it, records it with -record, queues it. */
void eg_pipe_commit(struct eg_pipeline *p);
/* Drops the event being built (producer found it invalid). */
void eg_pipe_abort(struct eg_pipeline *p);

/* Runs the engine over the pending batch and writes its alerts. */
int eg_pipe_flush(struct eg_pipeline *p);

/*
 * counter: a count of events lost before they reached the pipeline (the
 * collector's mmap'ed BPF counter), read with one load per non-empty batch;
 * NULL (the default, and replay's) for none. When it moved since the previous
 * non-empty batch, every alert of this batch carries "events_lost": true.
 * The pipeline keeps the pointer: set NULL before that memory goes away.
 */
void eg_pipe_set_lost_counter(struct eg_pipeline *p, const volatile uint64_t *counter);

/* Between batches: applies a requested reload or reopen, steps the GC,
 * prints rate-limit summaries, marks the loop alive for /healthz. */
void eg_pipe_service(struct eg_pipeline *p);

/* True while a requested reload is still being built (in a thread of its
 * own; the next eg_pipe_service() after it is done swaps it in). */
bool eg_pipe_reload_busy(struct eg_pipeline *p);

/* The -record filter (NULL when none): the collector tells it of forks and
 * exits, and reads the event types it asks for. */
struct eg_recfilter *eg_pipe_record_filter(struct eg_pipeline *p);

/* Async-signal-safe requests, applied by the next eg_pipe_service(). */
void eg_pipe_request_reload(void);
void eg_pipe_request_reopen(void);

#endif
