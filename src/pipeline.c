/* SPDX-License-Identifier: MIT */
#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alerts.h"
#include "buf.h"
#include "harden.h"
#include "json.h"
#include "metrics.h"
#include "recfilter.h"
#include "response.h"

#define RECORD_FLUSH_BYTES (64u << 10)
#define RATE_SUMMARY_NS (10LL * 1000000000LL)
/* -watch: reload this long after the last change, so a burst of writes
 * (an editor saving, a config manager replacing several files) is one reload. */
#define WATCH_SETTLE_NS (200LL * 1000000LL)
#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE)
/* A ConfigMap (or Secret, projected, downward API) volume: each key is a
 * symbolic link "key -> ..data/key", and "..data" links to a timestamped
 * directory. The kubelet updates the volume by writing a new timestamped
 * directory and renaming a new "..data" link over the old one: the keys'
 * own links do not change, so only "..data" shows the change. */
#define KUBE_DATA_LINK "..data"
/* A reload still building after this long is stopped (65,535 rules load in
 * ~20 s on a 2-vCPU machine). */
#define RELOAD_TIMEOUT_NS (120LL * 1000000000LL)

/* A rule set being built off the event loop (reload_main). The loop keeps
 * running events through the current engine meanwhile, and swaps the new one
 * in between batches once done is set. */
struct reload_job {
	pthread_t thread;
	struct eg_engine_opts opts; /* next.engine, with abort pointing below */
	struct eg_pipe_live next;   /* the settings it is built with */
	_Atomic int done;           /* result/err are ready */
	volatile int32_t abort;     /* raised by the loop when the build is too slow */
	struct eg_engine *result;   /* NULL on failure, with err */
	char err[EG_ERR_MAX];       /* every problem, one per line */
	int64_t started_ns;
};

/* A watched directory: a -config directory (name NULL: any rule file in it
 * counts) or the directory of a -config file (name: that file only).
 * data_link: a change of KUBE_DATA_LINK in it counts too (always for a
 * directory; for a file, when it is a symbolic link into KUBE_DATA_LINK). */
struct watch {
	int wd;
	char *name;
	bool data_link;
};

struct rule_state {
	int slot;          /* metrics slot, -1 when none */
	double tokens;     /* token bucket for -alert-rate-limit */
	int64_t last_ns;   /* event time of the last refill */
	uint64_t suppressed_window;
	uint64_t errors[EG_RERR_KINDS];
};

struct eg_pipeline {
	struct eg_pipe_opts o;
	struct eg_engine *engine;
	uint64_t engine_gen;  /* engines swapped in so far (eg_pipe_engine_gen) */
	struct rule_state *rs;
	size_t nrs;
	uint64_t errors_seen;
	uint64_t prefiltered_seen; /* the engine's eg_engine_prefiltered, counted */
	struct eg_event events[EG_BATCH_EVENTS];
	uint32_t n;
	char *arena;
	size_t used;
	size_t reserve_end;
	size_t ev_start;
	int building;
	int record_fd;
	struct eg_buf rec;
	uint64_t rec_size;    /* bytes in the record file: on disk when opened,
			       * plus what was written since */
	bool rec_full;        /* -record-max-size reached: nothing more goes in */
	uint64_t rec_skipped; /* events not written to this file for its size */
	int64_t last_summary_ns;
	int inotify_fd;
	struct watch *watches;
	size_t nwatches;
	int64_t watch_due_ns; /* 0: no change pending */
	struct reload_job *job; /* the build in progress, NULL when none */
	bool reload_again;    /* requested while a build was running */
	const volatile uint64_t *lost; /* eg_pipe_set_lost_counter, NULL when none */
	uint64_t lost_seen;   /* *lost at the previous non-empty batch */
	bool batch_lost;      /* *lost moved before the batch being run */
};

static volatile sig_atomic_t reload_requested;
static volatile sig_atomic_t reopen_requested;

void eg_pipe_request_reload(void)
{
	reload_requested = 1;
}

void eg_pipe_request_reopen(void)
{
	reopen_requested = 1;
}

static void rate_summary(struct eg_pipeline *p, int64_t now, bool final);

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* (Re)builds per-rule state for p->engine: metrics slots by id, fresh
 * buckets, the response's protect: list. */
