/* A tunnel's way out before its frames flow (see xport.h): the HTTP
 * proxy's CONNECT on the bare TCP connection, and the WebSocket upgrade
 * inside TLS. tunnel.c calls the start function once and the step
 * function on every event until it says done (1) or failed (-1, with a
 * one-line reason that never holds the proxy's credentials).
 *
 * Ownership: the exchange's state (struct xhs) is the tunnel's, made by
 * a start and freed by xport_free (tunnel.c calls it when the exchange
 * ends and when the tunnel is freed). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "agent.h"
#include "hresp.h"

struct xhs {
	char req[1400];			/* holds credentials for a proxy: wiped */
	size_t req_len, req_off;
	struct hresp h;
	char key[FY_WS_KEY_LEN + 1];
	uint8_t rest[4096];		/* bytes after the head: the next layer's */
	size_t rest_len;
};

void xport_free(struct atun *t)
{
	if (!t->hs)
		return;
	OPENSSL_cleanse(t->hs, sizeof(*t->hs));
	free(t->hs);
	t->hs = NULL;
}

static struct xhs *hs_new(struct atun *t)
{
	xport_free(t);
	t->hs = calloc(1, sizeof(*t->hs));
	if (t->hs)
		hresp_init(&t->hs->h);
	return t->hs;
}

/* Feeds what was read to the head parser: 1 the head is complete (its
 * trailing bytes kept in rest), 0 more needed, -1 refused. */
static int feed(struct xhs *hs, const uint8_t *p, size_t n, const char *what, char *why,
		size_t wn)
{
	long k = hresp_feed(&hs->h, p, n);

	if (k < 0) {
		snprintf(why, wn, "%s: malformed HTTP answer: %s", what, hs->h.why);
		return -1;
	}
	if (!hs->h.done)
		return 0;
	hs->rest_len = n - (size_t)k;
	if (hs->rest_len > sizeof(hs->rest)) {
		snprintf(why, wn, "%s: more than %zu bytes right after the answer", what,
			 sizeof(hs->rest));
		return -1;
	}
	memcpy(hs->rest, p + k, hs->rest_len);
	return 1;
}

/* ---- the proxy: plain HTTP on the socket ---- */

int xport_proxy_start(struct atun *t, char *why, size_t wn)
{
	struct agent *a = t->a;
	uint16_t port = a->tr_now == TR_WSS ? a->cfg.wss_port : a->relay_port;
	struct xhs *hs = hs_new(t);

	if (!hs) {
		snprintf(why, wn, "out of memory");
		return -1;
	}
	hs->req_len = proxy_request(&a->proxy, a->relay_host, port, hs->req, sizeof(hs->req));
	if (!hs->req_len) {
		snprintf(why, wn, "proxy: the CONNECT request does not fit");
		return -1;
	}
	return 0;
}

int xport_proxy_step(struct atun *t, char *why, size_t wn)
{
	struct xhs *hs = t->hs;
	uint8_t buf[2048];
	long k;

	while (hs->req_off < hs->req_len) {
		k = fy_sockconn_ops.send(&t->sc, hs->req + hs->req_off, hs->req_len - hs->req_off);
		if (k == -EAGAIN || k == 0) {
			fy_sockconn_ops.want(&t->sc, true, true);
			return 0;
		}
		if (k < 0) {
			snprintf(why, wn, "proxy %s:%u: %s", t->a->proxy.host, t->a->proxy.port,
				 strerror((int)-k));
			return -1;
		}
		hs->req_off += (size_t)k;
	}
	fy_sockconn_ops.want(&t->sc, true, false);
	for (;;) {
		int r;

		/* A head arrives in a few reads; read no further than needed
		 * is not possible on a stream, so what follows it is kept. */
		k = fy_sockconn_ops.recv(&t->sc, buf, sizeof(buf));
		if (k == -EAGAIN)
			return 0;
		if (k <= 0) {
			snprintf(why, wn, "proxy %s:%u %s before answering the CONNECT",
				 t->a->proxy.host, t->a->proxy.port,
				 k == 0 ? "closed the connection" : strerror((int)-k));
			return -1;
		}
		r = feed(hs, buf, (size_t)k, "proxy", why, wn);
		if (r < 0)
			return -1;
		if (r == 1)
			break;
	}
	if (proxy_check(&hs->h, why, wn) < 0)
		return -1;
	return 1;
}

/* TLS starts on the socket: what the proxy sent after its head is the
 * relay's first TLS bytes. */
int xport_proxy_rest(struct atun *t)
{
	struct xhs *hs = t->hs;
	int r = 0;

	if (hs && hs->rest_len &&
	    BIO_write(t->link.tls.net, hs->rest, (int)hs->rest_len) != (int)hs->rest_len)
		r = -1;
	xport_free(t);
	return r;
}

/* ---- the WebSocket upgrade, inside TLS ---- */

int xport_ws_start(struct atun *t, char *why, size_t wn)
{
	struct agent *a = t->a;
	struct xhs *hs = hs_new(t);
	long k;

	if (!hs || fy_ws_new_key(hs->key) < 0) {
		snprintf(why, wn, "out of memory or randomness");
		return -1;
	}
	hs->req_len = wsc_request(a->cfg.server_name[0] ? a->cfg.server_name : a->relay_host,
				  a->cfg.wss_port, a->cfg.wss_path, hs->key, hs->req,
				  sizeof(hs->req));
	if (!hs->req_len) {
		snprintf(why, wn, "WebSocket: the upgrade request does not fit");
		return -1;
	}
	/* The BIO pair takes a request this small whole. */
	k = fy_tlsconn_write(&t->link.tls, hs->req, hs->req_len);
	if (k != (long)hs->req_len || fy_tlsconn_push(&t->link.tls) < 0) {
		snprintf(why, wn, "WebSocket upgrade: %s", t->link.tls.why[0] ? t->link.tls.why :
			 "TLS did not take the request");
		return -1;
	}
	fy_link_want_write(&t->link, fy_tlsconn_pending_out(&t->link.tls));
	return 0;
}

int xport_ws_step(struct atun *t, char *why, size_t wn)
{
	struct xhs *hs = t->hs;
	uint8_t buf[2048];
	struct fy_ws *ws;
	int r = 0;

	if (fy_tlsconn_push(&t->link.tls) < 0 || fy_tlsconn_pull(&t->link.tls) < 0) {
		snprintf(why, wn, "WebSocket upgrade: %s", t->link.tls.why);
		return -1;
	}
	fy_link_want_write(&t->link, fy_tlsconn_pending_out(&t->link.tls));
	while (r == 0) {
		long k = fy_tlsconn_read(&t->link.tls, buf, sizeof(buf));

		if (k == -EAGAIN) {
			if (fy_tlsconn_pull(&t->link.tls) > 0)
				continue;
			return 0;
		}
		if (k <= 0) {
			snprintf(why, wn, "relay %s during the WebSocket upgrade",
				 k == 0 ? "closed the connection" : t->link.tls.why);
			return -1;
		}
		r = feed(hs, buf, (size_t)k, "WebSocket upgrade", why, wn);
	}
	if (r < 0)
		return -1;
	if (wsc_check(&hs->h, hs->key, why, wn) < 0)
		return -1;
	ws = fy_ws_create(false, FY_WS_MAX_MSG);
	if (!ws) {
		snprintf(why, wn, "out of memory");
		return -1;
	}
	if (fy_link_set_ws(&t->link, ws, hs->rest, hs->rest_len) < 0) {
		snprintf(why, wn, "%s", t->link.tls.why);
		return -1;
	}
	xport_free(t);
	return 1;
}
