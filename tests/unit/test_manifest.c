/*
 * test_manifest.c - manifests and indexes as real clients push them, and
 * the malformed documents berth must turn away with a precise reason.
 */
#include "check.h"
#include "manifest.h"
#include "util.h"

#include <stdlib.h>

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"
#define H3 "3333333333333333333333333333333333333333333333333333333333333333"
#define H4 "4444444444444444444444444444444444444444444444444444444444444444"
#define D1 "sha256:" H1
#define D2 "sha256:" H2
#define D3 "sha256:" H3
#define D4 "sha256:" H4

#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_DCONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DLAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MT_DFOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

#define DESC(mt, d, size)                                                      \
	"{\"mediaType\":\"" mt "\",\"digest\":\"" d "\",\"size\":" #size "}"

#define OCI_MANIFEST                                                                          \
	"{\n  \"schemaVersion\": 2,\n"                                                        \
	"  \"mediaType\": \"" MT_OCI_MANIFEST "\",\n"                                         \
	"  \"config\": " DESC(                                                                \
		MT_CONFIG, D1,                                                                \
		1470) ",\n"                                                                   \
		      "  \"layers\": [" DESC(MT_LAYER, D2, 3370706) ", " DESC(                \
			      MT_LAYER, D3,                                                   \
			      0) "],\n"                                                       \
				 "  \"annotations\": {\"org.opencontainers.image.created\": " \
				 "\"2024-01-02T03:04:05Z\", \"b\": \"x\\\"y\"}\n}"

#define OCI_INDEX                                                              \
	"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\","             \
	"\"manifests\":["                                                      \
	"{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\","        \
	"\"size\":525,\"platform\":{\"architecture\":\"amd64\","               \
	"\"os\":\"linux\"}},"                                                  \
	"{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D2 "\","        \
	"\"size\":526,\"platform\":{\"architecture\":\"arm64\","               \
	"\"os\":\"linux\",\"variant\":\"v8\"}}]}"

/* Parses a NUL-terminated document; err is reset for each call. */
static char err[256];

static struct manifest *parse(const char *json, const char *content_type)
{
	strcpy(err, "(unset)");
	return manifest_parse(json, strlen(json), content_type, err,
			      sizeof(err));
}

static void check_ref(const struct manifest_ref *r, const char *digest,
		      int64_t size, const char *media_type)
{
	char s[DIGEST_MAX_STR + 1];

	digest_format(&r->digest, s);
	CHECK_STR(s, digest);
	CHECK(r->size == size);
	CHECK_STR(r->media_type, media_type);
}

static void test_oci_manifest(void)
{
	struct manifest *m = parse(OCI_MANIFEST, MT_OCI_MANIFEST);

	CHECK(m != NULL);
	if (!m) {
		printf("  %s\n", err);
		return;
	}
	CHECK(m->kind == MANIFEST_IMAGE);
	CHECK_STR(m->media_type, MT_OCI_MANIFEST);
	CHECK(m->blobs_count == 3);
	check_ref(&m->blobs[0], D1, 1470, MT_CONFIG);
	check_ref(&m->blobs[1], D2, 3370706, MT_LAYER);
	check_ref(&m->blobs[2], D3, 0, MT_LAYER);
	CHECK(m->children_count == 0);
	CHECK(!m->has_subject);
	CHECK_STR(m->artifact_type, MT_CONFIG);
	CHECK_STR(m->annotations_json,
		  "{\"org.opencontainers.image.created\":"
		  "\"2024-01-02T03:04:05Z\",\"b\":\"x\\\"y\"}");
	manifest_free(m);
}

static void test_oci_index(void)
{
	struct manifest *m = parse(OCI_INDEX, NULL);

	CHECK(m != NULL);
	if (!m)
		return;
	CHECK(m->kind == MANIFEST_INDEX);
	CHECK_STR(m->media_type, MT_OCI_INDEX);
	CHECK(m->children_count == 2);
	check_ref(&m->children[0], D1, 525, MT_OCI_MANIFEST);
	check_ref(&m->children[1], D2, 526, MT_OCI_MANIFEST);
	CHECK(m->blobs_count == 0);
	CHECK(m->artifact_type == NULL);
	CHECK(m->annotations_json == NULL);
	CHECK(!m->has_subject);
	manifest_free(m);
}

