/* Internals of relay/net shared between its files (and its unit tests).
 * Nothing outside relay/net includes this. */
#ifndef FERRY_NET_IMPL_H
#define FERRY_NET_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"
#include "ring.h"
#include "timer_wheel.h"
#include "wire.h"

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

#define NET_OOO_MAX 64		/* hard cap of out-of-order holes */
#define NET_SACK_MAX 16		/* SACKed ranges the sender remembers */
#define TCP_MAX_WSCALE 14	/* RFC 7323 */
#define TCP_OPT_SPACE 40
#define TCP_EPHEMERAL_LO 32768u
#define TCP_EPHEMERAL_HI 60999u
/* Buffers kept from ended connections, per stack: 8 MiB is 16 pairs at
 * the relay's 256 KiB + 256 KiB, enough for the closes and opens that
 * interleave within a loop turn or a few. */
#define NET_BUF_CACHE_BYTES (8u << 20)
#define NET_BUF_CACHE_MAX 64u
/* Connections an ACK can wait for in one burst; beyond, ACKs go at once. */
#define NET_ACK_DUE_MAX 64u

/* csum_add's block sums (n a multiple of 32): the portable one and, on
 * x86-64, the AVX2 one it picks where the CPU has AVX2. Exposed so that a
 * unit test holds both to RFC 1071 whatever CPU runs it. */
uint64_t csum_vec_generic(const uint8_t *p, size_t n);
#if defined(__x86_64__) && defined(__GNUC__)
uint64_t csum_vec_avx2(const uint8_t *p, size_t n);
#endif

/* ---- ARP ---- */
enum arp_state { ARP_FREE = 0, ARP_INCOMPLETE, ARP_RESOLVED };

struct arp_entry {
	uint32_t ip;
	uint8_t mac[6];
	uint8_t state;
	uint8_t tries;		/* requests sent while INCOMPLETE */
	uint64_t expire_us;	/* RESOLVED: trusted until */
	uint64_t used_us;	/* for eviction */
	int32_t q_head, q_tail;	/* queued frame slots, -1: none */
	uint32_t q_len;
	struct tw_timer t;	/* request retry */
	struct net_stack *st;
};

struct arp_qslot {
	int32_t next;		/* next slot in an entry's queue or free list */
	uint32_t len;
	uint8_t *frame;
};

/* ---- TCP ---- */
struct tcp_listener {
	uint16_t port;
	bool used;
	int32_t hnext;		/* next index in the hash chain, -1 end */
	uint32_t backlog;
	uint32_t syn_count;	/* half-open connections now */
};

/* Out-of-order data lives in the receive ring at its offset; this keeps
 * which byte ranges of [rcv_nxt, rcv_adv) hold it, sorted, disjoint. */
struct tcp_ooo {
	uint32_t n;
	uint32_t bytes;
	uint32_t last;		/* start of the latest segment held: its
				 * range is the first SACK block */
	uint32_t start[NET_OOO_MAX], end[NET_OOO_MAX];
};

/* What the peer told us it holds beyond snd_una (SACK), sorted, disjoint,
 * all within (snd_una, snd_max]. A hint only: the peer may renege, so
 * nothing is freed from the send buffer before a cumulative ACK. */
struct tcp_sacked {
	uint32_t n;
	uint32_t l[NET_SACK_MAX], r[NET_SACK_MAX];
};

/* Holes resent in this recovery, each with snd_max when it went: data
 * sent after a resend being SACKed while the resend is not acknowledged
 * means the resend was lost too (the idea of RACK, RFC 8985, kept to
 * the hole at snd_una), without waiting for a timeout. */
#define NET_RTXLOG_MAX 8
struct tcp_rtxlog {
	uint32_t n;
	uint32_t seq[NET_RTXLOG_MAX], mark[NET_RTXLOG_MAX];
};

/* Pending upcalls of a connection. */
enum {
	EV_ACCEPTED = 1u << 0,
	EV_CONNECTED = 1u << 1,
	EV_READABLE = 1u << 2,
	EV_WRITABLE = 1u << 3,
	EV_CLOSED = 1u << 4,
};

