/* Response heads over http_parser (see hresp.h). The head is copied into
 * h->buf as it arrives, so the parser's callbacks name offsets into one
 * buffer, and a name or value split over two reads is one span. */
#include <string.h>
#include <strings.h>

#include "ferry/text.h"
#include "hresp.h"

static struct hresp *of(http_parser *p)
{
	return p->data;
}

static uint16_t off_of(struct hresp *h, const char *at)
{
	return (uint16_t)(at - h->buf);
}

static int on_field(http_parser *p, const char *at, size_t n)
{
	struct hresp *h = of(p);

	if (h->nhdr && !h->in_value) {		/* the rest of the same name */
		h->name[h->nhdr - 1].len = (uint16_t)(h->name[h->nhdr - 1].len + n);
		return 0;
	}
	if (h->nhdr == HRESP_MAX_HDRS) {
		h->why = "more than 64 headers";
		return -1;
	}
	h->name[h->nhdr] = (struct hresp_span){ off_of(h, at), (uint16_t)n };
	h->value[h->nhdr] = (struct hresp_span){ 0, 0 };
	h->nhdr++;
	h->in_value = false;
	return 0;
}

static int on_value(http_parser *p, const char *at, size_t n)
{
	struct hresp *h = of(p);
	struct hresp_span *v;

	if (!h->nhdr)
		return -1;
	v = &h->value[h->nhdr - 1];
	if (h->in_value)
		v->len = (uint16_t)(v->len + n);
	else
		*v = (struct hresp_span){ off_of(h, at), (uint16_t)n };
	h->in_value = true;
	return 0;
}

/* No body is read: after a CONNECT or a 101 the bytes are another
 * protocol's, and any other answer ends the attempt anyway. */
static int on_headers_complete(http_parser *p)
{
	(void)p;
	return 1;
}

/* Stop right after the head: what follows is not HTTP. */
static int on_message_complete(http_parser *p)
{
	struct hresp *h = of(p);

	h->done = true;
	h->status = p->status_code;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_header_field = on_field,
	.on_header_value = on_value,
	.on_headers_complete = on_headers_complete,
	.on_message_complete = on_message_complete,
};

void hresp_init(struct hresp *h)
{
	memset(h, 0, sizeof(*h));
	http_parser_init(&h->p, HTTP_RESPONSE);
	h->p.data = h;
}

long hresp_feed(struct hresp *h, const uint8_t *p, size_t n)
{
	size_t take = n < sizeof(h->buf) - h->len ? n : sizeof(h->buf) - h->len;
	size_t start = h->len, k;
	enum http_errno e;

	if (h->done || h->why)
		return -1;
	if (take == 0) {
		h->why = "response head over 8192 bytes";
		return -1;
	}
	memcpy(h->buf + start, p, take);
	h->len += take;
	k = http_parser_execute(&h->p, &settings, h->buf + start, take);
	e = HTTP_PARSER_ERRNO(&h->p);
	if (h->done) {
		h->len = start + k;	/* the head ends here */
		return (long)k;
	}
	if (e != HPE_OK) {
		if (!h->why)
			h->why = http_errno_description(e);
		return -1;
	}
	if (h->len == sizeof(h->buf)) {
		h->why = "response head over 8192 bytes";
		return -1;
	}
	return (long)take;
}

bool hresp_header(const struct hresp *h, const char *name, const char **v, size_t *vl)
{
	size_t nl = strlen(name);

	for (unsigned i = 0; i < h->nhdr; i++) {
		if (h->name[i].len != nl || strncasecmp(h->buf + h->name[i].off, name, nl))
			continue;
		*v = h->buf + h->value[i].off;
		*vl = h->value[i].len;
		return true;
	}
	return false;
}

bool hresp_has_token(const struct hresp *h, const char *name, const char *token)
{
	for (unsigned i = 0; i < h->nhdr; i++)
		if (h->name[i].len == strlen(name) &&
		    !strncasecmp(h->buf + h->name[i].off, name, h->name[i].len) &&
		    fy_list_has_token(h->buf + h->value[i].off, h->value[i].len, token))
			return true;
	return false;
}
