/* SPDX-License-Identifier: MIT */
/*
 * Replay reader: JSONL events, one object per line, in the shape eg_json_event
 * writes. A small strict JSON parser (RFC 8259 grammar, whole line) that
 * decodes the known fields straight into the pipeline's arena and skips
 * everything else. Each event gets its own process context (struct eg_proc,
 * eg_container, eg_host) in the arena too. No allocation per line.
 */
#include "replay.h"
#include "evtypes.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "pipeline.h"

/* Longest line accepted (without its newline). */
#define MAX_LINE (EG_EVENT_MAX_BYTES - EG_REPLAY_SLACK)
#define READ_BUF (MAX_LINE + (1u << 20))
#define SERVICE_EVERY 256
#define MAX_DEPTH 256
/* Idle wait on a pipe before flushing alert retries and servicing. */
#define IDLE_POLL_MS 1000

/* The process context of one replayed event, in the arena. */
struct ctx {
	struct eg_proc proc;
	struct eg_container ctr;
	struct eg_host host;
};

_Static_assert(sizeof(struct ctx) + alignof(struct ctx) - 1 <= EG_REPLAY_SLACK,
	       "EG_REPLAY_SLACK does not hold an event's context");

static const char empty[1];

static const struct ctx ctx_init = {
	.proc = {
		.loginuid = -1,
		.exec_id = empty, .comm = empty, .exe = empty, .args = empty, .cwd = empty,
		.tty = empty, .parent_exec_id = empty, .parent_comm = empty, .parent_exe = empty,
		.parent_args = empty,
	},
	.ctr = {.cgroup = empty, .id = empty, .runtime = empty, .pod_uid = empty},
	.host = {.name = empty, .id = empty},
};

struct parser {
	const char *s, *end, *line;
	struct eg_pipeline *p;
	char *err;
	size_t errlen;
	struct ctx *cx;
	bool have_context; /* a "context" key was read */
	bool have_host;    /* a "hostname" or "host_id" key */
};

static int fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->err, ps->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int col(const struct parser *ps)
{
	return (int)(ps->s - ps->line) + 1;
}

/* "not JSON" with what was found where. */
static int syntax(struct parser *ps, const char *what)
{
	if (ps->s >= ps->end)
		return fail(ps, "not JSON: unexpected end of line, expected %s", what);
	unsigned char c = (unsigned char)*ps->s;
	if (c >= 0x20 && c < 0x7f)
		return fail(ps, "not JSON: unexpected '%c' at column %d, expected %s", c, col(ps), what);
	return fail(ps, "not JSON: unexpected byte 0x%02x at column %d, expected %s", c, col(ps),
		    what);
}

static inline void ws(struct parser *ps)
{
	while (ps->s < ps->end &&
	       (*ps->s == ' ' || *ps->s == '\t' || *ps->s == '\n' || *ps->s == '\r'))
		ps->s++;
}

static inline int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int hex4(struct parser *ps, const char *at, unsigned *out)
{
	if (ps->end - at < 4) {
		ps->s = ps->end;
		return syntax(ps, "four hex digits after \\u");
	}
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval((unsigned char)at[i]);
		if (h < 0) {
			ps->s = at + i;
			return syntax(ps, "four hex digits after \\u");
		}
		v = v << 4 | (unsigned)h;
	}
	*out = v;
	return 0;
}

/* High bit set in each byte of x (little-endian) that is < 0x20, '"' or '\\';
 * bytes >= 0x80 are fine. Bytes above the first flagged one may be flagged
 * wrongly. */
static inline uint64_t special_mask(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
	uint64_t lt20 = (x - ones * 0x20) & ~x;
	uint64_t zq = (q - ones) & ~q, zbs = (bs - ones) & ~bs;
	return (lt20 | zq | zbs) & highs;
}

/*
 * Scans the string whose opening quote is at ps->s. On return ps->s is past
 * the closing quote, *body and *blen the raw text between the quotes, *esc set
 * when it holds escapes. Validates escapes; raw control characters are an
 * error (RFC 8259), raw bytes >= 0x80 are accepted as they are.
 */
static int scan_str(struct parser *ps, const char **body, size_t *blen, bool *esc)
{
	const char *s = ++ps->s, *e = ps->end;
	*esc = false;
	for (;;) {
		while (e - s >= 8) {
			uint64_t x, m;
			memcpy(&x, s, 8);
			if ((m = special_mask(x))) {
				/* the lowest flagged byte is exact (borrows only go up) */
				s += __builtin_ctzll(m) >> 3;
				goto found;
			}
			s += 8;
		}
		while (s < e && (unsigned char)*s >= 0x20 && *s != '"' && *s != '\\')
			s++;
	found:
		if (s >= e) {
			ps->s = e;
			return syntax(ps, "'\"' to end the string");
		}
		if (*s == '"')
			break;
		if (*s != '\\') {
			ps->s = s;
			return syntax(ps, "no control character in a string");
		}
		*esc = true;
		if (s + 1 >= e) {
			ps->s = e;
			return syntax(ps, "an escape");
		}
		switch (s[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			s += 2;
			break;
		case 'u': {
			unsigned v;
			if (hex4(ps, s + 2, &v))
				return -1;
			s += 6;
			break;
		}
		default:
			ps->s = s + 1;
			return syntax(ps, "an escape");
		}
	}
	*body = ps->s;
	*blen = (size_t)(s - ps->s);
	ps->s = s + 1;
	return 0;
}

static char *put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | cp >> 18);
		*o++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/*
 * Decodes a scanned (valid) string body into o, which has room for blen
 * bytes (decoding never grows). \ud800-\udbff + \udc00-\udfff become one code
 * point; a lone \udc80-\udcff becomes the raw byte 0x80-0xff (the writer's
 * surrogateescape); other lone surrogates become U+FFFD like Go. Returns the
 * decoded length.
 */
