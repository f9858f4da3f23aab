/* SPDX-License-Identifier: MIT */
/* systemd notifications: see notify.h and docs/operations.md, "systemd". */
#include "notify.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

static bool enabled;
static int64_t ping_every_ns; /* half of WATCHDOG_USEC; 0: no watchdog */
static int64_t last_ping_ns;
static bool send_failed;

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

bool eg_notify_init(void)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	uint64_t usec = 0;
	enabled = sock && *sock;
	ping_every_ns = 0;
	if (enabled && sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
		ping_every_ns = (int64_t)(usec * 1000 / 2);
	return enabled;
}

static void send_state(const char *state)
{
	int rc = sd_notify(0, state);
	if (rc < 0 && !send_failed) {
		send_failed = true;
		fprintf(stderr, "ebpf-guard: failed to notify the service manager (%s): %s\n",
			state, strerror(-rc));
	}
}

void eg_notify_state(enum eg_run_state s)
{
	if (!enabled)
		return;
	int64_t now;
	switch (s) {
	case EG_RUN_READY:
		send_state("READY=1");
		last_ping_ns = mono_ns();
		break;
	case EG_RUN_ALIVE:
		if (!ping_every_ns)
			break;
		now = mono_ns();
		if (now - last_ping_ns >= ping_every_ns) {
			last_ping_ns = now;
			send_state("WATCHDOG=1");
		}
		break;
	case EG_RUN_STOPPING:
		send_state("STOPPING=1");
		break;
	}
}
