/*
 * upload.c - blob upload sessions: start, append chunks, commit, cancel.
 *
 * A session lives in the store under the repository's _uploads/<id>/, as
 * registry:2 keeps it, so a session survives a restart.  The running
 * SHA-256 of the bytes received so far is kept in memory, keyed by
 * session; when it is missing (after a restart) or stale (after a failed
 * write), it is rebuilt by reading the stored bytes back.  Requests for
 * one session are serialised by a per-session lock.
 */
#include "hashpipe.h"
#include "layout.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "registry.h"
#include "store.h"

#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REHASH_CHUNK (1024 * 1024)
/* Bytes a request hashes inline before it hands hashing to a thread. */
#define PIPE_AFTER (1024 * 1024)

/* The part of a session that outlives one request. */
struct upload_state {
	struct upload_state *next;
	char *key;	       /* "<repo>/<id>" */
	pthread_mutex_t lock;  /* held by the request appending */
	int refs;	       /* requests holding or waiting for lock */
	struct hasher *hasher; /* SHA-256 of the first offset bytes */
	uint64_t offset;
};

struct upload {
	struct registry *reg;
	struct store *store;
	char *repo;
	char id[UPLOAD_ID_LEN + 1];
	struct upload_state *state;
	struct store_writer *writer;
	struct hash_pipe *pipe; /* hashing on another thread, or NULL */
	uint64_t request_bytes; /* appended by this request */
};

static pthread_mutex_t states_lock = PTHREAD_MUTEX_INITIALIZER;
static struct upload_state *states;

