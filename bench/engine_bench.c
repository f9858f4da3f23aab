/* SPDX-License-Identifier: MIT */
/*
 * Engine benchmark: generates a realistic corpus (70% open of real-looking
 * paths, 25% exec, 5% connect, a few suspicious events), then
 *   (a) runs the engine alone over the events, batch by batch, and reports
 *       events/s and ns/event (median of several passes). Each batch is first
 *       copied, with its strings, into a buffer of its own, as the daemon's
 *       decoder leaves it (the engine then runs on data in the cache, as in
 *       the daemon), and only eg_engine_run is timed; -cold runs the engine
 *       on the corpus in place instead: every event a cache miss, a memory
 *       benchmark more than an engine one (the figures of earlier sessions);
 *   --write FILE writes the same corpus as replay JSONL for the whole-replay
 *   benchmark (bench/engine_bench.sh);
 *   -corpus FILE runs a recording (replay JSONL, such as the build workload
 *   of tests/noise) instead of the generated corpus: parsed once by the
 *   daemon's replay reader, context included, then timed as above;
 *   -warmup N runs N passes first that the figures leave out (their time is
 *   printed on a line of its own): the JIT's compiling of a recording's
 *   rarer paths, which a short recording spreads over its first passes
 *   (tests/noise: ~10 passes of 169,389 events) and a daemon pays once.
 *
 * usage: eg_bench_engine [-n EVENTS] [-passes N] [-lua-path DIR] [-config PATH]... [-mix OPEN,EXEC] [-cold]
 *        [-corpus FILE.jsonl] [-warmup N] [-calls] [-no-prefilter] [--write FILE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "engine.h"
#include "json.h"
#include "pipeline.h"
#include "replay.h"
#include "alerts.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

#define PICK(a) (a[rnd(sizeof(a) / sizeof(a[0]))])

static const char *const comms[] = {
	"bash", "sshd", "nginx", "python3", "node", "systemd", "cron", "git", "make", "cc1",
	"java", "postgres", "containerd", "kubelet", "dockerd", "ls", "cat", "grep", "sh", "vim",
	"rsyslogd", "snapd", "chrome", "zsh", "apt-get", "dpkg", "perl", "ruby", "go", "redis-server",
};
static const char *const open_dirs[] = {
	"/usr/lib/x86_64-linux-gnu/", "/etc/", "/proc/self/", "/proc/1/", "/sys/fs/cgroup/system.slice/",
	"/home/alice/src/project/src/", "/var/log/", "/var/lib/postgresql/15/main/base/16384/",
	"/usr/share/zoneinfo/Europe/", "/tmp/", "/run/systemd/", "/usr/lib/python3.11/",
	"/home/bob/.cache/pip/", "/var/cache/apt/archives/", "/dev/", "/usr/include/linux/",
};
static const char *const open_files[] = {
	"libc.so.6", "ld.so.cache", "status", "cmdline", "passwd", "group", "nsswitch.conf",
	"resolv.conf", "hosts", "memory.current", "cpu.stat", "main.c", "engine.lua", "syslog",
	"auth.log", "2619", "2619_fsm", "Berlin", "locale-archive", "libpcre2-8.so.0", "null",
	"urandom", "os.py", "__init__.cpython-311.pyc", "tcp.h", "config.json", "index.lock",
};
static const char *const exec_files[] = {
	"/usr/bin/ls", "/bin/sh", "/usr/bin/git", "/usr/bin/python3", "/usr/bin/make", "/usr/bin/cc",
	"/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "/usr/bin/grep", "/usr/bin/cat", "/usr/bin/sed",
	"/usr/sbin/sshd", "/usr/bin/node", "/usr/bin/env", "/usr/bin/id", "/usr/bin/date",
	"/usr/bin/bash", "/usr/bin/awk", "/usr/bin/systemctl", "/usr/bin/curl", "/usr/bin/tar",
};
static const char *const bad_exec[] = {
	"/dev/shm/.x", "/tmp/.hidden/run", "/opt/xmrig/xmrig", "memfd:payload", "/proc/self/fd/3",
};
static const char *const ips[] = {
	"10.0.0.12", "192.168.1.20", "127.0.0.1", "151.101.1.69", "140.82.121.4", "2a00:1450:4001:82a::200e",
};
static const uint32_t ports[] = {443, 80, 53, 5432, 6379, 8080, 22, 9100, 11211, 3306};

struct corpus {
	struct eg_event *ev;
	size_t n;
	char *arena;
	size_t used, cap;
};

static const char *put(struct corpus *c, const char *s, size_t len, uint32_t *out_len)
{
	if (c->used + len + 1 > c->cap) {
		fprintf(stderr, "corpus arena full\n");
		exit(1);
	}
	char *d = c->arena + c->used;
	memcpy(d, s, len);
	d[len] = 0;
	c->used += len + 1;
	*out_len = (uint32_t)len;
	return d;
}

/* the corpus mix, in percent: open, exec (connect is the rest) */
static uint32_t pct_open = 70, pct_exec = 25;

