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

struct rstream_ops {
	void (*data)(struct rstream *rs, const uint8_t *p, size_t n);
	void (*dgram)(struct rstream *rs, const uint8_t *p, size_t n);
	void (*fin)(struct rstream *rs);
	/* The stream is freed right after this returns. */
	void (*reset)(struct rstream *rs, uint32_t code, const char *msg);
	void (*credit)(struct rstream *rs);
};

struct rstream {
	const struct rstream_ops *ops;
};

/* A stream served by a pump (a public client, an ingress connection):
 * the owner embeds this and sets rs.ops = &rs_pump_ops, which hands the
 * stream's events to the pump. */
struct rs_pump {
	struct rstream rs;
	struct fy_pump pump;
};
extern const struct rstream_ops rs_pump_ops;	/* public.c */

#endif
