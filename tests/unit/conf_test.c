/* Config files become argument vectors, read before the command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cu_run.h"
#include "ferry/conf.h"

static char path[64];

static void write_conf(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/ferry-conf-test.%d", (int)getpid());
	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	fclose(f);
}

static void test_load(void)
{
	int argc;
	char **argv, err[200];

	write_conf("# comment\nrelay relay.example.org:7000\n\n  token = fyt_abc  # trailing\n"
		   "R 2221:127.0.0.1:22\nR [::1]:2280:localhost:80\nverbose\n");
	CU_ASSERT_EQUAL_FATAL(fy_conf_load(path, "prog", &argc, &argv, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(argc, 10);
	CU_ASSERT_STRING_EQUAL(argv[0], "prog");
	CU_ASSERT_STRING_EQUAL(argv[1], "--relay");
	CU_ASSERT_STRING_EQUAL(argv[2], "relay.example.org:7000");
	CU_ASSERT_STRING_EQUAL(argv[3], "--token");
	CU_ASSERT_STRING_EQUAL(argv[4], "fyt_abc");
	CU_ASSERT_STRING_EQUAL(argv[5], "-R");
	CU_ASSERT_STRING_EQUAL(argv[6], "2221:127.0.0.1:22");
	CU_ASSERT_STRING_EQUAL(argv[8], "[::1]:2280:localhost:80");
	CU_ASSERT_STRING_EQUAL(argv[9], "--verbose");
	CU_ASSERT_PTR_NULL(argv[10]);
	fy_conf_free(argc, argv);
	unlink(path);
}

static void test_errors(void)
{
	int argc;
	char **argv, err[200];
	char longline[1200];

	CU_ASSERT_EQUAL(fy_conf_load("/nonexistent/ferry.conf", "p", &argc, &argv, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot open config file /nonexistent/ferry.conf"));
	write_conf("relay x\nconfig other.conf\n");
	CU_ASSERT_EQUAL(fy_conf_load(path, "p", &argc, &argv, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":2: config files do not nest"));
	memset(longline, 'a', sizeof(longline) - 2);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = 0;
	write_conf(longline);
	CU_ASSERT_EQUAL(fy_conf_load(path, "p", &argc, &argv, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":1: line too long"));
	unlink(path);
}

struct seen {
	int passes;
	int file_passes;	/* passes told their vector came from the file */
	char last_relay[64];
};

static int pass(void *cfg, int argc, char **argv, const char *file)
{
	struct seen *s = cfg;

	s->passes++;
	if (file && !strcmp(file, path))
		s->file_passes++;
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--relay"))
			snprintf(s->last_relay, sizeof(s->last_relay), "%s", argv[i + 1]);
	return -1;
}

static void test_parse_order(void)
{
	struct seen s = { 0 };
	char *argv[] = { "prog", "--config", path, "--relay", "cli:1", NULL };

	write_conf("relay file:1\n");
	CU_ASSERT_EQUAL(fy_conf_parse("prog", 5, argv, pass, &s), -1);
	CU_ASSERT_EQUAL(s.passes, 2);
	CU_ASSERT_EQUAL(s.file_passes, 1);
	CU_ASSERT_STRING_EQUAL(s.last_relay, "cli:1");	/* the command line wins */
	unlink(path);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(fy_conf_parse("prog", 5, argv, pass, &s), 2);	/* file gone */
	CU_ASSERT_EQUAL(s.passes, 0);
}

static void test_num_copy(void)
{
	uint32_t v = 7;
	char dst[4];

	CU_ASSERT_EQUAL(fy_conf_num("p", "n", "42", 1, 100, &v), 0);
	CU_ASSERT_EQUAL(v, 42);
	CU_ASSERT_EQUAL(fy_conf_num("p", "n", "0", 1, 100, &v), -1);
	CU_ASSERT_EQUAL(fy_conf_num("p", "n", "101", 1, 100, &v), -1);
	CU_ASSERT_EQUAL(fy_conf_num("p", "n", "12x", 1, 100, &v), -1);
	CU_ASSERT_EQUAL(fy_conf_num("p", "n", "", 1, 100, &v), -1);
	CU_ASSERT_EQUAL(v, 42);
	CU_ASSERT_EQUAL(fy_conf_copy("p", dst, sizeof(dst), "s", "abc"), 0);
	CU_ASSERT_STRING_EQUAL(dst, "abc");
	CU_ASSERT_EQUAL(fy_conf_copy("p", dst, sizeof(dst), "s", "abcd"), -1);
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "file to argv", test_load },
		{ "errors name the line", test_errors },
		{ "file first, command line wins", test_parse_order },
		{ "number and string values", test_num_copy },
	};

	return cu_run("conf", tests, ARRAY_LEN(tests));
}
