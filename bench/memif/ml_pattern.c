/* Per-stream byte patterns. A table lookup plus memcpy/memcmp keeps the
 * generator's cost per byte far below the stack's, so the pattern does not
 * limit the measurement, while every byte is still checked. */
#include <stdlib.h>
#include <string.h>

#include "ml.h"

uint8_t *ml_pattern_table(unsigned index)
{
	uint8_t *t = malloc(ML_PAT_LEN);
	/* Distinct, never-zero seed per stream (xorshift's only fixed point is 0). */
	uint64_t x = 0x9e3779b97f4a7c15ull * (index + 1u);

	if (!t)
		return NULL;
	for (size_t i = 0; i < ML_PAT_LEN; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		t[i] = (uint8_t)(x >> 32);
	}
	return t;
}

void ml_pattern_fill(struct ml_pattern *p, uint8_t *dst, size_t n)
{
	while (n) {
		size_t k = ML_PAT_LEN - p->off;

		if (k > n)
			k = n;
		memcpy(dst, p->tab + p->off, k);
		dst += k;
		n -= k;
		p->off = (p->off + k) % ML_PAT_LEN;
	}
}

static uint64_t count_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint64_t d = 0;

	for (size_t i = 0; i < n; i++)
		d += a[i] != b[i];
	return d;
}

uint64_t ml_pattern_check(struct ml_pattern *p, const uint8_t *src, size_t n)
{
	uint64_t bad = 0;

	while (n) {
		size_t k = ML_PAT_LEN - p->off;

		if (k > n)
			k = n;
		/* memcmp first: the byte count runs only when something is wrong. */
		if (memcmp(src, p->tab + p->off, k))
			bad += count_diff(src, p->tab + p->off, k);
		src += k;
		n -= k;
		p->off = (p->off + k) % ML_PAT_LEN;
	}
	return bad;
}
