/* The agent end: one TLS tunnel over relay/net to the relay's agent port,
 * HELLO, REGISTER of the public port, then the streams the relay opens for
 * our clients. The sequence is agent/tunnel.c's, reduced to one tunnel;
 * instead of dialing a target, each stream is a sink ("up": checks and
 * counts) or a source ("down": sends the pattern) right on the mux. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "ferry/log.h"
#include "ferry/tls.h"
#include "ml.h"


/* ---- fy_conn_ops over a relay/net connection ---- */

static long io_recv(void *io, void *buf, size_t n)
{
	struct ml_io *x = io;

	if (!x->c)
		return x->reason ? x->reason : 0;
	return tcp_recv(x->c, buf, n);
}

static long io_send(void *io, const void *buf, size_t n)
{
	struct ml_io *x = io;

	if (!x->c)
		return x->reason ? x->reason : -EPIPE;
	return tcp_send(x->c, buf, n);
}

static void io_shutdown_wr(void *io)
{
	struct ml_io *x = io;

	if (x->c)
		tcp_shutdown_wr(x->c);
}

static void io_want(void *io, bool rd, bool wr)
{
	struct ml_io *x = io;

	if (x->c)
		tcp_want(x->c, rd, wr);
}

const struct fy_conn_ops ml_io_ops = {
	.recv = io_recv,
	.send = io_send,
	.shutdown_wr = io_shutdown_wr,
	.want = io_want,
};

static void agent_fail(struct ml *m, const char *why)
{
	bool over = m->agent.st == ML_A_CLOSING || m->agent.st == ML_A_DEAD;

	m->agent.st = ML_A_DEAD;
	if (over)
		return;	/* the run is over: the relay ending the tunnel is expected */
	ml_fail(m, "agent tunnel: %s", why);
}

/* ---- streams ---- */

/* Both directions ended: the mux frees the stream, the flow keeps counts. */
static void stream_finish_if_done(struct ml *m, struct ml_flow *f)
{
	if (!f->s || !f->a_fin_rx || !f->a_fin_tx)
		return;
	fy_mux_stream_close(m->agent.link.mux, f->s);
	f->s = NULL;
	f->a_done = true;
	ml_flow_check_done(m, f);
}

static uint32_t cb_open(void *ctx, struct fy_stream *s, const struct fy_open *o,
			const char **msg)
{
	struct ml *m = ctx;
	struct ml_flow *f = ml_flow_by_port(m, o->peer_port);

	if (o->port != m->public_port || !f || f->a_opened) {
		*msg = "not one of the generator's clients";
		ml_fail(m, "OPEN for port %u from client port %u that we did not make", o->port,
			o->peer_port);
		return FY_E_DENIED;
	}
	f->a_opened = true;
	f->s = s;
	s->app = f;
	f->a_pat = f->a_out = (struct ml_pattern){ .tab = f->tab };
	return FY_E_OK;
}

static void cb_data(void *ctx, struct fy_stream *s, const uint8_t *p, size_t n)
{
	struct ml *m = ctx;
	struct ml_flow *f = s->app;

	if (ml_echo_workload(m->workload)) {
		ml_echo_agent_data(m, f, p, n);	/* echoed in ml_agent_step */
	} else if (m->workload != ML_UP) {
		ml_flow_fail(f, "agent got %zu bytes on a download stream", n);
	} else {
		f->mismatches += ml_pattern_check(&f->a_pat, p, n);
		f->a_rcvd += n;
		if (f->a_rcvd > f->bytes)
			ml_flow_fail(f, "agent got %llu bytes, more than the %llu sent",
				     (unsigned long long)f->a_rcvd, (unsigned long long)f->bytes);
	}
	/* Handed on at once: credit goes back in half-window batches. */
	fy_mux_consumed(m->agent.link.mux, s, n, true);
}

