/* A tunnel link (see link.h). */
#include <errno.h>
#include <stdio.h>

#include <openssl/err.h>

#include "ferry/link.h"

/* Decrypted bytes waiting for the WebSocket decoder: a few TLS records. */
#define LINK_RAW_CAP (64u * 1024u)

int fy_link_init(struct fy_link *l, SSL_CTX *ctx, const struct fy_conn_ops *ops, void *io,
		 bool server)
{
	l->mux = NULL;
	l->want_write = false;
	l->ws = NULL;
	fy_buf_init(&l->in, FY_LINK_IN_CAP);
	fy_buf_init(&l->raw, LINK_RAW_CAP);
	fy_buf_init(&l->wout, FY_WS_OUT_CAP);
	return fy_tlsconn_init(&l->tls, ctx, ops, io, server);
}

void fy_link_init_from(struct fy_link *l, const struct fy_tlsconn *tls)
{
	l->mux = NULL;
	l->want_write = false;
	l->ws = NULL;
	fy_buf_init(&l->in, FY_LINK_IN_CAP);
	fy_buf_init(&l->raw, LINK_RAW_CAP);
	fy_buf_init(&l->wout, FY_WS_OUT_CAP);
	l->tls = *tls;
}

void fy_link_fini(struct fy_link *l)
{
	fy_ws_destroy(l->ws);
	l->ws = NULL;
	fy_buf_fini(&l->in);
	fy_buf_fini(&l->raw);
	fy_buf_fini(&l->wout);
	fy_tlsconn_fini(&l->tls);
}

void fy_link_want_write(struct fy_link *l, bool wr)
{
	if (l->want_write == wr)
		return;
	l->want_write = wr;
	l->tls.ops->want(l->tls.io, true, wr);
}

int fy_link_handshake(struct fy_link *l)
{
	int k;

	if (fy_tlsconn_pull(&l->tls) < 0)
		return -1;
	k = fy_tlsconn_handshake(&l->tls);
	if (k == 0)
		fy_link_want_write(l, fy_tlsconn_pending_out(&l->tls));
	return k;
}

/* ---- WebSocket ---- */

/* Framed bytes -> TLS -> the connection: 0 all written, 1 full, -1. */
static int ws_write_wout(struct fy_link *l)
{
	while (fy_buf_len(&l->wout)) {
		long k = fy_tlsconn_write(&l->tls, fy_buf_peek(&l->wout), fy_buf_len(&l->wout));
		int r;

		if (k > 0) {
			fy_buf_consume(&l->wout, (size_t)k);
			continue;
		}
		if (k != -EAGAIN)
			return -1;
		r = fy_tlsconn_push(&l->tls);
		if (r != 0)
			return r;
	}
	return 0;
}

/* The mux's output in messages of at most FY_WS_SEND_MSG, framed as
 * TLS takes it: wslay copies a message when queued, so at most about
 * one message waits there and the rest stays in the mux (its flow
 * control sees a full tunnel). */
static int ws_flush(struct fy_link *l)
{
	bool shut = false;	/* a close is queued: no more messages */

	for (;;) {
		int r = ws_write_wout(l);

		if (r != 0)
			return r;
		if (l->mux && !shut) {
			struct fy_buf *out = fy_mux_out(l->mux);

			while (fy_buf_len(out) && fy_ws_queued(l->ws) < FY_WS_SEND_MSG) {
				size_t n = fy_buf_len(out) < FY_WS_SEND_MSG ? fy_buf_len(out) :
					   FY_WS_SEND_MSG;

				if (fy_ws_queue(l->ws, fy_buf_peek(out), n) < 0) {
					/* The close still goes out below. */
					shut = true;
					break;
				}
				/* May wake blocked streams, which queue more. */
				fy_mux_out_drained(l->mux, n);
			}
		}
		if (!fy_ws_want_write(l->ws))
			break;
		if (fy_ws_encode(l->ws, &l->wout) < 0) {
			snprintf(l->tls.why, sizeof(l->tls.why), "WebSocket: %s", fy_ws_why(l->ws));
			return -1;
		}
		if (!fy_buf_len(&l->wout))
			break;
	}
	if (shut) {
		snprintf(l->tls.why, sizeof(l->tls.why), "WebSocket: %s", fy_ws_why(l->ws));
		fy_tlsconn_push(&l->tls);
		return -1;
	}
	return fy_tlsconn_push(&l->tls);
}

