/*
 * test_access.c - access_check as the HTTP API uses it: Basic headers,
 * verdicts with and without an access section, the credential cache,
 * reloading a changed htpasswd file, throttling of failed logins, what
 * reaches the log, and many threads at once.
 */
#include "check.h"
#include "access.h"
#include "throttle.h"
#include "access_testutil.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>

#define ERRLEN 512
#define NS 1000000000ull

/* OpenSSL's `passwd -6` of "password". */
static const char sha512_password[] =
	"$6$berthsalt$UhNIhnq9G4.tVMkB8Lnbhvnh6kIhtaRBq4bdHbWnjQdk1lF87Pt"
	"GIdymGMXMiVWy5P6uAHBMVDa8zMyvXFqRt1";
static const char apr1_password[] = "$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1";

/* "Basic " and base64 of user ":" password; the caller frees it. */
static char *basic(const char *user, const char *password)
{
	size_t len = strlen(user) + 1 + strlen(password);
	char *plain = malloc(len + 1);
	char *out = malloc(6 + 4 * (len / 3 + 1) + 1);

	sprintf(plain, "%s:%s", user, password);
	strcpy(out, "Basic ");
	EVP_EncodeBlock((unsigned char *)out + 6, (unsigned char *)plain,
			(int)len);
	free(plain);
	return out;
}

/* A registry with an htpasswd file in a temporary directory. */
struct fixture {
	char *dir;
	char *path;
	struct config *cfg;
	struct access *a;
};

static void fixture_write(struct fixture *f, const char *users)
{
	write_text(f->path, users);
}

/* alice: bcrypt "wonderland"; bob: SHA-512 "password"; dave: MD5. */
static char *standard_users(unsigned long cost)
{
	char *alice = make_hash("$2y$", cost, "wonderland");
	char *text = malloc(1024);

	snprintf(text, 1024, "alice:%s\nbob:%s\ndave:%s\n", alice,
		 sha512_password, apr1_password);
	free(alice);
	return text;
}

static bool fixture_open(struct fixture *f, const char *users,
			 const char *realm, const char *extra_yaml)
{
	char err[ERRLEN], *yaml;

	f->dir = temp_dir();
	f->path = malloc(strlen(f->dir) + 16);
	sprintf(f->path, "%s/htpasswd", f->dir);
	fixture_write(f, users);

	yaml = malloc(4096);
	snprintf(yaml, 4096,
		 "auth:\n  htpasswd:\n    realm: '%s'\n"
		 "    path: %s\n%s",
		 realm, f->path, extra_yaml ? extra_yaml : "");
	f->cfg = config_parse(yaml, strlen(yaml), NULL, err, ERRLEN);
	free(yaml);
	if (!f->cfg) {
		printf("  config: %s\n", err);
		return false;
	}
	f->a = access_open(f->cfg, err, ERRLEN);
	if (!f->a)
		printf("  access_open: %s\n", err);
	return f->a != NULL;
}

static void fixture_close(struct fixture *f)
{
	access_close(f->a);
	config_free(f->cfg);
	unlink(f->path);
	rmdir(f->dir);
	free(f->path);
	free(f->dir);
}

/* Runs access_check with a Basic header for user and password. */
static enum access_verdict check_as(struct access *a, const char *client,
				    const char *user, const char *password,
				    const char *repo, enum access_action action,
				    char **who, unsigned *retry)
{
	char *h = basic(user, password);
	enum access_verdict v =
		access_check(a, h, client, repo, action, who, retry);

	free(h);
	return v;
}

/* The verdict alone, freeing the user name. */
static enum access_verdict verdict(struct access *a, const char *user,
				   const char *password, const char *repo,
				   enum access_action action)
{
	char *who = NULL;
	unsigned retry;
	enum access_verdict v = check_as(a, "127.0.0.1", user, password, repo,
					 action, &who, &retry);

	free(who);
	return v;
}

/* ---- Basic headers --------------------------------------------------- */

