/*
 * log.c - writes operator log lines to standard error and access log
 * records to standard output, in one of three formats.
 *
 *   text     2024-05-01T10:00:00.123Z level=info berth serving port=5000
 *   logfmt   time=2024-05-01T10:00:00.123Z level=info msg="berth serving"
 *            port=5000
 *   json     {"time":"...","level":"info","msg":"berth serving",
 *            "port":"5000"}
 *
 * Callers format a message followed by key=value fields, as log.h asks.
 * For logfmt and json that line is split again: the message is the text
 * before the first "key=", each field runs to the next " key=", and a
 * value may be written in double quotes.  Control characters are always
 * escaped, so every record is exactly one line, whatever a client put in
 * a path.  Each record is written with one write(2) where the system
 * allows, so lines from concurrent requests do not interleave.
 */
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum log_level log_threshold = LVL_INFO;

/* Read on every line by many threads, set by a reload: atomics. */
static int log_format_current = LOG_FORMAT_TEXT;
static int log_access_on = 1;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char *const format_names[] = {"text", "json", "logfmt"};

/* Keys berth writes itself; a caller's field of the same name is renamed. */
static const char *const reserved_keys[] = {"time", "level", "msg", NULL};

int log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	if (strcmp(name, "warning") == 0)
		return LVL_WARN;
	return -1;
}

int log_set_formatter(const char *name)
{
	for (int i = 0; i < 3; i++) {
		if (strcmp(name, format_names[i]) == 0) {
			__atomic_store_n(&log_format_current, i,
					 __ATOMIC_RELAXED);
			return 0;
		}
	}
	return -1;
}

enum log_format log_formatter(void)
{
	return (enum log_format)__atomic_load_n(&log_format_current,
						__ATOMIC_RELAXED);
}

void log_set_access(bool enabled)
{
	__atomic_store_n(&log_access_on, enabled ? 1 : 0, __ATOMIC_RELAXED);
}

bool log_access_enabled(void)
{
	return __atomic_load_n(&log_access_on, __ATOMIC_RELAXED) != 0;
}

/* ---- escaping -------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;

	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/*
 * Appends s[0..n) as the inside of a JSON string.  A byte that is not
 * part of valid UTF-8 is written as the code point of the same number,
 * so the output is always valid JSON.
 */
static void json_escape(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t seq = utf8_seq(p + i, n - i);

		if (p[i] == '"' || p[i] == '\\') {
			buf_addf(b, "\\%c", p[i]);
		} else if (p[i] == '\n') {
			buf_adds(b, "\\n");
		} else if (p[i] == '\t') {
			buf_adds(b, "\\t");
		} else if (p[i] < 0x20 || p[i] == 0x7f || seq == 0) {
			buf_addf(b, "\\u%04x", p[i]);
			i++;
			continue;
		} else {
			buf_add(b, p + i, seq);
			i += seq;
			continue;
		}
		i++;
	}
}

static void json_string(struct buf *b, const char *s, size_t n)
{
	buf_adds(b, "\"");
	json_escape(b, s, n);
	buf_adds(b, "\"");
}

static bool logfmt_needs_quotes(const char *s, size_t n)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == '=' || c == '"' || c == 0x7f)
			return true;
	}
	return false;
}

/* Appends a logfmt value, quoted and escaped when it must be. */
static void logfmt_value(struct buf *b, const char *s, size_t n)
{
	if (!logfmt_needs_quotes(s, n)) {
		buf_add(b, s, n);
		return;
	}
	buf_adds(b, "\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			buf_addf(b, "\\%c", c);
		else if (c == '\n')
			buf_adds(b, "\\n");
		else if (c == '\t')
			buf_adds(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			buf_addf(b, "\\x%02x", c);
		else
			buf_add(b, &s[i], 1);
	}
	buf_adds(b, "\"");
}

/* Appends s with only its control characters escaped (the text format). */
static void text_escape(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			buf_adds(b, "\\n");
		else if (c < 0x20 || c == 0x7f)
			buf_addf(b, "\\x%02x", c);
		else
			buf_add(b, &s[i], 1);
	}
}

/* ---- splitting a message into its fields ------------------------------ */

struct log_field {
	const char *key;
	size_t klen;
	const char *val;
	size_t vlen;
};

/* Length of "key" when s starts with "key=" (key: [A-Za-z_][\w.-]*). */
static size_t key_at(const char *s)
{
	size_t n = 0;

	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
	      *s == '_'))
		return 0;
	while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
	       (s[n] >= '0' && s[n] <= '9') || s[n] == '_' || s[n] == '.' ||
	       s[n] == '-')
		n++;
	return s[n] == '=' ? n : 0;
}

/* The next position at or after s that starts " key=", or the end. */
static const char *next_field(const char *s)
{
	for (; *s; s++)
		if (*s == ' ' && key_at(s + 1))
			return s;
	return s;
}

/*
 * Reads the field at *sp (which starts with "key=") and moves *sp to the
 * one after it.  A quoted value ends at a quote followed by a space or
 * the end, so quotes inside it need no escaping; an unquoted one runs to
 * the next " key=", so "err=No such file" keeps its words.
 */
