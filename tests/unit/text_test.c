/* fy_port_range_parse and fy_list_has_token: what --allow, --policy and
 * the Upgrade/Connection checks rely on. */
#include <string.h>

#include <ferry/text.h>

#include "cu_run.h"

static void test_port_range(void)
{
	static const struct {
		const char *in;
		int rc;
		uint16_t lo, hi;
	} v[] = {
		{ "22", 0, 22, 22 }, { "8000-8099", 0, 8000, 8099 }, { "*", 0, 1, 65535 },
		{ "65535", 0, 65535, 65535 }, { "1-1", 0, 1, 1 },
		{ "0", -1, 0, 0 }, { "65536", -1, 0, 0 }, { "+22", -1, 0, 0 }, { " 22", -1, 0, 0 },
		{ "22-", -1, 0, 0 }, { "-22", -1, 0, 0 }, { "30-20", -1, 0, 0 }, { "", -1, 0, 0 },
		{ "2-3-4", -1, 0, 0 }, { "**", -1, 0, 0 }, { "99999999999999999999", -1, 0, 0 },
	};

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		uint16_t lo = 7, hi = 7;

		CU_ASSERT_EQUAL(fy_port_range_parse(v[i].in, &lo, &hi), v[i].rc);
		if (v[i].rc == 0) {
			CU_ASSERT_EQUAL(lo, v[i].lo);
			CU_ASSERT_EQUAL(hi, v[i].hi);
		}
	}
}

static void test_list_token(void)
{
	static const char *const yes[] = { "upgrade", "Upgrade", "keep-alive, Upgrade",
					   "\tUPGRADE\t,x", "a,,upgrade", "x , upgrade " };
	static const char *const no[] = { "", "upgrades", "up grade", "keep-alive", ",",
					  "upgrade-insecure", "xupgrade" };

	for (size_t i = 0; i < ARRAY_LEN(yes); i++)
		CU_ASSERT_TRUE(fy_list_has_token(yes[i], strlen(yes[i]), "upgrade"));
	for (size_t i = 0; i < ARRAY_LEN(no); i++)
		CU_ASSERT_FALSE(fy_list_has_token(no[i], strlen(no[i]), "upgrade"));
	/* Only n bytes count: the token past them is not seen. */
	CU_ASSERT_FALSE(fy_list_has_token("close, upgrade", 6, "upgrade"));
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "port ranges", test_port_range },
		{ "comma lists", test_list_token },
	};

	return cu_run("text", tests, ARRAY_LEN(tests));
}
