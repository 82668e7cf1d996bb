/* Unit tests for the agent's parsers, compiled in directly: --allow
 * (agent/allow.c) and how a DIAL is judged against it, the SOCKS5 server
 * side of -D (agent/socks.c, RFC 1928 / RFC 1929, exact reply bytes), and
 * the command line (agent/config.c: -R, -L, -D, -W, --socks-auth and
 * agent_cfg_parse's checks). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cu_run.h"

/* ---- --allow ---- */

static struct agent_cfg cfg;

/* cfg with exactly these --allow entries (each must parse). */
static void set_allows(const char *const *specs, size_t n)
{
	char err[300];

	memset(&cfg, 0, sizeof(cfg));
	for (size_t i = 0; i < n; i++) {
		int r = allow_parse(specs[i], &cfg.allows[i], err, sizeof(err));

		if (r < 0)
			fprintf(stderr, "\n  allow '%s': %s\n", specs[i], err);
		CU_ASSERT_EQUAL_FATAL(r, 0);
	}
	cfg.nallows = (unsigned)n;
}

static struct sockaddr_storage v4(const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	CU_ASSERT_EQUAL(inet_pton(AF_INET, addr, &in->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	CU_ASSERT_EQUAL(inet_pton(AF_INET6, addr, &in6->sin6_addr), 1);
	return ss;
}

static void test_allow_parse_good(void)
{
	static const struct {
		const char *spec;
		int kind;		/* ALLOW_NAME or ALLOW_PREFIX */
		unsigned protos;
		const char *name;	/* ALLOW_NAME */
		int family;		/* ALLOW_PREFIX */
		const char *addr;
		unsigned prefix;
		uint16_t lo, hi;
	} v[] = {
		{ "db.lan:5432", ALLOW_NAME, ALLOW_TCP | ALLOW_UDP, "db.lan", 0, NULL, 0, 5432, 5432 },
		{ "*.lan:*", ALLOW_NAME, ALLOW_TCP | ALLOW_UDP, "*.lan", 0, NULL, 0, 1, 65535 },
		{ "DB_1-x.Lan:1-1024", ALLOW_NAME, ALLOW_TCP | ALLOW_UDP, "DB_1-x.Lan", 0, NULL, 0,
		  1, 1024 },
		{ "tcp:host:80", ALLOW_NAME, ALLOW_TCP, "host", 0, NULL, 0, 80, 80 },
		{ "udp:ntp?.lan:123", ALLOW_NAME, ALLOW_UDP, "ntp?.lan", 0, NULL, 0, 123, 123 },
		{ "10.0.0.0/24:22", ALLOW_PREFIX, ALLOW_TCP | ALLOW_UDP, NULL, AF_INET, "10.0.0.0",
		  24, 22, 22 },
		{ "10.0.0.7:22", ALLOW_PREFIX, ALLOW_TCP | ALLOW_UDP, NULL, AF_INET, "10.0.0.7", 32,
		  22, 22 },
		{ "0.0.0.0/0:65535", ALLOW_PREFIX, ALLOW_TCP | ALLOW_UDP, NULL, AF_INET, "0.0.0.0", 0,
		  65535, 65535 },
		{ "udp:10.0.0.53:53", ALLOW_PREFIX, ALLOW_UDP, NULL, AF_INET, "10.0.0.53", 32, 53, 53 },
		{ "[fd00::]/8:1-1024", ALLOW_PREFIX, ALLOW_TCP | ALLOW_UDP, NULL, AF_INET6, "fd00::",
		  8, 1, 1024 },
		{ "[::1]:22", ALLOW_PREFIX, ALLOW_TCP | ALLOW_UDP, NULL, AF_INET6, "::1", 128, 22, 22 },
		{ "tcp:[2001:db8::]/128:*", ALLOW_PREFIX, ALLOW_TCP, NULL, AF_INET6, "2001:db8::", 128,
		  1, 65535 },
	};
	char err[300];

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		struct allow al;
		uint8_t want[16] = { 0 };
		int r;

		memset(&al, 0x5a, sizeof(al));
		err[0] = '\0';
		r = allow_parse(v[i].spec, &al, err, sizeof(err));
		if (r != 0)
			fprintf(stderr, "\n  allow '%s' refused: %s\n", v[i].spec, err);
		CU_ASSERT_EQUAL_FATAL(r, 0);
		CU_ASSERT_EQUAL(al.kind, v[i].kind);
		CU_ASSERT_EQUAL(al.protos, v[i].protos);
		CU_ASSERT_EQUAL(al.port_lo, v[i].lo);
		CU_ASSERT_EQUAL(al.port_hi, v[i].hi);
		if (v[i].kind == ALLOW_NAME) {
			CU_ASSERT_STRING_EQUAL(al.name, v[i].name);
		} else {
			CU_ASSERT_EQUAL(al.family, v[i].family);
			CU_ASSERT_EQUAL(al.prefix, v[i].prefix);
			CU_ASSERT_EQUAL(inet_pton(v[i].family, v[i].addr, want), 1);
			CU_ASSERT_EQUAL(memcmp(al.addr, want, v[i].family == AF_INET ? 4 : 16), 0);
		}
	}
}

static void test_allow_parse_bad(void)
{
	static const char *const bad[] = {
		"db.lan",		/* no port */
		"db.lan:",		/* empty port */
		"db.lan:0",
		"db.lan:70000",
		"db.lan:65536",
		"db.lan:-1",
		"db.lan:22x",
		"db.lan:100-10",	/* lo > hi */
		"db.lan:0-10",
		"db.lan:10-",
		"db.lan:1-70000",
		"db.lan:**",
		"db.lan:+22",		/* strtoul would take these */
		"db.lan: 22",
		"db.lan:1-+5",
		"db.lan:1- 5",
		"db.lan:1--5",
		"db.lan:-5",
		"10.0.0.0/33:22",
		"10.0.0.0/:22",
		"10.0.0.0/24x:22",
		"[fd00::]/129:22",
		"[fd00::]/8",		/* no port after the prefix */
		"[fd00::]",
		"[fd00::]22",
		"[fd00::1:22",		/* no closing bracket */
		":22",			/* empty host */
		"[]:22",
		"tcp::22",
		"udp:",
		"",
		"db lan:22",		/* garbage characters */
		"db;rm:22",
		"db/lan:22",		/* a prefix length on a name */
		"db.lan/24:22",
		"db\n.lan:22",
		"h\xc3\xa9.lan:22",
		"tcp:udp:h:22",
	};
	char err[300], big[400], name256[300];

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct allow al;
		int r;

		err[0] = '\0';
		r = allow_parse(bad[i], &al, err, sizeof(err));
		if (r == 0)
			fprintf(stderr, "\n  allow '%s' accepted\n", bad[i]);
		CU_ASSERT_EQUAL(r, -1);
		/* The message says what was wrong and how it should look. */
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad --allow '"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "HOST:PORT"));
	}
	/* The message quotes the spec as given, protocol prefix included. */
	CU_ASSERT_EQUAL(allow_parse("udp:10.0.0.53:0", &(struct allow){ 0 }, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "'udp:10.0.0.53:0'"));
	/* Too long for any host. */
	memset(big, 'a', sizeof(big) - 4);
	memcpy(big + sizeof(big) - 4, ":22", 4);
	CU_ASSERT_EQUAL(allow_parse(big, &(struct allow){ 0 }, err, sizeof(err)), -1);
	/* A name of 255 characters fits, 256 do not. */
	memset(name256, 'n', 255);
	memcpy(name256 + 255, ":22", 4);
	CU_ASSERT_EQUAL(allow_parse(name256, &(struct allow){ 0 }, err, sizeof(err)), 0);
	memset(name256, 'n', 256);
	memcpy(name256 + 256, ":22", 4);
	CU_ASSERT_EQUAL(allow_parse(name256, &(struct allow){ 0 }, err, sizeof(err)), -1);
	/* A small error buffer is cut, never overrun. */
	memset(err, 'x', sizeof(err));
	CU_ASSERT_EQUAL(allow_parse("db.lan", &(struct allow){ 0 }, err, 8), -1);
	CU_ASSERT_EQUAL(strlen(err), 7);
	CU_ASSERT_EQUAL(err[8], 'x');
}

