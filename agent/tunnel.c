/* The agent's tunnels to the relay: connect, TLS, HELLO/WELCOME, then
 * one tunnel per relay worker, port registrations on tunnel 0, keepalive,
 * and reconnection with exponential backoff and jitter. The tunnels of
 * one session live and die together: losing one ends the session and the
 * agent starts a fresh one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "agent.h"
#include "ferry/sock.h"
#include "ferry/tls.h"

#define TOPIC "agent.tunnel"
#define CONNECT_TIMEOUT_MS 15000
/* --transport auto: how long TLS may take to get a HELLO out before wss
 * is tried (a firewall that drops the relay's port answers nothing). */
#define AUTO_TLS_MS 5000

static void on_event(struct fy_loop *l, int fd, uint32_t ev, void *arg);
static void tunnel_fail(struct atun *t, const char *why);
static struct atun *tun_start(struct agent *a, unsigned index);
static void connect_session(struct agent *a);

static uint64_t rand64(void)
{
	uint64_t v = 0;

	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = fy_now_ms() ^ ((uint64_t)getpid() << 32);
	return v;
}

/* Exponential backoff with +-20% jitter: many agents that lost the same
 * relay do not come back in lockstep. */
static void schedule_retry(struct agent *a, const char *why)
{
	uint32_t base = a->backoff_ms ? a->backoff_ms : a->cfg.backoff_min_ms;
	uint32_t jitter = (uint32_t)(rand64() % (base * 2 / 5 + 1));
	uint32_t delay = base - base / 5 + jitter;

	a->next_attempt_ms = a->now_ms + delay;
	a->backoff_ms = base + base * 3 / 5 > a->cfg.backoff_max_ms ?
			a->cfg.backoff_max_ms : base + base * 3 / 5;
	a->st = AG_WAIT;
	FY_WARN(TOPIC, "relay %s:%u: %s; retrying in %.1f s", a->relay_host,
		a->tr_now == TR_WSS ? a->cfg.wss_port : a->relay_port, why, delay / 1000.0);
}

static void tun_close(struct atun *t, const char *why)
{
	struct agent *a = t->a;

	if (t->st == AT_CLOSED)
		return;
	if (t->link.mux) {
		fy_mux_destroy(t->link.mux, why);	/* resets every stream: targets see RST */
		t->link.mux = NULL;
	}
	xport_free(t);
	if (t->fd >= 0) {
		fy_loop_del(a->loop, t->fd);
		close(t->fd);
		t->fd = -1;
	}
	t->st = AT_CLOSED;
	a->tuns[t->index] = NULL;
	t->gc_next = a->gc_tuns;
	a->gc_tuns = t;
}

void agent_teardown(struct agent *a, const char *why)
{
	a->start_fail[0] = '\0';	/* it was this session's */
	for (unsigned i = 0; i < AGENT_MAX_TUNNELS; i++)
		if (a->tuns[i])
			tun_close(a->tuns[i], why);
	for (unsigned i = 0; i < a->cfg.nfwds; i++) {
		struct fwd *f = &a->cfg.fwds[i];

		f->up = false;
		f->retry_at_ms = 0;
		f->retry_ms = 0;
		f->reg_out = 0;		/* their RESULTs died with the tunnel */
		if (f->answer_pending) {	/* kept: claimed again with the others */
			f->answer_pending = false;
			if (f->answer)
				f->answer(a, f->answer_arg, f->answer_req, FY_E_OK,
					  "added; claimed once the relay is connected again");
			f->answer = NULL;
		}
	}
	a->ntuns = 0;
}

/* --transport auto: the session's first tunnel could not get a HELLO out
 * over TLS (st: how far it got), so the session starts again over wss,
 * at once. true when it did. */
static bool auto_fallback(struct agent *a, unsigned index, enum atun_state st, const char *why)
{
	if (a->cfg.transport != TR_AUTO || a->tr_now != TR_TLS || index != 0 ||
	    st >= AT_WELCOME || a->st != AG_CONNECTING || a->fatal)
		return false;
	snprintf(a->tr_note, sizeof(a->tr_note), "%.190s", why);
	FY_WARN(TOPIC, "transport auto: tls to relay %s:%u failed (%s); trying wss on port %u",
		a->relay_host, a->relay_port, a->tr_note, a->cfg.wss_port);
	agent_teardown(a, why);
	a->tr_now = TR_WSS;
	connect_session(a);
	return true;
}

