/*
 * uiimage.c - reads a manifest, its children and their configs into the
 * web UI's image page.
 *
 * Everything goes through the registry's repository-scoped reads
 * (registry_manifest_get, registry_blob_open), so the page shows exactly
 * what `docker pull` of the same repository could fetch and nothing of
 * other repositories.  Field names follow the JSON the UI reads (camel
 * case), not Docker's config spelling.  Nothing here is cached: a page
 * reads a handful of small objects, a few milliseconds in all.
 */
#include "uiimage.h"
#include "meta.h"
#include "registry.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* A string JSON can hold; bytes that are not UTF-8 give a note instead. */
static json_t *text_json(const char *data, size_t len)
{
	json_t *s = json_stringn(data, len);

	return s ? s : json_string("(the document is not UTF-8 text)");
}

static json_t *time_json(json_t *s)
{
	int64_t t;
	char out[32];

	if (!json_is_string(s) || meta_parse_time(json_string_value(s), &t))
		return json_null();
	format_rfc3339(t, out);
	return json_string(out);
}

/* Reads a blob of repo into b; 0, or -1 when it is missing or too big. */
static int read_blob(struct registry *reg, const char *repo,
		     const struct digest *d, size_t max, struct buf *b)
{
	struct store_reader *r;
	struct reg_error e;
	uint64_t size;
	char chunk[65536];
	long n;

	if (registry_blob_stat(reg, repo, d, &size, &e) || size > max ||
	    registry_blob_open(reg, repo, d, 0, &r, &e))
		return -1;
	while ((n = store_read(r, chunk, sizeof(chunk))) > 0)
		buf_add(b, chunk, (size_t)n);
	store_reader_close(r);
	return n < 0 ? -1 : 0;
}

/* The keys of an object such as ExposedPorts, as an array. */
static json_t *keys_json(json_t *obj)
{
	json_t *a = json_array();
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
		json_array_append_new(a, json_string(key));
	return a;
}

static void copy_field(json_t *to, const char *name, json_t *from,
		       const char *key)
{
	json_t *v = json_object_get(from, key);

	json_object_set(to, name, v ? v : json_null());
}

/* The runtime settings of an image config ("config" inside it). */
static json_t *runtime_json(json_t *cfg)
{
	json_t *c = json_object_get(cfg, "config");
	json_t *out = json_object();

	copy_field(out, "user", c, "User");
	copy_field(out, "workingDir", c, "WorkingDir");
	copy_field(out, "entrypoint", c, "Entrypoint");
	copy_field(out, "cmd", c, "Cmd");
	copy_field(out, "env", c, "Env");
	copy_field(out, "labels", c, "Labels");
	copy_field(out, "stopSignal", c, "StopSignal");
	json_object_set_new(out, "exposedPorts",
			    keys_json(json_object_get(c, "ExposedPorts")));
	json_object_set_new(out, "volumes",
			    keys_json(json_object_get(c, "Volumes")));
	return out;
}

/*
 * The build history, each step with the layer it made: steps marked
 * empty_layer made none, the others take the layers in order.
 */
static json_t *history_json(json_t *cfg, size_t nlayers)
{
	json_t *list = json_object_get(cfg, "history");
	json_t *out = json_array();
	size_t layer = 0, i;
	json_t *h;

	json_array_foreach(list, i, h) {
		bool empty = json_is_true(json_object_get(h, "empty_layer"));
		json_t *step = json_object();

		json_object_set_new(step, "created",
				    time_json(json_object_get(h, "created")));
		copy_field(step, "createdBy", h, "created_by");
		copy_field(step, "comment", h, "comment");
		json_object_set_new(step, "emptyLayer", json_boolean(empty));
		json_object_set_new(step, "layer",
				    !empty && layer < nlayers
					    ? json_integer((json_int_t)layer)
					    : json_null());
		if (!empty)
			layer++;
		json_array_append_new(out, step);
	}
	return out;
}

static json_t *layers_json(json_t *doc, uint64_t *total)
{
	json_t *out = json_array();
	json_t *l;
	size_t i;

	json_array_foreach(json_object_get(doc, "layers"), i, l) {
		json_int_t size =
			json_integer_value(json_object_get(l, "size"));

		json_array_append_new(out,
				      json_pack("{s:O?, s:O?, s:I}", "digest",
						json_object_get(l, "digest"),
						"mediaType",
						json_object_get(l, "mediaType"),
						"size", size));
		*total += size > 0 ? (uint64_t)size : 0;
	}
	return out;
}

static json_t *referrers_json(struct registry *reg, const char *repo,
			      const struct digest *d)
{
	struct buf text = BUF_INIT;
	struct reg_error e;
	json_t *index, *list;

	if (registry_referrers(reg, repo, d, NULL, &text, &e)) {
		buf_free(&text);
		return json_array();
	}
	index = json_loadb(text.data ? text.data : "", text.len, 0, NULL);
	list = json_incref(json_object_get(index, "manifests"));
	json_decref(index);
	buf_free(&text);
	return list ? list : json_array();
}

