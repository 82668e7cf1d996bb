/* Counters readable while the DPDK relay runs, through DPDK telemetry
 * (the EAL's socket /var/run/dpdk/<file-prefix>/dpdk_telemetry.v2; read
 * with `ferry-relay stats` or dpdk-telemetry.py):
 *
 *   /ferry/counters      every counter summed over the worker lcores, plus
 *                        the pool and the port's own statistics
 *   /ferry/worker,N      worker N's counters
 *
 * The lcores never wait for a reader: each copies its counters into its
 * struct dstats under a seqlock every DSTATS_PERIOD_US, and readers retry
 * when they raced a copy. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include "../admin/metrics.h"
#include "dworker.h"
#include "ferry/log.h"

static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dworker *tel_dws;	/* NULL: no relay running */
static unsigned tel_n;
static struct rte_mempool *tel_pool;
static bool tel_registered;

static const char *const dw_counter_names[] = {
#define DW_COUNTER_NAME(n) #n,
	DW_COUNTERS(DW_COUNTER_NAME)
#undef DW_COUNTER_NAME
};
#define DW_NCOUNTERS (sizeof(dw_counter_names) / sizeof(dw_counter_names[0]))

/* The published block is read while it may be written: word by word,
 * with relaxed atomics (the sequence count says whether it was torn). */
static void words_store(uint64_t *dst, const uint64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		__atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
}

static void words_load(uint64_t *dst, const uint64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void dstats_publish(struct dworker *dw, uint64_t now_us)
{
	unsigned seq = atomic_load_explicit(&dw->pub.seq, memory_order_relaxed);

	atomic_store_explicit(&dw->pub.seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	words_store((uint64_t *)&dw->pub.net, (const uint64_t *)net_counters(dw->st),
		    sizeof(dw->pub.net) / 8);
	words_store((uint64_t *)&dw->pub.dw, (const uint64_t *)&dw->cnt, sizeof(dw->pub.dw) / 8);
	__atomic_store_n(&dw->pub.conns, dw->conns, __ATOMIC_RELAXED);
	atomic_store_explicit(&dw->pub.seq, seq + 2, memory_order_release);
	dw->published_us = now_us;
}

static void snapshot(struct dworker *dw, struct dstats *out)
{
	for (;;) {
		unsigned s1 = atomic_load_explicit(&dw->pub.seq, memory_order_acquire), s2;

		if (s1 & 1)
			continue;	/* being written: a copy takes microseconds */
		words_load((uint64_t *)&out->net, (const uint64_t *)&dw->pub.net,
			   sizeof(out->net) / 8);
		words_load((uint64_t *)&out->dw, (const uint64_t *)&dw->pub.dw, sizeof(out->dw) / 8);
		out->conns = __atomic_load_n(&dw->pub.conns, __ATOMIC_RELAXED);
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&dw->pub.seq, memory_order_relaxed);
		if (s1 == s2)
			return;
	}
}

/* Adds b's counters to a's. */
static void accumulate(struct dstats *a, const struct dstats *b)
{
	uint64_t *an = (uint64_t *)&a->net, *ad = (uint64_t *)&a->dw;
	const uint64_t *bn = (const uint64_t *)&b->net, *bd = (const uint64_t *)&b->dw;

	for (size_t i = 0; i < net_counter_count; i++)
		an[i] += bn[i];
	for (size_t i = 0; i < DW_NCOUNTERS; i++)
		ad[i] += bd[i];
	a->conns += b->conns;
}

static void put_counters(struct rte_tel_data *d, const struct dstats *s)
{
	const uint64_t *n = (const uint64_t *)&s->net, *w = (const uint64_t *)&s->dw;

	for (size_t i = 0; i < DW_NCOUNTERS; i++)
		rte_tel_data_add_dict_u64(d, dw_counter_names[i], w[i]);
	rte_tel_data_add_dict_u64(d, "conns", s->conns);
	for (size_t i = 0; i < net_counter_count; i++)
		rte_tel_data_add_dict_u64(d, net_counter_names[i], n[i]);
}

static int tel_counters(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dstats sum, one;
	struct rte_eth_stats ps;
	int rc = -EAGAIN;

	(void)cmd;
	(void)params;
	memset(&sum, 0, sizeof(sum));
	pthread_mutex_lock(&tel_lock);
	if (tel_dws) {
		for (unsigned i = 0; i < tel_n; i++) {
			snapshot(&tel_dws[i], &one);
			accumulate(&sum, &one);
		}
		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_u64(d, "workers", tel_n);
		rte_tel_data_add_dict_u64(d, "tsc_hz", rte_get_tsc_hz());
		rte_tel_data_add_dict_u64(d, "pool_size", tel_pool->size);
		rte_tel_data_add_dict_u64(d, "pool_avail", rte_mempool_avail_count(tel_pool));
		if (rte_eth_stats_get(tel_dws[0].port_id, &ps) == 0) {
			rte_tel_data_add_dict_u64(d, "port_ipackets", ps.ipackets);
			rte_tel_data_add_dict_u64(d, "port_opackets", ps.opackets);
			rte_tel_data_add_dict_u64(d, "port_imissed", ps.imissed);
			rte_tel_data_add_dict_u64(d, "port_ierrors", ps.ierrors);
			rte_tel_data_add_dict_u64(d, "port_oerrors", ps.oerrors);
			rte_tel_data_add_dict_u64(d, "port_rx_nombuf", ps.rx_nombuf);
		}
		put_counters(d, &sum);
		rc = 0;
	}
	pthread_mutex_unlock(&tel_lock);
	return rc;
}

static int tel_worker(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dstats one;
	char *end;
	unsigned long i;
	int rc = -EINVAL;

	(void)cmd;
	if (!params || !*params)
		return -EINVAL;
	i = strtoul(params, &end, 10);
	if (*end)
		return -EINVAL;
	pthread_mutex_lock(&tel_lock);
	if (tel_dws && i < tel_n) {
		snapshot(&tel_dws[i], &one);
		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_u64(d, "worker", i);
		rte_tel_data_add_dict_u64(d, "queue", tel_dws[i].queue);
		put_counters(d, &one);
		rc = 0;
	}
	pthread_mutex_unlock(&tel_lock);
	return rc;
}

void dstats_register(struct dworker *dws, unsigned n, struct rte_mempool *pool)
{
	for (unsigned i = 0; i < n; i++)
		atomic_init(&dws[i].pub.seq, 0);
	pthread_mutex_lock(&tel_lock);
	tel_dws = dws;
	tel_n = n;
	tel_pool = pool;
	pthread_mutex_unlock(&tel_lock);
	/* Commands cannot be removed from DPDK telemetry: registered once,
	 * they answer -EAGAIN while no relay runs. */
	if (!tel_registered) {
		tel_registered = true;
		if (rte_telemetry_register_cmd("/ferry/counters", tel_counters,
					       "ferry relay counters, summed over the worker lcores") ||
		    rte_telemetry_register_cmd("/ferry/worker", tel_worker,
					       "one worker lcore's counters. Parameters: int worker id"))
			FY_WARN("relay", "cannot register the /ferry/ telemetry commands: "
				"counters are logged at exit only");
	}
}

void dstats_unregister(void)
{
	pthread_mutex_lock(&tel_lock);
	tel_dws = NULL;
	tel_n = 0;
	tel_pool = NULL;
	pthread_mutex_unlock(&tel_lock);
}

void dstats_log(const struct dworker *dws, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const struct net_counters *c = net_counters(dws[i].st);
		const uint64_t *v = (const uint64_t *)c, *w = (const uint64_t *)&dws[i].cnt;
		char line[3072];
		size_t off = 0;

		FY_INFO("relay", "worker %u: rx %llu frames, tx %llu frames, tx dropped %llu, "
			"retransmits %llu, bad checksums %llu", i, (unsigned long long)c->rx_frames,
			(unsigned long long)c->tx_frames, (unsigned long long)dws[i].cnt.tx_dropped,
			(unsigned long long)c->tcp_retransmits,
			(unsigned long long)(c->ip_bad_csum + c->tcp_bad_csum));
		/* Every non-zero counter, by name: drops are counted by reason. */
		line[0] = 0;
		for (size_t k = 0; k < DW_NCOUNTERS && off < sizeof(line) - 64; k++)
			if (w[k])
				off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=%llu",
							dw_counter_names[k], (unsigned long long)w[k]);
		for (size_t k = 0; k < net_counter_count && off < sizeof(line) - 64; k++)
			if (v[k])
				off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=%llu",
							net_counter_names[k], (unsigned long long)v[k]);
		FY_INFO("relay", "worker %u counters:%s", i, line);
	}
}