/* The tunnels of a session live and die together: one that fails ends
 * the session, and the agent starts a fresh one with backoff. */
static void tunnel_fail(struct atun *t, const char *why)
{
	struct agent *a = t->a;
	char msg[300];

	if (t->st == AT_CLOSED)
		return;
	if (auto_fallback(a, t->index, t->st, why))
		return;
	snprintf(msg, sizeof(msg), "tunnel %u: %.280s", t->index, why);
	agent_teardown(a, msg);
	if (a->st == AG_DRAINING || a->fatal)
		return;
	schedule_retry(a, msg);
}

void agent_gc(struct agent *a)
{
	while (a->gc_conns) {
		struct tconn *c = a->gc_conns;

		a->gc_conns = c->gc_next;
		forward_free(a, c);
	}
	while (a->gc_tuns) {
		struct atun *t = a->gc_tuns;

		a->gc_tuns = t->gc_next;
		xport_free(t);
		if (t->tls_init)
			fy_link_fini(&t->link);
		free(t);
	}
}

static void tun_flush(struct atun *t)
{
	if ((t->st == AT_WELCOME || t->st == AT_UP) && fy_link_flush(&t->link) < 0)
		tunnel_fail(t, t->link.tls.why);
}

void agent_flush(struct agent *a)
{
	for (unsigned i = 0; i < AGENT_MAX_TUNNELS; i++)
		if (a->tuns[i])
			tun_flush(a->tuns[i]);
}

/* ---- mux callbacks ---- */

static uint32_t cb_open(void *ctx, struct fy_stream *s, const struct fy_open *o, const char **msg)
{
	return forward_open(ctx, s, o, msg);
}

/* DIAL: another agent asks for a target here. CONNECT is for agents to
 * send, never the relay. */
static uint32_t cb_dial(void *ctx, struct fy_stream *s, uint8_t type, const struct fy_dial *d,
			const char **msg)
{
	if (type != FY_T_DIAL) {
		*msg = "CONNECT is sent by agents, not by the relay";
		return FY_E_DENIED;
	}
	return forward_dial(ctx, s, d, msg);
}

/* Every stream's app is the struct astream of what it serves. */
static struct astream *as_of(struct fy_stream *s)
{
	return s->app;
}

static void cb_data(void *ctx, struct fy_stream *s, const uint8_t *p, size_t n)
{
	(void)ctx;
	as_of(s)->ops->data(as_of(s), p, n);
}

static void cb_dgram(void *ctx, struct fy_stream *s, const uint8_t *p, size_t n)
{
	struct atun *t = ctx;

	if (as_of(s)->ops->dgram)
		as_of(s)->ops->dgram(as_of(s), p, n);
	else
		fy_mux_consumed(t->link.mux, s, n, true);
}

static void cb_fin(void *ctx, struct fy_stream *s)
{
	(void)ctx;
	as_of(s)->ops->fin(as_of(s));
}

static void cb_reset(void *ctx, struct fy_stream *s, uint32_t code, const char *msg)
{
	(void)ctx;
	as_of(s)->ops->reset(as_of(s), code, msg);
}

static void cb_credit(void *ctx, struct fy_stream *s)
{
	(void)ctx;
	as_of(s)->ops->credit(as_of(s));
}

struct atun *agent_pick_tunnel(struct agent *a)
{
	if (a->st != AG_UP)
		return NULL;
	for (unsigned k = 0; k < a->ntuns; k++) {
		struct atun *t = a->tuns[(a->rr_tunnel + k) % a->ntuns];

		if (t && t->st == AT_UP) {
			a->rr_tunnel = (a->rr_tunnel + k + 1) % a->ntuns;
			return t;
		}
	}
	return NULL;
}

static void open_more_tunnels(struct agent *a);
static void send_registers(struct atun *t);

