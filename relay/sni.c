/* ClientHello server_name (RFC 8446 4.1.2, RFC 6066 3), read with a
 * cursor that refuses to step past the end of what contains it. */
#include <stdbool.h>
#include <string.h>

#include "ferry/wire.h"
#include "sni.h"

/* A bounded view: every read checks the bytes left first. */
struct cur {
	const uint8_t *p;
	size_t n;
};

static bool take(struct cur *c, size_t k, const uint8_t **out)
{
	if (c->n < k)
		return false;
	if (out)
		*out = c->p;
	c->p += k;
	c->n -= k;
	return true;
}

static bool get8(struct cur *c, unsigned *v)
{
	const uint8_t *b;

	if (!take(c, 1, &b))
		return false;
	*v = b[0];
	return true;
}

static bool get16(struct cur *c, unsigned *v)
{
	const uint8_t *b;

	if (!take(c, 2, &b))
		return false;
	*v = fy_get16(b);
	return true;
}

/* A sub-view of len bytes, len read as a u8 (w 1) or u16 (w 2). */
static bool vec(struct cur *c, int w, struct cur *sub)
{
	unsigned len;

	if (!(w == 1 ? get8(c, &len) : get16(c, &len)))
		return false;
	sub->p = c->p;
	sub->n = len;
	return take(c, len, NULL);
}

static int bad(const char **why, const char *w)
{
	*why = w;
	return -1;
}

/* The host_name of a server_name extension's body into name. */
static int server_name(struct cur ext, char *name, const char **why)
{
	struct cur list, host;
	unsigned type;

	if (!vec(&ext, 2, &list) || ext.n)
		return bad(why, "server_name extension length mismatch");
	while (list.n) {
		if (!get8(&list, &type) || !vec(&list, 2, &host))
			return bad(why, "server_name list truncated");
		if (type != 0)
			continue;	/* only host_name is defined */
		if (host.n == 0 || host.n > SNI_NAME_MAX)
			return bad(why, "server name empty or longer than 253 bytes");
		for (size_t i = 0; i < host.n; i++) {
			uint8_t ch = host.p[i];

			if (ch >= 'A' && ch <= 'Z')
				ch = (uint8_t)(ch - 'A' + 'a');
			else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
				   ch == '.' || ch == '-' || ch == '_'))
				return bad(why, "server name has a character outside [A-Za-z0-9._-]");
			name[i] = (char)ch;
		}
		name[host.n] = '\0';
		return 0;
	}
	return 0;
}

int sni_parse(const uint8_t *p, size_t n, char *name, const char **why)
{
	struct cur rec, hs, c, sid, suites, comp, exts, ext;
	unsigned rlen, htype, ver, etype;
	const uint8_t *hl;
	size_t hlen;

	name[0] = '\0';
	if (n >= 1 && p[0] != 0x16)
		return bad(why, "not a TLS handshake record");
	if (n >= 2 && p[1] != 0x03)
		return bad(why, "not a TLS record version");
	if (n < 5)
		return 0;
	rlen = fy_get16(p + 3);
	if (rlen < 4 || rlen > 16384)
		return bad(why, "TLS record length outside 4..16384");
	if (n < 5 + (size_t)rlen)
		return 0;
	rec.p = p + 5;
	rec.n = rlen;
	if (!get8(&rec, &htype) || htype != 1)
		return bad(why, "first handshake message is not a ClientHello");
	if (!take(&rec, 3, &hl))
		return bad(why, "ClientHello length truncated");
	hlen = (size_t)hl[0] << 16 | (size_t)hl[1] << 8 | hl[2];
	if (hlen > rec.n)
		return bad(why, "ClientHello split over TLS records (not supported)");
	hs.p = rec.p;
	hs.n = hlen;
	c = hs;
	if (!get16(&c, &ver) || (ver >> 8) != 3 || !take(&c, 32, NULL))
		return bad(why, "ClientHello version or random truncated");
	if (!vec(&c, 1, &sid) || sid.n > 32)
		return bad(why, "ClientHello session id longer than 32");
	if (!vec(&c, 2, &suites) || suites.n < 2 || suites.n % 2)
		return bad(why, "ClientHello cipher suites malformed");
	if (!vec(&c, 1, &comp) || comp.n < 1)
		return bad(why, "ClientHello compression methods malformed");
	if (c.n == 0)
		return 5 + (int)rlen;	/* no extensions: no name */
	if (!vec(&c, 2, &exts) || c.n)
		return bad(why, "ClientHello extensions length mismatch");
	while (exts.n) {
		if (!get16(&exts, &etype) || !vec(&exts, 2, &ext))
			return bad(why, "ClientHello extension truncated");
		if (etype == 0) {
			if (server_name(ext, name, why) < 0)
				return -1;
			break;
		}
	}
	return 5 + (int)rlen;
}
