/* Pump: one stream between a fake byte connection and a mux, with a real
 * mux pair behind it.
 *
 *   fake conn --recv--> pump --> relay mux ==bytes==> agent mux --> peer
 *   (receive queue,     (s->app)                                (recorder
 *    send sink with a                                            or a 2nd
 *    per-call cap and a                                          pump)
 *    budget: full socket)
 *
 * The fake conn is an in-memory socket: a receive queue of pattern bytes
 * the test makes available, a send sink that checks what it gets against
 * a pattern, accepts at most max_per_call bytes a call and budget bytes
 * until the test refills it (-EAGAIN when spent), and records
 * shutdown_wr and the last want(). The event loop in run() calls
 * readable/writable only when the pump asked for them, as a level
 * triggered loop would: a pump that forgets to ask stalls the test.
 *
 * The muxes, the bytes between them and the peer's recorders are
 * mux_harness.h's.
 *
 * Tests named "regression" reproduce bugs found by these tests and since
 * fixed in lib/mux.c. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ferry/frame.h>
#include <ferry/mux.h>
#include <ferry/pump.h>
#include <ferry/sess.h>

#include "cu_run.h"
#include "mux_harness.h"

#define MIB		(1024u * 1024)
#define WIN		(256u * 1024)
#define MAX_PUMPS	8
#define MAX_RECS	8
#define UNLIMITED	SIZE_MAX

/* ---- fake connection ---- */

struct tpump;

struct fconn {
	struct tpump *tp;
	/* receive queue: pattern bytes [0, rq_avail) of rq_seed */
	uint64_t rq_seed;
	size_t rq_avail, rq_off;
	size_t recv_max;	/* per call, 0: any */
	bool eof;		/* after rq_avail: end of stream */
	int rerr;		/* recv returns this when set */
	/* send sink: checked against sink_seed */
	uint64_t sink_seed;
	size_t sink_len, sink_bad;
	size_t budget;		/* bytes accepted until -EAGAIN */
	size_t refill;		/* budget given back every run() round, 0: none */
	size_t max_per_call;	/* 0: any */
	int serr;		/* send returns this when set */
	/* shutdown_wr and want */
	int shut;
	size_t sink_at_shut, pending_at_shut;
	bool want_rd, want_wr;
	int wants, recvs, sends;
};

static long f_recv(void *io, void *buf, size_t n)
{
	struct fconn *c = io;
	size_t k;

	c->recvs++;
	CU_ASSERT(n > 0);
	if (c->rerr)
		return c->rerr;
	if (c->rq_off == c->rq_avail)
		return c->eof ? 0 : -EAGAIN;
	k = c->rq_avail - c->rq_off;
	if (k > n)
		k = n;
	if (c->recv_max && k > c->recv_max)
		k = c->recv_max;
	for (size_t i = 0; i < k; i++)
		((uint8_t *)buf)[i] = mh_pat(c->rq_seed, c->rq_off + i);
	c->rq_off += k;
	return (long)k;
}

static long f_send(void *io, const void *buf, size_t n)
{
	struct fconn *c = io;
	const uint8_t *p = buf;
	size_t k = n;

	c->sends++;
	CU_ASSERT(n > 0);
	CU_ASSERT_EQUAL(c->shut, 0);	/* nothing after shutdown_wr */
	if (c->serr)
		return c->serr;
	if (k > c->budget)
		k = c->budget;
	if (c->max_per_call && k > c->max_per_call)
		k = c->max_per_call;
	if (!k)
		return -EAGAIN;
	for (size_t i = 0; i < k; i++)
		if (p[i] != mh_pat(c->sink_seed, c->sink_len + i))
			c->sink_bad++;
	c->sink_len += k;
	if (c->budget != UNLIMITED)
		c->budget -= k;
	return (long)k;
}

static void f_shutdown_wr(void *io);

static void f_want(void *io, bool rd, bool wr)
{
	struct fconn *c = io;

	c->want_rd = rd;
	c->want_wr = wr;
	c->wants++;
}

static const struct fy_conn_ops fops = {
	.recv = f_recv,
	.send = f_send,
	.shutdown_wr = f_shutdown_wr,
	.want = f_want,
};

/* ---- pumps and recorders ---- */

struct side;

struct tpump {
	struct fy_pump p;
	struct fconn c;
	struct side *side;
	struct fy_stream *s0;	/* the stream at init: freed once done */
	int done;
	uint32_t done_code;
	char done_why[FY_REASON_MAX + 1];
	bool done_s_null;	/* p->s already released when on_done ran */
	size_t max_pending;
};

static void f_shutdown_wr(void *io)
{
	struct fconn *c = io;

	c->shut++;
	c->sink_at_shut = c->sink_len;
	c->pending_at_shut = fy_buf_len(&c->tp->p.pending);
}

struct side {
	struct mh_side h;	/* mux, session table, input */
	uint32_t window;
	bool pumps;		/* peer-opened streams get a pump (else a recorder) */
	bool connect_now;	/* such pumps start connected */
	uint64_t rq_seed, sink_seed;	/* for pumps made in on_open */
	struct tpump tp[MAX_PUMPS];
	int ntp;
	struct mh_rec rec[MAX_RECS];	/* peer-side recorders for plain streams */
	int nrec;
	int stale;		/* callbacks for a stream a pump had released */
};

