/*
 * test_session_stamp.c - web UI sessions end when their user's line in
 * the htpasswd file changes: htpasswd fingerprints, the stamps
 * access_login makes from them, and sessions checking those stamps on
 * every lookup against a file rewritten under them.
 */
#include "check.h"
#include "access.h"
#include "htpasswd.h"
#include "session.h"
#include "util.h"
#include "access_testutil.h"

#include <openssl/evp.h>
#include <stdio.h>

#define ERRLEN 512

/* A registry with an htpasswd file of bcrypt users in a temporary dir. */
struct fixture {
	char *dir;
	char *path;
	struct config *cfg;
	struct access *a;
	struct sessions *s;
};

/*
 * Replaces the file at path by way of a new file renamed over it, as
 * the user command does: a new inode, so berth sees the change even
 * when size and times come out the same.
 */
static void replace_file(const char *path, const char *text)
{
	char *tmp = xasprintf("%s.new", path);

	write_text(tmp, text);
	if (rename(tmp, path) == -1)
		abort();
	free(tmp);
}

/* "name:bcrypt(password)\n" for each pair of a NULL-ended list. */
static void write_users(struct fixture *f, const char *const *pairs)
{
	struct buf text = BUF_INIT;

	buf_adds(&text, "");
	for (; *pairs; pairs += 2) {
		char *hash = make_hash("$2y$", 4, pairs[1]);

		buf_addf(&text, "%s:%s\n", pairs[0], hash);
		free(hash);
	}
	replace_file(f->path, text.data);
	buf_free(&text);
}

static struct config *config_for(const char *path)
{
	char err[ERRLEN], *yaml;
	struct config *cfg;

	yaml = xasprintf("auth:\n  htpasswd:\n    realm: r\n    path: %s\n",
			 path);
	cfg = config_parse(yaml, strlen(yaml), NULL, err, ERRLEN);
	free(yaml);
	return cfg;
}

static bool fixture_open(struct fixture *f, const char *const *pairs)
{
	char err[ERRLEN];

	f->dir = temp_dir();
	f->path = xasprintf("%s/htpasswd", f->dir);
	write_users(f, pairs);
	f->cfg = config_for(f->path);
	f->a = f->cfg ? access_open(f->cfg, err, ERRLEN) : NULL;
	f->s = sessions_new();
	return f->a != NULL;
}

static void fixture_close(struct fixture *f)
{
	sessions_free(f->s);
	access_close(f->a);
	config_free(f->cfg);
	unlink(f->path);
	rmdir(f->dir);
	free(f->path);
	free(f->dir);
}

/* "Basic " and base64 of user ":" password; the caller frees it. */
static char *basic(const char *user, const char *password)
{
	char *plain = xasprintf("%s:%s", user, password);
	size_t len = strlen(plain);
	char *out = xmalloc(6 + 4 * (len / 3 + 1) + 1);

	strcpy(out, "Basic ");
	EVP_EncodeBlock((unsigned char *)out + 6, (unsigned char *)plain,
			(int)len);
	free(plain);
	return out;
}

/*
 * Logs user in through access_login and starts a session; returns the
 * Cookie header naming it (the caller frees it), or NULL.
 */
static char *login(struct fixture *f, const char *user, const char *password)
{
	unsigned char stamp[ACCESS_STAMP_LEN];
	char token[SESSION_TOKEN_HEX + 1], csrf[SESSION_TOKEN_HEX + 1];
	char *header = basic(user, password), *name = NULL;
	unsigned retry;
	enum access_verdict v;

	v = access_login(f->a, header, "127.0.0.1", &name, stamp, &retry);
	free(header);
	if (v != ACCESS_OK || !name)
		return NULL;
	free(name);
	if (session_start(f->s, user, stamp, token, csrf))
		return NULL;
	return xasprintf(SESSION_COOKIE "=%s", token);
}

/* The user the cookie's session belongs to now, freed; "" if none. */
static const char *who(struct fixture *f, const char *cookie)
{
	static char name[64];
	char *user = session_find(f->s, f->a, cookie, NULL);

	snprintf(name, sizeof(name), "%s", user ? user : "");
	free(user);
	return name;
}

