/* The relay's admin API (relay/admin/): HTTP/1.1 + JSON on its own
 * listener (--admin-listen ADDR:PORT and/or --admin-socket PATH) and its
 * own thread, never on a worker. It reads the registry under RCU (the
 * thread is registered, and online only while it reads), reads counters
 * the workers publish, and reaches workers only through their inboxes
 * (ctl.h). Started by the backend once its workers exist; stopped before
 * they are freed. */
#ifndef FERRY_ADMIN_H
#define FERRY_ADMIN_H

#include "admin-t.h"
#include "relay-t.h"

/* Binds the listeners and starts the thread: 0, or -1 with a message on
 * stderr (the relay does not start). Nothing to do without a listener. */
int admin_start(struct relay *r);
void admin_stop(struct relay *r);

/* snap.c; the caller holds rcu_read_lock (and is online). 0, or -1 when
 * out of memory (nothing to free then). */
int adm_snap_take(struct relay *r, uint64_t now_ms, struct adm_snap *s);
void adm_snap_free(struct adm_snap *s);
const struct adm_agent *adm_snap_agent(const struct adm_snap *s, const char *name);

#endif