static void test_allow_name(void)
{
	static const char *const specs[] = {
		"db.lan:5432", "*.web.lan:80-443", "tcp:ssh.lan:22", "udp:dns.lan:53",
		"10.0.0.0/24:*",
	};

	set_allows(specs, ARRAY_LEN(specs));
	CU_ASSERT_TRUE(allow_name(&cfg, false, "db.lan", 5432));
	CU_ASSERT_TRUE(allow_name(&cfg, true, "db.lan", 5432));	/* both by default */
	CU_ASSERT_TRUE(allow_name(&cfg, false, "DB.Lan", 5432));	/* any case */
	CU_ASSERT_FALSE(allow_name(&cfg, false, "db.lan", 5433));
	CU_ASSERT_FALSE(allow_name(&cfg, false, "db.lan", 5431));
	CU_ASSERT_FALSE(allow_name(&cfg, false, "db.lan.evil", 5432));
	CU_ASSERT_FALSE(allow_name(&cfg, false, "xdb.lan", 5432));
	CU_ASSERT_FALSE(allow_name(&cfg, false, "db", 5432));
	/* Glob and range, edges included. */
	CU_ASSERT_TRUE(allow_name(&cfg, false, "a.web.lan", 80));
	CU_ASSERT_TRUE(allow_name(&cfg, false, "A.B.WEB.LAN", 443));
	CU_ASSERT_FALSE(allow_name(&cfg, false, "a.web.lan", 79));
	CU_ASSERT_FALSE(allow_name(&cfg, false, "a.web.lan", 444));
	CU_ASSERT_FALSE(allow_name(&cfg, false, "web.lan", 80));
	/* Protocol masks. */
	CU_ASSERT_TRUE(allow_name(&cfg, false, "ssh.lan", 22));
	CU_ASSERT_FALSE(allow_name(&cfg, true, "ssh.lan", 22));
	CU_ASSERT_TRUE(allow_name(&cfg, true, "dns.lan", 53));
	CU_ASSERT_FALSE(allow_name(&cfg, false, "dns.lan", 53));
	/* A prefix entry never allows by name, even an address in it. */
	CU_ASSERT_FALSE(allow_name(&cfg, false, "10.0.0.5", 22));
	/* Nothing listed: nothing allowed. */
	set_allows(NULL, 0);
	CU_ASSERT_FALSE(allow_name(&cfg, false, "db.lan", 5432));
	CU_ASSERT_FALSE(allow_prefix_port(&cfg, false, 22));
	{
		struct sockaddr_storage ss = v4("10.0.0.5", 22);

		CU_ASSERT_FALSE(allow_addr(&cfg, false, &ss));
	}
}

static void test_allow_addr_v4(void)
{
	static const char *const specs[] = {
		"10.0.0.0/24:22", "192.168.1.7:80", "172.16.0.0/12:443", "tcp:10.9.0.0/16:8080",
		"udp:10.0.0.53:53", "10.128.0.0/9:7",
	};
	static const struct {
		const char *addr;
		uint16_t port;
		bool udp, want;
	} v[] = {
		{ "10.0.0.0", 22, false, true },
		{ "10.0.0.255", 22, false, true },
		{ "10.0.0.77", 22, true, true },
		{ "10.0.1.0", 22, false, false },	/* just past /24 */
		{ "9.255.255.255", 22, false, false },	/* just before */
		{ "10.0.0.5", 23, false, false },	/* wrong port */
		{ "192.168.1.7", 80, false, true },	/* /32 */
		{ "192.168.1.6", 80, false, false },
		{ "192.168.1.8", 80, false, false },
		{ "172.31.255.255", 443, false, true },	/* /12 */
		{ "172.32.0.0", 443, false, false },
		{ "172.15.255.255", 443, false, false },
		{ "10.9.1.1", 8080, false, true },
		{ "10.9.1.1", 8080, true, false },	/* tcp only */
		{ "10.0.0.53", 53, true, true },
		{ "10.0.0.53", 53, false, false },	/* udp only */
		{ "10.200.0.1", 7, false, true },	/* /9 cuts inside a byte */
		{ "10.127.255.255", 7, false, false },
	};

	set_allows(specs, ARRAY_LEN(specs));
	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		struct sockaddr_storage ss = v4(v[i].addr, v[i].port);
		bool got = allow_addr(&cfg, v[i].udp, &ss);

		if (got != v[i].want)
			fprintf(stderr, "\n  allow_addr %s:%u %s: got %d\n", v[i].addr, v[i].port,
				v[i].udp ? "udp" : "tcp", got);
		CU_ASSERT_EQUAL(got, v[i].want);
	}
	/* /0 covers every address, on its port only. */
	{
		static const char *const any[] = { "0.0.0.0/0:5" };
		struct sockaddr_storage a = v4("255.255.255.255", 5), b = v4("1.2.3.4", 6);
		struct sockaddr_storage c = v6("::1", 5);

		set_allows(any, 1);
		CU_ASSERT_TRUE(allow_addr(&cfg, false, &a));
		CU_ASSERT_FALSE(allow_addr(&cfg, false, &b));
		/* An IPv4 prefix says nothing about IPv6. */
		CU_ASSERT_FALSE(allow_addr(&cfg, false, &c));
	}
}

static void test_allow_addr_v6(void)
{
	static const char *const specs[] = {
		"[fd00::]/8:1-1024", "[::1]:22", "[2001:db8:1::]/48:443", "10.0.0.0/24:22",
	};
	static const struct {
		const char *addr;
		uint16_t port;
		bool want;
	} v[] = {
		{ "fd00::1", 22, true },
		{ "fdff:ffff::1", 1024, true },
		{ "fd00::1", 1025, false },
		{ "fe00::1", 22, false },
		{ "fc00::1", 22, false },
		{ "::1", 22, true },
		{ "::2", 22, false },
		{ "2001:db8:1:ffff::1", 443, true },
		{ "2001:db8:2::1", 443, false },
		/* IPv4-mapped: judged as the IPv4 address. */
		{ "::ffff:10.0.0.5", 22, true },
		{ "::ffff:10.0.1.5", 22, false },
		{ "::ffff:10.0.0.5", 23, false },
		/* IPv4-compatible (deprecated) is not mapped. */
		{ "::10.0.0.5", 22, false },
	};

	set_allows(specs, ARRAY_LEN(specs));
	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		struct sockaddr_storage ss = v6(v[i].addr, v[i].port);
		bool got = allow_addr(&cfg, false, &ss);

		if (got != v[i].want)
			fprintf(stderr, "\n  allow_addr [%s]:%u: got %d\n", v[i].addr, v[i].port, got);
		CU_ASSERT_EQUAL(got, v[i].want);
	}
	/* Not an IP family at all. */
	{
		struct sockaddr_storage ss;

		memset(&ss, 0, sizeof(ss));
		ss.ss_family = AF_UNIX;
		CU_ASSERT_FALSE(allow_addr(&cfg, false, &ss));
	}
}

static void test_allow_prefix_port(void)
{
	static const char *const specs[] = {
		"db.lan:5432", "tcp:10.0.0.0/24:22", "udp:[fd00::]/8:53-54",
	};

	set_allows(specs, ARRAY_LEN(specs));
	CU_ASSERT_TRUE(allow_prefix_port(&cfg, false, 22));
	CU_ASSERT_FALSE(allow_prefix_port(&cfg, true, 22));
	CU_ASSERT_TRUE(allow_prefix_port(&cfg, true, 53));
	CU_ASSERT_TRUE(allow_prefix_port(&cfg, true, 54));
	CU_ASSERT_FALSE(allow_prefix_port(&cfg, true, 55));
	CU_ASSERT_FALSE(allow_prefix_port(&cfg, false, 53));
	/* Name entries are not prefixes. */
	CU_ASSERT_FALSE(allow_prefix_port(&cfg, false, 5432));
	CU_ASSERT_FALSE(allow_prefix_port(&cfg, false, 23));
}

