/* Socket addresses as text (see addr.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* XXH3 compiled in (the header is the whole library): the agent, which
 * hashes only through libferry, then needs no libxxhash.so, one mapped
 * library fewer (issue 10). The relay links libxxhash for its own uses. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "ferry/addr.h"

uint64_t fy_addr_key(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		return 1ull << 48 | (uint64_t)ntohl(in->sin_addr.s_addr) << 16 | ntohs(in->sin_port);
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		uint8_t k[18];

		memcpy(k, &in6->sin6_addr, 16);
		memcpy(k + 16, &in6->sin6_port, 2);
		/* Bit 63 set: never equal to an IPv4 key. */
		return XXH3_64bits(k, sizeof(k)) | 1ull << 63;
	}
	return 0;
}

bool fy_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	return false;
}

const char *fy_addr_str(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (!out || !len)
		return out;
	if (ss && ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
	} else if (ss && ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
	} else {
		snprintf(out, len, "?");
	}
	return out;
}