static void cb_fin(void *ctx, struct fy_stream *s)
{
	struct ml *m = ctx;
	struct ml_flow *f = s->app;

	f->a_fin_rx = true;
	/* "up": the client is done, so is our (empty) direction. "down": the
	 * client half-closed at once; our FIN goes with the last data. */
	if (m->workload == ML_UP && !f->a_fin_tx && fy_mux_send_fin(m->agent.link.mux, s) == 0)
		f->a_fin_tx = true;
}

static void cb_reset(void *ctx, struct fy_stream *s, uint32_t code, const char *msg)
{
	struct ml *m = ctx;
	struct ml_flow *f = s->app;

	f->s = NULL;	/* freed by the mux when we return */
	if (m->agent.st != ML_A_CLOSING && m->agent.st != ML_A_DEAD)
		ml_flow_fail(f, "stream reset by the relay: %s (%s)", msg, fy_code_str(code));
}

static void cb_credit(void *ctx, struct fy_stream *s)
{
	(void)ctx;
	(void)s;	/* ml_agent_step tries every stream on each loop turn */
}

static void on_welcome(struct ml *m, const uint8_t *p, uint32_t n, const char **why)
{
	struct ml_agent *a = &m->agent;
	uint8_t f[FY_FRAME_HDR_LEN + 16];
	struct fy_register r = { .req = 0, .port = m->public_port };
	struct fy_welcome w;

	if (a->st != ML_A_WELCOME || fy_frame_get_welcome(p, n, &w, why) < 0) {
		*why = *why ? *why : "unexpected WELCOME";
		return;
	}
	/* A relay with N lcores wants N tunnels, one per lcore (DESIGN.md); this
	 * generator drives one lcore, and clients on another would be reset. */
	if (w.workers != 1) {
		ml_fail(m, "the relay has %u workers; run it with --workers 1", w.workers);
		return;
	}
	fy_mux_set_established(a->link.mux, w.window, w.keepalive_ms);
	fy_mux_send_ctrl(a->link.mux, f, fy_frame_register(f, &r));
	a->st = ML_A_REGISTER;
	if (m->verbose)
		fprintf(stderr, "fy-memif-load: tunnel up (%s, window %u), registering port %u\n",
			SSL_get_version(a->link.tls.ssl), w.window, m->public_port);
}

static void on_result(struct ml *m, const uint8_t *p, uint32_t n, const char **why)
{
	struct fy_result r;

	if (m->agent.st != ML_A_REGISTER || fy_frame_get_result(p, n, &r, why) < 0) {
		*why = *why ? *why : "unexpected RESULT";
		return;
	}
	if (r.code != FY_E_OK) {
		ml_fail(m, "relay refused port %u: %s", m->public_port, r.msg);
		return;
	}
	m->agent.st = ML_A_UP;
	if ((ml_echo_workload(m->workload) ? ml_echo_start(m) : ml_clients_start(m)) < 0)
		ml_fail(m, "cannot start the clients");
}

static int cb_control(void *ctx, const struct fy_frame_hdr *h, const uint8_t *p,
		      const char **why)
{
	struct ml *m = ctx;
	struct fy_reason r;

	*why = NULL;
	switch (h->type) {
	case FY_T_WELCOME:
		on_welcome(m, p, h->len, why);
		break;
	case FY_T_RESULT:
		on_result(m, p, h->len, why);
		break;
	case FY_T_GOAWAY:
		break;	/* the relay drains: our streams may finish */
	case FY_T_ERROR:
		/* After our close_notify the relay answers with ERROR(GONE): expected. */
		if (fy_frame_get_reason(p, h->len, &r, why) == 0 && m->agent.st != ML_A_CLOSING)
			ml_fail(m, "relay ended the tunnel: %s (%s)", r.msg, fy_code_str(r.code));
		*why = *why ? *why : "relay reported an error";
		break;
	default:
		*why = "frame type not valid from a relay";
		break;
	}
	return *why ? -1 : 0;
}

static const struct fy_mux_cbs mux_cbs = {
	.on_open = cb_open,
	.on_data = cb_data,
	.on_fin = cb_fin,
	.on_reset = cb_reset,
	.on_credit = cb_credit,
	.on_control = cb_control,
};

