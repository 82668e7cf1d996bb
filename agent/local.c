/* Streams this agent opens to a target of another agent, as ssh's -L, -D
 * and -W: a local TCP listener whose every connection becomes a stream
 * (CONNECT) through the relay to agent:host:port; a SOCKS5 server whose
 * requests name the target (-D); standard input and output as one stream
 * (-W, for ssh's ProxyCommand), after which the agent exits. The relay
 * applies its policy, the far agent its --allow; a refusal resets the
 * local connection with the reason in this agent's log. Listeners stay
 * open while the relay is away: connections then are reset at once.
 * (-L udp is udp.c's.) */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "agent.h"
#include "ferry/addr.h"
#include "ferry/sock.h"

#define TOPIC "agent.local"
#define ACCEPTS_PER_EVENT 32

struct llisten {
	struct agent *a;
	struct lfwd *lf;
	int fd;
	bool paused;		/* out of descriptors: no read interest until a tick */
};

struct local {
	struct llisten l[AGENT_MAX_FWDS];
	unsigned n;
	struct tconn *stdio;		/* -W, once its stream is open */
	struct lfwd *stdio_lf;		/* -W's spec */
	struct tconn *socks;		/* -D connections still negotiating */
};

static const char *lf_str(const struct lfwd *lf, char *out, size_t n)
{
	if (lf->kind == L_SOCKS)
		snprintf(out, n, "-D %u%s%s", lf->port, lf->agent[0] ? ":" : "", lf->agent);
	else if (lf->kind == L_STDIO)
		snprintf(out, n, "-W %s:%s:%u", lf->agent, lf->host, lf->hostport);
	else
		snprintf(out, n, "-L %u:%s:%s:%u", lf->port, lf->agent, lf->host, lf->hostport);
	return out;
}

/* The stream ended: close the local side (a reset unless both ends
 * finished cleanly), log why when it was refused. */
static void local_done(struct fy_pump *p, uint32_t code, const char *why)
{
	struct tconn *c = (struct tconn *)((char *)p - offsetof(struct tconn, pump));
	struct agent *a = c->a;
	char spec[400];

	if (code != FY_E_OK && code != FY_E_GONE)
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s: %s (%s)", lf_str(c->lf, spec, sizeof(spec)), why,
			  fy_code_str(code));
	else
		FY_DEBUG(TOPIC, "%s: stream done: %s (sent %llu, received %llu bytes)",
			 lf_str(c->lf, spec, sizeof(spec)), why, p->rx, p->tx);
	if (c->role != TC_STDIO) {
		forward_close(a, c, code);
		return;
	}
	fy_stdioconn_fini(&c->stdio);
	a->stdio_done = true;
	a->stdio_rc = code == FY_E_OK ? 0 : 1;
	a->local->stdio = NULL;
	c->gc_next = a->gc_conns;
	a->gc_conns = c;
}

static void on_conn_event(struct fy_loop *l, int fd, uint32_t ev, void *arg)
{
	struct tconn *c = arg;

	(void)l;
	(void)fd;
	if (ev & FY_EV_WRITE)
		fy_pump_writable(&c->pump);
	if (ev & (FY_EV_READ | FY_EV_ERROR))
		fy_pump_readable(&c->pump);
}

/* The stream to host:port at agent, on a tunnel now up; c's connection
 * (sc or stdio) is pumped from here on. 0 or -1 with why. */
static int open_stream(struct agent *a, struct tconn *c, const char *agent, const char *host,
		       uint16_t port, const char **why)
{
	struct fy_dial d = { .kind = FY_KIND_TCP, .port = port };
	struct atun *t = agent_pick_tunnel(a);
	struct fy_stream *s;

	if (!t) {
		*why = "not connected to the relay";
		return -1;
	}
	if (a->relay_version < 2) {
		*why = "the relay speaks protocol 1, which has no streams between agents";
		return -1;
	}
	snprintf(d.agent, sizeof(d.agent), "%s", agent);
	snprintf(d.host, sizeof(d.host), "%s", host);
	s = fy_mux_open_dial(t->link.mux, FY_T_CONNECT, &d, &c->as);
	if (!s) {
		*why = "the tunnel is going away";
		return -1;
	}
	c->t = t;
	if (c->role == TC_STDIO)
		fy_pump_init(&c->pump, &fy_stdioconn_ops, &c->stdio, t->link.mux, s, a->cfg.window,
			     true, local_done);
	else
		fy_pump_init(&c->pump, &fy_sockconn_ops, &c->sc, t->link.mux, s, a->cfg.window,
			     true, local_done);
	s->app = &c->as;
	snprintf(c->target, sizeof(c->target), "%s:%s:%u", agent, host, port);
	return 0;
}

