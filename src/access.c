/*
 * access.c - logins and permissions for every request.
 *
 * The users live in a snapshot: an htpasswd table plus a cache of the
 * credentials verified against it.  Requests take a reference to the
 * current snapshot; a changed file produces a new snapshot that replaces
 * it, and the old one is freed when its last request lets go.  Dropping
 * the cache with the table means a changed or removed password can never
 * be answered from a stale entry.
 *
 * The cache is keyed by HMAC-SHA256 of "user:password" under a key drawn
 * at start-up and never stored, so neither the password nor a hash that
 * could be attacked offline is kept in memory.  The same keyed hash of
 * client address and user names throttle entries.
 */
#include "access.h"
#include "acl.h"
#include "htpasswd.h"
#include "log.h"
#include "proxy.h"
#include "throttle.h"
#include "util.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAC_LEN 32
#define HMAC_BLOCK 64

/* 1024 cached credentials: far more than the users of most registries. */
#define CACHE_SETS 256
#define CACHE_WAYS 4

#define RELOAD_INTERVAL_NS 1000000000ull

_Static_assert(ACCESS_STAMP_LEN == HTPASSWD_FINGERPRINT_LEN,
	       "a stamp is an htpasswd fingerprint");

struct cache_slot {
	unsigned char mac[MAC_LEN];
	uint64_t stamp; /* larger is more recently used */
	bool used;
};

struct cache_set {
	pthread_mutex_t lock;
	struct cache_slot slots[CACHE_WAYS];
};

struct snapshot {
	unsigned refs; /* under access.lock */
	struct htpasswd *users;
	atomic_uint_fast64_t clock;
	struct cache_set sets[CACHE_SETS];
};

struct access {
	bool enabled;
	char *realm;
	char *challenge;
	char *path;
	const struct config_access *policy;

	pthread_mutex_t lock; /* guards snap and its refs */
	struct snapshot *snap;
	pthread_mutex_t reload_lock; /* one reload at a time */
	char *reload_error;	     /* last reload failure logged */
	atomic_uint_fast64_t checked_ns;

	EVP_MD_CTX *inner; /* SHA-256 after key ^ ipad */
	EVP_MD_CTX *outer; /* SHA-256 after key ^ opad */
	struct throttle *throttle;

	atomic_uint_fast64_t hashes;
	atomic_uint_fast64_t cache_hits;
	atomic_uint_fast64_t failures;
	atomic_uint_fast64_t throttled;
	atomic_uint_fast64_t reloads;
};

static void count(atomic_uint_fast64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---- keyed hashing --------------------------------------------------- */

/*
 * Draws the HMAC key and absorbs it into the two SHA-256 states HMAC
 * starts from, so each later MAC costs two short hashes and no key
 * handling.  The key itself is wiped at once.
 */
static int mac_init(struct access *a)
{
	unsigned char key[MAC_LEN], pad[HMAC_BLOCK];
	int rc = -EIO;

	a->inner = EVP_MD_CTX_new();
	a->outer = EVP_MD_CTX_new();
	if (!a->inner || !a->outer || RAND_bytes(key, sizeof(key)) != 1)
		goto out;

	memset(pad, 0x36, sizeof(pad));
	for (size_t i = 0; i < sizeof(key); i++)
		pad[i] ^= key[i];
	if (!EVP_DigestInit_ex(a->inner, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(a->inner, pad, sizeof(pad)))
		goto out;

	memset(pad, 0x5c, sizeof(pad));
	for (size_t i = 0; i < sizeof(key); i++)
		pad[i] ^= key[i];
	if (!EVP_DigestInit_ex(a->outer, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(a->outer, pad, sizeof(pad)))
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(pad, sizeof(pad));
	return rc;
}

/* HMAC of the concatenation of n strings, with a NUL after each. */
static void mac_of(const struct access *a, const char *const *parts, size_t n,
		   unsigned char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char inner[MAC_LEN];
	unsigned len;

	if (!ctx || !EVP_MD_CTX_copy_ex(ctx, a->inner))
		abort();
	for (size_t i = 0; i < n; i++)
		EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]) + 1);
	EVP_DigestFinal_ex(ctx, inner, &len);

	if (!EVP_MD_CTX_copy_ex(ctx, a->outer))
		abort();
	EVP_DigestUpdate(ctx, inner, sizeof(inner));
	EVP_DigestFinal_ex(ctx, out, &len);
	EVP_MD_CTX_free(ctx);
	OPENSSL_cleanse(inner, sizeof(inner));
}

