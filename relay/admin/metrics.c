/* /metrics: the relay's counters in Prometheus' text format. Everything
 * here is read without stopping anyone: relaxed atomics (r->ctr), what
 * each worker publishes once a tick (worker_pub, the sessions' per-worker
 * stats), the registry under RCU (snap.c), /proc for the process. Labels
 * are bounded: per agent name (connected agents, at most
 * ADM_METRICS_AGENTS of them), per worker, per reason; never per client
 * address. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin-int.h"
#include "backend.h"
#include "admin.h"
#include "ferry_config.h"

#define ADM_METRICS_AGENTS 1000

static void put(struct adm_metrics *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct adm_metrics *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (m->oom)
		return;
	for (;;) {
		size_t room = m->cap - m->len;

		va_start(ap, fmt);
		n = vsnprintf(m->buf ? m->buf + m->len : NULL, m->buf ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			m->oom = true;
			return;
		}
		if (m->buf && (size_t)n < room) {
			m->len += (size_t)n;
			return;
		}
		size_t cap = m->cap ? m->cap * 2 : 16384;
		char *b;

		while (cap - m->len <= (size_t)n)
			cap *= 2;
		b = realloc(m->buf, cap);
		if (!b) {
			m->oom = true;
			return;
		}
		m->buf = b;
		m->cap = cap;
	}
}

void adm_metrics_family(struct adm_metrics *m, const char *name, const char *type,
			const char *help)
{
	put(m, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the format wants it: \\, \" and \n escaped. */
static void label(struct adm_metrics *m, const char *k, const char *v)
{
	put(m, "{%s=\"", k);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			put(m, "\\%c", *v);
		else if (*v == '\n')
			put(m, "\\n");
		else
			put(m, "%c", *v);
	}
	put(m, "\"}");
}

void adm_metrics_u64(struct adm_metrics *m, const char *name, const char *k, const char *v,
		     uint64_t x)
{
	put(m, "%s", name);
	if (k)
		label(m, k, v);
	put(m, " %llu\n", (unsigned long long)x);
}

void adm_metrics_f64(struct adm_metrics *m, const char *name, const char *k, const char *v,
		     double x)
{
	put(m, "%s", name);
	if (k)
		label(m, k, v);
	put(m, " %.6f\n", x);
}

void adm_metrics_one(struct adm_metrics *m, const char *name, const char *type, const char *help,
		     uint64_t v)
{
	adm_metrics_family(m, name, type, help);
	adm_metrics_u64(m, name, NULL, NULL, v);
}

static uint64_t ld(atomic_ulong *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

static const char *const auth_fail_names[AUTH_FAIL_N] = {
	[AUTH_FAIL_TOKEN] = "token",
	[AUTH_FAIL_ADMIN_TOKEN] = "admin_token",
	[AUTH_FAIL_NAME] = "name",
	[AUTH_FAIL_VERSION] = "version",
	[AUTH_FAIL_PROTOCOL] = "protocol",
};

static const char *const refused_names[REFUSED_N] = {
	[REFUSED_NO_AGENT] = "no_agent",
	[REFUSED_NO_TUNNEL] = "no_tunnel",
	[REFUSED_LIMIT] = "limit",
	[REFUSED_FD_RESERVE] = "fd_reserve",
	[REFUSED_AGENT] = "agent",
};

/* The relay's counters (r->ctr) that have no family of their own below:
 * ferry_<name>_total each. */
static void plain_counters(struct adm_metrics *m, struct relay_counters *c)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} v[] = {
#define C(f, h) { "ferry_" #f "_total", h, offsetof(struct relay_counters, f) }
		C(accept_emfile, "Accepts that failed for want of a descriptor (shed)."),
		C(fd_reserve, "Public clients refused to keep the descriptor reserve."),
		C(unauth_refused, "Connections refused over the unauthenticated caps."),
		C(unauth_evicted, "Unauthenticated connections closed for a newcomer."),
		C(auth_tarpit, "Connections refused: too many failed authentications from the address."),
		C(port_limit, "Port claims over an agent's cap."),
		C(join_opened, "Agent-to-agent streams opened."),
		C(join_denied, "Agent-to-agent streams refused by reach= or the policy."),
		C(join_refused, "Agent-to-agent streams refused: target absent, too old or without a tunnel."),
		C(dgram_dropped, "Datagrams dropped for want of room on their stream."),
		C(udp_flows_opened, "UDP flows opened (a new source on a UDP port)."),
		C(udp_flows_idle, "UDP flows ended after --udp-idle-ms of silence."),
		C(udp_dropped_cap, "Datagrams from new sources over --max-udp-flows-per-port."),
		C(udp_dropped_no_stream, "Datagrams with no tunnel or stream to carry them."),
		C(udp_dropped_no_credit, "Datagrams to agents dropped: no credit or no room."),
		C(udp_dropped_send, "Datagrams to sources the socket refused."),
		C(udp_dropped_refused, "Datagrams from a source the agent just refused."),
		C(udp_dropped_oversize, "Datagrams truncated or larger than a frame."),
		C(forwards_opened, "Forwards opened on agents through the admin API."),
		C(forwards_closed, "Forwards closed on agents through the admin API."),
		C(forwards_refused, "Forward requests refused by the relay or the agent."),
		C(kicks, "Agents disconnected through the admin API."),
#undef C
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		adm_metrics_one(m, v[i].name, "counter", v[i].help,
				ld((atomic_ulong *)((char *)c + v[i].off)));
}