static int bind_rules(struct eg_pipeline *p)
{
	size_t n = eg_engine_nrules(p->engine), nprotect, kills = 0;
	const char *const *protect = eg_engine_protect(p->engine, &nprotect);
	if (p->o.response && eg_response_set_protect(p->o.response, protect, nprotect))
		return -1;
	struct rule_state *rs = calloc(n ? n : 1, sizeof(*rs));
	if (!rs)
		return -1;
	unsigned char on[EG_MAX_RULE_SLOTS] = {0};
	for (size_t i = 0; i < n; i++) {
		const struct eg_rule_info *r = eg_engine_rule(p->engine, i);
		rs[i].slot = eg_metrics_rule_slot(r->id, r->source);
		if (rs[i].slot >= 0)
			on[rs[i].slot] = 1;
		rs[i].tokens = p->o.rate_limit > 1 ? p->o.rate_limit : 1;
		rs[i].last_ns = INT64_MIN;
		kills += r->action == EG_ACTION_KILL;
	}
	if (kills && p->o.response)
		fprintf(stderr, "ebpf-guard: %zu rule%s with action kill, enforced (-enforce)\n", kills,
			kills == 1 ? "" : "s");
	/* Each flag flips at most once: a scrape during a reload never sees a
	 * rule that stays loaded drop out of rules_loaded. */
	for (uint32_t i = 0; i < atomic_load(&eg_metrics.nslots); i++) {
		if (atomic_load(&eg_metrics.slots[i].loaded) != on[i])
			atomic_store(&eg_metrics.slots[i].loaded, on[i]);
		/* a new rule set starts with every rule in service */
		atomic_store(&eg_metrics.slots[i].disabled, 0);
	}
	free(p->rs);
	p->rs = rs;
	p->nrs = n;
	p->errors_seen = 0;
	p->prefiltered_seen = eg_engine_prefiltered(p->engine); /* 0 for a new one */
	return 0;
}

/* true when path is a symbolic link to "..data/..." (a key of a ConfigMap
 * volume, given as a -config file). */
static bool links_into_data(const char *path)
{
	char target[4096];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = 0;
	return !strncmp(target, KUBE_DATA_LINK "/", sizeof(KUBE_DATA_LINK));
}

/* -watch: one inotify watch per -config directory, and on the directory of
 * each -config file (editors and config managers replace files by rename,
 * which a watch on the file itself would not survive). */
static int watch_configs(struct eg_pipeline *p, char *err, size_t errlen)
{
	const struct eg_engine_opts *eo = &p->o.engine;
	p->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (p->inotify_fd < 0) {
		snprintf(err, errlen, "-watch: failed to start inotify: %s", strerror(errno));
		return -1;
	}
	p->watches = calloc(eo->nconfigs ? eo->nconfigs : 1, sizeof(*p->watches));
	if (!p->watches) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < eo->nconfigs; i++) {
		const char *path = eo->configs[i];
		struct stat st;
		char dir[4096], base[4096];
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			snprintf(dir, sizeof(dir), "%s", path);
			base[0] = 0;
		} else {
			char tmp[4096];
			snprintf(tmp, sizeof(tmp), "%s", path);
			snprintf(dir, sizeof(dir), "%s", dirname(tmp));
			snprintf(tmp, sizeof(tmp), "%s", path);
			snprintf(base, sizeof(base), "%s", basename(tmp));
		}
		int wd = inotify_add_watch(p->inotify_fd, dir, WATCH_MASK);
		if (wd < 0) {
			snprintf(err, errlen, "-watch: failed to watch %s: %s", dir, strerror(errno));
			return -1;
		}
		p->watches[p->nwatches].wd = wd;
		p->watches[p->nwatches].name = base[0] ? strdup(base) : NULL;
		p->watches[p->nwatches].data_link = !base[0] || links_into_data(path);
		p->nwatches++;
	}
	return 0;
}

/* The -config paths changed at a reload: watch the new ones. */
static void rewatch(struct eg_pipeline *p)
{
	char err[4200];
	if (p->inotify_fd >= 0)
		close(p->inotify_fd);
	for (size_t i = 0; i < p->nwatches; i++)
		free(p->watches[i].name);
	free(p->watches);
	p->watches = NULL;
	p->nwatches = 0;
	p->watch_due_ns = 0;
	if (watch_configs(p, err, sizeof(err)))
		fprintf(stderr, "ebpf-guard: %s: changes are not watched until the next reload\n", err);
}

