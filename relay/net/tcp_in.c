/* TCP input: header validation, then RFC 9293 3.10.7 "SEGMENT ARRIVES"
 * per state, with RFC 5961 (RST and SYN checked against the window,
 * challenge ACKs), RFC 7323 (PAWS, timestamps), RFC 5681/6582 (dup ACKs,
 * NewReno) and RFC 1337 (RST ignored in TIME_WAIT). */
#include <errno.h>
#include <string.h>

#include "net_impl.h"

static void listen_input(struct net_stack *st, struct tcp_seg *s);
static void conn_input(struct tcp_conn *c, struct tcp_seg *s);

void tcp_input(struct net_stack *st, uint32_t src, uint32_t dst,
	       const uint8_t *p, size_t len, unsigned rxf)
{
	struct tcp_seg s;
	struct tcp_conn *c;
	size_t doff;

	if (len < TCP_HLEN) {
		CNT(st, tcp_short);
		return;
	}
	doff = (size_t)(p[12] >> 4) * 4;
	if (doff < TCP_HLEN || doff > len) {
		CNT(st, tcp_bad_doff);
		return;
	}
	if (!(rxf & NET_RX_L4_CSUM_GOOD) &&
	    csum_fold(csum_add(csum_pseudo(src, dst, IP_PROTO_TCP, (uint16_t)len), p, len))) {
		CNT(st, tcp_bad_csum);
		return;
	}
	memset(&s, 0, sizeof(s));
	s.src = src;
	s.dst = dst;
	s.sport = fy_get16(p);
	s.dport = fy_get16(p + 2);
	s.seq = fy_get32(p + 4);
	s.ack = fy_get32(p + 8);
	s.flags = p[13] & 0x3f;
	s.wnd = fy_get16(p + 14);
	s.data = p + doff;
	s.len = (uint32_t)(len - doff);
	if (tcp_opt_parse(&s, p + TCP_HLEN, doff - TCP_HLEN) < 0)
		CNT(st, tcp_bad_opt);
	CNT(st, tcp_segs_rx);
	if (!s.sport || !s.dport) {
		CNT(st, tcp_bad_port);
		return;
	}
	if (((s.flags & TH_SYN) && (s.flags & (TH_FIN | TH_RST))) ||
	    !(s.flags & (TH_SYN | TH_ACK | TH_RST))) {
		CNT(st, tcp_bad_flags);	/* SYN+FIN, SYN+RST, or no control bit */
		return;
	}
	c = tcp_conn_lookup(st, src, s.sport, s.dport);
	if (c)
		conn_input(c, &s);
	else
		listen_input(st, &s);
	/* A frame handed over from another stack: the connection it reached
	 * or opened (or the one that replaced it) keeps its tag. */
	if ((rxf & NET_RX_TAGGED) && (c = tcp_conn_lookup(st, src, s.sport, s.dport))) {
		c->tag = st->rx_tag;
		st->rx_tag_held = true;
	}
}

/* ---- opening ---- */

static void cookie_synack(struct net_stack *st, const struct tcp_seg *s)
{
	uint8_t opt[TCP_OPT_SPACE];
	uint16_t mss;
	uint32_t cookie = syncookie_make(st, s, &mss), tsval = 0;
	size_t optlen;
	int ws = -1;

	if (s->has_ts) {
		uint32_t now = (uint32_t)now_ms(st) + tcp_ts_off(st, s->src, s->sport, s->dport);

		tsval = syncookie_ts_encode(now, s);
		/* Without TSecr there is nowhere to keep the peer's scale,
		 * so scaling is offered only together with timestamps. */
		if (s->has_ws) {
			uint32_t b = st->cfg.rcvbuf;

			ws = 0;
			while (ws < TCP_MAX_WSCALE && (b >> ws) > 65535)
				ws++;
		}
	}
	/* SACK too is remembered only in the timestamp. */
	optlen = tcp_opt_syn(opt, st->cfg.mss, ws, s->has_ts,
			     s->has_ts && s->sack_ok && !(st->cfg.flags & NET_CFG_NO_SACK),
			     tsval, s->tsval);
	CNT(st, tcp_syncookie_tx);
	tcp_xmit_raw(st, s->src, s->dport, s->sport, cookie, s->seq + 1,
		     TH_SYN | TH_ACK,
		     (uint16_t)(st->cfg.rcvbuf > 65535 ? 65535 : st->cfg.rcvbuf),
		     opt, optlen);
}

