/* SPDX-License-Identifier: MIT */
/*
 * The replay reader: every field, every error reason (exact text), nested
 * unknown fields, \u escapes, the process context (its keys, the defaults of
 * old lines, its errors), the writer -> reader round trip of odd strings and
 * of a full context, and eg_replay_run on files with bad, blank, CRLF and
 * over-long lines, and on files whose every line is rejected (exit 1).
 * Independent of the engine's rules: parsed events are aborted, not run,
 * except in eg_replay_run, whose alerts go to a scratch file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alerts.h"
#include "engine.h"
#include "evtypes.h"
#include "json.h"
#include "metrics.h"
#include "pipeline.h"
#include "replay.h"
#include "check.h"


static struct eg_pipeline *P;
static char tmpdir[] = "/tmp/eg_test_replay.XXXXXX";
static char err[512];

/* Parses line into *ev (strings stay valid until the next parse). 0 or -1. */
static int parse(const char *line, size_t len, struct eg_event *ev)
{
	static int open_event;
	if (open_event)
		eg_pipe_abort(P);
	struct eg_event *e = eg_pipe_begin(P, EG_REPLAY_ROOM(len));
	open_event = 1;
	err[0] = 0;
	int rc = eg_replay_parse(P, line, len, e, err, sizeof(err));
	*ev = *e;
	return rc;
}

static int parse_s(const char *line, struct eg_event *ev)
{
	return parse(line, strlen(line), ev);
}

#define STREQ(s, n, want) ((n) == strlen(want) && !memcmp((s), (want), (n)))

static void test_fields(void)
{
	struct eg_event ev;
	int rc = parse_s("{\"timestamp\":\"2025-01-01T12:00:00Z\",\"pid\":4242,\"tgid\":4241,"
			 "\"type\":\"exec\",\"comm\":\"bash\",\"filename\":\"/dev/shm/.x\","
			 "\"dest_ip\":\"\",\"dest_port\":0,\"ppid\":1,\"uid\":4294967295,\"gid\":7,"
			 "\"cgroup_id\":18446744073709551615,\"truncated\":true,\"exe\":\"/bin/bash\","
			 "\"args\":[\"bash\",\"-c\",\"id\"],\"memfd\":true,\"open_flags\":577}",
			 &ev);
	CHECK(rc == 0, "full exec line: %s", err);
	CHECK(ev.ts_ns == 1735732800LL * 1000000000LL, "ts %" PRId64, ev.ts_ns);
	CHECK(ev.pid == 4242 && ev.tgid == 4241 && ev.ppid == 1 && ev.uid == 4294967295u &&
		      ev.gid == 7,
	      "ids %u %u %u %u %u", ev.pid, ev.tgid, ev.ppid, ev.uid, ev.gid);
	CHECK(ev.type == EG_EV_EXEC, "type %u", ev.type);
	CHECK(ev.cgroup_id == UINT64_MAX, "cgroup_id");
	CHECK(ev.flags == (EG_EVF_TRUNCATED | EG_EVF_MEMFD), "flags %u", ev.flags);
	CHECK(STREQ(ev.comm, ev.comm_len, "bash") && ev.comm[4] == 0, "comm");
	CHECK(STREQ(ev.filename, ev.filename_len, "/dev/shm/.x"), "filename");
	CHECK(STREQ(ev.exe, ev.exe_len, "/bin/bash"), "exe");
	CHECK(ev.dest_ip_len == 0 && ev.dest_ip[0] == 0, "dest_ip");
	CHECK(ev.argc == 3 && ev.args_len == 11 && !memcmp(ev.args, "bash\0-c\0id\0", 11), "args");
	CHECK(ev.open_flags == 577, "open_flags");

	/* missing fields are zero/empty; strings are never NULL */
	rc = parse_s("{\"type\":\"connect\"}", &ev);
	CHECK(rc == 0, "minimal line: %s", err);
	CHECK(ev.ts_ns == 0 && ev.pid == 0 && ev.dest_port == 0 && ev.argc == 0 && ev.flags == 0,
	      "zeroes");
	CHECK(ev.comm && !ev.comm[0] && ev.filename && !ev.filename[0] && ev.exe && ev.dest_ip &&
		      ev.args,
	      "empty strings");

	/* whitespace everywhere, null leaves a field alone, false clears a flag */
	rc = parse_s(" \t{ \"type\" : \"open\" , \"pid\" : null, \"comm\":null, \"truncated\" : true,"
		     "\"truncated\":false, \"dest_port\": 65535 }  \r\t", &ev);
	CHECK(rc == 0, "spaces: %s", err);
	CHECK(ev.type == EG_EV_OPEN && ev.pid == 0 && ev.comm_len == 0 && ev.flags == 0 &&
		      ev.dest_port == 65535,
	      "spaces fields");

	/* each type name */
	const char *types[] = {"exec", "open", "connect", "exit"};
	for (int i = 0; i < 4; i++) {
		char line[64];
		snprintf(line, sizeof(line), "{\"type\":\"%s\"}", types[i]);
		rc = parse_s(line, &ev);
		CHECK(rc == 0 && ev.type == (uint32_t)(i + 1), "type %s", types[i]);
	}
	/* an escaped key still names the field */
	rc = parse_s("{\"ty\\u0070e\":\"exit\",\"p\\u0069d\":9}", &ev);
	CHECK(rc == 0 && ev.type == EG_EV_EXIT && ev.pid == 9, "escaped keys: %s", err);
	/* duplicate keys: the last wins */
	rc = parse_s("{\"type\":\"exec\",\"comm\":\"a\",\"comm\":\"bb\",\"args\":[\"x\"],\"args\":[]}",
		     &ev);
	CHECK(rc == 0 && STREQ(ev.comm, ev.comm_len, "bb") && ev.argc == 0, "duplicates");
}

