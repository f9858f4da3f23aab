/* SPDX-License-Identifier: MIT */
/*
 * JSON writer for events and alerts. Compact output, keys in a fixed order.
 * Strings: '"' and '\\' escaped, control characters as \n \t \r \b \f or
 * \u00xx, valid UTF-8 copied as is, every byte of an invalid sequence as
 * \udcxx (surrogateescape), so the replay reader gets the exact bytes back.
 * No allocation in steady state: the caller's eg_buf only grows.
 */
#include "json.h"
#include "evtypes.h"

#include <stdio.h>
#include <string.h>

/* Input bytes handled per reservation in eg_json_str (each yields <= 6 out). */
#define STR_CHUNK 4096

static const char hexd[] = "0123456789abcdef";

/* 1: the byte can be copied as is (printable ASCII other than '"' '\\'). */
static const unsigned char plain[256] = {
	['\x20'] = 1, 1, 0 /* '"' */, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	['\x30'] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	['\x40'] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	['\x50'] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 /* '\\' */, 1, 1, 1,
	['\x60'] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	['\x70'] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 /* DEL */,
};

/* Length of the valid UTF-8 sequence at s[0..n) (s[0] >= 0x80), or 0 when
 * it is invalid (Unicode 15, table 3-7: no overlongs, no surrogates, no code
 * point above U+10FFFF, no truncated sequence). */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	unsigned lo = 0x80, hi = 0xbf;
	size_t len;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

size_t eg_utf8_len(const unsigned char *s, size_t n)
{
	return utf8_valid(s, n);
}

/* Bytes in x that need a look: < 0x20, '"', '\\' or >= 0x80. */
static inline int word_special(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t lt20 = (x - ones * 0x20) & ~x;
	uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
	uint64_t zq = (q - ones) & ~q, zbs = (bs - ones) & ~bs;
	return ((lt20 | zq | zbs | x) & highs) != 0;
}

/* lit[0..litlen) (a key), then str[0..len) as a quoted JSON string, with one
 * reservation for both when the string is short. */
static int put_str(struct eg_buf *b, const char *lit, size_t litlen, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	if (eg_buf_reserve(b, litlen + 2 + 6 * (len < STR_CHUNK ? len : STR_CHUNK)))
		return -1;
	char *o = b->p + b->len;
	memcpy(o, lit, litlen);
	o += litlen;
	*o++ = '"';
	while (i < len) {
		size_t end = len - i > STR_CHUNK ? i + STR_CHUNK : len;
		if (i) {
			b->len = (size_t)(o - b->p);
			if (eg_buf_reserve(b, 1 + 6 * (end - i)))
				return -1;
			o = b->p + b->len;
		}
		while (i < end) {
			while (i + 8 <= end) {
				uint64_t x;
				memcpy(&x, s + i, 8);
				if (word_special(x))
					break;
				memcpy(o, &x, 8);
				o += 8;
				i += 8;
			}
			while (i < end && plain[s[i]])
				*o++ = (char)s[i++];
			if (i >= end)
				break;
			unsigned c = s[i];
			if (c >= 0x80) {
				size_t n = utf8_valid(s + i, len - i);
				if (n) {
					memcpy(o, s + i, n);
					o += n;
					i += n;
				} else {
					memcpy(o, "\\udc", 4);
					o[4] = hexd[c >> 4];
					o[5] = hexd[c & 15];
					o += 6;
					i++;
				}
				continue;
			}
			*o++ = '\\';
			switch (c) {
			case '"': *o++ = '"'; break;
			case '\\': *o++ = '\\'; break;
			case '\n': *o++ = 'n'; break;
			case '\t': *o++ = 't'; break;
			case '\r': *o++ = 'r'; break;
			case '\b': *o++ = 'b'; break;
			case '\f': *o++ = 'f'; break;
			default:
				memcpy(o, "u00", 3);
				o[3] = hexd[c >> 4];
				o[4] = hexd[c & 15];
				o += 5;
			}
			i++;
		}
	}
	*o++ = '"';
	b->len = (size_t)(o - b->p);
	return 0;
}

int eg_json_str(struct eg_buf *b, const char *str, size_t len)
{
	return put_str(b, "", 0, str, len);
}

/* Appends v in decimal; room for 20 digits must be reserved. */
static inline char *put_u64(char *o, uint64_t v)
{
	char t[20];
	int n = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*o++ = t[--n];
	return o;
}

