/*
 * test_lifecycle.c - the running lifecycle: collections requested
 * through lifecycle_admin (dry and real, waiting for the report), the
 * answers for wrong requests, usage after pushes noted by the hooks, and
 * the quota hook refusing a push, and runs while another process holds
 * the collector's lease.
 */
#include "check.h"
#include "config.h"
#include "gc.h"
#include "gcstore.h"
#include "lease.h"
#include "lifecycle.h"
#include "log.h"
#include "registry.h"
#include "usage.h"

#include <jansson.h>
#include <unistd.h>

static struct config *cfg;

static struct lifecycle *start(const char *yaml)
{
	char err[256] = "";
	struct lifecycle *lc;

	store_fresh();
	cfg = config_parse(yaml, strlen(yaml), NULL, err, sizeof(err));
	if (!cfg) {
		printf("  config: %s\n", err);
		abort();
	}
	lc = lifecycle_start(cfg, st, NULL, err, sizeof(err));
	if (!lc)
		printf("  lifecycle_start: %s\n", err);
	return lc;
}

static void stop(struct lifecycle *lc)
{
	lifecycle_stop(lc);
	config_free(cfg);
	store_done();
}

static json_t *ask(struct lifecycle *lc, const char *method, const char *what,
		   bool dry, bool wait, int *status)
{
	struct lifecycle_request rq = {method, what, dry, false, wait, NULL};
	struct buf b = BUF_INIT;
	json_t *doc;

	*status = lifecycle_admin(lc, &rq, &b);
	doc = json_loads(b.data ? b.data : "", 0, NULL);
	buf_free(&b);
	return doc;
}

static const char *CONFIG =
	"storage:\n  maintenance:\n    gc:\n      graceperiod: 0s\n";

static void test_requested_collection(void)
{
	struct lifecycle *lc = start(CONFIG);
	struct digest gone, keep[2];
	json_t *doc;
	int status;

	push_image("app", "kept", "v1", keep);
	gone = push_blob("app", "nobody uses this");

	doc = ask(lc, "POST", "gc", true, true, &status);
	CHECK(status == 200);
	CHECK(json_is_true(json_object_get(doc, "dry_run")));
	CHECK(json_integer_value(
		      json_object_get(json_object_get(doc, "deleted"),
				      "blobs")) == 1);
	CHECK(json_array_size(json_object_get(doc, "items")) == 2);
	CHECK(blob_exists(&gone));
	json_decref(doc);

	doc = ask(lc, "POST", "gc", false, true, &status);
	CHECK(status == 200);
	CHECK_STR(json_string_value(json_object_get(doc, "status")), "done");
	CHECK(!blob_exists(&gone) && blob_exists(&keep[0]));
	json_decref(doc);

	doc = ask(lc, "GET", "gc", false, false, &status);
	CHECK(status == 200 && json_is_false(json_object_get(doc, "running")));
	CHECK(json_is_object(json_object_get(doc, "last_run")));
	CHECK(json_is_false(json_object_get(doc, "scheduled")));
	json_decref(doc);
	stop(lc);
}

static void test_wrong_requests(void)
{
	struct lifecycle *lc = start(CONFIG);
	int status;

	json_decref(ask(lc, "PUT", "gc", false, false, &status));
	CHECK(status == 405);
	json_decref(ask(lc, "POST", "usage", false, false, &status));
	CHECK(status == 405);
	json_decref(ask(lc, "GET", "disks", false, false, &status));
	CHECK(status == 404);
	json_decref(ask(lc, "POST", "scrub", false, true, &status));
	CHECK(status == 200);
	stop(lc);
}

static const char *SCHEDULED =
	"storage:\n  maintenance:\n    gc:\n      graceperiod: 0s\n"
	"      enabled: true\n      interval: 1s\n";