struct env {
	struct side r, a;
};

static struct tpump *tp_of(struct fy_pump *p)
{
	return (struct tpump *)((char *)p - offsetof(struct tpump, p));
}

static void on_done(struct fy_pump *p, uint32_t code, const char *why)
{
	struct tpump *tp = tp_of(p);

	/* Do not free here (pump.h): only record. */
	tp->done++;
	tp->done_code = code;
	snprintf(tp->done_why, sizeof(tp->done_why), "%s", why ? why : "(null)");
	tp->done_s_null = p->s == NULL;
}

static struct tpump *tp_new(struct side *sd, struct fy_stream *s, bool connected)
{
	struct tpump *tp;

	CU_ASSERT_FATAL(sd->ntp < MAX_PUMPS);
	tp = &sd->tp[sd->ntp++];
	memset(tp, 0, sizeof(*tp));
	tp->side = sd;
	tp->s0 = s;
	tp->c.tp = tp;
	tp->c.budget = UNLIMITED;
	tp->c.rq_seed = sd->rq_seed;
	tp->c.sink_seed = sd->sink_seed;
	fy_pump_init(&tp->p, &fops, &tp->c, sd->h.m, s, sd->window, connected, on_done);
	CU_ASSERT_PTR_EQUAL(s->app, &tp->p);
	return tp;
}

static struct mh_rec *rec_new(struct side *sd, struct fy_stream *s, uint64_t seed)
{
	struct mh_rec *r;

	CU_ASSERT_FATAL(sd->nrec < MAX_RECS);
	r = &sd->rec[sd->nrec++];
	memset(r, 0, sizeof(*r));
	r->s = s;
	r->id = s ? s->id : 0;
	r->seed = seed;
	return r;
}

/* A callback for s although the pump that owned it is done (and the mux
 * freed s): must never happen. Checked without touching *s. */
static bool stale(struct side *sd, struct fy_stream *s)
{
	bool dead = false;

	if (!sd->pumps)
		return false;
	for (int i = 0; i < sd->ntp; i++) {
		if (sd->tp[i].s0 != s)
			continue;
		if (!sd->tp[i].done)
			return false;	/* a live pump owns this address */
		dead = true;
	}
	if (dead)
		sd->stale++;
	return dead;
}

static uint32_t cb_open(void *ctx, struct fy_stream *s, const struct fy_open *o, const char **msg)
{
	struct side *sd = ctx;

	(void)o;
	(void)msg;
	if (sd->pumps)
		tp_new(sd, s, sd->connect_now);
	else
		s->app = rec_new(sd, s, sd->rq_seed);
	return FY_E_OK;
}

static void cb_data(void *ctx, struct fy_stream *s, const uint8_t *p, size_t n)
{
	struct side *sd = ctx;

	if (stale(sd, s))
		return;
	if (sd->pumps) {
		fy_pump_on_data(s->app, p, n);
		return;
	}
	mh_rec_data(&sd->h, s->app, s, p, n);
}

static void cb_fin(void *ctx, struct fy_stream *s)
{
	struct side *sd = ctx;

	if (stale(sd, s))
		return;
	if (sd->pumps) {
		fy_pump_on_fin(s->app);
		return;
	}
	mh_rec_fin(s->app);
}

static void cb_reset(void *ctx, struct fy_stream *s, uint32_t code, const char *msg)
{
	struct side *sd = ctx;

	if (stale(sd, s))
		return;
	if (sd->pumps) {
		fy_pump_on_reset(s->app, code, msg);
		return;
	}
	mh_rec_reset(s->app, code, msg);
}

static void cb_credit(void *ctx, struct fy_stream *s)
{
	struct side *sd = ctx;

	if (stale(sd, s))
		return;
	if (sd->pumps)
		fy_pump_on_credit(s->app);
	else
		((struct mh_rec *)s->app)->credits++;
}

static const struct fy_mux_cbs cbs = {
	.on_open = cb_open,
	.on_data = cb_data,
	.on_fin = cb_fin,
	.on_reset = cb_reset,
	.on_credit = cb_credit,
};

/* ---- moving bytes between the muxes ---- */

/* The tests expect no mux to reject its input: when one does, say why. */
static long said(struct env *e, long r)
{
	const struct mh_side *sides[2] = { &e->r.h, &e->a.h };

	for (int i = 0; r < 0 && i < 2; i++)
		if (sides[i]->err)
			fprintf(stderr, "\n    %s: %s\n", sides[i]->name, fy_mux_error(sides[i]->m, NULL));
	return r;
}

static long xfer(struct env *e, struct side *from, struct side *to)
{
	return said(e, mh_xfer(&from->h, &to->h, NULL));
}

static long shuttle(struct env *e)
{
	return said(e, mh_shuttle(&e->r.h, &e->a.h, NULL));
}

static void side_init(struct side *sd, const char *name, enum fy_mux_role role, uint32_t window)
{
	struct fy_mux_cfg cfg = {
		.role = role, .window = window, .keepalive_ms = 10000, .serial = 3,
	};

	sd->window = window;
	mh_side_init(&sd->h, name, &cfg, &cbs, sd);
	fy_mux_set_established(sd->h.m, window, 10000);
}

