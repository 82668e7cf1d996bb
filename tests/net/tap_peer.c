/* tap_peer: relay/net on a TAP device, to test it against the Linux
 * kernel's TCP. It attaches to an existing TAP interface (created by the
 * test script, with the kernel's address on it), runs one net_stack on it,
 * and acts as
 *   --echo PORT             an echo server (half-close aware), and/or
 *   --connect IP:PORT --send FILE
 *                           a client that sends FILE, half-closes, waits
 *                           for the peer's close and exits 0 on success.
 * Counters are printed on exit (SIGTERM/SIGINT or client done).
 *
 * Usage: tap_peer --dev IF --ip A.B.C.D/P [--mac M] [--gw A.B.C.D]
 *                 [--echo PORT] [--connect IP:PORT --send FILE]
 *                 [--buf BYTES] [--timeout SEC] [--sack on|off] */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

#define ECHO_BUF (256 * 1024)

static volatile sig_atomic_t stop;

struct echo {
	uint8_t *buf;
	size_t len;		/* bytes read, not yet sent back */
	bool eof, shut;
};

static struct app {
	int fd;
	struct net_stack *st;
	uint16_t echo_port;
	/* client */
	struct tcp_conn *cli;
	uint8_t *data;
	size_t data_len, sent;
	bool cli_shut, cli_done;
	int cli_err;
	uint64_t cli_start_us, cli_end_us;
	unsigned long long echoed;
} A;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int tap_tx(void *ctx, const uint8_t *f, size_t len)
{
	(void)ctx;
	if (write(A.fd, f, len) != (ssize_t)len)
		return -errno;
	return 0;
}

/* ---- echo server ---- */

static void echo_push(struct tcp_conn *c, struct echo *e)
{
	while (e->len) {
		long n = tcp_send(c, e->buf, e->len);

		if (n <= 0)
			break;
		memmove(e->buf, e->buf + n, e->len - (size_t)n);
		e->len -= (size_t)n;
		A.echoed += (unsigned long long)n;
	}
}

static void echo_finish_maybe(struct tcp_conn *c, struct echo *e)
{
	if (e->eof && !e->len && !e->shut) {
		e->shut = true;
		/* Like the pump's on_done: FIN after the data, handle let go;
		 * the stack completes the close on its own. */
		tcp_close(c);
		free(e->buf);
		free(e);
		return;
	}
	tcp_want(c, !e->eof && e->len < ECHO_BUF, e->len > 0);
}

static void echo_readable(struct tcp_conn *c, struct echo *e)
{
	while (!e->eof && e->len < ECHO_BUF) {
		long n = tcp_recv(c, e->buf + e->len, ECHO_BUF - e->len);

		if (n > 0) {
			e->len += (size_t)n;
			echo_push(c, e);
			continue;
		}
		if (n == 0)
			e->eof = true;
		else if (n != -EAGAIN) {
			tcp_abort(c);
			free(e->buf);
			free(e);
			return;
		}
		break;
	}
	echo_finish_maybe(c, e);
}

/* ---- client ---- */

static void cli_push(void)
{
	while (A.sent < A.data_len) {
		long n = tcp_send(A.cli, A.data + A.sent, A.data_len - A.sent);

		if (n <= 0)
			return;
		A.sent += (size_t)n;
	}
	if (!A.cli_shut) {
		A.cli_shut = true;
		tcp_shutdown_wr(A.cli);
	}
}

static void cli_end(int err)
{
	A.cli_done = true;
	A.cli_err = err;
	A.cli_end_us = now_us();
}

/* ---- upcalls ---- */

static int on_accepted(void *ctx, struct tcp_conn *c, uint16_t lport)
{
	struct echo *e;

	(void)ctx;
	if (lport != A.echo_port)
		return -1;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->buf = malloc(ECHO_BUF))) {
		free(e);
		return -1;
	}
	tcp_set_user(c, e);
	return 0;
}

static void on_connected(void *ctx, struct tcp_conn *c, int err)
{
	(void)ctx;
	if (c != A.cli)
		return;
	if (err) {
		fprintf(stderr, "tap_peer: connect failed: %s\n", strerror(-err));
		A.cli = NULL;
		cli_end(err);
		return;
	}
	A.cli_start_us = now_us();
	cli_push();
}