/* Docker's foreign layers live elsewhere; they are not blobs to check. */
static void test_docker_manifest(void)
{
	const char *json =
		"{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST
		"\",\"config\":" DESC(
			MT_DCONFIG, D1,
			7023) ",\"layers\":["
			      "{\"mediaType\":\"" MT_DFOREIGN
			      "\",\"digest\":\"" D2 "\","
			      "\"size\":1,\"urls\":[\"https://example.com/layer\"]}," DESC(
				      MT_DLAYER, D3, 32654) "]}";
	const char *look_alike = "{\"schemaVersion\":2,\"config\":" DESC(
		MT_CONFIG, D1,
		2) ",\"layers\":[" DESC("application/vnd.example.foreign+json",
					D2, 5) "]}";
	struct manifest *m = parse(json, MT_DOCKER_MANIFEST);

	CHECK(m != NULL);
	if (!m) {
		printf("  %s\n", err);
		return;
	}
	CHECK(m->kind == MANIFEST_IMAGE);
	CHECK_STR(m->media_type, MT_DOCKER_MANIFEST);
	CHECK(m->blobs_count == 2);
	check_ref(&m->blobs[0], D1, 7023, MT_DCONFIG);
	check_ref(&m->blobs[1], D3, 32654, MT_DLAYER);
	CHECK_STR(m->artifact_type, MT_DCONFIG);
	manifest_free(m);

	m = parse(look_alike, NULL);
	CHECK(m && m->blobs_count == 2);
	if (m)
		check_ref(&m->blobs[1], D2, 5,
			  "application/vnd.example.foreign+json");
	manifest_free(m);
}

static void test_docker_list(void)
{
	const char *json =
		"{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_LIST "\","
		"\"manifests\":[" DESC(MT_DOCKER_MANIFEST, D4, 528) "]}";
	struct manifest *m = parse(json, NULL);

	CHECK(m != NULL);
	if (!m)
		return;
	CHECK(m->kind == MANIFEST_INDEX);
	CHECK_STR(m->media_type, MT_DOCKER_LIST);
	CHECK(m->children_count == 1);
	check_ref(&m->children[0], D4, 528, MT_DOCKER_MANIFEST);
	manifest_free(m);
}

/* An artifact: an empty config, its own artifactType and a subject. */
static void test_artifact_with_subject(void)
{
	const char *json =
		"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\","
		"\"artifactType\":\"application/vnd.example.sbom+json\","
		"\"config\":" DESC(MT_OCI_EMPTY, D1,
				   2) ",\"layers\":[],"
				      "\"subject\":" DESC(
					      MT_OCI_MANIFEST, D2,
					      1234) ","
						    "\"annotations\":{}}";
	struct manifest *m = parse(json, MT_OCI_MANIFEST);
	char s[DIGEST_MAX_STR + 1];

	CHECK(m != NULL);
	if (!m)
		return;
	CHECK(m->blobs_count == 1);
	check_ref(&m->blobs[0], D1, 2, MT_OCI_EMPTY);
	CHECK(m->has_subject);
	digest_format(&m->subject, s);
	CHECK_STR(s, D2);
	CHECK_STR(m->artifact_type, "application/vnd.example.sbom+json");
	CHECK_STR(m->annotations_json, "{}");
	manifest_free(m);
}

/* Without artifactType, an index has none: only images fall back. */
static void test_index_artifact(void)
{
	const char *with =
		"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\","
		"\"artifactType\":\"application/vnd.example.bundle\","
		"\"manifests\":[],"
		"\"subject\":" DESC(MT_OCI_INDEX, D3, 99) "}";
	struct manifest *m = parse(with, NULL);
	char s[DIGEST_MAX_STR + 1];

	CHECK(m != NULL);
	if (!m)
		return;
	CHECK(m->children_count == 0);
	CHECK_STR(m->artifact_type, "application/vnd.example.bundle");
	CHECK(m->has_subject);
	digest_format(&m->subject, s);
	CHECK_STR(s, D3);
	manifest_free(m);
}

