/* The HTTP transports' sans-I/O parts: the agent's proxy URL, no_proxy
 * and environment (proxy.c), response heads over http_parser (hresp.c),
 * the verdicts on a CONNECT answer and a 101 (wsc.c), the WebSocket glue
 * over wslay (lib/ws.c, wskey.c) and the relay's upgrade check (wsup.c).
 * Table-driven: good inputs whole, byte by byte and at every truncation;
 * bad inputs refused with the reason. Frames are built here by hand, not
 * by wslay, so the two cross-check each other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "cu_run.h"
#include "ferry/ws.h"
#include "hparse.h"
#include "hresp.h"
#include "wsup.h"
#include "xport.h"

/* ---- proxy URLs ---- */

static void test_proxy_parse_ok(void)
{
	static const struct {
		const char *url, *host, *auth;
		unsigned port;
	} v[] = {
		{ "http://proxy.example:3128", "proxy.example", "", 3128 },
		{ "HTTP://proxy.example:3128/", "proxy.example", "", 3128 },
		{ "proxy.example:8080", "proxy.example", "", 8080 },
		{ "http://10.0.0.1", "10.0.0.1", "", PROXY_DEFAULT_PORT },
		{ "http://[fd00::1]:3128", "fd00::1", "", 3128 },
		{ "http://[fd00::1]", "fd00::1", "", PROXY_DEFAULT_PORT },
		/* base64("user:pass"), base64("us er:p@ss:w") */
		{ "http://user:pass@p:1", "p", "dXNlcjpwYXNz", 1 },
		{ "http://us%20er:p%40ss:w@p:65535", "p", "dXMgZXI6cEBzczp3", 65535 },
		{ "http://user:@p:1", "p", "dXNlcjo=", 1 },
	};

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		struct proxy p;
		char err[300] = "";

		CU_ASSERT_EQUAL_FATAL(proxy_parse(v[i].url, &p, err, sizeof(err)), 0);
		CU_ASSERT_STRING_EQUAL(p.host, v[i].host);
		CU_ASSERT_EQUAL(p.port, v[i].port);
		CU_ASSERT_STRING_EQUAL(p.auth, v[i].auth);
	}
}

static void test_proxy_parse_bad(void)
{
	static const char *const bad[] = {
		"https://secret:secret@p:443", "socks5://p:1080", "ftp://p", "http://", "",
		"http://p:0", "http://p:65536", "http://p:80x", "http://p:", "http://p:123456",
		"http://p/path", "http://p:1/x", "http://secret@p:1", "http://:secret@p:1",
		"http://us:er:secret@p:1x", "http://u:secret%@p:1", "http://u:secret%4@p:1",
		"http://u:secret%zz@p:1", "http://u%00x:secret@p:1", "http://u:sec%00ret@p:1",
		"http://[fd00::1", "http://[fd00::1]x", "http://[]:1", "http://[g::1]:1",
		"http://p q:1", "http://p\t:1", "http://u:secret@", "http://u:secret@:1",
	};

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct proxy p;
		char err[300] = "";

		CU_ASSERT_EQUAL(proxy_parse(bad[i], &p, err, sizeof(err)), -1);
		CU_ASSERT(err[0] != '\0');
		/* An error message never repeats what was given. */
		CU_ASSERT_PTR_NULL(strstr(err, "secret"));
	}
	/* Too long for anything. */
	{
		char url[1200];
		struct proxy p;
		char err[300];

		memset(url, 'a', sizeof(url) - 1);
		url[sizeof(url) - 1] = '\0';
		CU_ASSERT_EQUAL(proxy_parse(url, &p, err, sizeof(err)), -1);
	}
}

/* Every truncation of a good URL parses or is refused: never more. */
static void test_proxy_parse_truncations(void)
{
	static const char url[] = "http://user:p%41ss@[fd00::1]:3128/";

	for (size_t n = 0; n <= strlen(url); n++) {
		char u[sizeof(url)];
		struct proxy p;
		char err[300] = "";
		int r;

		memcpy(u, url, n);
		u[n] = '\0';
		r = proxy_parse(u, &p, err, sizeof(err));
		CU_ASSERT(r == 0 || r == -1);
		if (r == 0)
			CU_ASSERT(p.host[0] != '\0' && p.port != 0);
		CU_ASSERT_PTR_NULL(strstr(err, "pAss"));
	}
}

