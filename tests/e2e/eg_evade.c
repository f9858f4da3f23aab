/* SPDX-License-Identifier: MIT */
/*
 * eg_evade: the adversary of issue 8. Each subcommand makes real system calls
 * that today's collector misses or misreports, and prints what the kernel
 * actually did, so an e2e test can hold the recorded events against it.
 * Built like eg_helper: cc -O1 -pthread -o eg_evade eg_evade.c (no liburing:
 * raw io_uring_setup/io_uring_enter and mmap'd rings).
 *
 * Output (stdout), one key=value per line:
 *   pid=N        the tgid that made the calls (for the exec forms: the child
 *                that exec'd; ppid=N is this program)
 *   ...          what the kernel did: result=, fd=, dev=MAJ:MIN, ino=,
 *                realpath= (readlink of /proc/self/fd/N: the file the kernel
 *                opened), peer=IP:PORT (getpeername), counts for the races
 * Exit 0 when the calls did what was intended, 1 with a message on stderr
 * otherwise, 2 on a usage error.
 *
 * Connect forms listen on IP:PORT themselves (TCP, or UDP for udp-*) when they
 * can bind it (127.0.0.1 and ::1 always), so the connect completes and the
 * peer is known; listener=self|external|none says which. Client sockets have
 * a 3 s send timeout; io_uring connects a 3 s link timeout.
 *
 * Opens (each prints fd, dev, ino, realpath; the fd is closed afterwards):
 *   uring-open PATH [async]     io_uring IORING_OP_OPENAT(AT_FDCWD, PATH, O_RDONLY)
 *                               (async: IOSQE_ASYNC, done by an iou-wrk thread)
 *   uring-openat2 PATH [async]  io_uring IORING_OP_OPENAT2, how.flags O_RDONLY
 *   open-by-handle PATH         name_to_handle_at + open_by_handle_at(mount fd)
 *                               (the mount fd: the mount point from mountinfo)
 *   creat PATH                  creat(2) of a new file (refused if PATH exists;
 *                               unlinked afterwards)
 *   compat-open PATH            32-bit int $0x80 open (5), path in MAP_32BIT memory
 *                               (every compat-* first checks that int $0x80
 *                               works: a 32-bit getpid; without IA32 emulation
 *                               it fails with "... no IA32 emulation ...")
 *   compat-openat PATH          32-bit openat (295), AT_FDCWD
 *   compat-creat PATH           32-bit creat (8) of a new file (unlinked after)
 *   compat-call NR [ARG...]     any 32-bit system call NR with up to 5 arguments:
 *                               "s:TEXT" is TEXT in MAP_32BIT memory, anything
 *                               else a number (strtol base 0, so -100 and 0x200
 *                               work); prints compat_call.result=R
 *   open PATH                   openat(AT_FDCWD, PATH, O_RDONLY)
 *   openat-dir DIR NAME         openat(open(DIR), NAME)
 *   chdir-open DIR NAME         chdir(DIR), openat(AT_FDCWD, NAME)
 *   symlink-open LINK TARGET    symlink(TARGET, LINK), open LINK, unlink LINK
 *                               (refused if LINK exists)
 * Connects (IP: IPv4 or IPv6 text; each prints result, peer):
 *   uring-connect IP PORT       io_uring IORING_OP_CONNECT
 *   compat-connect IP PORT      32-bit socket (359) + connect (362), sockaddr in
 *                               MAP_32BIT memory
 *   compat-socketcall IP PORT   32-bit socketcall (102): SYS_SOCKET, SYS_CONNECT
 *   tfo IP PORT                 sendto(MSG_FASTOPEN) of 5 bytes on a fresh TCP socket
 *   udp-sendto IP PORT          sendto() of one datagram (received=1 when our
 *                               own listener got it)
 *   udp-sendmsg IP PORT         sendmsg() with msg_name
 *   connect-unfaulted IP PORT   connect() with the sockaddr in a freshly mmap'd
 *                               memfd page that is not present until the kernel
 *                               copies it (present_before=0 present_after=1 from
 *                               /proc/self/pagemap)
 *   connect6-24 IP PORT         AF_INET6 connect() with addrlen 24
 * Races (a second thread rewrites the buffer while the main thread calls):
 *   race-open TARGET DECOY N    N openat()s of a shared path buffer flipped
 *                               between TARGET and DECOY (only the differing
 *                               bytes are written: one byte apart, the buffer is
 *                               always one of the two; strings of different
 *                               lengths are rewritten whole, and most opens
 *                               then fail on a mix); each fd's dev/ino is
 *                               compared with TARGET's and DECOY's:
 *                               actual_target_opens= actual_decoy_opens=
 *                               other_opens= failed_opens=
 *   race-connect IP TPORT DPORT N
 *                               N connect()s of a shared sockaddr whose port is
 *                               flipped between TPORT and DPORT (listeners on
 *                               both, our own); getpeername after each:
 *                               actual_target_connects= actual_decoy_connects=
 *                               failed_connects=
 *   Both exit 0 only when both TARGET and DECOY were hit; N <= 10,000,000,
 *   at most 120 s. Both pin the caller and the flipper to two different CPUs when they may
 *   (cpus=A,B) and print raced_calls=: the calls during which the flipper
 *   wrote at least once (the race was live).
 *   With EG_EVADE_SEQ=1 in the environment, the races also print
 *   sequence=TDOF... : each call's outcome in order (Target, Decoy, Other,
 *   Failed), to pair the recorded events with the calls one by one.
 * Execs (fork; the child execs; the parent waits at most 10 s and prints
 * pid= (the child), ppid=, status=):
 *   execveat-empty PATH [ARG...]  open(PATH), execveat(fd, "", argv, envp,
 *                               AT_EMPTY_PATH) (what fexecve does); argv =
 *                               PATH ARG...; the "" is read first, so its page
 *                               is in
 *   execveat-empty-fresh PATH [ARG...]
 *                               the same with a "" on a page of its own that
 *                               the child never touched (not present after fork)
 *   exec-symlink TARGET LINK [ARG...]
 *                               symlink(TARGET, LINK), execve(LINK), argv =
 *                               LINK ARG...; LINK is unlinked after the child
 *                               ends (refused if LINK exists)
 *
 * Everything created is removed; every loop is bounded; no child outlives the
 * program; an alarm ends the program after 180 s whatever it is blocked in.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/net.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<linux/io_uring.h>)
#include <linux/io_uring.h>
#define EG_HAVE_IO_URING_H 1
#endif
#endif

#ifndef EG_HAVE_IO_URING_H
/* The parts of the io_uring ABI used here (stable since 5.6). */
struct io_sqring_offsets {
	uint32_t head, tail, ring_mask, ring_entries, flags, dropped, array, resv1;
	uint64_t user_addr;
};
struct io_cqring_offsets {
	uint32_t head, tail, ring_mask, ring_entries, overflow, cqes, flags, resv1;
	uint64_t user_addr;
};
struct io_uring_params {
	uint32_t sq_entries, cq_entries, flags, sq_thread_cpu, sq_thread_idle, features, wq_fd;
	uint32_t resv[3];
	struct io_sqring_offsets sq_off;
	struct io_cqring_offsets cq_off;
};
struct io_uring_sqe {
	uint8_t opcode, flags;
	uint16_t ioprio;
	int32_t fd;
	union {
		uint64_t off;
		uint64_t addr2;
	};
	uint64_t addr;
	uint32_t len;
	union {
		uint32_t rw_flags;
		uint32_t open_flags;
	};
	uint64_t user_data;
	uint64_t pad[3];
};
struct io_uring_cqe {
	uint64_t user_data;
	int32_t res;
	uint32_t flags;
};
#define IORING_OFF_SQ_RING 0ULL
#define IORING_OFF_CQ_RING 0x8000000ULL
#define IORING_OFF_SQES 0x10000000ULL
#define IORING_FEAT_SINGLE_MMAP (1U << 0)
#define IORING_ENTER_GETEVENTS (1U << 0)
#define IOSQE_IO_LINK (1U << 2)
#define IOSQE_ASYNC (1U << 4)
#define IORING_OP_LINK_TIMEOUT 15
#define IORING_OP_CONNECT 16
#define IORING_OP_OPENAT 18
#define IORING_OP_OPENAT2 28
struct __kernel_timespec {
	int64_t tv_sec;
	long long tv_nsec;
};
#endif

