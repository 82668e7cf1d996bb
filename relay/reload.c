/* SIGHUP: the token file read again and swapped in whole, as sshd rereads
 * authorized_keys. New connections see the new set at once; agents already
 * connected keep their sessions (each holds a copy of its token's rule),
 * as ssh sessions outlive the removal of their key. A file that does not
 * parse changes nothing. The agent-to-agent policy file (--policy) is read
 * again the same way: streams already joined stay, new ones see it. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "engine.h"
#include "policy.h"
#include "relay-t.h"

/* SIGHUP (main thread) and the admin API's /reload (its thread) may ask
 * at once: one reload at a time, so each frees only the set it replaced
 * and the count it logs is of a set still alive. Never taken on a worker. */
static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;

static int reload_tokens(struct relay *r);
static int reload_policy(struct relay *r);

int relay_reload(struct relay *r, bool wait, bool *tokens_ok, bool *policy_ok)
{
	/* A thread that must keep passing quiescent states (DPDK's lcore 0)
	 * does not wait: the reload running now reads the same files. */
	if (wait)
		pthread_mutex_lock(&reload_lock);
	else if (pthread_mutex_trylock(&reload_lock) != 0)
		return -EBUSY;
	*tokens_ok = reload_tokens(r) == 0;
	*policy_ok = reload_policy(r) == 0;
	pthread_mutex_unlock(&reload_lock);
	return *tokens_ok && *policy_ok ? 0 : -1;
}

static int reload_tokens(struct relay *r)
{
	struct fy_tokens *nt = calloc(1, sizeof(*nt)), *old;
	char err[512];

	if (!nt) {
		FY_WARN("relay", "SIGHUP: out of memory: tokens not reloaded");
		return -1;
	}
	if (fy_tokens_load(r->cfg.tokens, nt, err, sizeof(err)) < 0) {
		FY_WARN("relay", "SIGHUP: tokens not reloaded, the %zu loaded before stay in use: %s",
			r->tokens->n, err);
		free(nt);
		return -1;
	}
	old = rcu_xchg_pointer(&r->tokens, nt);
	/* Workers copy a rule out under rcu_read_lock; once each has passed a
	 * quiescent state none can still be looking at the old set. */
	synchronize_rcu();
	FY_INFO("relay", "SIGHUP: %zu token(s) loaded from %s (%zu before); connected agents "
		"keep their sessions", nt->n, r->cfg.tokens, old->n);
	if (nt->n == 0)
		FY_WARN("relay", "token file %s has no tokens: no new agent can connect", r->cfg.tokens);
	fy_tokens_free(old);
	free(old);
	return 0;
}

static int reload_policy(struct relay *r)
{
	struct policy *np, *old;
	char err[512];

	if (!r->cfg.policy[0])
		return 0;
	np = calloc(1, sizeof(*np));
	if (!np || policy_load(r->cfg.policy, np, err, sizeof(err)) < 0) {
		FY_WARN("relay", "policy not reloaded, the rules loaded before stay in use: %s",
			np ? err : "out of memory");
		free(np);
		return -1;
	}
	old = rcu_xchg_pointer(&r->policy, np);
	synchronize_rcu();
	FY_INFO("relay", "%zu policy rule(s) loaded from %s", np->n, r->cfg.policy);
	if (old) {
		policy_free(old);
		free(old);
	}
	return 0;
}
