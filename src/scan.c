/*
 * scan.c - walks registry:2's tree (layout.h) and records it (scan.h).
 *
 * Two walks.  The blob walk lists blobs/<alg>/<2 hex>/<hex>/ and stats
 * each data file.  The repository walk descends repositories/ through
 * every directory whose name does not start with '_', as registry:2's
 * catalog does; a directory holding _manifests, _layers, _uploads or
 * _referrers is a repository, and may also hold nested repositories.
 *
 * A tag's link is read for its content.  Revision, layer and referrer
 * links are taken to name the digest their directory is named after,
 * which is what berth and registry:2 always write, so that the walk
 * needs no system call per link.  Only "not found" is forgiven during
 * the walk, because concurrent deletes make things vanish between a
 * listing and a read.
 */
#include "scan.h"
#include "layout.h"
#include "mrefs.h"
#include "log.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Manifests are at most 4 MiB when pushed; older stores may hold more. */
#define SCAN_MANIFEST_MAX (64 * 1024 * 1024)
#define SCAN_LINK_MAX 256
/* Threads reading repositories, besides the caller. */
#define SCAN_THREADS 3

static const char *const scan_algs[] = {"sha256", "sha512"};
#define NALGS 2

struct names {
	char **v;
	bool *is_dir;
	size_t n, cap;
};

struct walker {
	struct scan *s;
	struct store *st;
	int err;   /* first error that is not ENOENT */
	bool tags; /* read tags */
};

/* ---- small helpers ---- */

/* Cuts the last component off a key in place and returns it. */
static char *dir_of(char *key)
{
	*strrchr(key, '/') = '\0';
	return key;
}

static int on_name(void *arg, const char *name, bool is_dir)
{
	struct names *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
		l->is_dir = xrealloc(l->is_dir, l->cap * sizeof(*l->is_dir));
	}
	l->v[l->n] = xstrdup(name);
	l->is_dir[l->n++] = is_dir;
	return 0;
}

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->is_dir);
	memset(l, 0, sizeof(*l));
}

/* Records a store error; "not found" means something vanished. */
static bool failed(struct walker *w, int err)
{
	if (err && err != -ENOENT && !w->err) {
		log_error("storage scan failed err=\"%s\"",
			  store_strerror(err));
		w->err = err;
	}
	return w->err != 0;
}

/* Lists key into l; a missing key is an empty list. */
static int list_names(struct walker *w, const char *key, struct names *l)
{
	int err = w->st->ops->list(w->st, key, on_name, l);

	failed(w, err);
	return err == -ENOENT ? 0 : err;
}

static void *grow(void *v, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return v;
	*cap = *cap ? 2 * *cap : 8;
	return xrealloc(v, *cap * size);
}

/* Numbers k, making room for facts about it.  Any thread may call it. */
static uint32_t scan_key_id(struct scan *s, const struct dmap_key *k)
{
	uint32_t id;

	pthread_mutex_lock(&s->id_lock);
	id = dmap_add_key(s->digests, k, NULL);

	if (id >= s->blobs_cap) {
		size_t old = s->blobs_cap;

		s->blobs_cap = old ? 2 * old : 1024;
		s->blobs = xrealloc(s->blobs, s->blobs_cap * sizeof(*s->blobs));
		memset(s->blobs + old, 0,
		       (s->blobs_cap - old) * sizeof(*s->blobs));
	}
	pthread_mutex_unlock(&s->id_lock);
	return id;
}

static uint32_t scan_id(struct scan *s, const struct digest *d)
{
	struct dmap_key k;

	dmap_key_from_hex(d->alg, d->hex, strlen(d->hex), &k);
	return scan_key_id(s, &k);
}

static enum digest_alg alg_of(const char *name)
{
	return name[3] == '5' ? DIGEST_SHA512 : DIGEST_SHA256;
}

/*
 * Packs the digest a directory name stands for; alg is one of
 * scan_algs.  Called for every name the walk lists, so it goes straight
 * to the packed form a dmap keeps.
 */
static bool name_key(const char *alg, const char *hex, struct dmap_key *k)
{
	return dmap_key_from_hex(alg_of(alg), hex, strlen(hex), k);
}

/* Reads the digest in the link at key: 0, -ENOENT, -EINVAL or an error. */
static int read_link(struct walker *w, const char *key, struct digest *d)
{
	struct buf b = BUF_INIT;
	int err = w->st->ops->get(w->st, key, SCAN_LINK_MAX, &b);

	if (err == -EFBIG || (!err && digest_parse(b.data ? b.data : "", d)))
		err = -EINVAL;
	buf_free(&b);
	return err;
}

