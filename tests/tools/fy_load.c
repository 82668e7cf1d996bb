/*
 * fy-load: traffic generator and checker for ferry's integration tests.
 *
 * Every byte stream is deterministic: `--seed S` selects a splitmix64 stream whose
 * bytes are the little-endian bytes of successive 64-bit outputs, so a sender and a
 * checker in different processes agree on what must arrive without exchanging it.
 * Integrity is judged by SHA-256 (OpenSSL EVP) and, where both ends are local, by
 * comparing bytes.
 *
 *   serve     --port P [--bind A] --mode sink|echo|source [--bytes N --seed S]
 *             [--max-conns N] [--slow-read BPS] [--rcvbuf N]
 *   send      --connect H:P --bytes N [--seed S] [--no-digest | --echo]
 *   recv      --connect H:P --bytes N --seed S [--then-send M --send-seed S2]
 *   multi     --connect H:P --streams N [--min-bytes A] [--max-bytes B] --seed S
 *   hold      --connect H:P [--expect reset|eof|any|refused|open|gone] [--no-read]
 *             [--send-text T | --send-hex H | --send-bytes N]
 *   slowpair  --slow H:P --slow-kind send|noread --slow-bytes N --fast H:P
 *             --fast-kind send|recv --fast-bytes N --seed S [--pause-file F]
 *   tls       --connect H:P (--ca F | --insecure) [--name N] [--expect-error CODE] OPS...
 *             a raw agent speaking docs/PROTOCOL.md frames, for bad-input tests: OPS run in
 *             order (--hello, --register, --wait-open, --frame, --raw, --data, --fill,
 *             --overflow, --close-notify; see usage()), then it waits for the relay to close
 *             the connection and reports the ERROR frame it got.
 *   gen       --bytes N --seed S        (the stream on stdout, for sha256sum)
 *
 * Every subcommand is bounded by --timeout SECONDS (default 60, fractions allowed).
 * Sizes take K, M, G suffixes (powers of two).
 *
 * Exit codes: 0 ok, 1 failure (mismatch, wrong outcome), 2 usage or set-up error,
 * 3 connection reset (ECONNRESET/EPIPE), 4 truncated (clean EOF too early),
 * 5 timeout. Exactly one result line goes to stdout ("ok ..." or "FAIL ...");
 * serve and slowpair also print progress lines (listening, accept, conn, fast done).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum {
	EX_OK = 0,
	EX_FAIL = 1,
	EX_USAGE = 2,
	EX_RESET = 3,
	EX_TRUNC = 4,
	EX_TIMEOUT = 5,
};

#define CHUNK 65536

/* ---------------------------------------------------------------- options */

#define MAX_OPS 64

struct op {
	const char *name; /* a tls op: "hello", "register", "wait-open", "frame", ... (is_op) */
	const char *arg;
};

struct opts {
	const char *cmd;
	const char *connect;
	const char *bind;
	int port;
	const char *mode;
	uint64_t bytes;
	bool bytes_set;
	uint64_t seed;
	double timeout;
	long max_conns;
	uint64_t slow_read;
	int rcvbuf;
	long streams;
	uint64_t min_bytes;
	uint64_t max_bytes;
	const char *expect;
	const char *send_text;
	const char *send_hex;
	uint64_t send_bytes;
	bool no_digest;
	bool echo;
	bool no_read;
	uint64_t then_send;
	uint64_t send_seed;
	const char *pause_file;
	const char *slow;
	const char *slow_kind;
	uint64_t slow_bytes;
	const char *fast;
	const char *fast_kind;
	uint64_t fast_bytes;
	const char *ca;
	const char *name;
	bool insecure;
	const char *expect_error;
	struct op ops[MAX_OPS];
	int nops;
};

static struct opts O;

/* ------------------------------------------------------------ small utils */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("FAIL %s\n", line);
	fflush(stdout);
	exit(code);
}

static uint64_t parse_size(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s)
		die(EX_USAGE, "bad %s '%s'", what, s);
	uint64_t mul = 1;
	switch (*end) {
	case 'k': case 'K': mul = 1ULL << 10; end++; break;
	case 'm': case 'M': mul = 1ULL << 20; end++; break;
	case 'g': case 'G': mul = 1ULL << 30; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end)
		die(EX_USAGE, "bad %s '%s'", what, s);
	if (v > UINT64_MAX / mul)
		die(EX_USAGE, "%s '%s' too large", what, s);
	return (uint64_t)v * mul;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* Decode hex (spaces, ':' and '_' ignored) into a malloc'd buffer. */
static uint8_t *parse_hex(const char *s, size_t *len)
{
	size_t n = strlen(s);
	uint8_t *out = malloc(n / 2 + 1);
	size_t o = 0;
	int hi = -1;
	if (!out)
		die(EX_USAGE, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ' ' || s[i] == ':' || s[i] == '_')
			continue;
		int v = hexval((unsigned char)s[i]);
		if (v < 0)
			die(EX_USAGE, "bad hex '%s'", s);
		if (hi < 0) {
			hi = v;
		} else {
			out[o++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0)
		die(EX_USAGE, "odd number of hex digits in '%s'", s);
	*len = o;
	return out;
}

/* --------------------------------------------------------------- timeout */

static char g_timeout_line[256];
static int g_timeout_code = EX_TIMEOUT;
static const char *volatile g_phase = "starting";

static void on_alarm(int sig)
{
	(void)sig;
	char line[512];
	const char *p = (const char *)g_phase;
	size_t n = strlen(g_timeout_line);
	memcpy(line, g_timeout_line, n);
	if (g_timeout_code != EX_OK) {
		const char *w = " while ";
		size_t wl = strlen(w), pl = strlen(p);
		if (n + wl + pl + 2 < sizeof(line)) {
			memcpy(line + n, w, wl);
			memcpy(line + n + wl, p, pl);
			n += wl + pl;
		}
	}
	line[n++] = '\n';
	if (write(1, line, n) < 0) { /* nothing left to do */ }
	_exit(g_timeout_code);
}

static void arm_timeout(double secs)
{
	struct itimerval it = {0};
	snprintf(g_timeout_line, sizeof(g_timeout_line), "FAIL timeout after %.1f s", secs);
	signal(SIGALRM, on_alarm);
	it.it_value.tv_sec = (time_t)secs;
	it.it_value.tv_usec = (suseconds_t)((secs - (double)(time_t)secs) * 1e6);
	if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
		it.it_value.tv_usec = 1000;
	setitimer(ITIMER_REAL, &it, NULL);
}

/* ------------------------------------------------------ pseudo-random data */

struct prng {
	uint64_t s;
	uint64_t w;
	unsigned left;
};

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void prng_init(struct prng *p, uint64_t seed)
{
	p->s = seed;
	p->w = 0;
	p->left = 0;
}

static void prng_fill(struct prng *p, uint8_t *b, size_t n)
{
	while (n && p->left) {
		*b++ = (uint8_t)p->w;
		p->w >>= 8;
		p->left--;
		n--;
	}
	while (n >= 8) {
		uint64_t w = splitmix(&p->s);
		for (int i = 0; i < 8; i++)
			b[i] = (uint8_t)(w >> (8 * i));
		b += 8;
		n -= 8;
	}
	if (n) {
		p->w = splitmix(&p->s);
		p->left = 8;
		while (n) {
			*b++ = (uint8_t)p->w;
			p->w >>= 8;
			p->left--;
			n--;
		}
	}
}

/* ------------------------------------------------------------------ sha256 */

struct sha {
	EVP_MD_CTX *c;
};

static void sha_init(struct sha *h)
{
	h->c = EVP_MD_CTX_new();
	if (!h->c || EVP_DigestInit_ex(h->c, EVP_sha256(), NULL) != 1)
		die(EX_USAGE, "EVP sha256 init failed");
}

static void sha_update(struct sha *h, const void *b, size_t n)
{
	if (n && EVP_DigestUpdate(h->c, b, n) != 1)
		die(EX_USAGE, "EVP sha256 update failed");
}

/* Finishes and frees; hex must hold 65 bytes. */
static void sha_hex(struct sha *h, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (EVP_DigestFinal_ex(h->c, md, &len) != 1 || len != 32)
		die(EX_USAGE, "EVP sha256 final failed");
	EVP_MD_CTX_free(h->c);
	h->c = NULL;
	for (unsigned i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void sha_free(struct sha *h)
{
	EVP_MD_CTX_free(h->c);
	h->c = NULL;
}

static void expected_sha(uint64_t n, uint64_t seed, char *hex)
{
	static uint8_t buf[CHUNK];
	struct prng g;
	struct sha h;
	prng_init(&g, seed);
	sha_init(&h);
	while (n) {
		size_t k = n < CHUNK ? (size_t)n : CHUNK;
		prng_fill(&g, buf, k);
		sha_update(&h, buf, k);
		n -= k;
	}
	sha_hex(&h, hex);
}

/* ----------------------------------------------------------------- sockets */

static bool is_reset(int e)
{
	return e == ECONNRESET || e == EPIPE || e == ECONNABORTED;
}

static void split_hostport(const char *hp, char *host, size_t hl, char *port, size_t pl)
{
	const char *colon = strrchr(hp, ':');
	if (!colon || colon == hp || !colon[1])
		die(EX_USAGE, "expected HOST:PORT, got '%s'", hp);
	size_t n = (size_t)(colon - hp);
	if (hp[0] == '[' && n >= 2 && hp[n - 1] == ']') {
		hp++;
		n -= 2;
	}
	if (n >= hl || strlen(colon + 1) >= pl)
		die(EX_USAGE, "address too long '%s'", hp);
	memcpy(host, hp, n);
	host[n] = 0;
	snprintf(port, pl, "%s", colon + 1);
}

static void resolve(const char *hp, struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[256], port[32];
	struct addrinfo hints = {0}, *res = NULL;
	split_hostport(hp, host, sizeof(host), port, sizeof(port));
	hints.ai_socktype = SOCK_STREAM;
	int r = getaddrinfo(host, port, &hints, &res);
	if (r != 0 || !res)
		die(EX_USAGE, "cannot resolve '%s': %s", hp, gai_strerror(r));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
}

/* Blocking connect; returns fd or -errno. */
static int connect_to(const char *hp)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	resolve(hp, &ss, &sl);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int connect_or_die(const char *hp)
{
	int fd = connect_to(hp);
	if (fd < 0)
		die(EX_FAIL, "connect %s: %s", hp, strerror(-fd));
	return fd;
}

static void local_name(int fd, char *out, size_t ol)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char h[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &s4->sin_addr, h, sizeof(h));
			port = ntohs(s4->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof(h));
			port = ntohs(s6->sin6_port);
		}
	}
	snprintf(out, ol, "%s:%d", h, port);
}

