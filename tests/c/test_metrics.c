/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus exposition for known counter values (exact lines), label
 * escaping, rule slots across reloads, and the HTTP server's answers and
 * address errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "check.h"


static char *render(void)
{
	size_t len;
	char *s = eg_metrics_render(&len);
	CHECK(s != NULL, "render returned NULL");
	if (!s)
		exit(1);
	CHECK(strlen(s) == len || len == 0, "length %zu != strlen %zu", len, strlen(s));
	char *z = malloc(len + 1);
	memcpy(z, s, len);
	z[len] = 0;
	free(s);
	return z;
}

/* line must appear in text as a whole line. */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

#define HAS(text, line) CHECK(has_line(text, line), "missing line: %s", line)
#define HASNT(text, line) CHECK(!has_line(text, line), "unexpected line: %s", line)

static void test_reference_series(void)
{
	char *t = render();
	/* Empty state: the three reference event types at 0, no rule series. */
	HAS(t, "# HELP ebpf_guard_events_total Number of raw events observed by ebpf-guard, "
	       "labelled by type.");
	HAS(t, "# TYPE ebpf_guard_events_total counter");
	HAS(t, "ebpf_guard_events_total{type=\"exec\"} 0");
	HAS(t, "ebpf_guard_events_total{type=\"open\"} 0");
	HAS(t, "ebpf_guard_events_total{type=\"connect\"} 0");
	HASNT(t, "ebpf_guard_events_total{type=\"exit\"} 0");
	HAS(t, "# HELP ebpf_guard_alerts_total Number of alerts raised by ebpf-guard, labelled "
	       "by rule id.");
	HAS(t, "# TYPE ebpf_guard_alerts_total counter");
	CHECK(!strstr(t, "ebpf_guard_alerts_total{"), "alert series before any rule");
	HAS(t, "ebpf_guard_build_info{version=\"" EG_VERSION "\"} 1");
	free(t);

	EG_ADD(events[EG_EV_EXEC], 124);
	EG_ADD(events[EG_EV_OPEN], 560);
	EG_ADD(events[EG_EV_CONNECT], 32);
	EG_ADD(events[EG_EV_EXIT], 7);
	int a = eg_metrics_rule_slot("builtin_fileless_exec", "builtin");
	int b = eg_metrics_rule_slot("suspicious_shell", "/etc/ebpf-guard/rules.yaml");
	CHECK(a == 0 && b == 1, "slots %d %d", a, b);
	CHECK(eg_metrics_rule_slot("builtin_fileless_exec", "builtin") == 0, "slot lookup");
	atomic_store(&eg_metrics.slots[a].loaded, 1);
	atomic_store(&eg_metrics.slots[b].loaded, 1);
	atomic_fetch_add(&eg_metrics.slots[a].alerts, 2);
	atomic_fetch_add(&eg_metrics.slots[b].alerts, 3);
	atomic_fetch_add(&eg_metrics.slots[b].errors[EG_RERR_BUDGET], 4);
	atomic_fetch_add(&eg_metrics.slots[b].suppressed, 5);

	t = render();
	HAS(t, "ebpf_guard_events_total{type=\"exec\"} 124");
	HAS(t, "ebpf_guard_events_total{type=\"open\"} 560");
	HAS(t, "ebpf_guard_events_total{type=\"connect\"} 32");
	HAS(t, "ebpf_guard_events_total{type=\"exit\"} 7");
	HAS(t, "ebpf_guard_alerts_total{rule_id=\"builtin_fileless_exec\"} 2");
	HAS(t, "ebpf_guard_alerts_total{rule_id=\"suspicious_shell\"} 3");
	HAS(t, "ebpf_guard_rule_errors_total{rule_id=\"suspicious_shell\",kind=\"budget\"} 4");
	HASNT(t, "ebpf_guard_rule_errors_total{rule_id=\"suspicious_shell\",kind=\"runtime\"} 0");
	HAS(t, "ebpf_guard_alerts_suppressed_total{rule_id=\"suspicious_shell\"} 5");
	HAS(t, "ebpf_guard_rules_loaded{source=\"/etc/ebpf-guard/rules.yaml\"} 1");
	HAS(t, "ebpf_guard_rules_loaded{source=\"builtin\"} 1");
	CHECK(!strstr(t, "ebpf_guard_rule_disabled{"), "no disabled series yet");
	free(t);

	/* The rule moves to another file on reload: one alerts series, summed;
	 * rules_loaded follows the file. */
	atomic_store(&eg_metrics.slots[b].loaded, 0);
	int c = eg_metrics_rule_slot("suspicious_shell", "/etc/ebpf-guard/rules.d/shell.yaml");
	CHECK(c == 2, "moved rule slot %d", c);
	atomic_store(&eg_metrics.slots[c].loaded, 1);
	atomic_fetch_add(&eg_metrics.slots[c].alerts, 10);
	CHECK(eg_metrics_rule_slot("suspicious_shell", "/etc/ebpf-guard/rules.d/shell.yaml") == c,
	      "moved rule lookup");
	t = render();
	HAS(t, "ebpf_guard_alerts_total{rule_id=\"suspicious_shell\"} 13");
	CHECK(strstr(t, "rule_id=\"suspicious_shell\"} 13") ==
		      strstr(t, "rule_id=\"suspicious_shell\"}"),
	      "duplicate alerts series");
	HAS(t, "ebpf_guard_rules_loaded{source=\"/etc/ebpf-guard/rules.d/shell.yaml\"} 1");
	HASNT(t, "ebpf_guard_rules_loaded{source=\"/etc/ebpf-guard/rules.yaml\"} 1");
	HASNT(t, "ebpf_guard_rules_loaded{source=\"/etc/ebpf-guard/rules.yaml\"} 0");
	free(t);

	/* Taken out of service: one series for the loaded slot, none for a slot
	 * of the same id that is no longer loaded. */
	atomic_store(&eg_metrics.slots[b].disabled, 1);
	t = render();
	CHECK(!strstr(t, "ebpf_guard_rule_disabled{"), "no disabled series yet");
	free(t);
	atomic_store(&eg_metrics.slots[c].disabled, 1);
	t = render();
	HAS(t, "ebpf_guard_rule_disabled{rule_id=\"suspicious_shell\"} 1");
	const char *d1 = strstr(t, "ebpf_guard_rule_disabled{");
	CHECK(d1 && !strstr(d1 + 1, "ebpf_guard_rule_disabled{"), "one disabled series");
	free(t);
	atomic_store(&eg_metrics.slots[b].disabled, 0);
	atomic_store(&eg_metrics.slots[c].disabled, 0);
}

