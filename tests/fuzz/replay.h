/* The replay driver the fuzz targets share when built without libFuzzer
 * (the unit suite runs them): seed i, a few bytes flipped by an xorshift,
 * every third input cut short, then LLVMFuzzerTestOneInput on a heap copy of
 * exactly n bytes, so ASan sees any read past them. Deterministic. */
#ifndef FERRY_FUZZ_REPLAY_H
#define FERRY_FUZZ_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* seed writes input i (at most 1024 bytes, at least 1) and returns its length. */
static void fy_fuzz_replay(unsigned long iters, size_t (*seed)(uint8_t *out, unsigned i))
{
	uint8_t base[1024];
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (unsigned long i = 0; i < iters; i++) {
		size_t n = seed(base, (unsigned)i);
		unsigned flips;
		uint8_t *buf;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		flips = (unsigned)(x % 4);
		for (unsigned f = 0; f < flips; f++) {
			uint64_t y = x * (f + 1) * 0x2545f4914f6cdd1dull;

			base[(y >> 8) % n] = (uint8_t)(y >> 40);
		}
		if (i % 3 == 0)
			n = (size_t)(x >> 20) % (n + 1);	/* truncation */
		buf = malloc(n ? n : 1);
		memcpy(buf, base, n);
		LLVMFuzzerTestOneInput(buf, n);
		free(buf);
	}
}

#endif
