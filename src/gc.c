/*
 * gc.c - the guard and one collection run (gc.h): retention, the
 * untagged policy, marking, then the deletions in gc.h's order.
 *
 * The guard remembers holds in two generations of digest maps with the
 * time of the latest hold of each key.  The current generation becomes
 * the previous one after a window, and the previous one is dropped, so
 * anything held within the last window is always remembered; while a
 * run is in progress nothing is dropped, since the run asks about holds
 * back to the time its scan began.  Names (repositories, tags) are kept
 * as digests of the name (dmap_name_key).
 *
 * A run's state is a set of arrays indexed by digest number (marks, the
 * layer links of each blob) and per repository (which tags, manifests
 * and links are gone).  The scan itself is never changed.
 */
#include "gc.h"
#include "dmap.h"
#include "index.h"
#include "layout.h"
#include "lease.h"
#include "log.h"
#include "retention.h"
#include "scan.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Generations last at least this long, so a small window is cheap. */
#define GUARD_MIN_GENERATION 60
/* Threads deleting blobs, besides the caller. */
#define GC_SWEEPERS 3

/* ---- the guard ---- */

struct guard_gen {
	struct dmap *keys;
	int64_t *times; /* by key number */
	size_t cap;
	int64_t started;
};

struct gc_guard {
	pthread_mutex_t lock;
	int64_t window;
	int active; /* runs in progress: no generation is dropped */
	struct guard_gen cur, prev;
};

static void gen_init(struct guard_gen *g, int64_t now)
{
	memset(g, 0, sizeof(*g));
	g->keys = dmap_new();
	g->started = now;
}

static void gen_clear(struct guard_gen *g)
{
	dmap_free(g->keys);
	free(g->times);
}

static void gen_put(struct guard_gen *g, const struct digest *key, int64_t t)
{
	uint32_t i = dmap_add(g->keys, key, NULL);

	if (i >= g->cap) {
		g->cap = g->cap ? 2 * g->cap : 256;
		g->times = xrealloc(g->times, g->cap * sizeof(*g->times));
	}
	g->times[i] = t;
}

static int64_t gen_get(const struct guard_gen *g, const struct digest *key)
{
	uint32_t i = dmap_find(g->keys, key);

	return i == DMAP_NONE ? INT64_MIN : g->times[i];
}

struct gc_guard *gc_guard_new(int64_t window)
{
	struct gc_guard *g = xcalloc(1, sizeof(*g));
	int64_t now = now_seconds();

	pthread_mutex_init(&g->lock, NULL);
	g->window = window > GUARD_MIN_GENERATION ? window
						  : GUARD_MIN_GENERATION;
	gen_init(&g->cur, now);
	gen_init(&g->prev, now);
	return g;
}

void gc_guard_free(struct gc_guard *g)
{
	if (!g)
		return;
	gen_clear(&g->cur);
	gen_clear(&g->prev);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

static void guard_hold(struct gc_guard *g, const struct digest *key)
{
	int64_t now = now_seconds();

	pthread_mutex_lock(&g->lock);
	if (!g->active && now - g->cur.started >= g->window) {
		gen_clear(&g->prev);
		g->prev = g->cur;
		gen_init(&g->cur, now);
	}
	gen_put(&g->cur, key, now);
	pthread_mutex_unlock(&g->lock);
}

void gc_guard_hold_digest(struct gc_guard *g, const struct digest *d)
{
	if (g)
		guard_hold(g, d);
}

/*
 * Holds the repository and every name above it: creating a nested
 * repository creates its parents' directories, which the collector
 * might be removing as empty.
 */
void gc_guard_hold_repo(struct gc_guard *g, const char *repo)
{
	char *name;
	struct digest key;

	if (!g)
		return;
	name = xstrdup(repo);
	for (;;) {
		char *slash = strrchr(name, '/');

		dmap_name_key("repo", name, &key);
		guard_hold(g, &key);
		if (!slash)
			break;
		*slash = '\0';
	}
	free(name);
}

void gc_guard_hold_tag(struct gc_guard *g, const char *repo, const char *tag)
{
	char *name;
	struct digest key;

	if (!g)
		return;
	name = xasprintf("%s:%s", repo, tag);
	dmap_name_key("tag", name, &key);
	guard_hold(g, &key);
	free(name);
}

static void guard_lock(struct gc_guard *g)
{
	if (g)
		pthread_mutex_lock(&g->lock);
}

static void guard_unlock(struct gc_guard *g)
{
	if (g)
		pthread_mutex_unlock(&g->lock);
}

/* Whether d was held at or after since.  The lock is held. */
static bool guard_held(struct gc_guard *g, const struct digest *d,
		       int64_t since)
{
	if (!g)
		return false;
	return gen_get(&g->cur, d) >= since || gen_get(&g->prev, d) >= since;
}

static void guard_active(struct gc_guard *g, int delta)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->active += delta;
	pthread_mutex_unlock(&g->lock);
}

