/* Stream multiplexer: frame dispatch, stream ids, flow control, liveness.
 * See docs/PROTOCOL.md. Everything a peer sends is checked here before it
 * reaches the owner's callbacks. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/log.h"
#include "ferry/mux.h"

#define KEEPALIVE_MISSES	3
/* Frames a peer may make us answer per second (PING, refused OPEN,
 * REGISTER): above this the peer is abusive, not busy. */
#define CTRL_PER_SEC		200
/* Room kept for control frames above the data high watermark. */
#define CTRL_HEADROOM		(16 * 1024)

struct fy_mux {
	struct fy_buf out;
	struct fy_mux_cfg cfg;
	const struct fy_mux_cbs *cbs;
	void *ctx;
	struct fy_sess_table *tbl;
	struct fy_stream *streams;	/* list head */
	size_t nstreams;
	uint32_t next_id;		/* our next stream id */
	uint32_t peer_last_id;		/* highest id the peer opened */
	bool established;
	bool goaway_rx, goaway_tx;
	bool blocked_any;		/* some stream waits for output room */
	bool out_signalled;		/* on_output called since the last drain */
	uint64_t now_ms;		/* the owner's clock, as last passed in */
	uint64_t last_rx_ms, last_tx_ms;
	uint64_t ctrl_window_ms;
	uint32_t ctrl_count;
	uint32_t err_code;
	const char *err_why;
	char err_buf[96];
	struct fy_mux_stats stats;	/* read by the owner (metrics) */
};

struct fy_buf *fy_mux_out(struct fy_mux *m) { return &m->out; }

struct fy_mux *fy_mux_create(const struct fy_mux_cfg *cfg, const struct fy_mux_cbs *cbs,
			     void *ctx, struct fy_sess_table *tbl)
{
	struct fy_mux *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->cfg = *cfg;
	if (m->cfg.max_window < m->cfg.window)
		m->cfg.max_window = m->cfg.window;
	if (m->cfg.out_cap < 4 * (FY_DATA_CHUNK + FY_FRAME_HDR_LEN) + CTRL_HEADROOM)
		m->cfg.out_cap = 4 * (FY_DATA_CHUNK + FY_FRAME_HDR_LEN) + CTRL_HEADROOM;
	fy_buf_init(&m->out, m->cfg.out_cap);
	m->cbs = cbs;
	m->ctx = ctx;
	m->tbl = tbl;
	/* Relay-opened streams are even, agent-opened odd. */
	m->next_id = cfg->role == FY_MUX_RELAY ? 2 : 1;
	m->now_ms = m->last_rx_ms = m->last_tx_ms = m->ctrl_window_ms = cfg->now_ms;
	return m;
}

static void stream_unlink_free(struct fy_mux *m, struct fy_stream *s)
{
	/* What the window grew by was taken from the budget. */
	if (s->recv_window > s->recv_window0 && m->cfg.budget)
		fy_budget_give(m->cfg.budget, s->recv_window - s->recv_window0);
	fy_sess_remove(m->tbl, fy_sess_key(m->cfg.serial, s->id));
	if (s->prev)
		s->prev->next = s->next;
	else
		m->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	m->nstreams--;
	if (m->cfg.stream_pool)
		fy_pool_free(m->cfg.stream_pool, s);
	else
		free(s);
}

void fy_mux_destroy(struct fy_mux *m, const char *reason)
{
	if (!m)
		return;
	while (m->streams) {
		struct fy_stream *s = m->streams;

		if (m->cbs->on_reset)
			m->cbs->on_reset(m->ctx, s, FY_E_GONE, reason ? reason : "tunnel closed");
		stream_unlink_free(m, s);
	}
	fy_buf_fini(&m->out);
	free(m);
}

void fy_mux_set_established(struct fy_mux *m, uint32_t window, uint32_t keepalive_ms)
{
	m->established = true;
	if (window) {
		m->cfg.window = window;
		if (m->cfg.max_window < window)
			m->cfg.max_window = window;
	}
	if (keepalive_ms)
		m->cfg.keepalive_ms = keepalive_ms;
}

