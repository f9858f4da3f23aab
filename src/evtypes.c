/* SPDX-License-Identifier: MIT */
/* The field registry of the newer event types: see evtypes.h. */
#include "evtypes.h"

#include <stdio.h>
#include <string.h>

/* memfd_create(2) flags (linux/memfd.h) */
static const struct eg_flag_name memfd_flags[] = {
	{1, "cloexec"}, {2, "allow_sealing"}, {4, "hugetlb"}, {8, "noexec_seal"}, {0x10, "exec"},
	{0, NULL},
};

/* ptrace(2) requests (linux/ptrace.h, x86) */
static const struct eg_flag_name ptrace_requests[] = {
	{0, "traceme"}, {1, "peektext"}, {2, "peekdata"}, {3, "peekuser"}, {4, "poketext"},
	{5, "pokedata"}, {6, "pokeuser"}, {7, "cont"}, {8, "kill"}, {9, "singlestep"},
	{12, "getregs"}, {13, "setregs"}, {14, "getfpregs"}, {15, "setfpregs"}, {16, "attach"},
	{17, "detach"}, {18, "getfpxregs"}, {19, "setfpxregs"}, {24, "syscall"},
	{16896, "setoptions"}, {16897, "geteventmsg"}, {16898, "getsiginfo"}, {16899, "setsiginfo"},
	{16900, "getregset"}, {16901, "setregset"}, {16902, "seize"}, {16903, "interrupt"},
	{16904, "listen"}, {16905, "peeksiginfo"}, {16906, "getsigmask"}, {16907, "setsigmask"},
	{16908, "seccomp_get_filter"}, {16910, "get_syscall_info"}, {0, NULL},
};

/* the calls the newer types report, by x86-64 number (a 32-bit call is reported under its 64-bit number) */
static const struct eg_flag_name syscall_names[] = {
	{32, "dup"}, {33, "dup2"}, {43, "accept"}, {49, "bind"}, {50, "listen"}, {56, "clone"},
	{82, "rename"}, {84, "rmdir"}, {86, "link"}, {87, "unlink"}, {88, "symlink"}, {90, "chmod"},
	{91, "fchmod"}, {105, "setuid"}, {106, "setgid"}, {113, "setreuid"}, {114, "setregid"},
	{117, "setresuid"}, {119, "setresgid"}, {122, "setfsuid"}, {123, "setfsgid"}, {126, "capset"},
	{165, "mount"}, {166, "umount2"}, {175, "init_module"}, {176, "delete_module"},
	{263, "unlinkat"}, {264, "renameat"}, {265, "linkat"}, {266, "symlinkat"}, {268, "fchmodat"},
	{272, "unshare"}, {288, "accept4"}, {292, "dup3"}, {308, "setns"}, {313, "finit_module"},
	{316, "renameat2"}, {429, "move_mount"}, {432, "fsmount"}, {435, "clone3"},
	{452, "fchmodat2"}, {0, NULL},
};

/* bpf(2) commands (linux/bpf.h enum bpf_cmd) */
static const struct eg_flag_name bpf_cmds[] = {
	{0, "map_create"}, {1, "map_lookup_elem"}, {2, "map_update_elem"}, {3, "map_delete_elem"},
	{4, "map_get_next_key"}, {5, "prog_load"}, {6, "obj_pin"}, {7, "obj_get"}, {8, "prog_attach"},
	{9, "prog_detach"}, {10, "prog_test_run"}, {11, "prog_get_next_id"}, {12, "map_get_next_id"},
	{13, "prog_get_fd_by_id"}, {14, "map_get_fd_by_id"}, {15, "obj_get_info_by_fd"},
	{16, "prog_query"}, {17, "raw_tracepoint_open"}, {18, "btf_load"}, {19, "btf_get_fd_by_id"},
	{20, "task_fd_query"}, {21, "map_lookup_and_delete_elem"}, {22, "map_freeze"},
	{23, "btf_get_next_id"}, {24, "map_lookup_batch"}, {25, "map_lookup_and_delete_batch"},
	{26, "map_update_batch"}, {27, "map_delete_batch"}, {28, "link_create"}, {29, "link_update"},
	{30, "link_get_fd_by_id"}, {31, "link_get_next_id"}, {32, "enable_stats"},
	{33, "iter_create"}, {34, "link_detach"}, {35, "prog_bind_map"}, {36, "token_create"},
	{0, NULL},
};

