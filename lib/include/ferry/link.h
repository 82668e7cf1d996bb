/* One tunnel link: TLS over a byte connection (fy_tlsconn, a BIO pair),
 * the plaintext not yet parsed, and the mux that parses it; a bounded read
 * and a flush that asks for writability when the connection is full.
 * The relay's tunnels, the agent's and the memif generator's are links;
 * each side keeps only its own handshake (HELLO / WELCOME) around it. The
 * transport beneath is whatever fy_conn_ops the owner passes (a kernel
 * socket, relay/net's TCP).
 *
 * Ownership: init creates the TLS state and fini frees it with the input
 * buffer. The mux is the owner's: it creates it when its handshake lets
 * frames flow, sets l->mux, and destroys it. The connection is borrowed.
 * fy_link_set_ws hands the link its WebSocket state, which fini frees. */
#ifndef FERRY_LINK_H
#define FERRY_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "ferry/buf.h"
#include "ferry/frame.h"
#include "ferry/mux.h"
#include "ferry/pump.h"
#include "ferry/tlsconn.h"
#include "ferry/ws.h"

/* Room for two whole frames and a TLS record: a frame is never split
 * against the end of the buffer. */
#define FY_LINK_IN_CAP (2 * (FY_FRAME_HDR_LEN + FY_FRAME_MAX_PAYLOAD) + 32768)
/* The mux's output buffer: what a tunnel may queue for its connection. */
#define FY_LINK_OUT_CAP (1024 * 1024)
/* Rounds of decrypt-and-parse per readiness event: other connections of
 * the loop get their turn. */
#define FY_LINK_READ_ROUNDS 16

struct fy_link {
	struct fy_tlsconn tls;
	struct fy_buf in;		/* plaintext, not yet parsed */
	struct fy_mux *mux;		/* the owner's; NULL before its handshake */
	bool want_write;		/* what the connection was last asked for */
	struct fy_ws *ws;		/* NULL: frames straight in TLS */
	struct fy_buf raw;		/* ws: plaintext not yet decoded */
	struct fy_buf wout;		/* ws: framed, not yet taken by TLS */
};

enum fy_link_read {
	FY_LINK_IDLE = 0,	/* all consumed */
	FY_LINK_MORE = 1,	/* input left after the bounded rounds: TLS will
				 * not signal it again, call fy_link_read soon */
	FY_LINK_EOF = -1,	/* the peer closed; what came before was parsed */
	FY_LINK_ERR = -2,	/* transport or TLS error: l->tls.why */
	FY_LINK_PROTO = -3,	/* the mux refused the input: fy_mux_error(), and
				 * its ERROR frame is queued */
};

int fy_link_init(struct fy_link *l, SSL_CTX *ctx, const struct fy_conn_ops *ops, void *io,
		 bool server);
/* A link over a TLS connection already established elsewhere (the
 * relay's HTTPS ingress, for an agent's WebSocket upgrade): *tls is moved
 * into the link, which frees it at fini. */
void fy_link_init_from(struct fy_link *l, const struct fy_tlsconn *tls);
void fy_link_fini(struct fy_link *l);

/* One step of the TLS handshake: 1 done, 0 in progress (the connection's
 * interest is set), -1 failed (l->tls.why). */
int fy_link_handshake(struct fy_link *l);
/* Decrypts what the connection has into l->in (no parsing), for the
 * frames a side reads before it has a mux (HELLO): 1 go on, 0 the peer
 * closed, -1 error (l->tls.why). */
int fy_link_fill(struct fy_link *l);
/* Parses l->in with the mux: 0, or FY_LINK_PROTO. */
int fy_link_input(struct fy_link *l, uint64_t now_ms);
/* Up to rounds of fill + parse; enum fy_link_read. */
int fy_link_read(struct fy_link *l, uint64_t now_ms, int rounds);
/* Encrypts the mux's output and writes it: 0 all written, 1 the
 * connection is full (writability asked for), -1 error (l->tls.why). */
int fy_link_flush(struct fy_link *l);
/* Writes what is queued (the mux's output, framed when ws) without
 * asking for writability: the best a closing link can do. 0, 1, -1 as
 * fy_link_flush. */
int fy_link_write_out(struct fy_link *l);
/* Sends p[0..n) (whole frames) before any mux exists, best effort: an
 * ERROR before closing. */
void fy_link_send_raw(struct fy_link *l, const void *p, size_t n);
/* From now on frames travel in WebSocket messages (takes ws). raw[0..n)
 * are bytes that followed the upgrade's head: decoded first. 0, or -1
 * (l->tls.why). */
int fy_link_set_ws(struct fy_link *l, struct fy_ws *ws, const uint8_t *raw, size_t n);
/* Asks the connection for readability always and writability if wr. */
void fy_link_want_write(struct fy_link *l, bool wr);
bool fy_link_has_input(const struct fy_link *l);

#endif
