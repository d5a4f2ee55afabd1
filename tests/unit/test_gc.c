/*
 * test_gc.c - garbage collection over hand-built registry:2 trees:
 * what is kept and what goes with and without the untagged policy, the
 * grace period, the guard's holds, leftovers of crashes and of
 * registry:2, empty repositories, and dry runs that change nothing.
 */
#include "check.h"
#include "gc.h"
#include "gcstore.h"
#include "index.h"
#include "log.h"
#include "retention.h"

#include <jansson.h>

struct seen {
	size_t n[GC_ITEM_KINDS];
	char last[GC_ITEM_KINDS][200];
};

static void on_item(void *arg, enum gc_item kind, const char *repo,
		    const char *what, uint64_t bytes)
{
	struct seen *s = arg;

	s->n[kind]++;
	snprintf(s->last[kind], sizeof(s->last[kind]), "%s %s",
		 repo ? repo : "-", what);
}

static int collect(bool dry, bool untagged, int64_t grace,
		   struct gc_guard *guard, struct gc_stats *stats,
		   struct seen *seen)
{
	struct gc_options o = {0};

	o.dry_run = dry;
	o.delete_untagged = untagged;
	o.grace = grace;
	o.guard = guard;
	o.on_item = on_item;
	o.arg = seen;
	memset(seen, 0, sizeof(*seen));
	return gc_run(st, &o, stats);
}

/* A deleted image's own blobs go; what the kept image shares stays. */
static void test_default_sweeps_unreferenced(void)
{
	struct digest keep[2], gone[2], a, b, stray;
	struct gc_stats stats;
	struct seen seen;

	store_fresh();
	a = push_image("lib/app", "a", "v1", keep);
	b = push_image("lib/app", "b", "v2", gone);
	stray = push_blob("lib/app", "pushed, never used");
	delete_tag("lib/app", "v2");
	delete_revision("lib/app", &b);

	CHECK(collect(true, false, 3600, NULL, &stats, &seen) == 0);
	CHECK(stats.count[GC_BLOB] == 5); /* b, its config, 2 layers, stray */
	CHECK(blob_exists(&b) && blob_exists(&stray));

	CHECK(collect(false, false, 3600, NULL, &stats, &seen) == 0);
	CHECK(stats.count[GC_BLOB] == 5);
	CHECK(stats.count[GC_LAYER_LINK] == 4);
	CHECK(blob_exists(&a) && blob_exists(&keep[0]) &&
	      blob_exists(&keep[1]));
	CHECK(!blob_exists(&b) && !blob_exists(&gone[0]) &&
	      !blob_exists(&gone[1]) && !blob_exists(&stray));
	CHECK(layer_linked("lib/app", &keep[0]));
	CHECK(!layer_linked("lib/app", &gone[0]));
	CHECK(!layer_linked("lib/app", &stray));

	CHECK(collect(false, false, 3600, NULL, &stats, &seen) == 0);
	CHECK(stats.count[GC_BLOB] == 0 && stats.failed == 0);
	store_done();
}

/* Untagged manifests stay without the policy, as in registry:2. */
static void test_untagged_kept_by_default(void)
{
	struct digest layers[2], m;
	struct gc_stats stats;
	struct seen seen;

	store_fresh();
	m = push_image("lib/app", "a", "v1", layers);
	delete_tag("lib/app", "v1");
	CHECK(collect(false, false, 0, NULL, &stats, &seen) == 0);
	CHECK(stats.count[GC_BLOB] == 0 && stats.count[GC_MANIFEST] == 0);
	CHECK(revision_exists("lib/app", &m) && blob_exists(&layers[1]));

	CHECK(collect(false, true, 0, NULL, &stats, &seen) == 0);
	CHECK(stats.count[GC_MANIFEST] == 1);
	CHECK(stats.count[GC_BLOB] == 4);
	CHECK(!revision_exists("lib/app", &m) && !blob_exists(&layers[1]));
	/* Nothing is left in the repository, so it goes too. */
	CHECK(stats.count[GC_REPOSITORY] == 1);
	CHECK(!key_exists(LAYOUT_ROOT "/repositories/lib/app"));
	CHECK(!key_exists(LAYOUT_ROOT "/repositories/lib"));
	store_done();
}

