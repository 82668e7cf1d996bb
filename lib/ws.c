/* WebSocket framing over wslay (see ws.h). wslay's event API reads and
 * writes through callbacks; ours read from the caller's input and write
 * to the caller's output buffer, and never block: a callback with nothing
 * to give says WOULDBLOCK and wslay returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <wslay/wslay.h>

#include "ferry/ws.h"

struct fy_ws {
	wslay_event_context_ptr ctx;
	size_t max_msg;
	/* during fy_ws_decode */
	const uint8_t *in;
	size_t in_len, in_off;
	size_t budget;		/* input we may still give wslay this call */
	struct fy_buf *out;
	/* during fy_ws_encode */
	struct fy_buf *wout;
	uint64_t msg_len;	/* the binary message being received */
	bool in_data;		/* the frame being received carries tunnel bytes */
	bool failed;
	bool wslay_failed;	/* wslay refused the input: its close says why */
	char why[256];
};

/* Our own refusal: the peer gets a close with code, reading stops. */
static void ws_fail(struct fy_ws *ws, uint16_t code, const char *why)
{
	if (ws->failed)
		return;
	ws->failed = true;
	snprintf(ws->why, sizeof(ws->why), "%.200s (close %u)", why, code);
	wslay_event_queue_close(ws->ctx, code, NULL, 0);
	wslay_event_shutdown_read(ws->ctx);
}

/* Output never exceeds input within one decode call (wslay processes
 * what it buffered before asking for more), so giving it no more than
 * the room left in out means every payload byte fits. */