bool fy_mux_established(const struct fy_mux *m) { return m->established; }
bool fy_mux_goaway_received(const struct fy_mux *m) { return m->goaway_rx; }
const struct fy_mux_stats *fy_mux_stats(const struct fy_mux *m) { return &m->stats; }
struct fy_stream *fy_mux_first_stream(const struct fy_mux *m) { return m->streams; }

size_t fy_mux_stream_count(const struct fy_mux *m) { return m->nstreams; }

const char *fy_mux_error(const struct fy_mux *m, uint32_t *code)
{
	if (code)
		*code = m->err_code;
	return m->err_why ? m->err_why : "no error";
}

/* ---- output ---- */

static void out_queued(struct fy_mux *m)
{
	if (m->out_signalled || !m->cbs->on_output)
		return;
	m->out_signalled = true;
	m->cbs->on_output(m->ctx);
}

/* Data may use the buffer up to cap - headroom; control frames the rest. */
static size_t data_space(const struct fy_mux *m)
{
	size_t used = fy_buf_len(&m->out);
	size_t lim = m->cfg.out_cap - CTRL_HEADROOM;

	return used >= lim ? 0 : lim - used;
}

int fy_mux_send_ctrl(struct fy_mux *m, const uint8_t *frame, size_t n)
{
	if (fy_buf_append(&m->out, frame, n) < 0)
		return -ENOBUFS;
	m->last_tx_ms = m->now_ms;
	out_queued(m);
	return 0;
}

static void wake_blocked(struct fy_mux *m)
{
	struct fy_stream *s, *next;

	if (!m->blocked_any || !m->cbs->on_credit)
		return;
	m->blocked_any = false;
	for (s = m->streams; s; s = next) {
		next = s->next;	/* on_credit may close s */
		if (!(s->flags & FY_S_BLOCKED) || !s->send_credit)
			continue;
		s->flags &= ~FY_S_BLOCKED;
		m->cbs->on_credit(m->ctx, s);
		if (data_space(m) < FY_FRAME_HDR_LEN + 1) {
			m->blocked_any = true;	/* the rest wait for the next drain */
			break;
		}
	}
}

void fy_mux_out_drained(struct fy_mux *m, size_t n)
{
	fy_buf_consume(&m->out, n);
	if (!fy_buf_len(&m->out))
		m->out_signalled = false;
	/* Wake senders only once a useful amount of room is back. */
	if (m->blocked_any && data_space(m) >= (m->cfg.out_cap - CTRL_HEADROOM) / 2)
		wake_blocked(m);
}

/* ---- errors ---- */

static long fail(struct fy_mux *m, uint32_t code, const char *why)
{
	uint8_t f[FY_CTRL_FRAME_MAX];
	struct fy_reason r = { .code = code };

	m->err_code = code;
	m->err_why = why;
	snprintf(r.msg, sizeof(r.msg), "%s", why);
	/* Best effort: the tunnel is closing, the frame tells the peer why. */
	fy_mux_send_ctrl(m, f, fy_frame_reason(f, FY_T_ERROR, 0, &r));
	return -EPROTO;
}

static long failf(struct fy_mux *m, uint32_t code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static long failf(struct fy_mux *m, uint32_t code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->err_buf, sizeof(m->err_buf), fmt, ap);
	va_end(ap);
	return fail(m, code, m->err_buf);
}

/* Caps control frames a peer can make us process or answer. */
static bool ctrl_budget(struct fy_mux *m)
{
	if (m->now_ms - m->ctrl_window_ms >= 1000) {
		m->ctrl_window_ms = m->now_ms;
		m->ctrl_count = 0;
	}
	return ++m->ctrl_count <= CTRL_PER_SEC;
}

/* ---- streams ---- */

