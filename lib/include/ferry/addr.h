/* Socket addresses as text, for logs and messages: formatting only, no
 * I/O, so the relay's core and both backends can use it. */
#ifndef FERRY_ADDR_H
#define FERRY_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "1.2.3.4:5" / "[::1]:5" / "?" into out (len bytes). Returns out. */
const char *fy_addr_str(const struct sockaddr_storage *ss, char *out, size_t len);

/* A table key for an address and port: exact for IPv4, a hash for IPv6
 * (compare with fy_addr_equal before trusting a match). */
uint64_t fy_addr_key(const struct sockaddr_storage *ss);
/* Same family, address and port. */
bool fy_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

#endif