static void test_no_proxy(void)
{
	CU_ASSERT_TRUE(proxy_excluded("relay.example.org", "relay.example.org"));
	CU_ASSERT_TRUE(proxy_excluded("a, RELAY.example.org ,b", "relay.example.org"));
	CU_ASSERT_TRUE(proxy_excluded("example.org", "relay.example.org"));
	CU_ASSERT_TRUE(proxy_excluded(".example.org", "relay.example.org"));
	CU_ASSERT_TRUE(proxy_excluded("*", "anything"));
	CU_ASSERT_TRUE(proxy_excluded("10.0.0.1", "10.0.0.1"));
	CU_ASSERT_FALSE(proxy_excluded(NULL, "relay.example.org"));
	CU_ASSERT_FALSE(proxy_excluded("", "relay.example.org"));
	CU_ASSERT_FALSE(proxy_excluded("ample.org", "relay.example.org"));
	CU_ASSERT_FALSE(proxy_excluded("other.example.org", "relay.example.org"));
	CU_ASSERT_FALSE(proxy_excluded("relay.example.org.evil", "relay.example.org"));
	CU_ASSERT_FALSE(proxy_excluded("10.0.0.10", "10.0.0.1"));
	CU_ASSERT_FALSE(proxy_excluded(",,", "relay"));
}

