/*
 * fy-load hold: connections that send a little (or nothing), read or never read, and
 * wait to see how the peer ends them: reset, eof, refused, or still open.
 *
 * Without --conns and --duration: one blocking connection whose outcome is matched
 * against --expect (the result line is the outcome). With either: --conns N
 * connections at once over epoll, held until each has ended or --duration (or
 * --timeout) has passed, and one line counting the outcomes.
 */
#include "fy_load.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* expect "any" takes any end but an error; "gone" a reset or a refused connect. */
static bool outcome_matches(const char *expect, const char *outcome)
{
	if (!strcmp(expect, outcome))
		return true;
	if (!strcmp(expect, "any"))
		return !strcmp(outcome, "reset") || !strcmp(outcome, "eof");
	if (!strcmp(expect, "gone"))
		return !strcmp(outcome, "reset") || !strcmp(outcome, "refused");
	return false;
}

/* What --send-text, --send-hex or --send-bytes ask for (malloc'd; NULL when none). */
static uint8_t *hold_payload(size_t *plen)
{
	*plen = 0;
	if (O.send_hex)
		return parse_hex(O.send_hex, plen);
	if (O.send_text) {
		*plen = strlen(O.send_text);
		return (uint8_t *)strdup(O.send_text);
	}
	if (O.send_bytes) {
		*plen = (size_t)O.send_bytes;
		return prng_bytes(O.seed, *plen);
	}
	return NULL;
}

/*
 * A connection we never read from: how it ended, from what poll or epoll saw (hup:
 * ERR or HUP, rdhup: the peer's FIN); NULL while it is open. *got = bytes queued.
 */
static const char *noread_outcome(int fd, bool hup, bool rdhup, uint64_t *got)
{
	int e = sock_error(fd), q = 0;
	ioctl(fd, FIONREAD, &q);
	*got = (uint64_t)q;
	if (e)
		return is_reset(e) ? "reset" : "error";
	if (hup)
		return "reset";
	if (rdhup)
		return "eof";
	return NULL;
}

/* Reads and drops what arrives, adding to *got; how the connection ended, or NULL
 * when a non-blocking fd has nothing more for now. */
static const char *read_outcome(int fd, uint64_t *got)
{
	static uint8_t buf[CHUNK];
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return NULL;
		if (r < 0)
			return is_reset(errno) ? "reset" : "error";
		if (r == 0)
			return "eof";
		*got += (uint64_t)r;
	}
}


/* ---------------------------------------------------------- one connection */

static int hold_one(const char *expect)
{
	double t0 = now();
	int fd = connect_to(O.connect);
	if (fd < 0 && is_reset(-fd)) {
		/* The peer accepted and reset before connect() returned: that is
		 * a reset (a userspace TCP can be that quick), not a failure. */
		say("reset during connect: %s secs=%.3f\n", strerror(-fd), now() - t0);
		return outcome_matches(expect, "reset") ? EX_OK : EX_RESET;
	}
	if (fd < 0) {
		bool refused = fd == -ECONNREFUSED;
		say("%s%s connect: %s secs=%.3f\n", refused ? "" : "FAIL ", refused ? "refused" : "error",
		    strerror(-fd), now() - t0);
		if (!refused)
			return EX_FAIL;
		return outcome_matches(expect, "refused") ? EX_OK : EX_FAIL;
	}
	char local[80];
	local_name(fd, local, sizeof(local));
	fprintf(stderr, "connected local=%s\n", local);
	if (!strcmp(expect, "open"))
		timeout_says(EX_OK, "open local=%s secs=%.3f", local, O.timeout);
	else
		timeout_says(EX_TIMEOUT, "FAIL timeout: still open after %.1f s local=%s", O.timeout, local);
	size_t plen;
	uint8_t *payload = hold_payload(&plen);
	const char *outcome = NULL;
	uint64_t got = 0;
	if (plen) {
		int r = write_all(fd, payload, plen);
		if (r < 0)
			outcome = is_reset(-r) ? "reset" : "error";
	}
	free(payload);
	g_phase = "waiting for the connection to end";
	while (!outcome && O.no_read) {
		/* Never read: the peer's bytes pile up in our receive queue. */
		struct pollfd p = {.fd = fd, .events = POLLRDHUP};
		if (poll(&p, 1, -1) < 0)
			continue;
		outcome = noread_outcome(fd, p.revents & (POLLERR | POLLHUP), p.revents & POLLRDHUP, &got);
	}
	while (!outcome)
		outcome = read_outcome(fd, &got); /* blocking: returns at the end */
	double s = now() - t0;
	bool match = outcome_matches(expect, outcome);
	say("%s%s bytes=%" PRIu64 " secs=%.3f local=%s%s%s\n", match ? "" : "FAIL ", outcome, got, s, local,
	    match ? "" : " expected=", match ? "" : expect);
	close(fd);
	return match ? EX_OK : EX_FAIL;
}

/* ------------------------------------------------------ many connections */

struct hconn {
	int fd;
	int idx;
	bool connected;
	size_t off;          /* payload bytes sent */
	uint64_t got;        /* bytes read, or queued unread (--no-read) */
	const char *outcome; /* NULL while open */
};

/* The events a connection waits for in its state. */
static uint32_t hc_events(const struct hconn *c, size_t plen)
{
	uint32_t ev = EPOLLRDHUP | (O.no_read ? 0 : EPOLLIN);
	if (!c->connected || c->off < plen)
		ev |= EPOLLOUT;
	return ev;
}