/* ---- SOCKS5 ---- */

#define SOCKS_OUT 64

/* Feeds n bytes (n > 0) at once (step 0) or step bytes at a time until
 * socks_input stops asking for more, collecting every reply. Returns the
 * last socks_input result. */
static int socks_feed(struct socks *s, const void *p, size_t n, size_t step, uint8_t *out,
		      size_t *outlen)
{
	const uint8_t *b = p;
	int r = 0;

	*outlen = 0;
	if (!step)
		step = n;
	for (size_t off = 0; off < n && r == 0; off += step) {
		uint8_t o[SOCKS_OUT];
		size_t k = n - off < step ? n - off : step, ol = 12345;

		r = socks_input(s, b + off, k, o, &ol);
		/* The longest answer to one read: method, login status, reply. */
		CU_ASSERT_FATAL(ol <= 2 + 2 + 10);
		CU_ASSERT_FATAL(*outlen + ol <= SOCKS_OUT);
		memcpy(out + *outlen, o, ol);
		*outlen += ol;
	}
	return r;
}

static void assert_bytes(const uint8_t *got, size_t gotlen, const uint8_t *want, size_t wantlen)
{
	CU_ASSERT_EQUAL(gotlen, wantlen);
	if (gotlen == wantlen)
		CU_ASSERT_EQUAL(memcmp(got, want, wantlen), 0);
	if (gotlen != wantlen || memcmp(got, want, wantlen)) {
		fprintf(stderr, "\n  got:");
		for (size_t i = 0; i < gotlen; i++)
			fprintf(stderr, " %02x", got[i]);
		fprintf(stderr, "\n  want:");
		for (size_t i = 0; i < wantlen; i++)
			fprintf(stderr, " %02x", want[i]);
		fprintf(stderr, "\n");
	}
}

/* The SOCKS5 reply to a request: VER REP RSV ATYP=1 0.0.0.0:0 */
#define REPLY(code) { 5, (code), 0, 1, 0, 0, 0, 0, 0, 0 }

static const uint8_t greet_noauth[] = { 5, 1, 0 };
static const uint8_t req_v4[] = { 5, 1, 0, 1, 10, 0, 0, 5, 0, 22 };
static const uint8_t req_v6[] = { 5, 1, 0, 4, 0xfd, 0, 0, 0, 0, 0, 0, 0,
				  0, 0, 0, 0, 0, 0, 0, 1, 0x1f, 0x90 };
static const uint8_t req_name[] = { 5, 1, 0, 3, 6, 'd', 'b', '.', 'l', 'a', 'n', 0x15, 0x38 };
static const uint8_t login_ok[] = { 1, 5, 'a', 'l', 'i', 'c', 'e', 6, 's', '3', 'c', 'r', 'e', 't' };

static void check_target(struct socks *s, const char *host, uint16_t port)
{
	char h[FY_HOST_MAX + 1];
	uint16_t p = 0;

	socks_target(s, h, sizeof(h), &p);
	CU_ASSERT_STRING_EQUAL(h, host);
	CU_ASSERT_EQUAL(p, port);
}

static void test_socks_reply(void)
{
	uint8_t out[16];
	static const uint8_t ok[] = REPLY(0), refused[] = REPLY(5);

	memset(out, 0xee, sizeof(out));
	assert_bytes(out, socks_reply(0, out), ok, sizeof(ok));
	CU_ASSERT_EQUAL(out[10], 0xee);
	assert_bytes(out, socks_reply(5, out), refused, sizeof(refused));
}

static void test_socks_noauth_connect(void)
{
	static const struct {
		const char *name;
		const uint8_t *req;
		size_t n;
		const char *host;
		uint16_t port;
	} v[] = {
		{ "IPv4", req_v4, sizeof(req_v4), "10.0.0.5", 22 },
		{ "IPv6", req_v6, sizeof(req_v6), "fd00::1", 8080 },
		{ "domain", req_name, sizeof(req_name), "db.lan", 5432 },
	};
	static const uint8_t method0[] = { 5, 0 };

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		struct socks *s = socks_new(NULL, NULL);
		uint8_t out[SOCKS_OUT];
		const uint8_t *left;
		size_t ol;

		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		CU_ASSERT_EQUAL(socks_feed(s, greet_noauth, sizeof(greet_noauth), 0, out, &ol), 0);
		assert_bytes(out, ol, method0, sizeof(method0));
		/* Nothing is left over before the request is complete. */
		CU_ASSERT_EQUAL(socks_leftover(s, &left), 0);
		CU_ASSERT_EQUAL(socks_feed(s, v[i].req, v[i].n, 0, out, &ol), 1);
		CU_ASSERT_EQUAL(ol, 0);	/* the CONNECT reply is the caller's */
		check_target(s, v[i].host, v[i].port);
		CU_ASSERT_EQUAL(socks_leftover(s, &left), 0);
		/* Done stays done, and takes no more bytes. */
		CU_ASSERT_EQUAL(socks_input(s, (const uint8_t *)"x", 1, out, &ol), 1);
		CU_ASSERT_EQUAL(ol, 0);
		CU_ASSERT_EQUAL(socks_leftover(s, &left), 0);
		socks_free(s);
	}
}

/* Methods offered in any order and among others: the right one is chosen. */
static void test_socks_methods(void)
{
	static const uint8_t many[] = { 5, 4, 0x80, 2, 1, 0 };
	static const uint8_t only_auth[] = { 5, 1, 2 };
	static const uint8_t only_none[] = { 5, 1, 0 };
	static const uint8_t m0[] = { 5, 0 }, m2[] = { 5, 2 }, mff[] = { 5, 0xff };
	uint8_t out[SOCKS_OUT];
	size_t ol;
	struct socks *s;

	s = socks_new(NULL, NULL);
	CU_ASSERT_EQUAL(socks_feed(s, many, sizeof(many), 0, out, &ol), 0);
	assert_bytes(out, ol, m0, sizeof(m0));
	socks_free(s);

	s = socks_new("alice", "s3cret");
	CU_ASSERT_EQUAL(socks_feed(s, many, sizeof(many), 0, out, &ol), 0);
	assert_bytes(out, ol, m2, sizeof(m2));
	socks_free(s);

	/* No acceptable method: X'FF', then refused for good. */
	s = socks_new(NULL, NULL);
	CU_ASSERT_EQUAL(socks_feed(s, only_auth, sizeof(only_auth), 0, out, &ol), -1);
	assert_bytes(out, ol, mff, sizeof(mff));
	CU_ASSERT_EQUAL(socks_input(s, req_v4, sizeof(req_v4), out, &ol), -1);
	CU_ASSERT_EQUAL(ol, 0);
	socks_free(s);

	/* A login is required: a client without one is refused. */
	s = socks_new("alice", "s3cret");
	CU_ASSERT_EQUAL(socks_feed(s, only_none, sizeof(only_none), 0, out, &ol), -1);
	assert_bytes(out, ol, mff, sizeof(mff));
	socks_free(s);
}

