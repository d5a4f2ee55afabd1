/*
 * api.c - routing and the HTTP side of the OCI Distribution API.
 *
 * A request passes these steps in order: the path is split into a route
 * (repository name plus what is asked of it), inputs are checked against
 * the spec's grammar, policies (delete enabled, read-only) are applied,
 * and then one handler per route and method talks to the registry.
 * Handlers that take a body (manifest PUT, blob uploads) stream it
 * through http_read_body callbacks.
 */
#include "api.h"
#include "session.h"
#include "ui.h"
#include "access.h"
#include "config.h"
#include "cors.h"
#include "health.h"
#include "metrics.h"
#include "notify.h"
#include "http.h"
#include "lifecycle.h"
#include "log.h"
#include "manifest.h"
#include "proxy.h"
#include "ratelimit.h"
#include "ref.h"
#include "registry.h"
#include "store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CATALOG_DEFAULT_PAGE 1000
#define PAGE_MAX 10000

struct api {
	const struct config *cfg;
	struct registry *reg;
	struct access *access;
	struct cors *cors;
	struct ui *ui;
	struct sessions *sessions;
	struct ratelimit *ratelimit; /* NULL: no limit */
	struct notify *notify;
	struct health *health;
	struct lifecycle *lc; /* NULL: no /admin/ endpoints */
};

static void emit(struct api *api, struct http_request *req,
		 enum notify_action a, const struct notify_target *t)
{
	struct notify_request nr;

	notify_request_init(&nr, req, http_user(req));
	notify_event(api->notify, a, t, &nr);
}

static const char *tag_of(const char *reference)
{
	return ref_valid_tag(reference) ? reference : NULL;
}

enum route_kind {
	ROUTE_NONE,
	ROUTE_BASE,
	ROUTE_CATALOG,
	ROUTE_TAGS,
	ROUTE_MANIFEST,
	ROUTE_BLOB,
	ROUTE_UPLOADS, /* .../blobs/uploads/ : start a session */
	ROUTE_UPLOAD,  /* .../blobs/uploads/<id> */
	ROUTE_REFERRERS,
};

struct route {
	enum route_kind kind;
	bool name_too_long;
	char name[REF_NAME_MAX + 1];
	char arg[DIGEST_MAX_STR + 1]; /* reference, digest or upload id */
};

/* The rules in force; a reload may swap them while requests run. */
static struct access *access_of(struct api *api)
{
	return __atomic_load_n(&api->access, __ATOMIC_ACQUIRE);
}

/* ---- responses ---- */

static struct http_response *response(int status)
{
	struct http_response *res = http_response_new(status);

	http_response_header(res, "Docker-Distribution-API-Version",
			     "registry/2.0");
	return res;
}

/*
 * Length of the valid UTF-8 sequence at s, or 0 if it is not one: no
 * overlong forms, no surrogates, nothing past U+10FFFF.
 */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;

	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/*
 * Returns how many bytes from s on are printable ASCII that JSON takes
 * as they are, so they can be copied in one piece: a listing's names are
 * all such bytes, and copying them one by one was most of its cost.
 */
static size_t json_plain_run(const unsigned char *s)
{
	size_t n = 0;

	while (s[n] >= 0x20 && s[n] < 0x80 && s[n] != '"' && s[n] != '\\')
		n++;
	return n;
}

/*
 * Writes the character at *p (a byte, or one UTF-8 sequence) escaped as
 * JSON needs at out, and moves *p past it.  Returns the bytes written,
 * at most six.
 */
static size_t json_escape_one(char *out, const unsigned char **p)
{
	static const char hex[] = "0123456789abcdef";
	/* Arrays, not strings: the escapes are copied without a NUL. */
	static const char replacement[6] = {'\\', 'u', 'f', 'f', 'f', 'd'};
	static const char control[4] = {'\\', 'u', '0', '0'};
	const unsigned char *c = *p;
	size_t n = *c < 0x80 ? 1 : utf8_len(c);

	if (n == 0) {
		memcpy(out, replacement, sizeof(replacement));
		*p = c + 1;
		return 6;
	}
	*p = c + n;
	if (*c == '"' || *c == '\\') {
		out[0] = '\\';
		out[1] = (char)*c;
		return 2;
	}
	if (*c < 0x20) {
		memcpy(out, control, sizeof(control));
		out[4] = hex[*c >> 4];
		out[5] = hex[*c & 0xf];
		return 6;
	}
	memcpy(out, c, n);
	return n;
}

/*
 * Appends s as a JSON string.  Error messages repeat what the client
 * sent, which may be any bytes: a byte that is not valid UTF-8 becomes
 * U+FFFD, so the body is always valid JSON.  The buffer grows once per
 * string, for the worst case, since a listing writes thousands.
 */
static void add_json_string(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out;

	buf_grow(b, 6 * strlen(s) + 2);
	out = b->data + b->len;
	*out++ = '"';
	while (*p) {
		size_t n = json_plain_run(p);

		memcpy(out, p, n);
		out += n;
		p += n;
		if (*p)
			out += json_escape_one(out, &p);
	}
	*out++ = '"';
	*out = '\0';
	b->len = (size_t)(out - b->data);
}

/* Sends res, prepared with its status and headers, with an error body. */
static void send_error_with(struct http_request *req, struct http_response *res,
			    const char *code, const char *message)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, "{\"errors\":[{\"code\":");
	add_json_string(&b, code);
	buf_adds(&b, ",\"message\":");
	add_json_string(&b, message);
	buf_adds(&b, "}]}");
	http_response_body(res, "application/json; charset=utf-8", b.data,
			   b.len);
	buf_free(&b);
	http_send(req, res);
}

static void send_error(struct http_request *req, int status, const char *code,
		       const char *message)
{
	send_error_with(req, response(status), code, message);
}

static void send_reg_error(struct http_request *req, const struct reg_error *e)
{
	send_error(req, reg_code_status(e->code), reg_code_name(e->code),
		   e->message);
}

static void send_json(struct http_request *req, struct http_response *res,
		      const char *type, const char *text)
{
	http_response_body(res, type, text, strlen(text));
	http_send(req, res);
}