/* enum bpf_prog_type */
static const struct eg_flag_name bpf_prog_types[] = {
	{0, "unspec"}, {1, "socket_filter"}, {2, "kprobe"}, {3, "sched_cls"}, {4, "sched_act"},
	{5, "tracepoint"}, {6, "xdp"}, {7, "perf_event"}, {8, "cgroup_skb"}, {9, "cgroup_sock"},
	{10, "lwt_in"}, {11, "lwt_out"}, {12, "lwt_xmit"}, {13, "sock_ops"}, {14, "sk_skb"},
	{15, "cgroup_device"}, {16, "sk_msg"}, {17, "raw_tracepoint"}, {18, "cgroup_sock_addr"},
	{19, "lwt_seg6local"}, {20, "lirc_mode2"}, {21, "sk_reuseport"}, {22, "flow_dissector"},
	{23, "cgroup_sysctl"}, {24, "raw_tracepoint_writable"}, {25, "cgroup_sockopt"},
	{26, "tracing"}, {27, "struct_ops"}, {28, "ext"}, {29, "lsm"}, {30, "sk_lookup"},
	{31, "syscall"}, {32, "netfilter"}, {0, NULL},
};

/* enum bpf_map_type */
static const struct eg_flag_name bpf_map_types[] = {
	{0, "unspec"}, {1, "hash"}, {2, "array"}, {3, "prog_array"}, {4, "perf_event_array"},
	{5, "percpu_hash"}, {6, "percpu_array"}, {7, "stack_trace"}, {8, "cgroup_array"},
	{9, "lru_hash"}, {10, "lru_percpu_hash"}, {11, "lpm_trie"}, {12, "array_of_maps"},
	{13, "hash_of_maps"}, {14, "devmap"}, {15, "sockmap"}, {16, "cpumap"}, {17, "xskmap"},
	{18, "sockhash"}, {19, "cgroup_storage"}, {20, "reuseport_sockarray"},
	{21, "percpu_cgroup_storage"}, {22, "queue"}, {23, "stack"}, {24, "sk_storage"},
	{25, "devmap_hash"}, {26, "struct_ops"}, {27, "ringbuf"}, {28, "inode_storage"},
	{29, "task_storage"}, {30, "bloom_filter"}, {31, "user_ringbuf"}, {32, "cgrp_storage"},
	{33, "arena"}, {0, NULL},
};

/* capability bits (linux/capability.h), as capset(2) sets them */
static const struct eg_flag_name capabilities[] = {
	{1, "chown"}, {2, "dac_override"}, {4, "dac_read_search"}, {8, "fowner"}, {0x10, "fsetid"},
	{0x20, "kill"}, {0x40, "setgid"}, {0x80, "setuid"}, {0x100, "setpcap"},
	{0x200, "linux_immutable"}, {0x400, "net_bind_service"}, {0x800, "net_broadcast"},
	{0x1000, "net_admin"}, {0x2000, "net_raw"}, {0x4000, "ipc_lock"}, {0x8000, "ipc_owner"},
	{0x10000, "sys_module"}, {0x20000, "sys_rawio"}, {0x40000, "sys_chroot"},
	{0x80000, "sys_ptrace"}, {0x100000, "sys_pacct"}, {0x200000, "sys_admin"},
	{0x400000, "sys_boot"}, {0x800000, "sys_nice"}, {0x1000000, "sys_resource"},
	{0x2000000, "sys_time"}, {0x4000000, "sys_tty_config"}, {0x8000000, "mknod"},
	{0x10000000, "lease"}, {0x20000000, "audit_write"}, {0x40000000, "audit_control"},
	{0x80000000, "setfcap"}, {0x100000000, "mac_override"}, {0x200000000, "mac_admin"},
	{0x400000000, "syslog"}, {0x800000000, "wake_alarm"}, {0x1000000000, "block_suspend"},
	{0x2000000000, "audit_read"}, {0x4000000000, "perfmon"}, {0x8000000000, "bpf"},
	{0x10000000000, "checkpoint_restore"}, {0, NULL},
};

