/*
 * fuzz.h - helpers shared by berth's libFuzzer targets.
 *
 * Each target feeds one parser of untrusted input with the fuzzer's
 * bytes and then checks what the parser promised about its result, so
 * a wrong answer stops the run as surely as a memory error does.  A
 * broken promise is reported on stderr and ends in abort(), which
 * libFuzzer records as a crash with the input that caused it.
 */
#ifndef BERTH_FUZZ_H
#define BERTH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: broken promise: %s\n",         \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

/*
 * Copies size bytes of data into a new heap block of exactly that many
 * bytes plus a terminating NUL, so a read past the end of the string
 * trips AddressSanitizer.  The string ends at the first NUL of data,
 * as a C string from a request would.  The caller frees it.
 */
static inline char *fuzz_cstring(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * Splits data at the first occurrence of sep: *head gets the bytes
 * before it (a new NUL-terminated string) and *rest, *rest_len what
 * follows, pointing into data.  Without sep, everything is the head.
 */
static inline void fuzz_split(const uint8_t *data, size_t size, uint8_t sep,
			      char **head, const uint8_t **rest,
			      size_t *rest_len)
{
	const uint8_t *at = memchr(data, sep, size);
	size_t n = at ? (size_t)(at - data) : size;

	*head = fuzz_cstring(data, n);
	*rest = at ? at + 1 : data + size;
	*rest_len = at ? size - n - 1 : 0;
}

#endif