/*
 * Builds the Location of path (which starts "/v2/"): under http.prefix,
 * and absolute, from http.host or the request's Host, unless relative
 * URLs are asked for.
 */
static char *location(struct api *api, struct http_request *req,
		      const char *path)
{
	const char *host = http_header(req, "Host");
	const char *scheme = http_is_tls(req) ? "https" : "http";
	const char *base = api->cfg->http_host;
	const char *prefix = api->cfg->http_prefix ? api->cfg->http_prefix : "";

	if (base && *base)
		return xasprintf("%s%s%s", base, prefix, path);
	if (proxy_trusted(api->cfg->http_trusted_proxies,
			  http_peer_addr(req))) {
		const char *fproto = http_header(req, "X-Forwarded-Proto");
		const char *fhost = http_header(req, "X-Forwarded-Host");

		if (fproto &&
		    (!strcmp(fproto, "https") || !strcmp(fproto, "http")))
			scheme = fproto;
		if (fhost && *fhost && !strpbrk(fhost, " ,/\\\r\n"))
			host = fhost;
	}
	if (api->cfg->http_relativeurls || !host)
		return xasprintf("%s%s", prefix, path);
	return xasprintf("%s://%s%s%s", scheme, host, prefix, path);
}

static void add_location(struct api *api, struct http_request *req,
			 struct http_response *res, const char *path)
{
	char *url = location(api, req, path);

	http_response_header(res, "Location", url);
	free(url);
}

/* ---- routing ---- */

static bool copy_name(struct route *r, const char *s, size_t n)
{
	if (n == 0)
		return false;
	if (n > REF_NAME_MAX) {
		r->name_too_long = true;
		return true;
	}
	memcpy(r->name, s, n);
	r->name[n] = '\0';
	return true;
}

static bool copy_arg(struct route *r, const char *s)
{
	if (strlen(s) > DIGEST_MAX_STR)
		return false;
	strcpy(r->arg, s);
	return true;
}

/* Matches "<name>/<word>/<arg>" from the right; returns name's length. */
static bool split_tail(const char *rest, const char *word, const char **arg,
		       size_t *name_len)
{
	const char *slash = strrchr(rest, '/');
	size_t wl = strlen(word);

	if (!slash || (size_t)(slash - rest) < wl + 2)
		return false;
	if (memcmp(slash - wl, word, wl) != 0 || slash[-wl - 1] != '/')
		return false;
	*arg = slash + 1;
	*name_len = (size_t)(slash - rest) - wl - 1;
	return true;
}

/*
 * Splits a request path into a route.  Repository names contain
 * slashes, so the fixed words are matched from the right.  Returns false
 * when the path names no route, or a name or argument is too long.
 */
static bool route_parse(const char *path, struct route *r)
{
	const char *rest, *arg;
	size_t n, len;

	memset(r, 0, sizeof(*r));
	if (strcmp(path, "/v2") == 0 || strcmp(path, "/v2/") == 0) {
		r->kind = ROUTE_BASE;
		return true;
	}
	if (strncmp(path, "/v2/", 4) != 0)
		return false;
	rest = path + 4;
	len = strlen(rest);

	if (strcmp(rest, "_catalog") == 0) {
		r->kind = ROUTE_CATALOG;
		return true;
	}
	if (len > 10 && strcmp(rest + len - 10, "/tags/list") == 0) {
		r->kind = ROUTE_TAGS;
		return copy_name(r, rest, len - 10);
	}
	if (split_tail(rest, "uploads", &arg, &n) && n > 6 &&
	    memcmp(rest + n - 6, "/blobs", 6) == 0) {
		r->kind = *arg ? ROUTE_UPLOAD : ROUTE_UPLOADS;
		return copy_name(r, rest, n - 6) && copy_arg(r, arg);
	}
	if (split_tail(rest, "blobs", &arg, &n)) {
		r->kind = strcmp(arg, "uploads") ? ROUTE_BLOB : ROUTE_UPLOADS;
		return copy_name(r, rest, n) &&
		       copy_arg(r, r->kind == ROUTE_BLOB ? arg : "");
	}
	if (split_tail(rest, "manifests", &arg, &n)) {
		r->kind = ROUTE_MANIFEST;
		return copy_name(r, rest, n) && copy_arg(r, arg);
	}
	if (split_tail(rest, "referrers", &arg, &n)) {
		r->kind = ROUTE_REFERRERS;
		return copy_name(r, rest, n) && copy_arg(r, arg);
	}
	return false;
}

/* Parses a digest from the client, answering the error itself. */
static bool parse_digest(struct http_request *req, const char *s,
			 struct digest *d)
{
	switch (digest_parse(s, d)) {
	case 0:
		return true;
	case -2:
		send_error(req, 400, "DIGEST_INVALID",
			   "digest algorithm not supported (use sha256 or "
			   "sha512)");
		return false;
	default:
		send_error(req, 400, "DIGEST_INVALID", "invalid digest");
		return false;
	}
}

/* ---- listings ---- */

/*
 * Reads the n and last parameters.  n absent means deflt; n = 0 is an
 * empty page.  Answers 400 itself for a malformed n.
 */
static bool page_params(struct http_request *req, size_t deflt, size_t *n,
			const char **last, bool *empty)
{
	const char *s = http_query(req, "n");
	uint64_t v;

	*last = http_query(req, "last");
	*empty = false;
	*n = deflt;
	if (!s)
		return true;
	if (ref_parse_u64(s, &v) != 0) {
		send_error(req, 400, "PAGINATION_NUMBER_INVALID",
			   "n must be a non-negative integer");
		return false;
	}
	*empty = v == 0;
	*n = v > PAGE_MAX ? PAGE_MAX : (size_t)v;
	return true;
}

static void add_link(struct http_response *res, const char *prefix,
		     const char *path, const struct index_page *page, size_t n)
{
	char *link;

	if (!page->more || page->count == 0)
		return;
	link = xasprintf("<%s%s?last=%s&n=%zu>; rel=\"next\"", prefix, path,
			 page->names[page->count - 1], n);
	http_response_header(res, "Link", link);
	free(link);
}

