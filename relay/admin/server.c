/* The admin API's server: one thread with its own event loop (io/loop,
 * epoll), a TCP listener and/or a unix socket (mode 0600), connections
 * that read one request (http.c, bounded in size and time), answer it,
 * and close. A FORWARD request waits for the agent's answer without
 * blocking anything: the connection parks (C_WAIT) until a worker's
 * answer arrives through the ctl queue, or its deadline passes. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <urcu-qsbr.h>

#include "admin-int.h"
#include "admin.h"
#include "ferry/addr.h"
#include "ferry/clock.h"
#include "ferry/sock.h"

#define TOPIC "relay.admin"
#define TICK_MS 100

void adm_rcu_enter(void)
{
	rcu_thread_online();
	rcu_read_lock();
}

void adm_rcu_exit(void)
{
	rcu_read_unlock();
	rcu_thread_offline();
}

static void on_conn(struct fy_loop *l, int fd, uint32_t ev, void *arg);

static void conn_free(struct adm_conn *c)
{
	struct adm_server *s = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	fy_loop_del(s->loop, c->fd);
	close(c->fd);
	fy_http_fini(&c->msg);
	free(c->out);
	free(c->got);
	free(c);
}

/* The answer, whole, into c->out; then written as the socket takes it. */
static void conn_reply(struct adm_conn *c, struct adm_reply *rep)
{
	char head[512];
	int hl;

	hl = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
		      "Content-Length: %zu\r\nConnection: close\r\nCache-Control: no-store\r\n"
		      "X-Content-Type-Options: nosniff\r\n\r\n", rep->status,
		      fy_http_reason(rep->status), rep->ctype ? rep->ctype : "application/json",
		      rep->len);
	free(c->out);
	c->out = malloc((size_t)hl + rep->len);
	if (!c->out) {
		free(rep->body);
		conn_free(c);
		return;
	}
	memcpy(c->out, head, (size_t)hl);
	if (rep->len)
		memcpy(c->out + hl, rep->body, rep->len);
	free(rep->body);
	rep->body = NULL;
	c->out_len = (size_t)hl + rep->len;
	c->out_off = 0;
	c->st = C_WRITE;
	c->deadline_ms = c->srv->now_ms + ADM_WRITE_MS;
	if (rep->status >= 400)
		atomic_fetch_add_explicit(&c->srv->bad_requests, 1, memory_order_relaxed);
	fy_loop_mod(c->srv->loop, c->fd, FY_EV_WRITE);
}

static void conn_error(struct adm_conn *c, int status, const char *code, const char *msg)
{
	struct adm_reply rep = { 0 };

	adm_api_error(&rep, status, code, msg);
	conn_reply(c, &rep);
}

static void conn_dispatch(struct adm_conn *c)
{
	struct adm_reply rep = { 0 };

	atomic_fetch_add_explicit(&c->srv->requests, 1, memory_order_relaxed);
	if (adm_api_route(c->srv, c, &rep) == 1) {
		c->st = C_WAIT;
		c->deadline_ms = c->srv->now_ms + ADM_FORWARD_WAIT_MS;
		fy_loop_mod(c->srv->loop, c->fd, 0);
		return;
	}
	conn_reply(c, &rep);
}

static void conn_read(struct adm_conn *c)
{
	char buf[4096];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
	int r;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {		/* gone before asking anything whole */
		conn_free(c);
		return;
	}
	r = fy_http_feed(&c->msg, buf, (size_t)n);
	if (r == 0)
		return;
	if (r < 0) {
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s: bad request (%d): %s", c->peer, c->msg.error,
			  c->msg.why);
		conn_error(c, c->msg.error, "bad_request", c->msg.why);
		return;
	}
	conn_dispatch(c);
}

static void conn_write(struct adm_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_free(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	/* Answered. Closing with unread input would reset the connection and
	 * could destroy the answer before the client reads it (a 431 to a
	 * client still sending its headers): end our side, read what comes
	 * for a moment, then close. */
	shutdown(c->fd, SHUT_WR);
	c->st = C_LINGER;
	c->deadline_ms = c->srv->now_ms + ADM_LINGER_MS;
	fy_loop_mod(c->srv->loop, c->fd, FY_EV_READ);
}

static void conn_linger(struct adm_conn *c)
{
	char buf[4096];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0 && (c->lingered += (size_t)n) < 256 * 1024)
		return;
	conn_free(c);
}

static void on_conn(struct fy_loop *l, int fd, uint32_t ev, void *arg)
{
	struct adm_conn *c = arg;

	(void)l;
	(void)fd;
	switch (c->st) {
	case C_READ:
		conn_read(c);
		break;
	case C_WRITE:
		if (ev & (FY_EV_WRITE | FY_EV_ERROR))
			conn_write(c);
		break;
	case C_LINGER:
		conn_linger(c);
		break;
	case C_WAIT:
		if (ev & FY_EV_ERROR)	/* the client gave up: nothing to answer */
			conn_free(c);
		break;
	}
}

