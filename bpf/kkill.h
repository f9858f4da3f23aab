/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kills in the kernel (docs/response.md, "In the kernel"): a rule with
 * `action: kill` whose whole condition the kernel can test exactly (a file
 * name, an executable's path or a destination port against literals:
 * lua/ebpf_guard/kkill.lua) is enforced here, by bpf_send_signal(SIGKILL)
 * from the probe that builds the event, so the process never runs another
 * instruction of its own: an exec'd program never starts, an opened file is
 * never read or written through the new descriptor, a connection never
 * carries a byte from the process. The system call itself completes (a
 * tracepoint cannot fail it: an O_CREAT file is created, a TCP handshake is
 * made); the record says EG_RAWF_KILLED and the daemon's alert
 * "enforced_in": "kernel".
 *
 * The kernel kills a subset of what the rule matches, never more: what it
 * cannot decide exactly (a path it did not walk whole, a protect: check it
 * cannot make, a process older than the kills) crosses unkilled, and the
 * daemon kills from userspace on the alert as before. Never killed here:
 * pid 1, kernel threads and io_uring workers, the daemon (is_self), its
 * ancestors (kk_never), a process whose image may be protected (kk_img).
 * Included by ebpf_guard.bpf.c; maps and layout in bpf/eg_raw.h.
 */
#ifndef EG_KKILL_H
#define EG_KKILL_H

/* bit per record type (EG_RAW_EXEC, _OPEN, _CONNECT, _PTRACE, _BPF, _MODULE,
 * _MOUNT) whose kills are on;
 * 0 while the host rewrites the maps (nothing is killed in the kernel) */
__u32 eg_kk_on = 0;
/* the generation of kk_img's verdicts: the host bumps it when the protect:
 * list changes, which makes every older verdict unknown */
__u32 eg_kk_gen = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, EG_KK_PATHS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct eg_kk_key);
	__type(value, __u8);
} kk_path SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EG_KK_PORTS);
	__type(key, __u32);
	__type(value, __u8);
} kk_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EG_KK_NAMES);
	__type(key, char[16]);
	__type(value, __u8);
} kk_pname SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EG_KK_NEVER);
	__type(key, __u32);
	__type(value, __u8);
} kk_never SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EG_KK_CODES);
	__type(key, __u32);
	__type(value, __u8);
} kk_code SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EG_KK_IMAGES);
	__type(key, __u32);
	__type(value, __u32);
} kk_img SEC(".maps");

/* Whether the path at p (n bytes, kernel memory, the record's) is in the
 * trie under namespace ns: a prefix entry, or an exact one (its NUL). */
static __always_inline bool kk_path_hit(__u8 ns, const char *p, __u32 n)
{
	struct eg_kk_key key = {};
	__u64 len = n < EG_KK_PATH_MAX ? n : EG_KK_PATH_MAX;

	/* only the path's bytes: the key's zeros after them are its NUL (the
	 * barrier keeps the bound check on len itself, for the verifier) */
	asm volatile("" : "+r"(len));
	if (len == 0 || len > EG_KK_PATH_MAX)
		return false;
	key.data[0] = ns;
	if (bpf_probe_read_kernel(&key.data[1], len, p))
		return false;
	key.prefixlen = 8 * (1 + (n < EG_KK_PATH_MAX ? n + 1 : EG_KK_PATH_MAX));
	return bpf_map_lookup_elem(&kk_path, &key) != NULL;
}

/* Whether the caller may be killed at all (before any rule is looked at). */
static __always_inline bool kk_killable(struct task_struct *task, __u32 tgid)
{
	if (tgid <= 1 || (task->flags & (PF_KTHREAD | PF_IO_WORKER)))
		return false;
	return !bpf_map_lookup_elem(&kk_never, &tgid);
}

/* Whether the caller's image is known not to be protected. */
static __always_inline bool kk_unprotected(__u32 tgid)
{
	__u32 *v = bpf_map_lookup_elem(&kk_img, &tgid);

	return v && *v == eg_kk_gen << 1;
}

/* SIGKILL to the caller's process; the record says so when it was sent. */
static __always_inline void kk_kill(struct eg_raw_event *e)
{
	if (!bpf_send_signal(9))
		e->flags |= EG_RAWF_KILLED;
}

/*
 * At exec (sched_process_exec, the record complete): the new image's
 * protect: verdict, then the exec rules. x points at the walked executable
 * (xn bytes), fn at the file name as passed (fn bytes). Protected when the
 * executable's path is a protect: path or under a protect: directory, when
 * its file name's first 15 bytes are a protect: name's, or when the kernel
 * does not know its path whole (the daemon decides then).
 */
