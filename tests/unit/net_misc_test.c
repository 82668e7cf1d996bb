/* relay/net building blocks: SipHash-2-4 against reference vectors (the
 * paper's, and OpenSSL's for other lengths), the Internet checksum, the
 * byte ring across its wrap, the timer wheel, and TCP option parsing. */
#include <string.h>

#include "cu_run.h"
#include "net_impl.h"
#include "ring.h"
#include "siphash.h"
#include "timer_wheel.h"
#include "wire.h"

static void test_siphash(void)
{
	static const struct { size_t n; uint64_t h; } seq[] = {
		/* key 00..0f, message 00 01 02 ... (reference vectors) */
		{ 0, 0x726fdb47dd0e0e31ull }, { 1, 0x74f839c593dc67fdull },
		{ 2, 0x0d6c8009d9a94f5aull }, { 3, 0x85676696d7fb7e2dull },
		{ 4, 0xcf2794e0277187b7ull }, { 8, 0x93f5f5799a932462ull },
		{ 15, 0xa129ca6149be45e5ull },
	};
	static const struct { size_t n; uint64_t h; } ossl[] = {
		/* message i*7+3, from `openssl mac -macopt size:8 ... SIPHASH` */
		{ 1, 0x13d7290c4face4b3ull }, { 7, 0xeee720a846be9b66ull },
		{ 8, 0x842e146945dd0ad0ull }, { 9, 0xb0cf2828d05fe7f9ull },
		{ 63, 0x264e0e0bd1b048fdull }, { 64, 0x25a000cacd85c5abull },
		{ 1000, 0x57e4508252ae40ceull },
	};
	uint8_t key[16], msg[1000];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
		CU_ASSERT_EQUAL(siphash24(key, msg, seq[i].n), seq[i].h);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(ossl) / sizeof(ossl[0]); i++)
		CU_ASSERT_EQUAL(siphash24(key, msg, ossl[i].n), ossl[i].h);
}

static void test_checksum(void)
{
	/* RFC 1071 section 3 example. */
	static const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	uint8_t big[3001];

	/* csum_add may return any sum equal modulo 0xffff (one's complement). */
	CU_ASSERT_EQUAL(csum_add(0, b, sizeof(b)) % 0xffff, 0x2ddf0 % 0xffff);
	CU_ASSERT_EQUAL(csum_fold(csum_add(0, b, sizeof(b))), (uint16_t)~0xddf2);
	/* Odd length: the last byte is the high half of a word. */
	CU_ASSERT_EQUAL(csum_add(0, (const uint8_t *)"\x12", 1) % 0xffff, 0x1200);
	/* A buffer with its checksum inserted sums to zero, any length. */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13 + 5);
	for (size_t n = 2; n < sizeof(big); n += 333) {
		uint16_t c;

		big[0] = big[1] = 0;
		c = csum_fold(csum_add(0, big, n));
		fy_put16(big, c);
		CU_ASSERT_EQUAL(csum_fold(csum_add(0, big, n)), 0);
	}
	CU_ASSERT_EQUAL(csum_pseudo(0x0a000001, 0x0a000002, 6, 20), 0x0a00 + 1 + 0x0a00 + 2 + 6 + 20);
}

