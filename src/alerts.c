/* SPDX-License-Identifier: MIT */
/*
 * The alert sink. eg_alerts_add formats the JSON line into a pending queue and
 * the human line into a second buffer; eg_alerts_flush writes them with
 * write(2), whole lines per call. On a failed or short write the file is cut
 * back to where the write began (no partial line ever stays), the lines stay
 * queued (bounded; past the bound the NEWEST alerts are dropped and counted)
 * and later flushes retry. A removed file is recreated by path.
 */
#include "alerts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "harden.h"
#include "json.h"
#include "metrics.h"

/* Bounds of the queue of unwritten alerts. */
#define EG_ALERT_QUEUE_MAX_BYTES (64u << 20)
#define EG_ALERT_QUEUE_MAX_ALERTS 100000u
/* Test and tuning knob: overrides EG_ALERT_QUEUE_MAX_ALERTS. */
#define QUEUE_ENV "EG_ALERT_QUEUE_MAX"
/* Largest single write(2); a longer line is written alone. */
#define WRITE_CHUNK (4u << 20)
/* At most one "cannot write" message per this many ns. */
#define FAIL_LOG_NS (10LL * 1000000000LL)
/* The human-line buffer is written out when it grows past this. */
#define HUMAN_FLUSH_BYTES (1u << 20)

