/* TCP output: segment building, the send loop (peer window, congestion
 * window, FIN after the data), retransmission of the first segment, the
 * receive window we advertise, ACKs, probes and RSTs. Every segment is
 * built in st->txbuf and handed to IPv4 output at once. */
#include <errno.h>

#include "net_impl.h"

static void finish_segment(struct net_stack *st, uint32_t rip, uint8_t *th,
			   size_t tlen)
{
	uint32_t sum = csum_pseudo(st->cfg.ip, rip, IP_PROTO_TCP, (uint16_t)tlen);

	fy_put16(th + 16, 0);
	if (st->cfg.flags & NET_CFG_TX_CSUM_OFFLOAD) {
		/* The NIC finishes it from the pseudo-header sum. */
		fy_put16(th + 16, (uint16_t)~csum_fold(sum));
	} else {
		fy_put16(th + 16, csum_fold(csum_add(sum, th, tlen)));
	}
	CNT(st, tcp_segs_tx);
	ipv4_output(st, rip, IP_PROTO_TCP, tlen);
}

static size_t put_header(uint8_t *th, uint16_t lport, uint16_t rport,
			 uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
			 const uint8_t *opt, size_t optlen)
{
	size_t hlen = TCP_HLEN + optlen;

	fy_put16(th, lport);
	fy_put16(th + 2, rport);
	fy_put32(th + 4, seq);
	fy_put32(th + 8, ack);
	th[12] = (uint8_t)((hlen / 4) << 4);
	th[13] = flags;
	fy_put16(th + 14, win);
	fy_put16(th + 16, 0);
	fy_put16(th + 18, 0);
	for (size_t i = 0; i < optlen; i++)
		th[TCP_HLEN + i] = opt[i];
	return hlen;
}

void tcp_xmit_raw(struct net_stack *st, uint32_t rip, uint16_t lport,
		  uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags,
		  uint16_t win, const uint8_t *opt, size_t optlen)
{
	uint8_t *th = ipv4_l4buf(st);

	finish_segment(st, rip, th, put_header(th, lport, rport, seq, ack, flags,
					       win, opt, optlen));
}

uint32_t tcp_rcv_window(struct tcp_conn *c)
{
	/* Before establishment there is no buffer yet: offer what it will be. */
	uint32_t cap = c->rb.buf ? c->rb.cap : c->st->cfg.rcvbuf;
	uint32_t unit = 1u << c->rcv_wscale;
	uint32_t free = (c->rb.buf ? ring_free(&c->rb) : cap) & ~(unit - 1);
	uint32_t max = 65535u << c->rcv_wscale, edge;

	if (free > max)
		free = max & ~(unit - 1);
	edge = c->rcv_nxt + free;
	/* Receiver SWS avoidance (RFC 1122 4.2.3.3): move the right edge
	 * only by a useful amount; never move it left (RFC 9293). */
	if (seq_gt(edge, c->rcv_adv)) {
		uint32_t inc = edge - c->rcv_adv, half = cap / 2;

		if (inc >= (half < c->mss ? half : c->mss) || c->rcv_adv == c->rcv_nxt)
			c->rcv_adv = edge;
	}
	return c->rcv_adv - c->rcv_nxt;
}

/* Sends one segment of the connection: n bytes of the send buffer from
 * sequence seq (n may be 0), with flags. */
