/* The agent's local control socket (--ctl-socket PATH, mode 0600) and its
 * client, `ferry-agent ctl`, for scripts on the edge box. One request per
 * connection, one line of text:
 *   status | open SPEC | close SPEC        (SPEC: "-R 2222:127.0.0.1:22", "-H web:...", "-L ...")
 * answered with lines of text, the last one "ok MESSAGE" or "error
 * MESSAGE". A forward opened here is the agent's own (no --remote-forwards
 * needed: whoever can open the socket is the agent's user). Kept small:
 * no JSON, no HTTP, nothing the agent does not link already. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"

#define TOPIC "agent.ctl"
#define CTL_LINE_MAX 512
#define CTL_CONNS_MAX 8
#define CTL_TIMEOUT_MS 10000	/* a request, and the relay's answer to it */

struct actl_conn {
	struct agent *a;
	int fd;
	char in[CTL_LINE_MAX];
	size_t n;
	char *out;			/* owned */
	size_t out_len, out_cap, out_off;
	bool waiting;			/* for rfwd's answer */
	bool writing;
	uint64_t deadline_ms;
	struct actl_conn *next;
};

struct actl {
	int fd;
	char path[108];
	struct actl_conn *conns;
	unsigned n;
	bool paused;		/* out of descriptors: no read interest until a tick */
};