/*
 * The policy keeps the children of a tagged index and the referrers of
 * kept manifests, even of a child, and referrers of referrers.
 */
static void test_untagged_keeps_index_children_and_referrers(void)
{
	struct digest c[2], idx, sig, sigsig, orphan, orphan_sig, cfg, l[1];
	struct gc_stats stats;
	struct seen seen;

	store_fresh();
	c[0] = push_image("multi", "amd64", NULL, NULL);
	c[1] = push_image("multi", "arm64", NULL, NULL);
	idx = push_manifest("multi", index_json(c, 2), "latest", NULL);
	cfg = push_blob("multi", "{}");
	l[0] = push_blob("multi", "signature payload");
	sig = push_manifest("multi", image_json(&cfg, l, 1, &c[1]), NULL,
			    &c[1]);
	sigsig = push_manifest("multi", image_json(&cfg, NULL, 0, &sig), NULL,
			       &sig);
	orphan = push_image("multi", "old", NULL, NULL);
	orphan_sig = push_manifest("multi", image_json(&cfg, NULL, 0, &orphan),
				   NULL, &orphan);

	CHECK(collect(false, true, 3600, NULL, &stats, &seen) == 0);
	CHECK(revision_exists("multi", &idx));
	CHECK(revision_exists("multi", &c[0]));
	CHECK(revision_exists("multi", &c[1]));
	CHECK(revision_exists("multi", &sig));
	CHECK(revision_exists("multi", &sigsig));
	CHECK(blob_exists(&l[0]));
	CHECK(!revision_exists("multi", &orphan));
	CHECK(!revision_exists("multi", &orphan_sig));
	CHECK(stats.count[GC_MANIFEST] == 2);
	CHECK(stats.count[GC_REPOSITORY] == 0);
	/* The orphan's referrer link went with its referrer. */
	{
		char *key = layout_referrer_link("multi", &orphan, &orphan_sig);

		CHECK(!key_exists(key));
		free(key);
		key = layout_referrer_link("multi", &c[1], &sig);
		CHECK(key_exists(key));
		free(key);
	}
	store_done();
}

/* Blobs and manifests newer than the grace period are kept. */
static void test_grace_period(void)
{
	struct digest fresh, old, m;
	struct gc_stats stats;
	struct seen seen;
	char *key;

	store_fresh();
	push_image("lib/app", "a", "v1", NULL);
	old = push_blob("lib/app", "old unreferenced");
	fresh = put_blob("just pushed, manifest to come");
	key = layout_blob_data(&fresh);
	age_key(key, 10);
	free(key);
	link_layer("lib/app", &fresh, 10);
	m = push_image("lib/app", "b", NULL, NULL);
	key = layout_revision_link("lib/app", &m);
	age_key(key, 10);
	free(key);

	CHECK(collect(false, true, 3600, NULL, &stats, &seen) == 0);
	CHECK(!blob_exists(&old));
	CHECK(blob_exists(&fresh) && layer_linked("lib/app", &fresh));
	CHECK(revision_exists("lib/app", &m));
	CHECK(stats.young == 1);

	/* A fresh link keeps an old blob: a push is using it again. */
	old = push_blob("lib/app", "old but linked again");
	link_layer("other", &old, 5);
	CHECK(collect(false, false, 3600, NULL, &stats, &seen) == 0);
	CHECK(blob_exists(&old));
	store_done();
}