static void test_socks_login(void)
{
	static const uint8_t greet_auth[] = { 5, 2, 0, 2 };
	static const uint8_t m2[] = { 5, 2 }, st_ok[] = { 1, 0 }, st_bad[] = { 1, 1 };
	static const uint8_t bad_pass[] = { 1, 5, 'a', 'l', 'i', 'c', 'e', 6, 's', '3', 'c', 'r',
					    'e', 'T' };
	static const uint8_t bad_user[] = { 1, 3, 'b', 'o', 'b', 6, 's', '3', 'c', 'r', 'e', 't' };
	static const uint8_t short_pass[] = { 1, 5, 'a', 'l', 'i', 'c', 'e', 5, 's', '3', 'c', 'r',
					      'e' };
	static const uint8_t long_pass[] = { 1, 5, 'a', 'l', 'i', 'c', 'e', 7, 's', '3', 'c', 'r',
					     'e', 't', '!' };
	static const uint8_t prefix_user[] = { 1, 4, 'a', 'l', 'i', 'c', 6, 's', '3', 'c', 'r', 'e',
					       't' };
	static const uint8_t bad_ver[] = { 5, 5, 'a', 'l', 'i', 'c', 'e', 6, 's', '3', 'c', 'r',
					   'e', 't' };
	static const struct {
		const char *name;
		const uint8_t *p;
		size_t n;
	} bad[] = {
		{ "wrong password", bad_pass, sizeof(bad_pass) },
		{ "wrong user", bad_user, sizeof(bad_user) },
		{ "password a prefix", short_pass, sizeof(short_pass) },
		{ "password longer", long_pass, sizeof(long_pass) },
		{ "user a prefix", prefix_user, sizeof(prefix_user) },
		{ "subnegotiation version 5", bad_ver, sizeof(bad_ver) },
	};
	uint8_t out[SOCKS_OUT];
	size_t ol;
	struct socks *s;

	/* Good login, then a CONNECT. */
	s = socks_new("alice", "s3cret");
	CU_ASSERT_EQUAL(socks_feed(s, greet_auth, sizeof(greet_auth), 0, out, &ol), 0);
	assert_bytes(out, ol, m2, sizeof(m2));
	CU_ASSERT_EQUAL(socks_feed(s, login_ok, sizeof(login_ok), 0, out, &ol), 0);
	assert_bytes(out, ol, st_ok, sizeof(st_ok));
	CU_ASSERT_EQUAL(socks_feed(s, req_name, sizeof(req_name), 0, out, &ol), 1);
	CU_ASSERT_EQUAL(ol, 0);
	check_target(s, "db.lan", 5432);
	socks_free(s);

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		s = socks_new("alice", "s3cret");
		CU_ASSERT_EQUAL(socks_feed(s, greet_auth, sizeof(greet_auth), 0, out, &ol), 0);
		CU_ASSERT_EQUAL(socks_feed(s, bad[i].p, bad[i].n, 0, out, &ol), -1);
		/* RFC 1929: STATUS other than 0, and the connection is closed. */
		assert_bytes(out, ol, st_bad, sizeof(st_bad));
		/* Refused for good: the request is never looked at. */
		CU_ASSERT_EQUAL(socks_input(s, req_v4, sizeof(req_v4), out, &ol), -1);
		CU_ASSERT_EQUAL(ol, 0);
		socks_free(s);
	}

	/* All in one read: greeting, login, request and early data. */
	{
		uint8_t all[128];
		size_t n = 0;
		const uint8_t *left;
		static const uint8_t replies[] = { 5, 2, 1, 0 };

		memcpy(all + n, greet_auth, sizeof(greet_auth));
		n += sizeof(greet_auth);
		memcpy(all + n, login_ok, sizeof(login_ok));
		n += sizeof(login_ok);
		memcpy(all + n, req_v4, sizeof(req_v4));
		n += sizeof(req_v4);
		memcpy(all + n, "SSH-2.0", 7);
		n += 7;
		s = socks_new("alice", "s3cret");
		CU_ASSERT_EQUAL(socks_feed(s, all, n, 0, out, &ol), 1);
		assert_bytes(out, ol, replies, sizeof(replies));
		check_target(s, "10.0.0.5", 22);
		CU_ASSERT_EQUAL(socks_leftover(s, &left), 7);
		CU_ASSERT_EQUAL(memcmp(left, "SSH-2.0", 7), 0);
		socks_free(s);
	}
}

/* Every message fed one byte at a time gives the same replies and target
 * as fed whole. */
static void test_socks_bytewise(void)
{
	static const uint8_t greet_auth[] = { 5, 2, 0, 2 };
	static const struct {
		const char *user, *pass;
		const uint8_t *req;
		size_t n;
		const char *host;
		uint16_t port;
	} v[] = {
		{ NULL, NULL, req_v4, sizeof(req_v4), "10.0.0.5", 22 },
		{ NULL, NULL, req_v6, sizeof(req_v6), "fd00::1", 8080 },
		{ NULL, NULL, req_name, sizeof(req_name), "db.lan", 5432 },
		{ "alice", "s3cret", req_name, sizeof(req_name), "db.lan", 5432 },
	};

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		uint8_t all[128], whole[SOCKS_OUT], bytes[SOCKS_OUT];
		size_t n = 0, wl, bl;
		struct socks *a = socks_new(v[i].user, v[i].pass);
		struct socks *b = socks_new(v[i].user, v[i].pass);

		if (v[i].user) {
			memcpy(all, greet_auth, sizeof(greet_auth));
			n = sizeof(greet_auth);
			memcpy(all + n, login_ok, sizeof(login_ok));
			n += sizeof(login_ok);
		} else {
			memcpy(all, greet_noauth, sizeof(greet_noauth));
			n = sizeof(greet_noauth);
		}
		memcpy(all + n, v[i].req, v[i].n);
		n += v[i].n;
		CU_ASSERT_EQUAL(socks_feed(a, all, n, 0, whole, &wl), 1);
		/* One byte at a time: 0 until the very last byte. */
		bl = 0;
		for (size_t k = 0; k < n; k++) {
			uint8_t o[SOCKS_OUT];
			size_t ol;
			int r = socks_input(b, all + k, 1, o, &ol);

			CU_ASSERT_EQUAL(r, k + 1 == n ? 1 : 0);
			memcpy(bytes + bl, o, ol);
			bl += ol;
		}
		assert_bytes(bytes, bl, whole, wl);
		check_target(a, v[i].host, v[i].port);
		check_target(b, v[i].host, v[i].port);
		socks_free(a);
		socks_free(b);
	}
}

static void test_socks_leftover(void)
{
	uint8_t all[64], out[SOCKS_OUT];
	size_t n = 0, ol;
	const uint8_t *left;
	struct socks *s = socks_new(NULL, NULL);

	memcpy(all, greet_noauth, sizeof(greet_noauth));
	n = sizeof(greet_noauth);
	memcpy(all + n, req_v6, sizeof(req_v6));
	n += sizeof(req_v6);
	memcpy(all + n, "GET / HTTP/1.0\r\n", 16);
	n += 16;
	CU_ASSERT_EQUAL(socks_feed(s, all, n, 0, out, &ol), 1);
	CU_ASSERT_EQUAL(ol, 2);
	check_target(s, "fd00::1", 8080);
	CU_ASSERT_EQUAL_FATAL(socks_leftover(s, &left), 16);
	CU_ASSERT_EQUAL(memcmp(left, "GET / HTTP/1.0\r\n", 16), 0);
	socks_free(s);

	/* The request's tail and data in a later read than its head. */
	s = socks_new(NULL, NULL);
	CU_ASSERT_EQUAL(socks_feed(s, greet_noauth, sizeof(greet_noauth), 0, out, &ol), 0);
	CU_ASSERT_EQUAL(socks_input(s, req_v4, 4, out, &ol), 0);
	memcpy(all, req_v4 + 4, sizeof(req_v4) - 4);
	memcpy(all + sizeof(req_v4) - 4, "xy", 2);
	CU_ASSERT_EQUAL(socks_input(s, all, sizeof(req_v4) - 4 + 2, out, &ol), 1);
	CU_ASSERT_EQUAL_FATAL(socks_leftover(s, &left), 2);
	CU_ASSERT_EQUAL(memcmp(left, "xy", 2), 0);
	check_target(s, "10.0.0.5", 22);
	socks_free(s);
}