static int is_rule_file(const char *name)
{
	size_t n = strlen(name);
	return (n > 5 && !strcmp(name + n - 5, ".yaml")) || (n > 4 && !strcmp(name + n - 4, ".yml")) ||
	       (n > 4 && !strcmp(name + n - 4, ".lua"));
}

/* Reads pending inotify events; a change to a config file schedules a reload. */
static void read_watch_events(struct eg_pipeline *p, int64_t now)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t len;
	while ((len = read(p->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *q = buf; q < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)q;
			q += sizeof(*ev) + ev->len;
			if (!ev->len)
				continue;
			for (size_t i = 0; i < p->nwatches; i++) {
				const struct watch *w = &p->watches[i];
				if (w->wd != ev->wd)
					continue;
				if ((w->name ? !strcmp(w->name, ev->name) : is_rule_file(ev->name)) ||
				    (w->data_link && !strcmp(ev->name, KUBE_DATA_LINK)))
					p->watch_due_ns = now + WATCH_SETTLE_NS;
			}
		}
	}
}

/* A record file was just opened: the cap counts from its current size. */
static void record_opened(struct eg_pipeline *p)
{
	struct stat st;
	p->rec_size = fstat(p->record_fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	p->rec_full = false;
	p->rec_skipped = 0;
}

struct eg_pipeline *eg_pipe_new(const struct eg_pipe_opts *o, struct eg_engine *engine,
				char *err, size_t errlen)
{
	struct eg_pipeline *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->o = *o;
	p->engine = engine;
	p->record_fd = -1;
	p->inotify_fd = -1;
	p->arena = malloc(EG_ARENA_BYTES);
	if (!p->arena || bind_rules(p)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (o->record_path) {
		char why[PATH_MAX + 64];
		p->record_fd = eg_open_output(o->record_path, why, sizeof(why));
		if (p->record_fd < 0) {
			snprintf(err, errlen, "failed to open record file %s: %s", o->record_path, why);
			goto fail;
		}
		record_opened(p);
	}
	p->inotify_fd = -1;
	if (o->watch && watch_configs(p, err, errlen))
		goto fail;
	p->last_summary_ns = mono_ns();
	return p;
fail:
	p->engine = NULL;
	eg_pipe_free(p);
	return NULL;
}

static void record_write(struct eg_pipeline *p)
{
	size_t off = 0;
	while (off < p->rec.len) {
		ssize_t w = write(p->record_fd, p->rec.p + off, p->rec.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fprintf(stderr, "ebpf-guard: failed to write record file %s: %s\n",
				p->o.record_path, w < 0 ? strerror(errno) : "short write");
			break;
		}
		off += (size_t)w;
	}
	p->rec_size += off;
	p->rec.len = 0;
}

/* Done with the record file open now (exit, reopen): the one line saying
 * how many events its size cap kept out. */
static void record_report(struct eg_pipeline *p)
{
	if (!p->rec_skipped)
		return;
	fprintf(stderr, "ebpf-guard: record file %s reached -record-max-size (%llu MiB): "
			"%llu events not written to it\n",
		p->o.record_path, (unsigned long long)(p->o.record_max_bytes >> 20),
		(unsigned long long)p->rec_skipped);
}

void eg_pipe_free(struct eg_pipeline *p)
{
	if (!p)
		return;
	if (p->job) {
		/* a build still running is told to stop and left behind (with its
		 * job, which it may still write to) rather than waited for */
		if (atomic_load(&p->job->done)) {
			pthread_join(p->job->thread, NULL);
			eg_engine_free(p->job->result);
			free(p->job);
		} else {
			p->job->abort = 1;
			pthread_detach(p->job->thread);
		}
		p->job = NULL;
	}
	if (p->n)
		eg_pipe_flush(p);
	if (p->engine)
		rate_summary(p, mono_ns(), true);
	if (p->record_fd >= 0) {
		if (p->rec.len)
			record_write(p);
		record_report(p);
		close(p->record_fd);
	}
	eg_buf_free(&p->rec);
	if (p->inotify_fd >= 0)
		close(p->inotify_fd);
	for (size_t i = 0; i < p->nwatches; i++)
		free(p->watches[i].name);
	free(p->watches);
	eg_engine_free(p->engine);
	free(p->rs);
	free(p->arena);
	free(p);
}

struct eg_engine *eg_pipe_engine(struct eg_pipeline *p)
{
	return p->engine;
}

uint64_t eg_pipe_engine_gen(const struct eg_pipeline *p)
{
	return p->engine_gen;
}

_Static_assert(sizeof(struct eg_event) == 248 && offsetof(struct eg_event, aux_len) == 240,
	       "eg_pipe_begin() clears struct eg_event field by field: clear the new field there too");

struct eg_event *eg_pipe_begin(struct eg_pipeline *p, size_t str_bytes)
{
	if (str_bytes > EG_EVENT_MAX_BYTES)
		return NULL;
	if (p->n == EG_BATCH_EVENTS || p->used + str_bytes > EG_ARENA_BYTES)
		eg_pipe_flush(p);
	struct eg_event *ev = &p->events[p->n];
	/* field by field, which compiles to a few vector stores: a memset (or a
	 * struct assignment) of this size became `rep stos`, a fifth of the
	 * daemon's time per open event */
	static const char empty[1];
	ev->ts_ns = 0;
	ev->cgroup_id = 0;
	ev->type = ev->flags = ev->pid = ev->tgid = ev->ppid = ev->uid = ev->gid = 0;
	ev->open_flags = ev->dest_port = ev->argc = 0;
	ev->comm = ev->filename = ev->exe = ev->dest_ip = ev->args = ev->requested = empty;
	ev->comm_len = ev->filename_len = ev->exe_len = ev->dest_ip_len = ev->args_len = 0;
	ev->requested_len = 0;
	ev->ret = 0;
	ev->proto = 0;
	ev->proc = NULL;
	ev->ctr = NULL;
	ev->host = NULL;
	ev->num[0] = ev->num[1] = ev->num[2] = ev->num[3] = 0;
	ev->num[4] = ev->num[5] = ev->num[6] = ev->num[7] = 0;
	ev->aux[0] = ev->aux[1] = empty;
	ev->aux_len[0] = ev->aux_len[1] = 0;
	p->ev_start = p->used;
	p->reserve_end = p->used + str_bytes;
	p->building = 1;
	return ev;
}

char *eg_pipe_alloc(struct eg_pipeline *p, size_t len)
{
	if (!p->building || p->used + len > p->reserve_end) {
		/* A producer bug: it reserved less than it used. */
		fprintf(stderr, "ebpf-guard: internal error: event string room exceeded\n");
		abort();
	}
	char *s = p->arena + p->used;
	p->used += len;
	return s;
}

const char *eg_pipe_str(struct eg_pipeline *p, const char *s, size_t len)
{
	char *d = eg_pipe_alloc(p, len + 1);
	memcpy(d, s, len);
	d[len] = 0;
	return d;
}

/* -record: the event's line, unless the filters leave it out or it would
 * take the file past -record-max-size (then no later event goes in either:
 * the file ends at a whole line). */
static void record_event(struct eg_pipeline *p, const struct eg_event *ev)
{
	if (!eg_recfilter_match(p->o.record_filter, ev)) {
		EG_INC(record_skipped[EG_RSKIP_FILTER]);
		return;
	}
	if (p->rec_full)
		goto skip;
	size_t start = p->rec.len;
	eg_json_event(&p->rec, ev, true);
	eg_buf_putc(&p->rec, '\n');
	if (p->o.record_max_bytes && p->rec_size + p->rec.len > p->o.record_max_bytes) {
		p->rec.len = start;
		p->rec_full = true;
		goto skip;
	}
	if (p->rec.len >= RECORD_FLUSH_BYTES)
		record_write(p);
	return;
skip:
	p->rec_skipped++;
	EG_INC(record_skipped[EG_RSKIP_SIZE]);
}

void eg_pipe_commit(struct eg_pipeline *p)
{
	struct eg_event *ev = &p->events[p->n];
	p->building = 0;
	if (ev->type <= EG_EV_MAX)
		EG_INC(events[ev->type]);
	if (p->record_fd >= 0)
		record_event(p, ev);
	p->n++;
}

void eg_pipe_abort(struct eg_pipeline *p)
{
	p->building = 0;
	p->used = p->ev_start;
}

/* Token bucket per rule, refilled by event time so replays are repeatable. */
static int rate_allow(struct eg_pipeline *p, struct rule_state *r, int64_t ts)
{
	double rate = p->o.rate_limit, burst = rate > 1 ? rate : 1;
	if (r->last_ns != INT64_MIN && ts > r->last_ns)
		r->tokens = fmin(burst, r->tokens + (double)(ts - r->last_ns) * 1e-9 * rate);
	if (r->last_ns == INT64_MIN || ts > r->last_ns)
		r->last_ns = ts;
	if (r->tokens >= 1) {
		r->tokens -= 1;
		return 1;
	}
	return 0;
}

static void on_hit(void *ctx, const struct eg_event *ev, uint32_t rule, const char *desc,
		   size_t desc_len)
{
	struct eg_pipeline *p = ctx;
	struct rule_state *r = &p->rs[rule];
	const struct eg_rule_info *info = eg_engine_rule(p->engine, rule);
	struct eg_response_outcome act = {0};
	/* before the rate limit: a kill does not wait for an alert's turn */
	if (info->action != EG_ACTION_ALERT)
		eg_response_run(p->o.response, ev, info, &act);
	if (p->o.rate_limit > 0 && !rate_allow(p, r, ev->ts_ns)) {
		r->suppressed_window++;
		if (r->slot >= 0)
			atomic_fetch_add_explicit(&eg_metrics.slots[r->slot].suppressed, 1,
						  memory_order_relaxed);
		return;
	}
	if (r->slot >= 0)
		atomic_fetch_add_explicit(&eg_metrics.slots[r->slot].alerts, 1, memory_order_relaxed);
	eg_alerts_add(p->o.alerts, ev, info, desc, desc_len, p->batch_lost,
		      info->action != EG_ACTION_ALERT ? &act : NULL);
}

/* Moves new per-rule error counts from the engine into the metrics slots. */
static void collect_errors(struct eg_pipeline *p)
{
	uint64_t total = eg_engine_total_errors(p->engine);
	if (total == p->errors_seen)
		return;
	p->errors_seen = total;
	for (size_t i = 0; i < p->nrs; i++) {
		for (int k = 0; k < EG_RERR_KINDS; k++) {
			uint64_t now = eg_engine_rule_errors(p->engine, i, k);
			if (now != p->rs[i].errors[k] && p->rs[i].slot >= 0)
				atomic_fetch_add_explicit(&eg_metrics.slots[p->rs[i].slot].errors[k],
							  now - p->rs[i].errors[k],
							  memory_order_relaxed);
			p->rs[i].errors[k] = now;
		}
		if (p->rs[i].slot >= 0 && eg_engine_rule_disabled(p->engine, i) &&
		    !atomic_load(&eg_metrics.slots[p->rs[i].slot].disabled))
			atomic_store(&eg_metrics.slots[p->rs[i].slot].disabled, 1);
	}
}

int eg_pipe_flush(struct eg_pipeline *p)
{
	int rc = 0;
	if (p->n) {
		char err[512];
		if (p->lost) {
			uint64_t lost = __atomic_load_n(p->lost, __ATOMIC_RELAXED);
			p->batch_lost = lost != p->lost_seen;
			p->lost_seen = lost;
		}
		int64_t t0 = mono_ns();
		if (eg_engine_run(p->engine, p->events, p->n, on_hit, p, err, sizeof(err))) {
			fprintf(stderr, "ebpf-guard: %s\n", err);
			rc = -1;
		}
		eg_metrics_observe_batch((uint64_t)(mono_ns() - t0));
		uint64_t pf = eg_engine_prefiltered(p->engine);
		EG_ADD(prefiltered_open, pf - p->prefiltered_seen);
		p->prefiltered_seen = pf;
		collect_errors(p);
		p->n = 0;
	}
	p->used = 0;
	eg_alerts_flush(p->o.alerts);
	if (p->record_fd >= 0 && p->rec.len)
		record_write(p);
	return rc;
}

void eg_pipe_set_lost_counter(struct eg_pipeline *p, const volatile uint64_t *counter)
{
	p->lost = counter;
	p->lost_seen = counter ? __atomic_load_n(counter, __ATOMIC_RELAXED) : 0;
	p->batch_lost = false;
}

static void rewatch(struct eg_pipeline *p);

/* Swaps in e, a freshly built engine, with the settings next (NULL: the
 * current ones); on failure (e NULL) reports err. Returns true when e is in. */
static bool swap_engine(struct eg_pipeline *p, struct eg_engine *e, const struct eg_pipe_live *next,
			const char *err)
{
	if (!e) {
		EG_INC(reload_failures);
		/* one line per problem, the first after the news */
		size_t l = strcspn(err, "\n");
		fprintf(stderr, "ebpf-guard: reload failed, keeping the previous rules: %.*s\n",
			(int)l, err);
		for (err += l; *err && err[1]; err += l) {
			err++;
			l = strcspn(err, "\n");
			fprintf(stderr, "ebpf-guard: %.*s\n", (int)l, err);
		}
		return false;
	}
	/* events already queued belong to the rule set they arrived under */
	eg_pipe_flush(p);
	struct eg_engine *old = p->engine;
	rate_summary(p, mono_ns(), true); /* the window's counts go with the old rules */
	struct eg_pipe_live was = {p->o.engine, p->o.rate_limit, p->o.strict_perms};
	if (next) {
		p->o.engine = next->engine;
		p->o.engine.abort = NULL;
		p->o.rate_limit = next->rate_limit;
		p->o.strict_perms = next->strict_perms;
	}
	p->engine = e;
	if (bind_rules(p)) {
		p->engine = old;
		p->o.engine = was.engine;
		p->o.rate_limit = was.rate_limit;
		p->o.strict_perms = was.strict_perms;
		eg_engine_free(e);
		bind_rules(p);
		EG_INC(reload_failures);
		fprintf(stderr, "ebpf-guard: reload failed: out of memory\n");
		return false;
	}
	eg_engine_free(old);
	p->engine_gen++;
	EG_INC(reloads);
	fprintf(stderr, "ebpf-guard: reloaded %zu rules\n", eg_engine_nrules(e));
	if (next && p->o.watch && next->engine.configs != was.engine.configs)
		rewatch(p);
	return true;
}

/* A reload's end, for the settings' owner. */
static void reconfigured(struct eg_pipeline *p, bool taken)
{
	if (p->o.reconfigured)
		p->o.reconfigured(p->o.reconfigure_ctx, taken);
}

static void *reload_main(void *arg)
{
	struct reload_job *j = arg;
	j->result = eg_engine_new(&j->opts, j->err, sizeof(j->err));
	atomic_store_explicit(&j->done, 1, memory_order_release);
	return NULL;
}

/* Starts building the configuration in a thread of its own (signals stay
 * with the event loop's thread). Falls back to building here when no thread
 * can be started. */
static void start_reload(struct eg_pipeline *p, int64_t now)
{
	if (p->job) {
		p->reload_again = true; /* once this one is done */
		return;
	}
	struct eg_pipe_live next = {p->o.engine, p->o.rate_limit, p->o.strict_perms};
	if (p->o.reconfigure && p->o.reconfigure(p->o.reconfigure_ctx, &next)) {
		EG_INC(reload_failures);
		return;
	}
	char perr[1024];
	if (p->o.check_perms && eg_check_config_perms(next.engine.configs, next.engine.nconfigs,
						      next.strict_perms, perr, sizeof(perr))) {
		swap_engine(p, NULL, NULL, perr);
		reconfigured(p, false);
		return;
	}
	struct reload_job *j = calloc(1, sizeof(*j));
	if (!j) {
		EG_INC(reload_failures);
		fprintf(stderr, "ebpf-guard: reload failed, keeping the previous rules: out of memory\n");
		reconfigured(p, false);
		return;
	}
	j->next = next;
	j->opts = next.engine;
	j->abort = 0;
	j->opts.abort = &j->abort;
	j->result = NULL;
	j->err[0] = '\0';
	atomic_store(&j->done, 0);
	j->started_ns = now;
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, SIGSYS); /* a call the seccomp filter refuses is reported */
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&j->thread, NULL, reload_main, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		free(j);
		char err[1024];
		struct eg_engine *e = eg_engine_new(&next.engine, err, sizeof(err));
		reconfigured(p, swap_engine(p, e, &next, err));
		return;
	}
	p->job = j;
}

