/*
 * test_index.c - the in-memory catalog: loading from a store on disk,
 * keeping order through adds and removes, paging with n and last, and
 * staying consistent while threads change and read it at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "index.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define REPOS "docker/registry/v2/repositories/"
#define LINK                                                                   \
	"sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"

/* A store in a fresh directory under /tmp, removed by store_done. */
struct tmp_store {
	char dir[64];
	struct store *st;
};

static void store_make(struct tmp_store *t)
{
	strcpy(t->dir, "/tmp/berth-index-XXXXXX");
	t->st = NULL;
	if (!mkdtemp(t->dir)) {
		CHECK(!"mkdtemp failed");
		return;
	}
	CHECK(store_fs_open(t->dir, &t->st) == 0);
}

static void store_done(struct tmp_store *t)
{
	if (!t->st)
		return;
	t->st->ops->remove(t->st, "docker");
	t->st->ops->close(t->st);
	CHECK(rmdir(t->dir) == 0);
}

static void put(struct tmp_store *t, const char *rel)
{
	char *key = xasprintf(REPOS "%s", rel);

	CHECK(t->st->ops->put(t->st, key, LINK, strlen(LINK)) == 0);
	free(key);
}

/* Checks that a page holds exactly the names given, in order. */
static void check_page(const struct index_page *p, const char *const *want,
		       size_t count, bool more)
{
	CHECK(p->count == count);
	CHECK(p->more == more);
	for (size_t i = 0; i < count && i < p->count; i++)
		CHECK_STR(p->names[i], want[i]);
}

static void check_repos(struct index *ix, const char *const *want, size_t count)
{
	struct index_page p;

	index_list_repos(ix, NULL, 0, &p);
	check_page(&p, want, count, false);
	index_page_free(&p);
}

static void check_tags(struct index *ix, const char *repo,
		       const char *const *want, size_t count)
{
	struct index_page p;

	CHECK(index_list_tags(ix, repo, NULL, 0, &p) == 0);
	check_page(&p, want, count, false);
	index_page_free(&p);
	CHECK(index_count_tags(ix, repo) == count);
}

/*
 * Nested repositories, a repository that is also a parent, tags without
 * current/link, directories holding only uploads, and names the API
 * could never serve.
 */
static void build_tree(struct tmp_store *t)
{
	put(t, "library/alpine/_manifests/tags/latest/current/link");
	put(t, "library/alpine/_manifests/tags/3.19/current/link");
	put(t, "library/alpine/_manifests/tags/old/index/sha256/ab/link");
	put(t, "library/alpine/_manifests/revisions/sha256/ab/link");
	put(t, "library/alpine/_layers/sha256/ab/link");
	put(t, "library/ubuntu/_manifests/tags/22.04/current/link");
	put(t, "a/_manifests/tags/v1/current/link");
	put(t, "a/b/_manifests/tags/v2/current/link");
	put(t, "a/b/c/_layers/sha256/ab/link");
	put(t, "a-b/_manifests/tags/x/current/link");
	put(t, "a-b/_manifests/tags/-bad/current/link");
	put(t, "pending/_uploads/0b7e/startedat");
	put(t, "x/_uploads/u1/_manifests/tags/t/current/link");
	put(t, "_hidden/_manifests/tags/t/current/link");
	put(t, "Upper/_manifests/tags/t/current/link");
	put(t, "filerepo/_manifests");
}

