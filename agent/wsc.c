/* The verdicts on response heads: the agent's side of the WebSocket
 * upgrade (RFC 6455 section 4.1), and the proxy's answer to CONNECT (see
 * xport.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ferry/ws.h"
#include "ferry_config.h"
#include "hresp.h"
#include "xport.h"

size_t wsc_request(const char *host, uint16_t port, const char *path, const char *key,
		   char *out, size_t n)
{
	char hp[300];
	int k;

	if (port == 443)
		k = snprintf(hp, sizeof(hp), strchr(host, ':') ? "[%s]" : "%s", host);
	else
		k = snprintf(hp, sizeof(hp), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	if (k < 0 || (size_t)k >= sizeof(hp))
		return 0;
	k = snprintf(out, n, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
		     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
		     "Sec-WebSocket-Protocol: " FY_WS_PROTOCOL "\r\nUser-Agent: ferry-agent/"
		     FERRY_VERSION "\r\n\r\n", path, hp, key);
	return k > 0 && (size_t)k < n ? (size_t)k : 0;
}

int wsc_check(const struct hresp *h, const char *key, char *err, size_t errlen)
{
	char want[FY_WS_ACCEPT_LEN + 1];
	const char *v;
	size_t vl;

	if (h->status != 101) {
		snprintf(err, errlen, "the relay answered HTTP %d to the WebSocket upgrade%s",
			 h->status, h->status == 404 ? " (a wrong --wss-path, or the relay serves "
			 "no WebSocket tunnels there)" : h->status == 501 ? " (this relay does not "
			 "serve WebSocket tunnels)" : "");
		return -1;
	}
	if (!hresp_has_token(h, "upgrade", "websocket") ||
	    !hresp_has_token(h, "connection", "upgrade")) {
		snprintf(err, errlen, "a 101 without 'Upgrade: websocket' and 'Connection: Upgrade'");
		return -1;
	}
	if (fy_ws_accept(key, strlen(key), want) < 0 ||
	    !hresp_header(h, "sec-websocket-accept", &v, &vl) || vl != FY_WS_ACCEPT_LEN ||
	    memcmp(v, want, vl)) {
		snprintf(err, errlen, "a 101 whose Sec-WebSocket-Accept does not answer our key");
		return -1;
	}
	if (!hresp_header(h, "sec-websocket-protocol", &v, &vl) ||
	    vl != strlen(FY_WS_PROTOCOL) || strncasecmp(v, FY_WS_PROTOCOL, vl)) {
		snprintf(err, errlen, "a 101 without our subprotocol '" FY_WS_PROTOCOL "': not a "
			 "ferry relay");
		return -1;
	}
	return 0;
}

int proxy_check(const struct hresp *h, char *err, size_t errlen)
{
	if (h->status >= 200 && h->status <= 299)
		return 0;
	/* 407 is the status for this; some proxies (tinyproxy) answer 401. */
	if (h->status == 407 || h->status == 401)
		snprintf(err, errlen, "the proxy wants credentials or refused ours (HTTP %d): "
			 "give http://user:password@host:port", h->status);
	else if (h->status == 403)
		snprintf(err, errlen, "the proxy refused a tunnel to the relay's port (HTTP 403)");
	else
		snprintf(err, errlen, "the proxy refused the CONNECT (HTTP %d)", h->status);
	return -1;
}
