/* Who may open streams to whom, agent to agent: the token's reach= (the
 * agents, @groups or * a token's agents may reach) and, narrowing it, the
 * relay's policy file (--policy FILE, read again on SIGHUP). Deny by
 * default: without reach, nothing; with a policy file, only what a line
 * allows.
 *
 * Policy file, one rule per line, the first that matches decides, and no
 * match denies:
 *
 *   allow|deny FROM TO [HOST[:PORT]]
 *
 * FROM, TO: an agent name pattern (shell glob), @group (the token's
 * groups=), or *. HOST: a name pattern, an address, or a prefix
 * (10.0.0.0/24, fd00::/8) — as the requesting agent named the target; the
 * relay resolves nothing, so a name matches name patterns only. PORT: n,
 * lo-hi or * (default *). '#' starts a comment.
 *
 * Ownership: policy_load fills a struct the caller frees with policy_free. */
#ifndef FERRY_RELAY_POLICY_H
#define FERRY_RELAY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/frame.h"
#include "ferry/token.h"

#define POLICY_PATTERN_MAX 64

struct policy_rule {
	bool allow;
	char from[POLICY_PATTERN_MAX + 1];
	char to[POLICY_PATTERN_MAX + 1];
	enum { HOST_ANY, HOST_GLOB, HOST_PREFIX } host_kind;
	char host[FY_HOST_MAX + 1];	/* HOST_GLOB */
	int family;			/* HOST_PREFIX: AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned prefix;
	uint16_t port_lo, port_hi;
	unsigned line;
};

struct policy {
	struct policy_rule *v;
	size_t n;
	char path[256];
};

/* 0, or -1 with err naming the line ("policy:3: ..."). */
int policy_load(const char *path, struct policy *p, char *err, size_t errlen);
void policy_free(struct policy *p);

/* The agent `from` (its token rule) asks for a stream to agent `to` (its
 * rule) and its target d: FY_E_OK, or FY_E_DENIED with why (which names
 * both agents and what refused). p may be NULL (no policy file). */
uint32_t policy_decide(const struct policy *p, const char *from, const struct fy_token_rule *fr,
		       const char *to, const struct fy_token_rule *tr, const struct fy_dial *d,
		       char *why, size_t n);

#endif