/* CLONE_NEW* (linux/sched.h) */
static const struct eg_flag_name ns_flags[] = {
	{0x80, "newtime"}, {0x20000, "newns"}, {0x2000000, "newcgroup"}, {0x4000000, "newuts"},
	{0x8000000, "newipc"}, {0x10000000, "newuser"}, {0x20000000, "newpid"},
	{0x40000000, "newnet"}, {0, NULL},
};

/* mount(2) MS_* flags (linux/mount.h) */
static const struct eg_flag_name mount_flags[] = {
	{1, "rdonly"}, {2, "nosuid"}, {4, "nodev"}, {8, "noexec"}, {0x10, "synchronous"},
	{0x20, "remount"}, {0x40, "mandlock"}, {0x80, "dirsync"}, {0x100, "nosymfollow"},
	{0x400, "noatime"}, {0x800, "nodiratime"}, {0x1000, "bind"}, {0x2000, "move"},
	{0x4000, "rec"}, {0x8000, "silent"}, {0x10000, "posixacl"}, {0x20000, "unbindable"},
	{0x40000, "private"}, {0x80000, "slave"}, {0x100000, "shared"}, {0x200000, "relatime"},
	{0x400000, "kernmount"}, {0x800000, "i_version"}, {0x1000000, "strictatime"},
	{0x2000000, "lazytime"}, {0, NULL},
};

/* umount2(2) flags */
static const struct eg_flag_name umount_flags[] = {
	{1, "force"}, {2, "detach"}, {4, "expire"}, {8, "nofollow"}, {0, NULL},
};

/* renameat2(2) RENAME_* flags */
static const struct eg_flag_name rename_flags[] = {
	{1, "noreplace"}, {2, "exchange"}, {4, "whiteout"}, {0, NULL},
};

/* unlinkat(2) AT_REMOVEDIR (rmdir(2) sets it too) */
static const struct eg_flag_name unlink_flags[] = {
	{0x200, "removedir"}, {0, NULL},
};

/* socket types (SOCK_*) */
static const struct eg_flag_name sock_types[] = {
	{1, "stream"}, {2, "dgram"}, {3, "raw"}, {4, "rdm"}, {5, "seqpacket"}, {6, "dccp"},
	{10, "packet"}, {0, NULL},
};

/* A key's kind and slot never change between types (the replay reader
 * stores a key before it knows the line's type); keys of different types may
 * share a slot. Keep lua/ebpf_guard/evtypes.lua in step: the engine refuses
 * to start when they differ. */
const struct eg_field eg_fields[] = {
	{"flags", EG_FK_FLAGS, 0, memfd_flags},
	{"request", EG_FK_ENUM, 0, ptrace_requests},
	{"target_pid", EG_FK_NUM, 1, NULL},
	{"target_comm", EG_FK_STR, 0, NULL},
	{"target_exe", EG_FK_STR, 1, NULL},
	{"call", EG_FK_ENUM, 7, syscall_names},
	{"module_name", EG_FK_STR, 0, NULL},
	{"module_flags", EG_FK_NUM, 0, NULL},
	{"bpf_cmd", EG_FK_ENUM, 0, bpf_cmds},
	{"prog_type", EG_FK_ENUM, 1, bpf_prog_types},
	{"map_type", EG_FK_ENUM, 2, bpf_map_types},
	{"bpf_name", EG_FK_STR, 0, NULL},
	{"id_real", EG_FK_NUM, 0, NULL},
	{"id_effective", EG_FK_NUM, 1, NULL},
	{"id_saved", EG_FK_NUM, 2, NULL},
	{"cap_effective", EG_FK_FLAGS, 3, capabilities},
	{"cap_permitted", EG_FK_FLAGS, 4, capabilities},
	{"cap_inheritable", EG_FK_FLAGS, 5, capabilities},
	{"ns_flags", EG_FK_FLAGS, 0, ns_flags},
	{"source", EG_FK_STR, 0, NULL},
	{"fstype", EG_FK_STR, 1, NULL},
	{"mount_flags", EG_FK_FLAGS, 0, mount_flags},
	{"umount_flags", EG_FK_FLAGS, 1, umount_flags},
	{"link_target", EG_FK_STR, 0, NULL},
	{"new_path", EG_FK_STR, 0, NULL},
	{"rename_flags", EG_FK_FLAGS, 0, rename_flags},
	{"unlink_flags", EG_FK_FLAGS, 0, unlink_flags},
	{"mode", EG_FK_NUM, 0, NULL},
	{"mode_setuid", EG_FK_BOOL, 1, NULL},
	{"mode_setgid", EG_FK_BOOL, 2, NULL},
	{"old_fd", EG_FK_NUM, 0, NULL},
	{"new_fd", EG_FK_NUM, 1, NULL},
	{"is_socket", EG_FK_BOOL, 2, NULL},
	{"local_ip", EG_FK_STR, 0, NULL},
	{"local_port", EG_FK_NUM, 0, NULL},
	{"backlog", EG_FK_NUM, 1, NULL},
	{"sock_type", EG_FK_ENUM, 2, sock_types},
};
const unsigned eg_nfields = sizeof(eg_fields) / sizeof(eg_fields[0]);

