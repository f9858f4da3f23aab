// SPDX-License-Identifier: GPL-2.0
/*
 * ebpf-guard kernel side: syscall tracepoints for exec, open and connect,
 * sched_process_exec for the resolved executable, its arguments and what the
 * process table needs (cwd, tty, login uid, environment flags),
 * sched_process_fork and sched_process_exit for process starts and ends. Records (bpf/eg_raw.h) go to the
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

/* Gives a kernel pointer read from memory a BTF type, so its fields can be
 * read with plain loads (JIT-inlined, faults handled) instead of a helper
 * call each. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define kcast(ptr, type) ((type *)bpf_rdonly_cast((ptr), bpf_core_type_id_kernel(type)))

/* The daemon's own tgid: its activity is never reported. */
const volatile __u32 eg_self_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* Ring-buffer output failures per record type (key: the record's type byte),
 * per CPU; room for types to come. */
#define EG_DROP_SLOTS 32

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
static __always_inline void fill_task(struct eg_raw_event *e, __u64 id)
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
}

/* The rest of the header: the type, the comm, everything else zero. */
static __always_inline void fill_rest(struct eg_raw_event *e, __u8 type)
{
	struct task_struct *task = bpf_get_current_task_btf();

	e->open_flags = 0;
	e->flags = 0;
	e->type = type;
	e->family = 0;
	e->dest_port = 0;
	e->filename_len = 0;
	e->exe_len = 0;
	e->args_len = 0;
	e->s3_len = 0;
	e->ret = 0;
	e->proto = 0;
	e->_pad2[0] = e->_pad2[1] = e->_pad2[2] = 0;
	__builtin_memcpy(e->comm, task->comm, sizeof(e->comm));
}

static __always_inline void fill_common(struct eg_raw_event *e, __u8 type, __u64 id)
{
	fill_task(e, id);
	fill_rest(e, type);
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

/* ---- paths ------------------------------------------------------------- */

/* A path is built backwards from the end of a per-CPU buffer, the way the
 * kernel's d_path does, so the record gets it ready: "/a/b/c". Twice
 * PATH_MAX, so that masked offsets stay inside it for the verifier. */
struct path_buf {
	char b[2 * EG_RAW_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_buf);
} path_bufs SEC(".maps");

/* State of a path walk (one bpf_loop step per dentry). */
struct walk_ctx {
	struct dentry *dentry;
	struct mount *mnt;
	__u32 pos;  /* the path so far is b[pos..EG_RAW_PATH_MAX) */
	__u32 flags;
	__u32 done;
};

/*
 * One step of the walk: up the dentries, across mounts, prepending "/name"
 * (the length from the dentry, one copy). Returns 1 to stop the loop.
 */
static long walk_step(__u32 i, void *arg)
{
	struct walk_ctx *w = arg;
	struct dentry *dentry = kcast(w->dentry, struct dentry);
	struct mount *mnt = kcast(w->mnt, struct mount);
	struct dentry *parent = dentry->d_parent;
	struct path_buf *pb;
	__u32 zero = 0, len, pos;

	if (dentry == mnt->mnt.mnt_root) {
		struct mount *up = mnt->mnt_parent;

		if (up == w->mnt) {
			w->done = 1; /* global root */
			return 1;
		}
		w->dentry = mnt->mnt_mountpoint;
		w->mnt = up;
		return 0;
	}
	len = dentry->d_name.len;
	if (len >= EG_RAW_NAME_MAX || len + 1 > w->pos) {
		w->flags |= EG_RAWF_TRUNC_EXE;
		w->done = 1;
		return 1;
	}
	pb = bpf_map_lookup_elem(&path_bufs, &zero);
	if (!pb)
		return 1;
	pos = w->pos - len;
	bpf_probe_read_kernel(pb->b + (pos & (EG_RAW_PATH_MAX - 1)), len & (EG_RAW_NAME_MAX - 1),
			      dentry->d_name.name);
	pos--;
	pb->b[pos & (EG_RAW_PATH_MAX - 1)] = '/';
	w->pos = pos;
	if (dentry == parent) {
		/* root of a pseudo file system (memfd): d_dname names it */
		w->flags |= EG_RAWF_EXE_PSEUDO;
		w->done = 1;
		return 1;
	}
	w->dentry = parent;
	return 0;
}

/*
 * The walk, in a frame of its own and verified once (a global function):
 * the path of (dentry, vfsmnt) at offset base of the per-CPU record, its
 * length in the low 16 bits of the result, the walk's flags above them.
 * Inlined, the verifier walked the loop again for each caller's state and
 * each state the loop ended in, through the rest of the caller: the shared
 * sys_exit program grew from 32 thousand verified instructions to half a
 * million with one more family, and the count moved with unrelated code.
 */
__noinline int walk_path_once(__u32 base, __u64 dentry, __u64 vfsmnt)
{
	struct eg_raw_event *e = get_scratch();
	struct walk_ctx w = {};
	struct path_buf *pb;
	__u32 zero = 0, n, pos;

	if (!e)
		return 0;
	w.dentry = (struct dentry *)dentry;
	w.mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
	w.pos = EG_RAW_PATH_MAX;
	bpf_loop(EG_RAW_EXE_COMPONENTS, walk_step, &w, 0);
	if (!w.done)
		w.flags |= EG_RAWF_TRUNC_EXE;
	pos = w.pos;
	n = EG_RAW_PATH_MAX - pos;
	pb = bpf_map_lookup_elem(&path_bufs, &zero);
	/* checked where it is used (a global function's argument comes
	 * with unknown upper bits; the compiler would test a copy) */
	barrier_var(base);
	if (!pb || !n || n > EG_RAW_PATH_MAX || base > EG_RAW_SCRATCH - EG_RAW_PATH_MAX - sizeof(*e))
		return (int)(w.flags << 16);
	if (bpf_probe_read_kernel((char *)e + base, n, pb->b + (pos & (EG_RAW_PATH_MAX - 1))))
		return (int)(w.flags << 16);
	return (int)(w.flags << 16 | n);
}

/* Writes the path of (dentry, vfsmnt), "/a/b/c", at offset base of the
 * record e (the per-CPU scratch record, where walk_path_once() writes).
 * Returns its length; flags a walk that hit a bound (EG_RAWF_TRUNC_EXE: the
 * leaf-most components are kept) or ended on a pseudo file system's root. */
static __always_inline __u32 walk_path(struct eg_raw_event *e, __u32 base, struct dentry *dentry,
				       struct vfsmount *vfsmnt, __u32 *flags)
{
	/* a global function takes numbers, not kernel pointers */
	void *p[2] = {dentry, vfsmnt};
	__u64 v[2] = {};
	__u32 r, n;

	(void)e;
	bpf_probe_read_kernel(v, sizeof(v), p);
	r = walk_path_once(base, v[0], v[1]);
	*flags |= r >> 16;
	n = r & 0xffff;
	return n <= EG_RAW_PATH_MAX ? n : 0;
}

/* The same for an open file; flags it EG_RAWF_DELETED when it has no links. */
static __always_inline __u32 walk_file(struct eg_raw_event *e, __u32 base, struct file *file)
{
	struct file *f = kcast(file, struct file);

	if (f->f_inode->i_nlink == 0)
		e->flags |= EG_RAWF_DELETED;
	return walk_path(e, base, f->f_path.dentry, f->f_path.mnt, &e->flags);
}

/* ---- open and connect, at system call exit ------------------------------ */

/*
 * One tp_btf program on sys_exit serves open(2), openat(2), openat2(2),
 * creat(2), open_by_handle_at(2) and connect(2), native and 32-bit (int 0x80
 * compat calls skip the per-syscall tracepoints). Arguments come from the
 * task's saved registers (what the kernel acted on), the result from the
 * exit; an open's path is taken from the new descriptor (a dentry walk), a
 * connect's peer from the kernel socket. TCP connects are reported at
 * SYN_SENT (inet_sock_set_state), which also sees io_uring, TCP fast open and
 * compat connects.
 */

/* Event types the shared programs report (bit 1 << EG_RAW_*). The host
 * writes it through the mmap'ed .bss whenever the probes change. */
__u32 eg_want = 0;

#define TS_COMPAT 0x0002
#define PF_IO_WORKER 0x00000010
#define PF_KTHREAD 0x00200000
#define EINPROGRESS 115
#define O_WRONLY 01
#define O_CREAT 0100
#define O_TRUNC 01000
#define IPPROTO_TCP 6
#define TCP_SYN_SENT 2
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define X32_SYSCALL_BIT 0x40000000
/* x32 system calls exist only with this (Debian: off); unknown: off */
extern bool CONFIG_X86_X32_ABI __kconfig __weak;

#include "syscalls.h"

/* io_uring opens between submission and completion, by request. */
struct uring_open {
	__s32 dfd;
	__u32 flags;
	__u32 file_slot;
	__s32 len;
	char path[EG_RAW_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 512);
	__type(key, __u64);
	__type(value, struct uring_open);
} uring_opens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct uring_open);
} uring_open_tmpl SEC(".maps");

