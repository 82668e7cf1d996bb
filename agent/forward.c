/* Streams the relay opens to this agent: OPEN for a port claimed with -R
 * (the port's -R target is dialed), DIAL for another agent (the target it
 * names is dialed only if --allow lists it). Nothing else is ever dialed.
 * The target's address comes from resolve.c; a stream that arrives
 * before the first lookup ends waits for it, unconnected. The pump moves
 * the bytes; tconn_ops carries the stream's events to it. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "agent.h"
#include "ferry/sock.h"
#include "ferry/wire.h"

#define TOPIC "agent.forward"

static struct tconn *tconn_of_pump(struct fy_pump *p)
{
	return (struct tconn *)((char *)p - offsetof(struct tconn, pump));
}

/* The stream's events, to the pump. */
static struct fy_pump *pump_of(struct astream *as)
{
	return &((struct tconn *)as)->pump;
}

static void as_data(struct astream *as, const uint8_t *p, size_t n)
{
	fy_pump_on_data(pump_of(as), p, n);
}

static void as_fin(struct astream *as)
{
	fy_pump_on_fin(pump_of(as));
}

static void as_reset(struct astream *as, uint32_t code, const char *msg)
{
	struct tconn *c = (struct tconn *)as;

	/* A local client's stream (-L, -D, -W) is logged by local.c. */
	if (code != FY_E_GONE && c->role == TC_TARGET)
		FY_LOG_RL(FY_LOG_INFO, TOPIC, "stream to %s reset by the relay: %s (%s)", c->target,
			  msg, fy_code_str(code));
	fy_pump_on_reset(pump_of(as), code, msg);
}

static void as_credit(struct astream *as)
{
	fy_pump_on_credit(pump_of(as));
}

const struct astream_ops tconn_ops = {
	.data = as_data, .fin = as_fin, .reset = as_reset, .credit = as_credit,
};

static void on_event(struct fy_loop *l, int fd, uint32_t ev, void *arg)
{
	struct tconn *c = arg;

	(void)l;
	if (!c->pump.connected) {
		int err = fy_sock_connect_result(fd);

		/* A fresh connection's send buffer is empty: the header (at
		 * most 52 bytes) goes in one call or the connection is bad. */
		if (!err && c->pp_len && send(fd, c->pp, c->pp_len, MSG_NOSIGNAL) != c->pp_len)
			err = -EIO;
		fy_pump_connected(&c->pump, err, c->target);
		return;
	}
	if (ev & FY_EV_WRITE)
		fy_pump_writable(&c->pump);
	if (ev & (FY_EV_READ | FY_EV_ERROR))
		fy_pump_readable(&c->pump);
}

void forward_done(struct fy_pump *p, uint32_t code, const char *why)
{
	struct tconn *c = tconn_of_pump(p);
	struct agent *a = c->a;

	res_cancel(a, &c->rw);
	if (code == FY_E_REFUSED || code == FY_E_DENIED)
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s", why);
	else if (code == FY_E_LIMIT)
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "stream to %s reset: %s", c->target, why);
	else
		FY_DEBUG(TOPIC, "stream to %s done: %s (sent %llu, received %llu bytes)", c->target,
			 why, p->rx, p->tx);
	forward_close(a, c, code);
}

