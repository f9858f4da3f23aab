/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The namespace family, reported at system call exit (from the sys_exit
 * program): unshare(2), setns(2), and clone(2)/clone3(2) when they make new
 * namespaces. The CLONE_NEW* bits asked for (struct eg_raw_args a[0]), the
 * call (a[7]), the result; setns also what its descriptor is (S0, or the
 * file's path as S1).
 * See docs/collector.md. Included by ebpf_guard.bpf.c after bpf/fam.h.
 */
#ifndef EG_FAM_NAMESPACE_H
#define EG_FAM_NAMESPACE_H

/* Every CLONE_NEW* bit (linux/sched.h): time, mnt, cgroup, uts, ipc, user,
 * pid, net. */
#define NS_CLONE_NEW 0xfe020080ULL
/* clone(2) keeps the exit signal in its low byte (CSIGNAL), where clone3(2)
 * and unshare(2) have CLONE_NEWTIME: clone cannot ask for a time namespace. */
#define NS_CLONE_NEW_LEGACY (NS_CLONE_NEW & ~0xffULL)

#define NSFS_MAGIC 0x6e736673
#define PID_FS_MAGIC 0x50494446

/* Before 6.18 a namespace's CLONE_NEW* type was in its operations. */
struct proc_ns_operations___old {
	int type;
};

/* A namespace's CLONE_NEW* type. */
static __always_inline __u32 ns_type(struct ns_common *ns)
{
	const struct proc_ns_operations___old *ops;

	if (bpf_core_field_exists(ns->ns_type))
		return BPF_CORE_READ(ns, ns_type);
	ops = (const void *)BPF_CORE_READ(ns, ops);
	return BPF_CORE_READ(ops, type);
}

static const char ns_fmt[] = "%s:[%u]";
static const char pidfd_fmt[] = "pidfd:[%d]";

/*
 * What setns(2) was given, as S0: a namespace file as the kernel names it
 * in /proc/PID/ns ("uts:[4026531838]"), a pidfd as "pidfd:[PID]" (the pid
 * in the initial namespace); any other file is its path (S1, a walk). A
 * namespace file's own type fills *flags when nstype left it open (0).
 * Returns the offset after the regions.
 */
static __always_inline __u32 setns_file(struct eg_raw_event *e, struct task_struct *task, int fd,
					__u64 *flags)
{
	struct file *f = fd_file(task, fd);
	struct ns_common *ns;
	struct pid *pid;
	__u64 v[2];
	long n;

	if (!f)
		return FAM_OFF0;
	switch (BPF_CORE_READ(f, f_inode, i_sb, s_magic)) {
	case NSFS_MAGIC:
		ns = BPF_CORE_READ(f, f_inode, i_private);
		if (!ns)
			break;
		v[0] = (__u64)BPF_CORE_READ(ns, ops, name);
		v[1] = BPF_CORE_READ(ns, inum);
		n = bpf_snprintf((char *)e + FAM_OFF0, EG_RAW_NAME_MAX, ns_fmt, v, sizeof(v));
		if (n <= 0 || n > EG_RAW_NAME_MAX)
			break;
		if (!*flags)
			*flags = ns_type(ns) & NS_CLONE_NEW;
		e->filename_len = n;
		return FAM_OFF0 + n;
	case PID_FS_MAGIC:
		/* pidfs keeps the pid with the inode (older: the file) */
		pid = BPF_CORE_READ(f, f_inode, i_private);
		if (!pid)
			pid = BPF_CORE_READ(f, private_data);
		if (!pid)
			break;
		v[0] = BPF_CORE_READ(pid, numbers[0].nr);
		n = bpf_snprintf((char *)e + FAM_OFF0, EG_RAW_NAME_MAX, pidfd_fmt, v, sizeof(v[0]));
		if (n <= 0 || n > EG_RAW_NAME_MAX)
			break;
		e->filename_len = n;
		return FAM_OFF0 + n;
	}
	return fam_fd0(e, task, fd);
}

static __always_inline void fam_namespace(const struct sc *s)
{
	struct eg_raw_event *e;
	__u64 flags = s->a[0];
	__u32 end = FAM_OFF0;

	/*
	 * clone and clone3 run for every fork and thread: most leave here. The
	 * child's return (0) is not the call; the parent's result (the child's
	 * pid, or -errno) is.
	 */
	switch (s->nr) {
	case NR_clone:
		if (!(flags & NS_CLONE_NEW_LEGACY) || !s->ret)
			return;
		flags &= NS_CLONE_NEW_LEGACY;
		break;
	case NR_clone3:
		/* struct clone_args starts with the u64 flags; the kernel has
		 * just copied it, so the page is in */
		if (!s->ret)
			return;
		flags = 0;
		if (bpf_probe_read_user(&flags, sizeof(flags), (const void *)s->a[0]))
			return;
		if (!(flags & NS_CLONE_NEW))
			return;
		flags &= NS_CLONE_NEW;
		break;
	case NR_setns:
		/* nstype: the namespace the fd must be (0: any), or for a
		 * pidfd the namespaces of that process to join */
		flags = (__u32)s->a[1] & NS_CLONE_NEW;
		break;
	default: /* unshare: CLONE_FILES, CLONE_FS alone make no namespace */
		if (!(flags & NS_CLONE_NEW))
			return;
		flags &= NS_CLONE_NEW;
		break;
	}
	e = fam_begin(EG_RAW_NAMESPACE, s);
	if (!e)
		return;
	if (s->nr == NR_setns)
		end = setns_file(e, s->task, (int)s->a[0], &flags);
	fam_args(e)->a[0] = flags;
	fam_submit(e, end);
}

#endif
