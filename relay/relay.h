/* The relay's internal types, shared by its files.
 *
 * Threads: main (signals, start/stop) and N workers. Each worker owns its
 * loop, its tunnels, its public connections and its session table; no
 * other thread touches them. Workers hand each other connections through
 * their inbox (a wait-free queue + the loop's wake eventfd). The registry
 * (registry.h) and the token set are the only shared state: the registry
 * lock-free under RCU, the token set read-only after start. */
#ifndef FERRY_RELAY_H
#define FERRY_RELAY_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <urcu/wfcqueue.h>

#include "ferry/budget.h"
#include "ferry/buf.h"
#include "ferry/link.h"
#include "ferry/log.h"
#include "ferry/loop.h"
#include "ferry/mux.h"
#include "ferry/pump.h"
#include "ferry/sess.h"
#include "ferry/sockconn.h"
#include "ferry/tlsconn.h"
#include "ferry/token.h"
#include "registry.h"

struct relay_cfg {
	char listen[160];	/* agents connect here */
	char public_bind[80];	/* address the -R ports bind to */
	char cert[256], key[256], tokens[256], client_ca[256];
	unsigned workers;
	uint32_t keepalive_ms;
	uint32_t handshake_ms;
	uint32_t window;		/* largest per-stream window */
	uint32_t initial_window;	/* what each stream starts with (WELCOME) */
	uint64_t max_buffer_mem;	/* growth of all windows together */
	uint64_t max_buffer_session;	/* one session's share of it */
	unsigned max_ports;		/* per agent, unless its token says */
	unsigned fd_reserve;		/* descriptors public clients cannot take */
	uint32_t drain_ms;
	unsigned max_unauth;
	unsigned max_unauth_per_ip;
	unsigned max_streams;	/* per tunnel */
	enum { BACKEND_KERNEL, BACKEND_DPDK } backend;
	char dpdk_eal[512];	/* EAL arguments, space separated */
	char dpdk_ip[40];	/* A.B.C.D/P on the DPDK port */
	char dpdk_gw[20];
	uint32_t dpdk_port;
	uint32_t dpdk_mbufs;
	uint32_t dpdk_conns;	/* TCP connection slots per lcore */
	uint32_t dpdk_syn_backlog;	/* half-open per listener before SYN cookies */
	bool dpdk_no_offload;	/* checksums in software even when the port has offloads */
	enum fy_log_level log_level;
};

/* Parses the command line (and --config FILE). -1: run the relay;
 * otherwise the exit code (0 after --help, 2 for bad usage). */
int relay_cfg_parse(struct relay_cfg *c, int argc, char **argv);

struct worker;
struct reg_port;

/* The connection interface between the engine and an I/O backend. The
 * engine sees a connection only as an opaque `io`: it moves bytes with
 * conn (recv/send/shutdown_wr/want, as the pump does), and asks the
 * backend to deliver readiness events, to stop them before a hand-off to
 * another worker, to close, and to listen on claimed ports. The kernel
 * backend implements it on sockets and epoll (kernel/backend.c). */
typedef void (*relay_event_fn)(void *owner, uint32_t ev);
struct relay_backend {
	const char *name;
	/* Whether a connection can move to another worker. Kernel sockets
	 * can; a userspace TCP connection lives on the core RSS gave it. */
	bool can_move;
	const struct fy_conn_ops *conn;
	int (*attach)(struct worker *w, void *io, relay_event_fn fn, void *owner);
	void (*detach)(struct worker *w, void *io);
	/* Closes and frees io; rst: the peer sees a reset, not an end. */
	void (*close)(struct worker *w, void *io, bool rst);
	/* Listen on a claimed port for worker w (accepts go to
	 * public_accepted); probe: fail if anyone else listens there.
	 * *lio is the backend's listener. 0 or -errno. */
	int (*listen)(struct worker *w, uint16_t port, bool probe, void **lio);
	void (*unlisten)(struct worker *w, void *lio);
	/* From any thread: call worker_wakeup(w) on w's thread soon. */
	void (*wake)(struct worker *w);
	/* Drain: close the agent listener of w. */
	void (*stop_accepting)(struct worker *w);
};