/* Returns 0 or -errno. */
static int write_all(int fd, const void *b, size_t n)
{
	const uint8_t *p = b;
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	/* One write per line so lines of concurrent threads never interleave. */
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (write(1, line, (size_t)n) < 0) { /* stdout gone: nothing to report to */ }
}

/* ------------------------------------------------------------------- serve */

static atomic_uint g_conn_ids;
static atomic_long g_active;
static pthread_mutex_t g_serve_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_serve_cv = PTHREAD_COND_INITIALIZER;

static void *serve_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned id = atomic_fetch_add(&g_conn_ids, 1) + 1;
	uint8_t *buf = malloc(CHUNK);
	if (!buf)
		die(EX_FAIL, "out of memory");
	uint64_t in = 0, out = 0;
	const char *end = "eof";
	struct sha h;
	char hex[65];
	double t0 = now();

	sha_init(&h);
	if (!strcmp(O.mode, "source")) {
		struct prng g;
		prng_init(&g, O.seed);
		while (out < O.bytes) {
			size_t k = O.bytes - out < CHUNK ? (size_t)(O.bytes - out) : CHUNK;
			prng_fill(&g, buf, k);
			int r = write_all(fd, buf, k);
			if (r < 0) {
				end = is_reset(-r) ? "reset" : "error";
				goto out;
			}
			out += k;
		}
		shutdown(fd, SHUT_WR);
	}
	for (;;) {
		size_t want = CHUNK;
		if (O.slow_read) {
			/* Token bucket: never ahead of slow_read bytes per second. */
			size_t step = O.slow_read / 20 ? (size_t)(O.slow_read / 20) : 1;
			if (step < want)
				want = step;
			double due = t0 + (double)in / (double)O.slow_read;
			double d = due - now();
			if (d > 0)
				usleep((useconds_t)(d * 1e6));
		}
		ssize_t n = recv(fd, buf, want, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			end = is_reset(errno) ? "reset" : "error";
			break;
		}
		if (n == 0)
			break;
		in += (uint64_t)n;
		sha_update(&h, buf, (size_t)n);
		if (!strcmp(O.mode, "echo")) {
			int r = write_all(fd, buf, (size_t)n);
			if (r < 0) {
				end = is_reset(-r) ? "reset" : "error";
				break;
			}
			out += (uint64_t)n;
		}
	}
out:
	sha_hex(&h, hex);
	if (!strcmp(end, "eof")) {
		if (!strcmp(O.mode, "sink")) {
			char line[66];
			snprintf(line, sizeof(line), "%s\n", hex);
			int r = write_all(fd, line, 65);
			if (r < 0)
				end = "eof+reply-failed";
			else
				out += 65;
		} else if (!strcmp(O.mode, "echo")) {
			shutdown(fd, SHUT_WR);
		}
	}
	close(fd);
	free(buf);
	say("conn id=%u mode=%s in=%" PRIu64 " out=%" PRIu64 " in_sha256=%s end=%s secs=%.3f\n",
	    id, O.mode, in, out, hex, end, now() - t0);
	pthread_mutex_lock(&g_serve_mu);
	g_active--;
	pthread_cond_broadcast(&g_serve_cv);
	pthread_mutex_unlock(&g_serve_mu);
	return NULL;
}

static int cmd_serve(void)
{
	if (!O.mode)
		O.mode = "sink";
	if (strcmp(O.mode, "sink") && strcmp(O.mode, "echo") && strcmp(O.mode, "source"))
		die(EX_USAGE, "unknown --mode '%s' (sink|echo|source)", O.mode);
	if (!strcmp(O.mode, "source") && !O.bytes_set)
		die(EX_USAGE, "--mode source needs --bytes");
	snprintf(g_timeout_line, sizeof(g_timeout_line), "ok lifetime over (--timeout %.1f s)", O.timeout);
	g_timeout_code = EX_OK;

	struct sockaddr_in sa = {0};
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)O.port);
	if (inet_pton(AF_INET, O.bind ? O.bind : "127.0.0.1", &sa.sin_addr) != 1)
		die(EX_USAGE, "bad --bind '%s'", O.bind);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (O.rcvbuf)
		setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &O.rcvbuf, sizeof(O.rcvbuf));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(EX_USAGE, "bind port %d: %s", O.port, strerror(errno));
	if (listen(lfd, 1024) < 0)
		die(EX_USAGE, "listen: %s", strerror(errno));
	socklen_t sl = sizeof(sa);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	say("listening port=%d mode=%s\n", ntohs(sa.sin_port), O.mode);

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	long accepted = 0;
	while (!O.max_conns || accepted < O.max_conns) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		g_phase = "accepting";
		int fd = accept4(lfd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die(EX_FAIL, "accept: %s", strerror(errno));
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		accepted++;
		char pn[64] = "?";
		if (peer.ss_family == AF_INET) {
			struct sockaddr_in *p4 = (struct sockaddr_in *)&peer;
			char h[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &p4->sin_addr, h, sizeof(h));
			snprintf(pn, sizeof(pn), "%s:%d", h, ntohs(p4->sin_port));
		}
		say("accept n=%ld peer=%s\n", accepted, pn);
		pthread_mutex_lock(&g_serve_mu);
		g_active++;
		pthread_mutex_unlock(&g_serve_mu);
		pthread_t t;
		if (pthread_create(&t, &attr, serve_conn, (void *)(intptr_t)fd) != 0)
			die(EX_FAIL, "pthread_create failed");
	}
	close(lfd);
	g_phase = "waiting for the last connections";
	pthread_mutex_lock(&g_serve_mu);
	while (g_active > 0)
		pthread_cond_wait(&g_serve_cv, &g_serve_mu);
	pthread_mutex_unlock(&g_serve_mu);
	say("ok conns=%ld\n", accepted);
	return EX_OK;
}

