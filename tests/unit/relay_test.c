/* The relay's core (engine, tunnels, public connections, workers) driven
 * through an in-memory backend (relay_harness.c), with real TLS and the
 * real protocol at the agents' ends and time as an input: HELLO and
 * authentication, port claims and their refusals, streams (open, data,
 * half-close, reset), a tunnel dying with streams open, drain, deadlines
 * and keepalive, the unauthenticated cap, UDP ports and their flows, and
 * that sessions, streams, ports and flows are released; name claims (v3)
 * and the HTTP ingress routing a request to them. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cu_run.h"
#include "engine.h"
#include "ferry/addr.h"
#include "pubudp.h"
#include "relay_harness.h"
#include "srcaddr.h"
#include "tunnel-t.h"
#include "worker.h"

#define TOK_PI "fyt_pi-home-token-0123456789"
#define TOK_B "fyt_b-token-0123456789"
#define TOK_CAP "fyt_capped-token-0123456789"

static const struct h_token tokens[] = {
	{ TOK_PI, { .id = "pi", .agents = "pi,pi2", .ports = "2200-2299", .names = "web,pi-*" } },
	{ TOK_B, { .id = "b", .agents = "b", .ports = "2200-2299,3000", .names = "*" } },
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
		  "protocol version mismatch: relay speaks 1-3, agent speaks 4-4" },
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

/* ---- names (v3) and the HTTP ingress ---- */

static void cfg_http(struct relay_cfg *c)
{
	c->http_port = 8080;
	snprintf(c->http_bind, sizeof(c->http_bind), "127.0.0.1");
	snprintf(c->domain, sizeof(c->domain), "example.org");
	snprintf(c->http_prefix, sizeof(c->http_prefix), "/forward/");
	c->http_header_ms = 10000;
	c->http_max_header = 16384;
}

static void test_names_claim(void)
{
	struct tagent *a, *b;

	setup(cfg_http);
	CU_ASSERT_TRUE(H.listening[0][8080] && H.listening[1][8080]);
	a = session(TOK_PI, "pi", 1, NULL);
	h_register_name(a, 1, FY_NAME_HTTP, "web");
	h_register_name(a, 2, FY_NAME_HTTP, "pi-lab");
	h_register_name(a, 3, FY_NAME_HTTP, "api");
	h_register_name(a, 4, FY_NAME_TLS, "pi-tls");
	h_register(a, 8080);
	CU_ASSERT_EQUAL_FATAL(a->nresults, 5);
	CU_ASSERT_EQUAL(a->results[0].code, FY_E_OK);
	CU_ASSERT_EQUAL(a->results[1].code, FY_E_OK);
	CU_ASSERT_EQUAL(a->results[2].code, FY_E_DENIED);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->results[2].msg, "token not allowed to claim name 'api' "
				      "(allowed: web,pi-*)"));
	/* No --sni-listen or --https-listen: no TLS names. */
	CU_ASSERT_EQUAL(a->results[3].code, FY_E_UNSUPPORTED);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->results[3].msg, "serves no TLS names"));
	/* The ingress port is nobody's to claim. */
	CU_ASSERT_EQUAL(a->results[4].code, FY_E_IN_USE);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->results[4].msg, "HTTP/HTTPS/SNI ingress"));
	b = session(TOK_B, "b", 2, NULL);
	h_register_name(b, 1, FY_NAME_HTTP, "web");
	CU_ASSERT_EQUAL_FATAL(b->nresults, 1);
	CU_ASSERT_EQUAL(b->results[0].code, FY_E_IN_USE);
	CU_ASSERT_PTR_NOT_NULL(strstr(b->results[0].msg, "name 'web' is held by agent 'pi'"));
	CU_ASSERT_EQUAL(reg_name_count(H.r.reg), 2);
	h_fini();
}

/* The agent's tunnel that carries the stream of client port cport. */
static struct tstream *stream_of(struct tagent **ts, unsigned n, uint16_t cport,
				 struct tagent **owner)
{
	for (unsigned i = 0; i < n; i++) {
		struct tstream *t = h_stream_for(ts[i], cport);

		if (t) {
			*owner = ts[i];
			return t;
		}
	}
	return NULL;
}