static int on_welcome(struct atun *t, const uint8_t *p, uint32_t n, const char **why)
{
	struct agent *a = t->a;
	struct fy_welcome w;

	if (t->st != AT_WELCOME) {
		*why = "unexpected WELCOME";
		return -1;
	}
	if (fy_frame_get_welcome(p, n, &w, why) < 0)
		return -1;
	if (w.version < FY_PROTO_MIN || w.version > FY_PROTO_VERSION || w.tunnel_index != t->index) {
		*why = "WELCOME does not match our HELLO";
		return -1;
	}
	if (w.workers > AGENT_MAX_TUNNELS) {
		*why = "relay has more workers than this agent supports";
		return -1;
	}
	if (t->index == 0 && w.window > a->cfg.window)
		FY_WARN(TOPIC, "the relay grants %u bytes per stream, more than this agent holds for "
			"one stream (--window %u): a stream is reset when more than that waits for its "
			"target (a slow reader, or data sent before the target's connect completes)",
			w.window, a->cfg.window);
	fy_mux_set_established(t->link.mux, w.window,
			       a->cfg.keepalive_ms ? a->cfg.keepalive_ms : w.keepalive_ms);
	t->st = AT_UP;
	if (t->index == 0) {
		a->ntuns = w.workers;
		a->relay_version = w.version;
		FY_INFO(TOPIC, "connected to relay %s:%u over %s%s%s%s%s (%s, %u workers, window %u, "
			"keepalive %u ms)", a->relay_host, a->tr_now == TR_WSS ? a->cfg.wss_port :
			a->relay_port, a->tr_now == TR_WSS ? "wss (WebSocket over HTTPS)" : "tls",
			a->use_proxy ? " via HTTP proxy " : "", a->use_proxy ? a->proxy.host : "",
			a->cfg.transport == TR_AUTO ? ", chosen by --transport auto" : "",
			a->tr_note[0] && a->tr_now == TR_WSS ? " after tls failed" : "",
			SSL_get_version(t->link.tls.ssl), w.workers, w.window, w.keepalive_ms);
		open_more_tunnels(a);
		send_registers(t);
	}
	return 0;
}

static int on_result(struct atun *t, const uint8_t *p, uint32_t n, const char **why)
{
	struct agent *a = t->a;
	struct fy_result r;
	struct fwd *f;
	char fs[400];

	if (fy_frame_get_result(p, n, &r, why) < 0)
		return -1;
	if (r.req >= a->cfg.nfwds) {
		*why = "RESULT for a request we did not make";
		return -1;
	}
	f = &a->cfg.fwds[r.req];
	if (f->reg_out)
		f->reg_out--;
	if (f->unused)
		return 0;	/* closed while its claim was in flight */
	if (rfwd_on_result(a, r.req, &r) && r.code != FY_E_OK) {
		FY_WARN(TOPIC, "relay refused a forward opened at run time: %s", r.msg);
		a->backoff_ms = 0;
		return 0;
	}
	agent_fwd_str(f, fs, sizeof(fs));
	if (r.code == FY_E_OK) {
		f->up = true;
		f->retry_at_ms = 0;
		f->retry_ms = 0;
		/* "forwarding relay port N" for TCP as before: scripts read it. */
		if (f->kind)
			FY_INFO(TOPIC, "forwarding %s name '%s' to %s:%u", f->kind == FY_NAME_TLS ?
				"TLS" : "HTTP", f->name, f->host, f->hostport);
		else
			FY_INFO(TOPIC, "forwarding relay %sport %u to %s:%u", f->udp ? "UDP " : "",
				f->port, f->host, f->hostport);
	} else if (r.code == FY_E_IN_USE || r.code == FY_E_LIMIT || r.code == FY_E_INTERNAL) {
		/* Busy or out of resources on the relay: that may pass. */
		f->retry_ms = !f->retry_ms ? a->cfg.backoff_min_ms :
			      f->retry_ms > a->cfg.backoff_max_ms / 2 ? a->cfg.backoff_max_ms :
			      f->retry_ms * 2;
		f->retry_at_ms = a->now_ms + f->retry_ms;
		FY_WARN(TOPIC, "relay refused %s for now: %s; claiming it again in %.1f s", fs, r.msg,
			f->retry_ms / 1000.0);
	} else {
		/* Not allowed: asking again would get the same answer. */
		FY_ERR(TOPIC, "relay refused %s: %s (not retried)", fs, r.msg);
	}
	/* Success is a session with every tunnel up: reset the backoff. */
	a->backoff_ms = 0;
	return 0;
}

