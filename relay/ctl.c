/* The workers' side of the admin API's FORWARD requests (see ctl.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "engine.h"
#include "ferry/fwdspec.h"
#include "rstream.h"
#include "inbox.h"
#include "tunnel.h"

#define TOPIC "relay.ctl"

/* A FORWARD sent, its FORWARDED not yet back: a worker's short list. */
struct ctl_pending {
	struct ctl_pending *next;
	uint32_t req;
	uint8_t op;
	uint64_t sess_serial;
	uint64_t sent_ms;
	bool release;
	uint16_t port;
	bool udp;
	char name[FY_NAME_MAX + 1];
	char spec[FY_SPEC_MAX + 1];
};

void ctl_init(struct ctl *c, void (*wake)(void *arg), void *arg)
{
	cds_wfcq_init(&c->head, &c->tail);
	c->wake = wake;
	c->wake_arg = arg;
}

struct ctl_answer *ctl_take(struct ctl *c)
{
	struct cds_wfcq_node *n = __cds_wfcq_dequeue_blocking(&c->head, &c->tail);

	return n ? caa_container_of(n, struct ctl_answer, node) : NULL;
}

void ctl_send(struct relay *r, unsigned to, struct ctl_req *q)
{
	struct msg *m = calloc(1, sizeof(*m));

	if (!m) {
		free(q);
		return;		/* the admin thread's wait times out */
	}
	m->kind = MSG_CTL;
	m->ctl = q;
	inbox_send(&r->workers[to], m);
}

