/* Frame codec vectors: round trips, every malformed header and payload
 * the protocol names, and a seeded random sweep over peek and every
 * decoder (must reject or accept, never crash or read out of bounds). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ferry/frame.h>

#include "cu_run.h"

/* Room for any frame plus slack, so "one byte long" cases can read on. */
#define BUF_LEN (FY_FRAME_HDR_LEN + FY_FRAME_MAX_PAYLOAD + 16)

static uint8_t buf[BUF_LEN];

/* ---- helpers ---- */

/* Writes a raw header, reserved field included, independent of the
 * encoder under test. */
static void raw_hdr(uint8_t *p, uint8_t type, uint8_t flags, uint16_t rsv,
		    uint32_t stream, uint32_t len)
{
	p[0] = type;
	p[1] = flags;
	p[2] = (uint8_t)(rsv >> 8);
	p[3] = (uint8_t)rsv;
	for (int i = 0; i < 4; i++) {
		p[4 + i] = (uint8_t)(stream >> (24 - 8 * i));
		p[8 + i] = (uint8_t)(len >> (24 - 8 * i));
	}
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Peeks a whole encoded frame and checks the header against what the
 * encoder was asked to write. Returns the payload. */
static const uint8_t *peek_ok(const uint8_t *f, size_t n, uint8_t type,
			      uint8_t flags, uint32_t stream, struct fy_frame_hdr *h)
{
	const uint8_t *payload = NULL;
	const char *why = NULL;
	int r = fy_frame_peek(f, n, h, &payload, &why);

	CU_ASSERT_EQUAL(r, (int)n);
	CU_ASSERT_EQUAL(h->type, type);
	CU_ASSERT_EQUAL(h->flags, flags);
	CU_ASSERT_EQUAL(h->stream, stream);
	CU_ASSERT_EQUAL(h->len + FY_FRAME_HDR_LEN, n);
	CU_ASSERT_PTR_EQUAL(payload, f + FY_FRAME_HDR_LEN);
	/* One byte short of the frame: need more, not malformed. */
	CU_ASSERT_EQUAL(fy_frame_peek(f, n - 1, h, &payload, &why), 0);
	return f + FY_FRAME_HDR_LEN;
}

/* ---- round trips ---- */

static void test_code_str(void)
{
	for (uint32_t c = FY_E_OK; c <= FY_E_UNSUPPORTED; c++) {
		const char *s = fy_code_str(c);

		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		CU_ASSERT(strlen(s) > 0);
		for (uint32_t d = FY_E_OK; d < c; d++)
			CU_ASSERT_STRING_NOT_EQUAL(s, fy_code_str(d));
	}
	CU_ASSERT_PTR_NOT_NULL(fy_code_str(FY_E_UNSUPPORTED + 1));
	CU_ASSERT_PTR_NOT_NULL(fy_code_str(UINT32_MAX));
	CU_ASSERT_STRING_EQUAL(fy_code_str(FY_E_UNSUPPORTED + 1), fy_code_str(UINT32_MAX));
}

static void test_put_hdr(void)
{
	uint8_t h[FY_FRAME_HDR_LEN];
	static const uint8_t want[FY_FRAME_HDR_LEN] = {
		0x11, 0x01, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x00, 0x01, 0x00, 0x00,
	};

	fy_frame_put_hdr(h, FY_T_DATA, FY_F_FIN, 0x01020304, 65536);
	CU_ASSERT_EQUAL(memcmp(h, want, sizeof(want)), 0);
}

static void test_rt_hello(void)
{
	struct fy_hello in = {
		.ver_min = 1, .ver_max = 0xfffe, .tunnel_index = 0xdeadbeef,
		.session = 0x0102030405060708ull,
		.token = "tok-EN_!~", .name = "pi-home.v2_x",
	};
	struct fy_hello out;
	struct fy_frame_hdr h;
	const char *why = NULL;
	size_t n = fy_frame_hello(buf, &in);
	const uint8_t *p;

	CU_ASSERT_EQUAL(n, FY_FRAME_HDR_LEN + 18 + strlen(in.token) + strlen(in.name));
	CU_ASSERT(n <= FY_CTRL_FRAME_MAX);
	/* Fields land where PROTOCOL.md says, big-endian. */
	CU_ASSERT_EQUAL(buf[12], 0x00);
	CU_ASSERT_EQUAL(buf[13], 0x01);
	CU_ASSERT_EQUAL(rd32(buf + 16), 0xdeadbeef);
	CU_ASSERT_EQUAL(rd32(buf + 20), 0x01020304);
	CU_ASSERT_EQUAL(buf[28], strlen(in.token));
	p = peek_ok(buf, n, FY_T_HELLO, 0, 0, &h);
	memset(&out, 0xaa, sizeof(out));
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_hello(p, h.len, &out, &why), 0);
	CU_ASSERT_EQUAL(out.ver_min, in.ver_min);
	CU_ASSERT_EQUAL(out.ver_max, in.ver_max);
	CU_ASSERT_EQUAL(out.tunnel_index, in.tunnel_index);
	CU_ASSERT_EQUAL(out.session, in.session);
	CU_ASSERT_STRING_EQUAL(out.token, in.token);
	CU_ASSERT_STRING_EQUAL(out.name, in.name);

	/* Empty name is legal: "the token's first agent". */
	in.name[0] = '\0';
	n = fy_frame_hello(buf, &in);
	p = peek_ok(buf, n, FY_T_HELLO, 0, 0, &h);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_hello(p, h.len, &out, &why), 0);
	CU_ASSERT_STRING_EQUAL(out.name, "");
}

static void test_rt_hello_limits(void)
{
	struct fy_hello in = { .ver_min = 1, .ver_max = 1 };
	struct fy_hello out;
	struct fy_frame_hdr h;
	const char *why;
	size_t n;
	const uint8_t *p;

	/* Longest legal token and name survive intact. */
	memset(in.token, '~', FY_TOKEN_MAX);
	in.token[FY_TOKEN_MAX] = '\0';
	memset(in.name, 'z', FY_NAME_MAX);
	in.name[FY_NAME_MAX] = '\0';
	n = fy_frame_hello(buf, &in);
	CU_ASSERT_EQUAL(n, FY_FRAME_HDR_LEN + 18 + FY_TOKEN_MAX + FY_NAME_MAX);
	CU_ASSERT(n <= FY_CTRL_FRAME_MAX);
	p = peek_ok(buf, n, FY_T_HELLO, 0, 0, &h);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_hello(p, h.len, &out, &why), 0);
	CU_ASSERT_EQUAL(strlen(out.token), FY_TOKEN_MAX);
	CU_ASSERT_EQUAL(strlen(out.name), FY_NAME_MAX);
}

static void test_rt_welcome(void)
{
	struct fy_welcome in = {
		.version = 1, .workers = 1024, .tunnel_index = 7,
		.keepalive_ms = 100, .window = FY_WINDOW_MAX,
	};
	struct fy_welcome out;
	struct fy_frame_hdr h;
	const char *why;
	size_t n = fy_frame_welcome(buf, &in);
	const uint8_t *p;

	CU_ASSERT_EQUAL(n, FY_FRAME_HDR_LEN + 16);
	p = peek_ok(buf, n, FY_T_WELCOME, 0, 0, &h);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_welcome(p, h.len, &out, &why), 0);
	CU_ASSERT_EQUAL(memcmp(&in, &out, sizeof(in)), 0);

	in.workers = 1;
	in.window = 16384;
	in.keepalive_ms = UINT32_MAX;
	n = fy_frame_welcome(buf, &in);
	p = peek_ok(buf, n, FY_T_WELCOME, 0, 0, &h);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_welcome(p, h.len, &out, &why), 0);
	CU_ASSERT_EQUAL(out.workers, 1);
	CU_ASSERT_EQUAL(out.window, 16384);
	CU_ASSERT_EQUAL(out.keepalive_ms, UINT32_MAX);
}

static void test_rt_register(void)
{
	struct fy_register in = { .req = 0x80000001, .port = 65535 }, out;
	struct fy_frame_hdr h;
	const char *why;
	size_t n = fy_frame_register(buf, &in);
	const uint8_t *p = peek_ok(buf, n, FY_T_REGISTER, 0, 0, &h);

	CU_ASSERT_EQUAL(n, FY_FRAME_HDR_LEN + 6);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_register(p, h.len, &out, &why), 0);
	CU_ASSERT_EQUAL(out.req, in.req);
	CU_ASSERT_EQUAL(out.port, in.port);
}

static void test_rt_result(void)
{
	struct fy_result in = { .req = 42, .code = FY_E_IN_USE,
				.msg = "port 2221 is held by agent 'b'" };
	struct fy_result out;
	struct fy_frame_hdr h;
	const char *why;
	size_t n = fy_frame_result(buf, &in);
	const uint8_t *p = peek_ok(buf, n, FY_T_RESULT, 0, 0, &h);

	CU_ASSERT_EQUAL(n, FY_FRAME_HDR_LEN + 10 + strlen(in.msg));
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_result(p, h.len, &out, &why), 0);
	CU_ASSERT_EQUAL(out.req, 42);
	CU_ASSERT_EQUAL(out.code, FY_E_IN_USE);
	CU_ASSERT_STRING_EQUAL(out.msg, in.msg);

	/* Empty message, and the longest one. */
	in.msg[0] = '\0';
	n = fy_frame_result(buf, &in);
	p = peek_ok(buf, n, FY_T_RESULT, 0, 0, &h);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_result(p, h.len, &out, &why), 0);
	CU_ASSERT_STRING_EQUAL(out.msg, "");
	memset(in.msg, 'm', FY_REASON_MAX);
	in.msg[FY_REASON_MAX] = '\0';
	n = fy_frame_result(buf, &in);
	CU_ASSERT(n <= FY_CTRL_FRAME_MAX);
	p = peek_ok(buf, n, FY_T_RESULT, 0, 0, &h);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_result(p, h.len, &out, &why), 0);
	CU_ASSERT_STRING_EQUAL(out.msg, in.msg);
}

