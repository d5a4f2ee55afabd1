/*
 * index.c - the in-memory catalog: a sorted array of repositories, each
 * holding a sorted array of its tag names, behind one reader-writer lock.
 *
 * A page after `last` is one binary search plus the names copied out.
 * Inserting or removing shifts the array with memmove; at 100,000
 * repositories that is a few megabytes of copying, paid only when a
 * repository appears or goes away, which is rare next to page reads and
 * cheap next to the store writes that cause it.
 *
 * What counts as a repository follows registry:2 (distribution v2.8,
 * registry/storage/catalog.go and walk.go): its catalog walks
 * docker/registry/v2/repositories depth first, never enters a directory
 * whose name starts with '_', and reports a directory as a repository
 * when it has a child named "_layers".  It keeps walking the other
 * children, which is how "a" and "a/b" can both be repositories.  berth
 * also takes a directory with "_manifests" as a repository: a tree that
 * registry:2 wrote has _layers in every repository with content, so the
 * two agree there, and a repository holding manifests is one whatever
 * else it holds.  A directory with only _uploads is not a repository in
 * either, so an abandoned upload does not show in the catalog.
 *
 * Order differs in one corner: registry:2 lists repositories in walk
 * order, which puts "a/b" before "a-b"; berth sorts with strcmp, as the
 * spec's `last` parameter assumes, which puts "a-b" first.  Either way
 * every name appears exactly once across pages.
 */
#include "index.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "log.h"
#include "ref.h"
#include "store.h"
#include "util.h"

struct index_repo {
	char *name; /* first, so repos and tag names share the searches */
	char **tags;
	size_t ntags;
	size_t tags_cap;
};

struct repo_list {
	struct index_repo *v;
	size_t count;
	size_t cap;
};

struct index {
	pthread_rwlock_t lock;
	struct repo_list repos;
};

/* A growable array of owned strings, as a directory scan collects them. */
struct name_list {
	char **v;
	size_t count;
	size_t cap;
};

/*
 * Sorted arrays of names.  Both arrays this file keeps hold elements
 * that begin with a char *, so one search serves repositories (stride
 * sizeof(struct index_repo)) and tags (stride sizeof(char *)).
 */
static const char *elem_name(const void *base, size_t size, size_t i)
{
	return *(char *const *)((const char *)base + i * size);
}

/* Returns the first position whose name is >= key; *found says ==. */
static size_t sorted_find(const void *base, size_t count, size_t size,
			  const char *key, bool *found)
{
	size_t lo = 0, hi = count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(elem_name(base, size, mid), key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}

	*found = lo < count && !strcmp(elem_name(base, size, lo), key);
	return lo;
}

/* Returns the first position whose name is strictly after last. */
static size_t sorted_after(const void *base, size_t count, size_t size,
			   const char *last)
{
	bool found;
	size_t at;

	if (!last || !*last)
		return 0;
	at = sorted_find(base, count, size, last, &found);
	return found ? at + 1 : at;
}

/* Makes room for one more element, doubling so n inserts cost O(n). */
static void *array_reserve(void *base, size_t count, size_t *cap, size_t size)
{
	if (count < *cap)
		return base;
	*cap = *cap ? *cap * 2 : 8;
	return xrealloc(base, *cap * size);
}

static void array_insert(void *base, size_t *count, size_t size, size_t at,
			 const void *elem)
{
	char *p = (char *)base + at * size;

	memmove(p + size, p, (*count - at) * size);
	memcpy(p, elem, size);
	(*count)++;
}

static void array_remove(void *base, size_t *count, size_t size, size_t at)
{
	char *p = (char *)base + at * size;

	memmove(p, p + size, (*count - at - 1) * size);
	(*count)--;
}

static void names_add(struct name_list *l, const char *name)
{
	l->v = array_reserve(l->v, l->count, &l->cap, sizeof(*l->v));
	l->v[l->count++] = xstrdup(name);
}