static inline char *put2(char *o, unsigned v)
{
	o[0] = (char)('0' + v / 10);
	o[1] = (char)('0' + v % 10);
	return o + 2;
}

/* Proleptic Gregorian date from days since 1970-01-01 (H. Hinnant). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* "YYYY-MM-DDTHH:MM:SS" of the last second formatted, per thread. */
static _Thread_local int64_t cached_sec = INT64_MIN;
static _Thread_local char cached_text[20];

int eg_json_time(struct eg_buf *b, int64_t ts_ns)
{
	int64_t sec = ts_ns / 1000000000;
	int64_t frac = ts_ns % 1000000000;
	if (frac < 0) {
		frac += 1000000000;
		sec--;
	}
	if (sec != cached_sec) {
		int64_t days = sec / 86400, rem = sec % 86400, y;
		if (rem < 0) {
			rem += 86400;
			days--;
		}
		unsigned m, d;
		civil_from_days(days, &y, &m, &d);
		char *t = cached_text;
		/* int64 ns spans the years 1677..2262: always four digits */
		t = put2(t, (unsigned)(y / 100));
		t = put2(t, (unsigned)(y % 100));
		*t++ = '-';
		t = put2(t, m);
		*t++ = '-';
		t = put2(t, d);
		*t++ = 'T';
		t = put2(t, (unsigned)(rem / 3600));
		*t++ = ':';
		t = put2(t, (unsigned)(rem / 60 % 60));
		*t++ = ':';
		put2(t, (unsigned)(rem % 60));
		cached_sec = sec;
	}
	if (eg_buf_reserve(b, 32))
		return -1;
	char *o = b->p + b->len;
	*o++ = '"';
	memcpy(o, cached_text, 19);
	o += 19;
	if (frac) {
		char f[9];
		for (int k = 8; k >= 0; k--) {
			f[k] = (char)('0' + frac % 10);
			frac /= 10;
		}
		int n = 9;
		while (f[n - 1] == '0')
			n--;
		*o++ = '.';
		memcpy(o, f, (size_t)n);
		o += n;
	}
	*o++ = 'Z';
	*o++ = '"';
	b->len = (size_t)(o - b->p);
	return 0;
}

/* Appends a literal key/punctuation and an unsigned number. */
static int put_num(struct eg_buf *b, const char *lit, size_t litlen, uint64_t v)
{
	if (eg_buf_reserve(b, litlen + 20))
		return -1;
	memcpy(b->p + b->len, lit, litlen);
	b->len = (size_t)(put_u64(b->p + b->len + litlen, v) - b->p);
	return 0;
}

/* A signed 32-bit number. */
static int put_int(struct eg_buf *b, const char *lit, size_t litlen, int32_t v)
{
	if (v >= 0)
		return put_num(b, lit, litlen, (uint64_t)v);
	if (eg_buf_reserve(b, litlen + 12))
		return -1;
	memcpy(b->p + b->len, lit, litlen);
	b->p[b->len + litlen] = '-';
	b->len = (size_t)(put_u64(b->p + b->len + litlen + 1, (uint64_t)0 - (uint64_t)(int64_t)v) - b->p);
	return 0;
}

#define LIT(s) s, sizeof(s) - 1

static int put_bool(struct eg_buf *b, const char *lit, size_t litlen, int v)
{
	if (eg_buf_reserve(b, litlen + 5))
		return -1;
	char *o = b->p + b->len;
	memcpy(o, lit, litlen);
	memcpy(o + litlen, v ? "true" : "false", 5);
	b->len += litlen + (v ? 4 : 5);
	return 0;
}

/* A key literal and an argument list: argc NUL-terminated strings in
 * args[0..args_len). */
static int put_args(struct eg_buf *b, const char *lit, size_t litlen, const char *args,
		    uint32_t args_len, uint32_t argc)
{
	const char *a = args, *end = args + args_len;
	int rc = eg_buf_put(b, lit, litlen);
	rc |= eg_buf_putc(b, '[');
	for (uint32_t i = 0; i < argc && a < end; i++) {
		const char *z = memchr(a, 0, (size_t)(end - a));
		size_t n = z ? (size_t)(z - a) : (size_t)(end - a);
		if (i)
			rc |= eg_buf_putc(b, ',');
		rc |= eg_json_str(b, a, n);
		a += n + 1;
	}
	rc |= eg_buf_putc(b, ']');
	return rc;
}

