/* Standard input and output as one byte connection (fy_conn_ops), for
 * `ferry-agent -W`: bytes are read from in_fd and written to out_fd, both
 * watched by the loop; shutting down the write side closes out_fd, which
 * is how the process reading it (ssh's ProxyCommand) sees the end.
 * Ownership: the caller's; the descriptors are borrowed until shutdown. */
#ifndef FERRY_STDIOCONN_H
#define FERRY_STDIOCONN_H

#include <stdbool.h>
#include <stdint.h>

#include "ferry/loop.h"
#include "ferry/pump.h"

struct fy_stdioconn {
	struct fy_loop *loop;
	int in_fd, out_fd;
	uint32_t in_ev, out_ev;		/* what the loop watches on each */
};

/* Sets both non-blocking and registers them (quiet) with fn(arg) as the
 * callback. 0 or -errno (a regular file cannot be watched: -EPERM). */
int fy_stdioconn_init(struct fy_stdioconn *c, struct fy_loop *loop, int in_fd, int out_fd,
		      fy_loop_fn fn, void *arg);
void fy_stdioconn_fini(struct fy_stdioconn *c);

extern const struct fy_conn_ops fy_stdioconn_ops;

#endif
