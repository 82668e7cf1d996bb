/* Agent tunnels on the relay: TLS handshake, HELLO, then the mux. A
 * tunnel lives on one worker. Where the backend can move connections
 * (kernel sockets), tunnel i of a session moves once, right after HELLO,
 * to worker (i + session serial) mod N, so every worker holds one tunnel
 * of each agent and public connections never cross workers; where it
 * cannot (DPDK), the tunnel stays where it landed and the backend steers
 * clients to a worker that holds one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <xxhash.h>

#include "backend.h"
#include "ctl.h"
#include "engine.h"
#include "ferry/addr.h"
#include "ferry/tls.h"
#include "inbox.h"
#include "join.h"
#include "relay-t.h"
#include "rstream.h"
#include "srcaddr.h"
#include "tunnel.h"

#define TOPIC "relay.tunnel"

static void on_event(void *owner, uint32_t ev);

static bool unauthenticated(const struct tunnel *t)
{
	return t->state == TUN_TLS || t->state == TUN_HELLO;
}

static void ua_unlink(struct tunnel *t)
{
	struct worker *w = t->w;

	if (t->ua_prev)
		t->ua_prev->ua_next = t->ua_next;
	else
		w->ua_head[t->ua_tier] = t->ua_next;
	if (t->ua_next)
		t->ua_next->ua_prev = t->ua_prev;
	else
		w->ua_tail[t->ua_tier] = t->ua_prev;
	t->ua_next = t->ua_prev = NULL;
}

static void ua_append(struct tunnel *t, enum ua_tier tier)
{
	struct worker *w = t->w;

	t->ua_tier = tier;
	t->ua_prev = w->ua_tail[tier];
	if (w->ua_tail[tier])
		w->ua_tail[tier]->ua_next = t;
	else
		w->ua_head[tier] = t;
	w->ua_tail[tier] = t;
}

/* t got further in its handshake: it goes to the end of a higher tier. */
static void ua_promote(struct tunnel *t, enum ua_tier tier)
{
	if (!unauthenticated(t) || t->ua_tier >= tier)
		return;
	ua_unlink(t);
	ua_append(t, tier);
}

static void unauth_release(struct tunnel *t)
{
	struct worker *w = t->w;
	struct relay *r = w->r;

	if (!unauthenticated(t))
		return;
	atomic_fetch_sub(&r->unauth, 1);
	src_release(r->src, t->src_slot);
	ua_unlink(t);
	w->nunauth--;
}

/* An address that failed authentication AUTH_FAIL_BURST times within a
 * minute is refused at accept for a while (srcaddr.h): a token guesser
 * costs us a close, not a TLS handshake and a log line. */
static void auth_failed(struct tunnel *t)
{
	struct relay *r = t->w->r;

	atomic_fetch_add_explicit(&r->ctr.auth_failed, 1, memory_order_relaxed);
	if (src_failed(r->src, t->src_slot, t->w->now_ms))
		FY_WARN(TOPIC, "%s failed authentication %u times within %u s: its address is "
			"refused for %u s", t->peer_str, AUTH_FAIL_BURST, AUTH_FAIL_WINDOW_MS / 1000,
			AUTH_TARPIT_MS / 1000);
}

/* The unauthenticated cap is full, or descriptors run low: the oldest
 * unauthenticated connection of the lowest tier on this worker makes
 * room. Oldest alone is not enough: a flood that reconnects as fast as
 * it is closed turns the whole cap over in tens of milliseconds, less
 * than a real agent's handshake on a loaded machine takes, so an agent
 * that has sent a valid ClientHello is only evicted once no silent
 * connection is left. Returns false when this worker holds none. */
static bool evict_oldest(struct worker *w, const char *newcomer, bool fds)
{
	struct tunnel *old = NULL;

	for (unsigned i = 0; i < UA_TIERS && !old; i++)
		old = w->ua_head[i];
	if (!old)
		return false;
	atomic_fetch_add_explicit(&w->r->ctr.unauth_evicted, 1, memory_order_relaxed);
	if (fds)
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "out of descriptors (limit %u): closing the oldest "
			  "unauthenticated connection, from %s after %llu ms, to let %s in",
			  w->r->nofile, old->peer_str,
			  (unsigned long long)(w->now_ms - old->accepted_ms), newcomer);
	else
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "unauthenticated connections at the cap (%u): "
			  "closing the oldest, from %s after %llu ms, to let %s in",
			  w->r->cfg.max_unauth, old->peer_str,
			  (unsigned long long)(w->now_ms - old->accepted_ms), newcomer);
	tunnel_close(old, FY_E_LIMIT, fds ? "evicted: the relay is short of descriptors" :
			    "evicted: too many unauthenticated connections");
	return true;
}

