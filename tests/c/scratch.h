/* SPDX-License-Identifier: MIT */
/* A scratch directory for the C tests that run a pipeline: mkdtemp(dir) (a
 * "...XXXXXX" template), then the paths rules.yaml, alerts.jsonl and stdout
 * in it (each buffer 300 bytes), and stdout redirected to the last one so the
 * [ALERT] lines stay out of the test's output. Returns the saved stdout (for
 * dup2 back at the end), or -1 after a message. */
#ifndef EG_TEST_SCRATCH_H
#define EG_TEST_SCRATCH_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int scratch_setup(char *dir, char *cfg, char *alerts_path, char *out_path)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(cfg, 300, "%s/rules.yaml", dir);
	snprintf(alerts_path, 300, "%s/alerts.jsonl", dir);
	snprintf(out_path, 300, "%s/stdout", dir);
	fflush(stdout);
	int saved_out = dup(1), o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (saved_out < 0 || o < 0) {
		perror("redirecting stdout");
		return -1;
	}
	dup2(o, 1);
	close(o);
	return saved_out;
}

#endif
