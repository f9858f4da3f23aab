/* SPDX-License-Identifier: MIT */
/* The C side of the engine: embedded sources, the real count hook enforcing
 * the instruction budget, error counters, dynamic descriptions, and hit-array
 * resumption when a batch produces more hits than fit at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "check.h"


static char lua_dir[4096];
static char tmp[] = "/tmp/eg-test-engine.XXXXXX";

static const char *write_tmp(const char *name, const char *text)
{
	static char path[4200];
	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

struct hit {
	uint32_t ev;
	uint32_t rule;
	char desc[64];
};
static struct hit hits[200000];
static size_t nhits;

static void on_hit(void *ctx, const struct eg_event *ev, uint32_t rule, const char *d, size_t dl)
{
	struct eg_event *base = ctx;
	if (nhits < sizeof(hits) / sizeof(hits[0])) {
		hits[nhits].ev = (uint32_t)(ev - base);
		hits[nhits].rule = rule;
		snprintf(hits[nhits].desc, sizeof(hits[nhits].desc), "%.*s", (int)dl, d ? d : "");
	}
	nhits++;
}

static void make_exec(struct eg_event *e, const char *comm, const char *file)
{
	memset(e, 0, sizeof(*e));
	e->type = EG_EV_EXEC;
	e->pid = e->tgid = 42;
	e->comm = comm;
	e->comm_len = (uint32_t)strlen(comm);
	e->filename = file;
	e->filename_len = (uint32_t)strlen(file);
	e->exe = e->dest_ip = e->args = "";
}

static struct eg_engine *engine(const char *cfg, int embedded, char *err, size_t errlen)
{
	const char *cfgs[1] = {cfg};
	struct eg_engine_opts o = {
		.lua_path = embedded ? NULL : lua_dir,
		.configs = cfgs,
		.nconfigs = cfg ? 1 : 0,
	};
	return eg_engine_new(&o, err, errlen);
}

static int rule_index(struct eg_engine *e, const char *id)
{
	for (size_t i = 0; i < eg_engine_nrules(e); i++)
		if (!strcmp(eg_engine_rule(e, i)->id, id))
			return (int)i;
	return -1;
}

static void test_builtins_embedded(void)
{
	char err[1024];
	struct eg_engine *e = engine(NULL, 1, err, sizeof(err));
	CHECK(e != NULL, "embedded engine: %s", err);
	if (!e)
		return;
	CHECK(eg_engine_nrules(e) == 4, "4 built-ins, got %zu", eg_engine_nrules(e));
	const char *ids[] = {"builtin_fileless_exec", "builtin_suspicious_shell", "builtin_crypto_exec",
			     "builtin_crypto_port"};
	for (int i = 0; i < 4 && (size_t)i < eg_engine_nrules(e); i++)
		CHECK(!strcmp(eg_engine_rule(e, (size_t)i)->id, ids[i]), "built-in %d is %s", i,
		      eg_engine_rule(e, (size_t)i)->id);
	struct eg_event ev[2];
	make_exec(&ev[0], "bash", "/dev/shm/.x");
	make_exec(&ev[1], "cron", "/usr/bin/id");
	nhits = 0;
	CHECK(eg_engine_run(e, ev, 2, on_hit, ev, err, sizeof(err)) == 0, "run: %s", err);
	CHECK(nhits == 2, "2 hits, got %zu", nhits);
	CHECK(nhits >= 2 && hits[0].ev == 0 && hits[0].rule == 0 && hits[1].ev == 0 && hits[1].rule == 1,
	      "fileless then shell on event 0");
	eg_engine_free(e);
}

static void test_budget_and_errors(void)
{
	const char *det = write_tmp("det.lua",
		"local seen = 0\n"
		"return {\n"
		"  { id = 'spin', description = 'spins', event_types = {'exec'},\n"
		"    match = function(ev) local x = 0 while true do x = x + 1 end end },\n"
		"  { id = 'swallow', description = 'tries to swallow the budget error', event_types = {'exec'},\n"
		"    match = function(ev) while true do pcall(function() while true do end end) end end },\n"
		"  { id = 'boom', description = 'fails', event_types = {'exec'},\n"
		"    match = function(ev) error('kaboom') end },\n"
		"  { id = 'dyn', description = 'static', event_types = {'exec'},\n"
		"    match = function(ev) seen = seen + 1 return { description = 'seen ' .. seen .. ' ' .. ev.comm } end },\n"
		"}\n");
	char err[1024];
	struct eg_engine *e = engine(det, 0, err, sizeof(err));
	CHECK(e != NULL, "engine with detections: %s", err);
	if (!e)
		return;
	struct eg_event ev[3];
	make_exec(&ev[0], "bash", "/bin/bash");
	make_exec(&ev[1], "cron", "/usr/bin/id");
	make_exec(&ev[2], "zsh", "/bin/zsh");
	nhits = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(eg_engine_run(e, ev, 3, on_hit, ev, err, sizeof(err)) == 0, "run: %s", err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	CHECK(s < 5.0, "endless loops cut by the budget in %.2fs", s);
	int spin = rule_index(e, "spin"), swallow = rule_index(e, "swallow");
	int boom = rule_index(e, "boom"), dyn = rule_index(e, "dyn");
	int shell = rule_index(e, "builtin_suspicious_shell");
	CHECK(eg_engine_rule_errors(e, (size_t)spin, EG_RERR_BUDGET) == 3, "spin: 3 budget errors, got %llu",
	      (unsigned long long)eg_engine_rule_errors(e, (size_t)spin, EG_RERR_BUDGET));
	CHECK(eg_engine_rule_errors(e, (size_t)swallow, EG_RERR_BUDGET) == 3, "swallow: 3 budget errors, got %llu",
	      (unsigned long long)eg_engine_rule_errors(e, (size_t)swallow, EG_RERR_BUDGET));
	CHECK(eg_engine_rule_errors(e, (size_t)boom, EG_RERR_RUNTIME) == 3, "boom: 3 runtime errors");
	CHECK(eg_engine_rule_errors(e, (size_t)boom, EG_RERR_BUDGET) == 0, "boom: no budget errors");
	CHECK(eg_engine_total_errors(e) == 9, "9 errors in all, got %llu",
	      (unsigned long long)eg_engine_total_errors(e));
	/* user code calls, failed or not; none for a built-in */
	CHECK(eg_engine_rule_calls(e, (size_t)spin) == 3 && eg_engine_rule_calls(e, (size_t)boom) == 3 &&
	      eg_engine_rule_calls(e, (size_t)dyn) == 3 && eg_engine_rule_calls(e, (size_t)shell) == 0 &&
	      eg_engine_rule_calls(e, eg_engine_nrules(e)) == 0,
	      "calls: spin %llu boom %llu dyn %llu shell %llu", (unsigned long long)eg_engine_rule_calls(e, (size_t)spin),
	      (unsigned long long)eg_engine_rule_calls(e, (size_t)boom),
	      (unsigned long long)eg_engine_rule_calls(e, (size_t)dyn),
	      (unsigned long long)eg_engine_rule_calls(e, (size_t)shell));
	CHECK(!strcmp(eg_engine_rule(e, (size_t)boom)->kind, "lua") &&
	      !strcmp(eg_engine_rule(e, (size_t)shell)->kind, "builtin"), "kinds");
	/* the last error, as logged; truncated to the buffer; "" for none */
	char last[256], want[256], small[12];
	snprintf(want, sizeof(want), "runtime error: %s:8: kaboom", det);
	CHECK(eg_engine_rule_last_error(e, (size_t)boom, last, sizeof(last)) == strlen(want) &&
	      !strcmp(last, want), "boom's last error: '%s', want '%s'", last, want);
	CHECK(eg_engine_rule_last_error(e, (size_t)spin, small, sizeof(small)) == 11 &&
	      !strcmp(small, "budget erro"), "truncated: '%s'", small);
	CHECK(eg_engine_rule_last_error(e, (size_t)dyn, last, sizeof(last)) == 0 && !last[0],
	      "no error: '%s'", last);
	/* bash: shell + dyn, cron: dyn, zsh: shell + dyn */
	CHECK(nhits == 5, "5 hits, got %zu", nhits);
	if (nhits == 5) {
		CHECK(hits[0].ev == 0 && (int)hits[0].rule == shell, "event 0: shell first");
		CHECK(hits[1].ev == 0 && (int)hits[1].rule == dyn && !strcmp(hits[1].desc, "seen 1 bash"),
		      "event 0: dynamic description, got '%s'", hits[1].desc);
		CHECK(hits[2].ev == 1 && !strcmp(hits[2].desc, "seen 2 cron"), "state kept: '%s'", hits[2].desc);
		CHECK(hits[4].ev == 2 && !strcmp(hits[4].desc, "seen 3 zsh"), "state kept: '%s'", hits[4].desc);
	}
	eg_engine_free(e);
}

