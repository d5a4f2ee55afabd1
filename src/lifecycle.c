/*
 * lifecycle.c - schedules collections, usage refreshes and scrubs, keeps
 * their reports, answers administrators, and passes the registry's
 * hooks to the guard and the usage tracker (lifecycle.h).
 *
 * One mutex protects the schedule and the reports; it is never held
 * while a run works on the store.  A run requested through the admin
 * endpoint takes precedence over the schedule.  Usage is rescanned
 * after every real collection, a few seconds after deletions (so a
 * burst of deletes costs one scan), and every usage interval.
 *
 * The first scheduled collection comes a little after start (or at the
 * next window), not a full interval later, so that a server restarted
 * more often than its interval still collects.
 */
#include "lifecycle.h"
#include "config.h"
#include "gc.h"
#include "lease.h"
#include "log.h"
#include "manifest.h"
#include "registry.h"
#include "retention.h"
#include "scan.h"
#include "scrub.h"
#include "store.h"
#include "usage.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FIRST_RUN_DELAY 600 /* seconds after start */
#define USAGE_DEBOUNCE 3    /* seconds after a deletion */
#define REPORT_ITEMS 1000   /* items listed in a run's report */
#define MINUTES_PER_DAY 1440

struct job {
	bool running;
	bool requested;
	bool dry_run, delete_untagged; /* of the request */
	uint64_t started, finished;    /* runs counted, for waiters */
	int64_t next;		       /* next scheduled run, 0: none */
	json_t *last;		       /* the last run's report */
	struct lease *lease;	       /* a request's, for its run */
};

struct lifecycle {
	const struct config *cfg;
	struct store *st;
	struct index *ix;
	struct gc_guard *guard;
	struct usage *usage;
	struct retention *retention;
	int win_start, win_end; /* minutes of the UTC day; -1: none */

	pthread_mutex_t lock;
	pthread_cond_t wake; /* work for the threads */
	pthread_cond_t done; /* a run finished */
	bool stopping;
	atomic_bool stop_flag; /* ends a scrub early */
	struct job gc, scrub;
	int64_t usage_next;  /* periodic refresh, 0: none */
	int64_t usage_dirty; /* first deletion since a refresh, or 0 */
	pthread_t maint_thread, scrub_thread;
	bool maint_started, scrub_started;
	void (*on_change)(void *, const char *, const char *);
	void *change_arg;
};

/* ---- windows ---- */

/* Reads "HH:MM" from the first five characters of s. */
static int parse_hhmm(const char *s, int *minutes)
{
	int h, m;

	if (strnlen(s, 5) != 5 || s[2] != ':' || strspn(s, "0123456789") != 2 ||
	    strspn(s + 3, "0123456789") < 2)
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 23 || m > 59)
		return -1;
	*minutes = h * 60 + m;
	return 0;
}

static int parse_window(const char *s, int *start, int *end)
{
	*start = *end = -1;
	if (!s || !*s)
		return 0;
	if (strlen(s) != 11 || s[5] != '-' || parse_hhmm(s, start) < 0 ||
	    parse_hhmm(s + 6, end) < 0 || *start == *end)
		return -1;
	return 0;
}

int lifecycle_window_check(const char *s, char *why, size_t len)
{
	int a, b;

	if (parse_window(s, &a, &b) == 0)
		return 0;
	snprintf(why, len,
		 "expected a window such as 01:00-05:00 (UTC, "
		 "start and end differ), got \"%s\"",
		 s);
	return -1;
}

static bool in_window(int start, int end, int minute)
{
	if (start < end)
		return minute >= start && minute < end;
	return minute >= start || minute < end; /* across midnight */
}

/* The first time at or after t inside the window. */
static int64_t window_next(const struct lifecycle *lc, int64_t t)
{
	int64_t day = t - t % 86400;
	int minute = (int)(t % 86400 / 60);

	if (lc->win_start < 0 || in_window(lc->win_start, lc->win_end, minute))
		return t;
	if (minute < lc->win_start)
		return day + lc->win_start * 60;
	return day + 86400 + lc->win_start * 60;
}

