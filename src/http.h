/*
 * http.h - berth's HTTP glue: the server library, requests, streamed
 * request bodies and responses, including zero-copy file responses.
 *
 * This layer knows nothing of registries.  For each request it calls one
 * handler (http_handler_fn) as soon as the request line and headers have
 * arrived.  The handler either answers at once with http_send(), or asks
 * for the body with http_read_body(), whose callbacks receive the body in
 * pieces as it streams in and then answer.  Bodies are never buffered
 * whole here.
 */
#ifndef BERTH_HTTP_H
#define BERTH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct http_server;
struct http_request;
struct http_response;
struct store_reader;
struct tls;

typedef void (*http_handler_fn)(void *arg, struct http_request *req);

/*
 * Receives one piece of the body.  Return 0 to go on, or -1 to stop
 * reading: the rest of the body is discarded and on_end still runs.
 */
typedef int (*http_body_fn)(void *ctx, const char *data, size_t len);
/* The body has ended (or reading stopped); must call http_send(). */
typedef void (*http_end_fn)(void *ctx, struct http_request *req);
/* The request is finished, answered or aborted; frees ctx. */
typedef void (*http_free_fn)(void *ctx);

struct http_options {
	const char *addr; /* "host:port", ":port" or "[v6]:port" */
	size_t max_connections;
	size_t max_client_connections;	  /* per client address */
	unsigned idle_timeout;		  /* seconds */
	const char *const *extra_headers; /* name, value pairs, NULL-ended */
	struct tls *tls;		  /* serve HTTPS with it, or NULL */
};

/*
 * Starts listening and serving on background threads.  Returns NULL
 * after logging why (address in use, bad address).
 */
struct http_server *http_start(const struct http_options *opts,
			       http_handler_fn handler, void *arg);
/* The port actually bound (useful with port 0). */
uint16_t http_port(const struct http_server *srv);
/* Stops accepting new connections; requests in flight go on. */
void http_quiesce(struct http_server *srv);
/* Requests that have begun and not yet finished (see http.c). */
unsigned http_inflight(struct http_server *srv);
/* Stops accepting, ends open connections and frees the server. */
void http_stop(struct http_server *srv);

/* Request accessors; returned strings live as long as the request. */
const char *http_method(const struct http_request *req);
const char *http_path(const struct http_request *req);
const char *http_header(const struct http_request *req, const char *name);
/*
 * Every value of a header that may repeat (clients send one Accept per
 * media type), joined with ", " into out.  Returns out->data, or NULL
 * when the header is absent.
 */
const char *http_header_all(const struct http_request *req, const char *name,
			    struct buf *out);
const char *http_query(const struct http_request *req, const char *name);
/* Body length from Content-Length, or -1 when absent or chunked. */
int64_t http_content_length(const struct http_request *req);
/*
 * The client's address: the peer's, unless http_set_client_addr named
 * the client behind a trusted proxy.
 */
const char *http_client_addr(const struct http_request *req);
/* The address at the other end of the connection. */
const char *http_peer_addr(const struct http_request *req);
void http_set_client_addr(struct http_request *req, const char *addr);
/* A short label for metrics ("manifest", "blob"...); not copied. */
void http_set_route(struct http_request *req, const char *route);
/* The repository and digest the access log names (copied). */
void http_set_log_target(struct http_request *req, const char *repo,
			 const char *digest);
/* Whether the request came over TLS. */
bool http_is_tls(const struct http_request *req);
/* The user the request authenticated as (copied), for handlers and logs. */
void http_set_user(struct http_request *req, const char *user);
/* That user, or NULL for anonymous. */
const char *http_user(const struct http_request *req);
/*
 * Adds a header to whatever response this request ends up sending, error
 * or not (CORS headers are added this way before routing).
 */
void http_add_header(struct http_request *req, const char *name,
		     const char *value);
/* Free-form text the access log prints for this request (e.g. repo). */
void http_set_log_note(struct http_request *req, const char *note);

/* Asks for the request body; see the callback types above. */
void http_read_body(struct http_request *req, http_body_fn on_body,
		    http_end_fn on_end, http_free_fn on_free, void *ctx);

/* Responses.  Exactly one response is sent per request. */
struct http_response *http_response_new(int status);
void http_response_header(struct http_response *res, const char *name,
			  const char *value);
/* A body copied from memory, with its Content-Type (may be NULL). */
void http_response_body(struct http_response *res, const char *type,
			const void *data, size_t len);
/*
 * A body of len bytes from a store reader positioned at offset, sent with
 * sendfile when the reader has a file descriptor.  Takes ownership of r.
 */
void http_response_reader(struct http_response *res, const char *type,
			  struct store_reader *r, uint64_t offset,
			  uint64_t len);
/* Sends res and frees it; a HEAD request gets the headers alone. */
void http_send(struct http_request *req, struct http_response *res);

#endif
