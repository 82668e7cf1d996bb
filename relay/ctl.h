/* The control plane's way into the workers (ctl.c): the admin thread asks
 * the worker holding an agent's tunnel 0 to send FORWARD (open or close a
 * forward on the agent), the worker answers when the agent's FORWARDED
 * comes back. Both directions are messages, never shared state:
 *
 *   admin thread --MSG_CTL (inbox)--> worker --FORWARD--> agent
 *   admin thread <--ctl_answer (ctl's queue + wake)-- worker <--FORWARDED--
 *
 * A worker never waits: it sends FORWARD, remembers the request (a short
 * list, expired after CTL_PENDING_MS) and goes on. The admin thread bounds
 * its own wait and drops answers nobody waits for any more.
 *
 * Ownership: a struct ctl_req belongs to the worker that receives it, a
 * struct ctl_answer to the admin thread that takes it. */
#ifndef FERRY_RELAY_CTL_H
#define FERRY_RELAY_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include <urcu/wfcqueue.h>

#include "ferry/frame.h"
#include "relay-t.h"
#include "worker-t.h"

#define CTL_PENDING_MS 30000	/* a worker forgets an unanswered FORWARD */

struct tunnel;

#define CTL_STREAMS_MAX 4096	/* listed per worker and request */

/* One stream of an agent, as a worker lists it. */
struct ctl_stream {
	unsigned worker;
	uint32_t tunnel;		/* the tunnel's index in its session */
	uint32_t id;
	char kind[8];
	uint16_t port;
	char peer[64];
	unsigned long long rx, tx;
};

/* Admin -> worker (MSG_CTL). */
struct ctl_req {
	enum { CTL_FORWARD, CTL_STREAMS } kind;
	uint32_t req;			/* the admin's id, echoed in the answer */
	uint8_t op;			/* FY_FWD_OPEN or FY_FWD_CLOSE */
	char spec[FY_SPEC_MAX + 1];
	uint64_t sess_serial;		/* the session it is for */
	/* A closed -R stops being listened on (a closed -H/-S stops being
	 * routed) once the agent said yes. */
	bool release;
	uint16_t port;
	bool udp;
	char name[FY_NAME_MAX + 1];	/* -H, -S: the name to release; "" for ports */
};

/* Worker -> admin. */
struct ctl_answer {
	struct cds_wfcq_node node;
	uint32_t req;
	uint32_t code;			/* enum fy_code */
	char msg[FY_REASON_MAX + 1];
	struct ctl_stream *streams;	/* CTL_STREAMS: owned, nstreams of them */
	size_t nstreams;
	bool more;			/* the worker had more than CTL_STREAMS_MAX */
};

/* The admin thread's end, set before the workers start. */
struct ctl {
	struct cds_wfcq_head head;
	struct cds_wfcq_tail tail;
	void (*wake)(void *arg);	/* any thread: the admin thread looks soon */
	void *wake_arg;
};

void ctl_init(struct ctl *c, void (*wake)(void *arg), void *arg);
/* Admin thread: the next answer (the caller frees it), or NULL. */
struct ctl_answer *ctl_take(struct ctl *c);
/* Admin thread: queue q for worker `to` (takes q). */
void ctl_send(struct relay *r, unsigned to, struct ctl_req *q);

/* Worker: a MSG_CTL arrived (takes q). discard: the worker is stopping. */
void ctl_handle(struct worker *w, struct ctl_req *q, bool discard);
/* Worker: FORWARDED on tunnel t. 0, or -1 with *why (malformed). */
int ctl_on_forwarded(struct tunnel *t, const uint8_t *p, uint32_t n, const char **why);
/* Worker: FORWARD from an agent on tunnel t (it closed an -R itself). */
int ctl_on_agent_forward(struct tunnel *t, const uint8_t *p, uint32_t n, const char **why);
/* Worker, once a tick: unanswered requests past CTL_PENDING_MS go. */
void ctl_tick(struct worker *w, uint64_t now);
/* Worker stopping: every pending request is answered "shutting down". */
void ctl_fini(struct worker *w);

#endif
