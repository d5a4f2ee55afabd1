/*
 * s3.c - signed requests to an S3-compatible object store.
 *
 * Requests are signed here with AWS Signature Version 4 rather than by
 * libcurl: the signature covers the canonical query string, and the
 * curl of Debian 12 signs percent-encoded query values wrongly, which
 * breaks listing prefixes and continuation tokens.  Every request
 * carries the SHA-256 of its body (bodies are in memory), so the store
 * can check what it received.
 *
 * Each thread keeps one curl handle for its life, so connections to the
 * store are reused across requests.  A stream has a handle and a
 * connection of its own, closed with it, since its reader may send other
 * requests while the stream is open.
 */
#include "s3.h"

#include "log.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define S3_ATTEMPTS 4
#define S3_BACKOFF_MS 100
#define S3_CONNECT_TIMEOUT 10L
#define S3_STALL_SECONDS 60L

struct s3 {
	char *accesskey;
	char *secretkey;
	char *region;
	char *bucket;
	char *scheme;	/* "http" or "https" */
	char *host;	/* host[:port] requests go to, and sign */
	bool pathstyle; /* the path starts with /bucket */
};

static pthread_once_t s3_once = PTHREAD_ONCE_INIT;
static pthread_key_t s3_handle_key;

static void s3_handle_free(void *h)
{
	curl_easy_cleanup(h);
}

static void s3_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_key_create(&s3_handle_key, s3_handle_free);
}

/* The calling thread's curl handle, made on first use. */
static CURL *s3_handle(void)
{
	CURL *h = pthread_getspecific(s3_handle_key);

	if (!h) {
		h = curl_easy_init();
		if (!h) {
			log_error("cannot make a curl handle");
			abort();
		}
		pthread_setspecific(s3_handle_key, h);
	}
	curl_easy_reset(h);
	return h;
}

/* Splits "scheme://host[:port][/]" into c->scheme and c->host. */
static int s3_parse_endpoint(struct s3 *c, const char *url, char *err,
			     size_t errlen)
{
	const char *sep = strstr(url, "://");
	const char *host = sep ? sep + 3 : url;
	size_t n = strcspn(host, "/");

	if (sep && (size_t)(sep - url) == 4 && !strncasecmp(url, "http", 4))
		c->scheme = xstrdup("http");
	else if (!sep ||
		 ((size_t)(sep - url) == 5 && !strncasecmp(url, "https", 5)))
		c->scheme = xstrdup("https");
	if (!c->scheme || n == 0 || strspn(host + n, "/") != strlen(host + n)) {
		set_error(err, errlen,
			  "storage.s3.regionendpoint: want "
			  "http://host[:port] or https://host[:port], got "
			  "\"%s\"",
			  url);
		return -EINVAL;
	}
	c->host = xstrndup(host, n);
	return 0;
}

/* Whether host (with an optional port) is an address, not a name. */
static bool s3_host_is_address(const char *host)
{
	return host[0] == '[' || strspn(host, "0123456789.:") == strlen(host) ||
	       !strncmp(host, "localhost", 9);
}

int s3_open(const struct s3_options *o, struct s3 **out, char *err,
	    size_t errlen)
{
	struct s3 *c = xcalloc(1, sizeof(*c));
	const char *region = o->region && *o->region ? o->region : "us-east-1";
	char *host;

	pthread_once(&s3_once, s3_global_init);
	c->accesskey = xstrdup(o->accesskey ? o->accesskey : "");
	c->secretkey = xstrdup(o->secretkey ? o->secretkey : "");
	c->region = xstrdup(region);
	c->bucket = xstrdup(o->bucket);
	c->pathstyle = o->pathstyle;

	if (o->endpoint && *o->endpoint) {
		if (s3_parse_endpoint(c, o->endpoint, err, errlen)) {
			s3_close(c);
			return -EINVAL;
		}
		/* Virtual hosts need a name the bucket can prefix. */
		if (s3_host_is_address(c->host))
			c->pathstyle = true;
	} else {
		c->scheme = xstrdup(o->secure ? "https" : "http");
		c->host = !strcmp(region, "us-east-1")
				  ? xstrdup("s3.amazonaws.com")
				  : xasprintf("s3.%s.amazonaws.com", region);
	}
	if (!c->pathstyle) {
		host = xasprintf("%s.%s", c->bucket, c->host);
		free(c->host);
		c->host = host;
	}
	*out = c;
	return 0;
}

