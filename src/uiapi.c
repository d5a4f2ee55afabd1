/*
 * uiapi.c - the web UI's JSON endpoints: who is asking, the catalog and
 * an image, and the helpers the other endpoints' files share (tags in
 * uitags.c, login and logout in uilogin.c; uiapi_int.h).
 *
 * Speed comes from three places.  Names come from the registry's index,
 * in memory.  Where a tag points comes from the tag cache (tagcache.h),
 * which reads a link only when the tag is new or changed.  What a
 * manifest holds comes from the summary cache (meta.h), keyed by digest
 * and so never stale.  A warm page of 10,000 tags sorted by date is then
 * a sort in memory; only the page's rows are turned into JSON.
 *
 * Errors are JSON too: {"error": "<what to do>", "code": "<CODE>"}, with
 * the spec's codes where one fits.  A 401 here never carries
 * WWW-Authenticate, so browsers show berth's login form, not their own
 * password dialog.
 */
#include "uiapi.h"
#include "uiapi_int.h"
#include "access.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "meta.h"
#include "proxy.h"
#include "ref.h"
#include "registry.h"
#include "session.h"
#include "tagcache.h"
#include "ui.h"
#include "uicatalog.h"
#include "uiimage.h"
#include "usage.h"
#include "util.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define UIAPI_META_BYTES (64u * 1024 * 1024)
#define UIAPI_TAG_ROWS 500000
#define UIAPI_PAGE_DEFAULT 50
/* Repositories with more tags get their catalog summary in background. */
#define UIAPI_INLINE_TAGS 200

struct uiapi *uiapi_new(const struct config *cfg, struct registry *reg,
			struct sessions *sessions)
{
	struct uiapi *api = xcalloc(1, sizeof(*api));

	api->cfg = cfg;
	api->reg = reg;
	api->sessions = sessions;
	api->metas = meta_cache_new(registry_store(reg), UIAPI_META_BYTES);
	api->tags = tagcache_new(reg, api->metas, UIAPI_TAG_ROWS);
	api->catalog = uicatalog_new(api->tags);
	if (cfg->ui_enabled)
		tagcache_warm_start(api->tags);
	return api;
}

void uiapi_free(struct uiapi *api)
{
	if (!api)
		return;
	uicatalog_free(api->catalog);
	tagcache_free(api->tags);
	meta_cache_free(api->metas);
	free(api);
}

void uiapi_set_usage(struct uiapi *api, struct usage *usage)
{
	api->usage = usage;
}

void uiapi_changed(struct uiapi *api, const char *repo, const char *tag)
{
	tagcache_changed(api->tags, repo, tag);
}

/* ---- answers ---- */

struct http_response *uiapi_response(int status)
{
	struct http_response *res = http_response_new(status);

	ui_security_headers(res);
	http_response_header(res, "Cache-Control", "no-store");
	return res;
}

/* Sends body (taking it) with res, which has its status and headers. */
void uiapi_send_json_with(struct http_request *req, struct http_response *res,
			  json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);

	http_response_body(res, "application/json; charset=utf-8", text,
			   strlen(text));
	http_send(req, res);
	free(text);
	json_decref(body);
}

void uiapi_send_json(struct http_request *req, int status, json_t *body)
{
	uiapi_send_json_with(req, uiapi_response(status), body);
}

void uiapi_send_error(struct http_request *req, int status, const char *code,
		      const char *message)
{
	uiapi_send_json(req, status,
			json_pack("{s:s, s:s}", "error", message, "code",
				  code));
}

void uiapi_send_reg_error(struct http_request *req, const struct reg_error *e)
{
	uiapi_send_error(req, reg_code_status(e->code), reg_code_name(e->code),
			 e->message);
}

/* Sets key in obj to v, taking v: one field a line, in builders below. */
void uiapi_put(json_t *obj, const char *key, json_t *v)
{
	json_object_set_new(obj, key, v);
}

json_t *uiapi_str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *uiapi_time_or_null(int64_t t)
{
	char s[32];

	if (t == META_TIME_UNKNOWN)
		return json_null();
	format_rfc3339(t, s);
	return json_string(s);
}

/* ---- who is asking ---- */

