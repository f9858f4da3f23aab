/* SPDX-License-Identifier: MIT */
/*
 * Counters (written by the event loop with relaxed atomics), their Prometheus
 * text exposition, and the libmicrohttpd server that serves /metrics and
 * /healthz from its own threads.
 */
#include "json.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buf.h"
#include "harden.h"

#ifndef EG_VERSION
#define EG_VERSION "unknown"
#endif

/*
 * Connection limits. Past either limit the new connection is not refused and
 * does not wait: the least recently active idle connection (of that address,
 * or of all) is closed to make room, so that a flood of idle or half-sent
 * connections from any number of addresses cannot keep /healthz out.
 */
#define HTTP_CONN_LIMIT 64   /* connections kept open in all */
#define HTTP_PER_IP_LIMIT 16 /* per client address (IPv6: per /64) */
/* libmicrohttpd's own limit (past it, it stops accepting): room for the
 * connections we have shut down and it has not closed yet. */
#define HTTP_MHD_LIMIT (2 * HTTP_CONN_LIMIT)
#define HTTP_TIMEOUT_S 2     /* closes a connection this long without traffic */
/* Per-connection buffer: the request head (Prometheus sends ~300 bytes) and
 * the response head; the page itself is sent from its own buffer. */
#define HTTP_CONN_MEMORY (16u << 10)
#define HTTP_THREADS 2
/* /healthz answers 503 once the event loop has not passed for this long. */
#define HEALTH_STALL_NS (5LL * 1000000000LL)

struct eg_metrics eg_metrics;
const double eg_hist_bounds[EG_HIST_BUCKETS] = {
	1e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 2.5e-2, 1e-1,
};
const double eg_resp_hist_bounds[EG_RESP_HIST_BUCKETS] = {
	1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 1e-1, 2.5e-1, 1,
};

/*
 * first_of[i]: the lowest slot index with the same rule id as slot i (i itself
 * when it is the first). A rule id that moves to another file gets a second
 * slot (so rules_loaded follows the file); its counters are summed under the
 * one rule_id series. Written before nslots is published, like the slot.
 */
static uint32_t first_of[EG_MAX_RULE_SLOTS];

static struct MHD_Daemon *daemon_http;

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void eg_metrics_init(void)
{
	eg_metrics.start_time_s = (int64_t)time(NULL);
	/* A grace period for /healthz until the loop's first pass. */
	atomic_store_explicit(&eg_metrics.last_loop_ns, mono_ns(), memory_order_relaxed);
}

/*
 * Single writer (the event loop). The slot is filled, then published with a
 * release store of nslots; readers load nslots with acquire and only look at
 * slots below it, whose id/source never change afterwards.
 */
int eg_metrics_rule_slot(const char *id, const char *source)
{
	uint32_t n = atomic_load_explicit(&eg_metrics.nslots, memory_order_relaxed);
	uint32_t first = n;
	for (uint32_t i = 0; i < n; i++) {
		if (strcmp(eg_metrics.slots[i].id, id))
			continue;
		if (!strcmp(eg_metrics.slots[i].source, source))
			return (int)i;
		first = first_of[i];
	}
	if (n >= EG_MAX_RULE_SLOTS) {
		static int warned;
		if (!warned++)
			fprintf(stderr, "ebpf-guard: more than %d rule ids since start-up: rules "
					"added from now on get no per-rule metrics\n", EG_MAX_RULE_SLOTS);
		return first < n ? (int)first : -1;
	}
	struct eg_rule_slot *s = &eg_metrics.slots[n];
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->source, sizeof(s->source), "%s", source);
	first_of[n] = first;
	atomic_store_explicit(&eg_metrics.nslots, n + 1, memory_order_release);
	return (int)n;
}

struct eg_output_slot *eg_metrics_output(const char *name)
{
	uint32_t n = atomic_load_explicit(&eg_metrics.noutputs, memory_order_relaxed);
	if (n >= EG_OUTPUTS_MAX)
		return NULL;
	eg_metrics.outputs[n].name = name;
	atomic_store_explicit(&eg_metrics.noutputs, n + 1, memory_order_release);
	return &eg_metrics.outputs[n];
}

void eg_metrics_observe_batch(uint64_t ns)
{
	/* Compared in whole ns: 1000 ns falls in le="1e-06" exactly. */
	int i = 0;
	while (i < EG_HIST_BUCKETS && ns > (uint64_t)(eg_hist_bounds[i] * 1e9 + 0.5))
		i++;
	EG_INC(batch_hist[i]);
	EG_ADD(batch_sum_ns, ns);
	EG_INC(batch_count);
}

