/* fy-csum-speed: relay/net's software Internet checksum (csum_add) per
 * byte, for frames of the sizes the relay sums on receive and on send.
 * A microbenchmark for bench/README.md, not a test: it prints, it checks
 * nothing. Usage: fy-csum-speed [ROUNDS] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "wire.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 64, 1460, 8960 };
	static uint8_t buf[9000];
	long rounds = argc > 1 ? atol(argv[1]) : 2000000;
	volatile uint32_t sink = 0;

	if (rounds <= 0) {
		fprintf(stderr, "usage: fy-csum-speed [ROUNDS]\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];
		double t0 = now_s(), secs;
#if defined(__x86_64__)
		uint64_t c0 = __builtin_ia32_rdtsc(), cycles;
#endif

		for (long r = 0; r < rounds; r++)
			sink += csum_add(sink, buf, n);
		secs = now_s() - t0;
#if defined(__x86_64__)
		cycles = __builtin_ia32_rdtsc() - c0;
		printf("%5zu bytes: %.3f TSC cycles/byte, %.1f GB/s\n", n,
		       (double)cycles / ((double)rounds * (double)n), (double)rounds * (double)n / secs / 1e9);
#else
		printf("%5zu bytes: %.1f GB/s\n", n, (double)rounds * (double)n / secs / 1e9);
#endif
	}
	return sink == 0xffffffffu;	/* keeps the loop; never true in practice */
}