/* ---- reports ---- */

static const char *item_key(enum gc_item kind)
{
	static const char *const keys[GC_ITEM_KINDS] = {
		[GC_TAG] = "tags",
		[GC_MANIFEST] = "manifests",
		[GC_BLOB] = "blobs",
		[GC_LAYER_LINK] = "layer_links",
		[GC_REFERRER] = "referrer_links",
		[GC_EMPTY_DIR] = "empty_blob_dirs",
		[GC_REPOSITORY] = "repositories",
		[GC_TEMP] = "temporary_files",
	};

	return keys[kind];
}

static void time_field(json_t *o, const char *key, int64_t t)
{
	char s[32];

	format_rfc3339(t, s);
	json_object_set_new(o, key, t ? json_string(s) : json_null());
}

struct gc_report {
	json_t *items;
	size_t dropped;
};

static void on_item(void *arg, enum gc_item kind, const char *repo,
		    const char *what, uint64_t bytes)
{
	struct gc_report *r = arg;
	json_t *item;

	if (json_array_size(r->items) >= REPORT_ITEMS) {
		r->dropped++;
		return;
	}
	item = json_pack("{s:s, s:s}", "kind", item_key(kind), "name", what);
	json_object_set_new(item, "repository",
			    repo ? json_string(repo) : json_null());
	if (kind == GC_BLOB || kind == GC_TEMP)
		json_object_set_new(item, "bytes",
				    json_integer((json_int_t)bytes));
	json_array_append_new(r->items, item);
}

static json_t *gc_report_json(const struct gc_options *o,
			      const struct gc_stats *s, int err,
			      int64_t started, struct gc_report *r)
{
	json_t *deleted = json_object();
	json_t *doc =
		json_pack("{s:b, s:b, s:f, s:I, s:I, s:I, s:I}", "dry_run",
			  o->dry_run, "delete_untagged", o->delete_untagged,
			  "seconds", s->seconds, "blobs", (json_int_t)s->blobs,
			  "marked", (json_int_t)s->marked, "freed_bytes",
			  (json_int_t)s->freed, "held", (json_int_t)s->held);

	for (int k = 0; k < GC_ITEM_KINDS; k++)
		json_object_set_new(deleted, item_key(k),
				    json_integer((json_int_t)s->count[k]));
	json_object_set_new(doc, "deleted", deleted);
	json_object_set_new(doc, "young_blobs",
			    json_integer((json_int_t)s->young));
	json_object_set_new(doc, "young_bytes",
			    json_integer((json_int_t)s->young_bytes));
	json_object_set_new(doc, "temporary_bytes",
			    json_integer((json_int_t)s->temp_bytes));
	json_object_set_new(doc, "failed", json_integer((json_int_t)s->failed));
	json_object_set_new(doc, "status",
			    json_string(err ? "failed" : "done"));
	if (err)
		json_object_set_new(doc, "error",
				    json_string(store_strerror(err)));
	time_field(doc, "started", started);
	time_field(doc, "finished", now_seconds());
	json_object_set_new(doc, "items", r->items);
	json_object_set_new(doc, "items_truncated", json_boolean(r->dropped));
	return doc;
}

/* ---- usage ---- */

static void gc_policy(struct lifecycle *lc, struct gc_options *o)
{
	memset(o, 0, sizeof(*o));
	o->delete_untagged = lc->cfg->gc_deleteuntagged;
	o->grace = lc->cfg->gc_graceperiod;
	o->retention = lc->retention;
	o->guard = lc->guard;
	o->index = lc->ix;
	pthread_mutex_lock(&lc->lock);
	o->on_change = lc->on_change;
	o->change_arg = lc->change_arg;
	pthread_mutex_unlock(&lc->lock);
}

