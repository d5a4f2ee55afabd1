/*
 * log.h - operator logs: four levels, key=value fields, one line each.
 *
 * The level is checked before any formatting happens, so a debug line in a
 * hot path costs one comparison when debug logging is off.  Messages are
 * lowercase and say what went wrong first, then the fields:
 *   log_error("blob write failed repo=%s digest=%s err=%s", ...)
 * Never pass a secret (password, token, cookie) to these functions.
 */
#ifndef BERTH_LOG_H
#define BERTH_LOG_H

enum log_level { LVL_ERROR = 0, LVL_WARN, LVL_INFO, LVL_DEBUG };

extern enum log_level log_threshold;

void log_write(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parses "error", "warn", "info" or "debug"; returns -1 for anything else. */
int log_level_parse(const char *name);

#define log_at(level, ...)                              \
	do {                                            \
		if ((level) <= log_threshold)           \
			log_write((level), __VA_ARGS__); \
	} while (0)

#define log_error(...) log_at(LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(LVL_WARN, __VA_ARGS__)
#define log_info(...) log_at(LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LVL_DEBUG, __VA_ARGS__)

#endif
