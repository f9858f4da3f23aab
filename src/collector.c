/* SPDX-License-Identifier: MIT */
/* STUB: replaced by the BPF collector. */
#include "collector.h"
#include <stdio.h>

int eg_collector_run(const struct eg_collector_opts *o, struct eg_pipeline *p,
		     volatile sig_atomic_t *stop)
{
	(void)o; (void)p; (void)stop;
	fprintf(stderr, "ebpf-guard: live mode not built yet\n");
	return 1;
}