static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
		       void *user)
{
	struct fy_ws *ws = user;
	size_t n = ws->in_len - ws->in_off;

	(void)flags;
	if (n > len)
		n = len;
	if (n > ws->budget)
		n = ws->budget;
	if (n == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	memcpy(buf, ws->in + ws->in_off, n);
	ws->in_off += n;
	ws->budget -= n;
	return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
		       void *user)
{
	struct fy_ws *ws = user;
	size_t room = ws->wout ? fy_buf_room(ws->wout) : 0;
	size_t n = len < room ? len : room;

	(void)flags;
	if (n == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (fy_buf_append(ws->wout, data, n) < 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)n;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
	(void)ctx;
	(void)user;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

/* Per frame: what it is, and the message's size so far (wslay checks
 * only single frames when it does not buffer). */
static void frame_start_cb(wslay_event_context_ptr ctx,
			   const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
	struct fy_ws *ws = user;
	char why[120];

	(void)ctx;
	ws->in_data = false;
	if (ws->failed)
		return;
	switch (arg->opcode) {
	case WSLAY_TEXT_FRAME:
		ws_fail(ws, WSLAY_CODE_UNSUPPORTED_DATA, "a text message (the tunnel is binary)");
		return;
	case WSLAY_BINARY_FRAME:
		ws->msg_len = arg->payload_length;
		break;
	case WSLAY_CONTINUATION_FRAME:
		ws->msg_len += arg->payload_length;
		break;
	default:
		return;		/* control frames: wslay answers them */
	}
	if (ws->msg_len > ws->max_msg) {
		snprintf(why, sizeof(why), "a message over %zu bytes", ws->max_msg);
		ws_fail(ws, WSLAY_CODE_MESSAGE_TOO_BIG, why);
		return;
	}
	ws->in_data = true;
}

static void frame_chunk_cb(wslay_event_context_ptr ctx,
			   const struct wslay_event_on_frame_recv_chunk_arg *arg, void *user)
{
	struct fy_ws *ws = user;

	(void)ctx;
	if (ws->failed || !ws->in_data || !arg->data_length)
		return;
	if (fy_buf_append(ws->out, arg->data, arg->data_length) < 0)
		ws_fail(ws, WSLAY_CODE_INTERNAL_SERVER_ERROR, "out of memory");
}

static const struct wslay_event_callbacks ws_cbs = {
	.recv_callback = recv_cb,
	.send_callback = send_cb,
	.genmask_callback = genmask_cb,
	.on_frame_recv_start_callback = frame_start_cb,
	.on_frame_recv_chunk_callback = frame_chunk_cb,
};

struct fy_ws *fy_ws_create(bool server, size_t max_msg)
{
	struct fy_ws *ws = calloc(1, sizeof(*ws));
	int r;

	if (!ws)
		return NULL;
	r = server ? wslay_event_context_server_init(&ws->ctx, &ws_cbs, ws) :
		     wslay_event_context_client_init(&ws->ctx, &ws_cbs, ws);
	if (r != 0) {
		free(ws);
		return NULL;
	}
	ws->max_msg = max_msg;
	/* Data frames go straight to the caller's buffer; wslay still
	 * buffers control frames (at most 125 bytes) to answer them. */
	wslay_event_config_set_no_buffering(ws->ctx, 1);
	wslay_event_config_set_max_recv_msg_length(ws->ctx, max_msg);
	return ws;
}

void fy_ws_destroy(struct fy_ws *ws)
{
	if (!ws)
		return;
	wslay_event_context_free(ws->ctx);
	free(ws);
}

/* Why wslay stopped reading without us: the code of the close it queued,
 * known once that close is sent (fy_ws_encode); until then a summary. */
static void why_from_wslay(struct fy_ws *ws)
{
	uint16_t code = wslay_event_get_status_code_sent(ws->ctx);
	const char *what;

	if (!wslay_event_get_close_sent(ws->ctx)) {
		snprintf(ws->why, sizeof(ws->why), "a frame breaking RFC 6455 or over the size "
			 "limit (our close is not sent yet)");
		return;
	}
	switch (code) {
	case WSLAY_CODE_PROTOCOL_ERROR:
		what = "a frame breaking RFC 6455 (unmasked from a client, masked from a "
		       "server, a reserved bit or opcode, a bad control frame or "
		       "length)";
		break;
	case WSLAY_CODE_MESSAGE_TOO_BIG:
		what = "a frame over the message size limit";
		break;
	case WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA:
		what = "a close frame whose reason is not UTF-8";
		break;
	case WSLAY_CODE_NO_STATUS_RCVD:
		/* wslay's frame layer refused a header: its close has no code */
		what = "a malformed frame header (a control frame over 125 bytes or "
		       "fragmented, or a length not in its shortest form)";
		break;
	default:
		what = "a WebSocket error";
		break;
	}
	snprintf(ws->why, sizeof(ws->why), "%.200s (close %u)", what, code);
}

long fy_ws_decode(struct fy_ws *ws, const uint8_t *in, size_t n, struct fy_buf *out)
{
	int r;

	if (ws->failed)
		return -1;
	if (wslay_event_get_close_received(ws->ctx))
		return (long)n;		/* nothing counts after the peer's close */
	ws->in = in;
	ws->in_len = n;
	ws->in_off = 0;
	ws->budget = fy_buf_room(out);
	ws->out = out;
	r = wslay_event_recv(ws->ctx);
	ws->in = NULL;
	ws->out = NULL;
	if (ws->failed)
		return -1;
	/* A header its frame layer refuses comes back as a "callback
	 * failure" (ours never fail but for WOULDBLOCK), its close queued. */
	if (r != 0 && r != WSLAY_ERR_CALLBACK_FAILURE) {
		ws->failed = true;
		snprintf(ws->why, sizeof(ws->why), "WebSocket input failed (wslay %d)", r);
		return -1;
	}
	if (!wslay_event_get_read_enabled(ws->ctx)) {
		if (wslay_event_get_close_received(ws->ctx))
			return (long)n;
		ws->failed = true;
		ws->wslay_failed = true;
		return -1;
	}
	return (long)ws->in_off;
}

int fy_ws_queue(struct fy_ws *ws, const uint8_t *p, size_t n)
{
	struct wslay_event_msg m = { .opcode = WSLAY_BINARY_FRAME, .msg = p, .msg_length = n };

	if (n > FY_WS_SEND_MSG)
		return -1;
	if (wslay_event_queue_msg(ws->ctx, &m) != 0) {
		if (!ws->failed)
			snprintf(ws->why, sizeof(ws->why), "WebSocket closed for sending");
		return -1;
	}
	return 0;
}

size_t fy_ws_queued(const struct fy_ws *ws)
{
	return wslay_event_get_queued_msg_length(ws->ctx);
}

int fy_ws_encode(struct fy_ws *ws, struct fy_buf *out)
{
	int r;

	ws->wout = out;
	r = wslay_event_send(ws->ctx);
	ws->wout = NULL;
	if (r != 0) {
		if (!ws->failed)
			snprintf(ws->why, sizeof(ws->why), "WebSocket output failed (wslay %d)", r);
		return -1;
	}
	return 0;
}

bool fy_ws_want_write(const struct fy_ws *ws)
{
	return wslay_event_want_write(ws->ctx) != 0;
}

bool fy_ws_peer_closed(const struct fy_ws *ws, uint16_t *code)
{
	if (!wslay_event_get_close_received(ws->ctx))
		return false;
	if (code)
		*code = wslay_event_get_status_code_received(ws->ctx);
	return true;
}

const char *fy_ws_why(struct fy_ws *ws)
{
	if (ws->wslay_failed)
		why_from_wslay(ws);
	return ws->why[0] ? ws->why : "WebSocket error";
}