static void hc_end(int ep, struct hconn *c, const char *outcome, double t0)
{
	char local[80];
	local_name(c->fd, local, sizeof(local));
	c->outcome = outcome;
	fprintf(stderr, "conn %d %s bytes=%" PRIu64 " secs=%.3f local=%s\n", c->idx, outcome, c->got,
		now() - t0, local);
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

/* A connect that failed with e. A reset came after the handshake (a refused SYN is
 * ECONNREFUSED): the peer accepted, then reset, and the connection counts as made. */
static void hc_connect_failed(int ep, struct hconn *c, int e, double t0)
{
	c->connected = is_reset(e);
	hc_end(ep, c, e == ECONNREFUSED ? "refused" : is_reset(e) ? "reset" : "error", t0);
}

static void hc_event(int ep, struct hconn *c, uint32_t ev, const uint8_t *payload, size_t plen, double t0)
{
	if (!c->connected) {
		int e = sock_error(c->fd);
		if (e) {
			hc_connect_failed(ep, c, e, t0);
			return;
		}
		if (!(ev & (EPOLLOUT | EPOLLIN)))
			return;
		set_nodelay(c->fd);
		c->connected = true;
	}
	if (c->off < plen) {
		int r = write_some(c->fd, payload, plen, &c->off);
		if (r < 0) {
			hc_end(ep, c, is_reset(-r) ? "reset" : "error", t0);
			return;
		}
	}
	const char *outcome = O.no_read ? noread_outcome(c->fd, ev & (EPOLLERR | EPOLLHUP), ev & EPOLLRDHUP, &c->got)
					: read_outcome(c->fd, &c->got);
	if (outcome) {
		hc_end(ep, c, outcome, t0);
		return;
	}
	struct epoll_event e = {.events = hc_events(c, plen), .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

static int hold_many(const char *expect)
{
	long n = O.conns;
	struct sockaddr_storage ss;
	socklen_t sl;
	resolve(O.connect, &ss, &sl);
	raise_nofile(n + 64);
	size_t plen;
	uint8_t *payload = hold_payload(&plen);
	struct hconn *hc = calloc((size_t)n, sizeof(*hc));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!hc || ep < 0)
		die(EX_USAGE, "out of memory or epoll: %s", strerror(errno));
	double t0 = now();
	double end = t0 + run_window(O.duration);
	long left = n;
	g_phase = "connecting";
	for (long i = 0; i < n; i++) {
		struct hconn *c = &hc[i];
		c->idx = (int)i;
		c->fd = sock_open(ss.ss_family, NULL, true);
		if (c->fd < 0)
			die(EX_FAIL, "socket for connection %ld: %s", i, strerror(-c->fd));
		if (connect(c->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
			hc_connect_failed(ep, c, errno, t0);
			left--;
			continue;
		}
		struct epoll_event e = {.events = hc_events(c, plen), .data.ptr = c};
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
	}
	g_phase = "holding";
	struct epoll_event evs[256];
	while (left > 0) {
		double wait = end - now();
		if (wait <= 0)
			break;
		int k = epoll_wait(ep, evs, 256, wait > 1 ? 1000 : (int)(wait * 1000) + 1);
		for (int i = 0; i < k; i++) {
			struct hconn *c = evs[i].data.ptr;
			hc_event(ep, c, evs[i].events, payload, plen, t0);
			left -= c->outcome != NULL;
		}
	}
	long connected = 0, reset = 0, eof = 0, refused = 0, error = 0, open = 0, mismatched = 0;
	uint64_t bytes = 0;
	for (long i = 0; i < n; i++) {
		struct hconn *c = &hc[i];
		if (!c->outcome) {
			if (O.no_read)
				noread_outcome(c->fd, false, false, &c->got);
			c->outcome = "open";
			close(c->fd);
		}
		connected += c->connected;
		reset += !strcmp(c->outcome, "reset");
		eof += !strcmp(c->outcome, "eof");
		refused += !strcmp(c->outcome, "refused");
		error += !strcmp(c->outcome, "error");
		open += !strcmp(c->outcome, "open");
		mismatched += O.expect && !outcome_matches(expect, c->outcome);
		bytes += c->got;
	}
	free(hc);
	free(payload);
	close(ep);
	char why[96] = "";
	if (mismatched)
		snprintf(why, sizeof(why), " expected=%s mismatched=%ld", expect, mismatched);
	say("%s conns=%ld connected=%ld reset=%ld eof=%ld refused=%ld open=%ld error=%ld bytes=%" PRIu64
	    " secs=%.3f%s\n", mismatched ? "FAIL" : "ok", n, connected, reset, eof, refused, open, error, bytes,
	    now() - t0, why);
	return mismatched ? EX_FAIL : EX_OK;
}

int cmd_hold(void)
{
	const char *expect = O.expect ? O.expect : "any";
	static const char *known[] = {"reset", "eof", "any", "refused", "open", "gone", NULL};
	bool ok_name = false;
	for (int i = 0; known[i]; i++)
		ok_name |= !strcmp(known[i], expect);
	if (!O.connect || !ok_name)
		die(EX_USAGE, "hold needs --connect and --expect reset|eof|any|refused|open|gone");
	if (O.conns_set || O.duration > 0)
		return hold_many(expect);
	return hold_one(expect);
}
