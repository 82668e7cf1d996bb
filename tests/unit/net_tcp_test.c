/* relay/net TCP on crafted segments: handshakes (passive, active, cookie),
 * data and ACK clocking, retransmission and backoff, fast retransmit and
 * NewReno recovery, SACK (both ends) and the tail loss probe, out-of-order
 * queueing and its caps, zero windows both ways, FIN and RST in the states
 * that matter, TIME_WAIT, keepalive. */
#include "cu_run.h"
#include "net_harness.h"

#define ISN 5000u		/* the peer's initial sequence number */
#define PAY 1448u		/* payload per segment: MSS 1460 - timestamps */

static uint8_t pat[1 << 20];

static void fill_pat(void)
{
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 7 + i / 251);
}

static struct h_opts ts(uint32_t val)
{
	struct h_opts o = { .mss = -1, .ws = -1, .ts = true, .tsval = val, .tsecr = 0 };

	o.tsecr = H.conn ? tcp_now_ts(H.conn) : 0;
	return o;
}

/* The peer acknowledges `ack` with its sequence at `seq`. */
static void peer_ack(uint32_t seq, uint32_t ack, uint16_t win)
{
	struct h_opts o = ts(2000);

	h_send(PEER_PORT, APP_PORT, seq, ack, TH_ACK, win, &o, NULL, 0);
}

static void peer_data(uint32_t seq, uint32_t ack, const void *d, size_t n, uint8_t extra)
{
	struct h_opts o = ts(2000);

	h_send(PEER_PORT, APP_PORT, seq, ack, TH_ACK | extra, 512, &o, d, n);
}

static void test_handshake_passive(void)
{
	struct h_opts o = { .mss = 1460, .ws = 7, .ts = true, .tsval = 1000, .tsecr = 0 };
	struct h_seg s;
	struct tcp_conn *c;

	h_setup(NULL);
	CU_ASSERT_EQUAL(tcp_listen(H.st, APP_PORT, 0), 0);
	CU_ASSERT_EQUAL(tcp_listen(H.st, APP_PORT, 0), -EADDRINUSE);
	h_send(PEER_PORT, APP_PORT, ISN, 0, TH_SYN, 65535, &o, NULL, 0);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT_FATAL(h_seg(0, &s));
	CU_ASSERT_EQUAL(memcmp(H.out[0].b, peer_mac, 6), 0);
	CU_ASSERT_EQUAL(s.src, STACK_IP);
	CU_ASSERT_EQUAL(s.dst, PEER_IP);
	CU_ASSERT_EQUAL(s.sport, APP_PORT);
	CU_ASSERT_EQUAL(s.dport, PEER_PORT);
	CU_ASSERT_EQUAL(s.flags, TH_SYN | TH_ACK);
	CU_ASSERT_EQUAL(s.ack, ISN + 1);
	CU_ASSERT_EQUAL(s.win, 65535);
	CU_ASSERT(s.opt.has_mss && s.opt.opt_mss == 1460);
	CU_ASSERT(s.opt.has_ws && s.opt.opt_ws == 3);	/* 256 KiB buffer */
	CU_ASSERT(s.opt.has_ts && s.opt.tsecr == 1000);
	c = tcp_conn_lookup(H.st, PEER_IP, PEER_PORT, APP_PORT);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->state, TCP_SYN_RCVD);
	CU_ASSERT_EQUAL(H.accepted, 0);
	CU_ASSERT_PTR_NULL(c->rb.buf);		/* half-open: no buffers yet */

	/* A retransmitted SYN gets the same SYN/ACK. */
	h_clear();
	h_send(PEER_PORT, APP_PORT, ISN, 0, TH_SYN, 65535, &o, NULL, 0);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.flags == (TH_SYN | TH_ACK) && s.ack == ISN + 1);

	h_clear();
	o.mss = o.ws = -1;
	o.tsval = 1001;
	o.tsecr = s.opt.tsval;
	h_send(PEER_PORT, APP_PORT, ISN + 1, s.seq + 1, TH_ACK, 512, &o, NULL, 0);
	CU_ASSERT_EQUAL(H.nout, 0);
	CU_ASSERT_EQUAL(H.accepted, 1);
	CU_ASSERT_EQUAL(H.accept_lport, APP_PORT);
	CU_ASSERT_PTR_EQUAL(H.conn, c);
	CU_ASSERT_EQUAL(tcp_get_state(c), TCP_ESTABLISHED);
	CU_ASSERT_PTR_NOT_NULL(c->rb.buf);
	CU_ASSERT_EQUAL(c->snd_wnd, 512u << 7);
	CU_ASSERT_EQUAL(c->mss, 1460);
	CU_ASSERT(c->ts_ok && c->ws_ok);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_passive_opens, 1);
	h_teardown();
}

static void test_refused_by_app(void)
{
	struct h_seg s;

	h_setup(NULL);
	H.refuse = true;
	h_open_ex(ISN, true, false);
	CU_ASSERT_PTR_NULL(H.conn);
	/* accepted() said no: RST, and the slot comes back. */
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT(s.flags & TH_RST);
	CU_ASSERT_EQUAL(H.st->nconns, 0);
	h_teardown();
}

static void test_no_listener_rst(void)
{
	struct h_seg s;

	h_setup(NULL);
	h_send(PEER_PORT, 81, ISN, 0, TH_SYN, 65535, NULL, NULL, 0);
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT_EQUAL(s.flags, TH_RST | TH_ACK);
	CU_ASSERT_EQUAL(s.seq, 0);
	CU_ASSERT_EQUAL(s.ack, ISN + 1);
	h_clear();
	h_send(PEER_PORT, 81, ISN, 777, TH_ACK, 65535, NULL, "x", 1);
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT_EQUAL(s.flags, TH_RST);
	CU_ASSERT_EQUAL(s.seq, 777);
	/* Never a RST for a RST. */
	h_clear();
	h_send(PEER_PORT, 81, ISN, 777, TH_RST, 0, NULL, NULL, 0);
	CU_ASSERT_EQUAL(H.nout, 0);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_no_listener, 2);
	h_teardown();
}

static void test_data_both_ways(void)
{
	struct h_seg s;
	uint32_t iss;
	struct tcp_conn *c;

	fill_pat();
	h_setup(NULL);
	iss = h_open(ISN, true);
	c = H.conn;
	H.auto_read = true;

	/* One segment: delivered, ACK delayed by 40 ms. */
	peer_data(ISN + 1, iss + 1, pat, 1000, TH_PSH);
	CU_ASSERT_EQUAL(H.readable, 1);
	CU_ASSERT_EQUAL(H.rxlen, 1000);
	CU_ASSERT_EQUAL(memcmp(H.rx, pat, 1000), 0);
	CU_ASSERT_EQUAL(H.nout, 0);
	h_advance_ms(39);
	CU_ASSERT_EQUAL(H.nout, 0);
	h_advance_ms(2);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.flags == TH_ACK && s.ack == ISN + 1001 && s.len == 0);
	CU_ASSERT(s.opt.has_ts && s.opt.tsecr == 2000);

	/* Two full segments: ACK at once. */
	h_clear();
	peer_data(ISN + 1001, iss + 1, pat + 1000, PAY, 0);
	CU_ASSERT_EQUAL(H.nout, 0);
	peer_data(ISN + 1001 + PAY, iss + 1, pat + 1000 + PAY, PAY, 0);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.ack == ISN + 1001 + 2 * PAY);
	CU_ASSERT_EQUAL(H.rxlen, 1000 + 2 * PAY);
	CU_ASSERT_EQUAL(memcmp(H.rx, pat, H.rxlen), 0);

	/* 3000 bytes the other way: MSS-sized segments, PSH on the last,
	 * each carrying the current ACK. */
	h_clear();
	CU_ASSERT_EQUAL(tcp_send(c, pat, 3000), 3000);
	CU_ASSERT_EQUAL_FATAL(H.nout, 3);
	for (size_t i = 0; i < 3; i++) {
		uint32_t want = i < 2 ? PAY : 3000 - 2 * PAY;

		CU_ASSERT_FATAL(h_seg(i, &s));
		CU_ASSERT_EQUAL(s.seq, iss + 1 + i * PAY);
		CU_ASSERT_EQUAL(s.len, want);
		CU_ASSERT_EQUAL(s.ack, ISN + 1001 + 2 * PAY);
		CU_ASSERT_EQUAL(memcmp(s.data, pat + i * PAY, want), 0);
		CU_ASSERT_EQUAL(!!(s.flags & TH_PSH), i == 2);
	}
	CU_ASSERT_EQUAL(c->sb.len, 3000);
	peer_ack(ISN + 1001 + 2 * PAY, iss + 1 + 3000, 512);
	CU_ASSERT_EQUAL(c->sb.len, 0);
	CU_ASSERT_EQUAL(c->snd_una, iss + 1 + 3000);
	CU_ASSERT(!tw_armed(&c->t_rtx));
	h_teardown();
}

