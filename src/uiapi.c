/*
 * uiapi.c - the web UI's JSON endpoints: who is asking, the catalog, a
 * repository's tags, an image, login and logout.
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
#include "util.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define UIAPI_META_BYTES (64u * 1024 * 1024)
#define UIAPI_TAG_ROWS 500000
#define UIAPI_PAGE_DEFAULT 50
#define UIAPI_PAGE_MAX 500
#define UIAPI_QUERY_MAX 255
#define UIAPI_LOGIN_MAX 8192
/* Repositories with more tags get their catalog summary in background. */
#define UIAPI_INLINE_TAGS 200

struct uiapi {
	const struct config *cfg;
	struct registry *reg;
	struct sessions *sessions;
	struct meta_cache *metas;
	struct tagcache *tags;
	struct uicatalog *catalog;
};

/* One request: who is asking, with what access control. */
struct call {
	struct uiapi *api;
	struct http_request *req;
	struct access *access;
	char *user; /* NULL for anonymous */
};

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

void uiapi_changed(struct uiapi *api, const char *repo, const char *tag)
{
	tagcache_changed(api->tags, repo, tag);
}

/* ---- answers ---- */

static struct http_response *response(int status)
{
	struct http_response *res = http_response_new(status);

	ui_security_headers(res);
	http_response_header(res, "Cache-Control", "no-store");
	return res;
}

/* Sends body (taking it) with res, which has its status and headers. */
static void send_json_with(struct http_request *req, struct http_response *res,
			   json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);

	http_response_body(res, "application/json; charset=utf-8", text,
			   strlen(text));
	http_send(req, res);
	free(text);
	json_decref(body);
}

static void send_json(struct http_request *req, int status, json_t *body)
{
	send_json_with(req, response(status), body);
}

static void send_error(struct http_request *req, int status, const char *code,
		       const char *message)
{
	send_json(req, status,
		  json_pack("{s:s, s:s}", "error", message, "code", code));
}

static void send_reg_error(struct http_request *req, const struct reg_error *e)
{
	send_error(req, reg_code_status(e->code), reg_code_name(e->code),
		   e->message);
}

/* Sets key in obj to v, taking v: one field a line, in builders below. */
static void put(json_t *obj, const char *key, json_t *v)
{
	json_object_set_new(obj, key, v);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *time_or_null(int64_t t)
{
	char s[32];

	if (t == META_TIME_UNKNOWN)
		return json_null();
	format_rfc3339(t, s);
	return json_string(s);
}

/* ---- who is asking ---- */

static void send_throttled(struct http_request *req, unsigned retry)
{
	struct http_response *res = response(429);
	char seconds[16];

	snprintf(seconds, sizeof(seconds), "%u", retry);
	http_response_header(res, "Retry-After", seconds);
	send_json_with(req, res,
		       json_pack("{s:s, s:s}", "error",
				 "too many failed logins; wait and try again",
				 "code", "TOOMANYREQUESTS"));
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
			send_error(c->req, 401, "UNAUTHORIZED",
				   "wrong user name or password");
		else if (v == ACCESS_THROTTLED)
			send_throttled(c->req, retry);
		else
			http_set_user(c->req, c->user);
		return v == ACCESS_OK || v == ACCESS_DENIED;
	}
	if (cookie)
		c->user = session_find(c->api->sessions, cookie, NULL);
	http_set_user(c->req, c->user);
	return true;
}

static bool may(const struct call *c, const char *repo,
		enum access_action action)
{
	return !access_enabled(c->access) ||
	       access_may(c->access, c->user, repo, action);
}

/* Whether the UI offers deleting at all (policy, not permissions). */
static bool delete_offered(const struct config *cfg)
{
	if (cfg->readonly || !cfg->delete_enabled)
		return false;
	return !cfg->ui_delete || strcmp(cfg->ui_delete, "false") != 0;
}

/* Answers 401 or 403 itself unless the user may pull from repo. */
static bool require_pull(const struct call *c, const char *repo)
{
	if (may(c, repo, ACCESS_PULL))
		return true;
	if (c->user)
		send_error(c->req, 403, "DENIED",
			   repo ? "you may not pull from this repository"
				: "you may not browse this registry");
	else
		send_error(c->req, 401, "UNAUTHORIZED",
			   "log in to see this registry");
	return false;
}