void s3_close(struct s3 *c)
{
	if (!c)
		return;
	free(c->accesskey);
	free(c->secretkey);
	free(c->region);
	free(c->bucket);
	free(c->scheme);
	free(c->host);
	free(c);
}

char *s3_uri_encode(const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b = {0};
	unsigned char ch;

	buf_grow(&b, strlen(s) + 1);
	for (; *s; s++) {
		ch = (unsigned char)*s;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.' || ch == '~' || (keep_slash && ch == '/')) {
			buf_add(&b, s, 1);
		} else {
			char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};

			buf_add(&b, esc, 3);
		}
	}
	buf_add(&b, "", 0);
	return buf_detach(&b, NULL);
}

/* "20130524T000000Z" for t, in UTC. */
static void s3_amzdate(int64_t t, char out[17])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static void s3_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	hex_encode(md, sizeof(md), out);
}

static void s3_hmac(const void *key, size_t keylen, const char *msg,
		    unsigned char out[32])
{
	unsigned int n = 32;

	HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
	     strlen(msg), out, &n);
}

static int s3_param_cmp(const void *a, const void *b)
{
	const struct s3_param *pa = a, *pb = b;

	return strcmp(pa->name, pb->name);
}

/* The canonical query string, which is also the one sent. */
static char *s3_query(const struct s3_req *req)
{
	struct s3_param p[S3_MAX_PARAMS] = {{0}};
	struct buf b = {0};
	size_t n = 0;
	char *k, *v;

	for (size_t i = 0; i < S3_MAX_PARAMS && req->params[i].name; i++)
		p[n++] = req->params[i];
	qsort(p, n, sizeof(*p), s3_param_cmp);

	buf_add(&b, "", 0);
	for (size_t i = 0; i < n; i++) {
		k = s3_uri_encode(p[i].name, false);
		v = s3_uri_encode(p[i].value ? p[i].value : "", false);
		buf_addf(&b, "%s%s=%s", i ? "&" : "", k, v);
		free(k);
		free(v);
	}
	return buf_detach(&b, NULL);
}

/* The request's path, encoded once, as sent and as signed. */
static char *s3_path(const struct s3 *c, const struct s3_req *req)
{
	char *key = s3_uri_encode(req->key ? req->key : "", true);
	char *path;

	if (c->pathstyle)
		path = req->key ? xasprintf("/%s/%s", c->bucket, key)
				: xasprintf("/%s", c->bucket);
	else
		path = xasprintf("/%s", key);
	free(key);
	return path;
}

struct s3_hdr {
	char name[64];
	const char *value;
};

static int s3_hdr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct s3_hdr *)a)->name,
		      ((const struct s3_hdr *)b)->name);
}

/*
 * Collects the headers to sign: host, the x-amz-* ones of req and the
 * two every request gets.  Returns how many went into h (sorted).
 */
static size_t s3_signed_headers(const struct s3 *c, const struct s3_req *req,
				const char *amzdate, const char *payload,
				struct s3_hdr *h)
{
	size_t n = 0;
	const char *colon;
	size_t len;

