/* SPDX-License-Identifier: MIT */
/* The kernel collector: loads the BPF programs, attaches them to syscall
 * tracepoints, drains the ring buffer into the pipeline. */
#ifndef EG_COLLECTOR_H
#define EG_COLLECTOR_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct eg_pipeline;

/* Where the collector is, for the service manager (src/notify.c). */
enum eg_run_state {
	EG_RUN_READY,    /* probes attached, the daemon locked down, the loop starts */
	EG_RUN_ALIVE,    /* one pass of the event loop done: batch run, alerts written */
	EG_RUN_STOPPING, /* the stop flag was seen: draining, then exit */
};

struct eg_collector_opts {
	const char *bpf_object;   /* NULL: the embedded skeleton */
	bool verbose;             /* libbpf debug output */
	bool all_events;          /* attach every event type even if no rule wants it */
	bool recording;           /* -record: every event crosses (no kernel filter) */
	uint32_t types_wanted;    /* bit per enum eg_event_type */
	uint32_t proc_table_size; /* process table capacity; 0: the default */
	bool enforce;             /* -enforce: rules' kills may be made in the kernel */
	const uint32_t *never;    /* tgids never killed in the kernel (the daemon, its ancestors) */
	size_t nnever;
	/* Called once, after the first attach and before the "attached" line,
	 * with the capabilities (EG_CAP bits) the collector still needs: the
	 * daemon gives up the rest (and system calls). Non-zero stops the
	 * collector with exit status 1 (the callback prints why). */
	int (*on_attached)(void *ctx, uint64_t caps_needed);
	void *ctx;
	/* Called at each state above; NULL for none. */
	void (*on_state)(enum eg_run_state s);
};

/* Runs until *stop is set; drains what is left and flushes before returning.
 * Returns 0, or 1 after printing one clear message when start-up fails. */
int eg_collector_run(const struct eg_collector_opts *o, struct eg_pipeline *p,
		     volatile sig_atomic_t *stop);

#endif
