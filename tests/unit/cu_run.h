/* The one main of every CUnit executable: register tables of tests as
 * suites, run them verbosely, exit non-zero when any assertion failed. */
#ifndef FERRY_TEST_CU_RUN_H
#define FERRY_TEST_CU_RUN_H

#include <stddef.h>

#include <CUnit/Basic.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct cu_test {
	const char *name;
	CU_TestFunc fn;
};

struct cu_suite {
	const char *name;
	CU_InitializeFunc init;	/* run before the suite's tests, NULL: none */
	const struct cu_test *tests;
	size_t n;
};

/* Both return the process exit status: 0 when every test passed. */
int cu_run(const char *suite, const struct cu_test *tests, size_t n);
/* The suites run in order. */
int cu_run_suites(const struct cu_suite *suites, size_t n);

#endif
