/* SPDX-License-Identifier: MIT */
/*
 * Loads bench/minimal.bpf.c, attaches the tracepoint of one syscall (open,
 * exec, connect, unlink, rename, accept or dup2: what the storm of that name
 * calls; none for null), drains the ring buffer every 10 ms with
 * ring_buffer__consume, and on SIGINT/SIGTERM prints "minimal: records=N
 * drops=D". Prints "minimal: attached" when ready.
 *   [EG_MINIMAL_READ=enter|exit|exit-noread]
 *   minimal_loader open|exec|connect|unlink|rename|accept|dup|null
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "minimal.skel.h"

static volatile sig_atomic_t stop;
static unsigned long long records;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_sample(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	records++;
	return 0;
}

int main(int argc, char **argv)
{
	const char *kind = argc > 1 ? argv[1] : "open";
	struct minimal *skel = minimal__open();
	if (!skel) {
		fprintf(stderr, "failed to open the minimal object: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->self_tgid = (unsigned)getpid();
	/* EG_MINIMAL_READ=enter|exit|exit-noread: unlink and rename also copy
	 * their paths from user memory, at the call's entry or at its exit; or
	 * the exit program runs and copies nothing */
	const char *rd = getenv("EG_MINIMAL_READ");
	skel->rodata->read_paths = rd && !strcmp(rd, "enter") ? 1 : rd && !strcmp(rd, "exit") ? 2 : rd && !strcmp(rd, "exit-noread") ? 3 : 0;
	if (skel->rodata->read_paths < 2)
		bpf_program__set_autoload(skel->progs.minimal_sys_exit, false);
	if (strcmp(kind, "open"))
		bpf_program__set_autoload(skel->progs.tracepoint__syscalls__sys_enter_openat, false);
	if (strcmp(kind, "exec"))
		bpf_program__set_autoload(skel->progs.tracepoint__syscalls__sys_enter_execve, false);
	if (strcmp(kind, "connect"))
		bpf_program__set_autoload(skel->progs.tracepoint__syscalls__sys_enter_connect, false);
	if (strcmp(kind, "unlink"))
		bpf_program__set_autoload(skel->progs.tracepoint__syscalls__sys_enter_unlink, false);
	if (strcmp(kind, "rename"))
		bpf_program__set_autoload(skel->progs.tracepoint__syscalls__sys_enter_rename, false);
	if (strcmp(kind, "accept"))
		bpf_program__set_autoload(skel->progs.tracepoint__syscalls__sys_enter_accept, false);
	if (strcmp(kind, "dup"))
		bpf_program__set_autoload(skel->progs.tracepoint__syscalls__sys_enter_dup2, false);
	int err = minimal__load(skel);
	if (!err)
		err = minimal__attach(skel);
	if (err) {
		fprintf(stderr, "failed to load/attach the minimal object: %s\n", strerror(-err));
		minimal__destroy(skel);
		return 1;
	}
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_sample, NULL, NULL);
	if (!rb) {
		fprintf(stderr, "failed to create the ring buffer reader\n");
		minimal__destroy(skel);
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "minimal: attached\n");
	while (!stop) {
		ring_buffer__consume(rb);
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	ring_buffer__consume(rb);
	int ncpu = libbpf_num_possible_cpus();
	unsigned long long vals[ncpu > 0 ? ncpu : 1], drops = 0;
	unsigned zero = 0;
	if (ncpu > 0 && !bpf_map_lookup_elem(bpf_map__fd(skel->maps.drops), &zero, vals))
		for (int i = 0; i < ncpu; i++)
			drops += vals[i];
	printf("minimal: records=%llu drops=%llu\n", records, drops);
	ring_buffer__free(rb);
	minimal__destroy(skel);
	return 0;
}