static struct env *env_new(uint32_t window, bool agent_pumps, bool connect_now)
{
	struct env *e = calloc(1, sizeof(*e));

	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	side_init(&e->r, "relay", FY_MUX_RELAY, window);
	side_init(&e->a, "agent", FY_MUX_AGENT, window);
	e->a.pumps = agent_pumps;
	e->a.connect_now = connect_now;
	e->r.rq_seed = 0x1111;	/* relay's client sends this */
	e->r.sink_seed = 0x2222;	/* and receives that */
	e->a.rq_seed = 0x2222;	/* agent's target sends this */
	e->a.sink_seed = 0x1111;
	return e;
}

static void env_free(struct env *e)
{
	struct side *sides[2] = { &e->r, &e->a };

	for (int i = 0; i < 2; i++) {
		struct side *sd = sides[i];

		mh_side_fini(&sd->h);
		for (int j = 0; j < sd->ntp; j++)
			fy_pump_fini(&sd->tp[j].p);
		CU_ASSERT_EQUAL(sd->stale, 0);
	}
	free(e);
}

/* The relay accepted a client: open a stream and put a pump on it. */
static struct tpump *relay_pump(struct env *e, uint16_t port)
{
	struct fy_open o = { .port = port, .peer_port = 50000 };
	struct fy_stream *s = fy_mux_open(e->r.h.m, &o, NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	e->r.pumps = true;
	return tp_new(&e->r, s, true);
}

/* The relay opens a stream it drives by hand (a recorder). */
static struct mh_rec *relay_rec(struct env *e, uint16_t port, uint64_t seed)
{
	struct fy_open o = { .port = port };
	struct fy_stream *s = fy_mux_open(e->r.h.m, &o, NULL);
	struct mh_rec *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	r = rec_new(&e->r, s, seed);
	s->app = r;
	return r;
}

/* The agent's recorder for the stream the relay opened last. */
static struct mh_rec *agent_rec(struct env *e)
{
	CU_ASSERT_FATAL(e->a.nrec > 0);
	return &e->a.rec[e->a.nrec - 1];
}

static size_t rec_send(struct side *sd, struct mh_rec *r, uint64_t seed, size_t *off, size_t total,
		       bool fin)
{
	return mh_send_pat(&sd->h, r, seed, off, total, fin);
}

static bool conn_readable(const struct fconn *c)
{
	return c->rerr || c->rq_off < c->rq_avail || c->eof;
}

/* What moves: if it is the same after a round, the system is idle. */
static unsigned long long sig(struct side *sd)
{
	unsigned long long x = 0;

	for (int i = 0; i < sd->ntp; i++) {
		struct tpump *tp = &sd->tp[i];

		x += tp->c.rq_off + tp->c.sink_len + (unsigned)tp->c.shut + (unsigned)tp->done +
		     tp->p.rd_eof + tp->p.connected;
	}
	for (int i = 0; i < sd->nrec; i++)
		x += sd->rec[i].rx + (unsigned)sd->rec[i].fins;
	return x;
}

static void check_pending(struct side *sd)
{
	for (int i = 0; i < sd->ntp; i++) {
		struct tpump *tp = &sd->tp[i];
		size_t n = fy_buf_len(&tp->p.pending);

		CU_ASSERT(n <= sd->window);
		if (n > tp->max_pending)
			tp->max_pending = n;
	}
}

/* The event loop: wakes each pump for what it asked, refills send
 * budgets, moves tunnel bytes, until nothing changes. */
static void run(struct env *e)
{
	struct side *sides[2] = { &e->r, &e->a };

	for (int round = 0; round < 100000; round++) {
		unsigned long long before = sig(&e->r) + sig(&e->a);
		long moved;

		for (int k = 0; k < 2; k++) {
			struct side *sd = sides[k];

			for (int i = 0; i < sd->ntp; i++) {
				struct tpump *tp = &sd->tp[i];
				struct fconn *c = &tp->c;

				if (c->refill)
					c->budget = c->refill;
				if (!tp->done && c->want_wr && tp->p.connected && c->budget &&
				    fy_buf_len(&tp->p.pending))
					fy_pump_writable(&tp->p);
				if (!tp->done && c->want_rd && conn_readable(c))
					fy_pump_readable(&tp->p);
				check_pending(sd);
			}
		}
		moved = shuttle(e);
		CU_ASSERT_FATAL(moved >= 0);
		check_pending(&e->r);
		check_pending(&e->a);
		if (sig(&e->r) + sig(&e->a) == before && !moved)
			return;
	}
	CU_FAIL("event loop did not settle");
}

/* ---- tests ---- */

/* Bytes from the connection reach the peer intact; EOF becomes FIN. */
static void test_conn_to_peer(void)
{
	static const struct {
		size_t total, recv_max;
		uint32_t window;
	} v[] = {
		{ 3 * MIB, 0, WIN },
		{ MIB, 4000, WIN },	/* reads end on -EAGAIN, not on credit */
		{ 100000, 1000, 16384 },
		{ 70000, 1, 16384 },
		{ 0, 0, 16384 },
	};

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		struct env *e = env_new(v[i].window, false, true);
		struct tpump *tp = relay_pump(e, 22);
		struct mh_rec *ar;

		CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
		ar = agent_rec(e);
		ar->seed = 0x1111;
		ar->auto_consume = true;
		/* The pump asks to read once connected. */
		fy_pump_readable(&tp->p);
		CU_ASSERT(tp->c.want_rd);
		tp->c.recv_max = v[i].recv_max;
		tp->c.rq_avail = v[i].total;
		tp->c.eof = true;
		run(e);
		CU_ASSERT_EQUAL(ar->rx, v[i].total);
		CU_ASSERT_EQUAL(ar->bad, 0);
		CU_ASSERT_EQUAL(ar->fins, 1);
		CU_ASSERT_EQUAL(ar->rx_at_fin, v[i].total);
		CU_ASSERT_EQUAL(tp->p.rx, v[i].total);
		CU_ASSERT(tp->p.rd_eof);
		CU_ASSERT_FALSE(tp->c.want_rd);
		CU_ASSERT_EQUAL(tp->done, 0);	/* the peer has not finished */
		CU_ASSERT_EQUAL(tp->c.shut, 0);
		env_free(e);
	}
}

