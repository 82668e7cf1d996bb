/* Registry: sessions by name and ports by number in rculfhash tables.
 * Single-threaded vectors for add / lookup / replace / del and counts,
 * then a concurrency test: reader threads look ports and sessions up under
 * rcu_read_lock() while a writer adds, replaces and removes them, freeing
 * what it removed only through call_rcu. Removed entries are poisoned
 * just before free, so a reader that could still see one (an early free)
 * finds a bad magic or port; under ASan it is a use-after-free report. */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cu_run.h"
#include "registry.h"

#define SESS_MAGIC	0x5e55104a5e55104aull
#define PORT_MAGIC	0x9027900d9027900dull
#define POISON		0xdeaddeaddeaddeadull
#define NPORTS		1000u
#define NREADERS	4
#define NCHURN		16	/* session names the writer churns */
#define NOWNERS		8	/* sessions that ports point to */

struct tsess {
	struct reg_session s;
	uint64_t magic;
};

struct tport {
	struct reg_port p;
	uint64_t magic;
};

static atomic_ulong n_alloc, n_freed;

static struct tsess *sess_new(const char *name)
{
	struct tsess *t = calloc(1, sizeof(*t));

	if (!t)	/* also called from the writer thread: no CUnit there */
		abort();
	snprintf(t->s.name, sizeof(t->s.name), "%s", name);
	t->magic = SESS_MAGIC;
	atomic_fetch_add(&n_alloc, 1);
	return t;
}

static struct tport *port_new(uint16_t port, struct tsess *owner)
{
	struct tport *t = calloc(1, sizeof(*t));

	if (!t)
		abort();
	t->p.port = port;
	t->p.sess = owner ? &owner->s : NULL;
	t->p.lio = NULL;
	t->magic = PORT_MAGIC;
	atomic_fetch_add(&n_alloc, 1);
	return t;
}

/* reg_destroy waits for the tables' resize worker, whose grace period
 * needs this QSBR thread quiescent: destroy offline (online, the two wait
 * for each other whenever a resize is still pending). */
static void reg_destroy_offline(struct reg *r)
{
	rcu_thread_offline();
	reg_destroy(r);
	rcu_thread_online();
}

static void sess_free_rcu(struct rcu_head *h)
{
	struct tsess *t = caa_container_of(h, struct tsess, s.rcu);

	t->magic = POISON;
	memset(t->s.name, 'X', sizeof(t->s.name) - 1);
	atomic_fetch_add(&n_freed, 1);
	free(t);
}

static void port_free_rcu(struct rcu_head *h)
{
	struct tport *t = caa_container_of(h, struct tport, p.rcu);

	t->magic = POISON;
	t->p.port = 0;
	t->p.sess = NULL;
	atomic_fetch_add(&n_freed, 1);
	free(t);
}

static struct tsess *tsess_of(struct reg_session *s)
{
	return s ? caa_container_of(s, struct tsess, s) : NULL;
}

static struct tport *tport_of(struct reg_port *p)
{
	return p ? caa_container_of(p, struct tport, p) : NULL;
}

/* ---- single-threaded ---- */

