/* fy-load gen: the stream of a seed on stdout (see fy_load.h). */
#include "fy_load.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cmd_gen(void)
{
	static uint8_t buf[CHUNK];
	struct prng g;
	uint64_t left = O.bytes;
	prng_init(&g, O.seed);
	while (left) {
		size_t k = left < CHUNK ? (size_t)left : CHUNK;
		prng_fill(&g, buf, k);
		for (size_t off = 0; off < k;) {
			ssize_t w = write(1, buf + off, k - off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				fprintf(stderr, "FAIL write: %s\n", strerror(errno));
				return EX_FAIL;
			}
			off += (size_t)w;
		}
		left -= k;
	}
	return EX_OK;
}
