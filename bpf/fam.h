/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the families reported from the sys_exit program share: the decoded
 * call (struct sc) and the record helpers that start one and append its
 * regions (bpf/eg_raw.h: struct eg_raw_args, then S0..S3). Included by
 * ebpf_guard.bpf.c after the path helpers, before the bpf/fam_*.h files.
 */
#ifndef EG_FAM_H
#define EG_FAM_H

/* A system call at its exit, in one number space (x86-64). */
struct sc {
	struct task_struct *task;
	__u64 id;      /* bpf_get_current_pid_tgid() */
	long nr;       /* the x86-64 number (a 32-bit call's is mapped) */
	long ret;
	__u64 a[6];    /* the arguments (32-bit calls: zero-extended) */
	__u32 rflags;  /* EG_RAWF_COMPAT ... */
	__u32 xflags;  /* SC_* */
};

enum {
	SC_ID16 = 1u << 0,      /* i386 setuid(2) & co. with 16-bit ids */
	SC_SOCKETCALL = 1u << 1, /* i386 socketcall(2): arguments from user memory */
};

/* Where the regions start, and the last offset a region may start at
 * (S3 of a record whose S0..S2 filled their bounds). */
#define FAM_OFF0 (sizeof(struct eg_raw_event) + sizeof(struct eg_raw_args))
#define FAM_OFF_MAX (FAM_OFF0 + 3 * EG_RAW_PATH_MAX)

static __always_inline struct eg_raw_args *fam_args(struct eg_raw_event *e)
{
	return (struct eg_raw_args *)(e + 1);
}

/* Starts a record of the family type for the call: header, result, the
 * numbers zeroed but a[7], the call. NULL when there is no scratch. */
static __always_inline struct eg_raw_event *fam_begin_args(struct eg_raw_event *e, const struct sc *s)
{
	struct eg_raw_args *a;

	e->flags = s->rflags | EG_RAWF_ARGS;
	e->ret = s->ret;
	a = fam_args(e);
	a->a[0] = a->a[1] = a->a[2] = a->a[3] = 0;
	a->a[4] = a->a[5] = a->a[6] = 0;
	a->a[7] = s->nr;
	return e;
}

static __always_inline struct eg_raw_event *fam_begin(__u8 type, const struct sc *s)
{
	struct eg_raw_event *e = get_scratch();

	if (!e)
		return NULL;
	fill_common(e, type, s->id);
	return fam_begin_args(e, s);
}

/* The same without the task's fields (the timestamp, the ids): a record a
 * kernel filter may keep gets them once it crosses (fam_kf_submit). */
static __always_inline struct eg_raw_event *fam_begin_filtered(__u8 type, const struct sc *s)
{
	struct eg_raw_event *e = get_scratch();

	if (!e)
		return NULL;
	fill_rest(e, type);
	return fam_begin_args(e, s);
}

/* A string from user memory at offset off (NUL included, at most
 * EG_RAW_PATH_MAX bytes; one that fills it is flagged truncated). Its
 * length, 0 when unreadable. */
static __always_inline __u32 fam_ustr(struct eg_raw_event *e, __u32 off, __u64 uptr)
{
	long n;

	if (!uptr || off > FAM_OFF_MAX)
		return 0;
	n = bpf_probe_read_user_str((char *)e + off, EG_RAW_PATH_MAX, (const void *)uptr);
	if (n <= 0)
		return 0;
	if (n >= EG_RAW_PATH_MAX) {
		e->flags |= EG_RAWF_TRUNC_FILENAME;
		n = EG_RAW_PATH_MAX;
	}
	return n;
}

/* The path of the file behind descriptor fd, at offset off. Its length. */
static __always_inline __u32 fam_fd_path(struct eg_raw_event *e, __u32 off, struct task_struct *task,
					 long fd)
{
	struct file *f = fd_file(task, fd);

	if (!f || off > FAM_OFF_MAX)
		return 0;
	return walk_file(e, off, f);
}

/* The directory a relative path starts from (the cwd for AT_FDCWD, else
 * dfd's file), at offset off. Its length. */
static __always_inline __u32 fam_dir(struct eg_raw_event *e, __u32 off, struct task_struct *task,
				     int dfd)
{
	struct dentry *d = NULL;
	struct vfsmount *m = NULL;
	struct file *f;

	if (off > FAM_OFF_MAX)
		return 0;
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
	if (!d || !m)
		return 0;
	return walk_path(e, off, d, m, &e->flags);
}

/* Whether the string at offset off is a relative path. */
static __always_inline bool fam_relative(struct eg_raw_event *e, __u32 off, __u32 n)
{
	if (!n || off > FAM_OFF_MAX)
		return false;
	return ((char *)e)[off] != '/';
}

/* The first path argument (dfd, upath) as S0, and for a relative one its
 * start directory as S1 (EG_RAWF_PATH_DIR). Returns the offset after them. */
static __always_inline __u32 fam_path0(struct eg_raw_event *e, struct task_struct *task, int dfd,
				       __u64 upath)
{
	__u32 off = FAM_OFF0, n, d = 0;

	n = fam_ustr(e, off, upath);
	e->filename_len = n;
	if (fam_relative(e, off, n)) {
		d = fam_dir(e, off + n, task, dfd);
		if (d)
			e->flags |= EG_RAWF_PATH_DIR;
	}
	e->exe_len = d;
	return off + n + d;
}

/* The second path argument as S2, its start directory as S3
 * (EG_RAWF_PATH2_DIR), from offset off (after S0 and S1). Returns the
 * offset after them. */
static __always_inline __u32 fam_path2(struct eg_raw_event *e, __u32 off, struct task_struct *task,
				       int dfd, __u64 upath)
{
	__u32 n, d = 0;

	if (off > FAM_OFF_MAX)
		return off;
	n = fam_ustr(e, off, upath);
	e->args_len = n;
	if (fam_relative(e, off, n)) {
		d = fam_dir(e, off + n, task, dfd);
		if (d)
			e->flags |= EG_RAWF_PATH2_DIR;
	}
	e->s3_len = d;
	return off + n + d;
}

/* A descriptor argument's file as S1 (EG_RAWF_PATH_FILE), S0 empty. Returns
 * the offset after it. */
static __always_inline __u32 fam_fd0(struct eg_raw_event *e, struct task_struct *task, long fd)
{
	__u32 n = fam_fd_path(e, FAM_OFF0, task, fd);

	if (n)
		e->flags |= EG_RAWF_PATH_FILE;
	e->exe_len = n;
	return FAM_OFF0 + n;
}

static __always_inline void fam_submit(struct eg_raw_event *e, __u32 end)
{
	if (end > EG_RAW_SCRATCH)
		return;
	submit(e, end);
}

#endif
