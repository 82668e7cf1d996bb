/* See cu_run.h. */
#include "cu_run.h"

int cu_run(const char *suite, const struct cu_test *tests, size_t n)
{
	CU_pSuite s;
	int failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite(suite, NULL, NULL);
	if (!s)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			goto out;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
out:
	failed = CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