static void test_names_route(void)
{
	static const char req[] = "GET /x HTTP/1.1\r\nHost: Web.Example.org:8080\r\n"
				  "X-Forwarded-For: 6.6.6.6\r\n\r\n";
	static const char want[] = "GET /x HTTP/1.1\r\nHost: Web.Example.org:8080\r\n"
				   "X-Forwarded-For: 198.51.100.9\r\nX-Forwarded-Proto: http\r\n"
				   "X-Forwarded-Host: Web.Example.org:8080\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct tagent *all[H_WORKERS], *owner = NULL, *a2;
	struct mconn *c;
	struct tstream *t;
	char buf[512];
	size_t n;

	setup(cfg_http);
	all[0] = session(TOK_PI, "pi", 1, &all[1]);
	h_register_name(all[0], 7, FY_NAME_HTTP, "web");
	CU_ASSERT_EQUAL_FATAL(all[0]->results[0].code, FY_E_OK);

	c = h_client(0, 8080, "198.51.100.9", 52000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	h_far_write(c, req, sizeof(req) - 1);
	t = stream_of(all, H_WORKERS, 52000, &owner);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_TRUE(t->open.named);
	CU_ASSERT_EQUAL(t->open.port, 7);	/* the agent's id for the claim */
	n = fy_buf_len(&t->rx);
	CU_ASSERT_EQUAL(n, sizeof(want) - 1);
	CU_ASSERT_EQUAL(memcmp(fy_buf_peek(&t->rx), want, n < sizeof(want) ? n : sizeof(want)), 0);
	h_agent_send(owner, t, resp, sizeof(resp) - 1, false);
	n = h_far_read(c, buf, sizeof(buf));
	CU_ASSERT_EQUAL(n, sizeof(resp) - 1);
	CU_ASSERT_EQUAL(memcmp(buf, resp, sizeof(resp) - 1), 0);
	CU_ASSERT_EQUAL(atomic_load(&H.r.ctr.http_requests), 1);

	/* A name nobody claimed: 404, no stream. */
	c = h_client(1, 8080, "198.51.100.9", 52001);
	{
		static const char req[] = "GET / HTTP/1.1\r\nHost: nosuch.example.org\r\n\r\n";

		h_far_write(c, req, sizeof(req) - 1);
	}
	n = h_far_read(c, buf, sizeof(buf) - 1);
	buf[n] = 0;
	CU_ASSERT_EQUAL(strncmp(buf, "HTTP/1.1 404 Not Found\r\n", 24), 0);
	CU_ASSERT_TRUE(c->relay_eof);
	CU_ASSERT_PTR_NULL(stream_of(all, H_WORKERS, 52001, &owner));

	/* The agent goes: its name answers 502 (not 404) ... */
	h_agent_gone(all[0], false);
	c = h_client(0, 8080, "198.51.100.9", 52002);
	{
		static const char req[] = "GET / HTTP/1.1\r\nHost: web.example.org\r\n\r\n";

		h_far_write(c, req, sizeof(req) - 1);
	}
	n = h_far_read(c, buf, sizeof(buf) - 1);
	buf[n] = 0;
	CU_ASSERT_EQUAL(strncmp(buf, "HTTP/1.1 502 Bad Gateway\r\n", 26), 0);
	/* ... until its next session takes the name over. */
	a2 = session(TOK_PI, "pi", 3, NULL);
	h_register_name(a2, 1, FY_NAME_HTTP, "web");
	CU_ASSERT_EQUAL_FATAL(a2->nresults, 1);
	CU_ASSERT_EQUAL(a2->results[0].code, FY_E_OK);
	CU_ASSERT_EQUAL(reg_name_count(H.r.reg), 1);
	h_fini();
	CU_ASSERT_EQUAL(atomic_load(&H.r.ctr.http_refused), 2);
}

/* How many times needle occurs in the n bytes at p. */
static unsigned occurrences(const uint8_t *p, size_t n, const char *needle)
{
	size_t nl = strlen(needle);
	unsigned k = 0;

	for (size_t i = 0; i + nl <= n; i++)
		if (!memcmp(p + i, needle, nl))
			k++;
	return k;
}

/* More pipelined requests in one write than the pump reads per event:
 * they sit in the ingress's input buffer, where no socket event will
 * come for them. Every one still reaches the agent. */
static void test_names_pipelined(void)
{
	static const char one[] = "GET /p HTTP/1.1\r\nHost: web.example.org\r\n\r\n";
	struct tagent *all[H_WORKERS], *owner = NULL;
	char req[sizeof(one) * 20];
	struct mconn *c;
	struct tstream *t;
	size_t n = 0;

	setup(cfg_http);
	all[0] = session(TOK_PI, "pi", 1, &all[1]);
	h_register_name(all[0], 7, FY_NAME_HTTP, "web");
	CU_ASSERT_EQUAL_FATAL(all[0]->results[0].code, FY_E_OK);
	for (int i = 0; i < 20; i++, n += sizeof(one) - 1)
		memcpy(req + n, one, sizeof(one) - 1);
	c = h_client(0, 8080, "198.51.100.9", 52010);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	h_far_write(c, req, n);
	t = stream_of(all, H_WORKERS, 52010, &owner);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(occurrences(fy_buf_peek(&t->rx), fy_buf_len(&t->rx), "GET /p "), 20);
	CU_ASSERT_EQUAL(atomic_load(&H.r.ctr.http_requests), 20);
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

/* At the cap, silent connections make room before one that sent a valid
 * ClientHello, even an older one: a flood turns the cap over faster than
 * a real agent's handshake. With none silent left, the oldest goes. */
static void test_unauth_tiers(void)
{
	struct mconn *talking, *idle[3], *next, *last;

	setup(unauth_cfg);
	talking = h_connect_client_hello(0, "192.0.2.70", 1);
	CU_ASSERT_FALSE(talking->closed);
	CU_ASSERT(fy_buf_len(&talking->to_far) > 0);	/* the relay answered: ServerHello */
	for (unsigned i = 0; i < 3; i++)
		idle[i] = h_connect_agent_port(0, "192.0.2.71", (uint16_t)(10 + i), false);
	CU_ASSERT_EQUAL(atomic_load(&H.r.unauth), 4);
	next = h_connect_agent_port(0, "192.0.2.72", 20, false);
	CU_ASSERT_TRUE(idle[0]->closed);
	CU_ASSERT_FALSE(talking->closed || idle[1]->closed || next->closed);
	/* Two more newcomers: the other two idle ones go, oldest first; then
	 * the oldest silent one left goes before the older talker. */
	h_connect_agent_port(0, "192.0.2.73", 21, false);
	h_connect_agent_port(0, "192.0.2.73", 22, false);
	CU_ASSERT_TRUE(idle[1]->closed && idle[2]->closed);
	CU_ASSERT_FALSE(talking->closed);
	last = h_connect_client_hello(0, "192.0.2.74", 2);
	CU_ASSERT_TRUE(next->closed);
	CU_ASSERT_FALSE(talking->closed || last->closed);
	CU_ASSERT_EQUAL(atomic_load(&H.r.unauth), 4);
	/* Two talkers and two silent ones: the silent ones go first. */
	h_connect_client_hello(0, "192.0.2.75", 3);
	h_connect_client_hello(0, "192.0.2.76", 4);
	CU_ASSERT_FALSE(talking->closed || last->closed);
	/* All four talk now: the oldest talker makes room. */
	h_connect_client_hello(0, "192.0.2.77", 5);
	CU_ASSERT_TRUE(talking->closed);
	CU_ASSERT_FALSE(last->closed);
	CU_ASSERT_EQUAL(atomic_load(&H.r.unauth), 4);
	CU_ASSERT_EQUAL(atomic_load(&H.r.ctr.unauth_evicted), 7);
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

/* ---- UDP ports ---- */

static unsigned long ctr(atomic_ulong *c)
{
	return atomic_load(c);
}

/* The worker that owns the claim of (udp, port), or NULL. */
static struct worker *claim_worker(bool udp, uint16_t port)
{
	struct worker *w = NULL;
	struct reg_port *p;

	rcu_read_lock();
	p = reg_port_find(H.r.reg, udp, port);
	if (p)
		w = p->owner_ctx;
	rcu_read_unlock();
	return w;
}

static size_t flows_total(void)
{
	size_t n = 0;

	for (unsigned w = 0; w < H.r.nworkers; w++)
		n += pubudp_count(&H.r.workers[w]);
	return n;
}

/* Whether OPEN o names addr:port as its peer (IPv4 as mapped IPv6). */
static bool open_names(const struct fy_open *o, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss = h_addr(addr, port);
	uint8_t want[16] = { 0 };

	if (ss.ss_family == AF_INET) {
		want[10] = want[11] = 0xff;
		memcpy(&want[12], &((struct sockaddr_in *)&ss)->sin_addr, 4);
	} else {
		memcpy(want, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	}
	return o->peer_port == port && memcmp(o->peer_addr, want, 16) == 0;
}

/* The latest stream a test agent got for the flow of addr:port, with its
 * agent in *ap: the newest agent's (H.agents is newest first), its last. */
static struct tstream *flow_stream(const char *addr, uint16_t port, struct tagent **ap)
{
	for (struct tagent *x = H.agents; x; x = x->next)
		for (unsigned i = x->nstreams; i-- > 0;)
			if (open_names(&x->ts[i].open, addr, port)) {
				if (ap)
					*ap = x;
				return &x->ts[i];
			}
	return NULL;
}

/* The datagram the relay sent last, if it went from port to addr:sport
 * and holds text. */
static bool sent_last(uint16_t port, const char *addr, uint16_t sport, const char *text)
{
	struct sockaddr_storage to = h_addr(addr, sport);
	const struct h_dgram *d;

	if (!H.nsent)
		return false;
	d = &H.sent[H.nsent - 1];
	return d->port == port && fy_addr_equal(&d->to, &to) && d->n == strlen(text) &&
	       memcmp(d->data, text, d->n) == 0;
}

static void test_udp_register(void)
{
	struct tagent *a, *b, *c;
	struct reg_port *pu, *pt;
	struct mudp *u;
	unsigned n;

	setup(NULL);
	a = session(TOK_PI, "pi", 1, NULL);
	h_register_udp(a, 2210);
	CU_ASSERT_EQUAL_FATAL(a->nresults, 1);
	CU_ASSERT_EQUAL(a->results[0].code, FY_E_OK);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->results[0].msg, "listening on 127.0.0.1:2210/udp"));
	/* One socket, on the worker that took the claim; no TCP listener. */
	u = h_udp_port(2210, &n);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	CU_ASSERT_PTR_EQUAL(u->w, claim_worker(true, 2210));
	CU_ASSERT_FALSE(listening_anywhere(2210));
	CU_ASSERT_PTR_NULL(claim_worker(false, 2210));
	/* TCP 2210 is another claim, and the agent may hold both. */
	h_register(a, 2210);
	CU_ASSERT_EQUAL(a->results[1].code, FY_E_OK);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->results[1].msg, "listening on 127.0.0.1:2210"));
	CU_ASSERT_PTR_NULL(strstr(a->results[1].msg, "/udp"));
	CU_ASSERT_TRUE(H.listening[0][2210] && H.listening[1][2210]);
	CU_ASSERT_EQUAL(reg_port_count(H.r.reg), 2);
	rcu_read_lock();
	pu = reg_port_find(H.r.reg, true, 2210);
	pt = reg_port_find(H.r.reg, false, 2210);
	CU_ASSERT_TRUE(pu && pt && pu != pt && pu->udp && !pt->udp);
	rcu_read_unlock();
	/* A repeat claim costs nothing and binds nothing more. */
	h_register_udp(a, 2210);
	CU_ASSERT_EQUAL(a->results[2].code, FY_E_OK);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->results[2].msg, "port 2210/udp already registered"));
	CU_ASSERT_PTR_NOT_NULL(h_udp_port(2210, &n));
	CU_ASSERT_EQUAL(n, 1);
	/* Another agent: the UDP port is held, but UDP beside a TCP claim
	 * of the same number is free. */
	b = session(TOK_B, "b", 2, NULL);
	h_register_udp(b, 2210);
	CU_ASSERT_EQUAL(b->results[0].code, FY_E_IN_USE);
	CU_ASSERT_PTR_NOT_NULL(strstr(b->results[0].msg, "port 2210/udp is held by agent 'pi'"));
	h_register(a, 2211);
	h_register_udp(b, 2211);
	CU_ASSERT_EQUAL(a->results[3].code, FY_E_OK);
	CU_ASSERT_EQUAL(b->results[1].code, FY_E_OK);
	/* Token ranges hold for UDP as for TCP. */
	h_register_udp(a, 3000);
	CU_ASSERT_EQUAL(a->results[4].code, FY_E_DENIED);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->results[4].msg, "token not allowed to claim port 3000/udp "
				      "(allowed: 2200-2299)"));
	/* The host refuses the bind: busy (retried by the agent). */
	H.udp_listen_error = -EADDRINUSE;
	h_register_udp(b, 2250);
	CU_ASSERT_EQUAL(b->results[2].code, FY_E_IN_USE);
	CU_ASSERT_PTR_NOT_NULL(strstr(b->results[2].msg, "cannot listen on 127.0.0.1:2250/udp"));
	CU_ASSERT_PTR_NULL(h_udp_port(2250, &n));
	CU_ASSERT_PTR_NULL(claim_worker(true, 2250));
	/* The port cap counts UDP and TCP claims alike (maxports=2). */
	c = session(TOK_CAP, "cap", 3, NULL);
	h_register_udp(c, 4001);
	h_register(c, 4001);
	h_register_udp(c, 4002);
	CU_ASSERT_EQUAL_FATAL(c->nresults, 3);
	CU_ASSERT_EQUAL(c->results[0].code, FY_E_OK);
	CU_ASSERT_EQUAL(c->results[1].code, FY_E_OK);
	CU_ASSERT_EQUAL(c->results[2].code, FY_E_DENIED);
	CU_ASSERT_PTR_NOT_NULL(strstr(c->results[2].msg, "agent 'cap' holds 2 ports"));
	CU_ASSERT_PTR_NULL(h_udp_port(4002, &n));
	CU_ASSERT_EQUAL(ctr(&H.r.ctr.port_limit), 1);
	CU_ASSERT_EQUAL(reg_port_count(H.r.reg), 6);
	h_fini();
}

