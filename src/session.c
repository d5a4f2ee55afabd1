/*
 * session.c - the table of web UI sessions.
 *
 * Sessions live in a hash table keyed by the SHA-256 of their cookie
 * token, behind one mutex: a lookup is a hash and a short chain walk, far
 * below the cost of the request around it.  Expired sessions are dropped
 * when met; when the table is full, a new login first sweeps out every
 * expired session and then, if still full, the least recently used one.
 * Whether a session's credentials still hold is asked of access control
 * outside the mutex, since that may re-read the htpasswd file.
 */
#include "session.h"
#include "http.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_BUCKETS 4096
#define SESSION_KEY_LEN 32

struct session {
	unsigned char key[SESSION_KEY_LEN]; /* SHA-256 of the token */
	char csrf[SESSION_TOKEN_HEX + 1];
	unsigned char stamp[ACCESS_STAMP_LEN];
	char *user;
	int64_t started;
	int64_t used;
	struct session *next;
};

struct sessions {
	pthread_mutex_t lock;
	struct session *buckets[SESSION_BUCKETS];
	size_t count;
	int64_t (*now)(void);
};

struct sessions *sessions_new(void)
{
	struct sessions *s = xcalloc(1, sizeof(*s));

	pthread_mutex_init(&s->lock, NULL);
	s->now = now_seconds;
	return s;
}

static void session_free(struct session *e)
{
	OPENSSL_cleanse(e->csrf, sizeof(e->csrf));
	free(e->user);
	free(e);
}

void sessions_free(struct sessions *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < SESSION_BUCKETS; i++) {
		struct session *e = s->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			session_free(e);
		}
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void sessions_set_clock(struct sessions *s, int64_t (*now)(void))
{
	s->now = now ? now : now_seconds;
}

static int random_hex(char out[SESSION_TOKEN_HEX + 1])
{
	unsigned char v[SESSION_TOKEN_HEX / 2];

	if (RAND_bytes(v, sizeof(v)) != 1)
		return -EIO;
	hex_encode(v, sizeof(v), out);
	OPENSSL_cleanse(v, sizeof(v));
	return 0;
}

static void token_key(const char *token, size_t len,
		      unsigned char key[SESSION_KEY_LEN])
{
	unsigned int n = SESSION_KEY_LEN;

	EVP_Digest(token, len, key, &n, EVP_sha256(), NULL);
}

static size_t bucket_of(const unsigned char key[SESSION_KEY_LEN])
{
	/* The key is a hash already; its first bytes spread evenly. */
	return ((size_t)key[0] << 8 | key[1]) % SESSION_BUCKETS;
}

static bool expired(const struct session *e, int64_t now)
{
	return now - e->used >= SESSION_IDLE_SECONDS ||
	       now - e->started >= SESSION_MAX_SECONDS || now < e->started;
}

/* Unlinks *link's session and frees it; the caller holds the lock. */
static void drop(struct sessions *s, struct session **link)
{
	struct session *e = *link;

	*link = e->next;
	session_free(e);
	s->count--;
}

/* Makes room for one more session; the caller holds the lock. */
static void make_room(struct sessions *s, int64_t now)
{
	struct session **oldest = NULL;

	for (size_t i = 0; i < SESSION_BUCKETS; i++) {
		struct session **link = &s->buckets[i];

		while (*link) {
			if (expired(*link, now)) {
				drop(s, link);
				continue;
			}
			if (!oldest || (*link)->used < (*oldest)->used)
				oldest = link;
			link = &(*link)->next;
		}
	}
	if (s->count >= SESSION_MAX_COUNT && oldest)
		drop(s, oldest);
}

