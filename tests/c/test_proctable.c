/* SPDX-License-Identifier: MIT */
/* The process table: exec, fork, exit, ancestry, pid reuse, eviction with
 * pointers valid until reap, and /proc seeding from a fake /proc tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/proctable.h"
#include "check.h"

static const struct eg_proc *exec(struct eg_proctable *t, uint32_t tgid, uint32_t ppid,
				  const char *comm, const char *exe, uint64_t when)
{
	char args[256];
	size_t al = (size_t)snprintf(args, sizeof(args), "%s%c--flag", exe, 0) + 1;
	struct eg_pt_exec in = {
		.tgid = tgid, .ppid = ppid, .uid = 1000, .gid = 1000, .loginuid = 1000,
		.start_ns = (int64_t)when, .boot_ns = when, .start_boottime = when - 5,
		.tty_dev = 136u << 20 | 4,
		.comm = comm, .comm_len = (uint32_t)strlen(comm),
		.exe = exe, .exe_len = (uint32_t)strlen(exe),
		.args = args, .args_len = (uint32_t)al, .argc = 2,
		.cwd = "/home/u", .cwd_len = 7,
	};
	return eg_pt_exec(t, &in);
}

static bool streq(const char *s, uint32_t n, const char *want)
{
	return n == strlen(want) && !memcmp(s, want, n) && s[n] == 0;
}

static void test_chain(void)
{
	struct eg_pt_opts o = {.capacity = 64, .boot_id = "0123abcd-ffff", .proc_root = "/nonexistent"};
	struct eg_proctable *t = eg_pt_new(&o);
	const struct eg_proc *init = exec(t, 1, 0, "init", "/sbin/init", 10);
	CHECK(init && init->nancestors == 0 && init->parent_tgid == 0, "init has no parent");
	CHECK(init && init->start_boottime == 5, "an exec image keeps the process's start");
	CHECK(streq(init->exec_id, init->exec_id_len, "0123abcd:10:1"), "exec id %s", init->exec_id);
	CHECK(streq(init->tty, init->tty_len, "pts/4"), "tty %s", init->tty);
	exec(t, 100, 1, "sshd", "/usr/sbin/sshd", 20);
	/* sshd forks 200, which execs bash, which forks 300 execing cat */
	const struct eg_proc *f = eg_pt_fork(t, 200, 100, 100, "sshd", 4, 0, 0, 30, 30, 29);
	CHECK(f && f->start_boottime == 29, "a fork image has the child's start, not the caller's");
	CHECK(f && (f->flags & EG_PROCF_FORKED) && streq(f->exe, f->exe_len, "/usr/sbin/sshd"),
	      "a fork copies the caller's image");
	CHECK(f && streq(f->exec_id, f->exec_id_len, "0123abcd:30:200"), "fork exec id %s", f->exec_id);
	CHECK(f && f->parent_tgid == 100 && streq(f->parent_exe, f->parent_exe_len, "/usr/sbin/sshd"),
	      "fork parent");
	const struct eg_proc *bash = exec(t, 200, 100, "bash", "/usr/bin/bash", 40);
	CHECK(bash && !(bash->flags & EG_PROCF_FORKED), "exec clears forked");
	eg_pt_fork(t, 300, 200, 200, "bash", 4, 1000, 1000, 50, 50, 50);
	const struct eg_proc *cat = exec(t, 300, 200, "cat", "/usr/bin/cat", 60);
	CHECK(cat->nancestors == 3, "cat has 3 ancestors, got %u", cat->nancestors);
	CHECK(streq(cat->ancestors[0].exe, cat->ancestors[0].exe_len, "/usr/bin/bash") &&
		      streq(cat->ancestors[1].exe, cat->ancestors[1].exe_len, "/usr/sbin/sshd") &&
		      streq(cat->ancestors[2].comm, cat->ancestors[2].comm_len, "init"),
	      "ancestors nearest first");
	CHECK(streq(cat->parent_exec_id, cat->parent_exec_id_len, bash->exec_id), "parent exec id");
	CHECK(cat->parent_argc == 2 && streq(cat->parent_args, 13, "/usr/bin/bash"), "parent args");
	CHECK(eg_pt_get(t, 300, false) == cat, "lookup");

	/* the parent exits: a later exec of the child keeps the parent it had */
	eg_pt_exit(t, 200);
	CHECK(eg_pt_get(t, 200, false) == NULL, "exit removes");
	CHECK(streq(bash->comm, bash->comm_len, "bash"), "a retired image stays readable until reap");
	const struct eg_proc *cat2 = exec(t, 300, 1, "sh", "/bin/sh", 70);
	CHECK(cat2->parent_tgid == 1 && streq(cat2->parent_comm, cat2->parent_comm_len, "init"),
	      "reparented to init: the parent is init now");
	eg_pt_reap(t);

	/* pid reuse: the same tgid later gets another exec id */
	eg_pt_exit(t, 300);
	const struct eg_proc *again = exec(t, 300, 1, "cat", "/usr/bin/cat", 80);
	CHECK(strcmp(again->exec_id, "0123abcd:60:300") && streq(again->exec_id, again->exec_id_len, "0123abcd:80:300"),
	      "pid reuse gives a new exec id: %s", again->exec_id);
	CHECK(streq(again->tty, again->tty_len, "pts/4"), "tty");
	eg_pt_free(t);
}

