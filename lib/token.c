/* Agent tokens: generation, the relay's token file, and what a token may
 * do. See ferry/token.h for the file format. Only SHA-256 hashes of tokens
 * are ever written or kept; the token itself is shown once, by the caller. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ferry/token.h"

#define TOKEN_PREFIX "fyt_"
#define TOKEN_RAW 32
#define TOKEN_B64 43		/* base64url of 32 bytes, no padding */
#define TOKEN_LEN (sizeof(TOKEN_PREFIX) - 1 + TOKEN_B64)
#define TOKEN_WIRE_MAX 128	/* HELLO carries at most 128 bytes */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* 1..max characters of [A-Za-z0-9._-], exactly len bytes long. */
static int valid_name(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_name_char(s[i]))
			return 0;
	return 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hash_token(const char *token, uint8_t out[32])
{
	unsigned int len = 0;

	if (!EVP_Digest(token, strlen(token), out, &len, EVP_sha256(), NULL) ||
	    len != 32)
		return -1;
	return 0;
}

/* Tokens travel in HELLO: 1..128 bytes of printable ASCII. */
static int valid_token(const char *token)
{
	size_t n = strlen(token);

	if (n == 0 || n > TOKEN_WIRE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)token[i] < 0x21 || (unsigned char)token[i] > 0x7e)
			return 0;
	return 1;
}