static void test_rt_dial(void)
{
	struct fy_dial in = { .kind = FY_KIND_UDP, .port = 53, .agent = "site-b.lan",
			      .host = "fd00::53" }, out;
	struct fy_frame_hdr h;
	const char *why;
	size_t n = fy_frame_dial(buf, FY_T_CONNECT, 7, &in);
	const uint8_t *p = peek_ok(buf, n, FY_T_CONNECT, 0, 7, &h);

	CU_ASSERT(n <= FY_DIAL_FRAME_MAX);
	CU_ASSERT_EQUAL(n, FY_FRAME_HDR_LEN + 5 + strlen(in.agent) + strlen(in.host));
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_dial(p, h.len, &out, &why), 0);
	CU_ASSERT_EQUAL(out.kind, FY_KIND_UDP);
	CU_ASSERT_EQUAL(out.port, 53);
	CU_ASSERT_STRING_EQUAL(out.agent, in.agent);
	CU_ASSERT_STRING_EQUAL(out.host, in.host);
	/* The longest names. */
	memset(in.agent, 'a', FY_NAME_MAX);
	in.agent[FY_NAME_MAX] = 0;
	memset(in.host, 'h', FY_HOST_MAX);
	in.host[FY_HOST_MAX] = 0;
	in.kind = FY_KIND_TCP;
	n = fy_frame_dial(buf, FY_T_DIAL, 8, &in);
	CU_ASSERT_EQUAL(n, FY_DIAL_FRAME_MAX);
	p = peek_ok(buf, n, FY_T_DIAL, 0, 8, &h);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_dial(p, h.len, &out, &why), 0);
	CU_ASSERT_STRING_EQUAL(out.host, in.host);
}

static void test_rt_forward(void)
{
	struct fy_forward in = { .req = 9, .op = FY_FWD_OPEN, .spec = "-R 2222:127.0.0.1:22" }, out;
	struct fy_result rin = { .req = 9, .code = FY_E_OK, .msg = "listening on 2222" }, rout;
	struct fy_frame_hdr h;
	const char *why;
	size_t n = fy_frame_forward(buf, &in);
	const uint8_t *p = peek_ok(buf, n, FY_T_FORWARD, 0, 0, &h);

	CU_ASSERT_EQUAL_FATAL(fy_frame_get_forward(p, h.len, &out, &why), 0);
	CU_ASSERT_EQUAL(out.req, 9);
	CU_ASSERT_EQUAL(out.op, FY_FWD_OPEN);
	CU_ASSERT_STRING_EQUAL(out.spec, in.spec);
	n = fy_frame_forwarded(buf, &rin);
	p = peek_ok(buf, n, FY_T_FORWARDED, 0, 0, &h);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_result(p, h.len, &rout, &why), 0);
	CU_ASSERT_STRING_EQUAL(rout.msg, rin.msg);
}

/* CONNECT/DIAL and FORWARD fields a peer may get wrong. */
static void test_v2_values(void)
{
	static const struct {
		const char *name;
		uint8_t kind;
		uint16_t port;
		const char *agent, *host;
		const char *why;
	} dv[] = {
		{ "kind 2", 2, 22, "b", "h", "kind not tcp or udp" },
		{ "port 0", 0, 0, "b", "h", "port 0" },
		{ "empty agent", 0, 22, "", "h", "agent name empty" },
		{ "agent with /", 0, 22, "a/b", "h", "agent name empty" },
		{ "empty host", 0, 22, "b", "", "host empty" },
		{ "host with space", 0, 22, "b", "a b", "host empty" },
		{ "host with newline", 0, 22, "b", "a\nb", "host empty" },
	};
	uint8_t f[FY_DIAL_FRAME_MAX + 8], *p;
	const char *why;
	struct fy_dial d;
	struct fy_forward fw;

	for (size_t i = 0; i < ARRAY_LEN(dv); i++) {
		size_t al = strlen(dv[i].agent), hl = strlen(dv[i].host), n = 5 + al + hl;

		p = f;
		*p++ = dv[i].kind;
		*p++ = (uint8_t)(dv[i].port >> 8);
		*p++ = (uint8_t)dv[i].port;
		*p++ = (uint8_t)al;
		memcpy(p, dv[i].agent, al);
		p += al;
		*p++ = (uint8_t)hl;
		memcpy(p, dv[i].host, hl);
		why = NULL;
		CU_ASSERT_EQUAL(fy_frame_get_dial(f, (uint32_t)n, &d, &why), -EPROTO);
		if (!why || !strstr(why, dv[i].why))
			fprintf(stderr, "\n  %s: %s\n", dv[i].name, why ? why : "(none)");
		CU_ASSERT_PTR_NOT_NULL(why && strstr(why, dv[i].why));
	}
	/* agent_len past the payload. */
	memcpy(f, "\0\0\x16\x40", 4);
	CU_ASSERT_EQUAL(fy_frame_get_dial(f, 9, &d, &why), -EPROTO);
	/* FORWARD: op 3, empty spec, spec_len past the payload, control bytes. */
	memcpy(f, "\0\0\0\1\3\0\1x", 8);
	CU_ASSERT_EQUAL(fy_frame_get_forward(f, 8, &fw, &why), -EPROTO);
	memcpy(f, "\0\0\0\1\1\0\0", 7);
	CU_ASSERT_EQUAL(fy_frame_get_forward(f, 7, &fw, &why), -EPROTO);
	memcpy(f, "\0\0\0\1\1\0\5x", 8);
	CU_ASSERT_EQUAL(fy_frame_get_forward(f, 8, &fw, &why), -EPROTO);
	memcpy(f, "\0\0\0\1\1\0\1\x1b", 8);
	CU_ASSERT_EQUAL(fy_frame_get_forward(f, 8, &fw, &why), -EPROTO);
	memcpy(f, "\0\0\0\1\2\0\1x", 8);
	CU_ASSERT_EQUAL(fy_frame_get_forward(f, 8, &fw, &why), 0);
	CU_ASSERT_EQUAL(fw.op, FY_FWD_CLOSE);
}

static void test_rt_open(void)
{
	struct fy_open in = { .port = 2222, .peer_port = 51234,
		.peer_addr = { 0,0,0,0, 0,0,0,0, 0,0,0xff,0xff, 192,0,2,7 } };
	struct fy_open out;
	struct fy_frame_hdr h;
	const char *why;
	size_t n = fy_frame_open(buf, 4, &in);
	const uint8_t *p = peek_ok(buf, n, FY_T_OPEN, 0, 4, &h);

	CU_ASSERT_EQUAL(n, FY_FRAME_HDR_LEN + 20);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_open(p, h.len, &out, &why), 0);
	CU_ASSERT_EQUAL(out.port, in.port);
	CU_ASSERT_EQUAL(out.peer_port, in.peer_port);
	CU_ASSERT_EQUAL(memcmp(out.peer_addr, in.peer_addr, 16), 0);
}

static void test_rt_data(void)
{
	struct fy_frame_hdr h;
	size_t lens[] = { 0, 1, FY_DATA_CHUNK, FY_FRAME_MAX_PAYLOAD };

	for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
		uint8_t flags = i % 2 ? FY_F_FIN : 0;
		const uint8_t *p;

		fy_frame_put_hdr(buf, FY_T_DATA, flags, 0xffffffff, (uint32_t)lens[i]);
		for (size_t j = 0; j < lens[i]; j++)
			buf[FY_FRAME_HDR_LEN + j] = (uint8_t)(j * 7);
		p = peek_ok(buf, FY_FRAME_HDR_LEN + lens[i], FY_T_DATA, flags,
			    0xffffffff, &h);
		CU_ASSERT_EQUAL(h.len, lens[i]);
		if (lens[i])
			CU_ASSERT_EQUAL(p[lens[i] - 1], (uint8_t)((lens[i] - 1) * 7));
	}
}

static void test_rt_window(void)
{
	uint32_t incrs[] = { 1, 8192, FY_WINDOW_MAX };

	for (size_t i = 0; i < ARRAY_LEN(incrs); i++) {
		struct fy_frame_hdr h;
		const char *why;
		uint32_t out = 0;
		size_t n = fy_frame_window(buf, 3, incrs[i]);
		const uint8_t *p = peek_ok(buf, n, FY_T_WINDOW, 0, 3, &h);

		CU_ASSERT_EQUAL(n, FY_FRAME_HDR_LEN + 4);
		CU_ASSERT_EQUAL(fy_frame_get_window(p, h.len, &out, &why), 0);
		CU_ASSERT_EQUAL(out, incrs[i]);
	}
}

static void test_rt_reason(void)
{
	static const struct { uint8_t type; uint32_t stream; } v[] = {
		{ FY_T_RESET, 5 }, { FY_T_GOAWAY, 0 }, { FY_T_ERROR, 0 },
	};

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		struct fy_reason in = { .code = FY_E_REFUSED,
			.msg = "connect 127.0.0.1:22: Connection refused" };
		struct fy_reason out;
		struct fy_frame_hdr h;
		const char *why;
		size_t n = fy_frame_reason(buf, v[i].type, v[i].stream, &in);
		const uint8_t *p = peek_ok(buf, n, v[i].type, 0, v[i].stream, &h);

		CU_ASSERT_EQUAL(n, FY_FRAME_HDR_LEN + 6 + strlen(in.msg));
		CU_ASSERT_EQUAL_FATAL(fy_frame_get_reason(p, h.len, &out, &why), 0);
		CU_ASSERT_EQUAL(out.code, FY_E_REFUSED);
		CU_ASSERT_STRING_EQUAL(out.msg, in.msg);
	}
}

