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
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* A change reported while a refresh walks the store. */
struct index_change {
	enum { ADD_REPO, REMOVE_REPO, ADD_TAG, REMOVE_TAG } op;
	char *repo;
	char *tag; /* NULL for the repository ops */
};

struct index {
	pthread_rwlock_t lock;
	struct repo_list repos;
	atomic_uint_fast64_t repos_gen; /* bumped when the names change */

	/* Under lock: changes to replay on what a running refresh read. */
	bool refreshing;
	struct index_change *log;
	size_t nlog, caplog;

	/* The refresh thread: index_refresh every interval seconds. */
	pthread_t refresher;
	bool refresher_started;
	int64_t interval;
	struct store *st;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stop;
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
static struct index_repo *repo_find(struct repo_list *l, const char *repo)
{
	bool found;
	size_t at = sorted_find(l->v, l->count, sizeof(*l->v), repo, &found);

	return found ? &l->v[at] : NULL;
}

/*
 * Returns the repository, adding it first if new (*added says so);
 * holds the write lock.
 */
static struct index_repo *repo_insert(struct repo_list *l, const char *repo,
				      bool *added)
{
	struct index_repo fresh = {0};
	bool found;
	size_t at = sorted_find(l->v, l->count, sizeof(*l->v), repo, &found);

	*added = !found;
	if (found)
		return &l->v[at];

	fresh.name = xstrdup(repo);
	l->v = array_reserve(l->v, l->count, &l->cap, sizeof(*l->v));
	array_insert(l->v, &l->count, sizeof(*l->v), at, &fresh);
	return &l->v[at];
}

/* Whether the list had the repository; holds the write lock. */
static bool repo_remove(struct repo_list *l, const char *repo)
{
	bool found;
	size_t at = sorted_find(l->v, l->count, sizeof(*l->v), repo, &found);

	if (found) {
		repo_clear(&l->v[at]);
		array_remove(l->v, &l->count, sizeof(*l->v), at);
	}
	return found;
}

/* Adds tag to repo, and repo if new; true when repo was new. */
static bool tag_insert(struct repo_list *l, const char *repo, const char *tag)
{
	bool added, found;
	struct index_repo *r = repo_insert(l, repo, &added);
	size_t at =
		sorted_find(r->tags, r->ntags, sizeof(*r->tags), tag, &found);

	if (!found) {
		char *copy = xstrdup(tag);

		r->tags = array_reserve(r->tags, r->ntags, &r->tags_cap,
					sizeof(*r->tags));
		array_insert(r->tags, &r->ntags, sizeof(*r->tags), at, &copy);
	}
	return added;
}

static void tag_remove(struct repo_list *l, const char *repo, const char *tag)
{
	struct index_repo *r = repo_find(l, repo);
	bool found = false;
	size_t at = 0;

	if (r)
		at = sorted_find(r->tags, r->ntags, sizeof(*r->tags), tag,
				 &found);
	if (found) {
		free(r->tags[at]);
		array_remove(r->tags, &r->ntags, sizeof(*r->tags), at);
	}
}

/*
 * Applies one change to l; true when the repository names changed.
 * Applying it again changes nothing, which lets a refresh replay a
 * change its walk may already have seen.
 */
static bool change_apply(struct repo_list *l, const struct index_change *c)
{
	bool added;

	switch (c->op) {
	case ADD_REPO:
		repo_insert(l, c->repo, &added);
		return added;
	case REMOVE_REPO:
		return repo_remove(l, c->repo);
	case ADD_TAG:
		return tag_insert(l, c->repo, c->tag);
	case REMOVE_TAG:
		tag_remove(l, c->repo, c->tag);
		return false;
	}
	return false;
}

static void log_clear(struct index *ix)
{
	for (size_t i = 0; i < ix->nlog; i++) {
		free(ix->log[i].repo);
		free(ix->log[i].tag);
	}
	free(ix->log);
	ix->log = NULL;
	ix->nlog = ix->caplog = 0;
}

/*
 * Applies a reported change under the write lock, noting it for a
 * refresh that is reading the store meanwhile: what that walk saw may
 * predate the change, and its lists must not undo it.
 */
static void index_change(struct index *ix, int op, const char *repo,
			 const char *tag)
{
	struct index_change c = {op, (char *)repo, (char *)tag};

	pthread_rwlock_wrlock(&ix->lock);
	if (change_apply(&ix->repos, &c))
		atomic_fetch_add(&ix->repos_gen, 1);
	if (ix->refreshing) {
		ix->log = array_reserve(ix->log, ix->nlog, &ix->caplog,
					sizeof(*ix->log));
		c.repo = xstrdup(repo);
		c.tag = tag ? xstrdup(tag) : NULL;
		ix->log[ix->nlog++] = c;
	}
	pthread_rwlock_unlock(&ix->lock);
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
	pthread_mutex_init(&ix->stop_lock, NULL);
	pthread_cond_init(&ix->stop_cond, NULL);
	return ix;
}

void index_free(struct index *ix)
{
	if (!ix)
		return;
	index_refresh_stop(ix);
	repos_free(&ix->repos);
	log_clear(ix);
	pthread_rwlock_destroy(&ix->lock);
	pthread_mutex_destroy(&ix->stop_lock);
	pthread_cond_destroy(&ix->stop_cond);
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

/* Whether the index lists tag in repo; takes the read lock. */
static bool index_has_tag(struct index *ix, const char *repo, const char *tag)
{
	struct index_repo *r;
	bool found = false;

	pthread_rwlock_rdlock(&ix->lock);
	r = repo_find(&ix->repos, repo);
	if (r)
		sorted_find(r->tags, r->ntags, sizeof(*r->tags), tag, &found);
	pthread_rwlock_unlock(&ix->lock);
	return found;
}

/*
 * One walk of the store's repositories.  A refresh passes the index it
 * will replace as known: a tag listed there had its current/link when
 * it was added, and deleting a tag removes its whole directory, so only
 * tags new to it need the link looked at.
 */
struct index_walk {
	struct store *st;
	struct index *known; /* NULL when loading at start */
	struct repo_list out;
};

/* Whether tag of repo needs its current/link checked. */
static bool walk_needs_stat(struct index_walk *w, const char *repo,
			    const char *tag)
{
	return !w->known || !index_has_tag(w->known, repo, tag);
}

/*
 * Whether tag of repo is set: 1 when it has a current/link, 0 when not
 * (a tag being deleted, or only its index left), or a negative errno.
 */
static int tag_is_set(struct index_walk *w, const char *repo, const char *tag)
{
	char *link;
	struct store_stat sst;
	int err;

	if (!walk_needs_stat(w, repo, tag))
		return 1;

	link = layout_tag_current(repo, tag);
	err = w->st->ops->stat(w->st, link, &sst);
	if (err && err != -ENOENT)
		log_error("index load cannot stat key=%s err=%s", link,
			  store_strerror(err));
	free(link);
	if (err == -ENOENT || (!err && sst.is_dir))
		return 0;
	return err ? err : 1;
}

/* Keeps the tags of repo that have a current/link; 0 or -errno. */
static int load_tags(struct index_walk *w, const char *repo,
		     struct index_repo *r)
{
	struct name_list found = {0};
	char *key = layout_tags_dir(repo);
	int err = w->st->ops->list(w->st, key, on_tag_child, &found);

	if (err == -ENOENT)
		err = 0;
	else if (err)
		log_error("index load cannot list key=%s err=%s", key,
			  store_strerror(err));
	for (size_t i = 0; !err && i < found.count; i++) {
		const char *tag = found.v[i];
		int set;

		if (!ref_valid_tag(tag)) {
			log_warn("index skips invalid tag repo=%s tag=%s", repo,
				 tag);
			continue;
		}
		set = tag_is_set(w, repo, tag);
		if (set < 0)
			err = set;
		if (set <= 0)
			continue;

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

static int load_repo(struct index_walk *w, const char *repo, bool has_manifests)
{
	struct repo_list *out = &w->out;
	struct index_repo r = {0};
	int err = 0;

	r.name = xstrdup(repo);
	if (has_manifests)
		err = load_tags(w, repo, &r);
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
static int load_dir(struct index_walk *w, const char *key, const char *repo)
{
	struct repo_scan scan = {0};
	int err = w->st->ops->list(w->st, key, on_repo_child, &scan);

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
		err = load_repo(w, repo, scan.has_manifests);
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
			err = load_dir(w, sub_key, sub);
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

/* Walks the store into w->out, sorted; 0 or a negative errno. */
static int walk_all(struct index_walk *w)
{
	char *root = layout_repositories();
	int err = load_dir(w, root, NULL);

	free(root);
	if (err) {
		repos_free(&w->out);
		return err;
	}
	/* One sort at the end; inserting as we went would be quadratic. */
	if (w->out.count > 1)
		qsort(w->out.v, w->out.count, sizeof(*w->out.v), cmp_names);
	return 0;
}

int index_load(struct index *ix, struct store *st)
{
	struct index_walk w = {st, NULL, {0}};
	int err;

	/*
	 * Hold the write lock for the whole walk: a change the registry
	 * reports meanwhile waits and then applies on top of what the walk
	 * saw, instead of being overwritten by it.
	 */
	pthread_rwlock_wrlock(&ix->lock);
	err = walk_all(&w);
	if (!err) {
		repos_free(&ix->repos);
		ix->repos = w.out;
		atomic_fetch_add(&ix->repos_gen, 1);
		log_info("index loaded repositories=%zu", w.out.count);
	}
	pthread_rwlock_unlock(&ix->lock);
	return err;
}

/* Whether a and b list the same repository names. */
static bool same_repos(const struct repo_list *a, const struct repo_list *b)
{
	if (a->count != b->count)
		return false;
	for (size_t i = 0; i < a->count; i++)
		if (strcmp(a->v[i].name, b->v[i].name))
			return false;
	return true;
}

/* Counts the tags of every repository in l. */
static size_t count_tags(const struct repo_list *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->count; i++)
		n += l->v[i].ntags;
	return n;
}

int index_refresh(struct index *ix, struct store *st)
{
	struct index_walk w = {st, ix, {0}};
	int err;

	pthread_rwlock_wrlock(&ix->lock);
	if (ix->refreshing) {
		pthread_rwlock_unlock(&ix->lock);
		return -EBUSY;
	}
	ix->refreshing = true;
	pthread_rwlock_unlock(&ix->lock);

	/* Readers and writers go on meanwhile; writers note their changes. */
	err = walk_all(&w);

	pthread_rwlock_wrlock(&ix->lock);
	if (!err) {
		for (size_t i = 0; i < ix->nlog; i++)
			change_apply(&w.out, &ix->log[i]);
		if (!same_repos(&ix->repos, &w.out))
			atomic_fetch_add(&ix->repos_gen, 1);
		repos_free(&ix->repos);
		ix->repos = w.out;
	}
	log_clear(ix);
	ix->refreshing = false;
	pthread_rwlock_unlock(&ix->lock);
	return err;
}

/* Waits up to seconds for index_refresh_stop; true when it came. */
static bool refresher_wait(struct index *ix, int64_t seconds)
{
	struct timespec until;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)seconds;
	pthread_mutex_lock(&ix->stop_lock);
	while (!ix->stop &&
	       pthread_cond_timedwait(&ix->stop_cond, &ix->stop_lock, &until) !=
		       ETIMEDOUT)
		;
	stop = ix->stop;
	pthread_mutex_unlock(&ix->stop_lock);
	return stop;
}

static void *refresher_main(void *arg)
{
	struct index *ix = arg;

	while (!refresher_wait(ix, ix->interval)) {
		uint64_t t0 = now_monotonic_ns();
		int err = index_refresh(ix, ix->st);
		double ms = (double)(now_monotonic_ns() - t0) / 1e6;

		if (err) {
			log_warn("index refresh failed, keeping the lists "
				 "err=\"%s\" ms=%.0f",
				 store_strerror(err), ms);
			continue;
		}
		pthread_rwlock_rdlock(&ix->lock);
		log_debug("index refreshed repositories=%zu tags=%zu ms=%.0f",
			  ix->repos.count, count_tags(&ix->repos), ms);
		pthread_rwlock_unlock(&ix->lock);
	}
	return NULL;
}

int index_refresh_start(struct index *ix, struct store *st, int64_t seconds)
{
	int rc;

	if (seconds <= 0 || ix->refresher_started)
		return 0;
	ix->st = st;
	ix->interval = seconds;
	ix->stop = false;
	rc = pthread_create(&ix->refresher, NULL, refresher_main, ix);
	if (rc) {
		log_error("cannot start the index refresh err=\"%s\"",
			  strerror(rc));
		return -rc;
	}
	ix->refresher_started = true;
	log_info("index refresh started seconds=%lld", (long long)seconds);
	return 0;
}

void index_refresh_stop(struct index *ix)
{
	if (!ix->refresher_started)
		return;
	pthread_mutex_lock(&ix->stop_lock);
	ix->stop = true;
	pthread_cond_signal(&ix->stop_cond);
	pthread_mutex_unlock(&ix->stop_lock);
	pthread_join(ix->refresher, NULL);
	ix->refresher_started = false;
}

int64_t index_refresh_interval(struct index *ix)
{
	return ix->refresher_started ? ix->interval : 0;
}

void index_add_repo(struct index *ix, const char *repo)
{
	index_change(ix, ADD_REPO, repo, NULL);
}

void index_remove_repo(struct index *ix, const char *repo)
{
	index_change(ix, REMOVE_REPO, repo, NULL);
}

bool index_has_repo(struct index *ix, const char *repo)
{
	bool found;

	pthread_rwlock_rdlock(&ix->lock);
	found = repo_find(&ix->repos, repo) != NULL;
	pthread_rwlock_unlock(&ix->lock);
	return found;
}

void index_add_tag(struct index *ix, const char *repo, const char *tag)
{
	index_change(ix, ADD_TAG, repo, tag);
}

void index_remove_tag(struct index *ix, const char *repo, const char *tag)
{
	index_change(ix, REMOVE_TAG, repo, tag);
}

uint64_t index_repos_generation(struct index *ix)
{
	return atomic_load(&ix->repos_gen);
}

/*
 * Copies up to n names (0: all) after last out of a sorted array, into
 * one block: a page of 10,000 tags is two allocations, not 10,001, and
 * costs the same wherever in the list it starts.
 */
static void page_fill(struct index_page *page, const void *base, size_t count,
		      size_t size, const char *last, size_t n)
{
	size_t start = sorted_after(base, count, size, last);
	size_t take = count - start, bytes = 0;
	char *at;

	if (n && n < take)
		take = n;
	memset(page, 0, sizeof(*page));
	page->count = take;
	page->more = start + take < count;
	if (!take)
		return;

	for (size_t i = 0; i < take; i++)
		bytes += strlen(elem_name(base, size, start + i)) + 1;
	page->names = xmalloc(take * sizeof(*page->names));
	page->text = at = xmalloc(bytes);
	for (size_t i = 0; i < take; i++) {
		const char *name = elem_name(base, size, start + i);
		size_t len = strlen(name) + 1;

		memcpy(at, name, len);
		page->names[i] = at;
		at += len;
	}
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
	r = repo_find(&ix->repos, repo);
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
	r = repo_find(&ix->repos, repo);
	count = r ? r->ntags : 0;
	pthread_rwlock_unlock(&ix->lock);
	return count;
}

void index_page_free(struct index_page *page)
{
	if (!page->text) {
		for (size_t i = 0; i < page->count; i++)
			free(page->names[i]);
	}
	free(page->text);
	free(page->names);
	memset(page, 0, sizeof(*page));
}