static void test_load_tree(void)
{
	static const char *const repos[] = {
		"a", "a-b", "a/b", "a/b/c", "library/alpine", "library/ubuntu",
	};
	static const char *const alpine[] = {"3.19", "latest"};
	static const char *const a[] = {"v1"};
	static const char *const ab[] = {"v2"};
	static const char *const dash[] = {"x"};
	struct index *ix = index_new();
	struct tmp_store t;

	store_make(&t);
	if (!t.st)
		goto out;
	build_tree(&t);

	index_add_repo(ix, "stale/entry");
	CHECK(index_load(ix, t.st) == 0);

	check_repos(ix, repos, 6);
	check_tags(ix, "library/alpine", alpine, 2);
	check_tags(ix, "a", a, 1);
	check_tags(ix, "a/b", ab, 1);
	check_tags(ix, "a-b", dash, 1);
	check_tags(ix, "a/b/c", NULL, 0);
	check_tags(ix, "library/ubuntu", (const char *[]){"22.04"}, 1);
	CHECK(!index_has_repo(ix, "stale/entry"));
	CHECK(!index_has_repo(ix, "pending"));
	CHECK(!index_has_repo(ix, "x"));
	CHECK(!index_has_repo(ix, "x/_uploads/u1"));
	CHECK(!index_has_repo(ix, "_hidden"));
	CHECK(!index_has_repo(ix, "Upper"));
	CHECK(!index_has_repo(ix, "filerepo"));
	CHECK(!index_has_repo(ix, "library"));

out:
	store_done(&t);
	index_free(ix);
}

static void test_load_empty_store(void)
{
	struct index *ix = index_new();
	struct tmp_store t;
	struct index_page p;

	store_make(&t);
	if (!t.st)
		goto out;

	index_add_tag(ix, "old", "v1");
	CHECK(index_load(ix, t.st) == 0);
	index_list_repos(ix, NULL, 0, &p);
	CHECK(p.count == 0);
	CHECK(!p.more);
	index_page_free(&p);
	CHECK(!index_has_repo(ix, "old"));

out:
	store_done(&t);
	index_free(ix);
}

/* Many repositories created out of order come back sorted. */
static void test_load_sorts(void)
{
	struct index *ix = index_new();
	struct tmp_store t;
	struct index_page p;
	char rel[128];

	store_make(&t);
	if (!t.st)
		goto out;
	for (int i = 0; i < 300; i++) {
		int k = (i * 7919) % 300;

		snprintf(rel, sizeof(rel),
			 "org%d/img%d/_manifests/tags/t%d/current/link", k % 7,
			 k, k);
		put(&t, rel);
	}

	CHECK(index_load(ix, t.st) == 0);
	index_list_repos(ix, NULL, 0, &p);
	CHECK(p.count == 300);
	for (size_t i = 1; i < p.count; i++)
		CHECK(strcmp(p.names[i - 1], p.names[i]) < 0);
	index_page_free(&p);
	CHECK(index_count_tags(ix, "org3/img10") == 1);

out:
	store_done(&t);
	index_free(ix);
}

/*
 * A store that fails one key with -EIO, to show that a failed load
 * reports the error and leaves the index as it was.
 */
struct failing_store {
	struct store base;
	struct store *inner;
	const char *fail_key;
};

static struct failing_store *failing(struct store *s)
{
	return (struct failing_store *)s;
}

static int failing_list(struct store *s, const char *key, store_list_fn fn,
			void *arg)
{
	struct failing_store *f = failing(s);

	if (!strcmp(key, f->fail_key))
		return -EIO;
	return f->inner->ops->list(f->inner, key, fn, arg);
}

static int failing_stat(struct store *s, const char *key, struct store_stat *st)
{
	struct failing_store *f = failing(s);

	if (!strcmp(key, f->fail_key))
		return -EIO;
	return f->inner->ops->stat(f->inner, key, st);
}

static const struct store_ops failing_ops = {
	.name = "failing",
	.list = failing_list,
	.stat = failing_stat,
};

static void check_load_fails(struct store *inner, const char *key)
{
	static const char *const before[] = {"keep/me"};
	struct failing_store f = {{&failing_ops}, inner, key};
	struct index *ix = index_new();

	index_add_tag(ix, "keep/me", "v1");
	CHECK(index_load(ix, &f.base) == -EIO);
	check_repos(ix, before, 1);
	CHECK(index_count_tags(ix, "keep/me") == 1);
	index_free(ix);
}

