/* relay/net below TCP: ARP (answer, resolve with a bounded queue, retry
 * and give up, re-confirm after expiry), IPv4 routing, ICMP echo, and a
 * table of malformed frames, each of which must be dropped, counted under
 * its own reason, and answered with nothing. */
#include <stddef.h>

#include "cu_run.h"
#include "net_harness.h"

#define NB_IP 0x0a000009u	/* 10.0.0.9, a neighbour we do not know yet */
static const uint8_t nb_mac[6] = { 2, 0, 0, 0, 0, 9 };
static const uint8_t bc_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static size_t arp(uint8_t *f, uint16_t op, const uint8_t *sha, uint32_t spa,
		  const uint8_t *dst, uint32_t tpa)
{
	size_t n = h_eth(f, dst, sha, ETH_TYPE_ARP);

	fy_put16(f + n, 1); fy_put16(f + n + 2, ETH_TYPE_IPV4); f[n + 4] = 6; f[n + 5] = 4;
	fy_put16(f + n + 6, op);
	memcpy(f + n + 8, sha, 6); fy_put32(f + n + 14, spa);
	memcpy(f + n + 18, op == 2 ? stack_mac : (const uint8_t *)"\0\0\0\0\0\0", 6);
	fy_put32(f + n + 24, tpa);
	return n + ARP_LEN;
}

static void test_arp_request_answered(void)
{
	uint8_t f[64];
	const uint8_t *r;

	h_setup(NULL);
	h_input(f, arp(f, 1, nb_mac, NB_IP, bc_mac, STACK_IP));
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	r = H.out[0].b;
	CU_ASSERT_EQUAL(H.out[0].len, ETH_HLEN + ARP_LEN);
	CU_ASSERT_EQUAL(memcmp(r, nb_mac, 6), 0);
	CU_ASSERT_EQUAL(memcmp(r + 6, stack_mac, 6), 0);
	CU_ASSERT_EQUAL(fy_get16(r + 12), ETH_TYPE_ARP);
	CU_ASSERT_EQUAL(fy_get16(r + 14 + 6), 2);			/* reply */
	CU_ASSERT_EQUAL(memcmp(r + 14 + 8, stack_mac, 6), 0);	/* sha */
	CU_ASSERT_EQUAL(fy_get32(r + 14 + 14), STACK_IP);		/* spa */
	CU_ASSERT_EQUAL(memcmp(r + 14 + 18, nb_mac, 6), 0);	/* tha */
	CU_ASSERT_EQUAL(fy_get32(r + 14 + 24), NB_IP);		/* tpa */
	/* For someone else: not answered, counted. */
	h_clear();
	h_input(f, arp(f, 1, nb_mac, NB_IP, bc_mac, STACK_IP + 1));
	CU_ASSERT_EQUAL(H.nout, 0);
	CU_ASSERT_EQUAL(net_counters(H.st)->arp_not_ours, 1);
	/* Someone claiming our address: never learned. */
	h_input(f, arp(f, 2, nb_mac, STACK_IP, stack_mac, STACK_IP));
	CU_ASSERT_EQUAL(net_counters(H.st)->arp_conflict, 1);
	h_teardown();
}

