/*
 * ui.c - serves the web UI's files and routes its JSON API.
 *
 * The files come from ui_assets[], compiled in.  Each gets a strong ETag
 * (a hash of its bytes, computed once at start) and "Cache-Control:
 * no-cache": browsers keep their copy and revalidate it with one cheap
 * conditional request, so a new berth binary is picked up at once while
 * an unchanged one costs no transfer.  index.html is a template: the
 * base path (http.prefix) and the title are filled in once at start.
 *
 * Every UI response carries a Content-Security-Policy that allows only
 * berth's own origin, which keeps injected markup from running scripts
 * or sending data elsewhere even if an escaping bug slipped through.
 */
#include "ui.h"
#include "config.h"
#include "digest.h"
#include "http.h"
#include "log.h"
#include "ui_assets.h"
#include "uiapi.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UI_PAGE "index.html"
#define UI_ETAG_HEX 20

static const char csp[] =
	"default-src 'self'; script-src 'self'; style-src 'self'; "
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; "
	"base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

struct ui_file {
	const char *name;
	const char *type;
	const char *data;
	size_t len;
	char etag[UI_ETAG_HEX + 3]; /* quoted */
};

struct ui {
	const struct config *cfg;
	struct uiapi *api;
	struct ui_file *files; /* in ui_assets[] order: sorted */
	size_t nfiles;
	struct ui_file page; /* index.html, rendered */
	char *page_data;
};

static const struct {
	const char *ext;
	const char *type;
} types[] = {
	{".html", "text/html; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".svg", "image/svg+xml"},
	{".png", "image/png"},
	{".json", "application/json"},
	{".txt", "text/plain; charset=utf-8"},
	{".webmanifest", "application/manifest+json"},
};

static const char *type_of(const char *name)
{
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

static void file_init(struct ui_file *f, const char *name, const char *data,
		      size_t len)
{
	struct digest d;

	f->name = name;
	f->type = type_of(name);
	f->data = data;
	f->len = len;
	digest_of(DIGEST_SHA256, data, len, &d);
	snprintf(f->etag, sizeof(f->etag), "\"%.*s\"", UI_ETAG_HEX, d.hex);
}

/* Appends s to b with the five HTML special characters escaped. */
static void add_escaped(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			buf_adds(b, "&amp;");
			break;
		case '<':
			buf_adds(b, "&lt;");
			break;
		case '>':
			buf_adds(b, "&gt;");
			break;
		case '"':
			buf_adds(b, "&quot;");
			break;
		case '\'':
			buf_adds(b, "&#39;");
			break;
		default:
			buf_add(b, s, 1);
		}
	}
}

/* The title the configuration asks for: ui.title, then REGISTRY_TITLE. */
const char *ui_title(const struct config *cfg)
{
	if (cfg->ui_title && *cfg->ui_title)
		return cfg->ui_title;
	if (cfg->ui_registry_title && *cfg->ui_registry_title)
		return cfg->ui_registry_title;
	return "berth";
}

/*
 * Fills the page template: {{BASE}} becomes the prefix with a trailing
 * '/', {{TITLE}} the escaped title.  Other text is copied as it is.
 */
static char *render_page(const struct config *cfg, const char *tmpl, size_t len,
			 size_t *out_len)
{
	const char *prefix = cfg->http_prefix ? cfg->http_prefix : "";
	const char *end = tmpl + len, *p = tmpl;
	struct buf b = BUF_INIT;

	while (p < end) {
		const char *at = memmem(p, (size_t)(end - p), "{{", 2);

		if (!at) {
			buf_add(&b, p, (size_t)(end - p));
			break;
		}
		buf_add(&b, p, (size_t)(at - p));
		if (!strncmp(at, "{{BASE}}", 8) && end - at >= 8) {
			add_escaped(&b, prefix);
			buf_adds(&b, "/");
			p = at + 8;
		} else if (!strncmp(at, "{{TITLE}}", 9) && end - at >= 9) {
			add_escaped(&b, ui_title(cfg));
			p = at + 9;
		} else {
			buf_add(&b, at, 2);
			p = at + 2;
		}
	}
	return buf_detach(&b, out_len);
}

