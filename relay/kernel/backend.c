/* Kernel-socket backend: N worker threads, each with its own epoll loop,
 * an SO_REUSEPORT listener for agents, and an inbox through which other
 * workers hand it connections (liburcu wait-free queue + eventfd wake). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/sock.h"
#include "ferry_config.h"
#include "relay.h"

#define TOPIC "relay.worker"
#define ACCEPTS_PER_EVENT 64

/* ---- the connection interface on kernel sockets ---- */

/* A connection: the socket (first, so fy_sockconn_ops can take a kconn)
 * and where its events go. */
struct kconn {
	struct fy_sockconn sc;
	relay_event_fn fn;
	void *owner;
};

struct klistener {
	int fd;
	uint16_t port;
	struct worker *w;
};

static struct kconn *kconn_new(int fd)
{
	struct kconn *kc = calloc(1, sizeof(*kc));

	if (!kc) {
		fy_sock_close_rst(fd);
		return NULL;
	}
	kc->sc.fd = fd;
	fy_sock_nodelay(fd);
	return kc;
}

static void kconn_event(struct fy_loop *l, int fd, uint32_t ev, void *arg)
{
	struct kconn *kc = arg;

	(void)l;
	(void)fd;
	kc->fn(kc->owner, ev);
}

static int k_attach(struct worker *w, void *io, relay_event_fn fn, void *owner)
{
	struct kconn *kc = io;

	kc->fn = fn;
	kc->owner = owner;
	kc->sc.loop = w->loop;
	kc->sc.events = FY_EV_READ;
	return fy_loop_add(w->loop, kc->sc.fd, FY_EV_READ, kconn_event, kc);
}

static void k_detach(struct worker *w, void *io)
{
	struct kconn *kc = io;

	fy_loop_del(w->loop, kc->sc.fd);
	kc->sc.loop = NULL;
}

static void k_close(struct worker *w, void *io, bool rst)
{
	struct kconn *kc = io;

	if (kc->sc.loop)
		fy_loop_del(w->loop, kc->sc.fd);
	if (rst)
		fy_sock_close_rst(kc->sc.fd);
	else
		close(kc->sc.fd);
	free(kc);
}

static void on_public_accept(struct fy_loop *l, int lfd, uint32_t ev, void *arg)
{
	struct klistener *kl = arg;

	(void)l;
	(void)ev;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		int fd = fy_sock_accept(lfd, &peer, &pl);
		struct kconn *kc;

		if (fd < 0) {
			if (fd != -EAGAIN)
				FY_LOG_RL(FY_LOG_WARN, TOPIC, "accept on port %u: %s", kl->port,
					  strerror(-fd));
			return;
		}
		kc = kconn_new(fd);
		if (kc)
			public_accepted(kl->w, kl->port, kc, &peer);
	}
}

static int k_listen(struct worker *w, uint16_t port, bool probe, void **lio)
{
	struct klistener *kl = calloc(1, sizeof(*kl));
	struct sockaddr_storage ss;
	socklen_t sl;
	int e;

	if (!kl)
		return -ENOMEM;
	e = fy_sock_resolve(w->r->cfg.public_bind, port, &ss, &sl, 1);
	/* SO_REUSEPORT lets each worker listen, and the previous session's
	 * listener overlap ours for a moment on a takeover; anything else
	 * already there is a conflict. */
	if (e == 0 && probe)
		e = fy_sock_port_free(&ss, sl);
	if (e == 0)
		e = fy_sock_listen(&ss, sl, 1, 1024);
	if (e < 0) {
		free(kl);
		return e;
	}
	kl->fd = e;
	kl->w = w;
	kl->port = port;
	fy_loop_add(w->loop, kl->fd, FY_EV_READ, on_public_accept, kl);
	*lio = kl;
	return 0;
}

static void k_unlisten(struct worker *w, void *lio)
{
	struct klistener *kl = lio;

	fy_loop_del(w->loop, kl->fd);
	close(kl->fd);
	free(kl);
}

static void k_stop_accepting(struct worker *w);

static void k_wake(struct worker *w)
{
	fy_loop_wake(w->loop);
}

const struct relay_backend relay_kernel_backend = {
	.name = "kernel",
	.can_move = true,
	.conn = &fy_sockconn_ops,
	.attach = k_attach,
	.detach = k_detach,
	.close = k_close,
	.listen = k_listen,
	.unlisten = k_unlisten,
	.wake = k_wake,
	.stop_accepting = k_stop_accepting,
};

/* ---- workers ---- */




static void on_agent_accept(struct fy_loop *l, int lfd, uint32_t ev, void *arg)
{
	struct worker *w = arg;

	(void)l;
	(void)ev;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		int fd = fy_sock_accept(lfd, &peer, &pl);
		struct kconn *kc;

		if (fd < 0) {
			if (fd != -EAGAIN)
				FY_LOG_RL(FY_LOG_WARN, TOPIC, "accept: %s", strerror(-fd));
			return;
		}
		kc = kconn_new(fd);
		if (kc)
			tunnel_accept(w, kc, &peer);
	}
}