/* ---- the tunnel ---- */

static void flush(struct ml *m)
{
	struct ml_agent *a = &m->agent;

	if (a->link.mux && a->st != ML_A_DEAD && fy_link_flush(&a->link) < 0)
		agent_fail(m, a->link.tls.why);
}

static void send_hello(struct ml *m)
{
	struct ml_agent *a = &m->agent;
	struct fy_hello h = { .ver_min = FY_PROTO_VERSION, .ver_max = FY_PROTO_VERSION };
	struct fy_mux_cfg mc = {
		.role = FY_MUX_AGENT,
		.window = 256 * 1024,	/* replaced by the relay's in WELCOME */
		.keepalive_ms = 10000,
		.out_cap = FY_LINK_OUT_CAP,
		.serial = 1,
		.now_ms = ml_now_us() / 1000,
	};
	uint8_t f[FY_FRAME_HDR_LEN + 300];

	if (RAND_bytes((unsigned char *)&h.session, sizeof(h.session)) != 1)
		h.session = ml_now_us();
	snprintf(h.token, sizeof(h.token), "%s", m->token);
	snprintf(h.name, sizeof(h.name), "%s", m->name);
	a->link.mux = fy_mux_create(&mc, &mux_cbs, m, &a->streams);
	if (!a->link.mux) {
		agent_fail(m, "out of memory");
		return;
	}
	fy_mux_send_ctrl(a->link.mux, f, fy_frame_hello(f, &h));
	a->st = ML_A_WELCOME;
	flush(m);
}

static void do_tls(struct ml *m)
{
	struct ml_agent *a = &m->agent;
	int k = fy_link_handshake(&a->link);

	if (k == 1)
		send_hello(m);
	else if (k < 0)
		agent_fail(m, a->link.tls.why);
}

static void read_input(struct ml *m)
{
	struct ml_agent *a = &m->agent;

	int r;

	/* Bounded like every link; the rest is picked up by ml_agent_step. */
	if (!a->link.mux || a->st < ML_A_WELCOME || a->st > ML_A_CLOSING)
		return;
	r = fy_link_read(&a->link, ml_now_us() / 1000, FY_LINK_READ_ROUNDS);
	if (r == FY_LINK_PROTO) {
		flush(m);
		agent_fail(m, fy_mux_error(a->link.mux, &(uint32_t){ 0 }));
	} else if (r == FY_LINK_EOF || r == FY_LINK_ERR) {
		agent_fail(m, r == FY_LINK_EOF ? "relay closed the connection" : a->link.tls.why);
	}
}

