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

#include "kf_scan.h"

#define AT_REMOVEDIR 0x200
#define AT_EMPTY_PATH 0x1000
#define S_IALLUGO 07777

/* ---- the rules' filter (bpf/eg_raw.h; lua/ebpf_guard/compile.lua) ------- */

/* Bit per record type whose filter the maps below hold: the host clears
 * the bits before it changes the maps and sets them after (meanwhile every
 * event crosses). eg_kf_path2: of those, the types whose second path (S2)
 * is tested too. */
__u32 eg_kf_paths = 0;
__u32 eg_kf_path2 = 0;
/* Of those, the types whose first path no rule keys on (no prefix, no
 * suffix): not tested at all (0, the default, tests it). */
__u32 eg_kf_path1_skip = 0;
/* chmod: the mode bits of which a rule needs one set (S_ISUID ...): a call
 * setting one of them crosses. */
__u32 eg_kf_chmod_mode = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, EG_KF_PATH_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct eg_kf_path_prefix);
	__type(value, __u8);
} kf_path_prefix SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EG_KF_PATH_WORDS);
	__type(key, struct eg_kf_word);
	__type(value, __u8);
} kf_path_word SEC(".maps");

/* The prefixes' heads (bpf/eg_raw.h): 0 while the host rewrites them. */
__u32 eg_kf_path_heads = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EG_KF_PATH_PREFIXES);
	__type(key, __u64);
	__type(value, __u8);
} kf_path_head SEC(".maps");

/* Whether some prefix of (type, field) may start the path of n bytes whose
 * first 8 are w: its head is in kf_path_head. A miss: the trie is not
 * asked. */
static __always_inline bool kf_path_head_hit(__u64 w, __u32 n, __u8 type, __u8 field, __u32 h)
{
	__u64 k;

	if ((h & (1u << 8)) && n >= 6) {
		k = EG_KF_PATH_HEAD(type, field, w & 0xffffffffffffULL);
		if (kf_bloom(EG_KFB_PATH_HEAD, k) && bpf_map_lookup_elem(&kf_path_head, &k))
			return true;
	}
	for (__u32 l = 1; l < 6; l++) {
		if (!(h & (1u << l)) || l > n)
			continue;
		k = EG_KF_PATH_HEAD(type, field, (w & ((1ULL << (8 * l)) - 1)) | (__u64)l << 40);
		if (kf_bloom(EG_KFB_PATH_HEAD, k) && bpf_map_lookup_elem(&kf_path_head, &k))
			return true;
	}
	return false;
}

/* The longest path the filter tests (a longer one crosses). */
#define KF_SCAN_MAX 256

/* The masks of the path's word i (bpf/kf_scan.h); zero past its end. */
static __always_inline void kf_path_masks(struct eg_raw_event *e, __u32 off, __u32 n, __u32 i, __u64 *sl,
					  __u64 *dot)
{
	__u32 at = 8 * i, x = off + at;

	/* (off is at most EG_RAW_SCRATCH - EG_RAW_PATH_MAX, n under
	 * KF_SCAN_MAX: the second test never holds, it shows the verifier,
	 * and the barrier keeps the compiler from dropping it) */
	barrier_var(x);
	if (at > n || x > EG_RAW_SCRATCH - sizeof(__u64)) {
		*sl = *dot = 0;
		return;
	}
	kf_word_masks(*(__u64 *)((char *)e + x), at, n, sl, dot);
}

/*
 * Whether the path of n bytes at offset off (its first byte a '/') is one
 * the daemon's normalisation would change: an empty, "." or ".." component
 * ("//", "/./", "/../", or a trailing "/", "/." or "/.."). Eight bytes at a
 * time, each word's masks shifted against the next word's.
 */
static __always_inline bool kf_path_odd(struct eg_raw_event *e, __u32 off, __u32 n)
{
	__u64 s0, d0, s1, d1;

	kf_path_masks(e, off, n, 0, &s0, &d0);
	for (__u32 i = 0; i < KF_SCAN_MAX / 8; i++) {
		if (8 * i > n)
			break;
		kf_path_masks(e, off, n, i + 1, &s1, &d1);
		if (kf_word_odd(s0, d0, s1, d1))
			return true;
		s0 = s1;
		d0 = d1;
	}
	return false;
}

