/* TCP connection objects: a fixed pool (max_conns, TIME_WAIT included),
 * the 4-tuple hash (XXH3 seeded from the stack secret, so a peer cannot
 * aim at one chain), listeners, and the lifetime rules: a connection's
 * memory is returned only when TCP is done with it AND the application
 * has let go of the handle. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "net_impl.h"
#include "siphash.h"

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 16;

	while (p < n)
		p <<= 1;
	return p;
}

int tcp_tables_init(struct net_stack *st)
{
	const struct net_config *cfg = &st->cfg;
	uint32_t nb = pow2_at_least(cfg->max_conns);
	uint32_t lb = pow2_at_least(cfg->max_listeners * 2);

	st->conns = calloc(cfg->max_conns, sizeof(*st->conns));
	st->conn_hash = calloc(nb, sizeof(*st->conn_hash));
	st->lst = calloc(cfg->max_listeners, sizeof(*st->lst));
	st->lst_hash = malloc(lb * sizeof(*st->lst_hash));
	if (!st->conns || !st->conn_hash || !st->lst || !st->lst_hash)
		return -ENOMEM;
	st->buf_cache_max = NET_BUF_CACHE_BYTES / (cfg->sndbuf + cfg->rcvbuf);
	if (st->buf_cache_max > NET_BUF_CACHE_MAX)
		st->buf_cache_max = NET_BUF_CACHE_MAX;
	if (st->buf_cache_max &&
	    !(st->buf_cache = calloc(st->buf_cache_max, sizeof(*st->buf_cache))))
		return -ENOMEM;
	st->conn_mask = nb - 1;
	st->lst_mask = lb - 1;
	for (uint32_t i = 0; i < lb; i++)
		st->lst_hash[i] = -1;
	for (uint32_t i = cfg->max_conns; i-- > 0;) {
		st->conns[i].hnext = st->conn_free;
		st->conn_free = &st->conns[i];
	}
	st->eph_next = (uint16_t)(TCP_EPHEMERAL_LO +
		siphash24(cfg->secret, "eph", 3) % (TCP_EPHEMERAL_HI - TCP_EPHEMERAL_LO + 1));
	return 0;
}

void tcp_tables_fini(struct net_stack *st)
{
	if (st->conns) {
		for (uint32_t i = 0; i < st->cfg.max_conns; i++) {
			ring_fini(&st->conns[i].sb);
			ring_fini(&st->conns[i].rb);
		}
	}
	while (st->buf_cached) {
		st->buf_cached--;
		free(st->buf_cache[st->buf_cached].sb);
		free(st->buf_cache[st->buf_cached].rb);
	}
	free(st->buf_cache);
	free(st->conns);
	free(st->conn_hash);
	free(st->lst);
	free(st->lst_hash);
}

static uint32_t conn_bucket(const struct net_stack *st, uint32_t rip,
			    uint16_t rport, uint16_t lport)
{
	uint8_t k[8];
	uint64_t seed;

	memcpy(&seed, st->cfg.secret, sizeof(seed));
	fy_put32(k, rip);
	fy_put16(k + 4, rport);
	fy_put16(k + 6, lport);
	return (uint32_t)XXH3_64bits_withSeed(k, sizeof(k), seed) & st->conn_mask;
}

struct tcp_conn *tcp_conn_lookup(struct net_stack *st, uint32_t rip,
				 uint16_t rport, uint16_t lport)
{
	struct tcp_conn *c = st->conn_hash[conn_bucket(st, rip, rport, lport)];

	for (; c; c = c->hnext)
		if (c->rip == rip && c->rport == rport && c->lport == lport)
			return c;
	return NULL;
}

bool tcp_conn_exists(struct net_stack *st, uint32_t rip, uint16_t rport, uint16_t lport)
{
	return tcp_conn_lookup(st, rip, rport, lport) != NULL;
}

static void hash_del(struct tcp_conn *c)
{
	struct net_stack *st = c->st;
	struct tcp_conn **pp = &st->conn_hash[conn_bucket(st, c->rip, c->rport, c->lport)];

	if (!c->in_hash)
		return;
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	}
	c->hnext = NULL;
	c->in_hash = false;
}

static uint32_t lst_bucket(const struct net_stack *st, uint16_t port)
{
	return (uint32_t)(port * 2654435761u >> 8) & st->lst_mask;
}

struct tcp_listener *tcp_listener_find(struct net_stack *st, uint16_t port)
{
	for (int32_t i = st->lst_hash[lst_bucket(st, port)]; i >= 0; i = st->lst[i].hnext)
		if (st->lst[i].port == port)
			return &st->lst[i];
	return NULL;
}

int tcp_listen(struct net_stack *st, uint16_t port, uint32_t backlog)
{
	uint32_t b;

	if (!port)
		return -EINVAL;
	if (tcp_listener_find(st, port))
		return -EADDRINUSE;
	for (uint32_t i = 0; i < st->cfg.max_listeners; i++) {
		struct tcp_listener *l = &st->lst[i];

		if (l->used)
			continue;
		b = lst_bucket(st, port);
		l->used = true;
		l->port = port;
		l->backlog = backlog ? backlog : st->cfg.syn_backlog;
		l->syn_count = 0;
		l->hnext = st->lst_hash[b];
		st->lst_hash[b] = (int32_t)i;
		return 0;
	}
	return -ENOSPC;
}

int tcp_unlisten(struct net_stack *st, uint16_t port)
{
	struct tcp_listener *l = tcp_listener_find(st, port);
	int32_t idx, *pp;

	if (!l)
		return -ENOENT;
	idx = (int32_t)(l - st->lst);
	for (pp = &st->lst_hash[lst_bucket(st, port)]; *pp >= 0; pp = &st->lst[*pp].hnext) {
		if (*pp == idx) {
			*pp = l->hnext;
			break;
		}
	}
	/* Half-open connections stop counting against a slot that may be
	 * reused; a control-plane call, so the scan is fine. */
	for (uint32_t i = 0; i < st->cfg.max_conns; i++)
		if (st->conns[i].in_use && st->conns[i].lidx == idx)
			st->conns[i].lidx = -1;
	memset(l, 0, sizeof(*l));
	return 0;
}