/*
 * Rescans the store for usage, with what the configured collection
 * would free now as the reclaimable bytes.
 */
static void refresh_usage(struct lifecycle *lc)
{
	struct gc_options o;
	struct gc_stats stats;
	struct scan_options so;
	struct scan *s;
	int err;

	gc_policy(lc, &o);
	so.tags = gc_needs_tags(&o);
	usage_begin(lc->usage);
	err = scan_store(lc->st, &so, &s);
	if (err) {
		log_error("usage scan failed err=\"%s\"", store_strerror(err));
		return;
	}
	o.dry_run = true;
	o.index = NULL;
	gc_collect(lc->st, s, &o, &stats);
	usage_update(lc->usage, s, now_seconds() - o.grace, stats.freed,
		     stats.count[GC_BLOB]);
	scan_free(s);
	log_debug("usage refreshed blobs=%zu reclaimable=%llu", stats.blobs,
		  (unsigned long long)stats.freed);
}

/* ---- leases ---- */

static json_t *holder_json(const struct lease_holder *h)
{
	json_t *o = json_pack("{s:s, s:I, s:s}", "host", h->host, "pid",
			      (json_int_t)h->pid, "id", h->id);

	time_field(o, "since", h->started);
	time_field(o, "until", h->expires);
	return o;
}

/*
 * Takes lease name for a run of what ("collection", "scrub").  Returns
 * 0 with *l set, or a negative errno with *report saying why the run
 * did not happen: skipped while another holds the lease, failed when
 * the store could not tell.
 */
static int take_lease(struct lifecycle *lc, const char *name, const char *what,
		      struct lease **l, json_t **report)
{
	struct lease_holder h;
	char who[512];
	int err = lease_take(lc->st, name, lc->cfg->lease_duration, l, &h);

	if (err == -EBUSY) {
		lease_holder_format(&h, who, sizeof(who));
		log_info("%s skipped, another instance holds the lease %s",
			 what, who);
		*report = json_pack("{s:s, s:o, s:s}", "status", "skipped",
				    "holder", holder_json(&h), "error",
				    "another instance holds the lease");
	} else if (err) {
		log_error("%s failed, cannot take the lease err=\"%s\"", what,
			  store_strerror(err));
		*report = json_pack("{s:s, s:s}", "status", "failed", "error",
				    store_strerror(err));
	}
	if (*report)
		time_field(*report, "finished", now_seconds());
	return err;
}

/* ---- collections ---- */

static void log_gc(const struct gc_options *o, const struct gc_stats *s,
		   int err)
{
	if (err) {
		log_error("collection failed, nothing deleted err=\"%s\"",
			  store_strerror(err));
		return;
	}
	log_info("collection %s blobs=%zu freed=%llu manifests=%zu tags=%zu "
		 "layerlinks=%zu repositories=%zu young=%zu held=%zu "
		 "failed=%zu seconds=%.2f",
		 o->dry_run ? "dry run done" : "done", s->count[GC_BLOB],
		 (unsigned long long)s->freed, s->count[GC_MANIFEST],
		 s->count[GC_TAG], s->count[GC_LAYER_LINK],
		 s->count[GC_REPOSITORY], s->young, s->held, s->failed,
		 s->seconds);
}

/*
 * Runs one collection with the lock released; returns its report.  A
 * real run holds the collector's lease: lease, when a request took it
 * already (it is dropped here), or one taken now.
 */
static json_t *run_gc(struct lifecycle *lc, bool dry_run, bool untagged,
		      struct lease *lease)
{
	struct gc_report r = {NULL, 0};
	int64_t started = now_seconds();
	json_t *skipped = NULL;
	struct gc_options o;
	struct gc_stats s;
	int err;

	if (!dry_run && !lease &&
	    take_lease(lc, GC_LEASE, "collection", &lease, &skipped))
		return skipped;

