/*
 * test_usage.c - bytes per repository split into shared and exclusive,
 * totals, pushes noted between scans, quotas and their messages, sizes.
 */
#include "check.h"
#include "gcstore.h"
#include "log.h"
#include "registry.h"
#include "scan.h"
#include "usage.h"

#include <jansson.h>

static struct usage *new_usage(const char *conf)
{
	json_t *j = conf ? json_loads(conf, 0, NULL) : NULL;
	char err[200] = "";
	struct usage *u = usage_new(j, err, sizeof(err));

	if (!u)
		printf("  usage_new: %s\n", err);
	json_decref(j);
	return u;
}

static void refresh(struct usage *u, int64_t young)
{
	struct scan *s;

	usage_begin(u);
	CHECK(scan_store(st, NULL, &s) == 0);
	usage_update(u, s, young, 7, 1);
	scan_free(s);
}

static uint64_t blob_size(const struct digest *d)
{
	char *key = layout_blob_data(d);
	struct store_stat sst;

	CHECK(st->ops->stat(st, key, &sst) == 0);
	free(key);
	return sst.size;
}

/* A layer both repositories use is shared; the rest is exclusive. */
static void test_shared_and_exclusive(void)
{
	struct usage *u = new_usage(NULL);
	struct digest a[2], b[2], ma, mb;
	struct usage_repo ra, rb;
	struct usage_total t;
	uint64_t shared;

	store_fresh();
	ma = push_image("one", "x", "v1", a);
	mb = push_image("two", "x", "v1", b); /* same name: same blobs */
	push_image("two", "y", "v2", NULL);
	refresh(u, now_seconds() - 3600);

	CHECK(usage_repo(u, "one", &ra) && usage_repo(u, "two", &rb));
	CHECK(digest_equal(&ma, &mb));
	shared = ra.bytes;
	CHECK(ra.shared == shared && ra.exclusive == 0 && ra.blobs == 4);
	CHECK(rb.shared == shared);
	CHECK(rb.exclusive == rb.bytes - shared && rb.exclusive > 0);
	CHECK(rb.blobs == 8);
	usage_total(u, &t);
	CHECK(t.blobs == 8 && t.held == t.bytes && t.repositories == 2);
	CHECK(t.bytes == ra.bytes + rb.exclusive);
	CHECK(ra.bytes > blob_size(&a[0]) + blob_size(&a[1]) + blob_size(&ma));
	CHECK(t.reclaimable == 7 && t.reclaimable_blobs == 1);
	CHECK(t.updated > 0);
	CHECK(!usage_repo(u, "three", &ra));
	usage_free(u);
	store_done();
}

/* Old links no manifest uses are not charged; fresh ones are. */
static void test_links_count_only_while_young(void)
{
	struct usage *u = new_usage(NULL);
	struct usage_repo r;
	struct digest d;

	store_fresh();
	d = put_blob("a layer whose manifest is on its way");
	link_layer("app", &d, 10);
	push_blob("app", "an old leftover");
	refresh(u, now_seconds() - 3600);
	CHECK(usage_repo(u, "app", &r));
	CHECK(r.bytes == blob_size(&d) && r.blobs == 1);
	usage_free(u);
	store_done();
}

/* Pushes count at once, once each, and survive a scan that missed them. */
static void test_notes(void)
{
	struct usage *u = new_usage(NULL);
	struct usage_repo r;
	struct digest d;

	store_fresh();
	digest_of(DIGEST_SHA256, "x", 1, &d);
	usage_note(u, "app", &d, 100);
	usage_note(u, "app", &d, 100);
	CHECK(usage_repo(u, "app", &r) && r.bytes == 100 && r.exclusive == 100);
	usage_note(u, "other", &d, 100);
	CHECK(usage_repo(u, "app", &r) && r.shared == 100 && r.exclusive == 0);

	usage_begin(u);
	usage_note(u, "late", &d, 100);
	{
		struct scan *s;

		CHECK(scan_store(st, NULL, &s) == 0);
		usage_update(u, s, 0, 0, 0);
		scan_free(s);
	}
	CHECK(usage_repo(u, "late", &r) && r.bytes == 100);
	CHECK(!usage_repo(u, "app", &r)); /* the store never had it */
	usage_free(u);
	store_done();
}

static void test_quota(void)
{
	struct usage *u = new_usage("[{\"repositories\": [\"team/**\"], "
				    "\"limit\": \"1KiB\"}]");
	struct reg_error e = {0};
	struct digest d1, d2;

	store_fresh();
	digest_of(DIGEST_SHA256, "1", 1, &d1);
	digest_of(DIGEST_SHA256, "2", 1, &d2);
	CHECK(usage_check_quota(u, "team/app", &d1, 1000, &e) == 0);
	usage_note(u, "team/app", &d1, 1000);
	CHECK(usage_check_quota(u, "team/app", &d2, 100, &e) == -1);
	CHECK(e.code == REG_DENIED);
	CHECK(strstr(e.message, "quota of 1.0 KiB") != NULL);
	CHECK(strstr(e.message, "team/app") != NULL);
	CHECK(strstr(e.message, "team/**") != NULL);
	/* A blob it holds already adds nothing. */
	CHECK(usage_check_quota(u, "team/app", &d1, 1000, &e) == 0);
	CHECK(usage_check_quota(u, "team/app", &d2, 24, &e) == 0);
	CHECK(usage_check_quota(u, "elsewhere", &d2, 1 << 30, &e) == 0);
	usage_free(u);
	store_done();
}