static void test_rt_ping(void)
{
	uint8_t flags[] = { 0, FY_F_ACK };

	for (size_t i = 0; i < ARRAY_LEN(flags); i++) {
		struct fy_frame_hdr h;
		const char *why;
		uint64_t out = 0;
		size_t n = fy_frame_ping(buf, flags[i], 0xfedcba9876543210ull);
		const uint8_t *p = peek_ok(buf, n, FY_T_PING, flags[i], 0, &h);

		CU_ASSERT_EQUAL(n, FY_FRAME_HDR_LEN + 8);
		CU_ASSERT_EQUAL(fy_frame_get_ping(p, h.len, &out, &why), 0);
		CU_ASSERT_EQUAL(out, 0xfedcba9876543210ull);
	}
}

/* Two frames back to back: peek consumes only the first. */
static void test_peek_back_to_back(void)
{
	struct fy_frame_hdr h;
	const uint8_t *p;
	const char *why;
	size_t a = fy_frame_ping(buf, 0, 1);
	size_t b = fy_frame_window(buf + a, 9, 100);
	int r = fy_frame_peek(buf, a + b, &h, &p, &why);

	CU_ASSERT_EQUAL(r, (int)a);
	CU_ASSERT_EQUAL(h.type, FY_T_PING);
	r = fy_frame_peek(buf + r, b, &h, &p, &why);
	CU_ASSERT_EQUAL(r, (int)b);
	CU_ASSERT_EQUAL(h.type, FY_T_WINDOW);
	CU_ASSERT_EQUAL(h.stream, 9);
}

/* ---- encoder truncation ---- */

static void test_encode_truncates(void)
{
	struct fy_hello hin = { .ver_min = 1, .ver_max = 1 }, hout;
	struct fy_reason rin = { .code = 1 }, rout;
	struct fy_frame_hdr h;
	const char *why;
	char long_token[300], long_name[300];
	const uint8_t *p;
	size_t n;

	/* Fill the struct fields to the brim without a terminator inside the
	 * wire maximum: the encoder must stop at the maximum. */
	memset(long_token, 'T', sizeof(long_token));
	memset(long_name, 'n', sizeof(long_name));
	memcpy(hin.token, long_token, sizeof(hin.token));
	memcpy(hin.name, long_name, sizeof(hin.name));
	n = fy_frame_hello(buf, &hin);
	CU_ASSERT_EQUAL(n, FY_FRAME_HDR_LEN + 18 + FY_TOKEN_MAX + FY_NAME_MAX);
	p = peek_ok(buf, n, FY_T_HELLO, 0, 0, &h);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_hello(p, h.len, &hout, &why), 0);
	CU_ASSERT_EQUAL(strlen(hout.token), FY_TOKEN_MAX);
	CU_ASSERT_EQUAL(strlen(hout.name), FY_NAME_MAX);

	memset(rin.msg, 'r', sizeof(rin.msg));
	n = fy_frame_reason(buf, FY_T_ERROR, 0, &rin);
	CU_ASSERT_EQUAL(n, FY_FRAME_HDR_LEN + 6 + FY_REASON_MAX);
	p = peek_ok(buf, n, FY_T_ERROR, 0, 0, &h);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_reason(p, h.len, &rout, &why), 0);
	CU_ASSERT_EQUAL(strlen(rout.msg), FY_REASON_MAX);

	/* A cut never splits a UTF-8 sequence: 255 'a' then "é" (2 bytes)
	 * would end mid-character at 256, so the cut falls at 255. */
	memset(rin.msg, 'a', 255);
	rin.msg[255] = (char)0xc3;
	rin.msg[256] = (char)0xa9;
	n = fy_frame_reason(buf, FY_T_ERROR, 0, &rin);
	CU_ASSERT_EQUAL(n, FY_FRAME_HDR_LEN + 6 + 255);
}

/* ---- malformed headers ---- */

enum { NEED_MORE = 0, OK = 1, BAD = -1 };

struct hdr_vec {
	const char *name;
	uint8_t type, flags;
	uint16_t rsv;
	uint32_t stream, len;
	size_t have;		/* bytes handed to peek */
	int expect;
	const char *why;	/* substring of *why when BAD */
};

#define HL FY_FRAME_HDR_LEN

