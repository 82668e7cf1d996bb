/* A contiguous byte buffer with a read head and a write tail.
 * Owner: whoever embeds it; fy_buf_fini releases the storage.
 * Storage is allocated once up to `cap` bytes (lazily, on first reserve)
 * and never grows past it: that cap is what bounds memory per stream
 * and per tunnel. */
#ifndef FERRY_BUF_H
#define FERRY_BUF_H

#include <stddef.h>
#include <stdint.h>

struct fy_buf {
	uint8_t *data;
	size_t head;	/* first unread byte */
	size_t tail;	/* one past last written byte */
	size_t cap;	/* size of data once allocated */
};

void fy_buf_init(struct fy_buf *b, size_t cap);
void fy_buf_fini(struct fy_buf *b);

static inline size_t fy_buf_len(const struct fy_buf *b) { return b->tail - b->head; }
static inline const uint8_t *fy_buf_peek(const struct fy_buf *b) { return b->data + b->head; }
/* Bytes that can still be appended (after compaction). */
static inline size_t fy_buf_room(const struct fy_buf *b) { return b->cap - fy_buf_len(b); }

/* Makes at least `want` contiguous bytes writable at the tail (compacting
 * or allocating as needed); returns a pointer to them, or NULL when the
 * cap does not allow it or allocation fails. */
uint8_t *fy_buf_reserve(struct fy_buf *b, size_t want);
/* Marks n bytes written after a reserve. */
void fy_buf_commit(struct fy_buf *b, size_t n);
/* Appends; returns 0 or -ENOBUFS when it does not fit (nothing written). */
int fy_buf_append(struct fy_buf *b, const void *p, size_t n);
/* Drops n bytes from the head. */
void fy_buf_consume(struct fy_buf *b, size_t n);
/* Frees storage when empty (idle streams keep no memory). */
void fy_buf_shrink(struct fy_buf *b);

#endif
