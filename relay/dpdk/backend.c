/* DPDK backend: one worker per RX/TX queue pair, each pinned to an lcore
 * and running to completion: rx burst -> relay/net (our TCP) -> engine ->
 * tx burst. No packet crosses the kernel. The engine sees userspace TCP
 * connections through the same interface as kernel sockets
 * (struct relay_backend); they cannot move between lcores once open, so
 * a client whose lcore (RSS chose it) holds no tunnel of its agent is
 * steered, packet by packet and before any stack sees it, to an lcore
 * that does (see "steering" below).
 *
 * Ownership: each lcore owns its net_stack, its connections (struct
 * dconn) and its TX batch; the mbuf pool is shared (DPDK's per-lcore
 * caches make that lock-free on the fast path). */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "dworker.h"
#include "ferry/sock.h"
#include "ferry/wire.h"
#include "admin/admin.h"
#include "backend.h"
#include "engine.h"
#include "ingress.h"
#include "public.h"
#include "relay-t.h"
#include "tunnel.h"
#include "worker.h"

#define TOPIC "relay.dpdk"
#define RX_DESC 1024
#define TX_DESC 1024
#define IDLE_SLEEP_US 50	/* after 1 ms without packets: spare the CPU */
#define RX_BUDGET (8 * DW_BURST)	/* frames per loop turn before timers */

/* A TCP connection as the engine sees it. */
struct dconn {
	struct tcp_conn *c;	/* NULL once the stack ended it */
	int reason;		/* why it ended (-errno, 0 clean) */
	relay_event_fn fn;
	void *owner;
	struct dworker *dw;
};

struct dlisten {
	uint16_t port;
};

/* A copied ARP frame on its way to another lcore. */
struct arp_copy {
	uint16_t len;
	uint8_t frame[64];
};

/* One flag per signal: a SIGTERM must not be lost behind a SIGHUP. */
static volatile sig_atomic_t got_stop, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_stop = sig;
}

/* The lcores' one clock: the stack gets it in microseconds, the engine
 * in milliseconds, both from this reading. */
static uint64_t now_us(void)
{
	return fy_cycles_to_us(rte_get_timer_cycles(), rte_get_timer_hz());
}

/* ---- the connection interface on relay/net ---- */

static long d_recv(void *io, void *buf, size_t n)
{
	struct dconn *d = io;

	if (!d->c)
		return d->reason ? d->reason : 0;
	return tcp_recv(d->c, buf, n);
}

static long d_send(void *io, const void *buf, size_t n)
{
	struct dconn *d = io;

	if (!d->c)
		return d->reason ? d->reason : -EPIPE;
	return tcp_send(d->c, buf, n);
}

static void d_shutdown_wr(void *io)
{
	struct dconn *d = io;

	if (d->c)
		tcp_shutdown_wr(d->c);
}

static size_t d_readable(void *io)
{
	struct dconn *d = io;

	return d->c ? tcp_readable(d->c) : 0;
}

static void d_want(void *io, bool rd, bool wr)
{
	struct dconn *d = io;

	if (d->c)
		tcp_want(d->c, rd, wr);
}

static const struct fy_conn_ops dconn_ops = {
	.recv = d_recv,
	.send = d_send,
	.shutdown_wr = d_shutdown_wr,
	.want = d_want,
	.readable = d_readable,
};

static int b_attach(struct worker *w, void *io, relay_event_fn fn, void *owner)
{
	struct dconn *d = io;

	(void)w;
	d->fn = fn;
	d->owner = owner;
	if (d->c)
		tcp_want(d->c, true, false);	/* queues readable if data waits */
	else if (fn)
		fn(owner, RELAY_EV_READ | RELAY_EV_ERROR);
	return 0;
}

static void b_detach(struct worker *w, void *io)
{
	(void)w;
	/* Never called: can_move is false. Stop events all the same. */
	((struct dconn *)io)->fn = NULL;
}

static void b_close(struct worker *w, void *io, bool rst)
{
	struct dconn *d = io;

	(void)w;
	d->dw->conns--;
	if (d->c) {
		tcp_set_user(d->c, NULL);
		if (rst)
			tcp_abort(d->c);
		else
			tcp_close(d->c);
	}
	fy_pool_free(&d->dw->dconns, d);
}

static int b_listen(struct worker *w, const char *bind, uint16_t port, bool probe, void **lio)
{
	struct dworker *dw = w->be_data;
	struct dlisten *l = calloc(1, sizeof(*l));
	int e;

	(void)probe;	/* the stack refuses a second listener itself */
	(void)bind;	/* one address: --dpdk-ip */
	if (!l)
		return -ENOMEM;
	e = tcp_listen(dw->st, port, 0);
	if (e < 0) {
		free(l);
		return e;
	}
	l->port = port;
	*lio = l;
	return 0;
}

static void b_unlisten(struct worker *w, void *lio)
{
	struct dworker *dw = w->be_data;
	struct dlisten *l = lio;

	tcp_unlisten(dw->st, l->port);
	free(l);
}

static void b_wake(struct worker *w)
{
	struct dworker *dw = w->be_data;

	atomic_store(&dw->wake, true);
}

static void b_stop_accepting(struct worker *w)
{
	struct dworker *dw = w->be_data;

	if (dw->agent_listening) {
		tcp_unlisten(dw->st, dw->agent_port);
		dw->agent_listening = false;
	}
}

