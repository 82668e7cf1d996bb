/* Streams the relay opens: map the service port to its -R target (the
 * agent's allow list: nothing else is ever dialed), connect, and pump.
 * The target's address comes from resolve.c; a stream that arrives before
 * the first lookup ends waits for it, unconnected. */
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

/* Takes c off its forward's list of streams waiting for an address. */
static void unwait(struct agent *a, struct tconn *c)
{
	struct tconn **pp = &a->fstate[c->f - a->cfg.fwds].waiting;

	while (*pp && *pp != c)
		pp = &(*pp)->wait_next;
	if (*pp)
		*pp = c->wait_next;
	c->waiting = false;
}

static void on_done(struct fy_pump *p, uint32_t code, const char *why)
{
	struct tconn *c = (struct tconn *)((char *)p - offsetof(struct tconn, pump));
	struct agent *a = c->t->a;

	if (c->waiting)
		unwait(a, c);
	if (code == FY_E_REFUSED)
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s", why);
	else if (code == FY_E_LIMIT)
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "stream to %s reset: %s", c->target, why);
	else
		FY_DEBUG(TOPIC, "stream to %s done: %s (sent %llu, received %llu bytes)", c->target,
			 why, p->rx, p->tx);
	if (c->sc.fd >= 0) {
		fy_loop_del(a->loop, c->sc.fd);
		if (code == FY_E_OK) {
			fy_sock_abort_on_close(c->sc.fd, false);
			close(c->sc.fd);
		} else {
			fy_sock_close_rst(c->sc.fd);
		}
		c->sc.fd = -1;
	}
	c->gc_next = a->gc_conns;
	a->gc_conns = c;
}

void forward_free(struct agent *a, struct tconn *c)
{
	fy_pump_fini(&c->pump);
	fy_pool_free(&a->conn_pool, c);
}

static struct fwd *find_fwd(struct agent *a, uint16_t port)
{
	for (unsigned i = 0; i < a->cfg.nfwds; i++)
		if (a->cfg.fwds[i].port == port)
			return &a->cfg.fwds[i];
	return NULL;
}

/* Starts the non-blocking connect of c to its forward's address. */
static int start_connect(struct agent *a, struct tconn *c, const struct fwd_state *st)
{
	int fd = fy_sock_connect(&st->ss, st->sl);

	if (fd < 0)
		return fd;
	c->sc.fd = fd;
	c->sc.events = FY_EV_WRITE;
	fy_sock_nodelay(fd);
	/* Should the agent die, the target sees a reset, not a clean end. */
	fy_sock_abort_on_close(fd, true);
	fy_loop_add(a->loop, fd, FY_EV_WRITE, on_event, c);
	return 0;
}

uint32_t forward_open(struct atun *t, struct fy_stream *s, const struct fy_open *o,
		      const char **msg)
{
	static _Thread_local char why[FY_REASON_MAX + 1];
	struct agent *a = t->a;
	struct fwd *f = find_fwd(a, o->port);
	struct fwd_state *st;
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
	/* The relay is trusted for routing, not for our resources. */
	if (fy_sess_count(&a->streams) > a->cfg.max_streams) {
		snprintf(why, sizeof(why), "agent stream limit reached (%u streams, --max-streams)",
			 a->cfg.max_streams);
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "stream %u on port %u refused: %s", s->id, o->port, why);
		*msg = why;
		return FY_E_LIMIT;
	}
	st = &a->fstate[f - a->cfg.fwds];
	/* A stale address is used while a fresh lookup runs (res_request
	 * ignores numeric targets). */
	if (!st->have || a->now_ms - st->at_ms > RES_TTL_MS)
		res_request(a, (unsigned)(f - a->cfg.fwds));
	c = fy_pool_alloc(&a->conn_pool);
	if (!c) {
		*msg = "out of memory";
		return FY_E_LIMIT;
	}
	c->t = t;
	c->f = f;
	c->sc.loop = a->loop;
	c->sc.fd = -1;
	snprintf(c->target, sizeof(c->target), "%s:%u", f->host, f->hostport);
	if (st->have && (e = start_connect(a, c, st)) < 0) {
		snprintf(why, sizeof(why), "connect %.200s:%u: %s", f->host, f->hostport, strerror(-e));
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s", why);
		fy_pool_free(&a->conn_pool, c);
		*msg = why;
		return FY_E_REFUSED;
	}
	/* What waits for a slow target is capped by our own --window, not by
	 * what the relay grants itself. */
	fy_pump_init(&c->pump, &fy_sockconn_ops, &c->sc, t->link.mux, s, a->cfg.window, false, on_done);
	if (!st->have) {
		c->waiting = true;
		c->wait_next = st->waiting;
		st->waiting = c;
	}
	a->streams_total++;
	inet_ntop(AF_INET6, o->peer_addr, client, sizeof(client));
	FY_DEBUG(TOPIC, "stream %u from [%s]:%u on port %u -> %s%s", s->id, client, o->peer_port,
		 o->port, c->target, c->waiting ? " (waiting for its address)" : "");
	return FY_E_OK;
}

void forward_resolved(struct agent *a, unsigned i, int err)
{
	struct fwd_state *st = &a->fstate[i];
	struct tconn *c;
	char why[FY_REASON_MAX + 1];
	int e;

	while ((c = st->waiting) != NULL) {
		st->waiting = c->wait_next;
		c->waiting = false;
		if (err) {
			snprintf(why, sizeof(why), "cannot resolve %.200s: %s", c->f->host,
				 err == -ENOENT ? "name not found" : strerror(-err));
			fy_pump_abort(&c->pump, FY_E_REFUSED, why);
		} else if ((e = start_connect(a, c, st)) < 0) {
			fy_pump_connected(&c->pump, e, c->target);	/* refused, with why */
		}
	}
}