#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#define SYS_io_uring_enter 426
#endif

/* 32-bit (ia32) system call numbers, for int $0x80 */
#define IA32_GETPID 20
#define IA32_OPEN 5
#define IA32_CREAT 8
#define IA32_SOCKETCALL 102
#define IA32_OPENAT 295
#define IA32_SOCKET 359
#define IA32_CONNECT 362

#define CLIENT_TIMEOUT_S 3

extern char **environ;

static int die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("eg_evade: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

static void print_pid(void)
{
	printf("pid=%d\n", getpid());
	fflush(stdout);
}

/* ---- what an fd is --------------------------------------------------------- */

/* Prints fd, dev, ino and the kernel's path of the open file. */
static void describe_fd(int fd)
{
	struct stat st;
	char link[64], real[4096];
	ssize_t n;

	if (fstat(fd, &st)) {
		printf("fd=%d fstat_errno=%d\n", fd, errno);
		return;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, real, sizeof(real) - 1);
	real[n > 0 ? n : 0] = 0;
	printf("fd=%d\ndev=%u:%u\nino=%llu\nrealpath=%s\n", fd, major(st.st_dev), minor(st.st_dev),
	       (unsigned long long)st.st_ino, real);
}

/* An open's result: -errno or an fd, which is described and closed. */
static int report_open(long res, const char *what)
{
	printf("result=%ld\n", res);
	if (res < 0)
		return die("%s: %s", what, strerror((int)-res));
	describe_fd((int)res);
	close((int)res);
	return 0;
}

/* ---- addresses ---------------------------------------------------------- */

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int family;
};

static int parse_addr(const char *ip, const char *port_s, struct addr *a)
{
	char *end;
	unsigned long port = strtoul(port_s, &end, 10);

	if (!*port_s || *end || port > 65535)
		return die("bad port: %s", port_s);
	memset(a, 0, sizeof(*a));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		a->len = sizeof(*s4);
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*s6);
		a->family = AF_INET6;
		return 0;
	}
	return die("bad IP address: %s", ip);
}

static const char *addr_text(const struct sockaddr *sa, char *buf, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;
		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		port = ntohs(s->sin_port);
		snprintf(buf, n, "%s:%u", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)sa;
		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		port = ntohs(s->sin6_port);
		snprintf(buf, n, "[%s]:%u", ip, port);
	} else {
		snprintf(buf, n, "family-%d", sa->sa_family);
	}
	return buf;
}

/* Prints peer=IP:PORT of a connected socket; returns its port or -1. */
static int print_peer(int s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char buf[80];

	if (getpeername(s, (struct sockaddr *)&ss, &len)) {
		printf("peer=none\n");
		return -1;
	}
	printf("peer=%s\n", addr_text((struct sockaddr *)&ss, buf, sizeof(buf)));
	return ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
				       : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Listens on the address (TCP) or binds it (UDP) when it can: -1 when the
 * address is not local (or the port is taken: someone else listens). */
static int listen_on(const struct addr *a, int type, const char **who)
{
	int one = 1;
	int s = socket(a->family, type | SOCK_CLOEXEC, 0);

	*who = "none";
	if (s < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->family == AF_INET6)
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(s, (const struct sockaddr *)&a->ss, a->len) ||
	    (type == SOCK_STREAM && listen(s, 4096))) {
		if (errno == EADDRINUSE)
			*who = "external";
		close(s);
		return -1;
	}
	*who = "self";
	return s;
}

