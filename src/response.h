/* SPDX-License-Identifier: MIT */
/*
 * Response actions (docs/response.md): what an alert of a rule with
 * `action: kill` does to the process behind the event. Enforced from
 * userspace, on the event loop's thread, as the alert is raised: the process
 * is told from a later one with its pid by its start time (the event's
 * process image against /proc/PID/stat) and signalled through a pidfd, so a
 * reused pid is never killed. Never killed: pid 1, kernel threads, the
 * daemon itself and its ancestors, and the programs of the configuration's
 * protect: list.
 *
 * In-kernel enforcement (bpf_send_signal at the system call's entry, for
 * rules that compile to kernel filters) would report through the same
 * outcome, with where = EG_ENFORCED_KERNEL.
 */
#ifndef EG_RESPONSE_H
#define EG_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "engine.h"
#include "event.h"

/* What became of one response; the "result" of the alert. */
enum eg_resp_result {
	EG_RESP_DRY_RUN = 0, /* not enforced: -enforce is off (or a replay) */
	EG_RESP_KILLED,      /* SIGKILL sent to the process the event came from */
	EG_RESP_GONE,        /* it had exited, or its pid is another process's now */
	EG_RESP_PROTECTED,   /* never killed: pid 1, a kernel thread, ebpf-guard, protect: */
	EG_RESP_ERROR,       /* the kill failed, or the process could not be told apart */
	EG_RESP_RESULTS,
};

enum eg_enforced_where { EG_ENFORCED_USERSPACE = 0, EG_ENFORCED_KERNEL = 1 };

/* The outcome of one alert's response (its alert's keys: src/json.c). */
struct eg_response_outcome {
	uint32_t action;             /* enum eg_action; EG_ACTION_ALERT: no response */
	enum eg_resp_result result;
	enum eg_enforced_where where;
	int64_t delay_ns;            /* the event's time to the signal (or the decision
				      * not to send it); enforced outcomes only */
	char reason[160];            /* protected, gone: why; error: what failed */
};

/* Label values of ebpf_guard_response_actions_total{result}; also the
 * alert's result for the enforced ones ("error" is "error: <reason>" there). */
const char *eg_resp_result_name(enum eg_resp_result r);

struct eg_response_opts {
	const char *proc_root; /* NULL: "/proc" (tests point it elsewhere) */
	uint32_t self;         /* the daemon's pid; 0: getpid() */
	bool quiet;            /* no log line per action (tests) */
};

struct eg_response;

/*
 * The enforcing side (-enforce): remembers the daemon's pid and its
 * ancestors (pid and start time, read from /proc now). Returns NULL with a
 * message in err when out of memory.
 */
struct eg_response *eg_response_new(const struct eg_response_opts *o, char *err, size_t errlen);
void eg_response_free(struct eg_response *r);

/* The daemon's pid and its ancestors' (at most max), for the kernel's
 * never-kill table (src/kkill.h). Returns how many were written. */
size_t eg_response_never(const struct eg_response *r, uint32_t *out, size_t max);

/* Replaces the protect: list (the engine's, at start-up and every reload);
 * the strings are copied. Returns 0, or -1 when out of memory (the old list
 * stays). */
int eg_response_set_protect(struct eg_response *r, const char *const *list, size_t n);

/*
 * The response to one alert of rule on ev: fills *out. r NULL (no
 * -enforce): a dry run, nothing is done. Otherwise, for EG_ACTION_KILL, the
 * event's process (ev->tgid) gets SIGKILL unless it is protected or no
 * longer the process of the event. Several alerts of one event share its
 * first outcome (one kill, counted and logged once). Counts the outcome in
 * ebpf_guard_response_actions_total, the delay of a kill in
 * ebpf_guard_response_delay_seconds, and logs each enforced action on stderr.
 * Event loop thread only.
 */
void eg_response_run(struct eg_response *r, const struct eg_event *ev,
		     const struct eg_rule_info *rule, struct eg_response_outcome *out);

#endif
