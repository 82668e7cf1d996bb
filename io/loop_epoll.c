/* epoll backend: level-triggered, epoll data = fd + registration
 * generation. An fd registered with no events is kept out of the epoll
 * set (epoll would still report HUP/ERR for it, and level-triggered that
 * would spin). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ferry/clock.h"
#include "loop_int.h"

#define EPOLL_BATCH 256

struct epoll_be {
	int epfd;
	struct epoll_event evs[EPOLL_BATCH];
};

static int epoll_init(struct fy_loop *l, char *err, size_t errlen)
{
	struct epoll_be *be = calloc(1, sizeof(*be));
	int rc;

	if (!be) {
		snprintf(err, errlen, "epoll: out of memory");
		return -ENOMEM;
	}
	be->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (be->epfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "epoll: epoll_create1: %s", strerror(-rc));
		free(be);
		return rc;
	}
	l->be = be;
	return 0;
}

static void epoll_fini(struct fy_loop *l)
{
	struct epoll_be *be = l->be;

	if (!be)
		return;
	close(be->epfd);
	free(be);
	l->be = NULL;
}

static int ctl(struct fy_loop *l, int op, int fd, const struct fy_loop_reg *r)
{
	struct epoll_be *be = l->be;
	struct epoll_event ev = { 0 };

	if (r->events & FY_EV_READ)
		ev.events |= EPOLLIN | EPOLLRDHUP;
	if (r->events & FY_EV_WRITE)
		ev.events |= EPOLLOUT;
	ev.data.u64 = fy_loop_tag(fd, r->gen);
	if (epoll_ctl(be->epfd, op, fd, &ev) < 0)
		return -errno;
	return 0;
}

static int epoll_add(struct fy_loop *l, int fd, struct fy_loop_reg *r)
{
	return r->events ? ctl(l, EPOLL_CTL_ADD, fd, r) : 0;
}

static int epoll_mod(struct fy_loop *l, int fd, struct fy_loop_reg *r, uint32_t old_events)
{
	if (!old_events)
		return ctl(l, EPOLL_CTL_ADD, fd, r);
	if (!r->events)
		return ctl(l, EPOLL_CTL_DEL, fd, r);
	return ctl(l, EPOLL_CTL_MOD, fd, r);
}

static int epoll_del(struct fy_loop *l, int fd, struct fy_loop_reg *r, uint32_t old_events)
{
	return old_events ? ctl(l, EPOLL_CTL_DEL, fd, r) : 0;
}

static uint32_t to_fy(uint32_t e)
{
	uint32_t ev = 0;

	if (e & (EPOLLIN | EPOLLRDHUP))
		ev |= FY_EV_READ;
	if (e & EPOLLOUT)
		ev |= FY_EV_WRITE;
	if (e & (EPOLLERR | EPOLLHUP))
		ev |= FY_EV_ERROR | FY_EV_READ;
	return ev;
}

static int epoll_wait_dispatch(struct fy_loop *l, int timeout_ms)
{
	struct epoll_be *be = l->be;
	int n, ran = 0;
	uint64_t t0 = timeout_ms ? fy_now_us() : 0;

	n = epoll_wait(be->epfd, be->evs, EPOLL_BATCH, timeout_ms);
	if (timeout_ms)
		l->idle_us += fy_now_us() - t0;
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	/* A callback may delete or re-register any fd reported later in
	 * this batch; fy_loop_dispatch checks fd + generation each time. */
	for (int i = 0; i < n; i++) {
		uint64_t tag = be->evs[i].data.u64;

		ran += fy_loop_dispatch(l, fy_loop_tag_fd(tag), fy_loop_tag_gen(tag),
					to_fy(be->evs[i].events));
	}
	return ran;
}

const struct fy_loop_backend fy_loop_epoll_backend = {
	.name = "epoll",
	.init = epoll_init,
	.fini = epoll_fini,
	.add = epoll_add,
	.mod = epoll_mod,
	.del = epoll_del,
	.wait = epoll_wait_dispatch,
};
