/*
 * usage.c - per-repository byte counts and quotas (usage.h).
 *
 * The counts live in one state object: a dmap numbering blob digests
 * with each blob's size, how many repositories hold it and which one
 * held it first, and per repository the set of blob numbers it holds
 * with running sums.  Adding a blob to a repository updates the sums in
 * constant time: when a blob gains its second holder, the first holder's
 * bytes move from exclusive to shared.  A scan builds a new state off
 * the lock, the pushes noted meanwhile are added to it, and it replaces
 * the old one.  The same numbers go to /metrics for the repositories
 * holding the most.
 */
#include "usage.h"
#include "acl.h"
#include "dmap.h"
#include "log.h"
#include "metrics.h"
#include "registry.h"
#include "scan.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct urepo {
	char *name;
	struct idset blobs;
	uint64_t bytes, shared, exclusive;
};

struct ublob {
	uint64_t size;
	uint32_t nrepos;
	uint32_t owner; /* the first repository holding it */
};

struct ustate {
	struct dmap *ids; /* blob digests */
	struct ublob *blobs;
	size_t blobs_cap;
	struct dmap *names; /* repository names, numbered as repos */
	struct urepo *repos;
	size_t nrepos, repos_cap;
	uint64_t total_bytes, held, reclaimable;
	size_t total_blobs, reclaimable_blobs;
	int64_t updated;
};

struct note {
	char *repo;
	struct digest d;
	uint64_t size;
};

struct quota {
	char **patterns; /* NULL-terminated */
	uint64_t limit;
};

struct usage {
	pthread_mutex_t lock;
	struct quota *quotas;
	size_t nquotas;
	struct ustate *cur;
	bool noting; /* a scan is in progress */
	struct note *notes;
	size_t nnotes, notes_cap;
};

/* ---- sizes ---- */

static const struct {
	const char *name;
	uint64_t mult;
} size_units[] = {
	{"", 1},
	{"b", 1},
	{"k", 1ULL << 10},
	{"kib", 1ULL << 10},
	{"kb", 1000ULL},
	{"m", 1ULL << 20},
	{"mib", 1ULL << 20},
	{"mb", 1000000ULL},
	{"g", 1ULL << 30},
	{"gib", 1ULL << 30},
	{"gb", 1000000000ULL},
	{"t", 1ULL << 40},
	{"tib", 1ULL << 40},
	{"tb", 1000000000000ULL},
};

int usage_parse_size(const char *s, uint64_t *bytes)
{
	char unit[8];
	char *end;
	double v;
	size_t n;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	while (*end == ' ')
		end++;
	n = strlen(end);
	if (errno || n >= sizeof(unit))
		return -1;
	for (size_t i = 0; i <= n; i++)
		unit[i] = (char)tolower((unsigned char)end[i]);

	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]);
	     i++) {
		double b = v * (double)size_units[i].mult;

		if (strcmp(unit, size_units[i].name))
			continue;
		if (b < 1 || b >= 1.8e19)
			return -1;
		*bytes = (uint64_t)b;
		return 0;
	}
	return -1;
}

void usage_format_size(uint64_t bytes, char out[32])
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(out, 32, "%llu B", (unsigned long long)bytes);
		return;
	}
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, 32, "%.1f %s", v, units[u]);
}

/* ---- quota rules ---- */

static int parse_limit(const json_t *v, struct quota *q, const char *at,
		       char *err, size_t errlen)
{
	char tmp[32];
	const char *s = json_string_value(v);

	if (json_is_integer(v)) {
		snprintf(tmp, sizeof(tmp), "%lld",
			 (long long)json_integer_value(v));
		s = tmp;
	}
	if (!s || usage_parse_size(s, &q->limit) < 0) {
		set_error(err, errlen,
			  "%s.limit: expected a size such as "
			  "10GiB or 500MB, got \"%s\"",
			  at, s ? s : "?");
		return -1;
	}
	return 0;
}