/* Evictions for want of descriptors, per worker and tick: a flood that
 * reconnects as fast as it is closed gets this many, then waits for the
 * backend's shedding and the listen queue, instead of keeping the worker
 * busy accepting and closing. An agent in the queue gets in all the same. */
#define FD_EVICTIONS_PER_TICK 100

static bool evict_for_fds(struct worker *w, const char *newcomer)
{
	if (w->fd_evictions >= FD_EVICTIONS_PER_TICK)
		return false;
	if (!evict_oldest(w, newcomer, true))
		return false;
	w->fd_evictions++;
	return true;
}

bool tunnel_make_room(struct worker *w, const char *newcomer)
{
	return evict_for_fds(w, newcomer);
}

/* The caps on unauthenticated connections, then a tunnel for io on the
 * worker's lists, or NULL (io closed). The caller sets up its link. */
static struct tunnel *accept_common(struct worker *w, void *io,
				    const struct sockaddr_storage *peer, bool fd_low)
{
	struct relay *r = w->r;
	struct tunnel *t;
	uint64_t key = src_key(r->src, peer);
	unsigned from_addr;
	int slot;
	char a[64];

	fy_addr_str(peer, a, sizeof(a));
	if (src_refused(r->src, key, w->now_ms)) {
		atomic_fetch_add_explicit(&r->ctr.auth_tarpit, 1, memory_order_relaxed);
		FY_LOG_RL(FY_LOG_INFO, TOPIC, "refusing %s: too many failed authentications "
			  "from its address", a);
		r->be->close(w, io, true);
		return NULL;
	}
	slot = src_hold(r->src, key, &from_addr);
	if (from_addr > r->cfg.max_unauth_per_ip) {
		src_release(r->src, slot);
		atomic_fetch_add_explicit(&r->ctr.unauth_refused, 1, memory_order_relaxed);
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "refusing %s: %u unauthenticated connections from "
			  "its address already (--max-unauth-per-ip)", a, r->cfg.max_unauth_per_ip);
		r->be->close(w, io, true);
		return NULL;
	}
	/* Descriptors run low: a newcomer takes the place of the oldest
	 * unauthenticated connection, so that idle ones cannot use up the
	 * reserve kept for agents. */
	if (fd_low)
		evict_for_fds(w, a);
	if (atomic_load(&r->unauth) >= r->cfg.max_unauth && !evict_oldest(w, a, false)) {
		src_release(r->src, slot);
		atomic_fetch_add_explicit(&r->ctr.unauth_refused, 1, memory_order_relaxed);
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "refusing %s: %u unauthenticated connections "
			  "(--max-unauth), none on this worker to evict", a, r->cfg.max_unauth);
		r->be->close(w, io, true);
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		src_release(r->src, slot);
		r->be->close(w, io, true);
		return NULL;
	}
	atomic_fetch_add(&r->unauth, 1);
	t->w = w;
	t->io = io;
	t->src_slot = slot;
	t->peer = *peer;
	memcpy(t->peer_str, a, sizeof(t->peer_str));
	t->state = TUN_TLS;
	t->accepted_ms = w->now_ms;
	t->deadline_ms = w->now_ms + r->cfg.handshake_ms;
	ua_append(t, UA_SILENT);
	w->nunauth++;
	return t;
}

/* The link could not be set up: the tunnel goes, io is closed. */
static void accept_failed(struct tunnel *t, const char *why)
{
	struct worker *w = t->w;
	void *io = t->io;

	FY_ERR(TOPIC, "%s: %s", t->peer_str, why);
	unauth_release(t);
	fy_link_fini(&t->link);
	free(t);
	w->r->be->close(w, io, true);
}

static void list_tunnel(struct tunnel *t)
{
	struct worker *w = t->w;

	t->next = w->tunnel_list;
	if (w->tunnel_list)
		w->tunnel_list->prev = t;
	w->tunnel_list = t;
}