uint32_t tcp_isn(struct net_stack *st, uint32_t rip, uint16_t rport, uint16_t lport)
{
	uint8_t m[13];

	/* RFC 6528: a keyed hash of the connection id plus a 4 us clock. */
	m[0] = 'I';
	fy_put32(m + 1, st->cfg.ip);
	fy_put32(m + 5, rip);
	fy_put16(m + 9, lport);
	fy_put16(m + 11, rport);
	return (uint32_t)siphash24(st->cfg.secret, m, sizeof(m)) + (uint32_t)(st->now_us / 4);
}

uint32_t tcp_ts_off(struct net_stack *st, uint32_t rip, uint16_t rport, uint16_t lport)
{
	uint8_t m[9];

	/* Per-connection timestamp offset (RFC 7323 5.4); deterministic, so
	 * a SYN-cookie connection recomputes the one its SYN/ACK used. */
	m[0] = 'T';
	fy_put32(m + 1, rip);
	fy_put16(m + 5, rport);
	fy_put16(m + 7, lport);
	return (uint32_t)siphash24(st->cfg.secret, m, sizeof(m));
}

static uint8_t wscale_for(uint32_t buf)
{
	uint8_t ws = 0;

	while (ws < TCP_MAX_WSCALE && (buf >> ws) > 65535)
		ws++;
	return ws;
}

struct tcp_conn *tcp_conn_new(struct net_stack *st, uint32_t rip,
			      uint16_t rport, uint16_t lport)
{
	struct tcp_conn *c = st->conn_free;
	uint32_t b;

	if (!c) {
		CNT(st, tcp_conn_limit);
		return NULL;
	}
	st->conn_free = c->hnext;
	memset(c, 0, sizeof(*c));
	c->st = st;
	c->rip = rip;
	c->rport = rport;
	c->lport = lport;
	c->lidx = -1;
	c->in_use = true;
	c->want_rd = true;
	c->mss = 536;
	c->rcv_mss = 536;
	c->rcv_wscale = wscale_for(st->cfg.rcvbuf);
	c->rto_us = st->cfg.rto_init_ms * 1000;
	c->ssthresh = 1u << 30;
	c->ts_off = tcp_ts_off(st, rip, rport, lport);
	c->last_rx_us = st->now_us;
	tcp_timers_init(c);
	b = conn_bucket(st, rip, rport, lport);
	c->hnext = st->conn_hash[b];
	st->conn_hash[b] = c;
	c->in_hash = true;
	st->nconns++;
	return c;
}

/* The connection's buffers go back to the stack's cache, or are freed
 * when it is full. */
void tcp_conn_free_bufs(struct tcp_conn *c)
{
	struct net_stack *st = c->st;

	if (c->sb.buf && c->rb.buf && st->buf_cached < st->buf_cache_max) {
		st->buf_cache[st->buf_cached].sb = ring_release(&c->sb);
		st->buf_cache[st->buf_cached].rb = ring_release(&c->rb);
		st->buf_cached++;
		return;
	}
	ring_fini(&c->sb);
	ring_fini(&c->rb);
}

int tcp_conn_alloc_bufs(struct tcp_conn *c)
{
	struct net_stack *st = c->st;
	const struct net_config *cfg = &st->cfg;

	if (c->sb.buf)
		return 0;
	if (st->buf_cached) {
		st->buf_cached--;
		ring_adopt(&c->sb, st->buf_cache[st->buf_cached].sb, cfg->sndbuf);
		ring_adopt(&c->rb, st->buf_cache[st->buf_cached].rb, cfg->rcvbuf);
		return 0;
	}
	/* Once per connection, never per packet; half-open connections
	 * have none, so a SYN flood costs no buffer memory. */
	if (ring_init(&c->sb, cfg->sndbuf) < 0 || ring_init(&c->rb, cfg->rcvbuf) < 0) {
		ring_fini(&c->sb);
		ring_fini(&c->rb);
		CNT(c->st, tcp_alloc_fail);
		return -ENOMEM;
	}
	return 0;
}

