/* ferry-agent internals. One thread, one event loop (epoll or io_uring).
 * The agent owns everything here; nothing is shared. */
#ifndef FERRY_AGENT_H
#define FERRY_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "ferry/buf.h"
#include "ferry/fwdspec.h"
#include "ferry/link.h"
#include "ferry/log.h"
#include "ferry/loop.h"
#include "ferry/mux.h"
#include "ferry/pool.h"
#include "ferry/pump.h"
#include "ferry/sess.h"
#include "ferry/sockconn.h"
#include "ferry/stdioconn.h"
#include "ferry/tlsconn.h"
#include "xport.h"

#define AGENT_MAX_FWDS 64
#define AGENT_MAX_TUNNELS 64
#define AGENT_MAX_ALLOW 64

struct agent;

/* -R [bind:]port:host:hostport, or -R udp:port:host:hostport; or (v3) a
 * name: -H NAME:host:hostport (HTTP by Host/path), -S NAME:host:hostport
 * (TLS passed through by SNI). ",proxy-protocol" after a TCP forward
 * sends the target a PROXY protocol v2 header with the client's address. */
struct fwd {
	uint8_t kind;		/* 0: a port; FY_NAME_HTTP or FY_NAME_TLS: a name */
	char name[FY_NAME_MAX + 1];	/* a name's label */
	bool proxy_protocol;
	char bind[64];		/* on the relay; only "" / "*" / the relay's own bind in v1 */
	uint16_t port;		/* public port on the relay */
	char host[256];		/* target, as the agent reaches it */
	uint16_t hostport;
	bool udp;
	bool up;		/* relay confirmed it */
	uint64_t retry_at_ms;	/* claim again then (0: not waiting) */
	uint32_t retry_ms;	/* backoff of those retries */
	bool unused;		/* a closed forward's slot, free for the next one */
	bool remote;		/* opened through the relay or the control socket */
	bool answer_pending;	/* RESULT is to be passed on (remote.c) */
	/* REGISTERs sent on this session whose RESULT has not come: the slot
	 * is not given to another forward before (RESULT names the slot). */
	unsigned reg_out;
	uint32_t answer_req;	/* ... with this request id */
	void (*answer)(struct agent *a, void *arg, uint32_t req, uint32_t code, const char *msg);
	void *answer_arg;
};

/* -L, -D, -W: streams this agent opens to a target of another agent. */
enum lkind { L_TCP, L_UDP, L_SOCKS, L_STDIO };
struct lfwd {
	enum lkind kind;
	char bind[64];		/* local address to listen on ("" : 127.0.0.1) */
	uint16_t port;		/* local port (not for -W) */
	char agent[FY_NAME_MAX + 1];	/* target agent; -D without one: from the name */
	char host[FY_HOST_MAX + 1];	/* target host (not for -D) */
	uint16_t hostport;
	bool closed;			/* closed at run time: its slot stays unused */
	bool remote;			/* opened through the relay or the control socket */
};

/* --allow: what this agent dials when another agent asks (nothing else). */
struct allow {
	enum { ALLOW_NAME, ALLOW_PREFIX } kind;
	enum { ALLOW_TCP = 1, ALLOW_UDP = 2 } protos;	/* a mask */
	char name[FY_HOST_MAX + 1];	/* shell pattern, any case */
	int family;			/* ALLOW_PREFIX */
	uint8_t addr[16];
	unsigned prefix;
	uint16_t port_lo, port_hi;
};

