/* SPDX-License-Identifier: MIT */
/* STUB: replaced by the full writer. */
#include "json.h"
#include <stdio.h>

int eg_json_str(struct eg_buf *b, const char *s, size_t len)
{
	eg_buf_putc(b, '"');
	eg_buf_put(b, s, len);
	return eg_buf_putc(b, '"');
}

int eg_json_time(struct eg_buf *b, int64_t ts_ns)
{
	char t[32];
	snprintf(t, sizeof(t), "\"%lld\"", (long long)ts_ns);
	return eg_buf_puts(b, t);
}

int eg_json_event(struct eg_buf *b, const struct eg_event *ev)
{
	eg_buf_puts(b, "{\"comm\":");
	eg_json_str(b, ev->comm, ev->comm_len);
	return eg_buf_putc(b, '}');
}

int eg_json_alert(struct eg_buf *b, const struct eg_event *ev, const struct eg_rule_info *rule,
		  const char *desc, size_t desc_len)
{
	(void)desc;
	(void)desc_len;
	eg_buf_puts(b, "{\"rule_id\":");
	eg_json_str(b, rule->id, strlen(rule->id));
	eg_buf_puts(b, ",\"event\":");
	eg_json_event(b, ev);
	return eg_buf_puts(b, "}\n");
}
