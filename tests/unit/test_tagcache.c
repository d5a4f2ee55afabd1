/*
 * test_tagcache.c - per-repository tag tables: digests and push times
 * read from the store, tags added and deleted seen without a report, a
 * tag pushed again seen once reported, summaries that count shared
 * layers once, unknown repositories, and the bound on rows kept.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "layout.h"
#include "log.h"
#include "meta.h"
#include "registry.h"
#include "store.h"
#include "tagcache.h"
#include "util.h"

struct env {
	char dir[64];
	struct store *st;
	struct config *cfg;
	struct registry *reg;
	struct meta_cache *mc;
	struct tagcache *tc;
};

static void env_make(struct env *e, size_t max_rows)
{
	char err[256];

	strcpy(e->dir, "/tmp/berth-tagcache-XXXXXX");
	CHECK(mkdtemp(e->dir) != NULL);
	CHECK(store_fs_open(e->dir, &e->st) == 0);
	log_threshold = LVL_ERROR;
	e->cfg = config_parse("version: 0.1\n", 13, NULL, err, sizeof(err));
	CHECK(e->cfg != NULL);
	e->reg = registry_open(e->cfg, e->st);
	CHECK(e->reg != NULL);
	e->mc = meta_cache_new(e->st, 1 << 20);
	e->tc = tagcache_new(e->reg, e->mc, max_rows);
}

static void env_done(struct env *e)
{
	tagcache_free(e->tc);
	meta_cache_free(e->mc);
	registry_close(e->reg);
	config_free(e->cfg);
	e->st->ops->remove(e->st, "docker");
	e->st->ops->close(e->st);
	CHECK(rmdir(e->dir) == 0);
}

/* Stores a blob and links it into repo; returns its digest string. */
static char *blob(struct env *e, const char *repo, const char *text)
{
	struct reg_error err;
	struct digest d;
	char s[DIGEST_MAX_STR + 1];
	char *key;

	digest_of(DIGEST_SHA256, text, strlen(text), &d);
	key = layout_blob_data(&d);
	CHECK(e->st->ops->put(e->st, key, text, strlen(text)) == 0);
	free(key);
	CHECK(registry_link_blob(e->reg, repo, &d, &err) == 0);
	digest_format(&d, s);
	return xstrdup(s);
}

/* Pushes an image with a config naming arch and one layer of text. */
static void push(struct env *e, const char *repo, const char *tag,
		 const char *arch, const char *layer, struct digest *out)
{
	char *cfg =
		xasprintf("{\"architecture\":\"%s\",\"os\":\"linux\"}", arch);
	char *cd = blob(e, repo, cfg), *ld = blob(e, repo, layer);
	char *m = xasprintf(
		"{\"schemaVersion\":2,\"mediaType\":"
		"\"application/vnd.oci.image.manifest.v1+json\",\"config\":"
		"{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		"\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
		"\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":"
		"\"%s\",\"size\":%zu}]}",
		cd, strlen(cfg), ld, strlen(layer));
	struct reg_put_result res;
	struct reg_error err;

	CHECK(registry_manifest_put(e->reg, repo, tag, m, strlen(m), NULL, &res,
				    &err) == 0);
	if (out)
		*out = res.digest;
	free(m);
	free(cd);
	free(ld);
	free(cfg);
}

static const struct tag_row *row(const struct tag_table *t, const char *n)
{
	for (size_t i = 0; t && i < t->count; i++)
		if (!strcmp(t->rows[i].name, n))
			return &t->rows[i];
	return NULL;
}

static void test_rows(void)
{
	struct env e;
	const struct tag_table *t;
	struct digest a, b;

	env_make(&e, 1000);
	push(&e, "app", "b", "amd64", "layer one", &b);
	push(&e, "app", "a", "arm64", "layer two", &a);
	t = tagcache_get(e.tc, "app");
	CHECK(t && t->count == 2);
	if (t && t->count == 2) {
		CHECK_STR(t->rows[0].name, "a");
		CHECK_STR(t->rows[1].name, "b");
		CHECK(digest_equal(&t->rows[0].digest, &a));
		CHECK(digest_equal(&t->rows[1].digest, &b));
		CHECK(t->rows[0].pushed > now_seconds() - 60);
	}
	tagcache_release(e.tc, t);
	CHECK(tagcache_get(e.tc, "nothing") == NULL);
	env_done(&e);
}

