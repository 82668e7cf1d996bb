/* The admin API's routes: who may ask (an admin token, except for the
 * probes and the status page itself), what each path answers, and the
 * forward requests that go to an agent through its tunnel 0's worker.
 *
 *   GET    /                        the status page (its script asks the API)
 *   GET    /healthz  /readyz        probes, no token
 *   GET    /metrics                 Prometheus text
 *   GET    /agents                  connected agents
 *   GET    /agents/NAME
 *   DELETE /agents/NAME             disconnect it (it reconnects after its backoff)
 *   POST   /agents/NAME/forwards    {"spec": "-R 2222:127.0.0.1:22"} opens a forward
 *   DELETE /agents/NAME/forwards    {"spec": ...} closes one
 *   GET    /agents/NAME/streams?offset=N&limit=N   its streams, a page at a time
 *   GET    /ports                   claimed ports
 *   POST   /reload                  the token file and the policy, read again */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "admin-int.h"
#include "backend.h"
#include "admin.h"
#include "engine.h"
#include "ferry/fwdspec.h"
#include "json.h"

#define TOPIC "relay.admin"

static uint64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static void reply_json(struct adm_reply *rep, int status, cJSON *o)
{
	rep->status = status;
	rep->ctype = "application/json";
	rep->body = adm_json_print(o, &rep->len);
	if (!rep->body) {
		rep->status = 500;
		rep->len = 0;
	}
}

static void reply_text(struct adm_reply *rep, int status, const char *ctype, const char *text,
		       size_t len)
{
	rep->status = status;
	rep->ctype = ctype;
	rep->body = malloc(len ? len : 1);
	rep->len = rep->body ? len : 0;
	if (rep->body)
		memcpy(rep->body, text, len);
	else
		rep->status = 500;
}

void adm_api_error(struct adm_reply *rep, int status, const char *code, const char *msg)
{
	reply_json(rep, status, adm_json_error(code, msg));
}

/* 0: an admin token; else the answer is in rep. */
static int authorize(struct adm_server *s, struct adm_conn *c, struct adm_reply *rep)
{
	const char *tok = fy_http_bearer(&c->msg);
	const struct fy_token_rule *rule;
	bool admin = false, found;

	if (!tok) {
		atomic_fetch_add_explicit(&s->unauthorized, 1, memory_order_relaxed);
		adm_api_error(rep, 401, "unauthorized", "an admin token is needed: "
			      "Authorization: Bearer TOKEN (ferry-relay token add --admin)");
		return -1;
	}
	adm_rcu_enter();
	rule = fy_tokens_match(rcu_dereference(s->r->tokens), tok);
	found = rule != NULL;
	if (rule)
		admin = rule->admin;
	adm_rcu_exit();
	if (!found) {
		atomic_fetch_add_explicit(&s->unauthorized, 1, memory_order_relaxed);
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s: admin request with a token not accepted", c->peer);
		adm_api_error(rep, 401, "unauthorized", "token not accepted");
		return -1;
	}
	if (!admin) {
		atomic_fetch_add_explicit(&s->unauthorized, 1, memory_order_relaxed);
		FY_LOG_RL(FY_LOG_WARN, TOPIC, "%s: admin request with an agent token", c->peer);
		adm_api_error(rep, 403, "forbidden", "an agent token cannot use the admin API; "
			      "use an admin token (ferry-relay token add --admin)");
		return -1;
	}
	return 0;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	return n && n <= FY_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

static bool take_snap(struct adm_server *s, struct adm_snap *snap, struct adm_reply *rep)
{
	int rc;

	adm_rcu_enter();
	rc = adm_snap_take(s->r, s->now_ms, snap);
	adm_rcu_exit();
	if (rc < 0)
		adm_api_error(rep, 500, "internal", "out of memory");
	return rc == 0;
}

static void get_agents(struct adm_server *s, const char *name, struct adm_reply *rep)
{
	struct adm_snap snap;
	const struct adm_agent *a;
	char msg[128];

	if (!take_snap(s, &snap, rep))
		return;
	if (!name) {
		reply_json(rep, 200, adm_json_agents(&snap, wall_ms()));
	} else if ((a = adm_snap_agent(&snap, name))) {
		reply_json(rep, 200, adm_json_agent(a, wall_ms()));
	} else {
		snprintf(msg, sizeof(msg), "agent '%s' is not connected", name);
		adm_api_error(rep, 404, "not_found", msg);
	}
	adm_snap_free(&snap);
}

static void get_ports(struct adm_server *s, struct adm_reply *rep)
{
	struct adm_snap snap;

	if (!take_snap(s, &snap, rep))
		return;
	reply_json(rep, 200, adm_json_ports(&snap));
	adm_snap_free(&snap);
}

static void kick(struct adm_server *s, const char *name, struct adm_reply *rep)
{
	struct reg_session *rs;
	char msg[160];
	bool found = false;

	adm_rcu_enter();
	rs = reg_session_lookup(s->r->reg, name);
	if (rs && !atomic_load(&rs->dead)) {
		found = true;
		engine_session_kill(s->r, rs, "disconnected through the admin API");
	}
	adm_rcu_exit();
	if (!found) {
		snprintf(msg, sizeof(msg), "agent '%s' is not connected", name);
		adm_api_error(rep, 404, "not_found", msg);
		return;
	}
	atomic_fetch_add_explicit(&s->r->ctr.kicks, 1, memory_order_relaxed);
	FY_INFO(TOPIC, "agent '%s' disconnected through the admin API", name);
	snprintf(msg, sizeof(msg), "agent '%s' disconnected; it reconnects after its backoff "
		 "unless its token is revoked", name);
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "agent", name);
	cJSON_AddStringToObject(o, "message", msg);
	reply_json(rep, 200, o);
}