/*
 * Sends {"<key>": [names], ...} for a page of a listing, written straight
 * into one buffer: a 10,000-tag list is one copy of the names rather
 * than a tree of JSON values built and torn down per request.
 * name_field, when not NULL, comes first as {"name": name_field}.
 */
static void send_listing(struct api *api, struct http_request *req,
			 const char *name_field, const char *key,
			 const char *path, const struct index_page *page,
			 size_t n)
{
	struct http_response *res = response(200);
	struct buf b = BUF_INIT;

	buf_grow(&b, 64 + page->count * 24);
	buf_add(&b, "{", 1);
	if (name_field) {
		buf_adds(&b, "\"name\":");
		add_json_string(&b, name_field);
		buf_add(&b, ",", 1);
	}
	add_json_string(&b, key);
	buf_add(&b, ":[", 2);
	for (size_t i = 0; i < page->count; i++) {
		if (i)
			buf_add(&b, ",", 1);
		add_json_string(&b, page->names[i]);
	}
	buf_adds(&b, "]}");

	add_link(res, api->cfg->http_prefix ? api->cfg->http_prefix : "", path,
		 page, n);
	http_response_body(res, "application/json; charset=utf-8", b.data,
			   b.len);
	http_send(req, res);
	buf_free(&b);
}

/*
 * Fills page with up to n repositories after last that user may pull.
 * The index is read a page at a time, so a user who may see little of a
 * large registry costs more than one page; the names stay in order.
 */
static void visible_catalog(struct api *api, const char *user, const char *last,
			    size_t n, struct index_page *page)
{
	struct index_page p;
	char *cursor = last ? xstrdup(last) : NULL;

	memset(page, 0, sizeof(*page));
	page->names = xcalloc(n + 1, sizeof(char *));
	for (;;) {
		size_t i;

		registry_catalog(api->reg, cursor, n, &p);
		for (i = 0; i < p.count && page->count < n; i++)
			if (access_may(access_of(api), user, p.names[i],
				       ACCESS_PULL))
				page->names[page->count++] =
					xstrdup(p.names[i]);
		free(cursor);
		cursor = p.count ? xstrdup(p.names[p.count - 1]) : NULL;
		page->more = i < p.count || p.more;
		if (page->count == n || !p.more) {
			index_page_free(&p);
			break;
		}
		index_page_free(&p);
	}
	free(cursor);
}

static void get_catalog(struct api *api, struct http_request *req)
{
	struct index_page page = {0};
	const char *last;
	bool empty;
	size_t n;

	if (!page_params(req, CATALOG_DEFAULT_PAGE, &n, &last, &empty))
		return;
	if (!empty && access_enabled(access_of(api)))
		visible_catalog(api, http_user(req), last, n, &page);
	else if (!empty)
		registry_catalog(api->reg, last, n, &page);
	send_listing(api, req, NULL, "repositories", "/v2/_catalog", &page, n);
	index_page_free(&page);
}

static void get_tags(struct api *api, struct http_request *req,
		     const struct route *r)
{
	struct index_page page = {0};
	struct reg_error e;
	const char *last;
	char *path;
	bool empty;
	size_t n;

	if (!page_params(req, 0, &n, &last, &empty))
		return;
	if (registry_tags(api->reg, r->name, last, empty ? 1 : n, &page, &e)) {
		send_reg_error(req, &e);
		return;
	}
	if (empty) {
		index_page_free(&page);
		memset(&page, 0, sizeof(page));
	}

	path = xasprintf("/v2/%s/tags/list", r->name);
	send_listing(api, req, r->name, "tags", path, &page, n);
	free(path);
	index_page_free(&page);
}

static void get_referrers(struct api *api, struct http_request *req,
			  const struct route *r)
{
	const char *type = http_query(req, "artifactType");
	struct buf json = BUF_INIT;
	struct http_response *res;
	struct reg_error e;
	struct digest d;

	if (!parse_digest(req, r->arg, &d))
		return;
	if (registry_referrers(api->reg, r->name, &d, type, &json, &e)) {
		send_reg_error(req, &e);
		buf_free(&json);
		return;
	}

	res = response(200);
	if (type)
		http_response_header(res, "OCI-Filters-Applied",
				     "artifactType");
	send_json(req, res, MT_OCI_INDEX, json.data);
	buf_free(&json);
}

/* ---- manifests ---- */

/*
 * True unless the client's Accept header names manifest types and none
 * of them (nor a wildcard) is type.  Clients that send no Accept, or
 * only unrelated types, get the manifest as stored.
 */
static bool accepts(const char *accept, const char *type)
{
	bool names_manifests = false;
	const char *p = accept;

	if (!accept)
		return true;
	while (*p) {
		size_t n;

		p += strspn(p, " \t,");
		n = strcspn(p, ",;");
		if ((n == strlen(type) && memcmp(p, type, n) == 0) ||
		    (n == 3 && memcmp(p, "*/*", 3) == 0))
			return true;
		if (n && memchr(p, '+', n) && memmem(p, n, "manifest", 8))
			names_manifests = true;
		p += n;
		p += strcspn(p, ",");
	}
	return !names_manifests;
}

static void get_manifest(struct api *api, struct http_request *req,
			 const struct route *r)
{
	struct reg_manifest m;
	struct http_response *res;
	struct reg_error e;
	struct buf accept = BUF_INIT;
	char d[DIGEST_MAX_STR + 1];
	char *etag;
	bool ok;

	if (registry_manifest_get(api->reg, r->name, r->arg, &m, &e)) {
		send_reg_error(req, &e);
		return;
	}
	ok = accepts(http_header_all(req, "Accept", &accept), m.media_type);
	buf_free(&accept);
	if (!ok) {
		send_error(req, 404, "MANIFEST_UNKNOWN",
			   "the manifest's media type is not in Accept");
		reg_manifest_free(&m);
		return;
	}

	digest_format(&m.digest, d);
	if (!strcmp(http_method(req), "GET")) {
		struct notify_target t = {
			.repository = r->name,
			.digest = d,
			.media_type = m.media_type,
			.size = m.len,
			.tag = tag_of(r->arg),
			.is_manifest = true,
		};

		emit(api, req, NOTIFY_PULL, &t);
	}
	http_set_log_target(req, NULL, d);
	etag = xasprintf("\"%s\"", d);
	res = response(200);
	http_response_header(res, "Docker-Content-Digest", d);
	http_response_header(res, "ETag", etag);
	http_response_body(res, m.media_type, m.data, m.len);
	http_send(req, res);
	free(etag);
	reg_manifest_free(&m);
}