static void test_escaping(void)
{
	int s = eg_metrics_rule_slot("we\"ird\\id\nx", "dir with \"quotes\"/r.yaml");
	CHECK(s >= 0, "slot");
	atomic_store(&eg_metrics.slots[s].loaded, 1);
	atomic_fetch_add(&eg_metrics.slots[s].alerts, 1);
	atomic_fetch_add(&eg_metrics.slots[s].errors[EG_RERR_RUNTIME], 2);
	int u = eg_metrics_rule_slot("caf\xc3\xa9_bad\xff", "builtin");
	atomic_fetch_add(&eg_metrics.slots[u].alerts, 6);
	char *t = render();
	HAS(t, "ebpf_guard_alerts_total{rule_id=\"we\\\"ird\\\\id\\nx\"} 1");
	HAS(t, "ebpf_guard_rule_errors_total{rule_id=\"we\\\"ird\\\\id\\nx\",kind=\"runtime\"} 2");
	HAS(t, "ebpf_guard_rules_loaded{source=\"dir with \\\"quotes\\\"/r.yaml\"} 1");
	HAS(t, "ebpf_guard_alerts_total{rule_id=\"caf\xc3\xa9_bad\xef\xbf\xbd\"} 6");
	free(t);
}

static void test_histogram_and_gauges(void)
{
	eg_metrics_observe_batch(500);        /* 0.5 us: first bucket */
	eg_metrics_observe_batch(1000);       /* exactly 1e-6: first bucket (le) */
	eg_metrics_observe_batch(30000);      /* 30 us: le=5e-05 */
	eg_metrics_observe_batch(2000000000); /* 2 s: +Inf only */
	EG_SET(alerts_queued, 3);
	EG_ADD(alerts_lost, 9);
	EG_ADD(record_skipped[EG_RSKIP_SIZE], 5);
	EG_ADD(reloads, 2);
	EG_INC(reload_failures);
	EG_SET(lua_bytes, 123456);
	EG_SET(ringbuf_fill_bytes, 4096);
	EG_SET(ringbuf_size_bytes, 16777216);
	EG_ADD(dropped_kernel[EG_EV_OPEN], 11);
	EG_ADD(dropped_kernel[EG_EV_EXIT], 14);
	EG_ADD(replay_rejected, 12);
	EG_ADD(alert_write_failures, 13);
	EG_ADD(prefiltered_open, 17);
	atomic_store(&eg_metrics.kfilter_on, 1u << EG_EV_ACCEPT | 1u << EG_EV_UNLINK);
	char *t = render();
	HAS(t, "# TYPE ebpf_guard_batch_duration_seconds histogram");
	HAS(t, "ebpf_guard_batch_duration_seconds_bucket{le=\"1e-06\"} 2");
	HAS(t, "ebpf_guard_batch_duration_seconds_bucket{le=\"2.5e-05\"} 2");
	HAS(t, "ebpf_guard_batch_duration_seconds_bucket{le=\"5e-05\"} 3");
	HAS(t, "ebpf_guard_batch_duration_seconds_bucket{le=\"0.1\"} 3");
	HAS(t, "ebpf_guard_batch_duration_seconds_bucket{le=\"+Inf\"} 4");
	HAS(t, "ebpf_guard_batch_duration_seconds_sum 2.000031500");
	HAS(t, "ebpf_guard_batch_duration_seconds_count 4");
	HAS(t, "ebpf_guard_alerts_queued 3");
	HAS(t, "ebpf_guard_alerts_lost_total 9");
	HAS(t, "ebpf_guard_record_events_skipped_total{reason=\"size\"} 5");
	HAS(t, "ebpf_guard_record_events_skipped_total{reason=\"filter\"} 0");
	HAS(t, "ebpf_guard_config_reloads_total 2");
	HAS(t, "ebpf_guard_config_reload_failures_total 1");
	HAS(t, "ebpf_guard_lua_memory_bytes 123456");
	HAS(t, "ebpf_guard_ringbuf_fill_bytes 4096");
	HAS(t, "ebpf_guard_ringbuf_size_bytes 16777216");
	/* every type has its series, also at 0; no unlabelled total */
	HAS(t, "ebpf_guard_events_dropped_total{type=\"exec\"} 0");
	HAS(t, "ebpf_guard_events_dropped_total{type=\"open\"} 11");
	HAS(t, "ebpf_guard_events_dropped_total{type=\"connect\"} 0");
	HAS(t, "ebpf_guard_events_dropped_total{type=\"exit\"} 14");
	HAS(t, "ebpf_guard_events_dropped_total{type=\"fork\"} 0");
	CHECK(!strstr(t, "\nebpf_guard_events_dropped_total "), "an unlabelled dropped_total");
	HAS(t, "ebpf_guard_replay_lines_rejected_total 12");
	HAS(t, "ebpf_guard_alert_write_failures_total 13");
	/* the file's series of the per-output families: the same counter */
	HAS(t, "ebpf_guard_output_errors_total{output=\"file\"} 13");
	char line[64];
	snprintf(line, sizeof(line), "process_start_time_seconds %lld",
		 (long long)eg_metrics.start_time_s);
	HAS(t, line);

	/* the kernel filter's counts: every type, also at 0 */
	HAS(t, "ebpf_guard_events_filtered_total{type=\"open\"} 0");
	HAS(t, "ebpf_guard_events_filtered_total{type=\"accept\"} 0");
	/* whether the kernel applies it: the bits the collector publishes */
	HAS(t, "ebpf_guard_kernel_filter_on{type=\"open\"} 0");
	HAS(t, "ebpf_guard_kernel_filter_on{type=\"unlink\"} 1");
	HAS(t, "ebpf_guard_kernel_filter_on{type=\"connect\"} 0");
	HAS(t, "ebpf_guard_kernel_filter_on{type=\"accept\"} 1");
	/* the opens the engine's prefilter kept from the rules */
	HAS(t, "ebpf_guard_events_prefiltered_total{type=\"open\"} 17");

	/* Every family once, HELP before TYPE before its samples. */
	const char *fams[] = {"ebpf_guard_events_total", "ebpf_guard_alerts_total",
			      "ebpf_guard_alerts_suppressed_total", "ebpf_guard_rule_errors_total",
			      "ebpf_guard_rule_disabled", "ebpf_guard_rules_loaded",
			      "ebpf_guard_events_dropped_total", "ebpf_guard_events_filtered_total",
			      "ebpf_guard_kernel_filter_on", "ebpf_guard_events_prefiltered_total",
			      "ebpf_guard_replay_lines_rejected_total",
			      "ebpf_guard_record_events_skipped_total",
			      "ebpf_guard_alert_write_failures_total", "ebpf_guard_alerts_queued",
			      "ebpf_guard_alerts_lost_total", "ebpf_guard_config_reloads_total",
			      "ebpf_guard_config_reload_failures_total",
			      "ebpf_guard_batch_duration_seconds", "ebpf_guard_response_actions_total",
			      "ebpf_guard_response_delay_seconds", "ebpf_guard_lua_memory_bytes",
			      "ebpf_guard_ringbuf_fill_bytes", "ebpf_guard_ringbuf_size_bytes",
			      "ebpf_guard_process_table_entries", "ebpf_guard_process_table_bytes",
			      "ebpf_guard_process_table_evictions_total", "ebpf_guard_process_table_misses_total",
			      "ebpf_guard_output_alerts_total", "ebpf_guard_output_errors_total",
			      "ebpf_guard_output_dropped_total", "ebpf_guard_output_queue_length",
			      "ebpf_guard_build_info", "process_start_time_seconds"};
	int ntype = 0;
	for (const char *p = t; (p = strstr(p, "# TYPE ")); p++)
		ntype++;
	CHECK(ntype == (int)(sizeof(fams) / sizeof(fams[0])), "%d families", ntype);
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		char h[128], ty[128];
		snprintf(h, sizeof(h), "# HELP %s ", fams[i]);
		snprintf(ty, sizeof(ty), "# TYPE %s ", fams[i]);
		const char *ph = strstr(t, h), *pt = strstr(t, ty);
		CHECK(ph && pt && ph < pt, "HELP/TYPE of %s", fams[i]);
		CHECK(pt && !strstr(pt + 1, ty), "family %s twice", fams[i]);
	}
	free(t);
}

