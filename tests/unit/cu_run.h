/* The one main of every CUnit executable: register a table of tests as a
 * suite, run it verbosely, exit non-zero when any assertion failed. */
#ifndef FERRY_TEST_CU_RUN_H
#define FERRY_TEST_CU_RUN_H

#include <stddef.h>

#include <CUnit/Basic.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct cu_test {
	const char *name;
	CU_TestFunc fn;
};

/* Returns the process exit status: 0 when every test passed. */
int cu_run(const char *suite, const struct cu_test *tests, size_t n);

#endif