/* What the relay refused or shed to protect itself, for logs and metrics.
 * Relaxed atomics: counts, not synchronisation. */
struct relay_counters {
	atomic_ulong accept_emfile;	/* accept failed: out of descriptors */
	atomic_ulong fd_reserve;	/* clients refused to keep the reserve */
	atomic_ulong unauth_refused;	/* over the per-address cap */
	atomic_ulong unauth_evicted;	/* oldest evicted for a newcomer */
	atomic_ulong auth_failed;	/* HELLOs refused (token, name, ...) */
	atomic_ulong auth_tarpit;	/* connections refused: too many failures */
	atomic_ulong port_limit;	/* claims over an agent's port cap */
};

/* Authentication failures per source address (hashed buckets): after
 * AUTH_FAIL_BURST failures within AUTH_FAIL_WINDOW_MS, the address is
 * refused at accept for AUTH_TARPIT_MS. */
#define AUTH_FAIL_BUCKETS 4096
#define AUTH_FAIL_BURST 10
#define AUTH_FAIL_WINDOW_MS 60000
#define AUTH_TARPIT_MS 30000
struct auth_fail {
	atomic_uint count;
	atomic_uint_fast64_t window_start_ms;
	atomic_uint_fast64_t blocked_until_ms;
};

struct relay {
	const struct relay_backend *be;
	struct relay_cfg cfg;
	SSL_CTX *tls;
	struct fy_tokens *tokens;	/* RCU: swapped whole by relay_reload_tokens */
	struct reg *reg;
	struct worker *workers;
	unsigned nworkers;
	atomic_uint unauth;		/* connections before HELLO, all workers */
	atomic_ushort *unauth_ip;	/* per-address counts, hashed buckets */
	struct auth_fail *auth_fail;	/* AUTH_FAIL_BUCKETS */
	struct fy_budget buf_budget;	/* window growth of every stream */
	unsigned nofile;		/* descriptor limit (after raising it) */
	struct relay_counters ctr;
	atomic_uint_fast64_t next_serial;
	atomic_bool draining;
	atomic_bool stop;
	atomic_uint running;		/* worker threads not yet finished */
	atomic_uint live_streams[REG_MAX_WORKERS];	/* while draining */
#define LIVE_UNKNOWN UINT_MAX
};

#define UNAUTH_IP_BUCKETS 4096

enum tun_state { TUN_TLS, TUN_HELLO, TUN_AUTHED, TUN_ACTIVE, TUN_CLOSED };

/* An agent tunnel. Owned by the worker it lives on (moved once, right
 * after HELLO, to worker tunnel_index % workers). */
struct tunnel {
	struct worker *w;
	void *io;			/* backend connection */
	struct fy_link link;		/* TLS, input, mux (once active) */
	enum tun_state state;
	struct sockaddr_storage peer;
	char peer_str[64];
	char name[FY_NAME_MAX + 1];	/* agent name once authenticated */
	uint64_t accepted_ms;
	uint64_t deadline_ms;		/* handshake deadline */
	struct tunnel *ua_next, *ua_prev;	/* worker's unauthenticated, oldest first */
	unsigned ip_bucket;
	struct reg_session *sess;	/* reference held while set */
	uint32_t serial;		/* this worker's id for the tunnel */
	uint32_t index;
	struct fy_hello hello;
	bool redial;			/* closed with AGAIN: the session goes on */
	bool dirty;			/* output waiting; on the flush list */
	struct tunnel *next, *prev;	/* worker's list */
	struct tunnel *dirty_next;
	bool more_in;			/* decrypted input left over */
	struct tunnel *more_in_next;
	struct tunnel *gc_next;
};

/* A public client connection, carried as one stream of one tunnel. */
struct pubconn {
	struct fy_pump pump;
	struct worker *w;
	struct tunnel *t;
	void *io;			/* backend connection */
	uint16_t port;
	char peer_str[64];
	struct pubconn *gc_next;
};

