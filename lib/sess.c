/* Session table: open addressing with linear probing.
 *
 * Linear probing keeps a lookup on one or two cache lines. Removal leaves
 * a tombstone so that probe chains running through the slot stay intact;
 * tombstones count towards the load factor, and once they outnumber live
 * entries the table is rebuilt at the same size instead of doubled, so a
 * worker that opens and closes streams all day keeps a table sized for
 * its live streams. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/* XXH3 compiled in (the header is the whole library): the agent, which
 * hashes only through libferry, then needs no libxxhash.so, one mapped
 * library fewer (issue 10). The relay links libxxhash for its own uses. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <ferry/sess.h>

struct fy_sess_slot {
	uint64_t key;
	void *val;		/* NULL: empty; tomb(): removed */
};

#define MIN_CAPACITY	16u
/* Load factor 7/10: linear probing degrades quickly above ~0.8. */
#define LOAD_NUM	7u
#define LOAD_DEN	10u

/* Its address marks a removed slot; no caller can hold that pointer. */
static const char tomb_mark;

static inline void *tomb(void)
{
	return (void *)(uintptr_t)&tomb_mark;
}

static inline size_t hash(uint64_t key)
{
	/* Keys are (tunnel, stream) pairs: sequential and low in entropy,
	 * which is exactly what a plain mask would cluster on. */
	return (size_t)XXH3_64bits(&key, sizeof(key));
}

static inline int over_load(size_t used, size_t cap)
{
	return used > cap / LOAD_DEN * LOAD_NUM + cap % LOAD_DEN * LOAD_NUM / LOAD_DEN;
}

/* Smallest power of two that holds n live entries under the load factor. */
static int capacity_for(size_t n, size_t *out)
{
	size_t cap = MIN_CAPACITY;

	while (over_load(n, cap)) {
		if (cap > SIZE_MAX / 2 / sizeof(struct fy_sess_slot))
			return -ENOMEM;
		cap *= 2;
	}
	*out = cap;
	return 0;
}

/* First empty slot on key's chain; only valid in a table with no
 * tombstones and no copy of key (i.e. while rebuilding). */
static struct fy_sess_slot *empty_slot(struct fy_sess_slot *slots, size_t mask,
				       uint64_t key)
{
	size_t i = hash(key) & mask;

	while (slots[i].val)
		i = (i + 1) & mask;
	return &slots[i];
}

/* Moves the live entries into a fresh array of cap slots, dropping the
 * tombstones. On failure the table is unchanged. */
static int rebuild(struct fy_sess_table *t, size_t cap)
{
	struct fy_sess_slot *slots = calloc(cap, sizeof(*slots));
	size_t old_cap = t->mask + 1;

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < old_cap; i++) {
		struct fy_sess_slot *s = &t->slots[i];

		if (s->val && s->val != tomb())
			*empty_slot(slots, cap - 1, s->key) = *s;
	}
	free(t->slots);
	t->slots = slots;
	t->mask = cap - 1;
	t->used = t->count;
	return 0;
}

int fy_sess_init(struct fy_sess_table *t, size_t capacity_hint)
{
	size_t cap;

	t->slots = NULL;
	t->mask = 0;
	t->count = 0;
	t->used = 0;
	if (capacity_for(capacity_hint, &cap) < 0)
		return -ENOMEM;
	t->slots = calloc(cap, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->mask = cap - 1;
	return 0;
}

void fy_sess_fini(struct fy_sess_table *t)
{
	free(t->slots);
	t->slots = NULL;
	t->mask = 0;
	t->count = 0;
	t->used = 0;
}

/* Live slot holding key, or NULL. */
static struct fy_sess_slot *find(const struct fy_sess_table *t, uint64_t key)
{
	size_t i = hash(key) & t->mask;

	/* Terminates: the load factor guarantees an empty slot. */
	for (;;) {
		struct fy_sess_slot *s = &t->slots[i];

		if (!s->val)
			return NULL;
		if (s->val != tomb() && s->key == key)
			return s;
		i = (i + 1) & t->mask;
	}
}

int fy_sess_insert(struct fy_sess_table *t, uint64_t key, void *val)
{
	struct fy_sess_slot *reuse = NULL;
	size_t i;
	int r;

	if (!val)
		return -EINVAL;

	/* Walk the whole chain: the key may sit past a tombstone. */
	for (i = hash(key) & t->mask; t->slots[i].val; i = (i + 1) & t->mask) {
		struct fy_sess_slot *s = &t->slots[i];

		if (s->val == tomb()) {
			if (!reuse)
				reuse = s;
		} else if (s->key == key) {
			return -EEXIST;
		}
	}

	if (reuse) {
		/* Takes a tombstone's place: used does not change. */
		reuse->key = key;
		reuse->val = val;
		t->count++;
		return 0;
	}

	if (over_load(t->used + 1, t->mask + 1)) {
		size_t cap = t->mask + 1;
		size_t tombs = t->used - t->count;

		/* Mostly tombstones: same size suffices. Otherwise double. */
		if (tombs < t->count) {
			if (cap > SIZE_MAX / 2 / sizeof(struct fy_sess_slot))
				return -ENOMEM;
			cap *= 2;
		}
		r = rebuild(t, cap);
		if (r < 0)
			return r;
		i = (size_t)(empty_slot(t->slots, t->mask, key) - t->slots);
	}

	t->slots[i].key = key;
	t->slots[i].val = val;
	t->count++;
	t->used++;
	return 0;
}

void *fy_sess_lookup(const struct fy_sess_table *t, uint64_t key)
{
	struct fy_sess_slot *s = find(t, key);

	return s ? s->val : NULL;
}

void *fy_sess_remove(struct fy_sess_table *t, uint64_t key)
{
	struct fy_sess_slot *s = find(t, key);
	void *val;
	size_t i;

	if (!s)
		return NULL;
	val = s->val;
	s->val = tomb();
	t->count--;

	/* A tombstone just before an empty slot ends no chain that anything
	 * lies beyond: turn it, and any tombstones before it, back into
	 * empty slots. Under steady churn this frees most of them at once. */
	i = (size_t)(s - t->slots);
	if (!t->slots[(i + 1) & t->mask].val) {
		while (t->slots[i].val == tomb()) {
			t->slots[i].val = NULL;
			t->used--;
			i = (i - 1) & t->mask;
		}
	}
	return val;
}
