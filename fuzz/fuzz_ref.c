/*
 * fuzz_ref.c - repository names and tags (ref_valid_name, ref_valid_tag)
 * and plain decimal numbers (ref_parse_u64).
 *
 * Names and tags become directory names in the store, so a wrong
 * "valid" is a path traversal.  The hand-written matchers are checked
 * against the distribution spec's own regular expressions, compiled
 * here with POSIX regcomp: any input on which the two disagree fails.
 */
#include "fuzz.h"
#include "ref.h"

#include <inttypes.h>
#include <regex.h>

/* The spec's grammars, anchored, as POSIX extended expressions. */
#define NAME_COMPONENT "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*"
#define NAME_RE "^" NAME_COMPONENT "(/" NAME_COMPONENT ")*$"
#define TAG_RE "^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$"

static regex_t name_re, tag_re;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (regcomp(&name_re, NAME_RE, REG_EXTENDED | REG_NOSUB) != 0 ||
	    regcomp(&tag_re, TAG_RE, REG_EXTENDED | REG_NOSUB) != 0)
		abort();
	return 0;
}

static void check_name(const char *s)
{
	bool valid = ref_valid_name(s);
	size_t len = strlen(s);

	if (len <= REF_NAME_MAX)
		FUZZ_CHECK(valid == (regexec(&name_re, s, 0, NULL, 0) == 0));
	else
		FUZZ_CHECK(!valid);

	/* What the store relies on, whatever the grammar says. */
	if (valid) {
		FUZZ_CHECK(len > 0 && len <= REF_NAME_MAX);
		FUZZ_CHECK(strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789"
				     "._-/") == len);
		FUZZ_CHECK(!strstr(s, "..") && !strstr(s, "//"));
		FUZZ_CHECK(s[0] != '/' && s[len - 1] != '/' && s[0] != '.');
	}
}

static void check_tag(const char *s)
{
	bool valid = ref_valid_tag(s);

	FUZZ_CHECK(valid == (regexec(&tag_re, s, 0, NULL, 0) == 0));
	if (valid)
		FUZZ_CHECK(strlen(s) <= REF_TAG_MAX && !strchr(s, '/') &&
			   s[0] != '.');
}

/* A number that parses must print back as the same digits. */
static void check_u64(const char *s)
{
	uint64_t v = 0;
	char again[32];
	const char *digits = s;

	if (ref_parse_u64(s, &v) != 0)
		return;
	while (digits[0] == '0' && digits[1] != '\0')
		digits++;
	snprintf(again, sizeof(again), "%" PRIu64, v);
	FUZZ_CHECK(strcmp(again, digits) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstring(data, size);

	check_name(s);
	check_tag(s);
	check_u64(s);
	free(s);
	return 0;
}
