/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the JSON writer (src/json.c): eg_json_str on the whole input, and
 * eg_json_alert and eg_json_event (a -record line, host included) on an
 * event, its process context and a rule cut out of the input.
 *
 * Properties (docs/output.md, "Strings" and "The event object"):
 *   - eg_json_str writes exactly what a plain byte-by-byte model of the rules
 *     writes: '"' '\\' escaped, \n \t \r \b \f, \u00xx for the other control
 *     bytes, valid UTF-8 (Unicode table 3-7) copied, every byte of an invalid
 *     sequence as \udcXX;
 *   - the alert line is one line of valid, compact JSON with the documented
 *     keys in order; a strict decoder (lone \udc80-\udcff = the raw byte)
 *     gives back every input string byte for byte, and every number;
 *   - the timestamp is RFC 3339 UTC with a trimmed fraction and gives back
 *     ts_ns (checked against timegm);
 *   - the event object and the record line replay (eg_replay_parse) to the
 *     same event, context and host included.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "fuzz_pipe.h"
#include "json.h"
#include "replay.h"
#include "evtypes.h"

/* ---- the input, cut into fields --------------------------------------- */

struct in {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct in *in, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++) {
		uint8_t b = 0;
		if (in->n) {
			b = *in->p++;
			in->n--;
		}
		v |= (uint64_t)b << (8 * i);
	}
	return v;
}

/* A string: a 2-byte length (cut to what is left), then its bytes; returned
 * in its own block, NUL-terminated at its length. */
static char *take_str(struct in *in, uint32_t *len)
{
	size_t n = (size_t)take(in, 2);
	if (n > in->n)
		n = in->n;
	char *s = malloc(n + 1);
	memcpy(s, in->p, n);
	s[n] = 0;
	in->p += n;
	in->n -= n;
	*len = (uint32_t)n;
	return s;
}

/* ---- the model of the string rules ------------------------------------ */

/* Length of the valid UTF-8 sequence at s (s[0] >= 0x80), 0 when invalid:
 * decode the code point, then refuse overlongs, surrogates, > U+10FFFF. */
FUZZ_NOCOV static size_t model_utf8(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

FUZZ_NOCOV static size_t model_str(const unsigned char *s, size_t n, char *o)
{
	static const char hex[] = "0123456789abcdef";
	char *o0 = o;
	*o++ = '"';
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		if (c >= 0x80) {
			size_t l = model_utf8(s + i, n - i);
			if (l) {
				memcpy(o, s + i, l);
				o += l;
				i += l;
			} else {
				memcpy(o, "\\udc", 4);
				o[4] = hex[c >> 4];
				o[5] = hex[c & 15];
				o += 6;
				i++;
			}
			continue;
		}
		i++;
		switch (c) {
		case '"': o += sprintf(o, "\\\""); break;
		case '\\': o += sprintf(o, "\\\\"); break;
		case '\n': o += sprintf(o, "\\n"); break;
		case '\t': o += sprintf(o, "\\t"); break;
		case '\r': o += sprintf(o, "\\r"); break;
		case '\b': o += sprintf(o, "\\b"); break;
		case '\f': o += sprintf(o, "\\f"); break;
		default:
			if (c < 0x20)
				o += sprintf(o, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
			else
				*o++ = (char)c;
		}
	}
	*o++ = '"';
	return (size_t)(o - o0);
}

/* ---- a strict decoder for the compact output --------------------------- */

struct jp {
	const char *s, *e, *line;
};

FUZZ_NOCOV static void jfail(const struct jp *j, const char *what)
{
	size_t len = (size_t)(j->e - j->line);
	fuzz_fail("alert line, column %td: %s\n%.*s", j->s - j->line + 1, what,
		  (int)(len > 3000 ? 3000 : len), j->line);
}

FUZZ_NOCOV static void jlit(struct jp *j, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(j->e - j->s) < n || memcmp(j->s, lit, n))
		jfail(j, lit);
	j->s += n;
}

FUZZ_NOCOV static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* upper case is not what the writer writes */
}

