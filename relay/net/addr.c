/* Parsing of the addresses the stack is configured with. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

int net_parse_ipv4(const char *s, uint32_t *ip, uint8_t *prefix)
{
	char buf[40], *slash, *end;
	struct in_addr a;
	long p = 32;

	if (strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = 0;
		p = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end)
			return -1;
	}
	if (inet_pton(AF_INET, buf, &a) != 1 || p < 1 || p > 32)
		return -1;
	*ip = ntohl(a.s_addr);
	if (prefix)
		*prefix = (uint8_t)p;
	return 0;
}
