/* SPDX-License-Identifier: MIT */
/* The alert sink: JSONL alerts to a file (or stdout with "-"), one human line
 * per alert, survival of write faults with a bounded queue. */
#ifndef EG_ALERTS_H
#define EG_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include "event.h"
#include "engine.h"
#include "response.h"

struct eg_alert_sink;

/* Opens (creates 0600, appends) path; "-" writes alerts to stdout and the
 * human lines to stderr. NULL and a message in err when it cannot. */
struct eg_alert_sink *eg_alerts_open(const char *path, char *err, size_t errlen);
/* A sink in memory (the testing harness, src/testing.c): JSON lines collect
 * until eg_alerts_take; no human lines, no file, never full. */
struct eg_alert_sink *eg_alerts_open_mem(char *err, size_t errlen);
/* Memory sink: the JSON lines added since the previous call, NUL-terminated,
 * *len bytes; owned by the sink, valid until the next add or close. "" for a
 * file sink. */
const char *eg_alerts_take(struct eg_alert_sink *s, size_t *len);
/* Queues one alert (JSON line + human line). Never blocks on a failing disk.
 * events_lost, act (the response to it, NULL: none): see eg_json_alert. */
int eg_alerts_add(struct eg_alert_sink *s, const struct eg_event *ev,
		  const struct eg_rule_info *rule, const char *desc, size_t desc_len,
		  bool events_lost, const struct eg_response_outcome *act);
/*
 * The other outputs (src/outputs.c): fn is called on the event loop's thread
 * with every alert's JSON line (newline included; valid during the call only)
 * and the arguments of eg_alerts_add right after eg_alerts_add formatted it, also when the file's queue is full
 * and the file loses it. fn must not block. NULL turns it off.
 */
typedef void (*eg_alert_tap)(void *ctx, const char *line, size_t len,
			     const struct eg_event *ev, const struct eg_rule_info *rule,
			     const char *desc, size_t desc_len);
void eg_alerts_set_tap(struct eg_alert_sink *s, eg_alert_tap fn, void *ctx);
/* Writes what is queued (whole lines only). Called at least once per batch. */
int eg_alerts_flush(struct eg_alert_sink *s);
/* Reopens the file by path (log rotation). */
int eg_alerts_reopen(struct eg_alert_sink *s);
void eg_alerts_close(struct eg_alert_sink *s);

#endif