struct manifest_put {
	struct api *api;
	struct route route;
	struct buf body;
	bool too_large;
};

static int on_manifest_body(void *ctx, const char *data, size_t len)
{
	struct manifest_put *mp = ctx;

	if (mp->body.len + len > MANIFEST_MAX_BYTES) {
		mp->too_large = true;
		return -1;
	}
	buf_add(&mp->body, data, len);
	return 0;
}

static void on_manifest_end(void *ctx, struct http_request *req)
{
	struct manifest_put *mp = ctx;
	struct reg_put_result out;
	struct http_response *res;
	struct reg_error e;
	char d[DIGEST_MAX_STR + 1];
	char *path;

	if (mp->too_large) {
		send_error(req, 413, "MANIFEST_INVALID",
			   "manifest is larger than 4 MiB");
		return;
	}
	if (registry_manifest_put(mp->api->reg, mp->route.name, mp->route.arg,
				  mp->body.data ? mp->body.data : "",
				  mp->body.len,
				  http_header(req, "Content-Type"), &out, &e)) {
		send_reg_error(req, &e);
		return;
	}

	res = response(201);
	digest_format(&out.digest, d);
	{
		struct notify_target t = {
			.repository = mp->route.name,
			.digest = d,
			.media_type = http_header(req, "Content-Type"),
			.size = mp->body.len,
			.tag = tag_of(mp->route.arg),
			.is_manifest = true,
		};

		emit(mp->api, req, NOTIFY_PUSH, &t);
	}
	http_set_log_target(req, NULL, d);
	path = xasprintf("/v2/%s/manifests/%s", mp->route.name, d);
	add_location(mp->api, req, res, path);
	http_response_header(res, "Docker-Content-Digest", d);
	if (out.has_subject) {
		digest_format(&out.subject, d);
		http_response_header(res, "OCI-Subject", d);
	}
	http_send(req, res);
	free(path);
}

static void free_manifest_put(void *ctx)
{
	struct manifest_put *mp = ctx;

	buf_free(&mp->body);
	free(mp);
}

static void put_manifest(struct api *api, struct http_request *req,
			 const struct route *r)
{
	struct manifest_put *mp;

	if (http_content_length(req) > MANIFEST_MAX_BYTES) {
		send_error(req, 413, "MANIFEST_INVALID",
			   "manifest is larger than 4 MiB");
		return;
	}
	mp = xcalloc(1, sizeof(*mp));
	mp->api = api;
	mp->route = *r;
	http_read_body(req, on_manifest_body, on_manifest_end,
		       free_manifest_put, mp);
}

static void delete_manifest(struct api *api, struct http_request *req,
			    const struct route *r)
{
	struct reg_error e;

	struct notify_target t = {
		.repository = r->name,
		.is_manifest = true,
		.digest = tag_of(r->arg) ? NULL : r->arg,
		.tag = tag_of(r->arg),
	};

	if (registry_manifest_delete(api->reg, r->name, r->arg, &e)) {
		send_reg_error(req, &e);
		return;
	}
	emit(api, req, NOTIFY_DELETE, &t);
	http_send(req, response(202));
}

/* ---- blobs ---- */

static void emit_blob_pull(struct api *api, struct http_request *req,
			   const char *repo, const char *digest, uint64_t size)
{
	struct notify_target t = {
		.repository = repo,
		.digest = digest,
		.media_type = "application/octet-stream",
		.size = size,
	};

	emit(api, req, NOTIFY_PULL, &t);
}

/*
 * Answers a blob GET with a 307 to the store's presigned URL, as
 * registry:2 does, so the bytes (and any Range) are served by the store.
 * HEAD is answered here: it is cheap and carries no bytes.  The pull
 * counts as one, with its event.  Returns false when berth must serve
 * the blob itself.
 */
static bool redirect_blob(struct api *api, struct http_request *req,
			  const struct route *r, const struct digest *d,
			  uint64_t size)
{
	struct http_response *res;
	char ds[DIGEST_MAX_STR + 1];
	char *url;

	if (strcmp(http_method(req), "GET") ||
	    registry_blob_url(api->reg, d, &url))
		return false;

	digest_format(d, ds);
	emit_blob_pull(api, req, r->name, ds, size);
	res = response(307);
	http_response_header(res, "Location", url);
	http_response_header(res, "Docker-Content-Digest", ds);
	http_send(req, res);
	free(url);
	return true;
}

