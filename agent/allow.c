/* --allow: the targets this agent dials when another agent asks (DIAL).
 * Nothing is allowed unless listed. An entry is a host pattern (a name,
 * shell glob, any case: db.lan, *.lan), an address, or a prefix
 * (10.0.0.0/24, [fd00::]/8), then a port, a range or *:
 *
 *   --allow db.lan:5432  --allow 10.0.0.0/24:22  --allow pi.local:*
 *   --allow [fd00::]/8:1-1024  --allow udp:10.0.0.53:53
 *
 * with "tcp:" or "udp:" in front to allow only that protocol (both when
 * neither is given).
 *
 * A DIAL naming a host is allowed when a name pattern matches it (checked
 * before any lookup), or when the address it resolves to is in a listed
 * prefix (checked on the address actually dialed). */
#include <arpa/inet.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "ferry/sock.h"
#include "ferry/text.h"

static int parse_ports(const char *s, struct allow *al)
{
	return fy_port_range_parse(s, &al->port_lo, &al->port_hi);
}

static int parse_host(char *h, struct allow *al)
{
	char *slash = strchr(h, '/');
	unsigned long bits = 0;

	if (slash) {
		char *end;

		*slash = '\0';
		bits = strtoul(slash + 1, &end, 10);
		if (*end || end == slash + 1)
			return -1;
	}
	if (inet_pton(AF_INET, h, al->addr) == 1) {
		al->family = AF_INET;
		al->prefix = slash ? (unsigned)bits : 32;
		al->kind = ALLOW_PREFIX;
		return al->prefix <= 32 ? 0 : -1;
	}
	if (inet_pton(AF_INET6, h, al->addr) == 1) {
		al->family = AF_INET6;
		al->prefix = slash ? (unsigned)bits : 128;
		al->kind = ALLOW_PREFIX;
		return al->prefix <= 128 ? 0 : -1;
	}
	if (slash || !*h || strlen(h) > FY_HOST_MAX)
		return -1;
	for (const char *p = h; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr(".-_*?[]", *p)))
			return -1;
	al->kind = ALLOW_NAME;
	memcpy(al->name, h, strlen(h) + 1);	/* fits: checked above */
	return 0;
}

int allow_parse(const char *spec, struct allow *al, char *err, size_t errlen)
{
	char buf[FY_HOST_MAX + 32], *host = buf, *port;
	const char *given = spec;	/* quoted whole in the error */

	memset(al, 0, sizeof(*al));
	al->protos = ALLOW_TCP | ALLOW_UDP;
	if (!strncmp(spec, "tcp:", 4) || !strncmp(spec, "udp:", 4)) {
		al->protos = spec[0] == 't' ? ALLOW_TCP : ALLOW_UDP;
		spec += 4;
	}
	if (strlen(spec) >= sizeof(buf))
		goto bad;
	memcpy(buf, spec, strlen(spec) + 1);
	if (buf[0] == '[') {		/* [v6]:port or [v6]/bits:port */
		char *close = strchr(buf, ']');

		if (!close)
			goto bad;
		*close = '\0';
		host = buf + 1;
		port = close + 1;
		if (*port == '/') {	/* a prefix length after the brackets */
			char *colon = strrchr(port, ':');

			if (!colon)
				goto bad;
			*colon = '\0';
			memmove(close, port, strlen(port) + 1);	/* join "addr" and "/bits" */
			port = colon + 1;
		} else if (*port == ':') {
			port++;
		} else {
			goto bad;
		}
	} else {
		port = strrchr(buf, ':');
		if (!port)
			goto bad;
		*port++ = '\0';
	}
	if (parse_host(host, al) < 0 || parse_ports(port, al) < 0)
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "bad --allow '%s': expected [tcp:|udp:]HOST:PORT or "
		 "[tcp:|udp:]ADDRESS[/BITS]:PORT ([v6] in brackets), PORT a number, LO-HI or *",
		 given);
	return -1;
}

static bool port_in(const struct allow *al, uint16_t port, bool udp)
{
	return (al->protos & (udp ? ALLOW_UDP : ALLOW_TCP)) && port >= al->port_lo &&
	       port <= al->port_hi;
}

static bool match_name(const struct allow *v, unsigned n, bool udp, const char *host,
		       uint16_t port)
{
	for (unsigned i = 0; i < n; i++) {
		const struct allow *al = &v[i];

		if (al->kind == ALLOW_NAME && port_in(al, port, udp) &&
		    fnmatch(al->name, host, FNM_CASEFOLD) == 0)
			return true;
	}
	return false;
}

bool allow_name(const struct agent_cfg *c, bool udp, const char *host, uint16_t port)
{
	return match_name(c->allows, c->nallows, udp, host, port);
}

static bool in_prefix(const struct allow *al, const uint8_t *a)
{
	unsigned full = al->prefix / 8, rest = al->prefix % 8;

	if (memcmp(a, al->addr, full))
		return false;
	return !rest || ((a[full] ^ al->addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool allow_prefix_port(const struct agent_cfg *c, bool udp, uint16_t port)
{
	for (unsigned i = 0; i < c->nallows; i++)
		if (c->allows[i].kind == ALLOW_PREFIX && port_in(&c->allows[i], port, udp))
			return true;
	return false;
}

static bool match_addr(const struct allow *v, unsigned n, bool udp,
		       const struct sockaddr_storage *ss)
{
	const uint8_t *a;
	uint16_t port;
	int family = ss->ss_family;
	uint8_t v4[4];

	if (family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		a = (const uint8_t *)&in->sin_addr;
		port = ntohs(in->sin_port);
	} else if (family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		a = (const uint8_t *)&in6->sin6_addr;
		port = ntohs(in6->sin6_port);
		/* An IPv4-mapped address is judged as the IPv4 one. */
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			memcpy(v4, a + 12, 4);
			a = v4;
			family = AF_INET;
		}
	} else {
		return false;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct allow *al = &v[i];

		if (al->kind == ALLOW_PREFIX && al->family == family && port_in(al, port, udp) &&
		    in_prefix(al, a))
			return true;
	}
	return false;
}

bool allow_addr(const struct agent_cfg *c, bool udp, const struct sockaddr_storage *ss)
{
	return match_addr(c->allows, c->nallows, udp, ss);
}

bool allow_list_target(const struct allow *v, unsigned n, bool udp, const char *host,
		       uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (match_name(v, n, udp, host, port))
		return true;
	/* An address literal may match a prefix; a name is never looked up
	 * here (a forward asked for is checked as written). */
	return fy_sock_resolve_numeric(host, port, &ss, &sl) == 0 && match_addr(v, n, udp, &ss);
}
