/* Streams between two agents (-L, -D, -W on one side, a dial on the
 * other): the relay joins agent A's stream (opened with CONNECT) to a
 * stream it opens to agent B (with DIAL), after the policy allowed it.
 *
 * The two ends may live on different workers (on DPDK an agent's tunnels
 * land where RSS puts them): each end belongs to its worker, and they
 * speak through messages (struct jmsg, over the inbox), or by a direct call
 * when they share a worker. Flow control is end to end: bytes from A are
 * acknowledged to A (its credit returned) only once they are queued on B's
 * stream, so a slow far side pushes back on the near side, and an end
 * never holds more than the window its sender was granted.
 *
 * Ownership: each end is its worker's (a pool and a table by join serial);
 * a message belongs to whoever holds it and is freed by its handler. */
#ifndef FERRY_RELAY_JOIN_H
#define FERRY_RELAY_JOIN_H

#include <stdint.h>

#include "ferry/frame.h"
#include "ferry/mux.h"
#include "tunnel-t.h"
#include "worker-t.h"

struct jmsg;

/* tunnel.c: agent A (tunnel t) opened stream s with CONNECT d. FY_E_OK,
 * or a code with *msg for the RESET. */
uint32_t join_connect(struct tunnel *t, struct fy_stream *s, const struct fy_dial *d,
		      const char **msg);
/* worker.c: a message for one of w's ends; discard: w is stopping. */
void join_handle(struct worker *w, struct msg *m, bool discard);
/* Ends w still holds (for drain and leak checks). */
size_t join_count(const struct worker *w);
/* For the worker's pool of ends. */
size_t join_end_size(void);

#endif
