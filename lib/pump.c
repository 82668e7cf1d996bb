/* Pump between a byte connection and a mux stream. The invariants:
 * - we read from the connection only when the stream has credit and the
 *   tunnel has output room, so a slow tunnel pushes back on its clients;
 * - credit goes back to the peer only for bytes the connection accepted,
 *   so pending never exceeds one window;
 * - a clean end needs both FINs and an empty pending buffer; anything
 *   else ends with a reset on both sides. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ferry/pump.h"

#define READS_PER_EVENT 8	/* fairness between streams of a worker */

void fy_pump_init(struct fy_pump *p, const struct fy_conn_ops *ops, void *io,
		  struct fy_mux *m, struct fy_stream *s, size_t window,
		  bool connected, fy_pump_done_fn on_done)
{
	memset(p, 0, sizeof(*p));
	p->ops = ops;
	p->io = io;
	p->mux = m;
	p->s = s;
	p->on_done = on_done;
	p->connected = connected;
	fy_buf_init(&p->pending, window);
	s->app = p;
}

void fy_pump_fini(struct fy_pump *p)
{
	fy_buf_fini(&p->pending);
}

static void update_want(struct fy_pump *p)
{
	bool rd, wr;

	if (p->done)
		return;
	rd = p->connected && !p->rd_eof && !(p->s->flags & FY_S_BLOCKED);
	wr = !p->connected || fy_buf_len(&p->pending) > 0;
	p->ops->want(p->io, rd, wr);
}

static void finish(struct fy_pump *p, uint32_t code, const char *why)
{
	p->done = true;
	p->on_done(p, code, why);
}

/* Reset the stream towards the peer and end. */
static void fail(struct fy_pump *p, uint32_t code, const char *why)
{
	if (p->done)
		return;
	fy_mux_reset(p->mux, p->s, code, why);
	p->s = NULL;
	finish(p, code, why);
}

static void check_done(struct fy_pump *p)
{
	if (p->done || !p->rd_eof || !p->wr_shut || fy_buf_len(&p->pending))
		return;
	fy_mux_stream_close(p->mux, p->s);
	p->s = NULL;
	finish(p, 0, "closed");
}

static void shut_if_drained(struct fy_pump *p)
{
	if (!p->wr_shut && p->connected && (p->s->flags & FY_S_REMOTE_FIN) &&
	    !fy_buf_len(&p->pending)) {
		p->ops->shutdown_wr(p->io);
		p->wr_shut = true;
	}
}

void fy_pump_readable(struct fy_pump *p)
{
	for (int i = 0; i < READS_PER_EVENT && !p->done && !p->rd_eof && p->connected; i++) {
		size_t room;
		uint8_t *dst = fy_mux_data_begin(p->mux, p->s, &room);
		long n;

		if (!dst)
			break;	/* on_credit resumes us */
		n = p->ops->recv(p->io, dst, room);
		if (n > 0) {
			fy_mux_data_commit(p->mux, p->s, (size_t)n, false);
			p->rx += (unsigned long long)n;
			continue;
		}
		if (n == 0) {
			p->rd_eof = true;
			if (fy_mux_send_fin(p->mux, p->s) < 0) {
				fail(p, FY_E_LIMIT, "tunnel output full");
				return;
			}
			check_done(p);
			break;
		}
		if (n == -EAGAIN)
			break;
		fy_pump_conn_error(p, (int)n);
		return;
	}
	update_want(p);
}

void fy_pump_writable(struct fy_pump *p)
{
	size_t total = 0;

	if (p->done || !p->connected)
		return;
	while (fy_buf_len(&p->pending)) {
		long n = p->ops->send(p->io, fy_buf_peek(&p->pending), fy_buf_len(&p->pending));

		if (n == -EAGAIN || n == 0)
			break;
		if (n < 0) {
			fy_pump_conn_error(p, (int)n);
			return;
		}
		fy_buf_consume(&p->pending, (size_t)n);
		total += (size_t)n;
	}
	if (total) {
		p->tx += total;
		fy_mux_consumed(p->mux, p->s, total, fy_buf_len(&p->pending) == 0);
	}
	if (!fy_buf_len(&p->pending))
		fy_buf_shrink(&p->pending);	/* idle streams hold no buffer */
	shut_if_drained(p);
	check_done(p);
	update_want(p);
}

void fy_pump_connected(struct fy_pump *p, int err, const char *target)
{
	char why[160];

	if (p->done)
		return;
	if (err) {
		snprintf(why, sizeof(why), "connect %s: %s", target, strerror(-err));
		fail(p, FY_E_REFUSED, why);
		return;
	}
	p->connected = true;
	fy_pump_writable(p);
	if (!p->done)
		fy_pump_readable(p);
}

void fy_pump_conn_error(struct fy_pump *p, int err)
{
	char why[96];

	snprintf(why, sizeof(why), "connection error: %s", strerror(err < 0 ? -err : err));
	fail(p, FY_E_GONE, why);
}

void fy_pump_abort(struct fy_pump *p, uint32_t code, const char *why)
{
	fail(p, code, why);
}

void fy_pump_on_data(struct fy_pump *p, const uint8_t *d, size_t n)
{
	size_t sent = 0;

	if (p->done)
		return;
	if (p->connected && !fy_buf_len(&p->pending)) {
		/* Fast path: straight to the connection, no copy. */
		while (sent < n) {
			long k = p->ops->send(p->io, d + sent, n - sent);

			if (k == -EAGAIN || k == 0)
				break;
			if (k < 0) {
				fy_pump_conn_error(p, (int)k);
				return;
			}
			sent += (size_t)k;
		}
		if (sent) {
			p->tx += sent;
			fy_mux_consumed(p->mux, p->s, sent, sent == n);
		}
	}
	if (sent < n && fy_buf_append(&p->pending, d + sent, n - sent) < 0) {
		char why[96];

		/* The peer granted itself more than we buffer per stream (a
		 * window larger than our cap), or memory ran out: end this
		 * stream with the reason, never drop bytes silently. */
		snprintf(why, sizeof(why), "stream buffer limit reached (%zu bytes held, cap %zu)",
			 fy_buf_len(&p->pending), p->pending.cap);
		fail(p, FY_E_LIMIT, why);
		return;
	}
	update_want(p);
}

void fy_pump_on_fin(struct fy_pump *p)
{
	if (p->done)
		return;
	shut_if_drained(p);
	check_done(p);
	update_want(p);
}

void fy_pump_on_reset(struct fy_pump *p, uint32_t code, const char *msg)
{
	if (p->done)
		return;
	p->s = NULL;	/* the mux frees it after this callback */
	finish(p, code ? code : FY_E_GONE, msg);
}

void fy_pump_on_credit(struct fy_pump *p)
{
	if (!p->done)
		fy_pump_readable(p);
}