/* The type comes from the Content-Type, or from the fields, when absent. */
static void test_type_sources(void)
{
	const char *image =
		"{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, D1,
							1) ",\"layers\":[]}";
	const char *image_no_layers =
		"{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, D1, 1) "}";
	const char *index = "{\"schemaVersion\":2,\"manifests\":[]}";
	struct manifest *m;

	m = parse(image, NULL);
	CHECK(m && strcmp(m->media_type, MT_OCI_MANIFEST) == 0);
	manifest_free(m);

	m = parse(image, MT_DOCKER_MANIFEST);
	CHECK(m && strcmp(m->media_type, MT_DOCKER_MANIFEST) == 0);
	manifest_free(m);

	m = parse(image, "");
	CHECK(m && strcmp(m->media_type, MT_OCI_MANIFEST) == 0);
	manifest_free(m);

	m = parse(index, NULL);
	CHECK(m && strcmp(m->media_type, MT_OCI_INDEX) == 0);
	CHECK(m && m->kind == MANIFEST_INDEX);
	manifest_free(m);

	m = parse(index, MT_DOCKER_LIST);
	CHECK(m && strcmp(m->media_type, MT_DOCKER_LIST) == 0);
	manifest_free(m);

	/* Inferred as an image, which must then have its layers. */
	m = parse(image_no_layers, NULL);
	CHECK(m == NULL);
	CHECK_STR(err, "layers: missing");
}

static void test_content_type_parameters(void)
{
	static const char *const types[] = {
		MT_OCI_MANIFEST "; charset=utf-8",
		MT_OCI_MANIFEST ";charset=utf-8",
		" " MT_OCI_MANIFEST " ",
		"\t" MT_OCI_MANIFEST "\t; q=1",
		"Application/VND.oci.image.manifest.v1+JSON",
	};
	struct manifest *m;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		m = parse(OCI_MANIFEST, types[i]);
		if (!m) {
			printf("  \"%s\": %s\n", types[i], err);
			CHECK(0);
			continue;
		}
		CHECK_STR(m->media_type, MT_OCI_MANIFEST);
		manifest_free(m);
	}
}

static void test_content_type_mismatch(void)
{
	const char *index_body =
		"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX
		"\",\"manifests\":[]}";

	CHECK(parse(OCI_MANIFEST, MT_DOCKER_MANIFEST) == NULL);
	CHECK(strstr(err, "does not match Content-Type") != NULL);
	CHECK(strstr(err, MT_OCI_MANIFEST) != NULL);
	CHECK(strstr(err, MT_DOCKER_MANIFEST) != NULL);

	CHECK(parse(OCI_MANIFEST, MT_OCI_INDEX "; charset=utf-8") == NULL);
	CHECK(strstr(err, "does not match Content-Type") != NULL);

	CHECK(parse(index_body, MT_OCI_MANIFEST) == NULL);
	CHECK(strstr(err, "does not match Content-Type") != NULL);

	CHECK(parse(OCI_MANIFEST, "application/json") == NULL);
	CHECK(strstr(err, "does not match Content-Type") != NULL);
}

struct bad_case {
	const char *json;
	const char *content_type;
	const char *err; /* the start of the expected reason */
};

#define IMG(fields)                                                            \
	"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\"," fields "}"
#define CFG "\"config\":" DESC(MT_CONFIG, D1, 1)
#define IDX(fields)                                                            \
	"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\"," fields "}"
#define LAYER_WITH(field)                                                      \
	"{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"" D2 "\"," field "}"