/* ---- blobs ---- */

/*
 * The blob walk runs on a thread of its own beside the repository walk,
 * collecting digests into a list that is numbered afterwards, so the
 * two share nothing while they run.
 */
struct blob_walk {
	struct walker w; /* w.s is NULL: the scan is not touched */
	struct dmap_key *found;
	size_t n, cap;
};

static void list_blob(struct blob_walk *b, const char *alg, const char *hex)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 4096;
		b->found = xrealloc(b->found, b->cap * sizeof(*b->found));
	}
	if (name_key(alg, hex, &b->found[b->n]))
		b->n++;
	else
		log_debug("not a blob directory, ignored alg=%s name=%s", alg,
			  hex);
}

static void *scan_blobs(void *arg)
{
	struct blob_walk *b = arg;
	struct walker *w = &b->w;

	for (size_t a = 0; a < NALGS && !w->err; a++) {
		char *top = xasprintf("%s/blobs/%s", LAYOUT_ROOT, scan_algs[a]);
		struct names prefixes = {0};

		list_names(w, top, &prefixes);
		for (size_t i = 0; i < prefixes.n && !w->err; i++) {
			char *dir = xasprintf("%s/%s", top, prefixes.v[i]);
			struct names hexes = {0};

			list_names(w, dir, &hexes);
			for (size_t j = 0; j < hexes.n; j++)
				if (hexes.is_dir[j])
					list_blob(b, scan_algs[a], hexes.v[j]);
			names_free(&hexes);
			free(dir);
		}
		names_free(&prefixes);
		free(top);
	}
	return NULL;
}

static void number_blobs(struct scan *s, const struct blob_walk *b)
{
	for (size_t i = 0; i < b->n; i++) {
		uint32_t id = scan_key_id(s, &b->found[i]);

		s->blobs[id].listed = true;
	}
	s->nlisted = b->n;
}

/* ---- manifests ---- */

static void add_id(struct scan *s, uint32_t **v, size_t *n, const char *text)
{
	struct digest d;

	if (!text || digest_parse(text, &d) != 0)
		return;
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = scan_id(s, &d);
}

/* Adds the "key" member of every object of array arr. */
static void add_array(struct scan *s, json_t *arr, const char *key,
		      uint32_t **v, size_t *n)
{
	size_t i;
	json_t *item;

	if (!json_is_array(arr))
		return;
	json_array_foreach(arr, i, item)
		add_id(s, v, n, json_string_value(json_object_get(item, key)));
}

static void add_ref(struct scan_manifest *m, enum mref_kind kind, uint32_t id)
{
	if (kind == MREF_SUBJECT) {
		m->has_subject = true;
		m->subject = id;
		return;
	}
	if (kind == MREF_CHILD) {
		m->children = xrealloc(m->children, (m->nchildren +
						     1) * sizeof(*m->children));
		m->children[m->nchildren++] = id;
		return;
	}
	m->refs = xrealloc(m->refs, (m->nrefs + 1) * sizeof(*m->refs));
	m->refs[m->nrefs++] = id;
}

struct ref_sink {
	struct scan *s;
	struct scan_manifest *m;
};

/* A digest mrefs found: "<alg>:<hex>", as digest_parse would take it. */
static void on_ref(void *arg, enum mref_kind kind, const char *text, size_t len)
{
	struct ref_sink *sink = arg;
	struct dmap_key k;

	if (len < 8 || text[6] != ':' ||
	    (memcmp(text, "sha256", 6) && memcmp(text, "sha512", 6)))
		return;
	if (dmap_key_from_hex(alg_of(text), text + 7, len - 7, &k))
		add_ref(sink->m, kind, scan_key_id(sink->s, &k));
}

static void forget_refs(struct scan_manifest *m)
{
	free(m->refs);
	free(m->children);
	m->refs = m->children = NULL;
	m->nrefs = m->nchildren = 0;
	m->has_subject = false;
}

/* jansson's reading, for whatever mrefs gives up on. */
static bool parse_slowly(struct scan *s, const char *data, size_t len,
			 struct scan_manifest *m)
{
	json_t *root = json_loadb(data, len, JSON_ALLOW_NUL, NULL);
	json_t *config, *subject, *list;
	struct digest d;
	const char *text;