/* Entries in uring_opens: lets the completion hook skip the lookup. */
__u64 eg_uring_pending = 0;

static __always_inline struct file *fd_file(struct task_struct *task, long fd)
{
	struct fdtable *fdt = task->files->fdt;
	__u64 slot;

	if (!fdt || fd < 0 || fd >= fdt->max_fds)
		return NULL;
	/* fdt->fd[fd] with a direct load, not a helper call: the array's
	 * address is a number to the verifier (a pointer to pointers), cast to
	 * a kernel struct whose first member is a struct file * */
	slot = (__u64)fdt->fd + (__u64)fd * sizeof(struct file *);
	if (bpf_core_field_offset(struct kiocb, ki_filp) == 0)
		return kcast((void *)slot, struct kiocb)->ki_filp;
	/* a kernel where it is not the first member: the helper */
	{
		struct file *f = NULL;

		bpf_probe_read_kernel(&f, sizeof(f), (void *)slot);
		return f;
	}
}

/* Flags telling how the call was made: compat, io_uring worker. */
static __always_inline __u32 call_flags(struct task_struct *task)
{
	__u32 f = 0;

	if (task->thread_info.status & TS_COMPAT)
		f |= EG_RAWF_COMPAT;
	if (task->flags & PF_IO_WORKER)
		f |= EG_RAWF_IO_URING;
	return f;
}

/* ---- kernel filters (bpf/eg_raw.h, lua/ebpf_guard/compile.lua) ------------ */

/* The bitmap in front of the filters' hash sets (bpf/eg_raw.h): the host
 * sets a key's bit before it puts the key in its set. */
__u64 eg_kf_bloom[EG_KF_BLOOM_WORDS];
__u32 eg_kf_bloom_on = 0;

/* Whether key k may be in the hash set `set` (EG_KFB_*): its bit is set, or
 * the host keeps no bitmap. A no is exact: the lookup is skipped. */
static __always_inline bool kf_bloom(__u32 set, __u64 k)
{
	__u32 b = eg_kf_bloom_bit(set, k);

	if (!eg_kf_bloom_on)
		return true;
	return (eg_kf_bloom[(b >> 6) & (EG_KF_BLOOM_WORDS - 1)] >> (b & 63)) & 1;
}

/* 1 while the maps below hold the loaded rules' open filter: the host
 * writes 0 before it changes them and 1 after (meanwhile every open crosses). */
__u32 eg_kf_open = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, EG_KF_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct eg_kf_prefix);
	__type(value, __u8);
} kf_open_prefix SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EG_KF_WORDS);
	__type(key, __u32);
	__type(value, __u8);
} kf_open_suffix SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EG_KF_WORDS);
	__type(key, __u32);
	__type(value, __u8);
} kf_open_comm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EG_KF_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} kf_filtered SEC(".maps");

/* The prefixes' heads (bpf/eg_raw.h): 0 while the host rewrites them. */
__u32 eg_kf_open_heads = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EG_KF_HEADS);
	__type(key, __u64);
	__type(value, __u8);
} kf_open_head SEC(".maps");

/* Whether some prefix may start path (xn bytes; at least 8 readable): its
 * head is in kf_open_head. A miss means no prefix does: the trie is not
 * asked. A hit (or a collision of a long head with a short one) leaves it
 * to the trie. */
static __always_inline bool kf_open_head_hit(const char *path, __u32 xn, __u32 h)
{
	__u64 w, k;

	__builtin_memcpy(&w, path, sizeof(w));
	if ((h & (1u << 8)) && xn >= 8 && kf_bloom(EG_KFB_OPEN_HEAD, w) &&
	    bpf_map_lookup_elem(&kf_open_head, &w))
		return true;
	for (__u32 l = 1; l < 8; l++) {
		if (!(h & (1u << l)) || l > xn)
			continue;
		k = (w & ((1ull << (8 * l)) - 1)) | (__u64)l << 56;
		if (kf_bloom(EG_KFB_OPEN_HEAD, k) && bpf_map_lookup_elem(&kf_open_head, &k))
			return true;
	}
	return false;
}

static __always_inline void kf_count(__u32 type)
{
	__u64 *n = bpf_map_lookup_elem(&kf_filtered, &type);

	if (n)
		*n += 1;
}

/* The socket families' filter: a bit per type (EG_RAW_CONNECT, _LISTEN,
 * _ACCEPT) whose ports are in kf_port; 0 while the host rewrites it. */
__u32 eg_kf_socks = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EG_KF_PORTS);
	__type(key, __u32);
	__type(value, __u8);
} kf_port SEC(".maps");

/* The socket families' programs and first successes (eg_raw.h): a bit per
 * type, 0 while the host rewrites the maps. */
__u32 eg_kf_sock_progs = 0;
__u32 eg_kf_sock_once = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EG_KF_PROGS);
	__type(key, __u64);
	__type(value, __u8);
} kf_sock_prog SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EG_KF_ONCE);
	__type(key, struct eg_kf_once_key);
	__type(value, __u8);
} kf_once SEC(".maps");

/* connect's addresses and loopback classes (eg_raw.h): 0 while the host
 * rewrites them */
__u32 eg_kf_conn_addrs = 0;
__u32 eg_kf_conn_loop = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EG_KF_ADDRS);
	__type(key, struct eg_kf_addr_key);
	__type(value, __u8);
} kf_addr SEC(".maps");

/* The word of the first 4 bytes of a NUL-terminated name (zeros after its
 * end), as the rules' words are made (compile.lua word4). */
static __always_inline __u32 kf_name_word(const char b[4])
{
	__u32 w = 0;

	for (int i = 0; i < 4; i++) {
		if (!b[i])
			break;
		w |= (__u32)(__u8)b[i] << (8 * i);
	}
	return w;
}

/* Whether a rule of this type is about the current process's program: its
 * comm's word or its executable's file name's is in kf_sock_prog. */
