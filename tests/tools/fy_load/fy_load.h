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
 *             [--send-text T | --send-hex H | --send-bytes N] [--conns N] [--duration SECS]
 *             with --conns or --duration: N connections at once, held until --duration
 *             or --timeout, one counting result line (hold.c).
 *   slowpair  --slow H:P --slow-kind send|noread --slow-bytes N --fast H:P
 *             --fast-kind send|recv --fast-bytes N --seed S [--pause-file F]
 *   tls       --connect H:P (--ca F | --insecure) [--name N] [--expect-error CODE]
 *             [--source ADDR] [--repeat N] OPS...
 *             a raw agent speaking docs/PROTOCOL.md frames, for bad-input tests: OPS run in
 *             order (--hello, --register, --wait-open, --frame, --raw, --data, --fill,
 *             --overflow, --close-notify; see usage()), then it waits for the relay to close
 *             the connection and reports the ERROR frame it got. --repeat N runs the OPS
 *             over N fresh connections and counts how each ended.
 *   flood     --connect H:P --conns N [--sources A.B.C.D[-A.B.C.E]] --duration SECS
 *             [--send-bytes K]   N idle connections, each replaced as soon as the peer
 *             closes it, until --duration.
 *   udp       --connect H:P --count N [--size S] [--seed X] [--rate PPS] [--conns K]
 *             [--source-port P] [--linger SECS] [--no-read] [--duration SECS]   numbered, checksummed datagrams and their echoes:
 *             'ok sent=N received=R lost=L reordered=O corrupt=C dup=D ...' (udp.c)
 *   udpecho   --port P [--bind A] [--mode echo|sink]   (also serve --mode udp-echo|udp-sink)
 *   gen       --bytes N --seed S        (the stream on stdout, for sha256sum)
 *
 * Every subcommand is bounded by --timeout SECONDS (default 60, fractions allowed).
 * Sizes take K, M, G suffixes (powers of two).
 *
 * Exit codes: 0 ok, 1 failure (mismatch, wrong outcome), 2 usage or set-up error,
 * 3 connection reset (ECONNRESET/EPIPE), 4 truncated (clean EOF too early),
 * 5 timeout. Exactly one result line goes to stdout ("ok ..." or "FAIL ...");
 * serve and slowpair also print progress lines (listening, accept, conn, fast done),
 * flood prints "flood open=.." about once a second.
 *
 * Files: core.c holds what every command shares (options, usage, main, the byte stream,
 * sha256, sockets, the timeout, output); each command has its own file.
 */
#ifndef FY_LOAD_H
#define FY_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/evp.h>

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
	long conns;          /* hold, flood */
	bool conns_set;
	double duration;     /* hold, flood; 0: not given */
	const char *sources; /* flood: A.B.C.D or A.B.C.D-A.B.C.E */
	const char *source;  /* tls: the local address to connect from */
	long repeat;         /* tls */
	bool repeat_set;
	uint64_t count;      /* udp: datagrams to send */
	uint64_t size;       /* udp: bytes per datagram */
	double rate;         /* udp: datagrams per second, 0: unpaced */
	double linger;       /* udp: seconds to wait for echoes after the last send */
	long source_port;    /* udp: first local port of the sources, 0: any */
};

/* Parsed once in core.c's main, read by every command. */
extern struct opts O;

/* The commands; each returns the exit code. */
int cmd_serve(void);
int cmd_send(void);
int cmd_recv(void);
int cmd_multi(void);
int cmd_hold(void);
int cmd_slowpair(void);
int cmd_tls(void);
int cmd_flood(void);
int cmd_gen(void);
int cmd_udp(void);
int cmd_udpecho(void);

/* ------------------------------------------------------------ small utils */

double now(void);
/* Prints "FAIL <message>" as the result line and exits with code. */
void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* One write per line so lines of concurrent threads never interleave. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t parse_size(const char *s, const char *what);
/* Decode hex (spaces, ':' and '_' ignored) into a malloc'd buffer. */
uint8_t *parse_hex(const char *s, size_t *len);

/* ---------------------------------------------------------------- timeout */

/* What the process is doing; the timeout line says so. */
extern const char *volatile g_phase;
/* Arms SIGALRM: after secs, print "FAIL timeout after S s while <phase>", exit 5. */
void arm_timeout(double secs);
/* Replaces the line the timeout prints and its exit code (EX_OK: the line is printed
 * as is; otherwise " while <phase>" is appended). */
void timeout_says(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For commands that end by themselves at --duration or --timeout (hold --conns,
 * flood): the seconds to run, min(duration, what is left of --timeout); the timeout
 * is moved 2 s past that so it only catches a hang. */
double run_window(double duration);

/* ------------------------------------------------------ pseudo-random data */

struct prng {
	uint64_t s;
	uint64_t w;
	unsigned left;
};

void prng_init(struct prng *p, uint64_t seed);
void prng_fill(struct prng *p, uint8_t *b, size_t n);
/* n bytes of the stream of seed, malloc'd. */
uint8_t *prng_bytes(uint64_t seed, size_t n);

/* ------------------------------------------------------------------ sha256 */

struct sha {
	EVP_MD_CTX *c;
};

void sha_init(struct sha *h);
void sha_update(struct sha *h, const void *b, size_t n);
/* Finishes and frees; hex must hold 65 bytes. */
void sha_hex(struct sha *h, char *hex);
void sha_free(struct sha *h);
/* The sha256 of n bytes of the stream of seed. */
void expected_sha(uint64_t n, uint64_t seed, char *hex);

/* ----------------------------------------------------------------- sockets */

bool is_reset(int e);
void split_hostport(const char *hp, char *host, size_t hl, char *port, size_t pl);
void resolve(const char *hp, struct sockaddr_storage *ss, socklen_t *sl);
/* A numeric IPv4/IPv6 address (port 0) to bind to; dies on a bad one. */
void parse_source(const char *s, struct sockaddr_storage *ss);
/* A TCP socket of family, bound to src when given (the port left to connect);
 * returns fd or -errno. */
int sock_open(int family, const struct sockaddr_storage *src, bool nonblock);
/* The pending error of fd (SO_ERROR), e.g. how a non-blocking connect ended. */
int sock_error(int fd);
void set_nodelay(int fd);
/* Blocking connect from src (NULL: any) with TCP_NODELAY; returns fd or -errno. */
int connect_from(const char *hp, const struct sockaddr_storage *src);
int connect_to(const char *hp);
/* connect_from or "FAIL connect H:P: <error>", exit 1. */
int connect_or_die(const char *hp, const struct sockaddr_storage *src);
void local_name(int fd, char *out, size_t ol);
/* Returns 0 or -errno. */
int write_all(int fd, const void *b, size_t n);
/* Non-blocking: writes b[*off..n) until done or the socket is full; 0 or -errno. */
int write_some(int fd, const uint8_t *b, size_t n, size_t *off);
void set_nonblock(int fd);
/* Raises the open-files limit to hold at least n descriptors (as far as allowed). */
void raise_nofile(long n);

/* ------------------------------------------------- shared by several commands */

/*
 * send.c: sends n bytes of seed on fd and judges the answer. digest: expect the sink's
 * sha256 line; echo: expect the same bytes back. Writes the result line into msg.
 */
int send_on(int fd, uint64_t n, uint64_t seed, bool digest, bool echo, char *msg, size_t ml);
/* recv.c: reads until EOF and compares with what `source` sends; hex_out gets our sha. */
int recv_on(int fd, uint64_t n, uint64_t seed, char *msg, size_t ml, char *hex_out);

#endif