/* Between batches: swaps in a finished build, or stops one that ran past
 * RELOAD_TIMEOUT_NS (its Lua code is interrupted at the next count-hook
 * check; the build then fails and the previous rules stay). */
static void poll_reload(struct eg_pipeline *p, int64_t now)
{
	struct reload_job *j = p->job;
	if (!j)
		return;
	if (!atomic_load_explicit(&j->done, memory_order_acquire)) {
		if (!j->abort && now - j->started_ns > RELOAD_TIMEOUT_NS) {
			j->abort = 1;
			fprintf(stderr, "ebpf-guard: reload still running after %lld s: stopping it\n",
				RELOAD_TIMEOUT_NS / 1000000000LL);
		}
		return;
	}
	pthread_join(j->thread, NULL);
	p->job = NULL;
	if (j->abort && !j->result)
		snprintf(j->err, sizeof(j->err), "it ran longer than %lld s",
			 RELOAD_TIMEOUT_NS / 1000000000LL);
	bool taken = swap_engine(p, j->result, &j->next, j->err);
	free(j);
	reconfigured(p, taken);
	if (p->reload_again) {
		p->reload_again = false;
		start_reload(p, now);
	}
}

bool eg_pipe_reload_busy(struct eg_pipeline *p)
{
	return p->job || p->reload_again;
}