/* Malformed requests: refused, with the RFC 1928 reply that says why
 * (or nothing, where the client speaks no SOCKS5 we could answer). */
static void test_socks_malformed(void)
{
	static const uint8_t bind[] = { 5, 2, 0, 1, 10, 0, 0, 5, 0, 22 };
	static const uint8_t udp_assoc[] = { 5, 3, 0, 1, 10, 0, 0, 5, 0, 22 };
	static const uint8_t cmd0[] = { 5, 0, 0, 1, 10, 0, 0, 5, 0, 22 };
	static const uint8_t atyp0[] = { 5, 1, 0, 0, 10, 0, 0, 5, 0, 22 };
	static const uint8_t atyp2[] = { 5, 1, 0, 2, 10, 0, 0, 5, 0, 22 };
	static const uint8_t atyp5[] = { 5, 1, 0, 5, 10, 0, 0, 5, 0, 22 };
	static const uint8_t rsv1[] = { 5, 1, 1, 1, 10, 0, 0, 5, 0, 22 };
	static const uint8_t ver4[] = { 4, 1, 0, 1, 10, 0, 0, 5, 0, 22 };
	static const uint8_t name0[] = { 5, 1, 0, 3, 0, 0, 22 };
	static const uint8_t port0[] = { 5, 1, 0, 1, 10, 0, 0, 5, 0, 0 };
	static const uint8_t name_space[] = { 5, 1, 0, 3, 3, 'a', ' ', 'b', 0, 22 };
	static const uint8_t name_nul[] = { 5, 1, 0, 3, 3, 'a', 0, 'b', 0, 22 };
	static const uint8_t name_pct[] = { 5, 1, 0, 3, 5, 'a', '%', '0', 'a', 'b', 0, 22 };
	static const uint8_t name_colon[] = { 5, 1, 0, 3, 3, 'a', ':', 'b', 0, 22 };
	static const uint8_t name_hi[] = { 5, 1, 0, 3, 2, 0xc3, 0xa9, 0, 22 };
	static const struct {
		const char *name;
		const uint8_t *p;
		size_t n;
		uint8_t rep;
	} v[] = {
		{ "BIND", bind, sizeof(bind), 0x07 },
		{ "UDP ASSOCIATE", udp_assoc, sizeof(udp_assoc), 0x07 },
		{ "command 0", cmd0, sizeof(cmd0), 0x07 },
		{ "ATYP 0", atyp0, sizeof(atyp0), 0x08 },
		{ "ATYP 2", atyp2, sizeof(atyp2), 0x08 },
		{ "ATYP 5", atyp5, sizeof(atyp5), 0x08 },
		{ "RSV 1", rsv1, sizeof(rsv1), 0x01 },
		{ "request version 4", ver4, sizeof(ver4), 0x01 },
		{ "domain length 0", name0, sizeof(name0), 0x01 },
		{ "port 0", port0, sizeof(port0), 0x01 },
		{ "domain with space", name_space, sizeof(name_space), 0x01 },
		{ "domain with NUL", name_nul, sizeof(name_nul), 0x01 },
		{ "domain with %", name_pct, sizeof(name_pct), 0x01 },
		{ "domain with :", name_colon, sizeof(name_colon), 0x01 },
		{ "domain with UTF-8", name_hi, sizeof(name_hi), 0x01 },
	};

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		uint8_t out[SOCKS_OUT];
		const uint8_t want[] = REPLY(v[i].rep);
		size_t ol;
		const uint8_t *left;

		for (size_t step = 0; step <= 1; step++) {
			struct socks *s = socks_new(NULL, NULL);

			socks_feed(s, greet_noauth, sizeof(greet_noauth), 0, out, &ol);
			CU_ASSERT_EQUAL(socks_feed(s, v[i].p, v[i].n, step, out, &ol), -1);
			if (ol != sizeof(want) || memcmp(out, want, ol))
				fprintf(stderr, "\n  %s (step %zu):", v[i].name, step);
			assert_bytes(out, ol, want, sizeof(want));
			CU_ASSERT_EQUAL(socks_leftover(s, &left), 0);
			/* Refused stays refused, without another reply. */
			CU_ASSERT_EQUAL(socks_input(s, req_v4, sizeof(req_v4), out, &ol), -1);
			CU_ASSERT_EQUAL(ol, 0);
			socks_free(s);
		}
	}
}

/* The greeting: not SOCKS5, or no methods at all. No reply is sent (a
 * SOCKS4 client would not understand a SOCKS5 one); the connection ends. */
static void test_socks_bad_greeting(void)
{
	static const uint8_t socks4[] = { 4, 1, 0, 22, 10, 0, 0, 5, 'u', 0 };
	static const uint8_t http[] = { 'G', 'E', 'T', ' ', '/' };
	static const uint8_t nmethods0[] = { 5, 0 };
	static const struct {
		const char *name;
		const uint8_t *p;
		size_t n;
	} v[] = {
		{ "SOCKS4", socks4, sizeof(socks4) },
		{ "HTTP", http, sizeof(http) },
		{ "NMETHODS 0", nmethods0, sizeof(nmethods0) },
	};

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		uint8_t out[SOCKS_OUT];
		size_t ol;
		struct socks *s = socks_new(NULL, NULL);

		CU_ASSERT_EQUAL(socks_feed(s, v[i].p, v[i].n, 0, out, &ol), -1);
		CU_ASSERT_EQUAL(ol, 0);
		CU_ASSERT_EQUAL(socks_input(s, greet_noauth, sizeof(greet_noauth), out, &ol), -1);
		socks_free(s);
	}
	/* A partial greeting waits. */
	{
		uint8_t out[SOCKS_OUT];
		size_t ol;
		struct socks *s = socks_new(NULL, NULL);
		static const uint8_t part[] = { 5, 3, 1, 2 };

		CU_ASSERT_EQUAL(socks_input(s, part, 1, out, &ol), 0);
		CU_ASSERT_EQUAL(ol, 0);
		CU_ASSERT_EQUAL(socks_input(s, part + 1, 3, out, &ol), 0);
		CU_ASSERT_EQUAL(ol, 0);	/* 3 methods announced, 2 arrived */
		CU_ASSERT_EQUAL(socks_input(s, (const uint8_t *)"\0", 1, out, &ol), 0);
		CU_ASSERT_EQUAL(ol, 2);
		CU_ASSERT_EQUAL(out[0], 5);
		CU_ASSERT_EQUAL(out[1], 0);
		socks_free(s);
	}
}

/* The longest messages fit; more than one message can hold before it is
 * answered is refused, whether it comes at once or piece by piece. */
