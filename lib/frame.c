/* Frame codec: header peek, payload encoders and decoders.
 *
 * Every field is read and written with explicit big-endian shifts, and
 * every length is checked against what the type allows before a byte of
 * the payload is touched: the input comes from a peer we do not trust.
 * Decoders validate everything first and only then fill the caller's
 * struct, so a rejected frame leaves no half-written output behind. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <ferry/frame.h>
#include <ferry/wire.h>

static inline uint8_t *put8(uint8_t *p, uint8_t v)
{
	p[0] = v;
	return p + 1;
}

static inline uint8_t *put_bytes(uint8_t *p, const void *src, size_t n)
{
	memcpy(p, src, n);
	return p + n;
}

static inline int fail(const char **why, const char *reason)
{
	*why = reason;
	return -EPROTO;
}

/* ---- codes ---- */

static const char *const code_names[] = {
	[FY_E_OK] = "ok",
	[FY_E_PROTOCOL] = "protocol error",
	[FY_E_VERSION] = "version mismatch",
	[FY_E_AUTH] = "authentication failed",
	[FY_E_DENIED] = "denied",
	[FY_E_IN_USE] = "in use",
	[FY_E_FLOW] = "flow control error",
	[FY_E_REFUSED] = "refused",
	[FY_E_LIMIT] = "limit reached",
	[FY_E_TIMEOUT] = "timeout",
	[FY_E_SHUTDOWN] = "shutdown",
	[FY_E_GONE] = "gone",
	[FY_E_INTERNAL] = "internal error",
	[FY_E_REPLACED] = "replaced",
	[FY_E_AGAIN] = "open the tunnel again (obsolete)",
	[FY_E_UNSUPPORTED] = "not supported",
};

const char *fy_code_str(uint32_t code)
{
	/* A peer may send any u32: never index past the table. */
	if (code < sizeof(code_names) / sizeof(code_names[0]))
		return code_names[code];
	return "unknown code";
}

/* ---- header ---- */

/* What the header of each type may carry. Reasons are per type so the
 * log line says which frame was wrong without a formatting buffer; the
 * numbers (flags, stream id) are in *h, which peek fills even on error. */
struct ftype {
	const char *name;
	uint8_t flags;		/* flags defined for the type */
	bool on_stream;		/* true: stream id != 0; false: stream 0 */
	const char *bad_flag;
	const char *bad_stream;
};

#define CTRL(n, f) { n, f, false, "flag not valid for " n, "control frame " n " on non-zero stream" }
#define STRM(n, f) { n, f, true, "flag not valid for " n, n " on stream 0" }

static const struct ftype ftypes[256] = {
	[FY_T_HELLO] = CTRL("HELLO", FY_F_CLIENT),
	[FY_T_WELCOME] = CTRL("WELCOME", 0),
	[FY_T_REGISTER] = CTRL("REGISTER", FY_F_UDP | FY_F_NAME),
	[FY_T_RESULT] = CTRL("RESULT", 0),
	[FY_T_FORWARD] = CTRL("FORWARD", 0),
	[FY_T_FORWARDED] = CTRL("FORWARDED", 0),
	[FY_T_OPEN] = STRM("OPEN", FY_F_UDP | FY_F_NAME),
	[FY_T_DATA] = STRM("DATA", FY_F_FIN),
	[FY_T_WINDOW] = STRM("WINDOW", 0),
	[FY_T_RESET] = STRM("RESET", 0),
	[FY_T_CONNECT] = STRM("CONNECT", 0),
	[FY_T_DIAL] = STRM("DIAL", 0),
	[FY_T_DGRAM] = STRM("DGRAM", 0),
	[FY_T_PING] = CTRL("PING", FY_F_ACK),
	[FY_T_GOAWAY] = CTRL("GOAWAY", 0),
	[FY_T_ERROR] = CTRL("ERROR", 0),
};

#undef CTRL
#undef STRM

