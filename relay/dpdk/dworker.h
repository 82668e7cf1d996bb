/* The DPDK backend's per-lcore state, shared by backend.c (the lcore loop)
 * and stats.c (counters readable while running, through DPDK telemetry). */
#ifndef FERRY_DPDK_DWORKER_H
#define FERRY_DPDK_DWORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "../net/net.h"
#include "ferry/pool.h"
#include "steer.h"

#define DW_BURST 32

/* The backend's own counters, beside relay/net's (struct net_counters). */
#define DW_COUNTERS(X) \
	X(tx_dropped)		/* the port's TX queue was full: freed, TCP resends */ \
	X(tx_nombuf)		/* the pool was empty when a frame was sent */ \
	X(tx_zero_copy)		/* frames built in their mbuf (ops.tx_buf) */ \
	X(tx_copied)		/* frames copied into an mbuf (ARP queue, no mbuf) */ \
	X(tx_csum_offload)	/* frames whose checksums the port computes */ \
	X(rx_csum_hw_good)	/* frames the port found good (not recomputed) */ \
	X(rx_csum_hw_bad)	/* frames the port found bad (checked again, dropped) */ \
	X(rx_multiseg)		/* chained mbufs: dropped (frames fit one) */ \
	X(busy_cycles)		/* TSC cycles of loop turns that moved packets */ \
	X(idle_cycles)		/* TSC cycles of the other turns (sleeps excluded) */ \
	X(sleep_cpu_ns)		/* CPU time (ns) the idle sleeps themselves cost */ \
	X(polls)		/* loop turns */ \
	X(steered_flows)	/* new clients handed to an lcore with a tunnel of their agent */ \
	X(steered_out)		/* client segments handed to the lcore serving them */ \
	X(steered_in)		/* client segments handed over by other lcores */ \
	X(steer_cookie)		/* of steered_out: ACKs completing a SYN cookie */ \
	X(steer_table_full)	/* new clients kept here: the table was full */ \
	X(steer_ring_full)	/* segments dropped: that lcore's ring was full */ \
	X(steer_forget_lost)	/* "forget" messages dropped (entry left stale) */ \
	X(steer_entries)	/* flows steered away now (a level, not a count) */

struct dw_counters {
#define DW_COUNTER_FIELD(n) uint64_t n;
	DW_COUNTERS(DW_COUNTER_FIELD)
#undef DW_COUNTER_FIELD
};

/* What an lcore publishes for readers on other threads (telemetry): a
 * copy taken every DSTATS_PERIOD_US under a sequence count (odd while
 * the copy is being written; readers retry), so the lcore's own counters
 * stay plain increments and it never waits for a reader. */
struct dstats {
	atomic_uint seq;
	struct net_counters net;
	struct dw_counters dw;
	uint64_t conns;
};

#define DSTATS_PERIOD_US 100000

struct dworker {
	struct worker *w;
	struct net_stack *st;
	uint16_t port_id, queue;
	struct rte_mempool *pool;
	struct fy_pool dconns;	/* this lcore's connections (they never move) */
	struct rte_mbuf *tx[DW_BURST];
	unsigned ntx;
	/* The mbuf the stack is building its next frame in (ops.tx_buf). */
	struct rte_mbuf *spare;
	bool tx_csum;		/* the port computes IPv4/TCP checksums */
	bool rx_csum;		/* the port reports checksum status */
	atomic_bool wake;
	uint16_t agent_port;
	bool agent_listening;
	struct dw_counters cnt;
	uint64_t conns;		/* connections the engine holds (dconn) */
	uint64_t published_us;
	struct dstats pub;
	/* ARP replies that arrived on another queue: a NIC (and af_packet's
	 * fanout) hashes ARP onto one queue, but every lcore keeps its own
	 * ARP table. Copies of replies come here (multi-producer ring). */
	struct rte_ring *arp_in;
	struct dworker *all;
	unsigned nall;
	/* Steering (more than one lcore; see backend.c): the client flows
	 * that arrive here but are served by the lcore holding a tunnel of
	 * their agent. */
	bool steer_on;
	bool cookie_steer;		/* cookie_ack: this frame goes to cookie_key's owner */
	uint32_t ip;			/* the port's address, host order */
	uint8_t mac[6];
	struct steer_table steer;	/* flows steered away from here */
	uint32_t steer_gen;		/* the last tag handed out */
	struct rte_ring *steer_in;	/* mbufs from other lcores (MP/SC) */
	struct rte_ring *forget_in;	/* struct steer_msg from other lcores (MP/SC) */
	struct steer_msg *fpend;	/* forgets that found a ring full */
	unsigned nfpend;
	uint64_t cookie_key;
};

/* stats.c */
void dstats_publish(struct dworker *dw, uint64_t now_us);
/* Registers the /ferry/ telemetry commands over these workers; unregister
 * before they are freed (the telemetry thread may be reading). */
void dstats_register(struct dworker *dws, unsigned n, struct rte_mempool *pool);
void dstats_unregister(void);
/* For /metrics (relay.be_metrics): the same counters, summed. */
struct relay;
struct adm_metrics;
void dstats_metrics(struct relay *r, struct adm_metrics *m);
/* Logs every worker's non-zero counters, by name (at exit). */
void dstats_log(const struct dworker *dws, unsigned n);

#endif
