/* Agents over WebSocket (--transport wss): the relay's side of the
 * upgrade (RFC 6455 section 4.2) on the HTTPS ingress at --wss-path.
 * wsup_check judges a complete request head (hparse.h); on success the
 * ingress answers wsup_response's 101 and hands the connection, TLS and
 * all, to the tunnel code (tunnel_accept_ws), where the same HELLO and
 * authentication follow inside binary WebSocket messages. Sans-I/O.
 *
 * Ownership: everything is borrowed for the call. */
#ifndef FERRY_RELAY_WSUP_H
#define FERRY_RELAY_WSUP_H

#include <stddef.h>
#include <stdint.h>

#include "ferry/ws.h"
#include "hparse.h"

/* Whether the request target's path (before any '?') is path. */
bool wsup_is_path(const char *target, size_t n, const char *path);
/* 0: a valid upgrade to a ferry tunnel, with Sec-WebSocket-Accept in
 * accept[FY_WS_ACCEPT_LEN + 1]; or the HTTP status to answer (400, 426)
 * with *why for the log. */
int wsup_check(const struct hparse *hp, const uint8_t *head, char *accept, const char **why);
/* The 101 for accept: its length (0 when out is too small). */
size_t wsup_response(const char *accept, char *out, size_t n);

#endif
