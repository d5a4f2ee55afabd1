/*
 * store_s3.c - the S3-compatible object storage backend.
 *
 * Keys become object keys below storage.s3.rootdirectory in one bucket,
 * in registry:2's layout, so a bucket written by registry:2's s3 driver
 * is served as it is and the other way round.  Directories are prefixes:
 * a key is a directory when some object's key starts with "key/".
 *
 * Objects being appended to (upload sessions) are kept as segments, one
 * object per flush, at "<key>.parts/<offset>" with the offset in twenty
 * digits, so listing returns them in order and their sizes give the
 * total.  The segments live in the bucket, so an upload begun through
 * one berth can go on through another that shares the bucket.  Readers,
 * stat and move see the segments as one object; move turns them into an
 * ordinary object with a multipart upload, by server-side copies when
 * every segment but the last is big enough to be a part, otherwise by
 * reading them through.  A writer buffers at most the chunk size.
 *
 * put, server-side copy and multipart completion replace an object
 * whole, so readers see the old object or the new one.  A move is a copy
 * and then a delete: a crash between them leaves the source behind too,
 * never a missing target.
 */
#include "store.h"

#include "log.h"
#include "s3.h"
#include "store_s3.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S3_PARTS ".parts"
#define S3_PART_MIN (5ULL << 20)      /* S3's least part but the last */
#define S3_COPY_MAX (5ULL << 30)      /* largest single copy or part */
#define S3_COPY_PIECE (1ULL << 30)    /* part size when copying big ones */
#define S3_WINDOW (1U << 20)	      /* most a reader fetches at once */
#define S3_STREAM_RETRIES 3	      /* reopens of a failed stream */
#define S3_LIST_PAGE_BYTES (4U << 20) /* a listing page's XML */
#define S3_DELETE_BATCH 1000

struct s3_store {
	struct store base;
	struct s3 *s3;
	char *root;	   /* "" or "prefix/" put before every key */
	size_t chunksize;  /* a writer's buffer and a multipart's parts */
	char *encrypt_hdr; /* header asking for encryption at rest, or NULL */
	char *class_hdr;   /* header naming the storage class, or NULL */
};

/* One object of a logical object: a whole object or a segment. */
struct s3_extent {
	char *key; /* full object key */
	uint64_t size;
};

struct s3_extents {
	struct s3_extent *v;
	size_t n;
	uint64_t size; /* the sum */
	int64_t mtime; /* of the newest */
};

struct s3_reader {
	struct store_reader base;
	struct s3_store *s;
	struct s3_extents ext;
	struct buf win; /* fetched bytes not yet read */
	size_t win_pos;
	struct s3_stream *stream; /* the rest of one extent, or NULL */
	uint64_t stream_left;	  /* bytes the stream still owes */
	int stream_failures;	  /* in a row, without a byte between */
};

struct s3_writer {
	struct store_writer base;
	struct s3_store *s;
	char *key;	    /* full key of the logical object */
	struct buf pending; /* written, not yet a segment */
	uint64_t flushed;   /* bytes in segments */
};

static int s3_delete_batch(struct s3_store *s, const struct s3_extent *v,
			   size_t n);
static int s3_multipart_copy(struct s3_store *s, const struct s3_extents *e,
			     const char *dst);
static int s3_multipart_stream(struct s3_store *s, struct s3_extents *e,
			       const char *dst);

static struct s3_store *s3_store_of(struct store *st)
{
	return (struct s3_store *)st;
}

static char *s3_full(const struct s3_store *s, const char *key)
{
	return xasprintf("%s%s", s->root, key);
}

static void s3_extents_free(struct s3_extents *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].key);
	free(e->v);
	memset(e, 0, sizeof(*e));
}

static void s3_extents_add(struct s3_extents *e, const char *key, uint64_t size,
			   int64_t mtime)
{
	e->v = xrealloc(e->v, (e->n + 1) * sizeof(*e->v));
	e->v[e->n].key = xstrdup(key);
	e->v[e->n].size = size;
	e->n++;
	e->size += size;
	if (mtime > e->mtime)
		e->mtime = mtime;
}

/* Adds the object-store headers every new object gets to req. */
static void s3_object_headers(const struct s3_store *s, struct s3_req *req,
			      size_t at)
{
	if (s->encrypt_hdr)
		req->headers[at++] = s->encrypt_hdr;
	if (s->class_hdr)
		req->headers[at] = s->class_hdr;
}

static int s3_head(struct s3_store *s, const char *full, uint64_t *size,
		   int64_t *mtime)
{
	struct s3_req req = {.method = "HEAD", .key = full};
	struct s3_resp resp = {0};
	int err = s3_request(s->s3, &req, &resp);

	if (!err) {
		*size = resp.length;
		*mtime = resp.mtime;
	}
	s3_resp_free(&resp);
	return err;
}