/* The last run's status, once there is a last run; NULL before. */
static char *last_status(struct lifecycle *lc)
{
	int status;
	json_t *doc = ask(lc, "GET", "gc", false, false, &status);
	const char *s = json_string_value(
		json_object_get(json_object_get(doc, "last_run"), "status"));
	char *copy = s ? xstrdup(s) : NULL;

	json_decref(doc);
	return copy;
}

/* The holder a 409 names, or NULL. */
static json_t *holder_of(json_t *doc)
{
	json_t *e = json_array_get(json_object_get(doc, "errors"), 0);

	return json_object_get(json_object_get(e, "detail"), "holder");
}

/*
 * POSTs gc, asking again while this instance's own scheduled run is in
 * progress (a 409 without a holder), which a test cannot time.
 */
static json_t *post_gc(struct lifecycle *lc, bool dry, int *status)
{
	json_t *doc = NULL;

	for (int i = 0; i < 100; i++) {
		json_decref(doc);
		doc = ask(lc, "POST", "gc", dry, true, status);
		if (*status != 409 || holder_of(doc))
			break;
		usleep(20 * 1000);
	}
	return doc;
}

/*
 * While another holds the collector's lease, a requested collection is
 * refused with 409 naming the holder, a scheduled one is skipped, and
 * neither deletes; dry runs and scrubs need no such lease.
 */
static void test_lease_held_elsewhere(void)
{
	struct lifecycle *lc = start(SCHEDULED);
	struct digest gone = push_blob("app", "nobody uses this");
	struct lease *other = NULL;
	char *last = NULL;
	json_t *doc;
	int status;

	CHECK(lease_take(st, GC_LEASE, 60, &other, NULL) == 0);
	doc = post_gc(lc, false, &status);
	CHECK(status == 409);
	CHECK(json_integer_value(json_object_get(holder_of(doc), "pid")) ==
	      getpid());
	json_decref(doc);
	json_decref(post_gc(lc, true, &status));
	CHECK(status == 200);
	json_decref(ask(lc, "POST", "scrub", false, true, &status));
	CHECK(status == 200);

	for (int i = 0; i < 100 && !(last && !strcmp(last, "skipped")); i++) {
		usleep(50 * 1000);
		free(last);
		last = last_status(lc);
	}
	CHECK_STR(last, "skipped");
	CHECK(blob_exists(&gone));
	free(last);

	lease_drop(other);
	json_decref(post_gc(lc, false, &status));
	CHECK(status == 200);
	CHECK(!blob_exists(&gone));
	stop(lc);
}

static void test_hooks_and_quota(void)
{
	struct lifecycle *lc =
		start("storage:\n  maintenance:\n    quotas:\n"
		      "      - repositories: [small]\n        limit: 100B\n");
	struct reg_error e = {0};
	struct usage_repo r;
	struct digest d;

	digest_of(DIGEST_SHA256, "a", 1, &d);
	CHECK(lifecycle_blob_adding(lc, "small", &d, 80, &e) == 0);
	lifecycle_blob_added(lc, "small", &d, 80);
	digest_of(DIGEST_SHA256, "b", 1, &d);
	CHECK(lifecycle_blob_adding(lc, "small", &d, 30, &e) == -1);
	CHECK(e.code == REG_DENIED && strstr(e.message, "100 B"));
	CHECK(lifecycle_blob_adding(lc, "big", &d, 1000, &e) == 0);
	CHECK(usage_repo(lifecycle_usage(lc), "small", &r));
	CHECK(r.bytes == 80 && r.quota == 100);
	lifecycle_deleted(lc, "small");
	/* NULL is a lifecycle that does nothing. */
	CHECK(lifecycle_blob_adding(NULL, "small", &d, 1 << 20, &e) == 0);
	lifecycle_repo_writing(NULL, "small");
	CHECK(lifecycle_usage(NULL) == NULL);
	stop(lc);
}

int main(void)
{
	log_threshold = LVL_ERROR;
	RUN(test_requested_collection);
	RUN(test_wrong_requests);
	RUN(test_lease_held_elsewhere);
	RUN(test_hooks_and_quota);
	return check_done();
}
