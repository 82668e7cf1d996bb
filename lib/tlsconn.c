/* TLS over a byte connection through a BIO pair. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>

#include "ferry/tls.h"
#include "ferry/tlsconn.h"

/* Room for several 16 KiB records each way. */
#define PAIR_BUF (256 * 1024)

int fy_tlsconn_init(struct fy_tlsconn *c, SSL_CTX *ctx, const struct fy_conn_ops *ops,
		    void *io, bool server)
{
	BIO *inner = NULL;

	memset(c, 0, sizeof(*c));
	c->ops = ops;
	c->io = io;
	c->ssl = SSL_new(ctx);
	if (!c->ssl || !BIO_new_bio_pair(&inner, PAIR_BUF, &c->net, PAIR_BUF)) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		snprintf(c->why, sizeof(c->why), "out of memory for TLS");
		return -1;
	}
	SSL_set_bio(c->ssl, inner, inner);	/* the SSL owns the inner end */
	if (server)
		SSL_set_accept_state(c->ssl);
	else
		SSL_set_connect_state(c->ssl);
	return 0;
}

/* ---- direct BIOs: OpenSSL writes to the connection's send and reads
 * from its recv, no pair in between ---- */

static int direct_write(BIO *b, const char *p, size_t n, size_t *done)
{
	struct fy_tlsconn *c = BIO_get_data(b);
	long k = c->ops->send(c->io, p, n);

	BIO_clear_retry_flags(b);
	if (k > 0) {
		*done = (size_t)k;
		c->wblocked = false;
		return 1;
	}
	if (k == 0 || k == -EAGAIN) {
		c->wblocked = true;
		BIO_set_retry_write(b);
		return 0;
	}
	c->send_err = (int)-k;
	return 0;
}

static long direct_write_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	/* Nothing is buffered here: a flush has nothing to do. */
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int direct_read(BIO *b, char *p, size_t n, size_t *done)
{
	struct fy_tlsconn *c = BIO_get_data(b);
	long k = c->ops->recv(c->io, p, n);

	BIO_clear_retry_flags(b);
	if (k > 0) {
		*done = (size_t)k;
		return 1;
	}
	if (k == -EAGAIN) {
		BIO_set_retry_read(b);
		return 0;
	}
	/* End of stream (as the pair after BIO_shutdown_wr: no retry), or
	 * the connection's error, which set_why reports. */
	if (k == 0)
		c->eof = true;
	else
		c->recv_err = (int)-k;
	return 0;
}

static long direct_read_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct fy_tlsconn *c = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_PENDING:
		return (long)c->ops->readable(c->io);
	case BIO_CTRL_EOF:
		return c->eof;
	case BIO_CTRL_FLUSH:
		return 1;
	default:
		return 0;
	}
}

/* Made once, kept for the process: workers set up links concurrently. */
static BIO_METHOD *direct_wr_method, *direct_rd_method;
static pthread_once_t direct_once = PTHREAD_ONCE_INIT;

static BIO_METHOD *method_make(const char *name, int (*wr)(BIO *, const char *, size_t, size_t *),
			       int (*rd)(BIO *, char *, size_t, size_t *),
			       long (*ctrl)(BIO *, int, long, void *))
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, name);

	if (m && ((wr && !BIO_meth_set_write_ex(m, wr)) || (rd && !BIO_meth_set_read_ex(m, rd)) ||
		  !BIO_meth_set_ctrl(m, ctrl))) {
		BIO_meth_free(m);
		m = NULL;
	}
	return m;
}

static void direct_methods_make(void)
{
	direct_wr_method = method_make("ferry direct write", direct_write, NULL, direct_write_ctrl);
	direct_rd_method = method_make("ferry direct read", NULL, direct_read, direct_read_ctrl);
}

/* A direct BIO (the read one, or the write one) bound to c, or NULL with
 * c->why set. */