static int s3_put_full(struct s3_store *s, const char *full, const void *data,
		       size_t len)
{
	struct s3_req req = {.method = "PUT",
			     .key = full,
			     .body = data,
			     .body_len = len};
	struct s3_resp resp = {0};
	int err;

	s3_object_headers(s, &req, 0);
	err = s3_request(s->s3, &req, &resp);
	s3_resp_free(&resp);
	return err;
}

static int s3_delete_full(struct s3_store *s, const char *full)
{
	struct s3_req req = {.method = "DELETE", .key = full};
	struct s3_resp resp = {0};
	int err = s3_request(s->s3, &req, &resp);

	s3_resp_free(&resp);
	return err;
}

/* Called per object (is_dir false) or common prefix of a listing page. */
typedef int (*s3_page_fn)(void *arg, const char *key, uint64_t size,
			  int64_t mtime, bool is_dir);

/* Parses one ListObjectsV2 page; sets *token to the next one or NULL. */
static int s3_list_parse(const char *xml, s3_page_fn fn, void *arg,
			 char **token)
{
	const char *pos = xml, *blk, *end;
	char *key, *size, *lm, *trunc;
	int stop = 0;

	while (!stop && (blk = strstr(pos, "<Contents>"))) {
		end = strstr(blk, "</Contents>");
		if (!end)
			return -EIO;
		pos = blk;
		key = s3_xml_take(xml, end, "Key", &pos);
		pos = blk;
		size = s3_xml_take(xml, end, "Size", &pos);
		pos = blk;
		lm = s3_xml_take(xml, end, "LastModified", &pos);
		if (key)
			stop = fn(arg, key, size ? strtoull(size, NULL, 10) : 0,
				  lm ? s3_parse_time(lm) : 0, false);
		free(key);
		free(size);
		free(lm);
		pos = end;
	}
	pos = xml;
	while (!stop && (blk = strstr(pos, "<CommonPrefixes>"))) {
		end = strstr(blk, "</CommonPrefixes>");
		if (!end)
			return -EIO;
		pos = blk;
		key = s3_xml_take(xml, end, "Prefix", &pos);
		if (key)
			stop = fn(arg, key, 0, 0, true);
		free(key);
		pos = end;
	}

	pos = xml;
	trunc = s3_xml_take(xml, NULL, "IsTruncated", &pos);
	pos = xml;
	*token = NULL;
	if (!stop && trunc && !strcmp(trunc, "true"))
		*token = s3_xml_take(xml, NULL, "NextContinuationToken", &pos);
	free(trunc);
	return stop ? 1 : 0;
}

/*
 * Lists objects whose keys start with prefix, page by page, calling fn
 * for each; with delim, keys sharing a further "/" come as one common
 * prefix.  max (0: no limit) ends after that many keys of one page.
 * Returns 0, or a negative errno.
 */
static int s3_list_prefix(struct s3_store *s, const char *prefix, bool delim,
			  unsigned max, s3_page_fn fn, void *arg)
{
	char *token = NULL, maxkeys[16];
	int err;

	snprintf(maxkeys, sizeof(maxkeys), "%u", max ? max : 1000);
	do {
		struct s3_req req = {.method = "GET",
				     .key = NULL,
				     .max_response = S3_LIST_PAGE_BYTES};
		struct s3_resp resp = {0};
		size_t np = 0;
		char *next = NULL;

		req.params[np++] = (struct s3_param){"list-type", "2"};
		req.params[np++] = (struct s3_param){"prefix", prefix};
		req.params[np++] = (struct s3_param){"max-keys", maxkeys};
		if (delim)
			req.params[np++] = (struct s3_param){"delimiter", "/"};
		if (token)
			req.params[np++] =
				(struct s3_param){"continuation-token", token};
		err = s3_request(s->s3, &req, &resp);
		if (!err)
			err = s3_list_parse(resp.body.data, fn, arg, &next);
		s3_resp_free(&resp);
		free(token);
		token = next;
		if (max)
			break;
	} while (!err && token);

	free(token);
	return err < 0 ? err : 0;
}

static int on_any(void *arg, const char *key, uint64_t size, int64_t mtime,
		  bool is_dir)
{
	*(bool *)arg = true;
	return 1;
}

/* Whether any object's key starts with prefix: 1, 0 or a negative errno. */
static int s3_prefix_used(struct s3_store *s, const char *prefix)
{
	bool found = false;
	int err = s3_list_prefix(s, prefix, false, 1, on_any, &found);

	return err ? err : found;
}

static int on_segment(void *arg, const char *key, uint64_t size, int64_t mtime,
		      bool is_dir)
{
	if (!is_dir)
		s3_extents_add(arg, key, size, mtime);
	return 0;
}

/* Collects the segments of full, in order; none is not an error. */
static int s3_segments(struct s3_store *s, const char *full,
		       struct s3_extents *e)
{
	char *prefix = xasprintf("%s" S3_PARTS "/", full);
	int err = s3_list_prefix(s, prefix, false, 0, on_segment, e);

