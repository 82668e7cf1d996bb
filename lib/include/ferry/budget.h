/* A memory budget that threads share: a limit and what is taken from it,
 * optionally under a parent (a session's share under the relay's total),
 * so that taking from a child also takes from every parent.
 *
 * Used for stream buffer credit: a receiver that grants a peer more
 * window than the initial one takes the difference from its budget first,
 * and gives it back when the stream ends. Lock-free (atomics only).
 * Ownership: the owner of the struct; children must not outlive parents. */
#ifndef FERRY_BUDGET_H
#define FERRY_BUDGET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct fy_budget {
	atomic_size_t used;
	size_t limit;			/* 0: no limit */
	struct fy_budget *parent;	/* borrowed; may be NULL */
};

void fy_budget_init(struct fy_budget *b, size_t limit, struct fy_budget *parent);
/* Takes n bytes from b and every parent when all have room: true. When
 * one has not, nothing is taken: false. */
bool fy_budget_try(struct fy_budget *b, size_t n);
/* Returns n bytes taken with fy_budget_try. */
void fy_budget_give(struct fy_budget *b, size_t n);
static inline size_t fy_budget_used(const struct fy_budget *b)
{
	return atomic_load_explicit(&b->used, memory_order_relaxed);
}

#endif
