/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The socket families, reported at system call exit (from the sys_exit
 * program): see docs/collector.md.
 *
 *   dup     dup(2), dup2(2), dup3(2) onto fd 0, 1 or 2 only: old fd a[0],
 *           new fd a[1], is_socket a[2]; an inet socket's peer in the header
 *   listen  bind(2) (the address asked for) and listen(2) (the socket's
 *           bound address) of inet sockets: local address as S2
 *           (EG_RAWF_LOCAL_ADDR), port a[0], backlog a[1], socket type a[2]
 *   accept  accept(2), accept4(2) of inet sockets: the new socket's local
 *           address as S2, its peer in the header, port a[0], type a[2]
 *
 * dup and accept are frequent (shells dup for every redirection, servers
 * accept per connection): their filters come first and read no more than
 * they need, with direct loads rather than helper calls. Included by
 * ebpf_guard.bpf.c after bpf/fam.h.
 */
#ifndef EG_FAM_NET_H
#define EG_FAM_NET_H

#ifndef AF_UNSPEC
#define AF_UNSPEC 0
#endif
#ifndef EAGAIN
#define EAGAIN 11
#endif
#ifndef EINTR
#define EINTR 4
#endif
/* the kernel's restart codes (linux/errno.h): a signal interrupted the call */
#ifndef ERESTARTSYS
#define ERESTARTSYS 512
#endif
#ifndef ERESTART_RESTARTBLOCK
#define ERESTART_RESTARTBLOCK 516
#endif

/* Whether a file is a socket (its inode is), by direct loads. */
static __always_inline bool net_is_socket(struct file *file)
{
	struct file *f = kcast(file, struct file);

	return (f->f_inode->i_mode & S_IFMT) == S_IFSOCK;
}

/* The kernel socket behind a file that is a socket. */
static __always_inline struct sock *net_sock(struct file *file)
{
	struct file *f = kcast(file, struct file);
	struct socket *sock = kcast(f->private_data, struct socket);

	return sock->sk;
}

/* The inet socket behind descriptor fd and its family; NULL for any other
 * file or socket (Unix, netlink, packet...). */
static __always_inline struct sock *net_inet_sock(struct task_struct *task, long fd, __u16 *family)
{
	struct file *f = fd_file(task, fd);
	struct sock *sk;

	if (!f || !net_is_socket(f))
		return NULL;
	sk = net_sock(f);
	if (!sk)
		return NULL;
	*family = sk->__sk_common.skc_family;
	if (*family != AF_INET && *family != AF_INET6)
		return NULL;
	return sk;
}

/* A connected socket's peer into the header, as a connect's (host order
 * port); nothing for a socket without one (listening, unconnected). */
static __always_inline void net_peer(struct eg_raw_event *e, struct sock *sk, __u16 family)
{
	__u16 dport = sk->__sk_common.skc_dport;
	__u32 *d = (__u32 *)e->dest_addr;
	__u32 *d6;

	if (!dport)
		return;
	e->family = family;
	e->dest_port = bpf_ntohs(dport);
	if (family == AF_INET) {
		d[0] = sk->__sk_common.skc_daddr;
		d[1] = d[2] = d[3] = 0;
	} else {
		d6 = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32;
		d[0] = d6[0];
		d[1] = d6[1];
		d[2] = d6[2];
		d[3] = d6[3];
	}
}

/* The local address region (S2, EG_RAWF_LOCAL_ADDR), zeroed, with its
 * family and port set; the caller fills the address. */
static __always_inline struct eg_raw_local_addr *net_local_begin(struct eg_raw_event *e,
								 __u16 family, __u16 port)
{
	struct eg_raw_local_addr *la = (void *)e + FAM_OFF0;
	__u32 *d = (__u32 *)la->addr;

	d[0] = d[1] = d[2] = d[3] = 0;
	la->family = family;
	la->port = port;
	e->flags |= EG_RAWF_LOCAL_ADDR;
	e->args_len = sizeof(*la);
	return la;
}

/* The socket's own address (bound or, once connected, the one in use) and
 * port as S2, the port also in a[0], its type in a[2]. Returns the offset
 * after the region. */
static __always_inline __u32 net_local_sock(struct eg_raw_event *e, struct sock *sk, __u16 family)
{
	__u16 port = sk->__sk_common.skc_num;
	struct eg_raw_local_addr *la = net_local_begin(e, family, port);
	struct eg_raw_args *a = fam_args(e);
	__u32 *d = (__u32 *)la->addr;
	__u32 *s6;

	if (family == AF_INET) {
		d[0] = sk->__sk_common.skc_rcv_saddr;
	} else {
		s6 = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32;
		d[0] = s6[0];
		d[1] = s6[1];
		d[2] = s6[2];
		d[3] = s6[3];
	}
	a->a[0] = port;
	a->a[2] = sk->sk_type;
	return FAM_OFF0 + sizeof(*la);
}

/*
 * dup(2), dup2(2), dup3(2) whose new descriptor is 0, 1 or 2 (a process
 * putting something on its stdio: a reverse shell's socket, or a shell's
 * redirection): decided first, from the result (dup) or the argument (dup2,
 * dup3; failures too, the target was asked for). A failed dup(2) has no new
 * descriptor: not reported.
 */
/* The descriptor a dup call made (dup: its result; dup2, dup3: the one asked
 * for, so a failure onto 0-2 is reported too). */