static struct fy_stream *stream_new(struct fy_mux *m, uint32_t id, void *app)
{
	struct fy_stream *s = m->cfg.stream_pool ? fy_pool_alloc(m->cfg.stream_pool) :
			      calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->id = id;
	s->send_credit = m->cfg.window;
	s->recv_avail = m->cfg.window;
	s->recv_window = s->recv_window0 = m->cfg.window;
	s->app = app;
	m->stats.streams_opened++;
	if (fy_sess_insert(m->tbl, fy_sess_key(m->cfg.serial, id), s) < 0) {
		if (m->cfg.stream_pool)
			fy_pool_free(m->cfg.stream_pool, s);
		else
			free(s);
		return NULL;
	}
	s->next = m->streams;
	if (m->streams)
		m->streams->prev = s;
	m->streams = s;
	m->nstreams++;
	return s;
}

static struct fy_stream *stream_get(struct fy_mux *m, uint32_t id)
{
	return fy_sess_lookup(m->tbl, fy_sess_key(m->cfg.serial, id));
}

/* A stream of ours, announced by the frame the caller encodes into f. */
static struct fy_stream *open_own(struct fy_mux *m, void *app, bool dgram, uint8_t *f,
				  size_t (*enc)(uint8_t *f, uint32_t id, const void *arg),
				  const void *arg)
{
	struct fy_stream *s;

	if (m->goaway_rx || m->goaway_tx || m->next_id > 0x7ffffffeu)
		return NULL;
	s = stream_new(m, m->next_id, app);
	if (!s)
		return NULL;
	if (dgram)
		s->flags |= FY_S_DGRAM;
	if (fy_mux_send_ctrl(m, f, enc(f, s->id, arg)) < 0) {
		stream_unlink_free(m, s);
		return NULL;
	}
	m->next_id += 2;
	return s;
}

static size_t enc_open(uint8_t *f, uint32_t id, const void *arg)
{
	return fy_frame_open(f, id, arg);
}

struct fy_stream *fy_mux_open(struct fy_mux *m, const struct fy_open *o, void *app)
{
	uint8_t f[FY_FRAME_HDR_LEN + 32];

	return open_own(m, app, o->udp, f, enc_open, o);
}

struct dial_arg {
	uint8_t type;
	const struct fy_dial *d;
};

static size_t enc_dial(uint8_t *f, uint32_t id, const void *arg)
{
	const struct dial_arg *a = arg;

	return fy_frame_dial(f, a->type, id, a->d);
}

struct fy_stream *fy_mux_open_dial(struct fy_mux *m, uint8_t type, const struct fy_dial *d,
				   void *app)
{
	uint8_t f[FY_DIAL_FRAME_MAX];
	struct dial_arg a = { type, d };

	return open_own(m, app, d->kind == FY_KIND_UDP, f, enc_dial, &a);
}

int fy_mux_send_dgram(struct fy_mux *m, struct fy_stream *s, const void *p, size_t n)
{
	uint8_t *dst;

	/* Whole or not at all: a datagram is never cut. */
	if (n > FY_DGRAM_MAX || n > s->send_credit || data_space(m) < FY_FRAME_HDR_LEN + n)
		return -ENOBUFS;
	dst = fy_buf_reserve(&m->out, FY_FRAME_HDR_LEN + n);
	if (!dst)
		return -ENOBUFS;
	fy_frame_put_hdr(dst, FY_T_DGRAM, 0, s->id, (uint32_t)n);
	memcpy(dst + FY_FRAME_HDR_LEN, p, n);
	fy_buf_commit(&m->out, FY_FRAME_HDR_LEN + n);
	s->send_credit -= (uint32_t)n;
	m->stats.bytes_out += n;
	m->last_tx_ms = m->now_ms;
	out_queued(m);
	return 0;
}

size_t fy_mux_send_room(struct fy_mux *m, struct fy_stream *s)
{
	size_t room = data_space(m);

	room = room > FY_FRAME_HDR_LEN ? room - FY_FRAME_HDR_LEN : 0;
	if (room > FY_DATA_CHUNK)
		room = FY_DATA_CHUNK;
	if (room > s->send_credit)
		room = s->send_credit;
	if (!room) {
		s->flags |= FY_S_BLOCKED;
		if (s->send_credit)
			m->blocked_any = true;
	}
	return room;
}