/* Peer data meets a full connection: pending holds it, writable flushes
 * it, credit goes back only for what the connection took, pending never
 * exceeds the window. */
static void test_peer_to_conn_partial(void)
{
	struct env *e = env_new(WIN, false, true);
	struct tpump *tp = relay_pump(e, 22);
	struct mh_rec *ar;
	size_t off = 0, returned;

	CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
	ar = agent_rec(e);
	tp->c.budget = 0;	/* the client's socket is full */
	tp->c.max_per_call = 7000;
	rec_send(&e->a, ar, 0x2222, &off, 10 * MIB, false);
	CU_ASSERT_EQUAL(off, WIN);
	CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
	CU_ASSERT_EQUAL(fy_buf_len(&tp->p.pending), WIN);
	CU_ASSERT_EQUAL(tp->c.sink_len, 0);
	CU_ASSERT(tp->c.want_wr);
	CU_ASSERT_EQUAL(ar->s->send_credit, 0);
	CU_ASSERT_EQUAL(fy_mux_send_room(e->a.h.m, ar->s), 0);

	/* The socket takes 100000 bytes: under half a window, no credit yet. */
	tp->c.budget = 100000;
	fy_pump_writable(&tp->p);
	CU_ASSERT_EQUAL(tp->c.sink_len, 100000);
	CU_ASSERT_EQUAL(fy_buf_len(&tp->p.pending), WIN - 100000);
	CU_ASSERT(tp->c.want_wr);
	CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
	CU_ASSERT_EQUAL(ar->s->send_credit, 0);
	/* 50000 more: 150000 accepted, credit for exactly that. */
	tp->c.budget = 50000;
	fy_pump_writable(&tp->p);
	CU_ASSERT_EQUAL(tp->c.sink_len, 150000);
	CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
	CU_ASSERT_EQUAL(ar->s->send_credit, 150000);
	CU_ASSERT_EQUAL(ar->credits, 1);
	/* The peer uses it all: pending is back to exactly one window. */
	rec_send(&e->a, ar, 0x2222, &off, 10 * MIB, false);
	CU_ASSERT_EQUAL(off, WIN + 150000);
	CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
	CU_ASSERT_EQUAL(fy_buf_len(&tp->p.pending), WIN);
	/* A trickle of budget per round; the peer keeps sending 2 MiB. */
	tp->c.refill = 30000;
	for (int i = 0; i < 1000 && off < 2 * MIB; i++) {
		rec_send(&e->a, ar, 0x2222, &off, 2 * MIB, false);
		run(e);
		returned = ar->s->send_credit + off - WIN;
		CU_ASSERT(returned <= tp->c.sink_len);
		CU_ASSERT(fy_buf_len(&tp->p.pending) <= WIN);
	}
	tp->c.refill = 0;
	tp->c.budget = UNLIMITED;
	fy_pump_writable(&tp->p);
	CU_ASSERT_EQUAL(off, 2 * MIB);
	CU_ASSERT_EQUAL(tp->c.sink_len, 2 * MIB);
	CU_ASSERT_EQUAL(tp->c.sink_bad, 0);
	CU_ASSERT_EQUAL(tp->p.tx, 2 * MIB);
	CU_ASSERT_EQUAL(fy_buf_len(&tp->p.pending), 0);
	CU_ASSERT_PTR_NULL(tp->p.pending.data);	/* idle: storage released */
	CU_ASSERT_FALSE(tp->c.want_wr);
	CU_ASSERT(tp->max_pending <= WIN);
	CU_ASSERT_EQUAL(tp->done, 0);
	env_free(e);
}

/* A connection that keeps up: no pending buffer at all. */
static void test_peer_to_conn_fast(void)
{
	struct env *e = env_new(WIN, false, true);
	struct tpump *tp = relay_pump(e, 22);
	struct mh_rec *ar;
	size_t off = 0;

	CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
	ar = agent_rec(e);
	for (int i = 0; i < 100 && off < MIB; i++) {
		rec_send(&e->a, ar, 0x2222, &off, MIB, false);
		run(e);
		CU_ASSERT_PTR_NULL(tp->p.pending.data);
	}
	CU_ASSERT_EQUAL(tp->c.sink_len, MIB);
	CU_ASSERT_EQUAL(tp->c.sink_bad, 0);
	CU_ASSERT_EQUAL(tp->max_pending, 0);
	CU_ASSERT_FALSE(tp->c.want_wr);
	env_free(e);
}