static void test_arp_resolution_queue(void)
{
	struct net_config cfg;
	uint8_t f[64];
	struct h_seg s;
	int err;

	net_config_default(&cfg);
	cfg.arp_queue_per_entry = 2;
	h_setup(&cfg);
	/* Three connects to an unknown neighbour: one ARP request, two SYNs
	 * held, the oldest dropped. */
	CU_ASSERT_PTR_NOT_NULL(tcp_connect(H.st, NB_IP, 22, NULL, &err));
	CU_ASSERT_PTR_NOT_NULL(tcp_connect(H.st, NB_IP, 23, NULL, &err));
	CU_ASSERT_PTR_NOT_NULL(tcp_connect(H.st, NB_IP, 24, NULL, &err));
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT_EQUAL(memcmp(H.out[0].b, bc_mac, 6), 0);
	CU_ASSERT_EQUAL(fy_get16(H.out[0].b + 12), ETH_TYPE_ARP);
	CU_ASSERT_EQUAL(fy_get16(H.out[0].b + 14 + 6), 1);
	CU_ASSERT_EQUAL(fy_get32(H.out[0].b + 14 + 24), NB_IP);
	CU_ASSERT_EQUAL(net_counters(H.st)->arp_queue_drop, 1);
	/* The reply flushes the queue in order, to the right MAC. */
	h_clear();
	h_input(f, arp(f, 2, nb_mac, NB_IP, stack_mac, STACK_IP));
	CU_ASSERT_EQUAL_FATAL(H.nout, 2);
	CU_ASSERT(h_seg(0, &s) && s.dport == 23 && s.flags == TH_SYN);
	CU_ASSERT(h_seg(1, &s) && s.dport == 24);
	CU_ASSERT_EQUAL(memcmp(H.out[0].b, nb_mac, 6), 0);
	CU_ASSERT_EQUAL(memcmp(H.out[1].b, nb_mac, 6), 0);
	/* Resolved now: the next frame goes straight out. */
	h_clear();
	CU_ASSERT_PTR_NOT_NULL(tcp_connect(H.st, NB_IP, 25, NULL, &err));
	CU_ASSERT_EQUAL(H.nout, 1);
	CU_ASSERT(h_last(&s) && s.dport == 25);
	h_teardown();
}

static void test_arp_unresolved(void)
{
	int err;

	h_setup(NULL);
	CU_ASSERT_PTR_NOT_NULL(tcp_connect(H.st, NB_IP, 22, NULL, &err));
	CU_ASSERT_EQUAL(H.nout, 1);
	h_advance_ms(1000);
	CU_ASSERT_EQUAL(net_counters(H.st)->arp_req_tx, 2);
	h_advance_ms(1000);
	CU_ASSERT_EQUAL(net_counters(H.st)->arp_req_tx, 3);
	/* A second after the third request the entry is given up and the
	 * SYNs held (first try and the retry at 1 s) are dropped. */
	h_advance_ms(999);
	CU_ASSERT_EQUAL(net_counters(H.st)->arp_unresolved_drop, 0);
	h_advance_ms(1);
	CU_ASSERT(net_counters(H.st)->arp_unresolved_drop >= 2);
	/* Nothing but ARP ever left. */
	for (size_t i = 0; i < H.nout; i++)
		CU_ASSERT_EQUAL(fy_get16(H.out[i].b + 12), ETH_TYPE_ARP);
	h_teardown();
}

static void test_arp_expiry_reconfirm(void)
{
	struct net_config cfg;
	struct h_seg sg;
	uint8_t f[64];
	int err;

	net_config_default(&cfg);
	cfg.arp_timeout_ms = 1000;
	h_setup(&cfg);
	h_input(f, arp(f, 2, nb_mac, NB_IP, stack_mac, STACK_IP));	/* unsolicited */
	h_input(f, arp(f, 1, nb_mac, NB_IP, bc_mac, STACK_IP));		/* learned */
	h_clear();
	h_advance_ms(1500);
	/* Aged out: the frame still goes to the old MAC, intact (the
	 * request is built after it, in the same output buffer), then a
	 * request. */
	CU_ASSERT_PTR_NOT_NULL(tcp_connect(H.st, NB_IP, 22, NULL, &err));
	CU_ASSERT_EQUAL_FATAL(H.nout, 2);
	CU_ASSERT_EQUAL(memcmp(H.out[0].b, nb_mac, 6), 0);
	CU_ASSERT_EQUAL(fy_get16(H.out[0].b + 12), ETH_TYPE_IPV4);
	CU_ASSERT_TRUE(h_seg(0, &sg));
	CU_ASSERT_EQUAL(sg.flags, TH_SYN);
	CU_ASSERT_EQUAL(sg.dport, 22);
	CU_ASSERT_EQUAL(fy_get16(H.out[1].b + 12), ETH_TYPE_ARP);
	/* No answer: the entry goes; the next frame waits for ARP. */
	h_advance_ms(3000);
	CU_ASSERT_EQUAL(net_counters(H.st)->arp_expired, 1);
	h_teardown();
}

