/* fy_buf: lazy allocation, the cap, compaction order, reserve/commit,
 * shrink, and a seeded random walk against a plain reference array. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ferry/buf.h>

#include "cu_run.h"

static void fill(uint8_t *p, size_t n, uint8_t start)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(start + i);
}

static void test_lazy_alloc(void)
{
	struct fy_buf b;

	fy_buf_init(&b, 64);
	CU_ASSERT_PTR_NULL(b.data);
	CU_ASSERT_EQUAL(fy_buf_len(&b), 0);
	CU_ASSERT_EQUAL(fy_buf_room(&b), 64);
	/* An empty append stores nothing and allocates nothing. */
	CU_ASSERT_EQUAL(fy_buf_append(&b, "", 0), 0);
	CU_ASSERT_PTR_NULL(b.data);
	CU_ASSERT_EQUAL(fy_buf_append(&b, "abc", 3), 0);
	CU_ASSERT_PTR_NOT_NULL(b.data);
	CU_ASSERT_EQUAL(fy_buf_len(&b), 3);
	CU_ASSERT_EQUAL(memcmp(fy_buf_peek(&b), "abc", 3), 0);
	fy_buf_fini(&b);
	CU_ASSERT_PTR_NULL(b.data);
	CU_ASSERT_EQUAL(fy_buf_len(&b), 0);
}

static void test_cap(void)
{
	struct fy_buf b;
	uint8_t in[100];

	fill(in, sizeof(in), 0);
	fy_buf_init(&b, 16);
	/* Larger than the cap on first use: refused, nothing allocated. */
	CU_ASSERT_EQUAL(fy_buf_append(&b, in, 17), -ENOBUFS);
	CU_ASSERT_PTR_NULL(b.data);
	CU_ASSERT_PTR_NULL(fy_buf_reserve(&b, 17));
	CU_ASSERT_EQUAL(fy_buf_append(&b, in, 10), 0);
	CU_ASSERT_EQUAL(fy_buf_room(&b), 6);
	/* Does not fit: nothing written, not even a prefix. */
	CU_ASSERT_EQUAL(fy_buf_append(&b, in + 10, 7), -ENOBUFS);
	CU_ASSERT_EQUAL(fy_buf_len(&b), 10);
	CU_ASSERT_EQUAL(fy_buf_append(&b, in + 10, 6), 0);
	CU_ASSERT_EQUAL(fy_buf_len(&b), 16);
	CU_ASSERT_EQUAL(fy_buf_room(&b), 0);
	CU_ASSERT_EQUAL(fy_buf_append(&b, in, 1), -ENOBUFS);
	CU_ASSERT_EQUAL(b.cap, 16);
	CU_ASSERT_EQUAL(memcmp(fy_buf_peek(&b), in, 16), 0);
	fy_buf_fini(&b);

	/* A zero cap holds nothing and never allocates. */
	fy_buf_init(&b, 0);
	CU_ASSERT_EQUAL(fy_buf_append(&b, in, 1), -ENOBUFS);
	CU_ASSERT_PTR_NULL(fy_buf_reserve(&b, 0));
	CU_ASSERT_PTR_NULL(b.data);
	fy_buf_fini(&b);
}

static void test_compaction(void)
{
	struct fy_buf b;
	uint8_t in[32], want[32];
	const uint8_t *before;

	fill(in, sizeof(in), 100);
	fy_buf_init(&b, 16);
	CU_ASSERT_EQUAL_FATAL(fy_buf_append(&b, in, 12), 0);
	fy_buf_consume(&b, 8);
	CU_ASSERT_EQUAL(fy_buf_len(&b), 4);
	before = b.data;
	/* Tail at 12, 4 bytes left at the end: 10 more needs a compaction. */
	CU_ASSERT_EQUAL(fy_buf_room(&b), 12);
	CU_ASSERT_EQUAL_FATAL(fy_buf_append(&b, in + 12, 10), 0);
	CU_ASSERT_PTR_EQUAL(b.data, before);	/* no reallocation */
	CU_ASSERT_EQUAL(b.head, 0);
	CU_ASSERT_EQUAL(fy_buf_len(&b), 14);
	memcpy(want, in + 8, 14);
	CU_ASSERT_EQUAL(memcmp(fy_buf_peek(&b), want, 14), 0);

	/* Fits at the tail as is: no compaction. */
	fy_buf_consume(&b, 2);
	CU_ASSERT_EQUAL_FATAL(fy_buf_append(&b, in + 22, 2), 0);
	CU_ASSERT_EQUAL(b.head, 2);
	CU_ASSERT_EQUAL(memcmp(fy_buf_peek(&b), in + 10, 14), 0);

	/* Fill to the brim through a compaction. */
	CU_ASSERT_EQUAL_FATAL(fy_buf_append(&b, in + 24, 2), 0);
	CU_ASSERT_EQUAL(fy_buf_len(&b), 16);
	CU_ASSERT_EQUAL(memcmp(fy_buf_peek(&b), in + 10, 16), 0);
	fy_buf_fini(&b);
}