static void test_quota_rules_checked(void)
{
	static const char *const bad[] = {
		"{}",
		"[{\"limit\": \"1G\"}]",
		"[{\"repositories\": [\"a\"]}]",
		"[{\"repositories\": [\"A/\"], \"limit\": \"1G\"}]",
		"[{\"repositories\": [\"a\"], \"limit\": \"lots\"}]",
		"[{\"repositories\": [\"a\"], \"limit\": \"1G\", \"x\": 1}]",
	};
	char err[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = json_loads(bad[i], 0, NULL);

		err[0] = '\0';
		CHECK(usage_quota_check(j, err, sizeof(err)) == -1);
		CHECK(strstr(err, "storage.maintenance.quotas") != NULL);
		json_decref(j);
	}
}

static void test_sizes(void)
{
	uint64_t b = 0;
	char s[32];

	CHECK(usage_parse_size("10GiB", &b) == 0 && b == 10ULL << 30);
	CHECK(usage_parse_size("10G", &b) == 0 && b == 10ULL << 30);
	CHECK(usage_parse_size("500MB", &b) == 0 && b == 500000000ULL);
	CHECK(usage_parse_size("1.5 KiB", &b) == 0 && b == 1536);
	CHECK(usage_parse_size("4096", &b) == 0 && b == 4096);
	CHECK(usage_parse_size("0", &b) == -1);
	CHECK(usage_parse_size("-1G", &b) == -1);
	CHECK(usage_parse_size("1 parsec", &b) == -1);
	CHECK(usage_parse_size("G", &b) == -1);
	usage_format_size(1536, s);
	CHECK_STR(s, "1.5 KiB");
	usage_format_size(12, s);
	CHECK_STR(s, "12 B");
	usage_format_size(3ULL << 30, s);
	CHECK_STR(s, "3.0 GiB");
}

static void test_json(void)
{
	struct usage *u = new_usage("[{\"repositories\": [\"b\"], "
				    "\"limit\": 2048}]");
	struct buf b = BUF_INIT;
	struct digest d;
	json_t *doc;

	store_fresh();
	digest_of(DIGEST_SHA256, "x", 1, &d);
	usage_note(u, "b", &d, 10);
	usage_note(u, "a", &d, 10);
	CHECK(usage_json(u, NULL, &b));
	doc = json_loads(b.data, 0, NULL);
	CHECK(json_array_size(json_object_get(doc, "repositories")) == 2);
	CHECK_STR(json_string_value(json_object_get(
			  json_array_get(json_object_get(doc, "repositories"),
					 0),
			  "name")),
		  "a");
	CHECK(json_integer_value(json_object_get(
		      json_array_get(json_object_get(doc, "repositories"), 1),
		      "quota_bytes")) == 2048);
	json_decref(doc);
	buf_reset(&b);
	CHECK(usage_json(u, "a", &b));
	CHECK(strstr(b.data, "\"shared_bytes\":10") != NULL);
	CHECK(!usage_json(u, "c", &b));
	buf_free(&b);
	usage_free(u);
	store_done();
}

static size_t count_lines(const char *text, const char *prefix)
{
	const char *p = text;
	size_t n = 0;

	while (p && *p) {
		n += strncmp(p, prefix, strlen(prefix)) == 0;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return n;
}

/* /metrics names the largest repositories only, with escaped names. */
static void test_metrics(void)
{
	struct usage *u = new_usage(NULL);
	struct buf b = BUF_INIT;
	struct digest d;
	char name[32];

	store_fresh();
	usage_metrics(u, &b);
	CHECK(b.len == 0); /* nothing until a first scan */
	refresh(u, 0);
	for (int i = 0; i < USAGE_METRICS_REPOS + 50; i++) {
		snprintf(name, sizeof(name), "r%03d", i);
		digest_of(DIGEST_SHA256, name, strlen(name), &d);
		usage_note(u, name, &d, (uint64_t)i + 1);
	}
	digest_of(DIGEST_SHA256, "q", 1, &d);
	usage_note(u, "we\"ird\\name\n", &d, 1000);
	usage_note(u, "r149", &d, 1000);

	usage_metrics(u, &b);
	CHECK(count_lines(b.data, "berth_repository_bytes{") ==
	      USAGE_METRICS_REPOS);
	CHECK(count_lines(b.data, "berth_repository_shared_bytes{") ==
	      USAGE_METRICS_REPOS);
	CHECK(strstr(b.data, "\nberth_repositories 151\n") != NULL);
	CHECK(strstr(b.data, "berth_repository_bytes{repository="
			     "\"we\\\"ird\\\\name\\n\"} 1000\n") != NULL);
	CHECK(strstr(b.data, "berth_repository_bytes{repository=\"r149\"} "
			     "1150\n") != NULL);
	CHECK(strstr(b.data, "berth_repository_shared_bytes{repository="
			     "\"r149\"} 1000\n") != NULL);
	CHECK(strstr(b.data, "{repository=\"r051\"}") != NULL);
	CHECK(strstr(b.data, "{repository=\"r050\"}") == NULL);
	CHECK(strstr(b.data, "berth_storage_held_bytes 12325\n") != NULL);
	buf_free(&b);
	usage_free(u);
	store_done();
}

int main(void)
{
	log_threshold = LVL_ERROR;
	RUN(test_shared_and_exclusive);
	RUN(test_links_count_only_while_young);
	RUN(test_notes);
	RUN(test_quota);
	RUN(test_quota_rules_checked);
	RUN(test_sizes);
	RUN(test_json);
	RUN(test_metrics);
	return check_done();
}
