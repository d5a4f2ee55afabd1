/*
 * test_ref.c - repository names, tags, numbers and HTTP byte ranges as
 * clients send them, well formed and hostile.
 */
#include "check.h"
#include "ref.h"

#include <stdlib.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A string of n copies of c, followed by tail; the caller frees it. */
static char *repeat(char c, size_t n, const char *tail)
{
	char *s = malloc(n + strlen(tail) + 1);

	memset(s, c, n);
	strcpy(s + n, tail);
	return s;
}

static void test_names_valid(void)
{
	static const char *const good[] = {
		"a",
		"0",
		"alpine",
		"library/alpine",
		"my-org/my-repo",
		"a/b/c/d/e/f",
		"foo.bar",
		"foo_bar",
		"foo__bar",
		"foo-bar",
		"foo---bar",
		"a.b_c__d-e--f/g",
		"123/456",
		"ghcr.io/owner/image",
		"localhost/x",
	};

	for (size_t i = 0; i < COUNT(good); i++) {
		if (!ref_valid_name(good[i])) {
			printf("  rejected name \"%s\"\n", good[i]);
			CHECK(0);
		}
	}
}

static void test_names_invalid(void)
{
	static const char *const bad[] = {
		"",
		"A",
		"Library/alpine",
		"library/Alpine",
		"/alpine",
		"alpine/",
		"a//b",
		"a/../b",
		"..",
		"../etc",
		"a/./b",
		".a",
		"a.",
		"_a",
		"a_",
		"-a",
		"a-",
		"a..b",
		"a___b",
		"a._b",
		"a_.b",
		"a-.b",
		"a.-b",
		"a_-b",
		"a%2fb",
		"a%2Fb",
		"%2e%2e",
		"a b",
		" a",
		"a\n",
		"a\\b",
		"a:b",
		"a@b",
		"a/b:tag",
		"localhost:5000/x",
		"a\tb",
		"\xc3\xa9",
	};

	for (size_t i = 0; i < COUNT(bad); i++) {
		if (ref_valid_name(bad[i])) {
			printf("  accepted name \"%s\"\n", bad[i]);
			CHECK(0);
		}
	}
	CHECK(!ref_valid_name(NULL));
}

static void test_name_length(void)
{
	char *s;

	s = repeat('a', REF_NAME_MAX, "");
	CHECK(ref_valid_name(s));
	free(s);

	s = repeat('a', REF_NAME_MAX + 1, "");
	CHECK(!ref_valid_name(s));
	free(s);

	/* The limit counts the whole name, separators included. */
	s = repeat('a', REF_NAME_MAX - 2, "/b");
	CHECK(strlen(s) == 255);
	CHECK(ref_valid_name(s));
	free(s);

	s = repeat('a', REF_NAME_MAX - 1, "/b");
	CHECK(!ref_valid_name(s));
	free(s);

	s = repeat('a', 100000, "");
	CHECK(!ref_valid_name(s));
	free(s);
}

static void test_tags(void)
{
	static const char *const good[] = {
		"latest",   "v1.2.3", "1",	     "_",
		"_private", "A",      "V1-rc.2_x",   "sha256-abc.sig",
		"a...b",    "a---",   "0.0.0-alpha",
	};
	static const char *const bad[] = {
		"",	      ".",
		"-",	      ".hidden",
		"-rc",	      "a/b",
		"a:b",	      "a b",
		"tag\n",      "t@g",
		"t%20",	      "..",
		"a+b",	      "\xc3\xa9t\xc3\xa9",
		"sha256:abc",
	};
	char *s;

	for (size_t i = 0; i < COUNT(good); i++) {
		if (!ref_valid_tag(good[i])) {
			printf("  rejected tag \"%s\"\n", good[i]);
			CHECK(0);
		}
	}
	for (size_t i = 0; i < COUNT(bad); i++) {
		if (ref_valid_tag(bad[i])) {
			printf("  accepted tag \"%s\"\n", bad[i]);
			CHECK(0);
		}
	}
	CHECK(!ref_valid_tag(NULL));

	s = repeat('t', REF_TAG_MAX, "");
	CHECK(ref_valid_tag(s));
	free(s);
	s = repeat('t', REF_TAG_MAX + 1, "");
	CHECK(!ref_valid_tag(s));
	free(s);
	s = repeat('.', REF_TAG_MAX - 1, "");
	s[0] = 'x';
	CHECK(ref_valid_tag(s));
	free(s);
}

