/* Unit tests for io/loop*.c and io/sock.c. Every loop test runs once per
 * backend: the "loop-epoll" suite always, "loop-io_uring" when liburing
 * was built in and the running kernel lets us create a ring. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cu_run.h"
#include "ferry_config.h"
#include "ferry/loop.h"
#include "ferry/addr.h"
#include "ferry/sock.h"

static enum fy_loop_kind g_kind;	/* backend of the suite being run */

static int use_epoll(void)
{
	g_kind = FY_LOOP_EPOLL;
	return 0;
}

static int use_uring(void)
{
	g_kind = FY_LOOP_URING;
	return 0;
}

static struct fy_loop *new_loop(void)
{
	char err[256] = "";
	struct fy_loop *l = fy_loop_create(g_kind, err, sizeof(err));

	if (!l)
		fprintf(stderr, "fy_loop_create: %s\n", err);
	return l;
}

static void mk_pair(int sv[2])
{
	int rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv);

	CU_ASSERT_FATAL(rc == 0);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop until *flag is set or ms pass. */
static void run_until(struct fy_loop *l, const int *flag, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while (!*flag && now_ms() < end)
		CU_ASSERT_FATAL(fy_loop_run_once(l, 20) >= 0);
}

struct rec {
	int calls;
	uint32_t events;	/* union of all deliveries */
	int drain;		/* read what is there on each call */
	ssize_t last_read;
	int last_errno;
};

static void rec_fn(struct fy_loop *l, int fd, uint32_t events, void *arg)
{
	struct rec *r = arg;
	char buf[256];

	(void)l;
	r->calls++;
	r->events |= events;
	if (r->drain) {
		r->last_read = read(fd, buf, sizeof(buf));
		r->last_errno = r->last_read < 0 ? errno : 0;
	}
}

static void test_kind_name(void)
{
	struct fy_loop *l = new_loop();

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_STRING_EQUAL(fy_loop_kind_name(l),
			       g_kind == FY_LOOP_URING ? "io_uring" : "epoll");
	fy_loop_destroy(l);
}

static void test_api_errors(void)
{
	struct fy_loop *l = new_loop();
	struct rec r = { 0 };
	int sv[2];

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	mk_pair(sv);
	CU_ASSERT_EQUAL(fy_loop_add(l, -1, FY_EV_READ, rec_fn, &r), -EBADF);
	CU_ASSERT_EQUAL(fy_loop_add(l, 999, FY_EV_READ, rec_fn, &r), -EBADF);
	CU_ASSERT_EQUAL(fy_loop_add(l, sv[0], FY_EV_ERROR, rec_fn, &r), -EINVAL);
	CU_ASSERT_EQUAL(fy_loop_add(l, sv[0], FY_EV_READ, NULL, &r), -EINVAL);
	CU_ASSERT_EQUAL(fy_loop_mod(l, sv[0], FY_EV_READ), -ENOENT);
	CU_ASSERT_EQUAL(fy_loop_del(l, sv[0]), -ENOENT);
	CU_ASSERT_EQUAL(fy_loop_add(l, sv[0], FY_EV_READ, rec_fn, &r), 0);
	CU_ASSERT_EQUAL(fy_loop_add(l, sv[0], FY_EV_READ, rec_fn, &r), -EEXIST);
	CU_ASSERT_EQUAL(fy_loop_mod(l, sv[0], 8), -EINVAL);
	CU_ASSERT_EQUAL(fy_loop_del(l, sv[0]), 0);
	CU_ASSERT_EQUAL(fy_loop_del(l, sv[0]), -ENOENT);
	/* Re-adding after del works. */
	CU_ASSERT_EQUAL(fy_loop_add(l, sv[0], FY_EV_READ, rec_fn, &r), 0);
	CU_ASSERT_EQUAL(fy_loop_del(l, sv[0]), 0);
	close(sv[0]);
	close(sv[1]);
	fy_loop_destroy(l);
}