static size_t unescape(const char *s, size_t blen, char *o)
{
	const char *e = s + blen;
	char *o0 = o;
	while (s < e) {
		const char *bs = memchr(s, '\\', (size_t)(e - s));
		size_t n = bs ? (size_t)(bs - s) : (size_t)(e - s);
		memcpy(o, s, n);
		o += n;
		s += n;
		if (!bs)
			break;
		char c = s[1];
		s += 2;
		switch (c) {
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			unsigned v = 0;
			for (int i = 0; i < 4; i++)
				v = v << 4 | (unsigned)hexval((unsigned char)s[i]);
			s += 4;
			if (v >= 0xd800 && v <= 0xdbff && e - s >= 6 && s[0] == '\\' && s[1] == 'u') {
				unsigned lo = 0;
				for (int i = 0; i < 4; i++)
					lo = lo << 4 | (unsigned)hexval((unsigned char)s[2 + i]);
				if (lo >= 0xdc00 && lo <= 0xdfff) {
					s += 6;
					o = put_utf8(o, 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00));
					break;
				}
			}
			if (v >= 0xdc80 && v <= 0xdcff)
				*o++ = (char)(v & 0xff);
			else if (v >= 0xd800 && v <= 0xdfff)
				o = put_utf8(o, 0xfffd);
			else
				o = put_utf8(o, v);
			break;
		}
		default: /* '"' '\\' '/' */
			*o++ = c;
		}
	}
	return (size_t)(o - o0);
}

/* Skips a number, validating the RFC 8259 grammar. *integer: no fraction or
 * exponent. */
static int scan_num(struct parser *ps, bool *integer)
{
	const char *s = ps->s, *e = ps->end;
	*integer = true;
	if (s < e && *s == '-')
		s++;
	if (s < e && *s == '0') {
		s++;
	} else if (s < e && *s >= '1' && *s <= '9') {
		while (s < e && *s >= '0' && *s <= '9')
			s++;
	} else {
		ps->s = s;
		return syntax(ps, "a digit");
	}
	if (s < e && *s == '.') {
		*integer = false;
		s++;
		if (s >= e || *s < '0' || *s > '9') {
			ps->s = s;
			return syntax(ps, "a digit");
		}
		while (s < e && *s >= '0' && *s <= '9')
			s++;
	}
	if (s < e && (*s == 'e' || *s == 'E')) {
		*integer = false;
		s++;
		if (s < e && (*s == '+' || *s == '-'))
			s++;
		if (s >= e || *s < '0' || *s > '9') {
			ps->s = s;
			return syntax(ps, "a digit");
		}
		while (s < e && *s >= '0' && *s <= '9')
			s++;
	}
	ps->s = s;
	return 0;
}

static int lit(struct parser *ps, const char *word, size_t n)
{
	if ((size_t)(ps->end - ps->s) < n || memcmp(ps->s, word, n))
		return fail(ps, "not JSON: invalid literal at column %d", col(ps));
	ps->s += n;
	return 0;
}

/* Skips any JSON value at ps->s (whitespace before it already skipped). */
static int skip_value(struct parser *ps, int depth)
{
	if (ps->s >= ps->end)
		return syntax(ps, "a JSON value");
	if (depth > MAX_DEPTH)
		return fail(ps, "not JSON: nested deeper than %d levels", MAX_DEPTH);
	const char *b;
	size_t n;
	bool f;
	switch (*ps->s) {
	case '"':
		return scan_str(ps, &b, &n, &f);
	case '{':
		ps->s++;
		ws(ps);
		if (ps->s < ps->end && *ps->s == '}') {
			ps->s++;
			return 0;
		}
		for (;;) {
			if (ps->s >= ps->end || *ps->s != '"')
				return syntax(ps, "a string key");
			if (scan_str(ps, &b, &n, &f))
				return -1;
			ws(ps);
			if (ps->s >= ps->end || *ps->s != ':')
				return syntax(ps, "':'");
			ps->s++;
			ws(ps);
			if (skip_value(ps, depth + 1))
				return -1;
			ws(ps);
			if (ps->s < ps->end && *ps->s == ',') {
				ps->s++;
				ws(ps);
				continue;
			}
			if (ps->s < ps->end && *ps->s == '}') {
				ps->s++;
				return 0;
			}
			return syntax(ps, "',' or '}'");
		}
	case '[':
		ps->s++;
		ws(ps);
		if (ps->s < ps->end && *ps->s == ']') {
			ps->s++;
			return 0;
		}
		for (;;) {
			if (skip_value(ps, depth + 1))
				return -1;
			ws(ps);
			if (ps->s < ps->end && *ps->s == ',') {
				ps->s++;
				ws(ps);
				continue;
			}
			if (ps->s < ps->end && *ps->s == ']') {
				ps->s++;
				return 0;
			}
			return syntax(ps, "',' or ']'");
		}
	case 't':
		return lit(ps, "true", 4);
	case 'f':
		return lit(ps, "false", 5);
	case 'n':
		return lit(ps, "null", 4);
	case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
	case '8': case '9':
		return scan_num(ps, &f);
	default:
		return syntax(ps, "a JSON value");
	}
}

/* What a value starting with c is, for "expected X, got Y" messages. */
static const char *kind(char c)
{
	switch (c) {
	case '"': return "a string";
	case '{': return "an object";
	case '[': return "an array";
	case 't': case 'f': return "a boolean";
	case 'n': return "null";
	default: return "a number";
	}
}

/* At most 40 bytes of the raw token at b, for messages. */
static int show(size_t n)
{
	return n > 40 ? 40 : (int)n;
}

enum field {
	F_UNKNOWN, F_TIMESTAMP, F_PID, F_TGID, F_PPID, F_UID, F_GID, F_TYPE, F_COMM, F_FILENAME,
	F_EXE, F_DEST_IP, F_DEST_PORT, F_CGROUP_ID, F_OPEN_FLAGS, F_ARGS, F_TRUNCATED, F_MEMFD,
	F_REQUESTED, F_RET, F_REQ_DIFFERS, F_IO_URING, F_COMPAT, F_INTERPRETED, F_PROTOCOL,
	F_DATAGRAM, F_SETUID, F_SETGID, F_LD_PRELOAD, F_LD_LIBRARY_PATH, F_EXEC_ID, F_CONTEXT,
	F_CWD, F_TTY, F_LOGINUID, F_PARENT, F_ANCESTORS, F_CONTAINER_ID, F_CONTAINER_RUNTIME,
	F_POD_UID, F_CGROUP, F_HOSTNAME, F_HOST_ID,
};

