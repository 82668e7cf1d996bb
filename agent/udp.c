/* UDP flows. A flow is one stream of datagrams (DGRAM frames) between a
 * UDP client and a UDP target:
 *  - as the target's side (-R udp, or a DIAL of kind udp that --allow
 *    lists): a connected socket to the target, one per flow, so that
 *    replies come back on the flow they answer;
 *  - as the client's side (-L udp:[bind:]port:AGENT:host:hostport): one
 *    listening socket, a flow per client address (the stream CONNECTs to
 *    AGENT), replies sent back to that address.
 * Datagrams are dropped, never queued, when the stream has no credit, the
 * tunnel no room, or the socket no buffer: UDP's own contract; every drop
 * is counted. A flow with no datagram either way for --udp-idle-ms ends. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include "agent.h"
#include "ferry/addr.h"
#include "ferry/sock.h"
#include "ferry/zpages.h"

#define TOPIC "agent.udp"
#define DGRAMS_PER_EVENT 64

enum uf_role { UF_TARGET, UF_LOCAL };

struct ulisten;

struct uflow {
	struct astream as;
	struct agent *a;
	enum uf_role role;
	struct atun *t;
	struct fy_stream *s;		/* NULL once the stream is gone */
	int fd;				/* UF_TARGET: connected to the target (-1 until resolved) */
	struct ulisten *ul;		/* UF_LOCAL: its listener */
	struct sockaddr_storage peer;	/* UF_LOCAL: the client */
	socklen_t peerlen;
	struct res_waiter rw;		/* UF_TARGET */
	bool check_addr;
	char target[300];
	uint64_t last_ms;		/* a datagram either way */
	struct uflow *prev, *next;	/* struct udp's list */
};

struct ulisten {
	struct agent *a;
	struct lfwd *lf;
	int fd;
	struct fy_sess_table flows;	/* fy_addr_key(client) -> uflow */
};

struct udp {
	struct ulisten l[AGENT_MAX_FWDS];
	unsigned n;
	struct uflow *flows;
	unsigned nflows;
	unsigned long long dropped;
	uint8_t buf[FY_DGRAM_MAX];
};

static void flow_link(struct udp *u, struct uflow *f)
{
	f->prev = NULL;
	f->next = u->flows;
	if (u->flows)
		u->flows->prev = f;
	u->flows = f;
	u->nflows++;
}

/* Frees f (its stream is gone or is reset by the caller). */
static void flow_free(struct uflow *f)
{
	struct agent *a = f->a;
	struct udp *u = a->udp;

	if (f->prev)
		f->prev->next = f->next;
	else
		u->flows = f->next;
	if (f->next)
		f->next->prev = f->prev;
	u->nflows--;
	if (f->role == UF_TARGET) {
		res_cancel(a, &f->rw);
		if (f->fd >= 0) {
			fy_loop_del(a->loop, f->fd);
			close(f->fd);
		}
	} else {
		fy_sess_remove(&f->ul->flows, fy_addr_key(&f->peer));
	}
	free(f);
}

static void drop(struct udp *u, const char *what, const struct uflow *f)
{
	u->dropped++;
	FY_LOG_RL(FY_LOG_INFO, TOPIC, "datagram dropped (%s) on the flow %s; %llu dropped so far",
		  what, f ? f->target : "-", u->dropped);
}

/* A datagram to the tunnel; counted when it does not fit. */
static void to_stream(struct uflow *f, const uint8_t *p, size_t n)
{
	f->last_ms = f->a->now_ms;
	if (fy_mux_send_dgram(f->t->link.mux, f->s, p, n) < 0)
		drop(f->a->udp, "no credit or no room in the tunnel", f);
}

/* ---- the stream's events ---- */

static void as_dgram(struct astream *as, const uint8_t *p, size_t n)
{
	struct uflow *f = (struct uflow *)as;
	const char *why = "socket buffer full";
	ssize_t k;

	f->last_ms = f->a->now_ms;
	if (f->role == UF_LOCAL) {
		k = sendto(f->ul->fd, p, n, MSG_DONTWAIT, (const struct sockaddr *)&f->peer,
			   f->peerlen);
	} else if (f->fd < 0) {
		k = -1;
		why = "target not resolved yet";
	} else {
		k = send(f->fd, p, n, MSG_DONTWAIT);
		/* An ICMP error for an earlier datagram is reported once, by
		 * this send: this datagram was not sent yet. */
		if (k < 0 && errno == ECONNREFUSED)
			k = send(f->fd, p, n, MSG_DONTWAIT);
	}
	if (k != (ssize_t)n)
		drop(f->a->udp, why, f);
	fy_mux_consumed(f->t->link.mux, f->s, n, true);
}