static const struct relay_backend relay_dpdk_backend = {
	.name = "dpdk",
	.can_move = false,
	.direct_tls = true,
	.wss = false,	/* untested on relay/net: refused with 501, said at start */
	.conn = &dconn_ops,
	.attach = b_attach,
	.detach = b_detach,
	.close = b_close,
	.listen = b_listen,
	.unlisten = b_unlisten,
	/* No UDP on relay/net yet: the engine refuses UDP claims. */
	.udp_listen = NULL,
	.udp_unlisten = NULL,
	.udp_send = NULL,
	.wake = b_wake,
	.stop_accepting = b_stop_accepting,
};

/* ---- relay/net upcalls ---- */

static void tx_flush(struct dworker *dw)
{
	unsigned sent = 0;

	while (sent < dw->ntx) {
		uint16_t k = rte_eth_tx_burst(dw->port_id, dw->queue, dw->tx + sent,
					      (uint16_t)(dw->ntx - sent));

		if (!k)
			break;
		sent += k;
	}
	/* The caller frees what tx_burst did not take; TCP retransmits. */
	for (unsigned i = sent; i < dw->ntx; i++) {
		rte_pktmbuf_free(dw->tx[i]);
		dw->cnt.tx_dropped++;
	}
	dw->ntx = 0;
}

/* The stack builds its next frame right in an mbuf's data room. */
static uint8_t *up_tx_buf(void *ctx, size_t cap)
{
	struct dworker *dw = ctx;

	if (!dw->spare && !(dw->spare = rte_pktmbuf_alloc(dw->pool)))
		return NULL;	/* the stack builds in its own buffer; tx() fails */
	if (rte_pktmbuf_tailroom(dw->spare) < cap)
		return NULL;	/* larger than an mbuf: tx() refuses it (EMSGSIZE) */
	return rte_pktmbuf_mtod(dw->spare, uint8_t *);
}

/* Marks an IPv4 frame for the port's checksum offload: the stack left
 * the IPv4 checksum 0 and put the pseudo-header sum in TCP's. */
static void set_tx_offload(struct dworker *dw, struct rte_mbuf *m, const uint8_t *f, size_t len)
{
	if (len < 34 || f[12] != 0x08 || f[13] != 0x00)
		return;
	m->l2_len = 14;
	m->l3_len = (uint64_t)(f[14] & 0x0f) * 4;
	m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	if (f[23] == IPPROTO_TCP)
		m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
	dw->cnt.tx_csum_offload++;
}

static int up_tx(void *ctx, const uint8_t *frame, size_t len)
{
	struct dworker *dw = ctx;
	struct rte_mbuf *m;

	if (dw->spare && frame == rte_pktmbuf_mtod(dw->spare, const uint8_t *)) {
		m = dw->spare;
		dw->spare = NULL;
		rte_pktmbuf_append(m, (uint16_t)len);	/* fits: tx_buf checked */
		dw->cnt.tx_zero_copy++;
	} else {
		char *p;

		/* Frames from the stack's ARP queue, or built while the pool
		 * was empty. */
		if (!(m = rte_pktmbuf_alloc(dw->pool))) {
			dw->cnt.tx_nombuf++;
			return -ENOBUFS;	/* dropped and counted; TCP resends */
		}
		p = rte_pktmbuf_append(m, (uint16_t)len);
		if (!p) {
			rte_pktmbuf_free(m);
			return -EMSGSIZE;
		}
		memcpy(p, frame, len);
		dw->cnt.tx_copied++;
	}
	if (dw->tx_csum)
		set_tx_offload(dw, m, frame, len);
	dw->tx[dw->ntx++] = m;
	if (dw->ntx == DW_BURST)
		tx_flush(dw);
	return 0;
}

static int up_accepted(void *ctx, struct tcp_conn *c, uint16_t lport)
{
	struct dworker *dw = ctx;
	struct dconn *d = fy_pool_alloc(&dw->dconns);
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	uint32_t rip;
	uint16_t rport, lp;

	if (!d)
		return -ENOMEM;
	d->c = c;
	d->dw = dw;
	dw->conns++;
	tcp_set_user(c, d);
	tcp_endpoints(c, &rip, &rport, &lp);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(rip);
	sin->sin_port = htons(rport);
	if (lport == dw->agent_port)
		tunnel_accept(dw->w, d, &ss, false);
	else
		public_accepted(dw->w, lport, d, &ss);
	return 0;
}

static void up_connected(void *ctx, struct tcp_conn *c, int err)
{
	(void)ctx;
	(void)c;
	(void)err;	/* the relay makes no outgoing connections */
}

static void deliver(struct tcp_conn *c, uint32_t ev)
{
	struct dconn *d = tcp_user(c);

	if (d && d->fn)
		d->fn(d->owner, ev);
}

static void up_readable(void *ctx, struct tcp_conn *c)
{
	(void)ctx;
	deliver(c, RELAY_EV_READ);
}

static void up_writable(void *ctx, struct tcp_conn *c)
{
	(void)ctx;
	deliver(c, RELAY_EV_WRITE);
}

static void up_closed(void *ctx, struct tcp_conn *c, int reason)
{
	struct dconn *d = tcp_user(c);

	(void)ctx;
	if (!d)
		return;
	d->c = NULL;	/* the handle is invalid after this upcall */
	d->reason = reason;
	if (d->fn)
		d->fn(d->owner, RELAY_EV_READ | RELAY_EV_ERROR);
}

static void up_released(void *ctx, uint64_t tag, uint32_t rip, uint16_t rport, uint16_t lport);
static bool up_cookie_ack(void *ctx, uint32_t rip, uint16_t rport, uint16_t lport);

static const struct net_ops dworker_ops = {
	.tx = up_tx,
	.tx_buf = up_tx_buf,
	.accepted = up_accepted,
	.connected = up_connected,
	.readable = up_readable,
	.writable = up_writable,
	.closed = up_closed,
	.released = up_released,
	.cookie_ack = up_cookie_ack,
};

