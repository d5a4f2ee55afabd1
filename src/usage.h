/*
 * usage.h - how many bytes each repository holds, and quotas on them.
 *
 * A repository holds the blobs its manifests reference (configs, layers
 * and the manifests themselves) and the blobs pushed to it within the
 * grace period whose manifest may still be on its way.  Bytes a
 * repository holds are shared when another repository holds the same
 * blob, exclusive otherwise; deleting a repository would free its
 * exclusive bytes.  Layer links older than the grace period that no
 * manifest of the repository uses are not counted: the blob belongs to
 * whoever still references it.
 *
 * The numbers come from a scan of the store (usage_update), refreshed
 * by the caller after collections, after deletions and periodically.
 * Between scans every push is added as it happens (usage_note), so a
 * quota sees the bytes of a push in progress at once; deletions show
 * only at the next scan, which errs on the side of refusing.
 *
 * Quotas (storage.maintenance.quotas) limit what one repository may
 * hold, per repository pattern, the first matching rule applying:
 *
 *   - repositories: [team-a, "team-a/x"]   patterns as in acl.h
 *     limit: 10GiB
 *
 * Sizes take B, K/KiB, M/MiB, G/GiB, T/TiB (powers of 1024) or KB, MB,
 * GB, TB (powers of 1000); a bare number is bytes.  All functions are
 * thread-safe.
 */
#ifndef BERTH_USAGE_H
#define BERTH_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "util.h"

struct json_t;
struct reg_error;
struct scan;
struct usage;

struct usage_repo {
	uint64_t bytes;	    /* everything the repository holds */
	uint64_t shared;    /* bytes another repository holds too */
	uint64_t exclusive; /* bytes only this repository holds */
	size_t blobs;
	uint64_t quota; /* its limit, or 0 for none */
};

struct usage_total {
	uint64_t bytes; /* all blob data in the store */
	size_t blobs;
	uint64_t held;	      /* bytes some repository holds */
	uint64_t reclaimable; /* what a collection would free now */
	size_t reclaimable_blobs;
	size_t repositories;
	int64_t updated; /* when the numbers were last scanned; 0 never */
};

/*
 * A new tracker enforcing the quotas in conf (a JSON list as in
 * retention_parse; NULL for none).  Returns NULL with err set when the
 * rules are wrong.  Free with usage_free.
 */
struct usage *usage_new(const struct json_t *conf, char *err, size_t errlen);
void usage_free(struct usage *u);

/* Only checks quota rules, for the configuration loader. */
int usage_quota_check(const struct json_t *conf, char *err, size_t errlen);

/*
 * Parses a size such as "10GiB" or "500MB" into bytes.  Returns 0, or
 * -1 when malformed or zero.
 */
int usage_parse_size(const char *s, uint64_t *bytes);

/* Formats bytes for people ("1.5 GiB") into out[32]. */
void usage_format_size(uint64_t bytes, char out[32]);

/*
 * Marks the start of a scan: pushes noted from now on are applied again
 * on top of its result, since the scan may have missed them.
 */
void usage_begin(struct usage *u);

/*
 * Replaces the numbers with those of scan s.  young is the grace
 * period's start (layer links at or after it count); reclaimable and
 * reclaimable_blobs are what a dry collection of s found.
 */
void usage_update(struct usage *u, struct scan *s, int64_t young,
		  uint64_t reclaimable, size_t reclaimable_blobs);

/* Adds a blob of size bytes that repo now holds (after it is linked). */
void usage_note(struct usage *u, const char *repo, const struct digest *d,
		uint64_t size);

/*
 * Checks that repo may take a blob of size bytes: returns 0 when no
 * quota applies, the repository holds it already, or it fits; else -1
 * with e set to DENIED and a message naming the quota.
 */
int usage_check_quota(struct usage *u, const char *repo, const struct digest *d,
		      uint64_t size, struct reg_error *e);

/* Fills out for repo; false when the repository holds nothing. */
bool usage_repo(struct usage *u, const char *repo, struct usage_repo *out);
void usage_total(struct usage *u, struct usage_total *out);

/*
 * Appends a JSON object to out: every repository and the total, or only
 * repo when it is not NULL (false when it holds nothing).
 */
bool usage_json(struct usage *u, const char *repo, struct buf *out);

/*
 * How many repositories /metrics names: those holding the most bytes.
 * Thousands of repositories would make every scrape large and every
 * series a time series to keep; berth_repositories says how many there
 * are in all.
 */
#define USAGE_METRICS_REPOS 100

/*
 * A metrics collector (metrics.h) that usage_new registers and
 * usage_free removes; arg is the struct usage.  Appends, once a first
 * scan has finished:
 *
 *   berth_repositories                          repositories holding bytes
 *   berth_repository_bytes{repository}          bytes each holds
 *   berth_repository_exclusive_bytes{repository}
 *   berth_repository_shared_bytes{repository}
 *   berth_storage_held_bytes                    bytes some repository holds
 *   berth_storage_reclaimable_bytes             what a collection would free
 *   berth_usage_scanned_timestamp_seconds       the last scan's time
 *
 * with the per-repository series for the USAGE_METRICS_REPOS
 * repositories holding the most bytes (ties by name).
 */
void usage_metrics(void *arg, struct buf *out);

#endif
