/*
 * retention.c - parses retention rules and applies them to a scanned
 * repository (retention.h).
 *
 * Values arrive as the configuration loader hands them over: every
 * scalar a string, so "10" and 10 are both accepted for keeplast.
 * Regular expressions are POSIX extended ones, compiled once here; they
 * match anywhere in the tag unless anchored with ^ and $.
 */
#include "retention.h"
#include "acl.h"
#include "config.h"
#include "scan.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rule {
	char **patterns; /* NULL-terminated */
	long keeplast;	 /* -1: not given */
	bool has_regex;
	regex_t keeptags;
	int64_t olderthan; /* seconds; -1: not given */
};

struct retention {
	struct rule *rules;
	size_t count;
};

/* A scalar's text: strings as they are, integers printed. */
static const char *scalar_text(const json_t *v, char *tmp, size_t len)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(tmp, len, "%lld", (long long)json_integer_value(v));
		return tmp;
	}
	return NULL;
}

static int parse_keeplast(const json_t *v, struct rule *r, const char *at,
			  char *err, size_t errlen)
{
	char tmp[32], *end;
	const char *s = scalar_text(v, tmp, sizeof(tmp));
	long n;

	errno = 0;
	n = s ? strtol(s, &end, 10) : -1;
	if (!s || errno || end == s || *end || n < 0 || n > INT_MAX) {
		set_error(err, errlen,
			  "%s.keeplast: expected a whole number "
			  "of tags, got \"%s\"",
			  at, s ? s : "?");
		return -1;
	}
	r->keeplast = n;
	return 0;
}

static int parse_keeptags(const json_t *v, struct rule *r, const char *at,
			  char *err, size_t errlen)
{
	const char *s = json_string_value(v);
	int rc;

	if (!s || !*s) {
		set_error(err, errlen,
			  "%s.keeptags: expected a regular "
			  "expression",
			  at);
		return -1;
	}
	rc = regcomp(&r->keeptags, s, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char why[128];

		regerror(rc, &r->keeptags, why, sizeof(why));
		set_error(err, errlen, "%s.keeptags: \"%s\": %s", at, s, why);
		return -1;
	}
	r->has_regex = true;
	return 0;
}

static int parse_olderthan(const json_t *v, struct rule *r, const char *at,
			   char *err, size_t errlen)
{
	const char *s = json_string_value(v);

	if (!s || config_parse_duration(s, &r->olderthan) < 0) {
		set_error(err, errlen,
			  "%s.olderthan: expected a duration "
			  "such as 720h, got \"%s\"",
			  at, s ? s : "?");
		return -1;
	}
	return 0;
}

static int parse_member(const char *key, const json_t *v, struct rule *r,
			const char *at, char *err, size_t errlen)
{
	if (!strcmp(key, "repositories"))
		return acl_patterns_from_json(v, at, &r->patterns, err, errlen);
	if (!strcmp(key, "keeplast"))
		return parse_keeplast(v, r, at, err, errlen);
	if (!strcmp(key, "keeptags"))
		return parse_keeptags(v, r, at, err, errlen);
	if (!strcmp(key, "olderthan"))
		return parse_olderthan(v, r, at, err, errlen);
	set_error(err, errlen,
		  "%s.%s: unknown setting; expected "
		  "repositories, keeplast, keeptags or olderthan",
		  at, key);
	return -1;
}

static void rule_clear(struct rule *r)
{
	for (size_t i = 0; r->patterns && r->patterns[i]; i++)
		free(r->patterns[i]);
	free(r->patterns);
	if (r->has_regex)
		regfree(&r->keeptags);
}