	r.items = json_array();
	gc_policy(lc, &o);
	o.dry_run = dry_run;
	o.delete_untagged = untagged;
	o.temporary_files = true;
	o.lease = lease;
	o.on_item = on_item;
	o.arg = &r;
	err = gc_run(lc->st, &o, &s);
	lease_drop(lease);
	log_gc(&o, &s, err);
	if (!err && !dry_run)
		refresh_usage(lc);
	return gc_report_json(&o, &s, err, started, &r);
}

/* ---- scrubs ---- */

struct scrub_report {
	json_t *bad;
};

static void on_bad(void *arg, const char *digest, const char *actual,
		   uint64_t size, const char *quarantine)
{
	struct scrub_report *r = arg;
	json_t *item;

	if (json_array_size(r->bad) >= REPORT_ITEMS)
		return;
	item = json_pack("{s:s, s:s, s:I}", "digest", digest, "actual", actual,
			 "bytes", (json_int_t)size);
	json_object_set_new(item, "quarantine",
			    quarantine ? json_string(quarantine) : json_null());
	json_array_append_new(r->bad, item);
}

/* As run_gc, for a scrub, which moves what it quarantines. */
static json_t *run_scrub(struct lifecycle *lc, struct lease *lease)
{
	struct scrub_report r = {NULL};
	struct scrub_options o = {0};
	int64_t started = now_seconds();
	struct scrub_stats s = {0};
	json_t *doc = NULL;
	int err;

	o.report_only = lc->cfg->readonly;
	if (!o.report_only && !lease &&
	    take_lease(lc, SCRUB_LEASE, "scrub", &lease, &doc))
		return doc;

	r.bad = json_array();
	o.lease = lease;
	o.stop = &lc->stop_flag;
	o.on_bad = on_bad;
	o.arg = &r;
	err = scrub_run(lc->st, &o, &s);
	lease_drop(lease);
	log_info("scrub done blobs=%zu bytes=%llu corrupt=%zu quarantined=%zu "
		 "failed=%zu seconds=%.1f",
		 s.blobs, (unsigned long long)s.bytes, s.corrupt, s.quarantined,
		 s.failed, s.seconds);

	doc = json_pack("{s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:o}", "status",
			err ? "failed" : "done", "seconds", s.seconds, "blobs",
			(json_int_t)s.blobs, "bytes", (json_int_t)s.bytes,
			"corrupt", (json_int_t)s.corrupt, "quarantined",
			(json_int_t)s.quarantined, "failed",
			(json_int_t)s.failed, "bad", r.bad);
	time_field(doc, "started", started);
	time_field(doc, "finished", now_seconds());
	if (s.corrupt && !s.quarantined)
		refresh_usage(lc);
	return doc;
}

/* ---- the threads ---- */

/* Records a finished run and wakes whoever waits for it.  Lock held. */
static void job_done(struct lifecycle *lc, struct job *j, json_t *report)
{
	json_decref(j->last);
	j->last = report;
	j->running = false;
	j->finished++;
	pthread_cond_broadcast(&lc->done);
}

static void wait_until(struct lifecycle *lc, int64_t when)
{
	struct timespec ts = {0};

	if (!when) {
		pthread_cond_wait(&lc->wake, &lc->lock);
		return;
	}
	ts.tv_sec = (time_t)when;
	pthread_cond_timedwait(&lc->wake, &lc->lock, &ts);
}

static int64_t earliest(int64_t a, int64_t b)
{
	if (!a)
		return b;
	return b && b < a ? b : a;
}

/* The maintenance thread's next task, or false to sleep.  Lock held. */
static bool gc_due(struct lifecycle *lc, int64_t now, bool *dry, bool *untagged)
{
	struct job *j = &lc->gc;

	if (j->requested) {
		j->requested = false;
		*dry = j->dry_run;
		*untagged = j->delete_untagged;
		return true;
	}
	if (!j->next || now < j->next)
		return false;
	j->next = window_next(lc, now + lc->cfg->gc_interval);
	*dry = lc->cfg->gc_dryrun;
	*untagged = lc->cfg->gc_deleteuntagged;
	return true;
}

