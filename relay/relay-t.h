/* Types of the relay as a whole: its configuration, its shared state,
 * its counters. Types only; the functions are in the module headers
 * (engine.h, tunnel.h, public.h, worker.h, inbox.h, backend.h).
 *
 * Threads: main (signals, start/stop) and N workers. Each worker owns its
 * tunnels, its public connections and its session tables; no other
 * thread touches them. Workers hand each other connections through their
 * inbox (inbox.h). The registry (registry.h) and the token set are the
 * only shared state: both read without locks under RCU. */
#ifndef FERRY_RELAY_T_H
#define FERRY_RELAY_T_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "ferry/budget.h"
#include "ferry/log.h"
#include "ferry/token.h"
#include "registry.h"

struct policy;
struct relay_backend;
struct src_table;
struct relay_backend_desc;
struct worker;

struct relay_cfg {
	char listen[160];	/* agents connect here */
	char public_bind[80];	/* address the -R ports bind to */
	char cert[256], key[256], tokens[256], client_ca[256];
	char policy[256];		/* agent-to-agent policy file, "" for none */
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
	uint32_t udp_idle_ms;	/* a UDP flow with no datagram either way ends */
	unsigned max_udp_flows;	/* UDP flows (sources) per claimed UDP port */
	const struct relay_backend_desc *backend;	/* from the table in backends.c */
	char dpdk_eal[512];	/* EAL arguments, space separated */
	char dpdk_ip[40];	/* A.B.C.D/P on the DPDK port */
	char dpdk_gw[20];
	uint32_t dpdk_port;
	uint32_t dpdk_mbufs;
	uint32_t dpdk_mtu;	/* the port's IP MTU; mbufs hold a whole frame */
	uint32_t dpdk_conns;	/* TCP connection slots per lcore */
	uint32_t dpdk_syn_backlog;	/* half-open per listener before SYN cookies */
	bool dpdk_syncookies_always;	/* every SYN gets a cookie (bench, attack) */
	bool dpdk_no_offload;	/* checksums in software even when the port has offloads */
	char admin_listen[160];	/* the admin API's ADDR:PORT, "" for none */
	char admin_socket[108];	/* ... and/or its unix socket */
	uint32_t admin_timeout_ms;	/* a request must arrive whole within this */
	enum fy_log_level log_level;
	/* The HTTP/HTTPS/SNI ingress (ingress.c). A port 0 listens nowhere.
	 * https and sni are the same kind of listener (TLS, routed by SNI);
	 * given the same address they are one. */
	char http_listen[160], https_listen[160], sni_listen[160];
	uint16_t http_port, https_port, sni_port;
	char http_bind[128], https_bind[128], sni_bind[128];	/* their ADDR */
	char domain[128];		/* NAME.domain routes by Host and SNI */
	char http_prefix[64];		/* /forward/NAME/... routes by path */
	char wss_path[128];		/* agents' WebSocket tunnels on HTTPS; "": none */
#define RELAY_MAX_CERTS 8
	char https_cert[RELAY_MAX_CERTS][256], https_key[RELAY_MAX_CERTS][256];
	unsigned nhttps_cert, nhttps_key;
	uint32_t http_header_ms;	/* a request head must arrive within this */
	uint32_t http_max_header;	/* bytes of one request head (431 beyond) */
};

/* Why a HELLO was refused (metrics label in admin/metrics.c). */
enum auth_fail {
	AUTH_FAIL_TOKEN,	/* no such token */
	AUTH_FAIL_ADMIN_TOKEN,	/* an admin token on the agent port */
	AUTH_FAIL_NAME,		/* the token may not act as that name */
	AUTH_FAIL_VERSION,	/* no common protocol version */
	AUTH_FAIL_PROTOCOL,	/* malformed or wrong frame before HELLO */
	AUTH_FAIL_N
};

