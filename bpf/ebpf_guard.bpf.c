// SPDX-License-Identifier: GPL-2.0
/*
 * ebpf-guard kernel side: syscall tracepoints for exec, open and connect,
 * sched_process_exec for the resolved executable and its arguments,
 * sched_process_exit for process ends. Records (bpf/eg_raw.h) go to the
 * "events" ring buffer without wake-ups; the daemon drains it on a timer.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "eg_raw.h"

#define EFAULT 14
#define ENOENT 2
#define ENOTDIR 20
#define AF_INET 2
#define AF_INET6 10
#define SIN6_LEN_RFC2133 24 /* sockaddr_in6 without sin6_scope_id */
#define AT_FDCWD -100

char LICENSE[] SEC("license") = "GPL";

/* The daemon's own tgid: its activity is never reported. */
const volatile __u32 eg_self_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* Ring-buffer output failures per record type (key: the record's type byte),
 * per CPU; room for types to come. */
#define EG_DROP_SLOTS 16

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EG_DROP_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Every output failure, all types and CPUs together: the host reads it through
 * the mmap'ed .bss at each batch to flag alerts raised while events were lost. */
__u64 eg_events_lost = 0;

struct scratch_buf {
	__u8 b[EG_RAW_SCRATCH];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch_buf);
} scratch SEC(".maps");

/* Exec in flight, keyed by tid: what the caller looked like at sys_enter. */
struct exec_start {
	__u64 filename_ptr;
	__u32 is_at;
	__u32 fn_len; /* execveat: bytes of exec_paths[tid], NUL included */
	char comm[EG_RAW_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct exec_start);
} exec_starts SEC(".maps");

/* execveat only: the path as passed, read at sys_enter (the kernel's copy is
 * rewritten to /dev/fd/N/...). Few are ever in flight at once. */
struct exec_path {
	char filename[EG_RAW_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 512);
	__type(key, __u32);
	__type(value, struct exec_path);
} exec_paths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_path);
} exec_path_tmpl SEC(".maps");

/* Entries in open_retries: lets sys_exit skip the hash lookup when none. */
__u64 eg_retry_pending = 0;

/* Opens whose path was not readable at sys_enter (-EFAULT), keyed by tid. */
struct open_retry {
	__u64 filename_ptr;
	__u32 open_flags;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct open_retry);
} open_retries SEC(".maps");

static __always_inline bool is_self(__u64 id)
{
	return (__u32)(id >> 32) == eg_self_tgid;
}

static __always_inline struct eg_raw_event *get_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

/*
 * Fills the fields every event carries; zeroes the rest of the header. The
 * task is read with direct BTF loads (JIT-inlined), not helper calls: each
 * helper call costs tens of ns on the hot path of every open.
 */
static __always_inline void fill_common(struct eg_raw_event *e, __u8 type, __u64 id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const struct cred *cred = task->cred;

	e->ts_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = task->cgroups->dfl_cgrp->kn->id;
	e->pid = (__u32)id;
	e->tgid = id >> 32;
	e->ppid = task->real_parent->tgid;
	e->uid = cred->uid.val;
	e->gid = cred->gid.val;
	e->open_flags = 0;
	e->flags = 0;
	e->type = type;
	e->family = 0;
	e->dest_port = 0;
	e->filename_len = 0;
	e->exe_len = 0;
	e->args_len = 0;
	e->_pad = 0;
	__builtin_memcpy(e->comm, task->comm, sizeof(e->comm));
}

/* Copies the record to the ring buffer (no wake-up); counts a failure by type
 * and in eg_events_lost. */
static __always_inline void submit(struct eg_raw_event *e, __u64 size)
{
	__u32 key;
	__u64 *d;

	if (size > EG_RAW_SCRATCH)
		return;
	if (bpf_ringbuf_output(&events, e, size, BPF_RB_NO_WAKEUP)) {
		key = e->type;
		d = bpf_map_lookup_elem(&drops, &key);
		if (d)
			*d += 1;
		__sync_fetch_and_add(&eg_events_lost, 1);
	}
}

