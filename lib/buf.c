/* Bounded byte buffer: allocated on first use at the size asked for (at
 * least FY_BUF_MIN_ALLOC), doubled when it must hold more, never past
 * its cap; so idle streams cost nothing and a stream holding a few
 * kilobytes does not pin a whole window. Bytes slide to the front
 * (memmove) only when the tail runs into the end; there is no ring, so a
 * reader always sees one contiguous run it can hand to send(2) or a TLS
 * write. */
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
	b->size = 0;
	b->cap = cap;
}

void fy_buf_fini(struct fy_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->head = 0;
	b->tail = 0;
	b->size = 0;
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

/* Grows storage so that need bytes fit: doubling, at least the minimum,
 * at most the cap. Compacts first, so realloc copies only live bytes. */
static int grow(struct fy_buf *b, size_t need)
{
	size_t size = b->size ? b->size : FY_BUF_MIN_ALLOC;
	uint8_t *p;

	while (size < need)
		size *= 2;
	if (size > b->cap)
		size = b->cap;
	compact(b);
	p = realloc(b->data, size);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->size = size;
	return 0;
}

uint8_t *fy_buf_reserve(struct fy_buf *b, size_t want)
{
	size_t need = fy_buf_len(b) + want;

	if (want > fy_buf_room(b))
		return NULL;
	/* malloc(0) may return NULL or a pointer we cannot use: a zero
	 * cap simply never holds anything. */
	if (b->cap == 0)
		return NULL;
	if (b->size - b->tail < want || !b->data) {
		if (need <= b->size && b->data)
			compact(b);
		else if (grow(b, need) < 0)
			return NULL;
	}
	return b->data + b->tail;
}

void fy_buf_commit(struct fy_buf *b, size_t n)
{
	assert(b->data && n <= b->size - b->tail);
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
	b->size = 0;
}