void forward_close(struct agent *a, struct tconn *c, uint32_t code)
{
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

static struct fwd *find_fwd(struct agent *a, const struct fy_open *o)
{
	/* A name claim's id is its place in the list, plus one. */
	if (o->named)
		return o->port >= 1 && o->port <= a->cfg.nfwds && a->cfg.fwds[o->port - 1].kind ?
		       &a->cfg.fwds[o->port - 1] : NULL;
	for (unsigned i = 0; i < a->cfg.nfwds; i++)
		if (!a->cfg.fwds[i].unused && !a->cfg.fwds[i].kind &&
		    a->cfg.fwds[i].port == o->port && a->cfg.fwds[i].udp == o->udp)
			return &a->cfg.fwds[i];
	return NULL;
}

/* PROXY protocol v2 (haproxy's proxy-protocol.txt, 2.2): the client's
 * address from the OPEN; the relay's address is not known here, so the
 * destination is the unspecified address and the relay's port (0 for a
 * name). */
static size_t proxy_header(uint8_t *out, const struct fy_open *o, const struct fwd *f)
{
	static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51,
					 0x55, 0x49, 0x54, 0x0a };
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	bool v4 = !memcmp(o->peer_addr, v4mapped, sizeof(v4mapped));
	uint16_t dport = f->kind ? 0 : f->port;
	uint8_t *p = out;

	memcpy(p, sig, sizeof(sig));
	p += sizeof(sig);
	*p++ = 0x21;			/* version 2, PROXY */
	*p++ = v4 ? 0x11 : 0x21;	/* TCP over IPv4 / IPv6 */
	p = fy_put16(p, v4 ? 12 : 36);
	if (v4) {
		memcpy(p, o->peer_addr + 12, 4);
		memset(p + 4, 0, 4);
		p += 8;
	} else {
		memcpy(p, o->peer_addr, 16);
		memset(p + 16, 0, 16);
		p += 32;
	}
	p = fy_put16(p, o->peer_port);
	p = fy_put16(p, dport);
	return (size_t)(p - out);
}

/* Starts the non-blocking connect of c. */
static int start_connect(struct agent *a, struct tconn *c, const struct sockaddr_storage *ss,
			 socklen_t sl)
{
	int fd = fy_sock_connect(ss, sl);

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

static void resolved(struct agent *a, struct res_waiter *w, int err,
		     const struct sockaddr_storage *ss, socklen_t sl)
{
	struct tconn *c = (struct tconn *)((char *)w - offsetof(struct tconn, rw));
	char why[FY_REASON_MAX + 1];
	int e;

	if (err) {
		snprintf(why, sizeof(why), "cannot resolve %.200s: %s", c->target,
			 err == -ENOENT ? "name not found" : strerror(-err));
		fy_pump_abort(&c->pump, FY_E_REFUSED, why);
	} else if (c->check_addr && !allow_addr(&a->cfg, false, ss)) {
		snprintf(why, sizeof(why), "%.200s resolves to an address not allowed here "
			 "(--allow)", c->target);
		fy_pump_abort(&c->pump, FY_E_DENIED, why);
	} else if ((e = start_connect(a, c, ss, sl)) < 0) {
		fy_pump_connected(&c->pump, e, c->target);	/* refused, with why */
	}
}

uint32_t forward_admit(struct agent *a, const char **msg)
{
	static _Thread_local char why[FY_REASON_MAX + 1];

	if (a->st == AG_DRAINING) {
		*msg = "agent shutting down";
		return FY_E_SHUTDOWN;
	}
	/* The relay is trusted for routing, not for our resources. */
	if (fy_sess_count(&a->streams) > a->cfg.max_streams) {
		snprintf(why, sizeof(why), "agent stream limit reached (%u streams, --max-streams)",
			 a->cfg.max_streams);
		*msg = why;
		return FY_E_LIMIT;
	}
	return FY_E_OK;
}

/* A TCP stream to host:port: connects now when the address is known, or
 * when it is. */
static uint32_t open_target(struct atun *t, struct fy_stream *s, const char *host, uint16_t port,
			    bool check_addr, const char **msg)
{
	static _Thread_local char why[FY_REASON_MAX + 1];
	struct agent *a = t->a;
	struct sockaddr_storage ss;
	socklen_t sl;
	struct tconn *c = fy_pool_alloc(&a->conn_pool);
	int e;

	if (!c) {
		*msg = "out of memory";
		return FY_E_LIMIT;
	}
	c->as.ops = &tconn_ops;
	c->role = TC_TARGET;
	c->t = t;
	c->a = a;
	c->check_addr = check_addr;
	c->rw.entry = -1;
	c->rw.done = resolved;
	c->sc.loop = a->loop;
	c->sc.fd = -1;
	snprintf(c->target, sizeof(c->target), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
		 port);
	/* What waits for a slow target is capped by our own --window, not by
	 * what the relay grants itself. */
	fy_pump_init(&c->pump, &fy_sockconn_ops, &c->sc, t->link.mux, s, a->cfg.window, false,
		     forward_done);
	s->app = &c->as;
	e = res_lookup(a, host, port, &c->rw, &ss, &sl);
	if (e == 0 && check_addr && !allow_addr(&a->cfg, false, &ss))
		e = -EACCES;
	if (e == 0)
		e = start_connect(a, c, &ss, sl);
	if (e < 0 && e != -EINPROGRESS) {
		res_cancel(a, &c->rw);
		if (e == -EACCES)
			snprintf(why, sizeof(why), "%.200s is not allowed here (--allow)", c->target);
		else
			snprintf(why, sizeof(why), "connect %.200s: %s", c->target, strerror(-e));
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s", why);
		fy_pump_fini(&c->pump);
		fy_pool_free(&a->conn_pool, c);
		*msg = why;
		return e == -EACCES ? FY_E_DENIED : FY_E_REFUSED;
	}
	a->streams_total++;
	return FY_E_OK;
}

uint32_t forward_open(struct atun *t, struct fy_stream *s, const struct fy_open *o,
		      const char **msg)
{
	static _Thread_local char why[FY_REASON_MAX + 1];
	struct agent *a = t->a;
	struct fwd *f = find_fwd(a, o);
	char client[64];
	uint32_t code = forward_admit(a, msg);

	if (code != FY_E_OK) {
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "stream %u on port %u%s refused: %s", s->id, o->port,
			  o->udp ? "/udp" : "", *msg);
		return code;
	}
	if (!f) {
		if (o->named)
			snprintf(why, sizeof(why), "name id %u is not claimed by this agent", o->port);
		else
			snprintf(why, sizeof(why), "%s port %u is not forwarded by this agent",
				 o->udp ? "UDP" : "TCP", o->port);
		*msg = why;
		return FY_E_DENIED;
	}
	inet_ntop(AF_INET6, o->peer_addr, client, sizeof(client));
	FY_DEBUG(TOPIC, "stream %u from [%s]:%u on %s port %u -> %s:%u", s->id, client,
		 o->peer_port, o->udp ? "UDP" : "TCP", o->port, f->host, f->hostport);
	if (o->udp)
		return udp_open_target(t, s, f->host, f->hostport, false, msg);
	code = open_target(t, s, f->host, f->hostport, false, msg);
	if (code == FY_E_OK && f->proxy_protocol) {
		struct tconn *c = (struct tconn *)s->app;

		c->pp_len = (uint8_t)proxy_header(c->pp, o, f);
	}
	return code;
}

