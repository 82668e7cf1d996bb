/* fy-load tls: a raw agent speaking docs/PROTOCOL.md, for bad-input tests (see fy_load.h). */
#include "fy_load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ferry/frame.h>
#include <ferry/wire.h>

/* The protocol's constants and byte order from lib/ (docs/PROTOCOL.md);
 * everything else here is written independently of lib/'s codec, so that
 * this raw agent can send what the codec never would. */
enum {
	T_HELLO = FY_T_HELLO, T_WELCOME = FY_T_WELCOME, T_REGISTER = FY_T_REGISTER,
	T_RESULT = FY_T_RESULT, T_OPEN = FY_T_OPEN, T_DATA = FY_T_DATA, T_WINDOW = FY_T_WINDOW,
	T_RESET = FY_T_RESET, T_PING = FY_T_PING, T_GOAWAY = FY_T_GOAWAY, T_ERROR = FY_T_ERROR,
};
#define HDR FY_FRAME_HDR_LEN
#define MAX_PAYLOAD FY_FRAME_MAX_PAYLOAD
#define DATA_MAX (16384 - FY_FRAME_HDR_LEN)	/* one frame per 16 KiB TLS record */

struct tconn {
	SSL *ssl;
	int fd;
	uint8_t rbuf[HDR + MAX_PAYLOAD + 1024];
	size_t rlen;
	bool closed;
	const char *end; /* close_notify | eof | reset | error */
	int err_code;    /* last ERROR frame's code, -1 if none */
	char err_msg[300];
	uint32_t last_open;
	uint32_t window;
	uint32_t req;
	int64_t credit; /* what we may still send on last_open */
};

static const char *tname(int t)
{
	switch (t) {
	case T_HELLO: return "HELLO";
	case T_WELCOME: return "WELCOME";
	case T_REGISTER: return "REGISTER";
	case T_RESULT: return "RESULT";
	case T_OPEN: return "OPEN";
	case T_DATA: return "DATA";
	case T_WINDOW: return "WINDOW";
	case T_RESET: return "RESET";
	case T_PING: return "PING";
	case T_GOAWAY: return "GOAWAY";
	case T_ERROR: return "ERROR";
	default: return "?";
	}
}


static void ssl_errstr(char *out, size_t ol)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, out, ol);
	else
		snprintf(out, ol, "%s", errno ? strerror(errno) : "no error detail");
}

/*
 * How a TLS connection ended, from SSL_read's or SSL_connect's return r: close_notify,
 * eof, reset, tls-error or error. For an SSL error, es gets OpenSSL's reason (else "").
 */
static const char *ssl_end(SSL *ssl, int r, char *es, size_t el)
{
	int e = SSL_get_error(ssl, r);
	es[0] = 0;
	if (e == SSL_ERROR_ZERO_RETURN)
		return "close_notify";
	if (e == SSL_ERROR_SYSCALL && errno == 0)
		return "eof";
	if (e == SSL_ERROR_SYSCALL && is_reset(errno))
		return "reset";
	if (e == SSL_ERROR_SSL) {
		ssl_errstr(es, el);
		/* OpenSSL reports an EOF without close_notify as an SSL error. */
		return strstr(es, "unexpected eof") ? "eof" : "tls-error";
	}
	return "error";
}

