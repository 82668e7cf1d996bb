/* TCP timers on the stack's wheel: retransmission (RFC 6298), SYN retry,
 * zero-window persist, delayed ACK, keepalive, FIN_WAIT_2 and TIME_WAIT.
 * Three wheel entries per connection, their meaning chosen by state. */
#include <errno.h>

#include "net_impl.h"

static uint64_t ms_ceil(uint64_t us)
{
	return (us + 999) / 1000;
}

static void rtx_fire(struct tw_timer *t);
static void delack_fire(struct tw_timer *t);
static void keep_fire(struct tw_timer *t);

void tcp_timers_init(struct tcp_conn *c)
{
	tw_timer_init(&c->t_rtx, rtx_fire);
	tw_timer_init(&c->t_delack, delack_fire);
	tw_timer_init(&c->t_keep, keep_fire);
}

void tcp_timers_cancel(struct tcp_conn *c)
{
	tw_cancel(&c->t_rtx);
	tw_cancel(&c->t_delack);
	tw_cancel(&c->t_keep);
	c->persist = false;
}

void tcp_rtt_sample(struct tcp_conn *c, uint32_t r)
{
	const struct net_config *cfg = &c->st->cfg;
	uint64_t rto;

	if (!r)
		r = 1;
	if (!c->srtt_us) {
		c->srtt_us = r;
		c->rttvar_us = r / 2;
	} else {
		uint32_t d = c->srtt_us > r ? c->srtt_us - r : r - c->srtt_us;

		c->rttvar_us = (uint32_t)(((uint64_t)c->rttvar_us * 3 + d) / 4);
		c->srtt_us = (uint32_t)(((uint64_t)c->srtt_us * 7 + r) / 8);
	}
	/* RTO = SRTT + max(G, 4 RTTVAR), G our 1 ms tick; clamped. A new
	 * sample also ends any backoff (RFC 6298 5.7). */
	rto = (uint64_t)c->srtt_us + ((uint64_t)c->rttvar_us * 4 > 1000 ?
				      (uint64_t)c->rttvar_us * 4 : 1000);
	if (rto < (uint64_t)cfg->rto_min_ms * 1000)
		rto = (uint64_t)cfg->rto_min_ms * 1000;
	if (rto > (uint64_t)cfg->rto_max_ms * 1000)
		rto = (uint64_t)cfg->rto_max_ms * 1000;
	c->rto_us = (uint32_t)rto;
}

/* A tail loss probe (RFC 8985 7) before the RTO: when the last
 * segments of a flight or their ACKs are lost, no duplicate ACK comes to
 * start fast recovery, and an RTO (200 ms at least) would idle the
 * connection. After two round trips without an ACK, one segment goes out
 * to draw a SACK that shows what is missing. With SACK only, more than
 * one segment in flight (one alone may be waiting for a delayed ACK),
 * once per flight. */
static bool tlp_eligible(const struct tcp_conn *c)
{
	return c->sack_ok && c->srtt_us && c->state >= TCP_ESTABLISHED &&
	       c->state != TCP_TIME_WAIT && !c->in_recovery && !c->persist &&
	       !c->tlp_out && !c->rtx_count && tcp_flight(c) > tcp_smss(c);
}

void tcp_arm_rtx(struct tcp_conn *c)
{
	uint64_t rto = ms_ceil(c->rto_us), pto = ms_ceil(2ull * c->srtt_us);

	if (pto < 10)
		pto = 10;	/* timer granularity, and a margin for the peer */
	c->tlp_pending = tlp_eligible(c) && pto < rto;
	tw_arm(&c->st->wheel, &c->t_rtx, now_ms(c->st) + (c->tlp_pending ? pto : rto));
}

static void loss_probe(struct tcp_conn *c)
{
	uint32_t before = c->snd_max, cwnd = c->cwnd, end, n;

	CNT(c->st, tcp_loss_probes);
	c->tlp_out = true;
	/* New data if there is some and the peer's window allows it: it
	 * probes as well and delays nothing. The probe does not count
	 * against the congestion window. */
	c->cwnd += tcp_smss(c);
	tcp_output(c);
	c->cwnd = cwnd;
	if (c->snd_max == before) {
		/* Else the last segment again (with the FIN if it had it). */
		end = seq_min(c->sb_seq + c->sb.len, c->snd_max);
		n = seq_gt(end, c->snd_una) ? end - c->snd_una : 0;
		n = n < tcp_smss(c) ? n : tcp_smss(c);
		tcp_retransmit_range(c, end - n, n);
	}
	tcp_arm_rtx(c);	/* the RTO now: tlp_out is set */
}

static uint64_t backed_off_ms(const struct tcp_conn *c)
{
	uint64_t us = (uint64_t)c->rto_us << (c->rtx_count < 16 ? c->rtx_count : 16);
	uint64_t max = (uint64_t)c->st->cfg.rto_max_ms * 1000;

	return ms_ceil(us < max ? us : max);
}

void tcp_arm_persist(struct tcp_conn *c)
{
	c->persist = true;
	c->rtx_count = 0;
	tw_arm(&c->st->wheel, &c->t_rtx, now_ms(c->st) + backed_off_ms(c));
}

