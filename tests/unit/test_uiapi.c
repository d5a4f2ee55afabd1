/*
 * test_uiapi.c - the web UI API's version order for tags.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "uiapi.h"

static int cmp(const void *a, const void *b)
{
	return uiapi_version_cmp(*(const char *const *)a,
				 *(const char *const *)b);
}

static void check_order(const char **want, size_t n)
{
	const char **v = malloc(n * sizeof(*v));

	/* Sort a reversed copy, so the order cannot come for free. */
	for (size_t i = 0; i < n; i++)
		v[i] = want[n - 1 - i];
	qsort(v, n, sizeof(*v), cmp);
	for (size_t i = 0; i < n; i++)
		CHECK_STR(v[i], want[i]);
	free(v);
}

static void test_numbers(void)
{
	const char *want[] = {"1.2",	"1.9.0", "1.10", "1.10.0",
			      "1.10.1", "2",	 "10",	 "10.0.1"};

	check_order(want, sizeof(want) / sizeof(want[0]));
}

static void test_prerelease_and_v(void)
{
	const char *want[] = {"v1.0-alpha", "1.0-rc1", "1.0-rc2",
			      "v1.0",	    "1.0.1",   "v1.1"};

	check_order(want, sizeof(want) / sizeof(want[0]));
}

static void test_words_and_total_order(void)
{
	const char *want[] = {"1.0", "3.19", "3.20", "edge", "latest"};

	check_order(want, sizeof(want) / sizeof(want[0]));
	CHECK(uiapi_version_cmp("1.02", "1.2") != 0); /* strcmp breaks ties */
	CHECK(uiapi_version_cmp("1.2", "1.2") == 0);
	CHECK(uiapi_version_cmp("v1", "1") > 0 ||
	      uiapi_version_cmp("v1", "1") < 0);
	CHECK(uiapi_version_cmp("99999999999999999999", "1") > 0);
}

int main(void)
{
	RUN(test_numbers);
	RUN(test_prerelease_and_v);
	RUN(test_words_and_total_order);
	return check_done();
}