static bool usage_due(struct lifecycle *lc, int64_t now)
{
	bool due = (lc->usage_next && now >= lc->usage_next) ||
		   (lc->usage_dirty && now >= lc->usage_dirty + USAGE_DEBOUNCE);

	if (!due)
		return false;
	lc->usage_dirty = 0;
	if (lc->cfg->usage_interval > 0)
		lc->usage_next = now + lc->cfg->usage_interval;
	return true;
}

static void *maint_main(void *arg)
{
	struct lifecycle *lc = arg;
	bool dry, untagged;

	pthread_mutex_lock(&lc->lock);
	while (!lc->stopping) {
		int64_t now = now_seconds();

		if (gc_due(lc, now, &dry, &untagged)) {
			struct lease *lease = lc->gc.lease;
			json_t *report;

			lc->gc.lease = NULL;
			lc->gc.running = true;
			lc->gc.started++;
			pthread_mutex_unlock(&lc->lock);
			report = run_gc(lc, dry, untagged, lease);
			pthread_mutex_lock(&lc->lock);
			job_done(lc, &lc->gc, report);
		} else if (usage_due(lc, now)) {
			pthread_mutex_unlock(&lc->lock);
			refresh_usage(lc);
			pthread_mutex_lock(&lc->lock);
		} else {
			wait_until(lc, earliest(earliest(lc->gc.next,
							 lc->usage_next),
						lc->usage_dirty
							? lc->usage_dirty +
								  USAGE_DEBOUNCE
							: 0));
		}
	}
	pthread_mutex_unlock(&lc->lock);
	return NULL;
}

static void *scrub_main(void *arg)
{
	struct lifecycle *lc = arg;
	struct job *j = &lc->scrub;

	pthread_mutex_lock(&lc->lock);
	while (!lc->stopping) {
		int64_t now = now_seconds();
		struct lease *lease;
		json_t *report;

		if (!j->requested && (!j->next || now < j->next)) {
			wait_until(lc, j->next);
			continue;
		}
		if (!j->requested)
			j->next = now + lc->cfg->scrub_interval;
		lease = j->lease;
		j->lease = NULL;
		j->requested = false;
		j->running = true;
		j->started++;
		pthread_mutex_unlock(&lc->lock);
		report = run_scrub(lc, lease);
		pthread_mutex_lock(&lc->lock);
		job_done(lc, j, report);
	}
	pthread_mutex_unlock(&lc->lock);
	return NULL;
}

/* ---- start and stop ---- */

static void schedule(struct lifecycle *lc)
{
	const struct config *cfg = lc->cfg;
	int64_t now = now_seconds();
	int64_t first = cfg->gc_interval < FIRST_RUN_DELAY ? cfg->gc_interval
							   : FIRST_RUN_DELAY;

	if (cfg->gc_enabled && !cfg->readonly)
		lc->gc.next = window_next(lc, now + first);
	if (cfg->scrub_enabled)
		lc->scrub.next = now + (cfg->scrub_interval < FIRST_RUN_DELAY
						? cfg->scrub_interval
						: FIRST_RUN_DELAY);
	lc->usage_next = now; /* the first refresh right away */
}

static int start_threads(struct lifecycle *lc, char *err, size_t errlen)
{
	int rc = pthread_create(&lc->maint_thread, NULL, maint_main, lc);

	lc->maint_started = rc == 0;
	if (rc == 0) {
		rc = pthread_create(&lc->scrub_thread, NULL, scrub_main, lc);
		lc->scrub_started = rc == 0;
	}
	if (rc != 0)
		snprintf(err, errlen,
			 "cannot start the storage lifecycle "
			 "threads: %s",
			 strerror(rc));
	return rc ? -1 : 0;
}