/* A full context line: every key lands in proc, ctr or host. */
static void test_context(void)
{
	struct eg_event ev;
	int rc = parse_s(
		"{\"type\":\"open\",\"pid\":11,\"tgid\":10,\"ppid\":9,\"uid\":1000,\"gid\":100,"
		"\"comm\":\"cat\",\"cgroup_id\":77,\"exe\":\"/usr/bin/cat\",\"args\":[\"cat\",\"/x\"],"
		"\"exec_id\":\"ZXhlYzox\",\"context\":\"fork\",\"cwd\":\"/tmp/\\udce9\",\"tty\":\"pts/1\","
		"\"loginuid\":-2147483648,\"setuid\":true,\"setgid\":true,\"ld_preload\":true,"
		"\"ld_library_path\":true,"
		"\"parent\":{\"tgid\":9,\"exec_id\":\"cDo5\",\"comm\":\"bash\",\"exe\":\"/bin/bash\","
		"\"args\":[\"bash\",\"-i\"]},"
		"\"ancestors\":[{\"comm\":\"bash\",\"exe\":\"/bin/bash\"},{\"exe\":\"/usr/sbin/sshd\"},{}],"
		"\"container_id\":\"abc\",\"container_runtime\":\"containerd\",\"pod_uid\":\"p-1\","
		"\"cgroup\":\"/kubepods/x\",\"hostname\":\"h\\u00e9\",\"host_id\":\"0123\"}",
		&ev);
	CHECK(rc == 0, "context line: %s", err);
	const struct eg_proc *p = ev.proc;
	CHECK(p && ev.ctr && ev.host, "context pointers %p %p %p", (void *)p, (void *)ev.ctr,
	      (void *)ev.host);
	if (!p || !ev.ctr || !ev.host)
		return;
	CHECK(((uintptr_t)p & 7) == 0, "proc not aligned");
	CHECK(p->tgid == 10 && p->ppid == 9 && p->uid == 1000 && p->gid == 100, "proc ids");
	CHECK(p->comm == ev.comm && p->comm_len == 3 && p->exe == ev.exe && p->exe_len == 12 &&
		      p->args == ev.args && p->args_len == ev.args_len && p->argc == 2,
	      "proc comm, exe, args are the event's");
	CHECK(STREQ(p->exec_id, p->exec_id_len, "ZXhlYzox"), "exec_id");
	CHECK(STREQ(p->cwd, p->cwd_len, "/tmp/\xe9") && p->cwd[p->cwd_len] == 0, "cwd");
	CHECK(STREQ(p->tty, p->tty_len, "pts/1"), "tty");
	CHECK(p->loginuid == INT32_MIN, "loginuid %d", p->loginuid);
	CHECK(p->flags == (EG_PROCF_FORKED | EG_PROCF_SETUID | EG_PROCF_SETGID | EG_PROCF_LD_PRELOAD |
			   EG_PROCF_LD_LIBRARY_PATH),
	      "flags 0x%x", p->flags);
	CHECK(p->parent_tgid == 9 && STREQ(p->parent_exec_id, p->parent_exec_id_len, "cDo5") &&
		      STREQ(p->parent_comm, p->parent_comm_len, "bash") &&
		      STREQ(p->parent_exe, p->parent_exe_len, "/bin/bash") && p->parent_argc == 2 &&
		      p->parent_args_len == 8 && !memcmp(p->parent_args, "bash\0-i\0", 8),
	      "parent");
	CHECK(p->nancestors == 3, "nancestors %u", p->nancestors);
	CHECK(STREQ(p->ancestors[0].comm, p->ancestors[0].comm_len, "bash") &&
		      STREQ(p->ancestors[0].exe, p->ancestors[0].exe_len, "/bin/bash") &&
		      STREQ(p->ancestors[1].comm, p->ancestors[1].comm_len, "") &&
		      STREQ(p->ancestors[1].exe, p->ancestors[1].exe_len, "/usr/sbin/sshd") &&
		      p->ancestors[2].comm && p->ancestors[2].comm_len == 0 && p->ancestors[2].exe &&
		      p->ancestors[2].exe_len == 0,
	      "ancestors");
	const struct eg_container *c = ev.ctr;
	CHECK(c->cgroup_id == 77 && STREQ(c->id, c->id_len, "abc") &&
		      STREQ(c->runtime, c->runtime_len, "containerd") &&
		      STREQ(c->pod_uid, c->pod_uid_len, "p-1") &&
		      STREQ(c->cgroup, c->cgroup_len, "/kubepods/x"),
	      "container");
	CHECK(STREQ(ev.host->name, ev.host->name_len, "h\xc3\xa9") &&
		      STREQ(ev.host->id, ev.host->id_len, "0123"),
	      "host");

	/* the other context names */
	static const struct {
		const char *name;
		uint32_t flags;
	} ctxs[] = {{"exec", 0}, {"procfs", EG_PROCF_SEEDED}, {"unknown", EG_PROCF_UNKNOWN},
		    {"fork", EG_PROCF_FORKED}, {"\\u0065xec", 0}};
	for (size_t i = 0; i < sizeof(ctxs) / sizeof(ctxs[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line), "{\"type\":\"exit\",\"context\":\"%s\"}", ctxs[i].name);
		rc = parse_s(line, &ev);
		CHECK(rc == 0 && ev.proc->flags == ctxs[i].flags, "context %s: %s flags 0x%x",
		      ctxs[i].name, err, rc ? 0 : ev.proc->flags);
	}
	/* the last "context" wins; false clears a flag */
	rc = parse_s("{\"type\":\"exec\",\"context\":\"fork\",\"setuid\":true,\"context\":\"procfs\","
		     "\"setuid\":false}", &ev);
	CHECK(rc == 0 && ev.proc->flags == EG_PROCF_SEEDED, "repeated context: flags 0x%x",
	      ev.proc->flags);

	/* a repeated parent or ancestors replaces the first one; nulls leave a
	 * field alone; escaped keys inside */
	rc = parse_s("{\"type\":\"exec\",\"parent\":{\"tgid\":5,\"comm\":\"a\",\"args\":[\"a\"]},"
		     "\"parent\":{\"\\u0074gid\":6,\"exe\":null,\"exec_id\":\"e\"},\"parent\":null,"
		     "\"ancestors\":[{\"comm\":\"x\"},{},{}],\"ancestors\":[ { \"c\\u006fmm\" : \"y\" ,"
		     "\"exe\":null} ],\"ancestors\":null}", &ev);
	CHECK(rc == 0, "repeated parent: %s", err);
	if (rc == 0) {
		p = ev.proc;
		CHECK(p->parent_tgid == 6 && p->parent_comm_len == 0 && p->parent_exe_len == 0 &&
			      p->parent_argc == 0 && p->parent_args_len == 0 &&
			      STREQ(p->parent_exec_id, p->parent_exec_id_len, "e"),
		      "repeated parent: the last one");
		CHECK(p->nancestors == 1 && STREQ(p->ancestors[0].comm, p->ancestors[0].comm_len, "y") &&
			      p->ancestors[0].exe_len == 0,
		      "repeated ancestors: the last one");
	}
	/* empty parent and ancestors; a key spelled with escapes only */
	rc = parse_s("{\"type\":\"exec\",\"parent\":{ },\"ancestors\":[ ],"
		     "\"\\u0063\\u006f\\u006e\\u0074\\u0061\\u0069\\u006e\\u0065\\u0072\\u005f\\u0072"
		     "\\u0075\\u006e\\u0074\\u0069\\u006d\\u0065\":\"podman\"}", &ev);
	CHECK(rc == 0 && ev.proc->nancestors == 0 && ev.proc->parent_tgid == 0 &&
		      STREQ(ev.ctr->runtime, ev.ctr->runtime_len, "podman"),
	      "empty parent, escaped key: %s", err);
	/* a host key alone gives a host; unknown keys beside the context keys
	 * are still ignored at the top level */
	rc = parse_s("{\"type\":\"exec\",\"host_id\":\"x\",\"parent_x\":{\"y\":1}}", &ev);
	CHECK(rc == 0 && ev.host && ev.host->name_len == 0 && ev.host->name &&
		      STREQ(ev.host->id, ev.host->id_len, "x"),
	      "host_id alone: %s", err);
	rc = parse_s("{\"type\":\"exec\",\"hostname\":null}", &ev);
	CHECK(rc == 0 && !ev.host, "hostname null: no host");
}

/* A line without the context keys (a recording made before them). */
static void test_context_defaults(void)
{
	struct eg_event ev;
	int rc = parse_s("{\"type\":\"connect\",\"tgid\":7,\"ppid\":3,\"uid\":2,\"gid\":4,"
			 "\"comm\":\"nc\",\"cgroup_id\":99,\"exe\":\"/bin/nc\",\"args\":[\"nc\"]}", &ev);
	CHECK(rc == 0, "old line: %s", err);
	const struct eg_proc *p = ev.proc;
	CHECK(p && ev.ctr && !ev.host, "old line: proc and ctr set, no host");
	if (!p || !ev.ctr)
		return;
	CHECK(p->flags == EG_PROCF_UNKNOWN && p->loginuid == -1, "old line: flags 0x%x loginuid %d",
	      p->flags, p->loginuid);
	CHECK(p->tgid == 7 && p->ppid == 3 && p->uid == 2 && p->gid == 4 && p->argc == 1 &&
		      STREQ(p->comm, p->comm_len, "nc") && STREQ(p->exe, p->exe_len, "/bin/nc"),
	      "old line: the event's fields");
	const char *strs[] = {p->exec_id, p->cwd, p->tty, p->parent_exec_id, p->parent_comm,
			      p->parent_exe, p->parent_args, ev.ctr->id, ev.ctr->runtime,
			      ev.ctr->pod_uid, ev.ctr->cgroup};
	uint32_t lens = p->exec_id_len | p->cwd_len | p->tty_len | p->parent_exec_id_len |
			p->parent_comm_len | p->parent_exe_len | p->parent_args_len | p->parent_argc |
			p->parent_tgid | p->nancestors | ev.ctr->id_len | ev.ctr->runtime_len |
			ev.ctr->pod_uid_len | ev.ctr->cgroup_len;
	int empty = lens == 0;
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		empty &= strs[i] && !strs[i][0];
	CHECK(empty, "old line: context strings empty, never NULL");
	CHECK(ev.ctr->cgroup_id == 99, "old line: container cgroup_id %" PRIu64, ev.ctr->cgroup_id);

	/* no "context" but an exec id: an exec; an empty exec id: unknown */
	rc = parse_s("{\"type\":\"open\",\"exec_id\":\"x\"}", &ev);
	CHECK(rc == 0 && ev.proc->flags == 0, "exec_id without context: flags 0x%x", ev.proc->flags);
	rc = parse_s("{\"type\":\"open\",\"exec_id\":\"\",\"setgid\":true}", &ev);
	CHECK(rc == 0 && ev.proc->flags == (EG_PROCF_UNKNOWN | EG_PROCF_SETGID),
	      "empty exec_id without context: flags 0x%x", ev.proc->flags);

	/* and it writes back with the defaults, host "" */
	struct eg_buf a = {0};
	rc = parse_s("{\"type\":\"exit\",\"timestamp\":0,\"comm\":\"x\"}", &ev);
	eg_json_event(&a, &ev, true);
	eg_buf_putc(&a, 0);
	const char *want =
		"{\"timestamp\":\"1970-01-01T00:00:00Z\",\"pid\":0,\"tgid\":0,\"type\":\"exit\","
		"\"comm\":\"x\",\"filename\":\"\",\"dest_ip\":\"\",\"dest_port\":0,\"ppid\":0,\"uid\":0,"
		"\"gid\":0,\"cgroup_id\":0,\"truncated\":false,\"exe\":\"\",\"args\":[],\"setuid\":false,"
		"\"setgid\":false,\"ld_preload\":false,\"ld_library_path\":false,\"exec_id\":\"\",\"context\":\"unknown\",\"cwd\":\"\",\"tty\":\"\",\"loginuid\":-1,\"parent\":{\"tgid\":0,"
		"\"exec_id\":\"\",\"comm\":\"\",\"exe\":\"\",\"args\":[]},\"ancestors\":[],"
		"\"container_id\":\"\",\"container_runtime\":\"\",\"pod_uid\":\"\",\"cgroup\":\"\","
		"\"hostname\":\"\",\"host_id\":\"\"}";
	CHECK(rc == 0 && !strcmp(a.p, want), "old line written back:\n got %s\nwant %s", a.p, want);
	eg_buf_free(&a);
}

static void test_unknown_fields(void)
{
	struct eg_event ev;
	int rc = parse_s("{\"x\":{\"a\":[1,2.5e-3,-0,{\"b\":null,\"c\":[[],{}]}],\"d\":\"}\"},"
			 "\"type\":\"exec\",\"y\":[true,false,null,\"\\u00e9\\n\"],\"z\":-12.5E+3,"
			 "\"pid\":5,\"w\":{}, \"v\":[]}",
			 &ev);
	CHECK(rc == 0, "nested unknown fields: %s", err);
	CHECK(ev.type == EG_EV_EXEC && ev.pid == 5, "fields around unknown ones");
	/* nesting limit */
	char deep[2000];
	int n = 0;
	n += sprintf(deep, "{\"type\":\"exec\",\"x\":");
	for (int i = 0; i < 300; i++)
		deep[n++] = '[';
	for (int i = 0; i < 300; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n] = 0;
	rc = parse_s(deep, &ev);
	CHECK(rc == -1 && !strcmp(err, "not JSON: nested deeper than 256 levels"), "deep: %s", err);
}