/* SYN_RCVD/SYN_SENT -> ESTABLISHED. false: no memory, connection reset. */
static bool establish(struct tcp_conn *c)
{
	struct net_stack *st = c->st;
	uint32_t mss = tcp_smss(c);

	if (tcp_conn_alloc_bufs(c) < 0) {
		tcp_conn_drop(c, -ENOMEM, true);
		return false;
	}
	tcp_conn_set_state(c, c->fin_queued ? TCP_FIN_WAIT_1 : TCP_ESTABLISHED);
	c->estab = true;
	/* RFC 6928 initial window, after the MSS is known. */
	c->cwnd = 10 * mss;
	c->recover = c->snd_una;
	c->rtx_count = 0;
	if (c->lidx >= 0) {
		if (st->lst[c->lidx].syn_count)
			st->lst[c->lidx].syn_count--;
		c->lidx = -1;
	}
	if (c->active) {
		tcp_conn_event(c, EV_CONNECTED);
	} else {
		CNT(st, tcp_passive_opens);
		c->app = true;
		tcp_conn_event(c, EV_ACCEPTED);
	}
	tcp_arm_keepalive(c);
	return true;
}

/* The ACK that completes a cookie handshake recreates the connection. */
static struct tcp_conn *cookie_conn(struct net_stack *st, const struct tcp_seg *s,
				    uint16_t mss)
{
	struct tcp_conn *c = tcp_conn_new(st, s->src, s->sport, s->dport);
	int ws;

	if (!c)
		return NULL;
	c->iss = s->ack - 1;
	c->snd_una = c->snd_nxt = c->snd_max = c->sb_seq = s->ack;
	c->irs = s->seq - 1;
	c->rcv_nxt = c->rcv_adv = c->last_ack_sent = s->seq;
	c->mss = mss < st->cfg.mss ? mss : st->cfg.mss;
	c->ts_ok = s->has_ts;
	ws = s->has_ts ? syncookie_ts_wscale(s->tsecr) : -1;
	if (ws >= 0) {
		c->ws_ok = true;
		c->snd_wscale = (uint8_t)ws;
	} else {
		c->rcv_wscale = 0;
	}
	if (s->has_ts)
		c->ts_recent = s->tsval;
	c->sack_ok = s->has_ts && syncookie_ts_sack(s->tsecr) &&
		     !(st->cfg.flags & NET_CFG_NO_SACK);
	c->snd_wnd = (uint32_t)s->wnd << c->snd_wscale;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	tcp_rcv_window(c);	/* the window our SYN/ACK offered */
	CNT(st, tcp_syncookie_ok);
	return establish(c) ? c : NULL;
}

static void listen_input(struct net_stack *st, struct tcp_seg *s)
{
	struct tcp_listener *l = tcp_listener_find(st, s->dport);
	struct tcp_conn *c;
	uint16_t mss;

	if (!l) {
		if (!(s->flags & TH_RST)) {
			CNT(st, tcp_no_listener);
			tcp_reply_rst(st, s);
		}
		return;
	}
	if (s->flags & TH_RST)
		return;
	if (s->flags & TH_ACK) {
		if (!(s->flags & TH_SYN) && (mss = syncookie_check(st, s)) != 0) {
			/* The application may pass it to another of its stacks
			 * (same secret: the cookie is valid there too). */
			if (!st->rx_tag && st->ops.cookie_ack &&
			    st->ops.cookie_ack(st->ctx, s->src, s->sport, s->dport))
				return;
			c = cookie_conn(st, s, mss);
			if (c)
				conn_input(c, s);	/* its data and FIN, if any */
			return;
		}
		CNT(st, tcp_invalid_ack);
		if (!(s->flags & TH_SYN))
			CNT(st, tcp_syncookie_bad);
		tcp_reply_rst(st, s);
		return;
	}
	if (!(s->flags & TH_SYN))
		return;		/* FIN alone on a listener: nothing to do */
	if (l->syn_count >= l->backlog || (st->cfg.flags & NET_CFG_SYNCOOKIE_ALWAYS)) {
		if (l->syn_count >= l->backlog)
			CNT(st, tcp_syn_backlog_full);
		cookie_synack(st, s);
		return;
	}
	c = tcp_conn_new(st, s->src, s->sport, s->dport);
	if (!c)
		return;
	c->lidx = (int32_t)(l - st->lst);
	l->syn_count++;
	c->irs = s->seq;
	c->rcv_nxt = c->rcv_adv = c->last_ack_sent = s->seq + 1;
	c->iss = tcp_isn(st, s->src, s->sport, s->dport);
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->sb_seq = c->iss + 1;
	tcp_conn_apply_syn_opts(c, s);
	c->snd_wnd = s->wnd;	/* a SYN's window is not scaled */
	c->snd_wl1 = s->seq;
	c->snd_wl2 = c->iss;
	tcp_conn_set_state(c, TCP_SYN_RCVD);
	/* Data on a SYN is not kept: the peer sends it again. */
	tcp_send_syn(c);
	tcp_arm_rtx(c);
}