	free(prefix);
	if (err)
		s3_extents_free(e);
	return err;
}

/*
 * Finds what full holds: a whole object, or the segments of one being
 * appended to.  Returns 0 with e filled, -ENOENT when neither is there.
 */
static int s3_resolve(struct s3_store *s, const char *full,
		      struct s3_extents *e)
{
	uint64_t size;
	int64_t mtime;
	int err = s3_head(s, full, &size, &mtime);

	memset(e, 0, sizeof(*e));
	if (!err) {
		s3_extents_add(e, full, size, mtime);
		return 0;
	}
	if (err != -ENOENT)
		return err;

	err = s3_segments(s, full, e);
	if (!err && e->n == 0)
		err = -ENOENT;
	return err;
}

static int s3_get(struct store *st, const char *key, size_t max,
		  struct buf *out)
{
	struct s3_store *s = s3_store_of(st);
	char *full = s3_full(s, key);
	struct s3_req req = {.method = "GET",
			     .key = full,
			     .max_response = max + 1};
	struct s3_resp resp = {0};
	int err = s3_request(s->s3, &req, &resp);

	if (!err && resp.body.len > max)
		err = -EFBIG;
	if (!err)
		buf_add(out, resp.body.data, resp.body.len);
	s3_resp_free(&resp);
	free(full);
	return err;
}

static int s3_put(struct store *st, const char *key, const void *data,
		  size_t len)
{
	struct s3_store *s = s3_store_of(st);
	char *full = s3_full(s, key);
	int err = s3_put_full(s, full, data, len);

	free(full);
	return err;
}

/*
 * A PUT with "If-None-Match: *", which the store refuses with 412 when
 * the key exists.  409 means another conditional write of the key was in
 * flight; one of the two wins, so this caller is told it lost.  A retry
 * after a lost answer may find our own object: store.h says how callers
 * tell.
 */
static int s3_put_new(struct store *st, const char *key, const void *data,
		      size_t len)
{
	struct s3_store *s = s3_store_of(st);
	struct s3_req req = {.method = "PUT",
			     .key = s3_full(s, key),
			     .headers = {"If-None-Match: *"},
			     .body = data,
			     .body_len = len};
	struct s3_resp resp = {0};
	int err;

	s3_object_headers(s, &req, 1);
	err = s3_request(s->s3, &req, &resp);
	if (resp.status == 412 || resp.status == 409)
		err = -EEXIST;
	s3_resp_free(&resp);
	free((char *)req.key);
	return err;
}

static int s3_stat(struct store *st, const char *key, struct store_stat *out)
{
	struct s3_store *s = s3_store_of(st);
	char *full = s3_full(s, key);
	char *dir = xasprintf("%s/", full);
	struct s3_extents e;
	int err = s3_resolve(s, full, &e);

	memset(out, 0, sizeof(*out));
	if (!err) {
		out->size = e.size;
		out->mtime = e.mtime;
		s3_extents_free(&e);
	} else if (err == -ENOENT) {
		err = s3_prefix_used(s, dir);
		out->is_dir = err == 1;
		err = err == 1 ? 0 : err ? err : -ENOENT;
	}
	free(dir);
	free(full);
	return err;
}

struct s3_lister {
	size_t skip; /* length of the listed prefix */
	store_list_fn fn;
	void *arg;
	bool any;
};

static int on_child(void *arg, const char *key, uint64_t size, int64_t mtime,
		    bool is_dir)
{
	struct s3_lister *l = arg;
	char *name = xstrdup(key + l->skip);
	size_t n = strlen(name);
	int stop = 0;

	if (is_dir && n && name[n - 1] == '/')
		name[--n] = '\0';
	l->any = true;
	/* Segments make one object being appended to. */
	if (is_dir && n > strlen(S3_PARTS) &&
	    !strcmp(name + n - strlen(S3_PARTS), S3_PARTS)) {
		name[n - strlen(S3_PARTS)] = '\0';
		is_dir = false;
	}
	if (*name && !strchr(name, '/'))
		stop = l->fn(l->arg, name, is_dir);
	free(name);
	return stop;
}

static int s3_list(struct store *st, const char *key, store_list_fn fn,
		   void *arg)
{
	struct s3_store *s = s3_store_of(st);
	char *prefix = xasprintf("%s%s/", s->root, key);
	struct s3_lister l = {strlen(prefix), fn, arg, false};
	int err = s3_list_prefix(s, prefix, true, 0, on_child, &l);

	free(prefix);
	if (!err && !l.any)
		err = -ENOENT;
	return err;
}

