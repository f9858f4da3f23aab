/* SPDX-License-Identifier: MIT */
/*
 * Container identity from cgroup v2 paths (docs/containers.md).
 *
 * eg_container_parse() reads a path; struct eg_cgroups maps the kernel's
 * cgroup id of an event (the inode number of the cgroup's directory) to the
 * struct eg_container of its path, resolving misses from /proc/<pid>/cgroup
 * or a bounded walk of the cgroup tree, and caching the answers.
 *
 * Not thread-safe: one owner (the collector's thread) calls everything.
 */
#ifndef EG_CGROUP_H
#define EG_CGROUP_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* What a cgroup path names. */
struct eg_container_name {
	const char *id;      /* 64 hex digits inside the parsed path (not
			      * NUL-terminated there), or "" for the host */
	const char *runtime; /* static: "docker", "containerd", "cri", "cri-o",
			      * "podman", or "host" */
	char pod_uid[40];    /* Kubernetes pod UID, dashed ("8-4-4-4-12") or
			      * 32 hex digits (static pods); "" when none */
	uint32_t id_len;
	uint32_t runtime_len;
	uint32_t pod_uid_len;
};

/*
 * Parses the cgroup v2 path path[0..len) (need not be NUL-terminated; any
 * bytes) into *out. Only the outermost container component counts, and a pod
 * only before it: names below a container's own cgroup are the container's
 * to choose. Returns 1 for a container, 0 for the host (id "", runtime
 * "host"; pod_uid may still be set).
 */
int eg_container_parse(const char *path, size_t len, struct eg_container_name *out);

/*
 * Finds the cgroup v2 mount: /sys/fs/cgroup on a unified host,
 * /sys/fs/cgroup/unified on a hybrid one, else the first cgroup2 entry of
 * /proc/self/mountinfo. Writes it to out (NUL-terminated). 0, or -errno
 * (-ENOENT: no cgroup2 mount; -ENAMETOOLONG: cap too small).
 */
int eg_cgroup2_root(char *out, size_t cap);

struct eg_cgroups_opts {
	const char *proc_root;    /* where /proc is; NULL: "/proc" */
	int64_t walk_interval_ns; /* least time between two walks of the tree;
				   * 0: 100 ms; < 0: no limit */
	int64_t retry_ns;         /* an unknown id is looked up again after
				   * this; 0: 1 s */
	uint32_t max_depth;       /* walk: directory levels below root; 0: 32 */
	uint32_t max_dirs;        /* walk: directories visited; 0: 8192 */
	/* the clock (monotonic ns); NULL: CLOCK_MONOTONIC */
	int64_t (*clock)(void *arg);
	void *clock_arg;
};

/* Counters, for metrics; updated in place, read any time by the owner. */
struct eg_cgroups_stats {
	uint64_t hits;      /* lookups answered by the cache (negative too) */
	uint64_t misses;    /* lookups that were not (or a negative entry due
			     * for a retry) */
	uint64_t proc_ok;   /* misses resolved from /proc/<pid>/cgroup */
	uint64_t scans;     /* walks of the tree */
	uint64_t scan_dirs; /* directories those walks visited */
	uint64_t scans_cut; /* walks stopped at max_depth or max_dirs */
	uint64_t throttled; /* misses that wanted a walk the rate limit refused */
	uint64_t negative;  /* negative entries made (ids not found) */
	uint64_t evictions; /* entries evicted to make room */
	uint64_t entries;   /* entries in the cache now */
	uint64_t retired;   /* entries waiting for eg_cgroups_reap() */
};

struct eg_cgroups;

/*
 * A cache of at most capacity entries (at least 16) for the cgroup tree at
 * root (eg_cgroup2_root(), or a directory tree in tests). opts may be NULL.
 * NULL with errno set on failure (ENOMEM, or root not a directory).
 */
struct eg_cgroups *eg_cgroups_new(const char *root, unsigned capacity);
struct eg_cgroups *eg_cgroups_new_opts(const char *root, unsigned capacity,
				       const struct eg_cgroups_opts *opts);

/*
 * The container of cgroup_id, never NULL. tgid_hint is a process thought to
 * be in that cgroup (its /proc/<tgid>/cgroup is tried first on a miss; 0:
 * none). An id that cannot be resolved gets a negative entry: cgroup,
 * runtime, id and pod_uid all "", retried after retry_ns. On a hit: no
 * allocation, no system call (a negative entry reads the clock).
 *
 * The returned object is immutable and stays valid until the next
 * eg_cgroups_reap() or eg_cgroups_free(), even if it is evicted or replaced
 * meanwhile.
 */
const struct eg_container *eg_cgroups_get(struct eg_cgroups *cg, uint64_t cgroup_id,
					  uint32_t tgid_hint);

/* Frees the entries evicted or replaced since the last reap: call it when no
 * object returned by eg_cgroups_get() before this call is in use any more
 * (after each batch went through the engine). */
void eg_cgroups_reap(struct eg_cgroups *cg);

/* Frees everything, retired entries included. NULL is fine. */
void eg_cgroups_free(struct eg_cgroups *cg);

const struct eg_cgroups_stats *eg_cgroups_stats(const struct eg_cgroups *cg);

#endif