static void test_u64(void)
{
	static const char *const bad[] = {
		"",
		"-1",
		"+1",
		" 1",
		"1 ",
		"1a",
		"0x10",
		"1.5",
		"1e3",
		"18446744073709551616",
		"99999999999999999999999",
		"-0",
	};
	uint64_t v = 7;

	CHECK(ref_parse_u64("0", &v) == 0 && v == 0);
	CHECK(ref_parse_u64("42", &v) == 0 && v == 42);
	CHECK(ref_parse_u64("007", &v) == 0 && v == 7);
	CHECK(ref_parse_u64("18446744073709551615", &v) == 0 &&
	      v == UINT64_MAX);
	CHECK(ref_parse_u64("18446744073709551610", &v) == 0 &&
	      v == UINT64_MAX - 5);

	for (size_t i = 0; i < COUNT(bad); i++) {
		v = 7;
		if (ref_parse_u64(bad[i], &v) != -1 || v != 7) {
			printf("  accepted number \"%s\"\n", bad[i]);
			CHECK(0);
		}
	}
	CHECK(ref_parse_u64(NULL, &v) == -1);
}

struct range_case {
	const char *header;
	uint64_t size;
	int rc;
	uint64_t first, last;
};

static void test_range(void)
{
	static const struct range_case cases[] = {
		{"bytes=0-0", 10, 0, 0, 0},
		{"bytes=0-9", 10, 0, 0, 9},
		{"bytes=2-5", 10, 0, 2, 5},
		{"bytes=9-9", 10, 0, 9, 9},
		{"BYTES=1-2", 10, 0, 1, 2},
		{" bytes=1-2 ", 10, 0, 1, 2},
		/* an open or overlong end stops at the last byte */
		{"bytes=3-", 10, 0, 3, 9},
		{"bytes=0-", 10, 0, 0, 9},
		{"bytes=5-100", 10, 0, 5, 9},
		{"bytes=0-99999999999999999999999", 10, 0, 0, 9},
		/* suffixes count back from the end */
		{"bytes=-1", 10, 0, 9, 9},
		{"bytes=-4", 10, 0, 6, 9},
		{"bytes=-10", 10, 0, 0, 9},
		{"bytes=-11", 10, 0, 0, 9},
		{"bytes=-99999999999999999999999", 10, 0, 0, 9},
		{"bytes=0-18446744073709551615", UINT64_MAX, 0, 0,
		 UINT64_MAX - 1},
		/* well formed but outside the object: 416 */
		{"bytes=10-", 10, 1, 0, 0},
		{"bytes=10-20", 10, 1, 0, 0},
		{"bytes=99999999999999999999999-", 10, 1, 0, 0},
		{"bytes=-0", 10, 1, 0, 0},
		{"bytes=0-", 0, 1, 0, 0},
		{"bytes=0-0", 0, 1, 0, 0},
		{"bytes=-5", 0, 1, 0, 0},
		/* malformed or several ranges: serve it all */
		{"", 10, -1, 0, 0},
		{"bytes=", 10, -1, 0, 0},
		{"bytes=-", 10, -1, 0, 0},
		{"bytes=5-3", 10, -1, 0, 0},
		{"bytes=0-1,3-4", 10, -1, 0, 0},
		{"bytes=0-1, 3-4", 10, -1, 0, 0},
		{"bytes=-1,-2", 10, -1, 0, 0},
		{"bytes=1", 10, -1, 0, 0},
		{"bytes=a-b", 10, -1, 0, 0},
		{"bytes=+1-2", 10, -1, 0, 0},
		{"bytes=1-+2", 10, -1, 0, 0},
		{"bytes=1--2", 10, -1, 0, 0},
		{"bytes=--2", 10, -1, 0, 0},
		{"bytes= 1-2", 10, -1, 0, 0},
		{"bytes=1 -2", 10, -1, 0, 0},
		{"bytes=1- 2", 10, -1, 0, 0},
		{"bytes =1-2", 10, -1, 0, 0},
		{"bytes 1-2", 10, -1, 0, 0},
		{"byte=1-2", 10, -1, 0, 0},
		{"bytesx=1-2", 10, -1, 0, 0},
		{"items=1-2", 10, -1, 0, 0},
		{"1-2", 10, -1, 0, 0},
		{"bytes=0x1-2", 10, -1, 0, 0},
		{"bytes=1-2x", 10, -1, 0, 0},
	};

	for (size_t i = 0; i < COUNT(cases); i++) {
		const struct range_case *c = &cases[i];
		uint64_t first = 12345, last = 12345;
		int rc = ref_parse_range(c->header, c->size, &first, &last);
		bool ok = rc == c->rc;

		if (ok && rc == 0)
			ok = first == c->first && last == c->last;
		if (ok && rc != 0)
			ok = first == 12345 && last == 12345;
		if (!ok) {
			printf("  \"%s\" size %llu: rc %d first %llu last "
			       "%llu\n",
			       c->header, (unsigned long long)c->size, rc,
			       (unsigned long long)first,
			       (unsigned long long)last);
			CHECK(0);
		}
	}
	CHECK(ref_parse_range(NULL, 10, NULL, NULL) == -1);
}

