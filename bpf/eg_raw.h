/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * The raw event record the BPF programs write into the "events" ring buffer
 * and src/collector.c decodes. Shared by both sides: the BPF side includes it
 * after vmlinux.h, the host after <linux/types.h>.
 *
 * One record, variable length (no padding to a maximum size):
 *
 *   +--------------------------+  0
 *   | struct eg_raw_event      |  fixed header, 96 bytes
 *   +--------------------------+  sizeof(struct eg_raw_event)
 *   | struct eg_raw_exec       |  exec with EG_RAWF_EXEC_EXT only: what the
 *   |                          |  process table needs about the new image
 *   +--------------------------+
 *   | filename[filename_len]   |  NUL-terminated when filename_len > 0; exec:
 *   |                          |  the path as passed; open: the path argument
 *   +--------------------------+
 *   | exe[exe_len]             |  a path from a dentry walk, "/a/b/c" (no
 *   |                          |  NUL): exec: the executed file; open: the
 *   |                          |  opened file (EG_RAWF_PATH_FILE) or the
 *   |                          |  directory a relative path starts from
 *   |                          |  (EG_RAWF_PATH_DIR)
 *   +--------------------------+
 *   | args[args_len]           |  exec only: argv strings from the new image's
 *   |                          |  mm->arg_start.., NUL-separated, first bytes
 *   +--------------------------+
 *   | cwd[cwd_len]             |  exec with EG_RAWF_EXEC_EXT: the working
 *   |                          |  directory, "/a/b/c" (no NUL)
 *   +--------------------------+
 *
 * The newer families (EG_RAWF_ARGS: memfd, ptrace, module, ... accept) put
 * struct eg_raw_args after the header and up to four regions after it, each
 * with its length in the header: S0 (filename_len), S1 (exe_len), S2
 * (args_len), S3 (s3_len). S0 is a path or name as passed (NUL-terminated);
 * S1 the file a descriptor argument names (EG_RAWF_PATH_FILE) or the
 * directory a relative S0 starts from (EG_RAWF_PATH_DIR), a dentry walk;
 * S2 a second path (EG_RAWF_PATH2_DIR: S3 is its start directory), a
 * second string (S3 then a third), or a local address (EG_RAWF_LOCAL_ADDR:
 * struct eg_raw_local_addr). A peer address is in the header, as for
 * connect.
 *
 * EG_RAW_FORK records are a header and struct eg_raw_fork: a new process
 * (not a thread). tgid, pid, ppid, comm, uid, gid and cgroup_id are the
 * child's; open_flags holds the tgid of the process that called fork/clone
 * (whose image the child starts with; its parent is ppid, which differs
 * with CLONE_PARENT).
 */
#ifndef EG_RAW_H
#define EG_RAW_H

#define EG_RAW_COMM_LEN 16
/* Bytes read for a path, the NUL included (PATH_MAX). A path that fills it is
 * flagged truncated. */
#define EG_RAW_PATH_MAX 4096
/* Longest single path component (NAME_MAX + NUL). */
#define EG_RAW_NAME_MAX 256
/* Executable path: at most this many components walked from the dentry. */
#define EG_RAW_EXE_COMPONENTS 64
/* Exec arguments: at most this many bytes of argv (NULs included). */
#define EG_RAW_ARGS_MAX 4096
/* Per-CPU scratch buffer the record is built in (header, exec extension,
 * 4 regions). */
#define EG_RAW_SCRATCH 20480
/* Environment strings (or 255-byte pieces of long ones) looked at per exec
 * for LD_PRELOAD and LD_LIBRARY_PATH. */
#define EG_RAW_ENV_CHUNKS 4096

/* Raw event types: the same numbers as enum eg_event_type (src/event.h). */
#define EG_RAW_EXEC 1
#define EG_RAW_OPEN 2
#define EG_RAW_CONNECT 3
#define EG_RAW_EXIT 4
#define EG_RAW_MEMFD 5
#define EG_RAW_PTRACE 6
#define EG_RAW_MODULE 7
#define EG_RAW_BPF 8
#define EG_RAW_SETID 9
#define EG_RAW_NAMESPACE 10
#define EG_RAW_MOUNT 11
#define EG_RAW_LINK 12
#define EG_RAW_RENAME 13
#define EG_RAW_UNLINK 14
#define EG_RAW_CHMOD 15
#define EG_RAW_DUP 16
#define EG_RAW_LISTEN 17
#define EG_RAW_ACCEPT 18
/* Not an event type: feeds the daemon's process table only (the last drop
 * slot, above every event type to come). */
