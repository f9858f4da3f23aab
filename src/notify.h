/* SPDX-License-Identifier: MIT */
/*
 * The service manager's notifications (sd_notify(3), libsystemd; linked into
 * the daemon only): READY=1 once the probes are attached, WATCHDOG=1 while
 * the event loop makes progress, STOPPING=1 when shutdown begins. Without
 * NOTIFY_SOCKET in the environment every call does nothing.
 */
#ifndef EG_NOTIFY_H
#define EG_NOTIFY_H

#include <stdbool.h>

#include "collector.h"

/* Reads NOTIFY_SOCKET and WATCHDOG_USEC (WATCHDOG_PID, when set, must be
 * this process). Call once, before the seccomp filter is installed. Returns
 * whether notifications will be sent (the filter then allows the datagram
 * socket they need). */
bool eg_notify_init(void);

/*
 * The collector's on_state callback. EG_RUN_READY sends READY=1;
 * EG_RUN_ALIVE (after each pass of the event loop, the batch run and
 * written) sends WATCHDOG=1 when half the watchdog interval has passed since
 * the last one, so pings stop when the loop or the engine stops making
 * progress; EG_RUN_STOPPING sends STOPPING=1. A failed send is reported on
 * stderr once.
 */
void eg_notify_state(enum eg_run_state s);

#endif