/* ---- slots appended while another thread renders ------------------------- */

#define CONC_SLOTS 2000
#define CONC_STEP 250 /* the writer pauses after every CONC_STEP slots */

/* The handshake that makes pages mid-stream certain whatever the scheduling
 * (valgrind runs one thread at a time, so a free-running writer can finish
 * before the reader renders twice): at each checkpoint the writer asks for a
 * page (conc_ask = the checkpoint) and waits until a page *started after* the
 * ask has been rendered (conc_done >= the checkpoint). Between checkpoints
 * both threads run freely, so pages also overlap appends. */
static _Atomic int conc_ask, conc_done;

static void *append_slots(void *arg)
{
	(void)arg;
	char id[32], src[32];
	for (int i = 0; i < CONC_SLOTS; i++) {
		if (i && i % CONC_STEP == 0) {
			atomic_store(&conc_ask, i);
			while (atomic_load(&conc_done) < i)
				usleep(100);
		}
		snprintf(id, sizeof(id), "conc_%d", i);
		snprintf(src, sizeof(src), "conc_src_%d", i % 7);
		int s = eg_metrics_rule_slot(id, src);
		if (s < 0)
			break;
		atomic_store(&eg_metrics.slots[s].loaded, 1);
		atomic_fetch_add_explicit(&eg_metrics.slots[s].alerts, (uint64_t)i + 1,
					  memory_order_relaxed);
	}
	return NULL;
}

