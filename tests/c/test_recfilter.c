/* SPDX-License-Identifier: MIT */
/* src/recfilter.c: -record-types parsing, the subtree set under many adds
 * and removals (against a plain array), forks, exits, the /proc scan on a
 * made-up proc root, comm and cgroup matching. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "recfilter.h"

static struct eg_event mk(uint32_t type, uint32_t tgid, uint32_t ppid, const char *comm,
			  const struct eg_container *ctr)
{
	struct eg_event ev = {.type = type, .pid = tgid, .tgid = tgid, .ppid = ppid};
	ev.comm = comm;
	ev.comm_len = (uint32_t)strlen(comm);
	ev.ctr = ctr;
	return ev;
}

static void test_types(void)
{
	char err[512];
	uint32_t m = 0;
	CHECK(!eg_recfilter_parse_types("exec,open,accept", &m, err, sizeof(err)) &&
		      m == (1u << EG_EV_EXEC | 1u << EG_EV_OPEN | 1u << EG_EV_ACCEPT),
	      "types mask %x", m);
	CHECK(eg_recfilter_parse_types("opne", &m, err, sizeof(err)) &&
		      !strcmp(err, "-record-types: unknown event type \"opne\" (did you mean \"open\"?)"),
	      "suggestion: %s", err);
	CHECK(eg_recfilter_parse_types("EXEC", &m, err, sizeof(err)) &&
		      !strcmp(err, "-record-types: unknown event type \"EXEC\" (did you mean \"exec\"?)"),
	      "case: %s", err);
	CHECK(eg_recfilter_parse_types("exec,", &m, err, sizeof(err)) &&
		      !strcmp(err, "-record-types: empty event type name in \"exec,\""),
	      "trailing comma: %s", err);
}

/* Random adds and removals against a reference: the backward-shift
 * deletion must keep every other member findable. */
static void test_set(void)
{
	uint32_t seed = 1;
	struct eg_recfilter_opts o = {.pids = &seed, .npids = 1};
	char err[256];
	struct eg_recfilter *f = eg_recfilter_new(&o, err, sizeof(err));
	static unsigned char ref[4096];
	ref[1] = 1;
	srand(7);
	int bad = 0;
	for (int i = 0; i < 200000 && !bad; i++) {
		uint32_t k = 2 + (uint32_t)rand() % 4000;
		if (rand() % 3) {
			eg_recfilter_fork(f, k, 1);
			ref[k] = 1;
		} else {
			eg_recfilter_exit(f, k);
			ref[k] = 0;
		}
		if (i % 1000 == 0)
			for (uint32_t j = 1; j < 4096; j++)
				bad += eg_recfilter_member(f, j) != ref[j];
	}
	CHECK(!bad, "%d members differ from the reference", bad);
	eg_recfilter_free(f);
}

static void test_subtree(void)
{
	uint32_t pids[] = {100};
	struct eg_recfilter_opts o = {.pids = pids, .npids = 1, .types = 1u << EG_EV_OPEN};
	char err[256];
	struct eg_recfilter *f = eg_recfilter_new(&o, err, sizeof(err));
	struct eg_event e = mk(EG_EV_EXEC, 101, 100, "sh", NULL);
	CHECK(!eg_recfilter_match(f, &e) && eg_recfilter_member(f, 101),
	      "an exec of a child: member, not written (type)");
	e = mk(EG_EV_OPEN, 102, 101, "cat", NULL);
	CHECK(eg_recfilter_match(f, &e), "an open of a grandchild");
	eg_recfilter_fork(f, 103, 102); /* silent */
	e = mk(EG_EV_OPEN, 104, 103, "cat", NULL);
	CHECK(eg_recfilter_match(f, &e), "under a silent forked member");
	e = mk(EG_EV_EXIT, 102, 101, "cat", NULL);
	CHECK(!eg_recfilter_match(f, &e) && !eg_recfilter_member(f, 102), "exit: left");
	e = mk(EG_EV_OPEN, 102, 1, "other", NULL);
	CHECK(!eg_recfilter_match(f, &e), "pid 102 reused outside");
	e = mk(EG_EV_OPEN, 200, 1, "x", NULL);
	CHECK(!eg_recfilter_match(f, &e), "unrelated");
	eg_recfilter_free(f);
}