static void test_load_error_changes_nothing(void)
{
	struct tmp_store t;

	store_make(&t);
	if (!t.st)
		goto out;
	build_tree(&t);

	check_load_fails(t.st, "docker/registry/v2/repositories");
	check_load_fails(t.st, REPOS "library");
	check_load_fails(t.st, REPOS "a/b/_manifests/tags");
	check_load_fails(t.st, REPOS "a/_manifests/tags/v1/current/link");

out:
	store_done(&t);
}

/*
 * Another process on the same storage: what it adds and deletes shows
 * after a refresh, and the repository generation tells name caches.
 */
static void test_refresh_sees_other_writers(void)
{
	static const char *const repos[] = {
		"a", "a-b", "a/b", "a/b/c", "library/ubuntu", "new/one",
	};
	struct index *ix = index_new();
	struct tmp_store t;
	uint64_t gen;

	store_make(&t);
	if (!t.st)
		goto out;
	build_tree(&t);
	CHECK(index_load(ix, t.st) == 0);
	gen = index_repos_generation(ix);

	/* A tag moved elsewhere keeps its name: nothing to list anew. */
	put(&t, "a/_manifests/tags/v1/current/link");
	CHECK(index_refresh(ix, t.st) == 0);
	CHECK(index_repos_generation(ix) == gen);

	put(&t, "new/one/_manifests/tags/t1/current/link");
	put(&t, "a/_manifests/tags/v9/current/link");
	CHECK(t.st->ops->remove(t.st, REPOS "library/alpine/_manifests/tags/"
					    "latest") == 0);
	CHECK(t.st->ops->remove(t.st, REPOS "library/alpine") == 0);
	CHECK(index_refresh(ix, t.st) == 0);

	check_repos(ix, repos, 6);
	check_tags(ix, "new/one", (const char *[]){"t1"}, 1);
	check_tags(ix, "a", (const char *[]){"v1", "v9"}, 2);
	CHECK(index_repos_generation(ix) != gen);

out:
	store_done(&t);
	index_free(ix);
}

/*
 * A store that reports changes to the index in the middle of a walk,
 * as the registry does when a push lands while a refresh runs.
 */
struct racing_store {
	struct store base;
	struct store *inner;
	struct index *ix;
	bool done;
};

static int racing_list(struct store *s, const char *key, store_list_fn fn,
		       void *arg)
{
	struct racing_store *r = (struct racing_store *)s;
	int err = r->inner->ops->list(r->inner, key, fn, arg);

	/* After the root is listed: the walk has not seen these yet. */
	if (!r->done) {
		r->done = true;
		index_add_tag(r->ix, "pushed/now", "t");
		index_remove_tag(r->ix, "a", "v1");
		index_remove_repo(r->ix, "a-b");
	}
	return err;
}

static int racing_stat(struct store *s, const char *key, struct store_stat *st)
{
	struct racing_store *r = (struct racing_store *)s;

	return r->inner->ops->stat(r->inner, key, st);
}

static const struct store_ops racing_ops = {
	.name = "racing",
	.list = racing_list,
	.stat = racing_stat,
};

static void test_refresh_keeps_changes_meanwhile(void)
{
	static const char *const repos[] = {
		"a",
		"a/b",
		"a/b/c",
		"library/alpine",
		"library/ubuntu",
		"pushed/now",
	};
	struct index *ix = index_new();
	struct racing_store r = {{&racing_ops}, NULL, ix, false};
	struct tmp_store t;

	store_make(&t);
	if (!t.st)
		goto out;
	build_tree(&t);
	CHECK(index_load(ix, t.st) == 0);
	r.inner = t.st;

	CHECK(index_refresh(ix, &r.base) == 0);
	CHECK(r.done);
	check_repos(ix, repos, 6);
	check_tags(ix, "pushed/now", (const char *[]){"t"}, 1);
	check_tags(ix, "a", NULL, 0);

	/* The next refresh reads the store as it is: nothing to replay. */
	CHECK(index_refresh(ix, t.st) == 0);
	CHECK(index_has_repo(ix, "a-b"));
	CHECK(!index_has_repo(ix, "pushed/now"));

out:
	store_done(&t);
	index_free(ix);
}