	snprintf(h[n].name, sizeof(h[n].name), "host");
	h[n++].value = c->host;
	snprintf(h[n].name, sizeof(h[n].name), "x-amz-content-sha256");
	h[n++].value = payload;
	snprintf(h[n].name, sizeof(h[n].name), "x-amz-date");
	h[n++].value = amzdate;
	for (size_t i = 0; i < S3_MAX_HEADERS && req->headers[i]; i++) {
		colon = strchr(req->headers[i], ':');
		len = colon ? (size_t)(colon - req->headers[i]) : 0;
		if (len < 6 || len >= sizeof(h[n].name) ||
		    strncasecmp(req->headers[i], "x-amz-", 6))
			continue;
		for (size_t j = 0; j < len; j++)
			h[n].name[j] = (char)(req->headers[i][j] | 0x20);
		h[n].name[len] = '\0';
		h[n++].value = colon + 1 + strspn(colon + 1, " ");
	}
	qsort(h, n, sizeof(*h), s3_hdr_cmp);
	return n;
}

/*
 * Signs the hash of a canonical request made at amzdate for scope
 * ("date/region/s3/aws4_request"): the key is derived from the secret
 * through the scope's parts, as Signature Version 4 prescribes.  Writes
 * the signature's hex into sig.
 */
static void s3_sign(const struct s3 *c, const char *amzdate, const char *scope,
		    const char *hash, char sig[65])
{
	unsigned char k1[32], k2[32];
	char datestamp[9];
	char *tosign, *secret;

	memcpy(datestamp, amzdate, 8);
	datestamp[8] = '\0';
	tosign =
		xasprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", amzdate, scope, hash);
	secret = xasprintf("AWS4%s", c->secretkey);
	s3_hmac(secret, strlen(secret), datestamp, k1);
	s3_hmac(k1, 32, c->region, k2);
	s3_hmac(k2, 32, "s3", k1);
	s3_hmac(k1, 32, "aws4_request", k2);
	s3_hmac(k2, 32, tosign, k1);
	hex_encode(k1, 32, sig);

	explicit_bzero(secret, strlen(secret));
	explicit_bzero(k2, sizeof(k2));
	free(secret);
	free(tosign);
}

/* Builds the Authorization header's value for one attempt. */
static char *s3_authorization(const struct s3 *c, const struct s3_req *req,
			      const char *path, const char *query,
			      const char *amzdate, const char *payload)
{
	struct s3_hdr h[S3_MAX_HEADERS + 3];
	size_t n = s3_signed_headers(c, req, amzdate, payload, h);
	struct buf canon = {0}, names = {0};
	char datestamp[9], hash[65], sig[65];
	char *scope, *auth;

	memcpy(datestamp, amzdate, 8);
	datestamp[8] = '\0';
	buf_addf(&canon, "%s\n%s\n%s\n", req->method, path, query);
	for (size_t i = 0; i < n; i++) {
		buf_addf(&canon, "%s:%s\n", h[i].name, h[i].value);
		buf_addf(&names, "%s%s", i ? ";" : "", h[i].name);
	}
	buf_addf(&canon, "\n%s\n%s", names.data, payload);
	s3_sha256_hex(canon.data, canon.len, hash);

	scope = xasprintf("%s/%s/s3/aws4_request", datestamp, c->region);
	s3_sign(c, amzdate, scope, hash, sig);

	auth = xasprintf("Authorization: AWS4-HMAC-SHA256 Credential=%s/%s, "
			 "SignedHeaders=%s, Signature=%s",
			 c->accesskey, scope, names.data, sig);
	free(scope);
	buf_free(&canon);
	buf_free(&names);
	return auth;
}

struct s3_sink {
	struct s3_resp *resp;
	size_t max;
	bool too_big;
};

static size_t s3_on_body(char *data, size_t size, size_t n, void *arg)
{
	struct s3_sink *s = arg;
	size_t len = size * n;
	/* An error's body is read whatever the caller's limit. */
	size_t max = s->resp->status >= 300 ? 64 * 1024 : s->max;

	if (s->resp->body.len + len > max) {
		s->too_big = true;
		return 0;
	}
	buf_add(&s->resp->body, data, len);
	return len;
}