static const struct hdr_vec hdr_vecs[] = {
	{ "empty", FY_T_PING, 0, 0, 0, 8, 0, NEED_MORE, NULL },
	{ "1 byte", FY_T_PING, 0, 0, 0, 8, 1, NEED_MORE, NULL },
	{ "11 bytes", FY_T_PING, 0, 0, 0, 8, HL - 1, NEED_MORE, NULL },
	/* A broken header stays "need more" until all 12 bytes are in. */
	{ "11 bytes of bad type", 0x7f, 0, 0, 0, 8, HL - 1, NEED_MORE, NULL },
	{ "header only", FY_T_PING, 0, 0, 0, 8, HL, NEED_MORE, NULL },
	{ "partial payload", FY_T_PING, 0, 0, 0, 8, HL + 7, NEED_MORE, NULL },
	{ "partial max DATA", FY_T_DATA, 0, 0, 1, 65536, HL + 65535, NEED_MORE, NULL },
	{ "complete max DATA", FY_T_DATA, 0, 0, 1, 65536, HL + 65536, OK, NULL },
	{ "empty DATA", FY_T_DATA, 0, 0, 1, 0, HL, OK, NULL },
	{ "length 65537", FY_T_DATA, 0, 0, 1, 65537, HL, BAD, "length" },
	{ "length 65537 with payload", FY_T_DATA, 0, 0, 1, 65537, HL + 65537, BAD, "length" },
	{ "length 2^32-1", FY_T_PING, 0, 0, 0, UINT32_MAX, HL, BAD, "length" },
	{ "reserved 0x0001", FY_T_PING, 0, 0x0001, 0, 8, HL + 8, BAD, "reserved" },
	{ "reserved 0x8000", FY_T_DATA, 0, 0x8000, 1, 0, HL, BAD, "reserved" },
	{ "type 0x00", 0x00, 0, 0, 0, 0, HL, BAD, "unknown frame type" },
	{ "type 0x07", 0x07, 0, 0, 0, 0, HL, BAD, "unknown frame type" },
	{ "type 0x17", 0x17, 0, 0, 1, 0, HL, BAD, "unknown frame type" },
	{ "OPEN UDP ok", FY_T_OPEN, FY_F_UDP, 0, 2, 20, HL + 20, OK, NULL },
	{ "REGISTER UDP ok", FY_T_REGISTER, FY_F_UDP, 0, 0, 6, HL + 6, OK, NULL },
	{ "DATA flag UDP", FY_T_DATA, FY_F_UDP, 0, 2, 0, HL, BAD, "flag not valid for DATA" },
	{ "CONNECT flag FIN", FY_T_CONNECT, FY_F_FIN, 0, 1, 9, HL + 9, BAD, "flag not valid for CONNECT" },
	{ "CONNECT on stream 0", FY_T_CONNECT, 0, 0, 0, 9, HL + 9, BAD, "CONNECT on stream 0" },
	{ "DIAL on stream 0", FY_T_DIAL, 0, 0, 0, 9, HL + 9, BAD, "DIAL on stream 0" },
	{ "DGRAM on stream 0", FY_T_DGRAM, 0, 0, 0, 4, HL + 4, BAD, "DGRAM on stream 0" },
	{ "FORWARD on stream 1", FY_T_FORWARD, 0, 0, 1, 8, HL + 8, BAD, "non-zero stream" },
	{ "FORWARDED flag ACK", FY_T_FORWARDED, FY_F_ACK, 0, 0, 10, HL + 10, BAD, "flag not valid for FORWARDED" },
	{ "DGRAM ok", FY_T_DGRAM, 0, 0, 3, 0, HL, OK, NULL },
	{ "HELLO CLIENT ok", FY_T_HELLO, FY_F_CLIENT, 0, 0, 18, HL + 18, OK, NULL },
	{ "HELLO flag UDP", FY_T_HELLO, FY_F_UDP, 0, 0, 18, HL + 18, BAD, "flag not valid for HELLO" },
	{ "HELLO CLIENT|ACK", FY_T_HELLO, FY_F_CLIENT | FY_F_ACK, 0, 0, 18, HL + 18, BAD, "flag not valid for HELLO" },
	{ "WELCOME flag CLIENT", FY_T_WELCOME, FY_F_CLIENT, 0, 0, 16, HL + 16, BAD, "flag not valid for WELCOME" },
	{ "REGISTER flag CLIENT", FY_T_REGISTER, FY_F_CLIENT, 0, 0, 6, HL + 6, BAD, "flag not valid for REGISTER" },
	{ "REGISTER UDP|FIN", FY_T_REGISTER, FY_F_UDP | FY_F_FIN, 0, 0, 6, HL + 6, BAD, "flag not valid for REGISTER" },
	{ "RESULT flag UDP", FY_T_RESULT, FY_F_UDP, 0, 0, 10, HL + 10, BAD, "flag not valid for RESULT" },
	{ "OPEN flag CLIENT", FY_T_OPEN, FY_F_CLIENT, 0, 2, 20, HL + 20, BAD, "flag not valid for OPEN" },
	{ "OPEN UDP|FIN", FY_T_OPEN, FY_F_UDP | FY_F_FIN, 0, 2, 20, HL + 20, BAD, "flag not valid for OPEN" },
	{ "PING flag UDP", FY_T_PING, FY_F_UDP, 0, 0, 8, HL + 8, BAD, "flag not valid for PING" },
	{ "CONNECT ok", FY_T_CONNECT, 0, 0, 1, 9, HL + 9, OK, NULL },
	{ "CONNECT partial", FY_T_CONNECT, 0, 0, 1, 9, HL + 8, NEED_MORE, NULL },
	{ "CONNECT flag UDP", FY_T_CONNECT, FY_F_UDP, 0, 1, 9, HL + 9, BAD, "flag not valid for CONNECT" },
	{ "CONNECT flag CLIENT", FY_T_CONNECT, FY_F_CLIENT, 0, 1, 9, HL + 9, BAD, "flag not valid for CONNECT" },
	{ "DIAL ok", FY_T_DIAL, 0, 0, 2, 9, HL + 9, OK, NULL },
	{ "DIAL flag UDP", FY_T_DIAL, FY_F_UDP, 0, 2, 9, HL + 9, BAD, "flag not valid for DIAL" },
	{ "DIAL flag FIN", FY_T_DIAL, FY_F_FIN, 0, 2, 9, HL + 9, BAD, "flag not valid for DIAL" },
	{ "DIAL length 65537", FY_T_DIAL, 0, 0, 2, 65537, HL, BAD, "length" },
	{ "DGRAM flag FIN", FY_T_DGRAM, FY_F_FIN, 0, 3, 4, HL + 4, BAD, "flag not valid for DGRAM" },
	{ "DGRAM flag UDP", FY_T_DGRAM, FY_F_UDP, 0, 3, 4, HL + 4, BAD, "flag not valid for DGRAM" },
	{ "DGRAM 65536", FY_T_DGRAM, 0, 0, 3, 65536, HL + 65536, OK, NULL },
	{ "DGRAM partial", FY_T_DGRAM, 0, 0, 3, 100, HL + 99, NEED_MORE, NULL },
	{ "DGRAM 65537", FY_T_DGRAM, 0, 0, 3, 65537, HL, BAD, "length" },
	{ "DGRAM reserved", FY_T_DGRAM, 0, 1, 3, 4, HL + 4, BAD, "reserved" },
	{ "FORWARD ok", FY_T_FORWARD, 0, 0, 0, 8, HL + 8, OK, NULL },
	{ "FORWARD flag FIN", FY_T_FORWARD, FY_F_FIN, 0, 0, 8, HL + 8, BAD, "flag not valid for FORWARD" },
	{ "FORWARD flag UDP", FY_T_FORWARD, FY_F_UDP, 0, 0, 8, HL + 8, BAD, "flag not valid for FORWARD" },
	{ "FORWARDED ok", FY_T_FORWARDED, 0, 0, 0, 10, HL + 10, OK, NULL },
	{ "FORWARDED on stream 2", FY_T_FORWARDED, 0, 0, 2, 10, HL + 10, BAD, "non-zero stream" },
	{ "type 0x08", 0x08, 0, 0, 0, 0, HL, BAD, "unknown frame type" },
	{ "type 0x0f", 0x0f, 0, 0, 1, 0, HL, BAD, "unknown frame type" },
	{ "type 0x1f", 0x1f, 0, 0, 1, 0, HL, BAD, "unknown frame type" },
	{ "type 0x23", 0x23, 0, 0, 0, 0, HL, BAD, "unknown frame type" },
	{ "type 0x7f", 0x7f, 0, 0, 0, 0, HL, BAD, "unknown frame type" },
	{ "type 0xff", 0xff, 0, 0, 1, 0, HL, BAD, "unknown frame type" },
	/* Header faults are reported before the payload has arrived. */
	{ "bad flag, payload missing", FY_T_PING, 0x01, 0, 0, 8, HL, BAD, "flag" },
	{ "HELLO flag 0x01", FY_T_HELLO, 0x01, 0, 0, 18, HL + 18, BAD, "flag not valid for HELLO" },
	{ "WELCOME flag 0x80", FY_T_WELCOME, 0x80, 0, 0, 16, HL + 16, BAD, "flag not valid for WELCOME" },
	{ "REGISTER flag 0x02", FY_T_REGISTER, 0x02, 0, 0, 6, HL + 6, BAD, "flag not valid for REGISTER" },
	{ "RESULT flag 0x01", FY_T_RESULT, 0x01, 0, 0, 10, HL + 10, BAD, "flag not valid for RESULT" },
	{ "OPEN flag 0x01", FY_T_OPEN, 0x01, 0, 2, 20, HL + 20, BAD, "flag not valid for OPEN" },
	{ "DATA flag 0x02", FY_T_DATA, 0x02, 0, 2, 0, HL, BAD, "flag not valid for DATA" },
	{ "DATA flag 0x03", FY_T_DATA, 0x03, 0, 2, 0, HL, BAD, "flag not valid for DATA" },
	{ "WINDOW flag 0x01", FY_T_WINDOW, 0x01, 0, 2, 4, HL + 4, BAD, "flag not valid for WINDOW" },
	{ "RESET flag 0x04", FY_T_RESET, 0x04, 0, 2, 6, HL + 6, BAD, "flag not valid for RESET" },
	{ "PING flag 0x01", FY_T_PING, 0x01, 0, 0, 8, HL + 8, BAD, "flag not valid for PING" },
	{ "PING flag 0x03", FY_T_PING, 0x03, 0, 0, 8, HL + 8, BAD, "flag not valid for PING" },
	{ "GOAWAY flag 0x02", FY_T_GOAWAY, 0x02, 0, 0, 6, HL + 6, BAD, "flag not valid for GOAWAY" },
	{ "ERROR flag 0x01", FY_T_ERROR, 0x01, 0, 0, 6, HL + 6, BAD, "flag not valid for ERROR" },
	{ "DATA FIN ok", FY_T_DATA, FY_F_FIN, 0, 2, 0, HL, OK, NULL },
	{ "PING ACK ok", FY_T_PING, FY_F_ACK, 0, 0, 8, HL + 8, OK, NULL },
	{ "HELLO on stream 1", FY_T_HELLO, 0, 0, 1, 18, HL + 18, BAD, "non-zero stream" },
	{ "WELCOME on stream 2", FY_T_WELCOME, 0, 0, 2, 16, HL + 16, BAD, "non-zero stream" },
	{ "REGISTER on stream 3", FY_T_REGISTER, 0, 0, 3, 6, HL + 6, BAD, "non-zero stream" },
	{ "RESULT on stream 4", FY_T_RESULT, 0, 0, 4, 10, HL + 10, BAD, "non-zero stream" },
	{ "PING on stream 5", FY_T_PING, 0, 0, 5, 8, HL + 8, BAD, "non-zero stream" },
	{ "GOAWAY on stream 2^32-1", FY_T_GOAWAY, 0, 0, UINT32_MAX, 6, HL + 6, BAD, "non-zero stream" },
	{ "ERROR on stream 7", FY_T_ERROR, 0, 0, 7, 6, HL + 6, BAD, "non-zero stream" },
	{ "OPEN on stream 0", FY_T_OPEN, 0, 0, 0, 20, HL + 20, BAD, "OPEN on stream 0" },
	{ "DATA on stream 0", FY_T_DATA, 0, 0, 0, 0, HL, BAD, "DATA on stream 0" },
	{ "WINDOW on stream 0", FY_T_WINDOW, 0, 0, 0, 4, HL + 4, BAD, "WINDOW on stream 0" },
	{ "RESET on stream 0", FY_T_RESET, 0, 0, 0, 6, HL + 6, BAD, "RESET on stream 0" },
};

static void test_peek_vectors(void)
{
	for (size_t i = 0; i < ARRAY_LEN(hdr_vecs); i++) {
		const struct hdr_vec *v = &hdr_vecs[i];
		struct fy_frame_hdr h;
		const uint8_t *payload = NULL;
		const char *why = NULL;
		int r;

		memset(buf, 0, sizeof(buf));
		raw_hdr(buf, v->type, v->flags, v->rsv, v->stream, v->len);
		r = fy_frame_peek(buf, v->have, &h, &payload, &why);
		switch (v->expect) {
		case NEED_MORE:
			CU_ASSERT_EQUAL(r, 0);
			break;
		case OK:
			CU_ASSERT_EQUAL(r, (int)(HL + v->len));
			CU_ASSERT_PTR_EQUAL(payload, buf + HL);
			break;
		default:
			CU_ASSERT_EQUAL(r, -EPROTO);
			CU_ASSERT_PTR_NOT_NULL(why);
			if (why)
				CU_ASSERT_PTR_NOT_NULL(strstr(why, v->why));
			break;
		}
		if ((r > 0) != (v->expect == OK) || (r < 0) != (v->expect == BAD))
			fprintf(stderr, "\n  vector '%s': got %d\n", v->name, r);
	}
}

/* ---- decoders ---- */

/* One signature over all decoders, so tables can drive them. */
typedef int (*dec_fn)(const uint8_t *p, uint32_t n, const char **why);

static int dec_hello(const uint8_t *p, uint32_t n, const char **why)
{
	struct fy_hello m;
	int r = fy_frame_get_hello(p, n, &m, why);

	if (r == 0) {
		/* Whatever got through obeys the rules and is terminated. */
		size_t tl = strnlen(m.token, sizeof(m.token));
		size_t nl = strnlen(m.name, sizeof(m.name));

		CU_ASSERT(tl >= 1 && tl <= FY_TOKEN_MAX);
		CU_ASSERT(nl <= FY_NAME_MAX);
		CU_ASSERT_EQUAL(n, 18 + tl + nl);
	}
	return r;
}

static int dec_welcome(const uint8_t *p, uint32_t n, const char **why)
{
	struct fy_welcome m;
	int r = fy_frame_get_welcome(p, n, &m, why);

	if (r == 0)
		CU_ASSERT(m.workers >= 1 && m.workers <= 1024 &&
			  m.window >= 16384 && m.window <= FY_WINDOW_MAX &&
			  m.keepalive_ms >= 100);
	return r;
}

static int dec_register(const uint8_t *p, uint32_t n, const char **why)
{
	struct fy_register m;
	int r = fy_frame_get_register(p, n, &m, why);

	if (r == 0)
		CU_ASSERT(m.port != 0);
	return r;
}

static int dec_register_name(const uint8_t *p, uint32_t n, const char **why)
{
	struct fy_register m;
	int r = fy_frame_get_register_name(p, n, &m, why);

	if (r == 0)
		CU_ASSERT(m.port != 0 && m.named && fy_name_label_ok(m.name, strlen(m.name)) &&
			  (m.kind == FY_NAME_HTTP || m.kind == FY_NAME_TLS));
	return r;
}