uint32_t forward_dial(struct atun *t, struct fy_stream *s, const struct fy_dial *d,
		      const char **msg)
{
	static _Thread_local char why[FY_REASON_MAX + 1];
	struct agent *a = t->a;
	struct sockaddr_storage ss;
	socklen_t sl;
	bool by_name, literal, udp;
	uint32_t code = forward_admit(a, msg);

	if (code != FY_E_OK) {
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "stream %u from agent '%s' refused: %s", s->id, d->agent,
			  *msg);
		return code;
	}
	/* Listed by name, or an address (or a name resolving to one) in a
	 * listed prefix: anything else is refused before a lookup. */
	udp = d->kind == FY_KIND_UDP;
	by_name = allow_name(&a->cfg, udp, d->host, d->port);
	literal = fy_sock_resolve_numeric(d->host, d->port, &ss, &sl) == 0;
	if (!by_name && (literal ? !allow_addr(&a->cfg, udp, &ss) :
			 !allow_prefix_port(&a->cfg, udp, d->port))) {
		snprintf(why, sizeof(why), "%s %.200s:%u is not in the target agent's --allow list",
			 d->kind == FY_KIND_UDP ? "udp" : "tcp", d->host, d->port);
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "agent '%s' asked for %s: refused", d->agent, why);
		*msg = why;
		return FY_E_DENIED;
	}
	FY_DEBUG(TOPIC, "stream %u: agent '%s' -> %s %s:%u", s->id, d->agent,
		 d->kind == FY_KIND_UDP ? "udp" : "tcp", d->host, d->port);
	if (d->kind == FY_KIND_UDP)
		return udp_open_target(t, s, d->host, d->port, !by_name, msg);
	return open_target(t, s, d->host, d->port, !by_name, msg);
}
