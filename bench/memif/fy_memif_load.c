/* fy-memif-load: drives ferry-relay's DPDK data plane over a memif port
 * with no kernel in the path. It runs relay/net (the relay's own TCP stack)
 * on one lcore, busy polling, and is at once the relay's agent (TLS tunnel,
 * mux streams) and K public clients. See ml.h and bench/README.md.
 *
 *   fy-memif-load [EAL args] -- --relay-ip A --ip A/P --token T --ca FILE
 *                 --public-port P [--workload up|down|churn|rr] [--conns K]
 *                 [--bytes B] [--count N] [--req B] [--loop]
 *
 * Prints "workload=up bytes=N secs=S gbit=G ..." (churn and rr: rates and
 * latency percentiles) and exits 0 when every byte arrived, matched its
 * stream's pattern and every stream ended cleanly; 1 otherwise (or after
 * --timeout); 2 on bad usage.
 *
 * --serve: the port is set up once and kept; each line read from stdin
 * holds one run's options (--workload, --conns, --bytes, ...), which add to
 * those of the command line. After each run its report, then "end N rc=R"
 * (N counts the runs from 1), on stdout. This lets the generator be
 * memif's server for a whole series of runs, so that the relay can be its
 * zero-copy client (a memif client connects once, at port start). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "ferry/clock.h"
#include "ml.h"

#define BURST 32
#define RING_DESC 1024
#define NB_MBUFS 8191
#define LINK_WAIT_US 10000000ull	/* memif: the relay must be there already */
#define CLOSE_WAIT_US 2000000ull	/* the tunnel's orderly close */

struct port {
	uint16_t id;
	struct rte_mempool *pool;
	struct rte_mbuf *tx[BURST];
	unsigned ntx;
	struct rte_mbuf *spare;	/* where the stack builds its next frame */
	uint64_t tx_dropped;
	uint64_t tx_frames;	/* handed to tx_burst */
	uint64_t busy_cycles;	/* of turns that moved packets, while measuring */
};

static struct port g_port;

uint64_t ml_now_us(void)
{
	return fy_cycles_to_us(rte_get_timer_cycles(), rte_get_timer_hz());
}

uint64_t ml_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void ml_fail(struct ml *m, const char *fmt, ...)
{
	va_list ap;

	if (m->fatal)
		return;	/* keep the first reason */
	m->fatal = true;
	va_start(ap, fmt);
	vsnprintf(m->fatal_why, sizeof(m->fatal_why), fmt, ap);
	va_end(ap);
}

/* ---- the port ---- */

static void tx_flush(struct port *p)
{
	unsigned sent = 0;

	while (sent < p->ntx) {
		uint16_t k = rte_eth_tx_burst(p->id, 0, p->tx + sent, (uint16_t)(p->ntx - sent));

		if (!k)
			break;
		sent += k;
	}
	p->tx_frames += sent;
	/* A full ring drops the rest; TCP retransmits, as in the relay. */
	for (unsigned i = sent; i < p->ntx; i++) {
		rte_pktmbuf_free(p->tx[i]);
		p->tx_dropped++;
	}
	p->ntx = 0;
}

