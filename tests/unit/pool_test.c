/* fy_pool: objects zeroed and aligned, reused after free, no two alive at
 * one address, the counts, growth past a chunk. */
#include <stdint.h>
#include <string.h>

#include <ferry/pool.h>

#include "cu_run.h"

enum { N = 1000 };

static void test_alloc_free(void)
{
	static void *objs[N];
	struct fy_pool p;

	fy_pool_init(&p, 40, 16);
	CU_ASSERT_EQUAL(p.size, 64);
	for (unsigned i = 0; i < N; i++) {
		objs[i] = fy_pool_alloc(&p);
		CU_ASSERT_PTR_NOT_NULL_FATAL(objs[i]);
		CU_ASSERT_EQUAL((uintptr_t)objs[i] % 64, 0);
		for (unsigned k = 0; k < 40; k++)
			CU_ASSERT_EQUAL_FATAL(((uint8_t *)objs[i])[k], 0);
		memset(objs[i], 0xa5, 40);	/* dirty: the next user must see zeros */
	}
	CU_ASSERT_EQUAL(p.in_use, N);
	/* No two live objects overlap. */
	for (unsigned i = 1; i < N; i++)
		CU_ASSERT_PTR_NOT_EQUAL(objs[i], objs[i - 1]);
	for (unsigned i = 0; i < N; i += 2)
		fy_pool_free(&p, objs[i]);
	CU_ASSERT_EQUAL(p.in_use, N / 2);
	for (unsigned i = 0; i < N; i += 2) {
		objs[i] = fy_pool_alloc(&p);
		CU_ASSERT_PTR_NOT_NULL_FATAL(objs[i]);
		CU_ASSERT_EQUAL(((uint8_t *)objs[i])[0], 0);
		CU_ASSERT_EQUAL(((uint8_t *)objs[i])[39], 0);
	}
	CU_ASSERT_EQUAL(p.in_use, N);
	for (unsigned i = 0; i < N; i++)
		fy_pool_free(&p, objs[i]);
	CU_ASSERT_EQUAL(p.in_use, 0);
	fy_pool_free(&p, NULL);
	fy_pool_fini(&p);
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "alloc, free, reuse", test_alloc_free },
	};

	return cu_run("pool", tests, ARRAY_LEN(tests));
}
