/* Streams the relay opens: map the service port to its -R target (the
 * agent's allow list: nothing else is ever dialed), connect, and pump. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "agent.h"
#include "ferry/sock.h"

#define TOPIC "agent.forward"

static void on_event(struct fy_loop *l, int fd, uint32_t ev, void *arg)
{
	struct tconn *c = arg;

	(void)l;
	if (!c->pump.connected) {
		fy_pump_connected(&c->pump, fy_sock_connect_result(fd), c->target);
		return;
	}
	if (ev & FY_EV_WRITE)
		fy_pump_writable(&c->pump);
	if (ev & (FY_EV_READ | FY_EV_ERROR))
		fy_pump_readable(&c->pump);
}

static void on_done(struct fy_pump *p, uint32_t code, const char *why)
{
	struct tconn *c = (struct tconn *)((char *)p - offsetof(struct tconn, pump));
	struct agent *a = c->t->a;

	if (code == FY_E_REFUSED)
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s", why);
	else
		FY_DEBUG(TOPIC, "stream to %s done: %s (sent %llu, received %llu bytes)", c->target,
			 why, p->rx, p->tx);
	if (c->sc.fd >= 0) {
		fy_loop_del(a->loop, c->sc.fd);
		if (code == FY_E_OK)
			close(c->sc.fd);
		else
			fy_sock_close_rst(c->sc.fd);
		c->sc.fd = -1;
	}
	c->gc_next = a->gc_conns;
	a->gc_conns = c;
}

void forward_free(struct tconn *c)
{
	fy_pump_fini(&c->pump);
	free(c);
}

static struct fwd *find_fwd(struct agent *a, uint16_t port)
{
	for (unsigned i = 0; i < a->cfg.nfwds; i++)
		if (a->cfg.fwds[i].port == port)
			return &a->cfg.fwds[i];
	return NULL;
}

uint32_t forward_open(struct atun *t, struct fy_stream *s, const struct fy_open *o,
		      const char **msg)
{
	static _Thread_local char why[FY_REASON_MAX + 1];
	struct agent *a = t->a;
	struct fwd *f = find_fwd(a, o->port);
	struct sockaddr_storage ss;
	socklen_t sl;
	struct tconn *c;
	char client[64];
	int e;

	if (a->st == AG_DRAINING) {
		*msg = "agent shutting down";
		return FY_E_SHUTDOWN;
	}
	if (!f) {
		snprintf(why, sizeof(why), "port %u is not forwarded by this agent", o->port);
		*msg = why;
		return FY_E_DENIED;
	}
	inet_ntop(AF_INET6, o->peer_addr, client, sizeof(client));
	e = fy_sock_resolve(f->host, f->hostport, &ss, &sl, 0);
	if (e == 0)
		e = fy_sock_connect(&ss, sl);
	if (e < 0) {
		snprintf(why, sizeof(why), "connect %.200s:%u: %s", f->host, f->hostport, strerror(-e));
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s", why);
		*msg = why;
		return FY_E_REFUSED;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(e);
		*msg = "out of memory";
		return FY_E_LIMIT;
	}
	c->t = t;
	c->f = f;
	c->sc.loop = a->loop;
	c->sc.fd = e;
	c->sc.events = FY_EV_WRITE;
	snprintf(c->target, sizeof(c->target), "%s:%u", f->host, f->hostport);
	fy_pump_init(&c->pump, &fy_sockconn_ops, &c->sc, t->mux, s, 0, false, on_done);
	/* pending is capped by the window; the mux knows it after WELCOME. */
	c->pump.pending.cap = s->recv_avail;
	fy_sock_nodelay(e);
	fy_loop_add(a->loop, e, FY_EV_WRITE, on_event, c);
	a->streams_total++;
	FY_DEBUG(TOPIC, "stream %u from [%s]:%u on port %u -> %s", s->id, client, o->peer_port,
		 o->port, c->target);
	return FY_E_OK;
}
