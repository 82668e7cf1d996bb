/* Unit tests for relay/policy.c: the --policy file (comments, blank lines,
 * errors that name the line) and policy_decide (the token's reach= first,
 * then the first matching line; no match denies), with agent globs,
 * @groups and HOST[:PORT] targets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cu_run.h"
#include "policy.h"

static char tmpdir[64];
static char path[128];

static int load_text(const char *text, struct policy *p, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
	err[0] = '\0';
	return policy_load(path, p, err, errlen);
}

/* A policy from text that must load. */
static void load_ok(const char *text, struct policy *p)
{
	char err[512];
	int r = load_text(text, p, err, sizeof(err));

	if (r)
		fprintf(stderr, "\n  policy refused: %s\n", err);
	CU_ASSERT_EQUAL_FATAL(r, 0);
}

/* A token rule with groups and reach, comma lists ("" : none). */
static struct fy_token_rule rule(const char *groups, const char *reach)
{
	struct fy_token_rule r;
	char buf[256], *save = NULL, *t;

	memset(&r, 0, sizeof(r));
	snprintf(buf, sizeof(buf), "%s", groups);
	for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		snprintf(r.groups[r.ngroups++], sizeof(r.groups[0]), "%s", t);
	snprintf(buf, sizeof(buf), "%s", reach);
	save = NULL;
	for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		snprintf(r.reach[r.nreach++], sizeof(r.reach[0]), "%s", t);
	return r;
}

static char why[512];

static uint32_t decide(const struct policy *p, const char *from, const struct fy_token_rule *fr,
		       const char *to, const struct fy_token_rule *tr, const char *host,
		       uint16_t port)
{
	struct fy_dial d = { .kind = FY_KIND_TCP, .port = port };

	snprintf(d.agent, sizeof(d.agent), "%s", to);
	snprintf(d.host, sizeof(d.host), "%s", host);
	why[0] = '\0';
	return policy_decide(p, from, fr, to, tr, &d, why, sizeof(why));
}

/* ---- parsing ---- */

static void test_parse(void)
{
	struct policy p;
	uint8_t v6[16] = { 0xfd };

	load_ok("# ferry policy\n"
		"\n"
		"allow a b\n"
		"   deny  *\t@lab  db.lan:5432   # trailing comment\n"
		"\t\n"
		"allow @ops * 10.0.0.0/24:22-23\r\n"
		"allow x y [fd00::1]:443\n"
		"allow x y fd00::/8\n"
		"allow x y *:80\n"
		"allow x y *\n"
		"allow x y [::1]\n"
		"# the end, no newline after the last line\n"
		"deny pi-* nas-?", &p);
	CU_ASSERT_EQUAL_FATAL(p.n, 9);
	/* allow a b: any host, any port */
	CU_ASSERT_TRUE(p.v[0].allow);
	CU_ASSERT_EQUAL(p.v[0].line, 3);
	CU_ASSERT_STRING_EQUAL(p.v[0].from, "a");
	CU_ASSERT_STRING_EQUAL(p.v[0].to, "b");
	CU_ASSERT_EQUAL(p.v[0].host_kind, HOST_ANY);
	CU_ASSERT_EQUAL(p.v[0].port_lo, 1);
	CU_ASSERT_EQUAL(p.v[0].port_hi, 65535);
	/* deny * @lab db.lan:5432 */
	CU_ASSERT_FALSE(p.v[1].allow);
	CU_ASSERT_EQUAL(p.v[1].line, 4);
	CU_ASSERT_STRING_EQUAL(p.v[1].from, "*");
	CU_ASSERT_STRING_EQUAL(p.v[1].to, "@lab");
	CU_ASSERT_EQUAL(p.v[1].host_kind, HOST_GLOB);
	CU_ASSERT_STRING_EQUAL(p.v[1].host, "db.lan");
	CU_ASSERT_EQUAL(p.v[1].port_lo, 5432);
	CU_ASSERT_EQUAL(p.v[1].port_hi, 5432);
	/* a prefix and a range, CRLF */
	CU_ASSERT_EQUAL(p.v[2].line, 6);
	CU_ASSERT_EQUAL(p.v[2].host_kind, HOST_PREFIX);
	CU_ASSERT_EQUAL(p.v[2].family, AF_INET);
	CU_ASSERT_EQUAL(p.v[2].prefix, 24);
	CU_ASSERT_EQUAL(memcmp(p.v[2].addr, "\x0a\0\0\0", 4), 0);
	CU_ASSERT_EQUAL(p.v[2].port_lo, 22);
	CU_ASSERT_EQUAL(p.v[2].port_hi, 23);
	/* [v6]:port */
	CU_ASSERT_EQUAL(p.v[3].host_kind, HOST_PREFIX);
	CU_ASSERT_EQUAL(p.v[3].family, AF_INET6);
	CU_ASSERT_EQUAL(p.v[3].prefix, 128);
	CU_ASSERT_EQUAL(p.v[3].port_lo, 443);
	/* a bare v6 prefix: every port */
	CU_ASSERT_EQUAL(p.v[4].family, AF_INET6);
	CU_ASSERT_EQUAL(p.v[4].prefix, 8);
	CU_ASSERT_EQUAL(memcmp(p.v[4].addr, v6, 16), 0);
	CU_ASSERT_EQUAL(p.v[4].port_lo, 1);
	CU_ASSERT_EQUAL(p.v[4].port_hi, 65535);
	/* *:80 is any host on port 80 */
	CU_ASSERT_EQUAL(p.v[5].host_kind, HOST_ANY);
	CU_ASSERT_EQUAL(p.v[5].port_lo, 80);
	CU_ASSERT_EQUAL(p.v[5].port_hi, 80);
	CU_ASSERT_EQUAL(p.v[6].host_kind, HOST_ANY);
	CU_ASSERT_EQUAL(p.v[6].port_hi, 65535);
	CU_ASSERT_EQUAL(p.v[7].family, AF_INET6);
	CU_ASSERT_EQUAL(p.v[7].prefix, 128);
	CU_ASSERT_EQUAL(p.v[8].line, 13);
	CU_ASSERT_STRING_EQUAL(p.v[8].from, "pi-*");
	CU_ASSERT_STRING_EQUAL(p.v[8].to, "nas-?");
	CU_ASSERT_FALSE(p.v[8].allow);
	policy_free(&p);
}