static void get_blob(struct api *api, struct http_request *req,
		     const struct route *r)
{
	const char *range = http_header(req, "Range");
	struct store_reader *rd;
	struct http_response *res;
	struct reg_error e;
	struct digest d;
	uint64_t size, first = 0, last = 0;
	char ds[DIGEST_MAX_STR + 1], cr[DIGEST_MAX_STR + 8];
	int rc = -1;

	if (!parse_digest(req, r->arg, &d))
		return;
	if (registry_blob_stat(api->reg, r->name, &d, &size, &e)) {
		send_reg_error(req, &e);
		return;
	}
	if (redirect_blob(api, req, r, &d, size))
		return;
	if (range)
		rc = ref_parse_range(range, size, &first, &last);
	if (rc == 1) {
		res = response(416);
		snprintf(cr, sizeof(cr), "bytes */%llu",
			 (unsigned long long)size);
		http_response_header(res, "Content-Range", cr);
		snprintf(ds, sizeof(ds),
			 "range not satisfiable: the blob has "
			 "%llu bytes",
			 (unsigned long long)size);
		send_error_with(req, res, "SIZE_INVALID", ds);
		return;
	}
	if (rc != 0) {
		first = 0;
		last = size ? size - 1 : 0;
	}

	if (registry_blob_open(api->reg, r->name, &d, first, &rd, &e)) {
		send_reg_error(req, &e);
		return;
	}
	res = response(rc == 0 ? 206 : 200);
	digest_format(&d, ds);
	if (!strcmp(http_method(req), "GET"))
		emit_blob_pull(api, req, r->name, ds, size);
	http_response_header(res, "Docker-Content-Digest", ds);
	http_response_header(res, "Accept-Ranges", "bytes");
	http_response_header(res, "Cache-Control", "max-age=31536000");
	snprintf(cr, sizeof(cr), "\"%s\"", ds);
	http_response_header(res, "ETag", cr);
	if (rc == 0) {
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu",
			 (unsigned long long)first, (unsigned long long)last,
			 (unsigned long long)size);
		http_response_header(res, "Content-Range", cr);
	}
	http_response_reader(res, "application/octet-stream", rd, first,
			     size ? last - first + 1 : 0);
	http_send(req, res);
}

static void delete_blob(struct api *api, struct http_request *req,
			const struct route *r)
{
	struct reg_error e;
	struct digest d;

	if (!parse_digest(req, r->arg, &d))
		return;
	if (registry_blob_delete(api->reg, r->name, &d, &e)) {
		send_reg_error(req, &e);
		return;
	}
	{
		struct notify_target t = {.repository = r->name,
					  .digest = r->arg};

		emit(api, req, NOTIFY_DELETE, &t);
	}
	http_send(req, response(202));
}

/* ---- uploads ---- */

/* Headers every answer about an open session carries. */
static void session_headers(struct api *api, struct http_request *req,
			    struct http_response *res, const char *repo,
			    const char *id, uint64_t offset)
{
	char *path = xasprintf("/v2/%s/blobs/uploads/%s", repo, id);
	char range[48];

	snprintf(range, sizeof(range), "0-%llu",
		 (unsigned long long)(offset ? offset - 1 : 0));
	add_location(api, req, res, path);
	http_response_header(res, "Range", range);
	http_response_header(res, "Docker-Upload-UUID", id);
	free(path);
}

static void send_blob_created(struct api *api, struct http_request *req,
			      const char *repo, const struct digest *d)
{
	struct http_response *res = response(201);
	char ds[DIGEST_MAX_STR + 1];
	char *path;

	digest_format(d, ds);
	path = xasprintf("/v2/%s/blobs/%s", repo, ds);
	add_location(api, req, res, path);
	http_response_header(res, "Docker-Content-Digest", ds);
	http_send(req, res);
	free(path);
}

/* One request's part in an upload: a chunk, or the last bytes. */
struct upload_req {
	struct api *api;
	char repo[REF_NAME_MAX + 1];
	char id[UPLOAD_ID_LEN + 1];
	struct upload *up;
	bool commit; /* PUT or monolithic POST: finish the blob */
	struct digest expected;
	bool failed;
	bool counted;
	bool own_session; /* this request opened the session */
	struct reg_error e;
};

/*
 * After a failed upload request, drops the session when nothing could
 * resume it: one this request opened itself (a monolithic POST), or any
 * session once the store is full, whose bytes are better given back.
 */
static void drop_failed_session(struct upload_req *ur)
{
	struct reg_error ignored;

	if (ur->own_session || ur->e.code == REG_STORAGE_FULL)
		upload_cancel(ur->api->reg, ur->repo, ur->id, &ignored);
}

static int on_upload_body(void *ctx, const char *data, size_t len)
{
	struct upload_req *ur = ctx;

	if (upload_write(ur->up, data, len, &ur->e)) {
		ur->failed = true;
		return -1;
	}
	return 0;
}

static void on_upload_end(void *ctx, struct http_request *req)
{
	struct upload_req *ur = ctx;
	struct upload *up = ur->up;
	struct http_response *res;
	uint64_t offset;

	ur->up = NULL;
	if (ur->failed) {
		upload_abandon(up);
		drop_failed_session(ur);
		send_reg_error(req, &ur->e);
		return;
	}
	if (ur->commit) {
		uint64_t size = upload_offset(up);
		char ds[DIGEST_MAX_STR + 1];
		struct notify_target t = {
			.repository = ur->repo,
			.digest = ds,
			.media_type = "application/octet-stream",
			.size = size,
		};

		digest_format(&ur->expected, ds);
		if (upload_commit(up, &ur->expected, &ur->e)) {
			drop_failed_session(ur);
			send_reg_error(req, &ur->e);
		} else {
			emit(ur->api, req, NOTIFY_PUSH, &t);
			http_set_log_target(req, NULL, ds);
			send_blob_created(ur->api, req, ur->repo,
					  &ur->expected);
		}
		return;
	}

	offset = upload_offset(up);
	if (upload_close(up, &ur->e)) {
		drop_failed_session(ur);
		send_reg_error(req, &ur->e);
		return;
	}
	res = response(202);
	session_headers(ur->api, req, res, ur->repo, ur->id, offset);
	http_send(req, res);
}

static void free_upload_req(void *ctx)
{
	struct upload_req *ur = ctx;

	/* The client went away mid-body: keep what arrived, resumable,
	 * unless no one else knows the session exists. */
	if (ur->up) {
		upload_abandon(ur->up);
		if (ur->own_session)
			drop_failed_session(ur);
	}
	if (ur->counted)
		metrics_upload_end();
	free(ur);
}

/* Checks a chunk's Content-Range against the session's offset. */
static bool range_in_order(struct api *api, struct http_request *req,
			   struct upload_req *ur)
{
	const char *cr = http_header(req, "Content-Range");
	uint64_t first, last, offset = upload_offset(ur->up);
	int64_t length = http_content_length(req);
	struct http_response *res;