static void test_load_time_loop(void)
{
	const char *det = write_tmp("toplevel.lua", "while true do end\n");
	char err[1024] = "";
	struct eg_engine *e = engine(det, 0, err, sizeof(err));
	CHECK(e == NULL, "a detection file that never returns is refused");
	CHECK(strstr(err, "toplevel.lua") && strstr(err, "instruction budget exceeded"),
	      "message names the file and the budget: %s", err);
	eg_engine_free(e);
}

static void test_hit_resumption(void)
{
	/* 300 rules that all fire on every exec: 256 events give 77k hits, far
	 * more than one run() call can hold, so C must call run() again. */
	size_t cap = 64 * 1024;
	char *y = malloc(cap);
	size_t len = (size_t)snprintf(y, cap, "rules:\n");
	for (int i = 0; i < 300; i++)
		len += (size_t)snprintf(y + len, cap - len,
					"  - id: r%03d\n    description: every exec\n    event_types: [exec]\n", i);
	const char *cfg = write_tmp("many.yaml", y);
	free(y);
	char err[1024];
	struct eg_engine *e = engine(cfg, 0, err, sizeof(err));
	CHECK(e != NULL, "engine with 300 rules: %s", err);
	if (!e)
		return;
	static struct eg_event ev[256];
	for (int i = 0; i < 256; i++)
		make_exec(&ev[i], "cron", "/usr/bin/id");
	nhits = 0;
	CHECK(eg_engine_run(e, ev, 256, on_hit, ev, err, sizeof(err)) == 0, "run: %s", err);
	CHECK(nhits == 256 * 300, "all %d hits, got %zu", 256 * 300, nhits);
	int ordered = 1;
	for (size_t i = 0; i < nhits && i < sizeof(hits) / sizeof(hits[0]); i++) {
		uint32_t want_ev = (uint32_t)(i / 300);
		const char *id = eg_engine_rule(e, hits[i].rule)->id;
		char want[8];
		snprintf(want, sizeof(want), "r%03zu", i % 300);
		if (hits[i].ev != want_ev || strcmp(id, want))
			ordered = 0;
	}
	CHECK(ordered, "hits in event order, then rule order");
	eg_engine_free(e);
}