int session_start(struct sessions *s, const char *user,
		  const unsigned char stamp[ACCESS_STAMP_LEN],
		  char token[SESSION_TOKEN_HEX + 1],
		  char csrf[SESSION_TOKEN_HEX + 1])
{
	struct session *e;
	size_t b;

	if (random_hex(token) || random_hex(csrf)) {
		log_error("no random bytes for a web ui session");
		return -EIO;
	}

	e = xcalloc(1, sizeof(*e));
	token_key(token, SESSION_TOKEN_HEX, e->key);
	memcpy(e->csrf, csrf, sizeof(e->csrf));
	memcpy(e->stamp, stamp, sizeof(e->stamp));
	e->user = xstrdup(user);

	pthread_mutex_lock(&s->lock);
	e->started = e->used = s->now();
	if (s->count >= SESSION_MAX_COUNT)
		make_room(s, e->started);
	b = bucket_of(e->key);
	e->next = s->buckets[b];
	s->buckets[b] = e;
	s->count++;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static bool is_token(const char *v, size_t n)
{
	if (n != SESSION_TOKEN_HEX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", v[i]) || !v[i])
			return false;
	return true;
}

/*
 * Calls fn for each value of the session cookie in a Cookie header (a
 * browser may send several, set for different paths) until it returns
 * true.  Returns whether one did.
 */
static bool each_token(const char *cookie, bool (*fn)(void *, const char *),
		       void *arg)
{
	const size_t nlen = strlen(SESSION_COOKIE);
	char token[SESSION_TOKEN_HEX + 1];

	for (const char *p = cookie; p && *p;) {
		size_t n;

		p += strspn(p, " \t;");
		n = strcspn(p, ";");
		if (n > nlen && !strncmp(p, SESSION_COOKIE, nlen) &&
		    p[nlen] == '=' && is_token(p + nlen + 1, n - nlen - 1)) {
			memcpy(token, p + nlen + 1, SESSION_TOKEN_HEX);
			token[SESSION_TOKEN_HEX] = '\0';
			if (fn(arg, token))
				return true;
		}
		p += n;
	}
	return false;
}

/*
 * Finds a live session and returns the link that points to it, or NULL;
 * the caller holds the lock.  Drops a dead one on the way.
 */
static struct session **lookup(struct sessions *s, const char *token)
{
	unsigned char key[SESSION_KEY_LEN];
	struct session **link;
	int64_t now = s->now();

	token_key(token, SESSION_TOKEN_HEX, key);
	for (link = &s->buckets[bucket_of(key)]; *link; link = &(*link)->next) {
		if (memcmp((*link)->key, key, SESSION_KEY_LEN))
			continue;
		if (expired(*link, now)) {
			drop(s, link);
			return NULL;
		}
		(*link)->used = now;
		return link;
	}
	return NULL;
}

struct find {
	struct sessions *s;
	struct access *a; /* NULL when ending sessions: no check needed */
	char *user;
	char *csrf;
	bool end;
};

/* Drops the session of token, if it is still there. */
static void drop_token(struct sessions *s, const char *token)
{
	struct session **link;

	pthread_mutex_lock(&s->lock);
	link = lookup(s, token);
	if (link)
		drop(s, link);
	pthread_mutex_unlock(&s->lock);
}

/*
 * Ends the session of token when its user's credentials changed since
 * login, and says whether it did.  Runs without the lock: the check may
 * read the htpasswd file.
 */
static bool drop_if_stale(struct find *f, const char *token,
			  const unsigned char stamp[ACCESS_STAMP_LEN])
{
	if (!f->a || access_stamp_current(f->a, f->user, stamp))
		return false;
	drop_token(f->s, token);
	log_info("web ui session ended, the user was removed or given a new "
		 "password user=%s",
		 f->user);
	free(f->user);
	f->user = NULL;
	return true;
}

static bool on_token(void *arg, const char *token)
{
	struct find *f = arg;
	unsigned char stamp[ACCESS_STAMP_LEN];
	char csrf[SESSION_TOKEN_HEX + 1];
	struct session **link;

	pthread_mutex_lock(&f->s->lock);
	link = lookup(f->s, token);
	if (link) {
		f->user = xstrdup((*link)->user);
		memcpy(csrf, (*link)->csrf, sizeof(csrf));
		memcpy(stamp, (*link)->stamp, sizeof(stamp));
		if (f->end)
			drop(f->s, link);
	}
	pthread_mutex_unlock(&f->s->lock);
	if (!link || drop_if_stale(f, token, stamp))
		goto out;
	if (f->csrf)
		memcpy(f->csrf, csrf, sizeof(csrf));
out:
	OPENSSL_cleanse(csrf, sizeof(csrf));
	return f->user != NULL;
}

char *session_find(struct sessions *s, struct access *a,
		   const char *cookie_header, char csrf[SESSION_TOKEN_HEX + 1])
{
	struct find f = {s, a, NULL, csrf, false};

	each_token(cookie_header, on_token, &f);
	return f.user;
}

void session_end(struct sessions *s, const char *cookie_header)
{
	struct find f = {s, NULL, NULL, NULL, true};

	while (each_token(cookie_header, on_token, &f)) {
		free(f.user);
		f.user = NULL;
	}
}

static bool is_safe(const char *method)
{
	return !strcmp(method, "GET") || !strcmp(method, "HEAD") ||
	       !strcmp(method, "OPTIONS");
}

char *session_user(struct sessions *s, struct access *a,
		   const char *cookie_header, const char *method,
		   const char *csrf_header, bool *csrf_ok)
{
	char csrf[SESSION_TOKEN_HEX + 1];
	char *user = session_find(s, a, cookie_header, csrf);

	*csrf_ok = true;
	if (user && !is_safe(method)) {
		*csrf_ok = csrf_header &&
			   strlen(csrf_header) == SESSION_TOKEN_HEX &&
			   !CRYPTO_memcmp(csrf_header, csrf, SESSION_TOKEN_HEX);
		if (!*csrf_ok) {
			free(user);
			user = NULL;
		}
	}
	OPENSSL_cleanse(csrf, sizeof(csrf));
	return user;
}

enum access_verdict session_access_check(struct sessions *s, struct access *a,
					 struct http_request *req,
					 const char *repo,
					 enum access_action action, char **user,
					 unsigned *retry_after)
{
	const char *authz = http_header(req, "Authorization");
	const char *cookie = http_header(req, "Cookie");
	const char *client = http_client_addr(req);
	bool csrf_ok;
	char *name;

	if ((authz && *authz) || !cookie || !access_enabled(a))
		return access_check(a, authz, client, repo, action, user,
				    retry_after);

	name = session_user(s, a, cookie, http_method(req),
			    http_header(req, SESSION_CSRF_HEADER), &csrf_ok);
	*retry_after = 0;
	*user = name;
	if (name)
		return access_may(a, name, repo, action) ? ACCESS_OK
							 : ACCESS_DENIED;
	if (!csrf_ok) {
		log_warn("bad csrf token client=%s method=%s", client,
			 http_method(req));
		return ACCESS_DENIED;
	}
	return access_check(a, NULL, client, repo, action, user, retry_after);
}
