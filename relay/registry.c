/* rculfhash-backed registry. Keys are hashed with XXH3, the same hash the
 * worker session tables use. */
#include <errno.h>
#include <string.h>

#include <xxhash.h>

#include "registry.h"

struct reg {
	struct cds_lfht *sessions;
	struct cds_lfht *ports;
	struct cds_lfht *names;		/* name claims (reg_port with a name) */
};

static int match_session(struct cds_lfht_node *n, const void *key)
{
	const struct reg_session *s = caa_container_of(n, struct reg_session, node);

	return strcmp(s->name, key) == 0;
}

/* A port claim's key: TCP and UDP ports are distinct claims. */
struct port_key {
	uint16_t port;
	bool udp;
};

static struct port_key key_of(const struct reg_port *p)
{
	return (struct port_key){ .port = p->port, .udp = p->udp };
}

static int match_port(struct cds_lfht_node *n, const void *key)
{
	const struct reg_port *p = caa_container_of(n, struct reg_port, node);
	const struct port_key *k = key;

	return p->port == k->port && p->udp == k->udp;
}

static int match_claim_name(struct cds_lfht_node *n, const void *key)
{
	const struct reg_port *p = caa_container_of(n, struct reg_port, node);

	return strcmp(p->name, key) == 0;
}

static unsigned long hash_name(const char *name)
{
	return (unsigned long)XXH3_64bits(name, strlen(name));
}

static unsigned long hash_port(const struct port_key *k)
{
	/* The two fields, not the struct: its padding is not ours to hash. */
	uint32_t v = (uint32_t)k->port | (k->udp ? 1u << 16 : 0);

	return (unsigned long)XXH3_64bits(&v, sizeof(v));
}

struct reg *reg_create(void)
{
	struct reg *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->sessions = cds_lfht_new(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	r->ports = cds_lfht_new(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	r->names = cds_lfht_new(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	if (!r->sessions || !r->ports || !r->names) {
		reg_destroy(r);
		return NULL;
	}
	return r;
}

void reg_destroy(struct reg *r)
{
	if (!r)
		return;
	if (r->sessions)
		cds_lfht_destroy(r->sessions, NULL);
	if (r->ports)
		cds_lfht_destroy(r->ports, NULL);
	if (r->names)
		cds_lfht_destroy(r->names, NULL);
	free(r);
}

struct reg_session *reg_session_lookup(struct reg *r, const char *name)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	cds_lfht_lookup(r->sessions, hash_name(name), match_session, name, &it);
	n = cds_lfht_iter_get_node(&it);
	return n ? caa_container_of(n, struct reg_session, node) : NULL;
}

int reg_session_add(struct reg *r, struct reg_session *s, struct reg_session **cur)
{
	struct cds_lfht_node *n;

	n = cds_lfht_add_unique(r->sessions, hash_name(s->name), match_session, s->name, &s->node);
	if (n == &s->node)
		return 0;
	if (cur)
		*cur = caa_container_of(n, struct reg_session, node);
	return -EEXIST;
}

int reg_session_replace(struct reg *r, struct reg_session *old, struct reg_session *s)
{
	struct cds_lfht_iter it;

	cds_lfht_lookup(r->sessions, hash_name(old->name), match_session, old->name, &it);
	if (cds_lfht_iter_get_node(&it) != &old->node)
		return -ENOENT;
	return cds_lfht_replace(r->sessions, &it, hash_name(s->name), match_session, s->name,
				&s->node) == 0 ? 0 : -ENOENT;
}

void reg_session_del(struct reg *r, struct reg_session *s)
{
	/* Fails harmlessly when s was already replaced or removed. */
	cds_lfht_del(r->sessions, &s->node);
}

static unsigned long count(struct cds_lfht *t)
{
	long before, after;
	unsigned long n;

	cds_lfht_count_nodes(t, &before, &n, &after);
	return n;
}

unsigned long reg_session_count(struct reg *r) { return count(r->sessions); }
unsigned long reg_port_count(struct reg *r) { return count(r->ports); }
unsigned long reg_name_count(struct reg *r) { return count(r->names); }

struct reg_port *reg_name_find(struct reg *r, const char *name)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	cds_lfht_lookup(r->names, hash_name(name), match_claim_name, name, &it);
	n = cds_lfht_iter_get_node(&it);
	return n ? caa_container_of(n, struct reg_port, node) : NULL;
}

struct reg_port *reg_port_find(struct reg *r, bool udp, uint16_t port)
{
	struct port_key k = { .port = port, .udp = udp };
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	cds_lfht_lookup(r->ports, hash_port(&k), match_port, &k, &it);
	n = cds_lfht_iter_get_node(&it);
	return n ? caa_container_of(n, struct reg_port, node) : NULL;
}

int reg_port_add(struct reg *r, struct reg_port *p, struct reg_port **cur)
{
	struct port_key k = key_of(p);
	struct cds_lfht_node *n;

	if (p->name[0])
		n = cds_lfht_add_unique(r->names, hash_name(p->name), match_claim_name, p->name,
					&p->node);
	else
		n = cds_lfht_add_unique(r->ports, hash_port(&k), match_port, &k, &p->node);
	if (n == &p->node)
		return 0;
	if (cur)
		*cur = caa_container_of(n, struct reg_port, node);
	return -EEXIST;
}

int reg_port_replace(struct reg *r, struct reg_port *old, struct reg_port *p)
{
	struct port_key ko = key_of(old), kp = key_of(p);
	struct cds_lfht_iter it;

	if (p->name[0]) {
		cds_lfht_lookup(r->names, hash_name(old->name), match_claim_name, old->name, &it);
		if (cds_lfht_iter_get_node(&it) != &old->node)
			return -ENOENT;
		return cds_lfht_replace(r->names, &it, hash_name(p->name), match_claim_name,
					p->name, &p->node) == 0 ? 0 : -ENOENT;
	}
	cds_lfht_lookup(r->ports, hash_port(&ko), match_port, &ko, &it);
	if (cds_lfht_iter_get_node(&it) != &old->node)
		return -ENOENT;
	return cds_lfht_replace(r->ports, &it, hash_port(&kp), match_port, &kp,
				&p->node) == 0 ? 0 : -ENOENT;
}

void reg_port_del(struct reg *r, struct reg_port *p)
{
	/* Fails harmlessly when p was already replaced or removed. */
	cds_lfht_del(p->name[0] ? r->names : r->ports, &p->node);
}

void reg_session_foreach(struct reg *r, reg_session_fn fn, void *arg)
{
	struct cds_lfht_iter it;
	struct reg_session *s;

	cds_lfht_for_each_entry(r->sessions, &it, s, node)
		fn(s, arg);
}

void reg_port_foreach(struct reg *r, reg_port_fn fn, void *arg)
{
	struct cds_lfht_iter it;
	struct reg_port *p;

	cds_lfht_for_each_entry(r->ports, &it, p, node)
		fn(p, arg);
}

void reg_name_foreach(struct reg *r, reg_port_fn fn, void *arg)
{
	struct cds_lfht_iter it;
	struct reg_port *p;

	cds_lfht_for_each_entry(r->names, &it, p, node)
		fn(p, arg);
}
