/*
 * fy-load's core: options, usage, main, and what the commands share (the splitmix64
 * byte stream, sha256, sockets, the timeout, output). See fy_load.h for the tool.
 */
#include "fy_load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct opts O;

/* ------------------------------------------------------------ small utils */

double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void die(int code, const char *fmt, ...)
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

void say(const char *fmt, ...)
{
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

uint64_t parse_size(const char *s, const char *what)
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

uint8_t *parse_hex(const char *s, size_t *len)
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
static double g_deadline;
const char *volatile g_phase = "starting";

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

void arm_timeout(double secs)
{
	struct itimerval it = {0};
	snprintf(g_timeout_line, sizeof(g_timeout_line), "FAIL timeout after %.1f s", secs);
	signal(SIGALRM, on_alarm);
	it.it_value.tv_sec = (time_t)secs;
	it.it_value.tv_usec = (suseconds_t)((secs - (double)(time_t)secs) * 1e6);
	if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
		it.it_value.tv_usec = 1000;
	g_deadline = now() + secs;
	setitimer(ITIMER_REAL, &it, NULL);
}

void timeout_says(int code, const char *fmt, ...)
{
	/* SIGALRM held off so the handler never prints a half-written line. */
	sigset_t alrm, old;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_BLOCK, &alrm, &old);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(g_timeout_line, sizeof(g_timeout_line), fmt, ap);
	va_end(ap);
	g_timeout_code = code;
	sigprocmask(SIG_SETMASK, &old, NULL);
}

double run_window(double duration)
{
	double left = g_deadline - now();
	double secs = duration > 0 && duration < left ? duration : left;
	if (secs < 0)
		secs = 0;
	arm_timeout(secs + 2.0);
	return secs;
}

/* ------------------------------------------------------ pseudo-random data */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void prng_init(struct prng *p, uint64_t seed)
{
	p->s = seed;
	p->w = 0;
	p->left = 0;
}

void prng_fill(struct prng *p, uint8_t *b, size_t n)
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

uint8_t *prng_bytes(uint64_t seed, size_t n)
{
	struct prng g;
	uint8_t *b = malloc(n ? n : 1);
	if (!b)
		die(EX_USAGE, "out of memory");
	prng_init(&g, seed);
	prng_fill(&g, b, n);
	return b;
}

/* ------------------------------------------------------------------ sha256 */

void sha_init(struct sha *h)
{
	h->c = EVP_MD_CTX_new();
	if (!h->c || EVP_DigestInit_ex(h->c, EVP_sha256(), NULL) != 1)
		die(EX_USAGE, "EVP sha256 init failed");
}

void sha_update(struct sha *h, const void *b, size_t n)
{
	if (n && EVP_DigestUpdate(h->c, b, n) != 1)
		die(EX_USAGE, "EVP sha256 update failed");
}

void sha_hex(struct sha *h, char *hex)
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

void sha_free(struct sha *h)
{
	EVP_MD_CTX_free(h->c);
	h->c = NULL;
}

void expected_sha(uint64_t n, uint64_t seed, char *hex)
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

bool is_reset(int e)
{
	return e == ECONNRESET || e == EPIPE || e == ECONNABORTED;
}

void split_hostport(const char *hp, char *host, size_t hl, char *port, size_t pl)
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

void resolve(const char *hp, struct sockaddr_storage *ss, socklen_t *sl)
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

void parse_source(const char *s, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	else
		die(EX_USAGE, "bad source address '%s' (a numeric IPv4 or IPv6 address)", s);
}

int sock_open(int family, const struct sockaddr_storage *src, bool nonblock)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -errno;
	if (src) {
		/* The port is chosen at connect, per destination: many sockets can share
		 * one source address without running out of ports at bind. */
		int one = 1;
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		socklen_t sl = src->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							  : sizeof(struct sockaddr_in);
		if (bind(fd, (const struct sockaddr *)src, sl) < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
	}
	return fd;
}

int sock_error(int fd)
{
	int e = 0;
	socklen_t el = sizeof(e);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
	return e;
}

void set_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int connect_from(const char *hp, const struct sockaddr_storage *src)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	resolve(hp, &ss, &sl);
	int fd = sock_open(ss.ss_family, src, false);
	if (fd < 0)
		return fd;
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	set_nodelay(fd);
	return fd;
}

int connect_to(const char *hp)
{
	return connect_from(hp, NULL);
}

int connect_or_die(const char *hp, const struct sockaddr_storage *src)
{
	int fd = connect_from(hp, src);
	if (fd < 0)
		die(EX_FAIL, "connect %s: %s", hp, strerror(-fd));
	return fd;
}

void local_name(int fd, char *out, size_t ol)
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

int write_all(int fd, const void *b, size_t n)
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