void uiapi_send_throttled(struct http_request *req, unsigned retry)
{
	struct http_response *res = uiapi_response(429);
	char seconds[16];

	snprintf(seconds, sizeof(seconds), "%u", retry);
	http_response_header(res, "Retry-After", seconds);
	uiapi_send_json_with(
		req, res,
		json_pack("{s:s, s:s}", "error",
			  "too many failed logins; wait and try again", "code",
			  "TOOMANYREQUESTS"));
}

/*
 * Works out the user: from an Authorization header (scripts), else from
 * the session cookie, else anonymous.  Answers 401 or 429 itself and
 * returns false when credentials were sent and failed.
 */
static bool identify(struct call *c)
{
	const char *authz = http_header(c->req, "Authorization");
	const char *cookie = http_header(c->req, "Cookie");
	unsigned retry = 0;
	enum access_verdict v;

	if (!access_enabled(c->access))
		return true;
	if (authz && *authz) {
		v = access_check(c->access, authz, http_client_addr(c->req),
				 NULL, ACCESS_PULL, &c->user, &retry);
		if (v == ACCESS_UNAUTHORIZED)
			uiapi_send_error(c->req, 401, "UNAUTHORIZED",
					 "wrong user name or password");
		else if (v == ACCESS_THROTTLED)
			uiapi_send_throttled(c->req, retry);
		else
			http_set_user(c->req, c->user);
		return v == ACCESS_OK || v == ACCESS_DENIED;
	}
	if (cookie)
		c->user =
			session_find(c->api->sessions, c->access, cookie, NULL);
	http_set_user(c->req, c->user);
	return true;
}

bool uiapi_may(const struct call *c, const char *repo,
	       enum access_action action)
{
	return !access_enabled(c->access) ||
	       access_may(c->access, c->user, repo, action);
}

/*
 * Without logins the client is the peer, unless a trusted proxy names
 * another in X-Forwarded-For, which only /admin/ works out: the panel
 * is not offered then rather than offered and refused.
 *
 * NEEDSWORK: so on a registry without logins behind a trusted proxy, a
 * local administrator does not get the panel although /admin/ answers
 * them.  The UI keeps the proxy as its client (pull_host trusts its
 * X-Forwarded-Host by that), and api.c resolves the real client only
 * for /v2/ and /admin/.
 */
bool uiapi_is_admin(const struct call *c)
{
	const char *addr = http_client_addr(c->req);

	if (!access_enabled(c->access) &&
	    http_header(c->req, "X-Forwarded-For") &&
	    proxy_trusted(c->api->cfg->http_trusted_proxies, addr))
		return false;
	return access_admin(c->access, c->user, addr);
}

/* Whether the UI offers deleting at all (policy, not permissions). */
static bool delete_offered(const struct config *cfg)
{
	if (cfg->readonly || !cfg->delete_enabled)
		return false;
	return !cfg->ui_delete || strcmp(cfg->ui_delete, "false") != 0;
}

/* Answers 401 or 403 itself unless the user may pull from repo. */
bool uiapi_require_pull(const struct call *c, const char *repo)
{
	if (uiapi_may(c, repo, ACCESS_PULL))
		return true;
	if (c->user)
		uiapi_send_error(c->req, 403, "DENIED",
				 repo ? "you may not pull from this repository"
				      : "you may not browse this registry");
	else
		uiapi_send_error(c->req, 401, "UNAUTHORIZED",
				 "log in to see this registry");
	return false;
}

json_t *uiapi_permissions(const struct call *c, const char *repo)
{
	const struct config *cfg = c->api->cfg;
	json_t *p = json_object();

	uiapi_put(p, "pull", json_boolean(uiapi_may(c, repo, ACCESS_PULL)));
	uiapi_put(p, "push",
		  json_boolean(!cfg->readonly &&
			       uiapi_may(c, repo, ACCESS_PUSH)));
	uiapi_put(p, "delete",
		  json_boolean(delete_offered(cfg) &&
			       uiapi_may(c, repo, ACCESS_DELETE)));
	return p;
}

/* ---- parameters ---- */

/* Reads a positive integer parameter; answers 400 itself if malformed. */
static bool number_param(struct http_request *req, const char *name,
			 size_t deflt, size_t max, size_t *out)
{
	const char *s = http_query(req, name);
	uint64_t v;
	char msg[96];

	*out = deflt;
	if (!s || !*s)
		return true;
	if (ref_parse_u64(s, &v) || v == 0) {
		snprintf(msg, sizeof(msg), "%s must be a positive integer",
			 name);
		uiapi_send_error(req, 400, "PAGINATION_NUMBER_INVALID", msg);
		return false;
	}
	*out = v > max ? max : (size_t)v;
	return true;
}