static __always_inline void kk_exec(struct eg_raw_event *e, struct task_struct *task,
				    struct file *exe, const char *fname, __u32 fn,
				    const char *x, __u32 xn)
{
	const __u32 odd = EG_RAWF_TRUNC_EXE | EG_RAWF_EXE_PSEUDO | EG_RAWF_DELETED;
	__u32 on = eg_kk_on, tgid = e->tgid, v;
	char name[16] = {};
	bool prot = true;

	if (!on)
		return;
	if (exe && xn && xn <= EG_RAW_PATH_MAX && !(e->flags & EG_RAWF_TRUNC_EXE)) {
		prot = kk_path_hit(EG_KK_NS_PROTECT, x, xn);
		if (!prot) {
			const unsigned char *dn = BPF_CORE_READ(exe, f_path.dentry, d_name.name);

			if (bpf_probe_read_kernel_str(name, 16, dn) <= 0 ||
			    bpf_map_lookup_elem(&kk_pname, name))
				prot = true;
		}
	}
	v = eg_kk_gen << 1 | prot;
	bpf_map_update_elem(&kk_img, &tgid, &v, BPF_ANY);
	if (!(on & (1u << EG_RAW_EXEC)) || prot || !kk_killable(task, tgid))
		return;
	if (!(e->flags & (EG_RAWF_FDPATH | EG_RAWF_NO_FILENAME | EG_RAWF_TRUNC_FILENAME)) &&
	    fn <= EG_RAW_PATH_MAX && kk_path_hit(EG_KK_NS_EXEC_FILENAME, fname, fn)) {
		kk_kill(e);
		return;
	}
	if (!(e->flags & odd) && xn <= EG_RAW_PATH_MAX && kk_path_hit(EG_KK_NS_EXEC_EXE, x, xn))
		kk_kill(e);
}

/* At fork: the child's image is its parent's. */
static __always_inline void kk_fork(__u32 parent, __u32 child)
{
	__u32 *v;

	if (!eg_kk_on)
		return;
	v = bpf_map_lookup_elem(&kk_img, &parent);
	if (v) {
		__u32 copy = *v;

		bpf_map_update_elem(&kk_img, &child, &copy, BPF_ANY);
	} else {
		bpf_map_delete_elem(&kk_img, &child);
	}
}

/* At the exit of a process's last thread. */
static __always_inline void kk_exit(__u32 tgid)
{
	bpf_map_delete_elem(&kk_img, &tgid);
}

/* At an open's exit, its record complete: the opened file's walked path p
 * (xn bytes). */
static __always_inline void kk_open(struct eg_raw_event *e, struct task_struct *task, long ret,
				    const char *p, __u32 xn)
{
	const __u32 odd = EG_RAWF_TRUNC_EXE | EG_RAWF_EXE_PSEUDO | EG_RAWF_DELETED;

	if (!(eg_kk_on & (1u << EG_RAW_OPEN)) || ret < 0 || !(e->flags & EG_RAWF_PATH_FILE) ||
	    (e->flags & (odd | EG_RAWF_IO_URING)) || !xn || xn > EG_RAW_PATH_MAX)
		return;
	if (!kk_killable(task, e->tgid) || !kk_unprotected(e->tgid))
		return;
	if (kk_path_hit(EG_KK_NS_OPEN_FILENAME, p, xn))
		kk_kill(e);
}

/* At a connect's exit, its destination port known. */
static __always_inline void kk_connect(struct eg_raw_event *e, struct task_struct *task)
{
	__u32 port = e->dest_port;

	if (!(eg_kk_on & (1u << EG_RAW_CONNECT)) || (e->flags & EG_RAWF_IO_URING))
		return;
	if (!bpf_map_lookup_elem(&kk_port, &port))
		return;
	if (kk_killable(task, e->tgid) && kk_unprotected(e->tgid))
		kk_kill(e);
}

/*
 * At the exit of a ptrace, bpf, module or mount call, its record built: the
 * event's code (the ptrace request, the bpf command, the system call's
 * number) or any event of the type. The call has done its work (the
 * tracee is attached, the program or map loaded, the module's init run,
 * the mount made); the caller dies before it can use it: a tracer before
 * its next request, a BPF program's or link's only descriptor is closed
 * with the process (a program loaded by a killed process was never
 * attached by it; a link it made is detached).
 */
static __always_inline void kk_code_call(struct eg_raw_event *e, struct task_struct *task, __u32 code)
{
	__u32 key;

	/* a code the key cannot hold is no rule's value: never killed for it
	 * (only under a rule on every event of the type) */
	if (!(eg_kk_on & (1u << e->type)))
		return;
	key = EG_KK_CODE(e->type, code >= EG_KK_ANY ? EG_KK_ANY - 1 : code);
	if (!bpf_map_lookup_elem(&kk_code, &key)) {
		key = EG_KK_CODE(e->type, EG_KK_ANY);
		if (!bpf_map_lookup_elem(&kk_code, &key))
			return;
	}
	if (kk_killable(task, e->tgid) && kk_unprotected(e->tgid))
		kk_kill(e);
}

#endif
