/* Unit tests for lib/token.c: generation, the token file (append, load,
 * strict parser errors), matching and what a rule allows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cu_run.h"
#include "ferry/token.h"

static char tmpdir[64];

/* fy_tokens_append with the fields as separate arguments (no maxports). */
static int append(const char *path, const char *id, const char *tok, const char *agents,
		  const char *ports, char *err, size_t errlen)
{
	struct fy_token_spec spec = { .id = id, .agents = agents, .ports = ports };

	return fy_tokens_append(path, tok, &spec, err, errlen);
}

static void path_in_tmp(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

static int is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static void test_generate(void)
{
	char a[48], b[48], small[47];

	CU_ASSERT_EQUAL(fy_token_generate(a, sizeof(a)), 0);
	CU_ASSERT_EQUAL(fy_token_generate(b, sizeof(b)), 0);
	CU_ASSERT_EQUAL(strlen(a), 47);
	CU_ASSERT_EQUAL(strncmp(a, "fyt_", 4), 0);
	for (size_t i = 4; i < strlen(a); i++)
		CU_ASSERT(is_b64url(a[i]));
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
	/* 32 bytes: the last character carries 4 bits, so the low 2 bits of its
	 * 6-bit value are 0 (A, E, I, ... in the alphabet). */
	CU_ASSERT_PTR_NOT_NULL(strchr("AEIMQUYcgkosw048", a[46]));
	CU_ASSERT_EQUAL(fy_token_generate(small, sizeof(small)), -1);
	CU_ASSERT_EQUAL(fy_token_generate(NULL, 64), -1);
}

static void test_generate_many_distinct(void)
{
	enum { N = 200 };
	static char toks[N][48];

	int dups = 0;

	for (int i = 0; i < N; i++) {
		CU_ASSERT_EQUAL_FATAL(fy_token_generate(toks[i], sizeof(toks[i])), 0);
		CU_ASSERT_EQUAL(strlen(toks[i]), 47);
		for (int j = 0; j < i; j++)
			dups += strcmp(toks[i], toks[j]) == 0;
	}
	CU_ASSERT_EQUAL(dups, 0);
}

static void test_append_load_match(void)
{
	char path[128], t1[48], t2[48], bad[48], err[256], buf[128];
	struct fy_tokens t = { 0 };
	const struct fy_token_rule *r;
	struct stat st;

	path_in_tmp(path, sizeof(path), "roundtrip.tokens");
	CU_ASSERT_EQUAL_FATAL(fy_token_generate(t1, sizeof(t1)), 0);
	CU_ASSERT_EQUAL_FATAL(fy_token_generate(t2, sizeof(t2)), 0);
	CU_ASSERT_EQUAL(append(path, "home", t1, "pi-home,pi.two",
					 "2200-2299,3000", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(append(path, "office_1", t2, "desk", "8080",
					 err, sizeof(err)), 0);
	{
		struct fy_token_spec spec = { .id = "capped", .agents = "c", .ports = "1-9000",
					      .max_ports = 7 };
		char t3[48];

		CU_ASSERT_EQUAL_FATAL(fy_token_generate(t3, sizeof(t3)), 0);
		CU_ASSERT_EQUAL(fy_tokens_append(path, t3, &spec, err, sizeof(err)), 0);
		spec.id = "capped2";
		spec.max_ports = 70000;
		CU_ASSERT_EQUAL(fy_tokens_append(path, t3, &spec, err, sizeof(err)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad maxports 70000"));
	}
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);

	/* The token itself never reaches the file. */
	{
		FILE *f = fopen(path, "r");
		char text[4096];
		size_t n;

		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		n = fread(text, 1, sizeof(text) - 1, f);
		text[n] = '\0';
		fclose(f);
		CU_ASSERT_PTR_NULL(strstr(text, t1));
		CU_ASSERT_PTR_NULL(strstr(text, t2));
		CU_ASSERT_PTR_NULL(strstr(text, "fyt_"));
	}

	CU_ASSERT_EQUAL_FATAL(fy_tokens_load(path, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(t.n, 3);
	CU_ASSERT_STRING_EQUAL(t.v[0].id, "home");
	CU_ASSERT_EQUAL(t.v[0].nagents, 2);
	CU_ASSERT_STRING_EQUAL(t.v[0].agents[0], "pi-home");
	CU_ASSERT_STRING_EQUAL(t.v[0].agents[1], "pi.two");
	CU_ASSERT_EQUAL(t.v[0].nranges, 2);
	CU_ASSERT_EQUAL(t.v[0].ranges[0].lo, 2200);
	CU_ASSERT_EQUAL(t.v[0].ranges[0].hi, 2299);
	CU_ASSERT_EQUAL(t.v[0].ranges[1].lo, 3000);
	CU_ASSERT_EQUAL(t.v[0].ranges[1].hi, 3000);
	fy_token_ranges_str(&t.v[0], buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "2200-2299,3000");
	CU_ASSERT_STRING_EQUAL(t.v[1].id, "office_1");
	CU_ASSERT_EQUAL(t.v[0].max_ports, 0);	/* not given: the relay's default */
	CU_ASSERT_EQUAL(t.v[2].max_ports, 7);

	r = fy_tokens_match(&t, t1);
	CU_ASSERT_PTR_EQUAL(r, &t.v[0]);
	r = fy_tokens_match(&t, t2);
	CU_ASSERT_PTR_EQUAL(r, &t.v[1]);
	CU_ASSERT_PTR_NULL(fy_tokens_match(&t, "fyt_nope"));
	CU_ASSERT_PTR_NULL(fy_tokens_match(&t, ""));
	/* Same token with one character changed (first, middle, last). */
	for (size_t pos = 4; pos < 47; pos += 21) {
		memcpy(bad, t1, sizeof(bad));
		bad[pos] = bad[pos] == 'A' ? 'B' : 'A';
		CU_ASSERT_PTR_NULL(fy_tokens_match(&t, bad));
	}
	memcpy(bad, t1, sizeof(bad));
	bad[46] = '\0';	/* one character short */
	CU_ASSERT_PTR_NULL(fy_tokens_match(&t, bad));
	fy_tokens_free(&t);
	CU_ASSERT_PTR_NULL(t.v);
	CU_ASSERT_EQUAL(t.n, 0);
}

static void test_append_refuses(void)
{
	char path[128], tok[48], err[256];
	struct fy_tokens t = { 0 };

	path_in_tmp(path, sizeof(path), "dup.tokens");
	CU_ASSERT_EQUAL_FATAL(fy_token_generate(tok, sizeof(tok)), 0);
	CU_ASSERT_EQUAL(append(path, "one", tok, "a", "22", err, sizeof(err)), 0);
	/* Duplicate id, even with another token. */
	CU_ASSERT_EQUAL_FATAL(fy_token_generate(tok, sizeof(tok)), 0);
	err[0] = '\0';
	CU_ASSERT_EQUAL(append(path, "one", tok, "b", "23", err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "'one' already exists"));
	/* Bad inputs never touch the file. */
	CU_ASSERT_EQUAL(append(path, "bad id", tok, "b", "23", err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad id"));
	CU_ASSERT_EQUAL(append(path, "two", tok, "b/c", "23", err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad agent name 'b/c'"));
	CU_ASSERT_EQUAL(append(path, "two", tok, "b", "0", err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(append(path, "two", tok, "b", "", err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(append(path, "two", tok, "", "22", err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(append(path, "two", "has space", "b", "22", err,
					 sizeof(err)), -1);
	CU_ASSERT_EQUAL(append(path, "abcdefghijklmnopqrstuvwxyz0123456", tok,
					 "b", "22", err, sizeof(err)), -1);
	CU_ASSERT_EQUAL_FATAL(fy_tokens_load(path, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(t.n, 1);
	fy_tokens_free(&t);

	/* A hand-edited file without a final newline still gets a clean line. */
	write_file(path, "# hand edited\nzero sha256:"
		   "0000000000000000000000000000000000000000000000000000000000000000"
		   " agents=z ports=1");
	CU_ASSERT_EQUAL(append(path, "three", tok, "c", "24", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(fy_tokens_load(path, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(t.n, 2);
	CU_ASSERT_PTR_EQUAL(fy_tokens_match(&t, tok), &t.v[1]);
	fy_tokens_free(&t);
}

static void test_allows(void)
{
	struct fy_token_rule r;
	char err[128], buf[64];

	memset(&r, 0, sizeof(r));
	r.nagents = 2;
	strcpy(r.agents[0], "pi-home");
	strcpy(r.agents[1], "b");
	CU_ASSERT_TRUE(fy_token_allows_agent(&r, "pi-home"));
	CU_ASSERT_TRUE(fy_token_allows_agent(&r, "b"));
	CU_ASSERT_FALSE(fy_token_allows_agent(&r, "pi-hom"));
	CU_ASSERT_FALSE(fy_token_allows_agent(&r, "pi-home2"));
	CU_ASSERT_FALSE(fy_token_allows_agent(&r, "PI-HOME"));
	CU_ASSERT_FALSE(fy_token_allows_agent(&r, ""));

	CU_ASSERT_EQUAL_FATAL(fy_token_parse_ranges("2200-2299,3000,65535", &r, err,
						    sizeof(err)), 0);
	CU_ASSERT_EQUAL(r.nranges, 3);
	CU_ASSERT_TRUE(fy_token_allows_port(&r, 2200));
	CU_ASSERT_TRUE(fy_token_allows_port(&r, 2299));
	CU_ASSERT_TRUE(fy_token_allows_port(&r, 2250));
	CU_ASSERT_FALSE(fy_token_allows_port(&r, 2199));
	CU_ASSERT_FALSE(fy_token_allows_port(&r, 2300));
	CU_ASSERT_TRUE(fy_token_allows_port(&r, 3000));
	CU_ASSERT_FALSE(fy_token_allows_port(&r, 2999));
	CU_ASSERT_FALSE(fy_token_allows_port(&r, 3001));
	CU_ASSERT_TRUE(fy_token_allows_port(&r, 65535));
	CU_ASSERT_FALSE(fy_token_allows_port(&r, 0));
	fy_token_ranges_str(&r, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "2200-2299,3000,65535");

	CU_ASSERT_EQUAL(fy_token_parse_ranges("1-65535", &r, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(fy_token_allows_port(&r, 1));
	CU_ASSERT_TRUE(fy_token_allows_port(&r, 65535));
	fy_token_ranges_str(&r, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "1-65535");
	/* Truncation keeps a terminated string. */
	fy_token_ranges_str(&r, buf, 4);
	CU_ASSERT_STRING_EQUAL(buf, "1-6");
}

static void test_parse_ranges_errors(void)
{
	static const struct { const char *in, *msg; } cases[] = {
		{ "9-2", "bad port range '9-2'" },
		{ "0", "bad port '0'" },
		{ "70000", "bad port '70000'" },
		{ "65536", "bad port '65536'" },
		{ "22-", "bad port '22-'" },
		{ "-22", "bad port '-22'" },
		{ "22,,23", "empty entry" },
		{ "22,", "empty entry" },
		{ "x", "bad port 'x'" },
		{ "+22", "bad port '+22'" },
		{ "1-2-3", "bad port '1-2-3'" },
		{ "", "empty port list" },
	};
	struct fy_token_rule r;
	char err[128], many[512];
	size_t off = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		memset(&r, 0, sizeof(r));
		CU_ASSERT_EQUAL(fy_token_parse_ranges(cases[i].in, &r, err, sizeof(err)), -1);
		if (!strstr(err, cases[i].msg))
			fprintf(stderr, "\n  '%s': got '%s'\n", cases[i].in, err);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].msg));
	}
	for (int i = 1; i <= FY_TOKEN_RANGES_MAX + 1; i++)
		off += (size_t)snprintf(many + off, sizeof(many) - off, "%s%d", i > 1 ? "," : "", i);
	CU_ASSERT_EQUAL(fy_token_parse_ranges(many, &r, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "too many"));
}

#define H64 "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef"

static void test_parser_errors(void)
{
	/* Each case: two good lines (with a comment and a blank line), then the
	 * bad one on line 5. */
	static const char head[] =
		"# ferry tokens\n"
		"ok1 sha256:" H64 " agents=a ports=22\n"
		"\n"
		"  # indented comment\n";
	static const struct { const char *line, *msg; } cases[] = {
		{ "x sha256:0123 agents=a ports=1", "need 64 hex digits" },
		{ "x sha256:" H64 "00 agents=a ports=1", "need 64 hex digits" },
		{ "x sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg"
		  " agents=a ports=1", "bad hex digit" },
		{ "x md5:" H64 " agents=a ports=1", "expected 'sha256:" },
		{ "x", "missing 'sha256:" },
		{ "x sha256:" H64 " agents=a ports=9-2", "bad port range '9-2'" },
		{ "x sha256:" H64 " agents=a ports=0", "bad port '0'" },
		{ "x sha256:" H64 " agents=a ports=70000", "bad port '70000'" },
		{ "x sha256:" H64 " agents=a ports=22 colour=red", "unknown field 'colour=red'" },
		{ "x sha256:" H64 " ports=22", "missing agents=" },
		{ "x sha256:" H64 " agents=a", "missing ports= (or names=)" },
		{ "x sha256:" H64 " agents=a names=Web", "bad name pattern 'Web'" },
		{ "x sha256:" H64 " agents=a names=a,,b", "bad name pattern ''" },
		{ "x sha256:" H64 " agents=a names=a.b", "bad name pattern 'a.b'" },
		{ "x sha256:" H64 " agents=a names=a names=b", "names= given twice" },
		{ "x sha256:" H64 " agents= ports=22", "empty agent list" },
		{ "x sha256:" H64 " agents=a,,b ports=22", "bad agent name ''" },
		{ "x sha256:" H64 " agents=a/b ports=22", "bad agent name 'a/b'" },
		{ "x sha256:" H64 " agents=a agents=b ports=22", "agents= given twice" },
		{ "x sha256:" H64 " agents=a ports=1 ports=2", "ports= given twice" },
		{ "b@d sha256:" H64 " agents=a ports=22", "bad id 'b@d'" },
		{ "abcdefghijklmnopqrstuvwxyz0123456 sha256:" H64 " agents=a ports=22",
		  "bad id" },
		{ "ok1 sha256:" H64 " agents=a ports=22", "duplicate id 'ok1'" },
		{ "x sha256:" H64 " agents=a ports=22 maxports=0", "bad maxports '0'" },
		{ "x sha256:" H64 " agents=a ports=22 maxports=x", "bad maxports 'x'" },
		{ "x sha256:" H64 " agents=a ports=22 maxports=1 maxports=2",
		  "maxports= given twice" },
		{ "x sha256:" H64 " agents=a ports=22 reach=a,,b", "bad reach entry ''" },
		{ "x sha256:" H64 " agents=a ports=22 reach=@", "bad reach entry '@'" },
		{ "x sha256:" H64 " agents=a ports=22 reach=a/b", "bad reach entry 'a/b'" },
		{ "x sha256:" H64 " agents=a ports=22 groups=*", "bad group '*'" },
		{ "x sha256:" H64 " agents=a ports=22 groups=@x", "bad group '@x'" },
		{ "x sha256:" H64 " agents=a ports=22 reach=* reach=b", "reach= given twice" },
	};
	char path[128], text[1024], err[256], want[160];
	struct fy_tokens t = { 0 };

	path_in_tmp(path, sizeof(path), "bad.tokens");
	snprintf(want, sizeof(want), "%s:5: ", path);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "%s%s\n", head, cases[i].line);
		write_file(path, text);
		err[0] = '\0';
		CU_ASSERT_EQUAL(fy_tokens_load(path, &t, err, sizeof(err)), -1);
		CU_ASSERT_PTR_NULL(t.v);
		CU_ASSERT_EQUAL(t.n, 0);
		CU_ASSERT_EQUAL(strncmp(err, want, strlen(want)), 0);
		if (!strstr(err, cases[i].msg))
			fprintf(stderr, "\n  case %zu: got '%s'\n", i, err);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].msg));
	}

	/* The head alone parses, including CRLF endings and a trailing comment. */
	write_file(path, "ok1 sha256:" H64 " agents=a ports=22 # note\r\n\r\n");
	CU_ASSERT_EQUAL(fy_tokens_load(path, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(t.n, 1);
	fy_tokens_free(&t);

	/* An empty file is valid and has no rules; a missing one is an error. */
	write_file(path, "");
	CU_ASSERT_EQUAL(fy_tokens_load(path, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(t.n, 0);
	fy_tokens_free(&t);
	path_in_tmp(path, sizeof(path), "missing.tokens");
	CU_ASSERT_EQUAL(fy_tokens_load(path, &t, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "missing.tokens"));
}

/* reach= and groups=: who may open streams to whom. */
static void test_reach(void)
{
	char path[128], t1[48], t2[48], t3[48], err[256], buf[256];
	struct fy_token_spec s1 = { .id = "edge-a", .agents = "a", .ports = "1", .reach = "b,@lab" };
	struct fy_token_spec s2 = { .id = "edge-b", .agents = "b,c", .ports = "2", .groups = "lab,home" };
	struct fy_token_spec s3 = { .id = "any", .agents = "x", .ports = "3", .reach = "*" };
	struct fy_tokens t = { 0 };
	const struct fy_token_rule *ra, *rb, *rx;

	path_in_tmp(path, sizeof(path), "reach.tokens");
	CU_ASSERT_EQUAL_FATAL(fy_token_generate(t1, sizeof(t1)), 0);
	CU_ASSERT_EQUAL_FATAL(fy_token_generate(t2, sizeof(t2)), 0);
	CU_ASSERT_EQUAL_FATAL(fy_token_generate(t3, sizeof(t3)), 0);
	CU_ASSERT_EQUAL_FATAL(fy_tokens_append(path, t1, &s1, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(fy_tokens_append(path, t2, &s2, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(fy_tokens_append(path, t3, &s3, err, sizeof(err)), 0);
	s1.id = "bad";
	s1.reach = "b,,c";
	CU_ASSERT_EQUAL(fy_tokens_append(path, t1, &s1, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL_FATAL(fy_tokens_load(path, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(t.n, 3);
	ra = fy_tokens_match(&t, t1);
	rb = fy_tokens_match(&t, t2);
	rx = fy_tokens_match(&t, t3);
	CU_ASSERT_FATAL(ra && rb && rx);
	fy_token_reach_str(ra, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "b,@lab");
	CU_ASSERT_EQUAL(rb->ngroups, 2);
	CU_ASSERT_TRUE(fy_token_reaches(ra, "b", rb));		/* by name */
	CU_ASSERT_TRUE(fy_token_reaches(ra, "c", rb));		/* by group */
	CU_ASSERT_FALSE(fy_token_reaches(ra, "x", rx));		/* neither */
	CU_ASSERT_FALSE(fy_token_reaches(rb, "a", ra));		/* no reach= */
	CU_ASSERT_TRUE(fy_token_reaches(rx, "a", ra));		/* * */
	fy_tokens_free(&t);
}

/* names=: what -H and -S may claim, '*' for any run. */
static void test_names(void)
{
	char path[128], t1[48], t2[48], err[256], buf[256];
	struct fy_token_spec s1 = { .id = "web", .agents = "a", .names = "pi-*,web,*-lab-*" };
	struct fy_token_spec s2 = { .id = "all", .agents = "b", .ports = "80", .names = "*" };
	struct fy_token_spec bad = { .id = "none", .agents = "c" };
	struct fy_tokens t = { 0 };
	const struct fy_token_rule *ra, *rb;

	path_in_tmp(path, sizeof(path), "names.tokens");
	CU_ASSERT_EQUAL_FATAL(fy_token_generate(t1, sizeof(t1)), 0);
	CU_ASSERT_EQUAL_FATAL(fy_token_generate(t2, sizeof(t2)), 0);
	CU_ASSERT_EQUAL_FATAL(fy_tokens_append(path, t1, &s1, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(fy_tokens_append(path, t2, &s2, err, sizeof(err)), 0);
	/* Neither ports nor names: nothing to claim, refused. */
	CU_ASSERT_EQUAL(fy_tokens_append(path, t1, &bad, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL_FATAL(fy_tokens_load(path, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(t.n, 2);
	ra = fy_tokens_match(&t, t1);
	rb = fy_tokens_match(&t, t2);
	CU_ASSERT_FATAL(ra && rb);
	CU_ASSERT_EQUAL(ra->nranges, 0);
	CU_ASSERT_FALSE(fy_token_allows_port(ra, 80));
	fy_token_names_str(ra, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "pi-*,web,*-lab-*");
	CU_ASSERT_TRUE(fy_token_allows_name(ra, "pi-home"));
	CU_ASSERT_TRUE(fy_token_allows_name(ra, "pi-"));
	CU_ASSERT_TRUE(fy_token_allows_name(ra, "web"));
	CU_ASSERT_TRUE(fy_token_allows_name(ra, "x-lab-y"));
	CU_ASSERT_TRUE(fy_token_allows_name(ra, "-lab-"));
	CU_ASSERT_FALSE(fy_token_allows_name(ra, "webs"));
	CU_ASSERT_FALSE(fy_token_allows_name(ra, "api"));
	CU_ASSERT_FALSE(fy_token_allows_name(ra, "p"));
	CU_ASSERT_FALSE(fy_token_allows_name(ra, "x-lab"));
	CU_ASSERT_TRUE(fy_token_allows_name(rb, "anything"));
	CU_ASSERT_TRUE(fy_token_allows_port(rb, 80));
	fy_tokens_free(&t);
	unlink(path);
}

static void test_many_rules(void)
{
	char path[128], tok[48], last[48], id[32], err[256];
	struct fy_tokens t = { 0 };

	path_in_tmp(path, sizeof(path), "many.tokens");
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "id%d", i);
		CU_ASSERT_EQUAL_FATAL(fy_token_generate(tok, sizeof(tok)), 0);
		CU_ASSERT_EQUAL_FATAL(append(path, id, tok, "a", "22", err,
						       sizeof(err)), 0);
		if (i == 39)
			memcpy(last, tok, sizeof(last));
	}
	CU_ASSERT_EQUAL_FATAL(fy_tokens_load(path, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(t.n, 40);
	CU_ASSERT_PTR_EQUAL(fy_tokens_match(&t, last), &t.v[39]);
	fy_tokens_free(&t);
}

static void rm_tree(void)
{
	static const char *const names[] = {
		"roundtrip.tokens", "dup.tokens", "bad.tokens", "many.tokens",
	};
	char path[128];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path_in_tmp(path, sizeof(path), names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "reach and groups", test_reach },
		{ "generate", test_generate },
		{ "generate_many_distinct", test_generate_many_distinct },
		{ "append_load_match", test_append_load_match },
		{ "append_refuses", test_append_refuses },
		{ "allows", test_allows },
		{ "parse_ranges_errors", test_parse_ranges_errors },
		{ "parser_errors", test_parser_errors },
		{ "many_rules", test_many_rules },
		{ "names", test_names },
	};
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ferry-token-test.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	rc = cu_run("token", tests, ARRAY_LEN(tests));
	rm_tree();
	return rc;
}
