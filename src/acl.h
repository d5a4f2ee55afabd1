/*
 * acl.h - repository permissions: who may pull, push or delete where.
 *
 * The rules come from the access section of the configuration (struct
 * config_access).  Repository patterns are matched per path component:
 * '*' stands for any run of characters inside one component, and a
 * component "**" for any number of components, none included: "team"
 * followed by a "**" component covers "team", "team/app" and
 * "team/app/db".
 */
#ifndef BERTH_ACL_H
#define BERTH_ACL_H

#include "config.h"

#include <stdbool.h>

/* Longest pattern, the longest repository name berth accepts. */
#define ACL_PATTERN_MAX 255

/*
 * True if pattern is usable: 1 to ACL_PATTERN_MAX bytes of components
 * separated by single '/', each made of lower-case letters, digits,
 * '.', '_', '-' and '*', with "**" only as a whole component.
 */
bool acl_pattern_valid(const char *pattern);

/* True if repo (a repository name) matches pattern. */
bool acl_match(const char *pattern, const char *repo);

/*
 * Decides whether user (NULL for anonymous) may perform the actions in
 * action (enum config_action bits) on repo.  All of them are needed, and
 * they add up across rules: pull from one and push from another allow
 * both.  Anonymous rules apply to logged-in users too.  A NULL
 * repo is the registry itself (/v2/, the catalog): every logged-in user
 * may see it, and anonymous users if any anonymous rule allows pulling.
 * A NULL policy lets every logged-in user do everything and anonymous
 * users nothing.
 */
bool acl_allows(const struct config_access *policy, const char *user,
		const char *repo, unsigned action);

/*
 * Reads the "repositories" value of a rule written as JSON (a pattern or
 * a list of them) into *out, a new NULL-terminated array of copies.  at
 * names the rule in messages.  Returns 0, or -1 with a message in err
 * (*out may then hold the patterns read so far; the caller frees them).
 */
struct json_t;
int acl_patterns_from_json(const struct json_t *v, const char *at, char ***out,
			   char *err, size_t errlen);

#endif