static void on_accept(struct fy_loop *l, int lfd, uint32_t ev, void *arg)
{
	struct adm_server *s = arg;

	(void)l;
	(void)ev;
	for (int i = 0; i < 16; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = fy_sock_accept(lfd, &ss, &sl);
		struct adm_conn *c;

		if (fd == -EMFILE || fd == -ENFILE) {
			FY_LOG_RL(FY_LOG_WARN, TOPIC, "admin listener: out of descriptors (%s): "
				  "connections wait in the listen queue", strerror(-fd));
			fy_loop_mod(s->loop, lfd, 0);
			s->accept_paused = true;
			return;
		}
		if (fd < 0)
			return;
		if (s->nconns >= ADM_MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
			FY_LOG_RL(FY_LOG_WARN, TOPIC, "admin connection refused: %u open already",
				  s->nconns);
			fy_sock_close_rst(fd);
			continue;
		}
		c->srv = s;
		c->fd = fd;
		c->st = C_READ;
		c->deadline_ms = s->now_ms + s->r->cfg.admin_timeout_ms;
		if (ss.ss_family == AF_UNIX)
			snprintf(c->peer, sizeof(c->peer), "unix socket");
		else
			fy_addr_str(&ss, c->peer, sizeof(c->peer));
		fy_http_init(&c->msg, HTTP_REQUEST, ADM_HEAD_MAX, ADM_BODY_MAX);
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
		if (fy_loop_add(s->loop, fd, FY_EV_READ, on_conn, c) < 0)
			conn_free(c);
	}
}

/* Answers from workers (woken by ctl's wake). */
static void on_wake(struct fy_loop *l, void *arg)
{
	struct adm_server *s = arg;
	struct ctl_answer *a;

	(void)l;
	s->now_ms = fy_now_ms();
	while ((a = ctl_take(&s->ctl))) {
		struct adm_conn *c;

		for (c = s->conns; c; c = c->next)
			if (c->st == C_WAIT && c->wait_req == a->req)
				break;
		if (c && c->wait_left > 1) {
			adm_api_gather(c, a);	/* more workers to hear from */
		} else if (c) {
			struct adm_reply rep = { 0 };

			adm_api_answered(s, c, a, &rep);
			conn_reply(c, &rep);
		} else {
			FY_DEBUG(TOPIC, "answer to request %u came after its client left: %s", a->req,
				 a->msg);
		}
		free(a->streams);
		free(a);
	}
}

static void ctl_wake(void *arg)
{
	fy_loop_wake(((struct adm_server *)arg)->loop);
}

static void expire(struct adm_server *s)
{
	struct adm_conn *c, *next;

	for (c = s->conns; c; c = next) {
		next = c->next;
		if (s->now_ms < c->deadline_ms)
			continue;
		switch (c->st) {
		case C_READ:
			FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s: no complete request within %u ms", c->peer,
				  s->r->cfg.admin_timeout_ms);
			conn_error(c, 408, "timeout", "no complete request in time");
			break;
		case C_WAIT: {
			struct adm_reply rep = { 0 };

			adm_api_answered(s, c, NULL, &rep);
			conn_reply(c, &rep);
			break;
		}
		default:
			conn_free(c);
			break;
		}
	}
}

static void *admin_main(void *arg)
{
	struct adm_server *s = arg;
	sigset_t all;

	/* Signals are the main thread's (or lcore 0's). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	rcu_register_thread();
	rcu_thread_offline();	/* online only around registry reads */
	while (!atomic_load(&s->stop)) {
		fy_loop_run_once(s->loop, TICK_MS);
		s->now_ms = fy_now_ms();
		expire(s);
		if (s->accept_paused) {
			s->accept_paused = false;
			if (s->tcp_fd >= 0)
				fy_loop_mod(s->loop, s->tcp_fd, FY_EV_READ);
			if (s->unix_fd >= 0)
				fy_loop_mod(s->loop, s->unix_fd, FY_EV_READ);
		}
	}
	while (s->conns)
		conn_free(s->conns);
	rcu_thread_online();
	rcu_unregister_thread();
	return NULL;
}

