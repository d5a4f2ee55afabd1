/*
 * index.h - sorted lists of repositories and of each repository's tags,
 * kept in memory so that a catalog or tag-list page costs O(log n + page)
 * instead of a walk of the store.
 *
 * index_load builds the lists from the store once at start; the registry
 * then reports every change (a tag set or deleted, a repository created
 * or emptied) so the lists stay current.  All functions are thread-safe.
 *
 * Order is byte-wise (strcmp), which the spec's `last` parameter needs.
 * (registry:2 lists in the order of its directory walk instead, which
 * differs only where a name continues with a byte below '/'.)
 */
#ifndef BERTH_INDEX_H
#define BERTH_INDEX_H

#include <stdbool.h>
#include <stddef.h>

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

void index_add_repo(struct index *ix, const char *repo);
void index_remove_repo(struct index *ix, const char *repo);
bool index_has_repo(struct index *ix, const char *repo);
/* Adds the repository too, if it is new. */
void index_add_tag(struct index *ix, const char *repo, const char *tag);
void index_remove_tag(struct index *ix, const char *repo, const char *tag);

/* A page of names; names[i] and the array are owned by the page. */
struct index_page {
	char **names;
	size_t count;
	bool more; /* names after the last one exist */
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
