/* SPDX-License-Identifier: MIT */
/* JSON output: string escaping, RFC 3339 timestamps, the event object and the
 * alert line. Never truncates; invalid UTF-8 bytes are written as \udcXX
 * (lone low surrogates, the "surrogateescape" convention) so that the exact
 * bytes survive a round trip through the replay reader. */
#ifndef EG_JSON_H
#define EG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "event.h"
#include "engine.h"
#include "response.h"

/* Appends s[0..len) as a quoted JSON string. */
int eg_json_str(struct eg_buf *b, const char *s, size_t len);

/* Length of the valid UTF-8 sequence at s[0..n) (1 for ASCII), or 0 when it
 * is invalid (no overlongs, no surrogates, nothing above U+10FFFF, no
 * truncated sequence). */
size_t eg_utf8_len(const unsigned char *s, size_t n);
/* Appends ts (ns since epoch) as a quoted RFC 3339 UTC time, trailing zeros of
 * the fraction trimmed like Go's RFC3339Nano. */
int eg_json_time(struct eg_buf *b, int64_t ts_ns);
/* Appends the event object (the replay/record format, docs/output.md): the
 * event's keys, then its process context (ev->proc, ev->ctr; empty when
 * NULL). with_host ends the object with "hostname" and "host_id" (ev->host,
 * "" when NULL): -record lines carry them, an alert's nested event does not
 * (the alert line has them at its top level). */
int eg_json_event(struct eg_buf *b, const struct eg_event *ev, bool with_host);
/* Appends one alert line, newline included. desc overrides rule->description
 * when non-NULL. "hostname" and "host_id" (ev->host) follow "tags";
 * events_lost adds "events_lost":true after them (the key is left out when
 * false). act (NULL, or an action of EG_ACTION_ALERT: none) adds the
 * response's keys last: "action", "enforced", and when enforced
 * "enforced_in", "result", "reason" (protected, gone) and "action_delay_ns"
 * (docs/response.md). */
int eg_json_alert(struct eg_buf *b, const struct eg_event *ev, const struct eg_rule_info *rule,
		  const char *desc, size_t desc_len, bool events_lost,
		  const struct eg_response_outcome *act);

#endif
