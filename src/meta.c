/*
 * meta.c - summaries of manifests for listings, cached by digest.
 *
 * Working out a summary reads the manifest, and for an image its config
 * (for the creation time and platform); for an index, the summary of
 * each child, which goes through the cache too, so images shared by
 * several indexes are read once.
 *
 * The cache is a chained hash table plus a least-recently-used list,
 * behind one mutex held only for lookups and bookkeeping, never for
 * storage reads.  Each entry is reference-counted: the table holds one
 * reference and every caller of meta_get another, so an entry evicted
 * while a request still reads it is freed when that request is done.
 */
#include "meta.h"
#include "layout.h"
#include "log.h"
#include "manifest.h"
#include "registry.h"
#include "store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

/* Nested indexes deeper than this are not followed. */
#define META_DEPTH_MAX 3

struct entry {
	struct meta m;		     /* first, so a meta is its entry */
	unsigned refs;		     /* under the cache lock */
	size_t cost;		     /* estimated bytes */
	bool cached;		     /* still in the table */
	struct entry *next;	     /* hash chain */
	struct entry *lprev, *lnext; /* LRU list, newest first */
	struct buf strings;	     /* os, arch, media types... */
	struct meta_platform *platforms;
	struct meta_blob *blobs;
};

struct meta_cache {
	struct store *st;
	pthread_mutex_t lock;
	struct entry **buckets;
	size_t nbuckets;
	size_t count;
	size_t bytes;
	size_t max_bytes;
	struct entry lru; /* sentinel: lnext newest, lprev oldest */
};

bool meta_is_image_config(const char *media_type)
{
	return media_type && (!strcmp(media_type, MT_OCI_CONFIG) ||
			      !strcmp(media_type, MT_DOCKER_CONFIG));
}

/* ---- time ---- */

static int digits(const char *s, int n, int *out)
{
	*out = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*out = *out * 10 + (s[i] - '0');
	}
	return 0;
}

/* Parses "Z", "+hh:mm" or "-hh:mm" into seconds east of UTC. */
static int parse_zone(const char *p, int64_t *offset)
{
	int hh, mm;

	if ((*p == 'Z' || *p == 'z') && !p[1]) {
		*offset = 0;
		return 0;
	}
	if ((*p != '+' && *p != '-') || strlen(p) != 6 || p[3] != ':' ||
	    digits(p + 1, 2, &hh) || digits(p + 4, 2, &mm) || hh > 23 ||
	    mm > 59)
		return -1;
	*offset = (int64_t)(hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
	return 0;
}

int meta_parse_time(const char *s, int64_t *out)
{
	struct tm tm = {0};
	int64_t offset;
	const char *p;
	time_t t;

	if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
	    s[16] != ':' || digits(s, 4, &tm.tm_year) ||
	    digits(s + 5, 2, &tm.tm_mon) || digits(s + 8, 2, &tm.tm_mday) ||
	    digits(s + 11, 2, &tm.tm_hour) || digits(s + 14, 2, &tm.tm_min) ||
	    digits(s + 17, 2, &tm.tm_sec))
		return -1;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return -1;

	p = s + 19;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (parse_zone(p, &offset))
		return -1;

	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	*out = (int64_t)t - offset;
	return 0;
}

/* ---- reading ---- */

json_t *meta_load_json(struct store *st, const struct digest *d, size_t max,
		       struct buf *raw)
{
	struct buf b = BUF_INIT;
	char *key = layout_blob_data(d);
	int err = st->ops->get(st, key, max, &b);
	json_t *j = NULL;

	free(key);
	if (!err) {
		j = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
		if (raw && j)
			buf_add(raw, b.data ? b.data : "", b.len);
	}
	buf_free(&b);
	return j;
}

/* ---- building one summary ---- */

/* Strings of an entry live in one buffer; offsets become pointers last. */
static size_t add_string(struct entry *e, const char *s)
{
	size_t at = e->strings.len;

	buf_add(&e->strings, s ? s : "", strlen(s ? s : "") + 1);
	return at;
}

static const char *json_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

static uint64_t blob_key(const struct digest *d)
{
	uint64_t k = 0;

	for (int i = 0; i < 16 && d->hex[i]; i++) {
		char c = d->hex[i];

		k = k << 4 | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
	}
	return k;
}