static const struct bad_case bad_cases[] = {
	/* not a JSON object */
	{"", NULL, "invalid JSON"},
	{"   ", NULL, "invalid JSON"},
	{"[]", NULL, "manifest must be a JSON object"},
	{"null", NULL, "manifest must be a JSON object"},
	{"\"text\"", NULL, "manifest must be a JSON object"},
	{"2", NULL, "manifest must be a JSON object"},
	{"{\"schemaVersion\":2,", NULL, "invalid JSON"},
	{"{\"schemaVersion\":2", NULL, "invalid JSON"},
	{IMG(CFG ",\"layers\":[]") "x", NULL, "invalid JSON"},
	{IMG(CFG ",\"layers\":[]") "{}", NULL, "invalid JSON"},
	{"{\"schemaVersion\":2,\"schemaVersion\":2}", NULL, "invalid JSON"},
	{IMG(CFG ",\"layers\":[],\"annotations\":{\"a\":\"1\",\"a\":\"2\"}"),
	 NULL, "invalid JSON"},
	{"{\"schemaVersion\":2,\"mediaType\":\"\\u0000\"}", NULL,
	 "invalid JSON"},
	{"{\"schemaVersion\":2,\"a\":\"\xff\"}", NULL, "invalid JSON"},
	{"{'schemaVersion':2}", NULL, "invalid JSON"},
	/* schemaVersion */
	{"{}", NULL, "schemaVersion: missing"},
	{"{\"mediaType\":\"" MT_OCI_MANIFEST "\"}", NULL,
	 "schemaVersion: missing"},
	{"{\"schemaVersion\":1}", NULL, "schemaVersion: must be 2"},
	{"{\"schemaVersion\":3}", NULL, "schemaVersion: must be 2"},
	{"{\"schemaVersion\":\"2\"}", NULL, "schemaVersion: must be 2"},
	{"{\"schemaVersion\":2.0}", NULL, "schemaVersion: must be 2"},
	{"{\"schemaVersion\":null}", NULL, "schemaVersion: must be 2"},
	/* media type */
	{"{\"schemaVersion\":2}", NULL, "mediaType: missing"},
	{"{\"schemaVersion\":2,\"mediaType\":7}", NULL,
	 "mediaType: must be a string"},
	{"{\"schemaVersion\":2,\"mediaType\":\"application/json\"}", NULL,
	 "mediaType: unsupported manifest type application/json"},
	{"{\"schemaVersion\":2,\"mediaType\":\"" MT_CONFIG "\"}", NULL,
	 "mediaType: unsupported manifest type"},
	{"{\"schemaVersion\":2,\"config\":{}}", "application/octet-stream",
	 "mediaType: unsupported manifest type application/octet-stream"},
	{"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker."
	 "distribution.manifest.v1+json\"}",
	 NULL, "mediaType: unsupported manifest type"},
	/* image config */
	{IMG("\"layers\":[]"), NULL, "config: missing"},
	{IMG("\"config\":[],\"layers\":[]"), NULL, "config: must be an object"},
	{IMG("\"config\":{\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]"),
	 NULL, "config.mediaType: missing"},
	{IMG("\"config\":{\"mediaType\":null,\"digest\":\"" D1
	     "\",\"size\":1},\"layers\":[]"),
	 NULL, "config.mediaType: must be a string"},
	{IMG("\"config\":{\"mediaType\":\"a/b\",\"size\":1},\"layers\":[]"),
	 NULL, "config.digest: missing"},
	{IMG("\"config\":{\"mediaType\":\"a/b\",\"digest\":1,\"size\":1},"
	     "\"layers\":[]"),
	 NULL, "config.digest: must be a string"},
	{IMG("\"config\":" DESC(MT_CONFIG, "sha256:abc", 1) ",\"layers\":[]"),
	 NULL, "config.digest: invalid digest"},
	{IMG("\"config\":" DESC(MT_CONFIG, "md5:d41d8cd98f00b204e98009",
				1) ",\"layers\":[]"),
	 NULL, "config.digest: unsupported digest algorithm"},
	{IMG("\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\"},"
	     "\"layers\":[]"),
	 NULL, "config.size: missing"},
	{IMG("\"config\":" DESC(MT_CONFIG, D1, -1) ",\"layers\":[]"), NULL,
	 "config.size: must be a non-negative integer"},
	{IMG("\"config\":" DESC(MT_CONFIG, D1, 1.5) ",\"layers\":[]"), NULL,
	 "config.size: must be a non-negative integer"},
	{IMG("\"config\":" DESC(MT_CONFIG, D1, "1") ",\"layers\":[]"), NULL,
	 "config.size: must be a non-negative integer"},
	{IMG("\"config\":" DESC(MT_CONFIG, D1,
				99999999999999999999) ",\"layers\":[]"),
	 NULL, "invalid JSON"},
	/* layers */
	{IMG(CFG), NULL, "layers: missing"},
	{IMG(CFG ",\"layers\":{}"), NULL, "layers: must be an array"},
	{IMG(CFG ",\"layers\":null"), NULL, "layers: must be an array"},
	{IMG(CFG ",\"layers\":[7]"), NULL, "layers[0]: must be an object"},
	{IMG(CFG ",\"layers\":[" DESC(MT_LAYER, D2, 1) "," DESC(
		 MT_LAYER, D3, 1) "," DESC(MT_LAYER, "sha256:" H4 "0", 1) "]"),
	 NULL, "layers[2].digest: invalid digest"},
	{IMG(CFG ",\"layers\":[" DESC(MT_LAYER, D2,
				      1) "," LAYER_WITH("\"size\":-5") "]"),
	 NULL, "layers[1].size: must be a non-negative integer"},
	{IMG(CFG ",\"layers\":[" LAYER_WITH("\"size\":1,\"mediaType\":1") "]"),
	 NULL, "invalid JSON"},
	{IMG(CFG ",\"layers\":[{\"mediaType\":\"" MT_DFOREIGN "\","
		 "\"digest\":\"" D2 "\",\"size\":1}]"),
	 NULL, "layers[0].urls: a non-distributable layer must list"},
	{IMG(CFG ",\"layers\":[{\"mediaType\":\"" MT_DFOREIGN "\","
		 "\"digest\":\"" D2 "\",\"size\":1,\"urls\":[]}]"),
	 NULL, "layers[0].urls: a non-distributable layer must list"},
	{IMG(CFG ",\"layers\":[{\"mediaType\":\"application/vnd.oci.image."
		 "layer.nondistributable.v1.tar\",\"digest\":\"" D2 "\","
		 "\"size\":1,\"urls\":[1]}]"),
	 NULL, "layers[0].urls[0]: must be a string"},
	{IMG(CFG ",\"layers\":[],\"manifests\":[]"), NULL,
	 "manifests: not allowed in an image manifest"},
	/* index */
	{IDX("\"x\":1"), NULL, "manifests: missing"},
	{IDX("\"manifests\":{}"), NULL, "manifests: must be an array"},
	{IDX("\"manifests\":[" DESC(MT_OCI_MANIFEST, D1,
				    1) ","
				       "{\"mediaType\":\"" MT_OCI_MANIFEST
				       "\",\"digest\":\"" D2 "\","
				       "\"size\":true}]"),
	 NULL, "manifests[1].size: must be a non-negative integer"},
	{IDX("\"manifests\":[{\"digest\":\"" D1 "\",\"size\":1}]"), NULL,
	 "manifests[0].mediaType: missing"},
	{IDX("\"manifests\":[]," CFG), NULL, "config: not allowed in an index"},
	{IDX("\"manifests\":[],\"layers\":[]"), NULL,
	 "layers: not allowed in an index"},
	/* subject, artifactType, annotations */
	{IMG(CFG ",\"layers\":[],\"subject\":\"" D1 "\""), NULL,
	 "subject: must be an object"},
	{IMG(CFG ",\"layers\":[],\"subject\":" DESC(MT_OCI_MANIFEST,
						    "sha256:xyz", 1)),
	 NULL, "subject.digest: invalid digest"},
	{IDX("\"manifests\":[],\"subject\":{}"), NULL,
	 "subject.mediaType: missing"},
	{IMG(CFG ",\"layers\":[],\"artifactType\":5"), NULL,
	 "artifactType: must be a string"},
	{IMG(CFG ",\"layers\":[],\"annotations\":[]"), NULL,
	 "annotations: must be an object"},
	{IMG(CFG ",\"layers\":[],\"annotations\":{\"k\":\"v\",\"n\":1}"), NULL,
	 "annotations.n: must be a string"},
};

