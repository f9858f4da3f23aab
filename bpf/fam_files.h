/* SPDX-License-Identifier: GPL-2.0 */
/* The file families (link, rename, unlink, chmod), reported at system call
 * exit (from the sys_exit program): see docs/collector.md. Included by
 * ebpf_guard.bpf.c after bpf/fam.h. */
#ifndef EG_FAM_FILES_H
#define EG_FAM_FILES_H

static __always_inline void fam_link(const struct sc *s) { (void)s; }
static __always_inline void fam_rename(const struct sc *s) { (void)s; }
static __always_inline void fam_unlink(const struct sc *s) { (void)s; }
static __always_inline void fam_chmod(const struct sc *s) { (void)s; }

#endif