static void test_basic_parse(void)
{
	static const struct {
		const char *header, *user, *password;
	} good[] = {
		{"Basic YWxpY2U6c2VjcmV0", "alice", "secret"},
		{"basic  YWxpY2U6c2VjcmV0  ", "alice", "secret"},
		{"BASIC\tYWxpY2U6c2VjcmV0", "alice", "secret"},
		{"Basic YWxpY2U6", "alice", ""},
		{"Basic YWxpY2U6OnM=", "alice", ":s"},
		{"Basic YWI6Yw==", "ab", "c"},
		{"Basic YWI6Yw", "ab", "c"},
		{"Basic YTpiYw", "a", "bc"},
	};
	static const char *const bad[] = {
		"",
		"Basic",
		"Basic ",
		"Bearer YWxpY2U6c2VjcmV0",
		"BasicYWxpY2U6c2VjcmV0",
		"Basic YWxpY2U=",
		"Basic OnBhc3M=",
		"Basic YWxp*2U6",
		"Basic YWxpY2U6c2VjcmV0 extra",
		"Basic YQ=",
		"Basic Y",
		"Basic YWI6Yw=",
		"Basic =YWI6Yw=",
		"Basic YQBiOmM=",
		"Basic YWxpY2U6c2Vj\ncmV0",
		"Basic YWxpY2U6c2VjcmV0===",
	};
	char buf[ACCESS_BASIC_MAX + 1];
	const char *user, *password;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = access_basic_parse(good[i].header, buf, sizeof(buf),
					    &user, &password);

		CHECK(rc == 0);
		if (rc == 0) {
			CHECK_STR(user, good[i].user);
			CHECK_STR(password, good[i].password);
		} else {
			printf("  refused \"%s\"\n", good[i].header);
		}
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (access_basic_parse(bad[i], buf, sizeof(buf), &user,
				       &password) != -EINVAL) {
			printf("  accepted \"%s\"\n", bad[i]);
			CHECK(0);
		}
}

/* The decoded form may fill the buffer exactly, and not one byte more. */
static void test_basic_parse_long(void)
{
	char buf[ACCESS_BASIC_MAX + 1], small[8];
	char *pw = malloc(ACCESS_BASIC_MAX + 1);
	const char *user, *password;
	char *h;

	memset(pw, 'p', ACCESS_BASIC_MAX);
	pw[ACCESS_BASIC_MAX - 2] = '\0'; /* "u:" + pw = the maximum */
	h = basic("u", pw);
	CHECK(access_basic_parse(h, buf, sizeof(buf), &user, &password) == 0);
	CHECK(strlen(password) == ACCESS_BASIC_MAX - 2);
	CHECK(access_basic_parse(h, small, sizeof(small), &user, &password) ==
	      -EINVAL);
	free(h);

	pw[ACCESS_BASIC_MAX - 2] = 'p';
	pw[ACCESS_BASIC_MAX - 1] = '\0';
	h = basic("u", pw);
	CHECK(access_basic_parse(h, buf, sizeof(buf), &user, &password) ==
	      -EINVAL);
	free(h);

	h = basic("u", "tiny");
	CHECK(access_basic_parse(h, small, sizeof(small), &user, &password) ==
	      0);
	CHECK_STR(password, "tiny");
	free(h);
	free(pw);
}

/* ---- verdicts -------------------------------------------------------- */

static void test_disabled(void)
{
	char err[ERRLEN], *who = (char *)"x";
	struct config *cfg = config_parse("", 0, NULL, err, ERRLEN);
	struct access *a = access_open(cfg, err, ERRLEN);
	unsigned retry = 7;

	CHECK(a != NULL && !access_enabled(a));
	CHECK(access_realm(a) == NULL && access_challenge(a) == NULL);
	CHECK(access_check(a, NULL, "::1", "a/b", ACCESS_DELETE, &who,
			   &retry) == ACCESS_OK);
	CHECK(who == NULL && retry == 0);
	CHECK(access_check(a, "Basic garbage", "::1", NULL, ACCESS_PULL, &who,
			   &retry) == ACCESS_OK);
	CHECK(who == NULL);
	CHECK(access_may(a, NULL, "a/b", ACCESS_PUSH));
	CHECK(access_refresh(a) == 0);
	access_close(a);
	config_free(cfg);
}

static void test_open_errors(void)
{
	static const char yaml[] = "auth:\n  htpasswd:\n    realm: r\n"
				   "    path: /nonexistent/berth/htpasswd\n";
	char err[ERRLEN];
	struct config *cfg =
		config_parse(yaml, strlen(yaml), NULL, err, ERRLEN);

	CHECK(cfg != NULL);
	if (!cfg)
		return;
	CHECK(access_open(cfg, err, ERRLEN) == NULL);
	CHECK_STR(err, "/nonexistent/berth/htpasswd: No such file or "
		       "directory");
	config_free(cfg);
}