static void test_proxy_env(void)
{
	struct proxy p;
	char err[300];

	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	CU_ASSERT_EQUAL(proxy_from_env("relay", &p, err, sizeof(err)), 0);
	setenv("HTTPS_PROXY", "http://upper:3128", 1);
	CU_ASSERT_EQUAL(proxy_from_env("relay", &p, err, sizeof(err)), 1);
	CU_ASSERT_STRING_EQUAL(p.host, "upper");
	CU_ASSERT_STRING_EQUAL(p.from, "HTTPS_PROXY");
	setenv("https_proxy", "http://u:secret@lower:8080", 1);
	CU_ASSERT_EQUAL(proxy_from_env("relay", &p, err, sizeof(err)), 1);
	CU_ASSERT_STRING_EQUAL(p.host, "lower");
	CU_ASSERT_STRING_EQUAL(p.from, "https_proxy");
	setenv("NO_PROXY", "relay", 1);
	CU_ASSERT_EQUAL(proxy_from_env("relay", &p, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(proxy_from_env("other", &p, err, sizeof(err)), 1);
	setenv("no_proxy", "nothing", 1);	/* the lower-case one wins */
	CU_ASSERT_EQUAL(proxy_from_env("relay", &p, err, sizeof(err)), 1);
	setenv("https_proxy", "https://u:secret@lower:8080", 1);
	CU_ASSERT_EQUAL(proxy_from_env("relay", &p, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "https_proxy"));
	CU_ASSERT_PTR_NULL(strstr(err, "secret"));
	setenv("https_proxy", "", 1);	/* empty: the next one */
	CU_ASSERT_EQUAL(proxy_from_env("x", &p, err, sizeof(err)), 1);
	CU_ASSERT_STRING_EQUAL(p.host, "upper");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
}

static void test_requests(void)
{
	struct proxy p;
	char err[300], out[1400], small[40], key[FY_WS_KEY_LEN + 1];

	CU_ASSERT_EQUAL_FATAL(proxy_parse("http://user:pass@p:1", &p, err, sizeof(err)), 0);
	CU_ASSERT(proxy_request(&p, "relay.example.org", 443, out, sizeof(out)) > 0);
	CU_ASSERT_STRING_EQUAL(out, "CONNECT relay.example.org:443 HTTP/1.1\r\n"
			       "Host: relay.example.org:443\r\n"
			       "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n");
	CU_ASSERT_EQUAL_FATAL(proxy_parse("http://p:1", &p, err, sizeof(err)), 0);
	CU_ASSERT(proxy_request(&p, "fd00::2", 7000, out, sizeof(out)) > 0);
	CU_ASSERT_STRING_EQUAL(out, "CONNECT [fd00::2]:7000 HTTP/1.1\r\nHost: [fd00::2]:7000\r\n\r\n");
	CU_ASSERT_EQUAL(proxy_request(&p, "relay.example.org", 443, small, sizeof(small)), 0);
	CU_ASSERT_EQUAL_FATAL(fy_ws_new_key(key), 0);
	CU_ASSERT_TRUE(fy_ws_key_ok(key, strlen(key)));
	CU_ASSERT(wsc_request("relay", 443, "/_ferry/tunnel", key, out, sizeof(out)) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "GET /_ferry/tunnel HTTP/1.1\r\nHost: relay\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Sec-WebSocket-Protocol: ferry\r\n"));
	CU_ASSERT(wsc_request("relay", 8443, "/t", key, out, sizeof(out)) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Host: relay:8443\r\n"));
	CU_ASSERT_EQUAL(wsc_request("relay", 443, "/t", key, small, sizeof(small)), 0);
}

/* ---- response heads ---- */

static const char ok_101_fmt[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
				 "Sec-WebSocket-Protocol: ferry\r\n\r\n";
#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="		/* RFC 6455 section 1.3 */
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static void test_ws_keys(void)
{
	char acc[FY_WS_ACCEPT_LEN + 1];

	CU_ASSERT_EQUAL(fy_ws_accept(RFC_KEY, strlen(RFC_KEY), acc), 0);
	CU_ASSERT_STRING_EQUAL(acc, RFC_ACCEPT);
	CU_ASSERT_TRUE(fy_ws_key_ok(RFC_KEY, strlen(RFC_KEY)));
	CU_ASSERT_FALSE(fy_ws_key_ok("dGhlIHNhbXBsZSBub25jZQ=", 23));
	CU_ASSERT_FALSE(fy_ws_key_ok("dGhlIHNhbXBsZSBub25jZR==", 24));	/* bits left over */
	CU_ASSERT_FALSE(fy_ws_key_ok("dGhlIHNhbXBsZSBub25j*Q==", 24));
	CU_ASSERT_FALSE(fy_ws_key_ok("dGhlIHNhbXBsZSBub25jZQ=x", 24));
	CU_ASSERT_FALSE(fy_ws_key_ok("", 0));
}

/* Feeds s in pieces of step bytes: the verdict, and in *rest what
 * followed the head. */
static int feed_all(struct hresp *h, const char *s, size_t n, size_t step, size_t *rest)
{
	hresp_init(h);
	for (size_t off = 0; off < n;) {
		size_t k = n - off < step ? n - off : step;
		long r = hresp_feed(h, (const uint8_t *)s + off, k);

		if (r < 0)
			return -1;
		if (h->done) {
			*rest = n - off - (size_t)r;
			return 1;
		}
		off += k;
	}
	return 0;
}

static void test_hresp_ok(void)
{
	char head[400], msg[500];
	size_t rest = 99;
	struct hresp *h = malloc(sizeof(*h));

	snprintf(head, sizeof(head), ok_101_fmt, RFC_ACCEPT);
	snprintf(msg, sizeof(msg), "%s\x82\x01X", head);	/* a frame follows */
	for (size_t step = 1; step <= strlen(msg); step += step < 8 ? 1 : 37) {
		char err[200];

		CU_ASSERT_EQUAL(feed_all(h, msg, strlen(msg), step, &rest), 1);
		CU_ASSERT_EQUAL(rest, 3);
		CU_ASSERT_EQUAL(h->status, 101);
		CU_ASSERT_EQUAL(wsc_check(h, RFC_KEY, err, sizeof(err)), 0);
	}
	/* Every truncation of the head: not done, not refused. */
	for (size_t n = 0; n < strlen(head); n++)
		CU_ASSERT_EQUAL(feed_all(h, head, n, n ? n : 1, &rest), 0);
	CU_ASSERT_EQUAL(feed_all(h, "HTTP/1.0 200 Connection established\r\n\r\n", 39, 5, &rest), 1);
	CU_ASSERT_EQUAL(h->status, 200);
	CU_ASSERT_EQUAL(rest, 0);
	{
		char err[200];

		CU_ASSERT_EQUAL(proxy_check(h, err, sizeof(err)), 0);
	}
	free(h);
}

static void test_hresp_bad(void)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\n\r\n",		/* a request, not a response */
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/9.9\r\n\r\n",
		"\x16\x03\x01\x00\x05hello",		/* TLS where HTTP was due */
		"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
	};
	struct hresp *h = malloc(sizeof(*h));
	char *big = malloc(HRESP_MAX + 100);
	size_t rest, n = 0;

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		CU_ASSERT_EQUAL(feed_all(h, bad[i], strlen(bad[i]), 1, &rest), -1);
		CU_ASSERT_PTR_NOT_NULL(h->why);
	}
	/* A head that never ends: refused at the bound, whole or in pieces. */
	n = (size_t)snprintf(big, HRESP_MAX + 100, "HTTP/1.1 200 OK\r\n");
	while (n < HRESP_MAX + 50)
		n += (size_t)snprintf(big + n, HRESP_MAX + 100 - n, "X: y\r\n");
	CU_ASSERT_EQUAL(feed_all(h, big, n, n, &rest), -1);
	CU_ASSERT_EQUAL(feed_all(h, big, n, 1000, &rest), -1);
	/* More headers than the table holds. */
	n = (size_t)snprintf(big, HRESP_MAX, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < HRESP_MAX_HDRS + 1; i++)
		n += (size_t)snprintf(big + n, HRESP_MAX - n, "H%d: v\r\n", i);
	n += (size_t)snprintf(big + n, HRESP_MAX - n, "\r\n");
	CU_ASSERT_EQUAL(feed_all(h, big, n, 7, &rest), -1);
	free(big);
	free(h);
}

