/*
 * fy-load udp and udpecho: numbered datagrams through a UDP path, and the echo (or
 * sink) at its far end (see fy_load.h).
 *
 * udp: --count N datagrams of --size S bytes, paced at --rate per second (0: as fast as
 * the socket takes them), from --conns K sockets (source ports) in turn (bound to
 * loopback ports P..P+K-1 with --source-port P, so that a later run can come from the
 * same source again). With --duration SECS it stops sending after SECS (or at the end
 * of --timeout) even before --count, and reports what it sent. Each datagram
 * is self-describing, so a corrupted, truncated, duplicated or reordered one is told
 * apart from a lost one:
 *
 *    0       4       8       12              20                          S
 *   +-------+-------+-------+---------------+---------------------------+
 *   | "FYUD"| seq   | size  | checksum      | payload: the stream of     |
 *   |       | (BE)  | (BE)  | FNV-1a 64 (BE)| seed ^ mix(seq), S-20 bytes|
 *   +-------+-------+-------+---------------+---------------------------+
 *
 * The checksum covers bytes 0..11 and the payload; a received payload is also compared
 * with the one regenerated from seed and seq. The echoes are read while sending; after
 * the last send the command waits until every datagram came back or --linger seconds
 * (default 1) pass without one. Result line:
 *
 *   ok sent=N received=R lost=L reordered=O corrupt=C dup=D send_errors=E sources=K
 *      answered_sources=A secs=T
 *
 * received counts distinct sequence numbers; reordered those that arrived after a
 * higher one of the same source; answered_sources the sockets that got any echo.
 * FAIL (exit 1) when corrupt > 0, or when nothing came back (unless --no-read: send
 * only, e.g. a flood at a target that never answers).
 *
 * udpecho (also `serve --mode udp-echo|udp-sink`): --port P [--bind A] a UDP socket
 * that sends every datagram back to its source (udp-sink: only counts them). Prints
 * "listening port=P mode=..", then "udp in=.. out=.. sources=.." about once a second
 * while counts change, and the same line on SIGTERM or at the end of --timeout.
 */
#include "fy_load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDP_HDR 20
#define UDP_MAX 65507
#define UDP_MAX_SOURCES 1024