/* Datagrams from two sources (and an IPv6 one): a flow each, as a UDP
 * stream each on the claiming worker's tunnel, with the source in OPEN;
 * the agent's datagrams go back to the right source. */
static void test_udp_flows(void)
{
	struct tagent *a, *a1 = NULL, *a2 = NULL, *a6 = NULL;
	struct tstream *t1, *t2, *t6;
	struct worker *cw;
	unsigned n;

	setup(NULL);
	a = session(TOK_PI, "pi", 1, NULL);
	h_register_udp(a, 2212);
	cw = claim_worker(true, 2212);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cw);
	h_udp_in(2212, "198.51.100.20", 5000, "q1", 2);
	h_udp_in(2212, "198.51.100.21", 5000, "q2", 2);	/* same port, other address */
	t1 = flow_stream("198.51.100.20", 5000, &a1);
	t2 = flow_stream("198.51.100.21", 5000, &a2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t2);
	CU_ASSERT_NOT_EQUAL(t1->id, t2->id);
	CU_ASSERT_TRUE(t1->open.udp && t2->open.udp);
	CU_ASSERT_EQUAL(t1->open.port, 2212);
	CU_ASSERT_TRUE(t1->s && (t1->s->flags & FY_S_DGRAM));
	/* Both on the tunnel of the claiming worker. */
	CU_ASSERT_PTR_EQUAL(a1, a2);
	CU_ASSERT_PTR_EQUAL(a1->c->w, cw);
	CU_ASSERT_EQUAL(t1->ndgrams, 1);
	CU_ASSERT_EQUAL(fy_buf_len(&t1->rx), 2);
	CU_ASSERT_EQUAL(memcmp(fy_buf_peek(&t1->rx), "q1", 2), 0);
	CU_ASSERT_EQUAL(memcmp(fy_buf_peek(&t2->rx), "q2", 2), 0);
	/* The same source again: the same flow, whole datagrams. */
	h_udp_in(2212, "198.51.100.20", 5000, "again", 5);
	CU_ASSERT_EQUAL(t1->ndgrams, 2);
	CU_ASSERT_EQUAL(fy_buf_len(&t1->rx), 7);
	CU_ASSERT_PTR_EQUAL(flow_stream("198.51.100.20", 5000, NULL), t1);
	CU_ASSERT_EQUAL(a1->nstreams, 2);
	/* An IPv6 source: its own flow, its address whole in OPEN. */
	h_udp_in(2212, "2001:db8::7", 5000, "q6", 2);
	t6 = flow_stream("2001:db8::7", 5000, &a6);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t6);
	CU_ASSERT_TRUE(t6->open.udp && t6->id != t1->id && t6->id != t2->id);
	CU_ASSERT_EQUAL(ctr(&H.r.ctr.udp_flows_opened), 3);
	CU_ASSERT_EQUAL(pubudp_count(cw), 3);
	CU_ASSERT_EQUAL(streams_total(), 3);
	/* The agent answers each: back to that source, from the port. */
	CU_ASSERT_EQUAL(h_agent_dgram(a2, t2, "r2", 2), 0);
	CU_ASSERT_TRUE(sent_last(2212, "198.51.100.21", 5000, "r2"));
	CU_ASSERT_EQUAL(h_agent_dgram(a1, t1, "r1", 2), 0);
	CU_ASSERT_TRUE(sent_last(2212, "198.51.100.20", 5000, "r1"));
	CU_ASSERT_EQUAL(h_agent_dgram(a6, t6, "r6", 2), 0);
	CU_ASSERT_TRUE(sent_last(2212, "2001:db8::7", 5000, "r6"));
	CU_ASSERT_EQUAL(H.nsent, 3);
	/* The socket has no room: dropped and counted, the flow goes on. */
	H.udp_send_error = -EAGAIN;
	CU_ASSERT_EQUAL(h_agent_dgram(a1, t1, "lost", 4), 0);
	CU_ASSERT_EQUAL(H.nsent, 3);
	CU_ASSERT_EQUAL(ctr(&H.r.ctr.udp_dropped_send), 1);
	H.udp_send_error = 0;
	CU_ASSERT_EQUAL(h_agent_dgram(a1, t1, "r1b", 3), 0);
	CU_ASSERT_TRUE(sent_last(2212, "198.51.100.20", 5000, "r1b"));
	CU_ASSERT_PTR_NOT_NULL(t1->s);
	/* Nothing went to a TCP listener, and the port has one socket. */
	CU_ASSERT_FALSE(listening_anywhere(2212));
	CU_ASSERT_PTR_NOT_NULL(h_udp_port(2212, &n));
	CU_ASSERT_EQUAL(n, 1);
	h_fini();
}

