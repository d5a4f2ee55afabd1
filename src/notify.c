/*
 * notify.c - events, their filtering, and one sender thread per endpoint.
 *
 * An event is built once as compact JSON (one line, so it is one journal
 * record) and appended to the journal of each endpoint that wants it.
 Each endpoint's sender thread (notify_send.c) delivers its journal.
 *
 * Endpoints sit in an array behind a read-write lock: events take it for
 * reading, a reload for writing while it swaps endpoints.  Each endpoint
 * keeps a private copy of its settings, so the configuration it came
 * from may be freed.
 */
#include "notify.h"
#include "config.h"
#include "http.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "notify_endpoint.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_SUBDIR "berth/events"

static const char *const action_names[] = {
	[NOTIFY_PUSH] = "push",
	[NOTIFY_PULL] = "pull",
	[NOTIFY_MOUNT] = "mount",
	[NOTIFY_DELETE] = "delete",
};

struct notify {
	pthread_rwlock_t lock;
	struct notify_endpoint **eps;
	size_t neps;
	char *dir;	/* <root>/berth/events */
	char *base_url; /* http.host, or "" */
	char *prefix;	/* http.prefix */
	bool tls;	/* the registry serves https */
	char source_addr[300];
	char instance_id[37];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- small helpers ---------------------------------------------------- */

static void random_uuid(char out[37])
{
	unsigned char b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

		if (n > 0)
			got += (size_t)n;
	}
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}

static bool word_listed(char *const *list, const char *w)
{
	for (size_t i = 0; w && list && list[i]; i++)
		if (!strcmp(list[i], w))
			return true;
	return false;
}

static char **strv_copy(char *const *v)
{
	size_t n = 0;
	char **out;

	while (v && v[n])
		n++;
	out = xcalloc(n + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The name as one safe path component: [A-Za-z0-9_.-], others as %XX. */
static char *dir_component(const char *name)
{
	struct buf b = BUF_INIT;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		bool plain =
			(*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
			(*p == '.' && p != (const unsigned char *)name);

		if (plain)
			buf_add(&b, p, 1);
		else
			buf_addf(&b, "%%%02X", *p);
	}
	return buf_detach(&b, NULL);
}

/* A URL for logs: credentials in it, if any, are left out. */
static char *url_for_log(const char *url)
{
	const char *host = strstr(url, "://");
	const char *at, *slash;

	if (!host)
		return xstrdup(url);
	host += 3;
	slash = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(slash - host));
	if (!at)
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(host - url), url, at + 1);
}

/* A JSON string, with bytes that are not UTF-8 turned into '?'. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j)
		return j;
	copy = xstrdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static void set_str(json_t *obj, const char *key, const char *value)
{
	if (value)
		json_object_set_new(obj, key, jstr(value));
}

/* ---- events ----------------------------------------------------------- */

static void event_time(char out[48])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, 48, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 48 - n, ".%09ldZ", ts.tv_nsec);
}

/* Where the content can be fetched, as registry:2 reports it. */
static char *target_url(const struct notify *n, const struct notify_target *t,
			const struct notify_request *r)
{
	const char *ref = t->digest ? t->digest : t->tag;
	char *base;
	char *url;

	if (n->base_url[0])
		base = xstrdup(n->base_url);
	else if (r && r->host && r->host[0])
		base = xasprintf("%s://%s", n->tls ? "https" : "http", r->host);
	else
		base = xstrdup("");
	url = xasprintf("%s%s/v2/%s/%s/%s", base, n->prefix, t->repository,
			t->is_manifest ? "manifests" : "blobs", ref);
	free(base);
	return url;
}

static json_t *event_target(const struct notify *n, enum notify_action a,
			    const struct notify_target *t,
			    const struct notify_request *r)
{
	json_t *target = json_object();

	/* registry:2 tells only what was deleted, not what it was. */
	if (a != NOTIFY_DELETE) {
		set_str(target, "mediaType", t->media_type);
		json_object_set_new(target, "size",
				    json_integer((json_int_t)t->size));
	}
	set_str(target, "digest", t->digest);
	if (a != NOTIFY_DELETE)
		json_object_set_new(target, "length",
				    json_integer((json_int_t)t->size));
	set_str(target, "repository", t->repository);
	set_str(target, "fromRepository", t->from_repository);
	if (a != NOTIFY_DELETE && (t->digest || t->tag)) {
		char *url = target_url(n, t, r);

		set_str(target, "url", url);
		free(url);
	}
	set_str(target, "tag", t->tag);
	return target;
}

