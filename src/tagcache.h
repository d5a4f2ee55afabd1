/*
 * tagcache.h - each repository's tags with the digest they point to and
 * when they were pushed, kept between requests for the web UI.
 *
 * Knowing where 10,000 tags point means reading 10,000 links; doing it
 * for every page of a tag list, or for every repository on a catalog
 * page, would be far too slow.  The cache keeps one immutable table per
 * repository and replaces it when the repository changes: the index's
 * tag names are compared on every use, so tags added or deleted are
 * always seen, and a tag pushed again (same name, new digest) is re-read
 * when the registry reports it through tagcache_changed.  Rebuilding
 * reads only the links that changed.  Pushes through another process on
 * the same storage are never reported: while the index is refreshed
 * (index_refresh_start), a table older than the refresh interval has
 * all its links read again, so a moved tag shows within one interval.
 *
 * The total number of rows is bounded; the least recently used
 * repositories go first.  Thread-safe.
 *
 * The cache also keeps the list of repository names, so that a catalog
 * page does not copy 100,000 names out of the index each time, and it
 * can fill itself in the background after start, so that the first
 * visitor does not wait while every image config is read.
 */
#ifndef BERTH_TAGCACHE_H
#define BERTH_TAGCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "index.h"

#include "digest.h"

struct meta_cache;
struct registry;
struct tagcache;

struct tag_row {
	const char *name;
	struct digest digest;
	int64_t pushed; /* when the tag last changed */
};

/* One repository's tags at one moment; immutable. */
struct tag_table {
	size_t count;
	const struct tag_row *rows; /* sorted by name, as strcmp */
};

/* What the catalog shows of a repository. */
struct tag_summary {
	size_t tags;
	uint64_t size;	   /* distinct blobs of all tagged */
	int64_t last_push; /* the newest tag's push, or INT64_MIN */
};

/* A cache over reg (not owned) using mc (not owned) for sizes. */
struct tagcache *tagcache_new(struct registry *reg, struct meta_cache *mc,
			      size_t max_rows);
void tagcache_free(struct tagcache *tc);

/*
 * The current tags of repo, or NULL when the repository is unknown.
 * The table stays valid until tagcache_release, whatever changes.
 */
const struct tag_table *tagcache_get(struct tagcache *tc, const char *repo);
void tagcache_release(struct tagcache *tc, const struct tag_table *t);

/* The summary of t, worked out on first use and kept with t. */
void tagcache_summary(struct tagcache *tc, const struct tag_table *t,
		      struct tag_summary *out);

/*
 * repo's summary, if having it now is cheap: it is cached, or the
 * repository has at most max_tags tags, or its table was built before
 * (rebuilding reads only what changed).  Otherwise, while the background
 * thread runs (tagcache_warm_start), asks it to work the summary out,
 * sets only out->tags and returns false.  Also false, with nothing set,
 * when the repository is unknown.
 */
bool tagcache_summary_now(struct tagcache *tc, const char *repo,
			  size_t max_tags, struct tag_summary *out);

/*
 * Reports that tag in repo was set or deleted, or with tag NULL that
 * anything else about repo changed.  Never touches storage.
 */
void tagcache_changed(struct tagcache *tc, const char *repo, const char *tag);

/* Rows held now, for tests. */
size_t tagcache_rows(struct tagcache *tc);

/* The name list is rebuilt at least this often, whatever is reported. */
#define TAGCACHE_NAMES_TTL 30

/*
 * Every repository's name, sorted as strcmp.  A snapshot: rebuilt when
 * a change report names a repository it lacks, or with tag NULL (which
 * may remove one), and after TAGCACHE_NAMES_TTL seconds (by the
 * background thread when it runs, so no request waits for that).
 * Release it with tagcache_release_repos.
 */
const struct index_page *tagcache_repos(struct tagcache *tc);
void tagcache_release_repos(struct tagcache *tc, const struct index_page *p);

/*
 * Fills the caches: each repository's table and summary in catalog
 * order, until all are done or the rows reach 80% of the bound.
 * tagcache_warm does it now and returns how many repositories it
 * visited; tagcache_warm_start does it on a background thread at low
 * priority, which then stays to work out the summaries that
 * tagcache_summary_now asks for, until tagcache_free stops it.
 */
size_t tagcache_warm(struct tagcache *tc);
void tagcache_warm_start(struct tagcache *tc);

#endif
