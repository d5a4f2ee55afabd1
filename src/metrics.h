/*
 * metrics.h - berth's counters, gauges and histograms, and their
 * Prometheus text exposition.
 *
 * The metrics are process-wide: any thread may record at any time without
 * a lock (each value is an atomic), and metrics_render() may run while
 * they do.  Labels have few values by construction: a route is a short
 * name the API layer picks ("manifest", "blob", "upload"...), a method
 * outside the usual few is "OTHER", so a scanner sending odd requests
 * cannot make the exposition grow without bound.
 *
 * What is exported (all prefixed berth_ unless process_):
 *   http_requests_total{route,method,status}      counter
 *   http_request_duration_seconds{route}          histogram
 *   http_bytes_received_total, http_bytes_sent_total
 *   uploads_in_flight                             gauge
 *   storage_blobs, storage_bytes                  gauges (metrics_storage_*)
 *   auth_failures_total
 *   gc_runs_total{result}, gc_freed_blobs_total, gc_freed_bytes_total
 *   process_resident_memory_bytes, process_open_fds and the other
 *   process_* values read from /proc/self when rendered
 * plus whatever registered collectors add: notifications (notify.h),
 * bytes per repository (usage.h).
 */
#ifndef BERTH_METRICS_H
#define BERTH_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/*
 * Counts one finished request.  route is a short [a-z0-9_] name chosen by
 * the caller (NULL or anything else counts as "other"); method is the
 * HTTP method; status the answer's status; bytes_in and bytes_out the
 * body bytes received and sent; seconds the time from the request line
 * to the last byte.  Strings are not kept.
 */
void metrics_observe_request(const char *route, const char *method, int status,
			     uint64_t bytes_in, uint64_t bytes_out,
			     double seconds);

/* An upload request starts or stops receiving its body. */
void metrics_upload_begin(void);
void metrics_upload_end(void);

/* A request was refused for bad or missing credentials, or denied. */
void metrics_auth_failure(void);

/*
 * A garbage-collection run ended; ok is false when it stopped on an
 * error.  blobs and bytes are what it removed from the store; they are
 * also taken off the storage gauges.
 */
void metrics_gc_run(bool ok, uint64_t blobs, uint64_t bytes);

/*
 * The storage gauges.  metrics_storage_add records a change the caller
 * made (+1 blob and its size when a new blob lands in the store);
 * metrics_storage_set replaces both with a full count (blobstats.c).
 */
void metrics_storage_add(int64_t blobs, int64_t bytes);
void metrics_storage_set(uint64_t blobs, uint64_t bytes, int64_t when);
/*
 * Brackets a full count: changes added between begin and set are kept on
 * top of the count, since the walk may or may not have seen them.
 */
void metrics_storage_count_begin(void);

/*
 * A collector appends its own families, in the exposition format, to out
 * when the metrics are rendered.  It runs on the rendering thread and
 * must not block for long.
 */
typedef void (*metrics_collector_fn)(void *arg, struct buf *out);

/* Registers fn; returns 0, or -ENOSPC when too many are registered. */
int metrics_add_collector(metrics_collector_fn fn, void *arg);
/* Unregisters fn with the same arg; waits for a render in progress. */
void metrics_remove_collector(metrics_collector_fn fn, void *arg);

/* Content-Type of what metrics_render writes. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Appends every metric in the Prometheus text format to out. */
void metrics_render(struct buf *out);

/*
 * Helpers for collectors: "# HELP" and "# TYPE" lines, and a label
 * value escaped as the format wants (backslash, quote, newline).
 */
void metrics_family(struct buf *out, const char *name, const char *type,
		    const char *help);
void metrics_label_value(struct buf *out, const char *value);

#endif
