/* SPDX-License-Identifier: MIT */
/* Response actions: see response.h and docs/response.md. */
#include "response.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* include/linux/sched.h: the task is a kernel thread */
#define EG_PF_KTHREAD 0x00200000u
/* How far up the daemon's ancestors are remembered. */
#define ANCESTORS_MAX 64

struct ancestor {
	uint32_t pid;
	uint64_t start_ticks;
};

struct eg_response {
	char proc_root[256];
	uint32_t self;
	bool quiet;
	uint64_t ns_per_tick; /* 1e9 / USER_HZ: /proc/PID/stat's unit */
	struct ancestor anc[ANCESTORS_MAX];
	size_t nanc;
	char **protect;
	size_t nprotect;
	/* the last event responded to, and its outcome (several rules, one kill) */
	const struct eg_event *last_ev;
	int64_t last_ts;
	uint32_t last_pid, last_tgid;
	struct eg_response_outcome last;
};

const char *eg_resp_result_name(enum eg_resp_result r)
{
	static const char *const names[EG_RESP_RESULTS] = {"dry_run", "killed", "gone",
							   "protected", "error"};
	return (unsigned)r < EG_RESP_RESULTS ? names[r] : "error";
}

/* What /proc/PID/stat says about a process. */
struct proc_stat {
	char state;           /* R, S, D, Z, X, ... */
	uint32_t ppid;
	uint64_t flags;       /* PF_* */
	uint64_t start_ticks; /* task->start_boottime in clock ticks */
};

/*
 * Reads root/pid/stat. Returns 0, or an errno: ENOENT (or ESRCH) when there
 * is no such process, EINVAL when the file does not parse.
 */
static int read_stat(const char *root, uint32_t pid, struct proc_stat *st)
{
	char path[300], buf[1024];
	snprintf(path, sizeof(path), "%s/%u/stat", root, pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	ssize_t n;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	if (n < 0)
		return e;
	buf[n] = 0;
	/* "pid (comm) S ppid ...": comm may hold anything, ')' included */
	char *s = strrchr(buf, ')');
	if (!s || s[1] != ' ' || !s[2])
		return EINVAL;
	st->state = s[2];
	s += 3;
	/* fields 4.. (ppid) to 22 (starttime), 0-based here */
	unsigned long long f[19];
	int nf = 0;
	while (nf < 19 && *s == ' ') {
		char *end;
		f[nf] = strtoull(s + 1, &end, 10);
		if (end == s + 1)
			break;
		nf++;
		s = end;
	}
	if (nf < 19)
		return EINVAL;
	st->ppid = (uint32_t)f[0];
	st->flags = f[5];
	st->start_ticks = f[18];
	return 0;
}

struct eg_response *eg_response_new(const struct eg_response_opts *o, char *err, size_t errlen)
{
	struct eg_response *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(r->proc_root, sizeof(r->proc_root), "%s", o->proc_root ? o->proc_root : "/proc");
	r->self = o->self ? o->self : (uint32_t)getpid();
	r->quiet = o->quiet;
	long hz = sysconf(_SC_CLK_TCK);
	r->ns_per_tick = 1000000000ull / (uint64_t)(hz > 0 ? hz : 100);
	/* the daemon's ancestors: killing the shell or supervisor that runs it
	 * would take the daemon down with it (pid 1 is protected anyway) */
	struct proc_stat st;
	uint32_t pid = read_stat(r->proc_root, r->self, &st) == 0 ? st.ppid : 0;
	while (pid > 1 && r->nanc < ANCESTORS_MAX && read_stat(r->proc_root, pid, &st) == 0) {
		r->anc[r->nanc++] = (struct ancestor){pid, st.start_ticks};
		pid = st.ppid;
	}
	return r;
}

void eg_response_free(struct eg_response *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nprotect; i++)
		free(r->protect[i]);
	free(r->protect);
	free(r);
}

int eg_response_set_protect(struct eg_response *r, const char *const *list, size_t n)
{
	char **p = calloc(n ? n : 1, sizeof(*p));
	if (!p)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!(p[i] = strdup(list[i]))) {
			while (i--)
				free(p[i]);
			free(p);
			return -1;
		}
	}
	for (size_t i = 0; i < r->nprotect; i++)
		free(r->protect[i]);
	free(r->protect);
	r->protect = p;
	r->nprotect = n;
	r->last_ev = NULL; /* a new list may change the last answer */
	return 0;
}