static void xmit(struct tcp_conn *c, uint32_t seq, uint8_t flags, uint32_t n)
{
	struct net_stack *st = c->st;
	uint8_t opt[TCP_OPT_SPACE], *th = ipv4_l4buf(st);
	size_t optlen = 0, hlen;
	uint32_t ack = 0, win = 0;

	if (flags & TH_SYN) {
		bool synack = flags & TH_ACK;
		int ws = (!synack || c->ws_ok) ? c->rcv_wscale : -1;
		bool ts = !synack || c->ts_ok;

		bool sack = synack ? c->sack_ok : !(st->cfg.flags & NET_CFG_NO_SACK);

		optlen = tcp_opt_syn(opt, st->cfg.mss, ws, ts, sack, tcp_now_ts(c),
				     synack ? c->ts_recent : 0);
	} else if (c->ts_ok && !(flags & TH_RST)) {
		optlen = tcp_opt_ts(opt, tcp_now_ts(c), c->ts_recent);
	}
	if (c->sack_ok && c->ooo.n && (flags & TH_ACK) && !(flags & (TH_SYN | TH_RST))) {
		/* As many blocks as fit the option space and, with the
		 * payload, the segment size. */
		uint32_t room = TCP_OPT_SPACE - (uint32_t)optlen, l[4], r[4];
		uint32_t seg = c->mss > n + optlen ? c->mss - n - (uint32_t)optlen : 0;
		unsigned k;

		room = room < seg ? room : seg;
		k = room >= 12 ? (room - 4) / 8 : 0;
		k = tcp_sack_blocks(c, l, r, k > 4 ? 4 : k);
		if (k) {
			optlen += tcp_opt_sack(opt + optlen, l, r, k);
			CNT(st, tcp_sack_tx);
		}
	}
	if (flags & TH_ACK) {
		ack = c->rcv_nxt;
		win = tcp_rcv_window(c);
		/* The window of a SYN is never scaled (RFC 7323 2.2). */
		win = (flags & TH_SYN) ? win : win >> c->rcv_wscale;
		if (win > 65535)
			win = 65535;
		c->last_ack_sent = c->rcv_nxt;
		tw_cancel(&c->t_delack);
	}
	hlen = put_header(th, c->lport, c->rport, seq, ack, flags, (uint16_t)win,
			  opt, optlen);
	if (n)
		ring_peek(&c->sb, seq - c->sb_seq, th + hlen, n);
	finish_segment(st, c->rip, th, hlen + n);
}

void tcp_output(struct tcp_conn *c)
{
	struct net_stack *st = c->st;
	uint32_t data_end = c->sb_seq + c->sb.len;
	bool sent = false, blocked = false;

	switch (c->state) {
	case TCP_ESTABLISHED: case TCP_CLOSE_WAIT: case TCP_FIN_WAIT_1:
	case TCP_CLOSING: case TCP_LAST_ACK:
		break;
	default:
		return;
	}
	for (;;) {
		/* Limited transmit (RFC 3042): one new segment on each of the
		 * first two duplicate ACKs keeps the ACK clock going. */
		uint32_t cw = c->cwnd + (c->in_recovery ? 0 :
			(c->dupacks < 2 ? c->dupacks : 2) * tcp_smss(c));
		uint32_t wnd = c->snd_wnd < cw ? c->snd_wnd : cw;
		uint32_t inflight = c->snd_nxt - c->snd_una;
		uint32_t usable = wnd > inflight ? wnd - inflight : 0;
		uint32_t avail = seq_lt(c->snd_nxt, data_end) ? data_end - c->snd_nxt : 0;
		uint32_t n = avail, mss = tcp_smss(c);
		bool fin = false;
		uint8_t flags = TH_ACK;

		if (n > usable)
			n = usable;
		if (n > mss)
			n = mss;
		if (c->sacked.n && seq_lt(c->snd_nxt, c->snd_max)) {
			/* Going back after a timeout: skip what the peer
			 * SACKed, stop short of the next such range. */
			uint32_t e;

			if (tcp_sack_lookup(c, c->snd_nxt, &e)) {
				c->snd_nxt = e;
				continue;
			}
			if (seq_lt(e, c->snd_nxt + n))
				n = e - c->snd_nxt;
		}
		/* FIN rides on the last data; alone it needs window room. */
		if (c->fin_queued && n == avail && c->snd_nxt + n == c->fin_seq &&
		    (n > 0 || usable > 0))
			fin = true;
		if (!n && !fin) {
			blocked = avail > 0 || (c->fin_queued && c->snd_nxt == c->fin_seq);
			break;
		}
		if (seq_lt(c->snd_nxt, c->snd_max)) {
			CNT(st, tcp_retransmits);
			if (c->rtt_timing && seq_le(c->snd_nxt, c->rtt_seq))
				c->rtt_timing = false;	/* Karn */
		} else if (!c->ts_ok && !c->rtt_timing && n) {
			c->rtt_timing = true;
			c->rtt_seq = c->snd_nxt;
			c->rtt_start_us = st->now_us;
		}
		if (fin)
			flags |= TH_FIN;
		if (n && c->snd_nxt + n == data_end)
			flags |= TH_PSH;
		xmit(c, c->snd_nxt, flags, n);
		c->snd_nxt += n + (fin ? 1 : 0);
		c->snd_max = seq_max(c->snd_max, c->snd_nxt);
		sent = true;
		if (fin)
			break;
	}
	if (sent && (c->persist || !tw_armed(&c->t_rtx))) {
		c->persist = false;
		tcp_arm_rtx(c);
	}
	/* Nothing in flight, data waiting, peer window zero: probe it. */
	if (blocked && c->snd_una == c->snd_max && !c->persist)
		tcp_arm_persist(c);
}

