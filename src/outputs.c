/* SPDX-License-Identifier: MIT */
/*
 * Alert outputs besides the file: syslog (RFC 5424), journald (native
 * protocol), webhook (src/webhook.c). The socket outputs format and send on
 * the event loop's thread with MSG_DONTWAIT into sockets made at start-up,
 * so after the seccomp filter is in place they only ever call sendto/sendmsg.
 */
#include "json.h"
#include "outputs.h"

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "alerts.h"
#include "buf.h"
#include "event.h"
#include "metrics.h"
#include "webhook.h"

#define JOURNALD_SOCKET "/run/systemd/journal/socket"
/* Room the socket outputs ask for in the kernel for one datagram. */
#define SOCK_SNDBUF (8 << 20)
/* At most one failure message per output per this many ns. */
#define FAIL_LOG_NS (10LL * 1000000000LL)
/* The SD-ID of the structured data element: 32473 is the private enterprise
 * number RFC 5612 reserves for documentation and examples. */
#define SD_ID "ebpf-guard@32473"
/* journald: MESSAGE_ID of every alert (journalctl MESSAGE_ID=...). */
#define ALERT_MESSAGE_ID "5f0b3c2a8e7d4c1b9a6e2d4f8c1b7a30"

struct sock_out {
	const char *name; /* "syslog", "journald" */
	int fd;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct eg_output_slot *m;
	int64_t last_log_ns;
	bool logged;
	struct eg_buf b;
};