static void test_fingerprints(void)
{
	char *h1 = make_hash("$2y$", 4, "one"),
	     *h2 = make_hash("$2y$", 4, "two");
	char *t1 = xasprintf("alice:%s\nbob:%s\n", h1, h2);
	char *t2 = xasprintf("bob:%s\nalice:%s\n", h2, h1);
	char *t3 = xasprintf("alice:%s\nbob:%s\n", h2, h2);
	struct htpasswd *a = htpasswd_parse(t1, strlen(t1), "t1");
	struct htpasswd *b = htpasswd_parse(t2, strlen(t2), "t2");
	struct htpasswd *c = htpasswd_parse(t3, strlen(t3), "t3");
	unsigned char fa[HTPASSWD_FINGERPRINT_LEN],
		fb[HTPASSWD_FINGERPRINT_LEN];
	unsigned char fc[HTPASSWD_FINGERPRINT_LEN];

	/* The same line in another table, in another place: the same. */
	CHECK(htpasswd_fingerprint(a, "alice", fa));
	CHECK(htpasswd_fingerprint(b, "alice", fb));
	CHECK(memcmp(fa, fb, sizeof(fa)) == 0);

	/* Another hash, or another name with the same hash: different. */
	CHECK(htpasswd_fingerprint(c, "alice", fc));
	CHECK(memcmp(fa, fc, sizeof(fa)) != 0);
	CHECK(htpasswd_fingerprint(c, "bob", fb));
	CHECK(memcmp(fb, fc, sizeof(fb)) != 0);

	/* It is not the hash, nor any part of it. */
	CHECK(memmem(fa, sizeof(fa), h1 + 7, 8) == NULL);
	CHECK(!htpasswd_fingerprint(a, "carol", fa));
	CHECK(!htpasswd_fingerprint(a, "", fa));

	htpasswd_free(a);
	htpasswd_free(b);
	htpasswd_free(c);
	free(t1);
	free(t2);
	free(t3);
	free(h1);
	free(h2);
}

static void test_login_stamps(void)
{
	static const char *const users[] = {"alice", "wonderland", NULL};
	unsigned char stamp[ACCESS_STAMP_LEN], other[ACCESS_STAMP_LEN];
	struct fixture f;
	char *header, *name = NULL;
	unsigned retry;

	CHECK(fixture_open(&f, users));

	header = basic("alice", "wrong");
	CHECK(access_login(f.a, header, "127.0.0.1", &name, stamp, &retry) ==
	      ACCESS_UNAUTHORIZED);
	CHECK(name == NULL);
	free(header);
	CHECK(access_login(f.a, NULL, "127.0.0.1", &name, stamp, &retry) ==
	      ACCESS_UNAUTHORIZED);
	CHECK(access_login(f.a, "", NULL, &name, stamp, &retry) ==
	      ACCESS_UNAUTHORIZED);

	/* Twice: once hashed, once from the cache; the same stamp. */
	header = basic("alice", "wonderland");
	CHECK(access_login(f.a, header, "127.0.0.1", &name, stamp, &retry) ==
	      ACCESS_OK);
	CHECK_STR(name, "alice");
	free(name);
	CHECK(access_login(f.a, header, "127.0.0.1", &name, other, &retry) ==
	      ACCESS_OK);
	free(name);
	free(header);
	CHECK(memcmp(stamp, other, sizeof(stamp)) == 0);
	CHECK(access_stamp_current(f.a, "alice", stamp));
	CHECK(!access_stamp_current(f.a, "bob", stamp));
	other[0] ^= 1;
	CHECK(!access_stamp_current(f.a, "alice", other));
	fixture_close(&f);
}

static void test_no_logins(void)
{
	char err[ERRLEN];
	struct config *cfg = config_parse("", 0, NULL, err, ERRLEN);
	struct access *a = access_open(cfg, err, ERRLEN);
	unsigned char stamp[ACCESS_STAMP_LEN] = {0};
	char *header = basic("alice", "x"), *name = NULL;
	unsigned retry;

	CHECK(access_login(a, header, "127.0.0.1", &name, stamp, &retry) ==
	      ACCESS_UNAUTHORIZED);
	CHECK(name == NULL);
	CHECK(access_stamp_current(a, "alice", stamp));
	free(header);
	access_close(a);
	config_free(cfg);
}

