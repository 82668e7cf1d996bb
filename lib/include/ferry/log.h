/* Logging for operators: level, topic, function, message.
 * Thread-safe (one write(2) per line). Data-path callers use FY_LOG_RL,
 * which drops lines past a per-call-site budget of 10 per second. */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdint.h>

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

/* Monotonic milliseconds. */
uint64_t fy_now_ms(void);

#endif