/* Copies header line's value into out when its name is name. */
static bool s3_header_value(const char *line, size_t len, const char *name,
			    char *out, size_t outlen)
{
	size_t nl = strlen(name);
	size_t vl;

	if (len <= nl + 1 || strncasecmp(line, name, nl) || line[nl] != ':')
		return false;
	line += nl + 1;
	len -= nl + 1;
	while (len && (*line == ' ' || *line == '\t'))
		line++, len--;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' ||
		       line[len - 1] == ' '))
		len--;
	vl = len < outlen - 1 ? len : outlen - 1;
	memcpy(out, line, vl);
	out[vl] = '\0';
	return true;
}

static size_t s3_on_header(char *line, size_t size, size_t n, void *arg)
{
	struct s3_resp *r = arg;
	size_t len = size * n;
	char v[128];

	if (len > 9 && !strncmp(line, "HTTP/", 5) && strchr(line, ' ')) {
		r->status = strtol(strchr(line, ' ') + 1, NULL, 10);
		r->length = 0;
	} else if (s3_header_value(line, len, "Content-Length", v, sizeof(v)))
		r->length = strtoull(v, NULL, 10);
	else if (s3_header_value(line, len, "ETag", v, sizeof(v)))
		memcpy(r->etag, v, sizeof(r->etag));
	else if (s3_header_value(line, len, "Last-Modified", v, sizeof(v)))
		r->mtime = (int64_t)curl_getdate(v, NULL);
	return len;
}

/* Sets the request's method and body on h. */
static void s3_set_method(CURL *h, const struct s3_req *req)
{
	if (!strcmp(req->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		return;
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body || !strcmp(req->method, "PUT") ||
	    !strcmp(req->method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS,
				 req->body ? req->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)req->body_len);
	}
}

/* What one attempt allocates for its request: freed by s3_call_free. */
struct s3_call {
	struct curl_slist *headers;
	char *url;
	char *auth;
};

static void s3_call_free(struct s3_call *call)
{
	curl_slist_free_all(call->headers);
	free(call->url);
	free(call->auth);
	memset(call, 0, sizeof(*call));
}

/*
 * Signs req for now and sets it on h: URL, headers, method, body and
 * timeouts, everything but where the answer goes.  call keeps what h
 * points to until the transfer is over.
 */
static void s3_setup(struct s3 *c, CURL *h, const struct s3_req *req,
		     const char *path, const char *query, const char *payload,
		     struct s3_call *call)
{
	struct curl_slist *hl = NULL;
	char amzdate[17], line[128];

	s3_amzdate((int64_t)time(NULL), amzdate);
	call->auth = s3_authorization(c, req, path, query, amzdate, payload);
	call->url = xasprintf("%s://%s%s%s%s", c->scheme, c->host, path,
			      *query ? "?" : "", query);

	hl = curl_slist_append(hl, call->auth);
	snprintf(line, sizeof(line), "x-amz-date: %s", amzdate);
	hl = curl_slist_append(hl, line);
	snprintf(line, sizeof(line), "x-amz-content-sha256: %s", payload);
	hl = curl_slist_append(hl, line);
	hl = curl_slist_append(hl, "Expect:");
	hl = curl_slist_append(hl, "Content-Type: application/octet-stream");
	for (size_t i = 0; i < S3_MAX_HEADERS && req->headers[i]; i++)
		hl = curl_slist_append(hl, req->headers[i]);
	call->headers = hl;

	curl_easy_setopt(h, CURLOPT_URL, call->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, S3_CONNECT_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, S3_STALL_SECONDS);
	s3_set_method(h, req);
}