struct eg_outputs {
	struct sock_out syslog, journald;
	bool syslog_on, journald_on;
	int facility;
	char hostname[256]; /* this machine's, for alerts without a host */
	char pid[16];
	struct eg_webhook *webhook;
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static const struct {
	const char *name;
	int code;
} facilities[] = {
	{"kern", 0},    {"user", 1},    {"mail", 2},    {"daemon", 3},  {"auth", 4},
	{"syslog", 5},  {"lpr", 6},     {"news", 7},    {"uucp", 8},    {"cron", 9},
	{"authpriv", 10}, {"ftp", 11},  {"local0", 16}, {"local1", 17}, {"local2", 18},
	{"local3", 19}, {"local4", 20}, {"local5", 21}, {"local6", 22}, {"local7", 23},
};

/* The syslog severity (RFC 5424 6.2.1) of a rule severity. */
static int syslog_severity(const char *sev)
{
	static const struct {
		const char *name;
		int code;
	} map[] = {{"debug", 7}, {"info", 6},  {"notice", 5},
		   {"warning", 4}, {"error", 3}, {"critical", 2}};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (sev && !strcmp(sev, map[i].name))
			return map[i].code;
	return 4;
}

/* An RFC 5424 PARAM-VALUE: '"', '\' and ']' escaped with a backslash,
 * invalid UTF-8 bytes replaced by U+FFFD. */
static void put_param(struct eg_buf *b, const char *v, size_t n)
{
	const unsigned char *s = (const unsigned char *)v;
	while (n) {
		if (*s == '"' || *s == '\\' || *s == ']') {
			eg_buf_putc(b, '\\');
			eg_buf_putc(b, (char)*s);
			s++, n--;
			continue;
		}
		size_t l = eg_utf8_len(s, n);
		if (!l) {
			eg_buf_put(b, "\xef\xbf\xbd", 3);
			s++, n--;
			continue;
		}
		eg_buf_put(b, s, l);
		s += l, n -= l;
	}
}

/* Appends the tags of a JSON array of strings (rule->tags_json), joined by
 * ',', each through put; escapes other than \" and \\ are kept as they are. */
static void put_tags(struct eg_buf *b, const char *json,
		     void (*put)(struct eg_buf *, const char *, size_t))
{
	struct eg_buf t = {0};
	bool first = true;
	const char *p = json ? json : "";
	while ((p = strchr(p, '"'))) {
		p++;
		t.len = 0;
		while (*p && *p != '"') {
			if (*p == '\\' && p[1]) {
				if (p[1] == '"' || p[1] == '\\')
					p++;
				else
					eg_buf_putc(&t, *p++);
			}
			eg_buf_putc(&t, *p++);
		}
		if (!first)
			eg_buf_putc(b, ',');
		first = false;
		put(b, t.p ? t.p : "", t.len);
		if (!*p)
			break;
		p++;
	}
	eg_buf_free(&t);
}

static void put_raw(struct eg_buf *b, const char *s, size_t n)
{
	eg_buf_put(b, s, n);
}

/* A HOSTNAME of RFC 5424: printable US-ASCII, at most 255; "-" when empty. */
static void put_hostname(struct eg_buf *b, const char *h, size_t n)
{
	if (!n) {
		eg_buf_putc(b, '-');
		return;
	}
	for (size_t i = 0; i < n && i < 255; i++)
		eg_buf_putc(b, h[i] > 32 && h[i] < 127 ? h[i] : '_');
}

static void sd_param(struct eg_buf *b, const char *name, const char *v, size_t n)
{
	eg_buf_putc(b, ' ');
	eg_buf_puts(b, name);
	eg_buf_put(b, "=\"", 2);
	put_param(b, v, n);
	eg_buf_putc(b, '"');
}

static void sd_num(struct eg_buf *b, const char *name, unsigned long long v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%llu", v);
	sd_param(b, name, num, (size_t)n);
}

/*
 * One RFC 5424 message (no trailing newline: one per datagram):
 *   <PRI>1 TIMESTAMP HOSTNAME ebpf-guard PROCID alert [ebpf-guard@32473 ...] BOM JSON
 */
static void format_syslog(struct eg_outputs *o, struct eg_buf *b, const char *line, size_t len,
			  const struct eg_event *ev, const struct eg_rule_info *rule)
{
	char head[96];
	time_t sec = (time_t)(ev->ts_ns / 1000000000LL);
	long usec = (long)(ev->ts_ns % 1000000000LL) / 1000;
	if (ev->ts_ns < 0)
		sec = 0, usec = 0;
	struct tm tm;
	gmtime_r(&sec, &tm);
	int n = snprintf(head, sizeof(head), "<%d>1 %04d-%02d-%02dT%02d:%02d:%02d.%06ldZ ",
			 o->facility * 8 + syslog_severity(rule->severity), tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
	eg_buf_put(b, head, (size_t)n);
	const struct eg_host *h = eg_ev_host(ev);
	if (h->name_len)
		put_hostname(b, h->name, h->name_len);
	else
		put_hostname(b, o->hostname, strlen(o->hostname));
	eg_buf_put(b, " ebpf-guard ", 12);
	eg_buf_puts(b, o->pid);
	eg_buf_put(b, " alert [" SD_ID, 8 + sizeof(SD_ID) - 1);
	sd_param(b, "rule_id", rule->id, strlen(rule->id));
	const char *sev = rule->severity ? rule->severity : "warning";
	sd_param(b, "severity", sev, strlen(sev));
	const char *type = eg_event_type_name(ev->type);
	sd_param(b, "event_type", type, strlen(type));
	eg_buf_puts(b, " tags=\"");
	put_tags(b, rule->tags_json, put_param);
	eg_buf_putc(b, '"');
	sd_num(b, "pid", ev->pid);
	sd_num(b, "tgid", ev->tgid);
	sd_num(b, "uid", ev->uid);
	sd_param(b, "comm", ev->comm, ev->comm_len);
	sd_param(b, "exe", ev->exe ? ev->exe : "", ev->exe ? ev->exe_len : 0);
	sd_param(b, "filename", ev->filename, ev->filename_len);
	if (ev->dest_ip_len) {
		sd_param(b, "dest_ip", ev->dest_ip, ev->dest_ip_len);
		sd_num(b, "dest_port", ev->dest_port);
	}
	const struct eg_container *c = eg_ev_ctr(ev);
	if (c->id_len)
		sd_param(b, "container_id", c->id, c->id_len);
	eg_buf_put(b, "] \xef\xbb\xbf", 5);
	eg_buf_put(b, line, len && line[len - 1] == '\n' ? len - 1 : len);
}

/* One journald field: KEY=value\n, or for a value with a newline
 * KEY\n, its length (64-bit little endian), the value, \n. */
static void jfield(struct eg_buf *b, const char *key, const char *v, size_t n)
{
	eg_buf_puts(b, key);
	if (!memchr(v, '\n', n)) {
		eg_buf_putc(b, '=');
		eg_buf_put(b, v, n);
	} else {
		unsigned char le[8];
		uint64_t l = n;
		for (int i = 0; i < 8; i++)
			le[i] = (unsigned char)(l >> (8 * i));
		eg_buf_putc(b, '\n');
		eg_buf_put(b, le, 8);
		eg_buf_put(b, v, n);
	}
	eg_buf_putc(b, '\n');
}

static void jnum(struct eg_buf *b, const char *key, unsigned long long v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%llu", v);
	jfield(b, key, num, (size_t)n);
}

static void format_journald(struct eg_outputs *o, struct eg_buf *b, const char *line, size_t len,
			    const struct eg_event *ev, const struct eg_rule_info *rule,
			    const char *desc, size_t desc_len)
{
	struct eg_buf m = {0};
	eg_buf_put(&m, "[ALERT] rule=", 13);
	eg_buf_puts(&m, rule->id);
	eg_buf_put(&m, " comm=", 6);
	eg_buf_put(&m, ev->comm, ev->comm_len);
	eg_buf_put(&m, " filename=", 10);
	eg_buf_put(&m, ev->filename, ev->filename_len);
	char tail[32];
	int n = snprintf(tail, sizeof(tail), " pid=%u: ", ev->pid);
	eg_buf_put(&m, tail, (size_t)n);
	if (desc)
		eg_buf_put(&m, desc, desc_len);
	else
		eg_buf_puts(&m, rule->description ? rule->description : "");
	if (m.p)
		jfield(b, "MESSAGE", m.p, m.len);
	eg_buf_free(&m);
	char pri[4];
	n = snprintf(pri, sizeof(pri), "%d", syslog_severity(rule->severity));
	jfield(b, "PRIORITY", pri, (size_t)n);
	jnum(b, "SYSLOG_FACILITY", (unsigned long long)o->facility);
	jfield(b, "SYSLOG_IDENTIFIER", "ebpf-guard", 10);
	jfield(b, "MESSAGE_ID", ALERT_MESSAGE_ID, sizeof(ALERT_MESSAGE_ID) - 1);
	jfield(b, "EBPF_GUARD_RULE_ID", rule->id, strlen(rule->id));
	const char *sev = rule->severity ? rule->severity : "warning";
	jfield(b, "EBPF_GUARD_SEVERITY", sev, strlen(sev));
	const char *type = eg_event_type_name(ev->type);
	jfield(b, "EBPF_GUARD_EVENT_TYPE", type, strlen(type));
	struct eg_buf t = {0};
	put_tags(&t, rule->tags_json, put_raw);
	jfield(b, "EBPF_GUARD_TAGS", t.p ? t.p : "", t.len);
	eg_buf_free(&t);
	jnum(b, "EBPF_GUARD_PID", ev->pid);
	jnum(b, "EBPF_GUARD_TGID", ev->tgid);
	jnum(b, "EBPF_GUARD_UID", ev->uid);
	jfield(b, "EBPF_GUARD_COMM", ev->comm, ev->comm_len);
	jfield(b, "EBPF_GUARD_EXE", ev->exe ? ev->exe : "", ev->exe ? ev->exe_len : 0);
	jfield(b, "EBPF_GUARD_FILENAME", ev->filename, ev->filename_len);
	if (ev->dest_ip_len) {
		jfield(b, "EBPF_GUARD_DEST_IP", ev->dest_ip, ev->dest_ip_len);
		jnum(b, "EBPF_GUARD_DEST_PORT", ev->dest_port);
	}
	const struct eg_container *c = eg_ev_ctr(ev);
	if (c->id_len)
		jfield(b, "EBPF_GUARD_CONTAINER_ID", c->id, c->id_len);
	jfield(b, "EBPF_GUARD_ALERT", line, len && line[len - 1] == '\n' ? len - 1 : len);
}

static void sock_failed(struct sock_out *s, int e)
{
	enum eg_out_drop why = EG_ODROP_UNAVAILABLE;
	if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS)
		why = EG_ODROP_BUSY;
	else if (e == EMSGSIZE)
		why = EG_ODROP_TOO_LARGE;
	EG_OUT_INC(s->m, errors);
	EG_OUT_INC(s->m, dropped[why]);
	int64_t now = mono_ns();
	if (s->logged && now - s->last_log_ns < FAIL_LOG_NS)
		return;
	s->logged = true;
	s->last_log_ns = now;
	fprintf(stderr, "ebpf-guard: %s: cannot send an alert: %s (dropped; counted in "
			"ebpf_guard_output_dropped_total)\n", s->name, strerror(e));
}

static void sock_send(struct sock_out *s)
{
	ssize_t w;
	do
		w = sendto(s->fd, s->b.p, s->b.len, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (struct sockaddr *)&s->addr, s->addrlen);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		sock_failed(s, errno);
		return;
	}
	EG_OUT_INC(s->m, alerts);
	if (s->logged && mono_ns() - s->last_log_ns >= FAIL_LOG_NS)
		s->logged = false;
}

