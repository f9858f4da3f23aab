/* SPDX-License-Identifier: MIT */
/*
 * The JSON writer: string escaping of every byte class (against a plain
 * byte-by-byte model on random input too), RFC 3339 times (against gmtime_r),
 * and the exact event and alert lines, process context and host included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "check.h"


static struct eg_buf b;

static const char *str_json(const char *s, size_t n)
{
	b.len = 0;
	eg_json_str(&b, s, n);
	eg_buf_putc(&b, 0);
	return b.p;
}

#define STR_IS(in, want)                                                                       \
	do {                                                                                   \
		const char *got_ = str_json(in, sizeof(in) - 1);                               \
		CHECK(!strcmp(got_, want), "escape %s: got %s want %s", #in, got_, want);      \
	} while (0)

static void test_basic_escapes(void)
{
	STR_IS("", "\"\"");
	STR_IS("plain/path.txt", "\"plain/path.txt\"");
	STR_IS("a\"b", "\"a\\\"b\"");
	STR_IS("a\\b", "\"a\\\\b\"");
	STR_IS("line1\nline2", "\"line1\\nline2\"");
	STR_IS("\t\r\b\f", "\"\\t\\r\\b\\f\"");
	STR_IS("\x7f", "\"\x7f\"");
	STR_IS("<>&'", "\"<>&'\"");
	/* every other control character as \u00xx, NUL included */
	for (int c = 0; c < 0x20; c++) {
		char in[1] = {(char)c}, want[16];
		switch (c) {
		case '\n': strcpy(want, "\"\\n\""); break;
		case '\t': strcpy(want, "\"\\t\""); break;
		case '\r': strcpy(want, "\"\\r\""); break;
		case '\b': strcpy(want, "\"\\b\""); break;
		case '\f': strcpy(want, "\"\\f\""); break;
		default: snprintf(want, sizeof(want), "\"\\u%04x\"", c);
		}
		const char *got = str_json(in, 1);
		CHECK(!strcmp(got, want), "control 0x%02x: got %s want %s", c, got, want);
	}
}

static void test_utf8(void)
{
	/* valid sequences pass through: 2, 3, 4 bytes, the edges of each */
	STR_IS("caf\xc3\xa9", "\"caf\xc3\xa9\"");
	STR_IS("\xc2\x80\xdf\xbf", "\"\xc2\x80\xdf\xbf\"");
	STR_IS("\xe0\xa0\x80\xef\xbf\xbf", "\"\xe0\xa0\x80\xef\xbf\xbf\"");
	STR_IS("\xed\x9f\xbf\xee\x80\x80", "\"\xed\x9f\xbf\xee\x80\x80\"");
	STR_IS("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");
	STR_IS("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");
	STR_IS("\xe2\x80\xa8", "\"\xe2\x80\xa8\"");
	/* lone continuation bytes */
	STR_IS("\x80", "\"\\udc80\"");
	STR_IS("a\xbf" "b", "\"a\\udcbfb\"");
	/* overlong encodings */
	STR_IS("\xc0\x80", "\"\\udcc0\\udc80\"");
	STR_IS("\xc1\xbf", "\"\\udcc1\\udcbf\"");
	STR_IS("\xe0\x80\xaf", "\"\\udce0\\udc80\\udcaf\"");
	STR_IS("\xf0\x80\x80\xaf", "\"\\udcf0\\udc80\\udc80\\udcaf\"");
	/* UTF-16 surrogates encoded in UTF-8 */
	STR_IS("\xed\xa0\x80", "\"\\udced\\udca0\\udc80\"");
	STR_IS("\xed\xbf\xbf", "\"\\udced\\udcbf\\udcbf\"");
	/* above U+10FFFF and bytes never valid */
	STR_IS("\xf4\x90\x80\x80", "\"\\udcf4\\udc90\\udc80\\udc80\"");
	STR_IS("\xf5\x80\x80\x80", "\"\\udcf5\\udc80\\udc80\\udc80\"");
	STR_IS("\xfe\xff", "\"\\udcfe\\udcff\"");
	/* truncated sequences: at the end, and followed by ASCII or another lead */
	STR_IS("\xe2\x82", "\"\\udce2\\udc82\"");
	STR_IS("\xe2\x82" "A", "\"\\udce2\\udc82A\"");
	STR_IS("\xf0\x9f\x98", "\"\\udcf0\\udc9f\\udc98\"");
	STR_IS("\xc3\xc3\xa9", "\"\\udcc3\xc3\xa9\"");
	STR_IS("\xc3", "\"\\udcc3\"");
	/* Latin-1 file name */
	STR_IS("/tmp/caf\xe9.txt", "\"/tmp/caf\\udce9.txt\"");
}

