/*
 * log.h - operator logs and the access log: one line per record, in the
 * format log.formatter names (text, json or logfmt).
 *
 * The level is checked before any formatting happens, so a debug line in a
 * hot path costs one comparison when debug logging is off.  Messages are
 * lowercase and say what went wrong first, then the fields:
 *   log_error("blob write failed repo=%s digest=%s err=%s", ...)
 * The json and logfmt formats split such a line into its message and its
 * key=value fields, so callers write one way whatever the format.
 * Never pass a secret (password, token, cookie) to these functions.
 *
 * Operator logs go to standard error; the access log (one record per
 * request) goes to standard output, as registry:2 does, so the two can be
 * routed apart.
 */
#ifndef BERTH_LOG_H
#define BERTH_LOG_H

#include <stdbool.h>
#include <stdint.h>

/* LVL_NONE as the threshold silences everything, e.g. while a first
 * pass over the configuration only learns which format to log in. */
enum log_level {
	LVL_NONE = -1,
	LVL_ERROR = 0,
	LVL_WARN,
	LVL_INFO,
	LVL_DEBUG,
};

enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON, LOG_FORMAT_LOGFMT };

extern enum log_level log_threshold;

void log_write(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parses "error", "warn", "info" or "debug"; returns -1 for anything else. */
int log_level_parse(const char *name);

/*
 * Selects the format of every later line by its configuration name,
 * "text", "json" or "logfmt".  Returns 0, or -1 (nothing changed) for
 * any other name.  Safe to call while other threads log.
 */
int log_set_formatter(const char *name);
enum log_format log_formatter(void);

/*
 * Turns the access log on or off (log.accesslog.disabled).  It is on at
 * start.  Safe to call while other threads log.
 */
void log_set_access(bool enabled);
bool log_access_enabled(void);

/*
 * One request as the access log records it.  Strings may be NULL when
 * unknown (user when nobody logged in, repository and digest when the
 * request named none); they are escaped as the format needs, so a path
 * holding quotes or newlines still makes one line.
 */
struct log_access_entry {
	const char *client; /* the peer's address */
	const char *user;   /* the authenticated user */
	const char *method;
	const char *path;
	int status;
	uint64_t bytes_in;  /* request body bytes received */
	uint64_t bytes_out; /* response body bytes sent */
	double seconds;	    /* from the request line to the last byte */
	const char *repository;
	const char *digest;
	bool aborted; /* the connection ended before completion */
};

/*
 * Writes one access log record to standard output, unless the access log
 * is off.  It does not depend on the log level.
 */
void log_access(const struct log_access_entry *e);

#define log_at(level, ...)                                                     \
	do {                                                                   \
		if ((level) <= log_threshold)                                  \
			log_write((level), __VA_ARGS__);                       \
	} while (0)

#define log_error(...) log_at(LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(LVL_WARN, __VA_ARGS__)
#define log_info(...) log_at(LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LVL_DEBUG, __VA_ARGS__)

#endif
