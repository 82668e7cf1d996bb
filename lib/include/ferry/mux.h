/* Stream multiplexer for one tunnel: sans-I/O. Bytes that came out of TLS
 * go in through fy_mux_input; frames to send accumulate in the mux's
 * output buffer, which the owner drains into TLS and reports with
 * fy_mux_out_drained. Used by the relay (one mux per agent tunnel) and the
 * agent (one per tunnel it keeps).
 *
 * Ownership: the owner creates and destroys the mux. The mux owns its
 * streams (struct fy_stream): it allocates them on open, frees them on
 * reset, on fy_mux_stream_close and on destroy; the owner's pointer in
 * s->app is borrowed and never freed by the mux. Streams are indexed in a
 * session table that the owner passes in and that may be shared by all the
 * tunnels of one worker (keys carry the tunnel's serial).
 *
 * Time is an input: the owner passes its loop's clock (milliseconds) to
 * fy_mux_create, fy_mux_input and fy_mux_tick; the mux reads no clock.
 *
 * Receive windows grow: every stream starts with cfg.window of credit
 * each way (the WELCOME's window); a stream whose local end keeps up
 * (fy_mux_consumed with caught_up) has its window doubled, up to
 * cfg.max_window, each growth taken from cfg.budget first. A stream whose
 * reader is slow keeps the window it has, so it never holds more than
 * that; the budget bounds what all fast streams may hold together. */
#ifndef FERRY_MUX_H
#define FERRY_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/budget.h"
#include "ferry/buf.h"
#include "ferry/frame.h"
#include "ferry/pool.h"
#include "ferry/sess.h"

enum fy_mux_role { FY_MUX_RELAY = 0, FY_MUX_AGENT = 1 };

enum {
	FY_S_LOCAL_FIN = 1u,	/* we sent FIN */
	FY_S_REMOTE_FIN = 2u,	/* peer sent FIN */
	FY_S_BLOCKED = 4u,	/* a send found no room: call on_credit later */
	FY_S_DGRAM = 8u,	/* a UDP stream: DGRAM frames, no DATA */
};

struct fy_stream {
	uint32_t id;
	uint32_t flags;		/* FY_S_* */
	uint32_t send_credit;	/* bytes we may still send */
	uint32_t recv_avail;	/* bytes the peer may still send us */
	uint32_t recv_unacked;	/* handed on, not yet returned with WINDOW */
	uint32_t recv_window;	/* credit this stream may have outstanding */
	uint32_t recv_window0;	/* what it started with (the rest is budget) */
	void *app;		/* owner's object; borrowed */
	struct fy_stream *prev, *next;	/* the mux's list */
};

struct fy_mux;

/* What went through one mux, for the owner's metrics: payload bytes of
 * DATA and DGRAM frames each way, and streams opened by either side. */
struct fy_mux_stats {
	uint64_t bytes_in, bytes_out;
	uint64_t streams_opened;
};

struct fy_mux_cbs {
	/* The peer opened a stream. Return 0 to accept (set s->app), or a
	 * fy_code to refuse: the mux then sends RESET with msg (may be NULL).
	 * NULL callback: every OPEN is refused with DENIED. */
	uint32_t (*on_open)(void *ctx, struct fy_stream *s, const struct fy_open *o,
			    const char **msg);
	/* The peer opened a stream with CONNECT (on the relay) or DIAL (on an
	 * agent), type saying which: as on_open. NULL: refused, UNSUPPORTED. */
	uint32_t (*on_dial)(void *ctx, struct fy_stream *s, uint8_t type, const struct fy_dial *d,
			    const char **msg);
	/* One datagram on a UDP stream (within the window): the owner returns
	 * its credit with fy_mux_consumed once it has sent it on (or dropped
	 * it). NULL: dropped at once. */
	void (*on_dgram)(void *ctx, struct fy_stream *s, const uint8_t *p, size_t n);
	/* DATA bytes (within the window). The owner takes all of them and later
	 * calls fy_mux_consumed as it hands them on. */
	void (*on_data)(void *ctx, struct fy_stream *s, const uint8_t *p, size_t n);
	/* Peer's FIN, after any data. */
	void (*on_fin)(void *ctx, struct fy_stream *s);
	/* Stream aborted (peer RESET, or tunnel going away: FY_E_GONE). The
	 * stream is freed right after this returns. */
	void (*on_reset)(void *ctx, struct fy_stream *s, uint32_t code, const char *msg);
	/* A stream that found no room to send may send again. */
	void (*on_credit)(void *ctx, struct fy_stream *s);
	/* Stream-0 frames the mux does not handle itself: HELLO, WELCOME,
	 * REGISTER, RESULT, GOAWAY, ERROR. Return 0, or <0 with *why set to
	 * end the tunnel as a protocol error. */
	int (*on_control)(void *ctx, const struct fy_frame_hdr *h, const uint8_t *p,
			  const char **why);
	/* Frames were queued while none were waiting: the owner should write
	 * the output out (at the end of its loop turn, say). Not called again
	 * until the output has been drained empty. May be NULL. */
	void (*on_output)(void *ctx);
};

