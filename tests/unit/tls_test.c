/* Unit tests for lib/tls.c: cert init, fingerprints, and real TLS 1.3
 * handshakes between fy_tls_server_ctx and fy_tls_client_ctx.
 *
 *   main thread (agent)                 server thread (relay)
 *   SSL_connect(sv[1]) <-- socketpair --> SSL_accept(sv[0])
 *   SSL_read "ping"                     SSL_write "ping", SSL_read until EOF
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cu_run.h"
#include "ferry/tls.h"
#include "ferry/tlsconn.h"

#define NAMES "localhost,127.0.0.1,::1"

static char dir1[64], dir2[160];
static char ca1[192], crt1[192], key1[192], ca2[192], crt2[192], key2[192];

static void join(char *out, size_t n, const char *dir, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static X509 *load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (!f)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

/* "SHA256:<lowercase hex>" computed here with X509_digest, like
 * `openssl x509 -noout -fingerprint -sha256` (which prints it in upper case
 * with colons). upper_colons selects that spelling. */
static void own_fingerprint(const char *path, char *out, size_t n, int upper_colons)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	X509 *x = load_cert(path);
	size_t off;

	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_FATAL(X509_digest(x, EVP_sha256(), md, &len) == 1);
	CU_ASSERT_EQUAL_FATAL(len, 32);
	off = (size_t)snprintf(out, n, "SHA256:");
	for (unsigned i = 0; i < len; i++)
		off += (size_t)snprintf(out + off, n - off, upper_colons ? "%s%02X" : "%s%02x",
					upper_colons && i ? ":" : "", md[i]);
	X509_free(x);
}

static mode_t file_mode(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return (mode_t)-1;
	return st.st_mode & 07777;
}

/* ---- cert init and fingerprints ---- */

static void test_cert_init(void)
{
	char fp[80], fp_again[80], fp_forced[80], err[512];
	CU_ASSERT_EQUAL_FATAL(fy_tls_cert_init(dir1, NAMES, 0, fp, sizeof(fp), err,
					       sizeof(err)), 0);
	CU_ASSERT_EQUAL(access(ca1, R_OK), 0);
	CU_ASSERT_EQUAL(access(crt1, R_OK), 0);
	CU_ASSERT_EQUAL(file_mode(key1), 0600);
	{
		char cakey[192];

		join(cakey, sizeof(cakey), dir1, "ca.key");
		CU_ASSERT_EQUAL(file_mode(cakey), 0600);
	}
	CU_ASSERT_EQUAL(strlen(fp), 7 + FY_FP_LEN);
	CU_ASSERT_EQUAL(strncmp(fp, "SHA256:", 7), 0);

	/* No overwrite without force; nothing changes. */
	err[0] = '\0';
	CU_ASSERT_EQUAL(fy_tls_cert_init(dir1, NAMES, 0, fp_again, sizeof(fp_again), err,
					 sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "already exists"));
	CU_ASSERT_EQUAL(fy_tls_fingerprint_file(crt1, fp_again, sizeof(fp_again), err,
						sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(fp, fp_again);

	/* With force: new keys, so a new fingerprint; modes still 0600. */
	CU_ASSERT_EQUAL_FATAL(fy_tls_cert_init(dir1, NAMES, 1, fp_forced, sizeof(fp_forced),
					       err, sizeof(err)), 0);
	CU_ASSERT_STRING_NOT_EQUAL(fp, fp_forced);
	CU_ASSERT_EQUAL(file_mode(key1), 0600);

	/* Second, independent set in a nested directory that does not exist yet. */
	CU_ASSERT_EQUAL_FATAL(fy_tls_cert_init(dir2, "relay.example.org", 0, NULL, 0, err,
					       sizeof(err)), 0);
	CU_ASSERT_EQUAL(file_mode(key2), 0600);
	CU_ASSERT_EQUAL(access(ca2, R_OK), 0);
}

static void test_cert_init_bad_names(void)
{
	static const char *const bad[] = {
		"", "bad name", "a,,b", ",a", "a,", "exa mple.com", "-", "a..b", ".a", "a-.b", "*", "a*.b",
		"a_very_long_label_that_goes_on_and_on_for_more_than_sixty_three_chars.com",
	};
	char dir[192], err[512];

	join(dir, sizeof(dir), dir1, "never");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CU_ASSERT_EQUAL(fy_tls_cert_init(dir, bad[i], 0, NULL, 0, err, sizeof(err)), -1);
		CU_ASSERT(err[0] != '\0');
	}
	CU_ASSERT_EQUAL(access(dir, F_OK), -1);	/* nothing was created */
}

static void test_cert_contents(void)
{
	X509 *ca = load_cert(ca1), *relay = load_cert(crt1);
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();
	BIGNUM *serial;
	char cn[128];
	int days = 0, secs = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ca);
	CU_ASSERT_PTR_NOT_NULL_FATAL(relay);
	CU_ASSERT_PTR_NOT_NULL_FATAL(store);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sctx);

	X509_NAME_get_text_by_NID(X509_get_subject_name(ca), NID_commonName, cn, sizeof(cn));
	CU_ASSERT_STRING_EQUAL(cn, "ferry CA localhost");
	X509_NAME_get_text_by_NID(X509_get_subject_name(relay), NID_commonName, cn, sizeof(cn));
	CU_ASSERT_STRING_EQUAL(cn, "localhost");
	CU_ASSERT(X509_check_ca(ca) >= 1);
	CU_ASSERT_EQUAL(X509_check_ca(relay), 0);
	CU_ASSERT(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN);
	CU_ASSERT(X509_get_key_usage(ca) & KU_CRL_SIGN);
	CU_ASSERT(X509_get_extended_key_usage(relay) & XKU_SSL_SERVER);
	CU_ASSERT_EQUAL(X509_check_host(relay, "localhost", 0, 0, NULL), 1);
	CU_ASSERT_EQUAL(X509_check_ip_asc(relay, "127.0.0.1", 0), 1);
	CU_ASSERT_EQUAL(X509_check_ip_asc(relay, "::1", 0), 1);
	CU_ASSERT_NOT_EQUAL(X509_check_host(relay, "example.com", 0, 0, NULL), 1);

	CU_ASSERT(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(ca), X509_get0_notAfter(ca)));
	CU_ASSERT_EQUAL(days, 3650);
	CU_ASSERT(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(relay),
				 X509_get0_notAfter(relay)));
	CU_ASSERT_EQUAL(days, 825);

	serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(relay), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(serial);
	CU_ASSERT(BN_num_bits(serial) > 64 && BN_num_bits(serial) <= 128);
	CU_ASSERT_FALSE(BN_is_negative(serial));
	BN_free(serial);

	/* The relay certificate chains to the CA for a TLS server. */
	CU_ASSERT_FATAL(X509_STORE_add_cert(store, ca) == 1);
	CU_ASSERT_FATAL(X509_STORE_CTX_init(sctx, store, relay, NULL) == 1);
	X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SSL_SERVER);
	CU_ASSERT_EQUAL(X509_verify_cert(sctx), 1);

	X509_STORE_CTX_free(sctx);
	X509_STORE_free(store);
	X509_free(ca);
	X509_free(relay);
}