static void udp_idle_cfg(struct relay_cfg *c)
{
	c->udp_idle_ms = 1000;
}

/* A flow with no datagram either way for --udp-idle-ms ends: RESET to
 * the agent, and the source's next datagram opens a new flow. */
static void test_udp_idle(void)
{
	struct tagent *a, *a2 = NULL;
	struct tstream *t1, *t2, *t3;
	uint32_t id1;

	setup(udp_idle_cfg);
	a = session(TOK_PI, "pi", 1, NULL);
	h_register_udp(a, 2213);
	h_udp_in(2213, "198.51.100.30", 6000, "a", 1);
	h_udp_in(2213, "198.51.100.31", 6001, "b", 1);
	t1 = flow_stream("198.51.100.30", 6000, NULL);
	t2 = flow_stream("198.51.100.31", 6001, &a2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t2);
	id1 = t1->id;
	h_advance(600);
	/* The agent's datagram is activity too: flow 2 lives on. */
	CU_ASSERT_EQUAL(h_agent_dgram(a2, t2, "B", 1), 0);
	h_advance(300);
	CU_ASSERT_PTR_NOT_NULL(t1->s);		/* 900 ms: not yet */
	h_advance(200);
	CU_ASSERT_PTR_NULL(t1->s);		/* 1100 ms: over */
	CU_ASSERT_EQUAL(t1->reset_code, FY_E_TIMEOUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(t1->reset_msg, "UDP flow idle"));
	CU_ASSERT_PTR_NOT_NULL(t2->s);
	CU_ASSERT_EQUAL(t2->reset_code, 0);
	CU_ASSERT_EQUAL(ctr(&H.r.ctr.udp_flows_idle), 1);
	CU_ASSERT_EQUAL(flows_total(), 1);
	h_advance(600);
	CU_ASSERT_PTR_NULL(t2->s);
	CU_ASSERT_EQUAL(t2->reset_code, FY_E_TIMEOUT);
	CU_ASSERT_EQUAL(ctr(&H.r.ctr.udp_flows_idle), 2);
	CU_ASSERT_EQUAL(flows_total(), 0);
	CU_ASSERT_EQUAL(streams_total(), 0);
	/* The source again: a new flow on a new stream. */
	h_udp_in(2213, "198.51.100.30", 6000, "c", 1);
	t3 = flow_stream("198.51.100.30", 6000, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t3);
	CU_ASSERT_PTR_NOT_NULL(t3->s);
	CU_ASSERT_NOT_EQUAL(t3->id, id1);
	CU_ASSERT_EQUAL(t3->ndgrams, 1);
	CU_ASSERT_EQUAL(ctr(&H.r.ctr.udp_flows_opened), 3);
	h_fini();
}