void gc_guard_begin(struct gc_guard *g)
{
	guard_active(g, 1);
}

void gc_guard_end(struct gc_guard *g)
{
	guard_active(g, -1);
}

/* ---- a run ---- */

struct repo_state {
	bool *tag_gone;
	bool *kept; /* per manifest */
	bool *layer_gone;
	bool policy; /* untagged manifests are deleted here */
};

struct link_ref {
	uint32_t repo, layer;
	uint32_t next; /* 1 + index of the next link of the blob */
};

struct gc_run {
	struct store *st;
	struct scan *s;
	const struct gc_options *o;
	struct gc_stats *stats;
	int64_t young; /* mtime at or after: inside the grace period */
	int64_t since; /* holds at or after: a request may need it */
	size_t nids;
	struct repo_state *rs;
	uint8_t *marked; /* by digest number */
	int32_t *where;	 /* manifest index in the current repo, or -1 */
	uint32_t *first; /* by digest number: 1 + first link, or 0 */
	struct link_ref *links;
	pthread_mutex_t report_lock; /* stats and on_item, for sweepers */
	atomic_bool lease_lost;	     /* said once in the log */
};

static void run_lock(struct gc_run *g)
{
	guard_lock(g->o->guard);
}

static void run_unlock(struct gc_run *g)
{
	guard_unlock(g->o->guard);
}

/* Whether a request held key since the scan began.  Lock held. */
static bool held_key(struct gc_run *g, const struct digest *key)
{
	return guard_held(g->o->guard, key, g->since);
}

static bool held_id(struct gc_run *g, uint32_t id)
{
	struct digest d;

	dmap_digest(g->s->digests, id, &d);
	if (!held_key(g, &d))
		return false;
	g->stats->held++; /* under the guard's lock, like every caller */
	return true;
}

static bool held_name(struct gc_run *g, const char *kind, const char *name)
{
	struct digest key;

	dmap_name_key(kind, name, &key);
	if (!held_key(g, &key))
		return false;
	g->stats->held++;
	return true;
}

/* Counts and reports a deletion; sweepers may call it concurrently. */
static void report(struct gc_run *g, enum gc_item kind, const char *repo,
		   const char *what, uint64_t bytes)
{
	pthread_mutex_lock(&g->report_lock);
	g->stats->count[kind]++;
	if (kind == GC_BLOB)
		g->stats->freed += bytes;
	if (kind == GC_TEMP)
		g->stats->temp_bytes += bytes;
	if (g->o->on_item)
		g->o->on_item(g->o->arg, kind, repo, what, bytes);
	pthread_mutex_unlock(&g->report_lock);
	if (!g->o->dry_run)
		log_debug("collected kind=%s repo=%s what=%s",
			  gc_item_name(kind), repo ? repo : "-", what);
}

static void changed(struct gc_run *g, const char *repo, const char *tag)
{
	if (g->o->on_change && !g->o->dry_run)
		g->o->on_change(g->o->change_arg, repo, tag);
}

/*
 * Whether the run still holds its lease, saying once when it does not:
 * another collector may be deciding now, from a scan that does not know
 * what we would delete.
 */
static bool lease_kept(struct gc_run *g)
{
	if (lease_held(g->o->lease))
		return true;
	if (!atomic_exchange(&g->lease_lost, true))
		log_error("collection lost its lease, deleting no more; the "
			  "next run finishes the work");
	return false;
}

/* Removes key (a subtree) while the lease lasts; 0, or the error. */
static int remove_key(struct gc_run *g, const char *key)
{
	int err = -ESTALE;

	if (lease_kept(g))
		err = g->st->ops->remove(g->st, key);

	if (err && err != -ENOENT) {
		if (err != -ESTALE)
			log_error("collection cannot remove key=%s "
				  "err=\"%s\"",
				  key, store_strerror(err));
		pthread_mutex_lock(&g->report_lock);
		g->stats->failed++;
		pthread_mutex_unlock(&g->report_lock);
	}
	return err;
}

