/* Byte ring: two memcpy calls at most per operation (the wrap). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

int ring_init(struct ring *r, uint32_t cap)
{
	r->buf = malloc(cap ? cap : 1);
	r->cap = cap;
	r->head = 0;
	r->len = 0;
	return r->buf ? 0 : -ENOMEM;
}

void ring_fini(struct ring *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->len = r->head = 0;
}

void ring_adopt(struct ring *r, uint8_t *buf, uint32_t cap)
{
	r->buf = buf;
	r->cap = cap;
	r->head = r->len = 0;
}

uint8_t *ring_release(struct ring *r)
{
	uint8_t *b = r->buf;

	r->buf = NULL;
	r->cap = r->len = r->head = 0;
	return b;
}

static void copy_in(struct ring *r, uint32_t pos, const uint8_t *p, uint32_t n)
{
	uint32_t first = r->cap - pos;

	if (first > n)
		first = n;
	memcpy(r->buf + pos, p, first);
	memcpy(r->buf, p + first, n - first);
}

static uint32_t wrap(const struct ring *r, uint64_t i)
{
	return (uint32_t)(i % r->cap);
}

void ring_write_at(struct ring *r, uint32_t off, const void *p, uint32_t n)
{
	if (n)
		copy_in(r, wrap(r, (uint64_t)r->head + r->len + off), p, n);
}

void ring_commit(struct ring *r, uint32_t n)
{
	r->len += n;
}

uint32_t ring_write(struct ring *r, const void *p, uint32_t n)
{
	if (n > ring_free(r))
		n = ring_free(r);
	ring_write_at(r, 0, p, n);
	r->len += n;
	return n;
}

void ring_peek(const struct ring *r, uint32_t off, void *dst, uint32_t n)
{
	uint32_t pos, first;

	if (!n)
		return;
	pos = wrap(r, (uint64_t)r->head + off);
	first = r->cap - pos;
	if (first > n)
		first = n;
	memcpy(dst, r->buf + pos, first);
	memcpy((uint8_t *)dst + first, r->buf, n - first);
}

void ring_drop(struct ring *r, uint32_t n)
{
	r->head = wrap(r, (uint64_t)r->head + n);
	r->len -= n;
	/* head is not reset when empty: bytes written ahead of the end (TCP
	 * out-of-order data) are addressed from it. */
}
