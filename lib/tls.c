/* TLS helpers around OpenSSL 3: relay and agent contexts (TLS 1.3 only),
 * certificate pinning, and "cert init" (a CA plus a relay certificate).
 *
 * Verification failures are pushed onto OpenSSL's error queue as readable
 * sentences (ERR_LIB_USER entries carrying the text), so the code that
 * drives the handshake gets them from fy_tls_errstr() on the same thread,
 * e.g. "relay certificate fingerprint SHA256:ab.. does not match the
 * pinned SHA256:cd..; certificate verify failed". */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ferry/tls.h"

#define FP_PREFIX "SHA256:"
#define FP_STR_LEN (sizeof(FP_PREFIX) - 1 + FY_FP_LEN)	/* without NUL */
#define ERR_REASON_MSG 1	/* our ERR_LIB_USER entries: text in data */
#define CA_DAYS 3650
#define RELAY_DAYS 825
#define MAX_NAMES 32

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "SHA256:" + 64 lowercase hex; out holds at least FP_STR_LEN + 1. */
static void fp_format(const uint8_t md[32], char *out)
{
	static const char hx[] = "0123456789abcdef";
	char *p = out + sizeof(FP_PREFIX) - 1;

	memcpy(out, FP_PREFIX, sizeof(FP_PREFIX) - 1);
	for (size_t i = 0; i < 32; i++) {
		*p++ = hx[md[i] >> 4];
		*p++ = hx[md[i] & 15];
	}
	*p = '\0';
}

/* "SHA256:" (any case) then 64 hex digits, colons anywhere ignored. */
static int fp_parse(const char *s, uint8_t out[32])
{
	size_t n = 0;
	int hi = 0;

	if (strncasecmp(s, FP_PREFIX, sizeof(FP_PREFIX) - 1) != 0)
		return -1;
	for (s += sizeof(FP_PREFIX) - 1; *s; s++) {
		int v;

		if (*s == ':')
			continue;
		v = hexval(*s);
		if (v < 0 || n == FY_FP_LEN)
			return -1;
		if (n % 2 == 0)
			hi = v;
		else
			out[n / 2] = (uint8_t)(hi << 4 | v);
		n++;
	}
	return n == FY_FP_LEN ? 0 : -1;
}

static int cert_sha256(X509 *x, uint8_t md[32])
{
	unsigned char buf[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!X509_digest(x, EVP_sha256(), buf, &n) || n != 32)
		return -1;
	memcpy(md, buf, 32);
	return 0;
}

/* A process that never loads OpenSSL's error strings (ferry-agent: they
 * cost it some 170 KiB of resident memory, issue 10) still names the
 * failures an operator meets, in OpenSSL's own words; any other error is
 * given by its code, which `openssl errstr CODE` spells out. */
static const char *known_reason(unsigned long e, char *tmp, size_t len)
{
	static const struct {
		int lib, reason;
		const char *text;
	} known[] = {
		{ ERR_LIB_SSL, SSL_R_CERTIFICATE_VERIFY_FAILED, "certificate verify failed" },
		{ ERR_LIB_SSL, SSL_R_WRONG_VERSION_NUMBER, "wrong version number" },
		{ ERR_LIB_SSL, SSL_R_UNEXPECTED_EOF_WHILE_READING, "unexpected eof while reading" },
		{ ERR_LIB_SSL, SSL_R_PACKET_LENGTH_TOO_LONG, "packet length too long" },
		{ ERR_LIB_SSL, SSL_R_UNSUPPORTED_PROTOCOL, "unsupported protocol" },
		{ ERR_LIB_SSL, SSL_R_NO_PROTOCOLS_AVAILABLE, "no protocols available" },
		{ ERR_LIB_SSL, SSL_R_HTTP_REQUEST, "http request" },
		{ ERR_LIB_SSL, SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC,
		  "decryption failed or bad record mac" },
		{ ERR_LIB_PEM, PEM_R_NO_START_LINE, "no start line" },
		{ ERR_LIB_PEM, PEM_R_BAD_END_LINE, "bad end line" },
		{ ERR_LIB_X509, X509_R_NO_CERTIFICATE_OR_CRL_FOUND, "no certificate or crl found" },
	};
	int lib = ERR_GET_LIB(e), r = ERR_GET_REASON(e);

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i].lib == lib && known[i].reason == r)
			return known[i].text;
	/* Alerts the peer sent: SSL_R_SSLV3_ALERT_* and SSL_R_TLSV1*_ALERT_*. */
	if (lib == ERR_LIB_SSL && r > SSL_AD_REASON_OFFSET && r < SSL_AD_REASON_OFFSET + 256) {
		snprintf(tmp, len, "the peer sent TLS alert '%s'",
			 SSL_alert_desc_string_long(r - SSL_AD_REASON_OFFSET));
		return tmp;
	}
	if (ERR_lib_error_string(e))
		return NULL;	/* strings are loaded: OpenSSL says it better */
	snprintf(tmp, len, "OpenSSL error %08lX (openssl errstr %08lX)", e, e);
	return tmp;
}