/* Cuts the last component off a key in place and returns it. */
static char *dir_of(char *key)
{
	*strrchr(key, '/') = '\0';
	return key;
}

static void id_str(struct gc_run *g, uint32_t id, char *out)
{
	scan_digest_str(g->s, id, out);
}

/* ---- 1. retention ---- */

/* Whether tag t of r still names what the scan saw. */
static bool tag_unchanged(struct gc_run *g, struct scan_repo *r, size_t i)
{
	const struct scan_tag *t = &r->tags[i];
	int64_t mtime = scan_tag_time(g->s, r, i);
	char *key = layout_tag_current(r->name, t->name);
	struct store_stat sst;
	struct buf b = BUF_INIT;
	char want[DIGEST_MAX_STR + 1];
	bool same = false;

	id_str(g, t->target, want);
	if (g->st->ops->get(g->st, key, DIGEST_MAX_STR + 16, &b) == 0 &&
	    g->st->ops->stat(g->st, key, &sst) == 0)
		same = b.data && !strcmp(b.data, want) && sst.mtime == mtime;
	buf_free(&b);
	free(key);
	return same;
}

static bool expire_tag(struct gc_run *g, struct scan_repo *r, size_t i)
{
	const struct scan_tag *t = &r->tags[i];
	char *name = xasprintf("%s:%s", r->name, t->name);
	bool gone = false;
	int err = -EBUSY;
	char *key;

	if (g->o->dry_run) {
		report(g, GC_TAG, r->name, t->name, 0);
		free(name);
		return true;
	}
	run_lock(g);
	if (held_name(g, "tag", name) || !tag_unchanged(g, r, i))
		goto out;
	key = layout_tag_dir(r->name, t->name);
	err = remove_key(g, key);
	free(key);
	gone = err == 0 || err == -ENOENT;
	if (gone && g->o->index)
		index_remove_tag(g->o->index, r->name, t->name);
out:
	run_unlock(g);
	if (err == 0) {
		report(g, GC_TAG, r->name, t->name, 0);
		changed(g, r->name, t->name);
	}
	free(name);
	return gone;
}

static void apply_retention(struct gc_run *g)
{
	for (size_t i = 0; i < g->s->nrepos; i++) {
		struct scan_repo *r = &g->s->repos[i];
		struct repo_state *rs = &g->rs[i];

		rs->tag_gone = xcalloc(r->ntags + 1, sizeof(bool));
		rs->policy = retention_expire(g->o->retention, g->s, r,
					      g->o->now, rs->tag_gone) ||
			     g->o->delete_untagged;
		for (size_t t = 0; t < r->ntags; t++)
			if (rs->tag_gone[t])
				rs->tag_gone[t] = expire_tag(g, r, t);
	}
}

/* ---- 2. kept manifests ---- */

static void where_set(struct gc_run *g, const struct scan_repo *r, bool on)
{
	for (size_t m = 0; m < r->nmanifests; m++)
		g->where[r->manifests[m].id] = on ? (int32_t)m : -1;
}

/* Keeps the children of kept indexes and the referrers of kept ones. */
static void propagate(struct gc_run *g, size_t i)
{
	const struct scan_repo *r = &g->s->repos[i];
	bool *kept = g->rs[i].kept;
	bool changed = true;

	while (changed) {
		changed = false;
		for (size_t m = 0; m < r->nmanifests; m++) {
			const struct scan_manifest *sm = &r->manifests[m];
			int32_t at = sm->has_subject ? g->where[sm->subject]
						     : -1;

			if (!kept[m] && at >= 0 && kept[at])
				changed = kept[m] = true;
			for (size_t c = 0; kept[m] && c < sm->nchildren; c++) {
				at = g->where[sm->children[c]];
				if (at >= 0 && !kept[at])
					changed = kept[at] = true;
			}
		}
	}
}

/*
 * Without the policy every manifest is kept.  With it, tagged ones are,
 * and those pushed inside the grace period (an index's children come
 * before the index); the times are read only for what is not kept yet.
 */