void eg_metrics_observe_response(uint64_t ns)
{
	int i = 0;
	while (i < EG_RESP_HIST_BUCKETS && ns > (uint64_t)(eg_resp_hist_bounds[i] * 1e9 + 0.5))
		i++;
	EG_INC(resp_hist[i]);
	EG_ADD(resp_sum_ns, ns);
}

/* ---- text exposition ------------------------------------------------------ */

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

struct out {
	struct eg_buf b;
	int oom;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (eg_buf_put(&o->b, s, n))
		o->oom = 1;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void putf(struct out *o, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A label value per the text format: \\, \" and \n escaped; invalid UTF-8
 * (which Prometheus rejects) replaced by U+FFFD. */
static void put_label_value(struct out *o, const char *v)
{
	const unsigned char *s = (const unsigned char *)v;
	size_t n = strlen(v);
	while (n) {
		size_t run = 0;
		while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '\\' && s[run] != '"')
			run++;
		put(o, (const char *)s, run);
		s += run, n -= run;
		if (!n)
			break;
		if (*s == '\\')
			puts_(o, "\\\\");
		else if (*s == '"')
			puts_(o, "\\\"");
		else if (*s == '\n')
			puts_(o, "\\n");
		else if (*s < 0x80) {
			put(o, (const char *)s, 1); /* other control bytes are valid UTF-8 */
		} else {
			size_t l = eg_utf8_len(s, n);
			if (l) {
				put(o, (const char *)s, l);
				s += l, n -= l;
				continue;
			}
			puts_(o, "\xef\xbf\xbd");
		}
		s++, n--;
	}
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
	/* in pieces: putf's buffer would cut a long HELP text, and its TYPE line */
	puts_(o, "# HELP ");
	puts_(o, name);
	puts_(o, " ");
	puts_(o, help);
	puts_(o, "\n# TYPE ");
	puts_(o, name);
	puts_(o, " ");
	puts_(o, type);
	puts_(o, "\n");
}

static void sample_u64(struct out *o, const char *name, uint64_t v)
{
	putf(o, "%s %" PRIu64 "\n", name, v);
}

/* name{label="value"} v */
static void sample_1(struct out *o, const char *name, const char *label, const char *value,
		     uint64_t v)
{
	putf(o, "%s{%s=\"", name, label);
	put_label_value(o, value);
	putf(o, "\"} %" PRIu64 "\n", v);
}

static void simple(struct out *o, const char *name, const char *type, const char *help,
		   uint64_t v)
{
	family(o, name, type, help);
	sample_u64(o, name, v);
}

/* Per-rule counters summed by rule id (into the id's first slot). */
struct rule_sums {
	uint64_t alerts, errors[EG_RERR_KINDS], suppressed;
};

static struct rule_sums *sum_rules(uint32_t n)
{
	struct rule_sums *sum = calloc(n ? n : 1, sizeof(*sum));
	if (!sum)
		return NULL;
	for (uint32_t k = 0; k < n; k++) {
		const struct eg_rule_slot *s = &eg_metrics.slots[k];
		struct rule_sums *d = &sum[first_of[k]];
		d->alerts += LOAD(s->alerts);
		for (int e = 0; e < EG_RERR_KINDS; e++)
			d->errors[e] += LOAD(s->errors[e]);
		d->suppressed += LOAD(s->suppressed);
	}
	return sum;
}

static int cmp_source(const void *a, const void *b)
{
	return strcmp(eg_metrics.slots[*(const uint32_t *)a].source,
		      eg_metrics.slots[*(const uint32_t *)b].source);
}

static void render_rules(struct out *o, uint32_t n)
{
	static const char *const kinds[] = {"runtime", "budget"};
	struct rule_sums *sum = sum_rules(n);
	if (!sum) {
		o->oom = 1;
		return;
	}

	family(o, "ebpf_guard_alerts_total", "counter",
	       "Number of alerts raised by ebpf-guard, labelled by rule id.");
	for (uint32_t i = 0; i < n; i++)
		if (first_of[i] == i)
			sample_1(o, "ebpf_guard_alerts_total", "rule_id", eg_metrics.slots[i].id,
				 sum[i].alerts);

	family(o, "ebpf_guard_alerts_suppressed_total", "counter",
	       "Alerts dropped by -alert-rate-limit, labelled by rule id.");
	for (uint32_t i = 0; i < n; i++)
		if (first_of[i] == i && sum[i].suppressed)
			sample_1(o, "ebpf_guard_alerts_suppressed_total", "rule_id",
				 eg_metrics.slots[i].id, sum[i].suppressed);

	family(o, "ebpf_guard_rule_errors_total", "counter",
	       "Errors raised by rules and Lua detections, labelled by rule id and kind "
	       "(runtime error or instruction budget exceeded).");
	for (uint32_t i = 0; i < n; i++) {
		if (first_of[i] != i)
			continue;
		for (int k = 0; k < EG_RERR_KINDS; k++) {
			if (!sum[i].errors[k])
				continue;
			puts_(o, "ebpf_guard_rule_errors_total{rule_id=\"");
			put_label_value(o, eg_metrics.slots[i].id);
			putf(o, "\",kind=\"%s\"} %" PRIu64 "\n", kinds[k], sum[i].errors[k]);
		}
	}
	free(sum);

	family(o, "ebpf_guard_rule_disabled", "gauge",
	       "1 for a rule or Lua detection taken out of service after -lua-max-errors "
	       "errors in a row, until the next reload, labelled by rule id.");
	for (uint32_t i = 0; i < n; i++)
		/* ids are unique in a rule set: one loaded slot per id */
		if (LOAD(eg_metrics.slots[i].loaded) && LOAD(eg_metrics.slots[i].disabled))
			sample_1(o, "ebpf_guard_rule_disabled", "rule_id", eg_metrics.slots[i].id, 1);

	family(o, "ebpf_guard_rules_loaded", "gauge",
	       "Rules and detections in the active rule set, labelled by the file they come "
	       "from (builtin for the built-in heuristics).");
	uint32_t *idx = malloc((n ? n : 1) * sizeof(*idx));
	if (!idx) {
		o->oom = 1;
		return;
	}
	uint32_t m = 0;
	for (uint32_t i = 0; i < n; i++)
		if (LOAD(eg_metrics.slots[i].loaded))
			idx[m++] = i;
	qsort(idx, m, sizeof(*idx), cmp_source);
	for (uint32_t a = 0, b; a < m; a = b) {
		const char *src = eg_metrics.slots[idx[a]].source;
		for (b = a + 1; b < m && !strcmp(eg_metrics.slots[idx[b]].source, src); b++)
			;
		sample_1(o, "ebpf_guard_rules_loaded", "source", src, b - a);
	}
	free(idx);
}

/* One output's series of a family: name{output="..."[,reason="..."]} v. */
static void out_sample(struct out *o, const char *name, const char *output, const char *reason,
		       uint64_t v)
{
	if (reason)
		putf(o, "%s{output=\"%s\",reason=\"%s\"} %" PRIu64 "\n", name, output, reason, v);
	else
		putf(o, "%s{output=\"%s\"} %" PRIu64 "\n", name, output, v);
}

/* The ebpf_guard_output_* families: the alert file's series (from the alert
 * counters; "file" also when it is stdout), then those of each other output. */
static void render_outputs(struct out *o)
{
	static const char *const reasons[EG_ODROP_REASONS] = {
		"queue_full", "unavailable", "busy", "too_large", "rejected", "retries", "shutdown",
	};
	static const char *const names[] = {
		"ebpf_guard_output_alerts_total", "ebpf_guard_output_errors_total",
		"ebpf_guard_output_dropped_total", "ebpf_guard_output_queue_length",
	};
	static const char *const helps[] = {
		"Alerts delivered by an output (file, syslog, journald, webhook), labelled by output.",
		"Failed delivery attempts of an output (each retry counts), labelled by output.",
		"Alerts an output gave up on, labelled by output and reason.",
		"Alerts waiting in an output's queue, labelled by output.",
	};
	static const char *const types[] = {"counter", "counter", "counter", "gauge"};
	uint32_t n = atomic_load_explicit(&eg_metrics.noutputs, memory_order_acquire);
	const struct eg_output_slot *s = eg_metrics.outputs;
	uint64_t lost = LOAD(eg_metrics.alerts_lost), at_exit = LOAD(eg_metrics.alerts_lost_exit);
	for (int f = 0; f < 4; f++) {
		family(o, names[f], types[f], helps[f]);
		if (f == 0)
			out_sample(o, names[f], "file", NULL, LOAD(eg_metrics.alerts_written));
		else if (f == 1)
			out_sample(o, names[f], "file", NULL, LOAD(eg_metrics.alert_write_failures));
		else if (f == 3)
			out_sample(o, names[f], "file", NULL, LOAD(eg_metrics.alerts_queued));
		else
			for (int r = 0; r < EG_ODROP_REASONS; r++)
				out_sample(o, names[f], "file", reasons[r],
					   r == EG_ODROP_QUEUE_FULL ? lost - (at_exit < lost ? at_exit : lost)
					   : r == EG_ODROP_SHUTDOWN ? at_exit : 0);
		for (uint32_t i = 0; i < n; i++) {
			if (f == 0)
				out_sample(o, names[f], s[i].name, NULL, LOAD(s[i].alerts));
			else if (f == 1)
				out_sample(o, names[f], s[i].name, NULL, LOAD(s[i].errors));
			else if (f == 3)
				out_sample(o, names[f], s[i].name, NULL, LOAD(s[i].queued));
			else
				for (int r = 0; r < EG_ODROP_REASONS; r++)
					out_sample(o, names[f], s[i].name, reasons[r],
						   LOAD(s[i].dropped[r]));
		}
	}
}

static void render_hist(struct out *o)
{
	static const char name[] = "ebpf_guard_batch_duration_seconds";
	family(o, name, "histogram",
	       "Time the detection engine took per batch of events, in seconds.");
	uint64_t cum = 0;
	for (int i = 0; i <= EG_HIST_BUCKETS; i++) {
		cum += LOAD(eg_metrics.batch_hist[i]);
		if (i < EG_HIST_BUCKETS)
			putf(o, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, eg_hist_bounds[i], cum);
		else
			putf(o, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
	}
	uint64_t sum = LOAD(eg_metrics.batch_sum_ns);
	putf(o, "%s_sum %" PRIu64 ".%09" PRIu64 "\n", name, sum / 1000000000u, sum % 1000000000u);
	/* The +Inf bucket, not batch_count: the two are read at different times. */
	putf(o, "%s_count %" PRIu64 "\n", name, cum);
}

/* Response actions (docs/response.md): every result has its series. */
static void render_responses(struct out *o)
{
	static const char *const results[EG_RESP_RESULTS_MAX] = {"dry_run", "killed", "gone",
								 "protected", "error"};
	static const char actions[] = "ebpf_guard_response_actions_total";
	family(o, actions, "counter",
	       "Responses of rules with an action, by action and result (dry_run: -enforce is off).");
	for (int r = 0; r < EG_RESP_RESULTS_MAX; r++)
		putf(o, "%s{action=\"kill\",result=\"%s\"} %" PRIu64 "\n", actions, results[r],
		     LOAD(eg_metrics.responses[r]));
	static const char name[] = "ebpf_guard_response_delay_seconds";
	family(o, name, "histogram",
	       "Time from an event to the SIGKILL its alert's rule sent, in seconds.");
	uint64_t cum = 0;
	for (int i = 0; i <= EG_RESP_HIST_BUCKETS; i++) {
		cum += LOAD(eg_metrics.resp_hist[i]);
		if (i < EG_RESP_HIST_BUCKETS)
			putf(o, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, eg_resp_hist_bounds[i], cum);
		else
			putf(o, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
	}
	uint64_t sum = LOAD(eg_metrics.resp_sum_ns);
	putf(o, "%s_sum %" PRIu64 ".%09" PRIu64 "\n", name, sum / 1000000000u, sum % 1000000000u);
	putf(o, "%s_count %" PRIu64 "\n", name, cum);
}

static pthread_mutex_t refresh_mu = PTHREAD_MUTEX_INITIALIZER;
static void (*refresh_fn)(void *ctx);
static void *refresh_ctx;

void eg_metrics_set_refresh(void (*fn)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&refresh_mu);
	refresh_fn = fn;
	refresh_ctx = ctx;
	pthread_mutex_unlock(&refresh_mu);
}

void eg_metrics_raise(_Atomic uint64_t *counter, uint64_t v)
{
	uint64_t cur = atomic_load_explicit(counter, memory_order_relaxed);
	while (v > cur && !atomic_compare_exchange_weak_explicit(counter, &cur, v, memory_order_relaxed,
								 memory_order_relaxed))
		;
}

char *eg_metrics_render(size_t *len)
{
	struct out o = {0};
	pthread_mutex_lock(&refresh_mu);
	if (refresh_fn)
		refresh_fn(refresh_ctx);
	pthread_mutex_unlock(&refresh_mu);
	uint32_t n = atomic_load_explicit(&eg_metrics.nslots, memory_order_acquire);

	family(&o, "ebpf_guard_events_total", "counter",
	       "Number of raw events observed by ebpf-guard, labelled by type.");
	for (uint32_t t = EG_EV_EXEC; t <= EG_EV_MAX; t++) {
		uint64_t v = LOAD(eg_metrics.events[t]);
		if (t <= EG_EV_CONNECT || v)
			sample_1(&o, "ebpf_guard_events_total", "type", eg_event_type_name(t), v);
	}
	render_rules(&o, n);
	/* one series per type, also at 0: no unlabelled total beside them */
	family(&o, "ebpf_guard_events_dropped_total", "counter",
	       "Events lost in the kernel because the ring buffer was full, labelled by type.");
	for (uint32_t t = EG_EV_EXEC; t <= EG_EV_MAX + 1; t++) {
		uint32_t slot = t <= EG_EV_MAX ? t : EG_DROP_FORK;
		sample_1(&o, "ebpf_guard_events_dropped_total", "type",
			 slot == EG_DROP_FORK ? "fork" : eg_event_type_name(slot),
			 LOAD(eg_metrics.dropped_kernel[slot]));
	}
	family(&o, "ebpf_guard_events_filtered_total", "counter",
	       "Events kept in the kernel because no loaded rule could want them, labelled by type.");
	for (uint32_t t = EG_EV_EXEC; t <= EG_EV_MAX; t++)
		sample_1(&o, "ebpf_guard_events_filtered_total", "type", eg_event_type_name(t),
			 LOAD(eg_metrics.filtered_kernel[t]));
	/* the filterable types, also at 0 (off, or not collecting) */
	family(&o, "ebpf_guard_kernel_filter_on", "gauge",
	       "1 while the kernel filter derived from the rules keeps events of this type in the "
	       "kernel, 0 while every event of it crosses, labelled by type.");
	static const uint32_t kf_types[] = {EG_EV_OPEN, EG_EV_LINK, EG_EV_RENAME, EG_EV_UNLINK,
					    EG_EV_CHMOD, EG_EV_CONNECT, EG_EV_LISTEN, EG_EV_ACCEPT};
	uint32_t kf_on = atomic_load(&eg_metrics.kfilter_on);
	for (size_t i = 0; i < sizeof(kf_types) / sizeof(kf_types[0]); i++)
		sample_1(&o, "ebpf_guard_kernel_filter_on", "type", eg_event_type_name(kf_types[i]),
			 (kf_on >> kf_types[i]) & 1);
	family(&o, "ebpf_guard_events_prefiltered_total", "counter",
	       "Events that reached the daemon but no loaded rule could match, kept from the rules by "
	       "the engine (the kernel filter's test, in userspace), labelled by type.");
	sample_1(&o, "ebpf_guard_events_prefiltered_total", "type", "open", LOAD(eg_metrics.prefiltered_open));
	simple(&o, "ebpf_guard_replay_lines_rejected_total", "counter",
	       "Replay input lines rejected as malformed.", LOAD(eg_metrics.replay_rejected));
	family(&o, "ebpf_guard_record_events_skipped_total", "counter",
	       "Events -record did not write, labelled by reason (size: the file reached "
	       "-record-max-size; filter: left out by the -record-* filters).");
	sample_1(&o, "ebpf_guard_record_events_skipped_total", "reason", "size",
		 LOAD(eg_metrics.record_skipped[EG_RSKIP_SIZE]));
	sample_1(&o, "ebpf_guard_record_events_skipped_total", "reason", "filter",
		 LOAD(eg_metrics.record_skipped[EG_RSKIP_FILTER]));
	simple(&o, "ebpf_guard_alert_write_failures_total", "counter",
	       "Failed attempts to write alerts to the alert file.",
	       LOAD(eg_metrics.alert_write_failures));
	simple(&o, "ebpf_guard_alerts_queued", "gauge",
	       "Alerts waiting in memory for the alert file to become writable.",
	       LOAD(eg_metrics.alerts_queued));
	simple(&o, "ebpf_guard_alerts_lost_total", "counter",
	       "Alerts dropped because the queue of unwritten alerts was full.",
	       LOAD(eg_metrics.alerts_lost));
	simple(&o, "ebpf_guard_config_reloads_total", "counter",
	       "Successful configuration reloads (SIGHUP).", LOAD(eg_metrics.reloads));
	simple(&o, "ebpf_guard_config_reload_failures_total", "counter",
	       "Configuration reloads that failed; the previous rules stayed active.",
	       LOAD(eg_metrics.reload_failures));
	render_hist(&o);
	render_responses(&o);
	render_outputs(&o);
	simple(&o, "ebpf_guard_lua_memory_bytes", "gauge",
	       "Memory in use by the Lua detection engine, in bytes.", LOAD(eg_metrics.lua_bytes));
	simple(&o, "ebpf_guard_ringbuf_fill_bytes", "gauge",
	       "Bytes waiting in the BPF ring buffer when the collector last looked.",
	       LOAD(eg_metrics.ringbuf_fill_bytes));
	simple(&o, "ebpf_guard_ringbuf_size_bytes", "gauge",
	       "Size of the BPF ring buffer, in bytes.", LOAD(eg_metrics.ringbuf_size_bytes));
	simple(&o, "ebpf_guard_process_table_entries", "gauge",
	       "Processes in the process table.", LOAD(eg_metrics.proc_entries));
	simple(&o, "ebpf_guard_process_table_bytes", "gauge",
	       "Memory held by the process table's entries, in bytes.", LOAD(eg_metrics.proc_bytes));
	simple(&o, "ebpf_guard_process_table_evictions_total", "counter",
	       "Process table entries evicted (least recently used) to make room.",
	       LOAD(eg_metrics.proc_evictions));
	simple(&o, "ebpf_guard_process_table_misses_total", "counter",
	       "Events of a process the table did not know (read from /proc then).",
	       LOAD(eg_metrics.proc_misses));
	family(&o, "ebpf_guard_build_info", "gauge",
	       "Always 1, labelled by the version of ebpf-guard.");
	sample_1(&o, "ebpf_guard_build_info", "version", EG_VERSION, 1);
	family(&o, "process_start_time_seconds", "gauge",
	       "Start time of the process since unix epoch in seconds.");
	putf(&o, "process_start_time_seconds %" PRId64 "\n", eg_metrics.start_time_s);

	put(&o, "", 1); /* NUL-terminated for convenience, not counted in len */
	if (o.oom) {
		eg_buf_free(&o.b);
		*len = 0;
		return NULL;
	}
	*len = o.b.len - 1;
	return o.b.p;
}

/* ---- HTTP server ------------------------------------------------------------ */

/*
 * Open connections, as libmicrohttpd reports them (started, closed), with when
 * each was last active and whether a request is being answered on it. Written
 * by both server threads under conns_lock. A connection is closed by
 * shutdown(2) on its socket: libmicrohttpd sees the end of the stream in its
 * own thread and closes it. Its "closed" notification comes before it closes
 * the descriptor and takes the lock, so a descriptor in the table is never
 * one that was closed and reused.
 */
struct http_conn {
	int fd;              /* -1: free */
	unsigned char key[9]; /* family, then the IPv4 address or the IPv6 /64 */
	bool busy;           /* a request is being answered */
	bool closing;        /* shut down by us, not closed yet */
	int64_t last_ns;     /* accepted, or its last request answered */
};

static struct http_conn conns[HTTP_MHD_LIMIT];
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;

static void conn_key(const struct sockaddr *sa, unsigned char key[9])
{
	memset(key, 0, 9);
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) { /* the dual-stack socket's IPv4 clients */
			key[0] = 4;
			memcpy(key + 1, a->s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a->s6_addr, 8);
		}
	}
}