static json_t *permissions_json(const struct call *c, const char *repo)
{
	const struct config *cfg = c->api->cfg;
	json_t *p = json_object();

	put(p, "pull", json_boolean(may(c, repo, ACCESS_PULL)));
	put(p, "push",
	    json_boolean(!cfg->readonly && may(c, repo, ACCESS_PUSH)));
	put(p, "delete",
	    json_boolean(delete_offered(cfg) && may(c, repo, ACCESS_DELETE)));
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
		send_error(req, 400, "PAGINATION_NUMBER_INVALID", msg);
		return false;
	}
	*out = v > max ? max : (size_t)v;
	return true;
}

struct paging {
	size_t page; /* 1-based */
	size_t per_page;
};

static bool paging_params(struct http_request *req, struct paging *p)
{
	return number_param(req, "page", 1, SIZE_MAX / UIAPI_PAGE_MAX,
			    &p->page) &&
	       number_param(req, "per_page", UIAPI_PAGE_DEFAULT, UIAPI_PAGE_MAX,
			    &p->per_page);
}

static bool in_page(const struct paging *p, size_t i)
{
	return i >= (p->page - 1) * p->per_page && i < p->page * p->per_page;
}

/* A search term, lowercased; answers 400 itself when too long. */
static bool query_param(struct http_request *req, char *out, size_t len)
{
	const char *q = http_query(req, "q");
	size_t n = q ? strlen(q) : 0;

	if (n >= len) {
		send_error(req, 400, "NAME_INVALID", "search text too long");
		return false;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)q[i]);
	out[n] = '\0';
	return true;
}

static bool repo_param(struct http_request *req, const char **repo)
{
	*repo = http_query(req, "repo");
	if (*repo && ref_valid_name(*repo))
		return true;
	send_error(req, 400, "NAME_INVALID",
		   "repo must be a valid repository name");
	return false;
}

/* ---- info ---- */

/* Whether clients reach berth over https, as far as berth can tell. */
static bool reached_by_tls(const struct call *c)
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
		session_user = session_find(c->api->sessions, cookie, csrf);
	put(body, "title", json_string(ui_title(cfg)));
	put(body, "version", json_string(BERTH_VERSION));
	put(body, "auth", json_boolean(access_enabled(c->access)));
	put(body, "user", str_or_null(c->user));
	put(body, "csrf", str_or_null(session_user ? csrf : NULL));
	put(body, "pullHost", json_string(host));
	put(body, "tls", json_boolean(reached_by_tls(c)));
	put(body, "deleteEnabled", json_boolean(delete_offered(cfg)));
	put(body, "readOnly", json_boolean(cfg->readonly));
	put(body, "canBrowse", json_boolean(may(c, NULL, ACCESS_PULL)));
	put(body, "prefix",
	    json_string(cfg->http_prefix ? cfg->http_prefix : ""));
	OPENSSL_cleanse(csrf, sizeof(csrf));
	free(session_user);
	free(host);
	send_json(c->req, 200, body);
}

/* ---- catalog ---- */

/* "team" for "team/app/db"; "" for a name without a namespace. */
static json_t *namespace_json(const char *name)
{
	const char *slash = strchr(name, '/');

	return json_stringn(name, slash ? (size_t)(slash - name) : 0);
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

	put(r, "name", json_string(name));
	put(r, "namespace", namespace_json(name));
	put(r, "tags", json_integer((json_int_t)s.tags));
	put(r, "size", ready ? json_integer((json_int_t)s.size) : json_null());
	put(r, "lastPush",
	    time_or_null(ready ? s.last_push : META_TIME_UNKNOWN));
	put(r, "pending", json_boolean(!ready && s.tags));
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
		if (in_page(p, *total))
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

	if (!query_param(c->req, q, sizeof(q)) || !paging_params(c->req, &p) ||
	    !require_pull(c, NULL))
		return;

	list = catalog_rows(c, q, &p, &total);
	body = json_object();
	put(body, "total", json_integer((json_int_t)total));
	put(body, "page", json_integer((json_int_t)p.page));
	put(body, "perPage", json_integer((json_int_t)p.per_page));
	put(body, "query", json_string(q));
	put(body, "repositories", list);
	put(body, "permissions", permissions_json(c, NULL));
	send_json(c->req, 200, body);
}

/* ---- tags ---- */

enum tag_sort { SORT_NAME, SORT_VERSION, SORT_DATE };

/* A tag on its way into a page, with what it sorts by. */
struct item {
	const struct tag_row *row;
	const struct meta *m; /* NULL until needed, or unreadable */
	int64_t when;	      /* created, else pushed */
};