/* Every RATE_SUMMARY_NS, or now when final (at exit: the last, shorter window). */
static void rate_summary(struct eg_pipeline *p, int64_t now, bool final)
{
	if (p->o.rate_limit <= 0 || (!final && now - p->last_summary_ns < RATE_SUMMARY_NS))
		return;
	long long secs = final ? (now - p->last_summary_ns + 999999999LL) / 1000000000LL
			       : RATE_SUMMARY_NS / 1000000000LL;
	p->last_summary_ns = now;
	for (size_t i = 0; i < p->nrs; i++) {
		if (!p->rs[i].suppressed_window)
			continue;
		fprintf(stderr, "ebpf-guard: rate limit: rule=%s suppressed=%llu alerts in the last %llds\n",
			eg_engine_rule(p->engine, i)->id,
			(unsigned long long)p->rs[i].suppressed_window, secs > 0 ? secs : 1);
		p->rs[i].suppressed_window = 0;
	}
}

/* SIGUSR1, SIGHUP: the record file by its path again (after a flush), as
 * the alert file; on failure the open one stays. */
static void record_reopen(struct eg_pipeline *p)
{
	char why[PATH_MAX + 64];
	int fd = eg_open_output(p->o.record_path, why, sizeof(why));
	if (fd < 0) {
		fprintf(stderr, "ebpf-guard: failed to reopen record file %s: %s\n", p->o.record_path,
			why);
		return;
	}
	record_report(p);
	close(p->record_fd);
	p->record_fd = fd;
	record_opened(p);
}

struct eg_recfilter *eg_pipe_record_filter(struct eg_pipeline *p)
{
	return p->o.record_filter;
}

void eg_pipe_service(struct eg_pipeline *p)
{
	int64_t now = mono_ns();
	atomic_store_explicit(&eg_metrics.last_loop_ns, now, memory_order_relaxed);
	if (p->inotify_fd >= 0) {
		read_watch_events(p, now);
		if (p->watch_due_ns && now >= p->watch_due_ns) {
			p->watch_due_ns = 0;
			fprintf(stderr, "ebpf-guard: configuration changed, reloading\n");
			reload_requested = 1;
		}
	}
	if (reload_requested) {
		reload_requested = 0;
		start_reload(p, now);
	}
	poll_reload(p, now);
	if (reopen_requested) {
		reopen_requested = 0;
		eg_pipe_flush(p);
		eg_alerts_reopen(p->o.alerts);
		if (p->record_fd >= 0)
			record_reopen(p);
	}
	eg_engine_gc_step(p->engine);
	EG_SET(lua_bytes, eg_engine_lua_bytes(p->engine));
	rate_summary(p, now, false);
}