static enum field lookup(const char *k, size_t n)
{
#define K(name, f)                                                                             \
	if (n == sizeof(name) - 1 && !memcmp(k, name, n))                                       \
		return f;
	switch (n) {
	case 3:
		K("pid", F_PID) K("uid", F_UID) K("gid", F_GID) K("exe", F_EXE) K("ret", F_RET)
		K("cwd", F_CWD) K("tty", F_TTY) break;
	case 4:
		K("type", F_TYPE) K("comm", F_COMM) K("tgid", F_TGID) K("ppid", F_PPID)
		K("args", F_ARGS) break;
	case 5:
		K("memfd", F_MEMFD) break;
	case 6:
		K("compat", F_COMPAT) K("setuid", F_SETUID) K("setgid", F_SETGID)
		K("parent", F_PARENT) K("cgroup", F_CGROUP) break;
	case 7:
		K("dest_ip", F_DEST_IP) K("exec_id", F_EXEC_ID) K("context", F_CONTEXT)
		K("pod_uid", F_POD_UID) K("host_id", F_HOST_ID) break;
	case 8:
		K("filename", F_FILENAME) K("io_uring", F_IO_URING) K("protocol", F_PROTOCOL)
		K("datagram", F_DATAGRAM) K("loginuid", F_LOGINUID) K("hostname", F_HOSTNAME) break;
	case 9:
		K("requested", F_REQUESTED) K("timestamp", F_TIMESTAMP) K("dest_port", F_DEST_PORT) K("cgroup_id", F_CGROUP_ID)
		K("truncated", F_TRUNCATED) K("ancestors", F_ANCESTORS) break;
	case 10:
		K("open_flags", F_OPEN_FLAGS) K("ld_preload", F_LD_PRELOAD) break;
	case 11:
		K("interpreted", F_INTERPRETED) break;
	case 12:
		K("container_id", F_CONTAINER_ID) break;
	case 15:
		K("ld_library_path", F_LD_LIBRARY_PATH) break;
	case 17:
		K("requested_differs", F_REQ_DIFFERS) K("container_runtime", F_CONTAINER_RUNTIME) break;
	}
#undef K
	return F_UNKNOWN;
}

bool eg_replay_known_key(const char *k, size_t n)
{
	return lookup(k, n) != F_UNKNOWN || eg_field_by_key(k, n);
}

/* An unsigned integer field in 0..max. The value starts at ps->s. */
static int get_uint(struct parser *ps, const char *key, uint64_t max, uint64_t *out)
{
	const char *b = ps->s, *e = ps->end, *d = b;
	uint64_t v = 0;
	bool over = false;
	/* fast path: plain digits, no leading zero, no fraction or exponent */
	if (*d >= '0' && *d <= '9') {
		do {
			over |= __builtin_mul_overflow(v, 10, &v);
			over |= __builtin_add_overflow(v, (uint64_t)(*d - '0'), &v);
			d++;
		} while (d < e && *d >= '0' && *d <= '9');
		if (!(d < e && (*d == '.' || *d == 'e' || *d == 'E')) && !(*b == '0' && d - b > 1)) {
			ps->s = d;
			if (over || v > max)
				return fail(ps, "field \"%s\": %.*s out of range 0..%llu", key,
					    show((size_t)(d - b)), b, (unsigned long long)max);
			*out = v;
			return 0;
		}
	} else if (*b != '-') {
		return fail(ps, "field \"%s\": expected an integer, got %s", key, kind(*b));
	}
	bool integer;
	if (scan_num(ps, &integer))
		return -1;
	size_t n = (size_t)(ps->s - b);
	if (!integer)
		return fail(ps, "field \"%s\": %.*s is not an integer", key, show(n), b);
	if (*b == '-')
		return fail(ps, "field \"%s\": %.*s out of range 0..%llu", key, show(n), b,
			    (unsigned long long)max);
	/* "0" followed by more digits: scan_num stopped after the 0 */
	*out = 0;
	return 0;
}

/* A signed 32-bit integer field. The value starts at ps->s. */
static int get_int32(struct parser *ps, const char *key, int32_t *out)
{
	const char *b = ps->s;
	bool integer;
	if (*b != '-' && (*b < '0' || *b > '9'))
		return fail(ps, "field \"%s\": expected an integer, got %s", key, kind(*b));
	if (scan_num(ps, &integer))
		return -1;
	size_t n = (size_t)(ps->s - b);
	if (!integer)
		return fail(ps, "field \"%s\": %.*s is not an integer", key, show(n), b);
	bool neg = *b == '-';
	uint64_t v = 0;
	for (const char *d = b + neg; d < ps->s && v <= 2147483648u; d++)
		v = v * 10 + (uint64_t)(*d - '0');
	if (v > (neg ? 2147483648u : 2147483647u))
		return fail(ps, "field \"%s\": %.*s out of range -2147483648..2147483647", key, show(n), b);
	*out = neg ? (int32_t)(0 - (int64_t)v) : (int32_t)v;
	return 0;
}