static int cmp_blobs(const void *a, const void *b)
{
	const struct meta_blob *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

/* Sorts and removes repeated blobs; returns their total size. */
static uint64_t blobs_distinct(struct meta_blob *v, size_t *n)
{
	uint64_t total = 0;
	size_t k = 0;

	if (*n > 1)
		qsort(v, *n, sizeof(*v), cmp_blobs);
	for (size_t i = 0; i < *n; i++) {
		if (k && v[k - 1].key == v[i].key)
			continue;
		v[k++] = v[i];
		total += v[i].size;
	}
	*n = k;
	return total;
}

static void blobs_add(struct entry *e, size_t *cap, uint64_t key, uint64_t size)
{
	if (e->m.nblobs == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		e->blobs = xrealloc(e->blobs, *cap * sizeof(*e->blobs));
	}
	e->blobs[e->m.nblobs].key = key;
	e->blobs[e->m.nblobs].size = size;
	e->m.nblobs++;
}

/* Pending strings of a platform, as offsets into the entry's buffer. */
struct pending_platform {
	size_t os, arch, variant;
	struct digest digest;
	uint64_t size;
	int64_t created;
};

struct build {
	struct entry *e;
	struct pending_platform *plats;
	size_t nplats;
	size_t blobs_cap;
	size_t media_type, artifact_type;
	bool has_artifact_type;
};

static void add_platform(struct build *b, const char *os, const char *arch,
			 const char *variant, const struct digest *d,
			 uint64_t size, int64_t created)
{
	struct pending_platform *p;

	b->plats = xrealloc(b->plats, (b->nplats + 1) * sizeof(*b->plats));
	p = &b->plats[b->nplats++];
	p->os = add_string(b->e, os);
	p->arch = add_string(b->e, arch);
	p->variant = add_string(b->e, variant);
	p->digest = *d;
	p->size = size;
	p->created = created;
}

static void image_config(struct meta_cache *mc, struct build *b,
			 const struct manifest_ref *config)
{
	const char *created;
	json_t *cfg =
		meta_load_json(mc->st, &config->digest, META_CONFIG_MAX, NULL);
	int64_t t = META_TIME_UNKNOWN;

	if (!cfg)
		return;
	created = json_string_value(json_object_get(cfg, "created"));
	if (created && meta_parse_time(created, &t))
		t = META_TIME_UNKNOWN;
	b->e->m.created = t;
	add_platform(b, json_str(cfg, "os"), json_str(cfg, "architecture"),
		     json_str(cfg, "variant"), &b->e->m.digest, b->e->m.size,
		     t);
	json_decref(cfg);
}

/* An artifact's own creation time, from the annotation if there is one. */
static void artifact_created(struct build *b, const struct manifest *m)
{
	json_t *ann;
	const char *s;
	int64_t t;

	if (!m->annotations_json)
		return;
	ann = json_loads(m->annotations_json, 0, NULL);
	s = json_string_value(
		json_object_get(ann, "org.opencontainers.image.created"));
	if (s && !meta_parse_time(s, &t))
		b->e->m.created = t;
	json_decref(ann);
}

static void build_image(struct meta_cache *mc, struct build *b,
			const struct manifest *m)
{
	const struct manifest_ref *config = m->blobs_count ? &m->blobs[0]
							   : NULL;

	b->e->m.kind = META_IMAGE;
	for (size_t i = 0; i < m->blobs_count; i++)
		blobs_add(b->e, &b->blobs_cap, blob_key(&m->blobs[i].digest),
			  m->blobs[i].size > 0 ? (uint64_t)m->blobs[i].size
					       : 0);
	b->e->m.size = blobs_distinct(b->e->blobs, &b->e->m.nblobs);

	if (config && meta_is_image_config(config->media_type) &&
	    !m->has_subject) {
		image_config(mc, b, config);
		if (m->artifact_type && meta_is_image_config(m->artifact_type))
			return;
	} else {
		artifact_created(b, m);
	}
	if (m->artifact_type) {
		b->artifact_type = add_string(b->e, m->artifact_type);
		b->has_artifact_type = true;
	}
}

static const struct meta *meta_get_depth(struct meta_cache *mc,
					 const struct digest *d, int depth);

/* Buildx stores provenance and SBOMs as "unknown/unknown" children. */
static bool is_attestation(json_t *desc)
{
	json_t *ann = json_object_get(desc, "annotations");
	const char *type = json_string_value(
		json_object_get(ann, "vnd.docker.reference.type"));
	json_t *plat = json_object_get(desc, "platform");

	if (type && !strcmp(type, "attestation-manifest"))
		return true;
	return plat && !strcmp(json_str(plat, "os"), "unknown");
}

/* Adds one child of an index: its blobs, and its platforms. */
static void index_child(struct meta_cache *mc, struct build *b, json_t *desc,
			const struct meta *c)
{
	json_t *plat = json_object_get(desc, "platform");

	for (size_t i = 0; i < c->nblobs; i++)
		blobs_add(b->e, &b->blobs_cap, c->blobs[i].key,
			  c->blobs[i].size);
	if (is_attestation(desc))
		return;
	if (c->kind == META_INDEX || !plat) {
		for (size_t i = 0; i < c->nplatforms; i++) {
			const struct meta_platform *p = &c->platforms[i];

			add_platform(b, p->os, p->arch, p->variant, &p->digest,
				     p->size, p->created);
		}
		return;
	}
	add_platform(b, json_str(plat, "os"), json_str(plat, "architecture"),
		     json_str(plat, "variant"), &c->digest, c->size,
		     c->created);
}

static void build_index(struct meta_cache *mc, struct build *b,
			const struct manifest *m, json_t *doc, int depth)
{
	json_t *list = json_object_get(doc, "manifests");
	size_t n = json_array_size(list);

	b->e->m.kind = META_INDEX;
	if (n > META_CHILDREN_MAX)
		n = META_CHILDREN_MAX;
	for (size_t i = 0; i < n && depth < META_DEPTH_MAX; i++) {
		json_t *desc = json_array_get(list, i);
		const struct meta *c;
		struct digest d;

		if (digest_parse(json_str(desc, "digest"), &d))
			continue;
		c = meta_get_depth(mc, &d, depth + 1);
		if (!c)
			continue;
		index_child(mc, b, desc, c);
		meta_release(mc, c);
	}
	b->e->m.size = blobs_distinct(b->e->blobs, &b->e->m.nblobs);
	for (size_t i = 0; i < b->nplats; i++)
		if (b->plats[i].created != META_TIME_UNKNOWN &&
		    (b->e->m.created == META_TIME_UNKNOWN ||
		     b->plats[i].created > b->e->m.created))
			b->e->m.created = b->plats[i].created;
	if (m->artifact_type) {
		b->artifact_type = add_string(b->e, m->artifact_type);
		b->has_artifact_type = true;
	}
}

/* Turns the offsets into pointers, now that the strings stay put. */
static void finish(struct build *b)
{
	struct entry *e = b->e;
	const char *base = e->strings.data;

	e->platforms = b->nplats ? xcalloc(b->nplats, sizeof(*e->platforms))
				 : NULL;
	for (size_t i = 0; i < b->nplats; i++) {
		e->platforms[i].os = base + b->plats[i].os;
		e->platforms[i].arch = base + b->plats[i].arch;
		e->platforms[i].variant = base + b->plats[i].variant;
		e->platforms[i].digest = b->plats[i].digest;
		e->platforms[i].size = b->plats[i].size;
		e->platforms[i].created = b->plats[i].created;
	}
	e->m.platforms = e->platforms;
	e->m.nplatforms = b->nplats;
	e->m.blobs = e->blobs;
	e->m.media_type = base + b->media_type;
	e->m.artifact_type = b->has_artifact_type ? base + b->artifact_type
						  : NULL;
	e->cost = sizeof(*e) + e->strings.cap +
		  b->nplats * sizeof(*e->platforms) +
		  e->m.nblobs * sizeof(*e->blobs);
	free(b->plats);
}

static void entry_free(struct entry *e)
{
	buf_free(&e->strings);
	free(e->platforms);
	free(e->blobs);
	free(e);
}

/* Reads and summarises manifest d; NULL when it is not one. */
static struct entry *compute(struct meta_cache *mc, const struct digest *d,
			     int depth)
{
	struct build b = {0};
	struct buf raw = BUF_INIT;
	json_t *doc = meta_load_json(mc->st, d, MANIFEST_MAX_BYTES, &raw);
	struct manifest *m = NULL;
	char why[256];

	if (doc)
		m = manifest_parse(raw.data, raw.len, NULL, why, sizeof(why));
	if (!m) {
		log_debug("no summary for manifest digest=%s:%s",
			  digest_alg_name(d->alg), d->hex);
		json_decref(doc);
		buf_free(&raw);
		return NULL;
	}

	b.e = xcalloc(1, sizeof(*b.e));
	b.e->m.digest = *d;
	b.e->m.created = META_TIME_UNKNOWN;
	b.e->m.has_subject = m->has_subject;
	buf_grow(&b.e->strings, 256);
	b.media_type = add_string(b.e, m->media_type);
	if (m->kind == MANIFEST_INDEX)
		build_index(mc, &b, m, doc, depth);
	else
		build_image(mc, &b, m);
	finish(&b);

	manifest_free(m);
	json_decref(doc);
	buf_free(&raw);
	return b.e;
}

/* ---- the cache ---- */

struct meta_cache *meta_cache_new(struct store *st, size_t max_bytes)
{
	struct meta_cache *mc = xcalloc(1, sizeof(*mc));

	mc->st = st;
	mc->max_bytes = max_bytes;
	mc->nbuckets = 1024;
	mc->buckets = xcalloc(mc->nbuckets, sizeof(*mc->buckets));
	mc->lru.lnext = mc->lru.lprev = &mc->lru;
	pthread_mutex_init(&mc->lock, NULL);
	return mc;
}

void meta_cache_free(struct meta_cache *mc)
{
	if (!mc)
		return;
	for (size_t i = 0; i < mc->nbuckets; i++) {
		struct entry *e = mc->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			entry_free(e);
		}
	}
	free(mc->buckets);
	pthread_mutex_destroy(&mc->lock);
	free(mc);
}

