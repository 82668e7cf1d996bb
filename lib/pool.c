/* Fixed-size object pools (see pool.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/pool.h"

#define POOL_ALIGN 64

#if defined(__SANITIZE_ADDRESS__)
#define POOL_PASSTHROUGH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_PASSTHROUGH 1
#endif
#endif

struct fy_pool_chunk {
	struct fy_pool_chunk *next;
	unsigned char pad[POOL_ALIGN - sizeof(void *)];
	unsigned char objs[];
};

void fy_pool_init(struct fy_pool *p, size_t size, unsigned per_chunk)
{
	memset(p, 0, sizeof(*p));
	if (size < sizeof(void *))
		size = sizeof(void *);
	p->size = (size + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
	p->per_chunk = per_chunk ? per_chunk : 64;
}

void fy_pool_fini(struct fy_pool *p)
{
	while (p->chunks) {
		struct fy_pool_chunk *c = p->chunks;

		p->chunks = c->next;
		free(c);
	}
	p->free = NULL;
	p->capacity = 0;
}

#ifdef POOL_PASSTHROUGH
void *fy_pool_alloc(struct fy_pool *p)
{
	void *o = aligned_alloc(POOL_ALIGN, p->size);

	if (o) {
		memset(o, 0, p->size);
		p->in_use++;
	}
	return o;
}

void fy_pool_free(struct fy_pool *p, void *obj)
{
	if (!obj)
		return;
	p->in_use--;
	free(obj);
}
#else
static int grow(struct fy_pool *p)
{
	struct fy_pool_chunk *c = aligned_alloc(POOL_ALIGN, sizeof(*c) +
						p->size * p->per_chunk);

	if (!c)
		return -1;
	c->next = p->chunks;
	p->chunks = c;
	/* Thread the new objects onto the free list, first one on top. */
	for (unsigned i = p->per_chunk; i-- > 0;) {
		void **o = (void **)(c->objs + (size_t)i * p->size);

		*o = p->free;
		p->free = o;
	}
	p->capacity += p->per_chunk;
	return 0;
}

void *fy_pool_alloc(struct fy_pool *p)
{
	void **o;

	if (!p->free && grow(p) < 0)
		return NULL;
	o = p->free;
	p->free = *o;
	memset(o, 0, p->size);
	p->in_use++;
	return o;
}

void fy_pool_free(struct fy_pool *p, void *obj)
{
	void **o = obj;

	if (!o)
		return;
	*o = p->free;
	p->free = o;
	p->in_use--;
}
#endif
