/* Frame codec: the byte layout of everything inside a tunnel's TLS stream.
 * Pure functions over byte arrays; no I/O, no allocation.
 * See docs/PROTOCOL.md for the layout and the meaning of each field. */
#ifndef FERRY_FRAME_H
#define FERRY_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Version 2 adds streams between agents (CONNECT, DIAL), datagrams
 * (DGRAM, the UDP flag on REGISTER and OPEN) and forwards opened on the
 * relay's request (FORWARD, FORWARDED). Version 3 adds names (the NAME
 * flag on REGISTER and OPEN: HTTP by Host/path and TLS by SNI). Both
 * sides speak 1 to 3. */
#define FY_PROTO_VERSION	3u
#define FY_PROTO_MIN		1u
#define FY_FRAME_HDR_LEN	12u
#define FY_FRAME_MAX_PAYLOAD	65536u	/* hard limit checked by the decoder */
#define FY_DATA_CHUNK		65536u	/* one read(2) of a client per frame */
#define FY_WINDOW_MAX		0x7fffffffu
#define FY_NAME_MAX		63u
#define FY_TOKEN_MAX		128u
#define FY_REASON_MAX		256u
#define FY_HOST_MAX		255u	/* a DNS name or an address literal */
#define FY_SPEC_MAX		200u	/* a forward's spec text */
#define FY_DGRAM_MAX		65507u	/* largest UDP payload over IPv4 */

enum fy_frame_type {
	FY_T_HELLO = 0x01,	/* agent -> relay, stream 0: version, token, name */
	FY_T_WELCOME = 0x02,	/* relay -> agent, stream 0: version, workers, limits */
	FY_T_REGISTER = 0x03,	/* agent -> relay, stream 0: claim a public port */
	FY_T_RESULT = 0x04,	/* relay -> agent, stream 0: answer to REGISTER */
	FY_T_FORWARD = 0x05,	/* v2 relay -> agent, stream 0: open/close a forward */
	FY_T_FORWARDED = 0x06,	/* v2 agent -> relay, stream 0: answer to FORWARD */
	FY_T_OPEN = 0x10,	/* opener -> peer: new stream for a service port */
	FY_T_DATA = 0x11,	/* stream bytes; flag FIN ends this direction */
	FY_T_WINDOW = 0x12,	/* credit increment for a stream */
	FY_T_RESET = 0x13,	/* abort a stream, with a code and a reason */
	FY_T_CONNECT = 0x14,	/* v2 agent -> relay: stream to another agent's target */
	FY_T_DIAL = 0x15,	/* v2 relay -> agent: stream to dial for another agent */
	FY_T_DGRAM = 0x16,	/* v2: one datagram on a UDP stream */
	FY_T_PING = 0x20,	/* stream 0; flag ACK marks the answer */
	FY_T_GOAWAY = 0x21,	/* stream 0: no new streams, drain */
	FY_T_ERROR = 0x22,	/* stream 0: fatal; the sender closes the tunnel */
};

enum fy_frame_flag {
	FY_F_FIN = 0x01,	/* DATA: sender will send no more on this stream */
	FY_F_ACK = 0x02,	/* PING: this is the answer */
	FY_F_UDP = 0x04,	/* v2 REGISTER / OPEN: a UDP port / flow */
	FY_F_CLIENT = 0x08,	/* v2 HELLO: a session that only opens streams */
	FY_F_NAME = 0x10,	/* v3 REGISTER / OPEN: a name (HTTP or TLS by SNI) */
};

