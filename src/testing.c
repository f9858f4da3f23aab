/* SPDX-License-Identifier: MIT */
#include "testing.h"

#include <stdio.h>
#include <stdlib.h>

#include "alerts.h"
#include "buf.h"
#include "pipeline.h"
#include "replay.h"

struct eg_test {
	struct eg_pipeline *p;
	struct eg_alert_sink *sink;
	struct eg_buf logs;
	struct eg_buf taken; /* what eg_test_logs returned last */
};

static void log_line(void *ctx, const char *line, size_t len)
{
	struct eg_test *t = ctx;
	if (eg_buf_reserve(&t->logs, len + 1))
		return;
	eg_buf_put(&t->logs, line, len);
	if (!len || line[len - 1] != '\n')
		eg_buf_putc(&t->logs, '\n');
}

struct eg_test *eg_test_new(const struct eg_engine_opts *o, char *err, size_t errlen)
{
	struct eg_test *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	struct eg_pipe_opts po = {.engine = *o};
	po.engine.log = log_line;
	po.engine.log_ctx = t;
	po.engine.report = NULL;
	struct eg_engine *e = eg_engine_new(&po.engine, err, errlen);
	if (!e)
		goto fail;
	t->sink = eg_alerts_open_mem(err, errlen);
	if (!t->sink) {
		eg_engine_free(e);
		goto fail;
	}
	po.alerts = t->sink;
	t->p = eg_pipe_new(&po, e, err, errlen);
	if (!t->p) {
		eg_engine_free(e);
		goto fail;
	}
	return t;
fail:
	eg_test_free(t);
	return NULL;
}

void eg_test_free(struct eg_test *t)
{
	if (!t)
		return;
	eg_pipe_free(t->p);
	eg_alerts_close(t->sink);
	eg_buf_free(&t->logs);
	eg_buf_free(&t->taken);
	free(t);
}

struct eg_engine *eg_test_engine(struct eg_test *t)
{
	return eg_pipe_engine(t->p);
}

int eg_test_line(struct eg_test *t, const char *line, size_t len, char *err, size_t errlen)
{
	return eg_replay_line(t->p, line, len, err, errlen);
}

const char *eg_test_alerts(struct eg_test *t, size_t *len)
{
	eg_pipe_flush(t->p);
	eg_pipe_service(t->p);
	return eg_alerts_take(t->sink, len);
}

const char *eg_test_logs(struct eg_test *t, size_t *len)
{
	struct eg_buf tmp = t->taken;
	t->taken = t->logs;
	t->logs = tmp;
	t->logs.len = 0;
	if (eg_buf_reserve(&t->taken, 1)) {
		*len = 0;
		return "";
	}
	t->taken.p[t->taken.len] = '\0';
	*len = t->taken.len;
	return t->taken.p;
}