#define EG_RAW_FORK 31

enum eg_raw_flags {
	EG_RAWF_TRUNC_FILENAME = 1u << 0, /* filename filled EG_RAW_PATH_MAX */
	EG_RAWF_TRUNC_EXE = 1u << 1,      /* exe walk hit a bound */
	EG_RAWF_TRUNC_ARGS = 1u << 2,     /* argv longer than EG_RAW_ARGS_MAX */
	EG_RAWF_DELETED = 1u << 3,        /* executed file has no links (memfd, unlinked) */
	EG_RAWF_EXEC_EXT = 1u << 4,       /* exec: struct eg_raw_exec and cwd follow */
	EG_RAWF_EXEC_FAILED = 1u << 5,    /* exec returned an error (no exe, no args) */
	EG_RAWF_NO_FILENAME = 1u << 6,    /* filename could not be read */
	EG_RAWF_EXE_PSEUDO = 1u << 7,     /* exe is on a pseudo mount (memfd, anon) */
	EG_RAWF_PATH_FILE = 1u << 8,      /* open: exe region is the opened file */
	EG_RAWF_PATH_DIR = 1u << 9,       /* open: exe region is the start directory */
	EG_RAWF_IO_URING = 1u << 10,      /* made through io_uring */
	EG_RAWF_COMPAT = 1u << 11,        /* made through a 32-bit (compat) system call */
	EG_RAWF_NO_PATH_ARG = 1u << 12,   /* open: the call takes no path (open_by_handle_at) */
	EG_RAWF_INTERP = 1u << 13,        /* exec: through an interpreter (#! script, binfmt_misc) */
	EG_RAWF_DATAGRAM = 1u << 14,      /* connect: a datagram sent without connect (UDP) */
	EG_RAWF_FDPATH = 1u << 15,        /* exec: filename is the kernel's /dev/fd/N[/NAME] form */
	EG_RAWF_ARGS = 1u << 16,          /* struct eg_raw_args follows the header */
	EG_RAWF_PATH2_DIR = 1u << 17,     /* S3 is the directory a relative S2 starts from */
	EG_RAWF_LOCAL_ADDR = 1u << 18,    /* S2 is a struct eg_raw_local_addr */
	EG_RAWF_KILLED = 1u << 19,        /* the kernel sent the caller SIGKILL (bpf/kkill.h) */
	EG_RAWF_SEEN_FRESH = 1u << 20,    /* connect: kf_seen had not seen it (below) */
	EG_RAWF_SEEN_REPEAT = 1u << 21,   /* connect: kf_seen had, within the window */
};

/* Numbers of the newer event types (EG_RAWF_ARGS): the daemon copies them to
 * struct eg_event num[] in order (src/evtypes.c says which key is which;
 * a[7] is the "call", the x86-64 system call number). */
#define EG_RAW_NARGS 8
struct eg_raw_args {
	__s64 a[EG_RAW_NARGS];
};

/* A local address (EG_RAWF_LOCAL_ADDR). */
struct eg_raw_local_addr {
	__u8 addr[16];   /* network order, 4 or 16 bytes */
	__u16 family;    /* AF_INET or AF_INET6 */
	__u16 port;      /* host order */
};

struct eg_raw_event {
	__u64 ts_ns;     /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id; /* bpf_get_current_cgroup_id() */
	__u32 pid;       /* thread id */
	__u32 tgid;
	__u32 ppid;      /* real_parent->tgid */
	__u32 uid;
	__u32 gid;
	__u32 open_flags;
	__u32 flags;     /* enum eg_raw_flags */
	__u8 type;       /* EG_RAW_* */
	__u8 family;     /* connect: AF_INET or AF_INET6 */
	__u16 dest_port; /* connect: host byte order */
	__u16 filename_len;
	__u16 exe_len;
	__u16 args_len;
	__u16 s3_len;    /* EG_RAWF_ARGS: the fourth region */
	__u8 dest_addr[16]; /* connect: network order, 4 or 16 bytes */
	char comm[EG_RAW_COMM_LEN];
	__s32 ret;       /* open, connect: the call's result (fd or 0, or -errno) */
	__u8 proto;      /* connect: the socket's IPPROTO_* */
	__u8 _pad2[3];
};

