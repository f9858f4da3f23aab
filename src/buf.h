/* SPDX-License-Identifier: MIT */
/* A growable byte buffer. Grows only outside the hot path in steady state:
 * callers keep one per sink and reset len instead of freeing. */
#ifndef EG_BUF_H
#define EG_BUF_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct eg_buf {
	char *p;
	size_t len;
	size_t cap;
};

/* Makes room for n more bytes. Returns 0, or -1 when out of memory. */
static inline int eg_buf_reserve(struct eg_buf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

static inline int eg_buf_put(struct eg_buf *b, const void *s, size_t n)
{
	if (eg_buf_reserve(b, n))
		return -1;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

static inline int eg_buf_putc(struct eg_buf *b, char c)
{
	return eg_buf_put(b, &c, 1);
}

static inline int eg_buf_puts(struct eg_buf *b, const char *s)
{
	return eg_buf_put(b, s, strlen(s));
}

static inline void eg_buf_free(struct eg_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

#endif
