/*
 * api.h - the OCI Distribution API over HTTP: routes /v2/... requests to
 * the registry and turns its answers into the spec's statuses, headers
 * and JSON error bodies.
 */
#ifndef BERTH_API_H
#define BERTH_API_H

struct access;
struct config;
struct cors;
struct registry;
struct http_request;

struct api;

/*
 * No argument is owned; all must outlive the api.  access decides who
 * may do what; cors may be NULL (no cross-origin access).
 */
struct ui;
struct sessions;
struct api *api_new(const struct config *cfg, struct registry *reg,
		    struct access *access, struct cors *cors);
void api_set_ui(struct api *api, struct ui *ui, struct sessions *s);
void api_free(struct api *api);
struct notify;
struct health;
void api_set_ops(struct api *api, struct notify *n, struct health *h);

/*
 * Puts new access rules and CORS origins in force for requests that
 * start from now on.  The old ones are returned through the pointers:
 * requests in flight may still use them, so the caller keeps them until
 * the server has stopped.
 */
void api_swap(struct api *api, struct access **access, struct cors **cors);

/* Serves /admin/gc, /admin/scrub and /admin/usage through lc. */
struct lifecycle;
void api_set_lifecycle(struct api *api, struct lifecycle *lc);

/* The http_handler_fn for every request; arg is the struct api. */
void api_handle(void *arg, struct http_request *req);

#endif