static int dec_result(const uint8_t *p, uint32_t n, const char **why)
{
	struct fy_result m;
	int r = fy_frame_get_result(p, n, &m, why);

	if (r == 0)
		CU_ASSERT(n >= 10 && strnlen(m.msg, sizeof(m.msg)) <= n - 10);
	return r;
}

static int dec_open(const uint8_t *p, uint32_t n, const char **why)
{
	struct fy_open m;

	return fy_frame_get_open(p, n, &m, why);
}

static int dec_window(const uint8_t *p, uint32_t n, const char **why)
{
	uint32_t incr;
	int r = fy_frame_get_window(p, n, &incr, why);

	if (r == 0)
		CU_ASSERT(incr >= 1 && incr <= FY_WINDOW_MAX);
	return r;
}

static int dec_reason(const uint8_t *p, uint32_t n, const char **why)
{
	struct fy_reason m;
	int r = fy_frame_get_reason(p, n, &m, why);

	if (r == 0)
		CU_ASSERT(n >= 6 && strnlen(m.msg, sizeof(m.msg)) <= n - 6);
	return r;
}

static int dec_ping(const uint8_t *p, uint32_t n, const char **why)
{
	uint64_t v;

	return fy_frame_get_ping(p, n, &v, why);
}

static int dec_dial(const uint8_t *p, uint32_t n, const char **why)
{
	struct fy_dial m;

	return fy_frame_get_dial(p, n, &m, why);
}

static int dec_forward(const uint8_t *p, uint32_t n, const char **why)
{
	struct fy_forward m;

	return fy_frame_get_forward(p, n, &m, why);
}

/* A valid frame of each type; the payload is then cut or padded. */
static size_t enc_hello(uint8_t *o)
{
	struct fy_hello m = { .ver_min = 1, .ver_max = 1, .token = "secret",
			      .name = "box" };
	return fy_frame_hello(o, &m);
}

static size_t enc_hello_noname(uint8_t *o)
{
	struct fy_hello m = { .ver_min = 1, .ver_max = 1, .token = "s" };
	return fy_frame_hello(o, &m);
}

static size_t enc_welcome(uint8_t *o)
{
	struct fy_welcome m = { 1, 4, 0, 10000, 262144 };
	return fy_frame_welcome(o, &m);
}

static size_t enc_register(uint8_t *o)
{
	struct fy_register m = { .req = 1, .port = 2222 };
	return fy_frame_register(o, &m);
}

static size_t enc_result(uint8_t *o)
{
	struct fy_result m = { .req = 1, .code = 0, .msg = "ok" };
	return fy_frame_result(o, &m);
}

static size_t enc_result_empty(uint8_t *o)
{
	struct fy_result m = { .req = 1 };
	return fy_frame_result(o, &m);
}

static size_t enc_open(uint8_t *o)
{
	struct fy_open m = { .port = 22, .peer_port = 1 };
	return fy_frame_open(o, 2, &m);
}

static size_t enc_window(uint8_t *o)
{
	return fy_frame_window(o, 2, 4096);
}

static size_t enc_reason(uint8_t *o)
{
	struct fy_reason m = { .code = 7, .msg = "refused" };
	return fy_frame_reason(o, FY_T_RESET, 2, &m);
}

static size_t enc_reason_empty(uint8_t *o)
{
	struct fy_reason m = { .code = 10 };
	return fy_frame_reason(o, FY_T_GOAWAY, 0, &m);
}

static size_t enc_ping(uint8_t *o)
{
	return fy_frame_ping(o, 0, 99);
}

static size_t enc_dial(uint8_t *o)
{
	struct fy_dial m = { .kind = FY_KIND_TCP, .port = 22, .agent = "b", .host = "10.0.0.5" };
	return fy_frame_dial(o, FY_T_CONNECT, 1, &m);
}

static size_t enc_dial_long(uint8_t *o)
{
	struct fy_dial m = { .kind = FY_KIND_UDP, .port = 65535 };

	memset(m.agent, 'a', FY_NAME_MAX);
	memset(m.host, 'h', FY_HOST_MAX);
	return fy_frame_dial(o, FY_T_DIAL, 2, &m);
}

static size_t enc_register_name(uint8_t *o)
{
	struct fy_register m = { .req = 1, .port = 7, .named = true, .kind = FY_NAME_TLS };

	memset(m.name, 'n', FY_NAME_MAX);
	return fy_frame_register(o, &m);
}

static size_t enc_forwarded(uint8_t *o)
{
	struct fy_result m = { .req = 1, .code = FY_E_IN_USE, .msg = "port 2222 is taken" };
	return fy_frame_forwarded(o, &m);
}

static size_t enc_forward(uint8_t *o)
{
	struct fy_forward m = { .req = 1, .op = FY_FWD_CLOSE, .spec = "-R 2222" };
	return fy_frame_forward(o, &m);
}

static const struct dec_case {
	const char *name;
	size_t (*enc)(uint8_t *out);
	dec_fn dec;
} dec_cases[] = {
	{ "HELLO", enc_hello, dec_hello },
	{ "HELLO no name", enc_hello_noname, dec_hello },
	{ "WELCOME", enc_welcome, dec_welcome },
	{ "REGISTER", enc_register, dec_register },
	{ "REGISTER name, longest", enc_register_name, dec_register_name },
	{ "RESULT", enc_result, dec_result },
	{ "RESULT empty", enc_result_empty, dec_result },
	{ "OPEN", enc_open, dec_open },
	{ "WINDOW", enc_window, dec_window },
	{ "RESET", enc_reason, dec_reason },
	{ "GOAWAY empty", enc_reason_empty, dec_reason },
	{ "PING", enc_ping, dec_ping },
	{ "CONNECT", enc_dial, dec_dial },
	{ "DIAL udp, longest", enc_dial_long, dec_dial },
	{ "FORWARD", enc_forward, dec_forward },
	{ "FORWARDED", enc_forwarded, dec_result },
};

static const dec_fn all_decoders[] = {
	dec_hello, dec_welcome, dec_register, dec_result,
	dec_open, dec_window, dec_reason, dec_ping, dec_dial, dec_forward, dec_register_name,
};

/* Each decoder accepts its exact length and rejects one byte short and
 * one byte long. The payload sits in a heap buffer one byte longer than
 * the valid frame, so ASan catches a read past the longest length. */
static void test_decoder_lengths(void)
{
	for (size_t i = 0; i < ARRAY_LEN(dec_cases); i++) {
		const struct dec_case *c = &dec_cases[i];
		uint8_t frame[FY_CTRL_FRAME_MAX];
		uint32_t n = (uint32_t)(c->enc(frame) - FY_FRAME_HDR_LEN);
		uint8_t *p = malloc(n + 1);
		const char *why = NULL;

		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		memcpy(p, frame + FY_FRAME_HDR_LEN, n);
		p[n] = 0;
		CU_ASSERT_EQUAL(c->dec(p, n, &why), 0);
		why = NULL;
		CU_ASSERT_EQUAL(c->dec(p, n - 1, &why), -EPROTO);
		CU_ASSERT_PTR_NOT_NULL(why);
		why = NULL;
		CU_ASSERT_EQUAL(c->dec(p, n + 1, &why), -EPROTO);
		CU_ASSERT_PTR_NOT_NULL(why);
		/* And nothing at all. */
		CU_ASSERT_EQUAL(c->dec(p, 0, &why), -EPROTO);
		free(p);
	}
}

/* Value rules: payloads assembled byte by byte, because the encoders
 * would truncate or could not express the faults. */
struct val_vec {
	const char *name;
	dec_fn dec;
	uint8_t p[400];
	uint32_t n;
	int expect;		/* 0 or -EPROTO */
};

static size_t put_hello(uint8_t *p, const char *token, size_t tl,
			const char *name, size_t nl)
{
	memset(p, 0, 16);
	p[1] = 1;
	p[3] = 1;
	p[16] = (uint8_t)tl;
	memcpy(p + 17, token, tl);
	p[17 + tl] = (uint8_t)nl;
	memcpy(p + 18 + tl, name, nl);
	return 18 + tl + nl;
}

static size_t put_reason(uint8_t *p, uint16_t ml, size_t actual)
{
	memset(p, 0, 4);
	p[4] = (uint8_t)(ml >> 8);
	p[5] = (uint8_t)ml;
	memset(p + 6, 'x', actual);
	return 6 + actual;
}

static void check_val(const char *name, dec_fn dec, const uint8_t *p, size_t n,
		      int expect)
{
	const char *why = NULL;
	int r = dec(p, (uint32_t)n, &why);

	CU_ASSERT_EQUAL(r, expect);
	if (r < 0)
		CU_ASSERT_PTR_NOT_NULL(why);
	if (r != expect)
		fprintf(stderr, "\n  value vector '%s': got %d (%s)\n", name, r,
			why ? why : "");
}