/* NET_CFG_ACK_PER_BURST: the ACK every second full segment earns waits
 * for the end of the burst (net_poll_timers / net_flush) and then covers
 * all of it; a hole filled and a FIN are still answered at once. */
static void test_ack_per_burst(void)
{
	struct net_config cfg;
	struct h_seg s;
	uint32_t iss, seq = ISN + 1;

	fill_pat();
	net_config_default(&cfg);
	cfg.flags = NET_CFG_ACK_PER_BURST;
	h_setup(&cfg);
	iss = h_open(ISN, true);
	H.auto_read = true;

	/* A burst of five full segments: nothing until the burst ends. */
	for (int i = 0; i < 5; i++, seq += PAY)
		peer_data(seq, iss + 1, pat + (seq - ISN - 1), PAY, 0);
	CU_ASSERT_EQUAL(H.nout, 0);
	CU_ASSERT_EQUAL(H.rxlen, 5 * PAY);
	net_flush(H.st);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.flags == TH_ACK && s.ack == seq && s.len == 0);
	net_poll_timers(H.st, H.now);	/* owed nothing more */
	CU_ASSERT_EQUAL(H.nout, 1);

	/* One segment alone still waits for the delayed-ACK timer. */
	h_clear();
	peer_data(seq, iss + 1, pat + (seq - ISN - 1), PAY, 0);
	seq += PAY;
	net_flush(H.st);
	CU_ASSERT_EQUAL(H.nout, 0);
	h_advance_ms(41);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.ack == seq);

	/* Two more, then the FIN in the same burst: acknowledged at once. */
	h_clear();
	for (int i = 0; i < 2; i++, seq += PAY)
		peer_data(seq, iss + 1, pat + (seq - ISN - 1), PAY, 0);
	CU_ASSERT_EQUAL(H.nout, 0);
	peer_data(seq, iss + 1, NULL, 0, TH_FIN);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.ack == seq + 1);
	net_flush(H.st);
	CU_ASSERT_EQUAL(H.nout, 1);	/* the FIN's ACK covered the burst */
	CU_ASSERT_EQUAL(H.rxlen, (size_t)(seq - ISN - 1));
	CU_ASSERT_EQUAL(memcmp(H.rx, pat, H.rxlen), 0);
	h_teardown();
}

static void test_send_buffer_full(void)
{
	struct net_config cfg;
	struct tcp_conn *c;
	uint32_t iss;
	long n;

	fill_pat();
	net_config_default(&cfg);
	cfg.sndbuf = 8192;
	h_setup(&cfg);
	iss = h_open(ISN, true);
	c = H.conn;
	n = tcp_send(c, pat, 20000);
	CU_ASSERT_EQUAL(n, 8192);
	CU_ASSERT_EQUAL(tcp_send(c, pat, 10), -EAGAIN);
	CU_ASSERT_EQUAL(tcp_send_room(c), 0);
	/* ACK of a quarter of the buffer: room is back, writable comes. */
	peer_ack(ISN + 1, iss + 1 + 2 * PAY, 512);
	CU_ASSERT_EQUAL(H.writable, 1);
	CU_ASSERT_EQUAL(tcp_send_room(c), 2 * PAY);
	h_teardown();
}

static void test_retransmit_backoff_and_abort(void)
{
	struct net_config cfg;
	struct h_seg s;
	struct tcp_conn *c;
	uint32_t iss;

	fill_pat();
	net_config_default(&cfg);
	cfg.max_retries = 3;
	h_setup(&cfg);
	iss = h_open(ISN, true);
	c = H.conn;
	/* The handshake's RTT was 0: RTO is the 200 ms floor. */
	CU_ASSERT_EQUAL(c->rto_us, 200000);
	h_clear();
	CU_ASSERT_EQUAL(tcp_send(c, pat, 1000), 1000);
	CU_ASSERT_EQUAL(H.nout, 1);
	h_clear();
	h_advance_ms(199);
	CU_ASSERT_EQUAL(H.nout, 0);
	h_advance_ms(1);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.seq == iss + 1 && s.len == 1000);
	CU_ASSERT_EQUAL(memcmp(s.data, pat, 1000), 0);
	CU_ASSERT_EQUAL(c->rto_us, 400000);	/* doubled */
	CU_ASSERT_EQUAL(c->cwnd, c->mss - 12u);	/* loss window */
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_rto_timeouts, 1);

	h_clear();
	h_advance_ms(399);
	CU_ASSERT_EQUAL(H.nout, 0);
	h_advance_ms(1);
	CU_ASSERT_EQUAL(H.nout, 1);	/* second retransmission at +400 */
	h_clear();
	h_advance_ms(800);
	CU_ASSERT_EQUAL(H.nout, 1);	/* third at +800 */
	/* Fourth expiry is past max_retries: RST and closed(-ETIMEDOUT). */
	h_clear();
	h_advance_ms(1600);
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT(s.flags & TH_RST);
	CU_ASSERT_EQUAL(H.closed, 1);
	CU_ASSERT_EQUAL(H.close_reason, -ETIMEDOUT);
	CU_ASSERT_EQUAL(H.st->nconns, 0);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_timeout_aborts, 1);
	h_teardown();
}

static void test_retransmit_then_ack(void)
{
	struct tcp_conn *c;
	uint32_t iss;

	fill_pat();
	h_setup(NULL);
	iss = h_open(ISN, true);
	c = H.conn;
	CU_ASSERT_EQUAL(tcp_send(c, pat, 1000), 1000);
	h_advance_ms(200);
	CU_ASSERT_EQUAL(c->rtx_count, 1);
	peer_ack(ISN + 1, iss + 1001, 512);
	CU_ASSERT_EQUAL(c->rtx_count, 0);
	CU_ASSERT_EQUAL(c->sb.len, 0);
	CU_ASSERT(!tw_armed(&c->t_rtx));
	h_teardown();
}

static void test_fast_retransmit_newreno(void)
{
	struct h_seg s;
	struct tcp_conn *c;
	uint32_t iss, base;

	fill_pat();
	h_setup(NULL);
	iss = h_open(ISN, true);
	c = H.conn;
	base = iss + 1;
	h_clear();
	CU_ASSERT_EQUAL(tcp_send(c, pat, 10 * PAY), 10 * PAY);
	CU_ASSERT_EQUAL(H.nout, 10);	/* initial window: 10 segments */
	h_clear();
	/* Segment 2 is lost: the peer acks 1, then 3 duplicates. */
	peer_ack(ISN + 1, base + PAY, 512);
	CU_ASSERT_EQUAL(H.nout, 0);
	peer_ack(ISN + 1, base + PAY, 512);
	peer_ack(ISN + 1, base + PAY, 512);
	CU_ASSERT_EQUAL(H.nout, 0);
	CU_ASSERT_EQUAL(c->dupacks, 2);
	peer_ack(ISN + 1, base + PAY, 512);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.seq == base + PAY && s.len == PAY);
	CU_ASSERT(c->in_recovery);
	CU_ASSERT_EQUAL(c->recover, base + 10 * PAY);
	CU_ASSERT_EQUAL(c->ssthresh, 9 * PAY / 2);
	CU_ASSERT_EQUAL(c->cwnd, c->ssthresh + 3 * PAY);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_fast_retransmits, 1);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_dup_acks, 3);

	/* Partial ACK (segment 4 was lost too): retransmit it at once. */
	h_clear();
	peer_ack(ISN + 1, base + 3 * PAY, 512);
	CU_ASSERT_FATAL(H.nout >= 1);
	CU_ASSERT(h_seg(0, &s) && s.seq == base + 3 * PAY && s.len == PAY);
	CU_ASSERT(c->in_recovery);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_partial_acks, 1);

	/* Full ACK: recovery ends, cwnd deflated to ssthresh at most. */
	peer_ack(ISN + 1, base + 10 * PAY, 512);
	CU_ASSERT(!c->in_recovery);
	CU_ASSERT(c->cwnd <= c->ssthresh);
	CU_ASSERT_EQUAL(c->sb.len, 0);
	h_teardown();
}