static int listen_tcp(struct adm_server *s, const char *spec)
{
	char host[128];
	struct sockaddr_storage ss;
	socklen_t sl;
	uint16_t port;
	int e;

	if (fy_sock_split_hostport(spec, host, sizeof(host), &port) < 0 || !port) {
		fprintf(stderr, "ferry-relay: --admin-listen '%s' is not ADDR:PORT\n", spec);
		return -1;
	}
	e = fy_sock_resolve(host[0] ? host : "127.0.0.1", port, &ss, &sl, 1);
	if (e == 0)
		e = fy_sock_port_free(&ss, sl);
	if (e == 0)
		e = fy_sock_listen(&ss, sl, 0, 64);
	if (e < 0) {
		fprintf(stderr, "ferry-relay: cannot listen on --admin-listen %s: %s\n", spec,
			strerror(-e));
		return -1;
	}
	s->tcp_fd = e;
	return 0;
}

/* A unix socket only its owner may use (mode 0600): the socket's mode is
 * the only check a local user meets before the token. A stale socket
 * (nobody listening) is replaced; anything else at the path is not. */
static int listen_unix(struct adm_server *s, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ferry-relay: --admin-socket path too long: %s\n", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		e = !S_ISSOCK(st.st_mode) ? EEXIST :
		    probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? EADDRINUSE :
		    0;
		if (probe >= 0)
			close(probe);
		if (e) {
			fprintf(stderr, "ferry-relay: --admin-socket %s: %s\n", path,
				e == EEXIST ? "exists and is not a socket" : "another process listens there");
			return -1;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	old = umask(0177);	/* 0600 from the bind on */
	e = fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0 ?
	    errno : 0;
	umask(old);
	if (!e && chmod(path, 0600) < 0)
		e = errno;
	if (e) {
		fprintf(stderr, "ferry-relay: cannot listen on --admin-socket %s: %s\n", path,
			strerror(e));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	s->unix_fd = fd;
	snprintf(s->unix_path, sizeof(s->unix_path), "%s", path);
	return 0;
}

static void server_free(struct adm_server *s)
{
	if (s->loop) {
		if (s->tcp_fd >= 0)
			fy_loop_del(s->loop, s->tcp_fd);
		if (s->unix_fd >= 0)
			fy_loop_del(s->loop, s->unix_fd);
		fy_loop_destroy(s->loop);
	}
	if (s->tcp_fd >= 0)
		close(s->tcp_fd);
	if (s->unix_fd >= 0) {
		close(s->unix_fd);
		unlink(s->unix_path);
	}
	free(s);
}

int admin_start(struct relay *r)
{
	struct adm_server *s;
	char err[256];

	if (!r->cfg.admin_listen[0] && !r->cfg.admin_socket[0])
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s) {
		fprintf(stderr, "ferry-relay: out of memory\n");
		return -1;
	}
	s->r = r;
	s->tcp_fd = s->unix_fd = -1;
	s->now_ms = fy_now_ms();
	if ((r->cfg.admin_listen[0] && listen_tcp(s, r->cfg.admin_listen) < 0) ||
	    (r->cfg.admin_socket[0] && listen_unix(s, r->cfg.admin_socket) < 0))
		goto fail;
	s->loop = fy_loop_create(FY_LOOP_EPOLL, err, sizeof(err));
	if (!s->loop) {
		fprintf(stderr, "ferry-relay: admin event loop: %s\n", err);
		goto fail;
	}
	fy_loop_set_wake(s->loop, on_wake, s);
	if ((s->tcp_fd >= 0 && fy_loop_add(s->loop, s->tcp_fd, FY_EV_READ, on_accept, s) < 0) ||
	    (s->unix_fd >= 0 && fy_loop_add(s->loop, s->unix_fd, FY_EV_READ, on_accept, s) < 0)) {
		fprintf(stderr, "ferry-relay: admin event loop: cannot watch the listeners\n");
		goto fail;
	}
	ctl_init(&s->ctl, ctl_wake, s);
	r->ctl = &s->ctl;
	if (pthread_create(&s->thread, NULL, admin_main, s) != 0) {
		fprintf(stderr, "ferry-relay: cannot start the admin thread\n");
		r->ctl = NULL;
		goto fail;
	}
	s->started = true;
	r->admin = s;
	FY_INFO(TOPIC, "admin API on %s%s%s", r->cfg.admin_listen,
		r->cfg.admin_listen[0] && r->cfg.admin_socket[0] ? " and " : "", r->cfg.admin_socket);
	return 0;
fail:
	server_free(s);
	return -1;
}

void admin_stop(struct relay *r)
{
	struct adm_server *s = r->admin;
	struct ctl_answer *a;

	if (!s)
		return;
	atomic_store(&s->stop, true);
	fy_loop_wake(s->loop);
	pthread_join(s->thread, NULL);
	r->ctl = NULL;
	while ((a = ctl_take(&s->ctl))) {
		free(a->streams);
		free(a);
	}
	r->admin = NULL;
	server_free(s);
}
