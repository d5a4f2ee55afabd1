/*
 * tagcache.c - per-repository tag tables, rebuilt by merging.
 *
 * Each cached repository has an entry holding its current table and the
 * tags reported changed since that table was built.  A request lists the
 * index's tag names (memory only), and if they match the table and
 * nothing is marked changed, the table is used as is.  Otherwise a new
 * table is built outside the lock: rows of unchanged tags are copied
 * from the old table, and only new or changed tags have their links
 * read.  A change reported while a build runs bumps the entry's
 * generation, so that build does not clear the mark and the next
 * request reads the tag again.
 *
 * Entries being built are pinned and never evicted, so a builder's
 * entry pointer stays valid without a second lookup.
 *
 * Another berth on the same storage reports nothing here.  Its new and
 * deleted tags reach the index by its refresh (index.h) and so show at
 * the next use; a tag it moved keeps its name, so while the index is
 * refreshed a table older than the refresh interval has every link read
 * again.  The repository names are listed again whenever the index says
 * they may have changed.
 */
#include "tagcache.h"
#include "index.h"
#include "layout.h"
#include "log.h"
#include "meta.h"
#include "registry.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define TAGCACHE_BUCKETS 4096
#define TAGCACHE_WANTED_MAX 64

struct table {
	struct tag_table t; /* first: a tag_table pointer is a table */
	unsigned refs;	    /* under the cache lock */
	struct tag_row *rows;
	char *names; /* every row's name, NUL-separated */
	bool summarized;
	struct tag_summary summary;
	int64_t built; /* now_seconds() when its links were read */
};

struct repo_entry {
	char *name;
	struct table *table; /* NULL until first built */
	char **changed;	     /* tags reported since the table */
	size_t nchanged;
	bool all_changed;
	uint64_t gen;
	unsigned pins;
	struct repo_entry *hnext;
	struct repo_entry *lprev, *lnext; /* LRU list, newest first */
};

/* A snapshot of the repository names. */
struct names {
	struct index_page page; /* first, so a page is its snapshot */
	unsigned refs;		/* under the cache lock */
	int64_t built;
	uint64_t index_gen; /* index_repos_generation when listed */
};

struct tagcache {
	struct registry *reg;
	struct meta_cache *mc;
	size_t max_rows;
	pthread_mutex_t lock;
	struct repo_entry *buckets[TAGCACHE_BUCKETS];
	struct repo_entry lru;
	size_t rows;	/* in every entry's table */
	uint64_t clock; /* generations */

	struct names *names;	  /* NULL until first asked for */
	uint64_t names_gen;	  /* bumped when the names may be stale */
	uint64_t names_built_gen; /* names_gen when names was built */

	pthread_t warmer;
	bool warming;
	atomic_bool stop;
	pthread_cond_t wake; /* with lock: a repository is wanted */
	char *wanted[TAGCACHE_WANTED_MAX];
	size_t nwanted;
};

static size_t hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)(h % TAGCACHE_BUCKETS);
}

struct tagcache *tagcache_new(struct registry *reg, struct meta_cache *mc,
			      size_t max_rows)
{
	struct tagcache *tc = xcalloc(1, sizeof(*tc));

	tc->reg = reg;
	tc->mc = mc;
	tc->max_rows = max_rows;
	tc->lru.lprev = tc->lru.lnext = &tc->lru;
	pthread_mutex_init(&tc->lock, NULL);
	pthread_cond_init(&tc->wake, NULL);
	return tc;
}

static void table_unref(struct table *t)
{
	if (!t || --t->refs)
		return;
	free(t->rows);
	free(t->names);
	free(t);
}

static void changed_clear(struct repo_entry *e)
{
	for (size_t i = 0; i < e->nchanged; i++)
		free(e->changed[i]);
	free(e->changed);
	e->changed = NULL;
	e->nchanged = 0;
	e->all_changed = false;
}

static void entry_free(struct repo_entry *e)
{
	table_unref(e->table);
	changed_clear(e);
	free(e->name);
	free(e);
}

static void names_unref(struct names *n)
{
	if (!n || --n->refs)
		return;
	index_page_free(&n->page);
	free(n);
}

