/*
 * test_access_acl.c - repository patterns, permission decisions, and the
 * auth and access sections of the configuration that feed them.
 */
#include "check.h"
#include "acl.h"
#include "config.h"
#include "access_testutil.h"

#define ERRLEN 512

#define AUTH "auth:\n  htpasswd:\n    realm: r\n    path: /etc/htpasswd\n"

static struct config *parse(const char *yaml, char *const *env, char *err)
{
	return config_parse(yaml, strlen(yaml), env, err, ERRLEN);
}

static void test_pattern_valid(void)
{
	static const char *const good[] = {
		"a", "library/alpine", "team/*", "team/**", "**",
		"*", "a-b_c.d/x*y",    "**/x",	 "a/**/b",  "*-dev/app",
	};
	static const char *const bad[] = {
		"",    "/a",  "a/",  "a//b",  "A/b",	"a/**b",    "a**",
		"***", "a b", "a:b", "a/b\n", "team/?", "a/**/**b",
	};
	char longest[ACL_PATTERN_MAX + 2];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!acl_pattern_valid(good[i])) {
			printf("  refused \"%s\"\n", good[i]);
			CHECK(0);
		}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (acl_pattern_valid(bad[i])) {
			printf("  accepted \"%s\"\n", bad[i]);
			CHECK(0);
		}

	memset(longest, 'a', sizeof(longest));
	longest[ACL_PATTERN_MAX] = '\0';
	CHECK(acl_pattern_valid(longest));
	longest[ACL_PATTERN_MAX] = 'a';
	longest[ACL_PATTERN_MAX + 1] = '\0';
	CHECK(!acl_pattern_valid(longest));
}

