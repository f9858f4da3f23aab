/* SPDX-License-Identifier: MIT */
/* See fuzz_pipe.h. */
#include "fuzz_pipe.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"

struct eg_pipeline {
	int unused;
};

static struct eg_pipeline the_pipe;
static void **blocks;          /* every block handed out since the reset */
static size_t nblocks, capblocks;
static struct eg_event *building; /* between begin and commit/abort */
static size_t reserved, used;
static const struct eg_event *last;
static size_t commits;

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("fuzz: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

static void *block(size_t n)
{
	if (nblocks == capblocks) {
		capblocks = capblocks ? capblocks * 2 : 64;
		blocks = realloc(blocks, capblocks * sizeof(*blocks));
		if (!blocks)
			fuzz_fail("out of memory");
	}
	void *p = malloc(n ? n : 1);
	if (!p)
		fuzz_fail("out of memory");
	blocks[nblocks++] = p;
	return p;
}

struct eg_pipeline *fuzz_pipe(void)
{
	return &the_pipe;
}

void fuzz_pipe_reset(void)
{
	for (size_t i = 0; i < nblocks; i++)
		free(blocks[i]);
	nblocks = 0;
	building = NULL;
	last = NULL;
	commits = 0;
}

const struct eg_event *fuzz_pipe_last(void)
{
	return last;
}

size_t fuzz_pipe_commits(void)
{
	return commits;
}

struct eg_event *eg_pipe_begin(struct eg_pipeline *p, size_t str_bytes)
{
	(void)p;
	if (str_bytes > EG_EVENT_MAX_BYTES)
		return NULL;
	struct eg_event *ev = block(sizeof(*ev));
	memset(ev, 0, sizeof(*ev));
	static const char empty[1];
	ev->comm = ev->filename = ev->exe = ev->dest_ip = ev->args = ev->requested = empty;
	building = ev;
	reserved = str_bytes;
	used = 0;
	return ev;
}

char *eg_pipe_alloc(struct eg_pipeline *p, size_t len)
{
	(void)p;
	if (!building)
		fuzz_fail("eg_pipe_alloc(%zu) outside begin/commit", len);
	if (len > reserved - used)
		fuzz_fail("event string room exceeded: %zu reserved, %zu used, %zu more asked", reserved,
			  used, len);
	used += len;
	return block(len);
}

const char *eg_pipe_str(struct eg_pipeline *p, const char *s, size_t len)
{
	char *d = eg_pipe_alloc(p, len + 1);
	memcpy(d, s, len);
	d[len] = 0;
	return d;
}

void eg_pipe_commit(struct eg_pipeline *p)
{
	(void)p;
	if (!building)
		fuzz_fail("eg_pipe_commit without eg_pipe_begin");
	last = building;
	building = NULL;
	commits++;
}

void eg_pipe_abort(struct eg_pipeline *p)
{
	(void)p;
	building = NULL;
}

int eg_pipe_flush(struct eg_pipeline *p)
{
	(void)p;
	return 0;
}

void eg_pipe_service(struct eg_pipeline *p)
{
	(void)p;
}

void eg_pipe_set_lost_counter(struct eg_pipeline *p, const volatile uint64_t *counter)
{
	(void)p;
	(void)counter;
}

struct eg_engine *eg_pipe_engine(struct eg_pipeline *p)
{
	(void)p;
	return NULL;
}

struct eg_recfilter *eg_pipe_record_filter(struct eg_pipeline *p)
{
	(void)p;
	return NULL;
}

uint64_t eg_pipe_engine_gen(const struct eg_pipeline *p)
{
	(void)p;
	return 0;
}

bool eg_pipe_reload_busy(struct eg_pipeline *p)
{
	(void)p;
	return false;
}

FUZZ_NOCOV static void check_str(const char *name, const char *s, uint32_t len)
{
	if (!s)
		fuzz_fail("event %s is NULL", name);
	/* reads s[0..len]: ASan flags a string shorter than its length */
	volatile char sink = 0;
	for (uint32_t i = 0; i < len; i++)
		sink ^= s[i];
	(void)sink;
	if (s[len] != 0)
		fuzz_fail("event %s (%u bytes) is not NUL-terminated at its length", name, len);
}

FUZZ_NOCOV void fuzz_check_event(const struct eg_event *ev)
{
	if (ev->type < EG_EV_EXEC || ev->type > EG_EV_MAX)
		fuzz_fail("event type %u", ev->type);
	if (ev->flags & ~(uint32_t)(EG_EVF_TRUNCATED | EG_EVF_MEMFD | EG_EVF_REQ_DIFFERS |
				    EG_EVF_IO_URING | EG_EVF_COMPAT | EG_EVF_INTERPRETED | EG_EVF_DATAGRAM |
				    EG_EVF_KILLED | EG_EVF_ONCE_FRESH | EG_EVF_ONCE_REPEAT))
		fuzz_fail("event flags 0x%x", ev->flags);
	if ((ev->flags & EG_EVF_ONCE_FRESH) && (ev->flags & EG_EVF_ONCE_REPEAT))
		fuzz_fail("event flags 0x%x: the kernel's verdict both new and a repeat", ev->flags);
	check_str("comm", ev->comm, ev->comm_len);
	check_str("filename", ev->filename, ev->filename_len);
	check_str("exe", ev->exe, ev->exe_len);
	check_str("dest_ip", ev->dest_ip, ev->dest_ip_len);
	check_str("requested", ev->requested, ev->requested_len);
	if (!ev->args)
		fuzz_fail("event args is NULL");
	if (ev->argc == 0)
		return;
	if (ev->args_len == 0 || ev->args[ev->args_len - 1] != 0)
		fuzz_fail("event args: %u strings but args_len %u does not end with a NUL", ev->argc,
			  ev->args_len);
	uint32_t nul = 0;
	for (uint32_t i = 0; i < ev->args_len; i++)
		nul += ev->args[i] == 0;
	if (nul < ev->argc)
		fuzz_fail("event args: argc %u but only %u NULs in %u bytes", ev->argc, nul,
			  ev->args_len);
}

FUZZ_NOCOV void fuzz_check_context(const struct eg_event *ev)
{
	const struct eg_proc *p = ev->proc;
	if (!p || !ev->ctr)
		fuzz_fail("event without proc or ctr");
	check_str("proc exec_id", p->exec_id, p->exec_id_len);
	check_str("proc comm", p->comm, p->comm_len);
	check_str("proc exe", p->exe, p->exe_len);
	check_str("proc cwd", p->cwd, p->cwd_len);
	check_str("proc tty", p->tty, p->tty_len);
	check_str("proc parent_exec_id", p->parent_exec_id, p->parent_exec_id_len);
	check_str("proc parent_comm", p->parent_comm, p->parent_comm_len);
	check_str("proc parent_exe", p->parent_exe, p->parent_exe_len);
	if (!p->args || !p->parent_args)
		fuzz_fail("proc args or parent_args is NULL");
	if (p->parent_argc && (p->parent_args_len == 0 || p->parent_args[p->parent_args_len - 1]))
		fuzz_fail("proc parent_args: %u strings but parent_args_len %u does not end with a NUL",
			  p->parent_argc, p->parent_args_len);
	if (p->nancestors > EG_ANCESTORS_MAX)
		fuzz_fail("proc nancestors %u", p->nancestors);
	for (uint32_t i = 0; i < p->nancestors; i++) {
		check_str("ancestor comm", p->ancestors[i].comm, p->ancestors[i].comm_len);
		check_str("ancestor exe", p->ancestors[i].exe, p->ancestors[i].exe_len);
	}
	if (p->flags & ~(uint32_t)0x1ff)
		fuzz_fail("proc flags 0x%x", p->flags);
	check_str("ctr cgroup", ev->ctr->cgroup, ev->ctr->cgroup_len);
	check_str("ctr id", ev->ctr->id, ev->ctr->id_len);
	check_str("ctr runtime", ev->ctr->runtime, ev->ctr->runtime_len);
	check_str("ctr pod_uid", ev->ctr->pod_uid, ev->ctr->pod_uid_len);
	if (ev->host) {
		check_str("host name", ev->host->name, ev->host->name_len);
		check_str("host id", ev->host->id, ev->host->id_len);
	}
}