/* Without an access section: any valid login may do anything. */
static void test_verdicts_without_rules(void)
{
	struct fixture f = {0};
	char *users = standard_users(4), *who = NULL, *log;
	unsigned retry = 9;

	CHECK(fixture_open(&f, users, "My \"Reg\" \\ realm", NULL));
	free(users);
	if (!f.a)
		return;
	CHECK(access_enabled(f.a));
	CHECK_STR(access_realm(f.a), "My \"Reg\" \\ realm");
	CHECK_STR(access_challenge(f.a),
		  "Basic realm=\"My \\\"Reg\\\" \\\\ realm\"");

	CHECK(access_check(f.a, NULL, "::1", "a/b", ACCESS_PULL, &who,
			   &retry) == ACCESS_UNAUTHORIZED);
	CHECK(access_check(f.a, "", "::1", NULL, ACCESS_PULL, &who, &retry) ==
	      ACCESS_UNAUTHORIZED);
	CHECK(who == NULL && retry == 0);

	CHECK(check_as(f.a, "::1", "alice", "wonderland", "a/b", ACCESS_DELETE,
		       &who, &retry) == ACCESS_OK);
	CHECK_STR(who, "alice");
	free(who);
	CHECK(verdict(f.a, "bob", "password", NULL, ACCESS_PULL) == ACCESS_OK);

	capture_begin();
	CHECK(check_as(f.a, "::1", "alice", "Wonderland", "a/b", ACCESS_PULL,
		       &who, &retry) == ACCESS_UNAUTHORIZED);
	CHECK(who == NULL);
	/* A weak hash keeps its user out even with the right password. */
	CHECK(verdict(f.a, "dave", "password", "a/b", ACCESS_PULL) ==
	      ACCESS_UNAUTHORIZED);
	CHECK(verdict(f.a, "nobody", "password", "a/b", ACCESS_PULL) ==
	      ACCESS_UNAUTHORIZED);
	CHECK(access_check(f.a, "Basic !!!", "::1", "a/b", ACCESS_PULL, &who,
			   &retry) == ACCESS_UNAUTHORIZED);
	log = capture_end();

	CHECK(strstr(log, "login failed user=alice client=::1"));
	CHECK(strstr(log, "login failed user=dave client=127.0.0.1"));
	CHECK(strstr(log, "login failed user=nobody client=127.0.0.1"));
	CHECK(strstr(log, "login failed, malformed credentials client=::1"));
	CHECK(!strstr(log, "Wonderland") && !strstr(log, "password") &&
	      !strstr(log, "Basic") && !strstr(log, "$2y$"));
	CHECK(!access_may(f.a, NULL, "a/b", ACCESS_PULL));
	CHECK(access_may(f.a, "alice", "a/b", ACCESS_DELETE));
	free(log);
	fixture_close(&f);
}

static const char rules_yaml[] = "access:\n"
				 "  admins: [alice]\n"
				 "  groups: {team-a: [bob]}\n"
				 "  anonymous:\n"
				 "    - repositories: [\"public/**\"]\n"
				 "      actions: [pull]\n"
				 "  rules:\n"
				 "    - repositories: [\"team-a/*\"]\n"
				 "      groups: [team-a]\n"
				 "      actions: [pull, push]\n";