/* RTT from an echoed timestamp (RFC 7323 4.1); a TSecr from the future or
 * from longer ago than the largest RTO is a lie and is not used. */
static void ts_rtt_sample(struct tcp_conn *c, uint32_t tsecr)
{
	uint32_t ms = tcp_now_ts(c) - tsecr;

	if (ms <= c->st->cfg.rto_max_ms)
		tcp_rtt_sample(c, ms * 1000u);
}

static void syn_sent_input(struct tcp_conn *c, struct tcp_seg *s)
{
	struct net_stack *st = c->st;

	if ((s->flags & TH_ACK) &&
	    (seq_le(s->ack, c->iss) || seq_gt(s->ack, c->snd_max))) {
		CNT(st, tcp_invalid_ack);
		tcp_reply_rst(st, s);
		return;
	}
	if (s->flags & TH_RST) {
		if (s->flags & TH_ACK) {
			CNT(st, tcp_rst_rx);
			CNT(st, tcp_refused);
			tcp_conn_drop(c, -ECONNREFUSED, false);
		}
		return;
	}
	if (!(s->flags & TH_SYN))
		return;
	c->irs = s->seq;
	c->rcv_nxt = c->rcv_adv = c->last_ack_sent = s->seq + 1;
	tcp_conn_apply_syn_opts(c, s);
	c->snd_wnd = s->wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	c->last_rx_us = st->now_us;
	if (!(s->flags & TH_ACK)) {
		/* Simultaneous open (RFC 9293 figure 7). */
		tcp_conn_set_state(c, TCP_SYN_RCVD);
		tcp_send_syn(c);
		tcp_arm_rtx(c);
		return;
	}
	if (c->ts_ok && s->tsecr)
		ts_rtt_sample(c, s->tsecr);
	else if (c->rtt_timing)
		tcp_rtt_sample(c, (uint32_t)(st->now_us - c->rtt_start_us));
	c->rtt_timing = false;
	c->snd_una = s->ack;
	tw_cancel(&c->t_rtx);
	if (!establish(c))
		return;
	tcp_send_ack(c);
	tcp_output(c);		/* data (and FIN) queued while connecting */
}

/* ---- synchronized states ---- */

/* Duplicate ACKs needed before fast retransmit: 3, or fewer when so little
 * is in flight that 3 can never come (early retransmit, RFC 5827). */
static uint32_t dupthresh(const struct tcp_conn *c)
{
	uint32_t mss = tcp_smss(c), segs = (tcp_flight(c) + mss - 1) / mss;
	bool unsent = seq_lt(c->snd_max, c->sb_seq + c->sb.len);

	return (segs >= 2 && segs < 4 && !unsent) ? segs - 1 : 3;
}

/* In recovery with SACK: resends the next hole past those already
 * resent. false when the peer's SACKs show no other. */
static bool resend_hole(struct tcp_conn *c)
{
	uint32_t seq, n;

	if (!c->sack_ok || !tcp_sack_next_hole(c, c->rtx_next, &seq, &n))
		return false;
	tcp_retransmit_range(c, seq, n);
	tcp_sack_log_resend(c, seq);
	c->rtx_next = seq + n;
	return true;
}

