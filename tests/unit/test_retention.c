/*
 * test_retention.c - retention rules: which tags expire under keeplast,
 * keeptags and olderthan alone and together, which rule governs a
 * repository, and the messages for rules that are wrong.  Also the
 * lifecycle keys of the configuration.
 */
#include "check.h"
#include "config.h"
#include "lifecycle.h"
#include "log.h"
#include "retention.h"
#include "scan.h"

#include <jansson.h>
#include <string.h>

#define NOW 1800000000
#define HOUR 3600

static struct retention *rules(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	struct retention *rt = NULL;
	char err[256] = "";

	if (retention_parse(j, &rt, err, sizeof(err)) < 0)
		printf("  retention_parse: %s\n", err);
	json_decref(j);
	return rt;
}

/* A repository with tags t0 (oldest) ... pushed an hour apart. */
static struct scan_repo repo(const char *name, const char *const *tags,
			     size_t n)
{
	struct scan_repo r = {0};

	r.name = (char *)name;
	r.ntags = n;
	r.tags = calloc(n, sizeof(*r.tags));
	for (size_t i = 0; i < n; i++) {
		r.tags[i].name = (char *)tags[i];
		r.tags[i].mtime = NOW - (int64_t)(n - i) * HOUR;
	}
	return r;
}

/* Which tags expire, as "name name ". */
static const char *expired(struct retention *rt, struct scan_repo *r,
			   bool *governed)
{
	static char out[256];
	bool flags[16];

	out[0] = '\0';
	*governed = retention_expire(rt, NULL, r, NOW, flags);
	for (size_t i = 0; i < r->ntags; i++)
		if (flags[i]) {
			strcat(out, r->tags[i].name);
			strcat(out, " ");
		}
	return out;
}

static const char *const TAGS[] = {"v1", "v2", "latest", "v3", "v4"};

static void test_keeplast(void)
{
	struct retention *rt = rules("[{\"repositories\": [\"a/*\"], "
				     "\"keeplast\": \"2\"}]");
	struct scan_repo r = repo("a/b", TAGS, 5);
	bool gov;

	CHECK_STR(expired(rt, &r, &gov), "v1 v2 latest ");
	CHECK(gov);
	r.name = "other";
	CHECK_STR(expired(rt, &r, &gov), "");
	CHECK(!gov);
	free(r.tags);
	retention_free(rt);
}

static void test_keeptags_and_age(void)
{
	struct retention *rt =
		rules("[{\"repositories\": [\"**\"], "
		      "\"keeplast\": 1, \"keeptags\": "
		      "\"^(latest|v1)$\", \"olderthan\": \"3h\"}]");
	struct scan_repo r = repo("x", TAGS, 5);
	bool gov;

	/* v4 is newest; v3 (2h) is young; latest and v1 match. */
	CHECK_STR(expired(rt, &r, &gov), "v2 ");
	free(r.tags);
	retention_free(rt);

	rt = rules("[{\"repositories\": [\"x\"], \"olderthan\": \"150m\"}]");
	r = repo("x", TAGS, 5);
	CHECK_STR(expired(rt, &r, &gov), "v1 v2 latest ");
	free(r.tags);
	retention_free(rt);
}

static void test_first_rule_wins(void)
{
	struct retention *rt = rules("[{\"repositories\": [\"team/keep\"], "
				     "\"keeplast\": 10}, {\"repositories\": "
				     "[\"team/*\"], \"keeplast\": 0}]");
	struct scan_repo r = repo("team/keep", TAGS, 5);
	bool gov;

	CHECK_STR(expired(rt, &r, &gov), "");
	CHECK(gov);
	r.name = "team/other";
	CHECK_STR(expired(rt, &r, &gov), "v1 v2 latest v3 v4 ");
	CHECK(retention_count(rt) == 2);
	free(r.tags);
	retention_free(rt);
}

