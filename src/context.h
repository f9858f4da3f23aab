/* SPDX-License-Identifier: MIT */
/* Host identity for events (hostname, /etc/machine-id). */
#ifndef EG_CONTEXT_H
#define EG_CONTEXT_H

#include "event.h"

/* The local host (hostname and machine id, read once; empty strings when
 * unreadable). Not thread-safe on the first call. */
const struct eg_host *eg_host_local(void);

#endif