/* The same counters as /ferry/counters, for the admin API's /metrics:
 * ferry_dpdk_<name>_total per counter (levels as gauges), summed over
 * the lcores, with the pool and the port's own statistics. */
static bool is_level(const char *name)
{
	return !strcmp(name, "steer_entries") || !strcmp(name, "conns");
}

static void metric(struct adm_metrics *m, const char *name, uint64_t v, bool level)
{
	char full[96];

	snprintf(full, sizeof(full), "ferry_dpdk_%s%s", name, level ? "" : "_total");
	adm_metrics_one(m, full, level ? "gauge" : "counter",
			"DPDK backend counter (as ferry-relay stats shows it).", v);
}

void dstats_metrics(struct relay *r, struct adm_metrics *m)
{
	struct dstats sum, one;
	struct rte_eth_stats ps;
	const uint64_t *n, *w;

	(void)r;
	memset(&sum, 0, sizeof(sum));
	pthread_mutex_lock(&tel_lock);
	if (!tel_dws) {
		pthread_mutex_unlock(&tel_lock);
		return;
	}
	for (unsigned i = 0; i < tel_n; i++) {
		snapshot(&tel_dws[i], &one);
		accumulate(&sum, &one);
	}
	adm_metrics_one(m, "ferry_dpdk_pool_size", "gauge", "mbufs in the pool.", tel_pool->size);
	adm_metrics_one(m, "ferry_dpdk_pool_available", "gauge", "mbufs free in the pool.",
			rte_mempool_avail_count(tel_pool));
	adm_metrics_one(m, "ferry_dpdk_tsc_hz", "gauge", "TSC ticks per second.", rte_get_tsc_hz());
	if (rte_eth_stats_get(tel_dws[0].port_id, &ps) == 0) {
		metric(m, "port_ipackets", ps.ipackets, false);
		metric(m, "port_opackets", ps.opackets, false);
		metric(m, "port_imissed", ps.imissed, false);
		metric(m, "port_ierrors", ps.ierrors, false);
		metric(m, "port_oerrors", ps.oerrors, false);
		metric(m, "port_rx_nombuf", ps.rx_nombuf, false);
	}
	pthread_mutex_unlock(&tel_lock);
	n = (const uint64_t *)&sum.net;
	w = (const uint64_t *)&sum.dw;
	for (size_t i = 0; i < DW_NCOUNTERS; i++)
		metric(m, dw_counter_names[i], w[i], is_level(dw_counter_names[i]));
	metric(m, "conns", sum.conns, true);
	for (size_t i = 0; i < net_counter_count; i++)
		metric(m, net_counter_names[i], n[i], false);
}