static void test_verdicts(void)
{
	static const struct {
		const char *head;
		int ok;
	} v[] = {
		{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n"
		  "Connection: keep-alive, upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
		  "Sec-WebSocket-Protocol: ferry\r\n\r\n", 0 },
		{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Accept: AAAALMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
		  "Sec-WebSocket-Protocol: ferry\r\n\r\n", -1 },
		{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n", -1 },
		{ "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\nSec-WebSocket-Protocol: ferry\r\n\r\n", -1 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", -1 },
		{ "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\n", -1 },
		{ "HTTP/1.1 501 Not Implemented\r\n\r\n", -1 },
	};
	struct hresp *h = malloc(sizeof(*h));

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		char err[300] = "";
		size_t rest;

		CU_ASSERT_EQUAL_FATAL(feed_all(h, v[i].head, strlen(v[i].head), 64, &rest), 1);
		CU_ASSERT_EQUAL(wsc_check(h, RFC_KEY, err, sizeof(err)), v[i].ok);
		CU_ASSERT(v[i].ok == 0 || err[0]);
	}
	{
		static const int st[] = { 403, 407, 502 };

		for (size_t i = 0; i < ARRAY_LEN(st); i++) {
			char head[100], err[300] = "";
			size_t rest;

			snprintf(head, sizeof(head), "HTTP/1.1 %d No\r\nContent-Length: 4\r\n\r\n", st[i]);
			CU_ASSERT_EQUAL_FATAL(feed_all(h, head, strlen(head), 3, &rest), 1);
			CU_ASSERT_EQUAL(proxy_check(h, err, sizeof(err)), -1);
			CU_ASSERT(err[0] != '\0');
		}
	}
	free(h);
}

/* ---- WebSocket frames ---- */

/* A frame as RFC 6455 section 5.2 draws it; mask: the key, or NULL. */
static size_t frame(uint8_t *out, bool fin, uint8_t op, const uint8_t *mask, const uint8_t *p,
		    uint64_t n)
{
	size_t o = 0;

	out[o++] = (uint8_t)((fin ? 0x80 : 0) | op);
	if (n < 126) {
		out[o++] = (uint8_t)((mask ? 0x80 : 0) | n);
	} else if (n < 65536) {
		out[o++] = (uint8_t)((mask ? 0x80 : 0) | 126);
		out[o++] = (uint8_t)(n >> 8);
		out[o++] = (uint8_t)n;
	} else {
		out[o++] = (uint8_t)((mask ? 0x80 : 0) | 127);
		for (int i = 7; i >= 0; i--)
			out[o++] = (uint8_t)(n >> (8 * i));
	}
	if (mask) {
		memcpy(out + o, mask, 4);
		o += 4;
	}
	for (uint64_t i = 0; p && i < n; i++)
		out[o++] = mask ? (uint8_t)(p[i] ^ mask[i % 4]) : p[i];
	return o;
}

static const uint8_t key4[4] = { 0x12, 0x34, 0x56, 0x78 };

/* Decodes in[0..n) in pieces of step: the total consumed, or -1. */
static long decode_steps(struct fy_ws *ws, const uint8_t *in, size_t n, size_t step,
			 struct fy_buf *out)
{
	size_t off = 0;

	while (off < n) {
		size_t k = n - off < step ? n - off : step;
		long r = fy_ws_decode(ws, in + off, k, out);

		if (r < 0)
			return -1;
		if ((size_t)r < k)
			return (long)(off + (size_t)r);	/* out full */
		off += k;
	}
	return (long)off;
}

static void test_ws_roundtrip(void)
{
	static const size_t sizes[] = { 0, 1, 125, 126, 65535, 65536 };
	struct fy_ws *cl = fy_ws_create(false, FY_WS_MAX_MSG);
	struct fy_ws *sv = fy_ws_create(true, FY_WS_MAX_MSG);
	uint8_t *msg = malloc(FY_WS_SEND_MSG);
	struct fy_buf wire, in;
	size_t total = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sv);
	for (size_t i = 0; i < FY_WS_SEND_MSG; i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	fy_buf_init(&wire, 1 << 20);
	fy_buf_init(&in, 1 << 20);
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		CU_ASSERT_EQUAL(fy_ws_queue(cl, msg, sizes[i]), 0);
		total += sizes[i];
	}
	CU_ASSERT_EQUAL(fy_ws_queue(cl, msg, FY_WS_SEND_MSG + 1), -1);
	CU_ASSERT_TRUE(fy_ws_want_write(cl));
	CU_ASSERT_EQUAL(fy_ws_encode(cl, &wire), 0);
	CU_ASSERT_FALSE(fy_ws_want_write(cl));
	/* Masked, as a client must: the second byte has the mask bit. */
	CU_ASSERT_EQUAL(fy_buf_peek(&wire)[0], 0x82);
	CU_ASSERT(fy_buf_peek(&wire)[1] & 0x80);
	/* Byte by byte, then in odd pieces: the payloads, concatenated. */
	CU_ASSERT_EQUAL(decode_steps(sv, fy_buf_peek(&wire), fy_buf_len(&wire), 1, &in),
			(long)fy_buf_len(&wire));
	CU_ASSERT_EQUAL(fy_buf_len(&in), total);
	{
		size_t off = 0;
		int bad = 0;

		for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
			bad |= memcmp(fy_buf_peek(&in) + off, msg, sizes[i]) != 0;
			off += sizes[i];
		}
		CU_ASSERT_EQUAL(bad, 0);
	}
	/* The server's frames are not masked, and the client takes them. */
	fy_buf_consume(&in, fy_buf_len(&in));
	fy_buf_consume(&wire, fy_buf_len(&wire));
	CU_ASSERT_EQUAL(fy_ws_queue(sv, msg, 1000), 0);
	CU_ASSERT_EQUAL(fy_ws_encode(sv, &wire), 0);
	CU_ASSERT_EQUAL(fy_buf_peek(&wire)[1] & 0x80, 0);
	CU_ASSERT_EQUAL(decode_steps(cl, fy_buf_peek(&wire), fy_buf_len(&wire), 333, &in),
			(long)fy_buf_len(&wire));
	CU_ASSERT_EQUAL(fy_buf_len(&in), 1000);
	CU_ASSERT_EQUAL(memcmp(fy_buf_peek(&in), msg, 1000), 0);
	fy_buf_fini(&wire);
	fy_buf_fini(&in);
	fy_ws_destroy(cl);
	fy_ws_destroy(sv);
	free(msg);
}