static __always_inline long dup_newfd(const struct sc *s)
{
	return s->nr == NR_dup ? s->ret : (long)(int)s->a[1];
}

/* Whether a dup call puts something on stdin, stdout or stderr: the only
 * ones reported. The dispatch asks first, before it takes the pid: shells
 * dup all the time. */
static __always_inline bool dup_to_stdio(const struct sc *s)
{
	long newfd = dup_newfd(s);

	return newfd >= 0 && newfd <= 2;
}

static __always_inline void fam_dup(const struct sc *s)
{
	long newfd = dup_newfd(s);
	struct eg_raw_event *e;
	struct eg_raw_args *a;
	struct file *f;
	struct sock *sk;
	__u16 family;

	e = fam_begin(EG_RAW_DUP, s);
	if (!e)
		return;
	a = fam_args(e);
	a->a[0] = (int)s->a[0];
	a->a[1] = newfd;
	/* what now stands on the new fd; for a failure, what was to */
	f = fd_file(s->task, s->ret >= 0 ? s->ret : (long)(int)s->a[0]);
	if (f && net_is_socket(f)) {
		a->a[2] = 1;
		sk = net_sock(f);
		if (sk) {
			family = sk->__sk_common.skc_family;
			if (family == AF_INET || family == AF_INET6)
				net_peer(e, sk, family);
		}
	}
	fam_submit(e, FAM_OFF0);
}

/* bind(2): the address the caller asked for, from its sockaddr (the kernel
 * copied it in, so the page is in; its length rules as for connect). An
 * inet socket takes AF_UNSPEC as AF_INET (INADDR_ANY only, else the call
 * fails): reported as AF_INET. Another family's sockaddr (a call bound to
 * fail): not reported. */
static __always_inline void net_bind(const struct sc *s, struct sock *sk, __u16 family)
{
	struct sockaddr_in6 sa = {};
	struct eg_raw_local_addr *la;
	struct eg_raw_event *e;
	__u64 alen = s->a[2];
	__u16 f;

	if (alen >= SIN6_LEN_RFC2133) {
		if (bpf_probe_read_user(&sa, SIN6_LEN_RFC2133, (const void *)s->a[1]))
			return;
	} else if (alen >= sizeof(struct sockaddr_in)) {
		if (bpf_probe_read_user(&sa, sizeof(struct sockaddr_in), (const void *)s->a[1]))
			return;
	} else {
		return;
	}
	f = sa.sin6_family;
	if (f == AF_UNSPEC && family == AF_INET)
		f = AF_INET;
	if (f != AF_INET && (f != AF_INET6 || alen < SIN6_LEN_RFC2133))
		return;
	if (kf_sock_drop(EG_RAW_LISTEN, bpf_ntohs(sa.sin6_port), s->ret))
		return;
	e = fam_begin(EG_RAW_LISTEN, s);
	if (!e)
		return;
	/* sin6_port and sin_port share their offset */
	la = net_local_begin(e, f, bpf_ntohs(sa.sin6_port));
	if (f == AF_INET)
		__builtin_memcpy(la->addr, &((struct sockaddr_in *)&sa)->sin_addr, 4);
	else
		__builtin_memcpy(la->addr, &sa.sin6_addr, 16);
	fam_args(e)->a[0] = la->port;
	fam_args(e)->a[2] = sk->sk_type;
	fam_submit(e, FAM_OFF0 + sizeof(*la));
}

/* bind(2) and listen(2) of inet sockets; listen reports the address the
 * socket is bound to after the call (an unbound socket's listen picks a
 * port), and the backlog as passed. */
static __always_inline void fam_listen(const struct sc *s)
{
	struct eg_raw_event *e;
	struct sock *sk;
	__u16 family;
	__u32 end;

	sk = net_inet_sock(s->task, (int)s->a[0], &family);
	if (!sk)
		return;
	if (s->nr == NR_bind) {
		net_bind(s, sk, family);
		return;
	}
	if (kf_sock_drop(EG_RAW_LISTEN, sk->__sk_common.skc_num, s->ret))
		return;
	e = fam_begin(EG_RAW_LISTEN, s);
	if (!e)
		return;
	end = net_local_sock(e, sk, family);
	fam_args(e)->a[1] = (int)s->a[1];
	fam_submit(e, end);
}

/*
 * accept(2), accept4(2) of inet sockets. A success: the new socket's local
 * address and peer. A failure: the listening socket's address, no peer;
 * except the ones a busy server makes all the time, which say nothing: no
 * connection waiting on a non-blocking socket (EAGAIN) and a signal
 * interrupting a blocking wait (EINTR, the kernel's restart codes).
 */
static __always_inline void fam_accept(const struct sc *s)
{
	long ret = s->ret;
	struct eg_raw_event *e;
	struct sock *sk;
	__u16 family;
	__u32 end;

	if (ret == -EAGAIN || ret == -EINTR || (ret <= -ERESTARTSYS && ret >= -ERESTART_RESTARTBLOCK))
		return;
	sk = net_inet_sock(s->task, ret >= 0 ? ret : (long)(int)s->a[0], &family);
	if (!sk)
		return;
	if (kf_sock_drop(EG_RAW_ACCEPT, sk->__sk_common.skc_num, ret))
		return;
	e = fam_begin(EG_RAW_ACCEPT, s);
	if (!e)
		return;
	end = net_local_sock(e, sk, family);
	if (ret >= 0)
		net_peer(e, sk, family);
	fam_submit(e, end);
}

#endif
