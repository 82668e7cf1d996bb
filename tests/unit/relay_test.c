/* The relay's core (engine, tunnels, public connections, workers) driven
 * through an in-memory backend (relay_harness.c), with real TLS and the
 * real protocol at the agents' ends and time as an input: HELLO and
 * authentication, port claims and their refusals, streams (open, data,
 * half-close, reset), a tunnel dying with streams open, drain, deadlines
 * and keepalive, the unauthenticated cap, and that sessions, streams and
 * ports are released. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cu_run.h"
#include "engine.h"
#include "relay_harness.h"
#include "srcaddr.h"
#include "tunnel-t.h"
#include "worker.h"

#define TOK_PI "fyt_pi-home-token-0123456789"
#define TOK_B "fyt_b-token-0123456789"
#define TOK_CAP "fyt_capped-token-0123456789"

static const struct h_token tokens[] = {
	{ TOK_PI, { .id = "pi", .agents = "pi,pi2", .ports = "2200-2299" } },
	{ TOK_B, { .id = "b", .agents = "b", .ports = "2200-2299,3000" } },
	{ TOK_CAP, { .id = "cap", .agents = "cap", .ports = "4000-4999", .max_ports = 2 } },
};

static void setup(void (*cfg_fn)(struct relay_cfg *c))
{
	h_init(tokens, ARRAY_LEN(tokens), cfg_fn);
}

/* An agent session of H_WORKERS tunnels, as ferry-agent opens it. */
static struct tagent *session(const char *token, const char *name, uint64_t id,
			      struct tagent **others)
{
	struct tagent *t0 = h_agent(0, token, name, 0, id);

	CU_ASSERT_TRUE_FATAL(t0->welcomed);
	for (uint32_t i = 1; i < H_WORKERS; i++) {
		struct tagent *ti = h_agent(i % H_WORKERS, token, name, i, id);

		CU_ASSERT_TRUE(ti->welcomed);
		if (others)
			others[i - 1] = ti;
	}
	return t0;
}

static unsigned tunnels_on(unsigned w)
{
	return (unsigned)fy_sess_count(&H.r.workers[w].tunnels);
}

static unsigned streams_total(void)
{
	size_t n = 0;

	for (unsigned w = 0; w < H.r.nworkers; w++)
		n += fy_sess_count(&H.r.workers[w].streams);
	return (unsigned)n;
}

static bool listening_anywhere(uint16_t port)
{
	for (unsigned w = 0; w < H_WORKERS; w++)
		if (H.listening[w][port])
			return true;
	return false;
}

/* ---- authentication ---- */

static void test_hello_good(void)
{
	struct tagent *t1, *t0;

	setup(NULL);
	t0 = session(TOK_PI, "pi", 42, &t1);
	CU_ASSERT_EQUAL(t0->welcome.workers, H_WORKERS);
	CU_ASSERT_EQUAL(t0->welcome.window, 65536);
	CU_ASSERT_EQUAL(t0->welcome.tunnel_index, 0);
	CU_ASSERT_EQUAL(t1->welcome.tunnel_index, 1);
	/* Every worker holds one tunnel of the session. */
	CU_ASSERT_EQUAL(tunnels_on(0), 1);
	CU_ASSERT_EQUAL(tunnels_on(1), 1);
	CU_ASSERT_EQUAL(reg_session_count(H.r.reg), 1);
	CU_ASSERT_EQUAL(atomic_load(&H.r.unauth), 0);
	/* No name: the token's first agent. */
	h_fini();
	setup(NULL);
	t0 = h_agent(0, TOK_PI, "", 0, 7);
	CU_ASSERT_TRUE(t0->welcomed);
	rcu_read_lock();
	CU_ASSERT_PTR_NOT_NULL(reg_session_lookup(H.r.reg, "pi"));
	rcu_read_unlock();
	h_fini();
}

