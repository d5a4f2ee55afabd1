/*
 * health.c - the storage checker thread and its cached verdict.
 *
 * Only the checker thread ever touches the store, so a store that hangs
 * holds one thread and no request.  The verdict changes are logged once
 * each way ("storage unavailable", "storage available again"), not on
 * every check.
 */
#include "health.h"
#include "log.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct health {
	struct store *st;
	unsigned interval_ms;
	bool writes_needed;

	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool stopping;

	/* Guarded by lock. */
	bool shutting_down;
	enum health_state state;
	int err;		/* of the last check, 0 if fine */
	uint64_t check_started; /* monotonic ns, 0 when idle */
};

static enum health_state classify(int err)
{
	switch (err) {
	case 0:
		return HEALTH_OK;
	case -EROFS:
	case -ENOSPC:
	case -EDQUOT:
	case -EACCES:
	case -EPERM:
		return HEALTH_READONLY;
	default:
		return HEALTH_DOWN;
	}
}

static void describe(enum health_state state, int err, char *out, size_t len)
{
	if (!out || !len)
		return;
	if (state == HEALTH_OK)
		snprintf(out, len, "%s", "");
	else if (state == HEALTH_READONLY)
		snprintf(out, len, "storage is not writable: %s",
			 store_strerror(err));
	else
		snprintf(out, len, "storage is unavailable: %s",
			 store_strerror(err));
}

/* Logs a change of verdict; called with the lock held. */
static void note_change(struct health *h, enum health_state was)
{
	char reason[160];

	if (h->state == was)
		return;
	describe(h->state, h->err, reason, sizeof(reason));
	if (h->state == HEALTH_OK)
		log_info("storage available again");
	else
		log_error("storage check failed reason=\"%s\"", reason);
}

static void check_once(struct health *h)
{
	enum health_state was;
	int err;

	pthread_mutex_lock(&h->lock);
	h->check_started = now_monotonic_ns();
	pthread_mutex_unlock(&h->lock);

	err = h->st->ops->check(h->st);

	pthread_mutex_lock(&h->lock);
	was = h->state;
	h->err = err;
	h->state = classify(err);
	h->check_started = 0;
	note_change(h, was);
	pthread_mutex_unlock(&h->lock);
}

static void *run(void *arg)
{
	struct health *h = arg;

	pthread_mutex_lock(&h->lock);
	while (!h->stopping) {
		struct timespec until;
		uint64_t ns;

		clock_gettime(CLOCK_REALTIME, &until);
		ns = (uint64_t)until.tv_nsec +
		     (uint64_t)h->interval_ms * 1000000u;
		until.tv_sec += (time_t)(ns / 1000000000u);
		until.tv_nsec = (long)(ns % 1000000000u);
		while (!h->stopping &&
		       pthread_cond_timedwait(&h->wake, &h->lock, &until) !=
			       ETIMEDOUT)
			;
		if (h->stopping)
			break;
		pthread_mutex_unlock(&h->lock);
		check_once(h);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

struct health *health_new(struct store *st, unsigned interval_ms,
			  bool writes_needed)
{
	struct health *h = xcalloc(1, sizeof(*h));

	h->st = st;
	h->interval_ms = interval_ms ? interval_ms : 1000;
	h->writes_needed = writes_needed;
	h->state = HEALTH_OK;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->wake, NULL);

	check_once(h);
	if (pthread_create(&h->thread, NULL, run, h) != 0) {
		log_error("cannot start the storage checker");
		pthread_cond_destroy(&h->wake);
		pthread_mutex_destroy(&h->lock);
		free(h);
		return NULL;
	}
	return h;
}

void health_free(struct health *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void health_set_stopping(struct health *h)
{
	pthread_mutex_lock(&h->lock);
	h->shutting_down = true;
	pthread_mutex_unlock(&h->lock);
}

enum health_state health_state(struct health *h, char *reason, size_t len)
{
	enum health_state state;
	uint64_t started;
	int err;

	pthread_mutex_lock(&h->lock);
	state = h->state;
	err = h->err;
	started = h->check_started;
	pthread_mutex_unlock(&h->lock);

	if (started &&
	    now_monotonic_ns() - started > HEALTH_HANG_LIMIT * 1000000000ull) {
		if (reason && len)
			snprintf(reason, len,
				 "storage is unavailable: a "
				 "check has not answered for %ds",
				 HEALTH_HANG_LIMIT);
		return HEALTH_DOWN;
	}
	describe(state, err, reason, len);
	return state;
}

bool health_ready(struct health *h, char *reason, size_t len)
{
	enum health_state state = health_state(h, reason, len);
	bool stopping;

	pthread_mutex_lock(&h->lock);
	stopping = h->shutting_down;
	pthread_mutex_unlock(&h->lock);
	if (stopping) {
		if (reason && len)
			snprintf(reason, len, "berth is shutting down");
		return false;
	}

	if (state == HEALTH_READONLY && !h->writes_needed) {
		if (reason && len)
			reason[0] = '\0';
		return true;
	}
	return state == HEALTH_OK;
}