static json_t *event_request(const struct notify_request *r)
{
	json_t *req = json_object();
	char id[37];

	if (r && r->id) {
		set_str(req, "id", r->id);
	} else {
		random_uuid(id);
		set_str(req, "id", id);
	}
	if (r) {
		set_str(req, "addr", r->addr);
		set_str(req, "host", r->host);
		set_str(req, "method", r->method);
		set_str(req, "useragent", r->useragent);
	}
	return req;
}

/* The event as one line of compact JSON; the caller frees it. */
static char *event_json(const struct notify *n, enum notify_action a,
			const struct notify_target *t,
			const struct notify_request *r)
{
	json_t *ev = json_object(), *actor = json_object();
	json_t *source = json_object();
	char id[37], stamp[48];
	char *text;

	random_uuid(id);
	event_time(stamp);
	set_str(ev, "id", id);
	set_str(ev, "timestamp", stamp);
	set_str(ev, "action", action_names[a]);
	json_object_set_new(ev, "target", event_target(n, a, t, r));
	json_object_set_new(ev, "request", event_request(r));
	if (r && r->user)
		set_str(actor, "name", r->user);
	json_object_set_new(ev, "actor", actor);
	set_str(source, "addr", n->source_addr);
	set_str(source, "instanceID", n->instance_id);
	json_object_set_new(ev, "source", source);

	text = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	return text;
}

static bool endpoint_wants(const struct notify_endpoint *ep,
			   enum notify_action a, const struct notify_target *t)
{
	if (word_listed(ep->ignored_actions, action_names[a]))
		return false;
	return !word_listed(ep->ignored_types, t->media_type);
}

int notify_event(struct notify *n, enum notify_action action,
		 const struct notify_target *t, const struct notify_request *r)
{
	char *line;
	int rc = 0;

	if (!n || (unsigned)action > NOTIFY_DELETE || !t || !t->repository)
		return n ? -EINVAL : 0;

	pthread_rwlock_rdlock(&n->lock);
	line = n->neps ? event_json(n, action, t, r) : NULL;
	for (size_t i = 0; i < n->neps; i++) {
		struct notify_endpoint *ep = n->eps[i];
		int err;

		if (!endpoint_wants(ep, action, t))
			continue;
		err = journal_append(ep->journal, line, strlen(line));
		if (err) {
			log_error("event could not be queued endpoint=\"%s\" "
				  "action=%s repo=%s err=\"%s\"",
				  ep->name, action_names[action], t->repository,
				  strerror(-err));
			rc = err;
			continue;
		}
		__atomic_add_fetch(&ep->queued, 1, __ATOMIC_RELAXED);
	}
	pthread_rwlock_unlock(&n->lock);
	free(line);
	return rc;
}

void notify_request_init(struct notify_request *r,
			 const struct http_request *req, const char *user)
{
	memset(r, 0, sizeof(*r));
	r->addr = http_client_addr(req);
	r->host = http_header(req, "Host");
	r->method = http_method(req);
	r->useragent = http_header(req, "User-Agent");
	r->user = user;
}

/* ---- endpoints -------------------------------------------------------- */

/* Every setting in one string: equal strings, unchanged endpoint. */
static char *endpoint_settings(const struct config_notify_endpoint *c)
{
	struct buf b = BUF_INIT;

	buf_addf(&b, "%s\n%s\n%ld\n%d\n%ld\n", c->name, c->url,
		 (long)c->timeout_ms, c->threshold, (long)c->backoff_ms);
	for (size_t i = 0; i < c->headers_count; i++)
		for (char **v = c->headers[i].values; v && *v; v++)
			buf_addf(&b, "h:%s:%s\n", c->headers[i].name, *v);
	for (char **v = c->ignored_mediatypes; v && *v; v++)
		buf_addf(&b, "t:%s\n", *v);
	for (char **v = c->ignored_actions; v && *v; v++)
		buf_addf(&b, "a:%s\n", *v);
	return buf_detach(&b, NULL);
}

static struct curl_slist *endpoint_headers(
	const struct config_notify_endpoint *c)
{
	struct curl_slist *list = NULL;

	list = curl_slist_append(list, "Content-Type: " NOTIFY_ENVELOPE_TYPE);
	/* Send the body at once, without waiting for "100 Continue":
	 * envelopes are small and not every receiver answers that. */
	list = curl_slist_append(list, "Expect:");
	for (size_t i = 0; i < c->headers_count; i++) {
		for (char **v = c->headers[i].values; v && *v; v++) {
			char *h = xasprintf("%s: %s", c->headers[i].name, *v);

			list = curl_slist_append(list, h);
			free(h);
		}
	}
	return list;
}