/* The model: one byte or sequence at a time, no fast paths. */
static void model_escape(struct eg_buf *o, const unsigned char *s, size_t n)
{
	eg_buf_putc(o, '"');
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		char t[16];
		if (c == '"' || c == '\\') {
			t[0] = '\\';
			t[1] = (char)c;
			eg_buf_put(o, t, 2);
			i++;
		} else if (c < 0x20) {
			const char *m = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r"
				      : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
			if (m)
				eg_buf_puts(o, m);
			else {
				snprintf(t, sizeof(t), "\\u%04x", c);
				eg_buf_puts(o, t);
			}
			i++;
		} else if (c < 0x80) {
			eg_buf_putc(o, (char)c);
			i++;
		} else {
			/* decode strictly */
			size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
				   : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
			unsigned cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
			int ok = len && i + len <= n;
			for (size_t k = 1; ok && k < len; k++) {
				if ((s[i + k] & 0xc0) != 0x80)
					ok = 0;
				cp = cp << 6 | (s[i + k] & 0x3f);
			}
			if (ok && ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
				   (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff))
				ok = 0;
			if (ok) {
				eg_buf_put(o, s + i, len);
				i += len;
			} else {
				snprintf(t, sizeof(t), "\\udc%02x", c);
				eg_buf_puts(o, t);
				i++;
			}
		}
	}
	eg_buf_putc(o, '"');
}

static void test_random_against_model(void)
{
	static const unsigned char pool[] = {'a', '/', ' ', '"', '\\', '\n', 0, 0x1f, 0x7f,
					     0x80, 0xbf, 0xc0, 0xc2, 0xc3, 0xdf, 0xe0, 0xe2,
					     0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f,
					     0x90, 0x8f};
	struct eg_buf m = {0};
	unsigned char *in = malloc(20000);
	srand(12345);
	int bad = 0;
	for (int iter = 0; iter < 3000 && !bad; iter++) {
		size_t n = (size_t)(rand() % (iter < 2500 ? 64 : 20000));
		for (size_t i = 0; i < n; i++) {
			int r = rand() % 4;
			in[i] = r == 0 ? (unsigned char)('a' + rand() % 26)
				       : pool[rand() % sizeof(pool)];
		}
		m.len = 0;
		model_escape(&m, in, n);
		b.len = 0;
		eg_json_str(&b, (const char *)in, n);
		if (b.len != m.len || memcmp(b.p, m.p, m.len))
			bad = iter + 1;
	}
	CHECK(!bad, "random string %d escaped differently from the model", bad - 1);
	/* long runs of plain ASCII with a multibyte sequence across each chunk edge */
	for (size_t edge = 4093; edge <= 4097 && !bad; edge++) {
		size_t n = 3 * 4096 + 7;
		memset(in, 'x', n);
		for (size_t k = edge; k + 4 < n; k += 4096)
			memcpy(in + k, "\xf0\x9f\x98\x80", 4);
		m.len = 0;
		model_escape(&m, in, n);
		b.len = 0;
		eg_json_str(&b, (const char *)in, n);
		if (b.len != m.len || memcmp(b.p, m.p, m.len))
			bad = (int)edge;
	}
	CHECK(!bad, "sequence at chunk edge %d escaped differently", bad);
	/* worst case growth: 20000 invalid bytes become 6 bytes each */
	memset(in, 0xff, 20000);
	b.len = 0;
	eg_json_str(&b, (const char *)in, 20000);
	CHECK(b.len == 20000 * 6 + 2, "0xff x20000: length %zu", b.len);
	free(in);
	eg_buf_free(&m);
}

static const char *time_json(int64_t ns)
{
	b.len = 0;
	eg_json_time(&b, ns);
	eg_buf_putc(&b, 0);
	return b.p;
}

#define TIME_IS(ns, want)                                                                      \
	do {                                                                                   \
		const char *got_ = time_json(ns);                                              \
		CHECK(!strcmp(got_, "\"" want "\""), "time %lld: got %s want %s", (long long)(ns), \
		      got_, want);                                                             \
	} while (0)

