/* The in-memory backend and test agents of relay_harness.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <openssl/err.h>

#include "backend.h"
#include "engine.h"
#include "ferry/tls.h"
#include "ingress.h"
#include "public.h"
#include "pubudp.h"
#include "srcaddr.h"
#include "relay_harness.h"
#include "tunnel.h"
#include "worker.h"

#define FAR_WINDOW (4u << 20)	/* what a client's socket buffers by default */
#define RUN_LIMIT 100000

struct harness H;

/* ---- the relay's end of an mconn ---- */

static long m_recv(void *io, void *buf, size_t n)
{
	struct mconn *c = io;
	size_t k = fy_buf_len(&c->to_relay);

	if (c->closed)
		return -EBADF;
	if (!k) {
		if (c->rst)
			return -ECONNRESET;
		return c->far_eof ? 0 : -EAGAIN;
	}
	if (k > n)
		k = n;
	memcpy(buf, fy_buf_peek(&c->to_relay), k);
	fy_buf_consume(&c->to_relay, k);
	return (long)k;
}

static long m_send(void *io, const void *buf, size_t n)
{
	struct mconn *c = io;
	size_t room = c->far_window > fy_buf_len(&c->to_far) ?
		      c->far_window - fy_buf_len(&c->to_far) : 0;

	if (c->closed || c->relay_eof)
		return -EPIPE;
	if (!room)
		return -EAGAIN;
	if (n > room)
		n = room;
	CU_ASSERT_FATAL(fy_buf_append(&c->to_far, buf, n) == 0);
	return (long)n;
}

static void m_shutdown_wr(void *io)
{
	((struct mconn *)io)->relay_eof = true;
}

static void m_want(void *io, bool rd, bool wr)
{
	struct mconn *c = io;

	c->want_rd = rd;
	c->want_wr = wr;
}

static const struct fy_conn_ops mem_conn = {
	.recv = m_recv, .send = m_send, .shutdown_wr = m_shutdown_wr, .want = m_want,
};

/* ---- the backend ---- */

static int b_attach(struct worker *w, void *io, relay_event_fn fn, void *owner)
{
	struct mconn *c = io;

	c->w = w;
	c->fn = fn;
	c->owner = owner;
	c->attached = true;
	c->want_rd = true;
	c->want_wr = false;
	return 0;
}

static void b_detach(struct worker *w, void *io)
{
	(void)w;
	((struct mconn *)io)->attached = false;
}

static void b_close(struct worker *w, void *io, bool rst)
{
	struct mconn *c = io;

	(void)w;
	CU_ASSERT_FALSE(c->closed);	/* closed once, by its one owner */
	c->closed = true;
	c->rst = rst;
	c->attached = false;
}

static int b_listen(struct worker *w, const char *bind, uint16_t port, bool probe, void **lio)
{
	(void)probe;
	(void)bind;
	if (H.listen_error) {
		int e = H.listen_error;

		H.listen_error = 0;
		return e;
	}
	CU_ASSERT_FALSE(H.listening[w->id][port]);
	H.listening[w->id][port] = true;
	*lio = (void *)(uintptr_t)(port + 1);
	return 0;
}

static void b_unlisten(struct worker *w, void *lio)
{
	uint16_t port = (uint16_t)((uintptr_t)lio - 1);

	CU_ASSERT_TRUE(H.listening[w->id][port]);
	H.listening[w->id][port] = false;
}

static int b_udp_listen(struct worker *w, uint16_t port, void *owner, void **lio)
{
	struct mudp *u;
	unsigned n;

	if (H.udp_listen_error) {
		int e = H.udp_listen_error;

		H.udp_listen_error = 0;
		return e;
	}
	CU_ASSERT_PTR_NULL(h_udp_port(port, &n));	/* one socket per port */
	u = calloc(1, sizeof(*u));
	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	u->w = w;
	u->port = port;
	u->owner = owner;
	u->next = H.udp;
	H.udp = u;
	*lio = u;
	return 0;
}

