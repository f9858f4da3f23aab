/* SPDX-License-Identifier: MIT */
/*
 * The loop of run-time user calls (Lua detections, YAML conditions) and the
 * `ev` view they read, in C (src/usercall.c). Registered into the engine's
 * cengine module by src/engine.c; lua/ebpf_guard/host.lua uses them when
 * present and its own Lua loop otherwise (plain LuaJIT, the pure-Lua specs).
 */
#ifndef EG_USERCALL_H
#define EG_USERCALL_H

#include <lua.h>
#include <stdint.h>

#include "event.h"

/* Adds user_state, view_index, user_loop and view_fields to the table on
 * the top of the stack. */
void eg_usercall_register(lua_State *L);

/* Sorts the n hit indexes of x by their hits' event, then rule (tmp: room
 * for n more): a bottom-up merge sort, stable (the rule loops leave long
 * runs in order). Returns x or tmp, whichever holds the result. */
uint32_t *eg_hits_sort(const struct eg_hit *h, uint32_t *x, uint32_t *tmp, uint32_t n);

/* Provided by src/engine.c: the bookkeeping around one user call of rule k
 * (counted, budget and clock reset, in_user set; and the reverse), and the
 * count hook on or off around a loop of calls. */
void eg_engine_call_begin(struct eg_batch *b, uint32_t k);
void eg_engine_call_end(struct eg_batch *b);
void eg_engine_hook(lua_State *L, int on);

#endif