/* ops.tx_buf: frames are built in the application's buffer and handed
 * over without a copy; one the stack has to keep (waiting for ARP) is
 * copied into its queue first, so the application may reuse the buffer
 * at once (the harness poisons every buffer it was handed). */
static void test_tx_buf_zero_copy(void)
{
	uint8_t f[64];
	struct h_seg s;
	int err;

	h_setup(NULL);
	H.use_txbuf = true;
	H.zc_frames = H.copied_frames = 0;
	CU_ASSERT_PTR_NOT_NULL(tcp_connect(H.st, NB_IP, 22, NULL, &err));
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT_EQUAL(fy_get16(H.out[0].b + 12), ETH_TYPE_ARP);
	CU_ASSERT_EQUAL(H.zc_frames, 1);	/* the request, built in place */
	h_clear();
	h_input(f, arp(f, 2, nb_mac, NB_IP, stack_mac, STACK_IP));
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT(h_seg(0, &s) && s.dport == 22 && s.flags == TH_SYN);
	CU_ASSERT_EQUAL(H.copied_frames, 1);	/* from the ARP queue */
	h_clear();
	CU_ASSERT_PTR_NOT_NULL(tcp_connect(H.st, NB_IP, 23, NULL, &err));
	CU_ASSERT(H.nout == 1 && h_seg(0, &s) && s.dport == 23);
	CU_ASSERT_EQUAL(H.zc_frames, 2);
	CU_ASSERT_EQUAL(H.copied_frames, 1);
	h_teardown();
}

static void test_routing(void)
{
	struct net_config cfg;
	int err = 0;

	h_setup(NULL);
	/* Off-link with no gateway: refused up front. */
	CU_ASSERT_PTR_NULL(tcp_connect(H.st, 0x08080808u, 53, NULL, &err));
	CU_ASSERT_EQUAL(err, -ENETUNREACH);
	CU_ASSERT_PTR_NULL(tcp_connect(H.st, STACK_IP, 53, NULL, &err));
	CU_ASSERT_EQUAL(err, -EADDRNOTAVAIL);
	h_teardown();

	net_config_default(&cfg);
	cfg.gateway = 0x0a0000feu;
	h_setup(&cfg);
	CU_ASSERT_PTR_NOT_NULL(tcp_connect(H.st, 0x08080808u, 53, NULL, &err));
	/* The gateway is resolved, not the destination. */
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT_EQUAL(fy_get32(H.out[0].b + 14 + 24), 0x0a0000feu);
	h_teardown();
}

static size_t icmp_echo(uint8_t *f, size_t plen)
{
	uint8_t *ic = f + ETH_HLEN + IP_HLEN;

	h_eth(f, stack_mac, peer_mac, ETH_TYPE_IPV4);
	h_ip(f + ETH_HLEN, PEER_IP, STACK_IP, IP_PROTO_ICMP, ICMP_HLEN + plen);
	ic[0] = 8;
	ic[1] = 0;
	fy_put16(ic + 2, 0);
	fy_put16(ic + 4, 0x4659);
	fy_put16(ic + 6, 7);
	for (size_t i = 0; i < plen; i++)
		ic[ICMP_HLEN + i] = (uint8_t)(i * 3);
	fy_put16(ic + 2, csum_fold(csum_add(0, ic, ICMP_HLEN + plen)));
	return ETH_HLEN + IP_HLEN + ICMP_HLEN + plen;
}

static void test_icmp_echo(void)
{
	uint8_t f[2000];
	const uint8_t *ip, *ic;
	size_t n;

	h_setup(NULL);
	n = icmp_echo(f, 57);		/* odd length: checksum padding */
	h_input(f, n);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	CU_ASSERT_EQUAL(H.out[0].len, n);
	CU_ASSERT_EQUAL(memcmp(H.out[0].b, peer_mac, 6), 0);
	ip = H.out[0].b + ETH_HLEN;
	ic = ip + IP_HLEN;
	CU_ASSERT_EQUAL(csum_fold(csum_add(0, ip, IP_HLEN)), 0);
	CU_ASSERT_EQUAL(fy_get32(ip + 12), STACK_IP);
	CU_ASSERT_EQUAL(fy_get32(ip + 16), PEER_IP);
	CU_ASSERT_EQUAL(ic[0], 0);
	CU_ASSERT_EQUAL(csum_fold(csum_add(0, ic, ICMP_HLEN + 57)), 0);
	CU_ASSERT_EQUAL(memcmp(ic + 4, f + ETH_HLEN + IP_HLEN + 4, 4 + 57), 0);
	CU_ASSERT_EQUAL(net_counters(H.st)->icmp_echo_tx, 1);
	/* Larger than our MTU allows back: dropped, counted. */
	h_clear();
	h_input(f, icmp_echo(f, 1500));
	CU_ASSERT_EQUAL(H.nout, 0);
	CU_ASSERT_EQUAL(net_counters(H.st)->icmp_too_big, 1);
	h_teardown();
}

