/* SPDX-License-Identifier: GPL-2.0 */
/* The socket families (dup onto stdio, listen, accept), reported at system
 * call exit (from the sys_exit program): see docs/collector.md. Included by
 * ebpf_guard.bpf.c after bpf/fam.h. */
#ifndef EG_FAM_NET_H
#define EG_FAM_NET_H

static __always_inline void fam_dup(const struct sc *s) { (void)s; }
static __always_inline void fam_listen(const struct sc *s) { (void)s; }
static __always_inline void fam_accept(const struct sc *s) { (void)s; }

#endif
