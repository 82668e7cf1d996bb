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

uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	uint64_t a = 0, b = 0, c = 0, d = 0;
	uint32_t w[4], r;
	size_t i = 0;

	/* The sum of 16-bit words in one's complement does not depend on
	 * the byte order it is computed in (RFC 1071, 2.B): add 32-bit words
	 * in host order into four 64-bit accumulators (no carry is lost
	 * below 2^32 words, far beyond any frame), swap the folded result
	 * once. This is the hottest loop of a relay without checksum
	 * offloads: every payload byte is summed on receive and on send. */
	for (; i + 16 <= n; i += 16) {
		memcpy(w, p + i, 16);
		a += w[0];
		b += w[1];
		c += w[2];
		d += w[3];
	}
	for (; i + 4 <= n; i += 4) {
		memcpy(w, p + i, 4);
		a += w[0];
	}
	if (i < n) {
		/* 1-3 bytes left: zero-padded to a word, as RFC 1071 pads. */
		w[0] = 0;
		memcpy(w, p + i, n - i);
		b += w[0];
	}
	r = fold64(a + b + c + d);
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
