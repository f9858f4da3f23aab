/* SPDX-License-Identifier: MIT */
/*
 * Lua line coverage for libFuzzer (fuzz_yaml, fuzz_lua). Most of the config
 * loaders' logic is Lua (the modules in lua/ebpf_guard), which the compiler's
 * coverage instrumentation does not see. This file defines lua_sethook, so
 * the engine's call (src/engine.c installs its instruction-budget count hook)
 * lands here: the real lua_sethook is called with the line event added, and
 * one hook passes count events to the engine's hook unchanged and turns line
 * events of the embedded engine modules ("@ebpf_guard/...") into edge
 * counters (previous line -> this line) in libFuzzer's extra-counters
 * section. Lines of the fuzz input's own code are not counted (they would
 * reward inputs for being long, not for reaching new loader code).
 *
 * The line hook also watches the Lua heap: the engine caps it (16 times the
 * per-call limit, FUZZ_MEM_LIMIT_MB, in its count hook; src/memguard.c bounds
 * each call), so a heap past FUZZ_LUA_HEAP_MB means a limit failed to hold
 * (a few string doublings reach gigabytes): reported at once with that
 * message rather than as a generic out-of-memory or timeout seconds later.
 * Only linked into the engine fuzzers; nothing changes in src/.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

#include <lua.h>

#include "fuzz_engine.h"
#include "fuzz_pipe.h"

#define NCOUNTERS (1u << 16)
/* the engine's cap (16 x the per-call limit) and room for one call past it */
#define FUZZ_LUA_HEAP_MB (2 * 16 * FUZZ_MEM_LIMIT_MB)

__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t lua_edges[NCOUNTERS];

typedef int (*sethook_fn)(lua_State *, lua_Hook, int, int);

static lua_Hook engine_hook; /* the engine's count hook */
static const char *last_src;  /* chunk name last hashed, and its hash */
static uint32_t last_hash;
static uint32_t prev;

static uint32_t hash_src(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static void cov_hook(lua_State *L, lua_Debug *ar)
{
	if (ar->event == LUA_HOOKCOUNT) {
		if (engine_hook)
			engine_hook(L, ar);
		return;
	}
	if (ar->event != LUA_HOOKLINE)
		return;
	int kb = lua_gc(L, LUA_GCCOUNT, 0);
	if ((unsigned)kb > FUZZ_LUA_HEAP_MB * 1024)
		fuzz_fail("the Lua heap grew past %u MB (%d MB): the sandbox's memory limits did not hold",
			  FUZZ_LUA_HEAP_MB, kb / 1024);
	if (!lua_getinfo(L, "S", ar) || !ar->source)
		return;
	if (ar->source != last_src) {
		last_src = ar->source;
		last_hash = strncmp(ar->source, "@ebpf_guard/", 12) ? 0 : hash_src(ar->source);
	}
	if (!last_hash)
		return;
	uint32_t cur = (last_hash ^ ((uint32_t)ar->currentline * 2654435761u)) & (NCOUNTERS - 1);
	uint8_t *c = &lua_edges[cur ^ prev];
	if (*c != 255)
		(*c)++;
	prev = cur >> 1;
}

int lua_sethook(lua_State *L, lua_Hook func, int mask, int count)
{
	static sethook_fn real;
	if (!real)
		real = (sethook_fn)dlsym(RTLD_NEXT, "lua_sethook");
	/* a new state: chunk names may come back at the same addresses */
	last_src = NULL;
	prev = 0;
	if (!func || !(mask & LUA_MASKCOUNT))
		return real(L, func, mask, count);
	engine_hook = func;
	return real(L, cov_hook, mask | LUA_MASKLINE, count);
}