static void credential_mac(const struct access *a, const char *user,
			   const char *password, unsigned char *out)
{
	const char *parts[] = {"credential", user, password};

	mac_of(a, parts, 3, out);
}

static void throttle_key(const struct access *a, const char *client,
			 const char *user, unsigned char *out)
{
	const char *parts[] = {"throttle", client, user};

	mac_of(a, parts, 3, out);
}

/* ---- snapshots and their credential cache ---------------------------- */

static struct snapshot *snapshot_new(struct htpasswd *users)
{
	struct snapshot *s = xcalloc(1, sizeof(*s));

	s->refs = 1;
	s->users = users;
	for (size_t i = 0; i < CACHE_SETS; i++)
		pthread_mutex_init(&s->sets[i].lock, NULL);
	return s;
}

static void snapshot_free(struct snapshot *s)
{
	for (size_t i = 0; i < CACHE_SETS; i++)
		pthread_mutex_destroy(&s->sets[i].lock);
	htpasswd_free(s->users);
	OPENSSL_cleanse(s->sets, sizeof(s->sets));
	free(s);
}

static void snapshot_put(struct access *a, struct snapshot *s)
{
	bool last;

	pthread_mutex_lock(&a->lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&a->lock);
	if (last)
		snapshot_free(s);
}

static struct cache_set *cache_set_of(struct snapshot *s,
				      const unsigned char *mac)
{
	return &s->sets[mac[0] % CACHE_SETS];
}

static bool cache_lookup(struct snapshot *s, const unsigned char *mac)
{
	struct cache_set *set = cache_set_of(s, mac);
	bool hit = false;

	pthread_mutex_lock(&set->lock);
	for (size_t i = 0; i < CACHE_WAYS && !hit; i++) {
		struct cache_slot *e = &set->slots[i];

		if (e->used && !CRYPTO_memcmp(e->mac, mac, MAC_LEN)) {
			e->stamp = atomic_fetch_add(&s->clock, 1) + 1;
			hit = true;
		}
	}
	pthread_mutex_unlock(&set->lock);
	return hit;
}

/* Remembers mac, pushing out the least recently used of its set. */
static void cache_insert(struct snapshot *s, const unsigned char *mac)
{
	struct cache_set *set = cache_set_of(s, mac);
	struct cache_slot *victim = &set->slots[0];

	pthread_mutex_lock(&set->lock);
	for (size_t i = 0; i < CACHE_WAYS; i++) {
		struct cache_slot *e = &set->slots[i];

		if (e->used && !CRYPTO_memcmp(e->mac, mac, MAC_LEN)) {
			victim = e; /* verified twice at once */
			break;
		}
		if (!e->used || (victim->used && e->stamp < victim->stamp))
			victim = e;
	}
	memcpy(victim->mac, mac, MAC_LEN);
	victim->stamp = atomic_fetch_add(&s->clock, 1) + 1;
	victim->used = true;
	pthread_mutex_unlock(&set->lock);
}

/* ---- reloading ------------------------------------------------------- */

/* Logs a reload failure once, not every second until it is fixed. */
static void reload_failed(struct access *a, const char *err)
{
	if (a->reload_error && !strcmp(a->reload_error, err))
		return;
	log_error("htpasswd reload failed, keeping the users loaded before "
		  "err=\"%s\"",
		  err);
	free(a->reload_error);
	a->reload_error = xstrdup(err);
}

static void log_loaded(const char *what, const char *path, size_t users)
{
	if (users == 0)
		log_warn("htpasswd file has no usable users, nobody can log "
			 "in path=%s",
			 path);
	else
		log_info("htpasswd %s path=%s users=%zu", what, path, users);
}

