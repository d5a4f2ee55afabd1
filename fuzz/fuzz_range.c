/*
 * fuzz_range.c - the Range header of blob GETs (ref_parse_range).
 *
 * Input: the object's size in decimal on the first line, the header
 * value after it (seeds stay readable: "1000\nbytes=0-99").  The answer
 * decides which file offsets berth reads, so it is compared with a
 * second, deliberately plain reading of RFC 9110's single-range forms
 * built on regexec and strtoull; any disagreement fails.
 */
#include "fuzz.h"
#include "ref.h"

#include <errno.h>
#include <regex.h>

static regex_t span_re, suffix_re;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (regcomp(&span_re,
		    "^[ \t]*[bB][yY][tT][eE][sS]=([0-9]+)-([0-9]*)[ \t]*$",
		    REG_EXTENDED) != 0 ||
	    regcomp(&suffix_re, "^[ \t]*[bB][yY][tT][eE][sS]=-([0-9]+)[ \t]*$",
		    REG_EXTENDED) != 0)
		abort();
	return 0;
}

/* Digits of a match; too large a value saturates, as an offset may. */
static uint64_t number_at(const char *s, const regmatch_t *m)
{
	char digits[4096];
	size_t n = (size_t)(m->rm_eo - m->rm_so);
	unsigned long long v;

	if (n >= sizeof(digits))
		return UINT64_MAX;
	memcpy(digits, s + m->rm_so, n);
	digits[n] = '\0';
	errno = 0;
	v = strtoull(digits, NULL, 10);
	return errno == ERANGE ? UINT64_MAX : v;
}

/* The expected answer: ref_parse_range's return value and range. */
static int expected(const char *h, uint64_t size, uint64_t *first,
		    uint64_t *last)
{
	regmatch_t m[3];
	uint64_t a, b;

	if (regexec(&suffix_re, h, 2, m, 0) == 0) {
		a = number_at(h, &m[1]);
		if (a == 0 || size == 0)
			return 1;
		*first = a >= size ? 0 : size - a;
		*last = size - 1;
		return 0;
	}
	if (regexec(&span_re, h, 3, m, 0) != 0)
		return -1;

	a = number_at(h, &m[1]);
	b = m[2].rm_eo > m[2].rm_so ? number_at(h, &m[2]) : UINT64_MAX;
	if (b < a)
		return -1;
	if (a >= size)
		return 1;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *rest;
	size_t rest_len;
	char *size_line, *header;
	uint64_t objsize, first = 7, last = 7, want_first = 9, want_last = 9;
	int rc, want;

	fuzz_split(data, size, '\n', &size_line, &rest, &rest_len);
	if (ref_parse_u64(size_line, &objsize) != 0)
		objsize = strlen(size_line);
	header = fuzz_cstring(rest, rest_len);

	rc = ref_parse_range(header, objsize, &first, &last);
	want = expected(header, objsize, &want_first, &want_last);
	if (rc != want)
		fprintf(stderr, "size=%llu header=\"%s\" rc=%d want=%d\n",
			(unsigned long long)objsize, header, rc, want);
	FUZZ_CHECK(rc == want);
	if (rc == 0) {
		FUZZ_CHECK(first <= last && last < objsize);
		FUZZ_CHECK(first == want_first && last == want_last);
	}

	free(size_line);
	free(header);
	return 0;
}