static __noinline bool kf_sock_prog_wanted(__u32 type)
{
	struct task_struct *t = bpf_get_current_task_btf();
	const unsigned char *name;
	struct mm_struct *mm;
	struct file *exe;
	char b[4] = {};
	__u64 key;

	/* the comm and the executable's name by direct loads, not helper
	 * calls (an accept and a connect of a server ask every time) */
	key = EG_KF_PROG_KEY(type, 0, kf_name_word(t->comm));
	if (kf_bloom(EG_KFB_SOCK_PROG, key) && bpf_map_lookup_elem(&kf_sock_prog, &key))
		return true;
	mm = t->mm;
	if (!mm)
		return false;
	exe = mm->exe_file;
	if (!exe)
		return false;
	name = exe->f_path.dentry->d_name.name;
	if (!name || bpf_probe_read_kernel(b, sizeof(b), name))
		return false;
	key = EG_KF_PROG_KEY(type, 1, kf_name_word(b));
	return kf_bloom(EG_KFB_SOCK_PROG, key) && bpf_map_lookup_elem(&kf_sock_prog, &key) != NULL;
}

/* Whether a record of this type with this port (the connect's destination,
 * the listen's, bind's or accept's local port) and this result may stay in
 * the kernel (not counted: kf_sock_drop counts): its type's filter is on,
 * no rule names the port or the process's program, and, where a detection
 * wants each process's first success, the process had one already. */
static __always_inline bool kf_sock_keep(__u32 type, __u32 port, long ret)
{
	__u32 key = EG_KF_PORT_KEY(type, port);

	if (!(eg_kf_socks & (1u << type)))
		return false;
	if (kf_bloom(EG_KFB_PORT, key) && bpf_map_lookup_elem(&kf_port, &key))
		return false;
	if ((eg_kf_sock_progs & (1u << type)) && kf_sock_prog_wanted(type))
		return false;
	if ((eg_kf_sock_once & (1u << type)) && ret >= 0) {
		struct task_struct *t = bpf_get_current_task_btf();
		struct eg_kf_once_key ok = {
			.tgid = (__u32)(bpf_get_current_pid_tgid() >> 32),
			.type = type,
			.start = t->group_leader->start_time,
		};
		const __u8 one = 1;

		if (!bpf_map_lookup_elem(&kf_once, &ok)) {
			bpf_map_update_elem(&kf_once, &ok, &one, BPF_ANY);
			return false;
		}
	}
	return true;
}

/* kf_sock_keep, counted when the record stays in the kernel. */
static __always_inline bool kf_sock_drop(__u32 type, __u32 port, long ret)
{
	if (!kf_sock_keep(type, port, ret))
		return false;
	kf_count(type);
	return true;
}

/* the connects a detection's once_per keeps the repeats of (eg_raw.h) */
__u32 eg_kf_conn_seen = 0;
__u64 eg_kf_conn_seen_ns = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EG_KF_SEEN);
	__type(key, struct eg_kf_seen_key);
	__type(value, __u64);
} kf_seen SEC(".maps");

/* Whether the current process connected to this destination (as keyed by
 * seen, EG_KF_SEEN_*) within the window; if not, it has now. */
static __always_inline bool kf_seen_repeat(__u32 family, const __u8 *addr, __u32 port, __u32 seen)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct eg_kf_seen_key k = {};
	__u64 now = bpf_ktime_get_boot_ns(), win = eg_kf_conn_seen_ns, *at;

	k.tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	k.start = t->group_leader->start_time;
	k.mm = (__u64)t->mm;
	if (seen & EG_KF_SEEN_IP) {
		k.family = (__u16)family;
		__builtin_memcpy(k.addr, addr, sizeof(k.addr));
	}
	if (seen & EG_KF_SEEN_PORT)
		k.port = (__u16)port;
	at = bpf_map_lookup_elem(&kf_seen, &k);
	if (at && (!win || now - *at < win))
		return true;
	bpf_map_update_elem(&kf_seen, &k, &now, BPF_ANY);
	return false;
}

/* The loopback class (EG_KF_LOOP_*) of a destination, 0 for any other:
 * exactly the addresses whose text starts as compile.lua's LOOP says. */
static __always_inline __u32 kf_loop_class(__u32 family, const __u8 a[16])
{
	const __u32 *w = (const __u32 *)a;

	if (family == AF_INET)
		return a[0] == 127 ? EG_KF_LOOP_V4 : 0;
	if (family != AF_INET6 || w[0] || w[1])
		return 0;
	if (!w[2] && w[3] == bpf_htonl(1))
		return EG_KF_LOOP_V6;
	if (w[2] == bpf_htonl(0xffff) && a[12] == 127)
		return EG_KF_LOOP_MAPPED;
	return 0;
}

/* Whether a connect to this destination stays in the kernel (counted): as
 * kf_sock_drop, and no rule names its address, and it is not a destination
 * some rule wants every connect to (all but some loopback classes); and,
 * while a detection's once_per is kept here (kf_seen), the process made it
 * within the window. rflags (NULL for an unconnected datagram) gets that
 * memory's verdict for a connect that crosses. */
static __noinline bool kf_connect_drop(__u32 family, const __u8 *addr, __u32 port, __u32 *rflags)
{
	__u32 loop = eg_kf_conn_loop, seen = eg_kf_conn_seen;
	bool keep = true;

	if (!(eg_kf_socks & (1u << EG_RAW_CONNECT)))
		return false;
	if ((loop & EG_KF_LOOP_ON) && !(kf_loop_class(family, addr) & loop)) {
		keep = false;
	} else if (eg_kf_conn_addrs) {
		struct eg_kf_addr_key k = { .family = family };

		__builtin_memcpy(k.addr, addr, sizeof(k.addr));
		if (bpf_map_lookup_elem(&kf_addr, &k))
			keep = false;
	}
	if (keep)
		keep = kf_sock_keep(EG_RAW_CONNECT, port, -1);
	/* a detection's once_per (not for an unconnected datagram, rflags
	 * NULL): every connect gets the memory's verdict, a repeat stays */
	if (rflags && (seen & EG_KF_SEEN_ON)) {
		if (!kf_seen_repeat(family, addr, port, seen)) {
			*rflags |= EG_RAWF_SEEN_FRESH;
			return false;
		}
		if (!keep) {
			*rflags |= EG_RAWF_SEEN_REPEAT;
			return false;
		}
	}
	if (keep)
		kf_count(EG_RAW_CONNECT);
	return keep;
}

/*
 * Whether an open record may stay in the kernel: only when its filename is
 * exactly the walked path of the opened file (xn bytes at offset base of
 * the record; what the daemon's decode_open makes the filename) and no rule
 * can want it: its comm's word, its last 4 bytes and its prefixes are all
 * outside the filter. Anything else (a failed open, a walk cut short, a
 * deleted file, a pseudo file system) crosses.
 */
static __always_inline bool kf_open_drop(struct eg_raw_event *e, long ret, __u32 base, __u32 xn)
{
	const __u32 odd = EG_RAWF_TRUNC_EXE | EG_RAWF_EXE_PSEUDO | EG_RAWF_DELETED;
	struct eg_kf_prefix key;
	__u32 w = 0, n;
	char *path;

	if (!eg_kf_open || ret < 0 || !(e->flags & EG_RAWF_PATH_FILE) || (e->flags & odd))
		return false;
	if (!xn || xn > EG_RAW_PATH_MAX || base > sizeof(*e) + EG_RAW_PATH_MAX)
		return false;
	/* the comm's word: its first 4 bytes, zeros after its end */
	for (int i = 0; i < 4; i++) {
		if (!e->comm[i])
			break;
		w |= (__u32)(__u8)e->comm[i] << (8 * i);
	}
	if (kf_bloom(EG_KFB_OPEN_COMM, w) && bpf_map_lookup_elem(&kf_open_comm, &w))
		return false;
	/* direct loads from the per-CPU record (bounded offsets), no helper */
	path = (char *)e + (base & (2 * EG_RAW_PATH_MAX - 1));
	if (xn >= 4) {
		__builtin_memcpy(&w, path + ((xn - 4) & (EG_RAW_PATH_MAX - 1)), sizeof(w));
		if (kf_bloom(EG_KFB_OPEN_SUFFIX, w) && bpf_map_lookup_elem(&kf_open_suffix, &w))
			return false;
	}
	n = eg_kf_open_heads;
	if ((n & 1) && !kf_open_head_hit(path, xn, n)) {
		kf_count(EG_RAW_OPEN);
		return true;
	}
	n = xn < EG_KF_PREFIX_MAX ? xn : EG_KF_PREFIX_MAX;
	key.prefixlen = n * 8;
	__builtin_memcpy(key.data, path, sizeof(key.data));
	if (bpf_map_lookup_elem(&kf_open_prefix, &key))
		return false;
	kf_count(EG_RAW_OPEN);
	return true;
}