int access_refresh(struct access *a)
{
	struct snapshot *fresh, *old;
	struct htpasswd *users;
	char err[512];
	int rc = 0;

	if (!a->enabled)
		return 0;
	pthread_mutex_lock(&a->reload_lock);
	/* a->snap only changes under reload_lock, which is held. */
	if (!htpasswd_changed(a->snap->users, a->path))
		goto out;
	rc = htpasswd_load(a->path, &users, err, sizeof(err));
	if (rc < 0) {
		reload_failed(a, err);
		goto out;
	}

	free(a->reload_error);
	a->reload_error = NULL;
	fresh = snapshot_new(users);
	pthread_mutex_lock(&a->lock);
	old = a->snap;
	a->snap = fresh;
	pthread_mutex_unlock(&a->lock);
	snapshot_put(a, old);
	count(&a->reloads);
	log_loaded("reloaded", a->path, htpasswd_count(users));
out:
	pthread_mutex_unlock(&a->reload_lock);
	return rc;
}

/* Lets one request a second look at the file; the others go on. */
static void maybe_refresh(struct access *a)
{
	uint_fast64_t now = now_monotonic_ns();
	uint_fast64_t last = atomic_load(&a->checked_ns);

	if (now < last + RELOAD_INTERVAL_NS)
		return;
	if (!atomic_compare_exchange_strong(&a->checked_ns, &last, now))
		return;
	access_refresh(a);
}

static struct snapshot *snapshot_get(struct access *a)
{
	struct snapshot *s;

	maybe_refresh(a);
	pthread_mutex_lock(&a->lock);
	s = a->snap;
	s->refs++;
	pthread_mutex_unlock(&a->lock);
	return s;
}

/* ---- opening --------------------------------------------------------- */

/* `Basic realm="..."`, escaping '"' and '\' as a quoted string needs. */
static char *make_challenge(const char *realm)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, "Basic realm=\"");
	for (const char *p = realm; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_add(&b, "\\", 1);
		buf_add(&b, p, 1);
	}
	buf_adds(&b, "\"");
	return buf_detach(&b, NULL);
}

static int open_htpasswd(struct access *a, const struct config *cfg, char *err,
			 size_t errlen)
{
	struct htpasswd *users;
	int rc;

	a->enabled = true;
	a->realm = xstrdup(cfg->auth_htpasswd_realm);
	a->challenge = make_challenge(a->realm);
	a->path = xstrdup(cfg->auth_htpasswd_path);
	a->policy = cfg->access;
	a->throttle = throttle_new();
	if (mac_init(a) < 0) {
		set_error(err, errlen,
			  "cannot draw a random key for the "
			  "credential cache");
		return -EIO;
	}

	rc = htpasswd_load(a->path, &users, err, errlen);
	if (rc < 0)
		return rc;
	a->snap = snapshot_new(users);
	atomic_store(&a->checked_ns, now_monotonic_ns());
	log_loaded("loaded", a->path, htpasswd_count(users));
	return 0;
}

struct access *access_open(const struct config *cfg, char *err, size_t errlen)
{
	struct access *a = xcalloc(1, sizeof(*a));

	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->reload_lock, NULL);
	if (!cfg->auth_htpasswd_path)
		return a;
	if (open_htpasswd(a, cfg, err, errlen) < 0) {
		access_close(a);
		return NULL;
	}
	return a;
}

void access_close(struct access *a)
{
	if (!a)
		return;
	if (a->snap)
		snapshot_put(a, a->snap);
	throttle_free(a->throttle);
	EVP_MD_CTX_free(a->inner);
	EVP_MD_CTX_free(a->outer);
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->reload_lock);
	free(a->reload_error);
	free(a->realm);
	free(a->challenge);
	free(a->path);
	free(a);
}

bool access_enabled(const struct access *a)
{
	return a->enabled;
}

const char *access_realm(const struct access *a)
{
	return a->realm;
}