/* Whatever a request holds survives the run, whatever the scan saw. */
static void test_guard_holds(void)
{
	struct gc_guard *guard = gc_guard_new(3600);
	struct digest b, m, layers[2];
	struct gc_stats stats;
	struct seen seen;

	store_fresh();
	b = push_blob("lib/app", "a layer about to be used again");
	m = push_image("lib/app", "x", "v1", layers);
	delete_tag("lib/app", "v1");
	push_image("empty/repo", "y", "t", NULL);
	delete_tag("empty/repo", "t");

	gc_guard_hold_digest(guard, &b);
	gc_guard_hold_digest(guard, &m);
	gc_guard_hold_repo(guard, "empty/repo/child");
	CHECK(collect(false, true, 0, guard, &stats, &seen) == 0);
	CHECK(blob_exists(&b) && layer_linked("lib/app", &b));
	CHECK(revision_exists("lib/app", &m) && blob_exists(&layers[0]));
	CHECK(stats.count[GC_REPOSITORY] == 0);
	CHECK(key_exists(LAYOUT_ROOT "/repositories/empty/repo"));
	CHECK(stats.held >= 3);

	/* Without the holds the same store is collected. */
	gc_guard_free(guard);
	guard = gc_guard_new(0);
	CHECK(collect(false, true, 0, guard, &stats, &seen) == 0);
	CHECK(!blob_exists(&b) && !revision_exists("lib/app", &m));
	CHECK(!key_exists(LAYOUT_ROOT "/repositories/empty"));
	gc_guard_free(guard);
	store_done();
}

/* Leftovers: dangling links, stale referrer links, empty blob dirs. */
static void test_leftovers(void)
{
	struct digest gone, m, subject;
	struct gc_stats stats;
	struct seen seen;
	char *key;

	store_fresh();
	subject = put_blob("x");
	push_image("lib/app", "a", "v1", NULL);
	gone = push_blob("lib/app", "its data was removed");
	key = layout_blob_data(&gone);
	st->ops->remove(st, key);
	free(key);
	key = layout_blob_dir(&gone);
	age_key(key, 86400);
	free(key);
	m = put_blob("{\"a referrer whose revision is gone\":1}");
	key = layout_referrer_link("lib/app", &subject, &m);
	write_link(key, &m);
	age_key(key, 86400);
	free(key);

	CHECK(collect(false, false, 3600, NULL, &stats, &seen) == 0);
	CHECK(!layer_linked("lib/app", &gone));
	CHECK(stats.count[GC_LAYER_LINK] == 1);
	CHECK(stats.count[GC_REFERRER] == 1);
	CHECK(stats.count[GC_EMPTY_DIR] == 1);
	key = layout_blob_dir(&gone);
	CHECK(!key_exists(key));
	free(key);
	store_done();
}

/* registry:2's kinds of manifest are read for what they reference. */
static void test_marks_schema1_and_foreign(void)
{
	struct digest l1, l2, m;
	struct gc_stats stats;
	struct seen seen;
	char s1[DIGEST_MAX_STR + 1], s2[DIGEST_MAX_STR + 1];
	char json[600];

	store_fresh();
	l1 = push_blob("old", "schema 1 layer");
	l2 = push_blob("old", "foreign layer someone stored anyway");
	digest_format(&l1, s1);
	digest_format(&l2, s2);
	snprintf(json, sizeof(json),
		 "{\"schemaVersion\":1,\"name\":\"old\","
		 "\"tag\":\"1\",\"fsLayers\":[{\"blobSum\":\"%s\"}],"
		 "\"signatures\":[]}",
		 s1);
	push_manifest("old", xstrdup(json), "1", NULL);
	snprintf(json, sizeof(json),
		 "{\"schemaVersion\":2,\"config\":{"
		 "\"digest\":\"%s\"},\"layers\":[{\"mediaType\":\"application/"
		 "vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\"digest\":"
		 "\"%s\",\"urls\":[\"https://example.invalid/\"]}]}",
		 s1, s2);
	m = push_manifest("old", xstrdup(json), "2", NULL);

	CHECK(collect(false, true, 0, NULL, &stats, &seen) == 0);
	CHECK(blob_exists(&l1) && blob_exists(&l2) && blob_exists(&m));
	CHECK(stats.count[GC_BLOB] == 0);
	store_done();
}

