/* The stack object: configuration, entry points, and the delivery of
 * upcalls. Upcalls are queued while a frame or a timer is processed and
 * delivered when the outermost entry point returns, so that no upcall ever
 * runs while a connection is half-updated, and the application may call
 * anything from inside one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "net_impl.h"

const char *const net_counter_names[] = {
#define NET_COUNTER_NAME(n) #n,
	NET_COUNTERS(NET_COUNTER_NAME)
#undef NET_COUNTER_NAME
};
const size_t net_counter_count = sizeof(net_counter_names) / sizeof(net_counter_names[0]);

void net_config_default(struct net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->prefix_len = 24;
	cfg->mtu = 1500;
	cfg->ttl = 64;
	cfg->max_conns = 4096;
	cfg->max_listeners = 256;
	/* Like Linux's tcp_max_syn_backlog: cookies are for floods, not for
	 * a burst of real clients (a cookie handshake whose ACK and first
	 * data are both lost cannot be completed: the client gets a reset). */
	cfg->syn_backlog = 1024;
	cfg->sndbuf = 256 * 1024;
	cfg->rcvbuf = 256 * 1024;
	cfg->ooo_max_segs = 32;
	cfg->rto_init_ms = 1000;
	cfg->rto_min_ms = 200;
	cfg->rto_max_ms = 60000;
	cfg->max_retries = 12;
	cfg->syn_retries = 5;
	cfg->delack_ms = 40;
	cfg->time_wait_ms = 2000;
	cfg->fin_wait2_ms = 30000;
	cfg->arp_entries = 64;
	cfg->arp_timeout_ms = 60000;
	cfg->arp_retry_ms = 1000;
	cfg->arp_retries = 3;
	cfg->arp_queue_per_entry = 4;
	cfg->arp_queue_total = 64;
}

static int check_config(struct net_config *c)
{
	static const uint8_t zero[16];

	if (c->mtu < 576 || c->mtu > 9000 || c->prefix_len > 32 || !c->ip)
		return -EINVAL;
	if (!c->mss || c->mss > c->mtu - 40)
		c->mss = (uint16_t)(c->mtu - 40);
	if (c->mss < 88)
		return -EINVAL;
	if (!c->ttl)
		c->ttl = 64;
	if (!c->max_conns || c->max_conns > (1u << 24) || !c->max_listeners ||
	    c->max_listeners > 65535)
		return -EINVAL;
	/* Window scale 14 caps a window at 1 GiB. */
	if (c->sndbuf < 2048 || c->rcvbuf < 2048 || c->sndbuf > (1u << 30) ||
	    c->rcvbuf > (1u << 30))
		return -EINVAL;
	if (!c->ooo_max_segs || c->ooo_max_segs > NET_OOO_MAX)
		return -EINVAL;
	if (!c->ooo_max_bytes || c->ooo_max_bytes > c->rcvbuf)
		c->ooo_max_bytes = c->rcvbuf;
	if (!c->rto_min_ms || c->rto_min_ms > c->rto_max_ms ||
	    c->rto_init_ms < c->rto_min_ms || c->rto_max_ms > 3600 * 1000)
		return -EINVAL;
	if (!c->syn_backlog)
		c->syn_backlog = 1024;
	if (!c->arp_entries || c->arp_entries > 65535 || !c->arp_queue_total ||
	    c->arp_queue_total > 65535 || !c->arp_retries || !c->arp_retry_ms)
		return -EINVAL;
	if (!memcmp(c->secret, zero, sizeof(zero)) &&
	    getrandom(c->secret, sizeof(c->secret), 0) != (ssize_t)sizeof(c->secret))
		return -EIO;
	return 0;
}

struct net_stack *net_stack_create(const struct net_config *cfg,
				   const struct net_ops *ops, void *ctx,
				   uint64_t now_us)
{
	struct net_stack *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->cfg = *cfg;
	st->ops = *ops;
	st->ctx = ctx;
	st->now_us = now_us;
	if (check_config(&st->cfg) < 0 || !ops->tx)
		goto out;
	st->netmask = st->cfg.prefix_len ? ~0u << (32 - st->cfg.prefix_len) : 0;
	tw_init(&st->wheel, now_us / 1000);
	st->own_txbuf = calloc(1, (size_t)ETH_HLEN + st->cfg.mtu);
	st->txbuf = st->own_txbuf;
	if (!st->own_txbuf || arp_init(st) < 0 || tcp_tables_init(st) < 0)
		goto out;
	return st;
out:
	net_stack_destroy(st);
	return NULL;
}

