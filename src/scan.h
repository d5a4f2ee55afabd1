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
 */
#ifndef BERTH_SCAN_H
#define BERTH_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dmap.h"

struct store;

struct scan_blob {
	uint64_t size;
	int64_t mtime;  /* of the data: when it was stored */
	bool present;   /* blobs/.../data exists */
};

struct scan_tag {
	char *name;
	uint32_t target; /* what current/link names */
	int64_t mtime;   /* of current/link: when the tag was last pushed */
};

struct scan_manifest {
	uint32_t id;
	int64_t mtime;        /* of the revision link */
	bool revision;        /* has a revision link, else only a tag */
	bool readable;        /* its content was found and is JSON */
	bool is_index;
	bool has_subject;
	uint32_t subject;
	uint32_t *refs;       /* config, layers and other blobs */
	size_t nrefs;
	uint32_t *children;   /* the manifests of an index */
	size_t nchildren;
};

struct scan_link {
	uint32_t id;
	int64_t mtime;
};

struct scan_referrer {
	uint32_t subject;
	uint32_t referrer;
	int64_t mtime;   /* of the link */
};

struct scan_repo {
	char *name;
	bool has_manifests;   /* a _manifests directory: registry:2 lists it */
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
	struct dmap *digests;
	struct scan_blob *blobs;  /* by digest number */
	size_t blobs_cap;
	struct scan_repo *repos;  /* sorted by name */
	size_t nrepos;
	struct scan_link *empty; /* blob directories without data */
	size_t nempty;
	int64_t started;          /* when the scan began, seconds */
};

/*
 * Scans st.  Returns 0 with a new scan in *out (free with scan_free), or
 * a negative errno when the store could not be read completely: a
 * collector must never act on a partial picture, so any error other
 * than something vanishing while it was looked at fails the scan.
 */
int scan_store(struct store *st, struct scan **out);
void scan_free(struct scan *s);

/* The facts about digest number id; absent blobs read as all zero. */
const struct scan_blob *scan_blob_of(const struct scan *s, uint32_t id);

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