static void on_readable(void *ctx, struct tcp_conn *c)
{
	(void)ctx;
	if (c == A.cli) {
		uint8_t b[4096];
		long n;

		while ((n = tcp_recv(c, b, sizeof(b))) > 0)
			;
		if (n == 0 && A.cli_shut && A.sent == A.data_len) {
			/* The sink saw our FIN and closed: all delivered. */
			tcp_close(c);
			A.cli = NULL;
			cli_end(0);
		}
		return;
	}
	echo_readable(c, tcp_user(c));
}

static void on_writable(void *ctx, struct tcp_conn *c)
{
	struct echo *e;

	(void)ctx;
	if (c == A.cli) {
		cli_push();
		return;
	}
	e = tcp_user(c);
	echo_push(c, e);
	if (!e->eof)
		echo_readable(c, e);	/* room again: read more */
	else
		echo_finish_maybe(c, e);
}

static void on_closed(void *ctx, struct tcp_conn *c, int reason)
{
	(void)ctx;
	if (c == A.cli) {
		fprintf(stderr, "tap_peer: client connection closed: %s\n",
			reason ? strerror(-reason) : "ok");
		A.cli = NULL;
		cli_end(reason ? reason : -EPIPE);
		return;
	}
	if (reason)
		fprintf(stderr, "tap_peer: echo connection ended: %s\n", strerror(-reason));
	struct echo *e = tcp_user(c);
	if (e) {
		free(e->buf);
		free(e);
	}
}

static const struct net_ops ops = {
	.tx = tap_tx, .accepted = on_accepted, .connected = on_connected,
	.readable = on_readable, .writable = on_writable, .closed = on_closed,
};

/* ---- setup ---- */

static int tap_open(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		perror("tap_peer: /dev/net/tun");
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "tap_peer: attach %s: %s\n", name, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int parse_ip(const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*ip = ntohl(a.s_addr);
	return 0;
}

static int load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat sb;

	if (!f || fstat(fileno(f), &sb) < 0) {
		perror(path);
		return -1;
	}
	A.data_len = (size_t)sb.st_size;
	A.data = malloc(A.data_len ? A.data_len : 1);
	if (!A.data || fread(A.data, 1, A.data_len, f) != A.data_len) {
		fprintf(stderr, "tap_peer: cannot read %s\n", path);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: tap_peer --dev IF --ip A.B.C.D/P [--mac M] [--gw IP]\n"
			"                [--echo PORT] [--connect IP:PORT --send FILE]\n"
			"                [--buf BYTES] [--timeout SEC] [--sack on|off]\n");
	exit(2);
}

static void print_counters(void)
{
	const struct net_counters *k = net_counters(A.st);
	const uint64_t *v = (const uint64_t *)k;

	fprintf(stderr, "tap_peer: counters:");
	for (size_t i = 0; i < net_counter_count; i++)
		if (v[i])
			fprintf(stderr, " %s=%llu", net_counter_names[i],
				(unsigned long long)v[i]);
	fprintf(stderr, "\n");
}