static void on_connection(void *cls, struct MHD_Connection *c, void **ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	(void)cls;
	struct http_conn *k = *ctx;
	if (code != MHD_CONNECTION_NOTIFY_STARTED) {
		if (k) {
			pthread_mutex_lock(&conns_lock);
			k->fd = -1;
			pthread_mutex_unlock(&conns_lock);
			*ctx = NULL;
		}
		return;
	}
	const union MHD_ConnectionInfo *fi =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *ai =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!fi)
		return;
	unsigned char key[9];
	conn_key(ai ? ai->client_addr : NULL, key);

	pthread_mutex_lock(&conns_lock);
	struct http_conn *slot = NULL, *lru = NULL, *lru_same = NULL;
	unsigned live = 0, same = 0;
	for (size_t i = 0; i < HTTP_MHD_LIMIT; i++) {
		struct http_conn *o = &conns[i];
		if (o->fd < 0) {
			if (!slot)
				slot = o;
			continue;
		}
		if (o->closing)
			continue;
		bool match = !memcmp(o->key, key, sizeof(key));
		live++;
		same += match;
		if (o->busy)
			continue;
		if (!lru || o->last_ns < lru->last_ns)
			lru = o;
		if (match && (!lru_same || o->last_ns < lru_same->last_ns))
			lru_same = o;
	}
	struct http_conn *victim = NULL;
	bool refuse = !slot;
	if (same >= HTTP_PER_IP_LIMIT)
		refuse |= !(victim = lru_same);
	else if (live >= HTTP_CONN_LIMIT)
		refuse |= !(victim = lru);
	if (refuse) {
		/* every connection is in the middle of an answer: this one goes */
		shutdown(fi->connect_fd, SHUT_RDWR);
	} else {
		if (victim) {
			shutdown(victim->fd, SHUT_RDWR);
			victim->closing = true;
		}
		slot->fd = fi->connect_fd;
		memcpy(slot->key, key, sizeof(key));
		slot->busy = slot->closing = false;
		slot->last_ns = mono_ns();
		*ctx = slot;
	}
	pthread_mutex_unlock(&conns_lock);
}