static void test_time(void)
{
	const int64_t t = 1735732800LL * 1000000000LL; /* 2025-01-01T12:00:00Z */
	TIME_IS(0, "1970-01-01T00:00:00Z");
	TIME_IS(t, "2025-01-01T12:00:00Z");
	TIME_IS(t + 500000000, "2025-01-01T12:00:00.5Z");
	TIME_IS(t + 1, "2025-01-01T12:00:00.000000001Z");
	TIME_IS(t + 123456000, "2025-01-01T12:00:00.123456Z");
	TIME_IS(t + 999999999, "2025-01-01T12:00:00.999999999Z");
	TIME_IS(t + 10, "2025-01-01T12:00:00.00000001Z");
	TIME_IS(t + 1000000000, "2025-01-01T12:00:01Z");
	TIME_IS(t, "2025-01-01T12:00:00Z"); /* back to a cached second */
	TIME_IS(-1, "1969-12-31T23:59:59.999999999Z");
	TIME_IS(-1000000000, "1969-12-31T23:59:59Z");
	TIME_IS(1709164800LL * 1000000000LL, "2024-02-29T00:00:00Z");
	TIME_IS(951782400LL * 1000000000LL, "2000-02-29T00:00:00Z");
	TIME_IS(4107542399LL * 1000000000LL, "2100-02-28T23:59:59Z");
	TIME_IS(INT64_MAX, "2262-04-11T23:47:16.854775807Z");
	TIME_IS(INT64_MIN, "1677-09-21T00:12:43.145224192Z");
	/* random seconds against gmtime_r */
	srand(7);
	int bad = 0;
	for (int i = 0; i < 20000 && !bad; i++) {
		int64_t sec = (int64_t)(((uint64_t)rand() << 31 | (uint64_t)rand()) % 18000000000ULL) -
			      9000000000LL;
		time_t tt = (time_t)sec;
		struct tm tm;
		gmtime_r(&tt, &tm);
		char want[40];
		snprintf(want, sizeof(want), "\"%04d-%02d-%02dT%02d:%02d:%02dZ\"", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		if (strcmp(time_json(sec * 1000000000LL), want))
			bad = 1, fprintf(stderr, "sec %lld: got %s want %s\n", (long long)sec, b.p, want);
	}
	CHECK(!bad, "random times differ from gmtime_r");
}

static struct eg_event base_event(uint32_t type)
{
	struct eg_event ev = {
		.ts_ns = 1735732800LL * 1000000000LL,
		.type = type,
		.pid = 4242,
		.tgid = 4241,
		.ppid = 1,
		.uid = 1000,
		.gid = 100,
		.cgroup_id = 18446744073709551615ULL,
		.comm = "bash",
		.comm_len = 4,
		.filename = "/dev/shm/.x",
		.filename_len = 11,
		.exe = "",
		.dest_ip = "",
		.args = "",
	};
	return ev;
}

static const char *event_json_host(const struct eg_event *ev, bool with_host)
{
	b.len = 0;
	eg_json_event(&b, ev, with_host);
	eg_buf_putc(&b, 0);
	return b.p;
}

static const char *event_json(const struct eg_event *ev)
{
	return event_json_host(ev, false);
}

#define COMMON_HEAD "{\"timestamp\":\"2025-01-01T12:00:00Z\",\"pid\":4242,\"tgid\":4241,"
#define COMMON_IDS "\"ppid\":1,\"uid\":1000,\"gid\":100,\"cgroup_id\":18446744073709551615,"
/* The process flags (every event type), all false. */
#define EXEC_PROCF ",\"setuid\":false,\"setgid\":false,\"ld_preload\":false,\"ld_library_path\":false"
/* The exe and args of an open, connect or exit event without them, and the
 * process flags after them. */
#define NO_EXE ",\"exe\":\"\",\"args\":[]" EXEC_PROCF
/* The context block of an event without context (proc, ctr NULL). */
#define NO_CTX ",\"exec_id\":\"\",\"context\":\"unknown\",\"cwd\":\"\",\"tty\":\"\",\"loginuid\":-1," \
	"\"parent\":{\"tgid\":0,\"exec_id\":\"\",\"comm\":\"\",\"exe\":\"\",\"args\":[]}," \
	"\"ancestors\":[],\"container_id\":\"\",\"container_runtime\":\"\",\"pod_uid\":\"\",\"cgroup\":\"\""

static void test_event(void)
{
	struct eg_event ev = base_event(EG_EV_EXEC);
	static const char args[] = "bash\0-c\0echo \"hi\"\n\0";
	ev.args = args;
	ev.args_len = sizeof(args) - 1;
	ev.argc = 3;
	ev.exe = "/usr/bin/bash";
	ev.exe_len = 13;
	ev.flags = EG_EVF_MEMFD | EG_EVF_INTERPRETED;
	const char *want = COMMON_HEAD "\"type\":\"exec\",\"comm\":\"bash\",\"filename\":\"/dev/shm/.x\","
		"\"dest_ip\":\"\",\"dest_port\":0," COMMON_IDS "\"truncated\":false,"
		"\"exe\":\"/usr/bin/bash\",\"args\":[\"bash\",\"-c\",\"echo \\\"hi\\\"\\n\"],"
		"\"memfd\":true,\"interpreted\":true" EXEC_PROCF NO_CTX "}";
	const char *got = event_json(&ev);
	CHECK(!strcmp(got, want), "exec event:\n got %s\nwant %s", got, want);

	ev.argc = 0;
	ev.args_len = 0;
	ev.flags = EG_EVF_TRUNCATED;
	want = COMMON_HEAD "\"type\":\"exec\",\"comm\":\"bash\",\"filename\":\"/dev/shm/.x\","
		"\"dest_ip\":\"\",\"dest_port\":0," COMMON_IDS "\"truncated\":true,"
		"\"exe\":\"/usr/bin/bash\",\"args\":[],\"memfd\":false,\"interpreted\":false" EXEC_PROCF
		NO_CTX "}";
	got = event_json(&ev);
	CHECK(!strcmp(got, want), "exec event, no args:\n got %s\nwant %s", got, want);

	ev = base_event(EG_EV_OPEN);
	ev.open_flags = 0x241;
	ev.filename = "/etc/sh\xadow\n";
	ev.filename_len = 11;
	ev.requested = "../etc/sh\xadow\n";
	ev.requested_len = 13;
	ev.ret = 3;
	want = COMMON_HEAD "\"type\":\"open\",\"comm\":\"bash\",\"filename\":\"/etc/sh\\udcadow\\n\","
		"\"dest_ip\":\"\",\"dest_port\":0," COMMON_IDS "\"truncated\":false,\"open_flags\":577,"
		"\"requested\":\"../etc/sh\\udcadow\\n\",\"ret\":3,\"requested_differs\":false,"
		"\"io_uring\":false,\"compat\":false" NO_EXE NO_CTX "}";
	got = event_json(&ev);
	CHECK(!strcmp(got, want), "open event:\n got %s\nwant %s", got, want);

	/* a failed open through io_uring, a path that differs, the flags */
	ev.flags = EG_EVF_REQ_DIFFERS | EG_EVF_IO_URING | EG_EVF_COMPAT;
	static const int32_t rets[] = {-2, INT32_MIN, INT32_MAX, 0};
	static const char *const ret_text[] = {"-2", "-2147483648", "2147483647", "0"};
	for (size_t i = 0; i < sizeof(rets) / sizeof(rets[0]); i++) {
		char w[2048];
		ev.ret = rets[i];
		snprintf(w, sizeof(w), COMMON_HEAD "\"type\":\"open\",\"comm\":\"bash\",\"filename\":"
			 "\"/etc/sh\\udcadow\\n\",\"dest_ip\":\"\",\"dest_port\":0," COMMON_IDS
			 "\"truncated\":false,\"open_flags\":577,\"requested\":\"../etc/sh\\udcadow\\n\","
			 "\"ret\":%s,\"requested_differs\":true,\"io_uring\":true,\"compat\":true"
			 NO_EXE NO_CTX "}",
			 ret_text[i]);
		got = event_json(&ev);
		CHECK(!strcmp(got, w), "open event, ret %d:\n got %s\nwant %s", rets[i], got, w);
	}

	ev = base_event(EG_EV_CONNECT);
	ev.filename = "connect";
	ev.filename_len = 7;
	ev.dest_ip = "2001:db8::1";
	ev.dest_ip_len = 11;
	ev.dest_port = 4444;
	ev.proto = 6;
	want = COMMON_HEAD "\"type\":\"connect\",\"comm\":\"bash\",\"filename\":\"connect\","
		"\"dest_ip\":\"2001:db8::1\",\"dest_port\":4444," COMMON_IDS "\"truncated\":false,"
		"\"protocol\":\"tcp\",\"ret\":0,\"datagram\":false,\"io_uring\":false,\"compat\":false"
		NO_EXE NO_CTX "}";
	got = event_json(&ev);
	CHECK(!strcmp(got, want), "connect event:\n got %s\nwant %s", got, want);

	/* a datagram; a protocol without a name; none known */
	static const uint32_t protos[] = {17, 250, 0};
	static const char *const proto_text[] = {"udp", "250", ""};
	ev.flags = EG_EVF_DATAGRAM;
	ev.ret = -111;
	for (size_t i = 0; i < 3; i++) {
		char w[2048];
		ev.proto = protos[i];
		snprintf(w, sizeof(w), COMMON_HEAD "\"type\":\"connect\",\"comm\":\"bash\",\"filename\":"
			 "\"connect\",\"dest_ip\":\"2001:db8::1\",\"dest_port\":4444," COMMON_IDS
			 "\"truncated\":false,\"protocol\":\"%s\",\"ret\":-111,\"datagram\":true,"
			 "\"io_uring\":false,\"compat\":false" NO_EXE NO_CTX "}", proto_text[i]);
		got = event_json(&ev);
		CHECK(!strcmp(got, w), "connect event, proto %u:\n got %s\nwant %s", protos[i], got, w);
	}

	ev = base_event(EG_EV_EXIT);
	ev.filename = "";
	ev.filename_len = 0;
	want = COMMON_HEAD "\"type\":\"exit\",\"comm\":\"bash\",\"filename\":\"\","
		"\"dest_ip\":\"\",\"dest_port\":0," COMMON_IDS "\"truncated\":false" NO_EXE NO_CTX "}";
	got = event_json(&ev);
	CHECK(!strcmp(got, want), "exit event:\n got %s\nwant %s", got, want);

	/* a 5000-byte path is written whole */
	char *path = malloc(5000);
	memset(path, 'p', 5000);
	path[0] = '/';
	ev = base_event(EG_EV_OPEN);
	ev.filename = path;
	ev.filename_len = 5000;
	got = event_json(&ev);
	char *q = strstr(got, "\"filename\":\"/");
	CHECK(q && strspn(q + 13, "p") == 4999 && q[13 + 4999] == '"', "5000-byte path cut");
	free(path);
}

/* A process with every context field set (odd bytes in cwd and in a parent
 * argument), 5 ancestors, in a container, on a named host. */
static const struct eg_proc full_proc = {
	.tgid = 4241, .ppid = 1, .uid = 1000, .gid = 100,
	.loginuid = 1000,
	.flags = EG_PROCF_SETUID | EG_PROCF_LD_PRELOAD,
	.args = "", /* the event's exe and args are written, not these */
	.exec_id = "aG9zdDo0MjQxOjEyMzQ1", .exec_id_len = 20,
	.comm = "ignored", .comm_len = 7,
	.exe = "/ignored", .exe_len = 8,
	.cwd = "/home/u/caf\xe9/\xc3\xa9\n", .cwd_len = 16,
	.tty = "pts/3", .tty_len = 5,
	.parent_tgid = 1, .parent_argc = 2,
	.parent_exec_id = "aG9zdDoxOjE=", .parent_exec_id_len = 12,
	.parent_comm = "sshd", .parent_comm_len = 4,
	.parent_exe = "/usr/sbin/sshd", .parent_exe_len = 14,
	.parent_args = "sshd: u\0-D\0", .parent_args_len = 11,
};

/* full_proc with its 5 ancestors. */
static struct eg_proc fixed_proc(void)
{
	struct eg_proc p = full_proc;
	p.nancestors = 5;
	static const char *const comm[] = {"sshd", "sshd", "systemd", "\"q\"", ""};
	static const char *const exe[] = {"/usr/sbin/sshd", "/usr/sbin/sshd",
					  "/usr/lib/systemd/systemd", "/x\\y", ""};
	for (int i = 0; i < 5; i++) {
		p.ancestors[i].comm = comm[i];
		p.ancestors[i].comm_len = (uint32_t)strlen(comm[i]);
		p.ancestors[i].exe = exe[i];
		p.ancestors[i].exe_len = (uint32_t)strlen(exe[i]);
	}
	return p;
}

static const struct eg_container full_ctr = {
	.cgroup_id = 18446744073709551615ULL,
	.cgroup = "/system.slice/docker-0123.scope", .cgroup_len = 31,
	.id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", .id_len = 64,
	.runtime = "docker", .runtime_len = 6,
	.pod_uid = "d0c4f2a1-5b6e-4c3d-9e8f-7a6b5c4d3e2f", .pod_uid_len = 36,
};

static const struct eg_host full_host = {
	.name = "web-1", .name_len = 5,
	.id = "0123456789abcdef0123456789abcdef", .id_len = 32,
};

#define FULL_CTX ",\"exec_id\":\"aG9zdDo0MjQxOjEyMzQ1\",\"context\":\"exec\"," \
	"\"cwd\":\"/home/u/caf\\udce9/\xc3\xa9\\n\",\"tty\":\"pts/3\",\"loginuid\":1000," \
	"\"parent\":{\"tgid\":1,\"exec_id\":\"aG9zdDoxOjE=\",\"comm\":\"sshd\"," \
	"\"exe\":\"/usr/sbin/sshd\",\"args\":[\"sshd: u\",\"-D\"]}," \
	"\"ancestors\":[{\"comm\":\"sshd\",\"exe\":\"/usr/sbin/sshd\"}," \
	"{\"comm\":\"sshd\",\"exe\":\"/usr/sbin/sshd\"}," \
	"{\"comm\":\"systemd\",\"exe\":\"/usr/lib/systemd/systemd\"}," \
	"{\"comm\":\"\\\"q\\\"\",\"exe\":\"/x\\\\y\"},{\"comm\":\"\",\"exe\":\"\"}]," \
	"\"container_id\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"," \
	"\"container_runtime\":\"docker\",\"pod_uid\":\"d0c4f2a1-5b6e-4c3d-9e8f-7a6b5c4d3e2f\"," \
	"\"cgroup\":\"/system.slice/docker-0123.scope\""
#define FULL_HOST ",\"hostname\":\"web-1\",\"host_id\":\"0123456789abcdef0123456789abcdef\""

/* The context block on every type, its exact keys; the host only when asked. */
static void test_event_context(void)
{
	struct eg_proc pr = fixed_proc();
	static const char args[] = "curl\0-s\0";

	struct eg_event ev = base_event(EG_EV_EXEC);
	ev.proc = &pr;
	ev.ctr = &full_ctr;
	ev.host = &full_host;
	ev.exe = "/usr/bin/curl";
	ev.exe_len = 13;
	ev.args = args;
	ev.args_len = sizeof(args) - 1;
	ev.argc = 2;
	const char *head_exec = COMMON_HEAD "\"type\":\"exec\",\"comm\":\"bash\",\"filename\":"
		"\"/dev/shm/.x\",\"dest_ip\":\"\",\"dest_port\":0," COMMON_IDS "\"truncated\":false,"
		"\"exe\":\"/usr/bin/curl\",\"args\":[\"curl\",\"-s\"],\"memfd\":false,"
		"\"interpreted\":false,\"setuid\":true,\"setgid\":false,\"ld_preload\":true,"
		"\"ld_library_path\":false";
	char want[4096];
	snprintf(want, sizeof(want), "%s" FULL_CTX "}", head_exec);
	const char *got = event_json(&ev);
	CHECK(!strcmp(got, want), "exec with context:\n got %s\nwant %s", got, want);
	snprintf(want, sizeof(want), "%s" FULL_CTX FULL_HOST "}", head_exec);
	got = event_json_host(&ev, true);
	CHECK(!strcmp(got, want), "exec with context and host:\n got %s\nwant %s", got, want);

	/* the other flags, one at a time */
	pr.flags = EG_PROCF_SETGID | EG_PROCF_LD_LIBRARY_PATH;
	got = event_json(&ev);
	CHECK(strstr(got, "\"setuid\":false,\"setgid\":true,\"ld_preload\":false,"
			  "\"ld_library_path\":true,\"exec_id\""), "setgid, ld_library_path: %s", got);

	/* "context": unknown before procfs before fork; exec otherwise */
	static const struct {
		uint32_t flags;
		const char *name;
	} ctxs[] = {
		{0, "exec"},
		{EG_PROCF_FORKED, "fork"},
		{EG_PROCF_SEEDED, "procfs"},
		{EG_PROCF_SEEDED | EG_PROCF_FORKED, "procfs"},
		{EG_PROCF_UNKNOWN, "unknown"},
		{EG_PROCF_UNKNOWN | EG_PROCF_SEEDED | EG_PROCF_FORKED, "unknown"},
		{EG_PROCF_ARGS_TRUNCATED | EG_PROCF_EXE_DELETED | EG_PROCF_SETUID, "exec"},
	};
	for (size_t i = 0; i < sizeof(ctxs) / sizeof(ctxs[0]); i++) {
		char k[64];
		pr.flags = ctxs[i].flags;
		snprintf(k, sizeof(k), ",\"context\":\"%s\",\"cwd\":", ctxs[i].name);
		got = event_json(&ev);
		CHECK(strstr(got, k), "flags 0x%x: want %s in %s", ctxs[i].flags, k, got);
	}
	pr.flags = 0;

	/* open, connect, exit: exe and args after their own keys */
	const char *tail = NULL;
	static const uint32_t types[] = {EG_EV_OPEN, EG_EV_CONNECT, EG_EV_EXIT};
	for (size_t i = 0; i < 3; i++) {
		ev.type = types[i];
		switch (types[i]) {
		case EG_EV_OPEN:
			tail = "\"open_flags\":0,\"requested\":\"\",\"ret\":0,\"requested_differs\":false,"
			       "\"io_uring\":false,\"compat\":false,";
			break;
		case EG_EV_CONNECT:
			tail = "\"protocol\":\"\",\"ret\":0,\"datagram\":false,\"io_uring\":false,"
			       "\"compat\":false,";
			break;
		default:
			tail = "";
		}
		snprintf(want, sizeof(want), COMMON_HEAD "\"type\":\"%s\",\"comm\":\"bash\",\"filename\":"
			 "\"/dev/shm/.x\",\"dest_ip\":\"\",\"dest_port\":0," COMMON_IDS "\"truncated\":false,"
			 "%s\"exe\":\"/usr/bin/curl\",\"args\":[\"curl\",\"-s\"]" EXEC_PROCF FULL_CTX FULL_HOST "}",
			 eg_event_type_name(types[i]), tail);
		got = event_json_host(&ev, true);
		CHECK(!strcmp(got, want), "%s with context:\n got %s\nwant %s",
		      eg_event_type_name(types[i]), got, want);
	}

	/* no host known: empty strings; a loginuid of -1 and a negative one */
	ev.host = NULL;
	pr.loginuid = -1;
	got = event_json_host(&ev, true);
	CHECK(strstr(got, ",\"loginuid\":-1,\"parent\""), "loginuid -1: %s", got);
	size_t n = strlen(got);
	static const char nohost[] = ",\"hostname\":\"\",\"host_id\":\"\"}";
	CHECK(n > sizeof(nohost) && !strcmp(got + n - (sizeof(nohost) - 1), nohost),
	      "no host: %s", got);
	pr.loginuid = INT32_MIN;
	got = event_json(&ev);
	CHECK(strstr(got, ",\"loginuid\":-2147483648,"), "loginuid INT32_MIN: %s", got);
}

static void test_alert(void)
{
	struct eg_event ev = base_event(EG_EV_EXEC);
	ev.uid = ev.gid = 0;
	ev.ppid = 0;
	ev.cgroup_id = 0;
	ev.tgid = 4242;
	struct eg_rule_info r = {
		.id = "builtin_fileless_exec",
		.description = "Fileless or memory-backed executable",
		.severity = "critical",
		.tags_json = "[\"T1620\",\"fileless\"]",
		.source = "builtin",
	};
	b.len = 0;
	eg_json_alert(&b, &ev, &r, NULL, 0, false, NULL);
	eg_buf_putc(&b, 0);
	const char *want =
		"{\"timestamp\":\"2025-01-01T12:00:00Z\",\"rule_id\":\"builtin_fileless_exec\","
		"\"description\":\"Fileless or memory-backed executable\",\"event_type\":\"exec\","
		"\"event\":{\"timestamp\":\"2025-01-01T12:00:00Z\",\"pid\":4242,\"tgid\":4242,"
		"\"type\":\"exec\",\"comm\":\"bash\",\"filename\":\"/dev/shm/.x\",\"dest_ip\":\"\","
		"\"dest_port\":0,\"ppid\":0,\"uid\":0,\"gid\":0,\"cgroup_id\":0,\"truncated\":false,"
		"\"exe\":\"\",\"args\":[],\"memfd\":false,\"interpreted\":false" EXEC_PROCF NO_CTX "},"
		"\"severity\":\"critical\",\"tags\":[\"T1620\",\"fileless\"],\"hostname\":\"\",\"host_id\":\"\"}\n";
	CHECK(!strcmp(b.p, want), "alert:\n got %s\nwant %s", b.p, want);

	/* dynamic description (not NUL-terminated at desc_len), defaults */
	r.severity = NULL;
	r.tags_json = NULL;
	r.id = "my\"rule";
	ev.type = EG_EV_CONNECT;
	ev.ts_ns += 250000000;
	b.len = 0;
	eg_json_alert(&b, &ev, &r, "shell then connect\tXXXX", 19, false, NULL);
	eg_buf_putc(&b, 0);
	want = "{\"timestamp\":\"2025-01-01T12:00:00.25Z\",\"rule_id\":\"my\\\"rule\","
	       "\"description\":\"shell then connect\\t\",\"event_type\":\"connect\","
	       "\"event\":{\"timestamp\":\"2025-01-01T12:00:00.25Z\",\"pid\":4242,\"tgid\":4242,"
	       "\"type\":\"connect\",\"comm\":\"bash\",\"filename\":\"/dev/shm/.x\",\"dest_ip\":\"\","
	       "\"dest_port\":0,\"ppid\":0,\"uid\":0,\"gid\":0,\"cgroup_id\":0,\"truncated\":false,"
	       "\"protocol\":\"\",\"ret\":0,\"datagram\":false,\"io_uring\":false,\"compat\":false"
	       NO_EXE NO_CTX "},\"severity\":\"warning\",\"tags\":[],\"hostname\":\"\",\"host_id\":\"\"}\n";
	CHECK(!strcmp(b.p, want), "alert with desc:\n got %s\nwant %s", b.p, want);

	/* events lost since the previous batch: one key after "tags", else none */
	b.len = 0;
	eg_json_alert(&b, &ev, &r, "shell then connect\tXXXX", 19, true, NULL);
	eg_buf_putc(&b, 0);
	want = "{\"timestamp\":\"2025-01-01T12:00:00.25Z\",\"rule_id\":\"my\\\"rule\","
	       "\"description\":\"shell then connect\\t\",\"event_type\":\"connect\","
	       "\"event\":{\"timestamp\":\"2025-01-01T12:00:00.25Z\",\"pid\":4242,\"tgid\":4242,"
	       "\"type\":\"connect\",\"comm\":\"bash\",\"filename\":\"/dev/shm/.x\",\"dest_ip\":\"\","
	       "\"dest_port\":0,\"ppid\":0,\"uid\":0,\"gid\":0,\"cgroup_id\":0,\"truncated\":false,"
	       "\"protocol\":\"\",\"ret\":0,\"datagram\":false,\"io_uring\":false,\"compat\":false"
	       NO_EXE NO_CTX "},\"severity\":\"warning\",\"tags\":[],\"hostname\":\"\",\"host_id\":\"\","
	       "\"events_lost\":true}\n";
	CHECK(!strcmp(b.p, want), "alert with events_lost:\n got %s\nwant %s", b.p, want);

	/* the host at the alert's top level, not in its event; then events_lost */
	struct eg_proc pr = fixed_proc();
	ev.proc = &pr;
	ev.ctr = &full_ctr;
	ev.host = &full_host;
	b.len = 0;
	eg_json_alert(&b, &ev, &r, "d", 1, true, NULL);
	eg_buf_putc(&b, 0);
	want = "{\"timestamp\":\"2025-01-01T12:00:00.25Z\",\"rule_id\":\"my\\\"rule\","
	       "\"description\":\"d\",\"event_type\":\"connect\","
	       "\"event\":{\"timestamp\":\"2025-01-01T12:00:00.25Z\",\"pid\":4242,\"tgid\":4242,"
	       "\"type\":\"connect\",\"comm\":\"bash\",\"filename\":\"/dev/shm/.x\",\"dest_ip\":\"\","
	       "\"dest_port\":0,\"ppid\":0,\"uid\":0,\"gid\":0,\"cgroup_id\":0,\"truncated\":false,"
	       "\"protocol\":\"\",\"ret\":0,\"datagram\":false,\"io_uring\":false,\"compat\":false"
	       ",\"exe\":\"\",\"args\":[],\"setuid\":true,\"setgid\":false,\"ld_preload\":true,"
	       "\"ld_library_path\":false" FULL_CTX "},\"severity\":\"warning\",\"tags\":[]" FULL_HOST
	       ",\"events_lost\":true}\n";
	CHECK(!strcmp(b.p, want), "alert with context:\n got %s\nwant %s", b.p, want);
}

/* The response keys (docs/response.md): after everything else, only for a
 * rule with an action; the reference's keys unchanged. */
static void test_alert_response(void)
{
	struct eg_event ev = base_event(EG_EV_OPEN);
	struct eg_rule_info r = {.id = "k", .description = "d", .severity = "error",
				 .action = EG_ACTION_KILL};
	static const char head[] = "{\"timestamp\":\"2025-01-01T12:00:00Z\",\"rule_id\":\"k\"";
	static const struct {
		struct eg_response_outcome act;
		bool lost;
		const char *tail; /* after "host_id":"" */
	} cases[] = {
		{{.action = EG_ACTION_ALERT}, false, "}\n"},
		{{.action = EG_ACTION_KILL, .result = EG_RESP_DRY_RUN}, false,
		 ",\"action\":\"kill\",\"enforced\":false}\n"},
		{{.action = EG_ACTION_KILL, .result = EG_RESP_DRY_RUN}, true,
		 ",\"events_lost\":true,\"action\":\"kill\",\"enforced\":false}\n"},
		{{.action = EG_ACTION_KILL, .result = EG_RESP_KILLED, .delay_ns = 2345678}, false,
		 ",\"action\":\"kill\",\"enforced\":true,\"enforced_in\":\"userspace\","
		 "\"result\":\"killed\",\"action_delay_ns\":2345678}\n"},
		{{.action = EG_ACTION_KILL, .result = EG_RESP_GONE, .delay_ns = 7, .reason = "exited"},
		 false,
		 ",\"action\":\"kill\",\"enforced\":true,\"enforced_in\":\"userspace\","
		 "\"result\":\"gone\",\"reason\":\"exited\",\"action_delay_ns\":7}\n"},
		{{.action = EG_ACTION_KILL, .result = EG_RESP_PROTECTED, .delay_ns = 8,
		  .reason = "protect: /usr/sbin/\"sshd\""},
		 false,
		 ",\"action\":\"kill\",\"enforced\":true,\"enforced_in\":\"userspace\","
		 "\"result\":\"protected\",\"reason\":\"protect: /usr/sbin/\\\"sshd\\\"\","
		 "\"action_delay_ns\":8}\n"},
		{{.action = EG_ACTION_KILL, .result = EG_RESP_ERROR, .delay_ns = 9,
		  .reason = "pidfd_send_signal: Operation not permitted"},
		 false,
		 ",\"action\":\"kill\",\"enforced\":true,\"enforced_in\":\"userspace\","
		 "\"result\":\"error: pidfd_send_signal: Operation not permitted\",\"action_delay_ns\":9}\n"},
		{{.action = EG_ACTION_KILL, .result = EG_RESP_KILLED, .where = EG_ENFORCED_KERNEL}, false,
		 ",\"action\":\"kill\",\"enforced\":true,\"enforced_in\":\"kernel\","
		 "\"result\":\"killed\",\"action_delay_ns\":0}\n"},
	};
	struct eg_buf plain = {0};
	eg_json_alert(&plain, &ev, &r, NULL, 0, false, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b.len = 0;
		eg_json_alert(&b, &ev, &r, NULL, 0, cases[i].lost, &cases[i].act);
		eg_buf_putc(&b, 0);
		/* everything up to host_id as without a response */
		size_t common = plain.len - 2; /* without "}\n" */
		CHECK(!strncmp(b.p, head, sizeof(head) - 1) && !strncmp(b.p, plain.p, common),
		      "case %zu: the alert's own keys unchanged:\n got %s", i, b.p);
		CHECK(!strcmp(b.p + common, cases[i].tail), "case %zu:\n got %s\nwant %s", i,
		      b.p + common, cases[i].tail);
	}
	eg_buf_free(&plain);
}

/* Steady state: the buffer stops growing once it is large enough. */
static void test_no_growth(void)
{
	struct eg_event ev = base_event(EG_EV_OPEN);
	struct eg_rule_info r = {.id = "r", .description = "d", .severity = "info",
				 .tags_json = "[]", .source = "x"};
	struct eg_buf a = {0};
	eg_json_alert(&a, &ev, &r, NULL, 0, false, NULL);
	size_t cap = a.cap;
	char *p = a.p;
	for (int i = 0; i < 1000; i++) {
		a.len = 0;
		eg_json_alert(&a, &ev, &r, NULL, 0, false, NULL);
	}
	CHECK(a.cap == cap && a.p == p, "buffer grew in steady state");

	/* speed, for the record */
	struct timespec t0, t1;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	const int n = 1000000;
	for (int i = 0; i < n; i++) {
		a.len = 0;
		ev.ts_ns += 1000;
		eg_json_alert(&a, &ev, &r, NULL, 0, false, NULL);
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	fprintf(stderr, "eg_json_alert: %.0f ns per alert line (%zu bytes)\n", ns / n, a.len);
	eg_buf_free(&a);
}

int main(void)
{
	test_basic_escapes();
	test_utf8();
	test_random_against_model();
	test_time();
	test_event();
	test_event_context();
	test_alert();
	test_alert_response();
	test_no_growth();
	eg_buf_free(&b);
	return CHECK_SUMMARY("test_json");
}
