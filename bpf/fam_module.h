/* SPDX-License-Identifier: GPL-2.0 */
/*
 * init_module(2), finit_module(2), delete_module(2), reported at system call
 * exit (from the sys_exit program), failures included: a refused load is
 * still someone trying. See docs/collector.md. Included by ebpf_guard.bpf.c
 * after bpf/fam.h.
 *
 * a[0] the flags (finit's, delete's), a[7] the call; finit: the module file
 * (the descriptor's path) as S1; delete: the name as passed as S2 (after S1,
 * empty then). init_module's image is in memory: no name, no file.
 */
#ifndef EG_FAM_MODULE_H
#define EG_FAM_MODULE_H

static __always_inline void fam_module(const struct sc *s)
{
	struct eg_raw_event *e = fam_begin(EG_RAW_MODULE, s);
	__u32 off = FAM_OFF0, n;

	if (!e)
		return;
	switch (s->nr) {
	case NR_finit_module:
		fam_args(e)->a[0] = (__u32)s->a[2];
		off = fam_fd0(e, s->task, (int)s->a[0]);
		break;
	case NR_delete_module:
		fam_args(e)->a[0] = (__u32)s->a[1];
		n = fam_ustr(e, off, s->a[0]);
		e->args_len = n;
		off += n;
		break;
	}
	kk_code_call(e, s->task, (__u32)s->nr);
	fam_submit(e, off);
}

#endif