/* A refresh that cannot read the store keeps the lists; the next one runs. */
static void test_refresh_error_keeps_lists(void)
{
	static const char *const before[] = {"keep/me"};
	struct failing_store f = {{&failing_ops}, NULL, REPOS "library"};
	struct index *ix = index_new();
	struct tmp_store t;

	store_make(&t);
	if (!t.st)
		goto out;
	build_tree(&t);
	f.inner = t.st;

	index_add_tag(ix, "keep/me", "v1");
	CHECK(index_refresh(ix, &f.base) == -EIO);
	check_repos(ix, before, 1);
	CHECK(index_refresh(ix, t.st) == 0);
	CHECK(index_has_repo(ix, "library/alpine"));
	CHECK(!index_has_repo(ix, "keep/me"));

out:
	store_done(&t);
	index_free(ix);
}

/* The thread refreshes on its own within the interval, and stops. */
static void test_refresh_thread(void)
{
	struct index *ix = index_new();
	struct tmp_store t;

	store_make(&t);
	if (!t.st)
		goto out;
	CHECK(index_load(ix, t.st) == 0);
	CHECK(index_refresh_interval(ix) == 0);
	CHECK(index_refresh_start(ix, t.st, 1) == 0);
	CHECK(index_refresh_interval(ix) == 1);

	put(&t, "late/_manifests/tags/t/current/link");
	for (int i = 0; i < 40 && !index_has_repo(ix, "late"); i++)
		usleep(100 * 1000);
	CHECK(index_has_repo(ix, "late"));
	index_refresh_stop(ix);
	CHECK(index_refresh_interval(ix) == 0);

out:
	store_done(&t);
	index_free(ix);
}

static void test_add_remove_keeps_order(void)
{
	static const char *const order[] = {"b", "d", "d/e", "f"};
	static const char *const tags[] = {"1.0", "2.0", "latest"};
	static const char *const fewer[] = {"1.0", "latest"};
	struct index *ix = index_new();

	index_add_repo(ix, "f");
	index_add_repo(ix, "d/e");
	index_add_repo(ix, "b");
	index_add_repo(ix, "d");
	index_add_repo(ix, "d");
	check_repos(ix, order, 4);

	index_add_tag(ix, "d", "latest");
	index_add_tag(ix, "d", "1.0");
	index_add_tag(ix, "d", "2.0");
	index_add_tag(ix, "d", "1.0");
	check_tags(ix, "d", tags, 3);

	index_remove_tag(ix, "d", "2.0");
	index_remove_tag(ix, "d", "missing");
	index_remove_tag(ix, "nowhere", "1.0");
	check_tags(ix, "d", fewer, 2);

	index_remove_tag(ix, "d", "1.0");
	index_remove_tag(ix, "d", "latest");
	CHECK(index_has_repo(ix, "d"));
	check_tags(ix, "d", NULL, 0);

	index_remove_repo(ix, "d");
	index_remove_repo(ix, "zzz");
	check_repos(ix, (const char *[]){"b", "d/e", "f"}, 3);

	index_add_tag(ix, "c", "v1");
	CHECK(index_has_repo(ix, "c"));
	check_repos(ix, (const char *[]){"b", "c", "d/e", "f"}, 4);

	index_remove_repo(ix, "b");
	index_remove_repo(ix, "c");
	index_remove_repo(ix, "d/e");
	index_remove_repo(ix, "f");
	check_repos(ix, NULL, 0);
	index_free(ix);
}

static void test_unknown_repo(void)
{
	struct index *ix = index_new();
	struct index_page p;

	index_add_tag(ix, "known", "v1");
	CHECK(index_list_tags(ix, "unknown", NULL, 10, &p) == -1);
	CHECK(p.count == 0);
	CHECK(!p.more);
	index_page_free(&p);
	CHECK(index_count_tags(ix, "unknown") == 0);
	CHECK(index_count_tags(ix, "known") == 1);
	CHECK(!index_has_repo(ix, "know"));
	CHECK(!index_has_repo(ix, "known/"));
	index_free(ix);
}

