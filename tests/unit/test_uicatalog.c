/*
 * test_uicatalog.c - which repositories each web UI user sees: filtered
 * by the access rules, kept per user and rules, and worked out again
 * when the repository names or the rules change.
 */
#include <crypt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "check.h"
#include "config.h"
#include "log.h"
#include "meta.h"
#include "registry.h"
#include "store.h"
#include "tagcache.h"
#include "uicatalog.h"
#include "util.h"

#define LINK                                                                   \
	"sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"

struct env {
	char dir[64];
	struct store *st;
	struct config *cfg;
	struct access *access;
	struct registry *reg;
	struct meta_cache *mc;
	struct tagcache *tc;
	struct uicatalog *uc;
};

/* A repository with one tag, written where registry:2 keeps it. */
static void add_repo(struct env *e, const char *repo)
{
	char *key = xasprintf("docker/registry/v2/repositories/%s/_manifests/"
			      "tags/t/current/link",
			      repo);

	CHECK(e->st->ops->put(e->st, key, LINK, strlen(LINK)) == 0);
	free(key);
}

static void env_make(struct env *e)
{
	static const char *const repos[] = {"public/a", "public/b", "team/x",
					    "secret/y"};
	char err[256], *yaml, *ht, *line;

	log_threshold = LVL_ERROR;
	strcpy(e->dir, "/tmp/berth-uicatalog-XXXXXX");
	CHECK(mkdtemp(e->dir) != NULL);
	CHECK(store_fs_open(e->dir, &e->st) == 0);
	for (size_t i = 0; i < 4; i++)
		add_repo(e, repos[i]);

	ht = xasprintf("%s/htpasswd", e->dir);
	line = xasprintf("alice:%s\n", crypt("pw", "$6$saltsalt$"));
	CHECK(e->st->ops->put(e->st, "htpasswd", line, strlen(line)) == 0);
	yaml = xasprintf("version: 0.1\n"
			 "auth: {htpasswd: {realm: t, path: %s}}\n"
			 "access:\n"
			 "  anonymous:\n"
			 "    - {repositories: [\"public/**\"], "
			 "actions: [pull]}\n"
			 "  rules:\n"
			 "    - {repositories: [\"team/**\"], users: [alice], "
			 "actions: [pull]}\n",
			 ht);
	e->cfg = config_parse(yaml, strlen(yaml), NULL, err, sizeof(err));
	CHECK(e->cfg != NULL);
	e->access = access_open(e->cfg, err, sizeof(err));
	CHECK(e->access != NULL);
	e->reg = registry_open(e->cfg, e->st);
	e->mc = meta_cache_new(e->st, 1 << 20);
	e->tc = tagcache_new(e->reg, e->mc, 1000);
	e->uc = uicatalog_new(e->tc);
	free(yaml);
	free(line);
	free(ht);
}

static void env_done(struct env *e)
{
	uicatalog_free(e->uc);
	tagcache_free(e->tc);
	meta_cache_free(e->mc);
	registry_close(e->reg);
	access_close(e->access);
	config_free(e->cfg);
	e->st->ops->remove(e->st, "docker");
	e->st->ops->remove(e->st, "htpasswd");
	e->st->ops->close(e->st);
	CHECK(rmdir(e->dir) == 0);
}

/* The names a view shows, joined with spaces (static buffer). */
static const char *names_of(const struct uicatalog_view *v)
{
	static char out[256];

	out[0] = '\0';
	for (size_t i = 0; v && i < v->count; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, v->names->names[v->visible[i]]);
	}
	return out;
}

static void test_filtered(void)
{
	struct env e;
	const struct uicatalog_view *anon, *alice, *again;

	env_make(&e);
	anon = uicatalog_get(e.uc, e.access, NULL);
	CHECK_STR(names_of(anon), "public/a public/b");
	alice = uicatalog_get(e.uc, e.access, "alice");
	CHECK_STR(names_of(alice), "public/a public/b team/x");
	again = uicatalog_get(e.uc, e.access, "alice");
	CHECK(again == alice); /* kept, not worked out again */
	uicatalog_release(e.uc, again);
	uicatalog_release(e.uc, alice);
	uicatalog_release(e.uc, anon);
	env_done(&e);
}

static void test_changes(void)
{
	struct env e;
	const struct uicatalog_view *before, *after;
	struct access *other;
	char err[256];

	env_make(&e);
	before = uicatalog_get(e.uc, e.access, "alice");

	/* A report of a repository the names lack renews them, and the
	 * views with them; the old view stays readable until released. */
	tagcache_changed(e.tc, "team/new", "t");
	after = uicatalog_get(e.uc, e.access, "alice");
	CHECK(after != before && after->names != before->names);
	CHECK_STR(names_of(before), "public/a public/b team/x");
	CHECK_STR(names_of(after), "public/a public/b team/x");
	uicatalog_release(e.uc, before);
	before = after;

	/* New rules (a reload) give new views. */
	other = access_open(e.cfg, err, sizeof(err));
	CHECK(other != NULL);
	after = uicatalog_get(e.uc, other, "alice");
	CHECK(after != before);
	CHECK_STR(names_of(after), "public/a public/b team/x");
	uicatalog_release(e.uc, after);
	uicatalog_release(e.uc, before);
	uicatalog_free(e.uc); /* drops the views of other before it goes */
	e.uc = uicatalog_new(e.tc);
	access_close(other);
	env_done(&e);
}

int main(void)
{
	RUN(test_filtered);
	RUN(test_changes);
	return check_done();
}