static void test_rejects(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct manifest *m = parse(c->json, c->content_type);

		if (m || strncmp(err, c->err, strlen(c->err)) != 0) {
			printf("  case %zu %s: got \"%s\", want \"%s...\"\n", i,
			       m ? "accepted" : "rejected", err, c->err);
			CHECK(0);
		}
		manifest_free(m);
	}
}

/* The reason is cut to fit and the document need not be terminated. */
static void test_error_buffer(void)
{
	char small[8];
	char *copy = xstrdup(OCI_MANIFEST);
	size_t len = strlen(copy);
	struct manifest *m;

	memset(small, 'x', sizeof(small));
	CHECK(manifest_parse("[]", 2, NULL, small, sizeof(small)) == NULL);
	CHECK(strlen(small) == sizeof(small) - 1);
	CHECK(strncmp(small, "manifes", 7) == 0);

	CHECK(manifest_parse("[]", 2, NULL, NULL, 0) == NULL);
	CHECK(manifest_parse(NULL, 0, NULL, small, sizeof(small)) == NULL);

	/* Only len bytes are read: the rest must not matter. */
	copy = xrealloc(copy, len + 16);
	memcpy(copy + len, "garbage", 8);
	m = manifest_parse(copy, len, NULL, err, sizeof(err));
	CHECK(m != NULL);
	manifest_free(m);
	CHECK(manifest_parse(copy, len - 1, NULL, err, sizeof(err)) == NULL);
	CHECK(strncmp(err, "invalid JSON", 12) == 0);
	free(copy);
}

