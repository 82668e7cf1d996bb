/* What every backend's worker loop calls (worker.c): set-up, the inbox's
 * messages, timers, drain, batched flushes, deferred frees. Runs only on
 * the worker's own thread or lcore. */
#ifndef FERRY_RELAY_WORKER_H
#define FERRY_RELAY_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "worker-t.h"

#define WORKER_TICK_MS 100

/* The core's part of a worker (the backend sets be_data and its own). */
int worker_init(struct worker *w, struct relay *r, unsigned id);
void worker_fini(struct worker *w);
/* Messages and deferred reads: after the backend's wake. */
void worker_wakeup(struct worker *w);
/* After each round of I/O: timers, drain, flushes, frees. true: stop. */
bool worker_step(struct worker *w, uint64_t now);
/* The backend's loop accounting, totals in microseconds since the
 * worker started (busy: time spent working, not waiting for events):
 * published for /metrics with the busy share of the last second. */
void worker_publish_busy(struct worker *w, uint64_t busy_us, uint64_t loop_us, uint64_t now_ms);
/* The worker is stopping: close everything it holds. */
void worker_finish(struct worker *w);

#endif
