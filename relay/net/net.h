/* relay/net: a per-core userspace Ethernet/ARP/IPv4/ICMP/TCP stack, sans-I/O.
 *
 * One struct net_stack per worker core; it is touched only by that core (no
 * locks, no globals). The backend feeds received Ethernet frames to
 * net_input(), calls net_poll_timers() every tick (1 ms is ideal, 10 ms is
 * fine), and the stack emits frames through ops->tx(). The application sees
 * TCP connections through the upcalls in struct net_ops and the tcp_*() calls.
 *
 * Addresses and ports in this API are in host byte order.
 *
 * Ownership of a struct tcp_conn (the "handle"):
 * - the stack owns the memory; the application *holds* a handle from
 *   ops->accepted() (passive) or tcp_connect() (active) until it calls
 *   tcp_close() / tcp_abort(), or until ops->closed() returns, or until
 *   ops->connected() reports an error. After that the handle is invalid.
 * - upcalls are never made from inside tcp_*() calls: they are queued and
 *   delivered at the end of net_input(), net_poll_timers() or net_flush(),
 *   so the application may call any tcp_*() function from an upcall.
 *
 * The shape maps 1:1 onto ferry's struct fy_conn_ops (lib/include/ferry/
 * pump.h): recv = tcp_recv, send = tcp_send, shutdown_wr = tcp_shutdown_wr,
 * want = tcp_want; readable/writable upcalls feed fy_pump_readable/writable. */
#ifndef FERRY_NET_H
#define FERRY_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct net_stack;
struct tcp_conn;

/* Every counter of the stack, in one list so the application can print
 * them by name (net_counter_names). Drops are counted by reason. */
#define NET_COUNTERS(X) \
	X(rx_frames) X(rx_bytes) X(tx_frames) X(tx_bytes) X(tx_fail) \
	X(eth_short) X(eth_not_ours) X(eth_vlan) X(eth_unknown_type) \
	X(arp_bad) X(arp_not_ours) X(arp_req_rx) X(arp_reply_rx) \
	X(arp_req_tx) X(arp_reply_tx) X(arp_conflict) X(arp_table_full) \
	X(arp_queue_drop) X(arp_unresolved_drop) X(arp_expired) \
	X(ip_short) X(ip_bad_version) X(ip_bad_ihl) X(ip_bad_len) \
	X(ip_bad_csum) X(ip_frag) X(ip_ttl_zero) X(ip_not_ours) \
	X(ip_bad_src) X(ip_options) X(ip_unknown_proto) X(ip_no_route) \
	X(icmp_short) X(icmp_bad_csum) X(icmp_echo_rx) X(icmp_echo_tx) \
	X(icmp_other) X(icmp_too_big) \
	X(tcp_segs_rx) X(tcp_segs_tx) X(tcp_short) X(tcp_bad_doff) \
	X(tcp_bad_csum) X(tcp_bad_flags) X(tcp_bad_opt) X(tcp_bad_port) \
	X(tcp_no_listener) X(tcp_rst_tx) X(tcp_rst_rx) \
	X(tcp_rst_out_of_window) X(tcp_challenge_ack) X(tcp_invalid_ack) \
	X(tcp_out_of_window) X(tcp_paws_drop) X(tcp_conn_limit) \
	X(tcp_syn_backlog_full) X(tcp_syncookie_tx) X(tcp_syncookie_ok) \
	X(tcp_syncookie_bad) X(tcp_ooo_queued) X(tcp_ooo_drop) \
	X(tcp_rcv_beyond_window) X(tcp_passive_opens) X(tcp_active_opens) \
	X(tcp_refused) X(tcp_resets_estab) X(tcp_retransmits) \
	X(tcp_rto_timeouts) X(tcp_fast_retransmits) X(tcp_dup_acks) \
	X(tcp_lost_retransmits) X(tcp_loss_probes) X(tcp_sack_rx) X(tcp_sack_tx) \
	X(tcp_partial_acks) X(tcp_zero_window_probes) X(tcp_keepalive_probes) \
	X(tcp_timeout_aborts) X(tcp_data_after_close) X(tcp_timewait_expired) \
	X(tcp_timewait_reuse) X(tcp_fin_wait2_timeout) X(tcp_alloc_fail)

