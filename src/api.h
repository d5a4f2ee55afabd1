/*
 * api.h - the OCI Distribution API over HTTP: routes /v2/... requests to
 * the registry and turns its answers into the spec's statuses, headers
 * and JSON error bodies.
 */
#ifndef BERTH_API_H
#define BERTH_API_H

struct config;
struct registry;
struct http_request;

struct api;

/* Neither argument is owned; both must outlive the api. */
struct api *api_new(const struct config *cfg, struct registry *reg);
void api_free(struct api *api);

/* The http_handler_fn for every request; arg is the struct api. */
void api_handle(void *arg, struct http_request *req);

#endif
