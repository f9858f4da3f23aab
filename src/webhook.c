/* SPDX-License-Identifier: MIT */
/*
 * The webhook output. The event loop appends a copy of each alert line to a
 * bounded queue (a mutex held for a pointer store; past the bound the alert
 * is dropped and counted) and wakes the thread. The thread takes up to
 * -webhook-batch alerts once that many wait or the oldest has waited
 * -webhook-flush-ms, and POSTs them as one JSON array with libcurl. A
 * connection error, a timeout, 429 or 5xx is retried with exponential
 * backoff (0.5 s doubling, at most 30 s) up to -webhook-retries times, then
 * the batch is dropped; another 4xx (or 3xx: redirects are not followed)
 * drops it at once. At exit the queue is sent until -webhook-drain-ms runs
 * out; a transfer still going then is aborted and what is left is dropped.
 */
#include "webhook.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buf.h"
#include "harden.h"
#include "metrics.h"

#ifndef EG_VERSION
#define EG_VERSION "unknown"
#endif

/* Bytes of alert lines the queue may hold, whatever -webhook-queue says. */
#define QUEUE_MAX_BYTES (64u << 20)
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 30000
/* At most one failure message per this many ns. */
#define FAIL_LOG_NS (10LL * 1000000000LL)

struct item {
	char *p;
	size_t len;
};

struct eg_webhook {
	CURL *curl;
	struct curl_slist *headers;
	unsigned long qmax, batch, flush_ms, timeout_ms;
	long retries, drain_ms;
	struct eg_output_slot *m;

	pthread_mutex_t mu;
	pthread_cond_t cv;      /* queue not empty, stop, ready; CLOCK_MONOTONIC */
	struct item *q;         /* ring of qmax */
	struct item *taken;     /* the thread's: the batch taken out of q */
	size_t head, count, bytes;
	size_t inflight;        /* alerts of the batch being sent */
	int64_t first_ns;       /* when the oldest queued alert came */
	bool stopping;
	int64_t deadline_ns;    /* stopping: give up at this time */
	bool ready;             /* the thread has dropped its capabilities */
	pthread_t thread;
	bool started;

	/* the thread's own */
	struct eg_buf body;
	char errbuf[CURL_ERROR_SIZE];
	bool failing;
	bool logged;
	size_t late;            /* alerts dropped at the drain deadline */
	int64_t last_log_ns;
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct timespec abs_ts(int64_t ns)
{
	return (struct timespec){.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};
}

/* Called with mu held. */
static void set_queued(struct eg_webhook *w)
{
	EG_OUT_SET(w->m, queued, w->count + w->inflight);
}

void eg_webhook_push(struct eg_webhook *w, const char *line, size_t len)
{
	if (len && line[len - 1] == '\n')
		len--;
	pthread_mutex_lock(&w->mu);
	if (w->count >= w->qmax || w->bytes + len > QUEUE_MAX_BYTES || w->stopping) {
		pthread_mutex_unlock(&w->mu);
		EG_OUT_INC(w->m, dropped[EG_ODROP_QUEUE_FULL]);
		return;
	}
	pthread_mutex_unlock(&w->mu);
	/* the copy is made outside the lock; only this thread adds */
	char *p = malloc(len ? len : 1);
	if (!p) {
		EG_OUT_INC(w->m, dropped[EG_ODROP_QUEUE_FULL]);
		return;
	}
	memcpy(p, line, len);
	pthread_mutex_lock(&w->mu);
	if (!w->count)
		w->first_ns = mono_ns();
	w->q[(w->head + w->count) % w->qmax] = (struct item){p, len};
	w->count++;
	w->bytes += len;
	set_queued(w);
	/* wake the thread when a batch is complete or the queue was empty */
	if (w->count == 1 || w->count == w->batch)
		pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p, (void)ctx;
	return size * n;
}

/* Aborts a transfer once the drain deadline has passed. */
static int on_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct eg_webhook *w = ctx;
	(void)a, (void)b, (void)c, (void)d;
	pthread_mutex_lock(&w->mu);
	bool abort = w->stopping && mono_ns() >= w->deadline_ns;
	pthread_mutex_unlock(&w->mu);
	return abort;
}