static void udp_cap_cfg(struct relay_cfg *c)
{
	c->max_udp_flows = 2;
}

/* More sources than --max-udp-flows-per-port: the newcomer's datagrams
 * are dropped and counted until a flow ends; a flow the agent refused
 * holds its place (and drops its source's datagrams) for a moment. */
static void test_udp_cap(void)
{
	struct tagent *a, *ax = NULL;
	struct tstream *t1, *t2, *t3;

	setup(udp_cap_cfg);
	a = session(TOK_PI, "pi", 1, NULL);
	h_register_udp(a, 2214);
	h_udp_in(2214, "203.0.113.1", 7001, "1", 1);
	h_udp_in(2214, "203.0.113.2", 7002, "2", 1);
	h_udp_in(2214, "203.0.113.3", 7003, "3", 1);
	t1 = flow_stream("203.0.113.1", 7001, &ax);
	t2 = flow_stream("203.0.113.2", 7002, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t2);
	CU_ASSERT_PTR_NULL(flow_stream("203.0.113.3", 7003, NULL));
	CU_ASSERT_EQUAL(ctr(&H.r.ctr.udp_dropped_cap), 1);
	CU_ASSERT_EQUAL(ctr(&H.r.ctr.udp_flows_opened), 2);
	CU_ASSERT_EQUAL(flows_total(), 2);
	/* Known sources still pass. */
	h_udp_in(2214, "203.0.113.1", 7001, "1b", 2);
	CU_ASSERT_EQUAL(t1->ndgrams, 2);
	/* A flow that ends makes room. */
	h_agent_reset(ax, t2, FY_E_OK, "done");
	CU_ASSERT_EQUAL(flows_total(), 1);
	h_udp_in(2214, "203.0.113.3", 7003, "3b", 2);
	t3 = flow_stream("203.0.113.3", 7003, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t3);
	CU_ASSERT_EQUAL(fy_buf_len(&t3->rx), 2);	/* the dropped one never came */
	CU_ASSERT_EQUAL(ctr(&H.r.ctr.udp_dropped_cap), 1);
	/* The agent refuses flow 1: its source is dropped for the hold,
	 * without an OPEN per datagram, then asked for again. */
	h_agent_reset(ax, t1, FY_E_REFUSED, "connect 127.0.0.1:53: refused");
	h_udp_in(2214, "203.0.113.1", 7001, "1c", 2);
	CU_ASSERT_EQUAL(ctr(&H.r.ctr.udp_dropped_refused), 1);
	CU_ASSERT_PTR_EQUAL(flow_stream("203.0.113.1", 7001, NULL), t1);	/* no new stream */
	CU_ASSERT_EQUAL(flows_total(), 2);
	h_advance(PUBUDP_REFUSED_HOLD_MS + 100);
	h_udp_in(2214, "203.0.113.1", 7001, "1d", 2);
	t1 = flow_stream("203.0.113.1", 7001, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t1);
	CU_ASSERT_PTR_NOT_NULL(t1->s);
	CU_ASSERT_EQUAL(t1->ndgrams, 1);
	CU_ASSERT_EQUAL(ctr(&H.r.ctr.udp_flows_opened), 4);
	CU_ASSERT_EQUAL(ctr(&H.r.ctr.udp_dropped_refused), 1);
	h_fini();
}

