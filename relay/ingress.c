/* HTTP by Host and path, HTTPS with the operator's certificates, TLS
 * passed through by SNI (see ingress.h).
 *
 * A connection (struct iconn) reads through three layers:
 *   the backend connection (be->conn: a socket, a relay/net connection),
 *   the front: that, or TLS over it when the relay terminates TLS,
 *   the filter: what the pump reads (ingress_ops): rewritten request heads
 *   and the bodies after them, cut at the end of the last request that
 *   goes to this stream's name; raw bytes after an upgrade or for SNI
 *   passthrough.
 * The pump writes responses to the front as they come (never parsed).
 *
 * States: SNIFF (a TLS listener: the ClientHello's name), HANDSHAKE
 * (terminating), HEAD (the first request head), STREAM (a pump runs),
 * REPLY (the relay's own answer: 400, 404, 408, 431, 502), LINGER (after
 * the answer, reading what the client still sends until it closes, so
 * the answer is not lost to a reset), CLOSED.
 *
 * Ownership: iconns come from the worker's pool and go back at
 * ingress_gc; the input buffer and a rewritten head are the iconn's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/err.h>

#include "backend.h"
#include "engine.h"
#include "ferry/addr.h"
#include "ferry/tlsconn.h"
#include "hparse.h"
#include "ingress.h"
#include "itls.h"
#include "public.h"
#include "relay-t.h"
#include "rstream.h"
#include "sni.h"
#include "tunnel.h"
#include "wsup.h"

#define TOPIC "relay.ingress"
#define LINGER_MS 2000		/* reading after our answer before closing */
#define FWD_EXTRA 640		/* X-Forwarded-* added to a head, at most */

enum ic_state { IC_SNIFF, IC_HANDSHAKE, IC_HEAD, IC_STREAM, IC_REPLY, IC_LINGER, IC_CLOSED };
/* The request side while a stream runs: which bytes come next. */
enum ic_rq { RQ_HEAD, RQ_BODY, RQ_RAW, RQ_EOF };

struct iconn {
	struct rs_pump rp;		/* the stream's app: rp.rs; its pump */
	struct worker *w;
	void *io;			/* the backend connection */
	enum ic_state st;
	enum ic_rq rq, rq_next;		/* rq_next: after the head just routed */
	bool tls_listener;
	bool tls_on;			/* terminating TLS: the front is tls */
	bool tls_shut;			/* close_notify written, FIN to follow */
	bool wr_closed;			/* the front's write side is shut */
	bool front_err;			/* the client connection failed */
	bool pump_live, pump_done;
	bool have_next;			/* a routed head waits for its stream */
	bool want_rd;
	bool in_more;
	bool head_short;		/* the head in `in` is not whole: wait for the socket */
	struct fy_tlsconn tls;
	uint8_t *in;			/* input not yet handed on */
	size_t in_len, in_cap;
	uint8_t *fwd;			/* a rewritten head for the pump */
	size_t fwd_len, fwd_off;
	struct hparse hp;
	struct name_target cur, next;	/* the stream's claim; the next one's */
	uint32_t done_code;
	char done_why[FY_REASON_MAX + 1];
	int reply_status;		/* the relay's answer, once the stream ends */
	char reply[640];
	size_t reply_len, reply_off;
	uint64_t deadline_ms;		/* 0: none */
	uint16_t lport;
	struct sockaddr_storage peer;
	char peer_str[64];
	char ip[INET6_ADDRSTRLEN];	/* X-Forwarded-For */
	char name[SNI_NAME_MAX + 1];	/* the host or SNI name, for logs */
	unsigned nreq;
	char ws_accept[FY_WS_ACCEPT_LEN + 1];	/* an agent's upgrade: our answer */
	struct iconn *all_next, *all_prev, *more_next, *gc_next;
};

static const struct fy_conn_ops ingress_ops;

size_t ingress_conn_size(void)
{
	return sizeof(struct iconn);
}

/* ---- lists ---- */

static void schedule(struct iconn *ic)
{
	struct worker *w = ic->w;

	if (ic->in_more || ic->st == IC_CLOSED)
		return;
	ic->in_more = true;
	ic->more_next = w->ic_more;
	w->ic_more = ic;
	w->r->be->wake(w);
}

/* ---- the front: the client connection, in plaintext ---- */

static const struct fy_conn_ops *be_conn(struct iconn *ic)
{
	return ic->w->r->be->conn;
}

static long front_recv(struct iconn *ic, void *buf, size_t n)
{
	long k, pulled;

	if (!ic->tls_on)
		return be_conn(ic)->recv(ic->io, buf, n);
	for (;;) {
		k = fy_tlsconn_read(&ic->tls, buf, n);
		if (k != -EAGAIN)
			break;
		pulled = fy_tlsconn_pull(&ic->tls);
		if (pulled < 0)
			return -EIO;
		if (pulled == 0 && !ic->tls.eof)
			break;
	}
	/* Reading may have produced records to send (a key update). */
	if (fy_tlsconn_push(&ic->tls) < 0)
		return -EIO;
	return k;
}

