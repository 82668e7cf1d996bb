/* A contiguous byte buffer with a read head and a write tail.
 * Owner: whoever embeds it; fy_buf_fini releases the storage.
 * Storage is allocated on first use and grows (doubling) with what is
 * held, never past `cap`: that cap bounds memory per stream and per
 * tunnel, and a buffer that holds little costs little. */
#ifndef FERRY_BUF_H
#define FERRY_BUF_H

#include <stddef.h>
#include <stdint.h>

/* Smallest allocation: one read(2) or one TLS record fits. */
#define FY_BUF_MIN_ALLOC 16384u

struct fy_buf {
	uint8_t *data;
	size_t head;	/* first unread byte */
	size_t tail;	/* one past last written byte */
	size_t size;	/* bytes allocated at data (0 when none) */
	size_t cap;	/* size never grows past this */
};

void fy_buf_init(struct fy_buf *b, size_t cap);
void fy_buf_fini(struct fy_buf *b);

static inline size_t fy_buf_len(const struct fy_buf *b) { return b->tail - b->head; }
static inline const uint8_t *fy_buf_peek(const struct fy_buf *b) { return b->data + b->head; }
/* Bytes that can still be appended (after compaction or growth). */
static inline size_t fy_buf_room(const struct fy_buf *b) { return b->cap - fy_buf_len(b); }

/* Makes at least `want` contiguous bytes writable at the tail (compacting,
 * allocating or growing as needed); returns a pointer to them, or NULL
 * when the cap does not allow it or allocation fails. The pointer and any
 * earlier fy_buf_peek() are valid until the next reserve or append. */
uint8_t *fy_buf_reserve(struct fy_buf *b, size_t want);
/* Marks n bytes written after a reserve. */
void fy_buf_commit(struct fy_buf *b, size_t n);
/* Appends; 0, -ENOBUFS when it does not fit under the cap, -ENOMEM when
 * the allocation failed (nothing written either way). */
int fy_buf_append(struct fy_buf *b, const void *p, size_t n);
/* Drops n bytes from the head. */
void fy_buf_consume(struct fy_buf *b, size_t n);
/* Frees storage when empty (idle streams keep no memory). */
void fy_buf_shrink(struct fy_buf *b);

#endif