static void one_stream_cfg(struct relay_cfg *c)
{
	c->max_streams = 1;
}

/* Datagrams are dropped, never queued: beyond the stream's credit, when
 * the tunnel opens no more streams, and when larger than a DGRAM frame. */
static void test_udp_drops(void)
{
	static uint8_t big[FY_DGRAM_MAX + 1];
	uint8_t d[1000] = { 0 };
	struct tagent *a, *ax = NULL;
	struct tstream *t;

	setup(one_stream_cfg);
	a = session(TOK_PI, "pi", 1, NULL);
	h_register_udp(a, 2215);
	for (struct tagent *x = H.agents; x; x = x->next)
		x->hold_credit = true;
	/* 64 KiB of credit: 65 datagrams of 1000 bytes, then drops. */
	for (int i = 0; i < 70; i++)
		h_udp_in(2215, "198.51.100.40", 8000, d, sizeof(d));
	t = flow_stream("198.51.100.40", 8000, &ax);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(t->ndgrams, 65);
	CU_ASSERT_EQUAL(fy_buf_len(&t->rx), 65000);
	CU_ASSERT_EQUAL(ctr(&H.r.ctr.udp_dropped_no_credit), 5);
	/* Credit back: datagrams pass again. */
	h_agent_credit(ax, t);
	h_udp_in(2215, "198.51.100.40", 8000, d, sizeof(d));
	CU_ASSERT_EQUAL(t->ndgrams, 66);
	/* The tunnel's one stream is taken: a new source is dropped. */
	h_udp_in(2215, "198.51.100.41", 8001, "x", 1);
	CU_ASSERT_PTR_NULL(flow_stream("198.51.100.41", 8001, NULL));
	CU_ASSERT_EQUAL(ctr(&H.r.ctr.udp_dropped_no_stream), 1);
	CU_ASSERT_EQUAL(flows_total(), 1);
	/* The other way, every datagram's credit comes back, sent or
	 * dropped: more than a window of them passes. */
	H.udp_send_error = -EAGAIN;
	for (int i = 0; i < 70; i++)
		CU_ASSERT_EQUAL(h_agent_dgram(ax, t, d, sizeof(d)), 0);
	CU_ASSERT_EQUAL(ctr(&H.r.ctr.udp_dropped_send), 70);
	H.udp_send_error = 0;
	for (int i = 0; i < 70; i++)
		CU_ASSERT_EQUAL(h_agent_dgram(ax, t, d, sizeof(d)), 0);
	CU_ASSERT_EQUAL_FATAL(H.nsent, 70);
	CU_ASSERT_EQUAL(H.sent[69].n, sizeof(d));
	CU_ASSERT_EQUAL(H.sent[69].port, 2215);
	/* Too large for a frame (IPv6 allows it): dropped before any flow. */
	h_udp_in(2215, "198.51.100.42", 8002, big, sizeof(big));
	CU_ASSERT_EQUAL(ctr(&H.r.ctr.udp_dropped_oversize), 1);
	CU_ASSERT_PTR_NULL(flow_stream("198.51.100.42", 8002, NULL));
	CU_ASSERT_EQUAL(ctr(&H.r.ctr.udp_flows_opened), 1);
	h_fini();
}