int fy_frame_peek(const uint8_t *buf, size_t len, struct fy_frame_hdr *h,
		  const uint8_t **payload, const char **why)
{
	const struct ftype *ft;

	if (len < FY_FRAME_HDR_LEN)
		return 0;

	h->type = buf[0];
	h->flags = buf[1];
	h->stream = fy_get32(buf + 4);
	h->len = fy_get32(buf + 8);

	/* The header is judged as soon as it is complete: a bad frame is
	 * rejected without first buffering up to 64 KiB of its payload. */
	if (h->len > FY_FRAME_MAX_PAYLOAD)
		return fail(why, "frame length exceeds 65536");
	if (fy_get16(buf + 2) != 0)
		return fail(why, "reserved field not zero");
	ft = &ftypes[h->type];
	if (!ft->name)
		return fail(why, "unknown frame type");
	if (h->flags & ~ft->flags)
		return fail(why, ft->bad_flag);
	if (ft->on_stream != (h->stream != 0))
		return fail(why, ft->bad_stream);

	if (len - FY_FRAME_HDR_LEN < h->len)
		return 0;
	*payload = buf + FY_FRAME_HDR_LEN;
	/* At most 12 + 65536: fits an int. */
	return (int)(FY_FRAME_HDR_LEN + h->len);
}

void fy_frame_put_hdr(uint8_t *out, uint8_t type, uint8_t flags,
		      uint32_t stream, uint32_t len)
{
	out = put8(out, type);
	out = put8(out, flags);
	out = fy_put16(out, 0);
	out = fy_put32(out, stream);
	fy_put32(out, len);
}

/* ---- encoders ---- */

/* Length of a message cut to max bytes. A cut never splits a UTF-8
 * sequence: the receiver logs the text and should not see half a char. */