static void test_out_of_order(void)
{
	struct h_seg s;
	uint32_t iss;

	fill_pat();
	h_setup(NULL);
	iss = h_open(ISN, true);
	H.auto_read = true;
	/* Second segment first: held, duplicate ACK at once. */
	peer_data(ISN + 1 + 1000, iss + 1, pat + 1000, 1000, 0);
	CU_ASSERT_EQUAL(H.readable, 0);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.ack == ISN + 1 && s.len == 0);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_ooo_queued, 1);
	/* The same again: still one range. */
	peer_data(ISN + 1 + 1000, iss + 1, pat + 1000, 1000, 0);
	CU_ASSERT_EQUAL(H.conn->ooo.n, 1);
	/* The hole fills: both delivered once, in order, ACKed at once. */
	h_clear();
	peer_data(ISN + 1, iss + 1, pat, 1000, 0);
	CU_ASSERT_EQUAL(H.readable, 1);
	CU_ASSERT_EQUAL(H.rxlen, 2000);
	CU_ASSERT_EQUAL(memcmp(H.rx, pat, 2000), 0);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.ack == ISN + 2001);
	CU_ASSERT_EQUAL(H.conn->ooo.n, 0);
	/* An old duplicate delivers nothing and is ACKed. */
	h_clear();
	peer_data(ISN + 1, iss + 1, pat, 1000, 0);
	CU_ASSERT_EQUAL(H.rxlen, 2000);
	CU_ASSERT_EQUAL(H.nout, 1);
	h_teardown();
}

static void test_ooo_caps(void)
{
	struct net_config cfg;
	uint32_t iss, b = ISN + 1;

	fill_pat();
	net_config_default(&cfg);
	cfg.ooo_max_segs = 2;
	cfg.ooo_max_bytes = 1500;
	h_setup(&cfg);
	iss = h_open(ISN, true);
	H.auto_read = true;
	peer_data(b + 1000, iss + 1, pat + 1000, 500, 0);
	peer_data(b + 3000, iss + 1, pat + 3000, 500, 0);
	CU_ASSERT_EQUAL(H.conn->ooo.n, 2);
	/* A third hole: over the range cap, dropped. */
	peer_data(b + 5000, iss + 1, pat + 5000, 500, 0);
	CU_ASSERT_EQUAL(H.conn->ooo.n, 2);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_ooo_drop, 1);
	/* Growing a range past the byte cap: dropped too. */
	peer_data(b + 3500, iss + 1, pat + 3500, 600, 0);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_ooo_drop, 2);
	CU_ASSERT_EQUAL(H.conn->ooo.bytes, 1000);
	/* Merging into an existing range is within the caps. */
	peer_data(b + 1500, iss + 1, pat + 1500, 400, 0);
	CU_ASSERT_EQUAL(H.conn->ooo.n, 2);
	CU_ASSERT_EQUAL(H.conn->ooo.bytes, 1400);
	/* Fill the first hole: 0..1900 in order, 3000.. still held. */
	peer_data(b, iss + 1, pat, 1000, 0);
	CU_ASSERT_EQUAL(H.rxlen, 1900);
	CU_ASSERT_EQUAL(memcmp(H.rx, pat, 1900), 0);
	CU_ASSERT_EQUAL(H.conn->ooo.n, 1);
	peer_data(b + 1900, iss + 1, pat + 1900, 1100, 0);
	CU_ASSERT_EQUAL(H.rxlen, 3500);
	CU_ASSERT_EQUAL(memcmp(H.rx, pat, 3500), 0);
	CU_ASSERT_EQUAL(H.conn->ooo.n, 0);
	h_teardown();
}

static void test_peer_zero_window_probe(void)
{
	struct h_seg s;
	struct tcp_conn *c;
	uint32_t iss;

	fill_pat();
	h_setup(NULL);
	iss = h_open(ISN, true);
	c = H.conn;
	h_clear();
	peer_ack(ISN + 1, iss + 1, 0);		/* window closes */
	CU_ASSERT_EQUAL(c->snd_wnd, 0);
	CU_ASSERT_EQUAL(tcp_send(c, pat, 1000), 1000);
	CU_ASSERT_EQUAL(H.nout, 0);		/* nothing may go */
	CU_ASSERT(c->persist);
	h_advance_ms(200);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.seq == iss && s.len == 0 && s.flags == TH_ACK);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_zero_window_probes, 1);
	/* Backoff: the next probe after 400 ms. */
	h_clear();
	h_advance_ms(399);
	CU_ASSERT_EQUAL(H.nout, 0);
	h_advance_ms(1);
	CU_ASSERT_EQUAL(H.nout, 1);
	/* The answer still says 0: keep probing, never abort. */
	peer_ack(ISN + 1, iss + 1, 0);
	CU_ASSERT_EQUAL(tcp_get_state(c), TCP_ESTABLISHED);
	/* Window opens: the data goes. */
	h_clear();
	peer_ack(ISN + 1, iss + 1, 512);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.seq == iss + 1 && s.len == 1000);
	CU_ASSERT(!c->persist);
	h_teardown();
}

static void test_our_window_full(void)
{
	struct net_config cfg;
	struct h_seg s;
	struct tcp_conn *c;
	uint32_t iss, b = ISN + 1;
	uint8_t buf[8192];

	fill_pat();
	net_config_default(&cfg);
	cfg.rcvbuf = 4096;
	h_setup(&cfg);
	iss = h_open(ISN, true);
	c = H.conn;
	CU_ASSERT_EQUAL(c->rcv_wscale, 0);
	peer_data(b, iss + 1, pat, PAY, 0);
	peer_data(b + PAY, iss + 1, pat + PAY, PAY, 0);
	h_clear();
	peer_data(b + 2 * PAY, iss + 1, pat + 2 * PAY, 4096 - 2 * PAY, 0);
	h_advance_ms(50);
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT_EQUAL(s.ack, b + 4096);
	CU_ASSERT_EQUAL(s.win, 0);
	/* More data into a zero window: refused, ACKed with window 0. */
	h_clear();
	peer_data(b + 4096, iss + 1, pat + 4096, 100, 0);
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT(s.ack == b + 4096 && s.win == 0);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_out_of_window, 1);
	/* A Linux-style probe (seq - 1) is answered. */
	h_clear();
	peer_ack(b + 4095, iss + 1, 512);
	CU_ASSERT_EQUAL(H.nout, 1);
	/* The application reads: a window update goes out. */
	h_clear();
	CU_ASSERT_EQUAL(tcp_recv(c, buf, sizeof(buf)), 4096);
	CU_ASSERT_EQUAL(memcmp(buf, pat, 4096), 0);
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT(s.ack == b + 4096 && s.win == 4096);
	h_teardown();
}

static void test_fin_from_peer(void)
{
	struct h_seg s;
	struct tcp_conn *c;
	uint32_t iss;

	h_setup(NULL);
	iss = h_open(ISN, true);
	c = H.conn;
	H.auto_read = true;
	peer_data(ISN + 1, iss + 1, "hello", 5, TH_FIN);
	CU_ASSERT_EQUAL(tcp_get_state(c), TCP_CLOSE_WAIT);
	CU_ASSERT(H.eof);
	CU_ASSERT_EQUAL(H.rxlen, 5);
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT_EQUAL(s.ack, ISN + 7);	/* data + FIN, at once */
	/* We can still send, then close our side. */
	CU_ASSERT_EQUAL(tcp_send(c, "bye", 3), 3);
	h_clear();
	tcp_shutdown_wr(c);
	CU_ASSERT_EQUAL(tcp_get_state(c), TCP_LAST_ACK);
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT(s.flags & TH_FIN);
	CU_ASSERT_EQUAL(s.seq, iss + 4);
	CU_ASSERT_EQUAL(tcp_send(c, "x", 1), -EPIPE);
	peer_ack(ISN + 7, iss + 5, 512);
	CU_ASSERT_EQUAL(H.closed, 1);
	CU_ASSERT_EQUAL(H.close_reason, 0);
	CU_ASSERT_EQUAL(H.st->nconns, 0);
	h_teardown();
}

static void test_fin_from_us_time_wait(void)
{
	struct h_seg s;
	struct tcp_conn *c;
	uint32_t iss;

	h_setup(NULL);
	iss = h_open(ISN, true);
	c = H.conn;
	H.auto_read = true;
	h_clear();
	tcp_shutdown_wr(c);
	CU_ASSERT_EQUAL(tcp_get_state(c), TCP_FIN_WAIT_1);
	CU_ASSERT(h_last(&s) && (s.flags & TH_FIN) && s.seq == iss + 1);
	peer_ack(ISN + 1, iss + 2, 512);
	CU_ASSERT_EQUAL(tcp_get_state(c), TCP_FIN_WAIT_2);
	/* Half-closed: the peer may still send. */
	peer_data(ISN + 1, iss + 2, "more", 4, 0);
	CU_ASSERT_EQUAL(H.rxlen, 4);
	h_clear();
	peer_data(ISN + 5, iss + 2, NULL, 0, TH_FIN);
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT_EQUAL(s.ack, ISN + 6);
	CU_ASSERT_EQUAL(tcp_get_state(c), TCP_TIME_WAIT);
	CU_ASSERT(H.eof);
	CU_ASSERT_EQUAL(H.closed, 1);		/* closed(0): all done */
	CU_ASSERT_EQUAL(H.close_reason, 0);
	CU_ASSERT_EQUAL(H.st->nconns, 1);
	/* Their FIN again: ACK again. RST: ignored (RFC 1337). */
	h_clear();
	peer_data(ISN + 5, iss + 2, NULL, 0, TH_FIN);
	CU_ASSERT(h_last(&s) && s.ack == ISN + 6);
	h_send(PEER_PORT, APP_PORT, ISN + 6, 0, TH_RST, 0, NULL, NULL, 0);
	CU_ASSERT_EQUAL(H.st->nconns, 1);
	h_advance_ms(1999);
	CU_ASSERT_EQUAL(H.st->nconns, 1);
	h_advance_ms(2);
	CU_ASSERT_EQUAL(H.st->nconns, 0);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_timewait_expired, 1);
	h_teardown();
}

