/*
 * test_access_admin.c - who may use the administrative endpoints
 * (access_admin): access.admins, every user without an access section,
 * and without logins only clients on the loopback address.
 */
#include <stdio.h>

#include "access.h"
#include "access_testutil.h"
#include "check.h"
#include "config.h"

#define ERRLEN 256

struct fixture {
	char *dir;
	char path[300];
	struct config *cfg;
	struct access *a;
};

/* Opens access control for yaml, with {htpasswd} an empty file's path. */
static bool fixture_open(struct fixture *f, const char *yaml_fmt)
{
	char err[ERRLEN], yaml[1024];

	f->dir = temp_dir();
	snprintf(f->path, sizeof(f->path), "%s/htpasswd", f->dir);
	write_text(f->path, "");
	snprintf(yaml, sizeof(yaml), yaml_fmt, f->path);
	f->cfg = config_parse(yaml, strlen(yaml), NULL, err, ERRLEN);
	if (!f->cfg) {
		printf("  config: %s\n", err);
		return false;
	}
	f->a = access_open(f->cfg, err, ERRLEN);
	if (!f->a)
		printf("  access_open: %s\n", err);
	return f->a != NULL;
}

static void fixture_close(struct fixture *f)
{
	access_close(f->a);
	config_free(f->cfg);
	unlink(f->path);
	rmdir(f->dir);
	free(f->dir);
}

static void test_admins_listed(void)
{
	struct fixture f;
	bool ok = fixture_open(&f, "auth:\n  htpasswd:\n"
				   "    realm: r\n    path: %s\n"
				   "access:\n  admins: [root, ops]\n"
				   "  rules:\n"
				   "    - repositories: ['**']\n"
				   "      users: [dev]\n"
				   "      actions: [pull, push, delete]\n");

	CHECK(ok);
	if (!ok)
		return;
	CHECK(access_admin(f.a, "root", "192.0.2.7"));
	CHECK(access_admin(f.a, "ops", "127.0.0.1"));
	/* Every right on every repository is still not administration. */
	CHECK(access_may(f.a, "dev", "any/repo", ACCESS_DELETE));
	CHECK(!access_admin(f.a, "dev", "127.0.0.1"));
	CHECK(!access_admin(f.a, "rootx", "127.0.0.1"));
	/* With logins, the loopback address proves nothing. */
	CHECK(!access_admin(f.a, NULL, "127.0.0.1"));
	fixture_close(&f);
}

static void test_no_access_section(void)
{
	struct fixture f;
	bool ok = fixture_open(&f, "auth:\n  htpasswd:\n"
				   "    realm: r\n    path: %s\n");

	CHECK(ok);
	if (!ok)
		return;
	CHECK(access_admin(f.a, "anyone", "192.0.2.7"));
	CHECK(!access_admin(f.a, NULL, "::1"));
	fixture_close(&f);
}

static void test_no_logins(void)
{
	char err[ERRLEN];
	struct config *cfg = config_parse("", 0, NULL, err, ERRLEN);
	struct access *a = access_open(cfg, err, ERRLEN);

	CHECK(access_admin(a, NULL, "127.0.0.1"));
	CHECK(access_admin(a, NULL, "127.10.0.3"));
	CHECK(access_admin(a, NULL, "::1"));
	CHECK(access_admin(a, NULL, "::ffff:127.0.0.1"));
	CHECK(!access_admin(a, NULL, "192.0.2.7"));
	CHECK(!access_admin(a, NULL, "::2"));
	CHECK(!access_admin(a, NULL, "10.0.0.1"));
	CHECK(!access_admin(a, NULL, "localhost"));
	CHECK(!access_admin(a, NULL, ""));
	CHECK(!access_admin(a, NULL, NULL));
	access_close(a);
	config_free(cfg);
}

int main(void)
{
	log_threshold = LVL_ERROR; /* an empty htpasswd file is warned of */
	RUN(test_admins_listed);
	RUN(test_no_access_section);
	RUN(test_no_logins);
	return check_done();
}