struct fy_mux_cfg {
	enum fy_mux_role role;
	uint32_t window;	/* initial per-stream window */
	uint32_t max_window;	/* a receive window grows up to this (0: window) */
	struct fy_budget *budget;	/* growth beyond window is taken here;
					 * NULL: windows never grow */
	uint64_t now_ms;	/* the owner's clock at creation */
	struct fy_pool *stream_pool;	/* streams come from here (the owner's
					 * thread's pool); NULL: malloc */
	uint32_t keepalive_ms;	/* ping interval; dead after 3 silent intervals */
	size_t out_cap;		/* output buffer cap (bytes) */
	uint32_t serial;	/* tunnel serial, unique within the session table */
};

struct fy_mux *fy_mux_create(const struct fy_mux_cfg *cfg, const struct fy_mux_cbs *cbs,
			     void *ctx, struct fy_sess_table *tbl);
/* Frees every stream, calling on_reset(GONE, reason) for each first. */
void fy_mux_destroy(struct fy_mux *m, const char *reason);

/* Until established, only HELLO, WELCOME and ERROR are accepted from the
 * peer; anything else is "frame before authentication". window (initial
 * per-stream window) and keepalive_ms: 0 keeps the configured value. */
void fy_mux_set_established(struct fy_mux *m, uint32_t window, uint32_t keepalive_ms);
bool fy_mux_established(const struct fy_mux *m);

/* Parses and dispatches complete frames. Returns bytes consumed (>= 0), or
 * <0 when the tunnel must end: then fy_mux_error() says why and the code to
 * send (the mux has already queued the ERROR frame). */
long fy_mux_input(struct fy_mux *m, const uint8_t *p, size_t n, uint64_t now_ms);
const char *fy_mux_error(const struct fy_mux *m, uint32_t *code);

/* Output: frames waiting to be written into TLS. */
struct fy_buf *fy_mux_out(struct fy_mux *m);
/* The owner removed n bytes from the output buffer's head. */
void fy_mux_out_drained(struct fy_mux *m, size_t n);

/* ---- streams ---- */
/* Opens a stream towards the peer. NULL when out of ids or memory, or
 * after GOAWAY. o->udp opens a UDP flow (datagrams). */
struct fy_stream *fy_mux_open(struct fy_mux *m, const struct fy_open *o, void *app);
/* The same with CONNECT or DIAL (type) naming another agent's target. */
struct fy_stream *fy_mux_open_dial(struct fy_mux *m, uint8_t type, const struct fy_dial *d,
				   void *app);
/* One datagram on a UDP stream: 0, or -ENOBUFS when the stream has no
 * credit or the tunnel no room for it: datagrams are dropped, never
 * queued (the caller counts it). */
int fy_mux_send_dgram(struct fy_mux *m, struct fy_stream *s, const void *p, size_t n);
/* Room for DATA now: min(credit, chunk, output space). 0 sets FY_S_BLOCKED
 * and on_credit follows when room appears. */
size_t fy_mux_send_room(struct fy_mux *m, struct fy_stream *s);
/* Zero-copy send: returns where up to room payload bytes may be written;
 * commit then frames them (fin: also end our direction). */
uint8_t *fy_mux_data_begin(struct fy_mux *m, struct fy_stream *s, size_t *room);
void fy_mux_data_commit(struct fy_mux *m, struct fy_stream *s, size_t n, bool fin);
/* Copying send (control-path use and tests). Returns bytes taken. */
size_t fy_mux_send(struct fy_mux *m, struct fy_stream *s, const void *p, size_t n, bool fin);
/* Ends our direction (empty DATA+FIN). 0, or -ENOBUFS if no room yet. */
int fy_mux_send_fin(struct fy_mux *m, struct fy_stream *s);
/* The owner handed on n received bytes: returns credit in batches.
 * caught_up: nothing received is left waiting at the owner (its reader
 * keeps up), so the window is what limits the stream: it may grow. */
void fy_mux_consumed(struct fy_mux *m, struct fy_stream *s, size_t n, bool caught_up);
/* Sends RESET and frees the stream (no on_reset callback). */
void fy_mux_reset(struct fy_mux *m, struct fy_stream *s, uint32_t code, const char *msg);
/* Frees a finished stream (both FINs done). No frame is sent. */
void fy_mux_stream_close(struct fy_mux *m, struct fy_stream *s);
size_t fy_mux_stream_count(const struct fy_mux *m);
/* The mux's streams, for listing: the first, then s->next. */
struct fy_stream *fy_mux_first_stream(const struct fy_mux *m);
const struct fy_mux_stats *fy_mux_stats(const struct fy_mux *m);

/* ---- control ---- */
/* Queue a control frame already encoded (fy_frame_*). 0 or -ENOBUFS. */
int fy_mux_send_ctrl(struct fy_mux *m, const uint8_t *frame, size_t n);
void fy_mux_goaway(struct fy_mux *m, uint32_t code, const char *msg);
bool fy_mux_goaway_received(const struct fy_mux *m);
/* Timers: sends PING when idle, and returns -ETIMEDOUT when the peer has
 * been silent for 3 keepalive intervals. now_ms: the owner's clock. */
int fy_mux_tick(struct fy_mux *m, uint64_t now_ms);

#endif