static void test_simultaneous_close(void)
{
	struct h_seg s;
	struct tcp_conn *c;
	uint32_t iss;

	h_setup(NULL);
	iss = h_open(ISN, true);
	c = H.conn;
	H.auto_read = true;
	tcp_shutdown_wr(c);
	/* Their FIN crosses ours (it does not ack ours). */
	h_clear();
	peer_data(ISN + 1, iss + 1, NULL, 0, TH_FIN);
	CU_ASSERT_EQUAL(tcp_get_state(c), TCP_CLOSING);
	CU_ASSERT(h_last(&s) && s.ack == ISN + 2);
	peer_ack(ISN + 2, iss + 2, 512);
	CU_ASSERT_EQUAL(tcp_get_state(c), TCP_TIME_WAIT);
	CU_ASSERT_EQUAL(H.closed, 1);
	h_teardown();
}

static void test_close_unread_sends_rst(void)
{
	struct h_seg s;
	uint32_t iss;

	h_setup(NULL);
	iss = h_open(ISN, true);
	peer_data(ISN + 1, iss + 1, "unread", 6, 0);
	h_clear();
	tcp_close(H.conn);
	H.conn = NULL;
	net_flush(H.st);
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT(s.flags & TH_RST);
	CU_ASSERT_EQUAL(H.closed, 0);		/* no upcall after close */
	CU_ASSERT_EQUAL(H.st->nconns, 0);
	h_teardown();
}

static void test_close_orphan_then_data_rst(void)
{
	struct h_seg s;
	struct tcp_conn *c;
	uint32_t iss;

	h_setup(NULL);
	iss = h_open(ISN, true);
	c = H.conn;
	tcp_close(c);
	H.conn = NULL;
	peer_ack(ISN + 1, iss + 2, 512);	/* our FIN acked */
	CU_ASSERT_EQUAL(c->state, TCP_FIN_WAIT_2);
	h_clear();
	peer_data(ISN + 1, iss + 2, "late", 4, 0);
	CU_ASSERT(h_last(&s) && (s.flags & TH_RST));
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_data_after_close, 1);
	CU_ASSERT_EQUAL(H.st->nconns, 0);
	h_teardown();
}

static void test_rst(void)
{
	struct h_seg s;
	uint32_t iss;

	h_setup(NULL);
	iss = h_open(ISN, true);
	(void)iss;
	/* Outside the window: dropped silently. */
	h_send(PEER_PORT, APP_PORT, ISN + 1 + 10000000, 0, TH_RST, 0, NULL, NULL, 0);
	CU_ASSERT_EQUAL(H.nout, 0);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_rst_out_of_window, 1);
	CU_ASSERT_PTR_NOT_NULL(H.conn);
	/* In the window but not exact: challenge ACK (RFC 5961). */
	h_send(PEER_PORT, APP_PORT, ISN + 1 + 100, 0, TH_RST, 0, NULL, NULL, 0);
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT(s.flags == TH_ACK && s.ack == ISN + 1);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_challenge_ack, 1);
	CU_ASSERT_EQUAL(H.closed, 0);
	/* A SYN on an established connection: challenge ACK too. */
	h_send(PEER_PORT, APP_PORT, ISN + 50, 0, TH_SYN, 0, NULL, NULL, 0);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_challenge_ack, 2);
	/* Exact: the connection is reset. */
	h_clear();
	h_send(PEER_PORT, APP_PORT, ISN + 1, 0, TH_RST, 0, NULL, NULL, 0);
	CU_ASSERT_EQUAL(H.nout, 0);
	CU_ASSERT_EQUAL(H.closed, 1);
	CU_ASSERT_EQUAL(H.close_reason, -ECONNRESET);
	CU_ASSERT_EQUAL(H.st->nconns, 0);
	h_teardown();
}

static void test_invalid_ack(void)
{
	struct h_seg s;
	uint32_t iss;

	h_setup(NULL);
	iss = h_open(ISN, true);
	h_clear();
	/* Acknowledges data we never sent: ACK back, drop. */
	peer_data(ISN + 1, iss + 5000, "zz", 2, 0);
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT_EQUAL(s.ack, ISN + 1);
	CU_ASSERT_EQUAL(H.rxlen + H.conn->rb.len, 0);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_invalid_ack, 1);
	/* PAWS: an older timestamp is dropped. */
	{
		struct h_opts o = { .mss = -1, .ws = -1, .ts = true, .tsval = 10, .tsecr = 0 };

		h_send(PEER_PORT, APP_PORT, ISN + 1, iss + 1, TH_ACK, 512, &o, "zz", 2);
		CU_ASSERT_EQUAL(H.conn->rb.len, 0);
		CU_ASSERT_EQUAL(net_counters(H.st)->tcp_paws_drop, 1);
	}
	h_teardown();
}

static uint32_t syn_from(uint16_t port, struct h_seg *sa)
{
	struct h_opts o = { .mss = 1460, .ws = 7, .ts = true, .tsval = 3000, .tsecr = 0 };

	h_clear();
	h_send(port, APP_PORT, ISN, 0, TH_SYN, 65535, &o, NULL, 0);
	CU_ASSERT_FATAL(h_last(sa));
	CU_ASSERT_EQUAL(sa->flags, TH_SYN | TH_ACK);
	return sa->seq;
}

static void test_syn_cookie_round_trip(void)
{
	struct h_seg sa, s;
	struct h_opts o = { .mss = -1, .ws = -1, .ts = true, .tsval = 3001, .tsecr = 0 };
	struct tcp_conn *c;
	uint32_t cookie;

	h_setup(NULL);
	CU_ASSERT_EQUAL(tcp_listen(H.st, APP_PORT, 1), 0);
	syn_from(PEER_PORT, &sa);			/* fills the backlog */
	CU_ASSERT_EQUAL(H.st->nconns, 1);
	cookie = syn_from(PEER_PORT + 1, &sa);		/* gets a cookie */
	CU_ASSERT_EQUAL(H.st->nconns, 1);		/* nothing stored */
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_syn_backlog_full, 1);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_syncookie_tx, 1);
	CU_ASSERT(sa.opt.has_mss && sa.opt.has_ws && sa.opt.has_ts);
	CU_ASSERT_EQUAL(sa.opt.tsecr, 3000);
	CU_ASSERT_EQUAL(sa.ack, ISN + 1);
	/* A forged ACK: RST, counted, no connection. */
	h_clear();
	o.tsecr = sa.opt.tsval;
	h_send(PEER_PORT + 2, APP_PORT, ISN + 1, cookie + 1, TH_ACK, 512, &o, NULL, 0);
	CU_ASSERT(h_last(&s) && s.flags == TH_RST && s.seq == cookie + 1);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_syncookie_bad, 1);
	CU_ASSERT_EQUAL(H.accepted, 0);
	/* The real ACK, with data: the connection is made from the cookie. */
	h_clear();
	h_send(PEER_PORT + 1, APP_PORT, ISN + 1, cookie + 1, TH_ACK | TH_PSH, 512, &o,
	       "hi", 2);
	CU_ASSERT_EQUAL(H.accepted, 1);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_syncookie_ok, 1);
	c = H.conn;
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->state, TCP_ESTABLISHED);
	CU_ASSERT_EQUAL(c->snd_wscale, 7);		/* recovered from TSecr */
	CU_ASSERT_EQUAL(c->snd_wnd, 512u << 7);
	CU_ASSERT_EQUAL(c->mss, 1460);
	CU_ASSERT(c->ts_ok && c->ws_ok);
	CU_ASSERT_EQUAL(c->rb.len, 2);
	CU_ASSERT_EQUAL(c->snd_una, cookie + 1);
	/* It works like any other: data goes out with the right sequence. */
	h_clear();
	CU_ASSERT_EQUAL(tcp_send(c, "ok", 2), 2);
	CU_ASSERT(h_last(&s) && s.seq == cookie + 1 && s.len == 2 && s.ack == ISN + 3);
	h_teardown();
}