struct agent_cfg {
	char relay[300];
	char token[FY_TOKEN_MAX + 1];
	char name[FY_NAME_MAX + 1];
	char ca[256], fingerprint[100], cert[256], key[256];
	char server_name[256];	/* overrides the name checked in the certificate */
	struct fwd fwds[AGENT_MAX_FWDS];
	unsigned nfwds;
	struct lfwd lfwds[AGENT_MAX_FWDS];
	unsigned nlfwds;
	struct allow allows[AGENT_MAX_ALLOW];
	unsigned nallows;
	bool remote_fwds;		/* --remote-forwards: the relay may open forwards */
	char ctl_socket[108];		/* --ctl-socket: the local control socket, "" for none */
	struct allow rallows[AGENT_MAX_ALLOW];	/* ... to these targets (none: any) */
	unsigned nrallows;
	enum fy_loop_kind io;
	uint32_t keepalive_ms;	/* 0: take the relay's */
	uint32_t drain_ms;
	uint32_t backoff_min_ms, backoff_max_ms;
	uint32_t max_streams;		/* target connections at once */
	uint32_t window;		/* most bytes one stream may hold */
	uint64_t max_buffer_mem;	/* window growth of all streams */
	uint32_t udp_idle_ms;		/* a UDP flow without datagrams ends */
	char socks_user[256], socks_pass[256];	/* --socks-auth; "" : no login */
	bool token_on_cmdline;
	bool token_given;		/* --token or --token-file: FERRY_TOKEN not read */
	enum fy_log_level log_level;
	bool log_given;
	enum transport transport;	/* --transport tls|wss|auto */
	uint16_t wss_port;		/* the relay's HTTPS port (443) */
	char wss_path[128];		/* its tunnel path (/_ferry/tunnel) */
	char proxy_url[1024];		/* --proxy as given ("none": not even the env) */
	bool proxy_given;
};

/* c must be all zeroes (main's comes from fy_zpages_alloc: the pages of
 * its tables that parsing never writes take no memory).
 * -1: run; otherwise the exit code. */
int agent_cfg_parse(struct agent_cfg *c, int argc, char **argv);
int agent_parse_remote(const char *spec, struct fwd *f, char *err, size_t errlen);
/* opt: 'H' or 'S'. */
int agent_parse_name(int opt, const char *spec, struct fwd *f, char *err, size_t errlen);
/* "-R udp:53:host:53", "-H web:127.0.0.1:80": a forward as the command
 * line spells it, for messages. */
const char *agent_fwd_str(const struct fwd *f, char *buf, size_t n);
/* opt: 'L', 'D' or 'W'. */
int agent_parse_local(int opt, const char *spec, struct lfwd *lf, char *err, size_t errlen);
void agent_fwd_from_spec(struct fwd *f, const struct fy_fwdspec *fs);
void agent_fwd_spec(const struct fwd *f, struct fy_fwdspec *fs);
void agent_lfwd_from_spec(struct lfwd *lf, const struct fy_fwdspec *fs);

/* CONNECT (TCP) → PROXY (an HTTP proxy's CONNECT, with --proxy) → TLS →
 * UPGRADE (the WebSocket upgrade, for wss) → WELCOME (HELLO sent) → UP. */
enum atun_state { AT_CONNECT, AT_PROXY, AT_TLS, AT_UPGRADE, AT_WELCOME, AT_UP, AT_CLOSED };

struct agent;

struct atun {
	struct agent *a;
	int fd;
	struct fy_sockconn sc;		/* same fd, as a connection for TLS */
	struct fy_link link;		/* TLS, input, mux (after the handshake) */
	struct xhs *hs;			/* the proxy / upgrade exchange (xport.c) */
	bool tls_init;
	enum atun_state st;
	unsigned index;
	struct atun *gc_next;
};

struct socks;

/* What an agent stream serves (s->app points to it): a TCP connection
 * with a pump (struct tconn), or a UDP flow (udp.c). */
struct astream;
struct astream_ops {
	void (*data)(struct astream *as, const uint8_t *p, size_t n);
	void (*dgram)(struct astream *as, const uint8_t *p, size_t n);
	void (*fin)(struct astream *as);
	/* The stream is freed right after this returns. */
	void (*reset)(struct astream *as, uint32_t code, const char *msg);
	void (*credit)(struct astream *as);
};
struct astream {
	const struct astream_ops *ops;
};

/* Waiting for a name (resolve.c calls done once, unless cancelled). */
struct res_waiter {
	struct res_waiter *next;
	int entry;			/* in the cache, -1 when not waiting */
	uint16_t port;
	void (*done)(struct agent *a, struct res_waiter *w, int err,
		     const struct sockaddr_storage *ss, socklen_t sl);
};

/* A TCP connection carried as one stream: to a target this agent dials
 * (-R, or a DIAL it allows), or from a local client (-L, -D, -W). */
