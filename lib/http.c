/* HTTP messages through http_parser (see ferry/http.h). The parser calls
 * back with pieces of the URL, header names and values, and the body, in
 * as many calls as the input was split into; we count every piece against
 * the limits before keeping any of it. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ferry/http.h"

static struct fy_http_msg *msg_of(http_parser *p)
{
	return p->data;
}

static int fail(struct fy_http_msg *m, int status, const char *why)
{
	m->error = status;
	m->why = why;
	return -1;		/* http_parser stops with HPE_CB_* */
}

/* Every byte of the head counts, whatever it is part of. */
static int count_head(struct fy_http_msg *m, size_t n)
{
	if (n > m->head_max - m->head_bytes)
		return fail(m, 431, "request header fields too large");
	m->head_bytes += n;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct fy_http_msg *m = msg_of(p);

	if (count_head(m, n))
		return -1;
	if (n > FY_HTTP_URL_MAX - m->url_len)
		return fail(m, 414, "URI too long");
	memcpy(m->url + m->url_len, at, n);
	m->url_len += n;
	m->url[m->url_len] = 0;
	return 0;
}

static int on_status(http_parser *p, const char *at, size_t n)
{
	(void)at;
	return count_head(msg_of(p), n);
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct fy_http_msg *m = msg_of(p);

	if (count_head(m, n))
		return -1;
	if (m->in_value || !m->nheaders) {	/* a new header starts */
		if (++m->nheaders > FY_HTTP_HEADERS_MAX)
			return fail(m, 431, "too many header fields");
		m->fname_len = 0;
		m->in_value = false;
	}
	/* Only short names are ours to keep; longer ones are never wanted. */
	for (size_t i = 0; i < n; i++) {
		if (m->fname_len < sizeof(m->fname) - 1)
			m->fname[m->fname_len] = (char)(at[i] | 0x20);
		m->fname_len++;
	}
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct fy_http_msg *m = msg_of(p);

	if (count_head(m, n))
		return -1;
	if (!m->in_value) {
		m->in_value = true;
		m->want_value = m->fname_len == 13 && !memcmp(m->fname, "authorization", 13);
		if (m->want_value)
			m->auth_len = 0;
	}
	if (!m->want_value)
		return 0;
	if (n > FY_HTTP_AUTH_MAX - m->auth_len)
		return fail(m, 431, "Authorization header too large");
	memcpy(m->auth + m->auth_len, at, n);
	m->auth_len += n;
	m->auth[m->auth_len] = 0;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct fy_http_msg *m = msg_of(p);

	m->headers_done = true;
	/* A declared body over the limit is refused before it is read. */
	if (p->content_length != ULLONG_MAX && p->content_length > m->body_max)
		return fail(m, 413, "body too large");
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct fy_http_msg *m = msg_of(p);

	if (n > m->body_max - m->body_len)
		return fail(m, 413, "body too large");
	if (m->body_len + n + 1 > m->body_cap) {
		size_t cap = m->body_cap ? m->body_cap : 1024;
		char *b;

		while (cap < m->body_len + n + 1)
			cap *= 2;
		b = realloc(m->body, cap);
		if (!b)
			return fail(m, 413, "out of memory for the body");
		m->body = b;
		m->body_cap = cap;
	}
	memcpy(m->body + m->body_len, at, n);
	m->body_len += n;
	m->body[m->body_len] = 0;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct fy_http_msg *m = msg_of(p);

	m->complete = true;
	/* One message per call: what follows (a pipelined request) is not
	 * read. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_status = on_status,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void fy_http_init(struct fy_http_msg *m, enum http_parser_type type, size_t head_max,
		  size_t body_max)
{
	memset(m, 0, sizeof(*m));
	http_parser_init(&m->p, type);
	m->p.data = m;
	m->head_max = head_max;
	m->body_max = body_max;
}

void fy_http_fini(struct fy_http_msg *m)
{
	free(m->body);
	m->body = NULL;
	m->body_len = m->body_cap = 0;
}

int fy_http_feed(struct fy_http_msg *m, const char *p, size_t n)
{
	enum http_errno e;

	if (m->complete)
		return 1;
	if (m->error)
		return -1;
	http_parser_execute(&m->p, &settings, p, n);
	if (m->complete)
		return 1;
	e = HTTP_PARSER_ERRNO(&m->p);
	if (m->error)
		return -1;
	if (e != HPE_OK) {
		m->error = e == HPE_HEADER_OVERFLOW ? 431 : 400;
		m->why = http_errno_description(e);
		return -1;
	}
	if (n == 0) {
		m->error = 400;
		m->why = "connection closed before the message was complete";
		return -1;
	}
	return 0;
}

const char *fy_http_method(const struct fy_http_msg *m)
{
	return http_method_str((enum http_method)m->p.method);
}

static int copy_field(const struct fy_http_msg *m, const struct http_parser_url *u, int f,
		      char *out, size_t n)
{
	size_t len = u->field_data[f].len;

	if (len >= n)
		return -1;
	memcpy(out, m->url + u->field_data[f].off, len);
	out[len] = 0;
	return 0;
}

int fy_http_path(const struct fy_http_msg *m, char *path, size_t pn, char *query, size_t qn)
{
	struct http_parser_url u;

	http_parser_url_init(&u);
	if (!m->url_len || http_parser_parse_url(m->url, m->url_len, 0, &u) != 0 ||
	    !(u.field_set & (1 << UF_PATH)))
		return -1;
	if (copy_field(m, &u, UF_PATH, path, pn) < 0)
		return -1;
	if (query) {
		query[0] = 0;
		if ((u.field_set & (1 << UF_QUERY)) && copy_field(m, &u, UF_QUERY, query, qn) < 0)
			return -1;
	}
	return 0;
}

int fy_http_query_get(const char *q, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);

	while (q && *q) {
		const char *end = strchr(q, '&');
		size_t len = end ? (size_t)(end - q) : strlen(q);

		if (len > nl && q[nl] == '=' && !strncmp(q, name, nl)) {
			if (len - nl - 1 >= n)
				return -1;
			memcpy(out, q + nl + 1, len - nl - 1);
			out[len - nl - 1] = 0;
			return 0;
		}
		q = end ? end + 1 : NULL;
	}
	return -1;
}

const char *fy_http_bearer(const struct fy_http_msg *m)
{
	const char *v = m->auth;

	if (m->auth_len < 8 || strncasecmp(v, "Bearer ", 7) != 0)
		return NULL;
	v += 7;
	while (*v == ' ')
		v++;
	return *v ? v : NULL;
}

const char *fy_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}
