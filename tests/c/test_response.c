/* SPDX-License-Identifier: MIT */
/* Response actions (src/response.c) on real processes: a kill of the event's
 * process, never of a process that only has its pid now (another start
 * time), one whose start is unknown, pid 0 and 1, the daemon, its
 * ancestors, a kernel thread or a protect: program; a dry run without
 * -enforce; one kill for several rules of one event; the metrics. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../src/metrics.h"
#include "../../src/response.h"
#include "check.h"

static uint64_t ns_per_tick(void)
{
	long hz = sysconf(_SC_CLK_TCK);
	return 1000000000ull / (uint64_t)(hz > 0 ? hz : 100);
}

/* /proc/PID/stat's starttime (ticks) and state; 0 when unreadable. */
static uint64_t start_ticks(pid_t pid, char *state)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *s = strrchr(buf, ')');
	if (!s)
		return 0;
	if (state)
		*state = s[2];
	s += 2;
	unsigned long long v = 0;
	for (int field = 3; field <= 22 && s; field++) {
		if (field == 22)
			v = strtoull(s, NULL, 10);
		s = strchr(s, ' ');
		if (s)
			s++;
	}
	return v;
}

/* A child that waits to be killed (at most 30 s). */
static pid_t sleeper(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		sleep(30);
		_exit(0);
	}
	return pid;
}