/* Walks every page of size n and checks they cover all names once. */
static void check_all_pages(struct index *ix, size_t total, size_t n)
{
	char *last = NULL;
	size_t seen = 0, pages = 0;
	struct index_page p;
	bool more;

	do {
		index_list_repos(ix, last, n, &p);
		CHECK(p.count <= n);
		CHECK(p.more == (seen + p.count < total));
		for (size_t i = 0; i < p.count; i++) {
			if (last)
				CHECK(strcmp(last, p.names[i]) < 0);
			free(last);
			last = xstrdup(p.names[i]);
		}
		seen += p.count;
		pages++;
		more = p.more;
		index_page_free(&p);
	} while (more && pages <= total);

	free(last);
	CHECK(seen == total);
	CHECK(pages == (total + n - 1) / n);
}

static void test_repo_pages(void)
{
	static const char *const all[] = {
		"r00", "r01", "r02", "r03", "r04",
		"r05", "r06", "r07", "r08", "r09",
	};
	struct index *ix = index_new();
	struct index_page p;

	for (int i = 9; i >= 0; i--)
		index_add_repo(ix, all[i]);

	check_all_pages(ix, 10, 3);
	check_all_pages(ix, 10, 5);
	check_all_pages(ix, 10, 10);
	check_all_pages(ix, 10, 1);

	index_list_repos(ix, NULL, 3, &p);
	check_page(&p, all, 3, true);
	index_page_free(&p);

	index_list_repos(ix, "r035", 2, &p);
	check_page(&p, all + 4, 2, true);
	index_page_free(&p);

	index_list_repos(ix, "r07", 3, &p);
	check_page(&p, all + 8, 2, false);
	index_page_free(&p);

	index_list_repos(ix, "r09", 3, &p);
	check_page(&p, NULL, 0, false);
	index_page_free(&p);

	index_list_repos(ix, "zzz", 0, &p);
	check_page(&p, NULL, 0, false);
	index_page_free(&p);

	index_list_repos(ix, "a", 0, &p);
	check_page(&p, all, 10, false);
	index_page_free(&p);

	index_list_repos(ix, "", 100, &p);
	check_page(&p, all, 10, false);
	index_page_free(&p);

	index_list_repos(ix, "r04", 0, &p);
	check_page(&p, all + 5, 5, false);
	index_page_free(&p);

	index_free(ix);
}

static void test_tag_pages(void)
{
	static const char *const all[] = {
		"1.0", "1.1", "2.0", "Latest", "latest", "v1",
	};
	struct index *ix = index_new();
	struct index_page p;

	for (int i = 5; i >= 0; i--)
		index_add_tag(ix, "app", all[i]);

	CHECK(index_list_tags(ix, "app", NULL, 4, &p) == 0);
	check_page(&p, all, 4, true);
	index_page_free(&p);

	CHECK(index_list_tags(ix, "app", "Latest", 4, &p) == 0);
	check_page(&p, all + 4, 2, false);
	index_page_free(&p);

	CHECK(index_list_tags(ix, "app", "1.05", 2, &p) == 0);
	check_page(&p, all + 1, 2, true);
	index_page_free(&p);

	CHECK(index_list_tags(ix, "app", "v1", 2, &p) == 0);
	check_page(&p, NULL, 0, false);
	index_page_free(&p);

	CHECK(index_list_tags(ix, "app", "2.0", 0, &p) == 0);
	check_page(&p, all + 3, 3, false);
	index_page_free(&p);

	CHECK(index_list_tags(ix, "app", "", 6, &p) == 0);
	check_page(&p, all, 6, false);
	index_page_free(&p);

	index_free(ix);
}

/*
 * Writers add tags and repositories and remove half of their tags again
 * while readers page through both lists; every page a reader sees must
 * be sorted and after its `last`, and the end state must be exact.
 */