static void test_hello_refused(void)
{
	static const struct {
		const char *token, *name;
		uint16_t ver;
		uint32_t index;
		uint32_t code;
		const char *msg;
	} v[] = {
		{ "fyt_wrong", "pi", FY_PROTO_VERSION, 0, FY_E_AUTH, "token not accepted" },
		{ TOK_PI, "b", FY_PROTO_VERSION, 0, FY_E_DENIED,
		  "token may not act as agent 'b' (allowed: pi,pi2)" },
		{ TOK_PI, "pi", FY_PROTO_VERSION + 1, 0, FY_E_VERSION,
		  "protocol version mismatch: relay speaks 1-1, agent speaks 2-2" },
		{ TOK_PI, "pi", FY_PROTO_VERSION, H_WORKERS, FY_E_PROTOCOL,
		  "tunnel index 2 out of range (relay has 2 workers)" },
		{ TOK_PI, "pi", FY_PROTO_VERSION, 1, FY_E_PROTOCOL,
		  "tunnel 1 names no live session of agent 'pi'" },
	};

	setup(NULL);
	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		struct fy_hello h = {
			.ver_min = v[i].ver, .ver_max = v[i].ver,
			.tunnel_index = v[i].index, .session = 100 + i,
		};
		struct tagent *a;

		snprintf(h.token, sizeof(h.token), "%s", v[i].token);
		snprintf(h.name, sizeof(h.name), "%s", v[i].name);
		a = h_agent_hello(0, &h, NULL, 0);
		CU_ASSERT_FALSE(a->welcomed);
		CU_ASSERT_EQUAL(a->error_code, v[i].code);
		if (!strstr(a->error_msg, v[i].msg))
			fprintf(stderr, "\n  case %zu: '%s'\n", i, a->error_msg);
		CU_ASSERT_PTR_NOT_NULL(strstr(a->error_msg, v[i].msg));
		CU_ASSERT_TRUE(a->c->closed);
	}
	CU_ASSERT_EQUAL(atomic_load(&H.r.unauth), 0);
	CU_ASSERT_EQUAL(reg_session_count(H.r.reg), 0);
	/* Bad tokens, names and protocol errors count; a version does not. */
	CU_ASSERT_EQUAL(atomic_load(&H.r.ctr.auth_failed), 4);
	h_fini();
}

/* Anything but a HELLO first ends the connection before authentication. */
static void test_frame_before_hello(void)
{
	struct fy_hello h = { 0 };
	uint8_t f[FY_FRAME_HDR_LEN + 8];
	struct tagent *a;

	setup(NULL);
	a = h_agent_hello(0, &h, f, fy_frame_ping(f, 0, 1));
	CU_ASSERT_FALSE(a->welcomed);
	CU_ASSERT_EQUAL(a->error_code, FY_E_PROTOCOL);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->error_msg, "frame type 0x20 before authentication"));
	CU_ASSERT_TRUE(a->c->closed);
	CU_ASSERT_EQUAL(atomic_load(&H.r.unauth), 0);
	h_fini();
}

static void test_duplicate_name(void)
{
	struct tagent *a, *b;

	setup(NULL);
	a = session(TOK_PI, "pi", 1, NULL);
	b = h_agent(1, TOK_PI, "pi", 0, 2);
	CU_ASSERT_FALSE(b->welcomed);
	CU_ASSERT_EQUAL(b->error_code, FY_E_IN_USE);
	CU_ASSERT_PTR_NOT_NULL(strstr(b->error_msg, "agent 'pi' is already connected"));
	/* The first one is untouched, and a name the token also allows works. */
	CU_ASSERT_FALSE(a->c->closed);
	CU_ASSERT_TRUE(h_agent(1, TOK_PI, "pi2", 0, 3)->welcomed);
	h_fini();
}

/* ---- ports ---- */