/* Peer FIN: shutdown_wr only once pending is written, never before. */
static void test_peer_fin_shutdown(void)
{
	static const struct {
		size_t n;
		size_t budgets[3];	/* successive budgets, writable after each */
		int shut_after;		/* index of the budget after which shut */
	} v[] = {
		{ 5000, { 2000, 2999, 1 }, 2 },
		{ 5000, { 0, 5000, 0 }, 1 },
		{ 10, { UNLIMITED }, 0 },
		{ 0, { 0 }, 0 },
	};

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		struct env *e = env_new(WIN, false, true);
		struct tpump *tp = relay_pump(e, 22);
		struct mh_rec *ar;
		size_t off = 0;

		CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
		ar = agent_rec(e);
		tp->c.budget = v[i].n ? 0 : UNLIMITED;
		rec_send(&e->a, ar, 0x2222, &off, v[i].n, true);
		CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
		CU_ASSERT(tp->p.s->flags & FY_S_REMOTE_FIN);
		if (v[i].n) {
			CU_ASSERT_EQUAL(tp->c.shut, 0);
			CU_ASSERT_EQUAL(fy_buf_len(&tp->p.pending), v[i].n);
		}
		for (int j = 0; j < 3 && v[i].n; j++) {
			tp->c.budget = v[i].budgets[j];
			fy_pump_writable(&tp->p);
			CU_ASSERT_EQUAL(tp->c.shut, j >= v[i].shut_after ? 1 : 0);
			if (j >= v[i].shut_after)
				break;
		}
		CU_ASSERT_EQUAL(tp->c.shut, 1);
		CU_ASSERT_EQUAL(tp->c.sink_at_shut, v[i].n);
		CU_ASSERT_EQUAL(tp->c.pending_at_shut, 0);
		CU_ASSERT_EQUAL(tp->c.sink_bad, 0);
		CU_ASSERT(tp->p.wr_shut);
		CU_ASSERT_FALSE(tp->c.want_wr);
		CU_ASSERT_EQUAL(tp->done, 0);	/* our direction is still open */
		env_free(e);
	}
}

/* Both directions end, in any order: on_done(0), stream freed, no RESET. */
static void test_both_ended(void)
{
	enum { EOF_FIRST, FIN_FIRST, FIN_PENDING_THEN_EOF };
	static const int orders[] = { EOF_FIRST, FIN_FIRST, FIN_PENDING_THEN_EOF };

	for (size_t i = 0; i < ARRAY_LEN(orders); i++) {
		struct env *e = env_new(WIN, false, true);
		struct tpump *tp = relay_pump(e, 22);
		struct mh_rec *ar;
		size_t off = 0;

		CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
		ar = agent_rec(e);
		ar->seed = 0x1111;
		ar->auto_consume = true;
		fy_pump_readable(&tp->p);
		tp->c.rq_avail = 3000;
		if (orders[i] == EOF_FIRST) {
			tp->c.eof = true;
			run(e);
			CU_ASSERT_EQUAL(ar->fins, 1);
			CU_ASSERT_EQUAL(tp->done, 0);
			rec_send(&e->a, ar, 0x2222, &off, 4000, true);
			run(e);
		} else if (orders[i] == FIN_FIRST) {
			rec_send(&e->a, ar, 0x2222, &off, 4000, true);
			run(e);
			CU_ASSERT_EQUAL(tp->c.shut, 1);
			CU_ASSERT_EQUAL(tp->done, 0);
			tp->c.eof = true;
			run(e);
		} else {
			tp->c.budget = 0;
			rec_send(&e->a, ar, 0x2222, &off, 4000, true);
			tp->c.eof = true;
			run(e);
			CU_ASSERT_EQUAL(tp->c.shut, 0);
			CU_ASSERT_EQUAL(tp->done, 0);
			CU_ASSERT_EQUAL(fy_buf_len(&tp->p.pending), 4000);
			tp->c.budget = UNLIMITED;
			fy_pump_writable(&tp->p);
			run(e);
		}
		CU_ASSERT_EQUAL(tp->done, 1);
		CU_ASSERT_EQUAL(tp->done_code, 0);
		CU_ASSERT(tp->done_s_null);
		CU_ASSERT_PTR_NULL(tp->p.s);
		CU_ASSERT(tp->p.done);
		CU_ASSERT_EQUAL(tp->c.sink_len, 4000);
		CU_ASSERT_EQUAL(tp->c.sink_bad, 0);
		CU_ASSERT_EQUAL(ar->rx, 3000);
		CU_ASSERT_EQUAL(ar->bad, 0);
		CU_ASSERT_EQUAL(ar->resets, 0);
		CU_ASSERT_EQUAL(fy_mux_stream_count(e->r.h.m), 0);
		CU_ASSERT_EQUAL(fy_sess_count(&e->r.h.tbl), 0);
		/* Later events are no-ops on a done pump. */
		fy_pump_readable(&tp->p);
		fy_pump_writable(&tp->p);
		CU_ASSERT_EQUAL(tp->done, 1);
		/* The peer saw both FINs and closes its side. */
		CU_ASSERT_EQUAL(ar->fins, 1);
		fy_mux_stream_close(e->a.h.m, ar->s);
		env_free(e);
	}
}

/* Peer RESET: on_done with its code (0 becomes GONE); pending dropped;
 * nothing sent back. */