static void test_content_range(void)
{
	static const struct range_case cases[] = {
		{"0-0", 0, 0, 0, 0},
		{"0-1023", 0, 0, 0, 1023},
		{"1024-2047", 0, 0, 1024, 2047},
		{"5-5", 0, 0, 5, 5},
		{"0-18446744073709551615", 0, 0, 0, UINT64_MAX},
		{"bytes 0-1023/2048", 0, 0, 0, 1023},
		{"bytes 0-1023/1024", 0, 0, 0, 1023},
		{"bytes 0-1023/*", 0, 0, 0, 1023},
		{"bytes 0-1023", 0, 0, 0, 1023},
		{" 0-9 ", 0, 0, 0, 9},
		{"", 0, -1, 0, 0},
		{"-", 0, -1, 0, 0},
		{"0-", 0, -1, 0, 0},
		{"-5", 0, -1, 0, 0},
		{"5-4", 0, -1, 0, 0},
		{"0-99999999999999999999999", 0, -1, 0, 0},
		{"99999999999999999999999-99999999999999999999999", 0, -1, 0,
		 0},
		{"0-18446744073709551616", 0, -1, 0, 0},
		{"+0-5", 0, -1, 0, 0},
		{"0-+5", 0, -1, 0, 0},
		{"0 -5", 0, -1, 0, 0},
		{"0- 5", 0, -1, 0, 0},
		{"0-5,6-7", 0, -1, 0, 0},
		{"0-5/10", 0, -1, 0, 0},
		{"bytes 0-1023/1023", 0, -1, 0, 0},
		{"bytes 0-1023/0", 0, -1, 0, 0},
		{"bytes 0-1023/", 0, -1, 0, 0},
		{"bytes 0-1023/x", 0, -1, 0, 0},
		{"bytes */1024", 0, -1, 0, 0},
		{"bytes 0-1023/**", 0, -1, 0, 0},
		{"items 0-1", 0, -1, 0, 0},
		{"0x0-0x5", 0, -1, 0, 0},
		{"0-5 junk", 0, -1, 0, 0},
	};

	for (size_t i = 0; i < COUNT(cases); i++) {
		const struct range_case *c = &cases[i];
		uint64_t first = 12345, last = 12345;
		int rc = ref_parse_content_range(c->header, &first, &last);
		bool ok = rc == c->rc;

		if (ok && rc == 0)
			ok = first == c->first && last == c->last;
		if (ok && rc != 0)
			ok = first == 12345 && last == 12345;
		if (!ok) {
			printf("  \"%s\": rc %d first %llu last %llu\n",
			       c->header, rc, (unsigned long long)first,
			       (unsigned long long)last);
			CHECK(0);
		}
	}
	CHECK(ref_parse_content_range(NULL, NULL, NULL) == -1);
}

int main(void)
{
	RUN(test_names_valid);
	RUN(test_names_invalid);
	RUN(test_name_length);
	RUN(test_tags);
	RUN(test_u64);
	RUN(test_range);
	RUN(test_content_range);
	return check_done();
}
