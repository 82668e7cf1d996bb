/* A snapshot of the registry for the admin API: every agent session and
 * every claimed port, copied out under the caller's RCU read lock so that
 * answers are built without holding it. */
#include <stdlib.h>
#include <string.h>

#include "admin.h"

static void *grow(void *v, size_t *cap, size_t n, size_t size, bool *oom)
{
	size_t nc;
	void *nv;

	if (n < *cap)
		return v;
	nc = *cap ? *cap * 2 : 16;
	nv = realloc(v, nc * size);
	if (!nv) {
		*oom = true;
		return NULL;
	}
	*cap = nc;
	return nv;
}

struct snap_arg {
	struct adm_snap *s;
	uint64_t now_ms;
};

static void add_agent(struct reg_session *rs, void *arg)
{
	struct snap_arg *sa = arg;
	struct adm_snap *s = sa->s;
	struct adm_agent *a, *v;
	uint64_t mask = atomic_load(&rs->tunnels);

	if (atomic_load(&rs->dead) || s->oom)
		return;
	v = grow(s->agents, &s->cap, s->n, sizeof(*s->agents), &s->oom);
	if (!v)
		return;
	s->agents = v;
	a = &s->agents[s->n++];
	memset(a, 0, sizeof(*a));
	memcpy(a->name, rs->name, sizeof(a->name));
	memcpy(a->peer, rs->peer, sizeof(a->peer));
	a->version = rs->version;
	a->age_ms = sa->now_ms > rs->since_ms ? sa->now_ms - rs->since_ms : 0;
	a->tunnels = (unsigned)__builtin_popcountll(mask);
	a->tunnels_expected = rs->workers;
	a->workers = mask;
	a->draining = atomic_load(&rs->draining);
	for (unsigned i = 0; i < rs->nstats; i++) {
		const struct reg_sess_stats *st = &rs->stats[i];

		a->bytes_in += atomic_load_explicit(&st->bytes_in, memory_order_relaxed);
		a->bytes_out += atomic_load_explicit(&st->bytes_out, memory_order_relaxed);
		a->streams_opened += atomic_load_explicit(&st->streams_opened, memory_order_relaxed);
		a->streams_open += atomic_load_explicit(&st->streams_open, memory_order_relaxed);
	}
	a->key = rs;
}

static void add_port(struct reg_port *p, void *arg)
{
	struct adm_snap *s = ((struct snap_arg *)arg)->s;
	struct adm_port *v, *e;

	if (s->oom)
		return;
	v = grow(s->ports, &s->pcap, s->nports, sizeof(*s->ports), &s->oom);
	if (!v)
		return;
	s->ports = v;
	e = &s->ports[s->nports++];
	e->port = p->port;
	e->udp = p->udp;
	memcpy(e->name, p->name, sizeof(e->name));
	e->kind = p->kind;
	e->gone = p->gone_ms != 0;
	e->owner = p->owner;
	memcpy(e->agent, p->sess->name, sizeof(e->agent));
	/* Its agent's own list, matched by session (names repeat while an
	 * old session of the same agent ends). */
	for (size_t i = 0; i < s->n; i++) {
		struct adm_agent *a = &s->agents[i];

		if (a->key != p->sess)
			continue;
		if (a->nports == ADM_PORTS_PER_AGENT)
			a->ports_more = true;
		else
			a->ports[a->nports++] = *e;
		break;
	}
}

static int cmp_agent(const void *x, const void *y)
{
	return strcmp(((const struct adm_agent *)x)->name, ((const struct adm_agent *)y)->name);
}

static int cmp_port(const void *x, const void *y)
{
	const struct adm_port *a = x, *b = y;

	if (a->name[0] || b->name[0])	/* ports first, then names */
		return !a->name[0] ? -1 : !b->name[0] ? 1 : strcmp(a->name, b->name);
	return a->port != b->port ? (int)a->port - (int)b->port : (int)a->udp - (int)b->udp;
}

int adm_snap_take(struct relay *r, uint64_t now_ms, struct adm_snap *s)
{
	struct snap_arg sa = { s, now_ms };

	memset(s, 0, sizeof(*s));
	reg_session_foreach(r->reg, add_agent, &sa);
	reg_port_foreach(r->reg, add_port, &sa);
	reg_name_foreach(r->reg, add_port, &sa);
	for (size_t i = 0; i < s->n; i++)
		s->agents[i].key = NULL;	/* not to be used past the read lock */
	if (s->oom) {
		adm_snap_free(s);
		return -1;
	}
	if (s->n)
		qsort(s->agents, s->n, sizeof(*s->agents), cmp_agent);
	if (s->nports)
		qsort(s->ports, s->nports, sizeof(*s->ports), cmp_port);
	return 0;
}

void adm_snap_free(struct adm_snap *s)
{
	free(s->agents);
	free(s->ports);
	memset(s, 0, sizeof(*s));
}

const struct adm_agent *adm_snap_agent(const struct adm_snap *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->agents[i].name, name))
			return &s->agents[i];
	return NULL;
}