	if (!json_is_object(root)) {
		json_decref(root);
		return false;
	}
	list = json_object_get(root, "manifests");
	m->is_index = json_is_array(list);
	add_array(s, list, "digest", &m->children, &m->nchildren);

	config = json_object_get(root, "config");
	add_id(s, &m->refs, &m->nrefs,
	       json_string_value(json_object_get(config, "digest")));
	add_array(s, json_object_get(root, "layers"), "digest", &m->refs,
		  &m->nrefs);
	add_array(s, json_object_get(root, "blobs"), "digest", &m->refs,
		  &m->nrefs);
	add_array(s, json_object_get(root, "fsLayers"), "blobSum", &m->refs,
		  &m->nrefs);

	subject = json_object_get(root, "subject");
	text = json_string_value(json_object_get(subject, "digest"));
	if (text && digest_parse(text, &d) == 0) {
		m->has_subject = true;
		m->subject = scan_id(s, &d);
	}
	json_decref(root);
	return true;
}

bool scan_parse_manifest(struct scan *s, const char *data, size_t len,
			 struct scan_manifest *m)
{
	struct ref_sink sink = {s, m};

	if (mrefs_scan(data, len, on_ref, &sink, &m->is_index))
		return true;
	forget_refs(m);
	return parse_slowly(s, data, len, m);
}

/* Reads and parses the content of manifest m. */
static void read_manifest(struct walker *w, const char *repo,
			  struct scan_manifest *m)
{
	struct buf b = BUF_INIT;
	struct digest d;
	char *key;
	int err;

	/* Other workers may be adding digests: read it under the lock. */
	pthread_mutex_lock(&w->s->id_lock);
	dmap_digest(w->s->digests, m->id, &d);
	pthread_mutex_unlock(&w->s->id_lock);
	key = layout_blob_data(&d);
	err = w->st->ops->get(w->st, key, SCAN_MANIFEST_MAX, &b);
	if (err == 0) {
		m->readable = scan_parse_manifest(w->s, b.data ? b.data : "",
						  b.len, m);
		if (!m->readable)
			log_warn("manifest is not JSON, nothing it names is "
				 "kept repo=%s key=%s",
				 repo, key);
	} else if (err == -EFBIG) {
		log_warn("manifest too large to read repo=%s key=%s", repo,
			 key);
		err = -EIO;
	}
	failed(w, err);
	buf_free(&b);
	free(key);
}

static struct scan_manifest *add_manifest(struct scan_repo *r, size_t *cap,
					  uint32_t id, int64_t mtime,
					  bool revision)
{
	struct scan_manifest *m;

	r->manifests =
		grow(r->manifests, r->nmanifests, cap, sizeof(*r->manifests));
	m = &r->manifests[r->nmanifests++];
	memset(m, 0, sizeof(*m));
	m->id = id;
	m->mtime = mtime;
	m->revision = revision;
	return m;
}

static void scan_revisions(struct walker *w, const char *rkey,
			   struct scan_repo *r, size_t *cap)
{
	for (size_t a = 0; a < NALGS && !w->err; a++) {
		char *dir = xasprintf("%s/_manifests/revisions/%s", rkey,
				      scan_algs[a]);
		struct names l = {0};

		list_names(w, dir, &l);
		for (size_t i = 0; i < l.n && !w->err; i++) {
			struct dmap_key k;

			if (name_key(scan_algs[a], l.v[i], &k))
				add_manifest(r, cap, scan_key_id(w->s, &k),
					     SCAN_TIME_UNKNOWN, true);
		}
		names_free(&l);
		free(dir);
	}
}

/*
 * A tag naming a manifest without a revision link still serves it, so
 * the manifest is recorded as one only a tag keeps.
 */
static void add_tag_targets(struct walker *w, struct scan_repo *r, size_t *cap)
{
	struct idset have = IDSET_INIT;

	for (size_t i = 0; i < r->nmanifests; i++)
		idset_add(&have, r->manifests[i].id);
	for (size_t i = 0; i < r->ntags; i++) {
		uint32_t id = r->tags[i].target;

		if (!idset_add(&have, id))
			continue;
		log_warn("tag names a manifest without a revision repo=%s "
			 "tag=%s",
			 r->name, r->tags[i].name);
		add_manifest(r, cap, id, SCAN_TIME_UNKNOWN, false);
	}
	idset_free(&have);
	for (size_t i = 0; i < r->nmanifests && !w->err; i++)
		read_manifest(w, r->name, &r->manifests[i]);
}

/* ---- tags, layers, referrers, uploads ---- */