/* ---- lcores ---- */

static void share_arp_reply(struct dworker *dw, const uint8_t *f, size_t len)
{
	/* Ethernet type 0x0806, ARP opcode 2 (reply) at offset 20. */
	if (dw->nall < 2 || len < 42 || f[12] != 0x08 || f[13] != 0x06 || f[20] != 0 || f[21] != 2)
		return;
	for (unsigned i = 0; i < dw->nall; i++) {
		struct dworker *o = &dw->all[i];
		struct arp_copy *c;

		if (o == dw || !(c = malloc(sizeof(*c))))
			continue;
		c->len = (uint16_t)(len < sizeof(c->frame) ? len : sizeof(c->frame));
		memcpy(c->frame, f, c->len);
		if (rte_ring_enqueue(o->arp_in, c) != 0)
			free(c);	/* ring full: that lcore asks again */
	}
}

static void take_arp_copies(struct dworker *dw, uint64_t t)
{
	void *p;

	while (dw->arp_in && rte_ring_dequeue(dw->arp_in, &p) == 0) {
		struct arp_copy *c = p;

		net_input(dw->st, c->frame, c->len, t);
		free(c);
	}
}

/* What the port already checked, for net_input_ex(). A frame the port
 * found bad is still handed over: the stack checks it again and counts
 * the drop under its reason. */
static unsigned rx_csum_flags(struct dworker *dw, const struct rte_mbuf *m)
{
	uint64_t ip = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	uint64_t l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	unsigned f = 0;

	if (!dw->rx_csum)
		return 0;
	if (ip == RTE_MBUF_F_RX_IP_CKSUM_BAD || l4 == RTE_MBUF_F_RX_L4_CKSUM_BAD) {
		dw->cnt.rx_csum_hw_bad++;
		return 0;
	}
	/* NONE: the field is not filled in but the data was verified
	 * (virtio, vhost): as good as GOOD, and checking it would fail. */
	if (ip == RTE_MBUF_F_RX_IP_CKSUM_GOOD || ip == RTE_MBUF_F_RX_IP_CKSUM_NONE)
		f |= NET_RX_IP_CSUM_GOOD;
	if (l4 == RTE_MBUF_F_RX_L4_CKSUM_GOOD || l4 == RTE_MBUF_F_RX_L4_CKSUM_NONE)
		f |= NET_RX_L4_CSUM_GOOD;
	if (f)
		dw->cnt.rx_csum_hw_good++;
	return f;
}

/* ---- steering client flows between lcores ----
 *
 * RSS puts a client's flow on some lcore X, while its agent may hold
 * tunnels only on others (they stay where they land). X hands the flow's
 * segments, before its own stack sees them, to an lcore Y that holds one
 * (engine_place_client: the kernel backend's choice after accept, made
 * here before the SYN is processed), over Y's steer_in ring; Y feeds them
 * to its stack as if they had come in on its own queue (with the port's
 * checksum verdict) and answers through its own TX queue.
 *
 * X keeps a table (steer.h): 4-tuple -> (Y, gen). Every segment X hands
 * over carries a tag, (X + 1) << 32 | gen with a new gen, in an mbuf
 * dynamic field, and the entry's gen becomes that segment's. Y's stack
 * keeps the latest tag in the connection (net_input_tagged) and reports
 * it when the connection leaves its tables (ops.released: after
 * TIME_WAIT, a reset, an abort); Y also reports a tagged segment after
 * which it holds no connection of that 4-tuple (a SYN refused or answered
 * with a cookie, a stray segment). Each report is a "forget" (4-tuple,
 * gen) on X's forget_in ring, and X removes the entry only while gen is
 * still the entry's: a report that crossed a later segment (a SYN opening
 * the 4-tuple again) leaves it. So an entry lives exactly as long as Y
 * holds the connection or has segments of it in flight, and the order of
 * the messages does not matter.
 *
 * Only a SYN (without ACK) opens an entry: when X's stack does not hold
 * the 4-tuple and the port's agent has tunnels elsewhere only. Anything
 * else without an entry is X's own, and so is a client the engine places
 * on X or nowhere (public.c serves or refuses it). The table holds at
 * most --dpdk-conns entries (each stands for a connection slot of another
 * lcore); a SYN that finds it full stays on X, where public.c refuses it
 * (counted, logged). Under SYN cookies Y may answer a SYN and keep
 * nothing; the stacks share one secret, so the ACK completing the cookie
 * validates on X too, where the stack asks first (ops.cookie_ack): X
 * places it and hands it over like a SYN. Tunnels (the agent port) are
 * never steered. At exit the rings are emptied and their mbufs freed. */

#define STEER_RING 1024		/* mbufs waiting for one lcore */
#define FORGET_RING 4096	/* forgets waiting for one lcore */
#define FORGET_PEND_MAX 4096	/* forgets that found a ring full, kept */

enum { T_FIN = 0x01, T_SYN = 0x02, T_RST = 0x04, T_ACK = 0x10 };

/* "Forget 4-tuple key after segment gen", from the lcore holding the
 * connection to the one steering it (to: that one, in fpend). */
struct steer_msg {
	uint64_t key;
	uint32_t gen;
	uint16_t to;
	uint16_t pad;
};

static int steer_tag_off = -1;	/* the mbuf dynamic field of the tag */
#define STEER_TAG(m) RTE_MBUF_DYNFIELD((m), steer_tag_off, uint64_t *)

/* A TCP segment to our MAC and address (IPv4, not a fragment): its key,
 * our port and its flags. Lengths past the headers are the stack's to
 * check. */