__attribute__((format(printf, 2, 3))) static void log_limited(struct eg_webhook *w,
							      const char *fmt, ...)
{
	int64_t now = mono_ns();
	if (w->logged && now - w->last_log_ns < FAIL_LOG_NS)
		return;
	w->logged = true;
	w->last_log_ns = now;
	va_list ap;
	va_start(ap, fmt);
	char msg[CURL_ERROR_SIZE + 256];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ebpf-guard: webhook: %s\n", msg);
}

/*
 * POSTs w->body once. Returns 0 when delivered (2xx), 1 when worth retrying
 * (connection error, timeout, 429, 5xx), 2 when refused for good (other
 * status), with the reason in why.
 */
static int post_once(struct eg_webhook *w, char *why, size_t whylen)
{
	long timeout = (long)w->timeout_ms;
	pthread_mutex_lock(&w->mu);
	if (w->stopping) {
		int64_t left = (w->deadline_ns - mono_ns()) / 1000000;
		if (left < timeout)
			timeout = left > 1 ? (long)left : 1;
	}
	pthread_mutex_unlock(&w->mu);
	curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, w->body.p);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)w->body.len);
	w->errbuf[0] = 0;
	CURLcode rc = curl_easy_perform(w->curl);
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "%s", w->errbuf[0] ? w->errbuf : curl_easy_strerror(rc));
		return 1;
	}
	long code = 0;
	curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300)
		return 0;
	snprintf(why, whylen, "HTTP status %ld", code);
	return code == 429 || code >= 500 ? 1 : 2;
}

/* Waits until time until (mono ns) or the drain deadline, whichever comes
 * first. Called with mu held. */
static void sleep_until(struct eg_webhook *w, int64_t until)
{
	for (;;) {
		int64_t end = w->stopping && w->deadline_ns < until ? w->deadline_ns : until;
		if (mono_ns() >= end)
			return;
		struct timespec ts = abs_ts(end);
		pthread_cond_timedwait(&w->cv, &w->mu, &ts);
	}
}

/* Sends the batch in w->body (n alerts) with retries. Called without mu. */
static void deliver(struct eg_webhook *w, size_t n)
{
	char why[CURL_ERROR_SIZE + 32];
	for (long attempt = 0;; attempt++) {
		int r = post_once(w, why, sizeof(why));
		if (r == 0) {
			EG_OUT_ADD(w->m, alerts, n);
			if (w->failing)
				fprintf(stderr, "ebpf-guard: webhook: delivering again\n");
			w->failing = w->logged = false;
			return;
		}
		EG_OUT_INC(w->m, errors);
		w->failing = true;
		if (r == 2) {
			EG_OUT_ADD(w->m, dropped[EG_ODROP_REJECTED], n);
			log_limited(w, "the server refused %zu alerts: %s (dropped, not retried)", n, why);
			return;
		}
		pthread_mutex_lock(&w->mu);
		bool late = w->stopping && mono_ns() >= w->deadline_ns;
		pthread_mutex_unlock(&w->mu);
		if (late) {
			w->late += n;
			return;
		}
		if (attempt >= w->retries) {
			EG_OUT_ADD(w->m, dropped[EG_ODROP_RETRIES], n);
			log_limited(w, "dropped %zu alerts after %ld retries: %s", n, w->retries, why);
			return;
		}
		long ms = BACKOFF_FIRST_MS;
		for (long i = 0; i < attempt && ms < BACKOFF_MAX_MS; i++)
			ms *= 2;
		if (ms > BACKOFF_MAX_MS)
			ms = BACKOFF_MAX_MS;
		log_limited(w, "cannot deliver %zu alerts: %s; retrying in %.1f s", n, why, ms / 1e3);
		pthread_mutex_lock(&w->mu);
		sleep_until(w, mono_ns() + ms * 1000000LL);
		late = w->stopping && mono_ns() >= w->deadline_ns;
		pthread_mutex_unlock(&w->mu);
		if (late) {
			w->late += n;
			return;
		}
	}
}

