/* SPDX-License-Identifier: MIT */
/* Replay: recorded events as JSONL, one event object per line. */
#ifndef EG_REPLAY_H
#define EG_REPLAY_H

#include <stdio.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include "event.h"

struct eg_pipeline;

/* Arena room eg_replay_parse needs for a line of len bytes (ask
 * eg_pipe_begin for it): the line's strings, never longer decoded than
 * written, and the event's process context. Lines are at most
 * EG_EVENT_MAX_BYTES - EG_REPLAY_SLACK bytes long. */
#define EG_REPLAY_SLACK 512
#define EG_REPLAY_ROOM(len) ((len) + EG_REPLAY_SLACK)

/*
 * Parses one line (without its newline) into ev, copying strings with
 * eg_pipe_str. The event's proc and ctr point at a context built in the
 * arena from the line (old lines without the context keys get an "unknown"
 * one, loginuid -1); host is set only when the line has "hostname" or
 * "host_id". Returns 0, or -1 with a message in err ("not JSON: ...",
 * "field \"pid\": expected a number", ...).
 */
int eg_replay_parse(struct eg_pipeline *p, const char *line, size_t len, struct eg_event *ev,
		    char *err, size_t errlen);

/* True when k[0..n) is a key of the event object the reader decodes (the
 * reader skips others); the testing module refuses unknown keys with it. */
bool eg_replay_known_key(const char *k, size_t n);

/*
 * One line of a recording (without its newline; a trailing CR is dropped):
 * parses it into a new event of the pipeline and commits it. Returns 0, 1
 * for a blank line (nothing done), or -1 with the reason in err (the event
 * is dropped). eg_replay_run and the testing harness (src/testing.c) both
 * read lines through here.
 */
int eg_replay_line(struct eg_pipeline *p, const char *s, size_t n, char *err, size_t errlen);

/*
 * Reads path ("-" = stdin) to the end, feeding each event to the pipeline.
 * Bad lines are reported on stderr as "<path>:<line>: <reason>" and skipped.
 * Returns 0 at end of input, -1 when the file cannot be read, 1 when the
 * replay did nothing useful, with one line on stderr for each reason: every
 * line was rejected (an empty file is fine), or some rule's user code (a
 * condition or a Lua detection) ran at least once and failed every time.
 */
int eg_replay_run(struct eg_pipeline *p, const char *path, volatile sig_atomic_t *stop);

#endif
