/* A small readiness event loop (in the spirit of Redis' ae): one per
 * thread, level-triggered, with two backends chosen at run time:
 * epoll, and io_uring (one-shot IORING_OP_POLL_ADD re-armed after each
 * event) where liburing was built in and the running kernel allows it.
 * Not thread-safe: a loop is touched only by the thread that runs it,
 * except fy_loop_wake, which any thread may call. */
#ifndef FERRY_LOOP_H
#define FERRY_LOOP_H

#include <stddef.h>
#include <stdint.h>

enum fy_loop_kind { FY_LOOP_AUTO = 0, FY_LOOP_EPOLL, FY_LOOP_URING };

enum {
	FY_EV_READ = 1u,
	FY_EV_WRITE = 2u,
	FY_EV_ERROR = 4u,	/* delivered, never requested: HUP/ERR */
};

struct fy_loop;

/* events: what is ready (FY_EV_*). The callback may add, modify or delete
 * any fd, including its own; events for an fd deleted during this
 * iteration are not delivered afterwards. */
typedef void (*fy_loop_fn)(struct fy_loop *l, int fd, uint32_t events, void *arg);

/* Creates a loop. AUTO tries io_uring first (when built in) and falls back
 * to epoll; URING fails with a message when unavailable. */
struct fy_loop *fy_loop_create(enum fy_loop_kind kind, char *err, size_t errlen);
void fy_loop_destroy(struct fy_loop *l);
const char *fy_loop_kind_name(const struct fy_loop *l);	/* "epoll" / "io_uring" */
/* Parses "auto|epoll|uring". 0 or -EINVAL. */
int fy_loop_parse_kind(const char *s, enum fy_loop_kind *out);

/* fd must be non-blocking. events: FY_EV_READ|FY_EV_WRITE (0 allowed:
 * registered but quiet). 0 or -errno. */
int fy_loop_add(struct fy_loop *l, int fd, uint32_t events, fy_loop_fn fn, void *arg);
int fy_loop_mod(struct fy_loop *l, int fd, uint32_t events);
/* Must be called before close(fd). */
int fy_loop_del(struct fy_loop *l, int fd);

/* Waits up to timeout_ms (-1: forever) and dispatches ready callbacks,
 * and the wake callback when fy_loop_wake was called. Returns the number
 * of callbacks run, or -errno (never -EINTR). */
int fy_loop_run_once(struct fy_loop *l, int timeout_ms);

/* Microseconds spent blocked waiting for events since the loop was made
 * (the rest of a thread's time is work: its busy share, for metrics). */
uint64_t fy_loop_idle_us(const struct fy_loop *l);

/* Cross-thread wake-up (eventfd): fn runs on the loop's thread at its next
 * iteration after any number of fy_loop_wake calls. */
int fy_loop_set_wake(struct fy_loop *l, void (*fn)(struct fy_loop *l, void *arg), void *arg);
void fy_loop_wake(struct fy_loop *l);

#endif
