/* Prometheus text exposition (format 0.0.4) for the admin API's /metrics:
 * a growing buffer, one family at a time (HELP, TYPE, its samples). Label
 * values are escaped as the format says. Used by metrics.c and by a
 * backend's be_metrics (DPDK: its stack's and port's counters). */
#ifndef FERRY_ADMIN_METRICS_H
#define FERRY_ADMIN_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct adm_metrics {
	char *buf;		/* owned */
	size_t len, cap;
	bool oom;
};

/* type: "counter" or "gauge". */
void adm_metrics_family(struct adm_metrics *m, const char *name, const char *type,
			const char *help);
/* One sample of the current family; label: NULL for none. */
void adm_metrics_u64(struct adm_metrics *m, const char *name, const char *label,
		     const char *value, uint64_t v);
void adm_metrics_f64(struct adm_metrics *m, const char *name, const char *label,
		     const char *value, double v);
/* A family with one unlabelled sample. */
void adm_metrics_one(struct adm_metrics *m, const char *name, const char *type, const char *help,
		     uint64_t v);

#endif