	if (!cr)
		return true;
	if (ref_parse_content_range(cr, &first, &last) == 0 &&
	    first == offset) {
		if (length < 0 || (uint64_t)length == last - first + 1)
			return true;
		send_error(req, 400, "BLOB_UPLOAD_INVALID",
			   "Content-Range and Content-Length disagree");
		return false;
	}

	res = response(416);
	session_headers(api, req, res, ur->repo, ur->id, offset);
	send_error_with(req, res, "BLOB_UPLOAD_INVALID",
			"chunk is out of order: Range says where the next "
			"one starts");
	return false;
}

/* Opens the session and streams this request's body into it. */
static void receive_chunk(struct api *api, struct http_request *req,
			  const char *repo, const char *id, bool commit,
			  const struct digest *expected, bool own_session)
{
	struct upload_req *ur = xcalloc(1, sizeof(*ur));

	ur->api = api;
	strcpy(ur->repo, repo);
	strcpy(ur->id, id);
	ur->commit = commit;
	ur->own_session = own_session;
	if (expected)
		ur->expected = *expected;
	if (upload_open(api->reg, repo, id, &ur->up, &ur->e)) {
		drop_failed_session(ur);
		send_reg_error(req, &ur->e);
		free(ur);
		return;
	}
	if (!range_in_order(api, req, ur)) {
		free_upload_req(ur);
		return;
	}
	ur->counted = true;
	metrics_upload_begin();
	http_read_body(req, on_upload_body, on_upload_end, free_upload_req, ur);
}

static bool try_mount(struct api *api, struct http_request *req,
		      const struct route *r)
{
	const char *mount = http_query(req, "mount");
	const char *from = http_query(req, "from");
	struct reg_error e;
	struct digest d;

	if (!mount || !from)
		return false;
	if (!ref_valid_name(from)) {
		send_error(req, 400, "NAME_INVALID", "invalid from repository");
		return true;
	}
	if (!parse_digest(req, mount, &d))
		return true;
	/* Mounting reads the source: without pull there, upload instead. */
	if (!access_may(access_of(api), http_user(req), from, ACCESS_PULL))
		return false;
	if (registry_blob_mount(api->reg, r->name, from, &d, &e)) {
		if (e.code != REG_BLOB_UNKNOWN) {
			send_reg_error(req, &e);
			return true;
		}
		return false; /* not readable there: open a session instead */
	}
	{
		char ds[DIGEST_MAX_STR + 1];
		uint64_t size = 0;
		struct notify_target t = {
			.repository = r->name,
			.digest = ds,
			.media_type = "application/octet-stream",
			.from_repository = from,
		};

		digest_format(&d, ds);
		if (!registry_blob_stat(api->reg, r->name, &d, &size, &e))
			t.size = size;
		emit(api, req, NOTIFY_MOUNT, &t);
	}
	send_blob_created(api, req, r->name, &d);
	return true;
}

static void post_upload(struct api *api, struct http_request *req,
			const struct route *r)
{
	const char *digest = http_query(req, "digest");
	char id[UPLOAD_ID_LEN + 1];
	struct http_response *res;
	struct reg_error e;
	struct digest d;

	if (try_mount(api, req, r))
		return;
	if (digest && !parse_digest(req, digest, &d))
		return;
	if (upload_start(api->reg, r->name, id, &e)) {
		send_reg_error(req, &e);
		return;
	}
	if (digest) {
		receive_chunk(api, req, r->name, id, true, &d, true);
		return;
	}

	res = response(202);
	session_headers(api, req, res, r->name, id, 0);
	http_send(req, res);
}

static void upload_status_of(struct api *api, struct http_request *req,
			     const struct route *r)
{
	struct http_response *res;
	struct reg_error e;
	uint64_t size;

	if (upload_status(api->reg, r->name, r->arg, &size, &e)) {
		send_reg_error(req, &e);
		return;
	}
	res = response(204);
	session_headers(api, req, res, r->name, r->arg, size);
	http_send(req, res);
}

static void put_upload(struct api *api, struct http_request *req,
		       const struct route *r)
{
	const char *digest = http_query(req, "digest");
	struct digest d;

	if (!digest) {
		send_error(req, 400, "DIGEST_INVALID",
			   "the digest parameter is required to finish");
		return;
	}
	if (!parse_digest(req, digest, &d))
		return;
	receive_chunk(api, req, r->name, r->arg, true, &d, false);
}

static void cancel_upload(struct api *api, struct http_request *req,
			  const struct route *r)
{
	struct reg_error e;

	if (upload_cancel(api->reg, r->name, r->arg, &e)) {
		send_reg_error(req, &e);
		return;
	}
	http_send(req, response(204));
}

/* ---- dispatch ---- */

static bool is_write(const char *method)
{
	return strcmp(method, "GET") && strcmp(method, "HEAD");
}

static void send_method_not_allowed(struct http_request *req)
{
	send_error(req, 405, "UNSUPPORTED",
		   "the method is not allowed on this endpoint");
}

/* Checks names and arguments, and the policies that forbid writes. */
static bool admit(struct api *api, struct http_request *req,
		  const struct route *r, const char *method)
{
	if (r->name_too_long) {
		send_error(req, 400, "NAME_INVALID",
			   "repository name is longer than 255 characters");
		return false;
	}
	if (r->kind != ROUTE_BASE && r->kind != ROUTE_CATALOG &&
	    !ref_valid_name(r->name)) {
		send_error(req, 400, "NAME_INVALID", "invalid repository name");
		return false;
	}
	if (r->kind == ROUTE_UPLOAD && !upload_id_valid(r->arg)) {
		send_error(req, 404, "BLOB_UPLOAD_UNKNOWN",
			   "no such upload session");
		return false;
	}
	if (!is_write(method))
		return true;
	if (api->cfg->readonly) {
		send_error(req, 405, "UNSUPPORTED",
			   "the registry is in read-only mode");
		return false;
	}
	if (!strcmp(method, "DELETE") && !api->cfg->delete_enabled &&
	    (r->kind == ROUTE_MANIFEST || r->kind == ROUTE_BLOB)) {
		send_error(req, 405, "UNSUPPORTED",
			   "deletion is disabled on this registry");
		return false;
	}
	return true;
}