static long front_send(struct iconn *ic, const void *buf, size_t n)
{
	long k;

	if (!ic->tls_on)
		return be_conn(ic)->send(ic->io, buf, n);
	if (fy_tlsconn_push(&ic->tls) < 0)
		return -EIO;
	k = fy_tlsconn_write(&ic->tls, buf, n);
	if (k == -EAGAIN) {
		if (fy_tlsconn_push(&ic->tls) < 0)
			return -EIO;
		k = fy_tlsconn_write(&ic->tls, buf, n);
	}
	if (k > 0 && fy_tlsconn_push(&ic->tls) < 0)
		return -EIO;
	return k;
}

static void front_want(struct iconn *ic, bool rd, bool wr)
{
	ic->want_rd = rd;
	if (ic->tls_on && (ic->tls_shut || fy_tlsconn_pending_out(&ic->tls)))
		wr = true;
	be_conn(ic)->want(ic->io, rd, wr);
}

/* The FIN after a close_notify, once TLS has written it all. */
static void front_finish_shut(struct iconn *ic)
{
	if (!ic->tls_shut || fy_tlsconn_push(&ic->tls) != 0)
		return;
	ic->tls_shut = false;
	be_conn(ic)->shutdown_wr(ic->io);
}

static void front_shutdown(struct iconn *ic)
{
	if (ic->wr_closed)
		return;
	ic->wr_closed = true;
	if (!ic->tls_on) {
		be_conn(ic)->shutdown_wr(ic->io);
		return;
	}
	/* Before the handshake completed this fails ("shutdown while in
	 * init"); nothing to tell the client then, and nothing to leave in
	 * the thread's error queue for the next connection. */
	SSL_shutdown(ic->tls.ssl);
	ERR_clear_error();
	ic->tls_shut = true;
	front_finish_shut(ic);
}

/* Reads what fits into the input buffer: >0, 0 end, -EAGAIN, -errno. */
static long fill_in(struct iconn *ic)
{
	long k;

	if (ic->in_len == ic->in_cap)
		return -ENOBUFS;
	k = front_recv(ic, ic->in + ic->in_len, ic->in_cap - ic->in_len);
	if (k > 0)
		ic->in_len += (size_t)k;
	else if (k < 0 && k != -EAGAIN)
		ic->front_err = true;
	return k;
}

static void in_consume(struct iconn *ic, size_t n)
{
	memmove(ic->in, ic->in + n, ic->in_len - n);
	ic->in_len -= n;
}

/* ---- closing ---- */

/* Off the worker's lists, freed at ingress_gc; io is no longer ours. */
static void ic_unlist(struct iconn *ic)
{
	struct worker *w = ic->w;

	ic->st = IC_CLOSED;
	ic->io = NULL;
	if (ic->all_prev)
		ic->all_prev->all_next = ic->all_next;
	else
		w->ic_all = ic->all_next;
	if (ic->all_next)
		ic->all_next->all_prev = ic->all_prev;
	/* On the read-more list it goes to gc from there, once: pushed here
	 * too, it would sit on the gc list twice and be freed twice. */
	if (ic->in_more)
		return;
	ic->gc_next = w->ic_gc;
	w->ic_gc = ic;
}

static void ic_close(struct iconn *ic, bool rst)
{
	struct worker *w = ic->w;

	if (ic->st == IC_CLOSED)
		return;
	if (ic->pump_live && !ic->rp.pump.done)
		fy_pump_abort(&ic->rp.pump, FY_E_GONE, "client connection closed");
	w->r->be->close(w, ic->io, rst);
	ic_unlist(ic);
}

void ingress_gc(struct worker *w)
{
	while (w->ic_gc) {
		struct iconn *ic = w->ic_gc;

		w->ic_gc = ic->gc_next;
		if (ic->pump_live)
			fy_pump_fini(&ic->rp.pump);
		if (ic->tls.ssl)
			fy_tlsconn_fini(&ic->tls);
		free(ic->in);
		free(ic->fwd);
		fy_pool_free(&w->ic_pool, ic);
	}
}

/* ---- the relay's own answers ---- */

static const char *status_text(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	default: return "Bad Gateway";
	}
}

static void reply_flush(struct iconn *ic)
{
	while (ic->reply_off < ic->reply_len) {
		long k = front_send(ic, ic->reply + ic->reply_off, ic->reply_len - ic->reply_off);

		if (k == -EAGAIN || k == 0) {
			front_want(ic, false, true);
			return;
		}
		if (k < 0) {
			ic_close(ic, true);
			return;
		}
		ic->reply_off += (size_t)k;
	}
	/* All written: FIN, then read until the client closes (or a short
	 * while), so that unread input does not turn our close into a reset
	 * that discards the answer at the client. */
	front_shutdown(ic);
	ic->st = IC_LINGER;
	ic->deadline_ms = ic->w->now_ms + LINGER_MS;
	front_want(ic, true, false);
}

/* Answers status and closes. The page names nothing internal: not the
 * agent, not its target, not the relay's software. One line in the log
 * says what happened, for the operator. */