static void say(struct actl_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct actl_conn *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (c->out_len + (size_t)n + 1 > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 1024;
		char *b;

		while (cap < c->out_len + (size_t)n + 1)
			cap *= 2;
		b = realloc(c->out, cap);
		if (!b)
			return;
		c->out = b;
		c->out_cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(c->out + c->out_len, c->out_cap - c->out_len, fmt, ap);
	va_end(ap);
	c->out_len += (size_t)n;
}

static void conn_free(struct actl_conn *c)
{
	struct actl *ctl = c->a->ctl;

	for (struct actl_conn **pp = &ctl->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	ctl->n--;
	if (c->waiting)
		rfwd_forget(c->a, c);
	fy_loop_del(c->a->loop, c->fd);
	close(c->fd);
	free(c->out);
	free(c);
}

static void conn_flush(struct actl_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t k = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (k <= 0)
			break;
		c->out_off += (size_t)k;
	}
	conn_free(c);
}

static void conn_send(struct actl_conn *c)
{
	c->writing = true;
	fy_loop_mod(c->a->loop, c->fd, FY_EV_WRITE);
}

static void answered(struct agent *a, void *arg, uint32_t req, uint32_t code, const char *msg)
{
	struct actl_conn *c = arg;

	(void)a;
	(void)req;
	c->waiting = false;
	say(c, "%s %s\n", code == FY_E_OK ? "ok" : "error", msg);
	if (code != FY_E_OK)
		say(c, "(%s)\n", fy_code_str(code));
	conn_send(c);
}

static const char *state_str(enum agent_state st)
{
	switch (st) {
	case AG_WAIT: return "waiting to reconnect";
	case AG_CONNECTING: return "connecting";
	case AG_UP: return "up";
	default: return "draining";
	}
}

static void status(struct actl_conn *c)
{
	struct agent *a = c->a;
	char spec[FY_SPEC_MAX + 1];
	unsigned up = 0;

	for (unsigned i = 0; i < a->ntuns; i++)
		up += a->tuns[i] && a->tuns[i]->st == AT_UP;
	say(c, "agent %s\nrelay %s:%u\nsession %s (protocol %u, %u of %u tunnels up)\n",
	    a->cfg.name[0] ? a->cfg.name : "(the token's first name)", a->relay_host, a->relay_port,
	    state_str(a->st), a->relay_version, up, a->ntuns);
	say(c, "streams %zu open, %llu opened\nremote-forwards %s\n", fy_sess_count(&a->streams),
	    a->streams_total, a->cfg.remote_fwds ? "on" : "off");
	for (unsigned i = 0; i < a->cfg.nfwds; i++) {
		const struct fwd *f = &a->cfg.fwds[i];

		if (f->unused)
			continue;
		agent_fwd_str(f, spec, sizeof(spec));
		say(c, "forward %s %s%s\n", spec, f->up ? "up" : "not claimed",
		    f->remote ? " (opened at run time)" : "");
	}
	for (unsigned i = 0; i < a->cfg.nlfwds; i++) {
		const struct lfwd *lf = &a->cfg.lfwds[i];
		struct fy_fwdspec fs = { .opt = lf->kind == L_SOCKS ? 'D' : lf->kind == L_STDIO ? 'W' : 'L',
					 .udp = lf->kind == L_UDP, .port = lf->port,
					 .hostport = lf->hostport };

		if (lf->closed)
			continue;
		snprintf(fs.bind, sizeof(fs.bind), "%s", lf->bind);
		snprintf(fs.agent, sizeof(fs.agent), "%s", lf->agent);
		snprintf(fs.host, sizeof(fs.host), "%s", lf->host);
		fy_fwdspec_str(&fs, spec, sizeof(spec));
		say(c, "forward %s%s\n", spec, lf->remote ? " (opened at run time)" : "");
	}
	say(c, "ok\n");
	conn_send(c);
}

static void request(struct actl_conn *c, char *line)
{
	uint8_t op;

	line[strcspn(line, "\r\n")] = 0;
	if (!strcmp(line, "status")) {
		status(c);
		return;
	}
	if (!strncmp(line, "open ", 5))
		op = FY_FWD_OPEN;
	else if (!strncmp(line, "close ", 6))
		op = FY_FWD_CLOSE;
	else {
		say(c, "error unknown request (status, open SPEC, close SPEC)\n");
		conn_send(c);
		return;
	}
	c->waiting = true;
	rfwd_request(c->a, op, line + (op == FY_FWD_OPEN ? 5 : 6), false, 0, answered, c);
}

static void on_conn(struct fy_loop *l, int fd, uint32_t ev, void *arg)
{
	struct actl_conn *c = arg;
	char *nl;
	ssize_t k;

	(void)l;
	if (c->writing) {
		if (ev & (FY_EV_WRITE | FY_EV_ERROR))
			conn_flush(c);
		return;
	}
	if (c->waiting)
		return;
	k = recv(fd, c->in + c->n, sizeof(c->in) - 1 - c->n, 0);
	if (k < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (k <= 0) {
		conn_free(c);
		return;
	}
	c->n += (size_t)k;
	c->in[c->n] = 0;
	nl = strchr(c->in, '\n');
	if (!nl && c->n < sizeof(c->in) - 1)
		return;
	if (!nl) {
		say(c, "error request longer than %d bytes\n", CTL_LINE_MAX - 1);
		conn_send(c);
		return;
	}
	*nl = 0;
	fy_loop_mod(c->a->loop, fd, 0);	/* one request per connection */
	request(c, c->in);
}

static void on_accept(struct fy_loop *l, int lfd, uint32_t ev, void *arg)
{
	struct agent *a = arg;
	struct actl *ctl = a->ctl;

	(void)l;
	(void)ev;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct actl_conn *c;

		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			/* The listener stays readable: resting it until the next
			 * tick keeps the loop from spinning on it. */
			FY_LOG_RL(FY_LOG_WARN, TOPIC, "control socket: out of descriptors (%s)",
				  strerror(errno));
			fy_loop_mod(a->loop, lfd, 0);
			ctl->paused = true;
			return;
		}
		if (fd < 0)
			return;
		if (ctl->n >= CTL_CONNS_MAX || !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->a = a;
		c->fd = fd;
		c->deadline_ms = a->now_ms + CTL_TIMEOUT_MS;
		c->next = ctl->conns;
		ctl->conns = c;
		ctl->n++;
		if (fy_loop_add(a->loop, fd, FY_EV_READ, on_conn, c) < 0)
			conn_free(c);
	}
}

int actl_start(struct agent *a)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = a->cfg.ctl_socket;
	struct actl *ctl;
	struct stat st;
	mode_t old;
	int fd, e = 0;

	if (!path[0])
		return 0;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ferry-agent: --ctl-socket path too long\n");
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* A socket left by an agent that died is replaced; anything else is not. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "ferry-agent: --ctl-socket %s exists and is not a socket\n", path);
			return -1;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			fprintf(stderr, "ferry-agent: --ctl-socket %s: another agent listens there\n",
				path);
			return -1;
		}
		if (fd >= 0)
			close(fd);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	old = umask(0177);	/* 0600 from the start: no window where others may connect */
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0)
		e = errno;
	umask(old);
	ctl = e ? NULL : calloc(1, sizeof(*ctl));
	if (!ctl) {
		fprintf(stderr, "ferry-agent: cannot listen on --ctl-socket %s: %s\n", path,
			strerror(e ? e : ENOMEM));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ctl->fd = fd;
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	a->ctl = ctl;
	fy_loop_add(a->loop, fd, FY_EV_READ, on_accept, a);
	FY_INFO(TOPIC, "control socket %s (mode 0600)", path);
	return 0;
}