static void answer(struct relay *r, uint32_t req, uint32_t code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Any worker: the answer goes to the admin thread, which is woken. */
static void answer(struct relay *r, uint32_t req, uint32_t code, const char *fmt, ...)
{
	struct ctl *c = r->ctl;
	struct ctl_answer *a;
	va_list ap;

	if (!c || !(a = calloc(1, sizeof(*a))))
		return;		/* the admin thread's wait times out */
	a->req = req;
	a->code = code;
	va_start(ap, fmt);
	vsnprintf(a->msg, sizeof(a->msg), fmt, ap);
	va_end(ap);
	cds_wfcq_node_init(&a->node);
	cds_wfcq_enqueue(&c->head, &c->tail, &a->node);
	c->wake(c->wake_arg);
}

/* The session's tunnel 0 on w, active, or NULL. */
static struct tunnel *tunnel0(struct worker *w, uint64_t serial)
{
	for (struct tunnel *t = fy_sess_lookup(&w->tunnels, serial); t; t = t->same_next)
		if (t->index == 0 && t->state == TUN_ACTIVE)
			return t;
	return NULL;
}

/* CTL_STREAMS: the session's streams on w, in one answer. */
static void list_streams(struct worker *w, struct ctl_req *q)
{
	struct ctl_answer *a = calloc(1, sizeof(*a));
	struct ctl *c = w->r->ctl;

	if (!a || !c) {
		free(a);
		return;
	}
	a->req = q->req;
	a->streams = calloc(CTL_STREAMS_MAX, sizeof(*a->streams));
	for (struct tunnel *t = fy_sess_lookup(&w->tunnels, q->sess_serial); a->streams && t;
	     t = t->same_next) {
		if (t->state != TUN_ACTIVE)
			continue;
		for (struct fy_stream *s = fy_mux_first_stream(t->link.mux); s; s = s->next) {
			struct ctl_stream *o = &a->streams[a->nstreams];
			struct rstream *rs = s->app;
			struct rstream_info in = { .kind = "stream" };

			if (a->nstreams == CTL_STREAMS_MAX) {
				a->more = true;
				break;
			}
			if (rs && rs->ops->info)
				rs->ops->info(rs, &in);
			o->worker = w->id;
			o->tunnel = t->index;
			o->id = s->id;
			snprintf(o->kind, sizeof(o->kind), "%s", in.kind);
			o->port = in.port;
			memcpy(o->peer, in.peer, sizeof(o->peer));
			o->rx = in.rx;
			o->tx = in.tx;
			a->nstreams++;
		}
	}
	if (!a->streams)
		a->code = FY_E_INTERNAL;
	cds_wfcq_node_init(&a->node);
	cds_wfcq_enqueue(&c->head, &c->tail, &a->node);
	c->wake(c->wake_arg);
}

void ctl_handle(struct worker *w, struct ctl_req *q, bool discard)
{
	struct relay *r = w->r;
	struct fy_forward fw = { .req = q->req, .op = q->op };
	uint8_t f[FY_FRAME_HDR_LEN + 8 + FY_SPEC_MAX];
	struct ctl_pending *p;
	struct tunnel *t;

	if (discard) {
		answer(r, q->req, FY_E_SHUTDOWN, "relay shutting down");
		goto out;
	}
	if (q->kind == CTL_STREAMS) {
		list_streams(w, q);
		goto out;
	}
	t = tunnel0(w, q->sess_serial);
	if (!t || atomic_load(&t->sess->dead)) {
		answer(r, q->req, FY_E_GONE, "the agent's session ended before the request "
		       "reached it");
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		answer(r, q->req, FY_E_INTERNAL, "out of memory");
		goto out;
	}
	snprintf(fw.spec, sizeof(fw.spec), "%s", q->spec);
	if (fy_mux_send_ctrl(t->link.mux, f, fy_frame_forward(f, &fw)) < 0) {
		free(p);
		answer(r, q->req, FY_E_LIMIT, "the agent's tunnel has no room for the request now");
		goto out;
	}
	p->req = q->req;
	p->op = q->op;
	p->sess_serial = q->sess_serial;
	p->sent_ms = w->now_ms;
	p->release = q->release;
	p->port = q->port;
	p->udp = q->udp;
	snprintf(p->name, sizeof(p->name), "%s", q->name);
	snprintf(p->spec, sizeof(p->spec), "%s", q->spec);
	p->next = w->ctl_pending;
	w->ctl_pending = p;
	FY_INFO(TOPIC, "asked agent '%s' to %s '%s' (request %u)", t->name,
		q->op == FY_FWD_OPEN ? "open" : "close", q->spec, q->req);
out:
	free(q);
}

int ctl_on_forwarded(struct tunnel *t, const uint8_t *pl, uint32_t n, const char **why)
{
	struct worker *w = t->w;
	struct fy_result res;
	struct ctl_pending **pp, *p;

	if (fy_frame_get_result(pl, n, &res, why) < 0)
		return -1;
	for (pp = &w->ctl_pending; (p = *pp); pp = &p->next)
		if (p->req == res.req && p->sess_serial == t->sess->serial)
			break;
	if (!p) {
		/* Late (expired here) or never asked: nothing waits for it. */
		FY_LOG_RL(FY_LOG_INFO, TOPIC, "agent '%s' answered request %u, which nobody "
			  "waits for: %s", t->name, res.req, res.msg);
		return 0;
	}
	*pp = p->next;
	if (res.code == FY_E_OK && p->op == FY_FWD_CLOSE && p->release && p->name[0])
		engine_release_name(w, t->sess, p->name);
	else if (res.code == FY_E_OK && p->op == FY_FWD_CLOSE && p->release)
		engine_release_port(w, t->sess, p->port, p->udp);
	FY_INFO(TOPIC, "agent '%s' %s '%s': %s%s%s", t->name,
		res.code == FY_E_OK ? (p->op == FY_FWD_OPEN ? "opened" : "closed") : "refused",
		p->spec, res.msg, res.code == FY_E_OK ? "" : " - ",
		res.code == FY_E_OK ? "" : fy_code_str(res.code));
	answer(w->r, p->req, res.code, "%s", res.msg);
	free(p);
	return 0;
}

/* An agent closed one of its -R (or -H, -S) itself (its control socket):
 * it says so with FORWARD(close) on tunnel 0, where the claim lives, and
 * the claim is released as when the admin API closes it. */
int ctl_on_agent_forward(struct tunnel *t, const uint8_t *pl, uint32_t n, const char **why)
{
	struct fy_forward fw;
	struct fy_fwdspec fs;
	struct fy_result res = { 0 };
	uint8_t f[FY_CTRL_FRAME_MAX];
	char err[300];

	if (fy_frame_get_forward(pl, n, &fw, why) < 0)
		return -1;
	res.req = fw.req;
	if (t->index != 0 || fw.op != FY_FWD_CLOSE) {
		res.code = FY_E_UNSUPPORTED;
		snprintf(res.msg, sizeof(res.msg), "an agent only closes its own -R, -H or -S, on "
			 "tunnel 0");
	} else if (fy_fwdspec_parse(fw.spec, &fs, err, sizeof(err)) < 0 ||
		   !strchr("RHS", fs.opt)) {
		res.code = FY_E_DENIED;
		snprintf(res.msg, sizeof(res.msg), "not an -R, -H or -S: %.200s", fw.spec);
	} else if (fs.opt != 'R' && engine_release_name(t->w, t->sess, fs.name) < 0) {
		res.code = FY_E_GONE;
		snprintf(res.msg, sizeof(res.msg), "name '%s' is not claimed by agent '%s'", fs.name,
			 t->name);
	} else if (fs.opt != 'R') {
		FY_INFO(TOPIC, "agent '%s' closed '%s' itself", t->name, fw.spec);
		snprintf(res.msg, sizeof(res.msg), "name '%s' released", fs.name);
	} else if (engine_release_port(t->w, t->sess, fs.port, fs.udp) < 0) {
		res.code = FY_E_GONE;
		snprintf(res.msg, sizeof(res.msg), "port %u%s is not claimed by agent '%s'", fs.port,
			 fs.udp ? "/udp" : "", t->name);
	} else {
		FY_INFO(TOPIC, "agent '%s' closed '%s' itself", t->name, fw.spec);
		snprintf(res.msg, sizeof(res.msg), "port %u%s released", fs.port, fs.udp ? "/udp" : "");
	}
	fy_mux_send_ctrl(t->link.mux, f, fy_frame_forwarded(f, &res));
	return 0;
}

void ctl_tick(struct worker *w, uint64_t now)
{
	for (struct ctl_pending **pp = &w->ctl_pending; *pp;) {
		struct ctl_pending *p = *pp;

		if (now - p->sent_ms < CTL_PENDING_MS) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		free(p);
	}
}

void ctl_fini(struct worker *w)
{
	while (w->ctl_pending) {
		struct ctl_pending *p = w->ctl_pending;

		w->ctl_pending = p->next;
		answer(w->r, p->req, FY_E_SHUTDOWN, "relay shutting down");
		free(p);
	}
}