/* Copies one whole object of at most S3_COPY_MAX bytes. */
static int s3_copy_object(struct s3_store *s, const char *from, const char *to)
{
	char *src = s3_uri_encode(from, true);
	char *hdr =
		xasprintf("x-amz-copy-source: /%s/%s", s3_bucket(s->s3), src);
	struct s3_req req = {.method = "PUT", .key = to, .headers = {hdr}};
	struct s3_resp resp = {0};
	int err;

	s3_object_headers(s, &req, 1);
	err = s3_request(s->s3, &req, &resp);
	/* A copy can fail after its 200 status; the body tells. */
	if (!err && strstr(resp.body.data, "<Error>"))
		err = -EIO;
	s3_resp_free(&resp);
	free(hdr);
	free(src);
	return err;
}

/* Deletes each key in e, in batches; returns the first error. */
static int s3_delete_extents(struct s3_store *s, const struct s3_extents *e)
{
	int err = 0, e2;

	for (size_t i = 0; i < e->n; i += S3_DELETE_BATCH) {
		size_t n = e->n - i < S3_DELETE_BATCH ? e->n - i
						      : S3_DELETE_BATCH;

		e2 = n == 1 ? s3_delete_full(s, e->v[i].key)
			    : s3_delete_batch(s, e->v + i, n);
		if (e2 && !err)
			err = e2;
	}
	return err;
}

/* Whether e can become a multipart object by server-side part copies. */
static bool s3_copyable(const struct s3_extents *e)
{
	for (size_t i = 0; i + 1 < e->n; i++)
		if (e->v[i].size < S3_PART_MIN || e->v[i].size > S3_COPY_MAX)
			return false;
	return true;
}

static int s3_move(struct store *st, const char *from, const char *to)
{
	struct s3_store *s = s3_store_of(st);
	char *src = s3_full(s, from);
	char *dst = s3_full(s, to);
	struct s3_extents e;
	int err = s3_resolve(s, src, &e);

	if (err)
		goto out;
	if (e.n == 1 && e.v[0].size <= S3_COPY_MAX)
		err = s3_copy_object(s, e.v[0].key, dst);
	else if (s3_copyable(&e))
		err = s3_multipart_copy(s, &e, dst);
	else
		err = s3_multipart_stream(s, &e, dst);
	if (!err)
		err = s3_delete_extents(s, &e);
	s3_extents_free(&e);
out:
	free(src);
	free(dst);
	return err;
}

static int on_collect(void *arg, const char *key, uint64_t size, int64_t mtime,
		      bool is_dir)
{
	s3_extents_add(arg, key, size, mtime);
	return 0;
}

static int s3_remove(struct store *st, const char *key)
{
	struct s3_store *s = s3_store_of(st);
	char *full = s3_full(s, key);
	char *dir = xasprintf("%s/", full);
	char *parts = xasprintf("%s" S3_PARTS "/", full);
	struct s3_extents e = {0};
	uint64_t size;
	int64_t mtime;
	int err = s3_head(s, full, &size, &mtime);

	if (!err)
		s3_extents_add(&e, full, size, mtime);
	else if (err != -ENOENT)
		goto out;
	err = s3_list_prefix(s, dir, false, 0, on_collect, &e);
	if (!err)
		err = s3_list_prefix(s, parts, false, 0, on_collect, &e);
	if (!err)
		err = e.n ? s3_delete_extents(s, &e) : -ENOENT;
out:
	s3_extents_free(&e);
	free(parts);
	free(dir);
	free(full);
	return err;
}

/* Starts a multipart upload of full; *id is the upload's (caller frees). */
static int s3_mp_start(struct s3_store *s, const char *full, char **id)
{
	struct s3_req req = {.method = "POST",
			     .key = full,
			     .params = {{"uploads", ""}},
			     .no_retry = true};
	struct s3_resp resp = {0};
	const char *pos;
	int err;

	s3_object_headers(s, &req, 0);
	err = s3_request(s->s3, &req, &resp);
	pos = resp.body.data;
	*id = err ? NULL : s3_xml_take(pos, NULL, "UploadId", &pos);
	if (!err && !*id)
		err = -EIO;
	s3_resp_free(&resp);
	return err;
}

static void s3_mp_abort(struct s3_store *s, const char *full, const char *id)
{
	struct s3_req req = {.method = "DELETE",
			     .key = full,
			     .params = {{"uploadId", id}}};
	struct s3_resp resp = {0};

	if (s3_request(s->s3, &req, &resp))
		log_warn("cannot abort multipart upload key=%s id=%s", full,
			 id);
	s3_resp_free(&resp);
}

/* Records part n's ETag in the completion document parts. */
static void s3_mp_note(struct buf *parts, unsigned n, const char *etag)
{
	buf_addf(parts,
		 "<Part><PartNumber>%u</PartNumber><ETag>%s</ETag>"
		 "</Part>",
		 n, etag);
}

/*
 * Sends part n: data when copy is NULL, else the bytes [from, to] of
 * the object copy.  Adds the part to parts.
 */
