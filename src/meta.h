/*
 * meta.h - what the web UI lists about a manifest, worked out once.
 *
 * A manifest's digest names its bytes, and the blobs it references (the
 * image config among them) are named by digest too, so a summary made
 * from them - compressed size, platforms, creation time - never goes
 * stale.  The cache keeps summaries by digest for as long as memory
 * allows: it is bounded by an estimate of the bytes it holds and drops
 * the least recently used first.  Listing a repository of 10,000 tags
 * then costs 10,000 lookups instead of 20,000 file reads.
 */
#ifndef BERTH_META_H
#define BERTH_META_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "util.h"

struct store;
struct meta_cache;

#define META_TIME_UNKNOWN INT64_MIN
/* Bigger image configs exist only in tests of limits; skip them. */
#define META_CONFIG_MAX (8 * 1024 * 1024)
/* An index with more children than this lists only the first ones. */
#define META_CHILDREN_MAX 256

enum meta_kind { META_IMAGE, META_INDEX };

/* One runnable image: an image manifest, or one child of an index. */
struct meta_platform {
	const char *os; /* "" when unknown */
	const char *arch;
	const char *variant;  /* "" when none */
	struct digest digest; /* the image manifest */
	uint64_t size;	      /* compressed: config and layers */
	int64_t created;      /* seconds since the epoch, or unknown */
};

/* A blob, for adding up sizes without counting shared layers twice. */
struct meta_blob {
	uint64_t key; /* the first 64 bits of its digest */
	uint64_t size;
};

struct meta {
	struct digest digest;
	enum meta_kind kind;
	const char *media_type;
	const char *artifact_type; /* NULL for container images */
	bool has_subject;	   /* a referrer of another manifest */
	uint64_t size;		   /* distinct blobs of every platform */
	int64_t created;	   /* the newest platform's, or unknown */
	/* Runnable platforms; attestations are left out. */
	const struct meta_platform *platforms;
	size_t nplatforms;
	const struct meta_blob *blobs; /* sorted by key, distinct */
	size_t nblobs;
};

/*
 * A cache reading manifests from st (not owned), holding about
 * max_bytes.  Thread-safe.
 */
struct meta_cache *meta_cache_new(struct store *st, size_t max_bytes);
void meta_cache_free(struct meta_cache *mc);

/*
 * The summary of the manifest with digest d, worked out on first use.
 * Returns NULL when the manifest cannot be read or is not one (failures
 * are not cached: the manifest may be pushed later).  The result stays
 * valid until released with meta_release, even if the cache drops it.
 */
const struct meta *meta_get(struct meta_cache *mc, const struct digest *d);
void meta_release(struct meta_cache *mc, const struct meta *m);

/* Whether the cache holds 80% of its bound or more. */
bool meta_cache_nearly_full(struct meta_cache *mc);

/* Entries and estimated bytes held now, for tests and metrics. */
void meta_cache_usage(struct meta_cache *mc, size_t *entries, size_t *bytes);

/*
 * Reads blob d (at most max bytes) from st and parses it as JSON.  When
 * raw is not NULL the bytes are appended to it too.  Returns the parsed
 * value (the caller decrefs it), or NULL when the blob is missing, too
 * big or not JSON.
 */
json_t *meta_load_json(struct store *st, const struct digest *d, size_t max,
		       struct buf *raw);

/*
 * Parses an RFC 3339 time as image configs carry it
 * ("2024-05-01T10:00:00.123456789Z", "...+02:00") into seconds since
 * the epoch.  Returns 0, or -1 when s is not such a time.
 */
int meta_parse_time(const char *s, int64_t *out);

/* True for the media types of image configs (OCI's and Docker's). */
bool meta_is_image_config(const char *media_type);

#endif