const char *fy_tls_errstr(char *buf, size_t len)
{
	unsigned long e;
	const char *data;
	int flags;
	size_t off = 0;

	if (!buf || !len)
		return buf;
	buf[0] = '\0';
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		const char *reason = NULL;
		char tmp[256];
		int has_data = (flags & ERR_TXT_STRING) && data && *data;
		int w;

		if (off >= len - 1)
			continue;	/* drain the queue even when full */
		if (ERR_SYSTEM_ERROR(e))
			reason = strerror((int)ERR_GET_REASON(e));
		else if (ERR_GET_LIB(e) != ERR_LIB_USER)
			reason = ERR_reason_error_string(e);
		if (!reason && ERR_GET_LIB(e) != ERR_LIB_USER)
			reason = known_reason(e, tmp, sizeof(tmp));
		if (!reason && !(ERR_GET_LIB(e) == ERR_LIB_USER && has_data)) {
			ERR_error_string_n(e, tmp, sizeof(tmp));
			reason = tmp;
		}
		w = snprintf(buf + off, len - off, "%s%s%s%s", off ? "; " : "",
			     reason ? reason : "", reason && has_data ? ": " : "",
			     has_data ? data : "");
		if (w > 0)
			off += (size_t)w;
	}
	if (!buf[0])
		snprintf(buf, len, "no details from OpenSSL");
	return buf;
}

/* ---- pinning state: the 32-byte pin lives in the SSL_CTX's ex_data ---- */

/* OpenSSL hands out ex_data indexes process-wide; this one is set once. */
static CRYPTO_ONCE pin_once = CRYPTO_ONCE_STATIC_INIT;
static int pin_idx = -1;

static void pin_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
		     long argl, void *argp)
{
	(void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
	OPENSSL_clear_free(ptr, 32);
}

static void pin_idx_init(void)
{
	pin_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, pin_free);
}

static const uint8_t *ctx_pin(const SSL_CTX *ctx)
{
	if (!CRYPTO_THREAD_run_once(&pin_once, pin_idx_init) || pin_idx < 0)
		return NULL;
	return SSL_CTX_get_ex_data(ctx, pin_idx);
}

/* Replaces chain verification when pinning: the relay's leaf certificate
 * must hash to the pin; CA, expiry and name checks are skipped (like an
 * SSH host key). The handshake itself proves the relay holds that
 * certificate's key (CertificateVerify). A cert_verify_callback is used
 * rather than a per-depth verify callback because it sees the leaf exactly
 * once and cannot be bypassed by how chain building fails. */
static int pin_verify(X509_STORE_CTX *sctx, void *arg)
{
	const uint8_t *pin = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(sctx);
	uint8_t md[32];
	char got[FP_STR_LEN + 1], want[FP_STR_LEN + 1];

	if (!pin || !leaf || cert_sha256(leaf, md)) {
		X509_STORE_CTX_set_error(sctx, X509_V_ERR_UNSPECIFIED);
		ERR_raise_data(ERR_LIB_USER, ERR_REASON_MSG,
			       "cannot compare the relay certificate with the pinned fingerprint");
		return 0;
	}
	if (CRYPTO_memcmp(md, pin, 32) != 0) {
		fp_format(md, got);
		fp_format(pin, want);
		X509_STORE_CTX_set_error(sctx, X509_V_ERR_CERT_REJECTED);
		ERR_raise_data(ERR_LIB_USER, ERR_REASON_MSG,
			       "relay certificate fingerprint %s does not match the pinned %s",
			       got, want);
		return 0;
	}
	X509_STORE_CTX_set_error(sctx, X509_V_OK);
	return 1;
}

