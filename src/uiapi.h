/*
 * uiapi.h - the JSON API of berth's web UI, under /ui/api/.
 *
 * Each endpoint answers one page of the UI in one request: the catalog
 * with every repository's tag count, size and last push; a repository's
 * tags with digest, size, platforms and dates, sorted and paged on the
 * server across all tags; an image with its platforms, layers, config,
 * history and referrers.  Logins happen here too (a session cookie plus
 * a CSRF token, session.h).  docs/ui-api.md describes every endpoint.
 *
 * The API reads through the registry with the same permissions as /v2/:
 * a user sees only the repositories they may pull.
 */
#ifndef BERTH_UIAPI_H
#define BERTH_UIAPI_H

struct access;
struct config;
struct http_request;
struct registry;
struct sessions;
struct usage;

struct uiapi;

/* None of the arguments is owned; all must outlive the API. */
struct uiapi *uiapi_new(const struct config *cfg, struct registry *reg,
			struct sessions *sessions);
void uiapi_free(struct uiapi *api);

/*
 * Answers req; path is what follows "/ui/api" ("" or "/tags"...), access
 * the access control in force.  Sends exactly one response.
 */
void uiapi_handle(struct uiapi *api, struct http_request *req,
		  struct access *access, const char *path);

/* See ui_set_usage. */
void uiapi_set_usage(struct uiapi *api, struct usage *usage);

/* See ui_on_change: a tag (or, NULL, anything) of repo changed. */
void uiapi_changed(struct uiapi *api, const char *repo, const char *tag);

/*
 * Orders tags as version numbers: runs of digits compare as numbers, a
 * leading "v" is ignored, and a pre-release ("1.0-rc1") comes before its
 * release ("1.0").  Ties fall back to strcmp, so the order is total.
 */
int uiapi_version_cmp(const char *a, const char *b);

#endif
