/*
 * uiapi_int.h - what the web UI API's own files share (uiapi.c,
 * uitags.c, uilogin.c): the API object, one request's caller, and the
 * helpers that answer in JSON, read parameters and check permissions.
 * Nothing outside those files includes it.
 */
#ifndef BERTH_UIAPI_INT_H
#define BERTH_UIAPI_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"

struct config;
struct http_request;
struct http_response;
struct reg_error;
struct registry;
struct usage;

#define UIAPI_PAGE_MAX 500
#define UIAPI_QUERY_MAX 255

struct uiapi {
	const struct config *cfg;
	struct registry *reg;
	struct sessions *sessions;
	struct meta_cache *metas;
	struct tagcache *tags;
	struct uicatalog *catalog;
	struct usage *usage; /* NULL until ui_set_usage */
};

/* One request: who is asking, with what access control. */
struct call {
	struct uiapi *api;
	struct http_request *req;
	struct access *access;
	char *user; /* NULL for anonymous */
};

struct paging {
	size_t page; /* 1-based */
	size_t per_page;
};

/* A response with the headers every API answer carries. */
struct http_response *uiapi_response(int status);
/* Sends body (taking it) with res, prepared with status and headers. */
void uiapi_send_json_with(struct http_request *req, struct http_response *res,
			  json_t *body);
void uiapi_send_json(struct http_request *req, int status, json_t *body);
/* {"error": message, "code": code} */
void uiapi_send_error(struct http_request *req, int status, const char *code,
		      const char *message);
void uiapi_send_reg_error(struct http_request *req, const struct reg_error *e);
/* 429 with Retry-After. */
void uiapi_send_throttled(struct http_request *req, unsigned retry);

/* Sets key in obj to v, taking v: one field a line in builders. */
void uiapi_put(json_t *obj, const char *key, json_t *v);
json_t *uiapi_str_or_null(const char *s);
/* RFC 3339, or null for META_TIME_UNKNOWN. */
json_t *uiapi_time_or_null(int64_t t);

/* Whether the caller may do action on repo (NULL: the registry). */
bool uiapi_may(const struct call *c, const char *repo,
	       enum access_action action);
/* Answers 401 or 403 itself unless the caller may pull from repo. */
bool uiapi_require_pull(const struct call *c, const char *repo);
/*
 * Whether the caller is an administrator (access_admin), who is shown
 * the storage panel and the whole store's usage.  /admin/ decides for
 * itself; this only keeps the UI from offering what it would refuse.
 */
bool uiapi_is_admin(const struct call *c);
/* {"pull": ..., "push": ..., "delete": ...} for repo. */
json_t *uiapi_permissions(const struct call *c, const char *repo);

/*
 * Parameter readers: each answers 400 itself and returns false when the
 * parameter is malformed.
 */
bool uiapi_paging_params(struct http_request *req, struct paging *p);
bool uiapi_in_page(const struct paging *p, size_t i);
/* q, lowercased into out (len bytes). */
bool uiapi_query_param(struct http_request *req, char *out, size_t len);
/* repo, a valid repository name. */
bool uiapi_repo_param(struct http_request *req, const char **repo);

/* Whether clients reach berth over https, as far as berth can tell. */
bool uiapi_reached_by_tls(const struct call *c);

/* The endpoints in the other files. */
void uitags_get(struct call *c);
void uilogin_login(struct call *c);
void uilogin_logout(struct call *c);

#endif
