/*
 * fy-bench: load tool and targets for bench/run.
 *
 *   fy-bench echo-server --port P [--bind A] [--threads N] [--max-seconds S]
 *   fy-bench http-server --port P [--bind A] [--threads N] [--body B] [--max-seconds S]
 *   fy-bench rr      --host H --port P [--conns N] [--size B] [--duration D]
 *                    [--samples FILE] [--samples-max K]
 *   fy-bench connect --host H --port P [--threads T] [--duration D] [--size B]
 *   fy-bench hold    --host H --port P --conns N [--duration S] [--window W]
 *                    [--setup-timeout S] [--ready-file F]
 *   fy-bench probe   --host H --port P [--timeout S] [--kind echo|http|tcp]
 *
 * Client modes print one JSON object on stdout and exit 0 only when the
 * measurement is sound (no errors, at least one sample).  Every duration and
 * count is capped (see the CAP_ constants) so that a broken tunnel can never
 * make a run last forever.
 *
 * Build: cc -O2 -std=c11 -D_GNU_SOURCE -pthread -o fy-bench bench/fy-bench.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define CAP_DURATION_S 600.0
#define CAP_SERVER_S 86400
#define CAP_THREADS 256
#define CAP_RR_CONNS 1024
#define CAP_HOLD_CONNS 200000
#define CAP_SIZE (1 << 20)
#define CAP_SAMPLES_PER_THREAD (8u << 20) /* reservoir beyond this */
#define IO_TIMEOUT_MS 5000
#define SERVER_BUF (64 * 1024)

/* ------------------------------------------------------------------ */
/* options                                                              */

struct opts {
	const char *mode;
	const char *host;
	const char *bind;
	const char *samples;
	const char *ready_file;
	const char *kind;
	int port;
	int threads;
	int conns;
	int size;
	int window;
	int body;
	long samples_max;
	double duration;
	double setup_timeout;
	double timeout;
	int max_seconds;
};

static void usage(FILE *f)
{
	fputs("usage:\n"
	      "  fy-bench echo-server --port P [--bind A] [--threads N] [--max-seconds S]\n"
	      "  fy-bench http-server --port P [--bind A] [--threads N] [--body B] [--max-seconds S]\n"
	      "  fy-bench rr      --host H --port P [--conns N] [--size B] [--duration D]\n"
	      "                   [--samples FILE] [--samples-max K]\n"
	      "  fy-bench connect --host H --port P [--threads T] [--duration D] [--size B]\n"
	      "  fy-bench hold    --host H --port P --conns N [--duration S] [--window W]\n"
	      "                   [--setup-timeout S] [--ready-file F]\n"
	      "  fy-bench probe   --host H --port P [--timeout S] [--kind echo|http|tcp]\n",
	      f);
}

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "fy-bench: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(2);
}

static long parse_long(const char *name, const char *v, long lo, long hi)
{
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || *end || end == v || x < lo || x > hi) {
		fprintf(stderr, "fy-bench: %s: '%s' is not an integer in [%ld, %ld]\n", name, v,
			lo, hi);
		exit(2);
	}
	return x;
}

