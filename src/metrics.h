/* SPDX-License-Identifier: MIT */
/*
 * Counters and gauges, updated lock-free from the event loop (relaxed atomics)
 * and read by the HTTP server thread on scrape. Per-rule series are keyed by
 * rule id and survive reloads.
 */
#ifndef EG_METRICS_H
#define EG_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "event.h"

#define EG_MAX_RULE_SLOTS 4096
#define EG_HIST_BUCKETS 12
/* ebpf_guard_response_delay_seconds: its buckets, and the results of
 * ebpf_guard_response_actions_total (enum eg_resp_result, src/response.h) */
#define EG_RESP_HIST_BUCKETS 12
#define EG_RESP_RESULTS_MAX 5
/* Drop counters: a slot per event type and one for fork records (the
 * process table's, bpf/eg_raw.h EG_RAW_FORK). */
#define EG_DROP_FORK 31
#define EG_DROP_TYPES 32

/* Why -record did not write an event (ebpf_guard_record_events_skipped_total). */
enum eg_record_skip { EG_RSKIP_SIZE = 0, EG_RSKIP_FILTER = 1, EG_RSKIP_REASONS = 2 };

/* Alert outputs besides the file (src/outputs.c): syslog, journald, webhook.
 * (The file's ebpf_guard_output_* series come from the alert counters.) */
#define EG_OUTPUTS_MAX 4
/* Why an output dropped an alert (ebpf_guard_output_dropped_total{reason}). */
enum eg_out_drop {
	EG_ODROP_QUEUE_FULL = 0, /* the output's queue was full */
	EG_ODROP_UNAVAILABLE,    /* the receiver is missing or refused it */
	EG_ODROP_BUSY,           /* the receiver's socket buffer was full */
	EG_ODROP_TOO_LARGE,      /* larger than the transport takes */
	EG_ODROP_REJECTED,       /* the webhook answered 4xx (not 429) */
	EG_ODROP_RETRIES,        /* the webhook failed every retry */
	EG_ODROP_SHUTDOWN,       /* still queued when the drain deadline passed */
	EG_ODROP_REASONS,
};

struct eg_output_slot {
	const char *name;           /* "syslog", "journald", "webhook"; static */
	_Atomic uint64_t alerts;    /* delivered */
	_Atomic uint64_t errors;    /* failed send attempts (each retry counts) */
	_Atomic uint64_t dropped[EG_ODROP_REASONS];
	_Atomic uint64_t queued;    /* gauge: waiting to be sent */
};

struct eg_rule_slot {
	char id[128];
	char source[256];
	_Atomic uint64_t alerts;
	_Atomic uint64_t errors[2]; /* enum eg_rule_err */
	_Atomic uint64_t suppressed;
	_Atomic int loaded;         /* 1 while the rule is in the active set */
	_Atomic int disabled;       /* 1 while taken out of service (errors in a row) */
};