/* Every page shows only whole slots: each conc_ series has its full id, and
 * the number of series never goes down from one page to the next. A page
 * asked for at checkpoint k shows exactly the k slots appended before it. */
static void test_concurrent_slots(void)
{
	pthread_t t;
	atomic_store(&conc_ask, 0);
	atomic_store(&conc_done, 0);
	pthread_create(&t, NULL, append_slots, NULL);
	int last = 0, pages = 0, done = 0;
	int at_checkpoint[CONC_SLOTS / CONC_STEP] = {0};
	while (!done) {
		done = atomic_load(&eg_metrics.nslots) >= EG_MAX_RULE_SLOTS ||
		       pthread_tryjoin_np(t, NULL) == 0;
		int ask = atomic_load(&conc_ask); /* before the page: it sees those slots */
		char *txt = render();
		int n = 0;
		for (const char *p = txt; (p = strstr(p, "ebpf_guard_alerts_total{rule_id=\"conc_")); p++) {
			int k;
			unsigned long long v;
			char close;
			if (sscanf(p, "ebpf_guard_alerts_total{rule_id=\"conc_%d\"%c %llu", &k, &close, &v) != 3 ||
			    close != '}' || k < 0 || k >= CONC_SLOTS || v > (unsigned long long)k + 1) {
				CHECK(0, "torn series: %.60s", p);
				break;
			}
			n++;
		}
		CHECK(n >= last, "series went from %d to %d", last, n);
		CHECK(n >= ask, "a page asked for at %d slots shows %d", ask, n);
		if (ask > atomic_load(&conc_done)) {
			/* The writer waits at this checkpoint: the page is exact. */
			CHECK(n == ask, "a page at checkpoint %d shows %d series", ask, n);
			at_checkpoint[ask / CONC_STEP] = n == ask;
			atomic_store(&conc_done, ask);
		}
		last = n;
		pages++;
		free(txt);
	}
	CHECK(last == CONC_SLOTS, "%d of %d series after the writer finished", last, CONC_SLOTS);
	for (int k = 1; k < CONC_SLOTS / CONC_STEP; k++)
		CHECK(at_checkpoint[k], "no page at checkpoint %d", k * CONC_STEP);
	CHECK(pages >= CONC_SLOTS / CONC_STEP, "only %d pages", pages);
}