/* In recovery: resends the segment at snd_una. */
static void resend_first(struct tcp_conn *c)
{
	tcp_retransmit_first(c);
	tcp_sack_log_resend(c, c->snd_una);
	c->rtx_next = seq_max(c->rtx_next, c->snd_una + tcp_smss(c));
}

/* In recovery with SACK, on every ACK: a resend of the first hole that
 * was lost goes again; else the next hole not yet resent. */
static void sack_recovery_step(struct tcp_conn *c)
{
	if (tcp_sack_head_lost(c)) {
		CNT(c->st, tcp_lost_retransmits);
		resend_first(c);
	}
	resend_hole(c);
}

/* newly: bytes this ACK SACKed for the first time. */
static void on_dupack(struct tcp_conn *c, uint32_t newly)
{
	struct net_stack *st = c->st;
	uint32_t mss = tcp_smss(c), flight;

	CNT(st, tcp_dup_acks);
	if (c->in_recovery) {
		/* Data left the network: room for as much more (window
		 * inflation; SACKs say how much, and receivers that batch
		 * their SACKs send fewer duplicates). A hole the SACKs
		 * revealed goes out on top: lost data holds no room in the
		 * network (RFC 6675 leaves it out of the pipe). */
		c->cwnd += newly > mss ? newly : mss;
		if (c->sack_ok)
			sack_recovery_step(c);
		return;
	}
	/* With SACK, enough SACKed data means loss even when duplicates
	 * went missing (RFC 6675 IsLost); so does new SACKed data in
	 * answer to a loss probe (the segments before it are missing). */
	if (++c->dupacks != dupthresh(c) &&
	    !(c->sack_ok && tcp_sack_bytes(c) >= dupthresh(c) * mss) &&
	    !(c->tlp_out && newly))
		return;
	/* Data sent before the last loss event (recover) may be ACKed
	 * twice by go-back-N: no new recovery for it (RFC 6582 3.2),
	 * unless the ACK heuristic of RFC 6582 4.2 says the last ACK
	 * moved little, or the duplicate SACKs data never SACKed before:
	 * either way a new loss. */
	if (!seq_gt(c->snd_una, c->recover) && !(c->sack_ok && newly) &&
	    !(c->cwnd > mss && c->last_ack_adv <= 4 * mss))
		return;
	/* Fast retransmit, then NewReno fast recovery (RFC 6582 3.2). */
	flight = tcp_flight(c);
	c->ssthresh = flight / 2 > 2 * mss ? flight / 2 : 2 * mss;
	c->recover = c->snd_max;
	c->in_recovery = true;
	CNT(st, tcp_fast_retransmits);
	c->rtxlog.n = 0;
	c->rtx_next = c->snd_una;
	resend_first(c);
	c->cwnd = c->ssthresh + 3 * mss;
}