/* Stores a read string length, flagging a path that filled the bound. */
static __always_inline __u32 path_len(struct eg_raw_event *e, long n)
{
	if (n <= 0) {
		e->flags |= EG_RAWF_NO_FILENAME;
		return 0;
	}
	if (n >= EG_RAW_PATH_MAX) {
		e->flags |= EG_RAWF_TRUNC_FILENAME;
		n = EG_RAW_PATH_MAX;
	}
	e->filename_len = n;
	return n;
}

/* ---- open ---------------------------------------------------------------- */

static __always_inline int open_enter(__u64 fname, __u32 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct eg_raw_event *e;
	long n;

	if (is_self(id))
		return 0;
	e = get_scratch();
	if (!e)
		return 0;
	n = bpf_probe_read_user_str((char *)(e + 1), EG_RAW_PATH_MAX, (const void *)fname);
	if (n == -EFAULT) {
		/* page not faulted in yet: read again at sys_exit */
		struct open_retry r = {.filename_ptr = fname, .open_flags = flags};
		__u32 tid = (__u32)id;

		if (!bpf_map_update_elem(&open_retries, &tid, &r, BPF_ANY))
			__sync_fetch_and_add(&eg_retry_pending, 1);
		return 0;
	}
	fill_common(e, EG_RAW_OPEN, id);
	e->open_flags = flags;
	submit(e, sizeof(*e) + path_len(e, n));
	return 0;
}

static __always_inline int open_exit(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct open_retry *r;
	struct eg_raw_event *e;
	long n;

	if (!eg_retry_pending)
		return 0;
	r = bpf_map_lookup_elem(&open_retries, &tid);
	if (!r)
		return 0;
	e = get_scratch();
	if (!e) {
		if (!bpf_map_delete_elem(&open_retries, &tid))
			__sync_fetch_and_add(&eg_retry_pending, -1);
		return 0;
	}
	fill_common(e, EG_RAW_OPEN, id);
	e->open_flags = r->open_flags;
	e->flags = EG_RAWF_EXIT_READ;
	n = bpf_probe_read_user_str((char *)(e + 1), EG_RAW_PATH_MAX,
				    (const void *)r->filename_ptr);
	if (!bpf_map_delete_elem(&open_retries, &tid))
		__sync_fetch_and_add(&eg_retry_pending, -1);
	submit(e, sizeof(*e) + path_len(e, n));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tracepoint__syscalls__sys_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(ctx->args[1], (__u32)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int tracepoint__syscalls__sys_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit();
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int tracepoint__syscalls__sys_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	__u64 flags = 0;

	bpf_probe_read_user(&flags, sizeof(flags), (const void *)ctx->args[2]);
	return open_enter(ctx->args[1], (__u32)flags);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int tracepoint__syscalls__sys_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit();
}

SEC("tracepoint/syscalls/sys_enter_open")
int tracepoint__syscalls__sys_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(ctx->args[0], (__u32)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_open")
int tracepoint__syscalls__sys_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit();
}

/* ---- connect ------------------------------------------------------------- */

SEC("tracepoint/syscalls/sys_enter_connect")
int tracepoint__syscalls__sys_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	const void *uaddr = (const void *)ctx->args[1];
	__u64 alen = ctx->args[2];
	struct sockaddr_in6 sa = {};
	struct eg_raw_event *e;

	if (is_self(id))
		return 0;
	/* one read: family, port, flowinfo and the IPv6 address (the first 24
	 * bytes of a sockaddr_in6, sin6_scope_id is not used) cover sockaddr_in */
	if (alen >= SIN6_LEN_RFC2133) {
		if (bpf_probe_read_user(&sa, SIN6_LEN_RFC2133, uaddr))
			return 0;
	} else if (alen >= sizeof(struct sockaddr_in)) {
		if (bpf_probe_read_user(&sa, sizeof(struct sockaddr_in), uaddr))
			return 0;
	} else {
		return 0;
	}
	/* the kernel takes an IPv6 address from addrlen 24 on (RFC 2133's
	 * sockaddr_in6 had no scope id), an IPv4 one from 16 */
	if (sa.sin6_family != AF_INET && (sa.sin6_family != AF_INET6 || alen < SIN6_LEN_RFC2133))
		return 0;
	e = get_scratch();
	if (!e)
		return 0;
	fill_common(e, EG_RAW_CONNECT, id);
	e->family = sa.sin6_family;
	e->dest_port = bpf_ntohs(sa.sin6_port); /* same offset in sockaddr_in */
	if (sa.sin6_family == AF_INET) {
		__builtin_memset(e->dest_addr, 0, sizeof(e->dest_addr));
		__builtin_memcpy(e->dest_addr, &((struct sockaddr_in *)&sa)->sin_addr, 4);
	} else {
		__builtin_memcpy(e->dest_addr, &sa.sin6_addr, 16);
	}
	submit(e, sizeof(*e));
	return 0;
}