static int s3_mp_part(struct s3_store *s, const char *full, const char *id,
		      unsigned n, const void *data, size_t len,
		      const char *copy, uint64_t from, uint64_t to,
		      struct buf *parts)
{
	char num[16], *src = NULL, *hsrc = NULL, *hrange = NULL, *etag;
	struct s3_req req = {.method = "PUT",
			     .key = full,
			     .body = data,
			     .body_len = len};
	struct s3_resp resp = {0};
	const char *pos;
	int err;

	snprintf(num, sizeof(num), "%u", n);
	req.params[0] = (struct s3_param){"partNumber", num};
	req.params[1] = (struct s3_param){"uploadId", id};
	if (copy) {
		src = s3_uri_encode(copy, true);
		hsrc = xasprintf("x-amz-copy-source: /%s/%s", s3_bucket(s->s3),
				 src);
		hrange = xasprintf("x-amz-copy-source-range: bytes=%" PRIu64
				   "-%" PRIu64,
				   from, to);
		req.headers[0] = hsrc;
		req.headers[1] = hrange;
	}
	err = s3_request(s->s3, &req, &resp);
	pos = resp.body.data;
	etag = copy && !err ? s3_xml_take(pos, NULL, "ETag", &pos)
			    : xstrdup(resp.etag);
	if (!err && (!etag || !*etag))
		err = -EIO;
	if (!err)
		s3_mp_note(parts, n, etag);
	free(etag);
	s3_resp_free(&resp);
	free(src);
	free(hsrc);
	free(hrange);
	return err;
}

static int s3_mp_complete(struct s3_store *s, const char *full, const char *id,
			  const struct buf *parts)
{
	char *doc = xasprintf("<CompleteMultipartUpload>%s"
			      "</CompleteMultipartUpload>",
			      parts->data ? parts->data : "");
	struct s3_req req = {.method = "POST",
			     .key = full,
			     .params = {{"uploadId", id}},
			     .body = doc,
			     .body_len = strlen(doc)};
	struct s3_resp resp = {0};
	int err = s3_request(s->s3, &req, &resp);

	/* Completion can fail after its 200 status; the body tells. */
	if (!err && strstr(resp.body.data, "<Error>"))
		err = -EIO;
	s3_resp_free(&resp);
	free(doc);
	return err;
}

/* Makes dst from the extents by server-side part copies. */
static int s3_multipart_copy(struct s3_store *s, const struct s3_extents *e,
			     const char *dst)
{
	struct buf parts = {0};
	unsigned n = 0;
	uint64_t at, len;
	char *id;
	int err = s3_mp_start(s, dst, &id);

	for (size_t i = 0; !err && i < e->n; i++) {
		for (at = 0; !err && (at < e->v[i].size || at == 0);
		     at += len) {
			len = e->v[i].size - at;
			if (len > S3_COPY_MAX)
				len = S3_COPY_PIECE;
			if (len == 0)
				break;
			err = s3_mp_part(s, dst, id, ++n, NULL, 0, e->v[i].key,
					 at, at + len - 1, &parts);
		}
	}
	if (!err && n == 0)
		err = s3_mp_part(s, dst, id, ++n, "", 0, NULL, 0, 0, &parts);
	if (!err)
		err = s3_mp_complete(s, dst, id, &parts);
	if (err && id)
		s3_mp_abort(s, dst, id);
	buf_free(&parts);
	free(id);
	return err;
}

static int s3_reader_open_extents(struct s3_store *s, struct s3_extents *e,
				  uint64_t offset, struct store_reader **out);

/* Makes dst from the extents by reading them through, a chunk a part. */
static int s3_multipart_stream(struct s3_store *s, struct s3_extents *e,
			       const char *dst)
{
	struct s3_extents copy = {0};
	struct store_reader *r = NULL;
	struct buf parts = {0}, chunk = {0};
	unsigned n = 0;
	long got = 1;
	char *id = NULL;
	int err;

	for (size_t i = 0; i < e->n; i++)
		s3_extents_add(&copy, e->v[i].key, e->v[i].size, 0);
	err = s3_reader_open_extents(s, &copy, 0, &r);
	if (!err)
		err = s3_mp_start(s, dst, &id);
	buf_grow(&chunk, s->chunksize);

	while (!err && got > 0) {
		got = store_read(r, chunk.data + chunk.len,
				 s->chunksize - chunk.len);
		if (got < 0)
			err = (int)got;
		else
			chunk.len += (size_t)got;
		if (!err && (chunk.len == s->chunksize ||
			     (got == 0 && (chunk.len || n == 0)))) {
			err = s3_mp_part(s, dst, id, ++n, chunk.data, chunk.len,
					 NULL, 0, 0, &parts);
			chunk.len = 0;
		}
	}
	if (!err)
		err = s3_mp_complete(s, dst, id, &parts);
	if (err && id)
		s3_mp_abort(s, dst, id);
	store_reader_close(r);
	buf_free(&parts);
	buf_free(&chunk);
	free(id);
	return err;
}

