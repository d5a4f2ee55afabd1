/*
 * blobstats.h - counts the blobs in the store and their bytes, for the
 * berth_storage_blobs and berth_storage_bytes gauges.
 *
 * A full count walks blobs/<alg>/<2 hex>/<hex>/data and stats each data
 * object, so it costs one stat per blob; it runs on its own thread, once
 * at start and then every interval.  Between counts the gauges follow
 * metrics_storage_add() calls made where blobs are written and removed.
 */
#ifndef BERTH_BLOBSTATS_H
#define BERTH_BLOBSTATS_H

#include <stdint.h>

struct store;
struct blobstats;

/*
 * Counts every blob of st into *blobs and *bytes.  stop, when not NULL,
 * is polled so a long walk can end early (returning -ECANCELED).
 * Returns 0, or a negative errno from the store; a store without any
 * blob yet counts as empty.
 */
int blobstats_count(struct store *st, const int *stop, uint64_t *blobs,
		    uint64_t *bytes);

/*
 * Starts the counting thread over st (not owned; must outlive it),
 * counting at once and then every interval seconds.  Returns NULL after
 * logging why.
 */
struct blobstats *blobstats_start(struct store *st, int64_t interval);
/* Stops the thread, ending a walk in progress early, and frees b. */
void blobstats_stop(struct blobstats *b);

#endif