/* ---- malformed frames ---- */

typedef size_t (*mutate_fn)(uint8_t *f, size_t len);

static uint8_t *ip_of(uint8_t *f) { return f + ETH_HLEN; }
static uint8_t *tcp_of(uint8_t *f) { return f + ETH_HLEN + IP_HLEN; }

static void ip_recsum(uint8_t *f)
{
	uint8_t *ip = ip_of(f);
	size_t ihl = (size_t)(ip[0] & 15) * 4;

	fy_put16(ip + 10, 0);
	fy_put16(ip + 10, csum_fold(csum_add(0, ip, ihl < IP_HLEN ? IP_HLEN : ihl)));
}

static void tcp_recsum(uint8_t *f, size_t tlen)
{
	uint8_t *th = tcp_of(f);

	fy_put16(th + 16, 0);
	fy_put16(th + 16, csum_fold(csum_add(csum_pseudo(PEER_IP, STACK_IP, IP_PROTO_TCP,
						      (uint16_t)tlen), th, tlen)));
}

static size_t m_eth_short(uint8_t *f, size_t len) { (void)f; (void)len; return 13; }
static size_t m_eth_other(uint8_t *f, size_t len) { f[5] = 0x77; return len; }
static size_t m_eth_vlan(uint8_t *f, size_t len) { fy_put16(f + 12, ETH_TYPE_VLAN); return len; }
static size_t m_eth_type(uint8_t *f, size_t len) { fy_put16(f + 12, 0x86dd); return len; }
static size_t m_ip_short(uint8_t *f, size_t len) { (void)len; (void)f; return ETH_HLEN + 19; }
static size_t m_ip_ver(uint8_t *f, size_t len) { ip_of(f)[0] = 0x65; ip_recsum(f); return len; }
static size_t m_ip_ihl_small(uint8_t *f, size_t len) { ip_of(f)[0] = 0x44; return len; }
static size_t m_ip_ihl_big(uint8_t *f, size_t len)
{
	ip_of(f)[0] = 0x4f;	/* 60 bytes of header in a 40-byte packet */
	return len;
}
static size_t m_ip_len_big(uint8_t *f, size_t len)
{
	fy_put16(ip_of(f) + 2, (uint16_t)(len - ETH_HLEN + 1));
	ip_recsum(f);
	return len;
}
static size_t m_ip_len_small(uint8_t *f, size_t len)
{
	fy_put16(ip_of(f) + 2, 19);
	ip_recsum(f);
	return len;
}
static size_t m_ip_csum(uint8_t *f, size_t len) { ip_of(f)[10] ^= 1; return len; }
static size_t m_ip_mf(uint8_t *f, size_t len) { fy_put16(ip_of(f) + 6, 0x2000); ip_recsum(f); return len; }
static size_t m_ip_off(uint8_t *f, size_t len) { fy_put16(ip_of(f) + 6, 0x0010); ip_recsum(f); return len; }
static size_t m_ip_ttl(uint8_t *f, size_t len) { ip_of(f)[8] = 0; ip_recsum(f); return len; }
static size_t m_ip_dst(uint8_t *f, size_t len) { fy_put32(ip_of(f) + 16, STACK_IP + 1); ip_recsum(f); return len; }
static size_t m_ip_src_bc(uint8_t *f, size_t len) { fy_put32(ip_of(f) + 12, 0xffffffffu); ip_recsum(f); return len; }
static size_t m_ip_src_mc(uint8_t *f, size_t len) { fy_put32(ip_of(f) + 12, 0xe0000001u); ip_recsum(f); return len; }
static size_t m_ip_proto(uint8_t *f, size_t len) { ip_of(f)[9] = 17; ip_recsum(f); return len; }
static size_t m_tcp_short(uint8_t *f, size_t len)
{
	(void)len;
	fy_put16(ip_of(f) + 2, IP_HLEN + 19);
	ip_recsum(f);
	return ETH_HLEN + IP_HLEN + 19;
}
static size_t m_tcp_doff_small(uint8_t *f, size_t len)
{
	tcp_of(f)[12] = 4 << 4;
	tcp_recsum(f, len - ETH_HLEN - IP_HLEN);
	return len;
}
static size_t m_tcp_doff_big(uint8_t *f, size_t len)
{
	tcp_of(f)[12] = 15 << 4;	/* 60 > what is there */
	tcp_recsum(f, len - ETH_HLEN - IP_HLEN);
	return len;
}
static size_t m_tcp_csum(uint8_t *f, size_t len) { tcp_of(f)[17] ^= 0x40; return len; }
static size_t m_tcp_synfin(uint8_t *f, size_t len)
{
	tcp_of(f)[13] = TH_SYN | TH_FIN;
	tcp_recsum(f, len - ETH_HLEN - IP_HLEN);
	return len;
}
static size_t m_tcp_noflags(uint8_t *f, size_t len)
{
	tcp_of(f)[13] = TH_PSH;
	tcp_recsum(f, len - ETH_HLEN - IP_HLEN);
	return len;
}
static size_t m_tcp_port0(uint8_t *f, size_t len)
{
	fy_put16(tcp_of(f), 0);
	tcp_recsum(f, len - ETH_HLEN - IP_HLEN);
	return len;
}
static size_t m_icmp_csum(uint8_t *f, size_t len)
{
	(void)len;
	len = icmp_echo(f, 8);
	f[len - 1] ^= 1;
	return len;
}
static size_t m_icmp_short(uint8_t *f, size_t len)
{
	(void)len;
	icmp_echo(f, 0);
	fy_put16(ip_of(f) + 2, IP_HLEN + 7);
	ip_recsum(f);
	return ETH_HLEN + IP_HLEN + 7;
}
static size_t m_arp_hlen(uint8_t *f, size_t len)
{
	(void)len;
	len = arp(f, 1, nb_mac, NB_IP, bc_mac, STACK_IP);
	f[ETH_HLEN + 4] = 7;
	return len;
}
static size_t m_arp_short(uint8_t *f, size_t len)
{
	(void)len;
	return arp(f, 1, nb_mac, NB_IP, bc_mac, STACK_IP) - 1;
}
static size_t m_arp_op(uint8_t *f, size_t len)
{
	(void)len;
	len = arp(f, 1, nb_mac, NB_IP, bc_mac, STACK_IP);
	fy_put16(f + ETH_HLEN + 6, 9);
	return len;
}

