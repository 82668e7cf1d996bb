/* fy-memif-load: a DPDK load generator for ferry-relay's DPDK data plane,
 * built on the relay's own TCP stack (relay/net). One process, one lcore,
 * busy polling on a memif port: it plays the agent (TLS tunnel, mux) and
 * K public clients at once, so no kernel is anywhere in the path.
 *
 * Files: fy_memif_load.c (options, EAL, port, loop), ml_agent.c (the
 * agent tunnel and its streams), ml_client.c (the public clients of the
 * bulk workloads), ml_echo.c (the clients of the echo workloads, churn and
 * rr, and the in-process echo server of --loop), ml_pattern.c (per-stream
 * byte patterns). */
#ifndef ML_H
#define ML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "ferry/buf.h"
#include "ferry/link.h"
#include "ferry/mux.h"
#include "ferry/sess.h"
#include "ferry/tlsconn.h"
#include "net.h"

#define ML_MAX_CONNS 256

/* up/down: bulk, one direction. churn and rr are echo workloads: the
 * agent side sends back every byte it received (checked, then drawn again
 * from the pattern). churn: each connection sends one request, half-closes,
 * reads the echo and ends; rr: each connection does round trips. */
enum ml_workload { ML_UP, ML_DOWN, ML_CHURN, ML_RR };

#define ML_REQ_MAX 4096	/* request size of the echo workloads */

static inline bool ml_echo_workload(enum ml_workload w)
{
	return w == ML_CHURN || w == ML_RR;
}

/* The deterministic bytes of one stream: a table of ML_PAT_LEN bytes drawn
 * from xorshift64 seeded by the stream index, repeated. The period is odd
 * so that a segment shifted by a multiple of a power of two never matches. */
#define ML_PAT_LEN 262139u

struct ml_pattern {
	const uint8_t *tab;	/* borrowed from the flow */
	size_t off;		/* position of the next byte, mod ML_PAT_LEN */
};

/* The table of stream `index` (malloc'd, the caller frees it), or NULL. */
uint8_t *ml_pattern_table(unsigned index);
/* Writes the next n bytes of the stream into dst. */
void ml_pattern_fill(struct ml_pattern *p, uint8_t *dst, size_t n);
/* Compares n received bytes with the next n of the stream; returns how
 * many differ (0: all good). */
uint64_t ml_pattern_check(struct ml_pattern *p, const uint8_t *src, size_t n);

/* What tcp_user() points at: the upcalls dispatch on kind. */
enum ml_kind { ML_K_AGENT, ML_K_CLIENT };

/* A relay/net connection behind fy_conn_ops (as relay/dpdk/backend.c
 * does): the handle goes NULL when the stack ends it. */
struct ml_io {
	enum ml_kind kind;
	struct tcp_conn *c;
	int reason;		/* why it ended: 0 clean, -errno */
	bool closed;		/* closed() or a failed connected() came */
};

extern const struct fy_conn_ops ml_io_ops;

/* One public client and the agent-side stream that carries it. */
struct ml_flow {
	struct ml_io io;	/* first: tcp_user() points here */
	unsigned index;
	uint16_t lport;		/* our source port: how the agent finds us */
	uint64_t bytes;		/* to move in this flow's direction */
	uint8_t *tab;		/* this flow's pattern table */
	struct ml_pattern c_pat;	/* client side: fills (up) or checks (down) */
	uint64_t c_sent, c_rcvd;	/* client side */
	bool c_connected, c_shut, c_eof;
	struct fy_stream *s;	/* agent side, NULL before OPEN and after close */
	struct ml_pattern a_pat;	/* agent side: checks (up) or fills (down) */
	uint64_t a_sent, a_rcvd;
	bool a_opened, a_fin_rx, a_fin_tx, a_done;
	/* echo workloads */
	bool active;		/* a connection of this slot is under way */
	struct ml_pattern c_in;	/* client: checks the echo */
	struct ml_pattern a_out;	/* agent: draws the echo */
	uint64_t t0;		/* TSC at connect (churn) or at the request (rr) */
	uint64_t rounds;	/* rr: round trips done on this connection */
	uint64_t mismatches;	/* bytes that differed from the pattern */
	bool failed, counted;	/* counted: in ml.flows_done */
	char why[160];
};

