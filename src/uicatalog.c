/*
 * uicatalog.c - per-user lists of visible repositories, kept in a few
 * slots behind one mutex.
 *
 * A view holds a reference to the name snapshot its indexes point into.
 * When the snapshot is replaced, every view of the old one is dropped at
 * the next request, so old snapshots (megabytes with 100,000 names) do
 * not pile up; a view still being read lives until it is released.
 */
#include "uicatalog.h"
#include "access.h"
#include "tagcache.h"
#include "util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define UICATALOG_USERS 32

struct view {
	struct uicatalog_view v; /* first, so a view is its entry */
	unsigned refs;		 /* under the lock */
	const struct access *access;
	char *user;
	uint32_t *visible;
	uint64_t used;
};

struct uicatalog {
	struct tagcache *tc;
	pthread_mutex_t lock;
	struct view *slots[UICATALOG_USERS];
	uint64_t clock;
};

struct uicatalog *uicatalog_new(struct tagcache *tc)
{
	struct uicatalog *uc = xcalloc(1, sizeof(*uc));

	uc->tc = tc;
	pthread_mutex_init(&uc->lock, NULL);
	return uc;
}

/* Drops a reference; the caller holds the lock. */
static void view_unref(struct uicatalog *uc, struct view *v)
{
	if (--v->refs)
		return;
	tagcache_release_repos(uc->tc, v->v.names);
	free(v->visible);
	free(v->user);
	free(v);
}

void uicatalog_free(struct uicatalog *uc)
{
	if (!uc)
		return;
	for (size_t i = 0; i < UICATALOG_USERS; i++)
		if (uc->slots[i])
			view_unref(uc, uc->slots[i]);
	pthread_mutex_destroy(&uc->lock);
	free(uc);
}

static bool same_user(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/*
 * Finds the view for (a, user) over names, dropping views of older
 * snapshots on the way; the caller holds the lock.
 */
static struct view *find(struct uicatalog *uc, const struct index_page *names,
			 const struct access *a, const char *user)
{
	struct view *found = NULL;

	for (size_t i = 0; i < UICATALOG_USERS; i++) {
		struct view *v = uc->slots[i];

		if (v && v->v.names != names) {
			uc->slots[i] = NULL;
			view_unref(uc, v);
		} else if (v && v->access == a && same_user(v->user, user)) {
			found = v;
		}
	}
	return found;
}

/* Puts v in the emptiest or least recently used slot; under the lock. */
static void keep(struct uicatalog *uc, struct view *v)
{
	size_t at = 0;

	for (size_t i = 0; i < UICATALOG_USERS; i++) {
		if (!uc->slots[i]) {
			at = i;
			break;
		}
		if (uc->slots[i]->used < uc->slots[at]->used)
			at = i;
	}
	if (uc->slots[at])
		view_unref(uc, uc->slots[at]);
	uc->slots[at] = v;
}

static struct view *build(const struct index_page *names, struct access *a,
			  const char *user)
{
	struct view *v = xcalloc(1, sizeof(*v));

	v->v.names = names;
	v->access = a;
	v->user = user ? xstrdup(user) : NULL;
	v->visible = xcalloc(names->count + 1, sizeof(*v->visible));
	for (size_t i = 0; i < names->count; i++)
		if (access_may(a, user, names->names[i], ACCESS_PULL))
			v->visible[v->v.count++] = (uint32_t)i;
	v->v.visible = v->visible;
	return v;
}

const struct uicatalog_view *uicatalog_get(struct uicatalog *uc,
					   struct access *a, const char *user)
{
	const struct index_page *names = tagcache_repos(uc->tc);
	struct view *v;

	pthread_mutex_lock(&uc->lock);
	v = find(uc, names, a, user);
	if (v) {
		v->refs++;
		v->used = ++uc->clock;
	}
	pthread_mutex_unlock(&uc->lock);
	if (v) {
		tagcache_release_repos(uc->tc, names);
		return &v->v;
	}

	/* Two requests may build the same view; both are right. */
	v = build(names, a, user);
	pthread_mutex_lock(&uc->lock);
	v->refs = 2; /* the slot's and the caller's */
	v->used = ++uc->clock;
	find(uc, names, a, user); /* for its dropping of old views */
	keep(uc, v);
	pthread_mutex_unlock(&uc->lock);
	return &v->v;
}

void uicatalog_release(struct uicatalog *uc, const struct uicatalog_view *v)
{
	if (!v)
		return;
	pthread_mutex_lock(&uc->lock);
	view_unref(uc, (struct view *)v);
	pthread_mutex_unlock(&uc->lock);
}