static int unknown_setting(const char *key, const char *at, char *err,
			   size_t errlen)
{
	set_error(err, errlen,
		  "%s.%s: unknown setting; expected "
		  "repositories or limit",
		  at, key);
	return -1;
}

static int parse_quota(const json_t *obj, size_t i, struct quota *q, char *err,
		       size_t errlen)
{
	char at[64];
	const char *key;
	json_t *v;

	snprintf(at, sizeof(at), "storage.maintenance.quotas[%zu]", i);
	if (!json_is_object(obj)) {
		set_error(err, errlen, "%s: expected a mapping", at);
		return -1;
	}
	json_object_foreach((json_t *)obj, key, v) {
		int rc;

		if (!strcmp(key, "repositories"))
			rc = acl_patterns_from_json(v, at, &q->patterns, err,
						    errlen);
		else if (!strcmp(key, "limit"))
			rc = parse_limit(v, q, at, err, errlen);
		else
			rc = unknown_setting(key, at, err, errlen);
		if (rc < 0)
			return -1;
	}
	if (!q->patterns || !q->limit) {
		set_error(err, errlen, "%s: needs repositories and limit", at);
		return -1;
	}
	return 0;
}

static void quotas_free(struct quota *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (char **p = q[i].patterns; p && *p; p++)
			free(*p);
		free(q[i].patterns);
	}
	free(q);
}

static int parse_quotas(const json_t *conf, struct quota **out, size_t *n,
			char *err, size_t errlen)
{
	size_t count = json_is_array(conf) ? json_array_size(conf) : 0;
	struct quota *q = xcalloc(count + 1, sizeof(*q));

	*out = NULL;
	*n = 0;
	if (conf && !json_is_null(conf) && !json_is_array(conf)) {
		free(q);
		set_error(err, errlen,
			  "storage.maintenance.quotas: "
			  "expected a list of rules");
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		if (parse_quota(json_array_get(conf, i), i, &q[i], err,
				errlen) < 0) {
			quotas_free(q, i + 1);
			return -1;
		}
	}
	*out = q;
	*n = count;
	return 0;
}

int usage_quota_check(const json_t *conf, char *err, size_t errlen)
{
	struct quota *q;
	size_t n;

	if (parse_quotas(conf, &q, &n, err, errlen) < 0)
		return -1;
	quotas_free(q, n);
	return 0;
}

/* The rule for repo, or NULL. */
static const struct quota *quota_for(const struct usage *u, const char *repo,
				     const char **pattern)
{
	for (size_t i = 0; i < u->nquotas; i++)
		for (char **p = u->quotas[i].patterns; *p; p++)
			if (acl_match(*p, repo)) {
				*pattern = *p;
				return &u->quotas[i];
			}
	return NULL;
}

/* ---- state ---- */

static struct ustate *state_new(void)
{
	struct ustate *s = xcalloc(1, sizeof(*s));

	s->ids = dmap_new();
	s->names = dmap_new();
	return s;
}

static void state_free(struct ustate *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nrepos; i++) {
		free(s->repos[i].name);
		idset_free(&s->repos[i].blobs);
	}
	free(s->repos);
	free(s->blobs);
	dmap_free(s->ids);
	dmap_free(s->names);
	free(s);
}

static struct urepo *state_repo(struct ustate *s, const char *name, bool create)
{
	struct digest key;
	uint32_t i;
	bool added;

	dmap_name_key("repo", name, &key);
	if (!create) {
		i = dmap_find(s->names, &key);
		return i == DMAP_NONE ? NULL : &s->repos[i];
	}
	i = dmap_add(s->names, &key, &added);
	if (added) {
		if (s->nrepos == s->repos_cap) {
			s->repos_cap = s->repos_cap ? 2 * s->repos_cap : 64;
			s->repos = xrealloc(s->repos,
					    s->repos_cap * sizeof(*s->repos));
		}
		memset(&s->repos[i], 0, sizeof(s->repos[i]));
		s->repos[i].name = xstrdup(name);
		s->nrepos++;
	}
	return &s->repos[i];
}

