/* Hashed timer wheel. Due timers are first moved to a private list, then
 * fired one by one, so a callback that cancels another due timer (a
 * connection dying cancels all of its timers) only unlinks it there. */
#include <stddef.h>

#include "timer_wheel.h"

static void link_init(struct tw_link *h)
{
	h->next = h->prev = h;
}

static void link_add_tail(struct tw_link *h, struct tw_link *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static void link_del(struct tw_link *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = NULL;
}

void tw_init(struct tw_wheel *w, uint64_t now_tick)
{
	w->now = now_tick;
	for (unsigned i = 0; i < TW_SLOTS; i++)
		link_init(&w->slot[i]);
}

void tw_timer_init(struct tw_timer *t, tw_fn fn)
{
	t->link.next = t->link.prev = NULL;
	t->expire = 0;
	t->fn = fn;
}

void tw_cancel(struct tw_timer *t)
{
	if (tw_armed(t))
		link_del(&t->link);
}

void tw_arm(struct tw_wheel *w, struct tw_timer *t, uint64_t expire)
{
	tw_cancel(t);
	if (expire <= w->now)
		expire = w->now + 1;
	t->expire = expire;
	link_add_tail(&w->slot[expire % TW_SLOTS], &t->link);
}

/* Moves the timers of one slot that are due by `tick` to `due`. */
static void collect(struct tw_link *slot, uint64_t tick, struct tw_link *due)
{
	struct tw_link *n = slot->next;

	while (n != slot) {
		struct tw_link *next = n->next;
		struct tw_timer *t = (struct tw_timer *)n;	/* link is first */

		if (t->expire <= tick) {
			link_del(n);
			link_add_tail(due, n);
		}
		n = next;
	}
}

static void fire(struct tw_link *due)
{
	while (due->next != due) {
		struct tw_timer *t = (struct tw_timer *)due->next;

		link_del(&t->link);
		t->fn(t);
	}
}

void tw_advance(struct tw_wheel *w, uint64_t now_tick)
{
	struct tw_link due;

	link_init(&due);
	if (now_tick <= w->now)
		return;
	if (now_tick - w->now >= TW_SLOTS) {
		/* A long gap: one pass over every slot instead of a walk
		 * tick by tick. */
		w->now = now_tick;
		for (unsigned i = 0; i < TW_SLOTS; i++)
			collect(&w->slot[i], now_tick, &due);
		fire(&due);
		return;
	}
	while (w->now < now_tick) {
		w->now++;
		collect(&w->slot[w->now % TW_SLOTS], w->now, &due);
		fire(&due);
	}
}
