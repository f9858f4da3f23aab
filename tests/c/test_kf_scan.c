/* SPDX-License-Identifier: MIT */
/* The file families' kernel filter tests a path eight bytes at a time for
 * what the daemon's normalisation would change (bpf/kf_scan.h): checked
 * against a byte-by-byte reading (the kernel's earlier scan) on fixed cases
 * and on random paths over '/', '.', and bytes one bit away from them. */
#include <linux/types.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../bpf/kf_scan.h"
#include "check.h"

#define MAXN 256

/* an empty, "." or ".." component (the first byte is a '/') */
static int odd_bytewise(const char *p, unsigned n)
{
	unsigned clen = 0, dots = 0;
	for (unsigned i = 1; i < n; i++) {
		if (p[i] != '/') {
			clen++;
			dots += p[i] == '.';
			continue;
		}
		if (!clen || (clen == dots && clen <= 2))
			return 1;
		clen = dots = 0;
	}
	return !clen || (clen == dots && clen <= 2);
}

/* the kernel's loop (bpf/fam_files.h, kf_path_odd) over a buffer with
 * room past the path */
static int odd_words(const char *buf, unsigned n)
{
	uint64_t s0, d0, s1 = 0, d1 = 0, w;
	memcpy(&w, buf, 8);
	kf_word_masks(w, 0, n, (__u64 *)&s0, (__u64 *)&d0);
	for (unsigned i = 0; 8 * i <= n; i++) {
		if (8 * (i + 1) <= n) {
			memcpy(&w, buf + 8 * (i + 1), 8);
			kf_word_masks(w, 8 * (i + 1), n, (__u64 *)&s1, (__u64 *)&d1);
		} else {
			s1 = d1 = 0;
		}
		if (kf_word_odd(s0, d0, s1, d1))
			return 1;
		s0 = s1;
		d0 = d1;
	}
	return 0;
}

static void check_path(const char *p)
{
	char buf[MAXN + 16];
	unsigned n = (unsigned)strlen(p);
	/* garbage past the end, as in the kernel's record */
	memset(buf, '/', sizeof(buf));
	memcpy(buf, p, n);
	CHECK(odd_words(buf, n) == odd_bytewise(p, n), "\"%s\": words say %d, bytes %d", p, odd_words(buf, n),
	      odd_bytewise(p, n));
}

int main(void)
{
	static const char *const fixed[] = {
		"/a", "/a/b", "//a", "/a//b", "/a/", "/.", "/..", "/...", "/a/.", "/a/..", "/a/...",
		"/a/./b", "/a/../b", "/a/.../b", "/.hidden", "/a/.b", "/a/b.", "/a/..b", "/a/b..",
		"/1234567/", "/123456/.", "/12345/..", "/1234567//x", "/123456/./x", "/12345/../x",
		"/1234567.", "/123456./", "/var/cache/eg-rb/.eg-storm-rename.1234.b",
		"/tmp/\xae/x", "/tmp/\xaf\xaf/x", "/tmp/.\xaf", "/tmp/\xae\xae",
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		check_path(fixed[i]);
	/* each of them is odd as the daemon reads it, or not */
	CHECK(odd_bytewise("/a/./b", 6) && !odd_bytewise("/a/.../b", 8) && !odd_bytewise("/tmp/\xae\xae", 7),
	      "the byte-by-byte reading itself");
	static const char alphabet[] = {'/', '.', 'a', (char)0xaf, (char)0xae, 'o', (char)0x2f ^ 1};
	srand(4242);
	char p[MAXN];
	for (int t = 0; t < 200000; t++) {
		unsigned n = 2 + (unsigned)rand() % (t < 100000 ? 24 : MAXN - 3);
		p[0] = '/';
		for (unsigned i = 1; i < n; i++)
			p[i] = alphabet[rand() % (int)sizeof(alphabet)];
		p[n] = 0;
		check_path(p);
		if (failed > 10)
			break;
	}
	return CHECK_SUMMARY("test_kf_scan");
}