static size_t bucket_of(const struct meta_cache *mc, const struct digest *d)
{
	return (size_t)(blob_key(d) ^ (uint64_t)d->alg) & (mc->nbuckets - 1);
}

static void lru_unlink(struct entry *e)
{
	e->lprev->lnext = e->lnext;
	e->lnext->lprev = e->lprev;
}

static void lru_push(struct meta_cache *mc, struct entry *e)
{
	e->lnext = mc->lru.lnext;
	e->lprev = &mc->lru;
	mc->lru.lnext->lprev = e;
	mc->lru.lnext = e;
}

/* Finds d in the table; the caller holds the lock. */
static struct entry *find(struct meta_cache *mc, const struct digest *d)
{
	struct entry *e = mc->buckets[bucket_of(mc, d)];

	while (e && !digest_equal(&e->m.digest, d))
		e = e->next;
	return e;
}

/* Drops one reference; the caller holds the lock. */
static void unref(struct entry *e)
{
	if (--e->refs == 0)
		entry_free(e);
}

/* Takes e out of the table and the list; the caller holds the lock. */
static void evict(struct meta_cache *mc, struct entry *e)
{
	struct entry **link = &mc->buckets[bucket_of(mc, &e->m.digest)];

	while (*link != e)
		link = &(*link)->next;
	*link = e->next;
	lru_unlink(e);
	e->cached = false;
	mc->count--;
	mc->bytes -= e->cost;
	unref(e);
}