static void b_udp_unlisten(struct worker *w, void *lio)
{
	struct mudp **pp = &H.udp;

	while (*pp && *pp != lio)
		pp = &(*pp)->next;
	CU_ASSERT_PTR_NOT_NULL_FATAL(*pp);	/* bound, and closed once */
	CU_ASSERT_PTR_EQUAL((*pp)->w, w);	/* by the worker that bound it */
	*pp = (*pp)->next;
	free(lio);
}

static int b_udp_send(struct worker *w, void *lio, const struct sockaddr_storage *to,
		      const void *p, size_t n)
{
	struct mudp *u = lio;
	struct h_dgram *d;

	CU_ASSERT_PTR_EQUAL(u->w, w);
	if (H.udp_send_error)
		return H.udp_send_error;
	CU_ASSERT_FATAL(H.nsent < H_MAX_DGRAMS);
	d = &H.sent[H.nsent++];
	d->port = u->port;
	d->to = *to;
	d->n = n;
	memcpy(d->data, p, n < sizeof(d->data) ? n : sizeof(d->data));
	return 0;
}

static void b_wake(struct worker *w)
{
	H.woken[w->id] = true;
}

static void b_stop_accepting(struct worker *w)
{
	H.stopped_accepting[w->id] = true;
}

static const struct relay_backend mem_backend = {
	.name = "memory",
	.can_move = true,
	.conn = &mem_conn,
	.attach = b_attach,
	.detach = b_detach,
	.close = b_close,
	.listen = b_listen,
	.unlisten = b_unlisten,
	.udp_listen = b_udp_listen,
	.udp_unlisten = b_udp_unlisten,
	.udp_send = b_udp_send,
	.wake = b_wake,
	.stop_accepting = b_stop_accepting,
};

/* As the DPDK backend: no UDP ops. Named as it is, for the refusal's
 * message. */
static const struct relay_backend mem_backend_no_udp = {
	.name = "dpdk",
	.can_move = true,
	.conn = &mem_conn,
	.attach = b_attach,
	.detach = b_detach,
	.close = b_close,
	.listen = b_listen,
	.unlisten = b_unlisten,
	.wake = b_wake,
	.stop_accepting = b_stop_accepting,
};

static struct mconn *mconn_new(const char *addr, uint16_t port)
{
	struct mconn *c = calloc(1, sizeof(*c));
	struct sockaddr_in *a = (struct sockaddr_in *)&c->peer;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	fy_buf_init(&c->to_relay, 64u << 20);
	fy_buf_init(&c->to_far, 64u << 20);
	c->far_window = FAR_WINDOW;
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	CU_ASSERT_FATAL(inet_pton(AF_INET, addr, &a->sin_addr) == 1);
	c->next = H.conns;
	H.conns = c;
	return c;
}

/* ---- the far end of an agent's mconn, as the agent's TLS sees it ---- */

static long far_recv(void *io, void *buf, size_t n)
{
	struct mconn *c = io;
	size_t k = fy_buf_len(&c->to_far);

	if (!k) {
		if (c->closed)
			return c->rst ? -ECONNRESET : 0;
		return c->relay_eof ? 0 : -EAGAIN;
	}
	if (k > n)
		k = n;
	memcpy(buf, fy_buf_peek(&c->to_far), k);
	fy_buf_consume(&c->to_far, k);
	return (long)k;
}

static long far_send(void *io, const void *buf, size_t n)
{
	struct mconn *c = io;

	if (c->closed || c->far_eof)
		return -EPIPE;
	CU_ASSERT_FATAL(fy_buf_append(&c->to_relay, buf, n) == 0);
	return (long)n;
}

static void far_shutdown_wr(void *io)
{
	((struct mconn *)io)->far_eof = true;
}

static void far_want(void *io, bool rd, bool wr)
{
	(void)io;
	(void)rd;
	(void)wr;
}

static const struct fy_conn_ops far_conn = {
	.recv = far_recv, .send = far_send, .shutdown_wr = far_shutdown_wr, .want = far_want,
};

