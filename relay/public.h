/* Public client connections on the relay (public.c): each is carried as
 * one stream of a tunnel of the agent that claimed its port. */
#ifndef FERRY_RELAY_PUBLIC_H
#define FERRY_RELAY_PUBLIC_H

#include <stdint.h>
#include <sys/socket.h>

#include "public-t.h"
#include "worker-t.h"

/* A client connected to a claimed port on w. Takes io. */
void public_accepted(struct worker *w, uint16_t port, void *io,
		     const struct sockaddr_storage *peer);
/* Serve it here, on a tunnel of session serial. Takes io. */
void public_start(struct worker *w, void *io, uint16_t port,
		  const struct sockaddr_storage *peer, uint64_t serial);
/* The OPEN for a client from ss on port: its address as IPv4-mapped
 * IPv6 (TCP; a UDP flow sets o->udp after). */
void public_to_open(const struct sockaddr_storage *ss, uint16_t port, struct fy_open *o);
/* Frees the connections that ended this turn. */
void public_gc(struct worker *w);

#endif
