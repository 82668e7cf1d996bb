/* An HTTP/1.x response head, read with nodejs http_parser (Debian's
 * libhttp-parser-dev, as the relay's ingress uses): the HTTP proxy's
 * answer to CONNECT and the relay's 101 to a WebSocket upgrade. Only the
 * head is read; what follows it belongs to the next layer (TLS after a
 * CONNECT, WebSocket frames after a 101) and is left to the caller.
 *
 * Bounded: a head over HRESP_MAX bytes or with more than HRESP_MAX_HDRS
 * headers is refused. Sans-I/O: bytes in, a verdict out.
 *
 * Ownership: struct hresp is the caller's (embedded); it holds a copy of
 * the head. */
#ifndef FERRY_AGENT_HRESP_H
#define FERRY_AGENT_HRESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#define HRESP_MAX 8192
#define HRESP_MAX_HDRS 64

struct hresp_span {
	uint16_t off, len;		/* in buf */
};

struct hresp {
	http_parser p;
	char buf[HRESP_MAX];		/* the head so far */
	size_t len;
	struct hresp_span name[HRESP_MAX_HDRS], value[HRESP_MAX_HDRS];
	unsigned nhdr;
	bool in_value;			/* the last callback was a value */
	bool done;
	int status;			/* once done */
	const char *why;		/* refused: what was wrong */
};

void hresp_init(struct hresp *h);
/* Takes bytes from p[0..n): returns how many belong to the head (all of
 * them while it is not complete; then h->done and the rest is the next
 * layer's), or -1 refused (h->why). */
long hresp_feed(struct hresp *h, const uint8_t *p, size_t n);
/* The value of the first header named name (any case): true with
 * *v, *vl; false when there is none. */
bool hresp_header(const struct hresp *h, const char *name, const char **v, size_t *vl);
/* Whether header name's value holds token (comma-separated, any case):
 * "Connection: keep-alive, Upgrade" holds "upgrade". */
bool hresp_has_token(const struct hresp *h, const char *name, const char *token);

#endif
