/* Logging for operators: level, topic, function, message.
 * Thread-safe (one write(2) per line). Data-path callers use FY_LOG_RL,
 * which drops lines past a per-call-site budget of 10 per second. */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "ferry/clock.h"

enum fy_log_level { FY_LOG_ERR = 0, FY_LOG_WARN, FY_LOG_INFO, FY_LOG_DEBUG };

/* Lines above this level are dropped. Set once at start, before threads. */
void fy_log_set_level(enum fy_log_level lvl);
enum fy_log_level fy_log_get_level(void);
/* Parses "err|warn|info|debug"; returns 0 or -EINVAL. */
int fy_log_parse_level(const char *s, enum fy_log_level *out);

void fy_log_write(enum fy_log_level lvl, const char *topic, const char *func,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Rate limit state for one call site; zero-initialised static. */
struct fy_log_rl { uint64_t window_start_ms; uint32_t count; uint32_t dropped; };
/* Returns 1 when the line may be written (and reports drops since last). */
int fy_log_rl_allow(struct fy_log_rl *rl);

/* A summary for events that come in floods (refused logins, say): the
 * first of an interval is written in full, the rest are counted, and one
 * line reports their number when the interval is over. One owner thread;
 * the owner calls fy_log_sum_flush from its timer. */
struct fy_log_sum {
	enum fy_log_level lvl;
	const char *topic;
	const char *what;		/* "agents refused", for the summary */
	uint32_t interval_ms;
	bool open;			/* an interval is running */
	uint64_t start_ms;
	unsigned long count;		/* counted, not written, this interval */
	char last[240];			/* the latest of them */
};
void fy_log_sum_init(struct fy_log_sum *s, enum fy_log_level lvl, const char *topic,
		     const char *what, uint32_t interval_ms);
void fy_log_sum_event(struct fy_log_sum *s, uint64_t now_ms, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void fy_log_sum_flush(struct fy_log_sum *s, uint64_t now_ms);

#define FY_LOG(lvl, topic, ...) \
	do { if ((lvl) <= fy_log_get_level()) \
		fy_log_write((lvl), (topic), __func__, __VA_ARGS__); } while (0)
#define FY_ERR(topic, ...)   FY_LOG(FY_LOG_ERR, topic, __VA_ARGS__)
#define FY_WARN(topic, ...)  FY_LOG(FY_LOG_WARN, topic, __VA_ARGS__)
#define FY_INFO(topic, ...)  FY_LOG(FY_LOG_INFO, topic, __VA_ARGS__)
#define FY_DEBUG(topic, ...) FY_LOG(FY_LOG_DEBUG, topic, __VA_ARGS__)
/* Rate-limited variant for anything a peer can trigger repeatedly. Each
 * call site gets its own thread-local budget, so no locks are needed. */
#define FY_LOG_RL(lvl, topic, ...) \
	do { static _Thread_local struct fy_log_rl rl_; \
	     if ((lvl) <= fy_log_get_level() && fy_log_rl_allow(&rl_)) \
		fy_log_write((lvl), (topic), __func__, __VA_ARGS__); } while (0)

#endif
