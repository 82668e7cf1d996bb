/* The relay's engine: agent sessions (authentication, one live session per
 * name), the public ports they claim and the listeners for them, where a
 * new client goes, and the token set (reload.c). Called by tunnel.c,
 * public.c and worker.c, and by a backend placing a client (DPDK); calls
 * only the registry, the inbox, the backend interface, and pubudp.c to
 * open and close a UDP port (whose flows end with it). */
#ifndef FERRY_RELAY_ENGINE_H
#define FERRY_RELAY_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/frame.h"
#include "relay-t.h"
#include "worker-t.h"

/* A HELLO from peer, on worker w: 0 with *sess (a reference, the caller's
 * to put) and name (FY_NAME_MAX + 1 bytes) set; or -1 with *code and msg
 * for the ERROR frame. */
int engine_auth(struct worker *w, const struct fy_hello *h, const char *peer,
		struct reg_session **sess, char *name, uint32_t *code, char *msg, size_t msglen);
void engine_session_put(struct relay *r, struct reg_session *s);
/* Ends s everywhere: every worker closes its tunnels of it when it next
 * looks (they are woken now). */
void engine_session_kill(struct relay *r, struct reg_session *s, const char *why);

/* A claim of port (udp: a UDP port, a claim apart from TCP's) by session
 * s, on worker w, which then owns the listener: a fy_code, with msg for
 * the RESULT either way. Every worker listens on a TCP port; only w on a
 * UDP port, and all its flows live on w. A backend without UDP refuses
 * UDP claims with FY_E_UNSUPPORTED. */
uint32_t engine_register_port(struct worker *w, struct reg_session *s, uint16_t port, bool udp,
			      char *msg, size_t msglen);
/* Closes the listeners w holds for s (all when s is NULL), ends the flows
 * of its UDP ports, and takes its claims out of the registry. */
void engine_release_ports(struct worker *w, struct reg_session *s);
/* On worker w, a listener for a port another worker claimed for s
 * (takes the message's reference on s). */
void engine_listen_extra(struct worker *w, uint16_t port, struct reg_session *s);
/* One claim of s that w owns, released (a forward closed by the admin
 * API): its listener closes, every other worker drops its extra one
 * (MSG_UNLISTEN). 0, or -ENOENT when w holds no such claim. */
int engine_release_port(struct worker *w, struct reg_session *s, uint16_t port, bool udp);
/* MSG_UNLISTEN: drops w's extra listener for (s, port); takes the
 * message's reference on s. */
/* Releases name claim `name` of s held by w (an -H/-S closed at run
 * time). 0, or -ENOENT when w holds no such claim of s. */
int engine_release_name(struct worker *w, struct reg_session *s, const char *name);
void engine_unlisten_extra(struct worker *w, uint16_t port, struct reg_session *s);
void engine_release_dead_extra(struct worker *w);

/* v3: a name claim (rg->named) by session s on worker w, which owns it:
 * a fy_code, with msg for the RESULT either way. */
uint32_t engine_register_name(struct worker *w, struct reg_session *s, const struct fy_register *rg,
			      char *msg, size_t msglen);
/* How long a name whose session died answers 502 before it is unknown
 * (404); the agent's next session takes it over at once. */
#define ENGINE_NAME_GONE_MS (10u * 60u * 1000u)
/* Per tick of w: names gone longer than ENGINE_NAME_GONE_MS are dropped. */
void engine_expire_names(struct worker *w, uint64_t now);
/* Where a request for name goes, asked on worker self: 0 with *nt set;
 * -ENOENT nobody claimed it (404); -EHOSTDOWN the agent cannot take it
 * now (502); *why says which, for the log. */
struct name_target {
	uint64_t serial;	/* the session */
	uint16_t id;		/* the agent's id for the claim (OPEN's port) */
	uint8_t kind;		/* enum fy_name_kind */
	char agent[FY_NAME_MAX + 1];
};
int engine_find_name(struct relay *r, const char *name, unsigned self, struct name_target *nt,
		     const char **why);

/* Where a new client of TCP port goes, asked on worker self: a worker that
 * holds a tunnel of the port's agent (self when it does), with that
 * session's serial in *serial; (unsigned)-1 when no agent serves the port
 * now. Called by public.c after an accept and by a backend that places
 * connections before they are accepted. */
unsigned engine_place_client(struct relay *r, uint16_t port, unsigned self, uint64_t *serial);

/* reload.c: SIGHUP and the admin API's /reload: the token file and the
 * --policy file read again and swapped in (a file that does not parse
 * changes nothing; logged). 0 when both were; -1 with *tokens_ok and
 * *policy_ok saying which was not; -EBUSY (wait false) when another
 * reload runs. Never on a worker but DPDK's lcore 0, without wait. */
int relay_reload(struct relay *r, bool wait, bool *tokens_ok, bool *policy_ok);

#endif
