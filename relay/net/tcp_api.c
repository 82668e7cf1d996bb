/* The application's side of a connection: connect, recv/send, half-close,
 * close and abort, readiness interest, keepalive. None of these calls an
 * upcall directly; they queue them (see stack.c). */
#include <errno.h>
#include <string.h>

#include "net_impl.h"

static const char *const state_names[] = {
	"CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
	"FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT",
};

const char *tcp_state_name(enum tcp_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ?
	       state_names[s] : "?";
}

static int pick_port(struct net_stack *st, uint32_t ip, uint16_t port, uint16_t *out)
{
	uint32_t range = TCP_EPHEMERAL_HI - TCP_EPHEMERAL_LO + 1;

	for (uint32_t i = 0; i < range; i++) {
		uint16_t p = st->eph_next;

		st->eph_next = (uint16_t)(p >= TCP_EPHEMERAL_HI ? TCP_EPHEMERAL_LO : p + 1u);
		if (!tcp_listener_find(st, p) && !tcp_conn_lookup(st, ip, port, p)) {
			*out = p;
			return 0;
		}
	}
	return -EADDRNOTAVAIL;
}

struct tcp_conn *tcp_connect(struct net_stack *st, uint32_t ip, uint16_t port,
			     void *user, int *err)
{
	struct tcp_conn *c;
	uint16_t lport;
	int r;

	if (!ip || ip == st->cfg.ip || ip == 0xffffffffu || (ip >> 28) == 0xe || !port) {
		r = -EADDRNOTAVAIL;
		goto out;
	}
	if (!ipv4_is_local_net(st, ip) && !st->cfg.gateway) {
		r = -ENETUNREACH;
		goto out;
	}
	r = pick_port(st, ip, port, &lport);
	if (r < 0)
		goto out;
	c = tcp_conn_new(st, ip, port, lport);
	if (!c) {
		r = -ENOSPC;
		goto out;
	}
	if (tcp_conn_alloc_bufs(c) < 0) {
		tcp_conn_finish(c);	/* not the app's yet: freed */
		r = -ENOMEM;
		goto out;
	}
	c->active = true;
	c->app = true;
	c->user = user;
	c->iss = tcp_isn(st, ip, port, lport);
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->sb_seq = c->iss + 1;
	c->rtt_timing = true;	/* time the SYN */
	c->rtt_seq = c->iss;
	c->rtt_start_us = st->now_us;
	tcp_conn_set_state(c, TCP_SYN_SENT);
	CNT(st, tcp_active_opens);
	tcp_send_syn(c);
	tcp_arm_rtx(c);
	return c;
out:
	if (err)
		*err = r;
	return NULL;
}

long tcp_recv(struct tcp_conn *c, void *buf, size_t n)
{
	uint32_t k;

	if (c->err)
		return c->err;
	if (c->rb.len && n) {
		k = n < c->rb.len ? (uint32_t)n : c->rb.len;
		ring_peek(&c->rb, 0, buf, k);
		ring_drop(&c->rb, k);
		tcp_maybe_window_update(c);
		return k;
	}
	if (c->fin_rcvd) {
		if (!c->eof_read)
			tcp_conn_eof_read(c);
		return 0;
	}
	if (c->state == TCP_CLOSED)
		return -ENOTCONN;
	return -EAGAIN;
}

size_t tcp_readable(const struct tcp_conn *c)
{
	return c->rb.len;
}

size_t tcp_send_room(const struct tcp_conn *c)
{
	switch (c->state) {
	case TCP_SYN_SENT: case TCP_SYN_RCVD: case TCP_ESTABLISHED: case TCP_CLOSE_WAIT:
		return c->fin_queued ? 0 : ring_free(&c->sb);
	default:
		return 0;
	}
}

