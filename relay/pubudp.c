/* UDP ports and their flows (see pubudp.h).
 *
 * A port's flows are found by source address in the port's own table
 * (fy_sess_table keyed by fy_addr_key: exact for IPv4; for IPv6 a hash,
 * so flows whose keys collide hang off one entry, told apart by the whole
 * address). The table is per port, so the port is part of every key and
 * a port's flows can be counted against its cap. Every flow of the worker
 * is also on one list ordered by activity: a datagram either way moves it
 * to the new end, and the tick expires idle flows from the old end, so
 * expiry costs only what expires. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "ferry/addr.h"
#include "ferry/mux.h"
#include "public.h"
#include "pubudp.h"
#include "relay-t.h"
#include "rstream.h"
#include "tunnel.h"

#define TOPIC "relay.udp"

struct udp_flow;

/* A claimed UDP port on its worker. */
struct udp_port {
	struct worker *w;
	struct reg_port *rp;		/* the claim: port and session */
	void *lio;			/* the backend's socket */
	struct fy_sess_table flows;	/* source key -> first flow with that key */
	struct udp_flow *list;		/* every flow of the port */
	unsigned nflows;
};

/* One source address of a port, and its stream. */
struct udp_flow {
	struct rstream rs;		/* the stream's app */
	struct udp_port *up;
	struct fy_mux *mux;		/* of the tunnel its stream is on */
	struct fy_stream *s;		/* NULL while held after a refusal */
	struct sockaddr_storage src;
	uint64_t key;			/* fy_addr_key(&src) */
	uint64_t last_ms;		/* the latest datagram, either way */
	uint64_t held_until_ms;		/* refused: its datagrams drop until then */
	struct udp_flow *same_next;	/* the next flow with this key */
	struct udp_flow *port_prev, *port_next;
	struct udp_flow *older, *newer;	/* the worker's list, by activity */
};

