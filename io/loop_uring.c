/* io_uring backend: one one-shot IORING_OP_POLL_ADD in flight per fd that
 * wants events, user_data = fd + registration generation. add and mod
 * only mark the fd dirty; before each wait the dirty fds are reconciled
 * with the kernel (POLL_REMOVE of a poll armed for an older generation,
 * POLL_ADD for a wanted fd with none in flight) and all of it is
 * submitted in the io_uring_enter that waits. del alone submits its
 * POLL_REMOVE at once (see uring_del). A completed poll leaves its fd
 * dirty, so it is re-armed on the next iteration if still registered;
 * the re-armed poll completes at once while the fd stays ready, which
 * gives level-triggered behaviour. */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/clock.h"
#include "loop_int.h"

#define URING_ENTRIES 256
#define URING_CQ_ENTRIES 4096	/* many fds can be ready at once */
#define URING_BATCH 256		/* completions harvested per iteration */
#define TAG_REMOVE UINT64_MAX	/* user_data of POLL_REMOVE requests */

struct uring_ev {
	int fd;
	uint32_t gen;
	uint32_t events;
};

struct uring_be {
	struct io_uring ring;
	int *dirty;		/* fds to reconcile, each once (be_dirty) */
	size_t ndirty;
	size_t cap;		/* kept >= l->nregs, so marking never fails */
	struct uring_ev batch[URING_BATCH];
};

static int ring_setup(struct io_uring *ring)
{
	struct io_uring_params p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = URING_CQ_ENTRIES;
	rc = io_uring_queue_init_params(URING_ENTRIES, ring, &p);
	if (rc == -EINVAL)	/* kernel without CQSIZE: default CQ size */
		rc = io_uring_queue_init(URING_ENTRIES, ring, 0);
	return rc;
}

static int uring_init(struct fy_loop *l, char *err, size_t errlen)
{
	struct uring_be *be = calloc(1, sizeof(*be));
	struct io_uring_probe *probe;
	int rc;

	if (!be) {
		snprintf(err, errlen, "io_uring: out of memory");
		return -ENOMEM;
	}
	rc = ring_setup(&be->ring);
	if (rc < 0) {
		snprintf(err, errlen, "io_uring: io_uring_queue_init: %s%s", strerror(-rc),
			 rc == -EPERM || rc == -ENOSYS ?
			 " (disabled by kernel.io_uring_disabled or a seccomp filter?)" : "");
		free(be);
		return rc;
	}
	probe = io_uring_get_probe_ring(&be->ring);
	if (!probe || !io_uring_opcode_supported(probe, IORING_OP_POLL_ADD) ||
	    !io_uring_opcode_supported(probe, IORING_OP_POLL_REMOVE)) {
		snprintf(err, errlen, "io_uring: %s", probe ?
			 "the kernel does not support IORING_OP_POLL_ADD/REMOVE" :
			 "cannot probe supported opcodes (kernel older than 5.6?)");
		if (probe)
			io_uring_free_probe(probe);
		io_uring_queue_exit(&be->ring);
		free(be);
		return -ENOTSUP;
	}
	io_uring_free_probe(probe);
	l->be = be;
	return 0;
}

static void uring_fini(struct fy_loop *l)
{
	struct uring_be *be = l->be;

	if (!be)
		return;
	io_uring_queue_exit(&be->ring);	/* cancels the polls in flight */
	free(be->dirty);
	free(be);
	l->be = NULL;
}

static void mark_dirty(struct uring_be *be, int fd, struct fy_loop_reg *r)
{
	if (r->be_dirty || be->ndirty == be->cap)
		return;		/* the second cannot happen: cap >= nregs */
	be->dirty[be->ndirty++] = fd;
	r->be_dirty = 1;
}

static int dirty_reserve(struct fy_loop *l)
{
	struct uring_be *be = l->be;
	int *d;

	if (be->cap >= l->nregs)
		return 0;
	d = realloc(be->dirty, l->nregs * sizeof(*d));
	if (!d)
		return -ENOMEM;
	be->dirty = d;
	be->cap = l->nregs;
	return 0;
}

static struct io_uring_sqe *get_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe && io_uring_submit(ring) >= 0)
		sqe = io_uring_get_sqe(ring);
	return sqe;
}

static int uring_add(struct fy_loop *l, int fd, struct fy_loop_reg *r)
{
	int rc = dirty_reserve(l);

	if (rc < 0)
		return rc;
	mark_dirty(l->be, fd, r);
	return 0;
}

static int uring_mod(struct fy_loop *l, int fd, struct fy_loop_reg *r, uint32_t old_events)
{
	(void)old_events;
	mark_dirty(l->be, fd, r);
	return 0;
}

/* Unlike add/mod, the POLL_REMOVE is submitted at once: an armed poll
 * holds a reference to the file, so a close(fd) right after del would not
 * really close the socket (no FIN/RST, a listener keeps accepting) until
 * the next iteration flushed the removal. */
static int uring_del(struct fy_loop *l, int fd, struct fy_loop_reg *r, uint32_t old_events)
{
	struct uring_be *be = l->be;
	struct io_uring_sqe *sqe;

	(void)old_events;
	if (r->be_armed && (sqe = get_sqe(&be->ring)) != NULL) {
		io_uring_prep_poll_remove(sqe, fy_loop_tag(fd, r->be_gen));
		io_uring_sqe_set_data64(sqe, TAG_REMOVE);
		r->be_armed = 0;
		io_uring_submit(&be->ring);
	}
	mark_dirty(be, fd, r);	/* retries a removal the SQ could not take */
	return 0;
}

