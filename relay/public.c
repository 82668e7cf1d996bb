/* Public client connections: accepted on a claimed port, placed on a
 * worker that holds a tunnel of the owning agent, and carried as one
 * stream of that tunnel by a pump. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "ferry/addr.h"
#include "ferry/sock.h"
#include "relay.h"

#define TOPIC "relay.public"

static void on_event(void *owner, uint32_t ev)
{
	struct pubconn *pc = owner;

	if (ev & FY_EV_WRITE)
		fy_pump_writable(&pc->pump);
	if (ev & (FY_EV_READ | FY_EV_ERROR))
		fy_pump_readable(&pc->pump);
	tunnel_mark_dirty(pc->t);
}

static void on_done(struct fy_pump *p, uint32_t code, const char *why)
{
	struct pubconn *pc = caa_container_of(p, struct pubconn, pump);
	struct worker *w = pc->w;

	FY_DEBUG(TOPIC, "client %s on port %u done: %s (in %llu, out %llu bytes)", pc->peer_str,
		 pc->port, why, p->rx, p->tx);
	/* A reset, so the client cannot mistake a cut stream for success. */
	w->r->be->close(w, pc->io, code != FY_E_OK);
	pc->io = NULL;
	tunnel_mark_dirty(pc->t);
	pc->gc_next = w->gc_pub;
	w->gc_pub = pc;
}

void public_free(struct pubconn *pc)
{
	fy_pump_fini(&pc->pump);
	free(pc);
}

static void to_open(const struct sockaddr_storage *ss, uint16_t port, struct fy_open *o)
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

/* Takes io. */
void public_start(struct worker *w, void *io, uint16_t port,
		  const struct sockaddr_storage *peer, uint64_t sess_serial)
{
	struct tunnel *t = fy_sess_lookup(&w->tunnels, sess_serial);
	struct pubconn *pc;
	struct fy_stream *s;
	struct fy_open o;
	char a[64];

	if (!t || t->state != TUN_ACTIVE || fy_mux_stream_count(t->link.mux) >= w->r->cfg.max_streams) {
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "client %s on port %u refused: %s",
			  fy_addr_str(peer, a, sizeof(a)), port,
			  t ? "stream limit of the tunnel reached" : "agent tunnel gone");
		w->r->be->close(w, io, true);
		return;
	}
	pc = calloc(1, sizeof(*pc));
	to_open(peer, port, &o);
	s = pc ? fy_mux_open(t->link.mux, &o, pc) : NULL;
	if (!s) {
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "client on port %u refused: tunnel is draining", port);
		free(pc);
		w->r->be->close(w, io, true);
		return;
	}
	pc->w = w;
	pc->t = t;
	pc->port = port;
	pc->io = io;
	fy_addr_str(peer, pc->peer_str, sizeof(pc->peer_str));
	fy_pump_init(&pc->pump, w->r->be->conn, io, t->link.mux, s, w->r->cfg.window, true, on_done);
	if (w->r->be->attach(w, io, on_event, pc) < 0) {
		fy_pump_abort(&pc->pump, FY_E_INTERNAL, "cannot watch the connection");
		return;
	}
	tunnel_mark_dirty(t);
	FY_DEBUG(TOPIC, "client %s on port %u -> agent '%s' stream %u", pc->peer_str, port,
		 t->name, s->id);
}

/* A client connected to a claimed port on worker w. Route by what the
 * registry says now: the listener may belong to a session that was just
 * replaced. Takes io. */
void public_accepted(struct worker *w, uint16_t port, void *io,
		     const struct sockaddr_storage *peer)
{
	struct relay *r = w->r;
	struct reg_port *p;
	unsigned target = (unsigned)-1;
	uint64_t serial = 0;
	struct msg *m;
	char a[64];

	rcu_read_lock();
	p = reg_port_lookup(r->reg, port);
	if (p && !atomic_load(&p->sess->dead) && !atomic_load(&p->sess->draining)) {
		target = engine_pick_worker(r, p->sess, w->id);
		serial = p->sess->serial;
	}
	rcu_read_unlock();
	if (target != w->id && target != (unsigned)-1 && !r->be->can_move) {
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "client %s on port %u refused: the agent has no "
			  "tunnel on worker %u (its connections cannot move)",
			  fy_addr_str(peer, a, sizeof(a)), port, w->id);
		r->be->close(w, io, true);
		return;
	}
	if (target == (unsigned)-1) {
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "client %s on port %u refused: no agent serves it",
			  fy_addr_str(peer, a, sizeof(a)), port);
		r->be->close(w, io, true);
		return;
	}
	if (target == w->id) {
		public_start(w, io, port, peer, serial);
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
	worker_send(&r->workers[target], m);
}
