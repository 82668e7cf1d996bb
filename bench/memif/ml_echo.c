/* The echo workloads' clients. Every connection of a slot carries the
 * slot's pattern from offset 0; the agent side checks the request and
 * draws the same bytes again as the echo, which the client checks: every
 * byte of every connection is compared.
 *
 * churn: K slots; each connects, sends one request of --req bytes,
 *        half-closes, reads the echo and waits for the orderly end; a slot
 *        whose connection ended starts the next, until --count in all.
 *        One sample per connection: connect + echo + close, both ends over.
 * rr:    K connections, each doing --count round trips of --req bytes,
 *        the next request sent once the whole echo came back. One sample
 *        per round trip. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>

#include "ml.h"

static void lat_add(struct ml *m, uint64_t cycles)
{
	if (m->nlat < m->lat_cap)
		m->lat[m->nlat++] = cycles;
}

static int slot_start(struct ml *m, struct ml_flow *f)
{
	uint8_t *tab = f->tab;
	unsigned index = f->index;
	uint32_t rip;
	uint16_t rport;
	int e = 0;

	memset(f, 0, sizeof(*f));
	f->index = index;
	f->tab = tab;
	f->io.kind = ML_K_CLIENT;
	f->bytes = m->workload == ML_CHURN ? m->req : (uint64_t)m->req * m->count;
	f->c_pat = f->c_in = f->a_pat = f->a_out = (struct ml_pattern){ .tab = tab };
	f->active = true;
	f->a_done = m->loop;	/* --loop: no agent side to wait for */
	f->t0 = rte_rdtsc();
	f->io.c = tcp_connect(m->st, m->relay_ip, m->public_port, f, &e);
	if (!f->io.c) {
		ml_fail(m, "slot %u: connect: %s", index, strerror(-e));
		return -1;
	}
	tcp_endpoints(f->io.c, &rip, &rport, &f->lport);
	m->started++;
	return 0;
}

int ml_echo_start(struct ml *m)
{
	unsigned slots = m->nconns;

	if (m->workload == ML_CHURN && m->count < slots)
		slots = (unsigned)m->count;
	m->target = m->workload == ML_CHURN ? m->count : m->nconns;
	m->lat_cap = m->workload == ML_CHURN ? m->count : (uint64_t)m->nconns * m->count;
	m->lat = malloc(m->lat_cap * sizeof(*m->lat));
	if (!m->lat)
		return -1;
	for (unsigned i = 0; i < m->nconns; i++) {
		m->flows[i].index = i;
		if (!(m->flows[i].tab = ml_pattern_table(i)))
			return -1;
	}
	m->t_start_us = ml_now_us();
	m->cpu_start_ns = ml_cpu_ns();
	m->clients_started = true;
	for (unsigned i = 0; i < slots; i++)
		if (slot_start(m, &m->flows[i]) < 0)
			return -1;
	return 0;
}

/* One request; it always fits: the send buffer holds far more than
 * ML_REQ_MAX and the last request was acknowledged by its echo. */
static void send_req(struct ml_flow *f, unsigned req)
{
	uint8_t buf[ML_REQ_MAX];
	long n;

	ml_pattern_fill(&f->c_pat, buf, req);
	n = tcp_send(f->io.c, buf, req);
	if (n != (long)req) {
		ml_flow_fail(f, "request: tcp_send took %ld of %u bytes", n, req);
		return;
	}
	f->c_sent += req;
}

void ml_echo_connected(struct ml *m, struct ml_flow *f, int err)
{
	if (err) {
		ml_flow_fail(f, "connect to the public port: %s", strerror(-err));
		ml_flow_check_done(m, f);
		return;
	}
	f->c_connected = true;
	if (m->workload == ML_RR)
		f->t0 = rte_rdtsc();	/* a round trip, not the handshake */
	send_req(f, m->req);
	if (m->workload == ML_CHURN) {
		tcp_shutdown_wr(f->io.c);
		f->c_shut = true;
	}
}

static void echo_recv(struct ml *m, struct ml_flow *f)
{
	uint8_t buf[ML_REQ_MAX];

	while (f->io.c && !f->c_eof) {
		long n = tcp_recv(f->io.c, buf, sizeof(buf));

		if (n == -EAGAIN)
			return;
		if (n == 0) {
			f->c_eof = true;
			return;
		}
		if (n < 0) {
			ml_flow_fail(f, "client recv: %s", strerror((int)-n));
			return;
		}
		f->mismatches += ml_pattern_check(&f->c_in, buf, (size_t)n);
		f->c_rcvd += (uint64_t)n;
		if (f->c_rcvd > f->c_sent) {
			ml_flow_fail(f, "echo longer than the request: %llu bytes for %llu",
				     (unsigned long long)f->c_rcvd, (unsigned long long)f->c_sent);
			return;
		}
		if (m->workload != ML_RR || f->c_rcvd != f->c_sent)
			continue;
		lat_add(m, rte_rdtsc() - f->t0);
		if (++f->rounds < m->count) {
			f->t0 = rte_rdtsc();
			send_req(f, m->req);
		} else if (!f->c_shut) {
			tcp_shutdown_wr(f->io.c);
			f->c_shut = true;
		}
	}
}

void ml_echo_event(struct ml *m, struct ml_flow *f, bool rd, bool wr)
{
	(void)wr;	/* requests always fit: nothing waits for room */
	if (rd)
		echo_recv(m, f);
}

void ml_echo_step(struct ml *m)
{
	if (m->workload != ML_CHURN || !m->clients_started || m->fatal)
		return;
	/* Slots start again here, never from inside an upcall. */
	for (unsigned i = 0; i < m->nconns && m->started < m->count; i++)
		if (!m->flows[i].active && slot_start(m, &m->flows[i]) < 0)
			return;
}

/* ---- the agent side ---- */

void ml_echo_agent_data(struct ml *m, struct ml_flow *f, const uint8_t *p, size_t n)
{
	(void)m;
	f->mismatches += ml_pattern_check(&f->a_pat, p, n);
	f->a_rcvd += n;
	if (f->a_rcvd > f->bytes)
		ml_flow_fail(f, "agent got %llu bytes, more than the %llu sent",
			     (unsigned long long)f->a_rcvd, (unsigned long long)f->bytes);
}

/* Echoes what came in (drawn from the pattern: the bytes were checked),
 * with the FIN on the last DATA once the client's FIN came. */
void ml_echo_agent_send(struct ml *m, struct ml_flow *f)
{
	struct fy_mux *mux = m->agent.link.mux;

	while (f->s && !f->a_fin_tx) {
		uint64_t left = f->a_rcvd - f->a_sent;
		size_t room, k;
		uint8_t *dst;
		bool fin;

		if (!left) {
			if (f->a_fin_rx && fy_mux_send_fin(mux, f->s) == 0)
				f->a_fin_tx = true;
			return;
		}
		dst = fy_mux_data_begin(mux, f->s, &room);
		if (!dst)
			return;
		k = room < left ? room : (size_t)left;
		ml_pattern_fill(&f->a_out, dst, k);
		f->a_sent += k;
		fin = f->a_fin_rx && f->a_sent == f->a_rcvd;
		fy_mux_data_commit(mux, f->s, k, fin);
		f->a_fin_tx = fin;
	}
}
