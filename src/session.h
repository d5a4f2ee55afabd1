/*
 * session.h - the web UI's logins: a cookie naming a session kept in
 * berth's memory, and a CSRF token that the page must send back with
 * every request that changes something.
 *
 * A browser sends cookies with requests that other sites start, too.
 * SameSite=Strict already keeps the cookie off those in current
 * browsers; the CSRF token, which another site cannot read, guards the
 * rest.  Requests that carry an Authorization header (docker, skopeo,
 * scripts) do not use sessions at all.
 *
 * Sessions end after SESSION_IDLE_SECONDS without use, SESSION_MAX_SECONDS
 * after login, at logout, or when berth restarts.  They also end at the
 * first request after berth sees that the htpasswd file no longer has
 * the user's line as it was at login (the user was removed, or given a
 * new password): each session keeps the stamp access_login made, and
 * every lookup asks access_stamp_current.  Tokens are 256 random bits;
 * only their SHA-256 is kept, so memory holds nothing a cookie could be
 * forged from.
 */
#ifndef BERTH_SESSION_H
#define BERTH_SESSION_H

#include "access.h"

#include <stdbool.h>
#include <stdint.h>

#define SESSION_COOKIE "berth_session"
#define SESSION_TOKEN_HEX 64 /* both tokens: 32 random bytes in hex */
#define SESSION_IDLE_SECONDS (12 * 3600)
#define SESSION_MAX_SECONDS (7 * 24 * 3600)
#define SESSION_MAX_COUNT 10000 /* the least recently used go first */
#define SESSION_CSRF_HEADER "X-CSRF-Token"

struct http_request;
struct sessions;

struct sessions *sessions_new(void);
void sessions_free(struct sessions *s);

/* For tests: the clock sessions read (seconds); NULL restores the real. */
void sessions_set_clock(struct sessions *s, int64_t (*now)(void));

/*
 * Starts a session for user (copied), whose login access_login stamped
 * with stamp (copied).  Writes the cookie's value into
 * token and the CSRF token into csrf, each SESSION_TOKEN_HEX hex digits
 * and a NUL.  Returns 0, or -EIO when no random bytes could be had.
 */
int session_start(struct sessions *s, const char *user,
		  const unsigned char stamp[ACCESS_STAMP_LEN],
		  char token[SESSION_TOKEN_HEX + 1],
		  char csrf[SESSION_TOKEN_HEX + 1]);

/*
 * Finds the live session a Cookie header names.  Returns its user (a
 * copy the caller frees) and, when csrf is not NULL, copies its CSRF
 * token there; NULL when there is none.  Counts as use of the session.
 * A session whose stamp a (the access control in force) no longer
 * accepts is ended, logged and not found.
 */
char *session_find(struct sessions *s, struct access *a,
		   const char *cookie_header, char csrf[SESSION_TOKEN_HEX + 1]);

/*
 * The user a request authenticates as by cookie, for the auth step of
 * any endpoint; the session is found as session_find finds it.  method decides whether the CSRF token is needed: for
 * anything but GET, HEAD and OPTIONS, csrf_header must equal the
 * session's token.  Returns the user (a copy the caller frees), or NULL
 * when there is no live session or the token is missing or wrong;
 * *csrf_ok is false only in that last case.
 */
char *session_user(struct sessions *s, struct access *a,
		   const char *cookie_header, const char *method,
		   const char *csrf_header, bool *csrf_ok);

/* Ends the session the Cookie header names, if any. */
void session_end(struct sessions *s, const char *cookie_header);

/*
 * access_check for a request that may carry a session cookie instead of
 * an Authorization header: with an Authorization header, or when access
 * control is off, it is exactly access_check.  Otherwise a live session
 * stands for its user (DENIED when access_may refuses the action), a
 * session whose CSRF token is missing or wrong for a change is DENIED,
 * and without a session the request is anonymous.  Same arguments and
 * results as access_check.
 */
enum access_verdict session_access_check(struct sessions *s, struct access *a,
					 struct http_request *req,
					 const char *repo,
					 enum access_action action, char **user,
					 unsigned *retry_after);

#endif
