/* Test harness for relay/net: one stack (10.0.0.2, 02:..:02) on a wire
 * whose frames the test crafts and inspects byte by byte, a peer host
 * (10.0.0.1, 02:..:01), and an application that records its upcalls.
 * Included by the tests/unit/net_*_test.c files (static helpers only). */
#ifndef FERRY_NET_HARNESS_H
#define FERRY_NET_HARNESS_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "net.h"
#include "net_impl.h"
#include "wire.h"

#define H_MAXF 512
#define H_FLEN 9100
#define PEER_IP 0x0a000001u
#define STACK_IP 0x0a000002u
#define PEER_PORT 40000
#define APP_PORT 80

static const uint8_t peer_mac[6] = { 2, 0, 0, 0, 0, 1 };
static const uint8_t stack_mac[6] = { 2, 0, 0, 0, 0, 2 };

struct h_frame {
	size_t len;
	uint8_t b[H_FLEN];
};

/* A parsed TCP segment the stack sent. */
struct h_seg {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *data;
	uint32_t len;
	struct tcp_seg opt;	/* parsed options */
};

static struct h {
	struct net_stack *st;
	struct net_config cfg;
	uint64_t now;		/* us */
	struct h_frame *out;	/* frames the stack sent, oldest first */
	size_t nout;
	/* application */
	struct tcp_conn *conn;	/* last accepted/connected */
	int accepted, connected, readable, writable, closed;
	int connect_err, close_reason;
	uint16_t accept_lport;
	bool refuse;
	bool auto_read;
	uint8_t rx[1 << 20];
	size_t rxlen;
	bool eof;
	bool peer_sack;		/* h_open's SYN offers SACK */
	/* Zero-copy output (ops.tx_buf), on when NET_TEST_TXBUF is set:
	 * frames are built in zbuf[zcur]; one handed to tx() is poisoned
	 * and the other buffer offered next, so a stack that touched a
	 * frame after sending it, or sent one it built elsewhere as if it
	 * were ours, shows up in the frames the tests inspect. */
	bool use_txbuf;
	uint8_t zbuf[2][H_FLEN];
	int zcur;
	unsigned zc_frames, copied_frames;
	/* Handing flows between stacks (net_input_tagged): released()
	 * calls, with the last one's tag and 4-tuple; cookie_ack() asks,
	 * answered with cookie_pass. */
	int released, released_bad;	/* bad: the 4-tuple still in the table */
	uint64_t released_tag;
	uint32_t released_rip;
	uint16_t released_rport, released_lport;
	int cookie_asks;
	bool cookie_pass;
} H;

static inline int h_tx(void *ctx, const uint8_t *f, size_t len)
{
	(void)ctx;
	if (H.nout < H_MAXF && len <= H_FLEN) {
		memcpy(H.out[H.nout].b, f, len);
		H.out[H.nout].len = len;
		H.nout++;
	}
	if (H.use_txbuf && f == H.zbuf[H.zcur]) {
		memset(H.zbuf[H.zcur], 0xa5, sizeof(H.zbuf[0]));
		H.zcur ^= 1;
		H.zc_frames++;
	} else {
		H.copied_frames++;
	}
	return 0;
}

static inline uint8_t *h_tx_buf(void *ctx, size_t cap)
{
	(void)ctx;
	return H.use_txbuf && cap <= H_FLEN ? H.zbuf[H.zcur] : NULL;
}

static inline void h_drain(struct tcp_conn *c)
{
	for (;;) {
		long n = tcp_recv(c, H.rx + H.rxlen, sizeof(H.rx) - H.rxlen);

		if (n > 0) {
			H.rxlen += (size_t)n;
			continue;
		}
		if (n == 0)
			H.eof = true;
		break;
	}
}

static inline int h_accepted(void *ctx, struct tcp_conn *c, uint16_t lport)
{
	(void)ctx;
	H.accepted++;
	H.accept_lport = lport;
	if (H.refuse)
		return -1;
	H.conn = c;
	return 0;
}

static inline void h_connected(void *ctx, struct tcp_conn *c, int err)
{
	(void)ctx;
	H.connected++;
	H.connect_err = err;
	H.conn = err ? NULL : c;
}

static inline void h_readable(void *ctx, struct tcp_conn *c)
{
	(void)ctx;
	H.readable++;
	if (H.auto_read)
		h_drain(c);
}

static inline void h_writable(void *ctx, struct tcp_conn *c)
{
	(void)ctx;
	(void)c;
	H.writable++;
}

static inline void h_closed(void *ctx, struct tcp_conn *c, int reason)
{
	(void)ctx;
	H.closed++;
	H.close_reason = reason;
	if (c == H.conn)
		H.conn = NULL;
}

static inline void h_released(void *ctx, uint64_t tag, uint32_t rip, uint16_t rport,
			      uint16_t lport)
{
	(void)ctx;
	H.released++;
	if (!tag || tcp_conn_lookup(H.st, rip, rport, lport))
		H.released_bad++;
	H.released_tag = tag;
	H.released_rip = rip;
	H.released_rport = rport;
	H.released_lport = lport;
}