static double parse_double(const char *name, const char *v, double lo, double hi)
{
	char *end;
	errno = 0;
	double x = strtod(v, &end);
	if (errno || *end || end == v || !(x >= lo && x <= hi)) {
		fprintf(stderr, "fy-bench: %s: '%s' is not a number in [%g, %g]\n", name, v, lo,
			hi);
		exit(2);
	}
	return x;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){
		.host = "127.0.0.1",
		.bind = "127.0.0.1",
		.kind = "echo",
		.threads = 2,
		.conns = 1,
		.size = 64,
		.window = 128,
		.body = 1024,
		.samples_max = 0,
		.duration = 5,
		.setup_timeout = 120,
		.timeout = 10,
		.max_seconds = 4 * 3600,
	};
	if (argc < 2) {
		usage(stderr);
		exit(2);
	}
	o->mode = argv[1];
	if (!strcmp(o->mode, "-h") || !strcmp(o->mode, "--help")) {
		usage(stdout);
		exit(0);
	}
	for (int i = 2; i < argc; i++) {
		const char *k = argv[i];
		if (i + 1 >= argc)
			die("option %s needs a value", k);
		const char *v = argv[++i];
		if (!strcmp(k, "--host"))
			o->host = v;
		else if (!strcmp(k, "--bind"))
			o->bind = v;
		else if (!strcmp(k, "--port"))
			o->port = (int)parse_long(k, v, 1, 65535);
		else if (!strcmp(k, "--threads"))
			o->threads = (int)parse_long(k, v, 1, CAP_THREADS);
		else if (!strcmp(k, "--conns"))
			o->conns = (int)parse_long(k, v, 1, CAP_HOLD_CONNS);
		else if (!strcmp(k, "--size"))
			o->size = (int)parse_long(k, v, 1, CAP_SIZE);
		else if (!strcmp(k, "--window"))
			o->window = (int)parse_long(k, v, 1, 4096);
		else if (!strcmp(k, "--body"))
			o->body = (int)parse_long(k, v, 0, 1 << 20);
		else if (!strcmp(k, "--duration"))
			o->duration = parse_double(k, v, 0.1, CAP_DURATION_S);
		else if (!strcmp(k, "--setup-timeout"))
			o->setup_timeout = parse_double(k, v, 0.1, CAP_DURATION_S);
		else if (!strcmp(k, "--timeout"))
			o->timeout = parse_double(k, v, 0.1, CAP_DURATION_S);
		else if (!strcmp(k, "--max-seconds"))
			o->max_seconds = (int)parse_long(k, v, 1, CAP_SERVER_S);
		else if (!strcmp(k, "--samples"))
			o->samples = v;
		else if (!strcmp(k, "--samples-max"))
			o->samples_max = parse_long(k, v, 0, 100000000);
		else if (!strcmp(k, "--ready-file"))
			o->ready_file = v;
		else if (!strcmp(k, "--kind"))
			o->kind = v;
		else
			die("unknown option %s (see --help)", k);
	}
	if (!o->port)
		die("%s: --port is required", o->mode);
}

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	char p[16];
	snprintf(p, sizeof(p), "%d", port);
	int r = getaddrinfo(host, p, &hints, &res);
	if (r) {
		fprintf(stderr, "fy-bench: %s: %s\n", host, gai_strerror(r));
		return -EINVAL;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void set_timeouts(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void set_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Blocking connect with SO_SNDTIMEO bounding the handshake. */
static int dial(const struct sockaddr_storage *ss, socklen_t len, int timeout_ms)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	set_timeouts(fd, timeout_ms);
	set_nodelay(fd);
	if (connect(fd, (const struct sockaddr *)ss, len) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static int write_full(int fd, const char *p, size_t n)
{
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

static int read_full(int fd, char *p, size_t n)
{
	while (n) {
		ssize_t r = recv(fd, p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ECONNRESET;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void raise_nofile(rlim_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* ------------------------------------------------------------------ */
/* latency samples: per-thread arrays, reservoir beyond a cap           */

struct samples {
	uint32_t *v; /* nanoseconds, clamped to UINT32_MAX (4.29 s) */
	size_t n, cap, seen;
	uint64_t rng;
};

static void samples_add(struct samples *s, uint64_t ns)
{
	uint32_t x = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
	s->seen++;
	if (s->n < CAP_SAMPLES_PER_THREAD) {
		if (s->n == s->cap) {
			size_t nc = s->cap ? s->cap * 2 : 65536;
			uint32_t *nv = realloc(s->v, nc * sizeof(*nv));
			if (!nv)
				return; /* keep what we have; the count stays right */
			s->v = nv;
			s->cap = nc;
		}
		s->v[s->n++] = x;
		return;
	}
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	uint64_t j = s->rng % s->seen;
	if (j < s->n)
		s->v[j] = x;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static double pct_us(const uint32_t *v, size_t n, double q)
{
	if (!n)
		return 0;
	size_t idx = (size_t)(q * (double)n + 0.999999);
	if (idx < 1)
		idx = 1;
	if (idx > n)
		idx = n;
	return v[idx - 1] / 1000.0;
}

struct merged {
	uint32_t *v;
	size_t n;
	double mean_us;
};

static int merge_samples(struct samples *s, int k, struct merged *m)
{
	size_t n = 0;
	for (int i = 0; i < k; i++)
		n += s[i].n;
	m->v = malloc((n ? n : 1) * sizeof(uint32_t));
	if (!m->v)
		return -ENOMEM;
	m->n = 0;
	double sum = 0;
	for (int i = 0; i < k; i++) {
		memcpy(m->v + m->n, s[i].v, s[i].n * sizeof(uint32_t));
		m->n += s[i].n;
	}
	for (size_t i = 0; i < m->n; i++)
		sum += m->v[i];
	qsort(m->v, m->n, sizeof(uint32_t), cmp_u32);
	m->mean_us = m->n ? sum / (double)m->n / 1000.0 : 0;
	return 0;
}

/* Writes the sorted samples in microseconds, one per line; with max > 0
 * only max evenly spaced quantiles, which keeps the CDF shape. */
static int dump_samples(const char *path, const struct merged *m, long max)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "fy-bench: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (max <= 0 || (size_t)max >= m->n) {
		for (size_t i = 0; i < m->n; i++)
			fprintf(f, "%.3f\n", m->v[i] / 1000.0);
	} else {
		for (long i = 0; i < max; i++) {
			size_t idx = (size_t)((double)(i + 1) / (double)max * (double)m->n) - 1;
			fprintf(f, "%.3f\n", m->v[idx] / 1000.0);
		}
	}
	return fclose(f) ? -errno : 0;
}

/* ------------------------------------------------------------------ */
/* rr                                                                   */

struct rr_thread {
	pthread_t tid;
	const struct opts *o;
	struct sockaddr_storage ss;
	socklen_t sslen;
	uint64_t deadline;
	struct samples s;
	uint64_t count;
	int err;
	pthread_barrier_t *start; /* waited twice: connected, then deadline set */
};

static void *rr_main(void *arg)
{
	struct rr_thread *t = arg;
	char *buf = malloc((size_t)t->o->size);
	int fd = dial(&t->ss, t->sslen, IO_TIMEOUT_MS);
	pthread_barrier_wait(t->start);
	pthread_barrier_wait(t->start);
	if (!buf || fd < 0) {
		t->err = fd < 0 ? fd : -ENOMEM;
		goto out;
	}
	memset(buf, 'r', (size_t)t->o->size);
	for (;;) {
		uint64_t t0 = now_ns();
		if (t0 >= t->deadline)
			break;
		int r = write_full(fd, buf, (size_t)t->o->size);
		if (!r)
			r = read_full(fd, buf, (size_t)t->o->size);
		if (r) {
			t->err = r;
			break;
		}
		samples_add(&t->s, now_ns() - t0);
		t->count++;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

static int run_rr(const struct opts *o)
{
	int n = o->conns > CAP_RR_CONNS ? CAP_RR_CONNS : o->conns;
	struct rr_thread *t = calloc((size_t)n, sizeof(*t));
	struct sockaddr_storage ss;
	socklen_t sslen;
	pthread_barrier_t start;
	if (!t || resolve(o->host, o->port, &ss, &sslen))
		return 2;
	pthread_barrier_init(&start, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++) {
		t[i].o = o;
		t[i].ss = ss;
		t[i].sslen = sslen;
		t[i].start = &start;
		t[i].deadline = UINT64_MAX;
		t[i].s.rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)i;
		pthread_create(&t[i].tid, NULL, rr_main, &t[i]);
	}
	/* all connections are open before the clock starts; the second
	 * barrier publishes the deadlines */
	pthread_barrier_wait(&start);
	uint64_t t0 = now_ns();
	for (int i = 0; i < n; i++)
		t[i].deadline = t0 + (uint64_t)(o->duration * 1e9);
	pthread_barrier_wait(&start);
	uint64_t count = 0;
	int errors = 0, first_err = 0;
	struct samples *all = calloc((size_t)n, sizeof(*all));
	for (int i = 0; i < n; i++) {
		pthread_join(t[i].tid, NULL);
		count += t[i].count;
		if (t[i].err) {
			errors++;
			if (!first_err)
				first_err = t[i].err;
		}
		all[i] = t[i].s;
	}
	double el = (double)(now_ns() - t0) / 1e9;
	struct merged m;
	if (merge_samples(all, n, &m))
		return 2;
	printf("{\"mode\":\"rr\",\"host\":\"%s\",\"port\":%d,\"conns\":%d,\"size\":%d,"
	       "\"duration_s\":%.3f,\"count\":%" PRIu64 ",\"errors\":%d,\"error\":\"%s\","
	       "\"rps\":%.1f,\"mean_us\":%.2f,\"min_us\":%.2f,\"p50_us\":%.2f,\"p90_us\":%.2f,"
	       "\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f}\n",
	       o->host, o->port, n, o->size, el, count, errors,
	       first_err ? strerror(-first_err) : "", el > 0 ? (double)count / el : 0, m.mean_us,
	       pct_us(m.v, m.n, 0), pct_us(m.v, m.n, 0.5), pct_us(m.v, m.n, 0.9),
	       pct_us(m.v, m.n, 0.99), pct_us(m.v, m.n, 0.999), pct_us(m.v, m.n, 1.0));
	if (o->samples && dump_samples(o->samples, &m, o->samples_max))
		return 1;
	return (errors || !count) ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* connect                                                              */

struct conn_thread {
	pthread_t tid;
	const struct opts *o;
	struct sockaddr_storage ss;
	socklen_t sslen;
	uint64_t deadline;
	struct samples s;
	uint64_t count, errors;
	int first_err;
};

static void *connect_main(void *arg)
{
	struct conn_thread *t = arg;
	char *buf = malloc((size_t)t->o->size);
	if (!buf) {
		t->first_err = -ENOMEM;
		t->errors++;
		return NULL;
	}
	memset(buf, 'c', (size_t)t->o->size);
	while (now_ns() < t->deadline) {
		uint64_t t0 = now_ns();
		int r = dial(&t->ss, t->sslen, IO_TIMEOUT_MS);
		int fd = r;
		if (fd >= 0) {
			r = write_full(fd, buf, (size_t)t->o->size);
			if (!r)
				r = read_full(fd, buf, (size_t)t->o->size);
			close(fd);
		}
		if (r < 0) {
			t->errors++;
			if (!t->first_err)
				t->first_err = r;
			/* a refusing target must not turn this into a hot loop */
			usleep(1000);
			if (t->errors > 100000)
				break;
			continue;
		}
		samples_add(&t->s, now_ns() - t0);
		t->count++;
	}
	free(buf);
	return NULL;
}

static int run_connect(const struct opts *o)
{
	int n = o->threads;
	struct conn_thread *t = calloc((size_t)n, sizeof(*t));
	struct sockaddr_storage ss;
	socklen_t sslen;
	if (!t || resolve(o->host, o->port, &ss, &sslen))
		return 2;
	uint64_t t0 = now_ns();
	for (int i = 0; i < n; i++) {
		t[i].o = o;
		t[i].ss = ss;
		t[i].sslen = sslen;
		t[i].deadline = t0 + (uint64_t)(o->duration * 1e9);
		t[i].s.rng = 0x2545f4914f6cdd1dull ^ (uint64_t)i;
		pthread_create(&t[i].tid, NULL, connect_main, &t[i]);
	}
	uint64_t count = 0, errors = 0;
	int first_err = 0;
	struct samples *all = calloc((size_t)n, sizeof(*all));
	for (int i = 0; i < n; i++) {
		pthread_join(t[i].tid, NULL);
		count += t[i].count;
		errors += t[i].errors;
		if (!first_err)
			first_err = t[i].first_err;
		all[i] = t[i].s;
	}
	double el = (double)(now_ns() - t0) / 1e9;
	struct merged m;
	if (merge_samples(all, n, &m))
		return 2;
	printf("{\"mode\":\"connect\",\"host\":\"%s\",\"port\":%d,\"threads\":%d,\"size\":%d,"
	       "\"duration_s\":%.3f,\"count\":%" PRIu64 ",\"errors\":%" PRIu64
	       ",\"error\":\"%s\",\"conns_per_s\":%.1f,\"mean_us\":%.2f,\"p50_us\":%.2f,"
	       "\"p90_us\":%.2f,\"p99_us\":%.2f,\"max_us\":%.2f}\n",
	       o->host, o->port, n, o->size, el, count, errors,
	       first_err ? strerror(-first_err) : "", el > 0 ? (double)count / el : 0, m.mean_us,
	       pct_us(m.v, m.n, 0.5), pct_us(m.v, m.n, 0.9), pct_us(m.v, m.n, 0.99),
	       pct_us(m.v, m.n, 1.0));
	/* A few failed connects out of many are reported, not fatal: the
	 * error count is in the JSON.  No successful connect at all is. */
	return count ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* hold: open N idle connections end to end, keep them, close them       */

enum hstate { H_FREE, H_CONNECTING, H_WAIT_ECHO, H_OPEN, H_DEAD };

struct hconn {
	int fd;
	enum hstate st;
};

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int hold_start_one(int ep, struct hconn *c, const struct sockaddr_storage *ss,
			  socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)ss, len) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return -e;
	}
	c->fd = fd;
	c->st = H_CONNECTING;
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.ptr = c };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return 0;
}

static void write_ready_file(const char *path, int n, double setup_s)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%d %.3f\n", n, setup_s);
	fclose(f);
	rename(tmp, path);
}

static int run_hold(const struct opts *o)
{
	int n = o->conns;
	struct sockaddr_storage ss;
	socklen_t sslen;
	if (resolve(o->host, o->port, &ss, &sslen))
		return 2;
	raise_nofile((rlim_t)n + 64);
	struct hconn *c = calloc((size_t)n, sizeof(*c));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!c || ep < 0)
		return 2;
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);

	uint64_t t0 = now_ns();
	uint64_t setup_deadline = t0 + (uint64_t)(o->setup_timeout * 1e9);
	int next = 0, inflight = 0, open_n = 0, failed = 0, first_err = 0;
	const char *phase = "";
	struct epoll_event evs[256];
	char b;

	/* setup: at most --window handshakes (connect + 1-byte echo) at once */
	while (open_n < n && !stop_flag) {
		while (inflight < o->window && next < n) {
			int r = hold_start_one(ep, &c[next], &ss, sslen);
			if (r) {
				first_err = r;
				phase = "socket";
				failed++;
				break;
			}
			next++;
			inflight++;
		}
		if (failed)
			break;
		uint64_t now = now_ns();
		if (now >= setup_deadline) {
			first_err = -ETIMEDOUT;
			phase = "setup timeout";
			break;
		}
		int k = epoll_wait(ep, evs, 256, 100);
		for (int i = 0; i < k; i++) {
			struct hconn *h = evs[i].data.ptr;
			int err = 0;
			socklen_t el = sizeof(err);
			if (h->st == H_CONNECTING) {
				if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err) {
					first_err = -err; /* the handshake itself failed */
					phase = "connect";
					failed++;
					h->st = H_DEAD;
					continue;
				}
				if (!(evs[i].events & EPOLLOUT)) {
					if (!(evs[i].events & (EPOLLERR | EPOLLHUP)))
						continue;
					first_err = -ECONNRESET; /* closed before writable */
					phase = "connect";
					failed++;
					h->st = H_DEAD;
					continue;
				}
				b = 'h';
				if (send(h->fd, &b, 1, MSG_NOSIGNAL) != 1) {
					first_err = -errno;
					phase = "send";
					failed++;
					h->st = H_DEAD;
					continue;
				}
				h->st = H_WAIT_ECHO;
				struct epoll_event ev = { .events = EPOLLIN, .data.ptr = h };
				epoll_ctl(ep, EPOLL_CTL_MOD, h->fd, &ev);
			} else if (h->st == H_WAIT_ECHO) {
				ssize_t r = recv(h->fd, &b, 1, 0);
				if (r == 1) {
					h->st = H_OPEN;
					open_n++;
					inflight--;
				} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
					first_err = r == 0 ? -ECONNRESET : -errno;
					phase = r == 0 ? "echo (EOF)" : "echo";
					failed++;
					h->st = H_DEAD;
				}
			} else if (h->st == H_OPEN) {
				/* an idle stream must stay silent; data or EOF = dropped */
				h->st = H_DEAD;
				failed++;
				first_err = -ECONNRESET;
				phase = "idle";
			}
		}
		if (failed)
			break;
	}
	double setup_s = (double)(now_ns() - t0) / 1e9;
	int dropped = 0;
	if (open_n == n && !failed) {
		printf("READY %d %.3f\n", n, setup_s);
		fflush(stdout);
		if (o->ready_file)
			write_ready_file(o->ready_file, n, setup_s);
		uint64_t end = now_ns() + (uint64_t)(o->duration * 1e9);
		while (!stop_flag && now_ns() < end) {
			int k = epoll_wait(ep, evs, 256, 100);
			for (int i = 0; i < k; i++) {
				struct hconn *h = evs[i].data.ptr;
				if (h->st == H_OPEN) {
					h->st = H_DEAD;
					dropped++;
					phase = "held";
					epoll_ctl(ep, EPOLL_CTL_DEL, h->fd, NULL);
				}
			}
		}
	}
	double held_s = (double)(now_ns() - t0) / 1e9 - setup_s;
	for (int i = 0; i < next; i++)
		if (c[i].st != H_FREE)
			close(c[i].fd);
	bool ok = open_n == n && !failed && !dropped;
	printf("{\"mode\":\"hold\",\"host\":\"%s\",\"port\":%d,\"conns\":%d,\"established\":%d,"
	       "\"failed\":%d,\"dropped\":%d,\"error\":\"%s%s%s\",\"setup_s\":%.3f,"
	       "\"open_per_s\":%.1f,\"held_s\":%.3f}\n",
	       o->host, o->port, n, open_n, failed, dropped, phase, *phase ? ": " : "",
	       first_err ? strerror(-first_err) : "", setup_s,
	       setup_s > 0 ? open_n / setup_s : 0, held_s);
	return ok ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* probe: is the path ready end to end?                                 */

static int probe_once(const struct opts *o, const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = dial(ss, len, 1000);
	if (fd < 0)
		return fd;
	int r = 0;
	char buf[4096];
	if (!strcmp(o->kind, "echo")) {
		r = write_full(fd, "probe\n", 6);
		if (!r)
			r = read_full(fd, buf, 6);
		if (!r && memcmp(buf, "probe\n", 6))
			r = -EPROTO;
	} else if (!strcmp(o->kind, "http")) {
		static const char req[] = "GET / HTTP/1.1\r\nHost: probe\r\n\r\n";
		r = write_full(fd, req, sizeof(req) - 1);
		if (!r) {
			ssize_t got = recv(fd, buf, sizeof(buf) - 1, 0);
			if (got < 12)
				r = got < 0 ? -errno : -EPROTO;
			else if (memcmp(buf, "HTTP/1.1 200", 12))
				r = -EPROTO;
		}
	}
	close(fd);
	return r;
}

static int run_probe(const struct opts *o)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (strcmp(o->kind, "echo") && strcmp(o->kind, "http") && strcmp(o->kind, "tcp"))
		die("probe: unknown --kind %s", o->kind);
	if (resolve(o->host, o->port, &ss, &len))
		return 2;
	uint64_t end = now_ns() + (uint64_t)(o->timeout * 1e9);
	int r, tries = 0;
	do {
		r = probe_once(o, &ss, len);
		tries++;
		if (!r)
			return 0;
		usleep(50 * 1000);
	} while (now_ns() < end);
	fprintf(stderr, "fy-bench: probe %s:%d (%s) not ready after %.1f s, %d tries: %s\n",
		o->host, o->port, o->kind, o->timeout, tries, strerror(-r));
	return 1;
}

/* ------------------------------------------------------------------ */
/* servers: one epoll loop per thread, SO_REUSEPORT listeners            */

struct sconn {
	int fd;
	uint8_t match;	 /* http: bytes of "\r\n\r\n" matched so far */
	char *pend;	 /* bytes still to send (only after a short write) */
	size_t plen, poff;
};

struct server {
	const struct opts *o;
	bool http;
	char *resp; /* http: one full response */
	size_t resp_len;
};

static int listen_on(const struct opts *o)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (resolve(o->bind, o->port, &ss, &len))
		return -EINVAL;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4096) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static void sconn_close(struct sconn *c)
{
	close(c->fd);
	free(c->pend);
	free(c);
}

