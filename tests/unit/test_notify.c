/*
 * test_notify.c - notifications end to end within one process: the
 * configuration keys, the event envelope as a real HTTP receiver on
 * 127.0.0.1 gets it, filters, delivery after the receiver was down or
 * failing, after a restart of the sender side, and reloads.
 */
#include "check.h"
#include "config.h"
#include "metrics.h"
#include "notify.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERRLEN 512

/* ---- a small HTTP receiver ------------------------------------------- */

#define MAX_BODIES 256
#define MAX_CONNS 16

struct receiver {
	uint16_t port;
	int listen_fd;
	int status; /* what to answer */
	int stop;
	pthread_t thread;
	pthread_t conns[MAX_CONNS];
	int nconns;
	pthread_mutex_t lock;
	char *bodies[MAX_BODIES];
	char *headers[MAX_BODIES];
	int nbodies;
};

struct conn_arg {
	struct receiver *r;
	int fd;
};

/* Reads until the headers end; returns their length, or -1. */
static ssize_t read_headers(struct receiver *r, int fd, struct buf *in)
{
	char chunk[4096];

	for (;;) {
		char *end = in->len ? strstr(in->data, "\r\n\r\n") : NULL;
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t n;

		if (end)
			return end - in->data + 4;
		if (__atomic_load_n(&r->stop, __ATOMIC_RELAXED))
			return -1;
		if (poll(&p, 1, 50) <= 0)
			continue;
		n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			return -1;
		buf_add(in, chunk, (size_t)n);
	}
}

static long content_length(const char *headers)
{
	const char *p = strcasestr(headers, "\r\nContent-Length:");

	return p ? strtol(p + 17, NULL, 10) : 0;
}

/* Takes one request off in: records it and answers. */
static int serve_one(struct receiver *r, int fd, struct buf *in)
{
	ssize_t hlen = read_headers(r, fd, in);
	long blen;
	char chunk[4096], answer[128];
	int status;

	if (hlen < 0)
		return -1;
	blen = content_length(in->data);
	while ((long)in->len < hlen + blen) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n <= 0)
			return -1;
		buf_add(in, chunk, (size_t)n);
	}

	pthread_mutex_lock(&r->lock);
	status = r->status;
	if (status < 300 && r->nbodies < MAX_BODIES) {
		r->headers[r->nbodies] = xstrndup(in->data, (size_t)hlen);
		r->bodies[r->nbodies++] =
			xstrndup(in->data + hlen, (size_t)blen);
	}
	pthread_mutex_unlock(&r->lock);

	snprintf(answer, sizeof(answer),
		 "HTTP/1.1 %d X\r\n"
		 "Content-Length: 0\r\n\r\n",
		 status);
	if (write(fd, answer, strlen(answer)) < 0)
		return -1;
	memmove(in->data, in->data + hlen + blen, in->len - hlen - blen);
	in->len -= (size_t)(hlen + blen);
	in->data[in->len] = '\0';
	return 0;
}

static void *conn_run(void *arg)
{
	struct conn_arg *c = arg;
	struct buf in = BUF_INIT;

	buf_add(&in, "", 0);
	while (serve_one(c->r, c->fd, &in) == 0)
		;
	close(c->fd);
	buf_free(&in);
	free(c);
	return NULL;
}

static void *accept_run(void *arg)
{
	struct receiver *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		struct pollfd p = {r->listen_fd, POLLIN, 0};
		struct conn_arg *c;
		int fd;

		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept(r->listen_fd, NULL, NULL);
		if (fd == -1)
			continue;
		if (r->nconns == MAX_CONNS) {
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		c->r = r;
		c->fd = fd;
		pthread_create(&r->conns[r->nconns++], NULL, conn_run, c);
	}
	return NULL;
}

