/*
 * debugsrv.h - the debug listener of http.debug.addr, apart from the
 * registry's port so that it can stay private to the host or cluster:
 *
 *   /metrics        Prometheus metrics (http.debug.prometheus.enabled,
 *                   at http.debug.prometheus.path)
 *   /healthz        200 while the process serves at all
 *   /readyz         200 when the store answers and takes writes, else
 *                   503 with the reason as text
 *   /debug/health   registry:2's form of the same: {} or
 *                   {"storagedriver_filesystem": "<reason>"} with 503
 */
#ifndef BERTH_DEBUGSRV_H
#define BERTH_DEBUGSRV_H

#include <stdint.h>

struct config;
struct health;
struct store;
struct debugsrv;

/* How often the blobs behind the storage gauges are counted in full. */
#define DEBUGSRV_BLOBCOUNT_INTERVAL (15 * 60)

/*
 * Starts the debug listener when cfg->http_debug_addr is set, and with
 * Prometheus enabled also the blob counter over st.  cfg, st and h are
 * not owned and must outlive the server.  Returns 0 with *out set (NULL
 * when no debug address is configured), or -1 after logging why the
 * listener could not start.
 */
int debugsrv_start(const struct config *cfg, struct store *st, struct health *h,
		   struct debugsrv **out);
/* The port bound, for tests that ask for port 0. */
uint16_t debugsrv_port(const struct debugsrv *d);
/* Stops the listener and the blob counter; d may be NULL. */
void debugsrv_stop(struct debugsrv *d);

#endif