/* Sends buf; keeps whatever the socket did not take.  <0: close. */
static int sconn_send(int ep, struct sconn *c, const char *buf, size_t n)
{
	ssize_t w = send(c->fd, buf, n, MSG_NOSIGNAL);
	if (w < 0) {
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		w = 0;
	}
	if ((size_t)w == n)
		return 0;
	size_t rest = n - (size_t)w;
	char *p = realloc(c->pend, c->plen - c->poff + rest);
	if (!p)
		return -ENOMEM;
	/* pend is empty whenever we get here (reads stop while it is not) */
	memcpy(p, buf + w, rest);
	c->pend = p;
	c->plen = rest;
	c->poff = 0;
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0 ? -errno : 0;
}

static int sconn_flush(int ep, struct sconn *c)
{
	while (c->poff < c->plen) {
		ssize_t w = send(c->fd, c->pend + c->poff, c->plen - c->poff, MSG_NOSIGNAL);
		if (w < 0)
			return (errno == EAGAIN || errno == EINTR) ? 0 : -errno;
		c->poff += (size_t)w;
	}
	free(c->pend);
	c->pend = NULL;
	c->plen = c->poff = 0;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0 ? -errno : 0;
}

/* Counts complete requests (headers ending in CRLFCRLF) in buf. */
static unsigned http_count(struct sconn *c, const char *buf, size_t n)
{
	static const char term[4] = { '\r', '\n', '\r', '\n' };
	unsigned reqs = 0;
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == term[c->match]) {
			if (++c->match == 4) {
				reqs++;
				c->match = 0;
			}
		} else {
			c->match = buf[i] == '\r' ? 1 : 0;
		}
	}
	return reqs;
}

