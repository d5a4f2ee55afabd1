/*
 * test_mrefs.c - the fast reference walk finds exactly the digests
 * registry:2 would count as referenced, ignores digests elsewhere, and
 * gives up (for the slow parser) on anything it cannot follow.
 */
#include "check.h"
#include "mrefs.h"

#include <stdio.h>
#include <string.h>

struct got {
	char text[2048];
	bool is_index;
};

static void on_ref(void *arg, enum mref_kind kind, const char *text, size_t len)
{
	struct got *g = arg;
	static const char tags[] = "BCS";
	size_t used = strlen(g->text);

	snprintf(g->text + used, sizeof(g->text) - used, "%c:%.*s ", tags[kind],
		 (int)len, text);
}

static bool scan(const char *json, struct got *g)
{
	memset(g, 0, sizeof(*g));
	return mrefs_scan(json, strlen(json), on_ref, g, &g->is_index);
}

static void test_image(void)
{
	struct got g;

	CHECK(scan("{\"schemaVersion\": 2, \"config\": {\"mediaType\": \"x\", "
		   "\"digest\": \"sha256:c\", \"size\": 1.5e3}, \"layers\": "
		   "[{\"digest\": \"sha256:l1\", \"annotations\": {\"digest\": "
		   "\"sha256:no\"}}, {\"urls\": [\"u\"], \"digest\": "
		   "\"sha256:l2\"}], \"subject\": {\"digest\": \"sha256:s\"}, "
		   "\"annotations\": {\"layers\": [{\"digest\": \"sha256:no\""
		   "}]}, \"digest\": \"sha256:no\"}",
		   &g));
	CHECK_STR(g.text, "B:sha256:c B:sha256:l1 B:sha256:l2 S:sha256:s ");
	CHECK(!g.is_index);
}

static void test_index_and_schema1(void)
{
	struct got g;

	CHECK(scan("{\"manifests\":[{\"digest\":\"sha256:a\",\"platform\":{"
		   "\"os\":\"linux\"}},{\"digest\":\"sha256:b\"}]}",
		   &g));
	CHECK_STR(g.text, "C:sha256:a C:sha256:b ");
	CHECK(g.is_index);
	CHECK(scan("{\"schemaVersion\":1,\"fsLayers\":[{\"blobSum\":"
		   "\"sha256:f\"},{\"digest\":\"sha256:no\"}],\"history\":[]}",
		   &g));
	CHECK_STR(g.text, "B:sha256:f ");
	CHECK(scan("{\"manifests\": {}}", &g) && !g.is_index);
	CHECK(scan("{\"blobs\": [{\"digest\": \"sha256:ab\"}]}", &g));
	CHECK_STR(g.text, "B:sha256:ab ");
}

static void test_escapes(void)
{
	struct got g;

	CHECK(scan("{\"con\\u0066ig\": {\"\\u0064igest\": \"sha256:\\u0061\"},"
		   " \"layers\": [], \"x\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9"
		   "\"}",
		   &g));
	CHECK_STR(g.text, "B:sha256:a ");
	/* Non-ASCII escapes where it compares: left to the slow parser. */
	CHECK(!scan("{\"config\": {\"digest\": \"sha256:\\u00e9\"}}", &g));
}

static void test_gives_up(void)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{",
		"{\"a\"}",
		"{\"a\":}",
		"{\"a\":1,}",
		"{\"a\":tru}",
		"{\"a\":\"\n\"}",
		"{\"a\":\"\\q\"}",
		"{\"a\":1} x",
		"{\"a\":[1 2]}",
		"\"x\"",
		"{\"a\":\"\\u12\"}",
	};
	char deep[400];
	struct got g;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!scan(bad[i], &g));
	memset(deep, 0, sizeof(deep));
	strcpy(deep, "{\"a\":");
	for (int i = 0; i < 100; i++)
		strcat(deep, "[");
	for (int i = 0; i < 100; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	CHECK(!scan(deep, &g));
	CHECK(scan(" \t\r\n{ } \n", &g) && g.text[0] == '\0');
}

int main(void)
{
	RUN(test_image);
	RUN(test_index_and_schema1);
	RUN(test_escapes);
	RUN(test_gives_up);
	return check_done();
}
