/* Fuzz target: arbitrary bytes as the first bytes of an ingress
 * connection, read both ways the relay reads them: as a TLS ClientHello
 * (sni.c) and as HTTP requests (hparse.c: heads, then bodies, then the
 * next head, as a kept-alive connection goes). Either verdict is fine;
 * a crash, a read out of bounds or a length past the input is not.
 *
 * Built two ways, as mux_fuzz: with clang -fsanitize=fuzzer a libFuzzer
 * target (scripts/fuzz.sh ingress); otherwise main() replays mutations of
 * a few seeds, so the unit suite runs it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../relay/hparse.h"
#include "../../relay/sni.h"
#include "../unit/sni_build.h"

static unsigned long n_sni, n_heads, n_bodies;

static void http(const uint8_t *data, size_t size)
{
	struct hparse h;
	size_t off = 0;

	/* Up to 8 requests, as one connection would send them. */
	for (int req = 0; req < 8 && off < size; req++) {
		long k;

		hp_init(&h);
		k = hp_head(&h, data + off, size - off);
		if (k <= 0)
			return;
		if ((size_t)k > size - off)
			abort();
		n_heads++;
		for (unsigned i = 0; i < h.nhdr; i++)
			if (h.hdr[i].value.off + h.hdr[i].value.len > (size_t)k ||
			    h.hdr[i].name.off + h.hdr[i].name.len > (size_t)k)
				abort();
		if (h.url.off + h.url.len > (size_t)k)
			abort();
		off += (size_t)k;
		while (!h.msg_done && off < size) {
			k = hp_body(&h, data + off, size - off < 7 ? size - off : 7);
			if (k < 0)
				return;
			if ((size_t)k > size - off)
				abort();
			off += (size_t)k;
			n_bodies++;
		}
		if (h.upgrade)
			return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[SNI_NAME_MAX + 1];
	const char *why;
	int r = sni_parse(data, size, name, &why);

	if (r > 0) {
		if ((size_t)r > size || strlen(name) > SNI_NAME_MAX)
			abort();
		n_sni++;
	}
	http(data, size);
	return 0;
}

#ifndef FY_LIBFUZZER
#include "replay.h"

static size_t seed(uint8_t *out, unsigned i)
{
	static const char *const reqs[] = {
		"GET /a HTTP/1.1\r\nHost: web.example.org\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
		"POST /forward/x/y HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd"
		"GET / HTTP/1.1\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nraw",
	};

	if (i % 5 == 4)
		return sni_build(out, i % 2 ? "pi.example.org" : "x");
	strcpy((char *)out, reqs[i % 5]);
	return strlen(reqs[i % 5]);
}

int main(int argc, char **argv)
{
	unsigned long iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;

	fy_fuzz_replay(iters, seed);
	printf("ingress_fuzz: %lu inputs, no crash; %lu server names, %lu heads, %lu body "
	       "pieces\n", iters, n_sni, n_heads, n_bodies);
	if (iters >= 1000 && (!n_sni || !n_heads || !n_bodies)) {
		fprintf(stderr, "ingress_fuzz: the seeds no longer reach the parsers\n");
		return 1;
	}
	return 0;
}
#endif