struct tcp_conn {
	struct net_stack *st;
	struct tcp_conn *hnext;		/* hash chain / free list */
	struct tcp_conn *ev_next;	/* event list */
	struct tcp_conn *reap_next;	/* free at the end of this call */
	void *user;

	uint32_t rip;
	uint16_t rport, lport;
	uint8_t state;
	uint8_t ev;		/* EV_* pending */
	int err;		/* reason for EV_CLOSED / EV_CONNECTED */
	int32_t lidx;		/* listener of a half-open passive conn, -1 */

	bool in_use : 1, in_hash : 1, on_ev : 1, on_reap : 1;
	bool ack_due : 1;	/* in st->ack_due: an ACK at the end of the burst */
	bool app : 1;		/* the application holds the handle */
	bool active : 1;	/* we sent the first SYN */
	bool ts_ok : 1, ws_ok : 1, sack_ok : 1;
	bool fin_queued : 1;	/* shutdown_wr: FIN after the data */
	bool fin_rcvd : 1;	/* peer's FIN is in sequence */
	bool eof_read : 1;	/* tcp_recv returned 0 */
	bool want_rd : 1, want_wr : 1, wr_blocked : 1;
	bool in_recovery : 1, rtt_timing : 1, persist : 1;
	bool tlp_pending : 1;	/* t_rtx is the loss probe's, not the RTO */
	bool tlp_out : 1;	/* a probe went and no new ACK since */
	bool estab : 1;		/* reached ESTABLISHED once */
	bool closed_sent : 1;	/* closed(0) queued */

	/* send side (RFC 9293 names) */
	uint32_t iss, snd_una, snd_nxt, snd_max;
	uint32_t snd_wnd, snd_wl1, snd_wl2;
	uint32_t sb_seq;	/* sequence number of sb's first byte */
	uint32_t fin_seq;	/* when fin_queued */
	uint16_t mss;		/* payload per segment, options excluded */
	uint8_t snd_wscale, rcv_wscale;
	struct ring sb;

	/* congestion control: NewReno (RFC 5681, RFC 6582) */
	uint32_t cwnd, ssthresh, recover, cwnd_acc;
	uint32_t dupacks;
	uint32_t last_ack_adv;	/* bytes the last new ACK covered */
	struct tcp_sacked sacked;
	struct tcp_rtxlog rtxlog;
	uint32_t rtx_next;	/* in recovery: holes below it were resent */

	/* retransmission timer (RFC 6298), in microseconds */
	uint32_t srtt_us, rttvar_us, rto_us;
	uint32_t rtt_seq;
	uint64_t rtt_start_us;
	uint32_t rtx_count;	/* consecutive RTOs (or persist probes) */

	/* receive side */
	uint32_t irs, rcv_nxt, rcv_adv, last_ack_sent;
	uint32_t rcv_mss;	/* largest segment seen: delayed-ACK unit */
	uint32_t ts_recent, ts_off;
	uint64_t last_rx_us;
	struct ring rb;
	struct tcp_ooo ooo;

	/* keepalive (off when ka_idle_ms == 0) */
	uint32_t ka_idle_ms, ka_intvl_ms, ka_cnt, ka_probes;

	struct tw_timer t_rtx;		/* RTO, SYN retry, persist */
	struct tw_timer t_delack;
	struct tw_timer t_keep;		/* keepalive, FIN_WAIT_2, TIME_WAIT */

	uint64_t tag;		/* from the latest tagged frame (net_input_tagged) */
};

struct net_stack {
	struct net_config cfg;
	struct net_ops ops;
	void *ctx;
	struct net_counters cnt;
	uint64_t now_us;
	uint32_t netmask;
	uint16_t ip_id;
	int depth;		/* nesting of entry points (upcalls re-enter) */

	struct tw_wheel wheel;
	uint8_t *txbuf;		/* the frame being built (own_txbuf or ops.tx_buf's) */
	uint8_t *own_txbuf;

	struct arp_entry *arp;
	struct arp_qslot *arpq;
	uint8_t *arpq_mem;
	int32_t arpq_free;
	struct arp_entry *arp_last;	/* last hit: most output goes to one hop */

