/* fy_conn_ops over a non-blocking kernel TCP socket registered in a
 * fy_loop: what the pump uses for public clients on the relay's kernel
 * backend and for target services on the agent. Borrows the loop and
 * the fd; the owner closes the fd. */
#ifndef FERRY_SOCKCONN_H
#define FERRY_SOCKCONN_H

#include <stdint.h>

#include "ferry/loop.h"
#include "ferry/pump.h"

struct fy_sockconn {
	struct fy_loop *loop;
	int fd;
	uint32_t events;	/* what the loop is asked for now */
};

extern const struct fy_conn_ops fy_sockconn_ops;

#endif