static int parse_rule(const json_t *obj, size_t i, struct rule *r, char *err,
		      size_t errlen)
{
	char at[64];
	const char *key;
	json_t *v;

	snprintf(at, sizeof(at), "storage.maintenance.retention[%zu]", i);
	r->keeplast = -1;
	r->olderthan = -1;
	if (!json_is_object(obj)) {
		set_error(err, errlen, "%s: expected a mapping", at);
		return -1;
	}

	json_object_foreach((json_t *)obj, key, v) {
		if (parse_member(key, v, r, at, err, errlen) < 0)
			return -1;
	}
	if (!r->patterns) {
		set_error(err, errlen, "%s: repositories is missing", at);
		return -1;
	}
	if (r->keeplast < 0 && r->olderthan < 0) {
		set_error(err, errlen,
			  "%s: give keeplast or olderthan, or "
			  "the rule expires nothing",
			  at);
		return -1;
	}
	return 0;
}

int retention_parse(const json_t *conf, struct retention **out, char *err,
		    size_t errlen)
{
	struct retention *rt = xcalloc(1, sizeof(*rt));
	size_t n = json_is_array(conf) ? json_array_size(conf) : 0;

	*out = NULL;
	if (conf && !json_is_null(conf) && !json_is_array(conf)) {
		free(rt);
		set_error(err, errlen,
			  "storage.maintenance.retention: "
			  "expected a list of rules");
		return -1;
	}
	rt->rules = xcalloc(n ? n : 1, sizeof(*rt->rules));
	for (size_t i = 0; i < n; i++) {
		rt->count++;
		if (parse_rule(json_array_get(conf, i), i, &rt->rules[i], err,
			       errlen) < 0) {
			retention_free(rt);
			return -1;
		}
	}
	*out = rt;
	return 0;
}

void retention_free(struct retention *rt)
{
	if (!rt)
		return;
	for (size_t i = 0; i < rt->count; i++)
		rule_clear(&rt->rules[i]);
	free(rt->rules);
	free(rt);
}

int retention_check(const json_t *conf, char *err, size_t errlen)
{
	struct retention *rt;

	if (retention_parse(conf, &rt, err, errlen) < 0)
		return -1;
	retention_free(rt);
	return 0;
}

size_t retention_count(const struct retention *rt)
{
	return rt ? rt->count : 0;
}

static const struct rule *rule_for(const struct retention *rt, const char *repo)
{
	for (size_t i = 0; rt && i < rt->count; i++)
		for (char **p = rt->rules[i].patterns; *p; p++)
			if (acl_match(*p, repo))
				return &rt->rules[i];
	return NULL;
}

/* Newest first; among tags pushed in the same second, by name. */
static int newest_first(const void *a, const void *b, void *arg)
{
	const struct scan_repo *r = arg;
	const struct scan_tag *x = &r->tags[*(const size_t *)a];
	const struct scan_tag *y = &r->tags[*(const size_t *)b];

	if (x->mtime != y->mtime)
		return x->mtime > y->mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Tag indexes of r from newest to oldest, reading their times. */
static size_t *by_age(struct scan *s, struct scan_repo *r)
{
	size_t *order = xcalloc(r->ntags ? r->ntags : 1, sizeof(*order));

	for (size_t i = 0; i < r->ntags; i++) {
		scan_tag_time(s, r, i);
		order[i] = i;
	}
	qsort_r(order, r->ntags, sizeof(*order), newest_first, r);
	return order;
}

static bool tag_kept(const struct rule *rule, const struct scan_tag *t,
		     size_t rank, int64_t now)
{
	if (rule->keeplast >= 0 && rank < (size_t)rule->keeplast)
		return true;
	if (rule->has_regex &&
	    regexec(&rule->keeptags, t->name, 0, NULL, 0) == 0)
		return true;
	return rule->olderthan >= 0 && now - t->mtime <= rule->olderthan;
}

bool retention_expire(const struct retention *rt, struct scan *s,
		      struct scan_repo *r, int64_t now, bool *expired)
{
	const struct rule *rule = rule_for(rt, r->name);
	size_t *order;

	memset(expired, 0, r->ntags * sizeof(*expired));
	if (!rule)
		return false;

	order = by_age(s, r);
	for (size_t rank = 0; rank < r->ntags; rank++) {
		size_t i = order[rank];

		expired[i] = !tag_kept(rule, &r->tags[i], rank, now);
	}
	free(order);
	return true;
}
