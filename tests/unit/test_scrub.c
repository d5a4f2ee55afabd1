/*
 * test_scrub.c - a scrub pass finds blobs whose bytes changed, moves
 * them to the quarantine, leaves intact ones alone, and only reports
 * when storage is read-only.
 */
#include "check.h"
#include "gcstore.h"
#include "log.h"
#include "scrub.h"

struct bad {
	size_t n;
	char digest[DIGEST_MAX_STR + 1];
	char actual[DIGEST_MAX_STR + 1];
	bool moved;
};

static void on_bad(void *arg, const char *digest, const char *actual,
		   uint64_t size, const char *quarantine)
{
	struct bad *b = arg;

	b->n++;
	snprintf(b->digest, sizeof(b->digest), "%s", digest);
	snprintf(b->actual, sizeof(b->actual), "%s", actual);
	b->moved = quarantine != NULL;
}

/* Overwrites a blob's data in place, as a failing disk might. */
static void corrupt(const struct digest *d)
{
	char *key = layout_blob_data(d);

	put_key(key, "rotten", 6);
	free(key);
}

static void test_finds_and_quarantines(void)
{
	struct scrub_stats stats;
	struct digest good, bad;
	struct bad seen = {0};
	struct scrub_options o = {.on_bad = on_bad, .arg = &seen};
	char want[DIGEST_MAX_STR + 1], *key;

	store_fresh();
	good = push_blob("app", "fine content");
	bad = push_blob("app", "content that will rot");
	push_image("app", "x", "v1", NULL);
	corrupt(&bad);

	CHECK(scrub_run(st, &o, &stats) == 0);
	CHECK(stats.blobs == 6 && stats.corrupt == 1);
	CHECK(stats.quarantined == 1 && stats.failed == 0);
	digest_format(&bad, want);
	CHECK_STR(seen.digest, want);
	digest_of(DIGEST_SHA256, "rotten", 6, &bad);
	digest_format(&bad, want);
	CHECK_STR(seen.actual, want);
	CHECK(seen.moved);
	CHECK(blob_exists(&good));
	digest_of(DIGEST_SHA256, "content that will rot", 21, &bad);
	CHECK(!blob_exists(&bad));
	key = xasprintf("%s/quarantine/sha256/%s/data", LAYOUT_ROOT, bad.hex);
	CHECK(key_exists(key));
	free(key);

	/* A second pass finds nothing more. */
	memset(&seen, 0, sizeof(seen));
	CHECK(scrub_run(st, &o, &stats) == 0);
	CHECK(stats.corrupt == 0 && seen.n == 0 && stats.blobs == 5);
	store_done();
}

/* Read-only storage: the pass reports and moves nothing. */
static void test_report_only(void)
{
	struct scrub_stats stats;
	struct bad seen = {0};
	struct scrub_options o = {.report_only = true,
				  .on_bad = on_bad,
				  .arg = &seen};
	struct digest d;

	store_fresh();
	d = push_blob("app", "stored on a read-only disk");
	corrupt(&d);
	CHECK(scrub_run(st, &o, &stats) == 0);
	CHECK(stats.corrupt == 1 && stats.quarantined == 0 && !seen.moved);
	CHECK(seen.n == 1);
	CHECK(blob_exists(&d));
	store_done();
}

static void test_stop(void)
{
	atomic_bool stop = true;
	struct scrub_options o = {.stop = &stop};
	struct scrub_stats stats;

	store_fresh();
	push_image("app", "x", "v1", NULL);

	CHECK(scrub_run(st, &o, &stats) == 0);
	CHECK(stats.blobs == 0);
	store_done();
}

int main(void)
{
	log_threshold = LVL_ERROR;
	RUN(test_finds_and_quarantines);
	RUN(test_report_only);
	RUN(test_stop);
	return check_done();
}