/* A new connection on the agent port: TLS, then HELLO. Takes io. */
void tunnel_accept(struct worker *w, void *io, const struct sockaddr_storage *peer,
		   bool fd_low)
{
	struct relay *r = w->r;
	struct tunnel *t = accept_common(w, io, peer, fd_low);

	if (!t)
		return;
	if (fy_link_init(&t->link, r->tls, r->be->conn, io, true) < 0 ||
	    (r->be->direct_tls && (fy_tlsconn_direct_write(&t->link.tls) < 0 ||
				   fy_tlsconn_direct_read(&t->link.tls) < 0)) ||
	    r->be->attach(w, io, on_event, t) < 0) {
		accept_failed(t, t->link.tls.why);
		return;
	}
	list_tunnel(t);
	FY_DEBUG(TOPIC, "connection from %s", t->peer_str);
}

static void read_hello(struct tunnel *t);

void tunnel_accept_ws(struct worker *w, void *io, const struct sockaddr_storage *peer,
		      const struct fy_tlsconn *tls, const uint8_t *rest, size_t n)
{
	struct relay *r = w->r;
	struct tunnel *t = accept_common(w, io, peer, false);
	struct fy_ws *ws;

	if (!t) {
		struct fy_tlsconn dead = *tls;

		fy_tlsconn_fini(&dead);
		return;
	}
	fy_link_init_from(&t->link, tls);
	ws = fy_ws_create(true, FY_WS_MAX_MSG);
	if (!ws) {
		accept_failed(t, "out of memory");
		return;
	}
	/* Before the WebSocket input is read: the tunnel is the peer's. */
	t->state = TUN_HELLO;
	ua_promote(t, UA_HELLO);
	if (r->be->attach(w, io, on_event, t) < 0) {
		fy_ws_destroy(ws);
		accept_failed(t, "cannot watch the connection");
		return;
	}
	list_tunnel(t);
	FY_DEBUG(TOPIC, "connection from %s: WebSocket tunnel", t->peer_str);
	/* The 101 may still sit in TLS's buffer. */
	fy_link_want_write(&t->link, fy_tlsconn_pending_out(&t->link.tls));
	if (fy_link_set_ws(&t->link, ws, rest, n) < 0) {
		tunnel_close(t, FY_E_PROTOCOL, t->link.tls.why);
		return;
	}
	read_hello(t);
}

static void unlink_tunnel(struct tunnel *t)
{
	struct worker *w = t->w;

	if (t->prev)
		t->prev->next = t->next;
	else if (w->tunnel_list == t)
		w->tunnel_list = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->next = t->prev = NULL;
}

/* The session's tunnels on this worker hang off its entry in w->tunnels
 * (usually one; on DPDK, RSS may put several on one lcore). The session's
 * bit for this worker is set while the chain is not empty. */
static int chain_add(struct tunnel *t)
{
	struct worker *w = t->w;
	uint64_t serial = t->sess->serial;
	struct tunnel *head = fy_sess_remove(&w->tunnels, serial);

	t->same_next = head;
	if (fy_sess_insert(&w->tunnels, serial, t) < 0) {
		if (head)
			fy_sess_insert(&w->tunnels, serial, head);
		return -1;
	}
	atomic_fetch_or(&t->sess->tunnels, 1ull << w->id);
	return 0;
}

static void chain_remove(struct tunnel *t)
{
	struct worker *w = t->w;
	uint64_t serial = t->sess->serial;
	struct tunnel *head = fy_sess_lookup(&w->tunnels, serial);

	if (head == t) {
		fy_sess_remove(&w->tunnels, serial);
		if (t->same_next)
			fy_sess_insert(&w->tunnels, serial, t->same_next);
		else
			atomic_fetch_and(&t->sess->tunnels, ~(1ull << w->id));
	} else {
		for (; head && head->same_next != t; head = head->same_next)
			;
		if (head)
			head->same_next = t->same_next;
	}
	t->same_next = NULL;
}

/* Adds what went through t since the last call to its session's
 * counters on this worker (the admin API and /metrics read them). open:
 * the tunnel's streams now (0 when it closes). */
static void tunnel_publish(struct tunnel *t, uint64_t open)
{
	struct reg_sess_stats *st;
	const struct fy_mux_stats *ms;

	if (!t->sess || !t->link.mux || t->w->id >= t->sess->nstats)
		return;
	st = &t->sess->stats[t->w->id];
	ms = fy_mux_stats(t->link.mux);
	/* This worker is the only writer of its slot: load + store. */
#define ADD(field, v) atomic_store_explicit(&st->field, atomic_load_explicit(&st->field, \
		memory_order_relaxed) + (v), memory_order_relaxed)
	ADD(bytes_in, ms->bytes_in - t->published.bytes_in);
	ADD(bytes_out, ms->bytes_out - t->published.bytes_out);
	ADD(streams_opened, ms->streams_opened - t->published.streams_opened);
	ADD(streams_open, open - t->published_open);	/* modular: may go down */