/* Appends s with XML's special characters escaped to b. */
static void s3_xml_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '&')
			buf_adds(b, "&amp;");
		else if (*s == '<')
			buf_adds(b, "&lt;");
		else if (*s == '>')
			buf_adds(b, "&gt;");
		else
			buf_add(b, s, 1);
	}
}

/* Deletes n objects in one request; any key it could not is an error. */
static int s3_delete_batch(struct s3_store *s, const struct s3_extent *v,
			   size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char b64[32], *hmd5;
	struct buf doc = {0};
	struct s3_resp resp = {0};
	int err;

	buf_adds(&doc, "<Delete><Quiet>true</Quiet>");
	for (size_t i = 0; i < n; i++) {
		buf_adds(&doc, "<Object><Key>");
		s3_xml_escape(&doc, v[i].key);
		buf_adds(&doc, "</Key></Object>");
	}
	buf_adds(&doc, "</Delete>");
	EVP_Digest(doc.data, doc.len, md, &mdlen, EVP_md5(), NULL);
	EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
	hmd5 = xasprintf("Content-MD5: %s", b64);

	struct s3_req req = {.method = "POST",
			     .key = NULL,
			     .params = {{"delete", ""}},
			     .headers = {hmd5},
			     .body = doc.data,
			     .body_len = doc.len,
			     .max_response = 1 << 20};
	err = s3_request(s->s3, &req, &resp);
	if (!err && strstr(resp.body.data, "<Error>"))
		err = -EIO;
	s3_resp_free(&resp);
	buf_free(&doc);
	free(hmd5);
	return err;
}

/* ---- readers ---- */

/*
 * Finds the extent holding the reader's offset: sets *at to the offset
 * within it and returns its index, or e->n at the end.
 */
static size_t s3_reader_extent(const struct s3_reader *r, uint64_t *at)
{
	size_t i = 0;

	*at = r->base.offset;
	while (i < r->ext.n && *at >= r->ext.v[i].size)
		*at -= r->ext.v[i++].size;
	return i;
}

/* Fetches the next window, the last bytes of an extent, into r->win. */
static int s3_reader_fill(struct s3_reader *r, size_t i, uint64_t at,
			  uint64_t len)
{
	char range[64];
	struct s3_resp resp = {0};
	int err;

	snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-%" PRIu64, at,
		 at + len - 1);
	struct s3_req req = {.method = "GET",
			     .key = r->ext.v[i].key,
			     .headers = {range},
			     .max_response = S3_WINDOW};
	err = s3_request(r->s->s3, &req, &resp);
	if (!err && resp.body.len != len)
		err = -EIO;
	buf_free(&r->win);
	r->win = resp.body;
	r->win_pos = 0;
	if (err)
		r->win.len = 0;
	return err;
}

/* Opens a stream over the rest of extent i, from at, len bytes. */
static int s3_reader_stream(struct s3_reader *r, size_t i, uint64_t at,
			    uint64_t len)
{
	char range[64];
	int err;

	snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-%" PRIu64, at,
		 at + len - 1);
	struct s3_req req = {.method = "GET",
			     .key = r->ext.v[i].key,
			     .headers = {range}};
	err = s3_stream_open(r->s->s3, &req, &r->stream);
	if (err)
		return err;

	/* An object shorter than listed was replaced: not this blob. */
	if (s3_stream_length(r->stream) != len) {
		log_warn("object store sent another length key=%s "
			 "length=%" PRIu64 " want=%" PRIu64,
			 r->ext.v[i].key, s3_stream_length(r->stream), len);
		s3_stream_close(r->stream);
		r->stream = NULL;
		return -EIO;
	}
	r->stream_left = len;
	return 0;
}

/*
 * Reads from the open stream.  A failed one is closed, and reopened from
 * where it stopped by the next read, a few times in a row at most: a
 * body cut short is resumed, never taken for a whole one.
 */
static long s3_reader_from_stream(struct s3_reader *r, void *buf, size_t len)
{
	long n;

	if (len > r->stream_left)
		len = (size_t)r->stream_left;
	n = s3_stream_read(r->stream, buf, len);
	if (n == 0 && r->stream_left)
		n = -EIO;
	if (n < 0 || r->stream_left == (uint64_t)n) {
		s3_stream_close(r->stream);
		r->stream = NULL;
	}
	if (n < 0)
		return ++r->stream_failures > S3_STREAM_RETRIES ? n : 0;

	r->stream_failures = 0;
	r->stream_left -= (uint64_t)n;
	r->base.offset += (uint64_t)n;
	return n;
}

/*
 * Starts on the next bytes: the last of an extent in one request, on the
 * thread's kept connection; more than that through a stream, so that a
 * big blob costs one request and a window of memory.
 */
static int s3_reader_next(struct s3_reader *r)
{
	uint64_t at, left;
	size_t i = s3_reader_extent(r, &at);

	if (i == r->ext.n)
		return -EIO; /* the extents fell short of the size */
	left = r->ext.v[i].size - at;
	if (left <= S3_WINDOW)
		return s3_reader_fill(r, i, at, left);
	return s3_reader_stream(r, i, at, left);
}