static void test_parse_empty(void)
{
	struct policy p;

	load_ok("", &p);
	CU_ASSERT_EQUAL(p.n, 0);
	policy_free(&p);
	load_ok("# only comments\n\n   \t\n#allow * * *\n", &p);
	CU_ASSERT_EQUAL(p.n, 0);
	policy_free(&p);
}

static void test_parse_errors(void)
{
	static const struct {
		const char *line;
		const char *msg;	/* in the error, after "PATH:3: " */
	} v[] = {
		{ "permit a b", "expected 'allow' or 'deny'" },
		{ "Allow a b", "expected 'allow' or 'deny'" },
		{ "allow", "expected 'allow FROM TO [HOST[:PORT]]'" },
		{ "allow a", "expected 'allow FROM TO [HOST[:PORT]]'" },
		{ "deny a", "expected 'deny FROM TO [HOST[:PORT]]'" },
		{ "allow @ b", "expected 'allow FROM TO" },
		{ "allow a @", "expected 'allow FROM TO" },
		{ "allow a b c d", "unexpected 'd' after the target" },
		{ "allow a b 10.0.0.0/33", "bad target" },
		{ "allow a b 10.0.0.0/:22", "bad target" },
		{ "allow a b 10.0.0.0/8x", "bad target" },
		{ "allow a b fd00::/129", "bad target" },
		{ "allow a b db.lan/24", "bad target" },
		{ "allow a b h:0", "bad target" },
		{ "allow a b h:70000", "bad target" },
		{ "allow a b h:9-2", "bad target" },
		{ "allow a b h:x", "bad target" },
		{ "allow a b h:", "bad target" },
		{ "allow a b h:+22", "bad target" },
		{ "allow a b h:1-+5", "bad target" },
		{ "allow a b h:-5", "bad target" },
		{ "allow a b [::1", "bad target" },
		{ "allow a b [::1]x", "bad target" },
		{ "allow a b [::1]:0", "bad target" },
		{ "allow a b [10.0.0.0]/8", "bad target" },	/* brackets are for IPv6 */
		{ "allow a b [fd00::]/8:0", "bad target" },
		{ "allow a b [fd00::]/129:22", "bad target" },
		{ "allow a b [fd00::]/8x", "bad target" },
		{ "allow a b [fd00::]8", "bad target" },
		{ "allow a b :22", "bad target" },	/* empty host */
		{ "allow a b []:22", "bad target" },
		{ "allow a b []", "bad target" },
	};
	char text[1024], err[512], want[256];
	struct policy p;

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		int r;

		snprintf(text, sizeof(text), "# line 1\nallow x y\n%s\nallow z z\n", v[i].line);
		r = load_text(text, &p, err, sizeof(err));
		if (r == 0 || !strstr(err, v[i].msg))
			fprintf(stderr, "\n  '%s': %d %s\n", v[i].line, r, err);
		CU_ASSERT_EQUAL(r, -1);
		snprintf(want, sizeof(want), "%s:3: ", path);
		CU_ASSERT_EQUAL(strncmp(err, want, strlen(want)), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, v[i].msg));
		/* Nothing half-loaded. */
		CU_ASSERT_PTR_NULL(p.v);
		CU_ASSERT_EQUAL(p.n, 0);
		policy_free(&p);
	}
}

