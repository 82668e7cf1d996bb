/* UDP ports on the relay (pubudp.c), the relay's side of
 * `-R udp:PORT:host:hostport`.
 *
 * Only the worker that took the claim binds the port, and every flow of
 * the port lives there. A flow is one source address: its datagrams go
 * to the agent as DGRAM frames on one UDP stream of a tunnel of the
 * claiming agent on that worker (opened with OPEN, flag UDP, naming the
 * source as a TCP client's OPEN does), and what the agent sends on that
 * stream goes back to that source from the port. Datagrams are dropped
 * when there is no room for them, never queued; every drop is counted
 * (relay_counters.udp_*). A flow ends when the agent resets it, when its
 * tunnel goes, when the port is released, or after --udp-idle-ms with no
 * datagram either way (RESET(TIMEOUT, "UDP flow idle")).
 *
 * Ownership: a port's state is its claim's (reg_port.lio), made by
 * pubudp_listen and freed by pubudp_unlisten, both on the claiming
 * worker; a flow is that worker's (its udp_pool) and lives as long as
 * its stream, or, after the agent refused it, as a short hold. */
#ifndef FERRY_RELAY_PUBUDP_H
#define FERRY_RELAY_PUBUDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "registry.h"
#include "worker-t.h"

/* A flow the agent refused (reset with a code other than OK, TIMEOUT or
 * GONE) is held this long: its source's datagrams are dropped instead
 * of costing an OPEN and a RESET each. */
#define PUBUDP_REFUSED_HOLD_MS 1000
/* Flows ended for idleness per worker and tick, at most: the rest wait
 * for the next tick, so a mass expiry never floods a tunnel with RESETs
 * or stalls the loop. */
#define PUBUDP_EXPIRE_PER_TICK 1024

/* Binds claim rp's UDP port through the backend, for worker w (the
 * claim's owner): 0 with rp->lio set, or -errno. */
int pubudp_listen(struct worker *w, struct reg_port *rp);
/* Ends every flow of rp's port (their streams are reset), closes the
 * socket and frees the port's state. */
void pubudp_unlisten(struct worker *w, struct reg_port *rp);
/* The backend's upcall: one datagram of n bytes from `from` on the port
 * whose owner (from pubudp_listen) is owner. Borrows p. */
void pubudp_input(struct worker *w, void *owner, const struct sockaddr_storage *from,
		  const uint8_t *p, size_t n);
/* Per tick of w: flows idle for --udp-idle-ms end. now: w's clock. */
void pubudp_tick(struct worker *w, uint64_t now);
/* Flows w holds (held refusals included). */
size_t pubudp_count(const struct worker *w);
/* For the worker's pool of flows. */
size_t pubudp_flow_size(void);

#endif
