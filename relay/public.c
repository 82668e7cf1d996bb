/* Public client connections: accepted on a claimed port, placed on a
 * worker that holds a tunnel of the owning agent, and carried as one
 * stream of that tunnel by a pump. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "backend.h"
#include "engine.h"
#include "ferry/addr.h"
#include "inbox.h"
#include "ingress.h"
#include "public.h"
#include "relay-t.h"
#include "tunnel.h"

#define TOPIC "relay.public"

static void on_event(void *owner, uint32_t ev)
{
	struct pubconn *pc = owner;

	if (ev & RELAY_EV_WRITE)
		fy_pump_writable(&pc->rp.pump);
	if (ev & (RELAY_EV_READ | RELAY_EV_ERROR))
		fy_pump_readable(&pc->rp.pump);
}

/* The stream's events, to the pump: for every struct rs_pump. */
static struct fy_pump *pump_of(struct rstream *rs)
{
	return &caa_container_of(rs, struct rs_pump, rs)->pump;
}

static void rs_data(struct rstream *rs, const uint8_t *p, size_t n)
{
	fy_pump_on_data(pump_of(rs), p, n);
}

static void rs_fin(struct rstream *rs)
{
	fy_pump_on_fin(pump_of(rs));
}

static void rs_reset(struct rstream *rs, uint32_t code, const char *msg)
{
	fy_pump_on_reset(pump_of(rs), code, msg);
}

static void rs_credit(struct rstream *rs)
{
	fy_pump_on_credit(pump_of(rs));
}

static void rs_info(struct rstream *rs, struct rstream_info *out)
{
	struct rs_pump *rp = caa_container_of(rs, struct rs_pump, rs);

	out->kind = rp->kind;
	out->port = rp->port;
	snprintf(out->peer, sizeof(out->peer), "%s", rp->peer ? rp->peer : "");
	out->rx = rp->pump.rx;
	out->tx = rp->pump.tx;
}

const struct rstream_ops rs_pump_ops = {
	.data = rs_data, .fin = rs_fin, .reset = rs_reset, .credit = rs_credit, .info = rs_info,
};

static void on_done(struct fy_pump *p, uint32_t code, const char *why)
{
	struct pubconn *pc = caa_container_of(p, struct pubconn, rp.pump);
	struct worker *w = pc->w;

	if (code == FY_E_REFUSED || code == FY_E_DENIED || code == FY_E_LIMIT)
		atomic_fetch_add_explicit(&w->r->ctr.stream_refused[REFUSED_AGENT], 1,
					  memory_order_relaxed);
	if (code != FY_E_OK && (code != FY_E_GONE || strcmp(why, "tunnel closed")))
		FY_LOG_RL(FY_LOG_INFO, TOPIC, "client %s on port %u: stream reset: %s (%s)",
			  pc->peer_str, pc->port, why, fy_code_str(code));
	FY_DEBUG(TOPIC, "client %s on port %u done: %s (in %llu, out %llu bytes)", pc->peer_str,
		 pc->port, why, p->rx, p->tx);
	/* A reset, so the client cannot mistake a cut stream for success. */
	w->r->be->close(w, pc->io, code != FY_E_OK);
	pc->io = NULL;
	pc->gc_next = w->gc_pub;
	w->gc_pub = pc;
}

void public_gc(struct worker *w)
{
	while (w->gc_pub) {
		struct pubconn *pc = w->gc_pub;

		w->gc_pub = pc->gc_next;
		fy_pump_fini(&pc->rp.pump);
		fy_pool_free(&w->pub_pool, pc);
	}
}

void public_to_open(const struct sockaddr_storage *ss, uint16_t port, struct fy_open *o)
{
	memset(o, 0, sizeof(*o));
	o->port = port;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;

		o->peer_addr[10] = o->peer_addr[11] = 0xff;
		memcpy(&o->peer_addr[12], &a->sin_addr, 4);
		o->peer_port = ntohs(a->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const void *)ss;

		memcpy(o->peer_addr, &a6->sin6_addr, 16);
		o->peer_port = ntohs(a6->sin6_port);
	}
}

static void refuse(struct worker *w, void *io, uint16_t port, const struct sockaddr_storage *peer,
		   enum stream_refused reason, const char *why)
{
	char a[64];

	atomic_fetch_add_explicit(&w->r->ctr.stream_refused[reason], 1, memory_order_relaxed);
	FY_LOG_RL(FY_LOG_WARN, TOPIC, "client %s on port %u refused: %s",
		  fy_addr_str(peer, a, sizeof(a)), port, why);
	w->r->be->close(w, io, true);
}

void public_start(struct worker *w, void *io, uint16_t port,
		  const struct sockaddr_storage *peer, uint64_t serial)
{
	struct pubconn *pc = fy_pool_alloc(&w->pub_pool);
	struct tunnel *t = NULL;
	struct fy_stream *s;
	const char *why = "out of memory";
	struct fy_open o;

	public_to_open(peer, port, &o);
	s = pc ? tunnel_open_stream(w, serial, &o, &pc->rp.rs, &t, &why) : NULL;
	if (!s) {
		fy_pool_free(&w->pub_pool, pc);
		refuse(w, io, port, peer, !pc || strstr(why, "limit") ? REFUSED_LIMIT :
		       REFUSED_NO_TUNNEL, why);
		return;
	}
	atomic_fetch_add_explicit(&w->r->ctr.streams_opened, 1, memory_order_relaxed);
	pc->w = w;
	pc->port = port;
	pc->io = io;
	fy_addr_str(peer, pc->peer_str, sizeof(pc->peer_str));
	pc->rp.rs.ops = &rs_pump_ops;
	pc->rp.kind = "client";
	pc->rp.port = port;
	pc->rp.peer = pc->peer_str;
	fy_pump_init(&pc->rp.pump, w->r->be->conn, io, t->link.mux, s, w->r->cfg.window, true,
		     on_done);
	s->app = &pc->rp.rs;	/* the pump set itself: the tunnel reaches it through rs */
	if (w->r->be->attach(w, io, on_event, pc) < 0) {
		fy_pump_abort(&pc->rp.pump, FY_E_INTERNAL, "cannot watch the connection");
		return;
	}
	FY_DEBUG(TOPIC, "client %s on port %u -> agent '%s' stream %u", pc->peer_str, port,
		 t->name, s->id);
}

/* Route by what the registry says now: the listener may belong to a
 * session that was just replaced. */
void public_accepted(struct worker *w, uint16_t port, void *io,
		     const struct sockaddr_storage *peer)
{
	struct relay *r = w->r;
	uint64_t serial = 0;
	unsigned target;
	struct msg *m;

	if (relay_ingress_port(r, port)) {
		ingress_accepted(w, port, io, peer);
		return;
	}
	target = engine_place_client(r, port, w->id, &serial);
	if (target == (unsigned)-1) {
		refuse(w, io, port, peer, REFUSED_NO_AGENT, "no agent serves it");
		return;
	}
	if (target == w->id) {
		public_start(w, io, port, peer, serial);
		return;
	}
	if (!r->be->can_move) {
		/* The backend places its clients before it accepts them; one
		 * that got here anyway cannot be moved. */
		refuse(w, io, port, peer, REFUSED_NO_TUNNEL, "the agent has no tunnel on this worker");
		return;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		r->be->close(w, io, true);
		return;
	}
	m->kind = MSG_PUBLIC;
	m->io = io;
	m->port = port;
	m->peer = *peer;
	m->sess_serial = serial;
	inbox_send(&r->workers[target], m);
}
