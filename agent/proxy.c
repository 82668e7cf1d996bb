/* HTTP proxies for the agent's tunnels (see xport.h): the URL, the
 * environment (https_proxy, no_proxy, as curl reads them), the CONNECT
 * request and the verdict on its answer. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "xport.h"

#define CRED_MAX 255

/* %-decodes s[0..n) into out[cap]: its length, or -1. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%') {
			char hex[3] = { 0 };

			if (i + 2 >= n)
				return -1;
			if (!isxdigit((unsigned char)s[i + 1]) || !isxdigit((unsigned char)s[i + 2]))
				return -1;
			hex[0] = s[i + 1];
			hex[1] = s[i + 2];
			c = (char)strtol(hex, NULL, 16);
			i += 2;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (int)o;
}

static bool host_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned long v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* [v6]:port, host:port, host */
static int parse_hostport(const char *s, size_t n, struct proxy *p)
{
	const char *colon = NULL;
	size_t hl;

	p->port = PROXY_DEFAULT_PORT;
	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (!close)
			return -1;
		hl = (size_t)(close - s - 1);
		if (hl == 0 || hl >= sizeof(p->host))
			return -1;
		for (size_t i = 1; i <= hl; i++)
			if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
				return -1;
		memcpy(p->host, s + 1, hl);
		p->host[hl] = '\0';
		s = close + 1;
		n -= hl + 2;
		if (n == 0)
			return 0;
		if (s[0] != ':')
			return -1;
		return parse_port(s + 1, n - 1, &p->port);
	}
	colon = memchr(s, ':', n);
	hl = colon ? (size_t)(colon - s) : n;
	if (hl == 0 || hl >= sizeof(p->host))
		return -1;
	for (size_t i = 0; i < hl; i++)
		if (!host_char(s[i]))
			return -1;
	memcpy(p->host, s, hl);
	p->host[hl] = '\0';
	if (!colon)
		return 0;
	return parse_port(colon + 1, n - hl - 1, &p->port);
}

int proxy_parse(const char *url, struct proxy *p, char *err, size_t errlen)
{
	const char *s = url, *sep = strstr(url, "://"), *slash, *at;
	size_t alen;
	char user[CRED_MAX + 1], pass[CRED_MAX + 1], cred[2 * CRED_MAX + 2];
	int ul, pl;

	memset(p, 0, sizeof(*p));
	if (strlen(url) > 1000) {
		snprintf(err, errlen, "proxy URL longer than 1000 bytes");
		return -1;
	}
	if (sep) {
		if ((size_t)(sep - url) != 4 || strncasecmp(url, "http", 4)) {
			snprintf(err, errlen, "proxy URL: only http:// proxies are supported "
				 "(CONNECT in plain HTTP; the tunnel inside is TLS)");
			return -1;
		}
		s = sep + 3;
	}
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (slash && strcmp(slash, "/")) {
		snprintf(err, errlen, "proxy URL: a path after host:port is not allowed");
		return -1;
	}
	at = NULL;
	for (size_t i = 0; i < alen; i++)
		if (s[i] == '@')
			at = s + i;
	if (at) {
		const char *colon = memchr(s, ':', (size_t)(at - s));

		if (!colon || colon == s) {
			snprintf(err, errlen, "proxy URL: credentials must be user:password@");
			return -1;
		}
		ul = pct_decode(s, (size_t)(colon - s), user, sizeof(user));
		pl = pct_decode(colon + 1, (size_t)(at - colon - 1), pass, sizeof(pass));
		if (ul <= 0 || pl < 0 || memchr(user, ':', (size_t)ul) || memchr(user, '\0', (size_t)ul) ||
		    memchr(pass, '\0', (size_t)pl)) {
			snprintf(err, errlen, "proxy URL: bad user or password (each at most %d bytes, "
				 "%%-escapes as %%XX, no ':' in the user)", CRED_MAX);
			return -1;
		}
		memcpy(cred, user, (size_t)ul);
		cred[ul] = ':';
		memcpy(cred + ul + 1, pass, (size_t)pl);
		EVP_EncodeBlock((unsigned char *)p->auth, (const unsigned char *)cred, ul + 1 + pl);
		OPENSSL_cleanse(cred, sizeof(cred));
		OPENSSL_cleanse(pass, sizeof(pass));
		alen -= (size_t)(at + 1 - s);
		s = at + 1;
	}
	if (parse_hostport(s, alen, p) < 0) {
		memset(p, 0, sizeof(*p));
		snprintf(err, errlen, "proxy URL: expected http://[user:password@]host[:port] "
			 "(port 1-65535, default %d)", PROXY_DEFAULT_PORT);
		return -1;
	}
	snprintf(p->from, sizeof(p->from), "--proxy");
	return 0;
}

bool proxy_excluded(const char *no_proxy, const char *host)
{
	size_t hl = strlen(host);
	const char *s = no_proxy;

	if (!no_proxy)
		return false;
	while (*s) {
		const char *e = strchr(s, ',');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		const char *v = s;

		while (n && (*v == ' ' || *v == '\t')) {
			v++;
			n--;
		}
		while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n == 1 && v[0] == '*')
			return true;
		if (n && v[0] == '.') {
			v++;
			n--;
		}
		if (n && n == hl && !strncasecmp(v, host, n))
			return true;
		/* a domain: host ends with ".entry" */
		if (n && hl > n && host[hl - n - 1] == '.' && !strncasecmp(host + hl - n, v, n))
			return true;
		if (!e)
			break;
		s = e + 1;
	}
	return false;
}

int proxy_from_env(const char *host, struct proxy *p, char *err, size_t errlen)
{
	static const char *const names[] = { "https_proxy", "HTTPS_PROXY" };
	const char *no = getenv("no_proxy");

	if (!no)
		no = getenv("NO_PROXY");
	for (size_t i = 0; i < 2; i++) {
		const char *v = getenv(names[i]);
		char e[200];

		if (!v || !*v)
			continue;
		if (proxy_excluded(no, host))
			return 0;
		if (proxy_parse(v, p, e, sizeof(e)) < 0) {
			snprintf(err, errlen, "%s: %s", names[i], e);
			return -1;
		}
		snprintf(p->from, sizeof(p->from), "%s", names[i]);
		return 1;
	}
	return 0;
}

/* host:port, with brackets around an IPv6 address. */
static int authority(char *out, size_t n, const char *host, uint16_t port)
{
	return snprintf(out, n, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
}

size_t proxy_request(const struct proxy *p, const char *host, uint16_t port, char *out,
		     size_t n)
{
	char hp[300];
	int k;

	if (authority(hp, sizeof(hp), host, port) >= (int)sizeof(hp))
		return 0;
	k = snprintf(out, n, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n", hp, hp,
		     p->auth[0] ? "Proxy-Authorization: Basic " : "", p->auth,
		     p->auth[0] ? "\r\n" : "");
	return k > 0 && (size_t)k < n ? (size_t)k : 0;
}