static void test_read_ready(void)
{
	struct fy_loop *l = new_loop();
	struct rec r = { .drain = 1 };
	int sv[2];

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	mk_pair(sv);
	CU_ASSERT_EQUAL_FATAL(fy_loop_add(l, sv[0], FY_EV_READ, rec_fn, &r), 0);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 0), 0);
	CU_ASSERT_EQUAL(write(sv[1], "x", 1), 1);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 1000), 1);
	CU_ASSERT_EQUAL(r.calls, 1);
	CU_ASSERT_EQUAL(r.events, FY_EV_READ);
	CU_ASSERT_EQUAL(r.last_read, 1);
	/* Drained: quiet again. */
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 30), 0);
	CU_ASSERT_EQUAL(r.calls, 1);
	fy_loop_del(l, sv[0]);
	close(sv[0]);
	close(sv[1]);
	fy_loop_destroy(l);
}

static void test_level_triggered(void)
{
	struct fy_loop *l = new_loop();
	struct rec r = { 0 };	/* does not read */
	char buf[16];
	int sv[2];

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	mk_pair(sv);
	CU_ASSERT_EQUAL_FATAL(fy_loop_add(l, sv[0], FY_EV_READ, rec_fn, &r), 0);
	CU_ASSERT_EQUAL(write(sv[1], "abc", 3), 3);
	for (int i = 1; i <= 3; i++) {
		CU_ASSERT_EQUAL(fy_loop_run_once(l, 1000), 1);
		CU_ASSERT_EQUAL(r.calls, i);
	}
	/* Read part of it: still ready. */
	CU_ASSERT_EQUAL(read(sv[0], buf, 2), 2);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 1000), 1);
	CU_ASSERT_EQUAL(r.calls, 4);
	CU_ASSERT_EQUAL(read(sv[0], buf, sizeof(buf)), 1);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 30), 0);
	CU_ASSERT_EQUAL(r.calls, 4);
	fy_loop_del(l, sv[0]);
	close(sv[0]);
	close(sv[1]);
	fy_loop_destroy(l);
}

static void test_write_and_mod(void)
{
	struct fy_loop *l = new_loop();
	struct rec r = { 0 };
	int sv[2];

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	mk_pair(sv);
	CU_ASSERT_EQUAL_FATAL(fy_loop_add(l, sv[0], FY_EV_WRITE, rec_fn, &r), 0);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 1000), 1);
	CU_ASSERT_EQUAL(r.events, FY_EV_WRITE);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 1000), 1);	/* level: again */
	CU_ASSERT_EQUAL(fy_loop_mod(l, sv[0], 0), 0);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 30), 0);
	CU_ASSERT_EQUAL(r.calls, 2);
	/* READ with nothing to read: quiet; WRITE delivered only as asked. */
	CU_ASSERT_EQUAL(fy_loop_mod(l, sv[0], FY_EV_READ), 0);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 30), 0);
	CU_ASSERT_EQUAL(write(sv[1], "x", 1), 1);
	r.events = 0;
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 1000), 1);
	CU_ASSERT_EQUAL(r.events, FY_EV_READ);
	CU_ASSERT_EQUAL(fy_loop_mod(l, sv[0], FY_EV_READ | FY_EV_WRITE), 0);
	r.events = 0;
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 1000), 1);
	CU_ASSERT_EQUAL(r.events, FY_EV_READ | FY_EV_WRITE);
	/* Registered with 0 events: even a hang-up stays quiet (no spin). */
	CU_ASSERT_EQUAL(fy_loop_mod(l, sv[0], 0), 0);
	close(sv[1]);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 30), 0);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 0), 0);
	fy_loop_del(l, sv[0]);
	close(sv[0]);
	fy_loop_destroy(l);
}

/* Two fds ready in the same batch; whichever runs first deletes and closes
 * the other, then registers a fresh fd that very likely gets the freed
 * number. Neither the deleted fd nor the newcomer may see the stale event. */