static void test_new_password_ends_session(void)
{
	static const char *const before[] = {"alice", "wonderland", "bob",
					     "builder", NULL};
	static const char *const after[] = {"alice", "looking-glass", "bob",
					    "builder", NULL};
	struct fixture f;
	char *alice, *bob, *log;

	CHECK(fixture_open(&f, before));
	alice = login(&f, "alice", "wonderland");
	bob = login(&f, "bob", "builder");
	CHECK(alice && bob);
	CHECK_STR(who(&f, alice), "alice");

	/* Rewriting the file re-hashes bob's unchanged password too. */
	write_users(&f, after);
	CHECK(access_refresh(f.a) == 0);
	capture_begin();
	CHECK_STR(who(&f, alice), "");
	log = capture_end();
	CHECK(strstr(log, "web ui session ended") != NULL);
	CHECK(strstr(log, "user=alice") != NULL);
	CHECK(strstr(log, "looking-glass") == NULL);
	free(log);
	CHECK_STR(who(&f, alice), "");
	CHECK_STR(who(&f, bob), "");

	/* Logging in again with the new password works. */
	free(alice);
	CHECK(login(&f, "alice", "wonderland") == NULL);
	alice = login(&f, "alice", "looking-glass");
	CHECK(alice != NULL);
	CHECK_STR(who(&f, alice), "alice");
	free(alice);
	free(bob);
	fixture_close(&f);
}

static void test_removed_user_ends_session(void)
{
	static const char *const users[] = {"alice", "wonderland", "bob",
					    "builder", NULL};
	struct fixture f;
	char *alice, *bob, *text, *line_end;
	bool ok;

	CHECK(fixture_open(&f, users));
	alice = login(&f, "alice", "wonderland");
	bob = login(&f, "bob", "builder");
	CHECK(alice && bob);

	/* Keep bob's line as it is: only alice is removed. */
	text = read_text(f.path);
	line_end = strchr(text, '\n');
	replace_file(f.path, line_end + 1);
	free(text);
	CHECK(access_refresh(f.a) == 0);

	CHECK(session_user(f.s, f.a, alice, "GET", NULL, &ok) == NULL);
	CHECK(ok); /* no session now: an anonymous request, not a forgery */
	CHECK_STR(who(&f, bob), "bob");

	/* Ended for good: putting alice back does not revive it. */
	write_users(&f, users);
	CHECK(access_refresh(f.a) == 0);
	CHECK_STR(who(&f, alice), "");
	free(alice);
	free(bob);
	fixture_close(&f);
}

/*
 * A configuration reload opens another access object on the same file:
 * sessions made under the first stay good under the second, and a file
 * rewritten without changes keeps them too.
 */
static void test_reload_keeps_sessions(void)
{
	static const char *const users[] = {"alice", "wonderland", NULL};
	struct fixture f;
	struct access *again;
	char err[ERRLEN], *alice, *text, *user;

	CHECK(fixture_open(&f, users));
	alice = login(&f, "alice", "wonderland");
	CHECK(alice != NULL);

	again = access_open(f.cfg, err, ERRLEN);
	CHECK(again != NULL);
	user = session_find(f.s, again, alice, NULL);
	CHECK_STR(user, "alice");
	free(user);

	text = read_text(f.path);
	replace_file(f.path, text);
	free(text);
	CHECK(access_refresh(f.a) == 0);
	CHECK_STR(who(&f, alice), "alice");

	access_close(again);
	free(alice);
	fixture_close(&f);
}

/* A session being ended never stands in the way of logging out. */
static void test_end_stale_session(void)
{
	static const char *const users[] = {"alice", "wonderland", NULL};
	static const char *const none[] = {NULL};
	struct fixture f;
	char *alice;

	CHECK(fixture_open(&f, users));
	alice = login(&f, "alice", "wonderland");
	write_users(&f, none);
	CHECK(access_refresh(f.a) == 0);
	session_end(f.s, alice);
	CHECK_STR(who(&f, alice), "");
	free(alice);
	fixture_close(&f);
}

int main(void)
{
	RUN(test_fingerprints);
	RUN(test_login_stamps);
	RUN(test_no_logins);
	RUN(test_new_password_ends_session);
	RUN(test_removed_user_ends_session);
	RUN(test_reload_keeps_sessions);
	RUN(test_end_stale_session);
	return check_done();
}
