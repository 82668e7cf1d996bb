/* The worker's inbox (see inbox.h). */
#include "backend.h"
#include "inbox.h"
#include "relay-t.h"

void inbox_init(struct worker *w)
{
	cds_wfcq_init(&w->inbox_head, &w->inbox_tail);
}

void inbox_send(struct worker *to, struct msg *m)
{
	cds_wfcq_node_init(&m->node);
	cds_wfcq_enqueue(&to->inbox_head, &to->inbox_tail, &m->node);
	to->r->be->wake(to);
}

struct msg *inbox_take(struct worker *w)
{
	/* Single consumer: only this worker dequeues its inbox. */
	struct cds_wfcq_node *n = __cds_wfcq_dequeue_blocking(&w->inbox_head, &w->inbox_tail);

	return n ? caa_container_of(n, struct msg, node) : NULL;
}