static void test_fingerprint(void)
{
	char fp[80], own[80], small[71], err[512];

	CU_ASSERT_EQUAL_FATAL(fy_tls_fingerprint_file(crt1, fp, sizeof(fp), err,
						      sizeof(err)), 0);
	own_fingerprint(crt1, own, sizeof(own), 0);
	CU_ASSERT_STRING_EQUAL(fp, own);
	CU_ASSERT_EQUAL(fy_tls_fingerprint_file(crt1, small, sizeof(small), err,
						sizeof(err)), -1);
	CU_ASSERT_EQUAL(fy_tls_fingerprint_file("/nonexistent/x.crt", fp, sizeof(fp), err,
						sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/x.crt"));
	CU_ASSERT_EQUAL(fy_tls_fingerprint_file(key1, fp, sizeof(fp), err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not hold a certificate"));
}

/* ---- handshakes ---- */

struct server_run {
	SSL_CTX *ctx;
	int fd;
	int ok;
	int version;
	char err[1024];
};

struct hs_result {
	int client_ok;
	int server_ok;
	int version;
	char cerr[1024];
	char serr[1024];
};

static void *server_main(void *arg)
{
	struct server_run *s = arg;
	SSL *ssl = SSL_new(s->ctx);
	char buf[16];

	if (!ssl || SSL_set_fd(ssl, s->fd) != 1) {
		snprintf(s->err, sizeof(s->err), "SSL_new failed");
		goto out;
	}
	ERR_clear_error();
	if (SSL_accept(ssl) == 1) {
		s->version = SSL_version(ssl);
		if (SSL_write(ssl, "ping", 4) == 4)
			s->ok = 1;
		/* Wait until the client has read and gone (EOF / alert). */
		while (SSL_read(ssl, buf, sizeof(buf)) > 0)
			;
	}
	if (!s->ok || ERR_peek_error())
		fy_tls_errstr(s->err, sizeof(s->err));
out:
	SSL_free(ssl);
	shutdown(s->fd, SHUT_RDWR);
	close(s->fd);
	return NULL;
}

/* One handshake over a socketpair; host NULL skips fy_tls_client_prepare. */
static void handshake(SSL_CTX *sctx, SSL_CTX *cctx, const char *host, struct hs_result *r)
{
	struct timeval tv = { .tv_sec = 10 };
	struct server_run s;
	pthread_t th;
	SSL *ssl;
	int sv[2];

	memset(r, 0, sizeof(*r));
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* A bug must fail the test, not hang it. */
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	s.ctx = sctx;
	s.fd = sv[0];
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, server_main, &s), 0);

	ssl = SSL_new(cctx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ssl);
	SSL_set_fd(ssl, sv[1]);
	if (host)
		CU_ASSERT_EQUAL(fy_tls_client_prepare(ssl, host), 0);
	ERR_clear_error();
	if (SSL_connect(ssl) == 1) {
		char buf[8];
		int n = SSL_read(ssl, buf, sizeof(buf));

		r->version = SSL_version(ssl);
		r->client_ok = n == 4 && memcmp(buf, "ping", 4) == 0;
	}
	if (!r->client_ok)
		fy_tls_errstr(r->cerr, sizeof(r->cerr));
	SSL_free(ssl);
	shutdown(sv[1], SHUT_RDWR);
	close(sv[1]);
	pthread_join(th, NULL);
	r->server_ok = s.ok;
	memcpy(r->serr, s.err, sizeof(r->serr));
}

static SSL_CTX *server_ctx1(const char *client_ca)
{
	char err[512];
	SSL_CTX *ctx = fy_tls_server_ctx(crt1, key1, client_ca, err, sizeof(err));

	if (!ctx)
		fprintf(stderr, "\n  server ctx: %s\n", err);
	return ctx;
}

static SSL_CTX *client_ctx(const char *ca, const char *fp)
{
	char err[512];
	SSL_CTX *ctx = fy_tls_client_ctx(ca, fp, NULL, NULL, err, sizeof(err));

	if (!ctx)
		fprintf(stderr, "\n  client ctx: %s\n", err);
	return ctx;
}

/* (a) CA + the relay's IP address or DNS name: TLS 1.3 and data flows. */
static void test_hs_ca_ok(void)
{
	static const char *const hosts[] = { "127.0.0.1", "localhost", "::1", "[::1]" };
	SSL_CTX *s = server_ctx1(NULL), *c = client_ctx(ca1, NULL);
	struct hs_result r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		handshake(s, c, hosts[i], &r);
		if (!r.client_ok)
			fprintf(stderr, "\n  %s: client: %s / server: %s\n", hosts[i], r.cerr,
				r.serr);
		CU_ASSERT_TRUE(r.client_ok);
		CU_ASSERT_TRUE(r.server_ok);
		CU_ASSERT_EQUAL(r.version, TLS1_3_VERSION);
	}
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

/* (b) CA, but a name or address the certificate does not carry; and a CA
 * that did not sign the relay certificate. */
static void test_hs_ca_wrong_name(void)
{
	SSL_CTX *s = server_ctx1(NULL), *c = client_ctx(ca1, NULL), *c2 = client_ctx(ca2, NULL);
	struct hs_result r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
	handshake(s, c, "relay.example.com", &r);
	CU_ASSERT_FALSE(r.client_ok);
	CU_ASSERT_FALSE(r.server_ok);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.cerr, "does not name 'relay.example.com'"));

	handshake(s, c, "10.1.2.3", &r);
	CU_ASSERT_FALSE(r.client_ok);
	CU_ASSERT_FALSE(r.server_ok);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.cerr, "does not name IP address 10.1.2.3"));

	handshake(s, c2, "localhost", &r);
	CU_ASSERT_FALSE(r.client_ok);
	CU_ASSERT_FALSE(r.server_ok);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.cerr, "relay certificate"));
	SSL_CTX_free(c2);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

