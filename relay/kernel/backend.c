/* Kernel-socket backend: N worker threads, each with its own epoll loop,
 * an SO_REUSEPORT listener for agents, and an inbox through which other
 * workers hand it connections (liburcu wait-free queue + eventfd wake).
 * A claimed UDP port is one socket on the claiming worker, read with
 * recvmmsg. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "admin/admin.h"
#include "backend.h"
#include "engine.h"
#include "ferry/addr.h"
#include "ferry/loop.h"
#include "ferry/pool.h"
#include "ferry/sock.h"
#include "ferry/sockconn.h"
#include "ferry_config.h"
#include "ingress.h"
#include "public.h"
#include "pubudp.h"
#include "relay-t.h"
#include "tunnel.h"
#include "worker.h"

#define TOPIC "relay.worker"
#define ACCEPTS_PER_EVENT 64

/* ---- the connection interface on kernel sockets ---- */

struct kworker;

/* A connection: the socket (first, so fy_sockconn_ops can take a kconn)
 * and where its events go. It comes from the pool of the worker that
 * accepted it (its home) and goes back there, even when another worker
 * closes it: through the home's return queue. */
struct kconn {
	struct fy_sockconn sc;
	relay_event_fn fn;
	void *owner;
	struct kworker *home;
	struct cds_wfcq_node ret;
};

/* A listener: the agent port (port 0 here) or a claimed public port. */
struct klistener {
	int fd;
	uint16_t port;
	bool paused;		/* out of descriptors: quiet until the next tick */
	struct worker *w;
	struct klistener *paused_next;
};


/* ---- running out of descriptors ---- */

struct kudp_rx;

/* A worker's state that only this backend knows (worker.be_data). */
struct kworker {
	struct kudp_rx *udp_rx;		/* receive buffers, once it binds a UDP port */
	struct fy_loop *loop;
	struct klistener agent;		/* the agent port */
	struct klistener *paused;	/* resting for want of a descriptor */
	int spare_fd;			/* given up to shed a connection on EMFILE */
	struct fy_pool conns;		/* struct kconn */
	struct cds_wfcq_head ret_head;	/* kconns other workers closed */
	struct cds_wfcq_tail ret_tail;
};

static struct kworker *kw_of(struct worker *w)
{
	return w->be_data;
}

static struct kconn *kconn_new(struct worker *w, int fd)
{
	struct kconn *kc = fy_pool_alloc(&kw_of(w)->conns);

	if (!kc) {
		fy_sock_close_rst(fd);
		return NULL;
	}
	kc->home = kw_of(w);
	kc->sc.fd = fd;
	fy_sock_nodelay(fd);
	return kc;
}

/* Only the home's thread touches its pool. */
static void kconn_free(struct worker *w, struct kconn *kc)
{
	struct kworker *home = kc->home;

	if (home == kw_of(w)) {
		fy_pool_free(&home->conns, kc);
		return;
	}
	cds_wfcq_node_init(&kc->ret);
	cds_wfcq_enqueue(&home->ret_head, &home->ret_tail, &kc->ret);
}

static void kconns_returned(struct kworker *kw)
{
	struct cds_wfcq_node *n;

	while ((n = __cds_wfcq_dequeue_blocking(&kw->ret_head, &kw->ret_tail)))
		fy_pool_free(&kw->conns, caa_container_of(n, struct kconn, ret));
}

static void spare_take(struct kworker *kw)
{
	if (kw->spare_fd < 0)
		kw->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}


/* accept() found no descriptor (EMFILE/ENFILE): the connection stays
 * queued, and a level-triggered listener would report it again at once,
 * for ever, at 100% CPU. Give up the spare descriptor, accept the
 * connection and reset it, take the spare back: the queue drains, the
 * excess is shed and counted. If the spare cannot be had again (another
 * worker took the descriptor), the listener rests until the next tick:
 * the connections wait in its queue. */