static inline bool h_cookie_ack(void *ctx, uint32_t rip, uint16_t rport, uint16_t lport)
{
	(void)ctx;
	(void)rip;
	(void)rport;
	(void)lport;
	H.cookie_asks++;
	return H.cookie_pass;
}

static const struct net_ops h_ops = {
	.tx = h_tx, .tx_buf = h_tx_buf, .accepted = h_accepted, .connected = h_connected,
	.readable = h_readable, .writable = h_writable, .closed = h_closed,
	.released = h_released, .cookie_ack = h_cookie_ack,
};

static inline void h_clear(void)
{
	H.nout = 0;
}

/* ---- crafting frames the peer sends ---- */

static inline size_t h_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	fy_put16(f + 12, type);
	return ETH_HLEN;
}

static inline size_t h_ip(uint8_t *ip, uint32_t src, uint32_t dst, uint8_t proto, size_t l4len)
{
	memset(ip, 0, IP_HLEN);
	ip[0] = 0x45;
	fy_put16(ip + 2, (uint16_t)(IP_HLEN + l4len));
	fy_put16(ip + 4, 0x1234);
	fy_put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	fy_put32(ip + 12, src);
	fy_put32(ip + 16, dst);
	fy_put16(ip + 10, csum_fold(csum_add(0, ip, IP_HLEN)));
	return IP_HLEN;
}

struct h_opts {
	int mss;		/* <0 none */
	int ws;			/* <0 none */
	bool ts;
	uint32_t tsval, tsecr;
	bool sack_ok;		/* SACK-permitted */
	unsigned nsack;		/* SACK blocks [sl, sr) */
	uint32_t sl[4], sr[4];
};

static const struct h_opts H_NOOPT = { .mss = -1, .ws = -1, .ts = false, .tsval = 0, .tsecr = 0 };

static inline size_t h_tcp_opts(uint8_t *o, const struct h_opts *x)
{
	size_t n = 0;

	if (x->mss >= 0) {
		o[n++] = 2; o[n++] = 4; fy_put16(o + n, (uint16_t)x->mss); n += 2;
	}
	if (x->ts) {
		o[n++] = 1; o[n++] = 1; o[n++] = 8; o[n++] = 10;
		fy_put32(o + n, x->tsval); fy_put32(o + n + 4, x->tsecr); n += 8;
	}
	if (x->ws >= 0) {
		o[n++] = 1; o[n++] = 3; o[n++] = 3; o[n++] = (uint8_t)x->ws;
	}
	if (x->sack_ok) {
		o[n++] = 1; o[n++] = 1; o[n++] = 4; o[n++] = 2;
	}
	if (x->nsack) {
		o[n++] = 1; o[n++] = 1; o[n++] = 5; o[n++] = (uint8_t)(2 + 8 * x->nsack);
		for (unsigned b = 0; b < x->nsack; b++) {
			fy_put32(o + n, x->sl[b]);
			fy_put32(o + n + 4, x->sr[b]);
			n += 8;
		}
	}
	return n;
}

/* A full Ethernet/IPv4/TCP frame from the peer; returns its length. */
static inline size_t h_tcp_frame(uint8_t *f, uint16_t sport, uint16_t dport, uint32_t seq,
			  uint32_t ack, uint8_t flags, uint16_t win,
			  const struct h_opts *x, const void *data, size_t dlen)
{
	uint8_t *ip = f + ETH_HLEN, *th = ip + IP_HLEN;
	size_t optlen = h_tcp_opts(th + TCP_HLEN, x ? x : &H_NOOPT);
	size_t tlen = TCP_HLEN + optlen + dlen;

	h_eth(f, stack_mac, peer_mac, ETH_TYPE_IPV4);
	h_ip(ip, PEER_IP, STACK_IP, IP_PROTO_TCP, tlen);
	fy_put16(th, sport);
	fy_put16(th + 2, dport);
	fy_put32(th + 4, seq);
	fy_put32(th + 8, ack);
	th[12] = (uint8_t)(((TCP_HLEN + optlen) / 4) << 4);
	th[13] = flags;
	fy_put16(th + 14, win);
	fy_put16(th + 16, 0);
	fy_put16(th + 18, 0);
	if (dlen)
		memcpy(th + TCP_HLEN + optlen, data, dlen);
	fy_put16(th + 16, csum_fold(csum_add(csum_pseudo(PEER_IP, STACK_IP, IP_PROTO_TCP,
						      (uint16_t)tlen), th, tlen)));
	return ETH_HLEN + IP_HLEN + tlen;
}

static inline void h_input(const uint8_t *f, size_t len)
{
	net_input(H.st, f, len, H.now);
}

static inline void h_send(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		   uint8_t flags, uint16_t win, const struct h_opts *x,
		   const void *data, size_t dlen)
{
	static uint8_t f[H_FLEN];

	h_input(f, h_tcp_frame(f, sport, dport, seq, ack, flags, win, x, data, dlen));
}

/* Moves time forward in 1 ms steps, running timers at each. */
static inline void h_advance_ms(uint64_t ms)
{
	for (uint64_t i = 0; i < ms; i++) {
		H.now += 1000;
		net_poll_timers(H.st, H.now);
	}
}