static void reply(struct iconn *ic, int status, const char *why)
{
	char body[200];
	int bl;

	atomic_fetch_add_explicit(&ic->w->r->ctr.http_refused, 1, memory_order_relaxed);
	FY_LOG_RL(FY_LOG_WARN, TOPIC, "client %s%s%s: %d %s: %s", ic->peer_str,
		  ic->name[0] ? " for " : "", ic->name, status, status_text(status), why);
	bl = snprintf(body, sizeof(body), "<html><head><title>%d %s</title></head><body><h1>%d "
		      "%s</h1></body></html>\n", status, status_text(status), status,
		      status_text(status));
	ic->reply_len = (size_t)snprintf(ic->reply, sizeof(ic->reply),
					 "HTTP/1.1 %d %s\r\nContent-Type: text/html\r\n"
					 "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
					 status, status_text(status), bl, body);
	ic->reply_off = 0;
	ic->st = IC_REPLY;
	ic->deadline_ms = ic->w->now_ms + LINGER_MS;
	if (ic->wr_closed) {
		ic_close(ic, true);	/* the answer cannot be sent any more */
		return;
	}
	reply_flush(ic);
}

/* ---- routing a request head ---- */

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* NAME of NAME.DOMAIN (port and a final dot gone), or "" when host is
 * not under the domain. */
static void name_of_host(const struct relay_cfg *c, const char *host, char *name, size_t n)
{
	char h[SNI_NAME_MAX + 1];
	size_t hl, dl = strlen(c->domain);
	char *colon;

	name[0] = '\0';
	snprintf(h, sizeof(h), "%s", host);
	if (h[0] == '[')
		return;		/* an IPv6 literal names no agent */
	colon = strchr(h, ':');
	if (colon)
		*colon = '\0';
	hl = strlen(h);
	if (hl && h[hl - 1] == '.')
		h[--hl] = '\0';
	lower(h);
	if (!dl || hl <= dl + 1 || h[hl - dl - 1] != '.' || strcmp(h + hl - dl, c->domain))
		return;
	h[hl - dl - 1] = '\0';
	if (fy_name_label_ok(h, strlen(h)))
		snprintf(name, n, "%s", h);
}

/* The path routes by prefix: /PFX/NAME/rest -> NAME and /rest. */
static bool name_of_path(const struct relay_cfg *c, const char *path, size_t plen, char *name,
			 size_t n, size_t *rest)
{
	size_t pl = strlen(c->http_prefix), i;

	if (plen <= pl || strncmp(path, c->http_prefix, pl))
		return false;
	for (i = pl; i < plen && path[i] != '/' && path[i] != '?'; i++)
		;
	if (i - pl == 0 || i - pl > FY_NAME_MAX || i - pl >= n)
		return false;
	memcpy(name, path + pl, i - pl);
	name[i - pl] = '\0';
	lower(name);
	*rest = i;
	return fy_name_label_ok(name, strlen(name));
}

static bool is_forwarded_header(const struct hparse *hp, const uint8_t *b, unsigned i)
{
	return hp_header_is(hp, b, i, "x-forwarded-for") ||
	       hp_header_is(hp, b, i, "x-forwarded-proto") ||
	       hp_header_is(hp, b, i, "x-forwarded-host");
}

/* The head as the agent's target gets it: the path without the routing
 * prefix, the client's X-Forwarded-* dropped (the relay is the edge:
 * nothing before it is trusted) and ours added. */
static int rewrite(struct iconn *ic, const uint8_t *b, size_t head_len, const char *path,
		   size_t plen, const char *host)
{
	const struct hparse *hp = &ic->hp;
	size_t cap = head_len + FWD_EXTRA + strlen(host) + 2, off = 0;
	uint8_t *out = malloc(cap);
	int k;

	if (!out)
		return -1;
	k = snprintf((char *)out, cap, "%s %.*s HTTP/%u.%u\r\n", hp_method(hp), (int)plen, path,
		     hp->p.http_major, hp->p.http_minor);
	off = (size_t)k;
	for (unsigned i = 0; i < hp->nhdr; i++) {
		const struct hp_header *h = &hp->hdr[i];

		if (is_forwarded_header(hp, b, i))
			continue;
		if (off + h->name.len + h->value.len + 4 > cap) {
			free(out);
			return -1;
		}
		memcpy(out + off, b + h->name.off, h->name.len);
		off += h->name.len;
		memcpy(out + off, ": ", 2);
		off += 2;
		memcpy(out + off, b + h->value.off, h->value.len);
		off += h->value.len;
		memcpy(out + off, "\r\n", 2);
		off += 2;
	}
	k = snprintf((char *)out + off, cap - off, "X-Forwarded-For: %s\r\nX-Forwarded-Proto: %s\r\n"
		     "%s%s%s\r\n", ic->ip, ic->tls_on ? "https" : "http",
		     host[0] ? "X-Forwarded-Host: " : "", host, host[0] ? "\r\n" : "");
	if (k < 0 || (size_t)k >= cap - off) {
		free(out);
		return -1;
	}
	free(ic->fwd);
	ic->fwd = out;
	ic->fwd_len = off + (size_t)k;
	ic->fwd_off = 0;
	return 0;
}