/* -------------------------------------------------------------- send/recv */

struct echo_reader {
	int fd;
	uint64_t n;
	int err;
	char hex[65];
};

static void *echo_read(void *arg)
{
	struct echo_reader *er = arg;
	static uint8_t buf[CHUNK];
	struct sha h;
	sha_init(&h);
	for (;;) {
		ssize_t r = recv(er->fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			er->err = errno;
			break;
		}
		if (r == 0)
			break;
		er->n += (uint64_t)r;
		sha_update(&h, buf, (size_t)r);
	}
	sha_hex(&h, er->hex);
	return NULL;
}

/*
 * Sends n bytes of seed on fd and judges the answer. digest: expect the sink's
 * sha256 line; echo: expect the same bytes back. Writes the result line into msg.
 * *sent_out (optional) is updated as bytes go out.
 */
static int send_on(int fd, uint64_t n, uint64_t seed, bool digest, bool echo,
		   char *msg, size_t ml)
{
	static uint8_t buf[CHUNK];
	struct prng g;
	struct sha h;
	char hex[65];
	uint64_t sent = 0;
	double t0 = now();
	struct echo_reader er = {.fd = fd};
	pthread_t rt;

	if (echo && pthread_create(&rt, NULL, echo_read, &er) != 0) {
		snprintf(msg, ml, "FAIL pthread_create");
		return EX_FAIL;
	}
	prng_init(&g, seed);
	sha_init(&h);
	g_phase = "sending";
	while (sent < n) {
		size_t k = n - sent < CHUNK ? (size_t)(n - sent) : CHUNK;
		prng_fill(&g, buf, k);
		sha_update(&h, buf, k);
		int r = write_all(fd, buf, k);
		if (r < 0) {
			if (echo) {
				shutdown(fd, SHUT_RDWR);
				pthread_join(rt, NULL);
			}
			sha_free(&h);
			snprintf(msg, ml, "FAIL %s after %" PRIu64 " of %" PRIu64 " bytes sent: %s",
				 is_reset(-r) ? "reset" : "send error", sent, n, strerror(-r));
			return is_reset(-r) ? EX_RESET : EX_FAIL;
		}
		sent += k;
	}
	sha_hex(&h, hex);
	if (!digest && !echo) {
		snprintf(msg, ml, "ok sent bytes=%" PRIu64 " sha256=%s secs=%.3f", n, hex, now() - t0);
		return EX_OK;
	}
	shutdown(fd, SHUT_WR);
	if (echo) {
		g_phase = "reading the echo";
		pthread_join(rt, NULL);
		if (er.err) {
			snprintf(msg, ml, "FAIL %s after %" PRIu64 " echoed bytes: %s",
				 is_reset(er.err) ? "reset" : "recv error", er.n, strerror(er.err));
			return is_reset(er.err) ? EX_RESET : EX_FAIL;
		}
		if (er.n < n) {
			snprintf(msg, ml, "FAIL truncated echo: %" PRIu64 " of %" PRIu64 " bytes", er.n, n);
			return EX_TRUNC;
		}
		if (er.n != n || strcmp(er.hex, hex)) {
			snprintf(msg, ml, "FAIL echo mismatch: got %" PRIu64 " bytes sha256=%s, sent %" PRIu64
				 " sha256=%s", er.n, er.hex, n, hex);
			return EX_FAIL;
		}
		double s = now() - t0;
		snprintf(msg, ml, "ok sha256=%s bytes=%" PRIu64 " echoed secs=%.3f MBps=%.1f", hex, n, s,
			 (double)n / 1048576.0 / (s > 0 ? s : 1e-9));
		return EX_OK;
	}
	g_phase = "waiting for the digest";
	char reply[160];
	size_t got = 0;
	for (;;) {
		ssize_t r = recv(fd, reply + got, sizeof(reply) - 1 - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(msg, ml, "FAIL %s while waiting for the digest (%zu bytes of it): %s",
				 is_reset(errno) ? "reset" : "recv error", got, strerror(errno));
			return is_reset(errno) ? EX_RESET : EX_FAIL;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got == sizeof(reply) - 1)
			break;
	}
	reply[got] = 0;
	if (got < 65) {
		snprintf(msg, ml, "FAIL truncated: digest reply has %zu bytes, want 65", got);
		return EX_TRUNC;
	}
	if (got != 65 || reply[64] != '\n' || strncmp(reply, hex, 64)) {
		reply[strcspn(reply, "\n")] = 0;
		snprintf(msg, ml, "FAIL digest mismatch: target got sha256=%.64s, sent sha256=%s bytes=%" PRIu64,
			 reply, hex, n);
		return EX_FAIL;
	}
	double s = now() - t0;
	snprintf(msg, ml, "ok sha256=%s bytes=%" PRIu64 " secs=%.3f MBps=%.1f", hex, n, s,
		 (double)n / 1048576.0 / (s > 0 ? s : 1e-9));
	return EX_OK;
}

static int cmd_send(void)
{
	char msg[512];
	if (!O.connect || !O.bytes_set)
		die(EX_USAGE, "send needs --connect and --bytes");
	if (O.no_digest && O.echo)
		die(EX_USAGE, "--no-digest and --echo exclude each other");
	int fd = connect_or_die(O.connect);
	int rc = send_on(fd, O.bytes, O.seed, !O.no_digest && !O.echo, O.echo, msg, sizeof(msg));
	close(fd);
	say("%s\n", msg);
	return rc;
}

/* Reads until EOF and compares with what `source` sends; hex gets our sha. */
static int recv_on(int fd, uint64_t n, uint64_t seed, char *msg, size_t ml, char *hex_out)
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

static int cmd_recv(void)
{
	char msg[1024], msg2[512];
	if (!O.connect || !O.bytes_set)
		die(EX_USAGE, "recv needs --connect, --bytes and --seed");
	int fd = connect_or_die(O.connect);
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

/* ------------------------------------------------------------------- multi */

struct mstream {
	int fd;
	int idx;
	uint64_t size, sent, rcvd;
	struct prng g;
	struct sha tx, rx;
	uint8_t buf[16384];
	size_t boff, blen;
	bool connected, wdone, done;
	char err[160];
};

static void ms_fail(struct mstream *s, const char *what, int e)
{
	snprintf(s->err, sizeof(s->err), "stream %d (%" PRIu64 " bytes): %s%s%s after tx=%" PRIu64
		 " rx=%" PRIu64, s->idx, s->size, what, e ? ": " : "", e ? strerror(e) : "",
		 s->sent, s->rcvd);
	s->done = true;
}

static void ms_write(int ep, struct mstream *s)
{
	while (!s->wdone) {
		if (s->boff == s->blen) {
			uint64_t left = s->size - s->sent;
			if (!left) {
				shutdown(s->fd, SHUT_WR);
				s->wdone = true;
				struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = s};
				epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
				return;
			}
			s->blen = left < sizeof(s->buf) ? (size_t)left : sizeof(s->buf);
			s->boff = 0;
			prng_fill(&s->g, s->buf, s->blen);
			sha_update(&s->tx, s->buf, s->blen);
		}
		ssize_t w = send(s->fd, s->buf + s->boff, s->blen - s->boff, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			ms_fail(s, is_reset(errno) ? "reset on send" : "send error", errno);
			return;
		}
		s->boff += (size_t)w;
		s->sent += (uint64_t)w;
	}
}