static void test_parse_limits(void)
{
	char text[2048], err[512], pat[100];
	struct policy p;

	/* Patterns up to 64 characters. */
	memset(pat, 'a', 64);
	pat[64] = '\0';
	snprintf(text, sizeof(text), "allow %s %s\n", pat, pat);
	load_ok(text, &p);
	CU_ASSERT_EQUAL(p.n, 1);
	policy_free(&p);
	pat[64] = 'a';
	pat[65] = '\0';
	snprintf(text, sizeof(text), "allow %s b\n", pat);
	CU_ASSERT_EQUAL(load_text(text, &p, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":1: expected 'allow FROM TO"));
	/* A line longer than the reader holds. */
	memset(text, ' ', 700);
	memcpy(text, "allow a b", 9);
	strcpy(text + 700, "\nallow c d\n");
	CU_ASSERT_EQUAL(load_text(text, &p, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":1: line too long"));
	/* Many lines: the table grows. */
	text[0] = '\0';
	{
		FILE *f = fopen(path, "w");

		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		for (int i = 0; i < 1000; i++)
			fprintf(f, "%s a%d b *:%d\n", i % 2 ? "deny" : "allow", i, i + 1);
		fclose(f);
		CU_ASSERT_EQUAL_FATAL(policy_load(path, &p, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(p.n, 1000);
		CU_ASSERT_EQUAL(p.v[999].line, 1000);
		CU_ASSERT_EQUAL(p.v[999].port_lo, 1000);
		CU_ASSERT_FALSE(p.v[999].allow);
		policy_free(&p);
	}
	/* No file. */
	CU_ASSERT_EQUAL(policy_load("/nonexistent/ferry.policy", &p, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot read policy file /nonexistent/ferry.policy"));
	CU_ASSERT_EQUAL(p.n, 0);
	policy_free(&p);
	policy_free(&p);	/* twice is harmless */
}

/* ---- decisions ---- */

/* The token's reach= is needed whatever the policy says. */
static void test_reach(void)
{
	struct fy_token_rule none = rule("", ""), to_b = rule("", "b"), lab = rule("", "@lab");
	struct fy_token_rule all = rule("", "*"), in_lab = rule("lab", ""), other = rule("x", "");
	struct policy p;

	/* No policy file: reach alone decides. */
	CU_ASSERT_EQUAL(decide(NULL, "a", &none, "b", &other, "h", 22), FY_E_DENIED);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "agent 'a' may not reach agent 'b'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "reach="));
	CU_ASSERT_EQUAL(decide(NULL, "a", &to_b, "b", &other, "h", 22), FY_E_OK);
	CU_ASSERT_EQUAL(decide(NULL, "a", &to_b, "c", &other, "h", 22), FY_E_DENIED);
	CU_ASSERT_EQUAL(decide(NULL, "a", &to_b, "bb", &other, "h", 22), FY_E_DENIED);
	CU_ASSERT_EQUAL(decide(NULL, "a", &lab, "c", &in_lab, "h", 22), FY_E_OK);
	CU_ASSERT_EQUAL(decide(NULL, "a", &lab, "c", &other, "h", 22), FY_E_DENIED);
	CU_ASSERT_EQUAL(decide(NULL, "a", &all, "anything", &other, "h", 22), FY_E_OK);

	/* A policy that allows everything does not widen reach. */
	load_ok("allow * * *\n", &p);
	CU_ASSERT_EQUAL(decide(&p, "a", &none, "b", &other, "h", 22), FY_E_DENIED);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "reach="));
	CU_ASSERT_EQUAL(decide(&p, "a", &to_b, "c", &other, "h", 22), FY_E_DENIED);
	CU_ASSERT_EQUAL(decide(&p, "a", &to_b, "b", &other, "h", 22), FY_E_OK);
	policy_free(&p);
	/* An empty policy allows nothing, even within reach. */
	load_ok("# nothing\n", &p);
	CU_ASSERT_EQUAL(decide(&p, "a", &all, "b", &other, "h", 22), FY_E_DENIED);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "no policy line allows it"));
	policy_free(&p);
}