/*
 * The open filter's memory of its drops: a direct-mapped table of keys of
 * opened files whose open the filter kept in the kernel, so that the next
 * open of the same file by the same program is decided without walking its
 * path and asking the filter's maps again.
 *
 * A key hashes, from a per-run secret seed (eg_kf_seed, random, set by the
 * host) and the filter's generation (eg_kf_open: a new nonzero value each
 * time the host fills the maps, so a reload forgets every entry): the comm,
 * the file's mount and, leaf to root, each dentry's address and its name's
 * hash and length (crossing mounts, as the walk does). The path is what the
 * filter decides on, and a dentry's name cannot change without its hash or
 * length changing (a rename, here or above, gives another key) except by a
 * collision of the kernel's name hash, which is salted with the parent
 * dentry's address. A slot holds one key (one 8-byte store: no torn entry);
 * a collision of the 64-bit keys themselves would need the seed. Only drops
 * are remembered: an open the filter lets through is walked as before, and
 * anything the walk would flag (a deleted file, a pseudo file system, a path
 * deeper than the walk goes) is never looked up.
 */
#define EG_KF_CACHE (1u << 16)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EG_KF_CACHE);
	__type(key, __u32);
	__type(value, __u64);
} kf_open_cache SEC(".maps");

__u64 eg_kf_seed = 0;