static void test_hello_values(void)
{
	uint8_t p[600];
	char t129[129], n64[64];
	size_t n;

	memset(t129, 'a', sizeof(t129));
	memset(n64, 'b', sizeof(n64));

	n = put_hello(p, "", 0, "x", 1);
	check_val("token_len 0", dec_hello, p, n, -EPROTO);
	n = put_hello(p, "a b", 3, "x", 1);
	check_val("token with space", dec_hello, p, n, -EPROTO);
	n = put_hello(p, "a\x7f", 2, "x", 1);
	check_val("token with DEL", dec_hello, p, n, -EPROTO);
	n = put_hello(p, "a\x80", 2, "x", 1);
	check_val("token with 0x80", dec_hello, p, n, -EPROTO);
	n = put_hello(p, "a\0b", 3, "x", 1);
	check_val("token with NUL", dec_hello, p, n, -EPROTO);
	n = put_hello(p, t129, 129, "x", 1);
	check_val("token 129", dec_hello, p, n, -EPROTO);
	n = put_hello(p, t129, 128, "x", 1);
	check_val("token 128", dec_hello, p, n, 0);
	n = put_hello(p, "!~", 2, "", 0);
	check_val("token edges, empty name", dec_hello, p, n, 0);
	n = put_hello(p, "t", 1, "a/b", 3);
	check_val("name with '/'", dec_hello, p, n, -EPROTO);
	n = put_hello(p, "t", 1, "a b", 3);
	check_val("name with space", dec_hello, p, n, -EPROTO);
	n = put_hello(p, "t", 1, "a\0", 2);
	check_val("name with NUL", dec_hello, p, n, -EPROTO);
	n = put_hello(p, "t", 1, "\xc3\xa9", 2);
	check_val("name with UTF-8", dec_hello, p, n, -EPROTO);
	n = put_hello(p, "t", 1, n64, 64);
	check_val("name 64", dec_hello, p, n, -EPROTO);
	n = put_hello(p, "t", 1, n64, 63);
	check_val("name 63", dec_hello, p, n, 0);
	n = put_hello(p, "t", 1, "AZaz09._-", 9);
	check_val("name charset", dec_hello, p, n, 0);

	/* token_len pointing past the payload: name_len is never read. */
	n = put_hello(p, "tok", 3, "", 0);
	p[16] = 200;
	check_val("token_len past end", dec_hello, p, n, -EPROTO);
	/* name_len too large for what is there. */
	n = put_hello(p, "tok", 3, "nm", 2);
	p[17 + 3] = 3;
	check_val("name_len past end", dec_hello, p, n, -EPROTO);
	/* token_len 255 with a payload that really is that long. */
	n = put_hello(p, t129, 0, "", 0);
	memset(p + 17, 'a', 255);
	p[16] = 255;
	p[17 + 255] = 0;
	check_val("token_len 255", dec_hello, p, 18 + 255, -EPROTO);
}

static void test_reason_values(void)
{
	uint8_t p[600];
	size_t n;

	n = put_reason(p, 256, 256);
	check_val("reason 256", dec_reason, p, n, 0);
	n = put_reason(p, 257, 257);
	check_val("reason msg_len 257", dec_reason, p, n, -EPROTO);
	n = put_reason(p, 0xffff, 300);
	check_val("reason msg_len 65535", dec_reason, p, n, -EPROTO);
	n = put_reason(p, 5, 4);
	check_val("reason msg_len > rest", dec_reason, p, n, -EPROTO);

	/* RESULT: req u32 in front of the same tail. */
	memset(p, 0, 4);
	n = 4 + put_reason(p + 4, 257, 257);
	check_val("RESULT msg_len 257", dec_result, p, n, -EPROTO);
	n = 4 + put_reason(p + 4, 256, 256);
	check_val("RESULT msg_len 256", dec_result, p, n, 0);
	n = 4 + put_reason(p + 4, 10, 9);
	check_val("RESULT msg_len > rest", dec_result, p, n, -EPROTO);
}

static void test_fixed_values(void)
{
	static const struct {
		const char *name;
		dec_fn dec;
		uint8_t p[16];
		uint8_t n;
		int expect;
	} v[] = {
		{ "WINDOW 0", dec_window, { 0, 0, 0, 0 }, 4, -EPROTO },
		{ "WINDOW 1", dec_window, { 0, 0, 0, 1 }, 4, 0 },
		{ "WINDOW 2^31-1", dec_window, { 0x7f, 0xff, 0xff, 0xff }, 4, 0 },
		{ "WINDOW 0x80000000", dec_window, { 0x80, 0, 0, 0 }, 4, -EPROTO },
		{ "WINDOW 2^32-1", dec_window, { 0xff, 0xff, 0xff, 0xff }, 4, -EPROTO },
		{ "REGISTER port 0", dec_register, { 0, 0, 0, 1, 0, 0 }, 6, -EPROTO },
		{ "REGISTER port 1", dec_register, { 0, 0, 0, 1, 0, 1 }, 6, 0 },
		/* version, workers, tunnel_index, keepalive, window */
		{ "WELCOME workers 0", dec_welcome,
		  { 0,1, 0,0, 0,0,0,0, 0,0,0x27,0x10, 0,4,0,0 }, 16, -EPROTO },
		{ "WELCOME workers 1", dec_welcome,
		  { 0,1, 0,1, 0,0,0,0, 0,0,0x27,0x10, 0,4,0,0 }, 16, 0 },
		{ "WELCOME workers 1024", dec_welcome,
		  { 0,1, 4,0, 0,0,0,0, 0,0,0x27,0x10, 0,4,0,0 }, 16, 0 },
		{ "WELCOME workers 1025", dec_welcome,
		  { 0,1, 4,1, 0,0,0,0, 0,0,0x27,0x10, 0,4,0,0 }, 16, -EPROTO },
		{ "WELCOME keepalive 99", dec_welcome,
		  { 0,1, 0,1, 0,0,0,0, 0,0,0,99, 0,4,0,0 }, 16, -EPROTO },
		{ "WELCOME keepalive 100", dec_welcome,
		  { 0,1, 0,1, 0,0,0,0, 0,0,0,100, 0,4,0,0 }, 16, 0 },
		{ "WELCOME window 16383", dec_welcome,
		  { 0,1, 0,1, 0,0,0,0, 0,0,0x27,0x10, 0,0,0x3f,0xff }, 16, -EPROTO },
		{ "WELCOME window 16384", dec_welcome,
		  { 0,1, 0,1, 0,0,0,0, 0,0,0x27,0x10, 0,0,0x40,0 }, 16, 0 },
		{ "WELCOME window 2^31", dec_welcome,
		  { 0,1, 0,1, 0,0,0,0, 0,0,0x27,0x10, 0x80,0,0,0 }, 16, -EPROTO },
	};

	for (size_t i = 0; i < ARRAY_LEN(v); i++)
		check_val(v[i].name, v[i].dec, v[i].p, v[i].n, v[i].expect);
}

/* The v2 flags: CLIENT on HELLO, UDP on REGISTER and OPEN. The decoders
 * read payloads only; the flag is the caller's to read from the header. */
static void test_rt_v2_flags(void)
{
	struct fy_hello hin = { .ver_min = 1, .ver_max = 2, .token = "tok", .name = "cli",
				.client = true }, hout;
	struct fy_register rin = { .req = 3, .port = 53, .udp = true }, rout;
	struct fy_open oin = { .port = 5353, .peer_port = 9, .udp = true }, oout;
	struct fy_frame_hdr h;
	const char *why;
	const uint8_t *p;
	size_t n;

	n = fy_frame_hello(buf, &hin);
	p = peek_ok(buf, n, FY_T_HELLO, FY_F_CLIENT, 0, &h);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_hello(p, h.len, &hout, &why), 0);
	CU_ASSERT_EQUAL(hout.ver_max, 2);
	CU_ASSERT_STRING_EQUAL(hout.name, "cli");
	hin.client = false;
	n = fy_frame_hello(buf, &hin);
	peek_ok(buf, n, FY_T_HELLO, 0, 0, &h);

	n = fy_frame_register(buf, &rin);
	p = peek_ok(buf, n, FY_T_REGISTER, FY_F_UDP, 0, &h);
	CU_ASSERT_EQUAL(n, FY_FRAME_HDR_LEN + 6);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_register(p, h.len, &rout, &why), 0);
	CU_ASSERT_EQUAL(rout.req, 3);
	CU_ASSERT_EQUAL(rout.port, 53);
	rin.udp = false;
	n = fy_frame_register(buf, &rin);
	peek_ok(buf, n, FY_T_REGISTER, 0, 0, &h);

	n = fy_frame_open(buf, 6, &oin);
	p = peek_ok(buf, n, FY_T_OPEN, FY_F_UDP, 6, &h);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_open(p, h.len, &oout, &why), 0);
	CU_ASSERT_EQUAL(oout.port, 5353);
	CU_ASSERT_EQUAL(oout.peer_port, 9);
	oin.udp = false;
	n = fy_frame_open(buf, 6, &oin);
	peek_ok(buf, n, FY_T_OPEN, 0, 6, &h);
}

/* v3: REGISTER with the NAME flag carries an id, a kind and a name; OPEN
 * with the NAME flag names the claim by that id in its port field. */
static void test_rt_v3_names(void)
{
	struct fy_register rin = { .req = 9, .port = 3, .named = true, .kind = FY_NAME_HTTP,
				   .name = "pi-home" }, rout;
	struct fy_open oin = { .port = 3, .peer_port = 4444, .named = true }, oout;
	struct fy_frame_hdr h;
	const char *why;
	const uint8_t *p;
	size_t n;

	n = fy_frame_register(buf, &rin);
	p = peek_ok(buf, n, FY_T_REGISTER, FY_F_NAME, 0, &h);
	CU_ASSERT_EQUAL(n, FY_FRAME_HDR_LEN + 8 + 7);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_register_name(p, h.len, &rout, &why), 0);
	CU_ASSERT_EQUAL(rout.req, 9);
	CU_ASSERT_EQUAL(rout.port, 3);
	CU_ASSERT_EQUAL(rout.kind, FY_NAME_HTTP);
	CU_ASSERT(rout.named);
	CU_ASSERT_STRING_EQUAL(rout.name, "pi-home");
	/* The plain decoder refuses the longer payload: a v2 relay that
	 * somehow got one would call it malformed, never misread it. */
	CU_ASSERT_EQUAL(fy_frame_get_register(p, h.len, &rout, &why), -EPROTO);

	n = fy_frame_open(buf, 8, &oin);
	p = peek_ok(buf, n, FY_T_OPEN, FY_F_NAME, 8, &h);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_open(p, h.len, &oout, &why), 0);
	CU_ASSERT_EQUAL(oout.port, 3);
}

