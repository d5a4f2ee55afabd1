/*
 * test_meta.c - manifest summaries: times from image configs, sizes and
 * platforms of images and indexes (shared layers counted once,
 * attestations left out), artifacts, missing manifests, and a cache
 * that stays within its bound while callers hold entries.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "layout.h"
#include "meta.h"
#include "store.h"
#include "util.h"

struct tmp {
	char dir[64];
	struct store *st;
};

static void tmp_make(struct tmp *t)
{
	strcpy(t->dir, "/tmp/berth-meta-XXXXXX");
	CHECK(mkdtemp(t->dir) != NULL);
	CHECK(store_fs_open(t->dir, &t->st) == 0);
}

static void tmp_done(struct tmp *t)
{
	t->st->ops->remove(t->st, "docker");
	t->st->ops->close(t->st);
	CHECK(rmdir(t->dir) == 0);
}

/* Stores text as a blob; returns its digest string (static buffer). */
static const char *put_blob(struct tmp *t, const char *text, struct digest *d)
{
	static char s[DIGEST_MAX_STR + 1];
	char *key;

	digest_of(DIGEST_SHA256, text, strlen(text), d);
	key = layout_blob_data(d);
	CHECK(t->st->ops->put(t->st, key, text, strlen(text)) == 0);
	free(key);
	digest_format(d, s);
	return s;
}

/* An image config and manifest; layers name sizes of made-up blobs. */
static void put_image(struct tmp *t, const char *arch, const char *created,
		      const char *layers, struct digest *d)
{
	char *cfg = xasprintf("{\"architecture\":\"%s\",\"os\":\"linux\","
			      "\"created\":\"%s\",\"rootfs\":{}}",
			      arch, created);
	struct digest cd;
	char *cds = xstrdup(put_blob(t, cfg, &cd));
	char *m = xasprintf("{\"schemaVersion\":2,\"mediaType\":"
			    "\"application/vnd.oci.image.manifest.v1+json\","
			    "\"config\":{\"mediaType\":"
			    "\"application/vnd.oci.image.config.v1+json\","
			    "\"digest\":\"%s\",\"size\":%zu},\"layers\":[%s]}",
			    cds, strlen(cfg), layers);

	put_blob(t, m, d);
	free(m);
	free(cds);
	free(cfg);
}

#define LAYER(hexchar, size)                                                   \
	"{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","      \
	"\"digest\":\"sha256:" hexchar "\",\"size\":" #size "}"
#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static void test_parse_time(void)
{
	int64_t t;

	CHECK(meta_parse_time("1970-01-01T00:00:00Z", &t) == 0 && t == 0);
	CHECK(meta_parse_time("2024-05-01T10:00:00.123456789Z", &t) == 0 &&
	      t == 1714557600);
	CHECK(meta_parse_time("2024-05-01T12:00:00+02:00", &t) == 0 &&
	      t == 1714557600);
	CHECK(meta_parse_time("2024-05-01T05:30:00-04:30", &t) == 0 &&
	      t == 1714557600);
	CHECK(meta_parse_time("2024-05-01 10:00:00z", &t) == 0);
	CHECK(meta_parse_time("2024-05-01T10:00:00", &t) == -1);
	CHECK(meta_parse_time("2024-13-01T10:00:00Z", &t) == -1);
	CHECK(meta_parse_time("2024-05-01T10:00:00Zjunk", &t) == -1);
	CHECK(meta_parse_time("yesterday", &t) == -1);
	CHECK(meta_parse_time(NULL, &t) == -1);
}

static void test_image(void)
{
	struct tmp t;
	struct meta_cache *mc;
	const struct meta *m;
	struct digest d;

	tmp_make(&t);
	put_image(&t, "arm64", "2024-05-01T10:00:00Z",
		  LAYER(HEX_A, 100) "," LAYER(HEX_B, 20), &d);
	mc = meta_cache_new(t.st, 1 << 20);
	m = meta_get(mc, &d);
	CHECK(m != NULL);
	if (m) {
		CHECK(m->kind == META_IMAGE);
		CHECK_STR(m->media_type,
			  "application/vnd.oci.image.manifest.v1+json");
		CHECK(m->artifact_type == NULL);
		CHECK(m->created == 1714557600);
		CHECK(m->nplatforms == 1);
		CHECK_STR(m->platforms[0].arch, "arm64");
		CHECK_STR(m->platforms[0].os, "linux");
		CHECK(m->nblobs == 3);
		/* the config's own bytes, plus 120 of layers */
		CHECK(m->size > 120 && m->size < 300);
		CHECK(m->platforms[0].size == m->size);
	}
	meta_release(mc, m);
	meta_cache_free(mc);
	tmp_done(&t);
}