static int client_socket(int family, int type)
{
	struct timeval tv = {.tv_sec = CLIENT_TIMEOUT_S};
	int s = socket(family, type | SOCK_CLOEXEC, 0);

	if (s >= 0) {
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	return s;
}

/* ---- io_uring, raw -------------------------------------------------------- */

struct uring {
	int fd;
	unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	void *sq_ptr, *cq_ptr;
	size_t sq_sz, cq_sz, sqes_sz;
};

static int uring_init(struct uring *u, unsigned entries)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	memset(u, 0, sizeof(*u));
	u->fd = (int)syscall(SYS_io_uring_setup, entries, &p);
	if (u->fd < 0)
		return die("io_uring_setup: %s (kernel.io_uring_disabled?)", strerror(errno));
	u->sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	u->cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (u->cq_sz > u->sq_sz)
			u->sq_sz = u->cq_sz;
		u->cq_sz = u->sq_sz;
	}
	u->sq_ptr = mmap(NULL, u->sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd,
			 IORING_OFF_SQ_RING);
	if (u->sq_ptr == MAP_FAILED)
		return die("mmap SQ ring: %s", strerror(errno));
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		u->cq_ptr = u->sq_ptr;
	} else {
		u->cq_ptr = mmap(NULL, u->cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd,
				 IORING_OFF_CQ_RING);
		if (u->cq_ptr == MAP_FAILED)
			return die("mmap CQ ring: %s", strerror(errno));
	}
	u->sqes_sz = p.sq_entries * sizeof(struct io_uring_sqe);
	u->sqes = mmap(NULL, u->sqes_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd,
		       IORING_OFF_SQES);
	if (u->sqes == MAP_FAILED)
		return die("mmap SQEs: %s", strerror(errno));
	char *sq = u->sq_ptr, *cq = u->cq_ptr;
	u->sq_head = (unsigned *)(sq + p.sq_off.head);
	u->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	u->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	u->sq_array = (unsigned *)(sq + p.sq_off.array);
	u->cq_head = (unsigned *)(cq + p.cq_off.head);
	u->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	u->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

static void uring_free(struct uring *u)
{
	if (u->sqes && u->sqes != MAP_FAILED)
		munmap(u->sqes, u->sqes_sz);
	if (u->cq_ptr && u->cq_ptr != MAP_FAILED && u->cq_ptr != u->sq_ptr)
		munmap(u->cq_ptr, u->cq_sz);
	if (u->sq_ptr && u->sq_ptr != MAP_FAILED)
		munmap(u->sq_ptr, u->sq_sz);
	if (u->fd >= 0)
		close(u->fd);
}

/* The next free SQE, zeroed, queued in the SQ array (published by submit). */
static struct io_uring_sqe *uring_sqe(struct uring *u, unsigned *pending)
{
	unsigned tail = *u->sq_tail + *pending;
	unsigned idx = tail & *u->sq_mask;
	struct io_uring_sqe *sqe = &u->sqes[idx];

	memset(sqe, 0, sizeof(*sqe));
	u->sq_array[idx] = idx;
	(*pending)++;
	return sqe;
}

/* Submits the pending SQEs and waits for as many completions; res[i] gets the
 * result of the completion whose user_data is i. */
static int uring_run(struct uring *u, unsigned n, int *res)
{
	__atomic_store_n(u->sq_tail, *u->sq_tail + n, __ATOMIC_RELEASE);
	unsigned got = 0;
	for (int tries = 0; got < n && tries < 100; tries++) {
		long r = syscall(SYS_io_uring_enter, u->fd, tries ? 0 : n, n - got, IORING_ENTER_GETEVENTS,
				 NULL, 0);
		if (r < 0 && errno != EINTR)
			return die("io_uring_enter: %s", strerror(errno));
		unsigned head = *u->cq_head;
		while (head != __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE)) {
			struct io_uring_cqe *c = &u->cqes[head & *u->cq_mask];
			if (c->user_data < n)
				res[c->user_data] = c->res;
			head++;
			got++;
		}
		__atomic_store_n(u->cq_head, head, __ATOMIC_RELEASE);
	}
	return got == n ? 0 : die("io_uring: %u of %u completions", got, n);
}

static int uring_open(const char *path, int v2, int async)
{
	struct uring u;
	struct open_how how = {.flags = O_RDONLY};
	unsigned pending = 0;
	int res[1] = {-ENODATA};

	if (uring_init(&u, 4)) {
		uring_free(&u);
		return 1;
	}
	print_pid();
	struct io_uring_sqe *sqe = uring_sqe(&u, &pending);
	sqe->fd = AT_FDCWD;
	sqe->addr = (uintptr_t)path;
	if (v2) {
		sqe->opcode = IORING_OP_OPENAT2;
		sqe->len = sizeof(how);
		sqe->addr2 = (uintptr_t)&how;
	} else {
		sqe->opcode = IORING_OP_OPENAT;
		sqe->open_flags = O_RDONLY;
	}
	if (async)
		sqe->flags |= IOSQE_ASYNC;
	sqe->user_data = 0;
	int rc = uring_run(&u, pending, res);
	uring_free(&u);
	if (rc)
		return rc;
	printf("io_uring_op=%s\n", v2 ? "openat2" : "openat");
	return report_open(res[0], v2 ? "io_uring openat2" : "io_uring openat");
}

static int uring_connect(const char *ip, const char *port)
{
	struct addr a;
	struct uring u;
	struct __kernel_timespec ts = {.tv_sec = CLIENT_TIMEOUT_S};
	unsigned pending = 0;
	int res[2] = {-ENODATA, -ENODATA};
	const char *who;

	if (parse_addr(ip, port, &a))
		return 2;
	int l = listen_on(&a, SOCK_STREAM, &who);
	int s = client_socket(a.family, SOCK_STREAM);
	if (s < 0)
		return die("socket: %s", strerror(errno));
	if (uring_init(&u, 4)) {
		uring_free(&u);
		return 1;
	}
	print_pid();
	printf("listener=%s\n", who);
	struct io_uring_sqe *sqe = uring_sqe(&u, &pending);
	sqe->opcode = IORING_OP_CONNECT;
	sqe->fd = s;
	sqe->addr = (uintptr_t)&a.ss;
	sqe->addr2 = a.len;
	sqe->flags = IOSQE_IO_LINK;
	sqe->user_data = 0;
	sqe = uring_sqe(&u, &pending);
	sqe->opcode = IORING_OP_LINK_TIMEOUT;
	sqe->addr = (uintptr_t)&ts;
	sqe->len = 1;
	sqe->user_data = 1;
	int rc = uring_run(&u, pending, res);
	uring_free(&u);
	if (!rc) {
		printf("result=%d\n", res[0]);
		print_peer(s);
		if (res[0] < 0)
			rc = die("io_uring connect: %s", strerror(-res[0]));
	}
	close(s);
	if (l >= 0)
		close(l);
	return rc;
}

