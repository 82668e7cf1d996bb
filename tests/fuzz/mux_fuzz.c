/* Fuzz target: arbitrary bytes from a peer into a tunnel's mux, as the relay
 * and as the agent, before and after authentication. Whatever arrives, the
 * mux must either consume it or report an error; never crash, leak or
 * read out of bounds.
 *
 * Built two ways: with clang -fsanitize=fuzzer (scripts/fuzz.sh) it is a
 * libFuzzer target; otherwise main() below replays seeds plus a fixed
 * number of deterministic mutations, so the unit suite runs it too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/frame.h"
#include "ferry/mux.h"

static uint32_t on_open(void *ctx, struct fy_stream *s, const struct fy_open *o, const char **msg)
{
	(void)ctx;
	(void)s;
	(void)msg;
	return o->port & 1 ? FY_E_REFUSED : FY_E_OK;
}

/* The callbacks' context: the mux exists only after they are registered. */
struct fctx {
	struct fy_mux *m;
};

static void on_data(void *ctx, struct fy_stream *s, const uint8_t *p, size_t n)
{
	struct fy_mux *m = ((struct fctx *)ctx)->m;

	(void)p;
	fy_mux_consumed(m, s, n, (n & 2) != 0);
	if (n & 1)
		fy_mux_send(m, s, p, n > 100 ? 100 : n, false);
}

static void on_fin(void *ctx, struct fy_stream *s)
{
	struct fy_mux *m = ((struct fctx *)ctx)->m;

	if (s->flags & FY_S_LOCAL_FIN)
		fy_mux_stream_close(m, s);
	else
		fy_mux_send_fin(m, s);
}

static void on_reset(void *ctx, struct fy_stream *s, uint32_t code, const char *msg)
{
	(void)ctx;
	(void)s;
	(void)code;
	(void)msg;
}

static int on_control(void *ctx, const struct fy_frame_hdr *h, const uint8_t *p, const char **why)
{
	struct fy_reason r;
	struct fy_hello hello;

	(void)ctx;
	switch (h->type) {
	case FY_T_HELLO:
		return fy_frame_get_hello(p, h->len, &hello, why);
	case FY_T_GOAWAY:
	case FY_T_ERROR:
		return fy_frame_get_reason(p, h->len, &r, why) < 0 ? -1 : 0;
	default:
		*why = "unexpected";
		return -1;
	}
}

static const struct fy_mux_cbs cbs = {
	.on_open = on_open, .on_data = on_data, .on_fin = on_fin,
	.on_reset = on_reset, .on_control = on_control,
};

static void run_one(const uint8_t *data, size_t size, enum fy_mux_role role, int established)
{
	struct fy_sess_table tbl;
	struct fy_mux_cfg cfg = {
		.role = role, .window = 65536, .max_window = 1 << 20, .keepalive_ms = 1000,
		.out_cap = 1 << 18, .serial = 1, .now_ms = 1000,
	};
	struct fy_budget budget;
	uint64_t now = 1000;
	struct fctx fc;
	struct fy_mux *m;
	size_t off = 0;

	if (fy_sess_init(&tbl, 16) < 0)
		abort();
	/* Room for a few streams to grow, so growth and refusal both run. */
	fy_budget_init(&budget, 4u << 20, NULL);
	cfg.budget = &budget;
	m = fc.m = fy_mux_create(&cfg, &cbs, &fc, &tbl);
	if (!m)
		abort();
	if (established)
		fy_mux_set_established(m, 0, 0);
	/* Feed in uneven pieces, as TLS records would arrive. */
	while (off < size) {
		size_t piece = 1 + (data[off] % 97);
		long k;

		if (piece > size - off)
			piece = size - off;
		/* Time comes from the input too: rate windows open and close. */
		now += data[off] % 64;
		k = fy_mux_input(m, data, off + piece, now);
		if (k < 0)
			break;
		data += k;
		size -= (size_t)k;
		off = off + piece - (size_t)k;
		fy_mux_out_drained(m, fy_buf_len(fy_mux_out(m)));
	}
	fy_mux_destroy(m, "fuzz done");
	fy_sess_fini(&tbl);
	/* Every stream gave back what its window grew by. */
	if (fy_budget_used(&budget) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_one(data, size, FY_MUX_RELAY, 1);
	run_one(data, size, FY_MUX_AGENT, 1);
	run_one(data, size, FY_MUX_AGENT, 0);
	return 0;
}

#ifndef FY_LIBFUZZER
/* Seeds: well-formed conversations the mutations start from. */
static size_t seed(uint8_t *b, unsigned which)
{
	struct fy_open o = { .port = 80 };
	struct fy_reason r = { .code = FY_E_SHUTDOWN };
	size_t n = 0;

	strcpy(r.msg, "bye");
	n += fy_frame_open(b + n, 2, &o);
	fy_frame_put_hdr(b + n, FY_T_DATA, which & 1 ? FY_F_FIN : 0, 2, 5);
	memcpy(b + n + FY_FRAME_HDR_LEN, "hello", 5);
	n += FY_FRAME_HDR_LEN + 5;
	n += fy_frame_window(b + n, 2, 1000);
	n += fy_frame_ping(b + n, which & 2 ? FY_F_ACK : 0, 42);
	if (which & 4)
		n += fy_frame_reason(b + n, FY_T_RESET, 2, &r);
	n += fy_frame_reason(b + n, FY_T_GOAWAY, 0, &r);
	return n;
}

int main(int argc, char **argv)
{
	unsigned long iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
	uint8_t base[1024], buf[1024];
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (unsigned long i = 0; i < iters; i++) {
		size_t n = seed(base, (unsigned)i);
		unsigned flips;

		memcpy(buf, base, n);
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		flips = 1 + (unsigned)(x % 4);
		for (unsigned f = 0; f < flips; f++) {
			uint64_t y = x * (f + 1) * 0x2545f4914f6cdd1dull;

			buf[(y >> 8) % n] = (uint8_t)(y >> 40);
		}
		if (i % 7 == 0)
			n = (size_t)(x >> 20) % (n + 1);	/* truncation */
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("mux_fuzz: %lu inputs, no crash\n", iters);
	return 0;
}
#endif
