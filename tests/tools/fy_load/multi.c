/* fy-load multi: N echo streams of random sizes at once, over epoll (see fy_load.h). */
#include "fy_load.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct mstream {
	int fd;
	int idx;
	uint64_t size, sent, rcvd;
	struct prng g;
	struct sha tx, rx;
	uint8_t buf[16384];
	size_t boff, blen;
	bool connected, wdone, done;
	char err[160];
};

static void ms_fail(struct mstream *s, const char *what, int e)
{
	snprintf(s->err, sizeof(s->err), "stream %d (%" PRIu64 " bytes): %s%s%s after tx=%" PRIu64
		 " rx=%" PRIu64, s->idx, s->size, what, e ? ": " : "", e ? strerror(e) : "",
		 s->sent, s->rcvd);
	s->done = true;
}

static void ms_write(int ep, struct mstream *s)
{
	while (!s->wdone) {
		if (s->boff == s->blen) {
			uint64_t left = s->size - s->sent;
			if (!left) {
				shutdown(s->fd, SHUT_WR);
				s->wdone = true;
				struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = s};
				epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
				return;
			}
			s->blen = left < sizeof(s->buf) ? (size_t)left : sizeof(s->buf);
			s->boff = 0;
			prng_fill(&s->g, s->buf, s->blen);
			sha_update(&s->tx, s->buf, s->blen);
		}
		ssize_t w = send(s->fd, s->buf + s->boff, s->blen - s->boff, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			ms_fail(s, is_reset(errno) ? "reset on send" : "send error", errno);
			return;
		}
		s->boff += (size_t)w;
		s->sent += (uint64_t)w;
	}
}

static void ms_read(struct mstream *s)
{
	static uint8_t buf[CHUNK];
	for (;;) {
		ssize_t r = recv(s->fd, buf, sizeof(buf), 0);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			ms_fail(s, is_reset(errno) ? "reset" : "recv error", errno);
			return;
		}
		if (r == 0) {
			char a[65], b[65];
			if (!s->wdone) {
				ms_fail(s, "EOF before all bytes were sent", 0);
				return;
			}
			sha_hex(&s->tx, a);
			sha_hex(&s->rx, b);
			if (s->rcvd != s->size)
				ms_fail(s, s->rcvd < s->size ? "truncated echo" : "too many bytes", 0);
			else if (strcmp(a, b))
				ms_fail(s, "echo sha256 mismatch", 0);
			s->done = true;
			return;
		}
		s->rcvd += (uint64_t)r;
		sha_update(&s->rx, buf, (size_t)r);
	}
}

int cmd_multi(void)
{
	if (!O.connect || O.streams <= 0)
		die(EX_USAGE, "multi needs --connect and --streams");
	if (!O.max_bytes)
		O.max_bytes = 2 << 20;
	if (O.min_bytes > O.max_bytes)
		die(EX_USAGE, "--min-bytes > --max-bytes");
	struct sockaddr_storage ss;
	socklen_t sl;
	resolve(O.connect, &ss, &sl);
	struct mstream *st = calloc((size_t)O.streams, sizeof(*st));
	if (!st)
		die(EX_USAGE, "out of memory");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct prng sizes;
	prng_init(&sizes, O.seed ^ 0x5eed5eedULL);
	uint64_t total = 0;
	double t0 = now();
	g_phase = "connecting";
	for (long i = 0; i < O.streams; i++) {
		struct mstream *s = &st[i];
		uint64_t r;
		prng_fill(&sizes, (uint8_t *)&r, sizeof(r));
		s->idx = (int)i;
		s->size = O.min_bytes + r % (O.max_bytes - O.min_bytes + 1);
		total += s->size;
		prng_init(&s->g, O.seed * 1000003ULL + (uint64_t)i + 1);
		sha_init(&s->tx);
		sha_init(&s->rx);
		s->fd = sock_open(ss.ss_family, NULL, true);
		if (s->fd < 0)
			die(EX_FAIL, "socket: %s", strerror(-s->fd));
		if (connect(s->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
			ms_fail(s, "connect", errno);
			close(s->fd);
			s->fd = -1;
			continue;
		}
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = s};
		epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
	}
	long left = 0;
	for (long i = 0; i < O.streams; i++)
		left += !st[i].done;
	g_phase = "moving data";
	struct epoll_event evs[256];
	while (left > 0) {
		int n = epoll_wait(ep, evs, 256, 1000);
		if (n < 0 && errno == EINTR)
			continue;
		for (int k = 0; k < n; k++) {
			struct mstream *s = evs[k].data.ptr;
			if (s->done)
				continue;
			if (!s->connected) {
				int e = sock_error(s->fd);
				if (e) {
					ms_fail(s, "connect", e);
				} else if (evs[k].events & (EPOLLOUT | EPOLLIN)) {
					set_nodelay(s->fd);
					s->connected = true;
				}
			}
			if (!s->done && s->connected && (evs[k].events & EPOLLOUT))
				ms_write(ep, s);
			if (!s->done && s->connected && (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR)))
				ms_read(s);
			if (s->done) {
				epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
				close(s->fd);
				s->fd = -1;
				left--;
			}
		}
	}
	long failed = 0;
	char line[4096];
	size_t off = 0;
	for (long i = 0; i < O.streams; i++) {
		if (!st[i].err[0])
			continue;
		if (failed < 8 && off < sizeof(line) - 200)
			off += (size_t)snprintf(line + off, sizeof(line) - off, "; %s", st[i].err);
		failed++;
		fprintf(stderr, "%s\n", st[i].err);
	}
	double s = now() - t0;
	for (long i = 0; i < O.streams; i++) {
		sha_free(&st[i].tx);
		sha_free(&st[i].rx);
	}
	free(st);
	close(ep);
	if (failed) {
		say("FAIL streams=%ld failed=%ld%s%s\n", O.streams, failed, line, failed > 8 ? "; ..." : "");
		return EX_FAIL;
	}
	say("ok streams=%ld bytes=%" PRIu64 " secs=%.3f MBps=%.1f\n", O.streams, total, s,
	    (double)total / 1048576.0 / (s > 0 ? s : 1e-9));
	return EX_OK;
}