/* ---- exec ---------------------------------------------------------------- */

static __always_inline int exec_enter(__u64 fname, __u32 is_at)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, zero = 0;
	struct exec_start s = {.filename_ptr = fname, .is_at = is_at};
	struct exec_path *p;
	long n;

	if (is_self(id))
		return 0;
	bpf_get_current_comm(s.comm, sizeof(s.comm));
	if (is_at) {
		p = bpf_map_lookup_elem(&exec_path_tmpl, &zero);
		if (p) {
			n = bpf_probe_read_user_str(p->filename, sizeof(p->filename), (const void *)fname);
			if (n > 0 && !bpf_map_update_elem(&exec_paths, &tid, p, BPF_ANY))
				s.fn_len = n;
		}
	}
	bpf_map_update_elem(&exec_starts, &tid, &s, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int tracepoint__syscalls__sys_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter(ctx->args[0], 0);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int tracepoint__syscalls__sys_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter(ctx->args[1], 1);
}

/* A failed exec returns to the caller: report it unless the file was not
 * found (execvp walking $PATH), without exe or args. */
static __always_inline int exec_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	long ret = ctx->ret;
	struct exec_start *s;
	struct exec_path *p;
	struct eg_raw_event *e;
	long n;

	s = bpf_map_lookup_elem(&exec_starts, &tid);
	if (!s)
		return 0;
	if (ret == 0 || ret == -ENOENT || ret == -ENOTDIR)
		goto out;
	e = get_scratch();
	if (!e)
		goto out;
	fill_common(e, EG_RAW_EXEC, id);
	__builtin_memcpy(e->comm, s->comm, sizeof(e->comm));
	e->flags = EG_RAWF_EXEC_FAILED;
	p = s->fn_len ? bpf_map_lookup_elem(&exec_paths, &tid) : NULL;
	if (p) {
		n = bpf_probe_read_kernel_str((char *)(e + 1), EG_RAW_PATH_MAX, p->filename);
	} else {
		/* the kernel has read the path by now: its page is in */
		n = bpf_probe_read_user_str((char *)(e + 1), EG_RAW_PATH_MAX,
					    (const void *)s->filename_ptr);
	}
	submit(e, sizeof(*e) + path_len(e, n));
out:
	if (s->fn_len)
		bpf_map_delete_elem(&exec_paths, &tid);
	bpf_map_delete_elem(&exec_starts, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int tracepoint__syscalls__sys_exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int tracepoint__syscalls__sys_exit_execveat(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit(ctx);
}

/* State of the executable path walk (one bpf_loop step per dentry). */
struct walk_ctx {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	__u32 base; /* where the exe region starts in the scratch record */
	__u32 off;  /* bytes written so far */
	__u32 flags;
	__u32 done;
};

/*
 * One step of the d_path walk: up the dentries, across mounts, writing each
 * name (leaf first, NUL-terminated) into the record's exe region. Returns 1
 * to stop the loop.
 */
static long walk_step(__u32 i, void *arg)
{
	struct walk_ctx *w = arg;
	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	__u8 *buf;
	__u32 pos;
	long n;

	if (dentry == mnt_root) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);

		if (up == mnt) {
			w->done = 1; /* global root */
			return 1;
		}
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		w->vfsmnt = (void *)up + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	if (w->off > EG_RAW_PATH_MAX - EG_RAW_NAME_MAX) {
		w->flags |= EG_RAWF_TRUNC_EXE;
		w->done = 1;
		return 1;
	}
	buf = (__u8 *)get_scratch();
	if (!buf)
		return 1;
	pos = w->base + w->off;
	if (pos > EG_RAW_SCRATCH - EG_RAW_NAME_MAX)
		return 1;
	n = bpf_probe_read_kernel_str(buf + pos, EG_RAW_NAME_MAX, BPF_CORE_READ(dentry, d_name.name));
	if (n <= 0)
		return 1;
	w->off += n;
	if (dentry == parent) {
		/* root of a pseudo file system (memfd): d_dname names it */
		w->flags |= EG_RAWF_EXE_PSEUDO;
		w->done = 1;
		return 1;
	}
	w->dentry = parent;
	return 0;
}