static void as_data(struct astream *as, const uint8_t *p, size_t n)
{
	(void)as;
	(void)p;
	(void)n;	/* the mux refuses DATA on a UDP stream */
}

/* The far end finished the flow. */
static void as_fin(struct astream *as)
{
	struct uflow *f = (struct uflow *)as;

	fy_mux_reset(f->t->link.mux, f->s, FY_E_OK, "UDP flow ended");
	flow_free(f);
}

static void as_reset(struct astream *as, uint32_t code, const char *msg)
{
	struct uflow *f = (struct uflow *)as;

	if (code != FY_E_OK && code != FY_E_GONE)
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "UDP flow %s reset: %s (%s)", f->target, msg,
			  fy_code_str(code));
	else
		FY_DEBUG(TOPIC, "UDP flow %s ended: %s", f->target, msg);
	flow_free(f);
}

static void as_credit(struct astream *as)
{
	(void)as;	/* datagrams are never held back for credit */
}

static const struct astream_ops uflow_ops = {
	.data = as_data, .dgram = as_dgram, .fin = as_fin, .reset = as_reset, .credit = as_credit,
};

/* Ends a flow from this side. */
static void flow_end(struct uflow *f, uint32_t code, const char *why)
{
	fy_mux_reset(f->t->link.mux, f->s, code, why);
	flow_free(f);
}

/* ---- the target's side ---- */

static void on_target_event(struct fy_loop *l, int fd, uint32_t ev, void *arg)
{
	struct uflow *f = arg;
	struct udp *u = f->a->udp;

	(void)l;
	(void)ev;
	for (int i = 0; i < DGRAMS_PER_EVENT; i++) {
		ssize_t k = recv(fd, u->buf, sizeof(u->buf), MSG_DONTWAIT | MSG_TRUNC);

		if (k < 0) {
			/* ECONNREFUSED: an ICMP port unreachable for an earlier
			 * datagram; the target may come up, the flow stays. */
			if (errno == EAGAIN || errno == EINTR || errno == ECONNREFUSED)
				return;
			flow_end(f, FY_E_REFUSED, "UDP target socket failed");
			return;
		}
		if ((size_t)k > sizeof(u->buf)) {
			drop(u, "datagram larger than the largest UDP payload", f);
			continue;
		}
		to_stream(f, u->buf, (size_t)k);
	}
}

static int target_socket(struct uflow *f, const struct sockaddr_storage *ss, socklen_t sl)
{
	int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)ss, sl) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	if (fy_loop_add(f->a->loop, fd, FY_EV_READ, on_target_event, f) < 0) {
		close(fd);
		return -ENOMEM;
	}
	f->fd = fd;
	return 0;
}

static void resolved(struct agent *a, struct res_waiter *w, int err,
		     const struct sockaddr_storage *ss, socklen_t sl)
{
	struct uflow *f = (struct uflow *)((char *)w - offsetof(struct uflow, rw));
	char why[FY_REASON_MAX + 1];
	int e;

	(void)a;
	if (err) {
		snprintf(why, sizeof(why), "cannot resolve %.200s: %s", f->target,
			 err == -ENOENT ? "name not found" : strerror(-err));
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s", why);
		flow_end(f, FY_E_REFUSED, why);
	} else if (f->check_addr && !allow_addr(&f->a->cfg, true, ss)) {
		snprintf(why, sizeof(why), "%.200s resolves to an address not allowed here "
			 "(--allow)", f->target);
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s", why);
		flow_end(f, FY_E_DENIED, why);
	} else if ((e = target_socket(f, ss, sl)) < 0) {
		snprintf(why, sizeof(why), "UDP socket to %.200s: %s", f->target, strerror(-e));
		flow_end(f, FY_E_REFUSED, why);
	}
}