/* Error / reset codes carried on the wire. */
enum fy_code {
	FY_E_OK = 0,
	FY_E_PROTOCOL = 1,	/* malformed frame or illegal sequence */
	FY_E_VERSION = 2,	/* no common protocol version */
	FY_E_AUTH = 3,		/* token unknown or not valid for this agent */
	FY_E_DENIED = 4,	/* authenticated, but not allowed to do this */
	FY_E_IN_USE = 5,	/* port held by another agent */
	FY_E_FLOW = 6,		/* flow-control violation */
	FY_E_REFUSED = 7,	/* target refused or unreachable */
	FY_E_LIMIT = 8,		/* a limit was reached (streams, rate, memory) */
	FY_E_TIMEOUT = 9,	/* deadline passed */
	FY_E_SHUTDOWN = 10,	/* the peer is going away */
	FY_E_GONE = 11,		/* the other end of the stream went away */
	FY_E_INTERNAL = 12,
	FY_E_REPLACED = 13,	/* reserved */
	FY_E_AGAIN = 14,	/* obsolete: relays before 0.2 asked a DPDK tunnel
				 * to be opened again; none sends it now */
	FY_E_UNSUPPORTED = 15,	/* the peer's protocol version cannot do this */
};
const char *fy_code_str(uint32_t code);

struct fy_frame_hdr {
	uint8_t type;
	uint8_t flags;
	uint32_t stream;
	uint32_t len;
};

/* Tri-state parse: >0 bytes consumed (header + payload), 0 need more,
 * <0 malformed (-EPROTO), with *why set to a static explanation.
 * On success *payload points into buf. Unknown types are malformed:
 * version 1 has no extension frames. */
int fy_frame_peek(const uint8_t *buf, size_t len, struct fy_frame_hdr *h,
		  const uint8_t **payload, const char **why);

/* Writes a 12-byte header to out. */
void fy_frame_put_hdr(uint8_t *out, uint8_t type, uint8_t flags,
		      uint32_t stream, uint32_t len);

/* ---- control payloads ---- */

struct fy_hello {
	uint16_t ver_min, ver_max;
	uint32_t tunnel_index;	/* 0 .. workers-1 */
	uint64_t session;	/* random per agent process: groups its tunnels */
	char token[FY_TOKEN_MAX + 1];
	char name[FY_NAME_MAX + 1];
	/* v2 (FY_F_CLIENT on the frame; the decoder leaves it to the caller,
	 * who has the header): claims no ports and takes no DIALs, so its name
	 * stays free for the agent that does; one tunnel. */
	bool client;
};
struct fy_welcome {
	uint16_t version;
	uint16_t workers;	/* agent opens this many tunnels */
	uint32_t tunnel_index;
	uint32_t keepalive_ms;
	uint32_t window;	/* initial per-stream window, both directions */
};
/* What a v3 name claim serves: HTTP requests (the relay terminates TLS
 * and routes by Host or path) or TLS connections passed through by SNI. */
enum fy_name_kind { FY_NAME_HTTP = 1, FY_NAME_TLS = 2 };
struct fy_register {
	uint32_t req;		/* echoed in RESULT */
	uint16_t port;		/* public port on the relay; named: the agent's
				 * id for the claim, echoed in OPEN's port */
	bool udp;		/* v2: a UDP port (FY_F_UDP on the frame) */
	bool named;		/* v3: a name claim (FY_F_NAME on the frame) */
	uint8_t kind;		/* named: enum fy_name_kind */
	char name[FY_NAME_MAX + 1];	/* named: a DNS label, lower case */
};
struct fy_result {
	uint32_t req;
	uint32_t code;		/* enum fy_code */
	char msg[FY_REASON_MAX + 1];
};
struct fy_open {
	uint16_t port;		/* service port the client connected to */
	uint16_t peer_port;
	uint8_t peer_addr[16];	/* IPv4-mapped IPv6 */
	bool udp;		/* v2: a UDP flow (FY_F_UDP on the frame) */
	bool named;		/* v3: port is a name claim's id (FY_F_NAME) */
};
/* CONNECT (agent names its target agent) and DIAL (relay names the agent
 * the stream comes from): the same layout. */
