/* HTTP/1.x request heads and body boundaries through http_parser 2.9.
 *
 * http_parser already refuses the classic smuggling requests (both
 * Content-Length and Transfer-Encoding, Content-Length twice, a chunk
 * size that is not hex, bytes in a header name that a token may not
 * hold). We add what a proxy in front of other servers must: one Host at
 * most, no header folded over lines (obs-fold: two servers may join it
 * differently), no control characters in values, and a cap on the
 * number of headers.
 *
 * Pausing the parser in on_headers_complete stops it just before the
 * head's last LF (it is consumed when parsing resumes); hp_head feeds
 * that byte at once so the head's length is exact and a request without
 * a body is complete when hp_head returns.
 *
 * http_parser built without HTTP_PARSER_STRICT (Debian's) lets any two
 * bytes stand for the CRLF after a chunk's data, and a space between a
 * header's name and its colon: two ways for us and the target to see
 * different requests. We refuse both. */
#include <string.h>
#include <strings.h>

#include "hparse.h"

static struct hparse *hp_of(http_parser *p)
{
	return p->data;
}

static int refuse(struct hparse *h, int status, const char *why)
{
	if (!h->why) {
		h->status = status;
		h->why = why;
	}
	return 1;	/* http_parser stops with HPE_CB_* */
}

/* A span's piece: the first, or the next one right after it. Anything
 * else is a piece of the same field that the parser skipped bytes
 * between: a folded line. */
static int span_add(struct hparse *h, struct hp_span *s, const char *at, size_t n)
{
	uint32_t off = (uint32_t)((const uint8_t *)at - h->base);

	if (!s->len) {
		s->off = off;
		s->len = (uint32_t)n;
		return 0;
	}
	if (off != s->off + s->len) {
		h->split = true;
		return refuse(h, 400, "header folded over two lines (obs-fold)");
	}
	s->len += (uint32_t)n;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct hparse *h = hp_of(p);

	return span_add(h, &h->url, at, n);
}

static int on_field(http_parser *p, const char *at, size_t n)
{
	struct hparse *h = hp_of(p);
	struct hp_header *last = h->nhdr ? &h->hdr[h->nhdr - 1] : NULL;
	uint32_t off = (uint32_t)((const uint8_t *)at - h->base);

	/* The rest of the name begun at the end of the previous feed. */
	if (last && !h->in_value && off == last->name.off + last->name.len) {
		last->name.len += (uint32_t)n;
		return 0;
	}
	if (h->nhdr == HP_MAX_HEADERS)
		return refuse(h, 431, "more than 100 header fields");
	last = &h->hdr[h->nhdr++];
	memset(last, 0, sizeof(*last));
	last->name.off = off;
	last->name.len = (uint32_t)n;
	h->in_value = false;
	return 0;
}

static int on_value(http_parser *p, const char *at, size_t n)
{
	struct hparse *h = hp_of(p);
	struct hp_header *last = &h->hdr[h->nhdr - 1];

	for (size_t i = 0; i < n; i++)
		if ((uint8_t)at[i] < 0x20 && at[i] != '\t')
			return refuse(h, 400, "control character in a header value");
	if (!h->in_value) {
		h->in_value = true;
		last->value.off = (uint32_t)((const uint8_t *)at - h->base);
		last->value.len = (uint32_t)n;
		return 0;
	}
	return span_add(h, &last->value, at, n);
}

/* RFC 9110 5.6.2. http_parser lets a space end a name (before the colon). */
static bool is_tchar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The CRLF that must follow a chunk's data, from q on (the rest of this
 * feed); what the feed lacks is checked at the start of the next. */
static int check_crlf(struct hparse *h, const uint8_t *q)
{
	for (; h->crlf < 2 && q < h->feed_end; q++, h->crlf++)
		if (*q != "\r\n"[h->crlf])
			return refuse(h, 400, "chunk data not followed by CRLF");
	return 0;
}

static int on_chunk_header(http_parser *p)
{
	struct hparse *h = hp_of(p);

	h->chunk_left = p->content_length;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct hparse *h = hp_of(p);

	if (!(p->flags & F_CHUNKED))
		return 0;
	h->chunk_left -= n < h->chunk_left ? n : h->chunk_left;
	if (h->chunk_left || !n)
		return 0;
	h->crlf = 0;
	return check_crlf(h, (const uint8_t *)at + n);
}