/* Decodes the string at j->s into out (room: its raw length). */
FUZZ_NOCOV static size_t jstr(struct jp *j, char *out)
{
	size_t o = 0;
	if (j->s >= j->e || *j->s != '"')
		jfail(j, "expected a string");
	j->s++;
	for (;;) {
		if (j->s >= j->e)
			jfail(j, "unterminated string");
		unsigned char c = (unsigned char)*j->s;
		if (c == '"') {
			j->s++;
			return o;
		}
		if (c < 0x20)
			jfail(j, "raw control byte in a string");
		if (c >= 0x80) {
			size_t l = model_utf8((const unsigned char *)j->s, (size_t)(j->e - j->s));
			if (!l)
				jfail(j, "invalid UTF-8 in the output");
			memcpy(out + o, j->s, l);
			o += l;
			j->s += l;
			continue;
		}
		if (c != '\\') {
			out[o++] = (char)c;
			j->s++;
			continue;
		}
		if (j->e - j->s < 2)
			jfail(j, "cut escape");
		char k = j->s[1];
		j->s += 2;
		switch (k) {
		case '"': out[o++] = '"'; break;
		case '\\': out[o++] = '\\'; break;
		case 'n': out[o++] = '\n'; break;
		case 't': out[o++] = '\t'; break;
		case 'r': out[o++] = '\r'; break;
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'u': {
			unsigned v = 0;
			if (j->e - j->s < 4)
				jfail(j, "cut \\u escape");
			for (int i = 0; i < 4; i++) {
				int h = hexv(j->s[i]);
				if (h < 0)
					jfail(j, "\\u escape without four lower-case hex digits");
				v = v << 4 | (unsigned)h;
			}
			j->s += 4;
			if (v >= 0xdc80 && v <= 0xdcff)
				out[o++] = (char)(v & 0xff); /* surrogateescape: a raw byte */
			else if (v < 0x20 && v != '\n' && v != '\t' && v != '\r' && v != '\b' && v != '\f')
				out[o++] = (char)v;
			else
				jfail(j, "\\u escape the writer never writes");
			break;
		}
		default:
			jfail(j, "unknown escape");
		}
	}
}

/* Room to decode any string of the line being checked (decoding never grows). */
static char *dbuf;
static size_t dcap;

FUZZ_NOCOV static char *decode_room(const struct jp *j)
{
	size_t need = (size_t)(j->e - j->s) + 1;
	if (need > dcap) {
		free(dbuf);
		dcap = need * 2;
		dbuf = malloc(dcap);
		if (!dbuf)
			fuzz_fail("out of memory");
	}
	return dbuf;
}

FUZZ_NOCOV static void jstr_is(struct jp *j, const char *what, const char *want, size_t wn)
{
	char *buf = decode_room(j);
	const char *at = j->s;
	size_t n = jstr(j, buf);
	if (n != wn || memcmp(buf, want, wn)) {
		j->s = at;
		jfail(j, what);
	}
}

FUZZ_NOCOV static void jkey(struct jp *j, const char *key, int first)
{
	if (!first)
		jlit(j, ",");
	jstr_is(j, key, key, strlen(key));
	jlit(j, ":");
}

FUZZ_NOCOV static void jnum_is(struct jp *j, const char *what, uint64_t want)
{
	char t[24];
	snprintf(t, sizeof(t), "%" PRIu64, want);
	size_t n = strlen(t);
	if ((size_t)(j->e - j->s) < n || memcmp(j->s, t, n) || (j->s + n < j->e && j->s[n] >= '0' &&
								   j->s[n] <= '9'))
		jfail(j, what);
	j->s += n;
}

/* "YYYY-MM-DDTHH:MM:SS[.f]Z", fraction 1-9 digits without trailing zeros. */
FUZZ_NOCOV static void jtime_is(struct jp *j, int64_t ts_ns)
{
	char buf[64];
	const char *at = j->s;
	char *raw = decode_room(j);
	size_t n = jstr(j, raw);
	if (n >= sizeof(buf))
		goto bad;
	memcpy(buf, raw, n);
	buf[n] = 0;
	struct tm tm = {0};
	int frac_len = 0;
	long frac = 0;
	const char *rest = strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n < 20 || buf[4] != '-' || !rest || rest - buf != 19)
		goto bad;
	if (*rest == '.') {
		rest++;
		while (*rest >= '0' && *rest <= '9') {
			frac = frac * 10 + (*rest++ - '0');
			frac_len++;
		}
		if (frac_len < 1 || frac_len > 9 || rest[-1] == '0')
			goto bad;
		for (int k = frac_len; k < 9; k++)
			frac *= 10;
	}
	if (strcmp(rest, "Z"))
		goto bad;
	int64_t want_sec = ts_ns / 1000000000, want_frac = ts_ns % 1000000000;
	if (want_frac < 0) {
		want_frac += 1000000000;
		want_sec--;
	}
	if ((int64_t)timegm(&tm) != want_sec || frac != want_frac)
		goto bad;
	return;
bad:
	j->s = at;
	jfail(j, "timestamp");
}

/* ---- the fuzzer --------------------------------------------------------- */

static struct eg_buf out;