long tcp_send(struct tcp_conn *c, const void *buf, size_t n)
{
	uint32_t k;

	if (c->err)
		return c->err;
	switch (c->state) {
	case TCP_SYN_SENT: case TCP_SYN_RCVD: case TCP_ESTABLISHED: case TCP_CLOSE_WAIT:
		break;
	case TCP_CLOSED:
		return -ENOTCONN;
	default:
		return -EPIPE;
	}
	if (c->fin_queued)
		return -EPIPE;
	if (!n)
		return 0;
	k = ring_write(&c->sb, buf, n > UINT32_MAX ? UINT32_MAX : (uint32_t)n);
	if (!k) {
		c->wr_blocked = true;
		return -EAGAIN;
	}
	tcp_output(c);
	return k;
}

void tcp_shutdown_wr(struct tcp_conn *c)
{
	if (c->fin_queued)
		return;
	switch (c->state) {
	case TCP_SYN_SENT: case TCP_SYN_RCVD:
		break;		/* FIN_WAIT_1 once established */
	case TCP_ESTABLISHED:
		tcp_conn_set_state(c, TCP_FIN_WAIT_1);
		break;
	case TCP_CLOSE_WAIT:
		tcp_conn_set_state(c, TCP_LAST_ACK);
		break;
	default:
		return;
	}
	c->fin_queued = true;
	c->fin_seq = c->sb_seq + c->sb.len;
	tcp_output(c);
}

void tcp_want(struct tcp_conn *c, bool rd, bool wr)
{
	c->want_rd = rd;
	c->want_wr = wr;
	if (rd && (c->rb.len || c->fin_rcvd || c->err))
		tcp_conn_event(c, EV_READABLE);
	if (wr && tcp_send_room(c))
		tcp_conn_event(c, EV_WRITABLE);
	else if (wr)
		c->wr_blocked = true;	/* tell when room comes back */
}

static void let_go(struct tcp_conn *c)
{
	c->app = false;
	c->user = NULL;
	c->ev = 0;
}

void tcp_abort(struct tcp_conn *c)
{
	if (!c->app)
		return;
	let_go(c);
	if (c->state == TCP_CLOSED)
		tcp_conn_reap(c);
	else
		tcp_conn_drop(c, 0, true);
}

void tcp_close(struct tcp_conn *c)
{
	if (!c->app)
		return;
	let_go(c);
	switch (c->state) {
	case TCP_CLOSED:
		tcp_conn_reap(c);
		return;
	case TCP_SYN_SENT:
		tcp_conn_drop(c, 0, false);
		return;
	case TCP_TIME_WAIT:
		tcp_conn_release(c);
		return;
	default:
		break;
	}
	if (c->rb.len) {
		/* Unread data: tell the peer it was not consumed. */
		tcp_conn_drop(c, 0, true);
		return;
	}
	tcp_shutdown_wr(c);
	if (c->state == TCP_FIN_WAIT_2)
		tcp_arm_keep(c, c->st->cfg.fin_wait2_ms);
}

void tcp_set_keepalive(struct tcp_conn *c, uint32_t idle_ms, uint32_t intvl_ms,
		       uint32_t cnt)
{
	c->ka_idle_ms = idle_ms;
	c->ka_intvl_ms = intvl_ms ? intvl_ms : 1000;
	c->ka_cnt = cnt ? cnt : 1;
	c->ka_probes = 0;
	tcp_arm_keepalive(c);
}

void tcp_set_user(struct tcp_conn *c, void *user)
{
	c->user = user;
}

void *tcp_user(const struct tcp_conn *c)
{
	return c->user;
}

enum tcp_state tcp_get_state(const struct tcp_conn *c)
{
	return (enum tcp_state)c->state;
}

void tcp_endpoints(const struct tcp_conn *c, uint32_t *rip, uint16_t *rport,
		   uint16_t *lport)
{
	if (rip)
		*rip = c->rip;
	if (rport)
		*rport = c->rport;
	if (lport)
		*lport = c->lport;
}