/* ---- 32-bit system calls from this 64-bit process ------------------------ */

static sigjmp_buf int80_jmp;

static void int80_fault(int sig)
{
	(void)sig;
	siglongjmp(int80_jmp, 1);
}

static long int80(long nr, long a, long b, long c)
{
#if defined(__x86_64__)
	long ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c)
			 : "memory", "cc", "r8", "r9", "r10", "r11");
	return (long)(int)ret; /* eax, sign-extended */
#else
	(void)nr, (void)a, (void)b, (void)c;
	return -ENOSYS;
#endif
}

/* 0 when int $0x80 works here (IA32 emulation on): a 32-bit getpid. */
static int ia32_check(void)
{
#if !defined(__x86_64__)
	return die("compat subcommands need x86-64");
#else
	struct sigaction sa = {.sa_handler = int80_fault}, old_segv, old_bus;
	volatile long r = -ENOSYS;

	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	if (!sigsetjmp(int80_jmp, 1))
		r = int80(IA32_GETPID, 0, 0, 0);
	else
		r = -1000;
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	if (r == -1000)
		return die("int $0x80 faulted: this kernel has no IA32 emulation "
			   "(CONFIG_IA32_EMULATION off, or booted with ia32_emulation=0)");
	if (r != getpid())
		return die("int $0x80 getpid returned %ld, not %d: no usable IA32 emulation", r,
			   (int)getpid());
	return 0;
#endif
}

/* A page below 2 GiB (32-bit pointers). */
static void *low_page(void)
{
#ifndef MAP_32BIT
#define MAP_32BIT 0
#endif
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (p == MAP_FAILED || (uintptr_t)p >= (1ULL << 32)) {
		die("mmap MAP_32BIT: %s", p == MAP_FAILED ? strerror(errno) : "address above 4 GiB");
		return NULL;
	}
	return p;
}

static long int80x(long nr, long a, long b, long c, long d, long e)
{
#if defined(__x86_64__)
	long ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
			 : "memory", "cc", "r8", "r9", "r10", "r11");
	return (long)(int)ret;
#else
	(void)nr, (void)a, (void)b, (void)c, (void)d, (void)e;
	return -ENOSYS;
#endif
}

static int usage(void);

/* compat-call: a 32-bit system call with numbers and strings (in low memory). */
static int compat_call(char **a, int n)
{
	long v[5] = {0};
	size_t used = 0;
	char *end;

	if (n < 1 || n > 6)
		return usage();
	if (ia32_check())
		return 1;
	char *p = low_page();
	if (!p)
		return 1;
	long nr = strtol(a[0], &end, 0);
	if (*end)
		return usage();
	for (int i = 1; i < n; i++) {
		if (!strncmp(a[i], "s:", 2)) {
			size_t l = strlen(a[i] + 2) + 1;
			if (used + l > 4096)
				return die("compat-call: strings longer than a page");
			memcpy(p + used, a[i] + 2, l);
			v[i - 1] = (long)(uintptr_t)(p + used);
			used += l;
		} else {
			v[i - 1] = strtol(a[i], &end, 0);
			if (*end)
				return usage();
		}
	}
	print_pid();
	printf("compat_call.result=%ld\n", int80x(nr, v[0], v[1], v[2], v[3], v[4]));
	munmap(p, 4096);
	return 0;
}

static int must_not_exist(const char *path)
{
	struct stat st;
	if (!lstat(path, &st) || errno != ENOENT)
		return die("%s exists (or cannot be checked): refusing to create it", path);
	return 0;
}

static int compat_open(const char *how, const char *path)
{
	size_t n = strlen(path) + 1;
	long r;

	if (n > 4000)
		return die("path too long for one page");
	if (ia32_check())
		return 1;
	int creating = !strcmp(how, "creat");
	if (creating && must_not_exist(path))
		return 1;
	char *p = low_page();
	if (!p)
		return 1;
	memcpy(p, path, n);
	print_pid();
	if (!strcmp(how, "open"))
		r = int80(IA32_OPEN, (long)(uintptr_t)p, O_RDONLY, 0);
	else if (!strcmp(how, "openat"))
		r = int80(IA32_OPENAT, AT_FDCWD, (long)(uintptr_t)p, O_RDONLY);
	else
		r = int80(IA32_CREAT, (long)(uintptr_t)p, 0600, 0);
	printf("compat_syscall=%s\n", how);
	int rc = report_open(r, how);
	if (creating && r >= 0 && unlink(path))
		rc = die("unlink %s: %s", path, strerror(errno));
	munmap(p, 4096);
	return rc;
}

static int compat_connect(const char *ip, const char *port, int socketcall)
{
	struct addr a;
	const char *who;
	long s, r;

	if (parse_addr(ip, port, &a))
		return 2;
	if (ia32_check())
		return 1;
	char *p = low_page();
	if (!p)
		return 1;
	int l = listen_on(&a, SOCK_STREAM, &who);
	memcpy(p, &a.ss, a.len);
	uint32_t *args = (uint32_t *)(p + 256); /* socketcall's argument array */
	print_pid();
	printf("listener=%s\n", who);
	if (socketcall) {
		args[0] = (uint32_t)a.family;
		args[1] = SOCK_STREAM;
		args[2] = 0;
		s = int80(IA32_SOCKETCALL, SYS_SOCKET, (long)(uintptr_t)args, 0);
	} else {
		s = int80(IA32_SOCKET, a.family, SOCK_STREAM, 0);
	}
	if (s < 0) {
		munmap(p, 4096);
		return die("compat socket: %s", strerror((int)-s));
	}
	struct timeval tv = {.tv_sec = CLIENT_TIMEOUT_S};
	setsockopt((int)s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (socketcall) {
		args[0] = (uint32_t)s;
		args[1] = (uint32_t)(uintptr_t)p;
		args[2] = a.len;
		r = int80(IA32_SOCKETCALL, SYS_CONNECT, (long)(uintptr_t)args, 0);
	} else {
		r = int80(IA32_CONNECT, s, (long)(uintptr_t)p, a.len);
	}
	printf("compat_syscall=%s\nresult=%ld\n", socketcall ? "socketcall" : "connect", r);
	print_peer((int)s);
	close((int)s);
	if (l >= 0)
		close(l);
	munmap(p, 4096);
	return r ? die("compat connect: %s", strerror((int)-r)) : 0;
}

/* ---- other connects ------------------------------------------------------ */

static int tfo(const char *ip, const char *port)
{
	struct addr a;
	const char *who;
	int qlen = 16;

	if (parse_addr(ip, port, &a))
		return 2;
	int l = listen_on(&a, SOCK_STREAM, &who);
	if (l >= 0)
		setsockopt(l, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen));
	int s = client_socket(a.family, SOCK_STREAM);
	if (s < 0)
		return die("socket: %s", strerror(errno));
	print_pid();
	printf("listener=%s\n", who);
	ssize_t r = sendto(s, "hello", 5, MSG_FASTOPEN, (struct sockaddr *)&a.ss, a.len);
	int e = errno;
	printf("result=%zd\n", r < 0 ? -(ssize_t)e : r);
	print_peer(s);
	close(s);
	if (l >= 0)
		close(l);
	return r == 5 ? 0 : die("sendto(MSG_FASTOPEN): %s", r < 0 ? strerror(e) : "short write");
}

