/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the YAML rule loader: the input is a .yaml config file (lyaml, the
 * rule schema checks, regexes through PCRE2, condition: Lua compiled in the
 * sandbox, the generated rule code). See fuzz_engine.h for the properties.
 */
#include "fuzz_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[4096];
	fuzz_engine_one(data, size, "yaml", err, sizeof(err));
	return 0;
}