/* A message between workers. */
enum msg_kind { MSG_TUNNEL, MSG_PUBLIC, MSG_LISTEN };
struct msg {
	struct cds_wfcq_node node;
	enum msg_kind kind;
	struct tunnel *t;		/* MSG_TUNNEL: adopt this tunnel */
	void *io;			/* MSG_PUBLIC: accepted client */
	uint16_t port;
	struct sockaddr_storage peer;
	uint64_t sess_serial;
	struct reg_session *sess;	/* MSG_LISTEN: holds a reference */
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
	struct fy_loop *loop;		/* kernel backend */
	void *be_data;			/* other backends' per-worker state */
	struct fy_sess_table streams;	/* (tunnel serial, stream id) -> stream */
	struct fy_sess_table tunnels;	/* session serial -> tunnel */
	struct tunnel *tunnel_list;
	struct reg_port *ports;		/* claims (and listeners) this worker owns */
	struct xlisten *xlisten;	/* extra listeners for others' claims */
	struct tunnel *dirty;
	struct tunnel *more_in;		/* tunnels to read again */
	struct tunnel *gc_tunnels;
	struct tunnel *ua_head, *ua_tail;	/* unauthenticated, oldest first */
	unsigned nunauth;
	struct fy_log_sum auth_log;	/* refused HELLOs, summarised */
	struct pubconn *gc_pub;
	uint32_t next_tunnel_serial;
	uint64_t last_tick_ms;
	uint64_t drain_deadline_ms;
	bool drain_started;
	struct cds_wfcq_head inbox_head;
	struct cds_wfcq_tail inbox_tail;
} __attribute__((aligned(64)));

/* engine.c: sessions, auth, ports */
/* reload.c: SIGHUP. 0, or -1 with the old tokens kept (logged). */
int relay_reload_tokens(struct relay *r);

int engine_auth(struct tunnel *t, const struct fy_hello *h, uint32_t *code,
		char *msg, size_t msglen);
void engine_session_put(struct relay *r, struct reg_session *s);
void engine_session_kill(struct relay *r, struct reg_session *s, const char *why);
int engine_register_port(struct tunnel *t, uint16_t port, char *msg, size_t msglen);
void engine_release_ports(struct worker *w, struct reg_session *s);
void engine_listen_extra(struct worker *w, uint16_t port, struct reg_session *s);
void engine_release_dead_extra(struct worker *w);
unsigned engine_pick_worker(struct relay *r, struct reg_session *s, unsigned self);

/* tunnel.c */
void tunnel_accept(struct worker *w, void *io, const struct sockaddr_storage *peer);
void tunnel_adopt(struct worker *w, struct tunnel *t);
void tunnel_close(struct tunnel *t, uint32_t code, const char *why);
void tunnel_mark_dirty(struct tunnel *t);
void tunnel_flush(struct tunnel *t);
void tunnel_read_more(struct worker *w);
void tunnel_tick(struct worker *w, uint64_t now);
void tunnel_free(struct tunnel *t);

/* public.c */
void public_accepted(struct worker *w, uint16_t port, void *io,
		     const struct sockaddr_storage *peer);
void public_start(struct worker *w, void *io, uint16_t port,
		  const struct sockaddr_storage *peer, uint64_t sess_serial);
void public_free(struct pubconn *pc);

/* worker.c: what every backend's worker loop calls */
#define WORKER_TICK_MS 100
void worker_send(struct worker *to, struct msg *m);
void worker_wakeup(struct worker *w);
/* After each round of I/O: timers, drain, flushes, frees. true: stop. */
bool worker_step(struct worker *w, uint64_t now);
void worker_finish(struct worker *w);

/* kernel/backend.c */
extern const struct relay_backend relay_kernel_backend;
int kernel_backend_run(struct relay *r);

/* dpdk/backend.c (when built with DPDK) */
int dpdk_backend_run(struct relay *r);

#endif