static void test_comm_cgroup(void)
{
	const char *comms[] = {"^ba", "^sh$"}, *cgs[] = {"/system.slice/"};
	struct eg_recfilter_opts o = {.comms = comms, .ncomms = 2, .cgroups = cgs, .ncgroups = 1};
	char err[256];
	struct eg_recfilter *f = eg_recfilter_new(&o, err, sizeof(err));
	struct eg_container sys = {.cgroup = "/system.slice/x.service", .cgroup_len = 23},
			    usr = {.cgroup = "/user.slice", .cgroup_len = 11},
			    shortc = {.cgroup = "/system.slice", .cgroup_len = 13};
	struct eg_event e = mk(EG_EV_OPEN, 1, 0, "bash", &sys);
	CHECK(eg_recfilter_match(f, &e), "bash in system.slice");
	e = mk(EG_EV_OPEN, 1, 0, "shx", &sys);
	CHECK(!eg_recfilter_match(f, &e), "shx");
	e = mk(EG_EV_OPEN, 1, 0, "sh", &usr);
	CHECK(!eg_recfilter_match(f, &e), "user.slice");
	e = mk(EG_EV_OPEN, 1, 0, "sh", &shortc);
	CHECK(!eg_recfilter_match(f, &e), "a path shorter than the prefix");
	e = mk(EG_EV_OPEN, 1, 0, "sh", NULL);
	CHECK(!eg_recfilter_match(f, &e), "no cgroup");
	eg_recfilter_free(f);
	const char *bad[] = {"a{2,1}"};
	struct eg_recfilter_opts ob = {.comms = bad, .ncomms = 1};
	CHECK(!eg_recfilter_new(&ob, err, sizeof(err)) &&
		      !strcmp(err, "invalid -record-comm 'a{2,1}': numbers out of order in {} quantifier at offset 5"),
	      "regex error: %s", err);
}

static void put_stat(const char *root, uint32_t pid, uint32_t ppid)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%u", root, pid);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/%u/stat", root, pid);
	FILE *fp = fopen(p, "w");
	fprintf(fp, "%u (a (b) c) S %u 1 1 0\n", pid, ppid);
	fclose(fp);
}

static void test_scan(void)
{
	char root[] = "/tmp/eg-recfilter.XXXXXX";
	if (!mkdtemp(root)) {
		CHECK(0, "mkdtemp");
		return;
	}
	/* 10 -> 11 -> 12 -> 13, 10 -> 14; 20 -> 21; 13's parent listed after it */
	put_stat(root, 13, 12);
	put_stat(root, 12, 11);
	put_stat(root, 11, 10);
	put_stat(root, 14, 10);
	put_stat(root, 21, 20);
	put_stat(root, 10, 1);
	uint32_t pids[] = {10};
	struct eg_recfilter_opts o = {.pids = pids, .npids = 1};
	char err[256], cmd[600];
	struct eg_recfilter *f = eg_recfilter_new(&o, err, sizeof(err));
	unsigned n = eg_recfilter_scan_proc(f, root);
	CHECK(n == 4 && eg_recfilter_member(f, 13) && eg_recfilter_member(f, 14) &&
		      !eg_recfilter_member(f, 21) && !eg_recfilter_member(f, 1),
	      "scan added %u", n);
	eg_recfilter_free(f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	CHECK(system(cmd) == 0, "cleanup");
}

int main(void)
{
	test_types();
	test_set();
	test_subtree();
	test_comm_cgroup();
	test_scan();
	return CHECK_SUMMARY("test_recfilter");
}
