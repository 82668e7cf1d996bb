/* ferry-agent internals. One thread, one event loop (epoll or io_uring).
 * The agent owns everything here; nothing is shared. */
#ifndef FERRY_AGENT_H
#define FERRY_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "ferry/buf.h"
#include "ferry/link.h"
#include "ferry/log.h"
#include "ferry/loop.h"
#include "ferry/mux.h"
#include "ferry/pool.h"
#include "ferry/pump.h"
#include "ferry/sess.h"
#include "ferry/sockconn.h"
#include "ferry/tlsconn.h"

#define AGENT_MAX_FWDS 64
#define AGENT_MAX_TUNNELS 64

/* -R [bind:]port:host:hostport */
struct fwd {
	char bind[64];		/* on the relay; only "" / "*" / the relay's own bind in v1 */
	uint16_t port;		/* public port on the relay */
	char host[256];		/* target, as the agent reaches it */
	uint16_t hostport;
	bool up;		/* relay confirmed it */
	uint64_t retry_at_ms;	/* claim again then (0: not waiting) */
	uint32_t retry_ms;	/* backoff of those retries */
};

struct agent_cfg {
	char relay[300];
	char token[FY_TOKEN_MAX + 1];
	char name[FY_NAME_MAX + 1];
	char ca[256], fingerprint[100], cert[256], key[256];
	char server_name[256];	/* overrides the name checked in the certificate */
	struct fwd fwds[AGENT_MAX_FWDS];
	unsigned nfwds;
	enum fy_loop_kind io;
	uint32_t keepalive_ms;	/* 0: take the relay's */
	uint32_t drain_ms;
	uint32_t backoff_min_ms, backoff_max_ms;
	uint32_t max_streams;		/* target connections at once */
	uint32_t window;		/* most bytes one stream may hold */
	uint64_t max_buffer_mem;	/* window growth of all streams */
	bool token_on_cmdline;
	bool token_given;		/* --token or --token-file: FERRY_TOKEN not read */
	enum fy_log_level log_level;
};

/* -1: run; otherwise the exit code. */
int agent_cfg_parse(struct agent_cfg *c, int argc, char **argv);
int agent_parse_remote(const char *spec, struct fwd *f, char *err, size_t errlen);

enum atun_state { AT_CONNECT, AT_TLS, AT_WELCOME, AT_UP, AT_CLOSED };

struct agent;

struct atun {
	struct agent *a;
	int fd;
	struct fy_sockconn sc;		/* same fd, as a connection for TLS */
	struct fy_link link;		/* TLS, input, mux (after the handshake) */
	bool tls_init;
	enum atun_state st;
	unsigned index;
	struct atun *gc_next;
};

/* A connection to a forward's target, carried as one stream. */
struct tconn {
	struct fy_pump pump;
	struct fy_sockconn sc;		/* fd -1 until the connect starts */
	struct atun *t;
	struct fwd *f;
	char target[300];
	struct tconn *gc_next;
	struct tconn *wait_next;	/* on its forward's list, waiting for DNS */
	bool waiting;
};

/* Where a forward's target is (resolve.c fills it off the loop). */
#define RES_TTL_MS 30000	/* an address older than this is looked up again */
struct fwd_state {
	struct sockaddr_storage ss;
	socklen_t sl;
	bool have;		/* ss holds an address (maybe stale) */
	bool numeric;		/* the target is an address literal */
	bool pending;		/* a lookup is under way */
	uint64_t at_ms;		/* when ss was resolved */
	struct tconn *waiting;	/* streams with no address yet */
};

struct resolver;

enum agent_state { AG_WAIT, AG_CONNECTING, AG_UP, AG_DRAINING };

struct agent {
	struct agent_cfg cfg;
	uint64_t now_ms;	/* the loop's clock, read once per turn */
	struct fy_budget budget;	/* window growth of all streams */
	struct fy_pool stream_pool;	/* the muxes' streams */
	struct fy_pool conn_pool;	/* struct tconn */
	SSL_CTX *tls;
	struct fy_loop *loop;
	struct fy_sess_table streams;
	char relay_host[256];
	uint16_t relay_port;
	struct sockaddr_storage relay_ss;	/* looked up when a session starts */
	socklen_t relay_sl;
	enum agent_state st;
	struct atun *tuns[AGENT_MAX_TUNNELS];
	unsigned ntuns;		/* expected: the relay's worker count */
	uint64_t session;
	uint32_t tunnel_serial;
	uint64_t next_attempt_ms;
	uint32_t backoff_ms;
	uint64_t drain_deadline_ms;
	bool fatal;		/* refused for good (bad token): exit */
	int exit_code;
	unsigned long long streams_total;
	struct atun *gc_tuns;
	struct tconn *gc_conns;
	struct fwd_state fstate[AGENT_MAX_FWDS];	/* parallel to cfg.fwds */
	struct resolver *res;
};

/* resolve.c: names of -R targets looked up by a helper thread. */
int res_start(struct agent *a);
void res_stop(struct agent *a);
/* Looks forward i's name up (no-op if under way or numeric). */
void res_request(struct agent *a, unsigned i);

/* tunnel.c */
void agent_connect(struct agent *a);
void agent_teardown(struct agent *a, const char *why);
void agent_flush(struct agent *a);
void agent_read_more(struct agent *a);
void agent_tick(struct agent *a, uint64_t now);
void agent_drain(struct agent *a);
void agent_gc(struct agent *a);

/* forward.c */
uint32_t forward_open(struct atun *t, struct fy_stream *s, const struct fy_open *o,
		      const char **msg);
void forward_free(struct agent *a, struct tconn *c);
/* Forward i's lookup ended: err 0 (fstate has an address) or -errno;
 * its waiting streams connect or are refused. */
void forward_resolved(struct agent *a, unsigned i, int err);

#endif