static void shed_one(struct klistener *kl, int err)
{
	struct worker *w = kl->w;
	struct kworker *kw = kw_of(w);
	int fd = -1;

	if (kw->spare_fd >= 0) {
		close(kw->spare_fd);
		kw->spare_fd = -1;
		fd = accept4(kl->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			fy_sock_close_rst(fd);
		spare_take(kw);
	}
	if (fd >= 0) {
		atomic_fetch_add_explicit(&w->r->ctr.accept_emfile, 1, memory_order_relaxed);
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "out of descriptors (%s, limit %u): new %s "
			  "connections are reset until some close (%lu reset so far)",
			  strerror(-err), w->r->nofile, kl->port ? "client" : "agent",
			  atomic_load_explicit(&w->r->ctr.accept_emfile, memory_order_relaxed));
	}
	if (kw->spare_fd < 0 && !kl->paused) {
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "out of descriptors (%s, limit %u): %s connections "
			  "wait in the listen queue until some close", strerror(-err), w->r->nofile,
			  kl->port ? "client" : "agent");
		kl->paused = true;
		fy_loop_mod(kw_of(w)->loop, kl->fd, 0);
		kl->paused_next = kw->paused;
		kw->paused = kl;
	}
}

static void resume_listeners(struct worker *w)
{
	struct kworker *kw = kw_of(w);

	spare_take(kw);
	while (kw->paused) {
		struct klistener *kl = kw->paused;

		kw->paused = kl->paused_next;
		kl->paused = false;
		fy_loop_mod(kw_of(w)->loop, kl->fd, FY_EV_READ);
	}
}

static void unpause(struct klistener *kl)
{
	for (struct klistener **pp = &kw_of(kl->w)->paused; *pp; pp = &(*pp)->paused_next) {
		if (*pp == kl) {
			*pp = kl->paused_next;
			break;
		}
	}
}

/* Accepts one connection from kl: the fd, -EAGAIN when none is queued,
 * or another -errno after dealing with it (logged, shed). On the agent
 * port, a descriptor is first won back from the oldest unauthenticated
 * connection: agents must get in when clients have taken the rest. */
static int accept_one(struct klistener *kl, struct sockaddr_storage *peer)
{
	socklen_t pl = sizeof(*peer);
	int fd = fy_sock_accept(kl->fd, peer, &pl);

	if ((fd == -EMFILE || fd == -ENFILE) && !kl->port &&
	    tunnel_make_room(kl->w, "an agent connection")) {
		pl = sizeof(*peer);
		fd = fy_sock_accept(kl->fd, peer, &pl);
	}
	if (fd == -EMFILE || fd == -ENFILE) {
		shed_one(kl, fd);
		return -EAGAIN;
	}
	if (fd < 0 && fd != -EAGAIN)
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "accept on %s port: %s", kl->port ? "a public" :
			  "the agent", strerror(-fd));
	return fd;
}

/* The loop's readiness bits are the core's. */
_Static_assert((unsigned)FY_EV_READ == (unsigned)RELAY_EV_READ &&
	       (unsigned)FY_EV_WRITE == (unsigned)RELAY_EV_WRITE &&
	       (unsigned)FY_EV_ERROR == (unsigned)RELAY_EV_ERROR, "event bits differ");

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
	kc->sc.loop = kw_of(w)->loop;
	kc->sc.events = FY_EV_READ;
	return fy_loop_add(kw_of(w)->loop, kc->sc.fd, FY_EV_READ, kconn_event, kc);
}

static void k_detach(struct worker *w, void *io)
{
	struct kconn *kc = io;

	fy_loop_del(kw_of(w)->loop, kc->sc.fd);
	kc->sc.loop = NULL;
}

