/*
 * cors.h - Cross-Origin Resource Sharing for browser clients on other
 * origins, answered before authentication.
 *
 * A browser's preflight (OPTIONS) never carries credentials, so it must
 * be answered without asking for them; real responses to an allowed
 * origin name it and let credentials through.  Allowed origins come from
 * http.cors.origins and, for configurations written for registry:2, from
 * http.headers' Access-Control-Allow-Origin values.
 */
#ifndef BERTH_CORS_H
#define BERTH_CORS_H

#include <stdbool.h>

struct config;
struct cors;
struct http_request;

/* Returns NULL when no origin is allowed (no CORS at all). */
struct cors *cors_new(const struct config *cfg);
void cors_free(struct cors *c);

/*
 * Handles the CORS part of a request: adds the response headers for an
 * allowed Origin, and answers a preflight itself.  Returns true when it
 * answered (the request needs nothing more), false otherwise.
 */
bool cors_step(struct cors *c, struct http_request *req);

/* Whether a configured static header is one that CORS now manages. */
bool cors_manages_header(const char *name);

#endif