static void test_verdicts_with_rules(void)
{
	struct fixture f = {0};
	char *users = standard_users(4), *who = NULL;
	unsigned retry;

	CHECK(fixture_open(&f, users, "r", rules_yaml));
	free(users);
	if (!f.a)
		return;

	CHECK(verdict(f.a, "alice", "wonderland", "x/y", ACCESS_DELETE) ==
	      ACCESS_OK);
	CHECK(verdict(f.a, "bob", "password", "team-a/app", ACCESS_PUSH) ==
	      ACCESS_OK);
	CHECK(check_as(f.a, "::1", "bob", "password", "team-a/app",
		       ACCESS_DELETE, &who, &retry) == ACCESS_DENIED);
	CHECK_STR(who, "bob"); /* known, so the 403 can name him */
	free(who);
	CHECK(verdict(f.a, "bob", "password", "team-b/app", ACCESS_PULL) ==
	      ACCESS_DENIED);
	CHECK(verdict(f.a, "bob", "password", "public/x", ACCESS_PULL) ==
	      ACCESS_OK);
	CHECK(verdict(f.a, "bob", "password", NULL, ACCESS_PULL) == ACCESS_OK);
	/* Bad credentials are 401 even where anonymous users may pull. */
	CHECK(verdict(f.a, "bob", "wrong", "public/x", ACCESS_PULL) ==
	      ACCESS_UNAUTHORIZED);

	CHECK(access_check(f.a, NULL, "::1", "public/x", ACCESS_PULL, &who,
			   &retry) == ACCESS_OK);
	CHECK(who == NULL);
	CHECK(access_check(f.a, NULL, "::1", NULL, ACCESS_PULL, &who, &retry) ==
	      ACCESS_OK);
	CHECK(access_check(f.a, NULL, "::1", "public/x", ACCESS_PUSH, &who,
			   &retry) == ACCESS_UNAUTHORIZED);
	CHECK(access_check(f.a, NULL, "::1", "team-a/app", ACCESS_PULL, &who,
			   &retry) == ACCESS_UNAUTHORIZED);

	CHECK(access_may(f.a, NULL, "public/x", ACCESS_PULL));
	CHECK(!access_may(f.a, NULL, "team-a/app", ACCESS_PULL));
	CHECK(access_may(f.a, "bob", "team-a/app", ACCESS_PULL));
	CHECK(!access_may(f.a, "bob", "team-b/app", ACCESS_PULL));
	fixture_close(&f);
}

/* ---- the credential cache -------------------------------------------- */

static void test_cache_avoids_hashing(void)
{
	struct fixture f = {0};
	char *users = standard_users(8), *h = basic("alice", "wonderland");
	struct access_stats st;
	double t0, first, cached;
	char *who;
	unsigned retry;
	int ok = 0;

	CHECK(fixture_open(&f, users, "r", NULL));
	free(users);
	if (!f.a) {
		free(h);
		return;
	}

	t0 = seconds_now();
	CHECK(access_check(f.a, h, "::1", "a/b", ACCESS_PULL, &who, &retry) ==
	      ACCESS_OK);
	first = seconds_now() - t0;
	free(who);

	t0 = seconds_now();
	for (int i = 0; i < 1000; i++) {
		ok += access_check(f.a, h, "::1", "a/b", ACCESS_PULL, &who,
				   &retry) == ACCESS_OK;
		free(who);
	}
	cached = (seconds_now() - t0) / 1000;
	CHECK(ok == 1000);
	access_get_stats(f.a, &st);
	CHECK(st.hashes == 1 && st.cache_hits == 1000);
	CHECK(st.users == 2);
	/* bcrypt at cost 8 takes milliseconds; a hit, microseconds. */
	CHECK(cached < 50e-6);
	if (getenv("BERTH_TEST_VERBOSE"))
		printf("  first %.1f ms, cached %.2f us\n", first * 1e3,
		       cached * 1e6);
	CHECK(cached * 100 < first);

	/* A wrong password is never cached: each costs a hash. */
	capture_begin();
	CHECK(verdict(f.a, "alice", "wonderlanD", "a/b", ACCESS_PULL) ==
	      ACCESS_UNAUTHORIZED);
	CHECK(verdict(f.a, "alice", "wonderlanD", "a/b", ACCESS_PULL) ==
	      ACCESS_UNAUTHORIZED);
	free(capture_end());
	access_get_stats(f.a, &st);
	CHECK(st.hashes == 3 && st.failures == 2);

	/* Nor is another user's password taken for alice's. */
	CHECK(verdict(f.a, "bob", "password", "a/b", ACCESS_PULL) == ACCESS_OK);
	CHECK(verdict(f.a, "bob", "password", "a/b", ACCESS_PULL) == ACCESS_OK);
	access_get_stats(f.a, &st);
	CHECK(st.hashes == 4 && st.cache_hits == 1001);
	free(h);
	fixture_close(&f);
}

/* ---- reloading ------------------------------------------------------- */

