/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The file families, reported at system call exit (from the sys_exit
 * program): link (symlink, link and their -at forms), rename (rename,
 * renameat, renameat2), unlink (unlink, unlinkat, rmdir) and chmod (chmod,
 * fchmod, fchmodat, fchmodat2). Paths are the arguments as passed, read at
 * exit (the kernel has copied them, so their pages are in), with the start
 * directory of a relative one walked from its dirfd or the cwd; the daemon
 * joins and normalises them. See docs/collector.md. Included by
 * ebpf_guard.bpf.c after bpf/fam.h.
 */
#ifndef EG_FAM_FILES_H
#define EG_FAM_FILES_H

#define AT_REMOVEDIR 0x200
#define AT_EMPTY_PATH 0x1000
#define S_IALLUGO 07777

/* link: the new name as S0 (filename); what it points at as S2
 * (link_target): a symbolic link's text as passed (never joined: it is
 * resolved from the link's directory, when followed), a hard link's
 * existing file joined to its start directory. */
static __always_inline void fam_link(const struct sc *s)
{
	struct eg_raw_event *e = fam_begin(EG_RAW_LINK, s);
	__u32 off, n;

	if (!e)
		return;
	switch (s->nr) {
	case NR_symlink:
		off = fam_path0(e, s->task, AT_FDCWD, s->a[1]);
		break;
	case NR_symlinkat:
		off = fam_path0(e, s->task, (int)s->a[1], s->a[2]);
		break;
	case NR_link:
		off = fam_path0(e, s->task, AT_FDCWD, s->a[1]);
		fam_submit(e, fam_path2(e, off, s->task, AT_FDCWD, s->a[0]));
		return;
	default: /* linkat */
		off = fam_path0(e, s->task, (int)s->a[2], s->a[3]);
		fam_submit(e, fam_path2(e, off, s->task, (int)s->a[0], s->a[1]));
		return;
	}
	n = fam_ustr(e, off, s->a[0]);
	e->args_len = n;
	fam_submit(e, off + n);
}

/* rename: the old path as S0 (filename), the new one as S2 (new_path);
 * renameat2's flags in a[0] (rename_flags). */
static __always_inline void fam_rename(const struct sc *s)
{
	struct eg_raw_event *e = fam_begin(EG_RAW_RENAME, s);
	__u32 off;

	if (!e)
		return;
	if (s->nr == NR_rename) {
		off = fam_path0(e, s->task, AT_FDCWD, s->a[0]);
		fam_submit(e, fam_path2(e, off, s->task, AT_FDCWD, s->a[1]));
		return;
	}
	if (s->nr == NR_renameat2)
		fam_args(e)->a[0] = (__u32)s->a[4];
	off = fam_path0(e, s->task, (int)s->a[0], s->a[1]);
	fam_submit(e, fam_path2(e, off, s->task, (int)s->a[2], s->a[3]));
}

/* unlink: the path as S0 (filename); AT_REMOVEDIR in a[0] (unlink_flags)
 * for rmdir and unlinkat(AT_REMOVEDIR). */
static __always_inline void fam_unlink(const struct sc *s)
{
	struct eg_raw_event *e = fam_begin(EG_RAW_UNLINK, s);

	if (!e)
		return;
	if (s->nr == NR_unlinkat) {
		fam_args(e)->a[0] = s->a[2] & AT_REMOVEDIR;
		fam_submit(e, fam_path0(e, s->task, (int)s->a[0], s->a[1]));
		return;
	}
	if (s->nr == NR_rmdir)
		fam_args(e)->a[0] = AT_REMOVEDIR;
	fam_submit(e, fam_path0(e, s->task, AT_FDCWD, s->a[0]));
}

/* chmod: the file as S0 (or, for fchmod and fchmodat2(AT_EMPTY_PATH) with
 * an empty path, the descriptor's file as S1); the mode bits the call sets
 * in a[0] (mode; the daemon derives mode_setuid and mode_setgid). */
static __always_inline void fam_chmod(const struct sc *s)
{
	struct eg_raw_event *e = fam_begin(EG_RAW_CHMOD, s);
	__u32 off;

	if (!e)
		return;
	if (s->nr == NR_fchmod) {
		fam_args(e)->a[0] = s->a[1] & S_IALLUGO;
		fam_submit(e, fam_fd0(e, s->task, (int)s->a[0]));
		return;
	}
	if (s->nr == NR_chmod) {
		fam_args(e)->a[0] = s->a[1] & S_IALLUGO;
		fam_submit(e, fam_path0(e, s->task, AT_FDCWD, s->a[0]));
		return;
	}
	fam_args(e)->a[0] = s->a[2] & S_IALLUGO;
	off = fam_path0(e, s->task, (int)s->a[0], s->a[1]);
	if (s->nr == NR_fchmodat2 && (s->a[3] & AT_EMPTY_PATH) && e->filename_len <= 1) {
		/* fchmodat2(fd, "", mode, AT_EMPTY_PATH): the descriptor's file */
		e->filename_len = 0;
		e->exe_len = 0;
		e->flags &= ~EG_RAWF_PATH_DIR;
		off = fam_fd0(e, s->task, (int)s->a[0]);
	}
	fam_submit(e, off);
}

#endif
