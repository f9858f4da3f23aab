/* SPDX-License-Identifier: MIT */
/*
 * The kernel collector: start-up checks, load the BPF programs (embedded
 * skeleton or -bpf-object), attach the probes the rules need, and drain the
 * ring buffer every EG_TICK_NS (EG_TICK_IDLE_NS while nothing comes) into the
 * pipeline (records are submitted with BPF_RB_NO_WAKEUP, so nothing wakes us:
 * the timer bounds alert latency).
 */
#include "collector.h"
#include "kkill.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/types.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "../bpf/eg_raw.h"
#include "event.h"
#include "harden.h"
#include "metrics.h"
#include "pipeline.h"
#include "proctable.h"
#include "recfilter.h"
#include "context.h"
#include "cgroup.h"

#ifdef EG_HAVE_SKEL
#include "ebpf_guard.skel.h"
#endif

#define EG_TICK_NS (10 * 1000000LL)           /* drain period while events flow */
#define EG_TICK_IDLE_NS (40 * 1000000LL)      /* longest period after empty drains */
#define EG_CLOCK_REFRESH_NS (1000 * 1000000LL) /* boot -> wall clock offset refresh */
#define EG_RINGBUF_BYTES (16u << 20)
#define EG_DRAIN_BUDGET 65536                  /* records per drain before servicing */
#define EG_DRAIN_PAUSE (-EAGAIN)               /* callback return: budget used up */
#define EG_ARGS_MAX_COUNT EG_PT_ARGS_MAX_COUNT /* argv strings kept per exec */

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* Every program, the event types it serves (a bit per enum eg_event_type)
 * and its tracefs event. */
struct probe {
	const char *prog;
	uint32_t types;
	const char *tp;
	bool optional; /* absent on some kernels (io_uring) */
};

#define T(t) (1u << (t))
/* Not an event type: the probes the process table needs, always attached. */
#define T_CONTEXT (1u << 31)
static const struct probe probes[] = {
	{"sched_process_exec", T(EG_EV_EXEC) | T_CONTEXT, "sched/sched_process_exec", false},
	{"tracepoint__syscalls__sys_exit_execve", T(EG_EV_EXEC) | T_CONTEXT, "syscalls/sys_exit_execve", false},
	{"tracepoint__syscalls__sys_exit_execveat", T(EG_EV_EXEC) | T_CONTEXT, "syscalls/sys_exit_execveat", false},
	{"tracepoint__syscalls__sys_enter_execve", T(EG_EV_EXEC) | T_CONTEXT, "syscalls/sys_enter_execve", false},
	{"tracepoint__syscalls__sys_enter_execveat", T(EG_EV_EXEC) | T_CONTEXT, "syscalls/sys_enter_execveat", false},
	{"sched_process_fork", T_CONTEXT, "sched/sched_process_fork", false},
	/* every family reported at a system call's exit (bpf/syscalls.h) */
	{"sys_exit", T(EG_EV_OPEN) | T(EG_EV_CONNECT) | T(EG_EV_MEMFD) | T(EG_EV_PTRACE) |
			     T(EG_EV_MODULE) | T(EG_EV_BPF) | T(EG_EV_SETID) | T(EG_EV_NAMESPACE) |
			     T(EG_EV_MOUNT) | T(EG_EV_LINK) | T(EG_EV_RENAME) | T(EG_EV_UNLINK) |
			     T(EG_EV_CHMOD) | T(EG_EV_DUP) | T(EG_EV_LISTEN) | T(EG_EV_ACCEPT),
	 "raw_syscalls/sys_exit", false},
	{"inet_sock_set_state", T(EG_EV_CONNECT), "sock/inet_sock_set_state", false},
	{"net_dev_queue", T(EG_EV_CONNECT), "net/net_dev_queue", false},
	{"io_uring_submit_req", T(EG_EV_OPEN), "io_uring/io_uring_submit_req", true},
	{"io_uring_complete", T(EG_EV_OPEN), "io_uring/io_uring_complete", true},
	{"sched_process_exit", T(EG_EV_EXIT) | T_CONTEXT, "sched/sched_process_exit", false},
};
#undef T
#define NPROBES (sizeof(probes) / sizeof(probes[0]))

struct collector {
	const struct eg_collector_opts *o;
	struct eg_pipeline *p;
	struct bpf_object *obj;
#ifdef EG_HAVE_SKEL
	struct ebpf_guard *skel;
#endif
	struct bpf_program *prog[NPROBES];
	volatile uint32_t *want; /* eg_want in the mapped .bss */
	volatile uint32_t *exec_exit_dispatch; /* eg_exec_exit_dispatch, NULL: none */
	struct bpf_link *link[NPROBES];
	uint32_t attached_types;
	struct ring_buffer *rb;
	int drops_fd;
	int ncpus;
	const volatile uint64_t *lost; /* eg_events_lost in the mapped .bss */
	void *bss;
	size_t bss_len;
	uint64_t *drop_vals;
	uint64_t *scrape_drop_vals; /* the metrics thread's buffer (refresh_on_scrape) */
	const volatile unsigned long *cons_pos, *prod_pos;
	size_t page;
	int64_t boot_to_real; /* add to a bpf_ktime_get_boot_ns() value */
	unsigned drained;     /* records in the current drain */
	unsigned budget;
	uint64_t bad_records;
	struct eg_proctable *pt;
	struct eg_cgroups *cg;             /* NULL without cgroup v2 */
	uint64_t last_cg;                  /* the last cgroup id looked up */
	const struct eg_container *last_ctr; /* and its container (until a reap) */
	const struct eg_host *host;
	/* the kernel filter (bpf/eg_raw.h): -1 fds when the object has none */
	volatile uint32_t *kf_open;  /* eg_kf_open in the mapped .bss, NULL: none */
	int kf_prefix_fd, kf_suffix_fd, kf_comm_fd, kf_filtered_fd;
	int kf_head_fd;                  /* kf_open_head, -1: none */
	volatile uint32_t *kf_open_heads; /* eg_kf_open_heads, NULL: none */
	uint64_t kf_gen;             /* the engine generation the maps hold */
	bool kf_synced;              /* kf_gen and kf_state are valid */
	int kf_state;                /* 1 on, 0 off */
	uint32_t kf_epoch;           /* eg_kf_open's value while on: new per fill */
	struct eg_kk *kk;            /* -enforce: the kills made in the kernel */
	uint64_t *kf_vals;           /* ncpus slots, the event loop's */
	/* the file families' filter (bpf/fam_files.h): eg_kf_paths, eg_kf_path2 */
	volatile uint32_t *kf_paths, *kf_path2, *kf_chmod_mode;
	volatile uint32_t *kf_path1_skip; /* eg_kf_path1_skip, NULL: none */
	int kf_path_prefix_fd, kf_path_word_fd;
	int kf_path_head_fd;             /* kf_path_head, -1: none */
	volatile uint32_t *kf_path_heads; /* eg_kf_path_heads, NULL: none */
	uint32_t kfp_heads;              /* the bits it gets once the maps are in */
	bool kfp_heads_off;              /* some prefix has no head (or one failed) */
	uint64_t kfp_gen;            /* the engine generation the maps hold */
	bool kfp_synced;             /* kfp_gen and kfp_on are valid */
	uint32_t kfp_on, kfp_path2;  /* bit per record type: on, its second path tested */
	uint32_t kfp_path1_skip;     /* bit per record type: its first path not tested */
	/* the socket families' port filter (kf_port_drop): eg_kf_socks */
	volatile uint32_t *kf_socks;
	int kf_port_fd;
	/* their programs and first successes: eg_kf_sock_progs, eg_kf_sock_once */
	volatile uint32_t *kf_sock_progs, *kf_sock_once;
	int kf_sock_prog_fd, kf_once_fd;
	/* connect's addresses and loopback classes: eg_kf_conn_addrs, eg_kf_conn_loop */
	volatile uint32_t *kf_conn_addrs, *kf_conn_loop;
	int kf_addr_fd;
	/* connect's memory of destinations (a detection's once_per):
	 * eg_kf_conn_seen, eg_kf_conn_seen_ns, kf_seen */
	volatile uint32_t *kf_conn_seen;
	/* the bitmap in front of the filters' hash sets (bpf/eg_raw.h,
	 * eg_kf_bloom): NULL when the object has none */
	volatile uint64_t *kf_bloom;
	volatile uint64_t *kf_conn_seen_ns;
	int kf_seen_fd;
	uint64_t kfs_gen;
	bool kfs_synced;
	uint32_t kfs_on;
	uint64_t *scrape_kf_vals;    /* the metrics thread's */
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CLOCK_REALTIME - CLOCK_BOOTTIME, from the tightest of a few bracketed reads. */
static int64_t boot_to_real_offset(void)
{
	int64_t best = INT64_MAX, off = 0;
	for (int i = 0; i < 5; i++) {
		int64_t r1 = clock_ns(CLOCK_REALTIME);
		int64_t b = clock_ns(CLOCK_BOOTTIME);
		int64_t r2 = clock_ns(CLOCK_REALTIME);
		if (r2 - r1 < best) {
			best = r2 - r1;
			off = r1 + (r2 - r1) / 2 - b;
		}
	}
	return off;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static int libbpf_verbose(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return vfprintf(stderr, fmt, ap);
}

static bool have_cap(int cap)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {0};
	if (syscall(SYS_capget, &h, d))
		return false;
	return d[cap / 32].effective & (1u << (cap % 32));
}

/*
 * Whether bpf() on objects the daemon already holds (a map lookup, a link)
 * needs CAP_BPF here: before Linux 6.5, with unprivileged BPF disabled, every
 * bpf() command did; since, the descriptor is enough. Tried with CAP_BPF and
 * CAP_SYS_ADMIN out of the effective set for a moment (they stay permitted).
 */
static bool bpf_calls_need_cap(struct collector *c)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3], saved[_LINUX_CAPABILITY_U32S_3];
	if (!c->drop_vals || syscall(SYS_capget, &h, d))
		return true;
	memcpy(saved, d, sizeof(d));
	d[CAP_BPF / 32].effective &= ~(1u << (CAP_BPF % 32));
	d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
	if (syscall(SYS_capset, &h, d))
		return true;
	bool need = bpf_map_lookup_elem(c->drops_fd, &(uint32_t){0}, c->drop_vals) && errno == EPERM;
	syscall(SYS_capset, &h, saved);
	return need;
}

/*
 * The capabilities the running collector needs (docs/operations.md,
 * "Hardening"): CAP_PERFMON to attach tracepoints when a reload wants other
 * event types (perf_event_open; not with -all-events, where everything is
 * attached now), and CAP_BPF only where bpf() calls on our own maps and links
 * need it. CAP_SYS_ADMIN stands in for either when the daemon runs without it.
 */
static uint64_t caps_needed(struct collector *c)
{
	uint64_t need = 0;
	if (!c->o->all_events)
		need |= have_cap(CAP_PERFMON) ? EG_CAP(CAP_PERFMON) : EG_CAP(CAP_SYS_ADMIN);
	if (bpf_calls_need_cap(c))
		need |= have_cap(CAP_BPF) ? EG_CAP(CAP_BPF) : EG_CAP(CAP_SYS_ADMIN);
	return need;
}

