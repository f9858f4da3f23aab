/* SPDX-License-Identifier: MIT */
/*
 * The engine's view of one event, shared by every producer (replay reader,
 * kernel collector) and by the Lua engine, which reads an array of these in
 * place through the FFI (lua/ebpf_guard/event.lua holds the matching cdef;
 * the engine checks offsets against eg_event_layout() at start-up).
 *
 * Strings point into the batch's string arena, are NUL-terminated there, and
 * their *_len excludes the NUL. args holds argc strings back to back, each
 * NUL-terminated; args_len counts every byte including those NULs.
 */
#ifndef EG_EVENT_H
#define EG_EVENT_H

#include <stddef.h>
#include <stdint.h>

enum eg_event_type {
	EG_EV_NONE = 0,
	EG_EV_EXEC = 1,
	EG_EV_OPEN = 2,
	EG_EV_CONNECT = 3,
	EG_EV_EXIT = 4, /* process exit: feeds state stores, never alerts in YAML rules */
	EG_EV_MEMFD = 5, /* memfd_create(2) */
	EG_EV_PTRACE = 6, /* ptrace(2) */
	EG_EV_MODULE = 7, /* init_module(2), finit_module(2), delete_module(2) */
	EG_EV_BPF = 8, /* bpf(2): program loads, map and link creation */
	EG_EV_SETID = 9, /* setuid(2) and kin, capset(2) */
	EG_EV_NAMESPACE = 10, /* unshare(2), setns(2), clone with CLONE_NEW* */
	EG_EV_MOUNT = 11, /* mount(2), umount2(2), fsmount(2), move_mount(2) */
	EG_EV_LINK = 12, /* symlink(2), link(2) and their -at forms */
	EG_EV_RENAME = 13, /* rename(2), renameat(2), renameat2(2) */
	EG_EV_UNLINK = 14, /* unlink(2), unlinkat(2), rmdir(2) */
	EG_EV_CHMOD = 15, /* chmod(2), fchmod(2), fchmodat(2), fchmodat2 */
	EG_EV_DUP = 16, /* dup(2), dup2(2), dup3(2) onto fd 0, 1 or 2 */
	EG_EV_LISTEN = 17, /* bind(2), listen(2) */
	EG_EV_ACCEPT = 18, /* accept(2), accept4(2) */
	EG_EV_MAX = 18,
};

enum eg_event_flags {
	EG_EVF_TRUNCATED = 1u << 0, /* a string or the argument list hit a bound */
	EG_EVF_MEMFD = 1u << 1,     /* exec of a memory-backed (memfd or unlinked) file */
	EG_EVF_REQ_DIFFERS = 1u << 2, /* open: the requested path does not name the opened file */
	EG_EVF_IO_URING = 1u << 3,  /* open, connect: made through io_uring */
	EG_EVF_COMPAT = 1u << 4,    /* open, connect: a 32-bit (compat) system call */
	EG_EVF_INTERPRETED = 1u << 5, /* exec: of a script (or binfmt_misc): exe is the interpreter */
	EG_EVF_DATAGRAM = 1u << 6,  /* connect: a datagram sent without connect (UDP sendto) */
	EG_EVF_KILLED = 1u << 7,    /* exec, open, connect: the kernel killed the caller (bpf/kkill.h) */
	/* connect: the kernel's memory of the process's destinations (a
	 * detection's once_per, compile.lua) said new / seen within the window */
	EG_EVF_ONCE_FRESH = 1u << 8,
	EG_EVF_ONCE_REPEAT = 1u << 9,
};

/*
 * Process context (docs/process-context.md). Every event points at the
 * image of its process: what the process was running, from its last exec
 * (or the fork that made it, or /proc when it ran before the daemon), with a
 * snapshot of its parent and ancestors taken when the image was made. Live,
 * images live in the daemon's process table (src/proctable.c) and are freed
 * only after the batch of the last event that points at them went through
 * the engine; replayed, each event gets its own, built from its JSON line.
 * An event's context pointers may be NULL: readers then use the empty
 * objects below (eg_ev_proc() and friends).
 */
#define EG_ANCESTORS_MAX 5

enum eg_proc_flags {
	EG_PROCF_SEEDED = 1u << 0,       /* read from /proc, not seen at exec or fork */
	EG_PROCF_ARGS_TRUNCATED = 1u << 1, /* args (own) hit a bound */
	EG_PROCF_SETUID = 1u << 2,       /* exe has the set-user-id bit */
	EG_PROCF_SETGID = 1u << 3,       /* exe has the set-group-id bit */
	EG_PROCF_LD_PRELOAD = 1u << 4,   /* LD_PRELOAD was in the new environment */
	EG_PROCF_LD_LIBRARY_PATH = 1u << 5, /* LD_LIBRARY_PATH was */
	EG_PROCF_EXE_DELETED = 1u << 6,  /* exe had no links (unlinked, memfd) */
	EG_PROCF_FORKED = 1u << 7,       /* made by fork/clone, no exec since */
	EG_PROCF_UNKNOWN = 1u << 8,      /* not in the table: only tgid/ppid known */
};