static void decide_kept(struct gc_run *g, size_t i)
{
	struct scan_repo *r = &g->s->repos[i];
	struct repo_state *rs = &g->rs[i];

	rs->kept = xcalloc(r->nmanifests + 1, sizeof(bool));
	for (size_t m = 0; m < r->nmanifests; m++)
		rs->kept[m] = !rs->policy;
	if (!rs->policy)
		return;
	for (size_t t = 0; t < r->ntags; t++) {
		int32_t at = g->where[r->tags[t].target];

		if (!rs->tag_gone[t] && at >= 0)
			rs->kept[at] = true;
	}
	propagate(g, i);
	for (size_t m = 0; m < r->nmanifests; m++)
		if (!rs->kept[m] && r->manifests[m].revision &&
		    scan_revision_time(g->s, r, m) >= g->young)
			rs->kept[m] = true;
	propagate(g, i);
}

/* ---- 3. untagged manifests ---- */

/* Removes a manifest's revision, tag history and referrer links. */
static bool delete_manifest(struct gc_run *g, const struct scan_repo *r,
			    const struct scan_manifest *m)
{
	struct digest d, subject;
	char *key;
	int err;

	dmap_digest(g->s->digests, m->id, &d);
	key = dir_of(layout_revision_link(r->name, &d));
	err = remove_key(g, key);
	free(key);
	if (err && err != -ENOENT)
		return false;

	for (size_t t = 0; t < r->ntags; t++) {
		key = dir_of(
			layout_tag_index_link(r->name, r->tags[t].name, &d));
		remove_key(g, key);
		free(key);
	}
	if (m->has_subject) {
		dmap_digest(g->s->digests, m->subject, &subject);
		key = dir_of(layout_referrer_link(r->name, &subject, &d));
		remove_key(g, key);
		free(key);
	}
	return true;
}

/*
 * Deletes the manifests of repository i that are not kept.  Under one
 * lock: first every held manifest is kept, with what it keeps, then the
 * rest go, so a manifest a request holds never loses a child.
 */
static void delete_untagged(struct gc_run *g, size_t i)
{
	const struct scan_repo *r = &g->s->repos[i];
	bool *kept = g->rs[i].kept;
	char s[DIGEST_MAX_STR + 1];

	run_lock(g);
	for (size_t m = 0; m < r->nmanifests; m++)
		if (!kept[m] && !g->o->dry_run &&
		    held_id(g, r->manifests[m].id))
			kept[m] = true;
	propagate(g, i);

	for (size_t m = 0; m < r->nmanifests; m++) {
		const struct scan_manifest *sm = &r->manifests[m];

		if (kept[m] || !sm->revision)
			continue;
		if (!g->o->dry_run && !delete_manifest(g, r, sm)) {
			kept[m] = true;
			continue;
		}
		id_str(g, sm->id, s);
		report(g, GC_MANIFEST, r->name, s, 0);
		changed(g, r->name, NULL);
	}
	run_unlock(g);
}

static void decide_manifests(struct gc_run *g)
{
	for (size_t i = 0; i < g->s->nrepos; i++) {
		const struct scan_repo *r = &g->s->repos[i];

		where_set(g, r, true);
		decide_kept(g, i);
		if (g->rs[i].policy)
			delete_untagged(g, i);
		where_set(g, r, false);
	}
}

/* ---- 4. marking ---- */

static void mark(struct gc_run *g, const char *repo, uint32_t id, bool manifest)
{
	char s[DIGEST_MAX_STR + 1];

	if (g->marked[id])
		return;
	g->marked[id] = 1;
	g->stats->marked++;
	if (g->o->on_mark) {
		id_str(g, id, s);
		g->o->on_mark(g->o->arg, repo, manifest, s);
	}
}

static void mark_all(struct gc_run *g)
{
	for (size_t i = 0; i < g->s->nrepos; i++) {
		const struct scan_repo *r = &g->s->repos[i];

		for (size_t m = 0; m < r->nmanifests; m++) {
			const struct scan_manifest *sm = &r->manifests[m];

			if (!g->rs[i].kept[m] || !g->s->blobs[sm->id].listed)
				continue;
			mark(g, r->name, sm->id, true);
			for (size_t k = 0; k < sm->nrefs; k++)
				mark(g, r->name, sm->refs[k], false);
			for (size_t k = 0; k < sm->nchildren; k++)
				mark(g, r->name, sm->children[k], false);
		}
	}
}

/* ---- 5. sweeping blobs ---- */