/* End-around carries until 16 bits are left. */
static uint16_t csum_fold64(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* RFC 1071 word by word, as the standard writes it: the reference the
 * wide csum_add must agree with. */
static uint16_t csum_ref(uint32_t sum, const uint8_t *p, size_t n)
{
	uint64_t s = sum;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return (uint16_t)~csum_fold64(s);
}

/* Whether a block sum (host-order words) matches want, the reference's
 * checksum complemented: the same sum, byte-swapped; 0 and 0xffff are the
 * same number in one's complement. */
static bool vec_sum_ok(uint64_t sum, uint16_t want)
{
	uint16_t got = csum_fold64(sum);

	got = (uint16_t)(got << 8 | got >> 8);
	return got == want || (got == 0xffff && want == 0) || (got == 0 && want == 0xffff);
}

static void test_checksum_wide(void)
{
	static uint8_t buf[9100 + 8];
	static uint8_t ones[(3u << 19) + 64];	/* 1.5 MiB: past where an unfolded lane wraps (1 MiB) */
	uint64_t x = 0x243f6a8885a308d3ull;
	unsigned bad = 0, bad_jumbo = 0;

	/* xorshift bytes, then runs of 0xff that make every carry ripple. */
	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = i % 97 < 40 ? 0xff : (uint8_t)x;
	}
	/* Every length to past a full frame, every alignment, a few seeds
	 * (0xffff: a pseudo-header sum that is all ones). */
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n <= 1600; n++)
			for (uint32_t seed = 0; seed < 0x20000; seed += 0xffff)
				bad += csum_fold(csum_add(seed, buf + off, n)) !=
				       csum_ref(seed, buf + off, n);
	CU_ASSERT_EQUAL(bad, 0);
	/* Jumbo frames: lengths around every 32-byte block to 9100. */
	for (size_t off = 0; off < 4; off++)
		for (size_t n = 1601; n <= 9100; n += 7)
			bad_jumbo += csum_fold(csum_add(0xffff, buf + off, n)) !=
				     csum_ref(0xffff, buf + off, n);
	CU_ASSERT_EQUAL(bad_jumbo, 0);
	/* All ones past the vector loop's 64 KiB fold: a lane that kept
	 * adding without folding would wrap here. */
	memset(ones, 0xff, sizeof(ones));
	CU_ASSERT_EQUAL(csum_fold(csum_add(0, ones + 1, sizeof(ones) - 1)),
			csum_ref(0, ones + 1, sizeof(ones) - 1));
}

/* Both block sums, whichever csum_add picks on this CPU, against the
 * reference: bytes and all ones, one block to several 64 KiB chunks. */