static int cb_control(void *ctx, const struct fy_frame_hdr *h, const uint8_t *p, const char **why)
{
	struct atun *t = ctx;
	struct agent *a = t->a;
	struct fy_reason r;
	struct fy_result rs;

	switch (h->type) {
	case FY_T_WELCOME:
		return on_welcome(t, p, h->len, why);
	case FY_T_RESULT:
		return on_result(t, p, h->len, why);
	case FY_T_GOAWAY:
		if (fy_frame_get_reason(p, h->len, &r, why) < 0)
			return -1;
		FY_INFO(TOPIC, "relay is going away: %s", r.msg);
		return 0;
	case FY_T_FORWARD:
		if (a->relay_version < 2) {
			*why = "FORWARD on a version-1 tunnel";
			return -1;
		}
		return rfwd_on_forward(t, p, h->len, why);
	case FY_T_FORWARDED:	/* the relay released what we closed ourselves */
		if (fy_frame_get_result(p, h->len, &rs, why) < 0)
			return -1;
		FY_DEBUG(TOPIC, "relay: %s (%s)", rs.msg, fy_code_str(rs.code));
		return 0;
	case FY_T_ERROR:
		if (fy_frame_get_reason(p, h->len, &r, why) < 0)
			return -1;
		if (r.code == FY_E_AUTH || r.code == FY_E_DENIED || r.code == FY_E_VERSION) {
			/* Retrying cannot help: the operator must act. */
			FY_ERR(TOPIC, "relay refused: %s", r.msg);
			a->fatal = true;
			a->exit_code = 2;
		} else {
			FY_WARN(TOPIC, "relay closed tunnel %u: %s (%s)", t->index, r.msg,
				fy_code_str(r.code));
		}
		*why = "relay reported an error";
		return -1;
	default:
		*why = "frame type not valid from a relay";
		return -1;
	}
}

static const struct fy_mux_cbs agent_mux_cbs = {
	.on_open = cb_open,
	.on_dial = cb_dial,
	.on_dgram = cb_dgram,
	.on_data = cb_data,
	.on_fin = cb_fin,
	.on_reset = cb_reset,
	.on_credit = cb_credit,
	.on_control = cb_control,
};

static void send_register(struct atun *t, unsigned i)
{
	struct agent *a = t->a;
	struct fwd *fw = &a->cfg.fwds[i];
	uint8_t f[FY_FRAME_HDR_LEN + 16 + FY_NAME_MAX];
	struct fy_register r = { .req = i, .port = fw->port, .udp = fw->udp };
	char fs[400];

	if (fw->kind) {
		if (a->relay_version < 3) {
			FY_ERR(TOPIC, "%s: the relay speaks protocol %u, which has no names (not "
			       "claimed; the relay needs version 3)", agent_fwd_str(fw, fs, sizeof(fs)),
			       a->relay_version);
			return;
		}
		/* The claim's id is its place in our list: OPEN names it. */
		r.port = (uint16_t)(i + 1);
		r.named = true;
		r.kind = fw->kind;
		snprintf(r.name, sizeof(r.name), "%s", fw->name);
	} else if (fw->udp && a->relay_version < 2) {
		FY_ERR(TOPIC, "-R udp:%u:%s:%u: the relay speaks protocol %u, which has no UDP "
		       "(not claimed)", fw->port, fw->host, fw->hostport, a->relay_version);
		return;
	}
	if (fy_mux_send_ctrl(t->link.mux, f, fy_frame_register(f, &r)) == 0)
		fw->reg_out++;
}

static void send_registers(struct atun *t)
{
	for (unsigned i = 0; i < t->a->cfg.nfwds; i++)
		if (!t->a->cfg.fwds[i].unused)
			send_register(t, i);
}

bool agent_register_now(struct agent *a, unsigned i)
{
	struct atun *t = a->tuns[0];

	if (!t || t->st != AT_UP || !t->link.mux)
		return false;
	send_register(t, i);
	return true;
}

/* Claims refused for a reason that may pass, once their backoff is over. */
static void retry_registers(struct agent *a)
{
	struct atun *t = a->tuns[0];

	if (!t || t->st != AT_UP)
		return;
	for (unsigned i = 0; i < a->cfg.nfwds; i++) {
		struct fwd *f = &a->cfg.fwds[i];

		if (!f->unused && f->retry_at_ms && a->now_ms >= f->retry_at_ms) {
			f->retry_at_ms = 0;
			send_register(t, i);
		}
	}
}

/* ---- connection setup ---- */

