/* Built without wslay (see ws.h and meson.build): no WebSocket state
 * can be made, and the callers say so; the rest is never reached. */
#include "ferry/ws.h"

struct fy_ws *fy_ws_create(bool server, size_t max_msg)
{
	(void)server;
	(void)max_msg;
	return NULL;
}

void fy_ws_destroy(struct fy_ws *ws)
{
	(void)ws;
}

long fy_ws_decode(struct fy_ws *ws, const uint8_t *in, size_t n, struct fy_buf *out)
{
	(void)ws;
	(void)in;
	(void)n;
	(void)out;
	return -1;
}

int fy_ws_queue(struct fy_ws *ws, const uint8_t *p, size_t n)
{
	(void)ws;
	(void)p;
	(void)n;
	return -1;
}

size_t fy_ws_queued(const struct fy_ws *ws)
{
	(void)ws;
	return 0;
}

int fy_ws_encode(struct fy_ws *ws, struct fy_buf *out)
{
	(void)ws;
	(void)out;
	return -1;
}

bool fy_ws_want_write(const struct fy_ws *ws)
{
	(void)ws;
	return false;
}

bool fy_ws_peer_closed(const struct fy_ws *ws, uint16_t *code)
{
	(void)ws;
	(void)code;
	return false;
}

const char *fy_ws_why(struct fy_ws *ws)
{
	(void)ws;
	return "this build has no WebSocket support (libwslay-dev)";
}
