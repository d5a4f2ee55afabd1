/*
 * blobstats.c - the periodic blob count behind the storage gauges.
 *
 * registry:2's tree keeps every blob once, at
 * blobs/<alg>/<2 hex>/<hex>/data, whatever repositories link it, so
 * counting data objects there counts the bytes the store really holds
 * for content.  Upload sessions in progress are not blobs and are not
 * counted.
 */
#include "blobstats.h"
#include "layout.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct blobstats {
	struct store *st;
	int64_t interval;
	int stopping; /* read by the walk without the lock */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
};

struct count_walk {
	struct store *st;
	const int *stop;
	const char *dir; /* the key being listed */
	int depth;	 /* 0: algorithms, 1: prefixes, 2: blobs */
	uint64_t blobs;
	uint64_t bytes;
};

static bool stopped(const struct count_walk *w)
{
	return w->stop && __atomic_load_n(w->stop, __ATOMIC_RELAXED);
}

static void count_blob(struct count_walk *w, const char *dir)
{
	char *key = xasprintf("%s/data", dir);
	struct store_stat sst;

	if (w->st->ops->stat(w->st, key, &sst) == 0 && !sst.is_dir) {
		w->blobs++;
		w->bytes += sst.size;
	}
	free(key);
}

static int walk_dir(struct count_walk *w, const char *dir);

static int on_entry(void *arg, const char *name, bool is_dir)
{
	struct count_walk *w = arg;
	const char *parent = w->dir;
	char *key;

	if (stopped(w))
		return 1;
	if (!is_dir || name[0] == '.')
		return 0;

	key = xasprintf("%s/%s", parent, name);
	if (w->depth == 2) {
		count_blob(w, key);
	} else {
		w->depth++;
		walk_dir(w, key);
		w->depth--;
	}
	w->dir = parent;
	free(key);
	return 0;
}

static int walk_dir(struct count_walk *w, const char *dir)
{
	const char *parent = w->dir;
	int err;

	w->dir = dir;
	err = w->st->ops->list(w->st, dir, on_entry, w);
	w->dir = parent;
	return err;
}

int blobstats_count(struct store *st, const int *stop, uint64_t *blobs,
		    uint64_t *bytes)
{
	struct count_walk w = {.st = st, .stop = stop};
	int err = walk_dir(&w, LAYOUT_ROOT "/blobs");

	if (err == -ENOENT)
		err = 0;
	if (!err && stopped(&w))
		err = -ECANCELED;
	*blobs = w.blobs;
	*bytes = w.bytes;
	return err;
}

static void count_once(struct blobstats *b)
{
	uint64_t started = now_monotonic_ns();
	uint64_t blobs, bytes;
	int err;

	metrics_storage_count_begin();
	err = blobstats_count(b->st, &b->stopping, &blobs, &bytes);
	if (err == -ECANCELED)
		return;
	if (err) {
		log_warn("blob count failed err=\"%s\"", store_strerror(err));
		return;
	}
	metrics_storage_set(blobs, bytes, now_seconds());
	log_debug("blobs counted blobs=%llu bytes=%llu ms=%llu",
		  (unsigned long long)blobs, (unsigned long long)bytes,
		  (unsigned long long)((now_monotonic_ns() - started) /
				       1000000));
}

/* Sleeps up to seconds; returns true when asked to stop. */
static bool nap(struct blobstats *b, int64_t seconds)
{
	struct timespec until;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&b->lock);
	while (!b->stopping &&
	       pthread_cond_timedwait(&b->wake, &b->lock, &until) != ETIMEDOUT)
		;
	stop = b->stopping;
	pthread_mutex_unlock(&b->lock);
	return stop;
}

static void *run(void *arg)
{
	struct blobstats *b = arg;

	do
		count_once(b);
	while (!nap(b, b->interval));
	return NULL;
}

struct blobstats *blobstats_start(struct store *st, int64_t interval)
{
	struct blobstats *b = xcalloc(1, sizeof(*b));

	b->st = st;
	b->interval = interval > 0 ? interval : 1;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->wake, NULL);
	if (pthread_create(&b->thread, NULL, run, b) != 0) {
		log_error("cannot start the blob counter");
		pthread_cond_destroy(&b->wake);
		pthread_mutex_destroy(&b->lock);
		free(b);
		return NULL;
	}
	return b;
}

void blobstats_stop(struct blobstats *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	__atomic_store_n(&b->stopping, 1, __ATOMIC_RELAXED);
	pthread_cond_signal(&b->wake);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->thread, NULL);
	pthread_cond_destroy(&b->wake);
	pthread_mutex_destroy(&b->lock);
	free(b);
}
