/*
 * gcstore.h - builds registry:2 trees by hand for the lifecycle unit
 * tests: blobs, layer links, manifests with revisions, tags and
 * referrer links, written straight through the store as registry:2 or
 * berth would leave them, and file times moved into the past.
 */
#ifndef BERTH_TEST_GCSTORE_H
#define BERTH_TEST_GCSTORE_H

#include "check.h"
#include "digest.h"
#include "layout.h"
#include "store.h"
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct store *st;
static char root[256];

static inline void store_fresh(void)
{
	static int n;

	if (st) {
		st->ops->close(st);
		if (check_rmtree(root) != 0)
			abort();
	}
	snprintf(root, sizeof(root), "/tmp/berth-unit-%d-%d", (int)getpid(),
		 n++);
	if (store_fs_open(root, &st) != 0)
		abort();
}

static inline void store_done(void)
{
	st->ops->close(st);
	st = NULL;
	if (check_rmtree(root) != 0)
		abort();
}

static inline void put_key(const char *key, const char *data, size_t len)
{
	if (st->ops->put(st, key, data, len) != 0)
		abort();
}

static inline bool key_exists(const char *key)
{
	struct store_stat sst;

	return st->ops->stat(st, key, &sst) == 0;
}

/* Moves the modification time of key (file or directory) age s back. */
static inline void age_key(const char *key, long age)
{
	struct timespec ts[2];
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, key);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= age;
	ts[1] = ts[0];
	if (utimensat(AT_FDCWD, path, ts, 0) != 0)
		abort();
}

static inline void write_link(const char *key, const struct digest *d)
{
	char s[DIGEST_MAX_STR + 1];

	digest_format(d, s);
	put_key(key, s, strlen(s));
}

/* Stores data as a blob, aged by a day, and returns its digest. */
static inline struct digest put_blob(const char *data)
{
	struct digest d;
	char *key;

	digest_of(DIGEST_SHA256, data, strlen(data), &d);
	key = layout_blob_data(&d);
	put_key(key, data, strlen(data));
	age_key(key, 86400);
	free(key);
	return d;
}

static inline void link_layer(const char *repo, const struct digest *d,
			      long age)
{
	char *key = layout_layer_link(repo, d);

	write_link(key, d);
	age_key(key, age);
	free(key);
}

/* A blob pushed to repo, both a day old. */
static inline struct digest push_blob(const char *repo, const char *data)
{
	struct digest d = put_blob(data);

	link_layer(repo, &d, 86400);
	return d;
}

static inline char *image_json(const struct digest *config,
			       const struct digest *layers, size_t n,
			       const struct digest *subject)
{
	struct buf b = BUF_INIT;
	char s[DIGEST_MAX_STR + 1];

	digest_format(config, s);
	buf_addf(&b,
		 "{\"schemaVersion\":2,\"mediaType\":"
		 "\"application/vnd.oci.image.manifest.v1+json\","
		 "\"config\":{\"mediaType\":\"application/vnd.oci.image."
		 "config.v1+json\",\"digest\":\"%s\",\"size\":2},"
		 "\"layers\":[",
		 s);
	for (size_t i = 0; i < n; i++) {
		digest_format(&layers[i], s);
		buf_addf(&b,
			 "%s{\"mediaType\":\"application/vnd.oci.image."
			 "layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":1}",
			 i ? "," : "", s);
	}
	buf_adds(&b, "]");
	if (subject) {
		digest_format(subject, s);
		buf_addf(&b,
			 ",\"subject\":{\"mediaType\":\"application/vnd."
			 "oci.image.manifest.v1+json\",\"digest\":\"%s\","
			 "\"size\":1}",
			 s);
	}
	buf_adds(&b, "}");
	return buf_detach(&b, NULL);
}

static inline char *index_json(const struct digest *children, size_t n)
{
	struct buf b = BUF_INIT;
	char s[DIGEST_MAX_STR + 1];

	buf_adds(&b, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd."
		     "oci.image.index.v1+json\",\"manifests\":[");
	for (size_t i = 0; i < n; i++) {
		digest_format(&children[i], s);
		buf_addf(&b,
			 "%s{\"mediaType\":\"application/vnd.oci.image."
			 "manifest.v1+json\",\"digest\":\"%s\",\"size\":1}",
			 i ? "," : "", s);
	}
	buf_adds(&b, "]}");
	return buf_detach(&b, NULL);
}

static inline void set_tag(const char *repo, const char *tag,
			   const struct digest *d, long age)
{
	char *key = layout_tag_index_link(repo, tag, d);

	write_link(key, d);
	free(key);
	key = layout_tag_current(repo, tag);
	write_link(key, d);
	age_key(key, age);
	free(key);
}

/*
 * Pushes a manifest (json, freed here) to repo, a day old, tagged when
 * tag is not NULL, with a referrer link when subject is not NULL.
 */
static inline struct digest push_manifest(const char *repo, char *json,
					  const char *tag,
					  const struct digest *subject)
{
	struct digest d = put_blob(json);
	char *key = layout_revision_link(repo, &d);

	write_link(key, &d);
	age_key(key, 86400);
	free(key);
	if (subject) {
		key = layout_referrer_link(repo, subject, &d);
		write_link(key, &d);
		age_key(key, 86400);
		free(key);
	}
	if (tag)
		set_tag(repo, tag, &d, 86400);
	free(json);
	return d;
}

/* An image of a config and two layers, the first shared by name. */
static inline struct digest push_image(const char *repo, const char *name,
				       const char *tag, struct digest *layers)
{
	char text[128];
	struct digest config, l[2];

	snprintf(text, sizeof(text), "{\"config\":\"%s\"}", name);
	config = push_blob(repo, text);
	snprintf(text, sizeof(text), "layer-a-%s", name);
	l[0] = push_blob(repo, text);
	snprintf(text, sizeof(text), "layer-b-%s", name);
	l[1] = push_blob(repo, text);
	if (layers) {
		layers[0] = l[0];
		layers[1] = l[1];
	}
	return push_manifest(repo, image_json(&config, l, 2, NULL), tag, NULL);
}

static inline bool blob_exists(const struct digest *d)
{
	char *key = layout_blob_data(d);
	bool yes = key_exists(key);

	free(key);
	return yes;
}

static inline bool layer_linked(const char *repo, const struct digest *d)
{
	char *key = layout_layer_link(repo, d);
	bool yes = key_exists(key);

	free(key);
	return yes;
}

static inline bool revision_exists(const char *repo, const struct digest *d)
{
	char *key = layout_revision_link(repo, d);
	bool yes = key_exists(key);

	free(key);
	return yes;
}

static inline bool tag_exists(const char *repo, const char *tag)
{
	char *key = layout_tag_current(repo, tag);
	bool yes = key_exists(key);

	free(key);
	return yes;
}

static inline void delete_revision(const char *repo, const struct digest *d)
{
	char *key = layout_revision_link(repo, d);

	*strrchr(key, '/') = '\0';
	if (st->ops->remove(st, key) != 0)
		abort();
	free(key);
}

static inline void delete_tag(const char *repo, const char *tag)
{
	char *key = layout_tag_dir(repo, tag);

	if (st->ops->remove(st, key) != 0)
		abort();
	free(key);
}

#endif