	struct tcp_listener *lst;
	int32_t *lst_hash;
	uint32_t lst_mask;

	struct tcp_conn *conns;
	struct tcp_conn *conn_free;
	struct tcp_conn **conn_hash;
	uint32_t conn_mask;
	uint32_t nconns;
	uint16_t eph_next;

	struct tcp_conn *ev_head, *ev_tail;
	struct tcp_conn *reap;

	/* Send and receive buffers of ended connections, kept for the next
	 * ones (up to NET_BUF_CACHE_BYTES): short connections then cost no
	 * malloc and free each, nor the brk and page faults behind them. */
	struct net_bufpair { uint8_t *sb, *rb; } *buf_cache;
	uint32_t buf_cached, buf_cache_max;

	/* NET_CFG_ACK_PER_BURST: connections owed an ACK at the burst's end. */
	struct tcp_conn *ack_due[NET_ACK_DUE_MAX];
	uint32_t nack_due;

	/* net_input_tagged: the frame's tag (0: an ordinary frame), and
	 * whether a connection of its 4-tuple holds it afterwards. */
	uint64_t rx_tag;
	bool rx_tag_held;
};

#define CNT(st, name) ((st)->cnt.name++)

static inline uint64_t now_ms(const struct net_stack *st)
{
	return st->now_us / 1000;
}

/* Internal rx flag, beside NET_RX_*: the frame came through
 * net_input_tagged (st->rx_tag holds its tag). */
#define NET_RX_TAGGED (1u << 31)

/* ---- eth.c ---- */
void eth_input(struct net_stack *st, const uint8_t *f, size_t len, unsigned rxf);
/* Starts the next output frame: sets and returns st->txbuf. */
uint8_t *eth_frame_begin(struct net_stack *st);
/* Frame in st->txbuf with its destination MAC to fill; sends it. */
void eth_tx(struct net_stack *st, const uint8_t *f, size_t len);
void eth_fill(struct net_stack *st, uint8_t *f, const uint8_t dst[6],
	      uint16_t type);

/* ---- arp.c ---- */
int arp_init(struct net_stack *st);
void arp_fini(struct net_stack *st);
void arp_input(struct net_stack *st, const uint8_t *p, size_t len,
	       const uint8_t *eth_src);
/* Sends the IPv4 frame f (Ethernet header included, destination MAC
 * unset) to next hop nh: now if resolved, else queued for resolution. */
void arp_output(struct net_stack *st, uint32_t nh, uint8_t *f, size_t len);

/* ---- ipv4.c ---- */
void ipv4_input(struct net_stack *st, const uint8_t *p, size_t len, unsigned rxf);
/* Starts the next output frame; returns where its L4 header goes. */
static inline uint8_t *ipv4_l4buf(struct net_stack *st)
{
	return eth_frame_begin(st) + ETH_HLEN + IP_HLEN;
}
/* Sends st->txbuf with l4len bytes of L4 already in place. */
void ipv4_output(struct net_stack *st, uint32_t dst, uint8_t proto, size_t l4len);
bool ipv4_is_local_net(const struct net_stack *st, uint32_t ip);

/* ---- icmp.c ---- */
void icmp_input(struct net_stack *st, uint32_t src, const uint8_t *p,
		size_t len, unsigned rxf);

/* ---- tcp ---- */
struct tcp_seg {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	const uint8_t *data;
	uint32_t len;		/* payload bytes */
	bool has_mss, has_ws, has_ts, sack_ok;
	uint16_t opt_mss;
	uint8_t opt_ws;
	uint32_t tsval, tsecr;
	uint8_t nsack;		/* SACK blocks (RFC 2018), as sent */
	uint32_t sack_l[4], sack_r[4];
};

enum { TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PSH = 0x08,
       TH_ACK = 0x10, TH_URG = 0x20 };

/* tcp_in.c */
void tcp_input(struct net_stack *st, uint32_t src, uint32_t dst,
	       const uint8_t *p, size_t len, unsigned rxf);
/* tcp_opt.c: returns 0, or -1 when the option list is malformed (what
 * was parsed before the fault is kept). */