static void index_links(struct gc_run *g)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < g->s->nrepos; i++)
		n += g->s->repos[i].nlayers;
	g->links = xcalloc(n + 1, sizeof(*g->links));
	for (size_t i = 0; i < g->s->nrepos; i++) {
		const struct scan_repo *r = &g->s->repos[i];

		g->rs[i].layer_gone = xcalloc(r->nlayers + 1, sizeof(bool));
		for (size_t j = 0; j < r->nlayers; j++, k++) {
			uint32_t id = r->layers[j].id;

			g->links[k] = (struct link_ref){(uint32_t)i,
							(uint32_t)j,
							g->first[id]};
			g->first[id] = (uint32_t)k + 1;
		}
	}
}

/*
 * Whether blob id, or a link to it, is inside the grace period.
 *
 * NEEDSWORK: another instance's requests hold nothing here.  A garbage
 * blob it tells a client exists (HEAD, then a manifest push), or links
 * into a repository whose link the scan did not list, looks old and
 * is swept under the new manifest.  A hold the store could show
 * (a time refreshed on reuse) would close this.
 */
static bool blob_young(struct gc_run *g, uint32_t id)
{
	if (scan_blob(g->s, id)->mtime >= g->young)
		return true;
	for (uint32_t k = g->first[id]; k; k = g->links[k - 1].next) {
		const struct link_ref *l = &g->links[k - 1];

		if (scan_layer_time(g->s, &g->s->repos[l->repo], l->layer) >=
		    g->young)
			return true;
	}
	return false;
}

static void unlink_layer(struct gc_run *g, const struct link_ref *l,
			 const char *s)
{
	const struct scan_repo *r = &g->s->repos[l->repo];
	struct digest d;
	char *key;
	int err = 0;

	if (!g->o->dry_run) {
		dmap_digest(g->s->digests, r->layers[l->layer].id, &d);
		key = dir_of(layout_layer_link(r->name, &d));
		err = remove_key(g, key);
		free(key);
	}
	if (err == 0 || err == -ENOENT)
		g->rs[l->repo].layer_gone[l->layer] = true;
	if (err == 0)
		report(g, GC_LAYER_LINK, r->name, s, 0);
}

static void sweep_blob(struct gc_run *g, uint32_t id)
{
	uint64_t size = scan_blob(g->s, id)->size;
	char s[DIGEST_MAX_STR + 1];
	struct digest d;
	char *key;

	id_str(g, id, s);
	run_lock(g);
	if (!g->o->dry_run && held_id(g, id))
		goto out;
	for (uint32_t k = g->first[id]; k; k = g->links[k - 1].next)
		unlink_layer(g, &g->links[k - 1], s);

	dmap_digest(g->s->digests, id, &d);
	key = layout_blob_dir(&d);
	if (g->o->dry_run || remove_key(g, key) == 0)
		report(g, GC_BLOB, NULL, s, size);
	free(key);
out:
	run_unlock(g);
}

struct sweeper {
	struct gc_run *g;
	const uint32_t *ids;
	size_t n;
	atomic_size_t next;
};

/* Sweeps blob id unless it is gone or inside the grace period. */
static void consider_blob(struct gc_run *g, uint32_t id)
{
	const struct scan_blob *b = scan_blob(g->s, id);

	if (!b->present)
		return;
	if (blob_young(g, id)) {
		pthread_mutex_lock(&g->report_lock);
		g->stats->young++;
		g->stats->young_bytes += b->size;
		pthread_mutex_unlock(&g->report_lock);
		return;
	}
	sweep_blob(g, id);
}

static void *sweep_worker(void *arg)
{
	struct sweeper *w = arg;
	size_t i;

	while ((i = atomic_fetch_add(&w->next, 1)) < w->n)
		consider_blob(w->g, w->ids[i]);
	return NULL;
}

/*
 * Looks at and deletes the blobs in ids on a few threads: each costs
 * several system calls and they are independent (a blob's facts and
 * links are its own).  Under a guard deletions still take its lock one
 * at a time.
 */
static void sweep_parallel(struct gc_run *g, const uint32_t *ids, size_t n)
{
	struct sweeper w = {g, ids, n, 0};
	pthread_t t[GC_SWEEPERS];
	size_t k = 0;

	while (k < GC_SWEEPERS && n > 64 &&
	       pthread_create(&t[k], NULL, sweep_worker, &w) == 0)
		k++;
	sweep_worker(&w);
	while (k > 0)
		pthread_join(t[--k], NULL);
}

