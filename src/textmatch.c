// SPDX-License-Identifier: MIT
/*
 * Text tests the rules' compiled Lua calls through the FFI in place of a
 * PCRE2 call per event (lua/ebpf_guard/builtins.lua): each is exactly the
 * regex it replaces, and spec/unit/textmatch_spec.lua checks them against
 * PCRE2 on random strings.
 */
#include "textmatch.h"

#include <string.h>

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

int eg_text_find_any(const char *s, uint32_t len, const struct eg_lits *set)
{
	if (!s)
		return 0;
	const unsigned char *p = (const unsigned char *)s;
	/* each byte of s: the literals anchored on it, each compared where its
	 * anchor would put it (bytes that anchor none cost one load) */
	int ci = set->caseless != 0;
	for (uint32_t i = 0; i < len; i++) {
		/* caseless: a non-ASCII byte may be one of the folds of k or s */
		if (ci && p[i] >= 0x80)
			return 1;
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
	}
	return 0;
}