static void test_socks_overlong(void)
{
	uint8_t big[1024], out[SOCKS_OUT];
	size_t ol;
	struct socks *s;
	char host[FY_HOST_MAX + 1];
	uint16_t port;

	/* A greeting listing 255 methods, the last the one we take. */
	memset(big, 1, sizeof(big));
	big[0] = 5;
	big[1] = 255;
	big[256] = 0;
	s = socks_new(NULL, NULL);
	CU_ASSERT_EQUAL(socks_input(s, big, 257, out, &ol), 0);
	CU_ASSERT_EQUAL(ol, 2);
	CU_ASSERT_EQUAL(out[1], 0);
	/* The longest domain name: 255 characters. */
	big[0] = 5;
	big[1] = 1;
	big[2] = 0;
	big[3] = 3;
	big[4] = 255;
	memset(big + 5, 'a', 255);
	big[260] = 0x01;
	big[261] = 0xbb;
	CU_ASSERT_EQUAL(socks_input(s, big, 262, out, &ol), 1);
	socks_target(s, host, sizeof(host), &port);
	CU_ASSERT_EQUAL(strlen(host), 255);
	CU_ASSERT_EQUAL(port, 443);
	socks_free(s);

	/* The longest login: 255-byte user and password. */
	{
		static char user[256], pass[256];
		static const uint8_t greet_auth[] = { 5, 1, 2 };

		memset(user, 'u', 255);
		memset(pass, 'p', 255);
		s = socks_new(user, pass);
		CU_ASSERT_EQUAL(socks_input(s, greet_auth, sizeof(greet_auth), out, &ol), 0);
		big[0] = 1;
		big[1] = 255;
		memset(big + 2, 'u', 255);
		big[257] = 255;
		memset(big + 258, 'p', 255);
		CU_ASSERT_EQUAL(socks_input(s, big, 513, out, &ol), 0);
		CU_ASSERT_EQUAL(ol, 2);
		CU_ASSERT_EQUAL(out[0], 1);
		CU_ASSERT_EQUAL(out[1], 0);
		socks_free(s);
	}

	/* Garbage far longer than any message, at once: refused. */
	memset(big, 5, sizeof(big));
	s = socks_new(NULL, NULL);
	CU_ASSERT_EQUAL(socks_input(s, big, sizeof(big), out, &ol), -1);
	CU_ASSERT_EQUAL(ol, 0);
	socks_free(s);

	/* A greeting fed in pieces is judged as soon as it is complete (at
	 * 257 bytes for 255 methods), not when the buffer fills. */
	{
		int r = 0;
		size_t fed;

		s = socks_new(NULL, NULL);
		big[0] = 5;
		big[1] = 255;
		memset(big + 2, 1, sizeof(big) - 2);	/* GSSAPI only: not ours */
		for (fed = 0; fed < sizeof(big) && r == 0; fed += 100)
			r = socks_input(s, big + fed, 100, out, &ol);
		CU_ASSERT_EQUAL(r, -1);
		CU_ASSERT_EQUAL(fed, 300);
		CU_ASSERT_EQUAL(ol, 2);
		CU_ASSERT_EQUAL(out[1], 0xff);
		socks_free(s);
	}
	/* After a complete greeting, request bytes beyond the buffer in one
	 * read: refused without a reply. */
	s = socks_new(NULL, NULL);
	socks_input(s, greet_noauth, sizeof(greet_noauth), out, &ol);
	memset(big, 'a', sizeof(big));
	CU_ASSERT_EQUAL(socks_input(s, big, 600, out, &ol), -1);
	CU_ASSERT_EQUAL(ol, 0);
	socks_free(s);
}

/* ---- command line ---- */