/* A small output buffer: the decoder stops where it is full and goes on
 * when there is room, losing nothing. */
static void test_ws_backpressure(void)
{
	struct fy_ws *sv = fy_ws_create(true, FY_WS_MAX_MSG);
	uint8_t *wire = malloc(70000), *p = malloc(60000);
	struct fy_buf in;
	size_t n, off = 0, got = 0;
	int bad = 0;

	for (size_t i = 0; i < 60000; i++)
		p[i] = (uint8_t)(i % 251);
	n = frame(wire, true, 2, key4, p, 60000);
	fy_buf_init(&in, 4096);
	while (off < n) {
		long k = fy_ws_decode(sv, wire + off, n - off, &in);

		CU_ASSERT_FATAL(k >= 0);
		CU_ASSERT(fy_buf_len(&in) <= 4096);
		off += (size_t)k;
		bad |= memcmp(fy_buf_peek(&in), p + got, fy_buf_len(&in)) != 0;
		got += fy_buf_len(&in);
		fy_buf_consume(&in, fy_buf_len(&in));
	}
	CU_ASSERT_EQUAL(got, 60000);
	CU_ASSERT_EQUAL(bad, 0);
	fy_buf_fini(&in);
	fy_ws_destroy(sv);
	free(wire);
	free(p);
}

/* Fragments and control frames between them; every truncation of the
 * stream decodes to a prefix and completes with the rest. */
