/*
 * scan.h - one read-only pass over a store, recording what garbage
 * collection, retention and usage need to know.
 *
 * The scan lists every blob with its size and time, and every repository
 * with its tags, manifest revisions (and what each references), layer
 * links, referrer links and upload sessions.  It changes nothing, so it
 * can run while the registry serves; what it sees is a snapshot that may
 * be a little stale by the time it is used, which the collector's guard
 * (gc.h) accounts for.
 *
 * Digests are numbered by one dmap shared by the whole scan, so a
 * manifest, a blob and a link naming the same digest share a number and
 * the facts about it live in arrays indexed by that number.
 *
 * The walk itself only lists directories and reads tags and manifests.
 * Sizes and modification times cost a system call each, and a collector
 * needs them only for the few things it may delete, so they are read
 * the first time someone asks (scan_blob, scan_*_time) and remembered.
 */
#ifndef BERTH_SCAN_H
#define BERTH_SCAN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dmap.h"

struct store;

/* A time not read yet. */
#define SCAN_TIME_UNKNOWN INT64_MIN

struct scan_blob {
	bool listed;  /* its directory is under blobs/ */
	bool statted; /* what follows is known (scan_blob) */
	bool present; /* blobs/.../data exists */
	uint64_t size;
	int64_t mtime; /* of the data: when it was stored */
};

struct scan_tag {
	char *name;
	uint32_t target; /* what current/link names */
	int64_t mtime;	 /* of current/link: when the tag was last pushed */
};

struct scan_manifest {
	uint32_t id;
	int64_t mtime; /* of the revision link */
	bool revision; /* has a revision link, else only a tag */
	bool readable; /* its content was found and is JSON */
	bool is_index;
	bool has_subject;
	uint32_t subject;
	uint32_t *refs; /* config, layers and other blobs */
	size_t nrefs;
	uint32_t *children; /* the manifests of an index */
	size_t nchildren;
};

struct scan_link {
	uint32_t id;
	int64_t mtime;
};

struct scan_referrer {
	uint32_t subject;
	uint32_t referrer;
	int64_t mtime; /* of the link */
};

struct scan_repo {
	char *name;
	char *key;	    /* its store key */
	bool has_manifests; /* a _manifests directory: registry:2 lists it */
	struct scan_tag *tags;
	size_t ntags;
	struct scan_manifest *manifests;
	size_t nmanifests;
	struct scan_link *layers;
	size_t nlayers;
	struct scan_referrer *referrers;
	size_t nreferrers;
	size_t nuploads;
};

struct scan {
	struct store *st;
	struct dmap *digests;
	pthread_mutex_t id_lock; /* numbering while the walk runs */
	struct scan_blob *blobs; /* by digest number */
	size_t blobs_cap;
	struct scan_repo *repos; /* sorted by name */
	size_t nrepos;
	struct scan_link *empty; /* blob directories found without data */
	size_t nempty;
	size_t nlisted;	 /* blob directories listed */
	int64_t started; /* when the scan began, seconds */
};

struct scan_options {
	/*
	 * Read every tag.  Without, repositories have no tags: enough to
	 * keep every manifest, which is registry:2's default collection.
	 */
	bool tags;
};

/*
 * Scans st with o (NULL: everything).  Returns 0 with a new scan in
 * *out (free with scan_free), or a negative errno when the store could
 * not be read completely: a collector must never act on a partial
 * picture, so any error other than something vanishing while it was
 * looked at fails the scan.
 */
int scan_store(struct store *st, const struct scan_options *o,
	       struct scan **out);
void scan_free(struct scan *s);

/*
 * The facts about digest number id, statting its data the first time
 * (a listed blob without data is added to s->empty).  Blobs never
 * listed read as not present.  Threads may ask about different blobs,
 * and about the links of different blobs, at the same time.
 */
const struct scan_blob *scan_blob(struct scan *s, uint32_t id);

/*
 * Modification times of a tag's current link, a revision link, a layer
 * link and a referrer link, read the first time.  A time that cannot be
 * read is INT64_MAX, which counts as new, so nothing is deleted on the
 * strength of it.
 */
int64_t scan_tag_time(struct scan *s, struct scan_repo *r, size_t t);
int64_t scan_revision_time(struct scan *s, struct scan_repo *r, size_t m);
int64_t scan_layer_time(struct scan *s, struct scan_repo *r, size_t j);
int64_t scan_referrer_time(struct scan *s, struct scan_repo *r, size_t j);

/* Formats the digest numbered id into out (DIGEST_MAX_STR + 1 bytes). */
void scan_digest_str(const struct scan *s, uint32_t id, char *out);

/* The repository named name, or NULL. */
struct scan_repo *scan_repo_find(const struct scan *s, const char *name);

/*
 * Reads the digests a manifest's JSON references into m: blobs (config,
 * layers, or a schema 1 manifest's fsLayers), child manifests of an
 * index, and the subject.  Lenient on purpose: whatever registry:2 would
 * count as referenced must be counted here, or its blobs would be
 * collected.  Returns false when the text is not a JSON object.
 */
bool scan_parse_manifest(struct scan *s, const char *data, size_t len,
			 struct scan_manifest *m);

#endif