struct eg_alert_sink {
	char *path;
	int fd;
	int human_fd;
	bool is_stdout;
	bool mem;              /* eg_alerts_open_mem: lines stay in q for eg_alerts_take */
	bool regular;          /* fd is a regular file: short writes can be undone */
	bool append;           /* fd has O_APPEND (ours always; stdout maybe not) */
	bool failing;          /* the last write attempt failed */
	struct eg_buf q;       /* pending JSON lines: q.p[head..q.len) */
	size_t head;
	size_t nq;             /* complete lines in the queue */
	size_t max_alerts;
	uint64_t written_in_failure; /* lines written since recovery began */
	int64_t last_log_ns;   /* monotonic time of the last failure message */
	bool logged;
	struct eg_buf human;
	eg_alert_tap tap;      /* the other outputs, NULL when none */
	void *tap_ctx;
	struct eg_buf scratch; /* an alert the file's queue had no room for */
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* O_NOFOLLOW, O_CLOEXEC; no symbolic link, no hard-linked file (harden.c). */
static int open_file(const char *path, char *err, size_t errlen)
{
	return eg_open_output(path, err, errlen);
}

static bool is_regular(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

struct eg_alert_sink *eg_alerts_open(const char *path, char *err, size_t errlen)
{
	struct eg_alert_sink *s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->is_stdout = !strcmp(path, "-");
	if (s->is_stdout) {
		s->fd = STDOUT_FILENO;
		s->human_fd = STDERR_FILENO;
	} else {
		char why[PATH_MAX + 64];
		s->fd = open_file(path, why, sizeof(why));
		if (s->fd < 0) {
			snprintf(err, errlen, "failed to open alert file %s: %s", path, why);
			free(s->path);
			free(s);
			return NULL;
		}
		s->human_fd = STDOUT_FILENO;
	}
	s->regular = is_regular(s->fd);
	s->append = (fcntl(s->fd, F_GETFL) & O_APPEND) != 0;
	s->max_alerts = EG_ALERT_QUEUE_MAX_ALERTS;
	const char *env = getenv(QUEUE_ENV);
	if (env && *env) {
		char *end;
		unsigned long v = strtoul(env, &end, 10);
		if (!*end && v > 0)
			s->max_alerts = v;
	}
	return s;
}

struct eg_alert_sink *eg_alerts_open_mem(char *err, size_t errlen)
{
	struct eg_alert_sink *s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup("<memory>"))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->mem = true;
	s->fd = s->human_fd = -1;
	return s;
}

const char *eg_alerts_take(struct eg_alert_sink *s, size_t *len)
{
	if (!s->mem || eg_buf_reserve(&s->q, 1)) {
		*len = 0;
		return "";
	}
	s->q.p[s->q.len] = '\0';
	*len = s->q.len;
	s->q.len = 0;
	s->nq = 0;
	return s->q.p;
}

/* Writes all of b (best effort: human lines are informational). */
static void write_all(int fd, struct eg_buf *b)
{
	size_t off = 0;
	while (off < b->len) {
		ssize_t w = write(fd, b->p + off, b->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	b->len = 0;
}

/* Appends the human line; bytes below 0x20 and DEL shown as \xNN so a file
 * name cannot forge a line. */
static void human_str(struct eg_buf *b, const char *s, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && (unsigned char)s[j] >= 0x20 && s[j] != 0x7f)
			j++;
		eg_buf_put(b, s + i, j - i);
		if (j == n)
			break;
		char e[4] = {'\\', 'x', hexd[(unsigned char)s[j] >> 4], hexd[s[j] & 15]};
		eg_buf_put(b, e, 4);
		i = j + 1;
	}
}

static size_t count_lines(const char *p, size_t n)
{
	size_t c = 0;
	const char *e = p + n;
	while (p < e && (p = memchr(p, '\n', (size_t)(e - p)))) {
		c++;
		p++;
	}
	return c;
}

static size_t queued_bytes(const struct eg_alert_sink *s)
{
	return s->q.len - s->head;
}

static void log_failure(struct eg_alert_sink *s, int e)
{
	int64_t now = mono_ns();
	if (s->logged && now - s->last_log_ns < FAIL_LOG_NS)
		return;
	s->logged = true;
	s->last_log_ns = now;
	fprintf(stderr, "ebpf-guard: cannot write alerts to %s: %s; %zu alerts queued\n",
		s->is_stdout ? "<stdout>" : s->path, strerror(e), s->nq);
}

/* The file was deleted under us (or the descriptor is gone): create it again
 * by path. */
static void reopen_if_removed(struct eg_alert_sink *s)
{
	struct stat st;
	if (s->is_stdout)
		return;
	int r = fstat(s->fd, &st);
	if (r == 0 ? st.st_nlink != 0 : errno != EBADF)
		return;
	char err[PATH_MAX + 64];
	int fd = open_file(s->path, err, sizeof(err));
	if (fd < 0)
		return; /* keep the old one; the next flush tries again */
	if (r == 0)
		close(s->fd);
	s->fd = fd;
	s->regular = is_regular(fd);
	s->append = true;
	fprintf(stderr, "ebpf-guard: alert file %s was removed, created it again\n", s->path);
}

/*
 * One write of whole lines from the head of the queue. Returns the bytes
 * written (all whole lines), or -1 with errno set when nothing was written.
 * A short write to a regular file is cut back to its last whole line.
 */
static ssize_t write_lines(struct eg_alert_sink *s)
{
	size_t n = queued_bytes(s);
	const char *p = s->q.p + s->head;
	if (n > WRITE_CHUNK) {
		/* cut at the last newline within the chunk, or after the first line */
		const char *nl = memrchr(p, '\n', WRITE_CHUNK);
		if (!nl)
			nl = memchr(p + WRITE_CHUNK, '\n', n - WRITE_CHUNK);
		n = (size_t)(nl - p) + 1;
	}
	off_t before = -1;
	if (s->regular) {
		struct stat st;
		if (!s->append)
			before = lseek(s->fd, 0, SEEK_CUR);
		else if (fstat(s->fd, &st) == 0)
			before = st.st_size;
	}
	ssize_t w;
	do
		w = write(s->fd, p, n);
	while (w < 0 && errno == EINTR);
	if (w < 0 || (size_t)w == n)
		return w;
	if (w == 0 && !s->regular) {
		errno = EIO; /* no progress: fail rather than spin */
		return -1;
	}
	if (!s->regular) {
		/* a pipe or terminal: the rest of the line follows on the next call */
		return w;
	}
	/* short write (disk full): keep whole lines, cut the partial one away */
	const char *nl = w > 0 ? memrchr(p, '\n', (size_t)w) : NULL;
	size_t keep = nl ? (size_t)(nl - p) + 1 : 0;
	if (before >= 0 && (size_t)w != keep) {
		if (ftruncate(s->fd, before + (off_t)keep) != 0)
			fprintf(stderr, "ebpf-guard: cannot cut partial alert line from %s: %s\n",
				s->path, strerror(errno));
		else if (!s->append)
			lseek(s->fd, before + (off_t)keep, SEEK_SET);
	}
	if (!keep) {
		errno = ENOSPC; /* the usual reason for a short write to a file */
		return -1;
	}
	return (ssize_t)keep;
}

/* Writes the queue until it is empty or a write fails. */
static void write_queue(struct eg_alert_sink *s)
{
	if (!queued_bytes(s))
		return;
	reopen_if_removed(s);
	while (queued_bytes(s)) {
		ssize_t w = write_lines(s);
		if (w < 0) {
			int e = errno;
			EG_INC(alert_write_failures);
			s->failing = true;
			log_failure(s, e);
			break;
		}
		size_t lines = count_lines(s->q.p + s->head, (size_t)w);
		EG_ADD(alerts_written, lines);
		s->head += (size_t)w;
		s->nq -= lines;
		if (s->failing)
			s->written_in_failure += lines;
	}
	if (!queued_bytes(s)) {
		s->q.len = s->head = 0;
		if (s->failing) {
			fprintf(stderr, "ebpf-guard: alert file writable again, wrote %llu queued alerts\n",
				(unsigned long long)s->written_in_failure);
			s->failing = false;
			s->logged = false;
			s->written_in_failure = 0;
		}
	} else if (s->head >= s->q.len / 2) {
		memmove(s->q.p, s->q.p + s->head, queued_bytes(s));
		s->q.len -= s->head;
		s->head = 0;
	}
	EG_SET(alerts_queued, s->failing ? s->nq : 0);
}

int eg_alerts_add(struct eg_alert_sink *s, const struct eg_event *ev,
		  const struct eg_rule_info *rule, const char *desc, size_t desc_len,
		  bool events_lost, const struct eg_response_outcome *act)
{
	if (s->mem) {
		if (eg_json_alert(&s->q, ev, rule, desc, desc_len, events_lost, act)) {
			EG_INC(alerts_lost);
			return -1;
		}
		s->nq++;
		return 0;
	}
	/* the human line is printed even when the queue has to drop the alert */
	struct eg_buf *h = &s->human;
	eg_buf_put(h, "[ALERT] rule=", 13);
	eg_buf_puts(h, rule->id);
	eg_buf_put(h, " comm=", 6);
	human_str(h, ev->comm, ev->comm_len);
	eg_buf_put(h, " filename=", 10);
	human_str(h, ev->filename, ev->filename_len);
	char pid[24];
	int n = snprintf(pid, sizeof(pid), " pid=%u\n", ev->pid);
	eg_buf_put(h, pid, (size_t)n);
	if (h->len >= HUMAN_FLUSH_BYTES)
		write_all(s->human_fd, h);

	if (s->nq >= s->max_alerts || queued_bytes(s) >= EG_ALERT_QUEUE_MAX_BYTES) {
		if (!s->failing)
			write_queue(s);
		if (s->nq >= s->max_alerts || queued_bytes(s) >= EG_ALERT_QUEUE_MAX_BYTES) {
			EG_INC(alerts_lost);
			/* the file loses it; the other outputs still get it */
			s->scratch.len = 0;
			if (s->tap && !eg_json_alert(&s->scratch, ev, rule, desc, desc_len, events_lost, act))
				s->tap(s->tap_ctx, s->scratch.p, s->scratch.len, ev, rule, desc,
				       desc_len);
			return -1;
		}
	}
	size_t mark = s->q.len;
	if (eg_json_alert(&s->q, ev, rule, desc, desc_len, events_lost, act)) {
		s->q.len = mark;
		EG_INC(alerts_lost);
		return -1;
	}
	s->nq++;
	if (s->tap)
		s->tap(s->tap_ctx, s->q.p + mark, s->q.len - mark, ev, rule, desc, desc_len);
	if (s->failing)
		EG_SET(alerts_queued, s->nq);
	return 0;
}

void eg_alerts_set_tap(struct eg_alert_sink *s, eg_alert_tap fn, void *ctx)
{
	s->tap = fn;
	s->tap_ctx = ctx;
}

int eg_alerts_flush(struct eg_alert_sink *s)
{
	if (!s || s->mem)
		return 0;
	write_queue(s);
	if (s->human.len)
		write_all(s->human_fd, &s->human);
	return s->failing ? -1 : 0;
}

int eg_alerts_reopen(struct eg_alert_sink *s)
{
	if (!s || s->is_stdout || s->mem)
		return 0;
	int rc = 0;
	char err[PATH_MAX + 64];
	int fd = open_file(s->path, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "ebpf-guard: failed to reopen alert file %s: %s\n", s->path, err);
		rc = -1;
	} else {
		close(s->fd);
		s->fd = fd;
		s->regular = is_regular(fd);
		s->append = true;
	}
	eg_alerts_flush(s);
	return rc;
}

void eg_alerts_close(struct eg_alert_sink *s)
{
	if (!s)
		return;
	eg_alerts_flush(s);
	if (s->nq && !s->mem) {
		EG_ADD(alerts_lost, s->nq);
		EG_ADD(alerts_lost_exit, s->nq);
		EG_SET(alerts_queued, 0);
		fprintf(stderr, "ebpf-guard: %zu queued alerts could not be written to %s\n", s->nq,
			s->is_stdout ? "<stdout>" : s->path);
	}
	if (!s->is_stdout && !s->mem)
		close(s->fd);
	eg_buf_free(&s->q);
	eg_buf_free(&s->human);
	eg_buf_free(&s->scratch);
	free(s->path);
	free(s);
}