/* The table is full: new ids get no slot, a known id moved to another file
 * keeps its first slot, the page still renders. */
static void test_full_table(void)
{
	char id[32];
	int last = 0;
	for (int i = 0; last >= 0; i++) {
		snprintf(id, sizeof(id), "fill_%d", i);
		last = eg_metrics_rule_slot(id, "fill.yaml");
		CHECK(i < EG_MAX_RULE_SLOTS, "no end to the slots");
		if (i >= EG_MAX_RULE_SLOTS)
			break;
	}
	CHECK(last == -1, "a slot past the end");
	CHECK(atomic_load(&eg_metrics.nslots) == EG_MAX_RULE_SLOTS, "nslots %u",
	      atomic_load(&eg_metrics.nslots));
	CHECK(eg_metrics_rule_slot("builtin_fileless_exec", "elsewhere.yaml") == 0,
	      "moved id in a full table");
	char *t = render();
	HAS(t, "ebpf_guard_alerts_total{rule_id=\"fill_100\"} 0");
	free(t);
}

/* ---- HTTP ------------------------------------------------------------------ */

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || getsockname(fd, (struct sockaddr *)&sa, &sl))
		return -1;
	close(fd);
	return ntohs(sa.sin_port);
}

/* Sends a raw request to the loopback address of family af (AF_INET or
 * AF_INET6) and port; returns the whole answer (malloc, "" when no answer). */
static char *http_af(int af, int port, const char *req)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	if (af == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		s6->sin6_addr = in6addr_loopback;
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*s4);
	}
	int fd = socket(af, SOCK_STREAM, 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl)) {
		if (fd >= 0)
			close(fd);
		return strdup("");
	}
	(void)!write(fd, req, strlen(req));
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	ssize_t n;
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 == cap)
			buf = realloc(buf, cap *= 2);
	}
	buf[len] = 0;
	close(fd);
	return buf;
}

static char *http(int port, const char *req)
{
	return http_af(AF_INET, port, req);
}

static int have_ipv6(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int ok = fd >= 0 && !bind(fd, (struct sockaddr *)&s6, sizeof(s6));
	if (fd >= 0)
		close(fd);
	return ok;
}

#define STARTS(s, p)                                                                   \
	CHECK(!strncmp((s), "HTTP/1.", 7) && !strncmp((s) + 8, (p), strlen(p)),          \
	      "answer starts with '%.40s', want '%s'", (s), (p))