int fy_token_generate(char *out, size_t n)
{
	static const char b64url[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t raw[TOKEN_RAW + 1];	/* one spare zero byte for the last group */
	char *p;

	if (!out || n < TOKEN_LEN + 1)
		return -1;
	if (RAND_bytes(raw, TOKEN_RAW) != 1)
		return -1;
	raw[TOKEN_RAW] = 0;
	memcpy(out, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
	p = out + sizeof(TOKEN_PREFIX) - 1;
	/* 32 bytes = 10 groups of 3 + 2 bytes -> 40 + 3 characters. */
	for (size_t i = 0; i < TOKEN_RAW; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8;
		size_t left = TOKEN_RAW - i;

		if (left >= 3)
			v |= raw[i + 2];
		*p++ = b64url[(v >> 18) & 63];
		*p++ = b64url[(v >> 12) & 63];
		*p++ = b64url[(v >> 6) & 63];
		if (left >= 3)
			*p++ = b64url[v & 63];
	}
	*p = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

/* Strict decimal port 1..65535 from exactly len bytes. */
static int parse_port(const char *s, size_t len, uint16_t *out)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int fy_token_parse_ranges(const char *s, struct fy_token_rule *r, char *err, size_t errlen)
{
	const char *p = s;
	unsigned n = 0;

	if (!s || !*s) {
		seterr(err, errlen, "empty port list");
		return -1;
	}
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *dash = memchr(p, '-', len);
		struct fy_port_range rg = { 0, 0 };
		int bad;

		if (len == 0) {
			seterr(err, errlen, "empty entry in port list '%s'", s);
			return -1;
		}
		if (n == FY_TOKEN_RANGES_MAX) {
			seterr(err, errlen, "too many port ranges in '%s' (at most %d)",
			       s, FY_TOKEN_RANGES_MAX);
			return -1;
		}
		if (dash) {
			bad = parse_port(p, (size_t)(dash - p), &rg.lo) ||
			      parse_port(dash + 1, len - (size_t)(dash - p) - 1, &rg.hi);
		} else {
			bad = parse_port(p, len, &rg.lo);
			rg.hi = rg.lo;
		}
		if (bad) {
			seterr(err, errlen, "bad port '%.*s' (ports are 1..65535)",
			       (int)len, p);
			return -1;
		}
		if (rg.lo > rg.hi) {
			seterr(err, errlen, "bad port range '%.*s' (low end above high end)",
			       (int)len, p);
			return -1;
		}
		r->ranges[n++] = rg;
		if (!end)
			break;
		p = end + 1;
	}
	r->nranges = n;
	return 0;
}

/* Fills r->agents from a comma list. */
static int parse_agents(const char *s, struct fy_token_rule *r, char *err, size_t errlen)
{
	const char *p = s;
	unsigned n = 0;

	if (!s || !*s) {
		seterr(err, errlen, "empty agent list");
		return -1;
	}
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (!valid_name(p, len, sizeof(r->agents[0]) - 1)) {
			seterr(err, errlen, "bad agent name '%.*s' (1..63 of A-Z a-z 0-9 . _ -)",
			       (int)len, p);
			return -1;
		}
		if (n == FY_TOKEN_AGENTS_MAX) {
			seterr(err, errlen, "too many agent names in '%s' (at most %d)",
			       s, FY_TOKEN_AGENTS_MAX);
			return -1;
		}
		memcpy(r->agents[n], p, len);
		r->agents[n][len] = '\0';
		n++;
		if (!end)
			break;
		p = end + 1;
	}
	r->nagents = n;
	return 0;
}

/* A comma list of names into out (max entries); with patterns, an entry
 * may also be "@name" or "*". */
static int parse_list(const char *s, char (*out)[65], size_t width, unsigned max, unsigned *n,
		      bool patterns, const char *what, char *err, size_t errlen)
{
	const char *p = s;

	*n = 0;
	if (!s || !*s) {
		seterr(err, errlen, "empty %s list", what);
		return -1;
	}
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		bool star = patterns && len == 1 && *p == '*';
		size_t at = patterns && len > 1 && *p == '@';

		if (!star && !valid_name(p + at, len - at, width - 2)) {
			seterr(err, errlen, "bad %s '%.*s' (1..63 of A-Z a-z 0-9 . _ -%s)", what,
			       (int)len, p, patterns ? ", @group or *" : "");
			return -1;
		}
		if (*n == max) {
			seterr(err, errlen, "too many entries in %s '%s' (at most %u)", what, s, max);
			return -1;
		}
		memcpy(out[*n], p, len);
		out[*n][len] = '\0';
		(*n)++;
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}

static int parse_groups(const char *s, struct fy_token_rule *r, char *err, size_t errlen)
{
	char tmp[FY_TOKEN_GROUPS_MAX][65];

	if (parse_list(s, tmp, sizeof(tmp[0]), FY_TOKEN_GROUPS_MAX, &r->ngroups, false, "group",
		       err, errlen))
		return -1;
	for (unsigned i = 0; i < r->ngroups; i++) {
		size_t n = strnlen(tmp[i], sizeof(r->groups[i]) - 1);

		memcpy(r->groups[i], tmp[i], n);
		r->groups[i][n] = '\0';
	}
	return 0;
}

static int parse_reach(const char *s, struct fy_token_rule *r, char *err, size_t errlen)
{
	return parse_list(s, r->reach, sizeof(r->reach[0]), FY_TOKEN_REACH_MAX, &r->nreach, true,
			  "reach entry", err, errlen);
}

/* A name pattern: 1..63 of [a-z0-9-*]. Lower case only: names are
 * compared as DNS labels, which the relay lowers before it looks. */
static bool valid_pattern(const char *s, size_t len)
{
	if (len == 0 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '*'))
			return false;
	return true;
}

int fy_token_parse_names(const char *s, struct fy_token_rule *r, char *err, size_t errlen)
{
	const char *p = s;

	r->nnames = 0;
	if (!s || !*s) {
		seterr(err, errlen, "empty names list");
		return -1;
	}
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (!valid_pattern(p, len)) {
			seterr(err, errlen, "bad name pattern '%.*s' (1..63 of a-z 0-9 - and * for "
			       "any run of them)", (int)len, p);
			return -1;
		}
		if (r->nnames == FY_TOKEN_NAMES_MAX) {
			seterr(err, errlen, "too many name patterns in '%s' (at most %d)", s,
			       FY_TOKEN_NAMES_MAX);
			return -1;
		}
		memcpy(r->names[r->nnames], p, len);
		r->names[r->nnames][len] = '\0';
		r->nnames++;
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}

/* '*' matches any run (empty too). Iterative, with one backtrack point:
 * linear in practice, and never recursion a pattern could deepen. */