/* Opens tunnel `index` to the address agent_connect looked up. */
static struct atun *tun_start(struct agent *a, unsigned index)
{
	struct atun *t;
	char eb[300];

	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->a = a;
	t->index = index;
	t->fd = fy_sock_connect(&a->relay_ss, a->relay_sl);
	if (t->fd < 0) {
		snprintf(eb, sizeof(eb), "connect: %s", strerror(-t->fd));
		free(t);
		if (index > 0) {
			/* Tunnel 0 is up: the session ends whole (agent_tick),
			 * as when a later connect fails. Waiting to retry with
			 * it still up, the retry would put a new tunnel 0 over
			 * the old one, left open and unowned. */
			snprintf(a->start_fail, sizeof(a->start_fail), "tunnel %u: %s", index, eb);
			return NULL;
		}
		if (!auto_fallback(a, index, AT_CONNECT, eb))
			schedule_retry(a, eb);
		return NULL;
	}
	fy_sock_nodelay(t->fd);
	t->sc.loop = a->loop;
	t->sc.fd = t->fd;
	t->sc.events = FY_EV_WRITE;
	t->st = AT_CONNECT;
	a->tuns[index] = t;
	fy_loop_add(a->loop, t->fd, FY_EV_WRITE, on_event, t);
	return t;
}

static void open_more_tunnels(struct agent *a)
{
	for (unsigned i = 1; i < a->ntuns; i++)
		if (!a->tuns[i] && !tun_start(a, i))
			return;
}

/* A session over a->tr_now: the first tunnel, to the relay or to the
 * proxy. */
static void connect_session(struct agent *a)
{
	uint16_t port = a->tr_now == TR_WSS ? a->cfg.wss_port : a->relay_port;
	const char *host = a->use_proxy ? a->proxy.host : a->relay_host;
	char eb[300];
	int e;

	/* The name is looked up here, blocking, when no tunnel is up and no
	 * stream can stall; the session's other tunnels and its redials
	 * reuse the address. */
	e = fy_sock_resolve(host, a->use_proxy ? a->proxy.port : port, &a->relay_ss,
			    &a->relay_sl, 0);
	if (e < 0) {
		snprintf(eb, sizeof(eb), "cannot resolve %s%s: %s", a->use_proxy ? "proxy " : "",
			 host, e == -ENOENT ? "name not found" : strerror(-e));
		schedule_retry(a, eb);
		return;
	}
	a->session = rand64();
	a->st = AG_CONNECTING;
	/* deadline for this try */
	a->next_attempt_ms = a->now_ms + (a->cfg.transport == TR_AUTO && a->tr_now == TR_TLS ?
					  AUTO_TLS_MS : CONNECT_TIMEOUT_MS);
	if (a->use_proxy)
		FY_INFO(TOPIC, "connecting to relay %s:%u over %s through HTTP proxy %s:%u (from %s%s)",
			a->relay_host, port, xport_name(a->tr_now), a->proxy.host, a->proxy.port,
			a->proxy.from, a->proxy.auth[0] ? ", with credentials" : "");
	else
		FY_INFO(TOPIC, "connecting to relay %s:%u over %s", a->relay_host, port,
			xport_name(a->tr_now));
	tun_start(a, 0);
}

void agent_connect(struct agent *a)
{
	/* auto starts every session with TLS: the network may have changed. */
	a->tr_now = a->cfg.transport == TR_WSS ? TR_WSS : TR_TLS;
	a->tr_note[0] = '\0';
	connect_session(a);
}

static void send_hello(struct atun *t)
{
	struct agent *a = t->a;
	struct fy_hello h = {
		.ver_min = FY_PROTO_MIN,
		.ver_max = FY_PROTO_VERSION,
		.tunnel_index = t->index,
		.session = a->session,
		/* Only -L, -D, -W: the name stays free for the agent that
		 * serves it (a ProxyCommand next to a running agent). */
		.client = !a->cfg.nfwds && !a->cfg.nallows && !a->cfg.remote_fwds &&
			  !a->cfg.ctl_socket[0],
	};
	struct fy_mux_cfg mc = {
		.role = FY_MUX_AGENT,
		.window = 64 * 1024,	/* until the WELCOME says */
		.max_window = a->cfg.window,
		.budget = &a->budget,
		.keepalive_ms = a->cfg.keepalive_ms ? a->cfg.keepalive_ms : 10000,
		.out_cap = FY_LINK_OUT_CAP,
		.serial = ++a->tunnel_serial,
		.now_ms = a->now_ms,
		.stream_pool = &a->stream_pool,
	};
	uint8_t f[FY_FRAME_HDR_LEN + 300];

	snprintf(h.token, sizeof(h.token), "%s", a->cfg.token);
	snprintf(h.name, sizeof(h.name), "%s", a->cfg.name);
	t->link.mux = fy_mux_create(&mc, &agent_mux_cbs, t, &a->streams);
	if (!t->link.mux) {
		tunnel_fail(t, "out of memory");
		return;
	}
	fy_mux_send_ctrl(t->link.mux, f, fy_frame_hello(f, &h));
	t->st = AT_WELCOME;
	/* auto: TLS got through; the session has the usual time to come up. */
	if (t->index == 0 && a->cfg.transport == TR_AUTO && a->tr_now == TR_TLS)
		a->next_attempt_ms = a->now_ms + CONNECT_TIMEOUT_MS;
	tun_flush(t);
}