static void test_ws_fragments_and_control(void)
{
	uint8_t wire[400], ping[] = "are you there", data[] = "abcdefghij";
	size_t n = 0;

	n += frame(wire + n, false, 2, key4, data, 3);
	n += frame(wire + n, true, 9, key4, ping, sizeof(ping) - 1);	/* ping in between */
	n += frame(wire + n, false, 0, key4, data + 3, 3);
	n += frame(wire + n, true, 0xA, key4, NULL, 0);			/* unsolicited pong */
	n += frame(wire + n, true, 0, key4, data + 6, 4);
	for (size_t cut = 0; cut <= n; cut++) {
		struct fy_ws *sv = fy_ws_create(true, FY_WS_MAX_MSG);
		struct fy_buf in, out;

		fy_buf_init(&in, 1024);
		fy_buf_init(&out, 1024);
		CU_ASSERT_EQUAL(fy_ws_decode(sv, wire, cut, &in), (long)cut);
		CU_ASSERT(fy_buf_len(&in) <= 10);
		CU_ASSERT_EQUAL(fy_ws_decode(sv, wire + cut, n - cut, &in), (long)(n - cut));
		CU_ASSERT_EQUAL(fy_buf_len(&in), 10);
		CU_ASSERT_EQUAL(memcmp(fy_buf_peek(&in), data, 10), 0);
		/* The ping got its pong, with the ping's payload, unmasked. */
		CU_ASSERT_TRUE(fy_ws_want_write(sv));
		CU_ASSERT_EQUAL(fy_ws_encode(sv, &out), 0);
		CU_ASSERT_EQUAL(fy_buf_len(&out), 2 + sizeof(ping) - 1);
		CU_ASSERT_EQUAL(fy_buf_peek(&out)[0], 0x8A);
		CU_ASSERT_EQUAL(memcmp(fy_buf_peek(&out) + 2, ping, sizeof(ping) - 1), 0);
		fy_buf_fini(&in);
		fy_buf_fini(&out);
		fy_ws_destroy(sv);
	}
}

static void test_ws_close(void)
{
	struct fy_ws *sv = fy_ws_create(true, FY_WS_MAX_MSG);
	uint8_t wire[64], body[] = { 0x03, 0xE8, 'b', 'y', 'e' };	/* 1000 "bye" */
	struct fy_buf in, out;
	uint16_t code = 0;
	size_t n = frame(wire, true, 8, key4, body, sizeof(body));

	n += frame(wire + n, true, 2, key4, body, 2);	/* after the close: ignored */
	fy_buf_init(&in, 1024);
	fy_buf_init(&out, 1024);
	CU_ASSERT_FALSE(fy_ws_peer_closed(sv, &code));
	CU_ASSERT_EQUAL(fy_ws_decode(sv, wire, n, &in), (long)n);
	CU_ASSERT_TRUE(fy_ws_peer_closed(sv, &code));
	CU_ASSERT_EQUAL(code, 1000);
	CU_ASSERT_EQUAL(fy_buf_len(&in), 0);
	/* Our close answers it; nothing more may be sent. */
	CU_ASSERT_EQUAL(fy_ws_encode(sv, &out), 0);
	CU_ASSERT_EQUAL(fy_buf_peek(&out)[0], 0x88);
	CU_ASSERT_EQUAL(fy_ws_queue(sv, body, 2), -1);
	fy_buf_fini(&in);
	fy_buf_fini(&out);
	fy_ws_destroy(sv);
}

/* What a peer must not send: refused with -1, a reason, and a close with
 * the code RFC 6455 gives, queued for the peer. */
