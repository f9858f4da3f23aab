/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the collector's ring-buffer record decoder: on_sample() in
 * src/collector.c, one raw record (bpf/eg_raw.h) -> one struct eg_event.
 *
 * on_sample() is static and the file is being worked on, so this includes
 * src/collector.c as it is (nothing in it changes for fuzzing) and calls the
 * callback the way libbpf does, with a record in a heap block of exactly its
 * size. The pipeline is tests/fuzz/fuzz_pipe.c (every string in its own
 * block, the room reserved by eg_pipe_begin enforced).
 *
 * Each input is decoded twice: as it is (mostly rejected: the lengths in the
 * header must fit the record), and with its header fixed up so the record is
 * well-formed (lengths cut to what the record holds, a known type), so every
 * input reaches the string decoding.
 *
 * Properties, besides no crash and no sanitizer finding: a record is either
 * counted in bad_records or gives exactly one event; that event keeps the
 * struct eg_event contract and matches a plain model of the record format:
 * comm, filename, the exe path joined from its leaf-first components, argv
 * (at most 64 strings, cut ones NUL-terminated), the truncated/memfd flags,
 * and dest_ip (inet_pton gives the address back; the text is inet_ntop's but
 * for IPv4-compatible addresses, which glibc writes as ::a.b.c.d).
 */
#include "../../src/collector.c"

#include "fuzz_pipe.h"

/* A realistic boot -> wall clock offset (2025), as boot_to_real_offset()
 * gives: records carry bpf_ktime_get_boot_ns(). */
#define BOOT_TO_REAL 1735689600000000000LL

struct model_str {
	char *p;
	size_t len;
};

FUZZ_NOCOV static void expect(const char *what, const char *got, uint32_t got_len, const char *want,
		   size_t want_len)
{
	if (got_len != want_len || (want_len && memcmp(got, want, want_len)))
		fuzz_fail("%s: decoded %u bytes \"%.*s\", the record says %zu bytes \"%.*s\"", what,
			  got_len, (int)(got_len > 200 ? 200 : got_len), got, want_len,
			  (int)(want_len > 200 ? 200 : want_len), want);
}

/* A walked path: the region up to its first NUL, " (deleted)" appended
 * when deleted (and the path is not empty). */
FUZZ_NOCOV static size_t model_exe(const char *x, size_t xl, int deleted, char *out)
{
	size_t o = 0;
	while (o < xl && x[o]) {
		out[o] = x[o];
		o++;
	}
	if (o && deleted) {
		memcpy(out + o, " (deleted)", 10);
		o += 10;
	}
	return o;
}

/* Lexical normalisation, the plain way: a stack of components. */
FUZZ_NOCOV static size_t model_norm(const char *in, size_t n, char *out)
{
	const char **st = malloc((n / 2 + 2) * sizeof(*st));
	size_t *sl = malloc((n / 2 + 2) * sizeof(*sl));
	size_t depth = 0, o = 0;
	int abs = n && in[0] == '/';
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && in[j] != '/')
			j++;
		size_t l = j - i;
		if (l == 2 && in[i] == '.' && in[i + 1] == '.') {
			if (depth && !(sl[depth - 1] == 2 && !memcmp(st[depth - 1], "..", 2)))
				depth--;
			else if (!abs) {
				st[depth] = in + i;
				sl[depth++] = 2;
			}
		} else if (l && !(l == 1 && in[i] == '.')) {
			st[depth] = in + i;
			sl[depth++] = l;
		}
		i = j + 1;
	}
	if (abs)
		out[o++] = '/';
	for (size_t k = 0; k < depth; k++) {
		if (k)
			out[o++] = '/';
		memcpy(out + o, st[k], sl[k]);
		o += sl[k];
	}
	if (!o)
		out[o++] = '.';
	free(st);
	free(sl);
	return o;
}

/* argv: NUL-separated strings, at most EG_ARGS_MAX_COUNT kept, each written
 * NUL-terminated. *cut: strings left over or the last one unterminated. */
FUZZ_NOCOV static size_t model_args(const char *a, size_t al, char *out, uint32_t *argc, int *cut)
{
	size_t pos = 0, o = 0;
	*argc = 0;
	*cut = 0;
	while (pos < al) {
		if (*argc == EG_ARGS_MAX_COUNT) {
			*cut = 1;
			break;
		}
		const char *z = memchr(a + pos, 0, al - pos);
		size_t l = z ? (size_t)(z - (a + pos)) : al - pos;
		memcpy(out + o, a + pos, l);
		o += l;
		out[o++] = 0;
		(*argc)++;
		if (!z)
			*cut = 1;
		pos += l + 1;
	}
	return o;
}

