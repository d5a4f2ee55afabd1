/*
 * registry.c - blobs, manifests, tags and listings, in registry:2's
 * layout (layout.h) over any store (store.h).
 *
 * Order of writes matters for crash safety: content is stored before
 * anything links to it, and a tag's current link is written last, so a
 * crash at any point leaves either the old state or the new one visible,
 * never a link to missing bytes.
 */
#include "registry.h"
#include "config.h"
#include "layout.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "manifest.h"
#include "ref.h"
#include "store.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct registry {
	const struct config *cfg;
	struct store *store;
	struct index *index;
	void (*on_change)(void *, const char *, const char *);
	void *on_change_arg;
	struct lifecycle *lc;
};

static const struct {
	const char *name;
	int status;
} codes[] = {
	[REG_BLOB_UNKNOWN] = {"BLOB_UNKNOWN", 404},
	[REG_BLOB_UPLOAD_INVALID] = {"BLOB_UPLOAD_INVALID", 400},
	[REG_BLOB_UPLOAD_UNKNOWN] = {"BLOB_UPLOAD_UNKNOWN", 404},
	[REG_DIGEST_INVALID] = {"DIGEST_INVALID", 400},
	[REG_MANIFEST_BLOB_UNKNOWN] = {"MANIFEST_BLOB_UNKNOWN", 400},
	[REG_MANIFEST_INVALID] = {"MANIFEST_INVALID", 400},
	[REG_MANIFEST_UNKNOWN] = {"MANIFEST_UNKNOWN", 404},
	[REG_NAME_INVALID] = {"NAME_INVALID", 400},
	[REG_NAME_UNKNOWN] = {"NAME_UNKNOWN", 404},
	[REG_SIZE_INVALID] = {"SIZE_INVALID", 400},
	[REG_UNAUTHORIZED] = {"UNAUTHORIZED", 401},
	[REG_DENIED] = {"DENIED", 403},
	[REG_UNSUPPORTED] = {"UNSUPPORTED", 405},
	[REG_TOOMANYREQUESTS] = {"TOOMANYREQUESTS", 429},
	[REG_RANGE_INVALID] = {"BLOB_UPLOAD_INVALID", 416},
	[REG_STORAGE_FULL] = {"STORAGE_FULL", 507},
	[REG_UNAVAILABLE] = {"UNAVAILABLE", 503},
	[REG_INTERNAL] = {"UNKNOWN", 500},
};

const char *reg_code_name(enum reg_code code)
{
	return codes[code].name;
}

int reg_code_status(enum reg_code code)
{
	return codes[code].status;
}

