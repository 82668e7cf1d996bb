/* Socket helpers: address parsing and resolution, non-blocking TCP
 * listen/connect/accept, options. Every fd made here is non-blocking and
 * close-on-exec. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ferry/sock.h"

/* Decimal port, 1 to 5 digits, 0..65535. */
static int parse_port(const char *s, uint16_t *port)
{
	uint32_t v = 0;
	size_t n = 0;

	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n == 5)
			return -EINVAL;
		v = v * 10 + (uint32_t)(s[n] - '0');
	}
	if (n == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int copy_host(char *host, size_t hostlen, const char *s, size_t n)
{
	if (n >= hostlen)
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	return 0;
}

int fy_sock_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon, *end;
	int rc;

	if (!s || !host || !hostlen || !port)
		return -EINVAL;
	if (s[0] == '[') {		/* "[v6]:port" */
		end = strchr(s, ']');
		if (!end || end == s + 1 || end[1] != ':')
			return -EINVAL;
		rc = parse_port(end + 2, port);
		if (rc < 0)
			return rc;
		return copy_host(host, hostlen, s + 1, (size_t)(end - s - 1));
	}
	colon = strrchr(s, ':');
	if (!colon) {			/* "port" */
		rc = parse_port(s, port);
		if (rc < 0)
			return rc;
		host[0] = '\0';
		return 0;
	}
	if (memchr(s, ':', (size_t)(colon - s)))
		return -EINVAL;		/* bare IPv6 needs brackets */
	rc = parse_port(colon + 1, port);
	if (rc < 0)
		return rc;
	return copy_host(host, hostlen, s, (size_t)(colon - s));	/* "" for ":port" */
}

static int gai_errno(int e)
{
	switch (e) {
	case EAI_NONAME:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
	case EAI_ADDRFAMILY:
#endif
	case EAI_FAIL:
		return -ENOENT;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_SYSTEM:
		return errno ? -errno : -EIO;
	default:
		return -EINVAL;
	}
}

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *ss,
		   socklen_t *len, int flags)
{
	struct addrinfo hints, *res = NULL;
	char serv[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV | flags;
	if (host && (host[0] == '\0' || strcmp(host, "*") == 0))
		host = NULL;
	snprintf(serv, sizeof(serv), "%u", (unsigned)port);

	rc = getaddrinfo(host, serv, &hints, &res);
	if (rc != 0)
		return gai_errno(rc);
	if (!res || res->ai_addrlen > sizeof(*ss)) {
		rc = -ENOENT;
		goto out;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
out:
	freeaddrinfo(res);
	return rc;
}

int fy_sock_resolve(const char *host, uint16_t port, struct sockaddr_storage *ss,
		    socklen_t *len, int passive)
{
	return resolve(host, port, ss, len, passive ? AI_PASSIVE : 0);
}

int fy_sock_resolve_numeric(const char *host, uint16_t port, struct sockaddr_storage *ss,
			    socklen_t *len)
{
	return resolve(host, port, ss, len, AI_NUMERICHOST);
}

static int set_int(int fd, int level, int name, int v)
{
	return setsockopt(fd, level, name, &v, sizeof(v)) < 0 ? -errno : 0;
}

static int close_keep_errno(int fd, int rc)
{
	close(fd);
	return rc;
}

int fy_sock_listen(const struct sockaddr_storage *ss, socklen_t len, int reuseport, int backlog)
{
	int fd, rc;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	/* For "::" IPV6_V6ONLY is left at the system default (dual stack
	 * unless net.ipv6.bindv6only=1). */
	rc = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (rc == 0 && reuseport)
		rc = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	if (rc < 0)
		return close_keep_errno(fd, rc);
	if (bind(fd, (const struct sockaddr *)ss, len) < 0 ||
	    listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0)
		return close_keep_errno(fd, -errno);
	return fd;
}

int fy_sock_connect(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)ss, len) < 0 && errno != EINPROGRESS)
		return close_keep_errno(fd, -errno);
	return fd;
}

int fy_sock_connect_result(int fd)
{
	int err = 0;
	socklen_t l = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
		return -errno;
	return err ? -err : 0;
}

int fy_sock_accept(int lfd, struct sockaddr_storage *peer, socklen_t *len)
{
	socklen_t dummy;
	int fd;

	if (peer) {
		if (!len)
			len = &dummy;
		*len = sizeof(*peer);
	}
	fd = accept4(lfd, (struct sockaddr *)peer, peer ? len : NULL,
		     SOCK_NONBLOCK | SOCK_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int fy_sock_nodelay(int fd)
{
	return set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
}

void fy_sock_close_rst(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (fd < 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

int fy_sock_abort_on_close(int fd, bool on)
{
	struct linger lg = { .l_onoff = on, .l_linger = 0 };

	return setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0 ? -errno : 0;
}

int fy_sock_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	switch (ss.ss_family) {
	case AF_INET:
		return ntohs(((const struct sockaddr_in *)&ss)->sin_port);
	case AF_INET6:
		return ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
	default:
		return -EAFNOSUPPORT;
	}
}

int fy_sock_raise_nofile(void)
{
	struct rlimit rl;

	/* A relay or agent holds one descriptor per stream: take the hard
	 * limit rather than the 1024 that shells default to. */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
	}
	return (int)(rl.rlim_cur > INT32_MAX ? INT32_MAX : rl.rlim_cur);
}

int fy_sock_port_free(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	int rc = 0;

	if (fd < 0)
		return -errno;
	/* Without SO_REUSEPORT this bind fails while anyone listens there,
	 * even a process that did set SO_REUSEPORT (another relay, say). */
	if (set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0 ||
	    bind(fd, (const struct sockaddr *)ss, len) < 0)
		rc = -errno;
	close(fd);
	return rc;
}