static struct uflow *flow_new(struct agent *a, struct atun *t, enum uf_role role)
{
	struct uflow *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->as.ops = &uflow_ops;
	f->a = a;
	f->role = role;
	f->t = t;
	f->fd = -1;
	f->rw.entry = -1;
	f->rw.done = resolved;
	f->last_ms = a->now_ms;
	flow_link(a->udp, f);
	return f;
}

uint32_t udp_open_target(struct atun *t, struct fy_stream *s, const char *host, uint16_t port,
			 bool check_addr, const char **msg)
{
	static _Thread_local char why[FY_REASON_MAX + 1];
	struct agent *a = t->a;
	struct sockaddr_storage ss;
	socklen_t sl;
	struct uflow *f = flow_new(a, t, UF_TARGET);
	int e;

	if (!f) {
		*msg = "out of memory";
		return FY_E_LIMIT;
	}
	f->s = s;
	f->check_addr = check_addr;
	snprintf(f->target, sizeof(f->target), strchr(host, ':') ? "udp [%s]:%u" : "udp %s:%u",
		 host, port);
	e = res_lookup(a, host, port, &f->rw, &ss, &sl);
	if (e == 0 && check_addr && !allow_addr(&a->cfg, true, &ss))
		e = -EACCES;
	if (e == 0)
		e = target_socket(f, &ss, sl);
	if (e < 0 && e != -EINPROGRESS) {
		if (e == -EACCES)
			snprintf(why, sizeof(why), "%.200s is not allowed here (--allow)", f->target);
		else
			snprintf(why, sizeof(why), "%.200s: %s", f->target, strerror(-e));
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s", why);
		flow_free(f);
		*msg = why;
		return e == -EACCES ? FY_E_DENIED : FY_E_REFUSED;
	}
	s->app = &f->as;
	a->streams_total++;
	return FY_E_OK;
}

/* ---- the client's side: -L udp ---- */

static const char *ul_str(const struct lfwd *lf, char *out, size_t n)
{
	snprintf(out, n, "-L udp:%u:%s:%s:%u", lf->port, lf->agent, lf->host, lf->hostport);
	return out;
}

/* A flow for a new client: a stream to AGENT's target. */
static struct uflow *local_flow(struct ulisten *ul, const struct sockaddr_storage *peer,
				socklen_t peerlen)
{
	struct agent *a = ul->a;
	struct lfwd *lf = ul->lf;
	struct fy_dial d = { .kind = FY_KIND_UDP, .port = lf->hostport };
	struct atun *t = agent_pick_tunnel(a);
	char spec[400], who[64];
	const char *why = NULL;
	struct uflow *f;

	if (!t)
		why = "not connected to the relay";
	else if (a->relay_version < 2)
		why = "the relay speaks protocol 1, which has no streams between agents";
	else if (fy_sess_count(&ul->flows) >= a->cfg.max_streams)
		why = "too many UDP flows (--max-streams)";
	if (why) {
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s: datagram from %s dropped: %s",
			  ul_str(lf, spec, sizeof(spec)), fy_addr_str(peer, who, sizeof(who)), why);
		a->udp->dropped++;
		return NULL;
	}
	f = flow_new(a, t, UF_LOCAL);
	if (!f)
		return NULL;
	f->ul = ul;
	f->peer = *peer;
	f->peerlen = peerlen;
	snprintf(f->target, sizeof(f->target), "udp %.64s:%.160s:%u from %s", lf->agent, lf->host,
		 lf->hostport, fy_addr_str(peer, who, sizeof(who)));
	snprintf(d.agent, sizeof(d.agent), "%s", lf->agent);
	snprintf(d.host, sizeof(d.host), "%s", lf->host);
	if (fy_sess_insert(&ul->flows, fy_addr_key(peer), f) < 0) {
		f->role = UF_TARGET;	/* not in the table */
		flow_free(f);
		return NULL;
	}
	f->s = fy_mux_open_dial(t->link.mux, FY_T_CONNECT, &d, &f->as);
	if (!f->s) {
		flow_free(f);
		return NULL;
	}
	FY_DEBUG(TOPIC, "%s: new flow from %s", ul_str(lf, spec, sizeof(spec)), who);
	return f;
}

