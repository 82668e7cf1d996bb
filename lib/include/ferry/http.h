/* HTTP/1.1 messages through Debian's http_parser (nodejs http_parser 2.9):
 * one request or one response, with limits. Sans-I/O: bytes in, a parsed
 * message out; no sockets, no clock (the caller times out slow peers).
 * Shared by whatever speaks HTTP in ferry (the relay's admin API and its
 * client `ferry-relay ctl`); nothing here knows about either.
 *
 * Only what a small API needs is kept: method, URL, the Authorization
 * header, the body. Every length is checked: the head (request line or
 * status line, and headers) against head_max (then error 431), the body
 * against body_max (then 413). A message that does not parse sets error
 * 400 and why. Ownership: the caller owns the struct; fy_http_fini frees
 * the body. */
#ifndef FERRY_HTTP_H
#define FERRY_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <http_parser.h>

#define FY_HTTP_URL_MAX 1024
#define FY_HTTP_AUTH_MAX 256
#define FY_HTTP_HEADERS_MAX 64

struct fy_http_msg {
	http_parser p;
	size_t head_max, body_max;
	size_t head_bytes;		/* request/status line and headers so far */
	unsigned nheaders;
	char url[FY_HTTP_URL_MAX + 1];
	size_t url_len;
	char auth[FY_HTTP_AUTH_MAX + 1];	/* Authorization value */
	size_t auth_len;
	char fname[32];			/* the header being read (lower case) */
	size_t fname_len;
	bool in_value;			/* last callback was a value */
	bool want_value;		/* the current header is one we keep */
	char *body;			/* NUL-terminated; NULL while empty */
	size_t body_len, body_cap;
	bool headers_done, complete;
	int error;			/* 0, or the status to answer: 400, 413, 431 */
	const char *why;
};

/* type: HTTP_REQUEST or HTTP_RESPONSE. */
void fy_http_init(struct fy_http_msg *m, enum http_parser_type type, size_t head_max,
		  size_t body_max);
void fy_http_fini(struct fy_http_msg *m);
/* Feeds n bytes (n == 0: the peer closed, which ends a response without a
 * length). Returns 1 when the message is complete (bytes after it are
 * ignored), 0 when more are needed, -1 when it is malformed or over a
 * limit (m->error and m->why say which). */
int fy_http_feed(struct fy_http_msg *m, const char *p, size_t n);
const char *fy_http_method(const struct fy_http_msg *m);
/* The URL's path (and query, or NULL) copied out, NUL-terminated. 0, or
 * -1 when the URL does not parse or does not fit. */
int fy_http_path(const struct fy_http_msg *m, char *path, size_t pn, char *query, size_t qn);
/* The value of name in a query string "a=1&b=2" (no percent-decoding: the
 * values ferry uses are names and numbers). 0, or -1 when absent. */
int fy_http_query_get(const char *query, const char *name, char *out, size_t n);
/* The token of "Authorization: Bearer TOKEN", or NULL. */
const char *fy_http_bearer(const struct fy_http_msg *m);
/* "Not Found" for 404, etc. */
const char *fy_http_reason(int status);

#endif