/* Writes the executable's path components at offset base of the record.
 * Returns the bytes written; flags a walk that hit a bound. */
static __always_inline __u32 walk_exe(struct eg_raw_event *e, __u32 base, struct file *f)
{
	struct walk_ctx w = {};

	w.dentry = BPF_CORE_READ(f, f_path.dentry);
	w.vfsmnt = BPF_CORE_READ(f, f_path.mnt);
	w.mnt = (void *)w.vfsmnt - bpf_core_field_offset(struct mount, mnt);
	w.base = base;
	bpf_loop(EG_RAW_EXE_COMPONENTS, walk_step, &w, 0);
	if (!w.done)
		w.flags |= EG_RAWF_TRUNC_EXE;
	e->flags |= w.flags;
	return w.off;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 key = old_pid;
	struct exec_start *s;
	struct exec_path *ep;
	struct eg_raw_event *e;
	struct mm_struct *mm;
	struct file *exe;
	__u32 fn, xn = 0, an = 0;
	unsigned long astart, aend, alen;
	char *dst;
	long n;

	if (is_self(id))
		return 0;
	e = get_scratch();
	if (!e)
		return 0;
	s = bpf_map_lookup_elem(&exec_starts, &key);
	fill_common(e, EG_RAW_EXEC, id);
	dst = (char *)(e + 1);
	if (s) {
		/* comm at the time of the call, not the new image's */
		__builtin_memcpy(e->comm, s->comm, sizeof(e->comm));
	}
	/* filename as passed, from kernel memory */
	ep = s && s->fn_len ? bpf_map_lookup_elem(&exec_paths, &key) : NULL;
	if (ep)
		n = bpf_probe_read_kernel_str(dst, EG_RAW_PATH_MAX, ep->filename);
	else
		n = bpf_probe_read_kernel_str(dst, EG_RAW_PATH_MAX, BPF_CORE_READ(bprm, filename));
	fn = path_len(e, n);
	if (ep)
		bpf_map_delete_elem(&exec_paths, &key);
	if (s)
		bpf_map_delete_elem(&exec_starts, &key);

	/* the executable as /proc/self/exe shows it */
	mm = BPF_CORE_READ(p, mm);
	exe = BPF_CORE_READ(mm, exe_file);
	if (exe && fn <= EG_RAW_PATH_MAX) {
		xn = walk_exe(e, sizeof(*e) + fn, exe);
		if (BPF_CORE_READ(exe, f_inode, i_nlink) == 0)
			e->flags |= EG_RAWF_DELETED;
	}
	e->exe_len = xn;

	/* arguments: the new image's argv, just written by the kernel */
	astart = BPF_CORE_READ(mm, arg_start);
	aend = BPF_CORE_READ(mm, arg_end);
	alen = aend - astart;
	if (alen > EG_RAW_ARGS_MAX) {
		alen = EG_RAW_ARGS_MAX;
		e->flags |= EG_RAWF_TRUNC_ARGS;
	}
	if (aend > astart && fn <= EG_RAW_PATH_MAX && xn <= EG_RAW_PATH_MAX) {
		an = alen & (EG_RAW_ARGS_MAX * 2 - 1);
		if (an > EG_RAW_ARGS_MAX)
			an = EG_RAW_ARGS_MAX;
		if (bpf_probe_read_user(dst + fn + xn, an, (const void *)astart))
			an = 0;
	}
	e->args_len = an;
	submit(e, sizeof(*e) + fn + xn + an);
	return 0;
}

/* ---- exit ---------------------------------------------------------------- */

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *p)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct eg_raw_event *e;

	if (is_self(id))
		return 0;
	/* the last thread of the group: the process is gone */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	e = get_scratch();
	if (!e)
		return 0;
	fill_common(e, EG_RAW_EXIT, id);
	submit(e, sizeof(*e));
	return 0;
}