/* A dry run reports exactly what a real run then does. */
static void test_dry_run_matches_run(void)
{
	struct gc_stats dry, real;
	struct seen a, b;
	struct digest m;

	store_fresh();
	push_image("r1", "a", "v1", NULL);
	m = push_image("r1", "b", "v2", NULL);
	delete_tag("r1", "v2");
	push_image("r2", "c", NULL, NULL);
	delete_revision("r1", &m);

	CHECK(collect(true, true, 0, NULL, &dry, &a) == 0);
	CHECK(collect(false, true, 0, NULL, &real, &b) == 0);
	for (int k = 0; k < GC_ITEM_KINDS; k++)
		CHECK(dry.count[k] == real.count[k]);
	CHECK(dry.freed == real.freed && dry.freed > 0);
	CHECK(real.count[GC_REPOSITORY] == 1);
	CHECK_STR(b.last[GC_REPOSITORY], "r2 r2");
	store_done();
}

static char changes[512];

static void on_change(void *arg, const char *repo, const char *tag)
{
	size_t n = strlen(changes);

	snprintf(changes + n, sizeof(changes) - n, "%s:%s ", repo,
		 tag ? tag : "-");
}

/* Retention expires tags, which frees what only they kept. */
static void test_retention_in_a_run(void)
{
	const char *conf = "[{\"repositories\": [\"ci/**\"], "
			   "\"keeplast\": \"1\"}]";
	json_t *j = json_loads(conf, 0, NULL);
	struct retention *rt;
	struct gc_options o = {0};
	struct gc_stats stats;
	struct digest m1, m2;
	struct index *ix = index_new();
	char err[200];
	char *key;

	store_fresh();
	m1 = push_image("ci/app", "one", "build-1", NULL);
	m2 = push_image("ci/app", "two", "build-2", NULL);
	key = layout_tag_current("ci/app", "build-2");
	age_key(key, 10);
	free(key);
	push_image("keep/app", "three", "old", NULL);
	CHECK(index_load(ix, st) == 0);

	CHECK(retention_parse(j, &rt, err, sizeof(err)) == 0);
	o.retention = rt;
	o.index = ix;
	o.on_change = on_change;
	changes[0] = '\0';
	CHECK(gc_run(st, &o, &stats) == 0);
	CHECK(stats.count[GC_TAG] == 1);
	CHECK_STR(changes, "ci/app:build-1 ci/app:- ");
	CHECK(!tag_exists("ci/app", "build-1"));
	CHECK(tag_exists("ci/app", "build-2"));
	CHECK(!revision_exists("ci/app", &m1));
	CHECK(revision_exists("ci/app", &m2));
	CHECK(index_count_tags(ix, "ci/app") == 1);
	CHECK(tag_exists("keep/app", "old"));
	retention_free(rt);
	json_decref(j);
	index_free(ix);
	store_done();
}

/* A repository nested in a removed one stays, with the parent's dir. */
static void test_nested_repository_survives(void)
{
	struct gc_stats stats;
	struct seen seen;

	store_fresh();
	push_image("a", "top", "t", NULL);
	delete_tag("a", "t");
	push_image("a/b", "nested", "t", NULL);
	CHECK(collect(false, true, 0, NULL, &stats, &seen) == 0);
	CHECK(stats.count[GC_REPOSITORY] == 1);
	CHECK(!key_exists(LAYOUT_ROOT "/repositories/a/_manifests"));
	CHECK(tag_exists("a/b", "t"));
	store_done();
}

int main(void)
{
	log_threshold = LVL_ERROR;
	RUN(test_default_sweeps_unreferenced);
	RUN(test_untagged_kept_by_default);
	RUN(test_untagged_keeps_index_children_and_referrers);
	RUN(test_grace_period);
	RUN(test_guard_holds);
	RUN(test_leftovers);
	RUN(test_marks_schema1_and_foreign);
	RUN(test_dry_run_matches_run);
	RUN(test_retention_in_a_run);
	RUN(test_nested_repository_survives);
	return check_done();
}