/* Declarative rules run in group loops before user code (compile.lua): the
 * engine still delivers each event's hits in rule order, events in order,
 * with each dynamic description on its own hit. */
static void test_hit_order(void)
{
	char det[512];
	snprintf(det, sizeof(det), "%s", write_tmp("order.lua",
		"return { id = 'det', description = 'd', event_types = {'exec'},\n"
		"  match = function(ev) return 'desc ' .. ev.comm end }\n"));
	const char *yaml = write_tmp("order.yaml",
		"rules:\n"
		"  - {id: after, description: a, event_types: [exec], match: {comm: {prefix: x}}}\n");
	const char *cfgs[2] = {det, yaml};
	struct eg_engine_opts o = {.lua_path = lua_dir, .configs = cfgs, .nconfigs = 2};
	char err[1024];
	struct eg_engine *e = eg_engine_new(&o, err, sizeof(err));
	CHECK(e != NULL, "engine: %s", err);
	if (!e)
		return;
	int idet = rule_index(e, "det"), iafter = rule_index(e, "after");
	struct eg_event ev[300];
	static char comms[300][8];
	for (int i = 0; i < 300; i++) {
		snprintf(comms[i], sizeof(comms[i]), "x%d", i);
		make_exec(&ev[i], comms[i], "/usr/bin/true");
	}
	nhits = 0;
	CHECK(eg_engine_run(e, ev, 300, on_hit, ev, err, sizeof(err)) == 0, "run: %s", err);
	CHECK(nhits == 600, "2 hits per event, got %zu", nhits);
	int ok = 1;
	for (size_t k = 0; k < 600 && k < nhits; k++) {
		char want[32];
		snprintf(want, sizeof(want), "desc x%zu", k / 2);
		if (hits[k].ev != k / 2 || (int)hits[k].rule != (k % 2 ? iafter : idet) ||
		    strcmp(hits[k].desc, k % 2 ? "" : want))
			ok = 0;
	}
	CHECK(ok, "hits in event order, then rule order (det before after), descriptions kept");
	eg_engine_free(e);
}

int main(void)
{
	const char *src = getenv("EG_SOURCE_DIR");
	snprintf(lua_dir, sizeof(lua_dir), "%s/lua", src ? src : ".");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	test_builtins_embedded();
	test_budget_and_errors();
	test_load_time_loop();
	test_hit_resumption();
	test_hit_order();
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd)) {
	}
	return CHECK_SUMMARY("test_engine");
}
