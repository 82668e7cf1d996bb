/* The WebSocket upgrade on the relay (see wsup.h). Strict on purpose:
 * only our agents come here, so anything but the request they send is
 * refused with a status that says what was wrong. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ferry/text.h"
#include "wsup.h"

bool wsup_is_path(const char *target, size_t n, const char *path)
{
	const char *q = memchr(target, '?', n);
	size_t pl = strlen(path);

	if (q)
		n = (size_t)(q - target);
	return pl && n == pl && !memcmp(target, path, n);
}

/* The only header named name: 1 with *v, *vl; 0 none; -1 more than one. */
static int one_header(const struct hparse *hp, const uint8_t *b, const char *name,
		      const char **v, size_t *vl)
{
	int found = 0;

	for (unsigned i = 0; i < hp->nhdr; i++) {
		if (!hp_header_is(hp, b, i, name))
			continue;
		if (found)
			return -1;
		*v = (const char *)b + hp->hdr[i].value.off;
		*vl = hp->hdr[i].value.len;
		found = 1;
	}
	return found;
}

/* Whether any header name's comma-separated value holds token (any case). */
static bool has_token(const struct hparse *hp, const uint8_t *b, const char *name,
		      const char *token)
{
	for (unsigned i = 0; i < hp->nhdr; i++)
		if (hp_header_is(hp, b, i, name) &&
		    fy_list_has_token((const char *)b + hp->hdr[i].value.off, hp->hdr[i].value.len,
				      token))
			return true;
	return false;
}

int wsup_check(const struct hparse *hp, const uint8_t *b, char *accept, const char **why)
{
	const char *v = NULL;
	size_t vl = 0;

	if (hp->p.method != HTTP_GET || hp->p.http_major != 1 || hp->p.http_minor < 1) {
		*why = "the tunnel path takes only GET over HTTP/1.1 (a WebSocket upgrade)";
		return 400;
	}
	if (!has_token(hp, b, "upgrade", "websocket") || !has_token(hp, b, "connection", "upgrade")) {
		*why = "a request to the tunnel path that is not a WebSocket upgrade";
		return 426;
	}
	if (!hp->msg_done) {
		*why = "a WebSocket upgrade with a body";
		return 400;
	}
	if (one_header(hp, b, "sec-websocket-version", &v, &vl) != 1 || vl != 2 ||
	    memcmp(v, "13", 2)) {
		*why = "a WebSocket upgrade without Sec-WebSocket-Version: 13";
		return 426;
	}
	if (one_header(hp, b, "sec-websocket-key", &v, &vl) != 1 || !fy_ws_key_ok(v, vl)) {
		*why = "a WebSocket upgrade without one valid Sec-WebSocket-Key";
		return 400;
	}
	if (!has_token(hp, b, "sec-websocket-protocol", FY_WS_PROTOCOL)) {
		*why = "a WebSocket upgrade without the subprotocol '" FY_WS_PROTOCOL "': not a "
		       "ferry agent";
		return 400;
	}
	if (fy_ws_accept(v, vl, accept) < 0) {
		*why = "a bad Sec-WebSocket-Key";
		return 400;
	}
	return 0;
}

size_t wsup_response(const char *accept, char *out, size_t n)
{
	int k = snprintf(out, n, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
			 "Sec-WebSocket-Protocol: " FY_WS_PROTOCOL "\r\n\r\n", accept);

	return k > 0 && (size_t)k < n ? (size_t)k : 0;
}