/* CA mode (both sides): keeps OpenSSL's verdict, but explains a failure. */
static int report_verify(int ok, X509_STORE_CTX *sctx)
{
	SSL *ssl;
	X509 *cur;
	X509_VERIFY_PARAM *vp;
	const char *who;
	char subj[256] = "(none)";
	int e, depth;

	if (ok)
		return ok;
	e = X509_STORE_CTX_get_error(sctx);
	depth = X509_STORE_CTX_get_error_depth(sctx);
	cur = X509_STORE_CTX_get_current_cert(sctx);
	ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	who = ssl && SSL_is_server(ssl) ? "agent" : "relay";
	if (cur)
		X509_NAME_oneline(X509_get_subject_name(cur), subj, sizeof(subj));
	vp = X509_STORE_CTX_get0_param(sctx);
	if (e == X509_V_ERR_HOSTNAME_MISMATCH) {
		const char *host = X509_VERIFY_PARAM_get0_host(vp, 0);

		ERR_raise_data(ERR_LIB_USER, ERR_REASON_MSG,
			       "%s certificate %s does not name '%s' (connect with a name "
			       "it has, or re-issue it with that name)",
			       who, subj, host ? host : "?");
	} else if (e == X509_V_ERR_IP_ADDRESS_MISMATCH) {
		char *ip = X509_VERIFY_PARAM_get1_ip_asc(vp);

		ERR_raise_data(ERR_LIB_USER, ERR_REASON_MSG,
			       "%s certificate %s does not name IP address %s (connect with a "
			       "name it has, or re-issue it with that address)",
			       who, subj, ip ? ip : "?");
		OPENSSL_free(ip);
	} else {
		ERR_raise_data(ERR_LIB_USER, ERR_REASON_MSG,
			       "%s certificate %s (chain depth %d): %s", who, subj, depth,
			       X509_verify_cert_error_string(e));
	}
	return ok;
}

/* ---- contexts ---- */

static int check_readable(const char *path, const char *what, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "re");

	if (!fp) {
		seterr(err, errlen, "cannot open %s '%s': %s", what, path, strerror(errno));
		return -1;
	}
	fclose(fp);
	return 0;
}

/* Never prompt for a pass phrase: a daemon has no terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return -1;
}

static int load_cert_key(SSL_CTX *ctx, const char *cert_file, const char *key_file,
			 char *err, size_t errlen)
{
	char ebuf[512];
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	X509 *leaf;
	int ret = -1;

	if (check_readable(cert_file, "certificate", err, errlen) ||
	    check_readable(key_file, "private key", err, errlen))
		return -1;
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		seterr(err, errlen, "cannot load certificate chain from '%s': %s",
		       cert_file, fy_tls_errstr(ebuf, sizeof(ebuf)));
		goto out;
	}
	bio = BIO_new_file(key_file, "r");
	if (bio)
		pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (!pkey) {
		seterr(err, errlen, "cannot load private key from '%s' (PEM, not "
		       "encrypted): %s", key_file, fy_tls_errstr(ebuf, sizeof(ebuf)));
		goto out;
	}
	leaf = SSL_CTX_get0_certificate(ctx);
	if (!leaf || X509_check_private_key(leaf, pkey) != 1) {
		ERR_clear_error();
		seterr(err, errlen, "private key '%s' does not match certificate '%s' "
		       "(use the key that was created with that certificate)",
		       key_file, cert_file);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		seterr(err, errlen, "cannot use private key '%s' with certificate '%s': %s",
		       key_file, cert_file, fy_tls_errstr(ebuf, sizeof(ebuf)));
		goto out;
	}
	ret = 0;
out:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return ret;
}

static SSL_CTX *new_ctx(const SSL_METHOD *m, char *err, size_t errlen)
{
	char ebuf[256];
	SSL_CTX *ctx = SSL_CTX_new(m);

	if (!ctx) {
		seterr(err, errlen, "cannot create TLS context: %s",
		       fy_tls_errstr(ebuf, sizeof(ebuf)));
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
		seterr(err, errlen, "cannot restrict TLS context to TLS 1.3: %s",
		       fy_tls_errstr(ebuf, sizeof(ebuf)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* AES-128-GCM first: with AES instructions it costs the least CPU per
	 * byte, and CPU per byte is what a tunnel on a small box runs out of.
	 * Both sides list the same order, so the choice does not depend on
	 * who prefers what. */
	SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:"
				 "TLS_AES_256_GCM_SHA384");
	return ctx;
}