/* ---- test agents ---- */

static struct tstream *ts_of(struct tagent *a, struct fy_stream *s)
{
	for (unsigned i = 0; i < a->nstreams; i++)
		if (a->ts[i].s == s)
			return &a->ts[i];
	return NULL;
}

static uint32_t a_open(void *ctx, struct fy_stream *s, const struct fy_open *o, const char **msg)
{
	struct tagent *a = ctx;
	struct tstream *t;

	if (a->refuse_opens) {
		*msg = "connect 127.0.0.1:22: Connection refused";
		return FY_E_REFUSED;
	}
	CU_ASSERT_FATAL(a->nstreams < H_MAX_STREAMS);
	t = &a->ts[a->nstreams++];
	memset(t, 0, sizeof(*t));
	t->s = s;
	t->id = s->id;
	t->open = *o;
	fy_buf_init(&t->rx, 64u << 20);
	s->app = t;
	return FY_E_OK;
}

static void a_data(void *ctx, struct fy_stream *s, const uint8_t *p, size_t n)
{
	struct tagent *a = ctx;
	struct tstream *t = s->app;

	CU_ASSERT_FATAL(fy_buf_append(&t->rx, p, n) == 0);
	fy_mux_consumed(a->link.mux, s, n, true);
}

static void a_dgram(void *ctx, struct fy_stream *s, const uint8_t *p, size_t n)
{
	struct tagent *a = ctx;
	struct tstream *t = s->app;

	CU_ASSERT_FATAL(fy_buf_append(&t->rx, p, n) == 0);
	t->ndgrams++;
	if (a->hold_credit)
		t->held += n;
	else
		fy_mux_consumed(a->link.mux, s, n, true);
}

static void a_fin(void *ctx, struct fy_stream *s)
{
	struct tstream *t = s->app;

	(void)ctx;
	t->fin = true;
}

static void a_reset(void *ctx, struct fy_stream *s, uint32_t code, const char *msg)
{
	struct tagent *a = ctx;
	struct tstream *t = ts_of(a, s);

	if (!t)
		return;
	t->reset_code = code ? code : FY_E_GONE;
	snprintf(t->reset_msg, sizeof(t->reset_msg), "%s", msg);
	t->s = NULL;
}

static void a_credit(void *ctx, struct fy_stream *s)
{
	(void)ctx;
	(void)s;
}

static int a_control(void *ctx, const struct fy_frame_hdr *h, const uint8_t *p, const char **why)
{
	struct tagent *a = ctx;
	struct fy_reason rr;

	switch (h->type) {
	case FY_T_WELCOME:
		if (fy_frame_get_welcome(p, h->len, &a->welcome, why) < 0)
			return -1;
		a->welcomed = true;
		fy_mux_set_established(a->link.mux, a->welcome.window, a->welcome.keepalive_ms);
		return 0;
	case FY_T_RESULT:
		CU_ASSERT_FATAL(a->nresults < H_MAX_RESULTS);
		return fy_frame_get_result(p, h->len, &a->results[a->nresults++], why);
	case FY_T_GOAWAY:
		a->goaway = true;
		return fy_frame_get_reason(p, h->len, &rr, why);
	case FY_T_ERROR:
		if (fy_frame_get_reason(p, h->len, &rr, why) < 0)
			return -1;
		a->error_code = rr.code;
		memcpy(a->error_msg, rr.msg, sizeof(a->error_msg));
		*why = "relay reported an error";
		return -1;
	default:
		*why = "unexpected control frame";
		return -1;
	}
}

static const struct fy_mux_cbs agent_cbs = {
	.on_open = a_open, .on_data = a_data, .on_fin = a_fin, .on_reset = a_reset,
	.on_credit = a_credit, .on_control = a_control, .on_dgram = a_dgram,
};

