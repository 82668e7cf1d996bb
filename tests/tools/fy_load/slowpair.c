/* fy-load slowpair: a slow stream must not hold up a fast one (see fy_load.h). */
#include "fy_load.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct slow {
	int fd;
	uint64_t total;
	uint64_t seed;
	atomic_ullong sent;
	atomic_bool blocked, done, stop;
	int err;
};

static void *slow_sender(void *arg)
{
	struct slow *s = arg;
	static uint8_t buf[16384];
	struct prng g;
	size_t off = 0, len = 0;
	prng_init(&g, s->seed);
	set_nonblock(s->fd);
	while (!atomic_load(&s->stop)) {
		if (off == len) {
			uint64_t left = s->total - atomic_load(&s->sent);
			if (!left) {
				atomic_store(&s->done, true);
				return NULL;
			}
			len = left < sizeof(buf) ? (size_t)left : sizeof(buf);
			off = 0;
			prng_fill(&g, buf, len);
		}
		struct pollfd p = {.fd = s->fd, .events = POLLOUT};
		int r = poll(&p, 1, 100);
		if (r == 0) {
			atomic_store(&s->blocked, true);
			continue;
		}
		ssize_t w = send(s->fd, buf + off, len - off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			s->err = errno;
			atomic_store(&s->done, true);
			return NULL;
		}
		off += (size_t)w;
		atomic_fetch_add(&s->sent, (unsigned long long)w);
	}
	return NULL;
}

int cmd_slowpair(void)
{
	char msg[512];
	if (!O.slow || !O.fast || !O.slow_kind || !O.fast_kind || !O.slow_bytes || !O.fast_bytes)
		die(EX_USAGE, "slowpair needs --slow --slow-kind --slow-bytes --fast --fast-kind --fast-bytes");
	bool noread = !strcmp(O.slow_kind, "noread");
	if (!noread && strcmp(O.slow_kind, "send"))
		die(EX_USAGE, "--slow-kind send|noread");
	if (strcmp(O.fast_kind, "send") && strcmp(O.fast_kind, "recv"))
		die(EX_USAGE, "--fast-kind send|recv");

	struct slow s = {.total = O.slow_bytes, .seed = O.seed};
	pthread_t st;
	s.fd = connect_or_die(O.slow, NULL);
	double t0 = now();
	if (noread) {
		/* Wait until the source's bytes have backed up to us: our receive queue is
		 * non-empty and stopped growing for 500 ms (bounded by --timeout). */
		g_phase = "waiting for the slow stream to back up";
		int last = -1;
		double since = now();
		for (;;) {
			int q = 0;
			ioctl(s.fd, FIONREAD, &q);
			if (q != last) {
				last = q;
				since = now();
			} else if (q > 0 && now() - since >= 0.5) {
				break;
			}
			usleep(20000);
		}
		fprintf(stderr, "slow stream backed up: %d bytes queued at the client after %.2f s\n", last,
			now() - t0);
	} else {
		if (pthread_create(&st, NULL, slow_sender, &s) != 0)
			die(EX_FAIL, "pthread_create");
		g_phase = "waiting for the slow stream to block";
		while (!atomic_load(&s.blocked) && !atomic_load(&s.done))
			usleep(10000);
		if (atomic_load(&s.done))
			die(s.err && is_reset(s.err) ? EX_RESET : EX_FAIL,
			    "slow stream ended before it was ever blocked (sent %llu of %" PRIu64 "): %s",
			    (unsigned long long)atomic_load(&s.sent), s.total,
			    s.err ? strerror(s.err) : "all bytes were accepted at once; make --slow-bytes larger");
		fprintf(stderr, "slow stream blocked after %llu bytes, %.2f s\n",
			(unsigned long long)atomic_load(&s.sent), now() - t0);
	}

	int ffd = connect_or_die(O.fast, NULL);
	int rc;
	if (!strcmp(O.fast_kind, "send"))
		rc = send_on(ffd, O.fast_bytes, O.seed + 1, true, false, msg, sizeof(msg));
	else
		rc = recv_on(ffd, O.fast_bytes, O.seed + 1, msg, sizeof(msg), NULL);
	close(ffd);
	if (rc != EX_OK) {
		say("FAIL fast stream: %s\n", msg + (strncmp(msg, "FAIL ", 5) ? 0 : 5));
		return rc;
	}
	double fast_s = now() - t0;

	if (!noread) {
		unsigned long long sent = atomic_load(&s.sent);
		bool done = atomic_load(&s.done);
		atomic_store(&s.stop, true);
		pthread_join(st, NULL);
		/* Abort with RST so the stream's buffers are released at once. */
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(s.fd);
		if (done || sent >= s.total) {
			say("FAIL slow stream was not in progress when the fast one finished (sent %llu of %" PRIu64
			    ", err=%s); slow it down\n", sent, s.total, s.err ? strerror(s.err) : "none");
			return EX_FAIL;
		}
		say("ok fast_bytes=%" PRIu64 " fast_secs=%.3f slow=in-progress slow_sent=%llu slow_total=%" PRIu64 "\n",
		    O.fast_bytes, fast_s, sent, s.total);
		return EX_OK;
	}

	int q = 0;
	ioctl(s.fd, FIONREAD, &q);
	say("fast done fast_bytes=%" PRIu64 " fast_secs=%.3f slow_queued=%d\n", O.fast_bytes, fast_s, q);
	if (O.pause_file) {
		struct stat sb;
		g_phase = "waiting for --pause-file";
		while (stat(O.pause_file, &sb) != 0)
			usleep(20000);
	}
	char hex[65];
	rc = recv_on(s.fd, O.slow_bytes, O.seed, msg, sizeof(msg), hex);
	close(s.fd);
	if (rc != EX_OK) {
		say("FAIL slow stream: %s\n", msg + (strncmp(msg, "FAIL ", 5) ? 0 : 5));
		return rc;
	}
	say("ok fast_bytes=%" PRIu64 " fast_secs=%.3f slow_bytes=%" PRIu64 " slow_sha256=%s total_secs=%.3f\n",
	    O.fast_bytes, fast_s, O.slow_bytes, hex, now() - t0);
	return EX_OK;
}
