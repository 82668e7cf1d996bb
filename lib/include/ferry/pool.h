/* A free list of fixed-size objects for one owner thread: objects come
 * from chunks allocated many at a time and return to the list when freed,
 * so an event loop does not call malloc and free for every stream and
 * connection. Objects are zeroed on allocation and aligned to 64 bytes
 * (their size is rounded up to it), so two never share a cache line.
 * Chunks are released at fini: a pool keeps the memory of its busiest
 * moment, as a DPDK mempool does.
 *
 * Not thread-safe: only the owner allocates and frees. Under
 * AddressSanitizer every object is its own allocation, so a use after
 * free is still caught.
 *
 * Ownership: the owner of the struct; fini frees every chunk, so every
 * object must have been freed before. */
#ifndef FERRY_POOL_H
#define FERRY_POOL_H

#include <stddef.h>

struct fy_pool_chunk;

struct fy_pool {
	size_t size;			/* object size, rounded to 64 */
	unsigned per_chunk;
	void *free;			/* free objects, linked through their first bytes */
	struct fy_pool_chunk *chunks;
	size_t in_use;			/* allocated, not yet freed */
	size_t capacity;		/* objects in all chunks */
};

void fy_pool_init(struct fy_pool *p, size_t size, unsigned per_chunk);
void fy_pool_fini(struct fy_pool *p);
/* A zeroed object, or NULL when memory ran out. */
void *fy_pool_alloc(struct fy_pool *p);
void fy_pool_free(struct fy_pool *p, void *obj);

#endif
