/*
 * test_session.c - web UI sessions: tokens, the cookie header, CSRF
 * checks by method, idle and absolute expiry, logout and the bound on
 * how many sessions are kept.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "session.h"
#include "util.h"

static int64_t fake_now = 1000000;

/* Access control without logins, where every stamp holds. */
static struct access *noauth;
static const unsigned char nostamp[ACCESS_STAMP_LEN];

static int64_t fake_clock(void)
{
	return fake_now;
}

static char *cookie_of(const char *token)
{
	return xasprintf("theme=dark; " SESSION_COOKIE "=%s; other=1", token);
}

static bool is_hex64(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static void test_start_and_find(void)
{
	struct sessions *s = sessions_new();
	char token[65], csrf[65], got[65] = "";
	char token2[65], csrf2[65];
	char *cookie, *user;

	CHECK(session_start(s, "alice", nostamp, token, csrf) == 0);
	CHECK(session_start(s, "bob", nostamp, token2, csrf2) == 0);
	CHECK(is_hex64(token) && is_hex64(csrf));
	CHECK(strcmp(token, token2) != 0 && strcmp(token, csrf) != 0);

	cookie = cookie_of(token);
	user = session_find(s, noauth, cookie, got);
	CHECK_STR(user, "alice");
	CHECK_STR(got, csrf);
	free(user);
	free(cookie);

	cookie = cookie_of(token2);
	user = session_find(s, noauth, cookie, NULL);
	CHECK_STR(user, "bob");
	free(user);
	free(cookie);
	sessions_free(s);
}

static void test_cookie_parsing(void)
{
	struct sessions *s = sessions_new();
	char token[65], csrf[65];
	char *cookie, *user;

	CHECK(session_start(s, "alice", nostamp, token, csrf) == 0);

	CHECK(session_find(s, noauth, NULL, NULL) == NULL);
	CHECK(session_find(s, noauth, "", NULL) == NULL);
	CHECK(session_find(s, noauth, SESSION_COOKIE "=abc", NULL) == NULL);
	cookie = xasprintf("x" SESSION_COOKIE "=%s", token);
	CHECK(session_find(s, noauth, cookie, NULL) == NULL); /* another name */
	free(cookie);
	cookie = xasprintf(SESSION_COOKIE "=%.63sg", token);
	CHECK(session_find(s, noauth, cookie, NULL) == NULL); /* not hex */
	free(cookie);

	/* A stale cookie for another path first, the live one second. */
	cookie = xasprintf(SESSION_COOKIE "=%064d;" SESSION_COOKIE "=%s", 0,
			   token);
	user = session_find(s, noauth, cookie, NULL);
	CHECK_STR(user, "alice");
	free(user);
	free(cookie);
	sessions_free(s);
}

static void test_csrf_by_method(void)
{
	struct sessions *s = sessions_new();
	char token[65], csrf[65], wrong[65];
	char *cookie, *user;
	bool ok;

	CHECK(session_start(s, "alice", nostamp, token, csrf) == 0);
	cookie = cookie_of(token);
	memcpy(wrong, csrf, sizeof(wrong));
	wrong[0] = wrong[0] == 'a' ? 'b' : 'a';

	user = session_user(s, noauth, cookie, "GET", NULL, &ok);
	CHECK_STR(user, "alice");
	CHECK(ok);
	free(user);

	CHECK(session_user(s, noauth, cookie, "DELETE", NULL, &ok) == NULL);
	CHECK(!ok);
	CHECK(session_user(s, noauth, cookie, "POST", wrong, &ok) == NULL);
	CHECK(!ok);
	CHECK(session_user(s, noauth, cookie, "PUT", "short", &ok) == NULL);
	CHECK(!ok);

	user = session_user(s, noauth, cookie, "DELETE", csrf, &ok);
	CHECK_STR(user, "alice");
	CHECK(ok);
	free(user);

	/* No session at all: nothing to check, anonymous. */
	CHECK(session_user(s, noauth, "a=b", "DELETE", NULL, &ok) == NULL);
	CHECK(ok);
	free(cookie);
	sessions_free(s);
}

static void test_expiry(void)
{
	struct sessions *s = sessions_new();
	char token[65], csrf[65];
	char *cookie, *user;

	sessions_set_clock(s, fake_clock);
	CHECK(session_start(s, "alice", nostamp, token, csrf) == 0);
	cookie = cookie_of(token);

	/* Use keeps it alive past one idle period... */
	for (int i = 0; i < 3; i++) {
		fake_now += SESSION_IDLE_SECONDS - 60;
		user = session_find(s, noauth, cookie, NULL);
		CHECK_STR(user, "alice");
		free(user);
	}
	/* ...but not past the absolute limit. */
	while (fake_now < 1000000 + SESSION_MAX_SECONDS) {
		fake_now += SESSION_IDLE_SECONDS / 2;
		free(session_find(s, noauth, cookie, NULL));
	}
	CHECK(session_find(s, noauth, cookie, NULL) == NULL);
	free(cookie);

	CHECK(session_start(s, "bob", nostamp, token, csrf) == 0);
	cookie = cookie_of(token);
	fake_now += SESSION_IDLE_SECONDS;
	CHECK(session_find(s, noauth, cookie, NULL) == NULL);
	free(cookie);
	sessions_free(s);
}

static void test_end(void)
{
	struct sessions *s = sessions_new();
	char token[65], csrf[65];
	char *cookie;

	CHECK(session_start(s, "alice", nostamp, token, csrf) == 0);
	cookie = cookie_of(token);
	session_end(s, cookie);
	CHECK(session_find(s, noauth, cookie, NULL) == NULL);
	session_end(s, cookie); /* twice is harmless */
	free(cookie);
	sessions_free(s);
}

static void test_bounded(void)
{
	struct sessions *s = sessions_new();
	char first[65], token[65], csrf[65];
	char *cookie, *user;

	sessions_set_clock(s, fake_clock);
	CHECK(session_start(s, "first", nostamp, first, csrf) == 0);
	for (int i = 0; i < SESSION_MAX_COUNT; i++) {
		fake_now++;
		CHECK(session_start(s, "user", nostamp, token, csrf) == 0);
	}
	cookie = cookie_of(first);
	CHECK(session_find(s, noauth, cookie, NULL) ==
	      NULL); /* the oldest went */
	free(cookie);
	cookie = cookie_of(token);
	user = session_find(s, noauth, cookie, NULL);
	CHECK_STR(user, "user");
	free(user);
	free(cookie);
	sessions_free(s);
}

int main(void)
{
	char err[256];
	struct config *cfg = config_parse("", 0, NULL, err, sizeof(err));

	noauth = access_open(cfg, err, sizeof(err));
	RUN(test_start_and_find);
	RUN(test_cookie_parsing);
	RUN(test_csrf_by_method);
	RUN(test_expiry);
	RUN(test_end);
	RUN(test_bounded);
	access_close(noauth);
	config_free(cfg);
	return check_done();
}