struct del_ctx {
	int a[2], b[2];		/* registered: a[0], b[0] */
	int c[2];		/* the newcomer */
	int calls, stray;
	int reused;
};

static void stray_fn(struct fy_loop *l, int fd, uint32_t events, void *arg)
{
	struct del_ctx *c = arg;

	(void)l;
	(void)fd;
	(void)events;
	c->stray++;
}

static void del_other_fn(struct fy_loop *l, int fd, uint32_t events, void *arg)
{
	struct del_ctx *c = arg;
	int other = fd == c->a[0] ? c->b[0] : c->a[0];
	char buf[8];

	(void)events;
	c->calls++;
	CU_ASSERT_EQUAL(read(fd, buf, sizeof(buf)), 1);
	if (c->calls > 1)
		return;
	CU_ASSERT_EQUAL(fy_loop_del(l, other), 0);
	close(other);
	mk_pair(c->c);
	c->reused = c->c[0] == other;
	CU_ASSERT_EQUAL(fy_loop_add(l, c->c[0], FY_EV_READ | FY_EV_WRITE, stray_fn, c), 0);
	if (fd == c->a[0])
		c->b[0] = -1;
	else
		c->a[0] = -1;
}

static void test_del_in_callback(void)
{
	struct fy_loop *l = new_loop();
	struct del_ctx c = { .calls = 0 };
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	mk_pair(c.a);
	mk_pair(c.b);
	CU_ASSERT_EQUAL_FATAL(fy_loop_add(l, c.a[0], FY_EV_READ, del_other_fn, &c), 0);
	CU_ASSERT_EQUAL_FATAL(fy_loop_add(l, c.b[0], FY_EV_READ, del_other_fn, &c), 0);
	CU_ASSERT_EQUAL(write(c.a[1], "x", 1), 1);
	CU_ASSERT_EQUAL(write(c.b[1], "y", 1), 1);
	rc = fy_loop_run_once(l, 1000);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT_EQUAL(c.calls, 1);
	CU_ASSERT_EQUAL(c.stray, 0);
	CU_ASSERT(c.reused);	/* else the test proves less than it claims */
	/* The newcomer is writable: its own (new) registration does fire. */
	CU_ASSERT(fy_loop_run_once(l, 1000) >= 1);
	CU_ASSERT(c.stray >= 1);
	CU_ASSERT_EQUAL(c.calls, 1);
	fy_loop_del(l, c.c[0]);
	fy_loop_del(l, c.a[0] >= 0 ? c.a[0] : c.b[0]);
	close(c.a[0] >= 0 ? c.a[0] : c.b[0]);
	close(c.a[1]);
	close(c.b[1]);
	close(c.c[0]);
	close(c.c[1]);
	fy_loop_destroy(l);
}

/* A callback deleting its own fd while it has more pending. */
static void del_self_fn(struct fy_loop *l, int fd, uint32_t events, void *arg)
{
	struct rec *r = arg;

	(void)events;
	r->calls++;
	CU_ASSERT_EQUAL(fy_loop_del(l, fd), 0);
}

static void test_del_self(void)
{
	struct fy_loop *l = new_loop();
	struct rec r = { 0 };
	int sv[2];

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	mk_pair(sv);
	CU_ASSERT_EQUAL_FATAL(fy_loop_add(l, sv[0], FY_EV_READ | FY_EV_WRITE, del_self_fn, &r), 0);
	CU_ASSERT_EQUAL(write(sv[1], "x", 1), 1);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 1000), 1);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 30), 0);
	CU_ASSERT_EQUAL(r.calls, 1);
	close(sv[0]);
	close(sv[1]);

	/* del + close really closes at once, without another iteration
	 * (an io_uring poll in flight holds a reference to the file). */
	mk_pair(sv);
	CU_ASSERT_EQUAL_FATAL(fy_loop_add(l, sv[0], FY_EV_READ, rec_fn, &r), 0);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 0), 0);	/* poll armed */
	CU_ASSERT_EQUAL(fy_loop_del(l, sv[0]), 0);
	close(sv[0]);
	{
		char c;

		CU_ASSERT_EQUAL(read(sv[1], &c, 1), 0);
	}
	close(sv[1]);
	fy_loop_destroy(l);
}