static __always_inline __u64 kf_mix(__u64 h, __u64 w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

/* For words a user picks (the comm, the file's name): a second multiply,
 * so that no difference between two inputs goes through a step the same
 * way whatever the seed (with one, a difference in the top bit does, and
 * the next word could cancel it). */
static __always_inline __u64 kf_mix2(__u64 h, __u64 w)
{
	return kf_mix(h, w) * 0xbf58476d1ce4e5b9ULL;
}

struct key_ctx {
	struct dentry *dentry;
	struct mount *mnt;
	__u64 h;
	__u32 done;
};

/* One step of the key's walk: the pointers only, no copy. 1: the walk is
 * over (k->done says whether it reached the root). */
static __always_inline long key_step_one(struct key_ctx *k)
{
	struct dentry *dentry = kcast(k->dentry, struct dentry);
	struct mount *mnt = kcast(k->mnt, struct mount);
	struct dentry *parent;

	if (dentry == mnt->mnt.mnt_root) {
		struct mount *up = mnt->mnt_parent;

		if (up == k->mnt) {
			k->done = 1;
			return 1;
		}
		k->h = kf_mix(k->h, 1); /* a mount crossed */
		k->dentry = mnt->mnt_mountpoint;
		k->mnt = up;
		return 0;
	}
	parent = dentry->d_parent;
	if (dentry == parent)
		return 1; /* a pseudo file system's root: no key */
	k->h = kf_mix(k->h, dentry->d_name.hash_len);
	k->dentry = parent;
	return 0;
}

static long key_step(__u32 i, void *arg)
{
	return key_step_one(arg);
}

/* The key of an open of f by the current task under filter generation
 * gen; 0 when it has none (the walk did not reach the root). */
static __always_inline __u64 kf_open_key(struct task_struct *task, struct file *f, __u32 gen)
{
	struct key_ctx k = {};
	__u64 c[2];
	__u32 n;

	__builtin_memcpy(c, task->comm, sizeof(c));
	k.dentry = f->f_path.dentry;
	k.mnt = (void *)f->f_path.mnt - bpf_core_field_offset(struct mount, mnt);
	k.h = kf_mix2(kf_mix2(kf_mix(eg_kf_seed, gen), c[0]), c[1]);
	/* the file's own name by its bytes, not only its hash: a name is what
	 * a user picks, and 2^32 tries could match a 32-bit hash. Names too
	 * long to be kept in the dentry itself (40 bytes and more), and
	 * kernels without d_shortname, are not remembered. The name's words
	 * only, the bytes after its end masked (the step after mixes its
	 * length). */
	if (!bpf_core_field_exists(k.dentry->d_shortname))
		return 0;
	n = k.dentry->d_name.len;
	if (n >= sizeof(k.dentry->d_shortname.words))
		return 0;
	for (int j = 0; j < sizeof(k.dentry->d_shortname.words) / sizeof(k.dentry->d_shortname.words[0]); j++) {
		__u64 w = k.dentry->d_shortname.words[j];

		if (8 * j >= n)
			break;
		if (n - 8 * j < 8)
			w &= (1ULL << (8 * (n - 8 * j))) - 1;
		k.h = kf_mix2(k.h, w);
	}
	/* the first steps inline (most paths are short), the rest in a loop */
	for (int i = 0; i < 4; i++)
		if (key_step_one(&k))
			return k.done ? k.h : 0;
	bpf_loop(EG_RAW_EXE_COMPONENTS, key_step, &k, 0);
	if (!k.done)
		return 0;
	return k.h;
}

/* An open's key and its slot in kf_open_cache (NULL: none), looked up
 * before anything else; the slow path stores the key there when it keeps
 * the open. */
struct kf_memo {
	__u64 key;
	__u64 *slot;
};

/* Whether the open that returned fd ret is one of a file whose opens by
 * this program the filter kept (and counted): it stays in the kernel with
 * no walk, no record and no other lookup. Not a deleted file (those cross,
 * flagged), not the daemon's own. */
static __always_inline bool kf_open_remembered(struct task_struct *task, long ret, struct kf_memo *m)
{
	__u32 gen = eg_kf_open, i;
	struct file *f;

	if (!gen || ret < 0 || task->tgid == eg_self_tgid)
		return false;
	f = fd_file(task, ret);
	if (!f || !kcast(f, struct file)->f_inode->i_nlink)
		return false;
	m->key = kf_open_key(task, kcast(f, struct file), gen);
	if (!m->key)
		return false;
	i = (__u32)m->key & (EG_KF_CACHE - 1);
	m->slot = bpf_map_lookup_elem(&kf_open_cache, &i);
	if (!m->slot || *m->slot != m->key)
		return false;
	kf_count(EG_RAW_OPEN);
	return true;
}

#include "kkill.h"

/*
 * Completes an open record whose requested path (fn bytes) is in place:
 * the opened file's path from the new descriptor, or for a failed relative
 * open the directory it starts from (cwd or dfd). Submits it.
 */
/* The opened file's path already walked by kf_open_first (an open the
 * filter let through): its length and the walk's flags. */
struct early_walk {
	__u32 xn;
	__u32 flags;
	bool done;
};

static __always_inline void finish_open(struct eg_raw_event *e, struct task_struct *task, long ret,
					int dfd, __u32 fn, const struct early_walk *w)
{
	char *dst = (char *)(e + 1);
	struct dentry *d = NULL;
	struct vfsmount *m = NULL;
	struct file *f;
	__u32 xn = 0;

	if (fn > EG_RAW_PATH_MAX)
		return;
	if (ret >= 0 && w->done && fn + w->xn <= EG_RAW_PATH_MAX) {
		/* moved down next to the requested path: no second walk (the
		 * regions do not overlap: fn + xn <= EG_RAW_PATH_MAX) */
		xn = w->xn & (2 * EG_RAW_PATH_MAX - 1);
		e->flags |= EG_RAWF_PATH_FILE | w->flags;
		if (xn && xn <= EG_RAW_PATH_MAX &&
		    bpf_probe_read_kernel(dst + (fn & (2 * EG_RAW_PATH_MAX - 1)), xn,
					  (char *)e + sizeof(*e) + EG_RAW_PATH_MAX))
			xn = 0;
	} else if (ret >= 0) {
		f = fd_file(task, ret);
		if (f) {
			e->flags |= EG_RAWF_PATH_FILE;
			xn = walk_file(e, sizeof(*e) + fn, f);
		}
	} else if (fn && dst[0] != '/') {
		if (dfd == AT_FDCWD) {
			d = BPF_CORE_READ(task, fs, pwd.dentry);
			m = BPF_CORE_READ(task, fs, pwd.mnt);
		} else {
			f = fd_file(task, dfd);
			if (f) {
				d = BPF_CORE_READ(f, f_path.dentry);
				m = BPF_CORE_READ(f, f_path.mnt);
			}
		}
		if (d && m) {
			e->flags |= EG_RAWF_PATH_DIR;
			xn = walk_path(e, sizeof(*e) + fn, d, m, &e->flags);
		}
	}
	e->exe_len = xn;
	if (xn > EG_RAW_PATH_MAX)
		return;
	kk_open(e, task, ret, dst + (fn & (2 * EG_RAW_PATH_MAX - 1)), xn);
	submit(e, sizeof(*e) + fn + xn);
}

/*
 * The kernel filter's decision on an open, made first: from the opened
 * file's walked path (written past any requested path, at sizeof(*e) +
 * EG_RAW_PATH_MAX) and the comm, before the header is filled and the
 * requested path read, so an open no rule wants costs the walk and three
 * lookups and nothing else. An open that crosses is built as before, its
 * walked path copied into place next to the requested one (finish_open;
 * walked again only when the two would not fit together).
 * true: the open stays in the kernel (counted).
 */
static __always_inline bool kf_open_first(struct eg_raw_event *e, struct task_struct *task, long ret,
					  struct early_walk *w, const struct kf_memo *m)
{
	const __u32 base = sizeof(*e) + EG_RAW_PATH_MAX;
	struct file *f;

	if (!eg_kf_open || ret < 0)
		return false;
	f = fd_file(task, ret);
	if (!f)
		return false;
	e->flags = 0;
	__builtin_memcpy(e->comm, task->comm, sizeof(e->comm));
	w->xn = walk_file(e, base, f);
	w->flags = e->flags;
	w->done = true;
	e->flags |= EG_RAWF_PATH_FILE;
	if (!kf_open_drop(e, ret, base, w->xn))
		return false;
	if (m->slot)
		*m->slot = m->key; /* remembered (one 8-byte store) */
	return true;
}

static __always_inline void report_open(struct task_struct *task, __u64 id, long ret, int dfd,
					__u64 upath, __u32 oflags, __u32 rflags, const struct kf_memo *m)
{
	struct eg_raw_event *e = get_scratch();
	struct early_walk w = {};
	__u32 fn = 0;
	long n;

	if (!e)
		return;
	if (kf_open_first(e, task, ret, &w, m))
		return;
	fill_common(e, EG_RAW_OPEN, id);
	e->open_flags = oflags;
	e->ret = ret;
	e->flags = rflags;
	if (!(rflags & EG_RAWF_NO_PATH_ARG)) {
		n = bpf_probe_read_user_str((char *)(e + 1), EG_RAW_PATH_MAX, (const void *)upath);
		fn = path_len(e, n);
	}
	finish_open(e, task, ret, dfd, fn, &w);
}

#include "fam.h"
#include "fam_memfd.h"
#include "fam_ptrace.h"
#include "fam_module.h"
#include "fam_bpf.h"
#include "fam_setid.h"
#include "fam_namespace.h"
#include "fam_mount.h"
#include "fam_files.h"
#include "fam_net.h"

/* Address of a connected socket, or of the caller's sockaddr. The socket
 * is read by direct loads; a connect that stays in the kernel (the filter)
 * is decided before the header is filled, unless a kill may be due. */
static __always_inline void report_connect(struct task_struct *task, __u64 id, long ret, long fd,
					   __u64 uaddr, __u64 alen, __u32 rflags, bool skip_tcp)
{
	struct sockaddr_in6 sa = {};
	struct eg_raw_event *e;
	struct sock *sk;
	__u16 family, dport, proto;

	sk = net_inet_sock(task, fd, &family);
	if (!sk)
		return;
	proto = sk->sk_protocol;
	if (skip_tcp && proto == IPPROTO_TCP)
		return;
	e = get_scratch();
	if (!e)
		return;
	dport = sk->__sk_common.skc_dport;
	if (dport && (ret == 0 || proto == IPPROTO_TCP)) {
		/* the kernel's peer: a connected socket, or a TCP one whose SYN
		 * went out (in progress, refused, timed out: the peer stays) */
		__u32 *d = (__u32 *)e->dest_addr;

		if (family == AF_INET) {
			d[0] = sk->__sk_common.skc_daddr;
			d[1] = d[2] = d[3] = 0;
		} else {
			BPF_CORE_READ_INTO(&e->dest_addr, sk, __sk_common.skc_v6_daddr);
		}
		__u32 seen = 0;

		if (!(eg_kk_on & (1u << EG_RAW_CONNECT)) &&
		    kf_connect_drop(family, e->dest_addr, bpf_ntohs(dport), &seen))
			return;
		fill_common(e, EG_RAW_CONNECT, id);
		e->ret = ret;
		e->flags = rflags | seen;
		e->proto = proto;
		e->family = family;
		e->dest_port = bpf_ntohs(dport);
		kk_connect(e, task);
		if ((eg_kk_on & (1u << EG_RAW_CONNECT)) && !(e->flags & EG_RAWF_KILLED) &&
		    kf_connect_drop(family, e->dest_addr, e->dest_port, &e->flags))
			return;
		submit(e, sizeof(*e));
		return;
	}
	fill_common(e, EG_RAW_CONNECT, id);
	e->ret = ret;
	e->flags = rflags;
	e->proto = proto;
	/* failed before reaching the network: what the caller asked for */
	if (alen >= SIN6_LEN_RFC2133) {
		if (bpf_probe_read_user(&sa, SIN6_LEN_RFC2133, (const void *)uaddr))
			return;
	} else if (alen >= sizeof(struct sockaddr_in)) {
		if (bpf_probe_read_user(&sa, sizeof(struct sockaddr_in), (const void *)uaddr))
			return;
	} else {
		return;
	}
	/* the kernel takes an IPv6 address from addrlen 24 on (RFC 2133's
	 * sockaddr_in6 had no scope id), an IPv4 one from 16 */
	if (sa.sin6_family != AF_INET && (sa.sin6_family != AF_INET6 || alen < SIN6_LEN_RFC2133))
		return;
	e->family = sa.sin6_family;
	e->dest_port = bpf_ntohs(sa.sin6_port); /* same offset in sockaddr_in */
	if (sa.sin6_family == AF_INET) {
		__builtin_memset(e->dest_addr, 0, sizeof(e->dest_addr));
		__builtin_memcpy(e->dest_addr, &((struct sockaddr_in *)&sa)->sin_addr, 4);
	} else {
		__builtin_memcpy(e->dest_addr, &sa.sin6_addr, 16);
	}
	if (kf_connect_drop(e->family, e->dest_addr, e->dest_port, &e->flags))
		return;
	submit(e, sizeof(*e));
}

/* An open(2)-like call: its flags and path argument. */
static __always_inline void open_call(struct sc *s, const struct kf_memo *m)
{
	__u64 upath = s->a[1];
	__u32 oflags = 0, rflags = s->rflags;
	int dfd = AT_FDCWD;

	switch (s->nr) {
	case NR_open:
		oflags = s->a[1];
		upath = s->a[0];
		break;
	case NR_creat:
		oflags = O_CREAT | O_WRONLY | O_TRUNC;
		upath = s->a[0];
		break;
	case NR_openat:
		dfd = (int)s->a[0];
		oflags = s->a[2];
		break;
	case NR_openat2: {
		__u64 how_flags = 0;

		dfd = (int)s->a[0];
		bpf_probe_read_user(&how_flags, sizeof(how_flags), (const void *)s->a[2]);
		oflags = how_flags;
		break;
	}
	case NR_open_by_handle_at:
		oflags = s->a[2];
		rflags |= EG_RAWF_NO_PATH_ARG;
		break;
	}
	report_open(s->task, s->id, s->ret, dfd, upath, oflags, rflags, m);
}

/* i386 socketcall(2): the call and its arguments, from user memory (which
 * another thread may rewrite meanwhile: TCP connects are reported at
 * SYN_SENT instead, from the socket itself). The x86-64 number, 0 for a
 * call not reported. */
static __always_inline long socketcall_args(struct sc *s)
{
	__u32 sc[4] = {};
	long nr;

	switch (s->a[0]) {
	case SYS_SOCKETCALL_CONNECT: nr = NR_connect; break;
	case SYS_SOCKETCALL_BIND: nr = NR_bind; break;
	case SYS_SOCKETCALL_LISTEN: nr = NR_listen; break;
	case SYS_SOCKETCALL_ACCEPT: nr = NR_accept; break;
	case SYS_SOCKETCALL_ACCEPT4: nr = NR_accept4; break;
	default: return 0;
	}
	if (bpf_probe_read_user(sc, nr == NR_accept4 ? 16 : 12, (const void *)s->a[1]))
		return 0;
	s->a[0] = sc[0];
	s->a[1] = sc[1];
	s->a[2] = sc[2];
	s->a[3] = sc[3];
	s->xflags |= SC_SOCKETCALL;
	return nr;
}

/* A failed exec's report (below), from the exit of a native execve or
 * execveat (the classic syscalls tracepoints see no other). */
static __always_inline int exec_exit_ret(long ret);
#define NR_execve 59
#define NR_execveat 322
/* 1 while this program is attached and reports the exits of execve and
 * execveat itself (the host then detaches their classic tracepoints, whose
 * probe ran at every system call's exit to look for them) */
__u32 eg_exec_exit_dispatch = 0;

/*
 * Every family reported at a system call's exit, dispatched by number
 * (bpf/syscalls.h) to its handler (bpf/fam_*.h), for the types the host
 * wants (eg_want).
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;
	bool x32 = (nr & X32_SYSCALL_BIT) && CONFIG_X86_X32_ABI;
	__u32 want = eg_want, fam;
	struct kf_memo memo = {};
	struct sc s;

	if ((nr == NR_execve || nr == NR_execveat) && eg_exec_exit_dispatch &&
	    !(bpf_get_current_task_btf()->thread_info.status & TS_COMPAT))
		return exec_exit_ret(ret);
	/* x32 shares the 64-bit numbers of these calls, with a flag bit */
	if (x32)
		nr &= ~X32_SYSCALL_BIT;
	if ((unsigned long)nr >= NR_TABLE)
		return 0;
	if (!nr_family[nr] && !nr32_native[nr] && nr != NR32_socketcall)
		return 0;
	s.task = bpf_get_current_task_btf();
	s.xflags = 0;
	s.rflags = 0;
	if (s.task->thread_info.status & TS_COMPAT) {
		if (x32)
			return 0;
		s.a[0] = (__u32)regs->bx;
		s.a[1] = (__u32)regs->cx;
		s.a[2] = (__u32)regs->dx;
		s.a[3] = (__u32)regs->si;
		s.a[4] = (__u32)regs->di;
		s.a[5] = (__u32)regs->bp;
		s.rflags = EG_RAWF_COMPAT;
		if (nr == NR32_socketcall) {
			if (!(want & (1u << EG_RAW_CONNECT | 1u << EG_RAW_LISTEN | 1u << EG_RAW_ACCEPT)))
				return 0;
			nr = socketcall_args(&s);
		} else {
			nr = nr32_native[nr];
			if (nr & NR32_ID16) {
				nr &= ~NR32_ID16;
				s.xflags |= SC_ID16;
			}
		}
		if (!nr || nr >= NR_TABLE)
			return 0;
	} else {
		if (!nr_family[nr])
			return 0;
		s.a[0] = regs->di;
		s.a[1] = regs->si;
		s.a[2] = regs->dx;
		s.a[3] = regs->r10;
		s.a[4] = regs->r8;
		s.a[5] = regs->r9;
	}
	fam = nr_family[nr];
	if (!(want & (1u << fam)))
		return 0;
	s.nr = nr;
	s.ret = ret;
	/* the kernel-side filters cheap enough to come before the pid */
	if (fam == EG_RAW_DUP && !dup_to_stdio(&s))
		return 0;
	if (fam == EG_RAW_OPEN && kf_open_remembered(s.task, ret, &memo))
		return 0;
	s.id = bpf_get_current_pid_tgid();
	if (is_self(s.id))
		return 0;
	switch (fam) {
	case EG_RAW_OPEN: open_call(&s, &memo); break;
	case EG_RAW_CONNECT:
		report_connect(s.task, s.id, ret, (int)s.a[0], s.a[1], s.a[2], s.rflags,
			       s.xflags & SC_SOCKETCALL);
		break;
	case EG_RAW_MEMFD: report_memfd(s.id, ret, s.a[0], s.a[1], s.rflags); break;
	case EG_RAW_PTRACE: report_ptrace(&s); break;
	case EG_RAW_MODULE: fam_module(&s); break;
	case EG_RAW_BPF: fam_bpf(&s); break;
	case EG_RAW_SETID: fam_setid(&s); break;
	case EG_RAW_NAMESPACE: fam_namespace(&s); break;
	case EG_RAW_MOUNT: fam_mount(&s); break;
	case EG_RAW_LINK: fam_link(&s); break;
	case EG_RAW_RENAME: fam_rename(&s); break;
	case EG_RAW_UNLINK: fam_unlink(&s); break;
	case EG_RAW_CHMOD: fam_chmod(&s); break;
	case EG_RAW_DUP: fam_dup(&s); break;
	case EG_RAW_LISTEN: fam_listen(&s); break;
	case EG_RAW_ACCEPT: fam_accept(&s); break;
	}
	return 0;
}

