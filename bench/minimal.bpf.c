// SPDX-License-Identifier: GPL-2.0
/*
 * The baseline for bench/kernel_bench.sh: on each traced syscall, reserve a
 * fixed-size ring-buffer record, stamp it, submit it without a wake-up. No
 * path read, no maps besides the ring and a drop counter.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 self_tgid = 0;

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
int tracepoint__syscalls__sys_enter_unlink(void *ctx)
{
	return emit();
}

SEC("tracepoint/syscalls/sys_enter_rename")
int tracepoint__syscalls__sys_enter_rename(void *ctx)
{
	return emit();
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
