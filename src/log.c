/*
 * log.c - writes operator log lines to standard error.
 *
 * Each line is "time level=... msg=\"...\"" followed by the caller's
 * key=value fields, written with one write(2) so lines from concurrent
 * requests never interleave.
 */
#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum log_level log_threshold = LVL_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	if (strcmp(name, "warning") == 0)
		return LVL_WARN;
	return -1;
}

void log_write(enum log_level level, const char *fmt, ...)
{
	char line[4096];
	char stamp[32];
	size_t n;
	va_list ap;
	int k;

	format_rfc3339(now_seconds(), stamp);
	k = snprintf(line, sizeof(line), "%s level=%s ", stamp,
		     level_names[level]);
	n = k > 0 ? (size_t)k : 0;

	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (k > 0)
		n += (size_t)k;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';

	if (write(STDERR_FILENO, line, n) == -1)
		return;
}