static void test_syn_cookie_always_no_ts(void)
{
	struct net_config cfg;
	struct h_seg sa;
	struct h_opts o = { .mss = 1300, .ws = -1, .ts = false, .tsval = 0, .tsecr = 0 };

	net_config_default(&cfg);
	cfg.flags = NET_CFG_SYNCOOKIE_ALWAYS;
	h_setup(&cfg);
	CU_ASSERT_EQUAL(tcp_listen(H.st, APP_PORT, 0), 0);
	h_send(PEER_PORT, APP_PORT, ISN, 0, TH_SYN, 65535, &o, NULL, 0);
	CU_ASSERT_FATAL(h_last(&sa));
	CU_ASSERT(!sa.opt.has_ws && !sa.opt.has_ts);
	h_send(PEER_PORT, APP_PORT, ISN + 1, sa.seq + 1, TH_ACK, 65535, NULL, NULL, 0);
	CU_ASSERT_EQUAL(H.accepted, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(H.conn);
	CU_ASSERT_EQUAL(H.conn->mss, 1300);
	CU_ASSERT(!H.conn->ws_ok && !H.conn->ts_ok);
	CU_ASSERT_EQUAL(H.conn->rcv_wscale, 0);
	/* A cookie from two periods ago is refused. */
	h_send(PEER_PORT + 1, APP_PORT, ISN, 0, TH_SYN, 65535, &o, NULL, 0);
	CU_ASSERT_FATAL(h_last(&sa));
	H.now += 130ull * 1000 * 1000;
	h_send(PEER_PORT + 1, APP_PORT, ISN + 1, sa.seq + 1, TH_ACK, 65535, NULL, NULL, 0);
	CU_ASSERT_EQUAL(H.accepted, 1);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_syncookie_bad, 1);
	h_teardown();
}

static void test_active_open(void)
{
	struct h_opts o = { .mss = 1400, .ws = 5, .ts = true, .tsval = 9000, .tsecr = 0 };
	struct h_seg s;
	struct tcp_conn *c;
	int err = 0;

	h_setup(NULL);
	c = tcp_connect(H.st, PEER_IP, 22, (void *)0x1, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_PTR_EQUAL(tcp_user(c), (void *)0x1);
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT_EQUAL(s.flags, TH_SYN);
	CU_ASSERT_EQUAL(s.dport, 22);
	CU_ASSERT(s.sport >= TCP_EPHEMERAL_LO && s.sport <= TCP_EPHEMERAL_HI);
	CU_ASSERT(s.opt.has_mss && s.opt.has_ws && s.opt.has_ts);
	CU_ASSERT_EQUAL(tcp_get_state(c), TCP_SYN_SENT);
	/* Data queued before the handshake goes after it. */
	CU_ASSERT_EQUAL(tcp_send(c, "early", 5), 5);
	h_clear();
	o.tsecr = s.opt.tsval;
	h_send(22, s.sport, 7000, s.seq + 1, TH_SYN | TH_ACK, 8000, &o, NULL, 0);
	CU_ASSERT_EQUAL(H.connected, 1);
	CU_ASSERT_EQUAL(H.connect_err, 0);
	CU_ASSERT_EQUAL(tcp_get_state(c), TCP_ESTABLISHED);
	CU_ASSERT_EQUAL(c->mss, 1400);
	CU_ASSERT_EQUAL(c->snd_wscale, 5);
	CU_ASSERT_EQUAL(c->snd_wnd, 8000);	/* a SYN's window is not scaled */
	CU_ASSERT_EQUAL_FATAL(H.nout, 2);	/* ACK, then the data */
	CU_ASSERT(h_seg(0, &s) && s.flags == TH_ACK && s.ack == 7001 && s.len == 0);
	CU_ASSERT(h_seg(1, &s) && s.len == 5 && memcmp(s.data, "early", 5) == 0);
	h_teardown();
}

static void test_active_refused_and_timeout(void)
{
	struct net_config cfg;
	struct h_seg s;
	struct tcp_conn *c;
	int err = 0;

	net_config_default(&cfg);
	cfg.syn_retries = 2;
	h_setup(&cfg);
	c = tcp_connect(H.st, PEER_IP, 22, NULL, &err);
	CU_ASSERT_FATAL(c && h_last(&s));
	/* A RST whose ACK does not match is ignored. */
	h_send(22, s.sport, 0, s.seq + 5, TH_RST | TH_ACK, 0, NULL, NULL, 0);
	CU_ASSERT_EQUAL(H.connected, 0);
	h_send(22, s.sport, 0, s.seq + 1, TH_RST | TH_ACK, 0, NULL, NULL, 0);
	CU_ASSERT_EQUAL(H.connected, 1);
	CU_ASSERT_EQUAL(H.connect_err, -ECONNREFUSED);
	CU_ASSERT_EQUAL(H.st->nconns, 0);

	/* No answer: SYN at 0, +1 s, +2 s, then -ETIMEDOUT at +4 s. */
	h_clear();
	c = tcp_connect(H.st, PEER_IP, 22, NULL, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	h_advance_ms(1000);
	CU_ASSERT_EQUAL(H.nout, 2);
	h_advance_ms(2000);
	CU_ASSERT_EQUAL(H.nout, 3);
	CU_ASSERT_EQUAL(H.connected, 1);
	h_advance_ms(4000);
	CU_ASSERT_EQUAL(H.connected, 2);
	CU_ASSERT_EQUAL(H.connect_err, -ETIMEDOUT);
	CU_ASSERT_EQUAL(H.st->nconns, 0);
	h_teardown();
}

static void test_simultaneous_open(void)
{
	struct h_opts o = { .mss = 1460, .ws = -1, .ts = false, .tsval = 0, .tsecr = 0 };
	struct h_seg s;
	struct tcp_conn *c;
	int err;

	h_setup(NULL);
	c = tcp_connect(H.st, PEER_IP, 22, NULL, &err);
	CU_ASSERT_FATAL(c && h_last(&s));
	h_clear();
	/* Their SYN crosses ours. */
	h_send(22, s.sport, 7000, 0, TH_SYN, 8000, &o, NULL, 0);
	CU_ASSERT_EQUAL(tcp_get_state(c), TCP_SYN_RCVD);
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT_EQUAL(s.flags, TH_SYN | TH_ACK);
	CU_ASSERT_EQUAL(s.ack, 7001);
	h_send(22, s.sport, 7001, s.seq + 1, TH_ACK, 8000, NULL, NULL, 0);
	CU_ASSERT_EQUAL(tcp_get_state(c), TCP_ESTABLISHED);
	CU_ASSERT_EQUAL(H.connected, 1);
	CU_ASSERT_EQUAL(H.connect_err, 0);
	h_teardown();
}

static void test_keepalive(void)
{
	struct h_seg s;
	struct tcp_conn *c;
	uint32_t iss;

	h_setup(NULL);
	iss = h_open(ISN, true);
	c = H.conn;
	tcp_set_keepalive(c, 1000, 100, 2);
	h_clear();
	h_advance_ms(1000);
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT(s.seq == iss && s.len == 0);	/* probe: snd_una - 1 */
	peer_ack(ISN + 1, iss + 1, 512);	/* answered: idle again */
	CU_ASSERT_EQUAL(c->ka_probes, 0);
	h_clear();
	h_advance_ms(1000);
	CU_ASSERT_EQUAL(H.nout, 1);
	h_advance_ms(100);
	CU_ASSERT_EQUAL(H.nout, 2);
	h_advance_ms(100);			/* two unanswered: abort */
	CU_ASSERT_EQUAL(H.closed, 1);
	CU_ASSERT_EQUAL(H.close_reason, -ETIMEDOUT);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_keepalive_probes, 3);
	h_teardown();
}

static void test_want_read(void)
{
	uint32_t iss;
	char b[8];

	h_setup(NULL);
	iss = h_open(ISN, true);
	tcp_want(H.conn, false, false);
	peer_data(ISN + 1, iss + 1, "abc", 3, 0);
	CU_ASSERT_EQUAL(H.readable, 0);		/* not wanted */
	tcp_want(H.conn, true, false);
	net_flush(H.st);
	CU_ASSERT_EQUAL(H.readable, 1);		/* data was waiting */
	CU_ASSERT_EQUAL(tcp_recv(H.conn, b, sizeof(b)), 3);
	CU_ASSERT_EQUAL(tcp_recv(H.conn, b, sizeof(b)), -EAGAIN);
	h_teardown();
}

static void test_timewait_reuse(void)
{
	struct h_opts o = { .mss = 1460, .ws = 7, .ts = true, .tsval = 5000, .tsecr = 0 };
	uint32_t iss;

	h_setup(NULL);
	iss = h_open(ISN, true);
	H.auto_read = true;
	tcp_shutdown_wr(H.conn);
	peer_ack(ISN + 1, iss + 2, 512);
	peer_data(ISN + 1, iss + 2, NULL, 0, TH_FIN);
	CU_ASSERT_EQUAL(H.st->nconns, 1);
	/* A new SYN above the old sequence space takes the tuple over. */
	h_clear();
	h_send(PEER_PORT, APP_PORT, ISN + 100000, 0, TH_SYN, 65535, &o, NULL, 0);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_timewait_reuse, 1);
	CU_ASSERT_EQUAL(H.nout, 1);
	CU_ASSERT_EQUAL(tcp_conn_lookup(H.st, PEER_IP, PEER_PORT, APP_PORT)->state,
			TCP_SYN_RCVD);
	h_teardown();
}