/* Routes the complete head in ic->in[0..head_len): 0 with ic->next set
 * and the rewritten head in ic->fwd, or an HTTP status to answer. */
static int route(struct iconn *ic, size_t head_len)
{
	const struct relay_cfg *c = &ic->w->r->cfg;
	struct hparse *hp = &ic->hp;
	const uint8_t *b = ic->in;
	char host[SNI_NAME_MAX + 1] = "", name[FY_NAME_MAX + 1];
	const char *path = (const char *)b + hp->url.off, *why;
	size_t plen = hp->url.len, rest = 0;
	char pathbuf[FY_NAME_MAX + 16];
	int e;

	if (hp->host >= 0) {
		const struct hp_span *v = &hp->hdr[hp->host].value;

		snprintf(host, sizeof(host), "%.*s", (int)(v->len < SNI_NAME_MAX ? v->len :
			 SNI_NAME_MAX), (const char *)b + v->off);
	}
	snprintf(ic->name, sizeof(ic->name), "%s", host);
	if (hp->p.method == HTTP_CONNECT) {
		snprintf(ic->done_why, sizeof(ic->done_why), "CONNECT is not served");
		return 405;
	}
	if (c->wss_path[0] && wsup_is_path(path, plen, c->wss_path)) {
		const char *why = NULL;

		/* An agent's tunnel, whatever the Host: the path is reserved. */
		snprintf(ic->name, sizeof(ic->name), "%s", c->wss_path);
		if (!ic->tls_on) {
			why = "agents' WebSocket tunnels are served on --https-listen only";
			e = 404;
		} else if (!ic->w->r->be->wss) {
			why = "agents' WebSocket tunnels are not served on this backend";
			e = 501;
		} else if (ic->nreq) {
			why = "a WebSocket tunnel must be the connection's first request";
			e = 400;
		} else {
			e = wsup_check(hp, b, ic->ws_accept, &why);
		}
		if (e) {
			snprintf(ic->done_why, sizeof(ic->done_why), "%s", why);
			return e;
		}
		return 101;
	}
	if (plen == 0 || path[0] != '/') {
		/* absolute-form and '*': for proxies, not us */
		snprintf(ic->done_why, sizeof(ic->done_why), "request target is not a path");
		return 400;
	}
	name_of_host(c, host, name, sizeof(name));
	if (!name[0]) {
		if (!name_of_path(c, path, plen, name, sizeof(name), &rest)) {
			snprintf(ic->done_why, sizeof(ic->done_why), "neither Host nor path names an "
				 "agent's service");
			return 404;
		}
		path += rest;
		plen -= rest;
		if (plen == 0 || path[0] != '/') {
			/* "/forward/x" and "/forward/x?q": the root. */
			snprintf(pathbuf, sizeof(pathbuf), "/%.*s", (int)plen, path);
			path = pathbuf;
			plen++;
		}
	}
	e = engine_find_name(ic->w->r, name, ic->w->id, &ic->next, &why);
	snprintf(ic->name, sizeof(ic->name), "%s", name);
	if (e == 0 && ic->next.kind != FY_NAME_HTTP) {
		e = -ENOENT;
		why = "the name is served by TLS passthrough, not HTTP";
	}
	if (e < 0) {
		snprintf(ic->done_why, sizeof(ic->done_why), "%s", why);
		return e == -ENOENT ? 404 : 502;
	}
	if (rewrite(ic, b, head_len, path, plen, host) < 0) {
		snprintf(ic->done_why, sizeof(ic->done_why), "out of memory");
		return 502;
	}
	return 0;
}

/* The next request head, from ic->in and the front: 1 routed (ic->next,
 * ic->fwd, ic->rq_next), 0 more needed, 2 the client ended between
 * requests, 3 an agent's WebSocket tunnel (only as a first request: see
 * route), -1 refused (ic->reply_status). */
static int head_step(struct iconn *ic)
{
	long k, len;
	int status;

	for (;;) {
		if (ic->in_len) {
			if (!ic->deadline_ms)
				ic->deadline_ms = ic->w->now_ms + ic->w->r->cfg.http_header_ms;
			len = hp_head(&ic->hp, ic->in, ic->in_len);
			if (len < 0) {
				ic->reply_status = ic->hp.status;
				snprintf(ic->done_why, sizeof(ic->done_why), "%s", ic->hp.why);
				return -1;
			}
			if (len > 0)
				break;
			if (ic->in_len >= ic->w->r->cfg.http_max_header) {
				ic->reply_status = 431;
				snprintf(ic->done_why, sizeof(ic->done_why), "request head larger "
					 "than %u bytes (--http-max-header)", ic->w->r->cfg.http_max_header);
				return -1;
			}
		}
		if (ic->wr_closed)
			return 2;	/* no answer could reach the client any more */
		k = fill_in(ic);
		if (k == -EAGAIN)
			return 0;
		if (k == 0 || (k < 0 && k != -ENOBUFS))
			return 2;
		if (k == -ENOBUFS) {
			ic->reply_status = 431;
			snprintf(ic->done_why, sizeof(ic->done_why), "request head too large");
			return -1;
		}
	}
	ic->deadline_ms = 0;
	status = route(ic, (size_t)len);
	if (status == 101) {
		in_consume(ic, (size_t)len);
		return 3;
	}
	if (status) {
		ic->reply_status = status;	/* route() said why */
		return -1;
	}
	in_consume(ic, (size_t)len);
	ic->nreq++;
	atomic_fetch_add_explicit(&ic->w->r->ctr.http_requests, 1, memory_order_relaxed);
	if (!ic->hp.msg_done) {
		ic->rq_next = RQ_BODY;
	} else if (ic->hp.upgrade) {
		ic->rq_next = RQ_RAW;
	} else {
		ic->rq_next = RQ_HEAD;
		hp_init(&ic->hp);
	}
	return 1;
}

