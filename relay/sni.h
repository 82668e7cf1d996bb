/* The server name of a TLS ClientHello, read from the raw bytes before
 * any handshake: SNI passthrough must route a connection without
 * terminating it, and OpenSSL reads a ClientHello only inside a
 * handshake of its own (SSL_CTX_set_client_hello_cb). No Debian library
 * peeks at one, so this is ours: small, every length checked against
 * what contains it, no allocation, no I/O.
 *
 * The ClientHello must lie in the first TLS record (16 KiB, which every
 * browser's fits); one split over records is refused. */
#ifndef FERRY_RELAY_SNI_H
#define FERRY_RELAY_SNI_H

#include <stddef.h>
#include <stdint.h>

#define SNI_NAME_MAX 253	/* a DNS name */
#define SNI_RECORD_MAX (5 + 16384)	/* what a caller buffers at most */

/* p[0..n): the connection's first bytes. >0: the first record is
 * complete (that many bytes) and name holds the server name, lower case,
 * or "" when the client sent none; 0: more bytes are needed; -1: not a
 * TLS ClientHello, or malformed (*why). name has SNI_NAME_MAX + 1 bytes. */
int sni_parse(const uint8_t *p, size_t n, char *name, const char **why);

#endif
