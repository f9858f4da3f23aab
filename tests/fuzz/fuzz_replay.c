/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the replay reader, eg_replay_parse (src/replay.c), on one line.
 *
 * Properties, besides no crash and no sanitizer finding:
 *   - a rejected line has a message that starts with one of the reasons of
 *     docs/output.md;
 *   - an accepted line gives an event that keeps the struct eg_event
 *     contract (fuzz_check_event, fuzz_check_context), within the room the
 *     reader reserves (EG_REPLAY_ROOM, as src/replay.c does);
 *   - record -> replay: the event written back with eg_json_event (what
 *     -record writes, host included) parses again to the same event, process
 *     context and host included, and writing that one gives the same line (a
 *     fixed point after one round).
 * The pipeline is tests/fuzz/fuzz_pipe.c: every string in its own block.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "fuzz_pipe.h"
#include "json.h"
#include "replay.h"

static struct eg_buf j1, j2;

static const char *const reasons[] = {
	"not JSON: ", "not a JSON object", "missing field \"type\"", "unknown event type \"",
	"field \"", "line longer than ",
};

static const struct eg_event *parse(const char *line, size_t len, char *err, size_t errlen)
{
	struct eg_pipeline *p = fuzz_pipe();
	struct eg_event *ev = eg_pipe_begin(p, EG_REPLAY_ROOM(len));
	if (!ev)
		return NULL; /* longer than an event may be: replay.c rejects it before parsing */
	err[0] = 0;
	if (eg_replay_parse(p, line, len, ev, err, errlen)) {
		eg_pipe_abort(p);
		if (!err[0])
			fuzz_fail("rejected line without a message");
		for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
			if (!strncmp(err, reasons[i], strlen(reasons[i])))
				return NULL;
		fuzz_fail("rejected with an undocumented reason: %s", err);
	}
	eg_pipe_commit(p);
	fuzz_check_event(ev);
	fuzz_check_context(ev);
	return ev;
}

FUZZ_NOCOV static void same_str(const char *what, const char *a, uint32_t al, const char *b,
				 uint32_t bl)
{
	if (al != bl || memcmp(a, b, al))
		fuzz_fail("record -> replay changed %s (%u bytes -> %u bytes)", what, al, bl);
}

/* 1 when args holds exactly argc strings (no NUL inside one, from \u0000). */
FUZZ_NOCOV static int plain(const char *args, uint32_t args_len, uint32_t argc)
{
	uint32_t nul = 0;
	for (uint32_t i = 0; i < args_len; i++)
		nul += args[i] == 0;
	return nul == argc;
}

FUZZ_NOCOV static int args_plain(const struct eg_event *e)
{
	return plain(e->args, e->args_len, e->argc);
}