/* raw -> the decoder -> in, as far as in has room. 0, or -1 when the
 * peer broke the protocol (our close frame goes out, best effort). */
static int ws_decode(struct fy_link *l)
{
	while (fy_buf_len(&l->raw)) {
		long k = fy_ws_decode(l->ws, fy_buf_peek(&l->raw), fy_buf_len(&l->raw), &l->in);

		if (k < 0) {
			ws_flush(l);	/* our close, whose code fy_ws_why reads */
			ERR_clear_error();
			snprintf(l->tls.why, sizeof(l->tls.why), "WebSocket: %s", fy_ws_why(l->ws));
			return -1;
		}
		fy_buf_consume(&l->raw, (size_t)k);
		if (k == 0)
			break;
	}
	/* A pong or a close to answer: ask for writability, whose event
	 * flushes. */
	if (fy_ws_want_write(l->ws))
		fy_link_want_write(l, true);
	return 0;
}

int fy_link_set_ws(struct fy_link *l, struct fy_ws *ws, const uint8_t *raw, size_t n)
{
	l->ws = ws;
	if (n && fy_buf_append(&l->raw, raw, n) < 0) {
		snprintf(l->tls.why, sizeof(l->tls.why), "WebSocket: too much input after the upgrade");
		return -1;
	}
	return ws_decode(l);
}

/* ---- both ---- */

int fy_link_fill(struct fy_link *l)
{
	uint16_t code;
	int r;

	if (!l->ws)
		return fy_tlsconn_fill(&l->tls, &l->in);
	r = fy_tlsconn_fill(&l->tls, &l->raw);
	if (ws_decode(l) < 0)
		return -1;
	if (r == 1 && fy_ws_peer_closed(l->ws, &code)) {
		snprintf(l->tls.why, sizeof(l->tls.why), "WebSocket closed by the peer (code %u)",
			 code);
		ws_flush(l);	/* our close answers */
		ERR_clear_error();
		return 0;
	}
	return r;
}

bool fy_link_has_input(const struct fy_link *l)
{
	return fy_tlsconn_has_input(&l->tls) || (l->ws && fy_buf_len(&l->raw));
}

int fy_link_input(struct fy_link *l, uint64_t now_ms)
{
	long k = fy_mux_input(l->mux, fy_buf_peek(&l->in), fy_buf_len(&l->in), now_ms);

	if (k < 0)
		return FY_LINK_PROTO;
	fy_buf_consume(&l->in, (size_t)k);
	return 0;
}

int fy_link_read(struct fy_link *l, uint64_t now_ms, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		int r = fy_link_fill(l);

		/* What arrived before a close or an error is parsed first. */
		if (fy_link_input(l, now_ms) < 0)
			return FY_LINK_PROTO;
		if (r < 0)
			return FY_LINK_ERR;
		if (r == 0)
			return FY_LINK_EOF;
		if (!fy_link_has_input(l))
			return FY_LINK_IDLE;
	}
	return FY_LINK_MORE;
}

int fy_link_write_out(struct fy_link *l)
{
	if (l->ws)
		return ws_flush(l);
	return fy_tlsconn_flush_mux(&l->tls, l->mux);
}

int fy_link_flush(struct fy_link *l)
{
	int r = fy_link_write_out(l);

	if (r >= 0)
		fy_link_want_write(l, r == 1);
	return r;
}

void fy_link_send_raw(struct fy_link *l, const void *p, size_t n)
{
	if (l->ws) {
		if (fy_ws_queue(l->ws, p, n) == 0)
			ws_flush(l);
	} else {
		fy_tlsconn_write(&l->tls, p, n);
		fy_tlsconn_push(&l->tls);
	}
	ERR_clear_error();
}