/* Adds what the image config says: platform, dates, settings, history. */
static void add_config(struct registry *reg, const char *repo, json_t *out,
		       json_t *config_desc, size_t nlayers)
{
	struct buf raw = BUF_INIT;
	struct digest d;
	json_t *cfg;

	if (digest_parse(json_string_value(
				 json_object_get(config_desc, "digest")),
			 &d) ||
	    !meta_is_image_config(json_string_value(
		    json_object_get(config_desc, "mediaType"))) ||
	    read_blob(reg, repo, &d, META_CONFIG_MAX, &raw)) {
		buf_free(&raw);
		return;
	}
	cfg = json_loadb(raw.data ? raw.data : "", raw.len, 0, NULL);
	buf_free(&raw);
	if (!cfg)
		return;

	copy_field(out, "os", cfg, "os");
	copy_field(out, "architecture", cfg, "architecture");
	copy_field(out, "variant", cfg, "variant");
	json_object_set_new(out, "created",
			    time_json(json_object_get(cfg, "created")));
	copy_field(out, "author", cfg, "author");
	json_object_set_new(out, "runtime", runtime_json(cfg));
	json_object_set_new(out, "history", history_json(cfg, nlayers));
	json_decref(cfg);
}

/* The page part of one image manifest, doc being its parsed bytes. */
static json_t *image_json(struct registry *reg, const char *repo,
			  const struct digest *d, json_t *doc)
{
	json_t *config = json_object_get(doc, "config");
	json_t *out = json_object();
	uint64_t size = 0;
	json_t *layers = layers_json(doc, &size);
	char ds[DIGEST_MAX_STR + 1];

	digest_format(d, ds);
	json_object_set_new(out, "digest", json_string(ds));
	copy_field(out, "artifactType", doc, "artifactType");
	json_object_set(out, "config", config ? config : json_null());
	size += (uint64_t)json_integer_value(json_object_get(config, "size"));
	json_object_set_new(out, "size", json_integer((json_int_t)size));
	add_config(reg, repo, out, config, json_array_size(layers));
	json_object_set_new(out, "layers", layers);
	copy_field(out, "annotations", doc, "annotations");
	copy_field(out, "subject", doc, "subject");
	json_object_set_new(out, "referrers", referrers_json(reg, repo, d));
	return out;
}

/* A child of an index: its descriptor, and its image when it is one. */
static json_t *child_json(struct registry *reg, const char *repo, json_t *desc)
{
	json_t *out = json_deep_copy(desc);
	const char *ds = json_string_value(json_object_get(desc, "digest"));
	struct reg_manifest m;
	struct reg_error e;
	struct digest d;
	json_t *doc;

	if (!ds || digest_parse(ds, &d) ||
	    registry_manifest_get(reg, repo, ds, &m, &e))
		return out;
	doc = json_loadb(m.data, m.len, 0, NULL);
	if (doc && json_object_get(doc, "layers")) {
		json_t *img = image_json(reg, repo, &d, doc);

		json_object_set_new(img, "mediaType",
				    json_string(m.media_type));
		json_object_set_new(img, "raw", text_json(m.data, m.len));
		json_object_set_new(out, "image", img);
	}
	json_decref(doc);
	reg_manifest_free(&m);
	return out;
}

static json_t *children_json(struct registry *reg, const char *repo,
			     json_t *doc)
{
	json_t *out = json_array();
	json_t *desc;
	size_t i;

	json_array_foreach(json_object_get(doc, "manifests"), i, desc) {
		if (i >= META_CHILDREN_MAX)
			break;
		json_array_append_new(out, child_json(reg, repo, desc));
	}
	return out;
}

json_t *uiimage_build(struct registry *reg, const char *repo,
		      const char *reference, struct reg_error *e)
{
	struct reg_manifest m;
	char ds[DIGEST_MAX_STR + 1];
	json_t *doc, *out;
	bool is_index;

	if (registry_manifest_get(reg, repo, reference, &m, e))
		return NULL;
	doc = json_loadb(m.data, m.len, 0, NULL);
	if (!doc) {
		reg_manifest_free(&m);
		reg_fail(e, REG_MANIFEST_INVALID, "the manifest is not JSON");
		return NULL;
	}

	digest_format(&m.digest, ds);
	is_index = json_object_get(doc, "manifests") != NULL;
	out = json_pack("{s:s, s:s, s:s, s:s, s:I}", "repository", repo,
			"reference", reference, "digest", ds, "mediaType",
			m.media_type, "manifestSize", (json_int_t)m.len);
	json_object_set_new(out, "kind",
			    json_string(is_index ? "index" : "image"));
	json_object_set_new(out, "raw", text_json(m.data, m.len));
	copy_field(out, "annotations", doc, "annotations");
	if (is_index) {
		json_object_set_new(out, "manifests",
				    children_json(reg, repo, doc));
		json_object_set_new(out, "referrers",
				    referrers_json(reg, repo, &m.digest));
	} else {
		json_t *img = image_json(reg, repo, &m.digest, doc);

		json_object_set_new(img, "mediaType",
				    json_string(m.media_type));
		json_object_set_new(out, "image", img);
	}
	json_decref(doc);
	reg_manifest_free(&m);
	return out;
}
