/* The operator's certificates for the HTTPS ingress (itls.c): one TLS
 * context per --https-cert/--https-key pair, the first the default, and
 * the one to use picked by the ClientHello's server name (wildcards such
 * as *.example.org match as X509_check_host says). TLS 1.2 and 1.3: the
 * clients are browsers and curl, not our agents.
 *
 * Ownership: created at start by main, freed at exit; workers only read
 * it (SSL_new on its contexts is thread-safe). */
#ifndef FERRY_RELAY_ITLS_H
#define FERRY_RELAY_ITLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "relay-t.h"

struct ingress_tls *itls_create(const struct relay_cfg *c, char *err, size_t errlen);
void itls_destroy(struct ingress_tls *t);
/* The context a handshake starts with (its SNI callback may switch). */
SSL_CTX *itls_ctx(const struct ingress_tls *t);

#endif