static void test_index(void)
{
	struct tmp t;
	struct meta_cache *mc;
	const struct meta *m, *a;
	struct digest da, db, dx;
	char sa[DIGEST_MAX_STR + 1], sb[DIGEST_MAX_STR + 1];
	char *idx;

	tmp_make(&t);
	put_image(&t, "amd64", "2024-01-01T00:00:00Z",
		  LAYER(HEX_A, 1000) "," LAYER(HEX_C, 5), &da);
	put_image(&t, "arm64", "2024-02-01T00:00:00Z",
		  LAYER(HEX_B, 2000) "," LAYER(HEX_C, 5), &db);
	digest_format(&da, sa);
	digest_format(&db, sb);
	idx = xasprintf(
		"{\"schemaVersion\":2,\"mediaType\":"
		"\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"digest\":\"%s\",\"size\":1,\"platform\":{\"os\":\"linux\","
		"\"architecture\":\"amd64\"}},"
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"digest\":\"%s\",\"size\":1,\"platform\":{\"os\":\"linux\","
		"\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"digest\":\"%s\",\"size\":1,\"platform\":{\"os\":"
		"\"unknown\",\"architecture\":\"unknown\"}}]}",
		sa, sb, sa);
	put_blob(&t, idx, &dx);

	mc = meta_cache_new(t.st, 1 << 20);
	m = meta_get(mc, &dx);
	a = meta_get(mc, &da);
	CHECK(m != NULL && a != NULL);
	if (m && a) {
		CHECK(m->kind == META_INDEX);
		CHECK(m->nplatforms == 2); /* the attestation is left out */
		CHECK_STR(m->platforms[1].arch, "arm64");
		CHECK_STR(m->platforms[1].variant, "v8");
		CHECK(digest_equal(&m->platforms[0].digest, &da));
		CHECK(m->platforms[0].size == a->size);
		/* the 5-byte layer both share counts once */
		CHECK(m->size ==
		      m->platforms[0].size + m->platforms[1].size - 5);
		CHECK(m->created == 1706745600); /* the newer child's */
	}
	meta_release(mc, a);
	meta_release(mc, m);
	meta_cache_free(mc);
	free(idx);
	tmp_done(&t);
}

static void test_artifact_and_missing(void)
{
	struct tmp t;
	struct meta_cache *mc;
	const struct meta *m;
	struct digest d, empty, nothing;
	char *art, es[DIGEST_MAX_STR + 1];

	tmp_make(&t);
	put_blob(&t, "{}", &empty);
	digest_format(&empty, es);
	art = xasprintf(
		"{\"schemaVersion\":2,\"mediaType\":"
		"\"application/vnd.oci.image.manifest.v1+json\","
		"\"artifactType\":\"application/spdx+json\","
		"\"config\":{\"mediaType\":"
		"\"application/vnd.oci.empty.v1+json\","
		"\"digest\":\"%s\",\"size\":2},\"layers\":[" LAYER(
			HEX_A,
			7) "],\"annotations\":{\"org.opencontainers.image.created\":"
			   "\"2024-05-01T10:00:00Z\"}}",
		es);
	put_blob(&t, art, &d);

	mc = meta_cache_new(t.st, 1 << 20);
	m = meta_get(mc, &d);
	CHECK(m != NULL);
	if (m) {
		CHECK_STR(m->artifact_type, "application/spdx+json");
		CHECK(m->nplatforms == 0);
		CHECK(m->created == 1714557600);
		CHECK(m->size == 9);
	}
	meta_release(mc, m);

	digest_of(DIGEST_SHA256, "nothing", 7, &nothing);
	CHECK(meta_get(mc, &nothing) == NULL);
	put_blob(&t, "not json", &d);
	CHECK(meta_get(mc, &d) == NULL);
	meta_cache_free(mc);
	free(art);
	tmp_done(&t);
}

static void test_bound(void)
{
	struct tmp t;
	struct meta_cache *mc;
	const struct meta *held;
	struct digest d[40];
	size_t entries, bytes;
	char when[32];

	tmp_make(&t);
	for (int i = 0; i < 40; i++) {
		snprintf(when, sizeof(when), "2024-01-%02dT00:00:00Z",
			 i % 28 + 1);
		put_image(&t, i % 2 ? "arm64" : "amd64", when, LAYER(HEX_A, 1),
			  &d[i]);
	}
	mc = meta_cache_new(t.st, 4096);
	held = meta_get(mc, &d[0]);
	for (int i = 1; i < 40; i++)
		meta_release(mc, meta_get(mc, &d[i]));
	meta_cache_usage(mc, &entries, &bytes);
	CHECK(bytes <= 4096 && entries < 40 && entries > 0);
	/* Evicted while held, still readable until released. */
	CHECK(held && held->nplatforms == 1 &&
	      !strcmp(held->platforms[0].arch, "amd64"));
	meta_release(mc, held);
	meta_cache_free(mc);
	tmp_done(&t);
}

int main(void)
{
	RUN(test_parse_time);
	RUN(test_image);
	RUN(test_index);
	RUN(test_artifact_and_missing);
	RUN(test_bound);
	return check_done();
}
