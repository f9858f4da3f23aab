// SPDX-License-Identifier: GPL-2.0
/*
 * The baseline for bench/kernel_bench.sh: on each traced syscall, reserve a
 * fixed-size ring-buffer record, stamp it, submit it without a wake-up. No
 * path read, no maps besides the ring and a drop counter.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 self_tgid = 0;
/* 1: the unlink and rename programs also copy their paths from user memory
 * (the least a filter on paths must do); 2: the same at the call's exit,
 * from a tp_btf/sys_exit program (where ebpf-guard reads them); 3: that
 * exit program attached, returning at once (EG_MINIMAL_READ, the loader) */
const volatile __u32 read_paths = 0;

struct minimal_rec {
	__u64 ts;
	__u32 pid;
	__u32 tgid;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

struct path_buf {
	char p[2][256];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_buf);
} paths SEC(".maps");

/* copies n (1 or 2) user paths into a per-CPU buffer (nobody reads them:
 * the copy is the cost measured); returns their lengths' sum */
static __always_inline long read_user_paths(const char *a, const char *b, int n)
{
	__u32 zero = 0;
	struct path_buf *pb = bpf_map_lookup_elem(&paths, &zero);
	long l = 0;

	if (!pb)
		return 0;
	l = bpf_probe_read_user_str(pb->p[0], sizeof(pb->p[0]), a);
	if (n > 1)
		l += bpf_probe_read_user_str(pb->p[1], sizeof(pb->p[1]), b);
	return l;
}

static __always_inline int emit(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct minimal_rec *r;
	__u32 zero = 0;
	__u64 *d;

	if ((__u32)(id >> 32) == self_tgid)
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		d = bpf_map_lookup_elem(&drops, &zero);
		if (d)
			*d += 1;
		return 0;
	}
	r->ts = bpf_ktime_get_ns();
	r->pid = (__u32)id;
	r->tgid = id >> 32;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tracepoint__syscalls__sys_enter_openat(void *ctx)
{
	return emit();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int tracepoint__syscalls__sys_enter_execve(void *ctx)
{
	return emit();
}

SEC("tracepoint/syscalls/sys_enter_connect")
int tracepoint__syscalls__sys_enter_connect(void *ctx)
{
	return emit();
}

SEC("tracepoint/syscalls/sys_enter_unlink")
int tracepoint__syscalls__sys_enter_unlink(struct trace_event_raw_sys_enter *ctx)
{
	if (read_paths == 1)
		read_user_paths((const char *)ctx->args[0], NULL, 1);
	return emit();
}

SEC("tracepoint/syscalls/sys_enter_rename")
int tracepoint__syscalls__sys_enter_rename(struct trace_event_raw_sys_enter *ctx)
{
	if (read_paths == 1)
		read_user_paths((const char *)ctx->args[0], (const char *)ctx->args[1], 2);
	return emit();
}

/* read_paths 2: the paths of unlink (87) and rename (82) read at the exit;
 * 3: nothing done */
SEC("tp_btf/sys_exit")
int BPF_PROG(minimal_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = BPF_CORE_READ(regs, orig_ax);

	if (read_paths == 3)
		return 0;
	if (nr == 87)
		read_user_paths((const char *)BPF_CORE_READ(regs, di), NULL, 1);
	else if (nr == 82)
		read_user_paths((const char *)BPF_CORE_READ(regs, di), (const char *)BPF_CORE_READ(regs, si), 2);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_accept")
int tracepoint__syscalls__sys_enter_accept(void *ctx)
{
	return emit();
}

SEC("tracepoint/syscalls/sys_enter_dup2")
int tracepoint__syscalls__sys_enter_dup2(void *ctx)
{
	return emit();
}
