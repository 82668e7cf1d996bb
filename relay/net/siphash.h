/* SipHash-2-4 (Aumasson, Bernstein): the keyed PRF behind initial sequence
 * numbers (RFC 6528) and SYN cookies, where a fast non-cryptographic hash
 * would let a peer predict or forge values. */
#ifndef FERRY_NET_SIPHASH_H
#define FERRY_NET_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash24(const uint8_t key[16], const void *msg, size_t len);

#endif