/* One step of a test agent; true when it moved something. */
static bool agent_step(struct tagent *a)
{
	size_t before = fy_buf_len(&a->c->to_relay) + fy_buf_len(&a->c->to_far);
	uint8_t f[FY_FRAME_HDR_LEN + 400];
	int r;

	if (!a->link.mux && a->error_code)
		return false;
	if (!a->tls_done) {
		r = fy_link_handshake(&a->link);
		if (r < 0)
			return false;
		a->tls_done = r == 1;
	}
	if (a->tls_done && !a->hello_sent) {
		struct fy_mux_cfg mc = {
			.role = FY_MUX_AGENT, .window = 65536, .keepalive_ms = 0,
			.out_cap = FY_LINK_OUT_CAP, .serial = 1, .now_ms = H.now,
		};

		CU_ASSERT_EQUAL_FATAL(fy_sess_init(&a->streams, 16), 0);
		a->have_streams = true;
		a->link.mux = fy_mux_create(&mc, &agent_cbs, a, &a->streams);
		CU_ASSERT_PTR_NOT_NULL_FATAL(a->link.mux);
		if (a->first_len)
			fy_mux_send_ctrl(a->link.mux, a->first, a->first_len);
		else
			fy_mux_send_ctrl(a->link.mux, f, fy_frame_hello(f, &a->hello));
		a->hello_sent = true;
	}
	if (a->link.mux) {
		r = fy_link_read(&a->link, H.now, 1000);
		fy_link_flush(&a->link);
		if (r < 0 && !a->error_code)
			a->error_code = FY_E_GONE;
	}
	ERR_clear_error();
	return fy_buf_len(&a->c->to_relay) + fy_buf_len(&a->c->to_far) != before;
}

/* ---- running the workers ---- */

static bool conn_events(struct mconn *c)
{
	uint32_t ev = 0;

	if (!c->attached)
		return false;
	if (c->want_rd && (fy_buf_len(&c->to_relay) || c->far_eof || c->rst))
		ev |= RELAY_EV_READ;
	if (c->want_wr && fy_buf_len(&c->to_far) < c->far_window)
		ev |= RELAY_EV_WRITE;
	if (!ev)
		return false;
	c->fn(c->owner, ev);
	return true;
}

void h_run(void)
{
	for (int i = 0; i < RUN_LIMIT; i++) {
		bool moved = false;

		for (unsigned w = 0; w < H.r.nworkers; w++) {
			struct worker *wk = &H.r.workers[w];

			wk->now_ms = H.now;
			if (H.woken[w]) {
				H.woken[w] = false;
				worker_wakeup(wk);
				moved = true;
			}
		}
		for (struct mconn *c = H.conns; c; c = c->next)
			moved |= conn_events(c);
		for (unsigned w = 0; w < H.r.nworkers; w++)
			worker_step(&H.r.workers[w], H.now);
		for (struct tagent *a = H.agents; a; a = a->next)
			moved |= agent_step(a);
		rcu_quiescent_state();
		if (!moved)
			return;
	}
	CU_FAIL("the relay did not settle");
}

void h_advance(uint64_t ms)
{
	/* In ticks, as a loop would see time pass. */
	for (uint64_t t = 0; t < ms; t += WORKER_TICK_MS) {
		H.now += ms - t < WORKER_TICK_MS ? ms - t : WORKER_TICK_MS;
		h_run();
	}
}

/* ---- set-up ---- */

