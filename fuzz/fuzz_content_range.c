/*
 * fuzz_content_range.c - the Content-Range header of upload chunks
 * (ref_parse_content_range).
 *
 * The range decides where a chunk is written in an upload, so the
 * parser's answer is compared with a second, plain reading of the two
 * forms berth takes, "<first>-<last>" and "bytes <first>-<last>/<total
 * or *>", built on regexec and strtoull.  Numbers that do not fit in 64
 * bits must be refused rather than wrapped.
 */
#include "fuzz.h"
#include "ref.h"

#include <errno.h>
#include <regex.h>

static regex_t bare_re, unit_re;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (regcomp(&bare_re, "^[ \t]*([0-9]+)-([0-9]+)[ \t]*$",
		    REG_EXTENDED) != 0 ||
	    regcomp(&unit_re,
		    "^[ \t]*[bB][yY][tT][eE][sS] ([0-9]+)-([0-9]+)"
		    "(/([*]|[0-9]+))?[ \t]*$",
		    REG_EXTENDED) != 0)
		abort();
	return 0;
}

/* Reads the digits of a match; false when they do not fit. */
static bool number_at(const char *s, const regmatch_t *m, uint64_t *out)
{
	char digits[4096];
	size_t n = (size_t)(m->rm_eo - m->rm_so);

	if (n >= sizeof(digits))
		return false;
	memcpy(digits, s + m->rm_so, n);
	digits[n] = '\0';
	errno = 0;
	*out = strtoull(digits, NULL, 10);
	return errno != ERANGE;
}

static int expected(const char *h, uint64_t *first, uint64_t *last)
{
	regmatch_t m[5];
	uint64_t a, b, total;

	m[4].rm_so = -1;
	if (regexec(&bare_re, h, 3, m, 0) != 0 &&
	    regexec(&unit_re, h, 5, m, 0) != 0)
		return -1;
	if (!number_at(h, &m[1], &a) || !number_at(h, &m[2], &b) || b < a)
		return -1;

	/* m[4] is the total of the unit form; "*" means not known yet. */
	if (m[4].rm_so != -1 && h[m[4].rm_so] != '*' &&
	    (!number_at(h, &m[4], &total) || b >= total))
		return -1;
	*first = a;
	*last = b;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *h = fuzz_cstring(data, size);
	uint64_t first = 7, last = 7, want_first = 9, want_last = 9;
	int rc, want;

	rc = ref_parse_content_range(h, &first, &last);
	want = expected(h, &want_first, &want_last);
	if (rc != want)
		fprintf(stderr, "header=\"%s\" rc=%d want=%d\n", h, rc, want);
	FUZZ_CHECK(rc == want);
	if (rc == 0)
		FUZZ_CHECK(first == want_first && last == want_last &&
			   first <= last);
	free(h);
	return 0;
}