bool uiapi_paging_params(struct http_request *req, struct paging *p)
{
	return number_param(req, "page", 1, SIZE_MAX / UIAPI_PAGE_MAX,
			    &p->page) &&
	       number_param(req, "per_page", UIAPI_PAGE_DEFAULT, UIAPI_PAGE_MAX,
			    &p->per_page);
}

bool uiapi_in_page(const struct paging *p, size_t i)
{
	return i >= (p->page - 1) * p->per_page && i < p->page * p->per_page;
}

/* A search term, lowercased; answers 400 itself when too long. */
bool uiapi_query_param(struct http_request *req, char *out, size_t len)
{
	const char *q = http_query(req, "q");
	size_t n = q ? strlen(q) : 0;

	if (n >= len) {
		uiapi_send_error(req, 400, "NAME_INVALID",
				 "search text too long");
		return false;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)q[i]);
	out[n] = '\0';
	return true;
}

bool uiapi_repo_param(struct http_request *req, const char **repo)
{
	*repo = http_query(req, "repo");
	if (*repo && ref_valid_name(*repo))
		return true;
	uiapi_send_error(req, 400, "NAME_INVALID",
			 "repo must be a valid repository name");
	return false;
}

/* ---- info ---- */

/* Whether clients reach berth over https, as far as berth can tell. */
bool uiapi_reached_by_tls(const struct call *c)
{
	const struct config *cfg = c->api->cfg;
	const char *proto;

	if (http_is_tls(c->req) ||
	    (cfg->http_host && !strncmp(cfg->http_host, "https://", 8)))
		return true;
	if (!proxy_trusted(cfg->http_trusted_proxies, http_client_addr(c->req)))
		return false;
	proto = http_header(c->req, "X-Forwarded-Proto");
	return proto && !strcmp(proto, "https");
}

