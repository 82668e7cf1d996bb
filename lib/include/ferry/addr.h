/* Socket addresses as text, for logs and messages: formatting only, no
 * I/O, so the relay's core and both backends can use it. */
#ifndef FERRY_ADDR_H
#define FERRY_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* "1.2.3.4:5" / "[::1]:5" / "?" into out (len bytes). Returns out. */
const char *fy_addr_str(const struct sockaddr_storage *ss, char *out, size_t len);

#endif