static void test_checksum_vec_variants(void)
{
	static uint8_t big[3 * 65536 + 32];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned bad = 0;

	for (int fill = 0; fill < 2; fill++) {
		for (size_t i = 0; i < sizeof(big); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			big[i] = fill ? 0xff : (uint8_t)x;
		}
		for (size_t n = 32; n <= sizeof(big); n = n * 3 + 32) {
			size_t m = n & ~(size_t)31;
			uint16_t want = (uint16_t)~csum_ref(0, big, m);

			bad += !vec_sum_ok(csum_vec_generic(big, m), want);
#if defined(__x86_64__) && defined(__GNUC__)
			if (__builtin_cpu_supports("avx2"))
				bad += !vec_sum_ok(csum_vec_avx2(big, m), want);
#endif
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static void test_ring(void)
{
	struct ring r;
	uint8_t in[100], out[100];

	for (int i = 0; i < 100; i++)
		in[i] = (uint8_t)i;
	CU_ASSERT_EQUAL_FATAL(ring_init(&r, 10), 0);
	CU_ASSERT_EQUAL(ring_write(&r, in, 7), 7);
	ring_drop(&r, 5);
	/* Wraps: 2 left + 8 new = full; one more does not fit. */
	CU_ASSERT_EQUAL(ring_write(&r, in + 7, 9), 8);
	CU_ASSERT_EQUAL(ring_free(&r), 0);
	ring_peek(&r, 0, out, 10);
	CU_ASSERT_EQUAL(memcmp(out, in + 5, 10), 0);
	ring_peek(&r, 6, out, 4);
	CU_ASSERT_EQUAL(memcmp(out, in + 11, 4), 0);
	/* Write ahead of the end, commit later (out-of-order data). */
	ring_drop(&r, 10);
	CU_ASSERT_EQUAL(r.len, 0);
	ring_write_at(&r, 4, in + 50, 3);
	ring_write_at(&r, 0, in + 46, 4);
	ring_commit(&r, 7);
	ring_peek(&r, 0, out, 7);
	CU_ASSERT_EQUAL(memcmp(out, in + 46, 7), 0);
	ring_fini(&r);
}

static int fired[8], order[8], nfired;
static struct tw_wheel wheel;
static struct tw_timer tm[8];

static void tfn(struct tw_timer *t)
{
	int i = (int)(t - tm);

	fired[i]++;
	order[nfired++] = i;
	if (i == 0 && fired[0] == 1)
		tw_arm(&wheel, &tm[0], wheel.now + 5);	/* re-arm from inside */
	if (i == 1)
		tw_cancel(&tm[2]);	/* cancel one due in the same tick */
}

static void test_timer_wheel(void)
{
	memset(fired, 0, sizeof(fired));
	nfired = 0;
	tw_init(&wheel, 1000);
	for (int i = 0; i < 8; i++)
		tw_timer_init(&tm[i], tfn);
	tw_arm(&wheel, &tm[0], 1010);
	tw_arm(&wheel, &tm[1], 1020);
	tw_arm(&wheel, &tm[2], 1020);
	tw_arm(&wheel, &tm[3], 1000 + TW_SLOTS + 20);	/* same slot, next turn */
	tw_arm(&wheel, &tm[4], 500);			/* past: next tick */
	tw_arm(&wheel, &tm[5], 1030);
	tw_cancel(&tm[5]);
	CU_ASSERT(!tw_armed(&tm[5]));
	tw_advance(&wheel, 1001);
	CU_ASSERT_EQUAL(fired[4], 1);
	tw_advance(&wheel, 1009);
	CU_ASSERT_EQUAL(fired[0], 0);
	tw_advance(&wheel, 1010);
	CU_ASSERT_EQUAL(fired[0], 1);
	CU_ASSERT(tw_armed(&tm[0]));
	tw_advance(&wheel, 1100);
	CU_ASSERT_EQUAL(fired[0], 2);
	CU_ASSERT_EQUAL(fired[1], 1);
	CU_ASSERT_EQUAL(fired[2], 0);	/* cancelled by 1 in the same tick */
	CU_ASSERT_EQUAL(fired[3], 0);	/* a turn later */
	CU_ASSERT_EQUAL(fired[5], 0);
	CU_ASSERT_EQUAL(order[1], 0);
	CU_ASSERT_EQUAL(order[2], 0);
	CU_ASSERT_EQUAL(order[3], 1);
	/* A jump longer than a turn: one pass, nothing lost. */
	tw_arm(&wheel, &tm[6], 1100 + 3 * TW_SLOTS);
	tw_advance(&wheel, 1000 + TW_SLOTS + 19);
	CU_ASSERT_EQUAL(fired[3], 0);
	tw_advance(&wheel, 1100 + 10 * TW_SLOTS);
	CU_ASSERT_EQUAL(fired[3], 1);
	CU_ASSERT_EQUAL(fired[6], 1);
	CU_ASSERT(!tw_armed(&tm[3]));
}

static void test_tcp_options(void)
{
	static const struct {
		const char *what;
		uint8_t opt[40];
		size_t len;
		int rc;
		bool mss, ws, ts;
	} cases[] = {
		{ "empty", { 0 }, 0, 0, false, false, false },
		{ "MSS", { 2, 4, 5, 0xb4 }, 4, 0, true, false, false },
		{ "EOL stops", { 0, 2, 4, 5, 0xb4 }, 5, 0, false, false, false },
		{ "NOPs, WS, TS", { 1, 3, 3, 7, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2 }, 16, 0,
		  false, true, true },
		{ "unknown kind skipped", { 30, 4, 9, 9, 2, 4, 5, 0xb4 }, 8, 0, true, false, false },
		{ "length 1", { 2, 1, 0, 0 }, 4, -1, false, false, false },
		{ "past the end", { 1, 8, 10, 0, 0 }, 5, -1, false, false, false },
		{ "kind without length", { 1, 1, 2 }, 3, -1, false, false, false },
		{ "MSS of length 3", { 2, 3, 5, 1 }, 4, -1, false, false, false },
		{ "SACK-permitted", { 4, 2 }, 2, 0, false, false, false },
		{ "SACK, 1 block", { 1, 1, 5, 10, 0, 0, 0, 5, 0, 0, 0, 9 }, 12, 0, false, false, false },
		{ "SACK of length 9", { 5, 9, 0, 0, 0, 5, 0, 0, 0 }, 9, -1, false, false, false },
		{ "SACK of length 2", { 5, 2 }, 2, -1, false, false, false },
		{ "SACK, 5 blocks", { 5, 42 }, 42, -1, false, false, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tcp_seg s;

		memset(&s, 0, sizeof(s));
		CU_ASSERT_EQUAL(tcp_opt_parse(&s, cases[i].opt, cases[i].len), cases[i].rc);
		CU_ASSERT_EQUAL(s.has_mss, cases[i].mss);
		CU_ASSERT_EQUAL(s.has_ws, cases[i].ws);
		CU_ASSERT_EQUAL(s.has_ts, cases[i].ts);
		if (s.has_mss)
			CU_ASSERT_EQUAL(s.opt_mss, 1460);
		if (s.has_ts)
			CU_ASSERT(s.tsval == 1 && s.tsecr == 2);
		if (cases[i].len == 12 && cases[i].opt[2] == 5)
			CU_ASSERT(s.nsack == 1 && s.sack_l[0] == 5 && s.sack_r[0] == 9);
		if (cases[i].rc < 0)
			CU_ASSERT_EQUAL(s.nsack, 0);
	}
	for (int sack = 0; sack < 2; sack++) {
		for (int ts = 0; ts < 2; ts++) {
			/* What we build parses back, 4-byte aligned, <= 20 bytes. */
			uint8_t o[40];
			struct tcp_seg s;
			size_t n = tcp_opt_syn(o, 1460, 9, ts, sack, 77, 88);

			memset(&s, 0, sizeof(s));
			CU_ASSERT(n % 4 == 0 && n <= 20);
			CU_ASSERT_EQUAL(tcp_opt_parse(&s, o, n), 0);
			CU_ASSERT(s.has_mss && s.opt_mss == 1460 && s.has_ws && s.opt_ws == 9);
			CU_ASSERT_EQUAL(s.has_ts, ts);
			CU_ASSERT_EQUAL(s.sack_ok, sack);
			if (ts)
				CU_ASSERT(s.tsval == 77 && s.tsecr == 88);
		}
	}
	{
		uint8_t o[40];
		struct tcp_seg s;
		uint32_t l[4] = { 10, 30, 50, 70 }, r[4] = { 20, 40, 60, 80 };
		size_t n = tcp_opt_sack(o, l, r, 4);

		memset(&s, 0, sizeof(s));
		CU_ASSERT_EQUAL(n, 36);
		CU_ASSERT_EQUAL(tcp_opt_parse(&s, o, n), 0);
		CU_ASSERT_EQUAL(s.nsack, 4);
		CU_ASSERT(s.sack_l[3] == 70 && s.sack_r[3] == 80 && s.sack_l[0] == 10);
	}
}

static void test_parse_ipv4(void)
{
	static const struct {
		const char *s;
		int rc;
		uint32_t ip;
		uint8_t prefix;
	} cases[] = {
		{ "10.0.0.2/24", 0, 0x0a000002u, 24 },
		{ "192.168.1.1", 0, 0xc0a80101u, 32 },
		{ "1.2.3.4/1", 0, 0x01020304u, 1 },
		{ "1.2.3.4/32", 0, 0x01020304u, 32 },
		{ "1.2.3.4/0", -1, 0, 0 },
		{ "1.2.3.4/33", -1, 0, 0 },
		{ "1.2.3.4/", -1, 0, 0 },
		{ "1.2.3.4/2x", -1, 0, 0 },
		{ "1.2.3/24", -1, 0, 0 },
		{ "relay.example.org", -1, 0, 0 },
		{ "", -1, 0, 0 },
		{ "::1/64", -1, 0, 0 },
		{ "1.2.3.4/24aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", -1, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t ip = 0;
		uint8_t prefix = 0;

		CU_ASSERT_EQUAL(net_parse_ipv4(cases[i].s, &ip, &prefix), cases[i].rc);
		if (cases[i].rc == 0)
			CU_ASSERT(ip == cases[i].ip && prefix == cases[i].prefix);
	}
	CU_ASSERT_EQUAL(net_parse_ipv4("10.0.0.1", &(uint32_t){ 0 }, NULL), 0);
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "SipHash-2-4 vectors", test_siphash },
		{ "Internet checksum", test_checksum },
		{ "Internet checksum, wide loop against RFC 1071 word by word", test_checksum_wide },
		{ "Internet checksum, portable and AVX2 block sums", test_checksum_vec_variants },
		{ "byte ring", test_ring },
		{ "timer wheel", test_timer_wheel },
		{ "TCP options", test_tcp_options },
		{ "IPv4 address/prefix parsing", test_parse_ipv4 },
	};
	return cu_run("net_misc", tests, ARRAY_LEN(tests));
}