static void on_new_ack(struct tcp_conn *c, const struct tcp_seg *s)
{
	struct net_stack *st = c->st;
	uint32_t mss = tcp_smss(c);
	uint32_t acked = s->ack - c->snd_una, data_end = c->sb_seq + c->sb.len;
	uint32_t upto = seq_min(s->ack, data_end);

	if (c->ts_ok && s->has_ts && s->tsecr)
		ts_rtt_sample(c, s->tsecr);
	else if (c->rtt_timing && seq_gt(s->ack, c->rtt_seq)) {
		c->rtt_timing = false;
		tcp_rtt_sample(c, (uint32_t)(st->now_us - c->rtt_start_us));
	}
	c->rtx_count = 0;
	c->tlp_out = false;
	c->last_ack_adv = acked;
	if (seq_gt(upto, c->sb_seq)) {
		ring_drop(&c->sb, upto - c->sb_seq);
		c->sb_seq = upto;
	}
	c->snd_una = s->ack;
	if (seq_lt(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	if (seq_lt(c->rtx_next, c->snd_una))
		c->rtx_next = c->snd_una;
	tcp_sack_trim(c);

	if (c->in_recovery) {
		if (seq_ge(s->ack, c->recover)) {
			/* Full ACK: leave recovery with cwnd deflated. */
			uint32_t fl = tcp_flight(c), w = (fl > mss ? fl : mss) + mss;

			c->cwnd = w < c->ssthresh ? w : c->ssthresh;
			c->in_recovery = false;
			c->dupacks = 0;
			c->rtxlog.n = 0;
		} else {
			/* Partial ACK: the next hole is lost too. With
			 * SACK it may have been resent already: then the
			 * next one not yet resent. */
			CNT(st, tcp_partial_acks);
			if (!c->sack_ok || c->snd_una == c->rtx_next)
				resend_first(c);
			else
				sack_recovery_step(c);
			c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
			if (acked >= mss)
				c->cwnd += mss;
			if (c->cwnd < mss)
				c->cwnd = mss;
		}
	} else {
		c->dupacks = 0;
		if (c->cwnd < c->ssthresh) {
			/* Slow start with RFC 3465 byte counting, L = 2. */
			c->cwnd += acked < 2 * mss ? acked : 2 * mss;
		} else {
			c->cwnd_acc += acked;
			if (c->cwnd_acc >= c->cwnd) {
				c->cwnd_acc -= c->cwnd;
				c->cwnd += mss;
			}
		}
		if (c->cwnd > (1u << 30))
			c->cwnd = 1u << 30;
	}
	if (c->snd_una == c->snd_max) {
		if (!c->persist)
			tw_cancel(&c->t_rtx);
	} else {
		c->persist = false;
		tcp_arm_rtx(c);
	}
	if (c->wr_blocked && ring_free(&c->sb) >= c->sb.cap / 4) {
		c->wr_blocked = false;
		tcp_conn_event(c, EV_WRITABLE);
	}
}

/* Returns false when the segment must go no further. */
static bool ack_input(struct tcp_conn *c, const struct tcp_seg *s)
{
	struct net_stack *st = c->st;
	uint32_t wnd = (uint32_t)s->wnd << c->snd_wscale, newly = 0;

	if (seq_gt(s->ack, c->snd_max)) {
		CNT(st, tcp_invalid_ack);	/* acks what we never sent */
		tcp_send_ack(c);
		return false;
	}
	if (seq_lt(s->ack, c->snd_una))
		return true;	/* old duplicate: ignore the ACK field */
	if (c->sack_ok && s->nsack) {
		uint32_t before = tcp_sack_bytes(c), after;

		CNT(st, tcp_sack_rx);
		tcp_sack_update(c, s);
		after = tcp_sack_bytes(c);	/* less when a full table dropped one */
		newly = after > before ? after - before : 0;
	}
	if (s->ack == c->snd_una) {
		/* A window update is not a duplicate (RFC 5681 2), unless it
		 * SACKs data: receivers open their window while holding
		 * out-of-order data (RFC 6675 2). */
		if (!s->len && !(s->flags & (TH_SYN | TH_FIN)) && tcp_flight(c) &&
		    (wnd == c->snd_wnd || (c->sack_ok && s->nsack)) && !c->persist)
			on_dupack(c, newly);
	}
	if (seq_lt(c->snd_wl1, s->seq) ||
	    (c->snd_wl1 == s->seq && seq_le(c->snd_wl2, s->ack))) {
		c->snd_wnd = wnd;
		c->snd_wl1 = s->seq;
		c->snd_wl2 = s->ack;
		if (wnd && c->persist) {
			/* Window open: stop probing, resume with a fresh
			 * timer from tcp_output. */
			c->persist = false;
			c->rtx_count = 0;
			tw_cancel(&c->t_rtx);
		}
	}
	if (s->ack != c->snd_una)
		on_new_ack(c, s);
	return true;
}

static void time_wait_input(struct tcp_conn *c, struct tcp_seg *s)
{
	struct net_stack *st = c->st;

	if (s->flags & TH_RST)
		return;		/* RFC 1337: no assassination */
	if ((s->flags & TH_SYN) && !(s->flags & TH_ACK) && seq_gt(s->seq, c->rcv_nxt)) {
		/* A new incarnation (RFC 9293 3.6.1 / RFC 6191). */
		CNT(st, tcp_timewait_reuse);
		tcp_conn_done(c);
		listen_input(st, s);
		return;
	}
	if (s->flags & TH_FIN) {
		/* Their FIN again: our last ACK was lost. */
		tcp_send_ack(c);
		tcp_arm_keep(c, st->cfg.time_wait_ms);
	}
}

static bool acceptable(const struct tcp_conn *c, const struct tcp_seg *s, uint32_t seglen)
{
	uint32_t wnd = c->rcv_adv - c->rcv_nxt, end = c->rcv_nxt + wnd;

	if (!seglen)
		return wnd ? seq_le(c->rcv_nxt, s->seq) && seq_lt(s->seq, end)
			   : s->seq == c->rcv_nxt;
	if (!wnd)
		return false;
	return (seq_le(c->rcv_nxt, s->seq) && seq_lt(s->seq, end)) ||
	       (seq_le(c->rcv_nxt, s->seq + seglen - 1) && seq_lt(s->seq + seglen - 1, end));
}

static void rst_input(struct tcp_conn *c)
{
	struct net_stack *st = c->st;

	CNT(st, tcp_rst_rx);
	switch (c->state) {
	case TCP_SYN_RCVD:
		if (c->active) {
			CNT(st, tcp_refused);
			tcp_conn_drop(c, -ECONNREFUSED, false);
		} else {
			tcp_conn_drop(c, 0, false);	/* back to LISTEN */
		}
		break;
	case TCP_ESTABLISHED: case TCP_FIN_WAIT_1: case TCP_FIN_WAIT_2:
	case TCP_CLOSE_WAIT:
		CNT(st, tcp_resets_estab);
		/* fallthrough */
	default:
		tcp_conn_drop(c, -ECONNRESET, false);
		break;
	}
}

/* Data and FIN of an acceptable segment. Returns true when an ACK must go
 * out now. */
static bool data_input(struct tcp_conn *c, const struct tcp_seg *s)
{
	struct net_stack *st = c->st;
	const uint8_t *d = s->data;
	uint32_t seq = s->seq, n = s->len;
	bool fin = s->flags & TH_FIN, now = false;

	if (seq_lt(seq, c->rcv_nxt)) {		/* trim what we already have */
		uint32_t cut = c->rcv_nxt - seq;

		if (cut >= n) {
			/* All data old; a FIN is new only right at rcv_nxt. */
			if (seq + n != c->rcv_nxt)
				fin = false;
			n = 0;
		} else {
			d += cut;
			n -= cut;
		}
		seq = c->rcv_nxt;
		now = true;	/* a duplicate: tell the peer where we are */
	}
	if (n && seq_gt(seq + n, c->rcv_adv)) {	/* beyond the window */
		CNT(st, tcp_rcv_beyond_window);
		n = seq_lt(seq, c->rcv_adv) ? c->rcv_adv - seq : 0;
		fin = false;
		now = true;
	}
	if (c->state != TCP_ESTABLISHED && c->state != TCP_FIN_WAIT_1 &&
	    c->state != TCP_FIN_WAIT_2)
		return now;	/* their FIN came already: nothing more */
	if (n && !c->app && c->estab) {
		/* The application closed: nobody will read this (RFC 2525). */
		CNT(st, tcp_data_after_close);
		tcp_conn_drop(c, 0, true);
		return false;
	}
	if (n) {
		if (n > c->rcv_mss)
			c->rcv_mss = n < st->cfg.mss ? n : st->cfg.mss;
		if (seq == c->rcv_nxt) {
			bool had_ooo = c->ooo.n;

			ring_write_at(&c->rb, 0, d, n);
			ring_commit(&c->rb, n);
			c->rcv_nxt += n;
			tcp_ooo_pull(c);
			tcp_conn_event(c, EV_READABLE);
			/* Filling a hole is acknowledged at once (RFC 5681
			 * 4.2); otherwise every second full segment, or with
			 * NET_CFG_ACK_PER_BURST once at the end of the burst. */
			if (had_ooo)
				now = true;
			else if (c->rcv_nxt - c->last_ack_sent < 2 * c->rcv_mss)
				tcp_arm_delack(c);
			else if (!(st->cfg.flags & NET_CFG_ACK_PER_BURST) || !tcp_ack_defer(c))
				now = true;
		} else {
			tcp_ooo_add(c, seq, d, n);
			return true;	/* duplicate ACK right away */
		}
	}
	if (fin && seq + n == c->rcv_nxt && !c->fin_rcvd) {
		c->rcv_nxt++;
		c->fin_rcvd = true;
		tcp_conn_event(c, EV_READABLE);
		now = true;
		switch (c->state) {
		case TCP_ESTABLISHED:
			tcp_conn_set_state(c, TCP_CLOSE_WAIT);
			break;
		case TCP_FIN_WAIT_1:
			tcp_conn_set_state(c, TCP_CLOSING);
			break;
		case TCP_FIN_WAIT_2:
			tcp_send_ack(c);
			tcp_enter_time_wait(c);
			return false;
		default:
			break;
		}
	}
	return now;
}

static void conn_input(struct tcp_conn *c, struct tcp_seg *s)
{
	struct net_stack *st = c->st;
	uint32_t seglen = s->len + !!(s->flags & TH_SYN) + !!(s->flags & TH_FIN);
	uint64_t sent;
	bool ack_now;

	if (c->state == TCP_SYN_SENT) {
		syn_sent_input(c, s);
		return;
	}
	if (c->state == TCP_TIME_WAIT) {
		time_wait_input(c, s);
		return;
	}
	if (c->state == TCP_SYN_RCVD && (s->flags & TH_SYN) && !(s->flags & TH_ACK) &&
	    s->seq == c->irs) {
		tcp_send_syn(c);	/* our SYN/ACK was lost */
		return;
	}
	/* PAWS (RFC 7323 5.3): an older timestamp is an old duplicate. */
	if (c->ts_ok && s->has_ts && !(s->flags & TH_RST) &&
	    seq_lt(s->tsval, c->ts_recent)) {
		CNT(st, tcp_paws_drop);
		tcp_send_ack(c);
		return;
	}
	if (!acceptable(c, s, seglen)) {
		if (s->flags & TH_RST) {
			CNT(st, tcp_rst_out_of_window);
			return;
		}
		CNT(st, tcp_out_of_window);
		/* A zero window still takes ACKs at rcv_nxt (RFC 9293). */
		if (c->rcv_adv == c->rcv_nxt && s->seq == c->rcv_nxt &&
		    (s->flags & TH_ACK) && c->state != TCP_SYN_RCVD)
			ack_input(c, s);
		tcp_send_ack(c);
		tcp_output(c);
		return;
	}
	c->last_rx_us = st->now_us;
	c->ka_probes = 0;
	if (c->ts_ok && s->has_ts && seq_le(s->seq, c->last_ack_sent))
		c->ts_recent = s->tsval;
	if (s->flags & TH_RST) {
		if (s->seq != c->rcv_nxt) {	/* RFC 5961 3.2 */
			CNT(st, tcp_challenge_ack);
			tcp_send_ack(c);
			return;
		}
		rst_input(c);
		return;
	}
	if (s->flags & TH_SYN) {	/* RFC 5961 4.2 */
		CNT(st, tcp_challenge_ack);
		tcp_send_ack(c);
		return;
	}
	if (!(s->flags & TH_ACK))
		return;
	if (c->state == TCP_SYN_RCVD) {
		if (!seq_lt(c->snd_una, s->ack) || seq_gt(s->ack, c->snd_max)) {
			CNT(st, tcp_invalid_ack);
			tcp_reply_rst(st, s);
			return;
		}
		c->snd_wnd = (uint32_t)s->wnd << c->snd_wscale;
		c->snd_wl1 = s->seq;
		c->snd_wl2 = s->ack;
		tw_cancel(&c->t_rtx);
		if (!establish(c))
			return;
	}
	if (!ack_input(c, s))
		return;
	if (c->fin_queued && seq_gt(c->snd_una, c->fin_seq)) {
		switch (c->state) {		/* our FIN is acknowledged */
		case TCP_FIN_WAIT_1:
			tcp_conn_set_state(c, TCP_FIN_WAIT_2);
			tw_cancel(&c->t_rtx);
			if (!c->app)
				tcp_arm_keep(c, st->cfg.fin_wait2_ms);
			break;
		case TCP_CLOSING:
			tcp_enter_time_wait(c);
			return;
		case TCP_LAST_ACK:
			tcp_conn_done(c);
			return;
		default:
			break;
		}
	}
	ack_now = (s->len || (s->flags & TH_FIN)) ? data_input(c, s) : false;
	if (c->state == TCP_CLOSED || c->state == TCP_TIME_WAIT)
		return;
	sent = st->cnt.tcp_segs_tx;
	tcp_output(c);		/* new data carries the ACK if it can */
	if (ack_now && sent == st->cnt.tcp_segs_tx)
		tcp_send_ack(c);
}
