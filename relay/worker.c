/* A worker's periodic and wake-up work, the same on every backend: the
 * inbox of handed-over connections, timers, SIGTERM drain, batched tunnel
 * flushes, and deferred frees. Runs only on the worker's own thread. */
#include <stdlib.h>

#include "relay.h"

void worker_send(struct worker *to, struct msg *m)
{
	cds_wfcq_node_init(&m->node);
	cds_wfcq_enqueue(&to->inbox_head, &to->inbox_tail, &m->node);
	to->r->be->wake(to);
}

static void drain_inbox(struct worker *w, bool discard)
{
	struct cds_wfcq_node *n;

	/* Single consumer: only this worker dequeues its inbox. */
	while ((n = __cds_wfcq_dequeue_blocking(&w->inbox_head, &w->inbox_tail))) {
		struct msg *m = caa_container_of(n, struct msg, node);

		if (m->kind == MSG_TUNNEL) {
			tunnel_adopt(w, m->t);
			if (discard)
				tunnel_close(m->t, FY_E_SHUTDOWN, "relay shutting down");
		} else if (m->kind == MSG_LISTEN) {
			if (discard)
				engine_session_put(w->r, m->sess);
			else
				engine_listen_extra(w, m->port, m->sess);
		} else if (discard) {
			w->r->be->close(w, m->io, true);
		} else {
			public_start(w, m->io, m->port, &m->peer, m->sess_serial);
		}
		free(m);
	}
}

void worker_wakeup(struct worker *w)
{
	struct tunnel *t, *next;

	drain_inbox(w, false);
	tunnel_read_more(w);
	engine_release_dead_extra(w);
	/* Sessions killed elsewhere: close our tunnels of them now. */
	for (t = w->tunnel_list; t; t = next) {
		next = t->next;
		if (t->state == TUN_ACTIVE && atomic_load(&t->sess->dead))
			tunnel_close(t, FY_E_GONE, t->sess->dead_why);
	}
}

static void flush_dirty(struct worker *w)
{
	while (w->dirty) {
		struct tunnel *t = w->dirty;

		w->dirty = t->dirty_next;
		t->dirty = false;
		tunnel_flush(t);
	}
}

static void gc_flush(struct worker *w)
{
	while (w->gc_pub) {
		struct pubconn *pc = w->gc_pub;

		w->gc_pub = pc->gc_next;
		public_free(pc);
	}
	while (w->gc_tunnels) {
		struct tunnel *t = w->gc_tunnels;

		if (t->more_in)	/* still listed: free after the list is processed */
			break;
		w->gc_tunnels = t->gc_next;
		tunnel_free(t);
	}
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
		for (struct tunnel *t = w->tunnel_list; t; t = t->next) {
			if (t->state != TUN_ACTIVE)
				continue;
			fy_mux_goaway(t->link.mux, FY_E_SHUTDOWN, "relay shutting down");
			tunnel_mark_dirty(t);
		}
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

bool worker_step(struct worker *w, uint64_t now)
{
	struct relay *r = w->r;

	if (atomic_load(&r->stop))
		return true;
	if (now - w->last_tick_ms >= WORKER_TICK_MS) {
		tunnel_tick(w, now);
		w->last_tick_ms = now;
	}
	if (atomic_load(&r->draining) && drain_step(w, now)) {
		flush_dirty(w);
		return true;
	}
	flush_dirty(w);
	gc_flush(w);
	return false;
}

void worker_finish(struct worker *w)
{
	while (w->tunnel_list)
		tunnel_close(w->tunnel_list, FY_E_SHUTDOWN, "relay shutting down");
	engine_release_ports(w, NULL);
	drain_inbox(w, true);
	flush_dirty(w);
	gc_flush(w);
}