SSL_CTX *fy_tls_server_ctx(const char *cert_file, const char *key_file,
			   const char *client_ca, char *err, size_t errlen)
{
	char ebuf[512];
	SSL_CTX *ctx;

	if (!cert_file || !key_file) {
		seterr(err, errlen, "the relay needs both a certificate and a private key");
		return NULL;
	}
	ctx = new_ctx(TLS_server_method(), err, errlen);
	if (!ctx)
		return NULL;
	/* Agents do not resume sessions: no tickets, no cache. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (load_cert_key(ctx, cert_file, key_file, err, errlen))
		goto fail;
	if (client_ca) {
		STACK_OF(X509_NAME) *names;

		if (check_readable(client_ca, "client CA file", err, errlen))
			goto fail;
		ERR_clear_error();
		if (SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1) {
			seterr(err, errlen, "cannot load client CA file '%s': %s",
			       client_ca, fy_tls_errstr(ebuf, sizeof(ebuf)));
			goto fail;
		}
		names = SSL_load_client_CA_file(client_ca);
		if (names)
			SSL_CTX_set_client_CA_list(ctx, names);
		ERR_clear_error();
		/* Verified when presented, but optional (no FAIL_IF_NO_PEER_CERT). */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, report_verify);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *fy_tls_client_ctx(const char *ca_file, const char *fingerprint,
			   const char *cert_file, const char *key_file,
			   char *err, size_t errlen)
{
	char ebuf[512];
	SSL_CTX *ctx;

	if (!ca_file == !fingerprint) {
		seterr(err, errlen, "give exactly one of a CA file or a pinned fingerprint "
		       "to verify the relay");
		return NULL;
	}
	if (!cert_file != !key_file) {
		seterr(err, errlen, "a client certificate needs both the certificate "
		       "and its private key");
		return NULL;
	}
	ctx = new_ctx(TLS_client_method(), err, errlen);
	if (!ctx)
		return NULL;
	if (ca_file) {
		if (check_readable(ca_file, "CA file", err, errlen))
			goto fail;
		ERR_clear_error();
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			seterr(err, errlen, "cannot load CA file '%s': %s",
			       ca_file, fy_tls_errstr(ebuf, sizeof(ebuf)));
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, report_verify);
	} else {
		uint8_t *pin;

		if (!CRYPTO_THREAD_run_once(&pin_once, pin_idx_init) || pin_idx < 0) {
			seterr(err, errlen, "cannot set up certificate pinning");
			goto fail;
		}
		pin = OPENSSL_malloc(32);
		if (!pin) {
			seterr(err, errlen, "out of memory");
			goto fail;
		}
		if (fp_parse(fingerprint, pin)) {
			OPENSSL_free(pin);
			seterr(err, errlen, "bad fingerprint '%s' (expected SHA256: followed by "
			       "64 hex digits, as printed by 'ferry-relay cert fingerprint')",
			       fingerprint);
			goto fail;
		}
		if (!SSL_CTX_set_ex_data(ctx, pin_idx, pin)) {
			OPENSSL_free(pin);
			seterr(err, errlen, "cannot set up certificate pinning");
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_cert_verify_callback(ctx, pin_verify, pin);
	}
	if (cert_file && load_cert_key(ctx, cert_file, key_file, err, errlen))
		goto fail;
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int fy_tls_client_prepare(SSL *ssl, const char *host)
{
	char name[256];
	unsigned char addr[16];
	size_t len;
	int is_ip;

	if (!ssl || !host || !*host)
		return -1;
	len = strlen(host);
	if (host[0] == '[' && len > 2 && host[len - 1] == ']') {	/* "[::1]" */
		host++;
		len -= 2;
	}
	if (len >= sizeof(name))
		return -1;
	memcpy(name, host, len);
	name[len] = '\0';
	is_ip = inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
	/* SNI carries DNS names only (RFC 6066). */
	if (!is_ip && SSL_set_tlsext_host_name(ssl, name) != 1)
		return -1;
	if (ctx_pin(SSL_get_SSL_CTX(ssl)))
		return 0;	/* pinned: names are not checked */
	if (is_ip)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1 ? 0 : -1;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return SSL_set1_host(ssl, name) == 1 ? 0 : -1;
}

/* ---- fingerprints ---- */

int fy_tls_fingerprint_file(const char *cert_file, char *out, size_t outlen,
			    char *err, size_t errlen)
{
	char ebuf[256];
	BIO *bio = NULL;
	X509 *x = NULL;
	uint8_t md[32];
	int ret = -1;

	if (!out || outlen < FP_STR_LEN + 1) {
		seterr(err, errlen, "fingerprint buffer too small");
		return -1;
	}
	if (check_readable(cert_file, "certificate", err, errlen))
		return -1;
	ERR_clear_error();
	bio = BIO_new_file(cert_file, "r");
	if (bio)
		x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
	if (!x && bio && BIO_reset(bio) == 0) {	/* also accept DER */
		ERR_clear_error();
		x = d2i_X509_bio(bio, NULL);
	}
	if (!x) {
		ERR_clear_error();
		seterr(err, errlen, "'%s' does not hold a certificate (PEM or DER)",
		       cert_file);
		goto out;
	}
	if (cert_sha256(x, md)) {
		seterr(err, errlen, "cannot hash certificate '%s': %s",
		       cert_file, fy_tls_errstr(ebuf, sizeof(ebuf)));
		goto out;
	}
	fp_format(md, out);
	ret = 0;
out:
	X509_free(x);
	BIO_free(bio);
	return ret;
}

/* ---- cert init ---- */

struct san {
	int is_ip;
	int iplen;
	unsigned char ip[16];
	char name[254];
};

/* DNS name: labels of [A-Za-z0-9_-], 1..63 each, not starting or ending
 * with '-', 253 in all; the first label may be "*" (wildcard). */
static int valid_dns(const char *s)
{
	size_t len = strlen(s), lab = 0;
	char prev = '.';

	if (len == 0 || len > 253 || s[len - 1] == '.')
		return 0;
	if (s[0] == '*') {
		if (s[1] != '.')
			return 0;
		s += 2;
	}
	for (; *s; prev = *s++) {
		char c = *s;

		if (c == '.') {
			if (lab == 0 || prev == '-')
				return 0;
			lab = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
		if ((c == '-' && lab == 0) || ++lab > 63)
			return 0;
	}
	return lab > 0 && prev != '-';
}

static int parse_names(const char *names, struct san *out, size_t *n,
		       char *err, size_t errlen)
{
	const char *p = names;

	*n = 0;
	if (!names || !*names) {
		seterr(err, errlen, "no names given for the relay certificate");
		return -1;
	}
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct san *s = &out[*n];

		if (*n == MAX_NAMES) {
			seterr(err, errlen, "too many names (at most %d)", MAX_NAMES);
			return -1;
		}
		if (len == 0 || len >= sizeof(s->name)) {
			seterr(err, errlen, "bad name '%.*s' in '%s'", (int)len, p, names);
			return -1;
		}
		memcpy(s->name, p, len);
		s->name[len] = '\0';
		s->is_ip = 1;
		if (inet_pton(AF_INET, s->name, s->ip) == 1) {
			s->iplen = 4;
		} else if (inet_pton(AF_INET6, s->name, s->ip) == 1) {
			s->iplen = 16;
		} else if (valid_dns(s->name)) {
			s->is_ip = 0;
		} else {
			seterr(err, errlen, "'%s' is neither a DNS name nor an IP address",
			       s->name);
			return -1;
		}
		(*n)++;
		if (!end)
			break;
		p = end + 1;
	}
	if (strlen(out[0].name) > 64) {
		seterr(err, errlen, "the first name '%s' is too long for the certificate's "
		       "common name (64 characters at most); put a shorter name first",
		       out[0].name);
		return -1;
	}
	return 0;
}

static int add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	int ok;

	if (!ext)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int add_san(X509 *x, const struct san *sans, size_t n)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	int ret = -1;

	if (!gens)
		return -1;
	for (size_t i = 0; i < n; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_STRING *v = sans[i].is_ip ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();

		if (!g || !v) {
			GENERAL_NAME_free(g);
			ASN1_STRING_free(v);
			goto out;
		}
		if (sans[i].is_ip ? !ASN1_OCTET_STRING_set(v, sans[i].ip, sans[i].iplen)
				  : !ASN1_STRING_set(v, sans[i].name, -1)) {
			GENERAL_NAME_free(g);
			ASN1_STRING_free(v);
			goto out;
		}
		GENERAL_NAME_set0_value(g, sans[i].is_ip ? GEN_IPADD : GEN_DNS, v);
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto out;
		}
	}
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1)
		ret = 0;