/* A tagged frame (net_input_tagged), as the DPDK backend hands a
 * segment to another lcore's stack: returns whether a connection of its
 * 4-tuple holds the tag afterwards. */
static bool send_tagged(uint64_t tag, uint16_t sport, uint32_t seq, uint32_t ack,
			uint8_t flags, const struct h_opts *o, const void *d, size_t n)
{
	static uint8_t f[H_FLEN];

	return net_input_tagged(H.st, f, h_tcp_frame(f, sport, APP_PORT, seq, ack, flags, 512, o,
						     d, n), H.now, 0, tag);
}

/* The connection keeps the latest tag; released() reports it once, when
 * the connection leaves (here after TIME_WAIT), with its 4-tuple. Frames
 * that leave no connection say so; untagged connections are never
 * reported. */
static void test_tagged_flow(void)
{
	struct h_opts o = { .mss = 1460, .ws = 7, .ts = true, .tsval = 1000, .tsecr = 0 };
	struct h_seg s;
	uint32_t iss;

	h_setup(NULL);
	CU_ASSERT_EQUAL(tcp_listen(H.st, APP_PORT, 0), 0);
	CU_ASSERT_TRUE(send_tagged(0x100000001ull, PEER_PORT, ISN, 0, TH_SYN, &o, NULL, 0));
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT_EQUAL(s.flags, TH_SYN | TH_ACK);
	iss = s.seq;
	o.mss = o.ws = -1;
	o.tsecr = s.opt.tsval;
	CU_ASSERT_TRUE(send_tagged(0x100000002ull, PEER_PORT, ISN + 1, iss + 1, TH_ACK, &o, NULL, 0));
	CU_ASSERT_EQUAL(H.accepted, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(H.conn);
	CU_ASSERT_EQUAL(H.conn->tag, 0x100000002ull);
	H.auto_read = true;
	CU_ASSERT_TRUE(send_tagged(0x100000003ull, PEER_PORT, ISN + 1, iss + 1, TH_ACK | TH_PSH,
				   &o, "abc", 3));
	CU_ASSERT_EQUAL(H.rxlen, 3);
	/* We close first: TIME_WAIT holds the 4-tuple, and the tag. */
	tcp_shutdown_wr(H.conn);
	CU_ASSERT_TRUE(send_tagged(0x100000004ull, PEER_PORT, ISN + 4, iss + 2, TH_ACK, &o, NULL, 0));
	CU_ASSERT_TRUE(send_tagged(0x100000005ull, PEER_PORT, ISN + 4, iss + 2, TH_ACK | TH_FIN, &o,
				   NULL, 0));
	CU_ASSERT_EQUAL(H.closed, 1);
	CU_ASSERT_EQUAL(H.released, 0);
	h_advance_ms(1999);
	CU_ASSERT_EQUAL(H.released, 0);
	h_advance_ms(2);
	CU_ASSERT_EQUAL(H.st->nconns, 0);
	CU_ASSERT_EQUAL(H.released, 1);
	CU_ASSERT_EQUAL(H.released_tag, 0x100000005ull);
	CU_ASSERT(H.released_rip == PEER_IP && H.released_rport == PEER_PORT &&
		  H.released_lport == APP_PORT);
	/* A stray segment now: answered (RST), nothing holds its tag. */
	h_clear();
	CU_ASSERT_FALSE(send_tagged(0x100000006ull, PEER_PORT, ISN + 5, iss + 3, TH_ACK, &o, NULL, 0));
	CU_ASSERT(h_last(&s) && s.flags == TH_RST);
	/* No listener: RST, not held. A bad checksum: dropped, not held. */
	CU_ASSERT_FALSE(net_input_tagged(H.st, (const uint8_t *)"\0", 1, H.now, 0, 7));
	h_clear();
	{
		static uint8_t f[H_FLEN];
		size_t n = h_tcp_frame(f, PEER_PORT + 1, APP_PORT + 1, ISN, 0, TH_SYN, 512, NULL,
				       NULL, 0);

		CU_ASSERT_FALSE(net_input_tagged(H.st, f, n, H.now, 0, 8));
		CU_ASSERT(h_last(&s) && (s.flags & TH_RST));
		n = h_tcp_frame(f, PEER_PORT + 1, APP_PORT, ISN, 0, TH_SYN, 512, NULL, NULL, 0);
		f[n - 1] ^= 1;
		CU_ASSERT_FALSE(net_input_tagged(H.st, f, n, H.now, 0, 9));
		CU_ASSERT_EQUAL(H.st->nconns, 0);
	}
	/* An untagged connection that ends is not reported; a tagged one
	 * that the application aborts is, at once. */
	h_clear();
	h_send(PEER_PORT + 3, APP_PORT, ISN, 0, TH_SYN, 512, NULL, NULL, 0);
	CU_ASSERT_FATAL(h_last(&s));
	h_send(PEER_PORT + 3, APP_PORT, ISN + 1, s.seq + 1, TH_ACK, 512, NULL, NULL, 0);
	CU_ASSERT_EQUAL_FATAL(H.accepted, 2);
	CU_ASSERT_EQUAL(H.conn->tag, 0);
	tcp_abort(H.conn);
	H.conn = NULL;
	net_flush(H.st);
	CU_ASSERT_EQUAL(H.released, 1);
	CU_ASSERT_TRUE(send_tagged(0x200000001ull, PEER_PORT + 2, ISN, 0, TH_SYN, NULL, NULL, 0));
	CU_ASSERT_TRUE(send_tagged(0x200000002ull, PEER_PORT + 2, ISN, 0, TH_SYN, NULL, NULL, 0));
	/* The peer resets it: released with the tag it held (the repeated
	 * SYN's), and the RST itself leaves nothing. */
	CU_ASSERT_FALSE(send_tagged(0x200000003ull, PEER_PORT + 2, ISN + 1, 0, TH_RST, NULL, NULL,
				    0));
	CU_ASSERT_EQUAL(H.released, 2);
	CU_ASSERT_EQUAL(H.released_tag, 0x200000002ull);
	h_teardown();
}

/* A tagged SYN that takes a TIME_WAIT 4-tuple over: the old connection
 * is released with its tag, the new one holds the new tag. */
static void test_tagged_timewait_reuse(void)
{
	struct h_opts o = { .mss = 1460, .ws = 7, .ts = true, .tsval = 5000, .tsecr = 0 };
	uint32_t iss;

	h_setup(NULL);
	iss = h_open(ISN, true);
	H.auto_read = true;
	H.conn->tag = 0x300000001ull;	/* as if it had come in tagged */
	tcp_shutdown_wr(H.conn);
	peer_ack(ISN + 1, iss + 2, 512);
	peer_data(ISN + 1, iss + 2, NULL, 0, TH_FIN);
	CU_ASSERT_EQUAL(H.released, 0);
	CU_ASSERT_TRUE(send_tagged(0x300000002ull, PEER_PORT, ISN + 100000, 0, TH_SYN, &o, NULL, 0));
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_timewait_reuse, 1);
	CU_ASSERT_EQUAL(H.released, 1);
	CU_ASSERT_EQUAL(H.released_tag, 0x300000001ull);
	CU_ASSERT_EQUAL(tcp_conn_lookup(H.st, PEER_IP, PEER_PORT, APP_PORT)->tag, 0x300000002ull);
	CU_ASSERT_TRUE(tcp_conn_exists(H.st, PEER_IP, PEER_PORT, APP_PORT));
	CU_ASSERT_FALSE(tcp_conn_exists(H.st, PEER_IP, PEER_PORT + 1, APP_PORT));
	h_teardown();
}

/* cookie_ack: an untagged ACK completing a cookie is offered to the
 * application first; passed on, it leaves nothing and sends nothing; the
 * same frame tagged (on the stack it was passed to) is established
 * without asking, and a SYN answered with a cookie holds no tag. */