static bool skip_v(const char *s)
{
	return (s[0] == 'v' || s[0] == 'V') && isdigit((unsigned char)s[1]);
}

/* Compares digit runs as numbers; moves past them. */
static int number_cmp(const char **a, const char **b)
{
	const char *x = *a, *y = *b;
	size_t nx, ny;
	int c;

	while (*x == '0' && isdigit((unsigned char)x[1]))
		x++;
	while (*y == '0' && isdigit((unsigned char)y[1]))
		y++;
	for (nx = 0; isdigit((unsigned char)x[nx]); nx++)
		;
	for (ny = 0; isdigit((unsigned char)y[ny]); ny++)
		;
	c = nx != ny ? (nx < ny ? -1 : 1) : memcmp(x, y, nx);
	*a = x + nx;
	*b = y + ny;
	return c;
}

int uiapi_version_cmp(const char *a, const char *b)
{
	const char *x = a + skip_v(a), *y = b + skip_v(b);

	while (*x && *y) {
		int c;

		if (isdigit((unsigned char)*x) && isdigit((unsigned char)*y))
			c = number_cmp(&x, &y);
		else
			c = (unsigned char)*x++ - (unsigned char)*y++;
		if (c)
			return c < 0 ? -1 : 1;
	}
	/* "1.0-rc1" is before "1.0"; "1.0.1" after it. */
	if (*x != *y)
		return !*x ? (*y == '-' ? 1 : -1) : (*x == '-' ? -1 : 1);
	return strcmp(a, b);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->row->name,
		      ((const struct item *)b)->row->name);
}

static int by_version(const void *a, const void *b)
{
	return uiapi_version_cmp(((const struct item *)a)->row->name,
				 ((const struct item *)b)->row->name);
}

static int by_date(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->when != y->when)
		return x->when < y->when ? -1 : 1;
	return strcmp(x->row->name, y->row->name);
}

static bool sort_params(struct http_request *req, enum tag_sort *sort,
			bool *desc)
{
	const char *s = http_query(req, "sort");
	const char *o = http_query(req, "order");

	if (!s || !strcmp(s, "name"))
		*sort = SORT_NAME;
	else if (!strcmp(s, "version"))
		*sort = SORT_VERSION;
	else if (!strcmp(s, "date"))
		*sort = SORT_DATE;
	else
		goto bad;
	*desc = *sort != SORT_NAME;
	if (o && !strcmp(o, "asc"))
		*desc = false;
	else if (o && !strcmp(o, "desc"))
		*desc = true;
	else if (o)
		goto bad;
	return true;
bad:
	send_error(req, 400, "UNSUPPORTED",
		   "sort must be name, version or "
		   "date, and order asc or desc");
	return false;
}