static void test_register(void)
{
	struct tagent *a, *b, *c;

	setup(NULL);
	a = session(TOK_PI, "pi", 1, NULL);
	h_register(a, 2201);
	CU_ASSERT_EQUAL_FATAL(a->nresults, 1);
	CU_ASSERT_EQUAL(a->results[0].code, FY_E_OK);
	/* Every worker listens (the claim's own, the others by message). */
	CU_ASSERT_TRUE(H.listening[0][2201]);
	CU_ASSERT_TRUE(H.listening[1][2201]);
	/* Outside the token's ranges. */
	h_register(a, 3000);
	CU_ASSERT_EQUAL(a->results[1].code, FY_E_DENIED);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->results[1].msg, "token not allowed to claim port 3000 "
				      "(allowed: 2200-2299)"));
	/* Another agent cannot take a held port. */
	b = session(TOK_B, "b", 2, NULL);
	h_register(b, 2201);
	CU_ASSERT_EQUAL(b->results[0].code, FY_E_IN_USE);
	CU_ASSERT_PTR_NOT_NULL(strstr(b->results[0].msg, "port 2201 is held by agent 'pi'"));
	/* The OS refuses: busy, or out of descriptors (may pass: retried). */
	H.listen_error = -EADDRINUSE;
	h_register(b, 2250);
	CU_ASSERT_EQUAL(b->results[1].code, FY_E_IN_USE);
	H.listen_error = -EMFILE;
	h_register(b, 2251);
	CU_ASSERT_EQUAL(b->results[2].code, FY_E_LIMIT);
	CU_ASSERT_FALSE(listening_anywhere(2250) || listening_anywhere(2251));
	/* The port cap of a token (maxports=2). */
	c = session(TOK_CAP, "cap", 3, NULL);
	h_register(c, 4001);
	h_register(c, 4002);
	h_register(c, 4001);	/* a repeat costs nothing */
	h_register(c, 4003);
	CU_ASSERT_EQUAL_FATAL(c->nresults, 4);
	CU_ASSERT_EQUAL(c->results[0].code, FY_E_OK);
	CU_ASSERT_EQUAL(c->results[1].code, FY_E_OK);
	CU_ASSERT_EQUAL(c->results[2].code, FY_E_OK);
	CU_ASSERT_EQUAL(c->results[3].code, FY_E_DENIED);
	CU_ASSERT_PTR_NOT_NULL(strstr(c->results[3].msg, "agent 'cap' holds 2 ports, the most it "
				      "may (maxports of its token)"));
	CU_ASSERT_FALSE(listening_anywhere(4003));
	CU_ASSERT_EQUAL(atomic_load(&H.r.ctr.port_limit), 1);
	CU_ASSERT_EQUAL(reg_port_count(H.r.reg), 3);
	h_fini();
}

/* ---- streams ---- */

static void test_stream(void)
{
	struct tagent *a;
	struct mconn *cl[H_WORKERS];
	char buf[64];

	setup(NULL);
	a = session(TOK_PI, "pi", 1, NULL);
	h_register(a, 2202);
	/* A client on each worker: both carried, each on its worker's tunnel. */
	for (unsigned w = 0; w < H_WORKERS; w++) {
		struct tagent *aw;
		struct tstream *t;
		uint16_t cport = (uint16_t)(50000 + w);

		cl[w] = h_client(w, 2202, "198.51.100.7", cport);
		CU_ASSERT_PTR_NOT_NULL_FATAL(cl[w]);
		/* The stream arrives on the tunnel of that worker. */
		t = NULL;
		for (aw = H.agents; aw && !t; aw = aw->next)
			if (!strcmp(aw->hello.name, "pi"))
				t = h_stream_for(aw, cport);
		CU_ASSERT_PTR_NOT_NULL_FATAL(t);
		CU_ASSERT_EQUAL(t->open.port, 2202);
		CU_ASSERT_EQUAL(t->open.peer_addr[10], 0xff);
		CU_ASSERT_EQUAL(t->open.peer_addr[12], 198);
		CU_ASSERT_EQUAL(t->open.peer_addr[15], 7);
		/* client -> agent */
		h_far_write(cl[w], "hello", 5);
		CU_ASSERT_EQUAL(fy_buf_len(&t->rx), 5);
		CU_ASSERT_EQUAL(memcmp(fy_buf_peek(&t->rx), "hello", 5), 0);
		/* agent -> client, then half-close each way */
		for (aw = H.agents; aw; aw = aw->next)
			if (h_stream_for(aw, cport) == t)
				break;
		h_agent_send(aw, t, "world", 5, true);
		CU_ASSERT_EQUAL(h_far_read(cl[w], buf, sizeof(buf)), 5);
		CU_ASSERT_EQUAL(memcmp(buf, "world", 5), 0);
		CU_ASSERT_TRUE(cl[w]->relay_eof);	/* the agent's FIN */
		CU_ASSERT_FALSE(cl[w]->closed);		/* our direction is open */
		h_far_write(cl[w], "more", 4);
		CU_ASSERT_EQUAL(fy_buf_len(&t->rx), 9);
		h_far_shut(cl[w]);
		CU_ASSERT_TRUE(t->fin);
		/* Both directions ended and everything delivered: a clean close. */
		CU_ASSERT_TRUE(cl[w]->closed);
		CU_ASSERT_FALSE(cl[w]->rst);
	}
	CU_ASSERT_EQUAL(streams_total(), 0);
	h_fini();
}