struct eg_ancestor {
	const char *comm;
	const char *exe;
	uint32_t comm_len;
	uint32_t exe_len;
};

struct eg_proc {
	int64_t start_ns;      /* wall clock ns: the exec (or fork) that made
				* the image; for seeded ones the process start */
	uint32_t tgid;
	uint32_t ppid;         /* the parent's tgid when the image was made */
	uint32_t uid;
	uint32_t gid;
	int32_t loginuid;      /* audit login uid, -1 when unset */
	uint32_t flags;        /* enum eg_proc_flags */
	uint32_t argc;
	uint32_t parent_argc;
	uint32_t parent_tgid;  /* 0: unknown */
	uint32_t nancestors;   /* ancestors[0..n), nearest (the parent) first */
	const char *exec_id;   /* unique on the host over time */
	const char *comm;
	const char *exe;
	const char *args;      /* argc NUL-terminated strings */
	const char *cwd;
	const char *tty;       /* "pts/3", "" when none */
	const char *parent_exec_id;
	const char *parent_comm;
	const char *parent_exe;
	const char *parent_args;
	uint32_t exec_id_len;
	uint32_t comm_len;
	uint32_t exe_len;
	uint32_t args_len;
	uint32_t cwd_len;
	uint32_t tty_len;
	uint32_t parent_exec_id_len;
	uint32_t parent_comm_len;
	uint32_t parent_exe_len;
	uint32_t parent_args_len;
	struct eg_ancestor ancestors[EG_ANCESTORS_MAX];
	uint64_t start_boottime; /* the process's start: task->start_boottime,
				  * boot-clock ns, what /proc/PID/stat's starttime
				  * shows in ticks; tells a process from a later
				  * one with its pid (src/response.c). 0: unknown */
};

/* The container (or host unit) of a cgroup v2 path. */
struct eg_container {
	uint64_t cgroup_id;
	const char *cgroup;    /* the cgroup v2 path, "/system.slice/x.service" */
	const char *id;        /* container id (64 hex digits), "" on the host */
	const char *runtime;   /* docker, containerd, cri-o, podman, host; "" unknown */
	const char *pod_uid;   /* Kubernetes pod UID, "" when none */
	uint32_t cgroup_len;
	uint32_t id_len;
	uint32_t runtime_len;
	uint32_t pod_uid_len;
};

/* The host an event happened on. */
struct eg_host {
	const char *name;      /* hostname */
	const char *id;        /* /etc/machine-id */
	uint32_t name_len;
	uint32_t id_len;
};

/* Empty context, for events whose producer knows nothing (context.c). */
extern const struct eg_proc eg_proc_none;
extern const struct eg_container eg_container_none;
extern const struct eg_host eg_host_none;

#define EG_EV_NUMS 8
#define EG_EV_AUX 2

struct eg_event {
	int64_t ts_ns;      /* wall clock, ns since the Unix epoch, UTC */
	uint64_t cgroup_id;
	uint32_t type;      /* enum eg_event_type */
	uint32_t flags;     /* enum eg_event_flags */
	uint32_t pid;       /* thread id */
	uint32_t tgid;      /* process id */
	uint32_t ppid;
	uint32_t uid;
	uint32_t gid;
	uint32_t open_flags;
	uint32_t dest_port; /* host byte order, connect only */
	uint32_t argc;
	const char *comm;
	const char *filename;
	const char *exe;
	const char *dest_ip; /* dotted quad or RFC 5952 text */
	const char *args;
	const char *requested; /* open: the path argument as passed */
	uint32_t comm_len;
	uint32_t filename_len;
	uint32_t exe_len;
	uint32_t dest_ip_len;
	uint32_t args_len;
	uint32_t requested_len;
	int32_t ret;        /* open: the result (fd, or -errno) */
	uint32_t proto;     /* connect: IPPROTO_* of the socket (0: unknown) */
	const struct eg_proc *proc;     /* the process (NULL: unknown) */
	const struct eg_container *ctr; /* its cgroup's container (NULL: unknown) */
	const struct eg_host *host;     /* the host (NULL: unknown) */
	/* the fields of the newer event types (src/evtypes.c says which key
	 * of which type is in which slot) */
	int64_t num[EG_EV_NUMS];
	const char *aux[EG_EV_AUX];
	uint32_t aux_len[EG_EV_AUX];
};