#define CNT_OFF(name) offsetof(struct net_counters, name)

static void test_malformed_table(void)
{
	static const struct {
		const char *what;
		mutate_fn fn;
		size_t counter;
	} cases[] = {
		{ "short Ethernet", m_eth_short, CNT_OFF(eth_short) },
		{ "other MAC", m_eth_other, CNT_OFF(eth_not_ours) },
		{ "VLAN tag", m_eth_vlan, CNT_OFF(eth_vlan) },
		{ "IPv6 ethertype", m_eth_type, CNT_OFF(eth_unknown_type) },
		{ "short IPv4", m_ip_short, CNT_OFF(ip_short) },
		{ "IP version 6", m_ip_ver, CNT_OFF(ip_bad_version) },
		{ "IHL 4", m_ip_ihl_small, CNT_OFF(ip_bad_ihl) },
		{ "IHL past the end", m_ip_ihl_big, CNT_OFF(ip_bad_ihl) },
		{ "total length past the end", m_ip_len_big, CNT_OFF(ip_bad_len) },
		{ "total length < IHL", m_ip_len_small, CNT_OFF(ip_bad_len) },
		{ "IP checksum", m_ip_csum, CNT_OFF(ip_bad_csum) },
		{ "more fragments", m_ip_mf, CNT_OFF(ip_frag) },
		{ "fragment offset", m_ip_off, CNT_OFF(ip_frag) },
		{ "TTL 0", m_ip_ttl, CNT_OFF(ip_ttl_zero) },
		{ "not our address", m_ip_dst, CNT_OFF(ip_not_ours) },
		{ "broadcast source", m_ip_src_bc, CNT_OFF(ip_bad_src) },
		{ "multicast source", m_ip_src_mc, CNT_OFF(ip_bad_src) },
		{ "UDP", m_ip_proto, CNT_OFF(ip_unknown_proto) },
		{ "short TCP", m_tcp_short, CNT_OFF(tcp_short) },
		{ "TCP data offset 4", m_tcp_doff_small, CNT_OFF(tcp_bad_doff) },
		{ "TCP data offset past the end", m_tcp_doff_big, CNT_OFF(tcp_bad_doff) },
		{ "TCP checksum", m_tcp_csum, CNT_OFF(tcp_bad_csum) },
		{ "SYN+FIN", m_tcp_synfin, CNT_OFF(tcp_bad_flags) },
		{ "no SYN/ACK/RST", m_tcp_noflags, CNT_OFF(tcp_bad_flags) },
		{ "port 0", m_tcp_port0, CNT_OFF(tcp_bad_port) },
		{ "ICMP checksum", m_icmp_csum, CNT_OFF(icmp_bad_csum) },
		{ "short ICMP", m_icmp_short, CNT_OFF(icmp_short) },
		{ "ARP hlen 7", m_arp_hlen, CNT_OFF(arp_bad) },
		{ "short ARP", m_arp_short, CNT_OFF(arp_bad) },
		{ "ARP op 9", m_arp_op, CNT_OFF(arp_bad) },
	};
	static uint8_t f[H_FLEN];

	h_setup(NULL);
	CU_ASSERT_EQUAL(tcp_listen(H.st, APP_PORT, 0), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct net_counters before = *net_counters(H.st), after;
		const uint64_t *b = (const uint64_t *)&before, *a = (const uint64_t *)&after;
		size_t len = h_tcp_frame(f, PEER_PORT, APP_PORT, 1, 0, TH_SYN, 65535, NULL, NULL, 0);
		size_t k = cases[i].counter / sizeof(uint64_t);
		int moved = 0;

		len = cases[i].fn(f, len);
		h_clear();
		h_input(f, len);
		after = *net_counters(H.st);
		if (a[k] != b[k] + 1 || H.nout != 0)
			printf("\n    case '%s': counter %s %llu -> %llu, %zu frames out",
			       cases[i].what, net_counter_names[k], (unsigned long long)b[k],
			       (unsigned long long)a[k], H.nout);
		CU_ASSERT_EQUAL(a[k], b[k] + 1);
		CU_ASSERT_EQUAL(H.nout, 0);
		/* Exactly one drop reason moved (rx_frames/bytes aside, and
		 * tcp_segs_rx for TCP-level drops after parsing). */
		for (size_t j = 0; j < net_counter_count; j++)
			if (a[j] != b[j] && j != CNT_OFF(rx_frames) / 8 &&
			    j != CNT_OFF(rx_bytes) / 8 && j != CNT_OFF(tcp_segs_rx) / 8)
				moved++;
		CU_ASSERT_EQUAL(moved, 1);
	}
	CU_ASSERT_EQUAL(H.st->nconns, 0);
	h_teardown();
}

