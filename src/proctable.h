/* SPDX-License-Identifier: MIT */
/*
 * The daemon's process table (docs/process-context.md): one image per live
 * process, keyed by tgid, made at exec (from the kernel's record), at fork
 * (a copy of the caller's) or from /proc (processes that ran before the
 * daemon, and misses). Each image carries a snapshot of its parent and
 * ancestors, so no image points at another and a dead parent costs nothing.
 *
 * Events point at images (struct eg_proc). An image that leaves the table
 * (exit, a new exec, eviction) is retired, not freed: eg_pt_reap() frees the
 * retired ones, and the caller calls it only when no batch that may point at
 * them is pending (after a flush). Bounded: at most capacity images and
 * max_bytes of them in the table, evicted least recently used first (clock).
 * Single-threaded (the event loop); the counters are read by the metrics
 * thread through eg_metrics.
 */
#ifndef EG_PROCTABLE_H
#define EG_PROCTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "event.h"

#define EG_PT_CAPACITY_DEFAULT 32768
#define EG_PT_BYTES_DEFAULT (64u << 20)
/* argv strings kept per image (the collector keeps as many per exec) */
#define EG_PT_ARGS_MAX_COUNT 64

struct eg_proctable;

struct eg_pt_opts {
	uint32_t capacity;     /* images; 0: EG_PT_CAPACITY_DEFAULT */
	size_t max_bytes;      /* 0: EG_PT_BYTES_DEFAULT */
	const char *proc_root; /* NULL: "/proc" */
	const char *boot_id;   /* the first 8 characters prefix exec ids; NULL: read
				* /proc/sys/kernel/random/boot_id */
	int64_t boot_to_real;  /* wall clock minus boot time, ns (seeded start times) */
};

/* What an exec tells about the new image. Strings need not be NUL-terminated. */
struct eg_pt_exec {
	uint32_t tgid, ppid, uid, gid;
	int32_t loginuid;
	uint32_t flags;   /* EG_PROCF_SETUID ... (SEEDED, FORKED, UNKNOWN ignored) */
	int64_t start_ns; /* wall clock of the exec */
	uint64_t boot_ns; /* boot-clock ns of the exec: part of the exec id */
	uint64_t start_boottime; /* the process's start, boot-clock ns (0: unknown) */
	uint32_t tty_dev; /* major << 20 | minor, 0: none */
	const char *comm, *exe, *args, *cwd;
	uint32_t comm_len, exe_len, args_len, argc, cwd_len;
};

struct eg_pt_stats {
	uint64_t entries, bytes, evictions, misses, proc_reads, retired, seeded;
};

struct eg_proctable *eg_pt_new(const struct eg_pt_opts *o);
void eg_pt_free(struct eg_proctable *t);

/* A new image for in->tgid (replacing its current one). Returns it, or NULL
 * when out of memory. */
const struct eg_proc *eg_pt_exec(struct eg_proctable *t, const struct eg_pt_exec *in);

/* A new process child made by forker (its image is copied) with parent ppid,
 * at boot_ns (the exec id's time); start_boottime is the child's
 * task->start_boottime (0: unknown). Returns the child's image, or NULL when
 * neither forker nor /proc knew it or out of memory. */
const struct eg_proc *eg_pt_fork(struct eg_proctable *t, uint32_t child, uint32_t ppid,
				 uint32_t forker, const char *comm, size_t comm_len, uint32_t uid,
				 uint32_t gid, int64_t start_ns, uint64_t boot_ns,
				 uint64_t start_boottime);

/* The image of tgid; on a miss, read from /proc (a miss) when load is set.
 * NULL when unknown. */
const struct eg_proc *eg_pt_get(struct eg_proctable *t, uint32_t tgid, bool load);

/* An image for a process nothing could be learnt about (a miss whose
 * /proc entry is gone): flagged EG_PROCF_UNKNOWN, with the parent when the
 * table holds it, so that its next events do not read /proc again. */
const struct eg_proc *eg_pt_unknown(struct eg_proctable *t, uint32_t tgid, uint32_t ppid,
				    const char *comm, size_t comm_len, uint32_t uid, uint32_t gid);

/* The process is gone: its image leaves the table (retired). */
void eg_pt_exit(struct eg_proctable *t, uint32_t tgid);

/* Reads every process of /proc into the table (images flagged
 * EG_PROCF_SEEDED); processes already in it are kept. Returns how many were
 * added. */
unsigned eg_pt_seed(struct eg_proctable *t);

/* Frees the retired images. */
void eg_pt_reap(struct eg_proctable *t);

void eg_pt_stats(const struct eg_proctable *t, struct eg_pt_stats *s);

/* "pts/3", "tty1", "ttyS0", "console"...: the name of a tty device
 * (major, minor); n bytes at most. */
size_t eg_tty_name(char *out, size_t n, uint32_t major, uint32_t minor);

#endif