/* The tap: called on the event loop for every alert (alerts.h). */
static void on_alert(void *ctx, const char *line, size_t len, const struct eg_event *ev,
		     const struct eg_rule_info *rule, const char *desc, size_t desc_len)
{
	struct eg_outputs *o = ctx;
	if (o->webhook)
		eg_webhook_push(o->webhook, line, len);
	if (o->syslog_on) {
		o->syslog.b.len = 0;
		format_syslog(o, &o->syslog.b, line, len, ev, rule);
		sock_send(&o->syslog);
	}
	if (o->journald_on) {
		o->journald.b.len = 0;
		format_journald(o, &o->journald.b, line, len, ev, rule, desc, desc_len);
		sock_send(&o->journald);
	}
}

/* A datagram socket for addr ("/dev/log", "unix:PATH", "udp://HOST:PORT")
 * into s. Returns 0, or -1 with the reason in err. */
static int sock_open(struct sock_out *s, const char *flag, const char *addr, char *err,
		     size_t errlen)
{
	int family = AF_UNIX;
	if (!strncmp(addr, "udp://", 6)) {
		const char *hp = addr + 6, *colon, *host = hp;
		char hbuf[256];
		size_t hl;
		if (*hp == '[') {
			const char *close = strchr(hp, ']');
			colon = close && close[1] == ':' ? close + 1 : NULL;
			host = hp + 1;
			hl = close ? (size_t)(close - host) : 0;
		} else {
			colon = strrchr(hp, ':');
			hl = colon ? (size_t)(colon - hp) : 0;
		}
		if (!colon || !hl || hl >= sizeof(hbuf) || !colon[1] ||
		    colon[1 + strspn(colon + 1, "0123456789")] || strtoul(colon + 1, NULL, 10) > 65535 ||
		    strtoul(colon + 1, NULL, 10) == 0) {
			snprintf(err, errlen, "invalid %s '%s': expected udp://HOST:PORT", flag, addr);
			return -1;
		}
		memcpy(hbuf, host, hl);
		hbuf[hl] = 0;
		struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
					 .ai_flags = AI_NUMERICSERV}, *res;
		int rc = getaddrinfo(hbuf, colon + 1, &hints, &res);
		if (rc) {
			snprintf(err, errlen, "invalid %s '%s': cannot resolve '%s': %s", flag, addr,
				 hbuf, gai_strerror(rc));
			return -1;
		}
		memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
		s->addrlen = res->ai_addrlen;
		family = res->ai_family;
		freeaddrinfo(res);
	} else {
		const char *path = !strncmp(addr, "unix:", 5) ? addr + 5 : addr;
		struct sockaddr_un *sun = (struct sockaddr_un *)&s->addr;
		if (path[0] != '/' || strlen(path) >= sizeof(sun->sun_path)) {
			snprintf(err, errlen, "invalid %s '%s': expected an absolute Unix socket path "
					      "(/dev/log, unix:/path) or udp://HOST:PORT", flag, addr);
			return -1;
		}
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, path);
		s->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
	}
	s->fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0) {
		snprintf(err, errlen, "%s: cannot create a socket: %s", s->name, strerror(errno));
		return -1;
	}
	int sz = SOCK_SNDBUF;
	if (setsockopt(s->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	s->m = eg_metrics_output(s->name);
	return 0;
}

static int find_facility(const char *name)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (!strcmp(name, facilities[i].name))
			return facilities[i].code;
	return -1;
}