enum {
	F_FLAGS = 0,
	F_REQUEST,
	F_TARGET_PID,
	F_TARGET_COMM,
	F_TARGET_EXE,
	F_CALL,
	F_MODULE_NAME,
	F_MODULE_FLAGS,
	F_BPF_CMD,
	F_PROG_TYPE,
	F_MAP_TYPE,
	F_BPF_NAME,
	F_ID_REAL,
	F_ID_EFFECTIVE,
	F_ID_SAVED,
	F_CAP_EFFECTIVE,
	F_CAP_PERMITTED,
	F_CAP_INHERITABLE,
	F_NS_FLAGS,
	F_SOURCE,
	F_FSTYPE,
	F_MOUNT_FLAGS,
	F_UMOUNT_FLAGS,
	F_LINK_TARGET,
	F_NEW_PATH,
	F_RENAME_FLAGS,
	F_UNLINK_FLAGS,
	F_MODE,
	F_MODE_SETUID,
	F_MODE_SETGID,
	F_OLD_FD,
	F_NEW_FD,
	F_IS_SOCKET,
	F_LOCAL_IP,
	F_LOCAL_PORT,
	F_BACKLOG,
	F_SOCK_TYPE
};

static const struct eg_type_fields types[EG_EV_MAX + 1] = {
	[EG_EV_MEMFD] =
		{.n = 1, .idx = {F_FLAGS}, .ret = true},
	[EG_EV_PTRACE] =
		{.n = 4, .idx = {F_REQUEST, F_TARGET_PID, F_TARGET_COMM, F_TARGET_EXE}, .ret = true},
	[EG_EV_MODULE] =
		{.n = 3, .idx = {F_CALL, F_MODULE_NAME, F_MODULE_FLAGS}, .ret = true},
	[EG_EV_BPF] =
		{.n = 4, .idx = {F_BPF_CMD, F_PROG_TYPE, F_MAP_TYPE, F_BPF_NAME}, .ret = true},
	[EG_EV_SETID] =
		{.n = 7, .idx = {F_CALL, F_ID_REAL, F_ID_EFFECTIVE, F_ID_SAVED, F_CAP_EFFECTIVE, F_CAP_PERMITTED, F_CAP_INHERITABLE}, .ret = true},
	[EG_EV_NAMESPACE] =
		{.n = 2, .idx = {F_CALL, F_NS_FLAGS}, .ret = true},
	[EG_EV_MOUNT] =
		{.n = 5, .idx = {F_CALL, F_SOURCE, F_FSTYPE, F_MOUNT_FLAGS, F_UMOUNT_FLAGS}, .ret = true},
	[EG_EV_LINK] =
		{.n = 2, .idx = {F_CALL, F_LINK_TARGET}, .ret = true},
	[EG_EV_RENAME] =
		{.n = 3, .idx = {F_CALL, F_NEW_PATH, F_RENAME_FLAGS}, .ret = true},
	[EG_EV_UNLINK] =
		{.n = 2, .idx = {F_CALL, F_UNLINK_FLAGS}, .ret = true},
	[EG_EV_CHMOD] =
		{.n = 4, .idx = {F_CALL, F_MODE, F_MODE_SETUID, F_MODE_SETGID}, .ret = true},
	[EG_EV_DUP] =
		{.n = 4, .idx = {F_CALL, F_OLD_FD, F_NEW_FD, F_IS_SOCKET}, .ret = true},
	[EG_EV_LISTEN] =
		{.n = 5, .idx = {F_CALL, F_LOCAL_IP, F_LOCAL_PORT, F_BACKLOG, F_SOCK_TYPE}, .ret = true},
	[EG_EV_ACCEPT] =
		{.n = 4, .idx = {F_CALL, F_LOCAL_IP, F_LOCAL_PORT, F_SOCK_TYPE}, .ret = true},
};

