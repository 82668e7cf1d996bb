/* SYN cookies: when a listener's SYN backlog is full, the SYN/ACK's ISN
 * carries the connection's state and nothing is stored.
 *
 *   cookie = t mod 32 (5 bits) | MSS index (3 bits) | MAC (24 bits)
 *
 * t counts 64-second periods; a cookie is good for the period it was made
 * in and the next. MAC = SipHash-2-4 under the stack secret of the
 * 4-tuple, the client's ISN, t and the MSS index. When the SYN had
 * timestamps, our TSval's low 5 bits carry the peer's window scale (bit 4:
 * present, bits 0-3: shift), echoed back to us in the final ACK's TSecr. */
#include "net_impl.h"
#include "siphash.h"

#define PERIOD_US (64ull * 1000 * 1000)

static const uint16_t mss_tab[8] = { 536, 1200, 1300, 1360, 1400, 1440, 1460, 8960 };

static uint32_t mac24(struct net_stack *st, const struct tcp_seg *s,
		      uint32_t client_isn, uint32_t t, uint32_t idx)
{
	uint8_t m[22];

	m[0] = 'C';
	fy_put32(m + 1, s->src);
	fy_put32(m + 5, s->dst);
	fy_put16(m + 9, s->sport);
	fy_put16(m + 11, s->dport);
	fy_put32(m + 13, client_isn);
	fy_put32(m + 17, t);
	m[21] = (uint8_t)idx;
	return (uint32_t)siphash24(st->cfg.secret, m, sizeof(m)) & 0xffffff;
}

uint32_t syncookie_make(struct net_stack *st, const struct tcp_seg *s,
			uint16_t *mss_out)
{
	uint32_t peer = s->has_mss ? s->opt_mss : 536, idx = 0;
	uint32_t t = (uint32_t)(st->now_us / PERIOD_US);

	for (uint32_t i = 0; i < 8; i++)
		if (mss_tab[i] <= peer)
			idx = i;
	*mss_out = mss_tab[idx];
	return (t & 31) << 27 | idx << 24 | mac24(st, s, s->seq, t, idx);
}

uint16_t syncookie_check(struct net_stack *st, const struct tcp_seg *s)
{
	uint32_t cookie = s->ack - 1, isn = s->seq - 1;
	uint32_t t = (uint32_t)(st->now_us / PERIOD_US);
	uint32_t age = (t - (cookie >> 27)) & 31, idx = (cookie >> 24) & 7;

	if (age > 1)
		return 0;
	if (mac24(st, s, isn, t - age, idx) != (cookie & 0xffffff))
		return 0;
	return mss_tab[idx];
}

uint32_t syncookie_ts_encode(uint32_t now_ts, const struct tcp_seg *syn)
{
	uint32_t bits = 0, ts;

	if (syn->has_ws)
		bits = 0x10 | (syn->opt_ws > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : syn->opt_ws);
	if (syn->sack_ok)
		bits |= 0x20;
	ts = (now_ts & ~0x3fu) | bits;
	if (seq_gt(ts, now_ts))
		ts -= 64;	/* our clock must never run backwards */
	return ts;
}

bool syncookie_ts_sack(uint32_t tsecr)
{
	return tsecr & 0x20;
}

int syncookie_ts_wscale(uint32_t tsecr)
{
	return (tsecr & 0x10) ? (int)(tsecr & 0x0f) : -1;
}