static void do_upgrade(struct atun *t)
{
	char why[300];
	int k = xport_ws_step(t, why, sizeof(why));

	if (k == 1) {
		FY_DEBUG(TOPIC, "tunnel %u: WebSocket up on %s", t->index, t->a->cfg.wss_path);
		send_hello(t);
	} else if (k < 0) {
		tunnel_fail(t, why);
	}
}

static void do_tls(struct atun *t)
{
	char msg[300];
	int k = fy_link_handshake(&t->link);

	if (k == 1) {
		FY_DEBUG(TOPIC, "tunnel %u: %s with %s", t->index, SSL_get_version(t->link.tls.ssl),
			 SSL_get_cipher_name(t->link.tls.ssl));
		if (t->a->tr_now != TR_WSS) {
			send_hello(t);
			return;
		}
		if (xport_ws_start(t, msg, sizeof(msg)) < 0) {
			tunnel_fail(t, msg);
			return;
		}
		t->st = AT_UPGRADE;
		do_upgrade(t);
		return;
	}
	if (k == 0)
		return;
	snprintf(msg, sizeof(msg), "%s", t->link.tls.why);
	if (SSL_get_verify_result(t->link.tls.ssl) != X509_V_OK || strstr(msg, "certificate"))
		/* Will not verify on retry either, unless the relay changes:
		 * keep trying (it may be mid-rotation), but loudly. */
		FY_ERR(TOPIC, "%s", msg);
	tunnel_fail(t, msg);
}

static void start_tls(struct atun *t)
{
	struct agent *a = t->a;
	const char *sni = a->cfg.server_name[0] ? a->cfg.server_name : a->relay_host;

	if (fy_link_init(&t->link, a->tls, &fy_sockconn_ops, &t->sc, false) < 0) {
		fy_link_fini(&t->link);
		tunnel_fail(t, t->link.tls.why);
		return;
	}
	t->tls_init = true;
	/* The socket was watched for the connect (or the proxy's answer);
	 * from now on the link says what it waits for. */
	t->link.want_write = (t->sc.events & FY_EV_WRITE) != 0;
	if (fy_tls_client_prepare(t->link.tls.ssl, sni) < 0) {
		tunnel_fail(t, "TLS setup failed");
		return;
	}
	if (xport_proxy_rest(t) < 0) {
		tunnel_fail(t, "proxy: too many bytes after its answer");
		return;
	}
	t->st = AT_TLS;
	do_tls(t);
}

static void do_proxy(struct atun *t)
{
	char why[300];
	int k = xport_proxy_step(t, why, sizeof(why));

	if (k == 1) {
		FY_DEBUG(TOPIC, "tunnel %u: proxy %s:%u opened a tunnel to the relay", t->index,
			 t->a->proxy.host, t->a->proxy.port);
		start_tls(t);
	} else if (k < 0) {
		tunnel_fail(t, why);
	}
}

static void on_connected(struct atun *t)
{
	char msg[300];
	int e = fy_sock_connect_result(t->fd);

	if (e < 0) {
		snprintf(msg, sizeof(msg), "connect%s: %s", t->a->use_proxy ? " to the proxy" : "",
			 strerror(-e));
		tunnel_fail(t, msg);
		return;
	}
	if (!t->a->use_proxy) {
		start_tls(t);
		return;
	}
	if (xport_proxy_start(t, msg, sizeof(msg)) < 0) {
		tunnel_fail(t, msg);
		return;
	}
	t->st = AT_PROXY;
	do_proxy(t);
}