/*
 * A request is being answered on c (busy), or its answer is queued (idle
 * again, active now). A connection turns idle when the answer is queued, not
 * when libmicrohttpd reports it sent (on_completed): the two server threads
 * each run their own connections, and a thread kept off the CPU after
 * sending an answer would otherwise leave its connection busy, and out of
 * the least-recently-active choice, while the other thread accepts the
 * client's next ones.
 */
static void mark_busy(struct MHD_Connection *c, bool busy)
{
	const union MHD_ConnectionInfo *si =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct http_conn *k = si ? si->socket_context : NULL;
	if (!k)
		return;
	pthread_mutex_lock(&conns_lock);
	if (busy) {
		k->busy = true;
	} else if (k->busy) {
		k->busy = false;
		k->last_ns = mono_ns();
	}
	pthread_mutex_unlock(&conns_lock);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)con_cls, (void)toe;
	mark_busy(c, false);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *ctype,
			     char *body, size_t len, enum MHD_ResponseMemoryMode mode,
			     const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

#define TEXT "text/plain; charset=utf-8"
#define CONST_BODY(s) (char *)(s), sizeof(s) - 1, MHD_RESPMEM_PERSISTENT

/*
 * GET and HEAD are answered once the request is complete (MHD calls twice or
 * more: first with the headers, then with any body, which is discarded), so
 * the connection stays open for the next scrape. Anything else is answered
 * on the first call, and MHD closes the connection without reading a body.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	static int started;
	(void)cls, (void)version, (void)upload_data;
	int get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
	if (!*con_cls)
		mark_busy(c, true);
	if (get && !*con_cls) {
		*con_cls = &started;
		return MHD_YES;
	}
	if (get && *upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	int is_metrics = !strcmp(url, "/metrics"), is_health = !strcmp(url, "/healthz");
	if (!is_metrics && !is_health)
		return reply(c, MHD_HTTP_NOT_FOUND, TEXT, CONST_BODY("404 page not found\n"), NULL);
	if (!get)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, TEXT,
			     CONST_BODY("405 method not allowed\n"), "GET, HEAD");
	enum MHD_Result ret;
	if (is_health) {
		int64_t last = atomic_load_explicit(&eg_metrics.last_loop_ns, memory_order_relaxed);
		if (mono_ns() - last <= HEALTH_STALL_NS)
			ret = reply(c, MHD_HTTP_OK, TEXT, CONST_BODY("ok\n"), NULL);
		else
			ret = reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, TEXT, CONST_BODY("stalled\n"), NULL);
	} else {
		size_t len;
		char *body = eg_metrics_render(&len);
		if (!body)
			ret = reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, TEXT,
				    CONST_BODY("out of memory\n"), NULL);
		else
			ret = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body,
				    len, MHD_RESPMEM_MUST_FREE, NULL);
	}
	mark_busy(c, false); /* answered: idle from now */
	return ret;
}

