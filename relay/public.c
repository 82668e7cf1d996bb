/* Public client connections: accepted on a claimed port, placed on a
 * worker that holds a tunnel of the owning agent, and carried as one
 * stream of that tunnel by a pump. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include "ferry/sock.h"
#include "relay.h"

#define TOPIC "relay.public"
#define ACCEPTS_PER_EVENT 64

static void on_event(struct fy_loop *l, int fd, uint32_t ev, void *arg)
{
	struct pubconn *pc = arg;

	(void)l;
	(void)fd;
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
	fy_loop_del(w->loop, pc->sc.fd);
	if (code == FY_E_OK)
		close(pc->sc.fd);
	else
		fy_sock_close_rst(pc->sc.fd);	/* the client must not mistake it for success */
	pc->sc.fd = -1;
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

void public_start(struct worker *w, int fd, uint16_t port,
		  const struct sockaddr_storage *peer, uint64_t sess_serial)
{
	struct tunnel *t = fy_sess_lookup(&w->tunnels, sess_serial);
	struct pubconn *pc;
	struct fy_stream *s;
	struct fy_open o;
	char a[64];

	if (!t || t->state != TUN_ACTIVE || fy_mux_stream_count(t->mux) >= w->r->cfg.max_streams) {
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "client %s on port %u refused: %s",
			  fy_sock_addr_str(peer, a, sizeof(a)), port,
			  t ? "stream limit of the tunnel reached" : "agent tunnel gone");
		fy_sock_close_rst(fd);
		return;
	}
	pc = calloc(1, sizeof(*pc));
	to_open(peer, port, &o);
	s = pc ? fy_mux_open(t->mux, &o, pc) : NULL;
	if (!s) {
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "client on port %u refused: tunnel is draining", port);
		free(pc);
		fy_sock_close_rst(fd);
		return;
	}
	pc->w = w;
	pc->t = t;
	pc->port = port;
	pc->sc.loop = w->loop;
	pc->sc.fd = fd;
	pc->sc.events = FY_EV_READ;
	fy_sock_addr_str(peer, pc->peer_str, sizeof(pc->peer_str));
	fy_pump_init(&pc->pump, &fy_sockconn_ops, &pc->sc, t->mux, s, w->r->cfg.window, true,
		     on_done);
	fy_sock_nodelay(fd);
	fy_loop_add(w->loop, fd, FY_EV_READ, on_event, pc);
	tunnel_mark_dirty(t);
	FY_DEBUG(TOPIC, "client %s on port %u -> agent '%s' stream %u", pc->peer_str, port,
		 t->name, s->id);
}

void public_on_listener(struct fy_loop *l, int lfd, uint32_t ev, void *arg)
{
	struct reg_port *lp = arg;
	struct worker *w = lp->owner_ctx;
	struct relay *r = w->r;

	(void)l;
	(void)ev;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		int fd = fy_sock_accept(lfd, &peer, &pl);
		struct reg_port *p;
		unsigned target = (unsigned)-1;
		uint64_t serial = 0;
		char a[64];

		if (fd < 0)
			return;
		/* Route by what the registry says now: the listener may belong
		 * to a session that was just replaced. */
		rcu_read_lock();
		p = reg_port_lookup(r->reg, lp->port);
		if (p && !atomic_load(&p->sess->dead) && !atomic_load(&p->sess->draining)) {
			target = engine_pick_worker(r, p->sess, w->id);
			serial = p->sess->serial;
		}
		rcu_read_unlock();
		if (target == (unsigned)-1) {
			FY_LOG_RL(FY_LOG_WARN, TOPIC, "client %s on port %u refused: no agent serves it",
				  fy_sock_addr_str(&peer, a, sizeof(a)), lp->port);
			fy_sock_close_rst(fd);
			continue;
		}
		if (target == w->id) {
			public_start(w, fd, lp->port, &peer, serial);
			continue;
		}
		struct msg *m = calloc(1, sizeof(*m));

		if (!m) {
			fy_sock_close_rst(fd);
			continue;
		}
		m->kind = MSG_PUBLIC;
		m->fd = fd;
		m->port = lp->port;
		m->peer = peer;
		m->sess_serial = serial;
		worker_send(&r->workers[target], m);
	}
}