static void test_first_match(void)
{
	struct fy_token_rule all = rule("", "*"), r = rule("", "");
	struct policy p;

	load_ok("deny a b db.lan\n"
		"allow * * *\n", &p);
	CU_ASSERT_EQUAL(decide(&p, "a", &all, "b", &r, "db.lan", 5432), FY_E_DENIED);
	CU_ASSERT_STRING_EQUAL(why, "agent 'a' may not reach db.lan:5432 at agent 'b' "
			       "(policy line 1)");
	CU_ASSERT_EQUAL(decide(&p, "a", &all, "b", &r, "web.lan", 80), FY_E_OK);
	CU_ASSERT_EQUAL(decide(&p, "c", &all, "b", &r, "db.lan", 5432), FY_E_OK);
	CU_ASSERT_EQUAL(decide(&p, "a", &all, "c", &r, "db.lan", 5432), FY_E_OK);
	policy_free(&p);

	/* The same lines the other way round: the allow comes first. */
	load_ok("allow * * *\n"
		"deny a b db.lan\n", &p);
	CU_ASSERT_EQUAL(decide(&p, "a", &all, "b", &r, "db.lan", 5432), FY_E_OK);
	policy_free(&p);

	/* No line matches: denied. */
	load_ok("allow a b *\n"
		"deny c d *\n", &p);
	CU_ASSERT_EQUAL(decide(&p, "a", &all, "b", &r, "h", 1), FY_E_OK);
	CU_ASSERT_EQUAL(decide(&p, "b", &all, "a", &r, "h", 1), FY_E_DENIED);
	CU_ASSERT_STRING_EQUAL(why, "agent 'b' may not reach h:1 at agent 'a' "
			       "(no policy line allows it)");
	CU_ASSERT_EQUAL(decide(&p, "c", &all, "d", &r, "h", 1), FY_E_DENIED);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "(policy line 2)"));
	policy_free(&p);

	/* A later line numbers the refusal with its own line. */
	load_ok("# header\n\nallow a b web.lan\n\ndeny a b *\n", &p);
	CU_ASSERT_EQUAL(decide(&p, "a", &all, "b", &r, "db.lan", 22), FY_E_DENIED);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "(policy line 5)"));
	policy_free(&p);
}

