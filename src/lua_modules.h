/* SPDX-License-Identifier: MIT */
/* The engine's Lua sources, embedded at build time (tools/embed.c). */
#ifndef EG_LUA_MODULES_H
#define EG_LUA_MODULES_H

#include <stddef.h>

struct eg_lua_module {
	const char *name; /* module name, e.g. "ebpf_guard.engine" */
	const char *path; /* source path for error messages */
	const char *src;
	size_t len;
};

extern const struct eg_lua_module eg_lua_modules[];

#endif