static void gen(struct corpus *c, size_t n)
{
	c->ev = calloc(n, sizeof(*c->ev));
	c->cap = n * 96 + (1 << 20);
	c->arena = malloc(c->cap);
	c->n = n;
	int64_t ts = 1735732800LL * 1000000000LL;
	for (size_t i = 0; i < n; i++) {
		struct eg_event *e = &c->ev[i];
		char path[512];
		ts += 1000 + rnd(20000);
		e->ts_ns = ts;
		e->tgid = 1000 + rnd(3000);
		e->pid = e->tgid + (rnd(4) == 0 ? rnd(8) : 0);
		e->ppid = 1 + rnd(1000);
		e->uid = e->gid = rnd(3) ? 1000 : 0;
		e->cgroup_id = 4000 + rnd(50);
		const char *comm = PICK(comms);
		e->comm = put(c, comm, strlen(comm), &e->comm_len);
		e->dest_ip = put(c, "", 0, &e->dest_ip_len);
		e->exe = e->dest_ip;
		e->args = e->dest_ip;
		uint32_t r = rnd(100);
		if (r < pct_open) {
			e->type = EG_EV_OPEN;
			int len = snprintf(path, sizeof(path), "%s%s", PICK(open_dirs), PICK(open_files));
			e->filename = put(c, path, (size_t)len, &e->filename_len);
			e->open_flags = rnd(2) ? 0 : 0x80241;
		} else if (r < pct_open + pct_exec) {
			e->type = EG_EV_EXEC;
			const char *f = rnd(1000) == 0 ? PICK(bad_exec) : PICK(exec_files);
			e->filename = put(c, f, strlen(f), &e->filename_len);
			e->exe = e->filename;
			e->exe_len = e->filename_len;
			const char *slash = strrchr(f, '/');
			e->comm = put(c, slash ? slash + 1 : f, strlen(slash ? slash + 1 : f), &e->comm_len);
			if (e->comm_len > 15) e->comm_len = 15;
			char args[64];
			int al = snprintf(args, sizeof(args), "%s%c-la%c", slash ? slash + 1 : f, 0, 0);
			uint32_t alen;
			e->args = put(c, args, (size_t)al - 1, &alen);
			e->args_len = (uint32_t)al;
			e->argc = 2;
		} else {
			e->type = EG_EV_CONNECT;
			const char *ip = PICK(ips);
			e->dest_ip = put(c, ip, strlen(ip), &e->dest_ip_len);
			e->dest_port = rnd(200) == 0 ? 4444 : PICK(ports);
			e->filename = put(c, "connect", 7, &e->filename_len);
		}
	}
}

/* The clocks: the timed stretches (one per batch) read the monotonic clock,
 * which the vDSO serves in ~25 ns; the thread's CPU clock, which was read
 * there before, is a system call on this project's guests (~1.3 us, and it
 * disturbed the caches and TLB besides: it added ~10 ns/event to every
 * figure with batches of 256, docs/performance.md). The CPU clock is read
 * once per pass, to tell how much of the pass another process had the
 * core (the wall time over the CPU time), which the monotonic clock would
 * count. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t hits;
static void count_hit(void *ctx, const struct eg_event *ev, uint32_t rule, const char *d, size_t dl)
{
	(void)ctx; (void)ev; (void)rule; (void)d; (void)dl;
	hits++;
}

/* The batch buffer (copy_batch): events and their strings. */
static struct eg_event hot_ev[EG_BATCH_EVENTS];
static char hot_arena[EG_BATCH_EVENTS * 4096];