static void test_agent_patterns(void)
{
	struct fy_token_rule ops = rule("ops,admin", "*"), guest = rule("guests", "*");
	struct fy_token_rule srv = rule("servers", ""), plain = rule("", "");
	struct policy p;

	load_ok("deny @guests * *\n"
		"allow @ops @servers *\n"
		"allow pi-* nas-? *\n", &p);
	CU_ASSERT_EQUAL(decide(&p, "laptop", &ops, "db1", &srv, "h", 22), FY_E_OK);
	CU_ASSERT_EQUAL(decide(&p, "laptop", &ops, "db1", &plain, "h", 22), FY_E_DENIED);
	CU_ASSERT_EQUAL(decide(&p, "pi-1", &guest, "nas-a", &srv, "h", 22), FY_E_DENIED);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "(policy line 1)"));
	CU_ASSERT_EQUAL(decide(&p, "pi-1", &plain, "nas-a", &srv, "h", 22), FY_E_DENIED);
	/* plain has no reach: that is said first */
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "reach="));
	CU_ASSERT_EQUAL(decide(&p, "pi-1", &ops, "nas-a", &plain, "h", 22), FY_E_OK);
	CU_ASSERT_EQUAL(decide(&p, "pi-kitchen", &ops, "nas-b", &plain, "h", 22), FY_E_OK);
	CU_ASSERT_EQUAL(decide(&p, "pi-1", &ops, "nas-ab", &plain, "h", 22), FY_E_DENIED);
	CU_ASSERT_EQUAL(decide(&p, "pi", &ops, "nas-a", &plain, "h", 22), FY_E_DENIED);
	/* Agent names match as written (tokens name agents exactly). */
	CU_ASSERT_EQUAL(decide(&p, "PI-1", &ops, "nas-a", &plain, "h", 22), FY_E_DENIED);
	/* A group named like an agent is still a group. */
	CU_ASSERT_EQUAL(decide(&p, "ops", &plain, "servers", &plain, "h", 22), FY_E_DENIED);
	policy_free(&p);
}

static void test_targets(void)
{
	struct fy_token_rule all = rule("", "*"), r = rule("", "");
	static const struct {
		const char *line;
		const char *host;
		uint16_t port;
		uint32_t want;
	} v[] = {
		{ "db.lan:5432", "db.lan", 5432, FY_E_OK },
		{ "db.lan:5432", "DB.Lan", 5432, FY_E_OK },	/* names: any case */
		{ "db.lan:5432", "db.lan", 5433, FY_E_DENIED },
		{ "db.lan:5432", "xdb.lan", 5432, FY_E_DENIED },
		{ "db.lan:5432", "db.lan.evil", 5432, FY_E_DENIED },
		{ "*.lan:1-1024", "x.lan", 1, FY_E_OK },
		{ "*.lan:1-1024", "a.b.lan", 1024, FY_E_OK },
		{ "*.lan:1-1024", "x.lan", 1025, FY_E_DENIED },
		{ "*.lan:1-1024", "lan", 22, FY_E_DENIED },
		{ "*:22", "anything", 22, FY_E_OK },
		{ "*:22", "10.0.0.1", 22, FY_E_OK },
		{ "*:22", "anything", 23, FY_E_DENIED },
		{ "10.0.0.0/24:22", "10.0.0.0", 22, FY_E_OK },
		{ "10.0.0.0/24:22", "10.0.0.255", 22, FY_E_OK },
		{ "10.0.0.0/24:22", "10.0.1.0", 22, FY_E_DENIED },
		{ "10.0.0.0/24:22", "10.0.0.9", 23, FY_E_DENIED },
		{ "10.0.0.0/24:22", "db.lan", 22, FY_E_DENIED },	/* names never match a prefix */
		{ "10.0.0.0/24:22", "fd00::1", 22, FY_E_DENIED },
		{ "10.0.0.7", "10.0.0.7", 9, FY_E_OK },
		{ "10.0.0.7", "10.0.0.8", 9, FY_E_DENIED },
		{ "10.128.0.0/9", "10.200.1.1", 9, FY_E_OK },
		{ "10.128.0.0/9", "10.127.1.1", 9, FY_E_DENIED },
		{ "0.0.0.0/0", "203.0.113.9", 9, FY_E_OK },
		{ "0.0.0.0/0", "::1", 9, FY_E_DENIED },
		{ "fd00::/8", "fd12::1", 65535, FY_E_OK },
		{ "fd00::/8", "fe00::1", 1, FY_E_DENIED },
		{ "fd00::/8", "10.0.0.1", 1, FY_E_DENIED },
		{ "[fd00::/8]:443", "fdff::1", 443, FY_E_OK },
		{ "[fd00::/8]:443", "fdff::1", 444, FY_E_DENIED },
		{ "[::1]:22", "::1", 22, FY_E_OK },
		{ "[::1]:22", "0::1", 22, FY_E_OK },		/* the address, not the text */
		{ "[::1]:22", "::2", 22, FY_E_DENIED },
		/* The agent's --allow syntax for a v6 prefix works here too. */
		{ "[fd00::]/8:443", "fd00::5", 443, FY_E_OK },
		{ "[fd00::]/8:443", "fd00::5", 80, FY_E_DENIED },
		{ "[fd00::]/8", "fd00::5", 80, FY_E_OK },
		{ "[fd00::]/8", "fe00::5", 80, FY_E_DENIED },
	};

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		char text[256], err[512];
		struct policy p;
		uint32_t got;

		snprintf(text, sizeof(text), "allow a b %s\n", v[i].line);
		if (load_text(text, &p, err, sizeof(err)) < 0) {
			fprintf(stderr, "\n  '%s' refused: %s\n", v[i].line, err);
			CU_FAIL("target refused");
			continue;
		}
		got = decide(&p, "a", &all, "b", &r, v[i].host, v[i].port);
		if (got != v[i].want)
			fprintf(stderr, "\n  allow a b %s, %s:%u: got %u (%s)\n", v[i].line,
				v[i].host, v[i].port, got, why);
		CU_ASSERT_EQUAL(got, v[i].want);
		policy_free(&p);
	}
}

