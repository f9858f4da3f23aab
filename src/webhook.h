/* SPDX-License-Identifier: MIT */
/* The webhook output (docs/output.md, "Webhook"): alerts POSTed as a JSON
 * array by a thread of its own with libcurl, from a bounded queue. */
#ifndef EG_WEBHOOK_H
#define EG_WEBHOOK_H

#include <stddef.h>
#include "outputs.h"

struct eg_webhook;

/* Checks the webhook options, sets up the HTTP handle and starts the thread
 * (all signals blocked, no capabilities). NULL with a message in err. */
struct eg_webhook *eg_webhook_new(const struct eg_outputs_opts *o, char *err, size_t errlen);
/* Queues a copy of one alert line (event loop). Never waits for the
 * network: a full queue drops the alert (reason queue_full). */
void eg_webhook_push(struct eg_webhook *w, const char *line, size_t len);
/* Drains until the deadline, drops the rest, joins the thread. NULL is fine. */
void eg_webhook_close(struct eg_webhook *w);

#endif