static int udp_send(const char *ip, const char *port, int use_msg)
{
	struct addr a;
	const char *who;
	char buf[16];

	if (parse_addr(ip, port, &a))
		return 2;
	int l = listen_on(&a, SOCK_DGRAM, &who);
	int s = client_socket(a.family, SOCK_DGRAM);
	if (s < 0)
		return die("socket: %s", strerror(errno));
	print_pid();
	printf("listener=%s\n", who);
	ssize_t r;
	if (use_msg) {
		struct iovec iov = {.iov_base = "hello", .iov_len = 5};
		struct msghdr m = {.msg_name = &a.ss, .msg_namelen = a.len, .msg_iov = &iov, .msg_iovlen = 1};
		r = sendmsg(s, &m, 0);
	} else {
		r = sendto(s, "hello", 5, 0, (struct sockaddr *)&a.ss, a.len);
	}
	int e = errno;
	printf("result=%zd\n", r < 0 ? -(ssize_t)e : r);
	if (l >= 0) {
		struct pollfd pf = {.fd = l, .events = POLLIN};
		int got = poll(&pf, 1, CLIENT_TIMEOUT_S * 1000) == 1 && recv(l, buf, sizeof(buf), 0) == 5;
		printf("received=%d\n", got);
		close(l);
	}
	close(s);
	return r == 5 ? 0 : die("%s: %s", use_msg ? "sendmsg" : "sendto", r < 0 ? strerror(e) : "short");
}

/* Bit 63 of the page's /proc/self/pagemap entry: present in our page tables. */
static int page_present(const void *p)
{
	uint64_t ent = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	off_t off = (off_t)((uintptr_t)p / (uintptr_t)sysconf(_SC_PAGESIZE)) * 8;
	ssize_t n = pread(fd, &ent, sizeof(ent), off);
	close(fd);
	return n == 8 ? (int)(ent >> 63) : -1;
}

static int connect_plain(const char *ip, const char *port, int how)
{
	struct addr a;
	const char *who;
	void *map = MAP_FAILED;
	const struct sockaddr *sa;
	socklen_t len;

	if (parse_addr(ip, port, &a))
		return 2;
	if (how == 24 && a.family != AF_INET6)
		return die("connect6-24 needs an IPv6 address");
	int l = listen_on(&a, SOCK_STREAM, &who);
	int s = client_socket(a.family, SOCK_STREAM);
	if (s < 0)
		return die("socket: %s", strerror(errno));
	sa = (struct sockaddr *)&a.ss;
	len = how == 24 ? 24 : a.len;
	if (how == 'u') {
		/* the sockaddr only in a file's page cache; a fresh shared mapping of
		 * it has no page table entry until the kernel's copy faults it in */
		int mfd = (int)syscall(SYS_memfd_create, "eg-evade-sockaddr", 1U /* MFD_CLOEXEC */);
		if (mfd < 0 || write(mfd, &a.ss, a.len) != (ssize_t)a.len)
			return die("memfd: %s", strerror(errno));
		map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, mfd, 0);
		close(mfd);
		if (map == MAP_FAILED)
			return die("mmap: %s", strerror(errno));
		sa = map;
	}
	int before = how == 'u' ? page_present(map) : -1;
	print_pid();
	printf("listener=%s\naddrlen=%u\n", who, (unsigned)len);
	int r = connect(s, sa, len);
	int e = errno;
	if (how == 'u')
		printf("present_before=%d\npresent_after=%d\n", before, page_present(map));
	printf("result=%d\n", r ? -e : 0);
	print_peer(s);
	close(s);
	if (l >= 0)
		close(l);
	if (map != MAP_FAILED)
		munmap(map, 4096);
	if (r)
		return die("connect: %s", strerror(e));
	if (how == 'u' && before != 0)
		return die("the sockaddr page was present before connect (pagemap says %d)", before);
	return 0;
}

/* ---- races ----------------------------------------------------------------- */

#define RACE_MAX_N 10000000L
#define RACE_MAX_SECONDS 120

/* Per-call outcomes of a race, kept when EG_EVADE_SEQ=1. */
static char *race_seq;

static void seq_init(long n)
{
	const char *e = getenv("EG_EVADE_SEQ");
	if (e && !strcmp(e, "1"))
		race_seq = calloc((size_t)n + 1, 1);
}

static void seq_put(long i, char c)
{
	if (race_seq)
		race_seq[i] = c;
}

static void seq_print(void)
{
	if (race_seq)
		printf("sequence=%s\n", race_seq);
	free(race_seq);
	race_seq = NULL;
}

