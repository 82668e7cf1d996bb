/* WebSocket framing for a tunnel carried over HTTPS (--transport wss):
 * a thin glue around wslay's event API (Debian's libwslay-dev), which
 * does RFC 6455's frame parsing, masking rules (a server refuses unmasked
 * frames, a client masked ones), control frames (a ping is answered with
 * a pong, a close with a close) and the close handshake. Sans-I/O: bytes
 * in, bytes out, no sockets, no clock.
 *
 * The tunnel's frame stream is the concatenation of the payloads of
 * binary messages; a message boundary need not fall on a frame boundary.
 * We send messages of at most FY_WS_SEND_MSG bytes and refuse (close 1009)
 * any message over the max_msg given at create, whole or fragmented, and
 * text messages (close 1003): nothing but binary is ever sent.
 *
 * Ownership: create allocates the wslay context; destroy frees it. Every
 * call borrows its buffers. */
#ifndef FERRY_WS_H
#define FERRY_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/buf.h"

/* The largest message we queue; and the default bound on what we take. */
#define FY_WS_SEND_MSG (64u * 1024u)
#define FY_WS_MAX_MSG (256u * 1024u)
/* Framed bytes waiting for TLS: output past this waits in the mux. */
#define FY_WS_OUT_CAP (128u * 1024u)
/* The subprotocol both ends name in the upgrade. */
#define FY_WS_PROTOCOL "ferry"
/* base64 of a SHA-1: the Sec-WebSocket-Accept value. */
#define FY_WS_ACCEPT_LEN 28u
/* base64 of 16 bytes: the Sec-WebSocket-Key value. */
#define FY_WS_KEY_LEN 24u

struct fy_ws;

struct fy_ws *fy_ws_create(bool server, size_t max_msg);
void fy_ws_destroy(struct fy_ws *ws);

/* Decodes frames from in[0..n): the payload of binary messages is
 * appended to out, never past its cap. Returns the bytes of in consumed
 * (fewer than n when out is full: call again once it has room), or -1
 * when the input broke the protocol (a close frame with its code is
 * queued for the peer; fy_ws_why says what was wrong). After the peer's close frame,
 * fy_ws_peer_closed() is true and the rest of in is ignored. */
long fy_ws_decode(struct fy_ws *ws, const uint8_t *in, size_t n, struct fy_buf *out);
/* Queues p[0..n) (n <= FY_WS_SEND_MSG) as one binary message: 0, or -1
 * when nothing more may be sent (a close was queued) or out of memory. */
int fy_ws_queue(struct fy_ws *ws, const uint8_t *p, size_t n);
/* Payload bytes queued and not yet framed. */
size_t fy_ws_queued(const struct fy_ws *ws);
/* Frames what is queued (messages, pongs, a close) into out as far as
 * its cap allows: 0, or -1 (fy_ws_why). */
int fy_ws_encode(struct fy_ws *ws, struct fy_buf *out);
/* Something is queued for fy_ws_encode. */
bool fy_ws_want_write(const struct fy_ws *ws);
/* The peer sent a close frame: *code is its status (1005: none). */
bool fy_ws_peer_closed(const struct fy_ws *ws, uint16_t *code);
/* What went wrong; after a refusal of wslay's, precise once fy_ws_encode
 * has sent its close (the close's code says what it was). */
const char *fy_ws_why(struct fy_ws *ws);

/* Sec-WebSocket-Accept for key[0..n): base64(SHA-1(key GUID)), with a
 * terminating NUL in out[FY_WS_ACCEPT_LEN + 1]. 0, or -1 (n too long). */
int fy_ws_accept(const char *key, size_t n, char *out);
/* A fresh Sec-WebSocket-Key (16 random bytes, base64) in
 * out[FY_WS_KEY_LEN + 1]: 0, or -1 when no randomness. */
int fy_ws_new_key(char *out);
/* Whether v[0..n) is a valid Sec-WebSocket-Key: base64 of 16 bytes. */
bool fy_ws_key_ok(const char *v, size_t n);

#endif