static void test_tolerated(void)
{
	static uint8_t f[H_FLEN];
	struct h_seg s;
	uint8_t *ip;
	size_t len;

	h_setup(NULL);
	CU_ASSERT_EQUAL(tcp_listen(H.st, APP_PORT, 0), 0);
	/* Ethernet padding after the IP packet is ignored. */
	len = h_tcp_frame(f, PEER_PORT, APP_PORT, 1, 0, TH_SYN, 65535, NULL, NULL, 0);
	memset(f + len, 0xee, 6);
	h_input(f, len + 6);
	CU_ASSERT(h_last(&s) && s.flags == (TH_SYN | TH_ACK));
	/* IP options are skipped, not interpreted. */
	h_clear();
	len = h_tcp_frame(f, PEER_PORT + 1, APP_PORT, 1, 0, TH_SYN, 65535, NULL, NULL, 0);
	ip = ip_of(f);
	memmove(ip + 24, ip + 20, len - ETH_HLEN - IP_HLEN);
	memset(ip + 20, 1, 4);			/* four NOP options */
	ip[0] = 0x46;
	fy_put16(ip + 2, (uint16_t)(fy_get16(ip + 2) + 4));
	ip_recsum(f);
	h_input(f, len + 4);
	CU_ASSERT(h_last(&s) && s.flags == (TH_SYN | TH_ACK) && s.dport == PEER_PORT + 1);
	CU_ASSERT_EQUAL(net_counters(H.st)->ip_options, 1);
	/* A malformed TCP option list: counted, the segment still served. */
	h_clear();
	len = h_tcp_frame(f, PEER_PORT + 2, APP_PORT, 1, 0, TH_SYN, 65535, NULL, NULL, 0);
	{
		uint8_t *th = tcp_of(f);

		memset(th + 20, 0, 4);
		th[20] = 2;			/* MSS with length 1 */
		th[21] = 1;
		th[12] = 6 << 4;
		fy_put16(ip_of(f) + 2, IP_HLEN + 24);
		ip_recsum(f);
		tcp_recsum(f, 24);
	}
	h_input(f, len + 4);
	CU_ASSERT(h_last(&s) && s.dport == PEER_PORT + 2);
	CU_ASSERT_EQUAL(net_counters(H.st)->tcp_bad_opt, 1);
	/* Checksums a NIC verified are not checked again. */
	h_clear();
	len = h_tcp_frame(f, PEER_PORT + 3, APP_PORT, 1, 0, TH_SYN, 65535, NULL, NULL, 0);
	tcp_of(f)[16] ^= 0xff;
	net_input_ex(H.st, f, len, H.now, NET_RX_IP_CSUM_GOOD | NET_RX_L4_CSUM_GOOD);
	CU_ASSERT(h_last(&s) && s.dport == PEER_PORT + 3);
	h_teardown();
}

