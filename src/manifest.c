/*
 * manifest.c - validates pushed manifests and indexes and extracts the
 * references the registry must check and index.
 *
 * A manifest is the one document a client pushes that the registry must
 * understand: its blobs must exist before it is accepted, its children
 * keep other manifests alive, and its subject and artifact type feed the
 * referrers API.  Everything else in it is the client's business and is
 * stored byte for byte.  The checks here therefore cover structure and
 * the fields berth reads, and every error names the offending field so
 * the person pushing can fix the document.
 */
#include "manifest.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Where a reason for rejecting the document is written. */
struct manifest_err {
	char *buf;
	size_t len;
};

static int manifest_fail(struct manifest_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int manifest_fail(struct manifest_err *e, const char *fmt, ...)
{
	va_list ap;

	if (e->buf && e->len) {
		va_start(ap, fmt);
		vsnprintf(e->buf, e->len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

bool manifest_type_known(const char *media_type)
{
	return media_type && (strcmp(media_type, MT_OCI_MANIFEST) == 0 ||
			      strcmp(media_type, MT_OCI_INDEX) == 0 ||
			      strcmp(media_type, MT_DOCKER_MANIFEST) == 0 ||
			      strcmp(media_type, MT_DOCKER_LIST) == 0);
}

static bool manifest_type_is_index(const char *media_type)
{
	return strcmp(media_type, MT_OCI_INDEX) == 0 ||
	       strcmp(media_type, MT_DOCKER_LIST) == 0;
}

/*
 * Reduces a Content-Type header to its bare media type: parameters after
 * ';' and surrounding whitespace go, and the type is lowercased because
 * HTTP media types are case-insensitive.  Returns a new string, or NULL
 * when nothing is left.
 */
static char *manifest_bare_content_type(const char *content_type)
{
	const char *start, *end;
	char *bare;

	if (!content_type)
		return NULL;
	start = content_type;
	while (*start == ' ' || *start == '\t')
		start++;
	end = start + strcspn(start, ";");
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end == start)
		return NULL;

	bare = xstrndup(start, end - start);
	for (char *p = bare; *p; p++)
		*p = tolower((unsigned char)*p);
	return bare;
}

/* Without a mediaType or a Content-Type, the fields say what it is. */
static const char *manifest_infer_type(const json_t *root)
{
	if (json_object_get(root, "manifests"))
		return MT_OCI_INDEX;
	if (json_object_get(root, "config") || json_object_get(root, "layers"))
		return MT_OCI_MANIFEST;
	return NULL;
}

/*
 * Settles the effective media type from the document's mediaType, the
 * request's Content-Type and, failing both, the document's fields.  The
 * two must agree when both are given, so a document is never stored under
 * a type its own body contradicts.
 */
static int manifest_resolve_type(const json_t *root, const char *content_type,
				 char **out, struct manifest_err *e)
{
	const json_t *field = json_object_get(root, "mediaType");
	char *ct = manifest_bare_content_type(content_type);
	const char *type;
	int rc = -1;

	if (field && !json_is_string(field)) {
		manifest_fail(e, "mediaType: must be a string");
		goto out;
	}
	type = json_string_value(field);
	if (type && ct && strcmp(type, ct) != 0) {
		manifest_fail(e,
			      "mediaType %.100s does not match "
			      "Content-Type %.100s",
			      type, ct);
		goto out;
	}

	if (!type)
		type = ct ? ct : manifest_infer_type(root);
	if (!type) {
		manifest_fail(e, "mediaType: missing, and neither the "
				 "Content-Type nor the fields name a type");
		goto out;
	}
	if (!manifest_type_known(type)) {
		manifest_fail(e, "mediaType: unsupported manifest type %.100s",
			      type);
		goto out;
	}

	*out = xstrdup(type);
	rc = 0;
out:
	free(ct);
	return rc;
}

static int manifest_descriptor_digest(const json_t *obj, const char *path,
				      struct digest *d, struct manifest_err *e)
{
	const json_t *field = json_object_get(obj, "digest");
	int rc;

	if (!field)
		return manifest_fail(e, "%s.digest: missing", path);
	if (!json_is_string(field))
		return manifest_fail(e, "%s.digest: must be a string", path);

	rc = digest_parse(json_string_value(field), d);
	if (rc == -2)
		return manifest_fail(e,
				     "%s.digest: unsupported digest "
				     "algorithm",
				     path);
	if (rc < 0)
		return manifest_fail(e, "%s.digest: invalid digest", path);
	return 0;
}

/*
 * Checks a descriptor, an object with a mediaType string, a digest and a
 * non-negative integer size, and fills ref.  path names the descriptor in
 * errors, e.g. "layers[2]".  On success ref->media_type is a new string
 * the caller frees; on failure ref holds nothing that needs freeing.
 */
static int manifest_descriptor(const json_t *obj, const char *path,
			       struct manifest_ref *ref, struct manifest_err *e)
{
	const json_t *type, *size;

	if (!json_is_object(obj))
		return manifest_fail(e, "%s: must be an object", path);

	type = json_object_get(obj, "mediaType");
	if (!type)
		return manifest_fail(e, "%s.mediaType: missing", path);
	if (!json_is_string(type))
		return manifest_fail(e, "%s.mediaType: must be a string", path);

	if (manifest_descriptor_digest(obj, path, &ref->digest, e) < 0)
		return -1;

	size = json_object_get(obj, "size");
	if (!size)
		return manifest_fail(e, "%s.size: missing", path);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return manifest_fail(e,
				     "%s.size: must be a non-negative "
				     "integer",
				     path);

	ref->size = json_integer_value(size);
	ref->media_type = xstrdup(json_string_value(type));
	return 0;
}

/*
 * Layers the registry is not meant to hold: their bytes live at the URLs
 * the descriptor lists, so clients fetch them from there and a push never
 * uploads them.  Such a layer must therefore list where it lives.  Only
 * the registered type families count, so an artifact's own layer type
 * that merely contains the word is still an ordinary blob.
 */
static bool manifest_is_foreign(const char *media_type)
{
	static const char docker[] =
		"application/vnd.docker.image.rootfs.foreign.";
	static const char oci[] =
		"application/vnd.oci.image.layer.nondistributable.";

	return strncmp(media_type, docker, sizeof(docker) - 1) == 0 ||
	       strncmp(media_type, oci, sizeof(oci) - 1) == 0;
}

static int manifest_check_urls(const json_t *obj, const char *path,
			       struct manifest_err *e)
{
	const json_t *urls = json_object_get(obj, "urls");
	size_t i;
	const json_t *url;

	if (!json_is_array(urls) || json_array_size(urls) == 0)
		return manifest_fail(e,
				     "%s.urls: a non-distributable layer "
				     "must list its URLs",
				     path);
	json_array_foreach(urls, i, url)
		if (!json_is_string(url))
			return manifest_fail(e,
					     "%s.urls[%zu]: must be a "
					     "string",
					     path, i);
	return 0;
}

/*
 * Reads the array field name of root as descriptors, appending each to
 * refs[*count] (room for all is already allocated).  With skip_foreign,
 * non-distributable layers are checked but not appended.
 */
static int manifest_descriptor_array(const json_t *root, const char *name,
				     bool skip_foreign,
				     struct manifest_ref *refs, size_t *count,
				     struct manifest_err *e)
{
	const json_t *array = json_object_get(root, name);
	const json_t *item;
	char path[64];
	size_t i;

	json_array_foreach(array, i, item) {
		struct manifest_ref *ref = &refs[*count];

		snprintf(path, sizeof(path), "%s[%zu]", name, i);
		if (manifest_descriptor(item, path, ref, e) < 0)
			return -1;
		if (!skip_foreign || !manifest_is_foreign(ref->media_type)) {
			(*count)++;
			continue;
		}

		free(ref->media_type);
		ref->media_type = NULL;
		if (manifest_check_urls(item, path, e) < 0)
			return -1;
	}
	return 0;
}

/* A required array field: present and an array, possibly empty. */
static int manifest_require_array(const json_t *root, const char *name,
				  struct manifest_err *e)
{
	const json_t *field = json_object_get(root, name);

	if (!field)
		return manifest_fail(e, "%s: missing", name);
	if (!json_is_array(field))
		return manifest_fail(e, "%s: must be an array", name);
	return 0;
}

/*
 * A field that belongs to the other kind of document.  Rejecting it keeps
 * one document from meaning an image to one reader and an index to
 * another.
 */
static int manifest_forbid(const json_t *root, const char *name,
			   const char *kind, struct manifest_err *e)
{
	if (json_object_get(root, name))
		return manifest_fail(e, "%s: not allowed in %s", name, kind);
	return 0;
}

static int manifest_parse_image(const json_t *root, struct manifest *m,
				struct manifest_err *e)
{
	const json_t *config = json_object_get(root, "config");

	if (manifest_forbid(root, "manifests", "an image manifest", e) < 0)
		return -1;
	if (!config)
		return manifest_fail(e, "config: missing");
	if (manifest_require_array(root, "layers", e) < 0)
		return -1;

	m->kind = MANIFEST_IMAGE;
	m->blobs = xcalloc(1 + json_array_size(json_object_get(root, "layers")),
			   sizeof(*m->blobs));
	if (manifest_descriptor(config, "config", &m->blobs[0], e) < 0)
		return -1;
	m->blobs_count = 1;
	return manifest_descriptor_array(root, "layers", true, m->blobs,
					 &m->blobs_count, e);
}

static int manifest_parse_index(const json_t *root, struct manifest *m,
				struct manifest_err *e)
{
	if (manifest_forbid(root, "config", "an index", e) < 0 ||
	    manifest_forbid(root, "layers", "an index", e) < 0 ||
	    manifest_require_array(root, "manifests", e) < 0)
		return -1;

	m->kind = MANIFEST_INDEX;
	m->children =
		xcalloc(json_array_size(json_object_get(root, "manifests")),
			sizeof(*m->children));
	return manifest_descriptor_array(root, "manifests", false, m->children,
					 &m->children_count, e);
}

static int manifest_parse_subject(const json_t *root, struct manifest *m,
				  struct manifest_err *e)
{
	const json_t *subject = json_object_get(root, "subject");
	struct manifest_ref ref = {0};

	if (!subject)
		return 0;
	if (manifest_descriptor(subject, "subject", &ref, e) < 0)
		return -1;

	free(ref.media_type);
	m->has_subject = true;
	m->subject = ref.digest;
	return 0;
}

/*
 * The referrers API reports artifactType, falling back to an image's
 * config media type, as the distribution spec prescribes.
 */
static int manifest_parse_artifact_type(const json_t *root, struct manifest *m,
					struct manifest_err *e)
{
	const json_t *field = json_object_get(root, "artifactType");

	if (field && !json_is_string(field))
		return manifest_fail(e, "artifactType: must be a string");
	if (field)
		m->artifact_type = xstrdup(json_string_value(field));
	else if (m->kind == MANIFEST_IMAGE)
		m->artifact_type = xstrdup(m->blobs[0].media_type);
	return 0;
}

static int manifest_parse_annotations(const json_t *root, struct manifest *m,
				      struct manifest_err *e)
{
	const json_t *ann = json_object_get(root, "annotations");
	const char *key;
	const json_t *value;

	if (!ann)
		return 0;
	if (!json_is_object(ann))
		return manifest_fail(e, "annotations: must be an object");
	json_object_foreach((json_t *)ann, key, value)
		if (!json_is_string(value))
			return manifest_fail(e,
					     "annotations.%.100s: must be "
					     "a string",
					     key);

	m->annotations_json = json_dumps(ann, JSON_COMPACT);
	if (!m->annotations_json) {
		fprintf(stderr, "berth: out of memory serialising JSON\n");
		abort();
	}
	return 0;
}

static int manifest_check_schema(const json_t *root, struct manifest_err *e)
{
	const json_t *version = json_object_get(root, "schemaVersion");

	if (!version)
		return manifest_fail(e, "schemaVersion: missing");
	if (!json_is_integer(version) || json_integer_value(version) != 2)
		return manifest_fail(e, "schemaVersion: must be 2");
	return 0;
}

static int manifest_parse_root(const json_t *root, const char *content_type,
			       struct manifest *m, struct manifest_err *e)
{
	int rc;

	if (!json_is_object(root))
		return manifest_fail(e, "manifest must be a JSON object");
	if (manifest_check_schema(root, e) < 0 ||
	    manifest_resolve_type(root, content_type, &m->media_type, e) < 0)
		return -1;

	if (manifest_type_is_index(m->media_type))
		rc = manifest_parse_index(root, m, e);
	else
		rc = manifest_parse_image(root, m, e);
	if (rc < 0)
		return -1;

	if (manifest_parse_subject(root, m, e) < 0 ||
	    manifest_parse_artifact_type(root, m, e) < 0 ||
	    manifest_parse_annotations(root, m, e) < 0)
		return -1;
	return 0;
}

struct manifest *manifest_parse(const char *data, size_t len,
				const char *content_type, char *err,
				size_t errlen)
{
	struct manifest_err e = {err, errlen};
	struct manifest *m = NULL;
	json_error_t jerr;
	json_t *root;

	/*
	 * Clients never repeat a key, and a repeat could mean two things to
	 * two readers.  Any JSON value is decoded so that a scalar gets the
	 * clearer "must be a JSON object" below.
	 */
	root = json_loadb(data ? data : "", data ? len : 0,
			  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root) {
		manifest_fail(&e, "invalid JSON at line %d column %d: %s",
			      jerr.line, jerr.column, jerr.text);
		return NULL;
	}

	m = xcalloc(1, sizeof(*m));
	if (manifest_parse_root(root, content_type, m, &e) < 0) {
		manifest_free(m);
		m = NULL;
	}
	json_decref(root);
	return m;
}

static void manifest_free_refs(struct manifest_ref *refs, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(refs[i].media_type);
	free(refs);
}

void manifest_free(struct manifest *m)
{
	if (!m)
		return;
	free(m->media_type);
	free(m->artifact_type);
	manifest_free_refs(m->blobs, m->blobs_count);
	manifest_free_refs(m->children, m->children_count);
	free(m->annotations_json);
	free(m);
}