static void test_eof(void)
{
	struct fy_loop *l = new_loop();
	struct rec r = { .drain = 1 };
	int sv[2];

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	mk_pair(sv);
	CU_ASSERT_EQUAL_FATAL(fy_loop_add(l, sv[0], FY_EV_READ, rec_fn, &r), 0);
	close(sv[1]);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 1000), 1);
	CU_ASSERT(r.events & FY_EV_READ);
	CU_ASSERT_EQUAL(r.last_read, 0);
	fy_loop_del(l, sv[0]);
	close(sv[0]);

	/* Half-close: EOF without HUP. */
	mk_pair(sv);
	memset(&r, 0, sizeof(r));
	r.drain = 1;
	CU_ASSERT_EQUAL_FATAL(fy_loop_add(l, sv[0], FY_EV_READ, rec_fn, &r), 0);
	CU_ASSERT_EQUAL(shutdown(sv[1], SHUT_WR), 0);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 1000), 1);
	CU_ASSERT(r.events & FY_EV_READ);
	CU_ASSERT_EQUAL(r.last_read, 0);
	fy_loop_del(l, sv[0]);
	close(sv[0]);
	close(sv[1]);
	fy_loop_destroy(l);
}

static void test_timeout(void)
{
	struct fy_loop *l = new_loop();
	uint64_t t0;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 0), 0);
	t0 = now_ms();
	rc = fy_loop_run_once(l, 60);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(now_ms() - t0 >= 50);
	CU_ASSERT(now_ms() - t0 < 1000);
	fy_loop_destroy(l);
}

struct wake_ctx {
	struct fy_loop *l;
	int n;			/* fy_loop_wake calls to make */
	int delay_ms;
	int runs;		/* wake fn runs */
};

static void wake_fn(struct fy_loop *l, void *arg)
{
	struct wake_ctx *w = arg;

	CU_ASSERT_PTR_EQUAL(l, w->l);
	w->runs++;
}

static void *waker(void *arg)
{
	struct wake_ctx *w = arg;
	struct timespec ts = { 0, (long)w->delay_ms * 1000000L };

	nanosleep(&ts, NULL);
	for (int i = 0; i < w->n; i++)
		fy_loop_wake(w->l);
	return NULL;
}

static void test_wake(void)
{
	struct wake_ctx w = { .n = 5 };
	pthread_t t;
	uint64_t t0;

	w.l = new_loop();
	CU_ASSERT_PTR_NOT_NULL_FATAL(w.l);
	CU_ASSERT_EQUAL(fy_loop_set_wake(w.l, wake_fn, &w), 0);
	/* Five wakes before the loop looks: one run. */
	CU_ASSERT_FATAL(pthread_create(&t, NULL, waker, &w) == 0);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(fy_loop_run_once(w.l, 1000), 1);
	CU_ASSERT_EQUAL(w.runs, 1);
	CU_ASSERT_EQUAL(fy_loop_run_once(w.l, 0), 0);
	/* A wake while the loop blocks with no timeout ends the wait. */
	w.n = 1;
	w.delay_ms = 50;
	CU_ASSERT_FATAL(pthread_create(&t, NULL, waker, &w) == 0);
	t0 = now_ms();
	CU_ASSERT_EQUAL(fy_loop_run_once(w.l, -1), 1);
	CU_ASSERT(now_ms() - t0 >= 40);
	CU_ASSERT_EQUAL(w.runs, 2);
	pthread_join(t, NULL);
	fy_loop_destroy(w.l);
}

#define MANY 1000

struct many_ctx {
	int hits[MANY];
	int fds[MANY][2];
	int total;
};