static void count(atomic_ulong *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---- the worker's list, least recently active first ---- */

static void lru_unlink(struct worker *w, struct udp_flow *f)
{
	if (f->older)
		f->older->newer = f->newer;
	else
		w->udp_old = f->newer;
	if (f->newer)
		f->newer->older = f->older;
	else
		w->udp_new = f->older;
	f->older = f->newer = NULL;
}

static void lru_append(struct worker *w, struct udp_flow *f)
{
	f->older = w->udp_new;
	f->newer = NULL;
	if (w->udp_new)
		w->udp_new->newer = f;
	else
		w->udp_old = f;
	w->udp_new = f;
}

/* A datagram either way: the flow is active now. */
static void flow_touch(struct udp_flow *f)
{
	struct worker *w = f->up->w;

	f->last_ms = w->now_ms;
	if (w->udp_new != f) {
		lru_unlink(w, f);
		lru_append(w, f);
	}
}

/* ---- the port's table and list ---- */

static struct udp_flow *flow_find(struct udp_port *up, const struct sockaddr_storage *from)
{
	struct udp_flow *f = fy_sess_lookup(&up->flows, fy_addr_key(from));

	while (f && !fy_addr_equal(&f->src, from))
		f = f->same_next;
	return f;
}

/* f becomes the first of its key's chain. 0 or -ENOMEM. */
static int chain_add(struct udp_port *up, struct udp_flow *f)
{
	struct udp_flow *head = fy_sess_remove(&up->flows, f->key);

	f->same_next = head;
	if (fy_sess_insert(&up->flows, f->key, f) < 0) {
		if (head)
			fy_sess_insert(&up->flows, f->key, head);	/* the slot it just left */
		return -ENOMEM;
	}
	return 0;
}

static void chain_remove(struct udp_port *up, struct udp_flow *f)
{
	struct udp_flow *head = fy_sess_lookup(&up->flows, f->key);

	if (head == f) {
		fy_sess_remove(&up->flows, f->key);
		if (f->same_next)
			fy_sess_insert(&up->flows, f->key, f->same_next);	/* the slot just freed */
	} else {
		for (; head && head->same_next != f; head = head->same_next)
			;
		if (head)
			head->same_next = f->same_next;
	}
	f->same_next = NULL;
}

static void port_link(struct udp_port *up, struct udp_flow *f)
{
	f->port_prev = NULL;
	f->port_next = up->list;
	if (up->list)
		up->list->port_prev = f;
	up->list = f;
	up->nflows++;
}

static void port_unlink(struct udp_port *up, struct udp_flow *f)
{
	if (f->port_prev)
		f->port_prev->port_next = f->port_next;
	else
		up->list = f->port_next;
	if (f->port_next)
		f->port_next->port_prev = f->port_prev;
	f->port_prev = f->port_next = NULL;
	up->nflows--;
}

/* ---- flows ---- */

static void flow_free(struct udp_flow *f)
{
	struct udp_port *up = f->up;
	struct worker *w = up->w;

	chain_remove(up, f);
	port_unlink(up, f);
	lru_unlink(w, f);
	fy_pool_free(&w->udp_pool, f);
}

/* Ends f: its stream (if any) is reset with code and why. */
static void flow_end(struct udp_flow *f, uint32_t code, const char *why)
{
	if (f->s)
		fy_mux_reset(f->mux, f->s, code, why);
	f->s = NULL;
	flow_free(f);
}

static struct udp_flow *flow_of(struct rstream *rs)
{
	return caa_container_of(rs, struct udp_flow, rs);
}

/* The agent's datagram for the flow's source: sent or dropped, it is
 * done with, so its credit goes back at once. */
static void rs_dgram(struct rstream *rs, const uint8_t *p, size_t n)
{
	struct udp_flow *f = flow_of(rs);
	struct worker *w = f->up->w;
	int e;
	char a[64];

	flow_touch(f);
	e = w->r->be->udp_send(w, f->up->lio, &f->src, p, n);
	if (e < 0) {
		count(&w->r->ctr.udp_dropped_send);
		if (e != -EAGAIN)	/* a full socket buffer is no news */
			FY_LOG_RL(FY_LOG_WARN, TOPIC, "port %u/udp: datagram to %s dropped: %s",
				  f->up->rp->port, fy_addr_str(&f->src, a, sizeof(a)), strerror(-e));
	}
	fy_mux_consumed(f->mux, f->s, n, true);
}

/* The mux ends the tunnel on DATA or FIN on a UDP stream, so these come
 * only from a peer the mux let through: the flow ends, nothing else. */
static void rs_data(struct rstream *rs, const uint8_t *p, size_t n)
{
	(void)p;
	(void)n;
	flow_end(flow_of(rs), FY_E_PROTOCOL, "DATA on a UDP flow");
}

static void rs_fin(struct rstream *rs)
{
	flow_end(flow_of(rs), FY_E_OK, "UDP flow ended by the agent");
}

/* An agent's refusal (its target unreachable, not allowed, ...) rather
 * than an end: the flow is held for a moment, so a source that keeps
 * sending does not cost an OPEN and a RESET per datagram. */
static bool refusal(uint32_t code)
{
	return code != FY_E_OK && code != FY_E_TIMEOUT && code != FY_E_GONE &&
	       code != FY_E_SHUTDOWN;
}

static void rs_reset(struct rstream *rs, uint32_t code, const char *msg)
{
	struct udp_flow *f = flow_of(rs);
	struct worker *w = f->up->w;
	char a[64];

	f->s = NULL;	/* the mux frees it after this */
	f->mux = NULL;
	if (!refusal(code)) {
		FY_DEBUG(TOPIC, "port %u/udp: flow from %s ended: %s (%s)", f->up->rp->port,
			 fy_addr_str(&f->src, a, sizeof(a)), msg, fy_code_str(code));
		flow_free(f);
		return;
	}
	FY_LOG_RL(FY_LOG_INFO, TOPIC, "port %u/udp: agent refused the flow from %s: %s (%s); "
		  "its datagrams are dropped for %u ms", f->up->rp->port,
		  fy_addr_str(&f->src, a, sizeof(a)), msg, fy_code_str(code),
		  PUBUDP_REFUSED_HOLD_MS);
	f->held_until_ms = w->now_ms + PUBUDP_REFUSED_HOLD_MS;
}

static void rs_credit(struct rstream *rs)
{
	(void)rs;	/* datagrams never wait for credit: nothing to resume */
}

static void rs_info(struct rstream *rs, struct rstream_info *out)
{
	struct udp_flow *f = caa_container_of(rs, struct udp_flow, rs);

	out->kind = "udp";
	out->port = f->up->rp->port;
	fy_addr_str(&f->src, out->peer, sizeof(out->peer));
}

static const struct rstream_ops flow_ops = {
	.data = rs_data, .dgram = rs_dgram, .fin = rs_fin, .reset = rs_reset,
	.credit = rs_credit, .info = rs_info,
};

static void drop_new_source(struct udp_port *up, const struct sockaddr_storage *from,
			    atomic_ulong *ctr, const char *why)
{
	char a[64];

	count(ctr);
	FY_LOG_RL(FY_LOG_WARN, TOPIC, "port %u/udp: datagram from %s dropped: %s", up->rp->port,
		  fy_addr_str(from, a, sizeof(a)), why);
}

/* A new source: a stream on a tunnel of the port's agent here. NULL when
 * the datagram is dropped (counted and logged). */
static struct udp_flow *flow_open(struct worker *w, struct udp_port *up,
				  const struct sockaddr_storage *from)
{
	struct relay *r = w->r;
	struct reg_session *sess = up->rp->sess;
	const char *why = "relay out of memory";
	struct tunnel *t = NULL;
	struct udp_flow *f;
	struct fy_open o;
	char capmsg[96], a[64];

	if (up->nflows >= r->cfg.max_udp_flows) {
		snprintf(capmsg, sizeof(capmsg), "the port has %u flows, the most it may "
			 "(--max-udp-flows-per-port)", up->nflows);
		drop_new_source(up, from, &r->ctr.udp_dropped_cap, capmsg);
		return NULL;
	}
	if (atomic_load(&sess->dead)) {
		drop_new_source(up, from, &r->ctr.udp_dropped_no_stream, "the agent is gone");
		return NULL;
	}
	f = fy_pool_alloc(&w->udp_pool);
	if (f) {
		f->up = up;
		f->src = *from;
		f->key = fy_addr_key(from);
		f->rs.ops = &flow_ops;
		public_to_open(from, up->rp->port, &o);
		o.udp = true;
		f->s = tunnel_open_stream(w, sess->serial, &o, &f->rs, &t, &why);
	}
	if (f && f->s && chain_add(up, f) < 0) {
		fy_mux_reset(t->link.mux, f->s, FY_E_INTERNAL, "relay out of memory");
		f->s = NULL;
	}
	if (!f || !f->s) {
		fy_pool_free(&w->udp_pool, f);
		drop_new_source(up, from, &r->ctr.udp_dropped_no_stream, why);
		return NULL;
	}
	f->mux = t->link.mux;
	port_link(up, f);
	f->last_ms = w->now_ms;
	lru_append(w, f);
	count(&r->ctr.udp_flows_opened);
	FY_DEBUG(TOPIC, "port %u/udp: flow from %s -> agent '%s' stream %u", up->rp->port,
		 fy_addr_str(from, a, sizeof(a)), t->name, f->s->id);
	return f;
}

/* ---- the port ---- */

void pubudp_input(struct worker *w, void *owner, const struct sockaddr_storage *from,
		  const uint8_t *p, size_t n)
{
	struct udp_port *up = owner;
	struct udp_flow *f;
	char a[64];

	if (n > FY_DGRAM_MAX) {		/* over IPv6 a datagram may be larger */
		count(&w->r->ctr.udp_dropped_oversize);
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "port %u/udp: datagram of %zu bytes from %s dropped: "
			  "the most a tunnel carries is %u", up->rp->port, n,
			  fy_addr_str(from, a, sizeof(a)), FY_DGRAM_MAX);
		return;
	}
	f = flow_find(up, from);
	if (f && !f->s) {		/* held after a refusal */
		if (w->now_ms < f->held_until_ms) {
			count(&w->r->ctr.udp_dropped_refused);
			return;
		}
		flow_free(f);		/* the hold is over: ask the agent again */
		f = NULL;
	}
	if (!f && !(f = flow_open(w, up, from)))
		return;
	flow_touch(f);
	if (fy_mux_send_dgram(f->mux, f->s, p, n) < 0)
		count(&w->r->ctr.udp_dropped_no_credit);
}