/* "context": how the process image was made (docs/output.md). */
static const char *context_name(uint32_t flags)
{
	if (flags & EG_PROCF_UNKNOWN)
		return "unknown";
	if (flags & EG_PROCF_SEEDED)
		return "procfs";
	if (flags & EG_PROCF_FORKED)
		return "fork";
	return "exec";
}

/* The process context block, from exec_id to cgroup. */
static int put_context(struct eg_buf *b, const struct eg_event *ev)
{
	const struct eg_proc *pr = eg_ev_proc(ev);
	const struct eg_container *c = eg_ev_ctr(ev);
	int rc = put_str(b, LIT(",\"exec_id\":"), pr->exec_id, pr->exec_id_len);
	rc |= eg_buf_put(b, LIT(",\"context\":\""));
	rc |= eg_buf_puts(b, context_name(pr->flags));
	rc |= put_str(b, LIT("\",\"cwd\":"), pr->cwd, pr->cwd_len);
	rc |= put_str(b, LIT(",\"tty\":"), pr->tty, pr->tty_len);
	rc |= put_int(b, LIT(",\"loginuid\":"), pr->loginuid);
	rc |= put_num(b, LIT(",\"parent\":{\"tgid\":"), pr->parent_tgid);
	rc |= put_str(b, LIT(",\"exec_id\":"), pr->parent_exec_id, pr->parent_exec_id_len);
	rc |= put_str(b, LIT(",\"comm\":"), pr->parent_comm, pr->parent_comm_len);
	rc |= put_str(b, LIT(",\"exe\":"), pr->parent_exe, pr->parent_exe_len);
	rc |= put_args(b, LIT(",\"args\":"), pr->parent_args, pr->parent_args_len, pr->parent_argc);
	rc |= eg_buf_put(b, LIT("},\"ancestors\":["));
	uint32_t na = pr->nancestors < EG_ANCESTORS_MAX ? pr->nancestors : EG_ANCESTORS_MAX;
	for (uint32_t i = 0; i < na; i++) {
		const struct eg_ancestor *a = &pr->ancestors[i];
		if (i)
			rc |= eg_buf_putc(b, ',');
		rc |= put_str(b, LIT("{\"comm\":"), a->comm, a->comm_len);
		rc |= put_str(b, LIT(",\"exe\":"), a->exe, a->exe_len);
		rc |= eg_buf_putc(b, '}');
	}
	rc |= put_str(b, LIT("],\"container_id\":"), c->id, c->id_len);
	rc |= put_str(b, LIT(",\"container_runtime\":"), c->runtime, c->runtime_len);
	rc |= put_str(b, LIT(",\"pod_uid\":"), c->pod_uid, c->pod_uid_len);
	rc |= put_str(b, LIT(",\"cgroup\":"), c->cgroup, c->cgroup_len);
	return rc;
}

/* One registry field: ,"key":value (flags as a '|'-joined string of names). */
static int put_registry(struct eg_buf *b, const struct eg_field *f, const struct eg_event *ev)
{
	int rc = eg_buf_putc(b, ',');
	rc |= eg_json_str(b, f->key, strlen(f->key));
	rc |= eg_buf_putc(b, ':');
	if (f->kind == EG_FK_FLAGS) {
		char t[EG_FLAGS_TEXT_MAX];
		size_t n = eg_flags_format(t, sizeof(t), f, (uint64_t)ev->num[f->slot]);
		rc |= eg_json_str(b, t, n < sizeof(t) ? n : sizeof(t) - 1);
	} else if (f->kind == EG_FK_ENUM) {
		char t[24];
		const char *name = eg_enum_format(t, sizeof(t), f, ev->num[f->slot]);
		rc |= eg_json_str(b, name, strlen(name));
	} else if (f->kind == EG_FK_BOOL) {
		rc |= ev->num[f->slot] ? eg_buf_put(b, LIT("true")) : eg_buf_put(b, LIT("false"));
	} else if (f->kind == EG_FK_NUM) {
		int64_t v = ev->num[f->slot];
		char t[24];
		int n = snprintf(t, sizeof(t), "%lld", (long long)v);
		rc |= eg_buf_put(b, t, (size_t)n);
	} else {
		rc |= eg_json_str(b, ev->aux[f->slot], ev->aux_len[f->slot]);
	}
	return rc;
}