static void test_sessions(void)
{
	static const char *const names[] = {
		"pi-home", "pi", "pi-home2", "a", "b", "",
		"x123456789012345678901234567890123456789012345678901234567890ab",	/* 63 */
	};
	struct tsess *s[ARRAY_LEN(names)], *dup, *repl, *repl2;
	struct reg_session *cur = NULL;
	struct reg *r = reg_create();

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	rcu_read_lock();
	CU_ASSERT_EQUAL(reg_session_count(r), 0);
	CU_ASSERT_PTR_NULL(reg_session_lookup(r, "pi-home"));
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		s[i] = sess_new(names[i]);
		CU_ASSERT_EQUAL(reg_session_add(r, &s[i]->s, &cur), 0);
		CU_ASSERT_EQUAL(reg_session_count(r), i + 1);
	}
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		CU_ASSERT_PTR_EQUAL(reg_session_lookup(r, names[i]), &s[i]->s);
	CU_ASSERT_PTR_NULL(reg_session_lookup(r, "pi-hom"));
	CU_ASSERT_PTR_NULL(reg_session_lookup(r, "PI-HOME"));

	/* A second session under a taken name: -EEXIST and the holder. */
	dup = sess_new("pi-home");
	cur = NULL;
	CU_ASSERT_EQUAL(reg_session_add(r, &dup->s, &cur), -EEXIST);
	CU_ASSERT_PTR_EQUAL(cur, &s[0]->s);
	CU_ASSERT_EQUAL(reg_session_add(r, &dup->s, NULL), -EEXIST);
	CU_ASSERT_EQUAL(reg_session_count(r), ARRAY_LEN(names));
	CU_ASSERT_PTR_EQUAL(reg_session_lookup(r, "pi-home"), &s[0]->s);

	/* Replace: the newer session of the same agent takes over. */
	repl = dup;
	CU_ASSERT_EQUAL(reg_session_replace(r, &s[0]->s, &repl->s), 0);
	CU_ASSERT_PTR_EQUAL(reg_session_lookup(r, "pi-home"), &repl->s);
	CU_ASSERT_EQUAL(reg_session_count(r), ARRAY_LEN(names));
	/* The replaced one is no longer the entry: replace and del miss. */
	repl2 = sess_new("pi-home");
	CU_ASSERT_EQUAL(reg_session_replace(r, &s[0]->s, &repl2->s), -ENOENT);
	reg_session_del(r, &s[0]->s);
	CU_ASSERT_PTR_EQUAL(reg_session_lookup(r, "pi-home"), &repl->s);
	CU_ASSERT_EQUAL(reg_session_count(r), ARRAY_LEN(names));
	/* Replace of a session that was never added: -ENOENT. */
	{
		struct tsess *ghost = sess_new("ghost");

		CU_ASSERT_EQUAL(reg_session_replace(r, &ghost->s, &repl2->s), -ENOENT);
		CU_ASSERT_PTR_NULL(reg_session_lookup(r, "ghost"));
		rcu_read_unlock();
		free(ghost);
		atomic_fetch_add(&n_freed, 1);
		rcu_read_lock();
	}

	/* Delete all; each disappears alone. */
	reg_session_del(r, &repl->s);
	CU_ASSERT_PTR_NULL(reg_session_lookup(r, "pi-home"));
	CU_ASSERT_EQUAL(reg_session_count(r), ARRAY_LEN(names) - 1);
	for (size_t i = 1; i < ARRAY_LEN(names); i++) {
		reg_session_del(r, &s[i]->s);
		CU_ASSERT_PTR_NULL(reg_session_lookup(r, names[i]));
		for (size_t j = i + 1; j < ARRAY_LEN(names); j++)
			CU_ASSERT_PTR_EQUAL(reg_session_lookup(r, names[j]), &s[j]->s);
	}
	CU_ASSERT_EQUAL(reg_session_count(r), 0);
	/* The name is free again. */
	CU_ASSERT_EQUAL(reg_session_add(r, &repl2->s, NULL), 0);
	CU_ASSERT_PTR_EQUAL(reg_session_lookup(r, "pi-home"), &repl2->s);
	reg_session_del(r, &repl2->s);
	rcu_read_unlock();

	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		call_rcu(&s[i]->s.rcu, sess_free_rcu);
	call_rcu(&repl->s.rcu, sess_free_rcu);
	call_rcu(&repl2->s.rcu, sess_free_rcu);
	rcu_barrier();
	reg_destroy_offline(r);
}