static int port_setup(struct port *p, unsigned mtu)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	int e;

	/* DPDK 22.11's memif driver reports 1518 bytes at most yet carries
	 * larger frames (run.sh gives it whole-frame buffers): as the relay. */
	if (rte_eth_dev_info_get(p->id, &info) == 0 &&
	    mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN <= info.max_rx_pktlen)
		conf.rxmode.mtu = mtu;

	/* An mbuf holds a whole frame, as in the relay. */
	p->pool = rte_pktmbuf_pool_create("ml_mbufs", NB_MBUFS, 256, 0,
					  (uint16_t)(RTE_PKTMBUF_HEADROOM +
						     RTE_MAX((unsigned)RTE_MBUF_DEFAULT_DATAROOM,
							     net_frame_max(mtu))),
					  (int)rte_socket_id());
	if (!p->pool) {
		fprintf(stderr, "fy-memif-load: mbuf pool: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	e = rte_eth_dev_configure(p->id, 1, 1, &conf);
	if (e == 0)
		e = rte_eth_rx_queue_setup(p->id, 0, RING_DESC, rte_eth_dev_socket_id(p->id),
					   NULL, p->pool);
	if (e == 0)
		e = rte_eth_tx_queue_setup(p->id, 0, RING_DESC, rte_eth_dev_socket_id(p->id), NULL);
	if (e == 0)
		e = rte_eth_dev_start(p->id);
	if (e < 0) {
		fprintf(stderr, "fy-memif-load: port %u setup: %s\n", p->id, rte_strerror(-e));
		return -1;
	}
	return 0;
}

/* memif's link comes up when the client has connected to the server's
 * socket and both sides agreed on the rings. */
static int wait_link(struct port *p)
{
	uint64_t until = ml_now_us() + LINK_WAIT_US;
	struct rte_eth_link link;

	do {
		if (rte_eth_link_get_nowait(p->id, &link) == 0 && link.link_status)
			return 0;
		rte_delay_us_sleep(10000);
	} while (ml_now_us() < until);
	fprintf(stderr, "fy-memif-load: port %u link still down after 10 s (is the relay's "
		"memif server up on the same socket?)\n", p->id);
	return -1;
}

/* ---- relay/net upcalls ---- */

/* The stack builds its next frame right in an mbuf (as the relay's
 * backend does), so the generator spends no copy on its output. */
static uint8_t *up_tx_buf(void *ctx, size_t cap)
{
	struct port *p = &g_port;
	struct ml *m = ctx;

	if (m->loop)
		return NULL;	/* no port: the loop copies the stack's frame */
	if (!p->spare && !(p->spare = rte_pktmbuf_alloc(p->pool)))
		return NULL;
	if (rte_pktmbuf_tailroom(p->spare) < cap)
		return NULL;
	return rte_pktmbuf_mtod(p->spare, uint8_t *);
}

static int up_tx(void *ctx, const uint8_t *frame, size_t len)
{
	struct port *p = &g_port;
	struct ml *m = ctx;
	struct rte_mbuf *mb;

	if (m->loop)
		return ml_loop_tx(true, frame, len);
	if (p->spare && frame == rte_pktmbuf_mtod(p->spare, const uint8_t *)) {
		mb = p->spare;	/* built in place: tx_buf checked the room */
		p->spare = NULL;
		rte_pktmbuf_append(mb, (uint16_t)len);
	} else {
		char *d;

		/* Frames the stack built in its own buffer (ARP queue, pool empty). */
		if (!(mb = rte_pktmbuf_alloc(p->pool)))
			return -ENOBUFS;
		if (!(d = rte_pktmbuf_append(mb, (uint16_t)len))) {
			rte_pktmbuf_free(mb);
			return -EMSGSIZE;
		}
		memcpy(d, frame, len);
	}
	p->tx[p->ntx++] = mb;
	if (p->ntx == BURST)
		tx_flush(p);
	return 0;
}

static int up_accepted(void *ctx, struct tcp_conn *c, uint16_t lport)
{
	(void)ctx;
	(void)c;
	(void)lport;
	return -1;	/* we listen on nothing */
}

static void up_connected(void *ctx, struct tcp_conn *c, int err)
{
	struct ml *m = ctx;
	struct ml_io *io = tcp_user(c);

	if (err) {	/* the handle is invalid after this upcall */
		io->c = NULL;
		io->closed = true;
		io->reason = err;
	}
	if (io->kind == ML_K_AGENT)
		ml_agent_connected(m, err);
	else if (ml_echo_workload(m->workload))
		ml_echo_connected(m, (struct ml_flow *)io, err);
	else
		ml_client_connected(m, (struct ml_flow *)io, err);
}

static void dispatch(struct ml *m, struct ml_io *io, bool rd, bool wr)
{
	if (io->kind == ML_K_AGENT)
		ml_agent_event(m, rd, wr);
	else if (ml_echo_workload(m->workload))
		ml_echo_event(m, (struct ml_flow *)io, rd, wr);
	else
		ml_client_event(m, (struct ml_flow *)io, rd, wr);
}

static void up_readable(void *ctx, struct tcp_conn *c)
{
	dispatch(ctx, tcp_user(c), true, false);
}

static void up_writable(void *ctx, struct tcp_conn *c)
{
	dispatch(ctx, tcp_user(c), false, true);
}

static void up_closed(void *ctx, struct tcp_conn *c, int reason)
{
	struct ml *m = ctx;
	struct ml_io *io = tcp_user(c);

	io->c = NULL;
	io->closed = true;
	io->reason = reason;
	if (io->kind == ML_K_AGENT)
		ml_agent_event(m, true, false);	/* recv now reports the reason */
	else
		ml_client_closed(m, (struct ml_flow *)io);
}

static const struct net_ops ml_net_ops = {
	.tx = up_tx,
	.tx_buf = up_tx_buf,
	.accepted = up_accepted,
	.connected = up_connected,
	.readable = up_readable,
	.writable = up_writable,
	.closed = up_closed,
};

/* ---- the loop ---- */

/* One turn: receive a burst, run timers and the application, send. Like
 * the relay, it counts the TSC cycles of turns that moved packets, so the
 * report can say whether the generator or the relay was the limit. */
static void poll_once(struct ml *m)
{
	struct rte_mbuf *rx[BURST];
	uint64_t c0 = rte_rdtsc(), tx0 = g_port.tx_frames;
	uint16_t n = m->loop ? 0 : rte_eth_rx_burst(g_port.id, 0, rx, BURST);
	uint64_t t = ml_now_us();
	unsigned looped = m->loop ? ml_loop_poll(m, t) : 0;

	for (uint16_t i = 0; i < n; i++) {
		/* An mbuf holds any frame of the MTU. memif is a memory copy
		 * and every payload byte is checked against its pattern (inside
		 * TLS's own integrity check on the tunnel), so the generator
		 * skips the checksum work that the relay does for real. */
		if (rx[i]->nb_segs == 1)
			net_input_ex(m->st, rte_pktmbuf_mtod(rx[i], const uint8_t *),
				     rx[i]->data_len, t, NET_RX_IP_CSUM_GOOD | NET_RX_L4_CSUM_GOOD);
		rte_pktmbuf_free(rx[i]);
	}
	net_poll_timers(m->st, t);
	ml_agent_step(m);
	ml_clients_step(m);
	ml_echo_step(m);
	net_flush(m->st);
	tx_flush(&g_port);
	if ((n || looped || g_port.tx_frames != tx0) && m->clients_started && !m->t_end_us)
		g_port.busy_cycles += rte_rdtsc() - c0;
}

static int run(struct ml *m)
{
	uint64_t deadline = ml_now_us() + (uint64_t)m->timeout_s * 1000000ull;
	uint64_t close_until;

	m->target = UINT64_MAX;	/* set when the clients start */
	if (m->loop ? ml_loop_init(m, ml_now_us()) < 0 || ml_echo_start(m) < 0
		    : ml_agent_start(m) < 0) {
		ml_fail(m, "cannot start (out of memory?)");
		return 1;
	}
	while (!m->fatal && m->flows_done < m->target && ml_now_us() < deadline)
		poll_once(m);
	if (m->flows_done < m->target && !m->fatal)
		ml_fail(m, "timeout after %u s: %llu connections done of %llu (agent state %d)",
			m->timeout_s, (unsigned long long)m->flows_done,
			(unsigned long long)(m->clients_started ? m->target : 0), (int)m->agent.st);
	if (m->loop)
		return m->fatal ? 1 : 0;
	ml_agent_close(m);
	close_until = ml_now_us() + CLOSE_WAIT_US;
	while (!m->agent.io.closed && m->agent.st == ML_A_CLOSING && ml_now_us() < close_until)
		poll_once(m);
	return m->fatal ? 1 : 0;
}

/* ---- options ---- */

static void usage(FILE *o)
{
	fprintf(o,
"usage: fy-memif-load [EAL args] -- [options]\n"
"  --relay-ip A.B.C.D     the relay's --dpdk-ip address (required)\n"
"  --ip A.B.C.D/P         our address, in the relay's subnet (required)\n"
"  --token T              agent token (required)\n"
"  --ca FILE              CA that signed the relay's certificate (required)\n"
"  --public-port P        port to REGISTER and connect the clients to (required)\n"
"  --agent-port P         the relay's agent port (7000)\n"
"  --name NAME            agent name (the token's first name when empty)\n"
"  --workload W           up: clients send, agent checks; down: the reverse;\n"
"                         churn: --count connections, each a request, its echo\n"
"                         and the close, --conns at a time; rr: --conns\n"
"                         connections of --count round trips each (up)\n"
"  --conns K              client connections (at a time), 1..%d (4)\n"
"  --bytes B[K|M|G]       up/down: total payload across the clients (256M)\n"
"  --count N              churn: connections in all; rr: round trips each (10000)\n"
"  --req B                churn/rr: request (and echo) bytes, 1..%d (64)\n"
"  --loop                 churn/rr: echo server in this process (a second stack\n"
"                         at --relay-ip), no relay and no port: the baseline\n"
"  --port N               DPDK port id (0)\n"
"  --mtu N                the port's IP MTU, 576..9000 (1500; the relay's --dpdk-mtu)\n"
"  --timeout S            give up after S seconds, exit 1 (60)\n"
"  --serve                runs read from stdin, a line of options each; the port\n"
"                         stays up between them (\"end N rc=R\" after each)\n"
"  -v, --verbose          progress and the stack's counters on stderr\n", ML_MAX_CONNS,
	ML_REQ_MAX);
}

static int parse_bytes(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	default: break;
	}
	if (*end || end == s)
		return -1;
	*out = v;
	return 0;
}