struct lifecycle *lifecycle_start(const struct config *cfg, struct store *st,
				  struct index *ix, char *err, size_t errlen)
{
	struct lifecycle *lc = xcalloc(1, sizeof(*lc));

	lc->cfg = cfg;
	lc->st = st;
	lc->ix = ix;
	pthread_mutex_init(&lc->lock, NULL);
	pthread_cond_init(&lc->wake, NULL);
	pthread_cond_init(&lc->done, NULL);
	lc->guard = gc_guard_new(cfg->gc_graceperiod);
	lc->usage = usage_new(cfg->quotas, err, errlen);
	if (!lc->usage ||
	    retention_parse(cfg->retention, &lc->retention, err, errlen) < 0 ||
	    parse_window(cfg->gc_window, &lc->win_start, &lc->win_end) < 0)
		goto fail;
	schedule(lc);
	if (start_threads(lc, err, errlen) < 0)
		goto fail;
	log_info("storage lifecycle started gc=%d interval=%llds window=%s "
		 "grace=%llds untagged=%d retention=%zu scrub=%d",
		 cfg->gc_enabled, (long long)cfg->gc_interval,
		 *cfg->gc_window ? cfg->gc_window : "-",
		 (long long)cfg->gc_graceperiod, cfg->gc_deleteuntagged,
		 retention_count(lc->retention), cfg->scrub_enabled);
	return lc;
fail:
	lifecycle_stop(lc);
	return NULL;
}

void lifecycle_stop(struct lifecycle *lc)
{
	if (!lc)
		return;
	pthread_mutex_lock(&lc->lock);
	lc->stopping = true;
	atomic_store(&lc->stop_flag, true);
	pthread_cond_broadcast(&lc->wake);
	pthread_cond_broadcast(&lc->done);
	pthread_mutex_unlock(&lc->lock);
	if (lc->maint_started)
		pthread_join(lc->maint_thread, NULL);
	if (lc->scrub_started)
		pthread_join(lc->scrub_thread, NULL);

	lease_drop(lc->gc.lease);
	lease_drop(lc->scrub.lease);
	json_decref(lc->gc.last);
	json_decref(lc->scrub.last);
	retention_free(lc->retention);
	usage_free(lc->usage);
	gc_guard_free(lc->guard);
	pthread_cond_destroy(&lc->done);
	pthread_cond_destroy(&lc->wake);
	pthread_mutex_destroy(&lc->lock);
	free(lc);
}

void lifecycle_on_change(struct lifecycle *lc,
			 void (*fn)(void *, const char *, const char *),
			 void *arg)
{
	pthread_mutex_lock(&lc->lock);
	lc->on_change = fn;
	lc->change_arg = arg;
	pthread_mutex_unlock(&lc->lock);
}

/* ---- hooks ---- */

void lifecycle_repo_writing(struct lifecycle *lc, const char *repo)
{
	if (lc)
		gc_guard_hold_repo(lc->guard, repo);
}

void lifecycle_blob_reading(struct lifecycle *lc, const struct digest *d)
{
	if (lc)
		gc_guard_hold_digest(lc->guard, d);
}

int lifecycle_blob_adding(struct lifecycle *lc, const char *repo,
			  const struct digest *d, uint64_t size,
			  struct reg_error *e)
{
	if (!lc)
		return 0;
	gc_guard_hold_repo(lc->guard, repo);
	gc_guard_hold_digest(lc->guard, d);
	return usage_check_quota(lc->usage, repo, d, size, e);
}

void lifecycle_blob_added(struct lifecycle *lc, const char *repo,
			  const struct digest *d, uint64_t size)
{
	if (lc)
		usage_note(lc->usage, repo, d, size);
}

