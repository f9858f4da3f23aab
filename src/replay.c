/* SPDX-License-Identifier: MIT */
/* STUB: replaced by the full reader. */
#include "replay.h"
#include "pipeline.h"

int eg_replay_parse(struct eg_pipeline *p, const char *line, size_t len, struct eg_event *ev,
		    char *err, size_t errlen)
{
	(void)p; (void)line; (void)len; (void)ev;
	snprintf(err, errlen, "replay not implemented");
	return -1;
}

int eg_replay_run(struct eg_pipeline *p, const char *path, volatile sig_atomic_t *stop)
{
	(void)p; (void)stop;
	fprintf(stderr, "ebpf-guard: replay of %s not implemented yet\n", path);
	return -1;
}