/*
 * The protect: entry that covers the event's process, or NULL. Its program
 * is the executable (the new one of an exec); a name entry is compared with
 * the executable's file name, or with comm when the executable is unknown.
 */
static const char *protected_by(const struct eg_response *r, const struct eg_event *ev)
{
	const char *exe = ev->exe;
	size_t xl = ev->exe_len;
	const char *base = exe;
	size_t bl = xl;
	const char *slash = xl ? memrchr(exe, '/', xl) : NULL;
	if (slash) {
		base = slash + 1;
		bl = xl - (size_t)(base - exe);
	}
	if (!xl) {
		base = ev->comm;
		bl = ev->comm_len;
	}
	for (size_t i = 0; i < r->nprotect; i++) {
		const char *p = r->protect[i];
		size_t pl = strlen(p);
		if (p[0] == '/' && p[pl - 1] == '/') {
			if (xl > pl && !memcmp(exe, p, pl))
				return p;
		} else if (p[0] == '/') {
			if (xl == pl && !memcmp(exe, p, pl))
				return p;
		} else if (bl == pl && !memcmp(base, p, pl)) {
			return p;
		}
	}
	return NULL;
}

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Appends s[0..n) to out, bytes below 0x20 and DEL as \xNN (a log line). */
static void log_str(char *out, size_t cap, const char *s, size_t n)
{
	size_t o = strlen(out);
	for (size_t i = 0; i < n && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = 0;
}

/* One stderr line per enforced action. */
static void log_outcome(const struct eg_response *r, const struct eg_event *ev,
			const struct eg_rule_info *rule, const struct eg_response_outcome *out)
{
	if (r->quiet)
		return;
	char comm[128] = "", exe[1024] = "", what[256];
	log_str(comm, sizeof(comm), ev->comm, ev->comm_len);
	log_str(exe, sizeof(exe), ev->exe, ev->exe_len);
	switch (out->result) {
	case EG_RESP_KILLED:
		if (out->where == EG_ENFORCED_KERNEL)
			snprintf(what, sizeof(what), "killed in the kernel, inside the system call");
		else
			snprintf(what, sizeof(what), "killed, %.3f ms after the event",
				 (double)out->delay_ns / 1e6);
		break;
	case EG_RESP_ERROR:
		snprintf(what, sizeof(what), "not killed: error: %s", out->reason);
		break;
	default:
		snprintf(what, sizeof(what), "not killed: %s (%s)", eg_resp_result_name(out->result),
			 out->reason);
	}
	fprintf(stderr, "ebpf-guard: response: rule=%s action=kill pid=%u comm=%s exe=%s: %s\n",
		rule->id, ev->tgid, comm, exe, what);
}

/*
 * Kills ev's process after making sure it is still that process: a pidfd
 * pins whichever process has the pid now; /proc/PID/stat, read after it,
 * must show the start time of the event's process. A process that had
 * exited and whose pid went to another one before the pidfd was opened
 * shows another start time; one that exits after it makes the signal fail
 * with ESRCH. Fills out->result and out->reason.
 */
static void kill_verified(struct eg_response *r, const struct eg_event *ev,
			  struct eg_response_outcome *out)
{
	uint32_t pid = ev->tgid;
	const struct eg_proc *pr = eg_ev_proc(ev);
	if (!pr->start_boottime || pr->tgid != pid) {
		out->result = EG_RESP_ERROR;
		snprintf(out->reason, sizeof(out->reason),
			 "the process's start time is not known: it cannot be told from a later "
			 "process with its pid");
		return;
	}
	uint64_t want = pr->start_boottime / r->ns_per_tick;
	int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (pidfd < 0) {
		if (errno == ESRCH) {
			out->result = EG_RESP_GONE;
			snprintf(out->reason, sizeof(out->reason), "exited");
		} else {
			out->result = EG_RESP_ERROR;
			snprintf(out->reason, sizeof(out->reason), "pidfd_open: %s", strerror(errno));
		}
		return;
	}
	struct proc_stat st;
	int e = read_stat(r->proc_root, pid, &st);
	if (e == ENOENT || e == ESRCH) {
		out->result = EG_RESP_GONE;
		snprintf(out->reason, sizeof(out->reason), "exited");
	} else if (e) {
		out->result = EG_RESP_ERROR;
		snprintf(out->reason, sizeof(out->reason), "/proc/%u/stat: %s", pid, strerror(e));
	} else if (st.start_ticks != want) {
		out->result = EG_RESP_GONE;
		snprintf(out->reason, sizeof(out->reason),
			 "exited; its pid is another process's now");
	} else if (st.state == 'Z' || st.state == 'X' || st.state == 'x') {
		out->result = EG_RESP_GONE;
		snprintf(out->reason, sizeof(out->reason), "exited");
	} else if (st.flags & EG_PF_KTHREAD) {
		out->result = EG_RESP_PROTECTED;
		snprintf(out->reason, sizeof(out->reason), "a kernel thread");
	} else {
		out->result = EG_RESP_KILLED;
		for (size_t i = 0; i < r->nanc; i++)
			if (r->anc[i].pid == pid && r->anc[i].start_ticks == st.start_ticks) {
				out->result = EG_RESP_PROTECTED;
				snprintf(out->reason, sizeof(out->reason), "an ancestor of ebpf-guard");
			}
		if (out->result == EG_RESP_KILLED &&
		    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) != 0) {
			if (errno == ESRCH) {
				out->result = EG_RESP_GONE;
				snprintf(out->reason, sizeof(out->reason), "exited");
			} else {
				out->result = EG_RESP_ERROR;
				snprintf(out->reason, sizeof(out->reason), "pidfd_send_signal: %s",
					 strerror(errno));
			}
		}
	}
	close(pidfd);
}

