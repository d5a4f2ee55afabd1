/*
 * health.h - is the store there, and does it take writes?
 *
 * A checker thread runs the store's own check (store_ops.check, which
 * writes and removes a small object) every interval and keeps the
 * result, so asking is a lock and a copy: the API may ask on every
 * request.  A check that does not return (a hung network filesystem)
 * is itself reported once it has run for longer than the hang limit, so
 * clients get a 503 with a reason instead of a request that never ends.
 */
#ifndef BERTH_HEALTH_H
#define BERTH_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct health;

enum health_state {
	HEALTH_OK = 0,	 /* reachable and writable */
	HEALTH_READONLY, /* answers reads, refuses writes (ro, full) */
	HEALTH_DOWN,	 /* does not answer, or fails outright */
};

/* Seconds a check may run before the store counts as not answering. */
#define HEALTH_HANG_LIMIT 5

/*
 * Checks st (not owned; must outlive h) once now, then every interval_ms
 * on a thread.  With writes_needed false (a registry in read-only
 * maintenance mode) a store that refuses writes still counts as ready.
 * Returns NULL after logging why.
 */
struct health *health_new(struct store *st, unsigned interval_ms,
			  bool writes_needed);
void health_free(struct health *h);

/*
 * Marks the registry as shutting down: from now on health_ready says no
 * ("berth is shutting down"), so that load balancers stop sending new
 * requests while those in flight finish.  health_state is unchanged:
 * requests still arriving are served.  Safe from any thread.
 */
void health_set_stopping(struct health *h);

/*
 * The latest result.  reason (len bytes, may be NULL) receives a
 * sentence for the client and the operator, such as "storage is not
 * writable: read-only file system"; "" when all is well.  Never blocks
 * on the store.
 */
enum health_state health_state(struct health *h, char *reason, size_t len);

/*
 * Whether the registry is ready to serve: HEALTH_OK, or HEALTH_READONLY
 * when writes are not needed.  Fills reason as health_state does.
 */
bool health_ready(struct health *h, char *reason, size_t len);

#endif