static void k_close(struct worker *w, void *io, bool rst)
{
	struct kconn *kc = io;

	if (kc->sc.loop)
		fy_loop_del(kw_of(w)->loop, kc->sc.fd);
	if (rst) {
		fy_sock_close_rst(kc->sc.fd);
	} else {
		/* A clean end: undo the abort-on-close set at accept. */
		fy_sock_abort_on_close(kc->sc.fd, false);
		close(kc->sc.fd);
	}
	kconn_free(w, kc);
}

static void on_public_accept(struct fy_loop *l, int lfd, uint32_t ev, void *arg)
{
	struct klistener *kl = arg;
	struct worker *w = kl->w;

	(void)l;
	(void)lfd;
	(void)ev;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage peer;
		int fd = accept_one(kl, &peer);
		struct kconn *kc;
		char a[64];

		if (fd < 0)
			return;
		/* The last descriptors are for agents and the relay itself: a
		 * flood of clients must not lock them out. */
		if ((unsigned)fd >= w->r->nofile - w->r->cfg.fd_reserve) {
			atomic_fetch_add_explicit(&w->r->ctr.fd_reserve, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&w->r->ctr.stream_refused[REFUSED_FD_RESERVE], 1,
						  memory_order_relaxed);
			FY_LOG_RL(FY_LOG_WARN, TOPIC, "client %s on port %u refused: %u descriptors "
				  "in use, the last %u are kept for agents (--fd-reserve)",
				  fy_addr_str(&peer, a, sizeof(a)), kl->port,
				  w->r->nofile - w->r->cfg.fd_reserve, w->r->cfg.fd_reserve);
			fy_sock_close_rst(fd);
			continue;
		}
		/* Should this process die, the kernel resets the client instead
		 * of ending its stream with a FIN that looks complete. */
		fy_sock_abort_on_close(fd, true);
		kc = kconn_new(w, fd);
		if (kc)
			public_accepted(w, kl->port, kc, &peer);
	}
}

static int k_listen(struct worker *w, const char *bind, uint16_t port, bool probe, void **lio)
{
	struct klistener *kl = calloc(1, sizeof(*kl));
	struct sockaddr_storage ss;
	socklen_t sl;
	int e;

	if (!kl)
		return -ENOMEM;
	e = fy_sock_resolve(bind ? bind : w->r->cfg.public_bind, port, &ss, &sl, 1);
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
	fy_loop_add(kw_of(w)->loop, kl->fd, FY_EV_READ, on_public_accept, kl);
	*lio = kl;
	return 0;
}

static void k_unlisten(struct worker *w, void *lio)
{
	struct klistener *kl = lio;

	if (kl->paused)
		unpause(kl);
	fy_loop_del(kw_of(w)->loop, kl->fd);
	close(kl->fd);
	free(kl);
}

/* ---- UDP ports ---- */

#define UDP_BATCH 16		/* datagrams per recvmmsg */
#define UDP_ROUNDS 4		/* recvmmsg calls per event: 64 datagrams, then others' turn */
#define UDP_BUF 65536		/* any UDP payload fits; a larger (jumbo) one is truncated */

/* A worker's receive buffers for all its UDP ports (1 MiB): made when it
 * first binds one, so a relay without UDP ports does not pay for them. */