static void reload(struct adm_server *s, struct adm_reply *rep)
{
	bool t = false, p = false;
	cJSON *o;

	relay_reload(s->r, true, &t, &p);	/* this thread is offline: it may wait */
	o = cJSON_CreateObject();

	cJSON_AddBoolToObject(o, "tokens", t);
	cJSON_AddBoolToObject(o, "policy", p);
	cJSON_AddStringToObject(o, "message", t && p ? "reloaded" :
				"not reloaded: the relay's log says why; the rules loaded before "
				"stay in use");
	reply_json(rep, t && p ? 200 : 500, o);
}

/* What the relay checks before asking the agent: the session, its
 * protocol, and the forward against its token's rules. 0 with the
 * request filled in, or -1 with the answer in rep. */
static int check_forward(struct adm_server *s, const char *name, const struct fy_fwdspec *fs,
			 uint8_t op, struct ctl_req *q, unsigned *worker, struct adm_reply *rep)
{
	struct relay *r = s->r;
	struct reg_session *rs, *ts;
	struct fy_token_rule none;
	char msg[FY_REASON_MAX + 1], list[400];
	int status = 0, w0;
	const char *code = "denied";

	adm_rcu_enter();
	rs = reg_session_lookup(r->reg, name);
	if (!rs || atomic_load(&rs->dead)) {
		status = 404;
		code = "not_found";
		snprintf(msg, sizeof(msg), "agent '%s' is not connected", name);
	} else if (rs->version < 2) {
		status = 409;
		code = "unsupported";
		snprintf(msg, sizeof(msg), "agent '%s' speaks protocol %u, which has no forwards "
			 "opened by the relay", name, rs->version);
	} else if ((w0 = atomic_load(&rs->tunnel0_worker)) < 0) {
		status = 503;
		code = "unavailable";
		snprintf(msg, sizeof(msg), "agent '%s' is still connecting", name);
	} else if ((fs->opt == 'H' || fs->opt == 'S') && rs->version < 3) {
		status = 409;
		code = "unsupported";
		snprintf(msg, sizeof(msg), "agent '%s' speaks protocol %u, which has no names "
			 "(-H, -S need 3)", name, rs->version);
	} else if ((fs->opt == 'H' || fs->opt == 'S') && op == FY_FWD_OPEN &&
		   !fy_token_allows_name(&rs->rule, fs->name)) {
		status = 403;
		fy_token_names_str(&rs->rule, list, sizeof(list));
		snprintf(msg, sizeof(msg), "the token of agent '%s' may not claim name '%s' "
			 "(allowed: %.120s)", name, fs->name, list[0] ? list : "none");
	} else if (fs->opt == 'R' && op == FY_FWD_OPEN && fs->udp && !r->be->udp_listen) {
		status = 403;
		snprintf(msg, sizeof(msg), "UDP ports are not supported by the %s backend", r->be->name);
	} else if (fs->opt == 'R' && op == FY_FWD_OPEN && !fy_token_allows_port(&rs->rule, fs->port)) {
		status = 403;
		fy_token_ranges_str(&rs->rule, list, sizeof(list));
		snprintf(msg, sizeof(msg), "the token of agent '%s' may not claim port %u "
			 "(allowed: %.120s)", name, fs->port, list);
	} else if (fs->opt == 'L' && op == FY_FWD_OPEN) {
		/* The far agent's groups come from its session; one not connected
		 * is reached only by name or '*'. */
		memset(&none, 0, sizeof(none));
		ts = reg_session_lookup(r->reg, fs->agent);
		if (!fy_token_reaches(&rs->rule, fs->agent, ts ? &ts->rule : &none)) {
			status = 403;
			fy_token_reach_str(&rs->rule, list, sizeof(list));
			snprintf(msg, sizeof(msg), "the token of agent '%s' does not reach agent '%s' "
				 "(reach: %.100s)", name, fs->agent, list[0] ? list : "none");
		}
	}
	if (!status) {
		q->sess_serial = rs->serial;
		*worker = (unsigned)w0;
	}
	adm_rcu_exit();
	if (status) {
		FY_INFO(TOPIC, "forward for agent '%s' refused: %s", name, msg);
		atomic_fetch_add_explicit(&r->ctr.forwards_refused, 1, memory_order_relaxed);
		adm_api_error(rep, status, code, msg);
		return -1;
	}
	return 0;
}