static void test_ws_refused(void)
{
	static const uint8_t big_mask[4] = { 1, 2, 3, 4 };
	static const struct {
		const char *what;
		bool server;
		uint16_t code;
		const char *why;	/* in fy_ws_why */
	} v[] = {
		{ "unmasked from a client", true, 1002, "breaking RFC 6455 (unmasked" },
		{ "masked from a server", false, 1002, "breaking RFC 6455" },
		{ "text message", true, 1003, "a text message" },
		{ "one frame over the limit", true, 1009, "over the message size limit" },
		{ "fragments over the limit", true, 1009, "a message over 100000 bytes" },
		{ "reserved bit", true, 1002, "breaking RFC 6455" },
		{ "reserved opcode", true, 1002, "breaking RFC 6455" },
		/* wslay's frame layer refuses these itself, with a close that
		 * carries no code (RFC 6455 allows one without): 0 here. */
		{ "control frame over 125 bytes", true, 0, "malformed frame header" },
		{ "fragmented control frame", true, 0, "malformed frame header" },
		{ "continuation without a start", true, 1002, "breaking RFC 6455" },
		{ "new message inside a fragmented one", true, 1002, "breaking RFC 6455" },
		{ "64-bit length for a short frame", true, 0, "malformed frame header" },
	};
	uint8_t *p = calloc(1, 200000), *wire = malloc(400000);

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		struct fy_ws *ws = fy_ws_create(v[i].server, 100000);
		struct fy_buf in, out;
		size_t n = 0;
		long r;

		switch (i) {
		case 0: n = frame(wire, true, 2, NULL, p, 10); break;
		case 1: n = frame(wire, true, 2, key4, p, 10); break;
		case 2: n = frame(wire, true, 1, key4, (const uint8_t *)"hi", 2); break;
		case 3:
			/* wslay judges a frame when its first payload byte is in */
			n = frame(wire, true, 2, big_mask, NULL, 100001);
			memset(wire + n, 0, 10);
			n += 10;
			break;
		case 4:
			n = frame(wire, false, 2, key4, p, 60000);
			n += frame(wire + n, true, 0, key4, p, 60000);
			break;
		case 5: n = frame(wire, true, 2, key4, p, 4); wire[0] |= 0x40; break;
		case 6: n = frame(wire, true, 3, key4, p, 4); break;
		case 7: n = frame(wire, true, 9, key4, p, 126); break;
		case 8: n = frame(wire, false, 9, key4, p, 4); break;
		case 9: n = frame(wire, true, 0, key4, p, 4); break;
		case 10:
			n = frame(wire, false, 2, key4, p, 4);
			n += frame(wire + n, true, 2, key4, p, 4);
			break;
		case 11:
			wire[0] = 0x82;
			wire[1] = 0x80 | 127;
			memset(wire + 2, 0, 8);
			wire[9] = 5;
			memcpy(wire + 10, key4, 4);
			n = 19;
			break;
		}
		fy_buf_init(&in, 1 << 20);
		fy_buf_init(&out, 1024);
		r = fy_ws_decode(ws, wire, n, &in);
		CU_ASSERT_EQUAL(r, -1);
		if (r != -1)
			fprintf(stderr, "\n  not refused: %s\n", v[i].what);
		/* Refused for good: more input is refused too. */
		CU_ASSERT_EQUAL(fy_ws_decode(ws, wire, 1, &in), -1);
		CU_ASSERT_EQUAL(fy_ws_encode(ws, &out), 0);
		/* Once the close is out, the reason is the one its code says. */
		CU_ASSERT_PTR_NOT_NULL(strstr(fy_ws_why(ws), v[i].why));
		if (!strstr(fy_ws_why(ws), v[i].why))
			fprintf(stderr, "\n  %s: '%s'\n", v[i].what, fy_ws_why(ws));
		CU_ASSERT_FATAL(fy_buf_len(&out) >= 2);
		CU_ASSERT_EQUAL(fy_buf_peek(&out)[0], 0x88);
		if (v[i].code == 0) {
			CU_ASSERT_EQUAL(fy_buf_peek(&out)[1] & 0x7f, 0);
		} else {
			/* The close's code: after the 2-byte header, or 6 when masked. */
			const uint8_t *c = fy_buf_peek(&out) + ((fy_buf_peek(&out)[1] & 0x80) ? 6 : 2);
			uint16_t code;

			CU_ASSERT_FATAL(fy_buf_len(&out) >= 4);
			code = (uint16_t)(c[0] << 8 | c[1]);
			if ((fy_buf_peek(&out)[1] & 0x80))
				code = (uint16_t)((c[0] ^ fy_buf_peek(&out)[2]) << 8 |
						  (c[1] ^ fy_buf_peek(&out)[3]));
			CU_ASSERT_EQUAL(code, v[i].code);
			if (code != v[i].code)
				fprintf(stderr, "\n  %s: close %u, want %u\n", v[i].what, code, v[i].code);
		}
		fy_buf_fini(&in);
		fy_buf_fini(&out);
		fy_ws_destroy(ws);
	}
	free(p);
	free(wire);
}

/* ---- the relay's upgrade check ---- */

static int check_head(const char *req, char *accept, const char **why)
{
	struct hparse *hp = malloc(sizeof(*hp));
	long n;
	int r;

	hp_init(hp);
	n = hp_head(hp, (const uint8_t *)req, strlen(req));
	CU_ASSERT_FATAL(n > 0);
	r = wsup_check(hp, (const uint8_t *)req, accept, why);
	free(hp);
	return r;
}