#undef ADD
	t->published = *ms;
	t->published_open = open;
}

void tunnel_free(struct tunnel *t)
{
	fy_link_fini(&t->link);
	free(t);
}

/* One best-effort write of whatever is queued: the tunnel is closing. */
static void last_flush(struct tunnel *t)
{
	if (t->link.mux)
		fy_link_write_out(&t->link);
	ERR_clear_error();
}

static void send_error_raw(struct tunnel *t, uint32_t code, const char *msg)
{
	uint8_t f[FY_CTRL_FRAME_MAX];
	struct fy_reason rr = { .code = code };

	snprintf(rr.msg, sizeof(rr.msg), "%s", msg);
	fy_link_send_raw(&t->link, f, fy_frame_reason(f, FY_T_ERROR, 0, &rr));
}

void tunnel_close(struct tunnel *t, uint32_t code, const char *reason)
{
	struct worker *w = t->w;
	struct relay *r = w->r;
	char why[FY_REASON_MAX + 1];

	if (t->state == TUN_CLOSED)
		return;
	/* reason may live in the mux, which is freed below */
	snprintf(why, sizeof(why), "%s", reason);
	if (t->state == TUN_ACTIVE) {
		FY_INFO(TOPIC, "agent '%s' tunnel %u from %s closed: %s", t->name, t->index,
			t->peer_str, why);
		if (code != FY_E_OK && code != FY_E_PROTOCOL && code != FY_E_FLOW) {
			uint8_t f[FY_CTRL_FRAME_MAX];
			struct fy_reason rr = { .code = code };

			snprintf(rr.msg, sizeof(rr.msg), "%s", why);
			fy_mux_send_ctrl(t->link.mux, f, fy_frame_reason(f, FY_T_ERROR, 0, &rr));
		}
		last_flush(t);
		tunnel_publish(t, 0);
		/* Every stream of the tunnel ends with a reset: public clients
		 * see RST, never a clean end. */
		fy_mux_destroy(t->link.mux, why);
		t->link.mux = NULL;
		chain_remove(t);
	} else if (t->state != TUN_AUTHED) {
		FY_LOG_RL(FY_LOG_INFO, TOPIC, "connection from %s closed before authentication: %s",
			  t->peer_str, why);
		unauth_release(t);
	}
	if (t->sess) {
		/* The tunnels of a session live and die together. */
		engine_session_kill(r, t->sess, why);
		engine_release_ports(w, t->sess);
		engine_session_put(r, t->sess);
		t->sess = NULL;
	}
	r->be->close(w, t->io, false);
	t->io = NULL;
	t->state = TUN_CLOSED;
	unlink_tunnel(t);
	t->gc_next = w->gc_tunnels;
	w->gc_tunnels = t;
}

static void tunnel_flush(struct tunnel *t)
{
	if (t->state == TUN_ACTIVE && fy_link_flush(&t->link) < 0)
		tunnel_close(t, FY_E_GONE, t->link.tls.why);
}

void tunnel_flush_dirty(struct worker *w)
{
	while (w->dirty) {
		struct tunnel *t = w->dirty;

		w->dirty = t->dirty_next;
		t->dirty = false;
		tunnel_flush(t);
	}
}

/* ---- mux callbacks ---- */

/* Every stream's app is the struct rstream of what it serves. */
static struct rstream *rs_of(struct fy_stream *s)
{
	return s->app;
}

static void cb_data(void *ctx, struct fy_stream *s, const uint8_t *p, size_t n)
{
	(void)ctx;
	rs_of(s)->ops->data(rs_of(s), p, n);
}

static void cb_dgram(void *ctx, struct fy_stream *s, const uint8_t *p, size_t n)
{
	struct tunnel *t = ctx;

	if (rs_of(s)->ops->dgram)
		rs_of(s)->ops->dgram(rs_of(s), p, n);
	else	/* nothing takes datagrams here: dropped, credit back */
		fy_mux_consumed(t->link.mux, s, n, true);
}

static void cb_fin(void *ctx, struct fy_stream *s)
{
	(void)ctx;
	rs_of(s)->ops->fin(rs_of(s));
}

static void cb_reset(void *ctx, struct fy_stream *s, uint32_t code, const char *msg)
{
	(void)ctx;
	rs_of(s)->ops->reset(rs_of(s), code, msg);
}

static void cb_credit(void *ctx, struct fy_stream *s)
{
	(void)ctx;
	rs_of(s)->ops->credit(rs_of(s));
}

