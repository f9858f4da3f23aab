/* SPDX-License-Identifier: MIT */
#ifndef EG_TEXTMATCH_H
#define EG_TEXTMATCH_H

#include <stdint.h>

/*
 * The built-in heuristics' text tests (lua/ebpf_guard/builtins.lua), for the
 * compiled rules to call through the FFI. s may be NULL when len is 0.
 */

/* 1 when s matches the suspicious-shell regex, ASCII caseless: with
 * tail_only 0, `bash|zsh|ksh|dash|^sh\z` (a name anywhere, or exactly
 * "sh"); with tail_only 1, `(?:bash|zsh|ksh|dash)[^/]*\z|(?:^|/)sh\z` (a
 * name in the part after the last '/', or that part exactly "sh") */
int eg_text_shellish(const char *s, uint32_t len, int tail_only);

/* 1 when s contains "xmr" or "miner", ASCII caseless (the crypto-miner
 * heuristic's `xmr|miner`) */
int eg_text_miner_hint(const char *s, uint32_t len);

#endif