void tagcache_free(struct tagcache *tc)
{
	if (!tc)
		return;
	if (tc->warming) {
		pthread_mutex_lock(&tc->lock);
		atomic_store(&tc->stop, true);
		pthread_cond_signal(&tc->wake);
		pthread_mutex_unlock(&tc->lock);
		pthread_join(tc->warmer, NULL);
	}
	for (size_t i = 0; i < tc->nwanted; i++)
		free(tc->wanted[i]);
	pthread_cond_destroy(&tc->wake);
	names_unref(tc->names);
	for (size_t i = 0; i < TAGCACHE_BUCKETS; i++) {
		struct repo_entry *e = tc->buckets[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			entry_free(e);
		}
	}
	pthread_mutex_destroy(&tc->lock);
	free(tc);
}

/* ---- entries, under the lock ---- */

static struct repo_entry *find(struct tagcache *tc, const char *repo)
{
	struct repo_entry *e = tc->buckets[hash_name(repo)];

	while (e && strcmp(e->name, repo))
		e = e->hnext;
	return e;
}

static void lru_unlink(struct repo_entry *e)
{
	e->lprev->lnext = e->lnext;
	e->lnext->lprev = e->lprev;
}

static void lru_push(struct tagcache *tc, struct repo_entry *e)
{
	e->lnext = tc->lru.lnext;
	e->lprev = &tc->lru;
	tc->lru.lnext->lprev = e;
	tc->lru.lnext = e;
}

static struct repo_entry *find_or_add(struct tagcache *tc, const char *repo)
{
	struct repo_entry *e = find(tc, repo);
	size_t b;

	if (e) {
		lru_unlink(e);
		lru_push(tc, e);
		return e;
	}
	e = xcalloc(1, sizeof(*e));
	e->name = xstrdup(repo);
	e->gen = ++tc->clock;
	b = hash_name(repo);
	e->hnext = tc->buckets[b];
	tc->buckets[b] = e;
	lru_push(tc, e);
	return e;
}

static void evict(struct tagcache *tc, struct repo_entry *e)
{
	struct repo_entry **link = &tc->buckets[hash_name(e->name)];

	while (*link != e)
		link = &(*link)->hnext;
	*link = e->hnext;
	lru_unlink(e);
	if (e->table)
		tc->rows -= e->table->t.count;
	entry_free(e);
}

/* Evicts the oldest unpinned entries while over the bound. */
static void trim(struct tagcache *tc, struct repo_entry *keep)
{
	struct repo_entry *e = tc->lru.lprev;

	while (tc->rows > tc->max_rows && e != &tc->lru) {
		struct repo_entry *newer = e->lprev;

		if (e != keep && !e->pins)
			evict(tc, e);
		e = newer;
	}
}

/* ---- building ---- */

static bool is_changed(char **changed, size_t n, const char *tag)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(changed[i], tag))
			return true;
	return false;
}

/* Reads where tag points and when it was set; 0 or a negative errno. */
static int read_row(struct store *st, const char *repo, const char *tag,
		    struct tag_row *row)
{
	char *key = layout_tag_current(repo, tag);
	struct buf b = BUF_INIT;
	struct store_stat sst = {0};
	int err = st->ops->get(st, key, DIGEST_MAX_STR + 16, &b);

	if (!err && digest_parse(b.data ? b.data : "", &row->digest))
		err = -EINVAL;
	if (!err)
		err = st->ops->stat(st, key, &sst);
	if (!err)
		row->pushed = sst.mtime;
	if (err && err != -ENOENT)
		log_warn("cannot read tag link key=%s err=\"%s\"", key,
			 err == -EINVAL ? "not a digest" : store_strerror(err));
	buf_free(&b);
	free(key);
	return err;
}

/* Whether old has exactly the names of page and can be used as is. */
static bool same_names(const struct table *old, const struct index_page *p)
{
	if (!old || old->t.count != p->count)
		return false;
	for (size_t i = 0; i < p->count; i++)
		if (strcmp(old->rows[i].name, p->names[i]))
			return false;
	return true;
}

struct pending {
	const struct table *old;
	char **changed;
	size_t nchanged;
	bool all_changed;
};