/* ---- the filter the pump reads ---- */

static long take_in(struct iconn *ic, void *buf, size_t n)
{
	size_t k = ic->in_len < n ? ic->in_len : n;

	memcpy(buf, ic->in, k);
	in_consume(ic, k);
	return (long)k;
}

static long body_step(struct iconn *ic, void *buf, size_t n)
{
	long k;

	if (!ic->in_len) {
		k = fill_in(ic);
		if (k <= 0)
			return k;
	}
	k = hp_body(&ic->hp, ic->in, ic->in_len < n ? ic->in_len : n);
	if (k < 0) {
		/* A bad chunk: the request is cut here. The stream is reset; the
		 * client gets a 400 if no response has reached it yet. */
		ic->reply_status = 400;
		snprintf(ic->done_why, sizeof(ic->done_why), "request body refused: %s", ic->hp.why);
		return -EPROTO;
	}
	memcpy(buf, ic->in, (size_t)k);
	in_consume(ic, (size_t)k);
	if (ic->hp.msg_done) {
		if (ic->hp.upgrade) {
			ic->rq = RQ_RAW;
		} else {
			ic->rq = RQ_HEAD;
			hp_init(&ic->hp);
		}
	}
	return k;
}

static long f_recv(void *io, void *buf, size_t n)
{
	struct iconn *ic = io;
	long k;
	int r;

	for (;;) {
		if (ic->fwd_off < ic->fwd_len) {
			k = (long)(ic->fwd_len - ic->fwd_off < n ? ic->fwd_len - ic->fwd_off : n);
			memcpy(buf, ic->fwd + ic->fwd_off, (size_t)k);
			ic->fwd_off += (size_t)k;
			return k;
		}
		switch (ic->rq) {
		case RQ_EOF:
			return 0;
		case RQ_RAW:
			if (ic->in_len)
				return take_in(ic, buf, n);
			k = front_recv(ic, buf, n);
			if (k < 0 && k != -EAGAIN)
				ic->front_err = true;
			return k;
		case RQ_BODY:
			k = body_step(ic, buf, n);
			if (k != 0 || ic->rq == RQ_BODY)
				return k;
			continue;	/* the request ended exactly here */
		case RQ_HEAD:
			r = head_step(ic);
			ic->head_short = r == 0;
			if (r == 0)
				return -EAGAIN;
			if (r != 1) {
				/* Client done, or a bad head: the stream ends first,
				 * then the answer (if any) goes out. */
				ic->rq = RQ_EOF;
				return 0;
			}
			if (ic->next.serial == ic->cur.serial && ic->next.id == ic->cur.id) {
				ic->rq = ic->rq_next;
				continue;
			}
			/* Another name: this stream ends, a new one follows. */
			ic->have_next = true;
			ic->rq = RQ_EOF;
			return 0;
		}
	}
}

static long f_send(void *io, const void *buf, size_t n)
{
	struct iconn *ic = io;
	long k = front_send(ic, buf, n);

	if (k < 0 && k != -EAGAIN)
		ic->front_err = true;
	return k;
}

/* The agent's target ended its response side. When the request side
 * ended for a next stream or an answer of ours, the client's connection
 * goes on; otherwise the client sees the end (Connection: close). */
static void f_shutdown(void *io)
{
	struct iconn *ic = io;

	if (ic->rq == RQ_EOF && (ic->have_next || ic->reply_status))
		return;
	front_shutdown(ic);
}

/* Whether the pump can read more without the socket: a rewritten head
 * not handed on yet, a body or raw bytes in `in`, or whole request heads
 * there (pipelined: the pump stops after a few reads per event, and
 * nothing would wake it for them). */
static bool f_buffered(const struct iconn *ic)
{
	if (ic->fwd_off < ic->fwd_len)
		return true;
	if (!ic->in_len)
		return false;
	return ic->rq == RQ_BODY || ic->rq == RQ_RAW || (ic->rq == RQ_HEAD && !ic->head_short);
}

static void f_want(void *io, bool rd, bool wr)
{
	struct iconn *ic = io;

	front_want(ic, rd, wr);
	/* Bytes already here (ours or TLS's) raise no event again. */
	if (rd && !ic->pump_done &&
	    (f_buffered(ic) || (ic->tls_on && fy_tlsconn_has_input(&ic->tls))))
		schedule(ic);
}

