/* Agent tokens: generation, the relay's token file, and what a token
 * may do. The file keeps only SHA-256 hashes of tokens.
 *
 * File format (one rule per line, '#' comments):
 *   <id> sha256:<64 hex> agents=<name>[,<name>...] ports=<p>[-<q>][,...]
 *        [maxports=<n>] [groups=<group>[,...]] [reach=<agent>|@<group>|*[,...]]
 *        [names=<pattern>[,...]]
 * names: the names (HTTP Host / path, TLS SNI; protocol 3) its agents may
 * claim: a lower-case DNS label where '*' stands for any run of
 * characters ("web", "pi-*", "*"). A rule needs ports= or names= (or
 * both): a names-only token claims no port.
 * groups: the groups an agent of this token belongs to; reach: the agents
 * (by name, by group, or all) an agent of this token may open streams to
 * (agent to agent: -L, -D, -W). No reach: none.
 *   <id> sha256:<64 hex> kind=admin
 * An admin token (kind=admin) opens the relay's admin API and nothing
 * else: it names no agents and no ports, the tunnel listener refuses it,
 * and the admin API refuses agent tokens.
 * id is a short label for logs (never the token). A token is
 * "fyt_" followed by 43 base64url characters (32 random bytes). */
#ifndef FERRY_TOKEN_H
#define FERRY_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FY_TOKEN_AGENTS_MAX 16
#define FY_TOKEN_RANGES_MAX 32
#define FY_TOKEN_GROUPS_MAX 8
#define FY_TOKEN_REACH_MAX 16
#define FY_TOKEN_NAMES_MAX 16

struct fy_port_range { uint16_t lo, hi; };

struct fy_token_rule {
	char id[32];
	uint8_t hash[32];
	unsigned nagents;
	char agents[FY_TOKEN_AGENTS_MAX][64];
	unsigned nranges;
	struct fy_port_range ranges[FY_TOKEN_RANGES_MAX];
	unsigned max_ports;	/* ports one agent may hold at once; 0: relay default */
	unsigned ngroups;
	char groups[FY_TOKEN_GROUPS_MAX][64];
	unsigned nreach;
	char reach[FY_TOKEN_REACH_MAX][65];	/* "name", "@group" or "*" */
	bool admin;		/* kind=admin: the admin API's, never an agent's */
	unsigned nnames;
	char names[FY_TOKEN_NAMES_MAX][65];	/* claimable names: "web", "pi-*" */
};

/* What `token add` writes: every field but the token itself. */
struct fy_token_spec {
	const char *id;		/* label */
	const char *agents;	/* comma list */
	const char *ports;	/* range list; NULL: none (names is then needed) */
	unsigned max_ports;	/* 0: not written (the relay's default applies) */
	const char *groups;	/* comma list; NULL: none */
	const char *reach;	/* comma list of names, @groups, *; NULL: none */
	bool admin;		/* kind=admin: agents, ports, groups, reach unused */
	const char *names;	/* comma list of name patterns; NULL: none */
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
/* Whether the rule's names= covers name (a lower-case label). */
int fy_token_allows_name(const struct fy_token_rule *r, const char *name);
/* "pi-*,web" */
void fy_token_names_str(const struct fy_token_rule *r, char *out, size_t n);
/* Parses "pi-*,web" into r->names. 0 or -1 with err. */
int fy_token_parse_names(const char *s, struct fy_token_rule *r, char *err, size_t errlen);
/* Whether an agent of rule from may open streams to the agent to_name,
 * whose token rule is to (its groups). */
int fy_token_reaches(const struct fy_token_rule *from, const char *to_name,
		     const struct fy_token_rule *to);
int fy_token_in_group(const struct fy_token_rule *r, const char *group);
/* "a,@lab,*" */
void fy_token_reach_str(const struct fy_token_rule *r, char *out, size_t n);
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
