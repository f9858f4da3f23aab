/* SPDX-License-Identifier: MIT */
/* The daemon's seccomp filter (libseccomp; linked into the daemon only). */
#ifndef EG_SYSCALL_FILTER_H
#define EG_SYSCALL_FILTER_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Installs the filter on every thread of the process (TSYNC; the callers set
 * no_new_privs first). It allows the system calls the daemon makes once it
 * runs: in replay mode, or in live mode (live: the BPF and perf calls that
 * attach and detach probes and read the drop counters too), and, when
 * NOTIFY_SOCKET is set, socket(AF_UNIX, SOCK_DGRAM) for sd_notify. Any other call
 * is refused with SIGSYS: a handler prints the call's number and name on
 * stderr, then the process dies of SIGSYS. Returns 0, or -1 with a message
 * in err. *nallowed gets the number of system calls allowed.
 */
int eg_syscall_filter_install(bool live, size_t *nallowed, char *err, size_t errlen);

/*
 * Called before eg_syscall_filter_install when an output connects after
 * start-up (the webhook, src/webhook.c): the filter then also allows
 * socket(2) for AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK (name resolution
 * asks the kernel for the addresses with NETLINK_ROUTE), socketpair(2) for
 * AF_UNIX (libcurl's resolver thread), connect(2), bind(2) (netlink), and
 * sendmmsg(2)/recvmmsg(2) and ioctl(FIONREAD) (glibc's DNS client).
 */
void eg_syscall_filter_allow_network(bool on);

/*
 * Called before eg_syscall_filter_install with -enforce (src/response.c):
 * the filter then also allows pidfd_open(2) (flags 0) and
 * pidfd_send_signal(2) with SIGKILL, and nothing else that signals another
 * process (no kill(2)).
 */
void eg_syscall_filter_allow_kill(bool on);

#endif