/* A decimal number lo..hi into *out; -1 when it is not. */
static int parse_num(const char *v, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno || *end || !*v || *v == '-' || *v == '+' || *v == ' ' || n < lo || n > hi)
		return -1;
	*out = n;
	return 0;
}

int eg_outputs_parse_flag(struct eg_outputs_opts *o, const char *name, const char *val,
			  char *err, size_t errlen)
{
	static const struct {
		const char *name;
		unsigned long lo, hi;
		const char *unit;
	} nums[] = {
		{"webhook-queue", 1, 1000000, "alerts"},
		{"webhook-batch", 1, 10000, "alerts"},
		{"webhook-flush-ms", 1, 3600000, "ms"},
		{"webhook-timeout-ms", 100, 600000, "ms"},
		{"webhook-retries", 0, 100, "retries"},
		{"webhook-drain-ms", 0, 600000, "ms"},
	};
	if (!strcmp(name, "syslog")) {
		bool unix_path = val[0] == '/' || !strncmp(val, "unix:/", 6);
		if (!unix_path && strncmp(val, "udp://", 6)) {
			snprintf(err, errlen, "invalid -syslog '%s': expected an absolute Unix socket "
					      "path (/dev/log, unix:/path) or udp://HOST:PORT", val);
			return -1;
		}
		o->syslog = val;
		return 0;
	}
	if (!strcmp(name, "syslog-facility")) {
		if (find_facility(val) < 0) {
			snprintf(err, errlen, "invalid -syslog-facility '%s': expected kern, user, mail, "
					      "daemon, auth, syslog, lpr, news, uucp, cron, authpriv, "
					      "ftp or local0..local7", val);
			return -1;
		}
		o->syslog_facility = val;
		return 0;
	}
	if (strncmp(name, "webhook-", 8))
		return 1;
	if (!strcmp(name, "webhook-url")) {
		if (strncasecmp(val, "http://", 7) && strncasecmp(val, "https://", 8)) {
			snprintf(err, errlen, "invalid -webhook-url '%s': expected an http:// or "
					      "https:// URL", val);
			return -1;
		}
		CURLU *u = curl_url();
		CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, val, 0) : CURLUE_OUT_OF_MEMORY;
		curl_url_cleanup(u);
		if (uc) {
			snprintf(err, errlen, "invalid -webhook-url '%s': %s", val, curl_url_strerror(uc));
			return -1;
		}
		o->webhook_url = val;
		return 0;
	}
	if (!o->webhook_flag) {
		static char flag[32];
		snprintf(flag, sizeof(flag), "%s", name);
		o->webhook_flag = flag;
	}
	if (!strcmp(name, "webhook-header")) {
		size_t nl = strcspn(val, ":");
		bool ok = nl && val[nl] && !strpbrk(val, "\r\n");
		for (size_t i = 0; ok && i < nl; i++)
			ok = val[i] > ' ' && val[i] < 127;
		if (!ok) {
			snprintf(err, errlen, "invalid -webhook-header '%s': expected 'Name: value'", val);
			return -1;
		}
		if (o->nwebhook_headers == EG_WEBHOOK_HEADERS_MAX) {
			snprintf(err, errlen, "too many -webhook-header flags (at most %d)",
				 EG_WEBHOOK_HEADERS_MAX);
			return -1;
		}
		o->webhook_headers[o->nwebhook_headers++] = val;
		return 0;
	}
	if (!strcmp(name, "webhook-ca-file")) {
		if (!*val) {
			snprintf(err, errlen, "-webhook-ca-file needs a path");
			return -1;
		}
		o->webhook_ca_file = val;
		return 0;
	}
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (strcmp(name, nums[i].name))
			continue;
		unsigned long v;
		if (parse_num(val, nums[i].lo, nums[i].hi, &v)) {
			snprintf(err, errlen, "invalid -%s '%s': expected %lu..%lu (%s)", name, val,
				 nums[i].lo, nums[i].hi, nums[i].unit);
			return -1;
		}
		switch (i) {
		case 0: o->webhook_queue = v; break;
		case 1: o->webhook_batch = v; break;
		case 2: o->webhook_flush_ms = v; break;
		case 3: o->webhook_timeout_ms = v; break;
		case 4: o->webhook_retries = (long)v; break;
		default: o->webhook_drain_ms = (long)v; break;
		}
		return 0;
	}
	return 1;
}