static void test_consume_all_resets(void)
{
	struct fy_buf b;
	uint8_t in[16];

	fill(in, sizeof(in), 0);
	fy_buf_init(&b, 16);
	CU_ASSERT_EQUAL_FATAL(fy_buf_append(&b, in, 16), 0);
	fy_buf_consume(&b, 16);
	CU_ASSERT_EQUAL(fy_buf_len(&b), 0);
	CU_ASSERT_EQUAL(b.head, 0);
	CU_ASSERT_EQUAL(b.tail, 0);
	CU_ASSERT_EQUAL(fy_buf_append(&b, in, 16), 0);
	fy_buf_fini(&b);
}

static void test_reserve_commit(void)
{
	struct fy_buf b;
	uint8_t *w;

	fy_buf_init(&b, 32);
	w = fy_buf_reserve(&b, 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_PTR_NOT_NULL(b.data);
	/* Reserving is not writing. */
	CU_ASSERT_EQUAL(fy_buf_len(&b), 0);
	memcpy(w, "ABCDEFGH", 8);
	/* A short read: commit less than reserved. */
	fy_buf_commit(&b, 5);
	CU_ASSERT_EQUAL(fy_buf_len(&b), 5);
	CU_ASSERT_EQUAL(memcmp(fy_buf_peek(&b), "ABCDE", 5), 0);

	/* Reserve all the room, after consuming from the head. */
	fy_buf_consume(&b, 3);
	w = fy_buf_reserve(&b, 30);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_EQUAL(memcmp(fy_buf_peek(&b), "DE", 2), 0);
	CU_ASSERT_PTR_EQUAL(w, fy_buf_peek(&b) + 2);
	memset(w, 'z', 30);
	fy_buf_commit(&b, 30);
	CU_ASSERT_EQUAL(fy_buf_len(&b), 32);
	CU_ASSERT_PTR_NULL(fy_buf_reserve(&b, 1));
	CU_ASSERT_PTR_NOT_NULL(fy_buf_reserve(&b, 0));
	fy_buf_fini(&b);
}

static void test_shrink(void)
{
	struct fy_buf b;

	fy_buf_init(&b, 64);
	fy_buf_shrink(&b);	/* nothing allocated: a no-op */
	CU_ASSERT_PTR_NULL(b.data);
	CU_ASSERT_EQUAL_FATAL(fy_buf_append(&b, "hello", 5), 0);
	/* Holding bytes: shrink must keep them. */
	fy_buf_shrink(&b);
	CU_ASSERT_PTR_NOT_NULL(b.data);
	CU_ASSERT_EQUAL(memcmp(fy_buf_peek(&b), "hello", 5), 0);
	fy_buf_consume(&b, 5);
	fy_buf_shrink(&b);
	CU_ASSERT_PTR_NULL(b.data);
	CU_ASSERT_EQUAL(fy_buf_len(&b), 0);
	CU_ASSERT_EQUAL(fy_buf_room(&b), 64);
	/* Usable again after a shrink; the cap is unchanged. */
	CU_ASSERT_EQUAL(fy_buf_append(&b, "again", 5), 0);
	CU_ASSERT_EQUAL(memcmp(fy_buf_peek(&b), "again", 5), 0);
	CU_ASSERT_EQUAL(b.cap, 64);
	fy_buf_fini(&b);
}

/* Storage follows what is held: small content, a small allocation;
 * doubling as it grows; never past the cap (which need not be a power of
 * two); bytes kept in order across every growth. */
static void test_growth(void)
{
	enum { CAP = 1000000 };
	static uint8_t in[CAP];
	struct fy_buf b;
	size_t held = 0;

	fill(in, CAP, 7);
	fy_buf_init(&b, CAP);
	CU_ASSERT_EQUAL_FATAL(fy_buf_append(&b, in, 10), 0);
	CU_ASSERT_EQUAL(b.size, FY_BUF_MIN_ALLOC);
	held = 10;
	CU_ASSERT_EQUAL_FATAL(fy_buf_append(&b, in + held, FY_BUF_MIN_ALLOC), 0);
	held += FY_BUF_MIN_ALLOC;
	CU_ASSERT_EQUAL(b.size, 2 * FY_BUF_MIN_ALLOC);
	/* Consumed bytes make room before any growth. */
	fy_buf_consume(&b, 10);
	CU_ASSERT_EQUAL_FATAL(fy_buf_append(&b, in + held, 10), 0);
	held += 10;
	CU_ASSERT_EQUAL(b.size, 2 * FY_BUF_MIN_ALLOC);
	while (held < CAP) {
		size_t n = CAP - held < 50000 ? CAP - held : 50000;

		CU_ASSERT_EQUAL_FATAL(fy_buf_append(&b, in + held, n), 0);
		held += n;
		CU_ASSERT(b.size <= CAP);
		CU_ASSERT(b.size >= fy_buf_len(&b));
	}
	CU_ASSERT_EQUAL(fy_buf_len(&b), CAP - 10);
	CU_ASSERT_EQUAL(memcmp(fy_buf_peek(&b), in + 10, CAP - 10), 0);
	CU_ASSERT_EQUAL(fy_buf_append(&b, in, 11), -ENOBUFS);
	CU_ASSERT_EQUAL_FATAL(fy_buf_append(&b, in, 10), 0);
	CU_ASSERT_EQUAL(b.size, CAP);
	fy_buf_fini(&b);
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* Random appends, reserves, consumes and shrinks; the buffer must always
 * hold exactly the bytes a simple FIFO model holds, in order. */
static void random_vs_model(size_t CAP, unsigned ROUNDS)
{
	static uint8_t model[100000], in[100000 + 1];
	uint64_t seed = 42;
	size_t mlen = 0;
	uint8_t next = 0;
	struct fy_buf b;

	fy_buf_init(&b, CAP);
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint64_t x = rng_next(&seed);
		size_t n = (size_t)(x >> 8) % (x & 0x10 ? 64 : CAP + 1);

		switch (x % 4) {
		case 0: {	/* append */
			int rc;

			fill(in, n, next);
			rc = fy_buf_append(&b, in, n);
			if (mlen + n > CAP) {
				CU_ASSERT_EQUAL(rc, -ENOBUFS);
			} else {
				CU_ASSERT_EQUAL(rc, 0);
				memcpy(model + mlen, in, n);
				mlen += n;
				next = (uint8_t)(next + n);
			}
			break;
		}
		case 1: {	/* reserve, commit part of it */
			uint8_t *w = fy_buf_reserve(&b, n);

			if (mlen + n > CAP) {
				CU_ASSERT_PTR_NULL(w);
			} else {
				size_t k = n ? (size_t)(x >> 40) % (n + 1) : 0;

				CU_ASSERT_PTR_NOT_NULL_FATAL(w);
				fill(w, k, next);
				fy_buf_commit(&b, k);
				memcpy(model + mlen, w, k);
				mlen += k;
				next = (uint8_t)(next + k);
			}
			break;
		}
		case 2:		/* consume */
			n = mlen ? n % (mlen + 1) : 0;
			fy_buf_consume(&b, n);
			memmove(model, model + n, mlen - n);
			mlen -= n;
			break;
		default:
			fy_buf_shrink(&b);
			if (mlen == 0)
				CU_ASSERT_PTR_NULL(b.data);
			break;
		}
		CU_ASSERT_EQUAL_FATAL(fy_buf_len(&b), mlen);
		CU_ASSERT(b.tail <= b.size && b.size <= CAP);
		if (mlen)
			CU_ASSERT_EQUAL_FATAL(memcmp(fy_buf_peek(&b), model, mlen), 0);
	}
	fy_buf_fini(&b);
}

static void test_random_vs_model(void)
{
	random_vs_model(1000, 200000);		/* below the first allocation */
	random_vs_model(100000, 100000);	/* grows, compacts, shrinks */
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "lazy allocation", test_lazy_alloc },
		{ "cap enforced", test_cap },
		{ "compaction keeps order", test_compaction },
		{ "consume all resets", test_consume_all_resets },
		{ "reserve/commit", test_reserve_commit },
		{ "shrink", test_shrink },
		{ "storage grows with content", test_growth },
		{ "random vs model", test_random_vs_model },
	};
	return cu_run("buf", tests, ARRAY_LEN(tests));
}
