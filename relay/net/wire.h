/* Header sizes and checksums; byte order comes from ferry/wire.h. Wire bytes are never cast to
 * structs: every field is read with these, at offsets checked against the
 * length first. */
#ifndef FERRY_NET_WIRE_H
#define FERRY_NET_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "ferry/wire.h"

#define ETH_HLEN 14
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP 0x0806
#define ETH_TYPE_VLAN 0x8100
#define ARP_LEN 28
#define IP_HLEN 20
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP 6
#define TCP_HLEN 20
#define ICMP_HLEN 8

/* Internet checksum (RFC 1071): csum_add accumulates 16-bit big-endian
 * words of an even-aligned run (a trailing odd byte is padded with 0),
 * csum_fold returns the one's complement of the folded sum. */
uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n);
uint16_t csum_fold(uint32_t sum);
/* Sum of the IPv4 pseudo-header for TCP/UDP. */
uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

/* Sequence-space comparisons (RFC 9293, modulo 2^32). */
static inline int seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline int seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline int seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline int seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }
static inline uint32_t seq_max(uint32_t a, uint32_t b) { return seq_gt(a, b) ? a : b; }
static inline uint32_t seq_min(uint32_t a, uint32_t b) { return seq_lt(a, b) ? a : b; }

#endif