static void test_register_name_values(void)
{
	static const struct {
		const char *name;
		uint8_t p[16];
		uint8_t n;
		int expect;
	} v[] = {
		/* req, id, kind, name_len, name */
		{ "ok http", { 0,0,0,1, 0,1, 1, 2, 'a','b' }, 10, 0 },
		{ "ok tls", { 0,0,0,1, 0,1, 2, 1, 'a' }, 9, 0 },
		{ "id 0", { 0,0,0,1, 0,0, 1, 1, 'a' }, 9, -EPROTO },
		{ "kind 0", { 0,0,0,1, 0,1, 0, 1, 'a' }, 9, -EPROTO },
		{ "kind 3", { 0,0,0,1, 0,1, 3, 1, 'a' }, 9, -EPROTO },
		{ "empty name", { 0,0,0,1, 0,1, 1, 0 }, 8, -EPROTO },
		{ "upper case", { 0,0,0,1, 0,1, 1, 1, 'A' }, 9, -EPROTO },
		{ "dot", { 0,0,0,1, 0,1, 1, 3, 'a','.','b' }, 11, -EPROTO },
		{ "leading dash", { 0,0,0,1, 0,1, 1, 2, '-','b' }, 10, -EPROTO },
		{ "trailing dash", { 0,0,0,1, 0,1, 1, 2, 'b','-' }, 10, -EPROTO },
		{ "inner dash", { 0,0,0,1, 0,1, 1, 3, 'b','-','1' }, 11, 0 },
		{ "NUL", { 0,0,0,1, 0,1, 1, 2, 'a',0 }, 10, -EPROTO },
		{ "name_len past end", { 0,0,0,1, 0,1, 1, 5, 'a' }, 9, -EPROTO },
	};

	for (size_t i = 0; i < ARRAY_LEN(v); i++)
		check_val(v[i].name, dec_register_name, v[i].p, v[i].n, v[i].expect);
	CU_ASSERT_FALSE(fy_name_label_ok("x", 0));
	CU_ASSERT_TRUE(fy_name_label_ok("x", 1));
}

/* A DGRAM frame is a header and the datagram; the codec bounds it by the
 * frame maximum (the mux by FY_DGRAM_MAX). */
static void test_rt_dgram(void)
{
	size_t lens[] = { 0, 1, 512, FY_DGRAM_MAX };
	struct fy_frame_hdr h;

	for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
		const uint8_t *p;

		fy_frame_put_hdr(buf, FY_T_DGRAM, 0, 5, (uint32_t)lens[i]);
		for (size_t j = 0; j < lens[i]; j++)
			buf[FY_FRAME_HDR_LEN + j] = (uint8_t)(j * 13);
		p = peek_ok(buf, FY_FRAME_HDR_LEN + lens[i], FY_T_DGRAM, 0, 5, &h);
		CU_ASSERT_EQUAL(h.len, lens[i]);
		if (lens[i])
			CU_ASSERT_EQUAL(p[lens[i] - 1], (uint8_t)((lens[i] - 1) * 13));
	}
}

/* A CONNECT/DIAL payload assembled by hand. */
static size_t put_dial(uint8_t *p, uint8_t kind, uint16_t port, const char *agent, size_t al,
		       const char *host, size_t hl)
{
	p[0] = kind;
	p[1] = (uint8_t)(port >> 8);
	p[2] = (uint8_t)port;
	p[3] = (uint8_t)al;
	memcpy(p + 4, agent, al);
	p[4 + al] = (uint8_t)hl;
	memcpy(p + 5 + al, host, hl);
	return 5 + al + hl;
}

static int get_dial(const uint8_t *p, size_t n, const char *why_part)
{
	struct fy_dial d;
	const char *why = NULL;
	int r = fy_frame_get_dial(p, (uint32_t)n, &d, &why);

	if (r < 0) {
		CU_ASSERT_PTR_NOT_NULL(why);
		if (why_part && (!why || !strstr(why, why_part)))
			fprintf(stderr, "\n  dial: '%s', wanted '%s'\n", why ? why : "", why_part);
		if (why_part)
			CU_ASSERT_PTR_NOT_NULL(why && strstr(why, why_part));
	}
	return r;
}

static void test_dial_lengths(void)
{
	uint8_t p[600];
	char a64[64], h255[255];
	size_t n;

	memset(a64, 'a', sizeof(a64));
	memset(h255, 'h', sizeof(h255));
	/* Names at and past their maximum. */
	n = put_dial(p, FY_KIND_TCP, 22, a64, 63, "h", 1);
	CU_ASSERT_EQUAL(get_dial(p, n, NULL), 0);
	n = put_dial(p, FY_KIND_TCP, 22, a64, 64, "h", 1);
	CU_ASSERT_EQUAL(get_dial(p, n, "agent name empty, too long"), -EPROTO);
	n = put_dial(p, FY_KIND_TCP, 22, (const char *)h255, 255, "h", 1);
	CU_ASSERT_EQUAL(get_dial(p, n, "agent name empty, too long"), -EPROTO);
	n = put_dial(p, FY_KIND_TCP, 22, "b", 1, h255, 255);
	CU_ASSERT_EQUAL(get_dial(p, n, NULL), 0);
	/* Every cut of a valid payload is refused, and so is one byte more. */
	n = put_dial(p, FY_KIND_UDP, 53, "site-b", 6, "dns.lan", 7);
	CU_ASSERT_EQUAL(get_dial(p, n, NULL), 0);
	for (size_t k = 0; k < n; k++) {
		uint8_t *cut = malloc(k ? k : 1);	/* exact size for ASan */

		CU_ASSERT_PTR_NOT_NULL_FATAL(cut);
		memcpy(cut, p, k);
		CU_ASSERT_EQUAL(get_dial(cut, k, NULL), -EPROTO);
		free(cut);
	}
	p[n] = 'x';
	CU_ASSERT_EQUAL(get_dial(p, n + 1, "length does not match"), -EPROTO);
	/* host_len one short and one long of what is there. */
	p[4 + 6] = 6;
	CU_ASSERT_EQUAL(get_dial(p, n, "length does not match"), -EPROTO);
	p[4 + 6] = 8;
	CU_ASSERT_EQUAL(get_dial(p, n, "length does not match"), -EPROTO);
	/* agent_len pointing past the payload: host_len is never read. */
	n = put_dial(p, FY_KIND_TCP, 22, "b", 1, "h", 1);
	p[3] = 200;
	CU_ASSERT_EQUAL(get_dial(p, n, "agent_len exceeds payload"), -EPROTO);
	p[3] = 3;	/* host_len would be read from the last byte */
	CU_ASSERT_EQUAL(get_dial(p, n, "agent_len exceeds payload"), -EPROTO);
	p[3] = 2;	/* 'h' then read as host_len 0x68 */
	CU_ASSERT_EQUAL(get_dial(p, n, "length does not match"), -EPROTO);
}

static void test_dial_values(void)
{
	static const struct {
		const char *name;
		uint8_t kind;
		uint16_t port;
		const char *agent, *host;
		int expect;
	} v[] = {
		{ "tcp", FY_KIND_TCP, 22, "b", "h", 0 },
		{ "udp", FY_KIND_UDP, 53, "b", "h", 0 },
		{ "kind 0xff", 0xff, 22, "b", "h", -EPROTO },
		{ "port 1", 0, 1, "b", "h", 0 },
		{ "port 65535", 0, 65535, "b", "h", 0 },
		{ "agent charset", 0, 22, "AZaz09._-", "h", 0 },
		{ "agent with :", 0, 22, "a:b", "h", -EPROTO },
		{ "agent with @", 0, 22, "@lab", "h", -EPROTO },
		{ "agent with *", 0, 22, "*", "h", -EPROTO },
		{ "host v6", 0, 22, "b", "fd00::1", 0 },
		{ "host v4", 0, 22, "b", "10.0.0.5", 0 },
		{ "host name", 0, 22, "b", "db_1.Lan-x", 0 },
		{ "host with /", 0, 22, "b", "a/b", -EPROTO },
		{ "host with %", 0, 22, "b", "fe80::1%eth0", -EPROTO },
		{ "host in brackets", 0, 22, "b", "[::1]", -EPROTO },
		{ "host with @", 0, 22, "b", "u@h", -EPROTO },
		{ "host with *", 0, 22, "b", "*.lan", -EPROTO },
		{ "host with UTF-8", 0, 22, "b", "h\xc3\xa9", -EPROTO },
		{ "host with DEL", 0, 22, "b", "h\x7f", -EPROTO },
	};
	uint8_t p[600];

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		size_t n = put_dial(p, v[i].kind, v[i].port, v[i].agent, strlen(v[i].agent),
				    v[i].host, strlen(v[i].host));

		check_val(v[i].name, dec_dial, p, n, v[i].expect);
	}
	/* NUL inside the names. */
	check_val("agent with NUL", dec_dial, p, put_dial(p, 0, 22, "a\0b", 3, "h", 1), -EPROTO);
	check_val("host with NUL", dec_dial, p, put_dial(p, 0, 22, "b", 1, "h\0x", 3), -EPROTO);
}

/* Encoders stop at the wire maximum even when the struct has no
 * terminator inside it. */
static void test_v2_encode_truncates(void)
{
	struct fy_dial din = { .kind = FY_KIND_TCP, .port = 22 }, dout;
	struct fy_forward fin = { .req = 1, .op = FY_FWD_OPEN }, fout;
	struct fy_frame_hdr h;
	const char *why;
	const uint8_t *p;
	size_t n;

	memset(din.agent, 'a', sizeof(din.agent));
	memset(din.host, 'h', sizeof(din.host));
	n = fy_frame_dial(buf, FY_T_CONNECT, 1, &din);
	CU_ASSERT_EQUAL(n, FY_DIAL_FRAME_MAX);
	p = peek_ok(buf, n, FY_T_CONNECT, 0, 1, &h);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_dial(p, h.len, &dout, &why), 0);
	CU_ASSERT_EQUAL(strlen(dout.agent), FY_NAME_MAX);
	CU_ASSERT_EQUAL(strlen(dout.host), FY_HOST_MAX);

	memset(fin.spec, 's', sizeof(fin.spec));
	n = fy_frame_forward(buf, &fin);
	CU_ASSERT_EQUAL(n, FY_FRAME_HDR_LEN + 7 + FY_SPEC_MAX);
	CU_ASSERT(n <= FY_CTRL_FRAME_MAX);
	p = peek_ok(buf, n, FY_T_FORWARD, 0, 0, &h);
	CU_ASSERT_EQUAL_FATAL(fy_frame_get_forward(p, h.len, &fout, &why), 0);
	CU_ASSERT_EQUAL(strlen(fout.spec), FY_SPEC_MAX);
}