static void test_ports(void)
{
	static const uint16_t ports[] = { 1, 22, 2222, 2223, 8080, 65535 };
	struct tsess *owner = sess_new("owner");
	struct tport *p[ARRAY_LEN(ports)], *dup, *stale;
	struct reg_port *cur = NULL;
	struct reg *r = reg_create();

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	rcu_read_lock();
	CU_ASSERT_EQUAL(reg_port_count(r), 0);
	for (size_t i = 0; i < ARRAY_LEN(ports); i++) {
		p[i] = port_new(ports[i], owner);
		CU_ASSERT_EQUAL(reg_port_add(r, &p[i]->p, &cur), 0);
	}
	CU_ASSERT_EQUAL(reg_port_count(r), ARRAY_LEN(ports));
	for (size_t i = 0; i < ARRAY_LEN(ports); i++) {
		struct reg_port *got = reg_port_lookup(r, ports[i]);

		CU_ASSERT_PTR_EQUAL(got, &p[i]->p);
		CU_ASSERT_EQUAL(got ? got->port : 0, ports[i]);
	}
	CU_ASSERT_PTR_NULL(reg_port_lookup(r, 0));
	CU_ASSERT_PTR_NULL(reg_port_lookup(r, 2));
	CU_ASSERT_PTR_NULL(reg_port_lookup(r, 2224));
	CU_ASSERT_PTR_NULL(reg_port_lookup(r, 65534));

	dup = port_new(2222, owner);
	CU_ASSERT_EQUAL(reg_port_add(r, &dup->p, &cur), -EEXIST);
	CU_ASSERT_PTR_EQUAL(cur, &p[2]->p);
	CU_ASSERT_EQUAL(reg_port_add(r, &dup->p, NULL), -EEXIST);
	CU_ASSERT_EQUAL(reg_port_count(r), ARRAY_LEN(ports));

	CU_ASSERT_EQUAL(reg_port_replace(r, &p[2]->p, &dup->p), 0);
	CU_ASSERT_PTR_EQUAL(reg_port_lookup(r, 2222), &dup->p);
	CU_ASSERT_EQUAL(reg_port_count(r), ARRAY_LEN(ports));
	stale = port_new(2222, owner);
	CU_ASSERT_EQUAL(reg_port_replace(r, &p[2]->p, &stale->p), -ENOENT);
	reg_port_del(r, &p[2]->p);	/* already replaced: no effect */
	CU_ASSERT_PTR_EQUAL(reg_port_lookup(r, 2222), &dup->p);
	/* Neighbours untouched. */
	CU_ASSERT_PTR_EQUAL(reg_port_lookup(r, 2223), &p[3]->p);

	reg_port_del(r, &dup->p);
	CU_ASSERT_PTR_NULL(reg_port_lookup(r, 2222));
	CU_ASSERT_EQUAL(reg_port_count(r), ARRAY_LEN(ports) - 1);
	for (size_t i = 0; i < ARRAY_LEN(ports); i++)
		if (i != 2)
			reg_port_del(r, &p[i]->p);
	CU_ASSERT_EQUAL(reg_port_count(r), 0);
	for (size_t i = 0; i < ARRAY_LEN(ports); i++)
		CU_ASSERT_PTR_NULL(reg_port_lookup(r, ports[i]));
	rcu_read_unlock();

	for (size_t i = 0; i < ARRAY_LEN(ports); i++)
		call_rcu(&p[i]->p.rcu, port_free_rcu);
	call_rcu(&dup->p.rcu, port_free_rcu);
	call_rcu(&stale->p.rcu, port_free_rcu);
	call_rcu(&owner->s.rcu, sess_free_rcu);
	rcu_barrier();
	reg_destroy_offline(r);
}

/* Every port number: the tables grow (auto resize) and shrink back. */
static void test_all_ports(void)
{
	struct reg *r = reg_create();
	struct tport **p = calloc(65536, sizeof(*p));

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	rcu_read_lock();
	for (unsigned i = 1; i < 65536; i++) {
		p[i] = port_new((uint16_t)i, NULL);
		CU_ASSERT_EQUAL(reg_port_add(r, &p[i]->p, NULL), 0);
	}
	CU_ASSERT_EQUAL(reg_port_count(r), 65535);
	for (unsigned i = 1; i < 65536; i++)
		if (reg_port_lookup(r, (uint16_t)i) != &p[i]->p)
			CU_FAIL("lookup after bulk add");
	for (unsigned i = 1; i < 65536; i += 2)
		reg_port_del(r, &p[i]->p);
	CU_ASSERT_EQUAL(reg_port_count(r), 32767);
	for (unsigned i = 1; i < 65536; i++) {
		struct reg_port *got = reg_port_lookup(r, (uint16_t)i);

		if (got != (i & 1 ? NULL : &p[i]->p))
			CU_FAIL("lookup after deleting odd ports");
	}
	for (unsigned i = 2; i < 65536; i += 2)
		reg_port_del(r, &p[i]->p);
	CU_ASSERT_EQUAL(reg_port_count(r), 0);
	rcu_read_unlock();
	for (unsigned i = 1; i < 65536; i++)
		call_rcu(&p[i]->p.rcu, port_free_rcu);
	rcu_barrier();
	free(p);
	reg_destroy_offline(r);
}

/* ---- concurrency ---- */