static void test_parse_remote(void)
{
	static const struct {
		const char *spec;
		const char *bind;
		uint16_t port;
		const char *host;
		uint16_t hostport;
		bool udp;
	} good[] = {
		{ "2222:127.0.0.1:22", "", 2222, "127.0.0.1", 22, false },
		{ "0.0.0.0:2222:db.lan:5432", "0.0.0.0", 2222, "db.lan", 5432, false },
		{ "*:1:h:65535", "*", 1, "h", 65535, false },
		{ "[::1]:2222:[fd00::1]:22", "::1", 2222, "fd00::1", 22, false },
		{ "2222:[::1]:22", "", 2222, "::1", 22, false },
		{ "udp:5353:10.0.0.53:53", "", 5353, "10.0.0.53", 53, true },
		{ "udp:[::]:53:[fd00::53]:53", "::", 53, "fd00::53", 53, true },
		{ "tcp:2222:h:22", "", 2222, "h", 22, false },
	};
	static const char *const bad[] = {
		"", "2222", "2222:host", "0:h:22", "2222:h:0", "70000:h:22", "2222:h:65536",
		"2222::22", "2222:[]:22", "a:b:c:d:e", "x:h:22", "2222:h:22x", "-1:h:22",
		"udp:", "udp:2222:h", "udp:0:h:53", "[::1:2222:h:22",
		"2222:h:+22", "2222:h: 22", "+2222:h:22",
	};
	char err[300], longhost[400];
	struct fwd f;

	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		int r = agent_parse_remote(good[i].spec, &f, err, sizeof(err));

		if (r)
			fprintf(stderr, "\n  -R '%s': %s\n", good[i].spec, err);
		CU_ASSERT_EQUAL_FATAL(r, 0);
		CU_ASSERT_STRING_EQUAL(f.bind, good[i].bind);
		CU_ASSERT_EQUAL(f.port, good[i].port);
		CU_ASSERT_STRING_EQUAL(f.host, good[i].host);
		CU_ASSERT_EQUAL(f.hostport, good[i].hostport);
		CU_ASSERT_EQUAL(f.udp, good[i].udp);
		CU_ASSERT_FALSE(f.up);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		if (agent_parse_remote(bad[i], &f, err, sizeof(err)) == 0)
			fprintf(stderr, "\n  -R '%s' accepted\n", bad[i]);
		CU_ASSERT_EQUAL(agent_parse_remote(bad[i], &f, err, sizeof(err)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad -R '"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i]));
	}
	/* Hosts up to 255 characters. */
	memset(longhost, 'h', sizeof(longhost));
	memcpy(longhost, "22:", 3);
	memcpy(longhost + 3 + 255, ":22", 4);
	CU_ASSERT_EQUAL(agent_parse_remote(longhost, &f, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(strlen(f.host), 255);
	memset(longhost + 3, 'h', 256);
	memcpy(longhost + 3 + 256, ":22", 4);
	CU_ASSERT_EQUAL(agent_parse_remote(longhost, &f, err, sizeof(err)), -1);
}

static void test_parse_local_L(void)
{
	static const struct {
		const char *spec;
		enum lkind kind;
		const char *bind;
		uint16_t port;
		const char *agent, *host;
		uint16_t hostport;
	} good[] = {
		{ "8080:b:10.0.0.1:80", L_TCP, "", 8080, "b", "10.0.0.1", 80 },
		{ "0.0.0.0:8080:b:host:80", L_TCP, "0.0.0.0", 8080, "b", "host", 80 },
		{ "[::1]:8080:b:[fd00::1]:80", L_TCP, "::1", 8080, "b", "fd00::1", 80 },
		{ "udp:5353:b:10.0.0.53:53", L_UDP, "", 5353, "b", "10.0.0.53", 53 },
		{ "udp:127.0.0.2:5353:site_B-1.x:dns.lan:53", L_UDP, "127.0.0.2", 5353, "site_B-1.x",
		  "dns.lan", 53 },
	};
	static const char *const bad[] = {
		"8080:b/c:h:80", "8080:b c:h:80", "8080:b:h", "8080:b", "0:b:h:80", "8080:b:h:0",
		"8080::h:80", "8080:b::80", "8080:b:[]:80", "70000:b:h:80", "8080:b:h:80:x:y",
		"udp:8080:b:h", "udp:", "", "x:8080:b:h:80:9",
	};
	char err[300], agent64[100];
	struct lfwd lf;

	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		int r = agent_parse_local('L', good[i].spec, &lf, err, sizeof(err));

		if (r)
			fprintf(stderr, "\n  -L '%s': %s\n", good[i].spec, err);
		CU_ASSERT_EQUAL_FATAL(r, 0);
		CU_ASSERT_EQUAL(lf.kind, good[i].kind);
		CU_ASSERT_STRING_EQUAL(lf.bind, good[i].bind);
		CU_ASSERT_EQUAL(lf.port, good[i].port);
		CU_ASSERT_STRING_EQUAL(lf.agent, good[i].agent);
		CU_ASSERT_STRING_EQUAL(lf.host, good[i].host);
		CU_ASSERT_EQUAL(lf.hostport, good[i].hostport);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		if (agent_parse_local('L', bad[i], &lf, err, sizeof(err)) == 0)
			fprintf(stderr, "\n  -L '%s' accepted\n", bad[i]);
		CU_ASSERT_EQUAL(agent_parse_local('L', bad[i], &lf, err, sizeof(err)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad -L '"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i]));
	}
	/* Agent names up to 63 characters. */
	snprintf(agent64, sizeof(agent64), "1:%.63s:h:2",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	CU_ASSERT_EQUAL(agent_parse_local('L', agent64, &lf, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(strlen(lf.agent), 63);
	snprintf(agent64, sizeof(agent64), "1:%.64s:h:2",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	CU_ASSERT_EQUAL(agent_parse_local('L', agent64, &lf, err, sizeof(err)), -1);
}

static void test_parse_local_D(void)
{
	static const struct {
		const char *spec;
		const char *bind;
		uint16_t port;
		const char *agent;
	} good[] = {
		{ "1080", "", 1080, "" },
		{ "127.0.0.1:1080", "127.0.0.1", 1080, "" },
		{ "1080:b", "", 1080, "b" },
		{ "0.0.0.0:1080:b", "0.0.0.0", 1080, "b" },
		{ "[::1]:1080", "::1", 1080, "" },
		{ "[::]:1080:site-b", "::", 1080, "site-b" },
	};
	static const char *const bad[] = {
		"", "0", "70000", "x", "1080:b/c", "a:b:c:d", "h:0", "h:1080:b c", ":1080",
		"[]:1080:b",
	};
	char err[300];
	struct lfwd lf;

	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		int r = agent_parse_local('D', good[i].spec, &lf, err, sizeof(err));

		if (r)
			fprintf(stderr, "\n  -D '%s': %s\n", good[i].spec, err);
		CU_ASSERT_EQUAL_FATAL(r, 0);
		CU_ASSERT_EQUAL(lf.kind, L_SOCKS);
		CU_ASSERT_STRING_EQUAL(lf.bind, good[i].bind);
		CU_ASSERT_EQUAL(lf.port, good[i].port);
		CU_ASSERT_STRING_EQUAL(lf.agent, good[i].agent);
		CU_ASSERT_STRING_EQUAL(lf.host, "");
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		if (agent_parse_local('D', bad[i], &lf, err, sizeof(err)) == 0)
			fprintf(stderr, "\n  -D '%s' accepted\n", bad[i]);
		CU_ASSERT_EQUAL(agent_parse_local('D', bad[i], &lf, err, sizeof(err)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad -D '"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "[bind:]port[:AGENT]"));
	}
}

static void test_parse_local_W(void)
{
	static const struct {
		const char *spec, *agent, *host;
		uint16_t port;
	} good[] = {
		{ "b:host:22", "b", "host", 22 },
		{ "b:[::1]:22", "b", "::1", 22 },
		{ "site-b.lan:10.0.0.5:65535", "site-b.lan", "10.0.0.5", 65535 },
	};
	static const char *const bad[] = {
		"", "b", "b:host", "b/c:host:22", ":host:22", "b::22", "b:[]:22", "b:host:0",
		"b:host:22:x", "b:host:x", "udp:b:host:22",
	};
	char err[300];
	struct lfwd lf;

	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		int r = agent_parse_local('W', good[i].spec, &lf, err, sizeof(err));

		if (r)
			fprintf(stderr, "\n  -W '%s': %s\n", good[i].spec, err);
		CU_ASSERT_EQUAL_FATAL(r, 0);
		CU_ASSERT_EQUAL(lf.kind, L_STDIO);
		CU_ASSERT_STRING_EQUAL(lf.agent, good[i].agent);
		CU_ASSERT_STRING_EQUAL(lf.host, good[i].host);
		CU_ASSERT_EQUAL(lf.hostport, good[i].port);
		CU_ASSERT_EQUAL(lf.port, 0);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		if (agent_parse_local('W', bad[i], &lf, err, sizeof(err)) == 0)
			fprintf(stderr, "\n  -W '%s' accepted\n", bad[i]);
		CU_ASSERT_EQUAL(agent_parse_local('W', bad[i], &lf, err, sizeof(err)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad -W '"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "AGENT:host:port"));
	}
}

/* agent_cfg_parse over a NULL-terminated list (copied: getopt permutes
 * and the parser rewrites argv[0]). */
static int cfg_parse(const char *const *args)
{
	char *argv[64], *copy[64];
	int argc = 0, r;

	while (args[argc]) {
		copy[argc] = argv[argc] = strdup(args[argc]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(argv[argc]);
		argc++;
	}
	argv[argc] = NULL;
	memset(&cfg, 0, sizeof(cfg));	/* agent_cfg_parse takes it zeroed */
	r = agent_cfg_parse(&cfg, argc, argv);
	/* argv itself was permuted, and argv[0] replaced. */
	for (int i = 0; i < argc; i++)
		free(copy[i]);
	return r;
}

#define BASE "ferry-agent", "--relay", "relay.example:7000", "--token", "fyt_x", "--ca", "/nonexistent/ca.pem"

/* --transport, --wss-port, --wss-path, --proxy: defaults, values, refusals. */
static void test_cfg_transport(void)
{
	static const struct {
		const char *opt, *val;
		int rc;
	} v[] = {
		{ "--transport", "tls", -1 }, { "--transport", "wss", -1 },
		{ "--transport", "auto", -1 }, { "--transport", "ws", 2 },
		{ "--transport", "", 2 }, { "--wss-port", "8443", -1 }, { "--wss-port", "0", 2 },
		{ "--wss-port", "65536", 2 }, { "--wss-port", "+443", 2 },
		{ "--wss-path", "/t", -1 }, { "--wss-path", "t", 2 }, { "--wss-path", "/a b", 2 },
		{ "--proxy", "none", -1 }, { "--proxy", "http://p:3128", -1 },
		{ "--proxy", "http://u:secret@p:3128", -1 }, { "--proxy", "https://p:3128", 2 },
		{ "--proxy", "http://p:99999", 2 },
	};

	unsetenv("FERRY_TOKEN");
	{
		static const char *const a[] = { BASE, "-R", "2222:127.0.0.1:22", NULL };

		CU_ASSERT_EQUAL_FATAL(cfg_parse(a), -1);
		CU_ASSERT_EQUAL(cfg.transport, TR_TLS);
		CU_ASSERT_EQUAL(cfg.wss_port, 443);
		CU_ASSERT_STRING_EQUAL(cfg.wss_path, WSS_DEFAULT_PATH);
		CU_ASSERT_FALSE(cfg.proxy_given);
	}
	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		const char *a[] = { BASE, "-R", "2222:127.0.0.1:22", v[i].opt, v[i].val, NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), v[i].rc);
	}
	{
		static const char *const a[] = { BASE, "-R", "1:h:1", "--transport", "auto",
						 "--wss-port", "8443", "--wss-path", "/x/y", NULL };

		CU_ASSERT_EQUAL_FATAL(cfg_parse(a), -1);
		CU_ASSERT_EQUAL(cfg.transport, TR_AUTO);
		CU_ASSERT_EQUAL(cfg.wss_port, 8443);
		CU_ASSERT_STRING_EQUAL(cfg.wss_path, "/x/y");
	}
}

static void test_cfg_parse(void)
{
	unsetenv("FERRY_TOKEN");
	{
		static const char *const a[] = { BASE, NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), 2);	/* nothing to do */
	}
	{
		static const char *const a[] = { BASE, "-R", "2222:127.0.0.1:22", NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), -1);
		CU_ASSERT_EQUAL(cfg.nfwds, 1);
		CU_ASSERT_EQUAL(cfg.log_level, FY_LOG_INFO);
		CU_ASSERT_STRING_EQUAL(cfg.relay, "relay.example:7000");
		CU_ASSERT_STRING_EQUAL(cfg.token, "fyt_x");
		CU_ASSERT_EQUAL(cfg.udp_idle_ms, 60000);
	}
	{
		static const char *const a[] = { BASE, "--allow", "db.lan:5432", NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), -1);
		CU_ASSERT_EQUAL(cfg.nallows, 1);
		CU_ASSERT_EQUAL(cfg.nfwds + cfg.nlfwds, 0);
	}
	{
		static const char *const a[] = { BASE, "--allow", "db.lan", NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), 2);
	}
	{
		static const char *const a[] = { BASE, "-L", "8080:b:h:80", "-D", "1080:b",
						 "--local", "udp:53:b:h:53", NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), -1);
		CU_ASSERT_EQUAL_FATAL(cfg.nlfwds, 3);
		CU_ASSERT_EQUAL(cfg.lfwds[0].kind, L_TCP);
		CU_ASSERT_EQUAL(cfg.lfwds[1].kind, L_SOCKS);
		CU_ASSERT_EQUAL(cfg.lfwds[2].kind, L_UDP);
		CU_ASSERT_EQUAL(cfg.log_level, FY_LOG_INFO);
	}
	{
		static const char *const a[] = { BASE, "-L", "8080:b/c:h:80", NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), 2);
	}
	/* -W: alone it is enough; the log goes quiet under ProxyCommand. */
	{
		static const char *const a[] = { BASE, "-W", "b:host:22", NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), -1);
		CU_ASSERT_EQUAL_FATAL(cfg.nlfwds, 1);
		CU_ASSERT_EQUAL(cfg.lfwds[0].kind, L_STDIO);
		CU_ASSERT_EQUAL(cfg.log_level, FY_LOG_WARN);
		CU_ASSERT_FALSE(cfg.log_given);
	}
	{
		static const char *const a[] = { BASE, "--log-level", "debug", "-W", "b:host:22", NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), -1);
		CU_ASSERT_EQUAL(cfg.log_level, FY_LOG_DEBUG);
		CU_ASSERT_TRUE(cfg.log_given);
	}
	{
		static const char *const a[] = { BASE, "-W", "b:host:22", "--log-level", "info", NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), -1);
		CU_ASSERT_EQUAL(cfg.log_level, FY_LOG_INFO);
	}
	{
		static const char *const a[] = { BASE, "-W", "b:host:22", "--stdio", "c:h:2", NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), 2);	/* at most one -W */
	}
	{
		static const char *const a[] = { BASE, "-W", "b:host", NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), 2);
	}
	/* What every run needs. */
	{
		static const char *const a[] = { "ferry-agent", "--token", "t", "--ca", "c", "-W",
						 "b:h:22", NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), 2);	/* no --relay */
	}
	{
		static const char *const a[] = { "ferry-agent", "--relay", "r:1", "--ca", "c", "-W",
						 "b:h:22", NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), 2);	/* no token */
	}
	{
		static const char *const a[] = { "ferry-agent", "--relay", "r:1", "--ca", "c", "-W",
						 "b:h:22", NULL };

		setenv("FERRY_TOKEN", "fyt_env", 1);
		CU_ASSERT_EQUAL(cfg_parse(a), -1);	/* token from the environment */
		CU_ASSERT_STRING_EQUAL(cfg.token, "fyt_env");
		unsetenv("FERRY_TOKEN");
	}
	{
		static const char *const a[] = { "ferry-agent", "--relay", "r:1", "--token", "t",
						 "-W", "b:h:22", NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), 2);	/* neither --ca nor --fingerprint */
	}
	{
		static const char *const a[] = { BASE, "--fingerprint", "SHA256:00", "-W", "b:h:22",
						 NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), 2);	/* both */
	}
	{
		static const char *const a[] = { BASE, "-W", "b:h:22", "stray", NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), 2);
	}
	{
		static const char *const a[] = { BASE, "-W", "b:h:22", "--udp-idle-ms", "99", NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), 2);
	}
	{
		static const char *const a[] = { BASE, "-W", "b:h:22", "--udp-idle-ms", "100", NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), -1);
		CU_ASSERT_EQUAL(cfg.udp_idle_ms, 100);
	}
}

