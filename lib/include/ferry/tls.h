/* TLS helpers around OpenSSL: contexts for relay and agent, certificate
 * pinning, and making a CA plus a relay certificate.
 * TLS 1.3 only, everywhere. Contexts are owned by the caller
 * (SSL_CTX_free). Error text goes into err (never NULL on failure). */
#ifndef FERRY_TLS_H
#define FERRY_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

#define FY_FP_LEN 64	/* hex chars of a SHA-256 fingerprint */

/* Relay side. client_ca may be NULL; when set, agents may present a
 * certificate signed by it (mutual TLS), which is verified but optional. */
SSL_CTX *fy_tls_server_ctx(const char *cert_file, const char *key_file,
			   const char *client_ca, char *err, size_t errlen);

/* Agent side. Exactly one of ca_file / fingerprint is non-NULL.
 * fingerprint: "SHA256:" followed by 64 hex digits, colons allowed;
 * it pins the relay's leaf certificate and skips CA checks.
 * cert_file/key_file: optional client certificate for mutual TLS. */
SSL_CTX *fy_tls_client_ctx(const char *ca_file, const char *fingerprint,
			   const char *cert_file, const char *key_file,
			   char *err, size_t errlen);

/* Per connection on the agent side: SNI, and with a CA, verification that
 * the certificate names `host` (DNS name or IP address). 0 or -1. */
int fy_tls_client_prepare(SSL *ssl, const char *host);

/* "SHA256:<64 hex>" of a PEM certificate file's DER encoding. 0 or -1. */
int fy_tls_fingerprint_file(const char *cert_file, char *out, size_t outlen,
			    char *err, size_t errlen);

/* Creates dir/ca.crt, dir/ca.key, dir/relay.crt, dir/relay.key (keys 0600).
 * names: comma-separated DNS names and/or IP addresses for the relay
 * certificate's subjectAltName (the first one is also its CN).
 * Refuses to overwrite existing files unless force. Writes the relay
 * certificate's fingerprint to fp_out. 0 or -1. */
int fy_tls_cert_init(const char *dir, const char *names, int force,
		     char *fp_out, size_t fp_len, char *err, size_t errlen);

/* Formats OpenSSL's error queue (and clears it) into buf; returns buf. */
const char *fy_tls_errstr(char *buf, size_t len);

#endif