static void on_wake(struct fy_loop *l, void *arg)
{
	(void)l;
	worker_wakeup(arg);
}

static void k_stop_accepting(struct worker *w)
{
	if (w->agent_lfd >= 0) {
		fy_loop_del(w->loop, w->agent_lfd);
		close(w->agent_lfd);
		w->agent_lfd = -1;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct relay *r = w->r;

	rcu_register_thread();
	w->last_tick_ms = fy_now_ms();
	do {
		fy_loop_run_once(w->loop, WORKER_TICK_MS / 2);
		rcu_quiescent_state();	/* no registry pointer held across turns */
	} while (!worker_step(w, fy_now_ms()));
	worker_finish(w);
	rcu_unregister_thread();
	atomic_fetch_sub(&r->running, 1);
	return NULL;
}

static int worker_init(struct relay *r, struct worker *w, unsigned id)
{
	char err[256], host[128];
	struct sockaddr_storage ss;
	socklen_t sl;
	uint16_t port;
	int e;

	w->r = r;
	w->id = id;
	w->agent_lfd = -1;
	cds_wfcq_init(&w->inbox_head, &w->inbox_tail);
	w->loop = fy_loop_create(FY_LOOP_EPOLL, err, sizeof(err));
	if (!w->loop) {
		fprintf(stderr, "ferry-relay: event loop: %s\n", err);
		return -1;
	}
	fy_loop_set_wake(w->loop, on_wake, w);
	if (fy_sess_init(&w->streams, 1024) < 0 || fy_sess_init(&w->tunnels, 64) < 0) {
		fprintf(stderr, "ferry-relay: out of memory\n");
		return -1;
	}
	if (fy_sock_split_hostport(r->cfg.listen, host, sizeof(host), &port) < 0) {
		fprintf(stderr, "ferry-relay: --listen '%s' is not ADDR:PORT\n", r->cfg.listen);
		return -1;
	}
	e = fy_sock_resolve(host, port, &ss, &sl, 1);
	if (e == 0 && id == 0)
		e = fy_sock_port_free(&ss, sl);	/* not another relay's port */
	if (e == 0)
		e = w->agent_lfd = fy_sock_listen(&ss, sl, 1, 1024);
	if (e < 0) {
		fprintf(stderr, "ferry-relay: cannot listen on %s: %s\n", r->cfg.listen, strerror(-e));
		return -1;
	}
	fy_loop_add(w->loop, w->agent_lfd, FY_EV_READ, on_agent_accept, w);
	return 0;
}

static void worker_fini(struct worker *w)
{
	if (w->agent_lfd >= 0)
		close(w->agent_lfd);
	fy_sess_fini(&w->streams);
	fy_sess_fini(&w->tunnels);
	if (w->loop)
		fy_loop_destroy(w->loop);
}

int kernel_backend_run(struct relay *r)
{
	sigset_t set;
	unsigned started = 0;
	int rc = 0;

	r->workers = calloc(r->nworkers, sizeof(*r->workers));
	if (!r->workers)
		return 1;
	for (unsigned i = 0; i < r->nworkers; i++) {
		if (worker_init(r, &r->workers[i], i) < 0) {
			rc = 1;
			goto out;
		}
	}
	/* Signals go to the main thread only, through sigtimedwait below. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	atomic_store(&r->running, r->nworkers);
	for (; started < r->nworkers; started++) {
		if (pthread_create(&r->workers[started].thread, NULL, worker_main,
				   &r->workers[started]) != 0) {
			fprintf(stderr, "ferry-relay: cannot start worker threads\n");
			atomic_store(&r->stop, true);
			rc = 1;
			break;
		}
	}
	if (!rc)
		FY_INFO("relay", "ferry-relay %s listening for agents on %s with %u workers; "
			"claimed ports bind %s", FERRY_VERSION, r->cfg.listen, r->nworkers,
			r->cfg.public_bind);
	while (!rc && !atomic_load(&r->stop)) {
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		int sig = sigtimedwait(&set, NULL, &ts);

		if (sig == SIGTERM || sig == SIGINT) {
			if (atomic_load(&r->draining)) {
				FY_INFO("relay", "second signal: stopping now");
				atomic_store(&r->stop, true);
			} else {
				FY_INFO("relay", "signal %d: draining (up to %u ms), then exiting",
					sig, r->cfg.drain_ms);
				atomic_store(&r->draining, true);
			}
			for (unsigned i = 0; i < r->nworkers; i++)
				fy_loop_wake(r->workers[i].loop);
		} else if (sig == SIGHUP) {
			relay_reload_tokens(r);
		}
		if (atomic_load(&r->running) == 0)
			break;
	}
	atomic_store(&r->stop, true);
	for (unsigned i = 0; i < started; i++) {
		fy_loop_wake(r->workers[i].loop);
		pthread_join(r->workers[i].thread, NULL);
	}
out:
	rcu_barrier();
	for (unsigned i = 0; i < r->nworkers; i++)
		worker_fini(&r->workers[i]);
	free(r->workers);
	return rc;
}