int main(int argc, char **argv)
{
	struct net_config cfg;
	const char *dev = NULL, *send = NULL;
	uint32_t dst_ip = 0;
	uint16_t dst_port = 0;
	unsigned timeout_s = 120;
	uint64_t deadline;
	int rc = 0;

	net_config_default(&cfg);
	memcpy(cfg.mac, "\x02\x66\x79\x00\x00\x02", 6);
	cfg.sndbuf = cfg.rcvbuf = 1024 * 1024;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--dev")) {
			dev = v;
		} else if (!strcmp(a, "--ip")) {
			char buf[32], *slash;

			snprintf(buf, sizeof(buf), "%s", v);
			slash = strchr(buf, '/');
			if (!slash)
				usage();
			*slash = 0;
			if (parse_ip(buf, &cfg.ip) < 0)
				usage();
			cfg.prefix_len = (uint8_t)atoi(slash + 1);
		} else if (!strcmp(a, "--mac")) {
			unsigned m[6];

			if (sscanf(v, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3],
				   &m[4], &m[5]) != 6)
				usage();
			for (int k = 0; k < 6; k++)
				cfg.mac[k] = (uint8_t)m[k];
		} else if (!strcmp(a, "--gw")) {
			if (parse_ip(v, &cfg.gateway) < 0)
				usage();
		} else if (!strcmp(a, "--echo")) {
			A.echo_port = (uint16_t)atoi(v);
		} else if (!strcmp(a, "--connect")) {
			char buf[32], *colon;

			snprintf(buf, sizeof(buf), "%s", v);
			colon = strchr(buf, ':');
			if (!colon)
				usage();
			*colon = 0;
			if (parse_ip(buf, &dst_ip) < 0)
				usage();
			dst_port = (uint16_t)atoi(colon + 1);
		} else if (!strcmp(a, "--send")) {
			send = v;
		} else if (!strcmp(a, "--buf")) {
			cfg.sndbuf = cfg.rcvbuf = (uint32_t)strtoul(v, NULL, 0);
		} else if (!strcmp(a, "--timeout")) {
			timeout_s = (unsigned)atoi(v);
		} else if (!strcmp(a, "--sack")) {
			if (!strcmp(v, "off"))
				cfg.flags |= NET_CFG_NO_SACK;
			else if (strcmp(v, "on"))
				usage();
		} else {
			usage();
		}
	}
	if (!dev || !cfg.ip || (dst_port && !send) || (!dst_port && !A.echo_port))
		usage();
	if (send && load_file(send) < 0)
		return 1;
	A.fd = tap_open(dev);
	if (A.fd < 0)
		return 1;
	A.st = net_stack_create(&cfg, &ops, NULL, now_us());
	if (!A.st) {
		fprintf(stderr, "tap_peer: invalid stack configuration\n");
		return 1;
	}
	if (A.echo_port && tcp_listen(A.st, A.echo_port, 0) < 0) {
		fprintf(stderr, "tap_peer: listen %u failed\n", A.echo_port);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (dst_port) {
		int err = 0;

		A.cli = tcp_connect(A.st, dst_ip, dst_port, NULL, &err);
		if (!A.cli) {
			fprintf(stderr, "tap_peer: connect: %s\n", strerror(-err));
			return 1;
		}
	}
	fprintf(stderr, "tap_peer: up on %s\n", dev);
	deadline = now_us() + (uint64_t)timeout_s * 1000000u;
	while (!stop && !(dst_port && A.cli_done)) {
		struct pollfd p = { .fd = A.fd, .events = POLLIN };
		uint8_t f[2048];

		if (now_us() > deadline) {
			fprintf(stderr, "tap_peer: timed out after %u s\n", timeout_s);
			rc = 1;
			break;
		}
		if (poll(&p, 1, 1) < 0 && errno != EINTR)
			break;
		for (int k = 0; k < 256; k++) {
			ssize_t n = read(A.fd, f, sizeof(f));

			if (n <= 0)
				break;
			net_input(A.st, f, (size_t)n, now_us());
		}
		net_poll_timers(A.st, now_us());
	}
	if (dst_port) {
		if (!A.cli_done || A.cli_err) {
			rc = 1;
		} else {
			double s = (double)(A.cli_end_us - A.cli_start_us) / 1e6;

			fprintf(stderr, "tap_peer: sent %zu bytes in %.3f s (%.1f Mbit/s)\n",
				A.data_len, s, s > 0 ? (double)A.data_len * 8 / s / 1e6 : 0.0);
		}
	}
	if (A.echo_port)
		fprintf(stderr, "tap_peer: echoed %llu bytes\n", A.echoed);
	/* Let our last ACKs/FINs out before the device goes away. */
	for (uint64_t end = now_us() + 200000; now_us() < end;) {
		uint8_t f[2048];
		ssize_t n = read(A.fd, f, sizeof(f));

		if (n > 0)
			net_input(A.st, f, (size_t)n, now_us());
		else
			usleep(1000);
		net_poll_timers(A.st, now_us());
	}
	print_counters();
	net_stack_destroy(A.st);
	close(A.fd);
	free(A.data);
	return rc;
}
