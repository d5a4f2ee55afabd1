/*
 * registry.h - what registry operations mean, apart from HTTP and from how
 * bytes are stored: blobs and their membership in repositories, upload
 * sessions, manifests and tags, and the listings built on them.
 *
 * Every fallible function returns 0, or -1 after filling a struct
 * reg_error with the spec's error code and a message for the client.
 * Repository names, tags and digests must be validated (ref.h) before
 * they reach this layer; the registry trusts them to form store keys.
 */
#ifndef BERTH_REGISTRY_H
#define BERTH_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "index.h"
#include "util.h"

struct config;
struct lifecycle;
struct store;
struct store_reader;
struct registry;
struct upload;

/* The OCI distribution spec's error codes, plus berth's server errors. */
enum reg_code {
	REG_BLOB_UNKNOWN = 1,
	REG_BLOB_UPLOAD_INVALID,
	REG_BLOB_UPLOAD_UNKNOWN,
	REG_DIGEST_INVALID,
	REG_MANIFEST_BLOB_UNKNOWN,
	REG_MANIFEST_INVALID,
	REG_MANIFEST_UNKNOWN,
	REG_NAME_INVALID,
	REG_NAME_UNKNOWN,
	REG_SIZE_INVALID,
	REG_UNAUTHORIZED,
	REG_DENIED,
	REG_UNSUPPORTED,
	REG_TOOMANYREQUESTS,
	REG_RANGE_INVALID, /* an out-of-order chunk: 416 */
	REG_STORAGE_FULL,  /* the store has no room: 507 */
	REG_UNAVAILABLE,   /* the store does not answer: 503 */
	REG_INTERNAL,	   /* anything else: 500 */
};

struct reg_error {
	enum reg_code code;
	char message[256];
};

/* The code's name as the spec spells it, e.g. "BLOB_UNKNOWN". */
const char *reg_code_name(enum reg_code code);
/* The HTTP status the spec gives the code. */
int reg_code_status(enum reg_code code);
/* Fills e; returns -1 so callers can `return reg_fail(...)`. */
int reg_fail(struct reg_error *e, enum reg_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Maps a negative errno from the store to a code and message. */
int reg_fail_store(struct reg_error *e, int err, const char *what);

/*
 * Opens a registry over st (not owned) with cfg's policies (not owned;
 * both must outlive the registry) and builds the listing index.
 * Returns NULL after logging why.
 */
struct registry *registry_open(const struct config *cfg, struct store *st);
void registry_close(struct registry *reg);

/* Blobs: readable in a repository when the repository links them. */
int registry_blob_stat(struct registry *reg, const char *repo,
		       const struct digest *d, uint64_t *size,
		       struct reg_error *e);
/* Opens a blob for reading from offset; the caller closes *r. */
int registry_blob_open(struct registry *reg, const char *repo,
		       const struct digest *d, uint64_t offset,
		       struct store_reader **r, struct reg_error *e);
/* How long a blob's presigned URL stays valid: registry:2's 20 minutes. */
#define REGISTRY_REDIRECT_SECONDS (20 * 60)

/*
 * A URL from which a client fetches d's content straight from storage,
 * so that berth need not carry the bytes: registry:2's redirect of blob
 * GETs.  Call it after registry_blob_stat found the blob in repo, which
 * keeps blobs a scrub took out of service from being offered.  Sets
 * *url (the caller frees it) and returns 0, or returns 1 when berth
 * must serve the bytes itself: storage.redirect.disable is set, or the
 * store has no such URLs (a filesystem).
 */
int registry_blob_url(struct registry *reg, const struct digest *d, char **url);
/* Removes the blob from the repository (the bytes stay until collected). */
int registry_blob_delete(struct registry *reg, const char *repo,
			 const struct digest *d, struct reg_error *e);
/* Links a blob readable in from into repo; BLOB_UNKNOWN when it is not. */
int registry_blob_mount(struct registry *reg, const char *repo,
			const char *from, const struct digest *d,
			struct reg_error *e);

/* Upload sessions (upload.c).  Ids are 36-character UUIDs. */
#define UPLOAD_ID_LEN 36
bool upload_id_valid(const char *id);
int upload_start(struct registry *reg, const char *repo,
		 char id[UPLOAD_ID_LEN + 1], struct reg_error *e);
/*
 * Opens a session to append to; waits while another request holds it.
 * The caller must upload_close it (or upload_commit, which closes too).
 */
int upload_open(struct registry *reg, const char *repo, const char *id,
		struct upload **up, struct reg_error *e);
uint64_t upload_offset(const struct upload *up);
int upload_write(struct upload *up, const void *data, size_t len,
		 struct reg_error *e);
/*
 * Makes the appended bytes durable and releases the session for the
 * next chunk.
 */
int upload_close(struct upload *up, struct reg_error *e);
/*
 * Verifies the uploaded bytes against expected, stores them as a blob
 * linked into the repository and ends the session.  On a mismatch the
 * session ends too and nothing is stored.  Frees up in every case.
 */
int upload_commit(struct upload *up, const struct digest *expected,
		  struct reg_error *e);
/* Releases a session after an error without making anything durable. */
void upload_abandon(struct upload *up);
int upload_cancel(struct registry *reg, const char *repo, const char *id,
		  struct reg_error *e);
/* The number of bytes a session holds so far. */
int upload_status(struct registry *reg, const char *repo, const char *id,
		  uint64_t *size, struct reg_error *e);

/* A stored manifest as served: exact bytes, media type, digest. */
struct reg_manifest {
	char *data;
	size_t len;
	char *media_type;
	struct digest digest;
};

void reg_manifest_free(struct reg_manifest *m);

/* reference is a tag or a digest string. */
int registry_manifest_get(struct registry *reg, const char *repo,
			  const char *reference, struct reg_manifest *out,
			  struct reg_error *e);

struct reg_put_result {
	struct digest digest;
	bool has_subject;
	struct digest subject;
};

int registry_manifest_put(struct registry *reg, const char *repo,
			  const char *reference, const char *data, size_t len,
			  const char *content_type, struct reg_put_result *out,
			  struct reg_error *e);
/* A digest deletes the manifest and its tags; a tag deletes the tag. */
int registry_manifest_delete(struct registry *reg, const char *repo,
			     const char *reference, struct reg_error *e);

int registry_tags(struct registry *reg, const char *repo, const char *last,
		  size_t n, struct index_page *page, struct reg_error *e);
void registry_catalog(struct registry *reg, const char *last, size_t n,
		      struct index_page *page);
/*
 * Writes the referrers of subject as an OCI image index into json,
 * filtered by artifact_type when it is not NULL.
 */
int registry_referrers(struct registry *reg, const char *repo,
		       const struct digest *subject, const char *artifact_type,
		       struct buf *json, struct reg_error *e);

/*
 * Lets the storage lifecycle (lifecycle.h) see pushes and deletes; lc
 * (not owned) must outlive the registry, or be unset with NULL first.
 */
void registry_set_lifecycle(struct registry *reg, struct lifecycle *lc);
/* The listing index, kept current by whoever removes tags or repos. */
struct index *registry_index(struct registry *reg);

/* Shared by the registry's own files (registry.c, upload.c). */
struct store *registry_store(struct registry *reg);
void registry_on_change(struct registry *reg,
			void (*fn)(void *, const char *, const char *),
			void *arg);
struct lifecycle *registry_lifecycle(struct registry *reg);
int registry_link_blob(struct registry *reg, const char *repo,
		       const struct digest *d, struct reg_error *e);

#define MANIFEST_MAX_BYTES (4 * 1024 * 1024)

#endif
