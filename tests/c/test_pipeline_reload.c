/* SPDX-License-Identifier: MIT */
/*
 * A reload requested while a batch is being built (docs/operations.md,
 * "Reload (SIGHUP)": the batch in progress is finished and its alerts are
 * written with the old rules; the new rule set takes every later event),
 * driven through the pipeline directly so that the point where the request
 * lands is exact: events committed before eg_pipe_service() applies the
 * request get the old rules' alerts, events after it the new rules', none
 * lost or doubled; a failed reload mid-batch changes nothing; per-rule
 * counters follow the alerts.
 */
#include <fcntl.h>
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

static int reload_wait_ok;

/* Requests a reload and runs eg_pipe_service() until the new rule set (or
 * the failure) has been applied; at most 10 s. */
static void reload_now(struct eg_pipeline *p)
{
	eg_pipe_request_reload();
	for (int i = 0; i < 10000; i++) {
		eg_pipe_service(p);
		if (!eg_pipe_reload_busy(p))
			return;
		usleep(1000);
	}
	reload_wait_ok = 0;
}

static char dir[] = "/tmp/eg_test_pipeline_reload.XXXXXX";
static char cfg[300], alerts_path[300], out_path[300];
static char err[1024];

/* Set A and set B share the id "shared" with different conditions. */
static const char rules_a[] = "rules:\n"
			      "  - id: a_open\n"
			      "    description: A open\n"
			      "    event_types: [open]\n"
			      "    filename_regex: \"^/etc/\"\n"
			      "  - id: shared\n"
			      "    description: shared A\n"
			      "    event_types: [open]\n"
			      "    filename_regex: \"z\"\n";
static const char rules_b[] = "rules:\n"
			      "  - id: b_open\n"
			      "    description: B open\n"
			      "    event_types: [open]\n"
			      "    comm_regex: \"^x$\"\n"
			      "  - id: shared\n"
			      "    description: shared B\n"
			      "    event_types: [open]\n"
			      "    filename_regex: \"^/etc/\"\n";
static const char rules_bad[] = "rules:\n"
				"  - id: broken\n"
				"    description: typo\n"
				"    event_types: [opne]\n";

static void install(const char *text)
{
	char tmp[320];
	snprintf(tmp, sizeof(tmp), "%s.tmp", cfg);
	FILE *f = fopen(tmp, "w");
	fputs(text, f);
	fclose(f);
	rename(tmp, cfg);
}

/* One open event by comm "x" of filename, pid pid, committed (not flushed). */
static void add(struct eg_pipeline *p, uint32_t pid, const char *filename)
{
	size_t fl = strlen(filename);
	struct eg_event *ev = eg_pipe_begin(p, fl + 64);
	ev->ts_ns = 1735732800LL * 1000000000LL;
	ev->type = EG_EV_OPEN;
	ev->pid = ev->tgid = pid;
	ev->comm = eg_pipe_str(p, "x", 1);
	ev->comm_len = 1;
	ev->filename = eg_pipe_str(p, filename, fl);
	ev->filename_len = (uint32_t)fl;
	eg_pipe_commit(p);
}

/* The alert file as "pid:description" entries, one string, ';' separated. */
static char *alerts_summary(void)
{
	FILE *f = fopen(alerts_path, "r");
	char line[4096];
	size_t cap = 1 << 16, len = 0;
	char *s = calloc(1, cap);
	while (f && fgets(line, sizeof(line), f)) {
		char *pp = strstr(line, "\"event\":{");
		char *d = strstr(line, "\"description\":\"");
		unsigned pid = 0;
		if (!pp || !d || !(pp = strstr(pp, "\"pid\":")) || sscanf(pp, "\"pid\":%u", &pid) != 1)
			continue;
		d += strlen("\"description\":\"");
		char *e = strchr(d, '"');
		len += (size_t)snprintf(s + len, cap - len, "%u:%.*s;", pid, (int)(e - d), d);
	}
	if (f)
		fclose(f);
	return s;
}

static uint64_t alerts_of(const char *id)
{
	uint64_t sum = 0;
	for (uint32_t i = 0; i < atomic_load(&eg_metrics.nslots); i++)
		if (!strcmp(eg_metrics.slots[i].id, id))
			sum += atomic_load(&eg_metrics.slots[i].alerts);
	return sum;
}

int main(void)
{
	int saved_out = scratch_setup(dir, cfg, alerts_path, out_path);
	if (saved_out < 0)
		return 1;

	eg_metrics_init();
	install(rules_a);
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

	/* Reloads build in a thread of their own: wait for the swap. */
	reload_wait_ok = 1;
	/* Three events in the batch being built, then the file changes and a
	 * reload is requested and applied, then three more. */
	add(p, 1, "/etc/passwd"); /* A: a_open;         B: b_open, shared */
	add(p, 2, "/etc/z");      /* A: a_open, shared; B: b_open, shared */
	add(p, 3, "/tmp/z");      /* A: shared;         B: b_open */
	install(rules_b);
	reload_now(p);
	CHECK(atomic_load(&eg_metrics.reloads) == 1, "reloads %llu",
	      (unsigned long long)atomic_load(&eg_metrics.reloads));
	add(p, 4, "/etc/passwd");
	add(p, 5, "/etc/z");
	add(p, 6, "/tmp/z");
	/* A failed reload in the middle of a batch changes nothing. */
	install(rules_bad);
	reload_now(p);
	CHECK(atomic_load(&eg_metrics.reload_failures) == 1, "reload failures");
	add(p, 7, "/tmp/z");
	/* And back to A between two events of one batch. */
	install(rules_a);
	reload_now(p);
	add(p, 8, "/etc/z");
	eg_pipe_flush(p);

	char *got = alerts_summary();
	const char *want = "1:A open;"
			   "2:A open;2:shared A;"
			   "3:shared A;"
			   "4:B open;4:shared B;"
			   "5:B open;5:shared B;"
			   "6:B open;"
			   "7:B open;"
			   "8:A open;8:shared A;";
	CHECK(!strcmp(got, want), "alerts (pid:description):\n got  %s\n want %s", got, want);
	free(got);
	CHECK(atomic_load(&eg_metrics.reloads) == 2, "reloads %llu",
	      (unsigned long long)atomic_load(&eg_metrics.reloads));
	CHECK(alerts_of("a_open") == 3, "a_open counter %llu", (unsigned long long)alerts_of("a_open"));
	CHECK(alerts_of("b_open") == 4, "b_open counter %llu", (unsigned long long)alerts_of("b_open"));
	CHECK(alerts_of("shared") == 5, "shared counter %llu", (unsigned long long)alerts_of("shared"));

	eg_pipe_free(p);
	eg_alerts_close(sink);
	fflush(stdout);
	dup2(saved_out, 1);
	close(saved_out);
	unlink(cfg);
	unlink(alerts_path);
	unlink(out_path);
	rmdir(dir);
	CHECK(reload_wait_ok, "a reload did not finish within 10 s");
	return CHECK_SUMMARY("test_pipeline_reload");
}
