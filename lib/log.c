/* Log lines for operators:
 *   2026-11-23T10:00:00.123Z WARN relay.mux on_frame: peer 192.0.2.7:4431: ...
 * Each line is formatted into a stack buffer and written with a single
 * write(2): no stdio lock, no allocation, and lines from different
 * threads never interleave. */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <ferry/log.h>

/* At most PIPE_BUF (4096 on Linux), so a write to a pipe or a journal
 * socket stays atomic; longer lines are cut and marked with "...". */
#define LINE_MAX_LEN	2048

#define RL_WINDOW_MS	1000u
#define RL_BURST	10u

/* The one mutable global: set once at start-up, read on every log call. */
static _Atomic int log_level = FY_LOG_INFO;

static const char *const level_names[] = {
	[FY_LOG_ERR] = "ERROR",
	[FY_LOG_WARN] = "WARN",
	[FY_LOG_INFO] = "INFO",
	[FY_LOG_DEBUG] = "DEBUG",
};

void fy_log_set_level(enum fy_log_level lvl)
{
	atomic_store_explicit(&log_level, (int)lvl, memory_order_relaxed);
}

enum fy_log_level fy_log_get_level(void)
{
	return (enum fy_log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

int fy_log_parse_level(const char *s, enum fy_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		/* "err" is the documented spelling; "error" is what the
		 * log line itself prints, so accept both. */
		if (!strcasecmp(s, level_names[i]) ||
		    (i == FY_LOG_ERR && !strcasecmp(s, "err"))) {
			*out = (enum fy_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Wall-clock UTC timestamp with milliseconds; returns its length. */
static int put_time(char *out, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
	return (int)n + snprintf(out + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Messages quote peer-supplied text (reasons, names): a newline or an
 * escape sequence in it must not forge a line or drive the terminal. */
static void scrub(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			s[i] = '?';
	}
}

static void write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;	/* nowhere left to report it */
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Formats and writes one line; the level check is the caller's. */
static void emit(enum fy_log_level lvl, const char *topic, const char *func,
		 const char *fmt, va_list ap)
{
	char line[LINE_MAX_LEN];
	const size_t room = sizeof(line) - 1;	/* keep one byte for '\n' */
	size_t n, msg;
	int r;
	int saved = errno;	/* callers may log and then look at errno */

	n = (size_t)put_time(line, room);
	r = snprintf(line + n, room - n, " %s %s %s: ", level_names[lvl], topic, func);
	n += r < 0 ? 0 : (size_t)r;
	if (n > room - 1)
		n = room - 1;
	msg = n;
	r = vsnprintf(line + n, room - n, fmt, ap);
	if (r >= 0 && (size_t)r >= room - n) {
		/* Cut: mark it so nobody mistakes it for the whole message. */
		n = room;
		line[n - 3] = line[n - 2] = line[n - 1] = '.';
	} else if (r > 0) {
		n += (size_t)r;
	}
	scrub(line + msg, n - msg);
	line[n++] = '\n';
	write_all(line, n);
	errno = saved;
}

static void emit_f(enum fy_log_level lvl, const char *topic, const char *func,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void emit_f(enum fy_log_level lvl, const char *topic, const char *func,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(lvl, topic, func, fmt, ap);
	va_end(ap);
}

void fy_log_write(enum fy_log_level lvl, const char *topic, const char *func,
		  const char *fmt, ...)
{
	va_list ap;

	if ((int)lvl < FY_LOG_ERR || (int)lvl > FY_LOG_DEBUG ||
	    lvl > fy_log_get_level())
		return;
	va_start(ap, fmt);
	emit(lvl, topic, func, fmt, ap);
	va_end(ap);
}

int fy_log_rl_allow(struct fy_log_rl *rl)
{
	uint64_t now = fy_now_ms();

	/* count == 0 only before the first line: start the first window. */
	if (rl->count == 0 || now - rl->window_start_ms >= RL_WINDOW_MS) {
		/* Written here rather than through fy_log_write: the caller
		 * already passed the level check for its own line, and the
		 * note must not be filtered away while that line is shown. */
		if (rl->dropped)
			emit_f(FY_LOG_WARN, "log", "rate-limit",
			       "%u similar lines suppressed", (unsigned)rl->dropped);
		rl->window_start_ms = now;
		rl->count = 0;
		rl->dropped = 0;
	}
	if (rl->count < RL_BURST) {
		rl->count++;
		return 1;
	}
	if (rl->dropped < UINT32_MAX)
		rl->dropped++;
	return 0;
}

void fy_log_sum_init(struct fy_log_sum *s, enum fy_log_level lvl, const char *topic,
		     const char *what, uint32_t interval_ms)
{
	memset(s, 0, sizeof(*s));
	s->lvl = lvl;
	s->topic = topic;
	s->what = what;
	s->interval_ms = interval_ms;
}

void fy_log_sum_flush(struct fy_log_sum *s, uint64_t now_ms)
{
	if (!s->open || now_ms - s->start_ms < s->interval_ms)
		return;
	if (s->count)
		fy_log_write(s->lvl, s->topic, "summary", "%lu more %s in the last %.0f s "
			     "(latest: %s)", s->count, s->what,
			     (double)(now_ms - s->start_ms) / 1000.0, s->last);
	s->open = false;
	s->count = 0;
}

void fy_log_sum_event(struct fy_log_sum *s, uint64_t now_ms, const char *fmt, ...)
{
	char msg[sizeof(s->last)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fy_log_sum_flush(s, now_ms);
	if (!s->open) {
		s->open = true;
		s->start_ms = now_ms;
		fy_log_write(s->lvl, s->topic, "summary", "%s (more %s within %u s are counted "
			     "and reported in one line)", msg, s->what, s->interval_ms / 1000);
		return;
	}
	s->count++;
	memcpy(s->last, msg, sizeof(msg));
}
