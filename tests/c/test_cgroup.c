/* SPDX-License-Identifier: MIT */
/*
 * Container identity from cgroup v2 paths: the parser on the paths each
 * runtime makes with the systemd and the cgroupfs driver, near misses and
 * garbage; the cache against a directory tree made here (each directory's
 * inode number standing in for a cgroup id, as on cgroup2): walk, hit,
 * negative entries and their retry, the walk's rate limit and bounds,
 * eviction with returned objects valid until reap, /proc/<pid>/cgroup from a
 * fake /proc (mismatches, traversal, symlinks, long lines); and the real
 * cgroup2 mount: this process's own cgroup, and a docker-named cgroup made
 * and removed here when we may.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "check.h"

#define H1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define H2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define H3 "3333333333333333333333333333333333333333333333333333333333333333"
#define H4 "4444444444444444444444444444444444444444444444444444444444444444"
#define H5 "5555555555555555555555555555555555555555555555555555555555555555"
#define H6 "6666666666666666666666666666666666666666666666666666666666666666"
#define H7 "7777777777777777777777777777777777777777777777777777777777777777"
#define UID "2c3b1f9e-5d4a-4e6b-9a7c-1b2d3e4f5a6b"
#define UID_ "2c3b1f9e_5d4a_4e6b_9a7c_1b2d3e4f5a6b"
#define SUID "8b4d6a5c0f1e2d3c4b5a69788796a5b4" /* a static pod's UID */

/* ---- the parser ----------------------------------------------------------- */

static void parse_case(int line, const char *path, const char *id, const char *runtime,
		       const char *pod)
{
	size_t n = strlen(path);
	/* an exact-size copy: a read past len shows under the sanitizers */
	char *copy = malloc(n ? n : 1);
	memcpy(copy, path, n);
	struct eg_container_name nm;
	int rc = eg_container_parse(copy, n, &nm);
	int want = *id != 0;
	CHECK(rc == want, "line %d: %s: parse %d, want %d", line, path, rc, want);
	CHECK(nm.id_len == strlen(id) && memcmp(nm.id, id, nm.id_len) == 0,
	      "line %d: %s: id '%.*s', want '%s'", line, path, (int)nm.id_len, nm.id, id);
	if (nm.id_len)
		CHECK(nm.id >= copy && nm.id + nm.id_len <= copy + n,
		      "line %d: id does not point into the path", line);
	CHECK(!strcmp(nm.runtime, runtime) && nm.runtime_len == strlen(runtime),
	      "line %d: %s: runtime '%s', want '%s'", line, path, nm.runtime, runtime);
	CHECK(!strcmp(nm.pod_uid, pod) && nm.pod_uid_len == strlen(pod),
	      "line %d: %s: pod '%s', want '%s'", line, path, nm.pod_uid, pod);
	free(copy);
}

#define P(path, id, rt, pod) parse_case(__LINE__, path, id, rt, pod)