static int days_in_month(int64_t y, unsigned m)
{
	static const unsigned char dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, int n, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

/* RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)" to ns since the
 * epoch. Fraction digits past nanoseconds are dropped. 0 or -1. */
static int parse_rfc3339(const char *s, size_t n, int64_t *out)
{
	unsigned y, mo, d, h, mi, se;
	if (n < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
	    s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || (int)d > days_in_month(y, mo) || h > 23 || mi > 59 ||
	    se > 59)
		return -1;
	size_t i = 19;
	int64_t frac = 0;
	if (s[i] == '.') {
		int nd = 0;
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (nd < 9) {
				frac = frac * 10 + (s[i] - '0');
				nd++;
			}
			i++;
		}
		if (!nd)
			return -1;
		while (nd++ < 9)
			frac *= 10;
	}
	int64_t off = 0;
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		unsigned oh, om;
		if (n - i < 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
		    !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		off = (int64_t)(oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
		i += 6;
	} else {
		return -1;
	}
	if (i != n)
		return -1;
	int64_t sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
	/* int64 ns covers 1677-09-21T00:12:43.145224192Z .. 2262-04-11T23:47:16.854775807Z,
	 * every time the writer can write; a negative second borrows the fraction
	 * so that the product stays in range at the low end */
	if (sec < 0 && frac) {
		sec++;
		frac -= 1000000000;
	}
	int64_t ns;
	if (__builtin_mul_overflow(sec, 1000000000, &ns) || __builtin_add_overflow(ns, frac, &ns))
		return -1;
	*out = ns;
	return 0;
}

/* A string field: decoded into the arena; *len set. */
static int get_str(struct parser *ps, const char *key, const char **out, uint32_t *len)
{
	if (*ps->s != '"')
		return fail(ps, "field \"%s\": expected a string, got %s", key, kind(*ps->s));
	const char *b;
	size_t n;
	bool esc;
	if (scan_str(ps, &b, &n, &esc))
		return -1;
	if (!esc) {
		*out = eg_pipe_str(ps->p, b, n);
		*len = (uint32_t)n;
		return 0;
	}
	char *d = eg_pipe_alloc(ps->p, n + 1);
	n = unescape(b, n, d);
	d[n] = 0;
	*out = d;
	*len = (uint32_t)n;
	return 0;
}

static int get_bool(struct parser *ps, const char *key, uint32_t *flags, uint32_t bit);

/* A field of the registry (src/evtypes.c), into its slot whatever the type. */
static int get_registry(struct parser *ps, const struct eg_field *f, struct eg_event *ev)
{
	const char *s;
	uint32_t n;
	int32_t v32;
	switch (f->kind) {
	case EG_FK_FLAGS: {
		const char *bad;
		size_t badn;
		uint64_t v;
		if (get_str(ps, f->key, &s, &n))
			return -1;
		if (eg_flags_parse(f, s, n, &v, &bad, &badn))
			return fail(ps, "field \"%s\": unknown flag \"%.*s\"", f->key, show(badn), bad);
		ev->num[f->slot] = (int64_t)v;
		return 0;
	}
	case EG_FK_ENUM:
		if (get_str(ps, f->key, &s, &n))
			return -1;
		if (eg_enum_parse(f, s, n, &ev->num[f->slot]))
			return fail(ps, "field \"%s\": unknown value \"%.*s\"", f->key, show(n), s);
		return 0;
	case EG_FK_BOOL: {
		uint32_t bits = 0;
		if (get_bool(ps, f->key, &bits, 1))
			return -1;
		ev->num[f->slot] = bits;
		return 0;
	}
	case EG_FK_NUM:
		if (get_int32(ps, f->key, &v32))
			return -1;
		ev->num[f->slot] = v32;
		return 0;
	default:
		return get_str(ps, f->key, &ev->aux[f->slot], &ev->aux_len[f->slot]);
	}
}

/* "protocol": a name of eg_proto_name, "" or the number in decimal. */
static int get_proto(struct parser *ps, struct eg_event *ev)
{
	const char *s;
	uint32_t n;
	if (get_str(ps, "protocol", &s, &n))
		return -1;
	for (uint32_t p = 0; p < 256; p++) {
		const char *name = eg_proto_name(p);
		if (name && strlen(name) == n && !memcmp(name, s, n)) {
			ev->proto = p;
			return 0;
		}
	}
	uint32_t v = 0, i = 0;
	for (; i < n && i < 4 && s[i] >= '0' && s[i] <= '9'; i++)
		v = v * 10 + (uint32_t)(s[i] - '0');
	if (!n || i != n || v > 255)
		return fail(ps, "field \"protocol\": \"%.*s\" is not an IP protocol (tcp, udp, udplite, "
			    "sctp, icmp, icmpv6, or a number 0..255)", show(n), s);
	ev->proto = v;
	return 0;
}

/* An argument list ("args", "parent.args"): an array of strings, stored back
 * to back NUL-terminated. The raw array is scanned first so its room (never
 * less than the decoded size) can be taken from the arena in one piece. */
static int get_args(struct parser *ps, const char *key, const char **args, uint32_t *args_len,
		    uint32_t *argc_out)
{
	if (*ps->s != '[')
		return fail(ps, "field \"%s\": expected an array of strings, got %s", key,
			    kind(*ps->s));
	const char *start = ps->s;
	if (skip_value(ps, 1))
		return -1;
	const char *stop = ps->s;
	char *d = eg_pipe_alloc(ps->p, (size_t)(stop - start));
	char *o = d;
	uint32_t argc = 0;
	ps->s = start + 1;
	ws(ps);
	while (*ps->s != ']') {
		if (*ps->s != '"')
			return fail(ps, "field \"%s\": expected an array of strings, got %s in it", key,
				    kind(*ps->s));
		const char *b;
		size_t n;
		bool esc;
		scan_str(ps, &b, &n, &esc); /* already validated */
		if (esc) {
			o += unescape(b, n, o);
		} else {
			memcpy(o, b, n);
			o += n;
		}
		*o++ = 0;
		argc++;
		ws(ps);
		if (*ps->s == ',') {
			ps->s++;
			ws(ps);
		}
	}
	ps->s = stop;
	*args = d;
	*args_len = (uint32_t)(o - d);
	*argc_out = argc;
	return 0;
}

static int get_bool(struct parser *ps, const char *key, uint32_t *flags, uint32_t bit)
{
	if (*ps->s == 't' || *ps->s == 'f') {
		bool t = *ps->s == 't';
		if (lit(ps, t ? "true" : "false", t ? 4 : 5))
			return -1;
		*flags = t ? *flags | bit : *flags & ~bit;
		return 0;
	}
	return fail(ps, "field \"%s\": expected true or false, got %s", key, kind(*ps->s));
}

/*
 * A string field that names one of names[0..n) (each shorter than 16 bytes),
 * not stored. Returns its index, -1 on a JSON or type error (reported), or -2
 * when it is none of them, with *raw and *rawlen the string as written, for the
 * caller's message.
 */
static int get_word(struct parser *ps, const char *key, const char *const *names, int n,
		    const char **raw, size_t *rawlen)
{
	if (*ps->s != '"')
		return fail(ps, "field \"%s\": expected a string, got %s", key, kind(*ps->s));
	const char *b;
	size_t len;
	bool esc;
	if (scan_str(ps, &b, &len, &esc))
		return -1;
	char t[16];
	if (esc && len < sizeof(t))
		len = unescape(b, len, t);
	else if (len < sizeof(t))
		memcpy(t, b, len);
	else
		len = sizeof(t); /* too long for any name */
	for (int i = 0; i < n; i++)
		if (names[i] && len == strlen(names[i]) && !memcmp(t, names[i], len))
			return i;
	*raw = b;
	*rawlen = (size_t)(ps->s - 1 - b);
	return -2;
}

static int get_type(struct parser *ps, struct eg_event *ev)
{
	static const char *const names[] = {NULL, "exec", "open", "connect", "exit", "memfd", "ptrace",
					     "module", "bpf", "setid", "namespace", "mount", "link", "rename", "unlink", "chmod", "dup", "listen", "accept"};
	_Static_assert(sizeof(names) / sizeof(names[0]) == EG_EV_MAX + 1, "a name per event type");
	const char *b;
	size_t n;
	int i = get_word(ps, "type", names, EG_EV_MAX + 1, &b, &n);
	if (i >= 0) {
		ev->type = (uint32_t)i;
		return 0;
	}
	if (i == -1)
		return -1;
	return fail(ps, "unknown event type \"%.*s\"%s", show(n), b, n > 40 ? "..." : "");
}

#define PROCF_CONTEXT (EG_PROCF_UNKNOWN | EG_PROCF_SEEDED | EG_PROCF_FORKED)

/* "context": exec, fork, procfs or unknown (json.c's context_name). */
static int get_context(struct parser *ps)
{
	static const char *const names[] = {"exec", "fork", "procfs", "unknown"};
	static const uint32_t bits[] = {0, EG_PROCF_FORKED, EG_PROCF_SEEDED, EG_PROCF_UNKNOWN};
	const char *b;
	size_t n;
	int i = get_word(ps, "context", names, 4, &b, &n);
	if (i >= 0) {
		struct eg_proc *pr = &ps->cx->proc;
		pr->flags = (pr->flags & ~(uint32_t)PROCF_CONTEXT) | bits[i];
		ps->have_context = true;
		return 0;
	}
	if (i == -1)
		return -1;
	return fail(ps, "field \"context\": \"%.*s\"%s is not exec, fork, procfs or unknown",
		    show(n), b, n > 40 ? "..." : "");
}

/* Longest key text decoded when it has escapes: any known key written with
 * \u escapes only fits. */
#define KEY_BUF 128

/*
 * The key of an object member, at ps->s (a '"'), then the ':' and the
 * whitespace after it. *k, *kn: the decoded key, or NULL when it has escapes
 * and is too long to be a known one; *raw, *rawn: the key as written.
 */
static int read_key(struct parser *ps, char kbuf[KEY_BUF], const char **k, size_t *kn,
		    const char **raw, size_t *rawn)
{
	bool esc;
	if (ps->s >= ps->end || *ps->s != '"')
		return syntax(ps, "a string key");
	if (scan_str(ps, raw, rawn, &esc))
		return -1;
	*k = *raw;
	*kn = *rawn;
	if (esc) {
		if (*rawn < KEY_BUF) {
			*kn = unescape(*raw, *rawn, kbuf);
			*k = kbuf;
		} else {
			*k = NULL;
		}
	}
	ws(ps);
	if (ps->s >= ps->end || *ps->s != ':')
		return syntax(ps, "':'");
	ps->s++;
	ws(ps);
	if (ps->s >= ps->end)
		return syntax(ps, "a JSON value");
	return 0;
}

#define KEY_IS(k, kn, name) ((k) && (kn) == sizeof(name) - 1 && !memcmp((k), (name), (kn)))

/* After a member: ',' (then the next key) or the closing bracket. 1 when the
 * object or array ends, 0 when another member follows, -1 on error. */
static int next_member(struct parser *ps, char close)
{
	ws(ps);
	if (ps->s < ps->end && *ps->s == ',') {
		ps->s++;
		ws(ps);
		return 0;
	}
	if (ps->s < ps->end && *ps->s == close) {
		ps->s++;
		return 1;
	}
	return syntax(ps, close == '}' ? "',' or '}'" : "',' or ']'");
}

/*
 * Walks the members of the object at ps->s ('{' checked by the caller),
 * calling member(ps, ctx, k, kn, raw, rawn) for each with ps->s at its
 * value; member parses the value (or fails). 0 or -1.
 */
typedef int (*member_fn)(struct parser *ps, void *ctx, const char *k, size_t kn, const char *raw,
			 size_t rawn);

static int each_member(struct parser *ps, member_fn member, void *ctx)
{
	ps->s++;
	ws(ps);
	if (ps->s < ps->end && *ps->s == '}') {
		ps->s++;
		return 0;
	}
	for (;;) {
		char kbuf[KEY_BUF];
		const char *k, *raw;
		size_t kn, rawn;
		if (read_key(ps, kbuf, &k, &kn, &raw, &rawn) || member(ps, ctx, k, kn, raw, rawn))
			return -1;
		int rc = next_member(ps, '}');
		if (rc)
			return rc < 0 ? -1 : 0;
	}
}

static int parent_member(struct parser *ps, void *ctx, const char *k, size_t kn, const char *raw,
			 size_t rawn)
{
	struct eg_proc *pr = ctx;
	if (!KEY_IS(k, kn, "tgid") && !KEY_IS(k, kn, "exec_id") && !KEY_IS(k, kn, "comm") &&
	    !KEY_IS(k, kn, "exe") && !KEY_IS(k, kn, "args"))
		return fail(ps, "field \"parent\": unknown key \"%.*s\"%s", show(rawn), raw,
			    rawn > 40 ? "..." : "");
	if (*ps->s == 'n')
		return lit(ps, "null", 4);
	if (KEY_IS(k, kn, "tgid")) {
		uint64_t v = 0;
		int rc = get_uint(ps, "parent.tgid", UINT32_MAX, &v);
		pr->parent_tgid = (uint32_t)v;
		return rc;
	}
	if (KEY_IS(k, kn, "exec_id"))
		return get_str(ps, "parent.exec_id", &pr->parent_exec_id, &pr->parent_exec_id_len);
	if (KEY_IS(k, kn, "comm"))
		return get_str(ps, "parent.comm", &pr->parent_comm, &pr->parent_comm_len);
	if (KEY_IS(k, kn, "exe"))
		return get_str(ps, "parent.exe", &pr->parent_exe, &pr->parent_exe_len);
	return get_args(ps, "parent.args", &pr->parent_args, &pr->parent_args_len, &pr->parent_argc);
}

/* "parent": an object with tgid, exec_id, comm, exe, args, each optional;
 * another key is an error. A repeated "parent" replaces the previous one. */
static int get_parent(struct parser *ps)
{
	if (*ps->s != '{')
		return fail(ps, "field \"parent\": expected an object, got %s", kind(*ps->s));
	struct eg_proc *pr = &ps->cx->proc;
	const struct eg_proc *z = &ctx_init.proc;
	pr->parent_tgid = z->parent_tgid;
	pr->parent_exec_id = z->parent_exec_id;
	pr->parent_exec_id_len = 0;
	pr->parent_comm = z->parent_comm;
	pr->parent_comm_len = 0;
	pr->parent_exe = z->parent_exe;
	pr->parent_exe_len = 0;
	pr->parent_args = z->parent_args;
	pr->parent_args_len = 0;
	pr->parent_argc = 0;
	return each_member(ps, parent_member, pr);
}

struct ancestor_ctx {
	uint32_t i;
	struct eg_ancestor *a;
};

static int ancestor_member(struct parser *ps, void *ctx, const char *k, size_t kn,
			   const char *raw, size_t rawn)
{
	struct ancestor_ctx *c = ctx;
	bool comm = KEY_IS(k, kn, "comm");
	if (!comm && !KEY_IS(k, kn, "exe"))
		return fail(ps, "field \"ancestors[%u]\": unknown key \"%.*s\"%s", c->i, show(rawn), raw,
			    rawn > 40 ? "..." : "");
	if (*ps->s == 'n')
		return lit(ps, "null", 4);
	if (*ps->s != '"') /* (the name is made only for the message) */
		return fail(ps, "field \"ancestors[%u].%s\": expected a string, got %s", c->i,
			    comm ? "comm" : "exe", kind(*ps->s));
	if (comm)
		return get_str(ps, "comm", &c->a->comm, &c->a->comm_len);
	return get_str(ps, "exe", &c->a->exe, &c->a->exe_len);
}

/* One entry of "ancestors": an object with comm and exe, each optional. */
static int get_ancestor(struct parser *ps, uint32_t i, struct eg_ancestor *a)
{
	a->comm = a->exe = empty;
	a->comm_len = a->exe_len = 0;
	struct ancestor_ctx c = {i, a};
	return each_member(ps, ancestor_member, &c);
}

/* "ancestors": an array of at most EG_ANCESTORS_MAX objects, nearest first.
 * A repeated "ancestors" replaces the previous one. */
static int get_ancestors(struct parser *ps)
{
	static const char what[] = "field \"ancestors\": expected an array of objects";
	if (*ps->s != '[')
		return fail(ps, "%s, got %s", what, kind(*ps->s));
	struct eg_proc *pr = &ps->cx->proc;
	uint32_t n = 0;
	ps->s++;
	ws(ps);
	if (ps->s < ps->end && *ps->s == ']') {
		ps->s++;
		pr->nancestors = 0;
		return 0;
	}
	for (;;) {
		if (ps->s >= ps->end)
			return syntax(ps, "a JSON value");
		if (*ps->s != '{') {
			/* a bad token is a syntax error before it is a wrong type */
			const char *at = ps->s;
			if (skip_value(ps, 1))
				return -1;
			ps->s = at;
			return fail(ps, "%s, got %s in it", what, kind(*ps->s));
		}
		if (n == EG_ANCESTORS_MAX)
			return fail(ps, "field \"ancestors\": more than %d entries", EG_ANCESTORS_MAX);
		if (get_ancestor(ps, n, &pr->ancestors[n]))
			return -1;
		n++;
		int rc = next_member(ps, ']');
		if (rc < 0)
			return -1;
		if (rc)
			break;
	}
	pr->nancestors = n;
	return 0;
}

static int get_time(struct parser *ps, struct eg_event *ev)
{
	const char *b = ps->s;
	if (*b == '"') {
		const char *body;
		size_t n;
		bool esc;
		if (scan_str(ps, &body, &n, &esc))
			return -1;
		if (esc || parse_rfc3339(body, n, &ev->ts_ns))
			return fail(ps, "field \"timestamp\": invalid RFC 3339 time \"%.*s\"%s", show(n),
				    body, n > 40 ? "..." : "");
		return 0;
	}
	if (*b != '-' && (*b < '0' || *b > '9'))
		return fail(ps,
			    "field \"timestamp\": expected an RFC 3339 time or nanoseconds, got %s",
			    kind(*b));
	bool integer;
	if (scan_num(ps, &integer))
		return -1;
	size_t n = (size_t)(ps->s - b);
	if (!integer)
		return fail(ps, "field \"timestamp\": %.*s is not an integer", show(n), b);
	const char *d = b + (*b == '-');
	uint64_t v = 0, lim = *b == '-' ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; d < ps->s; d++) {
		unsigned dig = (unsigned)(*d - '0');
		if (v > (lim - dig) / 10)
			return fail(ps, "field \"timestamp\": %.*s out of range", show(n), b);
		v = v * 10 + dig;
	}
	ev->ts_ns = *b == '-' ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* One known or unknown member value at ps->s. */
static int member(struct parser *ps, enum field f, struct eg_event *ev)
{
	uint64_t v;
	uint32_t *u32 = NULL;
	const char *name = NULL;
	struct eg_proc *pr = &ps->cx->proc;
	struct eg_container *c = &ps->cx->ctr;
	struct eg_host *h = &ps->cx->host;
	if (*ps->s == 'n' && f != F_UNKNOWN) /* null: leave the field as it is (like Go) */
		return lit(ps, "null", 4);
	switch (f) {
	case F_UNKNOWN:
		return skip_value(ps, 1);
	case F_TIMESTAMP:
		return get_time(ps, ev);
	case F_TYPE:
		return get_type(ps, ev);
	case F_COMM:
		return get_str(ps, "comm", &ev->comm, &ev->comm_len);
	case F_FILENAME:
		return get_str(ps, "filename", &ev->filename, &ev->filename_len);
	case F_EXE:
		return get_str(ps, "exe", &ev->exe, &ev->exe_len);
	case F_DEST_IP:
		return get_str(ps, "dest_ip", &ev->dest_ip, &ev->dest_ip_len);
	case F_ARGS:
		return get_args(ps, "args", &ev->args, &ev->args_len, &ev->argc);
	case F_TRUNCATED:
		return get_bool(ps, "truncated", &ev->flags, EG_EVF_TRUNCATED);
	case F_MEMFD:
		return get_bool(ps, "memfd", &ev->flags, EG_EVF_MEMFD);
	case F_REQ_DIFFERS:
		return get_bool(ps, "requested_differs", &ev->flags, EG_EVF_REQ_DIFFERS);
	case F_IO_URING:
		return get_bool(ps, "io_uring", &ev->flags, EG_EVF_IO_URING);
	case F_COMPAT:
		return get_bool(ps, "compat", &ev->flags, EG_EVF_COMPAT);
	case F_INTERPRETED:
		return get_bool(ps, "interpreted", &ev->flags, EG_EVF_INTERPRETED);
	case F_DATAGRAM:
		return get_bool(ps, "datagram", &ev->flags, EG_EVF_DATAGRAM);
	case F_PROTOCOL:
		return get_proto(ps, ev);
	case F_REQUESTED:
		return get_str(ps, "requested", &ev->requested, &ev->requested_len);
	case F_RET:
		return get_int32(ps, "ret", &ev->ret);
	case F_CGROUP_ID:
		if (get_uint(ps, "cgroup_id", UINT64_MAX, &v))
			return -1;
		ev->cgroup_id = v;
		return 0;
	case F_DEST_PORT:
		if (get_uint(ps, "dest_port", 65535, &v))
			return -1;
		ev->dest_port = (uint32_t)v;
		return 0;
	case F_SETUID:
		return get_bool(ps, "setuid", &pr->flags, EG_PROCF_SETUID);
	case F_SETGID:
		return get_bool(ps, "setgid", &pr->flags, EG_PROCF_SETGID);
	case F_LD_PRELOAD:
		return get_bool(ps, "ld_preload", &pr->flags, EG_PROCF_LD_PRELOAD);
	case F_LD_LIBRARY_PATH:
		return get_bool(ps, "ld_library_path", &pr->flags, EG_PROCF_LD_LIBRARY_PATH);
	case F_EXEC_ID:
		return get_str(ps, "exec_id", &pr->exec_id, &pr->exec_id_len);
	case F_CONTEXT:
		return get_context(ps);
	case F_CWD:
		return get_str(ps, "cwd", &pr->cwd, &pr->cwd_len);
	case F_TTY:
		return get_str(ps, "tty", &pr->tty, &pr->tty_len);
	case F_LOGINUID:
		return get_int32(ps, "loginuid", &pr->loginuid);
	case F_PARENT:
		return get_parent(ps);
	case F_ANCESTORS:
		return get_ancestors(ps);
	case F_CONTAINER_ID:
		return get_str(ps, "container_id", &c->id, &c->id_len);
	case F_CONTAINER_RUNTIME:
		return get_str(ps, "container_runtime", &c->runtime, &c->runtime_len);
	case F_POD_UID:
		return get_str(ps, "pod_uid", &c->pod_uid, &c->pod_uid_len);
	case F_CGROUP:
		return get_str(ps, "cgroup", &c->cgroup, &c->cgroup_len);
	case F_HOSTNAME:
		ps->have_host = true;
		return get_str(ps, "hostname", &h->name, &h->name_len);
	case F_HOST_ID:
		ps->have_host = true;
		return get_str(ps, "host_id", &h->id, &h->id_len);
	case F_PID: u32 = &ev->pid; name = "pid"; break;
	case F_TGID: u32 = &ev->tgid; name = "tgid"; break;
	case F_PPID: u32 = &ev->ppid; name = "ppid"; break;
	case F_UID: u32 = &ev->uid; name = "uid"; break;
	case F_GID: u32 = &ev->gid; name = "gid"; break;
	case F_OPEN_FLAGS: u32 = &ev->open_flags; name = "open_flags"; break;
	}
	if (get_uint(ps, name, UINT32_MAX, &v))
		return -1;
	*u32 = (uint32_t)v;
	return 0;
}

/* The event's process context, once its line is read: what the line gave,
 * completed from the event's own fields. */
static void finish_context(struct parser *ps, struct eg_event *ev)
{
	struct eg_proc *pr = &ps->cx->proc;
	if (!ps->have_context && !pr->exec_id_len)
		pr->flags |= EG_PROCF_UNKNOWN; /* a recording made before the context */
	pr->tgid = ev->tgid;
	pr->ppid = ev->ppid;
	pr->uid = ev->uid;
	pr->gid = ev->gid;
	pr->comm = ev->comm;
	pr->comm_len = ev->comm_len;
	pr->exe = ev->exe;
	pr->exe_len = ev->exe_len;
	pr->args = ev->args;
	pr->args_len = ev->args_len;
	pr->argc = ev->argc;
	ps->cx->ctr.cgroup_id = ev->cgroup_id;
	ev->proc = pr;
	ev->ctr = &ps->cx->ctr;
	if (ps->have_host)
		ev->host = &ps->cx->host;
}

int eg_replay_parse(struct eg_pipeline *p, const char *line, size_t len, struct eg_event *ev,
		    char *err, size_t errlen)
{
	struct parser ps = {.s = line, .end = line + len, .line = line, .p = p, .err = err,
			    .errlen = errlen};
	bool have_type = false;
	ws(&ps);
	if (ps.s >= ps.end)
		return fail(&ps, "not JSON: empty line");
	if (*ps.s != '{') {
		if (skip_value(&ps, 0))
			return -1;
		ws(&ps);
		if (ps.s < ps.end)
			return fail(&ps, "not JSON: unexpected data after the value at column %d",
				    col(&ps));
		return fail(&ps, "not a JSON object");
	}
	/* the context first, so that members can fill it in any order */
	uintptr_t at = (uintptr_t)eg_pipe_alloc(p, sizeof(struct ctx) + alignof(struct ctx) - 1);
	ps.cx = (struct ctx *)((at + alignof(struct ctx) - 1) & ~(uintptr_t)(alignof(struct ctx) - 1));
	*ps.cx = ctx_init;
	ps.s++;
	ws(&ps);
	if (ps.s < ps.end && *ps.s == '}') {
		ps.s++;
	} else {
		for (;;) {
			char kbuf[KEY_BUF];
			const char *k, *raw;
			size_t kn, rawn;
			if (read_key(&ps, kbuf, &k, &kn, &raw, &rawn))
				return -1;
			enum field f = k ? lookup(k, kn) : F_UNKNOWN;
			if (f == F_TYPE && *ps.s != 'n')
				have_type = true;
			const struct eg_field *rf = f == F_UNKNOWN && k ? eg_field_by_key(k, kn) : NULL;
			if (rf && *ps.s != 'n' ? get_registry(&ps, rf, ev) : member(&ps, f, ev))
				return -1;
			int rc = next_member(&ps, '}');
			if (rc < 0)
				return -1;
			if (rc)
				break;
		}
	}
	ws(&ps);
	if (ps.s < ps.end)
		return fail(&ps, "not JSON: unexpected data after the object at column %d", col(&ps));
	if (!have_type)
		return fail(&ps, "missing field \"type\"");
	finish_context(&ps, ev);
	return 0;
}

struct reader {
	struct eg_pipeline *p;
	const char *path;
	const char *shown;
	unsigned long long lineno;
	unsigned long lines_since_service;
	unsigned long long rejected, events;
};

static void reject(struct reader *r, const char *reason)
{
	EG_INC(replay_rejected);
	r->rejected++;
	fprintf(stderr, "ebpf-guard: %s:%llu: %s\n", r->shown, r->lineno, reason);
}

int eg_replay_line(struct eg_pipeline *p, const char *s, size_t n, char *err, size_t errlen)
{
	if (n && s[n - 1] == '\r')
		n--;
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
		i++;
	if (i == n)
		return 1;
	if (n > MAX_LINE) {
		snprintf(err, errlen, "line longer than %u bytes", (unsigned)MAX_LINE);
		return -1;
	}
	struct eg_event *ev = eg_pipe_begin(p, EG_REPLAY_ROOM(n));
	if (eg_replay_parse(p, s, n, ev, err, errlen)) {
		eg_pipe_abort(p);
		return -1;
	}
	eg_pipe_commit(p);
	return 0;
}

/* One line without its newline. */
static void one_line(struct reader *r, const char *s, size_t n)
{
	char err[256];
	int rc = eg_replay_line(r->p, s, n, err, sizeof(err));
	if (rc < 0)
		reject(r, err);
	if (rc)
		return;
	r->events++;
	if (++r->lines_since_service >= SERVICE_EVERY) {
		r->lines_since_service = 0;
		eg_pipe_service(r->p);
	}
}

/* Waits until fd has data (or EOF), flushing and servicing while the input
 * pauses so alerts reach the file and retries happen on an idle pipe.
 * Returns 0, or 1 when asked to stop. */
static int wait_input(struct reader *r, int fd, volatile sig_atomic_t *stop)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int rc = poll(&pfd, 1, 0);
	if (rc != 0)
		return 0; /* ready, or poll unusable: let read() tell */
	eg_pipe_flush(r->p);
	eg_pipe_service(r->p);
	r->lines_since_service = 0;
	for (;;) {
		if (*stop)
			return 1;
		rc = poll(&pfd, 1, IDLE_POLL_MS);
		if (rc != 0 && !(rc < 0 && errno == EINTR))
			return 0;
		eg_pipe_flush(r->p);
		eg_pipe_service(r->p);
	}
}

