/* Fuzz target: arbitrary bytes where the HTTP transports read a peer's:
 * WebSocket frames at the relay (server: masked expected) and at the
 * agent (client), decoded in uneven pieces into a small buffer; a
 * response head (the proxy's answer, the 101) as the agent reads it; a
 * request head at the relay's tunnel path (hparse + wsup). Any verdict is
 * fine; a crash, a read out of bounds, output past the buffer's cap or
 * more input taken than given is not.
 *
 * Built as ingress_fuzz is: with clang -fsanitize=fuzzer and -DFY_LIBFUZZER
 * a libFuzzer target; otherwise main() replays mutations of a few seeds,
 * so the unit suite runs it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/hresp.h"
#include "../../relay/hparse.h"
#include "../../relay/wsup.h"
#include "ferry/ws.h"

static unsigned long n_payload, n_heads, n_refused;

static void frames(bool server, const uint8_t *data, size_t size)
{
	struct fy_ws *ws = fy_ws_create(server, 4096);
	struct fy_buf in, out;
	size_t off = 0, step = 1 + (size ? data[0] % 61 : 0);

	if (!ws)
		abort();
	fy_buf_init(&in, 1024);
	fy_buf_init(&out, 4096);
	while (off < size) {
		size_t k = size - off < step ? size - off : step;
		long r = fy_ws_decode(ws, data + off, k, &in);

		if (r < 0) {
			n_refused++;
			break;
		}
		if ((size_t)r > k || fy_buf_len(&in) > 1024)
			abort();
		n_payload += fy_buf_len(&in);
		fy_buf_consume(&in, fy_buf_len(&in));	/* the mux took it */
		off += (size_t)r;
		if (r == 0 && k)
			break;	/* nothing taken with room: only after the peer's close */
	}
	if (fy_ws_encode(ws, &out) < 0 && fy_buf_len(&out) > 4096)
		abort();
	(void)fy_ws_why(ws);
	fy_buf_fini(&in);
	fy_buf_fini(&out);
	fy_ws_destroy(ws);
}

static void heads(const uint8_t *data, size_t size)
{
	struct hresp *h = malloc(sizeof(*h));
	struct hparse *hp = malloc(sizeof(*hp));
	char accept[FY_WS_ACCEPT_LEN + 1];
	const char *why;
	size_t off = 0;
	long k;

	hresp_init(h);
	while (off < size) {
		size_t n = size - off < 97 ? size - off : 97;

		k = hresp_feed(h, data + off, n);
		if (k < 0 || (size_t)k > n || h->len > HRESP_MAX)
			break;
		if (h->done) {
			n_heads++;
			break;
		}
		off += n;
	}
	hp_init(hp);
	k = hp_head(hp, data, size);
	if (k > 0) {
		if ((size_t)k > size)
			abort();
		if (wsup_check(hp, data, accept, &why) == 0 && strlen(accept) != FY_WS_ACCEPT_LEN)
			abort();
	}
	free(h);
	free(hp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	frames(true, data, size);
	frames(false, data, size);
	heads(data, size);
	return 0;
}

#ifndef FY_LIBFUZZER
#include "replay.h"

static size_t seed(uint8_t *out, unsigned i)
{
	static const char *const txt[] = {
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: ferry"
		"\r\n\r\n\x82\x03" "abc",
		"HTTP/1.1 200 Connection established\r\n\r\n",
		"GET /_ferry/tunnel HTTP/1.1\r\nHost: r\r\nUpgrade: websocket\r\nConnection: Upgrade"
		"\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		"Sec-WebSocket-Protocol: ferry\r\n\r\n",
	};
	static const uint8_t key[4] = { 1, 2, 3, 4 };
	size_t n = 0;

	if (i % 4 < 3) {
		strcpy((char *)out, txt[i % 4]);
		return strlen(txt[i % 4]);
	}
	/* masked: binary, fragments around a ping, a close */
	out[n++] = 0x02; out[n++] = 0x83; memcpy(out + n, key, 4); n += 4;
	for (int j = 0; j < 3; j++) out[n++] = (uint8_t)('a' ^ key[j]);
	out[n++] = 0x89; out[n++] = 0x81; memcpy(out + n, key, 4); n += 4; out[n++] = 'p' ^ 1;
	out[n++] = 0x80; out[n++] = 0xFE; out[n++] = 0x01; out[n++] = 0x00;
	memcpy(out + n, key, 4); n += 4;
	for (int j = 0; j < 256; j++) out[n++] = (uint8_t)(j ^ key[j % 4]);
	out[n++] = 0x88; out[n++] = 0x82; memcpy(out + n, key, 4); n += 4;
	out[n++] = 0x03 ^ 1; out[n++] = 0xE8 ^ 2;
	return n;
}

int main(int argc, char **argv)
{
	unsigned long iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;

	fy_fuzz_replay(iters, seed);
	printf("wss_fuzz: %lu inputs, no crash; %lu payload bytes, %lu refusals, %lu heads\n",
	       iters, n_payload, n_refused, n_heads);
	if (iters >= 1000 && (!n_payload || !n_refused || !n_heads)) {
		fprintf(stderr, "wss_fuzz: the seeds no longer reach the parsers\n");
		return 1;
	}
	return 0;
}
#endif