/* Memory for copies of events' strings and contexts: chunks that never
 * move (-corpus), or the batch buffer (hot: reset per batch; full, a copy
 * is not made and the original stays). */
struct chunks {
	char *p;
	size_t used, cap;
	bool fixed; /* the batch buffer: no new chunk when full */
};

static char *chunk_alloc(struct chunks *c, size_t n)
{
	if (c->used + n > c->cap) {
		if (c->fixed)
			return NULL;
		c->cap = n > (64u << 20) ? n : (64u << 20);
		c->p = malloc(c->cap);
		if (!c->p) {
			fprintf(stderr, "corpus: out of memory\n");
			exit(1);
		}
		c->used = 0;
	}
	char *d = c->p + c->used;
	c->used += (n + 15) & ~(size_t)15;
	return d;
}

static const char *dup_str(struct chunks *c, const char *s, uint32_t len)
{
	if (!s)
		return NULL;
	char *d = chunk_alloc(c, (size_t)len + 1);
	if (!d)
		return s;
	memcpy(d, s, len);
	d[len] = 0;
	return d;
}

/* d = ev, its strings and its process, container and host copied into c
 * (exe shares filename's copy when the original did) */
static void deep_copy(struct chunks *c, struct eg_event *d, const struct eg_event *ev)
{
	*d = *ev;
	d->comm = dup_str(c, ev->comm, ev->comm_len);
	d->filename = dup_str(c, ev->filename, ev->filename_len);
	d->exe = ev->exe == ev->filename ? d->filename : dup_str(c, ev->exe, ev->exe_len);
	d->dest_ip = dup_str(c, ev->dest_ip, ev->dest_ip_len);
	d->args = dup_str(c, ev->args, ev->args_len);
	d->requested = dup_str(c, ev->requested, ev->requested_len);
	for (int k = 0; k < 2; k++)
		d->aux[k] = dup_str(c, ev->aux[k], ev->aux_len[k]);
	struct eg_proc *p = ev->proc ? (struct eg_proc *)chunk_alloc(c, sizeof(*p)) : NULL;
	if (p) {
		const struct eg_proc *o = ev->proc;
		*p = *o;
#define DUP(f) p->f = dup_str(c, o->f, o->f##_len)
		DUP(exec_id);
		DUP(comm);
		DUP(exe);
		DUP(args);
		DUP(cwd);
		DUP(tty);
		DUP(parent_exec_id);
		DUP(parent_comm);
		DUP(parent_exe);
		DUP(parent_args);
		for (uint32_t a = 0; a < EG_ANCESTORS_MAX; a++) {
			DUP(ancestors[a].comm);
			DUP(ancestors[a].exe);
		}
#undef DUP
		d->proc = p;
	}
	struct eg_container *x = ev->ctr ? (struct eg_container *)chunk_alloc(c, sizeof(*x)) : NULL;
	if (x) {
		*x = *ev->ctr;
		x->cgroup = dup_str(c, ev->ctr->cgroup, ev->ctr->cgroup_len);
		x->id = dup_str(c, ev->ctr->id, ev->ctr->id_len);
		x->runtime = dup_str(c, ev->ctr->runtime, ev->ctr->runtime_len);
		x->pod_uid = dup_str(c, ev->ctr->pod_uid, ev->ctr->pod_uid_len);
		d->ctr = x;
	}
	struct eg_host *h = ev->host ? (struct eg_host *)chunk_alloc(c, sizeof(*h)) : NULL;
	if (h) {
		*h = *ev->host;
		h->name = dup_str(c, ev->host->name, ev->host->name_len);
		h->id = dup_str(c, ev->host->id, ev->host->id_len);
		d->host = h;
	}
}

/* Copies m events, their strings and their contexts into hot_ev /
 * hot_arena, as the daemon's decoder writes a batch (the replay reader
 * writes each event's process and container into the batch's arena too). */