enum tconn_role { TC_TARGET, TC_LOCAL, TC_SOCKS, TC_STDIO };
struct tconn {
	struct astream as;
	struct fy_pump pump;
	struct fy_sockconn sc;		/* fd -1 until the connect starts */
	struct fy_stdioconn stdio;	/* TC_STDIO's connection instead of sc */
	struct agent *a;
	enum tconn_role role;
	struct atun *t;			/* NULL while no stream is open */
	struct lfwd *lf;		/* TC_LOCAL, TC_SOCKS, TC_STDIO */
	char target[300];
	struct res_waiter rw;		/* TC_TARGET: its address */
	bool check_addr;		/* TC_TARGET: allowed only if its address is */
	struct socks *socks;		/* TC_SOCKS until the stream opens */
	struct tconn *snext, *sprev;	/* TC_SOCKS: local.c's list of those */
	struct tconn *gc_next;
	uint8_t pp[64];			/* a PROXY v2 header to send first */
	uint8_t pp_len;
};

/* How long a resolved address is used before it is looked up again. */
#define RES_TTL_MS 30000

struct resolver;
struct local;
struct udp;
struct socks;

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
	uint16_t relay_version;	/* the protocol version of this session */
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
	struct resolver *res;
	struct local *local;		/* -L / -D / -W listeners (local.c) */
	struct udp *udp;		/* UDP flows (udp.c) */
	bool stdio_done;		/* -W: its stream ended: exit */
	int stdio_rc;
	unsigned rr_tunnel;		/* where the next stream we open goes */
	struct actl *ctl;		/* the control socket (ctl.c), or NULL */
	enum transport tr_now;		/* this session's: TR_TLS or TR_WSS */
	char tr_note[200];		/* auto: why TLS was given up, for the log */
	/* A tunnel after the first could not be started (its connect failed
	 * at once, e.g. out of descriptors): why. The session ends at the
	 * next tick, not inside tunnel 0's WELCOME, where this is found. */
	char start_fail[320];
	struct proxy proxy;		/* when use_proxy */
	bool use_proxy;
};

/* resolve.c: names looked up by helper threads, cached. */
int res_start(struct agent *a);
void res_stop(struct agent *a);
/* host's address with port: 0 and *ss when one is known (a stale one is
 * used while a fresh lookup runs); -EINPROGRESS when w (which may be NULL
 * just to start a lookup) waits for the first answer; -EAGAIN when the
 * cache is full of names being looked up. */
int res_lookup(struct agent *a, const char *host, uint16_t port, struct res_waiter *w,
	       struct sockaddr_storage *ss, socklen_t *sl);
void res_cancel(struct agent *a, struct res_waiter *w);

/* allow.c: --allow [tcp:|udp:]host:port | prefix:port | host:* */
int allow_parse(const char *spec, struct allow *al, char *err, size_t errlen);
/* A DIAL for host:port (udp: a UDP flow): by name (before any lookup), or
 * by address. */
bool allow_name(const struct agent_cfg *c, bool udp, const char *host, uint16_t port);
bool allow_addr(const struct agent_cfg *c, bool udp, const struct sockaddr_storage *ss);
/* Whether some prefix entry covers port (a name might resolve into it). */
bool allow_prefix_port(const struct agent_cfg *c, bool udp, uint16_t port);
/* host:port on list v (by name pattern, or an address literal by prefix;
 * no lookup). */
bool allow_list_target(const struct allow *v, unsigned n, bool udp, const char *host,
		       uint16_t port);

/* xport.c: a tunnel's proxy CONNECT and WebSocket upgrade. Starts: 0 or
 * -1; steps: 1 done, 0 waiting for the connection, -1 failed; why gets
 * one line for the log (never the proxy's credentials). */
struct xhs;
int xport_proxy_start(struct atun *t, char *why, size_t wn);
int xport_proxy_step(struct atun *t, char *why, size_t wn);
/* After the CONNECT, once the link exists: bytes the proxy sent after
 * its answer go to TLS. 0 or -1. Ends the exchange. */
int xport_proxy_rest(struct atun *t);
int xport_ws_start(struct atun *t, char *why, size_t wn);
int xport_ws_step(struct atun *t, char *why, size_t wn);
void xport_free(struct atun *t);

/* tunnel.c */
void agent_connect(struct agent *a);
void agent_teardown(struct agent *a, const char *why);
void agent_flush(struct agent *a);
void agent_read_more(struct agent *a);
void agent_tick(struct agent *a, uint64_t now);
void agent_drain(struct agent *a);
void agent_gc(struct agent *a);