FUZZ_NOCOV static void check_str_whole(const uint8_t *data, size_t size)
{
	out.len = 0;
	if (eg_json_str(&out, (const char *)data, size))
		fuzz_fail("eg_json_str failed");
	static char *want;
	static size_t want_cap;
	if (6 * size + 2 > want_cap) {
		free(want);
		want_cap = 2 * (6 * size + 2);
		want = malloc(want_cap);
		if (!want)
			fuzz_fail("out of memory");
	}
	size_t wn = model_str(data, size, want);
	if (wn != out.len || memcmp(want, out.p, wn))
		fuzz_fail("eg_json_str differs from the model (%zu bytes, want %zu)", out.len, wn);
	struct jp j = {out.p, out.p + out.len, out.p};
	jstr_is(&j, "eg_json_str round trip", (const char *)data, size);
	if (j.s != j.e)
		jfail(&j, "data after the string");
}

/* The context flags the "context" key gives back (json.c's context_name). */
FUZZ_NOCOV static uint32_t context_bits(uint32_t flags)
{
	if (flags & EG_PROCF_UNKNOWN)
		return EG_PROCF_UNKNOWN;
	if (flags & EG_PROCF_SEEDED)
		return EG_PROCF_SEEDED;
	return flags & EG_PROCF_FORKED;
}

FUZZ_NOCOV static void same_bytes(const char *what, const char *a, uint32_t al, const char *b,
				   uint32_t bl)
{
	if (al != bl || memcmp(a, b, al))
		fuzz_fail("replayed %s differs (%u bytes, written %u)", what, al, bl);
}

/* The replayed context r against the written one (ev's). */
FUZZ_NOCOV static void check_replay_context(const struct eg_event *r, const struct eg_event *ev,
					     bool with_host)
{
	const struct eg_proc *rp = r->proc, *wp = eg_ev_proc(ev);
	const struct eg_container *rc = r->ctr, *wc = eg_ev_ctr(ev);
	if (!rp || !rc)
		fuzz_fail("replayed event without proc or ctr");
	const uint32_t ctxf = EG_PROCF_UNKNOWN | EG_PROCF_SEEDED | EG_PROCF_FORKED;
	if ((rp->flags & ctxf) != context_bits(wp->flags))
		fuzz_fail("replayed context flags 0x%x, written 0x%x", rp->flags, wp->flags);
	const uint32_t execf = EG_PROCF_SETUID | EG_PROCF_SETGID | EG_PROCF_LD_PRELOAD |
			       EG_PROCF_LD_LIBRARY_PATH;
	if ((rp->flags & execf) != (wp->flags & execf)) /* written on every event */
		fuzz_fail("replayed exec flags 0x%x, written 0x%x", rp->flags, wp->flags);
	if (rp->loginuid != wp->loginuid || rp->parent_tgid != wp->parent_tgid ||
	    rp->parent_argc != wp->parent_argc || rp->nancestors != wp->nancestors)
		fuzz_fail("replayed loginuid, parent tgid, parent argc or ancestors differ");
	if (rp->tgid != ev->tgid || rp->comm != r->comm || rp->exe != r->exe || rp->args != r->args)
		fuzz_fail("replayed proc does not point at the event's fields");
	same_bytes("exec_id", rp->exec_id, rp->exec_id_len, wp->exec_id, wp->exec_id_len);
	same_bytes("cwd", rp->cwd, rp->cwd_len, wp->cwd, wp->cwd_len);
	same_bytes("tty", rp->tty, rp->tty_len, wp->tty, wp->tty_len);
	same_bytes("parent exec_id", rp->parent_exec_id, rp->parent_exec_id_len, wp->parent_exec_id,
		   wp->parent_exec_id_len);
	same_bytes("parent comm", rp->parent_comm, rp->parent_comm_len, wp->parent_comm,
		   wp->parent_comm_len);
	same_bytes("parent exe", rp->parent_exe, rp->parent_exe_len, wp->parent_exe,
		   wp->parent_exe_len);
	same_bytes("parent args", rp->parent_args, rp->parent_args_len, wp->parent_args,
		   wp->parent_args_len);
	for (uint32_t i = 0; i < wp->nancestors; i++) {
		const struct eg_ancestor *ra = &rp->ancestors[i], *wa = &wp->ancestors[i];
		same_bytes("ancestor comm", ra->comm, ra->comm_len, wa->comm, wa->comm_len);
		same_bytes("ancestor exe", ra->exe, ra->exe_len, wa->exe, wa->exe_len);
	}
	if (rc->cgroup_id != ev->cgroup_id)
		fuzz_fail("replayed container cgroup_id differs");
	same_bytes("container id", rc->id, rc->id_len, wc->id, wc->id_len);
	same_bytes("container runtime", rc->runtime, rc->runtime_len, wc->runtime, wc->runtime_len);
	same_bytes("pod_uid", rc->pod_uid, rc->pod_uid_len, wc->pod_uid, wc->pod_uid_len);
	same_bytes("cgroup", rc->cgroup, rc->cgroup_len, wc->cgroup, wc->cgroup_len);
	if (!with_host) {
		if (r->host)
			fuzz_fail("replayed event without host keys has a host");
		return;
	}
	const struct eg_host *wh = eg_ev_host(ev);
	if (!r->host)
		fuzz_fail("replayed record line has no host");
	same_bytes("hostname", r->host->name, r->host->name_len, wh->name, wh->name_len);
	same_bytes("host_id", r->host->id, r->host->id_len, wh->id, wh->id_len);
}