struct conc {
	struct reg *r;
	atomic_bool stop;
	struct tsess *owners[NOWNERS];
	/* counters */
	atomic_ulong lookups, hits, misses, errors, sess_hits;
	unsigned long writer_ops, adds, replaces, dels;
};

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545F4914F6CDD1Dull;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool owner_ok(struct conc *c, const struct reg_session *s)
{
	const struct tsess *t;

	if (!s)
		return false;
	t = caa_container_of(s, struct tsess, s);
	if (t->magic != SESS_MAGIC)
		return false;
	for (int i = 0; i < NOWNERS; i++)
		if (c->owners[i] == t)
			return true;
	return false;
}

static void *reader(void *arg)
{
	struct conc *c = arg;
	uint64_t x = (uint64_t)(uintptr_t)&x | 1;
	unsigned long lookups = 0, hits = 0, misses = 0, errors = 0, sess_hits = 0;
	char name[32];

	rcu_register_thread();
	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		for (int k = 0; k < 64; k++) {
			/* 10% of lookups are for ports the writer never adds. */
			uint16_t port = (uint16_t)(1 + rnd(&x) % (NPORTS + NPORTS / 10));
			struct reg_port *p;
			struct reg_session *s;
			int n = (int)(rnd(&x) % NCHURN);

			rcu_read_lock();
			p = reg_port_lookup(c->r, port);
			if (p) {
				struct tport *t = tport_of(p);

				hits++;
				if (t->magic != PORT_MAGIC || p->port != port || port > NPORTS ||
				    !owner_ok(c, p->sess))
					errors++;
			} else {
				misses++;
			}
			snprintf(name, sizeof(name), "churn-%d", n);
			s = reg_session_lookup(c->r, name);
			if (s) {
				sess_hits++;
				if (tsess_of(s)->magic != SESS_MAGIC || strcmp(s->name, name) != 0)
					errors++;
			}
			rcu_read_unlock();
			lookups++;
		}
		/* QSBR: pointers from the lookups above are dead now. */
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	atomic_fetch_add(&c->lookups, lookups);
	atomic_fetch_add(&c->hits, hits);
	atomic_fetch_add(&c->misses, misses);
	atomic_fetch_add(&c->errors, errors);
	atomic_fetch_add(&c->sess_hits, sess_hits);
	return NULL;
}

static void *writer(void *arg)
{
	struct conc *c = arg;
	struct tport *cur[NPORTS + 1] = { NULL };
	struct tsess *sess[NCHURN] = { NULL };
	uint64_t x = 0x9e3779b97f4a7c15ull, end = now_ns() + 1000000000u;
	char name[32];
	unsigned long bad = 0;

	rcu_register_thread();
	while (c->writer_ops < 5000000 && ((c->writer_ops & 255) || now_ns() < end)) {
		uint16_t port = (uint16_t)(1 + rnd(&x) % NPORTS);
		struct tsess *owner = c->owners[rnd(&x) % NOWNERS];
		unsigned op = (unsigned)(rnd(&x) % 4);
		struct tport *old = cur[port], *nw;

		c->writer_ops++;
		if (!old) {
			nw = port_new(port, owner);
			rcu_read_lock();
			if (reg_port_add(c->r, &nw->p, NULL) != 0)
				bad++;
			rcu_read_unlock();
			cur[port] = nw;
			c->adds++;
		} else if (op == 0) {
			nw = port_new(port, owner);
			rcu_read_lock();
			if (reg_port_replace(c->r, &old->p, &nw->p) != 0)
				bad++;
			rcu_read_unlock();
			cur[port] = nw;
			call_rcu(&old->p.rcu, port_free_rcu);
			c->replaces++;
		} else if (op == 1) {
			rcu_read_lock();
			reg_port_del(c->r, &old->p);
			rcu_read_unlock();
			cur[port] = NULL;
			call_rcu(&old->p.rcu, port_free_rcu);
			c->dels++;
		} else {
			/* The writer's own view must match the table. */
			rcu_read_lock();
			if (reg_port_lookup(c->r, port) != &old->p)
				bad++;
			rcu_read_unlock();
		}
		/* Session churn: add, replace or remove one name. */
		if ((c->writer_ops & 7) == 0) {
			int n = (int)(rnd(&x) % NCHURN);
			struct tsess *o = sess[n], *s;

			snprintf(name, sizeof(name), "churn-%d", n);
			rcu_read_lock();
			if (!o) {
				s = sess_new(name);
				if (reg_session_add(c->r, &s->s, NULL) != 0)
					bad++;
				sess[n] = s;
			} else if (rnd(&x) & 1) {
				s = sess_new(name);
				if (reg_session_replace(c->r, &o->s, &s->s) != 0)
					bad++;
				sess[n] = s;
			} else {
				reg_session_del(c->r, &o->s);
				sess[n] = NULL;
			}
			rcu_read_unlock();
			if (o)
				call_rcu(&o->s.rcu, sess_free_rcu);
		}
		rcu_quiescent_state();
	}
	/* Readers are still running while the writer empties the tables. */
	for (unsigned p = 1; p <= NPORTS; p++) {
		if (!cur[p])
			continue;
		rcu_read_lock();
		reg_port_del(c->r, &cur[p]->p);
		rcu_read_unlock();
		call_rcu(&cur[p]->p.rcu, port_free_rcu);
	}
	for (int n = 0; n < NCHURN; n++) {
		if (!sess[n])
			continue;
		rcu_read_lock();
		reg_session_del(c->r, &sess[n]->s);
		rcu_read_unlock();
		call_rcu(&sess[n]->s.rcu, sess_free_rcu);
	}
	rcu_unregister_thread();
	atomic_fetch_add(&c->errors, bad);
	return NULL;
}

