/* Names of -R targets resolved off the event loop. getaddrinfo blocks (a
 * slow DNS server or an mDNS ".local" name can take seconds), and the
 * agent is one loop: a lookup there would stall every tunnel and stream.
 * A few helper threads do the lookups (so one slow name does not hold up
 * the others); results come back through an eventfd the loop watches. Each forward keeps its last address for RES_TTL_MS; a
 * stale one is still used while a fresh lookup runs, and a stream that
 * finds none waits, unconnected (its data held by the pump), for the
 * first answer. Numeric targets never reach the thread.
 *
 * Ownership: the agent owns the resolver, except when threads are caught
 * in getaddrinfo at exit: they are left to finish, and the last one frees
 * it. */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent.h"
#include "ferry/sock.h"

#define TOPIC "agent.resolve"
#define RES_THREADS 4

struct res_slot {
	char host[256];
	uint16_t port;
	bool want, done;
	int err;
	struct sockaddr_storage ss;
	socklen_t sl;
};

struct resolver {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thr[RES_THREADS];
	unsigned nthr, alive, busy;
	int efd;
	bool stop, orphan;
	struct res_slot q[AGENT_MAX_FWDS];
};

static void res_free(struct resolver *r)
{
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
}

static void *res_thread(void *arg)
{
	struct resolver *r = arg;
	bool last_orphan;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		struct res_slot *s = NULL, done;

		for (unsigned i = 0; i < AGENT_MAX_FWDS && !s; i++)
			if (r->q[i].want)
				s = &r->q[i];
		if (!s) {
			pthread_cond_wait(&r->cv, &r->mu);
			continue;
		}
		s->want = false;
		r->busy++;
		done = *s;
		pthread_mutex_unlock(&r->mu);
		done.err = fy_sock_resolve(done.host, done.port, &done.ss, &done.sl, 0);
		pthread_mutex_lock(&r->mu);
		r->busy--;
		s->err = done.err;
		s->ss = done.ss;
		s->sl = done.sl;
		s->done = true;
		if (!r->stop)
			(void)!write(r->efd, &(uint64_t){ 1 }, sizeof(uint64_t));
	}
	last_orphan = --r->alive == 0 && r->orphan;
	pthread_mutex_unlock(&r->mu);
	if (last_orphan)
		res_free(r);
	return NULL;
}

/* The resolution of forward i is in: apply it and serve the waiters. */
static void res_apply(struct agent *a, unsigned i, const struct res_slot *s)
{
	struct fwd_state *st = &a->fstate[i];
	struct fwd *f = &a->cfg.fwds[i];

	st->pending = false;
	if (s->err == 0) {
		if (!st->have || memcmp(&st->ss, &s->ss, s->sl))
			FY_DEBUG(TOPIC, "%s resolved", f->host);
		st->ss = s->ss;
		st->sl = s->sl;
		st->have = true;
		st->at_ms = a->now_ms;
	} else {
		/* Keep an address we had: the name server may be down for a
		 * moment; the next stream asks again. */
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "cannot resolve %s: %s%s", f->host,
			  s->err == -ENOENT ? "name not found" : strerror(-s->err),
			  st->have ? " (using the last address)" : "");
	}
	forward_resolved(a, i, st->have ? 0 : (s->err ? s->err : -ENOENT));
}

static void on_result(struct fy_loop *l, int fd, uint32_t ev, void *arg)
{
	struct agent *a = arg;
	struct resolver *r = a->res;
	struct res_slot got[AGENT_MAX_FWDS];
	bool have[AGENT_MAX_FWDS] = { false };
	uint64_t n;

	(void)l;
	(void)ev;
	(void)!read(fd, &n, sizeof(n));
	pthread_mutex_lock(&r->mu);
	for (unsigned i = 0; i < a->cfg.nfwds; i++) {
		if (r->q[i].done) {
			got[i] = r->q[i];
			have[i] = true;
			r->q[i].done = false;
		}
	}
	pthread_mutex_unlock(&r->mu);
	for (unsigned i = 0; i < a->cfg.nfwds; i++)
		if (have[i])
			res_apply(a, i, &got[i]);
}

int res_start(struct agent *a)
{
	struct resolver *r = calloc(1, sizeof(*r));
	int e = 0;

	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0)
		e = -errno;
	else
		e = fy_loop_add(a->loop, r->efd, FY_EV_READ, on_result, a);
	if (e < 0)
		goto fail;
	for (; r->nthr < RES_THREADS; r->nthr++) {
		pthread_mutex_lock(&r->mu);
		r->alive++;
		pthread_mutex_unlock(&r->mu);
		e = pthread_create(&r->thr[r->nthr], NULL, res_thread, r);
		if (e) {
			pthread_mutex_lock(&r->mu);
			r->alive--;
			pthread_mutex_unlock(&r->mu);
			break;
		}
	}
	if (!r->nthr) {		/* one thread will do; none will not */
		fy_loop_del(a->loop, r->efd);
		e = -e;
		goto fail;
	}
	a->res = r;
	/* Numeric targets are addresses already; names get looked up now,
	 * so that the first stream usually finds one. */
	for (unsigned i = 0; i < a->cfg.nfwds; i++) {
		struct fwd_state *st = &a->fstate[i];

		if (fy_sock_resolve_numeric(a->cfg.fwds[i].host, a->cfg.fwds[i].hostport,
					    &st->ss, &st->sl) == 0)
			st->numeric = st->have = true;
		else
			res_request(a, i);
	}
	return 0;
fail:
	if (r->efd >= 0)
		close(r->efd);
	res_free(r);
	return e < 0 ? e : -EAGAIN;
}

void res_request(struct agent *a, unsigned i)
{
	struct resolver *r = a->res;
	struct fwd_state *st = &a->fstate[i];

	if (st->pending || st->numeric)
		return;
	st->pending = true;
	pthread_mutex_lock(&r->mu);
	snprintf(r->q[i].host, sizeof(r->q[i].host), "%s", a->cfg.fwds[i].host);
	r->q[i].port = a->cfg.fwds[i].hostport;
	r->q[i].want = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

void res_stop(struct agent *a)
{
	struct resolver *r = a->res;
	pthread_t thr[RES_THREADS];
	unsigned n;
	bool busy;

	if (!r)
		return;
	a->res = NULL;
	fy_loop_del(a->loop, r->efd);
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	busy = r->orphan = r->busy > 0;
	n = r->nthr;
	memcpy(thr, r->thr, sizeof(thr));
	close(r->efd);		/* no write after stop: the threads check it */
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	for (unsigned i = 0; i < n; i++) {
		if (busy)
			pthread_detach(thr[i]);	/* the last one out frees r */
		else
			pthread_join(thr[i], NULL);
	}
	if (busy)
		FY_DEBUG(TOPIC, "a lookup is still running: not waiting for it");
	else
		res_free(r);
}
