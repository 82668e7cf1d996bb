/*
 * fy-synflood: a bounded SYN flood for ferry's integration tests (the DPDK
 * relay's SYN cookies). Sends raw TCP SYNs (IPPROTO_RAW, the IPv4 header
 * built here, IP and TCP checksums computed here) with random source ports
 * and random source addresses drawn from a range that must lie inside the
 * test's own subnet, out of one named interface only (SO_BINDTODEVICE).
 *
 *   fy-synflood --dev IFACE --net A.B.C.D/P --dst A.B.C.D:PORT
 *               [--src-range FIRST-LAST] [--count N] [--seconds S] [--pps R]
 *               [--seed S]
 *
 *   --net        the test subnet; --dst and every source address must be in it
 *   --src-range  sources (default: the subnet's host addresses from .3 up,
 *                i.e. network+3 .. broadcast-1); --dst is never used as a source
 *   --count      SYNs to send (default 200000, at most 10000000)
 *   --seconds    stop after this long even if --count is not reached (default 10,
 *                at most 120, fractions allowed)
 *   --pps        rate limit (default 0: as fast as the interface takes them)
 *
 * Each SYN carries MSS 1460, SACK-permitted, timestamps and window scale 7,
 * as Linux sends them, so the cookie path sees realistic options.
 *
 * Prints "started ..." when the first SYN is out, then exactly one result line:
 *   ok sent=N errors=E secs=S pps=R
 * Exit: 0 ok, 1 nothing could be sent, 2 usage or set-up error (not root, ...).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"	/* relay/net: checksums; byte order from ferry/wire.h */

#define BATCH 64
#define PKT_LEN (20 + 40)	/* IPv4 header + TCP header with 20 bytes of options */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage_exit(const char *why)
{
	if (why)
		printf("FAIL %s\n", why);
	fprintf(stderr,
		"usage: fy-synflood --dev IFACE --net A.B.C.D/P --dst A.B.C.D:PORT\n"
		"                   [--src-range FIRST-LAST] [--count N] [--seconds S] [--pps R]\n"
		"                   [--seed S]\n");
	exit(2);
}

/* xorshift64*: fast, and repeatable under --seed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static bool parse_ip(const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	*ip = ntohl(a.s_addr);
	return true;
}

static double parse_num(const char *s, const char *what, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi) {
		char msg[160];

		snprintf(msg, sizeof(msg), "bad %s '%s' (want %g..%g)", what, s, lo, hi);
		usage_exit(msg);
	}
	return v;
}

/* One SYN from src:sport to dst:dport, checksums filled in. */
static void build_syn(uint8_t *p, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
		      uint32_t isn, uint32_t tsval, uint16_t ipid)
{
	uint8_t *t = p + 20, pseudo[12];
	uint32_t sum;

	memset(p, 0, PKT_LEN);
	p[0] = 0x45;			/* IPv4, IHL 5 */
	fy_put16(p + 2, PKT_LEN);
	fy_put16(p + 4, ipid);
	fy_put16(p + 6, 0x4000);		/* DF */
	p[8] = 64;			/* TTL */
	p[9] = IPPROTO_TCP;
	fy_put32(p + 12, src);
	fy_put32(p + 16, dst);
	fy_put16(p + 10, csum_fold(csum_add(0, p, 20)));

	fy_put16(t, sport);
	fy_put16(t + 2, dport);
	fy_put32(t + 4, isn);
	fy_put32(t + 8, 0);
	t[12] = (40 / 4) << 4;		/* data offset: 10 words */
	t[13] = 0x02;			/* SYN */
	fy_put16(t + 14, 64240);
	/* options: MSS 1460, SACK-permitted, TS, NOP, WS 7 (Linux's order) */
	t[20] = 2; t[21] = 4; fy_put16(t + 22, 1460);
	t[24] = 4; t[25] = 2;
	t[26] = 8; t[27] = 10; fy_put32(t + 28, tsval); fy_put32(t + 32, 0);
	t[36] = 1;
	t[37] = 3; t[38] = 3; t[39] = 7;

	fy_put32(pseudo, src);
	fy_put32(pseudo + 4, dst);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP;
	fy_put16(pseudo + 10, 40);
	sum = csum_add(0, pseudo, sizeof(pseudo));
	sum = csum_add(sum, t, 40);
	fy_put16(t + 16, csum_fold(sum));
}