static int forward(struct adm_server *s, struct adm_conn *c, const char *name, uint8_t op,
		   struct adm_reply *rep)
{
	struct relay *r = s->r;
	struct fy_fwdspec fs;
	struct ctl_req *q;
	const char *why;
	char spec[FY_SPEC_MAX + 1], canon[FY_SPEC_MAX + 1], err[300];
	unsigned worker = 0;

	if (adm_json_spec(c->msg.body, c->msg.body_len, spec, sizeof(spec), &why) < 0) {
		adm_api_error(rep, 400, "bad_request", why);
		return 0;
	}
	if (fy_fwdspec_parse(spec, &fs, err, sizeof(err)) < 0) {
		adm_api_error(rep, 400, "bad_request", err);
		return 0;
	}
	if (!strchr("RHSL", fs.opt)) {
		snprintf(err, sizeof(err), "only -R, -H, -S and -L forwards can be opened or closed "
			 "through the relay (-%c is the agent's own to give)", fs.opt);
		adm_api_error(rep, 400, "bad_request", err);
		return 0;
	}
	if (atomic_load(&r->draining) || atomic_load(&r->stop)) {
		adm_api_error(rep, 503, "unavailable", "relay is shutting down");
		return 0;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		adm_api_error(rep, 500, "internal", "out of memory");
		return 0;
	}
	if (check_forward(s, name, &fs, op, q, &worker, rep) < 0) {
		free(q);
		return 0;
	}
	fy_fwdspec_str(&fs, canon, sizeof(canon));
	q->req = ++s->next_req;
	q->op = op;
	snprintf(q->spec, sizeof(q->spec), "%s", canon);
	q->release = strchr("RHS", fs.opt) && op == FY_FWD_CLOSE;
	q->port = fs.port;
	q->udp = fs.udp;
	snprintf(q->name, sizeof(q->name), "%s", fs.name);
	c->wait_req = q->req;
	c->wait_op = op;
	c->wait_start_ms = s->now_ms;
	snprintf(c->wait_agent, sizeof(c->wait_agent), "%s", name);
	snprintf(c->wait_spec, sizeof(c->wait_spec), "%s", canon);
	ctl_send(r, worker, q);
	return 1;
}

/* Asks every worker holding a tunnel of the agent for its streams. */
static int streams(struct adm_server *s, struct adm_conn *c, const char *name,
		   struct adm_reply *rep)
{
	char q[256] = "", v[16], msg[128];
	struct reg_session *rs;
	uint64_t mask = 0, serial = 0;
	bool found = false;
	char *end;

	fy_http_path(&c->msg, msg, sizeof(msg), q, sizeof(q));
	c->offset = 0;
	c->limit = 100;
	if (!fy_http_query_get(q, "offset", v, sizeof(v)))
		c->offset = strtoul(v, &end, 10);
	if (!fy_http_query_get(q, "limit", v, sizeof(v)))
		c->limit = strtoul(v, &end, 10);
	if (c->limit == 0 || c->limit > 1000) {
		adm_api_error(rep, 400, "bad_request", "limit must be 1 to 1000");
		return 0;
	}
	adm_rcu_enter();
	rs = reg_session_lookup(s->r->reg, name);
	if (rs && !atomic_load(&rs->dead)) {
		found = true;
		mask = atomic_load(&rs->tunnels);
		serial = rs->serial;
	}
	adm_rcu_exit();
	if (!found) {
		snprintf(msg, sizeof(msg), "agent '%s' is not connected", name);
		adm_api_error(rep, 404, "not_found", msg);
		return 0;
	}
	c->wait_req = ++s->next_req;
	c->wait_streams = true;
	c->wait_left = 0;
	c->wait_start_ms = s->now_ms;
	snprintf(c->wait_agent, sizeof(c->wait_agent), "%s", name);
	for (unsigned w = 0; w < s->r->nworkers; w++) {
		struct ctl_req *cq;

		if (!(mask & (1ull << w)) || !(cq = calloc(1, sizeof(*cq))))
			continue;
		cq->kind = CTL_STREAMS;
		cq->req = c->wait_req;
		cq->sess_serial = serial;
		c->wait_left++;
		ctl_send(s->r, w, cq);
	}
	if (!c->wait_left) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "agent", name);
		cJSON_AddNumberToObject(o, "total", 0);
		cJSON_AddArrayToObject(o, "streams");
		reply_json(rep, 200, o);
		return 0;
	}
	return 1;
}