/* Decrypted input left after the bounded read is picked up by
 * agent_read_more at the end of the loop turn. */
static void read_input(struct atun *t)
{
	int r = fy_link_read(&t->link, t->a->now_ms, FY_LINK_READ_ROUNDS);

	if (t->st != AT_WELCOME && t->st != AT_UP)
		return;
	if (r == FY_LINK_PROTO) {
		uint32_t code;
		const char *why = fy_mux_error(t->link.mux, &code);

		if (code != FY_E_OK && !t->a->fatal)
			FY_WARN(TOPIC, "tunnel %u: %s", t->index, why);
		tun_flush(t);
		tunnel_fail(t, why);
	} else if (r == FY_LINK_EOF || r == FY_LINK_ERR) {
		tunnel_fail(t, r == FY_LINK_EOF ? "relay closed the connection" : t->link.tls.why);
	}
}

/* Decrypted input left over after a bounded read: the socket will not
 * report it again. */
void agent_read_more(struct agent *a)
{
	for (unsigned i = 0; i < AGENT_MAX_TUNNELS; i++) {
		struct atun *t = a->tuns[i];

		if (t && (t->st == AT_WELCOME || t->st == AT_UP) && fy_link_has_input(&t->link))
			read_input(t);
	}
}

static void on_event(struct fy_loop *l, int fd, uint32_t ev, void *arg)
{
	struct atun *t = arg;

	(void)l;
	(void)fd;
	switch (t->st) {
	case AT_CONNECT:
		on_connected(t);
		break;
	case AT_PROXY:
		do_proxy(t);
		break;
	case AT_TLS:
		do_tls(t);
		break;
	case AT_UPGRADE:
		do_upgrade(t);
		break;
	case AT_WELCOME:
	case AT_UP:
		if (ev & FY_EV_WRITE)
			tun_flush(t);
		if (ev & (FY_EV_READ | FY_EV_ERROR))
			read_input(t);
		break;
	default:
		break;
	}
}

/* A tunnel of the session could not be started (tun_start): the whole
 * session ends and is tried again with backoff. */
static void session_start_failed(struct agent *a)
{
	char why[sizeof(a->start_fail)];

	memcpy(why, a->start_fail, sizeof(why));
	agent_teardown(a, why);
	if (a->st == AG_DRAINING || a->fatal)
		return;
	schedule_retry(a, why);
}

void agent_tick(struct agent *a, uint64_t now)
{
	bool all_up = a->ntuns > 0;

	if (a->st == AG_WAIT && now >= a->next_attempt_ms && !a->fatal) {
		agent_connect(a);
		return;
	}
	if (a->start_fail[0]) {
		session_start_failed(a);
		return;
	}
	for (unsigned i = 0; i < AGENT_MAX_TUNNELS; i++) {
		struct atun *t = a->tuns[i];

		if (!t)
			continue;
		if (t->st != AT_UP) {
			all_up = false;
			continue;
		}
		if (fy_mux_tick(t->link.mux, now) < 0) {
			tunnel_fail(t, "relay silent for 3 keepalive intervals");
			return;
		}
	}
	for (unsigned i = 0; i < a->ntuns; i++)
		if (!a->tuns[i])
			all_up = false;
	retry_registers(a);
	if (a->st == AG_CONNECTING) {
		if (all_up) {
			a->st = AG_UP;
			FY_INFO(TOPIC, "session up: %u tunnel%s", a->ntuns, a->ntuns == 1 ? "" : "s");
			local_session_up(a);
		} else if (now >= a->next_attempt_ms) {
			struct atun *t0 = a->tuns[0];

			if (auto_fallback(a, 0, t0 ? t0->st : AT_CONNECT, "no answer within 5 s"))
				return;
			agent_teardown(a, "connect timeout");
			schedule_retry(a, "no session within 15 s");
		}
	}
}

/* SIGTERM: tell the relay, let open streams finish (bounded by drain_ms). */
void agent_drain(struct agent *a)
{
	a->st = AG_DRAINING;
	a->drain_deadline_ms = a->now_ms + a->cfg.drain_ms;
	for (unsigned i = 0; i < AGENT_MAX_TUNNELS; i++)
		if (a->tuns[i] && a->tuns[i]->link.mux)
			fy_mux_goaway(a->tuns[i]->link.mux, FY_E_SHUTDOWN, "agent shutting down");
}
