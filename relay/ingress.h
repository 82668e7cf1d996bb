/* The HTTP/HTTPS/SNI ingress (ingress.c): clients reach agents' services
 * by name instead of by port. A connection on --http-listen is HTTP; one
 * on --https-listen or --sni-listen is TLS, whose ClientHello is read
 * first: a name claimed with -S passes through untouched (the agent's
 * target holds the key), anything else is terminated with the operator's
 * certificates and read as HTTP. Each HTTP request head is parsed
 * (hparse.h), routed by Host (NAME.DOMAIN) or path prefix, rewritten
 * (X-Forwarded-*, the prefix stripped) and sent down a stream to the
 * agent; bodies and responses flow through the pump as for -R ports.
 *
 * A kept-alive connection keeps its stream while its requests go to the
 * same name. A request for another name ends the request side of the
 * stream (FIN to the agent's target); when the target has finished its
 * response and closed, a new stream opens for the new name. Responses
 * are never parsed, so they cannot be cut at the wrong byte.
 *
 * Runs on the worker that accepted the connection, through backend.h
 * only: the same on kernel sockets and on DPDK. */
#ifndef FERRY_RELAY_INGRESS_H
#define FERRY_RELAY_INGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ferry/frame.h"
#include "relay-t.h"
#include "worker-t.h"

/* Whether port is one of the ingress listeners (no agent may claim it). */
static inline bool relay_ingress_port(const struct relay *r, uint16_t port)
{
	const struct relay_cfg *c = &r->cfg;

	return port && (port == c->http_port || port == c->https_port || port == c->sni_port);
}

/* Whether the relay serves names of kind (enum fy_name_kind). */
static inline bool relay_serves_kind(const struct relay *r, uint8_t kind)
{
	const struct relay_cfg *c = &r->cfg;

	if (kind == FY_NAME_TLS)
		return c->https_port || c->sni_port;
	return c->http_port || c->https_port;
}

/* Worker set-up and end: the ingress listeners of w (0 or -errno, with
 * the log saying which), and every ingress connection closed. */
int ingress_start(struct worker *w);
void ingress_stop(struct worker *w);
/* Drain: no new ingress connections; those open may finish. */
void ingress_stop_listening(struct worker *w);
/* A client accepted on an ingress port. Takes io. */
void ingress_accepted(struct worker *w, uint16_t port, void *io,
		      const struct sockaddr_storage *peer);
/* Deadlines (slow request heads, lingering closes). */
void ingress_tick(struct worker *w, uint64_t now);
/* Deferred work: streams that ended, input left in buffers. */
void ingress_read_more(struct worker *w);
/* Frees the connections closed this turn. */
void ingress_gc(struct worker *w);
size_t ingress_conn_size(void);

#endif