/* Sends req once.  Returns the curl result; the answer is in resp. */
static CURLcode s3_send(struct s3 *c, const struct s3_req *req,
			const char *path, const char *query,
			const char *payload, struct s3_sink *sink)
{
	CURL *h = s3_handle();
	struct s3_call call = {0};
	CURLcode rc;

	s3_setup(c, h, req, path, query, payload, &call);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s3_on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, s3_on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, sink->resp);

	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &sink->resp->status);
	s3_call_free(&call);
	return rc;
}

static int s3_status_err(long status)
{
	if (status >= 200 && status < 300)
		return 0;
	if (status == 404)
		return -ENOENT;
	if (status == 403)
		return -EACCES;
	if (status == 416)
		return -EINVAL;
	if (status == 412) /* only conditional requests get it */
		return -EEXIST;
	return -EIO;
}

/* Clears what an earlier attempt left in resp. */
static void s3_resp_reset(struct s3_resp *r)
{
	r->body.len = 0;
	r->status = 0;
	r->length = 0;
	r->mtime = 0;
	r->etag[0] = '\0';
	r->code[0] = '\0';
}

/* Notes the error code of a failed request's XML body in resp. */
static void s3_note_code(struct s3_resp *resp)
{
	const char *pos = resp->body.data;
	char *code;

	if (!pos)
		return;
	code = s3_xml_take(resp->body.data, NULL, "Code", &pos);
	if (code)
		snprintf(resp->code, sizeof(resp->code), "%s", code);
	free(code);
}

/* Waits before attempt i (from 0) of a request: longer each time. */
static void s3_backoff(int i)
{
	if (i)
		usleep((useconds_t)(S3_BACKOFF_MS << (2 * (i - 1))) * 1000);
}

/* Warns of a failed request; answers callers expect are not failures. */
static void s3_log_failure(const struct s3_req *req, struct s3_resp *resp,
			   CURLcode rc, int err)
{
	if (!err || err == -ENOENT || err == -EFBIG || err == -EEXIST)
		return;
	s3_note_code(resp);
	log_warn("object store request failed method=%s key=%s "
		 "status=%ld code=%s curl=\"%s\"",
		 req->method, req->key ? req->key : "", resp->status,
		 resp->code[0] ? resp->code : "-", curl_easy_strerror(rc));
}

int s3_request(struct s3 *c, const struct s3_req *req, struct s3_resp *resp)
{
	struct s3_sink sink = {resp,
			       req->max_response ? req->max_response
						 : 64 * 1024,
			       false};
	char *path = s3_path(c, req);
	char *query = s3_query(req);
	char payload[65];
	CURLcode rc = CURLE_OK;
	int err = -EIO;

	s3_sha256_hex(req->body ? req->body : "", req->body_len, payload);
	for (int i = 0; i < S3_ATTEMPTS; i++) {
		s3_backoff(i);
		s3_resp_reset(resp);
		sink.too_big = false;
		rc = s3_send(c, req, path, query, payload, &sink);
		if (sink.too_big) {
			err = -EFBIG;
			break;
		}
		if (rc == CURLE_OK) {
			err = s3_status_err(resp->status);
			if (err != -EIO || resp->status < 500)
				break;
		}
		if (req->no_retry)
			break;
	}

	buf_add(&resp->body, "", 0);
	s3_log_failure(req, resp, rc, err);
	free(path);
	free(query);
	return err;
}

/* ---- streamed responses ---- */

#define S3_STREAM_STASH (256U << 10) /* bytes held for a slow reader */
#define S3_STREAM_RECV (256L << 10)  /* libcurl's receive buffer */
#define S3_STREAM_POLL_MS 1000
#define S3_ERROR_BODY (64U << 10)

/*
 * One GET whose body the reader pulls as it arrives.  The transfer runs
 * on a multi handle of its own, driven only from s3_stream_read, so no
 * thread is involved: while the reader is away, the socket's buffer
 * fills and the store waits.  Received bytes go straight into the
 * reader's buffer when it is waiting; what does not fit goes to the
 * stash, and once the stash is full the transfer is paused until the
 * reader has taken it all.
 */
