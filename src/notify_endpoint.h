/*
 * notify_endpoint.h - what notify.c and notify_send.c share about one
 * endpoint: its private copy of the settings, its journal, its sender
 * thread and its counters.  Not for use outside the notify module.
 */
#ifndef BERTH_NOTIFY_ENDPOINT_H
#define BERTH_NOTIFY_ENDPOINT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>

struct journal;
struct notify;

struct notify_endpoint {
	struct notify *n;
	char *name;
	char *url;
	char *log_url;	/* url without any user:password@ */
	char *settings; /* all settings, to spot changes */
	struct curl_slist *headers;
	long timeout_ms;
	int threshold;
	long backoff_ms;
	char **ignored_types;
	char **ignored_actions;
	struct journal *journal;

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stopping; /* atomic: read by curl's callback */

	uint64_t queued; /* atomics, for the metrics */
	uint64_t delivered;
	uint64_t failures;
};

/*
 * The sender thread's body; arg is the endpoint.  It runs until
 * ep->stopping is set (and ep->wake signalled, and the journal woken).
 */
void *notify_send_run(void *arg);

#endif