/* Whether the task is inside a connect system call (native or 32-bit; not
 * socketcall, whose arguments are in user memory): its exit reports the
 * connect with the result. */
static __always_inline bool in_connect_call(struct task_struct *task)
{
	struct pt_regs *regs;
	long nr;

	if (task->flags & (PF_IO_WORKER | PF_KTHREAD))
		return false;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	nr = regs->orig_ax;
	if (task->thread_info.status & TS_COMPAT)
		return nr == 362; /* i386 connect */
	return nr == NR_connect || (CONFIG_X86_X32_ABI && nr == (NR_connect | X32_SYSCALL_BIT));
}

/* Every TCP connect not made by a connect call (io_uring, fast open's
 * sendto, a kernel client): the socket going to SYN_SENT, in the connecting
 * task, reported as in progress. A raw (BTF) tracepoint: the classic one
 * built its record (addresses of both ends, both families) for each of a
 * connection's half-dozen state changes before the program could return
 * for the others (docs/performance.md). */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(inet_sock_set_state, struct sock *sk, int oldstate, int newstate)
{
	struct task_struct *task;
	struct eg_raw_event *e;
	__u16 family, dport;
	__u32 seen = 0;
	__u64 id;

	if (newstate != TCP_SYN_SENT || !sk || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	id = bpf_get_current_pid_tgid();
	if (is_self(id))
		return 0;
	task = bpf_get_current_task_btf();
	if (in_connect_call(task))
		return 0;
	e = get_scratch();
	if (!e)
		return 0;
	dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (family == AF_INET) {
		__u32 *d = (__u32 *)e->dest_addr;

		d[0] = sk->__sk_common.skc_daddr;
		d[1] = d[2] = d[3] = 0;
	} else {
		BPF_CORE_READ_INTO(&e->dest_addr, sk, __sk_common.skc_v6_daddr);
	}
	if (kf_connect_drop(family, e->dest_addr, dport, &seen))
		return 0;
	fill_common(e, EG_RAW_CONNECT, id);
	e->flags = call_flags(task) | seen;
	e->ret = -EINPROGRESS;
	e->proto = IPPROTO_TCP;
	e->family = family;
	e->dest_port = dport;
	submit(e, sizeof(*e));
	return 0;
}

/* ---- unconnected datagrams ---------------------------------------------- */

#define IPPROTO_UDP 17
#define IPPROTO_UDPLITE 136
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

/* Destinations already reported per process and socket. */
struct dgram_key {
	__u64 sk;
	__u32 tgid;
	__u16 port;
	__u16 family;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct dgram_key);
	__type(value, __u8);
} dgram_seen SEC(".maps");

