/* Selective acknowledgement (RFC 2018). As a receiver: the out-of-order
 * ranges we hold go out as SACK blocks, the one the latest segment fell
 * into first. As a sender: the blocks that come back build a scoreboard
 * of what the peer holds beyond snd_una, so that recovery resends every
 * hole within one round trip instead of one per round trip (NewReno), and
 * a retransmission timeout does not resend what already arrived. */
#include <string.h>

#include "net_impl.h"

static void sb_remove(struct tcp_sacked *q, uint32_t i)
{
	memmove(q->l + i, q->l + i + 1, (q->n - i - 1) * sizeof(q->l[0]));
	memmove(q->r + i, q->r + i + 1, (q->n - i - 1) * sizeof(q->r[0]));
	q->n--;
}

/* Inserts [l, r), merging what it overlaps or touches. When the table is
 * full the lowest range goes: the highest ones are what mark the holes
 * below them as lost, and recovery works upward from snd_una anyway. */
static void sb_insert(struct tcp_sacked *q, uint32_t l, uint32_t r)
{
	uint32_t i = 0;

	while (i < q->n && seq_lt(q->r[i], l))
		i++;
	/* Ranges from i on end at or after l: merge those starting <= r. */
	while (i < q->n && seq_le(q->l[i], r)) {
		l = seq_min(l, q->l[i]);
		r = seq_max(r, q->r[i]);
		sb_remove(q, i);
	}
	if (q->n == NET_SACK_MAX) {
		sb_remove(q, 0);
		if (i)
			i--;
	}
	memmove(q->l + i + 1, q->l + i, (q->n - i) * sizeof(q->l[0]));
	memmove(q->r + i + 1, q->r + i, (q->n - i) * sizeof(q->r[0]));
	q->l[i] = l;
	q->r[i] = r;
	q->n++;
}

void tcp_sack_update(struct tcp_conn *c, const struct tcp_seg *s)
{
	for (unsigned b = 0; b < s->nsack; b++) {
		uint32_t l = s->sack_l[b], r = s->sack_r[b];

		if (seq_gt(l, c->snd_una) && seq_lt(l, r) && seq_le(r, c->snd_max))
			sb_insert(&c->sacked, l, r);
	}
}

void tcp_sack_trim(struct tcp_conn *c)
{
	struct tcp_sacked *q = &c->sacked;

	while (q->n && seq_le(q->r[0], c->snd_una))
		sb_remove(q, 0);
	/* A cumulative ACK that stops at or inside a SACKed range: the peer
	 * dropped what it had SACKed (reneged). Trust only cumulative ACKs
	 * until its next blocks. */
	if (q->n && seq_le(q->l[0], c->snd_una))
		q->n = 0;
}

bool tcp_sack_lookup(const struct tcp_conn *c, uint32_t seq, uint32_t *end)
{
	const struct tcp_sacked *q = &c->sacked;

	for (uint32_t i = 0; i < q->n; i++) {
		if (seq_lt(seq, q->l[i])) {
			*end = q->l[i];
			return false;
		}
		if (seq_lt(seq, q->r[i])) {
			*end = q->r[i];
			return true;
		}
	}
	*end = c->snd_max;
	return false;
}

bool tcp_sack_next_hole(const struct tcp_conn *c, uint32_t from, uint32_t *seq, uint32_t *n)
{
	const struct tcp_sacked *q = &c->sacked;
	uint32_t s = seq_max(from, c->snd_una), end, mss = tcp_smss(c);

	if (!q->n)
		return false;
	while (tcp_sack_lookup(c, s, &end))
		s = end;
	/* Only holes below the highest SACKed byte are known lost. */
	if (!seq_lt(s, q->r[q->n - 1]))
		return false;
	*seq = s;
	*n = end - s < mss ? end - s : mss;
	return true;
}

uint32_t tcp_sack_bytes(const struct tcp_conn *c)
{
	uint32_t b = 0;

	for (uint32_t i = 0; i < c->sacked.n; i++)
		b += c->sacked.r[i] - c->sacked.l[i];
	return b;
}

void tcp_sack_log_resend(struct tcp_conn *c, uint32_t seq)
{
	struct tcp_rtxlog *g = &c->rtxlog;
	uint32_t k = 0;

	for (uint32_t i = 0; i < g->n; i++) {
		if (seq_lt(g->seq[i], c->snd_una) || g->seq[i] == seq)
			continue;	/* acknowledged, or replaced below */
		g->seq[k] = g->seq[i];
		g->mark[k++] = g->mark[i];
	}
	g->n = k;
	if (g->n < NET_RTXLOG_MAX) {
		g->seq[g->n] = seq;
		g->mark[g->n++] = c->snd_max;
	}
}

bool tcp_sack_head_lost(const struct tcp_conn *c)
{
	const struct tcp_rtxlog *g = &c->rtxlog;

	if (!c->sacked.n)
		return false;
	for (uint32_t i = 0; i < g->n; i++)
		if (g->seq[i] == c->snd_una)
			return seq_gt(c->sacked.r[c->sacked.n - 1], g->mark[i]);
	return false;
}

unsigned tcp_sack_blocks(const struct tcp_conn *c, uint32_t *l, uint32_t *r, unsigned max)
{
	const struct tcp_ooo *q = &c->ooo;
	unsigned n = 0;
	uint32_t first = q->n;

	if (!max)
		return 0;
	for (uint32_t i = 0; i < q->n; i++) {
		if (seq_le(q->start[i], q->last) && seq_lt(q->last, q->end[i])) {
			first = i;
			l[n] = q->start[i];
			r[n++] = q->end[i];
			break;
		}
	}
	for (uint32_t i = 0; i < q->n && n < max; i++) {
		if (i == first)
			continue;
		l[n] = q->start[i];
		r[n++] = q->end[i];
	}
	return n;
}
