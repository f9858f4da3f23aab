/* SPDX-License-Identifier: GPL-2.0 */
/* The bpf family, reported at system call exit (from the sys_exit program):
 * see docs/collector.md. Included by ebpf_guard.bpf.c after bpf/fam.h. */
#ifndef EG_FAM_BPF_H
#define EG_FAM_BPF_H

static __always_inline void fam_bpf(const struct sc *s)
{
	(void)s; /* not reported yet (issue 9) */
}

#endif