int lifecycle_manifest_adding(struct lifecycle *lc, const char *repo,
			      const char *tag, const struct digest *d,
			      const struct manifest *m, size_t len,
			      struct reg_error *e)
{
	if (!lc)
		return 0;
	gc_guard_hold_repo(lc->guard, repo);
	if (tag)
		gc_guard_hold_tag(lc->guard, repo, tag);
	gc_guard_hold_digest(lc->guard, d);
	for (size_t i = 0; i < m->blobs_count; i++)
		gc_guard_hold_digest(lc->guard, &m->blobs[i].digest);
	for (size_t i = 0; i < m->children_count; i++)
		gc_guard_hold_digest(lc->guard, &m->children[i].digest);
	return usage_check_quota(lc->usage, repo, d, len, e);
}

void lifecycle_manifest_added(struct lifecycle *lc, const char *repo,
			      const struct digest *d, size_t len)
{
	if (lc)
		usage_note(lc->usage, repo, d, len);
}

void lifecycle_deleted(struct lifecycle *lc, const char *repo)
{
	if (!lc)
		return;
	pthread_mutex_lock(&lc->lock);
	if (!lc->usage_dirty) {
		lc->usage_dirty = now_seconds();
		pthread_cond_broadcast(&lc->wake);
	}
	pthread_mutex_unlock(&lc->lock);
}

struct usage *lifecycle_usage(struct lifecycle *lc)
{
	return lc ? lc->usage : NULL;
}

/* ---- administration ---- */

static int answer(struct buf *out, int status, json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT);

	buf_adds(out, text);
	free(text);
	json_decref(doc);
	return status;
}

static int fail(struct buf *out, int status, const char *code,
		const char *message)
{
	return answer(out, status,
		      json_pack("{s:[{s:s, s:s}]}", "errors", "code", code,
				"message", message));
}

/* The state of a job and its last report.  Lock held. */
static json_t *job_json(const struct job *j, bool scheduled, int64_t interval)
{
	json_t *doc = json_pack("{s:b, s:b, s:I}", "running", j->running,
				"scheduled", scheduled, "interval_seconds",
				(json_int_t)interval);

	time_field(doc, "next_run", scheduled ? j->next : 0);
	json_object_set_new(doc, "last_run",
			    j->last ? json_incref(j->last) : json_null());
	return doc;
}

static json_t *gc_state(struct lifecycle *lc)
{
	json_t *doc = job_json(&lc->gc, lc->gc.next != 0, lc->cfg->gc_interval);
	struct usage_total t;

	json_object_set_new(doc, "window",
			    *lc->cfg->gc_window
				    ? json_string(lc->cfg->gc_window)
				    : json_null());
	json_object_set_new(doc, "grace_period_seconds",
			    json_integer(lc->cfg->gc_graceperiod));
	usage_total(lc->usage, &t);
	json_object_set_new(doc, "reclaimable_bytes",
			    json_integer((json_int_t)t.reclaimable));
	return doc;
}

/* Whether j is running or about to.  Lock held. */
static bool job_busy(const struct job *j)
{
	return j->running || j->requested;
}

static int busy(struct buf *json)
{
	return fail(json, 409, "DENIED",
		    "a run is already in progress; see its state with GET");
}

/*
 * Starts a run of j and, when asked, waits for it.  Lock held.  lease,
 * when not NULL, passes to the run; it stays the caller's on 409.
 */
static int request_run(struct lifecycle *lc, struct job *j,
		       const struct lifecycle_request *rq, struct lease **lease,
		       struct buf *json)
{
	uint64_t mine;

	if (job_busy(j))
		return busy(json);
	j->lease = *lease;
	*lease = NULL;
	j->requested = true;
	j->dry_run = rq->dry_run;
	j->delete_untagged = rq->delete_untagged || lc->cfg->gc_deleteuntagged;
	mine = j->finished + 1;
	pthread_cond_broadcast(&lc->wake);
	if (!rq->wait)
		return answer(json, 202, json_pack("{s:b}", "accepted", 1));

