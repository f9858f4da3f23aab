/* SPDX-License-Identifier: GPL-2.0 */
/*
 * setuid(2), setgid(2), setre[ug]id, setres[ug]id, setfs[ug]id, capset(2),
 * reported at system call exit (from the sys_exit program), failures
 * included. See docs/collector.md. Included by ebpf_guard.bpf.c after
 * bpf/fam.h.
 *
 * a[0] real, a[1] effective, a[2] saved id as passed, -1 where the call
 * leaves one unchanged (or has none); a[3] effective, a[4] permitted, a[5]
 * inheritable capability sets (capset only); a[7] the call.
 */
#ifndef EG_FAM_SETID_H
#define EG_FAM_SETID_H

#define CAP_V1 0x19980330 /* _LINUX_CAPABILITY_VERSION_1: one u32 per set */

/* An id argument: u32 in the kernel, so (uid_t)-1 reads as -1; the i386
 * 16-bit calls' (u16)-1 as well. */
static __always_inline __s64 setid_arg(const struct sc *s, int i)
{
	__u64 v = s->a[i];

	if (s->xflags & SC_ID16)
		return (__u16)v == 0xffff ? -1 : (__s64)(__u16)v;
	return (__s32)v;
}

/* A kernel_cap_t (u64 since 6.3, u32[2] low word first before: the same
 * eight bytes on x86). */
static __always_inline __s64 cap_set(const kernel_cap_t *c)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), c);
	return v;
}

/* capset(hdr, data): the sets it applied (the caller's credentials after a
 * success, the kernel's own copy), else the sets it was asked for. */
static __always_inline void capset_sets(const struct sc *s, struct eg_raw_args *a)
{
	struct {
		__u32 effective, permitted, inheritable;
	} d[2] = {};
	const struct cred *cred;
	__u32 version = 0;

	if (s->ret == 0) {
		/* only the caller itself may be changed (pid 0 or its own) */
		cred = s->task->cred;
		a->a[3] = cap_set(&cred->cap_effective);
		a->a[4] = cap_set(&cred->cap_permitted);
		a->a[5] = cap_set(&cred->cap_inheritable);
		return;
	}
	if (bpf_probe_read_user(&version, sizeof(version), (const void *)s->a[0]))
		return;
	if (bpf_probe_read_user(d, version == CAP_V1 ? sizeof(d[0]) : sizeof(d),
				(const void *)s->a[1]))
		return;
	a->a[3] = (__u64)d[1].effective << 32 | d[0].effective;
	a->a[4] = (__u64)d[1].permitted << 32 | d[0].permitted;
	a->a[5] = (__u64)d[1].inheritable << 32 | d[0].inheritable;
}

static __always_inline void fam_setid(const struct sc *s)
{
	struct eg_raw_event *e = fam_begin(EG_RAW_SETID, s);
	struct eg_raw_args *a;

	if (!e)
		return;
	a = fam_args(e);
	a->a[0] = a->a[1] = a->a[2] = -1;
	switch (s->nr) {
	case NR_setuid:
	case NR_setgid:
	case NR_setfsuid: /* the fs id (file access checks) */
	case NR_setfsgid:
		a->a[1] = setid_arg(s, 0);
		break;
	case NR_setreuid:
	case NR_setregid:
		a->a[0] = setid_arg(s, 0);
		a->a[1] = setid_arg(s, 1);
		break;
	case NR_setresuid:
	case NR_setresgid:
		a->a[0] = setid_arg(s, 0);
		a->a[1] = setid_arg(s, 1);
		a->a[2] = setid_arg(s, 2);
		break;
	case NR_capset:
		capset_sets(s, a);
		break;
	}
	fam_submit(e, FAM_OFF0);
}

#endif