/* Why a public client got no stream (metrics label). */
enum stream_refused {
	REFUSED_NO_AGENT,	/* no agent serves the port now */
	REFUSED_NO_TUNNEL,	/* the agent has no tunnel here, or it is draining */
	REFUSED_LIMIT,		/* stream limit of the tunnel, or out of memory */
	REFUSED_FD_RESERVE,	/* descriptors kept for agents */
	REFUSED_AGENT,		/* the agent refused (target down, not allowed, its limits) */
	REFUSED_N
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
	atomic_ulong join_opened;	/* agent-to-agent streams opened */
	atomic_ulong join_denied;	/* refused by reach= or the policy */
	atomic_ulong join_refused;	/* target not connected, too old, no tunnel */
	atomic_ulong dgram_dropped;	/* datagrams with no room on their stream */
	/* UDP ports (pubudp.c). Datagrams are dropped, never queued: each
	 * drop is counted under its reason. */
	atomic_ulong udp_flows_opened;	/* a new source got a stream */
	atomic_ulong udp_flows_idle;	/* ended after --udp-idle-ms of silence */
	atomic_ulong udp_dropped_cap;	/* a new source over --max-udp-flows-per-port */
	atomic_ulong udp_dropped_no_stream;	/* no tunnel here, or it opens no stream */
	atomic_ulong udp_dropped_no_credit;	/* to the agent: no credit or no room */
	atomic_ulong udp_dropped_send;	/* to the source: the socket refused it */
	atomic_ulong udp_dropped_refused;	/* from a source the agent just refused */
	atomic_ulong udp_dropped_oversize;	/* truncated, or larger than a DGRAM frame */
	/* For /metrics (admin/metrics.c), beside the above. */
	atomic_ulong tls_handshakes;	/* agent TLS handshakes completed */
	atomic_ulong tls_failed;	/* ... that failed */
	atomic_ulong auth_fail[AUTH_FAIL_N];	/* HELLOs refused, by reason */
	atomic_ulong streams_opened;	/* public clients given a stream */
	atomic_ulong stream_refused[REFUSED_N];	/* public clients refused, by reason */
	atomic_ulong forwards_opened;	/* FORWARD open answered ok by an agent */
	atomic_ulong forwards_refused;	/* ... refused by the relay or the agent */
	atomic_ulong forwards_closed;
	atomic_ulong kicks;		/* agents disconnected by the admin API */
	/* The ingress (ingress.c): requests and connections by outcome. */
	atomic_ulong http_requests;	/* request heads routed to an agent */
	atomic_ulong http_refused;	/* answered 400/404/408/431/502 by the relay */
	atomic_ulong sni_passed;	/* TLS connections passed through by SNI */
};

struct ctl;
struct adm_metrics;
struct adm_server;

struct ingress_tls;

struct relay {
	const struct relay_backend *be;
	struct relay_cfg cfg;
	SSL_CTX *tls;
	struct ingress_tls *itls;	/* the operator's certificates (NULL: none) */
	struct fy_tokens *tokens;	/* RCU: swapped whole by relay_reload_tokens */
	struct policy *policy;		/* RCU, the same; NULL without --policy */
	atomic_uint_fast64_t next_join;
	struct reg *reg;
	struct worker *workers;
	unsigned nworkers;
	atomic_uint unauth;		/* connections before HELLO, all workers */
	struct src_table *src;		/* per source address (srcaddr.h) */
	unsigned src_sweep;		/* worker 0's sweep position */
	struct fy_budget buf_budget;	/* window growth of every stream */
	unsigned nofile;		/* descriptor limit (after raising it) */
	struct relay_counters ctr;
	atomic_uint_fast64_t next_serial;
	atomic_bool draining;
	atomic_bool stop;
	atomic_uint running;		/* worker threads not yet finished */
	atomic_uint live_streams[REG_MAX_WORKERS];	/* while draining */
#define LIVE_UNKNOWN UINT_MAX
	struct ctl *ctl;		/* the admin API's side of FORWARD (ctl.h); NULL without one */
	struct adm_server *admin;	/* relay/admin/; NULL without --admin-listen/-socket */
	atomic_bool ready;		/* workers up and listening (/readyz) */
	/* The backend's own counters for /metrics (DPDK: the stack's and the
	 * port's); NULL when it has none. Called on the admin thread. */
	void (*be_metrics)(struct relay *r, struct adm_metrics *out);
};

#endif