static BIO *direct_bio(struct fy_tlsconn *c, bool read)
{
	BIO_METHOD *m;
	BIO *b;

	pthread_once(&direct_once, direct_methods_make);
	m = read ? direct_rd_method : direct_wr_method;
	if (!m || !(b = BIO_new(m))) {
		snprintf(c->why, sizeof(c->why), "out of memory for TLS");
		return NULL;
	}
	BIO_set_data(b, c);
	BIO_set_init(b, 1);
	return b;
}

int fy_tlsconn_direct_write(struct fy_tlsconn *c)
{
	BIO *b = direct_bio(c, false);

	if (!b)
		return -1;
	/* Takes b; the pair's inner end stays the read BIO. */
	SSL_set0_wbio(c->ssl, b);
	c->direct_wr = true;
	return 0;
}

int fy_tlsconn_direct_read(struct fy_tlsconn *c)
{
	BIO *b;

	if (!c->ops->readable) {
		snprintf(c->why, sizeof(c->why), "direct TLS reads need the connection's readable");
		return -1;
	}
	if (!(b = direct_bio(c, true)))
		return -1;
	/* Takes b. The pair's inner end stays the write BIO unless
	 * direct_write replaced it; the SSL frees it either way. */
	SSL_set0_rbio(c->ssl, b);
	c->direct_rd = true;
	return 0;
}

void fy_tlsconn_fini(struct fy_tlsconn *c)
{
	SSL_free(c->ssl);
	BIO_free(c->net);
	c->ssl = NULL;
	c->net = NULL;
}

long fy_tlsconn_pull(struct fy_tlsconn *c)
{
	long got = 0;

	if (c->direct_rd)
		return 0;	/* OpenSSL reads the connection itself */
	while (!c->eof) {
		char *p;
		int room = BIO_nwrite0(c->net, &p);
		long n;

		if (room <= 0)
			return got;	/* pair full: TLS must consume first */
		n = c->ops->recv(c->io, p, (size_t)room);
		if (n > 0) {
			BIO_nwrite(c->net, &p, (int)n);
			got += n;
			if (n < room)
				return got;
			continue;
		}
		if (n == 0) {
			c->eof = true;
			/* SSL_read now reports EOF once buffered records are read. */
			BIO_shutdown_wr(c->net);
			return got;
		}
		if (n == -EAGAIN)
			return got;
		snprintf(c->why, sizeof(c->why), "%s", strerror((int)-n));
		return -1;
	}
	return got;
}

int fy_tlsconn_push(struct fy_tlsconn *c)
{
	/* Direct: a blocked record can only be retried by the next
	 * SSL call; until then the connection must become writable. */
	if (c->direct_wr)
		return c->wblocked ? 1 : 0;
	for (;;) {
		char *p;
		int n = BIO_nread0(c->net, &p);
		long k;

		if (n <= 0)
			return 0;
		k = c->ops->send(c->io, p, (size_t)n);
		if (k > 0) {
			BIO_nread(c->net, &p, (int)k);
			continue;
		}
		if (k == -EAGAIN || k == 0)
			return 1;
		snprintf(c->why, sizeof(c->why), "%s", strerror((int)-k));
		return -1;
	}
}

bool fy_tlsconn_has_input(const struct fy_tlsconn *c)
{
	if (SSL_pending(c->ssl) > 0)
		return true;
	return c->direct_rd ? c->ops->readable(c->io) > 0 : BIO_pending(SSL_get_rbio(c->ssl)) > 0;
}

bool fy_tlsconn_pending_out(const struct fy_tlsconn *c)
{
	return c->direct_wr ? c->wblocked : BIO_ctrl_pending(c->net) > 0;
}

static void set_why(struct fy_tlsconn *c, const char *what)
{
	char eb[200];

	if (c->send_err)
		snprintf(c->why, sizeof(c->why), "%s: %s", what, strerror(c->send_err));
	else if (c->recv_err)
		snprintf(c->why, sizeof(c->why), "%s: %s", what, strerror(c->recv_err));
	else if (ERR_peek_error())
		snprintf(c->why, sizeof(c->why), "%s: %s", what, fy_tls_errstr(eb, sizeof(eb)));
	else if (c->eof)
		snprintf(c->why, sizeof(c->why), "%s: connection closed by peer", what);
	else
		snprintf(c->why, sizeof(c->why), "%s failed", what);
}

