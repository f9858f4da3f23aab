/* SPDX-License-Identifier: MIT */
/* STUB: replaced by the full sink. */
#include "alerts.h"
#include "buf.h"
#include "json.h"
#include <stdio.h>
#include <stdlib.h>

struct eg_alert_sink {
	FILE *f;
	struct eg_buf b;
};

struct eg_alert_sink *eg_alerts_open(const char *path, char *err, size_t errlen)
{
	struct eg_alert_sink *s = calloc(1, sizeof(*s));
	s->f = fopen(path, "a");
	if (!s->f) {
		snprintf(err, errlen, "cannot open %s", path);
		free(s);
		return NULL;
	}
	return s;
}

int eg_alerts_add(struct eg_alert_sink *s, const struct eg_event *ev,
		  const struct eg_rule_info *rule, const char *desc, size_t desc_len)
{
	return eg_json_alert(&s->b, ev, rule, desc, desc_len);
}

int eg_alerts_flush(struct eg_alert_sink *s)
{
	fwrite(s->b.p, 1, s->b.len, s->f);
	s->b.len = 0;
	return fflush(s->f);
}

int eg_alerts_reopen(struct eg_alert_sink *s)
{
	(void)s;
	return 0;
}

void eg_alerts_close(struct eg_alert_sink *s)
{
	if (!s)
		return;
	eg_alerts_flush(s);
	fclose(s->f);
	eg_buf_free(&s->b);
	free(s);
}