static void test_tx_csum_offload(void)
{
	struct net_config cfg;
	const uint8_t *ip, *th;

	net_config_default(&cfg);
	cfg.flags = NET_CFG_TX_CSUM_OFFLOAD;
	h_setup(&cfg);
	CU_ASSERT_EQUAL(tcp_listen(H.st, APP_PORT, 0), 0);
	h_send(PEER_PORT, APP_PORT, 1, 0, TH_SYN, 65535, NULL, NULL, 0);
	CU_ASSERT_EQUAL_FATAL(H.nout, 1);
	ip = H.out[0].b + ETH_HLEN;
	th = ip + IP_HLEN;
	/* IPv4 checksum left 0; TCP field holds the pseudo-header sum. */
	CU_ASSERT_EQUAL(fy_get16(ip + 10), 0);
	CU_ASSERT_EQUAL(fy_get16(th + 16),
			(uint16_t)~csum_fold(csum_pseudo(STACK_IP, PEER_IP, IP_PROTO_TCP,
							 (uint16_t)(fy_get16(ip + 2) - IP_HLEN))));
	h_teardown();
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "ARP request answered", test_arp_request_answered },
		{ "ARP resolution queues then flushes", test_arp_resolution_queue },
		{ "ARP unresolved: retries, drop", test_arp_unresolved },
		{ "ARP expiry: re-confirm", test_arp_expiry_reconfirm },
		{ "zero-copy output (tx_buf)", test_tx_buf_zero_copy },
		{ "routing: on-link, gateway, none", test_routing },
		{ "ICMP echo", test_icmp_echo },
		{ "malformed frames dropped and counted", test_malformed_table },
		{ "padding, IP options, bad TCP options, RX offload", test_tolerated },
		{ "TX checksum offload", test_tx_csum_offload },
	};
	return cu_run("net_l23", tests, ARRAY_LEN(tests));
}
