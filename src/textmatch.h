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

/* A set of literals for eg_text_find_any, built once (compile.lua fills it
 * through the FFI; the Lua cdef there is this struct): literal k is
 * bytes[off[k] .. off[k + 1]), none empty. Each literal is found by its
 * anchor, the byte at offset at[k] (compile.lua picks its rarest byte in
 * paths and command lines); bit k of mask[c] is set when literal k's anchor
 * is the byte c. caseless: ASCII letters match either case (the literals
 * are stored in lower case, mask holds both cases of an anchor), and a
 * subject with a byte >= 0x80 always passes (PCRE2's caseless UTF matching
 * also folds the Kelvin sign onto k and the long s onto s). anchor[0 ..
 * nanchor) are the distinct bytes c whose mask[c] is not 0, when there are
 * at most EG_LITS_ANCHORS of them (nanchor 0: more, or not filled in): the
 * search then compares 16 bytes of s at a time against each (SSE2). */
#define EG_LITS_MAX 32
#define EG_LITS_BYTES 1024
#define EG_LITS_ANCHORS 16
struct eg_lits {
	uint32_t n;
	uint32_t off[EG_LITS_MAX + 1];
	uint32_t mask[256];
	uint8_t at[EG_LITS_MAX];
	uint32_t caseless;
	uint32_t nanchor;
	uint8_t anchor[EG_LITS_ANCHORS];
	char bytes[EG_LITS_BYTES];
};

/* 1 when s contains one of the set's literals (bytes compared exactly, or
 * ASCII-caselessly for a caseless set): one pass over s instead of a
 * memmem per literal */
int eg_text_find_any(const char *s, uint32_t len, const struct eg_lits *set);

#endif
