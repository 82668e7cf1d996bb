/* Agent sessions and their public ports: authentication of a HELLO,
 * session replacement, port claims and their listeners (a UDP port's
 * through pubudp.c, which also ends its flows). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "engine.h"
#include "inbox.h"
#include "ingress.h"
#include "pubudp.h"
#include "relay-t.h"

#define TOPIC "relay.engine"

static void session_free(struct reg_session *s)
{
	free(s->stats);
	free(s);
}

static void session_free_rcu(struct rcu_head *h)
{
	session_free(caa_container_of(h, struct reg_session, rcu));
}

void engine_session_put(struct relay *r, struct reg_session *s)
{
	(void)r;
	if (atomic_fetch_sub(&s->refs, 1) == 1)
		call_rcu(&s->rcu, session_free_rcu);
}

/* Ends a session everywhere: every worker closes its tunnel of it when it
 * next looks (we wake them all now). */
void engine_session_kill(struct relay *r, struct reg_session *s, const char *why)
{
	bool was = false;

	snprintf(s->dead_why, sizeof(s->dead_why), "%s", why);
	if (!atomic_compare_exchange_strong(&s->dead, &was, true))
		return;
	if (!s->client) {
		rcu_read_lock();
		reg_session_del(r->reg, s);
		rcu_read_unlock();
	}
	for (unsigned i = 0; i < r->nworkers; i++)
		r->be->wake(&r->workers[i]);
}

static void names_str(const struct fy_token_rule *rule, char *out, size_t n)
{
	size_t off = 0;

	out[0] = 0;
	for (unsigned i = 0; i < rule->nagents && off < n; i++)
		off += (size_t)snprintf(out + off, n - off, "%s%s", i ? "," : "", rule->agents[i]);
}

static struct reg_session *session_new(struct relay *r, const struct fy_hello *h,
				       const char *name, const struct fy_token_rule *rule)
{
	struct reg_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->stats = calloc(r->nworkers, sizeof(*s->stats));
	if (!s->stats) {
		free(s);
		return NULL;
	}
	s->nstats = r->nworkers;
	atomic_init(&s->tunnel0_worker, -1);
	snprintf(s->name, sizeof(s->name), "%.*s", (int)sizeof(s->name) - 1, name);
	s->agent_session = h->session;
	/* The highest both speak: what this session may use. */
	s->version = h->ver_max < FY_PROTO_VERSION ? h->ver_max : FY_PROTO_VERSION;
	s->serial = atomic_fetch_add(&r->next_serial, 1) + 1;
	s->rule = *rule;
	s->client = h->client && s->version >= 2;
	s->workers = s->client ? 1 : r->nworkers;
	atomic_init(&s->refs, 1);
	atomic_init(&s->nports, 0);
	fy_budget_init(&s->budget, r->cfg.max_buffer_session, &r->buf_budget);
	return s;
}

static void auth_count(struct relay *r, enum auth_fail why)
{
	atomic_fetch_add_explicit(&r->ctr.auth_fail[why], 1, memory_order_relaxed);
}

int engine_auth(struct worker *w, const struct fy_hello *h, const char *peer,
		struct reg_session **sess, char *tname, uint32_t *code, char *msg, size_t msglen)
{
	struct relay *r = w->r;
	const struct fy_token_rule *found;
	struct fy_token_rule rule_copy, *rule = &rule_copy;
	struct reg_session *s, *cur = NULL;
	const char *name;
	char allowed[256];

