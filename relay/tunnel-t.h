/* An agent tunnel on the relay (tunnel.c). */
#ifndef FERRY_TUNNEL_T_H
#define FERRY_TUNNEL_T_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ferry/frame.h"
#include "ferry/link.h"
#include "ferry/mux.h"
#include "worker-t.h"

struct worker;
struct reg_session;

enum tun_state { TUN_TLS, TUN_HELLO, TUN_AUTHED, TUN_ACTIVE, TUN_CLOSED };

/* An agent tunnel. Owned by the worker it lives on (on kernel sockets,
 * moved once right after HELLO: see tunnel.c). */
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
	enum ua_tier ua_tier;		/* the list it is on */
	int src_slot;			/* in the source address table; -1: untracked */
	struct reg_session *sess;	/* reference held while set */
	uint32_t serial;		/* this worker's id for the tunnel */
	uint32_t index;
	struct fy_hello hello;
	bool dirty;			/* output waiting; on the flush list */
	struct tunnel *next, *prev;	/* worker's list */
	struct tunnel *dirty_next;
	bool more_in;			/* decrypted input left over */
	struct tunnel *more_in_next;
	struct tunnel *gc_next;
	struct tunnel *same_next;	/* the session's other tunnels on this worker */
	struct msg move;		/* its hand-over to another worker */
	struct fy_mux_stats published;	/* what tunnel_publish added to the session */
	uint64_t published_open;
};

#endif