static void test_cfg_socks_auth(void)
{
	static const struct {
		const char *arg;
		int rc;
		const char *user, *pass;
	} v[] = {
		{ "alice:s3cret", -1, "alice", "s3cret" },
		{ "a:b:c", -1, "a", "b:c" },	/* the first colon splits */
		{ "a:b", -1, "a", "b" },
		{ "alice", 2, NULL, NULL },
		{ ":pass", 2, NULL, NULL },
		{ "user:", 2, NULL, NULL },
		{ ":", 2, NULL, NULL },
		{ "", 2, NULL, NULL },
	};
	char u255[300], u256[300];

	unsetenv("FERRY_TOKEN");
	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		const char *a[] = { BASE, "-D", "1080:b", "--socks-auth", v[i].arg, NULL };
		int r = cfg_parse(a);

		if (r != v[i].rc)
			fprintf(stderr, "\n  --socks-auth '%s': got %d\n", v[i].arg, r);
		CU_ASSERT_EQUAL(r, v[i].rc);
		if (r == -1 && v[i].user) {
			CU_ASSERT_STRING_EQUAL(cfg.socks_user, v[i].user);
			CU_ASSERT_STRING_EQUAL(cfg.socks_pass, v[i].pass);
		}
	}
	/* RFC 1929 carries each in one length byte: 255 at most. */
	memset(u255, 'u', 255);
	memcpy(u255 + 255, ":p", 3);
	memset(u256, 'u', 256);
	memcpy(u256 + 256, ":p", 3);
	{
		const char *a[] = { BASE, "-D", "1080", "--socks-auth", u255, NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), -1);
		CU_ASSERT_EQUAL(strlen(cfg.socks_user), 255);
	}
	{
		const char *a[] = { BASE, "-D", "1080", "--socks-auth", u256, NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), 2);
	}
	memset(u256, 'p', sizeof(u256));
	memcpy(u256, "u:", 2);
	u256[2 + 256] = '\0';
	{
		const char *a[] = { BASE, "-D", "1080", "--socks-auth", u256, NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), 2);
	}
	u256[2 + 255] = '\0';
	{
		const char *a[] = { BASE, "-D", "1080", "--socks-auth", u256, NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), -1);
		CU_ASSERT_EQUAL(strlen(cfg.socks_pass), 255);
	}
	/* Without --socks-auth, no login. */
	{
		const char *a[] = { BASE, "-D", "1080", NULL };

		CU_ASSERT_EQUAL(cfg_parse(a), -1);
		CU_ASSERT_STRING_EQUAL(cfg.socks_user, "");
		CU_ASSERT_STRING_EQUAL(cfg.socks_pass, "");
	}
}

int main(void)
{
	static const struct cu_test allow_tests[] = {
		{ "parse good", test_allow_parse_good },
		{ "parse bad", test_allow_parse_bad },
		{ "by name", test_allow_name },
		{ "by IPv4 address", test_allow_addr_v4 },
		{ "by IPv6 address", test_allow_addr_v6 },
		{ "prefix port", test_allow_prefix_port },
	};
	static const struct cu_test socks_tests[] = {
		{ "reply bytes", test_socks_reply },
		{ "no auth CONNECT", test_socks_noauth_connect },
		{ "method selection", test_socks_methods },
		{ "RFC 1929 login", test_socks_login },
		{ "one byte at a time", test_socks_bytewise },
		{ "leftover", test_socks_leftover },
		{ "malformed requests", test_socks_malformed },
		{ "bad greetings", test_socks_bad_greeting },
		{ "overlong", test_socks_overlong },
	};
	static const struct cu_test config_tests[] = {
		{ "-R", test_parse_remote },
		{ "-L", test_parse_local_L },
		{ "-D", test_parse_local_D },
		{ "-W", test_parse_local_W },
		{ "agent_cfg_parse", test_cfg_parse },
		{ "transport options", test_cfg_transport },
		{ "--socks-auth", test_cfg_socks_auth },
	};
	static const struct cu_suite suites[] = {
		{ "allow", NULL, allow_tests, ARRAY_LEN(allow_tests) },
		{ "socks", NULL, socks_tests, ARRAY_LEN(socks_tests) },
		{ "config", NULL, config_tests, ARRAY_LEN(config_tests) },
	};

	return cu_run_suites(suites, ARRAY_LEN(suites));
}
