/* Session table: 64-bit key -> pointer, open addressing, keys hashed with
 * XXH3. One per worker, touched only by that worker: no locks.
 * The table borrows values; it never frees them. */
#ifndef FERRY_SESS_H
#define FERRY_SESS_H

#include <stddef.h>
#include <stdint.h>

struct fy_sess_slot;

struct fy_sess_table {
	struct fy_sess_slot *slots;
	size_t mask;		/* capacity - 1, capacity a power of two */
	size_t count;		/* live entries */
	size_t used;		/* live + tombstones */
};

/* Key for a stream: which tunnel (a per-worker serial) and stream id. */
static inline uint64_t fy_sess_key(uint32_t tunnel, uint32_t stream)
{
	return ((uint64_t)tunnel << 32) | stream;
}

int fy_sess_init(struct fy_sess_table *t, size_t capacity_hint);
void fy_sess_fini(struct fy_sess_table *t);
/* 0, -EEXIST when the key is present, -ENOMEM. val must not be NULL. */
int fy_sess_insert(struct fy_sess_table *t, uint64_t key, void *val);
void *fy_sess_lookup(const struct fy_sess_table *t, uint64_t key);
/* Returns the removed value, or NULL if absent. */
void *fy_sess_remove(struct fy_sess_table *t, uint64_t key);
static inline size_t fy_sess_count(const struct fy_sess_table *t) { return t->count; }

#endif