struct eg_metrics {
	_Atomic uint64_t events[EG_EV_MAX + 1];      /* by enum eg_event_type */
	_Atomic uint64_t dropped_kernel[EG_DROP_TYPES]; /* ring buffer output failures, by record
							 * type (the event types, then fork) */
	_Atomic uint64_t filtered_kernel[EG_DROP_TYPES]; /* kept in the kernel by the rules'
							  * filter, by record type */
	_Atomic uint32_t kfilter_on; /* gauge: bit per event type whose kernel filter is on */
	_Atomic uint64_t prefiltered_open; /* opens the engine kept from its rules (src/prefilter.h) */
	_Atomic uint64_t replay_rejected;             /* bad replay lines */
	_Atomic uint64_t record_skipped[EG_RSKIP_REASONS]; /* -record: events not written */
	_Atomic uint64_t alert_write_failures;        /* failed write attempts */
	_Atomic uint64_t alerts_lost;                 /* dropped when the queue was full */
	_Atomic uint64_t alerts_queued;               /* gauge: waiting for the disk */
	_Atomic uint64_t alerts_written;              /* lines written to the alert file */
	_Atomic uint64_t alerts_lost_exit;            /* of alerts_lost: still queued at exit */
	_Atomic uint64_t reloads;
	_Atomic uint64_t reload_failures;
	_Atomic uint64_t lua_bytes;                   /* gauge */
	_Atomic uint64_t ringbuf_fill_bytes;          /* gauge */
	_Atomic uint64_t ringbuf_size_bytes;          /* gauge */
	_Atomic uint64_t proc_entries;                /* gauge: process table images */
	_Atomic uint64_t proc_bytes;                  /* gauge: their bytes */
	_Atomic uint64_t proc_evictions;              /* images evicted for room */
	_Atomic uint64_t proc_misses;                 /* events of processes not in the table */
	_Atomic uint64_t batch_hist[EG_HIST_BUCKETS + 1]; /* last = +Inf */
	_Atomic uint64_t batch_sum_ns;
	_Atomic uint64_t batch_count;
	_Atomic uint64_t responses[EG_RESP_RESULTS_MAX];  /* kill responses by result */
	_Atomic uint64_t resp_hist[EG_RESP_HIST_BUCKETS + 1]; /* delay of kills; last = +Inf */
	_Atomic uint64_t resp_sum_ns;
	_Atomic int64_t last_loop_ns;                 /* CLOCK_MONOTONIC of the last loop pass */
	int64_t start_time_s;
	_Atomic uint32_t noutputs;
	struct eg_output_slot outputs[EG_OUTPUTS_MAX];
	_Atomic uint32_t nslots;
	struct eg_rule_slot slots[EG_MAX_RULE_SLOTS];
};

extern struct eg_metrics eg_metrics;
/* Upper bounds of the batch-time histogram, seconds. */
extern const double eg_hist_bounds[EG_HIST_BUCKETS];
/* Upper bounds of the kill-delay histogram, seconds. */
extern const double eg_resp_hist_bounds[EG_RESP_HIST_BUCKETS];

#define EG_INC(field) atomic_fetch_add_explicit(&eg_metrics.field, 1, memory_order_relaxed)
#define EG_ADD(field, v) atomic_fetch_add_explicit(&eg_metrics.field, (v), memory_order_relaxed)
#define EG_SET(field, v) atomic_store_explicit(&eg_metrics.field, (v), memory_order_relaxed)

/* On an output's slot (NULL when none could be had: nothing is counted). */
#define EG_OUT_ADD(slot, field, v)                                                         \
	do {                                                                               \
		if (slot)                                                                  \
			atomic_fetch_add_explicit(&(slot)->field, (v), memory_order_relaxed); \
	} while (0)
#define EG_OUT_INC(slot, field) EG_OUT_ADD(slot, field, 1)
#define EG_OUT_SET(slot, field, v)                                                         \
	do {                                                                               \
		if (slot)                                                                  \
			atomic_store_explicit(&(slot)->field, (v), memory_order_relaxed);     \
	} while (0)

void eg_metrics_init(void);
/* Finds or creates the slot for a rule id (not on the hot path). Returns the
 * slot index, or -1 when all slots are used. */
int eg_metrics_rule_slot(const char *id, const char *source);
void eg_metrics_observe_batch(uint64_t ns);
/* A kill sent ns after its event (ebpf_guard_response_delay_seconds). */
void eg_metrics_observe_response(uint64_t ns);
/* The metrics of the output called name (a static string), made at start-up
 * before any render; NULL when all EG_OUTPUTS_MAX are used. */
struct eg_output_slot *eg_metrics_output(const char *name);

/* A function the render calls first, on the metrics thread, to refresh
 * gauges and counters straight from their source (the collector reads the
 * kernel's drop counters there, so they stay current while the event loop
 * is busy). NULL unregisters; returns once no render uses the old one. */
void eg_metrics_set_refresh(void (*fn)(void *ctx), void *ctx);
/* Raises a counter to v unless it is already higher (two threads refresh
 * dropped_kernel). */
void eg_metrics_raise(_Atomic uint64_t *counter, uint64_t v);

/* The text exposition, for the HTTP server and tests. Caller frees. */
char *eg_metrics_render(size_t *len);

/* HTTP server on addr (":7829", "127.0.0.1:7829", "[::1]:7829"). Returns 0,
 * or -1 with a message in err. */
int eg_metrics_serve(const char *addr, char *err, size_t errlen);
void eg_metrics_stop(void);

#endif