static void test_timestamps(void)
{
	struct {
		const char *in;
		int64_t want;
	} ok[] = {
		{"\"2025-01-01T12:00:00Z\"", 1735732800LL * 1000000000LL},
		{"\"2025-01-01T12:00:00.5Z\"", 1735732800LL * 1000000000LL + 500000000},
		{"\"2025-01-01T12:00:00.123456789Z\"", 1735732800LL * 1000000000LL + 123456789},
		{"\"2025-01-01T12:00:00.1234567891Z\"", 1735732800LL * 1000000000LL + 123456789},
		{"\"2025-01-01T13:30:00+01:30\"", 1735732800LL * 1000000000LL},
		{"\"2025-01-01T07:00:00.25-05:00\"", 1735732800LL * 1000000000LL + 250000000},
		{"\"2025-01-01t12:00:00z\"", 1735732800LL * 1000000000LL},
		{"\"2024-02-29T00:00:00Z\"", 1709164800LL * 1000000000LL},
		{"\"1969-12-31T23:59:59.999999999Z\"", -1},
		{"\"1970-01-01T00:00:00Z\"", 0},
		{"1735732800000000001", 1735732800000000001LL},
		{"-5", -5},
		{"9223372036854775807", INT64_MAX},
		{"-9223372036854775808", INT64_MIN},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line), "{\"type\":\"open\",\"timestamp\":%s}", ok[i].in);
		struct eg_event ev;
		int rc = parse_s(line, &ev);
		CHECK(rc == 0 && ev.ts_ns == ok[i].want, "timestamp %s: rc %d %s ts %" PRId64,
		      ok[i].in, rc, err, ev.ts_ns);
	}
	const char *bad[] = {
		"\"2025-01-01 12:00:00Z\"", "\"2025-01-01T12:00:00\"", "\"2025-13-01T12:00:00Z\"",
		"\"2025-02-29T12:00:00Z\"", "\"2025-01-01T24:00:00Z\"", "\"2025-01-01T12:00:60Z\"",
		"\"2025-01-01T12:00:00.Z\"", "\"2025-01-01T12:00:00+0100\"", "\"2025-01-01T12:00:00Zx\"",
		"\"2025-1-01T12:00:00Z\"", "\"\"", "\"2263-01-01T00:00:00Z\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[128], want[160];
		snprintf(line, sizeof(line), "{\"type\":\"open\",\"timestamp\":%s}", bad[i]);
		snprintf(want, sizeof(want), "field \"timestamp\": invalid RFC 3339 time %s", bad[i]);
		struct eg_event ev;
		int rc = parse_s(line, &ev);
		CHECK(rc == -1 && !strcmp(err, want), "timestamp %s: got \"%s\"", bad[i], err);
	}
}

static void test_escapes(void)
{
	struct eg_event ev;
	int rc = parse_s("{\"type\":\"open\",\"filename\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t"
			 "\\u0041\\u00e9\\u20ac\\ud83d\\ude00\\udc80\\udcff\\ud800x\\udc00\\u0001\"}",
			 &ev);
	CHECK(rc == 0, "escapes: %s", err);
	const char want[] = "a\"b\\c/d\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x80\xff"
			    "\xef\xbf\xbdx\xef\xbf\xbd\x01";
	CHECK(ev.filename_len == sizeof(want) - 1 && !memcmp(ev.filename, want, sizeof(want) - 1),
	      "decoded filename (%u bytes)", ev.filename_len);
	/* raw UTF-8 and raw invalid bytes in the input are kept as they are */
	rc = parse_s("{\"type\":\"open\",\"comm\":\"\xc3\xa9\xff\"}", &ev);
	CHECK(rc == 0 && STREQ(ev.comm, ev.comm_len, "\xc3\xa9\xff"), "raw bytes");
	rc = parse_s("{\"type\":\"exec\",\"args\":[\"a\\nb\", \"\\udcff\",\"\" ,\"c\"]}", &ev);
	CHECK(rc == 0 && ev.argc == 4 && ev.args_len == 9 &&
		      !memcmp(ev.args, "a\nb\0\xff\0\0c\0", 9),
	      "escaped args: %s", err);
}