void h_init(const struct h_token *tokens, unsigned ntokens, void (*cfg_fn)(struct relay_cfg *c))
{
	struct relay *r = &H.r;
	char path[160], crt[192], key[192], ca[192], fp[100], err[300];

	memset(&H, 0, sizeof(H));
	H.now = 5000000;
	snprintf(H.dir, sizeof(H.dir), "/tmp/ferry-relay-test.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(H.dir));
	snprintf(path, sizeof(path), "%s/pki", H.dir);
	CU_ASSERT_EQUAL_FATAL(fy_tls_cert_init(path, "relay.test", 0, fp, sizeof(fp), err,
					       sizeof(err)), 0);
	snprintf(crt, sizeof(crt), "%s/relay.crt", path);
	snprintf(key, sizeof(key), "%s/relay.key", path);
	snprintf(ca, sizeof(ca), "%s/ca.crt", path);
	snprintf(path, sizeof(path), "%s/tokens", H.dir);
	for (unsigned i = 0; i < ntokens; i++)
		CU_ASSERT_EQUAL_FATAL(fy_tokens_append(path, tokens[i].token, &tokens[i].spec, err,
						       sizeof(err)), 0);

	r->cfg.workers = H_WORKERS;
	r->cfg.keepalive_ms = 10000;
	r->cfg.handshake_ms = 10000;
	r->cfg.window = 1u << 20;
	r->cfg.initial_window = 65536;
	r->cfg.max_buffer_mem = 64u << 20;
	r->cfg.max_buffer_session = 16u << 20;
	r->cfg.max_ports = 64;
	r->cfg.fd_reserve = 128;
	r->cfg.drain_ms = 10000;
	r->cfg.max_unauth = 1024;
	r->cfg.max_unauth_per_ip = 32;
	r->cfg.max_streams = 65536;
	r->cfg.udp_idle_ms = 60000;
	r->cfg.max_udp_flows = 1024;
	snprintf(r->cfg.public_bind, sizeof(r->cfg.public_bind), "127.0.0.1");
	if (cfg_fn)
		cfg_fn(&r->cfg);
	r->be = &mem_backend;
	r->nworkers = r->cfg.workers;
	r->nofile = 65536;
	for (unsigned i = 0; i < REG_MAX_WORKERS; i++)
		atomic_init(&r->live_streams[i], LIVE_UNKNOWN);
	fy_budget_init(&r->buf_budget, r->cfg.max_buffer_mem, NULL);
	r->tokens = calloc(1, sizeof(*r->tokens));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->tokens);
	CU_ASSERT_EQUAL_FATAL(fy_tokens_load(path, r->tokens, err, sizeof(err)), 0);
	r->tls = fy_tls_server_ctx(crt, key, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->tls);
	H.client_tls = fy_tls_client_ctx(ca, NULL, NULL, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(H.client_tls);
	r->src = malloc(sizeof(*r->src));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->src);
	src_init(r->src, 0x5eed);
	r->reg = reg_create();
	r->workers = aligned_alloc(_Alignof(struct worker), r->nworkers * sizeof(*r->workers));
	CU_ASSERT_FATAL(r->reg && r->workers);
	memset(r->workers, 0, r->nworkers * sizeof(*r->workers));
	for (unsigned i = 0; i < r->nworkers; i++) {
		CU_ASSERT_EQUAL_FATAL(worker_init(&r->workers[i], r, i), 0);
		r->workers[i].now_ms = r->workers[i].last_tick_ms = H.now;
		/* The ingress listeners, when cfg_fn configured any. */
		CU_ASSERT_EQUAL_FATAL(ingress_start(&r->workers[i]), 0);
	}
}

