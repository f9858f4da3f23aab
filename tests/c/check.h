/* SPDX-License-Identifier: MIT */
/* The C tests' one assertion: counts, and on failure prints where and why.
 * Each test ends with CHECK_SUMMARY(name), which prints "N passed, M failed"
 * and gives the exit code. */
#ifndef EG_TEST_CHECK_H
#define EG_TEST_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (cond) {                                                    \
			passed++;                                              \
		} else {                                                       \
			failed++;                                              \
			fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);  \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
		}                                                              \
	} while (0)

#define CHECK_SUMMARY(name)                                                    \
	(printf("%s: %d passed, %d failed\n", (name), passed, failed), failed ? 1 : 0)

#endif