/*
 * The number of blob d, adding it when new.  A blob the last scan did
 * not see is new in the store too, so it counts in the total.
 */
static uint32_t state_blob(struct ustate *s, const struct digest *d,
			   uint64_t size)
{
	bool added;
	uint32_t id = dmap_add(s->ids, d, &added);

	if (id >= s->blobs_cap) {
		s->blobs_cap = s->blobs_cap ? 2 * s->blobs_cap : 1024;
		s->blobs = xrealloc(s->blobs, s->blobs_cap * sizeof(*s->blobs));
	}
	if (added) {
		s->blobs[id] = (struct ublob){size, 0, 0};
		s->total_bytes += size;
		s->total_blobs++;
	}
	return id;
}

/* Records that repository r now holds blob d of size bytes. */
static void state_add(struct ustate *s, struct urepo *r, const struct digest *d,
		      uint64_t size)
{
	uint32_t id = state_blob(s, d, size);
	struct ublob *b = &s->blobs[id];

	if (!idset_add(&r->blobs, id))
		return;
	r->bytes += b->size;
	if (b->nrepos == 0) {
		r->exclusive += b->size;
		b->owner = (uint32_t)(r - s->repos);
		s->held += b->size;
	} else {
		if (b->nrepos == 1) {
			s->repos[b->owner].exclusive -= b->size;
			s->repos[b->owner].shared += b->size;
		}
		r->shared += b->size;
	}
	b->nrepos++;
}

static void add_from_scan(struct ustate *st, struct urepo *r, struct scan *s,
			  uint32_t id)
{
	const struct scan_blob *b = scan_blob(s, id);
	struct digest d;

	if (!b->present)
		return;
	dmap_digest(s->digests, id, &d);
	state_add(st, r, &d, b->size);
}

/* Whether repository r holds the blob numbered id in scan s already. */
static bool holds(struct ustate *st, struct urepo *r, struct scan *s,
		  uint32_t id)
{
	struct digest d;
	uint32_t mine;

	dmap_digest(s->digests, id, &d);
	mine = dmap_find(st->ids, &d);
	return mine != DMAP_NONE && idset_has(&r->blobs, mine);
}

static void add_scanned_repo(struct ustate *st, struct scan *s,
			     struct scan_repo *sr, int64_t young)
{
	struct urepo *r = state_repo(st, sr->name, true);

	for (size_t m = 0; m < sr->nmanifests; m++) {
		const struct scan_manifest *sm = &sr->manifests[m];

		add_from_scan(st, r, s, sm->id);
		for (size_t k = 0; k < sm->nrefs; k++)
			add_from_scan(st, r, s, sm->refs[k]);
		for (size_t k = 0; k < sm->nchildren; k++)
			add_from_scan(st, r, s, sm->children[k]);
	}
	for (size_t j = 0; j < sr->nlayers; j++)
		if (!holds(st, r, s, sr->layers[j].id) &&
		    scan_layer_time(s, sr, j) >= young)
			add_from_scan(st, r, s, sr->layers[j].id);
}

static struct ustate *state_from_scan(struct scan *s, int64_t young)
{
	struct ustate *st = state_new();
	size_t n = dmap_count(s->digests);

	/* Held blobs count in the total as they are added; then the rest. */
	for (size_t i = 0; i < s->nrepos; i++)
		add_scanned_repo(st, s, &s->repos[i], young);
	for (uint32_t id = 0; id < n; id++) {
		const struct scan_blob *b = scan_blob(s, id);
		struct digest d;

		dmap_digest(s->digests, id, &d);
		if (b->present && dmap_find(st->ids, &d) == DMAP_NONE) {
			st->total_bytes += b->size;
			st->total_blobs++;
		}
	}
	st->updated = now_seconds();
	return st;
}

/* ---- the tracker ---- */

struct usage *usage_new(const json_t *conf, char *err, size_t errlen)
{
	struct usage *u = xcalloc(1, sizeof(*u));