int reg_fail(struct reg_error *e, enum reg_code code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

int reg_fail_store(struct reg_error *e, int err, const char *what)
{
	log_error("storage failed op=\"%s\" err=\"%s\"", what,
		  store_strerror(err));
	if (err == -ENOSPC || err == -EDQUOT)
		return reg_fail(e, REG_STORAGE_FULL,
				"storage is full: %s failed", what);
	if (err == -EROFS)
		return reg_fail(e, REG_UNAVAILABLE,
				"storage is read-only: %s failed", what);
	return reg_fail(e, REG_INTERNAL, "storage error: %s failed: %s", what,
			store_strerror(err));
}

void registry_on_change(struct registry *reg,
			void (*fn)(void *, const char *, const char *),
			void *arg)
{
	reg->on_change = fn;
	reg->on_change_arg = arg;
}

static void changed(struct registry *reg, const char *repo, const char *tag)
{
	if (reg->on_change)
		reg->on_change(reg->on_change_arg, repo, tag);
}

struct store *registry_store(struct registry *reg)
{
	return reg->store;
}

void registry_set_lifecycle(struct registry *reg, struct lifecycle *lc)
{
	reg->lc = lc;
}

struct lifecycle *registry_lifecycle(struct registry *reg)
{
	return reg->lc;
}

struct index *registry_index(struct registry *reg)
{
	return reg->index;
}

struct registry *registry_open(const struct config *cfg, struct store *st)
{
	struct registry *reg = xcalloc(1, sizeof(*reg));
	uint64_t t0 = now_monotonic_ns();
	int err;

	reg->cfg = cfg;
	reg->store = st;
	reg->index = index_new();
	err = index_load(reg->index, st);
	if (err && err != -ENOENT) {
		log_error("cannot list repositories err=\"%s\"",
			  store_strerror(err));
		registry_close(reg);
		return NULL;
	}
	log_info("repository index loaded ms=%.1f",
		 (double)(now_monotonic_ns() - t0) / 1e6);
	/* Other instances on the same storage report nothing to us. */
	if (cfg && index_refresh_start(reg->index, st, cfg->index_refresh)) {
		registry_close(reg);
		return NULL;
	}
	return reg;
}

void registry_close(struct registry *reg)
{
	if (!reg)
		return;
	index_free(reg->index);
	free(reg);
}

/* Reads a link object into d.  Returns 0, -ENOENT, or -EINVAL if bad. */
static int read_link(struct store *st, const char *key, struct digest *d)
{
	struct buf b = BUF_INIT;
	int err = st->ops->get(st, key, DIGEST_MAX_STR + 16, &b);

	if (err == 0 && digest_parse(b.data ? b.data : "", d) != 0) {
		log_error("link holds no digest key=%s", key);
		err = -EINVAL;
	}
	buf_free(&b);
	return err;
}

static int write_link(struct store *st, const char *key, const struct digest *d)
{
	char s[DIGEST_MAX_STR + 1];

	digest_format(d, s);
	return st->ops->put(st, key, s, strlen(s));
}

/* 0 if the object exists, else a negative errno (-ENOENT). */
static int exists(struct store *st, const char *key)
{
	struct store_stat sst;

	return st->ops->stat(st, key, &sst);
}

int registry_link_blob(struct registry *reg, const char *repo,
		       const struct digest *d, struct reg_error *e)
{
	char *key = layout_layer_link(repo, d);
	int err = exists(reg->store, key);

	if (err == -ENOENT)
		err = write_link(reg->store, key, d);
	free(key);
	if (err)
		return reg_fail_store(e, err, "link blob");
	/* registry:2 lists a repository once it holds a layer. */
	index_add_repo(reg->index, repo);
	return 0;
}

static int blob_linked(struct registry *reg, const char *repo,
		       const struct digest *d, struct reg_error *e)
{
	char *key = layout_layer_link(repo, d);
	int err = exists(reg->store, key);

	free(key);
	if (err == -ENOENT) {
		char s[DIGEST_MAX_STR + 1];

		digest_format(d, s);
		return reg_fail(e, REG_BLOB_UNKNOWN,
				"blob %s is unknown to repository %s", s, repo);
	}
	if (err)
		return reg_fail_store(e, err, "stat blob link");
	return 0;
}

int registry_blob_stat(struct registry *reg, const char *repo,
		       const struct digest *d, uint64_t *size,
		       struct reg_error *e)
{
	struct store_stat sst;
	char *key;
	int err;

	lifecycle_blob_reading(reg->lc, d);
	if (blob_linked(reg, repo, d, e))
		return -1;

	key = layout_blob_data(d);
	err = reg->store->ops->stat(reg->store, key, &sst);
	free(key);
	if (err == -ENOENT)
		return reg_fail(e, REG_BLOB_UNKNOWN,
				"blob is linked but its content is gone");
	if (err)
		return reg_fail_store(e, err, "stat blob");
	*size = sst.size;
	return 0;
}

int registry_blob_open(struct registry *reg, const char *repo,
		       const struct digest *d, uint64_t offset,
		       struct store_reader **r, struct reg_error *e)
{
	char *key;
	int err;

	lifecycle_blob_reading(reg->lc, d);
	if (blob_linked(reg, repo, d, e))
		return -1;

	key = layout_blob_data(d);
	err = reg->store->ops->reader_open(reg->store, key, offset, r);
	free(key);
	if (err == -ENOENT)
		return reg_fail(e, REG_BLOB_UNKNOWN,
				"blob is linked but its content is gone");
	if (err)
		return reg_fail_store(e, err, "open blob");
	return 0;
}

int registry_blob_url(struct registry *reg, const struct digest *d, char **url)
{
	char *key;
	int err;

	*url = NULL;
	if (reg->cfg && reg->cfg->redirect_disable)
		return 1;

	key = layout_blob_data(d);
	err = store_presign(reg->store, key, "GET", REGISTRY_REDIRECT_SECONDS,
			    url);
	free(key);
	if (err && err != -ENOTSUP)
		log_warn("cannot presign blob, serving it err=\"%s\"",
			 store_strerror(err));
	return err ? 1 : 0;
}

int registry_blob_delete(struct registry *reg, const char *repo,
			 const struct digest *d, struct reg_error *e)
{
	char *key;
	int err;

	if (blob_linked(reg, repo, d, e))
		return -1;

	/* registry:2 removes the whole <hex> directory of the link. */
	key = layout_layer_link(repo, d);
	*strrchr(key, '/') = '\0';
	err = reg->store->ops->remove(reg->store, key);
	free(key);
	if (err && err != -ENOENT)
		return reg_fail_store(e, err, "delete blob link");
	lifecycle_deleted(reg->lc, repo);
	return 0;
}

int registry_blob_mount(struct registry *reg, const char *repo,
			const char *from, const struct digest *d,
			struct reg_error *e)
{
	uint64_t size;

	if (registry_blob_stat(reg, from, d, &size, e) ||
	    lifecycle_blob_adding(reg->lc, repo, d, size, e) ||
	    registry_link_blob(reg, repo, d, e))
		return -1;
	lifecycle_blob_added(reg->lc, repo, d, size);
	return 0;
}

/* ---- manifests ---- */

void reg_manifest_free(struct reg_manifest *m)
{
	free(m->data);
	free(m->media_type);
	m->data = m->media_type = NULL;
}

static int fail_manifest_unknown(struct reg_error *e, const char *repo,
				 const char *reference)
{
	return reg_fail(e, REG_MANIFEST_UNKNOWN,
			"manifest %s is unknown to repository %s", reference,
			repo);
}

/* Finds the digest a tag or digest reference names in repo. */
static int resolve(struct registry *reg, const char *repo,
		   const char *reference, struct digest *d, struct reg_error *e)
{
	char *key;
	int err;

	if (strchr(reference, ':')) {
		int rc = digest_parse(reference, d);

		if (rc == -2)
			return reg_fail(e, REG_DIGEST_INVALID,
					"digest algorithm not supported: %s",
					reference);
		if (rc)
			return reg_fail(e, REG_DIGEST_INVALID,
					"invalid digest: %s", reference);
		key = layout_revision_link(repo, d);
		err = exists(reg->store, key);
	} else {
		if (!ref_valid_tag(reference))
			return reg_fail(e, REG_MANIFEST_INVALID,
					"invalid tag: %s", reference);
		key = layout_tag_current(repo, reference);
		err = read_link(reg->store, key, d);
	}
	free(key);

	if (err == -ENOENT || err == -EINVAL)
		return fail_manifest_unknown(e, repo, reference);
	if (err)
		return reg_fail_store(e, err, "read manifest link");
	return 0;
}

/* Reads the manifest bytes for d and works out their media type. */
static int load_manifest(struct registry *reg, const struct digest *d,
			 struct reg_manifest *out, struct reg_error *e)
{
	struct buf b = BUF_INIT;
	char *key = layout_blob_data(d);
	int err = reg->store->ops->get(reg->store, key, MANIFEST_MAX_BYTES, &b);
	struct manifest *m;
	char why[256];

	free(key);
	if (err) {
		buf_free(&b);
		if (err == -ENOENT)
			return reg_fail(e, REG_MANIFEST_UNKNOWN,
					"manifest content is missing");
		return reg_fail_store(e, err, "read manifest");
	}

	m = manifest_parse(b.data ? b.data : "", b.len, NULL, why, sizeof(why));
	out->media_type = xstrdup(m ? m->media_type : MT_OCI_MANIFEST);
	manifest_free(m);
	out->len = b.len;
	out->data = buf_detach(&b, NULL);
	out->digest = *d;
	return 0;
}

int registry_manifest_get(struct registry *reg, const char *repo,
			  const char *reference, struct reg_manifest *out,
			  struct reg_error *e)
{
	struct digest d;

	memset(out, 0, sizeof(*out));
	if (resolve(reg, repo, reference, &d, e))
		return -1;
	return load_manifest(reg, &d, out, e);
}

static int check_blobs(struct registry *reg, const char *repo,
		       const struct manifest *m, struct reg_error *e)
{
	char s[DIGEST_MAX_STR + 1];

	for (size_t i = 0; i < m->blobs_count; i++) {
		if (!blob_linked(reg, repo, &m->blobs[i].digest, e))
			continue;
		if (e->code != REG_BLOB_UNKNOWN)
			return -1;
		digest_format(&m->blobs[i].digest, s);
		return reg_fail(e, REG_MANIFEST_BLOB_UNKNOWN,
				"blob %s is not in repository %s", s, repo);
	}

	for (size_t i = 0; i < m->children_count; i++) {
		char *key = layout_revision_link(repo, &m->children[i].digest);
		int err = exists(reg->store, key);

		free(key);
		if (err == 0)
			continue;
		if (err != -ENOENT)
			return reg_fail_store(e, err, "stat child manifest");
		digest_format(&m->children[i].digest, s);
		return reg_fail(e, REG_MANIFEST_BLOB_UNKNOWN,
				"manifest %s is not in repository %s", s, repo);
	}
	return 0;
}

/* Stores the manifest bytes as a blob, unless they are there already. */
static int store_content(struct registry *reg, const struct digest *d,
			 const char *data, size_t len, struct reg_error *e)
{
	char *key = layout_blob_data(d);
	int err = exists(reg->store, key);

	if (err == -ENOENT) {
		err = reg->store->ops->put(reg->store, key, data, len);
		if (!err)
			metrics_storage_add(1, (int64_t)len);
	}
	free(key);
	if (err)
		return reg_fail_store(e, err, "store manifest");
	return 0;
}

static int tag_manifest(struct registry *reg, const char *repo, const char *tag,
			const struct digest *d, struct reg_error *e)
{
	char *key = layout_tag_index_link(repo, tag, d);
	int err = write_link(reg->store, key, d);

	free(key);
	if (err)
		return reg_fail_store(e, err, "write tag index");

	key = layout_tag_current(repo, tag);
	err = write_link(reg->store, key, d);
	free(key);
	if (err)
		return reg_fail_store(e, err, "write tag");
	index_add_tag(reg->index, repo, tag);
	changed(reg, repo, tag);
	return 0;
}

/* Parses the request's reference: a tag to set, or a digest to match. */
static int put_reference(const char *reference, const char **tag,
			 struct digest *want, bool *by_digest,
			 struct reg_error *e)
{
	*tag = NULL;
	*by_digest = false;
	if (!strchr(reference, ':')) {
		if (!ref_valid_tag(reference))
			return reg_fail(e, REG_MANIFEST_INVALID,
					"invalid tag: %s", reference);
		*tag = reference;
		return 0;
	}

	switch (digest_parse(reference, want)) {
	case 0:
		*by_digest = true;
		return 0;
	case -2:
		return reg_fail(e, REG_DIGEST_INVALID,
				"digest algorithm not supported: %s",
				reference);
	default:
		return reg_fail(e, REG_DIGEST_INVALID, "invalid digest: %s",
				reference);
	}
}

static int link_referrer(struct registry *reg, const char *repo,
			 const struct manifest *m, const struct digest *d,
			 struct reg_error *e)
{
	char *key;
	int err;

	if (!m->has_subject)
		return 0;
	key = layout_referrer_link(repo, &m->subject, d);
	err = write_link(reg->store, key, d);
	free(key);
	if (err)
		return reg_fail_store(e, err, "write referrer link");
	return 0;
}

int registry_manifest_put(struct registry *reg, const char *repo,
			  const char *reference, const char *data, size_t len,
			  const char *content_type, struct reg_put_result *out,
			  struct reg_error *e)
{
	struct manifest *m = NULL;
	struct digest want;
	const char *tag;
	bool by_digest;
	char why[256];
	char *key;
	int err, rc = -1;

	memset(out, 0, sizeof(*out));
	if (put_reference(reference, &tag, &want, &by_digest, e))
		return -1;

	m = manifest_parse(data, len, content_type, why, sizeof(why));
	if (!m)
		return reg_fail(e, REG_MANIFEST_INVALID, "%s", why);

	digest_of(by_digest ? want.alg : DIGEST_SHA256, data, len,
		  &out->digest);
	if (by_digest && !digest_equal(&want, &out->digest)) {
		reg_fail(e, REG_DIGEST_INVALID,
			 "manifest digest does not match %s", reference);
		goto out;
	}
	if (lifecycle_manifest_adding(reg->lc, repo, tag, &out->digest, m, len,
				      e) ||
	    check_blobs(reg, repo, m, e) ||
	    store_content(reg, &out->digest, data, len, e) ||
	    link_referrer(reg, repo, m, &out->digest, e))
		goto out;

	key = layout_revision_link(repo, &out->digest);
	err = write_link(reg->store, key, &out->digest);
	free(key);
	if (err) {
		reg_fail_store(e, err, "write manifest revision");
		goto out;
	}
	if (tag && tag_manifest(reg, repo, tag, &out->digest, e))
		goto out;
	index_add_repo(reg->index, repo);
	lifecycle_manifest_added(reg->lc, repo, &out->digest, len);

	out->has_subject = m->has_subject;
	out->subject = m->subject;
	rc = 0;
out:
	manifest_free(m);
	return rc;
}

static int delete_tag(struct registry *reg, const char *repo, const char *tag,
		      struct reg_error *e)
{
	char *key = layout_tag_dir(repo, tag);
	int err = reg->store->ops->remove(reg->store, key);

	free(key);
	if (err == -ENOENT)
		return fail_manifest_unknown(e, repo, tag);
	if (err)
		return reg_fail_store(e, err, "delete tag");
	index_remove_tag(reg->index, repo, tag);
	changed(reg, repo, tag);
	return 0;
}

/* Removes every tag of repo whose current link names d. */
struct tag_names {
	char **v;
	size_t n;
};

static int on_tag_name(void *arg, const char *name, bool is_dir)
{
	struct tag_names *t = arg;

	if (!is_dir || !ref_valid_tag(name))
		return 0;
	t->v = xrealloc(t->v, (t->n + 1) * sizeof(*t->v));
	t->v[t->n++] = xstrdup(name);
	return 0;
}

/*
 * Deletes the tags of repo that point at d.  They are listed from the
 * store, not the index: another berth on the same storage may have set
 * one this index has not seen yet.
 */
static int untag_digest(struct registry *reg, const char *repo,
			const struct digest *d, struct reg_error *e)
{
	struct tag_names tags = {0};
	char *dir = layout_tags_dir(repo);
	int err = reg->store->ops->list(reg->store, dir, on_tag_name, &tags);
	int rc = 0;

	free(dir);
	if (err && err != -ENOENT)
		rc = reg_fail_store(e, err, "list tags");
	for (size_t i = 0; !rc && i < tags.n; i++) {
		char *key = layout_tag_current(repo, tags.v[i]);
		struct digest cur;

		err = read_link(reg->store, key, &cur);
		free(key);
		if (err == 0 && digest_equal(&cur, d))
			rc = delete_tag(reg, repo, tags.v[i], e);
	}
	for (size_t i = 0; i < tags.n; i++)
		free(tags.v[i]);
	free(tags.v);
	return rc;
}

static void unlink_referrer(struct registry *reg, const char *repo,
			    const struct digest *d)
{
	struct reg_manifest rm;
	struct reg_error e;
	struct manifest *m;
	char why[256];

	if (load_manifest(reg, d, &rm, &e))
		return;
	m = manifest_parse(rm.data, rm.len, NULL, why, sizeof(why));
	if (m && m->has_subject) {
		char *key = layout_referrer_link(repo, &m->subject, d);

		*strrchr(key, '/') = '\0';
		reg->store->ops->remove(reg->store, key);
		free(key);
	}
	manifest_free(m);
	reg_manifest_free(&rm);
}

int registry_manifest_delete(struct registry *reg, const char *repo,
			     const char *reference, struct reg_error *e)
{
	struct digest d;
	char *key;
	int err;

	if (!strchr(reference, ':')) {
		if (!ref_valid_tag(reference))
			return reg_fail(e, REG_MANIFEST_INVALID,
					"invalid tag: %s", reference);
		if (delete_tag(reg, repo, reference, e))
			return -1;
		lifecycle_deleted(reg->lc, repo);
		return 0;
	}
	if (resolve(reg, repo, reference, &d, e))
		return -1;

	if (untag_digest(reg, repo, &d, e))
		return -1;
	unlink_referrer(reg, repo, &d);

	key = layout_revision_link(repo, &d);
	*strrchr(key, '/') = '\0';
	err = reg->store->ops->remove(reg->store, key);
	free(key);
	if (err && err != -ENOENT)
		return reg_fail_store(e, err, "delete manifest revision");
	lifecycle_deleted(reg->lc, repo);
	return 0;
}

/* ---- listings ---- */

int registry_tags(struct registry *reg, const char *repo, const char *last,
		  size_t n, struct index_page *page, struct reg_error *e)
{
	if (index_list_tags(reg->index, repo, last, n, page) != 0)
		return reg_fail(e, REG_NAME_UNKNOWN,
				"repository %s is not known", repo);
	return 0;
}

void registry_catalog(struct registry *reg, const char *last, size_t n,
		      struct index_page *page)
{
	index_list_repos(reg->index, last, n, page);
}

struct referrer_walk {
	struct registry *reg;
	const char *repo;
	const char *alg;
	const char *artifact_type;
	json_t *list;
};

/* Appends the descriptor of one referring manifest to the list. */
static void add_referrer(struct referrer_walk *w, const struct digest *d)
{
	struct reg_manifest rm;
	struct reg_error e;
	struct manifest *m;
	char why[256], s[DIGEST_MAX_STR + 1];
	json_t *desc;

	if (load_manifest(w->reg, d, &rm, &e))
		return;
	m = manifest_parse(rm.data, rm.len, NULL, why, sizeof(why));
	if (!m)
		goto out;
	if (w->artifact_type &&
	    (!m->artifact_type || strcmp(m->artifact_type, w->artifact_type)))
		goto out;

	digest_format(d, s);
	desc = json_pack("{s:s, s:s, s:I}", "mediaType", m->media_type,
			 "digest", s, "size", (json_int_t)rm.len);
	if (m->artifact_type)
		json_object_set_new(desc, "artifactType",
				    json_string(m->artifact_type));
	if (m->annotations_json)
		json_object_set_new(desc, "annotations",
				    json_loads(m->annotations_json, 0, NULL));
	json_array_append_new(w->list, desc);
out:
	manifest_free(m);
	reg_manifest_free(&rm);
}

static int on_referrer_hex(void *arg, const char *name, bool is_dir)
{
	struct referrer_walk *w = arg;
	char s[DIGEST_MAX_STR + 1];
	struct digest d;
	char *key;

	snprintf(s, sizeof(s), "%s:%s", w->alg, name);
	if (!is_dir || digest_parse(s, &d) != 0)
		return 0;

	/* A deleted manifest may leave its referrer link behind. */
	key = layout_revision_link(w->repo, &d);
	if (exists(w->reg->store, key) == 0)
		add_referrer(w, &d);
	free(key);
	return 0;
}

int registry_referrers(struct registry *reg, const char *repo,
		       const struct digest *subject, const char *artifact_type,
		       struct buf *json, struct reg_error *e)
{
	struct referrer_walk w = {reg, repo, NULL, artifact_type, NULL};
	static const char *const algs[] = {"sha256", "sha512"};
	char *dir = layout_referrers_dir(repo, subject);
	json_t *index;
	char *text;

	w.list = json_array();
	for (size_t i = 0; i < 2; i++) {
		char *key = xasprintf("%s/%s", dir, algs[i]);
		int err;

		w.alg = algs[i];
		err = reg->store->ops->list(reg->store, key, on_referrer_hex,
					    &w);
		free(key);
		if (err && err != -ENOENT) {
			free(dir);
			json_decref(w.list);
			return reg_fail_store(e, err, "list referrers");
		}
	}
	free(dir);

	index = json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType",
			  MT_OCI_INDEX, "manifests", w.list);
	text = json_dumps(index, JSON_COMPACT);
	buf_adds(json, text);
	free(text);
	json_decref(index);
	return 0;
}
