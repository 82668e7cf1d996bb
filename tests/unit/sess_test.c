/* Session table: basic operations, growth past 100k entries, and long
 * insert/remove churn (tombstones) checked against a reference array. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include <ferry/sess.h>

#include "cu_run.h"

/* Values are never dereferenced by the table: any non-NULL pointer will
 * do, and one derived from the index tells us which entry came back. */
static void *val_of(size_t i)
{
	return (void *)(uintptr_t)(i * 16 + 16);
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void test_basic(void)
{
	struct fy_sess_table t;
	int a, b, c;

	CU_ASSERT_EQUAL_FATAL(fy_sess_init(&t, 0), 0);
	CU_ASSERT_EQUAL(fy_sess_count(&t), 0);
	CU_ASSERT_PTR_NULL(fy_sess_lookup(&t, 1));
	CU_ASSERT_PTR_NULL(fy_sess_remove(&t, 1));

	CU_ASSERT_EQUAL(fy_sess_insert(&t, fy_sess_key(1, 2), &a), 0);
	CU_ASSERT_EQUAL(fy_sess_insert(&t, fy_sess_key(2, 1), &b), 0);
	/* Key 0 and the all-ones key are ordinary keys. */
	CU_ASSERT_EQUAL(fy_sess_insert(&t, 0, &c), 0);
	CU_ASSERT_EQUAL(fy_sess_insert(&t, UINT64_MAX, &a), 0);
	CU_ASSERT_EQUAL(fy_sess_count(&t), 4);

	CU_ASSERT_PTR_EQUAL(fy_sess_lookup(&t, fy_sess_key(1, 2)), &a);
	CU_ASSERT_PTR_EQUAL(fy_sess_lookup(&t, fy_sess_key(2, 1)), &b);
	CU_ASSERT_PTR_EQUAL(fy_sess_lookup(&t, 0), &c);
	CU_ASSERT_PTR_EQUAL(fy_sess_lookup(&t, UINT64_MAX), &a);
	CU_ASSERT_PTR_NULL(fy_sess_lookup(&t, fy_sess_key(1, 1)));

	/* Present key: -EEXIST, and the old value stays. */
	CU_ASSERT_EQUAL(fy_sess_insert(&t, fy_sess_key(1, 2), &b), -EEXIST);
	CU_ASSERT_PTR_EQUAL(fy_sess_lookup(&t, fy_sess_key(1, 2)), &a);
	CU_ASSERT_EQUAL(fy_sess_count(&t), 4);
	/* NULL is the empty marker, so it cannot be a value. */
	CU_ASSERT_EQUAL(fy_sess_insert(&t, 77, NULL), -EINVAL);
	CU_ASSERT_EQUAL(fy_sess_count(&t), 4);

	CU_ASSERT_PTR_EQUAL(fy_sess_remove(&t, fy_sess_key(1, 2)), &a);
	CU_ASSERT_PTR_NULL(fy_sess_remove(&t, fy_sess_key(1, 2)));
	CU_ASSERT_PTR_NULL(fy_sess_lookup(&t, fy_sess_key(1, 2)));
	CU_ASSERT_EQUAL(fy_sess_count(&t), 3);
	/* Re-insert after remove. */
	CU_ASSERT_EQUAL(fy_sess_insert(&t, fy_sess_key(1, 2), &c), 0);
	CU_ASSERT_PTR_EQUAL(fy_sess_lookup(&t, fy_sess_key(1, 2)), &c);
	CU_ASSERT_EQUAL(fy_sess_count(&t), 4);
	fy_sess_fini(&t);
	CU_ASSERT_PTR_NULL(t.slots);
}

static void test_init_hint(void)
{
	struct fy_sess_table t;

	/* The hint sizes the table so that many entries fit without growth. */
	CU_ASSERT_EQUAL_FATAL(fy_sess_init(&t, 1000), 0);
	CU_ASSERT((t.mask + 1) * 7 / 10 >= 1000);
	CU_ASSERT_EQUAL((t.mask + 1) & t.mask, 0);	/* power of two */
	fy_sess_fini(&t);

	CU_ASSERT_EQUAL(fy_sess_init(&t, SIZE_MAX), -ENOMEM);
	CU_ASSERT_PTR_NULL(t.slots);
	fy_sess_fini(&t);	/* safe after a failed init */
}

/* Sequential stream ids on a few tunnels: the shape of real keys, and
 * the worst case for a weak hash. */
static void test_growth(void)
{
	enum { N = 150000, TUNNELS = 3 };
	struct fy_sess_table t;

	CU_ASSERT_EQUAL_FATAL(fy_sess_init(&t, 16), 0);
	for (size_t i = 0; i < N; i++) {
		uint64_t k = fy_sess_key((uint32_t)(i % TUNNELS), (uint32_t)(i / TUNNELS) * 2 + 1);

		CU_ASSERT_EQUAL_FATAL(fy_sess_insert(&t, k, val_of(i)), 0);
	}
	CU_ASSERT_EQUAL(fy_sess_count(&t), N);
	CU_ASSERT(t.mask + 1 >= N);
	CU_ASSERT(t.used * 10 <= (t.mask + 1) * 7);
	for (size_t i = 0; i < N; i++) {
		uint64_t k = fy_sess_key((uint32_t)(i % TUNNELS), (uint32_t)(i / TUNNELS) * 2 + 1);

		CU_ASSERT_PTR_EQUAL_FATAL(fy_sess_lookup(&t, k), val_of(i));
		/* Even stream ids were never inserted. */
		CU_ASSERT_PTR_NULL_FATAL(fy_sess_lookup(&t, k + 1));
	}
	/* Remove every other entry; the rest stay reachable. */
	for (size_t i = 0; i < N; i += 2) {
		uint64_t k = fy_sess_key((uint32_t)(i % TUNNELS), (uint32_t)(i / TUNNELS) * 2 + 1);

		CU_ASSERT_PTR_EQUAL_FATAL(fy_sess_remove(&t, k), val_of(i));
	}
	CU_ASSERT_EQUAL(fy_sess_count(&t), N / 2);
	for (size_t i = 0; i < N; i++) {
		uint64_t k = fy_sess_key((uint32_t)(i % TUNNELS), (uint32_t)(i / TUNNELS) * 2 + 1);

		CU_ASSERT_PTR_EQUAL_FATAL(fy_sess_lookup(&t, k), i % 2 ? val_of(i) : NULL);
	}
	fy_sess_fini(&t);
}

/* Random inserts and removes over a small key universe, so keys come and
 * go many times and tombstones pile up; every step is mirrored in a
 * reference array, and the whole universe is checked periodically. */
static void test_churn_vs_reference(void)
{
	enum { KEYS = 4096, ROUNDS = 1000000, CHECK_EVERY = 50000 };
	static uint64_t keys[KEYS];
	static unsigned char present[KEYS];
	struct fy_sess_table t;
	uint64_t seed = 7;
	size_t live = 0, max_cap = 0;

	for (size_t i = 0; i < KEYS; i++)
		keys[i] = i < KEYS / 2 ? rng_next(&seed) : fy_sess_key(1, (uint32_t)i);
	memset(present, 0, sizeof(present));
	CU_ASSERT_EQUAL_FATAL(fy_sess_init(&t, 0), 0);

	for (unsigned r = 0; r < ROUNDS; r++) {
		uint64_t x = rng_next(&seed);
		size_t i = (size_t)(x % KEYS);
		/* Bias towards removal once the table is half full, so the
		 * live count swings instead of saturating. */
		int insert = (x >> 32) % 100 < (live < KEYS / 2 ? 60u : 40u);

		if (insert) {
			int rc = fy_sess_insert(&t, keys[i], val_of(i));

			CU_ASSERT_EQUAL_FATAL(rc, present[i] ? -EEXIST : 0);
			if (!present[i]) {
				present[i] = 1;
				live++;
			}
		} else {
			void *v = fy_sess_remove(&t, keys[i]);

			CU_ASSERT_PTR_EQUAL_FATAL(v, present[i] ? val_of(i) : NULL);
			if (present[i]) {
				present[i] = 0;
				live--;
			}
		}
		CU_ASSERT_EQUAL_FATAL(fy_sess_count(&t), live);
		if (t.mask + 1 > max_cap)
			max_cap = t.mask + 1;

		if (r % CHECK_EVERY == 0 || r == ROUNDS - 1) {
			for (size_t k = 0; k < KEYS; k++)
				CU_ASSERT_PTR_EQUAL_FATAL(fy_sess_lookup(&t, keys[k]),
							  present[k] ? val_of(k) : NULL);
			CU_ASSERT(t.used >= t.count);
			CU_ASSERT(t.used * 10 <= (t.mask + 1) * 7);
		}
	}
	/* Tombstones were recycled rather than driving growth: the table
	 * never needs more than the size for all KEYS at 70% load. */
	CU_ASSERT(max_cap <= 8192);

	/* Drain completely; the table ends empty and still works. */
	for (size_t k = 0; k < KEYS; k++)
		if (present[k])
			CU_ASSERT_PTR_EQUAL(fy_sess_remove(&t, keys[k]), val_of(k));
	CU_ASSERT_EQUAL(fy_sess_count(&t), 0);
	for (size_t k = 0; k < KEYS; k++)
		CU_ASSERT_PTR_NULL_FATAL(fy_sess_lookup(&t, keys[k]));
	CU_ASSERT_EQUAL(fy_sess_insert(&t, keys[0], val_of(0)), 0);
	CU_ASSERT_PTR_EQUAL(fy_sess_lookup(&t, keys[0]), val_of(0));
	fy_sess_fini(&t);
}

/* A stream lifecycle pattern: a window of live ids sliding forward, as
 * streams open with increasing ids and close in order. With a fixed live
 * count the table must stay small however many ids pass through. */
static void test_sliding_window(void)
{
	enum { LIVE = 500, TOTAL = 400000 };
	struct fy_sess_table t;

	CU_ASSERT_EQUAL_FATAL(fy_sess_init(&t, 0), 0);
	for (uint32_t id = 1; id <= TOTAL; id++) {
		CU_ASSERT_EQUAL_FATAL(fy_sess_insert(&t, fy_sess_key(9, id), val_of(id)), 0);
		if (id > LIVE)
			CU_ASSERT_PTR_EQUAL_FATAL(fy_sess_remove(&t, fy_sess_key(9, id - LIVE)),
						  val_of(id - LIVE));
	}
	CU_ASSERT_EQUAL(fy_sess_count(&t), LIVE);
	/* 1024 slots hold 500 at 70%; the table may double once while the
	 * tombstones are still outnumbered, and then only rebuilds in place. */
	CU_ASSERT(t.mask + 1 <= 2048);
	for (uint32_t id = 1; id <= TOTAL; id++)
		CU_ASSERT_PTR_EQUAL_FATAL(fy_sess_lookup(&t, fy_sess_key(9, id)),
					  id > TOTAL - LIVE ? val_of(id) : NULL);
	fy_sess_fini(&t);
}

/* White-box: the table hashes the 8 key bytes with XXH3 and masks, so
 * the test can build keys that land on one home slot and lay out a
 * cluster on purpose. Returns the next key >= *from with that home. */
static uint64_t key_at(uint64_t *from, size_t mask, size_t home)
{
	for (;; (*from)++) {
		uint64_t k = *from;

		if ((XXH3_64bits(&k, sizeof(k)) & mask) == home) {
			(*from)++;
			return k;
		}
	}
}

/* Tombstones that nothing sweeps away: one cluster, emptied from its
 * front. Lookups must probe through them (across the end of the array),
 * an insert reuses one, and the next insert that would cross 70% rebuilds
 * at the same size because tombstones now outnumber live entries. */
static void test_tombstone_rebuild(void)
{
	enum { FILL = 716, DROP = 615, HOME = 1000 };
	static uint64_t keys[FILL];
	struct fy_sess_table t;
	uint64_t from = 1;
	uint64_t extra, other;

	CU_ASSERT_EQUAL_FATAL(fy_sess_init(&t, 700), 0);
	CU_ASSERT_EQUAL_FATAL(t.mask, 1023);	/* 716 = 70% of 1024 */
	for (size_t i = 0; i < FILL; i++) {
		keys[i] = key_at(&from, t.mask, HOME);
		CU_ASSERT_EQUAL_FATAL(fy_sess_insert(&t, keys[i], val_of(i)), 0);
	}
	CU_ASSERT_EQUAL(t.mask, 1023);
	CU_ASSERT_EQUAL(t.used, FILL);

	/* Each removed slot has a live one after it: all stay tombstones. */
	for (size_t i = 0; i < DROP; i++)
		CU_ASSERT_PTR_EQUAL_FATAL(fy_sess_remove(&t, keys[i]), val_of(i));
	CU_ASSERT_EQUAL(fy_sess_count(&t), FILL - DROP);
	CU_ASSERT_EQUAL(t.used, FILL);
	for (size_t i = 0; i < FILL; i++)
		CU_ASSERT_PTR_EQUAL_FATAL(fy_sess_lookup(&t, keys[i]),
					  i < DROP ? NULL : val_of(i));
	/* A removed key is not "present" for insert even though its chain
	 * is full of tombstones; the live tail is. */
	CU_ASSERT_EQUAL(fy_sess_insert(&t, keys[FILL - 1], val_of(0)), -EEXIST);

	/* Same home: takes the first tombstone, used does not move. */
	extra = key_at(&from, t.mask, HOME);
	CU_ASSERT_EQUAL_FATAL(fy_sess_insert(&t, extra, val_of(FILL)), 0);
	CU_ASSERT_EQUAL(t.used, FILL);

	/* The cluster covers slots 1000..1023 and 0..691; a key homed at
	 * 800 lands on an empty slot: 717 > 70%, tombstones dominate, so
	 * the table is rebuilt at the same size. */
	other = key_at(&from, t.mask, 800);
	CU_ASSERT_EQUAL_FATAL(fy_sess_insert(&t, other, val_of(FILL + 1)), 0);
	CU_ASSERT_EQUAL(t.mask, 1023);
	CU_ASSERT_EQUAL(fy_sess_count(&t), FILL - DROP + 2);
	CU_ASSERT_EQUAL(t.used, t.count);

	for (size_t i = 0; i < FILL; i++)
		CU_ASSERT_PTR_EQUAL_FATAL(fy_sess_lookup(&t, keys[i]),
					  i < DROP ? NULL : val_of(i));
	CU_ASSERT_PTR_EQUAL(fy_sess_lookup(&t, extra), val_of(FILL));
	CU_ASSERT_PTR_EQUAL(fy_sess_lookup(&t, other), val_of(FILL + 1));
	fy_sess_fini(&t);
}

/* Removing the last entry of a cluster clears the tombstones before it. */
static void test_tombstone_sweep(void)
{
	enum { N = 10, HOME = 5 };
	uint64_t keys[N];
	struct fy_sess_table t;
	uint64_t from = 1;

	CU_ASSERT_EQUAL_FATAL(fy_sess_init(&t, 0), 0);
	CU_ASSERT_EQUAL_FATAL(t.mask, 15);
	for (size_t i = 0; i < N; i++) {
		keys[i] = key_at(&from, t.mask, HOME);
		CU_ASSERT_EQUAL_FATAL(fy_sess_insert(&t, keys[i], val_of(i)), 0);
	}
	for (size_t i = 0; i < N - 1; i++)
		CU_ASSERT_PTR_EQUAL(fy_sess_remove(&t, keys[i]), val_of(i));
	CU_ASSERT_EQUAL(t.used, N);
	CU_ASSERT_PTR_EQUAL(fy_sess_lookup(&t, keys[N - 1]), val_of(N - 1));
	CU_ASSERT_PTR_EQUAL(fy_sess_remove(&t, keys[N - 1]), val_of(N - 1));
	CU_ASSERT_EQUAL(fy_sess_count(&t), 0);
	CU_ASSERT_EQUAL(t.used, 0);
	fy_sess_fini(&t);
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "insert/lookup/remove", test_basic },
		{ "init hint", test_init_hint },
		{ "growth past 100k", test_growth },
		{ "churn vs reference", test_churn_vs_reference },
		{ "sliding window", test_sliding_window },
		{ "tombstones force same-size rebuild", test_tombstone_rebuild },
		{ "tombstone sweep", test_tombstone_sweep },
	};
	return cu_run("sess", tests, ARRAY_LEN(tests));
}