static void endpoint_free(struct notify_endpoint *ep)
{
	if (!ep)
		return;
	journal_close(ep->journal);
	curl_slist_free_all(ep->headers);
	strv_free(ep->ignored_types);
	strv_free(ep->ignored_actions);
	pthread_cond_destroy(&ep->wake);
	pthread_mutex_destroy(&ep->lock);
	free(ep->settings);
	free(ep->log_url);
	free(ep->url);
	free(ep->name);
	free(ep);
}

static struct notify_endpoint *endpoint_new(
	struct notify *n, const struct config_notify_endpoint *c)
{
	struct notify_endpoint *ep = xcalloc(1, sizeof(*ep));

	ep->n = n;
	ep->name = xstrdup(c->name);
	ep->url = xstrdup(c->url);
	ep->log_url = url_for_log(c->url);
	ep->settings = endpoint_settings(c);
	ep->headers = endpoint_headers(c);
	ep->timeout_ms = (long)c->timeout_ms;
	ep->threshold = c->threshold > 0 ? c->threshold : 1;
	ep->backoff_ms = (long)c->backoff_ms;
	ep->ignored_types = strv_copy(c->ignored_mediatypes);
	ep->ignored_actions = strv_copy(c->ignored_actions);
	pthread_mutex_init(&ep->lock, NULL);
	pthread_cond_init(&ep->wake, NULL);
	return ep;
}

/* Opens the endpoint's journal and starts its sender. */
static int endpoint_start(struct notify_endpoint *ep)
{
	char *part = dir_component(ep->name);
	char *dir = xasprintf("%s/%s", ep->n->dir, part);
	int err = journal_open(dir, &ep->journal);

	free(part);
	free(dir);
	if (err)
		return err;
	if (pthread_create(&ep->thread, NULL, notify_send_run, ep) != 0) {
		log_error("cannot start delivery endpoint=\"%s\"", ep->name);
		return -EAGAIN;
	}
	log_info("sending events endpoint=\"%s\" url=%s timeout_ms=%ld "
		 "threshold=%d backoff_ms=%ld queued=%llu",
		 ep->name, ep->log_url, ep->timeout_ms, ep->threshold,
		 ep->backoff_ms,
		 (unsigned long long)journal_pending(ep->journal));
	return 0;
}

static void endpoint_stop(struct notify_endpoint *ep)
{
	pthread_mutex_lock(&ep->lock);
	__atomic_store_n(&ep->stopping, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&ep->wake);
	pthread_mutex_unlock(&ep->lock);
	journal_wake(ep->journal);
	pthread_join(ep->thread, NULL);
}

/* ---- the whole -------------------------------------------------------- */

static uint64_t get_queued(struct notify_endpoint *ep)
{
	return __atomic_load_n(&ep->queued, __ATOMIC_RELAXED);
}

static uint64_t get_delivered(struct notify_endpoint *ep)
{
	return __atomic_load_n(&ep->delivered, __ATOMIC_RELAXED);
}

static uint64_t get_failures(struct notify_endpoint *ep)
{
	return __atomic_load_n(&ep->failures, __ATOMIC_RELAXED);
}

static uint64_t get_pending(struct notify_endpoint *ep)
{
	return journal_pending(ep->journal);
}

/* The metrics collector: four families, one series per endpoint. */
static void collect(void *arg, struct buf *out)
{
	static const struct {
		const char *name, *type, *help;
		uint64_t (*get)(struct notify_endpoint *ep);
	} families[] = {
		{"berth_notifications_events_total", "counter",
		 "Events queued for an endpoint.", get_queued},
		{"berth_notifications_delivered_total", "counter",
		 "Events an endpoint accepted.", get_delivered},
		{"berth_notifications_failures_total", "counter",
		 "Deliveries that failed and will be tried again.",
		 get_failures},
		{"berth_notifications_pending", "gauge",
		 "Events queued and not yet delivered.", get_pending},
	};
	struct notify *n = arg;

	pthread_rwlock_rdlock(&n->lock);
	for (size_t f = 0; n->neps && f < 4; f++) {
		metrics_family(out, families[f].name, families[f].type,
			       families[f].help);
		for (size_t i = 0; i < n->neps; i++) {
			buf_addf(out, "%s{endpoint=\"", families[f].name);
			metrics_label_value(out, n->eps[i]->name);
			buf_addf(out, "\"} %llu\n",
				 (unsigned long long)families[f].get(
					 n->eps[i]));
		}
	}
	pthread_rwlock_unlock(&n->lock);
}

/* hostname:port of http.addr, as registry:2's source.addr. */
static void source_addr(const struct config *cfg, char out[300])
{
	char host[256] = "localhost";
	const char *colon = cfg->http_addr ? strrchr(cfg->http_addr, ':')
					   : NULL;

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(out, 300, "%s%s", host, colon ? colon : "");
}