struct net_counters {
#define NET_COUNTER_FIELD(n) uint64_t n;
	NET_COUNTERS(NET_COUNTER_FIELD)
#undef NET_COUNTER_FIELD
};
extern const char *const net_counter_names[];
extern const size_t net_counter_count;

/* Stack-wide switches. */
enum {
	/* The NIC computes IPv4 and TCP/ICMP checksums on transmit: the stack
	 * leaves the IPv4 checksum 0 and puts the pseudo-header sum in the TCP
	 * checksum field (the DPDK convention for TX L4 offload). */
	NET_CFG_TX_CSUM_OFFLOAD = 1u << 0,
	/* Answer every SYN with a cookie (for tests and under attack). */
	NET_CFG_SYNCOOKIE_ALWAYS = 1u << 1,
	/* Neither offer nor accept SACK (RFC 2018): NewReno alone. */
	NET_CFG_NO_SACK = 1u << 2,
	/* The ACK due every second full segment waits for the end of the
	 * receive burst (the next net_poll_timers or net_flush), so one ACK
	 * covers what a burst carried for a connection. For poll-mode
	 * applications that call net_poll_timers or net_flush after each
	 * burst; holes, FINs and window updates are still answered at once. */
	NET_CFG_ACK_PER_BURST = 1u << 3,
};

/* Per-frame flags for net_input_ex(): what the NIC already verified. */
enum {
	NET_RX_IP_CSUM_GOOD = 1u << 0,
	NET_RX_L4_CSUM_GOOD = 1u << 1,
};

/* The largest frame the stack builds or takes at IP MTU mtu: Ethernet's
 * 14-byte header and one 4-byte VLAN tag on top. A backend sizes its
 * buffers to hold one whole (the stack never splits a frame). */
static inline unsigned net_frame_max(unsigned mtu)
{
	return mtu + 14 + 4;
}

struct net_config {
	uint8_t mac[6];
	uint32_t ip;		/* our address */
	uint8_t prefix_len;	/* 0..32 */
	uint32_t gateway;	/* 0: on-link only */
	uint16_t mtu;		/* IP MTU, 576..9000; default 1500 */
	uint16_t mss;		/* 0: mtu - 40 */
	uint8_t ttl;		/* default 64 */
	uint32_t flags;		/* NET_CFG_* */

	uint32_t max_conns;	/* connection slots, TIME_WAIT included */
	uint32_t max_listeners;
	uint32_t syn_backlog;	/* default half-open conns per listener */
	uint32_t sndbuf, rcvbuf;	/* bytes per connection */
	uint32_t ooo_max_segs;	/* out-of-order holes kept, <= 64 */
	uint32_t ooo_max_bytes;	/* out-of-order bytes kept; 0: rcvbuf */

	uint32_t rto_init_ms, rto_min_ms, rto_max_ms;
	uint32_t max_retries;	/* data retransmissions before abort */
	uint32_t syn_retries;	/* SYN and SYN/ACK retransmissions */
	uint32_t delack_ms;
	uint32_t time_wait_ms;	/* 2*MSL */
	uint32_t fin_wait2_ms;	/* orphaned FIN_WAIT_2 lifetime */

	uint32_t arp_entries;
	uint32_t arp_timeout_ms;	/* a resolved entry is trusted this long */
	uint32_t arp_retry_ms;
	uint32_t arp_retries;
	uint32_t arp_queue_per_entry;	/* frames held per unresolved hop */
	uint32_t arp_queue_total;	/* frames held in all */

	/* Keys ISNs, SYN cookies and the hash tables. All zero: drawn from
	 * getrandom() at create. Tests set it to get repeatable numbers. */
	uint8_t secret[16];
};

/* Fills every field with its default (addresses zero). */
void net_config_default(struct net_config *cfg);
/* "A.B.C.D" or "A.B.C.D/P" (P 1..32; 32 when absent) into host order;
 * prefix may be NULL. 0, or -1 when malformed. */