static unsigned count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n ? n - 1 : 0;	/* not the one opendir holds */
}

static uint64_t rss_bytes(void)
{
	unsigned long long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f) {
		if (fscanf(f, "%llu %llu", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void per_agent(struct adm_metrics *m, const struct adm_snap *snap)
{
	size_t n = snap->n < ADM_METRICS_AGENTS ? snap->n : ADM_METRICS_AGENTS;
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} f[] = {
		{ "ferry_agent_received_bytes_total", "counter",
		  "Stream payload received from the agent (this session).",
		  offsetof(struct adm_agent, bytes_in) },
		{ "ferry_agent_sent_bytes_total", "counter",
		  "Stream payload sent to the agent (this session).",
		  offsetof(struct adm_agent, bytes_out) },
		{ "ferry_agent_streams_opened_total", "counter", "Streams opened on the agent's tunnels.",
		  offsetof(struct adm_agent, streams_opened) },
		{ "ferry_agent_streams", "gauge", "Streams open on the agent's tunnels.",
		  offsetof(struct adm_agent, streams_open) },
	};

	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		adm_metrics_family(m, f[k].name, f[k].type, f[k].help);
		for (size_t i = 0; i < n; i++)
			adm_metrics_u64(m, f[k].name, "agent", snap->agents[i].name,
					*(const uint64_t *)((const char *)&snap->agents[i] + f[k].off));
	}
	adm_metrics_family(m, "ferry_agent_tunnels", "gauge", "Tunnels up of the agent's session.");
	for (size_t i = 0; i < n; i++)
		adm_metrics_u64(m, "ferry_agent_tunnels", "agent", snap->agents[i].name,
				snap->agents[i].tunnels);
	adm_metrics_family(m, "ferry_agent_ports", "gauge", "Ports the agent holds.");
	for (size_t i = 0; i < n; i++)
		adm_metrics_u64(m, "ferry_agent_ports", "agent", snap->agents[i].name,
				snap->agents[i].nports);
	adm_metrics_one(m, "ferry_agents_unlisted", "gauge", "Agents left out of the per-agent "
			"series (over their cap).", snap->n - n);
}

static void per_worker(struct adm_metrics *m, struct relay *r)
{
	char id[16];

	adm_metrics_family(m, "ferry_worker_busy_ratio", "gauge",
			   "Share of the last second a worker's loop spent working.");
	for (unsigned i = 0; i < r->nworkers; i++) {
		snprintf(id, sizeof(id), "%u", i);
		adm_metrics_f64(m, "ferry_worker_busy_ratio", "worker", id,
				atomic_load_explicit(&r->workers[i].pub.busy_ppm,
						     memory_order_relaxed) / 1e6);
	}
	adm_metrics_family(m, "ferry_worker_busy_seconds_total", "counter",
			   "Time a worker's loop spent working (not waiting for events).");
	for (unsigned i = 0; i < r->nworkers; i++) {
		snprintf(id, sizeof(id), "%u", i);
		adm_metrics_f64(m, "ferry_worker_busy_seconds_total", "worker", id,
				atomic_load_explicit(&r->workers[i].pub.busy_us,
						     memory_order_relaxed) / 1e6);
	}
	adm_metrics_family(m, "ferry_worker_tunnels", "gauge", "Active tunnels on a worker.");
	for (unsigned i = 0; i < r->nworkers; i++) {
		snprintf(id, sizeof(id), "%u", i);
		adm_metrics_u64(m, "ferry_worker_tunnels", "worker", id,
				atomic_load_explicit(&r->workers[i].pub.tunnels, memory_order_relaxed));
	}
	adm_metrics_family(m, "ferry_worker_streams", "gauge", "Streams open on a worker.");
	for (unsigned i = 0; i < r->nworkers; i++) {
		snprintf(id, sizeof(id), "%u", i);
		adm_metrics_u64(m, "ferry_worker_streams", "worker", id,
				atomic_load_explicit(&r->workers[i].pub.streams, memory_order_relaxed));
	}
}

void adm_metrics_render(struct adm_server *s, struct adm_reply *rep)
{
	struct relay *r = s->r;
	struct adm_metrics m = { 0 };
	struct adm_snap snap;
	uint64_t tunnels = 0, streams = 0;
	int rc;

	adm_rcu_enter();
	rc = adm_snap_take(r, s->now_ms, &snap);
	adm_rcu_exit();
	if (rc < 0) {
		adm_api_error(rep, 500, "internal", "out of memory");
		return;
	}
	for (unsigned i = 0; i < r->nworkers; i++) {
		tunnels += atomic_load_explicit(&r->workers[i].pub.tunnels, memory_order_relaxed);
		streams += atomic_load_explicit(&r->workers[i].pub.streams, memory_order_relaxed);
	}
	adm_metrics_family(&m, "ferry_build_info", "gauge", "The relay's version and backend.");
	put(&m, "ferry_build_info{version=\"%s\",backend=\"%s\"} 1\n", FERRY_VERSION, r->be->name);
	adm_metrics_one(&m, "ferry_workers", "gauge", "Worker threads or lcores.", r->nworkers);
	adm_metrics_one(&m, "ferry_sessions", "gauge", "Agent sessions (connected agents).", snap.n);
	adm_metrics_one(&m, "ferry_tunnels", "gauge", "Active agent tunnels.", tunnels);
	adm_metrics_one(&m, "ferry_streams", "gauge", "Streams open on all tunnels.", streams);
	adm_metrics_one(&m, "ferry_ports", "gauge", "Claimed public ports.", snap.nports);
	adm_metrics_one(&m, "ferry_unauthenticated_connections", "gauge",
			"Agent connections before their HELLO.", atomic_load(&r->unauth));
	adm_metrics_one(&m, "ferry_streams_opened_total", "counter",
			"Public clients given a stream to an agent.", ld(&r->ctr.streams_opened));
	adm_metrics_family(&m, "ferry_streams_refused_total", "counter",
			   "Public clients refused, by reason.");
	for (unsigned i = 0; i < REFUSED_N; i++)
		adm_metrics_u64(&m, "ferry_streams_refused_total", "reason", refused_names[i],
				ld(&r->ctr.stream_refused[i]));
	adm_metrics_one(&m, "ferry_auth_failures_total", "counter",
			"Agent HELLOs refused, all reasons.", ld(&r->ctr.auth_failed));
	adm_metrics_family(&m, "ferry_auth_refused_total", "counter",
			   "Agent HELLOs refused, by reason.");
	for (unsigned i = 0; i < AUTH_FAIL_N; i++)
		adm_metrics_u64(&m, "ferry_auth_refused_total", "reason", auth_fail_names[i],
				ld(&r->ctr.auth_fail[i]));
	adm_metrics_one(&m, "ferry_tls_handshakes_total", "counter",
			"Agent TLS handshakes completed.", ld(&r->ctr.tls_handshakes));
	adm_metrics_one(&m, "ferry_tls_handshake_failures_total", "counter",
			"Agent TLS handshakes that failed.", ld(&r->ctr.tls_failed));
	adm_metrics_one(&m, "ferry_buffer_memory_bytes", "gauge",
			"Stream window growth taken from the relay's buffer budget.",
			fy_budget_used(&r->buf_budget));
	adm_metrics_one(&m, "ferry_buffer_memory_limit_bytes", "gauge",
			"The relay's buffer budget (--max-buffer-mem).", r->buf_budget.limit);
	plain_counters(&m, &r->ctr);
	per_worker(&m, r);
	per_agent(&m, &snap);
	adm_metrics_one(&m, "ferry_admin_requests_total", "counter", "Admin API requests.",
			ld(&s->requests));
	adm_metrics_one(&m, "ferry_admin_unauthorized_total", "counter",
			"Admin API requests without an admin token.", ld(&s->unauthorized));
	adm_metrics_one(&m, "process_open_fds", "gauge", "Open descriptors.", count_fds());
	adm_metrics_one(&m, "process_max_fds", "gauge", "The descriptor limit.", r->nofile);
	adm_metrics_one(&m, "process_resident_memory_bytes", "gauge", "Resident memory.",
			rss_bytes());
	if (r->be_metrics)
		r->be_metrics(r, &m);
	adm_snap_free(&snap);
	if (m.oom) {
		free(m.buf);
		adm_api_error(rep, 500, "internal", "out of memory");
		return;
	}
	rep->status = 200;
	rep->ctype = "text/plain; version=0.0.4; charset=utf-8";
	rep->body = m.buf;
	rep->len = m.len;
}