void h_fini(void)
{
	struct relay *r = &H.r;
	char cmd[128];

	for (unsigned i = 0; i < r->nworkers; i++)
		worker_finish(&r->workers[i]);
	while (H.agents) {
		struct tagent *a = H.agents;

		H.agents = a->next;
		if (a->link.mux)
			fy_mux_destroy(a->link.mux, "test over");
		if (a->have_streams)
			fy_sess_fini(&a->streams);
		for (unsigned i = 0; i < a->nstreams; i++)
			fy_buf_fini(&a->ts[i].rx);
		fy_link_fini(&a->link);
		free(a);
	}
	while (H.conns) {
		struct mconn *c = H.conns;

		H.conns = c->next;
		fy_buf_fini(&c->to_relay);
		fy_buf_fini(&c->to_far);
		free(c);
	}
	for (unsigned i = 0; i < r->nworkers; i++) {
		CU_ASSERT_EQUAL(pubudp_count(&r->workers[i]), 0);	/* no flow leaked */
		worker_fini(&r->workers[i]);
	}
	CU_ASSERT_PTR_NULL(H.udp);	/* every UDP port closed */
	/* Sessions and ports are freed through call_rcu: let it run. */
	CU_ASSERT_EQUAL(reg_session_count(r->reg), 0);
	CU_ASSERT_EQUAL(reg_port_count(r->reg), 0);
	/* Offline while waiting: call_rcu's thread and the tables' resize
	 * thread wait for every online thread to pass a quiescent state. */
	rcu_thread_offline();
	rcu_barrier();
	reg_destroy(r->reg);
	rcu_thread_online();
	free(r->workers);
	free(r->src);
	fy_tokens_free(r->tokens);
	free(r->tokens);
	SSL_CTX_free(r->tls);
	SSL_CTX_free(H.client_tls);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", H.dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

/* ---- connections ---- */

struct mconn *h_connect_agent_port(unsigned w, const char *addr, uint16_t port, bool fd_low)
{
	struct mconn *c = mconn_new(addr, port);

	c->w = &H.r.workers[w];
	tunnel_accept(&H.r.workers[w], c, &c->peer, fd_low);
	return c;
}

struct mconn *h_connect_client_hello(unsigned w, const char *addr, uint16_t port)
{
	struct mconn *c = h_connect_agent_port(w, addr, port, false);
	SSL *ssl = SSL_new(H.client_tls);
	BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
	char *p;
	long n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ssl);
	CU_ASSERT_FATAL(rb && wb);
	SSL_set_bio(ssl, rb, wb);
	SSL_set_connect_state(ssl);
	CU_ASSERT_EQUAL(SSL_do_handshake(ssl), -1);	/* waits for the ServerHello */
	n = BIO_get_mem_data(wb, &p);
	CU_ASSERT_FATAL(n > 0);
	h_far_write(c, p, (size_t)n);
	SSL_free(ssl);
	return c;
}

struct tagent *h_agent_hello(unsigned w, const struct fy_hello *h, const uint8_t *first,
			     size_t first_len)
{
	struct tagent *a = calloc(1, sizeof(*a));

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	a->c = h_connect_agent_port(w, "192.0.2.10", (uint16_t)(40000 + h->tunnel_index), false);
	CU_ASSERT_EQUAL_FATAL(fy_link_init(&a->link, H.client_tls, &far_conn, a->c, false), 0);
	CU_ASSERT_EQUAL_FATAL(fy_tls_client_prepare(a->link.tls.ssl, "relay.test"), 0);
	a->hello = *h;
	CU_ASSERT_FATAL(first_len <= sizeof(a->first));
	if (first_len)
		memcpy(a->first, first, first_len);
	a->first_len = first_len;
	a->next = H.agents;
	H.agents = a;
	h_run();
	return a;
}

struct tagent *h_agent(unsigned w, const char *token, const char *name, uint32_t index,
		       uint64_t session)
{
	struct fy_hello h = {
		.ver_min = FY_PROTO_VERSION, .ver_max = FY_PROTO_VERSION,
		.tunnel_index = index, .session = session,
	};

	snprintf(h.token, sizeof(h.token), "%s", token);
	snprintf(h.name, sizeof(h.name), "%s", name);
	return h_agent_hello(w, &h, NULL, 0);
}

void h_register(struct tagent *a, uint16_t port)
{
	uint8_t f[FY_FRAME_HDR_LEN + 16];
	struct fy_register rg = { .req = port, .port = port };

	CU_ASSERT_PTR_NOT_NULL_FATAL(a->link.mux);
	fy_mux_send_ctrl(a->link.mux, f, fy_frame_register(f, &rg));
	h_run();
}

void h_register_name(struct tagent *a, uint16_t id, uint8_t kind, const char *name)
{
	uint8_t f[FY_FRAME_HDR_LEN + 16 + FY_NAME_MAX];
	struct fy_register rg = { .req = id, .port = id, .named = true, .kind = kind };

	snprintf(rg.name, sizeof(rg.name), "%s", name);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a->link.mux);
	fy_mux_send_ctrl(a->link.mux, f, fy_frame_register(f, &rg));
	h_run();
}

