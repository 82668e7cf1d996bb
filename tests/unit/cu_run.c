/* See cu_run.h. */
#include "cu_run.h"

int cu_run_suites(const struct cu_suite *suites, size_t n)
{
	int failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	for (size_t i = 0; i < n; i++) {
		CU_pSuite s = CU_add_suite(suites[i].name, suites[i].init, NULL);

		if (!s)
			goto out;
		for (size_t j = 0; j < suites[i].n; j++)
			if (!CU_add_test(s, suites[i].tests[j].name, suites[i].tests[j].fn))
				goto out;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
out:
	failed = CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

int cu_run(const char *suite, const struct cu_test *tests, size_t n)
{
	const struct cu_suite s = { suite, NULL, tests, n };

	return cu_run_suites(&s, 1);
}
