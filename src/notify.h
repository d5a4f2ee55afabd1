/*
 * notify.h - registry:2's webhook notifications: an event for each push,
 * pull, mount and delete, POSTed to every configured endpoint as
 * registry:2's envelope (application/vnd.docker.distribution.events.v1+json,
 * {"events": [...]}).
 *
 * Unlike registry:2, which queues in memory, each endpoint has a journal
 * on disk under <rootdirectory>/berth/events/<endpoint>/ (beside, never
 * inside, the registry's docker/ tree).  notify_event returns once the
 * event is on stable storage; a sender thread per endpoint delivers
 * events in order, retries while the receiver is down (threshold
 * failures, then a pause of backoff between tries) and goes on after a
 * restart where it stopped.  Delivery is at least once: an event sent
 * just before a crash may be sent again, with the same id.
 */
#ifndef BERTH_NOTIFY_H
#define BERTH_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

struct config;
struct http_request;
struct notify;

/* The media type of the envelope, and the Content-Type it is sent with. */
#define NOTIFY_ENVELOPE_TYPE                                                   \
	"application/vnd.docker.distribution.events.v1+json"

enum notify_action { NOTIFY_PUSH, NOTIFY_PULL, NOTIFY_MOUNT, NOTIFY_DELETE };

/* What an event is about.  Strings are copied; NULL leaves a field out. */
struct notify_target {
	const char *repository; /* required */
	const char *digest;	/* the content's digest */
	const char *media_type; /* a manifest's type; blobs use
					 * application/octet-stream, as
					 * registry:2 does */
	uint64_t size;
	const char *tag;	     /* the tag the request named */
	const char *from_repository; /* a mount's source repository */
	bool is_manifest;	     /* the url names .../manifests/...,
					 * else .../blobs/... */
};

/* Who asked.  Strings are copied; NULL leaves a field out. */
struct notify_request {
	const char *id;	  /* NULL: a new random id */
	const char *addr; /* the client's address */
	const char *host; /* the Host header */
	const char *method;
	const char *useragent;
	const char *user; /* actor.name; NULL when anonymous */
};

/*
 * Opens the journals of cfg's enabled endpoints and starts their
 * senders.  cfg is not kept.  With no endpoint configured it still
 * succeeds (*out is an instance that sends nothing, and notify_reload
 * can add endpoints later).  Returns 0, or a negative errno after
 * logging why (a journal that cannot be created).
 */
int notify_open(const struct config *cfg, struct notify **out);

/*
 * Applies the notifications settings of a new configuration: endpoints
 * that did not change keep running untouched, changed ones restart on
 * their same journal (so nothing queued is lost), removed ones stop and
 * keep their journal on disk.  Returns 0, or a negative errno with the
 * old settings left in place.
 */
int notify_reload(struct notify *n, const struct config *cfg);

/* Stops the senders (ending a delivery in progress) and frees n. */
void notify_close(struct notify *n);

/*
 * Records one event for every endpoint that does not ignore its action
 * or media type, durably, before returning.  Call it after the
 * operation succeeded and before answering the client.  n may be NULL
 * (nothing configured).  Returns 0, or a negative errno after logging
 * which endpoint could not queue it.  Safe from any thread.
 */
int notify_event(struct notify *n, enum notify_action action,
		 const struct notify_target *t, const struct notify_request *r);

/*
 * Fills r from an HTTP request: address, Host, method, User-Agent and
 * user (NULL when anonymous).  The strings live as long as req and user.
 */
void notify_request_init(struct notify_request *r,
			 const struct http_request *req, const char *user);

/* Events queued and not yet delivered, over all endpoints. */
uint64_t notify_pending(struct notify *n);

#endif