/* host[:port] without scheme or path, if s looks like one; else NULL. */
static char *host_of(const char *s)
{
	const char *p = s;
	size_t n;

	if (!strncmp(p, "https://", 8))
		p += 8;
	else if (!strncmp(p, "http://", 7))
		p += 7;
	n = strcspn(p, "/");
	if (n == 0 || n > 255 || strpbrk(p, " \t\r\n\"'<>\\,;@") ||
	    strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789.-:[]_") < n)
		return NULL;
	return xstrndup(p, n);
}

/* The host[:port] pull commands name: configured, else as reached. */
static char *pull_host(const struct call *c)
{
	const struct config *cfg = c->api->cfg;
	const char *fwd = NULL;
	char *host = NULL;

	if (cfg->ui_pullhost && *cfg->ui_pullhost)
		host = host_of(cfg->ui_pullhost);
	if (!host && cfg->http_host && *cfg->http_host)
		host = host_of(cfg->http_host);
	if (!host &&
	    proxy_trusted(cfg->http_trusted_proxies, http_client_addr(c->req)))
		fwd = http_header(c->req, "X-Forwarded-Host");
	if (!host && fwd)
		host = host_of(fwd);
	if (!host && http_header(c->req, "Host"))
		host = host_of(http_header(c->req, "Host"));
	return host ? host : xstrdup("localhost:5000");
}

static void get_info(struct call *c)
{
	const struct config *cfg = c->api->cfg;
	const char *cookie = http_header(c->req, "Cookie");
	char csrf[SESSION_TOKEN_HEX + 1] = "";
	char *host = pull_host(c), *session_user = NULL;
	json_t *body = json_object();

	if (cookie && access_enabled(c->access))
		session_user =
			session_find(c->api->sessions, c->access, cookie, csrf);
	uiapi_put(body, "title", json_string(ui_title(cfg)));
	uiapi_put(body, "version", json_string(BERTH_VERSION));
	uiapi_put(body, "auth", json_boolean(access_enabled(c->access)));
	uiapi_put(body, "user", uiapi_str_or_null(c->user));
	uiapi_put(body, "csrf", uiapi_str_or_null(session_user ? csrf : NULL));
	uiapi_put(body, "pullHost", json_string(host));
	uiapi_put(body, "tls", json_boolean(uiapi_reached_by_tls(c)));
	uiapi_put(body, "deleteEnabled", json_boolean(delete_offered(cfg)));
	uiapi_put(body, "readOnly", json_boolean(cfg->readonly));
	uiapi_put(body, "admin", json_boolean(uiapi_is_admin(c)));
	uiapi_put(body, "canBrowse",
		  json_boolean(uiapi_may(c, NULL, ACCESS_PULL)));
	uiapi_put(body, "prefix",
		  json_string(cfg->http_prefix ? cfg->http_prefix : ""));
	OPENSSL_cleanse(csrf, sizeof(csrf));
	free(session_user);
	free(host);
	uiapi_send_json(c->req, 200, body);
}

/* ---- catalog ---- */

/* "team" for "team/app/db"; "" for a name without a namespace. */
static json_t *namespace_json(const char *name)
{
	const char *slash = strchr(name, '/');

	return json_stringn(name, slash ? (size_t)(slash - name) : 0);
}

/*
 * What repository name holds (usage.h), or null while the first scan
 * after start has not finished: the catalog never waits for it.  A
 * repository the scan found holding nothing holds 0 bytes.
 */
static json_t *usage_json_of(struct call *c, const char *name)
{
	struct usage_repo u;
	struct usage_total t;
	json_t *o;

	if (!c->api->usage)
		return json_null();
	usage_total(c->api->usage, &t);
	if (!t.updated)
		return json_null();

	usage_repo(c->api->usage, name, &u);
	o = json_object();
	uiapi_put(o, "bytes", json_integer((json_int_t)u.bytes));
	uiapi_put(o, "sharedBytes", json_integer((json_int_t)u.shared));
	uiapi_put(o, "exclusiveBytes", json_integer((json_int_t)u.exclusive));
	return o;
}

/*
 * The whole store's usage, for callers who may see every repository
 * (administrators, and everyone without logins): others would learn
 * from it about repositories they may not read.  null otherwise, and
 * while not yet known.
 */
static json_t *storage_json(struct call *c)
{
	struct usage_total t;
	json_t *o;

	if (!c->api->usage || (access_enabled(c->access) && !uiapi_is_admin(c)))
		return json_null();
	usage_total(c->api->usage, &t);
	if (!t.updated)
		return json_null();

	o = json_object();
	uiapi_put(o, "bytes", json_integer((json_int_t)t.bytes));
	uiapi_put(o, "blobs", json_integer((json_int_t)t.blobs));
	uiapi_put(o, "heldBytes", json_integer((json_int_t)t.held));
	uiapi_put(o, "reclaimableBytes",
		  json_integer((json_int_t)t.reclaimable));
	uiapi_put(o, "repositories", json_integer((json_int_t)t.repositories));
	return o;
}

/* When usage was last worked out, or null while not yet. */
static json_t *usage_updated(struct call *c)
{
	struct usage_total t = {0};

	if (c->api->usage)
		usage_total(c->api->usage, &t);
	return t.updated ? uiapi_time_or_null(t.updated) : json_null();
}

/*
 * One catalog row.  A big repository whose summary is not cached yet
 * (just after start) is not worked out here, which could take seconds:
 * the row says "pending" and the cache's thread works it out, so the
 * page stays fast and the UI asks again shortly.
 */
static json_t *repo_json(struct call *c, const char *name)
{
	struct tag_summary s = {0, 0, META_TIME_UNKNOWN};
	bool ready =
		tagcache_summary_now(c->api->tags, name, UIAPI_INLINE_TAGS, &s);

	json_t *r = json_object();

	uiapi_put(r, "name", json_string(name));
	uiapi_put(r, "namespace", namespace_json(name));
	uiapi_put(r, "tags", json_integer((json_int_t)s.tags));
	uiapi_put(r, "size",
		  ready ? json_integer((json_int_t)s.size) : json_null());
	uiapi_put(r, "lastPush",
		  uiapi_time_or_null(ready ? s.last_push : META_TIME_UNKNOWN));
	uiapi_put(r, "pending", json_boolean(!ready && s.tags));
	uiapi_put(r, "usage", usage_json_of(c, name));
	return r;
}

/* The catalog rows of page p matching q; sets *total to all that match. */
static json_t *catalog_rows(struct call *c, const char *q,
			    const struct paging *p, size_t *total)
{
	const struct uicatalog_view *view = NULL;
	const struct index_page *names;
	const uint32_t *visible = NULL;
	json_t *list = json_array();
	size_t count;

	if (access_enabled(c->access)) {
		view = uicatalog_get(c->api->catalog, c->access, c->user);
		names = view->names;
		visible = view->visible;
		count = view->count;
	} else {
		names = tagcache_repos(c->api->tags);
		count = names->count;
	}

	*total = 0;
	for (size_t i = 0; i < count; i++) {
		const char *name = names->names[visible ? visible[i] : i];

		if (*q && !strstr(name, q))
			continue;
		if (uiapi_in_page(p, *total))
			json_array_append_new(list, repo_json(c, name));
		(*total)++;
	}

	if (view)
		uicatalog_release(c->api->catalog, view);
	else
		tagcache_release_repos(c->api->tags, names);
	return list;
}

static void get_repositories(struct call *c)
{
	char q[UIAPI_QUERY_MAX + 1];
	struct paging p;
	json_t *list, *body;
	size_t total;

	if (!uiapi_query_param(c->req, q, sizeof(q)) ||
	    !uiapi_paging_params(c->req, &p) || !uiapi_require_pull(c, NULL))
		return;

	list = catalog_rows(c, q, &p, &total);
	body = json_object();
	uiapi_put(body, "total", json_integer((json_int_t)total));
	uiapi_put(body, "page", json_integer((json_int_t)p.page));
	uiapi_put(body, "perPage", json_integer((json_int_t)p.per_page));
	uiapi_put(body, "query", json_string(q));
	uiapi_put(body, "repositories", list);
	uiapi_put(body, "usageUpdated", usage_updated(c));
	uiapi_put(body, "storage", storage_json(c));
	uiapi_put(body, "permissions", uiapi_permissions(c, NULL));
	uiapi_send_json(c->req, 200, body);
}
/* ---- image ---- */

/* Every tag of repo that points at digest, for the delete dialog. */
static json_t *tags_of(struct call *c, const char *repo, const char *digest)
{
	const struct tag_table *t = tagcache_get(c->api->tags, repo);
	json_t *list = json_array();
	struct digest d;

	if (t && !digest_parse(digest, &d))
		for (size_t i = 0; i < t->count; i++)
			if (digest_equal(&d, &t->rows[i].digest))
				json_array_append_new(list,
						      json_string(
							      t->rows[i].name));
	tagcache_release(c->api->tags, t);
	return list;
}

static void get_image(struct call *c)
{
	const char *ref = http_query(c->req, "ref");
	struct digest d;
	struct reg_error e;
	const char *repo;
	json_t *page;

	if (!uiapi_repo_param(c->req, &repo))
		return;
	if (!ref || (!ref_valid_tag(ref) && digest_parse(ref, &d))) {
		uiapi_send_error(c->req, 400, "MANIFEST_INVALID",
				 "ref must be a tag or a digest");
		return;
	}
	if (!uiapi_require_pull(c, repo))
		return;
	http_set_log_note(c->req, repo);

	page = uiimage_build(c->api->reg, repo, ref, &e);
	if (!page) {
		uiapi_send_reg_error(c->req, &e);
		return;
	}
	json_object_set_new(page, "tags",
			    tags_of(c, repo,
				    json_string_value(
					    json_object_get(page, "digest"))));
	json_object_set_new(page, "permissions", uiapi_permissions(c, repo));
	uiapi_send_json(c->req, 200, page);
}
/* ---- routing ---- */

static const struct {
	const char *path;
	const char *method;
	void (*fn)(struct call *c);
} routes[] = {
	{"/info", "GET", get_info},
	{"/repositories", "GET", get_repositories},
	{"/tags", "GET", uitags_get},
	{"/image", "GET", get_image},
	{"/login", "POST", uilogin_login},
	{"/logout", "POST", uilogin_logout},
};

void uiapi_handle(struct uiapi *api, struct http_request *req,
		  struct access *access, const char *path)
{
	const char *method = http_method(req);
	struct call c = {api, req, access, NULL};
	bool head = !strcmp(method, "HEAD");

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(path, routes[i].path))
			continue;
		if (strcmp(method, routes[i].method) &&
		    !(head && !strcmp(routes[i].method, "GET"))) {
			uiapi_send_error(req, 405, "UNSUPPORTED",
					 "method not allowed on this endpoint");
			return;
		}
		if (routes[i].fn != uilogin_login && !identify(&c))
			return;
		routes[i].fn(&c);
		free(c.user);
		return;
	}
	uiapi_send_error(req, 404, "NOT_FOUND",
			 "no such endpoint in the UI API");
}