static void test_reset_and_refusal(void)
{
	struct tagent *a;
	struct mconn *c;
	struct tstream *t;

	setup(NULL);
	a = session(TOK_PI, "pi", 1, NULL);
	h_register(a, 2203);
	/* The agent resets the stream: the client gets a reset. */
	c = h_client(0, 2203, "198.51.100.8", 51000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (struct tagent *x = H.agents; x; x = x->next)
		if ((t = h_stream_for(x, 51000)) != NULL) {
			h_agent_reset(x, t, FY_E_REFUSED, "connect 127.0.0.1:22: refused");
			break;
		}
	CU_ASSERT_TRUE(c->closed);
	CU_ASSERT_TRUE(c->rst);
	/* The agent refuses the stream at once: the same. */
	for (struct tagent *x = H.agents; x; x = x->next)
		x->refuse_opens = true;
	c = h_client(1, 2203, "198.51.100.8", 51001);
	CU_ASSERT_TRUE(c->closed && c->rst);
	/* The client resets: the agent's stream is reset too. */
	for (struct tagent *x = H.agents; x; x = x->next)
		x->refuse_opens = false;
	c = h_client(0, 2203, "198.51.100.8", 51002);
	c->rst = true;
	h_run();
	for (struct tagent *x = H.agents; x; x = x->next)
		if ((t = h_stream_for(x, 51002)) != NULL)
			CU_ASSERT_NOT_EQUAL(t->reset_code, 0);
	/* A port nobody claims: nothing listens (connection refused). */
	CU_ASSERT_PTR_NULL(h_client(0, 2299, "198.51.100.8", 51003));
	CU_ASSERT_EQUAL(streams_total(), 0);
	h_fini();
}

/* A client accepted on a worker that holds no tunnel of its agent (only
 * tunnel 0 is up) is handed over to one that does, and served there. */
static void test_hand_off(void)
{
	struct tagent *a = NULL;
	struct mconn *c;
	struct tstream *t;
	char buf[16];
	unsigned other = 0;

	setup(NULL);
	a = h_agent(0, TOK_PI, "pi", 0, 77);
	CU_ASSERT_TRUE_FATAL(a->welcomed);
	h_register(a, 2207);
	for (unsigned w = 0; w < H_WORKERS; w++)
		if (!tunnels_on(w))
			other = w;
	CU_ASSERT_EQUAL_FATAL(tunnels_on(other), 0);
	c = h_client(other, 2207, "198.51.100.10", 54000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	t = h_stream_for(a, 54000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_PTR_NOT_EQUAL(c->w, &H.r.workers[other]);	/* re-attached there */
	h_far_write(c, "ping", 4);
	CU_ASSERT_EQUAL(fy_buf_len(&t->rx), 4);
	h_agent_send(a, t, "pong", 4, true);
	CU_ASSERT_EQUAL(h_far_read(c, buf, sizeof(buf)), 4);
	h_far_shut(c);
	CU_ASSERT_TRUE(c->closed && !c->rst);
	h_fini();
}

/* The agent's connection drops with streams open: every client is reset
 * (never a clean end), the session and its ports are gone everywhere, and
 * the name is free for the agent's next session. */
static void test_tunnel_dies(void)
{
	struct tagent *a;
	struct mconn *c[4];

	setup(NULL);
	a = session(TOK_PI, "pi", 1, NULL);
	h_register(a, 2204);
	h_register(a, 2205);
	for (unsigned i = 0; i < 4; i++) {
		c[i] = h_client(i % H_WORKERS, (uint16_t)(2204 + i % 2), "203.0.113.1",
				(uint16_t)(52000 + i));
		CU_ASSERT_PTR_NOT_NULL_FATAL(c[i]);
		h_far_write(c[i], "x", 1);
	}
	CU_ASSERT_EQUAL(streams_total(), 4);
	h_agent_gone(a, false);
	for (unsigned i = 0; i < 4; i++)
		CU_ASSERT_TRUE(c[i]->closed && c[i]->rst);
	CU_ASSERT_EQUAL(streams_total(), 0);
	CU_ASSERT_EQUAL(tunnels_on(0) + tunnels_on(1), 0);
	CU_ASSERT_FALSE(listening_anywhere(2204) || listening_anywhere(2205));
	CU_ASSERT_EQUAL(reg_session_count(H.r.reg), 0);
	CU_ASSERT_EQUAL(reg_port_count(H.r.reg), 0);
	/* Its next session gets the ports again. */
	a = session(TOK_PI, "pi", 2, NULL);
	h_register(a, 2204);
	CU_ASSERT_EQUAL(a->results[0].code, FY_E_OK);
	h_fini();
}

/* ---- time ---- */

static void hs_cfg(struct relay_cfg *c)
{
	c->handshake_ms = 2000;
	c->keepalive_ms = 1000;
}

static void test_deadlines(void)
{
	struct mconn *idle;
	struct tagent *a;

	setup(hs_cfg);
	/* TLS never starts: closed once the handshake deadline passes. */
	idle = h_connect_agent_port(0, "192.0.2.99", 1234, false);
	h_run();
	CU_ASSERT_EQUAL(atomic_load(&H.r.unauth), 1);
	h_advance(1900);
	CU_ASSERT_FALSE(idle->closed);
	h_advance(300);
	CU_ASSERT_TRUE(idle->closed);
	CU_ASSERT_EQUAL(atomic_load(&H.r.unauth), 0);
	/* An agent that stops answering: the relay pings every keepalive and
	 * gives up after 3 silent intervals. */
	a = session(TOK_PI, "pi", 1, NULL);
	for (struct tagent *x = H.agents; x; x = x->next)
		x->error_code = 0;
	h_advance(1500);
	CU_ASSERT_FALSE(a->c->closed);	/* the test agent answers pings */
	/* Now it freezes: nothing it receives is read or answered. */
	for (struct tagent *x = H.agents; x; x = x->next)
		if (x->link.mux) {
			x->error_code = FY_E_TIMEOUT;
			fy_mux_destroy(x->link.mux, "frozen");
			x->link.mux = NULL;
		}
	h_advance(2500);
	CU_ASSERT_FALSE(a->c->closed);
	h_advance(1000);
	CU_ASSERT_TRUE(a->c->closed);
	CU_ASSERT_EQUAL(reg_session_count(H.r.reg), 0);
	h_fini();
}

/* SIGTERM: no new agents or clients, GOAWAY, open streams may finish until
 * the deadline, then they are reset and the workers stop. */
static void drain_cfg(struct relay_cfg *c)
{
	c->drain_ms = 3000;
}

static void test_drain(void)
{
	struct tagent *a, *x;
	struct mconn *c;
	struct tstream *t = NULL;
	bool stop = false;

	setup(drain_cfg);
	a = session(TOK_PI, "pi", 1, NULL);
	h_register(a, 2206);
	c = h_client(0, 2206, "198.51.100.9", 53000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	atomic_store(&H.r.draining, true);
	h_advance(100);
	for (unsigned w = 0; w < H_WORKERS; w++)
		CU_ASSERT_TRUE(H.stopped_accepting[w]);
	CU_ASSERT_FALSE(listening_anywhere(2206));
	for (x = H.agents; x; x = x->next) {
		CU_ASSERT_TRUE(x->goaway);
		if (!t)
			t = h_stream_for(x, 53000);
		if (t)
			break;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	/* The open stream still carries bytes. */
	h_far_write(c, "late", 4);
	CU_ASSERT_EQUAL(fy_buf_len(&t->rx), 4);
	/* Past the deadline the workers may stop. */
	for (int i = 0; i < 40 && !stop; i++) {
		H.now += 100;
		for (unsigned w = 0; w < H_WORKERS; w++)
			stop |= worker_step(&H.r.workers[w], H.now);
	}
	CU_ASSERT_TRUE(stop);
	for (unsigned w = 0; w < H_WORKERS; w++)
		worker_finish(&H.r.workers[w]);
	CU_ASSERT_TRUE(c->closed && c->rst);
	atomic_store(&H.r.draining, false);
	h_fini();
}

/* ---- admission ---- */

static void unauth_cfg(struct relay_cfg *c)
{
	c->max_unauth = 4;
	c->max_unauth_per_ip = 3;
}

static void test_unauth_cap(void)
{
	struct mconn *idle[4], *more;
	struct tagent *a;

	setup(unauth_cfg);
	/* Per address: the fourth from one address is refused. */
	for (unsigned i = 0; i < 3; i++)
		idle[i] = h_connect_agent_port(0, "192.0.2.50", (uint16_t)(1000 + i), false);
	more = h_connect_agent_port(0, "192.0.2.50", 1100, false);
	CU_ASSERT_TRUE(more->closed && more->rst);
	/* The total: a newcomer evicts the oldest on its worker. */
	idle[3] = h_connect_agent_port(0, "192.0.2.51", 1003, false);
	CU_ASSERT_EQUAL(atomic_load(&H.r.unauth), 4);
	a = h_agent(0, TOK_PI, "pi", 0, 5);
	CU_ASSERT_TRUE(idle[0]->closed);
	CU_ASSERT_FALSE(idle[1]->closed);
	CU_ASSERT_TRUE(a->welcomed);
	CU_ASSERT_EQUAL(atomic_load(&H.r.ctr.unauth_evicted), 1);
	h_fini();
}

/* Ten failed logins from an address within a minute: it is refused at
 * accept for a while; other addresses are not. */
static void test_auth_tarpit(void)
{
	struct tagent *a;
	struct mconn *c;

	setup(NULL);
	for (unsigned i = 0; i < 10; i++) {
		a = h_agent(0, "fyt_wrong-guess", "pi", 0, 600 + i);
		CU_ASSERT_EQUAL(a->error_code, FY_E_AUTH);
	}
	c = h_connect_agent_port(0, "192.0.2.10", 2000, false);
	CU_ASSERT_TRUE(c->closed && c->rst);	/* before any TLS */
	CU_ASSERT_EQUAL(atomic_load(&H.r.ctr.auth_tarpit), 1);
	c = h_connect_agent_port(1, "192.0.2.11", 2001, false);
	CU_ASSERT_FALSE(c->closed);
	/* After the tarpit time the address may try again. */
	h_advance(AUTH_TARPIT_MS + 200);
	c = h_connect_agent_port(0, "192.0.2.10", 2002, false);
	CU_ASSERT_FALSE(c->closed);
	h_fini();
}

/* A newcomer when descriptors run low replaces the oldest unauthenticated
 * connection even below the cap. */
static void test_fd_low(void)
{
	struct mconn *old, *mid, *newer;

	setup(NULL);
	old = h_connect_agent_port(0, "192.0.2.60", 1, false);
	mid = h_connect_agent_port(0, "192.0.2.61", 2, false);
	newer = h_connect_agent_port(0, "192.0.2.62", 3, true);
	CU_ASSERT_TRUE(old->closed);
	CU_ASSERT_FALSE(mid->closed || newer->closed);
	CU_ASSERT_EQUAL(atomic_load(&H.r.unauth), 2);
	h_fini();
}

/* The source address table: exact keys, holds and releases, failures and
 * their refusal, slots given back by the sweep, untracked beyond its
 * probes. */
static void test_srcaddr(void)
{
	static struct src_table t;
	struct sockaddr_storage a = { 0 }, b = { 0 };
	struct sockaddr_in *a4 = (struct sockaddr_in *)&a, *b4 = (struct sockaddr_in *)&b;
	uint64_t ka, kb, now = 1000000;
	unsigned n;
	int sa, sb;

	src_init(&t, 42);
	a4->sin_family = b4->sin_family = AF_INET;
	a4->sin_addr.s_addr = htonl(0x7f000001);
	b4->sin_addr.s_addr = htonl(0x7f00015b);	/* 127.0.1.91: shared a bucket before */
	ka = src_key(&t, &a);
	kb = src_key(&t, &b);
	CU_ASSERT_NOT_EQUAL(ka, kb);
	sa = src_hold(&t, ka, &n);
	CU_ASSERT(sa >= 0 && n == 1);
	CU_ASSERT_EQUAL(src_hold(&t, ka, &n), sa);
	CU_ASSERT_EQUAL(n, 2);
	sb = src_hold(&t, kb, &n);
	CU_ASSERT(sb >= 0 && sb != sa && n == 1);
	/* Ten failures from b refuse b, not a. */
	for (int i = 1; i < AUTH_FAIL_BURST; i++)
		CU_ASSERT_FALSE(src_failed(&t, sb, now));
	CU_ASSERT_TRUE(src_failed(&t, sb, now));
	CU_ASSERT_TRUE(src_refused(&t, kb, now + 1));
	CU_ASSERT_FALSE(src_refused(&t, ka, now + 1));
	CU_ASSERT_FALSE(src_refused(&t, kb, now + AUTH_TARPIT_MS));
	/* Held or refused slots stay; empty and expired ones go back. */
	src_release(&t, sb);
	src_sweep(&t, 0, SRC_SLOTS, now + 1000);
	CU_ASSERT_TRUE(src_refused(&t, kb, now + 1000));
	src_sweep(&t, 0, SRC_SLOTS, now + AUTH_FAIL_WINDOW_MS);
	CU_ASSERT_FALSE(src_refused(&t, kb, now + 1));	/* forgotten */
	CU_ASSERT_EQUAL(atomic_load(&t.slot[sb].key), 0);
	CU_ASSERT_NOT_EQUAL(atomic_load(&t.slot[sa].key), 0);	/* a still holds 2 */
	src_release(&t, sa);
	src_release(&t, sa);
	src_sweep(&t, 0, SRC_SLOTS, now + AUTH_FAIL_WINDOW_MS);
	CU_ASSERT_EQUAL(atomic_load(&t.slot[sa].key), 0);
	/* Keys whose probes all land on taken slots are not tracked. */
	for (unsigned i = 0; i < SRC_PROBES; i++)
		atomic_store(&t.slot[(ka + i) % SRC_SLOTS].key, ka + 1 + i * SRC_SLOTS);
	CU_ASSERT_EQUAL(src_hold(&t, ka, &n), -1);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(atomic_load(&t.untracked), 1);
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "HELLO and WELCOME", test_hello_good },
		{ "HELLO refused: token, name, version, index, session", test_hello_refused },
		{ "a frame before HELLO", test_frame_before_hello },
		{ "one session per name", test_duplicate_name },
		{ "REGISTER and its refusals", test_register },
		{ "stream: open, data, half-close, clean end", test_stream },
		{ "stream: resets both ways", test_reset_and_refusal },
		{ "a client handed to the worker of its tunnel", test_hand_off },
		{ "a tunnel dies with streams open", test_tunnel_dies },
		{ "handshake deadline and keepalive", test_deadlines },
		{ "drain", test_drain },
		{ "unauthenticated caps and eviction", test_unauth_cap },
		{ "failed logins: tarpit", test_auth_tarpit },
		{ "descriptors low: the oldest unauthenticated makes room", test_fd_low },
		{ "source address table", test_srcaddr },
	};
	int rc;

	rcu_register_thread();
	rc = cu_run("relay", tests, ARRAY_LEN(tests));
	rcu_unregister_thread();
	return rc;
}