static void test_eviction(void)
{
	struct eg_pt_opts o = {.capacity = 16, .boot_id = "x", .proc_root = "/nonexistent"};
	struct eg_proctable *t = eg_pt_new(&o);
	const struct eg_proc *first = exec(t, 1000, 0, "p0", "/bin/p0", 1);
	for (uint32_t i = 1; i < 100; i++) {
		exec(t, 1000 + i, 0, "p", "/bin/p", i + 1);
		CHECK(eg_pt_get(t, 1000 + i, false), "the newest is in the table (%u)", i);
		eg_pt_get(t, 1005, false); /* keep one busy */
	}
	struct eg_pt_stats st;
	eg_pt_stats(t, &st);
	CHECK(st.entries <= 16 && st.evictions >= 84, "bounded: %llu entries, %llu evictions",
	      (unsigned long long)st.entries, (unsigned long long)st.evictions);
	CHECK(eg_pt_get(t, 1005, false), "a busy entry stays");
	CHECK(!eg_pt_get(t, 1000, false), "the oldest idle one went");
	CHECK(streq(first->exe, first->exe_len, "/bin/p0"), "evicted but readable before reap");
	eg_pt_reap(t);
	/* bytes bound */
	struct eg_pt_opts ob = {.capacity = 1000, .max_bytes = 8192, .boot_id = "x", .proc_root = "/nonexistent"};
	struct eg_proctable *tb = eg_pt_new(&ob);
	for (uint32_t i = 1; i < 200; i++)
		exec(tb, i, 0, "p", "/bin/p", i);
	eg_pt_stats(tb, &st);
	CHECK(st.bytes <= 8192 && st.entries < 200, "byte bound: %llu bytes", (unsigned long long)st.bytes);
	eg_pt_free(tb);
	eg_pt_free(t);
}

static void put_file(const char *dir, const char *name, const char *data, size_t n)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	fwrite(data, 1, n, f);
	fclose(f);
}

/* A fake /proc/<pid> with stat, status, cmdline, loginuid, exe and cwd. */
static void fake_proc(const char *root, unsigned pid, unsigned ppid, const char *comm,
		      const char *exe, unsigned tty_nr)
{
	char d[512], buf[1024];
	snprintf(d, sizeof(d), "%s/%u", root, pid);
	mkdir(d, 0755);
	int n = snprintf(buf, sizeof(buf),
			 "%u (%s) S %u %u %u %u -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 %u 0 0\n", pid,
			 comm, ppid, pid, pid, tty_nr, 500 + pid);
	put_file(d, "stat", buf, (size_t)n);
	n = snprintf(buf, sizeof(buf), "Name:\t%s\nTgid:\t%u\nPid:\t%u\nUid:\t0\t0\t0\t0\nGid:\t5\t5\t5\t5\n",
		     comm, pid, pid);
	put_file(d, "status", buf, (size_t)n);
	n = snprintf(buf, sizeof(buf), "%s%c-x%c", exe, 0, 0);
	put_file(d, "cmdline", buf, (size_t)n);
	put_file(d, "loginuid", "4294967295", 10);
	char l[600];
	snprintf(l, sizeof(l), "%s/exe", d);
	if (symlink(exe, l))
		perror("symlink");
	snprintf(l, sizeof(l), "%s/cwd", d);
	if (symlink("/var/tmp", l))
		perror("symlink");
}