void adm_api_gather(struct adm_conn *c, struct ctl_answer *a)
{
	struct ctl_stream *v;

	c->wait_left--;
	c->got_more |= a->more;
	if (!a->nstreams)
		return;
	v = realloc(c->got, (c->ngot + a->nstreams) * sizeof(*v));
	if (!v)
		return;
	memcpy(v + c->ngot, a->streams, a->nstreams * sizeof(*v));
	c->got = v;
	c->ngot += a->nstreams;
}

static int cmp_stream(const void *x, const void *y)
{
	const struct ctl_stream *a = x, *b = y;

	if (a->worker != b->worker)
		return a->worker < b->worker ? -1 : 1;
	if (a->tunnel != b->tunnel)
		return a->tunnel < b->tunnel ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static void streams_page(struct adm_conn *c, bool timed_out, struct adm_reply *rep)
{
	cJSON *o = cJSON_CreateObject(), *arr;

	if (c->ngot)
		qsort(c->got, c->ngot, sizeof(*c->got), cmp_stream);
	cJSON_AddStringToObject(o, "agent", c->wait_agent);
	cJSON_AddNumberToObject(o, "total", (double)c->ngot);
	cJSON_AddNumberToObject(o, "offset", (double)c->offset);
	cJSON_AddNumberToObject(o, "limit", (double)c->limit);
	if (timed_out || c->got_more)
		cJSON_AddBoolToObject(o, "incomplete", true);
	arr = cJSON_AddArrayToObject(o, "streams");
	for (size_t i = c->offset; i < c->ngot && i < c->offset + c->limit; i++) {
		const struct ctl_stream *st = &c->got[i];
		cJSON *e = cJSON_CreateObject();

		cJSON_AddNumberToObject(e, "worker", st->worker);
		cJSON_AddNumberToObject(e, "tunnel", st->tunnel);
		cJSON_AddNumberToObject(e, "id", st->id);
		cJSON_AddStringToObject(e, "kind", st->kind);
		if (st->port)
			cJSON_AddNumberToObject(e, "port", st->port);
		cJSON_AddStringToObject(e, "peer", st->peer);
		cJSON_AddNumberToObject(e, "bytes_in", (double)st->rx);
		cJSON_AddNumberToObject(e, "bytes_out", (double)st->tx);
		cJSON_AddItemToArray(arr, e);
	}
	reply_json(rep, 200, o);
}

void adm_api_answered(struct adm_server *s, struct adm_conn *c, const struct ctl_answer *a,
		      struct adm_reply *rep)
{
	struct relay *r = s->r;
	cJSON *o;
	int status;

	if (c->wait_streams) {
		if (a)
			adm_api_gather(c, (struct ctl_answer *)a);
		streams_page(c, !a, rep);
		return;
	}
	o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "agent", c->wait_agent);
	cJSON_AddStringToObject(o, "spec", c->wait_spec);
	cJSON_AddStringToObject(o, "op", c->wait_op == FY_FWD_OPEN ? "open" : "close");
	if (!a) {
		status = 504;
		cJSON_AddStringToObject(o, "error", "the agent did not answer in time");
		cJSON_AddStringToObject(o, "code", "timeout");
	} else if (a->code == FY_E_OK) {
		status = c->wait_op == FY_FWD_OPEN ? 201 : 200;
		cJSON_AddStringToObject(o, "message", a->msg);
		atomic_fetch_add_explicit(c->wait_op == FY_FWD_OPEN ? &r->ctr.forwards_opened :
					  &r->ctr.forwards_closed, 1, memory_order_relaxed);
	} else {
		switch (a->code) {
		case FY_E_DENIED: case FY_E_REFUSED: status = 403; break;
		case FY_E_IN_USE: status = 409; break;
		case FY_E_GONE: status = 404; break;
		case FY_E_SHUTDOWN: case FY_E_LIMIT: status = 503; break;
		default: status = 502; break;
		}
		cJSON_AddStringToObject(o, "error", a->msg);
		cJSON_AddStringToObject(o, "code", fy_code_str(a->code));
		atomic_fetch_add_explicit(&r->ctr.forwards_refused, 1, memory_order_relaxed);
	}
	cJSON_AddNumberToObject(o, "elapsed_ms", (double)(s->now_ms - c->wait_start_ms));
	reply_json(rep, status, o);
}

