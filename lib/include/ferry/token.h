/* Agent tokens: generation, the relay's token file, and what a token
 * may do. The file keeps only SHA-256 hashes of tokens.
 *
 * File format (one rule per line, '#' comments):
 *   <id> sha256:<64 hex> agents=<name>[,<name>...] ports=<p>[-<q>][,...]
 *        [maxports=<n>]
 * id is a short label for logs (never the token). A token is
 * "fyt_" followed by 43 base64url characters (32 random bytes). */
#ifndef FERRY_TOKEN_H
#define FERRY_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define FY_TOKEN_AGENTS_MAX 16
#define FY_TOKEN_RANGES_MAX 32

struct fy_port_range { uint16_t lo, hi; };

struct fy_token_rule {
	char id[32];
	uint8_t hash[32];
	unsigned nagents;
	char agents[FY_TOKEN_AGENTS_MAX][64];
	unsigned nranges;
	struct fy_port_range ranges[FY_TOKEN_RANGES_MAX];
	unsigned max_ports;	/* ports one agent may hold at once; 0: relay default */
};

/* What `token add` writes: every field but the token itself. */
struct fy_token_spec {
	const char *id;		/* label */
	const char *agents;	/* comma list */
	const char *ports;	/* range list */
	unsigned max_ports;	/* 0: not written (the relay's default applies) */
};

/* Owned by the caller: fy_tokens_free releases v. */
struct fy_tokens {
	struct fy_token_rule *v;
	size_t n;
};

/* Parses the file. Errors name the line: "tokens:3: bad port range '9-2'". */
int fy_tokens_load(const char *path, struct fy_tokens *t, char *err, size_t errlen);
void fy_tokens_free(struct fy_tokens *t);

/* Rule whose hash matches sha256(token), compared in constant time; NULL if none. */
const struct fy_token_rule *fy_tokens_match(const struct fy_tokens *t, const char *token);
int fy_token_allows_agent(const struct fy_token_rule *r, const char *name);
int fy_token_allows_port(const struct fy_token_rule *r, uint16_t port);
/* "2200-2299,3000" */
void fy_token_ranges_str(const struct fy_token_rule *r, char *out, size_t n);

/* Fresh random token into out (at least 48 bytes). 0 or -1. */
int fy_token_generate(char *out, size_t n);
/* Parses "2200-2299,3000" into r->ranges. 0 or -1 with err. */
int fy_token_parse_ranges(const char *s, struct fy_token_rule *r, char *err, size_t errlen);
/* Appends a rule for token (hashed) to path, creating it 0600 if needed.
 * 0 or -1 with err. */
int fy_tokens_append(const char *path, const char *token, const struct fy_token_spec *spec,
		     char *err, size_t errlen);

#endif