uint8_t *fy_mux_data_begin(struct fy_mux *m, struct fy_stream *s, size_t *room)
{
	uint8_t *p;

	*room = fy_mux_send_room(m, s);
	if (!*room)
		return NULL;
	p = fy_buf_reserve(&m->out, FY_FRAME_HDR_LEN + *room);
	if (!p) {
		*room = 0;
		return NULL;
	}
	return p + FY_FRAME_HDR_LEN;
}

void fy_mux_data_commit(struct fy_mux *m, struct fy_stream *s, size_t n, bool fin)
{
	uint8_t *p = m->out.data + m->out.tail;	/* where data_begin reserved */

	fy_frame_put_hdr(p, FY_T_DATA, fin ? FY_F_FIN : 0, s->id, (uint32_t)n);
	fy_buf_commit(&m->out, FY_FRAME_HDR_LEN + n);
	s->send_credit -= (uint32_t)n;
	m->stats.bytes_out += n;
	if (fin)
		s->flags |= FY_S_LOCAL_FIN;
	m->last_tx_ms = m->now_ms;
	out_queued(m);
}

size_t fy_mux_send(struct fy_mux *m, struct fy_stream *s, const void *p, size_t n, bool fin)
{
	size_t room, k;
	uint8_t *dst = fy_mux_data_begin(m, s, &room);

	if (!dst)
		return 0;
	k = n < room ? n : room;
	memcpy(dst, p, k);
	fy_mux_data_commit(m, s, k, fin && k == n);
	return k;
}

int fy_mux_send_fin(struct fy_mux *m, struct fy_stream *s)
{
	uint8_t f[FY_FRAME_HDR_LEN];

	fy_frame_put_hdr(f, FY_T_DATA, FY_F_FIN, s->id, 0);
	if (fy_mux_send_ctrl(m, f, sizeof(f)) < 0)
		return -ENOBUFS;
	s->flags |= FY_S_LOCAL_FIN;
	return 0;
}

/* How much a stream's window may grow now: doubling, up to the maximum,
 * and only what the budget gives. */
static uint32_t window_growth(struct fy_mux *m, struct fy_stream *s)
{
	uint32_t grow;

	if (!m->cfg.budget || s->recv_window >= m->cfg.max_window)
		return 0;
	grow = m->cfg.max_window - s->recv_window;
	if (grow > s->recv_window)
		grow = s->recv_window;
	return fy_budget_try(m->cfg.budget, grow) ? grow : 0;
}

void fy_mux_consumed(struct fy_mux *m, struct fy_stream *s, size_t n, bool caught_up)
{
	uint8_t f[FY_FRAME_HDR_LEN + 4];
	uint32_t grow;

	s->recv_unacked += (uint32_t)n;
	/* Batch credit: one WINDOW per half window keeps the frame rate low
	 * while the sender never stalls on a full window. */
	if (s->recv_unacked < s->recv_window / 2 || (s->flags & FY_S_REMOTE_FIN))
		return;
	/* Our reader took everything: the window is the bottleneck. */
	grow = caught_up ? window_growth(m, s) : 0;
	if (fy_mux_send_ctrl(m, f, fy_frame_window(f, s->id, s->recv_unacked + grow)) < 0) {
		if (grow)
			fy_budget_give(m->cfg.budget, grow);
		return;	/* retried on the next consumed() */
	}
	s->recv_window += grow;
	s->recv_avail += s->recv_unacked + grow;
	s->recv_unacked = 0;
}

void fy_mux_reset(struct fy_mux *m, struct fy_stream *s, uint32_t code, const char *msg)
{
	uint8_t f[FY_CTRL_FRAME_MAX];
	struct fy_reason r = { .code = code };

	snprintf(r.msg, sizeof(r.msg), "%s", msg ? msg : fy_code_str(code));
	fy_mux_send_ctrl(m, f, fy_frame_reason(f, FY_T_RESET, s->id, &r));
	stream_unlink_free(m, s);
}

void fy_mux_stream_close(struct fy_mux *m, struct fy_stream *s)
{
	stream_unlink_free(m, s);
}

