/* SPDX-License-Identifier: MIT */
/*
 * "events_lost" on alerts (docs/output.md), driven through the pipeline with
 * a plain variable standing in for the collector's mmap'ed BPF counter: an
 * alert carries "events_lost":true exactly when the counter moved between the
 * previous non-empty batch and its own (also for a batch flushed because it
 * was full, in the middle of a drain), an empty flush does not use up a
 * change, and without a counter (replay) no alert carries it.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerts.h"
#include "engine.h"
#include "metrics.h"
#include "pipeline.h"
#include "check.h"
#include "scratch.h"

static char dir[] = "/tmp/eg_test_pipeline_lost.XXXXXX";
static char cfg[300], alerts_path[300], out_path[300];
static char err[1024];

static const char rules[] = "rules:\n"
			    "  - id: any_open\n"
			    "    description: any open\n"
			    "    event_types: [open]\n"
			    "    filename_regex: \"^/\"\n";

/* One open event of pid, committed (not flushed). */
static void add(struct eg_pipeline *p, uint32_t pid)
{
	struct eg_event *ev = eg_pipe_begin(p, 64);
	ev->ts_ns = 1735732800LL * 1000000000LL;
	ev->type = EG_EV_OPEN;
	ev->pid = ev->tgid = pid;
	ev->comm = eg_pipe_str(p, "x", 1);
	ev->comm_len = 1;
	ev->filename = eg_pipe_str(p, "/etc/passwd", 11);
	ev->filename_len = 11;
	eg_pipe_commit(p);
}

/* The alert file as "pid:L" entries (L: 1 with "events_lost":true right
 * after "tags" and the host keys, 0 without the key), ';' separated; pids from 1000 to 1255
 * (the full batch) are summed up as "full:L" when all agree. */
static char *alerts_summary(void)
{
	FILE *f = fopen(alerts_path, "r");
	static char line[8192];
	size_t cap = 1 << 16, len = 0;
	char *s = calloc(1, cap);
	int full = -1, full_n = 0;
	while (f && fgets(line, sizeof(line), f)) {
		char *pp = strstr(line, "\"event\":{\"timestamp\":");
		unsigned pid = 0;
		if (!pp || !(pp = strstr(pp, "\"pid\":")) || sscanf(pp, "\"pid\":%u", &pid) != 1)
			continue;
		int lost;
		if (strstr(line, ",\"tags\":[],\"hostname\":\"\",\"host_id\":\"\",\"events_lost\":true}\n"))
			lost = 1;
		else if (!strstr(line, "events_lost") &&
			 strstr(line, ",\"tags\":[],\"hostname\":\"\",\"host_id\":\"\"}\n"))
			lost = 0;
		else
			lost = 9; /* the key elsewhere, or another value */
		if (pid >= 1000 && pid < 1000 + EG_BATCH_EVENTS) {
			full = full_n++ && full != lost ? 8 : lost;
			if (full_n == EG_BATCH_EVENTS)
				len += (size_t)snprintf(s + len, cap - len, "full:%d;", full);
			continue;
		}
		len += (size_t)snprintf(s + len, cap - len, "%u:%d;", pid, lost);
	}
	if (f)
		fclose(f);
	return s;
}

int main(void)
{
	int saved_out = scratch_setup(dir, cfg, alerts_path, out_path);
	if (saved_out < 0)
		return 1;

	FILE *f = fopen(cfg, "w");
	fputs(rules, f);
	fclose(f);
	eg_metrics_init();
	const char *cfgs[1] = {cfg};
	struct eg_engine_opts eo = {.configs = cfgs, .nconfigs = 1};
	struct eg_engine *e = eg_engine_new(&eo, err, sizeof(err));
	struct eg_alert_sink *sink = eg_alerts_open(alerts_path, err, sizeof(err));
	struct eg_pipe_opts po = {.engine = eo, .alerts = sink};
	struct eg_pipeline *p = e && sink ? eg_pipe_new(&po, e, err, sizeof(err)) : NULL;
	if (!p) {
		fprintf(stderr, "setup: %s\n", err);
		return 1;
	}

	/* No counter (replay): nothing to flag. */
	add(p, 1);
	eg_pipe_flush(p);

	/* A counter that already counts drops from before it was handed over:
	 * only changes after that count. */
	volatile uint64_t lost = 7;
	eg_pipe_set_lost_counter(p, &lost);
	add(p, 2);
	eg_pipe_flush(p);
	lost += 3; /* drops between two batches: every alert of the next one */
	add(p, 3);
	add(p, 4);
	eg_pipe_flush(p);
	add(p, 5); /* none since: not flagged */
	eg_pipe_flush(p);

	/* An empty flush (a drain that found nothing) does not use up a change. */
	lost++;
	eg_pipe_flush(p);
	eg_pipe_flush(p);
	add(p, 6);
	eg_pipe_flush(p);

	/* A full batch is flushed by the next eg_pipe_begin, in the middle of a
	 * drain: it is judged on its own (no drops before it), and the event
	 * after it on drops that came during the rest of the drain. */
	for (uint32_t i = 0; i < EG_BATCH_EVENTS; i++)
		add(p, 1000 + i);
	add(p, 7);
	lost++;
	eg_pipe_flush(p);

	/* Counter taken away (the collector shutting down): never flagged. */
	eg_pipe_set_lost_counter(p, NULL);
	lost++;
	add(p, 8);
	eg_pipe_flush(p);

	char *got = alerts_summary();
	const char *want = "1:0;2:0;3:1;4:1;5:0;6:1;full:0;7:1;8:0;";
	CHECK(!strcmp(got, want), "alerts (pid:events_lost):\n got  %s\n want %s", got, want);
	free(got);

	eg_pipe_free(p);
	eg_alerts_close(sink);
	fflush(stdout);
	dup2(saved_out, 1);
	close(saved_out);
	unlink(cfg);
	unlink(alerts_path);
	unlink(out_path);
	rmdir(dir);
	return CHECK_SUMMARY("test_pipeline_lost");
}
