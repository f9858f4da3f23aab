/* SPDX-License-Identifier: MIT */
/*
 * The testing harness (src/testing.c) and the memory alert sink: alerts come
 * back as the alert JSON lines -alert-file gets, taken once each, the
 * engine's log lines too; a refused line and a refused configuration give
 * the reader's and the loader's messages; a batch that fills up mid-feed
 * loses nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testing.h"
#include "check.h"

static char dir[] = "/tmp/eg_test_testing.XXXXXX";
static char cfg[300], det[300];
static char err[4096];

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	fputs(s, f);
	fclose(f);
}

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static int feed(struct eg_test *t, const char *line)
{
	return eg_test_line(t, line, strlen(line), err, sizeof(err));
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(cfg, sizeof(cfg), "%s/rules.yaml", dir);
	snprintf(det, sizeof(det), "%s/det.lua", dir);
	write_file(cfg, "rules:\n"
			"  - id: shadow\n"
			"    description: shadow read\n"
			"    event_types: [open]\n"
			"    filename_regex: \"^/etc/shadow\"\n");
	write_file(det, "local guard = require(\"guard\")\n"
			"return { id = \"boom\", description = \"d\", event_types = { \"exec\" },\n"
			"  match = function(ev) guard.log(\"saw \" .. ev.comm); error(\"kaboom\") end }\n");
	const char *configs[] = {cfg, det};
	struct eg_engine_opts o = {.configs = configs, .nconfigs = 2};
	struct eg_test *t = eg_test_new(&o, err, sizeof(err));
	CHECK(t != NULL, "eg_test_new: %s", err);
	if (!t)
		return CHECK_SUMMARY("test_testing");

	size_t len;
	const char *a = eg_test_alerts(t, &len);
	CHECK(len == 0 && !strcmp(a, ""), "no events, no alerts: %s", a);

	CHECK(feed(t, "{\"type\":\"open\",\"pid\":7,\"tgid\":7,\"comm\":\"cat\","
		      "\"filename\":\"/etc/shadow\\udcff\"}") == 0, "open line: %s", err);
	CHECK(feed(t, "  \r") == 1, "a blank line is skipped");
	CHECK(feed(t, "{\"type\":\"exec\",\"comm\":\"sh\",\"filename\":\"/bin/sh\"}\r") == 0,
	      "exec line with CR: %s", err);
	CHECK(feed(t, "{\"type\":\"exec\",\"pid\":\"x\"}") == -1 &&
	      !strcmp(err, "field \"pid\": expected an integer, got a string"), "refused: %s", err);
	a = eg_test_alerts(t, &len);
	CHECK(len == strlen(a), "length %zu", len);
	CHECK(count(a, "\n") == 2, "two alerts: %s", a);
	static const char head[] = "{\"timestamp\":\"1970-01-01T00:00:00Z\",\"rule_id\":\"shadow\","
				   "\"description\":\"shadow read\",\"event_type\":\"open\",";
	CHECK(!strncmp(a, head, strlen(head)), "the alert line: %s", a);
	CHECK(strstr(a, "\"filename\":\"/etc/shadow\\udcff\"") != NULL, "bytes kept: %s", a);
	CHECK(strstr(a, "\"rule_id\":\"builtin_suspicious_shell\"") != NULL, "built-ins run: %s", a);
	a = eg_test_alerts(t, &len);
	CHECK(len == 0, "taken once: %s", a);

	const char *l = eg_test_logs(t, &len);
	CHECK(count(l, "\n") == 2 && strstr(l, "saw sh\n") && strstr(l, "kaboom\n"),
	      "logs: %s", l);
	l = eg_test_logs(t, &len);
	CHECK(len == 0, "logs taken once: %s", l);

	/* 300 events: the first batch (256) runs while feeding */
	for (int i = 0; i < 300; i++)
		feed(t, "{\"type\":\"open\",\"comm\":\"x\",\"filename\":\"/etc/shadow\"}");
	a = eg_test_alerts(t, &len);
	CHECK(count(a, "\"rule_id\":\"shadow\"") == 300, "300 alerts, got %zu",
	      count(a, "\"rule_id\":\"shadow\""));
	eg_test_free(t);

	write_file(cfg, "rules:\n  - id: x\n");
	const char *one[] = {cfg};
	struct eg_engine_opts bad = {.configs = one, .nconfigs = 1};
	t = eg_test_new(&bad, err, sizeof(err));
	CHECK(!t && strstr(err, "rule \"x\": description: missing"), "refused config: %s", err);
	eg_test_free(t);

	unlink(cfg);
	unlink(det);
	rmdir(dir);
	return CHECK_SUMMARY("test_testing");
}
