/*
 * test_purge.c - abandoned upload sessions are removed by age, in nested
 * repositories too, and a dry run removes nothing.
 */
#include "check.h"
#include "layout.h"
#include "purge.h"
#include "store.h"

#include <stdlib.h>
#include <string.h>

static struct store *st;

static void put_session(const char *repo, const char *id, const char *when)
{
	char *key = layout_upload_startedat(repo, id);

	CHECK(st->ops->put(st, key, when, strlen(when)) == 0);
	free(key);
	key = layout_upload_data(repo, id);
	CHECK(st->ops->put(st, key, "abc", 3) == 0);
	free(key);
}

static int session_exists(const char *repo, const char *id)
{
	struct store_stat sst;
	char *key = layout_upload_dir(repo, id);
	int err = st->ops->stat(st, key, &sst);

	free(key);
	return err == 0;
}

static const char *OLD = "a1b2c3d4-0000-4000-8000-000000000001";
static const char *NEW = "a1b2c3d4-0000-4000-8000-000000000002";
static const char *DEEP = "a1b2c3d4-0000-4000-8000-000000000003";

static void setup(void)
{
	put_session("lib/app", OLD, "2026-01-01T00:00:00Z");
	put_session("lib/app", NEW, "2026-01-07T23:00:00Z");
	put_session("a/b/c", DEEP, "2025-12-01T10:00:00Z");
}

/* "now" is 2026-01-08T00:00:00Z; the age is one day. */
#define NOW 1767830400
#define DAY 86400

static void test_dry_run_keeps_everything(void)
{
	size_t removed = 0;

	setup();
	CHECK(purge_uploads(st, NOW, DAY, true, &removed) == 0);
	CHECK(removed == 2);
	CHECK(session_exists("lib/app", OLD));
	CHECK(session_exists("a/b/c", DEEP));
}

static void test_old_sessions_removed(void)
{
	size_t removed = 0;

	setup();
	CHECK(purge_uploads(st, NOW, DAY, false, &removed) == 0);
	CHECK(removed == 2);
	CHECK(!session_exists("lib/app", OLD));
	CHECK(!session_exists("a/b/c", DEEP));
	CHECK(session_exists("lib/app", NEW));
}

static void test_empty_store(void)
{
	struct store *empty;
	char dir[] = "/tmp/berth-purge-empty-XXXXXX";
	size_t removed = 7;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(store_fs_open(dir, &empty) == 0);
	CHECK(purge_uploads(empty, NOW, DAY, false, &removed) == 0);
	CHECK(removed == 0);
	empty->ops->close(empty);
	CHECK(check_rmtree(dir) == 0);
}

int main(void)
{
	char dir[] = "/tmp/berth-purge-XXXXXX";

	if (!mkdtemp(dir) || store_fs_open(dir, &st) != 0)
		return 1;
	RUN(test_dry_run_keeps_everything);
	RUN(test_old_sessions_removed);
	RUN(test_empty_store);
	st->ops->close(st);
	if (check_rmtree(dir) != 0)
		return 1;
	return check_done();
}