int eg_json_event(struct eg_buf *b, const struct eg_event *ev, bool with_host)
{
	int rc = eg_buf_put(b, LIT("{\"timestamp\":"));
	rc |= eg_json_time(b, ev->ts_ns);
	rc |= put_num(b, LIT(",\"pid\":"), ev->pid);
	rc |= put_num(b, LIT(",\"tgid\":"), ev->tgid);
	rc |= eg_buf_put(b, LIT(",\"type\":\""));
	rc |= eg_buf_puts(b, eg_event_type_name(ev->type));
	rc |= put_str(b, LIT("\",\"comm\":"), ev->comm, ev->comm_len);
	rc |= put_str(b, LIT(",\"filename\":"), ev->filename, ev->filename_len);
	rc |= put_str(b, LIT(",\"dest_ip\":"), ev->dest_ip, ev->dest_ip_len);
	rc |= put_num(b, LIT(",\"dest_port\":"), ev->dest_port);
	rc |= put_num(b, LIT(",\"ppid\":"), ev->ppid);
	rc |= put_num(b, LIT(",\"uid\":"), ev->uid);
	rc |= put_num(b, LIT(",\"gid\":"), ev->gid);
	rc |= put_num(b, LIT(",\"cgroup_id\":"), ev->cgroup_id);
	rc |= put_bool(b, LIT(",\"truncated\":"), ev->flags & EG_EVF_TRUNCATED);
	uint32_t pf = eg_ev_proc(ev)->flags;
	const struct eg_type_fields *tf = eg_type_fields(ev->type);
	for (unsigned i = 0; tf && i < tf->n; i++)
		rc |= put_registry(b, &eg_fields[tf->idx[i]], ev);
	if (tf && tf->ret)
		rc |= put_int(b, LIT(",\"ret\":"), ev->ret);
	if (ev->type == EG_EV_EXEC) {
		rc |= put_str(b, LIT(",\"exe\":"), ev->exe, ev->exe_len);
		rc |= put_args(b, LIT(",\"args\":"), ev->args, ev->args_len, ev->argc);
		rc |= put_bool(b, LIT(",\"memfd\":"), ev->flags & EG_EVF_MEMFD);
		rc |= put_bool(b, LIT(",\"interpreted\":"), ev->flags & EG_EVF_INTERPRETED);
	} else if (ev->type == EG_EV_OPEN) {
		rc |= put_num(b, LIT(",\"open_flags\":"), ev->open_flags);
		rc |= put_str(b, LIT(",\"requested\":"), ev->requested, ev->requested_len);
		rc |= put_int(b, LIT(",\"ret\":"), ev->ret);
		rc |= put_bool(b, LIT(",\"requested_differs\":"), ev->flags & EG_EVF_REQ_DIFFERS);
	}
	if (ev->type == EG_EV_CONNECT) {
		const char *pn = eg_proto_name(ev->proto);
		char num[12];
		if (!pn) {
			snprintf(num, sizeof(num), "%u", ev->proto);
			pn = num;
		}
		rc |= eg_buf_put(b, LIT(",\"protocol\":\""));
		rc |= eg_buf_puts(b, pn);
		rc |= eg_buf_putc(b, '"');
		rc |= put_int(b, LIT(",\"ret\":"), ev->ret);
		rc |= put_bool(b, LIT(",\"datagram\":"), ev->flags & EG_EVF_DATAGRAM);
	}
	if (ev->type == EG_EV_OPEN || ev->type == EG_EV_CONNECT) {
		rc |= put_bool(b, LIT(",\"io_uring\":"), ev->flags & EG_EVF_IO_URING);
		rc |= put_bool(b, LIT(",\"compat\":"), ev->flags & EG_EVF_COMPAT);
	}
	if (ev->type != EG_EV_EXEC) {
		rc |= put_str(b, LIT(",\"exe\":"), ev->exe, ev->exe_len);
		rc |= put_args(b, LIT(",\"args\":"), ev->args, ev->args_len, ev->argc);
	}
	/* the process image's exec: on every event, so that a rule on an open
	 * by a set-uid program replays as it ran */
	rc |= put_bool(b, LIT(",\"setuid\":"), pf & EG_PROCF_SETUID);
	rc |= put_bool(b, LIT(",\"setgid\":"), pf & EG_PROCF_SETGID);
	rc |= put_bool(b, LIT(",\"ld_preload\":"), pf & EG_PROCF_LD_PRELOAD);
	rc |= put_bool(b, LIT(",\"ld_library_path\":"), pf & EG_PROCF_LD_LIBRARY_PATH);
	rc |= put_context(b, ev);
	if (with_host) {
		const struct eg_host *h = eg_ev_host(ev);
		rc |= put_str(b, LIT(",\"hostname\":"), h->name, h->name_len);
		rc |= put_str(b, LIT(",\"host_id\":"), h->id, h->id_len);
	}
	rc |= eg_buf_putc(b, '}');
	return rc ? -1 : 0;
}