static void test_seed(void)
{
	char root[] = "/tmp/eg-proc-XXXXXX";
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		failed++;
		return;
	}
	fake_proc(root, 1, 0, "systemd", "/usr/lib/systemd/systemd", 0);
	fake_proc(root, 40, 1, "cron (x)", "/usr/sbin/cron", 0);
	fake_proc(root, 41, 40, "sh", "/usr/bin/dash", 34816 + 2); /* pts/2 */
	struct eg_pt_opts o = {.capacity = 64, .boot_id = "b", .proc_root = root};
	struct eg_proctable *t = eg_pt_new(&o);
	unsigned n = eg_pt_seed(t);
	CHECK(n == 3, "seeded %u", n);
	const struct eg_proc *sh = eg_pt_get(t, 41, false);
	CHECK(sh && (sh->flags & EG_PROCF_SEEDED), "seeded flag");
	CHECK(sh && streq(sh->exe, sh->exe_len, "/usr/bin/dash") && sh->argc == 2, "exe and args");
	CHECK(sh && streq(sh->parent_comm, sh->parent_comm_len, "cron (x)"), "comm with a paren: %s",
	      sh ? sh->parent_comm : "");
	CHECK(sh && sh->nancestors == 2 && streq(sh->ancestors[1].comm, sh->ancestors[1].comm_len, "systemd"),
	      "seeded ancestry");
	CHECK(sh && sh->loginuid == -1 && sh->gid == 5, "loginuid unset, gid");
	CHECK(sh && streq(sh->tty, sh->tty_len, "pts/2"), "tty from tty_nr: %s", sh ? sh->tty : "");
	CHECK(sh && streq(sh->cwd, sh->cwd_len, "/var/tmp"), "cwd");
	long hz = sysconf(_SC_CLK_TCK);
	CHECK(sh && sh->start_boottime == 541ull * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100)),
	      "a seeded image's start from stat's starttime (541 ticks): %llu",
	      sh ? (unsigned long long)sh->start_boottime : 0ull);
	/* a miss reads /proc */
	fake_proc(root, 77, 41, "late", "/bin/late", 0);
	const struct eg_proc *late = eg_pt_get(t, 77, true);
	CHECK(late && streq(late->parent_comm, late->parent_comm_len, "sh"), "a miss loads from /proc");
	struct eg_pt_stats st;
	eg_pt_stats(t, &st);
	CHECK(st.misses == 1, "one miss counted");
	CHECK(!eg_pt_get(t, 999, true), "unknown stays unknown");
	/* a process /proc no longer has: an unknown image, with its known parent */
	const struct eg_proc *u = eg_pt_unknown(t, 999, 41, "gone", 16, 7, 8);
	CHECK(u && (u->flags & EG_PROCF_UNKNOWN) && u->loginuid == -1 && u->exec_id_len == 0 &&
		      u->start_boottime == 0 &&
		      streq(u->comm, u->comm_len, "gone") && streq(u->parent_comm, u->parent_comm_len, "sh"),
	      "unknown image with its parent");
	eg_pt_stats(t, &st);
	uint64_t misses = st.misses;
	CHECK(eg_pt_get(t, 999, true) == u, "the unknown image is found: no second /proc read");
	eg_pt_stats(t, &st);
	CHECK(st.misses == misses, "no miss counted for it");
	/* a fork of a seeded process is flagged forked, not seeded */
	const struct eg_proc *f = eg_pt_fork(t, 78, 41, 41, "sh", 2, 0, 5, 1, 1, 1);
	CHECK(f && (f->flags & EG_PROCF_FORKED) && !(f->flags & EG_PROCF_SEEDED), "fork of seeded");
	eg_pt_free(t);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		perror("rm");
}

static void test_tty_names(void)
{
	char b[32];
	eg_tty_name(b, sizeof(b), 136, 0);
	CHECK(!strcmp(b, "pts/0"), "%s", b);
	eg_tty_name(b, sizeof(b), 137, 3);
	CHECK(!strcmp(b, "pts/259"), "%s", b);
	eg_tty_name(b, sizeof(b), 4, 1);
	CHECK(!strcmp(b, "tty1"), "%s", b);
	eg_tty_name(b, sizeof(b), 4, 64);
	CHECK(!strcmp(b, "ttyS0"), "%s", b);
	eg_tty_name(b, sizeof(b), 5, 1);
	CHECK(!strcmp(b, "console"), "%s", b);
	eg_tty_name(b, sizeof(b), 204, 64);
	CHECK(!strcmp(b, "tty(204:64)"), "%s", b);
}

int main(void)
{
	test_chain();
	test_eviction();
	test_seed();
	test_tty_names();
	return CHECK_SUMMARY("test_proctable");
}