/* Sweeps the unmarked blobs, those outside the grace period. */
static void sweep_blobs(struct gc_run *g)
{
	uint32_t *ids = xcalloc(g->nids + 1, sizeof(*ids));
	size_t n = 0;

	for (uint32_t id = 0; id < g->nids; id++)
		if (g->s->blobs[id].listed && !g->marked[id])
			ids[n++] = id;
	sweep_parallel(g, ids, n);
	free(ids);
}

/* ---- 6. leftovers ---- */

static bool blob_present_now(struct gc_run *g, const struct digest *d)
{
	struct store_stat sst;
	char *key = layout_blob_data(d);
	int err = g->st->ops->stat(g->st, key, &sst);

	free(key);
	return err != -ENOENT;
}

/*
 * Whether the scan found the blob gone: never listed, or listed without
 * data.  Blobs listed and not looked at further are taken to be there.
 */
static bool blob_missing(struct gc_run *g, uint32_t id)
{
	const struct scan_blob *b = &g->s->blobs[id];

	return !b->listed || (b->statted && !b->present);
}

/* Layer links to blobs that were already gone when the scan looked. */
static void sweep_dangling(struct gc_run *g, size_t i)
{
	struct scan_repo *r = &g->s->repos[i];

	for (size_t j = 0; j < r->nlayers; j++) {
		const struct scan_link *l = &r->layers[j];
		struct link_ref ref = {(uint32_t)i, (uint32_t)j, 0};
		char s[DIGEST_MAX_STR + 1];
		struct digest d;

		if (g->rs[i].layer_gone[j] || !blob_missing(g, l->id) ||
		    scan_layer_time(g->s, r, j) >= g->young)
			continue;
		dmap_digest(g->s->digests, l->id, &d);
		digest_format(&d, s);
		run_lock(g);
		if (g->o->dry_run ||
		    (!held_id(g, l->id) && !blob_present_now(g, &d)))
			unlink_layer(g, &ref, s);
		run_unlock(g);
	}
}

/* Whether the repository keeps a manifest with this digest. */
static bool manifest_kept(struct gc_run *g, size_t i, uint32_t id)
{
	int32_t at = g->where[id];

	return at >= 0 && g->rs[i].kept[at] &&
	       g->s->repos[i].manifests[at].revision;
}

/* Referrer links naming manifests the repository no longer has. */
static void sweep_referrers(struct gc_run *g, size_t i)
{
	struct scan_repo *r = &g->s->repos[i];

	where_set(g, r, true);
	for (size_t j = 0; j < r->nreferrers; j++) {
		const struct scan_referrer *ref = &r->referrers[j];
		char s[DIGEST_MAX_STR + 1];
		struct digest d, subject;
		char *key;
		int err = 0;

		if (manifest_kept(g, i, ref->referrer) ||
		    scan_referrer_time(g->s, r, j) >= g->young)
			continue;
		dmap_digest(g->s->digests, ref->referrer, &d);
		dmap_digest(g->s->digests, ref->subject, &subject);
		digest_format(&d, s);
		key = dir_of(layout_referrer_link(r->name, &subject, &d));
		run_lock(g);
		if (!g->o->dry_run)
			err = held_id(g, ref->referrer) ? -EBUSY
							: remove_key(g, key);
		run_unlock(g);
		if (err == 0)
			report(g, GC_REFERRER, r->name, s, 0);
		free(key);
	}
	where_set(g, r, false);
}

static void sweep_empty_dirs(struct gc_run *g)
{
	for (size_t i = 0; i < g->s->nempty; i++) {
		const struct scan_link *e = &g->s->empty[i];
		char s[DIGEST_MAX_STR + 1];
		struct digest d;
		char *key;
		int err = 0;

		if (e->mtime >= g->young)
			continue;
		dmap_digest(g->s->digests, e->id, &d);
		digest_format(&d, s);
		key = layout_blob_dir(&d);
		run_lock(g);
		if (!g->o->dry_run)
			err = held_id(g, e->id) || blob_present_now(g, &d)
				      ? -EBUSY
				      : remove_key(g, key);
		run_unlock(g);
		if (err == 0)
			report(g, GC_EMPTY_DIR, NULL, s, 0);
		free(key);
	}
}

/* ---- 7. empty repositories ---- */