/* ---- inspecting frames the stack sent ---- */

/* Parses sent frame i as TCP, checking the IPv4 and TCP checksums. */
static inline bool h_seg(size_t i, struct h_seg *s)
{
	const uint8_t *f, *ip, *th;
	size_t len, tlen, doff;

	if (i >= H.nout)
		return false;
	f = H.out[i].b;
	len = H.out[i].len;
	if (len < ETH_HLEN + IP_HLEN + TCP_HLEN || fy_get16(f + 12) != ETH_TYPE_IPV4)
		return false;
	ip = f + ETH_HLEN;
	if (ip[9] != IP_PROTO_TCP || csum_fold(csum_add(0, ip, IP_HLEN)) != 0)
		return false;
	tlen = fy_get16(ip + 2) - IP_HLEN;
	th = ip + IP_HLEN;
	memset(s, 0, sizeof(*s));
	s->src = fy_get32(ip + 12);
	s->dst = fy_get32(ip + 16);
	if (csum_fold(csum_add(csum_pseudo(s->src, s->dst, IP_PROTO_TCP, (uint16_t)tlen),
			       th, tlen)) != 0)
		return false;
	doff = (size_t)(th[12] >> 4) * 4;
	s->sport = fy_get16(th);
	s->dport = fy_get16(th + 2);
	s->seq = fy_get32(th + 4);
	s->ack = fy_get32(th + 8);
	s->flags = th[13];
	s->win = fy_get16(th + 14);
	s->data = th + doff;
	s->len = (uint32_t)(tlen - doff);
	tcp_opt_parse(&s->opt, th + TCP_HLEN, doff - TCP_HLEN);
	return true;
}

/* The last segment sent; fails the test when there is none. */
static inline bool h_last(struct h_seg *s)
{
	return H.nout && h_seg(H.nout - 1, s);
}

static inline void h_setup(struct net_config *cfg)
{
	static uint8_t f[64];
	size_t n;

	free(H.out);
	memset(&H, 0, sizeof(H));
	H.out = calloc(H_MAXF, sizeof(*H.out));
	if (cfg) {
		H.cfg = *cfg;
	} else {
		net_config_default(&H.cfg);
	}
	memcpy(H.cfg.mac, stack_mac, 6);
	H.cfg.ip = STACK_IP;
	H.cfg.prefix_len = 24;
	memset(H.cfg.secret, 7, sizeof(H.cfg.secret));
	H.use_txbuf = getenv("NET_TEST_TXBUF") != NULL;
	H.now = 1000000000ull;
	H.st = net_stack_create(&H.cfg, &h_ops, NULL, H.now);
	CU_ASSERT_PTR_NOT_NULL_FATAL(H.st);
	/* The peer asks for our MAC: we learn its own and answer. */
	n = h_eth(f, (const uint8_t *)"\xff\xff\xff\xff\xff\xff", peer_mac, ETH_TYPE_ARP);
	fy_put16(f + n, 1); fy_put16(f + n + 2, ETH_TYPE_IPV4); f[n + 4] = 6; f[n + 5] = 4;
	fy_put16(f + n + 6, 1);
	memcpy(f + n + 8, peer_mac, 6); fy_put32(f + n + 14, PEER_IP);
	memset(f + n + 18, 0, 6); fy_put32(f + n + 24, STACK_IP);
	h_input(f, n + ARP_LEN);
	CU_ASSERT_EQUAL(H.nout, 1);
	h_clear();
}

static inline void h_teardown(void)
{
	net_stack_destroy(H.st);
	H.st = NULL;
	free(H.out);
	H.out = NULL;
}

/* Passive open on APP_PORT from PEER_PORT with peer ISN `isn`, timestamps
 * and window scale 7. Returns our ISS; the connection is H.conn. */
static inline uint32_t h_open_ex(uint32_t isn, bool ts, bool expect_conn)
{
	struct h_opts o = { .mss = 1460, .ws = 7, .ts = ts, .tsval = 1000, .sack_ok = H.peer_sack };
	struct h_seg s;
	uint32_t iss;

	CU_ASSERT_EQUAL(tcp_listen(H.st, APP_PORT, 0), 0);
	h_send(PEER_PORT, APP_PORT, isn, 0, TH_SYN, 65535, &o, NULL, 0);
	CU_ASSERT_FATAL(h_last(&s));
	CU_ASSERT_EQUAL(s.flags, TH_SYN | TH_ACK);
	iss = s.seq;
	o.mss = o.ws = -1;
	o.sack_ok = false;
	o.tsval = 1001;
	o.tsecr = s.opt.tsval;
	h_clear();
	/* window 512 << 7 = 64 KiB */
	h_send(PEER_PORT, APP_PORT, isn + 1, iss + 1, TH_ACK, 512, &o, NULL, 0);
	CU_ASSERT_EQUAL(H.accepted, 1);
	if (expect_conn)
		CU_ASSERT_PTR_NOT_NULL_FATAL(H.conn);
	return iss;
}

static inline uint32_t h_open(uint32_t isn, bool ts)
{
	return h_open_ex(isn, ts, true);
}

#endif