/* The response keys of an alert (eg_json_alert). */
static int put_response(struct eg_buf *b, const struct eg_response_outcome *act)
{
	int rc = eg_buf_put(b, LIT(",\"action\":\"kill\",\"enforced\":"));
	if (act->result == EG_RESP_DRY_RUN)
		return rc | eg_buf_put(b, LIT("false"));
	rc |= eg_buf_put(b, LIT("true,\"enforced_in\":"));
	rc |= eg_buf_puts(b, act->where == EG_ENFORCED_KERNEL ? "\"kernel\"" : "\"userspace\"");
	size_t rl = strlen(act->reason);
	if (act->result == EG_RESP_ERROR) {
		char res[sizeof(act->reason) + 8];
		int n = snprintf(res, sizeof(res), "error: %s", act->reason);
		rc |= put_str(b, LIT(",\"result\":"), res, (size_t)n < sizeof(res) ? (size_t)n : sizeof(res) - 1);
	} else {
		const char *name = eg_resp_result_name(act->result);
		rc |= put_str(b, LIT(",\"result\":"), name, strlen(name));
		if (rl)
			rc |= put_str(b, LIT(",\"reason\":"), act->reason, rl);
	}
	char num[32];
	int n = snprintf(num, sizeof(num), ",\"action_delay_ns\":%lld", (long long)act->delay_ns);
	return rc | eg_buf_put(b, num, (size_t)n);
}

int eg_json_alert(struct eg_buf *b, const struct eg_event *ev, const struct eg_rule_info *rule,
		  const char *desc, size_t desc_len, bool events_lost,
		  const struct eg_response_outcome *act)
{
	if (!desc) {
		desc = rule->description ? rule->description : "";
		desc_len = strlen(desc);
	}
	const char *sev = rule->severity ? rule->severity : "warning";
	const char *tags = rule->tags_json && *rule->tags_json ? rule->tags_json : "[]";
	const char *type = eg_event_type_name(ev->type);
	int rc = eg_buf_put(b, LIT("{\"timestamp\":"));
	rc |= eg_json_time(b, ev->ts_ns);
	rc |= eg_buf_put(b, LIT(",\"rule_id\":"));
	rc |= eg_json_str(b, rule->id, strlen(rule->id));
	rc |= eg_buf_put(b, LIT(",\"description\":"));
	rc |= eg_json_str(b, desc, desc_len);
	rc |= eg_buf_put(b, LIT(",\"event_type\":\""));
	rc |= eg_buf_puts(b, type);
	rc |= eg_buf_put(b, LIT("\",\"event\":"));
	rc |= eg_json_event(b, ev, false);
	rc |= eg_buf_put(b, LIT(",\"severity\":"));
	rc |= eg_json_str(b, sev, strlen(sev));
	rc |= eg_buf_put(b, LIT(",\"tags\":"));
	rc |= eg_buf_puts(b, tags);
	const struct eg_host *h = eg_ev_host(ev);
	rc |= put_str(b, LIT(",\"hostname\":"), h->name, h->name_len);
	rc |= put_str(b, LIT(",\"host_id\":"), h->id, h->id_len);
	if (events_lost)
		rc |= eg_buf_put(b, LIT(",\"events_lost\":true"));
	if (act && act->action == EG_ACTION_KILL)
		rc |= put_response(b, act);
	rc |= eg_buf_put(b, LIT("}\n"));
	return rc ? -1 : 0;
}
