/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The mount family, reported at system call exit (from the sys_exit
 * program): mount(2), umount2(2), fsmount(2), move_mount(2). The target as
 * S0/S1 (a path and the directory a relative one starts from, or the file a
 * descriptor names), the source as S2 and the file system type as S3
 * (strings), the MS_* flags (struct eg_raw_args a[0]), umount2's flags
 * (a[1]), the call (a[7]), the result. See docs/collector.md. Included by
 * ebpf_guard.bpf.c after bpf/fam.h.
 */
#ifndef EG_FAM_MOUNT_H
#define EG_FAM_MOUNT_H

/* Before 2.4 mount(2) wanted this magic in the flags' upper half; the kernel
 * still drops it (MS_MGC_VAL, MS_MGC_MSK). */
#define MS_MGC_VAL 0xc0ed0000
#define MS_MGC_MSK 0xffff0000

/* fsmount(2) attributes (MOUNT_ATTR_*) and the MS_* flags they mean. */
#define MOUNT_ATTR_SAME 0x0000000f /* rdonly, nosuid, nodev, noexec: equal */
#define MOUNT_ATTR__ATIME 0x00000070
#define MOUNT_ATTR_NOATIME 0x00000010
#define MOUNT_ATTR_STRICTATIME 0x00000020
#define MOUNT_ATTR_NODIRATIME 0x00000080
#define MOUNT_ATTR_NOSYMFOLLOW 0x00200000
#define MS_NOSYMFOLLOW 0x100
#define MS_NOATIME 0x400
#define MS_NODIRATIME 0x800
#define MS_STRICTATIME 0x1000000

static __always_inline __u64 mount_attr_ms(__u64 attr)
{
	__u64 ms = attr & MOUNT_ATTR_SAME;

	if ((attr & MOUNT_ATTR__ATIME) == MOUNT_ATTR_NOATIME)
		ms |= MS_NOATIME;
	else if ((attr & MOUNT_ATTR__ATIME) == MOUNT_ATTR_STRICTATIME)
		ms |= MS_STRICTATIME;
	if (attr & MOUNT_ATTR_NODIRATIME)
		ms |= MS_NODIRATIME;
	if (attr & MOUNT_ATTR_NOSYMFOLLOW)
		ms |= MS_NOSYMFOLLOW;
	return ms;
}

/* A kernel string at offset off, as fam_ustr() does for user memory. */
static __always_inline __u32 mount_kstr(struct eg_raw_event *e, __u32 off, const char *kstr)
{
	long n;

	if (!kstr || off > FAM_OFF_MAX)
		return 0;
	n = bpf_probe_read_kernel_str((char *)e + off, EG_RAW_PATH_MAX, kstr);
	if (n <= 0)
		return 0;
	if (n >= EG_RAW_PATH_MAX) {
		e->flags |= EG_RAWF_TRUNC_FILENAME;
		n = EG_RAW_PATH_MAX;
	}
	return n;
}

/*
 * The mount a descriptor holds (fsmount's result, move_mount's from side)
 * as S2, its device name ("none" for a file system given no source), and
 * S3, its file system type, from offset off. Returns the offset after them.
 */
static __always_inline __u32 mount_of_fd(struct eg_raw_event *e, __u32 off, struct task_struct *task,
					 long fd)
{
	struct file *f = fd_file(task, fd);
	struct vfsmount *vm;
	struct mount *m;
	__u32 n;

	if (!f)
		return off;
	vm = BPF_CORE_READ(f, f_path.mnt);
	if (!vm)
		return off;
	m = (void *)vm - bpf_core_field_offset(struct mount, mnt);
	n = mount_kstr(e, off, BPF_CORE_READ(m, mnt_devname));
	e->args_len = n;
	off += n;
	n = mount_kstr(e, off, BPF_CORE_READ(vm, mnt_sb, s_type, name));
	e->s3_len = n;
	return off + n;
}

/* A target path argument (dfd, upath) as S0/S1; when it is empty (or
 * unreadable) the file dfd names (S1), as MOVE_MOUNT_T_EMPTY_PATH has it. */
static __always_inline __u32 mount_target(struct eg_raw_event *e, struct task_struct *task, int dfd,
					  __u64 upath)
{
	__u32 off = fam_path0(e, task, dfd, upath);

	if (e->filename_len > 1)
		return off;
	e->filename_len = 0;
	e->flags &= ~EG_RAWF_PATH_DIR;
	return fam_fd0(e, task, dfd);
}

static __always_inline void fam_mount(const struct sc *s)
{
	struct eg_raw_event *e;
	struct eg_raw_args *a;
	__u64 flags, upath = 0, usrc = 0;
	long fd = -1;
	__u32 off = FAM_OFF0, n;
	int dfd = AT_FDCWD;
	char c = 0;

	e = fam_begin(EG_RAW_MOUNT, s);
	if (!e)
		return;
	a = fam_args(e);
	/* one call of each region helper serves the four calls (each is
	 * inlined: a smaller program for the verifier) */
	switch (s->nr) {
	case NR_mount:
		/* mount(source, target, fstype, flags, data): the kernel has
		 * copied the three strings, so their pages are in */
		flags = s->a[3];
		if ((flags & MS_MGC_MSK) == MS_MGC_VAL)
			flags &= ~MS_MGC_MSK;
		a->a[0] = flags;
		upath = s->a[1];
		break;
	case NR_umount2:
		a->a[1] = (__u32)s->a[1];
		upath = s->a[0];
		break;
	case NR_fsmount:
		/* fsmount(fs_fd, flags, attr_flags): no path yet; a new
		 * mount's source and type are the result's */
		a->a[0] = mount_attr_ms((__u32)s->a[2]);
		fd = s->ret;
		break;
	default:
		/* move_mount(from_dfd, from_path, to_dfd, to_path, flags) */
		dfd = (int)s->a[2];
		upath = s->a[3];
		usrc = s->a[1];
		if (usrc)
			bpf_probe_read_user(&c, 1, (const void *)usrc);
		/* no from path: the mount from_dfd holds (at exit a
		 * successful move has attached it, so its path would be
		 * the target's) */
		if (!c)
			fd = (int)s->a[0];
		break;
	}
	if (s->nr != NR_fsmount)
		off = mount_target(e, s->task, dfd, upath);
	if (s->nr == NR_mount) {
		n = fam_ustr(e, off, s->a[0]);
		e->args_len = n;
		off += n;
		n = fam_ustr(e, off, s->a[2]);
		e->s3_len = n;
		off += n;
	} else if (c) {
		off = fam_path2(e, off, s->task, (int)s->a[0], usrc);
	} else if (fd >= 0) {
		off = mount_of_fd(e, off, s->task, fd);
	}
	kk_code_call(e, s->task, (__u32)s->nr);
	fam_submit(e, off);
}

#endif