static void copy_batch(const struct eg_event *ev, uint32_t m)
{
	struct chunks c = {.p = hot_arena, .cap = sizeof(hot_arena), .fixed = true};
	for (uint32_t i = 0; i < m; i++)
		deep_copy(&c, &hot_ev[i], &ev[i]);
}

/* Reads the recording at path into c (every line an event; a bad one stops
 * the benchmark with its line number and the reader's reason). */
static void load_corpus(struct corpus *c, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(1);
	}
	char err[512];
	struct eg_engine_opts o = {0};
	struct eg_engine *pe = eg_engine_new(&o, err, sizeof(err));
	struct eg_alert_sink *sink = pe ? eg_alerts_open_mem(err, sizeof(err)) : NULL;
	struct eg_pipe_opts po = {0};
	po.alerts = sink;
	struct eg_pipeline *p = sink ? eg_pipe_new(&po, pe, err, sizeof(err)) : NULL;
	if (!p) {
		fprintf(stderr, "corpus: %s\n", err);
		exit(1);
	}
	static struct chunks ch;
	size_t cap = 1 << 16, line_no = 0;
	c->ev = malloc(cap * sizeof(*c->ev));
	c->n = 0;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	while ((len = getline(&line, &lcap, f)) > 0) {
		line_no++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (!len)
			continue;
		struct eg_event *ev = eg_pipe_begin(p, EG_REPLAY_ROOM((size_t)len));
		if (!ev || eg_replay_parse(p, line, (size_t)len, ev, err, sizeof(err))) {
			fprintf(stderr, "%s:%zu: %s\n", path, line_no, ev ? err : "line too long");
			exit(1);
		}
		if (c->n == cap) {
			cap *= 2;
			c->ev = realloc(c->ev, cap * sizeof(*c->ev));
			if (!c->ev) {
				fprintf(stderr, "corpus: out of memory\n");
				exit(1);
			}
		}
		deep_copy(&ch, &c->ev[c->n++], ev);
		eg_pipe_abort(p);
	}
	free(line);
	fclose(f);
	eg_pipe_free(p);
	eg_alerts_close(sink);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	size_t n = 1000000;
	int passes = 5;
	int warmup = 0;
	const char *write_path = NULL;
	const char *corpus_path = NULL;
	int cold = 0;
	bool show_calls = false;
	const char *configs[64];
	size_t nconfigs = 0;
	struct eg_engine_opts o = {0};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			n = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-passes") && i + 1 < argc)
			passes = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-warmup") && i + 1 < argc)
			warmup = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-lua-path") && i + 1 < argc)
			o.lua_path = argv[++i];
		else if (!strcmp(argv[i], "-config") && i + 1 < argc && nconfigs < 64)
			configs[nconfigs++] = argv[++i];
		else if (!strcmp(argv[i], "-calls"))
			show_calls = true;
		else if (!strcmp(argv[i], "-cold"))
			cold = 1;
		else if (!strcmp(argv[i], "-no-prefilter"))
			o.no_prefilter = true;
		else if (!strcmp(argv[i], "-mix") && i + 1 < argc) {
			/* -mix OPEN,EXEC: percentages; connect gets the rest */
			unsigned a, b;
			if (sscanf(argv[++i], "%u,%u", &a, &b) != 2 || a + b > 100) {
				fprintf(stderr, "-mix wants OPEN,EXEC percentages summing to at most 100\n");
				return 2;
			}
			pct_open = a;
			pct_exec = b;
		} else if (!strcmp(argv[i], "-corpus") && i + 1 < argc) {
			corpus_path = argv[++i];
		} else if (!strcmp(argv[i], "--write") && i + 1 < argc)
			write_path = argv[++i];
		else {
			fprintf(stderr, "usage: %s [-n EVENTS] [-passes N] [-lua-path DIR] [-config PATH]... [-mix OPEN,EXEC] [-corpus FILE.jsonl] [-warmup N] [-calls] [-no-prefilter] [--write FILE]\n", argv[0]);
			return 2;
		}
	}
	if (passes < 1 || warmup < 0) {
		fprintf(stderr, "-passes wants at least 1 and -warmup at least 0\n");
		return 2;
	}
	struct corpus c = {0};
	if (corpus_path) {
		load_corpus(&c, corpus_path);
		n = c.n;
		if (!n) {
			fprintf(stderr, "%s: no events\n", corpus_path);
			return 1;
		}
	} else {
		gen(&c, n);
	}
	if (write_path) {
		FILE *f = fopen(write_path, "w");
		if (!f) {
			perror(write_path);
			return 1;
		}
		struct eg_buf b = {0};
		for (size_t i = 0; i < n; i++) {
			b.len = 0;
			eg_json_event(&b, &c.ev[i], true);
			eg_buf_putc(&b, '\n');
			fwrite(b.p, 1, b.len, f);
		}
		eg_buf_free(&b);
		fclose(f);
		fprintf(stderr, "wrote %zu events to %s\n", n, write_path);
		return 0;
	}
	o.configs = configs;
	o.nconfigs = nconfigs;
	char err[2048];
	struct eg_engine *e = eg_engine_new(&o, err, sizeof(err));
	if (!e) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	double *t = calloc((size_t)(passes + warmup), sizeof(double));
	double wall_all = 0, cpu_all = 0; /* the timed passes, end to end */
	for (int p = 0; p < passes + warmup; p++) {
		hits = 0;
		double c0 = cpu_s(), w0 = now_s();
		double spent = 0, t0 = w0;
		for (size_t i = 0; i < n; i += EG_BATCH_EVENTS) {
			uint32_t m = (uint32_t)(n - i < EG_BATCH_EVENTS ? n - i : EG_BATCH_EVENTS);
			struct eg_event *batch = c.ev + i;
			if (!cold) {
				copy_batch(batch, m);
				batch = hot_ev;
				t0 = now_s();
			}
			if (eg_engine_run(e, batch, m, count_hit, NULL, err, sizeof(err))) {
				fprintf(stderr, "%s\n", err);
				return 1;
			}
			if (!cold)
				spent += now_s() - t0;
		}
		double w1 = now_s(), c1 = cpu_s();
		t[p] = cold ? w1 - t0 : spent;
		if (p >= warmup) {
			wall_all += w1 - w0;
			cpu_all += c1 - c0;
		}
	}
	int all = passes + warmup;
	double warm = 0;
	for (int p = 0; p < warmup; p++)
		warm += t[p];
	double *timed = t + warmup;
	qsort(timed, (size_t)passes, sizeof(double), cmp_d);
	double med = timed[passes / 2];
	printf("engine: %zu events, %zu rules, %zu hits per pass, %d passes, %s\n", n,
	       eg_engine_nrules(e), hits, passes, cold ? "in place (cold)" : "batches copied (hot)");
	printf("engine: median %.1f ns/event, %.2f M events/s (best %.1f ns, worst %.1f ns)\n",
	       med * 1e9 / (double)n, (double)n / med / 1e6, timed[0] * 1e9 / (double)n,
	       timed[passes - 1] * 1e9 / (double)n);
	/* the wall clock counts the time others had the core: say how much */
	double taken = wall_all > cpu_all ? (wall_all - cpu_all) / wall_all : 0;
	if (taken > 0.02)
		printf("engine: other processes had the core %.0f%% of the timed passes' time: the figures above are high\n",
		       taken * 100);
	if (warmup)
		printf("engine: warm-up (left out above): %d passes, %.0f ms in all, %.1f ns/event\n", warmup,
		       warm * 1e3, warm * 1e9 / (double)n / warmup);
	free(t);
	printf("engine: %.0f opens per pass kept from the rules by the prefilter%s\n",
	       (double)eg_engine_prefiltered(e) / all, o.no_prefilter ? " (off: -no-prefilter)" : "");
	/* -calls: how often each rule's user code ran (Lua detections and
	 * conditions), per pass: what the interpreted part of the cost is */
	for (size_t i = 0; show_calls && i < eg_engine_nrules(e); i++) {
		uint64_t calls = eg_engine_rule_calls(e, i);
		if (calls)
			printf("calls: %-32s %10.0f per pass (%.2f%% of the events)\n", eg_engine_rule(e, i)->id,
			       (double)calls / all, 100.0 * (double)calls / all / (double)n);
	}
	eg_engine_free(e);
	free(c.ev);
	free(c.arena);
	return 0;
}
