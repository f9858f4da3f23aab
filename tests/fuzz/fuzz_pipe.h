/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for src/pipeline.c for the fuzzers (linked instead of it): the
 * producer side only (eg_pipe_begin/alloc/str/commit/abort), with every
 * eg_pipe_alloc() in its own heap block of exactly the size asked for, so
 * AddressSanitizer sees a producer writing or reading one byte past a string
 * (in the real 4 MiB arena that byte is just the next string). Exceeding the
 * room reserved with eg_pipe_begin() aborts, like the real pipeline. Events
 * and strings stay valid until fuzz_pipe_reset(). flush/service do nothing:
 * no engine runs.
 */
#ifndef EG_FUZZ_PIPE_H
#define EG_FUZZ_PIPE_H

#include <stddef.h>
#include "event.h"
#include "pipeline.h" /* eg_pipe_begin ... as the producers call them */

/* The pipeline handle to pass to producers. */
struct eg_pipeline *fuzz_pipe(void);
/* Frees every event and string handed out so far. */
void fuzz_pipe_reset(void);
/* The event last committed since the reset, or NULL; events committed since
 * the reset. */
const struct eg_event *fuzz_pipe_last(void);
size_t fuzz_pipe_commits(void);

/* Checks the struct eg_event contract (src/event.h) on ev: every string
 * non-NULL and NUL-terminated at its length, args holding at least argc
 * NUL-terminated strings in args_len bytes, type and flags known. Aborts with
 * a message naming what is wrong. */
void fuzz_check_event(const struct eg_event *ev);

/* Checks the process context of a replayed event: proc and ctr set, every
 * context string non-NULL and NUL-terminated at its length (host's too when
 * set), at most EG_ANCESTORS_MAX ancestors, known proc flags. */
void fuzz_check_context(const struct eg_event *ev);

/* On the fuzzers' own checking code: no coverage instrumentation, so only
 * the code under test guides the fuzzer (and the checks cost less). */
#define FUZZ_NOCOV __attribute__((no_sanitize("coverage")))

/* Prints "fuzz: <what>" to stderr and aborts (a finding). */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