int tcp_opt_parse(struct tcp_seg *s, const uint8_t *p, size_t len);
size_t tcp_opt_syn(uint8_t *o, uint16_t mss, int wscale, bool ts, bool sack,
		   uint32_t tsval, uint32_t tsecr);
size_t tcp_opt_ts(uint8_t *o, uint32_t tsval, uint32_t tsecr);
/* NOP NOP SACK with n blocks (1..4): 4 + 8n bytes. */
size_t tcp_opt_sack(uint8_t *o, const uint32_t *l, const uint32_t *r, unsigned n);

/* tcp_sack.c: SACK (RFC 2018), sender's scoreboard and receiver's blocks */
/* Takes the blocks of an ACK; those outside (snd_una, snd_max] are
 * ignored (D-SACK, stale, forged). */
void tcp_sack_update(struct tcp_conn *c, const struct tcp_seg *s);
/* After snd_una moved: forgets what it covers. */
void tcp_sack_trim(struct tcp_conn *c);
/* If seq lies in a SACKed range, returns true and its end in *end; else
 * *end is the start of the next SACKed range (or snd_max). */
bool tcp_sack_lookup(const struct tcp_conn *c, uint32_t seq, uint32_t *end);
/* The next hole at or after `from` below the highest SACKed byte:
 * true with [*seq, *seq + *n) (n at most one segment). */
bool tcp_sack_next_hole(const struct tcp_conn *c, uint32_t from, uint32_t *seq,
			uint32_t *n);
/* Bytes SACKed in all. */
uint32_t tcp_sack_bytes(const struct tcp_conn *c);
/* Notes that the hole at seq was resent now (recovery only). */
void tcp_sack_log_resend(struct tcp_conn *c, uint32_t seq);
/* The resend of the hole at snd_una is lost: data sent after it was
 * SACKed. */
bool tcp_sack_head_lost(const struct tcp_conn *c);
/* Receiver: up to max blocks for our next ACK, the latest first. */
unsigned tcp_sack_blocks(const struct tcp_conn *c, uint32_t *l, uint32_t *r, unsigned max);

/* tcp_conn.c: pool, tables, lifetime */
int tcp_tables_init(struct net_stack *st);
void tcp_tables_fini(struct net_stack *st);
struct tcp_conn *tcp_conn_lookup(struct net_stack *st, uint32_t rip,
				 uint16_t rport, uint16_t lport);
struct tcp_listener *tcp_listener_find(struct net_stack *st, uint16_t port);
/* A fresh connection in the hash, without buffers; NULL when the table
 * is full (counted). */
struct tcp_conn *tcp_conn_new(struct net_stack *st, uint32_t rip,
			      uint16_t rport, uint16_t lport);
/* Send and receive buffers, at establishment (or connect): 0, -ENOMEM. */
int tcp_conn_alloc_bufs(struct tcp_conn *c);
void tcp_conn_free_bufs(struct tcp_conn *c);
/* TCP life is over: timers off, out of the tables; the memory goes when
 * the application no longer holds it. */
void tcp_conn_finish(struct tcp_conn *c);
/* Kills the connection with err (0 quiet), RST first when send_rst. */
void tcp_conn_drop(struct tcp_conn *c, int err, bool send_rst);
void tcp_conn_set_state(struct tcp_conn *c, enum tcp_state s);
void tcp_conn_event(struct tcp_conn *c, uint8_t ev);
void tcp_conn_reap(struct tcp_conn *c);
/* The application let go of the handle (closed upcall returned). */
void tcp_conn_release(struct tcp_conn *c);
void tcp_reap_all(struct net_stack *st);
uint32_t tcp_isn(struct net_stack *st, uint32_t rip, uint16_t rport, uint16_t lport);
uint32_t tcp_ts_off(struct net_stack *st, uint32_t rip, uint16_t rport, uint16_t lport);
void tcp_enter_time_wait(struct tcp_conn *c);
/* LAST_ACK done (our FIN acknowledged after theirs): CLOSED. */
void tcp_conn_done(struct tcp_conn *c);
/* tcp_recv returned 0 for the first time. */
void tcp_conn_eof_read(struct tcp_conn *c);
/* Applies negotiated SYN options; sets mss, scales, ts. */
void tcp_conn_apply_syn_opts(struct tcp_conn *c, const struct tcp_seg *s);
static inline uint32_t tcp_now_ts(const struct tcp_conn *c)
{
	return (uint32_t)now_ms(c->st) + c->ts_off;
}

