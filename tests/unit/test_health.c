/*
 * test_health.c - the storage checker's verdicts, the blob counter over a
 * real filesystem store, and the debug listener's answers over loopback.
 */
#include "check.h"
#include "blobstats.h"
#include "config.h"
#include "debugsrv.h"
#include "health.h"
#include "metrics.h"
#include "store.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

/* A store whose check answers what the test says, as slowly as asked. */
struct fake_store {
	struct store base;
	int rc;
	int delay_ms;
	int checks;
};

static int fake_check(struct store *s)
{
	struct fake_store *f = (struct fake_store *)s;
	int delay = __atomic_load_n(&f->delay_ms, __ATOMIC_RELAXED);

	__atomic_add_fetch(&f->checks, 1, __ATOMIC_RELAXED);
	if (delay)
		usleep((useconds_t)delay * 1000);
	return __atomic_load_n(&f->rc, __ATOMIC_RELAXED);
}

static const struct store_ops fake_ops = {.name = "fake", .check = fake_check};

static void set_rc(struct fake_store *f, int rc)
{
	__atomic_store_n(&f->rc, rc, __ATOMIC_RELAXED);
}

static void sleep_ms(int ms)
{
	usleep((useconds_t)ms * 1000);
}

/* Waits up to 5 s for the checker to reach want (it checks every 20 ms,
 * but a loaded machine may not run it for a while). */
static bool wait_state(struct health *h, enum health_state want)
{
	for (int i = 0; i < 500 && health_state(h, NULL, 0) != want; i++)
		sleep_ms(10);
	return health_state(h, NULL, 0) == want;
}

static void test_verdicts_follow_the_store(void)
{
	struct fake_store f = {{&fake_ops}, 0, 0, 0};
	struct health *h = health_new(&f.base, 20, true);
	char reason[160];

	CHECK(h != NULL);
	if (!h)
		return;
	CHECK(f.checks >= 1); /* the first check ran before returning */
	CHECK(health_ready(h, reason, sizeof(reason)));
	CHECK_STR(reason, "");

	set_rc(&f, -EROFS);
	CHECK(wait_state(h, HEALTH_READONLY));
	CHECK(!health_ready(h, reason, sizeof(reason)));
	CHECK(strncmp(reason, "storage is not writable: ", 25) == 0);

	set_rc(&f, -EIO);
	CHECK(wait_state(h, HEALTH_DOWN));
	CHECK(health_state(h, reason, sizeof(reason)) == HEALTH_DOWN);
	CHECK(strncmp(reason, "storage is unavailable: ", 24) == 0);

	set_rc(&f, 0);
	CHECK(wait_state(h, HEALTH_OK));
	CHECK(health_ready(h, NULL, 0));
	health_free(h);
}

static void test_shutting_down_is_not_ready(void)
{
	struct fake_store f = {{&fake_ops}, 0, 0, 0};
	struct health *h = health_new(&f.base, 20, true);
	char reason[160];

	CHECK(health_ready(h, NULL, 0));
	health_set_stopping(h);
	CHECK(!health_ready(h, reason, sizeof(reason)));
	CHECK_STR(reason, "berth is shutting down");
	CHECK(health_state(h, NULL, 0) == HEALTH_OK); /* still serving */
	health_free(h);
}

static void test_readonly_mode_is_ready(void)
{
	struct fake_store f = {{&fake_ops}, -ENOSPC, 0, 0};
	struct health *h = health_new(&f.base, 20, false);
	char reason[160] = "x";

	CHECK(health_state(h, NULL, 0) == HEALTH_READONLY);
	CHECK(health_ready(h, reason, sizeof(reason)));
	CHECK_STR(reason, "");
	health_free(h);
}