struct flipper {
	volatile char *buf;
	const char *a, *b;
	size_t la, lb;
	size_t diff[64];
	int ndiff; /* -1: lengths differ, the whole string is rewritten */
	volatile uint16_t *port;
	uint16_t pa, pb;
	volatile int stop;
	unsigned long flips; /* written by the flipper only */
	int cpu;             /* the flipper's CPU, -1: not pinned */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void put_str(struct flipper *f, const char *s, size_t len)
{
	if (f->ndiff >= 0) {
		for (int i = 0; i < f->ndiff; i++)
			f->buf[f->diff[i]] = s[f->diff[i]];
	} else {
		for (size_t i = 0; i <= len; i++)
			f->buf[i] = s[i];
	}
}

static void *flip_thread(void *arg)
{
	struct flipper *f = arg;
	double deadline = now_s() + RACE_MAX_SECONDS;

	if (f->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(f->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			f->cpu = -1;
	}

	for (unsigned long i = 0; !f->stop && i < 4000000000UL; i++) {
		if (f->port)
			*f->port = (i & 1) ? f->pb : f->pa;
		else if (i & 1)
			put_str(f, f->b, f->lb);
		else
			put_str(f, f->a, f->la);
		__atomic_store_n(&f->flips, f->flips + 1, __ATOMIC_RELAXED);
		if ((i & 0xffff) == 0 && now_s() > deadline)
			break;
	}
	return NULL;
}

static unsigned long flips_now(struct flipper *f)
{
	return __atomic_load_n(&f->flips, __ATOMIC_RELAXED);
}

/* Two CPUs we may run on: the main thread is pinned to the first now, the
 * flipper to the second when it starts, so the race runs truly in parallel
 * (on one CPU the flipper would only run while the caller is preempted).
 * Prints cpus=A,B, or cpus=unpinned with fewer than two. */
static void pin_race(struct flipper *f)
{
	cpu_set_t set;
	int a = -1;

	f->cpu = -1;
	if (!sched_getaffinity(0, sizeof(set), &set))
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &set)) {
				if (a < 0) {
					a = c;
				} else {
					f->cpu = c;
					break;
				}
			}
	if (f->cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(a, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			f->cpu = -1;
	}
	if (f->cpu >= 0)
		printf("cpus=%d,%d\n", a, f->cpu);
	else
		printf("cpus=unpinned\n");
}

/* The race starts once the flipper runs (at most 1 s). */
static void wait_flipping(struct flipper *f)
{
	for (int i = 0; i < 1000 && !flips_now(f); i++)
		usleep(1000);
}

/* The race's start: the sequence log, the pid line, both threads pinned, the
 * flipper running and seen flipping. 0, or 1 after a message. */
static int start_race(struct flipper *f, pthread_t *th, long n)
{
	seq_init(n);
	print_pid();
	pin_race(f);
	if (pthread_create(th, NULL, flip_thread, f))
		return die("pthread_create failed");
	wait_flipping(f);
	return 0;
}

static long parse_n(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);
	return (*s && !*end && n > 0 && n <= RACE_MAX_N) ? n : -1;
}

static int race_open(const char *target, const char *decoy, const char *n_s)
{
	struct stat st_t, st_d, st;
	static char buf[4096];
	struct flipper f;
	pthread_t th;
	long n = parse_n(n_s), tgt = 0, dec = 0, other = 0, failed = 0;

	if (n < 0)
		return die("bad count (1..%ld): %s", RACE_MAX_N, n_s);
	if (stat(target, &st_t) || stat(decoy, &st_d))
		return die("stat target/decoy: %s", strerror(errno));
	if (st_t.st_dev == st_d.st_dev && st_t.st_ino == st_d.st_ino)
		return die("target and decoy are the same file");
	memset(&f, 0, sizeof(f));
	f.buf = buf;
	f.a = target;
	f.b = decoy;
	f.la = strlen(target);
	f.lb = strlen(decoy);
	if (f.la >= sizeof(buf) || f.lb >= sizeof(buf))
		return die("path too long");
	f.ndiff = f.la == f.lb ? 0 : -1;
	for (size_t i = 0; f.ndiff >= 0 && i < f.la; i++)
		if (target[i] != decoy[i]) {
			if (f.ndiff == 64) {
				f.ndiff = -1;
				break;
			}
			f.diff[f.ndiff++] = i;
		}
	memcpy(buf, target, f.la + 1);
	if (start_race(&f, &th, n))
		return 1;
	double deadline = now_s() + RACE_MAX_SECONDS;
	long i;
	long raced = 0;
	for (i = 0; i < n; i++) {
		unsigned long before = flips_now(&f);
		int fd = (int)syscall(SYS_openat, AT_FDCWD, buf, O_RDONLY | O_CLOEXEC);
		raced += flips_now(&f) != before;
		if (fd < 0) {
			failed++;
			seq_put(i, 'F');
		} else {
			if (fstat(fd, &st)) {
				other++;
				seq_put(i, 'O');
			} else if (st.st_dev == st_t.st_dev && st.st_ino == st_t.st_ino) {
				tgt++;
				seq_put(i, 'T');
			} else if (st.st_dev == st_d.st_dev && st.st_ino == st_d.st_ino) {
				dec++;
				seq_put(i, 'D');
			} else {
				other++;
				seq_put(i, 'O');
			}
			close(fd);
		}
		if (now_s() > deadline)
			break;
	}
	f.stop = 1;
	pthread_join(th, NULL);
	printf("raced_calls=%ld\n", raced);
	printf("iterations=%ld\nflip_bytes=%d\nflips=%lu\nactual_target_opens=%ld\nactual_decoy_opens=%ld\n"
	       "other_opens=%ld\nfailed_opens=%ld\n",
	       i, f.ndiff, f.flips, tgt, dec, other, failed);
	seq_print();
	if (i < n)
		return die("stopped after %d s", RACE_MAX_SECONDS);
	if (!tgt || !dec)
		return die("no race: %ld target and %ld decoy opens", tgt, dec);
	return 0;
}