static void ms_read(struct mstream *s)
{
	static uint8_t buf[CHUNK];
	for (;;) {
		ssize_t r = recv(s->fd, buf, sizeof(buf), 0);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			ms_fail(s, is_reset(errno) ? "reset" : "recv error", errno);
			return;
		}
		if (r == 0) {
			char a[65], b[65];
			if (!s->wdone) {
				ms_fail(s, "EOF before all bytes were sent", 0);
				return;
			}
			sha_hex(&s->tx, a);
			sha_hex(&s->rx, b);
			if (s->rcvd != s->size)
				ms_fail(s, s->rcvd < s->size ? "truncated echo" : "too many bytes", 0);
			else if (strcmp(a, b))
				ms_fail(s, "echo sha256 mismatch", 0);
			s->done = true;
			return;
		}
		s->rcvd += (uint64_t)r;
		sha_update(&s->rx, buf, (size_t)r);
	}
}

static int cmd_multi(void)
{
	if (!O.connect || O.streams <= 0)
		die(EX_USAGE, "multi needs --connect and --streams");
	if (!O.max_bytes)
		O.max_bytes = 2 << 20;
	if (O.min_bytes > O.max_bytes)
		die(EX_USAGE, "--min-bytes > --max-bytes");
	struct sockaddr_storage ss;
	socklen_t sl;
	resolve(O.connect, &ss, &sl);
	struct mstream *st = calloc((size_t)O.streams, sizeof(*st));
	if (!st)
		die(EX_USAGE, "out of memory");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct prng sizes;
	prng_init(&sizes, O.seed ^ 0x5eed5eedULL);
	uint64_t total = 0;
	double t0 = now();
	g_phase = "connecting";
	for (long i = 0; i < O.streams; i++) {
		struct mstream *s = &st[i];
		uint64_t r;
		prng_fill(&sizes, (uint8_t *)&r, sizeof(r));
		s->idx = (int)i;
		s->size = O.min_bytes + r % (O.max_bytes - O.min_bytes + 1);
		total += s->size;
		prng_init(&s->g, O.seed * 1000003ULL + (uint64_t)i + 1);
		sha_init(&s->tx);
		sha_init(&s->rx);
		s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s->fd < 0)
			die(EX_FAIL, "socket: %s", strerror(errno));
		if (connect(s->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
			ms_fail(s, "connect", errno);
			close(s->fd);
			s->fd = -1;
			continue;
		}
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = s};
		epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
	}
	long left = 0;
	for (long i = 0; i < O.streams; i++)
		left += !st[i].done;
	g_phase = "moving data";
	struct epoll_event evs[256];
	while (left > 0) {
		int n = epoll_wait(ep, evs, 256, 1000);
		if (n < 0 && errno == EINTR)
			continue;
		for (int k = 0; k < n; k++) {
			struct mstream *s = evs[k].data.ptr;
			if (s->done)
				continue;
			if (!s->connected) {
				int e = 0;
				socklen_t el = sizeof(e);
				getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &el);
				if (e) {
					ms_fail(s, "connect", e);
				} else if (evs[k].events & (EPOLLOUT | EPOLLIN)) {
					int one = 1;
					setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					s->connected = true;
				}
			}
			if (!s->done && s->connected && (evs[k].events & EPOLLOUT))
				ms_write(ep, s);
			if (!s->done && s->connected && (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR)))
				ms_read(s);
			if (s->done) {
				epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
				close(s->fd);
				s->fd = -1;
				left--;
			}
		}
	}
	long failed = 0;
	char line[4096];
	size_t off = 0;
	for (long i = 0; i < O.streams; i++) {
		if (!st[i].err[0])
			continue;
		if (failed < 8 && off < sizeof(line) - 200)
			off += (size_t)snprintf(line + off, sizeof(line) - off, "; %s", st[i].err);
		failed++;
		fprintf(stderr, "%s\n", st[i].err);
	}
	double s = now() - t0;
	for (long i = 0; i < O.streams; i++) {
		sha_free(&st[i].tx);
		sha_free(&st[i].rx);
	}
	free(st);
	close(ep);
	if (failed) {
		say("FAIL streams=%ld failed=%ld%s%s\n", O.streams, failed, line, failed > 8 ? "; ..." : "");
		return EX_FAIL;
	}
	say("ok streams=%ld bytes=%" PRIu64 " secs=%.3f MBps=%.1f\n", O.streams, total, s,
	    (double)total / 1048576.0 / (s > 0 ? s : 1e-9));
	return EX_OK;
}

/* -------------------------------------------------------------------- hold */

static int cmd_hold(void)
{
	const char *expect = O.expect ? O.expect : "any";
	static const char *known[] = {"reset", "eof", "any", "refused", "open", "gone", NULL};
	bool ok_name = false;
	for (int i = 0; known[i]; i++)
		ok_name |= !strcmp(known[i], expect);
	if (!O.connect || !ok_name)
		die(EX_USAGE, "hold needs --connect and --expect reset|eof|any|refused|open|gone");
	double t0 = now();
	int fd = connect_to(O.connect);
	if (fd < 0 && is_reset(-fd)) {
		/* The peer accepted and reset before connect() returned: that is
		 * a reset (a userspace TCP can be that quick), not a failure. */
		say("reset during connect: %s secs=%.3f\n", strerror(-fd), now() - t0);
		return !strcmp(expect, "reset") || !strcmp(expect, "any") || !strcmp(expect, "gone")
			       ? EX_OK : EX_RESET;
	}
	if (fd < 0) {
		bool refused = fd == -ECONNREFUSED;
		say("%s%s connect: %s secs=%.3f\n", refused ? "" : "FAIL ", refused ? "refused" : "error",
		    strerror(-fd), now() - t0);
		if (!refused)
			return EX_FAIL;
		return !strcmp(expect, "refused") || !strcmp(expect, "gone") ? EX_OK : EX_FAIL;
	}
	char local[80];
	local_name(fd, local, sizeof(local));
	fprintf(stderr, "connected local=%s\n", local);
	if (!strcmp(expect, "open")) {
		snprintf(g_timeout_line, sizeof(g_timeout_line), "open local=%s secs=%.3f", local, O.timeout);
		g_timeout_code = EX_OK;
	} else {
		snprintf(g_timeout_line, sizeof(g_timeout_line),
			 "FAIL timeout: still open after %.1f s local=%s", O.timeout, local);
	}
	uint8_t *payload = NULL;
	size_t plen = 0;
	if (O.send_hex) {
		payload = parse_hex(O.send_hex, &plen);
	} else if (O.send_text) {
		plen = strlen(O.send_text);
		payload = (uint8_t *)strdup(O.send_text);
	} else if (O.send_bytes) {
		plen = (size_t)O.send_bytes;
		payload = malloc(plen);
		struct prng g;
		prng_init(&g, O.seed);
		prng_fill(&g, payload, plen);
	}
	const char *outcome = NULL;
	uint64_t got = 0;
	if (plen) {
		int r = write_all(fd, payload, plen);
		if (r < 0)
			outcome = is_reset(-r) ? "reset" : "error";
	}
	free(payload);
	g_phase = "waiting for the connection to end";
	static uint8_t buf[CHUNK];
	while (!outcome && O.no_read) {
		/* Never read: the peer's bytes pile up in our receive queue. */
		struct pollfd p = {.fd = fd, .events = POLLRDHUP};
		if (poll(&p, 1, -1) < 0)
			continue;
		int e = 0, q = 0;
		socklen_t el = sizeof(e);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
		ioctl(fd, FIONREAD, &q);
		got = (uint64_t)q;
		if (e)
			outcome = is_reset(e) ? "reset" : "error";
		else if (p.revents & (POLLERR | POLLHUP))
			outcome = "reset";
		else if (p.revents & POLLRDHUP)
			outcome = "eof";
	}
	while (!outcome) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			outcome = is_reset(errno) ? "reset" : "error";
		else if (r == 0)
			outcome = "eof";
		else
			got += (uint64_t)r;
	}
	double s = now() - t0;
	bool match = !strcmp(expect, outcome) || (!strcmp(expect, "any") && strcmp(outcome, "error")) ||
		     (!strcmp(expect, "gone") && !strcmp(outcome, "reset"));
	say("%s%s bytes=%" PRIu64 " secs=%.3f local=%s%s%s\n", match ? "" : "FAIL ", outcome, got, s, local,
	    match ? "" : " expected=", match ? "" : expect);
	close(fd);
	return match ? EX_OK : EX_FAIL;
}

