/* fy_budget: limits, parents, refusal takes nothing, threads racing for
 * the last bytes; fy_cycles_to_us across the counter values where the
 * naive conversion overflowed. */
#include <pthread.h>
#include <stdint.h>

#include <ferry/budget.h>
#include <ferry/clock.h>

#include "cu_run.h"

static void test_limit(void)
{
	struct fy_budget b;

	fy_budget_init(&b, 100, NULL);
	CU_ASSERT_TRUE(fy_budget_try(&b, 60));
	CU_ASSERT_FALSE(fy_budget_try(&b, 41));
	CU_ASSERT_EQUAL(fy_budget_used(&b), 60);
	CU_ASSERT_TRUE(fy_budget_try(&b, 40));
	CU_ASSERT_FALSE(fy_budget_try(&b, 1));
	fy_budget_give(&b, 100);
	CU_ASSERT_EQUAL(fy_budget_used(&b), 0);
	/* More than the whole limit, and sizes that would wrap. */
	CU_ASSERT_FALSE(fy_budget_try(&b, 101));
	CU_ASSERT_FALSE(fy_budget_try(&b, SIZE_MAX));
	CU_ASSERT_EQUAL(fy_budget_used(&b), 0);
	/* No limit. */
	fy_budget_init(&b, 0, NULL);
	CU_ASSERT_TRUE(fy_budget_try(&b, SIZE_MAX / 2));
}

/* A session's share under the relay's total: both must have room, and a
 * refusal at either level leaves both untouched. */
static void test_parent(void)
{
	struct fy_budget total, s1, s2;

	fy_budget_init(&total, 100, NULL);
	fy_budget_init(&s1, 60, &total);
	fy_budget_init(&s2, 60, &total);
	CU_ASSERT_TRUE(fy_budget_try(&s1, 60));
	CU_ASSERT_FALSE(fy_budget_try(&s1, 1));	/* its share is spent */
	CU_ASSERT_TRUE(fy_budget_try(&s2, 40));
	CU_ASSERT_FALSE(fy_budget_try(&s2, 1));	/* the total is spent */
	CU_ASSERT_EQUAL(fy_budget_used(&s2), 40);
	CU_ASSERT_EQUAL(fy_budget_used(&total), 100);
	fy_budget_give(&s1, 30);
	CU_ASSERT_EQUAL(fy_budget_used(&total), 70);
	CU_ASSERT_TRUE(fy_budget_try(&s2, 20));
	CU_ASSERT_EQUAL(fy_budget_used(&s2), 60);
	CU_ASSERT_EQUAL(fy_budget_used(&total), 90);
}

enum { THREADS = 4, ROUNDS = 100000 };

static struct fy_budget race_total, race_child[THREADS];

static void *racer(void *arg)
{
	unsigned i = (unsigned)(uintptr_t)arg;

	for (int r = 0; r < ROUNDS; r++) {
		if (fy_budget_try(&race_child[i], 7) && r % 3)
			fy_budget_give(&race_child[i], 7);
	}
	return NULL;
}

/* Threads taking and giving never push a level past its limit, and what
 * stays taken adds up exactly. */
static void test_threads(void)
{
	pthread_t th[THREADS];
	size_t kept = 0;

	fy_budget_init(&race_total, 7000, NULL);
	for (unsigned i = 0; i < THREADS; i++)
		fy_budget_init(&race_child[i], 2000, &race_total);
	for (unsigned i = 0; i < THREADS; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, racer, (void *)(uintptr_t)i), 0);
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	for (unsigned i = 0; i < THREADS; i++) {
		CU_ASSERT(fy_budget_used(&race_child[i]) <= 2000);
		kept += fy_budget_used(&race_child[i]);
	}
	CU_ASSERT(fy_budget_used(&race_total) <= 7000);
	CU_ASSERT_EQUAL(fy_budget_used(&race_total), kept);
	/* Filling up now stops exactly at the total (the shares add up to more). */
	for (unsigned i = 0; i < THREADS; i++)
		while (fy_budget_try(&race_child[i], 7))
			;
	CU_ASSERT_EQUAL(fy_budget_used(&race_total), 7000);
}

/* cycles * 1000000 / hz wraps at 2^64 / 10^6 cycles (2.4 h at 2.1 GHz):
 * the conversion must stay exact and keep advancing across that point
 * and up to the counter's own wrap. */
static void test_cycles_to_us(void)
{
	const uint64_t hz = 2100000000ull;
	const uint64_t wrap = UINT64_MAX / 1000000u;	/* first overflow of the naive form */
	uint64_t prev = 0;

	CU_ASSERT_EQUAL(fy_cycles_to_us(0, hz), 0);
	CU_ASSERT_EQUAL(fy_cycles_to_us(hz, hz), 1000000u);
	CU_ASSERT_EQUAL(fy_cycles_to_us(hz / 2, hz), 500000u);
	for (uint64_t c = wrap - 5 * hz; c < wrap + 5 * hz; c += hz / 4) {
		uint64_t us = fy_cycles_to_us(c, hz);
		unsigned __int128 exact = (unsigned __int128)c * 1000000u / hz;

		CU_ASSERT_EQUAL(us, (uint64_t)exact);
		CU_ASSERT(us > prev);
		prev = us;
	}
	/* 2.4 h in: about 8,784 s, not a value near zero. */
	CU_ASSERT(fy_cycles_to_us(wrap + hz, hz) / 1000000u > 8000);
	CU_ASSERT_EQUAL(fy_cycles_to_us(UINT64_MAX, hz),
			(uint64_t)((unsigned __int128)UINT64_MAX * 1000000u / hz));
	/* The monotonic clock agrees with itself. */
	{
		uint64_t a = fy_now_us(), b = fy_now_ms();

		CU_ASSERT(b >= a / 1000u);
	}
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "limit", test_limit },
		{ "share under a parent", test_parent },
		{ "threads racing", test_threads },
		{ "cycles to us past the old wrap", test_cycles_to_us },
	};

	return cu_run("budget", tests, ARRAY_LEN(tests));
}