/* After the input: one line on stderr for each sign that the replay did
 * nothing useful (every line rejected; a rule whose user code failed every
 * time it ran). Returns true when there was one. */
static bool report_useless(const struct reader *r)
{
	bool useless = false;
	if (r->rejected && !r->events) {
		fprintf(stderr, "ebpf-guard: %s: every line was rejected (%llu of %llu), no event was replayed\n",
			r->shown, r->rejected, r->rejected);
		useless = true;
	}
	struct eg_engine *e = eg_pipe_engine(r->p);
	for (size_t i = 0; i < eg_engine_nrules(e); i++) {
		uint64_t calls = eg_engine_rule_calls(e, i);
		uint64_t errs = eg_engine_rule_errors(e, i, EG_RERR_RUNTIME) +
				eg_engine_rule_errors(e, i, EG_RERR_BUDGET);
		if (!calls || errs < calls)
			continue;
		const struct eg_rule_info *ri = eg_engine_rule(e, i);
		char last[512];
		eg_engine_rule_last_error(e, i, last, sizeof(last));
		fprintf(stderr, "ebpf-guard: %s \"%s\" (%s): every evaluation failed (%llu of %llu; last: %s)\n",
			strcmp(ri->kind, "lua") ? "rule" : "detection", ri->id, ri->source,
			(unsigned long long)errs, (unsigned long long)calls, last);
		useless = true;
	}
	return useless;
}