/* How a child ended: the signal that killed it, 0 for a normal exit. */
static int reap(pid_t pid)
{
	int st = 0;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static bool alive(pid_t pid)
{
	char state = 0;
	return start_ticks(pid, &state) && state != 'Z';
}

struct fake {
	struct eg_proc proc;
	struct eg_event ev;
};

/* An event of process pid whose image says it started at start_boottime. */
static void fake_event(struct fake *f, uint32_t pid, uint64_t start_boottime, const char *comm,
		       const char *exe)
{
	memset(f, 0, sizeof(*f));
	f->proc.tgid = pid;
	f->proc.start_boottime = start_boottime;
	f->ev.type = EG_EV_OPEN;
	f->ev.pid = f->ev.tgid = pid;
	f->ev.comm = comm;
	f->ev.comm_len = (uint32_t)strlen(comm);
	f->ev.exe = exe;
	f->ev.exe_len = (uint32_t)strlen(exe);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	f->ev.ts_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	f->ev.proc = &f->proc;
}

/* pidfd_open works here (valgrind 3.19 does not know it: the cases that
 * signal are left out there, the others still run under memcheck) */
static bool have_pidfd;

static const struct eg_rule_info kill_rule = {.id = "k", .action = EG_ACTION_KILL};
static const struct eg_rule_info alert_rule = {.id = "a", .action = EG_ACTION_ALERT};

static uint64_t count(enum eg_resp_result r)
{
	return atomic_load(&eg_metrics.responses[r]);
}

static struct eg_response *enforcing(void)
{
	char err[128];
	struct eg_response_opts o = {.quiet = true};
	struct eg_response *r = eg_response_new(&o, err, sizeof(err));
	CHECK(r != NULL, "eg_response_new: %s", r ? "" : err);
	return r;
}

static void test_kill_verified(void)
{
	struct eg_response *r = enforcing();
	struct eg_response_outcome out;
	struct fake f;

	/* the event's process: killed, its delay measured and counted */
	pid_t pid = sleeper();
	uint64_t start = start_ticks(pid, NULL) * ns_per_tick();
	fake_event(&f, (uint32_t)pid, start, "sleeper", "/usr/bin/sleeper");
	uint64_t killed = count(EG_RESP_KILLED), in_hist = 0;
	eg_response_run(r, &f.ev, &kill_rule, &out);
	for (int i = 0; i <= EG_RESP_HIST_BUCKETS; i++)
		in_hist += atomic_load(&eg_metrics.resp_hist[i]);
	CHECK(out.action == EG_ACTION_KILL && out.result == EG_RESP_KILLED && !out.reason[0],
	      "killed: result %s, reason %s", eg_resp_result_name(out.result), out.reason);
	CHECK(out.where == EG_ENFORCED_USERSPACE, "enforced in userspace");
	CHECK(out.delay_ns > 0 && out.delay_ns < 5000000000LL, "delay %lld ns", (long long)out.delay_ns);
	CHECK(reap(pid) == SIGKILL, "the process died of SIGKILL");
	CHECK(count(EG_RESP_KILLED) == killed + 1, "one kill counted");
	CHECK(in_hist >= 1 && atomic_load(&eg_metrics.resp_sum_ns) > 0, "delay observed");

	/* a second rule on the same event: the same outcome, no second kill */
	eg_response_run(r, &f.ev, &kill_rule, &out);
	CHECK(out.result == EG_RESP_KILLED && count(EG_RESP_KILLED) == killed + 1,
	      "one kill per event, counted once");

	/* another start time than the process with the pid now: never killed */
	pid = sleeper();
	start = start_ticks(pid, NULL) * ns_per_tick();
	fake_event(&f, (uint32_t)pid, start - ns_per_tick(), "sleeper", "/usr/bin/sleeper");
	uint64_t gone = count(EG_RESP_GONE);
	eg_response_run(r, &f.ev, &kill_rule, &out);
	CHECK(out.result == EG_RESP_GONE && !strcmp(out.reason, "exited; its pid is another process's now"),
	      "a reused pid: %s (%s)", eg_resp_result_name(out.result), out.reason);
	CHECK(count(EG_RESP_GONE) == gone + 1, "gone counted");
	CHECK(alive(pid), "the process that has the pid now lives");
	fake_event(&f, (uint32_t)pid, start + ns_per_tick(), "sleeper", "/usr/bin/sleeper");
	eg_response_run(r, &f.ev, &kill_rule, &out);
	CHECK(out.result == EG_RESP_GONE && alive(pid), "a later start time: not killed either");

	/* no start time in the context: cannot be told apart, not killed */
	fake_event(&f, (uint32_t)pid, 0, "sleeper", "/usr/bin/sleeper");
	uint64_t errors = count(EG_RESP_ERROR);
	eg_response_run(r, &f.ev, &kill_rule, &out);
	CHECK(out.result == EG_RESP_ERROR &&
		      !strcmp(out.reason, "the process's start time is not known: it cannot be told "
					  "from a later process with its pid"),
	      "unknown start: %s (%s)", eg_resp_result_name(out.result), out.reason);
	CHECK(count(EG_RESP_ERROR) == errors + 1 && alive(pid), "error counted, process alive");
	fake_event(&f, (uint32_t)pid, start, "sleeper", "/usr/bin/sleeper");
	f.ev.proc = NULL;
	eg_response_run(r, &f.ev, &kill_rule, &out);
	CHECK(out.result == EG_RESP_ERROR && alive(pid), "no context at all: not killed");
	/* an image of another process than the event's */
	fake_event(&f, (uint32_t)pid, start, "sleeper", "/usr/bin/sleeper");
	f.proc.tgid = (uint32_t)pid + 1;
	eg_response_run(r, &f.ev, &kill_rule, &out);
	CHECK(out.result == EG_RESP_ERROR && alive(pid), "an image of another pid: not killed");
	kill(pid, SIGKILL);
	reap(pid);

	/* a zombie (exited, not reaped yet): gone */
	pid = fork();
	if (pid == 0)
		_exit(0);
	start = 0;
	char state = 0;
	for (int i = 0; i < 200 && state != 'Z'; i++) {
		start = start_ticks(pid, &state);
		usleep(5000);
	}
	fake_event(&f, (uint32_t)pid, start * ns_per_tick(), "z", "/usr/bin/z");
	eg_response_run(r, &f.ev, &kill_rule, &out);
	CHECK(state == 'Z' && out.result == EG_RESP_GONE && !strcmp(out.reason, "exited"),
	      "a zombie: %s (%s)", eg_resp_result_name(out.result), out.reason);
	CHECK(reap(pid) == 0, "the zombie exited by itself");
	/* reaped: no such process (unless its pid was taken at once) */
	fake_event(&f, (uint32_t)pid, start * ns_per_tick(), "z", "/usr/bin/z");
	eg_response_run(r, &f.ev, &kill_rule, &out);
	CHECK(out.result == EG_RESP_GONE, "a process that is gone: %s (%s)",
	      eg_resp_result_name(out.result), out.reason);
	eg_response_free(r);
}

static void test_protected(void)
{
	struct eg_response *r = enforcing();
	struct eg_response_outcome out;
	struct fake f;
	uint64_t prot = count(EG_RESP_PROTECTED);

	fake_event(&f, 1, start_ticks(1, NULL) * ns_per_tick(), "systemd", "/usr/lib/systemd/systemd");
	eg_response_run(r, &f.ev, &kill_rule, &out);
	CHECK(out.result == EG_RESP_PROTECTED && !strcmp(out.reason, "pid 1"), "pid 1: %s (%s)",
	      eg_resp_result_name(out.result), out.reason);
	fake_event(&f, 0, 1, "swapper", "");
	eg_response_run(r, &f.ev, &kill_rule, &out);
	CHECK(out.result == EG_RESP_PROTECTED && !strcmp(out.reason, "pid 0"), "pid 0: %s",
	      out.reason);
	fake_event(&f, (uint32_t)getpid(), start_ticks(getpid(), NULL) * ns_per_tick(), "t", "/t");
	eg_response_run(r, &f.ev, &kill_rule, &out);
	CHECK(out.result == EG_RESP_PROTECTED && !strcmp(out.reason, "ebpf-guard itself"),
	      "the daemon: %s (%s)", eg_resp_result_name(out.result), out.reason);
	CHECK(count(EG_RESP_PROTECTED) == prot + 3, "protected counted");

	/* a kernel thread (kthreadd, pid 2), with its real start time */
	char state = 0;
	uint64_t kst = start_ticks(2, &state);
	if (have_pidfd && (kst || state)) {
		fake_event(&f, 2, kst * ns_per_tick(), "kthreadd", "");
		eg_response_run(r, &f.ev, &kill_rule, &out);
		CHECK(out.result == EG_RESP_PROTECTED && !strcmp(out.reason, "a kernel thread"),
		      "kthreadd: %s (%s)", eg_resp_result_name(out.result), out.reason);
	}

	/* the protect: list: exact path, directory, program name */
	const char *list[] = {"/opt/app/bin/agent", "/usr/lib/critical/", "keepme"};
	CHECK(eg_response_set_protect(r, list, 3) == 0, "set_protect");
	pid_t pid = sleeper();
	uint64_t start = start_ticks(pid, NULL) * ns_per_tick();
	static const struct {
		const char *comm, *exe, *by; /* by NULL: not protected */
	} cases[] = {
		{"agent", "/opt/app/bin/agent", "protect: /opt/app/bin/agent"},
		{"agent", "/opt/app/bin/agent2", NULL},
		{"agent", "/opt/app/bin", NULL},
		{"x", "/usr/lib/critical/x", "protect: /usr/lib/critical/"},
		{"x", "/usr/lib/critical/sub/x", "protect: /usr/lib/critical/"},
		{"x", "/usr/lib/criticalx", NULL},
		{"x", "/usr/lib/critical", NULL},
		{"keepme", "/anywhere/keepme", "protect: keepme"},
		{"keepme", "/anywhere/keepme2", NULL},
		{"x", "/anywhere/keepm", NULL},
		{"keepme", "", "protect: keepme"}, /* exe unknown: by comm */
		{"keepm", "", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_event(&f, (uint32_t)pid, cases[i].by ? start : start - ns_per_tick(),
			   cases[i].comm, cases[i].exe);
		f.ev.ts_ns += (int64_t)i; /* another event each time */
		eg_response_run(r, &f.ev, &kill_rule, &out);
		if (cases[i].by)
			CHECK(out.result == EG_RESP_PROTECTED && !strcmp(out.reason, cases[i].by),
			      "%s: %s (%s)", cases[i].exe, eg_resp_result_name(out.result), out.reason);
		else /* an older start time: gone, not killed, when not protected */
			CHECK(out.result == (have_pidfd ? EG_RESP_GONE : EG_RESP_ERROR),
			      "%s/%s is not protected: %s (%s)",
			      cases[i].comm, cases[i].exe, eg_resp_result_name(out.result), out.reason);
	}
	CHECK(alive(pid), "never killed");
	kill(pid, SIGKILL);
	reap(pid);
	eg_response_free(r);
}

/* The daemon's ancestors: a child C of this test forks G; with G as "the
 * daemon", C (its parent) and this test are protected. */
static void test_ancestors(void)
{
	int fds[2];
	if (pipe(fds)) {
		perror("pipe");
		failed++;
		return;
	}
	pid_t c = fork();
	if (c == 0) {
		pid_t g = fork();
		if (g == 0) {
			sleep(30);
			_exit(0);
		}
		if (write(fds[1], &g, sizeof(g)) != sizeof(g))
			_exit(1);
		waitpid(g, NULL, 0);
		_exit(0);
	}
	pid_t g = 0;
	if (read(fds[0], &g, sizeof(g)) != sizeof(g)) {
		failed++;
		return;
	}
	close(fds[0]);
	close(fds[1]);
	char err[128];
	struct eg_response_opts o = {.self = (uint32_t)g, .quiet = true};
	struct eg_response *r = eg_response_new(&o, err, sizeof(err));
	struct eg_response_outcome out;
	struct fake f;
	fake_event(&f, (uint32_t)c, start_ticks(c, NULL) * ns_per_tick(), "c", "/c");
	eg_response_run(r, &f.ev, &kill_rule, &out);
	CHECK(out.result == EG_RESP_PROTECTED && !strcmp(out.reason, "an ancestor of ebpf-guard"),
	      "the daemon's parent: %s (%s)", eg_resp_result_name(out.result), out.reason);
	fake_event(&f, (uint32_t)getpid(), start_ticks(getpid(), NULL) * ns_per_tick(), "t", "/t");
	eg_response_run(r, &f.ev, &kill_rule, &out);
	CHECK(out.result == EG_RESP_PROTECTED && !strcmp(out.reason, "an ancestor of ebpf-guard"),
	      "the daemon's grandparent: %s (%s)", eg_resp_result_name(out.result), out.reason);
	CHECK(alive(c), "the ancestor lives");
	fake_event(&f, (uint32_t)g, start_ticks(g, NULL) * ns_per_tick(), "g", "/g");
	eg_response_run(r, &f.ev, &kill_rule, &out);
	CHECK(out.result == EG_RESP_PROTECTED && !strcmp(out.reason, "ebpf-guard itself"), "itself");
	eg_response_free(r);
	kill(g, SIGKILL);
	CHECK(reap(c) == 0, "C reaped G and exited");
}

static void test_dry_run_and_alert_only(void)
{
	struct eg_response_outcome out;
	struct fake f;
	pid_t pid = sleeper();
	fake_event(&f, (uint32_t)pid, start_ticks(pid, NULL) * ns_per_tick(), "s", "/s");
	uint64_t dry = count(EG_RESP_DRY_RUN);
	eg_response_run(NULL, &f.ev, &kill_rule, &out);
	CHECK(out.action == EG_ACTION_KILL && out.result == EG_RESP_DRY_RUN && out.delay_ns == 0,
	      "no -enforce: a dry run");
	CHECK(count(EG_RESP_DRY_RUN) == dry + 1, "dry run counted");
	CHECK(alive(pid), "a dry run kills nothing");
	struct eg_response *r = enforcing();
	uint64_t before[EG_RESP_RESULTS];
	for (int i = 0; i < EG_RESP_RESULTS; i++)
		before[i] = count((enum eg_resp_result)i);
	eg_response_run(r, &f.ev, &alert_rule, &out);
	CHECK(out.action == EG_ACTION_ALERT, "alert only: no response");
	for (int i = 0; i < EG_RESP_RESULTS; i++)
		CHECK(count((enum eg_resp_result)i) == before[i], "alert only: nothing counted");
	CHECK(alive(pid), "alert only: alive");
	eg_response_free(r);
	kill(pid, SIGKILL);
	reap(pid);
}

int main(void)
{
	CHECK(!strcmp(eg_resp_result_name(EG_RESP_DRY_RUN), "dry_run") &&
		      !strcmp(eg_resp_result_name(EG_RESP_KILLED), "killed") &&
		      !strcmp(eg_resp_result_name(EG_RESP_GONE), "gone") &&
		      !strcmp(eg_resp_result_name(EG_RESP_PROTECTED), "protected") &&
		      !strcmp(eg_resp_result_name(EG_RESP_ERROR), "error"),
	      "result names");
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	have_pidfd = fd >= 0;
	if (fd >= 0)
		close(fd);
	else
		printf("test_response: pidfd_open: %s: the kill cases are left out\n", strerror(errno));
	if (have_pidfd)
		test_kill_verified();
	test_protected();
	if (have_pidfd)
		test_ancestors();
	test_dry_run_and_alert_only();
	return CHECK_SUMMARY("test_response");
}