/* A tunnel for a stream this agent opens (round-robin over those up), or
 * NULL while the session is not up. */
struct atun *agent_pick_tunnel(struct agent *a);

/* forward.c: streams the relay opens (OPEN for -R, DIAL for another agent) */
uint32_t forward_open(struct atun *t, struct fy_stream *s, const struct fy_open *o,
		      const char **msg);
uint32_t forward_dial(struct atun *t, struct fy_stream *s, const struct fy_dial *d,
		      const char **msg);
void forward_free(struct agent *a, struct tconn *c);
/* The limits every stream of the relay's is checked against: 0, or a code
 * with *msg. */
uint32_t forward_admit(struct agent *a, const char **msg);
/* tconn's pump callback (closes its connection, logs). */
void forward_done(struct fy_pump *p, uint32_t code, const char *why);
/* The connection's socket closed as its stream ended (FIN when code is OK,
 * a reset otherwise) and c queued for gc. */
void forward_close(struct agent *a, struct tconn *c, uint32_t code);
extern const struct astream_ops tconn_ops;

/* remote.c: forwards opened and closed at run time, asked by the relay
 * (FORWARD, when --remote-forwards allows) or through the control socket.
 * done is called once with the outcome (for an -R, when the relay's
 * RESULT comes); from FORWARD it is FORWARDED on tunnel 0. */
typedef void (*rfwd_done_fn)(struct agent *a, void *arg, uint32_t req, uint32_t code,
			     const char *msg);
void rfwd_request(struct agent *a, uint8_t op, const char *spec, bool from_relay, uint32_t req,
		  rfwd_done_fn done, void *arg);
/* FORWARD on tunnel t: 0, or -1 with *why (malformed). */
int rfwd_on_forward(struct atun *t, const uint8_t *p, uint32_t n, const char **why);
/* RESULT for forward i: passed on when one waits (true), else false. */
bool rfwd_on_result(struct agent *a, unsigned i, const struct fy_result *r);
/* A RESULT waiter (the control socket) went away. */
void rfwd_forget(struct agent *a, void *arg);
/* tunnel.c: REGISTER forward i now, on tunnel 0 if it is up: true if sent. */
bool agent_register_now(struct agent *a, unsigned i);

/* ctl.c: the local control socket (--ctl-socket) and `ferry-agent ctl`. */
struct actl;
int actl_start(struct agent *a);
void actl_stop(struct agent *a);
void actl_tick(struct agent *a);
int actl_client(int argc, char **argv);

/* local.c: -L, -D, -W */
int local_start(struct agent *a);
/* One -L listener opened or closed at run time: 0, or -errno (logged). */
int local_listen(struct agent *a, struct lfwd *lf);
void local_unlisten(struct agent *a, struct lfwd *lf);
void local_tick(struct agent *a);
void local_stop(struct agent *a);
/* The session is up (again): -W opens its stream. */
void local_session_up(struct agent *a);

/* socks.c: the SOCKS5 server's side of a -D connection (RFC 1928). */
struct socks;
/* user/pass: the --socks-auth login (borrowed), or NULL for none. */
struct socks *socks_new(const char *user, const char *pass);
void socks_free(struct socks *s);
/* Feeds bytes from the client: 1 the request is complete (socks_target
 * says where), 0 more needed, -1 refused (socks_reply holds the answer
 * to send before closing). Replies to send now go to out. */
int socks_input(struct socks *s, const uint8_t *p, size_t n, uint8_t *out, size_t *outlen);
void socks_target(const struct socks *s, char *host, size_t hostlen, uint16_t *port);
/* Bytes the client sent after its request, before our reply. */
size_t socks_leftover(const struct socks *s, const uint8_t **p);
/* The reply to the CONNECT: code 0 succeeded, else a SOCKS5 REP code. */
size_t socks_reply(uint8_t rep, uint8_t *out);

/* udp.c: UDP flows (-R udp, DIAL udp, -L udp) */
int udp_start(struct agent *a);
void udp_stop(struct agent *a);
/* A UDP flow to host:port for stream s (check_addr: its address must be
 * allowed too). */
uint32_t udp_open_target(struct atun *t, struct fy_stream *s, const char *host, uint16_t port,
			 bool check_addr, const char **msg);
void udp_tick(struct agent *a);
unsigned long long udp_dropped(const struct agent *a);

#endif