struct s3_stream {
	CURLM *multi;
	CURL *h;
	struct s3_call call;
	struct s3_resp resp; /* status, length, an error's body */
	struct buf stash;    /* received, not yet read */
	size_t stash_pos;
	char *target; /* the waiting reader's buffer, or NULL */
	size_t target_len;
	size_t target_got;
	uint64_t received; /* body bytes so far */
	bool headers_done;
	bool paused;
	bool done;
	CURLcode result; /* the transfer's, once done */
};

static size_t s3_stream_unread(const struct s3_stream *st)
{
	return st->stash.len - st->stash_pos;
}

static size_t s3_stream_on_body(char *data, size_t size, size_t n, void *arg)
{
	struct s3_stream *st = arg;
	size_t len = size * n, room = 0, k = 0;

	if (st->resp.status >= 300) {
		if (st->resp.body.len + len > S3_ERROR_BODY)
			return 0;
		buf_add(&st->resp.body, data, len);
		return len;
	}

	/* An empty stash takes any piece, which libcurl's buffer bounds. */
	if (st->target)
		room = st->target_len - st->target_got;
	if (s3_stream_unread(st) &&
	    len > room + S3_STREAM_STASH - s3_stream_unread(st)) {
		st->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}

	k = len < room ? len : room;
	if (k)
		memcpy(st->target + st->target_got, data, k);
	st->target_got += k;
	buf_add(&st->stash, data + k, len - k);
	st->received += len;
	return len;
}

static size_t s3_stream_on_header(char *line, size_t size, size_t n, void *arg)
{
	struct s3_stream *st = arg;

	/* The blank line after a final status ends the headers. */
	if (size * n <= 2 && st->resp.status >= 200)
		st->headers_done = true;
	return s3_on_header(line, size, n, &st->resp);
}

static bool s3_stream_has_headers(const struct s3_stream *st)
{
	return st->headers_done;
}

static bool s3_stream_has_data(const struct s3_stream *st)
{
	return st->target_got || s3_stream_unread(st);
}

static bool s3_stream_never(const struct s3_stream *st)
{
	(void)st;
	return false;
}

/*
 * Moves the transfer on until ready(st) or its end.  Returns 0, or -EIO
 * when libcurl's multi interface fails (not the transfer: see done).
 */
static int s3_stream_wait(struct s3_stream *st,
			  bool (*ready)(const struct s3_stream *))
{
	CURLMsg *msg;
	int running, left;

	for (;;) {
		if (curl_multi_perform(st->multi, &running) != CURLM_OK)
			return -EIO;
		while ((msg = curl_multi_info_read(st->multi, &left)))
			if (msg->msg == CURLMSG_DONE) {
				st->done = true;
				st->result = msg->data.result;
			}
		if (st->done || ready(st))
			return 0;

		if (curl_multi_poll(st->multi, NULL, 0, S3_STREAM_POLL_MS,
				    NULL) != CURLM_OK)
			return -EIO;
	}
}

/* Sends req once on st (fresh); returns 0 once a 2xx status arrived. */
static int s3_stream_start(struct s3 *c, const struct s3_req *req,
			   const char *path, const char *query,
			   const char *payload, struct s3_stream *st)
{
	int err;

	st->multi = curl_multi_init();
	st->h = curl_easy_init();
	if (!st->multi || !st->h)
		return -EIO;
	s3_setup(c, st->h, req, path, query, payload, &st->call);
	curl_easy_setopt(st->h, CURLOPT_WRITEFUNCTION, s3_stream_on_body);
	curl_easy_setopt(st->h, CURLOPT_WRITEDATA, st);
	curl_easy_setopt(st->h, CURLOPT_HEADERFUNCTION, s3_stream_on_header);
	curl_easy_setopt(st->h, CURLOPT_HEADERDATA, st);
	curl_easy_setopt(st->h, CURLOPT_BUFFERSIZE, S3_STREAM_RECV);
	if (curl_multi_add_handle(st->multi, st->h) != CURLM_OK)
		return -EIO;

	err = s3_stream_wait(st, s3_stream_has_headers);
	if (!err && st->resp.status >= 300)
		err = s3_stream_wait(st, s3_stream_never);
	if (err)
		return err;
	if (!st->headers_done)
		return -EIO;
	err = s3_status_err(st->resp.status);
	if (!err && st->done && st->result != CURLE_OK)
		err = -EIO;
	return err;
}

