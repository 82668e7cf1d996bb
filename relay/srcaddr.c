/* Per source address state (see srcaddr.h).
 *
 * A slot is claimed with a compare-and-swap of its key from 0, and taken
 * back by the sweep with a compare-and-swap to SRC_BUSY, only while it
 * holds no connection. A holder increments first and then checks the key
 * is still its own, so a sweep that raced it either sees the count and
 * restores the key, or the holder sees BUSY, undoes and probes on. */
#include <string.h>
#include <netinet/in.h>

#include <xxhash.h>

#include "srcaddr.h"

#define SRC_BUSY UINT64_MAX

void src_init(struct src_table *t, uint64_t seed)
{
	memset(t, 0, sizeof(*t));
	t->seed = seed;
}

uint64_t src_key(const struct src_table *t, const struct sockaddr_storage *ss)
{
	uint8_t k[9] = { 0 };
	uint64_t h;

	if (ss->ss_family == AF_INET) {
		k[0] = 4;
		memcpy(k + 1, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else {
		k[0] = 6;
		memcpy(k + 1, &((const struct sockaddr_in6 *)ss)->sin6_addr, 8);	/* the /64 */
	}
	h = XXH3_64bits_withSeed(k, sizeof(k), t->seed);
	return h == 0 || h == SRC_BUSY ? 1 : h;
}

static unsigned home_of(uint64_t key)
{
	return (unsigned)(key % SRC_SLOTS);
}

static int find(struct src_table *t, uint64_t key)
{
	unsigned h = home_of(key);

	for (unsigned i = 0; i < SRC_PROBES; i++) {
		unsigned s = (h + i) % SRC_SLOTS;

		if (atomic_load(&t->slot[s].key) == key)
			return (int)s;
	}
	return -1;
}

/* A hold on slot s if it is key's: true, with the count. */
static bool hold_if(struct src_slot *sl, uint64_t key, unsigned *count)
{
	unsigned n = atomic_fetch_add(&sl->unauth, 1) + 1;

	if (atomic_load(&sl->key) == key) {
		*count = n;
		return true;
	}
	atomic_fetch_sub(&sl->unauth, 1);
	return false;
}

int src_hold(struct src_table *t, uint64_t key, unsigned *count)
{
	unsigned h = home_of(key);
	int s = find(t, key);

	if (s >= 0 && hold_if(&t->slot[s], key, count))
		return s;
	for (unsigned i = 0; i < SRC_PROBES; i++) {
		struct src_slot *sl = &t->slot[(h + i) % SRC_SLOTS];
		uint64_t cur = 0;

		if (!atomic_compare_exchange_strong(&sl->key, &cur, key) && cur != key)
			continue;
		/* Ours: just claimed, or claimed by a racing holder of key. */
		if (hold_if(sl, key, count))
			return (int)((h + i) % SRC_SLOTS);
	}
	atomic_fetch_add_explicit(&t->untracked, 1, memory_order_relaxed);
	*count = 1;
	return -1;
}

void src_release(struct src_table *t, int slot)
{
	if (slot >= 0)
		atomic_fetch_sub(&t->slot[slot].unauth, 1);
}

bool src_refused(struct src_table *t, uint64_t key, uint64_t now)
{
	int s = find(t, key);

	return s >= 0 && now < atomic_load(&t->slot[s].blocked_until_ms);
}

bool src_failed(struct src_table *t, int slot, uint64_t now)
{
	struct src_slot *sl;

	if (slot < 0)
		return false;
	sl = &t->slot[slot];
	if (now - atomic_load(&sl->fail_start_ms) >= AUTH_FAIL_WINDOW_MS) {
		atomic_store(&sl->fail_start_ms, now);
		atomic_store(&sl->fails, 0);
	}
	if (atomic_fetch_add(&sl->fails, 1) + 1 != AUTH_FAIL_BURST)
		return false;
	atomic_store(&sl->blocked_until_ms, now + AUTH_TARPIT_MS);
	return true;
}

unsigned src_sweep(struct src_table *t, unsigned from, unsigned n, uint64_t now)
{
	for (unsigned i = 0; i < n; i++, from = (from + 1) % SRC_SLOTS) {
		struct src_slot *sl = &t->slot[from];
		uint64_t key = atomic_load(&sl->key);

		if (key == 0 || key == SRC_BUSY || atomic_load(&sl->unauth) ||
		    now < atomic_load(&sl->blocked_until_ms) ||
		    now - atomic_load(&sl->fail_start_ms) < AUTH_FAIL_WINDOW_MS)
			continue;
		if (!atomic_compare_exchange_strong(&sl->key, &key, SRC_BUSY))
			continue;
		if (atomic_load(&sl->unauth)) {		/* a holder came in: keep it */
			atomic_store(&sl->key, key);
			continue;
		}
		atomic_store(&sl->fails, 0);
		atomic_store(&sl->fail_start_ms, 0);
		atomic_store(&sl->blocked_until_ms, 0);
		atomic_store(&sl->key, 0);
	}
	return from;
}