/*
 * Whether the path of n bytes (no NUL) at offset off of the record e must
 * cross for (type, field): it is not absolute, not in normal form (the
 * daemon would rewrite it) or too long, or one of the rules' prefixes or
 * suffixes for it matches.
 */
static __always_inline bool kf_path_wanted(struct eg_raw_event *e, __u32 off, __u32 n, __u8 type,
					   __u8 field)
{
	struct eg_kf_word w = {.type = type, .field = field};
	struct eg_kf_path_prefix key;
	__u32 h;

	barrier_var(off);
	barrier_var(n);
	if (n < 2 || n >= KF_SCAN_MAX || off > EG_RAW_SCRATCH - EG_RAW_PATH_MAX)
		return true;
	if (((char *)e)[off] != '/' || kf_path_odd(e, off, n))
		return true;
	/* direct loads from the per-CPU record (off and n are bounded above),
	 * no helper */
	if (n >= 4) {
		__u32 x = off + n - 4;

		barrier_var(x);
		if (x > EG_RAW_SCRATCH - sizeof(w.word))
			return true;
		w.word = *(__u32 *)((char *)e + x);
		if (kf_bloom(EG_KFB_PATH_WORD, EG_KFB_WORD(w.word, type, field)) &&
		    bpf_map_lookup_elem(&kf_path_word, &w))
			return true;
	}
	/* the heads first: the trie only when one is there */
	h = eg_kf_path_heads;
	if ((h & 1) && !kf_path_head_hit(*(__u64 *)((char *)e + off), n, type, field, h))
		return false;
	key.prefixlen = (2 + (n < EG_KF_PREFIX_MAX ? n : EG_KF_PREFIX_MAX)) * 8;
	key.data[0] = type;
	key.data[1] = field;
	__builtin_memcpy(key.data + 2, (char *)e + off, EG_KF_PREFIX_MAX);
	return bpf_map_lookup_elem(&kf_path_prefix, &key) != NULL;
}

/*
 * Whether the file family's record in the scratch may stay in the kernel:
 * its type's filter is on, its comm's word is not in it, and its first
 * path (and the second, when the type's rules key on it) is an absolute
 * path as passed, in normal form, that no prefix or suffix of the filter
 * matches. Counts what it keeps. A global function: verified once.
 */
__noinline int kf_path_once(__u32 type)
{
	struct eg_raw_event *e = get_scratch();
	const __u32 odd = EG_RAWF_TRUNC_FILENAME | EG_RAWF_PATH_DIR | EG_RAWF_PATH_FILE;
	struct eg_kf_word w = {.field = EG_KF_COMM};
	__u32 bit, n0, n2;

	if (!e || type >= 32)
		return 0;
	bit = 1u << type;
	if (!(eg_kf_paths & bit) || (e->flags & odd))
		return 0;
	/* the comm's word: its first 4 bytes, zeros after its end */
	w.type = type;
	for (int i = 0; i < 4; i++) {
		if (!e->comm[i])
			break;
		w.word |= (__u32)(__u8)e->comm[i] << (8 * i);
	}
	if (kf_bloom(EG_KFB_PATH_WORD, EG_KFB_WORD(w.word, type, EG_KF_COMM)) &&
	    bpf_map_lookup_elem(&kf_path_word, &w))
		return 0;
	if (type == EG_RAW_CHMOD && (fam_args(e)->a[0] & eg_kf_chmod_mode))
		return 0;
	n0 = e->filename_len;
	if (!(eg_kf_path1_skip & bit) && (!n0 || kf_path_wanted(e, FAM_OFF0, n0 - 1, type, EG_KF_PATH1)))
		return 0;
	if (eg_kf_path2 & bit) {
		n2 = e->args_len;
		if ((e->flags & EG_RAWF_PATH2_DIR) || !n2 ||
		    kf_path_wanted(e, FAM_OFF0 + n0 + e->exe_len, n2 - 1, type, EG_KF_PATH2))
			return 0;
	}
	kf_count(type);
	return 1;
}

/* The task's fields of the per-CPU record's header (fill_task). A global
 * function: verified once, not at each of fam_kf_submit's call sites with
 * the state each path read left (inlined, that added ~0.4 s to the
 * daemon's start). */
