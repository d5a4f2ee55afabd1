/*
 * test_listing.c - the pages index_list_* hand out: every name in one
 * block whatever the page's length, a copy that outlives changes to the
 * index and the index itself, and pages built by hand (one allocation per
 * name) freed by the same call.
 */
#include "check.h"
#include "index.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANY 10000

static void test_page_is_one_block(void)
{
	struct index *ix = index_new();
	struct index_page p;
	char tag[32];
	bool in_order = true, packed = true;

	for (int i = MANY - 1; i >= 0; i--) {
		snprintf(tag, sizeof(tag), "t%05d", i);
		index_add_tag(ix, "big", tag);
	}

	CHECK(index_list_tags(ix, "big", NULL, 0, &p) == 0);
	CHECK(p.count == MANY);
	CHECK(!p.more);
	CHECK(p.text == p.names[0]);
	for (size_t i = 0; i < p.count; i++) {
		snprintf(tag, sizeof(tag), "t%05zu", i);
		in_order &= !strcmp(p.names[i], tag);
		if (i)
			packed &= p.names[i] ==
				  p.names[i - 1] + strlen(p.names[i - 1]) + 1;
	}
	CHECK(in_order);
	CHECK(packed);
	index_page_free(&p);
	CHECK(p.names == NULL && p.text == NULL && p.count == 0);

	/* A page from the middle holds just its names. */
	CHECK(index_list_tags(ix, "big", "t08999", 100, &p) == 0);
	CHECK(p.count == 100 && p.more);
	CHECK_STR(p.names[0], "t09000");
	CHECK_STR(p.names[99], "t09099");
	index_page_free(&p);
	index_free(ix);
}

static void test_page_outlives_index(void)
{
	struct index *ix = index_new();
	struct index_page tags, repos;

	index_add_tag(ix, "a/app", "v1");
	index_add_tag(ix, "a/app", "v2");
	index_add_repo(ix, "b/lib");
	CHECK(index_list_tags(ix, "a/app", NULL, 0, &tags) == 0);
	index_list_repos(ix, "a/app", 10, &repos);

	index_remove_tag(ix, "a/app", "v1");
	index_remove_repo(ix, "b/lib");
	index_free(ix);

	CHECK(tags.count == 2);
	CHECK_STR(tags.names[0], "v1");
	CHECK_STR(tags.names[1], "v2");
	CHECK(repos.count == 1);
	CHECK_STR(repos.names[0], "b/lib");
	index_page_free(&tags);
	index_page_free(&repos);
}

/* Pages filtered by permissions are built a name at a time. */
static void test_page_by_hand(void)
{
	struct index_page p = {0};

	p.names = xcalloc(3, sizeof(char *));
	p.names[p.count++] = xstrdup("one");
	p.names[p.count++] = xstrdup("two");
	index_page_free(&p);
	CHECK(p.names == NULL && p.count == 0);
}

static void test_empty_pages(void)
{
	struct index *ix = index_new();
	struct index_page p;

	index_list_repos(ix, NULL, 0, &p);
	CHECK(p.count == 0 && !p.more && !p.names && !p.text);
	index_page_free(&p);

	CHECK(index_list_tags(ix, "nope", NULL, 0, &p) == -1);
	CHECK(p.count == 0 && !p.names && !p.text);
	index_page_free(&p);
	index_free(ix);
}

int main(void)
{
	RUN(test_page_is_one_block);
	RUN(test_page_outlives_index);
	RUN(test_page_by_hand);
	RUN(test_empty_pages);
	return check_done();
}
