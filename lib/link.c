/* A tunnel link (see link.h). */
#include "ferry/link.h"

int fy_link_init(struct fy_link *l, SSL_CTX *ctx, const struct fy_conn_ops *ops, void *io,
		 bool server)
{
	l->mux = NULL;
	l->want_write = false;
	fy_buf_init(&l->in, FY_LINK_IN_CAP);
	return fy_tlsconn_init(&l->tls, ctx, ops, io, server);
}

void fy_link_fini(struct fy_link *l)
{
	fy_buf_fini(&l->in);
	fy_tlsconn_fini(&l->tls);
}

void fy_link_want_write(struct fy_link *l, bool wr)
{
	if (l->want_write == wr)
		return;
	l->want_write = wr;
	l->tls.ops->want(l->tls.io, true, wr);
}

int fy_link_handshake(struct fy_link *l)
{
	int k;

	if (fy_tlsconn_pull(&l->tls) < 0)
		return -1;
	k = fy_tlsconn_handshake(&l->tls);
	if (k == 0)
		fy_link_want_write(l, fy_tlsconn_pending_out(&l->tls));
	return k;
}

int fy_link_fill(struct fy_link *l)
{
	return fy_tlsconn_fill(&l->tls, &l->in);
}

bool fy_link_has_input(const struct fy_link *l)
{
	return fy_tlsconn_has_input(&l->tls);
}

int fy_link_input(struct fy_link *l, uint64_t now_ms)
{
	long k = fy_mux_input(l->mux, fy_buf_peek(&l->in), fy_buf_len(&l->in), now_ms);

	if (k < 0)
		return FY_LINK_PROTO;
	fy_buf_consume(&l->in, (size_t)k);
	return 0;
}

int fy_link_read(struct fy_link *l, uint64_t now_ms, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		int r = fy_link_fill(l);

		/* What arrived before a close or an error is parsed first. */
		if (fy_link_input(l, now_ms) < 0)
			return FY_LINK_PROTO;
		if (r < 0)
			return FY_LINK_ERR;
		if (r == 0)
			return FY_LINK_EOF;
		if (!fy_link_has_input(l))
			return FY_LINK_IDLE;
	}
	return FY_LINK_MORE;
}

int fy_link_flush(struct fy_link *l)
{
	int r = fy_tlsconn_flush_mux(&l->tls, l->mux);

	if (r >= 0)
		fy_link_want_write(l, r == 1);
	return r;
}
