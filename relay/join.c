/* Streams between two agents (see join.h).
 *
 * An end is one stream of one tunnel. What arrives on it (DATA, FIN,
 * datagrams, RESET) goes to the other end; what comes from the other end
 * is pushed onto its stream as far as its credit and its tunnel's output
 * allow, the rest waits in `in` (never more than the sender's window) and
 * goes when the stream has room again (on_credit). Bytes are acknowledged
 * back to their sender as they are pushed, which is what returns its
 * credit. Datagrams are forwarded when there is room and dropped (counted)
 * when there is not, never queued. A reset on either side resets the
 * other with the reason, prefixed with the agent it came from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "engine.h"
#include "inbox.h"
#include "join.h"
#include "policy.h"
#include "relay-t.h"
#include "rstream.h"
#include "tunnel-t.h"

#define TOPIC "relay.join"

enum jkind { J_OPEN, J_DATA, J_FIN, J_DGRAM, J_ACK, J_RESET };

/* A message between the two ends of a join on different workers. */
struct jmsg {
	struct msg m;			/* first: what the inbox carries */
	enum jkind kind;
	uint64_t key;			/* the receiving end's key (join.c: ends) */
	unsigned from_w;		/* J_OPEN: the worker of the A end */
	uint64_t sess;			/* J_OPEN: B's session serial */
	struct fy_dial dial;		/* J_OPEN: what B must dial (agent: A) */
	char target[FY_NAME_MAX + 1];	/* J_OPEN: B */
	uint32_t code;			/* J_RESET */
	bool drained;			/* J_ACK: nothing waits at the sender's peer */
	char why[FY_REASON_MAX + 1];	/* J_RESET */
	uint32_t n;			/* J_DATA, J_DGRAM: bytes; J_ACK: count */
	uint8_t data[];
};

/* An end's key in its worker's table: 2 * the join's serial for A's end,
 * one more for B's, so the two ends of a join on one worker do not
 * collide, and the peer's key is key ^ 1. */
struct jend {
	struct rstream rs;		/* the stream's app */
	struct worker *w;
	uint64_t key;
	struct fy_mux *mux;		/* of the tunnel its stream is on */
	struct fy_stream *s;		/* NULL once its stream is gone */
	unsigned peer_w;		/* the other end's worker */
	char agent[FY_NAME_MAX + 1];	/* the agent this end's stream goes to */
	char peer_agent[FY_NAME_MAX + 1];	/* and the one at the other end */
	struct fy_buf in;		/* from the peer, waiting for room on s */
	bool in_fin;			/* the peer's FIN, after `in` */
	bool fin_sent;
	bool fin_rcvd;
};

/* ---- ends ---- */

static struct jend *end_get(struct worker *w, uint64_t key)
{
	return fy_sess_lookup(&w->joins, key);
}

static const struct rstream_ops end_ops;

static struct jend *end_new(struct worker *w, uint64_t key, struct fy_mux *mux,
			    unsigned peer_w, const char *agent, const char *peer_agent)
{
	struct jend *e = fy_pool_alloc(&w->join_pool);

	if (!e)
		return NULL;
	if (fy_sess_insert(&w->joins, key, e) < 0) {
		fy_pool_free(&w->join_pool, e);
		return NULL;
	}
	e->rs.ops = &end_ops;
	e->w = w;
	e->key = key;
	e->mux = mux;
	e->peer_w = peer_w;
	snprintf(e->agent, sizeof(e->agent), "%s", agent);
	snprintf(e->peer_agent, sizeof(e->peer_agent), "%s", peer_agent);
	fy_buf_init(&e->in, w->r->cfg.window);
	return e;
}

static void end_free(struct jend *e)
{
	fy_sess_remove(&e->w->joins, e->key);
	fy_buf_fini(&e->in);
	fy_pool_free(&e->w->join_pool, e);
}

/* ---- to the peer ---- */

static void deliver(struct worker *w, struct jmsg *jm);
static void bytes_in(struct jend *e, const uint8_t *p, size_t n);
static void dgram_in(struct jend *e, const uint8_t *p, size_t n);

/* A message for the end of key. */
static struct jmsg *jmsg_new(enum jkind kind, uint64_t key, size_t n)
{
	struct jmsg *jm = calloc(1, sizeof(*jm) + n);

	if (jm) {
		jm->m.kind = MSG_JOIN;
		jm->kind = kind;
		jm->key = key;
		jm->n = (uint32_t)n;
	}
	return jm;
}

/* Sends jm to its end on worker `to`: a direct call when that is this
 * worker, the inbox otherwise. Takes jm. */