FUZZ_NOCOV static void check_ip(const struct eg_raw_event *r, const struct eg_event *ev)
{
	char want[INET6_ADDRSTRLEN];
	if (r->family == AF_INET6) {
		unsigned char back[16];
		if (inet_pton(AF_INET6, ev->dest_ip, back) != 1 || memcmp(back, r->dest_addr, 16))
			fuzz_fail("dest_ip \"%s\" does not parse back to the record's address",
				  ev->dest_ip);
		static const unsigned char zero[12];
		uint16_t w6 = (uint16_t)(r->dest_addr[12] << 8 | r->dest_addr[13]);
		if (!memcmp(r->dest_addr, zero, 12) && w6)
			return; /* glibc: ::a.b.c.d; RFC 5952 (and we): ::xxxx:xxxx */
		inet_ntop(AF_INET6, r->dest_addr, want, sizeof(want));
	} else {
		inet_ntop(AF_INET, r->dest_addr, want, sizeof(want));
	}
	expect("dest_ip", ev->dest_ip, ev->dest_ip_len, want, strlen(want));
}

/* A path as the daemon makes it (an open's filename, a newer family's S0/S1
 * or S2/S3): the file's walked path (EG_RAWF_PATH_FILE), or the request
 * joined to its start directory (EG_RAWF_PATH_DIR), or the request alone;
 * normalised unless cut. want holds 2 * (xl + fl) + 32 bytes. */
FUZZ_NOCOV static size_t model_path(const char *fn, size_t fl, const char *x, size_t xl, uint32_t flags,
				    char *want)
{
	size_t n = 0, d = 0;
	int cut = (flags & EG_RAWF_TRUNC_FILENAME) != 0;
	if (flags & (EG_RAWF_PATH_FILE | EG_RAWF_PATH_DIR))
		d = model_exe(x, xl, (flags & EG_RAWF_PATH_FILE) && (flags & EG_RAWF_DELETED), want);
	if (d && (flags & EG_RAWF_PATH_FILE)) {
		n = d;
	} else if (d) {
		char *joined = malloc(d + fl + 2);
		memcpy(joined, want, d);
		joined[d] = '/';
		memcpy(joined + d + 1, fn, fl);
		if (cut) {
			memcpy(want, joined, d + 1 + fl);
			n = d + 1 + fl;
		} else {
			n = model_norm(joined, d + 1 + fl, want);
		}
		free(joined);
	} else if (fl && fn[0] == '/' && !cut) {
		n = model_norm(fn, fl, want);
	} else {
		memcpy(want, fn, fl);
		n = fl;
	}
	return n;
}

/* A newer family's S2 and S3 (bpf/eg_raw.h): aux[0] a second path joined to
 * its directory, a local address, or S2 as is with S3 in aux[1]. */
FUZZ_NOCOV static void check_family(const struct eg_raw_event *r, const struct eg_event *ev,
				    const char *s2)
{
	const char *s3 = s2 + r->args_len;
	size_t l2 = strnlen(s2, r->args_len), l3 = strnlen(s3, r->s3_len);
	if (r->flags & EG_RAWF_LOCAL_ADDR) {
		struct eg_raw_local_addr la;
		if (r->args_len < sizeof(la)) {
			expect("local address", ev->aux[0], ev->aux_len[0], "", 0);
			return;
		}
		memcpy(&la, s2, sizeof(la));
		struct eg_raw_event fake = *r;
		struct eg_event got = *ev;
		fake.family = la.family == AF_INET6 ? AF_INET6 : AF_INET;
		memcpy(fake.dest_addr, la.addr, 16);
		got.dest_ip = ev->aux[0];
		got.dest_ip_len = ev->aux_len[0];
		check_ip(&fake, &got);
	} else if (r->flags & EG_RAWF_PATH2_DIR) {
		char *want = malloc(2 * ((size_t)r->s3_len + l2) + 32);
		size_t n = model_path(s2, l2, s3, r->s3_len,
				      EG_RAWF_PATH_DIR | (r->flags & EG_RAWF_TRUNC_FILENAME), want);
		expect("aux[0]", ev->aux[0], ev->aux_len[0], want, n);
		free(want);
	} else {
		expect("aux[0]", ev->aux[0], ev->aux_len[0], s2, l2);
		expect("aux[1]", ev->aux[1], ev->aux_len[1], s3, l3);
	}
}

