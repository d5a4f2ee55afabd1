/*
 * lifecycle.h - the storage lifecycle while berth serves: collections on
 * a schedule and on request, usage kept current, scrubs, and the hooks
 * through which the registry tells it about pushes.
 *
 * Two background threads do the work: one runs collections and usage
 * refreshes (never at the same time), the other scrubs, so that a long
 * scrub delays no collection.  Administrators start runs and read
 * reports through lifecycle_admin; the web UI reads usage through
 * lifecycle_usage (usage.h).
 *
 * The hooks must be called in the places their comments give: each
 * hold happens before the check that decides whether a blob, manifest
 * or repository exists, which is what keeps a concurrent collection
 * from deleting it between that check and the link that uses it (see
 * gc.h).  Every hook accepts a NULL lifecycle and then does nothing.
 */
#ifndef BERTH_LIFECYCLE_H
#define BERTH_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "util.h"

struct config;
struct index;
struct manifest;
struct reg_error;
struct store;
struct usage;
struct lifecycle;

/*
 * Starts the lifecycle of st under cfg's storage.maintenance settings.
 * ix (may be NULL) is kept current when tags and repositories go.  None
 * is owned; all must outlive the result.  Returns NULL with a reason in
 * err when the threads cannot start.
 */
struct lifecycle *lifecycle_start(const struct config *cfg, struct store *st,
				  struct index *ix, char *err, size_t errlen);
/* Stops the threads (ending a scrub early) and frees lc. */
void lifecycle_stop(struct lifecycle *lc);

/*
 * Calls fn(arg, repo, tag) after a collection removed a tag (tag set)
 * or a manifest or repository (tag NULL), as registry_on_change does
 * for requests, so that caches of listings can forget them.
 */
void lifecycle_on_change(struct lifecycle *lc,
			 void (*fn)(void *, const char *, const char *),
			 void *arg);

/* ---- hooks for the registry ---- */

/*
 * Before anything is written into repo's directory that did not exist,
 * such as a new upload session (upload_start).
 */
void lifecycle_repo_writing(struct lifecycle *lc, const char *repo);

/*
 * Before checking whether a blob exists for a client that may then rely
 * on it (HEAD or GET of a blob, the source of a mount): a client that
 * was told a layer exists will not upload it again.
 */
void lifecycle_blob_reading(struct lifecycle *lc, const struct digest *d);

/*
 * Before a blob of size bytes is stored or linked into repo (upload
 * commit before the blob is moved into place; mount before the link is
 * written).  Returns 0, or -1 with e set (DENIED) when repo's quota
 * does not allow it; nothing must be stored or linked then.
 */
int lifecycle_blob_adding(struct lifecycle *lc, const char *repo,
			  const struct digest *d, uint64_t size,
			  struct reg_error *e);
/* After the layer link of the blob is written. */
void lifecycle_blob_added(struct lifecycle *lc, const char *repo,
			  const struct digest *d, uint64_t size);

/*
 * Before a pushed manifest (parsed as m, len bytes, digest d) is checked
 * against what repo holds and stored, with tag NULL for a push by
 * digest.  Returns 0, or -1 with e set (DENIED) over quota.
 */
int lifecycle_manifest_adding(struct lifecycle *lc, const char *repo,
			      const char *tag, const struct digest *d,
			      const struct manifest *m, size_t len,
			      struct reg_error *e);
/* After its revision link (and tag) are written. */
void lifecycle_manifest_added(struct lifecycle *lc, const char *repo,
			      const struct digest *d, size_t len);

/* After a manifest, tag or blob of repo was deleted: usage is rescanned. */
void lifecycle_deleted(struct lifecycle *lc, const char *repo);

/* ---- administration ---- */

struct lifecycle_request {
	const char *method;	/* "GET" or "POST" */
	const char *what;	/* "gc", "scrub" or "usage" */
	bool dry_run;		/* POST gc: ?dryrun=true */
	bool delete_untagged;	/* POST gc: ?untagged=true */
	bool wait;		/* POST: ?wait=true answers when done */
	const char *repository; /* GET usage: ?repository=NAME, or NULL */
};

/*
 * Answers an administrator's request.  Writes a JSON body into json and
 * returns the HTTP status:
 *
 *   GET  gc      200 state, schedule and the last run's report
 *   POST gc      202 started (200 with the report when waiting),
 *                409 when a collection is already running, here or on
 *                another instance holding the lease (lease.h; the
 *                error's detail names the holder), 503 when the store
 *                cannot tell,
 *                403 for a real run while storage is read-only
 *   GET  scrub   200 state and the last pass's report
 *   POST scrub   as POST gc
 *   GET  usage   200 every repository and the total, or one repository
 *                (404 NAME_UNKNOWN when it holds nothing)
 *
 * Errors are the distribution spec's error bodies; 405 for another
 * method, 404 for another what.  The caller checks that the client is
 * an administrator.
 */
int lifecycle_admin(struct lifecycle *lc, const struct lifecycle_request *rq,
		    struct buf *json);

/* The usage tracker, for the UI (usage_repo, usage_total, usage_json). */
struct usage *lifecycle_usage(struct lifecycle *lc);

/*
 * Checks a collection window, "HH:MM-HH:MM" in UTC ("" for none), for
 * the configuration loader.  Returns 0, or -1 with a reason in why.
 */
int lifecycle_window_check(const char *s, char *why, size_t len);

#endif