enum eg_raw_exec_flags {
	EG_RAWX_LD_PRELOAD = 1u << 0,      /* LD_PRELOAD=... in the new environment */
	EG_RAWX_LD_LIBRARY_PATH = 1u << 1, /* LD_LIBRARY_PATH=... */
	EG_RAWX_ENV_CUT = 1u << 2,         /* the environment was longer than the scan */
	EG_RAWX_NO_LOGINUID = 1u << 3,     /* kernel without audit: loginuid unknown */
	EG_RAWX_TRUNC_CWD = 1u << 4,       /* the cwd walk hit a bound */
};

/* Fork extension (every EG_RAW_FORK record): read from the child. */
struct eg_raw_fork {
	__u64 start_boottime; /* child->start_boottime: the new process's start */
};

/* Exec extension (EG_RAWF_EXEC_EXT): read from the task and the new image at
 * sched_process_exec. */
struct eg_raw_exec {
	__u64 start_boottime; /* task->start_boottime: the process's start */
	__u32 loginuid;       /* audit login uid, (u32)-1 when unset */
	__u32 tty_dev;        /* controlling tty: major << 20 | minor; 0: none */
	__u32 mode;           /* the executable's inode mode (set-uid bits) */
	__u32 xflags;         /* enum eg_raw_exec_flags */
	__u16 cwd_len;
	__u16 _pad[3];
	char comm[EG_RAW_COMM_LEN]; /* the new image's (the header has the caller's) */
};

/*
 * Kernel filters (lua/ebpf_guard/compile.lua, kernel_filter): open events
 * no rule can want stay in the kernel. Maps: kf_open_prefix, an LPM trie
 * of filename prefixes (struct eg_kf_prefix, value 1); kf_open_suffix and
 * kf_open_comm, hash sets of 4-byte words (a string's last 4 bytes; a
 * comm's first 4, zero bytes after its end), value 1; kf_filtered, events
 * kept in the kernel per record type, per CPU (EG_KF_SLOTS u64).
 */
#define EG_KF_PREFIX_MAX 64 /* bytes of a filename prefix the trie compares */
#define EG_KF_PREFIXES 4096 /* kf_open_prefix entries */
#define EG_KF_WORDS 1024    /* kf_open_suffix and kf_open_comm entries */
/* kf_open_head: the prefixes' heads, in front of the trie: a prefix of 8
 * bytes or more by its first 8 (the little-endian u64 of them), a shorter
 * one of l bytes by (l << 56 | its bytes); eg_kf_open_heads: bit 0 the set
 * is filled, bit l (1..7) some prefix has l bytes, bit 8 some has 8 or more */
#define EG_KF_HEADS EG_KF_PREFIXES
#define EG_KF_SLOTS 32      /* kf_filtered slots (the record types) */
/*
 * eg_kf_bloom: a bitmap in front of the filters' hash sets (kf_open_comm,
 * kf_open_suffix, kf_open_head, kf_path_word, kf_path_head, kf_port,
 * kf_sock_prog). The host sets a key's bit (eg_kf_bloom_bit of the set and
 * the key as a number, EG_KFB_*) before it puts the key in its set and
 * never clears one while the filters run: a clear bit says the key is not
 * in the set, and the program skips the lookup (a helper call, a hash of
 * the key and a compare); a set bit asks the set, a stale one only costs
 * that lookup. eg_kf_bloom_on: 1 once the host keeps the bitmap (until
 * then, and with an object it cannot find the bitmap in, every lookup is
 * made). One hash: at most a few thousand keys in 2^16 bits.
 */