int pubudp_listen(struct worker *w, struct reg_port *rp)
{
	struct udp_port *up = calloc(1, sizeof(*up));
	int e;

	if (!up)
		return -ENOMEM;
	if (fy_sess_init(&up->flows, 64) < 0) {
		free(up);
		return -ENOMEM;
	}
	up->w = w;
	up->rp = rp;
	e = w->r->be->udp_listen(w, rp->port, up, &up->lio);
	if (e < 0) {
		fy_sess_fini(&up->flows);
		free(up);
		return e;
	}
	rp->lio = up;
	return 0;
}

void pubudp_unlisten(struct worker *w, struct reg_port *rp)
{
	struct udp_port *up = rp->lio;
	char why[64];

	if (!up)
		return;
	snprintf(why, sizeof(why), "UDP port %u released", rp->port);
	while (up->list)
		flow_end(up->list, FY_E_GONE, why);
	w->r->be->udp_unlisten(w, up->lio);
	fy_sess_fini(&up->flows);
	free(up);
	rp->lio = NULL;
}

void pubudp_tick(struct worker *w, uint64_t now)
{
	uint32_t idle = w->r->cfg.udp_idle_ms;
	struct udp_flow *f;
	char why[64];

	snprintf(why, sizeof(why), "UDP flow idle for %u ms", idle);
	for (unsigned n = 0; n < PUBUDP_EXPIRE_PER_TICK; n++) {
		f = w->udp_old;
		if (!f || f->last_ms + idle > now)
			return;
		if (f->s) {
			count(&w->r->ctr.udp_flows_idle);
			char src[64];

			FY_DEBUG(TOPIC, "port %u/udp: flow from %s idle for %u ms: ended",
				 f->up->rp->port, fy_addr_str(&f->src, src, sizeof(src)), idle);
		}
		flow_end(f, FY_E_TIMEOUT, why);
	}
}

size_t pubudp_count(const struct worker *w)
{
	return w->udp_pool.in_use;
}

size_t pubudp_flow_size(void)
{
	return sizeof(struct udp_flow);
}