static void test_bad_rules(void)
{
	static const struct {
		const char *json, *want;
	} bad[] = {
		{"{}", "expected a list of rules"},
		{"[1]", "retention[0]: expected a mapping"},
		{"[{\"keeplast\": 1}]", "repositories is missing"},
		{"[{\"repositories\": [\"a\"]}]", "give keeplast or olderthan"},
		{"[{\"repositories\": [\"A\"], \"keeplast\": 1}]",
		 "not a repository pattern"},
		{"[{\"repositories\": [], \"keeplast\": 1}]", "list is empty"},
		{"[{\"repositories\": [\"a\"], \"keeplast\": \"-1\"}]",
		 "retention[0].keeplast"},
		{"[{\"repositories\": [\"a\"], \"olderthan\": \"30\"}]",
		 "retention[0].olderthan"},
		{"[{\"repositories\": [\"a\"], \"keeplast\": 1, "
		 "\"keeptags\": \"[\"}]",
		 "retention[0].keeptags"},
		{"[{\"repositories\": [\"a\"], \"keeplast\": 1, \"x\": 1}]",
		 "retention[0].x: unknown setting"},
	};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = json_loads(bad[i].json, JSON_DECODE_ANY, NULL);

		err[0] = '\0';
		CHECK(retention_check(j, err, sizeof(err)) == -1);
		if (!strstr(err, bad[i].want))
			printf("  %s: got \"%s\"\n", bad[i].json, err);
		CHECK(strstr(err, bad[i].want) != NULL);
		json_decref(j);
	}
	CHECK(retention_check(NULL, err, sizeof(err)) == 0);
}

static void test_windows(void)
{
	char why[200];

	CHECK(lifecycle_window_check("", why, sizeof(why)) == 0);
	CHECK(lifecycle_window_check("01:00-05:30", why, sizeof(why)) == 0);
	CHECK(lifecycle_window_check("22:00-02:00", why, sizeof(why)) == 0);
	CHECK(lifecycle_window_check("24:00-02:00", why, sizeof(why)) == -1);
	CHECK(lifecycle_window_check("01:00-01:00", why, sizeof(why)) == -1);
	CHECK(lifecycle_window_check("1:00-2:00", why, sizeof(why)) == -1);
	CHECK(lifecycle_window_check("01:00", why, sizeof(why)) == -1);
	CHECK(strstr(why, "01:00-05:00") != NULL);
}

static void test_config_keys(void)
{
	const char *yaml =
		"storage:\n  maintenance:\n    gc:\n      enabled: true\n"
		"      interval: 12h\n      window: \"02:00-04:00\"\n"
		"      graceperiod: 30m\n      deleteuntagged: yes\n"
		"    scrub:\n      enabled: true\n"
		"    retention:\n      - repositories: [ci/app]\n"
		"        keeplast: 3\n"
		"    quotas:\n      - repositories: [ci/app]\n"
		"        limit: 1GiB\n";
	char *const env[] = {"REGISTRY_STORAGE_MAINTENANCE_GC_DRYRUN=true",
			     NULL};
	char err[256];
	struct config *c =
		config_parse(yaml, strlen(yaml), env, err, sizeof(err));

	CHECK(c != NULL);
	if (!c) {
		printf("  %s\n", err);
		return;
	}
	CHECK(c->gc_enabled && c->gc_interval == 12 * HOUR);
	CHECK_STR(c->gc_window, "02:00-04:00");
	CHECK(c->gc_graceperiod == 1800 && c->gc_deleteuntagged);
	CHECK(c->gc_dryrun && c->scrub_enabled);
	CHECK(c->scrub_interval == 168 * HOUR && c->usage_interval == HOUR);
	CHECK(json_array_size(c->retention) == 1);
	CHECK_STR(json_string_value(
			  json_object_get(json_array_get(c->quotas, 0),
					  "limit")),
		  "1GiB");
	config_free(c);

	c = config_parse("", 0, NULL, err, sizeof(err));
	CHECK(c && !c->gc_enabled && c->gc_graceperiod == HOUR &&
	      !c->retention && !c->quotas && !c->gc_window[0]);
	config_free(c);
}

int main(void)
{
	log_threshold = LVL_ERROR;
	RUN(test_keeplast);
	RUN(test_keeptags_and_age);
	RUN(test_first_rule_wins);
	RUN(test_bad_rules);
	RUN(test_windows);
	RUN(test_config_keys);
	return check_done();
}