/*
 * Splits "host:port", "[v6]:port" or ":port" into host (empty for all
 * interfaces) and port. Returns 0, or -1 with the reason in err.
 */
static int split_addr(const char *addr, char *host, size_t hostlen, uint16_t *port, char *err,
		      size_t errlen)
{
	const char *colon, *h = addr;
	size_t hl;
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (!close || close[1] != ':') {
			snprintf(err, errlen, "expected [IPv6]:port, e.g. [::1]:7829");
			return -1;
		}
		h = addr + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon) {
			snprintf(err, errlen, "missing port, e.g. :7829 or 127.0.0.1:7829");
			return -1;
		}
		hl = (size_t)(colon - addr);
		if (memchr(addr, ':', hl)) {
			snprintf(err, errlen, "IPv6 addresses need brackets, e.g. [::1]:7829");
			return -1;
		}
	}
	if (hl >= hostlen) {
		snprintf(err, errlen, "host name too long");
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = 0;
	const char *p = colon + 1;
	unsigned long v = 0;
	if (!*p || strlen(p) > 5 || p[strspn(p, "0123456789")]) {
		snprintf(err, errlen, "invalid port '%s': expected a number 0..65535", p);
		return -1;
	}
	v = strtoul(p, NULL, 10);
	if (v > 65535) {
		snprintf(err, errlen, "invalid port '%s': expected a number 0..65535", p);
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

/* A bound, listening TCP socket for one resolved address; -1 with errno. */
static int listen_on(const struct sockaddr *sa, socklen_t salen)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	int one = 1, zero = 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6) /* dual stack for [::] and ":port" */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, sa, salen) || listen(fd, 128)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Resolves and binds addr. Returns the socket, or -1 with a message in err. */
static int open_listener(const char *addr, char *err, size_t errlen)
{
	char host[256], why[160];
	uint16_t port;
	if (split_addr(addr, host, sizeof(host), &port, why, sizeof(why))) {
		snprintf(err, errlen, "invalid -prom-addr '%s': %s", addr, why);
		return -1;
	}
	if (!*host) {
		/* All interfaces: IPv6 dual stack, IPv4 only when IPv6 is off. */
		struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(port),
					  .sin6_addr = IN6ADDR_ANY_INIT};
		int fd = listen_on((struct sockaddr *)&s6, sizeof(s6));
		if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
			struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(port),
						 .sin_addr.s_addr = htonl(INADDR_ANY)};
			fd = listen_on((struct sockaddr *)&s4, sizeof(s4));
		}
		if (fd < 0)
			snprintf(err, errlen, "failed to listen on %s: %s", addr, strerror(errno));
		return fd;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res;
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", port);
	int rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "invalid -prom-addr '%s': cannot resolve '%s': %s", addr, host,
			 gai_strerror(rc));
		return -1;
	}
	/* Like Go's net.Listen: the first address, IPv4 preferred ("localhost"). */
	const struct addrinfo *pick = res;
	for (const struct addrinfo *a = res; a; a = a->ai_next)
		if (a->ai_family == AF_INET) {
			pick = a;
			break;
		}
	int fd = listen_on(pick->ai_addr, pick->ai_addrlen);
	if (fd < 0)
		snprintf(err, errlen, "failed to listen on %s: %s", addr, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

static void log_bound(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl))
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		port = ntohs(s->sin_port);
		fprintf(stderr, "ebpf-guard: metrics on http://%s:%u/metrics\n", ip, port);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		port = ntohs(s->sin6_port);
		fprintf(stderr, "ebpf-guard: metrics on http://[%s]:%u/metrics\n", ip, port);
	}
}

