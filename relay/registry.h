/* Registry of agent sessions (by agent name) and claimed public ports
 * (by protocol and port: TCP 53 and UDP 53 are two claims): read by
 * every worker on every new connection, written when agents come and go.
 * Both tables are liburcu lock-free hash tables (rculfhash): lookups run
 * under rcu_read_lock() without locks, and removed entries are freed
 * through call_rcu by their owner.
 *
 * The flavour is QSBR: reading costs nothing at all, and every thread
 * registered with RCU (kernel workers, DPDK lcores) announces a quiescent
 * state once per loop turn (rcu_quiescent_state()), outside any read-side
 * section; a grace period lasts until each has done so (a loop turn is
 * at most half a worker tick).
 *
 * Ownership: the registry borrows entries; whoever adds an entry removes
 * it and frees it after a grace period. Callers of every reg_* function
 * must hold rcu_read_lock() (the hash table requires it for add/del too). */
#ifndef FERRY_RELAY_REGISTRY_H
#define FERRY_RELAY_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include "ferry/budget.h"
#include "ferry/frame.h"
#include "ferry/token.h"

#define REG_MAX_WORKERS 64

/* What one worker publishes about one session's tunnels on it, for the
 * admin API and /metrics: written only by that worker (relaxed stores of
 * its own running totals), read by anyone. 64 bytes: workers do not share
 * a cache line. */
struct reg_sess_stats {
	atomic_uint_fast64_t bytes_in;		/* DATA/DGRAM payload from the agent */
	atomic_uint_fast64_t bytes_out;		/* to the agent */
	atomic_uint_fast64_t streams_opened;
	atomic_uint_fast64_t streams_open;	/* a level */
	uint64_t pad[4];
};

/* One agent process: all its tunnels share it. */
struct reg_session {
	struct cds_lfht_node node;
	struct rcu_head rcu;
	char name[FY_NAME_MAX + 1];
	uint64_t agent_session;		/* the agent's random id from HELLO */
	uint16_t version;		/* the protocol version the session speaks */
	uint64_t serial;		/* relay-wide unique, keys worker tables */
	struct fy_token_rule rule;	/* a copy: the token set may be reloaded */
	unsigned workers;		/* tunnels expected: one per worker */
	bool client;			/* v2 CLIENT: one tunnel, no ports, no DIALs,
					 * and not in the table: the name stays free */
	atomic_uint_fast64_t tunnels;	/* bit w: a tunnel is up on worker w */
	atomic_bool dead;		/* set once; tunnels close on seeing it */
	atomic_bool draining;		/* agent sent GOAWAY: no new streams */
	char dead_why[256];		/* written before dead is set */
	char peer[64];			/* where tunnel 0 came from, for messages */
	atomic_int refs;		/* tunnels + ports holding it */
	atomic_uint nports;		/* ports claimed (cap: rule or relay default) */
	struct fy_budget budget;	/* its share of the relay's buffer budget */
	atomic_uint rr;			/* round-robin cursor for new streams */
	uint64_t since_ms;		/* tunnel 0 authenticated (loop clock) */
	atomic_int tunnel0_worker;	/* where tunnel 0 lives (FORWARD goes there); -1 */
	unsigned nstats;		/* entries in stats: the relay's workers */
	struct reg_sess_stats *stats;	/* one per worker, owned (freed with s) */
};

/* A claimed public port and its listener; or (v3) a claimed name, which
 * has no listener of its own: the ingress listeners route to it. */
struct reg_port {
	struct cds_lfht_node node;
	struct rcu_head rcu;
	uint16_t port;			/* a name claim: the agent's id for it */
	bool udp;			/* with port, the key */
	char name[FY_NAME_MAX + 1];	/* a name claim when set: the key */
	uint8_t kind;			/* a name claim: enum fy_name_kind */
	uint64_t gone_ms;		/* a name claim kept after its session died
					 * (so clients get 502, not 404): since */
	struct reg_session *sess;	/* holds a reference */
	void *lio;			/* owned by worker `owner`: the backend's
					 * listener; UDP: pubudp's port, which
					 * holds the backend's socket */
	unsigned owner;
	bool takeover;			/* from the same agent's previous session */
	void *owner_ctx;		/* the owner worker */
	struct reg_port *owner_next;	/* the owner worker's list */
};

struct reg;

struct reg *reg_create(void);
/* Tables must be empty (every entry removed by its owner). */
void reg_destroy(struct reg *r);

struct reg_session *reg_session_lookup(struct reg *r, const char *name);
/* Adds s unless its name is present: then -EEXIST and *cur = the entry. */
int reg_session_add(struct reg *r, struct reg_session *s, struct reg_session **cur);
/* Replaces old (which must be in the table) with s. 0 or -ENOENT. */
int reg_session_replace(struct reg *r, struct reg_session *old, struct reg_session *s);
/* Removes s if it is still the entry for its name. */
void reg_session_del(struct reg *r, struct reg_session *s);
unsigned long reg_session_count(struct reg *r);
/* Calls fn for every session in the table (a snapshot under the caller's
 * rcu_read_lock: entries may come and go meanwhile). */
typedef void (*reg_session_fn)(struct reg_session *s, void *arg);
void reg_session_foreach(struct reg *r, reg_session_fn fn, void *arg);

/* The claim of name, or NULL. */
struct reg_port *reg_name_find(struct reg *r, const char *name);
unsigned long reg_name_count(struct reg *r);
/* The claim of (udp, port), or NULL. */
struct reg_port *reg_port_find(struct reg *r, bool udp, uint16_t port);
/* A TCP port's claim. */
static inline struct reg_port *reg_port_lookup(struct reg *r, uint16_t port)
{
	return reg_port_find(r, false, port);
}
/* Keyed by p->udp and p->port, or by p->name when it is set (the names
 * table). */
int reg_port_add(struct reg *r, struct reg_port *p, struct reg_port **cur);
int reg_port_replace(struct reg *r, struct reg_port *old, struct reg_port *p);
void reg_port_del(struct reg *r, struct reg_port *p);
unsigned long reg_port_count(struct reg *r);
typedef void (*reg_port_fn)(struct reg_port *p, void *arg);
void reg_port_foreach(struct reg *r, reg_port_fn fn, void *arg);
/* The name claims (gone ones too). */
void reg_name_foreach(struct reg *r, reg_port_fn fn, void *arg);

#endif