int net_parse_ipv4(const char *s, uint32_t *ip, uint8_t *prefix);

/* Why a connection ended, for ops->closed() and ops->connected(). */
enum {
	NET_OK = 0,
	/* other values are -errno: -ECONNRESET (peer RST), -ETIMEDOUT
	 * (retransmissions or keepalive exhausted), -ECONNREFUSED (RST to
	 * our SYN), -EHOSTUNREACH (ARP failed), -ECONNABORTED (stack). */
};

struct net_ops {
	/* Sends one Ethernet frame (the stack keeps the buffer). Returns 0,
	 * or -errno when dropped (counted as tx_fail, recovered by TCP). */
	int (*tx)(void *ctx, const uint8_t *frame, size_t len);
	/* Optional: a buffer of at least cap bytes to build the next frame
	 * in, so that tx() can hand that very buffer to the NIC instead of
	 * copying it (tx() is then called with the same pointer). NULL: the
	 * stack builds in its own buffer. The buffer stays the
	 * application's: a frame the stack abandons (no route, queued for
	 * ARP) is simply never passed to tx(). */
	uint8_t *(*tx_buf)(void *ctx, size_t cap);
	/* A passive connection is established. Return 0 to keep the handle,
	 * <0 to refuse it (the stack sends RST; the handle is invalid). */
	int (*accepted)(void *ctx, struct tcp_conn *c, uint16_t lport);
	/* An active open finished: err 0, or -errno (handle now invalid). */
	void (*connected)(void *ctx, struct tcp_conn *c, int err);
	/* New data or EOF (tcp_recv returns 0) or an error is waiting. */
	void (*readable)(void *ctx, struct tcp_conn *c);
	/* Send buffer room came back after tcp_send said -EAGAIN (or the
	 * application asked with tcp_want). */
	void (*writable)(void *ctx, struct tcp_conn *c);
	/* The connection is over and the handle is invalid once this
	 * returns: reason 0 after an orderly close in both directions (the
	 * application read EOF and its FIN was acknowledged), or -errno. */
	void (*closed)(void *ctx, struct tcp_conn *c, int reason);

	/* For an application that runs several stacks (one per core) and
	 * hands flows between them; both optional, see net_input_tagged.
	 * released: a connection that holds a tag leaves the stack (its
	 * 4-tuple is free again: segments of it now reach the listeners).
	 * Called at once, not deferred, possibly from inside a tcp_*() call:
	 * it must not call into the stack. */
	void (*released)(void *ctx, uint64_t tag, uint32_t rip, uint16_t rport,
			 uint16_t lport);
	/* An ACK (not a tagged frame) completes a SYN cookie of listener
	 * lport: return true to leave it alone (nothing is created or sent:
	 * the application passes the frame to another of its stacks, which
	 * must share the secret), false to establish the connection here. */
	bool (*cookie_ack)(void *ctx, uint32_t rip, uint16_t rport, uint16_t lport);
};

/* Returns NULL when the config is invalid or memory is short. */
struct net_stack *net_stack_create(const struct net_config *cfg,
				   const struct net_ops *ops, void *ctx,
				   uint64_t now_us);
/* Frees everything, without sending anything. */
void net_stack_destroy(struct net_stack *st);

/* One received Ethernet frame. The stack does not keep `frame`. */
void net_input(struct net_stack *st, const uint8_t *frame, size_t len,
	       uint64_t now_us);
void net_input_ex(struct net_stack *st, const uint8_t *frame, size_t len,
		  uint64_t now_us, unsigned rx_flags);
/* net_input_ex for a frame the application handed over from another of
 * its stacks, with a non-zero tag: the connection its TCP segment reaches
 * or opens keeps the tag (the latest one it got) until it leaves the
 * stack, when ops->released reports it. Returns true when, once the frame
 * is processed, a connection of its 4-tuple holds the tag; false when
 * none does (the segment was dropped, refused, answered with a cookie, or
 * ended the connection). A tagged ACK completing a cookie is established
 * here (ops->cookie_ack is not asked). */