const char *access_challenge(const struct access *a)
{
	return a->challenge;
}

void access_get_stats(struct access *a, struct access_stats *out)
{
	struct snapshot *s;

	memset(out, 0, sizeof(*out));
	out->hashes = atomic_load(&a->hashes);
	out->cache_hits = atomic_load(&a->cache_hits);
	out->failures = atomic_load(&a->failures);
	out->throttled = atomic_load(&a->throttled);
	out->reloads = atomic_load(&a->reloads);
	if (!a->enabled)
		return;
	s = snapshot_get(a);
	out->users = htpasswd_count(s->users);
	snapshot_put(a, s);
}

/* ---- Basic credentials ----------------------------------------------- */

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decodes standard base64, padded or not, into out (cap bytes).  Returns
 * the length, or -1 when malformed or too long.
 */
static ssize_t b64_decode(const char *in, size_t n, char *out, size_t cap)
{
	uint32_t acc = 0;
	size_t len = 0, bits = 0;
	ssize_t rc = -1;

	if (n % 4 == 0 && n > 0 && in[n - 1] == '=')
		n -= 1 + (in[n - 2] == '=');
	if (n % 4 == 1 || n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > cap)
		return -1;

	for (size_t i = 0; i < n; i++) {
		int v = b64_value((unsigned char)in[i]);

		if (v < 0)
			goto out;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[len++] = (char)(acc >> bits);
		}
	}
	rc = (ssize_t)len;
out:
	OPENSSL_cleanse(&acc, sizeof(acc));
	return rc;
}

int access_basic_parse(const char *header, char *buf, size_t buflen,
		       const char **user, const char **password)
{
	size_t n, cap = buflen - 1;
	const char *p = header;
	ssize_t len;
	char *colon;

	if (buflen == 0 || strncasecmp(p, "Basic", 5) ||
	    (p[5] != ' ' && p[5] != '\t'))
		return -EINVAL;
	p += 5 + strspn(p + 5, " \t");
	n = strcspn(p, " \t");
	if (p[n + strspn(p + n, " \t")] != '\0')
		return -EINVAL;

	if (cap > ACCESS_BASIC_MAX)
		cap = ACCESS_BASIC_MAX;
	len = b64_decode(p, n, buf, cap);
	if (len < 0)
		return -EINVAL;
	buf[len] = '\0';
	colon = memchr(buf, ':', (size_t)len);
	if (!colon || colon == buf || memchr(buf, '\0', (size_t)len))
		return -EINVAL;

	*colon = '\0';
	*user = buf;
	*password = colon + 1;
	return 0;
}

/* ---- checking requests ----------------------------------------------- */

/*
 * Copies a name from a request into out[64] for a log line: anything
 * but plain visible characters becomes '?', so a name cannot forge
 * fields or lines.
 */
static const char *loggable(const char *s, char *out)
{
	size_t i;

	for (i = 0; i < 63 && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = c > ' ' && c < 0x7f && c != '"' && c != '\\' &&
					 c != '='
				 ? (char)c
				 : '?';
	}
	out[i] = '\0';
	return out;
}

static bool verify(struct access *a, struct snapshot *s, const char *user,
		   const char *password)
{
	unsigned char mac[MAC_LEN];
	bool ok;

	credential_mac(a, user, password, mac);
	if (cache_lookup(s, mac)) {
		count(&a->cache_hits);
		return true;
	}
	count(&a->hashes);
	ok = htpasswd_verify(s->users, user, password);
	if (ok)
		cache_insert(s, mac);
	return ok;
}

static void login_failed(struct access *a, const unsigned char *tkey,
			 const char *user, const char *client)
{
	unsigned lock = throttle_failed(a->throttle, tkey, now_monotonic_ns());
	char name[64], from[64];

	count(&a->failures);
	if (lock)
		log_warn("login failed user=%s client=%s locked_for=%us",
			 loggable(user, name), loggable(client, from), lock);
	else
		log_warn("login failed user=%s client=%s", loggable(user, name),
			 loggable(client, from));
}