/* Binary search of the sorted asset table. */
static const struct ui_file *find_file(const struct ui *ui, const char *name)
{
	size_t lo = 0, hi = ui->nfiles;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ui->files[mid].name, name);

		if (c == 0)
			return &ui->files[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct ui *ui_new(const struct config *cfg, struct registry *reg,
		  struct sessions *sessions)
{
	static const struct ui_file missing = {.name = UI_PAGE, .data = ""};
	struct ui *ui = xcalloc(1, sizeof(*ui));
	const struct ui_file *tmpl;
	size_t len = 0;

	ui->cfg = cfg;
	ui->nfiles = ui_assets_count;
	ui->files = xcalloc(ui->nfiles + 1, sizeof(*ui->files));
	for (size_t i = 0; i < ui->nfiles; i++)
		file_init(&ui->files[i], ui_assets[i].name, ui_assets[i].data,
			  ui_assets[i].len);

	tmpl = find_file(ui, UI_PAGE);
	if (!tmpl) {
		log_error("web ui page missing from the build file=%s",
			  UI_PAGE);
		tmpl = &missing;
	}
	ui->page_data = render_page(cfg, tmpl->data, tmpl->len, &len);
	file_init(&ui->page, UI_PAGE, ui->page_data, len);

	ui->api = uiapi_new(cfg, reg, sessions);
	return ui;
}

void ui_free(struct ui *ui)
{
	if (!ui)
		return;
	uiapi_free(ui->api);
	free(ui->page_data);
	free(ui->files);
	free(ui);
}

void ui_on_change(void *arg, const char *repo, const char *tag)
{
	struct ui *ui = arg;

	uiapi_changed(ui->api, repo, tag);
}

void ui_set_usage(struct ui *ui, struct usage *usage)
{
	uiapi_set_usage(ui->api, usage);
}

/* Headers every UI response carries, JSON API ones included. */
void ui_security_headers(struct http_response *res)
{
	http_response_header(res, "Content-Security-Policy", csp);
	http_response_header(res, "X-Content-Type-Options", "nosniff");
	http_response_header(res, "X-Frame-Options", "DENY");
	http_response_header(res, "Referrer-Policy", "same-origin");
}

/* True if an If-None-Match header names etag (or is "*"). */
static bool etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);

	for (const char *p = inm; p && *p; p++) {
		p += strspn(p, " \t,");
		if (!strncmp(p, "W/", 2))
			p += 2;
		if (*p == '*' || !strncmp(p, etag, n))
			return true;
		p = strchr(p, ',');
		if (!p)
			break;
	}
	return false;
}

/*
 * NEEDSWORK: the files go out uncompressed (about 60 kB in all, once per
 * browser thanks to the ETag); gzip at build time would need zlib in the
 * build.
 */
static void send_file(struct http_request *req, const struct ui_file *f,
		      int status)
{
	const char *inm = http_header(req, "If-None-Match");
	struct http_response *res;

	if (status == 200 && inm && etag_matches(inm, f->etag)) {
		res = http_response_new(304);
	} else {
		res = http_response_new(status);
		http_response_body(res, f->type, f->data, f->len);
	}
	http_response_header(res, "ETag", f->etag);
	http_response_header(res, "Cache-Control", "no-cache");
	ui_security_headers(res);
	http_send(req, res);
}

static void send_text(struct http_request *req, int status, const char *msg)
{
	struct http_response *res = http_response_new(status);

	if (status == 405)
		http_response_header(res, "Allow", "GET, HEAD");
	ui_security_headers(res);
	http_response_body(res, "text/plain; charset=utf-8", msg, strlen(msg));
	http_send(req, res);
}

/*
 * Whether the client would take a page: browsers send an Accept naming
 * text/html or any type; scripts and registry clients send none, or
 * ask for JSON.
 */
static bool wants_html(struct http_request *req)
{
	const char *accept = http_header(req, "Accept");

	return accept && (strstr(accept, "text/html") || strstr(accept, "*/*"));
}

/*
 * A path that is neither the API nor the UI.  Browsers get the page,
 * which says "not found" itself; other clients (scripts probing for
 * /metrics or /v1/) get the registry's JSON error.
 */
static void send_not_found(struct http_request *req)
{
	static const char body[] =
		"{\"errors\":[{\"code\":\"UNSUPPORTED\",\"message\":"
		"\"no such endpoint: the registry API is under /v2/\"}]}";
	struct http_response *res = http_response_new(404);

	ui_security_headers(res);
	http_response_body(res, "application/json; charset=utf-8", body,
			   sizeof(body) - 1);
	http_send(req, res);
}

/* Addresses the page's router shows; anything else is its "not found". */
static bool is_page_route(const char *path)
{
	return !strcmp(path, "/") || !strcmp(path, "/login") ||
	       !strcmp(path, "/settings") ||
	       (!strncmp(path, "/r/", 3) && path[3]);
}

/* The request's path below http.prefix ("/" for the prefix itself). */
static const char *below_prefix(const struct ui *ui, const char *path)
{
	const char *prefix = ui->cfg->http_prefix;
	size_t n = prefix ? strlen(prefix) : 0;

	if (n && (strncmp(path, prefix, n) || (path[n] && path[n] != '/')))
		return NULL;
	return path[n] ? path + n : "/";
}

static void serve_static(struct ui *ui, struct http_request *req,
			 const char *path)
{
	const struct ui_file *f = NULL;

	if (!strncmp(path, "/ui/", 4) && strcmp(path + 4, UI_PAGE))
		f = find_file(ui, path + 4);
	else if (!strcmp(path, "/favicon.ico"))
		f = find_file(ui, "favicon.svg");
	if (f) {
		send_file(req, f, 200);
		return;
	}
	if (!strncmp(path, "/ui/", 4)) {
		send_text(req, 404, "no such file in berth's web UI\n");
		return;
	}
	if (!is_page_route(path) && !wants_html(req)) {
		send_not_found(req);
		return;
	}
	send_file(req, &ui->page, is_page_route(path) ? 200 : 404);
}

void ui_handle(struct ui *ui, struct http_request *req, struct access *access)
{
	const char *path = below_prefix(ui, http_path(req));
	const char *method = http_method(req);

	if (!path || !ui->cfg->ui_enabled) {
		send_not_found(req);
		return;
	}
	if (!strcmp(path, "/ui/api") || !strncmp(path, "/ui/api/", 8)) {
		uiapi_handle(ui->api, req, access, path + 7);
		return;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		send_text(req, 405, "the web UI's pages are read-only\n");
		return;
	}
	serve_static(ui, req, path);
}