static void scan_tags(struct walker *w, const char *rkey, struct scan_repo *r)
{
	char *dir = xasprintf("%s/_manifests/tags", rkey);
	struct names l = {0};
	size_t cap = 0;

	list_names(w, dir, &l);
	for (size_t i = 0; i < l.n && !w->err; i++) {
		char *key = xasprintf("%s/%s/current/link", dir, l.v[i]);
		struct digest d;
		int err = read_link(w, key, &d);

		if (err == -EINVAL)
			log_warn("tag link holds no digest key=%s", key);
		free(key);
		if (err == -EINVAL || failed(w, err) || err)
			continue;
		r->tags = grow(r->tags, r->ntags, &cap, sizeof(*r->tags));
		r->tags[r->ntags].name = xstrdup(l.v[i]);
		r->tags[r->ntags].target = scan_id(w->s, &d);
		r->tags[r->ntags++].mtime = SCAN_TIME_UNKNOWN;
	}
	names_free(&l);
	free(dir);
}

static void scan_layers(struct walker *w, const char *rkey, struct scan_repo *r)
{
	size_t cap = 0;

	for (size_t a = 0; a < NALGS && !w->err; a++) {
		char *dir = xasprintf("%s/_layers/%s", rkey, scan_algs[a]);
		struct names l = {0};

		list_names(w, dir, &l);
		for (size_t i = 0; i < l.n && !w->err; i++) {
			struct dmap_key k;

			if (!name_key(scan_algs[a], l.v[i], &k))
				continue;
			r->layers = grow(r->layers, r->nlayers, &cap,
					 sizeof(*r->layers));
			r->layers[r->nlayers].id = scan_key_id(w->s, &k);
			r->layers[r->nlayers++].mtime = SCAN_TIME_UNKNOWN;
		}
		names_free(&l);
		free(dir);
	}
}

static void add_referrer(struct walker *w, struct scan_repo *r, size_t *cap,
			 uint32_t subject, const char *alg, const char *hex)
{
	struct dmap_key k;

	if (!name_key(alg, hex, &k))
		return;
	r->referrers =
		grow(r->referrers, r->nreferrers, cap, sizeof(*r->referrers));
	r->referrers[r->nreferrers].subject = subject;
	r->referrers[r->nreferrers].referrer = scan_key_id(w->s, &k);
	r->referrers[r->nreferrers++].mtime = SCAN_TIME_UNKNOWN;
}

/* _referrers/<alg>/<hex>/<alg>/<hex>/link: subject, then referrer. */
static void scan_subject(struct walker *w, struct scan_repo *r, size_t *cap,
			 const char *dir, uint32_t subject)
{
	for (size_t a = 0; a < NALGS && !w->err; a++) {
		char *key = xasprintf("%s/%s", dir, scan_algs[a]);
		struct names l = {0};

		list_names(w, key, &l);
		for (size_t i = 0; i < l.n && !w->err; i++)
			add_referrer(w, r, cap, subject, scan_algs[a], l.v[i]);
		names_free(&l);
		free(key);
	}
}

static void scan_referrers(struct walker *w, const char *rkey,
			   struct scan_repo *r)
{
	size_t cap = 0;

	for (size_t a = 0; a < NALGS && !w->err; a++) {
		char *dir = xasprintf("%s/_referrers/%s", rkey, scan_algs[a]);
		struct names l = {0};

		list_names(w, dir, &l);
		for (size_t i = 0; i < l.n && !w->err; i++) {
			char *sub = xasprintf("%s/%s", dir, l.v[i]);
			struct dmap_key subject;

			if (name_key(scan_algs[a], l.v[i], &subject))
				scan_subject(w, r, &cap, sub,
					     scan_key_id(w->s, &subject));
			free(sub);
		}
		names_free(&l);
		free(dir);
	}
}

static void scan_uploads(struct walker *w, const char *rkey,
			 struct scan_repo *r)
{
	char *dir = xasprintf("%s/_uploads", rkey);
	struct names l = {0};

	list_names(w, dir, &l);
	r->nuploads = l.n;
	names_free(&l);
	free(dir);
}

/* ---- repositories ---- */

static bool is_repo_part(const char *name)
{
	return !strcmp(name, "_manifests") || !strcmp(name, "_layers") ||
	       !strcmp(name, "_uploads") || !strcmp(name, "_referrers");
}

