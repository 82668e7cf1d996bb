/* Generic half of the event loop: the per-fd registration table, the
 * wake-up eventfd, backend selection and dispatch. The backends
 * (loop_epoll.c, loop_uring.c) sit behind struct fy_loop_backend. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ferry_config.h"
#include "loop_int.h"

#define LOOP_MIN_REGS 64

static int grow(struct fy_loop *l, int fd)
{
	size_t n = l->nregs ? l->nregs : LOOP_MIN_REGS;
	struct fy_loop_reg *regs;

	while (n <= (size_t)fd)
		n *= 2;
	if (n == l->nregs)
		return 0;
	regs = realloc(l->regs, n * sizeof(*regs));
	if (!regs)
		return -ENOMEM;
	memset(regs + l->nregs, 0, (n - l->nregs) * sizeof(*regs));
	l->regs = regs;
	l->nregs = n;
	return 0;
}

/* Never called through dispatch (the wake fd is handled inline there);
 * it only marks the slot as registered. */
static void wake_slot_fn(struct fy_loop *l, int fd, uint32_t events, void *arg)
{
	(void)l;
	(void)fd;
	(void)events;
	(void)arg;
}

/* Drains the eventfd; the wake fn runs once however many wakes came. */
static int wake_drain(struct fy_loop *l)
{
	uint64_t v;

	if (read(l->wake_fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return 0;
	if (!l->wake_fn)
		return 0;
	l->wake_fn(l, l->wake_arg);
	return 1;
}

int fy_loop_dispatch(struct fy_loop *l, int fd, uint32_t gen, uint32_t events)
{
	struct fy_loop_reg *r = fy_loop_reg_get(l, fd);
	uint32_t deliver;

	if (!r || !r->fn || r->gen != gen)
		return 0;		/* deleted or changed since reported */
	deliver = events & r->events;
	if (events & FY_EV_ERROR)
		deliver |= FY_EV_ERROR | FY_EV_READ;
	if (!deliver)
		return 0;
	if (fd == l->wake_fd)
		return wake_drain(l);
	r->fn(l, fd, deliver, r->arg);
	return 1;
}

static int try_backend(struct fy_loop *l, const struct fy_loop_backend *ops,
		       char *err, size_t errlen)
{
	int rc;

	l->ops = ops;
	rc = ops->init(l, err, errlen);
	if (rc < 0)
		l->ops = NULL;
	return rc;
}

struct fy_loop *fy_loop_create(enum fy_loop_kind kind, char *err, size_t errlen)
{
	char scratch[128];
	struct fy_loop *l;
	int rc = -EINVAL;

	if (!err || !errlen) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	err[0] = '\0';
	l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "loop: out of memory");
		return NULL;
	}
	l->wake_fd = -1;

	switch (kind) {
	case FY_LOOP_AUTO:
#if FERRY_HAVE_IO_URING
		rc = try_backend(l, &fy_loop_uring_backend, err, errlen);
		if (rc == 0)
			break;
#endif
		rc = try_backend(l, &fy_loop_epoll_backend, err, errlen);
		break;
	case FY_LOOP_EPOLL:
		rc = try_backend(l, &fy_loop_epoll_backend, err, errlen);
		break;
	case FY_LOOP_URING:
#if FERRY_HAVE_IO_URING
		rc = try_backend(l, &fy_loop_uring_backend, err, errlen);
#else
		snprintf(err, errlen, "io_uring: not built in (liburing was not found at build time)");
		rc = -ENOTSUP;
#endif
		break;
	default:
		snprintf(err, errlen, "loop: unknown kind %d", (int)kind);
		rc = -EINVAL;
		break;
	}
	if (rc < 0)
		goto out;

	l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->wake_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "loop: eventfd: %s", strerror(-rc));
		goto out;
	}
	rc = fy_loop_add(l, l->wake_fd, FY_EV_READ, wake_slot_fn, NULL);
	if (rc < 0)
		snprintf(err, errlen, "loop: registering wake eventfd: %s", strerror(-rc));
