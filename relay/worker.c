/* A worker's periodic and wake-up work, the same on every backend: its
 * inbox's messages, timers, SIGTERM drain, batched tunnel flushes, and
 * deferred frees. Runs only on the worker's own thread (or lcore). */
#include <stdlib.h>

#include "backend.h"
#include "ctl.h"
#include "engine.h"
#include "inbox.h"
#include "ingress.h"
#include "join.h"
#include "public.h"
#include "pubudp.h"
#include "relay-t.h"
#include "srcaddr.h"
#include "tunnel.h"
#include "public-t.h"
#include "worker.h"

int worker_init(struct worker *w, struct relay *r, unsigned id)
{
	w->r = r;
	w->id = id;
	inbox_init(w);
	fy_pool_init(&w->stream_pool, sizeof(struct fy_stream), 256);
	fy_pool_init(&w->pub_pool, sizeof(struct pubconn), 256);
	fy_pool_init(&w->join_pool, join_end_size(), 64);
	fy_pool_init(&w->udp_pool, pubudp_flow_size(), 64);
	fy_pool_init(&w->ic_pool, ingress_conn_size(), 64);
	fy_log_sum_init(&w->auth_log, FY_LOG_WARN, "relay.tunnel", "agents refused", 10000);
	if (fy_sess_init(&w->streams, 1024) < 0 || fy_sess_init(&w->tunnels, 64) < 0 ||
	    fy_sess_init(&w->joins, 64) < 0)
		return -1;
	return 0;
}

void worker_fini(struct worker *w)
{
	fy_sess_fini(&w->streams);
	fy_sess_fini(&w->tunnels);
	fy_sess_fini(&w->joins);
	if (w->stream_pool.in_use || w->pub_pool.in_use || w->join_pool.in_use ||
	    w->udp_pool.in_use || w->ic_pool.in_use)
		FY_ERR("relay.worker", "worker %u stops with %zu streams, %zu connections, %zu "
		       "joins and %zu UDP flows not freed", w->id, w->stream_pool.in_use,
		       w->pub_pool.in_use, w->join_pool.in_use, w->udp_pool.in_use);
	fy_pool_fini(&w->stream_pool);
	fy_pool_fini(&w->pub_pool);
	fy_pool_fini(&w->join_pool);
	fy_pool_fini(&w->udp_pool);
	fy_pool_fini(&w->ic_pool);
}

/* discard: the worker is stopping; what arrives now is closed. */
static void handle_inbox(struct worker *w, bool discard)
{
	struct msg *m;

	while ((m = inbox_take(w))) {
		switch (m->kind) {
		case MSG_TUNNEL:
			tunnel_adopt(w, m->t);	/* the message is the tunnel's own */
			if (discard)
				tunnel_close(m->t, FY_E_SHUTDOWN, "relay shutting down");
			continue;
		case MSG_LISTEN:
			if (discard)
				engine_session_put(w->r, m->sess);
			else
				engine_listen_extra(w, m->port, m->sess);
			break;
		case MSG_PUBLIC:
			if (discard)
				w->r->be->close(w, m->io, true);
			else
				public_start(w, m->io, m->port, &m->peer, m->sess_serial);
			break;
		case MSG_JOIN:
			join_handle(w, m, discard);	/* the join's own message */
			continue;
		case MSG_CTL:
			ctl_handle(w, m->ctl, discard);
			break;
		case MSG_UNLISTEN:
			engine_unlisten_extra(w, m->port, m->sess);
			break;
		}
		free(m);
	}
}

void worker_wakeup(struct worker *w)
{
	handle_inbox(w, false);
	tunnel_read_more(w);
	ingress_read_more(w);
	engine_release_dead_extra(w);
	tunnel_close_dead(w);
}

static void gc(struct worker *w)
{
	public_gc(w);
	ingress_gc(w);
	tunnel_gc(w);
}

/* SIGTERM: stop accepting, GOAWAY every tunnel, let streams finish until
 * the deadline, then close. Returns true when this worker may stop. */
static bool drain_step(struct worker *w, uint64_t now)
{
	struct relay *r = w->r;
	unsigned total = 0;

	if (!w->drain_started) {
		w->drain_started = true;
		w->drain_deadline_ms = now + r->cfg.drain_ms;
		r->be->stop_accepting(w);
		engine_release_ports(w, NULL);
		ingress_stop_listening(w);
		tunnel_goaway_all(w, FY_E_SHUTDOWN, "relay shutting down");
	}
	atomic_store(&r->live_streams[w->id], (unsigned)fy_sess_count(&w->streams));
	for (unsigned i = 0; i < r->nworkers; i++) {
		unsigned n = atomic_load(&r->live_streams[i]);

		if (n == LIVE_UNKNOWN)	/* that worker has not looked yet */
			return now >= w->drain_deadline_ms;
		total += n;
	}
	/* Sessions span workers: wait until every worker is idle, or time out. */
	return total == 0 || now >= w->drain_deadline_ms;
}

/* For /metrics: levels the admin thread reads (tunnel.c publishes each
 * tunnel's bytes and streams into its session at the same tick). */
static void publish(struct worker *w)
{
	unsigned n = 0;

	for (struct tunnel *t = w->tunnel_list; t; t = t->next)
		n += t->state == TUN_ACTIVE;
	atomic_store_explicit(&w->pub.tunnels, n, memory_order_relaxed);
	atomic_store_explicit(&w->pub.streams, (unsigned)fy_sess_count(&w->streams),
			      memory_order_relaxed);
}

void worker_publish_busy(struct worker *w, uint64_t busy_us, uint64_t loop_us, uint64_t now_ms)
{
	atomic_store_explicit(&w->pub.busy_us, busy_us, memory_order_relaxed);
	atomic_store_explicit(&w->pub.loop_us, loop_us, memory_order_relaxed);
	if (now_ms - w->pub_at_ms < 1000)
		return;
	/* The share of the last second (or so) the loop spent working. */
	if (loop_us > w->pub_loop_us)
		atomic_store_explicit(&w->pub.busy_ppm, (unsigned)((busy_us - w->pub_busy_us) *
				      1000000 / (loop_us - w->pub_loop_us)), memory_order_relaxed);
	w->pub_busy_us = busy_us;
	w->pub_loop_us = loop_us;
	w->pub_at_ms = now_ms;
}

bool worker_step(struct worker *w, uint64_t now)
{
	struct relay *r = w->r;

	if (atomic_load(&r->stop))
		return true;
	if (now - w->last_tick_ms >= WORKER_TICK_MS) {
		tunnel_tick(w, now);
		pubudp_tick(w, now);
		ingress_tick(w, now);
		engine_expire_names(w, now);
		/* Source addresses that hold nothing go back to the table:
		 * all of it every 16 ticks. */
		if (w->id == 0)
			r->src_sweep = src_sweep(r->src, r->src_sweep, SRC_SLOTS / 16, now);
		ctl_tick(w, now);
		publish(w);
		w->last_tick_ms = now;
	}
	if (atomic_load(&r->draining) && drain_step(w, now)) {
		tunnel_flush_dirty(w);
		return true;
	}
	tunnel_flush_dirty(w);
	gc(w);
	return false;
}

void worker_finish(struct worker *w)
{
	while (w->tunnel_list)
		tunnel_close(w->tunnel_list, FY_E_SHUTDOWN, "relay shutting down");
	engine_release_ports(w, NULL);
	ingress_stop(w);
	handle_inbox(w, true);
	ctl_fini(w);
	tunnel_flush_dirty(w);
	gc(w);
}