/* Doubles the buckets when chains grow long; under the lock. */
static void maybe_grow(struct meta_cache *mc)
{
	struct entry **old = mc->buckets;
	size_t n = mc->nbuckets;

	if (mc->count < 2 * n)
		return;
	mc->nbuckets = 2 * n;
	mc->buckets = xcalloc(mc->nbuckets, sizeof(*mc->buckets));
	for (size_t i = 0; i < n; i++) {
		struct entry *e = old[i], *next;

		for (; e; e = next) {
			size_t b = bucket_of(mc, &e->m.digest);

			next = e->next;
			e->next = mc->buckets[b];
			mc->buckets[b] = e;
		}
	}
	free(old);
}

/* Adds a computed entry, or returns the one another thread added. */
static struct entry *insert(struct meta_cache *mc, struct entry *fresh)
{
	struct entry *e = find(mc, &fresh->m.digest);
	size_t b;

	if (e) {
		entry_free(fresh);
		lru_unlink(e);
		lru_push(mc, e);
		e->refs++;
		return e;
	}
	b = bucket_of(mc, &fresh->m.digest);
	fresh->next = mc->buckets[b];
	mc->buckets[b] = fresh;
	fresh->refs = 2; /* the table's and the caller's */
	fresh->cached = true;
	lru_push(mc, fresh);
	mc->count++;
	mc->bytes += fresh->cost;
	while (mc->bytes > mc->max_bytes && mc->lru.lprev != fresh)
		evict(mc, mc->lru.lprev);
	maybe_grow(mc);
	return fresh;
}

static const struct meta *meta_get_depth(struct meta_cache *mc,
					 const struct digest *d, int depth)
{
	struct entry *e;

	pthread_mutex_lock(&mc->lock);
	e = find(mc, d);
	if (e) {
		lru_unlink(e);
		lru_push(mc, e);
		e->refs++;
	}
	pthread_mutex_unlock(&mc->lock);
	if (e)
		return &e->m;

	e = compute(mc, d, depth);
	if (!e)
		return NULL;
	pthread_mutex_lock(&mc->lock);
	e = insert(mc, e);
	pthread_mutex_unlock(&mc->lock);
	return &e->m;
}

const struct meta *meta_get(struct meta_cache *mc, const struct digest *d)
{
	return meta_get_depth(mc, d, 0);
}

void meta_release(struct meta_cache *mc, const struct meta *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&mc->lock);
	unref((struct entry *)m);
	pthread_mutex_unlock(&mc->lock);
}

void meta_cache_usage(struct meta_cache *mc, size_t *entries, size_t *bytes)
{
	pthread_mutex_lock(&mc->lock);
	*entries = mc->count;
	*bytes = mc->bytes;
	pthread_mutex_unlock(&mc->lock);
}

bool meta_cache_nearly_full(struct meta_cache *mc)
{
	bool full;

	pthread_mutex_lock(&mc->lock);
	full = mc->bytes >= mc->max_bytes / 5 * 4;
	pthread_mutex_unlock(&mc->lock);
	return full;
}