static void test_wsup(void)
{
#define GOOD_HDRS "Host: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
		  "Sec-WebSocket-Version: 13\r\n"
	static const struct {
		const char *req;
		int status;
	} v[] = {
		{ "GET /_ferry/tunnel HTTP/1.1\r\n" GOOD_HDRS "Sec-WebSocket-Key: " RFC_KEY "\r\n"
		  "Sec-WebSocket-Protocol: chat, ferry\r\n\r\n", 0 },
		{ "POST /_ferry/tunnel HTTP/1.1\r\n" GOOD_HDRS "Sec-WebSocket-Key: " RFC_KEY "\r\n"
		  "Sec-WebSocket-Protocol: ferry\r\n\r\n", 400 },
		{ "GET /_ferry/tunnel HTTP/1.0\r\n" GOOD_HDRS "Sec-WebSocket-Key: " RFC_KEY "\r\n"
		  "Sec-WebSocket-Protocol: ferry\r\n\r\n", 400 },
		{ "GET /_ferry/tunnel HTTP/1.1\r\nHost: relay\r\n\r\n", 426 },
		{ "GET /_ferry/tunnel HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: "
		  "Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: " RFC_KEY "\r\n"
		  "Sec-WebSocket-Protocol: ferry\r\n\r\n", 426 },
		{ "GET /_ferry/tunnel HTTP/1.1\r\n" GOOD_HDRS "Sec-WebSocket-Key: short==\r\n"
		  "Sec-WebSocket-Protocol: ferry\r\n\r\n", 400 },
		{ "GET /_ferry/tunnel HTTP/1.1\r\n" GOOD_HDRS "Sec-WebSocket-Key: " RFC_KEY "\r\n"
		  "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Protocol: ferry\r\n\r\n", 400 },
		{ "GET /_ferry/tunnel HTTP/1.1\r\n" GOOD_HDRS "Sec-WebSocket-Key: " RFC_KEY "\r\n\r\n",
		  400 },
		{ "GET /_ferry/tunnel HTTP/1.1\r\n" GOOD_HDRS "Sec-WebSocket-Key: " RFC_KEY "\r\n"
		  "Sec-WebSocket-Protocol: ferry\r\nContent-Length: 5\r\n\r\n", 400 },
	};
	char accept[FY_WS_ACCEPT_LEN + 1], resp[300];
	const char *why;

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		why = NULL;
		CU_ASSERT_EQUAL(check_head(v[i].req, accept, &why), v[i].status);
		CU_ASSERT(v[i].status == 0 || why);
	}
	CU_ASSERT_EQUAL(check_head(v[0].req, accept, &why), 0);
	CU_ASSERT_STRING_EQUAL(accept, RFC_ACCEPT);
	CU_ASSERT(wsup_response(accept, resp, sizeof(resp)) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "HTTP/1.1 101 "));
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"));
	CU_ASSERT_EQUAL(wsup_response(accept, resp, 20), 0);
	CU_ASSERT_TRUE(wsup_is_path("/_ferry/tunnel", 14, "/_ferry/tunnel"));
	CU_ASSERT_TRUE(wsup_is_path("/_ferry/tunnel?x=1", 18, "/_ferry/tunnel"));
	CU_ASSERT_FALSE(wsup_is_path("/_ferry/tunnel/", 15, "/_ferry/tunnel"));
	CU_ASSERT_FALSE(wsup_is_path("/_ferry/tunne", 13, "/_ferry/tunnel"));
	CU_ASSERT_FALSE(wsup_is_path("/x", 2, ""));
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "proxy url ok", test_proxy_parse_ok },
		{ "proxy url refused", test_proxy_parse_bad },
		{ "proxy url truncations", test_proxy_parse_truncations },
		{ "no_proxy", test_no_proxy },
		{ "proxy from env", test_proxy_env },
		{ "requests", test_requests },
		{ "websocket keys", test_ws_keys },
		{ "response heads", test_hresp_ok },
		{ "response heads refused", test_hresp_bad },
		{ "101 and CONNECT verdicts", test_verdicts },
		{ "ws round trip", test_ws_roundtrip },
		{ "ws back-pressure", test_ws_backpressure },
		{ "ws fragments, control, truncations", test_ws_fragments_and_control },
		{ "ws close", test_ws_close },
		{ "ws refused", test_ws_refused },
		{ "relay upgrade check", test_wsup },
	};
	return cu_run("wss", tests, ARRAY_LEN(tests));
}