__noinline int fam_task_once(void)
{
	struct eg_raw_event *e = get_scratch();

	if (!e)
		return 0;
	fill_task(e, bpf_get_current_pid_tgid());
	return 1;
}

/* Submits a file family's record (begun by fam_begin_filtered) unless the
 * rules' filter keeps it; one that crosses gets the task's fields first. */
static __always_inline void fam_kf_submit(struct eg_raw_event *e, __u32 end)
{
	if ((eg_kf_paths & (1u << (e->type & 31))) && kf_path_once(e->type))
		return;
	if (!fam_task_once())
		return;
	fam_submit(e, end);
}

/* link: the new name as S0 (filename); what it points at as S2
 * (link_target): a symbolic link's text as passed (never joined: it is
 * resolved from the link's directory, when followed), a hard link's
 * existing file joined to its start directory. */
static __always_inline void fam_link(const struct sc *s)
{
	struct eg_raw_event *e = fam_begin_filtered(EG_RAW_LINK, s);
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
		fam_kf_submit(e, fam_path2(e, off, s->task, AT_FDCWD, s->a[0]));
		return;
	default: /* linkat */
		off = fam_path0(e, s->task, (int)s->a[2], s->a[3]);
		fam_kf_submit(e, fam_path2(e, off, s->task, (int)s->a[0], s->a[1]));
		return;
	}
	n = fam_ustr(e, off, s->a[0]);
	e->args_len = n;
	fam_kf_submit(e, off + n);
}

/* rename: the old path as S0 (filename), the new one as S2 (new_path);
 * renameat2's flags in a[0] (rename_flags). */
static __always_inline void fam_rename(const struct sc *s)
{
	struct eg_raw_event *e = fam_begin_filtered(EG_RAW_RENAME, s);
	__u32 off;

	if (!e)
		return;
	if (s->nr == NR_rename) {
		off = fam_path0(e, s->task, AT_FDCWD, s->a[0]);
		fam_kf_submit(e, fam_path2(e, off, s->task, AT_FDCWD, s->a[1]));
		return;
	}
	if (s->nr == NR_renameat2)
		fam_args(e)->a[0] = (__u32)s->a[4];
	off = fam_path0(e, s->task, (int)s->a[0], s->a[1]);
	fam_kf_submit(e, fam_path2(e, off, s->task, (int)s->a[2], s->a[3]));
}

/* unlink: the path as S0 (filename); AT_REMOVEDIR in a[0] (unlink_flags)
 * for rmdir and unlinkat(AT_REMOVEDIR). */
static __always_inline void fam_unlink(const struct sc *s)
{
	struct eg_raw_event *e = fam_begin_filtered(EG_RAW_UNLINK, s);

	if (!e)
		return;
	if (s->nr == NR_unlinkat) {
		fam_args(e)->a[0] = s->a[2] & AT_REMOVEDIR;
		fam_kf_submit(e, fam_path0(e, s->task, (int)s->a[0], s->a[1]));
		return;
	}
	if (s->nr == NR_rmdir)
		fam_args(e)->a[0] = AT_REMOVEDIR;
	fam_kf_submit(e, fam_path0(e, s->task, AT_FDCWD, s->a[0]));
}

/* chmod: the file as S0 (or, for fchmod and fchmodat2(AT_EMPTY_PATH) with
 * an empty path, the descriptor's file as S1); the mode bits the call sets
 * in a[0] (mode; the daemon derives mode_setuid and mode_setgid). */
static __always_inline void fam_chmod(const struct sc *s)
{
	struct eg_raw_event *e = fam_begin_filtered(EG_RAW_CHMOD, s);
	__u32 off;

	if (!e)
		return;
	if (s->nr == NR_fchmod) {
		fam_args(e)->a[0] = s->a[1] & S_IALLUGO;
		fam_kf_submit(e, fam_fd0(e, s->task, (int)s->a[0]));
		return;
	}
	if (s->nr == NR_chmod) {
		fam_args(e)->a[0] = s->a[1] & S_IALLUGO;
		fam_kf_submit(e, fam_path0(e, s->task, AT_FDCWD, s->a[0]));
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
	fam_kf_submit(e, off);
}

#endif
