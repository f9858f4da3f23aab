/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memfd_create(2), reported at system call exit (from the sys_exit program):
 * the name as passed (the kernel has copied it by then, so its page is in),
 * the flags, the result (the new fd, or -errno). Included by
 * ebpf_guard.bpf.c after the shared helpers.
 */
#ifndef EG_FAM_MEMFD_H
#define EG_FAM_MEMFD_H

/* memfd names are at most 249 bytes (MFD_NAME_MAX_LEN) */
#define EG_MEMFD_NAME_MAX 256

static __always_inline void report_memfd(__u64 id, long ret, __u64 uname, __u64 flags,
					 __u32 rflags)
{
	struct eg_raw_event *e = get_scratch();
	long n;

	if (!e)
		return;
	fill_common(e, EG_RAW_MEMFD, id);
	e->flags = rflags;
	e->open_flags = (__u32)flags;
	e->ret = ret;
	n = bpf_probe_read_user_str((char *)(e + 1), EG_MEMFD_NAME_MAX, (const void *)uname);
	submit(e, sizeof(*e) + path_len(e, n));
}

#endif