/*
 * A UDP datagram leaving a socket, in the sending task (sendto, sendmsg,
 * sendmmsg, io_uring, compat alike): its destination, from the packet the
 * kernel built, once per process, socket and destination; not the peer of a
 * connected socket (reported at connect).
 */
SEC("tp_btf/net_dev_queue")
int BPF_PROG(net_dev_queue, struct sk_buff *skb)
{
	struct sock *sk = skb->sk;
	struct dgram_key k = {};
	struct eg_raw_event *e;
	unsigned char *head;
	__u16 proto, nh, th;
	__u8 one = 1;
	__u64 id;

	if (!sk || !(eg_want & (1u << EG_RAW_CONNECT)))
		return 0;
	proto = sk->sk_protocol;
	if (proto != IPPROTO_UDP && proto != IPPROTO_UDPLITE)
		return 0;
	/* a kernel socket (VXLAN, WireGuard...) sends for no user task, often
	 * from softirq under whatever task runs */
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_kern_sock))
		return 0;
	id = bpf_get_current_pid_tgid();
	if (is_self(id))
		return 0;
	head = skb->head;
	nh = skb->network_header;
	th = skb->transport_header;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		k.family = AF_INET;
		bpf_probe_read_kernel(k.addr, 4, head + nh + offsetof(struct iphdr, daddr));
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		k.family = AF_INET6;
		bpf_probe_read_kernel(k.addr, 16, head + nh + offsetof(struct ipv6hdr, daddr));
	} else {
		return 0;
	}
	bpf_probe_read_kernel(&k.port, 2, head + th + offsetof(struct udphdr, dest));
	if (k.port == sk->__sk_common.skc_dport) {
		/* the connected peer: reported at connect */
		__u32 *a = (__u32 *)k.addr;
		__u32 *d6 = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32;

		if (k.family == AF_INET && a[0] == sk->__sk_common.skc_daddr)
			return 0;
		if (k.family == AF_INET6 && a[0] == d6[0] && a[1] == d6[1] && a[2] == d6[2] &&
		    a[3] == d6[3])
			return 0;
	}
	k.sk = (__u64)sk;
	k.tgid = id >> 32;
	if (bpf_map_lookup_elem(&dgram_seen, &k))
		return 0;
	bpf_map_update_elem(&dgram_seen, &k, &one, BPF_ANY);
	/* after the once-per-destination check: counted as the event it is */
	if (kf_connect_drop(k.family, k.addr, bpf_ntohs(k.port), NULL))
		return 0;
	e = get_scratch();
	if (!e)
		return 0;
	fill_common(e, EG_RAW_CONNECT, id);
	e->flags = call_flags(bpf_get_current_task_btf()) | EG_RAWF_DATAGRAM;
	e->proto = proto;
	e->family = k.family;
	e->dest_port = bpf_ntohs(k.port);
	__builtin_memcpy(e->dest_addr, k.addr, sizeof(e->dest_addr));
	submit(e, sizeof(*e));
	return 0;
}

/* ---- io_uring opens ------------------------------------------------------ */

#define IORING_OP_OPENAT 18
#define IORING_OP_OPENAT2 28

/* Submission: the path is the kernel's copy (taken at prep), kept until
 * the completion, which reports the open with its result. */
SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(io_uring_submit_req, struct io_kiocb *req)
{
	__u8 op = BPF_CORE_READ(req, opcode);
	__u64 id, key = (__u64)req;
	struct io_open *o;
	struct uring_open *u;
	__u32 zero = 0;

	if (op != IORING_OP_OPENAT && op != IORING_OP_OPENAT2)
		return 0;
	if (!(eg_want & (1u << EG_RAW_OPEN)))
		return 0;
	id = bpf_get_current_pid_tgid();
	if (is_self(id))
		return 0;
	u = bpf_map_lookup_elem(&uring_open_tmpl, &zero);
	if (!u)
		return 0;
	o = (void *)req + bpf_core_field_offset(struct io_kiocb, cmd);
	u->dfd = BPF_CORE_READ(o, dfd);
	u->flags = BPF_CORE_READ(o, how.flags);
	u->file_slot = BPF_CORE_READ(o, file_slot);
	u->len = bpf_probe_read_kernel_str(u->path, sizeof(u->path), BPF_CORE_READ(o, filename, name));
	if (!bpf_map_update_elem(&uring_opens, &key, u, BPF_NOEXIST))
		__sync_fetch_and_add(&eg_uring_pending, 1);
	return 0;
}