/* Builds a table for the names of page, reusing old rows where valid. */
static struct table *build(struct tagcache *tc, const char *repo,
			   const struct index_page *page,
			   const struct pending *p)
{
	struct store *st = registry_store(tc->reg);
	struct table *t = xcalloc(1, sizeof(*t));
	struct buf names = BUF_INIT;
	size_t *offsets = xcalloc(page->count + 1, sizeof(*offsets));
	size_t j = 0, n = 0;

	t->rows = xcalloc(page->count + 1, sizeof(*t->rows));
	for (size_t i = 0; i < page->count; i++) {
		const char *tag = page->names[i];
		struct tag_row *row = &t->rows[n];

		while (p->old && j < p->old->t.count &&
		       strcmp(p->old->rows[j].name, tag) < 0)
			j++;
		if (p->old && j < p->old->t.count && !p->all_changed &&
		    !strcmp(p->old->rows[j].name, tag) &&
		    !is_changed(p->changed, p->nchanged, tag))
			*row = p->old->rows[j];
		else if (read_row(st, repo, tag, row))
			continue; /* deleted meanwhile */
		offsets[n++] = names.len;
		buf_add(&names, tag, strlen(tag) + 1);
	}

	t->names = buf_detach(&names, NULL);
	for (size_t i = 0; i < n; i++)
		t->rows[i].name = t->names + offsets[i];
	free(offsets);
	t->t.rows = t->rows;
	t->t.count = n;
	t->built = now_seconds();
	return t;
}

/*
 * Whether t's links may still be trusted: always when no other process
 * writes the storage (no index refresh runs), else for one interval.
 */
static bool table_fresh(struct tagcache *tc, const struct table *t)
{
	int64_t ttl = index_refresh_interval(registry_index(tc->reg));

	return ttl <= 0 || now_seconds() - t->built < ttl;
}

/* Copies what a build needs from e, pinning it; under the lock. */
static void pending_take(struct repo_entry *e, struct pending *p)
{
	p->old = e->table;
	if (e->table)
		e->table->refs++;
	p->all_changed = e->all_changed;
	p->nchanged = e->nchanged;
	p->changed = xcalloc(e->nchanged + 1, sizeof(*p->changed));
	for (size_t i = 0; i < e->nchanged; i++)
		p->changed[i] = xstrdup(e->changed[i]);
	e->pins++;
}

static void pending_free(struct pending *p)
{
	for (size_t i = 0; i < p->nchanged; i++)
		free(p->changed[i]);
	free(p->changed);
}

/* Puts t in e, unless e changed since gen; under the lock. */
static void install(struct tagcache *tc, struct repo_entry *e, struct table *t,
		    uint64_t gen)
{
	if (e->gen == gen)
		changed_clear(e);
	if (e->table) {
		tc->rows -= e->table->t.count;
		table_unref(e->table);
	}
	e->table = t;
	t->refs = 2; /* the entry's and the caller's */
	tc->rows += t->t.count;
	e->pins--;
	trim(tc, e);
}

const struct tag_table *tagcache_get(struct tagcache *tc, const char *repo)
{
	struct index_page page = {0};
	struct pending p = {0};
	struct repo_entry *e;
	struct reg_error err;
	struct table *t;
	uint64_t gen;

	if (registry_tags(tc->reg, repo, NULL, 0, &page, &err))
		return NULL;

	pthread_mutex_lock(&tc->lock);
	e = find_or_add(tc, repo);
	if (e->table && !e->all_changed && !e->nchanged &&
	    same_names(e->table, &page) && table_fresh(tc, e->table)) {
		t = e->table;
		t->refs++;
		pthread_mutex_unlock(&tc->lock);
		index_page_free(&page);
		return &t->t;
	}
	pending_take(e, &p);
	if (e->table && !table_fresh(tc, e->table))
		p.all_changed = true;
	gen = e->gen;
	pthread_mutex_unlock(&tc->lock);

	t = build(tc, repo, &page, &p);
	index_page_free(&page);

	pthread_mutex_lock(&tc->lock);
	table_unref((struct table *)p.old);
	install(tc, e, t, gen);
	pthread_mutex_unlock(&tc->lock);
	pending_free(&p);
	return &t->t;
}

void tagcache_release(struct tagcache *tc, const struct tag_table *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&tc->lock);
	table_unref((struct table *)t);
	pthread_mutex_unlock(&tc->lock);
}

