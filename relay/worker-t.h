/* A relay worker: one thread (kernel backend) or lcore (DPDK), the owner
 * of everything on it; and the messages workers send each other. */
#ifndef FERRY_WORKER_T_H
#define FERRY_WORKER_T_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/socket.h>

#include <urcu/wfcqueue.h>

#include "ferry/log.h"
#include "ferry/pool.h"
#include "ferry/sess.h"

struct relay;
struct tunnel;
struct pubconn;
struct reg_port;
struct reg_session;
struct udp_flow;
struct ctl_req;
struct ctl_pending;
struct iconn;

/* How far an unauthenticated connection got: nothing valid yet, a
 * ClientHello taken (TLS under way), TLS done (HELLO awaited). Under a
 * flood, idle connections make room before ones that do the work. */
enum ua_tier { UA_SILENT, UA_TLS, UA_HELLO, UA_TIERS };

/* A message between workers. A MSG_TUNNEL is the tunnel's own (it moves
 * once); the others are allocated by the sender and freed by the receiver
 * (a client handed over because its worker holds no tunnel of its agent,
 * a listener for a new claim: rare, never per packet). */
enum msg_kind { MSG_TUNNEL, MSG_PUBLIC, MSG_LISTEN, MSG_JOIN, MSG_CTL, MSG_UNLISTEN };
struct msg {
	struct cds_wfcq_node node;
	enum msg_kind kind;
	struct tunnel *t;		/* MSG_TUNNEL: adopt this tunnel */
	void *io;			/* MSG_PUBLIC: accepted client */
	uint16_t port;
	struct sockaddr_storage peer;
	uint64_t sess_serial;
	struct reg_session *sess;	/* MSG_LISTEN, MSG_UNLISTEN: holds a reference */
	struct ctl_req *ctl;		/* MSG_CTL: the receiver's (ctl.c) */
};

/* What a worker publishes for the admin thread (/metrics), once a tick:
 * relaxed stores by the worker, relaxed loads by the reader. */
struct worker_pub {
	atomic_uint tunnels;		/* active tunnels */
	atomic_uint streams;		/* streams in its table */
	atomic_uint_fast64_t busy_us;	/* loop time spent working, total */
	atomic_uint_fast64_t loop_us;	/* loop time in all, total */
	atomic_uint busy_ppm;		/* busy share of the last second, parts per million */
};

/* A worker's own listener on a port claimed through another worker:
 * every worker listens (SO_REUSEPORT), so the kernel spreads clients and
 * most never need a hand-off. */
struct xlisten {
	uint16_t port;
	struct reg_session *sess;	/* holds a reference */
	void *lio;
	struct xlisten *next;
};

struct worker {
	struct relay *r;
	unsigned id;
	pthread_t thread;
	uint64_t now_ms;		/* the loop's clock, read once per turn */
	void *be_data;			/* the backend's own per-worker state */
	struct fy_sess_table streams;	/* (tunnel serial, stream id) -> stream */
	struct fy_sess_table tunnels;	/* session serial -> its tunnels here */
	struct fy_pool stream_pool;	/* every mux's streams on this worker */
	struct fy_pool pub_pool;	/* public connections */
	struct fy_sess_table joins;	/* join end key -> end (join.c) */
	struct fy_pool join_pool;
	struct fy_pool udp_pool;	/* UDP flows (pubudp.c) */
	struct udp_flow *udp_old;	/* UDP flows, least recently active first: */
	struct udp_flow *udp_new;	/* idle ones expire from the old end */
	struct tunnel *tunnel_list;
	struct reg_port *ports;		/* claims (and listeners) this worker owns */
	struct xlisten *xlisten;	/* extra listeners for others' claims */
	struct tunnel *dirty;
	struct tunnel *more_in;		/* tunnels to read again */
	struct tunnel *gc_tunnels;
	/* Unauthenticated connections by how far they got (enum ua_tier),
	 * oldest first in each: evictions take the lowest tier first. */
	struct tunnel *ua_head[UA_TIERS], *ua_tail[UA_TIERS];
	unsigned nunauth;
	unsigned fd_evictions;		/* this tick (tunnel.c) */
	struct fy_log_sum auth_log;	/* refused HELLOs, summarised */
	struct pubconn *gc_pub;
	/* The HTTP/HTTPS/SNI ingress (ingress.c): its listeners here, every
	 * connection (for deadlines and the end), those with deferred work,
	 * those closed this turn. */
	void *ingress_lio[3];
	struct fy_pool ic_pool;
	struct iconn *ic_all;
	struct iconn *ic_more;
	struct iconn *ic_gc;
	uint32_t next_tunnel_serial;
	uint64_t last_tick_ms;
	uint64_t drain_deadline_ms;
	bool drain_started;
	struct cds_wfcq_head inbox_head;
	struct cds_wfcq_tail inbox_tail;
	struct ctl_pending *ctl_pending;	/* FORWARDs awaiting the agent (ctl.c) */
	struct worker_pub pub;
	uint64_t pub_busy_us, pub_loop_us, pub_at_ms;	/* the last second's start */
} __attribute__((aligned(64)));

#endif