static const struct fy_conn_ops ingress_ops = {
	.recv = f_recv, .send = f_send, .shutdown_wr = f_shutdown, .want = f_want,
};

/* ---- the stream ---- */

/* The pump calls this from inside itself: the rest waits for the
 * deferred list (the pump reads its own state after we return). */
static void on_done(struct fy_pump *p, uint32_t code, const char *why)
{
	struct iconn *ic = caa_container_of(p, struct iconn, rp.pump);

	ic->pump_done = true;
	ic->done_code = code;
	/* Our own reason (a bad body) says more than the pump's. */
	if (code != FY_E_OK && !ic->reply_status)
		snprintf(ic->done_why, sizeof(ic->done_why), "%s", why);
	schedule(ic);
}

/* A stream for the request routed to ic->next (its head in ic->fwd). */
static void start_stream(struct iconn *ic)
{
	struct worker *w = ic->w;
	struct tunnel *t = NULL;
	struct fy_stream *s;
	const char *why = "out of memory";
	struct fy_open o;

	public_to_open(&ic->peer, ic->next.id, &o);
	o.named = true;
	s = tunnel_open_stream(w, ic->next.serial, &o, &ic->rp.rs, &t, &why);
	if (!s) {
		reply(ic, 502, why);
		return;
	}
	ic->cur = ic->next;
	ic->have_next = false;
	ic->rq = ic->rq_next;
	ic->rp.rs.ops = &rs_pump_ops;
	ic->rp.kind = ic->tls_listener && !ic->tls_on ? "tls" : "http";
	ic->rp.peer = ic->peer_str;
	fy_pump_init(&ic->rp.pump, &ingress_ops, ic, t->link.mux, s, w->r->cfg.window, true, on_done);
	s->app = &ic->rp.rs;
	ic->pump_live = true;
	ic->pump_done = false;
	ic->st = IC_STREAM;
	FY_DEBUG(TOPIC, "client %s: %s -> agent '%s' stream %u", ic->peer_str, ic->name,
		 ic->cur.agent, s->id);
	fy_pump_readable(&ic->rp.pump);
}

/* The stream ended (deferred from on_done): the next stream, our answer,
 * or the end of the connection. */
static void after_stream(struct iconn *ic)
{
	uint32_t code = ic->done_code;
	unsigned long long tx = ic->rp.pump.tx;

	fy_pump_fini(&ic->rp.pump);
	ic->pump_live = false;
	if (code == FY_E_OK) {
		if (ic->have_next)
			start_stream(ic);
		else if (ic->reply_status)
			reply(ic, ic->reply_status, ic->done_why);
		else
			ic_close(ic, false);
		return;
	}
	/* Reset: the client gets an answer only when nothing of a response
	 * reached it yet (else it could not tell ours from the target's). */
	if (tx == 0 && !ic->front_err && !ic->wr_closed) {
		reply(ic, ic->reply_status ? ic->reply_status : 502, ic->done_why);
		return;
	}
	if (code != FY_E_GONE || !ic->front_err)
		FY_LOG_RL(FY_LOG_INFO, TOPIC, "client %s for %s: stream reset: %s (%s)",
			  ic->peer_str, ic->name, ic->done_why, fy_code_str(code));
	ic_close(ic, true);
}

/* ---- before the first stream ---- */

/* An agent's WebSocket upgrade: the 101 goes into TLS, and the
 * connection, with its TLS state and any bytes after the head, becomes
 * an unauthenticated tunnel (tunnel.c), as if it had come to the agent
 * port; the HELLO follows inside WebSocket messages. */
static void ws_takeover(struct iconn *ic)
{
	struct worker *w = ic->w;
	void *io = ic->io;
	struct fy_tlsconn tls;
	char resp[256];
	size_t n = wsup_response(ic->ws_accept, resp, sizeof(resp));

	if (!n || fy_tlsconn_write(&ic->tls, resp, n) != (long)n || fy_tlsconn_push(&ic->tls) < 0) {
		FY_LOG_RL(FY_LOG_INFO, TOPIC, "client %s: WebSocket upgrade: %s", ic->peer_str,
			  ic->tls.why[0] ? ic->tls.why : "TLS did not take the 101");
		ic_close(ic, true);
		return;
	}
	w->r->be->detach(w, io);
	tls = ic->tls;			/* moved: the tunnel owns it now */
	memset(&ic->tls, 0, sizeof(ic->tls));
	ic->tls_on = false;
	ic_unlist(ic);			/* ic->in and ic->peer live until ingress_gc */
	tunnel_accept_ws(w, io, &ic->peer, &tls, ic->in, ic->in_len);
}

static void first_head(struct iconn *ic)
{
	int r = head_step(ic);

	if (r == 3) {
		ws_takeover(ic);
		return;
	}
	if (r == 0) {
		front_want(ic, true, false);
		return;
	}
	if (r == 2) {
		ic_close(ic, ic->front_err);
		return;
	}
	if (r < 0) {
		reply(ic, ic->reply_status, ic->done_why);
		return;
	}
	start_stream(ic);
}