static bool repo_left_empty(struct gc_run *g, size_t i)
{
	struct scan_repo *r = &g->s->repos[i];
	const struct repo_state *rs = &g->rs[i];

	if (r->nuploads)
		return false;
	for (size_t t = 0; t < r->ntags; t++)
		if (!rs->tag_gone[t])
			return false;
	for (size_t m = 0; m < r->nmanifests; m++)
		if (rs->kept[m] && r->manifests[m].revision)
			return false;
	for (size_t j = 0; j < r->nlayers; j++)
		if (scan_layer_time(g->s, r, j) >= g->young)
			return false;
	for (size_t j = 0; j < r->nreferrers; j++)
		if (scan_referrer_time(g->s, r, j) >= g->young)
			return false;
	return true;
}

static int count_child(void *arg, const char *name, bool is_dir)
{
	(*(size_t *)arg)++;
	return 0;
}

/* How many entries the key lists: 0 when missing, -1 on errors. */
static long entries(struct gc_run *g, const char *key)
{
	size_t n = 0;
	int err = g->st->ops->list(g->st, key, count_child, &n);

	if (err == -ENOENT)
		return 0;
	return err ? -1 : (long)n;
}

/* Checks again, under the lock, that the repository holds nothing. */
static bool repo_still_empty(struct gc_run *g, const char *rkey)
{
	static const char *const parts[] = {
		"_manifests/tags",
		"_manifests/revisions/sha256",
		"_manifests/revisions/sha512",
		"_uploads",
	};

	for (size_t p = 0; p < sizeof(parts) / sizeof(parts[0]); p++) {
		char *key = xasprintf("%s/%s", rkey, parts[p]);
		long n = entries(g, key);

		free(key);
		if (n != 0)
			return false;
	}
	return true;
}

/* Removes empty directories above a removed repository. */
static void remove_parents(struct gc_run *g, const char *repo)
{
	char *name = xstrdup(repo);
	char *slash;

	while ((slash = strrchr(name, '/'))) {
		char *key;

		*slash = '\0';
		key = layout_repo(name);
		if (held_name(g, "repo", name) || entries(g, key) != 0 ||
		    remove_key(g, key) != 0) {
			free(key);
			break;
		}
		free(key);
	}
	free(name);
}

static bool remove_repo(struct gc_run *g, const char *repo)
{
	static const char *const parts[] = {
		"_manifests",
		"_layers",
		"_referrers",
		"_uploads",
	};
	char *rkey = layout_repo(repo);
	bool gone = false;

	if (held_name(g, "repo", repo) || !repo_still_empty(g, rkey))
		goto out;
	for (size_t p = 0; p < sizeof(parts) / sizeof(parts[0]); p++) {
		char *key = xasprintf("%s/%s", rkey, parts[p]);
		int err = remove_key(g, key);

		free(key);
		if (err && err != -ENOENT)
			goto out;
	}
	gone = true;
	if (entries(g, rkey) == 0 && remove_key(g, rkey) == 0)
		remove_parents(g, repo);
	if (g->o->index)
		index_remove_repo(g->o->index, repo);
out:
	free(rkey);
	return gone;
}

static void sweep_repos(struct gc_run *g)
{
	for (size_t i = 0; i < g->s->nrepos; i++) {
		const char *name = g->s->repos[i].name;
		bool gone = true;

		if (!repo_left_empty(g, i))
			continue;
		if (!g->o->dry_run) {
			run_lock(g);
			gone = remove_repo(g, name);
			run_unlock(g);
		}
		if (gone) {
			report(g, GC_REPOSITORY, name, name, 0);
			changed(g, name, NULL);
		}
	}
}

/* ---- 8. temporary files ---- */

static void on_temp(void *arg, const char *path, uint64_t bytes)
{
	report(arg, GC_TEMP, NULL, path, bytes);
}

/*
 * Removes the temporary files crashed writes left.  No key names them,
 * so nothing points at them and no request holds them: their age alone
 * says that no write still owns them.  Like every deletion it stops
 * once the lease is lost.
 */
static void sweep_temps(struct gc_run *g)
{
	int64_t age = g->o->grace > GC_TEMP_AGE ? g->o->grace : GC_TEMP_AGE;
	int err;

	if (!g->o->temporary_files || !g->st->ops->sweep)
		return;
	if (!g->o->dry_run && !lease_kept(g)) {
		g->stats->failed++;
		return;
	}

	err = g->st->ops->sweep(g->st, g->o->now - age, g->o->dry_run, on_temp,
				g);
	if (err) {
		log_error("collection cannot remove every temporary file "
			  "err=\"%s\"",
			  store_strerror(err));
		g->stats->failed++;
	}
}