#define WRITERS 4
#define READERS 4
#define PER_WRITER 400

struct smoke {
	struct index *ix;
	int id;
	atomic_int *stop;
};

static void *smoke_writer(void *arg)
{
	struct smoke *s = arg;
	char repo[32], tag[32], sub[64];

	snprintf(repo, sizeof(repo), "team%d/app", s->id);
	for (int i = 0; i < PER_WRITER; i++) {
		snprintf(tag, sizeof(tag), "t%04d", i);
		index_add_tag(s->ix, repo, tag);
		snprintf(sub, sizeof(sub), "team%d/svc%04d", s->id, i);
		index_add_repo(s->ix, sub);
		if (i % 2) {
			snprintf(tag, sizeof(tag), "t%04d", i - 1);
			index_remove_tag(s->ix, repo, tag);
		}
	}
	return NULL;
}

static int page_is_ordered(const struct index_page *p, const char *last)
{
	for (size_t i = 0; i < p->count; i++) {
		const char *prev = i ? p->names[i - 1] : last;

		if (prev && *prev && strcmp(prev, p->names[i]) >= 0)
			return 0;
	}
	return 1;
}

static void *smoke_reader(void *arg)
{
	struct smoke *s = arg;
	long bad = 0;

	while (!*s->stop) {
		struct index_page p;
		char *last = NULL;
		bool more;
		int pages = 0;

		/* The page cap stops a broken `last` from looping forever. */
		do {
			index_list_repos(s->ix, last, 50, &p);
			bad += !page_is_ordered(&p, last);
			free(last);
			last = p.count ? xstrdup(p.names[p.count - 1]) : NULL;
			more = p.more;
			index_page_free(&p);
		} while (more && last && ++pages < 1000);
		bad += pages >= 1000;
		free(last);

		if (index_list_tags(s->ix, "team0/app", NULL, 0, &p) == 0)
			bad += !page_is_ordered(&p, NULL);
		index_page_free(&p);
	}
	return (void *)bad;
}

static void test_concurrent_smoke(void)
{
	struct smoke w[WRITERS], r[READERS];
	pthread_t wt[WRITERS], rt[READERS];
	atomic_int stop = 0;
	struct index *ix = index_new();
	struct index_page p;

	for (int i = 0; i < READERS; i++) {
		r[i] = (struct smoke){ix, i, &stop};
		CHECK(pthread_create(&rt[i], NULL, smoke_reader, &r[i]) == 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct smoke){ix, i, &stop};
		CHECK(pthread_create(&wt[i], NULL, smoke_writer, &w[i]) == 0);
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(wt[i], NULL);
	stop = 1;
	for (int i = 0; i < READERS; i++) {
		void *bad;

		pthread_join(rt[i], &bad);
		CHECK(bad == NULL);
	}

	index_list_repos(ix, NULL, 0, &p);
	CHECK(p.count == WRITERS * (PER_WRITER + 1));
	CHECK(page_is_ordered(&p, NULL));
	index_page_free(&p);
	for (int i = 0; i < WRITERS; i++) {
		char repo[32];

		snprintf(repo, sizeof(repo), "team%d/app", i);
		CHECK(index_count_tags(ix, repo) == PER_WRITER / 2);
	}
	index_free(ix);
}

int main(void)
{
	/* The load tests skip bad names on purpose; keep their warnings out. */
	log_threshold = LVL_ERROR;

	RUN(test_load_tree);
	RUN(test_load_empty_store);
	RUN(test_load_sorts);
	RUN(test_load_error_changes_nothing);
	RUN(test_refresh_sees_other_writers);
	RUN(test_refresh_keeps_changes_meanwhile);
	RUN(test_refresh_error_keeps_lists);
	RUN(test_refresh_thread);
	RUN(test_add_remove_keeps_order);
	RUN(test_unknown_repo);
	RUN(test_repo_pages);
	RUN(test_tag_pages);
	RUN(test_concurrent_smoke);
	return check_done();
}