static void test_reload_on_change(void)
{
	struct fixture f = {0};
	char *users = standard_users(4), *text = malloc(1024), *log;
	char *carol = make_hash("$2b$", 4, "looking-glass");
	struct access_stats st;

	CHECK(fixture_open(&f, users, "r", NULL));
	if (!f.a)
		goto out;
	CHECK(verdict(f.a, "alice", "wonderland", "a", ACCESS_PULL) ==
	      ACCESS_OK);
	CHECK(access_refresh(f.a) == 0); /* unchanged: nothing to do */
	access_get_stats(f.a, &st);
	CHECK(st.reloads == 0);

	/* bob's password changes, dave is gone, carol is new but weak. */
	snprintf(text, 1024, "%.*sbob:%s\ncarol:%s\nerin:%s\n",
		 (int)(strchr(users, '\n') - users + 1), users, carol, carol,
		 apr1_password);
	capture_begin();
	fixture_write(&f, text);
	CHECK(access_refresh(f.a) == 0);
	log = capture_end();
	CHECK(strstr(log, "htpasswd reloaded") && strstr(log, "users=3"));
	CHECK(strstr(log, "user=erin scheme=apr1-md5"));
	free(log);

	capture_begin();
	CHECK(verdict(f.a, "bob", "password", "a", ACCESS_PULL) ==
	      ACCESS_UNAUTHORIZED);
	free(capture_end());
	CHECK(verdict(f.a, "bob", "looking-glass", "a", ACCESS_PULL) ==
	      ACCESS_OK);
	CHECK(verdict(f.a, "carol", "looking-glass", "a", ACCESS_PULL) ==
	      ACCESS_OK);
	access_get_stats(f.a, &st);
	CHECK(st.reloads == 1 && st.users == 3);

	/* The cache went with the old file: alice is hashed again. */
	CHECK(verdict(f.a, "alice", "wonderland", "a", ACCESS_PULL) ==
	      ACCESS_OK);
	access_get_stats(f.a, &st);
	CHECK(st.hashes == 5);
out:
	free(carol);
	free(text);
	free(users);
	fixture_close(&f);
}

/* access_check notices a change by itself within about a second. */
static void test_reload_automatic(void)
{
	struct fixture f = {0};
	char *users = standard_users(4);
	char *text = malloc(256), *alice2 = make_hash("$2y$", 4, "queen");

	CHECK(fixture_open(&f, users, "r", NULL));
	if (!f.a)
		goto out;
	CHECK(verdict(f.a, "alice", "wonderland", "a", ACCESS_PULL) ==
	      ACCESS_OK);
	snprintf(text, 256, "alice:%s\n", alice2);
	log_threshold = LVL_ERROR;
	fixture_write(&f, text);
	usleep(1100 * 1000);
	capture_begin();
	CHECK(verdict(f.a, "alice", "wonderland", "a", ACCESS_PULL) ==
	      ACCESS_UNAUTHORIZED);
	free(capture_end());
	CHECK(verdict(f.a, "alice", "queen", "a", ACCESS_PULL) == ACCESS_OK);
out:
	free(alice2);
	free(text);
	free(users);
	fixture_close(&f);
}

/* A file that vanishes keeps the old users; the error is logged once. */
static void test_reload_failure_keeps_users(void)
{
	struct fixture f = {0};
	char *users = standard_users(4), *log;

	CHECK(fixture_open(&f, users, "r", NULL));
	if (!f.a)
		goto out;
	unlink(f.path);
	capture_begin();
	CHECK(access_refresh(f.a) == -ENOENT);
	CHECK(access_refresh(f.a) == -ENOENT);
	log = capture_end();
	CHECK(count_of(log, "htpasswd reload failed") == 1);
	CHECK(strstr(log, f.path) != NULL);
	free(log);
	CHECK(verdict(f.a, "alice", "wonderland", "a", ACCESS_PULL) ==
	      ACCESS_OK);

	capture_begin();
	fixture_write(&f, users);
	CHECK(access_refresh(f.a) == 0);
	free(capture_end());
	CHECK(verdict(f.a, "bob", "password", "a", ACCESS_PULL) == ACCESS_OK);
out:
	free(users);
	fixture_close(&f);
}

/* ---- throttling ------------------------------------------------------ */