void actl_stop(struct agent *a)
{
	struct actl *ctl = a->ctl;

	if (!ctl)
		return;
	while (ctl->conns)
		conn_free(ctl->conns);
	fy_loop_del(a->loop, ctl->fd);
	close(ctl->fd);
	unlink(ctl->path);
	free(ctl);
	a->ctl = NULL;
}

void actl_tick(struct agent *a)
{
	struct actl_conn *c, *next;

	if (!a->ctl)
		return;
	if (a->ctl->paused) {
		a->ctl->paused = false;
		fy_loop_mod(a->loop, a->ctl->fd, FY_EV_READ);
	}
	for (c = a->ctl->conns; c; c = next) {
		next = c->next;
		if (a->now_ms < c->deadline_ms || c->writing)
			continue;
		if (c->waiting) {
			rfwd_forget(a, c);
			c->waiting = false;
			say(c, "error no answer within %d s (the request may still complete)\n",
			    CTL_TIMEOUT_MS / 1000);
			conn_send(c);
		} else {
			conn_free(c);
		}
	}
}

/* ---- ferry-agent ctl ---- */

static void client_usage(FILE *f)
{
	fprintf(f, "usage: ferry-agent ctl --ctl-socket PATH status\n"
		   "       ferry-agent ctl --ctl-socket PATH forwards open SPEC\n"
		   "       ferry-agent ctl --ctl-socket PATH forwards close SPEC\n"
		   "  SPEC as on the command line: -R 2222:127.0.0.1:22, -H web:127.0.0.1:80,\n"
		   "  -S NAME:host:443, -L 8080:AGENT:host:80\n"
		   "exit codes: 0 done, 1 refused or no agent there, 2 bad usage\n");
}

int actl_client(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CTL_TIMEOUT_MS / 1000 + 5 };
	const char *path = NULL;
	char req[CTL_LINE_MAX], buf[4096], last[CTL_LINE_MAX] = "";
	size_t off = 0, lastn = 0;
	int i = 1, fd, ok = 0;
	ssize_t k;

	if (i < argc && (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))) {
		client_usage(stdout);
		return 0;
	}
	if (i + 1 < argc && !strcmp(argv[i], "--ctl-socket")) {
		path = argv[i + 1];
		i += 2;
	}
	if (!path || i >= argc || strlen(path) >= sizeof(sa.sun_path)) {
		client_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[i], "status") && i + 1 == argc) {
		snprintf(req, sizeof(req), "status\n");
	} else if (!strcmp(argv[i], "forwards") && i + 2 < argc &&
		   (!strcmp(argv[i + 1], "open") || !strcmp(argv[i + 1], "close"))) {
		off = (size_t)snprintf(req, sizeof(req), "%s", argv[i + 1]);
		for (int j = i + 2; j < argc && off < sizeof(req); j++)
			off += (size_t)snprintf(req + off, sizeof(req) - off, " %s", argv[j]);
		if (off + 2 > sizeof(req)) {
			fprintf(stderr, "ferry-agent ctl: request too long\n");
			return 2;
		}
		req[off++] = '\n';
		req[off] = 0;
	} else {
		client_usage(stderr);
		return 2;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ferry-agent ctl: cannot reach %s: %s (is the agent running with "
			"--ctl-socket?)\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		fprintf(stderr, "ferry-agent ctl: cannot send: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	/* Prints what comes; the line that starts with "ok" or "error" is
	 * the verdict (at the start of a line: lines are never split by us). */
	while ((k = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		fwrite(buf, 1, (size_t)k, stdout);
		for (ssize_t j = 0; j < k; j++) {
			if (buf[j] == '\n') {
				last[lastn] = 0;
				if (!strncmp(last, "ok", 2) || !strncmp(last, "error", 5))
					ok = !strncmp(last, "ok", 2);
				lastn = 0;
			} else if (lastn < sizeof(last) - 1) {
				last[lastn++] = buf[j];
			}
		}
	}
	close(fd);
	return ok ? 0 : 1;
}