/* Where libbpf 1.x looks for tracepoint ids; mounts tracefs when neither is. */
static const char *tracefs_dir(char *err, size_t errlen)
{
	static const char *const dirs[] = {"/sys/kernel/debug/tracing", "/sys/kernel/tracing"};
	char path[128];
	/* libbpf uses debug/tracing whenever that path exists */
	if (access(dirs[0], F_OK) == 0) {
		snprintf(path, sizeof(path), "%s/events", dirs[0]);
		if (access(path, F_OK) == 0)
			return dirs[0];
		snprintf(err, errlen, "tracefs is not available under %s: mount it (mount -t tracefs tracefs %s)",
			 dirs[0], dirs[0]);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/events", dirs[1]);
	if (access(path, F_OK) == 0)
		return dirs[1];
	if (mount("tracefs", dirs[1], "tracefs", 0, NULL) && errno != EBUSY) {
		snprintf(err, errlen, "tracefs is not mounted and mounting it at %s failed: %s", dirs[1],
			 strerror(errno));
		return NULL;
	}
	if (access(path, F_OK) == 0)
		return dirs[1];
	snprintf(err, errlen, "tracefs mounted at %s has no events directory (kernel without CONFIG_FTRACE_SYSCALLS?)",
		 dirs[1]);
	return NULL;
}

/* Finds global variable var (size bytes) of section sec (".rodata", ".bss")
 * through the object's BTF: the section's map (libbpf names it after the
 * object, "ebpf_gu.bss") in *map, the variable's offset in *off. 0, -ENOENT,
 * or -EINVAL when the size does not match. */
static int find_global(struct bpf_object *obj, const char *sec, const char *var, size_t size,
		       struct bpf_map **map, size_t *off)
{
	struct bpf_map *m, *found = NULL;
	size_t sl = strlen(sec);
	bpf_object__for_each_map(m, obj) {
		const char *n = bpf_map__name(m);
		size_t l = strlen(n);
		if (l >= sl && !strcmp(n + l - sl, sec))
			found = m;
	}
	struct btf *btf = bpf_object__btf(obj);
	int id = btf ? btf__find_by_name_kind(btf, sec, BTF_KIND_DATASEC) : -ENOENT;
	if (!found || id < 0)
		return -ENOENT;
	const struct btf_type *t = btf__type_by_id(btf, id);
	const struct btf_var_secinfo *v = btf_var_secinfos(t);
	for (int i = 0; i < btf_vlen(t); i++, v++) {
		const struct btf_type *vt = btf__type_by_id(btf, v->type);
		if (strcmp(btf__name_by_offset(btf, vt->name_off), var))
			continue;
		if (v->size != size || v->offset + size > bpf_map__value_size(found))
			return -EINVAL;
		*map = found;
		*off = v->offset;
		return 0;
	}
	return -ENOENT;
}

/* Sets a `const volatile` global of the object's .rodata before load. */
static int set_rodata_u32(struct bpf_object *obj, const char *var, uint32_t val)
{
	struct bpf_map *ro;
	size_t off, sz = 0;
	int err = find_global(obj, ".rodata", var, sizeof(val), &ro, &off);
	if (err)
		return err;
	char *data = (char *)bpf_map__initial_value(ro, &sz);
	if (!data || off + sizeof(val) > sz)
		return -ENOENT;
	memcpy(data + off, &val, sizeof(val));
	return 0;
}

/*
 * After load: maps the object's .bss (the kernel's own memory) and points
 * c->want at eg_want (written when the attached set changes) and c->lost at
 * eg_events_lost (read by the pipeline once per batch). Not
 * bpf_map__initial_value(): libbpf 1.1 leaves that on its private copy after
 * bpf_object__load() (only a skeleton remaps it). 0, or -errno.
 */
static int map_bss(struct collector *c)
{
	struct bpf_map *bss, *bss2;
	size_t lost_off, want_off;
	int err = find_global(c->obj, ".bss", "eg_events_lost", sizeof(uint64_t), &bss, &lost_off);
	if (!err)
		err = find_global(c->obj, ".bss", "eg_want", sizeof(uint32_t), &bss2, &want_off);
	if (err)
		return err;
	size_t len = (bpf_map__value_size(bss) + c->page - 1) / c->page * c->page;
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(bss), 0);
	if (m == MAP_FAILED)
		return -errno;
	c->bss = m;
	c->bss_len = len;
	c->lost = (const volatile uint64_t *)((char *)m + lost_off);
	c->want = (volatile uint32_t *)((char *)m + want_off);
	struct bpf_map *bss3;
	size_t kf_off;
	if (!find_global(c->obj, ".bss", "eg_kf_open", sizeof(uint32_t), &bss3, &kf_off) && bss3 == bss)
		c->kf_open = (volatile uint32_t *)((char *)m + kf_off);
	if (!find_global(c->obj, ".bss", "eg_kf_open_heads", sizeof(uint32_t), &bss3, &kf_off) && bss3 == bss)
		c->kf_open_heads = (volatile uint32_t *)((char *)m + kf_off);
	/* the open filter's memory of its drops (bpf/ebpf_guard.bpf.c,
	 * kf_open_cache): its keys' secret seed */
	if (!find_global(c->obj, ".bss", "eg_kf_seed", sizeof(uint64_t), &bss3, &kf_off) && bss3 == bss) {
		uint64_t seed = 0;
		if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
			return -errno;
		*(volatile uint64_t *)((char *)m + kf_off) = seed;
	}
	size_t kfp_off, kfp2_off;
	if (!find_global(c->obj, ".bss", "eg_kf_paths", sizeof(uint32_t), &bss3, &kfp_off) && bss3 == bss &&
	    !find_global(c->obj, ".bss", "eg_kf_path2", sizeof(uint32_t), &bss3, &kfp2_off) && bss3 == bss) {
		c->kf_paths = (volatile uint32_t *)((char *)m + kfp_off);
		c->kf_path2 = (volatile uint32_t *)((char *)m + kfp2_off);
		if (!find_global(c->obj, ".bss", "eg_kf_chmod_mode", sizeof(uint32_t), &bss3, &kfp2_off) &&
		    bss3 == bss)
			c->kf_chmod_mode = (volatile uint32_t *)((char *)m + kfp2_off);
		if (!find_global(c->obj, ".bss", "eg_kf_path1_skip", sizeof(uint32_t), &bss3, &kfp2_off) &&
		    bss3 == bss)
			c->kf_path1_skip = (volatile uint32_t *)((char *)m + kfp2_off);
		if (!find_global(c->obj, ".bss", "eg_kf_path_heads", sizeof(uint32_t), &bss3, &kfp2_off) &&
		    bss3 == bss)
			c->kf_path_heads = (volatile uint32_t *)((char *)m + kfp2_off);
	}
	if (!find_global(c->obj, ".bss", "eg_kf_socks", sizeof(uint32_t), &bss3, &kf_off) && bss3 == bss)
		c->kf_socks = (volatile uint32_t *)((char *)m + kf_off);
	if (!find_global(c->obj, ".bss", "eg_kf_sock_progs", sizeof(uint32_t), &bss3, &kf_off) && bss3 == bss)
		c->kf_sock_progs = (volatile uint32_t *)((char *)m + kf_off);
	if (!find_global(c->obj, ".bss", "eg_kf_sock_once", sizeof(uint32_t), &bss3, &kf_off) && bss3 == bss)
		c->kf_sock_once = (volatile uint32_t *)((char *)m + kf_off);
	if (!find_global(c->obj, ".bss", "eg_exec_exit_dispatch", sizeof(uint32_t), &bss3, &kf_off) && bss3 == bss)
		c->exec_exit_dispatch = (volatile uint32_t *)((char *)m + kf_off);
	if (!find_global(c->obj, ".bss", "eg_kf_conn_addrs", sizeof(uint32_t), &bss3, &kf_off) && bss3 == bss)
		c->kf_conn_addrs = (volatile uint32_t *)((char *)m + kf_off);
	if (!find_global(c->obj, ".bss", "eg_kf_conn_loop", sizeof(uint32_t), &bss3, &kf_off) && bss3 == bss)
		c->kf_conn_loop = (volatile uint32_t *)((char *)m + kf_off);
	if (!find_global(c->obj, ".bss", "eg_kf_conn_seen", sizeof(uint32_t), &bss3, &kf_off) && bss3 == bss)
		c->kf_conn_seen = (volatile uint32_t *)((char *)m + kf_off);
	if (!find_global(c->obj, ".bss", "eg_kf_conn_seen_ns", sizeof(uint64_t), &bss3, &kf_off) && bss3 == bss)
		c->kf_conn_seen_ns = (volatile uint64_t *)((char *)m + kf_off);
	/* the bitmap: on from now, while every filter is still off and its
	 * sets empty; each key's bit is set before the key goes in */
	size_t on_off;
	if (!find_global(c->obj, ".bss", "eg_kf_bloom", EG_KF_BLOOM_WORDS * sizeof(uint64_t), &bss3, &kf_off) &&
	    bss3 == bss && !find_global(c->obj, ".bss", "eg_kf_bloom_on", sizeof(uint32_t), &bss3, &on_off) &&
	    bss3 == bss) {
		c->kf_bloom = (volatile uint64_t *)((char *)m + kf_off);
		*(volatile uint32_t *)((char *)m + on_off) = 1;
	}
	return 0;
}

/* Sets key k's bit of the hash set `set` (EG_KFB_*) in the bitmap in front
 * of the filters' sets: before the key goes into its set. Never cleared
 * (a stale bit only costs the program a lookup). */
static void kf_bloom_add(struct collector *c, uint32_t set, uint64_t k)
{
	if (!c->kf_bloom)
		return;
	uint32_t b = eg_kf_bloom_bit(set, k);
	__atomic_fetch_or(&c->kf_bloom[b >> 6], 1ull << (b & 63), __ATOMIC_RELAXED);
}

/* ---- decoding ------------------------------------------------------------ */

/*
 * Copies a walked path, x[0..xl) ("/a/b/c", up to a NUL), into the batch
 * arena, with " (deleted)" appended when deleted and room bytes to spare.
 * Returns the string (NUL-terminated, length in *len), or NULL when empty.
 */
static char *copy_path(struct eg_pipeline *p, const char *x, size_t xl, bool deleted, size_t room,
		       size_t *len)
{
	static const char del[] = " (deleted)";
	size_t n = strnlen(x, xl);
	if (!n)
		return NULL;
	char *d = eg_pipe_alloc(p, n + sizeof(del) + room);
	memcpy(d, x, n);
	if (deleted) {
		memcpy(d + n, del, sizeof(del) - 1);
		n += sizeof(del) - 1;
	}
	d[n] = 0;
	*len = n;
	return d;
}

/* The executable's path. */
static void decode_exe(struct eg_pipeline *p, struct eg_event *ev, const char *x, size_t xl,
		       bool deleted)
{
	size_t n;
	char *d = copy_path(p, x, xl, deleted, 0, &n);
	if (d) {
		ev->exe = d;
		ev->exe_len = (uint32_t)n;
	}
}

/*
 * Lexically normalises the path p[0..n) in place: empty and "." components
 * go, ".." removes the component before it (at the root of an absolute path
 * it is dropped; the leading ones of a relative path stay). An absolute path
 * stays absolute ("/" at least), an empty relative one becomes ".". Returns
 * the new length; p[len] is NUL, so p needs n + 1 bytes (2 when n is 0).
 */
static size_t norm_path(char *p, size_t n)
{
	bool abs = n && p[0] == '/';
	size_t o = abs, keep = abs, i = 0;
	while (i < n) {
		while (i < n && p[i] == '/')
			i++;
		size_t b = i;
		while (i < n && p[i] != '/')
			i++;
		size_t l = i - b;
		if (l == 0 || (l == 1 && p[b] == '.'))
			continue;
		if (l == 2 && p[b] == '.' && p[b + 1] == '.') {
			if (o > keep) {
				while (o > keep && p[o - 1] != '/')
					o--;
				if (o > keep)
					o--;
				continue;
			}
			if (abs)
				continue;
			if (o)
				p[o++] = '/';
			p[o++] = '.';
			p[o++] = '.';
			keep = o;
			continue;
		}
		if (o > (size_t)abs)
			p[o++] = '/';
		memmove(p + o, p + b, l);
		o += l;
	}
	if (!o)
		p[o++] = '.';
	p[o] = 0;
	return o;
}

/*
 * Whether the requested path req names the opened file's path actual: an
 * absolute one once normalised, a relative one when actual ends with it
 * (normalised, its leading ".." left out). A symbolic link, a bind mount or
 * a path swapped during the call makes them differ.
 */
static bool requested_names(const char *req, size_t rn, const char *actual, size_t an)
{
	static char tmp[EG_RAW_PATH_MAX + 2];
	if (rn == an && !memcmp(req, actual, rn))
		return true; /* the common case: already the kernel's path */
	if (rn > EG_RAW_PATH_MAX)
		return false;
	memcpy(tmp, req, rn);
	size_t n = norm_path(tmp, rn);
	if (tmp[0] == '/')
		return n == an && !memcmp(tmp, actual, n);
	const char *t = tmp;
	while (n >= 2 && t[0] == '.' && t[1] == '.' && (n == 2 || t[2] == '/')) {
		t += n == 2 ? 2 : 3;
		n -= n == 2 ? 2 : 3;
	}
	if (!n || (n == 1 && t[0] == '.'))
		return true;
	return an > n && actual[an - n - 1] == '/' && !memcmp(actual + an - n, t, n);
}