static void dispatch(struct api *api, struct http_request *req,
		     const struct route *r, const char *m)
{
	bool get = !strcmp(m, "GET") || !strcmp(m, "HEAD");

	switch (r->kind) {
	case ROUTE_BASE:
		if (get)
			return send_json(req, response(200), "application/json",
					 "{}");
		break;
	case ROUTE_CATALOG:
		if (get)
			return get_catalog(api, req);
		break;
	case ROUTE_TAGS:
		if (get)
			return get_tags(api, req, r);
		break;
	case ROUTE_REFERRERS:
		if (get)
			return get_referrers(api, req, r);
		break;
	case ROUTE_MANIFEST:
		if (get)
			return get_manifest(api, req, r);
		if (!strcmp(m, "PUT"))
			return put_manifest(api, req, r);
		if (!strcmp(m, "DELETE"))
			return delete_manifest(api, req, r);
		break;
	case ROUTE_BLOB:
		if (get)
			return get_blob(api, req, r);
		if (!strcmp(m, "DELETE"))
			return delete_blob(api, req, r);
		break;
	case ROUTE_UPLOADS:
		if (!strcmp(m, "POST"))
			return post_upload(api, req, r);
		break;
	case ROUTE_UPLOAD:
		if (!strcmp(m, "GET"))
			return upload_status_of(api, req, r);
		if (!strcmp(m, "PATCH"))
			return receive_chunk(api, req, r->name, r->arg, false,
					     NULL, false);
		if (!strcmp(m, "PUT"))
			return put_upload(api, req, r);
		if (!strcmp(m, "DELETE"))
			return cancel_upload(api, req, r);
		break;
	case ROUTE_NONE:
		break;
	}
	send_method_not_allowed(req);
}

static enum access_action action_of(const char *method)
{
	if (!is_write(method))
		return ACCESS_PULL;
	return strcmp(method, "DELETE") ? ACCESS_PUSH : ACCESS_DELETE;
}

/*
 * Authenticates the request and checks the user may act on the route's
 * repository (the registry itself for /v2/ and the catalog).  Answers
 * 401, 403 or 429 itself and returns false when the request must stop.
 */
static bool authorize(struct api *api, struct http_request *req,
		      const struct route *r, const char *method)
{
	const char *repo = r->kind == ROUTE_BASE || r->kind == ROUTE_CATALOG
				   ? NULL
				   : r->name;
	struct http_response *res;
	unsigned retry = 0;
	char *user = NULL, seconds[16];
	enum access_action action;
	enum access_verdict v;

	/* Looking at an upload session is part of pushing, as in
	 * registry:2, so every upload route needs push. */
	action = r->kind == ROUTE_UPLOAD || r->kind == ROUTE_UPLOADS
			 ? ACCESS_PUSH
			 : action_of(method);
	v = session_access_check(api->sessions, access_of(api), req, repo,
				 action, &user, &retry);
	http_set_user(req, user);
	free(user);

	switch (v) {
	case ACCESS_OK:
		return true;
	case ACCESS_UNAUTHORIZED:
		if (http_header(req, "Authorization"))
			metrics_auth_failure();
		res = response(401);
		http_response_header(res, "WWW-Authenticate",
				     access_challenge(access_of(api)));
		send_error_with(req, res, "UNAUTHORIZED",
				"authentication required");
		return false;
	case ACCESS_DENIED:
		metrics_auth_failure();
		send_error(req, 403, "DENIED",
			   "you may not do this to this repository");
		return false;
	case ACCESS_THROTTLED:
		res = response(429);
		snprintf(seconds, sizeof(seconds), "%u", retry);
		http_response_header(res, "Retry-After", seconds);
		send_error_with(req, res, "TOOMANYREQUESTS",
				"too many failed logins; try again later");
		return false;
	}
	return false;
}

/*
 * Behind trusted proxies the client is the nearest address in
 * X-Forwarded-For that is not one of them: limits, login lockouts and
 * logs then count each client, not the proxy.  Entries further left
 * were written by whoever sent the request and are not believed.
 */
static void find_client(struct api *api, struct http_request *req)
{
	char *const *trusted = api->cfg->http_trusted_proxies;
	const char *xff = http_header(req, "X-Forwarded-For");
	const char *end;
	char addr[64];

	if (!xff || !proxy_trusted(trusted, http_peer_addr(req)))
		return;
	end = xff + strlen(xff);
	for (;;) {
		const char *from = end, *to = end;
		size_t n;

		while (from > xff && from[-1] != ',')
			from--;
		while (from < to && *from == ' ')
			from++;
		while (to > from && to[-1] == ' ')
			to--;
		n = (size_t)(to - from);
		if (n == 0 || n >= sizeof(addr))
			return;
		memcpy(addr, from, n);
		addr[n] = '\0';
		if (!proxy_address_valid(addr))
			return;
		if (!proxy_trusted(trusted, addr)) {
			http_set_client_addr(req, addr);
			return;
		}

		while (from > xff && from[-1] != ',')
			from--;
		if (from == xff)
			return;
		end = from - 1; /* the comma before this entry */
	}
}

/* Answers 429 for a client over its request rate. */
static bool within_rate(struct api *api, struct http_request *req)
{
	struct http_response *res;
	unsigned retry = 1;
	char seconds[16];

	if (ratelimit_take(api->ratelimit, http_client_addr(req), &retry))
		return true;
	res = response(429);
	snprintf(seconds, sizeof(seconds), "%u", retry);
	http_response_header(res, "Retry-After", seconds);
	send_error_with(req, res, "TOOMANYREQUESTS",
			"too many requests from this client; slow down");
	return false;
}

static const char *const route_names[] = {
	[ROUTE_NONE] = "other",		 [ROUTE_BASE] = "base",
	[ROUTE_CATALOG] = "catalog",	 [ROUTE_TAGS] = "tags",
	[ROUTE_MANIFEST] = "manifest",	 [ROUTE_BLOB] = "blob",
	[ROUTE_UPLOADS] = "blob_upload", [ROUTE_UPLOAD] = "blob_upload",
	[ROUTE_REFERRERS] = "referrers",
};

