/* A worker's inbox: other workers (and the main thread) queue messages
 * for it without locks (a liburcu wait-free queue) and wake it through its
 * backend; only the worker itself takes them out. What a message means is
 * worker.c's business, not the inbox's. */
#ifndef FERRY_RELAY_INBOX_H
#define FERRY_RELAY_INBOX_H

#include "worker-t.h"

void inbox_init(struct worker *w);
/* Any thread: queue m for `to` and wake it. Takes m. */
void inbox_send(struct worker *to, struct msg *m);
/* The worker's own thread: the next message, or NULL. */
struct msg *inbox_take(struct worker *w);

#endif