static bool names_have(const struct names *n, const char *repo)
{
	size_t lo = 0, hi = n->page.count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(n->page.names[mid], repo);

		if (!c)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

void tagcache_changed(struct tagcache *tc, const char *repo, const char *tag)
{
	struct repo_entry *e;

	pthread_mutex_lock(&tc->lock);
	if (!tag || (tc->names && !names_have(tc->names, repo)))
		tc->names_gen++;
	e = find(tc, repo);
	if (e) {
		e->gen = ++tc->clock;
		if (!tag || e->nchanged >= 64) {
			e->all_changed = true;
		} else if (!is_changed(e->changed, e->nchanged, tag)) {
			e->changed = xrealloc(e->changed,
					      (e->nchanged + 1) *
						      sizeof(*e->changed));
			e->changed[e->nchanged++] = xstrdup(tag);
		}
	}
	pthread_mutex_unlock(&tc->lock);
}

size_t tagcache_rows(struct tagcache *tc)
{
	size_t n;

	pthread_mutex_lock(&tc->lock);
	n = tc->rows;
	pthread_mutex_unlock(&tc->lock);
	return n;
}

/* ---- repository names ---- */

/* Lists the names anew and installs them; returns them referenced. */
static struct names *names_rebuild(struct tagcache *tc)
{
	struct names *n = xcalloc(1, sizeof(*n));
	uint64_t gen;

	pthread_mutex_lock(&tc->lock);
	gen = tc->names_gen;
	pthread_mutex_unlock(&tc->lock);

	/* Read first: a change while listing makes the next use list again. */
	n->index_gen = index_repos_generation(registry_index(tc->reg));
	registry_catalog(tc->reg, NULL, 0, &n->page);
	n->built = now_seconds();
	n->refs = 2; /* the cache's and the caller's */

	pthread_mutex_lock(&tc->lock);
	names_unref(tc->names);
	tc->names = n;
	tc->names_built_gen = gen;
	pthread_mutex_unlock(&tc->lock);
	return n;
}

/*
 * A reported change makes the next request list the names again; the
 * time limit alone does not when the background thread runs, since it
 * renews the list itself and requests need not wait for that.
 */
const struct index_page *tagcache_repos(struct tagcache *tc)
{
	struct names *n;

	pthread_mutex_lock(&tc->lock);
	n = tc->names;
	if (n && tc->names_built_gen == tc->names_gen &&
	    n->index_gen == index_repos_generation(registry_index(tc->reg)) &&
	    (tc->warming || n->built + TAGCACHE_NAMES_TTL > now_seconds())) {
		n->refs++;
		pthread_mutex_unlock(&tc->lock);
		return &n->page;
	}
	pthread_mutex_unlock(&tc->lock);
	return &names_rebuild(tc)->page;
}

/* Drops a reference to n, taking the lock. */
static void names_release(struct tagcache *tc, struct names *n)
{
	pthread_mutex_lock(&tc->lock);
	names_unref(n);
	pthread_mutex_unlock(&tc->lock);
}

void tagcache_release_repos(struct tagcache *tc, const struct index_page *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&tc->lock);
	names_unref((struct names *)p);
	pthread_mutex_unlock(&tc->lock);
}

/* ---- summaries ---- */