#define EG_KF_BLOOM_LOG2 16
#define EG_KF_BLOOM_WORDS (1u << (EG_KF_BLOOM_LOG2 - 6))
enum eg_kf_bloom_set {
	EG_KFB_OPEN_COMM = 1,
	EG_KFB_OPEN_SUFFIX,
	EG_KFB_OPEN_HEAD,
	EG_KFB_PATH_WORD,
	EG_KFB_PATH_HEAD,
	EG_KFB_PORT,
	EG_KFB_SOCK_PROG,
};
/* kf_path_word's key (struct eg_kf_word) as the bitmap's number */
#define EG_KFB_WORD(word, type, field) ((__u64)(__u32)(word) | (__u64)(__u8)(type) << 32 | (__u64)(__u8)(field) << 40)
static inline __u32 eg_kf_bloom_bit(__u32 set, __u64 k)
{
	__u64 h = (k ^ ((__u64)set << 58)) * 0x9E3779B97F4A7C15ULL;

	return (__u32)(h >> (64 - EG_KF_BLOOM_LOG2));
}
/* kf_port: the socket families' filter, a hash set of (type, port) words
 * (value 1): the ports the rules of each type (connect: dest_port; listen,
 * accept: local_port) name; eg_kf_socks says which types are filtered */
#define EG_KF_PORTS 16384
#define EG_KF_PORT_KEY(type, port) ((__u32)(type) << 16 | ((__u32)(port) & 0xffff))
/* kf_sock_prog: the programs the socket families' rules are about, a hash
 * set of (type, kind, word): kind 0 the comm's word (its first 4 bytes,
 * zeros after its end), kind 1 the executable's file name's; consulted when
 * eg_kf_sock_progs has the type's bit. kf_once: the processes (tgid and
 * start time) whose first success of a type crossed, for the types of
 * eg_kf_sock_once (a Lua detection's once). */
#define EG_KF_PROGS 1024
#define EG_KF_PROG_KEY(type, kind, word) (((__u64)(type) | (__u64)(kind) << 8) << 32 | (__u32)(word))
#define EG_KF_ONCE 16384
struct eg_kf_once_key {
	__u32 tgid;
	__u32 type;
	__u64 start;
};

/* kf_addr: connect's filter by destination address, a hash set of
 * (family, address: 4 bytes and zeros, or 16), consulted when
 * eg_kf_conn_addrs is 1. eg_kf_conn_loop: 0, or EG_KF_LOOP_ON and the
 * loopback classes (EG_KF_LOOP_*) a connect may stay in the kernel with:
 * some rule wants every connect to any other destination. */
#define EG_KF_ADDRS 4096
struct eg_kf_addr_key {
	__u32 family;
	__u8 addr[16];
};
#define EG_KF_LOOP_V4 1     /* 127/8 */
#define EG_KF_LOOP_V6 2     /* ::1 */
#define EG_KF_LOOP_MAPPED 4 /* ::ffff:127/104 */
#define EG_KF_LOOP_ON (1u << 31)

/* kf_seen: the connects (not unconnected datagrams) each process made, for
 * a detection's once_per of dest_ip and/or dest_port (compile.lua
 * kernel_once_per), an LRU hash of (process, its start time and address
 * space, so what it runs since its last exec; destination)
 * to the time the destination was last new (the records' clock). While
 * eg_kf_conn_seen has EG_KF_SEEN_ON, every such connect is looked up: one
 * seen within eg_kf_conn_seen_ns (0: ever) is a repeat, which stays in the
 * kernel when no other rule wants it; the others are new (the time is set).
 * The record says which (EG_RAWF_SEEN_*): the engine follows the verdict. */
#define EG_KF_SEEN 16384
#define EG_KF_SEEN_ON 1u
#define EG_KF_SEEN_IP 2u   /* keyed by the address (family and 16 bytes) */
#define EG_KF_SEEN_PORT 4u /* keyed by the port */
struct eg_kf_seen_key {
	__u64 start; /* the group leader's start time: a pid used again is another process */
	__u64 mm;    /* the address space: a new one at each exec (the engine's exec id) */
	__u32 tgid;
	__u16 port;
	__u16 family;
	__u8 addr[16];
};

struct eg_kf_prefix {
	__u32 prefixlen; /* in bits */
	__u8 data[EG_KF_PREFIX_MAX];
};

