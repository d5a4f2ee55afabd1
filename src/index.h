/*
 * index.h - sorted lists of repositories and of each repository's tags,
 * kept in memory so that a catalog or tag-list page costs O(log n + page)
 * instead of a walk of the store.
 *
 * index_load builds the lists from the store once at start; the registry
 * then reports every change (a tag set or deleted, a repository created
 * or emptied) so the lists stay current.  Changes made by another
 * process on the same storage (a second berth on one bucket) are not
 * reported: index_refresh reads the lists again and swaps them in whole,
 * on a thread of its own every so often with index_refresh_start, so
 * those show within one interval plus one walk.  All functions are
 * thread-safe.
 *
 * Order is byte-wise (strcmp), which the spec's `last` parameter needs.
 * (registry:2 lists in the order of its directory walk instead, which
 * differs only where a name continues with a byte below '/'.)
 */
#ifndef BERTH_INDEX_H
#define BERTH_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct index;
struct store;

struct index *index_new(void);
void index_free(struct index *ix);

/*
 * Walks the store's repositories and fills ix.  A repository is listed
 * when it holds a _manifests directory; its tags are the names under
 * _manifests/tags that have a current/link.  Returns 0 or a negative
 * errno from the store.
 */
int index_load(struct index *ix, struct store *st);

/*
 * Walks the store again while the lists keep serving, then replaces
 * them in one step, with changes reported during the walk applied on
 * top so none is undone.  Only tags new to ix have their links looked
 * at.  Returns 0, -EBUSY when a refresh is already running, or a
 * negative errno from the store (the lists stay as they were).
 */
int index_refresh(struct index *ix, struct store *st);

/*
 * Calls index_refresh on st (not owned; it must outlive the thread)
 * every `seconds` on a thread of its own; seconds <= 0 starts nothing.
 * index_refresh_stop (and index_free) ends it.  Returns 0 or a negative
 * errno when no thread could be made.
 */
int index_refresh_start(struct index *ix, struct store *st, int64_t seconds);
void index_refresh_stop(struct index *ix);

/* The running refresh thread's interval in seconds, or 0 for none. */
int64_t index_refresh_interval(struct index *ix);

/*
 * A number that changes whenever the set of repository names may have
 * changed, so a copy of the names can tell it is stale without a look.
 */
uint64_t index_repos_generation(struct index *ix);

void index_add_repo(struct index *ix, const char *repo);
void index_remove_repo(struct index *ix, const char *repo);
bool index_has_repo(struct index *ix, const char *repo);
/* Adds the repository too, if it is new. */
void index_add_tag(struct index *ix, const char *repo, const char *tag);
void index_remove_tag(struct index *ix, const char *repo, const char *tag);

/*
 * A page of names, owned by the page.  index_list_* copy a page's names
 * into one block, text, that names[i] point into, so a page costs two
 * allocations whatever its length.  A page built by hand may instead
 * leave text NULL and allocate each name; index_page_free frees either.
 */
struct index_page {
	char **names;
	size_t count;
	bool more;  /* names after the last one exist */
	char *text; /* the names, NUL-separated, or NULL */
};

/*
 * Fills page with at most n names strictly after last (NULL or "" for the
 * start).  n == 0 means no limit.  index_list_tags returns -1 when the
 * repository is unknown, 0 otherwise.
 */
void index_list_repos(struct index *ix, const char *last, size_t n,
		      struct index_page *page);
int index_list_tags(struct index *ix, const char *repo, const char *last,
		    size_t n, struct index_page *page);
size_t index_count_tags(struct index *ix, const char *repo);
void index_page_free(struct index_page *page);

#endif
