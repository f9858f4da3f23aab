/* SPDX-License-Identifier: MIT */
/* Bounded Lua pattern functions for sandboxed user code (sandbox_str.c). */
#ifndef EG_SANDBOX_STR_H
#define EG_SANDBOX_STR_H

#include <stdint.h>

struct lua_State;

/* Pushes a table { find, match, gmatch, gsub, sort }: Lua 5.1's pattern
 * functions and table.sort, their work charged to the instruction budget.
 * Registered as package.preload["ebpf_guard.cstr"]. */
int eg_open_sandbox_str(struct lua_State *L);

/* Charges steps instructions to the user call in progress (engine.c); raises
 * "instruction budget exceeded" when that exhausts its budget. No-op outside
 * user code. */
void eg_engine_charge(struct lua_State *L, uint32_t steps);

#endif