static void decode(const uint8_t *data, size_t size)
{
	/* like a ring-buffer record: 8-byte aligned, nothing readable past it */
	void *rec = malloc(size ? size : 1);
	memcpy(rec, data, size);
	if (size >= sizeof(uint64_t)) {
		/* A boot time below 2^62 ns (146 years of uptime): past 2^63 minus
		 * the offset, on_sample's int64 addition overflows (undefined
		 * behaviour UBSan reports, though no kernel gets there). */
		uint64_t ts;
		memcpy(&ts, rec, sizeof(ts));
		ts &= (1ull << 62) - 1;
		memcpy(rec, &ts, sizeof(ts));
	}
	struct collector c;
	memset(&c, 0, sizeof(c));
	c.p = fuzz_pipe();
	c.boot_to_real = BOOT_TO_REAL;
	c.budget = UINT32_MAX;
	c.attached_types = ~0u; /* every type wanted: every record makes its event */
	/* a fresh process table that never reads the real /proc */
	struct eg_pt_opts pto = {.capacity = 64, .proc_root = "/nonexistent", .boot_id = "f"};
	c.pt = eg_pt_new(&pto);
	fuzz_pipe_reset();
	int rc = on_sample(&c, rec, size);
	if (rc != 0)
		fuzz_fail("on_sample returned %d", rc);
	size_t commits = fuzz_pipe_commits();
	const struct eg_raw_event *r = rec;
	int fork = size >= sizeof(*r) && r->type == EG_RAW_FORK;
	if (commits + c.bad_records != (fork ? 0u : 1u))
		fuzz_fail("%zu events and %llu bad records from one record", commits,
			  (unsigned long long)c.bad_records);
	if (!commits) {
		eg_pt_free(c.pt);
		free(rec);
		return;
	}
	const struct eg_event *ev = fuzz_pipe_last();
	fuzz_check_event(ev);
	const struct eg_raw_exec *xt = NULL;
	const struct eg_raw_args *ra = NULL;
	const char *fn = (const char *)(r + 1);
	if (r->type == EG_RAW_EXEC && (r->flags & EG_RAWF_EXEC_EXT)) {
		xt = (const struct eg_raw_exec *)(r + 1);
		fn = (const char *)(xt + 1);
	} else if (r->type > EG_RAW_EXIT && (r->flags & EG_RAWF_ARGS)) {
		ra = (const struct eg_raw_args *)(r + 1);
		fn = (const char *)(ra + 1);
	}
	for (int i = r->type == EG_RAW_MEMFD; ra && i < EG_EV_NUMS; i++)
		if (ev->num[i] != ra->a[i] && !(r->type == EG_RAW_CHMOD && (i == 1 || i == 2)))
			fuzz_fail("num[%d] %lld, the record's a[%d] %lld", i, (long long)ev->num[i], i,
				  (long long)ra->a[i]);
	if (r->type == EG_RAW_CHMOD && ra &&
	    (ev->num[1] != ((ra->a[0] & 04000) != 0) || ev->num[2] != ((ra->a[0] & 02000) != 0)))
		fuzz_fail("chmod mode 0%llo: mode_setuid %lld, mode_setgid %lld", (long long)ra->a[0],
			  (long long)ev->num[1], (long long)ev->num[2]);
	if (r->type > EG_RAW_EXIT && ev->ret != r->ret)
		fuzz_fail("type %u ret %d, record %d", r->type, ev->ret, r->ret);
	const char *x = fn + r->filename_len, *a = x + r->exe_len;
	if (xt) {
		/* the new image: this event's, with the record's cwd */
		const struct eg_proc *pr = ev->proc;
		if (!pr || pr->tgid != r->tgid)
			fuzz_fail("an exec made no process image");
		else
			expect("cwd", pr->cwd, pr->cwd_len, a + r->args_len, strnlen(a + r->args_len, xt->cwd_len));
	}

	if (ev->type != r->type || ev->pid != r->pid || ev->tgid != r->tgid ||
	    ev->ppid != r->ppid || ev->uid != r->uid || ev->gid != r->gid ||
	    ev->cgroup_id != r->cgroup_id ||
	    ev->open_flags != (r->type == EG_RAW_MEMFD ? 0 : r->open_flags))
		fuzz_fail("a number field differs from the record");
	if (ev->ts_ns != (int64_t)(r->ts_ns + (uint64_t)BOOT_TO_REAL))
		fuzz_fail("ts_ns %lld from boot time %llu", (long long)ev->ts_ns,
			  (unsigned long long)r->ts_ns);
	expect("comm", ev->comm, ev->comm_len, r->comm, strnlen(r->comm, EG_RAW_COMM_LEN));
	size_t fl = strnlen(fn, r->filename_len);
	int devfd = 0;
	if (r->type == EG_RAW_EXEC && (r->flags & EG_RAWF_FDPATH) && fl > 8 && !memcmp(fn, "/dev/fd/", 8)) {
		devfd = 1;
		for (size_t i = 8; i < fl; i++)
			devfd &= fn[i] >= '0' && fn[i] <= '9';
	}
	if (r->type == EG_RAW_CONNECT) {
		expect("filename", ev->filename, ev->filename_len, "connect", 7);
	} else if (r->type == EG_RAW_OPEN || (ra && r->type > EG_RAW_PTRACE)) {
		/* the opened file's path; or the request against its directory,
		 * or alone, normalised when absolute (a newer family's first path
		 * alike) */
		char *want = malloc(2 * ((size_t)r->exe_len + fl) + 32);
		size_t n = model_path(fn, fl, x, r->exe_len, r->flags, want);
		size_t d = r->flags & EG_RAWF_PATH_FILE ? strnlen(x, r->exe_len) : 0;
		expect("filename", ev->filename, ev->filename_len, want, n);
		free(want);
		if (r->type != EG_RAW_OPEN) {
			check_family(r, ev, x + r->exe_len);
		} else {
			expect("requested", ev->requested, ev->requested_len, fn, fl);
			if (ev->ret != r->ret)
				fuzz_fail("ret %d, record %d", ev->ret, r->ret);
			if ((ev->flags & EG_EVF_REQ_DIFFERS) && (!(r->flags & EG_RAWF_PATH_FILE) || !d))
				fuzz_fail("requested_differs without an opened file's path");
		}
	} else if (r->type == EG_RAW_EXEC && (!fl || devfd)) {
		/* fexecve (or the kernel's /dev/fd/N for its empty path): the
		 * executed file */
		char *want = malloc(2 * (size_t)r->exe_len + 16);
		size_t n = model_exe(x, r->exe_len, r->flags & (EG_RAWF_DELETED | EG_RAWF_EXE_PSEUDO), want);
		expect("filename", ev->filename, ev->filename_len, want, n);
		free(want);
	} else {
		expect("filename", ev->filename, ev->filename_len, fn, fl);
	}
	if (!!(ev->flags & EG_EVF_IO_URING) != !!(r->flags & EG_RAWF_IO_URING) ||
	    !!(ev->flags & EG_EVF_COMPAT) != !!(r->flags & EG_RAWF_COMPAT))
		fuzz_fail("io_uring/compat flags 0x%x from record flags 0x%x", ev->flags, r->flags);

	int trunc = (r->flags & (EG_RAWF_TRUNC_FILENAME | EG_RAWF_TRUNC_EXE | EG_RAWF_TRUNC_ARGS)) != 0;
	int memfd = 0;
	if (r->type == EG_RAW_EXEC) {
		char *want = malloc((size_t)r->exe_len + 16);
		size_t n = model_exe(x, r->exe_len, r->flags & (EG_RAWF_DELETED | EG_RAWF_EXE_PSEUDO),
				     want);
		expect("exe", ev->exe, ev->exe_len, want, n);
		free(want);
		want = malloc((size_t)r->args_len + 1);
		uint32_t argc;
		int cut;
		n = model_args(a, r->args_len, want, &argc, &cut);
		if (ev->argc != argc)
			fuzz_fail("argc %u, the record holds %u", ev->argc, argc);
		expect("args", ev->args, ev->args_len, want, n);
		free(want);
		trunc |= cut;
		memfd = (r->flags & EG_RAWF_DELETED) != 0;
	} else if (ev->exe_len || ev->argc || ev->args_len) {
		fuzz_fail("exe or args on a non-exec event");
	}
	if (!!(ev->flags & EG_EVF_TRUNCATED) != trunc || !!(ev->flags & EG_EVF_MEMFD) != memfd ||
	    !!(ev->flags & EG_EVF_INTERPRETED) != (r->type == EG_RAW_EXEC && (r->flags & EG_RAWF_INTERP)) ||
	    (ev->flags & ~(uint32_t)(EG_EVF_TRUNCATED | EG_EVF_MEMFD | EG_EVF_REQ_DIFFERS |
				     EG_EVF_IO_URING | EG_EVF_COMPAT | EG_EVF_INTERPRETED |
				     EG_EVF_DATAGRAM | EG_EVF_KILLED | EG_EVF_ONCE_FRESH | EG_EVF_ONCE_REPEAT)) ||
	    !!(ev->flags & EG_EVF_DATAGRAM) != (r->type == EG_RAW_CONNECT && (r->flags & EG_RAWF_DATAGRAM)) ||
	    /* the kernel's memory verdict (kf_seen): a connect's, new winning */
	    !!(ev->flags & EG_EVF_ONCE_FRESH) != (r->type == EG_RAW_CONNECT && (r->flags & EG_RAWF_SEEN_FRESH)) ||
	    !!(ev->flags & EG_EVF_ONCE_REPEAT) !=
		    (r->type == EG_RAW_CONNECT && !(r->flags & EG_RAWF_SEEN_FRESH) && (r->flags & EG_RAWF_SEEN_REPEAT)) ||
	    !!(ev->flags & EG_EVF_KILLED) != !!(r->flags & EG_RAWF_KILLED))
		fuzz_fail("flags 0x%x, want truncated %d memfd %d", ev->flags, trunc, memfd);

	if (r->type == EG_RAW_MEMFD &&
	    (ev->num[0] != (int64_t)r->open_flags || ev->ret != r->ret))
		fuzz_fail("memfd flags %lld ret %d, record %u %d", (long long)ev->num[0], ev->ret,
			  r->open_flags, r->ret);
	if (r->type == EG_RAW_CONNECT) {
		check_ip(r, ev);
		if (ev->dest_port != r->dest_port)
			fuzz_fail("dest_port %u, record %u", ev->dest_port, r->dest_port);
		if (ev->proto != r->proto || ev->ret != r->ret)
			fuzz_fail("proto %u ret %d, record %u %d", ev->proto, ev->ret, r->proto, r->ret);
	} else if (ra && r->type > EG_RAW_PTRACE && (r->family == AF_INET || r->family == AF_INET6)) {
		/* a newer family's peer (dup, accept) */
		check_ip(r, ev);
		if (ev->dest_port != r->dest_port)
			fuzz_fail("dest_port %u, record %u", ev->dest_port, r->dest_port);
	} else if (ev->dest_ip_len || ev->dest_port) {
		fuzz_fail("dest_ip or dest_port on an event without a peer");
	}
	eg_pt_reap(c.pt);
	eg_pt_free(c.pt);
	free(rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode(data, size);
	if (size < sizeof(struct eg_raw_event))
		return 0;
	/* the same bytes as a well-formed record */
	uint8_t *fixed = malloc(size);
	memcpy(fixed, data, size);
	struct eg_raw_event *r = (struct eg_raw_event *)fixed;
	size_t rest = size - sizeof(*r), hdr = sizeof(*r);
	r->type = (uint8_t)(r->type % (EG_EV_MAX + 1) == 0 ? EG_RAW_FORK : r->type % (EG_EV_MAX + 1));
	struct eg_raw_exec *xt = NULL;
	if (r->type == EG_RAW_EXEC && (r->flags & EG_RAWF_EXEC_EXT)) {
		if (rest >= sizeof(*xt)) {
			xt = (struct eg_raw_exec *)(r + 1);
			rest -= sizeof(*xt);
			hdr += sizeof(*xt);
		} else {
			r->flags &= ~(uint32_t)EG_RAWF_EXEC_EXT;
		}
	} else if (r->type > EG_RAW_EXIT && r->type <= EG_EV_MAX && (r->flags & EG_RAWF_ARGS)) {
		if (rest >= sizeof(struct eg_raw_args)) {
			rest -= sizeof(struct eg_raw_args);
			hdr += sizeof(struct eg_raw_args);
		} else {
			r->flags &= ~(uint32_t)EG_RAWF_ARGS;
		}
	}
	r->filename_len = (uint16_t)(r->filename_len % (rest + 1));
	rest -= r->filename_len;
	r->exe_len = (uint16_t)(r->exe_len % (rest + 1));
	rest -= r->exe_len;
	r->args_len = (uint16_t)(r->args_len % (rest + 1));
	rest -= r->args_len;
	uint16_t cl = 0;
	if (r->type > EG_RAW_EXIT && (r->flags & EG_RAWF_ARGS)) {
		r->s3_len = (uint16_t)(r->s3_len % (rest + 1));
		cl = r->s3_len;
	} else {
		r->s3_len = 0;
	}
	if (xt) {
		memcpy(&cl, &xt->cwd_len, sizeof(cl));
		cl = (uint16_t)(cl % (rest + 1));
		memcpy(&xt->cwd_len, &cl, sizeof(cl));
	}
	decode(fixed, hdr + r->filename_len + r->exe_len + r->args_len + cl);
	free(fixed);
	return 0;
}