static void on_local_event(struct fy_loop *l, int fd, uint32_t ev, void *arg)
{
	struct ulisten *ul = arg;
	struct udp *u = ul->a->udp;

	(void)l;
	(void)ev;
	for (int i = 0; i < DGRAMS_PER_EVENT; i++) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		ssize_t k = recvfrom(fd, u->buf, sizeof(u->buf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&peer, &pl);
		struct uflow *f;

		if (k < 0)
			return;
		if ((size_t)k > sizeof(u->buf)) {
			drop(u, "datagram larger than the largest UDP payload", NULL);
			continue;
		}
		f = fy_sess_lookup(&ul->flows, fy_addr_key(&peer));
		if (f && !fy_addr_equal(&f->peer, &peer)) {
			drop(u, "two clients' addresses share a key", f);
			continue;
		}
		if (!f && !(f = local_flow(ul, &peer, pl)))
			continue;
		to_stream(f, u->buf, (size_t)k);
	}
}

static int listen_udp(struct agent *a, struct lfwd *lf)
{
	struct udp *u = a->udp;
	struct ulisten *ul = &u->l[u->n];
	struct sockaddr_storage ss;
	socklen_t sl;
	char spec[400];
	int fd = -1, e;

	e = fy_sock_resolve(lf->bind[0] ? lf->bind : "127.0.0.1", lf->port, &ss, &sl, 1);
	if (e == 0 && (fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		e = -errno;
	if (e == 0 && bind(fd, (struct sockaddr *)&ss, sl) < 0)
		e = -errno;
	if (e == 0 && fy_sess_init(&ul->flows, 64) < 0)
		e = -ENOMEM;
	if (e < 0) {
		fprintf(stderr, "ferry-agent: %s: cannot listen on %s:%u: %s\n",
			ul_str(lf, spec, sizeof(spec)), lf->bind[0] ? lf->bind : "127.0.0.1",
			lf->port, strerror(-e));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ul->a = a;
	ul->lf = lf;
	ul->fd = fd;
	fy_loop_add(a->loop, fd, FY_EV_READ, on_local_event, ul);
	u->n++;
	FY_INFO(TOPIC, "%s listening on %s:%u", ul_str(lf, spec, sizeof(spec)),
		lf->bind[0] ? lf->bind : "127.0.0.1", lf->port);
	return 0;
}

int udp_start(struct agent *a)
{
	/* Zeroed pages: the 64 KiB datagram buffer takes memory only once
	 * a datagram moves (ferry/zpages.h). */
	a->udp = fy_zpages_alloc(sizeof(*a->udp));
	if (!a->udp)
		return -1;
	for (unsigned i = 0; i < a->cfg.nlfwds; i++)
		if (a->cfg.lfwds[i].kind == L_UDP && listen_udp(a, &a->cfg.lfwds[i]) < 0)
			return -1;
	return 0;
}

void udp_tick(struct agent *a)
{
	struct uflow *f, *next;

	if (!a->udp)
		return;
	for (f = a->udp->flows; f; f = next) {
		next = f->next;
		if (a->now_ms - f->last_ms >= a->cfg.udp_idle_ms) {
			FY_DEBUG(TOPIC, "UDP flow %s idle for %u ms: ended", f->target,
				 a->cfg.udp_idle_ms);
			flow_end(f, FY_E_OK, "UDP flow idle");
		}
	}
}

unsigned long long udp_dropped(const struct agent *a)
{
	return a->udp ? a->udp->dropped : 0;
}

/* After the tunnels are gone (their streams reset every flow). */
void udp_stop(struct agent *a)
{
	struct udp *u = a->udp;

	if (!u)
		return;
	while (u->flows) {
		/* A flow whose stream is still open: only when the caller
		 * stopped before the tunnels went. */
		u->flows->s = NULL;
		flow_free(u->flows);
	}
	for (unsigned i = 0; i < u->n; i++) {
		fy_loop_del(a->loop, u->l[i].fd);
		close(u->l[i].fd);
		fy_sess_fini(&u->l[i].flows);
	}
	if (u->dropped)
		FY_INFO(TOPIC, "%llu datagram(s) dropped in all", u->dropped);
	fy_zpages_free(u, sizeof(*u));
	a->udp = NULL;
}
