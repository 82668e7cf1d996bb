/* A fixed-capacity byte ring: the TCP send buffer (bytes from the oldest
 * unacknowledged one) and receive buffer (in-order bytes the application
 * has not read, followed by out-of-order bytes written ahead at their
 * offset). Storage is allocated once, at init. */
#ifndef FERRY_NET_RING_H
#define FERRY_NET_RING_H

#include <stdint.h>

struct ring {
	uint8_t *buf;
	uint32_t cap;
	uint32_t head;	/* index of the first byte */
	uint32_t len;	/* committed bytes */
};

/* 0 or -ENOMEM. */
int ring_init(struct ring *r, uint32_t cap);
void ring_fini(struct ring *r);
/* Takes buf (cap bytes, the caller's allocation) as the ring's storage. */
void ring_adopt(struct ring *r, uint8_t *buf, uint32_t cap);
/* Hands the storage back (NULL when none) and leaves the ring as
 * ring_fini does, without freeing. */
uint8_t *ring_release(struct ring *r);
static inline uint32_t ring_free(const struct ring *r) { return r->cap - r->len; }
/* Appends up to ring_free bytes; returns how many. */
uint32_t ring_write(struct ring *r, const void *p, uint32_t n);
/* Writes n bytes at off past the committed end without committing them;
 * caller guarantees off + n <= ring_free(r). */
void ring_write_at(struct ring *r, uint32_t off, const void *p, uint32_t n);
/* Makes n bytes written by ring_write_at part of the content. */
void ring_commit(struct ring *r, uint32_t n);
/* Copies n bytes starting off bytes from the head; off + n <= len. */
void ring_peek(const struct ring *r, uint32_t off, void *dst, uint32_t n);
void ring_drop(struct ring *r, uint32_t n);

#endif