/*
 * An open: requested is the path argument (fn, rn bytes); filename the
 * opened file's path from the kernel (EG_RAWF_PATH_FILE), or the request
 * made absolute against its start directory (EG_RAWF_PATH_DIR) and
 * normalised, or the request normalised when absolute. A request cut at
 * EG_RAW_PATH_MAX is not normalised (its end is unknown).
 */
static void decode_open(struct eg_pipeline *p, struct eg_event *ev, const struct eg_raw_event *r,
			const char *fn, size_t rn, const char *x)
{
	ev->requested = eg_pipe_str(p, fn, rn);
	ev->requested_len = (uint32_t)rn;
	ev->ret = r->ret;
	size_t n = 0;
	char *d = NULL;
	bool cut = r->flags & EG_RAWF_TRUNC_FILENAME;
	if (r->flags & EG_RAWF_PATH_FILE) {
		d = copy_path(p, x, r->exe_len, r->flags & EG_RAWF_DELETED, 0, &n);
		if (d && !(r->flags & EG_RAWF_NO_PATH_ARG) && !requested_names(fn, rn, d, n))
			ev->flags |= EG_EVF_REQ_DIFFERS;
	} else if (r->flags & EG_RAWF_PATH_DIR) {
		d = copy_path(p, x, r->exe_len, false, rn + 2, &n);
		if (d) {
			d[n++] = '/';
			memcpy(d + n, fn, rn);
			n += rn;
			d[n] = 0;
			if (!cut)
				n = norm_path(d, n);
		}
	}
	if (!d && rn) {
		d = eg_pipe_alloc(p, rn + 2);
		memcpy(d, fn, rn);
		n = fn[0] == '/' && !cut ? norm_path(d, rn) : rn;
		d[n] = 0;
	}
	if (d) {
		ev->filename = d;
		ev->filename_len = (uint32_t)n;
	}
}

/*
 * A path made absolute against its start directory dir[0..dl) (a walk, no
 * NUL) and normalised (not when cut: its end is unknown); or the path
 * itself, normalised when absolute. NULL when both are empty.
 */
static char *join_path(struct eg_pipeline *p, const char *dir, size_t dl, const char *rel,
		       size_t rn, bool cut, size_t *len)
{
	size_t n = 0;
	char *d = dl ? copy_path(p, dir, dl, false, rn + 2, &n) : NULL;
	if (d) {
		d[n++] = '/';
		memcpy(d + n, rel, rn);
		n += rn;
		d[n] = 0;
		if (!cut)
			n = norm_path(d, n);
	} else if (rn) {
		d = eg_pipe_alloc(p, rn + 2);
		memcpy(d, rel, rn);
		n = rel[0] == '/' && !cut ? norm_path(d, rn) : rn;
		d[n] = 0;
	}
	*len = n;
	return d;
}

static size_t format_ip(char *out, int family, const uint8_t *a);

/*
 * The regions of a newer family's record (bpf/eg_raw.h): the first path (or
 * name) into filename, made absolute against S1 or taken from the file S1
 * names; S2 into aux[0], a path made absolute against S3, or a local
 * address; otherwise S3 into aux[1]. A peer address in the header becomes
 * dest_ip and dest_port.
 */
static void decode_family(struct eg_pipeline *p, struct eg_event *ev, const struct eg_raw_event *r,
			  const char *fn, size_t fl, const char *s1)
{
	bool cut = r->flags & EG_RAWF_TRUNC_FILENAME;
	size_t n = 0;
	char *d = NULL;
	if (r->flags & EG_RAWF_PATH_FILE)
		d = copy_path(p, s1, r->exe_len, r->flags & EG_RAWF_DELETED, 0, &n);
	if (!d)
		d = join_path(p, s1, r->flags & EG_RAWF_PATH_DIR ? r->exe_len : 0, fn, fl, cut, &n);
	if (d) {
		ev->filename = d;
		ev->filename_len = (uint32_t)n;
	}
	const char *s2 = s1 + r->exe_len, *s3 = s2 + r->args_len;
	size_t l2 = strnlen(s2, r->args_len), l3 = strnlen(s3, r->s3_len);
	if (r->flags & EG_RAWF_LOCAL_ADDR) {
		char ip[INET6_ADDRSTRLEN];
		struct eg_raw_local_addr la;
		if (r->args_len >= sizeof(la)) {
			memcpy(&la, s2, sizeof(la));
			n = format_ip(ip, la.family, la.addr);
			ev->aux[0] = eg_pipe_str(p, ip, n);
			ev->aux_len[0] = (uint32_t)n;
		}
	} else if (r->flags & EG_RAWF_PATH2_DIR) {
		d = join_path(p, s3, r->s3_len, s2, l2, cut, &n);
		if (d) {
			ev->aux[0] = d;
			ev->aux_len[0] = (uint32_t)n;
		}
	} else {
		if (l2) {
			ev->aux[0] = eg_pipe_str(p, s2, l2);
			ev->aux_len[0] = (uint32_t)l2;
		}
		if (l3) {
			ev->aux[1] = eg_pipe_str(p, s3, l3);
			ev->aux_len[1] = (uint32_t)l3;
		}
	}
	if (r->family == AF_INET || r->family == AF_INET6) {
		char ip[INET6_ADDRSTRLEN];
		n = format_ip(ip, r->family, r->dest_addr);
		ev->dest_ip = eg_pipe_str(p, ip, n);
		ev->dest_ip_len = (uint32_t)n;
		ev->dest_port = r->dest_port;
	}
}

/* Copies argv (NUL-separated), keeping at most EG_ARGS_MAX_COUNT strings and
 * NUL-terminating a string the byte bound cut. Returns true when it cut. */
static bool decode_args(struct eg_pipeline *p, struct eg_event *ev, const char *a, size_t al)
{
	size_t i = 0, argc = 0;
	while (i < al && argc < EG_ARGS_MAX_COUNT) {
		i += strnlen(a + i, al - i) + 1;
		argc++;
	}
	if (!argc)
		return false;
	bool cut = i != al;
	size_t copy = i > al ? al : i;
	char *d = eg_pipe_alloc(p, copy + 1);
	memcpy(d, a, copy);
	d[copy] = 0;
	ev->args = d;
	ev->args_len = (uint32_t)(i > al ? copy + 1 : copy);
	ev->argc = (uint32_t)argc;
	return cut;
}

static char *put_dec(char *d, unsigned v)
{
	if (v >= 100)
		*d++ = (char)('0' + v / 100);
	if (v >= 10)
		*d++ = (char)('0' + v / 10 % 10);
	*d++ = (char)('0' + v % 10);
	return d;
}

static char *put_ipv4(char *d, const uint8_t *a)
{
	for (int i = 0; i < 4; i++) {
		if (i)
			*d++ = '.';
		d = put_dec(d, a[i]);
	}
	return d;
}

/*
 * Address text without inet_ntop (glibc's formats through sprintf, a visible
 * share of the daemon's time per connect): dotted quad, or RFC 5952 for IPv6
 * (lower-case hex without leading zeros, the longest run of two or more zero
 * groups as "::", the first such run on a tie, ::ffff:a.b.c.d for IPv4-mapped).
 * out holds at least INET6_ADDRSTRLEN bytes. Returns the length.
 */
static size_t format_ip(char *out, int family, const uint8_t *a)
{
	static const char hex[] = "0123456789abcdef";
	char *d = out;
	if (family != AF_INET6) {
		d = put_ipv4(d, a);
		*d = 0;
		return (size_t)(d - out);
	}
	uint16_t w[8];
	for (int i = 0; i < 8; i++)
		w[i] = (uint16_t)(a[2 * i] << 8 | a[2 * i + 1]);
	int best = -1, best_len = 0;
	for (int i = 0; i < 8;) {
		if (w[i]) {
			i++;
			continue;
		}
		int j = i;
		while (j < 8 && !w[j])
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j;
	}
	if (best_len < 2)
		best = -1;
	bool mapped = best == 0 && best_len == 5 && w[5] == 0xffff;
	int end = mapped ? 6 : 8;
	for (int i = 0; i < end; i++) {
		if (i == best) {
			*d++ = ':';
			*d++ = ':';
			i += best_len - 1;
			continue;
		}
		if (i && i != best + best_len)
			*d++ = ':';
		bool lead = true;
		for (int sh = 12; sh >= 0; sh -= 4) {
			unsigned nib = (w[i] >> sh) & 0xf;
			if (lead && nib == 0 && sh)
				continue;
			lead = false;
			*d++ = hex[nib];
		}
	}
	if (mapped) {
		*d++ = ':';
		d = put_ipv4(d, a + 12);
	}
	*d = 0;
	return (size_t)(d - out);
}