static void test_forward_values(void)
{
	uint8_t p[600];
	struct fy_result rin = { .req = 7, .code = FY_E_DENIED }, rout;
	struct fy_frame_hdr h;
	const char *why;
	size_t n;

	/* req u32, op u8, spec_len u16, spec */
	memcpy(p, "\0\0\0\1\1", 5);
	p[5] = 0;
	p[6] = FY_SPEC_MAX;
	memset(p + 7, 'x', FY_SPEC_MAX + 1);
	check_val("FORWARD spec 200", dec_forward, p, 7 + FY_SPEC_MAX, 0);
	p[6] = FY_SPEC_MAX + 1;
	check_val("FORWARD spec_len 201", dec_forward, p, 7 + FY_SPEC_MAX + 1, -EPROTO);
	p[5] = 0xff;
	p[6] = 0xff;
	check_val("FORWARD spec_len 65535", dec_forward, p, 7 + FY_SPEC_MAX, -EPROTO);
	memcpy(p, "\0\0\0\1\1\0\3a b", 10);
	check_val("FORWARD spec with space", dec_forward, p, 10, 0);
	p[8] = 0x7f;
	check_val("FORWARD spec with DEL", dec_forward, p, 10, -EPROTO);
	p[8] = 0x80;
	check_val("FORWARD spec with 0x80", dec_forward, p, 10, -EPROTO);
	p[8] = ' ';
	check_val("FORWARD spec_len 3, 2 there", dec_forward, p, 9, -EPROTO);
	p[4] = 0;
	check_val("FORWARD op 0", dec_forward, p, 10, -EPROTO);

	/* FORWARDED: RESULT's layout and rules under its own type. */
	memset(rin.msg, 'm', FY_REASON_MAX);
	rin.msg[FY_REASON_MAX] = '\0';
	n = fy_frame_forwarded(buf, &rin);
	CU_ASSERT_EQUAL(n, FY_FRAME_HDR_LEN + 10 + FY_REASON_MAX);
	{
		const uint8_t *pl = peek_ok(buf, n, FY_T_FORWARDED, 0, 0, &h);

		CU_ASSERT_EQUAL_FATAL(fy_frame_get_result(pl, h.len, &rout, &why), 0);
		CU_ASSERT_EQUAL(rout.req, 7);
		CU_ASSERT_EQUAL(rout.code, FY_E_DENIED);
		CU_ASSERT_EQUAL(strlen(rout.msg), FY_REASON_MAX);
		CU_ASSERT_EQUAL(fy_frame_get_result(pl, h.len - 1, &rout, &why), -EPROTO);
	}
}

/* A rejected frame leaves the caller's struct untouched. */
static void test_decoder_no_partial_write(void)
{
	uint8_t p[64];
	struct fy_hello h;
	struct fy_welcome w, w0;
	const char *why;
	size_t n = put_hello(p, "a b", 3, "x", 1);

	memset(&h, 0x5a, sizeof(h));
	CU_ASSERT_EQUAL(fy_frame_get_hello(p, (uint32_t)n, &h, &why), -EPROTO);
	CU_ASSERT_EQUAL(h.ver_min, 0x5a5a);
	memset(&w, 0x5a, sizeof(w));
	w0 = w;
	memset(p, 0, 16);
	CU_ASSERT_EQUAL(fy_frame_get_welcome(p, 16, &w, &why), -EPROTO);
	CU_ASSERT_EQUAL(memcmp(&w, &w0, sizeof(w)), 0);
	/* CONNECT/DIAL: a bad host is found after the agent was seen. */
	{
		struct fy_dial d, d0;
		struct fy_forward f, f0;

		memset(&d, 0x5a, sizeof(d));
		d0 = d;
		n = put_dial(p, FY_KIND_UDP, 53, "site-b", 6, "a b", 3);
		CU_ASSERT_EQUAL(fy_frame_get_dial(p, (uint32_t)n, &d, &why), -EPROTO);
		CU_ASSERT_EQUAL(memcmp(&d, &d0, sizeof(d)), 0);
		memset(&f, 0x5a, sizeof(f));
		f0 = f;
		memcpy(p, "\0\0\0\1\1\0\2a\x01", 9);
		CU_ASSERT_EQUAL(fy_frame_get_forward(p, 9, &f, &why), -EPROTO);
		CU_ASSERT_EQUAL(memcmp(&f, &f0, sizeof(f)), 0);
	}
}

/* ---- random sweep ---- */

/* xorshift64*: deterministic across libcs, unlike rand(). */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

#define FUZZ_ROUNDS 100000
#define FUZZ_MAX_LEN 400

static void test_random_inputs(void)
{
	static const uint8_t types[] = {
		FY_T_HELLO, FY_T_WELCOME, FY_T_REGISTER, FY_T_RESULT, FY_T_OPEN,
		FY_T_DATA, FY_T_WINDOW, FY_T_RESET, FY_T_PING, FY_T_GOAWAY, FY_T_ERROR,
		FY_T_FORWARD, FY_T_FORWARDED, FY_T_CONNECT, FY_T_DIAL, FY_T_DGRAM,
	};
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	unsigned accepted = 0, rejected = 0, decoded = 0;

	for (unsigned round = 0; round < FUZZ_ROUNDS; round++) {
		size_t len = (size_t)(rng_next(&seed) % (FUZZ_MAX_LEN + 1));
		uint8_t *p = malloc(len ? len : 1);	/* exact size for ASan */
		struct fy_frame_hdr h;
		const uint8_t *payload = NULL;
		const char *why = NULL;
		int r;

		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)rng_next(&seed);
		/* Half the inputs get a plausible header, so the sweep also
		 * walks the paths past the header checks. */
		if (len >= FY_FRAME_HDR_LEN && rng_next(&seed) % 2) {
			/* One draw per statement: argument evaluation order
			 * is unspecified and the sequence must not depend on it. */
			uint8_t t = types[rng_next(&seed) % ARRAY_LEN(types)];
			uint32_t plen = (uint32_t)(rng_next(&seed) % (len - FY_FRAME_HDR_LEN + 8));
			uint64_t bits = rng_next(&seed);
			uint8_t flags = bits % 4 ? 0 : (uint8_t)(bits >> 8) % 16;
			uint32_t stream = bits >> 16 & 1 ? (uint32_t)(bits >> 24) % 3 : 0;

			raw_hdr(p, t, flags, 0, stream, plen);
		}

		r = fy_frame_peek(p, len, &h, &payload, &why);
		if (r > 0) {
			accepted++;
			CU_ASSERT((size_t)r <= len);
			CU_ASSERT_EQUAL((size_t)r, FY_FRAME_HDR_LEN + h.len);
			CU_ASSERT_PTR_EQUAL(payload, p + FY_FRAME_HDR_LEN);
		} else if (r < 0) {
			rejected++;
			CU_ASSERT_EQUAL(r, -EPROTO);
			CU_ASSERT_PTR_NOT_NULL(why);
		}

		/* Every decoder over the same bytes, whatever their type. */
		for (size_t d = 0; d < ARRAY_LEN(all_decoders); d++) {
			why = NULL;
			r = all_decoders[d](p, (uint32_t)len, &why);
			if (r == 0)
				decoded++;
			else
				CU_ASSERT(r == -EPROTO && why != NULL);
		}
		free(p);
	}
	/* The sweep is only worth something if it reached both outcomes. */
	CU_ASSERT(accepted > 1000);
	CU_ASSERT(rejected > 1000);
	CU_ASSERT(decoded > 0);
}

/* ---- runner ---- */

int main(void)
{
	static const struct cu_test tests[] = {
		{ "code_str", test_code_str },
		{ "put_hdr", test_put_hdr },
		{ "round trip HELLO", test_rt_hello },
		{ "round trip HELLO limits", test_rt_hello_limits },
		{ "round trip WELCOME", test_rt_welcome },
		{ "round trip REGISTER", test_rt_register },
		{ "round trip RESULT", test_rt_result },
		{ "round trip OPEN", test_rt_open },
		{ "round trip CONNECT/DIAL", test_rt_dial },
		{ "round trip FORWARD/FORWARDED", test_rt_forward },
		{ "CONNECT/DIAL/FORWARD values", test_v2_values },
		{ "round trip v2 flags", test_rt_v2_flags },
		{ "round trip DGRAM", test_rt_dgram },
		{ "round trip v3 names", test_rt_v3_names },
		{ "REGISTER name values", test_register_name_values },
		{ "CONNECT/DIAL lengths", test_dial_lengths },
		{ "CONNECT/DIAL field values", test_dial_values },
		{ "v2 encoders truncate", test_v2_encode_truncates },
		{ "FORWARD/FORWARDED values", test_forward_values },
		{ "round trip DATA", test_rt_data },
		{ "round trip WINDOW", test_rt_window },
		{ "round trip RESET/GOAWAY/ERROR", test_rt_reason },
		{ "round trip PING", test_rt_ping },
		{ "peek back to back", test_peek_back_to_back },
		{ "encoders truncate", test_encode_truncates },
		{ "peek vectors", test_peek_vectors },
		{ "decoder lengths +-1", test_decoder_lengths },
		{ "HELLO values", test_hello_values },
		{ "reason values", test_reason_values },
		{ "fixed-size values", test_fixed_values },
		{ "decoder no partial write", test_decoder_no_partial_write },
		{ "random inputs", test_random_inputs },
	};
	return cu_run("frame", tests, ARRAY_LEN(tests));
}