	if (h->ver_max < FY_PROTO_MIN || h->ver_min > FY_PROTO_VERSION || h->ver_min > h->ver_max) {
		*code = FY_E_VERSION;
		auth_count(r, AUTH_FAIL_VERSION);
		snprintf(msg, msglen, "protocol version mismatch: relay speaks %u-%u, agent speaks %u-%u",
			 FY_PROTO_MIN, FY_PROTO_VERSION, h->ver_min, h->ver_max);
		return -1;
	}
	/* The token set can be swapped (SIGHUP): copy the rule out. */
	rcu_read_lock();
	found = fy_tokens_match(rcu_dereference(r->tokens), h->token);
	if (found)
		rule_copy = *found;
	rcu_read_unlock();
	if (!found) {
		*code = FY_E_AUTH;
		auth_count(r, AUTH_FAIL_TOKEN);
		snprintf(msg, msglen, "token not accepted");
		return -1;
	}
	if (rule->admin) {
		/* The admin API's tokens never act as an agent. */
		*code = FY_E_AUTH;
		auth_count(r, AUTH_FAIL_ADMIN_TOKEN);
		snprintf(msg, msglen, "token not accepted: it is an admin token (for the admin API), "
			 "not an agent token");
		return -1;
	}
	name = h->name[0] ? h->name : rule->agents[0];
	if (!fy_token_allows_agent(rule, name)) {
		names_str(rule, allowed, sizeof(allowed));
		*code = FY_E_DENIED;
		auth_count(r, AUTH_FAIL_NAME);
		snprintf(msg, msglen, "token may not act as agent '%s' (allowed: %s)", name, allowed);
		return -1;
	}
	if (atomic_load(&r->draining)) {
		*code = FY_E_SHUTDOWN;
		snprintf(msg, msglen, "relay is shutting down");
		return -1;
	}
	if (h->tunnel_index >= r->nworkers) {
		*code = FY_E_PROTOCOL;
		snprintf(msg, msglen, "tunnel index %u out of range (relay has %u workers)",
			 h->tunnel_index, r->nworkers);
		return -1;
	}
	snprintf(tname, FY_NAME_MAX + 1, "%.*s", (int)FY_NAME_MAX, name);
	if (h->client && h->tunnel_index > 0) {
		*code = FY_E_PROTOCOL;
		snprintf(msg, msglen, "a client session has one tunnel (index %u)", h->tunnel_index);
		return -1;
	}

