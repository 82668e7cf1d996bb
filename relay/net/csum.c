/* Internet checksum in software, for ports without offloads and for
 * verifying what the peer sent. */
#include "wire.h"

uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	uint64_t s = sum;
	size_t i = 0;

	/* Four bytes per step into a 64-bit accumulator: no carry is lost
	 * for any frame size we handle, and it folds the same. */
	for (; i + 4 <= n; i += 4)
		s += (uint64_t)fy_get16(p + i) + fy_get16(p + i + 2);
	for (; i + 2 <= n; i += 2)
		s += fy_get16(p + i);
	if (i < n)
		s += (uint64_t)p[i] << 8;
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
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