static void test_parse_runtimes(void)
{
	/* docker: systemd driver, cgroupfs, rootless, a child cgroup of its own */
	P("/system.slice/docker-" H1 ".scope", H1, "docker", "");
	P("/system.slice/docker-" H1 ".scope/init.scope", H1, "docker", "");
	P("/docker/" H1, H1, "docker", "");
	P("/docker/" H1 "/", H1, "docker", "");
	P("/user.slice/user-1000.slice/user@1000.service/user.slice/docker-" H1 ".scope", H1,
	  "docker", "");

	/* Kubernetes, systemd driver: containerd, CRI-O, docker; three QoS */
	P("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	  ".slice/cri-containerd-" H1 ".scope", H1, "containerd", UID);
	P("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	  ".slice/cri-containerd-" H2 ".scope", H2, "containerd", UID);
	P("/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" H1 ".scope", H1,
	  "containerd", UID);
	P("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	  ".slice/crio-" H1 ".scope", H1, "cri-o", UID);
	P("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	  ".slice/docker-" H1 ".scope", H1, "docker", UID);
	/* kubelet --cgroup-root=/kubelet.slice (kind, some distributions) */
	P("/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
	  "kubelet-kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" H1 ".scope", H1,
	  "containerd", UID);
	/* a static pod's UID: 32 hex digits */
	P("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" SUID
	  ".slice/cri-containerd-" H1 ".scope", H1, "containerd", SUID);

	/* Kubernetes, cgroupfs driver: a bare id is "cri"; CRI-O names its own */
	P("/kubepods/burstable/pod" UID "/" H1, H1, "cri", UID);
	P("/kubepods/besteffort/pod" UID "/" H1, H1, "cri", UID);
	P("/kubepods/pod" UID "/" H1, H1, "cri", UID);
	P("/kubepods/burstable/pod" SUID "/" H1, H1, "cri", SUID);
	P("/kubepods/burstable/pod" UID "/crio-" H1, H1, "cri-o", UID);
	P("/kubepods/burstable/pod" UID "/crio-" H1 ".scope", H1, "cri-o", UID);

	/* pod cgroups themselves: no container, the UID still */
	P("/kubepods/burstable/pod" UID, "", "host", UID);
	P("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice", "",
	  "host", UID);

	/* CRI-O's and podman's monitors (conmon) run on the host */
	P("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	  ".slice/crio-conmon-" H1 ".scope", "", "host", UID);
	P("/kubepods/burstable/pod" UID "/crio-conmon-" H1, "", "host", UID);
	P("/machine.slice/libpod-conmon-" H1 ".scope", "", "host", "");

	/* podman: root, with its "container" child, cgroupfs, rootless */
	P("/machine.slice/libpod-" H1 ".scope", H1, "podman", "");
	P("/machine.slice/libpod-" H1 ".scope/container", H1, "podman", "");
	P("/libpod_parent/libpod-" H1, H1, "podman", "");
	P("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" H1
	  ".scope/container", H1, "podman", "");

	/* the host */
	P("/", "", "host", "");
	P("", "", "host", "");
	P("/init.scope", "", "host", "");
	P("/system.slice/sshd.service", "", "host", "");
	P("/user.slice/user-1000.slice/session-3.scope", "", "host", "");
	P("/system.slice/containerd.service", "", "host", "");
	P("/system.slice/docker.service", "", "host", "");
	P("/kubepods.slice/kubepods-besteffort.slice", "", "host", "");
}

static void test_parse_near_misses(void)
{
	const char *h63 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde";
	char p[512];

	snprintf(p, sizeof(p), "/system.slice/docker-%s.scope", h63);
	P(p, "", "host", "");
	P("/system.slice/docker-" H1 "0.scope", "", "host", "");
	P("/system.slice/docker-" H1 ".scope.extra", "", "host", "");
	P("/system.slice/docker-" H1 ".scop", "", "host", "");
	P("/system.slice/docker-" H1 ".scopex/x", "", "host", "");
	P("/system.slice/docker-" H1, "", "host", "");        /* no driver makes it */
	P("/system.slice/xdocker-" H1 ".scope", "", "host", "");
	P("/system.slice/docker--" H1 ".scope", "", "host", "");
	P("/system.slice/docker-0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
	  ".scope", "", "host", "");
	P("/system.slice/docker-g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	  ".scope", "", "host", "");
	P("/system.slice/cri-containerd-" H1, "", "host", "");
	P("/system.slice/crio-" H1 ".scope/../x", H1, "cri-o", ""); /* a name, not a step */

	/* bare ids count under docker/ and a pod only */
	P("/" H1, "", "host", "");
	P("/system.slice/" H1, "", "host", "");
	P("/notdocker/" H1, "", "host", "");
	P("/dockerx/" H1, "", "host", "");
	P("/foo/pod" UID "/" H1, "", "host", "");
	P("/kubepods/other/pod" UID "/" H1, "", "host", "");
	P("/kubepods/burstable/pod" UID "x/" H1, "", "host", "");
	snprintf(p, sizeof(p), "/docker/%s", h63);
	P(p, "", "host", "");

	/* pod UIDs: wrong separators, case, length, parents */
	P("/kubepods/burstable/pod" UID_ "/" H1, "", "host", "");
	P("/kubepods/burstable/pod2C3B1F9E-5d4a-4e6b-9a7c-1b2d3e4f5a6b", "", "host", "");
	P("/kubepods/burstable/pod2c3b1f9e5-d4a-4e6b-9a7c-1b2d3e4f5a6b", "", "host", "");
	P("/kubepods/burstable/pod2c3b1f9e-5d4a-4e6b-9a7c-1b2d3e4f5a6", "", "host", "");
	P("/kubepods/burstable/pod" SUID "0", "", "host", "");
	P("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID ".slice", "",
	  "host", "");
	P("/kubepods.slice/kubepods-besteffort-pod" UID_ ".slice", "", "host", "");
	P("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slicex", "",
	  "host", "");
	P("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ "x.slice", "",
	  "host", "");
	P("/x.slice/xkubepods.slice/xkubepods-pod" UID_ ".slice", "", "host", "");
	P("/pod" UID, "", "host", "");
}

static void test_parse_nesting(void)
{
	/* the outermost container counts: names inside it are its own to pick */
	P("/system.slice/docker-" H1 ".scope/docker-" H2 ".scope", H1, "docker", "");
	P("/docker/" H1 "/docker/" H2, H1, "docker", "");
	P("/machine.slice/libpod-" H1 ".scope/container/crio-" H2, H1, "podman", "");
	/* kind: Kubernetes inside a docker container; the pod inside is ignored */
	P("/system.slice/docker-" H1 ".scope/kubelet.slice/kubelet-kubepods.slice/"
	  "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" UID_
	  ".slice/cri-containerd-" H2 ".scope", H1, "docker", "");
	P("/docker/" H1 "/kubepods/burstable/pod" UID "/" H2, H1, "docker", "");
	/* the outermost pod, before the container */
	P("/kubepods/burstable/pod" UID "/kubepods/burstable/pod" SUID "/" H1, "", "host", UID);
}

/* len is honoured: the path need not end at a NUL, and a prefix is a prefix. */
static void test_parse_len(void)
{
	const char *p = "/docker/" H1;
	struct eg_container_name nm;
	CHECK(eg_container_parse(p, strlen(p) - 1, &nm) == 0 && nm.id_len == 0,
	      "63 of the 64 digits made a container");
	CHECK(eg_container_parse(p, strlen(p), &nm) == 1 && nm.id == p + 8, "whole path");
	CHECK(eg_container_parse(NULL, 0, &nm) == 0 && !strcmp(nm.runtime, "host"), "empty");

	/* long paths, many components, every byte value */
	size_t big = 1 << 20;
	char *s = malloc(big);
	for (size_t i = 0; i < big; i++)
		s[i] = i % 2 ? '/' : 'a';
	CHECK(eg_container_parse(s, big, &nm) == 0, "a/a/a/...");
	memset(s, '/', big);
	CHECK(eg_container_parse(s, big, &nm) == 0, "////...");
	for (size_t i = 0; i < big; i++)
		s[i] = (char)(i * 131 + (i >> 8));
	CHECK(eg_container_parse(s, big, &nm) == 0 || nm.id_len == 64, "bytes");
	free(s);
}

/* Random paths from runtime-like pieces: whatever comes out is well-formed. */
static void test_parse_garbage(void)
{
	static const char *pieces[] = {
		"/", "docker", "docker-", ".scope", H1, H1 "0", "kubepods", "burstable", "besteffort",
		"pod", UID, UID_, SUID, ".slice", "kubepods-", "-pod", "crio-", "conmon-", "libpod-",
		"cri-containerd-", "container", "\n", "", "..", "x", "\xff", "-", "_", "0::",
		"/kubepods/burstable/pod" UID, "/kubepods.slice/kubepods-pod" UID_ ".slice",
		"/docker/" H1, "/crio-conmon-" H1,
	};
	const size_t np = sizeof(pieces) / sizeof(pieces[0]);
	unsigned seed = 12345;
	char buf[1024];
	int containers = 0, pods = 0, bad = 0;
	for (int round = 0; round < 200000; round++) {
		size_t n = 0;
		int k = 1 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 12;
		for (int j = 0; j < k; j++) {
			const char *piece = pieces[((seed = seed * 1103515245 + 12345) >> 16) % np];
			size_t m = strlen(piece);
			if (n + m > sizeof(buf))
				break;
			memcpy(buf + n, piece, m);
			n += m;
		}
		struct eg_container_name nm;
		int rc = eg_container_parse(buf, n, &nm);
		if (rc) {
			containers++;
			if (nm.id_len != 64 || nm.id < buf || nm.id + 64 > buf + n)
				bad++;
		} else if (nm.id_len || strcmp(nm.runtime, "host")) {
			bad++;
		}
		if (nm.pod_uid_len) {
			pods++;
			if ((nm.pod_uid_len != 36 && nm.pod_uid_len != 32) ||
			    strlen(nm.pod_uid) != nm.pod_uid_len)
				bad++;
		}
	}
	CHECK(bad == 0, "%d malformed results", bad);
	CHECK(containers > 0 && pods > 0, "the generator found %d containers, %d pods", containers,
	      pods);
}

/* ---- the cache on a directory tree ---------------------------------------- */

static char root[] = "/tmp/eg_test_cgroup.XXXXXX";
static char tree[300], fake_proc[300], outside[300];
static int64_t now_ns;

static int64_t fake_clock(void *arg)
{
	(void)arg;
	return now_ns;
}

static void mkdirs(const char *base, const char *rel)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	for (char *s = p + strlen(base) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		mkdir(p, 0755);
		*s = '/';
	}
	if (mkdir(p, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "mkdir %s: %s\n", p, strerror(errno));
		exit(1);
	}
}

static uint64_t ino_of(const char *base, const char *rel)
{
	char p[4096];
	struct stat st;
	snprintf(p, sizeof(p), "%s%s", base, rel);
	if (stat(p, &st) != 0) {
		fprintf(stderr, "stat %s: %s\n", p, strerror(errno));
		exit(1);
	}
	return (uint64_t)st.st_ino;
}

static void write_file(const char *path, const char *text, size_t n)
{
	FILE *f = fopen(path, "w");
	if (!f || fwrite(text, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "writing %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* /proc/<pid>/cgroup of the fake /proc: text as given. */
static void fake_pid(unsigned pid, const char *text)
{
	char p[400];
	snprintf(p, sizeof(p), "%s/%u", fake_proc, pid);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/%u/cgroup", fake_proc, pid);
	write_file(p, text, strlen(text));
}

#define DOCKER "/system.slice/docker-" H1 ".scope"
#define SSHD "/system.slice/sshd.service"
#define POD_SD "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice"
#define CONTAINERD POD_SD "/cri-containerd-" H2 ".scope"
#define CRIO POD_SD "/crio-" H5 ".scope"
#define CRIO_CONMON POD_SD "/crio-conmon-" H5 ".scope"
#define CRI "/kubepods/burstable/pod" UID "/" H3
#define PODMAN "/machine.slice/libpod-" H4 ".scope/container"
#define PODMAN_CONMON "/machine.slice/libpod-conmon-" H4 ".scope"

static void make_tree(void)
{
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(tree, sizeof(tree), "%s/cg", root);
	snprintf(fake_proc, sizeof(fake_proc), "%s/proc", root);
	snprintf(outside, sizeof(outside), "%s/outside", root);
	mkdir(tree, 0755);
	mkdir(fake_proc, 0755);
	mkdir(outside, 0755);
	const char *dirs[] = {DOCKER, SSHD, CONTAINERD, CRIO, CRIO_CONMON, CRI, PODMAN, PODMAN_CONMON};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		mkdirs(tree, dirs[i] + 1);
	/* a container-named directory outside the tree, and a symlink to it */
	mkdirs(outside, "docker-" H6 ".scope");
	char link[400], target[400];
	snprintf(link, sizeof(link), "%s/system.slice/evil", tree);
	snprintf(target, sizeof(target), "%s/docker-" H6 ".scope", outside);
	if (symlink(target, link) != 0) {
		perror("symlink");
		exit(1);
	}
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

static void remove_tree(void)
{
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct eg_cgroups *new_cache(unsigned cap, int64_t walk_ns, uint32_t depth, uint32_t dirs)
{
	struct eg_cgroups_opts o = {
		.proc_root = fake_proc,
		.walk_interval_ns = walk_ns,
		.max_depth = depth,
		.max_dirs = dirs,
		.clock = fake_clock,
	};
	struct eg_cgroups *cg = eg_cgroups_new_opts(tree, cap, &o);
	CHECK(cg != NULL, "eg_cgroups_new_opts: %s", strerror(errno));
	if (!cg)
		exit(1);
	return cg;
}

static void expect(int line, const struct eg_container *c, uint64_t id, const char *cgroup,
		   const char *cid, const char *rt, const char *pod)
{
	CHECK(c != NULL, "line %d: NULL", line);
	if (!c)
		return;
	CHECK(c->cgroup_id == id, "line %d: id %" PRIu64 ", want %" PRIu64, line, c->cgroup_id, id);
	CHECK(!strcmp(c->cgroup, cgroup) && c->cgroup_len == strlen(cgroup),
	      "line %d: cgroup '%s', want '%s'", line, c->cgroup, cgroup);
	CHECK(!strcmp(c->id, cid) && c->id_len == strlen(cid), "line %d: id '%s', want '%s'", line,
	      c->id, cid);
	CHECK(!strcmp(c->runtime, rt) && c->runtime_len == strlen(rt),
	      "line %d: runtime '%s', want '%s'", line, c->runtime, rt);
	CHECK(!strcmp(c->pod_uid, pod) && c->pod_uid_len == strlen(pod),
	      "line %d: pod '%s', want '%s'", line, c->pod_uid, pod);
}

#define EXPECT(c, id, cgroup, cid, rt, pod) expect(__LINE__, c, id, cgroup, cid, rt, pod)
#define NEG(c, id) expect(__LINE__, c, id, "", "", "", "")

static void test_walk_and_hits(void)
{
	now_ns = 1000000000;
	struct eg_cgroups *cg = new_cache(256, 0, 0, 0);
	const struct eg_cgroups_stats *st = eg_cgroups_stats(cg);

	uint64_t docker = ino_of(tree, DOCKER);
	const struct eg_container *c = eg_cgroups_get(cg, docker, 0);
	EXPECT(c, docker, DOCKER, H1, "docker", "");
	CHECK(st->misses == 1 && st->scans == 1 && st->hits == 0, "first: misses %" PRIu64
	      " scans %" PRIu64, st->misses, st->scans);
	/* root, 2 slices, 8 leaves, their parents: everything the walk saw */
	CHECK(st->entries >= 14 && st->scan_dirs == st->entries, "entries %" PRIu64 ", dirs %" PRIu64,
	      st->entries, st->scan_dirs);
	CHECK(eg_cgroups_get(cg, docker, 0) == c, "a hit returns the same object");

	/* one walk served every directory */
	EXPECT(eg_cgroups_get(cg, ino_of(tree, CONTAINERD), 0), ino_of(tree, CONTAINERD), CONTAINERD,
	       H2, "containerd", UID);
	EXPECT(eg_cgroups_get(cg, ino_of(tree, CRIO), 0), ino_of(tree, CRIO), CRIO, H5, "cri-o", UID);
	EXPECT(eg_cgroups_get(cg, ino_of(tree, CRIO_CONMON), 0), ino_of(tree, CRIO_CONMON),
	       CRIO_CONMON, "", "host", UID);
	EXPECT(eg_cgroups_get(cg, ino_of(tree, CRI), 0), ino_of(tree, CRI), CRI, H3, "cri", UID);
	EXPECT(eg_cgroups_get(cg, ino_of(tree, PODMAN), 0), ino_of(tree, PODMAN), PODMAN, H4,
	       "podman", "");
	EXPECT(eg_cgroups_get(cg, ino_of(tree, PODMAN_CONMON), 0), ino_of(tree, PODMAN_CONMON),
	       PODMAN_CONMON, "", "host", "");
	EXPECT(eg_cgroups_get(cg, ino_of(tree, SSHD), 0), ino_of(tree, SSHD), SSHD, "", "host", "");
	EXPECT(eg_cgroups_get(cg, ino_of(tree, POD_SD), 0), ino_of(tree, POD_SD), POD_SD, "", "host",
	       UID);
	EXPECT(eg_cgroups_get(cg, ino_of(tree, ""), 0), ino_of(tree, ""), "/", "", "host", "");
	CHECK(st->hits == 10 && st->misses == 1 && st->scans == 1,
	      "hits %" PRIu64 " misses %" PRIu64 " scans %" PRIu64, st->hits, st->misses, st->scans);
	for (const char *s = c->cgroup; *s; s++)
		CHECK(s - c->cgroup < 4096, "unterminated");

	/* the symlink was not followed: what it points at stays unknown */
	uint64_t evil = ino_of(outside, "/docker-" H6 ".scope");
	NEG(eg_cgroups_get(cg, evil, 0), evil);
	CHECK(st->negative == 1, "negative %" PRIu64, st->negative);
	CHECK(st->retired == 0, "nothing retired yet");
	eg_cgroups_free(cg);
}

static void test_negative_and_rate_limit(void)
{
	now_ns = 5000000000;
	struct eg_cgroups *cg = new_cache(256, 100000000, 0, 0);
	const struct eg_cgroups_stats *st = eg_cgroups_stats(cg);
	uint64_t unknown = 0xdead0000beefull;

	/* an unknown id: walk, not found, negative for retry_ns (1 s) */
	const struct eg_container *neg = eg_cgroups_get(cg, unknown, 0);
	NEG(neg, unknown);
	CHECK(st->scans == 1 && st->negative == 1, "scans %" PRIu64, st->scans);

	/* a directory made after the walk: the rate limit refuses a second walk,
	 * and the negative entry is retried when the next walk is allowed */
	mkdirs(tree, "system.slice/docker-" H7 ".scope");
	uint64_t late = ino_of(tree, "/system.slice/docker-" H7 ".scope");
	now_ns += 50000000;
	const struct eg_container *n2 = eg_cgroups_get(cg, late, 0);
	NEG(n2, late);
	CHECK(st->scans == 1 && st->throttled == 1, "scans %" PRIu64 " throttled %" PRIu64, st->scans,
	      st->throttled);
	now_ns += 49999999;
	CHECK(eg_cgroups_get(cg, late, 0) == n2, "negative before the next walk is allowed");
	CHECK(st->scans == 1, "no walk before 100 ms");
	now_ns += 1;
	const struct eg_container *c = eg_cgroups_get(cg, late, 0);
	EXPECT(c, late, "/system.slice/docker-" H7 ".scope", H7, "docker", "");
	CHECK(st->scans == 2 && st->retired == 1, "scans %" PRIu64 " retired %" PRIu64, st->scans,
	      st->retired);
	/* the replaced negative entry is still readable until reap */
	NEG(n2, late);
	CHECK(eg_cgroups_get(cg, late, 0) == c, "now a hit");

	/* the first unknown id: a hit until 1 s after its walk */
	CHECK(eg_cgroups_get(cg, unknown, 0) == neg, "negative still cached");
	now_ns = 5000000000 + 1000000000;
	uint64_t scans = st->scans;
	CHECK(eg_cgroups_get(cg, unknown, 0) == neg, "retried in place");
	CHECK(st->scans == scans + 1, "the retry walked");
	NEG(neg, unknown);
	/* and not again for a second */
	now_ns += 999999999;
	eg_cgroups_get(cg, unknown, 0);
	CHECK(st->scans == scans + 1, "retried too soon");

	/* many misses in one interval: one walk */
	now_ns += 10000000000;
	scans = st->scans;
	for (uint64_t i = 0; i < 50; i++)
		NEG(eg_cgroups_get(cg, 0xfeed000000ull + i, 0), 0xfeed000000ull + i);
	CHECK(st->scans == scans + 1 && st->throttled >= 50, "50 misses: %" PRIu64 " walks",
	      st->scans - scans);

	eg_cgroups_reap(cg);
	CHECK(st->retired == 0, "reaped");
	eg_cgroups_free(cg);
	char p[512];
	snprintf(p, sizeof(p), "%s/system.slice/docker-" H7 ".scope", tree);
	rmdir(p);
}

static void test_walk_bounds(void)
{
	now_ns = 0;
	uint64_t deep = ino_of(tree, CONTAINERD); /* 4 levels down */

	struct eg_cgroups *cg = new_cache(256, -1, 3, 0);
	const struct eg_cgroups_stats *st = eg_cgroups_stats(cg);
	NEG(eg_cgroups_get(cg, deep, 0), deep);
	CHECK(st->scans_cut == 1, "depth 3: cut %" PRIu64, st->scans_cut);
	EXPECT(eg_cgroups_get(cg, ino_of(tree, POD_SD), 0), ino_of(tree, POD_SD), POD_SD, "", "host",
	       UID);
	eg_cgroups_free(cg);

	cg = new_cache(256, -1, 0, 3);
	st = eg_cgroups_stats(cg);
	NEG(eg_cgroups_get(cg, deep, 0), deep);
	CHECK(st->scans_cut == 1 && st->scan_dirs == 3, "3 dirs: cut %" PRIu64 " dirs %" PRIu64,
	      st->scans_cut, st->scan_dirs);
	/* no rate limit (-1): the next miss walks again */
	NEG(eg_cgroups_get(cg, deep + 1000000, 0), deep + 1000000);
	CHECK(st->scans == 2 && st->throttled == 0, "scans %" PRIu64, st->scans);
	eg_cgroups_free(cg);

	cg = new_cache(256, -1, 0, 0);
	st = eg_cgroups_stats(cg);
	EXPECT(eg_cgroups_get(cg, deep, 0), deep, CONTAINERD, H2, "containerd", UID);
	CHECK(st->scans_cut == 0, "the default bounds cover the tree");
	eg_cgroups_free(cg);
}

static void test_eviction(void)
{
	enum { N = 100 };
	char rel[64];
	uint64_t ids[N];
	for (int i = 0; i < N; i++) {
		snprintf(rel, sizeof(rel), "many/d%03d", i);
		mkdirs(tree, rel);
		snprintf(rel, sizeof(rel), "/many/d%03d", i);
		ids[i] = ino_of(tree, rel);
	}

	now_ns = 0;
	struct eg_cgroups *cg = new_cache(16, -1, 0, 0);
	const struct eg_cgroups_stats *st = eg_cgroups_stats(cg);
	const struct eg_container *got[3 * N];
	int ng = 0, wrong = 0, over = 0;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			const struct eg_container *c = eg_cgroups_get(cg, ids[i], 0);
			got[ng++] = c;
			snprintf(rel, sizeof(rel), "/many/d%03d", i);
			if (c->cgroup_id != ids[i] || strcmp(c->cgroup, rel) || strcmp(c->runtime, "host"))
				wrong++;
			if (st->entries > 16)
				over++;
			/* a hit right after: the same object */
			if (eg_cgroups_get(cg, ids[i], 0) != c)
				wrong++;
		}
	}
	CHECK(wrong == 0, "%d wrong answers", wrong);
	CHECK(over == 0, "more than capacity held");
	CHECK(st->evictions > 0 && st->retired >= st->evictions,
	      "evictions %" PRIu64 " retired %" PRIu64, st->evictions, st->retired);
	/* every object handed out is intact until reap (sanitizers watch) */
	int bad = 0;
	for (int k = 0; k < ng; k++) {
		snprintf(rel, sizeof(rel), "/many/d%03d", k % N);
		if (got[k]->cgroup_id != ids[k % N] || strcmp(got[k]->cgroup, rel) ||
		    strcmp(got[k]->id, "") || strcmp(got[k]->pod_uid, ""))
			bad++;
	}
	CHECK(bad == 0, "%d objects changed before reap", bad);
	eg_cgroups_reap(cg);
	CHECK(st->retired == 0 && st->entries == 16, "after reap: retired %" PRIu64 " entries %"
	      PRIu64, st->retired, st->entries);
	/* still consistent after reap: every id resolves */
	wrong = 0;
	for (int i = 0; i < N; i++)
		if (eg_cgroups_get(cg, ids[i], 0)->cgroup_id != ids[i])
			wrong++;
	CHECK(wrong == 0, "%d wrong after reap", wrong);

	/* recently used entries survive a stream of misses (the clock's second
	 * chance). hot comes back as a miss here (evicted above): a new entry,
	 * which starts without the bit, so it is hit once more before the
	 * stream; otherwise the stream's first eviction could take it, as
	 * CLOCK may (this failed under valgrind in CI, depending on where the
	 * inode numbers hash). */
	uint64_t hot = ids[0];
	const struct eg_container *h = eg_cgroups_get(cg, hot, 0);
	CHECK(eg_cgroups_get(cg, hot, 0) == h, "a hit right after the miss");
	uint64_t misses = st->misses;
	for (int i = 1; i < N; i++) {
		eg_cgroups_get(cg, ids[i], 0);
		eg_cgroups_get(cg, hot, 0);
	}
	CHECK(eg_cgroups_get(cg, hot, 0) == h, "the hot entry was evicted");
	CHECK(st->misses - misses <= (uint64_t)N - 1, "misses %" PRIu64, st->misses - misses);
	eg_cgroups_free(cg);
}

static void test_proc(void)
{
	now_ns = 0;
	struct eg_cgroups *cg = new_cache(256, 100000000, 0, 0);
	const struct eg_cgroups_stats *st = eg_cgroups_stats(cg);
	uint64_t docker = ino_of(tree, DOCKER), podman = ino_of(tree, PODMAN);
	uint64_t evil = ino_of(outside, "/docker-" H6 ".scope");

	/* a hybrid host's file, v1 lines first: resolved without a walk */
	fake_pid(100, "12:memory:/x\n11:name=systemd:/system.slice/docker-" H1 ".scope\n"
		      "0::" DOCKER "\n");
	EXPECT(eg_cgroups_get(cg, docker, 100), docker, DOCKER, H1, "docker", "");
	CHECK(st->proc_ok == 1 && st->scans == 0, "proc %" PRIu64 " scans %" PRIu64, st->proc_ok,
	      st->scans);

	/* a pid that does not exist: the walk */
	EXPECT(eg_cgroups_get(cg, podman, 999), podman, PODMAN, H4, "podman", "");
	CHECK(st->proc_ok == 1 && st->scans == 1, "proc %" PRIu64 " scans %" PRIu64, st->proc_ok,
	      st->scans);
	eg_cgroups_free(cg);

	/* the process moved on: its path names another directory, which is
	 * remembered, but not for this id */
	cg = new_cache(256, 100000000, 0, 0);
	st = eg_cgroups_stats(cg);
	fake_pid(101, "0::" SSHD "\n");
	EXPECT(eg_cgroups_get(cg, docker, 101), docker, DOCKER, H1, "docker", "");
	CHECK(st->proc_ok == 0 && st->scans == 1, "moved: proc %" PRIu64, st->proc_ok);
	eg_cgroups_free(cg);

	/* from here on the walks see the root only (max_dirs 1), and the first
	 * miss spends the walk the rate limit allows */
	cg = new_cache(256, 100000000, 0, 1);
	st = eg_cgroups_stats(cg);
	now_ns = 0;
	fake_pid(101, "0::" SSHD "\n");
	NEG(eg_cgroups_get(cg, 0x1234567ull, 0), 0x1234567ull);
	EXPECT(eg_cgroups_get(cg, ino_of(tree, SSHD), 101), ino_of(tree, SSHD), SSHD, "", "host", "");
	CHECK(st->proc_ok == 1, "proc after a walk");

	/* refused: '..', '.', empty names, relative, a symlink, the wrong id,
	 * a cgroup namespace's "/..", a removed cgroup; all fall back to the
	 * (throttled) walk and end negative */
	static const char *bad[] = {
		"0::/../outside/docker-" H6 ".scope\n",
		"0::/system.slice/../../outside/docker-" H6 ".scope\n",
		"0::/system.slice/./evil\n",
		"0::/system.slice//evil\n",
		"0::system.slice/evil\n",
		"0::/system.slice/evil\n",
		"0::/system.slice/evil/\n",
		"0::/..\n",
		"0::" DOCKER " (deleted)\n",
		"0::/outside/docker-" H6 ".scope\n",
		"1:name=systemd:/x\n",
		"",
		"0::/system.slice/evil", /* no newline */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fake_pid(200, bad[i]);
		uint64_t p = st->proc_ok;
		const struct eg_container *c = eg_cgroups_get(cg, evil, 200);
		CHECK(c->cgroup_len == 0 && p == st->proc_ok, "accepted %s", bad[i]);
		eg_cgroups_free(cg);
		cg = new_cache(256, 100000000, 0, 1);
		st = eg_cgroups_stats(cg);
		NEG(eg_cgroups_get(cg, 0x1234567ull, 0), 0x1234567ull);
	}

	/* a 0:: line after a line longer than any buffer; and one too long */
	size_t big = 100000;
	char *text = malloc(big + 200);
	memset(text, 'a', big);
	memcpy(text, "5:cpu:/", 7);
	snprintf(text + big, 200, "\n0::" SSHD "\n");
	fake_pid(300, text);
	EXPECT(eg_cgroups_get(cg, ino_of(tree, SSHD), 300), ino_of(tree, SSHD), SSHD, "", "host", "");
	CHECK(st->proc_ok == 1, "after a long line: proc %" PRIu64, st->proc_ok);
	memcpy(text, "0::/", 4);
	snprintf(text + big, 200, "\n");
	fake_pid(301, text);
	NEG(eg_cgroups_get(cg, ino_of(tree, CRI), 301), ino_of(tree, CRI));
	free(text);
	eg_cgroups_free(cg);
}

static void test_new_errors(void)
{
	errno = 0;
	CHECK(eg_cgroups_new("/nonexistent/eg", 16) == NULL && errno == ENOENT, "missing root: %s",
	      strerror(errno));
	char p[400];
	snprintf(p, sizeof(p), "%s/proc/100/cgroup", root);
	CHECK(eg_cgroups_new(p, 16) == NULL && errno == ENOTDIR, "file root: %s", strerror(errno));
	eg_cgroups_free(NULL);
	struct eg_cgroups *cg = eg_cgroups_new(tree, 0); /* capacity rounds up to 16 */
	CHECK(cg != NULL, "capacity 0");
	eg_cgroups_reap(cg);
	eg_cgroups_free(cg);
}

/* ---- the real cgroup2 mount ----------------------------------------------- */

/* This process's cgroup v2 path from /proc/<pid>/cgroup into out. 0 or -1. */
static int own_cgroup(pid_t pid, char *out, size_t cap)
{
	char p[64], line[4090];
	snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
	FILE *f = fopen(p, "re");
	if (!f)
		return -1;
	int rc = -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, cap, "%s", line + 3);
			rc = 0;
		}
	fclose(f);
	return rc;
}

static void test_real_own(const char *cgroot)
{
	char path[4096], full[8300];
	if (own_cgroup(getpid(), path, sizeof(path)) != 0) {
		printf("test_cgroup: no cgroup v2 line in /proc/self/cgroup: real test skipped\n");
		return;
	}
	snprintf(full, sizeof(full), "%s%s", cgroot, path);
	struct stat st;
	CHECK(stat(full, &st) == 0, "stat %s: %s", full, strerror(errno));
	struct eg_container_name nm;
	eg_container_parse(path, strlen(path), &nm);

	/* through /proc */
	struct eg_cgroups *cg = eg_cgroups_new(cgroot, 1024);
	CHECK(cg != NULL, "eg_cgroups_new(%s): %s", cgroot, strerror(errno));
	if (!cg)
		return;
	const struct eg_cgroups_stats *s = eg_cgroups_stats(cg);
	const struct eg_container *c = eg_cgroups_get(cg, (uint64_t)st.st_ino, (uint32_t)getpid());
	CHECK(!strcmp(c->cgroup, path), "own cgroup '%s', want '%s'", c->cgroup, path);
	CHECK(!strcmp(c->runtime, nm.runtime) && !strcmp(c->runtime, "host"),
	      "own runtime '%s' (parsed '%s')", c->runtime, nm.runtime);
	CHECK(s->proc_ok == 1 && s->scans == 0, "resolved through /proc");
	eg_cgroups_free(cg);

	/* through a walk */
	cg = eg_cgroups_new(cgroot, 1024);
	s = eg_cgroups_stats(cg);
	c = eg_cgroups_get(cg, (uint64_t)st.st_ino, 0);
	CHECK(!strcmp(c->cgroup, path) && s->scans == 1, "walk: '%s'", c->cgroup);
	printf("test_cgroup: %s: own cgroup %s (id %" PRIu64 ", runtime %s); a walk saw %" PRIu64
	       " directories\n", cgroot, c->cgroup, (uint64_t)st.st_ino, c->runtime, s->scan_dirs);
	eg_cgroups_free(cg);
}

/*
 * A child moved into <cgroot>/eg-test-<pid>/docker-<H1>.scope resolves to
 * docker and H1 through its /proc file. Skipped when we may not make cgroups.
 */
static void test_real_container(const char *cgroot)
{
	char parent[4200], leaf[4300], procs[4400], rel[200];
	snprintf(parent, sizeof(parent), "%s/eg-test-%d", cgroot, (int)getpid());
	snprintf(leaf, sizeof(leaf), "%s/docker-" H1 ".scope", parent);
	snprintf(rel, sizeof(rel), "/eg-test-%d/docker-" H1 ".scope", (int)getpid());
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", leaf);
	if (mkdir(parent, 0755) != 0) {
		printf("test_cgroup: cannot make cgroups (%s): real container test skipped\n",
		       strerror(errno));
		return;
	}
	if (mkdir(leaf, 0755) != 0) {
		printf("test_cgroup: mkdir %s: %s: skipped\n", leaf, strerror(errno));
		rmdir(parent);
		return;
	}
	int go[2], ready[2];
	if (pipe(go) || pipe(ready)) {
		perror("pipe");
		exit(1);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(procs, O_WRONLY);
		char ok = fd >= 0 && write(fd, "0", 1) == 1 ? 'y' : 'n';
		if (write(ready[1], &ok, 1) != 1)
			_exit(1);
		if (read(go[0], &ok, 1) < 0)
			_exit(1);
		_exit(0);
	}
	char ok = 'n';
	if (read(ready[0], &ok, 1) != 1)
		ok = 'n';
	if (ok == 'y') {
		struct stat st;
		CHECK(stat(leaf, &st) == 0, "stat %s", leaf);
		struct eg_cgroups *cg = eg_cgroups_new(cgroot, 1024);
		const struct eg_cgroups_stats *s = eg_cgroups_stats(cg);
		const struct eg_container *c = eg_cgroups_get(cg, (uint64_t)st.st_ino, (uint32_t)pid);
		CHECK(!strcmp(c->cgroup, rel), "child's cgroup '%s', want '%s'", c->cgroup, rel);
		CHECK(!strcmp(c->runtime, "docker") && !strcmp(c->id, H1),
		      "child: runtime '%s' id '%s'", c->runtime, c->id);
		CHECK(s->proc_ok == 1 && s->scans == 0, "child resolved through /proc");
		eg_cgroups_free(cg);
		cg = eg_cgroups_new(cgroot, 1024);
		c = eg_cgroups_get(cg, (uint64_t)st.st_ino, 0);
		CHECK(!strcmp(c->id, H1), "child by walk: '%s'", c->cgroup);
		eg_cgroups_free(cg);
		printf("test_cgroup: a process in %s%s resolved to docker %.12s\n", cgroot, rel, H1);
	} else {
		printf("test_cgroup: cannot move a process into %s: skipped\n", leaf);
	}
	if (write(go[1], "x", 1) != 1)
		kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
	/* a cgroup may stay busy for a moment after its last process went */
	int rc = -1;
	for (int i = 0; i < 100 && (rc = rmdir(leaf)) != 0 && errno == EBUSY; i++)
		usleep(10000);
	CHECK(rc == 0, "rmdir %s: %s", leaf, strerror(errno));
	CHECK(rmdir(parent) == 0, "rmdir %s: %s", parent, strerror(errno));
}

static void test_real(void)
{
	char cgroot[3800];
	int rc = eg_cgroup2_root(cgroot, sizeof(cgroot));
	if (rc) {
		printf("test_cgroup: no cgroup2 mount (%s): real tests skipped\n", strerror(-rc));
		return;
	}
	char small[8];
	CHECK(eg_cgroup2_root(small, sizeof(small)) == -ENAMETOOLONG, "short buffer");
	test_real_own(cgroot);
	test_real_container(cgroot);
}

int main(void)
{
	test_parse_runtimes();
	test_parse_near_misses();
	test_parse_nesting();
	test_parse_len();
	test_parse_garbage();

	make_tree();
	test_walk_and_hits();
	test_negative_and_rate_limit();
	test_walk_bounds();
	test_eviction();
	test_proc();
	test_new_errors();
	remove_tree();

	test_real();
	return CHECK_SUMMARY("test_cgroup");
}
