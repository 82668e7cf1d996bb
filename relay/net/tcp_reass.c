/* Out-of-order reassembly. The bytes go straight into the receive ring at
 * their offset (the window we advertised guarantees the room), so holding
 * them costs no allocation; this file only tracks which ranges are held,
 * capped in ranges and in bytes (cfg ooo_max_segs / ooo_max_bytes). */
#include <string.h>

#include "net_impl.h"

void tcp_ooo_clear(struct tcp_conn *c)
{
	c->ooo.n = 0;
	c->ooo.bytes = 0;
}

int tcp_ooo_add(struct tcp_conn *c, uint32_t seq, const uint8_t *d, uint32_t n)
{
	const struct net_config *cfg = &c->st->cfg;
	struct tcp_ooo *q = &c->ooo;
	uint32_t ns[NET_OOO_MAX + 1], ne[NET_OOO_MAX + 1], cnt = 0, bytes = 0;
	/* Offsets from rcv_nxt: no wrap-around within the window. */
	uint32_t s = seq - c->rcv_nxt, e = s + n;
	bool placed = false;

	for (uint32_t i = 0; i < q->n; i++) {
		uint32_t is = q->start[i] - c->rcv_nxt, ie = q->end[i] - c->rcv_nxt;

		if (ie < s) {			/* wholly before */
			ns[cnt] = is;
			ne[cnt++] = ie;
		} else if (is > e) {		/* wholly after */
			if (!placed) {
				ns[cnt] = s;
				ne[cnt++] = e;
				placed = true;
			}
			ns[cnt] = is;
			ne[cnt++] = ie;
		} else {			/* overlaps or touches: merge */
			if (is < s)
				s = is;
			if (ie > e)
				e = ie;
		}
		if (cnt > cfg->ooo_max_segs)
			goto drop;
	}
	if (!placed) {
		ns[cnt] = s;
		ne[cnt++] = e;
	}
	if (cnt > cfg->ooo_max_segs)
		goto drop;
	for (uint32_t i = 0; i < cnt; i++)
		bytes += ne[i] - ns[i];
	if (bytes > cfg->ooo_max_bytes)
		goto drop;
	ring_write_at(&c->rb, seq - c->rcv_nxt, d, n);
	for (uint32_t i = 0; i < cnt; i++) {
		q->start[i] = c->rcv_nxt + ns[i];
		q->end[i] = c->rcv_nxt + ne[i];
	}
	q->n = cnt;
	q->bytes = bytes;
	q->last = seq;
	CNT(c->st, tcp_ooo_queued);
	return 0;
drop:
	CNT(c->st, tcp_ooo_drop);
	return -1;
}

uint32_t tcp_ooo_pull(struct tcp_conn *c)
{
	struct tcp_ooo *q = &c->ooo;
	uint32_t total = 0, k = 0;

	while (k < q->n && seq_le(q->start[k], c->rcv_nxt)) {
		if (seq_gt(q->end[k], c->rcv_nxt)) {
			uint32_t adv = q->end[k] - c->rcv_nxt;

			ring_commit(&c->rb, adv);
			c->rcv_nxt += adv;
			total += adv;
		}
		q->bytes -= q->end[k] - q->start[k];
		k++;
	}
	if (k) {
		memmove(q->start, q->start + k, (q->n - k) * sizeof(q->start[0]));
		memmove(q->end, q->end + k, (q->n - k) * sizeof(q->end[0]));
		q->n -= k;
	}
	return total;
}