static void test_hung_check_is_reported(void)
{
	struct fake_store f = {{&fake_ops}, 0, 0, 0};
	struct health *h = health_new(&f.base, 10, true);
	char reason[160];
	uint64_t t0;

	__atomic_store_n(&f.delay_ms, (HEALTH_HANG_LIMIT + 2) * 1000,
			 __ATOMIC_RELAXED);
	sleep_ms(100);
	CHECK(health_ready(h, NULL, 0)); /* still within the limit */

	sleep_ms(HEALTH_HANG_LIMIT * 1000 + 100);
	t0 = now_monotonic_ns();
	CHECK(health_state(h, reason, sizeof(reason)) == HEALTH_DOWN);
	CHECK(now_monotonic_ns() - t0 < 100000000); /* did not wait */
	CHECK(strstr(reason, "has not answered") != NULL);

	__atomic_store_n(&f.delay_ms, 0, __ATOMIC_RELAXED);
	health_free(h); /* waits for the slow check to end */
}

/* ---- the blob counter ------------------------------------------------ */

static char *temp_root(void)
{
	char tmpl[] = "/tmp/berth-health-XXXXXX";
	char *dir = mkdtemp(tmpl);

	return dir ? xstrdup(dir) : NULL;
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_tree(const char *dir)
{
	if (nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		printf("  could not remove %s\n", dir);
}

static void put_blob(struct store *st, const char *hex, size_t size)
{
	char *key = xasprintf("docker/registry/v2/blobs/sha256/%.2s/%s/data",
			      hex, hex);
	char *data = xcalloc(1, size + 1);

	CHECK(st->ops->put(st, key, data, size) == 0);
	free(data);
	free(key);
}

static void test_blob_count(void)
{
	char *root = temp_root();
	struct store *st = NULL;
	uint64_t blobs = 99, bytes = 99;

	CHECK(root && store_fs_open(root, &st) == 0);
	if (!st)
		return;
	CHECK(blobstats_count(st, NULL, &blobs, &bytes) == 0);
	CHECK(blobs == 0 && bytes == 0);

	put_blob(st, "aa11", 10);
	put_blob(st, "aa22", 20);
	put_blob(st, "bb33", 300);
	/* Not blobs: an upload and a repository link. */
	CHECK(st->ops->put(st,
			   "docker/registry/v2/repositories/r/_uploads/"
			   "u/data",
			   "xxxx", 4) == 0);
	CHECK(st->ops->put(st,
			   "docker/registry/v2/repositories/r/_layers/"
			   "sha256/aa11/link",
			   "sha256:aa11", 11) == 0);
	CHECK(blobstats_count(st, NULL, &blobs, &bytes) == 0);
	CHECK(blobs == 3);
	CHECK(bytes == 330);

	st->ops->close(st);
	remove_tree(root);
	free(root);
}

/* ---- the debug listener ---------------------------------------------- */

/* GET path from 127.0.0.1:port; returns the whole answer, or NULL. */
static char *http_get(uint16_t port, const char *method, const char *path)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct buf b = BUF_INIT;
	char chunk[4096], *req;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		if (fd != -1)
			close(fd);
		return NULL;
	}
	req = xasprintf("%s %s HTTP/1.0\r\nHost: x\r\n\r\n", method, path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		printf("  short write\n");
	free(req);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(&b, chunk, (size_t)n);
	close(fd);
	buf_add(&b, "", 0);
	return buf_detach(&b, NULL);
}

static int status_of(const char *answer)
{
	return answer && !strncmp(answer, "HTTP/1.", 7)
		       ? (int)strtol(answer + 9, NULL, 10)
		       : -1;
}

static const char *body_of(const char *answer)
{
	const char *p = answer ? strstr(answer, "\r\n\r\n") : NULL;

	return p ? p + 4 : "";
}

static void test_debug_listener(void)
{
	struct fake_store f = {{&fake_ops}, 0, 0, 0};
	struct config cfg = {0};
	struct debugsrv *d = NULL;
	struct health *h = health_new(&f.base, 20, true);
	uint16_t port;
	char *a;

	cfg.http_debug_addr = "127.0.0.1:0";
	cfg.http_prometheus_enabled = false;
	cfg.http_prometheus_path = "/metrics";
	CHECK(debugsrv_start(&cfg, &f.base, h, &d) == 0 && d);
	if (!d)
		goto out;
	port = debugsrv_port(d);

	a = http_get(port, "GET", "/healthz");
	CHECK(status_of(a) == 200);
	CHECK_STR(body_of(a), "ok\n");
	free(a);
	a = http_get(port, "GET", "/readyz");
	CHECK(status_of(a) == 200);
	free(a);
	a = http_get(port, "GET", "/debug/health");
	CHECK(status_of(a) == 200);
	CHECK_STR(body_of(a), "{}");
	free(a);
	a = http_get(port, "GET", "/metrics"); /* Prometheus is off */
	CHECK(status_of(a) == 404);
	free(a);
	a = http_get(port, "POST", "/healthz");
	CHECK(status_of(a) == 405);
	free(a);

	set_rc(&f, -EROFS);
	CHECK(wait_state(h, HEALTH_READONLY));
	a = http_get(port, "GET", "/readyz");
	CHECK(status_of(a) == 503);
	CHECK(strstr(body_of(a), "storage is not writable") != NULL);
	free(a);
	a = http_get(port, "GET", "/debug/health");
	CHECK(status_of(a) == 503);
	CHECK(strstr(body_of(a), "{\"storagedriver_filesystem\": \"storage "
				 "is not writable") != NULL ||
	      strstr(body_of(a), "{\"storagedriver_filesystem\":\"storage "
				 "is not writable") != NULL);
	free(a);
	a = http_get(port, "GET", "/healthz"); /* alive all the same */
	CHECK(status_of(a) == 200);
	free(a);
out:
	debugsrv_stop(d);
	health_free(h);
}

static void test_debug_metrics(void)
{
	char *root = temp_root();
	struct store *st = NULL;
	struct config cfg = {0};
	struct debugsrv *d = NULL;
	struct health *h;
	char *a = NULL;

	CHECK(root && store_fs_open(root, &st) == 0);
	if (!st)
		return;
	put_blob(st, "cc44", 1234);
	h = health_new(st, 1000, true);
	cfg.http_debug_addr = "127.0.0.1:0";
	cfg.http_prometheus_enabled = true;
	cfg.http_prometheus_path = "/custom/metrics";
	CHECK(debugsrv_start(&cfg, st, h, &d) == 0 && d);
	if (!d)
		goto out;

	metrics_observe_request("manifest", "GET", 200, 0, 10, 0.01);
	/* The first count runs as the listener starts; wait for it. */
	for (int i = 0; i < 100; i++) {
		free(a);
		a = http_get(debugsrv_port(d), "GET", "/custom/metrics");
		if (strstr(body_of(a), "\nberth_storage_blobs 1\n"))
			break;
		sleep_ms(20);
	}
	CHECK(status_of(a) == 200);
	CHECK(strstr(a, "Content-Type: text/plain; version=0.0.4") != NULL);
	CHECK(strstr(body_of(a), "\nberth_storage_blobs 1\n") != NULL);
	CHECK(strstr(body_of(a), "\nberth_storage_bytes 1234\n") != NULL);
	CHECK(strstr(body_of(a), "berth_http_requests_total{route=\"manifest\","
				 "method=\"GET\",status=\"200\"} 1\n") != NULL);
	free(a);
out:
	debugsrv_stop(d);
	health_free(h);
	st->ops->close(st);
	remove_tree(root);
	free(root);
}

int main(void)
{
	RUN(test_verdicts_follow_the_store);
	RUN(test_shutting_down_is_not_ready);
	RUN(test_readonly_mode_is_ready);
	RUN(test_hung_check_is_reported);
	RUN(test_blob_count);
	RUN(test_debug_listener);
	RUN(test_debug_metrics);
	return check_done();
}
