/* Standard input and output as one connection (see stdioconn.h). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "ferry/stdioconn.h"

static int nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

int fy_stdioconn_init(struct fy_stdioconn *c, struct fy_loop *loop, int in_fd, int out_fd,
		      fy_loop_fn fn, void *arg)
{
	int e;

	c->loop = loop;
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->in_ev = c->out_ev = 0;
	if ((e = nonblock(in_fd)) < 0 || (e = nonblock(out_fd)) < 0)
		return e;
	if ((e = fy_loop_add(loop, in_fd, 0, fn, arg)) < 0)
		return e;
	if ((e = fy_loop_add(loop, out_fd, 0, fn, arg)) < 0) {
		fy_loop_del(loop, in_fd);
		return e;
	}
	return 0;
}

void fy_stdioconn_fini(struct fy_stdioconn *c)
{
	if (c->in_fd >= 0)
		fy_loop_del(c->loop, c->in_fd);
	if (c->out_fd >= 0) {
		fy_loop_del(c->loop, c->out_fd);
		close(c->out_fd);
	}
	c->in_fd = c->out_fd = -1;
}

static long sc_recv(void *io, void *buf, size_t n)
{
	struct fy_stdioconn *c = io;
	ssize_t k = c->in_fd < 0 ? 0 : read(c->in_fd, buf, n);

	if (k >= 0)
		return (long)k;
	return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
}

static long sc_send(void *io, const void *buf, size_t n)
{
	struct fy_stdioconn *c = io;
	ssize_t k;

	if (c->out_fd < 0)
		return -EPIPE;
	k = write(c->out_fd, buf, n);
	if (k >= 0)
		return (long)k;
	return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
}

static void sc_shutdown_wr(void *io)
{
	struct fy_stdioconn *c = io;

	if (c->out_fd >= 0) {
		fy_loop_del(c->loop, c->out_fd);
		close(c->out_fd);
		c->out_fd = -1;
	}
}

static void sc_want(void *io, bool rd, bool wr)
{
	struct fy_stdioconn *c = io;
	uint32_t in = rd ? FY_EV_READ : 0, out = wr ? FY_EV_WRITE : 0;

	if (c->in_fd >= 0 && in != c->in_ev && fy_loop_mod(c->loop, c->in_fd, in) == 0)
		c->in_ev = in;
	if (c->out_fd >= 0 && out != c->out_ev && fy_loop_mod(c->loop, c->out_fd, out) == 0)
		c->out_ev = out;
}

const struct fy_conn_ops fy_stdioconn_ops = {
	.recv = sc_recv,
	.send = sc_send,
	.shutdown_wr = sc_shutdown_wr,
	.want = sc_want,
};