void h_register_udp(struct tagent *a, uint16_t port)
{
	uint8_t f[FY_FRAME_HDR_LEN + 16];
	struct fy_register rg = { .req = port, .port = port, .udp = true };

	CU_ASSERT_PTR_NOT_NULL_FATAL(a->link.mux);
	fy_mux_send_ctrl(a->link.mux, f, fy_frame_register(f, &rg));
	h_run();
}

void h_backend_without_udp(void)
{
	H.r.be = &mem_backend_no_udp;
}

struct mudp *h_udp_port(uint16_t port, unsigned *n)
{
	struct mudp *found = NULL;

	*n = 0;
	for (struct mudp *u = H.udp; u; u = u->next)
		if (u->port == port) {
			found = u;
			(*n)++;
		}
	return found;
}

struct sockaddr_storage h_addr(const char *addr, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;

	if (inet_pton(AF_INET, addr, &a->sin_addr) == 1) {
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
	} else {
		CU_ASSERT_FATAL(inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1);
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
	}
	return ss;
}

void h_udp_in(uint16_t port, const char *addr, uint16_t sport, const void *p, size_t n)
{
	struct sockaddr_storage from = h_addr(addr, sport);
	unsigned k;
	struct mudp *u = h_udp_port(port, &k);

	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	u->w->now_ms = H.now;
	pubudp_input(u->w, u->owner, &from, p, n);
	h_run();
}

int h_agent_dgram(struct tagent *a, struct tstream *t, const void *p, size_t n)
{
	int e;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t->s);
	e = fy_mux_send_dgram(a->link.mux, t->s, p, n);
	h_run();
	return e;
}

void h_agent_credit(struct tagent *a, struct tstream *t)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->s);
	fy_mux_consumed(a->link.mux, t->s, t->held, true);
	t->held = 0;
	h_run();
}

void h_agent_gone(struct tagent *a, bool rst)
{
	if (rst)
		a->c->rst = true;
	else
		a->c->far_eof = true;
	h_run();
}

struct mconn *h_client(unsigned w, uint16_t port, const char *addr, uint16_t cport)
{
	struct mconn *c;

	if (!H.listening[w][port])
		return NULL;
	c = mconn_new(addr, cport);
	c->w = &H.r.workers[w];
	public_accepted(&H.r.workers[w], port, c, &c->peer);
	h_run();
	return c;
}

void h_far_write(struct mconn *c, const void *p, size_t n)
{
	CU_ASSERT_EQUAL_FATAL(far_send(c, p, n), (long)n);
	h_run();
}

void h_far_shut(struct mconn *c)
{
	c->far_eof = true;
	h_run();
}

size_t h_far_read(struct mconn *c, void *p, size_t n)
{
	long k = far_recv(c, p, n);

	h_run();
	return k > 0 ? (size_t)k : 0;
}

struct tstream *h_stream_for(struct tagent *a, uint16_t cport)
{
	for (unsigned i = 0; i < a->nstreams; i++)
		if (a->ts[i].open.peer_port == cport)
			return &a->ts[i];
	return NULL;
}

void h_agent_send(struct tagent *a, struct tstream *t, const void *p, size_t n, bool fin)
{
	size_t off = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t->s);
	while (off < n) {
		size_t k = fy_mux_send(a->link.mux, t->s, (const uint8_t *)p + off, n - off, false);

		off += k;
		h_run();
		CU_ASSERT_FATAL(k > 0 || off == n);
	}
	if (fin) {
		CU_ASSERT_EQUAL(fy_mux_send_fin(a->link.mux, t->s), 0);
		h_run();
	}
}

void h_agent_reset(struct tagent *a, struct tstream *t, uint32_t code, const char *why)
{
	fy_mux_reset(a->link.mux, t->s, code, why);
	t->s = NULL;
	h_run();
}
