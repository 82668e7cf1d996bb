/* fy-load recv: a source's stream, checked byte by byte (see fy_load.h). */
#include "fy_load.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* See fy_load.h. */
int recv_on(int fd, uint64_t n, uint64_t seed, char *msg, size_t ml, char *hex_out)
{
	static uint8_t buf[CHUNK], want[CHUNK];
	struct prng g;
	struct sha h;
	char hex[65], exp[65];
	uint64_t got = 0, mismatch = UINT64_MAX;
	double t0 = now();
	int err = 0;

	prng_init(&g, seed);
	sha_init(&h);
	g_phase = "receiving";
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = errno;
			break;
		}
		if (r == 0)
			break;
		sha_update(&h, buf, (size_t)r);
		if (mismatch == UINT64_MAX && got < n) {
			size_t k = (uint64_t)r < n - got ? (size_t)r : (size_t)(n - got);
			prng_fill(&g, want, k);
			for (size_t i = 0; i < k; i++) {
				if (buf[i] != want[i]) {
					mismatch = got + i;
					break;
				}
			}
		}
		got += (uint64_t)r;
	}
	sha_hex(&h, hex);
	if (hex_out)
		memcpy(hex_out, hex, 65);
	if (err) {
		snprintf(msg, ml, "FAIL %s after %" PRIu64 " of %" PRIu64 " bytes: %s",
			 is_reset(err) ? "reset" : "recv error", got, n, strerror(err));
		return is_reset(err) ? EX_RESET : EX_FAIL;
	}
	if (mismatch != UINT64_MAX) {
		snprintf(msg, ml, "FAIL data mismatch at offset %" PRIu64 " (%" PRIu64 " bytes received)",
			 mismatch, got);
		return EX_FAIL;
	}
	if (got < n) {
		snprintf(msg, ml, "FAIL truncated: clean EOF after %" PRIu64 " of %" PRIu64 " bytes", got, n);
		return EX_TRUNC;
	}
	if (got > n) {
		snprintf(msg, ml, "FAIL too many bytes: %" PRIu64 ", want %" PRIu64, got, n);
		return EX_FAIL;
	}
	expected_sha(n, seed, exp);
	if (strcmp(exp, hex)) {
		snprintf(msg, ml, "FAIL sha256 mismatch: got %s want %s", hex, exp);
		return EX_FAIL;
	}
	double s = now() - t0;
	snprintf(msg, ml, "ok sha256=%s bytes=%" PRIu64 " secs=%.3f MBps=%.1f", hex, n, s,
		 (double)n / 1048576.0 / (s > 0 ? s : 1e-9));
	return EX_OK;
}

int cmd_recv(void)
{
	char msg[1024], msg2[512];
	if (!O.connect || !O.bytes_set)
		die(EX_USAGE, "recv needs --connect, --bytes and --seed");
	int fd = connect_or_die(O.connect, NULL);
	int rc = recv_on(fd, O.bytes, O.seed, msg, sizeof(msg), NULL);
	if (rc == EX_OK && O.then_send) {
		/* The target has shut its write side; our direction must still flow. */
		rc = send_on(fd, O.then_send, O.send_seed, false, false, msg2, sizeof(msg2));
		if (rc == EX_OK) {
			char sh[65];
			expected_sha(O.then_send, O.send_seed, sh);
			size_t l = strlen(msg);
			snprintf(msg + l, sizeof(msg) - l, " sent=%" PRIu64 " sent_sha256=%s", O.then_send, sh);
		} else {
			snprintf(msg, sizeof(msg), "%s (after receiving all %" PRIu64 " bytes)", msg2, O.bytes);
		}
	}
	close(fd);
	say("%s\n", msg);
	return rc;
}
