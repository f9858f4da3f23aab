/* SPDX-License-Identifier: MIT */
/* STUB: counters only; the exposition and the HTTP server come next. */
#include "metrics.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

struct eg_metrics eg_metrics;
const double eg_hist_bounds[EG_HIST_BUCKETS] = {
	1e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 2.5e-2, 1e-1,
};

void eg_metrics_init(void)
{
	eg_metrics.start_time_s = (int64_t)time(NULL);
}

int eg_metrics_rule_slot(const char *id, const char *source)
{
	uint32_t n = atomic_load(&eg_metrics.nslots);
	for (uint32_t i = 0; i < n; i++)
		if (!strcmp(eg_metrics.slots[i].id, id))
			return (int)i;
	if (n >= EG_MAX_RULE_SLOTS)
		return -1;
	snprintf(eg_metrics.slots[n].id, sizeof(eg_metrics.slots[n].id), "%s", id);
	snprintf(eg_metrics.slots[n].source, sizeof(eg_metrics.slots[n].source), "%s", source);
	atomic_store(&eg_metrics.nslots, n + 1);
	return (int)n;
}

void eg_metrics_observe_batch(uint64_t ns)
{
	double s = (double)ns * 1e-9;
	int i = 0;
	while (i < EG_HIST_BUCKETS && s > eg_hist_bounds[i])
		i++;
	EG_INC(batch_hist[i]);
	EG_ADD(batch_sum_ns, ns);
	EG_INC(batch_count);
}

char *eg_metrics_render(size_t *len)
{
	*len = 0;
	return NULL;
}

int eg_metrics_serve(const char *addr, char *err, size_t errlen)
{
	snprintf(err, errlen, "metrics server not built yet (%s)", addr);
	return -1;
}

void eg_metrics_stop(void)
{
}
