/* The ingress's parsers: request heads and bodies (hparse.c, over
 * http_parser) and the ClientHello's server name (sni.c). Table-driven:
 * what must route, what must be refused with which status, and every
 * truncation of a good input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "cu_run.h"
#include "hparse.h"
#include "sni.h"
#include "sni_build.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The whole input at once, then byte by byte (the buffer grows as a
 * connection's would): the same verdict both ways. */
static long head_all(struct hparse *h, const char *s)
{
	hp_init(h);
	return hp_head(h, (const uint8_t *)s, strlen(s));
}

static long head_bytewise(struct hparse *h, const char *s)
{
	size_t n = strlen(s);
	long r = 0;

	hp_init(h);
	for (size_t i = 1; i <= n && r == 0; i++)
		r = hp_head(h, (const uint8_t *)s, i);
	return r;
}

static void test_head_ok(void)
{
	static const char req[] = "GET /a/b?c=1 HTTP/1.1\r\nHost: Web.Example.org:8443\r\n"
				  "X-Forwarded-For: 6.6.6.6\r\nAccept: */*\r\n\r\n";
	struct hparse h;
	long r = head_all(&h, req);

	CU_ASSERT_EQUAL(r, (long)strlen(req));
	CU_ASSERT_TRUE(h.msg_done);	/* GET without a body: complete */
	CU_ASSERT_FALSE(h.upgrade);
	CU_ASSERT_EQUAL(h.nhdr, 3);
	CU_ASSERT_EQUAL(h.host, 0);
	CU_ASSERT_EQUAL(h.url.len, strlen("/a/b?c=1"));
	CU_ASSERT_EQUAL(memcmp(req + h.url.off, "/a/b?c=1", h.url.len), 0);
	CU_ASSERT_EQUAL(memcmp(req + h.hdr[0].value.off, "Web.Example.org:8443",
			       h.hdr[0].value.len), 0);
	CU_ASSERT_TRUE(hp_header_is(&h, (const uint8_t *)req, 1, "x-forwarded-for"));
	CU_ASSERT_STRING_EQUAL(hp_method(&h), "GET");
	CU_ASSERT_EQUAL(head_bytewise(&h, req), (long)strlen(req));
	/* Asked again with nothing new (an event without bytes): still
	 * waiting, not "the end". */
	hp_init(&h);
	CU_ASSERT_EQUAL(hp_head(&h, (const uint8_t *)req, 10), 0);
	CU_ASSERT_EQUAL(hp_head(&h, (const uint8_t *)req, 10), 0);
	CU_ASSERT_EQUAL(hp_head(&h, (const uint8_t *)req, strlen(req)), (long)strlen(req));
	CU_ASSERT_EQUAL(h.nhdr, 3);
	CU_ASSERT_EQUAL(memcmp(req + h.hdr[2].value.off, "*/*", h.hdr[2].value.len), 0);
}

/* Content-Length and chunked bodies end where they should; what follows
 * is the next request's. */
static void test_body_bounds(void)
{
	static const struct {
		const char *name, *req;
		size_t body;	/* bytes of the body (after the head) */
	} v[] = {
		{ "length", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 5 },
		{ "chunked", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: x\r\n\r\n", 38 },
		{ "empty", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 0 },
	};
	static const char next[] = "GET /next HTTP/1.1\r\n\r\n";

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		char buf[512];
		size_t rl = strlen(v[i].req), hl = rl - v[i].body;
		struct hparse h;
		long r, k, got = 0;

		snprintf(buf, sizeof(buf), "%s%s", v[i].req, next);
		r = head_all(&h, buf);
		CU_ASSERT_EQUAL(r, (long)hl);
		if (v[i].body == 0) {
			CU_ASSERT_TRUE(h.msg_done);
			continue;
		}
		CU_ASSERT_FALSE(h.msg_done);
		/* Body fed in 2-byte pieces, past its end. */
		for (size_t off = hl; off < strlen(buf) && !h.msg_done; off += (size_t)k) {
			size_t n = strlen(buf) - off < 2 ? strlen(buf) - off : 2;

			k = hp_body(&h, (const uint8_t *)buf + off, n);
			CU_ASSERT_FATAL(k >= 0);
			got += k;
		}
		CU_ASSERT_TRUE(h.msg_done);
		if (got != (long)v[i].body)
			fprintf(stderr, "\n  %s: body %ld, want %zu\n", v[i].name, got, v[i].body);
		CU_ASSERT_EQUAL(got, (long)v[i].body);
	}
}

static void test_upgrade(void)
{
	static const char req[] = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
				  "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n\x81\x85";
	struct hparse h;

	CU_ASSERT_EQUAL(head_all(&h, req), (long)strlen(req) - 2);
	CU_ASSERT_TRUE(h.msg_done);
	CU_ASSERT_TRUE(h.upgrade);
}

