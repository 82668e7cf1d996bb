/* The SOCKS5 server's side of a -D connection (RFC 1928, with RFC 1929
 * username/password when the agent has --socks-auth): greeting, the
 * optional login, then one CONNECT to an IPv4 or IPv6 address or a domain
 * name, which the far agent resolves. Bytes from the client are fed as
 * they come; every length is checked against what arrived and against its
 * field's maximum before use, and anything else ends the connection with
 * the SOCKS reply that says why. No I/O here. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define SOCKS_VER 5
#define M_NONE 0x00
#define M_USERPASS 0x02
#define M_REFUSED 0xff

enum socks_state { S_GREETING, S_LOGIN, S_REQUEST, S_DONE, S_FAILED };

struct socks {
	enum socks_state st;
	const char *user, *pass;	/* borrowed: the agent's --socks-auth, or NULL */
	uint8_t buf[4 + 2 + 255 + 255 + 8];	/* the longest message: a login */
	size_t len;
	char host[FY_HOST_MAX + 1];
	uint16_t port;
};

struct socks *socks_new(const char *user, const char *pass)
{
	struct socks *s = calloc(1, sizeof(*s));

	if (s) {
		s->user = user;
		s->pass = pass;
	}
	return s;
}

void socks_free(struct socks *s)
{
	free(s);
}

size_t socks_reply(uint8_t rep, uint8_t *out)
{
	/* VER REP RSV ATYP=IPv4 BND.ADDR 0.0.0.0 BND.PORT 0: the far agent's
	 * own address is not ours to tell. */
	static const uint8_t tail[] = { 0, 1, 0, 0, 0, 0, 0, 0 };

	out[0] = SOCKS_VER;
	out[1] = rep;
	memcpy(out + 2, tail, sizeof(tail));
	return 2 + sizeof(tail);
}

static int fail(struct socks *s, uint8_t rep, uint8_t *out, size_t *outlen)
{
	s->st = S_FAILED;
	*outlen = socks_reply(rep, out);
	return -1;
}

/* Greeting: VER NMETHODS METHODS... -> VER METHOD. */
static int greeting(struct socks *s, uint8_t *out, size_t *outlen, size_t *used)
{
	size_t n;
	uint8_t want = s->user ? M_USERPASS : M_NONE, chosen = M_REFUSED;

	if (s->len < 2)
		return 0;
	if (s->buf[0] != SOCKS_VER) {
		s->st = S_FAILED;	/* not SOCKS5: no reply it would understand */
		*outlen = 0;
		return -1;
	}
	n = s->buf[1];
	if (n == 0 || s->len < 2 + n)
		return n == 0 ? (s->st = S_FAILED, *outlen = 0, -1) : 0;
	for (size_t i = 0; i < n; i++)
		if (s->buf[2 + i] == want)
			chosen = want;
	out[0] = SOCKS_VER;
	out[1] = chosen;
	*outlen = 2;
	*used = 2 + n;
	if (chosen == M_REFUSED) {
		s->st = S_FAILED;
		return -1;
	}
	s->st = chosen == M_USERPASS ? S_LOGIN : S_REQUEST;
	return 1;
}

/* RFC 1929: VER=1 ULEN UNAME PLEN PASSWD -> VER STATUS. */
static int login(struct socks *s, uint8_t *out, size_t *outlen, size_t *used)
{
	size_t ul, pl;
	bool ok;

	if (s->len < 2)
		return 0;
	ul = s->buf[1];
	if (s->len < 3 + ul)
		return 0;
	pl = s->buf[2 + ul];
	if (s->len < 3 + ul + pl)
		return 0;
	ok = s->buf[0] == 1 && ul == strlen(s->user) && pl == strlen(s->pass) &&
	     !memcmp(s->buf + 2, s->user, ul) && !memcmp(s->buf + 3 + ul, s->pass, pl);
	out[0] = 1;
	out[1] = ok ? 0 : 1;
	*outlen = 2;
	*used = 3 + ul + pl;
	if (!ok) {
		s->st = S_FAILED;
		return -1;
	}
	s->st = S_REQUEST;
	return 1;
}

/* VER CMD RSV ATYP DST.ADDR DST.PORT. */
static int request(struct socks *s, uint8_t *out, size_t *outlen, size_t *used)
{
	size_t alen, need;
	const uint8_t *a;

	if (s->len < 5)
		return 0;
	if (s->buf[0] != SOCKS_VER || s->buf[2] != 0)
		return fail(s, 0x01, out, outlen);
	switch (s->buf[3]) {
	case 1: alen = 4; need = 4 + 4 + 2; break;
	case 4: alen = 16; need = 4 + 16 + 2; break;
	case 3:
		alen = s->buf[4];
		if (alen == 0)
			return fail(s, 0x01, out, outlen);
		need = 5 + alen + 2;
		break;
	default:
		return fail(s, 0x08, out, outlen);	/* address type not supported */
	}
	if (s->len < need)
		return 0;
	if (s->buf[1] != 1)
		return fail(s, 0x07, out, outlen);	/* only CONNECT */
	a = s->buf + (s->buf[3] == 3 ? 5 : 4);
	if (s->buf[3] == 1) {
		inet_ntop(AF_INET, a, s->host, sizeof(s->host));
	} else if (s->buf[3] == 4) {
		inet_ntop(AF_INET6, a, s->host, sizeof(s->host));
	} else {
		for (size_t i = 0; i < alen; i++) {
			uint8_t c = a[i];

			/* A name to resolve, nothing else: no spaces, no controls. */
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
				return fail(s, 0x01, out, outlen);
		}
		memcpy(s->host, a, alen);
		s->host[alen] = '\0';
	}
	s->port = (uint16_t)(a[alen] << 8 | a[alen + 1]);
	if (s->port == 0)
		return fail(s, 0x01, out, outlen);
	*used = need;
	*outlen = 0;
	s->st = S_DONE;
	return 1;
}

int socks_input(struct socks *s, const uint8_t *p, size_t n, uint8_t *out, size_t *outlen)
{
	*outlen = 0;
	if (s->st == S_FAILED)
		return -1;
	if (s->st == S_DONE)
		return 1;
	/* A client sends one message and waits for the answer: more than
	 * the longest message before one is answered is a protocol error. */
	if (n > sizeof(s->buf) - s->len) {
		s->st = S_FAILED;
		return -1;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	for (;;) {
		size_t used = 0, o = 0;
		int r;

		switch (s->st) {
		case S_GREETING: r = greeting(s, out + *outlen, &o, &used); break;
		case S_LOGIN: r = login(s, out + *outlen, &o, &used); break;
		case S_REQUEST: r = request(s, out + *outlen, &o, &used); break;
		default: return s->st == S_DONE ? 1 : -1;
		}
		*outlen += o;
		if (r <= 0)
			return r;
		memmove(s->buf, s->buf + used, s->len - used);
		s->len -= used;
		if (s->st == S_DONE)
			return 1;	/* bytes sent early stay: socks_leftover */
	}
}

size_t socks_leftover(const struct socks *s, const uint8_t **p)
{
	*p = s->buf;
	return s->st == S_DONE ? s->len : 0;
}

void socks_target(const struct socks *s, char *host, size_t hostlen, uint16_t *port)
{
	snprintf(host, hostlen, "%s", s->host);
	*port = s->port;
}