static long s3_reader_read(struct store_reader *br, void *buf, size_t len)
{
	struct s3_reader *r = (struct s3_reader *)br;
	size_t n;
	long got = 0;
	int err;

	while (got == 0 && r->win_pos == r->win.len) {
		if (br->offset >= br->size || len == 0)
			return 0;
		if (!r->stream) {
			err = s3_reader_next(r);
			if (err)
				return err;
		}
		if (r->stream)
			got = s3_reader_from_stream(r, buf, len);
	}
	if (got)
		return got;

	n = r->win.len - r->win_pos;
	if (n > len)
		n = len;
	memcpy(buf, r->win.data + r->win_pos, n);
	r->win_pos += n;
	br->offset += n;
	return (long)n;
}

static void s3_reader_close(struct store_reader *br)
{
	struct s3_reader *r = (struct s3_reader *)br;

	s3_stream_close(r->stream);
	s3_extents_free(&r->ext);
	buf_free(&r->win);
	free(r);
}

static const struct store_reader_ops s3_reader_ops = {
	.read = s3_reader_read,
	.fd = NULL,
	.close = s3_reader_close,
};

/* Opens a reader over e, which it takes over (e is left empty). */
static int s3_reader_open_extents(struct s3_store *s, struct s3_extents *e,
				  uint64_t offset, struct store_reader **out)
{
	struct s3_reader *r;

	if (offset > e->size) {
		s3_extents_free(e);
		return -EINVAL;
	}
	r = xcalloc(1, sizeof(*r));
	r->base.ops = &s3_reader_ops;
	r->base.size = e->size;
	r->base.offset = offset;
	r->s = s;
	r->ext = *e;
	memset(e, 0, sizeof(*e));
	*out = &r->base;
	return 0;
}

static int s3_reader_open(struct store *st, const char *key, uint64_t offset,
			  struct store_reader **out)
{
	struct s3_store *s = s3_store_of(st);
	char *full = s3_full(s, key);
	struct s3_extents e;
	int err = s3_resolve(s, full, &e);

	free(full);
	if (err)
		return err;
	return s3_reader_open_extents(s, &e, offset, out);
}

/* ---- writers ---- */

/* Stores the pending bytes as the segment at the flushed offset. */
static int s3_writer_flush(struct s3_writer *w)
{
	char *seg;
	int err;

	if (w->pending.len == 0)
		return 0;
	seg = xasprintf("%s" S3_PARTS "/%020" PRIu64, w->key, w->flushed);
	err = s3_put_full(w->s, seg, w->pending.data, w->pending.len);
	free(seg);
	if (!err)
		w->flushed += w->pending.len;
	/* Failed bytes are dropped, as the filesystem cuts them off. */
	w->pending.len = 0;
	w->base.size = w->flushed;
	return err;
}

static int s3_writer_write(struct store_writer *bw, const void *data,
			   size_t len)
{
	struct s3_writer *w = (struct s3_writer *)bw;
	const char *p = data;
	size_t n;
	int err;

	while (len > 0) {
		n = w->s->chunksize - w->pending.len;
		if (n > len)
			n = len;
		buf_add(&w->pending, p, n);
		bw->size += n;
		p += n;
		len -= n;
		if (w->pending.len == w->s->chunksize) {
			err = s3_writer_flush(w);
			if (err)
				return err;
		}
	}
	return 0;
}

/*
 * An object nothing was ever written to (an empty blob's upload) must
 * still exist once committed, as an empty file does: unless it already
 * has segments, it becomes a whole empty object, which a later append
 * adopts like any other.
 */
static int s3_writer_commit(struct store_writer *bw)
{
	struct s3_writer *w = (struct s3_writer *)bw;
	struct s3_extents e = {0};
	int err;

	if (w->flushed > 0 || w->pending.len > 0)
		return s3_writer_flush(w);

	err = s3_segments(w->s, w->key, &e);
	if (!err && e.n == 0)
		err = s3_put_full(w->s, w->key, "", 0);
	s3_extents_free(&e);
	return err;
}

static void s3_writer_close(struct store_writer *bw)
{
	struct s3_writer *w = (struct s3_writer *)bw;

	buf_free(&w->pending);
	free(w->key);
	free(w);
}

static const struct store_writer_ops s3_writer_ops = {
	.write = s3_writer_write,
	.commit = s3_writer_commit,
	.close = s3_writer_close,
};

/*
 * Makes full appendable: a whole object there becomes segment zero, so
 * that the segments alone hold the bytes.  Returns the size in *size.
 */