/* The agent reads an address literal the way getaddrinfo does: "10.5",
 * "167772165", "0xa000005" and "012.0.0.5" are all 10.0.0.5 to it, and an
 * IPv4-mapped IPv6 address reaches the IPv4 one. A line about an address
 * must see through those spellings, or a deny line is bypassed. */
static void test_address_spellings(void)
{
	struct fy_token_rule all = rule("", "*"), r = rule("", "");
	static const char *const same[] = {
		"10.0.0.5", "167772165", "0xa000005", "0xA000005", "012.0.0.5", "10.5", "10.0.5",
		"::ffff:10.0.0.5", "::FFFF:a00:5",
	};
	struct policy p;

	load_ok("deny * * 10.0.0.0/24\n"
		"allow * * *\n", &p);
	for (size_t i = 0; i < ARRAY_LEN(same); i++) {
		uint32_t got = decide(&p, "a", &all, "b", &r, same[i], 22);

		if (got != FY_E_DENIED)
			fprintf(stderr, "\n  '%s' got past 'deny * * 10.0.0.0/24'\n", same[i]);
		CU_ASSERT_EQUAL(got, FY_E_DENIED);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, "(policy line 1)"));
	}
	/* Not 10.0.0.x, however written. */
	CU_ASSERT_EQUAL(decide(&p, "a", &all, "b", &r, "10.0.1.5", 22), FY_E_OK);
	CU_ASSERT_EQUAL(decide(&p, "a", &all, "b", &r, "0xa000105", 22), FY_E_OK);
	CU_ASSERT_EQUAL(decide(&p, "a", &all, "b", &r, "::ffff:10.0.1.5", 22), FY_E_OK);
	CU_ASSERT_EQUAL(decide(&p, "a", &all, "b", &r, "db.lan", 22), FY_E_OK);
	CU_ASSERT_EQUAL(decide(&p, "a", &all, "b", &r, "10.0.0.5.lan", 22), FY_E_OK);
	policy_free(&p);

	/* And an allow line sees them the same way. */
	load_ok("allow a b 10.0.0.0/24:22\n", &p);
	CU_ASSERT_EQUAL(decide(&p, "a", &all, "b", &r, "::ffff:10.0.0.9", 22), FY_E_OK);
	CU_ASSERT_EQUAL(decide(&p, "a", &all, "b", &r, "10.9", 22), FY_E_OK);
	CU_ASSERT_EQUAL(decide(&p, "a", &all, "b", &r, "::ffff:10.0.0.9", 23), FY_E_DENIED);
	policy_free(&p);
}

static int setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ferry-policy-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(path, sizeof(path), "%s/policy", tmpdir);
	return 0;
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "parse", test_parse },
		{ "parse empty", test_parse_empty },
		{ "parse errors name the line", test_parse_errors },
		{ "parse limits", test_parse_limits },
		{ "token reach", test_reach },
		{ "first match wins", test_first_match },
		{ "agent globs and groups", test_agent_patterns },
		{ "targets", test_targets },
		{ "address spellings", test_address_spellings },
	};
	static const struct cu_suite suites[] = {
		{ "policy", setup, tests, ARRAY_LEN(tests) },
	};
	int rc = cu_run_suites(suites, ARRAY_LEN(suites));

	unlink(path);
	rmdir(tmpdir);
	return rc;
}