/* A manifest near the 4 MiB limit registries accept, with many layers. */
static void test_large_manifest(void)
{
	struct buf b = BUF_INIT;
	struct manifest *m;
	size_t layers = 0;
	char s[DIGEST_MAX_STR + 1];

	buf_adds(&b, "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST
		     "\",\"config\":" DESC(MT_CONFIG, D1, 10) ",\"layers\":[");
	while (b.len < 4 * 1024 * 1024 - 400) {
		buf_addf(&b,
			 "%s{\"mediaType\":\"" MT_LAYER "\",\"digest\":"
			 "\"sha256:%064zx\",\"size\":%zu,\"annotations\":"
			 "{\"n\":\"%zu\"}}",
			 layers ? "," : "", layers, layers * 1000, layers);
		layers++;
	}
	buf_adds(&b, "]}");
	CHECK(b.len <= 4 * 1024 * 1024);
	CHECK(layers > 10000);

	m = manifest_parse(b.data, b.len, MT_OCI_MANIFEST, err, sizeof(err));
	CHECK(m != NULL);
	if (m) {
		CHECK(m->blobs_count == layers + 1);
		digest_format(&m->blobs[layers].digest, s);
		CHECK(strtoull(s + 7, NULL, 16) == layers - 1);
		CHECK(m->blobs[layers].size == (int64_t)(layers - 1) * 1000);
		manifest_free(m);
	}
	buf_free(&b);
}

static void test_type_known(void)
{
	CHECK(manifest_type_known(MT_OCI_MANIFEST));
	CHECK(manifest_type_known(MT_OCI_INDEX));
	CHECK(manifest_type_known(MT_DOCKER_MANIFEST));
	CHECK(manifest_type_known(MT_DOCKER_LIST));
	CHECK(!manifest_type_known(MT_OCI_EMPTY));
	CHECK(!manifest_type_known(MT_CONFIG));
	CHECK(!manifest_type_known(MT_OCI_MANIFEST " "));
	CHECK(!manifest_type_known(""));
	CHECK(!manifest_type_known(NULL));
}

int main(void)
{
	RUN(test_oci_manifest);
	RUN(test_oci_index);
	RUN(test_docker_manifest);
	RUN(test_docker_list);
	RUN(test_artifact_with_subject);
	RUN(test_index_artifact);
	RUN(test_type_sources);
	RUN(test_content_type_parameters);
	RUN(test_content_type_mismatch);
	RUN(test_rejects);
	RUN(test_error_buffer);
	RUN(test_large_manifest);
	RUN(test_type_known);
	return check_done();
}
