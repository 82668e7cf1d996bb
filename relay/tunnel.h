/* Agent tunnels on the relay (tunnel.c): TLS, HELLO, then the mux. A
 * tunnel lives on one worker. */
#ifndef FERRY_RELAY_TUNNEL_H
#define FERRY_RELAY_TUNNEL_H

#include <stdint.h>
#include <sys/socket.h>

#include "ferry/frame.h"
#include "ferry/mux.h"
#include "tunnel-t.h"
#include "worker-t.h"

/* A new connection on the agent port. Takes io. fd_low: the backend is
 * short of descriptors (the newcomer replaces the oldest unauthenticated
 * connection). */
void tunnel_accept(struct worker *w, void *io, const struct sockaddr_storage *peer,
		   bool fd_low);
/* Closes the oldest unauthenticated connection on w, for a newcomer the
 * backend could not accept for want of a descriptor: true if there was
 * one. */
bool tunnel_make_room(struct worker *w, const char *newcomer);
/* An agent's WebSocket upgrade on the HTTPS ingress (ingress.c): the
 * connection becomes an unauthenticated tunnel whose frames travel in
 * WebSocket messages. Takes io and *tls (moved); rest[0..n) are bytes
 * that followed the upgrade's head. */
void tunnel_accept_ws(struct worker *w, void *io, const struct sockaddr_storage *peer,
		      const struct fy_tlsconn *tls, const uint8_t *rest, size_t n);
/* An authenticated tunnel handed over by another worker (or this one). */
void tunnel_adopt(struct worker *w, struct tunnel *t);
void tunnel_close(struct tunnel *t, uint32_t code, const char *why);
void tunnel_free(struct tunnel *t);

/* A stream of a tunnel of session serial on w, for a public client (app is
 * its pump): the stream with *tp set, or NULL with *why. */
struct fy_stream *tunnel_open_stream(struct worker *w, uint64_t serial, const struct fy_open *o,
				     void *app, struct tunnel **tp, const char **why);

/* Per turn / tick of w. */
void tunnel_read_more(struct worker *w);
void tunnel_flush_dirty(struct worker *w);
void tunnel_tick(struct worker *w, uint64_t now);
/* Tunnels of sessions killed elsewhere close now. */
void tunnel_close_dead(struct worker *w);
/* Drain: GOAWAY on every active tunnel. */
void tunnel_goaway_all(struct worker *w, uint32_t code, const char *why);
/* Frees the tunnels closed this turn. */
void tunnel_gc(struct worker *w);

#endif