/* Takes the connection a connect() just made from whichever listener has it. */
static void accept_one(int l1, int l2)
{
	struct pollfd pf[2] = {{.fd = l1, .events = POLLIN}, {.fd = l2, .events = POLLIN}};
	if (poll(pf, 2, 1000) <= 0)
		return;
	for (int k = 0; k < 2; k++)
		if (pf[k].revents & POLLIN) {
			int c = accept4(pf[k].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (c >= 0)
				close(c);
		}
}

static int race_connect(const char *ip, const char *tport_s, const char *dport_s, const char *n_s)
{
	struct addr a, ad;
	struct flipper f;
	pthread_t th;
	const char *w1, *w2;
	long n = parse_n(n_s), tgt = 0, dec = 0, failed = 0, other = 0;
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	if (n < 0)
		return die("bad count (1..%ld): %s", RACE_MAX_N, n_s);
	if (parse_addr(ip, tport_s, &a) || parse_addr(ip, dport_s, &ad))
		return 2;
	int tport = atoi(tport_s), dport = atoi(dport_s);
	if (tport == dport)
		return die("target and decoy ports are the same");
	int l1 = listen_on(&a, SOCK_STREAM, &w1);
	int l2 = listen_on(&ad, SOCK_STREAM, &w2);
	if (l1 < 0 || l2 < 0)
		return die("cannot listen on both ports (%s, %s): use a local address and free ports", w1, w2);
	static struct sockaddr_storage shared;
	memcpy(&shared, &a.ss, a.len);
	memset(&f, 0, sizeof(f));
	/* sin_port and sin6_port: the same aligned 16 bits */
	f.port = &((struct sockaddr_in *)&shared)->sin_port;
	f.pa = htons((uint16_t)tport);
	f.pb = htons((uint16_t)dport);
	if (start_race(&f, &th, n))
		return 1;
	double deadline = now_s() + RACE_MAX_SECONDS;
	long i, raced = 0;
	for (i = 0; i < n; i++) {
		int s = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0) {
			failed++;
			seq_put(i, 'F');
			continue;
		}
		/* closed with a RST: no TIME_WAIT piling up over the ports */
		setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		unsigned long before = flips_now(&f);
		int cr = connect(s, (struct sockaddr *)&shared, a.len);
		raced += flips_now(&f) != before;
		if (cr) {
			failed++;
			seq_put(i, 'F');
		} else {
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			int p = -1;
			if (!getpeername(s, (struct sockaddr *)&ss, &len))
				p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
			if (p == tport)
				tgt++;
			else if (p == dport)
				dec++;
			else
				other++;
			seq_put(i, p == tport ? 'T' : p == dport ? 'D' : 'O');
			accept_one(l1, l2);
		}
		close(s);
		if (now_s() > deadline)
			break;
	}
	f.stop = 1;
	pthread_join(th, NULL);
	close(l1);
	close(l2);
	printf("raced_calls=%ld\n", raced);
	printf("iterations=%ld\nflips=%lu\nactual_target_connects=%ld\nactual_decoy_connects=%ld\n"
	       "other_connects=%ld\nfailed_connects=%ld\n",
	       i, f.flips, tgt, dec, other, failed);
	seq_print();
	if (i < n)
		return die("stopped after %d s", RACE_MAX_SECONDS);
	if (!tgt || !dec)
		return die("no race: %ld target and %ld decoy connects", tgt, dec);
	return 0;
}

/* ---- path forms ----------------------------------------------------------- */

static int open_path(const char *path)
{
	print_pid();
	long r = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	return report_open(r < 0 ? -errno : r, path);
}

static int openat_dir(const char *dir, const char *name)
{
	int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return die("open %s: %s", dir, strerror(errno));
	print_pid();
	printf("dirfd=%d\n", d);
	long r = syscall(SYS_openat, d, name, O_RDONLY | O_CLOEXEC);
	r = r < 0 ? -errno : r;
	int rc = report_open(r, name);
	close(d);
	return rc;
}

static int chdir_open(const char *dir, const char *name)
{
	if (chdir(dir))
		return die("chdir %s: %s", dir, strerror(errno));
	print_pid();
	long r = syscall(SYS_openat, AT_FDCWD, name, O_RDONLY | O_CLOEXEC);
	return report_open(r < 0 ? -errno : r, name);
}

static int symlink_open(const char *link, const char *target)
{
	if (must_not_exist(link))
		return 1;
	if (symlink(target, link))
		return die("symlink %s -> %s: %s", link, target, strerror(errno));
	print_pid();
	long r = syscall(SYS_openat, AT_FDCWD, link, O_RDONLY | O_CLOEXEC);
	int rc = report_open(r < 0 ? -errno : r, link);
	if (unlink(link))
		rc = die("unlink %s: %s", link, strerror(errno));
	return rc;
}

static int other_open(const char *what, const char *path)
{
	long r;

	if (!strcmp(what, "creat")) {
		if (must_not_exist(path))
			return 1;
		print_pid();
#ifdef SYS_creat
		r = syscall(SYS_creat, path, 0600);
#else
		return die("no creat(2) on this architecture");
#endif
		int rc = report_open(r < 0 ? -errno : r, "creat");
		if (r >= 0 && unlink(path))
			rc = die("unlink %s: %s", path, strerror(errno));
		return rc;
	}
	/* open-by-handle */
	static union {
		struct file_handle fh;
		unsigned char bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h;
	int mount_id;
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0))
		return die("name_to_handle_at %s: %s", path, strerror(errno));
	/* the mount fd: the mount point of mount_id (any fd on that mount works) */
	char line[4096], mnt[4096] = "/";
	FILE *mi = fopen("/proc/self/mountinfo", "re");
	for (int k = 0; mi && k < 100000 && fgets(line, sizeof(line), mi); k++) {
		int id;
		char mp[4096];
		if (sscanf(line, "%d %*d %*s %*s %4095s", &id, mp) == 2 && id == mount_id) {
			/* mountinfo escapes blanks as \040 etc.: undo */
			size_t o = 0;
			for (size_t j = 0; mp[j] && o < sizeof(mnt) - 1; j++) {
				if (mp[j] == '\\' && mp[j + 1] >= '0' && mp[j + 1] <= '3' && mp[j + 2] && mp[j + 3]) {
					mnt[o++] = (char)((mp[j + 1] - '0') * 64 + (mp[j + 2] - '0') * 8 + (mp[j + 3] - '0'));
					j += 3;
				} else {
					mnt[o++] = mp[j];
				}
			}
			mnt[o] = 0;
			break;
		}
	}
	if (mi)
		fclose(mi);
	int mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return die("open mount point %s: %s", mnt, strerror(errno));
	print_pid();
	printf("mount_id=%d\nmount_point=%s\nhandle_bytes=%u\n", mount_id, mnt, h.fh.handle_bytes);
	r = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_CLOEXEC);
	int rc = report_open(r < 0 ? -errno : r, "open_by_handle_at");
	close(mfd);
	return rc;
}

