/*
 * purge.c - finds upload sessions under every repository and removes the
 * old ones.
 *
 * Sessions sit at repositories/<name>/_uploads/<id>/startedat; <name> may
 * be nested, so the walk descends every directory that does not start
 * with '_' and looks into each _uploads it meets.  A session's age comes
 * from the time written in startedat, or from the file's modification
 * time when that text cannot be read.
 */
#include "purge.h"
#include "layout.h"
#include "log.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The first pass waits this long, so start-up is not slowed by it. */
#define FIRST_PASS_DELAY 30

struct purge_walk {
	struct store *st;
	int64_t now;
	int64_t age;
	bool dry_run;
	size_t removed;
	const char *dir; /* key of the directory being listed */
};

struct purger {
	struct store *st;
	int64_t age;
	int64_t interval;
	bool dry_run;
	bool stopping;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
};

static int64_t parse_started(const char *text)
{
	struct tm tm = {0};
	const char *end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);

	if (!end)
		return -1;
	return (int64_t)timegm(&tm);
}

static int64_t session_start(struct store *st, const char *session)
{
	char *key = xasprintf("%s/startedat", session);
	struct store_stat sst;
	struct buf b = BUF_INIT;
	int64_t t = -1;

	if (st->ops->get(st, key, 256, &b) == 0 && b.data)
		t = parse_started(b.data);
	if (t == -1 && st->ops->stat(st, key, &sst) == 0)
		t = sst.mtime;
	buf_free(&b);
	free(key);
	return t;
}

static int on_session(void *arg, const char *name, bool is_dir)
{
	struct purge_walk *w = arg;
	char *session;
	int64_t started;

	if (!is_dir)
		return 0;
	session = xasprintf("%s/%s", w->dir, name);
	started = session_start(w->st, session);
	if (started != -1 && w->now - started < w->age)
		goto out;

	w->removed++;
	if (w->dry_run) {
		log_info("upload would be purged key=%s", session);
		goto out;
	}
	if (w->st->ops->remove(w->st, session) == 0)
		log_info("upload purged key=%s", session);
out:
	free(session);
	return 0;
}

static int walk(struct purge_walk *w, const char *dir);

static int on_child(void *arg, const char *name, bool is_dir)
{
	struct purge_walk *w = arg;
	const char *parent = w->dir;
	char *key;

	if (!is_dir)
		return 0;
	if (name[0] == '_' && strcmp(name, "_uploads") != 0)
		return 0;

	key = xasprintf("%s/%s", parent, name);
	if (strcmp(name, "_uploads") == 0) {
		w->dir = key;
		w->st->ops->list(w->st, key, on_session, w);
	} else {
		walk(w, key);
	}
	w->dir = parent;
	free(key);
	return 0;
}

static int walk(struct purge_walk *w, const char *dir)
{
	const char *parent = w->dir;
	int err;

	w->dir = dir;
	err = w->st->ops->list(w->st, dir, on_child, w);
	w->dir = parent;
	return err;
}

int purge_uploads(struct store *st, int64_t now, int64_t age, bool dry_run,
		  size_t *removed)
{
	struct purge_walk w = {st, now, age, dry_run, 0, NULL};
	char *root = layout_repositories();
	int err = walk(&w, root);

	free(root);
	*removed = w.removed;
	return err == -ENOENT ? 0 : err;
}

static void *run(void *arg)
{
	struct purger *p = arg;
	int64_t delay = p->interval < FIRST_PASS_DELAY ? p->interval
						       : FIRST_PASS_DELAY;

	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		struct timespec until;
		size_t removed;
		int err;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += delay;
		while (!p->stopping &&
		       pthread_cond_timedwait(&p->wake, &p->lock, &until) !=
			       ETIMEDOUT)
			;
		if (p->stopping)
			break;

		pthread_mutex_unlock(&p->lock);
		err = purge_uploads(p->st, now_seconds(), p->age, p->dry_run,
				    &removed);
		if (err)
			log_error("upload purge failed err=\"%s\"",
				  store_strerror(err));
		else
			log_info("upload purge done removed=%zu dryrun=%d",
				 removed, p->dry_run);
		pthread_mutex_lock(&p->lock);
		delay = p->interval;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct purger *purge_start(struct store *st, int64_t age, int64_t interval,
			   bool dry_run)
{
	struct purger *p = xcalloc(1, sizeof(*p));

	p->st = st;
	p->age = age;
	p->interval = interval > 0 ? interval : 1;
	p->dry_run = dry_run;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	if (pthread_create(&p->thread, NULL, run, p) != 0) {
		log_error("cannot start the upload purger");
		free(p);
		return NULL;
	}
	return p;
}

void purge_stop(struct purger *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