static int on_readable(int ep, const struct server *s, struct sconn *c, char *buf, char *out)
{
	ssize_t r = recv(c->fd, buf, SERVER_BUF, 0);
	if (r == 0)
		return -ECONNRESET;
	if (r < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -errno;
	if (!s->http)
		return sconn_send(ep, c, buf, (size_t)r);
	unsigned reqs = http_count(c, buf, (size_t)r);
	size_t per = SERVER_BUF / s->resp_len;
	while (reqs) {
		size_t k = reqs < per ? reqs : per, len = 0;
		for (size_t i = 0; i < k; i++, len += s->resp_len)
			memcpy(out + len, s->resp, s->resp_len);
		int e = sconn_send(ep, c, out, len);
		if (e)
			return e;
		reqs -= (unsigned)k;
		if (c->pend && reqs) {
			/* queue the rest behind what is pending */
			size_t more = (size_t)reqs * s->resp_len;
			char *p = realloc(c->pend, c->plen + more);
			if (!p)
				return -ENOMEM;
			for (unsigned i = 0; i < reqs; i++)
				memcpy(p + c->plen + i * s->resp_len, s->resp, s->resp_len);
			c->pend = p;
			c->plen += more;
			reqs = 0;
		}
	}
	return 0;
}

struct server_thread {
	pthread_t tid;
	const struct server *s;
	int lfd;
};

static void *server_main(void *arg)
{
	const struct server_thread *st = arg;
	const struct server *s = st->s;
	int lfd = st->lfd;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	char *buf = malloc(SERVER_BUF), *out = malloc(SERVER_BUF + s->resp_len);
	if (ep < 0 || !buf || !out) {
		fprintf(stderr, "fy-bench: %s: out of resources: %s\n", s->o->mode,
			strerror(errno));
		exit(1);
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	struct epoll_event evs[256];
	for (;;) {
		int k = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < k; i++) {
			struct sconn *c = evs[i].data.ptr;
			if (!c) {
				for (int j = 0; j < 256; j++) {
					int fd = accept4(lfd, NULL, NULL,
							 SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (fd < 0)
						break;
					set_nodelay(fd);
					struct sconn *nc = calloc(1, sizeof(*nc));
					if (!nc) {
						close(fd);
						continue;
					}
					nc->fd = fd;
					struct epoll_event e2 = { .events = EPOLLIN, .data.ptr = nc };
					if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e2) < 0)
						sconn_close(nc);
				}
				continue;
			}
			int r = 0;
			if (c->pend)
				r = sconn_flush(ep, c);
			else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				r = on_readable(ep, s, c, buf, out);
			if (r < 0)
				sconn_close(c); /* closing removes it from the epoll set */
		}
	}
	return NULL;
}

