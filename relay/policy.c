/* The agent-to-agent policy (see policy.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ferry/text.h"
#include "policy.h"

static void seterr(char *err, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

static int parse_port_part(const char *s, struct policy_rule *r)
{
	return fy_port_range_parse(s, &r->port_lo, &r->port_hi);
}

static int parse_host_part(char *s, struct policy_rule *r)
{
	char *slash = strchr(s, '/');

	if (!*s)
		return -1;
	if (!strcmp(s, "*")) {
		r->host_kind = HOST_ANY;
		return 0;
	}
	if (slash) {
		char *end;
		unsigned long bits;

		*slash = '\0';
		bits = strtoul(slash + 1, &end, 10);
		if (*end || end == slash + 1)
			return -1;
		if (inet_pton(AF_INET, s, r->addr) == 1 && bits <= 32)
			r->family = AF_INET;
		else if (inet_pton(AF_INET6, s, r->addr) == 1 && bits <= 128)
			r->family = AF_INET6;
		else
			return -1;
		r->host_kind = HOST_PREFIX;
		r->prefix = (unsigned)bits;
		return 0;
	}
	if (inet_pton(AF_INET, s, r->addr) == 1) {
		r->host_kind = HOST_PREFIX;
		r->family = AF_INET;
		r->prefix = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, s, r->addr) == 1) {
		r->host_kind = HOST_PREFIX;
		r->family = AF_INET6;
		r->prefix = 128;
		return 0;
	}
	if (strlen(s) > FY_HOST_MAX)
		return -1;
	r->host_kind = HOST_GLOB;
	snprintf(r->host, sizeof(r->host), "%s", s);
	return 0;
}

/* HOST[:PORT], [v6]:PORT, [v6/bits]:PORT, [v6]/bits[:PORT] (as the
 * agent's --allow writes it) or a bare prefix. */
static int parse_target(char *s, struct policy_rule *r)
{
	char *colon = NULL;

	r->port_lo = 1;
	r->port_hi = 65535;
	if (s[0] == '[') {
		char *close = strchr(s, ']'), *rest;

		if (!close)
			return -1;
		*close = '\0';
		rest = close + 1;
		if (*rest == '/') {	/* a prefix length after the brackets */
			colon = strchr(rest, ':');
			if (colon) {
				*colon = '\0';
				if (parse_port_part(colon + 1, r) < 0)
					return -1;
			}
			memmove(close, rest, strlen(rest) + 1);	/* join "addr" and "/bits" */
			if (!strchr(s + 1, ':'))
				return -1;	/* brackets are for IPv6 */
			return parse_host_part(s + 1, r);
		}
		if (*rest == ':' && parse_port_part(rest + 1, r) < 0)
			return -1;
		if (*rest && *rest != ':')
			return -1;
		return parse_host_part(s + 1, r);
	}
	/* One colon: HOST:PORT; none or several: a host alone (IPv6). */
	colon = strchr(s, ':');
	if (colon && !strchr(colon + 1, ':')) {
		*colon = '\0';
		if (parse_port_part(colon + 1, r) < 0)
			return -1;
	}
	return parse_host_part(s, r);
}

static int pattern_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= POLICY_PATTERN_MAX && (s[0] != '@' || n > 1);
}

static int parse_line(char *line, unsigned lineno, struct policy_rule *r, char *err,
		      size_t errlen, const char *path)
{
	char *save = NULL, *verb, *from, *to, *target, *extra;

	memset(r, 0, sizeof(*r));
	r->line = lineno;
	verb = strtok_r(line, " \t", &save);
	from = strtok_r(NULL, " \t", &save);
	to = strtok_r(NULL, " \t", &save);
	target = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	if (!verb || (strcmp(verb, "allow") && strcmp(verb, "deny"))) {
		seterr(err, errlen, "%s:%u: expected 'allow' or 'deny'", path, lineno);
		return -1;
	}
	r->allow = !strcmp(verb, "allow");
	if (!from || !to || !pattern_ok(from) || !pattern_ok(to)) {
		seterr(err, errlen, "%s:%u: expected '%s FROM TO [HOST[:PORT]]'", path, lineno,
		       verb);
		return -1;
	}
	if (extra) {
		seterr(err, errlen, "%s:%u: unexpected '%s' after the target", path, lineno, extra);
		return -1;
	}
	snprintf(r->from, sizeof(r->from), "%s", from);
	snprintf(r->to, sizeof(r->to), "%s", to);
	r->host_kind = HOST_ANY;
	r->port_lo = 1;
	r->port_hi = 65535;
	if (target && parse_target(target, r) < 0) {
		seterr(err, errlen, "%s:%u: bad target (HOST[:PORT], a prefix like 10.0.0.0/24, "
		       "or *)", path, lineno);
		return -1;
	}
	return 0;
}