void fy_mux_goaway(struct fy_mux *m, uint32_t code, const char *msg)
{
	uint8_t f[FY_CTRL_FRAME_MAX];
	struct fy_reason r = { .code = code };

	if (m->goaway_tx)
		return;
	m->goaway_tx = true;
	snprintf(r.msg, sizeof(r.msg), "%s", msg ? msg : fy_code_str(code));
	fy_mux_send_ctrl(m, f, fy_frame_reason(f, FY_T_GOAWAY, 0, &r));
}

int fy_mux_tick(struct fy_mux *m, uint64_t now)
{
	uint8_t f[FY_FRAME_HDR_LEN + 8];

	if (now > m->now_ms)
		m->now_ms = now;
	if (!m->cfg.keepalive_ms)
		return 0;
	/* A `now` read before the last frame arrived is not a wrap-around
	 * of unsigned time: silence starts counting from that frame. */
	if (now > m->last_rx_ms &&
	    now - m->last_rx_ms > (uint64_t)m->cfg.keepalive_ms * KEEPALIVE_MISSES)
		return -ETIMEDOUT;
	if (m->established && now > m->last_tx_ms && now - m->last_tx_ms >= m->cfg.keepalive_ms)
		fy_mux_send_ctrl(m, f, fy_frame_ping(f, 0, now));
	return 0;
}

/* ---- input ---- */

static bool peer_parity(const struct fy_mux *m, uint32_t id)
{
	/* The relay's peer (an agent) opens odd ids, the agent's peer even. */
	return (id & 1u) == (m->cfg.role == FY_MUX_RELAY ? 1u : 0u);
}

/* A frame for an id that is not open: in flight after a close (ignore),
 * or never opened (protocol error). */
static long unknown_stream(struct fy_mux *m, uint32_t id)
{
	bool seen = peer_parity(m, id) ? id <= m->peer_last_id : id < m->next_id;

	if (seen)
		return 0;
	return failf(m, FY_E_PROTOCOL, "frame for stream %u, which was never opened", id);
}

/* OPEN, CONNECT or DIAL: the peer opens a stream. */
static long on_open(struct fy_mux *m, const struct fy_frame_hdr *h, const uint8_t *p)
{
	struct fy_open o;
	struct fy_dial d;
	struct fy_stream *s;
	const char *why = NULL, *msg = NULL;
	uint32_t code;
	bool dgram;

	if (h->type == FY_T_OPEN) {
		if (fy_frame_get_open(p, h->len, &o, &why) < 0)
			return fail(m, FY_E_PROTOCOL, why);
		o.udp = h->flags & FY_F_UDP;
		o.named = h->flags & FY_F_NAME;
		if (o.udp && o.named)
			return fail(m, FY_E_PROTOCOL, "OPEN with both UDP and NAME flags");
		dgram = o.udp;
	} else {
		if (fy_frame_get_dial(p, h->len, &d, &why) < 0)
			return fail(m, FY_E_PROTOCOL, why);
		dgram = d.kind == FY_KIND_UDP;
	}
	if (!peer_parity(m, h->stream))
		return failf(m, FY_E_PROTOCOL, "OPEN with stream id %u of the wrong parity", h->stream);
	if (h->stream <= m->peer_last_id)
		return failf(m, FY_E_PROTOCOL, "OPEN reuses stream id %u (last %u)", h->stream, m->peer_last_id);
	m->peer_last_id = h->stream;
	s = stream_new(m, h->stream, NULL);
	if (!s) {
		uint8_t f[FY_CTRL_FRAME_MAX];
		struct fy_reason r = { .code = FY_E_LIMIT };

		snprintf(r.msg, sizeof(r.msg), "out of memory");
		fy_mux_send_ctrl(m, f, fy_frame_reason(f, FY_T_RESET, h->stream, &r));
		return 0;
	}
	if (dgram)
		s->flags |= FY_S_DGRAM;
	if (m->goaway_tx) {
		code = FY_E_SHUTDOWN;
		msg = "relay is shutting down";
	} else if (h->type != FY_T_OPEN) {
		if (m->cbs->on_dial) {
			code = m->cbs->on_dial(m->ctx, s, h->type, &d, &msg);
		} else {
			code = FY_E_UNSUPPORTED;
			msg = "streams between agents are not supported here";
		}
	} else if (!m->cbs->on_open) {
		code = FY_E_DENIED;
		msg = "opening streams from this side is not supported";
	} else {
		code = m->cbs->on_open(m->ctx, s, &o, &msg);
	}
	if (code != FY_E_OK) {
		/* A refused OPEN costs us a reply: that is what is capped. Accepted
		 * ones are bounded by the owner's stream limit instead. An agent
		 * does not cap the relay: the relay opens streams for public
		 * clients and other agents, and ending the tunnel would hand them
		 * a way to cut the agent off (a flood at --max-streams, or DIALs
		 * its --allow refuses). */
		if (m->cfg.role == FY_MUX_RELAY && !ctrl_budget(m)) {
			stream_unlink_free(m, s);	/* its owner never took it */
			return fail(m, FY_E_LIMIT, "too many refused OPENs per second");
		}
		fy_mux_reset(m, s, code, msg);
	}
	return 0;
}