/* ---- the run ---- */

static void run_init(struct gc_run *g, struct store *st, struct scan *s,
		     const struct gc_options *o, struct gc_stats *stats)
{
	memset(g, 0, sizeof(*g));
	memset(stats, 0, sizeof(*stats));
	g->st = st;
	g->s = s;
	g->o = o;
	g->stats = stats;
	pthread_mutex_init(&g->report_lock, NULL);
	g->young = o->now - o->grace;
	g->since = s->started - o->grace - 1;
	g->nids = dmap_count(s->digests);
	g->rs = xcalloc(s->nrepos + 1, sizeof(*g->rs));
	g->marked = xcalloc(g->nids + 1, 1);
	g->first = xcalloc(g->nids + 1, sizeof(*g->first));
	g->where = xmalloc((g->nids + 1) * sizeof(*g->where));
	for (size_t i = 0; i < g->nids; i++)
		g->where[i] = -1;
	stats->blobs = s->nlisted;
}

static void run_free(struct gc_run *g)
{
	for (size_t i = 0; i < g->s->nrepos; i++) {
		free(g->rs[i].tag_gone);
		free(g->rs[i].kept);
		free(g->rs[i].layer_gone);
	}
	free(g->rs);
	free(g->marked);
	free(g->first);
	free(g->where);
	free(g->links);
	pthread_mutex_destroy(&g->report_lock);
}

static double since_ms(uint64_t t0)
{
	return (double)(now_monotonic_ns() - t0) / 1e6;
}

static void collect(struct gc_run *g)
{
	uint64_t t0 = now_monotonic_ns();
	double decided, swept, leftovers;

	apply_retention(g);
	decide_manifests(g);
	mark_all(g);
	index_links(g);
	decided = since_ms(t0);
	sweep_blobs(g);
	swept = since_ms(t0);
	for (size_t i = 0; i < g->s->nrepos; i++) {
		sweep_dangling(g, i);
		sweep_referrers(g, i);
	}
	sweep_empty_dirs(g);
	sweep_repos(g);
	leftovers = since_ms(t0);
	sweep_temps(g);
	log_debug("collection phases decide_ms=%.1f sweep_ms=%.1f "
		  "leftovers_ms=%.1f temps_ms=%.1f",
		  decided, swept - decided, leftovers - swept,
		  since_ms(t0) - leftovers);
}

bool gc_needs_tags(const struct gc_options *o)
{
	return o->delete_untagged || retention_count(o->retention) > 0;
}

void gc_collect(struct store *st, struct scan *s, const struct gc_options *opts,
		struct gc_stats *stats)
{
	struct gc_options o = *opts;
	struct gc_run g;

	/*
	 * Ages count back from the scan's start, not from now: a push the
	 * scan did not see may reference any blob stored up to the grace
	 * period before it began.  Another instance's pushes hold nothing
	 * here, so only the store's own times protect them.
	 */
	if (!o.now)
		o.now = s->started;
	run_init(&g, st, s, &o, stats);
	collect(&g);
	run_free(&g);
}

int gc_run(struct store *st, const struct gc_options *o, struct gc_stats *stats)
{
	uint64_t t0 = now_monotonic_ns();
	struct scan_options so = {gc_needs_tags(o)};
	struct scan *s = NULL;
	int err;

	memset(stats, 0, sizeof(*stats));
	gc_guard_begin(o->guard);
	err = scan_store(st, &so, &s);
	log_debug("collection scan err=%d ms=%.1f", err, since_ms(t0));
	if (!err)
		gc_collect(st, s, o, stats);
	gc_guard_end(o->guard);
	scan_free(s);
	stats->seconds = (double)(now_monotonic_ns() - t0) / 1e9;
	return err;
}

const char *gc_item_name(enum gc_item kind)
{
	static const char *const names[GC_ITEM_KINDS] = {
		[GC_TAG] = "tag",
		[GC_MANIFEST] = "manifest",
		[GC_BLOB] = "blob",
		[GC_LAYER_LINK] = "layer link",
		[GC_REFERRER] = "referrer link",
		[GC_EMPTY_DIR] = "empty blob directory",
		[GC_REPOSITORY] = "repository",
		[GC_TEMP] = "temporary file",
	};

	return names[kind];
}
