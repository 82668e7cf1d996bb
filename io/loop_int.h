/* Private to io/loop*.c: the generic loop state and the backend ops table.
 * loop.c owns the registration table and dispatch; a backend (epoll,
 * io_uring) only translates registrations into kernel interest and
 * kernel readiness back into fy_loop_dispatch calls. */
#ifndef FERRY_LOOP_INT_H
#define FERRY_LOOP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ferry/loop.h"
#include "ferry_config.h"

/* One slot per fd, indexed by fd. fn == NULL: not registered. gen changes
 * on every del and every effective mod, so readiness reported for an
 * older registration (same fd number) is recognised as stale. */
struct fy_loop_reg {
	fy_loop_fn fn;
	void *arg;
	uint32_t events;	/* FY_EV_READ|FY_EV_WRITE wanted */
	uint32_t gen;
	/* Backend-private; zero for a slot never used. */
	uint32_t be_gen;	/* gen of the kernel request in flight */
	uint8_t be_armed;	/* a kernel request is in flight */
	uint8_t be_dirty;	/* queued for the backend to reconcile */
};

struct fy_loop;

struct fy_loop_backend {
	const char *name;
	/* Sets l->be. On failure fills err and returns -errno. */
	int (*init)(struct fy_loop *l, char *err, size_t errlen);
	void (*fini)(struct fy_loop *l);
	/* Called after the slot is filled in (r->events, r->gen current). */
	int (*add)(struct fy_loop *l, int fd, struct fy_loop_reg *r);
	/* Called after r->events/r->gen were updated; old_events before. */
	int (*mod)(struct fy_loop *l, int fd, struct fy_loop_reg *r, uint32_t old_events);
	/* Called after the slot was cleared (fn NULL, gen bumped);
	 * old_events is what was registered. */
	int (*del)(struct fy_loop *l, int fd, struct fy_loop_reg *r, uint32_t old_events);
	/* Waits and calls fy_loop_dispatch for each ready fd. Returns the
	 * number of callbacks run or -errno (never -EINTR). */
	int (*wait)(struct fy_loop *l, int timeout_ms);
};

struct fy_loop {
	const struct fy_loop_backend *ops;
	void *be;			/* backend state */
	struct fy_loop_reg *regs;
	size_t nregs;
	int wake_fd;			/* eventfd, registered like any fd */
	void (*wake_fn)(struct fy_loop *l, void *arg);
	void *wake_arg;
	uint64_t idle_us;		/* spent blocked in the backend's wait */
};

extern const struct fy_loop_backend fy_loop_epoll_backend;
#if FERRY_HAVE_IO_URING
extern const struct fy_loop_backend fy_loop_uring_backend;
#endif

/* Runs fd's callback when fd is still registered under gen and some of
 * events is wanted (FY_EV_ERROR always is, and implies FY_EV_READ).
 * Returns 1 when a callback ran, else 0. */
int fy_loop_dispatch(struct fy_loop *l, int fd, uint32_t gen, uint32_t events);

static inline struct fy_loop_reg *fy_loop_reg_get(struct fy_loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->nregs)
		return NULL;
	return &l->regs[fd];
}

/* Packs fd and generation into 64 bits of epoll data / io_uring user_data. */
static inline uint64_t fy_loop_tag(int fd, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint32_t)fd;
}

static inline int fy_loop_tag_fd(uint64_t tag)
{
	return (int)(uint32_t)tag;
}

static inline uint32_t fy_loop_tag_gen(uint64_t tag)
{
	return (uint32_t)(tag >> 32);
}

#endif