struct kudp_rx {
	struct mmsghdr msg[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_storage from[UDP_BATCH];
	uint8_t buf[UDP_BATCH][UDP_BUF];
};

/* A claimed UDP port's socket. */
struct kudp {
	int fd;
	uint16_t port;
	void *owner;		/* pubudp's port */
	struct worker *w;
};

/* One recvmmsg: the number of datagrams in rx, 0 when none waits, or
 * -errno (logged). */
static int udp_recv_batch(struct kudp *ku, struct kudp_rx *rx)
{
	int n;

	for (unsigned i = 0; i < UDP_BATCH; i++) {
		rx->iov[i] = (struct iovec){ .iov_base = rx->buf[i], .iov_len = UDP_BUF };
		rx->msg[i].msg_hdr = (struct msghdr){
			.msg_name = &rx->from[i], .msg_namelen = sizeof(rx->from[i]),
			.msg_iov = &rx->iov[i], .msg_iovlen = 1,
		};
		rx->msg[i].msg_len = 0;
	}
	n = recvmmsg(ku->fd, rx->msg, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	n = -errno;
	FY_LOG_RL(FY_LOG_WARN, TOPIC, "port %u/udp: recvmmsg: %s", ku->port, strerror(-n));
	return n;
}

/* Datagram i of the batch, up to the core; a truncated one is dropped:
 * a cut datagram is never passed on. */
static void udp_deliver(struct kudp *ku, struct kudp_rx *rx, unsigned i)
{
	struct worker *w = ku->w;
	char a[64];

	if (rx->msg[i].msg_hdr.msg_flags & MSG_TRUNC) {
		atomic_fetch_add_explicit(&w->r->ctr.udp_dropped_oversize, 1, memory_order_relaxed);
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "port %u/udp: datagram from %s dropped: larger than "
			  "%u bytes", ku->port, fy_addr_str(&rx->from[i], a, sizeof(a)), UDP_BUF);
		return;
	}
	pubudp_input(w, ku->owner, &rx->from[i], rx->buf[i], rx->msg[i].msg_len);
}

/* Readable: a bounded number of datagrams, then the loop's other work;
 * the socket is level-triggered, so what is left reports itself again.
 * pubudp_input never closes the port, so ku stays valid throughout. */
static void on_udp_readable(struct fy_loop *l, int fd, uint32_t ev, void *arg)
{
	struct kudp *ku = arg;
	struct kudp_rx *rx = kw_of(ku->w)->udp_rx;

	(void)l;
	(void)fd;
	(void)ev;
	for (int round = 0; round < UDP_ROUNDS; round++) {
		int n = udp_recv_batch(ku, rx);

		for (int i = 0; i < n; i++)
			udp_deliver(ku, rx, (unsigned)i);
		if (n < UDP_BATCH)
			return;		/* drained (or failed: logged) */
	}
}

/* A bound, non-blocking UDP socket on addr, or -errno. Neither
 * SO_REUSEADDR nor SO_REUSEPORT: for UDP either would let another socket
 * share the port (and take its datagrams); bind says EADDRINUSE instead. */
static int udp_socket(const struct sockaddr_storage *ss, socklen_t sl)
{
	int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	int e;

	if (fd < 0)
		return -errno;
	if (bind(fd, (const struct sockaddr *)ss, sl) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static int k_udp_listen(struct worker *w, uint16_t port, void *owner, void **lio)
{
	struct kworker *kw = kw_of(w);
	struct sockaddr_storage ss;
	struct kudp *ku;
	socklen_t sl;
	int e;

	e = fy_sock_resolve(w->r->cfg.public_bind, port, &ss, &sl, 1);
	if (e < 0)
		return e;
	if (!kw->udp_rx && !(kw->udp_rx = malloc(sizeof(*kw->udp_rx))))
		return -ENOMEM;
	ku = calloc(1, sizeof(*ku));
	if (!ku)
		return -ENOMEM;
	ku->fd = udp_socket(&ss, sl);
	if (ku->fd < 0) {
		e = ku->fd;
		free(ku);
		return e;
	}
	ku->port = port;
	ku->owner = owner;
	ku->w = w;
	e = fy_loop_add(kw->loop, ku->fd, FY_EV_READ, on_udp_readable, ku);
	if (e < 0) {
		close(ku->fd);
		free(ku);
		return e;
	}
	*lio = ku;
	return 0;
}

static void k_udp_unlisten(struct worker *w, void *lio)
{
	struct kudp *ku = lio;

	fy_loop_del(kw_of(w)->loop, ku->fd);
	close(ku->fd);
	free(ku);
}

static int k_udp_send(struct worker *w, void *lio, const struct sockaddr_storage *to,
		      const void *p, size_t n)
{
	struct kudp *ku = lio;
	socklen_t tl = to->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
			sizeof(struct sockaddr_in);

	(void)w;
	if (sendto(ku->fd, p, n, MSG_DONTWAIT, (const struct sockaddr *)to, tl) < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return 0;
}

static void k_stop_accepting(struct worker *w);

static void k_wake(struct worker *w)
{
	fy_loop_wake(kw_of(w)->loop);
}

const struct relay_backend relay_kernel_backend = {
	.name = "kernel",
	.can_move = true,
	.wss = true,
	.conn = &fy_sockconn_ops,
	.attach = k_attach,
	.detach = k_detach,
	.close = k_close,
	.listen = k_listen,
	.unlisten = k_unlisten,
	.udp_listen = k_udp_listen,
	.udp_unlisten = k_udp_unlisten,
	.udp_send = k_udp_send,
	.wake = k_wake,
	.stop_accepting = k_stop_accepting,
};

/* ---- workers ---- */




static void on_agent_accept(struct fy_loop *l, int lfd, uint32_t ev, void *arg)
{
	struct klistener *kl = arg;

	(void)l;
	(void)lfd;
	(void)ev;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage peer;
		int fd = accept_one(kl, &peer);
		struct kconn *kc;

		if (fd < 0)
			return;
		kc = kconn_new(kl->w, fd);
		/* In the reserve: a newcomer replaces the oldest unauthenticated
		 * connection, so idle ones cannot fill it. */
		if (kc)
			tunnel_accept(kl->w, kc, &peer,
				      (unsigned)fd >= kl->w->r->nofile - kl->w->r->cfg.fd_reserve);
	}
}






static void on_wake(struct fy_loop *l, void *arg)
{
	(void)l;
	worker_wakeup(arg);
}

static void k_stop_accepting(struct worker *w)
{
	struct klistener *kl = &kw_of(w)->agent;

	if (kl->fd >= 0) {
		if (kl->paused)
			unpause(kl);
		fy_loop_del(kw_of(w)->loop, kl->fd);
		close(kl->fd);
		kl->fd = -1;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct relay *r = w->r;
	uint64_t last_resume, start_us = fy_now_us();

	rcu_register_thread();
	w->now_ms = w->last_tick_ms = last_resume = fy_now_ms();
	do {
		uint64_t loop_us;

		fy_loop_run_once(kw_of(w)->loop, WORKER_TICK_MS / 2);
		rcu_quiescent_state();	/* no registry pointer held across turns */
		w->now_ms = fy_now_ms();
		loop_us = fy_now_us() - start_us;
		worker_publish_busy(w, loop_us - fy_loop_idle_us(kw_of(w)->loop), loop_us, w->now_ms);
		kconns_returned(kw_of(w));
		if (kw_of(w)->paused && w->now_ms - last_resume >= WORKER_TICK_MS) {
			resume_listeners(w);
			last_resume = w->now_ms;
		}
	} while (!worker_step(w, w->now_ms));
	worker_finish(w);
	rcu_unregister_thread();
	atomic_fetch_sub(&r->running, 1);
	return NULL;
}

/* The core's part of the worker, then this backend's: the loop, the spare
 * descriptor, the agent listener (SO_REUSEPORT, one per worker). */
static int kworker_init(struct relay *r, struct worker *w, unsigned id)
{
	char err[256], host[128];
	struct sockaddr_storage ss;
	struct kworker *kw;
	socklen_t sl;
	uint16_t port;
	int e;

	kw = calloc(1, sizeof(*kw));
	if (!kw || worker_init(w, r, id) < 0) {
		free(kw);
		fprintf(stderr, "ferry-relay: out of memory\n");
		return -1;
	}
	kw->agent.fd = -1;
	kw->agent.w = w;
	kw->spare_fd = -1;
	fy_pool_init(&kw->conns, sizeof(struct kconn), 256);
	cds_wfcq_init(&kw->ret_head, &kw->ret_tail);
	w->be_data = kw;
	spare_take(kw);
	kw->loop = fy_loop_create(FY_LOOP_EPOLL, err, sizeof(err));
	if (!kw->loop) {
		fprintf(stderr, "ferry-relay: event loop: %s\n", err);
		return -1;
	}
	fy_loop_set_wake(kw->loop, on_wake, w);
	if (fy_sock_split_hostport(r->cfg.listen, host, sizeof(host), &port) < 0) {
		fprintf(stderr, "ferry-relay: --listen '%s' is not ADDR:PORT\n", r->cfg.listen);
		return -1;
	}
	e = fy_sock_resolve(host, port, &ss, &sl, 1);
	if (e == 0 && id == 0)
		e = fy_sock_port_free(&ss, sl);	/* not another relay's port */
	if (e == 0)
		e = kw->agent.fd = fy_sock_listen(&ss, sl, 1, 1024);
	if (e < 0) {
		fprintf(stderr, "ferry-relay: cannot listen on %s: %s\n", r->cfg.listen, strerror(-e));
		return -1;
	}
	fy_loop_add(kw->loop, kw->agent.fd, FY_EV_READ, on_agent_accept, &kw->agent);
	if (ingress_start(w) < 0) {
		fprintf(stderr, "ferry-relay: cannot listen for the HTTP/HTTPS/SNI ingress (the log "
			"says where)\n");
		return -1;
	}
	return 0;
}

static void kworker_fini(struct worker *w)
{
	struct kworker *kw = kw_of(w);

	if (kw) {
		if (kw->agent.fd >= 0)
			close(kw->agent.fd);
		if (kw->spare_fd >= 0)
			close(kw->spare_fd);
		if (kw->loop)
			fy_loop_destroy(kw->loop);
		kconns_returned(kw);
		fy_pool_fini(&kw->conns);
		free(kw->udp_rx);
		free(kw);
		w->be_data = NULL;
	}
	worker_fini(w);
}

int kernel_backend_run(struct relay *r)
{
	sigset_t set;
	unsigned started = 0;
	int rc = 0;

	/* As aligned as the type says (calloc gives 16 bytes): workers on
	 * separate cache lines. */
	r->workers = aligned_alloc(_Alignof(struct worker), r->nworkers * sizeof(*r->workers));
	if (!r->workers)
		return 1;
	memset(r->workers, 0, r->nworkers * sizeof(*r->workers));
	r->be = &relay_kernel_backend;
	for (unsigned i = 0; i < r->nworkers; i++) {
		if (kworker_init(r, &r->workers[i], i) < 0) {
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
	/* The admin thread blocks the signals itself; it starts once the
	 * workers it sends to exist. */
	if (!rc && admin_start(r) < 0) {
		atomic_store(&r->stop, true);
		rc = 2;
	}
	if (!rc) {
		atomic_store(&r->ready, true);
		FY_INFO("relay", "ferry-relay %s listening for agents on %s with %u workers; "
			"claimed ports bind %s", FERRY_VERSION, r->cfg.listen, r->nworkers,
			r->cfg.public_bind);
	}
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
				fy_loop_wake(kw_of(&r->workers[i])->loop);
		} else if (sig == SIGHUP) {
			bool t, p;

			relay_reload(r, true, &t, &p);
		}
		if (atomic_load(&r->running) == 0)
			break;
	}
	atomic_store(&r->stop, true);
	for (unsigned i = 0; i < started; i++) {
		fy_loop_wake(kw_of(&r->workers[i])->loop);
		pthread_join(r->workers[i].thread, NULL);
	}
	admin_stop(r);	/* after the workers: it may still hold their answers */
out:
	rcu_barrier();
	for (unsigned i = 0; i < r->nworkers; i++)
		kworker_fini(&r->workers[i]);
	free(r->workers);
	return rc;
}
