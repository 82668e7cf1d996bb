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

/* What the replay reached (the v2 paths must be among it). */
static unsigned long n_dial_ok, n_dial_refused, n_dgram, n_dgram_echo;

/* CONNECT (to the relay) and DIAL (to an agent): some accepted, some
 * refused, as an --allow list or the policy would. */
static uint32_t on_dial(void *ctx, struct fy_stream *s, uint8_t type, const struct fy_dial *d,
			const char **msg)
{
	(void)ctx;
	(void)s;
	if (d->port % 3 == 0) {
		n_dial_refused++;
		*msg = "not allowed";
		return FY_E_DENIED;
	}
	if (type == FY_T_CONNECT && d->agent[0] == 'x') {
		n_dial_refused++;
		*msg = "no such agent";
		return FY_E_REFUSED;
	}
	n_dial_ok++;
	return FY_E_OK;
}

/* A datagram: some echoed (the send path, its credit), some kept without
 * returning their credit (the window closes), the rest handed on. */
static void on_dgram(void *ctx, struct fy_stream *s, const uint8_t *p, size_t n)
{
	struct fy_mux *m = ((struct fctx *)ctx)->m;

	n_dgram++;
	if ((n & 1) && fy_mux_send_dgram(m, s, p, n) == 0)
		n_dgram_echo++;
	if (!(n & 4))
		fy_mux_consumed(m, s, n, (n & 2) != 0);
}

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
	struct fy_forward fw;
	struct fy_result res;
	struct fy_register reg;

	(void)ctx;
	switch (h->type) {
	case FY_T_HELLO:
		return fy_frame_get_hello(p, h->len, &hello, why);
	case FY_T_FORWARD:
		return fy_frame_get_forward(p, h->len, &fw, why);
	case FY_T_FORWARDED:
	case FY_T_RESULT:
		return fy_frame_get_result(p, h->len, &res, why);
	case FY_T_REGISTER:
		return fy_frame_get_register(p, h->len, &reg, why);
	case FY_T_GOAWAY:
	case FY_T_ERROR:
		return fy_frame_get_reason(p, h->len, &r, why) < 0 ? -1 : 0;
	default:
		*why = "unexpected";
		return -1;
	}
}