int policy_load(const char *path, struct policy *p, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[512];
	unsigned lineno = 0;
	size_t cap = 0;

	memset(p, 0, sizeof(*p));
	snprintf(p->path, sizeof(p->path), "%s", path);
	if (!f) {
		seterr(err, errlen, "cannot read policy file %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = line, *hash = strchr(line, '#');
		struct policy_rule r;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			seterr(err, errlen, "%s:%u: line too long", path, lineno);
			goto bad;
		}
		if (hash)
			*hash = '\0';
		s[strcspn(s, "\r\n")] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			continue;
		if (parse_line(s, lineno, &r, err, errlen, path) < 0)
			goto bad;
		if (p->n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct policy_rule *nv = realloc(p->v, nc * sizeof(*nv));

			if (!nv) {
				seterr(err, errlen, "out of memory reading %s", path);
				goto bad;
			}
			p->v = nv;
			cap = nc;
		}
		p->v[p->n++] = r;
	}
	fclose(f);
	return 0;
bad:
	fclose(f);
	policy_free(p);
	return -1;
}

void policy_free(struct policy *p)
{
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

static bool agent_matches(const char *pat, const char *name, const struct fy_token_rule *rule)
{
	if (pat[0] == '@')
		return fy_token_in_group(rule, pat + 1);
	return fnmatch(pat, name, 0) == 0;
}

static bool prefix_matches(const struct policy_rule *r, const uint8_t *a)
{
	unsigned full = r->prefix / 8, rest = r->prefix % 8;

	if (memcmp(a, r->addr, full))
		return false;
	return !rest || ((a[full] ^ r->addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* The address a host names, read as the agent will read it: getaddrinfo
 * (AI_NUMERICHOST) takes "10.5", "167772165", "0xa000005" and "012.0.0.5"
 * for IPv4 addresses as inet_aton does, and a socket to an IPv4-mapped
 * IPv6 address reaches the IPv4 one. Without this a line about 10.0.0.5
 * would not see those spellings of it (a deny line would be bypassed).
 * Returns the family, or 0 for a name. */
static int host_addr(const char *host, uint8_t a[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct in_addr in;

	/* inet_aton stops at white space, getaddrinfo does not. */
	if (host[strcspn(host, " \t\n\v\f\r")])
		return 0;
	if (inet_aton(host, &in)) {
		memcpy(a, &in, 4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, host, a) != 1)
		return 0;
	if (!memcmp(a, mapped, sizeof(mapped))) {
		memmove(a, a + 12, 4);
		return AF_INET;
	}
	return AF_INET6;
}

static bool host_matches(const struct policy_rule *r, const char *host)
{
	uint8_t a[16];

	switch (r->host_kind) {
	case HOST_ANY:
		return true;
	case HOST_GLOB:
		return fnmatch(r->host, host, FNM_CASEFOLD) == 0;
	default:
		return host_addr(host, a) == r->family && prefix_matches(r, a);
	}
}

uint32_t policy_decide(const struct policy *p, const char *from, const struct fy_token_rule *fr,
		       const char *to, const struct fy_token_rule *tr, const struct fy_dial *d,
		       char *why, size_t n)
{
	if (!fy_token_reaches(fr, to, tr)) {
		snprintf(why, n, "agent '%s' may not reach agent '%s' (its token's reach= does "
			 "not name it)", from, to);
		return FY_E_DENIED;
	}
	if (!p)
		return FY_E_OK;
	for (size_t i = 0; i < p->n; i++) {
		const struct policy_rule *r = &p->v[i];

		if (!agent_matches(r->from, from, fr) || !agent_matches(r->to, to, tr) ||
		    !host_matches(r, d->host) || d->port < r->port_lo || d->port > r->port_hi)
			continue;
		if (r->allow)
			return FY_E_OK;
		snprintf(why, n, "agent '%s' may not reach %s:%u at agent '%s' (policy line %u)",
			 from, d->host, d->port, to, r->line);
		return FY_E_DENIED;
	}
	snprintf(why, n, "agent '%s' may not reach %s:%u at agent '%s' (no policy line allows it)",
		 from, d->host, d->port, to);
	return FY_E_DENIED;
}
