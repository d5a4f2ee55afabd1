/*
 * cors.c - the allowed origins and the headers each answer gets.
 */
#include "cors.h"
#include "config.h"
#include "http.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ALLOW_METHODS "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
#define ALLOW_HEADERS                                                          \
	"Authorization, Accept, Content-Type, Content-Range, Content-Length, " \
	"Cache-Control, Range, X-CSRF-Token, Docker-Distribution-API-Version"
#define EXPOSE_HEADERS                                                         \
	"Docker-Content-Digest, WWW-Authenticate, Location, Link, Range, "     \
	"Docker-Upload-UUID, OCI-Subject, OCI-Filters-Applied, "               \
	"Content-Range, Content-Length, Docker-Distribution-API-Version, "     \
	"Retry-After"
#define MAX_AGE "600"

struct cors {
	char **origins; /* NULL-terminated */
	size_t count;
	bool any; /* "*": every origin, without credentials */
};

static void add_origin(struct cors *c, const char *origin)
{
	size_t n = strlen(origin);

	while (n && origin[n - 1] == '/')
		n--;
	if (n == 1 && origin[0] == '*') {
		c->any = true;
		return;
	}
	c->origins = xrealloc(c->origins, (c->count + 2) * sizeof(char *));
	c->origins[c->count++] = xstrndup(origin, n);
	c->origins[c->count] = NULL;
}

struct cors *cors_new(const struct config *cfg)
{
	struct cors *c = xcalloc(1, sizeof(*c));

	for (char **o = cfg->http_cors_origins; o && *o; o++)
		add_origin(c, *o);
	for (size_t i = 0; i < cfg->http_headers_count; i++) {
		const struct config_header *h = &cfg->http_headers[i];

		if (strcasecmp(h->name, "Access-Control-Allow-Origin") != 0)
			continue;
		for (char **v = h->values; *v; v++)
			add_origin(c, *v);
	}
	if (c->count == 0 && !c->any) {
		free(c);
		return NULL;
	}
	return c;
}

void cors_free(struct cors *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->count; i++)
		free(c->origins[i]);
	free(c->origins);
	free(c);
}

bool cors_manages_header(const char *name)
{
	return strncasecmp(name, "Access-Control-", 15) == 0;
}

static bool listed(const struct cors *c, const char *origin)
{
	for (size_t i = 0; i < c->count; i++)
		if (strcmp(c->origins[i], origin) == 0)
			return true;
	return false;
}

/* Adds the headers an allowed origin gets; false when not allowed. */
static bool allow(const struct cors *c, struct http_request *req,
		  const char *origin)
{
	http_add_header(req, "Vary", "Origin");
	if (listed(c, origin)) {
		http_add_header(req, "Access-Control-Allow-Origin", origin);
		http_add_header(req, "Access-Control-Allow-Credentials",
				"true");
	} else if (c->any) {
		http_add_header(req, "Access-Control-Allow-Origin", "*");
	} else {
		return false;
	}
	return true;
}

static void answer_preflight(struct http_request *req, bool allowed)
{
	const char *asked = http_header(req, "Access-Control-Request-Headers");
	struct http_response *res = http_response_new(204);
	char *headers;

	if (allowed) {
		/* Echo what the page asks for beyond the usual list: an
		 * allowed origin is trusted with any request header. */
		headers = asked && *asked
				  ? xasprintf("%s, %s", ALLOW_HEADERS, asked)
				  : xstrdup(ALLOW_HEADERS);
		http_response_header(res, "Access-Control-Allow-Methods",
				     ALLOW_METHODS);
		http_response_header(res, "Access-Control-Allow-Headers",
				     headers);
		http_response_header(res, "Access-Control-Max-Age", MAX_AGE);
		free(headers);
	}
	http_response_header(res, "Allow", ALLOW_METHODS);
	http_send(req, res);
}

bool cors_step(struct cors *c, struct http_request *req)
{
	const char *origin = http_header(req, "Origin");
	bool preflight = !strcmp(http_method(req), "OPTIONS") &&
			 http_header(req, "Access-Control-Request-Method");
	bool allowed;

	if (!c || !origin) {
		if (preflight) {
			answer_preflight(req, false);
			return true;
		}
		return false;
	}

	allowed = allow(c, req, origin);
	if (preflight) {
		answer_preflight(req, allowed);
		return true;
	}
	if (allowed)
		http_add_header(req, "Access-Control-Expose-Headers",
				EXPOSE_HEADERS);
	return false;
}