struct start_args {
	int fd;
	bool own_thread; /* not the caller's thread: give up every capability */
	struct MHD_Daemon *daemon;
	int err;
};

static void *start_server(void *arg)
{
	struct start_args *a = arg;
	if (a->own_thread) {
		eg_caps_limit(0);
		eg_no_new_privs();
	}
	a->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, on_request, NULL,
		MHD_OPTION_LISTEN_SOCKET, a->fd, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MHD_LIMIT,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	a->err = errno;
	return NULL;
}

int eg_metrics_serve(const char *addr, char *err, size_t errlen)
{
	if (daemon_http) {
		snprintf(err, errlen, "metrics server already running");
		return -1;
	}
	int fd = open_listener(addr, err, errlen);
	if (fd < 0)
		return -1;
	for (size_t i = 0; i < HTTP_MHD_LIMIT; i++)
		conns[i].fd = -1;
	/* The server threads inherit a full signal mask (but SIGSYS, so that a
	 * system call the filter refuses is reported: syscall_filter.c), so
	 * SIGHUP, SIGTERM... always reach (and interrupt) the event loop thread.
	 * They are started from a thread of their own that first gives up every
	 * capability: they never need one. */
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, SIGSYS);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	struct start_args a = {.fd = fd, .own_thread = true};
	pthread_t t;
	if (pthread_create(&t, NULL, start_server, &a) == 0) {
		pthread_join(t, NULL);
	} else {
		a.own_thread = false;
		start_server(&a);
	}
	daemon_http = a.daemon;
	int e = a.err;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!daemon_http) {
		close(fd);
		snprintf(err, errlen, "failed to start the metrics server on %s: %s", addr,
			 strerror(e ? e : EINVAL));
		return -1;
	}
	log_bound(fd);
	return 0;
}

void eg_metrics_stop(void)
{
	if (!daemon_http)
		return;
	MHD_stop_daemon(daemon_http);
	daemon_http = NULL;
}
