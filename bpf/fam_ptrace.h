/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ptrace(2), reported at system call exit (from the sys_exit program): the
 * request and the target pid (struct eg_raw_args a[0], a[1]) and the result.
 * The target's comm and executable come from the daemon's process table.
 * The requests a tracer repeats for every stop of its tracee are skipped in
 * the kernel (ptrace_chatter()).
 * Included by ebpf_guard.bpf.c after the shared helpers.
 */
#ifndef EG_FAM_PTRACE_H
#define EG_FAM_PTRACE_H

/* A tracer's loop (resume, read registers, fetch the stop's details) runs
 * several of these per system call of its tracee: not reported. Attaching,
 * memory and register writes, reads of memory, detaching are. */
static __always_inline bool ptrace_chatter(__u64 request)
{
	switch (request) {
	case 7:      /* cont */
	case 9:      /* singlestep */
	case 12:     /* getregs */
	case 14:     /* getfpregs */
	case 18:     /* getfpxregs */
	case 24:     /* syscall */
	case 0x4201: /* geteventmsg */
	case 0x4202: /* getsiginfo */
	case 0x4204: /* getregset */
	case 0x4207: /* interrupt */
	case 0x4208: /* listen */
	case 0x420a: /* getsigmask */
	case 0x420e: /* get_syscall_info */
		return true;
	}
	return false;
}

static __always_inline void report_ptrace(const struct sc *s)
{
	struct eg_raw_event *e;
	struct eg_raw_args *a;

	if (ptrace_chatter(s->a[0]))
		return;
	e = fam_begin(EG_RAW_PTRACE, s);
	if (!e)
		return;
	a = fam_args(e);
	a->a[0] = (__s64)(long)s->a[0];
	a->a[1] = (__s32)s->a[1];
	a->a[7] = 0; /* ptrace events carry no "call" */
	kk_code_call(e, s->task, (__u32)s->a[0]);
	fam_submit(e, FAM_OFF0);
}

#endif