/* Releasing a UDP port closes its socket and ends its flows: when the
 * session ends, and when the ports go while the tunnels stay (drain). */
static void test_udp_release(void)
{
	struct tagent *a;
	struct tstream *t1, *t2;
	unsigned n;

	setup(drain_cfg);
	a = session(TOK_PI, "pi", 1, NULL);
	h_register_udp(a, 2216);
	h_udp_in(2216, "198.51.100.50", 9000, "x", 1);
	h_udp_in(2216, "198.51.100.51", 9001, "y", 1);
	CU_ASSERT_EQUAL(flows_total(), 2);
	h_agent_gone(a, false);
	CU_ASSERT_PTR_NULL(h_udp_port(2216, &n));
	CU_ASSERT_EQUAL(flows_total(), 0);
	CU_ASSERT_EQUAL(streams_total(), 0);
	CU_ASSERT_EQUAL(reg_port_count(H.r.reg), 0);
	/* The agent's next session claims it again; then the relay drains:
	 * the socket closes and the flows are reset, the tunnels stay. */
	a = session(TOK_PI, "pi", 2, NULL);
	h_register_udp(a, 2216);
	CU_ASSERT_EQUAL(a->results[0].code, FY_E_OK);
	h_udp_in(2216, "198.51.100.50", 9000, "x", 1);
	h_udp_in(2216, "198.51.100.51", 9001, "y", 1);
	t1 = flow_stream("198.51.100.50", 9000, NULL);
	t2 = flow_stream("198.51.100.51", 9001, NULL);
	CU_ASSERT_TRUE_FATAL(t1 && t2 && t1->s && t2->s);
	atomic_store(&H.r.draining, true);
	h_advance(100);
	CU_ASSERT_PTR_NULL(h_udp_port(2216, &n));
	CU_ASSERT_EQUAL(flows_total(), 0);
	CU_ASSERT_PTR_NULL(t1->s);
	CU_ASSERT_EQUAL(t1->reset_code, FY_E_GONE);
	CU_ASSERT_PTR_NOT_NULL(strstr(t1->reset_msg, "UDP port 2216 released"));
	CU_ASSERT_EQUAL(t2->reset_code, FY_E_GONE);
	CU_ASSERT_FALSE(a->c->closed);
	CU_ASSERT_TRUE(a->goaway);
	for (unsigned w = 0; w < H_WORKERS; w++)
		worker_finish(&H.r.workers[w]);
	atomic_store(&H.r.draining, false);
	h_fini();
}

/* A backend without UDP (DPDK) refuses UDP claims, TCP unaffected; so
 * does a session of protocol 1. */