static int run_server(const struct opts *o, bool http)
{
	struct server s = { .o = o, .http = http };
	struct server_thread th[CAP_THREADS];
	raise_nofile(1 << 20);
	alarm((unsigned)o->max_seconds); /* a forgotten server ends by itself */
	if (http) {
		char head[256];
		int hl = snprintf(head, sizeof(head),
				  "HTTP/1.1 200 OK\r\nServer: fy-bench\r\n"
				  "Content-Type: application/octet-stream\r\n"
				  "Content-Length: %d\r\nConnection: keep-alive\r\n\r\n",
				  o->body);
		s.resp_len = (size_t)hl + (size_t)o->body;
		if (s.resp_len > SERVER_BUF / 2) {
			fprintf(stderr, "fy-bench: http-server: --body %d is too large\n", o->body);
			return 2;
		}
		s.resp = malloc(s.resp_len);
		if (!s.resp)
			return 2;
		memcpy(s.resp, head, (size_t)hl);
		memset(s.resp + hl, 'x', (size_t)o->body);
	}
	/* every listener is bound before any thread runs: a busy port fails
	 * here, loudly, and nobody is told the server is up before it is */
	for (int i = 0; i < o->threads; i++) {
		th[i].s = &s;
		th[i].lfd = listen_on(o);
		if (th[i].lfd < 0) {
			fprintf(stderr, "fy-bench: %s: cannot listen on %s:%d: %s\n", o->mode,
				o->bind, o->port, strerror(-th[i].lfd));
			return 1;
		}
	}
	for (int i = 0; i < o->threads; i++)
		pthread_create(&th[i].tid, NULL, server_main, &th[i]);
	for (int i = 0; i < o->threads; i++)
		pthread_join(th[i].tid, NULL);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	signal(SIGPIPE, SIG_IGN);
	parse_opts(argc, argv, &o);
	if (!strcmp(o.mode, "echo-server"))
		return run_server(&o, false);
	if (!strcmp(o.mode, "http-server"))
		return run_server(&o, true);
	if (!strcmp(o.mode, "rr"))
		return run_rr(&o);
	if (!strcmp(o.mode, "connect"))
		return run_connect(&o);
	if (!strcmp(o.mode, "hold"))
		return run_hold(&o);
	if (!strcmp(o.mode, "probe"))
		return run_probe(&o);
	fprintf(stderr, "fy-bench: unknown mode '%s'\n", o.mode);
	usage(stderr);
	return 2;
}
