/*
 * uilogin.c - logging in to the web UI and out again.
 *
 * The login form posts a user name and password once; they are checked
 * by access_login exactly as a docker login would be (same users, same
 * throttling), then forgotten.  What remains is a session (session.h):
 * an HttpOnly cookie, a CSRF token the page sends with every change, and
 * the stamp that ends the session when the user's password changes.
 */
#include "uiapi_int.h"
#include "access.h"
#include "config.h"
#include "http.h"
#include "session.h"
#include "util.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define UIAPI_LOGIN_MAX 8192

/* The Set-Cookie value for token, or for clearing it when NULL. */
static char *cookie_value(const struct call *c, const char *token)
{
	const char *prefix = c->api->cfg->http_prefix;

	return xasprintf("%s=%s; Path=%s/; HttpOnly; SameSite=Strict%s%s",
			 SESSION_COOKIE, token ? token : "",
			 prefix ? prefix : "",
			 uiapi_reached_by_tls(c) ? "; Secure" : "",
			 token ? "" : "; Max-Age=0");
}

/*
 * Refuses requests a page on another site could have sent: browsers
 * mark them with Sec-Fetch-Site, and a JSON body cannot be posted
 * across sites without a CORS preflight, which /ui/api never grants.
 */
static bool same_site_json(struct http_request *req)
{
	const char *site = http_header(req, "Sec-Fetch-Site");
	const char *type = http_header(req, "Content-Type");

	if (site && strcmp(site, "same-origin") && strcmp(site, "none")) {
		uiapi_send_error(req, 403, "DENIED",
				 "cross-site request refused");
		return false;
	}
	if (!type || strncasecmp(type, "application/json", 16)) {
		uiapi_send_error(req, 415, "UNSUPPORTED",
				 "send the login as application/json");
		return false;
	}
	return true;
}

struct login {
	struct call call;
	struct buf body;
	bool too_large;
};

static int on_login_body(void *ctx, const char *data, size_t len)
{
	struct login *l = ctx;

	if (l->body.len + len > UIAPI_LOGIN_MAX) {
		l->too_large = true;
		return -1;
	}
	buf_add(&l->body, data, len);
	return 0;
}

/* "Basic base64(user:password)", as access_login reads it. */
static char *basic_header(const char *user, const char *password)
{
	char *plain = xasprintf("%s:%s", user, password);
	size_t n = strlen(plain);
	char *out = xmalloc(6 + 4 * ((n + 2) / 3) + 1);

	strcpy(out, "Basic ");
	EVP_EncodeBlock((unsigned char *)out + 6, (unsigned char *)plain,
			(int)n);
	OPENSSL_cleanse(plain, n);
	free(plain);
	return out;
}

static void start_session(struct call *c, const char *user,
			  const unsigned char stamp[ACCESS_STAMP_LEN])
{
	char token[SESSION_TOKEN_HEX + 1], csrf[SESSION_TOKEN_HEX + 1];
	struct http_response *res;
	char *cookie;

	if (session_start(c->api->sessions, user, stamp, token, csrf)) {
		uiapi_send_error(c->req, 500, "UNKNOWN",
				 "cannot start a session");
		return;
	}
	res = uiapi_response(200);
	cookie = cookie_value(c, token);
	http_response_header(res, "Set-Cookie", cookie);
	uiapi_send_json_with(c->req, res,
			     json_pack("{s:s, s:s}", "user", user, "csrf",
				       csrf));
	OPENSSL_cleanse(token, sizeof(token));
	OPENSSL_cleanse(csrf, sizeof(csrf));
	OPENSSL_cleanse(cookie, strlen(cookie));
	free(cookie);
}

static void check_login(struct call *c, const char *user, const char *pass)
{
	char *header = basic_header(user, pass), *name = NULL;
	unsigned char stamp[ACCESS_STAMP_LEN];
	unsigned retry = 0;
	enum access_verdict v;

	v = access_login(c->access, header, http_client_addr(c->req), &name,
			 stamp, &retry);
	OPENSSL_cleanse(header, strlen(header));
	free(header);

	if (v == ACCESS_THROTTLED)
		uiapi_send_throttled(c->req, retry);
	else if (!name)
		uiapi_send_error(c->req, 401, "UNAUTHORIZED",
				 "wrong user name or password");
	else
		start_session(c, name, stamp);
	http_set_user(c->req, name);
	free(name);
}

static void on_login_end(void *ctx, struct http_request *req)
{
	struct login *l = ctx;
	json_t *doc = NULL;
	const char *user, *pass;

	l->call.req = req;
	if (!l->too_large)
		doc = json_loadb(l->body.data ? l->body.data : "", l->body.len,
				 0, NULL);
	user = json_string_value(json_object_get(doc, "user"));
	pass = json_string_value(json_object_get(doc, "password"));
	if (!user || !pass || !*user || strchr(user, ':'))
		uiapi_send_error(
			req, 400, "UNSUPPORTED",
			"send {\"user\": ..., "
			"\"password\": ...} with a user name without ':'");
	else
		check_login(&l->call, user, pass);
	if (pass)
		OPENSSL_cleanse((char *)pass, strlen(pass));
	json_decref(doc);
}

static void free_login(void *ctx)
{
	struct login *l = ctx;

	if (l->body.data)
		OPENSSL_cleanse(l->body.data, l->body.len);
	buf_free(&l->body);
	free(l);
}

void uilogin_login(struct call *c)
{
	struct login *l;

	if (!access_enabled(c->access)) {
		uiapi_send_error(c->req, 400, "UNSUPPORTED",
				 "this registry has no "
				 "logins: everyone may use it without one");
		return;
	}
	if (!same_site_json(c->req))
		return;
	l = xcalloc(1, sizeof(*l));
	l->call = *c;
	l->call.user = NULL;
	http_read_body(c->req, on_login_body, on_login_end, free_login, l);
}

void uilogin_logout(struct call *c)
{
	const char *cookie = http_header(c->req, "Cookie");
	struct http_response *res;
	bool csrf_ok = true;
	char *user = NULL, *clear;

	if (cookie)
		user = session_user(c->api->sessions, c->access, cookie, "POST",
				    http_header(c->req, SESSION_CSRF_HEADER),
				    &csrf_ok);
	if (!csrf_ok) {
		uiapi_send_error(c->req, 403, "DENIED",
				 "the X-CSRF-Token header is missing or wrong");
		return;
	}
	if (user)
		session_end(c->api->sessions, cookie);
	free(user);

	res = uiapi_response(204);
	clear = cookie_value(c, NULL);
	http_response_header(res, "Set-Cookie", clear);
	free(clear);
	http_send(c->req, res);
}