static void test_cookie_ack_hook(void)
{
	struct net_config cfg;
	struct h_opts o = { .mss = 1460, .ws = -1, .ts = false, .tsval = 0, .tsecr = 0 };
	struct h_seg sa;

	net_config_default(&cfg);
	cfg.flags = NET_CFG_SYNCOOKIE_ALWAYS;
	h_setup(&cfg);
	CU_ASSERT_EQUAL(tcp_listen(H.st, APP_PORT, 0), 0);
	CU_ASSERT_FALSE(send_tagged(0x100000001ull, PEER_PORT, ISN, 0, TH_SYN, &o, NULL, 0));
	CU_ASSERT_FATAL(h_last(&sa));
	CU_ASSERT_EQUAL(sa.flags, TH_SYN | TH_ACK);
	CU_ASSERT_EQUAL(H.st->nconns, 0);
	H.cookie_pass = true;
	h_clear();
	h_send(PEER_PORT, APP_PORT, ISN + 1, sa.seq + 1, TH_ACK, 512, NULL, NULL, 0);
	CU_ASSERT_EQUAL(H.cookie_asks, 1);
	CU_ASSERT_EQUAL(H.nout, 0);
	CU_ASSERT_EQUAL(H.st->nconns, 0);
	CU_ASSERT_EQUAL(H.accepted, 0);
	CU_ASSERT_TRUE(send_tagged(0x100000002ull, PEER_PORT, ISN + 1, sa.seq + 1, TH_ACK, NULL,
				   NULL, 0));
	CU_ASSERT_EQUAL(H.cookie_asks, 1);
	CU_ASSERT_EQUAL(H.accepted, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(H.conn);
	CU_ASSERT_EQUAL(H.conn->tag, 0x100000002ull);
	/* Kept here when the application says so. */
	H.cookie_pass = false;
	h_send(PEER_PORT + 1, APP_PORT, ISN, 0, TH_SYN, 65535, &o, NULL, 0);
	CU_ASSERT_FATAL(h_last(&sa));
	h_send(PEER_PORT + 1, APP_PORT, ISN + 1, sa.seq + 1, TH_ACK, 512, NULL, NULL, 0);
	CU_ASSERT_EQUAL(H.cookie_asks, 2);
	CU_ASSERT_EQUAL(H.accepted, 2);
	CU_ASSERT_EQUAL(H.conn->tag, 0);
	h_teardown();
}

/* The peer acknowledges `ack` and SACKs the n ranges [l[i], r[i]). */
static void peer_sack(uint32_t ack, unsigned n, const uint32_t *l, const uint32_t *r)
{
	struct h_opts o = ts(2000);

	o.nsack = n;
	for (unsigned i = 0; i < n; i++) {
		o.sl[i] = l[i];
		o.sr[i] = r[i];
	}
	h_send(PEER_PORT, APP_PORT, ISN + 1, ack, TH_ACK, 512, &o, NULL, 0);
}

/* An established connection with SACK (and timestamps); *b is the first
 * sequence number of our data. */
static struct tcp_conn *sack_conn(uint32_t *b)
{
	fill_pat();
	h_setup(NULL);
	H.peer_sack = true;
	*b = h_open(ISN, true) + 1;
	return H.conn;
}

/* Offered by the peer: accepted; not offered, or turned off: not used. */
static void test_sack_negotiation(void)
{
	struct net_config cfg;
	struct h_seg s;
	int err;

	for (int mode = 0; mode < 3; mode++) {
		net_config_default(&cfg);
		if (mode == 2)
			cfg.flags |= NET_CFG_NO_SACK;
		h_setup(&cfg);
		H.peer_sack = mode != 1;
		CU_ASSERT_EQUAL(tcp_listen(H.st, APP_PORT, 0), 0);
		{
			struct h_opts o = { .mss = 1460, .ws = 7, .ts = true, .tsval = 1,
					    .sack_ok = H.peer_sack };

			h_send(PEER_PORT, APP_PORT, ISN, 0, TH_SYN, 65535, &o, NULL, 0);
		}
		CU_ASSERT_FATAL(h_last(&s));
		CU_ASSERT_EQUAL(s.flags, TH_SYN | TH_ACK);
		CU_ASSERT_EQUAL(s.opt.sack_ok, mode == 0);
		CU_ASSERT(s.opt.has_ts && s.opt.has_mss && s.opt.has_ws);
		/* Our own SYN offers it unless turned off. */
		h_clear();
		CU_ASSERT_PTR_NOT_NULL(tcp_connect(H.st, PEER_IP, 443, NULL, &err));
		CU_ASSERT(h_last(&s) && s.flags == TH_SYN);
		CU_ASSERT_EQUAL(s.opt.sack_ok, mode != 2);
		h_teardown();
	}
}

/* As receiver: each out-of-order segment is acknowledged at once with the
 * ranges held, the range of the latest segment first (RFC 2018 4). */
static void test_sack_receiver_blocks(void)
{
	struct h_seg s;
	uint32_t iss, d = ISN + 1;

	fill_pat();
	h_setup(NULL);
	H.peer_sack = true;
	iss = h_open(ISN, true);
	CU_ASSERT_FATAL(H.conn->sack_ok);
	H.auto_read = true;
	h_clear();
	peer_data(d + 1000, iss + 1, pat + 1000, 1000, 0);
	CU_ASSERT(h_last(&s) && s.ack == d && s.len == 0);
	CU_ASSERT_EQUAL_FATAL(s.opt.nsack, 1);
	CU_ASSERT(s.opt.sack_l[0] == d + 1000 && s.opt.sack_r[0] == d + 2000);
	peer_data(d + 3000, iss + 1, pat + 3000, 1000, 0);
	CU_ASSERT(h_last(&s) && s.ack == d);
	CU_ASSERT_EQUAL_FATAL(s.opt.nsack, 2);
	CU_ASSERT(s.opt.sack_l[0] == d + 3000 && s.opt.sack_r[0] == d + 4000);
	CU_ASSERT(s.opt.sack_l[1] == d + 1000 && s.opt.sack_r[1] == d + 2000);
	/* Touching the first range: merged, and that range goes first. */
	peer_data(d + 2000, iss + 1, pat + 2000, 500, 0);
	CU_ASSERT(h_last(&s) && s.opt.nsack == 2);
	CU_ASSERT(s.opt.sack_l[0] == d + 1000 && s.opt.sack_r[0] == d + 2500);
	/* The first hole fills: ACK up to the second hole, one block left. */
	peer_data(d, iss + 1, pat, 1000, 0);
	CU_ASSERT(h_last(&s) && s.ack == d + 2500 && s.opt.nsack == 1);
	CU_ASSERT(s.opt.sack_l[0] == d + 3000 && s.opt.sack_r[0] == d + 4000);
	/* All in order: no more SACK option, and the data arrived intact. */
	peer_data(d + 2500, iss + 1, pat + 2500, 500, 0);
	CU_ASSERT(h_last(&s) && s.ack == d + 4000 && s.opt.nsack == 0);
	CU_ASSERT_EQUAL(H.rxlen, 4000);
	CU_ASSERT_EQUAL(memcmp(H.rx, pat, 4000), 0);
	h_teardown();
}

/* As sender: two segments of one window lost. NewReno resends the
 * second only after a partial ACK, a round trip later; with the peer's
 * SACKs both go within the first round trip, and nothing twice. */
static void test_sack_recovery(void)
{
	struct h_seg s;
	struct tcp_conn *c;
	uint32_t b, l[2], r[2];

	c = sack_conn(&b);
	h_clear();
	CU_ASSERT_EQUAL(tcp_send(c, pat, 10 * PAY), 10 * PAY);
	CU_ASSERT_EQUAL(H.nout, 10);
	h_clear();
	/* Segments 2 and 5 (from 1) lost. */
	peer_ack(ISN + 1, b + PAY, 512);
	l[0] = b + 2 * PAY; r[0] = b + 3 * PAY;
	peer_sack(b + PAY, 1, l, r);				/* 3 arrived */
	r[0] = b + 4 * PAY;
	peer_sack(b + PAY, 1, l, r);				/* 4 */
	CU_ASSERT_EQUAL(H.nout, 0);
	l[1] = l[0]; r[1] = r[0];
	l[0] = b + 5 * PAY; r[0] = b + 6 * PAY;
	peer_sack(b + PAY, 2, l, r);				/* 6: 3rd dup */
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.seq == b + PAY && s.len == PAY);
	CU_ASSERT(c->in_recovery);
	CU_ASSERT_EQUAL(c->sacked.n, 2);
	/* The next duplicate resends the other hole at once. */
	h_clear();
	r[0] = b + 7 * PAY;
	peer_sack(b + PAY, 2, l, r);				/* 7 */
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.seq == b + 4 * PAY && s.len == PAY);
	/* No hole left below the highest SACK: nothing else resent. */
	h_clear();
	r[0] = b + 10 * PAY;
	peer_sack(b + PAY, 2, l, r);				/* 8-10 */
	CU_ASSERT_EQUAL(H.nout, 0);
	/* Partial ACK (2 arrived): 5 was resent already, not again. */
	l[0] = b + 5 * PAY;
	peer_sack(b + 4 * PAY, 1, l, r);
	for (size_t i = 0; i < H.nout; i++)
		CU_ASSERT(!(h_seg(i, &s) && s.len && s.seq == b + 4 * PAY));
	CU_ASSERT(c->in_recovery);
	CU_ASSERT_EQUAL(c->sacked.n, 1);
	/* Full ACK: recovery over, scoreboard empty. */
	peer_ack(ISN + 1, b + 10 * PAY, 512);
	CU_ASSERT(!c->in_recovery);
	CU_ASSERT_EQUAL(c->sacked.n, 0);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_retransmits, 2);
	h_teardown();
}