static size_t msg_len(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((uint8_t)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* Finishes a frame whose payload was written from out + HDR to end. */
static size_t finish(uint8_t *out, const uint8_t *end, uint8_t type,
		     uint8_t flags, uint32_t stream)
{
	size_t plen = (size_t)(end - out) - FY_FRAME_HDR_LEN;

	fy_frame_put_hdr(out, type, flags, stream, (uint32_t)plen);
	return FY_FRAME_HDR_LEN + plen;
}

size_t fy_frame_hello(uint8_t *out, const struct fy_hello *m)
{
	size_t tl = strnlen(m->token, FY_TOKEN_MAX);
	size_t nl = strnlen(m->name, FY_NAME_MAX);
	uint8_t *p = out + FY_FRAME_HDR_LEN;

	p = fy_put16(p, m->ver_min);
	p = fy_put16(p, m->ver_max);
	p = fy_put32(p, m->tunnel_index);
	p = fy_put64(p, m->session);
	p = put8(p, (uint8_t)tl);
	p = put_bytes(p, m->token, tl);
	p = put8(p, (uint8_t)nl);
	p = put_bytes(p, m->name, nl);
	return finish(out, p, FY_T_HELLO, m->client ? FY_F_CLIENT : 0, 0);
}

size_t fy_frame_welcome(uint8_t *out, const struct fy_welcome *m)
{
	uint8_t *p = out + FY_FRAME_HDR_LEN;

	p = fy_put16(p, m->version);
	p = fy_put16(p, m->workers);
	p = fy_put32(p, m->tunnel_index);
	p = fy_put32(p, m->keepalive_ms);
	p = fy_put32(p, m->window);
	return finish(out, p, FY_T_WELCOME, 0, 0);
}

size_t fy_frame_register(uint8_t *out, const struct fy_register *m)
{
	uint8_t *p = out + FY_FRAME_HDR_LEN;

	p = fy_put32(p, m->req);
	p = fy_put16(p, m->port);
	if (m->named) {
		size_t nl = strnlen(m->name, FY_NAME_MAX);

		p = put8(p, m->kind);
		p = put8(p, (uint8_t)nl);
		p = put_bytes(p, m->name, nl);
		return finish(out, p, FY_T_REGISTER, FY_F_NAME, 0);
	}
	return finish(out, p, FY_T_REGISTER, m->udp ? FY_F_UDP : 0, 0);
}

size_t fy_frame_result(uint8_t *out, const struct fy_result *m)
{
	size_t ml = msg_len(m->msg, FY_REASON_MAX);
	uint8_t *p = out + FY_FRAME_HDR_LEN;

	p = fy_put32(p, m->req);
	p = fy_put32(p, m->code);
	p = fy_put16(p, (uint16_t)ml);
	p = put_bytes(p, m->msg, ml);
	return finish(out, p, FY_T_RESULT, 0, 0);
}

size_t fy_frame_open(uint8_t *out, uint32_t stream, const struct fy_open *m)
{
	uint8_t *p = out + FY_FRAME_HDR_LEN;

	p = fy_put16(p, m->port);
	p = fy_put16(p, m->peer_port);
	p = put_bytes(p, m->peer_addr, sizeof(m->peer_addr));
	return finish(out, p, FY_T_OPEN, (m->udp ? FY_F_UDP : 0) | (m->named ? FY_F_NAME : 0),
		      stream);
}

size_t fy_frame_window(uint8_t *out, uint32_t stream, uint32_t incr)
{
	uint8_t *p = fy_put32(out + FY_FRAME_HDR_LEN, incr);

	return finish(out, p, FY_T_WINDOW, 0, stream);
}

size_t fy_frame_reason(uint8_t *out, uint8_t type, uint32_t stream,
		       const struct fy_reason *m)
{
	size_t ml = msg_len(m->msg, FY_REASON_MAX);
	uint8_t *p = out + FY_FRAME_HDR_LEN;

	p = fy_put32(p, m->code);
	p = fy_put16(p, (uint16_t)ml);
	p = put_bytes(p, m->msg, ml);
	return finish(out, p, type, 0, stream);
}

size_t fy_frame_ping(uint8_t *out, uint8_t flags, uint64_t opaque)
{
	uint8_t *p = fy_put64(out + FY_FRAME_HDR_LEN, opaque);

	return finish(out, p, FY_T_PING, flags, 0);
}

size_t fy_frame_dial(uint8_t *out, uint8_t type, uint32_t stream, const struct fy_dial *m)
{
	size_t al = strnlen(m->agent, FY_NAME_MAX), hl = strnlen(m->host, FY_HOST_MAX);
	uint8_t *p = out + FY_FRAME_HDR_LEN;

	p = put8(p, m->kind);
	p = fy_put16(p, m->port);
	p = put8(p, (uint8_t)al);
	p = put_bytes(p, m->agent, al);
	p = put8(p, (uint8_t)hl);
	p = put_bytes(p, m->host, hl);
	return finish(out, p, type, 0, stream);
}

size_t fy_frame_forward(uint8_t *out, const struct fy_forward *m)
{
	size_t sl = strnlen(m->spec, FY_SPEC_MAX);
	uint8_t *p = out + FY_FRAME_HDR_LEN;

	p = fy_put32(p, m->req);
	p = put8(p, m->op);
	p = fy_put16(p, (uint16_t)sl);
	p = put_bytes(p, m->spec, sl);
	return finish(out, p, FY_T_FORWARD, 0, 0);
}

size_t fy_frame_forwarded(uint8_t *out, const struct fy_result *m)
{
	size_t n = fy_frame_result(out, m);

	out[0] = FY_T_FORWARDED;
	return n;
}

/* ---- decoders ---- */

#define HELLO_FIXED	18u	/* ver_min .. session, token_len, name_len */
#define WELCOME_LEN	16u
#define REGISTER_LEN	6u
#define REGNAME_FIXED	8u	/* req, id, kind, name_len */
#define OPEN_LEN	20u
#define WINDOW_LEN	4u
#define PING_LEN	8u
#define REASON_FIXED	6u	/* code, msg_len */
#define RESULT_FIXED	10u	/* req, code, msg_len */
#define DIAL_FIXED	5u	/* kind, port, agent_len, host_len */
#define FORWARD_FIXED	7u	/* req, op, spec_len */

static bool token_ok(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

static bool name_ok(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];

		/* Spelled out rather than isalnum(): the locale must not
		 * widen what a peer may call itself. */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static void copy_str(char *dst, const uint8_t *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int fy_frame_get_hello(const uint8_t *p, uint32_t n, struct fy_hello *m, const char **why)
{
	uint32_t tl, nl;

	if (n < HELLO_FIXED)
		return fail(why, "HELLO payload too short");
	tl = p[16];
	/* name_len sits after the token: it exists only if the token fits. */
	if (n < HELLO_FIXED + tl)
		return fail(why, "HELLO token_len exceeds payload");
	nl = p[17 + tl];
	if (n != HELLO_FIXED + tl + nl)
		return fail(why, "HELLO length does not match token_len and name_len");
	if (tl == 0)
		return fail(why, "HELLO token empty");
	if (tl > FY_TOKEN_MAX)
		return fail(why, "HELLO token longer than 128 bytes");
	if (!token_ok(p + 17, tl))
		return fail(why, "HELLO token not printable ASCII");
	if (nl > FY_NAME_MAX)
		return fail(why, "HELLO name longer than 63 bytes");
	if (!name_ok(p + 18 + tl, nl))
		return fail(why, "HELLO name has a character outside [A-Za-z0-9._-]");

	m->ver_min = fy_get16(p);
	m->ver_max = fy_get16(p + 2);
	m->tunnel_index = fy_get32(p + 4);
	m->session = fy_get64(p + 8);
	copy_str(m->token, p + 17, tl);
	copy_str(m->name, p + 18 + tl, nl);
	return 0;
}

int fy_frame_get_welcome(const uint8_t *p, uint32_t n, struct fy_welcome *m, const char **why)
{
	uint16_t workers;
	uint32_t keepalive, window;

	if (n != WELCOME_LEN)
		return fail(why, "WELCOME payload length not 16");
	workers = fy_get16(p + 2);
	keepalive = fy_get32(p + 8);
	window = fy_get32(p + 12);
	if (workers < 1 || workers > 1024)
		return fail(why, "WELCOME workers outside 1..1024");
	if (keepalive < 100)
		return fail(why, "WELCOME keepalive_ms below 100");
	if (window < 16384 || window > FY_WINDOW_MAX)
		return fail(why, "WELCOME window outside 16384..2^31-1");

	m->version = fy_get16(p);
	m->workers = workers;
	m->tunnel_index = fy_get32(p + 4);
	m->keepalive_ms = keepalive;
	m->window = window;
	return 0;
}

int fy_frame_get_register(const uint8_t *p, uint32_t n, struct fy_register *m, const char **why)
{
	uint16_t port;

	if (n != REGISTER_LEN)
		return fail(why, "REGISTER payload length not 6");
	port = fy_get16(p + 4);
	if (port == 0)
		return fail(why, "REGISTER port 0");

	m->req = fy_get32(p);
	m->port = port;
	return 0;
}

bool fy_name_label_ok(const char *s, size_t n)
{
	if (n == 0 || n > FY_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

int fy_frame_get_register_name(const uint8_t *p, uint32_t n, struct fy_register *m,
			       const char **why)
{
	uint32_t nl;

	if (n < REGNAME_FIXED)
		return fail(why, "REGISTER (name) payload too short");
	nl = p[7];
	if (n != REGNAME_FIXED + nl)
		return fail(why, "REGISTER (name) length does not match name_len");
	if (fy_get16(p + 4) == 0)
		return fail(why, "REGISTER (name) id 0");
	if (p[6] != FY_NAME_HTTP && p[6] != FY_NAME_TLS)
		return fail(why, "REGISTER (name) kind not http or tls");
	if (!fy_name_label_ok((const char *)p + 8, nl))
		return fail(why, "REGISTER (name) name not 1..63 of [a-z0-9-]");

	m->req = fy_get32(p);
	m->port = fy_get16(p + 4);
	m->udp = false;
	m->named = true;
	m->kind = p[6];
	copy_str(m->name, p + 8, nl);
	return 0;
}

/* code u32, msg_len u16, msg: shared tail of RESULT and RESET/GOAWAY/ERROR.
 * The message is text for logs, copied as is and never interpreted. */
static int get_msg(const uint8_t *p, uint32_t n, uint32_t *code, char *msg,
		   const char **why)
{
	uint32_t ml;

	if (n < REASON_FIXED)
		return fail(why, "payload too short for code and msg_len");
	ml = fy_get16(p + 4);
	if (ml > FY_REASON_MAX)
		return fail(why, "msg_len exceeds 256");
	if (n != REASON_FIXED + ml)
		return fail(why, "payload length does not match msg_len");
	*code = fy_get32(p);
	copy_str(msg, p + REASON_FIXED, ml);
	return 0;
}

int fy_frame_get_result(const uint8_t *p, uint32_t n, struct fy_result *m, const char **why)
{
	if (n < RESULT_FIXED)
		return fail(why, "RESULT payload too short");
	/* get_msg fills only on success: req is written after it. */
	if (get_msg(p + 4, n - 4, &m->code, m->msg, why) < 0)
		return -EPROTO;
	m->req = fy_get32(p);
	return 0;
}

int fy_frame_get_open(const uint8_t *p, uint32_t n, struct fy_open *m, const char **why)
{
	if (n != OPEN_LEN)
		return fail(why, "OPEN payload length not 20");
	m->port = fy_get16(p);
	m->peer_port = fy_get16(p + 2);
	memcpy(m->peer_addr, p + 4, sizeof(m->peer_addr));
	return 0;
}

int fy_frame_get_window(const uint8_t *p, uint32_t n, uint32_t *incr, const char **why)
{
	uint32_t v;

	if (n != WINDOW_LEN)
		return fail(why, "WINDOW payload length not 4");
	v = fy_get32(p);
	if (v < 1 || v > FY_WINDOW_MAX)
		return fail(why, "WINDOW increment outside 1..2^31-1");
	*incr = v;
	return 0;
}

int fy_frame_get_reason(const uint8_t *p, uint32_t n, struct fy_reason *m, const char **why)
{
	return get_msg(p, n, &m->code, m->msg, why);
}

int fy_frame_get_ping(const uint8_t *p, uint32_t n, uint64_t *opaque, const char **why)
{
	if (n != PING_LEN)
		return fail(why, "PING payload length not 8");
	*opaque = fy_get64(p);
	return 0;
}

/* A host as a peer names it: a DNS name or an address literal, printed
 * in logs and handed to getaddrinfo; no spaces or control characters. */
static bool host_ok(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' || c == ':'))
			return false;
	}
	return true;
}

int fy_frame_get_dial(const uint8_t *p, uint32_t n, struct fy_dial *m, const char **why)
{
	uint32_t al, hl;

	if (n < DIAL_FIXED)
		return fail(why, "CONNECT/DIAL payload too short");
	al = p[3];
	if (n < DIAL_FIXED + al)
		return fail(why, "CONNECT/DIAL agent_len exceeds payload");
	hl = p[4 + al];
	if (n != DIAL_FIXED + al + hl)
		return fail(why, "CONNECT/DIAL length does not match agent_len and host_len");
	if (p[0] != FY_KIND_TCP && p[0] != FY_KIND_UDP)
		return fail(why, "CONNECT/DIAL kind not tcp or udp");
	if (fy_get16(p + 1) == 0)
		return fail(why, "CONNECT/DIAL port 0");
	if (al == 0 || al > FY_NAME_MAX || !name_ok(p + 4, al))
		return fail(why, "CONNECT/DIAL agent name empty, too long or not [A-Za-z0-9._-]");
	if (hl == 0 || !host_ok(p + 5 + al, hl))
		return fail(why, "CONNECT/DIAL host empty or not a name or address");

	m->kind = p[0];
	m->port = fy_get16(p + 1);
	copy_str(m->agent, p + 4, al);
	copy_str(m->host, p + 5 + al, hl);
	return 0;
}

int fy_frame_get_forward(const uint8_t *p, uint32_t n, struct fy_forward *m, const char **why)
{
	uint32_t sl;

	if (n < FORWARD_FIXED)
		return fail(why, "FORWARD payload too short");
	sl = fy_get16(p + 5);
	if (sl == 0 || sl > FY_SPEC_MAX)
		return fail(why, "FORWARD spec_len outside 1..200");
	if (n != FORWARD_FIXED + sl)
		return fail(why, "FORWARD length does not match spec_len");
	if (p[4] != FY_FWD_OPEN && p[4] != FY_FWD_CLOSE)
		return fail(why, "FORWARD op not open or close");
	for (uint32_t i = 0; i < sl; i++)
		if (p[7 + i] < 0x20 || p[7 + i] > 0x7e)
			return fail(why, "FORWARD spec not printable ASCII");

	m->req = fy_get32(p);
	m->op = p[4];
	copy_str(m->spec, p + 7, sl);
	return 0;
}