int s3_stream_open(struct s3 *c, const struct s3_req *req,
		   struct s3_stream **out)
{
	char *path = s3_path(c, req);
	char *query = s3_query(req);
	struct s3_stream *st = NULL;
	char payload[65];
	int err = -EIO;

	s3_sha256_hex("", 0, payload);
	for (int i = 0; i < S3_ATTEMPTS; i++) {
		s3_backoff(i);
		s3_stream_close(st);
		st = xcalloc(1, sizeof(*st));
		err = s3_stream_start(c, req, path, query, payload, st);
		if (err != -EIO || (st->resp.status && st->resp.status < 500))
			break;
	}

	buf_add(&st->resp.body, "", 0);
	s3_log_failure(req, &st->resp, st->result, err);
	free(path);
	free(query);
	if (err) {
		s3_stream_close(st);
		return err;
	}
	*out = st;
	return 0;
}

uint64_t s3_stream_length(const struct s3_stream *st)
{
	return st->resp.length;
}

/* The end of the body: complete, or the reason it is not. */
static long s3_stream_end(struct s3_stream *st)
{
	if (st->result != CURLE_OK) {
		log_warn("object store response cut short received=%" PRIu64
			 " curl=\"%s\"",
			 st->received, curl_easy_strerror(st->result));
		return -EIO;
	}
	if (st->resp.length && st->received != st->resp.length) {
		log_warn("object store response cut short received=%" PRIu64
			 " length=%" PRIu64,
			 st->received, st->resp.length);
		return -EIO;
	}
	return 0;
}

/* Waits for bytes into buf; returns how many came, -EIO on failure. */
static long s3_stream_fetch(struct s3_stream *st, void *buf, size_t len)
{
	int err = 0;

	st->stash.len = st->stash_pos = 0;
	st->target = buf;
	st->target_len = len;
	st->target_got = 0;
	if (st->paused) {
		st->paused = false;
		if (curl_easy_pause(st->h, CURLPAUSE_CONT) != CURLE_OK)
			err = -EIO;
	}
	if (!err && !s3_stream_has_data(st))
		err = s3_stream_wait(st, s3_stream_has_data);
	st->target = NULL;
	return err ? err : (long)st->target_got;
}

long s3_stream_read(struct s3_stream *st, void *buf, size_t len)
{
	size_t n = s3_stream_unread(st);
	long got;

	if (len == 0)
		return 0;
	if (n == 0 && !st->done) {
		got = s3_stream_fetch(st, buf, len);
		if (got != 0)
			return got;
		n = s3_stream_unread(st);
	}
	if (n == 0)
		return s3_stream_end(st);

	if (n > len)
		n = len;
	memcpy(buf, st->stash.data + st->stash_pos, n);
	st->stash_pos += n;
	return (long)n;
}

void s3_stream_close(struct s3_stream *st)
{
	if (!st)
		return;
	/* Removing an unfinished transfer closes its connection. */
	if (st->multi && st->h)
		curl_multi_remove_handle(st->multi, st->h);
	curl_easy_cleanup(st->h);
	curl_multi_cleanup(st->multi);
	s3_call_free(&st->call);
	s3_resp_free(&st->resp);
	buf_free(&st->stash);
	free(st);
}