static long on_data(struct fy_mux *m, const struct fy_frame_hdr *h, const uint8_t *p)
{
	struct fy_stream *s = stream_get(m, h->stream);

	if (!s)
		return unknown_stream(m, h->stream);
	if (s->flags & FY_S_REMOTE_FIN)
		return failf(m, FY_E_PROTOCOL, "DATA after FIN on stream %u", h->stream);
	if (s->flags & FY_S_DGRAM)
		return failf(m, FY_E_PROTOCOL, "DATA on UDP stream %u", h->stream);
	if (h->len > s->recv_avail)
		return failf(m, FY_E_FLOW, "stream %u sent %u bytes beyond its window",
			     h->stream, h->len - s->recv_avail);
	s->recv_avail -= h->len;
	m->stats.bytes_in += h->len;
	if (h->len && m->cbs->on_data) {
		m->cbs->on_data(m->ctx, s, p, h->len);
		/* The owner may have reset the stream while handing the bytes on. */
		s = stream_get(m, h->stream);
		if (!s)
			return 0;
	}
	/* FIN is delivered after the bytes. */
	if (h->flags & FY_F_FIN) {
		s->flags |= FY_S_REMOTE_FIN;
		if (m->cbs->on_fin)
			m->cbs->on_fin(m->ctx, s);
	}
	return 0;
}

static long on_dgram(struct fy_mux *m, const struct fy_frame_hdr *h, const uint8_t *p)
{
	struct fy_stream *s = stream_get(m, h->stream);

	if (!s)
		return unknown_stream(m, h->stream);
	if (!(s->flags & FY_S_DGRAM))
		return failf(m, FY_E_PROTOCOL, "DGRAM on TCP stream %u", h->stream);
	if (h->len > FY_DGRAM_MAX)
		return failf(m, FY_E_PROTOCOL, "DGRAM of %u bytes on stream %u", h->len, h->stream);
	if (h->len > s->recv_avail)
		return failf(m, FY_E_FLOW, "stream %u sent a datagram beyond its window", h->stream);
	s->recv_avail -= h->len;
	m->stats.bytes_in += h->len;
	if (m->cbs->on_dgram)
		m->cbs->on_dgram(m->ctx, s, p, h->len);
	else
		fy_mux_consumed(m, s, h->len, true);
	return 0;
}

static long on_window(struct fy_mux *m, const struct fy_frame_hdr *h, const uint8_t *p)
{
	struct fy_stream *s;
	uint32_t incr;
	const char *why;

	if (fy_frame_get_window(p, h->len, &incr, &why) < 0)
		return fail(m, FY_E_PROTOCOL, why);
	s = stream_get(m, h->stream);
	if (!s)
		return unknown_stream(m, h->stream);
	if ((uint64_t)s->send_credit + incr > FY_WINDOW_MAX)
		return failf(m, FY_E_FLOW, "WINDOW on stream %u overflows credit (+%u)", h->stream, incr);
	s->send_credit += incr;
	if (!(s->flags & FY_S_BLOCKED) || !m->cbs->on_credit)
		return 0;
	if (data_space(m) > FY_FRAME_HDR_LEN) {
		s->flags &= ~FY_S_BLOCKED;
		m->cbs->on_credit(m->ctx, s);
	} else {
		m->blocked_any = true;	/* the output drain wakes it */
	}
	return 0;
}

