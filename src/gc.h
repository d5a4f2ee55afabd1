/*
 * gc.h - garbage collection: mark what is reachable, sweep the rest,
 * offline or while the registry serves.
 *
 * A run scans the store (scan.h), applies the retention rules
 * (retention.h), decides which manifests are kept, marks every blob
 * they reference, and deletes, in this order:
 *
 *   1. tags the retention rules expire;
 *   2. manifests no longer kept (only with delete_untagged or a
 *      retention rule on the repository): the revision link first, then
 *      the tag history links and the referrer link naming it;
 *   3. each unmarked blob older than the grace period: every layer link
 *      naming it first, then its data;
 *   4. layer links to blobs that are gone, referrer links to manifests
 *      that are gone, blob directories without data;
 *   5. repositories left without tags, manifests or uploads;
 *   6. with temporary_files, temporary files of writes a crash
 *      interrupted (store.h's sweep), older than the grace period and
 *      than GC_TEMP_AGE.
 *
 * Every step removes what points at a thing before the thing, so a
 * crash (kill -9) at any moment leaves at worst unreferenced objects,
 * never a link to something missing that a client could be told
 * exists; the next run finds the leftovers and finishes the work.
 *
 * Online, a concurrent push may make an unreferenced blob referenced
 * again after the scan saw it.  Two things prevent its loss: blobs
 * younger than the grace period are never swept (a layer pushed before
 * its manifest), and every request that may reference a blob, manifest,
 * tag or repository first holds it in the guard.  Each deletion takes
 * the guard's lock, checks that nothing was held since the scan began
 * (less the grace period, which bounds how long a push takes), and
 * deletes before releasing the lock; a request that holds after that
 * finds the thing gone and behaves as if it never existed.
 *
 * Several berths may share one store.  One collects at a time, under
 * the lease GC_LEASE (lease.h) that the caller takes and passes in
 * gc_options; deletions stop if it is lost.  The other instances'
 * holds are invisible here, so their pushes are protected by the grace
 * period alone, counted from the store's own times back from the
 * moment the scan began.
 */
#ifndef BERTH_GC_H
#define BERTH_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "digest.h"

struct store;
struct index;
struct lease;
struct retention;
struct scan;

/* ---- the guard ---- */

struct gc_guard;

/*
 * A guard remembering holds for window seconds (the grace period).
 * Free with gc_guard_free.
 */
struct gc_guard *gc_guard_new(int64_t window);
void gc_guard_free(struct gc_guard *g);

/*
 * Holds before reading or linking: a blob or manifest by digest, a
 * repository by name, a tag as (repository, tag).  g may be NULL, which
 * holds nothing.  Cheap: a lock and a hash insert.
 */
void gc_guard_hold_digest(struct gc_guard *g, const struct digest *d);
void gc_guard_hold_repo(struct gc_guard *g, const char *repo);
void gc_guard_hold_tag(struct gc_guard *g, const char *repo, const char *tag);

/*
 * Bracket a pass that asks about holds back to its own start (a scan
 * followed by gc_collect), so that none is forgotten meanwhile.  g may
 * be NULL.
 */
void gc_guard_begin(struct gc_guard *g);
void gc_guard_end(struct gc_guard *g);

/* ---- a collection ---- */

/* The lease (lease.h) every real collection holds while it deletes. */
#define GC_LEASE "collector"

/*
 * The least age, in seconds, of a temporary file a collection removes.
 * A write keeps one only while it puts data it holds in memory, which
 * takes seconds even on a slow disk; the margin covers a stalled one
 * and a clock that steps back.
 */
#define GC_TEMP_AGE 3600

enum gc_item {
	GC_TAG,	       /* a tag the retention rules expire */
	GC_MANIFEST,   /* an untagged manifest */
	GC_BLOB,       /* a blob no kept manifest references */
	GC_LAYER_LINK, /* a repository's link to a collected blob */
	GC_REFERRER,   /* a referrer link to a deleted manifest */
	GC_EMPTY_DIR,  /* a blob directory without data */
	GC_REPOSITORY, /* a repository left empty */
	GC_TEMP,       /* a temporary file a crash left in the store */
	GC_ITEM_KINDS
};

/* Called once per thing deleted (or, in a dry run, to be deleted). */
typedef void (*gc_item_fn)(void *arg, enum gc_item kind, const char *repo,
			   const char *what, uint64_t bytes);

/*
 * Called after a real run removed a tag (tag set) or a manifest or a
 * repository (tag NULL) of repo, for caches of what the store holds.
 */
typedef void (*gc_change_fn)(void *arg, const char *repo, const char *tag);

/* Called per manifest and blob marked, for registry:2's verbose output. */
typedef void (*gc_mark_fn)(void *arg, const char *repo, bool manifest,
			   const char *digest);

struct gc_options {
	bool dry_run;
	bool delete_untagged;
	/*
	 * Also sweep temporary files crashed writes left: a walk of every
	 * directory of the store, which costs more than the rest of a
	 * collection of a big store, so the server's own runs do it (in
	 * the background) and the offline command only when asked.
	 */
	bool temporary_files;
	int64_t grace;			   /* seconds */
	int64_t now;			   /* 0: when the scan began */
	const struct retention *retention; /* NULL: no rules */
	struct gc_guard *guard;		   /* NULL offline */
	/* Held for the run; deletions stop once it is lost.  May be NULL. */
	const struct lease *lease;
	struct index *index; /* told of removals, or NULL */
	gc_item_fn on_item;  /* may be NULL */
	gc_mark_fn on_mark;  /* may be NULL */
	void *arg;
	gc_change_fn on_change; /* may be NULL */
	void *change_arg;
};

struct gc_stats {
	size_t blobs;		     /* blobs in the store when scanned */
	size_t marked;		     /* blobs and manifests referenced */
	size_t count[GC_ITEM_KINDS]; /* deleted, or to delete if dry */
	uint64_t freed;		     /* bytes of the blobs in count[GC_BLOB] */
	uint64_t temp_bytes;	     /* bytes of count[GC_TEMP] */
	size_t young;		     /* unreferenced, inside the grace period */
	uint64_t young_bytes;
	size_t held;   /* spared because a request held them */
	size_t failed; /* deletions refused, or skipped: lease lost */
	double seconds;
};

/*
 * Runs one collection over st.  Returns 0 with *stats filled, or a
 * negative errno when the scan failed (nothing was deleted then).
 * Deletions that fail are logged, counted in stats->failed and left to
 * the next run.
 */
int gc_run(struct store *st, const struct gc_options *o,
	   struct gc_stats *stats);

/*
 * The same over a scan already made, which may be used again (it only
 * learns times and sizes it had not read).  With a guard,
 * gc_guard_begin must have been called before the scan.
 */
void gc_collect(struct store *st, struct scan *s, const struct gc_options *o,
		struct gc_stats *stats);

/*
 * Whether a collection with o looks at tags, so its scan must read them
 * (scan_options.tags): with the untagged policy or retention rules.
 */
bool gc_needs_tags(const struct gc_options *o);

/* The name of a kind, for reports: "tag", "manifest", "blob"... */
const char *gc_item_name(enum gc_item kind);

#endif
