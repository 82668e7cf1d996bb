/* Certificates of the HTTPS ingress, chosen by SNI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ferry/tls.h"
#include "itls.h"

struct ingress_tls {
	SSL_CTX *ctx[RELAY_MAX_CERTS];
	X509 *leaf[RELAY_MAX_CERTS];	/* borrowed from ctx */
	unsigned n;
};

/* The first certificate whose names cover the client's server name;
 * none: the default (the first), which the client will judge. */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
	const struct ingress_tls *t = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	(void)alert;
	if (!name)
		return SSL_TLSEXT_ERR_OK;
	for (unsigned i = 0; i < t->n; i++) {
		if (X509_check_host(t->leaf[i], name, 0, 0, NULL) == 1) {
			if (i)
				SSL_set_SSL_CTX(ssl, t->ctx[i]);
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *ctx_new(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char eb[200];

	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "--https-cert %s / --https-key %s: %s", cert, key,
			 fy_tls_errstr(eb, sizeof(eb)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* The pump hands SSL_write whatever the peer sent: records as they
	 * come, and a retry may come from another buffer. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			 SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

struct ingress_tls *itls_create(const struct relay_cfg *c, char *err, size_t errlen)
{
	struct ingress_tls *t = calloc(1, sizeof(*t));

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (unsigned i = 0; i < c->nhttps_cert; i++) {
		t->ctx[i] = ctx_new(c->https_cert[i], c->https_key[i], err, errlen);
		if (!t->ctx[i]) {
			itls_destroy(t);
			return NULL;
		}
		t->leaf[i] = SSL_CTX_get0_certificate(t->ctx[i]);
		t->n++;
	}
	/* Every context may be the one a handshake starts with. */
	for (unsigned i = 0; i < t->n; i++) {
		SSL_CTX_set_tlsext_servername_callback(t->ctx[i], on_servername);
		SSL_CTX_set_tlsext_servername_arg(t->ctx[i], t);
	}
	return t;
}

void itls_destroy(struct ingress_tls *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->n; i++)
		SSL_CTX_free(t->ctx[i]);
	free(t);
}

SSL_CTX *itls_ctx(const struct ingress_tls *t)
{
	return t->ctx[0];
}