static void handshake(struct iconn *ic)
{
	int r;

	if (fy_tlsconn_pull(&ic->tls) < 0) {
		ic_close(ic, true);
		return;
	}
	r = fy_tlsconn_handshake(&ic->tls);
	if (r < 0) {
		FY_LOG_RL(FY_LOG_INFO, TOPIC, "client %s%s%s: %s", ic->peer_str,
			  ic->name[0] ? " for " : "", ic->name, ic->tls.why);
		ic_close(ic, true);
		return;
	}
	if (r == 0) {
		front_want(ic, true, fy_tlsconn_pending_out(&ic->tls));
		return;
	}
	ic->st = IC_HEAD;
	first_head(ic);
}

/* Terminates TLS: the ClientHello read so far goes to OpenSSL first. */
static void terminate(struct iconn *ic)
{
	const struct relay *r = ic->w->r;

	if (!r->itls || fy_tlsconn_init(&ic->tls, itls_ctx(r->itls), be_conn(ic), ic->io, true) < 0) {
		FY_LOG_RL(FY_LOG_INFO, TOPIC, "client %s for '%s': no TLS name served here",
			  ic->peer_str, ic->name);
		atomic_fetch_add_explicit(&ic->w->r->ctr.http_refused, 1, memory_order_relaxed);
		ic_close(ic, true);
		return;
	}
	if (BIO_write(ic->tls.net, ic->in, (int)ic->in_len) != (int)ic->in_len) {
		ic_close(ic, true);
		return;
	}
	ic->in_len = 0;
	ic->tls_on = true;
	ic->st = IC_HANDSHAKE;
	handshake(ic);
}

/* A TLS listener: the ClientHello's name decides. */
static void sniff(struct iconn *ic)
{
	char sni[SNI_NAME_MAX + 1], name[FY_NAME_MAX + 1];
	const char *why = NULL;
	long k;
	int r, e;

	for (;;) {
		r = sni_parse(ic->in, ic->in_len, sni, &why);
		if (r != 0)
			break;
		k = fill_in(ic);
		if (k == -EAGAIN) {
			front_want(ic, true, false);
			return;
		}
		if (k <= 0) {
			ic_close(ic, true);
			return;
		}
	}
	if (r < 0) {
		atomic_fetch_add_explicit(&ic->w->r->ctr.http_refused, 1, memory_order_relaxed);
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "client %s: not a TLS ClientHello we can read: %s",
			  ic->peer_str, why);
		ic_close(ic, true);
		return;
	}
	snprintf(ic->name, sizeof(ic->name), "%s", sni);
	name_of_host(&ic->w->r->cfg, sni, name, sizeof(name));
	e = name[0] ? engine_find_name(ic->w->r, name, ic->w->id, &ic->next, &why) : -ENOENT;
	if (e == 0 && ic->next.kind == FY_NAME_TLS) {
		/* Passed through: the agent's target sees the ClientHello. */
		ic->deadline_ms = 0;
		ic->rq_next = RQ_RAW;
		atomic_fetch_add_explicit(&ic->w->r->ctr.sni_passed, 1, memory_order_relaxed);
		start_stream(ic);
		return;
	}
	if (e == -EHOSTDOWN && ic->next.kind == FY_NAME_TLS) {
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "client %s for %s: %s", ic->peer_str, sni, why);
		atomic_fetch_add_explicit(&ic->w->r->ctr.http_refused, 1, memory_order_relaxed);
		ic_close(ic, true);
		return;
	}
	terminate(ic);
}

/* ---- events ---- */

static void linger(struct iconn *ic)
{
	uint8_t sink[4096];

	for (;;) {
		long k = front_recv(ic, sink, sizeof(sink));

		if (k == -EAGAIN)
			return;
		if (k <= 0) {
			ic_close(ic, k < 0);
			return;
		}
	}
}

static void on_event(void *owner, uint32_t ev)
{
	struct iconn *ic = owner;

	if (ic->tls_on && (ev & RELAY_EV_WRITE)) {
		if (fy_tlsconn_push(&ic->tls) < 0) {
			ic->front_err = true;
			if (ic->pump_live && !ic->rp.pump.done)
				fy_pump_conn_error(&ic->rp.pump, -EIO);
			else
				ic_close(ic, true);
			return;
		}
		front_finish_shut(ic);
	}
	switch (ic->st) {
	case IC_SNIFF:
		sniff(ic);
		break;
	case IC_HANDSHAKE:
		handshake(ic);
		break;
	case IC_HEAD:
		first_head(ic);
		break;
	case IC_STREAM:
		if (ev & RELAY_EV_WRITE)
			fy_pump_writable(&ic->rp.pump);
		if (ev & (RELAY_EV_READ | RELAY_EV_ERROR))
			fy_pump_readable(&ic->rp.pump);
		break;
	case IC_REPLY:
		reply_flush(ic);
		break;
	case IC_LINGER:
		linger(ic);
		break;
	case IC_CLOSED:
		break;
	}
}