	if (parse_quotas(conf, &u->quotas, &u->nquotas, err, errlen) < 0) {
		free(u);
		return NULL;
	}
	pthread_mutex_init(&u->lock, NULL);
	u->cur = state_new();
	if (metrics_add_collector(usage_metrics, u) != 0)
		log_warn("too many metrics collectors, repository bytes are "
			 "not exported");
	return u;
}

static void notes_clear(struct usage *u)
{
	for (size_t i = 0; i < u->nnotes; i++)
		free(u->notes[i].repo);
	u->nnotes = 0;
}

void usage_free(struct usage *u)
{
	if (!u)
		return;
	metrics_remove_collector(usage_metrics, u);
	notes_clear(u);
	free(u->notes);
	state_free(u->cur);
	quotas_free(u->quotas, u->nquotas);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

void usage_begin(struct usage *u)
{
	pthread_mutex_lock(&u->lock);
	notes_clear(u);
	u->noting = true;
	pthread_mutex_unlock(&u->lock);
}

void usage_update(struct usage *u, struct scan *s, int64_t young,
		  uint64_t reclaimable, size_t reclaimable_blobs)
{
	struct ustate *next = state_from_scan(s, young);
	struct ustate *old;

	next->reclaimable = reclaimable;
	next->reclaimable_blobs = reclaimable_blobs;

	pthread_mutex_lock(&u->lock);
	for (size_t i = 0; i < u->nnotes; i++) {
		struct note *n = &u->notes[i];

		state_add(next, state_repo(next, n->repo, true), &n->d,
			  n->size);
	}
	notes_clear(u);
	u->noting = false;
	old = u->cur;
	u->cur = next;
	pthread_mutex_unlock(&u->lock);
	state_free(old);
}

void usage_note(struct usage *u, const char *repo, const struct digest *d,
		uint64_t size)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	state_add(u->cur, state_repo(u->cur, repo, true), d, size);
	if (u->noting) {
		if (u->nnotes == u->notes_cap) {
			u->notes_cap = u->notes_cap ? 2 * u->notes_cap : 64;
			u->notes = xrealloc(u->notes,
					    u->notes_cap * sizeof(*u->notes));
		}
		u->notes[u->nnotes++] = (struct note){xstrdup(repo), *d, size};
	}
	pthread_mutex_unlock(&u->lock);
}

static int deny(struct reg_error *e, const char *repo, uint64_t holds,
		uint64_t adds, uint64_t limit, const char *pattern)
{
	char h[32], a[32], l[32];

	usage_format_size(holds, h);
	usage_format_size(adds, a);
	usage_format_size(limit, l);
	e->code = REG_DENIED;
	snprintf(e->message, sizeof(e->message),
		 "quota exceeded: repository %s holds %s and this push adds "
		 "%s, over its quota of %s (storage.maintenance.quotas, %s)",
		 repo, h, a, l, pattern);
	log_info("push refused over quota repo=%s holds=%llu adds=%llu "
		 "limit=%llu",
		 repo, (unsigned long long)holds, (unsigned long long)adds,
		 (unsigned long long)limit);
	return -1;
}

int usage_check_quota(struct usage *u, const char *repo, const struct digest *d,
		      uint64_t size, struct reg_error *e)
{
	const struct quota *q;
	const char *pattern = NULL;
	struct urepo *r;
	uint64_t holds = 0;
	bool has = false;

	if (!u || !(q = quota_for(u, repo, &pattern)))
		return 0;

	pthread_mutex_lock(&u->lock);
	r = state_repo(u->cur, repo, false);
	if (r) {
		uint32_t id = dmap_find(u->cur->ids, d);

		holds = r->bytes;
		has = id != DMAP_NONE && idset_has(&r->blobs, id);
	}
	pthread_mutex_unlock(&u->lock);

	if (has || holds + size <= q->limit)
		return 0;
	return deny(e, repo, holds, size, q->limit, pattern);
}