/* ------------------------------------------------------------ the datagram */

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t dgram_sum(const uint8_t *d, size_t size)
{
	uint64_t h = fnv1a(0xcbf29ce484222325ULL, d, 12);
	return fnv1a(h, d + UDP_HDR, size - UDP_HDR);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void payload(uint64_t seed, uint32_t seq, uint8_t *p, size_t n)
{
	struct prng g;
	prng_init(&g, seed ^ ((uint64_t)seq * 0x9e3779b97f4a7c15ULL));
	prng_fill(&g, p, n);
}

static void dgram_make(uint8_t *d, size_t size, uint64_t seed, uint32_t seq)
{
	memcpy(d, "FYUD", 4);
	put32(d + 4, seq);
	put32(d + 8, (uint32_t)size);
	payload(seed, seq, d + UDP_HDR, size - UDP_HDR);
	uint64_t h = dgram_sum(d, size);
	put32(d + 12, (uint32_t)(h >> 32));
	put32(d + 16, (uint32_t)h);
}

/* The sequence number of an intact datagram, or -1. */
static int64_t dgram_check(const uint8_t *d, size_t n, size_t size, uint64_t seed, uint64_t count,
			   uint8_t *scratch)
{
	if (n != size || memcmp(d, "FYUD", 4) || get32(d + 8) != size)
		return -1;
	uint32_t seq = get32(d + 4);
	uint64_t h = dgram_sum(d, size);
	if (seq >= count || get32(d + 12) != (uint32_t)(h >> 32) || get32(d + 16) != (uint32_t)h)
		return -1;
	payload(seed, seq, scratch, size - UDP_HDR);
	if (memcmp(d + UDP_HDR, scratch, size - UDP_HDR))
		return -1;
	return seq;
}

/* ----------------------------------------------------------------- udp */

struct usrc {
	int fd;
	int64_t max_seq;   /* highest seq echoed to this source, -1: none yet */
	uint64_t answered; /* echoes to this source */
};

struct ustate {
	struct usrc *src;
	long nsrc;
	uint8_t *seen; /* per seq: echoed already */
	uint8_t *rbuf, *scratch;
	size_t size;
	uint64_t received, reordered, corrupt, dup;
	double last_rx;
};

/* Reads every echo waiting on source i. */
static void udp_drain(struct ustate *u, long i)
{
	struct usrc *s = &u->src[i];
	for (;;) {
		ssize_t n = recv(s->fd, u->rbuf, UDP_MAX, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN, or ECONNREFUSED from an ICMP error: nothing to read now */
			return;
		}
		u->last_rx = now();
		int64_t seq = dgram_check(u->rbuf, (size_t)n, u->size, O.seed, O.count, u->scratch);
		if (seq < 0) {
			u->corrupt++;
			continue;
		}
		/* Datagram seq left from source seq % nsrc: an echo elsewhere is misrouted. */
		if (seq % u->nsrc != i) {
			u->corrupt++;
			continue;
		}
		if (u->seen[seq]) {
			u->dup++;
			continue;
		}
		u->seen[seq] = 1;
		u->received++;
		s->answered++;
		if (seq < s->max_seq)
			u->reordered++;
		else
			s->max_seq = seq;
	}
}

static void udp_poll(struct ustate *u, struct pollfd *pf, double secs)
{
	int ms = secs <= 0 ? 0 : (int)(secs * 1000) + 1;
	int r = poll(pf, (nfds_t)u->nsrc, ms);
	if (r <= 0)
		return;
	for (long i = 0; i < u->nsrc; i++)
		if (pf[i].revents)
			udp_drain(u, i);
}

int cmd_udp(void)
{
	if (!O.connect || !O.count)
		die(EX_USAGE, "udp needs --connect H:P and --count N");
	if (!O.size)
		O.size = 512;
	if (O.size < UDP_HDR || O.size > UDP_MAX)
		die(EX_USAGE, "--size must be %d..%d", UDP_HDR, UDP_MAX);
	if (O.count > (1ULL << 31))
		die(EX_USAGE, "--count at most 2^31");
	if (O.conns > UDP_MAX_SOURCES)
		die(EX_USAGE, "--conns (sources) at most %d", UDP_MAX_SOURCES);
	raise_nofile(O.conns + 64);

	char host[256], port[32];
	split_hostport(O.connect, host, sizeof(host), port, sizeof(port));
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	int pn = atoi(port);
	if (pn <= 0 || pn > 65535)
		die(EX_USAGE, "bad port in '%s'", O.connect);
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)pn);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)pn);
		sl = sizeof(*s6);
	} else {
		die(EX_USAGE, "udp --connect takes a numeric address, got '%s'", host);
	}

	struct ustate u = {0};
	u.nsrc = O.conns;
	u.size = (size_t)O.size;
	u.src = calloc((size_t)u.nsrc, sizeof(*u.src));
	u.seen = O.no_read ? NULL : calloc((size_t)O.count, 1);
	u.rbuf = malloc(UDP_MAX);
	u.scratch = malloc(UDP_MAX);
	uint8_t *sbuf = malloc(UDP_MAX);
	struct pollfd *pf = calloc((size_t)u.nsrc, sizeof(*pf));
	if (!u.src || (!O.no_read && !u.seen) || !u.rbuf || !u.scratch || !sbuf || !pf)
		die(EX_USAGE, "out of memory");
	for (long i = 0; i < u.nsrc; i++) {
		int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die(EX_USAGE, "udp socket: %s", strerror(errno));
		if (O.source_port) {
			/* Source i from port P + i, on the address family's loopback. */
			struct sockaddr_storage ls = {0};
			struct sockaddr_in *l4 = (struct sockaddr_in *)&ls;
			struct sockaddr_in6 *l6 = (struct sockaddr_in6 *)&ls;
			int one = 1;
			long lp = O.source_port + i;
			if (lp > 65535)
				die(EX_USAGE, "--source-port %ld + %ld sources is past 65535", O.source_port, u.nsrc);
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			ls.ss_family = ss.ss_family;
			if (ss.ss_family == AF_INET) {
				l4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
				l4->sin_port = htons((uint16_t)lp);
			} else {
				l6->sin6_addr = in6addr_loopback;
				l6->sin6_port = htons((uint16_t)lp);
			}
			if (bind(fd, (struct sockaddr *)&ls, sl) < 0)
				die(EX_USAGE, "udp bind to source port %ld: %s", lp, strerror(errno));
		}
		if (connect(fd, (struct sockaddr *)&ss, sl) < 0)
			die(EX_USAGE, "udp socket to %s: %s", O.connect, strerror(errno));
		u.src[i] = (struct usrc){.fd = fd, .max_seq = -1};
		pf[i] = (struct pollfd){.fd = fd, .events = O.no_read ? 0 : POLLIN};
	}

	uint64_t sent = 0, send_errors = 0;
	double t0 = now();
	double stop_at = O.duration > 0 ? t0 + run_window(O.duration) : 0;
	g_phase = "sending datagrams";
	for (uint64_t i = 0; i < O.count;) {
		if (stop_at > 0 && now() >= stop_at)
			break;
		double due = O.rate > 0 ? t0 + (double)i / O.rate : 0;
		double wait = due - now();
		if (wait > 0) {
			if (O.no_read)
				usleep((useconds_t)(wait * 1e6));
			else
				udp_poll(&u, pf, wait);
			continue;
		}
		long k = (long)(i % (uint64_t)u.nsrc);
		dgram_make(sbuf, u.size, O.seed, (uint32_t)i);
		ssize_t w = send(u.src[k].fd, sbuf, u.size, 0);
		if (w < 0 && errno == EAGAIN) {
			struct pollfd one = {.fd = u.src[k].fd, .events = POLLOUT};
			poll(&one, 1, 100);
			continue;	/* the same datagram again */
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w == (ssize_t)u.size)
			sent++;
		else
			send_errors++;	/* ECONNREFUSED (an earlier ICMP error), ENOBUFS, ... */
		i++;
		if (!O.no_read && (O.rate <= 0 ? (i & 63) == 0 : true))
			udp_poll(&u, pf, 0);
	}
	double t_sent = now();
	if (!O.no_read) {
		g_phase = "waiting for the last echoes";
		double linger = O.linger > 0 ? O.linger : 1.0;
		u.last_rx = u.last_rx > t_sent ? u.last_rx : t_sent;
		while (u.received < sent) {
			double left = u.last_rx + linger - now();
			if (left <= 0)
				break;
			udp_poll(&u, pf, left);
		}
	}
	long answered = 0;
	for (long i = 0; i < u.nsrc; i++) {
		if (u.src[i].answered)
			answered++;
		close(u.src[i].fd);
	}
	bool bad = u.corrupt > 0 || (!O.no_read && u.received == 0);
	printf("%s sent=%" PRIu64 " received=%" PRIu64 " lost=%" PRIu64 " reordered=%" PRIu64
	       " corrupt=%" PRIu64 " dup=%" PRIu64 " send_errors=%" PRIu64
	       " sources=%ld answered_sources=%ld secs=%.3f send_secs=%.3f\n",
	       bad ? "FAIL" : "ok", sent, u.received, sent - (u.received < sent ? u.received : sent),
	       u.reordered, u.corrupt, u.dup, send_errors, u.nsrc, answered, now() - t0, t_sent - t0);
	fflush(stdout);
	free(u.src);
	free(u.seen);
	free(u.rbuf);
	free(u.scratch);
	free(sbuf);
	free(pf);
	return bad ? EX_FAIL : EX_OK;
}