int eg_outputs_check_flags(const struct eg_outputs_opts *o, char *err, size_t errlen)
{
	if (o->webhook_flag && !o->webhook_url) {
		snprintf(err, errlen, "-%s only applies to -webhook-url", o->webhook_flag);
		return -1;
	}
	if (o->syslog_facility && !o->syslog && !o->journald) {
		snprintf(err, errlen, "-syslog-facility only applies to -syslog and -journald");
		return -1;
	}
	return 0;
}

struct eg_outputs *eg_outputs_new(const struct eg_outputs_opts *opt, char *err, size_t errlen)
{
	struct eg_outputs *o = calloc(1, sizeof(*o));
	if (!o) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	o->syslog = (struct sock_out){.name = "syslog", .fd = -1};
	o->journald = (struct sock_out){.name = "journald", .fd = -1};
	o->facility = 3; /* daemon */
	if (opt->syslog_facility && (o->facility = find_facility(opt->syslog_facility)) < 0) {
		snprintf(err, errlen, "invalid -syslog-facility '%s'", opt->syslog_facility);
		goto fail;
	}
	if (gethostname(o->hostname, sizeof(o->hostname) - 1))
		o->hostname[0] = 0;
	snprintf(o->pid, sizeof(o->pid), "%d", (int)getpid());
	if (opt->syslog) {
		if (sock_open(&o->syslog, "-syslog", opt->syslog, err, errlen))
			goto fail;
		o->syslog_on = true;
	}
	if (opt->journald) {
		if (sock_open(&o->journald, "-journald",
			      opt->journald_socket ? opt->journald_socket : JOURNALD_SOCKET, err, errlen))
			goto fail;
		o->journald_on = true;
	}
	if (opt->webhook_url) {
		o->webhook = eg_webhook_new(opt, err, errlen);
		if (!o->webhook)
			goto fail;
	}
	return o;
fail:
	eg_outputs_close(o);
	return NULL;
}

void eg_outputs_attach(struct eg_outputs *o, struct eg_alert_sink *sink)
{
	if (o->syslog_on || o->journald_on || o->webhook)
		eg_alerts_set_tap(sink, on_alert, o);
}

bool eg_outputs_need_network(const struct eg_outputs *o)
{
	return o && o->webhook;
}

void eg_outputs_close(struct eg_outputs *o)
{
	if (!o)
		return;
	eg_webhook_close(o->webhook);
	struct sock_out *s[] = {&o->syslog, &o->journald};
	for (size_t i = 0; i < 2; i++) {
		if (s[i]->fd >= 0)
			close(s[i]->fd);
		eg_buf_free(&s[i]->b);
	}
	free(o);
}
