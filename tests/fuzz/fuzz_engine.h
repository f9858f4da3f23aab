/* SPDX-License-Identifier: MIT */
/*
 * The config loaders' fuzzers (fuzz_yaml.c, fuzz_lua.c): the input is written
 * to a file with the given extension and an engine is built from it with the
 * embedded Lua engine, as `ebpf-guard -config <file>` would.
 *
 * Properties, besides no crash and no sanitizer finding:
 *   - eg_engine_new either succeeds or fails with a message that names the
 *     file ("<file>: ..."): a config error, never an internal one
 *     ("engine: ..." is a Lua error that escaped the loader: a bug);
 *   - an engine that loads runs a small batch of every event type without
 *     eg_engine_run failing (user code errors are counted, not fatal), and
 *     the hits it reports are in range.
 * User code runs with a budget of FUZZ_BUDGET instructions per call (the
 * -lua-budget option) and may allocate FUZZ_MEM_LIMIT_MB per call, the Lua
 * heap 16 times that (-lua-memory; the fuzzers link the daemon's memory guard,
 * src/memguard.c), so a runaway input costs milliseconds, not seconds.
 */
#ifndef EG_FUZZ_ENGINE_H
#define EG_FUZZ_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_BUDGET 100000u
#define FUZZ_MEM_LIMIT_MB 16u

/* ext: "yaml" or "lua". Returns 1 when the engine loaded (and ran), 0 after
 * a config error, whose message is in err. */
int fuzz_engine_one(const uint8_t *data, size_t size, const char *ext, char *err, size_t errlen);

#endif