static void test_peer_reset(void)
{
	static const struct {
		uint32_t code, want;
		const char *msg;
		bool pending;
	} v[] = {
		{ FY_E_REFUSED, FY_E_REFUSED, "connect 127.0.0.1:22: Connection refused", false },
		{ FY_E_TIMEOUT, FY_E_TIMEOUT, "deadline", true },
		{ 0, FY_E_GONE, "odd peer", false },
	};

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		struct env *e = env_new(WIN, false, true);
		struct tpump *tp = relay_pump(e, 22);
		struct mh_rec *ar;
		size_t off = 0;

		CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
		ar = agent_rec(e);
		if (v[i].pending) {
			tp->c.budget = 0;
			rec_send(&e->a, ar, 0x2222, &off, 1000, false);
			CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
			CU_ASSERT_EQUAL(fy_buf_len(&tp->p.pending), 1000);
		}
		fy_mux_reset(e->a.h.m, ar->s, v[i].code, v[i].msg);
		CU_ASSERT_EQUAL(xfer(e, &e->a, &e->r), 12 + 6 + (long)strlen(v[i].msg));
		CU_ASSERT_EQUAL(tp->done, 1);
		CU_ASSERT_EQUAL(tp->done_code, v[i].want);
		CU_ASSERT_STRING_EQUAL(tp->done_why, v[i].msg);
		CU_ASSERT_PTR_NULL(tp->p.s);
		CU_ASSERT_EQUAL(fy_mux_stream_count(e->r.h.m), 0);
		CU_ASSERT_EQUAL(fy_buf_len(fy_mux_out(e->r.h.m)), 0);	/* no RESET back */
		CU_ASSERT_EQUAL(tp->c.shut, 0);
		tp->c.budget = UNLIMITED;
		fy_pump_writable(&tp->p);
		CU_ASSERT_EQUAL(tp->c.sink_len, 0);
		env_free(e);
	}
}

/* The connection fails (recv, send from pending, send on the fast path,
 * or the owner's loop): RESET to the peer with a reason, on_done(GONE). */
static void test_conn_error(void)
{
	enum { RECV, SEND_PENDING, SEND_FAST, OWNER };
	static const struct {
		int where;
		int err;
		const char *want;
	} v[] = {
		{ RECV, -ECONNRESET, "Connection reset by peer" },
		{ SEND_PENDING, -EPIPE, "Broken pipe" },
		{ SEND_FAST, -EPIPE, "Broken pipe" },
		{ OWNER, -ETIMEDOUT, "Connection timed out" },
		{ OWNER, ECONNRESET, "Connection reset by peer" },
	};

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		struct env *e = env_new(WIN, false, true);
		struct tpump *tp = relay_pump(e, 22);
		struct mh_rec *ar;
		size_t off = 0;

		CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
		ar = agent_rec(e);
		switch (v[i].where) {
		case RECV:
			tp->c.rerr = v[i].err;
			fy_pump_readable(&tp->p);
			break;
		case SEND_PENDING:
			tp->c.budget = 0;
			rec_send(&e->a, ar, 0x2222, &off, 1000, false);
			CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
			tp->c.serr = v[i].err;
			fy_pump_writable(&tp->p);
			break;
		case SEND_FAST:
			tp->c.serr = v[i].err;
			rec_send(&e->a, ar, 0x2222, &off, 1000, false);
			CU_ASSERT_EQUAL_FATAL(xfer(e, &e->a, &e->r), 1012);
			break;
		case OWNER:
			fy_pump_conn_error(&tp->p, v[i].err);
			break;
		}
		CU_ASSERT_EQUAL(tp->done, 1);
		CU_ASSERT_EQUAL(tp->done_code, FY_E_GONE);
		CU_ASSERT_PTR_NULL(tp->p.s);
		CU_ASSERT_EQUAL(fy_mux_stream_count(e->r.h.m), 0);
		CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
		CU_ASSERT_EQUAL(ar->resets, 1);
		CU_ASSERT_EQUAL(ar->reset_code, FY_E_GONE);
		CU_ASSERT_PTR_NOT_NULL(strstr(ar->reset_msg, v[i].want));
		CU_ASSERT_PTR_NOT_NULL(strstr(tp->done_why, v[i].want));
		CU_ASSERT_EQUAL(fy_mux_stream_count(e->a.h.m), 0);
		/* A second error report changes nothing. */
		fy_pump_conn_error(&tp->p, -EIO);
		fy_pump_abort(&tp->p, FY_E_LIMIT, "late");
		CU_ASSERT_EQUAL(tp->done, 1);
		CU_ASSERT_EQUAL(fy_buf_len(fy_mux_out(e->r.h.m)), 0);
		env_free(e);
	}
}

/* The owner aborts (deadline, limits): RESET with its code, on_done. */
static void test_abort(void)
{
	struct env *e = env_new(WIN, false, true);
	struct tpump *tp = relay_pump(e, 22);
	struct mh_rec *ar;

	CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
	ar = agent_rec(e);
	fy_pump_abort(&tp->p, FY_E_SHUTDOWN, "relay shutting down");
	CU_ASSERT_EQUAL(tp->done, 1);
	CU_ASSERT_EQUAL(tp->done_code, FY_E_SHUTDOWN);
	CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
	CU_ASSERT_EQUAL(ar->resets, 1);
	CU_ASSERT_EQUAL(ar->reset_code, FY_E_SHUTDOWN);
	CU_ASSERT_STRING_EQUAL(ar->reset_msg, "relay shutting down");
	env_free(e);
}

