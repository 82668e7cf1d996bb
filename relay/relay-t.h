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
	uint32_t dpdk_conns;	/* TCP connection slots per lcore */
	uint32_t dpdk_syn_backlog;	/* half-open per listener before SYN cookies */
	bool dpdk_syncookies_always;	/* every SYN gets a cookie (bench, attack) */
	bool dpdk_no_offload;	/* checksums in software even when the port has offloads */
	enum fy_log_level log_level;
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
};

struct relay {
	const struct relay_backend *be;
	struct relay_cfg cfg;
	SSL_CTX *tls;
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
};

#endif