/* tcp_out.c */
void tcp_output(struct tcp_conn *c);
void tcp_send_ack(struct tcp_conn *c);
/* NET_CFG_ACK_PER_BURST: false when the ACK must go now (the list is
 * full), true when it will go at the end of the burst. */
bool tcp_ack_defer(struct tcp_conn *c);
/* Sends the ACKs the burst owes (data sent since may have carried them). */
void tcp_ack_flush(struct net_stack *st);
void tcp_send_syn(struct tcp_conn *c);	/* SYN or SYN/ACK by state */
void tcp_send_rst(struct tcp_conn *c);
void tcp_send_probe(struct tcp_conn *c);	/* seq snd_una-1, no data */
/* Retransmits the first unacknowledged segment. */
void tcp_retransmit_first(struct tcp_conn *c);
/* Retransmits n bytes from seq (a hole the peer's SACKs revealed). */
void tcp_retransmit_range(struct tcp_conn *c, uint32_t seq, uint32_t n);
/* RST answering a segment that has no connection (RFC 9293 3.10.7.1). */
void tcp_reply_rst(struct net_stack *st, const struct tcp_seg *s);
/* Raw segment out, for the stateless SYN/ACK of a cookie. */
void tcp_xmit_raw(struct net_stack *st, uint32_t rip, uint16_t lport,
		  uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags,
		  uint16_t win, const uint8_t *opt, size_t optlen);
/* Window to advertise, unscaled, moving rcv_adv right only. */
uint32_t tcp_rcv_window(struct tcp_conn *c);
/* After the application read: send a window update when it matters. */
void tcp_maybe_window_update(struct tcp_conn *c);
/* Payload bytes per full segment: the MSS less the timestamp option. */
static inline uint32_t tcp_smss(const struct tcp_conn *c)
{
	return c->mss - (c->ts_ok ? 12u : 0u);
}
static inline uint32_t tcp_flight(const struct tcp_conn *c)
{
	return c->snd_max - c->snd_una;
}

/* tcp_timer.c */
void tcp_timers_init(struct tcp_conn *c);
void tcp_timers_cancel(struct tcp_conn *c);
void tcp_rtt_sample(struct tcp_conn *c, uint32_t rtt_us);
void tcp_arm_rtx(struct tcp_conn *c);
void tcp_arm_persist(struct tcp_conn *c);
void tcp_arm_delack(struct tcp_conn *c);
void tcp_arm_keepalive(struct tcp_conn *c);
void tcp_arm_keep(struct tcp_conn *c, uint32_t ms);

/* tcp_reass.c */
/* Takes an in-window out-of-order segment (seq > rcv_nxt). Returns 0, or
 * -1 when it exceeds the caps (dropped, counted). */
int tcp_ooo_add(struct tcp_conn *c, uint32_t seq, const uint8_t *d, uint32_t n);
/* After rcv_nxt advanced: bytes of held data that now follow in order
 * (they are already in the ring; the caller commits them). */
uint32_t tcp_ooo_pull(struct tcp_conn *c);
void tcp_ooo_clear(struct tcp_conn *c);

/* syncookie.c */
uint32_t syncookie_make(struct net_stack *st, const struct tcp_seg *s,
			uint16_t *mss_out);
/* Returns the MSS encoded in a valid cookie (ack - 1), or 0. */
uint16_t syncookie_check(struct net_stack *st, const struct tcp_seg *s);
/* Peer's window scale as echoed in TSecr: -1 none. */
int syncookie_ts_wscale(uint32_t tsecr);
bool syncookie_ts_sack(uint32_t tsecr);
uint32_t syncookie_ts_encode(uint32_t now_ts, const struct tcp_seg *syn);

/* stack.c */
void net_enter(struct net_stack *st, uint64_t now_us);
void net_leave(struct net_stack *st);

#endif