static void names_free(struct name_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void repo_clear(struct index_repo *r)
{
	for (size_t i = 0; i < r->ntags; i++)
		free(r->tags[i]);
	free(r->tags);
	free(r->name);
}

static void repos_free(struct repo_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		repo_clear(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* The caller holds the lock, for reading at least. */
static struct index_repo *repo_find(struct index *ix, const char *repo)
{
	bool found;
	size_t at = sorted_find(ix->repos.v, ix->repos.count,
				sizeof(*ix->repos.v), repo, &found);

	return found ? &ix->repos.v[at] : NULL;
}

/* Returns the repository, adding it first if new; holds the write lock. */
static struct index_repo *repo_insert(struct index *ix, const char *repo)
{
	struct repo_list *l = &ix->repos;
	struct index_repo fresh = {0};
	bool found;
	size_t at = sorted_find(l->v, l->count, sizeof(*l->v), repo, &found);

	if (found)
		return &l->v[at];

	fresh.name = xstrdup(repo);
	l->v = array_reserve(l->v, l->count, &l->cap, sizeof(*l->v));
	array_insert(l->v, &l->count, sizeof(*l->v), at, &fresh);
	return &l->v[at];
}

struct index *index_new(void)
{
	struct index *ix = xcalloc(1, sizeof(*ix));
	pthread_rwlockattr_t attr;

	/*
	 * glibc's default lets a steady stream of catalog readers starve a
	 * push that wants to add its tag; prefer writers instead.
	 */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(
		&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&ix->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	return ix;
}

void index_free(struct index *ix)
{
	if (!ix)
		return;
	repos_free(&ix->repos);
	pthread_rwlock_destroy(&ix->lock);
	free(ix);
}

/*
 * Loading.  Each directory is listed into memory before any of its
 * children is visited, so a backend never has two listings open per
 * level and a slow callback never holds a directory handle.
 */
struct repo_scan {
	struct name_list children;
	bool has_layers;
	bool has_manifests;
};

static int on_repo_child(void *arg, const char *name, bool is_dir)
{
	struct repo_scan *scan = arg;

	if (!is_dir)
		return 0;
	if (!strcmp(name, "_layers"))
		scan->has_layers = true;
	else if (!strcmp(name, "_manifests"))
		scan->has_manifests = true;
	else if (name[0] != '_' && strcmp(name, ".") && strcmp(name, ".."))
		names_add(&scan->children, name);
	return 0;
}

static int on_tag_child(void *arg, const char *name, bool is_dir)
{
	if (is_dir)
		names_add(arg, name);
	return 0;
}

/* Keeps the tags of repo that have a current/link; 0 or -errno. */
static int load_tags(struct store *st, const char *repo, struct index_repo *r)
{
	struct name_list found = {0};
	char *key = layout_tags_dir(repo);
	int err = st->ops->list(st, key, on_tag_child, &found);

	if (err == -ENOENT)
		err = 0;
	else if (err)
		log_error("index load cannot list key=%s err=%s", key,
			  store_strerror(err));
	for (size_t i = 0; !err && i < found.count; i++) {
		const char *tag = found.v[i];
		struct store_stat sst;
		char *link;

		if (!ref_valid_tag(tag)) {
			log_warn("index skips invalid tag repo=%s tag=%s", repo,
				 tag);
			continue;
		}

		link = layout_tag_current(repo, tag);
		err = st->ops->stat(st, link, &sst);
		if (err && err != -ENOENT)
			log_error("index load cannot stat key=%s err=%s", link,
				  store_strerror(err));
		free(link);
		if (err == -ENOENT || (!err && sst.is_dir)) {
			err = 0;
			continue;
		}
		if (err)
			break;

		r->tags = array_reserve(r->tags, r->ntags, &r->tags_cap,
					sizeof(*r->tags));
		r->tags[r->ntags++] = xstrdup(tag);
	}

	if (r->ntags > 1)
		qsort(r->tags, r->ntags, sizeof(*r->tags), cmp_names);
	names_free(&found);
	free(key);
	return err;
}

static int load_repo(struct store *st, const char *repo, bool has_manifests,
		     struct repo_list *out)
{
	struct index_repo r = {0};
	int err = 0;

	r.name = xstrdup(repo);
	if (has_manifests)
		err = load_tags(st, repo, &r);
	if (err) {
		repo_clear(&r);
		return err;
	}

	out->v = array_reserve(out->v, out->count, &out->cap, sizeof(*out->v));
	out->v[out->count++] = r;
	return 0;
}

/*
 * Visits the directory key, named repo (NULL for the root of all
 * repositories), and everything below it; repo is a valid name.  A
 * directory that vanishes while we walk is skipped: its removal will be
 * reported.
 */
static int load_dir(struct store *st, const char *key, const char *repo,
		    struct repo_list *out)
{
	struct repo_scan scan = {0};
	int err = st->ops->list(st, key, on_repo_child, &scan);

	if (err == -ENOENT) {
		err = 0;
		goto out;
	}
	if (err) {
		log_error("index load cannot list key=%s err=%s", key,
			  store_strerror(err));
		goto out;
	}

	if (repo && (scan.has_layers || scan.has_manifests)) {
		err = load_repo(st, repo, scan.has_manifests, out);
		if (err)
			goto out;
	}

	for (size_t i = 0; !err && i < scan.children.count; i++) {
		const char *name = scan.children.v[i];
		char *sub = repo ? xasprintf("%s/%s", repo, name)
				 : xstrdup(name);
		char *sub_key = xasprintf("%s/%s", key, name);

		/*
		 * Every prefix of a valid name is valid, so below an
		 * invalid one no repository the API can serve exists.
		 */
		if (ref_valid_name(sub))
			err = load_dir(st, sub_key, sub, out);
		else
			log_warn("index skips invalid repository name key=%s",
				 sub_key);
		free(sub_key);
		free(sub);
	}

out:
	names_free(&scan.children);
	return err;
}

int index_load(struct index *ix, struct store *st)
{
	struct repo_list loaded = {0};
	char *root = layout_repositories();
	int err;

	/*
	 * Hold the write lock for the whole walk: a change the registry
	 * reports meanwhile waits and then applies on top of what the walk
	 * saw, instead of being overwritten by it.
	 */
	pthread_rwlock_wrlock(&ix->lock);
	err = load_dir(st, root, NULL, &loaded);
	if (err) {
		repos_free(&loaded);
		goto out;
	}

	/* One sort at the end; inserting as we went would be quadratic. */
	if (loaded.count > 1)
		qsort(loaded.v, loaded.count, sizeof(*loaded.v), cmp_names);
	repos_free(&ix->repos);
	ix->repos = loaded;
	log_info("index loaded repositories=%zu", loaded.count);

out:
	pthread_rwlock_unlock(&ix->lock);
	free(root);
	return err;
}

void index_add_repo(struct index *ix, const char *repo)
{
	pthread_rwlock_wrlock(&ix->lock);
	repo_insert(ix, repo);
	pthread_rwlock_unlock(&ix->lock);
}

void index_remove_repo(struct index *ix, const char *repo)
{
	struct repo_list *l = &ix->repos;
	bool found;
	size_t at;

	pthread_rwlock_wrlock(&ix->lock);
	at = sorted_find(l->v, l->count, sizeof(*l->v), repo, &found);
	if (found) {
		repo_clear(&l->v[at]);
		array_remove(l->v, &l->count, sizeof(*l->v), at);
	}
	pthread_rwlock_unlock(&ix->lock);
}

bool index_has_repo(struct index *ix, const char *repo)
{
	bool found;

	pthread_rwlock_rdlock(&ix->lock);
	found = repo_find(ix, repo) != NULL;
	pthread_rwlock_unlock(&ix->lock);
	return found;
}

void index_add_tag(struct index *ix, const char *repo, const char *tag)
{
	struct index_repo *r;
	bool found;
	size_t at;

	pthread_rwlock_wrlock(&ix->lock);
	r = repo_insert(ix, repo);
	at = sorted_find(r->tags, r->ntags, sizeof(*r->tags), tag, &found);
	if (!found) {
		char *copy = xstrdup(tag);

		r->tags = array_reserve(r->tags, r->ntags, &r->tags_cap,
					sizeof(*r->tags));
		array_insert(r->tags, &r->ntags, sizeof(*r->tags), at, &copy);
	}
	pthread_rwlock_unlock(&ix->lock);
}

void index_remove_tag(struct index *ix, const char *repo, const char *tag)
{
	struct index_repo *r;
	bool found = false;
	size_t at = 0;

	pthread_rwlock_wrlock(&ix->lock);
	r = repo_find(ix, repo);
	if (r)
		at = sorted_find(r->tags, r->ntags, sizeof(*r->tags), tag,
				 &found);
	if (found) {
		free(r->tags[at]);
		array_remove(r->tags, &r->ntags, sizeof(*r->tags), at);
	}
	pthread_rwlock_unlock(&ix->lock);
}

/* Copies up to n names (0: all) after last out of a sorted array. */
static void page_fill(struct index_page *page, const void *base, size_t count,
		      size_t size, const char *last, size_t n)
{
	size_t start = sorted_after(base, count, size, last);
	size_t take = count - start;

	if (n && n < take)
		take = n;

	page->names = take ? xmalloc(take * sizeof(*page->names)) : NULL;
	for (size_t i = 0; i < take; i++)
		page->names[i] = xstrdup(elem_name(base, size, start + i));
	page->count = take;
	page->more = start + take < count;
}

void index_list_repos(struct index *ix, const char *last, size_t n,
		      struct index_page *page)
{
	pthread_rwlock_rdlock(&ix->lock);
	page_fill(page, ix->repos.v, ix->repos.count, sizeof(*ix->repos.v),
		  last, n);
	pthread_rwlock_unlock(&ix->lock);
}

/* An unknown repository leaves an empty page, safe to free. */
int index_list_tags(struct index *ix, const char *repo, const char *last,
		    size_t n, struct index_page *page)
{
	struct index_repo *r;
	int ret = 0;

	pthread_rwlock_rdlock(&ix->lock);
	r = repo_find(ix, repo);
	if (r) {
		page_fill(page, r->tags, r->ntags, sizeof(*r->tags), last, n);
	} else {
		memset(page, 0, sizeof(*page));
		ret = -1;
	}
	pthread_rwlock_unlock(&ix->lock);
	return ret;
}

size_t index_count_tags(struct index *ix, const char *repo)
{
	struct index_repo *r;
	size_t count;

	pthread_rwlock_rdlock(&ix->lock);
	r = repo_find(ix, repo);
	count = r ? r->ntags : 0;
	pthread_rwlock_unlock(&ix->lock);
	return count;
}

void index_page_free(struct index_page *page)
{
	for (size_t i = 0; i < page->count; i++)
		free(page->names[i]);
	free(page->names);
	memset(page, 0, sizeof(*page));
}
