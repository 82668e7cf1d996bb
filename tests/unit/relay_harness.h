/* A relay core with nothing under it but memory: an in-memory backend
 * (connections are two byte queues, listeners are flags, a UDP port is
 * a record of what the relay sent from it), a clock the
 * test advances by hand, and test agents speaking the real protocol over
 * TLS (fy_link + a mux) at the far ends. One thread runs every worker in
 * turn, as the loop of each would.
 *
 * Ownership: h_init creates the relay and its workers, h_fini frees them
 * with every connection and agent the harness made. */
#ifndef FERRY_TEST_RELAY_HARNESS_H
#define FERRY_TEST_RELAY_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "ferry/buf.h"
#include "ferry/link.h"
#include "ferry/mux.h"
#include "ferry/token.h"
#include "backend.h"
#include "relay-t.h"
#include "worker-t.h"

#define H_WORKERS 2
#define H_MAX_STREAMS 64
#define H_MAX_RESULTS 64
#define H_MAX_DGRAMS 256

/* One connection: the relay's end is the io the core sees; the test holds
 * the other end (a public client or a test agent's transport). */
struct mconn {
	struct fy_buf to_relay;		/* written by the far end */
	struct fy_buf to_far;		/* written by the relay */
	size_t far_window;		/* the relay may queue this much to_far */
	bool far_eof;			/* the far end shut its write side */
	bool relay_eof;			/* the relay shut its write side */
	bool closed, rst;		/* the relay closed it (rst: with a reset) */
	bool attached, want_rd, want_wr;
	relay_event_fn fn;
	void *owner;
	struct worker *w;		/* where it was accepted */
	struct sockaddr_storage peer;
	struct mconn *next;		/* the harness's list */
};

/* A stream as the test agent sees it. */
struct tstream {
	struct fy_stream *s;		/* NULL once the mux freed it */
	uint32_t id;
	struct fy_open open;
	struct fy_buf rx;		/* bytes from the client */
	bool fin;			/* the client's FIN arrived */
	uint32_t reset_code;		/* non-zero: reset, with reset_msg */
	char reset_msg[FY_REASON_MAX + 1];
	unsigned ndgrams;		/* datagrams from the relay (their bytes: rx) */
	size_t held;			/* their bytes whose credit the agent holds */
};

/* A test agent: one tunnel, TLS and a mux over an mconn. */
struct tagent {
	struct mconn *c;
	struct fy_link link;
	struct fy_sess_table streams;	/* set up with the mux, kept until the end */
	bool have_streams;
	struct fy_hello hello;
	bool tls_done, hello_sent;
	bool welcomed;
	struct fy_welcome welcome;
	uint32_t error_code;		/* an ERROR frame arrived (0: none) */
	char error_msg[FY_REASON_MAX + 1];
	bool goaway;
	unsigned nresults;
	struct fy_result results[H_MAX_RESULTS];
	unsigned nstreams;
	struct tstream ts[H_MAX_STREAMS];
	bool refuse_opens;		/* answer OPENs with RESET(REFUSED) */
	bool hold_credit;		/* keep datagrams' credit (h_agent_credit) */
	uint8_t first[64];		/* sent instead of the HELLO when set */
	size_t first_len;
	struct tagent *next;
};

/* A UDP port the core bound, as the backend's upcall needs it. */
struct mudp {
	struct worker *w;
	uint16_t port;
	void *owner;			/* pubudp's, for pubudp_input */
	struct mudp *next;
};

/* A datagram the relay sent from one of its UDP ports. */
struct h_dgram {
	uint16_t port;			/* the port it left from */
	struct sockaddr_storage to;
	size_t n;
	uint8_t data[256];		/* its first bytes */
};