/* SSL_get_error reads the thread's error queue: an error some other
 * connection on this thread left there (an ingress client's failed
 * shutdown, say) would make a healthy connection's WANT_READ look like a
 * fatal SSL_ERROR_SSL and end it. So every call starts with an empty
 * queue, as OpenSSL asks. ERR_clear_error itself frees all 16 slots of
 * the queue every time (7 % of a DPDK lcore reading 16 KiB records, by
 * perf); peeking first costs one lookup when the queue is empty, which
 * it nearly always is. */
static void clear_errors(void)
{
	if (ERR_peek_error())
		ERR_clear_error();
}

int fy_tlsconn_handshake(struct fy_tlsconn *c)
{
	int k, e;

	clear_errors();
	k = SSL_do_handshake(c->ssl);
	e = k == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, k);

	if (fy_tlsconn_push(c) < 0)
		return -1;
	if (k == 1)
		return 1;
	if ((e == SSL_ERROR_WANT_READ && !c->eof) || e == SSL_ERROR_WANT_WRITE)
		return 0;
	set_why(c, "TLS handshake");
	return -1;
}

long fy_tlsconn_read(struct fy_tlsconn *c, void *buf, size_t n)
{
	int k;

	clear_errors();
	k = SSL_read(c->ssl, buf, n > 0x40000000 ? 0x40000000 : (int)n);

	if (k > 0)
		return k;
	switch (SSL_get_error(c->ssl, k)) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_WANT_READ:
		if (!c->eof)
			return -EAGAIN;
		snprintf(c->why, sizeof(c->why), "connection closed by peer");
		return 0;
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	default:
		set_why(c, "TLS read");
		return -EIO;
	}
}

long fy_tlsconn_write(struct fy_tlsconn *c, const void *buf, size_t n)
{
	int k;

	clear_errors();
	k = SSL_write(c->ssl, buf, n > 0x40000000 ? 0x40000000 : (int)n);

	if (k > 0)
		return k;
	switch (SSL_get_error(c->ssl, k)) {
	case SSL_ERROR_WANT_WRITE:
	case SSL_ERROR_WANT_READ:
		return -EAGAIN;
	default:
		set_why(c, "TLS write");
		return -EIO;
	}
}

int fy_tlsconn_fill(struct fy_tlsconn *c, struct fy_buf *b)
{
	for (int round = 0; round < 8; round++) {
		long pulled = fy_tlsconn_pull(c);

		if (pulled < 0)
			return -1;
		for (;;) {
			uint8_t *dst = fy_buf_reserve(b, 16384);
			long k;

			if (!dst)
				return 1;	/* parse what we have first */
			k = fy_tlsconn_read(c, dst, 16384);
			if (k > 0) {
				fy_buf_commit(b, (size_t)k);
				continue;
			}
			if (k == 0)
				return 0;
			if (k != -EAGAIN)
				return -1;
			break;
		}
		if (pulled == 0)
			return 1;
	}
	return 1;
}

int fy_tlsconn_flush_mux(struct fy_tlsconn *c, struct fy_mux *m)
{
	struct fy_buf *out = fy_mux_out(m);
	int r;

	while (fy_buf_len(out)) {
		long k = fy_tlsconn_write(c, fy_buf_peek(out), fy_buf_len(out));

		if (k > 0) {
			/* May wake blocked streams, which queue more. */
			fy_mux_out_drained(m, (size_t)k);
			continue;
		}
		if (k != -EAGAIN)
			return -1;
		r = fy_tlsconn_push(c);
		if (r != 0)
			return r;	/* socket full (1) or error (-1) */
	}
	/* Direct: once the output is all written no record waits (a
	 * blocked one is only ever part of output not yet drained). */
	return c->direct_wr ? 0 : fy_tlsconn_push(c);
}
