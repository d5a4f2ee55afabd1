/*
 * uicatalog.h - which repositories each user of the web UI may see.
 *
 * Deciding that is one access_may per repository: with access rules and
 * 100,000 repositories, tens of milliseconds per catalog page.  The
 * answer changes only when the repository names, the rules or the user
 * change, so it is kept for the last few users, per name snapshot
 * (tagcache_repos) and access control object, and worked out again when
 * either is replaced.  Thread-safe.
 */
#ifndef BERTH_UICATALOG_H
#define BERTH_UICATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "index.h"

struct access;
struct tagcache;
struct uicatalog;

/* What one user may see: indexes into names, in name order. */
struct uicatalog_view {
	const struct index_page *names;
	const uint32_t *visible;
	size_t count;
};

/* Keeps views over tc's name snapshots; tc is not owned. */
struct uicatalog *uicatalog_new(struct tagcache *tc);
void uicatalog_free(struct uicatalog *uc);

/*
 * The repositories user (NULL for anonymous) may pull under access
 * control a (not owned; a new object means new rules).  Valid until
 * released with uicatalog_release.
 */
const struct uicatalog_view *uicatalog_get(struct uicatalog *uc,
					   struct access *a, const char *user);
void uicatalog_release(struct uicatalog *uc, const struct uicatalog_view *v);

#endif