void net_stack_destroy(struct net_stack *st)
{
	if (!st)
		return;
	tcp_tables_fini(st);
	arp_fini(st);
	free(st->own_txbuf);
	free(st);
}

const struct net_counters *net_counters(const struct net_stack *st)
{
	return &st->cnt;
}

const struct net_config *net_config(const struct net_stack *st)
{
	return &st->cfg;
}

void net_enter(struct net_stack *st, uint64_t now_us)
{
	st->depth++;
	if (now_us > st->now_us)	/* time never goes back */
		st->now_us = now_us;
}

static void deliver_one(struct net_stack *st, struct tcp_conn *c, uint8_t ev)
{
	if (!c->app)
		return;
	if (ev & EV_ACCEPTED) {
		if (c->state == TCP_CLOSED) {
			c->app = false;	/* died before the app saw it */
			tcp_conn_reap(c);
			return;
		}
		if (!st->ops.accepted || st->ops.accepted(st->ctx, c, c->lport) < 0) {
			c->app = false;
			c->ev = 0;
			tcp_conn_drop(c, 0, true);
			return;
		}
	}
	if (ev & EV_CONNECTED) {
		if (c->err) {
			c->app = false;
			c->ev = 0;
			if (st->ops.connected)
				st->ops.connected(st->ctx, c, c->err);
			tcp_conn_reap(c);
			return;
		}
		if (st->ops.connected)
			st->ops.connected(st->ctx, c, 0);
	}
	if (c->app && (ev & EV_READABLE) && c->want_rd && st->ops.readable)
		st->ops.readable(st->ctx, c);
	if (c->app && (ev & EV_WRITABLE) && st->ops.writable)
		st->ops.writable(st->ctx, c);
	if (c->app && (ev & EV_CLOSED)) {
		c->app = false;
		c->ev = 0;
		if (st->ops.closed)
			st->ops.closed(st->ctx, c, c->err);
		tcp_conn_release(c);
	}
}

/* Rounds are bounded so that an application that keeps asking for an
 * upcall it does not act on cannot spin the core; leftovers wait for the
 * next entry point. */
static void deliver(struct net_stack *st)
{
	for (int round = 0; round < 8 && st->ev_head; round++) {
		struct tcp_conn *list = st->ev_head;

		st->ev_head = st->ev_tail = NULL;
		while (list) {
			struct tcp_conn *c = list;
			uint8_t ev = c->ev;

			list = c->ev_next;
			c->ev_next = NULL;
			c->on_ev = false;
			c->ev = 0;
			deliver_one(st, c, ev);
		}
	}
}

void net_leave(struct net_stack *st)
{
	if (st->depth == 1) {
		deliver(st);
		tcp_reap_all(st);
	}
	st->depth--;
}

static void input(struct net_stack *st, const uint8_t *frame, size_t len, uint64_t now_us,
		  unsigned rx_flags)
{
	net_enter(st, now_us);
	CNT(st, rx_frames);
	st->cnt.rx_bytes += len;
	eth_input(st, frame, len, rx_flags);
	net_leave(st);
}

void net_input_ex(struct net_stack *st, const uint8_t *frame, size_t len,
		  uint64_t now_us, unsigned rx_flags)
{
	input(st, frame, len, now_us, rx_flags & ~NET_RX_TAGGED);
}

bool net_input_tagged(struct net_stack *st, const uint8_t *frame, size_t len,
		      uint64_t now_us, unsigned rx_flags, uint64_t tag)
{
	bool held;

	st->rx_tag = tag;
	st->rx_tag_held = false;
	input(st, frame, len, now_us, (rx_flags & ~NET_RX_TAGGED) | (tag ? NET_RX_TAGGED : 0));
	held = st->rx_tag_held;
	st->rx_tag = 0;
	st->rx_tag_held = false;
	return held;
}

void net_input(struct net_stack *st, const uint8_t *frame, size_t len,
	       uint64_t now_us)
{
	net_input_ex(st, frame, len, now_us, 0);
}

void net_poll_timers(struct net_stack *st, uint64_t now_us)
{
	net_enter(st, now_us);
	tcp_ack_flush(st);	/* the burst before is over */
	tw_advance(&st->wheel, st->now_us / 1000);
	net_leave(st);
}

void net_flush(struct net_stack *st)
{
	net_enter(st, st->now_us);
	tcp_ack_flush(st);
	net_leave(st);
}