	while (j->finished < mine && !lc->stopping)
		pthread_cond_wait(&lc->done, &lc->lock);
	if (j->finished < mine)
		return fail(json, 503, "UNAVAILABLE",
			    "the server is "
			    "stopping");
	return answer(json, 200, json_incref(j->last));
}

/*
 * Takes the lease a requested run of j needs, before answering, so that
 * a client learns at once when another instance holds it.  Returns 0
 * (with *l NULL when no lease is needed) or the status of the answer
 * written into json.
 */
static int request_lease(struct lifecycle *lc, struct job *j, bool is_gc,
			 const struct lifecycle_request *rq, struct lease **l,
			 struct buf *json)
{
	json_t *why = NULL, *err;
	bool running;

	if ((is_gc && rq->dry_run) || (!is_gc && lc->cfg->readonly))
		return 0;
	pthread_mutex_lock(&lc->lock);
	running = job_busy(j);
	pthread_mutex_unlock(&lc->lock);
	if (running)
		return busy(json);
	if (!take_lease(lc, is_gc ? GC_LEASE : SCRUB_LEASE,
			is_gc ? "requested collection" : "requested scrub", l,
			&why))
		return 0;

	if (!json_object_get(why, "holder")) {
		json_decref(why);
		return fail(json, 503, "UNAVAILABLE",
			    "cannot take the lease in the store; try again");
	}
	err = json_pack("{s:s, s:s, s:{s:O}}", "code", "DENIED", "message",
			"another berth instance is running one on this store; "
			"try again when it is done",
			"detail", "holder", json_object_get(why, "holder"));
	json_decref(why);
	return answer(json, 409, json_pack("{s:[o]}", "errors", err));
}

static int admin_job(struct lifecycle *lc, struct job *j, bool is_gc,
		     const struct lifecycle_request *rq, struct buf *json)
{
	bool post = !strcmp(rq->method, "POST");
	struct lease *lease = NULL;
	int status;

	if (post && lc->cfg->readonly && is_gc && !rq->dry_run)
		return fail(json, 403, "DENIED",
			    "storage is read-only; only "
			    "a dry run (dryrun=true) is possible");
	if (post) {
		status = request_lease(lc, j, is_gc, rq, &lease, json);
		if (status)
			return status;
	}
	pthread_mutex_lock(&lc->lock);
	if (post)
		status = request_run(lc, j, rq, &lease, json);
	else
		status = answer(json, 200,
				is_gc ? gc_state(lc)
				      : job_json(j, j->next != 0,
						 lc->cfg->scrub_interval));
	pthread_mutex_unlock(&lc->lock);
	lease_drop(lease);
	return status;
}

static int admin_usage(struct lifecycle *lc, const struct lifecycle_request *rq,
		       struct buf *json)
{
	char message[300];

	if (usage_json(lc->usage, rq->repository, json))
		return 200;
	snprintf(message, sizeof(message), "repository %s holds nothing",
		 rq->repository);
	return fail(json, 404, "NAME_UNKNOWN", message);
}

int lifecycle_admin(struct lifecycle *lc, const struct lifecycle_request *rq,
		    struct buf *json)
{
	bool get = !strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD");
	bool post = !strcmp(rq->method, "POST");
	bool is_gc = !strcmp(rq->what, "gc");
	bool is_scrub = !strcmp(rq->what, "scrub");

	if (!is_gc && !is_scrub && strcmp(rq->what, "usage"))
		return fail(json, 404, "NAME_UNKNOWN",
			    "no such administrative "
			    "resource; there are gc, scrub and usage");
	if (!get && !(post && (is_gc || is_scrub)))
		return fail(json, 405, "UNSUPPORTED",
			    "use GET, or POST to "
			    "start a collection or a scrub");
	if (is_gc)
		return admin_job(lc, &lc->gc, true, rq, json);
	if (is_scrub)
		return admin_job(lc, &lc->scrub, false, rq, json);
	return admin_usage(lc, rq, json);
}