static void test_changes(void)
{
	struct env e;
	const struct tag_table *t1, *t2, *t3;
	struct reg_error err;
	struct digest a2, c;

	env_make(&e, 1000);
	push(&e, "app", "a", "amd64", "one", NULL);
	t1 = tagcache_get(e.tc, "app");

	/* Added and deleted tags show without any report. */
	push(&e, "app", "c", "amd64", "three", &c);
	t2 = tagcache_get(e.tc, "app");
	CHECK(t2 && t2 != t1 && t2->count == 2 && row(t2, "c") &&
	      digest_equal(&row(t2, "c")->digest, &c));
	CHECK(t1->count == 1); /* the old table is untouched */
	tagcache_release(e.tc, t1);
	tagcache_release(e.tc, t2);
	CHECK(registry_manifest_delete(e.reg, "app", "c", &err) == 0);
	t2 = tagcache_get(e.tc, "app");
	CHECK(t2 && t2->count == 1 && !row(t2, "c"));

	/* Unchanged: the same table again, no reads. */
	t3 = tagcache_get(e.tc, "app");
	CHECK(t3 == t2);
	tagcache_release(e.tc, t3);

	/* A tag moved to another image shows once reported. */
	push(&e, "app", "a", "arm64", "two", &a2);
	tagcache_changed(e.tc, "app", "a");
	t3 = tagcache_get(e.tc, "app");
	CHECK(t3 && row(t3, "a") && digest_equal(&row(t3, "a")->digest, &a2));
	tagcache_release(e.tc, t2);
	tagcache_release(e.tc, t3);
	env_done(&e);
}

static void test_summary(void)
{
	struct env e;
	const struct tag_table *t;
	struct tag_summary s;
	const char *shared = "a layer both images have";

	env_make(&e, 1000);
	push(&e, "app", "amd", "amd64", shared, NULL);
	push(&e, "app", "arm", "arm64", shared, NULL);
	push(&e, "app", "again", "arm64", shared, NULL); /* same digest */
	t = tagcache_get(e.tc, "app");
	tagcache_summary(e.tc, t, &s);
	CHECK(s.tags == 3);
	/* two configs (amd64 and arm64), one shared layer */
	CHECK(s.size == 2 * strlen("{\"architecture\":\"amd64\","
				   "\"os\":\"linux\"}") +
				strlen(shared));
	CHECK(s.last_push > now_seconds() - 60);
	tagcache_release(e.tc, t);
	env_done(&e);
}

static void test_bound(void)
{
	struct env e;
	char repo[16];

	env_make(&e, 5);
	for (int i = 0; i < 10; i++) {
		snprintf(repo, sizeof(repo), "r%d", i);
		push(&e, repo, "x", "amd64", "l", NULL);
		push(&e, repo, "y", "amd64", "l", NULL);
		tagcache_release(e.tc, tagcache_get(e.tc, repo));
		CHECK(tagcache_rows(e.tc) <= 5);
	}
	CHECK(tagcache_rows(e.tc) >= 2);
	env_done(&e);
}

static void test_names(void)
{
	struct env e;
	const struct index_page *p1, *p2;

	env_make(&e, 1000);
	push(&e, "b", "x", "amd64", "l", NULL);
	push(&e, "a", "x", "amd64", "l", NULL);
	p1 = tagcache_repos(e.tc);
	CHECK(p1->count == 2 && !strcmp(p1->names[0], "a"));
	p2 = tagcache_repos(e.tc);
	CHECK(p2 == p1); /* nothing changed: the same snapshot */
	tagcache_release_repos(e.tc, p2);

	push(&e, "a", "y", "amd64", "l", NULL);
	tagcache_changed(e.tc, "a", "y"); /* a known name: still fresh */
	p2 = tagcache_repos(e.tc);
	CHECK(p2 == p1);
	tagcache_release_repos(e.tc, p2);
	/* A new repository in the index, reported or not, is listed. */
	push(&e, "c", "x", "amd64", "l", NULL);
	p2 = tagcache_repos(e.tc);
	CHECK(p2 != p1 && p2->count == 3 && !strcmp(p2->names[2], "c"));
	CHECK(p1->count == 2); /* the old snapshot lives until released */
	tagcache_release_repos(e.tc, p1);
	tagcache_release_repos(e.tc, p2);
	env_done(&e);
}

/*
 * Two registries on one store, as two berths on one bucket: b's cache
 * hears nothing of a's pushes, yet with an index refresh of 1s it
 * shows a's new repository, a moved tag and a deleted one within the
 * interval plus a walk.
 */
