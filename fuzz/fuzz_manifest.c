/*
 * fuzz_manifest.c - manifests and indexes as clients push them
 * (manifest_parse).
 *
 * Input: the request's Content-Type on the first line (an empty line
 * for none), the document after it.  A document berth accepts must come
 * back as a consistent struct: a known media type matching its kind,
 * an image's config first among its blobs, every reference a parsed
 * digest with a size, annotations that are a JSON object of strings.
 * A refused one must come with a reason for the person pushing it.
 */
#include "fuzz.h"
#include "manifest.h"

#include <jansson.h>

static bool is_index_type(const char *t)
{
	return strcmp(t, MT_OCI_INDEX) == 0 || strcmp(t, MT_DOCKER_LIST) == 0;
}

static void check_refs(const struct manifest_ref *refs, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		FUZZ_CHECK(refs[i].size >= 0);
		FUZZ_CHECK(refs[i].media_type != NULL);
		FUZZ_CHECK(refs[i].digest.alg == DIGEST_SHA256 ||
			   refs[i].digest.alg == DIGEST_SHA512);
	}
}

static void check_annotations(const char *text)
{
	json_t *root = json_loads(text, 0, NULL);
	const char *key;
	json_t *value;

	FUZZ_CHECK(json_is_object(root));
	json_object_foreach(root, key, value)
		FUZZ_CHECK(json_is_string(value));
	json_decref(root);
}

static void check_accepted(const struct manifest *m)
{
	FUZZ_CHECK(manifest_type_known(m->media_type));
	FUZZ_CHECK((m->kind == MANIFEST_INDEX) == is_index_type(m->media_type));
	if (m->kind == MANIFEST_IMAGE) {
		FUZZ_CHECK(m->blobs_count >= 1 && m->children_count == 0);
		FUZZ_CHECK(m->artifact_type != NULL);
	} else {
		FUZZ_CHECK(m->blobs_count == 0);
	}
	check_refs(m->blobs, m->blobs_count);
	check_refs(m->children, m->children_count);
	if (m->annotations_json)
		check_annotations(m->annotations_json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *doc;
	size_t doc_len;
	char *ctype, err[256] = "";
	struct manifest *m;
	char *body;

	fuzz_split(data, size, '\n', &ctype, &doc, &doc_len);
	/* An exact-size copy, so a read past the body trips ASan. */
	body = malloc(doc_len ? doc_len : 1);
	if (!body)
		abort();
	memcpy(body, doc, doc_len);

	m = manifest_parse(body, doc_len, *ctype ? ctype : NULL, err,
			   sizeof(err));
	if (m)
		check_accepted(m);
	else
		FUZZ_CHECK(err[0] != '\0');

	manifest_free(m);
	free(body);
	free(ctype);
	return 0;
}