static void test_match_table(void)
{
	static const struct {
		const char *pattern, *repo;
		bool match;
	} cases[] = {
		{"library/alpine", "library/alpine", true},
		{"library/alpine", "library/alpine2", false},
		{"library/alpine", "library", false},
		{"library/*", "library/alpine", true},
		{"library/*", "library/a/b", false},
		{"library/*", "library", false},
		{"*", "alpine", true},
		{"*", "a/b", false},
		{"**", "a", true},
		{"**", "a/b/c", true},
		{"team/**", "team", true},
		{"team/**", "team/a", true},
		{"team/**", "team/a/b", true},
		{"team/**", "teams/a", false},
		{"team/**", "other/team/a", false},
		{"**/base", "base", true},
		{"**/base", "a/b/base", true},
		{"**/base", "a/b/base2", false},
		{"a/**/z", "a/z", true},
		{"a/**/z", "a/b/c/z", true},
		{"a/**/z", "a/b/c/y", false},
		{"a/**/z", "b/z", false},
		{"team-*/app", "team-a/app", true},
		{"team-*/app", "team-/app", true},
		{"team-*/app", "team/app", false},
		{"*-dev", "web-dev", true},
		{"*-dev", "web-prod", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "axxbyy", false},
		{"a*", "a/b", false},
		{"**/**", "x", true},
		{"a/**/**/b", "a/b", true},
		{"a/**/**/b", "a/x/y/z/b", true},
		{"x/*/*", "x/y", false},
		{"x/*/*", "x/y/z", true},
		{"x/*/**", "x", false},
		{"x/*/**", "x/y", true},
		{"library/alpine", "", false},
		{"**", "", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (acl_match(cases[i].pattern, cases[i].repo) !=
		    cases[i].match) {
			printf("  \"%s\" vs \"%s\": expected %s\n",
			       cases[i].pattern, cases[i].repo,
			       cases[i].match ? "match" : "no match");
			CHECK(0);
		}
}

/* Many "**" against a deep name: answers at once, no backtracking. */
static void test_match_is_linear(void)
{
	char repo[256], pattern[256] = "";
	double t0;

	for (int i = 0; i < 127; i++) {
		repo[2 * i] = 'a';
		repo[2 * i + 1] = '/';
	}
	strcpy(repo + 254, "b");
	for (int i = 0; i < 40; i++)
		strcat(pattern, "**/");
	strcat(pattern, "c");

	t0 = seconds_now();
	CHECK(!acl_match(pattern, repo));
	pattern[strlen(pattern) - 1] = 'b';
	CHECK(acl_match(pattern, repo));
	CHECK(seconds_now() - t0 < 0.05);
}

static const char policy_yaml[] = AUTH
	"access:\n"
	"  admins: [alice]\n"
	"  groups:\n"
	"    team-a: [bob, carol]\n"
	"  anonymous:\n"
	"    - repositories: [\"public/**\"]\n"
	"      actions: [pull]\n"
	"  rules:\n"
	"    - repositories: [\"team-a/*\", \"shared/**\"]\n"
	"      users: [dave]\n"
	"      groups: [team-a]\n"
	"      actions: [pull, push]\n"
	"    - repositories: \"shared/**\"\n"
	"      users: \"*\"\n"
	"      actions: pull\n"
	"    - repositories: [team-a/*]\n"
	"      groups: [team-a]\n"
	"      actions: [delete]\n";

#define PULL CONFIG_ACTION_PULL
#define PUSH CONFIG_ACTION_PUSH
#define DEL CONFIG_ACTION_DELETE

static void test_policy_decisions(void)
{
	static const struct {
		const char *user, *repo;
		unsigned action;
		bool allowed;
	} cases[] = {
		{"alice", "any/thing", PUSH | DEL, true},
		{"alice", "x", PULL, true},
		{"bob", "team-a/app", PULL, true},
		{"bob", "team-a/app", PUSH, true},
		{"bob", "team-a/app", DEL, true},
		{"carol", "team-a/app", PULL | PUSH | DEL, true},
		{"bob", "team-a/app/sub", PULL, false},
		{"bob", "team-b/app", PULL, false},
		{"bob", "shared/x/y", PUSH, true},
		{"dave", "shared/x/y", PUSH, true},
		{"dave", "team-a/app", PULL | PUSH, true},
		{"dave", "team-a/app", PULL | DEL, false},
		{"dave", "shared/x", DEL, false},
		{"erin", "shared/x", PULL, true},
		{"erin", "shared/x", PUSH, false},
		{"erin", "team-a/app", PULL, false},
		{"erin", "public/tools/jq", PULL, true},
		{"erin", "public/tools/jq", PUSH, false},
		{NULL, "public/a", PULL, true},
		{NULL, "public", PULL, true},
		{NULL, "public/a", PUSH, false},
		{NULL, "shared/x", PULL, false},
		{NULL, "team-a/app", PULL, false},
		{NULL, NULL, PULL, true},
		{"erin", NULL, PULL, true},
		{"ALICE", "x", PULL, false},
	};
	char err[ERRLEN];
	struct config *c = parse(policy_yaml, NULL, err);

	CHECK(c != NULL);
	if (!c) {
		printf("  %s\n", err);
		return;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (acl_allows(c->access, cases[i].user, cases[i].repo,
			       cases[i].action) != cases[i].allowed) {
			printf("  case %zu: user=%s repo=%s action=%u\n", i,
			       cases[i].user ? cases[i].user : "(anonymous)",
			       cases[i].repo ? cases[i].repo : "(registry)",
			       cases[i].action);
			CHECK(0);
		}
	config_free(c);
}

/* registry:2's behaviour without rules: logged in means everything. */
static void test_no_policy(void)
{
	char err[ERRLEN];
	struct config *c;

	CHECK(acl_allows(NULL, "anyone", "a/b", PULL | PUSH | DEL));
	CHECK(acl_allows(NULL, "anyone", NULL, PULL));
	CHECK(!acl_allows(NULL, NULL, "a/b", PULL));
	CHECK(!acl_allows(NULL, NULL, NULL, PULL));

	/* An empty section is a policy that allows nothing but admins. */
	c = parse(AUTH "access: {}\n", NULL, err);
	CHECK(c && c->access);
	if (c && c->access) {
		CHECK(!acl_allows(c->access, "anyone", "a/b", PULL));
		CHECK(acl_allows(c->access, "anyone", NULL, PULL));
		CHECK(!acl_allows(c->access, NULL, NULL, PULL));
	}
	config_free(c);

	/* Anonymous rules without pull do not open the registry root. */
	c = parse(AUTH "access:\n  anonymous:\n    - repositories: [drop/*]\n"
		       "      actions: [push]\n",
		  NULL, err);
	CHECK(c && c->access);
	if (c && c->access) {
		CHECK(!acl_allows(c->access, NULL, NULL, PULL));
		CHECK(acl_allows(c->access, NULL, "drop/x", PUSH));
	}
	config_free(c);
}

static void test_auth_config(void)
{
	char *env[] = {"REGISTRY_AUTH=htpasswd",
		       "REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm",
		       "REGISTRY_AUTH_HTPASSWD_PATH=/etc/registry/htpasswd",
		       "REGISTRY_ACCESS_ADMINS=[alice, bob]", NULL};
	char err[ERRLEN];
	struct config *c;
	char *log;

	c = parse("", env, err);
	CHECK(c != NULL);
	if (c) {
		CHECK_STR(c->auth_htpasswd_realm, "Registry Realm");
		CHECK_STR(c->auth_htpasswd_path, "/etc/registry/htpasswd");
		CHECK(c->access && c->access->admins[0] &&
		      !strcmp(c->access->admins[1], "bob") &&
		      !c->access->admins[2]);
	}
	config_free(c);

	c = parse("log: {level: info}\n", NULL, err);
	CHECK(c && !c->auth_htpasswd_realm && !c->auth_htpasswd_path &&
	      !c->access);
	config_free(c);

	capture_begin();
	c = parse("auth:\n  htpasswd:\n    realm: r\n    path: /p\n"
		  "    extra: 1\n",
		  NULL, err);
	log = capture_end();
	CHECK(c != NULL);
	CHECK(strstr(log, "unknown configuration key "
			  "key=auth.htpasswd.extra"));
	config_free(c);
	free(log);
}

static void test_config_errors(void)
{
	static const struct {
		const char *yaml, *err;
	} cases[] = {
		{"auth:\n  htpasswd:\n    realm: r\n",
		 "auth.htpasswd.path: required"},
		{"auth:\n  htpasswd:\n    path: /p\n",
		 "auth.htpasswd.realm: required"},
		{"auth:\n  htpasswd: [a]\n",
		 "auth.htpasswd: expected a mapping with realm and path, got "
		 "a list"},
		{"auth:\n  htpasswd:\n    realm: \"a\\nb\"\n    path: /p\n",
		 "auth.htpasswd.realm: expected a one-line, non-empty string, "
		 "got \"a\nb\""},
		{"auth:\n  htpasswd:\n    realm: r\n    path: ''\n",
		 "auth.htpasswd.path: expected a non-empty string, got \"\""},
		{"auth:\n  htpasswd: {realm: r, path: /p}\n  token: {}\n",
		 "auth: exactly one authentication type may be configured, "
		 "found htpasswd and token"},
		{"access:\n  admins: [alice]\n",
		 "access: needs auth.htpasswd; without auth every request is "
		 "allowed"},
		{AUTH "access: [alice]\n",
		 "access: expected a mapping, got a list"},
		{AUTH "access:\n  admin: [alice]\n",
		 "access.admin: unknown key; the access section has admins, "
		 "groups, anonymous and rules"},
		{AUTH "access:\n  admins: ['*']\n",
		 "access.admins: expected a list of user names, got \"*\""},
		{AUTH "access:\n  admins: ['a:b']\n",
		 "access.admins: expected a list of user names, got \"a:b\""},
		{AUTH "access:\n  groups: [a]\n",
		 "access.groups: expected a mapping of group names to lists "
		 "of users, got a list"},
		{AUTH "access:\n  groups: {'#x': [a]}\n",
		 "access.groups.#x: not a valid group name"},
		{AUTH "access:\n  rules:\n    - repositories: [a/*]\n"
		      "      actions: [pull]\n",
		 "access.rules[0]: a rule needs users or groups"},
		{AUTH "access:\n  rules:\n    - repositories: [a/*]\n"
		      "      users: [bob]\n",
		 "access.rules[0]: a rule needs repositories and actions"},
		{AUTH "access:\n  rules:\n    - users: [bob]\n"
		      "      actions: [pull]\n",
		 "access.rules[0]: a rule needs repositories and actions"},
		{AUTH "access:\n  rules:\n    - repositories: [a/*]\n"
		      "      users: [bob]\n      actions: [write]\n",
		 "access.rules[0].actions: expected a list of pull, push or "
		 "delete, got \"write\""},
		{AUTH "access:\n  rules:\n    - repositories: [a/*]\n"
		      "      users: [bob]\n      actions: []\n",
		 "access.rules[0].actions: expected a list of pull, push or "
		 "delete, got a list"},
		{AUTH "access:\n  rules:\n    - repositories: [Team/*]\n"
		      "      users: [bob]\n      actions: [pull]\n",
		 "access.rules[0].repositories: expected a list of "
		 "repository patterns such as \"team/*\" or \"team/**\", got "
		 "\"Team/*\""},
		{AUTH "access:\n  rules:\n    - repositories: [a]\n"
		      "      users: [bob]\n      actions: [pull]\n"
		      "    - repositories: [b]\n      groups: [team-b]\n"
		      "      actions: [pull]\n",
		 "access.rules[1].groups: no group \"team-b\" in "
		 "access.groups"},
		{AUTH "access:\n  rules:\n    - repositories: [a]\n"
		      "      user: [bob]\n      actions: [pull]\n",
		 "access.rules[0].user: unknown key; a rule has repositories, "
		 "users, groups and actions"},
		{AUTH "access:\n  anonymous:\n    - repositories: [a]\n"
		      "      users: [bob]\n      actions: [pull]\n",
		 "access.anonymous[0].users: unknown key; a rule has "
		 "repositories and actions"},
		{AUTH "access:\n  rules: {a: b}\n",
		 "access.rules: expected a list of rules, got a mapping"},
		{AUTH "access:\n  rules: [x]\n",
		 "access.rules[0]: expected a mapping with repositories and "
		 "actions, got \"x\""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[ERRLEN] = "";
		struct config *c = parse(cases[i].yaml, NULL, err);

		CHECK(c == NULL);
		config_free(c);
		if (strcmp(err, cases[i].err)) {
			printf("  case %zu\n", i);
			CHECK_STR(err, cases[i].err);
		}
	}
}

int main(void)
{
	log_threshold = LVL_ERROR;
	RUN(test_pattern_valid);
	RUN(test_match_table);
	RUN(test_match_is_linear);
	RUN(test_policy_decisions);
	RUN(test_no_policy);
	RUN(test_auth_config);
	RUN(test_config_errors);
	return check_done();
}