static void test_concurrent(void)
{
	struct conc *c = calloc(1, sizeof(*c));
	pthread_t rd[NREADERS], wr;
	unsigned long alloc0 = atomic_load(&n_alloc), freed0 = atomic_load(&n_freed);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	c->r = reg_create();
	CU_ASSERT_PTR_NOT_NULL_FATAL(c->r);
	for (int i = 0; i < NOWNERS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "owner-%d", i);
		c->owners[i] = sess_new(name);
	}
	for (int i = 0; i < NREADERS; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&rd[i], NULL, reader, c), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&wr, NULL, writer, c), 0);
	/* QSBR: a registered thread that waits must be offline, or no grace
	 * period ends while it does. */
	rcu_thread_offline();
	pthread_join(wr, NULL);
	/* Grace periods ended while the readers ran (they announce their
	 * quiescent states), so frees raced their lookups: what the poison
	 * check needs to mean something. */
	for (int i = 0; i < 200 && atomic_load(&n_freed) == freed0; i++)
		usleep(10000);
	CU_ASSERT(atomic_load(&n_freed) > freed0);
	atomic_store(&c->stop, true);
	for (int i = 0; i < NREADERS; i++)
		pthread_join(rd[i], NULL);
	rcu_thread_online();

	rcu_read_lock();
	CU_ASSERT_EQUAL(reg_port_count(c->r), 0);
	CU_ASSERT_EQUAL(reg_session_count(c->r), 0);
	rcu_read_unlock();
	rcu_barrier();
	/* Every entry the writer made was freed through call_rcu. */
	CU_ASSERT_EQUAL(atomic_load(&n_alloc) - alloc0 - NOWNERS, atomic_load(&n_freed) - freed0);

	printf("\n    writer: %lu ops (%lu adds, %lu replaces, %lu dels); readers: %lu lookups, "
	       "%lu hits, %lu misses, %lu session hits; errors %lu\n",
	       c->writer_ops, c->adds, c->replaces, c->dels, atomic_load(&c->lookups),
	       atomic_load(&c->hits), atomic_load(&c->misses), atomic_load(&c->sess_hits),
	       atomic_load(&c->errors));
	CU_ASSERT_EQUAL(atomic_load(&c->errors), 0);
	CU_ASSERT(c->writer_ops > 1000);
	CU_ASSERT(c->replaces > 0 && c->dels > 0);
	CU_ASSERT(atomic_load(&c->lookups) > 1000);
	CU_ASSERT(atomic_load(&c->hits) > 0);
	CU_ASSERT(atomic_load(&c->misses) > 0);
	CU_ASSERT(atomic_load(&c->sess_hits) > 0);

	reg_destroy_offline(c->r);
	for (int i = 0; i < NOWNERS; i++)
		free(c->owners[i]);
	free(c);
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "sessions add/lookup/replace/del", test_sessions },
		{ "ports add/lookup/replace/del", test_ports },
		{ "all 65535 ports", test_all_ports },
		{ "4 readers vs 1 writer, call_rcu frees", test_concurrent },
	};
	int rc;

	rcu_register_thread();
	rc = cu_run("registry", tests, ARRAY_LEN(tests));
	rcu_unregister_thread();
	return rc;
}