static void fill_key(unsigned char *key, unsigned n)
{
	memset(key, 0, THROTTLE_KEY_LEN);
	for (int i = 0; i < THROTTLE_KEY_LEN; i++)
		key[i] = (unsigned char)((n * 2654435761u) >> (i % 4 * 8)) ^
			 (unsigned char)i;
}

static void test_throttle_progression(void)
{
	struct throttle *t = throttle_new();
	unsigned char k[THROTTLE_KEY_LEN], other[THROTTLE_KEY_LEN];
	uint64_t now = 1000 * NS;
	unsigned lock = 0;

	fill_key(k, 1);
	fill_key(other, 2);
	CHECK(throttle_wait(t, k, now) == 0);
	for (int i = 0; i < THROTTLE_FREE; i++) {
		CHECK(throttle_failed(t, k, now) == 0);
		CHECK(throttle_wait(t, k, now) == 0);
	}
	CHECK(throttle_failed(t, k, now) == 1);
	CHECK(throttle_wait(t, k, now) == 1);
	CHECK(throttle_wait(t, k, now + NS / 2) == 1);
	CHECK(throttle_wait(t, k, now + NS) == 0);
	CHECK(throttle_wait(t, other, now) == 0);

	now += NS;
	CHECK(throttle_failed(t, k, now) == 2);
	CHECK(throttle_wait(t, k, now + NS / 10) == 2);
	now += 2 * NS;
	CHECK(throttle_failed(t, k, now) == 4);
	now += 4 * NS;
	CHECK(throttle_failed(t, k, now) == 8);
	for (int i = 0; i < 20; i++) {
		now += (uint64_t)lock * NS;
		lock = throttle_failed(t, k, now);
	}
	CHECK(lock == THROTTLE_MAX_LOCK);
	CHECK(throttle_wait(t, k, now) == THROTTLE_MAX_LOCK);

	/* Success clears everything: the free failures come back. */
	throttle_succeeded(t, k);
	CHECK(throttle_wait(t, k, now) == 0);
	for (int i = 0; i < THROTTLE_FREE; i++)
		CHECK(throttle_failed(t, k, now) == 0);
	CHECK(throttle_failed(t, k, now) == 1);

	/* So does an hour without failures. */
	now += (THROTTLE_FORGET + 1) * NS;
	CHECK(throttle_wait(t, k, now) == 0);
	CHECK(throttle_failed(t, k, now) == 0);
	throttle_free(t);
}

/* Memory stays bounded however many clients fail. */
static void test_throttle_bounded(void)
{
	struct throttle *t = throttle_new();
	unsigned char k[THROTTLE_KEY_LEN], hot[THROTTLE_KEY_LEN];
	uint64_t now = 5000 * NS;

	fill_key(hot, 0);
	for (int i = 0; i < THROTTLE_FREE + 1; i++)
		throttle_failed(t, hot, now);
	for (unsigned i = 1; i <= 20000; i++) {
		fill_key(k, i);
		throttle_failed(t, k, now - NS);
	}
	CHECK(throttle_count(t) <= 4096);
	CHECK(throttle_count(t) > 1000);
	/* The newest failure outlives the older flood in its set. */
	CHECK(throttle_wait(t, hot, now) == 1);
	throttle_free(t);
}

