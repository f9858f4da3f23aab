/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the Lua detection loader: the input is a .lua detection file, run
 * in the sandbox at load time and then as match functions over a batch. See
 * fuzz_engine.h for the properties; besides, an input starting with \x1b
 * (LuaJIT bytecode's first byte) must be refused as bytecode, never loaded.
 */
#include <string.h>

#include "fuzz_engine.h"
#include "fuzz_pipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[4096];
	int loaded = fuzz_engine_one(data, size, "lua", err, sizeof(err));
	if (size && data[0] == 0x1b && (loaded || !strstr(err, ": is precompiled Lua bytecode;")))
		fuzz_fail("bytecode-looking input not refused as bytecode: %s",
			  loaded ? "it loaded" : err);
	return 0;
}
