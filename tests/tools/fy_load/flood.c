/*
 * fy-load flood: keeps --conns N idle TCP connections open to --connect, as a crowd of
 * slow or stalled clients would (a TLS ClientHello that never completes: --send-bytes
 * K). Each is bound to the next address of --sources, round-robin, so a per-address
 * limit in the peer sees many clients. When the peer closes or resets one, another is
 * opened at once, so the pressure stays up until --duration (or --timeout) ends.
 *
 * Prints "flood open=X closed_by_peer=Y connecting=Z connect_failed=F secs=S" about
 * once a second, then "ok opened=.. closed_by_peer=.. connect_failed=.. max_open=..".
 */
#include "fy_load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* A failed connect is retried after this long, so a target that refuses everything
 * is not spun on. */
#define RETRY_SECS 0.05

struct fslot {
	int fd;          /* -1: closed, to be opened at retry_at */
	bool connected;
	size_t off;      /* payload bytes sent */
	double retry_at;
};

struct flood {
	struct sockaddr_storage dst;
	socklen_t dl;
	uint32_t src_first, src_count; /* host order; count 0: no --sources */
	uint64_t src_next;
	uint8_t *payload;
	size_t plen;
	int ep;
	long open, connecting, max_open;
	uint64_t opened, closed_by_peer, connect_failed;
};

/* "A.B.C.D" or "A.B.C.D-A.B.C.E" */
static void parse_range(const char *s, uint32_t *first, uint32_t *count)
{
	char a[64], *dash;
	struct in_addr lo, hi;
	snprintf(a, sizeof(a), "%s", s);
	dash = strchr(a, '-');
	if (dash)
		*dash++ = 0;
	if (inet_pton(AF_INET, a, &lo) != 1 || inet_pton(AF_INET, dash ? dash : a, &hi) != 1 ||
	    ntohl(hi.s_addr) < ntohl(lo.s_addr))
		die(EX_USAGE, "bad --sources '%s' (A.B.C.D or A.B.C.D-A.B.C.E, ascending)", s);
	*first = ntohl(lo.s_addr);
	*count = ntohl(hi.s_addr) - *first + 1;
}

static uint32_t fl_events(const struct flood *f, const struct fslot *s)
{
	return EPOLLIN | EPOLLRDHUP | (!s->connected || s->off < f->plen ? EPOLLOUT : 0);
}

/* A connect that failed: the slot is opened again after RETRY_SECS. */
static void fl_failed(struct flood *f, struct fslot *s, int e)
{
	if (!f->connect_failed)
		fprintf(stderr, "connect: %s (each failed connect is retried after %.0f ms; only the first is shown)\n",
			strerror(e), RETRY_SECS * 1000);
	f->connect_failed++;
	s->fd = -1;
	s->retry_at = now() + RETRY_SECS;
}

/* Opens the slot's connection (non-blocking) from the next source address. */
static void fl_open(struct flood *f, struct fslot *s)
{
	struct sockaddr_storage src;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&src;
	char name[INET_ADDRSTRLEN] = "";
	if (f->src_count) {
		memset(&src, 0, sizeof(src));
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(f->src_first + (uint32_t)(f->src_next++ % f->src_count));
		inet_ntop(AF_INET, &s4->sin_addr, name, sizeof(name));
	}
	s->connected = false;
	s->off = 0;
	s->fd = sock_open(f->dst.ss_family, f->src_count ? &src : NULL, true);
	if (s->fd == -EADDRNOTAVAIL || s->fd == -EAFNOSUPPORT || s->fd == -EINVAL)
		die(EX_USAGE, "bind to source %s: %s", name, strerror(-s->fd));
	if (s->fd < 0) {
		fl_failed(f, s, -s->fd);
		return;
	}
	if (connect(s->fd, (struct sockaddr *)&f->dst, f->dl) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(s->fd);
		fl_failed(f, s, e);
		return;
	}
	struct epoll_event ev = {.events = fl_events(f, s), .data.ptr = s};
	epoll_ctl(f->ep, EPOLL_CTL_ADD, s->fd, &ev);
	f->connecting++;
}