struct harness {
	struct relay r;
	uint64_t now;
	bool woken[H_WORKERS];
	/* The listeners the core asked for: worker x port. */
	bool listening[H_WORKERS][65536];
	int listen_error;		/* next listen fails with this (-errno) */
	struct mudp *udp;		/* UDP ports bound now */
	int udp_listen_error;		/* next udp_listen fails with this */
	int udp_send_error;		/* every udp_send fails with this (0: none) */
	unsigned nsent;
	struct h_dgram sent[H_MAX_DGRAMS];	/* what left the UDP ports */
	bool stopped_accepting[H_WORKERS];
	struct mconn *conns;
	struct tagent *agents;
	SSL_CTX *client_tls;
	char dir[64];
};

extern struct harness H;

struct h_token {
	const char *token;
	struct fy_token_spec spec;
};

/* A relay with H_WORKERS workers, its certificate made in a temp dir, and
 * these tokens in its token file. cfg_fn may change the configuration
 * before the relay starts. */
void h_init(const struct h_token *tokens, unsigned ntokens, void (*cfg_fn)(struct relay_cfg *c));
void h_fini(void);
/* Runs every worker and every test agent until nothing moves. */
void h_run(void);
/* Advances the clock by ms and runs (timers fire). */
void h_advance(uint64_t ms);

/* A connection from addr:port to the agent port of worker w (fd_low: the
 * backend is short of descriptors). */
struct mconn *h_connect_agent_port(unsigned w, const char *addr, uint16_t port, bool fd_low);
/* The same, then a TLS ClientHello and nothing more (a stalled client). */
struct mconn *h_connect_client_hello(unsigned w, const char *addr, uint16_t port);
/* A test agent: connects (to worker w), TLS, HELLO with token, name,
 * tunnel index and session; h_run carries it as far as it goes. */
struct tagent *h_agent(unsigned w, const char *token, const char *name, uint32_t index,
		       uint64_t session);
/* The same with a HELLO of the caller's making; or, with first, these
 * bytes as the first frame instead of any HELLO. */
struct tagent *h_agent_hello(unsigned w, const struct fy_hello *h, const uint8_t *first,
			     size_t first_len);
/* REGISTER port on a's tunnel; the RESULT lands in a->results. */
void h_register(struct tagent *a, uint16_t port);
/* The agent's connection ends (EOF, or reset). */
void h_agent_gone(struct tagent *a, bool rst);

/* v3: REGISTER with the NAME flag: claim name (kind: enum fy_name_kind)
 * with the agent's id for it. */
void h_register_name(struct tagent *a, uint16_t id, uint8_t kind, const char *name);
/* The same for a UDP port (REGISTER with the UDP flag). */
void h_register_udp(struct tagent *a, uint16_t port);
/* From here on, a backend without UDP (as DPDK's): NULL UDP ops. */
void h_backend_without_udp(void);
/* The binding of UDP port (NULL: not bound); *n: how many there are. */
struct mudp *h_udp_port(uint16_t port, unsigned *n);
/* A datagram from addr:sport to UDP port, through the backend's upcall
 * on the worker that bound it (the port must be bound). */
void h_udp_in(uint16_t port, const char *addr, uint16_t sport, const void *p, size_t n);
/* The agent sends a datagram on UDP stream t: 0 or -ENOBUFS. */
int h_agent_dgram(struct tagent *a, struct tstream *t, const void *p, size_t n);
/* The agent returns the credit it held (hold_credit) on t. */
void h_agent_credit(struct tagent *a, struct tstream *t);
/* A sockaddr for addr:port. */
struct sockaddr_storage h_addr(const char *addr, uint16_t port);

/* A public client of port accepted on worker w (NULL: refused, nothing
 * listens there). */
struct mconn *h_client(unsigned w, uint16_t port, const char *addr, uint16_t cport);
void h_far_write(struct mconn *c, const void *p, size_t n);
void h_far_shut(struct mconn *c);
/* Takes what the relay wrote to the far end. */
size_t h_far_read(struct mconn *c, void *p, size_t n);

/* The agent's stream for the client of peer port cport (NULL if none). */
struct tstream *h_stream_for(struct tagent *a, uint16_t cport);
void h_agent_send(struct tagent *a, struct tstream *t, const void *p, size_t n, bool fin);
void h_agent_reset(struct tagent *a, struct tstream *t, uint32_t code, const char *why);

#endif
