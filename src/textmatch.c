// SPDX-License-Identifier: MIT
/*
 * Text tests the rules' compiled Lua calls through the FFI in place of a
 * PCRE2 call per event (lua/ebpf_guard/builtins.lua): each is exactly the
 * regex it replaces, and spec/unit/textmatch_spec.lua checks them against
 * PCRE2 on random strings.
 */
#include "textmatch.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ASCII lower case: PCRE2's caseless matching without UTF, with its
 * default ("C" locale) tables, folds A-Z only */
static inline unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int eq_ci(const unsigned char *p, const char *lit, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++)
		if (lower(p[k]) != (unsigned char)lit[k])
			return 0;
	return 1;
}

int eg_text_shellish(const char *s, uint32_t len, int tail_only)
{
	if (!s || !len)
		return 0;
	const unsigned char *p = (const unsigned char *)s;
	uint32_t from = 0;
	if (tail_only)
		for (uint32_t i = len; i > 0; i--)
			if (p[i - 1] == '/') {
				from = i;
				break;
			}
	/* the last component (or the whole string) is "sh" */
	if (len - from == 2 && eq_ci(p + from, "sh", 2))
		return 1;
	/* bash, dash, zsh, ksh: each ends in "sh", all within [from, len) */
	for (uint32_t i = from; i + 1 < len; i++) {
		if (lower(p[i]) != 's' || lower(p[i + 1]) != 'h')
			continue;
		if (i >= from + 1) {
			unsigned char b = lower(p[i - 1]);
			if (b == 'z' || b == 'k')
				return 1;
			if (b == 'a' && i >= from + 2) {
				unsigned char a = lower(p[i - 2]);
				if (a == 'b' || a == 'd')
					return 1;
			}
		}
	}
	return 0;
}

int eg_text_miner_hint(const char *s, uint32_t len)
{
	if (!s)
		return 0;
	const unsigned char *p = (const unsigned char *)s;
	for (uint32_t i = 0; i + 3 <= len; i++) {
		unsigned char c = lower(p[i]);
		if (c == 'x' && eq_ci(p + i + 1, "mr", 2))
			return 1;
		if (c == 'm' && i + 5 <= len && eq_ci(p + i + 1, "iner", 4))
			return 1;
	}
	return 0;
}

/* The literals of set anchored on p[i] (mask bit k: literal k's anchor is
 * this byte), each compared where its anchor would put it. */
static inline __attribute__((always_inline)) int lits_at(const unsigned char *p, uint32_t len, uint32_t i,
							 const struct eg_lits *set, int ci)
{
	uint32_t m = set->mask[p[i]];
	while (m) {
		uint32_t k = (uint32_t)__builtin_ctz(m);
		m &= m - 1;
		uint32_t a = set->off[k], n = set->off[k + 1] - a, at = set->at[k];
		if (i < at || n - at > len - i)
			continue;
		if (ci ? eq_ci(p + i - at, set->bytes + a, n) : !memcmp(p + i - at, set->bytes + a, n))
			return 1;
	}
	return 0;
}

/* The search byte by byte from p[i] on: the literals anchored on each byte
 * (a byte that anchors none costs one load). A caseless set passes a
 * subject with a byte >= 0x80: PCRE2's caseless UTF matching also folds the
 * Kelvin sign onto k and the long s onto s. */
static inline __attribute__((always_inline)) int find_any_from(const unsigned char *p, uint32_t len, uint32_t i,
							       const struct eg_lits *set, int ci)
{
	for (; i < len; i++) {
		if (ci && p[i] >= 0x80)
			return 1;
		if (set->mask[p[i]] && lits_at(p, len, i, set, ci))
			return 1;
	}
	return 0;
}

#ifdef __SSE2__
/* The search 16 bytes at a time (set->nanchor > 0): each block of s
 * compared with each anchor byte, and the literals tried only at the
 * positions that hold one; the bytes after the last whole block, one by
 * one. A caseless set's block with a byte >= 0x80 passes (its sign bits). */
static int find_any_sse2(const unsigned char *p, uint32_t len, const struct eg_lits *set, int ci)
{
	__m128i a[EG_LITS_ANCHORS];
	uint32_t na = set->nanchor;
	for (uint32_t k = 0; k < na; k++)
		a[k] = _mm_set1_epi8((char)set->anchor[k]);
	uint32_t i = 0;
	for (; i + 16 <= len; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		if (ci && _mm_movemask_epi8(v))
			return 1;
		__m128i eq = _mm_cmpeq_epi8(v, a[0]);
		for (uint32_t k = 1; k < na; k++)
			eq = _mm_or_si128(eq, _mm_cmpeq_epi8(v, a[k]));
		uint32_t m = (uint32_t)_mm_movemask_epi8(eq);
		while (m) {
			uint32_t j = (uint32_t)__builtin_ctz(m);
			m &= m - 1;
			if (lits_at(p, len, i + j, set, ci))
				return 1;
		}
	}
	return find_any_from(p, len, i, set, ci);
}
#endif

int eg_text_find_any(const char *s, uint32_t len, const struct eg_lits *set)
{
	if (!s)
		return 0;
	const unsigned char *p = (const unsigned char *)s;
	int ci = set->caseless != 0;
#ifdef __SSE2__
	/* (a subject shorter than a block: byte by byte, without the setup) */
	if (len >= 16 && set->nanchor && set->nanchor <= EG_LITS_ANCHORS)
		return find_any_sse2(p, len, set, ci);
#endif
	return find_any_from(p, len, 0, set, ci);
}