enum fy_kind { FY_KIND_TCP = 0, FY_KIND_UDP = 1 };
struct fy_dial {
	uint8_t kind;			/* enum fy_kind */
	uint16_t port;			/* target port, not 0 */
	char agent[FY_NAME_MAX + 1];	/* CONNECT: target agent; DIAL: source agent */
	char host[FY_HOST_MAX + 1];	/* target host: name or address literal */
};
enum fy_forward_op { FY_FWD_OPEN = 1, FY_FWD_CLOSE = 2 };
struct fy_forward {
	uint32_t req;			/* echoed in FORWARDED */
	uint8_t op;			/* enum fy_forward_op */
	char spec[FY_SPEC_MAX + 1];	/* "-R 2222:127.0.0.1:22", as on the command line */
};
struct fy_reason {		/* RESET, GOAWAY, ERROR */
	uint32_t code;
	char msg[FY_REASON_MAX + 1];
};

/* Encoders write into out (at least FY_FRAME_HDR_LEN + max payload of the
 * type) and return the total frame length. Strings are truncated to their
 * wire maximum. */
size_t fy_frame_hello(uint8_t *out, const struct fy_hello *m);
size_t fy_frame_welcome(uint8_t *out, const struct fy_welcome *m);
size_t fy_frame_register(uint8_t *out, const struct fy_register *m);
size_t fy_frame_result(uint8_t *out, const struct fy_result *m);
size_t fy_frame_open(uint8_t *out, uint32_t stream, const struct fy_open *m);
size_t fy_frame_window(uint8_t *out, uint32_t stream, uint32_t incr);
size_t fy_frame_reason(uint8_t *out, uint8_t type, uint32_t stream,
		       const struct fy_reason *m);
size_t fy_frame_ping(uint8_t *out, uint8_t flags, uint64_t opaque);
/* type: FY_T_CONNECT or FY_T_DIAL. */
size_t fy_frame_dial(uint8_t *out, uint8_t type, uint32_t stream, const struct fy_dial *m);
size_t fy_frame_forward(uint8_t *out, const struct fy_forward *m);
/* FORWARDED: RESULT's layout under its own type. */
size_t fy_frame_forwarded(uint8_t *out, const struct fy_result *m);
#define FY_CTRL_FRAME_MAX (FY_FRAME_HDR_LEN + 4 + 2 + FY_REASON_MAX + 300)
#define FY_DIAL_FRAME_MAX (FY_FRAME_HDR_LEN + 5 + FY_NAME_MAX + FY_HOST_MAX)

/* Decoders check exact lengths; return 0 or -EPROTO with *why set. */
int fy_frame_get_hello(const uint8_t *p, uint32_t n, struct fy_hello *m, const char **why);
int fy_frame_get_welcome(const uint8_t *p, uint32_t n, struct fy_welcome *m, const char **why);
int fy_frame_get_register(const uint8_t *p, uint32_t n, struct fy_register *m, const char **why);
/* v3: the NAME variant (the caller saw FY_F_NAME on the header). */
int fy_frame_get_register_name(const uint8_t *p, uint32_t n, struct fy_register *m,
			       const char **why);
/* A name as claims carry it: 1..63 of [a-z0-9-], not starting or ending
 * with '-' (one DNS label, lower case). */
bool fy_name_label_ok(const char *s, size_t n);
int fy_frame_get_result(const uint8_t *p, uint32_t n, struct fy_result *m, const char **why);
int fy_frame_get_open(const uint8_t *p, uint32_t n, struct fy_open *m, const char **why);
int fy_frame_get_window(const uint8_t *p, uint32_t n, uint32_t *incr, const char **why);
int fy_frame_get_reason(const uint8_t *p, uint32_t n, struct fy_reason *m, const char **why);
int fy_frame_get_ping(const uint8_t *p, uint32_t n, uint64_t *opaque, const char **why);
int fy_frame_get_dial(const uint8_t *p, uint32_t n, struct fy_dial *m, const char **why);
int fy_frame_get_forward(const uint8_t *p, uint32_t n, struct fy_forward *m, const char **why);

#endif