void tcp_retransmit_range(struct tcp_conn *c, uint32_t seq, uint32_t n)
{
	uint32_t data_end = c->sb_seq + c->sb.len;
	uint8_t flags = TH_ACK;

	if (seq_gt(seq + n, data_end))
		n = seq_lt(seq, data_end) ? data_end - seq : 0;
	if (n > tcp_smss(c))
		n = tcp_smss(c);
	if (c->fin_queued && seq + n == c->fin_seq && seq_gt(c->snd_max, c->fin_seq))
		flags |= TH_FIN;
	if (!n && !(flags & TH_FIN))
		return;
	if (c->rtt_timing && seq_le(seq, c->rtt_seq))
		c->rtt_timing = false;	/* Karn */
	CNT(c->st, tcp_retransmits);
	xmit(c, seq, flags, n);
}

void tcp_retransmit_first(struct tcp_conn *c)
{
	tcp_retransmit_range(c, c->snd_una, tcp_smss(c));
}

void tcp_send_ack(struct tcp_conn *c)
{
	xmit(c, c->snd_nxt, TH_ACK, 0);
}

bool tcp_ack_defer(struct tcp_conn *c)
{
	struct net_stack *st = c->st;

	if (c->ack_due)
		return true;
	if (st->nack_due == NET_ACK_DUE_MAX)
		return false;
	c->ack_due = true;
	st->ack_due[st->nack_due++] = c;
	return true;
}

void tcp_ack_flush(struct net_stack *st)
{
	for (uint32_t i = 0; i < st->nack_due; i++) {
		struct tcp_conn *c = st->ack_due[i];

		/* A slot reused since has ack_due clear (tcp_conn_new); one
		 * that left ESTABLISHED-like states already said what it had. */
		if (!c->ack_due)
			continue;
		c->ack_due = false;
		if (c->in_use && c->last_ack_sent != c->rcv_nxt &&
		    (c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 ||
		     c->state == TCP_FIN_WAIT_2))
			tcp_send_ack(c);
	}
	st->nack_due = 0;
}

void tcp_send_syn(struct tcp_conn *c)
{
	xmit(c, c->iss, c->state == TCP_SYN_RCVD ? TH_SYN | TH_ACK : TH_SYN, 0);
}

void tcp_send_rst(struct tcp_conn *c)
{
	CNT(c->st, tcp_rst_tx);
	/* snd_max: the peer's rcv_nxt if it got everything, the most
	 * likely exact match for its RFC 5961 check. */
	xmit(c, c->snd_max, TH_RST | TH_ACK, 0);
}

void tcp_send_probe(struct tcp_conn *c)
{
	/* An old sequence number with no data: any live peer must answer
	 * with an ACK carrying its current window (zero-window probe and
	 * keepalive alike). */
	xmit(c, c->snd_una - 1, TH_ACK, 0);
}

void tcp_reply_rst(struct net_stack *st, const struct tcp_seg *s)
{
	if (s->flags & TH_RST)
		return;
	CNT(st, tcp_rst_tx);
	if (s->flags & TH_ACK)
		tcp_xmit_raw(st, s->src, s->dport, s->sport, s->ack, 0, TH_RST, 0, NULL, 0);
	else
		tcp_xmit_raw(st, s->src, s->dport, s->sport, 0,
			     s->seq + s->len + !!(s->flags & TH_SYN) + !!(s->flags & TH_FIN),
			     TH_RST | TH_ACK, 0, NULL, 0);
}

void tcp_maybe_window_update(struct tcp_conn *c)
{
	uint32_t cur, free, half = c->rb.cap / 2, step;

	if (c->state != TCP_ESTABLISHED && c->state != TCP_FIN_WAIT_1 &&
	    c->state != TCP_FIN_WAIT_2)
		return;
	cur = c->rcv_adv - c->rcv_nxt;
	free = ring_free(&c->rb);
	step = 2u * c->rcv_mss < half ? 2u * c->rcv_mss : half;
	/* Only when the peer is running short of window and we can give
	 * it a useful amount more: otherwise the next ACK carries it. */
	if (cur < half && free >= cur + step)
		tcp_send_ack(c);
}