static inline const struct eg_proc *eg_ev_proc(const struct eg_event *ev)
{
	return ev->proc ? ev->proc : &eg_proc_none;
}

static inline const struct eg_container *eg_ev_ctr(const struct eg_event *ev)
{
	return ev->ctr ? ev->ctr : &eg_container_none;
}

static inline const struct eg_host *eg_ev_host(const struct eg_event *ev)
{
	return ev->host ? ev->host : &eg_host_none;
}

/* Capacity of the hit array per run() call. */
#define EG_BATCH_HITS_DEFAULT 8192

/* One rule that fired on one event. */
enum eg_hit_flags {
	EG_HITF_DYNDESC = 1u << 0, /* description replaced; fetch with eg_engine_hit_desc() */
};

struct eg_hit {
	uint32_t ev;    /* index into the batch's events */
	uint16_t rule;  /* index into the engine's rule table */
	uint16_t flags; /* enum eg_hit_flags */
};

/* Error kinds counted per rule by the engine. */
enum eg_rule_err { EG_RERR_RUNTIME = 0, EG_RERR_BUDGET = 1, EG_RERR_KINDS = 2 };

/*
 * The control block shared with the Lua engine. C fills ev/n and resets
 * next/nhits; Lua's run() processes events [next, n) until done or until the
 * hit array cannot take another event's worth of hits, then stores next and
 * nhits. C consumes the hits and calls run() again while next < n.
 */
struct eg_batch {
	struct eg_event *ev;
	uint32_t n;
	uint32_t next;
	struct eg_hit *hits;
	uint32_t nhits;
	uint32_t hits_cap;
	/* instruction budget for sandboxed user code (see engine.c count hook) */
	int32_t in_user;
	int32_t ticks;
	int32_t budget_ticks;
	uint32_t nrules;
	uint64_t *rule_errors; /* [nrules][EG_RERR_KINDS], incremented by Lua */
	uint64_t nerrors;      /* total of rule_errors, incremented by Lua */
	uint8_t *rule_disabled; /* [nrules], set to 1 by Lua when a rule is taken
				 * out of service after too many errors in a row */
	uint64_t *rule_calls; /* [nrules], calls of a rule's user code (a condition
			       * or a Lua detection), incremented by Lua */
	/* memory for sandboxed user code (engine.c): bytes of new anonymous
	 * mappings one user call may make (0: no limit), the bytes made so far
	 * in the current call (Lua resets it with ticks), and a cap on the whole
	 * Lua heap checked by the count hook (0: none) */
	uint64_t mem_limit;
	uint64_t user_mapped;
	uint64_t heap_limit;
	/* wall clock: CLOCK_MONOTONIC ns when the count hook first saw the
	 * current user call (Lua resets it to 0 with ticks) and the longest a
	 * call may run, in ns (0: no limit) */
	int64_t call_start_ns;
	int64_t time_limit_ns;
	/* set from another thread to stop the Lua code running on this batch
	 * (a reload that ran too long); checked by the count hook */
	const volatile int32_t *abort_flag;
	/* [n]: 0 for an event no rule can match (the engine's prefilter,
	 * src/prefilter.h), which goes to no rule; 1 for the others; NULL:
	 * every event goes to its type's rules */
	const uint8_t *keep;
};

static inline const char *eg_event_type_name(uint32_t t)
{
	switch (t) {
	case EG_EV_EXEC: return "exec";
	case EG_EV_OPEN: return "open";
	case EG_EV_CONNECT: return "connect";
	case EG_EV_EXIT: return "exit";
	case EG_EV_MEMFD: return "memfd";
	case EG_EV_PTRACE: return "ptrace";
	case EG_EV_MODULE: return "module";
	case EG_EV_BPF: return "bpf";
	case EG_EV_SETID: return "setid";
	case EG_EV_NAMESPACE: return "namespace";
	case EG_EV_MOUNT: return "mount";
	case EG_EV_LINK: return "link";
	case EG_EV_RENAME: return "rename";
	case EG_EV_UNLINK: return "unlink";
	case EG_EV_CHMOD: return "chmod";
	case EG_EV_DUP: return "dup";
	case EG_EV_LISTEN: return "listen";
	case EG_EV_ACCEPT: return "accept";
	default: return "unknown";
	}
}

/* Name of an IP protocol number on connect events ("tcp", "udp", ...), or
 * NULL for one without a name here (written as its number). */
static inline const char *eg_proto_name(uint32_t p)
{
	switch (p) {
	case 0: return "";
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 58: return "icmpv6";
	case 132: return "sctp";
	case 136: return "udplite";
	default: return NULL;
	}
}

#endif
