/*
 * journal.h - a durable first-in, first-out queue of one-line records in
 * a directory: many threads append, one reader takes records in order
 * and acknowledges them once it has handed them on.
 *
 * Records live in append-only segment files (events-<seq>.log, one
 * record per line) and the reader's position in a cursor file that is
 * replaced atomically, so after a crash or restart the reader goes on
 * from the first record it had not acknowledged: nothing is lost, and a
 * record handed on just before a crash may be handed on again.  Appends
 * that run together share one fdatasync.
 */
#ifndef BERTH_JOURNAL_H
#define BERTH_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct journal;

/* A position in the journal: a segment and a byte offset in it. */
struct journal_pos {
	uint64_t seg;
	uint64_t off;
};

/* The largest record journal_append takes. */
#define JOURNAL_RECORD_MAX (256 * 1024)

/*
 * Opens the journal in dir, creating the directory (mode 0700) and its
 * parents as needed, and repairs a record cut short by a crash.  Returns
 * 0 with *out set, or a negative errno after logging why.
 */
int journal_open(const char *dir, struct journal **out);
/* Closes the files and frees j; unacknowledged records stay on disk. */
void journal_close(struct journal *j);

/*
 * Appends one record of len bytes (no newline inside) and returns once
 * it is on stable storage: 0, or a negative errno with nothing appended
 * (-EINVAL for a newline or an empty record, -E2BIG beyond
 * JOURNAL_RECORD_MAX).  Safe from any number of threads.
 */
int journal_append(struct journal *j, const char *rec, size_t len);

/*
 * Reads records from the reader's position: at least one when any is
 * there, then more up to max_records and about max_bytes.  Each record
 * is appended to out followed by '\n'.  Sets *count and *next, the
 * position after the last one, for journal_ack.  Returns 0 (with *count
 * 0 when the journal is empty) or a negative errno.  One reader only.
 */
int journal_read(struct journal *j, size_t max_records, size_t max_bytes,
		 struct buf *out, size_t *count, struct journal_pos *next);

/*
 * Acknowledges the count records before next: the reader's position
 * moves there durably, and segments left wholly behind are removed.
 */
int journal_ack(struct journal *j, const struct journal_pos *next,
		size_t count);

/* Records appended and not yet acknowledged. */
uint64_t journal_pending(struct journal *j);

/*
 * Waits up to timeout_ms for a record to be pending, or for
 * journal_wake.  Returns whether any record is pending.
 */
bool journal_wait(struct journal *j, unsigned timeout_ms);
/* Ends a journal_wait early, e.g. to stop the reader. */
void journal_wake(struct journal *j);

#endif