static struct tconn *conn_new(struct agent *a, struct lfwd *lf, enum tconn_role role, int fd)
{
	struct tconn *c = fy_pool_alloc(&a->conn_pool);

	if (!c)
		return NULL;
	c->as.ops = &tconn_ops;
	c->a = a;
	c->role = role;
	c->lf = lf;
	c->rw.entry = -1;
	c->sc.loop = a->loop;
	c->sc.fd = fd;
	c->sc.events = FY_EV_READ;
	return c;
}

/* ---- -D: SOCKS5 until the request is in ---- */

static void socks_link(struct local *lo, struct tconn *c)
{
	c->sprev = NULL;
	c->snext = lo->socks;
	if (lo->socks)
		lo->socks->sprev = c;
	lo->socks = c;
}

static void socks_unlink(struct local *lo, struct tconn *c)
{
	if (c->sprev)
		c->sprev->snext = c->snext;
	else
		lo->socks = c->snext;
	if (c->snext)
		c->snext->sprev = c->sprev;
	socks_free(c->socks);
	c->socks = NULL;
}

/* Ends a -D connection that has no stream yet. */
static void socks_refuse(struct agent *a, struct tconn *c, const char *why)
{
	char spec[400];

	if (why)
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s: %s", lf_str(c->lf, spec, sizeof(spec)), why);
	socks_unlink(a->local, c);
	fy_loop_del(a->loop, c->sc.fd);
	fy_sock_close_rst(c->sc.fd);
	fy_pool_free(&a->conn_pool, c);
}

/* "HOST.AGENT.ferry" names both when -D has no agent of its own. */
static int split_ferry_name(const char *name, char *agent, size_t alen, char *host, size_t hlen)
{
	/* host may be name itself: only its head is rewritten, at the end */
	size_t n = strlen(name);
	const char *dot;

	if (n < 7 || strcasecmp(name + n - 6, ".ferry"))
		return -1;
	for (dot = name + n - 7; dot > name && *dot != '.'; dot--)
		;
	if (dot == name || (size_t)(name + n - 6 - dot - 1) >= alen)
		return -1;
	snprintf(agent, alen, "%.*s", (int)(name + n - 6 - dot - 1), dot + 1);
	if ((size_t)(dot - name) >= hlen)
		return -1;
	memmove(host, name, (size_t)(dot - name));
	host[dot - name] = '\0';
	return agent[0] && host[0] ? 0 : -1;
}