void ingress_read_more(struct worker *w)
{
	struct iconn *list = w->ic_more;

	w->ic_more = NULL;
	while (list) {
		struct iconn *ic = list;

		list = ic->more_next;
		ic->in_more = false;
		if (ic->st == IC_CLOSED) {
			/* Closed while waiting here: ic_close left it to us. */
			ic->gc_next = w->ic_gc;
			w->ic_gc = ic;
			continue;
		}
		if (ic->st != IC_STREAM)
			continue;
		if (ic->pump_done)
			after_stream(ic);
		else
			fy_pump_readable(&ic->rp.pump);
	}
}

void ingress_accepted(struct worker *w, uint16_t port, void *io,
		      const struct sockaddr_storage *peer)
{
	const struct relay_cfg *c = &w->r->cfg;
	struct iconn *ic = fy_pool_alloc(&w->ic_pool);

	if (ic)
		memset(ic, 0, sizeof(*ic));
	if (ic) {
		ic->in_cap = c->http_max_header > SNI_RECORD_MAX ? c->http_max_header : SNI_RECORD_MAX;
		ic->in = malloc(ic->in_cap);
	}
	if (!ic || !ic->in) {
		if (ic)
			fy_pool_free(&w->ic_pool, ic);
		w->r->be->close(w, io, true);
		return;
	}
	ic->w = w;
	ic->io = io;
	ic->lport = port;
	ic->peer = *peer;
	fy_addr_str(peer, ic->peer_str, sizeof(ic->peer_str));
	if (peer->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)peer)->sin_addr, ic->ip,
			  sizeof(ic->ip));
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr,
			  ic->ip, sizeof(ic->ip));
	ic->tls_listener = port != c->http_port;
	ic->st = ic->tls_listener ? IC_SNIFF : IC_HEAD;
	ic->deadline_ms = w->now_ms + c->http_header_ms;
	hp_init(&ic->hp);
	ic->all_next = w->ic_all;
	if (w->ic_all)
		w->ic_all->all_prev = ic;
	w->ic_all = ic;
	if (w->r->be->attach(w, io, on_event, ic) < 0) {
		ic_close(ic, true);
		return;
	}
	/* Bytes may be waiting already (DPDK delivers them with the
	 * accept). */
	on_event(ic, RELAY_EV_READ);
}

void ingress_tick(struct worker *w, uint64_t now)
{
	struct iconn *ic = w->ic_all, *next;

	for (; ic; ic = next) {
		next = ic->all_next;
		if (!ic->deadline_ms || now < ic->deadline_ms)
			continue;
		ic->deadline_ms = 0;
		if (ic->st == IC_REPLY || ic->st == IC_LINGER) {
			ic_close(ic, ic->st == IC_REPLY);
		} else if (ic->st == IC_STREAM) {
			/* A later head too slow: the stream ends, then the 408. */
			if (ic->rq != RQ_HEAD || ic->pump_done)
				continue;
			ic->reply_status = 408;
			snprintf(ic->done_why, sizeof(ic->done_why), "request head not complete "
				 "within %u ms", w->r->cfg.http_header_ms);
			ic->rq = RQ_EOF;
			fy_pump_readable(&ic->rp.pump);
		} else if (ic->st == IC_HEAD) {
			reply(ic, 408, "request head not complete in time (--http-header-timeout-ms)");
		} else {
			FY_LOG_RL(FY_LOG_WARN, TOPIC, "client %s: TLS ClientHello or handshake not "
				  "complete in time", ic->peer_str);
			ic_close(ic, true);
		}
	}
}

int ingress_start(struct worker *w)
{
	const struct relay_cfg *c = &w->r->cfg;
	const char *addr[3] = { c->http_listen, c->https_listen, c->sni_listen };
	const char *bind[3] = { c->http_bind, c->https_bind, c->sni_bind };
	uint16_t port[3] = { c->http_port, c->https_port, c->sni_port };

	if (w->id == 0 && c->https_port && c->wss_path[0]) {
		if (w->r->be->wss)
			FY_INFO(TOPIC, "agents may connect with --transport wss to %s, path %s",
				c->https_listen, c->wss_path);
		else
			FY_WARN(TOPIC, "agents' WebSocket tunnels (--transport wss) are not served on "
				"the %s backend: an upgrade to %s on %s gets 501 Not Implemented; agents "
				"use --transport tls", w->r->be->name, c->wss_path, c->https_listen);
	}

	for (int i = 0; i < 3; i++) {
		int e;

		if (!port[i])
			continue;
		/* Worker 0 probes: not another process's port. */
		e = w->r->be->listen(w, bind[i], port[i], w->id == 0, &w->ingress_lio[i]);
		if (e < 0) {
			FY_ERR(TOPIC, "cannot listen on %s: %s", addr[i], strerror(-e));
			return e;
		}
	}
	return 0;
}

void ingress_stop_listening(struct worker *w)
{
	for (int i = 0; i < 3; i++) {
		if (w->ingress_lio[i])
			w->r->be->unlisten(w, w->ingress_lio[i]);
		w->ingress_lio[i] = NULL;
	}
}

void ingress_stop(struct worker *w)
{
	ingress_stop_listening(w);
	while (w->ic_all)
		ic_close(w->ic_all, true);
	ingress_read_more(w);
	ingress_gc(w);
}
