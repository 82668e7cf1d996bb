/* What a relay stream serves: a public client (public.c) or one end of a
 * join between two agents (join.c). A stream's app points to the struct
 * rstream its owner embeds, and the tunnel's mux callbacks go through its
 * ops, so tunnel.c knows neither kind. */
#ifndef FERRY_RELAY_RSTREAM_H
#define FERRY_RELAY_RSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "ferry/pump.h"

struct rstream;

/* What a stream serves, for the admin API's stream listing. */
struct rstream_info {
	const char *kind;	/* "client", "http", "tls", "udp", "join" */
	uint16_t port;		/* the public port (client, udp) */
	char peer[64];		/* the client's address, or the joined agent */
	unsigned long long rx, tx;	/* bytes from / to the public side, where known */
};

struct rstream_ops {
	void (*data)(struct rstream *rs, const uint8_t *p, size_t n);
	void (*dgram)(struct rstream *rs, const uint8_t *p, size_t n);
	void (*fin)(struct rstream *rs);
	/* The stream is freed right after this returns. */
	void (*reset)(struct rstream *rs, uint32_t code, const char *msg);
	void (*credit)(struct rstream *rs);
	void (*info)(struct rstream *rs, struct rstream_info *out);
};

struct rstream {
	const struct rstream_ops *ops;
};

/* A stream served by a pump (a public client, an ingress connection):
 * the owner embeds this and sets rs.ops = &rs_pump_ops, which hands the
 * stream's events to the pump. kind, port and peer describe it to the
 * admin API (peer points into the owner). */
struct rs_pump {
	struct rstream rs;
	struct fy_pump pump;
	const char *kind;	/* "client", "http", "tls" */
	uint16_t port;
	const char *peer;
};
extern const struct rstream_ops rs_pump_ops;	/* public.c */

#endif