out:
	GENERAL_NAMES_free(gens);
	return ret;
}

/* issuer/issuer_key NULL: self-signed CA. */
static X509 *make_cert(EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
		       const char *cn, int days, const struct san *sans, size_t nsans)
{
	unsigned char rnd[16];
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	X509V3_CTX v3;
	X509_NAME *name;
	int is_ca = issuer == NULL;

	if (!x || !X509_set_version(x, X509_VERSION_3))
		goto fail;
	/* Random positive 128-bit serial. */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto fail;
	rnd[0] = (unsigned char)((rnd[0] & 0x7f) | 0x40);
	bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		goto fail;
	/* Back-date an hour to tolerate agents with a slow clock. */
	if (!X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL))
		goto fail;
	if (!X509_set_pubkey(x, key))
		goto fail;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0))
		goto fail;
	if (!X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name))
		goto fail;
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	if (is_ca) {
		if (add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE") ||
		    add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign") ||
		    add_ext(x, &v3, NID_subject_key_identifier, "hash"))
			goto fail;
	} else {
		if (add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") ||
		    add_ext(x, &v3, NID_key_usage, "critical,digitalSignature") ||
		    add_ext(x, &v3, NID_ext_key_usage, "serverAuth") ||
		    add_ext(x, &v3, NID_subject_key_identifier, "hash") ||
		    add_ext(x, &v3, NID_authority_key_identifier, "keyid:always") ||
		    add_san(x, sans, nsans))
			goto fail;
	}
	if (!X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()))
		goto fail;
	BN_free(bn);
	return x;