void tcp_arm_delack(struct tcp_conn *c)
{
	if (!tw_armed(&c->t_delack))
		tw_arm(&c->st->wheel, &c->t_delack, now_ms(c->st) + c->st->cfg.delack_ms);
}

void tcp_arm_keep(struct tcp_conn *c, uint32_t ms)
{
	tw_arm(&c->st->wheel, &c->t_keep, now_ms(c->st) + ms);
}

void tcp_arm_keepalive(struct tcp_conn *c)
{
	if (c->ka_idle_ms && c->state >= TCP_ESTABLISHED && c->state != TCP_TIME_WAIT)
		tw_arm(&c->st->wheel, &c->t_keep, c->last_rx_us / 1000 + c->ka_idle_ms);
	else if (c->state != TCP_TIME_WAIT)
		tw_cancel(&c->t_keep);
}

/* RFC 6298 5.5: double the RTO on each expiry, up to the maximum. */
static void backoff(struct tcp_conn *c)
{
	uint64_t rto = (uint64_t)c->rto_us * 2, max = (uint64_t)c->st->cfg.rto_max_ms * 1000;

	c->rto_us = (uint32_t)(rto < max ? rto : max);
}

static void syn_timeout(struct tcp_conn *c)
{
	struct net_stack *st = c->st;

	if (++c->rtx_count > st->cfg.syn_retries) {
		CNT(st, tcp_timeout_aborts);
		tcp_conn_drop(c, -ETIMEDOUT, false);
		return;
	}
	c->rtt_timing = false;
	backoff(c);
	CNT(st, tcp_retransmits);
	tcp_send_syn(c);
	tcp_arm_rtx(c);
}

static void rtx_fire(struct tw_timer *t)
{
	struct tcp_conn *c = container_of(t, struct tcp_conn, t_rtx);
	struct net_stack *st = c->st;
	uint32_t flight, mss = tcp_smss(c);

	if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD) {
		syn_timeout(c);
		return;
	}
	if (c->persist) {
		/* Zero-window probing goes on while the peer answers; it is
		 * keepalive's job to notice a dead one. */
		CNT(st, tcp_zero_window_probes);
		tcp_send_probe(c);
		if (c->rtx_count < 16)
			c->rtx_count++;
		tw_arm(&st->wheel, &c->t_rtx, now_ms(st) + backed_off_ms(c));
		return;
	}
	if (c->snd_una == c->snd_max)
		return;		/* everything acknowledged meanwhile */
	if (c->tlp_pending) {
		c->tlp_pending = false;
		if (tlp_eligible(c))
			loss_probe(c);
		else
			tcp_arm_rtx(c);	/* recovery began since: the RTO, from now */
		return;
	}
	CNT(st, tcp_rto_timeouts);
	if (++c->rtx_count > st->cfg.max_retries) {
		CNT(st, tcp_timeout_aborts);
		tcp_conn_drop(c, -ETIMEDOUT, true);
		return;
	}
	/* RFC 5681 3.1 and RFC 6582: loss window, go back to snd_una, and
	 * no fast retransmit for data sent before this timeout. */
	flight = tcp_flight(c);
	c->ssthresh = flight / 2 > 2 * mss ? flight / 2 : 2 * mss;
	c->cwnd = mss;
	c->cwnd_acc = 0;
	c->in_recovery = false;
	c->dupacks = 0;
	c->recover = c->snd_max;
	c->snd_nxt = c->snd_una;
	c->rtx_next = c->snd_una;
	c->rtxlog.n = 0;
	/* The go-back skips what the peer SACKed; after a second timeout
	 * in a row, stop trusting that (it may have reneged, RFC 2018). */
	if (c->rtx_count >= 2)
		c->sacked.n = 0;
	c->rtt_timing = false;
	backoff(c);
	tcp_arm_rtx(c);
	tcp_output(c);
	if (c->snd_nxt == c->snd_una)	/* window closed: probe instead */
		tcp_retransmit_first(c);
}

static void delack_fire(struct tw_timer *t)
{
	struct tcp_conn *c = container_of(t, struct tcp_conn, t_delack);

	if (c->last_ack_sent != c->rcv_nxt && c->state != TCP_CLOSED)
		tcp_send_ack(c);
}

static void keep_fire(struct tw_timer *t)
{
	struct tcp_conn *c = container_of(t, struct tcp_conn, t_keep);
	struct net_stack *st = c->st;
	uint64_t idle_ms;

	if (c->state == TCP_TIME_WAIT) {
		CNT(st, tcp_timewait_expired);
		tcp_conn_done(c);
		return;
	}
	if (c->state == TCP_FIN_WAIT_2 && !c->app) {
		CNT(st, tcp_fin_wait2_timeout);
		tcp_conn_drop(c, 0, false);
		return;
	}
	if (!c->ka_idle_ms)
		return;
	idle_ms = (st->now_us - c->last_rx_us) / 1000;
	if (idle_ms < c->ka_idle_ms) {
		tcp_arm_keepalive(c);	/* traffic came: wait again */
		return;
	}
	if (c->ka_probes >= c->ka_cnt) {
		CNT(st, tcp_timeout_aborts);
		tcp_conn_drop(c, -ETIMEDOUT, true);
		return;
	}
	c->ka_probes++;
	CNT(st, tcp_keepalive_probes);
	tcp_send_probe(c);
	tcp_arm_keep(c, c->ka_intvl_ms);
}