/* Outgoing connect fails: RESET(REFUSED, "connect <target>: <error>"). */
static void test_connect_refused(void)
{
	static const struct {
		int err;
		const char *target, *want;
	} v[] = {
		{ -ECONNREFUSED, "127.0.0.1:1", "connect 127.0.0.1:1: Connection refused" },
		{ -EHOSTUNREACH, "[::1]:22", "connect [::1]:22: No route to host" },
		{ -ETIMEDOUT, "10.0.0.1:80", "connect 10.0.0.1:80: Connection timed out" },
	};

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		struct env *e = env_new(WIN, true, false);
		struct mh_rec *rr = relay_rec(e, 22, 0x2222);
		struct tpump *tp;

		CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
		CU_ASSERT_EQUAL_FATAL(e->a.ntp, 1);
		tp = &e->a.tp[0];
		CU_ASSERT_FALSE(tp->p.connected);
		fy_pump_readable(&tp->p);	/* spurious: nothing happens */
		CU_ASSERT_EQUAL(tp->c.recvs, 0);
		CU_ASSERT_FALSE(tp->c.want_rd);
		CU_ASSERT(tp->c.want_wr);	/* waiting for the connect */
		fy_pump_connected(&tp->p, v[i].err, v[i].target);
		CU_ASSERT_EQUAL(tp->done, 1);
		CU_ASSERT_EQUAL(tp->done_code, FY_E_REFUSED);
		CU_ASSERT_EQUAL(fy_mux_stream_count(e->a.h.m), 0);
		CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
		CU_ASSERT_EQUAL(rr->resets, 1);
		CU_ASSERT_EQUAL(rr->reset_code, FY_E_REFUSED);
		CU_ASSERT_STRING_EQUAL(rr->reset_msg, v[i].want);
		CU_ASSERT_EQUAL(fy_mux_stream_count(e->r.h.m), 0);
		CU_ASSERT_EQUAL(tp->c.sends + tp->c.recvs + tp->c.shut, 0);
		env_free(e);
	}
}

/* Data (and even FIN) from the peer before the connect completes is
 * buffered, then written and the FIN passed on once connected. */
static void test_data_before_connect(void)
{
	for (int with_fin = 0; with_fin < 2; with_fin++) {
		struct env *e = env_new(WIN, true, false);
		struct mh_rec *rr = relay_rec(e, 22, 0x2222);
		struct tpump *tp;
		size_t off = 0;

		rr->auto_consume = true;
		rec_send(&e->r, rr, 0x1111, &off, 10000, with_fin);
		CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
		CU_ASSERT_EQUAL_FATAL(e->a.ntp, 1);
		tp = &e->a.tp[0];
		tp->c.rq_avail = 500;	/* the target's greeting, once connected */
		CU_ASSERT_EQUAL(fy_buf_len(&tp->p.pending), 10000);
		CU_ASSERT_EQUAL(tp->c.sends + tp->c.recvs + tp->c.shut, 0);
		CU_ASSERT_EQUAL(rr->s->send_credit, WIN - 10000);
		fy_pump_writable(&tp->p);	/* spurious before connect */
		CU_ASSERT_EQUAL(tp->c.sends, 0);
		fy_pump_connected(&tp->p, 0, "127.0.0.1:22");
		CU_ASSERT(tp->p.connected);
		CU_ASSERT_EQUAL(tp->c.sink_len, 10000);
		CU_ASSERT_EQUAL(tp->c.sink_bad, 0);
		CU_ASSERT_EQUAL(tp->c.shut, with_fin ? 1 : 0);
		CU_ASSERT_EQUAL(tp->c.sink_at_shut, with_fin ? 10000u : 0u);
		CU_ASSERT_EQUAL(tp->c.rq_off, 500);	/* and it reads now */
		CU_ASSERT(tp->c.want_rd);
		run(e);
		CU_ASSERT_EQUAL(rr->rx, 500);
		CU_ASSERT_EQUAL(rr->bad, 0);
		tp->c.eof = true;
		if (!with_fin)
			rec_send(&e->r, rr, 0x1111, &off, 10000, true);
		run(e);
		CU_ASSERT_EQUAL(tp->done, 1);
		CU_ASSERT_EQUAL(tp->done_code, 0);
		CU_ASSERT_EQUAL(rr->fins, 1);
		CU_ASSERT_EQUAL(fy_mux_stream_count(e->a.h.m), 0);
		fy_mux_stream_close(e->r.h.m, rr->s);
		env_free(e);
	}
}

/* Two pumps end to end (client <-> relay pump <-> muxes <-> agent pump
 * <-> target), slow sinks on both ends, both directions, clean close. */