/* (c) pinned fingerprint, in our spelling and in openssl's (upper case,
 * colons); names are not checked when pinning. */
static void test_hs_pin_ok(void)
{
	char fp[80], fp_openssl[160], err[512];
	SSL_CTX *s = server_ctx1(NULL), *c, *c2;
	struct hs_result r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(fy_tls_fingerprint_file(crt1, fp, sizeof(fp), err,
						      sizeof(err)), 0);
	own_fingerprint(crt1, fp_openssl, sizeof(fp_openssl), 1);
	c = client_ctx(NULL, fp);
	c2 = client_ctx(NULL, fp_openssl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c2);

	handshake(s, c, "127.0.0.1", &r);
	CU_ASSERT_TRUE(r.client_ok);
	CU_ASSERT_TRUE(r.server_ok);
	CU_ASSERT_EQUAL(r.version, TLS1_3_VERSION);
	handshake(s, c2, "some-other-name.invalid", &r);
	CU_ASSERT_TRUE(r.client_ok);
	CU_ASSERT_TRUE(r.server_ok);
	handshake(s, c, NULL, &r);
	CU_ASSERT_TRUE(r.client_ok);
	SSL_CTX_free(c2);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

/* (d) wrong pin: the other relay's certificate, and one digit changed. */
static void test_hs_pin_wrong(void)
{
	char fp1[80], fp2[80], want[256], err[512];
	SSL_CTX *s = server_ctx1(NULL), *c;
	struct hs_result r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(fy_tls_fingerprint_file(crt1, fp1, sizeof(fp1), err,
						      sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(fy_tls_fingerprint_file(crt2, fp2, sizeof(fp2), err,
						      sizeof(err)), 0);
	c = client_ctx(NULL, fp2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	handshake(s, c, "127.0.0.1", &r);
	CU_ASSERT_FALSE(r.client_ok);
	CU_ASSERT_FALSE(r.server_ok);
	snprintf(want, sizeof(want),
		 "relay certificate fingerprint %s does not match the pinned %s", fp1, fp2);
	if (!strstr(r.cerr, want))
		fprintf(stderr, "\n  got: %s\n", r.cerr);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.cerr, want));
	SSL_CTX_free(c);

	fp1[70] = fp1[70] == '0' ? '1' : '0';
	c = client_ctx(NULL, fp1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	handshake(s, c, "127.0.0.1", &r);
	CU_ASSERT_FALSE(r.client_ok);
	CU_ASSERT_FALSE(r.server_ok);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.cerr, "does not match the pinned"));
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

/* (e) a client that speaks at most TLS 1.2 is refused by the relay. */
static void test_hs_tls12_refused(void)
{
	SSL_CTX *s = server_ctx1(NULL), *c = SSL_CTX_new(TLS_client_method());
	struct hs_result r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION), 1);
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
	handshake(s, c, NULL, &r);
	CU_ASSERT_FALSE(r.client_ok);
	CU_ASSERT_FALSE(r.server_ok);
	CU_ASSERT(r.serr[0] != '\0');
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

/* (f) server context errors name the problem and the files. */
static void test_server_ctx_errors(void)
{
	char err[512];
	SSL_CTX *ctx;

	ctx = fy_tls_server_ctx(crt1, key2, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NULL(ctx);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not match"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, crt1));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, key2));

	ctx = fy_tls_server_ctx("/nonexistent/relay.crt", key1, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NULL(ctx);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/relay.crt"));

	ctx = fy_tls_server_ctx(crt1, crt1, NULL, err, sizeof(err));	/* cert as key */
	CU_ASSERT_PTR_NULL(ctx);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot load private key"));

	ctx = fy_tls_server_ctx(key1, key1, NULL, err, sizeof(err));	/* key as cert */
	CU_ASSERT_PTR_NULL(ctx);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot load certificate chain"));

	ctx = fy_tls_server_ctx(crt1, key1, "/nonexistent/ca.crt", err, sizeof(err));
	CU_ASSERT_PTR_NULL(ctx);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/ca.crt"));

	ctx = fy_tls_server_ctx(crt1, key1, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(ctx);
	SSL_CTX_free(ctx);
	/* Whatever failed above left nothing behind on the error queue. */
	CU_ASSERT_EQUAL(ERR_peek_error(), 0);
}

static void test_client_ctx_errors(void)
{
	static const char *const bad_fp[] = {
		"SHA256:abcd",
		"MD5:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"SHA256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
		"SHA256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"",
	};
	char err[512];

	for (size_t i = 0; i < sizeof(bad_fp) / sizeof(bad_fp[0]); i++) {
		err[0] = '\0';
		CU_ASSERT_PTR_NULL(fy_tls_client_ctx(NULL, bad_fp[i], NULL, NULL, err,
						     sizeof(err)));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad fingerprint"));
	}
	CU_ASSERT_PTR_NULL(fy_tls_client_ctx(NULL, NULL, NULL, NULL, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "exactly one"));
	CU_ASSERT_PTR_NULL(fy_tls_client_ctx(ca1, "SHA256:00", NULL, NULL, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "exactly one"));
	CU_ASSERT_PTR_NULL(fy_tls_client_ctx("/nonexistent/ca.crt", NULL, NULL, NULL, err,
					     sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/ca.crt"));
	CU_ASSERT_PTR_NULL(fy_tls_client_ctx(ca1, NULL, crt1, NULL, err, sizeof(err)));
	CU_ASSERT_PTR_NULL(fy_tls_client_ctx(ca1, NULL, crt1, key2, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not match"));
}

/* SNI only for DNS names. */
static void test_client_prepare_sni(void)
{
	SSL_CTX *c = client_ctx(ca1, NULL);
	SSL *ssl;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	ssl = SSL_new(c);
	CU_ASSERT_EQUAL(fy_tls_client_prepare(ssl, "localhost"), 0);
	CU_ASSERT_STRING_EQUAL(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name), "localhost");
	SSL_free(ssl);
	ssl = SSL_new(c);
	CU_ASSERT_EQUAL(fy_tls_client_prepare(ssl, "127.0.0.1"), 0);
	CU_ASSERT_PTR_NULL(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
	CU_ASSERT_EQUAL(fy_tls_client_prepare(ssl, ""), -1);
	CU_ASSERT_EQUAL(fy_tls_client_prepare(ssl, NULL), -1);
	SSL_free(ssl);
	SSL_CTX_free(c);
}

/* Relay with a client CA: agents without a certificate still get in; an
 * agent certificate that is not fit for client use is refused, and the
 * relay's error says why. */
static void test_hs_client_ca(void)
{
	char err[512];
	SSL_CTX *s = server_ctx1(ca1), *c = client_ctx(ca1, NULL), *cc;
	struct hs_result r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	handshake(s, c, "localhost", &r);
	CU_ASSERT_TRUE(r.client_ok);
	CU_ASSERT_TRUE(r.server_ok);

	/* relay.crt has only the serverAuth purpose. */
	cc = fy_tls_client_ctx(ca1, NULL, crt1, key1, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(cc);
	handshake(s, cc, "localhost", &r);
	CU_ASSERT_FALSE(r.client_ok);
	CU_ASSERT_FALSE(r.server_ok);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.serr, "agent certificate"));
	SSL_CTX_free(cc);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

static void test_errstr_empty(void)
{
	char buf[64];

	ERR_clear_error();
	CU_ASSERT_STRING_EQUAL(fy_tls_errstr(buf, sizeof(buf)), "no details from OpenSSL");
}

/* fy_tlsconn over one end of a non-blocking socketpair. */
static long sp_recv(void *io, void *buf, size_t n)
{
	ssize_t k = recv(*(int *)io, buf, n, MSG_DONTWAIT);

	return k >= 0 ? k : errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

static long sp_send(void *io, const void *buf, size_t n)
{
	ssize_t k = send(*(int *)io, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);

	return k >= 0 ? k : errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

static void sp_shutdown_wr(void *io)
{
	shutdown(*(int *)io, SHUT_WR);
}

static void sp_want(void *io, bool rd, bool wr)
{
	(void)io;
	(void)rd;
	(void)wr;
}

static const struct fy_conn_ops sp_ops = {
	.recv = sp_recv, .send = sp_send, .shutdown_wr = sp_shutdown_wr, .want = sp_want,
};

/* Client ct and server st shake hands, each pulling what the other sent,
 * until both are done (fatal if either fails or it takes 100 rounds). */
static void tlsconn_handshake_pair(struct fy_tlsconn *ct, struct fy_tlsconn *st)
{
	int done_c = 0, done_s = 0;

	CU_ASSERT_EQUAL(fy_tls_client_prepare(ct->ssl, "localhost"), 0);
	for (int i = 0; i < 100 && (done_c != 1 || done_s != 1); i++) {
		fy_tlsconn_pull(ct);
		if (done_c != 1)
			done_c = fy_tlsconn_handshake(ct);
		fy_tlsconn_pull(st);
		if (done_s != 1)
			done_s = fy_tlsconn_handshake(st);
		CU_ASSERT_FATAL(done_c >= 0 && done_s >= 0);
	}
	CU_ASSERT_EQUAL_FATAL(done_c, 1);
	CU_ASSERT_EQUAL_FATAL(done_s, 1);
}

/* An error another connection left in this thread's OpenSSL error queue
 * (a client that went away during its handshake makes SSL_shutdown fail
 * with "shutdown while in init") must not end a healthy connection: its
 * read with nothing to read is "again", not a TLS error. */
static void test_tlsconn_stale_error(void)
{
	SSL_CTX *s = server_ctx1(NULL), *c = client_ctx(ca1, NULL);
	struct fy_tlsconn ct, st;
	int sv[2];
	char buf[16];
	long k;
	SSL *other;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CU_ASSERT_EQUAL_FATAL(fy_tlsconn_init(&ct, c, &sp_ops, &sv[0], false), 0);
	CU_ASSERT_EQUAL_FATAL(fy_tlsconn_init(&st, s, &sp_ops, &sv[1], true), 0);
	tlsconn_handshake_pair(&ct, &st);

	/* Another connection fails to shut down before its handshake. */
	other = SSL_new(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	SSL_set_accept_state(other);
	CU_ASSERT_TRUE(SSL_shutdown(other) < 0);
	CU_ASSERT_NOT_EQUAL(ERR_peek_error(), 0);
	SSL_free(other);

	fy_tlsconn_pull(&ct);
	k = fy_tlsconn_read(&ct, buf, sizeof(buf));
	CU_ASSERT_EQUAL(k, -EAGAIN);
	if (k != -EAGAIN)
		fprintf(stderr, "\n  read with a stale error queued: %ld (%s)\n", k, ct.why);
	CU_ASSERT_EQUAL(fy_tlsconn_write(&st, "ping", 4), 4);
	fy_tlsconn_push(&st);
	fy_tlsconn_pull(&ct);
	k = fy_tlsconn_read(&ct, buf, sizeof(buf));
	CU_ASSERT_EQUAL(k, 4);
	CU_ASSERT_EQUAL(memcmp(buf, "ping", 4), 0);
	fy_tlsconn_fini(&ct);
	fy_tlsconn_fini(&st);
	close(sv[0]);
	close(sv[1]);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

/* A connection that takes at most `budget` more bytes (then "full"), or
 * fails every send with `fail` (an errno). */
struct throttled {
	int fd;
	size_t budget;
	int fail;
	int rfail;		/* every recv fails with this errno */
	unsigned sends, full;
	unsigned recvs;		/* recv calls that returned bytes */
};

static long th_recv(void *io, void *buf, size_t n)
{
	struct throttled *t = io;
	long k;

	if (t->rfail)
		return -t->rfail;
	k = sp_recv(&t->fd, buf, n);
	t->recvs += k > 0;
	return k;
}

static size_t th_readable(void *io)
{
	int n = 0;

	return ioctl(((struct throttled *)io)->fd, FIONREAD, &n) == 0 && n > 0 ? (size_t)n : 0;
}

static long th_send(void *io, const void *buf, size_t n)
{
	struct throttled *t = io;
	long k;

	if (t->fail)
		return -t->fail;
	if (!t->budget) {
		t->full++;
		return -EAGAIN;
	}
	k = sp_send(&t->fd, buf, n < t->budget ? n : t->budget);
	if (k > 0) {
		t->budget -= (size_t)k;
		t->sends++;
	}
	return k;
}

static const struct fy_conn_ops th_ops = {
	.recv = th_recv, .send = th_send, .shutdown_wr = sp_shutdown_wr, .want = sp_want,
	.readable = th_readable,
};

/* Direct writes: TLS records go straight to the connection's send, never
 * into the pair; a record the connection takes only in part waits in
 * OpenSSL (pending_out, push says "wait") and the next write with the same
 * bytes finishes it; 1 MiB arrives whole and in order through a connection
 * that takes 1000 bytes at a time; a failing send is an error with its
 * reason. */
static void test_tlsconn_direct_write(void)
{
	SSL_CTX *s = server_ctx1(NULL), *c = client_ctx(ca1, NULL);
	struct fy_tlsconn ct, st;
	struct throttled th = { .budget = (size_t)-1 };
	int sv[2];
	size_t total = 1 << 20, off = 0, got = 0;
	uint8_t *src = malloc(total), *dst = malloc(total);
	unsigned blocked = 0;

	CU_ASSERT_FATAL(s && c && src && dst);
	for (size_t i = 0; i < total; i++)
		src[i] = (uint8_t)(i * 7 + (i >> 11));
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	th.fd = sv[1];
	CU_ASSERT_EQUAL_FATAL(fy_tlsconn_init(&ct, c, &sp_ops, &sv[0], false), 0);
	CU_ASSERT_EQUAL_FATAL(fy_tlsconn_init(&st, s, &th_ops, &th, true), 0);
	CU_ASSERT_EQUAL_FATAL(fy_tlsconn_direct_write(&st), 0);
	tlsconn_handshake_pair(&ct, &st);
	CU_ASSERT(th.sends > 0);	/* the handshake went out through send */

	th.budget = 1000;
	for (int round = 0; round < 100000 && got < total; round++) {
		if (off < total) {
			long k = fy_tlsconn_write(&st, src + off, total - off);

			if (k > 0) {
				off += (size_t)k;
			} else {
				CU_ASSERT_EQUAL_FATAL(k, -EAGAIN);
				CU_ASSERT_TRUE(fy_tlsconn_pending_out(&st));
				CU_ASSERT_EQUAL(fy_tlsconn_push(&st), 1);
				blocked++;
				th.budget = 1000;	/* writable again */
			}
		}
		/* Nothing ever waits in the pair. */
		CU_ASSERT_EQUAL(BIO_ctrl_pending(st.net), 0);
		fy_tlsconn_pull(&ct);
		for (;;) {
			long k = fy_tlsconn_read(&ct, dst + got, total - got);

			if (k <= 0)
				break;
			got += (size_t)k;
		}
	}
	CU_ASSERT_EQUAL(off, total);
	CU_ASSERT_EQUAL(got, total);
	CU_ASSERT(memcmp(src, dst, total) == 0);
	CU_ASSERT(blocked > 100);	/* records were cut by the connection, many times */
	CU_ASSERT_FALSE(fy_tlsconn_pending_out(&st));
	CU_ASSERT_EQUAL(fy_tlsconn_push(&st), 0);

	th.fail = ECONNRESET;
	CU_ASSERT_EQUAL(fy_tlsconn_write(&st, "x", 1), -EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(st.why, strerror(ECONNRESET)));
	fy_tlsconn_fini(&ct);
	fy_tlsconn_fini(&st);
	close(sv[0]);
	close(sv[1]);
	free(src);
	free(dst);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

/* A fresh socketpair sv, client ct over sv[0], server st over sv[1]
 * through th with direct reads, hands shaken. */
static void direct_read_pair(SSL_CTX *c, SSL_CTX *s, int sv[2], struct throttled *th,
			     struct fy_tlsconn *ct, struct fy_tlsconn *st)
{
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	*th = (struct throttled){ .fd = sv[1], .budget = (size_t)-1 };
	CU_ASSERT_EQUAL_FATAL(fy_tlsconn_init(ct, c, &sp_ops, &sv[0], false), 0);
	CU_ASSERT_EQUAL_FATAL(fy_tlsconn_init(st, s, &th_ops, th, true), 0);
	CU_ASSERT_EQUAL_FATAL(fy_tlsconn_direct_read(st), 0);
	tlsconn_handshake_pair(ct, st);
}

static void direct_read_pair_end(int sv[2], struct fy_tlsconn *ct, struct fy_tlsconn *st)
{
	fy_tlsconn_fini(ct);
	fy_tlsconn_fini(st);
	close(sv[0]);
	close(sv[1]);
}

/* Direct reads: OpenSSL reads records straight from the connection's
 * recv, nothing goes through the pair and pull has nothing to do; input
 * left unread because the reader's buffer was small is has_input; 1 MiB
 * arrives whole through reads of 1000 bytes; the peer's close_notify is
 * an orderly 0; a bare end of stream sets eof; a failing recv is an error
 * with its reason; a connection without readable is refused. */
static void test_tlsconn_direct_read(void)
{
	static const struct fy_conn_ops no_readable = {
		.recv = th_recv, .send = th_send, .shutdown_wr = sp_shutdown_wr, .want = sp_want,
	};
	SSL_CTX *s = server_ctx1(NULL), *c = client_ctx(ca1, NULL);
	struct fy_tlsconn ct, st, bad;
	struct throttled th = { .budget = (size_t)-1 };
	int sv[2];
	size_t total = 1 << 20, off = 0, got = 0;
	uint8_t *src = malloc(total), *dst = malloc(total);
	unsigned left_unread = 0, stalls = 0;
	char buf[64];
	long k;

	CU_ASSERT_FATAL(s && c && src && dst);
	for (size_t i = 0; i < total; i++)
		src[i] = (uint8_t)(i * 13 + (i >> 9));
	CU_ASSERT_EQUAL_FATAL(fy_tlsconn_init(&bad, s, &no_readable, &th, true), 0);
	CU_ASSERT_EQUAL(fy_tlsconn_direct_read(&bad), -1);
	fy_tlsconn_fini(&bad);
	direct_read_pair(c, s, sv, &th, &ct, &st);
	CU_ASSERT(th.recvs > 0);	/* the ClientHello came through recv */
	/* Both directions direct from here, as on the relay's tunnels. */
	CU_ASSERT_EQUAL_FATAL(fy_tlsconn_direct_write(&st), 0);
	/* A record in the socket, nothing decrypted yet: only readable
	 * can tell. */
	CU_ASSERT_FALSE(fy_tlsconn_has_input(&st));
	CU_ASSERT_EQUAL(fy_tlsconn_write(&ct, "x", 1), 1);
	CU_ASSERT_EQUAL(fy_tlsconn_push(&ct), 0);
	CU_ASSERT_TRUE(fy_tlsconn_has_input(&st));
	CU_ASSERT_EQUAL(fy_tlsconn_read(&st, buf, sizeof(buf)), 1);
	CU_ASSERT_EQUAL(buf[0], 'x');

	while (got < total) {
		size_t before = got;

		if (off < total) {
			k = fy_tlsconn_write(&ct, src + off, total - off < 50000 ? total - off : 50000);
			if (k > 0)
				off += (size_t)k;
			CU_ASSERT_FATAL(k > 0 || k == -EAGAIN);
		}
		CU_ASSERT_FATAL(fy_tlsconn_push(&ct) >= 0);
		CU_ASSERT_EQUAL(fy_tlsconn_pull(&st), 0);
		for (int r = 0; r < 8; r++) {
			k = fy_tlsconn_read(&st, dst + got, total - got < 1000 ? total - got : 1000);
			if (k <= 0)
				break;
			got += (size_t)k;
		}
		CU_ASSERT_FATAL(k > 0 || k == -EAGAIN);
		/* Stopped after 8 small reads with more there: has_input must
		 * say so, as the socket will not. */
		if (k > 0 && fy_tlsconn_has_input(&st))
			left_unread++;
		/* No ciphertext was put in the pair for OpenSSL to read. */
		CU_ASSERT_EQUAL(BIO_ctrl_wpending(st.net), 0);
		stalls = got > before ? 0 : stalls + 1;
		CU_ASSERT_FATAL(stalls < 1000);	/* every byte sent arrives */
	}
	CU_ASSERT_EQUAL(got, total);
	CU_ASSERT(memcmp(src, dst, total) == 0);
	CU_ASSERT(left_unread > 10);
	CU_ASSERT_FALSE(fy_tlsconn_has_input(&st));
	CU_ASSERT_EQUAL(fy_tlsconn_read(&st, buf, sizeof(buf)), -EAGAIN);

	/* A bare end of stream (no close_notify): eof, and no data. */
	shutdown(sv[0], SHUT_WR);
	k = fy_tlsconn_read(&st, buf, sizeof(buf));
	CU_ASSERT(k == 0 || k == -EIO);
	CU_ASSERT_TRUE(st.eof);
	direct_read_pair_end(sv, &ct, &st);

	/* close_notify through a direct read: an orderly 0. */
	direct_read_pair(c, s, sv, &th, &ct, &st);
	CU_ASSERT_EQUAL(fy_tlsconn_write(&ct, "bye", 3), 3);
	SSL_shutdown(ct.ssl);
	fy_tlsconn_push(&ct);
	CU_ASSERT_EQUAL(fy_tlsconn_read(&st, buf, sizeof(buf)), 3);
	CU_ASSERT_EQUAL(fy_tlsconn_read(&st, buf, sizeof(buf)), 0);
	direct_read_pair_end(sv, &ct, &st);

	/* A failing recv: an error that names it. */
	direct_read_pair(c, s, sv, &th, &ct, &st);
	th.rfail = ECONNRESET;
	CU_ASSERT_EQUAL(fy_tlsconn_read(&st, buf, sizeof(buf)), -EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(st.why, strerror(ECONNRESET)));
	direct_read_pair_end(sv, &ct, &st);
	free(src);
	free(dst);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

static void rm_dir(const char *dir)
{
	static const char *const names[] = { "ca.crt", "ca.key", "relay.crt", "relay.key" };
	char path[192];

	for (size_t i = 0; i < 4; i++) {
		join(path, sizeof(path), dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

int main(void)
{
	/* Order matters: cert_init makes the files the later tests use. */
	static const struct cu_test tests[] = {
		{ "cert_init", test_cert_init },
		{ "cert_init_bad_names", test_cert_init_bad_names },
		{ "cert_contents", test_cert_contents },
		{ "fingerprint", test_fingerprint },
		{ "hs_ca_ok", test_hs_ca_ok },
		{ "hs_ca_wrong_name", test_hs_ca_wrong_name },
		{ "hs_pin_ok", test_hs_pin_ok },
		{ "hs_pin_wrong", test_hs_pin_wrong },
		{ "hs_tls12_refused", test_hs_tls12_refused },
		{ "server_ctx_errors", test_server_ctx_errors },
		{ "client_ctx_errors", test_client_ctx_errors },
		{ "client_prepare_sni", test_client_prepare_sni },
		{ "hs_client_ca", test_hs_client_ca },
		{ "errstr_empty", test_errstr_empty },
		{ "tlsconn_stale_error", test_tlsconn_stale_error },
		{ "tlsconn_direct_write", test_tlsconn_direct_write },
		{ "tlsconn_direct_read", test_tlsconn_direct_read },
	};
	char mid[128];
	int rc;

	signal(SIGPIPE, SIG_IGN);	/* a peer that hung up must not kill us */
	snprintf(dir1, sizeof(dir1), "/tmp/ferry-tls-test.XXXXXX");
	if (!mkdtemp(dir1)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dir2, sizeof(dir2), "%s/other/relay", dir1);
	join(ca1, sizeof(ca1), dir1, "ca.crt");
	join(crt1, sizeof(crt1), dir1, "relay.crt");
	join(key1, sizeof(key1), dir1, "relay.key");
	join(ca2, sizeof(ca2), dir2, "ca.crt");
	join(crt2, sizeof(crt2), dir2, "relay.crt");
	join(key2, sizeof(key2), dir2, "relay.key");

	rc = cu_run("tls", tests, ARRAY_LEN(tests));

	rm_dir(dir2);
	snprintf(mid, sizeof(mid), "%s/other", dir1);
	rmdir(mid);
	rm_dir(dir1);
	return rc;
}
