/* Socket helpers: addresses, non-blocking listen/connect, options.
 * Every function returns an fd or 0 on success, -errno on failure. */
#ifndef FERRY_SOCK_H
#define FERRY_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "host:port", "[v6]:port" or ":port"/"port" (host NULL -> any). host
 * is copied into host (hostlen bytes). 0 or -EINVAL. */
int fy_sock_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);

/* Resolves host (name or literal; NULL or "" or "*" = wildcard) for TCP.
 * 0 or -errno (-ENOENT when the name does not resolve). */
/* The same for an address literal only: never asks a name server (so it
 * never blocks); -ENOENT for a name. */
int fy_sock_resolve_numeric(const char *host, uint16_t port, struct sockaddr_storage *ss,
			    socklen_t *len);
int fy_sock_resolve(const char *host, uint16_t port, struct sockaddr_storage *ss,
		    socklen_t *len, int passive);

/* Non-blocking, close-on-exec TCP listener with SO_REUSEADDR and, when
 * reuseport, SO_REUSEPORT. */
int fy_sock_listen(const struct sockaddr_storage *ss, socklen_t len, int reuseport, int backlog);
/* 0 when nothing listens on the address (listeners with SO_REUSEPORT
 * would otherwise silently share it with another process), else -errno. */
int fy_sock_port_free(const struct sockaddr_storage *ss, socklen_t len);
/* Starts a non-blocking connect; the fd becomes writable when done. */
int fy_sock_connect(const struct sockaddr_storage *ss, socklen_t len);
/* After writability: 0 when connected, else -errno from SO_ERROR. */
int fy_sock_connect_result(int fd);
/* accept4 non-blocking/cloexec; -EAGAIN when none pending. */
int fy_sock_accept(int lfd, struct sockaddr_storage *peer, socklen_t *len);

int fy_sock_nodelay(int fd);
/* Close with RST (SO_LINGER 0) so the peer sees a reset, not EOF. */
void fy_sock_close_rst(int fd);
/* on: any close of fd, including the kernel's when the process dies,
 * resets the connection (SO_LINGER 0); off: close ends it with FIN.
 * A stream sets it while it runs and clears it for a clean end. */
int fy_sock_abort_on_close(int fd, bool on);
/* Bound local port of a socket, or -errno. */
int fy_sock_local_port(int fd);

/* Raises the soft RLIMIT_NOFILE to the hard limit; returns the new limit
 * or -errno. */
int fy_sock_raise_nofile(void);


#endif