static void scan_repo(struct walker *w, struct scan_repo *r, const char *rkey)
{
	size_t mcap = 0;

	if (w->tags)
		scan_tags(w, rkey, r);
	scan_revisions(w, rkey, r, &mcap);
	add_tag_targets(w, r, &mcap);
	scan_layers(w, rkey, r);
	scan_referrers(w, rkey, r);
	scan_uploads(w, rkey, r);
}

/* Records a repository found by the walk; its contents come later. */
static void found_repo(struct walker *w, const char *name, const char *key,
		       bool has_manifests, size_t *cap)
{
	struct scan *s = w->s;
	struct scan_repo *r;

	s->repos = grow(s->repos, s->nrepos, cap, sizeof(*s->repos));
	r = &s->repos[s->nrepos++];
	memset(r, 0, sizeof(*r));
	r->name = xstrdup(name);
	r->key = xstrdup(key);
	r->has_manifests = has_manifests;
}

static void walk_repos(struct walker *w, const char *name, const char *key,
		       size_t *cap)
{
	struct names l = {0};
	bool is_repo = false, has_manifests = false;

	if (list_names(w, key, &l))
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		if (l.is_dir[i] && is_repo_part(l.v[i]))
			is_repo = true;
		if (l.is_dir[i] && !strcmp(l.v[i], "_manifests"))
			has_manifests = true;
	}
	if (is_repo && name)
		found_repo(w, name, key, has_manifests, cap);

	for (size_t i = 0; i < l.n && !w->err; i++) {
		char *sub_name, *sub_key;

		if (!l.is_dir[i] || l.v[i][0] == '_')
			continue;
		sub_name = name ? xasprintf("%s/%s", name, l.v[i])
				: xstrdup(l.v[i]);
		sub_key = xasprintf("%s/%s", key, l.v[i]);
		walk_repos(w, sub_name, sub_key, cap);
		free(sub_name);
		free(sub_key);
	}
out:
	names_free(&l);
}

static int repo_cmp(const void *a, const void *b)
{
	const struct scan_repo *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/*
 * Repository workers take the next repository to scan from a shared
 * counter.  They share the scan's digest numbering, under id_lock.
 */
struct repo_pool {
	struct scan *s;
	bool tags;
	atomic_size_t next;
	atomic_int err;
};

static void *repo_worker(void *arg)
{
	struct repo_pool *p = arg;
	struct walker w = {p->s, p->s->st, 0, p->tags};
	size_t i;

	while (!atomic_load(&p->err) &&
	       (i = atomic_fetch_add(&p->next, 1)) < p->s->nrepos) {
		struct scan_repo *r = &p->s->repos[i];

		scan_repo(&w, r, r->key);
	}
	if (w.err)
		atomic_store(&p->err, w.err);
	return NULL;
}

static int scan_repos(struct scan *s, bool tags)
{
	struct repo_pool p = {s, tags, 0, 0};
	pthread_t t[SCAN_THREADS];
	size_t n = 0;

	while (n < SCAN_THREADS && n + 1 < s->nrepos &&
	       pthread_create(&t[n], NULL, repo_worker, &p) == 0)
		n++;
	repo_worker(&p);
	while (n > 0)
		pthread_join(t[--n], NULL);
	return atomic_load(&p.err);
}

int scan_store(struct store *st, const struct scan_options *o,
	       struct scan **out)
{
	struct scan *s = xcalloc(1, sizeof(*s));
	struct blob_walk b = {{NULL, st, 0, false}, NULL, 0, 0};
	struct walker w = {s, st, 0, false};
	char *root = layout_repositories();
	bool threaded;
	pthread_t t;
	size_t cap = 0;

	s->st = st;
	s->digests = dmap_new();
	pthread_mutex_init(&s->id_lock, NULL);
	s->started = now_seconds();
	threaded = pthread_create(&t, NULL, scan_blobs, &b) == 0;
	if (!threaded)
		scan_blobs(&b);
	walk_repos(&w, NULL, root, &cap);
	if (!w.err)
		w.err = scan_repos(s, o ? o->tags : true);
	if (threaded)
		pthread_join(t, NULL);
	free(root);
	if (!w.err)
		w.err = b.w.err;
	number_blobs(s, &b);
	free(b.found);

	if (w.err) {
		scan_free(s);
		*out = NULL;
		return w.err;
	}
	if (s->nrepos)
		qsort(s->repos, s->nrepos, sizeof(*s->repos), repo_cmp);
	*out = s;
	return 0;
}

static void repo_free(struct scan_repo *r)
{
	for (size_t i = 0; i < r->ntags; i++)
		free(r->tags[i].name);
	for (size_t i = 0; i < r->nmanifests; i++) {
		free(r->manifests[i].refs);
		free(r->manifests[i].children);
	}
	free(r->tags);
	free(r->manifests);
	free(r->layers);
	free(r->referrers);
	free(r->name);
	free(r->key);
}

void scan_free(struct scan *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nrepos; i++)
		repo_free(&s->repos[i]);
	free(s->empty);
	free(s->repos);
	free(s->blobs);
	dmap_free(s->digests);
	pthread_mutex_destroy(&s->id_lock);
	free(s);
}