static void many_fn(struct fy_loop *l, int fd, uint32_t events, void *arg)
{
	int *hit = arg;
	char c;

	(void)l;
	(void)events;
	if (read(fd, &c, 1) == 1)
		(*hit)++;
}

static void test_many_fds(void)
{
	struct fy_loop *l = new_loop();
	struct many_ctx *m = calloc(1, sizeof(*m));
	int total = 0, iters = 0, bad = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	for (int i = 0; i < MANY; i++) {
		mk_pair(m->fds[i]);
		CU_ASSERT_EQUAL_FATAL(fy_loop_add(l, m->fds[i][0], FY_EV_READ, many_fn,
						  &m->hits[i]), 0);
	}
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 0), 0);
	for (int i = 0; i < MANY; i++)
		CU_ASSERT_EQUAL(write(m->fds[i][1], "z", 1), 1);
	while (total < MANY && iters++ < 100) {
		int rc = fy_loop_run_once(l, 1000);

		CU_ASSERT_FATAL(rc >= 0);
		total += rc;
	}
	CU_ASSERT_EQUAL(total, MANY);
	for (int i = 0; i < MANY; i++)
		bad += m->hits[i] != 1;
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 30), 0);
	/* Delete every other one, make all readable again: half fire. */
	for (int i = 0; i < MANY; i += 2)
		CU_ASSERT_EQUAL(fy_loop_del(l, m->fds[i][0]), 0);
	for (int i = 0; i < MANY; i++)
		CU_ASSERT_EQUAL(write(m->fds[i][1], "z", 1), 1);
	total = 0;
	iters = 0;
	while (total < MANY / 2 && iters++ < 100)
		total += fy_loop_run_once(l, 1000);
	CU_ASSERT_EQUAL(total, MANY / 2);
	CU_ASSERT_EQUAL(fy_loop_run_once(l, 30), 0);
	for (int i = 0; i < MANY; i++) {
		if (i % 2)
			fy_loop_del(l, m->fds[i][0]);
		close(m->fds[i][0]);
		close(m->fds[i][1]);
	}
	free(m);
	fy_loop_destroy(l);
}

struct conn_ctx {
	int done;
	int result;
	uint32_t events;
	int afd;
	int accepted;
	struct sockaddr_storage peer;
};

static void connect_fn(struct fy_loop *l, int fd, uint32_t events, void *arg)
{
	struct conn_ctx *c = arg;

	c->events |= events;
	c->result = fy_sock_connect_result(fd);
	c->done = 1;
	CU_ASSERT_EQUAL(fy_loop_mod(l, fd, 0), 0);
}

static void accept_fn(struct fy_loop *l, int fd, uint32_t events, void *arg)
{
	struct conn_ctx *c = arg;
	socklen_t len;

	(void)l;
	(void)events;
	c->afd = fy_sock_accept(fd, &c->peer, &len);
	c->accepted = c->afd >= 0;
	CU_ASSERT_EQUAL(fy_sock_accept(fd, NULL, NULL), -EAGAIN);
}

