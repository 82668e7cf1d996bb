/* Names resolved off the event loop. getaddrinfo blocks (a slow DNS
 * server or an mDNS ".local" name can take seconds), and the agent is one
 * loop: a lookup there would stall every tunnel and stream. A few helper
 * threads do the lookups (so one slow name does not hold up the others);
 * results come back through an eventfd the loop watches.
 *
 * The loop keeps a small cache of names (-R targets, and what other agents
 * ask this one to dial): an address is kept for RES_TTL_MS, a stale one is
 * still used while a fresh lookup runs, and a stream that finds none waits,
 * unconnected (its data held by its pump), for the first answer. Address
 * literals never reach the threads. The cache is bounded (RES_ENTRIES);
 * the least recently used name with nobody waiting makes room.
 *
 * Ownership: the agent owns the resolver, except when threads are caught
 * in getaddrinfo at exit: they are left to finish, and the last one frees
 * it. Entry i of the cache and slot i of the threads' queue go together.
 *
 * Threads start only when a name needs one: one more each time a lookup
 * is queued and no running thread is free, up to RES_THREADS. An agent
 * whose targets are all address literals (-R 2221:127.0.0.1:22, the usual
 * case on a small board) never starts any, and keeps the stacks and malloc
 * arenas they would have touched (issue 10). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent.h"
#include "ferry/sock.h"

#define TOPIC "agent.resolve"
#define RES_THREADS 4
#define RES_ENTRIES 128

/* Shared with the threads, under mu. */
struct res_slot {
	char host[FY_HOST_MAX + 1];
	bool want, done;
	int err;
	struct sockaddr_storage ss;
	socklen_t sl;
};

/* The loop's own. */
struct res_entry {
	char host[FY_HOST_MAX + 1];	/* "" : free */
	bool have, pending;
	struct sockaddr_storage ss;	/* port 0 */
	socklen_t sl;
	uint64_t at_ms, used_ms;
	struct res_waiter *waiting;
};

struct resolver {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thr[RES_THREADS];
	unsigned nthr, alive, busy;
	unsigned queued;		/* slots wanted that no thread has taken yet */
	int efd;
	bool stop, orphan;
	struct res_slot q[RES_ENTRIES];
	struct res_entry e[RES_ENTRIES];	/* the loop's, never touched by threads */
	struct res_slot got[RES_ENTRIES];	/* the loop's copy of finished slots */
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

		for (unsigned i = 0; i < RES_ENTRIES && !s; i++)
			if (r->q[i].want)
				s = &r->q[i];
		if (!s) {
			pthread_cond_wait(&r->cv, &r->mu);
			continue;
		}
		s->want = false;
		r->queued--;
		r->busy++;
		done = *s;
		pthread_mutex_unlock(&r->mu);
		done.err = fy_sock_resolve(done.host, 0, &done.ss, &done.sl, 0);
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

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* Entry i's lookup is in: keep the address and serve its waiters. */
static void res_apply(struct agent *a, unsigned i, const struct res_slot *s)
{
	struct res_entry *e = &a->res->e[i];
	struct res_waiter *w;

	e->pending = false;
	if (s->err == 0) {
		if (!e->have || memcmp(&e->ss, &s->ss, s->sl))
			FY_DEBUG(TOPIC, "%s resolved", e->host);
		e->ss = s->ss;
		e->sl = s->sl;
		e->have = true;
		e->at_ms = a->now_ms;
	} else {
		/* Keep an address we had: the name server may be down for a
		 * moment; the next stream asks again. */
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "cannot resolve %s: %s%s", e->host,
			  s->err == -ENOENT ? "name not found" : strerror(-s->err),
			  e->have ? " (using the last address)" : "");
	}
	while ((w = e->waiting) != NULL) {
		struct sockaddr_storage ss = e->ss;

		e->waiting = w->next;
		w->next = NULL;
		w->entry = -1;
		set_port(&ss, w->port);
		w->done(a, w, e->have ? 0 : (s->err ? s->err : -ENOENT), &ss, e->sl);
	}
}

static void on_result(struct fy_loop *l, int fd, uint32_t ev, void *arg)
{
	struct agent *a = arg;
	struct resolver *r = a->res;
	struct res_slot *got = r->got;
	bool have[RES_ENTRIES] = { false };
	uint64_t n;

	(void)l;
	(void)ev;
	(void)!read(fd, &n, sizeof(n));
	pthread_mutex_lock(&r->mu);
	for (unsigned i = 0; i < RES_ENTRIES; i++) {
		if (r->q[i].done) {
			got[i] = r->q[i];
			have[i] = true;
			r->q[i].done = false;
		}
	}
	pthread_mutex_unlock(&r->mu);
	for (unsigned i = 0; i < RES_ENTRIES; i++)
		if (have[i])
			res_apply(a, i, &got[i]);
}