static void test_http(void)
{
	char err[256], addr[64];
	CHECK(eg_metrics_serve("9100", err, sizeof(err)) == -1, "no colon accepted");
	CHECK(!strcmp(err, "invalid -prom-addr '9100': missing port, e.g. :7829 or 127.0.0.1:7829"),
	      "%s", err);
	CHECK(eg_metrics_serve("127.0.0.1:99999", err, sizeof(err)) == -1, "port range");
	CHECK(!strcmp(err, "invalid -prom-addr '127.0.0.1:99999': invalid port '99999': expected "
			   "a number 0..65535"),
	      "%s", err);
	CHECK(eg_metrics_serve("::1:9100", err, sizeof(err)) == -1, "bare v6");
	CHECK(strstr(err, "IPv6 addresses need brackets") != NULL, "%s", err);
	CHECK(eg_metrics_serve("no-such-host.invalid:9100", err, sizeof(err)) == -1, "bad host");
	CHECK(!strncmp(err, "invalid -prom-addr 'no-such-host.invalid:9100': cannot resolve", 62),
	      "%s", err);

	/* A port in use. */
	int busy = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	bind(busy, (struct sockaddr *)&sa, sizeof(sa));
	listen(busy, 1);
	getsockname(busy, (struct sockaddr *)&sa, &sl);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));
	CHECK(eg_metrics_serve(addr, err, sizeof(err)) == -1, "busy port accepted");
	char want[128];
	snprintf(want, sizeof(want), "failed to listen on %s: %s", addr, strerror(EADDRINUSE));
	CHECK(!strcmp(err, want), "%s", err);
	close(busy);

	int port = free_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	CHECK(eg_metrics_serve(addr, err, sizeof(err)) == 0, "serve: %s", err);

	char *r = http(port, "GET /metrics HTTP/1.0\r\n\r\n");
	STARTS(r, " 200 OK\r\n");
	CHECK(strstr(r, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n") != NULL,
	      "content type");
	CHECK(strstr(r, "\nebpf_guard_events_total{type=\"exec\"} 124\n") != NULL, "body");
	free(r);

	r = http(port, "HEAD /metrics HTTP/1.0\r\n\r\n");
	STARTS(r, " 200 OK\r\n");
	CHECK(!strstr(r, "ebpf_guard_events_total"), "HEAD has a body");
	free(r);

	r = http(port, "GET /healthz HTTP/1.0\r\n\r\n");
	STARTS(r, " 200 OK\r\n");
	CHECK(strstr(r, "\r\n\r\nok\n") != NULL, "healthz body");
	free(r);

	atomic_store(&eg_metrics.last_loop_ns, 1); /* a loop stalled long ago */
	r = http(port, "GET /healthz HTTP/1.0\r\n\r\n");
	STARTS(r, " 503 Service Unavailable\r\n");
	CHECK(strstr(r, "\r\n\r\nstalled\n") != NULL, "stalled body");
	free(r);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	atomic_store(&eg_metrics.last_loop_ns, (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec);

	r = http(port, "GET / HTTP/1.0\r\n\r\n");
	STARTS(r, " 404 Not Found\r\n");
	free(r);
	r = http(port, "GET /metrics/x HTTP/1.0\r\n\r\n");
	STARTS(r, " 404 Not Found\r\n");
	free(r);

	r = http(port, "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc");
	STARTS(r, " 405 Method Not Allowed\r\n");
	CHECK(strstr(r, "\r\nAllow: GET, HEAD\r\n") != NULL, "Allow header");
	free(r);
	r = http(port, "DELETE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	STARTS(r, " 405 Method Not Allowed\r\n");
	free(r);

	eg_metrics_stop();
	eg_metrics_stop();
	r = http(port, "GET /metrics HTTP/1.0\r\n\r\n");
	CHECK(!*r, "answer after stop");
	free(r);

	/* ":port" listens on every interface, IPv4 and IPv6 when there is IPv6. */
	port = free_port();
	snprintf(addr, sizeof(addr), ":%d", port);
	CHECK(eg_metrics_serve(addr, err, sizeof(err)) == 0, "serve %s: %s", addr, err);
	r = http(port, "GET /healthz HTTP/1.0\r\n\r\n");
	STARTS(r, " 200 OK\r\n");
	free(r);
	if (have_ipv6()) {
		r = http_af(AF_INET6, port, "GET /healthz HTTP/1.0\r\n\r\n");
		STARTS(r, " 200 OK\r\n");
		free(r);
	}
	eg_metrics_stop();

	if (have_ipv6()) {
		port = free_port();
		snprintf(addr, sizeof(addr), "[::1]:%d", port);
		CHECK(eg_metrics_serve(addr, err, sizeof(err)) == 0, "serve %s: %s", addr, err);
		r = http_af(AF_INET6, port, "GET /healthz HTTP/1.0\r\n\r\n");
		STARTS(r, " 200 OK\r\n");
		free(r);
		eg_metrics_stop();
	}

	port = free_port();
	snprintf(addr, sizeof(addr), "localhost:%d", port);
	CHECK(eg_metrics_serve(addr, err, sizeof(err)) == 0, "serve %s: %s", addr, err);
	r = http(port, "GET /healthz HTTP/1.0\r\n\r\n");
	STARTS(r, " 200 OK\r\n");
	free(r);
	eg_metrics_stop();

	/* Port 0: an ephemeral port. */
	CHECK(eg_metrics_serve("127.0.0.1:0", err, sizeof(err)) == 0, "port 0: %s", err);
	eg_metrics_stop();
}

int main(void)
{
	eg_metrics_init();
	test_reference_series();
	test_escaping();
	test_histogram_and_gauges();
	test_http();
	test_concurrent_slots();
	test_full_table();
	return CHECK_SUMMARY("test_metrics");
}