SEC("tp_btf/io_uring_complete")
int BPF_PROG(io_uring_complete, struct io_ring_ctx *ring, void *req, struct io_uring_cqe *cqe)
{
	__u64 id = bpf_get_current_pid_tgid(), key = (__u64)req;
	struct task_struct *task;
	struct eg_raw_event *e;
	struct uring_open *u;
	long ret;
	__u32 fn;

	if (!eg_uring_pending || !req)
		return 0;
	u = bpf_map_lookup_elem(&uring_opens, &key);
	if (!u)
		return 0;
	e = get_scratch();
	if (!e)
		goto out;
	task = bpf_get_current_task_btf();
	ret = BPF_CORE_READ(cqe, res);
	fill_common(e, EG_RAW_OPEN, id);
	e->open_flags = u->flags;
	e->ret = ret;
	e->flags = EG_RAWF_IO_URING;
	fn = path_len(e, bpf_probe_read_kernel_str((char *)(e + 1), EG_RAW_PATH_MAX, u->path));
	/* a fixed-file open installs no descriptor: no path from one */
	finish_open(e, task, u->file_slot ? -1 : ret, u->dfd, fn, &(struct early_walk){});
out:
	if (!bpf_map_delete_elem(&uring_opens, &key))
		__sync_fetch_and_add(&eg_uring_pending, -1);
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
static __always_inline int exec_exit_ret(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
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

/* The classic exit tracepoints: attached while sys_exit is not (a rule set
 * that wants execs and none of sys_exit's families); quiet while it reports
 * the exits itself (the moment the host switches). */
static __always_inline int exec_exit_classic(long ret)
{
	return eg_exec_exit_dispatch ? 0 : exec_exit_ret(ret);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int tracepoint__syscalls__sys_exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit_classic(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int tracepoint__syscalls__sys_exit_execveat(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit_classic(ctx->ret);
}

/* Environment scan state: one bpf_loop step per string (or 255-byte piece
 * of a longer one). */
struct env_ctx {
	unsigned long pos, end;
	__u32 xflags;
	__u32 mid; /* pos is inside a string (a long one's next piece) */
	__u32 done;
};

static __always_inline bool has_prefix(const char *b, const char *pre, int n)
{
	for (int i = 0; i < n; i++)
		if (b[i] != pre[i])
			return false;
	return true;
}

static long env_step(__u32 i, void *arg)
{
	struct env_ctx *c = arg;
	char buf[256];
	long n;

	if (c->pos >= c->end) {
		c->done = 1;
		return 1;
	}
	n = bpf_probe_read_user_str(buf, sizeof(buf), (const void *)c->pos);
	if (n <= 0) {
		c->done = 1;
		return 1;
	}
	if (!c->mid) {
		/* set, and not empty (n counts the NUL) */
		if (n > 12 && has_prefix(buf, "LD_PRELOAD=", 11))
			c->xflags |= EG_RAWX_LD_PRELOAD;
		if (n > 17 && has_prefix(buf, "LD_LIBRARY_PATH=", 16))
			c->xflags |= EG_RAWX_LD_LIBRARY_PATH;
	}
	if (n == sizeof(buf)) {
		/* no NUL in the first 255 bytes: go on inside the string */
		c->pos += sizeof(buf) - 1;
		c->mid = 1;
	} else {
		c->pos += n;
		c->mid = 0;
	}
	return 0;
}

/* What the process table needs about the new image (struct eg_raw_exec);
 * writes the cwd region at base. Returns the cwd's length. */
static __always_inline __u32 exec_ext(struct eg_raw_event *e, struct eg_raw_exec *x, __u32 base,
				      struct task_struct *p, struct mm_struct *mm, struct file *exe)
{
	struct task_struct *t = kcast(p, struct task_struct);
	struct tty_struct *tty;
	struct fs_struct *fs;
	struct env_ctx c = {};
	__u32 cn = 0, cflags = 0;

	x->start_boottime = t->start_boottime;
	__builtin_memcpy(x->comm, t->comm, sizeof(x->comm));
	x->xflags = 0;
	x->_pad[0] = x->_pad[1] = x->_pad[2] = 0;
	if (bpf_core_field_exists(t->loginuid))
		x->loginuid = BPF_CORE_READ(t, loginuid.val);
	else {
		x->loginuid = (__u32)-1;
		x->xflags |= EG_RAWX_NO_LOGINUID;
	}
	x->tty_dev = 0;
	tty = BPF_CORE_READ(t, signal, tty);
	if (tty) {
		__u32 major = BPF_CORE_READ(tty, driver, major);
		__u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);

		x->tty_dev = major << 20 | (minor & 0xfffff);
	}
	x->mode = exe ? BPF_CORE_READ(exe, f_inode, i_mode) : 0;

	c.pos = BPF_CORE_READ(mm, env_start);
	c.end = BPF_CORE_READ(mm, env_end);
	bpf_loop(EG_RAW_ENV_CHUNKS, env_step, &c, 0);
	x->xflags |= c.xflags;
	if (!c.done)
		x->xflags |= EG_RAWX_ENV_CUT;

	fs = BPF_CORE_READ(t, fs);
	if (fs && base <= EG_RAW_SCRATCH - EG_RAW_PATH_MAX - sizeof(*e))
		cn = walk_path(e, base, BPF_CORE_READ(fs, pwd.dentry), BPF_CORE_READ(fs, pwd.mnt),
			       &cflags);
	if (cflags & EG_RAWF_TRUNC_EXE)
		x->xflags |= EG_RAWX_TRUNC_CWD;
	x->cwd_len = cn;
	return cn;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 key = old_pid;
	struct exec_start *s;
	struct exec_path *ep;
	struct eg_raw_event *e;
	struct eg_raw_exec *x;
	struct mm_struct *mm;
	struct file *exe;
	__u32 fn, xn = 0, an = 0, cn = 0;
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
	e->flags = EG_RAWF_EXEC_EXT;
	x = (struct eg_raw_exec *)(e + 1);
	dst = (char *)(x + 1);
	if (s) {
		/* comm at the time of the call, not the new image's */
		__builtin_memcpy(e->comm, s->comm, sizeof(e->comm));
	}
	/* filename as passed, from kernel memory */
	ep = s && s->fn_len ? bpf_map_lookup_elem(&exec_paths, &key) : NULL;
	if (ep) {
		n = bpf_probe_read_kernel_str(dst, EG_RAW_PATH_MAX, ep->filename);
	} else {
		const char *kfn = BPF_CORE_READ(bprm, filename);

		/* execveat whose path was not readable at sys_enter: the kernel's
		 * /dev/fd/N (empty path) or /dev/fd/N/NAME */
		if (kfn == BPF_CORE_READ(bprm, fdpath))
			e->flags |= EG_RAWF_FDPATH;
		n = bpf_probe_read_kernel_str(dst, EG_RAW_PATH_MAX, kfn);
	}
	fn = path_len(e, n);
	if (ep)
		bpf_map_delete_elem(&exec_paths, &key);
	if (s)
		bpf_map_delete_elem(&exec_starts, &key);

	/* the executable as /proc/self/exe shows it */
	mm = BPF_CORE_READ(p, mm);
	exe = BPF_CORE_READ(mm, exe_file);
	if (exe && fn <= EG_RAW_PATH_MAX)
		xn = walk_file(e, sizeof(*e) + sizeof(*x) + fn, exe);
	/* the file executed was a script (or binfmt_misc): exe is its
	 * interpreter, and bprm->interp no longer the file name passed */
	if (BPF_CORE_READ(bprm, interp) != BPF_CORE_READ(bprm, filename))
		e->flags |= EG_RAWF_INTERP;
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
	if (fn <= EG_RAW_PATH_MAX && xn <= EG_RAW_PATH_MAX && an <= EG_RAW_ARGS_MAX)
		cn = exec_ext(e, x, sizeof(*e) + sizeof(*x) + fn + xn + an, p, mm, exe);
	kk_exec(e, p, exe, dst, fn, dst + (fn & (2 * EG_RAW_PATH_MAX - 1)), xn);
	submit(e, sizeof(*e) + sizeof(*x) + fn + xn + an + cn);
	return 0;
}

/* ---- fork ---------------------------------------------------------------- */

/* A new process (not a thread): the process table copies the caller's image
 * for it. An EG_RAW_FORK record (header and struct eg_raw_fork), filled from
 * the child. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct eg_raw_event *e;
	struct eg_raw_fork *f;
	const struct cred *cred;

	if (is_self(id) || child->tgid == parent->tgid)
		return 0;
	kk_fork(parent->tgid, child->tgid);
	e = get_scratch();
	if (!e)
		return 0;
	fill_common(e, EG_RAW_FORK, id);
	cred = child->cred;
	e->pid = child->pid;
	e->tgid = child->tgid;
	e->ppid = child->real_parent->tgid;
	e->uid = cred->uid.val;
	e->gid = cred->gid.val;
	e->cgroup_id = child->cgroups->dfl_cgrp->kn->id;
	e->open_flags = parent->tgid;
	__builtin_memcpy(e->comm, child->comm, sizeof(e->comm));
	/* the identity a kill checks against /proc/PID/stat (src/response.c) */
	f = (void *)(e + 1);
	f->start_boottime = child->start_boottime;
	submit(e, sizeof(*e) + sizeof(*f));
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
	kk_exit(id >> 32);
	e = get_scratch();
	if (!e)
		return 0;
	fill_common(e, EG_RAW_EXIT, id);
	submit(e, sizeof(*e));
	return 0;
}