static bool glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*pat == '*') {
			star = pat++;
			resume = s;
		} else if (*pat && *pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

int fy_token_allows_name(const struct fy_token_rule *r, const char *name)
{
	for (unsigned i = 0; i < r->nnames; i++)
		if (glob_match(r->names[i], name))
			return 1;
	return 0;
}

void fy_token_names_str(const struct fy_token_rule *r, char *out, size_t n)
{
	size_t off = 0;

	if (!n)
		return;
	out[0] = '\0';
	for (unsigned i = 0; i < r->nnames && off < n; i++)
		off += (size_t)snprintf(out + off, n - off, "%s%s", i ? "," : "", r->names[i]);
}

static int parse_id(const char *s, struct fy_token_rule *r, char *err, size_t errlen)
{
	size_t len = strlen(s);

	if (!valid_name(s, len, sizeof(r->id) - 1)) {
		seterr(err, errlen, "bad id '%s' (1..31 of A-Z a-z 0-9 . _ -)", s);
		return -1;
	}
	memcpy(r->id, s, len + 1);
	return 0;
}

static int parse_hash(const char *s, struct fy_token_rule *r, char *err, size_t errlen)
{
	static const char pfx[] = "sha256:";
	const char *h = s + sizeof(pfx) - 1;

	if (strncmp(s, pfx, sizeof(pfx) - 1) != 0) {
		seterr(err, errlen, "expected 'sha256:<64 hex>' after the id, got '%s'", s);
		return -1;
	}
	if (strlen(h) != 64) {
		seterr(err, errlen, "bad hash '%s' (need 64 hex digits, got %zu)", s, strlen(h));
		return -1;
	}
	for (size_t i = 0; i < 32; i++) {
		int hi = hexval(h[2 * i]), lo = hexval(h[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			seterr(err, errlen, "bad hex digit in hash '%s'", s);
			return -1;
		}
		r->hash[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int parse_max_ports(const char *s, unsigned *out, char *err, size_t errlen)
{
	uint16_t v;

	if (parse_port(s, strlen(s), &v)) {
		seterr(err, errlen, "bad maxports '%s' (a number from 1 to 65535)", s);
		return -1;
	}
	*out = v;
	return 0;
}

/* One non-comment line, already split on whitespace and NUL-terminated. */
static int parse_line(char *line, struct fy_token_rule *r, char *err, size_t errlen)
{
	char *save = NULL, *f;
	int have_agents = 0, have_ports = 0, have_max = 0, have_groups = 0, have_reach = 0;
	int have_kind = 0;
	int have_names = 0;

	memset(r, 0, sizeof(*r));
	f = strtok_r(line, " \t", &save);	/* caller saw a non-blank */
	if (parse_id(f, r, err, errlen))
		return -1;
	f = strtok_r(NULL, " \t", &save);
	if (!f || *f == '#') {
		seterr(err, errlen, "missing 'sha256:<hash>' after id '%s'", r->id);
		return -1;
	}
	if (parse_hash(f, r, err, errlen))
		return -1;
	while ((f = strtok_r(NULL, " \t", &save)) != NULL) {
		if (*f == '#')
			break;	/* trailing comment */
		if (strncmp(f, "agents=", 7) == 0) {
			if (have_agents) {
				seterr(err, errlen, "agents= given twice");
				return -1;
			}
			have_agents = 1;
			if (parse_agents(f + 7, r, err, errlen))
				return -1;
		} else if (strncmp(f, "ports=", 6) == 0) {
			if (have_ports) {
				seterr(err, errlen, "ports= given twice");
				return -1;
			}
			have_ports = 1;
			if (fy_token_parse_ranges(f + 6, r, err, errlen))
				return -1;
		} else if (strncmp(f, "maxports=", 9) == 0) {
			if (have_max) {
				seterr(err, errlen, "maxports= given twice");
				return -1;
			}
			have_max = 1;
			if (parse_max_ports(f + 9, &r->max_ports, err, errlen))
				return -1;
		} else if (strncmp(f, "groups=", 7) == 0) {
			if (have_groups++) {
				seterr(err, errlen, "groups= given twice");
				return -1;
			}
			if (parse_groups(f + 7, r, err, errlen))
				return -1;
		} else if (strncmp(f, "reach=", 6) == 0) {
			if (have_reach++) {
				seterr(err, errlen, "reach= given twice");
				return -1;
			}
			if (parse_reach(f + 6, r, err, errlen))
				return -1;
		} else if (strncmp(f, "names=", 6) == 0) {
			if (have_names++) {
				seterr(err, errlen, "names= given twice");
				return -1;
			}
			if (fy_token_parse_names(f + 6, r, err, errlen))
				return -1;
		} else if (strncmp(f, "kind=", 5) == 0) {
			if (have_kind++) {
				seterr(err, errlen, "kind= given twice");
				return -1;
			}
			if (strcmp(f + 5, "admin") != 0) {
				seterr(err, errlen, "unknown kind '%s' (the only kind is admin; an agent "
				       "token has none)", f + 5);
				return -1;
			}
			r->admin = true;
		} else {
			seterr(err, errlen, "unknown field '%s' (expected agents=, ports=, maxports=, "
			       "groups=, reach=, names= or kind=)", f);
			return -1;
		}
	}
	if (r->admin) {
		/* An admin token acts as no agent: fields that would make it one
		 * are a mistake in the file, not something to ignore. */
		if (have_agents || have_ports || have_max || have_groups || have_reach ||
		    have_names) {
			seterr(err, errlen, "admin token '%s' takes no agents=, ports=, maxports=, "
			       "groups=, reach= or names=", r->id);
			return -1;
		}
		return 0;
	}
	if (!have_agents) {
		seterr(err, errlen, "missing agents= for id '%s'", r->id);
		return -1;
	}
	if (!have_ports && !have_names) {
		seterr(err, errlen, "missing ports= (or names=) for id '%s'", r->id);
		return -1;
	}
	return 0;
}

static int load_stream(FILE *fp, const char *path, struct fy_tokens *t,
		       char *err, size_t errlen)
{
	char *line = NULL, msg[256];
	size_t cap = 0, alloc = 0;
	ssize_t len;
	unsigned lineno = 0;
	int ret = -1;

	t->v = NULL;
	t->n = 0;
	while ((len = getline(&line, &cap, fp)) >= 0) {
		struct fy_token_rule r;
		char *p = line;

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (strlen(line) != (size_t)len) {
			seterr(err, errlen, "%s:%u: NUL byte in line", path, lineno);
			goto out;
		}
		p += strspn(p, " \t");
		if (*p == '\0' || *p == '#')
			continue;
		if (parse_line(p, &r, msg, sizeof(msg))) {
			seterr(err, errlen, "%s:%u: %s", path, lineno, msg);
			goto out;
		}
		for (size_t i = 0; i < t->n; i++) {
			if (strcmp(t->v[i].id, r.id) == 0) {
				seterr(err, errlen, "%s:%u: duplicate id '%s'", path, lineno, r.id);
				goto out;
			}
			if (memcmp(t->v[i].hash, r.hash, 32) == 0) {
				seterr(err, errlen, "%s:%u: id '%s' has the same token hash as id '%s'",
				       path, lineno, r.id, t->v[i].id);
				goto out;
			}
		}
		if (t->n == alloc) {
			size_t na = alloc ? alloc * 2 : 8;
			struct fy_token_rule *nv = realloc(t->v, na * sizeof(*nv));

			if (!nv) {
				seterr(err, errlen, "%s: out of memory", path);
				goto out;
			}
			t->v = nv;
			alloc = na;
		}
		t->v[t->n++] = r;
	}
	if (ferror(fp)) {
		seterr(err, errlen, "%s: read error: %s", path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	free(line);
	if (ret)
		fy_tokens_free(t);
	return ret;
}

int fy_tokens_load(const char *path, struct fy_tokens *t, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "re");
	int ret;

	t->v = NULL;
	t->n = 0;
	if (!fp) {
		seterr(err, errlen, "cannot open token file '%s': %s", path, strerror(errno));
		return -1;
	}
	ret = load_stream(fp, path, t, err, errlen);
	fclose(fp);
	return ret;
}

void fy_tokens_free(struct fy_tokens *t)
{
	if (!t)
		return;
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

const struct fy_token_rule *fy_tokens_match(const struct fy_tokens *t, const char *token)
{
	const struct fy_token_rule *found = NULL;
	uint8_t h[32];

	if (!t || !token || hash_token(token, h))
		return NULL;
	/* Compare against every rule, without stopping at the first hit. */
	for (size_t i = 0; i < t->n; i++) {
		int eq = CRYPTO_memcmp(t->v[i].hash, h, sizeof(h)) == 0;

		if (eq && !found)
			found = &t->v[i];
	}
	return found;
}

int fy_token_allows_agent(const struct fy_token_rule *r, const char *name)
{
	for (unsigned i = 0; i < r->nagents; i++)
		if (strcmp(r->agents[i], name) == 0)
			return 1;
	return 0;
}

int fy_token_in_group(const struct fy_token_rule *r, const char *group)
{
	for (unsigned i = 0; i < r->ngroups; i++)
		if (!strcmp(r->groups[i], group))
			return 1;
	return 0;
}

int fy_token_reaches(const struct fy_token_rule *from, const char *to_name,
		     const struct fy_token_rule *to)
{
	for (unsigned i = 0; i < from->nreach; i++) {
		const char *e = from->reach[i];

		if (!strcmp(e, "*") || !strcmp(e, to_name) ||
		    (e[0] == '@' && fy_token_in_group(to, e + 1)))
			return 1;
	}
	return 0;
}

void fy_token_reach_str(const struct fy_token_rule *r, char *out, size_t n)
{
	size_t off = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < r->nreach && off < n; i++)
		off += (size_t)snprintf(out + off, n - off, "%s%s", i ? "," : "", r->reach[i]);
}

int fy_token_allows_port(const struct fy_token_rule *r, uint16_t port)
{
	for (unsigned i = 0; i < r->nranges; i++)
		if (port >= r->ranges[i].lo && port <= r->ranges[i].hi)
			return 1;
	return 0;
}

void fy_token_ranges_str(const struct fy_token_rule *r, char *out, size_t n)
{
	size_t off = 0;

	if (!n)
		return;
	out[0] = '\0';
	for (unsigned i = 0; i < r->nranges && off < n; i++) {
		const struct fy_port_range *g = &r->ranges[i];
		int w;

		if (g->lo == g->hi)
			w = snprintf(out + off, n - off, "%s%u", i ? "," : "", g->lo);
		else
			w = snprintf(out + off, n - off, "%s%u-%u", i ? "," : "", g->lo, g->hi);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

static void agents_str(const struct fy_token_rule *r, char *out, size_t n)
{
	size_t off = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < r->nagents && off < n; i++) {
		int w = snprintf(out + off, n - off, "%s%s", i ? "," : "", r->agents[i]);

		if (w < 0)
			break;
		off += (size_t)w;
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int fy_tokens_append(const char *path, const char *token, const struct fy_token_spec *spec,
		     char *err, size_t errlen)
{
	struct fy_token_rule r;
	struct fy_tokens cur = { 0 };
	char line[FY_TOKEN_AGENTS_MAX * 64 + FY_TOKEN_RANGES_MAX * 12 + FY_TOKEN_REACH_MAX * 66 +
		  FY_TOKEN_NAMES_MAX * 66 +
		  1000];
	char astr[FY_TOKEN_AGENTS_MAX * 64], pstr[FY_TOKEN_RANGES_MAX * 12 + 8] = "";
	char nstr[FY_TOKEN_NAMES_MAX * 66 + 8] = "";
	char hex[65], msg[256], maxp[24] = "", extra[FY_TOKEN_REACH_MAX * 66 + 600] = "";
	struct stat st;
	FILE *fp = NULL;
	int fd, ret = -1, len;

	memset(&r, 0, sizeof(r));
	if (!token || !valid_token(token)) {
		seterr(err, errlen, "bad token (1..128 printable characters)");
		return -1;
	}
	if (!spec->admin && !spec->ports && !spec->names) {
		seterr(err, errlen, "a token needs ports or names to claim");
		return -1;
	}
	if (!spec->admin && (parse_agents(spec->agents, &r, err, errlen) ||
			     (spec->ports && fy_token_parse_ranges(spec->ports, &r, err, errlen)) ||
			     (spec->names && fy_token_parse_names(spec->names, &r, err, errlen))))
		return -1;
	if (!spec->id || parse_id(spec->id, &r, err, errlen))
		return -1;
	if (spec->max_ports > 65535) {
		seterr(err, errlen, "bad maxports %u (a number from 1 to 65535)", spec->max_ports);
		return -1;
	}
	if (spec->max_ports)
		snprintf(maxp, sizeof(maxp), " maxports=%u", spec->max_ports);
	if (!spec->admin && spec->groups && parse_groups(spec->groups, &r, err, errlen))
		return -1;
	if (!spec->admin && spec->reach && parse_reach(spec->reach, &r, err, errlen))
		return -1;
	if (!spec->admin && (spec->groups || spec->reach))
		snprintf(extra, sizeof(extra), "%s%s%s%s", spec->groups ? " groups=" : "",
			 spec->groups ? spec->groups : "", spec->reach ? " reach=" : "",
			 spec->reach ? spec->reach : "");
	if (hash_token(token, r.hash)) {
		seterr(err, errlen, "cannot hash token");
		return -1;
	}

	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		seterr(err, errlen, "cannot open token file '%s': %s", path, strerror(errno));
		return -1;
	}
	/* Serialise concurrent "token add" runs on the same file. */
	if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0) {
		seterr(err, errlen, "cannot lock '%s': %s", path, strerror(errno));
		goto out;
	}
	fp = fdopen(dup(fd), "r");
	if (!fp) {
		seterr(err, errlen, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	if (load_stream(fp, path, &cur, msg, sizeof(msg))) {
		seterr(err, errlen, "%s (fix the file before adding tokens)", msg);
		goto out;
	}
	for (size_t i = 0; i < cur.n; i++) {
		if (strcmp(cur.v[i].id, r.id) == 0) {
			seterr(err, errlen, "id '%s' already exists in '%s'; choose another id",
			       r.id, path);
			goto out;
		}
		if (memcmp(cur.v[i].hash, r.hash, 32) == 0) {
			seterr(err, errlen, "this token is already in '%s' as id '%s'",
			       path, cur.v[i].id);
			goto out;
		}
	}

	for (size_t i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", r.hash[i]);
	agents_str(&r, astr, sizeof(astr));
	if (r.nranges) {
		memcpy(pstr, " ports=", 8);
		fy_token_ranges_str(&r, pstr + 7, sizeof(pstr) - 7);
	}
	if (r.nnames) {
		memcpy(nstr, " names=", 8);
		fy_token_names_str(&r, nstr + 7, sizeof(nstr) - 7);
	}
	if (spec->admin)
		len = snprintf(line, sizeof(line), "%s sha256:%s kind=admin\n", r.id, hex);
	else
		len = snprintf(line, sizeof(line), "%s sha256:%s agents=%s%s%s%s%s\n",
			       r.id, hex, astr, pstr, maxp, extra, nstr);
	if (len < 0 || (size_t)len >= sizeof(line)) {
		seterr(err, errlen, "token line too long");
		goto out;
	}
	/* Keep an unterminated last line from swallowing ours. */
	if (st.st_size > 0) {
		char last;

		if (pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n' &&
		    write_all(fd, "\n", 1)) {
			seterr(err, errlen, "cannot write '%s': %s", path, strerror(errno));
			goto out;
		}
	}
	if (write_all(fd, line, (size_t)len) || fsync(fd) < 0) {
		seterr(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	fy_tokens_free(&cur);
	if (fp)
		fclose(fp);
	close(fd);
	return ret;
}