static void send_to(struct worker *from, unsigned to, struct jmsg *jm)
{
	if (to == from->id)
		deliver(from, jm);
	else
		inbox_send(&from->r->workers[to], &jm->m);
}

static void send_reset(struct jend *e, uint32_t code, const char *why)
{
	struct jmsg *jm = jmsg_new(J_RESET, e->key ^ 1, 0);

	if (!jm)
		return;		/* the peer learns when its own stream ends */
	jm->code = code;
	snprintf(jm->why, sizeof(jm->why), "agent '%s': %s", e->agent, why);
	send_to(e->w, e->peer_w, jm);
}

static void send_ack(struct jend *e, size_t n)
{
	struct jmsg *jm;

	if (!n)
		return;
	jm = jmsg_new(J_ACK, e->key ^ 1, 0);
	if (!jm)
		return;
	jm->n = (uint32_t)n;
	jm->drained = fy_buf_len(&e->in) == 0;
	send_to(e->w, e->peer_w, jm);
}

static void send_bytes(struct jend *e, enum jkind kind, const uint8_t *p, size_t n)
{
	struct jmsg *jm;

	/* Both ends here: straight across, no copy through a message. */
	if (e->peer_w == e->w->id) {
		struct jend *peer = end_get(e->w, e->key ^ 1);

		if (peer) {
			if (kind == J_DATA)
				bytes_in(peer, p, n);
			else
				dgram_in(peer, p, n);
		}
		return;
	}
	jm = jmsg_new(kind, e->key ^ 1, n);

	if (!jm) {
		if (e->s)
			fy_mux_reset(e->mux, e->s, FY_E_INTERNAL, "out of memory");
		e->s = NULL;
		send_reset(e, FY_E_INTERNAL, "relay out of memory");
		end_free(e);
		return;
	}
	memcpy(jm->data, p, n);
	send_to(e->w, e->peer_w, jm);
}

/* ---- this end's stream ---- */

/* Both directions over and nothing waits: the stream is done. */
static bool end_check_done(struct jend *e)
{
	if (!e->s || !e->fin_sent || !e->fin_rcvd || fy_buf_len(&e->in))
		return false;
	fy_mux_stream_close(e->mux, e->s);
	e->s = NULL;
	end_free(e);
	return true;
}

/* Pushes what waits in `in`, then the peer's FIN when all is out. */
static void push_in(struct jend *e)
{
	size_t pushed = 0;

	while (e->s && fy_buf_len(&e->in)) {
		size_t k = fy_mux_send(e->mux, e->s, fy_buf_peek(&e->in), fy_buf_len(&e->in), false);

		if (!k)
			break;	/* on_credit comes back */
		fy_buf_consume(&e->in, k);
		pushed += k;
	}
	if (!fy_buf_len(&e->in))
		fy_buf_shrink(&e->in);
	send_ack(e, pushed);
	if (e->s && e->in_fin && !fy_buf_len(&e->in) && !e->fin_sent &&
	    fy_mux_send_fin(e->mux, e->s) == 0)
		e->fin_sent = true;
	end_check_done(e);
}

/* Bytes from the peer: straight onto the stream where it has room. */
static void bytes_in(struct jend *e, const uint8_t *p, size_t n)
{
	size_t pushed = 0;

	if (!e->s)
		return;
	if (!fy_buf_len(&e->in)) {
		while (pushed < n) {
			size_t k = fy_mux_send(e->mux, e->s, p + pushed, n - pushed, false);

			if (!k)
				break;
			pushed += k;
		}
	}
	if (pushed < n && fy_buf_append(&e->in, p + pushed, n - pushed) < 0) {
		/* More than the window its sender was granted: cannot happen
		 * while the mux enforces windows; end it, do not drop bytes. */
		fy_mux_reset(e->mux, e->s, FY_E_INTERNAL, "join buffer overflow");
		e->s = NULL;
		send_reset(e, FY_E_INTERNAL, "join buffer overflow");
		end_free(e);
		return;
	}
	send_ack(e, pushed);
}

static void dgram_in(struct jend *e, const uint8_t *p, size_t n)
{
	if (e->s && fy_mux_send_dgram(e->mux, e->s, p, n) < 0)
		atomic_fetch_add_explicit(&e->w->r->ctr.dgram_dropped, 1, memory_order_relaxed);
}

/* The stream's events (rstream ops). */
static struct jend *end_of(struct rstream *rs)
{
	return (struct jend *)rs;
}

static void rs_data(struct rstream *rs, const uint8_t *p, size_t n)
{
	send_bytes(end_of(rs), J_DATA, p, n);
}

