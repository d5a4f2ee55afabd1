/*
 * notify_send.c - an endpoint's sender thread: from the journal to the
 * receiver, in order.
 *
 * The sender reads up to SEND_BATCH events from its journal, wraps them
 * in an envelope and POSTs it with libcurl; any 2xx or 3xx answer counts
 * as delivered (registry:2's rule; redirects are not followed), and only
 * then does the journal move on.  Otherwise the same envelope is tried
 * again: at once while fewer than threshold tries in a row have failed,
 * then after a pause of backoff each time.  Stopping the endpoint ends a
 * pause or a request in progress at once.
 */
#include "journal.h"
#include "log.h"
#include "notify_endpoint.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.0.0"
#endif

#define SEND_BATCH 100		       /* events per envelope, at most */
#define SEND_BATCH_BYTES (1024 * 1024) /* and about this many bytes */
#define IDLE_WAIT_MS 1000	       /* a sender's longest sleep */

static bool stopping(struct notify_endpoint *ep)
{
	return __atomic_load_n(&ep->stopping, __ATOMIC_RELAXED) != 0;
}

/* Sleeps up to ms, or until the endpoint is stopped. */
static void nap(struct notify_endpoint *ep, long ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&ep->lock);
	while (!stopping(ep))
		if (pthread_cond_timedwait(&ep->wake, &ep->lock, &until) ==
		    ETIMEDOUT)
			break;
	pthread_mutex_unlock(&ep->lock);
}

static size_t on_answer(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n; /* the receiver's body is not needed */
}

/* Ends a delivery in progress when the endpoint stops. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return stopping(arg) ? 1 : 0;
}

static CURL *sender_curl(struct notify_endpoint *ep, char *errbuf)
{
	CURL *c = curl_easy_init();

	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_URL, ep->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, ep->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ep->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ep->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "berth/" BERTH_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, ep);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	return c;
}

/* "{"events":[e1,e2,...]}" from journal lines "e1\ne2\n...". */
static void envelope(const struct buf *lines, struct buf *out)
{
	buf_reset(out);
	buf_adds(out, "{\"events\":[");
	for (size_t i = 0; i < lines->len; i++) {
		char c = lines->data[i];

		if (c != '\n')
			buf_add(out, &c, 1);
		else if (i + 1 < lines->len)
			buf_adds(out, ",");
	}
	buf_adds(out, "]}");
}

/* POSTs body once; 0 when the receiver took it, else -1 with why. */
static int post(CURL *c, const struct buf *body, char *why, size_t len,
		char *errbuf)
{
	long status = 0;
	CURLcode rc;

	errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(why, len, "%s",
			 errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 400)
		return 0;
	snprintf(why, len, "answered with status %ld", status);
	return -1;
}

struct send_state {
	CURL *curl;
	struct buf lines;
	struct buf body;
	int streak; /* failures in a row */
	char errbuf[CURL_ERROR_SIZE];
};

static void on_delivered(struct notify_endpoint *ep, struct send_state *s,
			 const struct journal_pos *next, size_t count)
{
	int err = journal_ack(ep->journal, next, count);

	if (err) {
		/* Sent, but the journal did not move: sent again later. */
		log_error(
			"delivered events not marked endpoint=\"%s\" err=\"%s\"",
			ep->name, strerror(-err));
		nap(ep, ep->backoff_ms);
		return;
	}
	__atomic_add_fetch(&ep->delivered, count, __ATOMIC_RELAXED);
	if (s->streak >= 1)
		log_info("events delivered again endpoint=\"%s\" after=%d",
			 ep->name, s->streak);
	s->streak = 0;
}

/*
 * NEEDSWORK: an endpoint that refuses one envelope for good (a 400 for
 * something it cannot parse) holds up every later event, since nothing
 * is ever dropped; a maximum number of tries with a dead-letter file
 * would let the rest through.
 */
static void on_failed(struct notify_endpoint *ep, struct send_state *s,
		      const char *why)
{
	__atomic_add_fetch(&ep->failures, 1, __ATOMIC_RELAXED);
	s->streak++;
	if (s->streak == 1)
		log_warn("events not delivered, retrying endpoint=\"%s\" url=%s "
			 "err=\"%s\"",
			 ep->name, ep->log_url, why);
	else
		log_debug("events still not delivered endpoint=\"%s\" tries=%d "
			  "err=\"%s\"",
			  ep->name, s->streak, why);
	if (s->streak >= ep->threshold)
		nap(ep, ep->backoff_ms);
}

/* Sends the next envelope; false when there was nothing to send. */
static bool send_next(struct notify_endpoint *ep, struct send_state *s)
{
	struct journal_pos next;
	char why[CURL_ERROR_SIZE + 64];
	size_t count;
	int err;

	buf_reset(&s->lines);
	err = journal_read(ep->journal, SEND_BATCH, SEND_BATCH_BYTES, &s->lines,
			   &count, &next);
	if (err) {
		log_error("cannot read queued events endpoint=\"%s\" err=\"%s\"",
			  ep->name, strerror(-err));
		nap(ep, ep->backoff_ms);
		return true;
	}
	if (count == 0)
		return false;

	envelope(&s->lines, &s->body);
	if (post(s->curl, &s->body, why, sizeof(why), s->errbuf) == 0)
		on_delivered(ep, s, &next, count);
	else if (!stopping(ep))
		on_failed(ep, s, why);
	return true;
}

void *notify_send_run(void *arg)
{
	struct notify_endpoint *ep = arg;
	struct send_state s = {.lines = BUF_INIT, .body = BUF_INIT};

	s.curl = sender_curl(ep, s.errbuf);
	if (!s.curl) {
		log_error("cannot start delivery endpoint=\"%s\"", ep->name);
		return NULL;
	}
	while (!stopping(ep))
		if (!send_next(ep, &s))
			journal_wait(ep->journal, IDLE_WAIT_MS);

	curl_easy_cleanup(s.curl);
	buf_free(&s.lines);
	buf_free(&s.body);
	return NULL;
}