static int cmp_blobs(const void *a, const void *b)
{
	const struct meta_blob *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

static void summarize(struct tagcache *tc, const struct tag_table *t,
		      struct tag_summary *out)
{
	struct meta_blob *all = NULL;
	size_t n = 0, cap = 0, k = 0;

	out->tags = t->count;
	out->size = 0;
	out->last_push = INT64_MIN;
	for (size_t i = 0; i < t->count; i++) {
		const struct meta *m = meta_get(tc->mc, &t->rows[i].digest);

		if (t->rows[i].pushed > out->last_push)
			out->last_push = t->rows[i].pushed;
		if (!m)
			continue;
		if (n + m->nblobs > cap) {
			cap = 2 * (n + m->nblobs);
			all = xrealloc(all, cap * sizeof(*all));
		}
		memcpy(all + n, m->blobs, m->nblobs * sizeof(*all));
		n += m->nblobs;
		meta_release(tc->mc, m);
	}

	if (n > 1)
		qsort(all, n, sizeof(*all), cmp_blobs);
	for (size_t i = 0; i < n; i++) {
		if (k && all[k - 1].key == all[i].key)
			continue;
		all[k++] = all[i];
		out->size += all[i].size;
	}
	free(all);
}

void tagcache_summary(struct tagcache *tc, const struct tag_table *t,
		      struct tag_summary *out)
{
	struct table *tab = (struct table *)t;
	bool done;

	pthread_mutex_lock(&tc->lock);
	done = tab->summarized;
	if (done)
		*out = tab->summary;
	pthread_mutex_unlock(&tc->lock);
	if (done)
		return;

	summarize(tc, t, out);
	pthread_mutex_lock(&tc->lock);
	tab->summary = *out;
	tab->summarized = true;
	pthread_mutex_unlock(&tc->lock);
}

/* ---- warming ---- */

size_t tagcache_warm(struct tagcache *tc)
{
	const struct index_page *p = tagcache_repos(tc);
	struct tag_summary s;
	size_t n = 0;

	for (; n < p->count && !atomic_load(&tc->stop); n++) {
		const struct tag_table *t;

		if (tagcache_rows(tc) >= tc->max_rows - tc->max_rows / 5 ||
		    meta_cache_nearly_full(tc->mc))
			break;
		t = tagcache_get(tc, p->names[n]);
		if (t)
			tagcache_summary(tc, t, &s);
		tagcache_release(tc, t);
	}
	tagcache_release_repos(tc, p);
	return n;
}

/* Whether the names are older than TAGCACHE_NAMES_TTL; under the lock. */
static bool names_old(struct tagcache *tc)
{
	return tc->names &&
	       tc->names->built + TAGCACHE_NAMES_TTL <= now_seconds();
}

/*
 * Takes the next wanted repository, waiting for one; renews the names
 * when they grow old meanwhile.  NULL means stop.
 */
static char *next_wanted(struct tagcache *tc)
{
	struct timespec until;
	char *repo = NULL;

	pthread_mutex_lock(&tc->lock);
	while (!atomic_load(&tc->stop) && !tc->nwanted) {
		if (names_old(tc)) {
			pthread_mutex_unlock(&tc->lock);
			names_release(tc, names_rebuild(tc));
			pthread_mutex_lock(&tc->lock);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += TAGCACHE_NAMES_TTL / 2;
		pthread_cond_timedwait(&tc->wake, &tc->lock, &until);
	}
	if (!atomic_load(&tc->stop)) {
		repo = tc->wanted[0];
		memmove(tc->wanted, tc->wanted + 1,
			--tc->nwanted * sizeof(*tc->wanted));
	}
	pthread_mutex_unlock(&tc->lock);
	return repo;
}

static void *warm_main(void *arg)
{
	struct tagcache *tc = arg;
	uint64_t t0 = now_monotonic_ns();
	struct tag_summary s;
	char *repo;
	size_t n;

	/* Requests come first: this thread only uses idle time. */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
	n = tagcache_warm(tc);
	log_info("web ui caches filled repositories=%zu rows=%zu ms=%.0f", n,
		 tagcache_rows(tc), (double)(now_monotonic_ns() - t0) / 1e6);

	while ((repo = next_wanted(tc))) {
		const struct tag_table *t = tagcache_get(tc, repo);

		if (t)
			tagcache_summary(tc, t, &s);
		tagcache_release(tc, t);
		free(repo);
	}
	return NULL;
}

/* Asks the background thread for repo's summary; under the lock. */
static void want(struct tagcache *tc, const char *repo)
{
	for (size_t i = 0; i < tc->nwanted; i++)
		if (!strcmp(tc->wanted[i], repo))
			return;
	if (!tc->warming || tc->nwanted == TAGCACHE_WANTED_MAX)
		return;
	tc->wanted[tc->nwanted++] = xstrdup(repo);
	pthread_cond_signal(&tc->wake);
}

bool tagcache_summary_now(struct tagcache *tc, const char *repo,
			  size_t max_tags, struct tag_summary *out)
{
	struct index_page page = {0};
	const struct tag_table *t;
	struct repo_entry *e;
	struct reg_error err;
	bool known, cheap;

	pthread_mutex_lock(&tc->lock);
	e = find(tc, repo);
	known = e && e->table;
	if (known && !e->all_changed && !e->nchanged && e->table->summarized &&
	    table_fresh(tc, e->table)) {
		*out = e->table->summary;
		pthread_mutex_unlock(&tc->lock);
		return true;
	}
	pthread_mutex_unlock(&tc->lock);

	/* Rebuilding a known table reads only what changed. */
	if (!known && registry_tags(tc->reg, repo, NULL, 0, &page, &err) == 0)
		out->tags = page.count;
	cheap = known || page.count <= max_tags || !tc->warming;
	index_page_free(&page);
	if (!cheap) {
		pthread_mutex_lock(&tc->lock);
		want(tc, repo);
		pthread_mutex_unlock(&tc->lock);
		return false;
	}

	t = tagcache_get(tc, repo);
	if (t)
		tagcache_summary(tc, t, out);
	tagcache_release(tc, t);
	return t != NULL;
}

void tagcache_warm_start(struct tagcache *tc)
{
	if (tc->warming)
		return;
	if (pthread_create(&tc->warmer, NULL, warm_main, tc) == 0)
		tc->warming = true;
	else
		log_warn("cannot start filling the web ui caches");
}