/* After a timeout, going back from snd_una skips what the peer SACKed. */
static void test_sack_rto_skips_sacked(void)
{
	struct h_seg s;
	struct tcp_conn *c;
	uint32_t b, l[2], r[2], rto;

	c = sack_conn(&b);
	h_clear();
	CU_ASSERT_EQUAL(tcp_send(c, pat, 10 * PAY), 10 * PAY);
	/* 1 and 5 lost; one ACK SACKs 2-4 and 6-10 (its duplicates lost). */
	l[0] = b + 5 * PAY; r[0] = b + 10 * PAY;
	l[1] = b + PAY; r[1] = b + 4 * PAY;
	peer_sack(b, 2, l, r);
	CU_ASSERT_EQUAL(c->sacked.n, 2);
	CU_ASSERT(c->in_recovery);	/* 8 segments SACKed: 1 is lost */
	h_clear();
	/* The fast retransmit is lost too: the RTO (from the loss probe's
	 * timer, which found recovery under way and left it to the RTO). */
	rto = c->rto_us / 1000;
	for (uint32_t i = 0; i < 3 * rto && !net_counters(H.st)->tcp_rto_timeouts; i++)
		h_advance_ms(1);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_rto_timeouts, 1);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_loss_probes, 0);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.seq == b && s.len == PAY);
	/* 1 arrives: the peer acks through 4; the go-back resends 5 and
	 * skips 6-10, which it holds. */
	h_clear();
	l[0] = b + 5 * PAY; r[0] = b + 10 * PAY;
	peer_sack(b + 4 * PAY, 1, l, r);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.seq == b + 4 * PAY && s.len == PAY);
	CU_ASSERT_EQUAL(c->snd_nxt, b + 10 * PAY);
	peer_ack(ISN + 1, b + 10 * PAY, 512);
	CU_ASSERT_EQUAL(c->sb.len, 0);
	CU_ASSERT_EQUAL(c->sacked.n, 0);
	h_teardown();
}

/* SACK blocks outside (snd_una, snd_max] are ignored; an ACK that stops
 * inside a SACKed range (the peer reneged) clears the scoreboard. */
static void test_sack_bad_blocks(void)
{
	struct tcp_conn *c;
	uint32_t b, l[4], r[4];

	c = sack_conn(&b);
	CU_ASSERT_EQUAL(tcp_send(c, pat, 4 * PAY), 4 * PAY);
	l[0] = b - 100; r[0] = b + 10;			/* below snd_una */
	l[1] = b + PAY; r[1] = b + 9 * PAY;		/* beyond snd_max */
	l[2] = b + 2 * PAY; r[2] = b + PAY;		/* reversed */
	l[3] = b; r[3] = b + PAY;			/* starts at snd_una */
	peer_sack(b, 4, l, r);
	CU_ASSERT_EQUAL(c->sacked.n, 0);
	l[0] = b + 2 * PAY; r[0] = b + 4 * PAY;
	peer_sack(b, 1, l, r);
	CU_ASSERT_EQUAL(c->sacked.n, 1);
	peer_ack(ISN + 1, b + 3 * PAY, 512);		/* into the range */
	CU_ASSERT_EQUAL(c->sacked.n, 0);
	h_teardown();
}

/* More scattered ranges than the scoreboard holds: the lowest are
 * forgotten, the highest (which mark the holes below as lost) kept. */
static void test_sack_scoreboard_full(void)
{
	struct tcp_conn *c;
	uint32_t b, l[3], r[3], k;

	c = sack_conn(&b);
	CU_ASSERT_EQUAL(tcp_send(c, pat, 10 * PAY), 10 * PAY);
	for (k = 1; k <= 21; k += 3) {
		for (unsigned j = 0; j < 3; j++) {
			l[j] = b + 500 * (k + j);
			r[j] = l[j] + 10;
		}
		peer_sack(b, 3, l, r);
	}
	CU_ASSERT_EQUAL(c->sacked.n, NET_SACK_MAX);
	CU_ASSERT_EQUAL(c->sacked.r[NET_SACK_MAX - 1], b + 500 * 21 + 10);
	CU_ASSERT_EQUAL(c->sacked.l[0], b + 500 * (21 - NET_SACK_MAX + 1));
	for (k = 1; k < c->sacked.n; k++)
		CU_ASSERT(seq_lt(c->sacked.r[k - 1], c->sacked.l[k]));
	h_teardown();
}

/* The tail of a flight lost: no duplicate ACK can come. After two round
 * trips (10 ms at least) a loss probe resends the last segment; the SACK
 * it draws starts fast recovery long before the RTO. */
static void test_tail_loss_probe(void)
{
	struct h_seg s;
	struct tcp_conn *c;
	uint32_t b, l[1], r[1];

	c = sack_conn(&b);
	CU_ASSERT_EQUAL(tcp_send(c, pat, 4 * PAY), 4 * PAY);
	peer_ack(ISN + 1, b + 2 * PAY, 512);	/* 3 and 4 lost */
	h_clear();
	h_advance_ms(9);
	CU_ASSERT_EQUAL(H.nout, 0);
	h_advance_ms(2);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_loss_probes, 1);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_rto_timeouts, 0);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.seq == b + 3 * PAY && s.len == PAY);
	/* It arrives: the peer SACKs it, 3 is resent at once. */
	h_clear();
	l[0] = b + 3 * PAY; r[0] = b + 4 * PAY;
	peer_sack(b + 2 * PAY, 1, l, r);
	CU_ASSERT(c->in_recovery);
	CU_ASSERT_FATAL(H.nout >= 1);
	CU_ASSERT(h_seg(0, &s) && s.seq == b + 2 * PAY && s.len == PAY);
	/* One probe per flight: none while that waits, and none once all is
	 * acknowledged. */
	h_clear();
	h_advance_ms(50);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_loss_probes, 1);
	peer_ack(ISN + 1, b + 4 * PAY, 512);
	CU_ASSERT(!c->in_recovery);
	h_clear();
	h_advance_ms(2000);
	CU_ASSERT_EQUAL(H.nout, 0);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_rto_timeouts, 0);
	h_teardown();
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "handshake passive", test_handshake_passive },
		{ "accepted() refuses", test_refused_by_app },
		{ "no listener: RST", test_no_listener_rst },
		{ "data both ways, delayed ACK", test_data_both_ways },
		{ "ACK per receive burst (NET_CFG_ACK_PER_BURST)", test_ack_per_burst },
		{ "send buffer full, writable", test_send_buffer_full },
		{ "RTO backoff and abort", test_retransmit_backoff_and_abort },
		{ "RTO then ACK", test_retransmit_then_ack },
		{ "fast retransmit, NewReno", test_fast_retransmit_newreno },
		{ "SACK negotiation", test_sack_negotiation },
		{ "SACK blocks as receiver", test_sack_receiver_blocks },
		{ "SACK recovery: every hole in one round trip", test_sack_recovery },
		{ "SACK: timeout skips SACKed data", test_sack_rto_skips_sacked },
		{ "SACK: bad blocks, reneging", test_sack_bad_blocks },
		{ "SACK scoreboard full", test_sack_scoreboard_full },
		{ "tail loss probe", test_tail_loss_probe },
		{ "out of order then fill", test_out_of_order },
		{ "out-of-order caps", test_ooo_caps },
		{ "peer zero window, probes", test_peer_zero_window_probe },
		{ "our window full", test_our_window_full },
		{ "FIN from peer", test_fin_from_peer },
		{ "FIN from us, TIME_WAIT", test_fin_from_us_time_wait },
		{ "simultaneous close", test_simultaneous_close },
		{ "close with unread data: RST", test_close_unread_sends_rst },
		{ "orphan gets data: RST", test_close_orphan_then_data_rst },
		{ "RST in and out of window", test_rst },
		{ "invalid ACK, PAWS", test_invalid_ack },
		{ "SYN cookie round trip", test_syn_cookie_round_trip },
		{ "SYN cookie without TS, expiry", test_syn_cookie_always_no_ts },
		{ "active open", test_active_open },
		{ "active refused, SYN timeout", test_active_refused_and_timeout },
		{ "simultaneous open", test_simultaneous_open },
		{ "keepalive", test_keepalive },
		{ "want read", test_want_read },
		{ "TIME_WAIT reuse by SYN", test_timewait_reuse },
		{ "tagged flow: tag kept, released once", test_tagged_flow },
		{ "tagged SYN reuses TIME_WAIT", test_tagged_timewait_reuse },
		{ "cookie ACK offered to the application", test_cookie_ack_hook },
	};
	return cu_run("net_tcp", tests, ARRAY_LEN(tests));
}