/* ---------------------------------------------------------------- slowpair */

struct slow {
	int fd;
	uint64_t total;
	uint64_t seed;
	atomic_ullong sent;
	atomic_bool blocked, done, stop;
	int err;
};

static void *slow_sender(void *arg)
{
	struct slow *s = arg;
	static uint8_t buf[16384];
	struct prng g;
	size_t off = 0, len = 0;
	prng_init(&g, s->seed);
	set_nonblock(s->fd);
	while (!atomic_load(&s->stop)) {
		if (off == len) {
			uint64_t left = s->total - atomic_load(&s->sent);
			if (!left) {
				atomic_store(&s->done, true);
				return NULL;
			}
			len = left < sizeof(buf) ? (size_t)left : sizeof(buf);
			off = 0;
			prng_fill(&g, buf, len);
		}
		struct pollfd p = {.fd = s->fd, .events = POLLOUT};
		int r = poll(&p, 1, 100);
		if (r == 0) {
			atomic_store(&s->blocked, true);
			continue;
		}
		ssize_t w = send(s->fd, buf + off, len - off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			s->err = errno;
			atomic_store(&s->done, true);
			return NULL;
		}
		off += (size_t)w;
		atomic_fetch_add(&s->sent, (unsigned long long)w);
	}
	return NULL;
}

static int cmd_slowpair(void)
{
	char msg[512];
	if (!O.slow || !O.fast || !O.slow_kind || !O.fast_kind || !O.slow_bytes || !O.fast_bytes)
		die(EX_USAGE, "slowpair needs --slow --slow-kind --slow-bytes --fast --fast-kind --fast-bytes");
	bool noread = !strcmp(O.slow_kind, "noread");
	if (!noread && strcmp(O.slow_kind, "send"))
		die(EX_USAGE, "--slow-kind send|noread");
	if (strcmp(O.fast_kind, "send") && strcmp(O.fast_kind, "recv"))
		die(EX_USAGE, "--fast-kind send|recv");

	struct slow s = {.total = O.slow_bytes, .seed = O.seed};
	pthread_t st;
	s.fd = connect_or_die(O.slow);
	double t0 = now();
	if (noread) {
		/* Wait until the source's bytes have backed up to us: our receive queue is
		 * non-empty and stopped growing for 500 ms (bounded by --timeout). */
		g_phase = "waiting for the slow stream to back up";
		int last = -1;
		double since = now();
		for (;;) {
			int q = 0;
			ioctl(s.fd, FIONREAD, &q);
			if (q != last) {
				last = q;
				since = now();
			} else if (q > 0 && now() - since >= 0.5) {
				break;
			}
			usleep(20000);
		}
		fprintf(stderr, "slow stream backed up: %d bytes queued at the client after %.2f s\n", last,
			now() - t0);
	} else {
		if (pthread_create(&st, NULL, slow_sender, &s) != 0)
			die(EX_FAIL, "pthread_create");
		g_phase = "waiting for the slow stream to block";
		while (!atomic_load(&s.blocked) && !atomic_load(&s.done))
			usleep(10000);
		if (atomic_load(&s.done))
			die(s.err && is_reset(s.err) ? EX_RESET : EX_FAIL,
			    "slow stream ended before it was ever blocked (sent %llu of %" PRIu64 "): %s",
			    (unsigned long long)atomic_load(&s.sent), s.total,
			    s.err ? strerror(s.err) : "all bytes were accepted at once; make --slow-bytes larger");
		fprintf(stderr, "slow stream blocked after %llu bytes, %.2f s\n",
			(unsigned long long)atomic_load(&s.sent), now() - t0);
	}

	int ffd = connect_or_die(O.fast);
	int rc;
	if (!strcmp(O.fast_kind, "send"))
		rc = send_on(ffd, O.fast_bytes, O.seed + 1, true, false, msg, sizeof(msg));
	else
		rc = recv_on(ffd, O.fast_bytes, O.seed + 1, msg, sizeof(msg), NULL);
	close(ffd);
	if (rc != EX_OK) {
		say("FAIL fast stream: %s\n", msg + (strncmp(msg, "FAIL ", 5) ? 0 : 5));
		return rc;
	}
	double fast_s = now() - t0;

	if (!noread) {
		unsigned long long sent = atomic_load(&s.sent);
		bool done = atomic_load(&s.done);
		atomic_store(&s.stop, true);
		pthread_join(st, NULL);
		/* Abort with RST so the stream's buffers are released at once. */
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(s.fd);
		if (done || sent >= s.total) {
			say("FAIL slow stream was not in progress when the fast one finished (sent %llu of %" PRIu64
			    ", err=%s); slow it down\n", sent, s.total, s.err ? strerror(s.err) : "none");
			return EX_FAIL;
		}
		say("ok fast_bytes=%" PRIu64 " fast_secs=%.3f slow=in-progress slow_sent=%llu slow_total=%" PRIu64 "\n",
		    O.fast_bytes, fast_s, sent, s.total);
		return EX_OK;
	}

	int q = 0;
	ioctl(s.fd, FIONREAD, &q);
	say("fast done fast_bytes=%" PRIu64 " fast_secs=%.3f slow_queued=%d\n", O.fast_bytes, fast_s, q);
	if (O.pause_file) {
		struct stat sb;
		g_phase = "waiting for --pause-file";
		while (stat(O.pause_file, &sb) != 0)
			usleep(20000);
	}
	char hex[65];
	rc = recv_on(s.fd, O.slow_bytes, O.seed, msg, sizeof(msg), hex);
	close(s.fd);
	if (rc != EX_OK) {
		say("FAIL slow stream: %s\n", msg + (strncmp(msg, "FAIL ", 5) ? 0 : 5));
		return rc;
	}
	say("ok fast_bytes=%" PRIu64 " fast_secs=%.3f slow_bytes=%" PRIu64 " slow_sha256=%s total_secs=%.3f\n",
	    O.fast_bytes, fast_s, O.slow_bytes, hex, now() - t0);
	return EX_OK;
}

/* --------------------------------------------------------------------- gen */

static int cmd_gen(void)
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

/* --------------------------------------------------------------------- tls */

enum {
	T_HELLO = 0x01, T_WELCOME = 0x02, T_REGISTER = 0x03, T_RESULT = 0x04,
	T_OPEN = 0x10, T_DATA = 0x11, T_WINDOW = 0x12, T_RESET = 0x13,
	T_PING = 0x20, T_GOAWAY = 0x21, T_ERROR = 0x22,
};
#define HDR 12
#define MAX_PAYLOAD 65536
#define DATA_MAX 16372

struct tconn {
	SSL *ssl;
	int fd;
	uint8_t rbuf[HDR + MAX_PAYLOAD + 1024];
	size_t rlen;
	bool closed;
	const char *end; /* close_notify | eof | reset | error */
	int err_code;    /* last ERROR frame's code, -1 if none */
	char err_msg[300];
	uint32_t last_open;
	uint32_t window;
	uint32_t req;
	int64_t credit; /* what we may still send on last_open */
};

static const char *tname(int t)
{
	switch (t) {
	case T_HELLO: return "HELLO";
	case T_WELCOME: return "WELCOME";
	case T_REGISTER: return "REGISTER";
	case T_RESULT: return "RESULT";
	case T_OPEN: return "OPEN";
	case T_DATA: return "DATA";
	case T_WINDOW: return "WINDOW";
	case T_RESET: return "RESET";
	case T_PING: return "PING";
	case T_GOAWAY: return "GOAWAY";
	case T_ERROR: return "ERROR";
	default: return "?";
	}
}

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void wr32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static void ssl_errstr(char *out, size_t ol)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, out, ol);
	else
		snprintf(out, ol, "%s", errno ? strerror(errno) : "no error detail");
}