/* Returns 0, or -1 when the connection is gone (tc->end set). */
static int t_write(struct tconn *tc, const void *b, size_t n)
{
	const uint8_t *p = b;
	while (n) {
		int w = SSL_write(tc->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
		if (w <= 0) {
			int e = SSL_get_error(tc->ssl, w);
			fprintf(stderr, "write failed: ssl error %d, errno %s\n", e, strerror(errno));
			tc->closed = true;
			tc->end = is_reset(errno) ? "reset" : "write-error";
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int t_frame(struct tconn *tc, int type, int flags, uint32_t sid, uint32_t len,
		   const uint8_t *pl, size_t plen)
{
	uint8_t h[HDR];
	h[0] = (uint8_t)type;
	h[1] = (uint8_t)flags;
	h[2] = h[3] = 0;
	fy_put32(h + 4, sid);
	fy_put32(h + 8, len);
	fprintf(stderr, "send %s(0x%02x) flags=0x%02x stream=%u len=%u payload=%zu\n", tname(type), type,
		flags, sid, len, plen);
	/* One buffer so header and payload go out in one TLS record where possible. */
	uint8_t *all = malloc(HDR + plen);
	if (!all)
		die(EX_USAGE, "out of memory");
	memcpy(all, h, HDR);
	if (plen)
		memcpy(all + HDR, pl, plen);
	int r = t_write(tc, all, HDR + plen);
	free(all);
	return r;
}

/*
 * Reads one frame. Returns its type, or -1 when the connection ended (tc->end set).
 * PINGs are answered here and not returned.
 */
static int t_read(struct tconn *tc, uint8_t *out_hdr, uint8_t **payload, uint32_t *plen)
{
	for (;;) {
		if (tc->rlen >= HDR) {
			uint32_t len = fy_get32(tc->rbuf + 8);
			if (len > MAX_PAYLOAD) {
				fprintf(stderr, "relay sent a frame with length %u\n", len);
				tc->closed = true;
				tc->end = "bad-frame-from-relay";
				return -1;
			}
			if (tc->rlen >= HDR + len) {
				static uint8_t frame[HDR + MAX_PAYLOAD];
				memcpy(frame, tc->rbuf, HDR + len);
				memmove(tc->rbuf, tc->rbuf + HDR + len, tc->rlen - HDR - len);
				tc->rlen -= HDR + len;
				int type = frame[0];
				uint32_t sid = fy_get32(frame + 4);
				fprintf(stderr, "recv %s(0x%02x) flags=0x%02x stream=%u len=%u\n", tname(type), type,
					frame[1], sid, len);
				if (type == T_WINDOW && sid == tc->last_open && len == 4)
					tc->credit += fy_get32(frame + HDR);
				if (type == T_PING && !(frame[1] & 0x02) && len == 8) {
					if (t_frame(tc, T_PING, 0x02, 0, 8, frame + HDR, 8) < 0)
						return -1;
					continue;
				}
				if ((type == T_ERROR || type == T_GOAWAY || type == T_RESET) && len >= 6) {
					uint16_t ml = fy_get16(frame + HDR + 4);
					if (ml > len - 6)
						ml = (uint16_t)(len - 6);
					fprintf(stderr, "     code=%u msg=\"%.*s\"\n", fy_get32(frame + HDR), ml, frame + HDR + 6);
					if (type == T_ERROR) {
						tc->err_code = (int)fy_get32(frame + HDR);
						snprintf(tc->err_msg, sizeof(tc->err_msg), "%.*s", ml, frame + HDR + 6);
					}
				}
				memcpy(out_hdr, frame, HDR);
				*payload = frame + HDR;
				*plen = len;
				return type;
			}
		}
		int r = SSL_read(tc->ssl, tc->rbuf + tc->rlen, (int)(sizeof(tc->rbuf) - tc->rlen));
		if (r <= 0) {
			char es[256];
			tc->closed = true;
			tc->end = ssl_end(tc->ssl, r, es, sizeof(es));
			if (es[0])
				fprintf(stderr, "tls error: %s\n", es);
			if (tc->rlen)
				fprintf(stderr, "%zu bytes of a partial frame left when the connection ended\n", tc->rlen);
			return -1;
		}
		tc->rlen += (size_t)r;
	}
}

/* One DATA frame of k bytes of c on stream sid, whatever the window says. */
static int t_data(struct tconn *tc, uint32_t sid, size_t k, int c)
{
	static uint8_t buf[HDR + DATA_MAX];
	buf[0] = T_DATA;
	buf[1] = buf[2] = buf[3] = 0;
	fy_put32(buf + 4, sid);
	fy_put32(buf + 8, (uint32_t)k);
	memset(buf + HDR, c, k);
	return t_write(tc, buf, HDR + k);
}

/* Reads until a frame of type want arrives; returns 0, or -1 if the connection ended. */
static int t_wait(struct tconn *tc, int want, uint8_t *hdr, uint8_t **pl, uint32_t *plen)
{
	for (;;) {
		int t = t_read(tc, hdr, pl, plen);
		if (t < 0)
			return -1;
		if (t == want)
			return 0;
		if (t == T_ERROR)
			return -1;
	}
}

static int t_op(struct tconn *tc, const struct op *op)
{
	uint8_t hdr[HDR], *pl;
	uint32_t plen;
	if (!strcmp(op->name, "hello")) {
		char tok[256];
		snprintf(tok, sizeof(tok), "%s", op->arg);
		char *name = strchr(tok, ':');
		if (name)
			*name++ = 0;
		size_t tl = strlen(tok), nl = name ? strlen(name) : 0;
		if (tl > 255 || nl > 255)
			die(EX_USAGE, "hello token/name too long");
		uint8_t p[18 + 512];
		uint64_t sess;
		struct prng g;
		prng_init(&g, (uint64_t)getpid() ^ (uint64_t)(now() * 1e6));
		prng_fill(&g, (uint8_t *)&sess, sizeof(sess));
		fy_put16(p, 1);
		fy_put16(p + 2, 1);
		fy_put32(p + 4, 0);
		for (int i = 0; i < 8; i++)
			p[8 + i] = (uint8_t)(sess >> (56 - 8 * i));
		p[16] = (uint8_t)tl;
		memcpy(p + 17, tok, tl);
		p[17 + tl] = (uint8_t)nl;
		if (nl)
			memcpy(p + 18 + tl, name, nl);
		size_t len = 18 + tl + nl;
		if (t_frame(tc, T_HELLO, 0, 0, (uint32_t)len, p, len) < 0)
			return -1;
		g_phase = "waiting for WELCOME";
		if (t_wait(tc, T_WELCOME, hdr, &pl, &plen) < 0)
			return -1;
		if (plen == 16) {
			tc->window = fy_get32(pl + 12);
			fprintf(stderr, "     welcome version=%u workers=%u keepalive_ms=%u window=%u\n", fy_get16(pl),
				fy_get16(pl + 2), fy_get32(pl + 8), tc->window);
		}
		return 0;
	}
	if (!strcmp(op->name, "register")) {
		uint8_t p[6];
		long port = strtol(op->arg, NULL, 10);
		fy_put32(p, ++tc->req);
		fy_put16(p + 4, (uint16_t)port);
		if (t_frame(tc, T_REGISTER, 0, 0, 6, p, 6) < 0)
			return -1;
		g_phase = "waiting for RESULT";
		if (t_wait(tc, T_RESULT, hdr, &pl, &plen) < 0)
			return -1;
		uint32_t code = plen >= 10 ? fy_get32(pl + 4) : 0xffffffffu;
		int ml = plen >= 10 ? fy_get16(pl + 8) : 0;
		if (ml > (int)plen - 10)
			ml = plen >= 10 ? (int)plen - 10 : 0;
		fprintf(stderr, "     result code=%u msg=\"%.*s\"\n", code, ml, pl + 10);
		if (code != 0)
			die(EX_FAIL, "REGISTER %ld refused: code=%u \"%.*s\"", port, code, ml, pl + 10);
		return 0;
	}
	if (!strcmp(op->name, "wait-open")) {
		g_phase = "waiting for OPEN";
		if (t_wait(tc, T_OPEN, hdr, &pl, &plen) < 0)
			return -1;
		tc->last_open = fy_get32(hdr + 4);
		tc->credit = tc->window;
		fprintf(stderr, "     open stream=%u port=%u\n", tc->last_open, plen >= 2 ? fy_get16(pl) : 0);
		return 0;
	}
	if (!strcmp(op->name, "frame")) {
		/* TYPE,FLAGS,STREAM,LEN[,HEX]; STREAM "S" = the last OPEN's id; LEN "-" = payload size */
		char a[4096];
		snprintf(a, sizeof(a), "%s", op->arg);
		char *f[5] = {0};
		int nf = 0;
		for (char *save = NULL, *t = strtok_r(a, ",", &save); t && nf < 5; t = strtok_r(NULL, ",", &save))
			f[nf++] = t;
		if (nf < 4)
			die(EX_USAGE, "--frame TYPE,FLAGS,STREAM,LEN[,HEX]");
		size_t hl = 0;
		uint8_t *hx = nf == 5 ? parse_hex(f[4], &hl) : NULL;
		uint32_t sid = !strcmp(f[2], "S") ? tc->last_open : (uint32_t)strtoul(f[2], NULL, 0);
		uint32_t len = !strcmp(f[3], "-") ? (uint32_t)hl : (uint32_t)strtoul(f[3], NULL, 0);
		int r = t_frame(tc, (int)strtol(f[0], NULL, 0), (int)strtol(f[1], NULL, 0), sid, len, hx, hl);
		free(hx);
		return r;
	}
	if (!strcmp(op->name, "raw")) {
		size_t n;
		uint8_t *b = parse_hex(op->arg, &n);
		fprintf(stderr, "send %zu raw bytes\n", n);
		int r = t_write(tc, b, n);
		free(b);
		return r;
	}
	if (!strcmp(op->name, "data")) {
		/* STREAM,BYTES: DATA frames of up to 16372 bytes, ignoring the window */
		char a[128];
		snprintf(a, sizeof(a), "%s", op->arg);
		char *comma = strchr(a, ',');
		if (!comma)
			die(EX_USAGE, "--data STREAM,BYTES");
		*comma = 0;
		uint32_t sid = !strcmp(a, "S") ? tc->last_open : (uint32_t)strtoul(a, NULL, 0);
		uint64_t n = parse_size(comma + 1, "--data bytes");
		fprintf(stderr, "send %" PRIu64 " bytes of DATA on stream %u\n", n, sid);
		while (n) {
			size_t k = n < DATA_MAX ? (size_t)n : DATA_MAX;
			if (t_data(tc, sid, k, 'x') < 0)
				return -1;
			n -= k;
		}
		return 0;
	}
	if (!strcmp(op->name, "fill")) {
		/* STREAM: send DATA within our credit until the relay grants none for 1 s,
		 * i.e. its side of the stream is full (the public client is not reading). */
		uint32_t sid = !strcmp(op->arg, "S") ? tc->last_open : (uint32_t)strtoul(op->arg, NULL, 0);
		uint64_t total = 0;
		g_phase = "filling the stream's window";
		for (;;) {
			if (tc->credit > 0) {
				size_t k = tc->credit < DATA_MAX ? (size_t)tc->credit : DATA_MAX;
				if (t_data(tc, sid, k, 'f') < 0)
					return -1;
				tc->credit -= (int64_t)k;
				total += k;
				if (total > (1ULL << 30))
					die(EX_FAIL, "relay granted credit for over 1 GiB to a stream whose client reads nothing");
				continue;
			}
			struct pollfd p = {.fd = tc->fd, .events = POLLIN};
			if (!SSL_pending(tc->ssl) && poll(&p, 1, 1000) == 0)
				break;
			if (t_read(tc, hdr, &pl, &plen) < 0)
				return -1;
			if (tc->err_code >= 0)
				return -1;
		}
		fprintf(stderr, "     filled stream %u with %" PRIu64 " bytes; credit now %" PRId64 "\n", sid,
			total, tc->credit);
		return 0;
	}
	if (!strcmp(op->name, "overflow")) {
		/* STREAM: send one byte more than our credit. */
		uint32_t sid = !strcmp(op->arg, "S") ? tc->last_open : (uint32_t)strtoul(op->arg, NULL, 0);
		int64_t n = (tc->credit > 0 ? tc->credit : 0) + 1;
		fprintf(stderr, "send %" PRId64 " bytes of DATA on stream %u, credit %" PRId64 "\n", n, sid, tc->credit);
		while (n > 0) {
			size_t k = n < DATA_MAX ? (size_t)n : DATA_MAX;
			if (t_data(tc, sid, k, 'o') < 0)
				return -1;
			n -= (int64_t)k;
		}
		return 0;
	}
	if (!strcmp(op->name, "close-notify")) {
		fprintf(stderr, "send close_notify and shut down our write side\n");
		SSL_shutdown(tc->ssl);
		shutdown(tc->fd, SHUT_WR);
		return 0;
	}
	die(EX_USAGE, "unknown tls op '%s'", op->name);
}

static SSL_CTX *tls_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		die(EX_USAGE, "SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	if (O.ca) {
		if (SSL_CTX_load_verify_locations(ctx, O.ca, NULL) != 1)
			die(EX_USAGE, "cannot load CA file %s", O.ca);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
}

/* How a connection's start went (tls_start). */
enum { START_UP, START_EARLY, START_OTHER };

/*
 * TCP to --connect (from src when given), then the TLS handshake. Returns START_UP, or
 * where counting (--repeat; else it dies with the reason, exit 1) START_EARLY when the
 * relay refused, closed or reset the connection before the handshake finished and
 * START_OTHER for any other failure, with the reason in why.
 */
static int tls_start(SSL_CTX *ctx, struct tconn *tc, const struct sockaddr_storage *src, bool counting,
		     char *why, size_t wl)
{
	char host[256], port[32];
	split_hostport(O.connect, host, sizeof(host), port, sizeof(port));
	const char *vname = O.name ? O.name : host;
	tc->fd = counting ? connect_from(O.connect, src) : connect_or_die(O.connect, src);
	if (tc->fd < 0) {
		int e = -tc->fd;
		snprintf(why, wl, "connect: %s", strerror(e));
		return e == ECONNREFUSED || is_reset(e) ? START_EARLY : START_OTHER;
	}
	tc->ssl = SSL_new(ctx);
	SSL_set_fd(tc->ssl, tc->fd);
	struct in6_addr a6;
	struct in_addr a4;
	bool is_ip = inet_pton(AF_INET, vname, &a4) == 1 || inet_pton(AF_INET6, vname, &a6) == 1;
	if (!is_ip)
		SSL_set_tlsext_host_name(tc->ssl, vname);
	if (O.ca) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(tc->ssl);
		if (is_ip)
			X509_VERIFY_PARAM_set1_ip_asc(vp, vname);
		else
			SSL_set1_host(tc->ssl, vname);
	}
	g_phase = "in the TLS handshake";
	int r = SSL_connect(tc->ssl);
	if (r == 1)
		return START_UP;
	char es[256];
	if (!counting) {
		ssl_errstr(es, sizeof(es));
		die(EX_FAIL, "TLS handshake with %s: %s (verify: %s)", O.connect, es,
		    X509_verify_cert_error_string(SSL_get_verify_result(tc->ssl)));
	}
	const char *end = ssl_end(tc->ssl, r, es, sizeof(es));
	snprintf(why, wl, "TLS handshake: %s%s%s", end, es[0] ? ": " : "", es);
	return !strcmp(end, "eof") || !strcmp(end, "reset") ? START_EARLY : START_OTHER;
}

/*
 * Runs the ops on a connection that is up, then reads until the relay closes it. The
 * timeout line names the connection's local address, then context.
 */
static void tls_run(struct tconn *tc, const char *local, const char *context)
{
	for (int i = 0; i < O.nops && !tc->closed; i++) {
		if (t_op(tc, &O.ops[i]) < 0 && !tc->closed)
			break;
		if (tc->err_code >= 0)
			break; /* the relay refused: go straight to watching it close */
	}
	g_phase = "waiting for the relay to close the connection";
	timeout_says(EX_TIMEOUT, "FAIL timeout: the relay did not close the connection within %.1f s (error=%d) local=%s%s",
		     O.timeout, tc->err_code, local, context);
	while (!tc->closed) {
		uint8_t hdr[HDR], *pl;
		uint32_t plen;
		t_read(tc, hdr, &pl, &plen);
	}
}

static void tls_finish(struct tconn *tc)
{
	if (tc->ssl)
		SSL_free(tc->ssl);
	if (tc->fd >= 0)
		close(tc->fd);
	tc->ssl = NULL;
	tc->fd = -1;
}

static int tls_once(SSL_CTX *ctx, const struct sockaddr_storage *src)
{
	const char *expect = O.expect_error ? O.expect_error : "any";
	static struct tconn tc;
	char why[300];
	tc.err_code = -1;
	double t0 = now();
	tls_start(ctx, &tc, src, false, why, sizeof(why));
	char local[80];
	local_name(tc.fd, local, sizeof(local));
	fprintf(stderr, "tls up local=%s %s\n", local, SSL_get_version(tc.ssl));
	tls_run(&tc, local, "");
	double s = now() - t0;
	bool match;
	if (!strcmp(expect, "any"))
		match = true;
	else if (!strcmp(expect, "none"))
		match = tc.err_code < 0;
	else
		match = tc.err_code == (int)strtol(expect, NULL, 0);
	say("%sclosed error=%d msg=\"%s\" end=%s secs=%.3f local=%s%s%s\n", match ? "" : "FAIL ", tc.err_code,
	    tc.err_msg, tc.end, s, local, match ? "" : " expected_error=", match ? "" : expect);
	tls_finish(&tc);
	return match ? EX_OK : EX_FAIL;
}

/* --------------------------------------------------------------- --repeat */

/* ERROR codes by name (docs/PROTOCOL.md, enum fy_code), for the error_<NAME> counts. */
static const char *const code_names[] = {
	"OK", "PROTOCOL", "VERSION", "AUTH", "DENIED", "IN_USE", "FLOW", "REFUSED",
	"LIMIT", "TIMEOUT", "SHUTDOWN", "GONE", "INTERNAL", "REPLACED", "AGAIN",
};

#define TALLY_CODES 32

/* How the connections of a --repeat run ended. */
struct tally {
	struct {
		uint32_t code;
		long n;
	} codes[TALLY_CODES]; /* ERROR codes seen, ascending */
	int ncodes;
	long early, other;
};

static void tally_code(struct tally *t, uint32_t code)
{
	int i = 0;
	while (i < t->ncodes && t->codes[i].code < code)
		i++;
	if (i < t->ncodes && t->codes[i].code == code) {
		t->codes[i].n++;
		return;
	}
	if (t->ncodes == TALLY_CODES) {
		t->other++; /* a relay sending 32 different codes: worth a look, not a table */
		return;
	}
	memmove(&t->codes[i + 1], &t->codes[i], (size_t)(t->ncodes - i) * sizeof(t->codes[0]));
	t->codes[i].code = code;
	t->codes[i].n = 1;
	t->ncodes++;
}

/* "error_AUTH=K ... refused_early=J other=M" */
static void tally_line(const struct tally *t, char *out, size_t ol)
{
	size_t off = 0;
	out[0] = 0;
	for (int i = 0; i < t->ncodes && off < ol; i++) {
		uint32_t c = t->codes[i].code;
		if (c < sizeof(code_names) / sizeof(code_names[0]))
			off += (size_t)snprintf(out + off, ol - off, "error_%s=%ld ", code_names[c], t->codes[i].n);
		else
			off += (size_t)snprintf(out + off, ol - off, "error_%u=%ld ", c, t->codes[i].n);
	}
	if (off < ol)
		snprintf(out + off, ol - off, "refused_early=%ld other=%ld", t->early, t->other);
}

static int tls_repeat(SSL_CTX *ctx, const struct sockaddr_storage *src)
{
	static struct tconn tc;
	struct tally t = {0};
	char counts[512], context[600], why[400];
	if (O.expect_error)
		die(EX_USAGE, "--expect-error does not apply with --repeat (read the counts)");
	for (long k = 1; k <= O.repeat; k++) {
		tally_line(&t, counts, sizeof(counts));
		snprintf(context, sizeof(context), " (connection %ld of %ld; before it: %s)", k, O.repeat, counts);
		timeout_says(EX_TIMEOUT, "FAIL timeout in connection %ld of %ld; before it: %s", k, O.repeat, counts);
		memset(&tc, 0, sizeof(tc));
		tc.err_code = -1;
		double t0 = now();
		int st = tls_start(ctx, &tc, src, true, why, sizeof(why));
		char local[80] = "-";
		if (tc.fd >= 0)
			local_name(tc.fd, local, sizeof(local));
		if (st == START_UP) {
			fprintf(stderr, "tls up local=%s %s\n", local, SSL_get_version(tc.ssl));
			tls_run(&tc, local, context);
			if (tc.err_code >= 0)
				tally_code(&t, (uint32_t)tc.err_code);
			else
				t.other++;
			snprintf(why, sizeof(why), "closed error=%d msg=\"%s\" end=%s", tc.err_code, tc.err_msg,
				 tc.end);
		} else if (st == START_EARLY) {
			t.early++;
		} else {
			t.other++;
		}
		fprintf(stderr, "connection %ld of %ld: %s: %s secs=%.3f local=%s\n", k, O.repeat,
			st == START_UP ? "up" : st == START_EARLY ? "refused_early" : "other", why, now() - t0, local);
		tls_finish(&tc);
	}
	tally_line(&t, counts, sizeof(counts));
	say("ok repeat=%ld %s\n", O.repeat, counts);
	return EX_OK;
}

int cmd_tls(void)
{
	if (!O.connect || (!O.ca && !O.insecure))
		die(EX_USAGE, "tls needs --connect and --ca FILE (or --insecure)");
	struct sockaddr_storage src;
	if (O.source)
		parse_source(O.source, &src);
	SSL_CTX *ctx = tls_ctx();
	int rc = O.repeat_set ? tls_repeat(ctx, O.source ? &src : NULL) : tls_once(ctx, O.source ? &src : NULL);
	SSL_CTX_free(ctx);
	return rc;
}
