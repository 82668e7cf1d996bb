/* TLS over any byte connection (fy_conn_ops) through a BIO pair: OpenSSL
 * never touches a socket. We move ciphertext between the connection and
 * the pair in large reads and writes (one syscall for many TLS records on
 * a kernel socket, where OpenSSL's socket BIO makes one or two per
 * record), and the same code runs over a userspace TCP stack. Where a
 * send is cheap (relay/net's ring on DPDK) the write side can skip the
 * pair (fy_tlsconn_direct_write): one copy fewer per byte sent; where a
 * recv is cheap, so can the read side (fy_tlsconn_direct_read).
 *
 * Ownership: init creates the SSL and the pair; fini frees both. The
 * connection is borrowed. Errors leave a reason in c->why. */
#ifndef FERRY_TLSCONN_H
#define FERRY_TLSCONN_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "ferry/buf.h"
#include "ferry/mux.h"
#include "ferry/pump.h"

struct fy_tlsconn {
	SSL *ssl;
	BIO *net;		/* our end of the pair: ciphertext */
	const struct fy_conn_ops *ops;
	void *io;
	bool eof;		/* the connection said EOF */
	bool direct_wr;		/* records go straight to ops->send (direct_write) */
	bool wblocked;		/* direct_wr: a record waits in OpenSSL for writability */
	int send_err;		/* direct_wr: the connection's send failed (errno) */
	bool direct_rd;		/* OpenSSL reads straight from ops->recv (direct_read) */
	int recv_err;		/* direct_rd: the connection's recv failed (errno) */
	char why[256];
};

int fy_tlsconn_init(struct fy_tlsconn *c, SSL_CTX *ctx, const struct fy_conn_ops *ops,
		    void *io, bool server);
void fy_tlsconn_fini(struct fy_tlsconn *c);
/* From here on, TLS records go straight to ops->send instead of through the
 * pair: one copy fewer per byte written, one send call per record. For a
 * connection whose send is a copy into a userspace TCP ring (DPDK), not a
 * syscall. A record the connection could not take stays in OpenSSL: the
 * next fy_tlsconn_write must pass the same bytes again (the mux's output
 * does), and pending_out says so meanwhile. 0, or -1 (why). */
int fy_tlsconn_direct_write(struct fy_tlsconn *c);
/* From here on, OpenSSL reads records straight from ops->recv instead of
 * from the pair: one copy fewer per byte read. ops->readable is required
 * (has_input asks it); pull has nothing left to do. For a connection whose
 * recv is a copy out of a userspace TCP ring (DPDK). 0, or -1 (why). */
int fy_tlsconn_direct_read(struct fy_tlsconn *c);

/* Socket -> pair. Bytes moved (0: nothing now, and always with
 * direct_read), -1 on socket error. */
long fy_tlsconn_pull(struct fy_tlsconn *c);
/* Pair -> socket. 0 all written, 1 some left (wait for writability),
 * -1 on socket error. */
int fy_tlsconn_push(struct fy_tlsconn *c);

/* 1 done, 0 in progress, -1 failed (why). Pushes what it produced. */
int fy_tlsconn_handshake(struct fy_tlsconn *c);
/* Plaintext out of TLS: >0 bytes, 0 the peer closed, -EAGAIN need more
 * ciphertext, -EIO error (why). */
long fy_tlsconn_read(struct fy_tlsconn *c, void *buf, size_t n);
/* Plaintext into TLS: >0 bytes taken, -EAGAIN the pair is full (push and
 * wait for writability), -EIO error (why). */
long fy_tlsconn_write(struct fy_tlsconn *c, const void *buf, size_t n);
/* Pulls from the socket and decrypts into b until either runs dry:
 * 1 go on (parse b), 0 the peer closed (parse b, then close), -1 error. */
int fy_tlsconn_fill(struct fy_tlsconn *c, struct fy_buf *b);
/* Encrypts the mux's output and writes it to the socket: 0 all sent,
 * 1 wait for writability, -1 error (why). */
int fy_tlsconn_flush_mux(struct fy_tlsconn *c, struct fy_mux *m);
/* Input already received but not yet decrypted or read: the socket will
 * not signal it again, so the owner must call fill again. */
bool fy_tlsconn_has_input(const struct fy_tlsconn *c);
/* Ciphertext waiting for the socket. */
bool fy_tlsconn_pending_out(const struct fy_tlsconn *c);

#endif
