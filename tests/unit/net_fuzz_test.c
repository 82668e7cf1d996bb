/* Robustness: 200k random and mutated frames through net_input, with
 * timers running and an application opening, reading, writing, closing
 * and aborting connections at random (SACK negotiated on some, with blocks
 * near their windows and beyond); a quarter of the frames come tagged, as
 * if handed over from another stack (net_input_tagged), and cookie ACKs
 * are kept or passed on at random. Nothing may crash or trip the
 * sanitizers; afterwards the stack's invariants hold and a clean
 * handshake still works. Mutated frames get their checksums fixed half
 * of the time, so the mutations reach the deeper parsers.
 *
 * FY_NET_FUZZ_SEED and FY_NET_FUZZ_FRAMES override the seed and count. */
#include <stdio.h>

#include "cu_run.h"
#include "net_harness.h"

#define NCONN 32

static uint64_t rng_state;
static struct tcp_conn *conns[NCONN];
static uint64_t upcalls;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static uint32_t rndn(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static void track(struct tcp_conn *c)
{
	for (int i = 0; i < NCONN; i++) {
		if (!conns[i]) {
			conns[i] = c;
			return;
		}
	}
	tcp_abort(c);		/* too many: let it go */
}

static void untrack(struct tcp_conn *c)
{
	for (int i = 0; i < NCONN; i++)
		if (conns[i] == c)
			conns[i] = NULL;
}

/* SYN/ACKs the stack sent, so that handshakes can be completed. */
static struct { uint16_t sport, dport; uint32_t seq, ack; } synacks[16];
static unsigned nsynacks;

static int f_tx(void *ctx, const uint8_t *f, size_t len)
{
	const uint8_t *th = f + ETH_HLEN + IP_HLEN;

	(void)ctx;
	if (len >= ETH_HLEN + IP_HLEN + TCP_HLEN && fy_get16(f + 12) == ETH_TYPE_IPV4 &&
	    f[ETH_HLEN + 9] == IP_PROTO_TCP && th[13] == (TH_SYN | TH_ACK)) {
		unsigned k = nsynacks++ % 16;

		synacks[k].sport = fy_get16(th + 2);
		synacks[k].dport = fy_get16(th);
		synacks[k].seq = fy_get32(th + 4);
		synacks[k].ack = fy_get32(th + 8);
	}
	/* Sometimes the "NIC" refuses: the stack must cope. */
	return len && rndn(50) == 0 ? -ENOBUFS : 0;
}

static int f_accepted(void *ctx, struct tcp_conn *c, uint16_t lport)
{
	(void)ctx;
	(void)lport;
	upcalls++;
	if (rndn(10) == 0)
		return -1;
	track(c);
	return 0;
}

static void f_connected(void *ctx, struct tcp_conn *c, int err)
{
	(void)ctx;
	upcalls++;
	if (err)
		untrack(c);
}

static void f_readable(void *ctx, struct tcp_conn *c)
{
	uint8_t b[3000];

	(void)ctx;
	upcalls++;
	if (rndn(4))
		tcp_recv(c, b, rndn(sizeof(b)) + 1);
}

static void f_writable(void *ctx, struct tcp_conn *c)
{
	(void)ctx;
	upcalls++;
	tcp_send(c, H.rx, rndn(5000));
}

static void f_closed(void *ctx, struct tcp_conn *c, int reason)
{
	(void)ctx;
	(void)reason;
	upcalls++;
	untrack(c);
}

static const struct net_ops f_ops = {
	.tx = f_tx, .accepted = f_accepted, .connected = f_connected,
	.readable = f_readable, .writable = f_writable, .closed = f_closed,
	.released = h_released, .cookie_ack = h_cookie_ack,
};

/* Recomputes the IPv4 header and TCP/ICMP checksums of a frame wherever
 * its (possibly mutated) lengths make that possible. */
static void fix_checksums(uint8_t *f, size_t len)
{
	uint8_t *ip = f + ETH_HLEN;
	size_t ihl, tot;

	if (len < ETH_HLEN + IP_HLEN || fy_get16(f + 12) != ETH_TYPE_IPV4)
		return;
	ihl = (size_t)(ip[0] & 15) * 4;
	tot = fy_get16(ip + 2);
	if (ihl < IP_HLEN || ETH_HLEN + ihl > len)
		return;
	fy_put16(ip + 10, 0);
	fy_put16(ip + 10, csum_fold(csum_add(0, ip, ihl)));
	if (tot < ihl || ETH_HLEN + tot > len)
		return;
	if (ip[9] == IP_PROTO_TCP && tot - ihl >= TCP_HLEN) {
		uint8_t *th = ip + ihl;
		size_t tl = tot - ihl;

		fy_put16(th + 16, 0);
		fy_put16(th + 16, csum_fold(csum_add(csum_pseudo(fy_get32(ip + 12), fy_get32(ip + 16),
							      IP_PROTO_TCP, (uint16_t)tl),
						  th, tl)));
	} else if (ip[9] == IP_PROTO_ICMP && tot - ihl >= ICMP_HLEN) {
		uint8_t *ic = ip + ihl;

		fy_put16(ic + 2, 0);
		fy_put16(ic + 2, csum_fold(csum_add(0, ic, tot - ihl)));
	}
}

static size_t arp_frame(uint8_t *f, uint16_t op, uint32_t spa, uint32_t tpa)
{
	size_t n = h_eth(f, (const uint8_t *)"\xff\xff\xff\xff\xff\xff", peer_mac,
			 ETH_TYPE_ARP);

	fy_put16(f + n, 1); fy_put16(f + n + 2, ETH_TYPE_IPV4); f[n + 4] = 6; f[n + 5] = 4;
	fy_put16(f + n + 6, op);
	memcpy(f + n + 8, peer_mac, 6); fy_put32(f + n + 14, spa);
	memset(f + n + 18, 0, 6); fy_put32(f + n + 24, tpa);
	return n + ARP_LEN;
}

static size_t icmp_frame(uint8_t *f, size_t plen)
{
	uint8_t *ic = f + ETH_HLEN + IP_HLEN;

	h_eth(f, stack_mac, peer_mac, ETH_TYPE_IPV4);
	h_ip(f + ETH_HLEN, PEER_IP, STACK_IP, IP_PROTO_ICMP, ICMP_HLEN + plen);
	memset(ic, 0, ICMP_HLEN + plen);
	ic[0] = 8;
	fy_put16(ic + 2, csum_fold(csum_add(0, ic, ICMP_HLEN + plen)));
	return ETH_HLEN + IP_HLEN + ICMP_HLEN + plen;
}

/* A plausible frame: mostly TCP near live sequence numbers. */
static size_t seed_frame(uint8_t *f)
{
	static const uint8_t flag_sets[] = {
		TH_SYN, TH_ACK, TH_ACK | TH_PSH, TH_ACK | TH_FIN, TH_RST, TH_RST | TH_ACK,
		TH_SYN | TH_ACK, TH_FIN, TH_ACK | TH_URG, 0,
	};
	struct h_opts o = { .mss = -1, .ws = -1, .ts = false, .tsval = 0, .tsecr = 0 };
	struct tcp_conn *c = conns[rndn(NCONN)];
	uint16_t sport = (uint16_t)(PEER_PORT + rndn(8)), dport = rndn(2) ? APP_PORT : 7;
	uint32_t seq = (uint32_t)rnd(), ack = (uint32_t)rnd();
	size_t dlen = rndn(4) ? rndn(1500) : 0;

	switch (rndn(10)) {
	case 2:
		if (nsynacks) {
			unsigned k = rndn(nsynacks < 16 ? nsynacks : 16);

			o.ts = rndn(2);
			return h_tcp_frame(f, synacks[k].sport, synacks[k].dport, synacks[k].ack,
					   synacks[k].seq + 1, TH_ACK | (rndn(4) ? 0 : TH_PSH),
					   (uint16_t)rnd(), &o, H.rx, rndn(3) ? 0 : rndn(1400));
		}
		break;
	case 0:
		return arp_frame(f, (uint16_t)(1 + rndn(2)), PEER_IP + rndn(4) - 1,
				 rndn(2) ? STACK_IP : (uint32_t)rnd());
	case 1:
		return icmp_frame(f, rndn(1600));
	default:
		break;
	}
	if (c && c->in_use && rndn(4)) {
		/* Aim at a live connection's window. */
		sport = c->rport;
		dport = c->lport;
		seq = c->rcv_nxt + rndn(70000) - 2000;
		ack = c->snd_una + rndn(20000) - 100;
	}
	if (rndn(3) == 0) {
		o.mss = (int)rndn(70000) - 10;
		o.ws = (int)rndn(20) - 2;
		o.ts = rndn(2);
		o.tsval = (uint32_t)rnd();
		o.tsecr = (uint32_t)rnd();
		o.sack_ok = rndn(2);
	} else if (rndn(2)) {
		o.ts = true;
		o.tsval = c ? c->ts_recent + rndn(100) : 0;
		o.tsecr = c ? tcp_now_ts(c) : 0;
	}
	if (c && c->in_use && rndn(3) == 0) {
		/* SACK blocks around what it has in flight, some nonsense. */
		uint32_t span = c->snd_max - c->snd_una + 4000;

		o.mss = o.ws = -1;
		o.sack_ok = false;
		o.nsack = 1 + rndn(o.ts ? 3 : 4);
		for (unsigned b = 0; b < o.nsack; b++) {
			o.sl[b] = rndn(8) ? c->snd_una + rndn(span) - 2000 : (uint32_t)rnd();
			o.sr[b] = rndn(8) ? o.sl[b] + rndn(20000) : (uint32_t)rnd();
		}
	}
	if (o.mss > 65535)
		o.mss = 65535;
	return h_tcp_frame(f, sport, dport, seq, ack, flag_sets[rndn(sizeof(flag_sets))],
			   (uint16_t)rnd(), &o, H.rx, dlen);
}

static void app_action(void)
{
	struct tcp_conn *c = conns[rndn(NCONN)];
	uint8_t b[4096];
	int err;

	switch (rndn(8)) {
	case 0:
		c = tcp_connect(H.st, PEER_IP + rndn(3), (uint16_t)(1 + rndn(100)), NULL, &err);
		if (c)
			track(c);
		return;
	case 1:
		if (c)
			tcp_send(c, H.rx, rndn(100000));
		return;
	case 2:
		if (c)
			tcp_recv(c, b, rndn(sizeof(b)) + 1);
		return;
	case 3:
		if (c)
			tcp_shutdown_wr(c);
		return;
	case 4:
		if (c && rndn(4) == 0) {
			untrack(c);
			tcp_close(c);
		}
		return;
	case 5:
		if (c && rndn(8) == 0) {
			untrack(c);
			tcp_abort(c);
		}
		return;
	case 6:
		if (c)
			tcp_want(c, rndn(2), rndn(2));
		return;
	default:
		if (c)
			tcp_set_keepalive(c, rndn(3) * 500, 100, 2);
		return;
	}
}

static void check_invariants(void)
{
	const struct net_config *cfg = net_config(H.st);
	uint32_t used = 0;

	for (uint32_t i = 0; i < cfg->max_conns; i++) {
		struct tcp_conn *c = &H.st->conns[i];

		if (!c->in_use)
			continue;
		used++;
		/* A tag lives only while the 4-tuple is in the table. */
		CU_ASSERT(!c->tag || c->in_hash);
		CU_ASSERT(c->rb.len <= c->rb.cap);
		CU_ASSERT(c->sb.len <= c->sb.cap);
		CU_ASSERT(c->ooo.n <= cfg->ooo_max_segs);
		CU_ASSERT(c->ooo.bytes <= cfg->ooo_max_bytes);
		if (c->state != TCP_CLOSED && c->state != TCP_TIME_WAIT) {
			CU_ASSERT(seq_le(c->snd_una, c->snd_nxt));
			CU_ASSERT(seq_le(c->snd_nxt, c->snd_max));
			CU_ASSERT(c->rcv_adv - c->rcv_nxt <= (c->rb.buf ? c->rb.cap : cfg->rcvbuf));
			/* The SACK scoreboard: sorted, disjoint, inside the flight. */
			CU_ASSERT(c->sacked.n <= NET_SACK_MAX);
			for (uint32_t k = 0; k < c->sacked.n; k++) {
				CU_ASSERT(seq_lt(c->sacked.l[k], c->sacked.r[k]));
				CU_ASSERT(seq_lt(c->snd_una, c->sacked.l[k]));
				CU_ASSERT(seq_le(c->sacked.r[k], c->snd_max));
				if (k)
					CU_ASSERT(seq_lt(c->sacked.r[k - 1], c->sacked.l[k]));
			}
		}
	}
	CU_ASSERT_EQUAL(used, H.st->nconns);
}

static void test_random_frames(void)
{
	static uint8_t f[H_FLEN];
	const char *e_seed = getenv("FY_NET_FUZZ_SEED");
	const char *e_n = getenv("FY_NET_FUZZ_FRAMES");
	uint64_t seed = e_seed ? strtoull(e_seed, NULL, 0) : 0x5eedf00dull;
	unsigned long n = e_n ? strtoul(e_n, NULL, 0) : 200000;
	struct net_config cfg;
	uint64_t before;

	printf("\n    seed %#llx, %lu frames\n", (unsigned long long)seed, n);
	rng_state = seed | 1;
	net_config_default(&cfg);
	cfg.max_conns = 64;
	cfg.sndbuf = cfg.rcvbuf = 32768;
	cfg.syn_backlog = 4;
	cfg.ooo_max_segs = 8;
	cfg.arp_entries = 4;
	cfg.arp_queue_total = 8;
	cfg.time_wait_ms = 500;
	cfg.max_retries = 4;
	cfg.syn_retries = 2;
	h_setup(&cfg);
	net_stack_destroy(H.st);
	H.st = net_stack_create(&H.cfg, &f_ops, NULL, H.now);
	CU_ASSERT_PTR_NOT_NULL_FATAL(H.st);
	for (size_t i = 0; i < sizeof(H.rx); i++)
		H.rx[i] = (uint8_t)rnd();
	CU_ASSERT_EQUAL(tcp_listen(H.st, APP_PORT, 0), 0);
	CU_ASSERT_EQUAL(tcp_listen(H.st, 7, 2), 0);
	/* Learn the peer, so most output is not stuck in ARP. */
	h_input(f, arp_frame(f, 1, PEER_IP, STACK_IP));

	for (unsigned long i = 0; i < n; i++) {
		size_t len;

		if (rndn(10) == 0) {
			len = rndn(1600);
			for (size_t k = 0; k < len; k++)
				f[k] = (uint8_t)rnd();
			if (rndn(2))
				memcpy(f, stack_mac, 6);
			if (rndn(2))
				fy_put16(f + 12, rndn(2) ? ETH_TYPE_IPV4 : ETH_TYPE_ARP);
		} else {
			len = seed_frame(f);
			for (uint32_t k = rndn(5); k > 0; k--)
				f[rndn((uint32_t)len)] ^= (uint8_t)(1u << rndn(8));
			if (rndn(8) == 0)
				len = rndn((uint32_t)len + 1);
			if (rndn(2))
				fix_checksums(f, len);
		}
		/* A quarter as if handed over from another stack (tagged),
		 * and cookie ACKs kept or passed on at random. */
		H.cookie_pass = rndn(2);
		if (rndn(4) == 0)
			net_input_tagged(H.st, f, len, H.now, 0, 1 + rndn(3));
		else
			net_input(H.st, f, len, H.now);
		if (rndn(16) == 0)
			app_action();
		if (rndn(8) == 0) {
			H.now += rndn(rndn(20) ? 5000 : 400000);
			net_poll_timers(H.st, H.now);
		}
	}
	check_invariants();
	{
		const struct net_counters *k = net_counters(H.st);

		printf("    %llu upcalls, %u conns live; opens %llu+%llu, cookies %llu, "
		       "ooo %llu/%llu, rto %llu, fr %llu, rst rx %llu tx %llu, sack rx %llu "
		       "tx %llu, probes %llu\n",
		       (unsigned long long)upcalls, H.st->nconns,
		       (unsigned long long)k->tcp_passive_opens,
		       (unsigned long long)k->tcp_active_opens,
		       (unsigned long long)k->tcp_syncookie_ok,
		       (unsigned long long)k->tcp_ooo_queued,
		       (unsigned long long)k->tcp_ooo_drop,
		       (unsigned long long)k->tcp_rto_timeouts,
		       (unsigned long long)k->tcp_fast_retransmits,
		       (unsigned long long)k->tcp_rst_rx, (unsigned long long)k->tcp_rst_tx,
		       (unsigned long long)k->tcp_sack_rx, (unsigned long long)k->tcp_sack_tx,
		       (unsigned long long)k->tcp_loss_probes);
	}
	CU_ASSERT(net_counters(H.st)->tcp_passive_opens > 0);
	CU_ASSERT(net_counters(H.st)->tcp_sack_rx > 0);	/* SACK reached, both ways */
	CU_ASSERT(net_counters(H.st)->tcp_sack_tx > 0);

	/* Let everything time out: no connection the app let go may stay. */
	for (int i = 0; i < NCONN; i++) {
		if (conns[i]) {
			tcp_abort(conns[i]);
			conns[i] = NULL;
		}
	}
	for (int i = 0; i < 700; i++) {	/* > max_retries at rto_max */
		H.now += 1000000;
		net_poll_timers(H.st, H.now);
	}
	CU_ASSERT_EQUAL(H.st->nconns, 0);
	/* Every tagged connection was reported once it left, and then only. */
	printf("    %d tagged connections released, %d cookie ACKs offered\n", H.released,
	       H.cookie_asks);
	CU_ASSERT(H.released > 0);
	CU_ASSERT_EQUAL(H.released_bad, 0);

	/* Still a working stack: a clean handshake gets its SYN/ACK. */
	before = net_counters(H.st)->tcp_segs_tx;
	h_send(PEER_PORT + 100, APP_PORT, 1, 0, TH_SYN, 65535, NULL, NULL, 0);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_segs_tx, before + 1);
	h_teardown();
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "random and mutated frames", test_random_frames },
	};

	return cu_run("net_fuzz", tests, ARRAY_LEN(tests));
}