/* 503 with the reason while the store is down, or refuses writes. */
static bool storage_usable(struct api *api, struct http_request *req,
			   const char *method)
{
	enum health_state s;
	char reason[200];

	if (!api->health)
		return true;
	s = health_state(api->health, reason, sizeof(reason));
	if (s == HEALTH_OK || (s == HEALTH_READONLY && !is_write(method)))
		return true;
	send_error(req, 503, "UNAVAILABLE", reason);
	return false;
}

/* The request's path below http.prefix, or NULL if it is not there. */
static const char *unprefixed(struct api *api, const char *path)
{
	const char *prefix = api->cfg->http_prefix;
	size_t n = prefix ? strlen(prefix) : 0;

	if (n == 0)
		return path;
	if (strncmp(path, prefix, n) != 0 || (path[n] && path[n] != '/'))
		return NULL;
	return path + n;
}

static bool query_true(struct http_request *req, const char *name)
{
	const char *v = http_query(req, name);

	return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

/*
 * Refuses a change a page on another site could have made a browser
 * send: without logins, POST /admin/gc needs no credentials and no
 * preflight, and browsers mark such requests with Sec-Fetch-Site.
 */
static bool admin_same_site(struct http_request *req)
{
	const char *site = http_header(req, "Sec-Fetch-Site");

	if (!strcmp(http_method(req), "GET") || !site ||
	    !strcmp(site, "same-origin") || !strcmp(site, "none"))
		return true;
	send_error(req, 403, "DENIED",
		   "administrative requests from another site are refused");
	return false;
}

/*
 * Lets only administrators through (access_admin): answers 401 with a
 * challenge to anonymous clients when logins exist, 403 to everyone
 * else, and returns false then.  Cookie sessions need their CSRF token
 * for a POST, as on /v2/.
 */
static bool authorize_admin(struct api *api, struct http_request *req)
{
	struct route r = {ROUTE_BASE, false, "", ""};
	struct access *a = access_of(api);
	struct http_response *res;

	if (!authorize(api, req, &r, http_method(req)))
		return false;
	if (access_admin(a, http_user(req), http_client_addr(req)))
		return admin_same_site(req);

	metrics_auth_failure();
	if (access_enabled(a) && !http_user(req)) {
		res = response(401);
		http_response_header(res, "WWW-Authenticate",
				     access_challenge(a));
		send_error_with(req, res, "UNAUTHORIZED",
				"log in as an administrator");
	} else if (access_enabled(a)) {
		send_error(req, 403, "DENIED",
			   "only the administrators listed in access.admins "
			   "may do this");
	} else {
		send_error(req, 403, "DENIED",
			   "without logins (auth.htpasswd) only clients on "
			   "the loopback address may do this");
	}
	return false;
}

/* /admin/gc, /admin/scrub and /admin/usage (lifecycle.h). */
static void handle_admin(struct api *api, struct http_request *req,
			 const char *what)
{
	struct lifecycle_request rq = {0};
	struct http_response *res;
	struct buf json = BUF_INIT;
	int status;

	find_client(api, req);
	if (!within_rate(api, req) || !authorize_admin(api, req))
		return;
	rq.method = http_method(req);
	rq.what = what;
	rq.dry_run = query_true(req, "dryrun");
	rq.delete_untagged = query_true(req, "untagged");
	rq.wait = query_true(req, "wait");
	rq.repository = http_query(req, "repository");
	status = lifecycle_admin(api->lc, &rq, &json);
	res = response(status);
	http_response_body(res, "application/json; charset=utf-8", json.data,
			   json.len);
	http_send(req, res);
	buf_free(&json);
}

void api_set_lifecycle(struct api *api, struct lifecycle *lc)
{
	api->lc = lc;
}

void api_handle(void *arg, struct http_request *req)
{
	struct api *api = arg;
	const char *method = http_method(req);
	const char *path = unprefixed(api, http_path(req));
	struct route r;

	if (path && api->lc && !strncmp(path, "/admin/", 7)) {
		handle_admin(api, req, path + 7);
		return;
	}
	if (!path || strncmp(path, "/v2", 3) || (path[3] && path[3] != '/')) {
		ui_handle(api->ui, req, access_of(api));
		return;
	}
	if (cors_step(__atomic_load_n(&api->cors, __ATOMIC_ACQUIRE), req))
		return;
	find_client(api, req);
	if (!within_rate(api, req))
		return;
	if (!path || !route_parse(path, &r)) {
		send_error(req, 404, "UNSUPPORTED",
			   "no such endpoint in the distribution API");
		return;
	}
	http_set_route(req, route_names[r.kind]);
	if (r.name[0])
		http_set_log_target(req, r.name, NULL);
	if (!authorize(api, req, &r, method) || !admit(api, req, &r, method))
		return;
	if (!storage_usable(api, req, method))
		return;
	dispatch(api, req, &r, method);
}

struct api *api_new(const struct config *cfg, struct registry *reg,
		    struct access *access, struct cors *cors)
{
	struct api *api = xcalloc(1, sizeof(*api));

	api->cfg = cfg;
	api->reg = reg;
	api->access = access;
	api->cors = cors;
	api->ratelimit = ratelimit_new(cfg->http_rate, cfg->http_burst);
	return api;
}

void api_swap(struct api *api, struct access **access, struct cors **cors)
{
	*access = __atomic_exchange_n(&api->access, *access, __ATOMIC_ACQ_REL);
	*cors = __atomic_exchange_n(&api->cors, *cors, __ATOMIC_ACQ_REL);
}

void api_set_ops(struct api *api, struct notify *n, struct health *h)
{
	api->notify = n;
	api->health = h;
}

void api_set_ui(struct api *api, struct ui *ui, struct sessions *s)
{
	api->ui = ui;
	api->sessions = s;
}

void api_free(struct api *api)
{
	if (!api)
		return;
	ratelimit_free(api->ratelimit);
	free(api);
}
