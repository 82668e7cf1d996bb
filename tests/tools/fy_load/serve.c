/* fy-load serve: a sink, echo or source server, one thread per connection (see fy_load.h). */
#include "fy_load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_uint g_conn_ids;
static atomic_long g_active;
static pthread_mutex_t g_serve_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_serve_cv = PTHREAD_COND_INITIALIZER;

static void *serve_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned id = atomic_fetch_add(&g_conn_ids, 1) + 1;
	uint8_t *buf = malloc(CHUNK);
	if (!buf)
		die(EX_FAIL, "out of memory");
	uint64_t in = 0, out = 0;
	const char *end = "eof";
	struct sha h;
	char hex[65];
	double t0 = now();

	sha_init(&h);
	if (!strcmp(O.mode, "source")) {
		struct prng g;
		prng_init(&g, O.seed);
		while (out < O.bytes) {
			size_t k = O.bytes - out < CHUNK ? (size_t)(O.bytes - out) : CHUNK;
			prng_fill(&g, buf, k);
			int r = write_all(fd, buf, k);
			if (r < 0) {
				end = is_reset(-r) ? "reset" : "error";
				goto out;
			}
			out += k;
		}
		shutdown(fd, SHUT_WR);
	}
	for (;;) {
		size_t want = CHUNK;
		if (O.slow_read) {
			/* Token bucket: never ahead of slow_read bytes per second. */
			size_t step = O.slow_read / 20 ? (size_t)(O.slow_read / 20) : 1;
			if (step < want)
				want = step;
			double due = t0 + (double)in / (double)O.slow_read;
			double d = due - now();
			if (d > 0)
				usleep((useconds_t)(d * 1e6));
		}
		ssize_t n = recv(fd, buf, want, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			end = is_reset(errno) ? "reset" : "error";
			break;
		}
		if (n == 0)
			break;
		in += (uint64_t)n;
		sha_update(&h, buf, (size_t)n);
		if (!strcmp(O.mode, "echo")) {
			int r = write_all(fd, buf, (size_t)n);
			if (r < 0) {
				end = is_reset(-r) ? "reset" : "error";
				break;
			}
			out += (uint64_t)n;
		}
	}
out:
	sha_hex(&h, hex);
	if (!strcmp(end, "eof")) {
		if (!strcmp(O.mode, "sink")) {
			char line[66];
			snprintf(line, sizeof(line), "%s\n", hex);
			int r = write_all(fd, line, 65);
			if (r < 0)
				end = "eof+reply-failed";
			else
				out += 65;
		} else if (!strcmp(O.mode, "echo")) {
			shutdown(fd, SHUT_WR);
		}
	}
	close(fd);
	free(buf);
	say("conn id=%u mode=%s in=%" PRIu64 " out=%" PRIu64 " in_sha256=%s end=%s secs=%.3f\n",
	    id, O.mode, in, out, hex, end, now() - t0);
	pthread_mutex_lock(&g_serve_mu);
	g_active--;
	pthread_cond_broadcast(&g_serve_cv);
	pthread_mutex_unlock(&g_serve_mu);
	return NULL;
}

int cmd_serve(void)
{
	if (!O.mode)
		O.mode = "sink";
	if (!strcmp(O.mode, "udp-echo") || !strcmp(O.mode, "udp-sink"))
		return cmd_udpecho();
	if (strcmp(O.mode, "sink") && strcmp(O.mode, "echo") && strcmp(O.mode, "source"))
		die(EX_USAGE, "unknown --mode '%s' (sink|echo|source|udp-echo|udp-sink)", O.mode);
	if (!strcmp(O.mode, "source") && !O.bytes_set)
		die(EX_USAGE, "--mode source needs --bytes");
	timeout_says(EX_OK, "ok lifetime over (--timeout %.1f s)", O.timeout);

	struct sockaddr_in sa = {0};
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)O.port);
	if (inet_pton(AF_INET, O.bind ? O.bind : "127.0.0.1", &sa.sin_addr) != 1)
		die(EX_USAGE, "bad --bind '%s'", O.bind);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (O.rcvbuf)
		setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &O.rcvbuf, sizeof(O.rcvbuf));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(EX_USAGE, "bind port %d: %s", O.port, strerror(errno));
	if (listen(lfd, 1024) < 0)
		die(EX_USAGE, "listen: %s", strerror(errno));
	socklen_t sl = sizeof(sa);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	say("listening port=%d mode=%s\n", ntohs(sa.sin_port), O.mode);

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	long accepted = 0;
	while (!O.max_conns || accepted < O.max_conns) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		g_phase = "accepting";
		int fd = accept4(lfd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die(EX_FAIL, "accept: %s", strerror(errno));
		}
		set_nodelay(fd);
		accepted++;
		char pn[64] = "?";
		if (peer.ss_family == AF_INET) {
			struct sockaddr_in *p4 = (struct sockaddr_in *)&peer;
			char h[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &p4->sin_addr, h, sizeof(h));
			snprintf(pn, sizeof(pn), "%s:%d", h, ntohs(p4->sin_port));
		}
		say("accept n=%ld peer=%s\n", accepted, pn);
		pthread_mutex_lock(&g_serve_mu);
		g_active++;
		pthread_mutex_unlock(&g_serve_mu);
		pthread_t t;
		if (pthread_create(&t, &attr, serve_conn, (void *)(intptr_t)fd) != 0)
			die(EX_FAIL, "pthread_create failed");
	}
	close(lfd);
	g_phase = "waiting for the last connections";
	pthread_mutex_lock(&g_serve_mu);
	while (g_active > 0)
		pthread_cond_wait(&g_serve_cv, &g_serve_mu);
	pthread_mutex_unlock(&g_serve_mu);
	say("ok conns=%ld\n", accepted);
	return EX_OK;
}