static void repo_info(const struct usage *u, const struct urepo *r,
		      struct usage_repo *out)
{
	const char *pattern;
	const struct quota *q = quota_for(u, r->name, &pattern);

	out->bytes = r->bytes;
	out->shared = r->shared;
	out->exclusive = r->exclusive;
	out->blobs = r->blobs.count;
	out->quota = q ? q->limit : 0;
}

bool usage_repo(struct usage *u, const char *repo, struct usage_repo *out)
{
	struct urepo *r;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&u->lock);
	r = state_repo(u->cur, repo, false);
	if (r)
		repo_info(u, r, out);
	pthread_mutex_unlock(&u->lock);
	return r != NULL;
}

void usage_total(struct usage *u, struct usage_total *out)
{
	struct ustate *s;

	pthread_mutex_lock(&u->lock);
	s = u->cur;
	out->bytes = s->total_bytes;
	out->blobs = s->total_blobs;
	out->held = s->held;
	out->reclaimable = s->reclaimable;
	out->reclaimable_blobs = s->reclaimable_blobs;
	out->repositories = s->nrepos;
	out->updated = s->updated;
	pthread_mutex_unlock(&u->lock);
}

/* ---- JSON ---- */

static json_t *repo_json(const struct usage *u, const struct urepo *r)
{
	struct usage_repo info;
	json_t *o;

	repo_info(u, r, &info);
	o = json_pack("{s:s, s:I, s:I, s:I, s:I}", "name", r->name, "bytes",
		      (json_int_t)info.bytes, "shared_bytes",
		      (json_int_t)info.shared, "exclusive_bytes",
		      (json_int_t)info.exclusive, "blobs",
		      (json_int_t)info.blobs);
	json_object_set_new(o, "quota_bytes",
			    info.quota ? json_integer((json_int_t)info.quota)
				       : json_null());
	return o;
}

static json_t *total_json(const struct ustate *s)
{
	char when[32];
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "bytes",
			      (json_int_t)s->total_bytes, "blobs",
			      (json_int_t)s->total_blobs, "held_bytes",
			      (json_int_t)s->held, "reclaimable_bytes",
			      (json_int_t)s->reclaimable, "reclaimable_blobs",
			      (json_int_t)s->reclaimable_blobs, "repositories",
			      (json_int_t)s->nrepos);

	format_rfc3339(s->updated, when);
	json_object_set_new(o, "updated",
			    s->updated ? json_string(when) : json_null());
	return o;
}