/* Output waits: write it out at the end of the worker's turn, one flush
 * for everything queued in the turn. */
static void cb_output(void *ctx)
{
	struct tunnel *t = ctx;

	if (t->dirty || t->state != TUN_ACTIVE)
		return;
	t->dirty = true;
	t->dirty_next = t->w->dirty;
	t->w->dirty = t;
}

/* Claims nobody may make now: a draining relay, a client session. true
 * with res set. what: "ports", "names". */
static bool claim_refused(struct tunnel *t, const char *what, struct fy_result *res)
{
	if (atomic_load(&t->w->r->draining)) {
		res->code = FY_E_SHUTDOWN;
		snprintf(res->msg, sizeof(res->msg), "relay is shutting down");
		return true;
	}
	if (t->sess->client) {
		res->code = FY_E_DENIED;
		snprintf(res->msg, sizeof(res->msg), "a client session (no -R, no --allow) claims "
			 "no %s", what);
		return true;
	}
	return false;
}

/* v3: a name claim (-H for HTTP, -S for TLS by SNI). */
static int on_register_name(struct tunnel *t, const struct fy_register *rg)
{
	struct fy_result res = { .req = rg->req };
	uint8_t f[FY_CTRL_FRAME_MAX];
	const char *kind = rg->kind == FY_NAME_TLS ? "TLS" : "HTTP";

	if (!claim_refused(t, "names", &res))
		res.code = engine_register_name(t->w, t->sess, rg, res.msg, sizeof(res.msg));
	if (res.code == FY_E_OK)
		FY_INFO(TOPIC, "agent '%s' claimed %s name '%s': %s", t->name, kind, rg->name, res.msg);
	else
		FY_WARN(TOPIC, "agent '%s' refused %s name '%s': %s", t->name, kind, rg->name,
			res.msg);
	fy_mux_send_ctrl(t->link.mux, f, fy_frame_result(f, &res));
	return 0;
}

static int on_register(struct tunnel *t, const struct fy_frame_hdr *h, const uint8_t *p,
		       const char **why)
{
	struct fy_register rg = { 0 };
	struct fy_result res = { 0 };
	uint8_t f[FY_CTRL_FRAME_MAX];

	if ((h->flags & FY_F_NAME) && (h->flags & FY_F_UDP)) {
		*why = "REGISTER with both UDP and NAME flags";
		return -1;
	}
	if (h->flags & FY_F_NAME) {
		if (fy_frame_get_register_name(p, h->len, &rg, why) < 0)
			return -1;
		return on_register_name(t, &rg);
	}
	if (fy_frame_get_register(p, h->len, &rg, why) < 0)
		return -1;
	/* The payload is the same for both: the flag says which. */
	rg.udp = (h->flags & FY_F_UDP) != 0;
	res.req = rg.req;
	if (!claim_refused(t, "ports", &res))
		res.code = engine_register_port(t->w, t->sess, rg.port, rg.udp, res.msg,
						sizeof(res.msg));
	/* "claimed port N" / "refused port N" (N/udp for UDP): scripts wait
	 * for these lines. */
	if (res.code == FY_E_OK)
		FY_INFO(TOPIC, "agent '%s' claimed port %u%s: %s", t->name, rg.port,
			rg.udp ? "/udp" : "", res.msg);
	else
		FY_WARN(TOPIC, "agent '%s' refused port %u%s: %s", t->name, rg.port,
			rg.udp ? "/udp" : "", res.msg);
	fy_mux_send_ctrl(t->link.mux, f, fy_frame_result(f, &res));
	return 0;
}

static int cb_control(void *ctx, const struct fy_frame_hdr *h, const uint8_t *p, const char **why)
{
	struct tunnel *t = ctx;
	struct fy_reason rr;

	switch (h->type) {
	case FY_T_REGISTER:
		return on_register(t, h, p, why);
	case FY_T_GOAWAY:
		if (fy_frame_get_reason(p, h->len, &rr, why) < 0)
			return -1;
		FY_INFO(TOPIC, "agent '%s' is going away: %s", t->name, rr.msg);
		atomic_store(&t->sess->draining, true);
		return 0;
	case FY_T_ERROR:
		if (fy_frame_get_reason(p, h->len, &rr, why) < 0)
			return -1;
		FY_WARN(TOPIC, "agent '%s' reported an error: %s (%s)", t->name, rr.msg,
			fy_code_str(rr.code));
		*why = "agent reported an error";
		return -1;
	case FY_T_HELLO:
		*why = "second HELLO on an authenticated tunnel";
		return -1;
	case FY_T_FORWARDED:
		if (t->sess->version < 2) {
			*why = "FORWARDED on a version-1 tunnel";
			return -1;
		}
		return ctl_on_forwarded(t, p, h->len, why);
	case FY_T_FORWARD:
		if (t->sess->version < 2) {
			*why = "FORWARD on a version-1 tunnel";
			return -1;
		}
		return ctl_on_agent_forward(t, p, h->len, why);
	default:
		*why = "frame type not valid from an agent";
		return -1;
	}
}