/* The process context of e1 (parsed from the input) and e2 (from its record). */
FUZZ_NOCOV static void same_context(const struct eg_event *e1, const struct eg_event *e2)
{
	const struct eg_proc *p1 = e1->proc, *p2 = e2->proc;
	if (!p1 || !p2 || !e1->ctr || !e2->ctr || !e2->host)
		fuzz_fail("a replayed event without proc, ctr, or (from a record line) host");
	const uint32_t ctxf = EG_PROCF_UNKNOWN | EG_PROCF_SEEDED | EG_PROCF_FORKED;
	uint32_t c1 = p1->flags & EG_PROCF_UNKNOWN ? EG_PROCF_UNKNOWN
		    : p1->flags & EG_PROCF_SEEDED ? EG_PROCF_SEEDED : p1->flags & EG_PROCF_FORKED;
	if ((p2->flags & ctxf) != c1)
		fuzz_fail("record -> replay changed context: 0x%x -> 0x%x", p1->flags, p2->flags);
	const uint32_t execf = EG_PROCF_SETUID | EG_PROCF_SETGID | EG_PROCF_LD_PRELOAD |
			       EG_PROCF_LD_LIBRARY_PATH;
	if (e1->type == EG_EV_EXEC && ((p1->flags ^ p2->flags) & execf))
		fuzz_fail("record -> replay changed setuid, setgid, ld_preload or ld_library_path");
	if (p1->loginuid != p2->loginuid || p1->parent_tgid != p2->parent_tgid ||
	    p1->nancestors != p2->nancestors)
		fuzz_fail("record -> replay changed loginuid, parent tgid or ancestors");
	if (e1->ctr->cgroup_id != e2->ctr->cgroup_id || e2->ctr->cgroup_id != e2->cgroup_id)
		fuzz_fail("record -> replay changed the container's cgroup_id");
	same_str("exec_id", p1->exec_id, p1->exec_id_len, p2->exec_id, p2->exec_id_len);
	same_str("cwd", p1->cwd, p1->cwd_len, p2->cwd, p2->cwd_len);
	same_str("tty", p1->tty, p1->tty_len, p2->tty, p2->tty_len);
	same_str("parent exec_id", p1->parent_exec_id, p1->parent_exec_id_len, p2->parent_exec_id,
		 p2->parent_exec_id_len);
	same_str("parent comm", p1->parent_comm, p1->parent_comm_len, p2->parent_comm,
		 p2->parent_comm_len);
	same_str("parent exe", p1->parent_exe, p1->parent_exe_len, p2->parent_exe,
		 p2->parent_exe_len);
	if (plain(p1->parent_args, p1->parent_args_len, p1->parent_argc)) {
		if (p1->parent_argc != p2->parent_argc)
			fuzz_fail("record -> replay changed the parent's argc");
		same_str("parent args", p1->parent_args, p1->parent_args_len, p2->parent_args,
			 p2->parent_args_len);
	}
	for (uint32_t i = 0; i < p1->nancestors && i < EG_ANCESTORS_MAX; i++) {
		same_str("ancestor comm", p1->ancestors[i].comm, p1->ancestors[i].comm_len,
			 p2->ancestors[i].comm, p2->ancestors[i].comm_len);
		same_str("ancestor exe", p1->ancestors[i].exe, p1->ancestors[i].exe_len,
			 p2->ancestors[i].exe, p2->ancestors[i].exe_len);
	}
	const struct eg_container *k1 = e1->ctr, *k2 = e2->ctr;
	same_str("container_id", k1->id, k1->id_len, k2->id, k2->id_len);
	same_str("container_runtime", k1->runtime, k1->runtime_len, k2->runtime, k2->runtime_len);
	same_str("pod_uid", k1->pod_uid, k1->pod_uid_len, k2->pod_uid, k2->pod_uid_len);
	same_str("cgroup", k1->cgroup, k1->cgroup_len, k2->cgroup, k2->cgroup_len);
	const struct eg_host *h1 = eg_ev_host(e1), *h2 = e2->host;
	same_str("hostname", h1->name, h1->name_len, h2->name, h2->name_len);
	same_str("host_id", h1->id, h1->id_len, h2->id, h2->id_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	fuzz_pipe_reset();
	const struct eg_event *e1 = parse((const char *)data, size, err, sizeof(err));
	if (!e1)
		return 0;

	j1.len = 0;
	if (eg_json_event(&j1, e1, true))
		fuzz_fail("eg_json_event failed");
	const struct eg_event *e2 = parse(j1.p, j1.len, err, sizeof(err));
	if (!e2)
		fuzz_fail("the record of an accepted line does not replay: %s\nrecord: %.*s", err,
			  (int)(j1.len > 2000 ? 2000 : j1.len), j1.p);

#define SAME(f)                                                                                \
	if (e1->f != e2->f)                                                                    \
		fuzz_fail("record -> replay changed " #f ": %llu -> %llu",                      \
			  (unsigned long long)e1->f, (unsigned long long)e2->f);
	SAME(ts_ns) SAME(type) SAME(pid) SAME(tgid) SAME(ppid) SAME(uid) SAME(gid) SAME(cgroup_id)
	SAME(dest_port)
	if ((e1->flags ^ e2->flags) & EG_EVF_TRUNCATED)
		fuzz_fail("record -> replay changed truncated");
	same_str("comm", e1->comm, e1->comm_len, e2->comm, e2->comm_len);
	same_str("filename", e1->filename, e1->filename_len, e2->filename, e2->filename_len);
	same_str("dest_ip", e1->dest_ip, e1->dest_ip_len, e2->dest_ip, e2->dest_ip_len);
	if (e1->type == EG_EV_EXEC && ((e1->flags ^ e2->flags) & EG_EVF_MEMFD))
		fuzz_fail("record -> replay changed memfd");
	/* exe and args are written for every type */
	same_str("exe", e1->exe, e1->exe_len, e2->exe, e2->exe_len);
	if (args_plain(e1)) {
		SAME(argc)
		same_str("args", e1->args, e1->args_len, e2->args, e2->args_len);
	}
	if (e1->type == EG_EV_OPEN) {
		SAME(open_flags)
	}
#undef SAME
	same_context(e1, e2);

	j2.len = 0;
	if (eg_json_event(&j2, e2, true))
		fuzz_fail("eg_json_event failed");
	if (j1.len != j2.len || memcmp(j1.p, j2.p, j1.len))
		fuzz_fail("record -> replay -> record is not a fixed point:\n%.*s\n%.*s",
			  (int)(j1.len > 2000 ? 2000 : j1.len), j1.p,
			  (int)(j2.len > 2000 ? 2000 : j2.len), j2.p);
	return 0;
}
