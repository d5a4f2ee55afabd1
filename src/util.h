/*
 * util.h - memory and byte-buffer helpers shared by every module.
 *
 * Out-of-memory policy: berth does not try to limp on without memory.  The
 * x* allocators print a message and abort, so callers never check for NULL.
 */
#ifndef BERTH_UTIL_H
#define BERTH_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Writes a formatted message into err (errlen bytes, may be 0), for
 * functions that report why they failed through a caller's buffer.
 */
void set_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A growable byte buffer, always NUL-terminated after len bytes. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT                                                               \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
/* Hands the bytes to the caller (who frees them) and empties b. */
char *buf_detach(struct buf *b, size_t *len);
void buf_free(struct buf *b);

/* Current wall-clock time in seconds and in nanoseconds since the epoch. */
int64_t now_seconds(void);
uint64_t now_monotonic_ns(void);

/* Formats t (seconds since the epoch) as RFC 3339 UTC into out[32]. */
void format_rfc3339(int64_t t, char out[32]);

/* Writes n bytes of in as 2n lowercase hex digits and a NUL into out. */
void hex_encode(const unsigned char *in, size_t n, char *out);

#endif
