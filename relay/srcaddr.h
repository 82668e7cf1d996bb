/* What the relay knows about each source address before authentication:
 * the connections it has open that have not authenticated, its failed
 * authentications this minute, and until when it is refused. Shared by
 * every worker, lock-free.
 *
 * Keyed by the address itself (an IPv4 address, or an IPv6 /64, which one
 * host commonly holds), through a 64-bit keyed hash whose collisions are
 * out of an attacker's reach; never by a small bucket that two addresses
 * share, so a guesser cannot lock out an agent whose address happens to
 * share its bucket. The table is fixed: an address that finds no slot
 * within SRC_PROBES is not tracked (and counted), so a flood from more
 * addresses than the table holds can neither be capped per address nor
 * lock anyone out. Slots that hold nothing are given back by the sweep. */
#ifndef FERRY_RELAY_SRCADDR_H
#define FERRY_RELAY_SRCADDR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define SRC_SLOTS 16384
#define SRC_PROBES 32
/* AUTH_FAIL_BURST failures within AUTH_FAIL_WINDOW_MS: refused at accept
 * for AUTH_TARPIT_MS. */
#define AUTH_FAIL_BURST 10
#define AUTH_FAIL_WINDOW_MS 60000
#define AUTH_TARPIT_MS 30000

struct src_slot {
	_Atomic uint64_t key;			/* 0: free */
	atomic_uint unauth;			/* connections before HELLO */
	atomic_uint fails;			/* since fail_start_ms */
	atomic_uint_fast64_t fail_start_ms;
	atomic_uint_fast64_t blocked_until_ms;
};

struct src_table {
	uint64_t seed;
	atomic_ulong untracked;			/* holds that found no slot */
	struct src_slot slot[SRC_SLOTS];
};

/* Ownership: the caller allocates (it is large) and calls init. */
void src_init(struct src_table *t, uint64_t seed);
uint64_t src_key(const struct src_table *t, const struct sockaddr_storage *ss);
/* One more unauthenticated connection from key: its slot, with *count
 * the address's connections now (this one included); -1 when untracked. */
int src_hold(struct src_table *t, uint64_t key, unsigned *count);
void src_release(struct src_table *t, int slot);
/* Whether key is refused at now. */
bool src_refused(struct src_table *t, uint64_t key, uint64_t now);
/* A failed authentication from the holder of slot: true when this one
 * starts the address's refusal. */
bool src_failed(struct src_table *t, int slot, uint64_t now);
/* Gives back n slots from `from` on that hold nothing and whose failures
 * and refusal are over. Returns the next slot to sweep. */
unsigned src_sweep(struct src_table *t, unsigned from, unsigned n, uint64_t now);

#endif