static void test_throttled_logins(void)
{
	struct fixture f = {0};
	char *users = standard_users(4), *who, *log;
	unsigned retry = 0;
	struct access_stats st;

	CHECK(fixture_open(&f, users, "r", NULL));
	free(users);
	if (!f.a)
		return;

	capture_begin();
	for (int i = 0; i < THROTTLE_FREE + 1; i++)
		CHECK(check_as(f.a, "10.0.0.1", "alice", "guess", "a",
			       ACCESS_PULL, &who,
			       &retry) == ACCESS_UNAUTHORIZED);
	/* Locked out: even the right password is not tried. */
	CHECK(check_as(f.a, "10.0.0.1", "alice", "wonderland", "a", ACCESS_PULL,
		       &who, &retry) == ACCESS_THROTTLED);
	CHECK(retry == 1 && who == NULL);
	log = capture_end();
	CHECK(count_of(log, "login failed user=alice client=10.0.0.1") ==
	      THROTTLE_FREE + 1);
	CHECK(count_of(log, "locked_for=1s") == 1);
	CHECK(!strstr(log, "guess") && !strstr(log, "wonderland"));
	free(log);
	access_get_stats(f.a, &st);
	CHECK(st.throttled == 1 && st.hashes == THROTTLE_FREE + 1);

	/* Another client, or another user, is not affected. */
	CHECK(verdict(f.a, "alice", "wonderland", "a", ACCESS_PULL) ==
	      ACCESS_OK);
	CHECK(check_as(f.a, "10.0.0.1", "bob", "password", "a", ACCESS_PULL,
		       &who, &retry) == ACCESS_OK);
	free(who);

	usleep(1100 * 1000);
	CHECK(check_as(f.a, "10.0.0.1", "alice", "wonderland", "a", ACCESS_PULL,
		       &who, &retry) == ACCESS_OK);
	CHECK(retry == 0);
	free(who);
	/* The success wiped the slate: a failure now is a free one. */
	capture_begin();
	CHECK(check_as(f.a, "10.0.0.1", "alice", "guess", "a", ACCESS_PULL,
		       &who, &retry) == ACCESS_UNAUTHORIZED);
	CHECK(check_as(f.a, "10.0.0.1", "alice", "wonderland", "a", ACCESS_PULL,
		       &who, &retry) == ACCESS_OK);
	free(who);
	log = capture_end();
	CHECK(!strstr(log, "locked_for"));
	free(log);
	fixture_close(&f);
}

/* Names from requests are logged, but cannot forge fields or lines. */
static void test_log_sanitized(void)
{
	struct fixture f = {0};
	char *users = standard_users(4), *log;

	CHECK(fixture_open(&f, users, "r", NULL));
	free(users);
	if (!f.a)
		return;
	capture_begin();
	CHECK(verdict(f.a, "ev\"il=x\nlevel=info", "p", "a", ACCESS_PULL) ==
	      ACCESS_UNAUTHORIZED);
	log = capture_end();
	CHECK(strstr(log, "user=ev?il?x?level?info client=127.0.0.1"));
	CHECK(count_of(log, "\n") == 1);
	free(log);
	fixture_close(&f);
}

/* ---- many threads ---------------------------------------------------- */

struct worker {
	struct access *a;
	int ok;
	int rounds;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	char *h = basic("alice", "wonderland");

	for (int i = 0; i < w->rounds; i++) {
		char *who = NULL;
		unsigned retry;

		if (access_check(w->a, h, "::1", "team/app", ACCESS_PULL, &who,
				 &retry) == ACCESS_OK &&
		    who && !strcmp(who, "alice"))
			w->ok++;
		free(who);
	}
	free(h);
	return NULL;
}

/* Logins stay correct while the file is rewritten and reloaded. */
static void test_concurrent_reloads(void)
{
	struct fixture f = {0};
	char *users = standard_users(4);
	struct worker w[8];
	pthread_t tid[8];
	struct access_stats st;

	CHECK(fixture_open(&f, users, "r", NULL));
	if (!f.a) {
		free(users);
		return;
	}
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){.a = f.a, .rounds = 3000};
		pthread_create(&tid[i], NULL, worker_run, &w[i]);
	}
	for (int i = 0; i < 20; i++) {
		/* A comment line on and off: each write changes the size. */
		char *text = malloc(strlen(users) + 16);

		sprintf(text, "%s%s", users, i % 2 ? "" : "# spare\n");
		fixture_write(&f, text);
		access_refresh(f.a);
		free(text);
		usleep(2000);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(tid[i], NULL);
		CHECK(w[i].ok == w[i].rounds);
	}
	access_get_stats(f.a, &st);
	CHECK(st.reloads >= 10 && st.failures == 0);
	free(users);
	fixture_close(&f);
}

int main(void)
{
	log_threshold = LVL_ERROR;
	RUN(test_basic_parse);
	RUN(test_basic_parse_long);
	RUN(test_disabled);
	RUN(test_open_errors);
	RUN(test_verdicts_without_rules);
	RUN(test_verdicts_with_rules);
	RUN(test_cache_avoids_hashing);
	RUN(test_reload_on_change);
	RUN(test_reload_automatic);
	RUN(test_reload_failure_keeps_users);
	RUN(test_throttle_progression);
	RUN(test_throttle_bounded);
	RUN(test_throttled_logins);
	RUN(test_log_sanitized);
	RUN(test_concurrent_reloads);
	return check_done();
}