static void on_socks_event(struct fy_loop *l, int fd, uint32_t ev, void *arg)
{
	struct tconn *c = arg;
	struct agent *a = c->a;
	uint8_t in[512], out[600];
	size_t outlen = 0;
	const uint8_t *left;
	size_t nleft;
	char agent[FY_NAME_MAX + 1], host[FY_HOST_MAX + 1];
	const char *why = NULL;
	uint16_t port;
	ssize_t k;
	int r;

	(void)l;
	(void)ev;
	k = recv(fd, in, sizeof(in), 0);
	if (k < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (k <= 0) {
		socks_refuse(a, c, k == 0 ? "client closed before its request" :
			     "client connection failed");
		return;
	}
	r = socks_input(c->socks, in, (size_t)k, out, &outlen);
	if (outlen && send(fd, out, outlen, MSG_NOSIGNAL) != (ssize_t)outlen)
		r = -1;
	if (r < 0) {
		socks_refuse(a, c, "SOCKS5 request refused or malformed");
		return;
	}
	if (r == 0)
		return;
	socks_target(c->socks, host, sizeof(host), &port);
	if (c->lf->agent[0]) {
		snprintf(agent, sizeof(agent), "%s", c->lf->agent);
	} else if (split_ferry_name(host, agent, sizeof(agent), host, sizeof(host)) < 0) {
		outlen = socks_reply(0x04, out);	/* host unreachable */
		(void)!send(fd, out, outlen, MSG_NOSIGNAL);
		socks_refuse(a, c, "the SOCKS name must be HOST.AGENT.ferry when -D names no agent");
		return;
	}
	if (open_stream(a, c, agent, host, port, &why) < 0) {
		outlen = socks_reply(0x01, out);
		(void)!send(fd, out, outlen, MSG_NOSIGNAL);
		socks_refuse(a, c, why);
		return;
	}
	nleft = socks_leftover(c->socks, &left);
	/* The pump owns c from here on. */
	if (nleft && fy_mux_send(c->t->link.mux, c->pump.s, left, nleft, false) != nleft)
		why = "SOCKS client sent too much before the reply";
	socks_unlink(a->local, c);
	c->role = TC_LOCAL;
	fy_loop_del(a->loop, fd);
	fy_loop_add(a->loop, fd, FY_EV_READ, on_conn_event, c);
	if (why) {
		fy_pump_abort(&c->pump, FY_E_LIMIT, why);
		return;
	}
	/* Optimistic: the far side's refusal arrives as a reset. */
	outlen = socks_reply(0x00, out);
	if (send(fd, out, outlen, MSG_NOSIGNAL) != (ssize_t)outlen) {
		fy_pump_abort(&c->pump, FY_E_GONE, "SOCKS client went away");
		return;
	}
	fy_pump_readable(&c->pump);
}

/* ---- listeners ---- */

static void on_accept(struct fy_loop *l, int lfd, uint32_t ev, void *arg)
{
	struct llisten *ll = arg;
	struct agent *a = ll->a;
	char spec[400], peer[64];

	(void)l;
	(void)ev;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = fy_sock_accept(lfd, &ss, &sl);
		const char *why = NULL;
		struct tconn *c;

		if (fd < 0) {
			if (fd != -EAGAIN)
				FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s: accept: %s",
					  lf_str(ll->lf, spec, sizeof(spec)), strerror(-fd));
			if (fd == -EMFILE || fd == -ENFILE) {
				/* Still readable: rest it until the next tick, or the
				 * loop spins on it. The client waits in the queue. */
				fy_loop_mod(a->loop, lfd, 0);
				ll->paused = true;
			}
			return;
		}
		fy_sock_nodelay(fd);
		fy_sock_abort_on_close(fd, true);
		c = conn_new(a, ll->lf, ll->lf->kind == L_SOCKS ? TC_SOCKS : TC_LOCAL, fd);
		if (!c) {
			fy_sock_close_rst(fd);
			continue;
		}
		/* Filled here, not inside FY_DEBUG, which skips its arguments
		 * below debug level: the refusal below prints it too. */
		fy_addr_str(&ss, peer, sizeof(peer));
		FY_DEBUG(TOPIC, "%s: connection from %s", lf_str(ll->lf, spec, sizeof(spec)), peer);
		if (c->role == TC_SOCKS) {
			c->socks = socks_new(a->cfg.socks_user[0] ? a->cfg.socks_user : NULL,
					     a->cfg.socks_pass[0] ? a->cfg.socks_pass : NULL);
			socks_link(a->local, c);
			if (!c->socks || fy_loop_add(a->loop, fd, FY_EV_READ, on_socks_event, c) < 0)
				socks_refuse(a, c, "out of memory");
			continue;
		}
		if (open_stream(a, c, ll->lf->agent, ll->lf->host, ll->lf->hostport, &why) < 0) {
			FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s: connection from %s refused: %s",
				  lf_str(ll->lf, spec, sizeof(spec)), peer, why);
			fy_sock_close_rst(fd);
			fy_pool_free(&a->conn_pool, c);
			continue;
		}
		fy_loop_add(a->loop, fd, FY_EV_READ, on_conn_event, c);
		fy_pump_readable(&c->pump);
	}
}

/* A listener for lf in a free slot: 0, or -errno. */
static int listen_slot(struct agent *a, struct lfwd *lf)
{
	struct local *lo = a->local;
	struct llisten *ll = NULL;
	struct sockaddr_storage ss;
	socklen_t sl;
	char spec[400];
	int e;

	for (unsigned i = 0; i < lo->n; i++)
		if (lo->l[i].fd < 0) {
			ll = &lo->l[i];
			break;
		}
	if (!ll && lo->n == AGENT_MAX_FWDS)
		return -ENOSPC;
	e = fy_sock_resolve(lf->bind[0] ? lf->bind : "127.0.0.1", lf->port, &ss, &sl, 1);
	if (e == 0)
		e = fy_sock_listen(&ss, sl, 0, 128);
	if (e < 0)
		return e;
	if (!ll)
		ll = &lo->l[lo->n++];
	ll->a = a;
	ll->lf = lf;
	ll->fd = e;
	fy_loop_add(a->loop, ll->fd, FY_EV_READ, on_accept, ll);
	FY_INFO(TOPIC, "%s listening on %s:%u", lf_str(lf, spec, sizeof(spec)),
		lf->bind[0] ? lf->bind : "127.0.0.1", lf->port);
	return 0;
}

