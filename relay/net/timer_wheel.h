/* A hashed timer wheel: one per stack, ticks of 1 ms, 4096 slots. Arm and
 * cancel are O(1) (a timer is a node in a doubly linked slot list); a
 * timer further out than one turn waits in its slot until its tick comes.
 * Timers are embedded in their owner (container_of in the callback). */
#ifndef FERRY_NET_TIMER_WHEEL_H
#define FERRY_NET_TIMER_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#define TW_SLOTS 4096u

struct tw_link {
	struct tw_link *next, *prev;
};

struct tw_timer;
typedef void (*tw_fn)(struct tw_timer *t);

struct tw_timer {
	struct tw_link link;	/* unlinked: next == NULL */
	uint64_t expire;	/* tick */
	tw_fn fn;
};

struct tw_wheel {
	uint64_t now;		/* last tick processed */
	struct tw_link slot[TW_SLOTS];
};

void tw_init(struct tw_wheel *w, uint64_t now_tick);
void tw_timer_init(struct tw_timer *t, tw_fn fn);
/* Arms (or re-arms) t to fire at tick expire; a tick not in the future
 * fires on the next advance. */
void tw_arm(struct tw_wheel *w, struct tw_timer *t, uint64_t expire);
void tw_cancel(struct tw_timer *t);
static inline bool tw_armed(const struct tw_timer *t) { return t->link.next != 0; }
/* Fires every timer due at or before now_tick; callbacks may arm and
 * cancel any timer, including ones due in the same advance. */
void tw_advance(struct tw_wheel *w, uint64_t now_tick);

#endif
