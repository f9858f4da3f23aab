/* SPDX-License-Identifier: MIT */
/*
 * What -record writes (docs/operations.md, "Recording"): the filters
 * -record-types, -record-pid, -record-comm and -record-cgroup. Filters of
 * different kinds combine with AND, the values of one kind with OR; no filter
 * at all lets every event through.
 *
 * -record-pid follows a process subtree by tgid: the given processes, every
 * process forked under one of them once the filter knows of it, and (live)
 * every descendant already running when the probes were attached. A process
 * becomes a member
 *   - when its parent is a member at its fork (eg_recfilter_fork: live, from
 *     the collector's fork records),
 *   - when one of its events names a member as its parent (the event's ppid,
 *     or the parent of its process image): the only way in replay mode,
 *   - at the /proc scan (eg_recfilter_scan_proc, live, after the attach),
 * and stops being one at its exit (eg_recfilter_exit, or an exit event), so
 * that a reused pid is not taken for it.
 *
 * Single-threaded: the event loop only.
 */
#ifndef EG_RECFILTER_H
#define EG_RECFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "event.h"

struct eg_recfilter;

struct eg_recfilter_opts {
	uint32_t types;                 /* bit per enum eg_event_type; 0: every type */
	const uint32_t *pids;           /* -record-pid values */
	size_t npids;
	const char *const *comms;       /* -record-comm regexes (PCRE2) */
	size_t ncomms;
	const char *const *cgroups;     /* -record-cgroup path prefixes */
	size_t ncgroups;
};

/*
 * Parses a -record-types list ("exec,open") into a bit per type, or'ed into
 * *mask. Returns 0, or -1 with a message in err:
 *   -record-types: unknown event type "exce" (did you mean "exec"?)
 */
int eg_recfilter_parse_types(const char *list, uint32_t *mask, char *err, size_t errlen);

/* A filter, its regexes compiled. NULL with a message in err
 * ("invalid -record-comm '(x': missing closing parenthesis at offset 2",
 * "out of memory"). */
struct eg_recfilter *eg_recfilter_new(const struct eg_recfilter_opts *o, char *err, size_t errlen);
void eg_recfilter_free(struct eg_recfilter *f);

/* True when f (NULL: no filter) lets ev be recorded. Learns subtree
 * members from it (see above), and forgets its process at an exit event. */
bool eg_recfilter_match(struct eg_recfilter *f, const struct eg_event *ev);

/* The event types -record-types asks for (0: none given). */
uint32_t eg_recfilter_types(const struct eg_recfilter *f);

/* Live: a new process child of parent (a fork record); its exit. Cheap
 * no-ops without -record-pid. */
void eg_recfilter_fork(struct eg_recfilter *f, uint32_t child, uint32_t parent);
void eg_recfilter_exit(struct eg_recfilter *f, uint32_t tgid);

/* Live: adds every running descendant of a member, from proc_root's
 * <pid>/stat files (NULL: "/proc"). Returns how many were added. */
unsigned eg_recfilter_scan_proc(struct eg_recfilter *f, const char *proc_root);

/* Whether tgid is a member of the -record-pid subtree now (tests). */
bool eg_recfilter_member(const struct eg_recfilter *f, uint32_t tgid);

#endif