/* Starts listening on port (0: any free one). */
static int receiver_start(struct receiver *r, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int one = 1;

	r->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(r->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(port);
	if (bind(r->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(r->listen_fd, 16) == -1) {
		close(r->listen_fd);
		return -1;
	}
	getsockname(r->listen_fd, (struct sockaddr *)&sa, &len);
	r->port = ntohs(sa.sin_port);
	r->stop = 0;
	r->nconns = 0;
	pthread_create(&r->thread, NULL, accept_run, r);
	return 0;
}

/* Stops listening and drops every connection (the bodies are kept). */
static void receiver_stop(struct receiver *r)
{
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELAXED);
	pthread_join(r->thread, NULL);
	for (int i = 0; i < r->nconns; i++)
		pthread_join(r->conns[i], NULL);
	close(r->listen_fd);
}

static void receiver_init(struct receiver *r)
{
	memset(r, 0, sizeof(*r));
	r->status = 202;
	pthread_mutex_init(&r->lock, NULL);
}

static void receiver_free(struct receiver *r)
{
	for (int i = 0; i < r->nbodies; i++) {
		free(r->bodies[i]);
		free(r->headers[i]);
	}
	pthread_mutex_destroy(&r->lock);
}

static void set_status(struct receiver *r, int status)
{
	pthread_mutex_lock(&r->lock);
	r->status = status;
	pthread_mutex_unlock(&r->lock);
}

/* Every event received, in arrival order, as one JSON array. */
static json_t *received_events(struct receiver *r)
{
	json_t *all = json_array();

	pthread_mutex_lock(&r->lock);
	for (int i = 0; i < r->nbodies; i++) {
		json_t *env = json_loads(r->bodies[i], 0, NULL);
		json_t *events = json_object_get(env, "events");

		CHECK(json_is_array(events));
		json_array_extend(all, events);
		json_decref(env);
	}
	pthread_mutex_unlock(&r->lock);
	return all;
}

static size_t received_count(struct receiver *r)
{
	json_t *all = received_events(r);
	size_t n = json_array_size(all);

	json_decref(all);
	return n;
}

/* Waits up to ms for the receiver to hold want events. */
static bool wait_events(struct receiver *r, size_t want, int ms)
{
	for (int waited = 0; waited < ms; waited += 10) {
		if (received_count(r) >= want)
			return true;
		usleep(10000);
	}
	return received_count(r) >= want;
}

/* ---- helpers --------------------------------------------------------- */

static char *temp_root(void)
{
	char tmpl[] = "/tmp/berth-notify-XXXXXX";
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

static struct config *parse(const char *yaml, char *err)
{
	char *env[] = {NULL};

	return config_parse(yaml, strlen(yaml), env, err, ERRLEN);
}

/* A configuration with one endpoint "hook" at port, plus extra YAML. */
static struct config *config_for(const char *root, uint16_t port,
				 const char *extra)
{
	char err[ERRLEN];
	char *yaml = xasprintf(
		"version: 0.1\n"
		"storage:\n  filesystem:\n    rootdirectory: %s\n"
		"http:\n  addr: 127.0.0.1:5000\n  host: https://reg.test\n"
		"notifications:\n  endpoints:\n"
		"    - name: hook\n"
		"      url: http://127.0.0.1:%u/events\n"
		"      headers:\n        Authorization: [Bearer s3cret]\n"
		"      timeout: 2s\n      threshold: 2\n      backoff: 50ms\n"
		"%s",
		root, port, extra ? extra : "");
	struct config *c = parse(yaml, err);

	if (!c)
		printf("  config: %s\n", err);
	free(yaml);
	return c;
}

static int push_manifest(struct notify *n, const char *repo, const char *tag,
			 int i)
{
	char digest[80];
	struct notify_target t = {
		.repository = repo,
		.digest = digest,
		.media_type = "application/vnd.oci.image.manifest.v1+json",
		.size = 500 + (uint64_t)i,
		.tag = tag,
		.is_manifest = true,
	};
	struct notify_request r = {
		.addr = "127.0.0.1",
		.host = "localhost:5000",
		.method = "PUT",
		.useragent = "test/1.0",
		.user = "alice",
	};

	snprintf(digest, sizeof(digest), "sha256:%064d", i);
	return notify_event(n, NOTIFY_PUSH, &t, &r);
}

/* The size field of every event received, in order, as "500,501,...". */
static char *sizes_received(struct receiver *r)
{
	json_t *all = received_events(r);
	struct buf b = BUF_INIT;
	size_t i;
	json_t *ev;

	buf_add(&b, "", 0);
	json_array_foreach(all, i, ev) {
		json_t *size =
			json_object_get(json_object_get(ev, "target"), "size");

		buf_addf(&b, "%s%lld", i ? "," : "",
			 (long long)json_integer_value(size));
	}
	json_decref(all);
	return buf_detach(&b, NULL);
}

static char *expected_sizes(int from, int to)
{
	struct buf b = BUF_INIT;

	buf_add(&b, "", 0);
	for (int i = from; i < to; i++)
		buf_addf(&b, "%s%d", i > from ? "," : "", 500 + i);
	return buf_detach(&b, NULL);
}

/* ---- configuration --------------------------------------------------- */

static void test_config_endpoints(void)
{
	char err[ERRLEN];
	struct config *c = parse(
		"notifications:\n  endpoints:\n"
		"    - name: alistener\n"
		"      disabled: false\n"
		"      url: https://my.listener.example/event\n"
		"      headers:\n        Authorization: [Bearer x]\n"
		"      timeout: 500ms\n      threshold: 5\n      backoff: 1.5s\n"
		"      ignoredmediatypes:\n        - application/octet-stream\n"
		"      ignore:\n        mediatypes: [text/plain]\n"
		"        actions: [pull, mount]\n"
		"    - name: other\n      url: http://127.0.0.1:1/x\n"
		"      disabled: true\n",
		err);

	CHECK(c != NULL);
	if (!c) {
		printf("  %s\n", err);
		return;
	}
	CHECK(c->notify_endpoints_count == 2);
	CHECK_STR(c->notify_endpoints[0].name, "alistener");
	CHECK_STR(c->notify_endpoints[0].url,
		  "https://my.listener.example/event");
	CHECK(c->notify_endpoints[0].timeout_ms == 500);
	CHECK(c->notify_endpoints[0].threshold == 5);
	CHECK(c->notify_endpoints[0].backoff_ms == 1500);
	CHECK(c->notify_endpoints[0].headers_count == 1);
	CHECK_STR(c->notify_endpoints[0].headers[0].values[0], "Bearer x");
	CHECK_STR(c->notify_endpoints[0].ignored_mediatypes[0],
		  "application/octet-stream");
	CHECK_STR(c->notify_endpoints[0].ignored_mediatypes[1], "text/plain");
	CHECK(c->notify_endpoints[0].ignored_mediatypes[2] == NULL);
	CHECK_STR(c->notify_endpoints[0].ignored_actions[1], "mount");
	CHECK(!c->notify_endpoints[0].disabled);
	CHECK(c->notify_endpoints[1].disabled);
	/* registry:2's defaults for what the second leaves out. */
	CHECK(c->notify_endpoints[1].timeout_ms == 1000);
	CHECK(c->notify_endpoints[1].threshold == 10);
	CHECK(c->notify_endpoints[1].backoff_ms == 1000);
	CHECK(c->notify_endpoints[1].ignored_actions[0] == NULL);
	config_free(c);
}

static void test_config_endpoint_errors(void)
{
	static const struct {
		const char *yaml, *err;
	} cases[] = {
		{"    - name: a\n",
		 "notifications.endpoints[0]: an endpoint needs a name and "
		 "a url"},
		{"    - url: http://x/\n",
		 "notifications.endpoints[0]: an endpoint needs a name and "
		 "a url"},
		{"    - name: a\n      url: ftp://x/\n",
		 "notifications.endpoints[0].url: expected a URL starting "
		 "with http:// or https://, got \"ftp://x/\""},
		{"    - name: a\n      url: http://x/\n"
		 "    - name: a\n      url: http://y/\n",
		 "notifications.endpoints[1]: endpoint name \"a\" is used "
		 "twice"},
		{"    - name: a\n      url: http://x/\n      timeout: 500\n",
		 "notifications.endpoints[0].timeout: expected a duration "
		 "such as 500ms or 2s, got \"500\""},
		{"    - name: a\n      url: http://x/\n      threshold: -1\n",
		 "notifications.endpoints[0].threshold: expected a whole "
		 "number from 0 to 1000, got \"-1\""},
		{"    - name: a\n      url: http://x/\n"
		 "      ignore:\n        actions: [fetch]\n",
		 "notifications.endpoints[0].ignore.actions: expected a list "
		 "of push, pull, mount or delete, got \"fetch\""},
		{"    - name: a\n      url: http://x/\n"
		 "      headers:\n        \"Bad Name\": [x]\n",
		 "notifications.endpoints[0].headers.Bad Name: not a valid "
		 "header name"},
		{"    name: a\n",
		 "notifications.endpoints: expected a list of endpoints, got a "
		 "mapping"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[ERRLEN];
		char *yaml = xasprintf("notifications:\n  endpoints:\n%s",
				       cases[i].yaml);
		struct config *c = parse(yaml, err);

		CHECK(c == NULL);
		CHECK_STR(err, cases[i].err);
		config_free(c);
		free(yaml);
	}
}

static void test_config_from_environment(void)
{
	char err[ERRLEN];
	char *env[] = {
		"REGISTRY_NOTIFICATIONS_ENDPOINTS=[{name: e, url: "
		"\"http://127.0.0.1:9/\", backoff: 2s}]",
		NULL,
	};
	struct config *c = config_parse("", 0, env, err, ERRLEN);

	CHECK(c != NULL);
	CHECK(c && c->notify_endpoints_count == 1);
	CHECK(c && c->notify_endpoints[0].backoff_ms == 2000);
	config_free(c);
}

/* ---- delivery -------------------------------------------------------- */

static void test_envelope_as_received(void)
{
	struct receiver r;
	char *root = temp_root();
	struct config *c;
	struct notify *n = NULL;
	json_t *all, *ev, *target, *req;
	const char *headers;

	receiver_init(&r);
	CHECK(receiver_start(&r, 0) == 0);
	c = config_for(root, r.port, NULL);
	CHECK(c && notify_open(c, &n) == 0);
	if (!n)
		goto out;

	CHECK(push_manifest(n, "library/alpine", "3.19", 0) == 0);
	CHECK(wait_events(&r, 1, 5000));
	all = received_events(&r);
	ev = json_array_get(all, 0);
	target = json_object_get(ev, "target");
	req = json_object_get(ev, "request");
	CHECK_STR(json_string_value(json_object_get(ev, "action")), "push");
	CHECK(strlen(json_string_value(json_object_get(ev, "id"))) == 36);
	CHECK(strlen(json_string_value(json_object_get(ev, "timestamp"))) ==
	      30);
	CHECK_STR(json_string_value(json_object_get(target, "mediaType")),
		  "application/vnd.oci.image.manifest.v1+json");
	CHECK(json_integer_value(json_object_get(target, "size")) == 500);
	CHECK(json_integer_value(json_object_get(target, "length")) == 500);
	CHECK_STR(json_string_value(json_object_get(target, "repository")),
		  "library/alpine");
	CHECK_STR(json_string_value(json_object_get(target, "tag")), "3.19");
	CHECK_STR(json_string_value(json_object_get(target, "url")),
		  "https://reg.test/v2/library/alpine/manifests/sha256:"
		  "0000000000000000000000000000000000000000000000000000000000"
		  "000000");
	CHECK_STR(json_string_value(json_object_get(req, "method")), "PUT");
	CHECK_STR(json_string_value(json_object_get(req, "useragent")),
		  "test/1.0");
	CHECK(strlen(json_string_value(json_object_get(req, "id"))) == 36);
	CHECK_STR(json_string_value(
			  json_object_get(json_object_get(ev, "actor"),
					  "name")),
		  "alice");
	CHECK(strstr(json_string_value(json_object_get(
			     json_object_get(ev, "source"), "addr")),
		     ":5000") != NULL);
	json_decref(all);

	pthread_mutex_lock(&r.lock);
	headers = r.nbodies ? r.headers[0] : "";
	CHECK(strncmp(headers, "POST /events HTTP/1.1\r\n", 23) == 0);
	CHECK(strcasestr(headers, "\r\nContent-Type: " NOTIFY_ENVELOPE_TYPE
				  "\r\n") != NULL);
	CHECK(strcasestr(headers, "\r\nAuthorization: Bearer s3cret\r\n") !=
	      NULL);
	pthread_mutex_unlock(&r.lock);
	for (int i = 0; i < 200 && notify_pending(n); i++)
		usleep(10000); /* acknowledged once the answer is read */
	CHECK(notify_pending(n) == 0);
out:
	notify_close(n);
	config_free(c);
	receiver_stop(&r);
	receiver_free(&r);
	remove_tree(root);
	free(root);
}

static void test_delete_and_mount_targets(void)
{
	struct receiver r;
	char *root = temp_root();
	struct config *c;
	struct notify *n = NULL;
	struct notify_target del = {
		.repository = "a/b",
		.digest = "sha256:ff",
		.is_manifest = true,
	};
	struct notify_target mount = {
		.repository = "c/d",
		.digest = "sha256:ee",
		.media_type = "application/octet-stream",
		.size = 9,
		.from_repository = "a/b",
	};
	json_t *all, *t0, *t1;

	receiver_init(&r);
	CHECK(receiver_start(&r, 0) == 0);
	c = config_for(root, r.port, NULL);
	CHECK(c && notify_open(c, &n) == 0);
	if (!n)
		goto out;
	CHECK(notify_event(n, NOTIFY_DELETE, &del, NULL) == 0);
	CHECK(notify_event(n, NOTIFY_MOUNT, &mount, NULL) == 0);
	CHECK(wait_events(&r, 2, 5000));

	all = received_events(&r);
	t0 = json_object_get(json_array_get(all, 0), "target");
	t1 = json_object_get(json_array_get(all, 1), "target");
	CHECK_STR(json_string_value(
			  json_object_get(json_array_get(all, 0), "action")),
		  "delete");
	CHECK(json_object_size(t0) == 2); /* digest and repository */
	CHECK_STR(json_string_value(json_object_get(t0, "digest")),
		  "sha256:ff");
	CHECK_STR(json_string_value(
			  json_object_get(json_array_get(all, 1), "action")),
		  "mount");
	CHECK_STR(json_string_value(json_object_get(t1, "fromRepository")),
		  "a/b");
	CHECK_STR(json_string_value(json_object_get(t1, "url")),
		  "https://reg.test/v2/c/d/blobs/sha256:ee");
	json_decref(all);
out:
	notify_close(n);
	config_free(c);
	receiver_stop(&r);
	receiver_free(&r);
	remove_tree(root);
	free(root);
}

static void test_ignored_events(void)
{
	struct receiver r;
	char *root = temp_root();
	struct config *c;
	struct notify *n = NULL;
	struct notify_target blob = {
		.repository = "x",
		.digest = "sha256:aa",
		.media_type = "application/octet-stream",
		.size = 3,
	};

	receiver_init(&r);
	CHECK(receiver_start(&r, 0) == 0);
	c = config_for(root, r.port,
		       "      ignoredmediatypes: [application/octet-stream]\n"
		       "      ignore:\n        actions: [pull]\n");
	CHECK(c && notify_open(c, &n) == 0);
	if (!n)
		goto out;
	CHECK(notify_event(n, NOTIFY_PUSH, &blob, NULL) == 0);
	blob.media_type = "application/vnd.oci.image.layer.v1.tar";
	CHECK(notify_event(n, NOTIFY_PULL, &blob, NULL) == 0);
	CHECK(notify_event(n, NOTIFY_PUSH, &blob, NULL) == 0);
	CHECK(wait_events(&r, 1, 5000));
	usleep(200000);
	CHECK(received_count(&r) == 1);
out:
	notify_close(n);
	config_free(c);
	receiver_stop(&r);
	receiver_free(&r);
	remove_tree(root);
	free(root);
}

static void test_receiver_down_then_up(void)
{
	struct receiver r;
	char *root = temp_root();
	struct config *c;
	struct notify *n = NULL;
	uint16_t port;
	char *got, *want;

	receiver_init(&r);
	CHECK(receiver_start(&r, 0) == 0);
	port = r.port;
	receiver_stop(&r); /* nobody listens now */

	c = config_for(root, port, NULL);
	CHECK(c && notify_open(c, &n) == 0);
	if (!n)
		goto out;
	for (int i = 0; i < 20; i++)
		CHECK(push_manifest(n, "r", NULL, i) == 0);
	usleep(300000); /* several tries, two backoffs */
	CHECK(notify_pending(n) == 20);

	CHECK(receiver_start(&r, port) == 0);
	CHECK(wait_events(&r, 20, 10000));
	for (int i = 20; i < 25; i++)
		CHECK(push_manifest(n, "r", NULL, i) == 0);
	CHECK(wait_events(&r, 25, 5000));
	got = sizes_received(&r);
	want = expected_sizes(0, 25);
	CHECK_STR(got, want);
	free(got);
	free(want);
	for (int i = 0; i < 100 && notify_pending(n); i++)
		usleep(10000);
	CHECK(notify_pending(n) == 0);
	receiver_stop(&r);
out:
	notify_close(n);
	config_free(c);
	receiver_free(&r);
	remove_tree(root);
	free(root);
}

static void test_failing_receiver_is_retried(void)
{
	struct receiver r;
	char *root = temp_root();
	struct config *c;
	struct notify *n = NULL;
	struct buf text = BUF_INIT;

	receiver_init(&r);
	set_status(&r, 503);
	CHECK(receiver_start(&r, 0) == 0);
	c = config_for(root, r.port, NULL);
	CHECK(c && notify_open(c, &n) == 0);
	if (!n)
		goto out;
	CHECK(push_manifest(n, "r", NULL, 0) == 0);
	for (int i = 0; i < 500; i++) { /* until a try has failed */
		buf_reset(&text);
		metrics_render(&text);
		if (!strstr(text.data, "berth_notifications_failures_total{"
				       "endpoint=\"hook\"} 0\n"))
			break;
		usleep(10000);
	}
	CHECK(received_count(&r) == 0);
	CHECK(notify_pending(n) == 1);

	buf_reset(&text);
	metrics_render(&text);
	CHECK(strstr(text.data, "berth_notifications_pending{endpoint=\"hook\"}"
				" 1\n") != NULL);
	CHECK(strstr(text.data, "berth_notifications_failures_total{endpoint="
				"\"hook\"} 0\n") == NULL);
	buf_reset(&text);

	set_status(&r, 200);
	CHECK(wait_events(&r, 1, 5000));
	for (int i = 0; i < 100 && notify_pending(n); i++)
		usleep(10000);
	metrics_render(&text);
	CHECK(strstr(text.data, "berth_notifications_delivered_total{endpoint="
				"\"hook\"} 1\n") != NULL);
	CHECK(strstr(text.data, "berth_notifications_pending{endpoint="
				"\"hook\"} 0\n") != NULL);
out:
	buf_free(&text);
	notify_close(n);
	config_free(c);
	receiver_stop(&r);
	receiver_free(&r);
	remove_tree(root);
	free(root);
}

static void test_restart_loses_nothing(void)
{
	struct receiver r;
	char *root = temp_root();
	struct config *c;
	struct notify *n = NULL;
	uint16_t port;
	char *got, *want;

	receiver_init(&r);
	CHECK(receiver_start(&r, 0) == 0);
	c = config_for(root, r.port, NULL);
	CHECK(c && notify_open(c, &n) == 0);
	if (!n)
		goto out;
	for (int i = 0; i < 5; i++)
		CHECK(push_manifest(n, "r", NULL, i) == 0);
	CHECK(wait_events(&r, 5, 5000));
	port = r.port;
	receiver_stop(&r);

	for (int i = 5; i < 15; i++)
		CHECK(push_manifest(n, "r", NULL, i) == 0);
	notify_close(n); /* berth stops with ten events queued */
	n = NULL;

	CHECK(receiver_start(&r, port) == 0);
	CHECK(notify_open(c, &n) == 0);
	if (!n)
		goto out;
	CHECK(wait_events(&r, 15, 10000));
	usleep(100000);
	got = sizes_received(&r);
	want = expected_sizes(0, 15);
	CHECK_STR(got, want);
	free(got);
	free(want);
	receiver_stop(&r);
out:
	notify_close(n);
	config_free(c);
	receiver_free(&r);
	remove_tree(root);
	free(root);
}

static void test_reload_adds_and_removes(void)
{
	struct receiver a, b;
	char *root = temp_root();
	struct config *c1, *c2;
	struct notify *n = NULL;
	char *extra;

	receiver_init(&a);
	receiver_init(&b);
	CHECK(receiver_start(&a, 0) == 0);
	CHECK(receiver_start(&b, 0) == 0);
	extra = xasprintf("    - name: second hook/x\n"
			  "      url: http://127.0.0.1:%u/b\n",
			  b.port);
	c1 = config_for(root, a.port, NULL);
	c2 = config_for(root, a.port, extra);
	CHECK(c1 && c2 && notify_open(c1, &n) == 0);
	if (!n)
		goto out;

	CHECK(push_manifest(n, "r", NULL, 0) == 0);
	CHECK(notify_reload(n, c2) == 0);
	CHECK(push_manifest(n, "r", NULL, 1) == 0);
	CHECK(wait_events(&a, 2, 5000));
	CHECK(wait_events(&b, 1, 5000));
	CHECK(received_count(&b) == 1);

	CHECK(notify_reload(n, c1) == 0);
	CHECK(push_manifest(n, "r", NULL, 2) == 0);
	CHECK(wait_events(&a, 3, 5000));
	usleep(100000);
	CHECK(received_count(&b) == 1);
out:
	notify_close(n);
	config_free(c1);
	config_free(c2);
	free(extra);
	receiver_stop(&a);
	receiver_stop(&b);
	receiver_free(&a);
	receiver_free(&b);
	remove_tree(root);
	free(root);
}

static void test_no_endpoints(void)
{
	char err[ERRLEN];
	struct config *c = parse("storage:\n  filesystem:\n"
				 "    rootdirectory: /nonexistent/x\n",
				 err);
	struct notify *n = NULL;
	struct notify_target t = {.repository = "r", .digest = "sha256:a"};

	CHECK(c && notify_open(c, &n) == 0 && n);
	CHECK(notify_event(n, NOTIFY_PUSH, &t, NULL) == 0);
	CHECK(notify_event(NULL, NOTIFY_PUSH, &t, NULL) == 0);
	CHECK(notify_pending(n) == 0);
	notify_close(n);
	config_free(c);
}

int main(void)
{
	RUN(test_config_endpoints);
	RUN(test_config_endpoint_errors);
	RUN(test_config_from_environment);
	RUN(test_envelope_as_received);
	RUN(test_delete_and_mount_targets);
	RUN(test_ignored_events);
	RUN(test_receiver_down_then_up);
	RUN(test_failing_receiver_is_retried);
	RUN(test_restart_loses_nothing);
	RUN(test_reload_adds_and_removes);
	RUN(test_no_endpoints);
	return check_done();
}