static void fl_close(struct flood *f, struct fslot *s)
{
	epoll_ctl(f->ep, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
}

static void fl_event(struct flood *f, struct fslot *s, uint32_t ev)
{
	if (!s->connected) {
		int e = sock_error(s->fd);
		if (e && !is_reset(e)) {
			f->connecting--;
			fl_close(f, s);
			fl_failed(f, s, e);
			return;
		}
		/* A reset here came after the handshake (a refused SYN is ECONNREFUSED):
		 * the peer accepted, then closed; counted below. */
		if (!e && !(ev & (EPOLLOUT | EPOLLIN)))
			return;
		if (e)
			ev |= EPOLLERR;
		s->connected = true;
		f->connecting--;
		f->open++;
		f->opened++;
		if (f->open > f->max_open)
			f->max_open = f->open;
	}
	bool gone = ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR);
	if (!gone && s->off < f->plen)
		gone = write_some(s->fd, f->payload, f->plen, &s->off) < 0;
	if (!gone && (ev & EPOLLIN)) {
		/* Whatever the peer says (an alert, an error page) is read and dropped. */
		static uint8_t buf[CHUNK];
		for (;;) {
			ssize_t r = recv(s->fd, buf, sizeof(buf), 0);
			if (r > 0 || (r < 0 && errno == EINTR))
				continue;
			gone = r == 0 || errno != EAGAIN;
			break;
		}
	}
	if (gone) {
		f->open--;
		f->closed_by_peer++;
		fl_close(f, s);
		fl_open(f, s); /* at once: the pressure stays up */
		return;
	}
	struct epoll_event e = {.events = fl_events(f, s), .data.ptr = s};
	epoll_ctl(f->ep, EPOLL_CTL_MOD, s->fd, &e);
}

int cmd_flood(void)
{
	if (!O.connect || !O.conns_set || !(O.duration > 0))
		die(EX_USAGE, "flood needs --connect, --conns and --duration");
	struct flood f = {0};
	resolve(O.connect, &f.dst, &f.dl);
	if (O.sources) {
		if (f.dst.ss_family != AF_INET)
			die(EX_USAGE, "--sources are IPv4 addresses; --connect '%s' is not", O.connect);
		parse_range(O.sources, &f.src_first, &f.src_count);
	}
	f.plen = (size_t)O.send_bytes;
	f.payload = f.plen ? prng_bytes(O.seed, f.plen) : NULL;
	raise_nofile(O.conns + 64);
	struct fslot *slots = calloc((size_t)O.conns, sizeof(*slots));
	f.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!slots || f.ep < 0)
		die(EX_USAGE, "out of memory or epoll: %s", strerror(errno));
	double t0 = now();
	double end = t0 + run_window(O.duration);
	g_phase = "opening the connections";
	for (long i = 0; i < O.conns; i++)
		fl_open(&f, &slots[i]);
	g_phase = "flooding";
	double next_report = t0 + 1;
	struct epoll_event evs[256];
	for (;;) {
		double t = now();
		if (t >= next_report) {
			say("flood open=%ld closed_by_peer=%" PRIu64 " connecting=%ld connect_failed=%" PRIu64
			    " secs=%.1f\n", f.open, f.closed_by_peer, f.connecting, f.connect_failed, t - t0);
			next_report += 1;
		}
		if (t >= end)
			break;
		for (long i = 0; i < O.conns; i++)
			if (slots[i].fd < 0 && slots[i].retry_at <= t)
				fl_open(&f, &slots[i]);
		double wait = end < next_report ? end - t : next_report - t;
		if (wait > RETRY_SECS)
			wait = RETRY_SECS;
		int n = epoll_wait(f.ep, evs, 256, (int)(wait * 1000) + 1);
		for (int k = 0; k < n; k++)
			fl_event(&f, evs[k].data.ptr, evs[k].events);
	}
	for (long i = 0; i < O.conns; i++)
		if (slots[i].fd >= 0)
			close(slots[i].fd);
	free(slots);
	free(f.payload);
	close(f.ep);
	say("ok opened=%" PRIu64 " closed_by_peer=%" PRIu64 " connect_failed=%" PRIu64 " max_open=%ld open=%ld"
	    " conns=%ld secs=%.3f\n", f.opened, f.closed_by_peer, f.connect_failed, f.max_open, f.open, O.conns,
	    now() - t0);
	return EX_OK;
}
