/*
 * access.h - who is asking and whether they may: HTTP Basic logins
 * checked against an htpasswd file, then the repository permissions of
 * the access section.
 *
 * The HTTP API calls access_check before every handler.  Without an auth
 * section every request is allowed, as in registry:2.  With one, the
 * htpasswd file is re-read when it changes, verified logins are cached
 * (so bcrypt is paid once per user and password, not per request), and
 * repeated failures from one client for one user are throttled.  All
 * functions are safe to call from any number of threads at once.
 */
#ifndef BERTH_ACCESS_H
#define BERTH_ACCESS_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum access_action { ACCESS_PULL, ACCESS_PUSH, ACCESS_DELETE };

enum access_verdict {
	ACCESS_OK,
	ACCESS_UNAUTHORIZED, /* 401: no or bad credentials */
	ACCESS_DENIED,	     /* 403: a known user, not allowed */
	ACCESS_THROTTLED,    /* 429: too many failed logins */
};

/* Longest decoded "user:password" of a Basic header berth reads. */
#define ACCESS_BASIC_MAX 1024

/* Size of a stamp: what a login remembers of the credentials it used. */
#define ACCESS_STAMP_LEN 32

struct access;

/*
 * Sets up access control from cfg, which must outlive the result (the
 * access rules are used in place).  Returns an object to release with
 * access_close, or NULL with a message in err when auth is configured
 * but the htpasswd file cannot be read.  Without auth the object allows
 * everything.
 */
struct access *access_open(const struct config *cfg, char *err, size_t errlen);
/* Frees a; no other call on a may be running or follow. */
void access_close(struct access *a);

/* Whether logins are required at all (an auth section is configured). */
bool access_enabled(const struct access *a);

/* The configured realm, or NULL when access is not enabled. */
const char *access_realm(const struct access *a);

/*
 * The value of the WWW-Authenticate header for 401 answers, such as
 * `Basic realm="Registry Realm"` with quotes in the realm escaped; NULL
 * when access is not enabled.  Lives as long as a.
 */
const char *access_challenge(const struct access *a);

/*
 * Authenticates the Authorization header (NULL or "" when absent) sent
 * from client_addr (for throttling and logs; NULL is taken as "-"), then
 * authorises action on repo.  A NULL repo is the registry itself (/v2/,
 * the catalog), which needs only a valid login, or nothing if anonymous
 * users may pull anywhere.
 *
 * Sets *user to the logged-in name (malloc'd, the caller frees it) for
 * ACCESS_OK and ACCESS_DENIED, else to NULL; anonymous requests get NULL
 * too.  Sets *retry_after to the seconds to wait for ACCESS_THROTTLED,
 * else to 0.
 */
enum access_verdict access_check(struct access *a, const char *authorization,
				 const char *client_addr, const char *repo,
				 enum access_action action, char **user,
				 unsigned *retry_after);

/*
 * Authenticates a login that will outlive the request, such as the web
 * UI's: the Authorization header is checked exactly as access_check
 * checks it for the registry itself (same cache, same throttling).  On
 * ACCESS_OK, sets *user (malloc'd, the caller frees it) and fills stamp
 * with the fingerprint of the user's htpasswd line that the password
 * was verified against; otherwise *user is NULL.  Without logins there
 * is nothing to log in to and the answer is ACCESS_UNAUTHORIZED.
 */
enum access_verdict access_login(struct access *a, const char *authorization,
				 const char *client_addr, char **user,
				 unsigned char stamp[ACCESS_STAMP_LEN],
				 unsigned *retry_after);

/*
 * Whether user still has the credentials stamp was made from by
 * access_login: false once the user is gone from the htpasswd file or
 * their line has changed (a new password, even the same one hashed
 * anew).  Stamps compare across access objects of one process, so a
 * configuration reload that keeps the file keeps them good.  Always
 * true without logins.  Reads the file only when access_check would (it
 * changed, at most once a second); otherwise a lookup and a compare.
 */
bool access_stamp_current(struct access *a, const char *user,
			  const unsigned char stamp[ACCESS_STAMP_LEN]);

/*
 * Whether user (NULL for anonymous) may perform action on repo, without
 * checking any password: for filtering a catalog once access_check has
 * let the request in.
 */
bool access_may(struct access *a, const char *user, const char *repo,
		enum access_action action);

/*
 * Whether a request may use the administrative endpoints (/admin/ and
 * the web UI's storage panel).  With logins, user (NULL for anonymous)
 * must be logged in and listed in access.admins; when there is no
 * access section, every logged-in user may do everything and so is an
 * administrator.  Without logins there are no users to tell apart, and
 * only a client on the loopback address (client_addr, numeric, after
 * trusted proxies are resolved) is one: the machine's own operator.
 */
bool access_admin(struct access *a, const char *user, const char *client_addr);

/*
 * Re-reads the htpasswd file now if it changed (access_check does this
 * by itself at most once a second).  Returns 0, or a negative errno if
 * the new file cannot be read, in which case the users loaded before
 * stay in force and the problem is logged.
 */
int access_refresh(struct access *a);

struct access_stats {
	uint64_t hashes;     /* full password hash computations */
	uint64_t cache_hits; /* logins answered from the cache */
	uint64_t failures;   /* wrong or malformed credentials */
	uint64_t throttled;  /* attempts refused while locked out */
	uint64_t reloads;    /* htpasswd files loaded after the first */
	size_t users;	     /* users who can log in now */
};

/* Counters since access_open, for metrics and tests. */
void access_get_stats(struct access *a, struct access_stats *out);

/*
 * Parses an Authorization header of the Basic scheme.  Decodes it into
 * buf (buflen bytes, at most ACCESS_BASIC_MAX + 1 are used) and points
 * *user and *password into buf.  Returns 0, or -EINVAL when the scheme
 * is not Basic, the base64 is malformed, the result is too long, has no
 * ':', an empty user or a NUL byte.  The caller should wipe buf
 * (OPENSSL_cleanse) when done, since it holds the password.
 */
int access_basic_parse(const char *header, char *buf, size_t buflen,
		       const char **user, const char **password);

#endif