/* ---- exec forms ------------------------------------------------------------ */

/* Waits at most 10 s for the child; kills it past that. */
static int wait_child(pid_t pid)
{
	int st = 0;
	for (int i = 0; i < 1000; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			printf("status=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : die("the exec'd child failed");
		}
		if (r < 0)
			return die("waitpid: %s", strerror(errno));
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return die("the child ran past 10 s: killed");
}

/* A "" alone on its page, for execveat-empty-fresh: file-backed read-only
 * pages are not copied into a child's page tables by fork. */
static const char fresh_empty[4096] __attribute__((aligned(4096))) = "";
static const char touched_empty[] = "";

/* empty: 0 exec through a symlink, 1 execveat-empty, 2 execveat-empty-fresh */
static int exec_form(int argc, char **argv, int empty)
{
	/* argv: [0] PATH or TARGET, empty ? ARGS : [1] LINK ARGS */
	const char *target = argv[0];
	const char *link = empty ? NULL : argv[1];
	char **av = empty ? argv : argv + 1;
	(void)argc;

	if (link && must_not_exist(link))
		return 1;
	if (link && symlink(target, link))
		return die("symlink %s -> %s: %s", link, target, strerror(errno));
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		if (link)
			unlink(link);
		return die("fork: %s", strerror(errno));
	}
	if (pid == 0) {
		if (empty) {
			const char *path = empty == 2 ? fresh_empty : touched_empty;
			if (empty == 1 && *(volatile const char *)path)
				_exit(126);
			int fd = open(target, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				_exit(126);
			syscall(SYS_execveat, fd, path, av, environ, AT_EMPTY_PATH);
		} else {
			execve(link, av, environ);
		}
		perror("eg_evade: exec");
		_exit(127);
	}
	printf("pid=%d\nppid=%d\n", pid, getpid());
	int rc = wait_child(pid);
	if (link && unlink(link))
		rc = die("unlink %s: %s", link, strerror(errno));
	return rc;
}

/* ---- main ------------------------------------------------------------------ */

static int usage(void)
{
	fprintf(stderr,
		"usage: eg_evade uring-open|uring-openat2 PATH [async] | open-by-handle PATH | creat PATH |\n"
		"  compat-open|compat-openat|compat-creat PATH | open PATH | openat-dir DIR NAME |\n"
		"  chdir-open DIR NAME | symlink-open LINK TARGET |\n"
		"  uring-connect|compat-connect|compat-socketcall|tfo|udp-sendto|udp-sendmsg IP PORT |\n"
		"  connect-unfaulted|connect6-24 IP PORT | race-open TARGET DECOY N |\n"
		"  race-connect IP TARGET_PORT DECOY_PORT N | execveat-empty[-fresh] PATH [ARG...] |\n"
		"  exec-symlink TARGET LINK [ARG...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *c = argv[1];
	int n = argc - 2;
	char **a = argv + 2;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(180); /* a hard bound: SIGALRM ends the program (fork does not pass it on) */
	if ((!strcmp(c, "uring-open") || !strcmp(c, "uring-openat2")) && (n == 1 || n == 2)) {
		if (n == 2 && strcmp(a[1], "async"))
			return usage();
		rc = uring_open(a[0], !strcmp(c, "uring-openat2"), n == 2);
	} else if (!strcmp(c, "uring-connect") && n == 2) {
		rc = uring_connect(a[0], a[1]);
	} else if ((!strcmp(c, "open-by-handle") || !strcmp(c, "creat")) && n == 1) {
		rc = other_open(c, a[0]);
	} else if (!strncmp(c, "compat-", 7) && n == 1 &&
		   (!strcmp(c + 7, "open") || !strcmp(c + 7, "openat") || !strcmp(c + 7, "creat"))) {
		rc = compat_open(c + 7, a[0]);
	} else if (!strcmp(c, "compat-call") && n >= 1) {
		rc = compat_call(a, n);
	} else if ((!strcmp(c, "compat-connect") || !strcmp(c, "compat-socketcall")) && n == 2) {
		rc = compat_connect(a[0], a[1], c[7] == 's');
	} else if (!strcmp(c, "tfo") && n == 2) {
		rc = tfo(a[0], a[1]);
	} else if ((!strcmp(c, "udp-sendto") || !strcmp(c, "udp-sendmsg")) && n == 2) {
		rc = udp_send(a[0], a[1], !strcmp(c, "udp-sendmsg"));
	} else if (!strcmp(c, "connect-unfaulted") && n == 2) {
		rc = connect_plain(a[0], a[1], 'u');
	} else if (!strcmp(c, "connect6-24") && n == 2) {
		rc = connect_plain(a[0], a[1], 24);
	} else if (!strcmp(c, "race-open") && n == 3) {
		rc = race_open(a[0], a[1], a[2]);
	} else if (!strcmp(c, "race-connect") && n == 4) {
		rc = race_connect(a[0], a[1], a[2], a[3]);
	} else if (!strcmp(c, "open") && n == 1) {
		rc = open_path(a[0]);
	} else if (!strcmp(c, "openat-dir") && n == 2) {
		rc = openat_dir(a[0], a[1]);
	} else if (!strcmp(c, "chdir-open") && n == 2) {
		rc = chdir_open(a[0], a[1]);
	} else if (!strcmp(c, "symlink-open") && n == 2) {
		rc = symlink_open(a[0], a[1]);
	} else if (!strcmp(c, "execveat-empty") && n >= 1) {
		rc = exec_form(n, a, 1);
	} else if (!strcmp(c, "execveat-empty-fresh") && n >= 1) {
		rc = exec_form(n, a, 2);
	} else if (!strcmp(c, "exec-symlink") && n >= 2) {
		rc = exec_form(n, a, 0);
	} else {
		return usage();
	}
	fflush(stdout);
	return rc;
}