static bool steer_parse(const struct dworker *dw, const uint8_t *f, size_t len, uint64_t *key,
			uint16_t *lport, uint8_t *flags)
{
	const uint8_t *ip = f + 14, *th;
	size_t ihl;

	if (len < 14 + 20 + 20 || f[12] != 0x08 || f[13] != 0x00 || memcmp(f, dw->mac, 6) ||
	    (ip[0] >> 4) != 4 || ip[9] != IPPROTO_TCP || (fy_get16(ip + 6) & 0x3fff) ||
	    fy_get32(ip + 16) != dw->ip)
		return false;
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	if (ihl < 20 || len < 14 + ihl + 20)
		return false;
	th = ip + ihl;
	*lport = fy_get16(th + 2);
	*key = steer_key(fy_get32(ip + 12), fy_get16(th), *lport);
	*flags = th[13];
	return true;
}

/* An entry for a new client of lport on the worker that serves it, or
 * NULL: it stays here (this lcore serves it, nobody does, or the table
 * is full). */
static struct steer_entry *steer_place(struct dworker *dw, uint64_t key, uint16_t lport)
{
	uint64_t serial;
	unsigned to = engine_place_client(dw->w->r, lport, dw->w->id, &serial);
	struct steer_entry *e;

	if (to == (unsigned)-1 || to == dw->w->id || to >= dw->nall)
		return NULL;
	e = steer_add(&dw->steer, key);
	if (!e) {
		dw->cnt.steer_table_full++;
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "worker %u: steering table full (%u flows): a new "
			  "client of port %u stays on this worker, which holds no tunnel of its "
			  "agent (--dpdk-conns sets the size)", dw->w->id, dw->steer.n, lport);
		return NULL;
	}
	e->owner = (uint16_t)to;
	e->gen = 0;
	dw->cnt.steer_entries = dw->steer.n;
	return e;
}

/* Hands m to e's owner with a new tag. false when its ring is full (m is
 * still the caller's; the entry unchanged). */
static bool steer_send(struct dworker *dw, struct steer_entry *e, struct rte_mbuf *m)
{
	uint32_t gen = dw->steer_gen + 1;

	*STEER_TAG(m) = (uint64_t)(dw->w->id + 1) << 32 | gen;
	if (rte_ring_mp_enqueue(dw->all[e->owner].steer_in, m) != 0) {
		dw->cnt.steer_ring_full++;
		return false;
	}
	dw->steer_gen = gen;
	e->gen = gen;
	dw->cnt.steered_out++;
	return true;
}

/* A segment whose ring was full is dropped (TCP sends it again); an
 * entry that was just made for it goes too. */
static void steer_send_or_drop(struct dworker *dw, struct steer_entry *e, struct rte_mbuf *m,
			       bool fresh)
{
	if (steer_send(dw, e, m)) {
		dw->cnt.steered_flows += fresh;
		return;
	}
	if (fresh) {
		steer_remove(&dw->steer, e);
		dw->cnt.steer_entries = dw->steer.n;
	}
	rte_pktmbuf_free(m);
}

/* RX on this lcore, before the stack: true when m went to another lcore
 * (or was dropped on the way), false when this stack takes it. */
static bool steer_rx(struct dworker *dw, struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	struct steer_entry *e;
	uint64_t key;
	uint16_t lport;
	uint8_t fl;

	if (!steer_parse(dw, f, m->data_len, &key, &lport, &fl) || lport == dw->agent_port)
		return false;
	if ((e = steer_find(&dw->steer, key))) {
		steer_send_or_drop(dw, e, m, false);
		return true;
	}
	if ((fl & (T_SYN | T_ACK | T_RST | T_FIN)) != T_SYN ||
	    tcp_conn_exists(dw->st, (uint32_t)(key >> 32), (uint16_t)(key >> 16), lport) ||
	    !(e = steer_place(dw, key, lport)))
		return false;
	steer_send_or_drop(dw, e, m, true);
	return true;
}

/* Called by this lcore's stack while it processes a frame without an
 * entry: an ACK completing a SYN cookie. When its client belongs on
 * another lcore, the frame goes there after net_input (steer_cookie_out). */
static bool up_cookie_ack(void *ctx, uint32_t rip, uint16_t rport, uint16_t lport)
{
	struct dworker *dw = ctx;
	uint64_t key = steer_key(rip, rport, lport);

	if (!dw->steer_on || lport == dw->agent_port || dw->cookie_steer ||
	    !steer_place(dw, key, lport))
		return false;
	dw->cookie_key = key;
	dw->cookie_steer = true;
	return true;
}

static void steer_cookie_out(struct dworker *dw, struct rte_mbuf *m)
{
	struct steer_entry *e = steer_find(&dw->steer, dw->cookie_key);

	dw->cookie_steer = false;
	if (!e) {
		rte_pktmbuf_free(m);
		return;
	}
	if (steer_send(dw, e, m)) {
		dw->cnt.steer_cookie++;
		dw->cnt.steered_flows++;
		return;
	}
	steer_remove(&dw->steer, e);
	dw->cnt.steer_entries = dw->steer.n;
	rte_pktmbuf_free(m);
}

/* Tells lcore `tag`'s origin to forget key after that tag's segment. */
static void steer_forget_send(struct dworker *dw, uint64_t tag, uint64_t key)
{
	unsigned origin = (unsigned)(tag >> 32) - 1;
	struct steer_msg msg = { .key = key, .gen = (uint32_t)tag, .to = (uint16_t)origin };

	if (origin >= dw->nall)
		return;
	if (rte_ring_mp_enqueue_elem(dw->all[origin].forget_in, &msg, sizeof(msg)) == 0)
		return;
	if (dw->nfpend < FORGET_PEND_MAX)
		dw->fpend[dw->nfpend++] = msg;
	else
		dw->cnt.steer_forget_lost++;	/* the entry stays until its 4-tuple comes again */
}

