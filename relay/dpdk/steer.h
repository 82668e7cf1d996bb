/* An lcore's steering table (DPDK backend, backend.c): the client flows
 * that arrive on this lcore's RX queue but are served by another lcore,
 * keyed by 4-tuple (remote address and port, our port: the local address
 * is the port's one). Touched only by its own lcore: no locks. Open
 * addressing with linear probing over at least twice `cap` slots (XXH3,
 * seeded, so a client cannot aim at one run of slots), deletion by
 * backward shift (no tombstones). Plain C, no DPDK: unit-tested alone
 * (tests/unit/steer_test.c). */
#ifndef FERRY_DPDK_STEER_H
#define FERRY_DPDK_STEER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

struct steer_entry {
	uint64_t key;		/* steer_key() */
	uint32_t gen;		/* the tag of the latest segment handed over */
	uint16_t owner;		/* the worker that holds the connection */
	uint16_t used;
};

struct steer_table {
	struct steer_entry *slot;
	uint32_t mask;		/* slots - 1 */
	uint32_t n, cap;
	uint64_t seed;
};

static inline uint64_t steer_key(uint32_t rip, uint16_t rport, uint16_t lport)
{
	return (uint64_t)rip << 32 | (uint64_t)rport << 16 | lport;
}

/* 0, or -1 without memory. */
static inline int steer_init(struct steer_table *t, uint32_t cap, uint64_t seed)
{
	uint32_t slots = 16;

	while (slots < 2 * (uint64_t)cap)
		slots <<= 1;
	memset(t, 0, sizeof(*t));
	t->slot = calloc(slots, sizeof(*t->slot));
	if (!t->slot)
		return -1;
	t->mask = slots - 1;
	t->cap = cap;
	t->seed = seed;
	return 0;
}

static inline void steer_fini(struct steer_table *t)
{
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

static inline uint32_t steer_home(const struct steer_table *t, uint64_t key)
{
	return (uint32_t)XXH3_64bits_withSeed(&key, sizeof(key), t->seed) & t->mask;
}

static inline struct steer_entry *steer_find(struct steer_table *t, uint64_t key)
{
	if (!t->n)
		return NULL;
	for (uint32_t i = steer_home(t, key);; i = (i + 1) & t->mask) {
		struct steer_entry *e = &t->slot[i];

		if (!e->used)
			return NULL;
		if (e->key == key)
			return e;
	}
}

/* The entry of key, new (used, gen and owner 0) when there was none; NULL
 * when there was none and the table holds cap entries. */
static inline struct steer_entry *steer_add(struct steer_table *t, uint64_t key)
{
	struct steer_entry *e = steer_find(t, key);
	uint32_t i;

	if (e)
		return e;
	if (t->n >= t->cap)
		return NULL;
	for (i = steer_home(t, key); t->slot[i].used; i = (i + 1) & t->mask)
		;
	e = &t->slot[i];
	e->key = key;
	e->gen = 0;
	e->owner = 0;
	e->used = 1;
	t->n++;
	return e;
}

/* Removes e; the entries after it in its run move back so that every one
 * stays reachable from its home slot. Moves entries: pointers into the
 * table are stale afterwards. */
static inline void steer_remove(struct steer_table *t, struct steer_entry *e)
{
	uint32_t i = (uint32_t)(e - t->slot), j = i;

	for (;;) {
		uint32_t k;

		t->slot[i].used = 0;
		for (;;) {
			j = (j + 1) & t->mask;
			if (!t->slot[j].used) {
				t->n--;
				return;
			}
			k = steer_home(t, t->slot[j].key);
			/* j's entry stays when its home lies cyclically in (i, j]. */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		t->slot[i] = t->slot[j];
		i = j;
	}
}

/* The owner says the connection of key is gone after the segment tagged
 * gen: removes the entry when that was the latest segment handed over
 * (a later one may have opened the flow again). true when removed. */
static inline bool steer_forget(struct steer_table *t, uint64_t key, uint32_t gen)
{
	struct steer_entry *e = steer_find(t, key);

	if (!e || e->gen != gen)
		return false;
	steer_remove(t, e);
	return true;
}

#endif