bool net_input_tagged(struct net_stack *st, const uint8_t *frame, size_t len,
		      uint64_t now_us, unsigned rx_flags, uint64_t tag);
/* Runs due timers, then delivers queued upcalls. */
void net_poll_timers(struct net_stack *st, uint64_t now_us);
/* Delivers queued upcalls and frees dead connections; for tcp_*() calls
 * made outside any upcall (the other entry points do this themselves). */
void net_flush(struct net_stack *st);
const struct net_counters *net_counters(const struct net_stack *st);
const struct net_config *net_config(const struct net_stack *st);

/* TCP states (RFC 9293). */
enum tcp_state {
	TCP_CLOSED = 0, TCP_LISTEN, TCP_SYN_SENT, TCP_SYN_RCVD,
	TCP_ESTABLISHED, TCP_FIN_WAIT_1, TCP_FIN_WAIT_2, TCP_CLOSE_WAIT,
	TCP_CLOSING, TCP_LAST_ACK, TCP_TIME_WAIT,
};
const char *tcp_state_name(enum tcp_state s);

/* Listens on port. backlog caps half-open connections; when it is full,
 * SYNs are answered with cookies (0: cfg->syn_backlog). 0 or -EADDRINUSE,
 * -ENOSPC, -EINVAL. */
int tcp_listen(struct net_stack *st, uint16_t port, uint32_t backlog);
/* Stops new connections on port; established ones are unaffected. */
int tcp_unlisten(struct net_stack *st, uint16_t port);

/* Active open from an ephemeral port. Returns a handle (the result comes
 * in ops->connected) or NULL with *err set (-ENOSPC, -ENOMEM,
 * -EADDRNOTAVAIL, -ENETUNREACH). user is stored as tcp_user(c). */
struct tcp_conn *tcp_connect(struct net_stack *st, uint32_t ip,
			     uint16_t port, void *user, int *err);

/* >0 bytes copied, 0 end of stream, -EAGAIN nothing now, other -errno. */
long tcp_recv(struct tcp_conn *c, void *buf, size_t n);
/* Bytes received in order and not yet read by tcp_recv. */
size_t tcp_readable(const struct tcp_conn *c);
/* >=0 bytes taken into the send buffer, -EAGAIN when full (writable comes
 * later), -EPIPE after shutdown, other -errno. Data queued before the
 * connection is established is sent when it is. */
long tcp_send(struct tcp_conn *c, const void *buf, size_t n);
/* Bytes tcp_send would take now. */
size_t tcp_send_room(const struct tcp_conn *c);
/* Sends FIN after the queued data (half-close). */
void tcp_shutdown_wr(struct tcp_conn *c);
/* Readiness interest, as fy_conn_ops.want. rd (on by default) gates the
 * readable upcall; turning it on while data, EOF or an error waits queues
 * one. wr asks for a writable upcall as soon as there is send room (one
 * also comes, unasked, after tcp_send said -EAGAIN). */
void tcp_want(struct tcp_conn *c, bool rd, bool wr);
/* Sends RST and releases the handle. */
void tcp_abort(struct tcp_conn *c);
/* Releases the handle: like close(2), a FIN after queued data (or RST
 * when received data was left unread); the stack finishes the close. */
void tcp_close(struct tcp_conn *c);
/* Keepalive probes after idle_ms without input, every intvl_ms, abort
 * with -ETIMEDOUT after cnt unanswered ones. idle_ms 0 turns it off. */
void tcp_set_keepalive(struct tcp_conn *c, uint32_t idle_ms,
		       uint32_t intvl_ms, uint32_t cnt);

/* Whether the stack holds a connection of this 4-tuple (any state,
 * half-open and TIME_WAIT included). */
bool tcp_conn_exists(struct net_stack *st, uint32_t rip, uint16_t rport,
		     uint16_t lport);

void tcp_set_user(struct tcp_conn *c, void *user);
void *tcp_user(const struct tcp_conn *c);
enum tcp_state tcp_get_state(const struct tcp_conn *c);
void tcp_endpoints(const struct tcp_conn *c, uint32_t *rip, uint16_t *rport,
		   uint16_t *lport);

#endif