static long num(const char *s, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *end || end == s || v < lo || v > hi ? -1 : v;
}

static int parse_opts(struct ml *m, uint16_t *port_id, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "relay-ip", required_argument, NULL, 'r' }, { "ip", required_argument, NULL, 'i' },
		{ "token", required_argument, NULL, 't' }, { "ca", required_argument, NULL, 'c' },
		{ "public-port", required_argument, NULL, 'P' },
		{ "agent-port", required_argument, NULL, 'a' }, { "name", required_argument, NULL, 'n' },
		{ "workload", required_argument, NULL, 'w' }, { "conns", required_argument, NULL, 'k' },
		{ "bytes", required_argument, NULL, 'b' }, { "port", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 'T' }, { "verbose", no_argument, NULL, 'v' },
		{ "count", required_argument, NULL, 'N' }, { "req", required_argument, NULL, 'q' },
		{ "loop", no_argument, NULL, 'L' }, { "mtu", required_argument, NULL, 'M' },
		{ "serve", no_argument, NULL, 'S' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	long v = 0;
	int o;

	optind = 1;	/* the EAL ran getopt on its own part of argv */
	while ((o = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (o) {
		case 'r':
			snprintf(m->relay_ip_str, sizeof(m->relay_ip_str), "%s", optarg);
			v = net_parse_ipv4(optarg, &m->relay_ip, NULL);
			break;
		case 'i': v = net_parse_ipv4(optarg, &m->my_ip, &m->prefix); break;
		case 't': m->token = optarg; break;
		case 'c': m->ca = optarg; break;
		case 'P': v = num(optarg, 1, 65535); m->public_port = (uint16_t)v; break;
		case 'a': v = num(optarg, 1, 65535); m->agent_port = (uint16_t)v; break;
		case 'n': m->name = optarg; break;
		case 'w':
			v = 0;
			if (!strcmp(optarg, "up"))
				m->workload = ML_UP;
			else if (!strcmp(optarg, "down"))
				m->workload = ML_DOWN;
			else if (!strcmp(optarg, "churn"))
				m->workload = ML_CHURN;
			else if (!strcmp(optarg, "rr"))
				m->workload = ML_RR;
			else
				v = -1;
			break;
		case 'N': v = num(optarg, 1, 100000000); m->count = (uint64_t)v; break;
		case 'q': v = num(optarg, 1, ML_REQ_MAX); m->req = (unsigned)v; break;
		case 'L': m->loop = true; break;
		case 'M': v = num(optarg, 576, 9000); m->mtu = (unsigned)v; break;
		case 'k': v = num(optarg, 1, ML_MAX_CONNS); m->nconns = (unsigned)v; break;
		case 'b': v = parse_bytes(optarg, &m->total_bytes); break;
		case 'p': v = num(optarg, 0, 1023); *port_id = (uint16_t)v; break;
		case 'T': v = num(optarg, 1, 86400); m->timeout_s = (unsigned)v; break;
		case 'v': m->verbose = true; break;
		case 'S': m->serve = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
		if (v < 0) {
			fprintf(stderr, "fy-memif-load: bad value for --%s: '%s'\n",
				argv[optind - 1] + 2, optarg);
			return -1;
		}
	}
	if (m->loop && m->mtu != 1500) {
		fprintf(stderr, "fy-memif-load: --loop has no port: --mtu is for runs through the "
			"relay\n");
		return -1;
	}
	if (m->loop && !ml_echo_workload(m->workload)) {
		fprintf(stderr, "fy-memif-load: --loop is for --workload churn or rr\n");
		return -1;
	}
	/* --loop needs no token or CA: there is no relay. */
	if (optind < argc || !m->relay_ip || !m->my_ip || !m->public_port ||
	    (!m->loop && (!m->token || !m->ca))) {
		fprintf(stderr, "fy-memif-load: --relay-ip, --ip, --token, --ca and --public-port "
			"are required\n");
		usage(stderr);
		return -1;
	}
	return 0;
}

/* ---- main ---- */

static struct net_stack *stack_create(struct ml *m)
{
	struct rte_ether_addr mac;
	struct net_config nc;

	net_config_default(&nc);
	nc.ip = m->my_ip;
	nc.prefix_len = m->prefix;
	nc.mtu = (uint16_t)m->mtu;
	/* Enough buffer for the 1 MiB mux window and a full TLS pair in flight,
	 * so the generator's own TCP never limits the relay's. */
	nc.sndbuf = 1024 * 1024;
	nc.rcvbuf = 1024 * 1024;
	/* Every client's SYN may wait for the one ARP answer at the start
	 * (--loop has no tunnel to resolve it first): none is dropped. */
	nc.arp_queue_per_entry = nc.arp_queue_total = 2 * ML_MAX_CONNS;
	if (ml_echo_workload(m->workload)) {
		/* Small requests, many connections: a buffer is allocated per
		 * connection, and the clients close first, so their TIME_WAIT is
		 * ours. 10 ms of it keeps ports and slots free at any rate that
		 * fits in a run (memif loses nothing, late segments never come). */
		nc.sndbuf = nc.rcvbuf = 64 * 1024;
		nc.max_conns = 16384;
		nc.time_wait_ms = 10;
	}
	if (m->loop) {
		memcpy(mac.addr_bytes, (const uint8_t[6]){ 0x02, 0, 0, 0, 0x4c, 0x02 }, 6);
	} else {
		rte_eth_macaddr_get(g_port.id, &mac);
	}
	memcpy(nc.mac, mac.addr_bytes, 6);
	return net_stack_create(&nc, &ml_net_ops, m, ml_now_us());
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Percentile q (0..1) of the sorted samples, in microseconds. */
static double pct_us(const struct ml *m, double q)
{
	uint64_t i = (uint64_t)(q * (double)(m->nlat - 1) + 0.5);

	return m->nlat ? (double)m->lat[i] * 1e6 / (double)rte_get_tsc_hz() : 0;
}

static void report_echo(struct ml *m, double secs)
{
	const struct net_counters *c = net_counters(m->st);

	qsort(m->lat, m->nlat, sizeof(*m->lat), cmp_u64);
	printf("workload=%s loop=%d conns=%u count=%llu req=%u done=%llu samples=%llu secs=%.3f "
	       "rate=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f mismatches=0 "
	       "gen_retransmits=%llu gen_tx_dropped=%llu gen_busy=%.2f gen_cpu=%.3f\n",
	       m->workload == ML_CHURN ? "churn" : "rr", m->loop, m->nconns,
	       (unsigned long long)m->count, m->req, (unsigned long long)m->flows_done,
	       (unsigned long long)m->nlat, secs,
	       (double)(m->workload == ML_CHURN ? m->flows_done : m->nlat) / secs,
	       pct_us(m, 0.5), pct_us(m, 0.9), pct_us(m, 0.99), pct_us(m, 1.0),
	       (unsigned long long)c->tcp_retransmits, (unsigned long long)g_port.tx_dropped,
	       (double)g_port.busy_cycles / ((double)rte_get_tsc_hz() * secs),
	       (double)(m->cpu_end_ns - m->cpu_start_ns) / 1e9);
	fflush(stdout);
}

static void report(struct ml *m)
{
	const struct net_counters *c = net_counters(m->st);
	uint64_t bad = 0;
	double secs;

	for (unsigned i = 0; i < m->nconns; i++)
		bad += m->flows[i].mismatches;
	if (bad)
		ml_fail(m, "%llu bytes differed from their stream's pattern", (unsigned long long)bad);
	if (m->verbose) {
		const uint64_t *v = (const uint64_t *)c;

		fprintf(stderr, "fy-memif-load: stack counters:");
		for (size_t k = 0; k < net_counter_count; k++)
			if (v[k])
				fprintf(stderr, " %s=%llu", net_counter_names[k], (unsigned long long)v[k]);
		fprintf(stderr, " port_tx_dropped=%llu\n", (unsigned long long)g_port.tx_dropped);
	}
	if (m->fatal) {
		fprintf(stderr, "fy-memif-load: FAILED: %s\n", m->fatal_why);
		return;
	}
	secs = (double)(m->t_end_us - m->t_start_us) / 1e6;
	if (ml_echo_workload(m->workload)) {
		report_echo(m, secs);
		return;
	}
	printf("workload=%s bytes=%llu secs=%.3f gbit=%.3f conns=%u mismatches=0 "
	       "gen_retransmits=%llu gen_tx_dropped=%llu gen_busy=%.2f gen_cpu=%.3f\n",
	       m->workload == ML_UP ? "up" : "down", (unsigned long long)m->total_bytes, secs,
	       m->total_bytes * 8.0 / secs / 1e9, m->nconns, (unsigned long long)c->tcp_retransmits,
	       (unsigned long long)g_port.tx_dropped,
	       (double)g_port.busy_cycles / ((double)rte_get_tsc_hz() * secs),
	       (double)(m->cpu_end_ns - m->cpu_start_ns) / 1e9);
	fflush(stdout);
}

/* One run with m's options, on the port (or --loop): its report on stdout.
 * Returns 0, or 1 when it failed. */
static int run_once(struct ml *m)
{
	int rc;

	if (!(m->st = stack_create(m))) {
		fprintf(stderr, "fy-memif-load: cannot create the stack (out of memory?)\n");
		return 1;
	}
	rc = run(m);
	report(m);
	rc = m->fatal ? 1 : rc;
	if (!m->loop) {
		ml_agent_fini(m);
		/* A failed run aborts the tunnel: the RST must leave, or the
		 * relay keeps the session and refuses the next run's agent. */
		net_flush(m->st);
		tx_flush(&g_port);
	}
	ml_loop_fini();
	for (unsigned i = 0; i < m->nconns; i++)
		free(m->flows[i].tab);
	free(m->lat);
	net_stack_destroy(m->st);
	m->st = NULL;
	return rc;
}

static int check_opts(const struct ml *m)
{
	if (m->total_bytes < m->nconns) {
		fprintf(stderr, "fy-memif-load: --bytes must give every connection at least 1\n");
		return -1;
	}
	return 0;
}

/* Frames left in the RX ring by the run before (late retransmissions,
 * the tunnel's last ACKs) belong to a stack that is gone. */
static void drain_rx(struct port *p)
{
	struct rte_mbuf *rx[BURST];
	uint16_t n;

	while ((n = rte_eth_rx_burst(p->id, 0, rx, BURST)) > 0)
		rte_pktmbuf_free_bulk(rx, n);
}

#define SERVE_ARGS_MAX 32

/* --serve: a run per line of stdin, each from the command line's options
 * plus its own. Returns 0 when every run passed, 1 otherwise. */
static int serve(const struct ml *base)
{
	static struct ml m;
	static char line[1024];
	unsigned nrun = 0;
	int worst = 0;

	while (fgets(line, sizeof(line), stdin)) {
		char *argv[SERVE_ARGS_MAX + 2], *save = NULL, *tok;
		int argc = 0, rc;
		uint16_t port_id = g_port.id;

		argv[argc++] = (char *)"fy-memif-load";
		for (tok = strtok_r(line, " \t\n", &save); tok && argc <= SERVE_ARGS_MAX;
		     tok = strtok_r(NULL, " \t\n", &save))
			argv[argc++] = tok;
		argv[argc] = NULL;
		nrun++;
		m = *base;
		m.serve = false;
		g_port.busy_cycles = g_port.tx_dropped = g_port.tx_frames = 0;
		if (tok || parse_opts(&m, &port_id, argc, argv) < 0 || check_opts(&m) < 0) {
			fprintf(stderr, "fy-memif-load: run %u: bad options\n", nrun);
			rc = 2;
		} else if (m.loop || m.serve || port_id != g_port.id) {
			fprintf(stderr, "fy-memif-load: run %u: --loop, --serve and --port are for "
				"the command line\n", nrun);
			rc = 2;
		} else {
			drain_rx(&g_port);
			rc = wait_link(&g_port) < 0 ? 1 : run_once(&m);
		}
		printf("end %u rc=%d\n", nrun, rc);
		fflush(stdout);
		if (rc > worst)
			worst = rc;
	}
	return worst ? 1 : 0;
}

int main(int argc, char **argv)
{
	static struct ml m = {
		.agent_port = 7000, .name = "", .nconns = 4, .total_bytes = 256ull << 20,
		.timeout_s = 60, .mtu = 1500, .count = 10000, .req = 64,
	};
	int n = rte_eal_init(argc, argv), rc;

	if (n < 0) {
		fprintf(stderr, "fy-memif-load: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 2;
	}
	if (parse_opts(&m, &g_port.id, argc - n, argv + n) < 0 || check_opts(&m) < 0) {
		rte_eal_cleanup();
		return 2;
	}
	if (m.serve && m.loop) {
		fprintf(stderr, "fy-memif-load: --serve runs go through the relay: no --loop\n");
		rte_eal_cleanup();
		return 2;
	}
	if (!m.loop && (!rte_eth_dev_is_valid_port(g_port.id) || port_setup(&g_port, m.mtu) < 0 ||
			(!m.serve && wait_link(&g_port) < 0))) {
		fprintf(stderr, "fy-memif-load: no usable DPDK port %u (add --vdev net_memif0,"
			"role=client,socket=PATH to the EAL arguments)\n", g_port.id);
		rte_eal_cleanup();
		return 1;
	}
	rc = m.serve ? serve(&m) : run_once(&m);
	rte_pktmbuf_free(g_port.spare);
	if (!m.loop) {
		rte_eth_dev_stop(g_port.id);
		rte_eth_dev_close(g_port.id);
	}
	rte_eal_cleanup();
	return rc;
}