int ml_agent_start(struct ml *m)
{
	struct ml_agent *a = &m->agent;
	char err[256];
	int e = 0;

	a->io.kind = ML_K_AGENT;
	a->tls_ctx = fy_tls_client_ctx(m->ca, NULL, NULL, NULL, err, sizeof(err));
	if (!a->tls_ctx) {
		ml_fail(m, "TLS: %s", err);
		return -1;
	}
	/* As the agent and relay set it: the mux's output buffer may slide
	 * (compact) between an SSL_write that wanted to write and its retry,
	 * which OpenSSL otherwise refuses ("bad write retry"). */
	SSL_CTX_set_mode(a->tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (fy_sess_init(&a->streams, 2 * ML_MAX_CONNS) < 0)
		return -1;
	a->st = ML_A_CONNECT;
	a->io.c = tcp_connect(m->st, m->relay_ip, m->agent_port, &a->io, &e);
	if (!a->io.c) {
		ml_fail(m, "connect to the agent port: %s", strerror(-e));
		return -1;
	}
	return 0;
}

void ml_agent_connected(struct ml *m, int err)
{
	struct ml_agent *a = &m->agent;

	if (err) {
		agent_fail(m, strerror(-err));
		return;
	}
	if (fy_link_init(&a->link, a->tls_ctx, &ml_io_ops, &a->io, false) < 0) {
		fy_link_fini(&a->link);
		agent_fail(m, a->link.tls.why);
		return;
	}
	a->tls_init = true;
	a->link.want_write = true;	/* unknown: the first flush says */
	/* The certificate must name the relay's address: the test CA made it so. */
	if (fy_tls_client_prepare(a->link.tls.ssl, m->relay_ip_str) < 0) {
		agent_fail(m, "TLS setup failed");
		return;
	}
	a->st = ML_A_TLS;
	do_tls(m);
}

void ml_agent_event(struct ml *m, bool rd, bool wr)
{
	struct ml_agent *a = &m->agent;

	if (a->st == ML_A_TLS) {
		do_tls(m);
		return;
	}
	if (a->st < ML_A_WELCOME || a->st > ML_A_CLOSING)
		return;
	if (wr)
		flush(m);
	if (rd)
		read_input(m);
}

/* "down": fill the mux with pattern bytes as far as credit and room allow. */
static void send_stream(struct ml *m, struct ml_flow *f)
{
	while (f->s && !f->a_fin_tx) {
		uint64_t left = f->bytes - f->a_sent;
		size_t room, k;
		uint8_t *dst;

		if (!left) {
			if (fy_mux_send_fin(m->agent.link.mux, f->s) == 0)
				f->a_fin_tx = true;
			return;
		}
		dst = fy_mux_data_begin(m->agent.link.mux, f->s, &room);
		if (!dst)
			return;
		k = room < left ? room : (size_t)left;
		ml_pattern_fill(&f->a_pat, dst, k);
		f->a_sent += k;
		fy_mux_data_commit(m->agent.link.mux, f->s, k, f->a_sent == f->bytes);
		f->a_fin_tx = f->a_sent == f->bytes;
	}
}

void ml_agent_step(struct ml *m)
{
	struct ml_agent *a = &m->agent;

	if (!a->link.mux || a->st < ML_A_WELCOME || a->st > ML_A_CLOSING)
		return;
	/* Decrypted bytes left over from a bounded read: no upcall repeats them. */
	if (fy_link_has_input(&a->link))
		read_input(m);
	for (unsigned i = 0; i < m->nconns && a->link.mux; i++) {
		struct ml_flow *f = &m->flows[i];

		if (ml_echo_workload(m->workload))
			ml_echo_agent_send(m, f);
		else if (m->workload == ML_DOWN)
			send_stream(m, f);
		else if (f->s && f->a_fin_rx && !f->a_fin_tx &&
			 fy_mux_send_fin(a->link.mux, f->s) == 0)
			f->a_fin_tx = true;	/* the FIN that found no room in cb_fin */
		stream_finish_if_done(m, f);
	}
	/* The mux is given the generator's one clock, as everything else. */
	if (a->link.mux && fy_mux_tick(a->link.mux, ml_now_us() / 1000) < 0)
		agent_fail(m, "relay silent for 3 keepalive intervals");
	flush(m);
}

/* The run is over: end the tunnel with close_notify and FIN, so the relay
 * ends the session at once (not after keepalives) and a next run may use
 * the same agent name. */
void ml_agent_close(struct ml *m)
{
	struct ml_agent *a = &m->agent;

	if (a->st == ML_A_DEAD || !a->io.c)
		return;
	flush(m);
	a->st = ML_A_CLOSING;
	if (a->tls_init) {
		SSL_shutdown(a->link.tls.ssl);
		fy_tlsconn_push(&a->link.tls);
	}
	tcp_shutdown_wr(a->io.c);
}

void ml_agent_fini(struct ml *m)
{
	struct ml_agent *a = &m->agent;

	a->st = ML_A_DEAD;	/* resets from destroy are not failures now */
	if (a->link.mux)
		fy_mux_destroy(a->link.mux, "generator exiting");
	a->link.mux = NULL;
	if (a->io.c)
		tcp_abort(a->io.c);
	a->io.c = NULL;
	if (a->tls_init)
		fy_link_fini(&a->link);
	fy_sess_fini(&a->streams);
	SSL_CTX_free(a->tls_ctx);
}