enum ml_agent_state { ML_A_CONNECT, ML_A_TLS, ML_A_WELCOME, ML_A_REGISTER, ML_A_UP,
		      ML_A_CLOSING, ML_A_DEAD };

struct ml_agent {
	struct ml_io io;	/* first: tcp_user() points here */
	enum ml_agent_state st;
	SSL_CTX *tls_ctx;
	struct fy_link link;	/* TLS, input, mux (after the handshake) */
	bool tls_init;
	struct fy_sess_table streams;
	char why[300];
};

struct ml {
	/* options */
	enum ml_workload workload;
	uint32_t relay_ip, my_ip;
	uint8_t prefix;
	char relay_ip_str[40];
	uint16_t agent_port, public_port;
	const char *token, *ca, *name;
	unsigned nconns;
	uint64_t total_bytes;
	uint64_t count;		/* churn: connections in all; rr: round trips per connection */
	unsigned req;		/* echo workloads: request bytes */
	bool loop;		/* echo workloads: an in-process echo server, no relay */
	unsigned mtu;		/* the port's IP MTU (the relay's --dpdk-mtu) */
	unsigned timeout_s;
	bool serve;		/* --serve: runs read from stdin, the port kept between them */
	bool verbose;

	struct net_stack *st;
	struct ml_agent agent;
	struct ml_flow flows[ML_MAX_CONNS];
	uint64_t flows_done;
	uint64_t target;	/* flows to finish: nconns, or count for churn */
	uint64_t started;	/* churn: connections started */
	uint64_t *lat;		/* echo workloads: one TSC interval per sample */
	uint64_t nlat, lat_cap;
	bool clients_started;
	uint64_t t_start_us, t_end_us;
	uint64_t cpu_start_ns, cpu_end_ns;	/* this thread's CPU time, same moments */
	bool fatal;
	char fatal_why[300];
};

/* Set when something went wrong that ends the run (exit 1). */
void ml_fail(struct ml *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ml_flow_fail(struct ml_flow *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
uint64_t ml_now_us(void);
/* CPU time of the calling thread (the lcore): what it cost, however much
 * the machine's other load stretched the wall clock. */
uint64_t ml_cpu_ns(void);

/* ml_agent.c */
int ml_agent_start(struct ml *m);
void ml_agent_event(struct ml *m, bool rd, bool wr);
void ml_agent_connected(struct ml *m, int err);
void ml_agent_step(struct ml *m);
void ml_agent_close(struct ml *m);
void ml_agent_fini(struct ml *m);

/* ml_client.c */
int ml_clients_start(struct ml *m);
void ml_client_event(struct ml *m, struct ml_flow *f, bool rd, bool wr);
void ml_client_connected(struct ml *m, struct ml_flow *f, int err);
void ml_client_closed(struct ml *m, struct ml_flow *f);
void ml_clients_step(struct ml *m);
/* ml_echo.c */
int ml_echo_start(struct ml *m);
void ml_echo_event(struct ml *m, struct ml_flow *f, bool rd, bool wr);
void ml_echo_connected(struct ml *m, struct ml_flow *f, int err);
void ml_echo_step(struct ml *m);
/* The agent side of an echo stream got n bytes: check them; the echo
 * itself is drawn in ml_echo_agent_send. */
void ml_echo_agent_data(struct ml *m, struct ml_flow *f, const uint8_t *p, size_t n);
void ml_echo_agent_send(struct ml *m, struct ml_flow *f);
/* --loop: the echo server's stack, fed by the frame queues of the loop. */
int ml_loop_init(struct ml *m, uint64_t now_us);
void ml_loop_fini(void);
/* Frames one stack sent, for the other: copied (as memif copies). */
int ml_loop_tx(bool to_server, const uint8_t *frame, size_t len);
/* Delivers the queued frames both ways; returns how many moved. */
unsigned ml_loop_poll(struct ml *m, uint64_t now_us);

/* A flow's both ends are over: counted once into m->flows_done. */
void ml_flow_check_done(struct ml *m, struct ml_flow *f);
struct ml_flow *ml_flow_by_port(struct ml *m, uint16_t lport);

#endif