static void field_read(const char **sp, struct log_field *f)
{
	const char *s = *sp, *end;

	f->key = s;
	f->klen = key_at(s);
	s += f->klen + 1;

	if (*s == '"') {
		for (end = s + 1; *end; end++)
			if (*end == '"' && (end[1] == ' ' || !end[1]))
				break;
		f->val = s + 1;
		f->vlen = (size_t)(end - f->val);
		s = *end ? end + 1 : end;
	} else {
		end = next_field(s);
		f->val = s;
		f->vlen = (size_t)(end - s);
		s = end;
	}

	while (*s == ' ')
		s++;
	if (*s && !key_at(s)) /* words after a quoted value */
		s = next_field(s);
	while (*s == ' ')
		s++;
	*sp = s;
}

static const char *message_end(const char *line)
{
	if (key_at(line))
		return line;
	return next_field(line);
}

static void add_key(struct buf *b, const char *key, size_t klen)
{
	for (int i = 0; reserved_keys[i]; i++)
		if (strlen(reserved_keys[i]) == klen &&
		    !strncmp(reserved_keys[i], key, klen))
			buf_adds(b, "fields.");
	buf_add(b, key, klen);
}

/* ---- records ---------------------------------------------------------- */

/* "2024-05-01T10:00:00.123Z" into out[32]. */
static void log_stamp(char out[32])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void begin_record(struct buf *b, enum log_format fmt, const char *level,
			 const char *msg, size_t msglen)
{
	char stamp[32];

	log_stamp(stamp);
	if (fmt == LOG_FORMAT_JSON) {
		buf_addf(b, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", stamp,
			 level);
		json_string(b, msg, msglen);
	} else if (fmt == LOG_FORMAT_LOGFMT) {
		buf_addf(b, "time=%s level=%s msg=", stamp, level);
		logfmt_value(b, msg, msglen);
	} else {
		buf_addf(b, "%s level=%s ", stamp, level);
		text_escape(b, msg, msglen);
	}
}

/* Adds one field; json values are strings unless raw is set. */
static void add_field(struct buf *b, enum log_format fmt, const char *key,
		      size_t klen, const char *val, size_t vlen, bool raw)
{
	if (fmt == LOG_FORMAT_JSON) {
		buf_adds(b, ",\"");
		add_key(b, key, klen);
		buf_adds(b, "\":");
		if (raw)
			buf_add(b, val, vlen);
		else
			json_string(b, val, vlen);
		return;
	}
	buf_adds(b, " ");
	add_key(b, key, klen);
	buf_adds(b, "=");
	logfmt_value(b, val, vlen);
}

static void end_record(struct buf *b, enum log_format fmt)
{
	if (fmt == LOG_FORMAT_JSON)
		buf_adds(b, "}");
	buf_adds(b, "\n");
}

/* Writes the whole record, retrying short writes; errors are dropped. */
static void emit(int fd, const struct buf *b)
{
	size_t off = 0;

	while (off < b->len) {
		ssize_t n = write(fd, b->data + off, b->len - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return;
		off += (size_t)n;
	}
}

/* Renders a caller's "message key=value ..." line in format fmt. */
static void render_line(struct buf *b, enum log_format fmt, const char *level,
			const char *line)
{
	const char *fields = message_end(line);
	size_t msglen = (size_t)(fields - line);

	if (fmt == LOG_FORMAT_TEXT) {
		begin_record(b, fmt, level, line, strlen(line));
		end_record(b, fmt);
		return;
	}

	while (msglen > 0 && line[msglen - 1] == ' ')
		msglen--;
	begin_record(b, fmt, level, line, msglen);
	while (*fields == ' ')
		fields++;
	while (*fields) {
		struct log_field f;

		field_read(&fields, &f);
		add_field(b, fmt, f.key, f.klen, f.val, f.vlen, false);
	}
	end_record(b, fmt);
}

void log_write(enum log_level level, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	char line[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	render_line(&b, log_formatter(), level_names[level], line);
	emit(STDERR_FILENO, &b);
	buf_free(&b);
}

static void access_str(struct buf *b, enum log_format fmt, const char *key,
		       const char *val)
{
	if (val)
		add_field(b, fmt, key, strlen(key), val, strlen(val), false);
}

/* A number: raw in json, a plain word in the others. */
static void access_num(struct buf *b, enum log_format fmt, const char *key,
		       const char *numfmt, ...)
	__attribute__((format(printf, 4, 5)));

static void access_num(struct buf *b, enum log_format fmt, const char *key,
		       const char *numfmt, ...)
{
	char num[64];
	va_list ap;

	va_start(ap, numfmt);
	vsnprintf(num, sizeof(num), numfmt, ap);
	va_end(ap);
	add_field(b, fmt, key, strlen(key), num, strlen(num), true);
}

void log_access(const struct log_access_entry *e)
{
	enum log_format fmt = log_formatter();
	struct buf b = BUF_INIT;

	if (!log_access_enabled())
		return;

	begin_record(&b, fmt, "info", "access", 6);
	access_str(&b, fmt, "client", e->client);
	access_str(&b, fmt, "user", e->user);
	access_str(&b, fmt, "method", e->method);
	access_str(&b, fmt, "path", e->path);
	access_num(&b, fmt, "status", "%d", e->status);
	access_num(&b, fmt, "bytes_in", "%llu",
		   (unsigned long long)e->bytes_in);
	access_num(&b, fmt, "bytes_out", "%llu",
		   (unsigned long long)e->bytes_out);
	access_num(&b, fmt, "duration", "%.6f", e->seconds);
	access_str(&b, fmt, "repository", e->repository);
	access_str(&b, fmt, "digest", e->digest);
	if (e->aborted)
		access_num(&b, fmt, "aborted", "%s", "true");
	end_record(&b, fmt);

	emit(STDOUT_FILENO, &b);
	buf_free(&b);
}