/* Records an empty blob directory; collectors' threads may call it. */
static void note_empty(struct scan *s, uint32_t id, const char *key)
{
	struct store_stat sst;

	if (s->st->ops->stat(s->st, key, &sst) != 0)
		return;
	pthread_mutex_lock(&s->id_lock);
	s->empty = xrealloc(s->empty, (s->nempty + 1) * sizeof(*s->empty));
	s->empty[s->nempty].id = id;
	s->empty[s->nempty++].mtime = sst.mtime;
	pthread_mutex_unlock(&s->id_lock);
}

const struct scan_blob *scan_blob(struct scan *s, uint32_t id)
{
	struct scan_blob *b = &s->blobs[id];
	struct store_stat sst;
	struct digest d;
	char *key;
	int err;

	if (!b->listed || b->statted)
		return b;
	b->statted = true;
	dmap_digest(s->digests, id, &d);
	key = layout_blob_data(&d);
	err = s->st->ops->stat(s->st, key, &sst);
	if (err == 0 && !sst.is_dir) {
		b->present = true;
		b->size = sst.size;
		b->mtime = sst.mtime;
	} else if (err == -ENOENT) {
		note_empty(s, id, dir_of(key));
	} else {
		/* Unreadable: present and new, so it is left alone. */
		b->present = true;
		b->mtime = INT64_MAX;
	}
	free(key);
	return b;
}

/* The time of the link at key, per scan_tag_time's rules. */
static int64_t link_time(struct scan *s, char *key)
{
	struct store_stat sst;
	int err = s->st->ops->stat(s->st, key, &sst);

	free(key);
	if (err == -ENOENT)
		return 0; /* gone: nothing protects it any more */
	return err ? INT64_MAX : sst.mtime;
}

int64_t scan_tag_time(struct scan *s, struct scan_repo *r, size_t t)
{
	struct scan_tag *tag = &r->tags[t];

	if (tag->mtime == SCAN_TIME_UNKNOWN)
		tag->mtime =
			link_time(s, layout_tag_current(r->name, tag->name));
	return tag->mtime;
}

int64_t scan_revision_time(struct scan *s, struct scan_repo *r, size_t m)
{
	struct scan_manifest *sm = &r->manifests[m];
	struct digest d;

	if (sm->mtime != SCAN_TIME_UNKNOWN)
		return sm->mtime;
	dmap_digest(s->digests, sm->id, &d);
	sm->mtime = sm->revision
			    ? link_time(s, layout_revision_link(r->name, &d))
			    : INT64_MAX;
	return sm->mtime;
}

int64_t scan_layer_time(struct scan *s, struct scan_repo *r, size_t j)
{
	struct scan_link *l = &r->layers[j];
	struct digest d;

	if (l->mtime == SCAN_TIME_UNKNOWN) {
		dmap_digest(s->digests, l->id, &d);
		l->mtime = link_time(s, layout_layer_link(r->name, &d));
	}
	return l->mtime;
}

int64_t scan_referrer_time(struct scan *s, struct scan_repo *r, size_t j)
{
	struct scan_referrer *ref = &r->referrers[j];
	struct digest d, subject;

	if (ref->mtime == SCAN_TIME_UNKNOWN) {
		dmap_digest(s->digests, ref->referrer, &d);
		dmap_digest(s->digests, ref->subject, &subject);
		ref->mtime = link_time(s, layout_referrer_link(r->name,
							       &subject, &d));
	}
	return ref->mtime;
}

void scan_digest_str(const struct scan *s, uint32_t id, char *out)
{
	struct digest d;

	dmap_digest(s->digests, id, &d);
	digest_format(&d, out);
}

struct scan_repo *scan_repo_find(const struct scan *s, const char *name)
{
	struct scan_repo key = {.name = (char *)name};

	return bsearch(&key, s->repos, s->nrepos, sizeof(*s->repos), repo_cmp);
}