/* The entry for host, or a fresh one (the least recently used idle entry
 * makes room); -1 when every entry is busy. */
static int entry_for(struct resolver *r, const char *host)
{
	int free_i = -1, lru = -1;

	for (int i = 0; i < RES_ENTRIES; i++) {
		struct res_entry *e = &r->e[i];

		if (e->host[0] && !strcasecmp(e->host, host))
			return i;
		if (!e->host[0]) {
			if (free_i < 0)
				free_i = i;
		} else if (!e->pending && !e->waiting &&
			   (lru < 0 || e->used_ms < r->e[lru].used_ms)) {
			lru = i;
		}
	}
	if (free_i < 0)
		free_i = lru;
	if (free_i >= 0) {
		size_t n = strnlen(host, FY_HOST_MAX);

		memset(&r->e[free_i], 0, sizeof(r->e[free_i]));
		memcpy(r->e[free_i].host, host, n);
		r->e[free_i].host[n] = '\0';
	}
	return free_i;
}

/* Under mu: one more thread when the queue has more lookups than there are
 * free threads. Returns how many threads are alive afterwards. */
static unsigned grow_locked(struct resolver *r)
{
	int e;

	if (r->nthr == RES_THREADS || r->queued <= r->alive - r->busy)
		return r->alive;
	r->alive++;
	e = pthread_create(&r->thr[r->nthr], NULL, res_thread, r);
	if (e) {
		r->alive--;
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "cannot start a resolver thread: %s "
			  "(%u running)", strerror(e), r->alive);
	} else {
		r->nthr++;
	}
	return r->alive;
}

static void ask(struct resolver *r, int i)
{
	struct res_slot *s = &r->q[i];

	r->e[i].pending = true;
	pthread_mutex_lock(&r->mu);
	memcpy(s->host, r->e[i].host, sizeof(s->host));
	if (!s->want)
		r->queued++;
	s->want = true;
	s->done = false;
	if (grow_locked(r) == 0) {
		/* No thread to ask: answer "try again" through the usual
		 * path, so that whoever waits for this name is told. */
		s->want = false;
		r->queued--;
		s->err = -EAGAIN;
		s->done = true;
		(void)!write(r->efd, &(uint64_t){ 1 }, sizeof(uint64_t));
	}
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

int res_lookup(struct agent *a, const char *host, uint16_t port, struct res_waiter *w,
	       struct sockaddr_storage *ss, socklen_t *sl)
{
	struct resolver *r = a->res;
	struct res_entry *e;
	int i;

	if (fy_sock_resolve_numeric(host, port, ss, sl) == 0)
		return 0;
	i = entry_for(r, host);
	if (i < 0)
		return -EAGAIN;
	e = &r->e[i];
	e->used_ms = a->now_ms;
	/* A stale address is used while a fresh lookup runs. */
	if (!e->pending && (!e->have || a->now_ms - e->at_ms > RES_TTL_MS))
		ask(r, i);
	if (e->have) {
		*ss = e->ss;
		*sl = e->sl;
		set_port(ss, port);
		return 0;
	}
	if (!w)
		return -EINPROGRESS;
	w->port = port;
	w->entry = i;
	w->next = e->waiting;
	e->waiting = w;
	return -EINPROGRESS;
}

void res_cancel(struct agent *a, struct res_waiter *w)
{
	struct res_waiter **pp;

	if (!a->res || w->entry < 0)
		return;
	for (pp = &a->res->e[w->entry].waiting; *pp && *pp != w; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = w->next;
	w->entry = -1;
}

int res_start(struct agent *a)
{
	struct resolver *r = calloc(1, sizeof(*r));
	struct sockaddr_storage ss;
	socklen_t sl;
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
	a->res = r;
	/* -R targets given by name are looked up now, so that the first
	 * stream usually finds an address. */
	for (unsigned i = 0; i < a->cfg.nfwds; i++)
		res_lookup(a, a->cfg.fwds[i].host, a->cfg.fwds[i].hostport, NULL, &ss, &sl);
	return 0;
fail:
	if (r->efd >= 0)
		close(r->efd);
	res_free(r);
	return e < 0 ? e : -EAGAIN;
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