int write_some(int fd, const uint8_t *b, size_t n, size_t *off)
{
	while (*off < n) {
		ssize_t w = send(fd, b + *off, n - *off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		*off += (size_t)w;
	}
	return 0;
}

void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void raise_nofile(long n)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)n)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= (rlim_t)n ? (rlim_t)n : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < (rlim_t)n)
		fprintf(stderr, "open-files limit is %llu, below the %ld this run wants\n",
			(unsigned long long)rl.rlim_cur, n);
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
		"           [--conns N] [--duration SECS]  with either: N connections (default 1) at\n"
		"           once, each sending and (not) reading as above, held until they end or\n"
		"           --duration (or --timeout) passes; one line 'ok conns=N connected=C reset=R\n"
		"           eof=E refused=F open=O error=X bytes=B secs=S' (FAIL and exit 1 when\n"
		"           --expect is given and some connection's outcome differs; open = held)\n"
		"  slowpair --slow H:P --slow-kind send|noread --slow-bytes N\n"
		"           --fast H:P --fast-kind send|recv --fast-bytes N --seed S [--pause-file F]\n"
		"           (fast stream uses seed S+1)\n"
		"  tls      --connect H:P (--ca FILE | --insecure) [--name N] [--expect-error CODE|none|any]\n"
		"           then ops in order: --hello TOKEN[:NAME]  --register PORT  --wait-open\n"
		"           --frame TYPE,FLAGS,STREAM,LEN[,HEX] (STREAM S = last OPEN, LEN - = hex size)\n"
		"           --raw HEX  --data STREAM,BYTES (ignores the window)  --fill STREAM (send within\n"
		"           the credit until none is granted for 1 s)  --overflow STREAM (credit + 1 bytes)\n"
		"           --close-notify ; then waits for the relay to close the connection\n"
		"           [--source ADDR] connects from local address ADDR. [--repeat N] runs the ops\n"
		"           over N fresh connections, one after another, and prints 'ok repeat=N\n"
		"           [error_CODE=K ...] refused_early=J other=M' (an error_ count per ERROR code\n"
		"           received, e.g. error_AUTH; refused_early: refused, closed or reset before the\n"
		"           TLS handshake finished; other: anything else); --expect-error does not apply\n"
		"  flood    --connect H:P --conns N [--sources A.B.C.D[-A.B.C.E]] --duration SECS\n"
		"           [--send-bytes K] [--seed S]   keeps N idle connections open, bound round-robin\n"
		"           to the source addresses, each sending K bytes of seed S and nothing more;\n"
		"           one the peer closes or resets is replaced at once (one whose connect fails,\n"
		"           after 50 ms); ends after --duration (or --timeout). Prints 'flood open=X\n"
		"           closed_by_peer=Y connecting=Z connect_failed=F' about once a second, then\n"
		"           'ok opened=.. closed_by_peer=.. connect_failed=.. max_open=..'\n"
		"  udp      --connect H:P --count N [--size S (512)] [--seed X] [--rate PPS (0: unpaced)]\n"
		"           [--conns K (source sockets, used in turn)] [--source-port P (sources bound to\n"
		"           127.0.0.1:P..P+K-1)] [--linger SECS (1)] [--no-read] [--duration SECS (stop\n"
		"           sending after SECS, even before N)]\n"
		"           N numbered, checksummed datagrams; reads the echoes while sending, then until\n"
		"           all are back or --linger passes without one. 'ok sent=N received=R lost=L\n"
		"           reordered=O corrupt=C dup=D send_errors=E sources=K answered_sources=A ...'\n"
		"           FAIL (exit 1) when corrupt > 0 or nothing came back (unless --no-read)\n"
		"  udpecho  --port P [--bind A] [--mode echo|sink] [--rcvbuf N]   a UDP echo (or sink);\n"
		"           'listening port=P mode=udp-echo', then 'udp in=.. out=..' lines\n"
		"           (serve --mode udp-echo|udp-sink runs it too)\n"
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
	O.conns = 1;
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
		else if (!strcmp(k, "conns")) { O.conns = (long)parse_size(v, a); O.conns_set = true; }
		else if (!strcmp(k, "duration")) {
			O.duration = strtod(v, NULL);
			if (!(O.duration > 0))
				die(EX_USAGE, "--duration must be > 0");
		}
		else if (!strcmp(k, "sources")) O.sources = v;
		else if (!strcmp(k, "source")) O.source = v;
		else if (!strcmp(k, "repeat")) { O.repeat = (long)parse_size(v, a); O.repeat_set = true; }
		else if (!strcmp(k, "count")) O.count = parse_size(v, a);
		else if (!strcmp(k, "size")) O.size = parse_size(v, a);
		else if (!strcmp(k, "rate")) {
			O.rate = strtod(v, NULL);
			if (!(O.rate >= 0))
				die(EX_USAGE, "--rate must be >= 0");
		}
		else if (!strcmp(k, "linger")) O.linger = strtod(v, NULL);
		else if (!strcmp(k, "source-port")) {
			O.source_port = (long)parse_size(v, a);
			if (O.source_port < 1 || O.source_port > 65535)
				die(EX_USAGE, "--source-port must be 1..65535");
		}
		else die(EX_USAGE, "unknown option '%s' (fy-load --help)", a);
	}
	if (!(O.timeout > 0))
		die(EX_USAGE, "--timeout must be > 0");
	if (O.conns_set && (O.conns <= 0 || O.conns > 1000000))
		die(EX_USAGE, "--conns must be 1..1000000");
	if (O.repeat_set && (O.repeat <= 0 || O.repeat > 1000000))
		die(EX_USAGE, "--repeat must be 1..1000000");
}

static const struct {
	const char *name;
	int (*run)(void);
} commands[] = {
	{"serve", cmd_serve},
	{"send", cmd_send},
	{"recv", cmd_recv},
	{"multi", cmd_multi},
	{"hold", cmd_hold},
	{"slowpair", cmd_slowpair},
	{"tls", cmd_tls},
	{"flood", cmd_flood},
	{"gen", cmd_gen},
	{"udp", cmd_udp},
	{"udpecho", cmd_udpecho},
};

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
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(O.cmd, commands[i].name))
			return commands[i].run();
	usage(stderr);
	die(EX_USAGE, "unknown command '%s'", O.cmd);
}
