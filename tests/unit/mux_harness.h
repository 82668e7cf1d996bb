/* What the mux tests share (mux_test.c, pump_test.c): two muxes back to
 * back in memory, each with its own session table and an input buffer
 * fed from the other's output, the bytes moved all at once or in pieces;
 * a recorder for one stream that checks what it receives against a
 * seeded pattern; the tests' clock. What each test's callbacks record,
 * and how they are dispatched, stays in the test.
 *
 *   relay mux --out--> [xfer, all or k bytes a piece] --input--> agent mux
 *             <--input--           [xfer]             <--out--
 */
#ifndef FERRY_TEST_MUX_HARNESS_H
#define FERRY_TEST_MUX_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ferry/frame.h>
#include <ferry/mux.h>
#include <ferry/sess.h>

/* The tests' clock (ms), the now of every mux the harness makes and of
 * every input it feeds: the mux reads no clock of its own. */
extern uint64_t mh_now;

/* One mux, its session table, and the bytes from its peer that
 * fy_mux_input has not consumed yet (a partial frame). A test's side
 * embeds it; the test's callbacks get the test's side as ctx. */
struct mh_side {
	const char *name;
	struct fy_mux *m;
	struct fy_sess_table tbl;
	uint8_t *in;
	size_t in_len, in_cap;
	long err;		/* first fy_mux_input error, 0 if none */
};

/* How mh_xfer cuts what it moves: k bytes a piece (0: all at once), or,
 * with random, pieces of 1..k bytes drawn from rng. */
struct mh_cut {
	size_t k;
	bool random;
	uint64_t rng;
};

/* Creates sd's session table and mux (cfg with now_ms = mh_now). */
void mh_side_init(struct mh_side *sd, const char *name, const struct fy_mux_cfg *cfg,
		  const struct fy_mux_cbs *cbs, void *ctx);
/* Destroys the mux (if any) and checks that it left no session behind. */
void mh_side_fini(struct mh_side *sd);

/* Queues bytes for sd's mux (fed by mh_feed). */
void mh_in_append(struct mh_side *sd, const void *p, size_t n);
/* Feeds what is queued for sd to its mux; keeps what it did not consume.
 * Returns fy_mux_input's result (sd->err once it failed). */
long mh_feed(struct mh_side *sd);
/* Moves all of from's output to to, in pieces cut by cut (NULL: all at
 * once), feeding each. Returns bytes moved, or <0 when to's mux rejected
 * its input. */
long mh_xfer(struct mh_side *from, struct mh_side *to, struct mh_cut *cut);
/* Moves bytes both ways until both outputs stay empty: 0, or the first
 * input error. */
long mh_shuttle(struct mh_side *r, struct mh_side *a, struct mh_cut *cut);

/* xorshift64* */
static inline uint64_t mh_rnd(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545F4914F6CDD1Dull;
}

/* Byte i of the stream with this seed: cheap, position dependent. */
static inline uint8_t mh_pat(uint64_t seed, size_t i)
{
	uint64_t x = (seed ^ (uint64_t)(i >> 3)) * 0x9E3779B97F4A7C15ull;

	x ^= x >> 29;
	return (uint8_t)(x >> ((i & 7) * 8));
}

/* A stream's recorder (s->app of a stream the test drives by hand):
 * checks the bytes it gets against a seeded pattern, counts FIN, RESET
 * and credit events. */
struct mh_rec {
	struct fy_stream *s;	/* NULL once the mux freed it */
	uint32_t id;
	uint64_t seed;		/* expected pattern of incoming bytes */
	size_t rx;		/* bytes received */
	size_t bad;		/* bytes that differed from the pattern */
	size_t unconsumed;	/* received, not yet given to fy_mux_consumed */
	bool auto_consume;	/* consume inside on_data */
	int fins;
	size_t rx_at_fin;
	int resets;
	uint32_t reset_code;
	char reset_msg[FY_REASON_MAX + 1];
	int credits;
};

/* What a test's on_data, on_fin and on_reset do for a recorder. */
void mh_rec_data(struct mh_side *sd, struct mh_rec *r, struct fy_stream *s,
		 const uint8_t *p, size_t n);
void mh_rec_fin(struct mh_rec *r);
void mh_rec_reset(struct mh_rec *r, uint32_t code, const char *msg);

/* Sends pattern bytes [*off, total) of seed on r's stream as far as room
 * allows; fin goes with the last byte (or alone when total is 0).
 * Returns bytes sent. */
size_t mh_send_pat(struct mh_side *sd, struct mh_rec *r, uint64_t seed, size_t *off,
		   size_t total, bool fin);

#endif
