/* Pump: moves one stream's bytes between a byte connection (a public
 * client on the relay, a target service on the agent) and a mux stream,
 * in both directions, with flow control and half-close. Sans-I/O: the
 * connection is reached only through fy_conn_ops, so the same pump serves
 * kernel sockets and the userspace TCP of other backends.
 *
 * Ownership: the owner allocates the pump (usually embedded in its
 * connection object), sets s->app = pump, and frees both after on_done.
 * The pump owns its pending buffer (peer bytes not yet written). */
#ifndef FERRY_PUMP_H
#define FERRY_PUMP_H

#include <stdbool.h>
#include <stddef.h>

#include "ferry/buf.h"
#include "ferry/mux.h"

struct fy_conn_ops {
	/* >0 bytes, 0 end of stream, -EAGAIN nothing now, other -errno. */
	long (*recv)(void *io, void *buf, size_t n);
	/* >=0 bytes taken, -EAGAIN full, other -errno. */
	long (*send)(void *io, const void *buf, size_t n);
	void (*shutdown_wr)(void *io);
	/* Which readiness the pump wants to hear about next. */
	void (*want)(void *io, bool rd, bool wr);
	/* Optional: bytes recv would return now. Needed by TLS reading
	 * straight from the connection (fy_tlsconn_direct_read), which must
	 * tell input left unread from none. */
	size_t (*readable)(void *io);
};

struct fy_pump;
/* The stream is over. code 0: both directions ended cleanly (close with
 * FIN). Otherwise a fy_code: close the connection with RST. The pump's
 * stream is already released. The pump still reads its own flags after
 * on_done returns, so the owner frees it later (at the end of its loop
 * iteration), never inside on_done. */
typedef void (*fy_pump_done_fn)(struct fy_pump *p, uint32_t code, const char *why);

struct fy_pump {
	const struct fy_conn_ops *ops;
	void *io;
	struct fy_mux *mux;
	struct fy_stream *s;
	struct fy_buf pending;	/* from the peer, waiting for the connection */
	fy_pump_done_fn on_done;
	bool connected;		/* false while an outgoing connect is pending */
	bool rd_eof;		/* connection said EOF; FIN queued */
	bool wr_shut;		/* shutdown(SHUT_WR) done after peer's FIN */
	bool done;
	unsigned long long rx, tx;	/* bytes conn->stream, stream->conn */
};

/* window caps pending: the largest receive window the stream may be
 * granted. A peer that sends more than that ends the stream with LIMIT. */
void fy_pump_init(struct fy_pump *p, const struct fy_conn_ops *ops, void *io,
		  struct fy_mux *m, struct fy_stream *s, size_t window,
		  bool connected, fy_pump_done_fn on_done);
void fy_pump_fini(struct fy_pump *p);

/* Readiness of the connection. */
void fy_pump_readable(struct fy_pump *p);
void fy_pump_writable(struct fy_pump *p);
/* An outgoing connect finished: err 0 or -errno. */
void fy_pump_connected(struct fy_pump *p, int err, const char *target);
/* The connection failed (error or reset seen by the owner's loop). */
void fy_pump_conn_error(struct fy_pump *p, int err);
/* Abort from the owner (shutdown deadline, limits): RESET + on_done. */
void fy_pump_abort(struct fy_pump *p, uint32_t code, const char *why);

/* Mux events for p->s, forwarded by the tunnel's callbacks. */
void fy_pump_on_data(struct fy_pump *p, const uint8_t *d, size_t n);
void fy_pump_on_fin(struct fy_pump *p);
void fy_pump_on_reset(struct fy_pump *p, uint32_t code, const char *msg);
void fy_pump_on_credit(struct fy_pump *p);

#endif
