/* How the agent's tunnels get out (xport.c, proxy.c, wsc.c): TLS over TCP
 * straight to the relay, or through an HTTP proxy (CONNECT), and either
 * with the frames in TLS or in WebSocket messages over HTTPS (wss):
 *
 *   TCP → [proxy CONNECT] → TLS → [WebSocket upgrade] → frames (mux)
 *
 * The parsers and message builders here are sans-I/O; tunnel.c drives
 * them. Proxy credentials live only in struct proxy's auth (already
 * base64) and are never written to a log or an error message. */
#ifndef FERRY_AGENT_XPORT_H
#define FERRY_AGENT_XPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum transport { TR_TLS = 0, TR_WSS, TR_AUTO };

#define PROXY_DEFAULT_PORT 1080		/* curl's, for a URL without one */
#define WSS_DEFAULT_PATH "/_ferry/tunnel"

struct proxy {
	char host[256];			/* a name or an address ([v6] without brackets) */
	uint16_t port;
	char auth[700];			/* base64(user:pass) for Basic, "" for none */
	char from[16];			/* where it came from, for logs: --proxy, https_proxy */
};

/* "http://[user:pass@]host[:port][/]" (the scheme may be left out; user
 * and pass may be %-encoded): 0, or -1 with err (which never repeats the
 * credentials). */
int proxy_parse(const char *url, struct proxy *p, char *err, size_t errlen);
/* Whether a no_proxy list ("a.example,.b.example,10.0.0.1", "*") covers
 * host: an entry equal to it (any case), or a domain it is under. */
bool proxy_excluded(const char *no_proxy, const char *host);
/* The proxy for host from the environment (https_proxy, then
 * HTTPS_PROXY, unless no_proxy / NO_PROXY covers host): 1 with *p, 0 none,
 * -1 one is set but does not parse (err). */
int proxy_from_env(const char *host, struct proxy *p, char *err, size_t errlen);
/* The CONNECT request for host:port: its length, or 0 when it does not
 * fit out. */
size_t proxy_request(const struct proxy *p, const char *host, uint16_t port, char *out,
		     size_t n);

/* The upgrade request for the relay's tunnel path: its length, or 0 when
 * it does not fit. key: from fy_ws_new_key. */
size_t wsc_request(const char *host, uint16_t port, const char *path, const char *key,
		   char *out, size_t n);

struct hresp;
/* Whether a complete response head accepts the CONNECT: 0, or -1 with
 * err (the status, and what the proxy said, for the log). */
int proxy_check(const struct hresp *h, char *err, size_t errlen);
/* Whether a complete response head is the 101 our key asked for: 0, or
 * -1 with err. */
int wsc_check(const struct hresp *h, const char *key, char *err, size_t errlen);

/* "tls", "wss", "auto" */
static inline int xport_parse(const char *s, enum transport *t)
{
	if (!strcmp(s, "tls"))
		*t = TR_TLS;
	else if (!strcmp(s, "wss"))
		*t = TR_WSS;
	else if (!strcmp(s, "auto"))
		*t = TR_AUTO;
	else
		return -1;
	return 0;
}

static inline const char *xport_name(enum transport t)
{
	return t == TR_WSS ? "wss" : t == TR_AUTO ? "auto" : "tls";
}

#endif