static int listen_one(struct agent *a, struct lfwd *lf)
{
	char spec[400];
	int e = listen_slot(a, lf);

	if (e < 0) {
		fprintf(stderr, "ferry-agent: %s: cannot listen on %s:%u: %s\n",
			lf_str(lf, spec, sizeof(spec)), lf->bind[0] ? lf->bind : "127.0.0.1",
			lf->port, strerror(-e));
		return -1;
	}
	return 0;
}

int local_listen(struct agent *a, struct lfwd *lf)
{
	char spec[400];
	int e = a->local ? listen_slot(a, lf) : -ENOMEM;

	if (e < 0)
		FY_WARN(TOPIC, "%s: cannot listen on %s:%u: %s", lf_str(lf, spec, sizeof(spec)),
			lf->bind[0] ? lf->bind : "127.0.0.1", lf->port, strerror(-e));
	return e;
}

/* Listeners rested for want of a descriptor listen again. */
void local_tick(struct agent *a)
{
	struct local *lo = a->local;

	for (unsigned i = 0; lo && i < lo->n; i++) {
		if (!lo->l[i].paused)
			continue;
		lo->l[i].paused = false;
		if (lo->l[i].fd >= 0)
			fy_loop_mod(a->loop, lo->l[i].fd, FY_EV_READ);
	}
}

void local_unlisten(struct agent *a, struct lfwd *lf)
{
	struct local *lo = a->local;
	char spec[400];

	for (unsigned i = 0; lo && i < lo->n; i++) {
		if (lo->l[i].lf != lf || lo->l[i].fd < 0)
			continue;
		fy_loop_del(a->loop, lo->l[i].fd);
		close(lo->l[i].fd);
		lo->l[i].fd = -1;
		FY_INFO(TOPIC, "%s closed", lf_str(lf, spec, sizeof(spec)));
	}
}

int local_start(struct agent *a)
{
	a->local = calloc(1, sizeof(*a->local));
	if (!a->local)
		return -1;
	for (unsigned i = 0; i < a->cfg.nlfwds; i++) {
		struct lfwd *lf = &a->cfg.lfwds[i];

		if (lf->kind == L_STDIO)
			a->local->stdio_lf = lf;
		else if (lf->kind != L_UDP && listen_one(a, lf) < 0)
			return -1;
	}
	return 0;
}

static void on_stdio_event(struct fy_loop *l, int fd, uint32_t ev, void *arg)
{
	struct tconn *c = arg;

	(void)l;
	if (fd == c->stdio.out_fd && (ev & FY_EV_WRITE))
		fy_pump_writable(&c->pump);
	if (fd == c->stdio.in_fd && (ev & (FY_EV_READ | FY_EV_ERROR)))
		fy_pump_readable(&c->pump);
}

void local_session_up(struct agent *a)
{
	struct local *lo = a->local;
	struct tconn *c;
	const char *why = NULL;
	char spec[400];
	int e;

	/* -W: one stream, opened the first time the session is up. */
	if (!lo || !lo->stdio_lf || lo->stdio || a->stdio_done)
		return;
	c = conn_new(a, lo->stdio_lf, TC_STDIO, -1);
	if (!c)
		goto fail;
	e = fy_stdioconn_init(&c->stdio, a->loop, STDIN_FILENO, STDOUT_FILENO, on_stdio_event, c);
	if (e < 0) {
		why = e == -EPERM ? "standard input and output must be pipes, sockets or a "
				    "terminal" : strerror(-e);
		fy_pool_free(&a->conn_pool, c);
		goto fail;
	}
	if (open_stream(a, c, lo->stdio_lf->agent, lo->stdio_lf->host, lo->stdio_lf->hostport,
			&why) < 0) {
		fy_stdioconn_fini(&c->stdio);
		fy_pool_free(&a->conn_pool, c);
		goto fail;
	}
	lo->stdio = c;
	fy_pump_readable(&c->pump);
	return;
fail:
	FY_ERR(TOPIC, "%s: %s", lf_str(lo->stdio_lf, spec, sizeof(spec)),
	       why ? why : "out of memory");
	a->stdio_done = true;
	a->stdio_rc = 1;
}

void local_stop(struct agent *a)
{
	struct local *lo = a->local;

	if (!lo)
		return;
	while (lo->socks)
		socks_refuse(a, lo->socks, NULL);
	for (unsigned i = 0; i < lo->n; i++) {
		if (lo->l[i].fd < 0)
			continue;
		fy_loop_del(a->loop, lo->l[i].fd);
		close(lo->l[i].fd);
	}
	free(lo);
	a->local = NULL;
}