size_t eg_response_never(const struct eg_response *r, uint32_t *out, size_t max)
{
	size_t n = 0;
	if (n < max)
		out[n++] = r->self;
	for (size_t i = 0; i < r->nanc && n < max; i++)
		out[n++] = r->anc[i].pid;
	return n;
}

void eg_response_run(struct eg_response *r, const struct eg_event *ev,
		     const struct eg_rule_info *rule, struct eg_response_outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->action = rule->action;
	if (rule->action != EG_ACTION_KILL)
		return;
	if (!r) {
		out->result = EG_RESP_DRY_RUN;
		EG_INC(responses[EG_RESP_DRY_RUN]);
		return;
	}
	if (r->last_ev == ev && r->last_ts == ev->ts_ns && r->last_pid == ev->pid &&
	    r->last_tgid == ev->tgid) {
		*out = r->last;
		out->action = rule->action;
		return;
	}
	out->where = EG_ENFORCED_USERSPACE;
	const char *entry;
	if (ev->flags & EG_EVF_KILLED) {
		/* killed by the probe that made the event (bpf/kkill.h), inside
		 * the system call: nothing left to do or wait for */
		out->where = EG_ENFORCED_KERNEL;
		out->result = EG_RESP_KILLED;
	} else if (ev->tgid <= 1) {
		out->result = EG_RESP_PROTECTED;
		snprintf(out->reason, sizeof(out->reason), "pid %u", ev->tgid);
	} else if (ev->tgid == r->self) {
		out->result = EG_RESP_PROTECTED;
		snprintf(out->reason, sizeof(out->reason), "ebpf-guard itself");
	} else if ((entry = protected_by(r, ev))) {
		out->result = EG_RESP_PROTECTED;
		snprintf(out->reason, sizeof(out->reason), "protect: %s", entry);
	} else {
		kill_verified(r, ev, out);
	}
	out->delay_ns = out->where == EG_ENFORCED_KERNEL ? 0 : wall_ns() - ev->ts_ns;
	EG_INC(responses[out->result]);
	if (out->result == EG_RESP_KILLED)
		eg_metrics_observe_response(out->delay_ns > 0 ? (uint64_t)out->delay_ns : 0);
	log_outcome(r, ev, rule, out);
	r->last_ev = ev;
	r->last_ts = ev->ts_ns;
	r->last_pid = ev->pid;
	r->last_tgid = ev->tgid;
	r->last = *out;
}