bool upload_id_valid(const char *id)
{
	if (strlen(id) != UPLOAD_ID_LEN)
		return false;
	for (int i = 0; i < UPLOAD_ID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char c = id[i];

		if (dash ? c != '-'
			 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

static void new_id(char id[UPLOAD_ID_LEN + 1])
{
	unsigned char r[16];

	if (RAND_bytes(r, sizeof(r)) != 1) {
		log_error("random number generator failed");
		abort();
	}
	r[6] = (r[6] & 0x0f) | 0x40; /* UUID version 4 */
	r[8] = (r[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	snprintf(id, UPLOAD_ID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
		 r[10], r[11], r[12], r[13], r[14], r[15]);
}

/* Finds or makes the state for a session and takes a reference. */
static struct upload_state *state_get(const char *repo, const char *id)
{
	char *key = xasprintf("%s/%s", repo, id);
	struct upload_state *s;

	pthread_mutex_lock(&states_lock);
	for (s = states; s; s = s->next)
		if (strcmp(s->key, key) == 0)
			break;
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		s->key = key;
		key = NULL;
		pthread_mutex_init(&s->lock, NULL);
		s->next = states;
		states = s;
	}
	s->refs++;
	pthread_mutex_unlock(&states_lock);
	free(key);
	return s;
}

/* Drops a reference; forget also drops the state once unused. */
static void state_put(struct upload_state *s, bool forget)
{
	struct upload_state **p;

	pthread_mutex_lock(&states_lock);
	s->refs--;
	if (forget && s->refs == 0) {
		for (p = &states; *p; p = &(*p)->next)
			if (*p == s) {
				*p = s->next;
				break;
			}
		pthread_mutex_destroy(&s->lock);
		hasher_free(s->hasher);
		free(s->key);
		free(s);
	}
	pthread_mutex_unlock(&states_lock);
}

int upload_start(struct registry *reg, const char *repo,
		 char id[UPLOAD_ID_LEN + 1], struct reg_error *e)
{
	struct store *st = registry_store(reg);
	char stamp[32];
	char *key;
	int err;

	new_id(id);
	format_rfc3339(now_seconds(), stamp);
	lifecycle_repo_writing(registry_lifecycle(reg), repo);
	key = layout_upload_startedat(repo, id);
	err = st->ops->put(st, key, stamp, strlen(stamp));
	free(key);
	if (err)
		return reg_fail_store(e, err, "start upload");
	return 0;
}

static int session_exists(struct store *st, const char *repo, const char *id,
			  struct reg_error *e)
{
	struct store_stat sst;
	char *key = layout_upload_startedat(repo, id);
	int err = st->ops->stat(st, key, &sst);

	free(key);
	if (err == -ENOENT)
		return reg_fail(e, REG_BLOB_UPLOAD_UNKNOWN,
				"upload %s is unknown to repository %s", id,
				repo);
	if (err)
		return reg_fail_store(e, err, "stat upload");
	return 0;
}

/* Hashes the bytes already stored, for a state that lost track. */
static int rehash(struct upload *up, enum digest_alg alg, struct hasher **out,
		  uint64_t *size, struct reg_error *e)
{
	struct store_reader *r;
	struct hasher *h;
	char *key = layout_upload_data(up->repo, up->id);
	char *chunk;
	long n;
	int err = up->store->ops->reader_open(up->store, key, 0, &r);

	free(key);
	h = hasher_new(alg);
	*size = 0;
	if (err == -ENOENT) {
		*out = h;
		return 0;
	}
	if (err) {
		hasher_free(h);
		return reg_fail_store(e, err, "read upload");
	}

	chunk = xmalloc(REHASH_CHUNK);
	while ((n = store_read(r, chunk, REHASH_CHUNK)) > 0) {
		hasher_update(h, chunk, (size_t)n);
		*size += (uint64_t)n;
	}
	free(chunk);
	store_reader_close(r);
	if (n < 0) {
		hasher_free(h);
		return reg_fail_store(e, (int)n, "read upload");
	}
	*out = h;
	return 0;
}

/* Waits for the hashing thread, so the state's hasher is current. */
static void drain(struct upload *up)
{
	if (up->pipe) {
		hash_pipe_finish(up->pipe);
		up->pipe = NULL;
	}
}

static void release(struct upload *up, bool forget)
{
	drain(up);
	store_writer_close(up->writer);
	pthread_mutex_unlock(&up->state->lock);
	state_put(up->state, forget);
	free(up->repo);
	free(up);
}

int upload_open(struct registry *reg, const char *repo, const char *id,
		struct upload **out, struct reg_error *e)
{
	struct store *st = registry_store(reg);
	struct upload *up;
	char *key;
	int err;

	if (session_exists(st, repo, id, e))
		return -1;

	up = xcalloc(1, sizeof(*up));
	up->reg = reg;
	up->store = st;
	up->repo = xstrdup(repo);
	memcpy(up->id, id, UPLOAD_ID_LEN + 1);
	up->state = state_get(repo, id);
	pthread_mutex_lock(&up->state->lock);

	key = layout_upload_data(repo, id);
	err = st->ops->writer_open(st, key, true, &up->writer);
	free(key);
	if (err) {
		release(up, false);
		return reg_fail_store(e, err, "open upload");
	}

	if (!up->state->hasher || up->state->offset != up->writer->size) {
		hasher_free(up->state->hasher);
		up->state->hasher = NULL;
		if (rehash(up, DIGEST_SHA256, &up->state->hasher,
			   &up->state->offset, e)) {
			release(up, false);
			return -1;
		}
	}
	*out = up;
	return 0;
}

uint64_t upload_offset(const struct upload *up)
{
	return up->state->offset;
}

int upload_write(struct upload *up, const void *data, size_t len,
		 struct reg_error *e)
{
	int err;

	/* Small uploads hash inline; a large one, once it shows itself,
	 * hashes on another core while this thread receives and writes. */
	if (!up->pipe && up->request_bytes >= PIPE_AFTER)
		up->pipe = hash_pipe_start(up->state->hasher);
	if (up->pipe)
		hash_pipe_push(up->pipe, data, len);
	else
		hasher_update(up->state->hasher, data, len);
	up->request_bytes += len;

	err = store_write(up->writer, data, len);
	if (err) {
		/* Part of the chunk may be stored; the next open rehashes. */
		up->state->offset = UINT64_MAX;
		return reg_fail_store(e, err, "write upload");
	}
	up->state->offset += len;
	return 0;
}

int upload_close(struct upload *up, struct reg_error *e)
{
	int err;

	drain(up);
	err = store_writer_commit(up->writer);

	if (err)
		up->state->offset = UINT64_MAX;
	release(up, false);
	if (err)
		return reg_fail_store(e, err, "sync upload");
	return 0;
}

void upload_abandon(struct upload *up)
{
	up->state->offset = UINT64_MAX;
	release(up, false);
}

static void remove_session(struct store *st, const char *repo, const char *id)
{
	char *key = layout_upload_dir(repo, id);
	int err = st->ops->remove(st, key);

	if (err && err != -ENOENT)
		log_warn("cannot remove upload repo=%s id=%s err=\"%s\"", repo,
			 id, store_strerror(err));
	free(key);
}

/* Computes the digest of the uploaded bytes in expected's algorithm. */
static int final_digest(struct upload *up, const struct digest *expected,
			struct digest *got, struct reg_error *e)
{
	struct hasher *h;
	uint64_t size;

	if (expected->alg == DIGEST_SHA256) {
		h = hasher_dup(up->state->hasher);
	} else if (rehash(up, expected->alg, &h, &size, e)) {
		return -1;
	}
	hasher_final(h, got);
	hasher_free(h);
	return 0;
}

/* Moves the verified bytes to the blob's place, unless already there. */
static int store_blob(struct upload *up, const struct digest *d,
		      struct reg_error *e)
{
	struct store_stat sst;
	char *blob = layout_blob_data(d);
	char *data = layout_upload_data(up->repo, up->id);
	int err = up->store->ops->stat(up->store, blob, &sst);

	if (err == -ENOENT) {
		err = up->store->ops->move(up->store, data, blob);
		if (!err && up->store->ops->stat(up->store, blob, &sst) == 0)
			metrics_storage_add(1, (int64_t)sst.size);
	}
	free(blob);
	free(data);
	if (err)
		return reg_fail_store(e, err, "store blob");
	return 0;
}

int upload_commit(struct upload *up, const struct digest *expected,
		  struct reg_error *e)
{
	struct digest got;
	char want[DIGEST_MAX_STR + 1], have[DIGEST_MAX_STR + 1];
	int err;

	drain(up);
	err = store_writer_commit(up->writer);

	if (err) {
		reg_fail_store(e, err, "sync upload");
		upload_abandon(up);
		return -1;
	}
	if (final_digest(up, expected, &got, e)) {
		upload_abandon(up);
		return -1;
	}

	if (!digest_equal(&got, expected)) {
		digest_format(expected, want);
		digest_format(&got, have);
		reg_fail(e, REG_DIGEST_INVALID,
			 "uploaded content has digest %s, not %s", have, want);
		remove_session(up->store, up->repo, up->id);
		release(up, true);
		return -1;
	}

	if (lifecycle_blob_adding(registry_lifecycle(up->reg), up->repo,
				  expected, up->writer->size, e)) {
		remove_session(up->store, up->repo, up->id);
		release(up, true);
		return -1;
	}
	if (store_blob(up, expected, e) ||
	    registry_link_blob(up->reg, up->repo, expected, e)) {
		upload_abandon(up);
		return -1;
	}
	lifecycle_blob_added(registry_lifecycle(up->reg), up->repo, expected,
			     up->writer->size);
	remove_session(up->store, up->repo, up->id);
	release(up, true);
	return 0;
}

int upload_cancel(struct registry *reg, const char *repo, const char *id,
		  struct reg_error *e)
{
	struct store *st = registry_store(reg);

	if (session_exists(st, repo, id, e))
		return -1;
	remove_session(st, repo, id);
	return 0;
}

int upload_status(struct registry *reg, const char *repo, const char *id,
		  uint64_t *size, struct reg_error *e)
{
	struct store *st = registry_store(reg);
	struct store_stat sst;
	char *key;
	int err;

	if (session_exists(st, repo, id, e))
		return -1;
	key = layout_upload_data(repo, id);
	err = st->ops->stat(st, key, &sst);
	free(key);
	if (err == -ENOENT) {
		*size = 0;
		return 0;
	}
	if (err)
		return reg_fail_store(e, err, "stat upload");
	*size = sst.size;
	return 0;
}
