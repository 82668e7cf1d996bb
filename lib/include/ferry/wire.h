/* Big-endian (network order) reads and writes of wire bytes, for every
 * codec in the tree: the frame codec, the userspace TCP stack and the
 * test tools. Wire bytes are never cast to structs. The writers return
 * the position after what they wrote. */
#ifndef FERRY_WIRE_H
#define FERRY_WIRE_H

#include <stdint.h>

static inline uint16_t fy_get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t fy_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t fy_get64(const uint8_t *p)
{
	return (uint64_t)fy_get32(p) << 32 | fy_get32(p + 4);
}

static inline uint8_t *fy_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static inline uint8_t *fy_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static inline uint8_t *fy_put64(uint8_t *p, uint64_t v)
{
	return fy_put32(fy_put32(p, (uint32_t)(v >> 32)), (uint32_t)v);
}

#endif