int eg_replay_run(struct eg_pipeline *p, const char *path, volatile sig_atomic_t *stop)
{
	bool is_stdin = !strcmp(path, "-");
	int fd = is_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "ebpf-guard: failed to open replay file %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	char *buf = malloc(READ_BUF);
	if (!buf) {
		fprintf(stderr, "ebpf-guard: failed to read replay file %s: out of memory\n", path);
		if (!is_stdin)
			close(fd);
		return -1;
	}
	struct reader r = {.p = p, .path = path, .shown = is_stdin ? "<stdin>" : path};
	size_t have = 0;   /* bytes in buf[0..have) not consumed yet */
	bool skipping = false; /* inside an over-long line, dropping it */
	int rc = 0;
	for (;;) {
		if (*stop)
			break;
		if (wait_input(&r, fd, stop))
			break;
		ssize_t got = read(fd, buf + have, READ_BUF - have);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "ebpf-guard: failed to read replay file %s: %s\n", path,
				strerror(errno));
			rc = -1;
			break;
		}
		if (got == 0) {
			if (have && !skipping) {
				r.lineno++;
				one_line(&r, buf, have);
			}
			break;
		}
		size_t end = have + (size_t)got, pos = 0;
		/* search for newlines only in the new bytes */
		size_t from = have;
		for (;;) {
			char *nl = memchr(buf + from, '\n', end - from);
			if (!nl)
				break;
			size_t n = (size_t)(nl - (buf + pos));
			if (skipping) {
				skipping = false;
			} else {
				r.lineno++;
				one_line(&r, buf + pos, n);
			}
			pos += n + 1;
			from = pos;
			if (*stop)
				break;
		}
		if (*stop)
			break;
		have = end - pos;
		if (have > MAX_LINE + 1) {
			/* no newline in sight: report the line now, drop it up to its end */
			if (!skipping) {
				char err[64];
				r.lineno++;
				snprintf(err, sizeof(err), "line longer than %u bytes", (unsigned)MAX_LINE);
				reject(&r, err);
			}
			skipping = true;
			have = 0;
		} else if (pos && have) {
			memmove(buf, buf + pos, have);
		}
	}
	free(buf);
	if (!is_stdin)
		close(fd);
	eg_pipe_flush(p);
	if (rc == 0 && report_useless(&r))
		rc = 1;
	return rc;
}