static void rs_dgram(struct rstream *rs, const uint8_t *p, size_t n)
{
	struct jend *e = end_of(rs);

	/* A datagram is never held: its credit comes back at once. */
	fy_mux_consumed(e->mux, e->s, n, true);
	send_bytes(e, J_DGRAM, p, n);
}

static void rs_fin(struct rstream *rs)
{
	struct jend *e = end_of(rs);
	struct jmsg *jm = jmsg_new(J_FIN, e->key ^ 1, 0);

	e->fin_rcvd = true;
	if (jm)
		send_to(e->w, e->peer_w, jm);
	end_check_done(e);
}

static void rs_reset(struct rstream *rs, uint32_t code, const char *msg)
{
	struct jend *e = end_of(rs);

	e->s = NULL;	/* the mux frees it after this */
	/* B refusing (its --allow, a failed connect) is the relay's to log
	 * too: with both names, as the policy's refusals are. */
	if ((e->key & 1) && code != FY_E_OK && code != FY_E_GONE)
		FY_LOG_RL(FY_LOG_INFO, TOPIC, "join %llu: agent '%s' reset the stream from agent "
			  "'%s': %s (%s)", (unsigned long long)(e->key >> 1), e->agent,
			  e->peer_agent, msg, fy_code_str(code));
	send_reset(e, code, msg);
	end_free(e);
}

static void rs_credit(struct rstream *rs)
{
	push_in(end_of(rs));
}

static void rs_info(struct rstream *rs, struct rstream_info *out)
{
	out->kind = "join";
	snprintf(out->peer, sizeof(out->peer), "%s", end_of(rs)->peer_agent);
}

static const struct rstream_ops end_ops = {
	.data = rs_data, .dgram = rs_dgram, .fin = rs_fin, .reset = rs_reset,
	.credit = rs_credit, .info = rs_info,
};

/* ---- messages from the peer ---- */

/* On B's worker: open the DIAL on a tunnel of B's session here. */
static void open_b(struct worker *w, struct jmsg *jm)
{
	struct tunnel *t = fy_sess_lookup(&w->tunnels, jm->sess), *best = NULL;
	struct jend *e;
	struct jmsg *r;
	const char *why = "its tunnel went away";

	for (; t; t = t->same_next)
		if (t->state == TUN_ACTIVE &&
		    (!best || fy_mux_stream_count(t->link.mux) < fy_mux_stream_count(best->link.mux)))
			best = t;
	if (best && fy_mux_stream_count(best->link.mux) >= w->r->cfg.max_streams) {
		why = "its tunnel's stream limit is reached";
		best = NULL;
	}
	e = best ? end_new(w, jm->key, best->link.mux, jm->from_w, best->name, jm->dial.agent) :
		   NULL;
	if (e)
		e->s = fy_mux_open_dial(best->link.mux, FY_T_DIAL, &jm->dial, &e->rs);
	if (e && e->s) {
		FY_DEBUG(TOPIC, "join %llu: agent '%s' -> agent '%s' %s:%u on worker %u",
			 (unsigned long long)(jm->key >> 1), jm->dial.agent, best->name, jm->dial.host,
			 jm->dial.port, w->id);
		return;
	}
	if (e)
		end_free(e);
	r = jmsg_new(J_RESET, jm->key ^ 1, 0);
	if (!r)
		return;
	r->code = FY_E_REFUSED;
	snprintf(r->why, sizeof(r->why), "agent '%s': %s", jm->target, why);
	FY_LOG_RL(FY_LOG_INFO, TOPIC, "join %llu: agent '%s' to agent '%s' refused: %s",
		  (unsigned long long)(jm->key >> 1), jm->dial.agent, jm->target, why);
	send_to(w, jm->from_w, r);
}

static void deliver(struct worker *w, struct jmsg *jm)
{
	struct jend *e = jm->kind == J_OPEN ? NULL : end_get(w, jm->key);

	switch (jm->kind) {
	case J_OPEN:
		open_b(w, jm);
		break;
	case J_DATA:
		if (e)
			bytes_in(e, jm->data, jm->n);
		break;
	case J_DGRAM:
		if (e)
			dgram_in(e, jm->data, jm->n);
		break;
	case J_FIN:
		if (e) {
			e->in_fin = true;
			push_in(e);
		}
		break;
	case J_ACK:
		if (e && e->s)
			fy_mux_consumed(e->mux, e->s, jm->n, jm->drained);
		break;
	case J_RESET:
		if (e) {
			if (e->s)
				fy_mux_reset(e->mux, e->s, jm->code ? jm->code : FY_E_GONE, jm->why);
			e->s = NULL;
			end_free(e);
		}
		break;
	}
	free(jm);
}

