/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The system calls the sys_exit program reports, by number: which family
 * (raw event type) an x86-64 call belongs to, and which x86-64 call an i386
 * (compat) number is. Adding a call: its numbers here, its family's handler
 * in bpf/fam_<name>.h. Included by ebpf_guard.bpf.c.
 */
#ifndef EG_SYSCALLS_H
#define EG_SYSCALLS_H

/* Numbers below this are looked up; every call here is below it. */
#define NR_TABLE 512

/* x86-64 numbers */
#define NR_dup 32
#define NR_dup2 33
#define NR_connect 42
#define NR_accept 43
#define NR_bind 49
#define NR_listen 50
#define NR_clone 56
#define NR_open 2
#define NR_rename 82
#define NR_rmdir 84
#define NR_creat 85
#define NR_link 86
#define NR_unlink 87
#define NR_symlink 88
#define NR_chmod 90
#define NR_fchmod 91
#define NR_ptrace 101
#define NR_setuid 105
#define NR_setgid 106
#define NR_setreuid 113
#define NR_setregid 114
#define NR_setresuid 117
#define NR_setresgid 119
#define NR_setfsuid 122
#define NR_setfsgid 123
#define NR_capset 126
#define NR_mount 165
#define NR_umount2 166
#define NR_init_module 175
#define NR_delete_module 176
#define NR_openat 257
#define NR_unlinkat 263
#define NR_renameat 264
#define NR_linkat 265
#define NR_symlinkat 266
#define NR_fchmodat 268
#define NR_unshare 272
#define NR_accept4 288
#define NR_dup3 292
#define NR_open_by_handle_at 304
#define NR_setns 308
#define NR_finit_module 313
#define NR_renameat2 316
#define NR_memfd_create 319
#define NR_bpf 321
#define NR_move_mount 429
#define NR_fsmount 432
#define NR_clone3 435
#define NR_openat2 437
#define NR_fchmodat2 452

/* i386 numbers */
#define NR32_socketcall 102
#define SYS_SOCKETCALL_BIND 2
#define SYS_SOCKETCALL_CONNECT 3
#define SYS_SOCKETCALL_LISTEN 4
#define SYS_SOCKETCALL_ACCEPT 5
#define SYS_SOCKETCALL_ACCEPT4 18

/* x86-64 number -> family (EG_RAW_*), 0: not reported */
static const __u8 nr_family[NR_TABLE] = {
	[NR_open] = EG_RAW_OPEN, [NR_creat] = EG_RAW_OPEN, [NR_openat] = EG_RAW_OPEN,
	[NR_openat2] = EG_RAW_OPEN, [NR_open_by_handle_at] = EG_RAW_OPEN,
	[NR_connect] = EG_RAW_CONNECT,
	[NR_memfd_create] = EG_RAW_MEMFD,
	[NR_ptrace] = EG_RAW_PTRACE,
	[NR_init_module] = EG_RAW_MODULE, [NR_finit_module] = EG_RAW_MODULE,
	[NR_delete_module] = EG_RAW_MODULE,
	[NR_bpf] = EG_RAW_BPF,
	[NR_setuid] = EG_RAW_SETID, [NR_setgid] = EG_RAW_SETID, [NR_setreuid] = EG_RAW_SETID,
	[NR_setregid] = EG_RAW_SETID, [NR_setresuid] = EG_RAW_SETID,
	[NR_setresgid] = EG_RAW_SETID, [NR_setfsuid] = EG_RAW_SETID,
	[NR_setfsgid] = EG_RAW_SETID, [NR_capset] = EG_RAW_SETID,
	[NR_unshare] = EG_RAW_NAMESPACE, [NR_setns] = EG_RAW_NAMESPACE,
	[NR_clone] = EG_RAW_NAMESPACE, [NR_clone3] = EG_RAW_NAMESPACE,
	[NR_mount] = EG_RAW_MOUNT, [NR_umount2] = EG_RAW_MOUNT, [NR_fsmount] = EG_RAW_MOUNT,
	[NR_move_mount] = EG_RAW_MOUNT,
	[NR_link] = EG_RAW_LINK, [NR_linkat] = EG_RAW_LINK, [NR_symlink] = EG_RAW_LINK,
	[NR_symlinkat] = EG_RAW_LINK,
	[NR_rename] = EG_RAW_RENAME, [NR_renameat] = EG_RAW_RENAME,
	[NR_renameat2] = EG_RAW_RENAME,
	[NR_unlink] = EG_RAW_UNLINK, [NR_unlinkat] = EG_RAW_UNLINK, [NR_rmdir] = EG_RAW_UNLINK,
	[NR_chmod] = EG_RAW_CHMOD, [NR_fchmod] = EG_RAW_CHMOD, [NR_fchmodat] = EG_RAW_CHMOD,
	[NR_fchmodat2] = EG_RAW_CHMOD,
	[NR_dup] = EG_RAW_DUP, [NR_dup2] = EG_RAW_DUP, [NR_dup3] = EG_RAW_DUP,
	[NR_bind] = EG_RAW_LISTEN, [NR_listen] = EG_RAW_LISTEN,
	[NR_accept] = EG_RAW_ACCEPT, [NR_accept4] = EG_RAW_ACCEPT,
};

/* The i386 number's x86-64 call (0: not reported; NR32_ID16 marks the
 * 16-bit-id set*id calls). socketcall(2) is decoded apart. */
#define NR32_ID16 0x8000
static const __u16 nr32_native[NR_TABLE] = {
	[5] = NR_open, [8] = NR_creat, [295] = NR_openat, [342] = NR_open_by_handle_at,
	[437] = NR_openat2, [362] = NR_connect, [356] = NR_memfd_create, [26] = NR_ptrace,
	[128] = NR_init_module, [350] = NR_finit_module, [129] = NR_delete_module,
	[357] = NR_bpf,
	[213] = NR_setuid, [214] = NR_setgid, [203] = NR_setreuid, [204] = NR_setregid,
	[208] = NR_setresuid, [210] = NR_setresgid, [215] = NR_setfsuid, [216] = NR_setfsgid,
	[23] = NR_setuid | NR32_ID16, [46] = NR_setgid | NR32_ID16,
	[70] = NR_setreuid | NR32_ID16, [71] = NR_setregid | NR32_ID16,
	[164] = NR_setresuid | NR32_ID16, [170] = NR_setresgid | NR32_ID16,
	[138] = NR_setfsuid | NR32_ID16, [139] = NR_setfsgid | NR32_ID16,
	[185] = NR_capset,
	[310] = NR_unshare, [346] = NR_setns, [120] = NR_clone, [435] = NR_clone3,
	[21] = NR_mount, [52] = NR_umount2, [432] = NR_fsmount, [429] = NR_move_mount,
	[9] = NR_link, [303] = NR_linkat, [83] = NR_symlink, [304] = NR_symlinkat,
	[38] = NR_rename, [302] = NR_renameat, [353] = NR_renameat2,
	[10] = NR_unlink, [301] = NR_unlinkat, [40] = NR_rmdir,
	[15] = NR_chmod, [94] = NR_fchmod, [306] = NR_fchmodat, [452] = NR_fchmodat2,
	[41] = NR_dup, [63] = NR_dup2, [330] = NR_dup3,
	[361] = NR_bind, [363] = NR_listen, [364] = NR_accept4,
};

#endif