static void test_tcp_connect(void)
{
	struct fy_loop *l = new_loop();
	struct sockaddr_storage ss;
	struct conn_ctx c = { .afd = -1 };
	struct rec r = { .drain = 1 };
	socklen_t len;
	char str[64];
	int lfd, cfd, port, rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL_FATAL(fy_sock_resolve("127.0.0.1", 0, &ss, &len, 1), 0);
	lfd = fy_sock_listen(&ss, len, 1, 16);
	CU_ASSERT_FATAL(lfd >= 0);
	port = fy_sock_local_port(lfd);
	CU_ASSERT_FATAL(port > 0);
	CU_ASSERT_EQUAL_FATAL(fy_sock_resolve("127.0.0.1", (uint16_t)port, &ss, &len, 0), 0);
	cfd = fy_sock_connect(&ss, len);
	CU_ASSERT_FATAL(cfd >= 0);
	CU_ASSERT_EQUAL(fy_sock_nodelay(cfd), 0);
	CU_ASSERT_EQUAL_FATAL(fy_loop_add(l, cfd, FY_EV_WRITE, connect_fn, &c), 0);
	CU_ASSERT_EQUAL_FATAL(fy_loop_add(l, lfd, FY_EV_READ, accept_fn, &c), 0);
	run_until(l, &c.done, 2000);
	run_until(l, &c.accepted, 2000);
	CU_ASSERT_EQUAL(c.result, 0);
	CU_ASSERT(c.events & FY_EV_WRITE);
	CU_ASSERT_FATAL(c.accepted);
	fy_addr_str(&c.peer, str, sizeof(str));
	CU_ASSERT_EQUAL(strncmp(str, "127.0.0.1:", 10), 0);

	/* Bytes flow; then an RST from the accepted side reads as an error. */
	CU_ASSERT_EQUAL(fy_loop_mod(l, cfd, FY_EV_READ), 0);
	fy_loop_del(l, cfd);
	CU_ASSERT_EQUAL(fy_loop_add(l, cfd, FY_EV_READ, rec_fn, &r), 0);
	CU_ASSERT_EQUAL(write(c.afd, "hello", 5), 5);
	run_until(l, &r.calls, 2000);
	CU_ASSERT_EQUAL(r.last_read, 5);
	r.calls = 0;
	r.events = 0;
	fy_sock_close_rst(c.afd);
	run_until(l, &r.calls, 2000);
	CU_ASSERT(r.events & FY_EV_READ);
	CU_ASSERT(r.events & FY_EV_ERROR);
	CU_ASSERT_EQUAL(r.last_read, -1);
	CU_ASSERT_EQUAL(r.last_errno, ECONNRESET);
	fy_loop_del(l, cfd);
	fy_loop_del(l, lfd);
	close(cfd);

	/* A port nobody listens on: refused, at once or via the loop. */
	close(lfd);
	memset(&c, 0, sizeof(c));
	cfd = fy_sock_connect(&ss, len);
	if (cfd == -ECONNREFUSED) {
		c.result = cfd;
	} else {
		CU_ASSERT_FATAL(cfd >= 0);
		CU_ASSERT_EQUAL_FATAL(fy_loop_add(l, cfd, FY_EV_WRITE, connect_fn, &c), 0);
		run_until(l, &c.done, 2000);
		CU_ASSERT(c.done);
		CU_ASSERT(c.events & FY_EV_ERROR);
		fy_loop_del(l, cfd);
		close(cfd);
	}
	rc = c.result;
	CU_ASSERT_EQUAL(rc, -ECONNREFUSED);
	fy_loop_destroy(l);
}

/* ---- backend-independent ---- */

static void test_parse_kind(void)
{
	enum fy_loop_kind k = FY_LOOP_EPOLL;

	CU_ASSERT_EQUAL(fy_loop_parse_kind("auto", &k), 0);
	CU_ASSERT_EQUAL(k, FY_LOOP_AUTO);
	CU_ASSERT_EQUAL(fy_loop_parse_kind("epoll", &k), 0);
	CU_ASSERT_EQUAL(k, FY_LOOP_EPOLL);
	CU_ASSERT_EQUAL(fy_loop_parse_kind("uring", &k), 0);
	CU_ASSERT_EQUAL(k, FY_LOOP_URING);
	CU_ASSERT_EQUAL(fy_loop_parse_kind("io_uring", &k), 0);
	CU_ASSERT_EQUAL(k, FY_LOOP_URING);
	CU_ASSERT_EQUAL(fy_loop_parse_kind("EPOLL", &k), -EINVAL);
	CU_ASSERT_EQUAL(fy_loop_parse_kind("", &k), -EINVAL);
	CU_ASSERT_EQUAL(fy_loop_parse_kind("kqueue", &k), -EINVAL);
	CU_ASSERT_EQUAL(fy_loop_parse_kind(NULL, &k), -EINVAL);
}