/* Returns 0, or -1 when the connection is gone (tc->end set). */
static int t_write(struct tconn *tc, const void *b, size_t n)
{
	const uint8_t *p = b;
	while (n) {
		int w = SSL_write(tc->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
		if (w <= 0) {
			int e = SSL_get_error(tc->ssl, w);
			fprintf(stderr, "write failed: ssl error %d, errno %s\n", e, strerror(errno));
			tc->closed = true;
			tc->end = is_reset(errno) ? "reset" : "write-error";
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int t_frame(struct tconn *tc, int type, int flags, uint32_t sid, uint32_t len,
		   const uint8_t *pl, size_t plen)
{
	uint8_t h[HDR];
	h[0] = (uint8_t)type;
	h[1] = (uint8_t)flags;
	h[2] = h[3] = 0;
	wr32(h + 4, sid);
	wr32(h + 8, len);
	fprintf(stderr, "send %s(0x%02x) flags=0x%02x stream=%u len=%u payload=%zu\n", tname(type), type,
		flags, sid, len, plen);
	/* One buffer so header and payload go out in one TLS record where possible. */
	uint8_t *all = malloc(HDR + plen);
	if (!all)
		die(EX_USAGE, "out of memory");
	memcpy(all, h, HDR);
	if (plen)
		memcpy(all + HDR, pl, plen);
	int r = t_write(tc, all, HDR + plen);
	free(all);
	return r;
}

/*
 * Reads one frame. Returns its type, or -1 when the connection ended (tc->end set).
 * PINGs are answered here and not returned.
 */
static int t_read(struct tconn *tc, uint8_t *out_hdr, uint8_t **payload, uint32_t *plen)
{
	for (;;) {
		if (tc->rlen >= HDR) {
			uint32_t len = rd32(tc->rbuf + 8);
			if (len > MAX_PAYLOAD) {
				fprintf(stderr, "relay sent a frame with length %u\n", len);
				tc->closed = true;
				tc->end = "bad-frame-from-relay";
				return -1;
			}
			if (tc->rlen >= HDR + len) {
				static uint8_t frame[HDR + MAX_PAYLOAD];
				memcpy(frame, tc->rbuf, HDR + len);
				memmove(tc->rbuf, tc->rbuf + HDR + len, tc->rlen - HDR - len);
				tc->rlen -= HDR + len;
				int type = frame[0];
				uint32_t sid = rd32(frame + 4);
				fprintf(stderr, "recv %s(0x%02x) flags=0x%02x stream=%u len=%u\n", tname(type), type,
					frame[1], sid, len);
				if (type == T_WINDOW && sid == tc->last_open && len == 4)
					tc->credit += rd32(frame + HDR);
				if (type == T_PING && !(frame[1] & 0x02) && len == 8) {
					if (t_frame(tc, T_PING, 0x02, 0, 8, frame + HDR, 8) < 0)
						return -1;
					continue;
				}
				if ((type == T_ERROR || type == T_GOAWAY || type == T_RESET) && len >= 6) {
					uint16_t ml = rd16(frame + HDR + 4);
					if (ml > len - 6)
						ml = (uint16_t)(len - 6);
					fprintf(stderr, "     code=%u msg=\"%.*s\"\n", rd32(frame + HDR), ml, frame + HDR + 6);
					if (type == T_ERROR) {
						tc->err_code = (int)rd32(frame + HDR);
						snprintf(tc->err_msg, sizeof(tc->err_msg), "%.*s", ml, frame + HDR + 6);
					}
				}
				memcpy(out_hdr, frame, HDR);
				*payload = frame + HDR;
				*plen = len;
				return type;
			}
		}
		int r = SSL_read(tc->ssl, tc->rbuf + tc->rlen, (int)(sizeof(tc->rbuf) - tc->rlen));
		if (r <= 0) {
			int e = SSL_get_error(tc->ssl, r);
			tc->closed = true;
			if (e == SSL_ERROR_ZERO_RETURN)
				tc->end = "close_notify";
			else if (e == SSL_ERROR_SYSCALL && errno == 0)
				tc->end = "eof";
			else if (e == SSL_ERROR_SYSCALL && is_reset(errno))
				tc->end = "reset";
			else if (e == SSL_ERROR_SSL) {
				char es[256];
				ssl_errstr(es, sizeof(es));
				fprintf(stderr, "tls error: %s\n", es);
				/* OpenSSL reports an EOF without close_notify as an SSL error. */
				tc->end = strstr(es, "unexpected eof") ? "eof" : "tls-error";
			} else
				tc->end = "error";
			if (tc->rlen)
				fprintf(stderr, "%zu bytes of a partial frame left when the connection ended\n", tc->rlen);
			return -1;
		}
		tc->rlen += (size_t)r;
	}
}

/* Reads until a frame of type want arrives; returns 0, or -1 if the connection ended. */
static int t_wait(struct tconn *tc, int want, uint8_t *hdr, uint8_t **pl, uint32_t *plen)
{
	for (;;) {
		int t = t_read(tc, hdr, pl, plen);
		if (t < 0)
			return -1;
		if (t == want)
			return 0;
		if (t == T_ERROR)
			return -1;
	}
}

static int t_op(struct tconn *tc, const struct op *op)
{
	uint8_t hdr[HDR], *pl;
	uint32_t plen;
	if (!strcmp(op->name, "hello")) {
		char tok[256];
		snprintf(tok, sizeof(tok), "%s", op->arg);
		char *name = strchr(tok, ':');
		if (name)
			*name++ = 0;
		size_t tl = strlen(tok), nl = name ? strlen(name) : 0;
		if (tl > 255 || nl > 255)
			die(EX_USAGE, "hello token/name too long");
		uint8_t p[18 + 512];
		uint64_t sess;
		struct prng g;
		prng_init(&g, (uint64_t)getpid() ^ (uint64_t)(now() * 1e6));
		prng_fill(&g, (uint8_t *)&sess, sizeof(sess));
		wr16(p, 1);
		wr16(p + 2, 1);
		wr32(p + 4, 0);
		for (int i = 0; i < 8; i++)
			p[8 + i] = (uint8_t)(sess >> (56 - 8 * i));
		p[16] = (uint8_t)tl;
		memcpy(p + 17, tok, tl);
		p[17 + tl] = (uint8_t)nl;
		if (nl)
			memcpy(p + 18 + tl, name, nl);
		size_t len = 18 + tl + nl;
		if (t_frame(tc, T_HELLO, 0, 0, (uint32_t)len, p, len) < 0)
			return -1;
		g_phase = "waiting for WELCOME";
		if (t_wait(tc, T_WELCOME, hdr, &pl, &plen) < 0)
			return -1;
		if (plen == 16) {
			tc->window = rd32(pl + 12);
			fprintf(stderr, "     welcome version=%u workers=%u keepalive_ms=%u window=%u\n", rd16(pl),
				rd16(pl + 2), rd32(pl + 8), tc->window);
		}
		return 0;
	}
	if (!strcmp(op->name, "register")) {
		uint8_t p[6];
		long port = strtol(op->arg, NULL, 10);
		wr32(p, ++tc->req);
		wr16(p + 4, (uint16_t)port);
		if (t_frame(tc, T_REGISTER, 0, 0, 6, p, 6) < 0)
			return -1;
		g_phase = "waiting for RESULT";
		if (t_wait(tc, T_RESULT, hdr, &pl, &plen) < 0)
			return -1;
		uint32_t code = plen >= 10 ? rd32(pl + 4) : 0xffffffffu;
		int ml = plen >= 10 ? rd16(pl + 8) : 0;
		if (ml > (int)plen - 10)
			ml = plen >= 10 ? (int)plen - 10 : 0;
		fprintf(stderr, "     result code=%u msg=\"%.*s\"\n", code, ml, pl + 10);
		if (code != 0)
			die(EX_FAIL, "REGISTER %ld refused: code=%u \"%.*s\"", port, code, ml, pl + 10);
		return 0;
	}
	if (!strcmp(op->name, "wait-open")) {
		g_phase = "waiting for OPEN";
		if (t_wait(tc, T_OPEN, hdr, &pl, &plen) < 0)
			return -1;
		tc->last_open = rd32(hdr + 4);
		tc->credit = tc->window;
		fprintf(stderr, "     open stream=%u port=%u\n", tc->last_open, plen >= 2 ? rd16(pl) : 0);
		return 0;
	}
	if (!strcmp(op->name, "frame")) {
		/* TYPE,FLAGS,STREAM,LEN[,HEX]; STREAM "S" = the last OPEN's id; LEN "-" = payload size */
		char a[4096];
		snprintf(a, sizeof(a), "%s", op->arg);
		char *f[5] = {0};
		int nf = 0;
		for (char *save = NULL, *t = strtok_r(a, ",", &save); t && nf < 5; t = strtok_r(NULL, ",", &save))
			f[nf++] = t;
		if (nf < 4)
			die(EX_USAGE, "--frame TYPE,FLAGS,STREAM,LEN[,HEX]");
		size_t hl = 0;
		uint8_t *hx = nf == 5 ? parse_hex(f[4], &hl) : NULL;
		uint32_t sid = !strcmp(f[2], "S") ? tc->last_open : (uint32_t)strtoul(f[2], NULL, 0);
		uint32_t len = !strcmp(f[3], "-") ? (uint32_t)hl : (uint32_t)strtoul(f[3], NULL, 0);
		int r = t_frame(tc, (int)strtol(f[0], NULL, 0), (int)strtol(f[1], NULL, 0), sid, len, hx, hl);
		free(hx);
		return r;
	}
	if (!strcmp(op->name, "raw")) {
		size_t n;
		uint8_t *b = parse_hex(op->arg, &n);
		fprintf(stderr, "send %zu raw bytes\n", n);
		int r = t_write(tc, b, n);
		free(b);
		return r;
	}
	if (!strcmp(op->name, "data")) {
		/* STREAM,BYTES: DATA frames of up to 16372 bytes, ignoring the window */
		char a[128];
		snprintf(a, sizeof(a), "%s", op->arg);
		char *comma = strchr(a, ',');
		if (!comma)
			die(EX_USAGE, "--data STREAM,BYTES");
		*comma = 0;
		uint32_t sid = !strcmp(a, "S") ? tc->last_open : (uint32_t)strtoul(a, NULL, 0);
		uint64_t n = parse_size(comma + 1, "--data bytes");
		static uint8_t buf[HDR + DATA_MAX];
		fprintf(stderr, "send %" PRIu64 " bytes of DATA on stream %u\n", n, sid);
		while (n) {
			size_t k = n < DATA_MAX ? (size_t)n : DATA_MAX;
			buf[0] = T_DATA;
			buf[1] = buf[2] = buf[3] = 0;
			wr32(buf + 4, sid);
			wr32(buf + 8, (uint32_t)k);
			memset(buf + HDR, 'x', k);
			if (t_write(tc, buf, HDR + k) < 0)
				return -1;
			n -= k;
		}
		return 0;
	}
	if (!strcmp(op->name, "fill")) {
		/* STREAM: send DATA within our credit until the relay grants none for 1 s,
		 * i.e. its side of the stream is full (the public client is not reading). */
		uint32_t sid = !strcmp(op->arg, "S") ? tc->last_open : (uint32_t)strtoul(op->arg, NULL, 0);
		static uint8_t buf[HDR + DATA_MAX];
		uint64_t total = 0;
		g_phase = "filling the stream's window";
		for (;;) {
			if (tc->credit > 0) {
				size_t k = tc->credit < DATA_MAX ? (size_t)tc->credit : DATA_MAX;
				buf[0] = T_DATA;
				buf[1] = buf[2] = buf[3] = 0;
				wr32(buf + 4, sid);
				wr32(buf + 8, (uint32_t)k);
				memset(buf + HDR, 'f', k);
				if (t_write(tc, buf, HDR + k) < 0)
					return -1;
				tc->credit -= (int64_t)k;
				total += k;
				if (total > (1ULL << 30))
					die(EX_FAIL, "relay granted credit for over 1 GiB to a stream whose client reads nothing");
				continue;
			}
			struct pollfd p = {.fd = tc->fd, .events = POLLIN};
			if (!SSL_pending(tc->ssl) && poll(&p, 1, 1000) == 0)
				break;
			if (t_read(tc, hdr, &pl, &plen) < 0)
				return -1;
			if (tc->err_code >= 0)
				return -1;
		}
		fprintf(stderr, "     filled stream %u with %" PRIu64 " bytes; credit now %" PRId64 "\n", sid,
			total, tc->credit);
		return 0;
	}
	if (!strcmp(op->name, "overflow")) {
		/* STREAM: send one byte more than our credit. */
		uint32_t sid = !strcmp(op->arg, "S") ? tc->last_open : (uint32_t)strtoul(op->arg, NULL, 0);
		static uint8_t buf[HDR + DATA_MAX];
		int64_t n = (tc->credit > 0 ? tc->credit : 0) + 1;
		fprintf(stderr, "send %" PRId64 " bytes of DATA on stream %u, credit %" PRId64 "\n", n, sid, tc->credit);
		while (n > 0) {
			size_t k = n < DATA_MAX ? (size_t)n : DATA_MAX;
			buf[0] = T_DATA;
			buf[1] = buf[2] = buf[3] = 0;
			wr32(buf + 4, sid);
			wr32(buf + 8, (uint32_t)k);
			memset(buf + HDR, 'o', k);
			if (t_write(tc, buf, HDR + k) < 0)
				return -1;
			n -= (int64_t)k;
		}
		return 0;
	}
	if (!strcmp(op->name, "close-notify")) {
		fprintf(stderr, "send close_notify and shut down our write side\n");
		SSL_shutdown(tc->ssl);
		shutdown(tc->fd, SHUT_WR);
		return 0;
	}
	die(EX_USAGE, "unknown tls op '%s'", op->name);
}

static int cmd_tls(void)
{
	if (!O.connect || (!O.ca && !O.insecure))
		die(EX_USAGE, "tls needs --connect and --ca FILE (or --insecure)");
	const char *expect = O.expect_error ? O.expect_error : "any";
	static struct tconn tc;
	tc.err_code = -1;
	double t0 = now();

	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		die(EX_USAGE, "SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	if (O.ca) {
		if (SSL_CTX_load_verify_locations(ctx, O.ca, NULL) != 1)
			die(EX_USAGE, "cannot load CA file %s", O.ca);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	char host[256], port[32];
	split_hostport(O.connect, host, sizeof(host), port, sizeof(port));
	const char *vname = O.name ? O.name : host;
	tc.fd = connect_or_die(O.connect);
	tc.ssl = SSL_new(ctx);
	SSL_set_fd(tc.ssl, tc.fd);
	struct in6_addr a6;
	struct in_addr a4;
	bool is_ip = inet_pton(AF_INET, vname, &a4) == 1 || inet_pton(AF_INET6, vname, &a6) == 1;
	if (!is_ip)
		SSL_set_tlsext_host_name(tc.ssl, vname);
	if (O.ca) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(tc.ssl);
		if (is_ip)
			X509_VERIFY_PARAM_set1_ip_asc(vp, vname);
		else
			SSL_set1_host(tc.ssl, vname);
	}
	g_phase = "in the TLS handshake";
	if (SSL_connect(tc.ssl) != 1) {
		char es[256];
		ssl_errstr(es, sizeof(es));
		die(EX_FAIL, "TLS handshake with %s: %s (verify: %s)", O.connect, es,
		    X509_verify_cert_error_string(SSL_get_verify_result(tc.ssl)));
	}
	char local[80];
	local_name(tc.fd, local, sizeof(local));
	fprintf(stderr, "tls up local=%s %s\n", local, SSL_get_version(tc.ssl));

	for (int i = 0; i < O.nops && !tc.closed; i++) {
		if (t_op(&tc, &O.ops[i]) < 0 && !tc.closed)
			break;
		if (tc.err_code >= 0)
			break; /* the relay refused: go straight to watching it close */
	}
	g_phase = "waiting for the relay to close the connection";
	snprintf(g_timeout_line, sizeof(g_timeout_line),
		 "FAIL timeout: the relay did not close the connection within %.1f s (error=%d) local=%s",
		 O.timeout, tc.err_code, local);
	while (!tc.closed) {
		uint8_t hdr[HDR], *pl;
		uint32_t plen;
		t_read(&tc, hdr, &pl, &plen);
	}
	double s = now() - t0;
	bool match;
	if (!strcmp(expect, "any"))
		match = true;
	else if (!strcmp(expect, "none"))
		match = tc.err_code < 0;
	else
		match = tc.err_code == (int)strtol(expect, NULL, 0);
	say("%sclosed error=%d msg=\"%s\" end=%s secs=%.3f local=%s%s%s\n", match ? "" : "FAIL ", tc.err_code,
	    tc.err_msg, tc.end, s, local, match ? "" : " expected_error=", match ? "" : expect);
	SSL_free(tc.ssl);
	SSL_CTX_free(ctx);
	close(tc.fd);
	return match ? EX_OK : EX_FAIL;
}

/* ------------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fy-load COMMAND [options]   (--timeout SECS bounds every command; default 60)\n"
		"  serve    --port P [--bind A] --mode sink|echo|source [--bytes N --seed S]\n"
		"           [--max-conns N] [--slow-read BYTES_PER_SEC] [--rcvbuf BYTES]\n"
		"           sink: read to EOF, answer the sha256 hex + \\n; echo: echo to EOF, then\n"
		"           shut down writing; source: write N bytes of seed S, shut down writing,\n"
		"           read to EOF. Prints 'listening port=P', 'accept ...' and one\n"
		"           'conn id=.. in=.. out=.. in_sha256=.. end=eof|reset' line per connection.\n"
		"  send     --connect H:P --bytes N [--seed S] [--no-digest | --echo]\n"
		"  recv     --connect H:P --bytes N --seed S [--then-send M --send-seed S2]\n"
		"  multi    --connect H:P --streams N [--min-bytes A] [--max-bytes B (2M)] --seed S\n"
		"  hold     --connect H:P [--expect reset|eof|any|refused|open|gone] [--no-read]\n"
		"           [--send-text T | --send-hex HEX | --send-bytes N]\n"
		"  slowpair --slow H:P --slow-kind send|noread --slow-bytes N\n"
		"           --fast H:P --fast-kind send|recv --fast-bytes N --seed S [--pause-file F]\n"
		"           (fast stream uses seed S+1)\n"
		"  tls      --connect H:P (--ca FILE | --insecure) [--name N] [--expect-error CODE|none|any]\n"
		"           then ops in order: --hello TOKEN[:NAME]  --register PORT  --wait-open\n"
		"           --frame TYPE,FLAGS,STREAM,LEN[,HEX] (STREAM S = last OPEN, LEN - = hex size)\n"
		"           --raw HEX  --data STREAM,BYTES (ignores the window)  --fill STREAM (send within\n"
		"           the credit until none is granted for 1 s)  --overflow STREAM (credit + 1 bytes)\n"
		"           --close-notify ; then waits for the relay to close the connection\n"
		"  gen      --bytes N --seed S\n"
		"exit: 0 ok, 1 failure, 2 usage, 3 reset, 4 truncated, 5 timeout\n");
}

static bool is_op(const char *k)
{
	static const char *ops[] = {"hello", "register", "wait-open", "frame", "raw", "data", "fill", "overflow",
				    "close-notify", NULL};
	for (int i = 0; ops[i]; i++)
		if (!strcmp(k, ops[i]))
			return true;
	return false;
}

static void parse(int argc, char **argv)
{
	O.timeout = 60;
	O.cmd = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2))
			die(EX_USAGE, "unexpected argument '%s'", a);
		const char *k = a + 2;
		/* flags without a value */
		if (!strcmp(k, "no-digest")) { O.no_digest = true; continue; }
		if (!strcmp(k, "echo")) { O.echo = true; continue; }
		if (!strcmp(k, "insecure")) { O.insecure = true; continue; }
		if (!strcmp(k, "no-read")) { O.no_read = true; continue; }
		if (!strcmp(k, "wait-open") || !strcmp(k, "close-notify")) {
			if (O.nops == MAX_OPS)
				die(EX_USAGE, "too many tls ops");
			O.ops[O.nops++] = (struct op){k, ""};
			continue;
		}
		if (!strcmp(k, "help")) {
			usage(stdout);
			exit(EX_OK);
		}
		if (i + 1 >= argc)
			die(EX_USAGE, "%s needs a value", a);
		const char *v = argv[++i];
		if (is_op(k)) {
			if (O.nops == MAX_OPS)
				die(EX_USAGE, "too many tls ops");
			O.ops[O.nops++] = (struct op){k, v};
		} else if (!strcmp(k, "connect")) O.connect = v;
		else if (!strcmp(k, "bind")) O.bind = v;
		else if (!strcmp(k, "port")) O.port = (int)parse_size(v, a);
		else if (!strcmp(k, "mode")) O.mode = v;
		else if (!strcmp(k, "bytes")) { O.bytes = parse_size(v, a); O.bytes_set = true; }
		else if (!strcmp(k, "seed")) O.seed = parse_size(v, a);
		else if (!strcmp(k, "timeout")) O.timeout = strtod(v, NULL);
		else if (!strcmp(k, "max-conns")) O.max_conns = (long)parse_size(v, a);
		else if (!strcmp(k, "slow-read")) O.slow_read = parse_size(v, a);
		else if (!strcmp(k, "rcvbuf")) O.rcvbuf = (int)parse_size(v, a);
		else if (!strcmp(k, "streams")) O.streams = (long)parse_size(v, a);
		else if (!strcmp(k, "min-bytes")) O.min_bytes = parse_size(v, a);
		else if (!strcmp(k, "max-bytes")) O.max_bytes = parse_size(v, a);
		else if (!strcmp(k, "expect")) O.expect = v;
		else if (!strcmp(k, "send-text")) O.send_text = v;
		else if (!strcmp(k, "send-hex")) O.send_hex = v;
		else if (!strcmp(k, "send-bytes")) O.send_bytes = parse_size(v, a);
		else if (!strcmp(k, "then-send")) O.then_send = parse_size(v, a);
		else if (!strcmp(k, "send-seed")) O.send_seed = parse_size(v, a);
		else if (!strcmp(k, "pause-file")) O.pause_file = v;
		else if (!strcmp(k, "slow")) O.slow = v;
		else if (!strcmp(k, "slow-kind")) O.slow_kind = v;
		else if (!strcmp(k, "slow-bytes")) O.slow_bytes = parse_size(v, a);
		else if (!strcmp(k, "fast")) O.fast = v;
		else if (!strcmp(k, "fast-kind")) O.fast_kind = v;
		else if (!strcmp(k, "fast-bytes")) O.fast_bytes = parse_size(v, a);
		else if (!strcmp(k, "ca")) O.ca = v;
		else if (!strcmp(k, "name")) O.name = v;
		else if (!strcmp(k, "expect-error")) O.expect_error = v;
		else die(EX_USAGE, "unknown option '%s' (fy-load --help)", a);
	}
	if (!(O.timeout > 0))
		die(EX_USAGE, "--timeout must be > 0");
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	parse(argc, argv);
	arm_timeout(O.timeout);
	if (!strcmp(O.cmd, "serve")) return cmd_serve();
	if (!strcmp(O.cmd, "send")) return cmd_send();
	if (!strcmp(O.cmd, "recv")) return cmd_recv();
	if (!strcmp(O.cmd, "multi")) return cmd_multi();
	if (!strcmp(O.cmd, "hold")) return cmd_hold();
	if (!strcmp(O.cmd, "slowpair")) return cmd_slowpair();
	if (!strcmp(O.cmd, "tls")) return cmd_tls();
	if (!strcmp(O.cmd, "gen")) return cmd_gen();
	usage(stderr);
	die(EX_USAGE, "unknown command '%s'", O.cmd);
}