static long on_reset(struct fy_mux *m, const struct fy_frame_hdr *h, const uint8_t *p)
{
	struct fy_reason r;
	struct fy_stream *s;
	const char *why;

	if (fy_frame_get_reason(p, h->len, &r, &why) < 0)
		return fail(m, FY_E_PROTOCOL, why);
	/* No cap: a RESET is never answered, and each one ends a stream. */
	s = stream_get(m, h->stream);
	if (!s)
		return unknown_stream(m, h->stream);
	if (m->cbs->on_reset)
		m->cbs->on_reset(m->ctx, s, r.code, r.msg);
	stream_unlink_free(m, s);
	return 0;
}

static long on_ping(struct fy_mux *m, const struct fy_frame_hdr *h, const uint8_t *p)
{
	uint8_t f[FY_FRAME_HDR_LEN + 8];
	uint64_t opaque;
	const char *why;

	if (fy_frame_get_ping(p, h->len, &opaque, &why) < 0)
		return fail(m, FY_E_PROTOCOL, why);
	if (h->flags & FY_F_ACK)
		return 0;
	if (!ctrl_budget(m))
		return fail(m, FY_E_LIMIT, "too many PINGs per second");
	fy_mux_send_ctrl(m, f, fy_frame_ping(f, FY_F_ACK, opaque));
	return 0;
}

static long dispatch(struct fy_mux *m, const struct fy_frame_hdr *h, const uint8_t *p)
{
	const char *why = NULL;

	if (!m->established && h->type != FY_T_HELLO && h->type != FY_T_WELCOME &&
	    h->type != FY_T_ERROR)
		return failf(m, FY_E_PROTOCOL, "frame type 0x%02x before authentication",
			     h->type);
	switch (h->type) {
	case FY_T_OPEN:
	case FY_T_CONNECT:
	case FY_T_DIAL:
		return on_open(m, h, p);
	case FY_T_DGRAM:
		return on_dgram(m, h, p);
	case FY_T_DATA:
		return on_data(m, h, p);
	case FY_T_WINDOW:
		return on_window(m, h, p);
	case FY_T_RESET:
		return on_reset(m, h, p);
	case FY_T_PING:
		return on_ping(m, h, p);
	case FY_T_GOAWAY:
		m->goaway_rx = true;
		/* the owner decides what draining means */
		__attribute__((fallthrough));
	default:
		if (h->type == FY_T_REGISTER && !ctrl_budget(m))
			return fail(m, FY_E_LIMIT, "too many REGISTERs per second");
		if (!m->cbs->on_control || m->cbs->on_control(m->ctx, h, p, &why) == 0)
			return 0;
		/* An ERROR from the peer is not answered with another. */
		if (h->type == FY_T_ERROR) {
			m->err_code = FY_E_OK;	/* the owner's callback logged it */
			m->err_why = why ? why : "peer reported an error";
			return -ECONNABORTED;
		}
		return fail(m, FY_E_PROTOCOL, why ? why : "control frame refused");
	}
}

long fy_mux_input(struct fy_mux *m, const uint8_t *buf, size_t n, uint64_t now_ms)
{
	size_t off = 0;

	/* A clock never runs back: an older reading keeps the newer one. */
	if (now_ms > m->now_ms)
		m->now_ms = now_ms;

	while (off < n) {
		struct fy_frame_hdr h;
		const uint8_t *payload;
		const char *why;
		int r = fy_frame_peek(buf + off, n - off, &h, &payload, &why);
		long e;

		if (r == 0)
			break;
		if (r < 0)
			return fail(m, FY_E_PROTOCOL, why);
		m->last_rx_ms = m->now_ms;
		e = dispatch(m, &h, payload);
		if (e < 0)
			return e;
		off += (size_t)r;
	}
	return (long)off;
}