/*
 * Kills in the kernel (bpf/kkill.h, src/kkill.c): kk_path, an LPM trie of
 * paths whose first byte is the namespace (EG_KK_NS_*) and the rest a path
 * prefix, or an exact path with its terminating NUL (value 1); kk_port, a
 * hash set of connect destination ports (__u32 keys, value 1); kk_pname, a
 * hash set of protected program names (their first 15 bytes, NUL-padded to
 * 16); kk_never, tgids never killed (the daemon's ancestors); kk_img, the
 * protect: verdict of each process image seen exec'ing or forking since
 * the kills were switched on: eg_kk_gen << 1 | protected; kk_code, a hash
 * set of EG_KK_CODE(type, code) keys (value 1): the ptrace, bpf, module
 * and mount events killed.
 */
#define EG_KK_PATH_MAX 64  /* path bytes after the namespace byte */
#define EG_KK_PATHS 4096   /* kk_path entries */
#define EG_KK_PORTS 1024   /* kk_port entries */
#define EG_KK_NAMES 1024   /* kk_pname entries */
#define EG_KK_NEVER 64     /* kk_never entries */
#define EG_KK_IMAGES 65536 /* kk_img entries (an LRU: a forgotten one is not killed in the kernel) */
#define EG_KK_CODES 1024   /* kk_code entries */
/* kk_code's key: a record type (EG_RAW_PTRACE, _BPF, _MODULE, _MOUNT) and
 * the event's code (ptrace request, bpf command, the system call's x86-64
 * number), or EG_KK_ANY for every event of the type */
#define EG_KK_ANY 0xffffffu
#define EG_KK_CODE(type, code) ((__u32)(type) << 24 | ((__u32)(code) & EG_KK_ANY))

enum eg_kk_ns {
	EG_KK_NS_EXEC_FILENAME = 0, /* exec: the file name as passed */
	EG_KK_NS_EXEC_EXE = 1,      /* exec: the new executable's path */
	EG_KK_NS_OPEN_FILENAME = 2, /* open: the opened file's path */
	EG_KK_NS_PROTECT = 3,       /* protect: paths (exact) and directories (prefix) */
};

struct eg_kk_key {
	__u32 prefixlen; /* in bits: 8 (the namespace) + 8 per path byte */
	__u8 data[1 + EG_KK_PATH_MAX + 3];
};

/*
 * The file families' filter (link, rename, unlink, chmod; bpf/fam_files.h):
 * one trie and one word set for them all, the record type and the field in
 * every key. kf_path_prefix: struct eg_kf_path_prefix, data = type, field,
 * then the prefix (prefixlen counts the two tag bytes); kf_path_word:
 * struct eg_kf_word, value 1.
 *
 *   data: | type | field | path bytes (at most EG_KF_PREFIX_MAX) ... |
 */
#define EG_KF_PATH_PREFIXES 8192 /* kf_path_prefix entries */
#define EG_KF_PATH_WORDS 4096    /* kf_path_word entries */
/* kf_path_head: the file families' prefixes' heads, in front of their
 * trie, by EG_KF_PATH_HEAD(type, field, bytes): a prefix of 6 path bytes or
 * more with its first 6 (a little-endian number), a shorter one of l bytes
 * with (its bytes | l << 40); eg_kf_path_heads: bit 0 the set is filled,
 * bit l (1..5) some prefix has l bytes, bit 8 some has 6 or more */
#define EG_KF_PATH_HEAD(type, field, bytes) ((__u64)(type) | (__u64)(field) << 8 | (__u64)(bytes) << 16)

enum eg_kf_field {
	EG_KF_PATH1 = 0, /* S0: filename */
	EG_KF_PATH2 = 1, /* S2: new_path (rename), link_target (link) */
	EG_KF_COMM = 2,  /* the comm's first 4 bytes (kf_path_word only) */
};

struct eg_kf_path_prefix {
	__u32 prefixlen; /* in bits, the two tag bytes included */
	__u8 data[2 + EG_KF_PREFIX_MAX];
};

struct eg_kf_word {
	__u32 word;  /* a path's last 4 bytes, or the comm's first 4 (zeros after its end) */
	__u8 type;   /* EG_RAW_* */
	__u8 field;  /* enum eg_kf_field */
	__u8 _pad[2];
};

#endif