/* An agent opens a stream to another agent's target: CONNECT. A DIAL is
 * the relay's to send, never an agent's. */
static uint32_t cb_dial(void *ctx, struct fy_stream *s, uint8_t type, const struct fy_dial *d,
			const char **msg)
{
	if (type != FY_T_CONNECT) {
		*msg = "DIAL is sent by the relay, not by agents";
		return FY_E_DENIED;
	}
	return join_connect(ctx, s, d, msg);
}

static const struct fy_mux_cbs relay_mux_cbs = {
	.on_open = NULL,	/* OPEN is the relay's to send */
	.on_dial = cb_dial,
	.on_data = cb_data,
	.on_fin = cb_fin,
	.on_reset = cb_reset,
	.on_credit = cb_credit,
	.on_control = cb_control,
	.on_output = cb_output,
	.on_dgram = cb_dgram,
};

/* ---- input ---- */

/* The mux refused what the agent sent: the tunnel ends with its reason. */
static void input_refused(struct tunnel *t)
{
	uint32_t code;
	const char *why = fy_mux_error(t->link.mux, &code);

	if (code != FY_E_OK)
		FY_WARN(TOPIC, "agent '%s' tunnel %u from %s: %s; closing it", t->name, t->index,
			t->peer_str, why);
	tunnel_close(t, code, why);
}

static void read_active(struct tunnel *t)
{
	int r = fy_link_read(&t->link, t->w->now_ms, FY_LINK_READ_ROUNDS);

	if (t->state != TUN_ACTIVE)
		return;		/* a callback closed it */
	switch (r) {
	case FY_LINK_PROTO:
		input_refused(t);
		return;
	case FY_LINK_ERR:
		tunnel_close(t, FY_E_GONE, t->link.tls.why);
		return;
	case FY_LINK_EOF:
		tunnel_close(t, FY_E_GONE, "agent closed the connection");
		return;
	case FY_LINK_IDLE:
		return;
	default:
		break;
	}
	/* Fairness: other connections get their turn, and we come back
	 * without waiting for the socket (which may already be drained). */
	if (!t->more_in) {
		t->more_in = true;
		t->more_in_next = t->w->more_in;
		t->w->more_in = t;
		t->w->r->be->wake(t->w);
	}
}

void tunnel_read_more(struct worker *w)
{
	struct tunnel *list = w->more_in;

	w->more_in = NULL;
	while (list) {
		struct tunnel *t = list;

		list = t->more_in_next;
		t->more_in = false;
		if (t->state == TUN_ACTIVE)
			read_active(t);
	}
}

/* Refused before authentication: anyone can cause this at any rate, so
 * the log line is summarised per worker and the address is counted. */
static void refuse(struct tunnel *t, uint32_t code, const char *msg)
{
	fy_log_sum_event(&t->w->auth_log, t->w->now_ms, "agent from %s refused: %s",
			 t->peer_str, msg);
	if (code == FY_E_PROTOCOL)	/* engine_auth counts its own refusals */
		atomic_fetch_add_explicit(&t->w->r->ctr.auth_fail[AUTH_FAIL_PROTOCOL], 1,
					  memory_order_relaxed);
	/* A busy name or a draining relay is no sign of abuse. */
	if (code == FY_E_AUTH || code == FY_E_DENIED || code == FY_E_PROTOCOL)
		auth_failed(t);
	send_error_raw(t, code, msg);
	tunnel_close(t, code, msg);
}