const struct eg_type_fields *eg_type_fields(uint32_t type)
{
	if (type > EG_EV_MAX || type <= EG_EV_EXIT)
		return NULL;
	return &types[type];
}

const struct eg_field *eg_field_by_key(const char *k, size_t n)
{
	for (unsigned i = 0; i < eg_nfields; i++)
		if (strlen(eg_fields[i].key) == n && !memcmp(eg_fields[i].key, k, n))
			return &eg_fields[i];
	return NULL;
}

size_t eg_flags_format(char *out, size_t cap, const struct eg_field *f, uint64_t v)
{
	size_t len = 0;
	for (const struct eg_flag_name *fn = f->names; fn && fn->name; fn++) {
		if (!(v & fn->bit))
			continue;
		v &= ~fn->bit;
		int k = snprintf(len < cap ? out + len : NULL, len < cap ? cap - len : 0, "%s%s",
				 len ? "|" : "", fn->name);
		len += (size_t)(k > 0 ? k : 0);
	}
	if (v) {
		int k = snprintf(len < cap ? out + len : NULL, len < cap ? cap - len : 0, "%s0x%llx",
				 len ? "|" : "", (unsigned long long)v);
		len += (size_t)(k > 0 ? k : 0);
	}
	if (cap && len < cap)
		out[len] = 0;
	else if (cap)
		out[cap - 1] = 0;
	return len;
}

const char *eg_enum_format(char *out, size_t cap, const struct eg_field *f, int64_t v)
{
	for (const struct eg_flag_name *fn = f->names; fn && fn->name; fn++)
		if ((int64_t)fn->bit == v)
			return fn->name;
	snprintf(out, cap, "%lld", (long long)v);
	return out;
}

int eg_enum_parse(const struct eg_field *f, const char *s, size_t n, int64_t *v)
{
	for (const struct eg_flag_name *fn = f->names; fn && fn->name; fn++) {
		if (strlen(fn->name) == n && !memcmp(fn->name, s, n)) {
			*v = (int64_t)fn->bit;
			return 0;
		}
	}
	if (!n || n > 19 || (s[0] != '-' && n > 18))
		return -1; /* at most 18 digits: no overflow */
	int64_t x = 0;
	size_t i = s[0] == '-';
	if (i == n)
		return -1;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	*v = s[0] == '-' ? -x : x;
	return 0;
}

int eg_flags_parse(const struct eg_field *f, const char *s, size_t n, uint64_t *v, const char **bad,
		   size_t *badlen)
{
	uint64_t r = 0;
	size_t i = 0;
	while (i < n) {
		size_t b = i;
		while (i < n && s[i] != '|')
			i++;
		const char *w = s + b;
		size_t wl = i - b;
		bool found = false;
		for (const struct eg_flag_name *fn = f->names; fn && fn->name && !found; fn++) {
			if (strlen(fn->name) == wl && !memcmp(fn->name, w, wl)) {
				r |= fn->bit;
				found = true;
			}
		}
		if (!found && wl > 2 && wl <= 18 && w[0] == '0' && w[1] == 'x') {
			uint64_t x = 0;
			size_t j = 2;
			for (; j < wl; j++) {
				char c = w[j];
				unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
					     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16u;
				if (d == 16)
					break;
				x = x << 4 | d;
			}
			if (j == wl) {
				r |= x;
				found = true;
			}
		}
		if (!found) {
			*bad = w;
			*badlen = wl;
			return -1;
		}
		if (i < n)
			i++; /* the '|' */
		if (i == n && n && s[n - 1] == '|') {
			*bad = s + n;
			*badlen = 0;
			return -1;
		}
	}
	*v = r;
	return 0;
}
