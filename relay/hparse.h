/* The ingress's HTTP/1.x request parser: a thin wrapper around nodejs
 * http_parser 2.9 (Debian's libhttp-parser), which reads every byte of
 * a request, and the checks it leaves to us (request smuggling). Only
 * requests are parsed: responses pass through raw.
 *
 * A request is read in two steps. hp_head() takes the bytes received so
 * far, always from the start of one contiguous buffer that the caller
 * keeps unchanged while it grows (spans are offsets into it), and says
 * when the head is complete. hp_body() then follows the body (length or
 * chunked) byte by byte, without copying, to find where the request ends,
 * so that the next request on a kept-alive connection is routed on its
 * own. Sans-I/O: no clock, no allocation, no logging; errors come back as
 * an HTTP status and a static reason.
 *
 * Ownership: struct hparse is the caller's (embedded); it borrows the
 * buffer only during a call. */
#ifndef FERRY_RELAY_HPARSE_H
#define FERRY_RELAY_HPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#define HP_MAX_HEADERS 100	/* more is a 431, like a head too large */

struct hp_span {
	uint32_t off, len;	/* in the head buffer */
};

struct hp_header {
	struct hp_span name, value;
};

struct hparse {
	http_parser p;
	const uint8_t *base;		/* the head buffer, during hp_head */
	size_t fed;			/* head bytes parsed so far */
	struct hp_span url;
	struct hp_header hdr[HP_MAX_HEADERS];
	unsigned nhdr;
	bool in_value;			/* the last callback was a value */
	bool split;			/* a field or value came in two pieces */
	bool head_done, msg_done;
	bool upgrade;			/* Upgrade (or CONNECT): raw bytes follow */
	int host;			/* index of the Host header, -1: none */
	uint64_t chunk_left;		/* chunked: data bytes left in this chunk */
	unsigned crlf;			/* chunked: CRLF bytes after the data seen (2: none due) */
	const uint8_t *feed_end;	/* the end of what hp_body is parsing */
	const char *why;		/* error: what was wrong */
	int status;			/* error: 400 or 431 */
};

/* Before each request (a kept-alive connection starts over). */
void hp_init(struct hparse *h);
/* buf[0..len) is the request so far (grown since the last call, never
 * changed): >0 the head is complete and that long (the body starts
 * there; h->msg_done when it has none), 0 more is needed, -1 refused
 * (h->status, h->why). */
long hp_head(struct hparse *h, const uint8_t *buf, size_t len);
/* Body bytes after the head: how many of p[0..n) belong to this request
 * (h->msg_done set when it ended there; what follows is the next
 * request's, or raw bytes after an upgrade), or -1 refused (a bad chunk:
 * h->status, h->why). */
long hp_body(struct hparse *h, const uint8_t *p, size_t n);

/* The request's method name ("GET"), and its version's minor digit. */
const char *hp_method(const struct hparse *h);
/* Whether header i's name is `name` (any case). */
bool hp_header_is(const struct hparse *h, const uint8_t *buf, unsigned i, const char *name);

#endif