static int g_uring_ok;	/* set in main: a URING loop could be created */

static void test_forced_kinds(void)
{
	char err[256] = "";
	struct fy_loop *l;

	l = fy_loop_create(FY_LOOP_URING, err, sizeof(err));
	if (g_uring_ok) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(l);
		CU_ASSERT_STRING_EQUAL(fy_loop_kind_name(l), "io_uring");
		fy_loop_destroy(l);
	} else {
		CU_ASSERT_PTR_NULL(l);
		CU_ASSERT(err[0] != '\0');
	}
	l = fy_loop_create(FY_LOOP_AUTO, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_STRING_EQUAL(fy_loop_kind_name(l), g_uring_ok ? "io_uring" : "epoll");
	fy_loop_destroy(l);
	l = fy_loop_create(FY_LOOP_EPOLL, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_STRING_EQUAL(fy_loop_kind_name(l), "epoll");
	fy_loop_destroy(l);
	fy_loop_destroy(NULL);
}

static void test_split_hostport(void)
{
	static const struct {
		const char *in;
		int rc;
		const char *host;
		uint16_t port;
	} v[] = {
		{ "127.0.0.1:22", 0, "127.0.0.1", 22 },
		{ "[::1]:80", 0, "::1", 80 },
		{ "[fe80::1%eth0]:443", 0, "fe80::1%eth0", 443 },
		{ ":8080", 0, "", 8080 },
		{ "8080", 0, "", 8080 },
		{ "host:0", 0, "host", 0 },
		{ "example.com:65535", 0, "example.com", 65535 },
		{ "*:1", 0, "*", 1 },
		{ "host:70000", -EINVAL, NULL, 0 },
		{ "host:65536", -EINVAL, NULL, 0 },
		{ "host:123456", -EINVAL, NULL, 0 },
		{ "host:", -EINVAL, NULL, 0 },
		{ "host:-1", -EINVAL, NULL, 0 },
		{ "host:+1", -EINVAL, NULL, 0 },
		{ "host:1x", -EINVAL, NULL, 0 },
		{ "nohost", -EINVAL, NULL, 0 },
		{ "", -EINVAL, NULL, 0 },
		{ ":", -EINVAL, NULL, 0 },
		{ "::1:80", -EINVAL, NULL, 0 },
		{ "[::1]", -EINVAL, NULL, 0 },
		{ "[::1]80", -EINVAL, NULL, 0 },
		{ "[]:80", -EINVAL, NULL, 0 },
		{ "[::1:80", -EINVAL, NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char host[64] = "junk";
		uint16_t port = 7;
		int rc = fy_sock_split_hostport(v[i].in, host, sizeof(host), &port);

		if (rc != v[i].rc)
			fprintf(stderr, "split_hostport(\"%s\") = %d, want %d\n", v[i].in, rc, v[i].rc);
		CU_ASSERT_EQUAL(rc, v[i].rc);
		if (rc == 0 && v[i].rc == 0) {
			CU_ASSERT_STRING_EQUAL(host, v[i].host);
			CU_ASSERT_EQUAL(port, v[i].port);
		}
	}
	/* Host longer than the buffer. */
	{
		char host[4];
		uint16_t port;

		CU_ASSERT_EQUAL(fy_sock_split_hostport("abcd:1", host, sizeof(host), &port), -EINVAL);
		CU_ASSERT_EQUAL(fy_sock_split_hostport("abc:1", host, sizeof(host), &port), 0);
		CU_ASSERT_EQUAL(fy_sock_split_hostport(NULL, host, sizeof(host), &port), -EINVAL);
	}
}

static void test_resolve_and_str(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char s[64];
	int fd;

	CU_ASSERT_EQUAL_FATAL(fy_sock_resolve("127.0.0.1", 8080, &ss, &len, 0), 0);
	CU_ASSERT_EQUAL(ss.ss_family, AF_INET);
	CU_ASSERT_STRING_EQUAL(fy_addr_str(&ss, s, sizeof(s)), "127.0.0.1:8080");
	CU_ASSERT_EQUAL_FATAL(fy_sock_resolve("::1", 443, &ss, &len, 0), 0);
	CU_ASSERT_EQUAL(ss.ss_family, AF_INET6);
	CU_ASSERT_STRING_EQUAL(fy_addr_str(&ss, s, sizeof(s)), "[::1]:443");
	/* Wildcards, passive. */
	CU_ASSERT_EQUAL(fy_sock_resolve(NULL, 1, &ss, &len, 1), 0);
	CU_ASSERT_EQUAL(fy_sock_resolve("", 1, &ss, &len, 1), 0);
	CU_ASSERT_EQUAL(fy_sock_resolve("*", 1, &ss, &len, 1), 0);
	CU_ASSERT(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
	/* Not a literal and never resolvable ("invalid" TLD, RFC 6761);
	 * -EAGAIN where no resolver is reachable. */
	{
		int rc = fy_sock_resolve("no-such-host.invalid", 1, &ss, &len, 0);

		CU_ASSERT(rc == -ENOENT || rc == -EAGAIN);
	}
	memset(&ss, 0, sizeof(ss));
	CU_ASSERT_STRING_EQUAL(fy_addr_str(&ss, s, sizeof(s)), "?");

	/* A dual-stack listener on "::" with an ephemeral port. */
	if (fy_sock_resolve("::", 0, &ss, &len, 1) == 0) {
		fd = fy_sock_listen(&ss, len, 0, 0);
		if (fd >= 0) {
			CU_ASSERT(fy_sock_local_port(fd) > 0);
			close(fd);
		}
	}
	CU_ASSERT_EQUAL(fy_sock_local_port(-1), -EBADF);
}

int main(void)
{
	static const struct cu_test loop_tests[] = {
		{ "kind_name", test_kind_name },
		{ "api_errors", test_api_errors },
		{ "read_ready", test_read_ready },
		{ "level_triggered", test_level_triggered },
		{ "write_and_mod", test_write_and_mod },
		{ "del_in_callback", test_del_in_callback },
		{ "del_self", test_del_self },
		{ "eof", test_eof },
		{ "timeout", test_timeout },
		{ "wake", test_wake },
		{ "many_fds", test_many_fds },
		{ "tcp_connect", test_tcp_connect },
	};
	static const struct cu_test common_tests[] = {
		{ "parse_kind", test_parse_kind },
		{ "forced_kinds", test_forced_kinds },
	};
	static const struct cu_test sock_tests[] = {
		{ "split_hostport", test_split_hostport },
		{ "resolve_and_str", test_resolve_and_str },
	};
	struct cu_suite suites[4];
	size_t n = 0;
	struct rlimit rl;
	struct fy_loop *l;

	/* many_fds needs ~2100 descriptors. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	l = fy_loop_create(FY_LOOP_URING, NULL, 0);
	g_uring_ok = l != NULL;
	fy_loop_destroy(l);
	if (!g_uring_ok)
		printf("io_uring loop unavailable (built in: %d): skipping its suite\n",
		       FERRY_HAVE_IO_URING);

	/* The backend's suites run the same tests, each after its init. */
	suites[n++] = (struct cu_suite){ "loop-epoll", use_epoll, loop_tests, ARRAY_LEN(loop_tests) };
	if (g_uring_ok)
		suites[n++] = (struct cu_suite){ "loop-io_uring", use_uring, loop_tests,
						 ARRAY_LEN(loop_tests) };
	suites[n++] = (struct cu_suite){ "loop-common", NULL, common_tests, ARRAY_LEN(common_tests) };
	suites[n++] = (struct cu_suite){ "sock", NULL, sock_tests, ARRAY_LEN(sock_tests) };
	return cu_run_suites(suites, n);
}
