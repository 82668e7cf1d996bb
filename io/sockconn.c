/* Kernel socket implementation of the pump's connection interface. */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ferry/sockconn.h"

static long sc_recv(void *io, void *buf, size_t n)
{
	struct fy_sockconn *c = io;
	ssize_t k = recv(c->fd, buf, n, 0);

	if (k >= 0)
		return (long)k;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return -EAGAIN;
	return -errno;
}

static long sc_send(void *io, const void *buf, size_t n)
{
	struct fy_sockconn *c = io;
	ssize_t k = send(c->fd, buf, n, MSG_NOSIGNAL);

	if (k >= 0)
		return (long)k;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return -EAGAIN;
	return -errno;
}

static void sc_shutdown_wr(void *io)
{
	struct fy_sockconn *c = io;

	shutdown(c->fd, SHUT_WR);
}

static void sc_want(void *io, bool rd, bool wr)
{
	struct fy_sockconn *c = io;
	uint32_t ev = (rd ? FY_EV_READ : 0) | (wr ? FY_EV_WRITE : 0);

	if (ev != c->events && fy_loop_mod(c->loop, c->fd, ev) == 0)
		c->events = ev;
}

const struct fy_conn_ops fy_sockconn_ops = {
	.recv = sc_recv,
	.send = sc_send,
	.shutdown_wr = sc_shutdown_wr,
	.want = sc_want,
};