static json_t *platforms_json(const struct meta *m)
{
	json_t *a = json_array();
	char ds[DIGEST_MAX_STR + 1];

	for (size_t i = 0; m && i < m->nplatforms; i++) {
		const struct meta_platform *p = &m->platforms[i];

		json_t *o = json_object();

		digest_format(&p->digest, ds);
		put(o, "os", json_string(p->os));
		put(o, "architecture", json_string(p->arch));
		put(o, "variant", json_string(p->variant));
		put(o, "size", json_integer((json_int_t)p->size));
		put(o, "digest", json_string(ds));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *tag_json(const struct item *it)
{
	const struct meta *m = it->m;
	const char *kind = NULL;
	char ds[DIGEST_MAX_STR + 1];
	json_t *t = json_object();

	if (m)
		kind = m->kind == META_INDEX ? "index" : "image";
	digest_format(&it->row->digest, ds);
	put(t, "name", json_string(it->row->name));
	put(t, "digest", json_string(ds));
	put(t, "kind", str_or_null(kind));
	put(t, "mediaType", str_or_null(m ? m->media_type : NULL));
	put(t, "artifactType", str_or_null(m ? m->artifact_type : NULL));
	put(t, "size", json_integer((json_int_t)(m ? m->size : 0)));
	put(t, "created", time_or_null(m ? m->created : META_TIME_UNKNOWN));
	put(t, "pushed", time_or_null(it->row->pushed));
	put(t, "platforms", platforms_json(m));
	return t;
}

/* Keeps the rows matching q and digest; fetches summaries if asked. */
static size_t filter_rows(struct call *c, const struct tag_table *t,
			  const char *q, const struct digest *digest,
			  bool with_meta, struct item *out)
{
	size_t n = 0;

	for (size_t i = 0; i < t->count; i++) {
		const struct tag_row *row = &t->rows[i];
		struct item *it = &out[n];

		if ((*q && !strcasestr(row->name, q)) ||
		    (digest && !digest_equal(digest, &row->digest)))
			continue;
		it->row = row;
		it->m = with_meta ? meta_get(c->api->metas, &row->digest)
				  : NULL;
		it->when = it->m && it->m->created != META_TIME_UNKNOWN
				   ? it->m->created
				   : row->pushed;
		n++;
	}
	return n;
}

static void sort_items(struct item *v, size_t n, enum tag_sort sort, bool desc)
{
	int (*cmp)(const void *, const void *) = sort == SORT_DATE ? by_date
						 : sort == SORT_VERSION
							 ? by_version
							 : by_name;

	if (sort != SORT_NAME && n > 1) /* rows come sorted by name */
		qsort(v, n, sizeof(*v), cmp);
	for (size_t i = 0; desc && i < n / 2; i++) {
		struct item tmp = v[i];

		v[i] = v[n - 1 - i];
		v[n - 1 - i] = tmp;
	}
}

/* The JSON of the page's items, fetching summaries still missing. */
static json_t *page_json(struct call *c, struct item *v, size_t n,
			 const struct paging *p)
{
	json_t *list = json_array();

	for (size_t i = 0; i < n; i++) {
		if (!in_page(p, i))
			continue;
		if (!v[i].m)
			v[i].m = meta_get(c->api->metas, &v[i].row->digest);
		json_array_append_new(list, tag_json(&v[i]));
	}
	return list;
}

static bool digest_param(struct http_request *req, struct digest *d,
			 bool *given)
{
	const char *s = http_query(req, "digest");

	*given = s && *s;
	if (!*given || !digest_parse(s, d))
		return true;
	send_error(req, 400, "DIGEST_INVALID", "digest is not a digest");
	return false;
}

static void send_tags(struct call *c, const char *repo,
		      const struct tag_table *t, const char *q,
		      const struct digest *digest, enum tag_sort sort,
		      bool desc, const struct paging *p)
{
	static const char *const sort_names[] = {"name", "version", "date"};
	struct item *v = xcalloc(t->count + 1, sizeof(*v));
	size_t n = filter_rows(c, t, q, digest, sort == SORT_DATE, v);
	json_t *list, *body = json_object();

	sort_items(v, n, sort, desc);
	list = page_json(c, v, n, p);
	for (size_t i = 0; i < n; i++)
		meta_release(c->api->metas, v[i].m);
	free(v);

	put(body, "repository", json_string(repo));
	put(body, "total", json_integer((json_int_t)n));
	put(body, "page", json_integer((json_int_t)p->page));
	put(body, "perPage", json_integer((json_int_t)p->per_page));
	put(body, "sort", json_string(sort_names[sort]));
	put(body, "order", json_string(desc ? "desc" : "asc"));
	put(body, "tags", list);
	put(body, "permissions", permissions_json(c, repo));
	send_json(c->req, 200, body);
}

/*
 * NEEDSWORK: right after start, sorting a big repository by date waits
 * until every image config has been read (about 0.6 s for 10,000 tags),
 * unless the background thread got there first; the catalog avoids such
 * waits by answering "pending", this page does not yet.
 */
static void get_tags(struct call *c)
{
	char q[UIAPI_QUERY_MAX + 1];
	const struct tag_table *t;
	struct paging p;
	enum tag_sort sort;
	struct digest d;
	const char *repo;
	bool desc, by_digest;

	if (!repo_param(c->req, &repo) || !query_param(c->req, q, sizeof(q)) ||
	    !paging_params(c->req, &p) || !sort_params(c->req, &sort, &desc) ||
	    !digest_param(c->req, &d, &by_digest) || !require_pull(c, repo))
		return;
	http_set_log_note(c->req, repo);

	t = tagcache_get(c->api->tags, repo);
	if (!t) {
		send_error(c->req, 404, "NAME_UNKNOWN",
			   "no repository of that name");
		return;
	}
	send_tags(c, repo, t, q, by_digest ? &d : NULL, sort, desc, &p);
	tagcache_release(c->api->tags, t);
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

	if (!repo_param(c->req, &repo))
		return;
	if (!ref || (!ref_valid_tag(ref) && digest_parse(ref, &d))) {
		send_error(c->req, 400, "MANIFEST_INVALID",
			   "ref must be a tag or a digest");
		return;
	}
	if (!require_pull(c, repo))
		return;
	http_set_log_note(c->req, repo);

	page = uiimage_build(c->api->reg, repo, ref, &e);
	if (!page) {
		send_reg_error(c->req, &e);
		return;
	}
	json_object_set_new(page, "tags",
			    tags_of(c, repo,
				    json_string_value(
					    json_object_get(page, "digest"))));
	json_object_set_new(page, "permissions", permissions_json(c, repo));
	send_json(c->req, 200, page);
}

/* ---- login and logout ---- */

/* The Set-Cookie value for token, or for clearing it when NULL. */
static char *cookie_value(const struct call *c, const char *token)
{
	const char *prefix = c->api->cfg->http_prefix;

	return xasprintf("%s=%s; Path=%s/; HttpOnly; SameSite=Strict%s%s",
			 SESSION_COOKIE, token ? token : "",
			 prefix ? prefix : "",
			 reached_by_tls(c) ? "; Secure" : "",
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
		send_error(req, 403, "DENIED", "cross-site request refused");
		return false;
	}
	if (!type || strncasecmp(type, "application/json", 16)) {
		send_error(req, 415, "UNSUPPORTED",
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

/* "Basic base64(user:password)", as access_check reads it. */
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

static void start_session(struct call *c, const char *user)
{
	char token[SESSION_TOKEN_HEX + 1], csrf[SESSION_TOKEN_HEX + 1];
	struct http_response *res;
	char *cookie;

	if (session_start(c->api->sessions, user, token, csrf)) {
		send_error(c->req, 500, "UNKNOWN", "cannot start a session");
		return;
	}
	res = response(200);
	cookie = cookie_value(c, token);
	http_response_header(res, "Set-Cookie", cookie);
	send_json_with(c->req, res,
		       json_pack("{s:s, s:s}", "user", user, "csrf", csrf));
	OPENSSL_cleanse(token, sizeof(token));
	OPENSSL_cleanse(csrf, sizeof(csrf));
	OPENSSL_cleanse(cookie, strlen(cookie));
	free(cookie);
}

static void check_login(struct call *c, const char *user, const char *pass)
{
	char *header = basic_header(user, pass), *name = NULL;
	unsigned retry = 0;
	enum access_verdict v;

	v = access_check(c->access, header, http_client_addr(c->req), NULL,
			 ACCESS_PULL, &name, &retry);
	OPENSSL_cleanse(header, strlen(header));
	free(header);

	if (v == ACCESS_THROTTLED)
		send_throttled(c->req, retry);
	else if (!name)
		send_error(c->req, 401, "UNAUTHORIZED",
			   "wrong user name or password");
	else
		start_session(c, name);
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
		send_error(req, 400, "UNSUPPORTED",
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

static void post_login(struct call *c)
{
	struct login *l;

	if (!access_enabled(c->access)) {
		send_error(c->req, 400, "UNSUPPORTED",
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

static void post_logout(struct call *c)
{
	const char *cookie = http_header(c->req, "Cookie");
	struct http_response *res;
	bool csrf_ok = true;
	char *user = NULL, *clear;

	if (cookie)
		user = session_user(c->api->sessions, cookie, "POST",
				    http_header(c->req, SESSION_CSRF_HEADER),
				    &csrf_ok);
	if (!csrf_ok) {
		send_error(c->req, 403, "DENIED",
			   "the X-CSRF-Token header is missing or wrong");
		return;
	}
	if (user)
		session_end(c->api->sessions, cookie);
	free(user);

	res = response(204);
	clear = cookie_value(c, NULL);
	http_response_header(res, "Set-Cookie", clear);
	free(clear);
	http_send(c->req, res);
}

/* ---- routing ---- */

static const struct {
	const char *path;
	const char *method;
	void (*fn)(struct call *c);
} routes[] = {
	{"/info", "GET", get_info},
	{"/repositories", "GET", get_repositories},
	{"/tags", "GET", get_tags},
	{"/image", "GET", get_image},
	{"/login", "POST", post_login},
	{"/logout", "POST", post_logout},
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
			send_error(req, 405, "UNSUPPORTED",
				   "method not allowed on this endpoint");
			return;
		}
		if (routes[i].fn != post_login && !identify(&c))
			return;
		routes[i].fn(&c);
		free(c.user);
		return;
	}
	send_error(req, 404, "NOT_FOUND", "no such endpoint in the UI API");
}
