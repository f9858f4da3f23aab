/* SPDX-License-Identifier: MIT */
/* Shared by the bench/storm_*.c load generators: run a loop for a duration
 * and print "storm=<name> ops=<n> secs=<s> rate=<ops/s>" on stdout. */
#ifndef EG_STORM_COMMON_H
#define EG_STORM_COMMON_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile sig_atomic_t storm_stop;

static void storm_on_alarm(int sig)
{
	(void)sig;
	storm_stop = 1;
}

static double storm_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Parses the duration (seconds, default 5) and arms the stop timer. */
static double storm_begin(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 5.0;
	if (secs <= 0)
		secs = 5.0;
	struct sigaction sa = {.sa_handler = storm_on_alarm};
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct itimerspec its = {.it_value = {.tv_sec = (time_t)secs,
					      .tv_nsec = (long)((secs - (double)(time_t)secs) * 1e9)}};
	timer_t t;
	struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM};
	if (timer_create(CLOCK_MONOTONIC, &sev, &t) || timer_settime(t, 0, &its, NULL)) {
		perror("timer");
		exit(1);
	}
	return storm_now();
}

static void storm_end(const char *name, unsigned long long ops, double t0)
{
	double secs = storm_now() - t0;
	printf("storm=%s ops=%llu secs=%.3f rate=%.0f\n", name, ops, secs, (double)ops / secs);
}

#endif
