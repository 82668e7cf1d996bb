/* The public clients: K TCP connections to the relay's public port. "up":
 * each sends its share of the bytes and half-closes, then waits for the
 * EOF that the agent's FIN becomes. "down": each half-closes at once and
 * reads and checks its share. A flow counts as done when the client saw an
 * orderly close (relay/net's closed(0)) and the agent side saw both FINs. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>

#include "ml.h"

#define RECV_CHUNK 65536

struct ml_flow *ml_flow_by_port(struct ml *m, uint16_t lport)
{
	bool echo = ml_echo_workload(m->workload);

	/* Echo workloads reuse slots and ports: only a connection under way
	 * whose stream has not opened yet is the one. */
	for (unsigned i = 0; m->clients_started && i < m->nconns; i++)
		if (m->flows[i].lport == lport &&
		    (!echo || (m->flows[i].active && !m->flows[i].a_opened)))
			return &m->flows[i];
	return NULL;
}

void ml_flow_fail(struct ml_flow *f, const char *fmt, ...)
{
	va_list ap;

	if (f->failed)
		return;	/* the first reason is the useful one */
	f->failed = true;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
}

static int start_one(struct ml *m, struct ml_flow *f, unsigned i, uint64_t bytes)
{
	uint32_t rip;
	uint16_t rport;
	int e = 0;

	f->index = i;
	f->bytes = bytes;
	f->io.kind = ML_K_CLIENT;
	f->tab = ml_pattern_table(i);
	if (!f->tab)
		return -1;
	f->c_pat = (struct ml_pattern){ .tab = f->tab };
	f->io.c = tcp_connect(m->st, m->relay_ip, m->public_port, f, &e);
	if (!f->io.c) {
		ml_fail(m, "client %u: connect: %s", i, strerror(-e));
		return -1;
	}
	/* The OPEN carries this port: it is how the agent side finds the flow. */
	tcp_endpoints(f->io.c, &rip, &rport, &f->lport);
	return 0;
}

int ml_clients_start(struct ml *m)
{
	uint64_t share = m->total_bytes / m->nconns;

	m->target = m->nconns;
	m->t_start_us = ml_now_us();
	m->cpu_start_ns = ml_cpu_ns();
	for (unsigned i = 0; i < m->nconns; i++) {
		/* The first flow takes the remainder, so the total is exact. */
		uint64_t b = share + (i == 0 ? m->total_bytes % m->nconns : 0);

		if (start_one(m, &m->flows[i], i, b) < 0)
			return -1;
	}
	m->clients_started = true;
	return 0;
}

void ml_client_connected(struct ml *m, struct ml_flow *f, int err)
{
	if (err) {
		ml_flow_fail(f, "connect to the public port: %s", strerror(-err));
		ml_flow_check_done(m, f);
		return;
	}
	f->c_connected = true;
	if (m->workload == ML_DOWN) {
		tcp_shutdown_wr(f->io.c);	/* nothing to send: half-close now */
		f->c_shut = true;
	}
}

/* "up": push the pattern straight from its table into the send buffer. */
static void client_send(struct ml_flow *f)
{
	while (f->io.c && f->c_connected && !f->c_shut) {
		uint64_t left = f->bytes - f->c_sent;
		size_t k = ML_PAT_LEN - f->c_pat.off;
		long n;

		if (!left) {
			tcp_shutdown_wr(f->io.c);
			f->c_shut = true;
			return;
		}
		if (k > left)
			k = (size_t)left;
		n = tcp_send(f->io.c, f->c_pat.tab + f->c_pat.off, k);
		if (n == -EAGAIN || n == 0)
			return;	/* writable comes when there is room */
		if (n < 0) {
			ml_flow_fail(f, "client send: %s", strerror((int)-n));
			return;
		}
		f->c_pat.off = (f->c_pat.off + (size_t)n) % ML_PAT_LEN;
		f->c_sent += (uint64_t)n;
	}
}

static void client_recv(struct ml *m, struct ml_flow *f)
{
	static uint8_t buf[RECV_CHUNK];

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
		if (m->workload == ML_UP) {
			ml_flow_fail(f, "client got %ld bytes on an upload stream", n);
			continue;
		}
		f->mismatches += ml_pattern_check(&f->c_pat, buf, (size_t)n);
		f->c_rcvd += (uint64_t)n;
		if (f->c_rcvd > f->bytes)
			ml_flow_fail(f, "client got more than the %llu bytes sent",
				     (unsigned long long)f->bytes);
	}
}

void ml_client_event(struct ml *m, struct ml_flow *f, bool rd, bool wr)
{
	if (rd)
		client_recv(m, f);
	if (wr && m->workload == ML_UP)
		client_send(f);
}

void ml_client_closed(struct ml *m, struct ml_flow *f)
{
	if (f->io.reason)
		ml_flow_fail(f, "client connection ended: %s", strerror(-f->io.reason));
	ml_flow_check_done(m, f);
}

void ml_clients_step(struct ml *m)
{
	if (m->workload != ML_UP)
		return;
	for (unsigned i = 0; m->clients_started && i < m->nconns; i++)
		client_send(&m->flows[i]);
}

static bool flow_complete(const struct ml *m, const struct ml_flow *f)
{
	if (ml_echo_workload(m->workload))
		return f->c_sent == f->bytes && f->c_rcvd == f->bytes && f->c_eof &&
		       (m->loop || (f->a_rcvd == f->bytes && f->a_sent == f->bytes));
	if (m->workload == ML_UP)
		return f->c_sent == f->bytes && f->a_rcvd == f->bytes;
	return f->a_sent == f->bytes && f->c_rcvd == f->bytes;
}

void ml_flow_check_done(struct ml *m, struct ml_flow *f)
{
	bool over = f->io.closed && (f->a_done || f->failed);

	if (!over || f->counted)
		return;
	f->counted = true;
	if (!f->failed && !flow_complete(m, f))
		ml_flow_fail(f, "ended early: client sent %llu got %llu, agent sent %llu got %llu "
			     "of %llu", (unsigned long long)f->c_sent, (unsigned long long)f->c_rcvd,
			     (unsigned long long)f->a_sent, (unsigned long long)f->a_rcvd,
			     (unsigned long long)f->bytes);
	if (f->failed)
		ml_fail(m, "flow %u: %s", f->index, f->why);
	if (m->workload == ML_CHURN && !f->failed && m->nlat < m->lat_cap)
		m->lat[m->nlat++] = rte_rdtsc() - f->t0;	/* connect + echo + close */
	f->active = false;	/* churn: the slot may start again */
	if (++m->flows_done == m->target) {
		m->t_end_us = ml_now_us();
		m->cpu_end_ns = ml_cpu_ns();
	}
}