fail:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

static int mkdir_p(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);
	struct stat st;

	if (len == 0 || len >= sizeof(path)) {
		seterr(err, errlen, "bad directory name '%s'", dir);
		return -1;
	}
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		{
			char c = *p;

			*p = '\0';
			if (mkdir(path, 0755) < 0 && errno != EEXIST) {
				seterr(err, errlen, "cannot create directory '%s': %s",
				       path, strerror(errno));
				return -1;
			}
			*p = c;
			if (c == '\0')
				break;
		}
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		seterr(err, errlen, "'%s' is not a directory", dir);
		return -1;
	}
	return 0;
}

/* Creates path (mode) and writes one PEM object; never follows an existing
 * file: with force the old file is removed first, then O_EXCL. */
static int write_pem(const char *path, mode_t mode, int force, X509 *cert,
		     EVP_PKEY *key, char *err, size_t errlen)
{
	char ebuf[256];
	FILE *fp;
	int fd, ok;

	if (force && unlink(path) < 0 && errno != ENOENT) {
		seterr(err, errlen, "cannot replace '%s': %s", path, strerror(errno));
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			seterr(err, errlen, "'%s' already exists; pass --force to replace it",
			       path);
		else
			seterr(err, errlen, "cannot create '%s': %s", path, strerror(errno));
		return -1;
	}
	fp = fdopen(fd, "w");
	if (!fp) {
		seterr(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	ERR_clear_error();
	ok = cert ? PEM_write_X509(fp, cert)
		  : PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL);
	if (ok && fflush(fp) == 0 && fsync(fd) == 0) {
		if (fclose(fp) == 0)
			return 0;
		fp = NULL;
	}
	seterr(err, errlen, "cannot write '%s': %s", path,
	       ERR_peek_error() ? fy_tls_errstr(ebuf, sizeof(ebuf)) : strerror(errno));
	if (fp)
		fclose(fp);
	unlink(path);
	return -1;
}

int fy_tls_cert_init(const char *dir, const char *names, int force,
		     char *fp_out, size_t fp_len, char *err, size_t errlen)
{
	static const char *const files[4] = { "ca.crt", "ca.key", "relay.crt", "relay.key" };
	struct san sans[MAX_NAMES];
	char paths[4][PATH_MAX], cn[65], ebuf[256], fp[FP_STR_LEN + 1];
	EVP_PKEY *ca_key = NULL, *relay_key = NULL;
	X509 *ca = NULL, *relay = NULL;
	size_t nsans;
	int written = 0, ret = -1;

	if (!dir || !*dir) {
		seterr(err, errlen, "no directory given");
		return -1;
	}
	if (parse_names(names, sans, &nsans, err, errlen))
		return -1;
	for (int i = 0; i < 4; i++) {
		int w = snprintf(paths[i], sizeof(paths[i]), "%s/%s", dir, files[i]);

		if (w < 0 || (size_t)w >= sizeof(paths[i])) {
			seterr(err, errlen, "directory name too long: '%s'", dir);
			return -1;
		}
		if (!force && access(paths[i], F_OK) == 0) {
			seterr(err, errlen, "'%s' already exists; pass --force to replace "
			       "it (agents then need the new ca.crt or fingerprint)", paths[i]);
			return -1;
		}
	}
	if (mkdir_p(dir, err, errlen))
		return -1;

	ERR_clear_error();
	ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	relay_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!ca_key || !relay_key) {
		seterr(err, errlen, "cannot generate EC P-256 keys: %s",
		       fy_tls_errstr(ebuf, sizeof(ebuf)));
		goto out;
	}
	snprintf(cn, sizeof(cn), "ferry CA %.55s", sans[0].name);
	ca = make_cert(ca_key, NULL, NULL, cn, CA_DAYS, NULL, 0);
	relay = ca ? make_cert(relay_key, ca, ca_key, sans[0].name, RELAY_DAYS, sans, nsans)
		   : NULL;
	if (!ca || !relay) {
		seterr(err, errlen, "cannot build certificates: %s",
		       fy_tls_errstr(ebuf, sizeof(ebuf)));
		goto out;
	}
	/* Keys first: a certificate without its key is useless. */
	if (write_pem(paths[1], 0600, force, NULL, ca_key, err, errlen))
		goto out;
	written = 1;
	if (write_pem(paths[0], 0644, force, ca, NULL, err, errlen))
		goto out;
	written = 2;
	if (write_pem(paths[3], 0600, force, NULL, relay_key, err, errlen))
		goto out;
	written = 3;
	if (write_pem(paths[2], 0644, force, relay, NULL, err, errlen))
		goto out;
	written = 4;
	if (fy_tls_fingerprint_file(paths[2], fp, sizeof(fp), err, errlen))
		goto out;
	if (fp_out && fp_len) {
		if (fp_len < sizeof(fp)) {
			seterr(err, errlen, "fingerprint buffer too small");
			goto out;
		}
		memcpy(fp_out, fp, sizeof(fp));
	}
	ret = 0;
out:
	if (ret) {	/* do not leave a half-made set behind */
		static const int order[4] = { 1, 0, 3, 2 };

		for (int i = 0; i < written; i++)
			unlink(paths[order[i]]);
	}
	X509_free(ca);
	X509_free(relay);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(relay_key);
	return ret;
}