FUZZ_NOCOV static void check_replay(const char *obj, size_t len, const struct eg_event *ev,
				     bool with_host)
{
	char err[512];
	fuzz_pipe_reset();
	struct eg_pipeline *p = fuzz_pipe();
	struct eg_event *r = eg_pipe_begin(p, EG_REPLAY_ROOM(len));
	if (!r)
		return;
	if (eg_replay_parse(p, obj, len, r, err, sizeof(err)))
		fuzz_fail("the event object does not replay: %s\n%.*s", err,
			  (int)(len > 3000 ? 3000 : len), obj);
	eg_pipe_commit(p);
#define SAME(f)                                                                                \
	if (r->f != ev->f)                                                                     \
		fuzz_fail("replayed " #f " differs: %llu, written %llu", (unsigned long long)r->f,  \
			  (unsigned long long)ev->f);
#define SAME_STR(f)                                                                            \
	if (r->f##_len != ev->f##_len || memcmp(r->f, ev->f, ev->f##_len))                     \
		fuzz_fail("replayed " #f " differs");
	SAME(ts_ns) SAME(type) SAME(pid) SAME(tgid) SAME(ppid) SAME(uid) SAME(gid) SAME(cgroup_id)
	SAME(dest_port) SAME_STR(comm) SAME_STR(filename) SAME_STR(dest_ip)
	if ((r->flags ^ ev->flags) & EG_EVF_TRUNCATED)
		fuzz_fail("replayed truncated differs");
	if (ev->type == EG_EV_EXEC) {
		SAME(argc) SAME_STR(exe) SAME_STR(args)
		if ((r->flags ^ ev->flags) & (EG_EVF_MEMFD | EG_EVF_INTERPRETED))
			fuzz_fail("replayed memfd/interpreted differs");
	} else if (ev->type == EG_EV_OPEN) {
		SAME(open_flags) SAME(ret) SAME_STR(requested)
		if ((r->flags ^ ev->flags) & EG_EVF_REQ_DIFFERS)
			fuzz_fail("replayed requested_differs differs");
	}
	const struct eg_type_fields *tf = eg_type_fields(ev->type);
	if (tf && tf->ret)
		SAME(ret)
	for (unsigned i = 0; tf && i < tf->n; i++) {
		const struct eg_field *f = &eg_fields[tf->idx[i]];
		if (f->kind == EG_FK_STR    ? r->aux_len[f->slot] != ev->aux_len[f->slot] ||
						      memcmp(r->aux[f->slot], ev->aux[f->slot], ev->aux_len[f->slot])
		    : f->kind == EG_FK_BOOL ? !r->num[f->slot] != !ev->num[f->slot]
					    : r->num[f->slot] != (f->kind == EG_FK_NUM ? (int32_t)ev->num[f->slot]
										       : ev->num[f->slot]))
			fuzz_fail("replayed %s differs", f->key);
	}
	if (ev->type == EG_EV_CONNECT) {
		SAME(proto) SAME(ret)
		if ((r->flags ^ ev->flags) & EG_EVF_DATAGRAM)
			fuzz_fail("replayed datagram differs");
	}
	if ((ev->type == EG_EV_OPEN || ev->type == EG_EV_CONNECT) &&
	    ((r->flags ^ ev->flags) & (EG_EVF_IO_URING | EG_EVF_COMPAT)))
		fuzz_fail("replayed io_uring/compat differs");
	if (ev->type != EG_EV_EXEC) {
		SAME(argc) SAME_STR(exe) SAME_STR(args)
	}
#undef SAME
#undef SAME_STR
	check_replay_context(r, ev, with_host);
}

/* The strings of the process context, in input order. */
enum {
	CS_EXEC_ID, CS_CWD, CS_TTY, CS_PEXEC_ID, CS_PCOMM, CS_PEXE, CS_PARGS,
	CS_ANC, /* comm, exe of each of the EG_ANCESTORS_MAX ancestors */
	CS_CID = CS_ANC + 2 * EG_ANCESTORS_MAX, CS_RUNTIME, CS_POD, CS_CGROUP, CS_HNAME, CS_HID,
	CS_N,
};

/* An argument list from a taken string: NUL-terminated strings back to back
 * (the last one terminated by take_str's NUL when it is not already). */
FUZZ_NOCOV static uint32_t args_of(const char *a, uint32_t len, uint32_t *args_len)
{
	uint32_t argc = 0;
	*args_len = len && a[len - 1] ? len + 1 : len;
	for (uint32_t i = 0; i < *args_len; i++)
		argc += a[i] == 0;
	return argc;
}

FUZZ_NOCOV static void jargs_is(struct jp *j, const char *what, const char *a, uint32_t argc)
{
	jlit(j, "[");
	for (uint32_t i = 0; i < argc; i++) {
		size_t n = strlen(a);
		if (i)
			jlit(j, ",");
		jstr_is(j, what, a, n);
		a += n + 1;
	}
	jlit(j, "]");
}

/* The context block, "exec_id" to "cgroup", of ev as written. */
FUZZ_NOCOV static void jcontext_is(struct jp *j, const struct eg_event *ev)
{
	const struct eg_proc *p = eg_ev_proc(ev);
	const struct eg_container *c = eg_ev_ctr(ev);
	static const char *const names[] = {"exec", "fork", "procfs", "unknown"};
	uint32_t cb = context_bits(p->flags);
	const char *cn = names[cb == EG_PROCF_UNKNOWN ? 3 : cb == EG_PROCF_SEEDED ? 2 : cb ? 1 : 0];
	char num[16];
	jkey(j, "exec_id", 0);
	jstr_is(j, "exec_id", p->exec_id, p->exec_id_len);
	jkey(j, "context", 0);
	jstr_is(j, "context", cn, strlen(cn));
	jkey(j, "cwd", 0);
	jstr_is(j, "cwd", p->cwd, p->cwd_len);
	jkey(j, "tty", 0);
	jstr_is(j, "tty", p->tty, p->tty_len);
	jkey(j, "loginuid", 0);
	snprintf(num, sizeof(num), "%d", p->loginuid);
	jlit(j, num);
	jkey(j, "parent", 0);
	jlit(j, "{");
	jkey(j, "tgid", 1);
	jnum_is(j, "parent tgid", p->parent_tgid);
	jkey(j, "exec_id", 0);
	jstr_is(j, "parent exec_id", p->parent_exec_id, p->parent_exec_id_len);
	jkey(j, "comm", 0);
	jstr_is(j, "parent comm", p->parent_comm, p->parent_comm_len);
	jkey(j, "exe", 0);
	jstr_is(j, "parent exe", p->parent_exe, p->parent_exe_len);
	jkey(j, "args", 0);
	jargs_is(j, "parent args", p->parent_args, p->parent_argc);
	jlit(j, "}");
	jkey(j, "ancestors", 0);
	jlit(j, "[");
	for (uint32_t i = 0; i < p->nancestors; i++) {
		if (i)
			jlit(j, ",");
		jlit(j, "{");
		jkey(j, "comm", 1);
		jstr_is(j, "ancestor comm", p->ancestors[i].comm, p->ancestors[i].comm_len);
		jkey(j, "exe", 0);
		jstr_is(j, "ancestor exe", p->ancestors[i].exe, p->ancestors[i].exe_len);
		jlit(j, "}");
	}
	jlit(j, "]");
	jkey(j, "container_id", 0);
	jstr_is(j, "container_id", c->id, c->id_len);
	jkey(j, "container_runtime", 0);
	jstr_is(j, "container_runtime", c->runtime, c->runtime_len);
	jkey(j, "pod_uid", 0);
	jstr_is(j, "pod_uid", c->pod_uid, c->pod_uid_len);
	jkey(j, "cgroup", 0);
	jstr_is(j, "cgroup", c->cgroup, c->cgroup_len);
}

FUZZ_NOCOV static void jhost_is(struct jp *j, const struct eg_event *ev)
{
	const struct eg_host *h = eg_ev_host(ev);
	jkey(j, "hostname", 0);
	jstr_is(j, "hostname", h->name, h->name_len);
	jkey(j, "host_id", 0);
	jstr_is(j, "host_id", h->id, h->id_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_str_whole(data, size);

	struct in in = {data, size};
	struct eg_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.ts_ns = (int64_t)take(&in, 8);
	ev.pid = (uint32_t)take(&in, 4);
	ev.tgid = (uint32_t)take(&in, 4);
	ev.ppid = (uint32_t)take(&in, 4);
	ev.uid = (uint32_t)take(&in, 4);
	ev.gid = (uint32_t)take(&in, 4);
	ev.cgroup_id = take(&in, 8);
	ev.open_flags = (uint32_t)take(&in, 4);
	ev.dest_port = (uint32_t)take(&in, 2);
	ev.type = (uint32_t)(take(&in, 1) % (EG_EV_MAX + 2)); /* 0 and EG_EV_MAX + 1: "unknown" */
	/* the newer types' slots: from bytes already drawn (flags, a request,
	 * a pid; the strings are comm's and the file name's) */
	ev.num[0] = (int64_t)(ev.open_flags & 0x4fff);
	ev.num[1] = (int32_t)ev.uid;
	unsigned bits = (unsigned)take(&in, 1);
	ev.flags = bits & (EG_EVF_TRUNCATED | EG_EVF_MEMFD);
	/* bits 3..7: requested_differs, io_uring, compat, interpreted, datagram
	 * (bit 2 picks the description below) */
	ev.flags |= ((bits >> 3) & 31u) << 2;
	ev.ret = (int32_t)ev.open_flags;
	ev.proto = ev.open_flags & 0xff;
	char *comm = take_str(&in, &ev.comm_len), *fn = take_str(&in, &ev.filename_len);
	ev.aux[0] = comm;
	ev.aux_len[0] = ev.comm_len;
	ev.aux[1] = fn;
	ev.aux_len[1] = ev.filename_len;
	char *ip = take_str(&in, &ev.dest_ip_len), *exe = take_str(&in, &ev.exe_len);
	uint32_t al, idl, dl, odl, sl, tl;
	char *args = take_str(&in, &al);
	char *id = take_str(&in, &idl), *desc = take_str(&in, &dl), *odesc = take_str(&in, &odl);
	char *sev = take_str(&in, &sl), *tag = take_str(&in, &tl);
	ev.comm = comm;
	ev.filename = fn;
	ev.dest_ip = ip;
	ev.exe = exe;
	/* an open's requested path: the exe string (written for exec only) */
	ev.requested = exe;
	ev.requested_len = ev.exe_len;
	/* argv: NUL-terminated strings back to back (the last one terminated by
	 * take_str's NUL when it is not already) */
	ev.args = args;
	ev.argc = args_of(args, al, &ev.args_len);

	/* the process context (inputs written before it had one end earlier:
	 * all zero, no context) */
	unsigned cbits = (unsigned)take(&in, 1); /* proc, ctr, host given */
	struct eg_proc pr = {0};
	struct eg_container ctr = {0};
	struct eg_host host = {0};
	pr.loginuid = (int32_t)take(&in, 4);
	pr.flags = (uint32_t)take(&in, 2) & 0x1ff; /* every enum eg_proc_flags bit */
	pr.parent_tgid = (uint32_t)take(&in, 4);
	pr.nancestors = (uint32_t)take(&in, 1) % (EG_ANCESTORS_MAX + 1);
	char *cs[CS_N];
	uint32_t cl[CS_N];
	for (int i = 0; i < CS_N; i++)
		cs[i] = take_str(&in, &cl[i]);
	pr.exec_id = cs[CS_EXEC_ID];
	pr.exec_id_len = cl[CS_EXEC_ID];
	pr.cwd = cs[CS_CWD];
	pr.cwd_len = cl[CS_CWD];
	pr.tty = cs[CS_TTY];
	pr.tty_len = cl[CS_TTY];
	pr.parent_exec_id = cs[CS_PEXEC_ID];
	pr.parent_exec_id_len = cl[CS_PEXEC_ID];
	pr.parent_comm = cs[CS_PCOMM];
	pr.parent_comm_len = cl[CS_PCOMM];
	pr.parent_exe = cs[CS_PEXE];
	pr.parent_exe_len = cl[CS_PEXE];
	pr.parent_args = cs[CS_PARGS];
	pr.parent_argc = args_of(cs[CS_PARGS], cl[CS_PARGS], &pr.parent_args_len);
	for (int i = 0; i < EG_ANCESTORS_MAX; i++) {
		pr.ancestors[i].comm = cs[CS_ANC + 2 * i];
		pr.ancestors[i].comm_len = cl[CS_ANC + 2 * i];
		pr.ancestors[i].exe = cs[CS_ANC + 2 * i + 1];
		pr.ancestors[i].exe_len = cl[CS_ANC + 2 * i + 1];
	}
	/* what a live producer fills from the event (the writer reads the event's) */
	pr.tgid = ev.tgid;
	pr.comm = comm;
	pr.comm_len = ev.comm_len;
	ctr.cgroup_id = ev.cgroup_id;
	ctr.id = cs[CS_CID];
	ctr.id_len = cl[CS_CID];
	ctr.runtime = cs[CS_RUNTIME];
	ctr.runtime_len = cl[CS_RUNTIME];
	ctr.pod_uid = cs[CS_POD];
	ctr.pod_uid_len = cl[CS_POD];
	ctr.cgroup = cs[CS_CGROUP];
	ctr.cgroup_len = cl[CS_CGROUP];
	host.name = cs[CS_HNAME];
	host.name_len = cl[CS_HNAME];
	host.id = cs[CS_HID];
	host.id_len = cl[CS_HID];
	ev.proc = cbits & 1 ? &pr : NULL;
	ev.ctr = cbits & 2 ? &ctr : NULL;
	ev.host = cbits & 4 ? &host : NULL;

	/* strings the writer takes with strlen() end at their first NUL */
	idl = (uint32_t)strlen(id);
	dl = (uint32_t)strlen(desc);
	sl = (uint32_t)strlen(sev);
	struct eg_buf tags = {0};
	if (tl) {
		eg_buf_putc(&tags, '[');
		eg_json_str(&tags, tag, tl);
		eg_buf_putc(&tags, ']');
		eg_buf_putc(&tags, 0);
	}
	struct eg_rule_info rule = {
		.id = id, .description = desc, .severity = sl ? sev : NULL,
		.tags_json = tl ? tags.p : NULL, .source = "fuzz",
	};
	const char *d = bits & 4 ? odesc : NULL;
	bool lost = bits & 8;

	out.len = 0;
	if (eg_json_alert(&out, &ev, &rule, d, odl, lost, NULL))
		fuzz_fail("eg_json_alert failed");
	if (!out.len || out.p[out.len - 1] != '\n')
		fuzz_fail("alert line does not end with a newline");
	struct jp j = {out.p, out.p + out.len - 1, out.p};
	jlit(&j, "{");
	jkey(&j, "timestamp", 1);
	jtime_is(&j, ev.ts_ns);
	jkey(&j, "rule_id", 0);
	jstr_is(&j, "rule_id", id, idl);
	jkey(&j, "description", 0);
	if (d)
		jstr_is(&j, "description (from the detection)", odesc, odl);
	else
		jstr_is(&j, "description", desc, dl);
	const char *tname = eg_event_type_name(ev.type);
	jkey(&j, "event_type", 0);
	jstr_is(&j, "event_type", tname, strlen(tname));
	jkey(&j, "event", 0);
	const char *obj = j.s;
	jlit(&j, "{");
	jkey(&j, "timestamp", 1);
	jtime_is(&j, ev.ts_ns);
	jkey(&j, "pid", 0);
	jnum_is(&j, "pid", ev.pid);
	jkey(&j, "tgid", 0);
	jnum_is(&j, "tgid", ev.tgid);
	jkey(&j, "type", 0);
	jstr_is(&j, "type", tname, strlen(tname));
	jkey(&j, "comm", 0);
	jstr_is(&j, "comm", comm, ev.comm_len);
	jkey(&j, "filename", 0);
	jstr_is(&j, "filename", fn, ev.filename_len);
	jkey(&j, "dest_ip", 0);
	jstr_is(&j, "dest_ip", ip, ev.dest_ip_len);
	jkey(&j, "dest_port", 0);
	jnum_is(&j, "dest_port", ev.dest_port);
	jkey(&j, "ppid", 0);
	jnum_is(&j, "ppid", ev.ppid);
	jkey(&j, "uid", 0);
	jnum_is(&j, "uid", ev.uid);
	jkey(&j, "gid", 0);
	jnum_is(&j, "gid", ev.gid);
	jkey(&j, "cgroup_id", 0);
	jnum_is(&j, "cgroup_id", ev.cgroup_id);
	jkey(&j, "truncated", 0);
	jlit(&j, ev.flags & EG_EVF_TRUNCATED ? "true" : "false");
	/* the newer types: their registry fields (src/evtypes.c), then ret */
	const struct eg_type_fields *tf = eg_type_fields(ev.type);
	for (unsigned i = 0; tf && i < tf->n; i++) {
		const struct eg_field *f = &eg_fields[tf->idx[i]];
		char t[256];
		jkey(&j, f->key, 0);
		if (f->kind == EG_FK_FLAGS) {
			size_t tn = eg_flags_format(t, sizeof(t), f, (uint64_t)ev.num[f->slot]);
			jstr_is(&j, f->key, t, tn);
		} else if (f->kind == EG_FK_ENUM) {
			const char *name = eg_enum_format(t, sizeof(t), f, ev.num[f->slot]);
			jstr_is(&j, f->key, name, strlen(name));
		} else if (f->kind == EG_FK_NUM) {
			snprintf(t, sizeof(t), "%lld", (long long)ev.num[f->slot]);
			jlit(&j, t);
		} else if (f->kind == EG_FK_BOOL) {
			jlit(&j, ev.num[f->slot] ? "true" : "false");
		} else {
			jstr_is(&j, f->key, ev.aux[f->slot], ev.aux_len[f->slot]);
		}
	}
	if (tf && tf->ret) {
		char rnum[16];
		snprintf(rnum, sizeof(rnum), "%d", ev.ret);
		jkey(&j, "ret", 0);
		jlit(&j, rnum);
	}
	if (ev.type == EG_EV_EXEC) {
		jkey(&j, "exe", 0);
		jstr_is(&j, "exe", exe, ev.exe_len);
		jkey(&j, "args", 0);
		jargs_is(&j, "args", args, ev.argc);
		jkey(&j, "memfd", 0);
		jlit(&j, ev.flags & EG_EVF_MEMFD ? "true" : "false");
		jkey(&j, "interpreted", 0);
		jlit(&j, ev.flags & EG_EVF_INTERPRETED ? "true" : "false");
	} else if (ev.type == EG_EV_OPEN) {
		jkey(&j, "open_flags", 0);
		jnum_is(&j, "open_flags", ev.open_flags);
		jkey(&j, "requested", 0);
		jstr_is(&j, "requested", exe, ev.exe_len);
		char num[16];
		snprintf(num, sizeof(num), "%d", ev.ret);
		jkey(&j, "ret", 0);
		jlit(&j, num);
		jkey(&j, "requested_differs", 0);
		jlit(&j, ev.flags & EG_EVF_REQ_DIFFERS ? "true" : "false");
	}
	if (ev.type == EG_EV_CONNECT) {
		const char *pn = eg_proto_name(ev.proto);
		char pnum[12];
		if (!pn) {
			snprintf(pnum, sizeof(pnum), "%u", ev.proto);
			pn = pnum;
		}
		jkey(&j, "protocol", 0);
		jstr_is(&j, "protocol", pn, strlen(pn));
		char rnum[16];
		snprintf(rnum, sizeof(rnum), "%d", ev.ret);
		jkey(&j, "ret", 0);
		jlit(&j, rnum);
		jkey(&j, "datagram", 0);
		jlit(&j, ev.flags & EG_EVF_DATAGRAM ? "true" : "false");
	}
	if (ev.type == EG_EV_OPEN || ev.type == EG_EV_CONNECT) {
		jkey(&j, "io_uring", 0);
		jlit(&j, ev.flags & EG_EVF_IO_URING ? "true" : "false");
		jkey(&j, "compat", 0);
		jlit(&j, ev.flags & EG_EVF_COMPAT ? "true" : "false");
	}
	if (ev.type != EG_EV_EXEC) {
		jkey(&j, "exe", 0);
		jstr_is(&j, "exe", exe, ev.exe_len);
		jkey(&j, "args", 0);
		jargs_is(&j, "args", args, ev.argc);
	}
	/* the process flags, on every event */
	uint32_t pf = eg_ev_proc(&ev)->flags;
	jkey(&j, "setuid", 0);
	jlit(&j, pf & EG_PROCF_SETUID ? "true" : "false");
	jkey(&j, "setgid", 0);
	jlit(&j, pf & EG_PROCF_SETGID ? "true" : "false");
	jkey(&j, "ld_preload", 0);
	jlit(&j, pf & EG_PROCF_LD_PRELOAD ? "true" : "false");
	jkey(&j, "ld_library_path", 0);
	jlit(&j, pf & EG_PROCF_LD_LIBRARY_PATH ? "true" : "false");
	jcontext_is(&j, &ev);
	jlit(&j, "}");
	const char *obj_end = j.s;
	jkey(&j, "severity", 0);
	jstr_is(&j, "severity", sl ? sev : "warning", sl ? sl : 7);
	jkey(&j, "tags", 0);
	jlit(&j, "[");
	if (tl)
		jstr_is(&j, "tags", tag, tl);
	jlit(&j, "]");
	jhost_is(&j, &ev);
	if (lost) {
		jkey(&j, "events_lost", 0);
		jlit(&j, "true");
	}
	jlit(&j, "}");
	if (j.s != j.e)
		jfail(&j, "data after the alert object");

	if (ev.type >= EG_EV_EXEC && ev.type <= EG_EV_MAX)
		check_replay(obj, (size_t)(obj_end - obj), &ev, false);

	/* the -record line: the same object, the host at its end */
	size_t olen = (size_t)(obj_end - obj);
	static struct eg_buf rec;
	rec.len = 0;
	if (eg_json_event(&rec, &ev, true))
		fuzz_fail("eg_json_event failed");
	struct jp jr = {rec.p, rec.p + rec.len, rec.p};
	if (rec.len < olen || memcmp(rec.p, obj, olen - 1))
		fuzz_fail("the record line does not start like the alert's event");
	jr.s = rec.p + olen - 1;
	jhost_is(&jr, &ev);
	jlit(&jr, "}");
	if (jr.s != jr.e)
		jfail(&jr, "data after the record line");
	if (ev.type >= EG_EV_EXEC && ev.type <= EG_EV_MAX)
		check_replay(rec.p, rec.len, &ev, true);

	eg_buf_free(&tags);
	free(comm);
	free(fn);
	free(ip);
	free(exe);
	free(args);
	free(id);
	free(desc);
	free(odesc);
	free(sev);
	free(tag);
	for (int i = 0; i < CS_N; i++)
		free(cs[i]);
	return 0;
}
