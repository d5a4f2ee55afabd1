/*
 * s3.h - requests to an S3-compatible object store.
 *
 * One struct s3 holds a bucket's address and credentials; s3_request
 * sends one request to it, signed with AWS Signature Version 4, and
 * retries what is safe to retry.  Bodies travel in memory both ways:
 * callers bound their size (a part, a window of an object, a listing
 * page), which keeps memory use bounded.  Objects too big for that are
 * read through an s3_stream, one GET pulled as its body arrives.
 *
 * Thread safety: a struct s3 is read-only after s3_open; each thread
 * sends through a curl handle of its own, kept for its connections.
 * An s3_stream belongs to one thread at a time.
 */
#ifndef BERTH_S3_H
#define BERTH_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct s3;

struct s3_options {
	const char *accesskey;
	const char *secretkey;
	const char *region;   /* signs requests; "us-east-1" when empty */
	const char *endpoint; /* "http[s]://host[:port]", or "" for AWS */
	const char *bucket;
	bool secure;	/* https for the default AWS endpoint */
	bool pathstyle; /* bucket in the path, not in the host name */
};

/* A query parameter; value may be "" (as in "?uploads="). */
struct s3_param {
	const char *name;
	const char *value;
};

#define S3_MAX_PARAMS 8
#define S3_MAX_HEADERS 8

struct s3_req {
	const char *method; /* "GET", "PUT", "HEAD", "DELETE", "POST" */
	const char *key;    /* object key in the bucket; NULL: the bucket */
	struct s3_param params[S3_MAX_PARAMS]; /* unused ones have no name */
	/* "name: value" lines; x-amz-* ones are signed. */
	const char *headers[S3_MAX_HEADERS];
	const void *body;
	size_t body_len;
	size_t max_response; /* bytes of body kept; more fail with -EFBIG */
	bool no_retry;	     /* not safe to send twice */
};

struct s3_resp {
	long status;	 /* HTTP status, 0 when nothing answered */
	struct buf body; /* the response body, NUL-terminated */
	uint64_t length; /* Content-Length, when given */
	int64_t mtime;	 /* Last-Modified as seconds, or 0 */
	char etag[128];	 /* the ETag header, quotes included */
	char code[64];	 /* S3 error code from an error body, or "" */
};

/*
 * Makes a client for the bucket in o (strings are copied).  Returns 0
 * with *out set, or -EINVAL with a reason in err for a bad endpoint.
 */
int s3_open(const struct s3_options *o, struct s3 **out, char *err,
	    size_t errlen);
void s3_close(struct s3 *c);

/*
 * Sends req and fills resp (which the caller zeroes first and releases
 * with s3_resp_free).  Connection failures and 5xx answers are retried
 * a few times with backoff unless req->no_retry.  Returns 0 for a 2xx
 * answer, otherwise a negative errno: -ENOENT for 404, -EACCES for 403,
 * -EINVAL for 416, -EFBIG for a body over max_response, -EIO for the
 * rest.  resp->status tells which answer came last.
 */
int s3_request(struct s3 *c, const struct s3_req *req, struct s3_resp *resp);
void s3_resp_free(struct s3_resp *resp);

/*
 * A GET whose body is read as it arrives, for objects too big to hold:
 * memory stays a few hundred KiB whatever the size.
 */
struct s3_stream;

/*
 * Sends req (a GET without body) and waits for the answer's status,
 * retrying as s3_request does.  Returns 0 with *out set for a 2xx answer
 * (the caller closes it), otherwise s3_request's errors.
 */
int s3_stream_open(struct s3 *c, const struct s3_req *req,
		   struct s3_stream **out);

/* The answer's Content-Length, or 0 when it gave none. */
uint64_t s3_stream_length(const struct s3_stream *st);

/*
 * Reads up to len bytes of the body into buf, waiting for the store.
 * Returns how many (at least 1), 0 at the end of a body that arrived
 * whole, or -EIO when the transfer failed or the body came short of its
 * Content-Length.
 */
long s3_stream_read(struct s3_stream *st, void *buf, size_t len);

/* Ends the transfer, finished or not, and frees st; NULL is a no-op. */
void s3_stream_close(struct s3_stream *st);

/* The longest a presigned URL may stay valid: Signature Version 4's. */
#define S3_PRESIGN_MAX (7 * 24 * 3600)

/*
 * A URL that lets whoever holds it send method ("GET", "HEAD") for key
 * without credentials, for expires seconds (1 to S3_PRESIGN_MAX) after
 * now (seconds since the epoch; 0: the current time).  Signed with
 * Signature Version 4 in the query string; the payload is unsigned.
 * Nothing is sent.  The caller frees the result.
 */
char *s3_presign(const struct s3 *c, const char *method, const char *key,
		 int64_t expires, int64_t now);

/*
 * Finds the next <tag>...</tag> in xml at or after *pos and returns its
 * text with XML entities decoded (the caller frees it), advancing *pos
 * past it; NULL when there is none before end (NULL: the string's end).
 */
char *s3_xml_take(const char *xml, const char *end, const char *tag,
		  const char **pos);

/* Seconds since the epoch of an ISO 8601 time as listings give it. */
int64_t s3_parse_time(const char *iso);

/* The bucket's name, owned by c. */
const char *s3_bucket(const struct s3 *c);

/* Percent-encodes s as S3 wants, keeping '/' when keep_slash. */
char *s3_uri_encode(const char *s, bool keep_slash);

#endif