/*
 * Checks the credentials of a request; sets *name on success, and the
 * fingerprint of the line they were checked against into stamp unless
 * it is NULL.
 */
static enum access_verdict authenticate(struct access *a, const char *header,
					const char *client, char **name,
					unsigned char *stamp,
					unsigned *retry_after)
{
	char buf[ACCESS_BASIC_MAX + 1];
	unsigned char tkey[MAC_LEN];
	enum access_verdict v = ACCESS_UNAUTHORIZED;
	const char *user, *password;
	struct snapshot *s;

	if (access_basic_parse(header, buf, sizeof(buf), &user, &password) <
	    0) {
		char from[64];

		count(&a->failures);
		log_warn("login failed, malformed credentials client=%s",
			 loggable(client, from));
		goto out;
	}

	throttle_key(a, client, user, tkey);
	*retry_after = throttle_wait(a->throttle, tkey, now_monotonic_ns());
	if (*retry_after) {
		count(&a->throttled);
		v = ACCESS_THROTTLED;
		goto out;
	}

	s = snapshot_get(a);
	/* The stamp comes from the same table: a reload in between must
	 * not let an old password buy a session under the new one. */
	if (verify(a, s, user, password) &&
	    (!stamp || htpasswd_fingerprint(s->users, user, stamp))) {
		throttle_succeeded(a->throttle, tkey);
		*name = xstrdup(user);
		v = ACCESS_OK;
	} else {
		login_failed(a, tkey, user, client);
	}
	snapshot_put(a, s);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return v;
}

enum access_verdict access_check(struct access *a, const char *authorization,
				 const char *client_addr, const char *repo,
				 enum access_action action, char **user,
				 unsigned *retry_after)
{
	unsigned bits = 1u << action;
	enum access_verdict v;
	char *name = NULL;

	*user = NULL;
	*retry_after = 0;
	if (!a->enabled)
		return ACCESS_OK;
	if (!authorization || !*authorization)
		return acl_allows(a->policy, NULL, repo, bits)
			       ? ACCESS_OK
			       : ACCESS_UNAUTHORIZED;

	v = authenticate(a, authorization, client_addr ? client_addr : "-",
			 &name, NULL, retry_after);
	if (v != ACCESS_OK)
		return v;
	*user = name;
	return acl_allows(a->policy, name, repo, bits) ? ACCESS_OK
						       : ACCESS_DENIED;
}

enum access_verdict access_login(struct access *a, const char *authorization,
				 const char *client_addr, char **user,
				 unsigned char stamp[ACCESS_STAMP_LEN],
				 unsigned *retry_after)
{
	*user = NULL;
	*retry_after = 0;
	if (!a->enabled || !authorization || !*authorization)
		return ACCESS_UNAUTHORIZED;
	return authenticate(a, authorization, client_addr ? client_addr : "-",
			    user, stamp, retry_after);
}

bool access_stamp_current(struct access *a, const char *user,
			  const unsigned char stamp[ACCESS_STAMP_LEN])
{
	unsigned char now[ACCESS_STAMP_LEN];
	struct snapshot *s;
	bool same;

	if (!a->enabled)
		return true;
	s = snapshot_get(a);
	same = htpasswd_fingerprint(s->users, user, now) &&
	       !CRYPTO_memcmp(now, stamp, ACCESS_STAMP_LEN);
	snapshot_put(a, s);
	return same;
}

bool access_may(struct access *a, const char *user, const char *repo,
		enum access_action action)
{
	if (!a->enabled)
		return true;
	return acl_allows(a->policy, user, repo, 1u << action);
}

bool access_admin(struct access *a, const char *user, const char *client_addr)
{
	static char *const loopback[] = {"127.0.0.0/8", "::1", NULL};

	if (!a->enabled)
		return proxy_trusted(loopback, client_addr);
	if (!user)
		return false;
	if (!a->policy)
		return true;
	for (char **p = a->policy->admins; *p; p++)
		if (!strcmp(*p, user))
			return true;
	return false;
}