static void test_end_to_end(void)
{
	static const struct {
		size_t up, down, per_round, per_call;
		uint32_t window;
	} v[] = {
		{ 2 * MIB, MIB, 50000, 3000, WIN },
		{ 300000, 5, 1000, 17, 16384 },
		{ 0, 3 * MIB, UNLIMITED, 0, MIB },
	};

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		struct env *e = env_new(v[i].window, true, false);
		struct tpump *cl = relay_pump(e, 22), *tg;

		CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
		CU_ASSERT_EQUAL_FATAL(e->a.ntp, 1);
		tg = &e->a.tp[0];
		fy_pump_connected(&tg->p, 0, "127.0.0.1:22");
		fy_pump_readable(&cl->p);
		cl->c.rq_avail = v[i].up;
		cl->c.eof = true;
		tg->c.rq_avail = v[i].down;
		tg->c.eof = true;
		cl->c.refill = tg->c.refill = v[i].per_round;
		cl->c.max_per_call = tg->c.max_per_call = v[i].per_call;
		run(e);
		CU_ASSERT_EQUAL(tg->c.sink_len, v[i].up);
		CU_ASSERT_EQUAL(cl->c.sink_len, v[i].down);
		CU_ASSERT_EQUAL(tg->c.sink_bad + cl->c.sink_bad, 0);
		CU_ASSERT_EQUAL(cl->done, 1);
		CU_ASSERT_EQUAL(tg->done, 1);
		CU_ASSERT_EQUAL(cl->done_code, 0);
		CU_ASSERT_EQUAL(tg->done_code, 0);
		CU_ASSERT_EQUAL(cl->c.shut + tg->c.shut, 2);
		CU_ASSERT(cl->max_pending <= v[i].window);
		CU_ASSERT(tg->max_pending <= v[i].window);
		CU_ASSERT_EQUAL(fy_mux_stream_count(e->r.h.m), 0);
		CU_ASSERT_EQUAL(fy_mux_stream_count(e->a.h.m), 0);
		CU_ASSERT_EQUAL(e->r.h.err + e->a.h.err, 0);
		env_free(e);
	}
}

/* Tunnel teardown: fy_mux_destroy ends the pump with GONE. */
static void test_tunnel_gone(void)
{
	struct env *e = env_new(WIN, false, true);
	struct tpump *tp = relay_pump(e, 22);

	CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
	fy_mux_destroy(e->r.h.m, "tunnel to agent lost");
	e->r.h.m = NULL;
	CU_ASSERT_EQUAL(tp->done, 1);
	CU_ASSERT_EQUAL(tp->done_code, FY_E_GONE);
	CU_ASSERT_STRING_EQUAL(tp->done_why, "tunnel to agent lost");
	CU_ASSERT_PTR_NULL(tp->p.s);
	fy_mux_stream_close(e->a.h.m, agent_rec(e)->s);
	env_free(e);
}

/* ---- regressions ---- */

/* BUG lib/mux.c:441-446 with lib/pump.c:186: on_data() in the mux
 * assumes the owner's on_data does not free the stream ("on_data may not
 * free s"), but fy_pump_on_data() does when the connection's send fails:
 * fy_pump_conn_error -> fail -> fy_mux_reset -> stream_unlink_free. If
 * that DATA frame carried FIN, the mux then writes s->flags and calls
 * on_fin with the freed stream (heap-use-after-free; ASan reports it at
 * mux.c:444). Fix (mux.c on_data): after calling on_data, look the stream
 * up again (`s = stream_get(m, h->stream); if (!s) return 0;`) before
 * handling FIN. */
static void test_bug_send_error_on_data_fin(void)
{
	struct env *e = env_new(WIN, false, true);
	struct tpump *tp = relay_pump(e, 22);
	struct mh_rec *ar;
	size_t off = 0;

	CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
	ar = agent_rec(e);
	tp->c.serr = -EPIPE;
	rec_send(&e->a, ar, 0x2222, &off, 100, true);	/* one DATA+FIN frame */
	CU_ASSERT_EQUAL(xfer(e, &e->a, &e->r), 112);
	CU_ASSERT_EQUAL(tp->done, 1);
	CU_ASSERT_EQUAL(tp->done_code, FY_E_GONE);
	CU_ASSERT_EQUAL(e->r.stale, 0);	/* no callback for the freed stream */
	e->r.stale = 0;			/* reported once, above */
	CU_ASSERT_EQUAL_FATAL(shuttle(e), 0);
	CU_ASSERT_EQUAL(ar->resets, 1);
	env_free(e);
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "conn -> stream -> peer, EOF -> FIN", test_conn_to_peer },
		{ "peer -> full conn: pending, credit, flush", test_peer_to_conn_partial },
		{ "peer -> fast conn: no pending", test_peer_to_conn_fast },
		{ "peer FIN -> shutdown_wr after drain", test_peer_fin_shutdown },
		{ "both ended -> on_done(0)", test_both_ended },
		{ "peer RESET -> on_done(code)", test_peer_reset },
		{ "conn error -> RESET + on_done(GONE)", test_conn_error },
		{ "owner abort", test_abort },
		{ "connect refused -> RESET(REFUSED)", test_connect_refused },
		{ "data before connect", test_data_before_connect },
		{ "two pumps end to end", test_end_to_end },
		{ "tunnel destroyed -> on_done(GONE)", test_tunnel_gone },
	};
	static const struct cu_test bugs[] = {
		{ "regression: send error on DATA+FIN: use after free", test_bug_send_error_on_data_fin },
	};
	static const struct cu_suite suites[] = {
		{ "pump", NULL, tests, ARRAY_LEN(tests) },
		{ "pump regressions", NULL, bugs, ARRAY_LEN(bugs) },
	};

	return cu_run_suites(suites, ARRAY_LEN(suites));
}