	rcu_read_lock();
	if (h->tunnel_index > 0) {
		s = reg_session_lookup(r->reg, name);
		if (!s || s->agent_session != h->session || atomic_load(&s->dead)) {
			rcu_read_unlock();
			*code = FY_E_PROTOCOL;
			snprintf(msg, msglen, "tunnel %u names no live session of agent '%s' "
				 "(tunnel 0 opens it)", h->tunnel_index, name);
			return -1;
		}
		atomic_fetch_add(&s->refs, 1);
		rcu_read_unlock();
		*sess = s;
		return 0;
	}
	s = session_new(r, h, name, rule);
	if (!s) {
		rcu_read_unlock();
		*code = FY_E_INTERNAL;
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	s->since_ms = w->now_ms;
	if (s->client) {
		/* Serves nothing, so nothing needs to find it by name. */
		rcu_read_unlock();
		*sess = s;
		return 0;
	}
	/* One live session per agent name. A restarted agent's old tunnels
	 * close when the process dies (the kernel sends FIN/RST), and a
	 * session cut off by the network dies within 3 keepalives; until then
	 * the newcomer is refused and retries with backoff. Taking over
	 * instead would make two agents with one name evict each other. */
	if (reg_session_add(r->reg, s, &cur) == -EEXIST) {
		*code = FY_E_IN_USE;
		snprintf(msg, msglen, "agent '%s' is already connected (from %s); "
			 "a second agent with the same name is refused", name, cur->peer);
		rcu_read_unlock();
		session_free(s);
		return -1;
	}
	rcu_read_unlock();
	*sess = s;
	return 0;
}

static void port_free_rcu(struct rcu_head *h)
{
	free(caa_container_of(h, struct reg_port, rcu));
}

static void port_drop(struct relay *r, struct reg_port *p)
{
	engine_session_put(r, p->sess);
	call_rcu(&p->rcu, port_free_rcu);
}

/* A listen error as a RESULT: busy or out of resources may pass (the
 * agent retries with backoff); anything else will not. */
static uint32_t listen_code(int e)
{
	switch (-e) {
	case EADDRINUSE:
		return FY_E_IN_USE;
	case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
		return FY_E_LIMIT;
	default:
		return FY_E_DENIED;
	}
}

/* "2201" for TCP, "2201/udp": how messages name a claim. */
static const char *port_name(uint16_t port, bool udp, char *buf, size_t n)
{
	snprintf(buf, n, "%u%s", port, udp ? "/udp" : "");
	return buf;
}

/* "port 2201", "port 2201/udp", "name 'web'". */
static const char *claim_str(const struct reg_port *p, char *buf, size_t n)
{
	char pn[16];

	if (p->name[0])
		snprintf(buf, n, "name '%s'", p->name);
	else
		snprintf(buf, n, "port %s", port_name(p->port, p->udp, pn, sizeof(pn)));
	return buf;
}

/* Whether s may claim (udp, port) at all: the backend, the session's
 * protocol, the token's ranges and the agent's port cap (TCP and UDP
 * claims count alike). FY_E_OK, or a code with msg. */
static uint32_t claim_allowed(struct worker *w, struct reg_session *s, uint16_t port, bool udp,
			      char *msg, size_t msglen)
{
	struct relay *r = w->r;
	unsigned cap = s->rule.max_ports ? s->rule.max_ports : r->cfg.max_ports;
	struct reg_port *p;
	char ranges[160], pn[16];
	bool repeat;

	port_name(port, udp, pn, sizeof(pn));
	if (udp && !r->be->udp_listen) {
		snprintf(msg, msglen, "UDP ports are not supported by the %s backend", r->be->name);
		return FY_E_UNSUPPORTED;
	}
	if (udp && s->version < 2) {
		snprintf(msg, msglen, "UDP ports need protocol 2; the agent speaks %u", s->version);
		return FY_E_UNSUPPORTED;
	}
	if (!udp && relay_ingress_port(r, port)) {
		snprintf(msg, msglen, "port %s is the relay's HTTP/HTTPS/SNI ingress", pn);
		return FY_E_IN_USE;
	}
	if (!fy_token_allows_port(&s->rule, port)) {
		fy_token_ranges_str(&s->rule, ranges, sizeof(ranges));
		snprintf(msg, msglen, "token not allowed to claim port %s (allowed: %s)", pn, ranges);
		return FY_E_DENIED;
	}
	rcu_read_lock();
	p = reg_port_find(r->reg, udp, port);
	repeat = p && p->sess == s;	/* a repeat claim costs nothing */
	rcu_read_unlock();
	if (!repeat && atomic_load(&s->nports) >= cap) {
		atomic_fetch_add_explicit(&r->ctr.port_limit, 1, memory_order_relaxed);
		snprintf(msg, msglen, "agent '%s' holds %u ports, the most it may (%s)", s->name, cap,
			 s->rule.max_ports ? "maxports of its token" : "--max-ports-per-agent");
		return FY_E_DENIED;
	}
	return FY_E_OK;
}

/* A claim of s owned by w, holding a reference on s; NULL with msg. */
static struct reg_port *claim_new(struct worker *w, struct reg_session *s, char *msg,
				  size_t msglen)
{
	struct reg_port *p = calloc(1, sizeof(*p));

	if (!p) {
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	p->sess = s;
	p->owner = w->id;
	p->owner_ctx = w;
	atomic_fetch_add(&s->refs, 1);
	return p;
}

/* Puts claim p into the registry: FY_E_OK (p->takeover set when it
 * replaced the same agent's dying session), or a code with msg and p
 * dropped. A repeat claim is FY_E_OK with *repeat set and p dropped. */
static uint32_t claim_add(struct relay *r, struct reg_port *p, bool *repeat, char *msg,
			  size_t msglen)
{
	struct reg_port *cur = NULL;
	char pn[80];

	claim_str(p, pn, sizeof(pn));
	*repeat = false;
	rcu_read_lock();
	if (reg_port_add(r->reg, p, &cur) == 0) {
		rcu_read_unlock();
		return FY_E_OK;
	}
	if (cur->sess == p->sess) {
		rcu_read_unlock();
		port_drop(r, p);
		snprintf(msg, msglen, "%s already registered", pn);
		*repeat = true;
		return FY_E_OK;
	}
	/* The same agent's previous session (dying or replaced) hands the
	 * port over; another agent keeps it. A name kept after its session
	 * died (gone_ms) goes to whoever may claim it. */
	if ((!cur->gone_ms && strcmp(cur->sess->name, p->sess->name) != 0) ||
	    !atomic_load(&cur->sess->dead) || reg_port_replace(r->reg, cur, p) != 0) {
		snprintf(msg, msglen, "%s is held by agent '%s'", pn, cur->sess->name);
		rcu_read_unlock();
		port_drop(r, p);
		return FY_E_IN_USE;
	}
	rcu_read_unlock();
	p->takeover = true;
	return FY_E_OK;
}

/* The claiming worker's listener. A UDP port has only this one: its
 * flows are keyed by source address on this worker (pubudp.c), and a
 * socket per worker would spread one source's datagrams over several. */
static int claim_listen(struct worker *w, struct reg_port *p)
{
	if (p->udp)
		return pubudp_listen(w, p);
	return w->r->be->listen(w, NULL, p->port, !p->takeover, &p->lio);
}

/* Every other worker listens on a TCP port too (SO_REUSEPORT), so the
 * kernel spreads clients and most never need a hand-off. */
static void listen_elsewhere(struct worker *w, struct reg_session *s, uint16_t port)
{
	struct relay *r = w->r;

	for (unsigned i = 0; i < r->nworkers; i++) {
		struct msg *m;

		if (i == w->id || !(m = calloc(1, sizeof(*m))))
			continue;
		m->kind = MSG_LISTEN;
		m->port = port;
		m->sess = s;
		atomic_fetch_add(&s->refs, 1);
		inbox_send(&r->workers[i], m);
	}
}

uint32_t engine_register_port(struct worker *w, struct reg_session *s, uint16_t port, bool udp,
			      char *msg, size_t msglen)
{
	struct relay *r = w->r;
	struct reg_port *p;
	uint32_t code = claim_allowed(w, s, port, udp, msg, msglen);
	char pn[16];
	bool repeat;
	int e;

	if (code != FY_E_OK)
		return code;
	p = claim_new(w, s, msg, msglen);
	if (!p)
		return FY_E_INTERNAL;
	p->port = port;
	p->udp = udp;
	code = claim_add(r, p, &repeat, msg, msglen);
	if (code != FY_E_OK || repeat)
		return code;

	port_name(port, udp, pn, sizeof(pn));
	e = claim_listen(w, p);
	if (e < 0) {
		snprintf(msg, msglen, "cannot listen on %s:%s: %s", r->cfg.public_bind, pn,
			 strerror(-e));
		rcu_read_lock();
		reg_port_del(r->reg, p);
		rcu_read_unlock();
		port_drop(r, p);
		return listen_code(e);
	}
	atomic_fetch_add(&s->nports, 1);
	p->owner_next = w->ports;
	w->ports = p;
	if (!udp)
		listen_elsewhere(w, s, port);
	snprintf(msg, msglen, "listening on %s:%s", r->cfg.public_bind, pn);
	return FY_E_OK;
}

/* Drops claim p of w (unlinked from w->ports by the caller). */
static void claim_release(struct worker *w, struct reg_port *p)
{
	char cs[80];

	if (!p->gone_ms)
		atomic_fetch_sub(&p->sess->nports, 1);
	if (p->name[0])
		;	/* no listener: the ingress ones route to it */
	else if (p->udp)
		pubudp_unlisten(w, p);	/* and its flows end */
	else
		w->r->be->unlisten(w, p->lio);
	rcu_read_lock();
	reg_port_del(w->r->reg, p);
	rcu_read_unlock();
	FY_INFO(TOPIC, "%s released (agent '%s')", claim_str(p, cs, sizeof(cs)), p->sess->name);
	port_drop(w->r, p);
}

/* Closes w's extra listeners for s (all when s is NULL; only port's when
 * port is not 0). */
static void release_extra(struct worker *w, struct reg_session *s, uint16_t port)
{
	for (struct xlisten **xp = &w->xlisten; *xp;) {
		struct xlisten *x = *xp;

		if ((s && x->sess != s) || (port && x->port != port)) {
			xp = &x->next;
			continue;
		}
		*xp = x->next;
		w->r->be->unlisten(w, x->lio);
		engine_session_put(w->r, x->sess);
		free(x);
	}
}

/* Closes the listeners this worker holds for s (all of them when s is
 * NULL) and takes the ports out of the registry. A name of a session
 * that died stays, marked gone, for ENGINE_NAME_GONE_MS: its clients get
 * "502 agent unavailable" rather than a 404 that says it never existed,
 * and the agent's next session takes it over. */
void engine_release_ports(struct worker *w, struct reg_session *s)
{
	struct reg_port **pp = &w->ports;

	while (*pp) {
		struct reg_port *p = *pp;

		if (s && p->sess != s) {
			pp = &p->owner_next;
			continue;
		}
		if (s && p->name[0] && !atomic_load(&w->r->draining)) {
			if (!p->gone_ms) {
				atomic_fetch_sub(&p->sess->nports, 1);
				p->gone_ms = w->now_ms ? w->now_ms : 1;
			}
			pp = &p->owner_next;
			continue;
		}
		*pp = p->owner_next;
		claim_release(w, p);
	}
	release_extra(w, s, 0);
}

int engine_release_port(struct worker *w, struct reg_session *s, uint16_t port, bool udp)
{
	struct relay *r = w->r;

	for (struct reg_port **pp = &w->ports; *pp; pp = &(*pp)->owner_next) {
		struct reg_port *p = *pp;

		if (p->sess != s || p->name[0] || p->port != port || p->udp != udp)
			continue;
		*pp = p->owner_next;
		claim_release(w, p);
		/* Every other worker listens on a TCP port too. */
		for (unsigned i = 0; !udp && i < r->nworkers; i++) {
			struct msg *m;

			if (i == w->id || !(m = calloc(1, sizeof(*m))))
				continue;
			m->kind = MSG_UNLISTEN;
			m->port = port;
			m->sess = s;
			atomic_fetch_add(&s->refs, 1);
			inbox_send(&r->workers[i], m);
		}
		return 0;
	}
	return -ENOENT;
}

int engine_release_name(struct worker *w, struct reg_session *s, const char *name)
{
	for (struct reg_port **pp = &w->ports; *pp; pp = &(*pp)->owner_next) {
		struct reg_port *p = *pp;

		if (p->sess != s || !p->name[0] || strcmp(p->name, name))
			continue;
		*pp = p->owner_next;
		claim_release(w, p);
		return 0;
	}
	return -ENOENT;
}

void engine_unlisten_extra(struct worker *w, uint16_t port, struct reg_session *s)
{
	release_extra(w, s, port);
	engine_session_put(w->r, s);
}

void engine_expire_names(struct worker *w, uint64_t now)
{
	struct reg_port **pp = &w->ports;

	while (*pp) {
		struct reg_port *p = *pp;

		if (!p->gone_ms || now - p->gone_ms < ENGINE_NAME_GONE_MS) {
			pp = &p->owner_next;
			continue;
		}
		*pp = p->owner_next;
		claim_release(w, p);
	}
}

uint32_t engine_register_name(struct worker *w, struct reg_session *s, const struct fy_register *rg,
			      char *msg, size_t msglen)
{
	struct relay *r = w->r;
	unsigned cap = s->rule.max_ports ? s->rule.max_ports : r->cfg.max_ports;
	struct reg_port *p;
	char names[FY_TOKEN_NAMES_MAX * 66];
	uint32_t code;
	bool repeat;

	if (s->version < 3) {
		snprintf(msg, msglen, "names need protocol 3; the agent speaks %u", s->version);
		return FY_E_UNSUPPORTED;
	}
	if (!relay_serves_kind(r, rg->kind)) {
		snprintf(msg, msglen, "this relay serves no %s names (%s)",
			 rg->kind == FY_NAME_TLS ? "TLS" : "HTTP",
			 rg->kind == FY_NAME_TLS ? "no --sni-listen" :
			 "no --http-listen or --https-listen");
		return FY_E_UNSUPPORTED;
	}
	if (!fy_token_allows_name(&s->rule, rg->name)) {
		fy_token_names_str(&s->rule, names, sizeof(names));
		snprintf(msg, msglen, "token not allowed to claim name '%s' (allowed: %s)", rg->name,
			 s->rule.nnames ? names : "none");
		return FY_E_DENIED;
	}
	if (atomic_load(&s->nports) >= cap) {
		atomic_fetch_add_explicit(&r->ctr.port_limit, 1, memory_order_relaxed);
		snprintf(msg, msglen, "agent '%s' holds %u ports and names, the most it may (%s)",
			 s->name, cap, s->rule.max_ports ? "maxports of its token" :
			 "--max-ports-per-agent");
		return FY_E_DENIED;
	}
	p = claim_new(w, s, msg, msglen);
	if (!p)
		return FY_E_INTERNAL;
	snprintf(p->name, sizeof(p->name), "%s", rg->name);
	p->port = rg->port;
	p->kind = rg->kind;
	code = claim_add(r, p, &repeat, msg, msglen);
	if (code != FY_E_OK || repeat)
		return code;
	atomic_fetch_add(&s->nports, 1);
	p->owner_next = w->ports;
	w->ports = p;
	snprintf(msg, msglen, "serving %s name '%s'", rg->kind == FY_NAME_TLS ? "TLS" : "HTTP",
		 rg->name);
	return FY_E_OK;
}

int engine_find_name(struct relay *r, const char *name, unsigned self, struct name_target *nt,
		     const char **why)
{
	struct reg_port *p;
	int ret = 0;

	rcu_read_lock();
	p = reg_name_find(r->reg, name);
	if (!p) {
		ret = -ENOENT;
		*why = "no agent serves this name";
	} else if (p->gone_ms || atomic_load(&p->sess->dead)) {
		ret = -EHOSTDOWN;
		*why = "the agent is not connected";
	} else if (atomic_load(&p->sess->draining)) {
		ret = -EHOSTDOWN;
		*why = "the agent is going away";
	} else if (!(atomic_load(&p->sess->tunnels) & (1ull << self))) {
		/* The route is known only once the request head is read, too
		 * late to place the connection (DPDK) as -R ports are. */
		ret = -EHOSTDOWN;
		*why = "the agent has no tunnel on this worker";
	} else {
		nt->serial = p->sess->serial;
		nt->id = p->port;
		nt->kind = p->kind;
		snprintf(nt->agent, sizeof(nt->agent), "%s", p->sess->name);
	}
	rcu_read_unlock();
	return ret;
}

/* Called on worker w for a port that another worker claimed for s. */
void engine_listen_extra(struct worker *w, uint16_t port, struct reg_session *s)
{
	struct xlisten *x = calloc(1, sizeof(*x));
	int e = -ENOMEM;

	if (!x || atomic_load(&s->dead) || (e = w->r->be->listen(w, NULL, port, false, &x->lio)) < 0) {
		if (x && !atomic_load(&s->dead))
			FY_WARN(TOPIC, "worker %u cannot listen on port %u too: %s (clients are "
				"still served through worker of the claim)", w->id, port, strerror(-e));
		free(x);
		engine_session_put(w->r, s);
		return;
	}
	x->port = port;
	x->sess = s;	/* takes the message's reference */
	x->next = w->xlisten;
	w->xlisten = x;
}

void engine_release_dead_extra(struct worker *w)
{
	struct xlisten *x;

	/* Releasing a session removes all its entries: rescan after each. */
	do {
		for (x = w->xlisten; x && !atomic_load(&x->sess->dead); x = x->next)
			;
		if (x)
			engine_release_ports(w, x->sess);
	} while (x);
}

/* Where a new stream of s goes: this worker when it holds a tunnel of s
 * (every worker listens, so the kernel already spread the clients), else
 * round-robin over the workers that do. */
static unsigned pick_worker(struct relay *r, struct reg_session *s, unsigned self)
{
	uint64_t mask = atomic_load(&s->tunnels);
	unsigned start;

	if (!mask)
		return (unsigned)-1;
	if (mask & (1ull << self))
		return self;
	start = atomic_fetch_add(&s->rr, 1) % r->nworkers;
	for (unsigned i = 0; i < r->nworkers; i++) {
		unsigned wi = (start + i) % r->nworkers;

		if (mask & (1ull << wi))
			return wi;
	}
	return (unsigned)-1;
}

unsigned engine_place_client(struct relay *r, uint16_t port, unsigned self, uint64_t *serial)
{
	struct reg_port *p;
	unsigned target = (unsigned)-1;

	rcu_read_lock();
	p = reg_port_lookup(r->reg, port);
	if (p && !atomic_load(&p->sess->dead) && !atomic_load(&p->sess->draining)) {
		target = pick_worker(r, p->sess, self);
		*serial = p->sess->serial;
	}
	rcu_read_unlock();
	return target;
}