static void *run(void *arg)
{
	struct eg_webhook *w = arg;
	/* capabilities are per thread: this one never needs any */
	eg_caps_limit(0);
	eg_no_new_privs();
	pthread_setname_np(pthread_self(), "eg-webhook");
	pthread_mutex_lock(&w->mu);
	w->ready = true;
	pthread_cond_broadcast(&w->cv);
	for (;;) {
		while (!w->count && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->count)
			break; /* stopping, all sent */
		if (w->stopping && mono_ns() >= w->deadline_ns)
			break;
		if (!w->stopping && w->count < w->batch) {
			int64_t due = w->first_ns + (int64_t)w->flush_ms * 1000000LL;
			if (mono_ns() < due) {
				struct timespec ts = abs_ts(due);
				pthread_cond_timedwait(&w->cv, &w->mu, &ts);
				continue;
			}
		}
		/* take the batch out under the lock, build the body without it */
		size_t n = w->count < w->batch ? w->count : w->batch;
		for (size_t i = 0; i < n; i++) {
			w->taken[i] = w->q[w->head];
			w->bytes -= w->taken[i].len;
			w->head = (w->head + 1) % w->qmax;
		}
		w->count -= n;
		w->inflight = n;
		if (w->count)
			w->first_ns = mono_ns();
		set_queued(w);
		pthread_mutex_unlock(&w->mu);
		w->body.len = 0;
		int oom = eg_buf_putc(&w->body, '[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				oom |= eg_buf_putc(&w->body, ',');
			oom |= eg_buf_put(&w->body, w->taken[i].p, w->taken[i].len);
			free(w->taken[i].p);
		}
		oom |= eg_buf_putc(&w->body, ']');
		if (oom) /* no memory for the body: as if the queue had had no room */
			EG_OUT_ADD(w->m, dropped[EG_ODROP_QUEUE_FULL], n);
		else
			deliver(w, n);
		pthread_mutex_lock(&w->mu);
		w->inflight = 0;
		set_queued(w);
	}
	size_t left = w->count + w->late;
	while (w->count) {
		free(w->q[w->head].p);
		w->head = (w->head + 1) % w->qmax;
		w->count--;
	}
	w->bytes = 0;
	set_queued(w);
	pthread_mutex_unlock(&w->mu);
	if (left) {
		EG_OUT_ADD(w->m, dropped[EG_ODROP_SHUTDOWN], left);
		fprintf(stderr, "ebpf-guard: webhook: %zu alerts not delivered by the drain deadline "
				"(-webhook-drain-ms %ld)\n", left, w->drain_ms);
	}
	return NULL;
}

static bool has_prefix_ci(const char *s, const char *p)
{
	return !strncasecmp(s, p, strlen(p));
}

/* "Name: value": a token for the name, no CR or LF anywhere. */
static bool header_ok(const char *h)
{
	size_t name = strcspn(h, ":");
	if (!name || !h[name] || strpbrk(h, "\r\n"))
		return false;
	for (size_t i = 0; i < name; i++)
		if (h[i] <= ' ' || h[i] >= 127)
			return false;
	return true;
}

static void webhook_free(struct eg_webhook *w)
{
	if (w->curl)
		curl_easy_cleanup(w->curl);
	curl_slist_free_all(w->headers);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->q);
	free(w->taken);
	eg_buf_free(&w->body);
	free(w);
}