/* This lcore's stack let go of a connection that was steered here. */
static void up_released(void *ctx, uint64_t tag, uint32_t rip, uint16_t rport, uint16_t lport)
{
	struct dworker *dw = ctx;

	if (dw->steer_on)
		steer_forget_send(dw, tag, steer_key(rip, rport, lport));
}

/* Segments other lcores handed over. Returns how many. */
static unsigned steer_take(struct dworker *dw, uint64_t t)
{
	struct rte_mbuf *ms[DW_BURST];
	unsigned n = 0, k;

	do {
		k = rte_ring_sc_dequeue_burst(dw->steer_in, (void **)ms, DW_BURST, NULL);
		for (unsigned i = 0; i < k; i++) {
			struct rte_mbuf *m = ms[i];
			const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
			uint64_t tag = *STEER_TAG(m), key;
			uint16_t lport;
			uint8_t fl;

			if (!net_input_tagged(dw->st, f, m->data_len, t, rx_csum_flags(dw, m), tag) &&
			    steer_parse(dw, f, m->data_len, &key, &lport, &fl))
				steer_forget_send(dw, tag, key);
			rte_pktmbuf_free(m);
		}
		n += k;
	} while (k == DW_BURST && n < RX_BUDGET);
	dw->cnt.steered_in += n;
	return n;
}

/* Forgets from the lcores this one steers to, and its own that waited. */
static void steer_forgets(struct dworker *dw)
{
	struct steer_msg msg[DW_BURST];
	unsigned k, n = 0, keep = 0;

	for (unsigned i = 0; i < dw->nfpend; i++)
		if (rte_ring_mp_enqueue_elem(dw->all[dw->fpend[i].to].forget_in, &dw->fpend[i],
					     sizeof(dw->fpend[i])) != 0)
			dw->fpend[keep++] = dw->fpend[i];
	dw->nfpend = keep;
	do {
		k = rte_ring_sc_dequeue_burst_elem(dw->forget_in, msg, sizeof(msg[0]), DW_BURST,
						   NULL);
		for (unsigned i = 0; i < k; i++)
			steer_forget(&dw->steer, msg[i].key, msg[i].gen);
		n += k;
	} while (k == DW_BURST && n < FORGET_RING);
	dw->cnt.steer_entries = dw->steer.n;
}

static void rx_frames(struct dworker *dw, struct rte_mbuf **rx, uint16_t n, uint64_t t)
{
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = rx[i];

		/* Frames fit one segment: the pool's buffers exceed the MTU. */
		if (m->nb_segs == 1) {
			const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);

			share_arp_reply(dw, f, m->data_len);
			if (dw->steer_on && steer_rx(dw, m))
				continue;	/* handed to another lcore */
			net_input_ex(dw->st, f, m->data_len, t, rx_csum_flags(dw, m));
			if (dw->cookie_steer) {
				steer_cookie_out(dw, m);
				continue;
			}
		} else {
			dw->cnt.rx_multiseg++;
		}
		rte_pktmbuf_free(m);
	}
}

/* Before the workers: the mbuf field that carries a steered segment's
 * tag. 0 or -1 (printed). */