/* Refused heads: status and a reason, both byte by byte and at once. */
static void test_head_refused(void)
{
	static const struct {
		const char *name, *req;
		int status;
	} v[] = {
		{ "CL+TE", "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
		  400 },
		{ "TE+CL", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		  400 },
		{ "CL twice, differing", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
		  400 },
		{ "CL not a number", "POST / HTTP/1.1\r\nContent-Length: 3x\r\n\r\n", 400 },
		{ "two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
		{ "obs-fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400 },
		{ "space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400 },
		{ "NUL in value", "GET / HTTP/1.1\r\nX: a\001b\r\n\r\n", 400 },
		{ "not HTTP", "\x16\x03\x01\x00\x10hello", 400 },
		{ "bad version", "GET / HTTP/9.9x\r\n\r\n", 400 },
	};

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		struct hparse h;
		long a = head_all(&h, v[i].req);
		int sa = h.status;
		long b = head_bytewise(&h, v[i].req);

		if (a != -1 || b != -1 || sa != v[i].status || h.status != v[i].status || !h.why)
			fprintf(stderr, "\n  '%s': %ld/%ld status %d/%d\n", v[i].name, a, b, sa,
				h.status);
		CU_ASSERT_EQUAL(a, -1);
		CU_ASSERT_EQUAL(b, -1);
		CU_ASSERT_EQUAL(sa, v[i].status);
		CU_ASSERT_PTR_NOT_NULL(h.why);
	}
}

static void test_too_many_headers(void)
{
	char req[4096];
	size_t off = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n");
	struct hparse h;

	for (int i = 0; i <= HP_MAX_HEADERS; i++)
		off += (size_t)snprintf(req + off, sizeof(req) - off, "X%d: v\r\n", i);
	snprintf(req + off, sizeof(req) - off, "\r\n");
	CU_ASSERT_EQUAL(head_all(&h, req), -1);
	CU_ASSERT_EQUAL(h.status, 431);
}

static void test_bad_chunk(void)
{
	static const char req[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
	static const char *const bodies[] = { "zz\r\n", "3\r\nabcX", "3\r\nabc\rX", "-1\r\n",
					      "ffffffffffffffffff\r\n", "3\r\nabcXY0\r\n\r\n" };

	for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
		struct hparse h;
		long r = 0;

		/* At once, and split after every byte (the CRLF check spans
		 * feeds). */
		CU_ASSERT_EQUAL_FATAL(head_all(&h, req), (long)strlen(req));
		CU_ASSERT_EQUAL(hp_body(&h, (const uint8_t *)bodies[i], strlen(bodies[i])), -1);
		CU_ASSERT_EQUAL(h.status, 400);
		CU_ASSERT_EQUAL_FATAL(head_all(&h, req), (long)strlen(req));
		for (size_t j = 0; j < strlen(bodies[i]) && r >= 0; j++)
			r = hp_body(&h, (const uint8_t *)bodies[i] + j, 1);
		if (r != -1)
			fprintf(stderr, "\n  bad chunk %zu accepted byte by byte\n", i);
		CU_ASSERT_EQUAL(r, -1);
	}
}

/* ---- SNI ---- */

static void test_sni_ok(void)
{
	uint8_t b[600];
	char name[SNI_NAME_MAX + 1];
	const char *why = NULL;
	size_t n = sni_build(b, "Pi-Home.Example.ORG");

	CU_ASSERT_EQUAL(sni_parse(b, n, name, &why), (int)n);
	CU_ASSERT_STRING_EQUAL(name, "pi-home.example.org");
	/* Every shorter prefix asks for more; nothing is read past it (ASan
	 * sees a copy of exactly that length). */
	for (size_t i = 0; i < n; i++) {
		uint8_t *c = malloc(i ? i : 1);

		memcpy(c, b, i);
		CU_ASSERT_EQUAL(sni_parse(c, i, name, &why), 0);
		free(c);
	}
	n = sni_build(b, NULL);
	CU_ASSERT_EQUAL(sni_parse(b, n, name, &why), (int)n);
	CU_ASSERT_STRING_EQUAL(name, "");
}

static void test_sni_refused(void)
{
	uint8_t b[600], c[600];
	char name[SNI_NAME_MAX + 1];
	const char *why;
	size_t n = sni_build(b, "a.example.org");
	/* Offsets in sni_build's layout. */
	size_t ext_len_off = 5 + 4 + 2 + 32 + 1 + 32 + 2 + 4 + 2;
	static const char *const bad_names[] = { "a b", "a/b", "x\001" };

	memcpy(c, b, n);
	c[0] = 0x17;
	CU_ASSERT_EQUAL(sni_parse(c, n, name, &why), -1);
	memcpy(c, b, n);
	c[5] = 2;	/* ServerHello */
	CU_ASSERT_EQUAL(sni_parse(c, n, name, &why), -1);
	memcpy(c, b, n);
	c[3] = 0x40;	/* record longer than 16384 */
	c[4] = 0x01;
	CU_ASSERT_EQUAL(sni_parse(c, n, name, &why), -1);
	memcpy(c, b, n);
	c[7]++;		/* handshake longer than its record: split */
	CU_ASSERT_EQUAL(sni_parse(c, n, name, &why), -1);
	memcpy(c, b, n);
	c[ext_len_off + 1]++;	/* extensions longer than the hello */
	CU_ASSERT_EQUAL(sni_parse(c, n, name, &why), -1);
	memcpy(c, b, n);
	c[5 + 4 + 2 + 32] = 33;	/* session id of 33 */
	CU_ASSERT_EQUAL(sni_parse(c, n, name, &why), -1);
	for (size_t i = 0; i < ARRAY_LEN(bad_names); i++) {
		n = sni_build(c, bad_names[i]);
		why = NULL;
		CU_ASSERT_EQUAL(sni_parse(c, n, name, &why), -1);
		CU_ASSERT_PTR_NOT_NULL(why);
	}
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "head ok", test_head_ok },
		{ "body bounds", test_body_bounds },
		{ "upgrade", test_upgrade },
		{ "head refused", test_head_refused },
		{ "too many headers", test_too_many_headers },
		{ "bad chunk", test_bad_chunk },
		{ "sni ok", test_sni_ok },
		{ "sni refused", test_sni_refused },
	};
	return cu_run("ingress", tests, ARRAY_LEN(tests));
}