static int s3_writer_adopt(struct s3_store *s, const char *full, uint64_t *size)
{
	struct s3_extents e = {0};
	const struct s3_extent *last;
	char *seg;
	int err = s3_segments(s, full, &e);

	if (err)
		return err;
	if (e.n) {
		last = &e.v[e.n - 1];
		*size = strtoull(last->key + strlen(last->key) - 20, NULL, 10) +
			last->size;
		s3_extents_free(&e);
		return 0;
	}

	*size = 0;
	seg = xasprintf("%s" S3_PARTS "/%020d", full, 0);
	err = s3_copy_object(s, full, seg);
	if (!err)
		err = s3_delete_full(s, full);
	else if (err == -ENOENT)
		err = 0;
	if (!err)
		err = s3_head(s, seg, size, &(int64_t){0});
	if (err == -ENOENT)
		err = 0;
	free(seg);
	return err;
}

static int s3_writer_open(struct store *st, const char *key, bool append,
			  struct store_writer **out)
{
	struct s3_store *s = s3_store_of(st);
	char *full = s3_full(s, key);
	struct s3_writer *w;
	uint64_t size = 0;
	int err;

	if (append)
		err = s3_writer_adopt(s, full, &size);
	else
		err = s3_remove(st, key);
	if (err && err != -ENOENT) {
		free(full);
		return err;
	}

	w = xcalloc(1, sizeof(*w));
	w->base.ops = &s3_writer_ops;
	w->base.size = size;
	w->s = s;
	w->key = full;
	w->flushed = size;
	*out = &w->base;
	return 0;
}

/* Writes and removes a small object, which fails when the bucket is
 * gone, full or not ours to write. */
static int s3_check(struct store *st)
{
	struct s3_store *s = s3_store_of(st);
	char *full = xasprintf("%s.berth-check", s->root);
	int err = s3_put_full(s, full, "berth\n", 6);

	if (!err)
		err = s3_delete_full(s, full);
	free(full);
	return err;
}

static void s3_store_close(struct store *st)
{
	struct s3_store *s = s3_store_of(st);

	if (!s)
		return;
	s3_close(s->s3);
	free(s->root);
	free(s->encrypt_hdr);
	free(s->class_hdr);
	free(s);
}

/*
 * Nothing is sent: the URL names the whole object at the full key.  An
 * object still held as segments (an upload in progress) has no such
 * object, and its URL would answer 404; blob data never is one, since
 * it only comes to be by put or by a move, which both leave it whole.
 */
static int s3_presign_op(struct store *st, const char *key, const char *method,
			 int64_t expires, char **url)
{
	struct s3_store *s = s3_store_of(st);
	char *full;

	*url = NULL;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return -ENOTSUP;
	full = s3_full(s, key);
	*url = s3_presign(s->s3, method, full, expires, 0);
	free(full);
	return 0;
}

static const struct store_ops s3_ops = {
	.name = "s3",
	.get = s3_get,
	.put = s3_put,
	.put_new = s3_put_new,
	.stat = s3_stat,
	.list = s3_list,
	.move = s3_move,
	.remove = s3_remove,
	.reader_open = s3_reader_open,
	.writer_open = s3_writer_open,
	.check = s3_check,
	.close = s3_store_close,
	.presign = s3_presign_op,
	/*
	 * Objects appear whole or not at all, so a crash leaves no partial
	 * object behind to sweep.
	 *
	 * NEEDSWORK: the parts of a multipart upload a crash interrupted
	 * stay in the bucket, billed and invisible to listings, until a
	 * bucket lifecycle rule aborts incomplete uploads; berth lists
	 * none of them itself.
	 */
	.sweep = NULL,
};

/* "a/b/" from "/a/b", "a/b" or "a/b/"; "" for none. */
static char *s3_root(const char *dir)
{
	size_t n;

	dir = dir ? dir + strspn(dir, "/") : "";
	n = strlen(dir);
	while (n && dir[n - 1] == '/')
		n--;
	return n ? xasprintf("%.*s/", (int)n, dir) : xstrdup("");
}

int store_s3_open(const struct store_s3_options *o, struct store **out,
		  char *err, size_t errlen)
{
	struct s3_store *s;
	struct s3 *c;

	if (!o->s3.bucket || !*o->s3.bucket) {
		set_error(err, errlen, "storage.s3.bucket is required");
		return -EINVAL;
	}
	if (s3_open(&o->s3, &c, err, errlen))
		return -EINVAL;

	s = xcalloc(1, sizeof(*s));
	s->base.ops = &s3_ops;
	s->s3 = c;
	s->root = s3_root(o->rootdirectory);
	s->chunksize = o->chunksize ? o->chunksize : 10U << 20;
	if (o->encrypt)
		s->encrypt_hdr = xstrdup("x-amz-server-side-encryption: "
					 "AES256");
	if (o->storageclass && *o->storageclass &&
	    strcasecmp(o->storageclass, "NONE"))
		s->class_hdr =
			xasprintf("x-amz-storage-class: %s", o->storageclass);
	*out = &s->base;
	return 0;
}
