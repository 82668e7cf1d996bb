/* fy-load send: a stream of the seed to a sink (digest) or an echo server (see fy_load.h). */
#include "fy_load.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct echo_reader {
	int fd;
	uint64_t n;
	int err;
	char hex[65];
};

static void *echo_read(void *arg)
{
	struct echo_reader *er = arg;
	static uint8_t buf[CHUNK];
	struct sha h;
	sha_init(&h);
	for (;;) {
		ssize_t r = recv(er->fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			er->err = errno;
			break;
		}
		if (r == 0)
			break;
		er->n += (uint64_t)r;
		sha_update(&h, buf, (size_t)r);
	}
	sha_hex(&h, er->hex);
	return NULL;
}

/* See fy_load.h. */
int send_on(int fd, uint64_t n, uint64_t seed, bool digest, bool echo, char *msg, size_t ml)
{
	static uint8_t buf[CHUNK];
	struct prng g;
	struct sha h;
	char hex[65];
	uint64_t sent = 0;
	double t0 = now();
	struct echo_reader er = {.fd = fd};
	pthread_t rt;

	if (echo && pthread_create(&rt, NULL, echo_read, &er) != 0) {
		snprintf(msg, ml, "FAIL pthread_create");
		return EX_FAIL;
	}
	prng_init(&g, seed);
	sha_init(&h);
	g_phase = "sending";
	while (sent < n) {
		size_t k = n - sent < CHUNK ? (size_t)(n - sent) : CHUNK;
		prng_fill(&g, buf, k);
		sha_update(&h, buf, k);
		int r = write_all(fd, buf, k);
		if (r < 0) {
			if (echo) {
				shutdown(fd, SHUT_RDWR);
				pthread_join(rt, NULL);
			}
			sha_free(&h);
			snprintf(msg, ml, "FAIL %s after %" PRIu64 " of %" PRIu64 " bytes sent: %s",
				 is_reset(-r) ? "reset" : "send error", sent, n, strerror(-r));
			return is_reset(-r) ? EX_RESET : EX_FAIL;
		}
		sent += k;
	}
	sha_hex(&h, hex);
	if (!digest && !echo) {
		snprintf(msg, ml, "ok sent bytes=%" PRIu64 " sha256=%s secs=%.3f", n, hex, now() - t0);
		return EX_OK;
	}
	shutdown(fd, SHUT_WR);
	if (echo) {
		g_phase = "reading the echo";
		pthread_join(rt, NULL);
		if (er.err) {
			snprintf(msg, ml, "FAIL %s after %" PRIu64 " echoed bytes: %s",
				 is_reset(er.err) ? "reset" : "recv error", er.n, strerror(er.err));
			return is_reset(er.err) ? EX_RESET : EX_FAIL;
		}
		if (er.n < n) {
			snprintf(msg, ml, "FAIL truncated echo: %" PRIu64 " of %" PRIu64 " bytes", er.n, n);
			return EX_TRUNC;
		}
		if (er.n != n || strcmp(er.hex, hex)) {
			snprintf(msg, ml, "FAIL echo mismatch: got %" PRIu64 " bytes sha256=%s, sent %" PRIu64
				 " sha256=%s", er.n, er.hex, n, hex);
			return EX_FAIL;
		}
		double s = now() - t0;
		snprintf(msg, ml, "ok sha256=%s bytes=%" PRIu64 " echoed secs=%.3f MBps=%.1f", hex, n, s,
			 (double)n / 1048576.0 / (s > 0 ? s : 1e-9));
		return EX_OK;
	}
	g_phase = "waiting for the digest";
	char reply[160];
	size_t got = 0;
	for (;;) {
		ssize_t r = recv(fd, reply + got, sizeof(reply) - 1 - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(msg, ml, "FAIL %s while waiting for the digest (%zu bytes of it): %s",
				 is_reset(errno) ? "reset" : "recv error", got, strerror(errno));
			return is_reset(errno) ? EX_RESET : EX_FAIL;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got == sizeof(reply) - 1)
			break;
	}
	reply[got] = 0;
	if (got < 65) {
		snprintf(msg, ml, "FAIL truncated: digest reply has %zu bytes, want 65", got);
		return EX_TRUNC;
	}
	if (got != 65 || reply[64] != '\n' || strncmp(reply, hex, 64)) {
		reply[strcspn(reply, "\n")] = 0;
		snprintf(msg, ml, "FAIL digest mismatch: target got sha256=%.64s, sent sha256=%s bytes=%" PRIu64,
			 reply, hex, n);
		return EX_FAIL;
	}
	double s = now() - t0;
	snprintf(msg, ml, "ok sha256=%s bytes=%" PRIu64 " secs=%.3f MBps=%.1f", hex, n, s,
		 (double)n / 1048576.0 / (s > 0 ? s : 1e-9));
	return EX_OK;
}

int cmd_send(void)
{
	char msg[512];
	if (!O.connect || !O.bytes_set)
		die(EX_USAGE, "send needs --connect and --bytes");
	if (O.no_digest && O.echo)
		die(EX_USAGE, "--no-digest and --echo exclude each other");
	int fd = connect_or_die(O.connect, NULL);
	int rc = send_on(fd, O.bytes, O.seed, !O.no_digest && !O.echo, O.echo, msg, sizeof(msg));
	close(fd);
	say("%s\n", msg);
	return rc;
}

