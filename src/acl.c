/*
 * acl.c - matches repository patterns and applies the access rules.
 *
 * Matching walks the pattern's components once, keeping the set of
 * positions in the repository name that the pattern so far can reach.
 * That keeps patterns with several "**" linear in the name's length
 * instead of backtracking through every way to split it.
 */
#include "acl.h"
#include "util.h"

#include <jansson.h>

#include <stdbool.h>
#include <string.h>

/* A repository name of 255 bytes has at most 128 components. */
#define ACL_MAX_COMPONENTS 128

static bool pattern_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '-' || c == '*';
}

bool acl_pattern_valid(const char *pattern)
{
	size_t len = strlen(pattern);
	const char *p = pattern;

	if (len == 0 || len > ACL_PATTERN_MAX)
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 0)
			return false; /* "", leading, doubled '/' */
		for (size_t i = 0; i < n; i++)
			if (!pattern_char_ok(p[i]))
				return false;
		if (memmem(p, n, "**", 2) && n != 2)
			return false; /* "a**" or "***" */
		p += n;
		if (*p == '/' && !*++p)
			return false; /* trailing '/' */
	}
	return true;
}

/*
 * Matches one pattern component against one name component, '*' taking
 * any run of characters.  On a mismatch it retries from the last '*'
 * with one more character swallowed, which is enough for globs.
 */
static bool glob(const char *p, size_t plen, const char *s, size_t slen)
{
	size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;

	while (si < slen) {
		if (pi < plen && p[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (pi < plen && p[pi] == s[si]) {
			pi++;
			si++;
		} else if (star != (size_t)-1) {
			pi = star + 1;
			si = ++mark;
		} else {
			return false;
		}
	}
	while (pi < plen && p[pi] == '*')
		pi++;
	return pi == plen;
}

struct parts {
	const char *at[ACL_MAX_COMPONENTS];
	size_t len[ACL_MAX_COMPONENTS];
	size_t n;
};

/* Splits a name at '/'; false if it has too many components. */
static bool split(const char *s, struct parts *out)
{
	out->n = 0;
	while (*s) {
		size_t n = strcspn(s, "/");

		if (out->n == ACL_MAX_COMPONENTS)
			return false;
		out->at[out->n] = s;
		out->len[out->n++] = n;
		s += n + (s[n] == '/');
	}
	return true;
}

/* Advances reach[] over one pattern component; false if none is left. */
static bool step(bool *reach, const struct parts *name, const char *pc,
		 size_t plen)
{
	bool any = false;

	if (plen == 2 && pc[0] == '*' && pc[1] == '*') {
		for (size_t j = 1; j <= name->n; j++)
			reach[j] = reach[j] || reach[j - 1];
		return true;
	}
	for (size_t j = name->n; j > 0; j--) {
		reach[j] = reach[j - 1] &&
			   glob(pc, plen, name->at[j - 1], name->len[j - 1]);
		any = any || reach[j];
	}
	reach[0] = false;
	return any;
}

bool acl_match(const char *pattern, const char *repo)
{
	bool reach[ACL_MAX_COMPONENTS + 1] = {true};
	struct parts name;
	const char *p = pattern;

	if (!*repo || !split(repo, &name))
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (!step(reach, &name, p, n))
			return false;
		p += n + (p[n] == '/');
	}
	return reach[name.n];
}

static bool in_list(char *const *list, const char *word)
{
	for (; list && *list; list++)
		if (!strcmp(*list, word))
			return true;
	return false;
}

static bool in_group(const struct config_access *policy, const char *group,
		     const char *user)
{
	for (size_t i = 0; i < policy->groups_count; i++)
		if (!strcmp(policy->groups[i].name, group))
			return in_list(policy->groups[i].members, user);
	return false;
}

/* Whether a rule names user, directly, as "*" or through a group. */
static bool rule_names(const struct config_access *policy,
		       const struct config_access_rule *r, const char *user)
{
	if (in_list(r->users, user) || in_list(r->users, "*"))
		return true;
	for (char **g = r->groups; g && *g; g++)
		if (in_group(policy, *g, user))
			return true;
	return false;
}

static bool rule_matches(const struct config_access_rule *r, const char *repo)
{
	for (char **p = r->repositories; *p; p++)
		if (acl_match(*p, repo))
			return true;
	return false;
}

/* Whether some anonymous rule lets anyone pull something. */
static bool anonymous_pulls(const struct config_access *policy)
{
	for (size_t i = 0; i < policy->anonymous_count; i++)
		if (policy->anonymous[i].actions & CONFIG_ACTION_PULL)
			return true;
	return false;
}

/*
 * The actions user (NULL for anonymous) may perform on repo: the union
 * over every rule that applies, so pull from one rule and push from
 * another add up to both.  Anonymous rules apply to everyone.
 */
static unsigned granted(const struct config_access *policy, const char *user,
			const char *repo)
{
	unsigned bits = 0;

	for (size_t i = 0; i < policy->anonymous_count; i++)
		if (rule_matches(&policy->anonymous[i], repo))
			bits |= policy->anonymous[i].actions;
	if (!user)
		return bits;
	if (in_list(policy->admins, user))
		return CONFIG_ACTION_PULL | CONFIG_ACTION_PUSH |
		       CONFIG_ACTION_DELETE;

	for (size_t i = 0; i < policy->rules_count; i++) {
		const struct config_access_rule *r = &policy->rules[i];

		if ((r->actions & ~bits) && rule_names(policy, r, user) &&
		    rule_matches(r, repo))
			bits |= r->actions;
	}
	return bits;
}

bool acl_allows(const struct config_access *policy, const char *user,
		const char *repo, unsigned action)
{
	if (!policy)
		return user != NULL;
	if (!repo)
		return user != NULL || anonymous_pulls(policy);
	return (granted(policy, user, repo) & action) == action;
}

int acl_patterns_from_json(const json_t *v, const char *at, char ***out,
			   char *err, size_t errlen)
{
	size_t n = json_is_array(v) ? json_array_size(v) : 1;

	if (!json_is_array(v) && !json_is_string(v)) {
		set_error(err, errlen,
			  "%s.repositories: expected a list of repository "
			  "patterns",
			  at);
		return -1;
	}
	if (n == 0) {
		set_error(err, errlen, "%s.repositories: the list is empty",
			  at);
		return -1;
	}

	*out = xcalloc(n + 1, sizeof(**out));
	for (size_t i = 0; i < n; i++) {
		const json_t *p = json_is_array(v) ? json_array_get(v, i) : v;
		const char *s = json_string_value(p);

		if (!s || !acl_pattern_valid(s)) {
			set_error(err, errlen,
				  "%s.repositories: \"%s\" is not a "
				  "repository pattern",
				  at, s ? s : "(not a string)");
			return -1;
		}
		(*out)[i] = xstrdup(s);
	}
	return 0;
}
