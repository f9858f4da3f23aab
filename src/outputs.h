/* SPDX-License-Identifier: MIT */
/*
 * Alert outputs besides the JSONL file (docs/output.md, "Outputs"): RFC 5424
 * syslog datagrams, journald's native protocol, and an HTTP/JSON webhook
 * with its own thread. Each gets the alert sink's JSON line through
 * eg_alerts_set_tap; none can block the event loop or the file: the socket
 * outputs send without waiting (a full or missing receiver drops the alert
 * and counts it), the webhook only appends to a bounded queue. The daemon's
 * only (linked into ebpf-guard, not the engine library).
 */
#ifndef EG_OUTPUTS_H
#define EG_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>

struct eg_alert_sink;
struct eg_outputs;

#define EG_WEBHOOK_HEADERS_MAX 64

struct eg_outputs_opts {
	const char *syslog;          /* -syslog: a Unix datagram socket path
				      * ("/dev/log", "unix:PATH") or "udp://HOST:PORT";
				      * NULL: off */
	const char *syslog_facility; /* -syslog-facility: a name; NULL: "daemon" */
	bool journald;               /* -journald */
	const char *journald_socket; /* NULL: /run/systemd/journal/socket */
	const char *webhook_flag;    /* the first -webhook-* flag other than -webhook-url */
	const char *webhook_url;     /* -webhook-url: http:// or https://; NULL: off */
	const char *webhook_headers[EG_WEBHOOK_HEADERS_MAX]; /* "Name: value" */
	size_t nwebhook_headers;
	const char *webhook_ca_file; /* -webhook-ca-file; NULL: the system's CAs */
	unsigned long webhook_queue;      /* alerts; 0: the default */
	unsigned long webhook_batch;      /* alerts per request; 0: the default */
	unsigned long webhook_flush_ms;   /* 0: the default */
	unsigned long webhook_timeout_ms; /* per request; 0: the default */
	long webhook_retries;             /* -1: the default */
	long webhook_drain_ms;            /* -1: the default */
};

/* The struct's zero value is not the defaults: start from this. */
#define EG_OUTPUTS_OPTS_INIT {.webhook_retries = -1, .webhook_drain_ms = -1}

#define EG_WEBHOOK_QUEUE_DEFAULT 10000ul
#define EG_WEBHOOK_BATCH_DEFAULT 100ul
#define EG_WEBHOOK_FLUSH_MS_DEFAULT 1000ul
#define EG_WEBHOOK_TIMEOUT_MS_DEFAULT 10000ul
#define EG_WEBHOOK_RETRIES_DEFAULT 5l
#define EG_WEBHOOK_DRAIN_MS_DEFAULT 5000l

/*
 * One command-line flag (name without the dash) of the outputs: syslog,
 * syslog-facility, webhook-url, webhook-header, webhook-ca-file,
 * webhook-queue, webhook-batch, webhook-flush-ms, webhook-timeout-ms,
 * webhook-retries, webhook-drain-ms (-journald is a boolean: the caller
 * sets it). Returns 1 when name is none of them, 0 when val was taken, -1
 * with the message in err when it is not valid.
 */
int eg_outputs_parse_flag(struct eg_outputs_opts *o, const char *name, const char *val,
			  char *err, size_t errlen);
/* After all flags: "" when they go together, else the message in err and -1
 * (a -webhook-* flag without -webhook-url...). */
int eg_outputs_check_flags(const struct eg_outputs_opts *o, char *err, size_t errlen);

/*
 * Validates the options and opens what they name: sockets, the webhook's
 * HTTP handle and thread (started with every signal blocked and no
 * capabilities). Returns NULL and a message in err when something is wrong
 * (an error in the options, or a socket that cannot be made); an empty set
 * (no output asked for) is a valid, inert one.
 */
struct eg_outputs *eg_outputs_new(const struct eg_outputs_opts *o, char *err, size_t errlen);
/* Feeds sink's alerts to the outputs (eg_alerts_set_tap). */
void eg_outputs_attach(struct eg_outputs *outs, struct eg_alert_sink *sink);
/* True when an output makes network connections after start-up (the
 * webhook): the seccomp filter must let it create sockets and connect. */
bool eg_outputs_need_network(const struct eg_outputs *outs);
/*
 * Stops the outputs: the webhook sends what is queued until its drain
 * deadline (-webhook-drain-ms), then drops the rest (counted, one line on
 * stderr) and its thread ends. Detach the tap (eg_alerts_set_tap NULL) or
 * close the sink's producer first. NULL is fine.
 */
void eg_outputs_close(struct eg_outputs *outs);

#endif