void join_handle(struct worker *w, struct msg *m, bool discard)
{
	struct jmsg *jm = caa_container_of(m, struct jmsg, m);

	if (discard) {
		free(jm);
		return;
	}
	deliver(w, jm);
}

size_t join_count(const struct worker *w)
{
	return fy_sess_count(&w->joins);
}

/* ---- opening ---- */

/* Where B's end goes: this worker when it holds a tunnel of B, else one
 * that does (DPDK). */
static unsigned place_b(struct worker *w, struct reg_session *sb)
{
	uint64_t mask = atomic_load(&sb->tunnels);

	if (mask & (1ull << w->id))
		return w->id;
	for (unsigned i = 0; i < w->r->nworkers; i++)
		if (mask & (1ull << i))
			return i;
	return (unsigned)-1;
}

uint32_t join_connect(struct tunnel *t, struct fy_stream *s, const struct fy_dial *d,
		      const char **msg)
{
	static _Thread_local char why[FY_REASON_MAX + 1];
	struct worker *w = t->w;
	struct relay *r = w->r;
	struct reg_session *sb;
	struct fy_token_rule rb;
	struct jmsg *jm;
	struct jend *e;
	uint32_t code = FY_E_OK;
	uint64_t sess = 0;
	unsigned where = (unsigned)-1;

	*msg = why;
	if (fy_mux_stream_count(t->link.mux) > r->cfg.max_streams) {
		snprintf(why, sizeof(why), "stream limit of the tunnel reached");
		return FY_E_LIMIT;
	}
	rcu_read_lock();
	sb = reg_session_lookup(r->reg, d->agent);
	if (!sb || atomic_load(&sb->dead)) {
		snprintf(why, sizeof(why), "agent '%s' is not connected", d->agent);
		code = FY_E_REFUSED;
	} else if (sb->version < 2) {
		snprintf(why, sizeof(why), "agent '%s' speaks protocol %u, which cannot take "
			 "streams from other agents", d->agent, sb->version);
		code = FY_E_UNSUPPORTED;
	} else {
		rb = sb->rule;
		sess = sb->serial;
		where = place_b(w, sb);
		code = policy_decide(rcu_dereference(r->policy), t->name, &t->sess->rule, d->agent,
				     &rb, d, why, sizeof(why));
	}
	rcu_read_unlock();
	if (code == FY_E_DENIED) {
		atomic_fetch_add_explicit(&r->ctr.join_denied, 1, memory_order_relaxed);
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "refused: %s", why);
		return code;
	}
	if (code == FY_E_OK && where == (unsigned)-1) {
		snprintf(why, sizeof(why), "agent '%s' has no tunnel up", d->agent);
		code = FY_E_REFUSED;
	}
	if (code != FY_E_OK) {
		atomic_fetch_add_explicit(&r->ctr.join_refused, 1, memory_order_relaxed);
		FY_LOG_RL(FY_LOG_INFO, TOPIC, "agent '%s' to agent '%s' %s:%u refused: %s", t->name,
			  d->agent, d->host, d->port, why);
		return code;
	}
	/* A's end is key 2j, B's 2j + 1: the message is for B's. */
	jm = jmsg_new(J_OPEN, (atomic_fetch_add(&r->next_join, 1) + 1) * 2 + 1, 0);
	e = jm ? end_new(w, jm->key ^ 1, t->link.mux, where, t->name, d->agent) : NULL;
	if (!e) {
		free(jm);
		snprintf(why, sizeof(why), "relay out of memory");
		return FY_E_INTERNAL;
	}
	e->s = s;
	s->app = &e->rs;
	jm->from_w = w->id;
	jm->sess = sess;
	jm->dial = *d;
	snprintf(jm->target, sizeof(jm->target), "%s", d->agent);
	snprintf(jm->dial.agent, sizeof(jm->dial.agent), "%s", t->name);	/* B learns who asks */
	atomic_fetch_add_explicit(&r->ctr.join_opened, 1, memory_order_relaxed);
	FY_DEBUG(TOPIC, "join %llu: agent '%s' stream %u -> agent '%s' %s:%u%s",
		 (unsigned long long)(jm->key >> 1), t->name, s->id, d->agent, d->host, d->port,
		 d->kind == FY_KIND_UDP ? " (udp)" : "");
	send_to(w, where, jm);
	return FY_E_OK;
}

size_t join_end_size(void)
{
	return sizeof(struct jend);
}