static void method_not_allowed(struct adm_reply *rep, const char *method, const char *path,
			       const char *allowed)
{
	char msg[300];

	/* A long path is cut: the message stays one short line. */
	snprintf(msg, sizeof(msg), "%s is not allowed on %.200s (allowed: %s)", method, path,
		 allowed);
	adm_api_error(rep, 405, "method_not_allowed", msg);
}

static void readyz(struct adm_server *s, struct adm_reply *rep)
{
	struct relay *r = s->r;
	const char *why = NULL;

	if (atomic_load(&r->draining))
		why = "draining";
	else if (!atomic_load(&r->ready) || atomic_load(&r->running) != r->nworkers)
		why = "workers not running";
	if (why) {
		char line[64];

		snprintf(line, sizeof(line), "not ready: %s\n", why);
		reply_text(rep, 503, "text/plain; charset=utf-8", line, strlen(line));
	} else {
		reply_text(rep, 200, "text/plain; charset=utf-8", "ready\n", 6);
	}
}

int adm_api_route(struct adm_server *s, struct adm_conn *c, struct adm_reply *rep)
{
	const char *method = fy_http_method(&c->msg);
	bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST"),
	     del = !strcmp(method, "DELETE");
	char path[FY_HTTP_URL_MAX + 1], name[FY_NAME_MAX + 2];
	const char *rest;

	if (fy_http_path(&c->msg, path, sizeof(path), NULL, 0) < 0) {
		adm_api_error(rep, 400, "bad_request", "the request's URL does not parse");
		return 0;
	}
	/* Probes and the page itself need no token: the page's script asks
	 * for one and sends it with every API call. */
	if (!strcmp(path, "/") || !strcmp(path, "/healthz") || !strcmp(path, "/readyz")) {
		if (!get) {
			method_not_allowed(rep, method, path, "GET");
		} else if (path[1] == 0) {
			reply_text(rep, 200, "text/html; charset=utf-8", adm_page_html,
				   adm_page_html_len);
		} else if (path[1] == 'h') {
			reply_text(rep, 200, "text/plain; charset=utf-8", "ok\n", 3);
		} else {
			readyz(s, rep);
		}
		return 0;
	}
	if (authorize(s, c, rep) < 0)
		return 0;
	if (!strcmp(path, "/metrics")) {
		if (!get)
			method_not_allowed(rep, method, path, "GET");
		else
			adm_metrics_render(s, rep);
		return 0;
	}
	if (!strcmp(path, "/agents")) {
		if (!get)
			method_not_allowed(rep, method, path, "GET");
		else
			get_agents(s, NULL, rep);
		return 0;
	}
	if (!strcmp(path, "/ports")) {
		if (!get)
			method_not_allowed(rep, method, path, "GET");
		else
			get_ports(s, rep);
		return 0;
	}
	if (!strcmp(path, "/reload")) {
		if (!post)
			method_not_allowed(rep, method, path, "POST");
		else
			reload(s, rep);
		return 0;
	}
	if (!strncmp(path, "/agents/", 8)) {
		size_t n = strcspn(path + 8, "/");

		rest = path + 8 + n;
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, path + 8, n);
		name[n] = 0;
		if (!name_ok(name)) {
			adm_api_error(rep, 404, "not_found", "no such agent name (names are 1-63 of "
				      "A-Z a-z 0-9 . _ -)");
			return 0;
		}
		if (!*rest) {
			if (get)
				get_agents(s, name, rep);
			else if (del)
				kick(s, name, rep);
			else
				method_not_allowed(rep, method, path, "GET, DELETE");
			return 0;
		}
		if (!strcmp(rest, "/streams")) {
			if (get)
				return streams(s, c, name, rep);
			method_not_allowed(rep, method, path, "GET");
			return 0;
		}
		if (!strcmp(rest, "/forwards")) {
			if (post)
				return forward(s, c, name, FY_FWD_OPEN, rep);
			if (del)
				return forward(s, c, name, FY_FWD_CLOSE, rep);
			method_not_allowed(rep, method, path, "POST, DELETE");
			return 0;
		}
	}
	adm_api_error(rep, 404, "not_found", "no such resource (see README.md: the admin API)");
	return 0;
}