char *s3_presign(const struct s3 *c, const char *method, const char *key,
		 int64_t expires, int64_t now)
{
	struct s3_req req = {.method = method, .key = key};
	char amzdate[17], datestamp[9], secs[24], hash[65], sig[65];
	char *scope, *cred, *path, *query, *canon, *url;

	if (expires < 1)
		expires = 1;
	if (expires > S3_PRESIGN_MAX)
		expires = S3_PRESIGN_MAX;
	s3_amzdate(now ? now : (int64_t)time(NULL), amzdate);
	memcpy(datestamp, amzdate, 8);
	datestamp[8] = '\0';
	snprintf(secs, sizeof(secs), "%lld", (long long)expires);
	scope = xasprintf("%s/%s/s3/aws4_request", datestamp, c->region);
	cred = xasprintf("%s/%s", c->accesskey, scope);

	/* The credentials travel in the query, which the signature covers. */
	req.params[0] =
		(struct s3_param){"X-Amz-Algorithm", "AWS4-HMAC-SHA256"};
	req.params[1] = (struct s3_param){"X-Amz-Credential", cred};
	req.params[2] = (struct s3_param){"X-Amz-Date", amzdate};
	req.params[3] = (struct s3_param){"X-Amz-Expires", secs};
	req.params[4] = (struct s3_param){"X-Amz-SignedHeaders", "host"};
	path = s3_path(c, &req);
	query = s3_query(&req);

	/* Whoever holds the URL sends the body, so it cannot be signed. */
	canon = xasprintf("%s\n%s\n%s\nhost:%s\n\nhost\nUNSIGNED-PAYLOAD",
			  method, path, query, c->host);
	s3_sha256_hex(canon, strlen(canon), hash);
	s3_sign(c, amzdate, scope, hash, sig);
	url = xasprintf("%s://%s%s?%s&X-Amz-Signature=%s", c->scheme, c->host,
			path, query, sig);

	free(canon);
	free(query);
	free(path);
	free(cred);
	free(scope);
	return url;
}

void s3_resp_free(struct s3_resp *resp)
{
	buf_free(&resp->body);
}

/* Appends text[0..n) to b with the five XML entities decoded. */
static void s3_xml_decode(struct buf *b, const char *text, size_t n)
{
	static const struct {
		const char *ent;
		char ch;
	} ents[] = {{"&amp;", '&'},
		    {"&lt;", '<'},
		    {"&gt;", '>'},
		    {"&quot;", '"'},
		    {"&apos;", '\''}};
	size_t i = 0, k;

	while (i < n) {
		if (text[i] != '&') {
			buf_add(b, text + i++, 1);
			continue;
		}
		for (k = 0; k < sizeof(ents) / sizeof(*ents); k++)
			if (!strncmp(text + i, ents[k].ent,
				     strlen(ents[k].ent)))
				break;
		if (k == sizeof(ents) / sizeof(*ents)) {
			buf_add(b, text + i++, 1);
			continue;
		}
		buf_add(b, &ents[k].ch, 1);
		i += strlen(ents[k].ent);
	}
}

char *s3_xml_take(const char *xml, const char *end, const char *tag,
		  const char **pos)
{
	char open[64], close[64];
	const char *a, *b;
	struct buf out = {0};

	(void)xml;
	if (!end)
		end = *pos + strlen(*pos);
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = memmem(*pos, (size_t)(end - *pos), open, strlen(open));
	if (!a)
		return NULL;
	a += strlen(open);
	b = memmem(a, (size_t)(end - a), close, strlen(close));
	if (!b)
		return NULL;

	s3_xml_decode(&out, a, (size_t)(b - a));
	buf_add(&out, "", 0);
	*pos = b + strlen(close);
	return buf_detach(&out, NULL);
}

int64_t s3_parse_time(const char *iso)
{
	struct tm tm = {0};

	if (!strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

const char *s3_bucket(const struct s3 *c)
{
	return c->bucket;
}
