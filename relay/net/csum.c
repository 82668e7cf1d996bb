/* Internet checksum in software, for ports without offloads and for
 * verifying what the peer sent. */
#include <string.h>

#include "wire.h"

/* Folds a 64-bit one's complement sum to 16 bits (end-around carries). */
static inline uint32_t fold64(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

/* Vectors of eight 32-bit words (GCC/clang vector extensions: SSE2 pairs
 * on a baseline x86-64 build, one AVX2 register in the variant below,
 * NEON on ARM). Each lane adds the two 16-bit halves of its word, so a
 * lane gains at most 2 x 0xffff per 32 bytes: folded to 64 bits every
 * CSUM_VEC_CHUNK bytes (2048 steps, < 2^29 per lane), it never wraps. */
typedef uint32_t csum_u32x8 __attribute__((vector_size(32)));
#define CSUM_VEC_CHUNK 65536u

/* The sum of n bytes (a multiple of 32) as host-order 16-bit words. */
static inline __attribute__((always_inline)) uint64_t csum_vec_body(const uint8_t *p, size_t n)
{
	uint64_t total = 0;

	while (n) {
		size_t chunk = n < CSUM_VEC_CHUNK ? n : CSUM_VEC_CHUNK;
		csum_u32x8 acc = { 0 };

		for (size_t i = 0; i < chunk; i += 32) {
			csum_u32x8 v;

			memcpy(&v, p + i, sizeof(v));
			acc += (v & 0xffff) + (v >> 16);
		}
		for (int k = 0; k < 8; k++)
			total += acc[k];
		p += chunk;
		n -= chunk;
	}
	return total;
}

uint64_t csum_vec_generic(const uint8_t *p, size_t n)
{
	return csum_vec_body(p, n);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) uint64_t csum_vec_avx2(const uint8_t *p, size_t n)
{
	return csum_vec_body(p, n);
}

static uint64_t (*csum_vec_pick(void))(const uint8_t *, size_t)
{
	static _Atomic int have_avx2 = -1;	/* -1: not asked yet; the answer never changes */
	int a = have_avx2;

	if (a < 0) {
		__builtin_cpu_init();
		a = __builtin_cpu_supports("avx2") ? 1 : 0;
		have_avx2 = a;
	}
	return a ? csum_vec_avx2 : csum_vec_generic;
}
#else
static uint64_t (*csum_vec_pick(void))(const uint8_t *, size_t)
{
	return csum_vec_generic;
}
#endif

uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	uint64_t a = 0;
	uint32_t w, r;
	size_t i = n & ~(size_t)31;

	/* The sum of 16-bit words in one's complement does not depend on
	 * the byte order it is computed in (RFC 1071, 2.B): sum host-order
	 * words, swap the folded result once. This is the hottest loop of a
	 * relay without checksum offloads: every payload byte is summed on
	 * receive and on send, so whole 32-byte blocks go through vectors. */
	if (i)
		a = csum_vec_pick()(p, i);
	for (; i + 4 <= n; i += 4) {
		memcpy(&w, p + i, 4);
		a += w;
	}
	if (i < n) {
		/* 1-3 bytes left: zero-padded to a word, as RFC 1071 pads. */
		w = 0;
		memcpy(&w, p + i, n - i);
		a += w;
	}
	r = fold64(a);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	r = (uint32_t)(((r & 0xff) << 8) | (r >> 8));
#endif
	return fold64((uint64_t)sum + r);
}

uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	uint64_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) +
		     proto + len;

	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}
