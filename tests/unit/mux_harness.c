/* See mux_harness.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "mux_harness.h"

/* Two hours in: a test may look back a minute without wrapping. */
uint64_t mh_now = 7200000;

void mh_side_init(struct mh_side *sd, const char *name, const struct fy_mux_cfg *cfg,
		  const struct fy_mux_cbs *cbs, void *ctx)
{
	struct fy_mux_cfg c = *cfg;

	c.now_ms = mh_now;
	sd->name = name;
	CU_ASSERT_EQUAL_FATAL(fy_sess_init(&sd->tbl, 64), 0);
	sd->m = fy_mux_create(&c, cbs, ctx, &sd->tbl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sd->m);
}

void mh_side_fini(struct mh_side *sd)
{
	fy_mux_destroy(sd->m, "test over");
	sd->m = NULL;
	CU_ASSERT_EQUAL(fy_sess_count(&sd->tbl), 0);
	fy_sess_fini(&sd->tbl);
	free(sd->in);
	sd->in = NULL;
	sd->in_len = sd->in_cap = 0;
}

void mh_in_append(struct mh_side *sd, const void *p, size_t n)
{
	if (sd->in_len + n > sd->in_cap) {
		size_t cap = sd->in_cap ? sd->in_cap : 4096;

		while (cap < sd->in_len + n)
			cap *= 2;
		sd->in = realloc(sd->in, cap);
		CU_ASSERT_PTR_NOT_NULL_FATAL(sd->in);
		sd->in_cap = cap;
	}
	memcpy(sd->in + sd->in_len, p, n);
	sd->in_len += n;
}

long mh_feed(struct mh_side *sd)
{
	long r;

	if (sd->err)
		return sd->err;
	if (!sd->in_len)
		return 0;
	r = fy_mux_input(sd->m, sd->in, sd->in_len, mh_now);
	if (r < 0) {
		sd->err = r;
		sd->in_len = 0;
		return r;
	}
	CU_ASSERT((size_t)r <= sd->in_len);
	memmove(sd->in, sd->in + r, sd->in_len - (size_t)r);
	sd->in_len -= (size_t)r;
	return r;
}

long mh_xfer(struct mh_side *from, struct mh_side *to, struct mh_cut *cut)
{
	struct fy_buf *out = fy_mux_out(from->m);
	size_t moved = 0;

	while (fy_buf_len(out)) {
		size_t n = fy_buf_len(out);
		size_t k = cut ? cut->k : 0;

		if (k && cut->random)
			k = 1 + (size_t)(mh_rnd(&cut->rng) % k);
		if (k && n > k)
			n = k;
		if (!to->err)
			mh_in_append(to, fy_buf_peek(out), n);
		fy_mux_out_drained(from->m, n);
		moved += n;
		if (mh_feed(to) < 0)
			return to->err;
	}
	return (long)moved;
}

long mh_shuttle(struct mh_side *r, struct mh_side *a, struct mh_cut *cut)
{
	for (int i = 0; i < 100000; i++) {
		long x = mh_xfer(r, a, cut);
		long y;

		if (x < 0)
			return x;
		y = mh_xfer(a, r, cut);
		if (y < 0)
			return y;
		if (!x && !y)
			return 0;
	}
	CU_FAIL("shuttle did not settle");
	return -ELOOP;
}

void mh_rec_data(struct mh_side *sd, struct mh_rec *r, struct fy_stream *s,
		 const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != mh_pat(r->seed, r->rx + i))
			r->bad++;
	r->rx += n;
	if (r->auto_consume)
		fy_mux_consumed(sd->m, s, n, true);
	else
		r->unconsumed += n;
}

void mh_rec_fin(struct mh_rec *r)
{
	r->fins++;
	r->rx_at_fin = r->rx;
}

void mh_rec_reset(struct mh_rec *r, uint32_t code, const char *msg)
{
	r->resets++;
	r->reset_code = code;
	snprintf(r->reset_msg, sizeof(r->reset_msg), "%s", msg ? msg : "(null)");
	r->s = NULL;
}

size_t mh_send_pat(struct mh_side *sd, struct mh_rec *r, uint64_t seed, size_t *off,
		   size_t total, bool fin)
{
	static uint8_t chunk[FY_DATA_CHUNK];
	size_t sent = 0;

	while (*off < total) {
		size_t room = fy_mux_send_room(sd->m, r->s);
		size_t n = total - *off, k;

		if (!room)
			break;
		if (n > room)
			n = room;
		for (size_t i = 0; i < n; i++)
			chunk[i] = mh_pat(seed, *off + i);
		k = fy_mux_send(sd->m, r->s, chunk, n, fin && *off + n == total);
		CU_ASSERT_EQUAL_FATAL(k, n);
		*off += k;
		sent += k;
	}
	if (fin && *off == total && !(r->s->flags & FY_S_LOCAL_FIN))
		CU_ASSERT_EQUAL(fy_mux_send_fin(sd->m, r->s), 0);
	return sent;
}