static int steer_setup(struct relay *r)
{
	static const struct rte_mbuf_dynfield desc = {
		.name = "ferry_steer_tag",
		.size = sizeof(uint64_t),
		.align = __alignof__(uint64_t),
	};

	(void)r;
	steer_tag_off = rte_mbuf_dynfield_register(&desc);
	if (steer_tag_off < 0) {
		fprintf(stderr, "ferry-relay: cannot register an mbuf field for steering: %s\n",
			rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

/* A worker's table and rings (with more than one lcore). 0 or -1 (printed). */
static int steer_init_worker(struct relay *r, struct dworker *dw)
{
	char rname[32];
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed) ||
	    steer_init(&dw->steer, r->cfg.dpdk_conns, seed) < 0 ||
	    !(dw->fpend = calloc(FORGET_PEND_MAX, sizeof(*dw->fpend)))) {
		fprintf(stderr, "ferry-relay: cannot make the steering table of worker %u\n",
			dw->w->id);
		return -1;
	}
	snprintf(rname, sizeof(rname), "ferry_steer_%u", dw->w->id);
	dw->steer_in = rte_ring_create(rname, STEER_RING, (int)rte_socket_id(), RING_F_SC_DEQ);
	if (dw->steer_in) {
		snprintf(rname, sizeof(rname), "ferry_forget_%u", dw->w->id);
		dw->forget_in = rte_ring_create_elem(rname, sizeof(struct steer_msg), FORGET_RING,
						     (int)rte_socket_id(), RING_F_SC_DEQ);
	}
	if (!dw->forget_in) {
		fprintf(stderr, "ferry-relay: cannot create ring %s: %s\n", rname,
			rte_strerror(rte_errno));
		return -1;
	}
	dw->steer_on = true;
	return 0;
}

/* After every lcore stopped: the segments still on their way are freed,
 * the forgets and the entries dropped (their connections are gone with
 * the stacks). */
static void steer_fini_worker(struct dworker *dw)
{
	void *p;

	if (dw->steer_in) {
		while (rte_ring_dequeue(dw->steer_in, &p) == 0)
			rte_pktmbuf_free(p);
		rte_ring_free(dw->steer_in);
	}
	rte_ring_free(dw->forget_in);	/* plain 16-byte messages */
	free(dw->fpend);
	steer_fini(&dw->steer);
	dw->steer_in = dw->forget_in = NULL;
	dw->fpend = NULL;
	dw->steer_on = false;
}

/* On lcore 0. A token reload reads a small file and waits one grace
 * period (every lcore passes a loop turn): queue 0 pauses for that long. */
static void handle_signals(struct relay *r)
{
	int sig = got_stop;

	if (got_hup) {
		got_hup = 0;
		bool t, p;

		if (relay_reload(r, false, &t, &p) == -EBUSY)
			FY_INFO("relay", "SIGHUP: a reload (admin API) is running already");
	}
	if (!sig)
		return;
	got_stop = 0;
	if (atomic_load(&r->draining))
		atomic_store(&r->stop, true);
	else
		atomic_store(&r->draining, true);
	FY_INFO("relay", "signal %d: %s", sig,
		atomic_load(&r->stop) ? "stopping now" : "draining, then exiting");
	for (unsigned i = 0; i < r->nworkers; i++)
		b_wake(&r->workers[i]);
}

/* CPU time of the calling thread. A system call (the vDSO has no
 * per-thread clock): only for idle turns. */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The sleep of an idle lcore costs CPU of its own (the system call, the
 * timer, the wake-up) that no loop turn sees: counted, so the lcore's CPU
 * time can be split into busy and idle work (bench/memif/run.sh). */
static void idle_sleep(struct dworker *dw)
{
	uint64_t c0 = thread_cpu_ns();

	usleep(IDLE_SLEEP_US);
	dw->cnt.sleep_cpu_ns += thread_cpu_ns() - c0;
}

static int lcore_main(void *arg)
{
	struct dworker *dw = arg;
	struct worker *w = dw->w;
	struct relay *r = w->r;
	uint64_t last_rx = now_us(), start = last_rx;
	struct rte_mbuf *rx[DW_BURST];

	rcu_register_thread();
	w->now_ms = w->last_tick_ms = last_rx / 1000;
	for (;;) {
		uint64_t c0 = rte_rdtsc(), t = now_us();
		uint64_t sent = dw->cnt.tx_zero_copy + dw->cnt.tx_copied;
		unsigned n = 0;
		uint16_t k;

		/* Everything waiting first (up to a budget), then the timers:
		 * after a stall (the lcore preempted), ACKs already in the
		 * ring must count before retransmission timers fire. */
		do {
			k = rte_eth_rx_burst(dw->port_id, dw->queue, rx, DW_BURST);
			rx_frames(dw, rx, k, t);
			n += k;
		} while (k == DW_BURST && n < RX_BUDGET);
		if (dw->steer_on) {
			n += steer_take(dw, t);
			steer_forgets(dw);
		}
		take_arp_copies(dw, t);
		net_poll_timers(dw->st, t);
		if (w->id == 0 && (got_stop || got_hup))
			handle_signals(r);
		if (atomic_exchange(&dw->wake, false))
			worker_wakeup(w);
		w->now_ms = t / 1000;
		if (worker_step(w, w->now_ms))
			break;
		net_flush(dw->st);
		tx_flush(dw);
		dw->cnt.polls++;
		rcu_quiescent_state();	/* no registry pointer held across turns */
		/* Turns that moved packets are the lcore's work; the rest is
		 * polling an idle port. */
		if (n || dw->cnt.tx_zero_copy + dw->cnt.tx_copied != sent)
			dw->cnt.busy_cycles += rte_rdtsc() - c0;
		else
			dw->cnt.idle_cycles += rte_rdtsc() - c0;
		if (t - dw->published_us >= DSTATS_PERIOD_US) {
			dstats_publish(dw, t);
			worker_publish_busy(w, fy_cycles_to_us(dw->cnt.busy_cycles, rte_get_tsc_hz()),
					    t - start, w->now_ms);
		}
		if (n)
			last_rx = t;
		else if (t - last_rx > 1000)
			idle_sleep(dw);
	}
	worker_finish(w);
	net_flush(dw->st);
	tx_flush(dw);
	dstats_publish(dw, now_us());
	rcu_unregister_thread();
	atomic_fetch_sub(&r->running, 1);
	return 0;
}

static int split_args(char *s, char **argv, int max)
{
	int n = 0;

	for (char *tok = strtok(s, " \t"); tok && n < max; tok = strtok(NULL, " \t"))
		argv[n++] = tok;
	return n;
}

/* Checksum offloads the port has, both IPv4 and TCP or none: the stack
 * leaves both to the port or computes both (NET_CFG_TX_CSUM_OFFLOAD). */
#define TX_CSUM (RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM)
#define RX_CSUM (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM)

static int port_setup(struct relay *r, uint16_t port_id, uint16_t nq, struct rte_mempool *pool,
		      bool *tx_csum, bool *rx_csum)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	int e;

	e = rte_eth_dev_info_get(port_id, &info);
	if (e < 0)
		return e;
	if (nq > info.max_rx_queues || nq > info.max_tx_queues) {
		fprintf(stderr, "ferry-relay: DPDK port %u has at most %u queue pairs, not %u\n",
			port_id, RTE_MIN(info.max_rx_queues, info.max_tx_queues), nq);
		return -EINVAL;
	}
	if (nq > 1) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP) & info.flow_type_rss_offloads;
	}
	if (r->cfg.dpdk_mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN <= info.max_rx_pktlen &&
	    r->cfg.dpdk_mtu <= info.max_mtu) {
		conf.rxmode.mtu = r->cfg.dpdk_mtu;
	} else if (!strcmp(info.driver_name, "net_memif")) {
		/* DPDK 22.11's memif driver reports a 1518-byte maximum yet
		 * carries larger frames: the port keeps its default MTU, the
		 * stack uses ours. Chained 2 KiB buffers lost full-size jumbo
		 * frames in bench/memif, whole-frame buffers did not. */
		FY_INFO("relay", "DPDK port %u (net_memif) reports %u-byte frames at most but "
			"carries larger ones; for --dpdk-mtu %u give it buffers that hold a whole "
			"frame (bsize=16384 in its --vdev)", port_id, info.max_rx_pktlen,
			r->cfg.dpdk_mtu);
	} else {
		fprintf(stderr, "ferry-relay: DPDK port %u (%s) takes an MTU of at most %u, not %u "
			"(--dpdk-mtu)\n", port_id, info.driver_name,
			RTE_MIN(info.max_mtu, info.max_rx_pktlen - RTE_ETHER_HDR_LEN - RTE_ETHER_CRC_LEN),
			r->cfg.dpdk_mtu);
		return -EINVAL;
	}
	*tx_csum = !r->cfg.dpdk_no_offload && (info.tx_offload_capa & TX_CSUM) == TX_CSUM;
	*rx_csum = !r->cfg.dpdk_no_offload && (info.rx_offload_capa & RX_CSUM) == RX_CSUM;
	if (*tx_csum)
		conf.txmode.offloads |= TX_CSUM;
	if (*rx_csum)
		conf.rxmode.offloads |= RX_CSUM;
	FY_INFO("relay", "DPDK port %u (%s): MTU %u, checksums on transmit %s, on receive %s%s",
		port_id, info.driver_name, r->cfg.dpdk_mtu, *tx_csum ? "by the port" : "in software",
		*rx_csum ? "checked by the port" : "checked in software",
		r->cfg.dpdk_no_offload ? " (--dpdk-offload off)" : "");
	e = rte_eth_dev_configure(port_id, nq, nq, &conf);
	for (uint16_t q = 0; e == 0 && q < nq; q++) {
		e = rte_eth_rx_queue_setup(port_id, q, RX_DESC, rte_eth_dev_socket_id(port_id),
					   NULL, pool);
		if (e == 0)
			e = rte_eth_tx_queue_setup(port_id, q, TX_DESC,
						   rte_eth_dev_socket_id(port_id), NULL);
	}
	if (e == 0)
		e = rte_eth_dev_start(port_id);
	if (e == 0)
		rte_eth_promiscuous_enable(port_id);
	return e;
}

