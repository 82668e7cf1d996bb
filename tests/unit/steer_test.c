/* The DPDK backend's steering table (relay/dpdk/steer.h): add, find,
 * forget by generation, the cap, and long churn with backward-shift
 * deletion checked against a reference array, in a table small enough
 * that runs of slots wrap around its end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cu_run.h"
#include "steer.h"

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void test_basic(void)
{
	struct steer_table t;
	struct steer_entry *e;
	uint64_t k1 = steer_key(0x0a000001u, 40000, 80), k2 = steer_key(0x0a000001u, 40001, 80);

	CU_ASSERT_EQUAL_FATAL(steer_init(&t, 4, 1), 0);
	CU_ASSERT_EQUAL(t.mask + 1, 16u);	/* at least 16 and twice the cap */
	CU_ASSERT_PTR_NULL(steer_find(&t, k1));
	e = steer_add(&t, k1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->gen, 0);
	e->owner = 3;
	e->gen = 7;
	CU_ASSERT_PTR_EQUAL(steer_add(&t, k1), e);	/* the same entry again */
	CU_ASSERT_EQUAL(t.n, 1u);
	CU_ASSERT_PTR_EQUAL(steer_find(&t, k1), e);
	CU_ASSERT_PTR_NULL(steer_find(&t, k2));
	/* A forget for an older segment leaves it; the latest removes it. */
	CU_ASSERT_FALSE(steer_forget(&t, k1, 6));
	CU_ASSERT_FALSE(steer_forget(&t, k2, 7));
	CU_ASSERT_EQUAL(t.n, 1u);
	CU_ASSERT_TRUE(steer_forget(&t, k1, 7));
	CU_ASSERT_EQUAL(t.n, 0u);
	CU_ASSERT_PTR_NULL(steer_find(&t, k1));
	CU_ASSERT_FALSE(steer_forget(&t, k1, 7));	/* twice: nothing */
	steer_fini(&t);
}

static void test_cap(void)
{
	struct steer_table t;

	CU_ASSERT_EQUAL_FATAL(steer_init(&t, 100, 2), 0);
	CU_ASSERT(t.mask + 1 >= 200);
	for (uint32_t i = 0; i < 100; i++)
		CU_ASSERT_PTR_NOT_NULL(steer_add(&t, steer_key(i + 1, 1000, 80)));
	CU_ASSERT_PTR_NULL(steer_add(&t, steer_key(500, 1000, 80)));	/* full */
	CU_ASSERT_PTR_NOT_NULL(steer_add(&t, steer_key(1, 1000, 80)));	/* present: found */
	CU_ASSERT_TRUE(steer_forget(&t, steer_key(50, 1000, 80), 0));
	CU_ASSERT_PTR_NOT_NULL(steer_add(&t, steer_key(500, 1000, 80)));	/* room again */
	CU_ASSERT_EQUAL(t.n, 100u);
	steer_fini(&t);
}

/* Random adds and forgets against a reference: every key present must be
 * found with its generation, every absent one not, and n must agree. A
 * 32-slot table at up to half load makes long, wrapping runs. */
static void test_churn(void)
{
	enum { KEYS = 40, CAP = 16, ROUNDS = 200000 };
	struct steer_table t;
	uint32_t gen[KEYS];
	bool in[KEYS];
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	unsigned n = 0, bad = 0;

	memset(in, 0, sizeof(in));
	memset(gen, 0, sizeof(gen));
	CU_ASSERT_EQUAL_FATAL(steer_init(&t, CAP, 42), 0);
	for (uint32_t r = 1; r <= ROUNDS; r++) {
		unsigned k = (unsigned)(rng_next(&rng) % KEYS);
		uint64_t key = steer_key(0xc0a80000u + k, (uint16_t)(k * 7), 443);
		struct steer_entry *e;

		if (!in[k]) {
			e = steer_add(&t, key);
			if (n == CAP) {
				bad += e != NULL;
				continue;
			}
			if (!e) {
				bad++;
				continue;
			}
			e->gen = gen[k] = r;
			in[k] = true;
			n++;
		} else if (rng_next(&rng) & 1) {
			/* A stale forget, then the right one. */
			bad += steer_forget(&t, key, gen[k] - 1);
			bad += !steer_forget(&t, key, gen[k]);
			in[k] = false;
			n--;
		} else {
			e = steer_find(&t, key);
			if (!e) {
				bad++;
				continue;
			}
			e->gen = gen[k] = r;	/* another segment handed over */
		}
		if (r % 97 == 0) {
			for (unsigned j = 0; j < KEYS; j++) {
				e = steer_find(&t, steer_key(0xc0a80000u + j, (uint16_t)(j * 7), 443));
				bad += in[j] ? (!e || e->gen != gen[j]) : e != NULL;
			}
			bad += t.n != n;
		}
	}
	CU_ASSERT_EQUAL(bad, 0u);
	steer_fini(&t);
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "add, find, forget by generation", test_basic },
		{ "cap", test_cap },
		{ "churn vs reference", test_churn },
	};

	return cu_run("steer", tests, ARRAY_LEN(tests));
}
