/*
 * test_lease.c - create-only-if-absent on the filesystem store, and the
 * lease built on it: one holder at a time, renewal, release, takeover of
 * an expired lease by exactly one of several racing takers, and a holder
 * that notices it was taken over.
 */
#include "check.h"
#include "lease.h"
#include "log.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RACERS 8
#define LEASE_DIR LEASE_ROOT "/collector"

static char tmpdir[] = "/tmp/berth-test-lease-XXXXXX";
static struct store *st;

static void setup(void)
{
	char root[300];

	snprintf(root, sizeof(root), "%s/root", tmpdir);
	check_rmtree(root);
	CHECK(store_fs_open(root, &st) == 0);
}

static void teardown(void)
{
	st->ops->close(st);
	st = NULL;
}

static int count_entry(void *arg, const char *name, bool is_dir)
{
	(*(int *)arg)++;
	return 0;
}

/* How many entries list shows in dir (temporary files are hidden). */
static int entries(const char *dir)
{
	int n = 0;

	if (st->ops->list(st, dir, count_entry, &n))
		return -1;
	return n;
}

/* How many entries the directory really holds, hidden ones included. */
static int entries_on_disk(const char *dir)
{
	char *path = xasprintf("%s/root/%s", tmpdir, dir);
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	free(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void get_str(const char *key, struct buf *b)
{
	b->len = 0;
	CHECK(st->ops->get(st, key, 1000, b) == 0);
	buf_add(b, "", 1);
}

static void test_put_new(void)
{
	struct buf b = {0};

	setup();
	CHECK(st->ops->put_new(st, "a/b/first", "one", 3) == 0);
	get_str("a/b/first", &b);
	CHECK_STR(b.data, "one");
	CHECK(st->ops->put_new(st, "a/b/first", "two", 3) == -EEXIST);
	get_str("a/b/first", &b);
	CHECK_STR(b.data, "one");
	CHECK(entries("a/b") == 1);
	CHECK(entries_on_disk("a/b") == 1); /* no temporary file left */
	CHECK(st->ops->put_new(st, "a/../x", "x", 1) == -EINVAL);
	CHECK(st->ops->remove(st, "a/b/first") == 0);
	CHECK(st->ops->put_new(st, "a/b/first", "three", 5) == 0);
	get_str("a/b/first", &b);
	CHECK_STR(b.data, "three");
	buf_free(&b);
	teardown();
}

struct racer {
	pthread_barrier_t *start;
	int result;
	struct lease *lease;
	int index;
};

static void *put_new_racer(void *arg)
{
	struct racer *r = arg;
	char data[16];

	snprintf(data, sizeof(data), "%d", r->index);
	pthread_barrier_wait(r->start);
	r->result = st->ops->put_new(st, "race/key", data, strlen(data));
	return NULL;
}

/* Runs RACERS threads of fn at once; returns how many got 0. */
static int race(void *(*fn)(void *), struct racer *rs)
{
	pthread_barrier_t start;
	pthread_t t[RACERS];
	int won = 0;

	pthread_barrier_init(&start, NULL, RACERS);
	for (int i = 0; i < RACERS; i++) {
		rs[i] = (struct racer){&start, -1, NULL, i};
		pthread_create(&t[i], NULL, fn, &rs[i]);
	}
	for (int i = 0; i < RACERS; i++) {
		pthread_join(t[i], NULL);
		won += rs[i].result == 0;
	}
	pthread_barrier_destroy(&start);
	return won;
}

static void test_put_new_race(void)
{
	struct racer rs[RACERS];
	struct buf b = {0};
	int winner = -1;

	setup();
	CHECK(race(put_new_racer, rs) == 1);
	for (int i = 0; i < RACERS; i++) {
		if (rs[i].result == 0)
			winner = i;
		else
			CHECK(rs[i].result == -EEXIST);
	}
	get_str("race/key", &b);
	CHECK(winner >= 0 && strtol(b.data, NULL, 10) == winner);
	buf_free(&b);
	teardown();
}

static void test_one_holder(void)
{
	struct lease *a = NULL, *b = NULL;
	struct lease_holder h;
	char host[256] = "";

	setup();
	gethostname(host, sizeof(host) - 1);
	CHECK(lease_take(st, "collector", 60, &a, NULL) == 0);
	CHECK(lease_held(a));
	CHECK(lease_take(st, "collector", 60, &b, &h) == -EBUSY);
	CHECK(b == NULL);
	CHECK_STR(h.host, host);
	CHECK(h.pid == (long)getpid());
	CHECK(strlen(h.id) == 32);
	CHECK(h.expires >= h.started + 59 && h.started <= time(NULL));
	CHECK(h.generation == 1);

	/* Another lease name is independent. */
	CHECK(lease_take(st, "scrubber", 60, &b, NULL) == 0);
	lease_drop(b);

	lease_drop(a);
	CHECK(lease_take(st, "collector", 60, &b, NULL) == 0);
	CHECK(entries(LEASE_DIR) == 1); /* the released one was pruned */
	lease_drop(b);
	CHECK(lease_held(NULL));
	teardown();
}

/*
 * Writes generation gen of the collector's lease as process pid on node
 * would.
 */
static void plant_as(unsigned gen, int64_t expires, bool released, long pid,
		     const char *node)
{
	char *key = xasprintf("%s/%020u", LEASE_DIR, gen);
	char *text = xasprintf("{\"host\":\"elsewhere\",\"pid\":%ld,\"id\":"
			       "\"0123456789abcdef0123456789abcdef\","
			       "\"node\":\"%s\",\"take\":1,\"started\":%lld,"
			       "\"expires\":%lld,\"released\":%s}",
			       pid, node, (long long)expires - 60,
			       (long long)expires, released ? "true" : "false");

	CHECK(st->ops->put(st, key, text, strlen(text)) == 0);
	free(text);
	free(key);
}

/* As another machine's process 7 would. */
static void plant(unsigned gen, int64_t expires, bool released)
{
	plant_as(gen, expires, released, 7, "another-machine");
}

static void test_held_by_another(void)
{
	struct lease *l = NULL;
	struct lease_holder h;

	setup();
	plant(4, time(NULL) + 30, false);
	CHECK(lease_take(st, "collector", 60, &l, &h) == -EBUSY);
	CHECK_STR(h.host, "elsewhere");
	CHECK(h.pid == 7 && h.generation == 4);
	plant(4, time(NULL) + 30, true);
	CHECK(lease_take(st, "collector", 60, &l, &h) == 0);
	lease_drop(l);
	teardown();
}

static void *take_racer(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->start);
	r->result = lease_take(st, "collector", 60, &r->lease, NULL);
	return NULL;
}

/* A holder killed with -9 leaves its lease; one racer takes it over. */
static void test_takeover_race(void)
{
	struct racer rs[RACERS];
	struct lease_holder h;
	struct lease *l = NULL;

	setup();
	plant(9, time(NULL) - 1, false);
	CHECK(race(take_racer, rs) == 1);
	for (int i = 0; i < RACERS; i++)
		if (rs[i].result != 0)
			CHECK(rs[i].result == -EBUSY);
	CHECK(lease_take(st, "collector", 60, &l, &h) == -EBUSY);
	CHECK(h.generation == 10 && h.pid == (long)getpid());
	for (int i = 0; i < RACERS; i++)
		lease_drop(rs[i].lease);
	teardown();
}

/* The node our own records name, read back from a lease we take. */
static char *own_node(void)
{
	struct lease *l = NULL;
	struct buf b = {0};
	json_t *o;
	char *node = NULL;

	CHECK(lease_take(st, "probe", 60, &l, NULL) == 0);
	CHECK(st->ops->get(st, LEASE_ROOT "/probe/00000000000000000001", 1000,
			   &b) == 0);
	o = json_loadb(b.data, b.len, 0, NULL);
	if (o && json_string_value(json_object_get(o, "node")))
		node = xstrdup(json_string_value(json_object_get(o, "node")));
	json_decref(o);
	buf_free(&b);
	lease_drop(l);
	return node;
}

/* A pid that named a process a moment ago and names none now. */
static long dead_pid(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return (long)pid;
}

/*
 * A holder on this machine whose process is gone (killed with -9) is
 * taken over before its lease expires; one that lives, or one on
 * another machine, is waited for.
 */
static void test_holder_gone(void)
{
	struct lease *l = NULL;
	struct lease_holder h;
	char *node;

	setup();
	node = own_node();
	CHECK(node && *node);
	plant_as(1, time(NULL) + 60, false, (long)getpid(), node);
	CHECK(lease_take(st, "collector", 60, &l, &h) == -EBUSY);
	plant_as(1, time(NULL) + 60, false, dead_pid(), "another-machine");
	CHECK(lease_take(st, "collector", 60, &l, &h) == -EBUSY);
	plant_as(1, time(NULL) + 60, false, dead_pid(), node);
	CHECK(lease_take(st, "collector", 60, &l, &h) == 0);
	lease_drop(l);
	free(node);
	teardown();
}

static void test_unreadable_record(void)
{
	char *key = xasprintf("%s/%020u", LEASE_DIR, 3);
	struct lease *l = NULL;

	setup();
	CHECK(st->ops->put(st, key, "{not json", 9) == 0);
	CHECK(lease_take(st, "collector", 60, &l, NULL) == 0);
	lease_drop(l);
	free(key);
	teardown();
}

/*
 * A holder whose lease another took over (it stalled past expiry) stops
 * counting it as held at its next renewal, and leaves the new holder's
 * record alone when it drops it.
 */
static void test_taken_over(void)
{
	struct lease *l = NULL;
	struct lease_holder h;
	struct buf b = {0};
	int waited = 0;

	setup();
	CHECK(lease_take(st, "collector", 1, &l, NULL) == 0);
	plant(2, time(NULL) + 60, false);
	while (lease_held(l) && waited++ < 40)
		usleep(50 * 1000);
	CHECK(!lease_held(l));
	lease_drop(l);
	CHECK(lease_take(st, "collector", 60, &l, &h) == -EBUSY);
	CHECK_STR(h.host, "elsewhere");
	get_str(LEASE_DIR "/00000000000000000002", &b);
	CHECK(strstr(b.data, "\"released\":false") != NULL);
	buf_free(&b);
	teardown();
}

/* A store that fails every call while fail is set, else asks st. */
struct flaky {
	struct store base;
	atomic_bool fail;
};

static struct flaky flaky;

static int flaky_get(struct store *s, const char *key, size_t max,
		     struct buf *out)
{
	return atomic_load(&flaky.fail) ? -EIO
					: st->ops->get(st, key, max, out);
}

static int flaky_put(struct store *s, const char *key, const void *data,
		     size_t len)
{
	return atomic_load(&flaky.fail) ? -EIO
					: st->ops->put(st, key, data, len);
}

static int flaky_put_new(struct store *s, const char *key, const void *data,
			 size_t len)
{
	return atomic_load(&flaky.fail) ? -EIO
					: st->ops->put_new(st, key, data, len);
}

static int flaky_list(struct store *s, const char *key, store_list_fn fn,
		      void *arg)
{
	return atomic_load(&flaky.fail) ? -EIO
					: st->ops->list(st, key, fn, arg);
}

static int flaky_remove(struct store *s, const char *key)
{
	return atomic_load(&flaky.fail) ? -EIO : st->ops->remove(st, key);
}

static const struct store_ops flaky_ops = {
	.name = "flaky",
	.get = flaky_get,
	.put = flaky_put,
	.put_new = flaky_put_new,
	.list = flaky_list,
	.remove = flaky_remove,
};

/*
 * A holder the store stops answering gives the lease up after half its
 * duration, for good: a renewal that lands later could follow another's
 * takeover.  Others take it once it expires.
 */
static void test_renewal_fails(void)
{
	struct lease *l = NULL, *other = NULL;
	struct lease_holder h;
	int waited = 0;

	setup();
	flaky.base.ops = &flaky_ops;
	atomic_store(&flaky.fail, false);
	CHECK(lease_take(&flaky.base, "collector", 2, &l, NULL) == 0);
	atomic_store(&flaky.fail, true);
	while (lease_held(l) && waited++ < 40)
		usleep(50 * 1000);
	CHECK(!lease_held(l));
	atomic_store(&flaky.fail, false);
	usleep(1200 * 1000); /* renewals would have resumed by now */
	CHECK(!lease_held(l));
	usleep(1500 * 1000); /* the record, not renewed, expires */
	CHECK(lease_take(st, "collector", 2, &other, &h) == 0);
	lease_drop(other);
	lease_drop(l);
	teardown();
}

/* Renewal keeps a short lease alive past its first expiry. */
static void test_renewal(void)
{
	struct lease *l = NULL, *other = NULL;
	struct lease_holder h;

	setup();
	CHECK(lease_take(st, "collector", 1, &l, NULL) == 0);
	usleep(2500 * 1000);
	CHECK(lease_held(l));
	CHECK(lease_take(st, "collector", 1, &other, &h) == -EBUSY);
	CHECK(h.expires >= time(NULL));
	lease_drop(l);
	teardown();
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	log_threshold = LVL_NONE;
	RUN(test_put_new);
	RUN(test_put_new_race);
	RUN(test_one_holder);
	RUN(test_held_by_another);
	RUN(test_takeover_race);
	RUN(test_holder_gone);
	RUN(test_unreadable_record);
	RUN(test_taken_over);
	RUN(test_renewal);
	RUN(test_renewal_fails);
	check_rmtree(tmpdir);
	return check_done();
}