int main(int argc, char **argv)
{
	const char *dev = NULL, *net = NULL, *dst_s = NULL, *range = NULL;
	double seconds = 10, pps = 0;
	uint64_t count = 200000, sent = 0, errors = 0;
	uint32_t net_ip = 0, mask, dst = 0, first, last;
	uint16_t dport = 0;
	int prefix = 0, fd, one = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			usage_exit(NULL);
		if (!v)
			usage_exit("option without a value");
		if (!strcmp(a, "--dev"))
			dev = v;
		else if (!strcmp(a, "--net"))
			net = v;
		else if (!strcmp(a, "--dst"))
			dst_s = v;
		else if (!strcmp(a, "--src-range"))
			range = v;
		else if (!strcmp(a, "--count"))
			count = (uint64_t)parse_num(v, "--count", 1, 10000000);
		else if (!strcmp(a, "--seconds"))
			seconds = parse_num(v, "--seconds", 0.001, 120);
		else if (!strcmp(a, "--pps"))
			pps = parse_num(v, "--pps", 0, 1e8);
		else if (!strcmp(a, "--seed"))
			rng_state = (uint64_t)parse_num(v, "--seed", 0, 1e15) * 2654435761u + 1;
		else
			usage_exit("unknown option");
		i++;
	}
	if (!dev || !net || !dst_s)
		usage_exit("--dev, --net and --dst are required");

	/* --net A.B.C.D/P */
	{
		char buf[64], *slash;

		snprintf(buf, sizeof(buf), "%s", net);
		slash = strchr(buf, '/');
		if (!slash)
			usage_exit("--net wants A.B.C.D/P");
		*slash = 0;
		prefix = (int)parse_num(slash + 1, "--net prefix", 8, 30);
		if (!parse_ip(buf, &net_ip))
			usage_exit("bad --net address");
		mask = ~0u << (32 - prefix);
		net_ip &= mask;
	}
	/* --dst A.B.C.D:PORT */
	{
		char buf[64], *colon;

		snprintf(buf, sizeof(buf), "%s", dst_s);
		colon = strrchr(buf, ':');
		if (!colon)
			usage_exit("--dst wants A.B.C.D:PORT");
		*colon = 0;
		dport = (uint16_t)parse_num(colon + 1, "--dst port", 1, 65535);
		if (!parse_ip(buf, &dst))
			usage_exit("bad --dst address");
		if ((dst & mask) != net_ip)
			usage_exit("--dst is not inside --net");
	}
	/* --src-range FIRST-LAST, inside the subnet, never its network or
	 * broadcast address. */
	if (range) {
		char buf[64], *dash;

		snprintf(buf, sizeof(buf), "%s", range);
		dash = strchr(buf, '-');
		if (!dash)
			usage_exit("--src-range wants FIRST-LAST");
		*dash = 0;
		if (!parse_ip(buf, &first) || !parse_ip(dash + 1, &last) || first > last)
			usage_exit("bad --src-range");
	} else {
		first = net_ip + 3;
		last = (net_ip | ~mask) - 1;
	}
	if ((first & mask) != net_ip || (last & mask) != net_ip || first == net_ip ||
	    last == (net_ip | ~mask))
		usage_exit("--src-range must lie inside --net (not its network or broadcast address)");
	if (first == last && first == dst)
		usage_exit("--src-range holds only --dst");

	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		printf("FAIL raw socket: %s (needs root or CAP_NET_RAW)\n", strerror(errno));
		return 2;
	}
	if (setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t)strlen(dev) + 1) < 0) {
		printf("FAIL setsockopt on %s: %s\n", dev, strerror(errno));
		return 2;
	}

	static uint8_t pkts[BATCH][PKT_LEN];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(dst) };
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	double t0 = now(), deadline = t0 + seconds, t = t0;
	uint32_t span = last - first + 1;
	bool started = false;

	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = pkts[i];
		iov[i].iov_len = PKT_LEN;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &to;
		msgs[i].msg_hdr.msg_namelen = sizeof(to);
	}
	while (sent < count && (t = now()) < deadline) {
		unsigned n = BATCH;
		int k;

		if (count - sent < n)
			n = (unsigned)(count - sent);
		if (pps > 0) {
			/* Never ahead of the schedule: at most what is due now. */
			double due = (t - t0) * pps - (double)sent;

			if (due < 1) {
				double wait = (1 - due) / pps;
				struct timespec ts = { 0, (long)(wait * 1e9) };

				if (wait > 0.01)
					ts.tv_nsec = 10000000;
				nanosleep(&ts, NULL);
				continue;
			}
			if (due < n)
				n = (unsigned)due;
		}
		for (unsigned i = 0; i < n; i++) {
			uint64_t r = rnd();
			uint32_t src;

			do
				src = first + (uint32_t)(rnd() % span);
			while (src == dst);
			build_syn(pkts[i], src, (uint16_t)(1024 + r % 64512), dst, dport,
				  (uint32_t)(r >> 16), (uint32_t)(r >> 32) ^ (uint32_t)rnd(),
				  (uint16_t)(r >> 48));
		}
		k = sendmmsg(fd, msgs, n, 0);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			errors++;
			if (errno == ENOBUFS || errno == EAGAIN) {
				/* The interface is busy: back off a little. */
				poll(NULL, 0, 1);
				continue;
			}
			printf("FAIL sendmmsg: %s (after %llu SYNs)\n", strerror(errno),
			       (unsigned long long)sent);
			return 1;
		}
		sent += (uint64_t)k;
		if (!started && sent) {
			started = true;
			printf("started dst=%s src=%u.%u.%u.%u-%u.%u.%u.%u\n", dst_s, first >> 24,
			       (first >> 16) & 255, (first >> 8) & 255, first & 255, last >> 24,
			       (last >> 16) & 255, (last >> 8) & 255, last & 255);
			fflush(stdout);
		}
	}
	t = now() - t0;
	close(fd);
	if (!sent) {
		printf("FAIL no SYN could be sent (errors=%llu)\n", (unsigned long long)errors);
		return 1;
	}
	printf("ok sent=%llu errors=%llu secs=%.3f pps=%.0f\n", (unsigned long long)sent,
	       (unsigned long long)errors, t, (double)sent / (t > 0 ? t : 1e-9));
	return 0;
}