static void test_udp_unsupported(void)
{
	struct fy_hello v1 = { .tunnel_index = 0, .session = 9 };
	struct tagent *a;

	setup(NULL);
	h_backend_without_udp();
	a = session(TOK_PI, "pi", 1, NULL);
	h_register_udp(a, 2217);
	CU_ASSERT_EQUAL_FATAL(a->nresults, 1);
	CU_ASSERT_EQUAL(a->results[0].code, FY_E_UNSUPPORTED);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->results[0].msg,
				      "UDP ports are not supported by the dpdk backend"));
	CU_ASSERT_EQUAL(reg_port_count(H.r.reg), 0);
	CU_ASSERT_PTR_NULL(H.udp);
	h_register(a, 2217);
	CU_ASSERT_EQUAL(a->results[1].code, FY_E_OK);
	CU_ASSERT_TRUE(H.listening[0][2217]);
	h_fini();
	/* An agent of protocol 1 has no datagrams: refused the same way. */
	setup(NULL);
	v1.ver_min = v1.ver_max = 1;
	snprintf(v1.token, sizeof(v1.token), "%s", TOK_PI);
	snprintf(v1.name, sizeof(v1.name), "pi");
	a = h_agent_hello(0, &v1, NULL, 0);
	CU_ASSERT_TRUE_FATAL(a->welcomed);
	CU_ASSERT_EQUAL(a->welcome.version, 1);
	h_register_udp(a, 2217);
	CU_ASSERT_EQUAL_FATAL(a->nresults, 1);
	CU_ASSERT_EQUAL(a->results[0].code, FY_E_UNSUPPORTED);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->results[0].msg, "UDP ports need protocol 2"));
	CU_ASSERT_PTR_NULL(H.udp);
	h_fini();
}

/* DATA on a UDP stream is a protocol error: it ends that agent's tunnel
 * (and its session, its port, its flows), and nothing else. */
static void test_udp_bad_frame(void)
{
	struct tagent *a, *b, *ax = NULL, *bx = NULL;
	struct tstream *ta, *tb;
	uint8_t f[FY_FRAME_HDR_LEN + 3];
	unsigned n;

	setup(NULL);
	a = session(TOK_PI, "pi", 1, NULL);
	b = session(TOK_B, "b", 2, NULL);
	h_register_udp(a, 2218);
	h_register_udp(b, 2219);
	h_udp_in(2218, "198.51.100.60", 9100, "a", 1);
	h_udp_in(2219, "198.51.100.61", 9101, "b", 1);
	ta = flow_stream("198.51.100.60", 9100, &ax);
	tb = flow_stream("198.51.100.61", 9101, &bx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ta);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
	fy_frame_put_hdr(f, FY_T_DATA, 0, ta->id, 3);
	memcpy(f + FY_FRAME_HDR_LEN, "bad", 3);
	fy_mux_send_ctrl(ax->link.mux, f, sizeof(f));
	h_run();
	CU_ASSERT_TRUE(ax->c->closed);
	CU_ASSERT_EQUAL(ax->error_code, FY_E_PROTOCOL);
	CU_ASSERT_PTR_NOT_NULL(strstr(ax->error_msg, "DATA on UDP stream"));
	CU_ASSERT_PTR_NULL(h_udp_port(2218, &n));
	/* The other agent's flow goes on. */
	CU_ASSERT_FALSE(bx->c->closed);
	h_udp_in(2219, "198.51.100.61", 9101, "b2", 2);
	CU_ASSERT_EQUAL(tb->ndgrams, 2);
	CU_ASSERT_EQUAL(h_agent_dgram(bx, tb, "ok", 2), 0);
	CU_ASSERT_TRUE(sent_last(2219, "198.51.100.61", 9101, "ok"));
	CU_ASSERT_EQUAL(flows_total(), 1);
	h_fini();
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
		{ "eviction takes silent connections first", test_unauth_tiers },
		{ "failed logins: tarpit", test_auth_tarpit },
		{ "descriptors low: the oldest unauthenticated makes room", test_fd_low },
		{ "source address table", test_srcaddr },
		{ "UDP REGISTER: a claim apart from TCP's", test_udp_register },
		{ "UDP flows: one stream per source, both ways", test_udp_flows },
		{ "UDP flows end when idle", test_udp_idle },
		{ "UDP flows per port capped; refusals held", test_udp_cap },
		{ "UDP datagrams dropped, never queued", test_udp_drops },
		{ "UDP ports released with their flows", test_udp_release },
		{ "name claims: token, holder, kind, ingress port", test_names_claim },
		{ "HTTP ingress: a request by Host to its name's agent", test_names_route },
		{ "HTTP ingress: pipelined requests past one event's reads", test_names_pipelined },
		{ "UDP on a backend without it: UNSUPPORTED", test_udp_unsupported },
		{ "a bad frame on a UDP stream ends only its tunnel", test_udp_bad_frame },
	};
	int rc;

	rcu_register_thread();
	rc = cu_run("relay", tests, ARRAY_LEN(tests));
	rcu_unregister_thread();
	return rc;
}