/* "/dev/fd/N" exactly: how the kernel names execveat(fd, "", AT_EMPTY_PATH). */
static bool is_dev_fd(const char *s, size_t n)
{
	static const char pre[] = "/dev/fd/";
	if (n <= sizeof(pre) - 1 || memcmp(s, pre, sizeof(pre) - 1))
		return false;
	for (size_t i = sizeof(pre) - 1; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

_Static_assert(sizeof(struct eg_raw_event) == 96, "bpf/eg_raw.h header layout");
_Static_assert(sizeof(struct eg_raw_exec) == 48, "bpf/eg_raw.h exec extension layout");
_Static_assert(sizeof(struct eg_raw_fork) == 8, "bpf/eg_raw.h fork extension layout");
_Static_assert(sizeof(struct eg_raw_args) == 64 && EG_RAW_NARGS == EG_EV_NUMS, "bpf/eg_raw.h args layout");

/* A fork record (size bytes): the child's image, no event. */
static void on_fork(struct collector *c, const struct eg_raw_event *r, size_t size)
{
	int64_t ts = (int64_t)r->ts_ns + c->boot_to_real;
	struct eg_raw_fork f = {0};
	if (size >= sizeof(*r) + sizeof(f))
		memcpy(&f, r + 1, sizeof(f));
	eg_pt_fork(c->pt, r->tgid, r->ppid, r->open_flags, r->comm, EG_RAW_COMM_LEN, r->uid, r->gid,
		   ts, r->ts_ns, f.start_boottime);
	eg_recfilter_fork(eg_pipe_record_filter(c->p), r->tgid, r->ppid);
}

/* The image an exec made, from the event just decoded and the record's
 * extension x (cwd at cwd[0..cn)). */
static const struct eg_proc *exec_image(struct collector *c, const struct eg_event *ev,
					const struct eg_raw_event *r, const struct eg_raw_exec *x,
					const char *cwd, size_t cn)
{
	struct eg_pt_exec in = {
		.tgid = r->tgid, .ppid = r->ppid, .uid = r->uid, .gid = r->gid,
		.loginuid = (int32_t)x->loginuid,
		.start_ns = ev->ts_ns, .boot_ns = r->ts_ns, .start_boottime = x->start_boottime,
		.tty_dev = x->tty_dev,
		.comm = x->comm, .comm_len = (uint32_t)strnlen(x->comm, EG_RAW_COMM_LEN),
		.exe = ev->exe, .exe_len = ev->exe_len,
		.args = ev->args, .args_len = ev->args_len, .argc = ev->argc,
		.cwd = cwd, .cwd_len = (uint32_t)strnlen(cwd, cn),
	};
	if (x->xflags & EG_RAWX_NO_LOGINUID)
		in.loginuid = -1;
	if (x->mode & 04000)
		in.flags |= EG_PROCF_SETUID;
	if (x->mode & 02000)
		in.flags |= EG_PROCF_SETGID;
	if (x->xflags & EG_RAWX_LD_PRELOAD)
		in.flags |= EG_PROCF_LD_PRELOAD;
	if (x->xflags & EG_RAWX_LD_LIBRARY_PATH)
		in.flags |= EG_PROCF_LD_LIBRARY_PATH;
	/* an environment too long to scan to its end may hide either: say so
	 * rather than let thousands of padding strings clear the flags */
	if (x->xflags & EG_RAWX_ENV_CUT)
		in.flags |= EG_PROCF_LD_PRELOAD | EG_PROCF_LD_LIBRARY_PATH;
	if (r->flags & EG_RAWF_DELETED)
		in.flags |= EG_PROCF_EXE_DELETED;
	if (r->flags & EG_RAWF_TRUNC_ARGS || (ev->flags & EG_EVF_TRUNCATED && ev->argc >= EG_ARGS_MAX_COUNT))
		in.flags |= EG_PROCF_ARGS_TRUNCATED;
	return eg_pt_exec(c->pt, &in);
}

/* The container of a cgroup id (one compare while the id repeats). */
static const struct eg_container *container_of(struct collector *c, uint64_t id, uint32_t tgid)
{
	if (!c->cg)
		return NULL;
	if (c->last_ctr && c->last_cg == id)
		return c->last_ctr;
	c->last_cg = id;
	c->last_ctr = eg_cgroups_get(c->cg, id, tgid);
	return c->last_ctr;
}

/* After a flush: frees what the table and the cgroup cache retired. */
static void reap(struct collector *c)
{
	eg_pt_reap(c->pt);
	if (c->cg)
		eg_cgroups_reap(c->cg);
	c->last_ctr = NULL;
}

/* Ring-buffer callback: one raw record -> one struct eg_event in the batch
 * (a fork record only updates the process table). */
static int on_sample(void *ctx, void *data, size_t size)
{
	struct collector *c = ctx;
	const struct eg_raw_event *r = data;
	if (size >= sizeof(*r) && r->type == EG_RAW_FORK) {
		on_fork(c, r, size);
		return 0;
	}
	/* exits of a type no rule wants: only the process table hears of them
	 * (exec events are built first: their image needs the decoding) */
	if (size >= sizeof(*r) && r->type == EG_EV_EXIT && !(c->attached_types & (1u << EG_EV_EXIT))) {
		eg_pt_exit(c->pt, r->tgid);
		eg_recfilter_exit(eg_pipe_record_filter(c->p), r->tgid);
		return 0;
	}
	const struct eg_raw_exec *x = NULL;
	const struct eg_raw_args *ra = NULL;
	size_t hdr = sizeof(*r);
	if (size >= sizeof(*r) && r->type == EG_EV_EXEC && (r->flags & EG_RAWF_EXEC_EXT)) {
		x = (const struct eg_raw_exec *)(r + 1);
		hdr += sizeof(*x);
	} else if (size >= sizeof(*r) && r->type > EG_EV_EXIT && (r->flags & EG_RAWF_ARGS)) {
		ra = (const struct eg_raw_args *)(r + 1);
		hdr += sizeof(*ra);
	}
	size_t s3 = ra ? r->s3_len : 0;
	if (size < hdr ||
	    hdr + r->filename_len + r->exe_len + r->args_len + (x ? x->cwd_len : 0) + s3 > size ||
	    r->type < EG_EV_EXEC || r->type > EG_EV_MAX) {
		c->bad_records++;
		return 0;
	}
	const char *fn = (const char *)r + hdr, *xp = fn + r->filename_len, *a = xp + r->exe_len;
	size_t room = EG_RAW_COMM_LEN + 1 + 2 * (r->filename_len + 1) + r->exe_len + 1 + 16 +
		      r->filename_len + 2 + r->args_len + 2 + INET6_ADDRSTRLEN + 1 +
		      (ra ? r->args_len + 2 * s3 + 32 + INET6_ADDRSTRLEN : 0);
	struct eg_pipeline *p = c->p;
	struct eg_event *ev = eg_pipe_begin(p, room);
	if (!ev)
		return 0;
	ev->ts_ns = (int64_t)r->ts_ns + c->boot_to_real;
	ev->cgroup_id = r->cgroup_id;
	ev->type = r->type;
	ev->pid = r->pid;
	ev->tgid = r->tgid;
	ev->ppid = r->ppid;
	ev->uid = r->uid;
	ev->gid = r->gid;
	ev->open_flags = r->open_flags;
	ev->host = c->host;
	ev->ctr = container_of(c, r->cgroup_id, r->tgid);
	size_t n = strnlen(r->comm, EG_RAW_COMM_LEN);
	ev->comm = eg_pipe_str(p, r->comm, n);
	ev->comm_len = (uint32_t)n;
	size_t fl = r->filename_len ? strnlen(fn, r->filename_len) : 0;
	if (r->type == EG_EV_EXEC && (r->flags & EG_RAWF_FDPATH) && is_dev_fd(fn, fl))
		fl = 0; /* the kernel's name for an empty path: none was passed */
	if (r->flags & (EG_RAWF_TRUNC_FILENAME | EG_RAWF_TRUNC_EXE | EG_RAWF_TRUNC_ARGS))
		ev->flags |= EG_EVF_TRUNCATED;
	if (r->flags & EG_RAWF_IO_URING)
		ev->flags |= EG_EVF_IO_URING;
	if (r->flags & EG_RAWF_COMPAT)
		ev->flags |= EG_EVF_COMPAT;
	if (r->flags & EG_RAWF_KILLED)
		ev->flags |= EG_EVF_KILLED;
	if (r->type == EG_EV_OPEN) {
		decode_open(p, ev, r, fn, fl, xp);
	} else if (ra && r->type > EG_EV_PTRACE) {
		decode_family(p, ev, r, fn, fl, xp);
	} else if (fl) {
		ev->filename = eg_pipe_str(p, fn, fl);
		ev->filename_len = (uint32_t)fl;
	}
	const struct eg_proc *proc = NULL;
	if (r->type == EG_EV_EXEC) {
		bool deleted = r->flags & EG_RAWF_DELETED;
		if (deleted)
			ev->flags |= EG_EVF_MEMFD;
		if (r->flags & EG_RAWF_INTERP)
			ev->flags |= EG_EVF_INTERPRETED;
		decode_exe(p, ev, xp, r->exe_len, deleted || (r->flags & EG_RAWF_EXE_PSEUDO));
		if (!fl && ev->exe_len) {
			/* execveat(fd, "", AT_EMPTY_PATH), fexecve: the file itself */
			ev->filename = ev->exe;
			ev->filename_len = ev->exe_len;
		}
		if (decode_args(p, ev, a, r->args_len))
			ev->flags |= EG_EVF_TRUNCATED;
		if (x)
			proc = exec_image(c, ev, r, x, a + r->args_len, x->cwd_len);
	} else if (r->type == EG_EV_MEMFD) {
		ev->open_flags = 0;
		ev->ret = r->ret;
	} else if (r->type > EG_EV_EXIT) {
		ev->ret = r->ret;
	} else if (r->type == EG_EV_CONNECT) {
		/* the reference's file name for a connect (docs/output.md) */
		static const char connect_name[] = "connect";
		ev->filename = connect_name;
		ev->filename_len = sizeof(connect_name) - 1;
		char ip[INET6_ADDRSTRLEN];
		n = format_ip(ip, r->family, r->dest_addr);
		ev->dest_ip = eg_pipe_str(p, ip, n);
		ev->dest_ip_len = (uint32_t)n;
		ev->dest_port = r->dest_port;
		ev->proto = r->proto;
		ev->ret = r->ret;
		if (r->flags & EG_RAWF_DATAGRAM)
			ev->flags |= EG_EVF_DATAGRAM;
		/* the kernel's memory of the process's destinations (kf_seen) */
		if (r->flags & EG_RAWF_SEEN_FRESH)
			ev->flags |= EG_EVF_ONCE_FRESH;
		else if (r->flags & EG_RAWF_SEEN_REPEAT)
			ev->flags |= EG_EVF_ONCE_REPEAT;
	}
	if (ra)
		for (int i = 0; i < EG_EV_NUMS; i++)
			ev->num[i] = ra->a[i];
	if (r->type == EG_EV_MEMFD)
		ev->num[0] = r->open_flags; /* "flags" (src/evtypes.c) */
	if (r->type == EG_EV_CHMOD) {
		ev->num[1] = (ev->num[0] & 04000) != 0; /* "mode_setuid" */
		ev->num[2] = (ev->num[0] & 02000) != 0; /* "mode_setgid" */
	}
	if (r->type == EG_EV_PTRACE && ev->ret >= 0 && ev->num[1] > 0 && ev->num[1] <= INT32_MAX) {
		/* the target, from the process table ("target_comm", "target_exe");
		 * only after a call that succeeded: a failed one may name no
		 * process, and each such event would read /proc */
		const struct eg_proc *t = eg_pt_get(c->pt, (uint32_t)ev->num[1], true);
		if (t) {
			ev->aux[0] = t->comm;
			ev->aux_len[0] = t->comm_len;
			ev->aux[1] = t->exe;
			ev->aux_len[1] = t->exe_len;
		}
	}
	if (!proc)
		proc = eg_pt_get(c->pt, r->tgid, r->type != EG_EV_EXIT);
	if (!proc && r->type != EG_EV_EXIT)
		proc = eg_pt_unknown(c->pt, r->tgid, r->ppid, r->comm, EG_RAW_COMM_LEN, r->uid, r->gid);
	ev->proc = proc;
	if (!(c->attached_types & (1u << r->type))) {
		/* an exec no rule wants: it made its image, that is all */
		eg_pipe_abort(p);
		return 0;
	}
	if (proc && r->type != EG_EV_EXEC) {
		/* the process's executable and arguments, on every event */
		ev->exe = proc->exe;
		ev->exe_len = proc->exe_len;
		ev->args = proc->args;
		ev->args_len = proc->args_len;
		ev->argc = proc->argc;
	}
	eg_pipe_commit(p);
	if (r->type == EG_EV_EXIT)
		eg_pt_exit(c->pt, r->tgid);
	if (++c->drained >= c->budget)
		return EG_DRAIN_PAUSE;
	return 0;
}

/* Drains the ring. Returns 1 when the budget ran out (more may be waiting). */
static int drain(struct collector *c, unsigned budget)
{
	c->drained = 0;
	c->budget = budget;
	int rc = ring_buffer__consume(c->rb);
	return rc == EG_DRAIN_PAUSE;
}

/* ---- attach -------------------------------------------------------------- */

/* The classic tracepoints of execve's and execveat's exits: while the
 * shared sys_exit program is attached it reports those exits itself
 * (eg_exec_exit_dispatch), and these are detached: their probe ran at every
 * system call's exit to look for the two. */
static bool is_exec_exit(size_t i)
{
	return !strcmp(probes[i].prog, "tracepoint__syscalls__sys_exit_execve") ||
	       !strcmp(probes[i].prog, "tracepoint__syscalls__sys_exit_execveat");
}

static size_t sys_exit_probe(void)
{
	size_t i = 0;
	while (i < NPROBES && strcmp(probes[i].prog, "sys_exit"))
		i++;
	return i;
}

/* Attaches probe i unless it is; returns 1 when that failed (reported). */
static int attach_one(struct collector *c, size_t i)
{
	if (c->link[i])
		return 0;
	c->link[i] = bpf_program__attach(c->prog[i]);
	if (c->link[i])
		return 0;
	fprintf(stderr, "ebpf-guard: failed to attach %s (%s): %s\n", probes[i].prog, probes[i].tp, strerror(errno));
	return 1;
}

/* Attaches or detaches the probes of each event type to match want.
 * Returns the number of probes that failed to attach (each reported).
 * Attaches first, then switches the exec exits' reporter, then detaches:
 * at every moment one of sys_exit and the exec exits' tracepoints reports
 * a failed exec, and never both. */
static int sync_attach(struct collector *c, uint32_t want)
{
	int failed = 0;
	size_t se = sys_exit_probe();
	/* programs shared by several types report only these */
	*c->want = want;
	for (size_t i = 0; i < NPROBES; i++)
		if (c->prog[i] && !is_exec_exit(i) && ((want | T_CONTEXT) & probes[i].types))
			failed += attach_one(c, i);
	bool disp = c->exec_exit_dispatch && se < NPROBES && c->link[se] && ((want | T_CONTEXT) & probes[se].types);
	for (size_t i = 0; i < NPROBES; i++)
		if (c->prog[i] && is_exec_exit(i) && !disp)
			failed += attach_one(c, i);
	if (c->exec_exit_dispatch) {
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		*c->exec_exit_dispatch = disp;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
	for (size_t i = 0; i < NPROBES; i++) {
		bool on = is_exec_exit(i) ? !disp : ((want | T_CONTEXT) & probes[i].types) != 0;
		if (!on && c->link[i]) {
			bpf_link__destroy(c->link[i]);
			c->link[i] = NULL;
		}
	}
	c->attached_types = want;
	return failed;
}

/* "ebpf-guard: attached N probes (exec,connect)": the readiness line. */
static void report_attached(struct collector *c)
{
	int nlinks = 0;
	for (size_t i = 0; i < NPROBES; i++)
		nlinks += c->link[i] != NULL;
	char types[256] = "";
	for (uint32_t t = EG_EV_EXEC; t <= EG_EV_MAX; t++)
		if (c->attached_types & (1u << t))
			snprintf(types + strlen(types), sizeof(types) - strlen(types), "%s%s",
				 *types ? "," : "", eg_event_type_name(t));
	fprintf(stderr, "ebpf-guard: attached %d probes (%s)\n", nlinks, *types ? types : "none");
	fflush(stderr);
}

static uint32_t wanted_types(struct collector *c)
{
	if (c->o->all_events)
		return (1u << (EG_EV_MAX + 1)) - 2;
	/* and the types -record-types asks for, rules or not */
	uint32_t t = eg_engine_types_wanted(eg_pipe_engine(c->p)) |
		     eg_recfilter_types(eg_pipe_record_filter(c->p));
	return t & ((1u << (EG_EV_MAX + 1)) - 2);
}

/* Reads each event type's per-CPU drop counters into vals (ncpus slots; a
 * syscall per type) and raises ebpf_guard_events_dropped_total{type} to their
 * sum over every CPU; sets the ring fill gauge (two loads). */
static void read_drops_and_fill(struct collector *c, uint64_t *vals)
{
	_Static_assert(EG_DROP_FORK == EG_RAW_FORK, "the fork drop slot is the fork record's type");
	for (uint32_t s = EG_EV_EXEC; vals && s <= EG_EV_MAX + 1; s++) {
		uint32_t t = s <= EG_EV_MAX ? s : EG_DROP_FORK;
		if (bpf_map_lookup_elem(c->drops_fd, &t, vals))
			continue;
		uint64_t sum = 0;
		for (int i = 0; i < c->ncpus; i++)
			sum += vals[i];
		eg_metrics_raise(&eg_metrics.dropped_kernel[t], sum);
	}
	if (c->cons_pos && c->prod_pos) {
		unsigned long cons = __atomic_load_n(c->cons_pos, __ATOMIC_ACQUIRE);
		unsigned long prod = __atomic_load_n(c->prod_pos, __ATOMIC_ACQUIRE);
		EG_SET(ringbuf_fill_bytes, prod - cons);
	}
}

/* Reads the per-CPU counts of events the kernel filters kept (vals: ncpus
 * slots) into ebpf_guard_events_filtered_total{type}: opens, the file
 * families and the socket families. */
static void read_filtered(struct collector *c, uint64_t *vals)
{
	if (c->kf_filtered_fd < 0 || !vals)
		return;
	for (int i = -1; i < EG_KF_PATH_TYPES + EG_KF_SOCK_TYPES; i++) {
		uint32_t t = i < 0		       ? EG_RAW_OPEN
			     : i < EG_KF_PATH_TYPES ? (uint32_t)eg_kf_path_types[i]
						    : (uint32_t)eg_kf_sock_types[i - EG_KF_PATH_TYPES];
		if (bpf_map_lookup_elem(c->kf_filtered_fd, &t, vals))
			continue;
		uint64_t sum = 0;
		for (const uint64_t *v = vals; v < vals + c->ncpus; v++)
			sum += *v;
		eg_metrics_raise(&eg_metrics.filtered_kernel[t], sum);
	}
}

/* Ring fill every pass; the drop counters when drops is set (every 10th
 * pass and at exit). */
static void update_gauges(struct collector *c, bool drops)
{
	read_drops_and_fill(c, drops ? c->drop_vals : NULL);
	if (drops)
		read_filtered(c, c->kf_vals);
}

/* The process table's gauge and counters. */
static void update_pt_metrics(struct collector *c)
{
	struct eg_pt_stats st;
	if (!c->pt)
		return;
	eg_pt_stats(c->pt, &st);
	EG_SET(proc_entries, st.entries);
	EG_SET(proc_bytes, st.bytes);
	EG_SET(proc_evictions, st.evictions);
	EG_SET(proc_misses, st.misses);
}

/* On the metrics thread, at every scrape: the drop counters and the ring fill
 * straight from the kernel, so a scrape is current even while the event loop
 * is busy with a batch. */
static void refresh_on_scrape(void *arg)
{
	struct collector *c = arg;
	read_drops_and_fill(c, c->scrape_drop_vals);
	read_filtered(c, c->scrape_kf_vals);
}

/* Deletes every entry of the map fd (keys of key_size bytes, at most 128).
 * Returns 0 or -errno. */
static int kf_clear(int fd)
{
	unsigned char key[128];
	while (!bpf_map_get_next_key(fd, NULL, key))
		if (bpf_map_delete_elem(fd, key))
			return -errno;
	return errno == ENOENT ? 0 : -errno;
}

/* Fills the filter maps from k (eg_kf_open is 0 meanwhile). Returns NULL,
 * or why it could not (a static or why[] text). */
static const char *kf_fill(struct collector *c, const struct eg_kfilter_open *k, char *why,
			   size_t len)
{
	const uint8_t one = 1;
	int err;
	if (k->nprefixes > EG_KF_PREFIXES || k->nsuffixes > EG_KF_WORDS || k->ncomm > EG_KF_WORDS) {
		snprintf(why, len, "the rules name %zu filename prefixes, %zu suffixes and %zu comm words "
			 "(at most %d, %d and %d)", k->nprefixes, k->nsuffixes, k->ncomm, EG_KF_PREFIXES,
			 EG_KF_WORDS, EG_KF_WORDS);
		return why;
	}
	if ((err = kf_clear(c->kf_prefix_fd)) || (err = kf_clear(c->kf_suffix_fd)) ||
	    (err = kf_clear(c->kf_comm_fd))) {
		snprintf(why, len, "failed to clear the filter maps: %s", strerror(-err));
		return why;
	}
	for (size_t i = 0; i < k->nprefixes; i++) {
		struct eg_kf_prefix key = {0};
		uint32_t l = k->prefix_lens[i] < EG_KF_PREFIX_MAX ? k->prefix_lens[i] : EG_KF_PREFIX_MAX;
		key.prefixlen = l * 8;
		memcpy(key.data, k->prefixes[i], l);
		if (bpf_map_update_elem(c->kf_prefix_fd, &key, &one, BPF_ANY))
			goto fail;
	}
	for (size_t i = 0; i < k->nsuffixes; i++) {
		kf_bloom_add(c, EG_KFB_OPEN_SUFFIX, k->suffixes[i]);
		if (bpf_map_update_elem(c->kf_suffix_fd, &k->suffixes[i], &one, BPF_ANY))
			goto fail;
	}
	for (size_t i = 0; i < k->ncomm; i++) {
		kf_bloom_add(c, EG_KFB_OPEN_COMM, k->comm[i]);
		if (bpf_map_update_elem(c->kf_comm_fd, &k->comm[i], &one, BPF_ANY))
			goto fail;
	}
	/* the prefixes' heads in front of the trie (bpf/eg_raw.h): off unless
	 * every head is in */
	if (c->kf_open_heads && c->kf_head_fd >= 0) {
		uint32_t h = 1;
		*c->kf_open_heads = 0;
		if ((err = kf_clear(c->kf_head_fd)))
			h = 0;
		for (size_t i = 0; h && i < k->nprefixes; i++) {
			uint32_t l = k->prefix_lens[i] < EG_KF_PREFIX_MAX ? k->prefix_lens[i] : EG_KF_PREFIX_MAX;
			uint64_t w = 0;
			if (l >= 8) {
				memcpy(&w, k->prefixes[i], 8);
				h |= 1u << 8;
			} else if (l > 0) {
				memcpy(&w, k->prefixes[i], l);
				w |= (uint64_t)l << 56;
				h |= 1u << l;
			} else {
				h = 0; /* an empty prefix names every path: the trie alone */
				break;
			}
			kf_bloom_add(c, EG_KFB_OPEN_HEAD, w);
			if (bpf_map_update_elem(c->kf_head_fd, &w, &one, BPF_ANY))
				h = 0;
		}
		*c->kf_open_heads = h;
	}
	return NULL;
fail:
	snprintf(why, len, "failed to update the filter maps: %s", strerror(errno));
	return why;
}

/* Why a kernel filter is off whatever the rules say: no rules, an object
 * without its maps (has_maps false; no_maps says so), -all-events or
 * -record. NULL when the rules decide. */
static const char *kf_off_why(const struct collector *c, const void *rules, bool has_maps,
			      const char *no_maps)
{
	if (!rules)
		return "no rules are loaded";
	if (!has_maps)
		return no_maps;
	if (c->o->all_events)
		return "-all-events";
	if (c->o->recording)
		return "-record";
	return NULL;
}

/*
 * Keeps the kernel's open filter in line with the rules in force: off with
 * -all-events or -record (every event crosses), while a reload is being
 * built, and when the rules cannot be filtered; otherwise the maps hold the
 * filter of the engine in force. eg_kf_open is 0 while the maps change, so
 * an update lets more through, never less. Says on stderr what it did
 * whenever the rules or the outcome change.
 */
static void kf_sync(struct collector *c)
{
	char buf[256];
	uint64_t gen = eg_pipe_engine_gen(c->p);
	const struct eg_engine *e = eg_pipe_engine(c->p);
	const struct eg_kfilter_open *k = e ? eg_engine_kfilter_open(e) : NULL;
	const char *why = kf_off_why(c, k, c->kf_open && c->kf_prefix_fd >= 0 && c->kf_suffix_fd >= 0 &&
					      c->kf_comm_fd >= 0, "the BPF object has no kernel filter");
	if (!why && k->off)
		why = k->off;
	if (!why && eg_pipe_reload_busy(c->p)) {
		/* the new rules may want more: off until they are in */
		*c->kf_open = 0;
		return;
	}
	bool changed = !c->kf_synced || c->kf_gen != gen;
	if (!why && changed) {
		*c->kf_open = 0;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		why = kf_fill(c, k, buf, sizeof(buf));
		/* a new generation: the kernel forgets the drops it remembers */
		if (++c->kf_epoch == 0)
			c->kf_epoch = 1;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
	if (c->kf_open)
		*c->kf_open = why ? 0 : c->kf_epoch;
	int state = why ? 0 : 1;
	/* said when opens are collected (every type with -all-events), as for
	 * the other families */
	bool say = !e || c->o->all_events || (eg_engine_types_wanted(e) & (1u << EG_EV_OPEN));
	if (say && (changed || state != c->kf_state)) {
		if (why)
			fprintf(stderr, "ebpf-guard: kernel filter for open events: off (%s)\n", why);
		else
			fprintf(stderr, "ebpf-guard: kernel filter for open events: on (%zu filename "
					"prefixes, %zu suffixes, %zu comm words)\n", k->nprefixes,
				k->nsuffixes, k->ncomm);
	}
	c->kf_synced = true;
	c->kf_gen = gen;
	c->kf_state = state;
}

/* Keeps the kernel's kills in line with the engine in force; paused (off,
 * silently) while a reload is being built. */
static void kk_sync(struct collector *c)
{
	if (!c->kk)
		return;
	const struct eg_engine *e = eg_pipe_engine(c->p);
	eg_kk_sync(c->kk, e ? eg_engine_kkill(e) : NULL, eg_pipe_engine_gen(c->p), NULL,
		   eg_pipe_reload_busy(c->p));
}

/* -enforce: the kills made in the kernel (src/kkill.h). */
static void kk_start(struct collector *c)
{
	char why[256];
	struct bpf_map *bss = NULL, *bss2 = NULL;
	size_t on_off = 0, gen_off = 0;
	if (!c->o->enforce)
		return;
	char *m = NULL;
	if (c->bss && !find_global(c->obj, ".bss", "eg_kk_on", sizeof(uint32_t), &bss, &on_off) &&
	    !find_global(c->obj, ".bss", "eg_kk_gen", sizeof(uint32_t), &bss2, &gen_off) && bss == bss2)
		m = c->bss;
	c->kk = eg_kk_open(c->obj, m ? (volatile uint32_t *)(m + on_off) : NULL,
			   m ? (volatile uint32_t *)(m + gen_off) : NULL, c->o->never,
			   c->o->nnever, why, sizeof(why));
	if (!c->kk)
		fprintf(stderr, "ebpf-guard: kills in the kernel: off (%s); rules with action kill are "
				"enforced from userspace\n", why);
	kk_sync(c);
}

/* Adds the prefixes and suffix words of k for (type, field) to the file
 * families' maps, and its comm words when comm is set. Returns 0 or -errno. */
static int kfp_add(struct collector *c, const struct eg_kfilter_open *k, uint8_t type, uint8_t field,
		   bool comm)
{
	const uint8_t one = 1;
	for (size_t i = 0; i < k->nprefixes; i++) {
		struct eg_kf_path_prefix key = {0};
		uint32_t l = k->prefix_lens[i] < EG_KF_PREFIX_MAX ? k->prefix_lens[i] : EG_KF_PREFIX_MAX;
		key.prefixlen = (2 + l) * 8;
		key.data[0] = type;
		key.data[1] = field;
		memcpy(key.data + 2, k->prefixes[i], l);
		if (bpf_map_update_elem(c->kf_path_prefix_fd, &key, &one, BPF_ANY))
			return -errno;
		/* its head (bpf/eg_raw.h); an empty prefix names every path:
		 * the trie alone */
		uint64_t w = 0;
		if (l >= 6) {
			memcpy(&w, k->prefixes[i], 6);
			c->kfp_heads |= 1u << 8;
		} else if (l > 0) {
			memcpy(&w, k->prefixes[i], l);
			w |= (uint64_t)l << 40;
			c->kfp_heads |= 1u << l;
		} else {
			c->kfp_heads = 0;
			c->kfp_heads_off = true;
		}
		uint64_t hk = EG_KF_PATH_HEAD(type, field, w);
		kf_bloom_add(c, EG_KFB_PATH_HEAD, hk);
		if (c->kf_path_head_fd >= 0 && bpf_map_update_elem(c->kf_path_head_fd, &hk, &one, BPF_ANY))
			c->kfp_heads_off = true;
	}
	for (size_t i = 0; i < k->nsuffixes; i++) {
		struct eg_kf_word w = {.word = k->suffixes[i], .type = type, .field = field};
		kf_bloom_add(c, EG_KFB_PATH_WORD, EG_KFB_WORD(w.word, w.type, w.field));
		if (bpf_map_update_elem(c->kf_path_word_fd, &w, &one, BPF_ANY))
			return -errno;
	}
	for (size_t i = 0; comm && i < k->ncomm; i++) {
		struct eg_kf_word w = {.word = k->comm[i], .type = type, .field = EG_KF_COMM};
		kf_bloom_add(c, EG_KFB_PATH_WORD, EG_KFB_WORD(w.word, w.type, w.field));
		if (bpf_map_update_elem(c->kf_path_word_fd, &w, &one, BPF_ANY))
			return -errno;
	}
	return 0;
}

/*
 * kf_sync for the file families (link, rename, unlink, chmod): one trie and
 * one word set hold every type's filter, eg_kf_paths a bit per type that
 * is on (all 0 while the maps change), eg_kf_path2 a bit per type whose
 * second path is tested. Off as open's is, and per type when its rules
 * cannot be filtered. Says on stderr what it did per type whenever the
 * rules or the outcome change.
 */
static void kf_sync_paths(struct collector *c)
{
	static const char *const path2[EG_KF_PATH_TYPES] = {"link_target", "new_path", NULL, NULL};
	char buf[EG_KF_PATH_TYPES][160];
	const char *whys[EG_KF_PATH_TYPES] = {0};
	uint64_t gen = eg_pipe_engine_gen(c->p);
	const struct eg_engine *e = eg_pipe_engine(c->p);
	const char *why = kf_off_why(c, e, c->kf_paths && c->kf_path_prefix_fd >= 0 && c->kf_path_word_fd >= 0,
				     "the BPF object has no kernel filter");
	if (!why && eg_pipe_reload_busy(c->p)) {
		*c->kf_paths = 0;
		return;
	}
	bool changed = !c->kfp_synced || c->kfp_gen != gen;
	uint32_t on = c->kfp_on, p2 = c->kfp_path2, p1skip = c->kfp_path1_skip;
	if (why) {
		on = p2 = p1skip = 0;
	} else if (changed) {
		int err;
		on = p2 = p1skip = 0;
		*c->kf_paths = 0;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (c->kf_path_heads)
			*c->kf_path_heads = 0;
		c->kfp_heads = 1;
		c->kfp_heads_off = c->kf_path_head_fd < 0 || !c->kf_path_heads;
		if ((err = kf_clear(c->kf_path_prefix_fd)) || (err = kf_clear(c->kf_path_word_fd)) ||
		    (c->kf_path_head_fd >= 0 && (err = kf_clear(c->kf_path_head_fd)))) {
			snprintf(buf[0], sizeof(buf[0]), "failed to clear the filter maps: %s", strerror(-err));
			why = buf[0];
		}
		for (int i = 0; !why && i < EG_KF_PATH_TYPES; i++) {
			const struct eg_kfilter_path *k = eg_engine_kfilter_path(e, i);
			uint8_t t = (uint8_t)k->type;
			if (k->first.off) {
				whys[i] = k->first.off;
			} else if ((err = kfp_add(c, &k->first, t, EG_KF_PATH1, true)) ||
				   (err = kfp_add(c, &k->second, t, EG_KF_PATH2, false))) {
				snprintf(buf[i], sizeof(buf[i]), "failed to update the filter maps: %s",
					 strerror(-err));
				whys[i] = buf[i];
			} else if (k->mode_mask && !c->kf_chmod_mode) {
				whys[i] = "the BPF object has no mode filter";
			} else {
				if (k->mode_mask)
					*c->kf_chmod_mode = k->mode_mask;
				on |= 1u << t;
				if (k->second.nprefixes || k->second.nsuffixes)
					p2 |= 1u << t;
				/* no rule keys on the first path: the kernel
				 * need not read it for the filter */
				if (!k->first.nprefixes && !k->first.nsuffixes)
					p1skip |= 1u << t;
			}
		}
	}
	if (c->kf_paths) {
		if (c->kf_path_heads && changed && !why)
			*c->kf_path_heads = c->kfp_heads_off ? 0 : c->kfp_heads;
		*c->kf_path2 = p2;
		if (c->kf_path1_skip)
			*c->kf_path1_skip = p1skip;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		*c->kf_paths = on;
	}
	/* said for the types the rules want (every type with -all-events) */
	uint32_t said = c->o->all_events || !e ? ~0u : eg_engine_types_wanted(e);
	for (int i = 0; (changed || on != c->kfp_on) && i < EG_KF_PATH_TYPES; i++) {
		if (!(said & (1u << eg_kf_path_types[i])))
			continue;
		const struct eg_kfilter_path *k = e ? eg_engine_kfilter_path(e, i) : NULL;
		const char *name = eg_event_type_name((uint32_t)eg_kf_path_types[i]);
		const char *w = why ? why : whys[i] ? whys[i] : k && k->first.off ? k->first.off : NULL;
		if (w || !k) {
			fprintf(stderr, "ebpf-guard: kernel filter for %s events: off (%s)\n", name,
				w ? w : "no rules are loaded");
		} else if (p2 & (1u << k->type)) {
			fprintf(stderr, "ebpf-guard: kernel filter for %s events: on (%zu filename prefixes, "
					"%zu suffixes, %zu comm words, %zu %s prefixes, %zu suffixes)\n",
				name, k->first.nprefixes, k->first.nsuffixes, k->first.ncomm,
				k->second.nprefixes, path2[i], k->second.nsuffixes);
		} else if (k->mode_mask) {
			fprintf(stderr, "ebpf-guard: kernel filter for %s events: on (%zu filename prefixes, "
					"%zu suffixes, %zu comm words, mode bits %#o)\n",
				name, k->first.nprefixes, k->first.nsuffixes, k->first.ncomm, k->mode_mask);
		} else {
			fprintf(stderr, "ebpf-guard: kernel filter for %s events: on (%zu filename prefixes, "
					"%zu suffixes, %zu comm words)\n",
				name, k->first.nprefixes, k->first.nsuffixes, k->first.ncomm);
		}
	}
	c->kfp_synced = true;
	c->kfp_gen = gen;
	c->kfp_on = on;
	c->kfp_path2 = p2;
	c->kfp_path1_skip = p1skip;
}

/*
 * Puts connect's addresses into kf_addr: each text an address as the daemon
 * writes a destination (format_ip's form; 4 bytes and zeros for IPv4); a
 * text in another form equals no event's dest_ip and is left out. Returns 0,
 * or -1 (errno set) when an update failed.
 */
static int kf_fill_addrs(int fd, const struct eg_kfilter_open *k)
{
	const uint8_t one = 1;
	for (size_t j = 0; j < k->naddrs; j++) {
		struct eg_kf_addr_key key = {0};
		char back[INET6_ADDRSTRLEN];
		if (inet_pton(AF_INET, k->addrs[j], key.addr) == 1)
			key.family = AF_INET;
		else if (inet_pton(AF_INET6, k->addrs[j], key.addr) == 1)
			key.family = AF_INET6;
		else
			continue;
		format_ip(back, (int)key.family, key.addr);
		if (strcmp(back, k->addrs[j]))
			continue;
		if (bpf_map_update_elem(fd, &key, &one, BPF_ANY))
			return -1;
	}
	return 0;
}

/*
 * kf_sync for the socket families (connect, listen, accept): one hash set
 * of (type, port) words, eg_kf_socks a bit per type that is on (0 while
 * the map changes). Off as the others are, and per type when a rule of it
 * names no port or the rules name too many. Says on stderr what it did per
 * wanted type whenever the rules or the outcome change.
 */
static void kf_sync_socks(struct collector *c)
{
	char buf[160];
	const char *whys[EG_KF_SOCK_TYPES] = {0};
	uint64_t gen = eg_pipe_engine_gen(c->p);
	const struct eg_engine *e = eg_pipe_engine(c->p);
	const char *why = kf_off_why(c, e, c->kf_socks && c->kf_port_fd >= 0, "the BPF object has no port filter");
	if (!why && eg_pipe_reload_busy(c->p)) {
		*c->kf_socks = 0;
		return;
	}
	bool changed = !c->kfs_synced || c->kfs_gen != gen;
	uint32_t on = c->kfs_on, progs = 0, once = 0, conn_addrs = 0, conn_loop = 0, conn_seen = 0;
	uint64_t conn_seen_ns = 0;
	bool have_progs = c->kf_sock_progs && c->kf_sock_prog_fd >= 0;
	bool have_once = c->kf_sock_once && c->kf_once_fd >= 0;
	bool have_addrs = c->kf_conn_addrs && c->kf_conn_loop && c->kf_addr_fd >= 0;
	bool have_seen = c->kf_conn_seen && c->kf_conn_seen_ns && c->kf_seen_fd >= 0;
	if (why) {
		on = 0;
	} else if (changed) {
		int err;
		on = 0;
		*c->kf_socks = 0;
		if (c->kf_sock_progs)
			*c->kf_sock_progs = 0;
		if (c->kf_sock_once)
			*c->kf_sock_once = 0;
		if (have_addrs)
			*c->kf_conn_addrs = *c->kf_conn_loop = 0;
		if (have_seen)
			*c->kf_conn_seen = 0;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		/* a new rule set starts with no process's first success seen
		 * (its detections' memory of them starts empty too) */
		if ((err = kf_clear(c->kf_port_fd)) || (have_progs && (err = kf_clear(c->kf_sock_prog_fd))) ||
		    (have_once && (err = kf_clear(c->kf_once_fd))) || (have_addrs && (err = kf_clear(c->kf_addr_fd))) ||
		    (have_seen && (err = kf_clear(c->kf_seen_fd)))) {
			snprintf(buf, sizeof(buf), "failed to clear the port filter: %s", strerror(-err));
			why = buf;
		}
		const uint8_t one = 1;
		size_t nprogs = 0;
		for (int i = 0; !why && i < EG_KF_SOCK_TYPES; i++) {
			const struct eg_kfilter_open *k = eg_engine_kfilter_sock(e, i);
			uint32_t t = (uint32_t)eg_kf_sock_types[i];
			if (k->off) {
				whys[i] = k->off;
				continue;
			}
			if ((k->ncomm || k->nleaf) && !have_progs) {
				whys[i] = "the BPF object has no program filter";
				continue;
			}
			if (k->once && !have_once) {
				whys[i] = "the BPF object keeps no first successes";
				continue;
			}
			if ((k->naddrs || k->loop >= 0) && !have_addrs) {
				whys[i] = "the BPF object has no address filter";
				continue;
			}
			if (k->seen && !have_seen) {
				whys[i] = "the BPF object keeps no connect destinations";
				continue;
			}
			if (k->naddrs && kf_fill_addrs(c->kf_addr_fd, k)) {
				snprintf(buf, sizeof(buf), "failed to update the address filter: %s", strerror(errno));
				whys[i] = buf;
				continue;
			}
			nprogs += k->ncomm + k->nleaf;
			if (nprogs > EG_KF_PROGS) {
				snprintf(buf, sizeof(buf), "the rules name %zu programs (the kernel holds %d)", nprogs,
					 EG_KF_PROGS);
				whys[i] = buf;
				continue;
			}
			size_t j, m;
			for (j = 0; j < k->nports; j++) {
				uint32_t key = EG_KF_PORT_KEY(t, k->ports[j]);
				kf_bloom_add(c, EG_KFB_PORT, key);
				if (bpf_map_update_elem(c->kf_port_fd, &key, &one, BPF_ANY))
					break;
			}
			for (m = 0; j == k->nports && m < k->ncomm + k->nleaf; m++) {
				uint64_t key = m < k->ncomm ? EG_KF_PROG_KEY(t, 0, k->comm[m])
							    : EG_KF_PROG_KEY(t, 1, k->leaf[m - k->ncomm]);
				kf_bloom_add(c, EG_KFB_SOCK_PROG, key);
				if (bpf_map_update_elem(c->kf_sock_prog_fd, &key, &one, BPF_ANY))
					break;
			}
			if (j < k->nports || m < k->ncomm + k->nleaf) {
				snprintf(buf, sizeof(buf), "failed to update the port filter: %s", strerror(errno));
				whys[i] = buf;
				continue;
			}
			if (k->ncomm || k->nleaf)
				progs |= 1u << t;
			if (k->once)
				once |= 1u << t;
			if (k->naddrs)
				conn_addrs = 1;
			if (k->loop >= 0)
				conn_loop = EG_KF_LOOP_ON | (uint32_t)k->loop;
			if (k->seen) {
				conn_seen = EG_KF_SEEN_ON | (k->seen_ip ? EG_KF_SEEN_IP : 0) |
					    (k->seen_port ? EG_KF_SEEN_PORT : 0);
				conn_seen_ns = k->seen_ns;
			}
			on |= 1u << t;
		}
		if (have_progs)
			*c->kf_sock_progs = progs;
		if (have_once)
			*c->kf_sock_once = once;
		if (have_addrs) {
			*c->kf_conn_addrs = conn_addrs;
			*c->kf_conn_loop = conn_loop;
		}
		if (have_seen) {
			*c->kf_conn_seen_ns = conn_seen_ns;
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			*c->kf_conn_seen = conn_seen;
		}
	}
	if (c->kf_socks) {
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		*c->kf_socks = on;
	}
	uint32_t said = c->o->all_events || !e ? ~0u : eg_engine_types_wanted(e);
	for (int i = 0; (changed || on != c->kfs_on) && i < EG_KF_SOCK_TYPES; i++) {
		uint32_t t = (uint32_t)eg_kf_sock_types[i];
		if (!(said & (1u << t)))
			continue;
		const struct eg_kfilter_open *k = e ? eg_engine_kfilter_sock(e, i) : NULL;
		const char *w = why ? why : whys[i] ? whys[i] : k && k->off ? k->off : NULL;
		if (w || !k)
			fprintf(stderr, "ebpf-guard: kernel filter for %s events: off (%s)\n", eg_event_type_name(t),
				w ? w : "no rules are loaded");
		else {
			char progs_text[48] = "";
			size_t np = k->ncomm + k->nleaf;
			if (np)
				snprintf(progs_text, sizeof(progs_text), ", %zu program word%s", np, np == 1 ? "" : "s");
			char addrs_text[48] = "";
			if (k->naddrs)
				snprintf(addrs_text, sizeof(addrs_text), ", %zu dest_ip address%s", k->naddrs,
					 k->naddrs == 1 ? "" : "es");
			char seen_text[96] = "";
			if (k->seen) {
				char win[40] = "while it runs";
				if (k->seen_ns)
					snprintf(win, sizeof(win), "within %g s", (double)k->seen_ns / 1e9);
				snprintf(seen_text, sizeof(seen_text), ", each process's new %s %s",
					 k->seen_ip && k->seen_port ? "destinations"
					 : k->seen_ip		  ? "dest_ip addresses"
								  : "dest_port values",
					 win);
			}
			fprintf(stderr, "ebpf-guard: kernel filter for %s events: on (%zu %s value%s%s%s%s%s%s)\n",
				eg_event_type_name(t), k->nports, t == EG_EV_CONNECT ? "dest_port" : "local_port",
				k->nports == 1 ? "" : "s", progs_text, addrs_text,
				k->loop >= 0 ? ", every destination but loopback" : "",
				k->once ? ", each process's first success" : "", seen_text);
		}
	}
	c->kfs_synced = true;
	c->kfs_gen = gen;
	c->kfs_on = on;
}

/* ebpf_guard_kernel_filter_on: the types whose filter the kernel applies
 * now (the mapped switches it reads, not the host's intent). */
static void kf_publish(struct collector *c)
{
	uint32_t on = 0;
	if (c->kf_open && *c->kf_open)
		on |= 1u << EG_EV_OPEN;
	if (c->kf_paths)
		on |= *c->kf_paths & (1u << EG_EV_LINK | 1u << EG_EV_RENAME | 1u << EG_EV_UNLINK | 1u << EG_EV_CHMOD);
	if (c->kf_socks)
		on |= *c->kf_socks & (1u << EG_EV_CONNECT | 1u << EG_EV_LISTEN | 1u << EG_EV_ACCEPT);
	atomic_store(&eg_metrics.kfilter_on, on);
}

static void *destroy_link(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

/* Detaches every probe. Each tracepoint detach waits for an RCU grace period
 * in the kernel; done from one thread per link those waits overlap, which
 * keeps a SIGTERM exit well under a second. */
static void detach_all(struct collector *c)
{
	pthread_t th[NPROBES];
	bool started[NPROBES] = {0};
	for (size_t i = 0; i < NPROBES; i++) {
		if (!c->link[i])
			continue;
		started[i] = !pthread_create(&th[i], NULL, destroy_link, c->link[i]);
		if (!started[i])
			bpf_link__destroy(c->link[i]);
		c->link[i] = NULL;
	}
	for (size_t i = 0; i < NPROBES; i++)
		if (started[i])
			pthread_join(th[i], NULL);
}

static void cleanup(struct collector *c)
{
	eg_metrics_set_refresh(NULL, NULL);
	eg_pipe_set_lost_counter(c->p, NULL);
	eg_kk_free(c->kk); /* before .bss is unmapped: it writes eg_kk_on */
	c->kk = NULL;
	detach_all(c);
	ring_buffer__free(c->rb);
	if (c->cons_pos)
		munmap((void *)c->cons_pos, c->page);
	if (c->prod_pos)
		munmap((void *)c->prod_pos, c->page);
	if (c->bss)
		munmap(c->bss, c->bss_len);
	free(c->drop_vals);
	free(c->scrape_drop_vals);
	free(c->kf_vals);
	free(c->scrape_kf_vals);
	eg_pt_free(c->pt);
	eg_cgroups_free(c->cg);
#ifdef EG_HAVE_SKEL
	if (c->skel) {
		ebpf_guard__destroy(c->skel);
		c->obj = NULL;
	}
#endif
	bpf_object__close(c->obj);
}

/* EG_RINGBUF_BYTES, or EBPF_GUARD_RINGBUF_KB from the environment (for
 * tuning, and for tests that need drops): KiB in decimal digits, a power of
 * two from one page to 1 GiB; empty is the same as unset. Anything else is
 * refused: returns 0 after a message. */
static uint32_t ringbuf_bytes(void)
{
	const char *v = getenv("EBPF_GUARD_RINGBUF_KB");
	if (!v || !*v)
		return EG_RINGBUF_BYTES;
	unsigned long page_kb = (unsigned long)sysconf(_SC_PAGESIZE) / 1024, kb = 0;
	const char *s = v;
	for (; *s >= '0' && *s <= '9' && kb <= (1ul << 20); s++)
		kb = kb * 10 + (unsigned long)(*s - '0');
	if (*s || kb < page_kb || kb > (1ul << 20) || (kb & (kb - 1))) {
		fprintf(stderr, "ebpf-guard: EBPF_GUARD_RINGBUF_KB=%s is not valid: want the ring size in KiB, "
				"a power of two from %lu to 1048576\n", v, page_kb);
		return 0;
	}
	return (uint32_t)(kb * 1024);
}

/* Checks privileges and kernel features. Returns 0, or 1 after a message. */
static int preflight(const char **tracefs)
{
	char err[512];
	if (!have_cap(CAP_SYS_ADMIN) && !(have_cap(CAP_BPF) && have_cap(CAP_PERFMON))) {
		fprintf(stderr, "ebpf-guard: live mode needs root (or CAP_BPF and CAP_PERFMON): "
				"run it as root, or use -replay FILE\n");
		return 1;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fprintf(stderr, "ebpf-guard: the kernel has no BTF (/sys/kernel/btf/vmlinux: %s): "
				"a kernel built with CONFIG_DEBUG_INFO_BTF=y is needed\n", strerror(errno));
		return 1;
	}
	*tracefs = tracefs_dir(err, sizeof(err));
	if (!*tracefs) {
		fprintf(stderr, "ebpf-guard: %s\n", err);
		return 1;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1) {
		fprintf(stderr, "ebpf-guard: this kernel does not support BPF ring buffers (Linux 5.8 or newer is needed)\n");
		return 1;
	}
	return 0;
}

int eg_collector_run(const struct eg_collector_opts *o, struct eg_pipeline *p,
		     volatile sig_atomic_t *stop)
{
	struct collector c = {.o = o, .p = p, .drops_fd = -1, .kf_head_fd = -1, .kf_prefix_fd = -1, .kf_suffix_fd = -1,
			      .kf_comm_fd = -1, .kf_filtered_fd = -1, .kf_path_prefix_fd = -1, .kf_path_head_fd = -1,
			      .kf_path_word_fd = -1, .kf_port_fd = -1, .kf_sock_prog_fd = -1, .kf_once_fd = -1,
			      .kf_addr_fd = -1, .kf_seen_fd = -1};
	const char *tracefs = NULL;
	int err, rc = 1;

	libbpf_set_print(o->verbose ? libbpf_verbose : libbpf_quiet);
	uint32_t rb_bytes = ringbuf_bytes();
	if (!rb_bytes || preflight(&tracefs))
		return 1;

	/* Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; later ones
	 * to the memory cgroup, where failing to raise it does not matter. */
	struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
	if (setrlimit(RLIMIT_MEMLOCK, &rl) && o->verbose)
		fprintf(stderr, "ebpf-guard: could not raise RLIMIT_MEMLOCK (%s); carrying on\n",
			strerror(errno));

	if (o->bpf_object) {
		c.obj = bpf_object__open_file(o->bpf_object, NULL);
		if (!c.obj) {
			fprintf(stderr, "ebpf-guard: failed to open BPF object %s: %s\n", o->bpf_object,
				strerror(errno));
			return 1;
		}
	} else {
#ifdef EG_HAVE_SKEL
		c.skel = ebpf_guard__open();
		if (!c.skel) {
			fprintf(stderr, "ebpf-guard: failed to open the embedded BPF object: %s\n",
				strerror(errno));
			return 1;
		}
		c.obj = c.skel->obj;
#else
		fprintf(stderr, "ebpf-guard: built without the embedded BPF object: pass -bpf-object PATH\n");
		return 1;
#endif
	}
	const char *objname = o->bpf_object ? o->bpf_object : "the embedded BPF object";

	struct bpf_map *events = bpf_object__find_map_by_name(c.obj, "events");
	struct bpf_map *drops = bpf_object__find_map_by_name(c.obj, "drops");
	if (!events || !drops || bpf_map__type(events) != BPF_MAP_TYPE_RINGBUF) {
		fprintf(stderr, "ebpf-guard: %s has no ring buffer map 'events' or no map 'drops'\n",
			objname);
		goto out;
	}
	if (bpf_map__type(drops) != BPF_MAP_TYPE_PERCPU_ARRAY || bpf_map__value_size(drops) != 8 ||
	    bpf_map__max_entries(drops) <= EG_RAW_FORK) {
		fprintf(stderr, "ebpf-guard: %s: map 'drops' is not a per-CPU array of u64 counters "
				"with a slot per record type (%d or more)\n", objname, EG_RAW_FORK + 1);
		goto out;
	}
	bpf_map__set_max_entries(events, rb_bytes);
	err = set_rodata_u32(c.obj, "eg_self_tgid", (uint32_t)getpid());
	if (err) {
		fprintf(stderr, "ebpf-guard: failed to set eg_self_tgid in %s: %s\n", objname,
			strerror(-err));
		goto out;
	}

	/* Find every program; leave out the optional ones the kernel lacks. */
	for (size_t i = 0; i < NPROBES; i++) {
		char path[256];
		c.prog[i] = bpf_object__find_program_by_name(c.obj, probes[i].prog);
		if (!c.prog[i]) {
			fprintf(stderr, "ebpf-guard: failed to find program %s in %s\n", probes[i].prog,
				objname);
			goto out;
		}
		snprintf(path, sizeof(path), "%s/events/%s", tracefs, probes[i].tp);
		if (access(path, F_OK)) {
			if (probes[i].optional) {
				bpf_program__set_autoload(c.prog[i], false);
				c.prog[i] = NULL;
				continue;
			}
			fprintf(stderr, "ebpf-guard: tracepoint %s is missing (%s: %s)\n", probes[i].tp,
				path, strerror(errno));
			goto out;
		}
	}
	err = bpf_object__load(c.obj);
	if (err) {
		fprintf(stderr, "ebpf-guard: failed to load BPF programs from %s: %s%s\n", objname,
			strerror(-err), o->verbose ? "" : " (run with -v for the verifier log)");
		goto out;
	}

	c.rb = ring_buffer__new(bpf_map__fd(events), on_sample, &c, NULL);
	if (!c.rb) {
		fprintf(stderr, "ebpf-guard: failed to create ring buffer reader: %s\n", strerror(errno));
		goto out;
	}
	c.page = (size_t)sysconf(_SC_PAGESIZE);
	err = map_bss(&c);
	if (err) {
		fprintf(stderr, "ebpf-guard: failed to map eg_events_lost and eg_want (.bss) of %s: %s\n",
			objname, strerror(-err));
		goto out;
	}
	eg_pipe_set_lost_counter(p, c.lost);
	void *m = mmap(NULL, c.page, PROT_READ, MAP_SHARED, bpf_map__fd(events), 0);
	if (m != MAP_FAILED)
		c.cons_pos = m;
	m = mmap(NULL, c.page, PROT_READ, MAP_SHARED, bpf_map__fd(events), c.page);
	if (m != MAP_FAILED)
		c.prod_pos = m;
	EG_SET(ringbuf_size_bytes, bpf_map__max_entries(events));
	c.drops_fd = bpf_map__fd(drops);
	c.ncpus = libbpf_num_possible_cpus();
	if (c.ncpus > 0) {
		c.drop_vals = calloc((size_t)c.ncpus, sizeof(uint64_t));
		c.scrape_drop_vals = calloc((size_t)c.ncpus, sizeof(uint64_t));
		c.kf_vals = calloc((size_t)c.ncpus, sizeof(uint64_t));
		c.scrape_kf_vals = calloc((size_t)c.ncpus, sizeof(uint64_t));
	}
	/* the kernel filter's maps (an older -bpf-object has none: no filter) */
	struct bpf_map *kfm;
	if ((kfm = bpf_object__find_map_by_name(c.obj, "kf_open_prefix")) &&
	    bpf_map__key_size(kfm) == sizeof(struct eg_kf_prefix))
		c.kf_prefix_fd = bpf_map__fd(kfm);
	if ((kfm = bpf_object__find_map_by_name(c.obj, "kf_open_suffix")) && bpf_map__key_size(kfm) == 4)
		c.kf_suffix_fd = bpf_map__fd(kfm);
	if ((kfm = bpf_object__find_map_by_name(c.obj, "kf_open_comm")) && bpf_map__key_size(kfm) == 4)
		c.kf_comm_fd = bpf_map__fd(kfm);
	if ((kfm = bpf_object__find_map_by_name(c.obj, "kf_open_head")) && bpf_map__key_size(kfm) == 8 &&
	    bpf_map__type(kfm) == BPF_MAP_TYPE_HASH && bpf_map__max_entries(kfm) >= EG_KF_PREFIXES)
		c.kf_head_fd = bpf_map__fd(kfm);
	if ((kfm = bpf_object__find_map_by_name(c.obj, "kf_filtered")) &&
	    bpf_map__type(kfm) == BPF_MAP_TYPE_PERCPU_ARRAY && bpf_map__value_size(kfm) == 8 &&
	    bpf_map__max_entries(kfm) > EG_RAW_OPEN)
		c.kf_filtered_fd = bpf_map__fd(kfm);
	if ((kfm = bpf_object__find_map_by_name(c.obj, "kf_path_prefix")) &&
	    bpf_map__key_size(kfm) == sizeof(struct eg_kf_path_prefix))
		c.kf_path_prefix_fd = bpf_map__fd(kfm);
	if ((kfm = bpf_object__find_map_by_name(c.obj, "kf_path_head")) && bpf_map__key_size(kfm) == 8 &&
	    bpf_map__type(kfm) == BPF_MAP_TYPE_HASH && bpf_map__max_entries(kfm) >= EG_KF_PATH_PREFIXES)
		c.kf_path_head_fd = bpf_map__fd(kfm);
	if ((kfm = bpf_object__find_map_by_name(c.obj, "kf_path_word")) &&
	    bpf_map__key_size(kfm) == sizeof(struct eg_kf_word))
		c.kf_path_word_fd = bpf_map__fd(kfm);
	if ((kfm = bpf_object__find_map_by_name(c.obj, "kf_seen")) &&
	    bpf_map__key_size(kfm) == sizeof(struct eg_kf_seen_key) && bpf_map__type(kfm) == BPF_MAP_TYPE_LRU_HASH)
		c.kf_seen_fd = bpf_map__fd(kfm);
	if ((kfm = bpf_object__find_map_by_name(c.obj, "kf_port")) && bpf_map__key_size(kfm) == 4 &&
	    bpf_map__type(kfm) == BPF_MAP_TYPE_HASH)
		c.kf_port_fd = bpf_map__fd(kfm);
	if ((kfm = bpf_object__find_map_by_name(c.obj, "kf_sock_prog")) && bpf_map__key_size(kfm) == 8 &&
	    bpf_map__type(kfm) == BPF_MAP_TYPE_HASH && bpf_map__max_entries(kfm) >= EG_KF_PROGS)
		c.kf_sock_prog_fd = bpf_map__fd(kfm);
	if ((kfm = bpf_object__find_map_by_name(c.obj, "kf_once")) &&
	    bpf_map__key_size(kfm) == sizeof(struct eg_kf_once_key) && bpf_map__type(kfm) == BPF_MAP_TYPE_LRU_HASH)
		c.kf_once_fd = bpf_map__fd(kfm);
	if ((kfm = bpf_object__find_map_by_name(c.obj, "kf_addr")) &&
	    bpf_map__key_size(kfm) == sizeof(struct eg_kf_addr_key) && bpf_map__type(kfm) == BPF_MAP_TYPE_HASH &&
	    bpf_map__max_entries(kfm) >= EG_KF_ADDRS)
		c.kf_addr_fd = bpf_map__fd(kfm);
	eg_metrics_set_refresh(refresh_on_scrape, &c);

	c.boot_to_real = boot_to_real_offset();
	c.host = eg_host_local();
	struct eg_pt_opts pto = {.capacity = o->proc_table_size, .boot_to_real = c.boot_to_real};
	c.pt = eg_pt_new(&pto);
	if (!c.pt) {
		fprintf(stderr, "ebpf-guard: failed to allocate the process table: %s\n", strerror(errno));
		goto out;
	}
	char cgroot[512];
	if (eg_cgroup2_root(cgroot, sizeof(cgroot)) == 0)
		c.cg = eg_cgroups_new(cgroot, 4096);
	if (!c.cg && o->verbose)
		fprintf(stderr, "ebpf-guard: no cgroup v2 hierarchy: events carry no container identity\n");
	kf_sync(&c);
	kk_start(&c);
	kf_sync_paths(&c);
	kf_sync_socks(&c);
	kf_publish(&c);
	if (sync_attach(&c, wanted_types(&c)))
		goto out;
	/* after the attach, so that no process starts unseen; before the
	 * capabilities go (reading other users' /proc/PID/exe needs them) */
	unsigned seeded = eg_pt_seed(c.pt);
	if (o->verbose)
		fprintf(stderr, "ebpf-guard: process table seeded with %u processes from /proc\n", seeded);
	/* -record-pid: the descendants already running, for the same reason */
	unsigned below = eg_recfilter_scan_proc(eg_pipe_record_filter(p), NULL);
	if (o->verbose && eg_pipe_record_filter(p))
		fprintf(stderr, "ebpf-guard: -record-pid: %u running descendants found in /proc\n",
			below);
	update_pt_metrics(&c);
	if (o->on_attached && o->on_attached(o->ctx, caps_needed(&c)))
		goto out;
	report_attached(&c);
	if (o->on_state)
		o->on_state(EG_RUN_READY);

	int64_t next = clock_ns(CLOCK_MONOTONIC), last_clock = next, tick = EG_TICK_NS;
	unsigned passes = 0;
	while (!*stop) {
		int more = drain(&c, EG_DRAIN_BUDGET);
		/* Each pass costs tens of microseconds here (timer, wake-up, GC
		 * step): back off to EG_TICK_IDLE_NS while the ring stays empty,
		 * back to EG_TICK_NS at the first record. */
		tick = c.drained ? EG_TICK_NS : (tick * 2 > EG_TICK_IDLE_NS ? EG_TICK_IDLE_NS : tick * 2);
		eg_pipe_flush(p);
		/* no pending event points at a retired image now */
		reap(&c);
		eg_pipe_service(p);
		kf_sync(&c);
		kk_sync(&c);
		kf_sync_paths(&c);
		kf_sync_socks(&c);
		kf_publish(&c);
		update_gauges(&c, ++passes % 10 == 0);
		update_pt_metrics(&c);
		if (o->on_state)
			o->on_state(EG_RUN_ALIVE);
		int64_t now = clock_ns(CLOCK_MONOTONIC);
		if (now - last_clock >= EG_CLOCK_REFRESH_NS) {
			last_clock = now;
			c.boot_to_real = boot_to_real_offset();
			uint32_t want = wanted_types(&c);
			if (want != c.attached_types) {
				/* a reload changed what the rules need */
				sync_attach(&c, want);
				report_attached(&c);
			}
		}
		if (more)
			continue;
		next += tick;
		if (next <= now) {
			next = now;
			continue;
		}
		struct timespec ts = {.tv_sec = next / 1000000000LL, .tv_nsec = next % 1000000000LL};
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}

	if (o->on_state)
		o->on_state(EG_RUN_STOPPING);
	/* Stop producing, then drain what is left and flush it. */
	detach_all(&c);
	while (drain(&c, EG_DRAIN_BUDGET))
		;
	eg_pipe_flush(p);
	reap(&c);
	update_gauges(&c, true);
	update_pt_metrics(&c);
	if (c.bad_records)
		fprintf(stderr, "ebpf-guard: %llu malformed ring-buffer records skipped\n",
			(unsigned long long)c.bad_records);
	rc = 0;
out:
	cleanup(&c);
	return rc;
}