static int by_name(const void *a, const void *b)
{
	const struct urepo *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static json_t *repos_json(const struct usage *u, const struct ustate *s)
{
	const struct urepo **order = xcalloc(s->nrepos + 1, sizeof(*order));
	json_t *list = json_array();

	for (size_t i = 0; i < s->nrepos; i++)
		order[i] = &s->repos[i];
	qsort(order, s->nrepos, sizeof(*order), by_name);
	for (size_t i = 0; i < s->nrepos; i++)
		json_array_append_new(list, repo_json(u, order[i]));
	free(order);
	return list;
}

bool usage_json(struct usage *u, const char *repo, struct buf *out)
{
	json_t *doc = NULL;
	struct urepo *r;
	char *text;

	pthread_mutex_lock(&u->lock);
	if (!repo) {
		doc = json_pack("{s:o, s:o}", "total", total_json(u->cur),
				"repositories", repos_json(u, u->cur));
	} else if ((r = state_repo(u->cur, repo, false))) {
		doc = repo_json(u, r);
	}
	pthread_mutex_unlock(&u->lock);
	if (!doc)
		return false;

	text = json_dumps(doc, JSON_COMPACT);
	buf_adds(out, text);
	free(text);
	json_decref(doc);
	return true;
}

/* ---- metrics ---- */

enum repo_number { HELD, EXCLUSIVE, SHARED };

/* The per-repository families: name, help, which number. */
static const struct {
	const char *name;
	const char *help;
	enum repo_number which;
} repo_families[] = {
	{"berth_repository_bytes", "Bytes of blobs a repository holds.", HELD},
	{"berth_repository_exclusive_bytes",
	 "Bytes of blobs only this repository holds: what deleting it "
	 "would free.",
	 EXCLUSIVE},
	{"berth_repository_shared_bytes",
	 "Bytes of blobs this repository holds that others hold too.", SHARED},
};

static uint64_t repo_number(const struct urepo *r, enum repo_number which)
{
	switch (which) {
	case EXCLUSIVE:
		return r->exclusive;
	case SHARED:
		return r->shared;
	default:
		return r->bytes;
	}
}

/* Most bytes first; equal ones by name, so scrapes list them stably. */
static int by_bytes(const void *a, const void *b)
{
	const struct urepo *const *x = a, *const *y = b;

	if ((*x)->bytes != (*y)->bytes)
		return (*x)->bytes < (*y)->bytes ? 1 : -1;
	return strcmp((*x)->name, (*y)->name);
}

/*
 * The repositories holding any bytes, most first, into a new array the
 * caller frees; *n is how many there are.  Lock held.
 */
static const struct urepo **repos_by_bytes(const struct ustate *s, size_t *n)
{
	const struct urepo **order = xcalloc(s->nrepos + 1, sizeof(*order));

	*n = 0;
	for (size_t i = 0; i < s->nrepos; i++)
		if (s->repos[i].bytes)
			order[(*n)++] = &s->repos[i];
	qsort(order, *n, sizeof(*order), by_bytes);
	return order;
}

static void render_repo_family(struct buf *out, size_t family,
			       const struct urepo **order, size_t n)
{
	const char *name = repo_families[family].name;

	metrics_family(out, name, "gauge", repo_families[family].help);
	for (size_t i = 0; i < n; i++) {
		uint64_t v = repo_number(order[i], repo_families[family].which);

		buf_addf(out, "%s{repository=\"", name);
		metrics_label_value(out, order[i]->name);
		buf_addf(out, "\"} %llu\n", (unsigned long long)v);
	}
}

static void render_totals(struct buf *out, const struct ustate *s, size_t repos)
{
	metrics_family(out, "berth_repositories", "gauge",
		       "Repositories holding blobs, named in the "
		       "berth_repository_* series or not.");
	buf_addf(out, "berth_repositories %zu\n", repos);
	metrics_family(out, "berth_storage_held_bytes", "gauge",
		       "Bytes of blobs some repository holds.");
	buf_addf(out, "berth_storage_held_bytes %llu\n",
		 (unsigned long long)s->held);
	metrics_family(out, "berth_storage_reclaimable_bytes", "gauge",
		       "Bytes a collection would free, as of the last scan.");
	buf_addf(out, "berth_storage_reclaimable_bytes %llu\n",
		 (unsigned long long)s->reclaimable);
	metrics_family(out, "berth_usage_scanned_timestamp_seconds", "gauge",
		       "When the store was last scanned for usage.");
	buf_addf(out, "berth_usage_scanned_timestamp_seconds %lld\n",
		 (long long)s->updated);
}

void usage_metrics(void *arg, struct buf *out)
{
	struct usage *u = arg;
	const struct urepo **order;
	size_t n;

	/* Before the first scan only the pushes since start are known,
	 * which would read as most of the store missing.  Left out. */
	pthread_mutex_lock(&u->lock);
	if (!u->cur->updated) {
		pthread_mutex_unlock(&u->lock);
		return;
	}
	order = repos_by_bytes(u->cur, &n);
	render_totals(out, u->cur, n);
	for (size_t f = 0; f < sizeof(repo_families) / sizeof(repo_families[0]);
	     f++)
		render_repo_family(out, f, order,
				   n < USAGE_METRICS_REPOS
					   ? n
					   : USAGE_METRICS_REPOS);
	pthread_mutex_unlock(&u->lock);
	free(order);
}