static const struct fy_mux_cbs cbs = {
	.on_open = on_open, .on_dial = on_dial, .on_dgram = on_dgram, .on_data = on_data,
	.on_fin = on_fin, .on_reset = on_reset, .on_control = on_control,
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
/* Seeds: well-formed conversations the mutations start from. Bits 0-2 of
 * which vary FIN, ACK and a RESET; bits 3-4 pick the conversation. */
static size_t put_data(uint8_t *b, uint8_t type, uint8_t flags, uint32_t stream,
		       const void *p, size_t n)
{
	fy_frame_put_hdr(b, type, flags, stream, (uint32_t)n);
	memcpy(b + FY_FRAME_HDR_LEN, p, n);
	return FY_FRAME_HDR_LEN + n;
}

static size_t put_dial(uint8_t *b, uint8_t type, uint32_t stream, uint8_t kind, uint16_t port,
		       const char *agent, const char *host)
{
	struct fy_dial d = { .kind = kind, .port = port };

	snprintf(d.agent, sizeof(d.agent), "%s", agent);
	snprintf(d.host, sizeof(d.host), "%s", host);
	return fy_frame_dial(b, type, stream, &d);
}

static size_t seed(uint8_t *b, unsigned which)
{
	struct fy_open o = { .port = 80 };
	struct fy_reason r = { .code = FY_E_SHUTDOWN };
	struct fy_result res = { .req = 1, .code = FY_E_OK };
	struct fy_forward fw = { .req = 2, .op = FY_FWD_OPEN };
	struct fy_register reg = { .req = 3, .port = 53, .udp = true };
	uint8_t fin = which & 1 ? FY_F_FIN : 0;
	size_t n = 0;

	strcpy(r.msg, "bye");
	switch (which >> 3 & 3) {
	case 0:		/* the relay opens a TCP stream to the agent */
		n += fy_frame_open(b + n, 2, &o);
		n += put_data(b + n, FY_T_DATA, fin, 2, "hello", 5);
		n += fy_frame_window(b + n, 2, 1000);
		break;
	case 1:		/* to an agent: DIALs and a UDP OPEN, datagrams */
		n += put_dial(b + n, FY_T_DIAL, 2, FY_KIND_UDP, 53, "site-a", "10.0.0.53");
		n += put_data(b + n, FY_T_DGRAM, 0, 2, "query", 5);
		n += put_data(b + n, FY_T_DGRAM, 0, 2, "q2\0\1\2\3\4", 7);
		n += put_data(b + n, FY_T_DGRAM, 0, 2, "", 0);
		o.udp = true;
		o.port = 5353;
		n += fy_frame_open(b + n, 4, &o);
		n += put_data(b + n, FY_T_DGRAM, 0, 4, "mdns", 4);
		n += fy_frame_window(b + n, 2, 1000);
		n += put_dial(b + n, FY_T_DIAL, 6, FY_KIND_TCP, 9, "site-a", "db.lan");
		n += put_data(b + n, FY_T_DATA, fin, 6, "late", 4);	/* after the refusal */
		n += put_dial(b + n, FY_T_DIAL, 8, FY_KIND_TCP, 22, "site-a", "fd00::22");
		n += put_data(b + n, FY_T_DATA, fin, 8, "SSH-2.0", 7);
		break;
	case 2:		/* to the relay: CONNECTs, datagrams, control */
		n += put_dial(b + n, FY_T_CONNECT, 1, FY_KIND_TCP, 22, "site-b", "db.lan");
		n += put_data(b + n, FY_T_DATA, fin, 1, "hello", 5);
		n += put_dial(b + n, FY_T_CONNECT, 3, FY_KIND_UDP, 53, "site-b", "fd00::53");
		n += put_data(b + n, FY_T_DGRAM, 0, 3, "dns?", 4);
		n += put_data(b + n, FY_T_DGRAM, 0, 3, "dns?!", 5);
		n += fy_frame_window(b + n, 3, 4096);
		n += put_dial(b + n, FY_T_CONNECT, 5, FY_KIND_TCP, 80, "xagent", "web");
		n += fy_frame_register(b + n, &reg);
		n += fy_frame_forwarded(b + n, &res);
		break;
	default:	/* the relay asks for a forward, then DIAL and DGRAM */
		strcpy(fw.spec, "-R 2222:127.0.0.1:22");
		n += fy_frame_forward(b + n, &fw);
		n += put_dial(b + n, FY_T_DIAL, 2, FY_KIND_UDP, 123, "site-c", "ntp.lan");
		memset(b + n + FY_FRAME_HDR_LEN, 0x42, 301);
		fy_frame_put_hdr(b + n, FY_T_DGRAM, 0, 2, 301);
		n += FY_FRAME_HDR_LEN + 301;
		n += put_data(b + n, FY_T_DGRAM, 0, 2, "tick", 4);
		break;
	}
	n += fy_frame_ping(b + n, which & 2 ? FY_F_ACK : 0, 42);
	if (which & 4)
		n += fy_frame_reason(b + n, FY_T_RESET, (which >> 3 & 3) == 2 ? 1 : 2, &r);
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
	printf("mux_fuzz: %lu inputs, no crash; %lu streams dialled, %lu refused, "
	       "%lu datagrams (%lu echoed)\n", iters, n_dial_ok, n_dial_refused, n_dgram,
	       n_dgram_echo);
	/* A replay that no longer reaches the v2 paths tests nothing there. */
	if (iters >= 1000 && (!n_dial_ok || !n_dial_refused || !n_dgram || !n_dgram_echo)) {
		fprintf(stderr, "mux_fuzz: the seeds no longer reach CONNECT/DIAL/DGRAM\n");
		return 1;
	}
	return 0;
}
#endif