void tcp_conn_apply_syn_opts(struct tcp_conn *c, const struct tcp_seg *s)
{
	uint32_t peer = s->has_mss ? s->opt_mss : 536;

	if (peer < 88)
		peer = 88;	/* a tiny MSS would only burn CPU */
	c->mss = (uint16_t)(peer < c->st->cfg.mss ? peer : c->st->cfg.mss);
	if (s->has_ws) {
		c->ws_ok = true;
		c->snd_wscale = s->opt_ws > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : s->opt_ws;
	} else {
		c->ws_ok = false;
		c->snd_wscale = 0;
		c->rcv_wscale = 0;
	}
	c->ts_ok = s->has_ts;
	if (s->has_ts)
		c->ts_recent = s->tsval;
	c->sack_ok = s->sack_ok && !(c->st->cfg.flags & NET_CFG_NO_SACK);
}

void tcp_conn_set_state(struct tcp_conn *c, enum tcp_state s)
{
	c->state = (uint8_t)s;
}

void tcp_conn_event(struct tcp_conn *c, uint8_t ev)
{
	struct net_stack *st = c->st;

	if (!c->app)
		return;
	c->ev |= ev;
	if (c->on_ev)
		return;
	c->on_ev = true;
	c->ev_next = NULL;
	if (st->ev_tail)
		st->ev_tail->ev_next = c;
	else
		st->ev_head = c;
	st->ev_tail = c;
}

void tcp_conn_reap(struct tcp_conn *c)
{
	if (c->on_reap)
		return;
	c->on_reap = true;
	c->reap_next = c->st->reap;
	c->st->reap = c;
}

void tcp_conn_release(struct tcp_conn *c)
{
	c->app = false;
	c->user = NULL;
	if (c->state == TCP_CLOSED) {
		tcp_conn_reap(c);
	} else if (c->state == TCP_TIME_WAIT) {
		tcp_conn_free_bufs(c);	/* a TIME_WAIT entry needs no buffers */
	}
}

void tcp_reap_all(struct net_stack *st)
{
	struct tcp_conn *c = st->reap, *keep = NULL;

	st->reap = NULL;
	while (c) {
		struct tcp_conn *next = c->reap_next;

		c->on_reap = false;
		if (c->app || c->state != TCP_CLOSED) {
			/* Taken back (cannot happen today) or not dead. */
		} else if (c->on_ev) {
			c->on_reap = true;	/* still queued: next time */
			c->reap_next = keep;
			keep = c;
		} else {
			tcp_conn_free_bufs(c);
			c->in_use = false;
			c->hnext = st->conn_free;
			st->conn_free = c;
			st->nconns--;
		}
		c = next;
	}
	st->reap = keep;
}

void tcp_conn_finish(struct tcp_conn *c)
{
	struct net_stack *st = c->st;

	tcp_conn_set_state(c, TCP_CLOSED);
	tcp_timers_cancel(c);
	hash_del(c);
	if (c->tag) {
		uint64_t tag = c->tag;

		c->tag = 0;
		if (st->ops.released)
			st->ops.released(st->ctx, tag, c->rip, c->rport, c->lport);
	}
	if (c->lidx >= 0) {
		if (st->lst[c->lidx].syn_count)
			st->lst[c->lidx].syn_count--;
		c->lidx = -1;
	}
	tcp_ooo_clear(c);
	if (!c->app)
		tcp_conn_reap(c);
}

void tcp_conn_drop(struct tcp_conn *c, int err, bool send_rst)
{
	enum tcp_state prev = c->state;

	if (prev == TCP_CLOSED)
		return;
	if (send_rst && prev != TCP_SYN_SENT && prev != TCP_TIME_WAIT)
		tcp_send_rst(c);
	tcp_conn_finish(c);
	if (!c->app)
		return;
	if (c->active && !c->estab) {
		c->err = err ? err : -ECONNABORTED;
		tcp_conn_event(c, EV_CONNECTED);
	} else {
		c->err = err ? err : -ECONNABORTED;
		tcp_conn_event(c, EV_CLOSED);
	}
}

/* closed(0) once both directions are done and the application read EOF. */
static void maybe_closed(struct tcp_conn *c)
{
	if (c->app && c->eof_read && !c->closed_sent && !c->err &&
	    (c->state == TCP_TIME_WAIT || c->state == TCP_CLOSED)) {
		c->closed_sent = true;
		tcp_conn_event(c, EV_CLOSED);
	}
}

void tcp_conn_eof_read(struct tcp_conn *c)
{
	c->eof_read = true;
	maybe_closed(c);
}

void tcp_conn_done(struct tcp_conn *c)
{
	tcp_conn_finish(c);
	maybe_closed(c);
}

void tcp_enter_time_wait(struct tcp_conn *c)
{
	tcp_conn_set_state(c, TCP_TIME_WAIT);
	tw_cancel(&c->t_rtx);
	tw_cancel(&c->t_delack);
	c->persist = false;
	tcp_ooo_clear(c);
	tcp_arm_keep(c, c->st->cfg.time_wait_ms);
	if (!c->app)
		tcp_conn_free_bufs(c);
	maybe_closed(c);
}
