/* Bounded byte buffer: one allocation of exactly `cap` bytes, made on
 * first use, so that idle streams cost nothing and busy ones cost at
 * most their cap. Bytes slide to the front (memmove) only when the tail
 * runs into the end; there is no ring, so a reader always sees one
 * contiguous run it can hand to send(2) or a TLS write. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ferry/buf.h>

void fy_buf_init(struct fy_buf *b, size_t cap)
{
	b->data = NULL;
	b->head = 0;
	b->tail = 0;
	b->cap = cap;
}

void fy_buf_fini(struct fy_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->head = 0;
	b->tail = 0;
}

static void compact(struct fy_buf *b)
{
	size_t n = fy_buf_len(b);

	if (b->head == 0)
		return;
	memmove(b->data, b->data + b->head, n);
	b->head = 0;
	b->tail = n;
}

uint8_t *fy_buf_reserve(struct fy_buf *b, size_t want)
{
	if (want > fy_buf_room(b))
		return NULL;
	if (!b->data) {
		/* malloc(0) may return NULL or a pointer we cannot use:
		 * a zero cap simply never holds anything. */
		if (b->cap == 0)
			return NULL;
		b->data = malloc(b->cap);
		if (!b->data)
			return NULL;
	}
	if (b->cap - b->tail < want)
		compact(b);
	return b->data + b->tail;
}

void fy_buf_commit(struct fy_buf *b, size_t n)
{
	assert(b->data && n <= b->cap - b->tail);
	b->tail += n;
}

int fy_buf_append(struct fy_buf *b, const void *p, size_t n)
{
	uint8_t *dst;

	/* Nothing to store: do not allocate for it. */
	if (n == 0)
		return 0;
	dst = fy_buf_reserve(b, n);
	if (!dst)
		return n > fy_buf_room(b) ? -ENOBUFS : -ENOMEM;
	memcpy(dst, p, n);
	b->tail += n;
	return 0;
}

void fy_buf_consume(struct fy_buf *b, size_t n)
{
	assert(n <= fy_buf_len(b));
	b->head += n;
	/* Drained: restart at the front for free instead of memmoving later. */
	if (b->head == b->tail) {
		b->head = 0;
		b->tail = 0;
	}
}

void fy_buf_shrink(struct fy_buf *b)
{
	if (fy_buf_len(b) != 0)
		return;
	free(b->data);
	b->data = NULL;
	b->head = 0;
	b->tail = 0;
}