out:
	if (rc < 0) {
		fy_loop_destroy(l);
		return NULL;
	}
	return l;
}

void fy_loop_destroy(struct fy_loop *l)
{
	if (!l)
		return;
	if (l->ops)
		l->ops->fini(l);
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	free(l->regs);
	free(l);
}

const char *fy_loop_kind_name(const struct fy_loop *l)
{
	return l->ops->name;
}

int fy_loop_parse_kind(const char *s, enum fy_loop_kind *out)
{
	static const struct { const char *name; enum fy_loop_kind kind; } kinds[] = {
		{ "auto", FY_LOOP_AUTO },
		{ "epoll", FY_LOOP_EPOLL },
		{ "uring", FY_LOOP_URING },
		{ "io_uring", FY_LOOP_URING },	/* what fy_loop_kind_name prints */
	};

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(s, kinds[i].name) == 0) {
			*out = kinds[i].kind;
			return 0;
		}
	}
	return -EINVAL;
}

static int events_valid(uint32_t events)
{
	return (events & ~(uint32_t)(FY_EV_READ | FY_EV_WRITE)) == 0;
}

int fy_loop_add(struct fy_loop *l, int fd, uint32_t events, fy_loop_fn fn, void *arg)
{
	struct fy_loop_reg *r;
	int rc;

	if (fd < 0)
		return -EBADF;
	if (!fn || !events_valid(events))
		return -EINVAL;
	/* Neither backend notices a bad fd registered with no events (or,
	 * for io_uring, until the first poll completes): check up front. */
	if (fcntl(fd, F_GETFD) < 0)
		return -errno;
	rc = grow(l, fd);
	if (rc < 0)
		return rc;
	r = &l->regs[fd];
	if (r->fn)
		return -EEXIST;
	r->fn = fn;
	r->arg = arg;
	r->events = events;
	rc = l->ops->add(l, fd, r);
	if (rc < 0) {
		r->fn = NULL;
		r->arg = NULL;
		r->events = 0;
		r->gen++;
	}
	return rc;
}

int fy_loop_mod(struct fy_loop *l, int fd, uint32_t events)
{
	struct fy_loop_reg *r = fy_loop_reg_get(l, fd);
	uint32_t old;
	int rc;

	if (!r || !r->fn)
		return -ENOENT;
	if (!events_valid(events))
		return -EINVAL;
	if (events == r->events)
		return 0;
	old = r->events;
	r->events = events;
	r->gen++;
	rc = l->ops->mod(l, fd, r, old);
	if (rc < 0) {		/* the kernel still holds the old interest */
		r->events = old;
		r->gen--;
	}
	return rc;
}

int fy_loop_del(struct fy_loop *l, int fd)
{
	struct fy_loop_reg *r = fy_loop_reg_get(l, fd);
	uint32_t old;

	if (!r || !r->fn)
		return -ENOENT;
	old = r->events;
	r->fn = NULL;
	r->arg = NULL;
	r->events = 0;
	r->gen++;
	return l->ops->del(l, fd, r, old);
}

int fy_loop_run_once(struct fy_loop *l, int timeout_ms)
{
	int rc = l->ops->wait(l, timeout_ms);

	return rc == -EINTR ? 0 : rc;
}

uint64_t fy_loop_idle_us(const struct fy_loop *l)
{
	return l->idle_us;
}

int fy_loop_set_wake(struct fy_loop *l, void (*fn)(struct fy_loop *l, void *arg), void *arg)
{
	l->wake_fn = fn;
	l->wake_arg = arg;
	return 0;
}

void fy_loop_wake(struct fy_loop *l)
{
	uint64_t one = 1;
	/* EAGAIN means the counter is saturated: a wake is pending anyway. */
	ssize_t n = write(l->wake_fd, &one, sizeof(one));

	(void)n;
}