static void test_errors(void)
{
	struct {
		const char *line, *reason;
	} cases[] = {
		{"not json", "not JSON: invalid literal at column 1"},
		{"{", "not JSON: unexpected end of line, expected a string key"},
		{"{\"type\":\"exec\"", "not JSON: unexpected end of line, expected ',' or '}'"},
		{"{\"type\" \"exec\"}", "not JSON: unexpected '\"' at column 9, expected ':'"},
		{"{\"type\":\"exec\",}", "not JSON: unexpected '}' at column 16, expected a string key"},
		{"{type:1}", "not JSON: unexpected 't' at column 2, expected a string key"},
		{"{\"type\":\"exec\"} x", "not JSON: unexpected data after the object at column 17"},
		{"{\"type\":\"exec\"}{}", "not JSON: unexpected data after the object at column 16"},
		{"[1,2]", "not a JSON object"},
		{"42", "not a JSON object"},
		{"\"str\"", "not a JSON object"},
		{"null", "not a JSON object"},
		{"[1,2", "not JSON: unexpected end of line, expected ',' or ']'"},
		{"42 43", "not JSON: unexpected data after the value at column 4"},
		{"{\"type\":\"exec\",\"x\":[1,]}", "not JSON: unexpected ']' at column 23, expected a JSON value"},
		{"{\"type\":\"exec\",\"x\":01}", "not JSON: unexpected '1' at column 21, expected ',' or '}'"},
		{"{\"type\":\"exec\",\"x\":1.}", "not JSON: unexpected '}' at column 22, expected a digit"},
		{"{\"type\":\"exec\",\"x\":-}", "not JSON: unexpected '}' at column 21, expected a digit"},
		{"{\"type\":\"exec\",\"x\":tru}", "not JSON: invalid literal at column 20"},
		{"{\"type\":\"exec\",\"x\":\"a\\qb\"}", "not JSON: unexpected 'q' at column 23, expected an escape"},
		{"{\"type\":\"exec\",\"x\":\"\\u12G4\"}", "not JSON: unexpected 'G' at column 25, expected four hex digits after \\u"},
		{"{\"type\":\"exec\",\"x\":\"a\tb\"}", "not JSON: unexpected byte 0x09 at column 22, expected no control character in a string"},
		{"{\"type\":\"exec\",\"x\":\"abc", "not JSON: unexpected end of line, expected '\"' to end the string"},
		{"{\"type\":\"foo\"}", "unknown event type \"foo\""},
		{"{\"type\":\"\"}", "unknown event type \"\""},
		{"{\"type\":\"EXEC\"}", "unknown event type \"EXEC\""},
		{"{\"type\":\"exec\\n\"}", "unknown event type \"exec\\n\""},
		{"{\"type\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		 "unknown event type \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"..."},
		{"{\"type\":1}", "field \"type\": expected a string, got a number"},
		{"{\"pid\":1}", "missing field \"type\""},
		{"{}", "missing field \"type\""},
		{"{\"type\":null}", "missing field \"type\""},
		{"{\"type\":\"exec\",\"pid\":\"1\"}", "field \"pid\": expected an integer, got a string"},
		{"{\"type\":\"exec\",\"pid\":-1}", "field \"pid\": -1 out of range 0..4294967295"},
		{"{\"type\":\"exec\",\"uid\":4294967296}", "field \"uid\": 4294967296 out of range 0..4294967295"},
		{"{\"type\":\"exec\",\"gid\":1.5}", "field \"gid\": 1.5 is not an integer"},
		{"{\"type\":\"exec\",\"tgid\":1e3}", "field \"tgid\": 1e3 is not an integer"},
		{"{\"type\":\"exec\",\"ppid\":[1]}", "field \"ppid\": expected an integer, got an array"},
		{"{\"type\":\"exec\",\"dest_port\":65536}", "field \"dest_port\": 65536 out of range 0..65535"},
		{"{\"type\":\"exec\",\"cgroup_id\":18446744073709551616}", "field \"cgroup_id\": 18446744073709551616 out of range 0..18446744073709551615"},
		{"{\"type\":\"exec\",\"open_flags\":true}", "field \"open_flags\": expected an integer, got a boolean"},
		{"{\"type\":\"exec\",\"comm\":5}", "field \"comm\": expected a string, got a number"},
		{"{\"type\":\"exec\",\"filename\":{}}", "field \"filename\": expected a string, got an object"},
		{"{\"type\":\"exec\",\"exe\":true}", "field \"exe\": expected a string, got a boolean"},
		{"{\"type\":\"exec\",\"dest_ip\":[]}", "field \"dest_ip\": expected a string, got an array"},
		{"{\"type\":\"exec\",\"args\":\"a b\"}", "field \"args\": expected an array of strings, got a string"},
		{"{\"type\":\"exec\",\"args\":[\"a\",1]}", "field \"args\": expected an array of strings, got a number in it"},
		{"{\"type\":\"exec\",\"args\":[\"a\",null]}", "field \"args\": expected an array of strings, got null in it"},
		{"{\"type\":\"exec\",\"truncated\":1}", "field \"truncated\": expected true or false, got a number"},
		{"{\"type\":\"exec\",\"memfd\":\"true\"}", "field \"memfd\": expected true or false, got a string"},
		{"{\"type\":\"exec\",\"timestamp\":true}", "field \"timestamp\": expected an RFC 3339 time or nanoseconds, got a boolean"},
		{"{\"type\":\"exec\",\"timestamp\":1.5}", "field \"timestamp\": 1.5 is not an integer"},
		{"{\"type\":\"exec\",\"timestamp\":9223372036854775808}", "field \"timestamp\": 9223372036854775808 out of range"},
		{"{\"type\":\"open\",\"ret\":\"-2\"}", "field \"ret\": expected an integer, got a string"},
		{"{\"type\":\"open\",\"ret\":-}", "not JSON: unexpected '}' at column 23, expected a digit"},
		{"{\"type\":\"open\",\"ret\":-99999999999999999999}", "field \"ret\": -99999999999999999999 out of range -2147483648..2147483647"},
		{"{\"type\":\"open\",\"ret\":2147483648}", "field \"ret\": 2147483648 out of range -2147483648..2147483647"},
		{"{\"type\":\"open\",\"ret\":-2147483649}", "field \"ret\": -2147483649 out of range -2147483648..2147483647"},
		{"{\"type\":\"open\",\"ret\":-1.5}", "field \"ret\": -1.5 is not an integer"},
		{"{\"type\":\"open\",\"requested\":1}", "field \"requested\": expected a string, got a number"},
		{"{\"type\":\"open\",\"requested_differs\":0}", "field \"requested_differs\": expected true or false, got a number"},
		{"{\"type\":\"open\",\"io_uring\":\"no\"}", "field \"io_uring\": expected true or false, got a string"},
		{"{\"type\":\"connect\",\"protocol\":\"tcp6\"}", "field \"protocol\": \"tcp6\" is not an IP protocol (tcp, udp, udplite, sctp, icmp, icmpv6, or a number 0..255)"},
		{"{\"type\":\"connect\",\"protocol\":\"256\"}", "field \"protocol\": \"256\" is not an IP protocol (tcp, udp, udplite, sctp, icmp, icmpv6, or a number 0..255)"},
		{"{\"type\":\"connect\",\"protocol\":6}", "field \"protocol\": expected a string, got a number"},
		{"{\"type\":\"exec\",\"exec_id\":1}", "field \"exec_id\": expected a string, got a number"},
		{"{\"type\":\"exec\",\"context\":1}", "field \"context\": expected a string, got a number"},
		{"{\"type\":\"exec\",\"context\":\"execve\"}", "field \"context\": \"execve\" is not exec, fork, procfs or unknown"},
		{"{\"type\":\"exec\",\"context\":\"\"}", "field \"context\": \"\" is not exec, fork, procfs or unknown"},
		{"{\"type\":\"exec\",\"context\":\"EXEC\\n\"}", "field \"context\": \"EXEC\\n\" is not exec, fork, procfs or unknown"},
		{"{\"type\":\"exec\",\"context\":\"uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu\"}", "field \"context\": \"uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu\"... is not exec, fork, procfs or unknown"},
		{"{\"type\":\"exec\",\"cwd\":[]}", "field \"cwd\": expected a string, got an array"},
		{"{\"type\":\"exec\",\"tty\":0}", "field \"tty\": expected a string, got a number"},
		{"{\"type\":\"exec\",\"loginuid\":\"1000\"}", "field \"loginuid\": expected an integer, got a string"},
		{"{\"type\":\"exec\",\"loginuid\":2147483648}", "field \"loginuid\": 2147483648 out of range -2147483648..2147483647"},
		{"{\"type\":\"exec\",\"loginuid\":-2147483649}", "field \"loginuid\": -2147483649 out of range -2147483648..2147483647"},
		{"{\"type\":\"exec\",\"loginuid\":4294967295}", "field \"loginuid\": 4294967295 out of range -2147483648..2147483647"},
		{"{\"type\":\"exec\",\"loginuid\":-1.0}", "field \"loginuid\": -1.0 is not an integer"},
		{"{\"type\":\"exec\",\"setuid\":1}", "field \"setuid\": expected true or false, got a number"},
		{"{\"type\":\"exec\",\"setgid\":\"false\"}", "field \"setgid\": expected true or false, got a string"},
		{"{\"type\":\"exec\",\"ld_preload\":{}}", "field \"ld_preload\": expected true or false, got an object"},
		{"{\"type\":\"exec\",\"ld_library_path\":[]}", "field \"ld_library_path\": expected true or false, got an array"},
		{"{\"type\":\"exec\",\"container_id\":1}", "field \"container_id\": expected a string, got a number"},
		{"{\"type\":\"exec\",\"container_runtime\":true}", "field \"container_runtime\": expected a string, got a boolean"},
		{"{\"type\":\"exec\",\"pod_uid\":{}}", "field \"pod_uid\": expected a string, got an object"},
		{"{\"type\":\"exec\",\"cgroup\":5}", "field \"cgroup\": expected a string, got a number"},
		{"{\"type\":\"exec\",\"hostname\":[\"h\"]}", "field \"hostname\": expected a string, got an array"},
		{"{\"type\":\"exec\",\"host_id\":1}", "field \"host_id\": expected a string, got a number"},
		{"{\"type\":\"exec\",\"parent\":1}", "field \"parent\": expected an object, got a number"},
		{"{\"type\":\"exec\",\"parent\":[]}", "field \"parent\": expected an object, got an array"},
		{"{\"type\":\"exec\",\"parent\":\"bash\"}", "field \"parent\": expected an object, got a string"},
		{"{\"type\":\"exec\",\"parent\":{\"pid\":1}}", "field \"parent\": unknown key \"pid\""},
		{"{\"type\":\"exec\",\"parent\":{\"tgid\":1,\"ancestors\":[]}}", "field \"parent\": unknown key \"ancestors\""},
		{"{\"type\":\"exec\",\"parent\":{\"comm\\n\":1}}", "field \"parent\": unknown key \"comm\\n\""},
		{"{\"type\":\"exec\",\"parent\":{\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\":1}}", "field \"parent\": unknown key \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"..."},
		{"{\"type\":\"exec\",\"parent\":{\"tgid\":\"1\"}}", "field \"parent.tgid\": expected an integer, got a string"},
		{"{\"type\":\"exec\",\"parent\":{\"tgid\":-1}}", "field \"parent.tgid\": -1 out of range 0..4294967295"},
		{"{\"type\":\"exec\",\"parent\":{\"tgid\":4294967296}}", "field \"parent.tgid\": 4294967296 out of range 0..4294967295"},
		{"{\"type\":\"exec\",\"parent\":{\"exec_id\":1}}", "field \"parent.exec_id\": expected a string, got a number"},
		{"{\"type\":\"exec\",\"parent\":{\"comm\":false}}", "field \"parent.comm\": expected a string, got a boolean"},
		{"{\"type\":\"exec\",\"parent\":{\"exe\":{}}}", "field \"parent.exe\": expected a string, got an object"},
		{"{\"type\":\"exec\",\"parent\":{\"args\":\"bash -i\"}}", "field \"parent.args\": expected an array of strings, got a string"},
		{"{\"type\":\"exec\",\"parent\":{\"args\":[\"a\",2]}}", "field \"parent.args\": expected an array of strings, got a number in it"},
		{"{\"type\":\"exec\",\"parent\":{\"tgid\":1,}}", "not JSON: unexpected '}' at column 35, expected a string key"},
		{"{\"type\":\"exec\",\"parent\":{\"tgid\" 1}}", "not JSON: unexpected '1' at column 33, expected ':'"},
		{"{\"type\":\"exec\",\"parent\":{\"tgid\":1", "not JSON: unexpected end of line, expected ',' or '}'"},
		{"{\"type\":\"exec\",\"parent\":{\"tgid\":1]}", "not JSON: unexpected ']' at column 34, expected ',' or '}'"},
		{"{\"type\":\"exec\",\"parent\":{\"tgid\":", "not JSON: unexpected end of line, expected a JSON value"},
		{"{\"type\":\"exec\",\"parent\":{", "not JSON: unexpected end of line, expected a string key"},
		{"{\"type\":\"exec\",\"ancestors\":{}}", "field \"ancestors\": expected an array of objects, got an object"},
		{"{\"type\":\"exec\",\"ancestors\":\"sshd\"}", "field \"ancestors\": expected an array of objects, got a string"},
		{"{\"type\":\"exec\",\"ancestors\":3}", "field \"ancestors\": expected an array of objects, got a number"},
		{"{\"type\":\"exec\",\"ancestors\":[\"sshd\"]}", "field \"ancestors\": expected an array of objects, got a string in it"},
		{"{\"type\":\"exec\",\"ancestors\":[{},null]}", "field \"ancestors\": expected an array of objects, got null in it"},
		{"{\"type\":\"exec\",\"ancestors\":[[]]}", "field \"ancestors\": expected an array of objects, got an array in it"},
		{"{\"type\":\"exec\",\"ancestors\":[{},{},{},{},{},{}]}", "field \"ancestors\": more than 5 entries"},
		{"{\"type\":\"exec\",\"ancestors\":[{},{},{},{},{},{\"comm\":\"x\"},{}]}", "field \"ancestors\": more than 5 entries"},
		{"{\"type\":\"exec\",\"ancestors\":[{\"pid\":1}]}", "field \"ancestors[0]\": unknown key \"pid\""},
		{"{\"type\":\"exec\",\"ancestors\":[{},{\"comm\":\"a\",\"args\":[]}]}", "field \"ancestors[1]\": unknown key \"args\""},
		{"{\"type\":\"exec\",\"ancestors\":[{\"comm\":1}]}", "field \"ancestors[0].comm\": expected a string, got a number"},
		{"{\"type\":\"exec\",\"ancestors\":[{},{},{},{},{\"exe\":[]}]}", "field \"ancestors[4].exe\": expected a string, got an array"},
		{"{\"type\":\"exec\",\"ancestors\":[{}", "not JSON: unexpected end of line, expected ',' or ']'"},
		{"{\"type\":\"exec\",\"ancestors\":[{},]}", "not JSON: unexpected ']' at column 32, expected a JSON value"},
		{"{\"type\":\"exec\",\"ancestors\":[{}}", "not JSON: unexpected '}' at column 31, expected ',' or ']'"},
		{"{\"type\":\"exec\",\"ancestors\":[1.]}", "not JSON: unexpected ']' at column 31, expected a digit"},
		{"{\"type\":\"exec\",\"ancestors\":[", "not JSON: unexpected end of line, expected a JSON value"},
		{"{\"type\":\"exec\",\"ancestors\":[{\"comm\":\"a\"", "not JSON: unexpected end of line, expected ',' or '}'"},
		{"", "not JSON: empty line"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct eg_event ev;
		int rc = parse_s(cases[i].line, &ev);
		CHECK(rc == -1 && !strcmp(err, cases[i].reason), "line %s:\n   got \"%s\"\n  want \"%s\"",
		      cases[i].line, err, cases[i].reason);
	}
	/* a NUL byte inside the line is not JSON */
	struct eg_event ev;
	int rc = parse("{\"type\":\"exec\"}\0", 16, &ev);
	CHECK(rc == -1 && !strcmp(err, "not JSON: unexpected data after the object at column 16"),
	      "NUL: %s", err);
}

/* Writer -> reader -> writer: the bytes come back exactly. */
static void test_round_trip(void)
{
	static char big[5001];
	for (int i = 0; i < 5000; i++)
		big[i] = (char)("/abc\xff\n\"\\\xe2\x82\xac"[i % 12]);
	big[0] = '/';
	static const char args[] = "sh\0-c\0printf '\\x00\xc0\xaf'\n\0\0\xed\xa0\x80\0";
	const char *names[] = {"weird\nname\t\"q\"\\", "\x80\x81\xfe\xff", "\xf4\x90\x80\x80",
			       "ok \xc3\xa9 \xf0\x9f\x98\x80", "\xe2\x82", "", big};
	struct eg_buf a = {0}, c = {0};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct eg_event in = {
			.ts_ns = 1735732800123456789LL + (int64_t)i,
			.type = EG_EV_EXEC,
			.flags = EG_EVF_MEMFD | EG_EVF_TRUNCATED,
			.pid = 1, .tgid = 2, .ppid = 3, .uid = 4, .gid = 5, .open_flags = 0,
			.cgroup_id = 12345678901234ULL,
			.comm = names[i], .comm_len = (uint32_t)strlen(names[i]),
			.filename = names[i], .filename_len = (uint32_t)strlen(names[i]),
			.exe = names[i], .exe_len = (uint32_t)strlen(names[i]),
			.dest_ip = "::1", .dest_ip_len = 3,
			.args = args, .args_len = sizeof(args) - 1, .argc = 5,
		};
		if (names[i] == big)
			in.comm_len = in.filename_len = in.exe_len = 5000;
		a.len = 0;
		eg_json_event(&a, &in, true);
		struct eg_event out;
		int rc = parse(a.p, a.len, &out);
		CHECK(rc == 0, "round trip %zu: parse: %s", i, err);
		if (rc)
			continue;
		CHECK(out.ts_ns == in.ts_ns && out.flags == in.flags && out.cgroup_id == in.cgroup_id &&
			      out.pid == 1 && out.gid == 5,
		      "round trip %zu: numbers", i);
		CHECK(out.filename_len == in.filename_len &&
			      !memcmp(out.filename, in.filename, in.filename_len) &&
			      out.comm_len == in.comm_len && !memcmp(out.comm, in.comm, in.comm_len) &&
			      out.exe_len == in.exe_len && !memcmp(out.exe, in.exe, in.exe_len),
		      "round trip %zu: strings differ", i);
		CHECK(out.argc == in.argc && out.args_len == in.args_len &&
			      !memcmp(out.args, in.args, in.args_len),
		      "round trip %zu: args differ", i);
		c.len = 0;
		eg_json_event(&c, &out, true);
		CHECK(c.len == a.len && !memcmp(a.p, c.p, a.len), "round trip %zu: JSON differs", i);
	}
	eg_buf_free(&a);
	eg_buf_free(&c);
}

/* A full context (parent, 5 ancestors, container, host, bytes that are not
 * UTF-8) on each event type: writer -> reader -> writer gives the same bytes
 * and the reader gives back every field. */
static void test_round_trip_context(void)
{
	static const char pargs[] = "sshd: u@pts/0\0\xff\xfe\0\0";
	struct eg_proc pr = {
		.loginuid = 1000,
		.flags = EG_PROCF_SETUID | EG_PROCF_SETGID | EG_PROCF_LD_PRELOAD |
			 EG_PROCF_LD_LIBRARY_PATH,
		.exec_id = "ZXhlYzoxMjM0NTY3ODk=", .exec_id_len = 20,
		.cwd = "/home/\xe9t\xc3\xa9/\xc0\xaf\n\"q\"", .cwd_len = 17,
		.tty = "pts/0", .tty_len = 5,
		.parent_tgid = 4294967295u,
		.parent_exec_id = "\xed\xa0\x80", .parent_exec_id_len = 3,
		.parent_comm = "sshd", .parent_comm_len = 4,
		.parent_exe = "/usr/sbin/sshd", .parent_exe_len = 14,
		.parent_args = pargs, .parent_args_len = sizeof(pargs) - 1, .parent_argc = 3,
		.nancestors = 5,
	};
	static const char *const an[] = {"sshd", "systemd", "\x80", "a\"b", ""};
	for (int i = 0; i < 5; i++) {
		pr.ancestors[i].comm = an[i];
		pr.ancestors[i].comm_len = (uint32_t)strlen(an[i]);
		pr.ancestors[i].exe = an[4 - i];
		pr.ancestors[i].exe_len = (uint32_t)strlen(an[4 - i]);
	}
	const struct eg_container ctr = {
		.cgroup = "/k/\xf5", .cgroup_len = 4,
		.id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", .id_len = 64,
		.runtime = "cri-o", .runtime_len = 5,
		.pod_uid = "\xe2\x82", .pod_uid_len = 2,
	};
	const struct eg_host host = {.name = "caf\xe9", .name_len = 4, .id = "42", .id_len = 2};
	static const uint32_t flags[] = {0, EG_PROCF_FORKED, EG_PROCF_SEEDED, EG_PROCF_UNKNOWN};
	struct eg_buf a = {0}, c = {0};
	for (uint32_t t = EG_EV_EXEC; t <= EG_EV_EXIT; t++) {
		static const char args[] = "cat\0/etc/\xffshadow\0";
		pr.flags = (pr.flags & ~(uint32_t)(EG_PROCF_FORKED | EG_PROCF_SEEDED | EG_PROCF_UNKNOWN)) |
			   flags[t - 1];
		pr.loginuid = t == EG_EV_EXIT ? -1 : 1000;
		struct eg_event in = {
			.ts_ns = 1735732800123456789LL, .type = t, .pid = 1, .tgid = 2, .ppid = 3,
			.uid = 4, .gid = 5, .cgroup_id = 6, .comm = "cat", .comm_len = 3,
			.filename = "/f", .filename_len = 2, .exe = "/bin/c\x80t", .exe_len = 7,
			.dest_ip = "", .args = args, .args_len = sizeof(args) - 1, .argc = 2,
			.requested = "", .proc = &pr, .ctr = &ctr, .host = &host,
		};
		a.len = 0;
		eg_json_event(&a, &in, true);
		struct eg_event out;
		int rc = parse(a.p, a.len, &out);
		CHECK(rc == 0, "context round trip, %s: parse: %s", eg_event_type_name(t), err);
		if (rc)
			continue;
		const struct eg_proc *p = out.proc;
		/* setuid and friends are written on every event */
		uint32_t want_flags = pr.flags;
		CHECK(p->flags == want_flags && p->loginuid == pr.loginuid &&
			      p->parent_tgid == pr.parent_tgid && p->parent_argc == 3 &&
			      p->nancestors == 5,
		      "context round trip, %s: numbers (flags 0x%x)", eg_event_type_name(t), p->flags);
#define SAME_STR(x, y, f) ((x)->f##_len == (y)->f##_len && !memcmp((x)->f, (y)->f, (x)->f##_len))
		int same = SAME_STR(p, &pr, exec_id) && SAME_STR(p, &pr, cwd) && SAME_STR(p, &pr, tty) &&
			   SAME_STR(p, &pr, parent_exec_id) && SAME_STR(p, &pr, parent_comm) &&
			   SAME_STR(p, &pr, parent_exe) && SAME_STR(p, &pr, parent_args) &&
			   SAME_STR(out.ctr, &ctr, id) && SAME_STR(out.ctr, &ctr, runtime) &&
			   SAME_STR(out.ctr, &ctr, pod_uid) && SAME_STR(out.ctr, &ctr, cgroup) &&
			   SAME_STR(out.host, &host, name) && SAME_STR(out.host, &host, id) &&
			   SAME_STR(&out, &in, exe) && SAME_STR(&out, &in, args) && out.argc == 2;
		for (int i = 0; i < 5; i++)
			same &= SAME_STR(&p->ancestors[i], &pr.ancestors[i], comm) &&
				SAME_STR(&p->ancestors[i], &pr.ancestors[i], exe);
#undef SAME_STR
		CHECK(same, "context round trip, %s: strings differ", eg_event_type_name(t));
		c.len = 0;
		eg_json_event(&c, &out, true);
		CHECK(c.len == a.len && !memcmp(a.p, c.p, a.len),
		      "context round trip, %s: JSON differs\n%.*s\n%.*s", eg_event_type_name(t),
		      (int)a.len, a.p, (int)c.len, c.p);
	}
	eg_buf_free(&a);
	eg_buf_free(&c);
}

/* Runs eg_replay_run on content, stderr captured. Returns its rc. */
static int run_replay(const char *content, size_t len, const char *path, char *errs,
		      size_t errs_len)
{
	char file[256];
	snprintf(file, sizeof(file), "%s/in.jsonl", tmpdir);
	FILE *f = fopen(file, "wb");
	fwrite(content, 1, len, f);
	fclose(f);
	char errfile[256];
	snprintf(errfile, sizeof(errfile), "%s/stderr", tmpdir);
	fflush(stderr);
	int saved = dup(2), efd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(efd, 2);
	close(efd);
	int saved_in = -1;
	if (!strcmp(path, "-")) {
		saved_in = dup(0);
		int ifd = open(file, O_RDONLY);
		dup2(ifd, 0);
		close(ifd);
	}
	volatile sig_atomic_t stop = 0;
	int rc = eg_replay_run(P, strcmp(path, "-") ? (*path ? path : file) : "-", &stop);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	if (saved_in >= 0) {
		dup2(saved_in, 0);
		close(saved_in);
	}
	f = fopen(errfile, "rb");
	size_t n = fread(errs, 1, errs_len - 1, f);
	errs[n] = 0;
	fclose(f);
	return rc;
}

static uint64_t events_total(void)
{
	uint64_t t = 0;
	for (int i = 0; i <= EG_EV_MAX; i++)
		t += atomic_load(&eg_metrics.events[i]);
	return t;
}

static void test_run(void)
{
	char errs[4096], want[4096];
	char file[256];
	snprintf(file, sizeof(file), "%s/in.jsonl", tmpdir);
	const char content[] =
		"{\"type\":\"open\",\"filename\":\"/etc/hosts\"}\n"
		"\n"
		"   \t \r\n"
		"{\"type\":\"connect\",\"dest_port\":80}\r\n"
		"garbage\n"
		"{\"type\":\"open\",\"pid\":-1}\r\n"
		"{\"type\":\"exit\"}\n"
		"{\"type\":\"bogus\"}\n"
		"{\"type\":\"open\"}"; /* no final newline */
	uint64_t ev0 = events_total(), rej0 = atomic_load(&eg_metrics.replay_rejected);
	uint64_t connect0 = atomic_load(&eg_metrics.events[EG_EV_CONNECT]);
	int rc = run_replay(content, sizeof(content) - 1, "", errs, sizeof(errs));
	CHECK(rc == 0, "replay rc %d", rc);
	CHECK(events_total() - ev0 == 4, "events %" PRIu64, events_total() - ev0);
	CHECK(atomic_load(&eg_metrics.events[EG_EV_CONNECT]) - connect0 == 1, "connect events");
	CHECK(atomic_load(&eg_metrics.replay_rejected) - rej0 == 3, "rejected %" PRIu64,
	      atomic_load(&eg_metrics.replay_rejected) - rej0);
	snprintf(want, sizeof(want),
		 "ebpf-guard: %s:5: not JSON: unexpected 'g' at column 1, expected a JSON value\n"
		 "ebpf-guard: %s:6: field \"pid\": -1 out of range 0..4294967295\n"
		 "ebpf-guard: %s:8: unknown event type \"bogus\"\n",
		 file, file, file);
	CHECK(!strcmp(errs, want), "stderr:\n%s\nwant:\n%s", errs, want);

	/* stdin is shown as <stdin> */
	rej0 = atomic_load(&eg_metrics.replay_rejected);
	rc = run_replay("{\"type\":\"exec\"}\n[]\n", 19, "-", errs, sizeof(errs));
	CHECK(rc == 0 && !strcmp(errs, "ebpf-guard: <stdin>:2: not a JSON object\n"),
	      "stdin: rc %d stderr %s", rc, errs);
	CHECK(atomic_load(&eg_metrics.replay_rejected) - rej0 == 1, "stdin rejected");

	/* every line rejected: 1, with a last line saying so; blank lines and an
	 * empty file are not rejected lines */
	rc = run_replay("[]\n\n{}\n", 7, "", errs, sizeof(errs));
	snprintf(want, sizeof(want),
		 "ebpf-guard: %s:1: not a JSON object\n"
		 "ebpf-guard: %s:3: missing field \"type\"\n"
		 "ebpf-guard: %s: every line was rejected (2 of 2), no event was replayed\n",
		 file, file, file);
	CHECK(rc == 1 && !strcmp(errs, want), "all rejected: rc %d stderr:\n%s\nwant:\n%s", rc, errs, want);
	rc = run_replay("", 0, "", errs, sizeof(errs));
	CHECK(rc == 0 && !errs[0], "empty file: rc %d stderr %s", rc, errs);
	rc = run_replay("\n \n", 3, "", errs, sizeof(errs));
	CHECK(rc == 0 && !errs[0], "blank lines: rc %d stderr %s", rc, errs);

	/* a missing file */
	volatile sig_atomic_t stop = 0;
	fflush(stderr);
	int saved = dup(2), efd = open("/dev/null", O_WRONLY);
	dup2(efd, 2);
	close(efd);
	rc = eg_replay_run(P, "/nonexistent/replay.jsonl", &stop);
	dup2(saved, 2);
	close(saved);
	CHECK(rc == -1, "missing file rc %d", rc);

	/* over-long lines: one that fits the bound and one past it, in the middle */
	size_t max = EG_EVENT_MAX_BYTES - EG_REPLAY_SLACK;
	size_t cap = 3 * max + 1000;
	char *big = malloc(cap);
	size_t n = 0;
	n += (size_t)sprintf(big + n, "{\"type\":\"open\",\"filename\":\"");
	size_t fill = max - n - 2;
	memset(big + n, 'a', fill);
	n += fill;
	n += (size_t)sprintf(big + n, "\"}\n");
	size_t first_len = n - 1;
	n += (size_t)sprintf(big + n, "{\"type\":\"open\",\"filename\":\"");
	memset(big + n, 'b', max + 5);
	n += max + 5;
	n += (size_t)sprintf(big + n, "\"}\n{\"type\":\"exit\"}\n");
	ev0 = events_total();
	rej0 = atomic_load(&eg_metrics.replay_rejected);
	rc = run_replay(big, n, "", errs, sizeof(errs));
	snprintf(want, sizeof(want), "ebpf-guard: %s:2: line longer than %zu bytes\n", file, max);
	CHECK(rc == 0 && !strcmp(errs, want), "long lines (first %zu bytes): %s", first_len, errs);
	CHECK(events_total() - ev0 == 2, "long lines: events %" PRIu64, events_total() - ev0);
	CHECK(atomic_load(&eg_metrics.replay_rejected) - rej0 == 1, "long lines: rejected");
	free(big);
}

/* Mutated lines: any result is fine, but no crash, no read past the line
 * (run under EG_SANITIZE or valgrind to see those), and an accepted line
 * never uses more arena than reserved (eg_pipe_alloc aborts if it does). */
static void test_mutations(void)
{
	static const char *seeds[] = {
		"{\"timestamp\":\"2025-01-01T12:00:00.5+01:00\",\"pid\":1,\"type\":\"exec\",\"comm\":\"a\\u00e9\","
		"\"args\":[\"x\",\"y\\n\",\"\\udcff\"],\"x\":{\"a\":[1,-2.5e3,true,null]},\"memfd\":false}",
		"{\"type\":\"connect\",\"dest_ip\":\"::1\",\"dest_port\":4444,\"cgroup_id\":18446744073709551615}",
		"{\"type\":\"open\",\"filename\":\"\\ud83d\\ude00\\\"\\\\\",\"open_flags\":0,\"timestamp\":123}",
	};
	static const char alphabet[] = "{}[]\",:\\u0123456789abcdefnrtlse.-+Ed \t\x80\xff";
	char line[512];
	unsigned long accepted = 0;
	srand(99);
	for (int iter = 0; iter < 200000; iter++) {
		const char *seed = seeds[iter % 3];
		size_t n = strlen(seed);
		memcpy(line, seed, n);
		int edits = 1 + rand() % 4;
		for (int k = 0; k < edits; k++) {
			size_t at = (size_t)rand() % (n + 1);
			char c = alphabet[rand() % (sizeof(alphabet) - 1)];
			switch (rand() % 4) {
			case 0: /* replace */
				if (at < n)
					line[at] = c;
				break;
			case 1: /* insert */
				if (n + 1 < sizeof(line)) {
					memmove(line + at + 1, line + at, n - at);
					line[at] = c;
					n++;
				}
				break;
			case 2: /* delete */
				if (at < n) {
					memmove(line + at, line + at + 1, n - at - 1);
					n--;
				}
				break;
			default: /* cut */
				n = at;
			}
		}
		/* the parser must not look past len: copy into an exact-size block */
		char *exact = malloc(n ? n : 1);
		memcpy(exact, line, n);
		struct eg_event ev;
		if (parse(exact, n, &ev) == 0)
			accepted++;
		free(exact);
	}
	CHECK(accepted > 0 && accepted < 200000, "mutations: %lu accepted", accepted);
}

/* Parse speed, for the record (not a pass/fail). */
static void bench(void)
{
	const char *lines[] = {
		"{\"timestamp\":\"2025-01-01T12:00:00.123456789Z\",\"pid\":4242,\"tgid\":4242,"
		"\"type\":\"open\",\"comm\":\"nginx\",\"filename\":\"/var/www/html/index.html\","
		"\"dest_ip\":\"\",\"dest_port\":0,\"ppid\":1,\"uid\":33,\"gid\":33,"
		"\"cgroup_id\":4321,\"truncated\":false,\"open_flags\":0}",
		"{\"timestamp\":\"2025-01-01T12:00:00.5Z\",\"pid\":4243,\"tgid\":4243,\"type\":\"exec\","
		"\"comm\":\"bash\",\"filename\":\"/usr/bin/ls\",\"dest_ip\":\"\",\"dest_port\":0,"
		"\"ppid\":4242,\"uid\":0,\"gid\":0,\"cgroup_id\":4321,\"truncated\":false,"
		"\"exe\":\"/usr/bin/ls\",\"args\":[\"ls\",\"-la\",\"/tmp\"],\"memfd\":false}",
	};
	const int n = 400000;
	struct timespec t0, t1;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	for (int i = 0; i < n; i++) {
		const char *l = lines[i & 1];
		size_t len = strlen(l);
		struct eg_event *e = eg_pipe_begin(P, EG_REPLAY_ROOM(len));
		if (eg_replay_parse(P, l, len, e, err, sizeof(err)))
			failed++;
		eg_pipe_abort(P);
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	fprintf(stderr, "eg_replay_parse: %.0f ns per line (%.2f M lines/s)\n", ns / n,
		n / ns * 1e3);
}

/* memfd events: the flags by name, both ways; an unknown name is an error
 * that names it; a record line written back is the same bytes. */
static void test_memfd(void)
{
	struct eg_event ev;
	int rc = parse_s("{\"type\":\"memfd\",\"timestamp\":0,\"filename\":\"x\","
			 "\"flags\":\"allow_sealing|cloexec|0x40\",\"ret\":-22}", &ev);
	CHECK(rc == 0 && ev.type == EG_EV_MEMFD && ev.num[0] == (0x1 | 0x2 | 0x40) && ev.ret == -22,
	      "memfd line: rc %d type %u flags %lld: %s", rc, ev.type, (long long)ev.num[0], err);
	struct eg_buf a = {0};
	eg_json_event(&a, &ev, false);
	eg_buf_putc(&a, 0);
	CHECK(strstr(a.p, "\"truncated\":false,\"flags\":\"cloexec|allow_sealing|0x40\",\"ret\":-22,"
			  "\"exe\":\"\",\"args\":[]") != NULL,
	      "memfd written back: %s", a.p);
	/* the written line reads back to the same bytes */
	struct eg_buf c = {0};
	size_t len = strlen(a.p);
	rc = parse(a.p, len, &ev);
	eg_json_event(&c, &ev, false);
	eg_buf_putc(&c, 0);
	CHECK(rc == 0 && !strcmp(a.p, c.p), "memfd round trip:\n %s\n %s", a.p, c.p);
	rc = parse_s("{\"type\":\"memfd\",\"timestamp\":0,\"flags\":\"cloexec|sealed\"}", &ev);
	CHECK(rc == -1 && !strcmp(err, "field \"flags\": unknown flag \"sealed\""), "unknown flag: %s", err);
	rc = parse_s("{\"type\":\"memfd\",\"timestamp\":0,\"flags\":\"cloexec|\"}", &ev);
	CHECK(rc == -1 && !strcmp(err, "field \"flags\": unknown flag \"\""), "a trailing bar: %s", err);
	rc = parse_s("{\"type\":\"memfd\",\"timestamp\":0,\"flags\":3}", &ev);
	CHECK(rc == -1 && strstr(err, "field \"flags\": expected a string") == err, "flags as a number: %s", err);
	rc = parse_s("{\"type\":\"memfd\",\"timestamp\":0,\"flags\":\"\"}", &ev);
	CHECK(rc == 0 && ev.num[0] == 0, "no flags: %s", err);
	eg_buf_free(&a);
	eg_buf_free(&c);

	/* ptrace: the request by name or number; a number too long for 64 bits
	 * and an unknown name are errors that name them */
	rc = parse_s("{\"type\":\"ptrace\",\"timestamp\":0,\"request\":\"seize\",\"target_pid\":7}", &ev);
	CHECK(rc == 0 && ev.num[0] == 0x4206 && ev.num[1] == 7, "ptrace seize: %s", err);
	rc = parse_s("{\"type\":\"ptrace\",\"timestamp\":0,\"request\":\"-999999999999999999\"}", &ev);
	CHECK(rc == 0 && ev.num[0] == -999999999999999999LL, "a negative request number: %s", err);
	rc = parse_s("{\"type\":\"ptrace\",\"timestamp\":0,\"request\":\"9999999999999999999\"}", &ev);
	CHECK(rc == -1 && !strcmp(err, "field \"request\": unknown value \"9999999999999999999\""),
	      "a request past 18 digits: %s", err);
	rc = parse_s("{\"type\":\"ptrace\",\"timestamp\":0,\"request\":\"Attach\"}", &ev);
	CHECK(rc == -1 && !strcmp(err, "field \"request\": unknown value \"Attach\""), "a wrong case: %s", err);
}

/* Writes ev as a record line (no host keys) into b, NUL-terminated. */
static const char *write_back(struct eg_buf *b, const struct eg_event *ev)
{
	b->len = 0;
	eg_json_event(b, ev, false);
	eg_buf_putc(b, 0);
	return b->p;
}

/* Reads line, writes it back, reads that and writes it again: the two
 * written lines must be the same bytes. Returns the first. */
static const char *round_trip(struct eg_buf *a, struct eg_buf *c, const char *line, const char *what)
{
	struct eg_event ev;
	int rc = parse_s(line, &ev);
	CHECK(rc == 0, "%s: %s", what, err);
	write_back(a, &ev);
	rc = parse(a->p, strlen(a->p), &ev);
	write_back(c, &ev);
	CHECK(rc == 0 && !strcmp(a->p, c->p), "%s round trip:\n %s\n %s", what, a->p, c->p);
	return a->p;
}

/* module, bpf and setid events: calls, commands and types by name, the
 * capability sets past bit 31 (and every one at once: the longest flags
 * text), ids of -1; each line written back reads to the same bytes. */
static void test_privileged(void)
{
	struct eg_buf a = {0}, c = {0};
	struct eg_event ev;
	const char *w;
	int rc;

	for (unsigned i = 0; i < eg_nfields; i++)
		if (eg_fields[i].kind == EG_FK_FLAGS)
			CHECK(eg_flags_format(NULL, 0, &eg_fields[i], UINT64_MAX) < EG_FLAGS_TEXT_MAX,
			      "%s: every bit set does not fit EG_FLAGS_TEXT_MAX", eg_fields[i].key);

	w = round_trip(&a, &c,
		       "{\"type\":\"module\",\"timestamp\":0,\"filename\":\"/tmp/x.ko\","
		       "\"call\":\"finit_module\",\"module_name\":\"\",\"module_flags\":2,\"ret\":-38}",
		       "module");
	CHECK(strstr(w, "\"filename\":\"/tmp/x.ko\"") &&
		      strstr(w, "\"truncated\":false,\"call\":\"finit_module\",\"module_name\":\"\","
				"\"module_flags\":2,\"ret\":-38,\"exe\":\"\",\"args\":[]"),
	      "module written back: %s", w);

	rc = parse_s("{\"type\":\"bpf\",\"timestamp\":0,\"bpf_cmd\":\"prog_load\","
		     "\"prog_type\":\"kprobe\",\"map_type\":\"unspec\",\"bpf_name\":\"probe\",\"ret\":5}",
		     &ev);
	CHECK(rc == 0 && ev.type == EG_EV_BPF && ev.num[0] == 5 && ev.num[1] == 2 && ev.num[2] == 0 &&
		      STREQ(ev.aux[0], ev.aux_len[0], "probe") && ev.ret == 5,
	      "bpf line: rc %d cmd %lld type %lld: %s", rc, (long long)ev.num[0], (long long)ev.num[1], err);
	/* a command the kernel side never reports, by its name; one past the
	 * table by number; bpf events have no "call" */
	w = round_trip(&a, &c,
		       "{\"type\":\"bpf\",\"timestamp\":0,\"bpf_cmd\":\"map_lookup_elem\","
		       "\"prog_type\":\"99\",\"map_type\":\"ringbuf\",\"bpf_name\":\"\",\"ret\":-9}",
		       "bpf");
	CHECK(strstr(w, "\"truncated\":false,\"bpf_cmd\":\"map_lookup_elem\",\"prog_type\":\"99\","
			"\"map_type\":\"ringbuf\",\"bpf_name\":\"\",\"ret\":-9,\"exe\"") &&
		      !strstr(w, "\"call\""),
	      "bpf written back: %s", w);
	rc = parse_s("{\"type\":\"bpf\",\"timestamp\":0,\"bpf_cmd\":\"PROG_LOAD\"}", &ev);
	CHECK(rc == -1 && !strcmp(err, "field \"bpf_cmd\": unknown value \"PROG_LOAD\""), "upper case: %s",
	      err);

	/* capability bits 39 and 40 (past 32 bits), in any order; unknown
	 * bits past the last capability as one number */
	rc = parse_s("{\"type\":\"setid\",\"timestamp\":0,\"call\":\"capset\",\"id_real\":-1,"
		     "\"id_effective\":-1,\"id_saved\":-1,\"cap_effective\":\"checkpoint_restore|bpf\","
		     "\"cap_permitted\":\"net_raw|0x30000000000\",\"cap_inheritable\":\"\",\"ret\":0}",
		     &ev);
	CHECK(rc == 0 && ev.num[7] == 126 && ev.num[0] == -1 && ev.num[1] == -1 && ev.num[2] == -1 &&
		      ev.num[3] == (int64_t)(1ULL << 39 | 1ULL << 40) &&
		      ev.num[4] == (int64_t)(1ULL << 13 | 3ULL << 40) && ev.num[5] == 0,
	      "capset line: rc %d eff 0x%llx perm 0x%llx: %s", rc, (unsigned long long)ev.num[3],
	      (unsigned long long)ev.num[4], err);
	w = write_back(&a, &ev);
	CHECK(strstr(w, "\"call\":\"capset\",\"id_real\":-1,\"id_effective\":-1,\"id_saved\":-1,"
			"\"cap_effective\":\"bpf|checkpoint_restore\","
			"\"cap_permitted\":\"net_raw|checkpoint_restore|0x20000000000\","
			"\"cap_inheritable\":\"\",\"ret\":0,\"exe\""),
	      "capset written back: %s", w);
	/* every capability at once: 420 bytes, written whole */
	ev.num[3] = (int64_t)((1ULL << 41) - 1);
	w = write_back(&a, &ev);
	CHECK(strstr(w, "\"cap_effective\":\"chown|dac_override|") &&
		      strstr(w, "|sys_tty_config|mknod|lease|audit_write|audit_control|setfcap|"
				"mac_override|mac_admin|syslog|wake_alarm|block_suspend|audit_read|"
				"perfmon|bpf|checkpoint_restore\",\"cap_permitted\""),
	      "all capabilities: %s", w);
	char *all = strdup(w); /* parsed strings may point into the line */
	round_trip(&a, &c, all, "all capabilities");
	free(all);
	w = round_trip(&a, &c,
		       "{\"type\":\"setid\",\"timestamp\":0,\"uid\":65534,\"call\":\"setresuid\","
		       "\"id_real\":65534,\"id_effective\":65534,\"id_saved\":-1,\"ret\":-1}",
		       "setid");
	CHECK(strstr(w, "\"uid\":65534,") &&
		      strstr(w, "\"truncated\":false,\"call\":\"setresuid\",\"id_real\":65534,"
				"\"id_effective\":65534,\"id_saved\":-1,\"cap_effective\":\"\","
				"\"cap_permitted\":\"\",\"cap_inheritable\":\"\",\"ret\":-1,\"exe\""),
	      "setid written back: %s", w);
	eg_buf_free(&a);
	eg_buf_free(&c);
}

/* namespace and mount events: the call and the flags by name (an unknown
 * bit last, as a number), mount's two strings and two flag fields,
 * written in the registry's order and read back to the same bytes. */
static void test_ns_mount(void)
{
	struct eg_buf a = {0}, c = {0};
	struct eg_event ev;
	const char *w;
	int rc = parse_s("{\"type\":\"namespace\",\"timestamp\":0,\"filename\":\"uts:[4026531838]\","
			 "\"ns_flags\":\"newuser|newns|0x1\",\"call\":\"setns\",\"ret\":-1}", &ev);
	CHECK(rc == 0 && ev.type == EG_EV_NAMESPACE && ev.num[0] == (0x10000000 | 0x20000 | 0x1) &&
		      ev.num[7] == 308 && ev.ret == -1,
	      "namespace line: rc %d num %llx call %lld: %s", rc, (unsigned long long)ev.num[0],
	      (long long)ev.num[7], err);
	w = write_back(&a, &ev);
	CHECK(strstr(w, "\"truncated\":false,\"call\":\"setns\",\"ns_flags\":\"newns|newuser|0x1\","
			"\"ret\":-1,\"exe\"") != NULL,
	      "namespace written back: %s", w);
	rc = parse_s("{\"type\":\"mount\",\"timestamp\":0,\"filename\":\"/mnt\",\"call\":\"mount\","
		     "\"umount_flags\":\"\",\"mount_flags\":\"bind|rec|rdonly\",\"fstype\":\"\","
		     "\"source\":\"/srv\",\"ret\":0}", &ev);
	CHECK(rc == 0 && ev.type == EG_EV_MOUNT && ev.num[0] == (0x1000 | 0x4000 | 1) && ev.num[1] == 0 &&
		      ev.num[7] == 165 && STREQ(ev.aux[0], ev.aux_len[0], "/srv") && ev.aux_len[1] == 0,
	      "mount line: rc %d: %s", rc, err);
	w = round_trip(&a, &c,
		       "{\"type\":\"mount\",\"timestamp\":0,\"filename\":\"/mnt\",\"call\":\"umount2\","
		       "\"umount_flags\":\"detach|nofollow\",\"mount_flags\":\"bind|rec|rdonly\","
		       "\"fstype\":\"tmpfs\",\"source\":\"/srv\",\"ret\":-2}",
		       "mount");
	CHECK(strstr(w, "\"truncated\":false,\"call\":\"umount2\",\"source\":\"/srv\",\"fstype\":\"tmpfs\","
			"\"mount_flags\":\"rdonly|bind|rec\",\"umount_flags\":\"detach|nofollow\",\"ret\":-2,") != NULL,
	      "mount written back: %s", w);
	rc = parse_s("{\"type\":\"mount\",\"timestamp\":0,\"umount_flags\":\"lazy\"}", &ev);
	CHECK(rc == -1 && !strcmp(err, "field \"umount_flags\": unknown flag \"lazy\""), "umount2 flag: %s", err);
	eg_buf_free(&a);
	eg_buf_free(&c);
}

/* dup, listen, accept: the call and the socket type by name (a type without
 * a name as its number), is_socket a bool, local_ip a string, the peer in
 * dest_ip/dest_port; each line written back reads back to the same bytes. */
static void test_net(void)
{
	static const struct {
		const char *line, *out;
		uint32_t type;
		int64_t num[3], call;
	} cases[] = {
		{"{\"type\":\"dup\",\"timestamp\":0,\"dest_ip\":\"10.0.0.1\",\"dest_port\":4444,"
		 "\"call\":\"dup3\",\"old_fd\":4,\"new_fd\":2,\"is_socket\":true,\"ret\":2}",
		 "\"truncated\":false,\"call\":\"dup3\",\"old_fd\":4,\"new_fd\":2,\"is_socket\":true,\"ret\":2,",
		 EG_EV_DUP, {4, 2, 1}, 292},
		{"{\"type\":\"listen\",\"timestamp\":0,\"call\":\"bind\",\"local_ip\":\"::\",\"local_port\":53,"
		 "\"sock_type\":\"dgram\",\"ret\":-98}",
		 "\"truncated\":false,\"call\":\"bind\",\"local_ip\":\"::\",\"local_port\":53,\"backlog\":0,"
		 "\"sock_type\":\"dgram\",\"ret\":-98,",
		 EG_EV_LISTEN, {53, 0, 2}, 49},
		{"{\"type\":\"accept\",\"timestamp\":0,\"dest_ip\":\"::1\",\"dest_port\":41410,\"call\":\"accept4\","
		 "\"local_ip\":\"::1\",\"local_port\":8080,\"sock_type\":\"11\",\"ret\":5}",
		 "\"dest_ip\":\"::1\",\"dest_port\":41410,",
		 EG_EV_ACCEPT, {8080, 0, 11}, 288},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct eg_event ev;
		int rc = parse_s(cases[i].line, &ev);
		CHECK(rc == 0 && ev.type == cases[i].type && ev.num[0] == cases[i].num[0] &&
			      ev.num[1] == cases[i].num[1] && ev.num[2] == cases[i].num[2] &&
			      ev.num[7] == cases[i].call,
		      "net line %zu: rc %d type %u num %lld %lld %lld call %lld: %s", i, rc, ev.type,
		      (long long)ev.num[0], (long long)ev.num[1], (long long)ev.num[2], (long long)ev.num[7],
		      err);
		struct eg_buf a = {0}, c = {0};
		eg_json_event(&a, &ev, false);
		eg_buf_putc(&a, 0);
		CHECK(strstr(a.p, cases[i].out) != NULL, "net line %zu written back: %s", i, a.p);
		rc = parse(a.p, strlen(a.p), &ev);
		eg_json_event(&c, &ev, false);
		eg_buf_putc(&c, 0);
		CHECK(rc == 0 && !strcmp(a.p, c.p), "net line %zu round trip:\n %s\n %s", i, a.p, c.p);
		eg_buf_free(&a);
		eg_buf_free(&c);
	}
	struct eg_event ev;
	int rc = parse_s("{\"type\":\"accept\",\"timestamp\":0,\"sock_type\":\"tcp\"}", &ev);
	CHECK(rc == -1 && !strcmp(err, "field \"sock_type\": unknown value \"tcp\""), "unknown socket type: %s",
	      err);
	rc = parse_s("{\"type\":\"dup\",\"timestamp\":0,\"is_socket\":1}", &ev);
	CHECK(rc == -1 && strstr(err, "field \"is_socket\": expected true or false") == err,
	      "is_socket as a number: %s", err);
}

int main(void)
{
	const char *src = getenv("EG_SOURCE_DIR");
	char lua[4096];
	snprintf(lua, sizeof(lua), "%s/lua", src ? src : ".");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	eg_metrics_init();
	struct eg_engine_opts eo = {.lua_path = lua};
	struct eg_engine *e = eg_engine_new(&eo, err, sizeof(err));
	if (!e) {
		fprintf(stderr, "engine: %s\n", err);
		return 1;
	}
	char alerts[256];
	snprintf(alerts, sizeof(alerts), "%s/alerts.jsonl", tmpdir);
	struct eg_alert_sink *sink = eg_alerts_open(alerts, err, sizeof(err));
	struct eg_pipe_opts po = {.engine = eo, .alerts = sink};
	P = eg_pipe_new(&po, e, err, sizeof(err));
	if (!sink || !P) {
		fprintf(stderr, "setup: %s\n", err);
		return 1;
	}
	test_fields();
	test_context();
	test_context_defaults();
	test_unknown_fields();
	test_timestamps();
	test_escapes();
	test_errors();
	test_round_trip();
	test_round_trip_context();
	test_memfd();
	test_privileged();
	test_ns_mount();
	test_net();
	test_mutations();
	eg_pipe_abort(P);
	test_run();
	bench();
	eg_pipe_free(P);
	eg_alerts_close(sink);
	char path[300];
	snprintf(path, sizeof(path), "%s/in.jsonl", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/stderr", tmpdir);
	unlink(path);
	unlink(alerts);
	rmdir(tmpdir);
	return CHECK_SUMMARY("test_replay");
}