/* -------------------------------------------------------------- udpecho */

static volatile sig_atomic_t g_stop;

static void on_term(int sig)
{
	(void)sig;
	g_stop = 1;
}

static struct sockaddr_storage g_srcs[256];
static unsigned g_nsrcs;

/* Distinct source addresses, counted up to 256 (for the log line). */
static void note_source(const struct sockaddr_storage *a, socklen_t al)
{
	for (unsigned i = 0; i < g_nsrcs; i++)
		if (!memcmp(&g_srcs[i], a, al))
			return;
	if (g_nsrcs < sizeof(g_srcs) / sizeof(g_srcs[0])) {
		memset(&g_srcs[g_nsrcs], 0, sizeof(g_srcs[0]));
		memcpy(&g_srcs[g_nsrcs++], a, al);
	}
}

int cmd_udpecho(void)
{
	const char *mode = O.mode ? O.mode : "udp-echo";
	if (!strcmp(mode, "echo"))
		mode = "udp-echo";
	else if (!strcmp(mode, "sink"))
		mode = "udp-sink";
	if (strcmp(mode, "udp-echo") && strcmp(mode, "udp-sink"))
		die(EX_USAGE, "unknown --mode '%s' for udpecho (echo|sink)", mode);
	bool echo = !strcmp(mode, "udp-echo");

	struct sockaddr_in sa = {0};
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)O.port);
	if (inet_pton(AF_INET, O.bind ? O.bind : "127.0.0.1", &sa.sin_addr) != 1)
		die(EX_USAGE, "bad --bind '%s'", O.bind);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die(EX_USAGE, "socket: %s", strerror(errno));
	if (O.rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &O.rcvbuf, sizeof(O.rcvbuf));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(EX_USAGE, "bind udp port %d: %s", O.port, strerror(errno));
	socklen_t sl = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &sl);

	struct sigaction act = {0};
	act.sa_handler = on_term;
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	/* --timeout ends it quietly: the last counts were printed within a second. */
	timeout_says(EX_OK, "ok lifetime over (--timeout %.1f s)", O.timeout);
	say("listening port=%d mode=%s\n", ntohs(sa.sin_port), mode);

	uint8_t *buf = malloc(UDP_MAX + 1);
	if (!buf)
		die(EX_USAGE, "out of memory");
	uint64_t in = 0, out = 0, lost_out = 0, shown_in = 0;
	double next_say = now() + 1.0;
	g_phase = "serving datagrams";
	while (!g_stop) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, 200);
		for (int k = 0; r > 0 && k < 256; k++) {
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(fd, buf, UDP_MAX + 1, MSG_DONTWAIT, (struct sockaddr *)&from,
					     &fl);
			if (n < 0)
				break;
			in++;
			note_source(&from, fl);
			if (!echo)
				continue;
			if (sendto(fd, buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&from, fl) == n)
				out++;
			else
				lost_out++;
		}
		if (now() >= next_say) {
			if (in != shown_in)
				say("udp in=%" PRIu64 " out=%" PRIu64 " send_failed=%" PRIu64 " sources=%u\n",
				    in, out, lost_out, g_nsrcs);
			shown_in = in;
			next_say = now() + 1.0;
		}
	}
	say("udp in=%" PRIu64 " out=%" PRIu64 " send_failed=%" PRIu64 " sources=%u\n", in, out,
	    lost_out, g_nsrcs);
	say("ok udp in=%" PRIu64 " out=%" PRIu64 "\n", in, out);
	free(buf);
	close(fd);
	return EX_OK;
}
