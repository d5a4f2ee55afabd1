/*
 * purge.h - removes abandoned upload sessions, as registry:2's
 * storage.maintenance.uploadpurging does: every interval, any session
 * started longer than age ago is deleted with what it had received.
 */
#ifndef BERTH_PURGE_H
#define BERTH_PURGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct purger;

/*
 * One pass over every repository's sessions.  With dry_run nothing is
 * removed, only logged.  Counts the sessions that were (or would be)
 * removed in *removed.  Returns 0 or a negative errno from the store.
 */
int purge_uploads(struct store *st, int64_t now, int64_t age, bool dry_run,
		  size_t *removed);

/* Runs purge_uploads on a thread: soon after start, then every interval. */
struct purger *purge_start(struct store *st, int64_t age, int64_t interval,
			   bool dry_run);
/* Stops the thread (waiting for a pass in progress) and frees p. */
void purge_stop(struct purger *p);

#endif