struct eg_webhook *eg_webhook_new(const struct eg_outputs_opts *o, char *err, size_t errlen)
{
	const char *url = o->webhook_url;
	if (!has_prefix_ci(url, "http://") && !has_prefix_ci(url, "https://")) {
		snprintf(err, errlen, "invalid -webhook-url '%s': expected an http:// or https:// URL",
			 url);
		return NULL;
	}
	for (size_t i = 0; i < o->nwebhook_headers; i++)
		if (!header_ok(o->webhook_headers[i])) {
			snprintf(err, errlen, "invalid -webhook-header '%s': expected 'Name: value'",
				 o->webhook_headers[i]);
			return NULL;
		}
	if (o->webhook_ca_file && access(o->webhook_ca_file, R_OK)) {
		snprintf(err, errlen, "cannot read -webhook-ca-file %s: %s", o->webhook_ca_file,
			 strerror(errno));
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		snprintf(err, errlen, "webhook: cannot initialise libcurl");
		return NULL;
	}
	CURLU *u = curl_url();
	CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, url, 0) : CURLUE_OUT_OF_MEMORY;
	curl_url_cleanup(u);
	if (uc) {
		snprintf(err, errlen, "invalid -webhook-url '%s': %s", url, curl_url_strerror(uc));
		return NULL;
	}
	if (has_prefix_ci(url, "https://") &&
	    !(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_SSL)) {
		snprintf(err, errlen, "invalid -webhook-url '%s': this libcurl has no TLS support", url);
		return NULL;
	}

	struct eg_webhook *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->qmax = o->webhook_queue ? o->webhook_queue : EG_WEBHOOK_QUEUE_DEFAULT;
	w->batch = o->webhook_batch ? o->webhook_batch : EG_WEBHOOK_BATCH_DEFAULT;
	w->flush_ms = o->webhook_flush_ms ? o->webhook_flush_ms : EG_WEBHOOK_FLUSH_MS_DEFAULT;
	w->timeout_ms = o->webhook_timeout_ms ? o->webhook_timeout_ms : EG_WEBHOOK_TIMEOUT_MS_DEFAULT;
	w->retries = o->webhook_retries >= 0 ? o->webhook_retries : EG_WEBHOOK_RETRIES_DEFAULT;
	w->drain_ms = o->webhook_drain_ms >= 0 ? o->webhook_drain_ms : EG_WEBHOOK_DRAIN_MS_DEFAULT;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	w->q = calloc(w->qmax, sizeof(*w->q));
	w->taken = calloc(w->batch, sizeof(*w->taken));
	w->curl = curl_easy_init();
	if (!w->q || !w->taken || !w->curl) {
		snprintf(err, errlen, "webhook: out of memory");
		webhook_free(w);
		return NULL;
	}
	bool user_ctype = false;
	struct curl_slist *h = NULL, *n;
	for (size_t i = 0; i < o->nwebhook_headers; i++)
		user_ctype |= has_prefix_ci(o->webhook_headers[i], "content-type:");
	const char *fixed[] = {user_ctype ? NULL : "Content-Type: application/json",
			       "User-Agent: ebpf-guard/" EG_VERSION, "Expect:"};
	for (size_t i = 0; i < 3; i++)
		if (fixed[i] && (n = curl_slist_append(h, fixed[i])))
			h = n;
	for (size_t i = 0; i < o->nwebhook_headers; i++)
		if ((n = curl_slist_append(h, o->webhook_headers[i])))
			h = n;
	w->headers = h;
	CURL *c = w->curl;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, w->headers);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)w->timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, w->errbuf);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (o->webhook_ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->webhook_ca_file);
	w->m = eg_metrics_output("webhook");

	/* The thread starts with every signal blocked but SIGSYS (so that the
	 * event loop gets SIGTERM, and a refused system call is reported) and
	 * gives up its capabilities before this returns: the seccomp filter,
	 * installed later, would refuse that. */
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, SIGSYS);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&w->thread, NULL, run, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(err, errlen, "webhook: cannot start its thread: %s", strerror(rc));
		webhook_free(w);
		return NULL;
	}
	w->started = true;
	pthread_mutex_lock(&w->mu);
	while (!w->ready)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	return w;
}

void eg_webhook_close(struct eg_webhook *w)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->stopping = true;
		w->deadline_ns = mono_ns() + w->drain_ms * 1000000LL;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL);
	}
	webhook_free(w);
}