static void test_other_writer(void)
{
	static const char yaml[] = "version: 0.1\nstorage:\n  maintenance:\n"
				   "    index:\n      refresh: 1s\n";
	struct env e;
	struct config *cfg;
	struct registry *b;
	struct tagcache *tc;
	const struct tag_table *t;
	struct digest d1, d2;
	struct reg_error err;
	char msg[256];
	bool seen = false;

	env_make(&e, 1000);
	cfg = config_parse(yaml, strlen(yaml), NULL, msg, sizeof(msg));
	CHECK(cfg && cfg->index_refresh == 1);
	b = cfg ? registry_open(cfg, e.st) : NULL;
	CHECK(b != NULL);
	if (!b)
		goto out;
	tc = tagcache_new(b, e.mc, 1000);

	push(&e, "app", "v1", "amd64", "one", &d1);
	for (int i = 0; i < 40 && !seen; i++) {
		const struct index_page *p = tagcache_repos(tc);

		seen = p->count == 1 && !strcmp(p->names[0], "app");
		tagcache_release_repos(tc, p);
		if (!seen)
			usleep(100 * 1000);
	}
	CHECK(seen);
	t = tagcache_get(tc, "app");
	CHECK(row(t, "v1") && digest_equal(&row(t, "v1")->digest, &d1));
	tagcache_release(tc, t);

	/* Moved through a: b's table is re-read once it is 1s old. */
	push(&e, "app", "v1", "arm64", "two", &d2);
	seen = false;
	for (int i = 0; i < 40 && !seen; i++) {
		t = tagcache_get(tc, "app");
		seen = row(t, "v1") && digest_equal(&row(t, "v1")->digest, &d2);
		tagcache_release(tc, t);
		if (!seen)
			usleep(100 * 1000);
	}
	CHECK(seen);

	CHECK(registry_manifest_delete(e.reg, "app", "v1", &err) == 0);
	seen = false;
	for (int i = 0; i < 40 && !seen; i++) {
		t = tagcache_get(tc, "app");
		seen = t && !row(t, "v1");
		tagcache_release(tc, t);
		if (!seen)
			usleep(100 * 1000);
	}
	CHECK(seen);
	tagcache_free(tc);
out:
	registry_close(b);
	config_free(cfg);
	env_done(&e);
}

/*
 * Deleting a manifest by digest through a registry whose index has not
 * seen a tag another one set on it still removes that tag: a tag left
 * behind would serve a deleted manifest.
 */
static void test_delete_untags_unseen(void)
{
	struct env e;
	struct registry *b;
	struct digest d;
	struct reg_error err;
	struct reg_manifest m;
	char ds[DIGEST_MAX_STR + 1];

	env_make(&e, 1000);
	b = registry_open(e.cfg, e.st);
	CHECK(b != NULL);
	if (!b)
		goto out;
	push(&e, "app", "v1", "amd64", "one", &d);
	CHECK(!index_has_repo(registry_index(b), "app"));

	digest_format(&d, ds);
	CHECK(registry_manifest_delete(b, "app", ds, &err) == 0);
	CHECK(registry_manifest_get(e.reg, "app", "v1", &m, &err) == -1);
	reg_manifest_free(&m);
	registry_close(b);
out:
	env_done(&e);
}

static void test_warm(void)
{
	struct env e;
	size_t entries, bytes;

	env_make(&e, 1000);
	push(&e, "a", "x", "amd64", "one", NULL);
	push(&e, "b", "x", "arm64", "two", NULL);
	push(&e, "b", "y", "arm64", "three", NULL);
	CHECK(tagcache_warm(e.tc) == 2);
	CHECK(tagcache_rows(e.tc) == 3);
	meta_cache_usage(e.mc, &entries, &bytes);
	CHECK(entries == 3); /* every tagged image summarised */
	env_done(&e);

	env_make(&e, 5); /* stops at 80% of 5 rows */
	for (int i = 0; i < 3; i++) {
		const char *repo = (const char *[]){"a", "b", "c"}[i];

		push(&e, repo, "x", "amd64", "one", NULL);
		push(&e, repo, "y", "amd64", "one", NULL);
	}
	CHECK(tagcache_warm(e.tc) == 2);
	CHECK(tagcache_rows(e.tc) == 4);
	env_done(&e);

	env_make(&e, 1000);
	push(&e, "a", "x", "amd64", "one", NULL);
	tagcache_warm_start(e.tc); /* freed while or after it runs */
	env_done(&e);
}

static void test_summary_now(void)
{
	struct env e;
	struct tag_summary s = {0};
	bool ready = false;

	env_make(&e, 1000);
	push(&e, "big", "a", "amd64", "one", NULL);
	push(&e, "big", "b", "amd64", "two", NULL);
	push(&e, "big", "c", "amd64", "three", NULL);
	push(&e, "small", "a", "amd64", "one", NULL);

	/* Without the thread everything is worked out in place. */
	CHECK(tagcache_summary_now(e.tc, "big", 2, &s) && s.tags == 3);
	CHECK(!tagcache_summary_now(e.tc, "nothing", 2, &s));
	env_done(&e);

	env_make(&e, 1000);
	push(&e, "big", "a", "amd64", "one", NULL);
	push(&e, "big", "b", "amd64", "two", NULL);
	push(&e, "big", "c", "amd64", "three", NULL);
	tagcache_warm_start(e.tc);
	for (int i = 0; i < 500 && !ready; i++) {
		memset(&s, 0, sizeof(s));
		ready = tagcache_summary_now(e.tc, "big", 2, &s);
		CHECK(s.tags == 3); /* counted even while pending */
		if (!ready)
			usleep(10000);
	}
	CHECK(ready && s.size > 0);
	env_done(&e);
}

int main(void)
{
	RUN(test_rows);
	RUN(test_changes);
	RUN(test_summary);
	RUN(test_bound);
	RUN(test_names);
	RUN(test_other_writer);
	RUN(test_delete_untags_unseen);
	RUN(test_warm);
	RUN(test_summary_now);
	return check_done();
}
