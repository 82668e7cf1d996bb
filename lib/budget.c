/* Memory budgets (see budget.h). Each level is taken with a
 * compare-and-swap that never lets `used` pass `limit`; when a parent
 * refuses, the levels already taken are given back. */
#include "ferry/budget.h"

void fy_budget_init(struct fy_budget *b, size_t limit, struct fy_budget *parent)
{
	atomic_init(&b->used, 0);
	b->limit = limit;
	b->parent = parent;
}

static bool take_one(struct fy_budget *b, size_t n)
{
	size_t cur = atomic_load_explicit(&b->used, memory_order_relaxed);

	do {
		if (b->limit && (n > b->limit || cur > b->limit - n))
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&b->used, &cur, cur + n,
							memory_order_relaxed,
							memory_order_relaxed));
	return true;
}

bool fy_budget_try(struct fy_budget *b, size_t n)
{
	struct fy_budget *p;

	for (p = b; p; p = p->parent) {
		if (!take_one(p, n)) {
			for (struct fy_budget *q = b; q != p; q = q->parent)
				atomic_fetch_sub_explicit(&q->used, n, memory_order_relaxed);
			return false;
		}
	}
	return true;
}

void fy_budget_give(struct fy_budget *b, size_t n)
{
	for (; b; b = b->parent)
		atomic_fetch_sub_explicit(&b->used, n, memory_order_relaxed);
}
