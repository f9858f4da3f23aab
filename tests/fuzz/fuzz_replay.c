/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the replay reader, eg_replay_parse (src/replay.c), on one line.
 *
 * Properties, besides no crash and no sanitizer finding:
 *   - a rejected line has a message that starts with one of the reasons of
 *     docs/output.md;
 *   - an accepted line gives an event that keeps the struct eg_event
 *     contract (fuzz_check_event), within the room the reader reserves
 *     (line length + 64, as src/replay.c does);
 *   - record -> replay: the event written back with eg_json_event (what
 *     -record writes) parses again to the same event, and writing that one
 *     gives the same line (a fixed point after one round).
 * The pipeline is tests/fuzz/fuzz_pipe.c: every string in its own block.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "fuzz_pipe.h"
#include "json.h"
#include "replay.h"

#define STR_SLACK 64 /* what src/replay.c reserves beyond the line length */

static struct eg_buf j1, j2;

static const char *const reasons[] = {
	"not JSON: ", "not a JSON object", "missing field \"type\"", "unknown event type \"",
	"field \"", "line longer than ",
};

static const struct eg_event *parse(const char *line, size_t len, char *err, size_t errlen)
{
	struct eg_pipeline *p = fuzz_pipe();
	struct eg_event *ev = eg_pipe_begin(p, len + STR_SLACK);
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
	return ev;
}

FUZZ_NOCOV static void same_str(const char *what, const char *a, uint32_t al, const char *b,
				 uint32_t bl)
{
	if (al != bl || memcmp(a, b, al))
		fuzz_fail("record -> replay changed %s (%u bytes -> %u bytes)", what, al, bl);
}

/* 1 when args holds exactly argc strings (no NUL inside one, from \u0000). */
FUZZ_NOCOV static int args_plain(const struct eg_event *e)
{
	uint32_t nul = 0;
	for (uint32_t i = 0; i < e->args_len; i++)
		nul += e->args[i] == 0;
	return nul == e->argc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	fuzz_pipe_reset();
	const struct eg_event *e1 = parse((const char *)data, size, err, sizeof(err));
	if (!e1)
		return 0;

	j1.len = 0;
	if (eg_json_event(&j1, e1))
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
	if (e1->type == EG_EV_EXEC) {
		if ((e1->flags ^ e2->flags) & EG_EVF_MEMFD)
			fuzz_fail("record -> replay changed memfd");
		same_str("exe", e1->exe, e1->exe_len, e2->exe, e2->exe_len);
		if (args_plain(e1)) {
			SAME(argc)
			same_str("args", e1->args, e1->args_len, e2->args, e2->args_len);
		}
	} else if (e1->type == EG_EV_OPEN) {
		SAME(open_flags)
	}
#undef SAME

	j2.len = 0;
	if (eg_json_event(&j2, e2))
		fuzz_fail("eg_json_event failed");
	if (j1.len != j2.len || memcmp(j1.p, j2.p, j1.len))
		fuzz_fail("record -> replay -> record is not a fixed point:\n%.*s\n%.*s",
			  (int)(j1.len > 2000 ? 2000 : j1.len), j1.p,
			  (int)(j2.len > 2000 ? 2000 : j2.len), j2.p);
	return 0;
}