int dpdk_backend_run(struct relay *r)
{
	char eal_buf[sizeof(r->cfg.dpdk_eal)], *eal_argv[64], host[128];
	struct net_config nc;
	struct rte_mempool *pool;
	struct rte_ether_addr mac;
	struct dworker *dws = NULL;
	uint16_t port_id = (uint16_t)r->cfg.dpdk_port, agent_port;
	unsigned nlcores, i, lcore;
	bool tx_csum = false, rx_csum = false;
	int eal_argc, rc = 1;

	r->be = &relay_dpdk_backend;
	eal_argv[0] = "ferry-relay";
	snprintf(eal_buf, sizeof(eal_buf), "%s", r->cfg.dpdk_eal);
	eal_argc = 1 + split_args(eal_buf, eal_argv + 1, 62);
	eal_argv[eal_argc] = NULL;
	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		fprintf(stderr, "ferry-relay: DPDK EAL init failed (--dpdk-eal \"%s\"): %s\n",
			r->cfg.dpdk_eal, rte_strerror(rte_errno));
		return 2;
	}
	if (!rte_eth_dev_is_valid_port(port_id)) {
		fprintf(stderr, "ferry-relay: no DPDK port %u (%u ports; add one with --vdev or a "
			"PCI address in --dpdk-eal)\n", port_id, rte_eth_dev_count_avail());
		goto out_eal;
	}
	nlcores = rte_lcore_count();
	if (r->nworkers > nlcores) {
		FY_INFO("relay", "%u lcores: using %u workers", nlcores, nlcores);
		r->nworkers = nlcores;
	}
	net_config_default(&nc);
	if (net_parse_ipv4(r->cfg.dpdk_ip, &nc.ip, &nc.prefix_len) < 0 ||
	    (r->cfg.dpdk_gw[0] && net_parse_ipv4(r->cfg.dpdk_gw, &nc.gateway, NULL) < 0)) {
		fprintf(stderr, "ferry-relay: bad --dpdk-ip or --dpdk-gateway\n");
		goto out_eal;
	}
	if (fy_sock_split_hostport(r->cfg.listen, host, sizeof(host), &agent_port) < 0) {
		fprintf(stderr, "ferry-relay: --listen '%s' is not ADDR:PORT\n", r->cfg.listen);
		goto out_eal;
	}
	/* Per-lcore caches hold up to 1.5x their size: keep them a small
	 * share of a small pool, or one lcore's cache starves the rest. One
	 * mbuf holds a whole frame (the RX path takes single segments), never
	 * less than DPDK's default. */
	pool = rte_pktmbuf_pool_create("ferry_mbufs", r->cfg.dpdk_mbufs,
				       RTE_MIN(256u, r->cfg.dpdk_mbufs / 8), 0,
				       (uint16_t)(RTE_PKTMBUF_HEADROOM +
						  RTE_MAX((unsigned)RTE_MBUF_DEFAULT_DATAROOM,
							  net_frame_max(r->cfg.dpdk_mtu))),
				       (int)rte_socket_id());
	if (!pool) {
		fprintf(stderr, "ferry-relay: cannot create a pool of %u mbufs: %s\n",
			r->cfg.dpdk_mbufs, rte_strerror(rte_errno));
		goto out_eal;
	}
	if (port_setup(r, port_id, (uint16_t)r->nworkers, pool, &tx_csum, &rx_csum) < 0) {
		fprintf(stderr, "ferry-relay: cannot set up DPDK port %u (with --dpdk-mbufs %u: a "
			"NIC fills its %u RX descriptors per queue from the pool)\n", port_id,
			r->cfg.dpdk_mbufs, RX_DESC);
		goto out_pool;
	}
	if (tx_csum)
		nc.flags |= NET_CFG_TX_CSUM_OFFLOAD;
	nc.mtu = (uint16_t)r->cfg.dpdk_mtu;
	nc.max_conns = r->cfg.dpdk_conns;
	nc.syn_backlog = r->cfg.dpdk_syn_backlog;
	if (r->cfg.dpdk_syncookies_always)
		nc.flags |= NET_CFG_SYNCOOKIE_ALWAYS;
	/* The loop drains the RX ring, then runs the timers: one ACK per
	 * connection per burst instead of one per two segments (a third of
	 * the frames of a bulk transfer were ACKs). */
	nc.flags |= NET_CFG_ACK_PER_BURST;
	/* One secret for every lcore's stack: a SYN cookie one sends
	 * validates on the lcore the client's ACK arrives on (steering). */
	if (getrandom(nc.secret, sizeof(nc.secret), 0) != (ssize_t)sizeof(nc.secret)) {
		fprintf(stderr, "ferry-relay: getrandom: %s\n", strerror(errno));
		goto out_port;
	}
	rte_eth_macaddr_get(port_id, &mac);
	memcpy(nc.mac, mac.addr_bytes, 6);

	r->workers = aligned_alloc(_Alignof(struct worker), r->nworkers * sizeof(*r->workers));
	if (r->workers)
		memset(r->workers, 0, r->nworkers * sizeof(*r->workers));
	dws = calloc(r->nworkers, sizeof(*dws));
	if (!r->workers || !dws)
		goto out_port;
	if (r->nworkers > 1 && steer_setup(r) < 0)
		goto out_port;
	for (i = 0; i < r->nworkers; i++) {
		struct worker *w = &r->workers[i];
		struct dworker *dw = &dws[i];

		if (worker_init(w, r, i) < 0)
			goto out_workers;
		w->be_data = dw;
		dw->w = w;
		fy_pool_init(&dw->dconns, sizeof(struct dconn), 256);
		dw->port_id = port_id;
		dw->queue = (uint16_t)i;
		dw->pool = pool;
		dw->agent_port = agent_port;
		dw->tx_csum = tx_csum;
		dw->rx_csum = rx_csum;
		dw->all = dws;
		dw->nall = r->nworkers;
		dw->ip = nc.ip;
		memcpy(dw->mac, nc.mac, 6);
		if (r->nworkers > 1) {
			char rname[32];

			snprintf(rname, sizeof(rname), "ferry_arp_%u", i);
			dw->arp_in = rte_ring_create(rname, 256, (int)rte_socket_id(), RING_F_SC_DEQ);
			if (!dw->arp_in) {
				fprintf(stderr, "ferry-relay: cannot create ring %s\n", rname);
				goto out_workers;
			}
			if (steer_init_worker(r, dw) < 0)
				goto out_workers;
		}
		dw->st = net_stack_create(&nc, &dworker_ops, dw, now_us());
		if (!dw->st || tcp_listen(dw->st, agent_port, 0) < 0) {
			fprintf(stderr, "ferry-relay: cannot start the TCP stack of worker %u\n", i);
			goto out_workers;
		}
		dw->agent_listening = true;
		/* The ingress ports, on every lcore like claimed ports. */
		if (ingress_start(dw->w) < 0) {
			fprintf(stderr, "ferry-relay: cannot listen for the HTTP/HTTPS/SNI ingress on "
				"worker %u\n", i);
			goto out_workers;
		}
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);
	FY_INFO("relay", "ferry-relay (dpdk) on port %u, %s, mac %02x:%02x:%02x:%02x:%02x:%02x, "
		"agents on TCP %u, %u worker lcore(s)", port_id, r->cfg.dpdk_ip, mac.addr_bytes[0],
		mac.addr_bytes[1], mac.addr_bytes[2], mac.addr_bytes[3], mac.addr_bytes[4],
		mac.addr_bytes[5], agent_port, r->nworkers);
	dstats_register(dws, r->nworkers, pool);
	r->be_metrics = dstats_metrics;
	atomic_store(&r->running, r->nworkers);
	/* The control thread beside the lcores (it blocks the signals lcore 0
	 * takes); it only talks to them through their inboxes. */
	if (admin_start(r) < 0) {
		rc = 2;
		goto out_workers;
	}
	atomic_store(&r->ready, true);
	i = 1;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (i >= r->nworkers)
			break;
		rte_eal_remote_launch(lcore_main, &dws[i++], lcore);
	}
	lcore_main(&dws[0]);
	rte_eal_mp_wait_lcore();
	admin_stop(r);
	rc = 0;
	dstats_log(dws, r->nworkers);
out_workers:
	dstats_unregister();
	rcu_barrier();
	for (i = 0; dws && i < r->nworkers; i++) {
		if (dws[i].st)
			net_stack_destroy(dws[i].st);
		rte_pktmbuf_free(dws[i].spare);
		if (dws[i].arp_in) {
			void *p;

			while (rte_ring_dequeue(dws[i].arp_in, &p) == 0)
				free(p);
			rte_ring_free(dws[i].arp_in);
		}
		steer_fini_worker(&dws[i]);
		worker_fini(&r->workers[i]);
		fy_pool_fini(&dws[i].dconns);
	}
	free(dws);
	free(r->workers);
	r->workers = NULL;
out_port:
	rte_eth_dev_stop(port_id);
	rte_eth_dev_close(port_id);
out_pool:
	rte_mempool_free(pool);
out_eal:
	rte_eal_cleanup();
	return rc;
}