static unsigned poll_mask(uint32_t events)
{
	unsigned m = 0;

	if (events & FY_EV_READ)
		m |= POLLIN | POLLRDHUP;
	if (events & FY_EV_WRITE)
		m |= POLLOUT;
	return m;
}

/* Brings the kernel in line with the registrations of the dirty fds.
 * Returns 0 when all were handled, 1 when the SQ could not take more
 * (the rest stay dirty for the next iteration). */
static int flush(struct fy_loop *l)
{
	struct uring_be *be = l->be;
	size_t i;

	for (i = 0; i < be->ndirty; i++) {
		int fd = be->dirty[i];
		struct fy_loop_reg *r = &l->regs[fd];
		int want = r->fn && r->events;
		struct io_uring_sqe *sqe;

		if (r->be_armed && (!want || r->be_gen != r->gen)) {
			sqe = get_sqe(&be->ring);
			if (!sqe)
				break;
			io_uring_prep_poll_remove(sqe, fy_loop_tag(fd, r->be_gen));
			io_uring_sqe_set_data64(sqe, TAG_REMOVE);
			r->be_armed = 0;
		}
		if (want && !r->be_armed) {
			sqe = get_sqe(&be->ring);
			if (!sqe)
				break;
			io_uring_prep_poll_add(sqe, fd, poll_mask(r->events));
			io_uring_sqe_set_data64(sqe, fy_loop_tag(fd, r->gen));
			r->be_armed = 1;
			r->be_gen = r->gen;
		}
		r->be_dirty = 0;
	}
	if (i == be->ndirty) {
		be->ndirty = 0;
		return 0;
	}
	memmove(be->dirty, be->dirty + i, (be->ndirty - i) * sizeof(*be->dirty));
	be->ndirty -= i;
	return 1;
}

static uint32_t to_fy(int res)
{
	uint32_t ev = 0;

	if (res < 0)
		return FY_EV_ERROR | FY_EV_READ;
	if (res & (POLLIN | POLLRDHUP))
		ev |= FY_EV_READ;
	if (res & POLLOUT)
		ev |= FY_EV_WRITE;
	if (res & (POLLERR | POLLHUP | POLLNVAL))
		ev |= FY_EV_ERROR | FY_EV_READ;
	return ev;
}

/* Moves up to URING_BATCH completions out of the CQ into be->batch. */
static unsigned harvest(struct fy_loop *l)
{
	struct uring_be *be = l->be;
	struct io_uring_cqe *cqes[URING_BATCH];
	unsigned n, nev = 0;

	n = io_uring_peek_batch_cqe(&be->ring, cqes, URING_BATCH);
	for (unsigned i = 0; i < n; i++) {
		uint64_t tag = io_uring_cqe_get_data64(cqes[i]);
		int res = cqes[i]->res;
		int fd = fy_loop_tag_fd(tag);
		uint32_t gen = fy_loop_tag_gen(tag);
		struct fy_loop_reg *r;

		if (tag == TAG_REMOVE)
			continue;
		r = fy_loop_reg_get(l, fd);
		if (!r || !r->be_armed || r->be_gen != gen)
			continue;	/* a poll removed since: stale */
		r->be_armed = 0;
		/* Re-arm on the next iteration if still wanted; not for a
		 * closed fd (closed without fy_loop_del), which would spin. */
		if (res != -EBADF)
			mark_dirty(be, fd, r);
		if (res == -ECANCELED)
			continue;
		be->batch[nev].fd = fd;
		be->batch[nev].gen = gen;
		be->batch[nev].events = to_fy(res);
		nev++;
	}
	io_uring_cq_advance(&be->ring, n);
	return nev;
}

static int uring_wait(struct fy_loop *l, int timeout_ms)
{
	struct uring_be *be = l->be;
	struct io_uring_cqe *cqe;
	unsigned nev;
	int rc, ran = 0;

	if (flush(l))
		timeout_ms = 0;	/* SQ full: drain the CQ and come back */
	if (timeout_ms == 0) {
		rc = io_uring_submit(&be->ring);
	} else if (timeout_ms < 0) {
		uint64_t t0 = fy_now_us();

		rc = io_uring_submit_and_wait_timeout(&be->ring, &cqe, 1, NULL, NULL);
		l->idle_us += fy_now_us() - t0;
	} else {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_ms / 1000,
			.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
		};
		uint64_t t0 = fy_now_us();

		rc = io_uring_submit_and_wait_timeout(&be->ring, &cqe, 1, &ts, NULL);
		l->idle_us += fy_now_us() - t0;
	}
	/* ETIME: timed out; EBUSY/EAGAIN: CQ overflowing or out of
	 * resources, harvesting below makes room; EINTR: a signal. */
	if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
		return rc;

	nev = harvest(l);
	/* Callbacks may add, modify or delete any fd; fy_loop_dispatch
	 * checks each entry's registration and generation before running. */
	for (unsigned i = 0; i < nev; i++)
		ran += fy_loop_dispatch(l, be->batch[i].fd, be->batch[i].gen,
					be->batch[i].events);
	return ran;
}

const struct fy_loop_backend fy_loop_uring_backend = {
	.name = "io_uring",
	.init = uring_init,
	.fini = uring_fini,
	.add = uring_add,
	.mod = uring_mod,
	.del = uring_del,
	.wait = uring_wait,
};
