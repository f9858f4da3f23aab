/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The file families' kernel filter tests a path only in the form the
 * daemon keeps it (bpf/fam_files.h, kf_path_wanted): these are the steps
 * of that test, eight bytes at a time, in plain C so that
 * tests/c/test_kf_scan.c checks them against a byte-by-byte reading.
 * Masks hold 0x80 in each byte that matches.
 */
#ifndef EG_KF_SCAN_H
#define EG_KF_SCAN_H

/* 0x80 in each byte of x equal to c's byte (exact: no borrow between
 * bytes, so 0xae is not '.'). */
static inline __attribute__((always_inline)) __u64 kf_bytes_eq(__u64 x, __u64 c)
{
	const __u64 lo7 = 0x7f7f7f7f7f7f7f7fULL;
	__u64 t = x ^ c;

	return ~(((t & lo7) + lo7) | t | lo7);
}

/* The '/' and '.' bytes of w, the path's bytes [at, at + 8) (n bytes in
 * all; at <= n), with a '/' added right after the path's end and nothing
 * past that: the end then reads as a separator, so "/x/." or "/x/" show as
 * "/./" or "//". */
static inline __attribute__((always_inline)) void kf_word_masks(__u64 w, __u32 at, __u32 n, __u64 *sl,
								__u64 *dot)
{
	__u64 keep = n - at >= 8 ? ~0ULL : (1ULL << (8 * (n - at))) - 1;

	*sl = kf_bytes_eq(w, 0x2f2f2f2f2f2f2f2fULL) & keep;
	*dot = kf_bytes_eq(w, 0x2e2e2e2e2e2e2e2eULL) & keep;
	if (n - at < 8)
		*sl |= 0x80ULL << (8 * (n - at));
}

/* Whether a '/' of the word (s0, d0) starts "//", "/./" or "/../", the
 * next word's masks (s1, d1) giving the bytes past its end. */
static inline __attribute__((always_inline)) int kf_word_odd(__u64 s0, __u64 d0, __u64 s1, __u64 d1)
{
	/* what follows each byte by 1, 2 and 3 bytes */
	__u64 s_1 = s0 >> 8 | s1 << 56, d_1 = d0 >> 8 | d1 << 56;
	__u64 s_2 = s0 >> 16 | s1 << 48, d_2 = d0 >> 16 | d1 << 48;
	__u64 s_3 = s0 >> 24 | s1 << 40;

	return (s0 & (s_1 | (d_1 & s_2) | (d_1 & d_2 & s_3))) != 0;
}

#endif