static void read_hello(struct tunnel *t)
{
	struct worker *w = t->w;
	struct relay *r = w->r;
	struct fy_frame_hdr h;
	const uint8_t *payload;
	const char *why;
	char msg[FY_REASON_MAX + 1];
	uint32_t code;
	int n, filled = fy_link_fill(&t->link);

	if (filled <= 0) {
		tunnel_close(t, FY_E_GONE, filled < 0 ? t->link.tls.why : "agent closed the connection");
		return;
	}
	n = fy_frame_peek(fy_buf_peek(&t->link.in), fy_buf_len(&t->link.in), &h, &payload, &why);
	if (n == 0)
		return;
	if (n < 0) {
		snprintf(msg, sizeof(msg), "malformed frame before HELLO: %s", why);
		refuse(t, FY_E_PROTOCOL, msg);
		return;
	}
	if (h.type != FY_T_HELLO) {
		snprintf(msg, sizeof(msg), "frame type 0x%02x before authentication", h.type);
		refuse(t, FY_E_PROTOCOL, msg);
		return;
	}
	if (fy_frame_get_hello(payload, h.len, &t->hello, &why) < 0) {
		snprintf(msg, sizeof(msg), "malformed HELLO: %s", why);
		refuse(t, FY_E_PROTOCOL, msg);
		return;
	}
	t->hello.client = h.flags & FY_F_CLIENT;
	fy_buf_consume(&t->link.in, (size_t)n);
	if (engine_auth(w, &t->hello, t->peer_str, &t->sess, t->name, &code, msg, sizeof(msg)) < 0) {
		refuse(t, code, msg);
		return;
	}
	unauth_release(t);
	t->state = TUN_AUTHED;
	t->index = t->hello.tunnel_index;
	r->be->detach(w, t->io);
	unlink_tunnel(t);
	/* Tunnel i of a session goes to worker (i + serial) mod N: every
	 * worker gets one tunnel per agent, and agents' first tunnels (where
	 * their ports listen) spread over the workers. */
	unsigned target = (unsigned)((t->index + t->sess->serial) % r->nworkers);
	if (target == w->id || !r->be->can_move) {
		tunnel_adopt(w, t);
		return;
	}
	t->move.kind = MSG_TUNNEL;
	t->move.t = t;
	inbox_send(&r->workers[target], &t->move);
}

void tunnel_adopt(struct worker *w, struct tunnel *t)
{
	struct relay *r = w->r;
	struct fy_mux_cfg mc = {
		.role = FY_MUX_RELAY,
		.window = r->cfg.initial_window,
		.max_window = r->cfg.window,
		.budget = &t->sess->budget,
		.keepalive_ms = r->cfg.keepalive_ms,
		.out_cap = FY_LINK_OUT_CAP,
		.now_ms = w->now_ms,
		.stream_pool = &w->stream_pool,
	};
	struct fy_welcome wm = {
		.version = t->sess->version,
		.workers = (uint16_t)t->sess->workers,
		.tunnel_index = t->index,
		.keepalive_ms = r->cfg.keepalive_ms,
		.window = r->cfg.initial_window,
	};
	uint8_t f[FY_FRAME_HDR_LEN + 32];

	t->w = w;
	t->link.want_write = false;
	t->prev = NULL;
	t->next = w->tunnel_list;
	if (w->tunnel_list)
		w->tunnel_list->prev = t;
	w->tunnel_list = t;
	mc.serial = ++w->next_tunnel_serial;
	t->serial = mc.serial;
	t->link.mux = fy_mux_create(&mc, &relay_mux_cbs, t, &w->streams);
	if (!t->link.mux || r->be->attach(w, t->io, on_event, t) < 0) {
		tunnel_close(t, FY_E_INTERNAL, "out of memory");
		return;
	}
	t->state = TUN_ACTIVE;
	fy_mux_set_established(t->link.mux, 0, 0);
	if (atomic_load(&t->sess->dead)) {
		tunnel_close(t, FY_E_GONE, t->sess->dead_why);
		return;
	}
	if (chain_add(t) < 0) {
		tunnel_close(t, FY_E_INTERNAL, "out of memory");
		return;
	}
	if (t->index == 0)	/* FORWARD requests go to it (ctl.c) */
		atomic_store(&t->sess->tunnel0_worker, (int)w->id);
	fy_mux_send_ctrl(t->link.mux, f, fy_frame_welcome(f, &wm));
	FY_INFO(TOPIC, "agent '%s' %stunnel %u/%u from %s up on worker %u%s", t->name,
		t->sess->client ? "client " : "", t->index, t->sess->workers, t->peer_str, w->id,
		t->link.ws ? " (WebSocket)" : "");
	if (fy_buf_len(&t->link.in) && fy_link_input(&t->link, w->now_ms) < 0)
		input_refused(t);
}

