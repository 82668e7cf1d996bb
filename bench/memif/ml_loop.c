/* --loop: the generator looped to itself. A second relay/net stack in the
 * same process, at the relay's address, echoes every connection on the
 * public port; frames go between the two stacks through two queues in
 * memory (copied, as memif copies), delivered on the next loop turn. The
 * same clients, the same TCP and the same checks as through the relay, so
 * the difference in latency is what the relay path adds. */
#include <errno.h>
#include <string.h>

#include "ml.h"

#define LOOP_SLOTS 1024
#define LOOP_FRAME 1536	/* an MTU-1500 Ethernet frame, VLAN tag included */

struct loopq {
	uint8_t frame[LOOP_SLOTS][LOOP_FRAME];
	uint16_t len[LOOP_SLOTS];
	unsigned head, tail;	/* free-running; tail - head frames queued */
};

static struct loopq q_srv, q_cli;	/* to the echo server, to the clients */
static struct net_stack *srv;

int ml_loop_tx(bool to_server, const uint8_t *frame, size_t len)
{
	struct loopq *q = to_server ? &q_srv : &q_cli;

	if (len > LOOP_FRAME)
		return -EMSGSIZE;
	if (q->tail - q->head == LOOP_SLOTS)
		return -ENOBUFS;	/* as a full TX ring: TCP retransmits */
	memcpy(q->frame[q->tail % LOOP_SLOTS], frame, len);
	q->len[q->tail % LOOP_SLOTS] = (uint16_t)len;
	q->tail++;
	return 0;
}

/* The frames queued when the turn began; what they cause waits a turn. */
static unsigned deliver(struct loopq *q, struct net_stack *to, uint64_t now_us)
{
	unsigned n = q->tail - q->head;

	for (unsigned i = 0; i < n; i++, q->head++)
		net_input_ex(to, q->frame[q->head % LOOP_SLOTS], q->len[q->head % LOOP_SLOTS],
			     now_us, NET_RX_IP_CSUM_GOOD | NET_RX_L4_CSUM_GOOD);
	return n;
}

unsigned ml_loop_poll(struct ml *m, uint64_t now_us)
{
	unsigned n = deliver(&q_srv, srv, now_us);

	n += deliver(&q_cli, m->st, now_us);
	net_poll_timers(srv, now_us);
	net_flush(srv);
	return n;
}

/* ---- the echo server ---- */

static int srv_tx(void *ctx, const uint8_t *frame, size_t len)
{
	(void)ctx;
	return ml_loop_tx(false, frame, len);
}

static int srv_accepted(void *ctx, struct tcp_conn *c, uint16_t lport)
{
	(void)ctx;
	(void)c;
	(void)lport;
	return 0;	/* the listener is the public port: every client is ours */
}

/* Sends back what came in; EOF: close after the echo (FIN). A request
 * that does not fit is aborted, which the client reports as a failure. */
static void srv_readable(void *ctx, struct tcp_conn *c)
{
	uint8_t buf[ML_REQ_MAX];

	(void)ctx;
	for (;;) {
		long n = tcp_recv(c, buf, sizeof(buf));

		if (n == -EAGAIN || n < 0)
			return;	/* an error: closed() follows */
		if (n == 0) {
			tcp_close(c);
			return;
		}
		if (tcp_send(c, buf, (size_t)n) != n) {
			tcp_abort(c);
			return;
		}
	}
}

static void srv_connected(void *ctx, struct tcp_conn *c, int err)
{
	(void)ctx;
	(void)c;
	(void)err;	/* the server opens nothing */
}

static void srv_writable(void *ctx, struct tcp_conn *c)
{
	(void)ctx;
	(void)c;
}

static void srv_closed(void *ctx, struct tcp_conn *c, int reason)
{
	(void)ctx;
	(void)c;
	(void)reason;	/* no state per connection */
}

static const struct net_ops srv_ops = {
	.tx = srv_tx,
	.accepted = srv_accepted,
	.connected = srv_connected,
	.readable = srv_readable,
	.writable = srv_writable,
	.closed = srv_closed,
};

int ml_loop_init(struct ml *m, uint64_t now_us)
{
	struct net_config nc;
	int e;

	net_config_default(&nc);
	nc.ip = m->relay_ip;
	nc.prefix_len = m->prefix;
	nc.max_conns = 16384;
	nc.sndbuf = nc.rcvbuf = 64 * 1024;
	memcpy(nc.mac, (const uint8_t[6]){ 0x02, 0, 0, 0, 0x4c, 0x01 }, 6);
	srv = net_stack_create(&nc, &srv_ops, NULL, now_us);
	if (!srv)
		return -1;
	e = tcp_listen(srv, m->public_port, 0);
	return e < 0 ? -1 : 0;
}

void ml_loop_fini(void)
{
	if (srv)
		net_stack_destroy(srv);
	srv = NULL;
}