/*
 * Makes the endpoints of cfg into a new array, reusing from old those
 * whose settings did not change (they are taken out of old).
 */
static int build_endpoints(struct notify *n, const struct config *cfg,
			   struct notify_endpoint **old, size_t nold,
			   struct notify_endpoint ***out, size_t *count)
{
	struct notify_endpoint **eps =
		xcalloc(cfg->notify_endpoints_count + 1, sizeof(*eps));
	size_t k = 0;
	int err = 0;

	for (size_t i = 0; i < cfg->notify_endpoints_count && !err; i++) {
		const struct config_notify_endpoint *c =
			&cfg->notify_endpoints[i];
		char *settings = endpoint_settings(c);

		if (c->disabled) {
			free(settings);
			continue;
		}
		for (size_t j = 0; j < nold && !eps[k]; j++) {
			if (old[j] && !strcmp(old[j]->settings, settings)) {
				eps[k] = old[j];
				old[j] = NULL;
			}
		}
		free(settings);
		if (!eps[k]) {
			eps[k] = endpoint_new(n, c);
			err = endpoint_start(eps[k]);
			if (err) {
				endpoint_free(eps[k]);
				eps[k] = NULL;
				break;
			}
		}
		k++;
	}
	*out = eps;
	*count = k;
	return err;
}

static void stop_all(struct notify_endpoint **eps, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (!eps[i])
			continue;
		endpoint_stop(eps[i]);
		endpoint_free(eps[i]);
	}
}

/* Stops endpoints of old that are gone or changed: they free their
 * journals before a replacement opens the same directory. */
static void stop_changed(struct notify_endpoint **old, size_t nold,
			 const struct config *cfg)
{
	for (size_t j = 0; j < nold; j++) {
		bool kept = false;

		for (size_t i = 0; i < cfg->notify_endpoints_count; i++) {
			const struct config_notify_endpoint *c =
				&cfg->notify_endpoints[i];
			char *settings = endpoint_settings(c);

			kept |= !c->disabled &&
				!strcmp(settings, old[j]->settings);
			free(settings);
		}
		if (!kept) {
			log_info("stopped sending events endpoint=\"%s\" "
				 "queued=%llu",
				 old[j]->name,
				 (unsigned long long)journal_pending(
					 old[j]->journal));
			stop_all(&old[j], 1);
			old[j] = NULL;
		}
	}
}

int notify_reload(struct notify *n, const struct config *cfg)
{
	struct notify_endpoint **eps;
	size_t count;
	int err;

	pthread_rwlock_wrlock(&n->lock);
	stop_changed(n->eps, n->neps, cfg);
	err = build_endpoints(n, cfg, n->eps, n->neps, &eps, &count);
	stop_all(n->eps, n->neps); /* what is left was not reused */
	free(n->eps);
	n->eps = eps;
	n->neps = count;
	pthread_rwlock_unlock(&n->lock);
	/* NEEDSWORK: when a new endpoint's journal cannot be opened, the
	 * endpoints started before it run and those after it do not; the
	 * error says so, but the old set is not restored. */
	return err;
}

int notify_open(const struct config *cfg, struct notify **out)
{
	struct notify *n = xcalloc(1, sizeof(*n));
	int err;

	pthread_once(&curl_once, curl_setup);
	pthread_rwlock_init(&n->lock, NULL);
	n->dir = xasprintf("%s/%s", cfg->fs_rootdirectory, EVENTS_SUBDIR);
	n->base_url = xstrdup(cfg->http_host ? cfg->http_host : "");
	n->prefix = xstrdup(cfg->http_prefix ? cfg->http_prefix : "");
	n->tls = cfg->http_tls_certificate && cfg->http_tls_certificate[0];
	source_addr(cfg, n->source_addr);
	random_uuid(n->instance_id);

	err = build_endpoints(n, cfg, NULL, 0, &n->eps, &n->neps);
	if (err) {
		notify_close(n);
		return err;
	}
	metrics_add_collector(collect, n);
	*out = n;
	return 0;
}

void notify_close(struct notify *n)
{
	if (!n)
		return;
	metrics_remove_collector(collect, n);
	stop_all(n->eps, n->neps);
	free(n->eps);
	pthread_rwlock_destroy(&n->lock);
	free(n->dir);
	free(n->base_url);
	free(n->prefix);
	free(n);
}

uint64_t notify_pending(struct notify *n)
{
	uint64_t total = 0;

	if (!n)
		return 0;
	pthread_rwlock_rdlock(&n->lock);
	for (size_t i = 0; i < n->neps; i++)
		total += journal_pending(n->eps[i]->journal);
	pthread_rwlock_unlock(&n->lock);
	return total;
}