static int on_headers_complete(http_parser *p)
{
	struct hparse *h = hp_of(p);

	for (unsigned i = 0; i < h->nhdr; i++) {
		const struct hp_header *hd = &h->hdr[i];

		if (h->base[hd->name.off + hd->name.len] != ':')
			return refuse(h, 400, "white space between a header name and its colon");
		for (uint32_t k = 0; k < hd->name.len; k++)
			if (!is_tchar(h->base[hd->name.off + k]))
				return refuse(h, 400, "header name is not a token (RFC 9110 5.1)");
	}
	for (unsigned i = 0; i < h->nhdr; i++) {
		if (!hp_header_is(h, h->base, i, "host"))
			continue;
		if (h->host >= 0)
			return refuse(h, 400, "more than one Host header");
		h->host = (int)i;
	}
	h->head_done = true;
	http_parser_pause(p, 1);
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct hparse *h = hp_of(p);

	h->msg_done = true;
	h->upgrade = p->upgrade;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_header_field = on_field,
	.on_header_value = on_value,
	.on_headers_complete = on_headers_complete,
	.on_chunk_header = on_chunk_header,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void hp_init(struct hparse *h)
{
	memset(h, 0, sizeof(*h));
	http_parser_init(&h->p, HTTP_REQUEST);
	h->p.data = h;
	h->host = -1;
	h->crlf = 2;
}

/* The parser's verdict on an error it found itself (ours are set). */
static long parse_error(struct hparse *h)
{
	enum http_errno e = HTTP_PARSER_ERRNO(&h->p);

	if (!h->why) {
		h->status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
		h->why = http_errno_description(e);
	}
	return -1;
}

long hp_head(struct hparse *h, const uint8_t *buf, size_t len)
{
	size_t n;

	if (h->why)
		return -1;
	if (h->head_done || len < h->fed)
		return h->fed;
	if (len == h->fed)
		return 0;	/* nothing new: http_parser takes 0 bytes as the end */
	h->base = buf;
	n = http_parser_execute(&h->p, &settings, (const char *)buf + h->fed, len - h->fed);
	h->fed += n;
	if (HTTP_PARSER_ERRNO(&h->p) == HPE_OK)
		return 0;	/* every byte taken: the head goes on */
	if (HTTP_PARSER_ERRNO(&h->p) != HPE_PAUSED || !h->head_done)
		return parse_error(h);
	/* Stopped at the head's last LF: take it now. */
	http_parser_pause(&h->p, 0);
	if (h->fed >= len || buf[h->fed] != '\n') {
		h->status = 400;
		h->why = "request head does not end with LF";
		return -1;
	}
	n = http_parser_execute(&h->p, &settings, (const char *)buf + h->fed, 1);
	h->fed += n;
	if (HTTP_PARSER_ERRNO(&h->p) == HPE_PAUSED)
		http_parser_pause(&h->p, 0);	/* no body: complete already */
	else if (HTTP_PARSER_ERRNO(&h->p) != HPE_OK || n != 1)
		return parse_error(h);
	h->base = NULL;
	return (long)h->fed;
}

long hp_body(struct hparse *h, const uint8_t *p, size_t n)
{
	size_t k;

	if (h->why)
		return -1;
	if (h->msg_done || !n)
		return 0;
	h->feed_end = p + n;
	if (h->crlf < 2 && check_crlf(h, p))
		return -1;
	k = http_parser_execute(&h->p, &settings, (const char *)p, n);
	if (HTTP_PARSER_ERRNO(&h->p) == HPE_PAUSED && h->msg_done) {
		http_parser_pause(&h->p, 0);
		return (long)k;
	}
	if (HTTP_PARSER_ERRNO(&h->p) != HPE_OK)
		return parse_error(h);
	return (long)k;
}

const char *hp_method(const struct hparse *h)
{
	return http_method_str((enum http_method)h->p.method);
}

bool hp_header_is(const struct hparse *h, const uint8_t *buf, unsigned i, const char *name)
{
	size_t n = strlen(name);

	return i < h->nhdr && h->hdr[i].name.len == n &&
	       strncasecmp((const char *)buf + h->hdr[i].name.off, name, n) == 0;
}