static void do_handshake(struct tunnel *t)
{
	char msg[300];
	int k = fy_link_handshake(&t->link);

	if (k == 1) {
		atomic_fetch_add_explicit(&t->w->r->ctr.tls_handshakes, 1, memory_order_relaxed);
		ua_promote(t, UA_HELLO);
		t->state = TUN_HELLO;
		read_hello(t);
		return;
	}
	if (k == 0) {
		/* Past "before": OpenSSL took a valid ClientHello. */
		if (!SSL_in_before(t->link.tls.ssl))
			ua_promote(t, UA_TLS);
		return;
	}
	atomic_fetch_add_explicit(&t->w->r->ctr.tls_failed, 1, memory_order_relaxed);
	snprintf(msg, sizeof(msg), "%s", t->link.tls.why);
	tunnel_close(t, FY_E_PROTOCOL, msg);
}

static void on_event(void *owner, uint32_t ev)
{
	struct tunnel *t = owner;

	switch (t->state) {
	case TUN_TLS:
		do_handshake(t);
		break;
	case TUN_HELLO:
		/* The 101 or a WebSocket pong / close still in TLS's buffer. */
		if ((ev & RELAY_EV_WRITE) && t->link.ws && fy_link_write_out(&t->link) == 0)
			fy_link_want_write(&t->link, false);
		read_hello(t);
		break;
	case TUN_ACTIVE:
		if (ev & RELAY_EV_WRITE)
			tunnel_flush(t);
		if (t->state == TUN_ACTIVE && (ev & (RELAY_EV_READ | RELAY_EV_ERROR)))
			read_active(t);
		break;
	default:
		break;
	}
}

void tunnel_tick(struct worker *w, uint64_t now)
{
	struct tunnel *t, *next;
	char why[96];

	fy_log_sum_flush(&w->auth_log, now);
	w->fd_evictions = 0;
	for (t = w->tunnel_list; t; t = next) {
		next = t->next;
		if (t->state == TUN_TLS || t->state == TUN_HELLO) {
			if (now > t->deadline_ms) {
				snprintf(why, sizeof(why), "no HELLO within %u ms", w->r->cfg.handshake_ms);
				tunnel_close(t, FY_E_TIMEOUT, why);
			}
			continue;
		}
		if (t->state != TUN_ACTIVE)
			continue;
		if (atomic_load(&t->sess->dead)) {
			tunnel_close(t, FY_E_GONE, t->sess->dead_why);
			continue;
		}
		if (fy_mux_tick(t->link.mux, now) < 0) {
			snprintf(why, sizeof(why), "no traffic for %u ms (keepalive)",
				 3 * w->r->cfg.keepalive_ms);
			tunnel_close(t, FY_E_TIMEOUT, why);
			continue;
		}
		tunnel_publish(t, fy_mux_stream_count(t->link.mux));
	}
}

void tunnel_close_dead(struct worker *w)
{
	struct tunnel *t, *next;

	for (t = w->tunnel_list; t; t = next) {
		next = t->next;
		if (t->state == TUN_ACTIVE && atomic_load(&t->sess->dead))
			tunnel_close(t, FY_E_GONE, t->sess->dead_why);
	}
}

void tunnel_goaway_all(struct worker *w, uint32_t code, const char *why)
{
	for (struct tunnel *t = w->tunnel_list; t; t = t->next)
		if (t->state == TUN_ACTIVE)
			fy_mux_goaway(t->link.mux, code, why);
}

void tunnel_gc(struct worker *w)
{
	while (w->gc_tunnels) {
		struct tunnel *t = w->gc_tunnels;

		if (t->more_in)	/* still listed: free after the list is processed */
			break;
		w->gc_tunnels = t->gc_next;
		tunnel_free(t);
	}
}

struct fy_stream *tunnel_open_stream(struct worker *w, uint64_t serial, const struct fy_open *o,
				     void *app, struct tunnel **tp, const char **why)
{
	struct tunnel *t = fy_sess_lookup(&w->tunnels, serial), *best = NULL;
	struct fy_stream *s;

	/* The session's tunnels on this worker: the least loaded one. */
	for (; t; t = t->same_next)
		if (t->state == TUN_ACTIVE &&
		    (!best || fy_mux_stream_count(t->link.mux) < fy_mux_stream_count(best->link.mux)))
			best = t;
	if (!best) {
		*why = "agent tunnel gone";
		return NULL;
	}
	if (fy_mux_stream_count(best->link.mux) >= w->r->cfg.max_streams) {
		*why = "stream limit of the tunnel reached";
		return NULL;
	}
	s = fy_mux_open(best->link.mux, o, app);
	if (!s) {
		*why = "the tunnel is draining";
		return NULL;
	}
	*tp = best;
	return s;
}
